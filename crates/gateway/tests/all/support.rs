//! The one builder for end-to-end tests: a real gateway on loopback port 0,
//! real backend servers on loopback port 0, packages in a temporary folder,
//! and a small HTTP client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sluice_gateway::config::{ConnectionConfig, GatewayConfig, ValueSource};
use sluice_gateway::{Gateway, GatewayOptions};

/// The real connector packages of `examples/` (from the public connector
/// repository, MIT: see each folder's PROVENANCE.md), by folder name.
pub const EXAMPLE_CONNECTORS: &[&str] = sluice_test_programs::REAL_CONNECTORS;

/// The repository's `examples/` folder.
pub fn examples() -> PathBuf {
    sluice_test_programs::examples_dir()
}

/// A test package of `tests/data/packages`.
pub fn test_package(name: &str) -> PathBuf {
    sluice_test_programs::test_data_dir().join("packages").join(name)
}

/// A guest component by crate name: a test guest (`misbehave`) or an
/// example's (`items-transform`, `vies`).
pub fn guest(name: &str) -> Vec<u8> {
    let path = sluice_test_programs::path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Starts an axum app on 127.0.0.1 port 0.
pub async fn start_backend(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind backend");
    let address = listener.local_addr().expect("backend address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("backend serves") });
    address
}

/// Builds a test gateway.
pub struct TestGatewayBuilder {
    dir: tempfile::TempDir,
    connections: Vec<ConnectionConfig>,
    subnets: Vec<String>,
    public: bool,
    grant_loopback: bool,
    requests: sluice_gateway::config::RequestLimits,
    runtime: sluice_gateway::config::RuntimeSettings,
    oauth: Option<sluice_gateway::config::OAuthConfig>,
    store: sluice_gateway::config::StoreConfig,
    access: sluice_gateway::config::AccessConfig,
    environments: Vec<sluice_gateway::config::EnvironmentConfig>,
    resolver: Option<std::sync::Arc<dyn sluice_egress::Resolver>>,
}

/// The principal id of the test gateway's admin.
pub const ADMIN: &str = "admin";

impl TestGatewayBuilder {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            connections: Vec::new(),
            subnets: Vec::new(),
            public: true,
            grant_loopback: true,
            requests: Default::default(),
            runtime: sluice_gateway::config::RuntimeSettings {
                max_concurrent_calls: 16,
                fuel_metering: true,
                cache_dir: Some(sluice_test_programs::compiled_cache_dir()),
                ..Default::default()
            },
            oauth: None,
            store: Default::default(),
            access: Default::default(),
            environments: Vec::new(),
            resolver: None,
        }
    }

    /// Resolves the gateway's egress names to loopback: each of `names`
    /// (and no other name) is 127.0.0.1, so nothing is looked up outside.
    pub fn resolve_to_loopback(mut self, names: &[&str]) -> Self {
        let mut pinned = sluice_egress::PinnedResolver::new();
        for name in names {
            pinned.pin(name, [std::net::IpAddr::from([127, 0, 0, 1])]).expect("a name to pin");
        }
        self.resolver = Some(std::sync::Arc::new(pinned));
        self
    }

    /// Makes `owner` the owner of the connection `id` added before.
    pub fn connection_owner(mut self, id: &str, owner: &str) -> Self {
        let connection = self.connections.iter_mut().find(|c| c.id == id).expect("connection added before");
        connection.owner = Some(owner.into());
        self
    }

    /// Makes the connection `id` added before choose parameter set `set`.
    pub fn connection_parameter_set(mut self, id: &str, set: &str) -> Self {
        let connection = self.connections.iter_mut().find(|c| c.id == id).expect("connection added before");
        connection.parameter_set = Some(set.into());
        self
    }

    pub fn packages_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Copies a package folder in, optionally pointing its host at a backend.
    pub fn package_from(self, source: &Path, backend: Option<SocketAddr>) -> Self {
        let name = source.file_name().expect("folder name").to_owned();
        let target = self.dir.path().join(&name);
        copy_package(source, &target, backend);
        self
    }

    /// Writes a package from its parts.
    pub fn package(self, name: &str, definition: serde_json::Value, properties: serde_json::Value) -> Self {
        write_package(&self.dir.path().join(name), &definition, &properties);
        self
    }

    /// Adds an environment beside the default one, with `network` its
    /// network settings and `members` its `(principal, role)`s; its packages
    /// are in [`environment_dir`] of the test's folder.
    pub fn environment(mut self, id: &str, network: sluice_egress::Environment, members: &[(&str, &str)]) -> Self {
        let packages = environment_dir(self.dir.path(), id);
        std::fs::create_dir_all(&packages).expect("environment's packages dir");
        self.environments.push(sluice_gateway::config::EnvironmentConfig {
            id: id.into(),
            name: Some(format!("Environment {id}")),
            packages,
            network,
            members: members
                .iter()
                .map(|(principal, role)| sluice_gateway::config::MemberConfig {
                    principal: principal.to_string(),
                    role: role.to_string(),
                })
                .collect(),
            owners: Default::default(),
        });
        self
    }

    /// Writes a package into another environment's folder.
    pub fn package_in(
        self,
        environment: &str,
        name: &str,
        definition: serde_json::Value,
        properties: serde_json::Value,
    ) -> Self {
        write_package(&environment_dir(self.dir.path(), environment).join(name), &definition, &properties);
        self
    }

    /// A settings-file connection of another environment.
    pub fn connection_in(mut self, environment: &str, connector: &str, id: &str, values: &[(&str, &str)]) -> Self {
        self = self.connection(connector, id, values);
        if let Some(last) = self.connections.last_mut() {
            last.environment = Some(environment.into());
        }
        self
    }

    /// Adds a file to a package folder.
    pub fn file(self, package: &str, name: &str, bytes: impl AsRef<[u8]>) -> Self {
        std::fs::write(self.dir.path().join(package).join(name), bytes).expect("write package file");
        self
    }

    pub fn connection(mut self, connector: &str, id: &str, values: &[(&str, &str)]) -> Self {
        self.connections.push(ConnectionConfig {
            id: id.into(),
            connector: connector.into(),
            owner: None,
            environment: None,
            parameter_set: None,
            parameters: values.iter().map(|(k, v)| (k.to_string(), ValueSource::Literal(v.to_string()))).collect(),
        });
        self
    }

    pub fn connection_from_env(mut self, connector: &str, id: &str, name: &str, variable: &str) -> Self {
        self.connections.push(ConnectionConfig {
            id: id.into(),
            connector: connector.into(),
            owner: None,
            environment: None,
            parameter_set: None,
            parameters: [(name.to_string(), ValueSource::Env { env: variable.into() })].into_iter().collect(),
        });
        self
    }

    /// Keeps the gateway's state in the database at `url`, which other
    /// gateways may share.
    pub fn store_url(mut self, url: &str) -> Self {
        self.store.url = Some(url.to_string());
        self
    }

    /// Edits the `[store]` settings.
    pub fn store(mut self, edit: impl FnOnce(&mut sluice_gateway::config::StoreConfig)) -> Self {
        edit(&mut self.store);
        self
    }

    pub fn without_loopback_grant(mut self) -> Self {
        self.grant_loopback = false;
        self
    }

    /// Sets `[access]`: issuers and members.
    pub fn access(mut self, access: sluice_gateway::config::AccessConfig) -> Self {
        self.access = access;
        self
    }

    pub fn oauth(mut self, oauth: sluice_gateway::config::OAuthConfig) -> Self {
        self.oauth = Some(oauth);
        self
    }

    pub fn backend_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.requests.backend_timeout = timeout;
        self
    }

    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.requests.max_body_bytes = limit;
        self
    }

    /// Changes any of the limits on what clients send.
    pub fn requests(mut self, edit: impl FnOnce(&mut sluice_gateway::config::RequestLimits)) -> Self {
        edit(&mut self.requests);
        self
    }

    /// Changes any of the runtime settings.
    pub fn runtime(mut self, edit: impl FnOnce(&mut sluice_gateway::config::RuntimeSettings)) -> Self {
        edit(&mut self.runtime);
        self
    }

    pub async fn start(self) -> TestGateway {
        self.try_start().await.expect("gateway starts")
    }

    /// Starts the gateway, or says why it does not start.
    pub async fn try_start(self) -> Result<TestGateway, sluice_gateway::StartError> {
        capture_logs();
        let requests = self.requests;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gateway");
        let address = listener.local_addr().unwrap();
        let config = GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            packages: self.dir.path().to_path_buf(),
            environment: sluice_egress::Environment::new(
                self.subnets.iter().map(|s| sluice_egress::parse_subnet(s).expect("test subnet")).collect(),
                self.public,
            ),
            requests,
            runtime: self.runtime,
            connections: self.connections,
            public_url: Some(format!("http://{address}").parse().unwrap()),
            metrics_listen: None,
            access: self.access,
            environments: self.environments,
            store: self.store,
            // Every metric series carries it; the tests' assertions name it.
            telemetry: sluice_gateway::config::TelemetryConfig { replica: Some("tests".into()), ..Default::default() },
            oauth: self.oauth,
            state_dir: None,
        };
        let gateway =
            Gateway::start(config, GatewayOptions { grant_loopback: self.grant_loopback, resolver: self.resolver })
                .await?;
        let admin_key = gateway.access().bootstrap_admin(ADMIN, "Test admin", "tests").await.expect("admin key").key;
        let serving = gateway.clone();
        tokio::spawn(async move {
            sluice_gateway::server::serve_gateway(listener, serving, std::future::pending())
                .await
                .expect("gateway serves")
        });
        Ok(TestGateway {
            address,
            gateway,
            admin_key,
            _dir: self.dir,
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }
}

