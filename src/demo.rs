//! The offline demo: the example packages embedded in the binary, a sample
//! backend for them on loopback in the same process, and a gateway serving
//! both with a ready connection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use axum::Json;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sluice_gateway::config::{ConnectionConfig, GatewayConfig, ValueSource};
use sluice_gateway::{Gateway, GatewayOptions};

/// One example package, embedded by build.rs.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedPackage {
    /// The folder name: the connector id.
    pub name: &'static str,
    /// `apiDefinition.swagger.json`.
    pub definition: Option<&'static [u8]>,
    /// `apiProperties.json`.
    pub properties: Option<&'static [u8]>,
    /// `sluice.toml`.
    pub settings: Option<&'static [u8]>,
    /// The built `script.wasm`.
    pub script: Option<&'static [u8]>,
}

/// Every example package under `examples/`.
pub const EXAMPLES: &[EmbeddedPackage] = include!(concat!(env!("OUT_DIR"), "/examples.rs"));

/// Where the demo listens by default.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// The demo's admin, who owns its connection.
pub const DEMO_ADMIN: &str = "demo-admin";

/// The API key the demo backend expects and the demo connection holds.
pub const DEMO_API_KEY: &str = "demo-key-123";

/// Starts the sample backend on loopback; returns its address.
pub async fn start_backend() -> Result<SocketAddr> {
    let app = axum::Router::new().route("/v1/items", get(list_items)).route("/v1/items/{id}", get(get_item));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the demo backend")?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "demo backend stopped");
        }
    });
    Ok(address)
}

/// The canonical 20 items.
pub fn items() -> Vec<Value> {
    (1..=20).map(|i| json!({"id": i, "name": format!("item{i}"), "ok": true})).collect()
}

/// The answer for a request without the demo key, if it lacks it.
fn unauthorised(headers: &HeaderMap) -> Option<Response> {
    match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        Some(DEMO_API_KEY) => None,
        _ => Some((StatusCode::UNAUTHORIZED, Json(json!({"error": "missing or wrong X-Api-Key"}))).into_response()),
    }
}

async fn list_items(headers: HeaderMap) -> Response {
    if let Some(denied) = unauthorised(&headers) {
        return denied;
    }
    Json(items()).into_response()
}

async fn get_item(headers: HeaderMap, UrlPath(id): UrlPath<u64>) -> Response {
    if let Some(denied) = unauthorised(&headers) {
        return denied;
    }
    match items().into_iter().find(|item| item["id"] == id) {
        Some(item) => Json(item).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": format!("no item {id}")}))).into_response(),
    }
}

/// Writes the example packages into `dir`, pointing the items connector at
/// the sample backend.
pub fn write_packages(dir: &Path, backend: SocketAddr) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for package in EXAMPLES {
        let folder = dir.join(package.name);
        std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
        let files = [
            ("apiDefinition.swagger.json", package.definition),
            ("apiProperties.json", package.properties),
            ("sluice.toml", package.settings),
            ("script.wasm", package.script),
        ];
        for (name, bytes) in files {
            let Some(bytes) = bytes else { continue };
            let bytes = if name == "apiDefinition.swagger.json" && package.name == "items-transform" {
                point_at(bytes, backend)?
            } else {
                bytes.to_vec()
            };
            std::fs::write(folder.join(name), bytes).with_context(|| format!("writing {name} of {}", package.name))?;
        }
        written.push(folder);
    }
    Ok(written)
}

/// Rewrites a definition's host and scheme to the sample backend.
fn point_at(definition: &[u8], backend: SocketAddr) -> Result<Vec<u8>> {
    let mut definition: Value = serde_json::from_slice(definition).context("example definition")?;
    definition["host"] = json!(backend.to_string());
    definition["schemes"] = json!(["http"]);
    Ok(serde_json::to_vec_pretty(&definition)?)
}

/// Runs the demo: the sample backend, the example packages in a folder of
/// their own, and a gateway serving them with the connection `demo`.
pub async fn run(listen: SocketAddr) -> Result<()> {
    crate::serve::init_tracing();
    let backend = start_backend().await?;
    // A fresh folder only this user may open (mode 0700), removed at exit;
    // never a predictable shared path another user could prepare.
    let packages = tempfile::Builder::new().prefix("sluice-demo-").tempdir().context("creating the demo's folder")?;
    let dir = packages.path().to_path_buf();
    write_packages(&dir, backend)?;
    // A sealing key of the demo's own, so that connections can be made
    // through the API; like the database, it ends with the demo.
    let key_file = dir.join("demo-sealing.key");
    std::fs::write(&key_file, sluice_gateway::store::key::SecretKey::generate_base64())
        .context("writing the demo's sealing key")?;
    let config = GatewayConfig {
        listen,
        packages: dir.clone(),
        environment: Default::default(),
        requests: Default::default(),
        // Compiled code is cached across runs in the user's own cache folder,
        // so a restarted demo is ready at once; the runtime uses it only while
        // it belongs to this user and no one else may write it.
        runtime: sluice_gateway::config::RuntimeSettings { cache_dir: user_cache_dir(), ..Default::default() },
        connections: vec![ConnectionConfig {
            id: "demo".into(),
            connector: "items-transform".into(),
            owner: Some(DEMO_ADMIN.into()),
            environment: None,
            parameter_set: None,
            parameters: [("api_key".to_string(), ValueSource::Literal(DEMO_API_KEY.into()))].into_iter().collect(),
        }],
        public_url: None,
        metrics_listen: None,
        access: Default::default(),
        environments: Vec::new(),
        store: Default::default(),
        telemetry: Default::default(),
        oauth: Some(sluice_gateway::config::OAuthConfig { key_file: Some(key_file), ..Default::default() }),
        state_dir: None,
    };
    // The sample backend listens on loopback, which egress never allows from
    // configuration; the demo grants it in code.
    let max_connections = config.requests.max_connections;
    let gateway = Gateway::start(config, GatewayOptions { grant_loopback: true, ..Default::default() }).await?;
    // Every call needs a caller: the demo's admin, with a key made now (its
    // database is in memory, so the key ends with the demo).
    let issued = gateway.access().bootstrap_admin(DEMO_ADMIN, "Demo admin", "demo").await?;
    // Bound before the lines are printed, so that they name the real port
    // (`--listen 127.0.0.1:0` picks a free one).
    let listener = crate::serve::bind(listen, max_connections).await?;
    let listen = listener.local_addr()?;
    println!("sluice demo: packages in {}, sample backend on {backend}", dir.display());
    println!("demo api key: {}", issued.key);
    let auth = "-H \"Authorization: Bearer $KEY\"";
    println!("  with custom code:    curl -s {auth} http://{listen}/apim/items-transform/demo/items");
    println!("  without custom code: curl -s {auth} http://{listen}/apim/items-transform/demo/items/3");
    println!("  metrics:             curl -s {auth} http://{listen}/metrics");
    println!("  management API:      curl -s {auth} http://{listen}/api/v1/connectors");
    println!("  console:             http://{listen}/console/ (sign in with the key)");
    let served = crate::serve::run(gateway, listener, None).await;
    drop(packages);
    served
}

/// `$XDG_CACHE_HOME/sluice/compiled`, else `~/.cache/sluice/compiled`; none
/// without a home.
fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("sluice").join("compiled"))
}
