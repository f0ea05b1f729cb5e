//! The gateway's parts, built once at start: the runtime, the network, the
//! registry of connectors, OAuth, the metrics and the request limits. Each
//! part is shared (`Arc`), so the gateway is cheap to clone, and a handler
//! takes only the parts it uses (axum's `FromRef`).

use std::path::PathBuf;
use std::sync::Arc;

use sluice_egress::{EgressClient, Environment};
use sluice_runtime::{Runtime, RuntimeConfig};

use crate::access::{Access, AccessError};
use crate::config::{GatewayConfig, RequestLimits};
use crate::metrics::Metrics;
use crate::network::Network;
use crate::oauth::{OAuth, OAuthError, OAuthSettings, OAuthUnavailable};
use crate::registry::{Loader, Registry};
use crate::store::Vault;
use crate::store::key::{KeySource, SecretKey};
use crate::store::sqlite::SqliteStore;

/// Settings only code can choose, never a settings file.
#[derive(Debug, Clone, Default)]
pub struct GatewayOptions {
    /// Let backend calls reach loopback addresses: for the offline demo and
    /// the tests, whose sample backends listen on 127.0.0.1.
    pub grant_loopback: bool,
    /// Resolve backend host names with this instead of the system resolver:
    /// pinned names, or none at all (`sluice connectors check --call` calls
    /// every operation without a lookup leaving the machine).
    pub resolver: Option<Arc<dyn sluice_egress::Resolver>>,
}

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The runtime could not be built.
    #[error(transparent)]
    Runtime(#[from] sluice_runtime::RuntimeError),
    /// The packages directory cannot be read.
    #[error("cannot read the packages directory {path}")]
    Packages {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The `[oauth]` section is broken.
    #[error("[oauth]: {0}")]
    OAuth(#[source] OAuthUnavailable),
    /// The environment's private root certificates do not load.
    #[error("[environment]: {0}")]
    PrivateRoots(#[from] sluice_egress::RootsError),
    /// The store does not open.
    #[error("the gateway's database: {0}")]
    Store(#[source] crate::store::StoreError),
    /// The `[access]` section or the connections' owners are unusable.
    #[error(transparent)]
    Access(#[from] AccessError),
}

/// The gateway.
#[derive(Debug, Clone)]
pub struct Gateway {
    registry: Arc<Registry>,
    network: Arc<Network>,
    metrics: Arc<Metrics>,
    /// OAuth sign-in and tokens; the reason when it is not available.
    oauth: Arc<Result<OAuth, Arc<OAuthUnavailable>>>,
    access: Arc<Access>,
    limits: RequestLimits,
    /// The host (and port) requests must name when `public_url` is set:
    /// as written, and with the scheme's default port spelt out.
    public_host: Option<(Arc<str>, Arc<str>)>,
    public_url: Option<url::Url>,
}

impl Gateway {
    /// Builds the gateway and loads every package. A broken `[oauth]`
    /// section fails here, with the reason.
    pub async fn start(config: GatewayConfig, options: GatewayOptions) -> Result<Self, StartError> {
        let runtime = Runtime::new(RuntimeConfig {
            max_concurrent_calls: config.runtime.max_concurrent_calls,
            max_calls_per_connector: config.runtime.max_calls_per_connector,
            max_total_memory_bytes: config.runtime.max_total_memory_bytes,
            fuel_metering: config.runtime.fuel_metering,
            cache_dir: config.runtime.cache_dir.clone(),
            ..RuntimeConfig::default()
        })?;
        if let Err(source) = std::fs::read_dir(&config.packages) {
            return Err(StartError::Packages { path: config.packages.clone(), source });
        }
        let mut client = EgressClient::builder().connect_timeout(config.requests.connect_timeout);
        if let Some(resolver) = options.resolver {
            client = client.resolver(resolver);
        }
        let client = client.build();
        let environment = config.environment.clone().load_private_roots()?;
        let network = Arc::new(Network::new(client, environment, options.grant_loopback));
        let database = config
            .oauth
            .as_ref()
            .and_then(|o| o.database.clone())
            .or_else(|| config.state_dir.as_ref().map(|dir| dir.join("sluice-credentials.db")));
        let store = Arc::new(
            match &database {
                Some(path) => SqliteStore::open(path).await,
                None => SqliteStore::in_memory().await,
            }
            .map_err(StartError::Store)?,
        );
        let (oauth_key, key) = match load_key(&config) {
            Ok(key) => (Ok(key.clone()), Some(key)),
            Err(reason) => (Err(reason), None),
        };
        let oauth = match open_oauth(&config, &network, Arc::clone(&store), oauth_key) {
            Ok(oauth) => Ok(oauth),
            Err(reason) if config.oauth.is_some() => return Err(StartError::OAuth(reason)),
            Err(reason) => {
                tracing::info!(%reason, "OAuth sign-in unavailable");
                Err(Arc::new(reason))
            }
        };
        let metrics = Arc::new(Metrics::default());
        let loader = Loader::new(runtime, config.connections.clone());
        let registry = Arc::new(Registry::new(config.packages.clone(), loader, Arc::clone(&metrics)));
        registry.reload().await;
        let access =
            Access::open(store, Arc::clone(&registry), Arc::clone(&network), &config.access, &config.connections, key)
                .await?;
        let public_host = config.public_url.as_ref().and_then(authorities);
        Ok(Self {
            registry,
            network,
            metrics,
            oauth: Arc::new(oauth),
            access: Arc::new(access),
            limits: config.requests,
            public_host,
            public_url: config.public_url.clone(),
        })
    }

    /// Who may do what: authentication, the snapshot, shares.
    pub fn access(&self) -> &Arc<Access> {
        &self.access
    }

    /// The `host[:port]` requests must carry in `Host` when `public_url`
    /// is set (the port only when it is not the scheme's default).
    pub fn public_host(&self) -> Option<&str> {
        self.public_host.as_ref().map(|(host, _)| &**host)
    }

    /// The configured `public_url`, if any.
    pub fn public_url(&self) -> Option<&url::Url> {
        self.public_url.as_ref()
    }

    /// Whether a request's `Host` names this gateway: always when no
    /// `public_url` is set, else only `public_url`'s host (and port).
    pub fn serves_host(&self, host: &str) -> bool {
        match &self.public_host {
            None => true,
            Some((short, full)) => host.eq_ignore_ascii_case(short) || host.eq_ignore_ascii_case(full),
        }
    }

    /// The registry of connectors.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The egress client and the environment's network.
    pub fn network(&self) -> &Arc<Network> {
        &self.network
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The limits on incoming requests.
    pub fn request_limits(&self) -> &RequestLimits {
        &self.limits
    }

    /// The OAuth service, or why it is unavailable.
    pub fn oauth(&self) -> Result<&OAuth, OAuthError> {
        self.oauth.as_ref().as_ref().map_err(|reason| OAuthError::Unavailable(Arc::clone(reason)))
    }

    /// Applies new environment network settings (with their private root
    /// certificates, loaded now) to every call that starts from now on;
    /// connectors need no reload. Settings whose roots do not load change
    /// nothing.
    pub fn set_environment(&self, environment: Environment) -> Result<(), sluice_egress::RootsError> {
        let environment = environment.load_private_roots()?;
        tracing::info!(subnets = ?environment.subnets(), public = environment.public_allowed(), private_roots = environment.private_roots().len(), "environment network settings changed");
        self.network.set_environment(environment);
        Ok(())
    }
}

/// The key secrets at rest are sealed with (OAuth tokens, connection
/// values): `[oauth]`'s `key_file` or `key_env`, else `SLUICE_SECRET_KEY`.
fn load_key(config: &GatewayConfig) -> Result<SecretKey, OAuthUnavailable> {
    let defaults = crate::config::OAuthConfig::default();
    let oauth = config.oauth.as_ref().unwrap_or(&defaults);
    let source = match &oauth.key_file {
        Some(file) => KeySource::File(file.clone()),
        None => KeySource::Env(oauth.key_env.clone()),
    };
    match SecretKey::load(&source) {
        Ok(key) => Ok(key),
        Err(crate::store::key::KeyError::MissingEnv(_)) if config.oauth.is_none() => Err(OAuthUnavailable::NoKey),
        Err(error) => Err(error.into()),
    }
}

/// The OAuth service over the store, with the key when there is one.
fn open_oauth(
    config: &GatewayConfig,
    network: &Arc<Network>,
    store: Arc<SqliteStore>,
    key: Result<SecretKey, OAuthUnavailable>,
) -> Result<OAuth, OAuthUnavailable> {
    let defaults = crate::config::OAuthConfig::default();
    let oauth = config.oauth.as_ref().unwrap_or(&defaults);
    let key = key?;
    let settings = OAuthSettings::resolve(oauth)?;
    let public_url = match &config.public_url {
        Some(url) => url.clone(),
        None => url::Url::parse(&format!("http://{}", config.listen)).map_err(OAuthUnavailable::PublicUrl)?,
    };
    Ok(OAuth::new(Vault::new(store, key), Arc::clone(network), settings, public_url))
}

/// A URL's `host[:port]` as a `Host` header names it (the port only when
/// not the scheme's default), and with the port always.
fn authorities(url: &url::Url) -> Option<(Arc<str>, Arc<str>)> {
    let host = url.host_str()?.to_ascii_lowercase();
    let port = url.port_or_known_default()?;
    let full: Arc<str> = format!("{host}:{port}").into();
    let short = match url.port() {
        Some(_) => Arc::clone(&full),
        None => host.into(),
    };
    Some((short, full))
}