/// `[oauth]` with a database and a sealing key (32 times `key_byte`) in
/// `dir`: what connections made through the gateway need.
pub fn sealing(dir: &Path, key_byte: u8) -> sluice_gateway::config::OAuthConfig {
    use base64::Engine as _;
    let key_file = dir.join(format!("key-{key_byte}"));
    std::fs::write(&key_file, base64::engine::general_purpose::STANDARD.encode([key_byte; 32])).unwrap();
    sluice_gateway::config::OAuthConfig {
        database: Some(dir.join("gateway.db")),
        key_file: Some(key_file),
        ..Default::default()
    }
}

/// Where another environment's packages are, under the test's folder.
pub fn environment_dir(root: &Path, environment: &str) -> PathBuf {
    root.join(format!("environment-{environment}"))
}

fn write_package(target: &Path, definition: &serde_json::Value, properties: &serde_json::Value) {
    std::fs::create_dir_all(target).expect("package dir");
    std::fs::write(target.join("apiDefinition.swagger.json"), serde_json::to_vec_pretty(definition).unwrap()).unwrap();
    std::fs::write(target.join("apiProperties.json"), serde_json::to_vec_pretty(properties).unwrap()).unwrap();
}

/// Copies a package, pointing `host` at `backend` over plain HTTP when given.
pub fn copy_package(source: &Path, target: &Path, backend: Option<SocketAddr>) {
    std::fs::create_dir_all(target).expect("package dir");
    for entry in std::fs::read_dir(source).expect("package source") {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            // Folders (`assets/`) are copied as they are.
            copy_package(&entry.path(), &target.join(entry.file_name()), None);
            continue;
        }
        if !entry.file_type().unwrap().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        let bytes = match (entry.file_name().to_str(), backend) {
            (Some("apiDefinition.swagger.json"), Some(backend)) => {
                let mut definition: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                definition["host"] = serde_json::json!(backend.to_string());
                definition["schemes"] = serde_json::json!(["http"]);
                serde_json::to_vec_pretty(&definition).unwrap()
            }
            _ => bytes,
        };
        std::fs::write(target.join(entry.file_name()), bytes).unwrap();
    }
}

