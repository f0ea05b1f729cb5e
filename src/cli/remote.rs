//! The commands that drive a running gateway through its management API,
//! on the model of `paconn`: `sluice connectors create | update | download
//! | list | delete` and `sluice connections create | list | delete`.
//!
//! The gateway is `--server` (or `SLUICE_SERVER`); the credential is the API
//! key in `SLUICE_API_KEY`, never an argument (arguments show in process
//! lists and shell history). Output is for people by default, the API's
//! JSON with `--format json`. Exit codes: 0 done; 1 the gateway refused (one
//! `error:` line with its status, problem type and detail); 2 bad input,
//! no key, or no gateway answering.

use std::path::{Path, PathBuf};

use sluice_gateway::archive::{self, Files};

/// Exit code: done.
const OK: i32 = 0;
/// Exit code: the gateway refused.
const REFUSED: i32 = 1;
/// Exit code: bad input, no key, or no gateway.
const USAGE: i32 = 2;
/// The most a downloaded archive may expand to.
const MAX_DOWNLOAD_EXPANDED: u64 = 256 << 20;

/// Which gateway, which environment, and how to print.
#[derive(Debug, Clone, clap::Args)]
pub struct Server {
    /// The gateway's base URL.
    #[arg(long, env = "SLUICE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: url::Url,
    /// The environment; default: the gateway's default one.
    #[arg(long, env = "SLUICE_ENVIRONMENT")]
    pub environment: Option<String>,
    /// Output: text for people, the API's JSON for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people.
    Text,
    /// The API's JSON.
    Json,
}

/// A package given as a folder, or as its files.
#[derive(Debug, Clone, clap::Args)]
pub struct PackageArgs {
    /// The package folder (apiDefinition.swagger.json, apiProperties.json,
    /// and script.wasm, sluice.toml, icon.png when it has them).
    pub folder: Option<PathBuf>,
    /// The definition, instead of a folder.
    #[arg(long, conflicts_with = "folder")]
    pub api_def: Option<PathBuf>,
    /// The properties, with --api-def.
    #[arg(long, requires = "api_def")]
    pub api_prop: Option<PathBuf>,
    /// The code (script.wasm), with --api-def.
    #[arg(long, requires = "api_def")]
    pub script: Option<PathBuf>,
}

/// A failed command: the exit code, and the one line to print.
struct Failure(i32, String);

type Outcome = Result<(), Failure>;

fn usage(message: impl Into<String>) -> Failure {
    Failure(USAGE, message.into())
}

/// Prints a failure's line and returns its code.
fn finish(outcome: Outcome) -> i32 {
    match outcome {
        Ok(()) => OK,
        Err(Failure(code, message)) => {
            eprintln!("error: {message}");
            code
        }
    }
}

/// `sluice connectors create`.
pub fn create(server: &Server, package: &PackageArgs, id: Option<&str>) -> i32 {
    finish((|| {
        let archive = archive::write(&package_files(package)?);
        let query =
            id.map(|id| format!("?id={}", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()));
        let path = format!("connectors{}", query.unwrap_or_default());
        let body = Client::new(server)?.send("POST", &path, Some(("application/zip", archive)), None)?;
        print_published(server.format, &body)
    })())
}

/// `sluice connectors update`.
pub fn update(server: &Server, id: &str, package: &PackageArgs, if_match: Option<&str>) -> i32 {
    finish((|| {
        let archive = archive::write(&package_files(package)?);
        let path = format!("connectors/{}", segment(id));
        let body = Client::new(server)?.send("PUT", &path, Some(("application/zip", archive)), if_match)?;
        print_published(server.format, &body)
    })())
}

