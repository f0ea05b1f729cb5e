//! The gateway's state: the runtime, the egress client, and the registry of
//! loaded connectors, which reloads when the packages directory changes.
//!
//! A call takes a snapshot (`Arc`) of its connector when it starts and keeps
//! it to the end, so a reload never fails or changes a call in flight.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use sluice_egress::{Allowlist, EgressClient, Environment, Policy};
use sluice_runtime::{Runtime, RuntimeConfig};

use crate::config::{EnvironmentConfig, GatewayConfig, RequestLimits};
use crate::connections::Connection;
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::oauth::key::{KeySource, SecretKey};
use crate::oauth::store::SqliteStore;
use crate::problem::GatewayError;
use crate::package::{self, Package};
use crate::policy::{ExprContext, PolicySet};

/// Settings only code can choose, never a settings file.
#[derive(Debug, Clone, Copy, Default)]
pub struct GatewayOptions {
    /// Let backend calls reach loopback addresses: for the offline demo and
    /// the tests, whose sample backends listen on 127.0.0.1.
    pub grant_loopback: bool,
}

/// A connector ready to serve: its package, policies, compiled code and
/// connections.
#[derive(Debug)]
pub struct LoadedConnector {
    /// The package as loaded.
    pub package: Package,
    /// Its compiled code, if it has `script.wasm`.
    pub code: Option<sluice_runtime::Connector>,
    /// Its connections by id; a refused one keeps the reason.
    pub connections: HashMap<String, Result<Arc<ConnectionState>, String>>,
}

/// A connection with the hosts its calls may go to.
#[derive(Debug)]
pub struct ConnectionState {
    /// The connection's values.
    pub connection: Connection,
    /// The hosts its calls may reach: the definition's, the connector's
    /// extra rules, and its `dynamichosturl` results for this connection.
    pub allowlist: Allowlist,
}

/// What the registry holds for one package folder.
#[derive(Debug, Clone)]
enum Entry {
    Ready(Arc<LoadedConnector>),
    Failed(String),
}

#[derive(Debug, Default)]
struct Registry {
    entries: HashMap<String, (Fingerprint, Entry)>,
}

/// What identifies a package folder's contents: names, sizes and times of its files.
type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

/// What a call finds when it looks a connector up.
#[derive(Debug)]
pub enum Lookup {
    /// Loaded and ready.
    Ready(Arc<LoadedConnector>),
    /// Present but failed to load.
    Failed(String),
    /// Not there.
    Missing,
}