/// `request` with `Authorization: Bearer {credential}` (an API key or a token).
pub fn with_bearer(mut request: http::Request<Full<Bytes>>, credential: &str) -> http::Request<Full<Bytes>> {
    request.headers_mut().insert(http::header::AUTHORIZATION, format!("Bearer {credential}").parse().unwrap());
    request
}

/// A running gateway.
pub struct TestGateway {
    pub address: SocketAddr,
    pub gateway: Gateway,
    /// The key of the environment's admin ([`ADMIN`]), which every request
    /// without an `Authorization` header of its own is sent with.
    pub admin_key: String,
    _dir: tempfile::TempDir,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The problem type's short name of a problem+json answer.
    pub fn problem_type(&self) -> String {
        assert_eq!(self.headers["content-type"], "application/problem+json", "{}", self.text());
        let kind = self.json()["type"].as_str().unwrap().to_string();
        kind.rsplit('/').next().unwrap().to_string()
    }
}

impl TestGateway {
    /// The folder the gateway's packages are in.
    pub fn packages_dir(&self) -> &Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends `request` as the admin, unless it says who it is itself.
    pub async fn request(&self, mut request: http::Request<Full<Bytes>>) -> Answer {
        if !request.headers().contains_key(http::header::AUTHORIZATION) {
            request = with_bearer(request, &self.admin_key);
        }
        self.anonymous(request).await
    }