/// `sluice connectors download`: writes a folder that `create` takes back.
pub fn download(server: &Server, id: &str, out: &Path) -> i32 {
    finish((|| {
        let bytes = Client::new(server)?.send("GET", &format!("connectors/{}/package", segment(id)), None, None)?;
        // What a gateway sends is checked as what a client uploads is.
        let files = archive::read(&bytes, MAX_DOWNLOAD_EXPANDED)
            .map_err(|e| Failure(REFUSED, format!("the gateway's archive is unusable: {e}")))?;
        std::fs::create_dir_all(out).map_err(|e| usage(format!("{}: cannot create it: {e}", out.display())))?;
        for (name, contents) in &files {
            let path = out.join(name);
            std::fs::write(&path, contents).map_err(|e| usage(format!("{}: cannot write it: {e}", path.display())))?;
        }
        match server.format {
            Format::Text => println!("wrote {} ({} files)", out.display(), files.len()),
            Format::Json => {
                println!("{}", serde_json::json!({"folder": out, "files": files.keys().collect::<Vec<_>>()}))
            }
        }
        Ok(())
    })())
}

/// `sluice connectors list`.
pub fn list_connectors(server: &Server) -> i32 {
    finish((|| {
        let body = Client::new(server)?.send("GET", "connectors", None, None)?;
        let connectors = json(&body)?;
        if server.format == Format::Json {
            return print_json(&connectors);
        }
        for connector in connectors.as_array().into_iter().flatten() {
            let source = if connector["read_only"] == true { "folder" } else { "published" };
            println!(
                "{}\t{}\t{}\towner {}\t{source}",
                text(&connector["id"]),
                text(&connector["status"]),
                text(&connector["right"]),
                text(&connector["owner"]),
            );
        }
        Ok(())
    })())
}

/// `sluice connectors delete`.
pub fn delete_connector(server: &Server, id: &str) -> i32 {
    finish((|| {
        Client::new(server)?.send("DELETE", &format!("connectors/{}", segment(id)), None, None)?;
        done(server.format, &format!("deleted connector {id}"))
    })())
}

/// `sluice connections create`.
pub fn create_connection(server: &Server, connector: &str, id: &str, parameters: &[(String, String)]) -> i32 {
    finish((|| {
        let parameters: serde_json::Map<String, serde_json::Value> =
            parameters.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let body = serde_json::json!({"connector": connector, "id": id, "parameters": parameters});
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let answer = Client::new(server)?.send("POST", "connections", Some(("application/json", body)), None)?;
        let connection = json(&answer)?;
        match server.format {
            Format::Json => print_json(&connection),
            Format::Text => done(Format::Text, &connection_line(&connection)),
        }
    })())
}

/// `sluice connections list`.
pub fn list_connections(server: &Server) -> i32 {
    finish((|| {
        let connections = json(&Client::new(server)?.send("GET", "connections", None, None)?)?;
        if server.format == Format::Json {
            return print_json(&connections);
        }
        for connection in connections.as_array().into_iter().flatten() {
            println!("{}", connection_line(connection));
        }
        Ok(())
    })())
}

/// `sluice connections delete`.
pub fn delete_connection(server: &Server, connector: &str, id: &str) -> i32 {
    finish((|| {
        Client::new(server)?.send(
            "DELETE",
            &format!("connections/{}/{}", segment(connector), segment(id)),
            None,
            None,
        )?;
        done(server.format, &format!("deleted connection {connector}/{id}"))
    })())
}

/// The gateway's API, with the caller's key.
struct Client {
    agent: ureq::Agent,
    base: String,
    key: String,
}