/// The gateway.
#[derive(Debug)]
pub struct Gateway {
    runtime: Runtime,
    config: GatewayConfig,
    /// The environment's network; swapped whole when its settings change,
    /// and read by every call, so a change applies without reloading
    /// connectors.
    environment: ArcSwap<Environment>,
    grant_loopback: bool,
    client: EgressClient,
    registry: ArcSwap<Registry>,
    metrics: Metrics,
    reloading: tokio::sync::Mutex<()>,
    /// OAuth sign-in and tokens; the reason when it is not configured.
    oauth: Result<OAuth, String>,
}

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The runtime could not be built.
    #[error(transparent)]
    Runtime(#[from] sluice_runtime::RuntimeError),
    /// The environment's network settings are invalid.
    #[error("environment: {0}")]
    Environment(String),
    /// The packages directory cannot be read.
    #[error("cannot read the packages directory {path}: {source}")]
    Packages {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Gateway {
    /// Builds the gateway and loads every package.
    pub async fn start(config: GatewayConfig, options: GatewayOptions) -> Result<Arc<Self>, StartError> {
        let runtime = Runtime::new(RuntimeConfig {
            max_concurrent_calls: config.runtime.max_concurrent_calls,
            fuel_metering: config.runtime.fuel_metering,
            cache_dir: config.runtime.cache_dir.clone(),
            ..RuntimeConfig::default()
        })?;
        let environment = build_environment(&config.environment, options.grant_loopback)?;
        let client = EgressClient::builder().connect_timeout(config.requests.connect_timeout).build();
        let oauth = open_oauth(&config);
        if let Err(reason) = &oauth {
            tracing::info!(%reason, "OAuth sign-in unavailable");
        }
        if let Err(source) = std::fs::read_dir(&config.packages) {
            return Err(StartError::Packages { path: config.packages.clone(), source });
        }
        let gateway = Arc::new(Self {
            runtime,
            config,
            environment: ArcSwap::from_pointee(environment),
            grant_loopback: options.grant_loopback,
            client,
            registry: ArcSwap::from_pointee(Registry::default()),
            metrics: Metrics::default(),
            reloading: tokio::sync::Mutex::new(()),
            oauth,
        });
        gateway.reload().await;
        Ok(gateway)
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The limits on incoming requests.
    pub fn request_limits(&self) -> &RequestLimits {
        &self.config.requests
    }

    /// The OAuth service, or why it is unavailable.
    pub fn oauth(&self) -> Result<&OAuth, GatewayError> {
        self.oauth.as_ref().map_err(|reason| GatewayError::OAuthUnavailable(reason.clone()))
    }

    /// Every loaded package, for reports such as the redirect audit.
    pub fn packages(&self) -> Vec<Arc<LoadedConnector>> {
        let registry = self.registry.load();
        let mut packages: Vec<Arc<LoadedConnector>> = registry
            .entries
            .values()
            .filter_map(|(_, entry)| match entry {
                Entry::Ready(connector) => Some(Arc::clone(connector)),
                Entry::Failed(_) => None,
            })
            .collect();
        packages.sort_by(|a, b| a.package.id.cmp(&b.package.id));
        packages
    }

    /// A policy for the gateway's own calls (e.g. to a token endpoint)
    /// under the current environment.
    pub fn policy_for(&self, allowlist: Allowlist) -> Policy {
        Policy::new(allowlist, Environment::clone(&self.environment.load()))
    }

    /// The egress policy a call of `connection` runs under now.
    pub fn egress_policy(&self, connection: &ConnectionState) -> Policy {
        Policy::new(connection.allowlist.clone(), Environment::clone(&self.environment.load()))
    }

    /// Applies new environment network settings to every call that starts
    /// from now on; connectors need no reload.
    pub fn set_environment(&self, settings: &EnvironmentConfig) -> Result<(), StartError> {
        let environment = build_environment(settings, self.grant_loopback)?;
        tracing::info!(subnets = ?settings.subnets, public = settings.public, "environment network settings changed");
        self.environment.store(Arc::new(environment));
        Ok(())
    }

    /// The egress client every backend call goes through.
    pub fn client(&self) -> &EgressClient {
        &self.client
    }

    /// Looks a connector up in the current registry.
    pub fn connector(&self, id: &str) -> Lookup {
        match self.registry.load().entries.get(id) {
            Some((_, Entry::Ready(connector))) => Lookup::Ready(Arc::clone(connector)),
            Some((_, Entry::Failed(reason))) => Lookup::Failed(reason.clone()),
            None => Lookup::Missing,
        }
    }

    /// The ids of loaded connectors and the failures, for reports.
    pub fn status(&self) -> (Vec<String>, Vec<(String, String)>) {
        let registry = self.registry.load();
        let mut ready = Vec::new();
        let mut failed = Vec::new();
        for (id, (_, entry)) in &registry.entries {
            match entry {
                Entry::Ready(_) => ready.push(id.clone()),
                Entry::Failed(reason) => failed.push((id.clone(), reason.clone())),
            }
        }
        ready.sort();
        failed.sort();
        (ready, failed)
    }

    /// Rescans the packages directory: new and changed folders are loaded,
    /// removed ones dropped, unchanged ones kept as they are. Calls in flight
    /// keep the version they started with.
    pub async fn reload(self: &Arc<Self>) {
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.registry.load_full();
        let mut next = Registry::default();
        for dir in package_dirs(&self.config.packages) {
            let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            let fingerprint = fingerprint(&dir);
            if let Some((old, entry)) = current.entries.get(&id)
                && *old == fingerprint
            {
                next.entries.insert(id, (fingerprint, entry.clone()));
                continue;
            }
            let gateway = Arc::clone(self);
            let loading = dir.clone();
            // Compiling code is CPU work; keep it off the async workers.
            let entry = tokio::task::spawn_blocking(move || gateway.load_connector(&loading))
                .await
                .unwrap_or_else(|e| Entry::Failed(format!("loading panicked: {e}")));
            match &entry {
                Entry::Ready(_) => tracing::info!(connector = %id, folder = %dir.display(), "connector loaded"),
                Entry::Failed(reason) => tracing::error!(connector = %id, %reason, "connector failed to load"),
            }
            next.entries.insert(id, (fingerprint, entry));
        }
        for id in current.entries.keys().filter(|id| !next.entries.contains_key(*id)) {
            tracing::info!(connector = %id, "connector removed");
        }
        self.registry.store(Arc::new(next));
    }

    /// Loads one package folder with its code and connections.
    fn load_connector(&self, dir: &Path) -> Entry {
        let package = match package::load_package(dir) {
            Ok(package) => package,
            Err(error) => return Entry::Failed(error.to_string()),
        };
        for warning in &package.warnings {
            tracing::warn!(connector = %package.id, %warning, "package warning");
        }
        let code = match &package.script {
            Some(bytes) => match self.runtime.load(&package.id, bytes, package.settings.limits) {
                Ok(code) => Some(code),
                Err(error) => return Entry::Failed(format!("{}: script.wasm: {error}", dir.display())),
            },
            None => None,
        };
        let mut base_rules = match self.definition_rules(&package) {
            Ok(rules) => rules,
            Err(reason) => return Entry::Failed(format!("{}: {reason}", dir.display())),
        };
        match Allowlist::parse(&package.settings.egress.allow) {
            Ok(extra) => base_rules.extend(extra.rules().iter().cloned()),
            Err(error) => return Entry::Failed(format!("{}: sluice.toml: egress rule {error}", dir.display())),
        }
        let mut connections = HashMap::new();
        for config in self.config.connections.iter().filter(|c| c.connector == package.id) {
            let state = Connection::resolve(config, &package.properties.connection_parameters, |v| std::env::var(v).ok())
                .map_err(|e| e.to_string())
                .and_then(|connection| {
                    let mut allowlist = base_rules.clone();
                    allowlist.extend(self.dynamic_host_rules(&package.policies, &connection)?.rules().iter().cloned());
                    Ok(Arc::new(ConnectionState { connection, allowlist }))
                });
            if let Err(reason) = &state {
                tracing::error!(connector = %package.id, connection = %config.id, %reason, "connection refused");
            }
            connections.insert(config.id.clone(), state);
        }
        Entry::Ready(Arc::new(LoadedConnector { package, code, connections }))
    }

    /// The allowlist a definition implies: its host with each of its schemes.
    fn definition_rules(&self, package: &Package) -> Result<Allowlist, String> {
        let Some(host) = package.definition.host.as_deref() else { return Ok(Allowlist::default()) };
        let schemes: Vec<&str> = if package.definition.schemes.is_empty() {
            vec!["https"]
        } else {
            package.definition.schemes.iter().map(String::as_str).collect()
        };
        Allowlist::parse(schemes.iter().map(|scheme| format!("{scheme}://{host}")))
            .map_err(|e| format!("apiDefinition.swagger.json: host `{host}` is not a valid egress target: {e}"))
    }

    /// Rules for the hosts `dynamichosturl` policies send to for this connection.
    fn dynamic_host_rules(&self, policies: &PolicySet, connection: &Connection) -> Result<Allowlist, String> {
        let values = connection.values();
        let headers = http::HeaderMap::new();
        let ctx = ExprContext { connection_parameters: &values, headers: &headers, query: &[] };
        let mut rules = Allowlist::default();
        for url in policies.dynamic_host_urls(&ctx).map_err(|e| e.to_string())? {
            let parsed = url::Url::parse(&url).map_err(|e| format!("dynamic host `{url}`: {e}"))?;
            let host = parsed.host_str().unwrap_or_default();
            let rule = match parsed.port() {
                Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
                None => format!("{}://{host}", parsed.scheme()),
            };
            rules.extend(Allowlist::parse([rule]).map_err(|e| format!("dynamic host `{url}`: {e}"))?.rules().iter().cloned());
        }
        Ok(rules)
    }

    /// Watches the packages directory and reloads on changes, until the
    /// gateway is dropped.
    pub fn watch(self: &Arc<Self>) -> notify::Result<()> {
        use notify::{RecursiveMode, Watcher};
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
                let _ = tx.send(());
            }
        })?;
        watcher.watch(&self.config.packages, RecursiveMode::Recursive)?;
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let _watcher = watcher;
            while rx.recv().await.is_some() {
                // Let a burst of writes settle (a copy of several files).
                tokio::time::sleep(Duration::from_millis(200)).await;
                while rx.try_recv().is_ok() {}
                let Some(gateway) = weak.upgrade() else { break };
                gateway.reload().await;
            }
        });
        Ok(())
    }
}

