//! `sluice connectors check --call`: every operation of every package that
//! loads, called once through a real gateway in this process, with dummy
//! connection values and every backend call denied by egress (no subnet,
//! no public egress, and no name resolves, so nothing is looked up),
//! tallied by status and problem type. What answers 500
//! `internal` is a gateway bug, whatever the package says.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use axum::body::Body;
use sluice_gateway::config::{ConnectionConfig, GatewayConfig, OAuthConfig, ValueSource};
use sluice_gateway::{Gateway, GatewayOptions};
use sluice_package::{Package, ParameterLocation};
use tower::ServiceExt as _;

/// The package files copied for the gateway.
const FILES: &[&str] = &[
    sluice_package::DEFINITION_FILE,
    sluice_package::PROPERTIES_FILE,
    sluice_package::SCRIPT_FILE,
    sluice_package::SETTINGS_FILE,
    sluice_package::CSX_FILE,
];

/// The connection every package gets.
const CONNECTION: &str = "check";

/// How the calls answered.
#[derive(Debug, Default)]
pub struct Tally {
    /// Calls by status and problem type (empty for answers that are not problems).
    pub by_answer: BTreeMap<(u16, String), usize>,
    /// Operations called.
    pub calls: usize,
    /// The calls that answered 500 `internal`: package and operation.
    pub internal: Vec<(String, String)>,
    /// Up to three examples of each answer: `package operation: detail`.
    pub samples: BTreeMap<(u16, String), Vec<String>>,
}

/// How many examples of each answer are kept.
const SAMPLES: usize = 3;

/// Calls every operation of the packages in `dirs` that load.
pub async fn call_all(dirs: &[PathBuf]) -> Result<Tally> {
    let work = tempfile::Builder::new().prefix("sluice-check-").tempdir().context("creating a work folder")?;
    let packages_dir = work.path().join("packages");
    std::fs::create_dir(&packages_dir).context("creating the packages folder")?;
    let mut loaded = Vec::new();
    let mut names = std::collections::HashSet::new();
    for dir in dirs {
        let Ok(package) = sluice_package::load_package(dir) else { continue };
        let name = unique_name(&package.id, &mut names);
        let target = packages_dir.join(&name);
        std::fs::create_dir(&target).with_context(|| format!("creating {}", target.display()))?;
        for file in FILES {
            let source = dir.join(file);
            if source.is_file() {
                std::fs::copy(&source, target.join(file)).with_context(|| format!("copying {}", source.display()))?;
            }
        }
        loaded.push((name, package));
    }
    let key_file = work.path().join("key");
    std::fs::write(&key_file, sluice_gateway::store::key::SecretKey::generate_base64())
        .context("writing the sealing key")?;
    let config = GatewayConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        packages: packages_dir,
        // No subnet and no public egress: every backend call is denied.
        environment: sluice_egress::Environment::new(Vec::new(), false),
        requests: Default::default(),
        runtime: Default::default(),
        connections: loaded.iter().map(|(name, package)| dummy_connection(name, package)).collect(),
        public_url: None,
        metrics_listen: None,
        access: Default::default(),
        environments: Vec::new(),
        store: Default::default(),
        telemetry: Default::default(),
        oauth: Some(OAuthConfig {
            database: Some(work.path().join("gateway.db")),
            key_file: Some(key_file),
            ..Default::default()
        }),
        state_dir: None,
    };
    // No name resolves: nothing is looked up, and every backend call is
    // denied at once.
    let options = GatewayOptions {
        resolver: Some(std::sync::Arc::new(sluice_egress::PinnedResolver::new())),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start(config, options).await.context("starting the gateway")?;
    let key = gateway.access().bootstrap_admin("check", "Check", "check").await?.key;
    let router = sluice_gateway::server::router(gateway);
    let mut tally = Tally::default();
    for (name, package) in &loaded {
        for operation in &package.definition.operations {
            let request = request_for(name, operation, &key)?;
            let response = router.clone().oneshot(request).await.context("calling the gateway")?;
            let status = response.status().as_u16();
            let problem = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
            let json = problem.then(|| serde_json::from_slice::<serde_json::Value>(&body).ok()).flatten();
            let kind = json
                .as_ref()
                .and_then(|v| v["type"].as_str().map(|t| t.rsplit('/').next().unwrap_or(t).to_string()))
                // An answer to HEAD has no body to name its problem.
                .unwrap_or_else(|| {
                    if operation.method == http::Method::HEAD { "(HEAD, no body)".into() } else { String::new() }
                });
            let detail = json.as_ref().and_then(|v| v["detail"].as_str().map(str::to_string));
            let samples = tally.samples.entry((status, kind.clone())).or_default();
            if samples.len() < SAMPLES {
                let detail = detail.unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
                samples.push(format!("{} {}: {detail}", package.id, operation.id));
            }
            if status == 500 && kind == "internal" {
                tally.internal.push((package.id.clone(), operation.id.clone()));
            }
            *tally.by_answer.entry((status, kind)).or_default() += 1;
            tally.calls += 1;
        }
    }
    Ok(tally)
}