    /// Sends `request` as it is, with no credential added.
    pub async fn anonymous(&self, request: http::Request<Full<Bytes>>) -> Answer {
        let response = self.client.request(request).await.expect("gateway answers");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Answer { status: parts.status.as_u16(), headers: parts.headers, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request(http::Request::get(self.url(path)).body(Full::new(Bytes::new())).unwrap()).await
    }

    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Answer {
        let mut builder = http::Request::builder().method(method).uri(self.url(path));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.request(builder.body(Full::new(body.into())).unwrap()).await
    }
}

/// What a recording backend saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A backend that records every request and answers by path:
/// `.../items` the canonical items, `.../status/{code}` that status,
/// `.../slow` after a second, `.../stall` after three, `.../redirect` a 302
/// to the metadata address,
/// anything else a JSON echo of the request.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    pub seen: Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl Recorder {
    pub fn app(&self) -> Router {
        let seen = Arc::clone(&self.seen);
        Router::new().fallback(move |request: axum::extract::Request| {
            let seen = Arc::clone(&seen);
            async move { record_and_answer(seen, request).await }
        })
    }

    pub fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().expect("the backend saw a request")
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn record_and_answer(
    seen: Arc<std::sync::Mutex<Vec<Seen>>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    let path_and_query = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path_and_query: path_and_query.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    if path.ends_with("/items") {
        let items: Vec<serde_json::Value> =
            (1..=20).map(|i| serde_json::json!({"id": i, "name": format!("item{i}"), "ok": true})).collect();
        return axum::Json(items).into_response();
    }
    if let Some(code) = path.rsplit_once("/status/").map(|(_, c)| c.parse::<u16>().unwrap_or(500)) {
        let status = http::StatusCode::from_u16(code).unwrap();
        return (status, axum::Json(serde_json::json!({"status": code}))).into_response();
    }
    if path.ends_with("/slow") {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        return "slow answer".into_response();
    }
    if path.ends_with("/stall") {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        return "stalled answer".into_response();
    }
    if path.ends_with("/redirect") {
        return (http::StatusCode::FOUND, [(http::header::LOCATION, "http://169.254.169.254/latest/meta-data")])
            .into_response();
    }
    let body_json: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into()));
    axum::Json(serde_json::json!({
        "method": parts.method.as_str(),
        "path": path_and_query,
        "body": body_json,
    }))
    .into_response()
}