/// Opens the credential store with the configured key.
fn open_oauth(config: &GatewayConfig) -> Result<OAuth, String> {
    let source = match &config.oauth.key_file {
        Some(file) => KeySource::File(file.clone()),
        None => KeySource::Env(config.oauth.key_env.clone()),
    };
    let key = SecretKey::load(&source).map_err(|e| e.to_string())?;
    let path = config.oauth.database.clone().unwrap_or_else(|| PathBuf::from(":memory:"));
    let store = SqliteStore::open(&path, key).map_err(|e| format!("{}: {e}", path.display()))?;
    let public_url = match &config.public_url {
        Some(url) => url.clone(),
        None => url::Url::parse(&format!("http://{}", config.listen)).map_err(|e| e.to_string())?,
    };
    Ok(OAuth::new(Arc::new(store), config.oauth.clone(), public_url))
}

fn build_environment(settings: &EnvironmentConfig, grant_loopback: bool) -> Result<Environment, StartError> {
    let mut subnets = Vec::new();
    for subnet in &settings.subnets {
        subnets.push(sluice_egress::parse_subnet(subnet).map_err(|e| StartError::Environment(e.to_string()))?);
    }
    let environment = Environment::new(subnets, settings.public);
    Ok(if grant_loopback { environment.with_test_loopback_grant() } else { environment })
}

/// Every folder under `root` that holds a definition.
fn package_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.retain(|dir| dir.join("apiDefinition.swagger.json").is_file());
    dirs.sort();
    dirs
}

fn fingerprint(dir: &Path) -> Fingerprint {
    let mut files: Fingerprint = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    meta.is_file().then(|| (e.file_name().to_string_lossy().into_owned(), meta.len(), meta.modified().ok()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