impl Client {
    fn new(server: &Server) -> Result<Self, Failure> {
        let key = std::env::var("SLUICE_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| usage("set SLUICE_API_KEY to an API key of the gateway (`POST /api/v1/keys`, or `sluice serve --bootstrap-admin`)"))?;
        let root = server.server.as_str().trim_end_matches('/');
        let base = match &server.environment {
            Some(environment) => format!("{root}/environments/{}/api/v1/", segment(environment)),
            None => format!("{root}/api/v1/"),
        };
        // Statuses are answers to read, not transport errors.
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Ok(Self { agent, base, key: key.trim().to_string() })
    }

    /// Sends a request; the body of a 2xx answer, or the gateway's refusal.
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        if_match: Option<&str>,
    ) -> Result<Vec<u8>, Failure> {
        let url = format!("{}{path}", self.base);
        let authorization = format!("Bearer {}", self.key);
        let unreachable = |e: ureq::Error| usage(format!("{url}: no answer: {e}"));
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("authorization", &authorization).call(),
            ("DELETE", _) => self.agent.delete(&url).header("authorization", &authorization).call(),
            (method, Some((content_type, bytes))) => {
                let request = match method {
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                let mut request = request.header("authorization", &authorization).header("content-type", content_type);
                if let Some(tag) = if_match {
                    request = request.header("if-match", tag);
                }
                request.send(&bytes[..])
            }
            (_, None) => return Err(usage(format!("{method} needs a body"))),
        }
        .map_err(unreachable)?;
        let status = response.status();
        let bytes = response
            .into_body()
            .with_config()
            .limit(MAX_DOWNLOAD_EXPANDED)
            .read_to_vec()
            .map_err(|e| usage(format!("{url}: the answer does not read: {e}")))?;
        if status.is_success() {
            return Ok(bytes);
        }
        let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let kind = problem["type"].as_str().and_then(|t| t.rsplit('/').next()).unwrap_or("error");
        let detail = problem["detail"].as_str().unwrap_or("");
        let mut line = format!("{} {kind}: {detail}", status.as_u16());
        for finding in problem["findings"].as_array().into_iter().flatten().filter(|f| f["severity"] == "error") {
            line.push_str(&format!(
                "\n  {} {} {}: {}",
                text(&finding["rule"]),
                text(&finding["file"]),
                text(&finding["path"]),
                text(&finding["message"])
            ));
        }
        Err(Failure(REFUSED, line))
    }
}

/// A package's files from a folder, or from --api-def and the rest.
fn package_files(package: &PackageArgs) -> Result<Files, Failure> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| usage(format!("{}: cannot read it: {e}", path.display())));
    let files = match (&package.folder, &package.api_def) {
        (Some(folder), _) => archive::folder_files(folder).map_err(|e| usage(format!("{}: {e}", folder.display())))?,
        (None, Some(definition)) => {
            let mut files = Files::new();
            files.insert(sluice_package::DEFINITION_FILE.to_string(), read(definition)?);
            if let Some(properties) = &package.api_prop {
                files.insert(sluice_package::PROPERTIES_FILE.to_string(), read(properties)?);
            }
            if let Some(script) = &package.script {
                files.insert(sluice_package::SCRIPT_FILE.to_string(), read(script)?);
            }
            files
        }
        (None, None) => return Err(usage("give the package folder, or --api-def (with --api-prop and --script)")),
    };
    if !files.contains_key(sluice_package::DEFINITION_FILE) {
        return Err(usage(format!("no {} in the package", sluice_package::DEFINITION_FILE)));
    }
    Ok(files)
}

fn print_published(format: Format, body: &[u8]) -> Outcome {
    let published = json(body)?;
    if format == Format::Json {
        return print_json(&published);
    }
    println!(
        "published {} version {} {}",
        text(&published["connector"]),
        published["version"],
        text(&published["etag"])
    );
    for warning in published["warnings"].as_array().into_iter().flatten() {
        println!(
            "  warning {} {} {}: {}",
            text(&warning["rule"]),
            text(&warning["file"]),
            text(&warning["path"]),
            text(&warning["message"])
        );
    }
    Ok(())
}

fn connection_line(connection: &serde_json::Value) -> String {
    let reason = connection["reason"].as_str().map(|r| format!("\t{r}")).unwrap_or_default();
    format!(
        "{}/{}\t{}\towner {}{reason}",
        text(&connection["connector"]),
        text(&connection["id"]),
        text(&connection["status"]),
        text(&connection["owner"])
    )
}

fn done(format: Format, line: &str) -> Outcome {
    match format {
        Format::Text => println!("{line}"),
        Format::Json => println!("{}", serde_json::json!({"done": line})),
    }
    Ok(())
}

fn json(body: &[u8]) -> Result<serde_json::Value, Failure> {
    serde_json::from_slice(body).map_err(|e| Failure(REFUSED, format!("the gateway's answer is not JSON: {e}")))
}

fn print_json(value: &serde_json::Value) -> Outcome {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    Ok(())
}

/// A JSON string's text, `-` for anything else.
fn text(value: &serde_json::Value) -> String {
    value.as_str().unwrap_or("-").to_string()
}

/// A URL path segment.
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}
