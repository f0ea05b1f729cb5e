//! The commands that drive a running gateway through its management API,
//! on the model of `paconn`: `sluice connectors create | update | download
//! | list | delete` and `sluice connections create | list | delete |
//! signin`.
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
    /// The API key; never an argument: `SLUICE_API_KEY` is read when this
    /// is unset (only code sets it).
    #[arg(skip)]
    pub api_key: Option<String>,
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

/// `sluice connections create`: `(connector, id)`, choosing parameter set
/// `set` for a connector with sets.
pub fn create_connection(
    server: &Server,
    (connector, id): (&str, &str),
    set: Option<&str>,
    parameters: &[(String, String)],
) -> i32 {
    finish((|| {
        let parameters: serde_json::Map<String, serde_json::Value> =
            parameters.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let mut body = serde_json::json!({"connector": connector, "id": id, "parameters": parameters});
        if let Some(set) = set {
            body["parameter_set"] = set.into();
        }
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

/// `sluice connections signin`: begins an OAuth sign-in, waits on a
/// loopback listener for the browser the user opens the provider's page in,
/// and completes it there.
pub fn signin_connection(server: &Server, connector: &str, id: &str, wait: std::time::Duration) -> i32 {
    signin_showing(server, connector, id, wait, |url| println!("{url}"))
}

/// [`signin_connection`], handing the provider's address to `show`.
fn signin_showing(
    server: &Server,
    connector: &str,
    id: &str,
    wait: std::time::Duration,
    show: impl FnOnce(&str),
) -> i32 {
    finish((|| {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| usage(format!("cannot listen on loopback for the sign-in: {e}")))?;
        let port = listener.local_addr().map_err(|e| usage(e.to_string()))?.port();
        let client = Client::new(server)?;
        let path = format!("connections/{}/{}/signin?loopback_port={port}", segment(connector), segment(id));
        let begun = json(&client.send("POST", &path, Some(("application/json", Vec::new())), None)?)?;
        let (Some(url), Some(binding)) = (begun["authorization_url"].as_str(), begun["binding"].as_str()) else {
            return Err(Failure(REFUSED, "the gateway did not begin a loopback sign-in".into()));
        };
        eprintln!("open this address in a browser on this machine to sign in (waiting {}s):", wait.as_secs());
        show(url);
        let (completion, mut browser) = wait_for_completion(&listener, wait)?;
        let body =
            serde_json::to_vec(&serde_json::json!({"completion": completion, "binding": binding})).unwrap_or_default();
        let path = format!("connections/{}/{}/signin/complete", segment(connector), segment(id));
        let outcome = client.send("POST", &path, Some(("application/json", body)), None);
        let page = match &outcome {
            Ok(_) => "Signed in. You can close this page.",
            Err(_) => "The sign-in did not complete; see the command's output.",
        };
        let _ = std::io::Write::write_all(
            &mut browser,
            format!("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n\r\n<!doctype html><p>{page}</p>").as_bytes(),
        );
        let connection = json(&outcome?)?;
        match server.format {
            Format::Json => print_json(&connection),
            Format::Text => done(Format::Text, &connection_line(&connection)),
        }
    })())
}

/// Waits until the browser brings the completion code to the loopback
/// listener (`GET /?completion=...`), or `wait` passes; other requests are
/// answered 404 and waited past.
fn wait_for_completion(
    listener: &std::net::TcpListener,
    wait: std::time::Duration,
) -> Result<(String, std::net::TcpStream), Failure> {
    use std::io::{BufRead as _, Write as _};
    let deadline = std::time::Instant::now() + wait;
    listener.set_nonblocking(true).map_err(|e| usage(e.to_string()))?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut line = String::new();
                let mut reader = std::io::BufReader::new(stream.try_clone().map_err(|e| usage(e.to_string()))?);
                let _ = reader.read_line(&mut line);
                let completion =
                    line.strip_prefix("GET /?").and_then(|rest| rest.split_whitespace().next()).and_then(|query| {
                        url::form_urlencoded::parse(query.as_bytes())
                            .find(|(key, _)| key == "completion")
                            .map(|(_, value)| value.into_owned())
                    });
                match completion {
                    Some(completion) if !completion.is_empty() => return Ok((completion, stream)),
                    _ => {
                        let mut stream = stream;
                        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() >= deadline {
                    return Err(usage(format!(
                        "no browser came back within {}s; run the command again",
                        wait.as_secs()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(error) => return Err(usage(format!("the loopback listener failed: {error}"))),
        }
    }
}

/// The gateway's API, with the caller's key.
struct Client {
    agent: ureq::Agent,
    base: String,
    key: String,
}

impl Client {
    fn new(server: &Server) -> Result<Self, Failure> {
        let key = server
            .api_key
            .clone()
            .or_else(|| std::env::var("SLUICE_API_KEY").ok())
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
    let set = connection["parameter_set"].as_str().map(|s| format!("\tset {s}")).unwrap_or_default();
    format!(
        "{}/{}\t{}\towner {}{set}{reason}",
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

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_loopback_listener_takes_the_completion_and_waits_past_other_requests() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let browser = std::thread::spawn(move || {
            let mut stray = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            stray.write_all(b"GET /favicon.ico HTTP/1.1\r\n\r\n").unwrap();
            let mut answer = String::new();
            stray.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
            let mut real = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            real.write_all(b"GET /?completion=abc%2D123 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        });
        let (completion, _stream) = wait_for_completion(&listener, Duration::from_secs(20)).map_err(|f| f.1).unwrap();
        assert_eq!(completion, "abc-123");
        browser.join().unwrap();
    }

    /// The whole command against an in-process gateway and a provider on
    /// loopback, a blocking client playing the browser.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signin_completes_through_the_loopback_listener_against_a_gateway() {
        use axum::extract::Query;
        use axum::response::{IntoResponse, Redirect};
        use axum::routing::{get, post};
        use sluice_gateway::config::{ConnectionConfig, GatewayConfig, OAuthConfig};

        // The provider: every authorization is granted; the token is fixed.
        let provider = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = provider.local_addr().unwrap();
        let app = axum::Router::new()
            .route(
                "/authorize",
                get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    Redirect::to(&format!("{}?code=code-1&state={}", q["redirect_uri"], q["state"])).into_response()
                }),
            )
            .route(
                "/token",
                post(|| async {
                    axum::Json(serde_json::json!({"access_token": "at-1", "token_type": "bearer", "expires_in": 3600}))
                }),
            );
        tokio::spawn(async move { axum::serve(provider, app).await.unwrap() });

        let dir = tempfile::tempdir().unwrap();
        let plant = dir.path().join("packages/plant");
        std::fs::create_dir_all(&plant).unwrap();
        let definition = serde_json::json!({"swagger": "2.0", "info": {"title": "Plant", "version": "1"},
            "host": at.to_string(), "basePath": "/v1", "schemes": ["http"],
            "securityDefinitions": {"oauth2_auth": {"type": "oauth2", "flow": "accessCode",
                "authorizationUrl": format!("http://{at}/authorize"), "tokenUrl": format!("http://{at}/token"), "scopes": {}}},
            "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "ok"}}}}}});
        let properties = serde_json::json!({"properties": {"connectionParameters": {"token": {"type": "oauthSetting",
            "oAuthSettings": {"identityProvider": "oauth2", "clientId": "cli", "scopes": [], "redirectMode": "GlobalPerConnector"}}}}});
        std::fs::write(plant.join("apiDefinition.swagger.json"), definition.to_string()).unwrap();
        std::fs::write(plant.join("apiProperties.json"), properties.to_string()).unwrap();
        std::fs::write(dir.path().join("key"), sluice_gateway::store::key::SecretKey::generate_base64()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_at = listener.local_addr().unwrap();
        let config = GatewayConfig {
            listen: gateway_at,
            packages: dir.path().join("packages"),
            environment: Default::default(),
            requests: Default::default(),
            runtime: Default::default(),
            connections: vec![ConnectionConfig {
                id: "main".into(),
                connector: "plant".into(),
                owner: None,
                environment: None,
                parameter_set: None,
                parameters: Default::default(),
            }],
            public_url: Some(format!("http://{gateway_at}").parse().unwrap()),
            metrics_listen: None,
            access: Default::default(),
            environments: Vec::new(),
            store: Default::default(),
            telemetry: Default::default(),
            oauth: Some(OAuthConfig { key_file: Some(dir.path().join("key")), ..Default::default() }),
            state_dir: None,
        };
        let options = sluice_gateway::GatewayOptions { grant_loopback: true, ..Default::default() };
        let gateway = sluice_gateway::Gateway::start(config, options).await.unwrap();
        let key = gateway.access().bootstrap_admin("ops", "Ops", "cli").await.unwrap().key;
        let serving = gateway.clone();
        tokio::spawn(async move {
            sluice_gateway::server::serve_gateway(listener, serving, std::future::pending()).await.unwrap()
        });

        let server = Server {
            server: format!("http://{gateway_at}").parse().unwrap(),
            environment: None,
            format: Format::Json,
            api_key: Some(key.clone()),
        };
        let (shown, address) = std::sync::mpsc::channel::<String>();
        let command = tokio::task::spawn_blocking(move || {
            signin_showing(&server, "plant", "main", Duration::from_secs(30), |url| {
                shown.send(url.to_string()).unwrap()
            })
        });
        // The browser: follows each redirect by hand, with no cookie at all.
        let browser = tokio::task::spawn_blocking(move || {
            let url = address.recv_timeout(Duration::from_secs(30)).expect("the command shows the provider's page");
            let agent: ureq::Agent =
                ureq::Agent::config_builder().max_redirects(0).http_status_as_error(false).build().into();
            let mut url = url;
            for _ in 0..3 {
                let answer = agent.get(&url).call().unwrap();
                match answer.headers().get("location") {
                    Some(next) => url = next.to_str().unwrap().to_string(),
                    None => return (answer.status().as_u16(), url),
                }
            }
            (0, url)
        });
        let (status, last) = browser.await.unwrap();
        assert_eq!(status, 200, "the browser ends on the command's page: {last}");
        assert!(last.starts_with("http://127.0.0.1:") && last.contains("completion="), "{last}");
        assert_eq!(command.await.unwrap(), OK);
        let answer = tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            let url = format!("http://{gateway_at}/api/v1/connections/plant/main");
            agent
                .get(&url)
                .header("authorization", &format!("Bearer {key}"))
                .call()
                .unwrap()
                .into_body()
                .read_to_string()
                .unwrap()
        })
        .await
        .unwrap();
        let connection: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(connection["status"], "ready", "{connection}");
    }

    #[test]
    fn the_listener_gives_up_after_its_wait() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let Err(Failure(code, message)) = wait_for_completion(&listener, Duration::from_millis(200)) else {
            panic!("no browser came");
        };
        assert_eq!(code, USAGE);
        assert!(message.contains("no browser came back"), "{message}");
    }
}