/// A folder name for a connector id, unique among those given so far.
fn unique_name(id: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let base: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// The connection of a package: a dummy value for every parameter that is
/// not an OAuth sign-in (its first allowed value, when it lists them; one of
/// its type for numbers and booleans); of its first set that does not sign
/// in (else its first), when it has parameter sets.
fn dummy_connection(name: &str, package: &Package) -> ConnectionConfig {
    let names = package.properties.parameter_set_names();
    let set = names.iter().find(|set| !package.signs_in(Some(set))).or(names.first()).copied();
    let parameters = package
        .properties
        .parameters_for(&package.id, set)
        .unwrap_or(&package.properties.connection_parameters)
        .iter()
        .filter(|(_, p)| p.kind != "oauthSetting")
        .map(|(parameter, p)| {
            let value = match (p.allowed_values.first(), p.kind.as_str()) {
                (Some(allowed), _) => allowed.as_str(),
                (None, "int" | "number") => "1",
                (None, "bool") => "true",
                (None, _) => "dummy",
            };
            (parameter.clone(), ValueSource::Literal(value.into()))
        })
        .collect();
    ConnectionConfig {
        id: CONNECTION.into(),
        connector: name.into(),
        owner: None,
        environment: None,
        parameter_set: set.map(str::to_string),
        parameters,
    }
}

/// A request for an operation: `1` for path parameters, `dummy` for
/// required query parameters and headers, `{}` for a body.
fn request_for(name: &str, operation: &sluice_package::Operation, key: &str) -> Result<http::Request<Body>> {
    let mut path = operation.path.clone();
    let mut query = Vec::new();
    let mut builder = http::Request::builder().method(operation.method.clone());
    let mut body = String::new();
    let mut content_type = None;
    for parameter in &operation.parameters {
        match parameter.location {
            ParameterLocation::Path => path = path.replace(&format!("{{{}}}", parameter.name), "1"),
            ParameterLocation::Query if parameter.required => query.push(format!("{}=dummy", encode(&parameter.name))),
            ParameterLocation::Header if parameter.required => {
                if let Ok(header) = http::HeaderName::from_bytes(parameter.name.as_bytes()) {
                    builder = builder.header(header, "dummy");
                }
            }
            ParameterLocation::Body => {
                body = "{}".into();
                content_type = Some("application/json");
            }
            ParameterLocation::FormData if parameter.required => {
                if !body.is_empty() {
                    body.push('&');
                }
                body.push_str(&format!("{}=dummy", encode(&parameter.name)));
                content_type = Some("application/x-www-form-urlencoded");
            }
            _ => {}
        }
    }
    let mut uri = format!("/apim/{name}/{CONNECTION}/{}", path.trim_start_matches('/'));
    if !query.is_empty() {
        uri = format!("{uri}?{}", query.join("&"));
    }
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder
        .uri(encode_path(&uri))
        .header("authorization", format!("Bearer {key}"))
        .body(Body::from(body))
        .with_context(|| format!("building the request of {name}/{}", operation.id))
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A request target with the characters a URI cannot hold percent-encoded.
fn encode_path(uri: &str) -> String {
    uri.bytes().map(|b| if b.is_ascii_graphic() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