/// A definition for the synthetic `shop` connector used by the routing and
/// policy tests, pointing at `backend`.
pub fn shop_definition(backend: SocketAddr, security: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "swagger": "2.0",
        "info": {"title": "Shop", "description": "test", "version": "1.0"},
        "host": backend.to_string(),
        "basePath": "/v1",
        "schemes": ["http"],
        "securityDefinitions": security,
        "paths": {
            "/items": {"get": {"operationId": "ListItems", "summary": "List", "responses": {"200": {"description": "ok"}}}},
            "/items/{id}": {"get": {"operationId": "GetItem", "parameters": [
                {"name": "id", "in": "path", "required": true, "type": "string", "x-ms-url-encoding": "single"}
            ], "responses": {"200": {"description": "ok"}}}},
            "/orders/{orderId}/lines": {"post": {"operationId": "AddLine", "parameters": [
                {"name": "orderId", "in": "path", "required": true, "type": "string", "x-ms-url-encoding": "single"},
                {"name": "dryRun", "in": "query", "required": true, "type": "boolean"},
                {"name": "X-Tenant", "in": "header", "required": true, "type": "string"},
                {"name": "body", "in": "body", "required": false, "schema": {"type": "object"}}
            ], "responses": {"200": {"description": "ok"}}}},
            "/orders/{orderId}": {"get": {"operationId": "GetOrder", "parameters": [
                {"name": "orderId", "in": "path", "required": true, "type": "string", "x-ms-url-encoding": "single"}
            ], "responses": {"200": {"description": "ok"}}}},
            "/status/{code}": {"get": {"operationId": "Status", "parameters": [
                {"name": "code", "in": "path", "required": true, "type": "string", "x-ms-url-encoding": "single"}
            ], "responses": {"200": {"description": "ok"}}}},
            "/slow": {"get": {"operationId": "Slow", "responses": {"200": {"description": "ok"}}}},
            "/redirect": {"get": {"operationId": "Redirect", "responses": {"200": {"description": "ok"}}}},
            "/run/{action}": {"get": {"operationId": "Run", "parameters": [
                {"name": "action", "in": "path", "required": true, "type": "string", "x-ms-url-encoding": "single"},
                {"name": "to", "in": "query", "required": false, "type": "string"}
            ], "responses": {"200": {"description": "ok"}}}}
        }
    })
}

/// Properties for the `shop` connector.
pub fn shop_properties(
    parameters: serde_json::Value,
    script_operations: Option<&[&str]>,
    policies: serde_json::Value,
) -> serde_json::Value {
    let mut properties = serde_json::json!({
        "connectionParameters": parameters,
        "publisher": "test",
        "stackOwner": "test",
        "policyTemplateInstances": policies,
    });
    if let Some(ops) = script_operations {
        properties["scriptOperations"] = serde_json::json!(ops);
    }
    serde_json::json!({"properties": properties})
}

/// A secure API key parameter.
pub fn api_key_parameter() -> serde_json::Value {
    serde_json::json!({"api_key": {"type": "securestring", "uiDefinition": {"displayName": "key", "constraints": {"required": "true"}}}})
}

/// Everything the gateways of this test binary log, from the first start on.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// Sends the log to [`LOGS`].
struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing the log, once per test binary.
pub fn capture_logs() {
    static START: std::sync::Once = std::sync::Once::new();
    START.call_once(|| {
        let filter =
            tracing_subscriber::EnvFilter::new("warn,sluice_gateway=debug,sluice_runtime=debug,sluice::guest=debug");
        let subscriber =
            tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(|| Capture).finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// The captured log lines that mention `needle` (a correlation id, say).
pub fn log_lines(needle: &str) -> Vec<String> {
    let logs = LOGS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    String::from_utf8_lossy(&logs).lines().filter(|l| l.contains(needle)).map(str::to_string).collect()
}

/// A fresh correlation id to find a call's log lines by.
pub fn correlation() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("test-{}-{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// A package whose code is the `misbehave` test guest (the last path
/// segment of `/run/{action}` picks what it does), with these security
/// definitions, connection parameters, policies and `sluice.toml`.
pub fn code_package(
    builder: TestGatewayBuilder,
    name: &str,
    backend: SocketAddr,
    security: serde_json::Value,
    parameters: serde_json::Value,
    policies: serde_json::Value,
    settings: &str,
) -> TestGatewayBuilder {
    builder
        .package(name, shop_definition(backend, security), shop_properties(parameters, None, policies))
        .file(name, "script.wasm", guest("misbehave"))
        .file(name, "sluice.toml", settings)
}

/// [`code_package`] named `shop`.
pub fn code_shop(
    builder: TestGatewayBuilder,
    backend: SocketAddr,
    security: serde_json::Value,
    parameters: serde_json::Value,
    policies: serde_json::Value,
    settings: &str,
) -> TestGatewayBuilder {
    code_package(builder, "shop", backend, security, parameters, policies, settings)
}

/// [`code_shop`] without security, connection parameters or policies, and
/// its connection `c1`.
pub fn plain_code_shop(backend: SocketAddr, settings: &str) -> TestGatewayBuilder {
    let none = || serde_json::json!({});
    code_shop(TestGatewayBuilder::new(), backend, none(), none(), serde_json::json!([]), settings).connection(
        "shop",
        "c1",
        &[],
    )
}
