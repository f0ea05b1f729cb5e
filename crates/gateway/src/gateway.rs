//! The gateway's parts, built once at start: the runtime, the environments
//! (each with its registry of connectors, network and OAuth), access, the
//! metrics, the last hour's activity and the request limits. Each part is
//! shared (`Arc`), so the gateway is cheap to clone, and a handler takes
//! only the parts it uses.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use sluice_egress::EgressClient;
use sluice_runtime::{Runtime, RuntimeConfig};

use crate::access::{Access, AccessError, DEFAULT_ENVIRONMENT, EnvironmentSeed};
use crate::activity::Activity;
use crate::catalog::Catalog;
use crate::config::{EnvironmentsError, GatewayConfig, RequestLimits};
use crate::environment::{Environment, NetworkSettings};
use crate::metrics::Metrics;
use crate::network::Network;
use crate::oauth::{OAuth, OAuthSettings, OAuthUnavailable};
use crate::registry::{Loader, Registry};
use crate::store::AccessStore as _;
use crate::store::Vault;
use crate::store::key::{KeySource, SecretKey};
use crate::store::sql::{PoolSettings, SqlStore};

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
    /// The environments do not fit together.
    #[error(transparent)]
    Environments(#[from] EnvironmentsError),
    /// A packages directory cannot be read.
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
    /// An environment's private root certificates do not load.
    #[error("environment `{environment}`: {source}")]
    PrivateRoots {
        /// The environment.
        environment: String,
        /// Why.
        #[source]
        source: sluice_egress::RootsError,
    },
    /// The store does not open.
    #[error("the gateway's database: {0}")]
    Store(#[source] crate::store::StoreError),
    /// The `[access]` section or the connections' owners are unusable.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Network settings stored through the API do not parse.
    #[error("environment `{environment}`: its stored network settings: {source}")]
    StoredNetwork {
        /// The environment.
        environment: String,
        /// Why.
        #[source]
        source: sluice_egress::SubnetError,
    },
    /// A published connector's folder cannot be made from the store.
    #[error("published connectors of environment `{environment}`: {source}")]
    Published {
        /// The environment.
        environment: String,
        /// Why.
        #[source]
        source: crate::catalog::CatalogError,
    },
}

impl StartError {
    /// Whether the gateway's database could not be reached: a start that
    /// may succeed when tried again, unlike broken settings.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StartError::Store(error)
            | StartError::Access(AccessError::Store(error))
            | StartError::Published { source: crate::catalog::CatalogError::Store(error), .. } => {
                error.is_unavailable()
            }
            _ => false,
        }
    }
}

/// The gateway. Cheap to clone: one reference count, which matters since
/// every request clones it several times (each middleware's state, the
/// handler's, the code's backend) on whichever core serves it.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

/// What a [`Gateway`] shares.
#[derive(Debug)]
struct Inner {
    /// Every environment by id, the default one included.
    environments: HashMap<String, Arc<Environment>>,
    default: Arc<Environment>,
    metrics: Arc<Metrics>,
    activity: Arc<Activity>,
    access: Arc<Access>,
    catalog: Arc<Catalog>,
    limits: RequestLimits,
    /// The host (and port) requests must name when `public_url` is set:
    /// as written, and with the scheme's default port spelt out.
    public_host: Option<(Arc<str>, Arc<str>)>,
    public_url: Option<url::Url>,
    /// Which replica this is, among the gateways on one database.
    replica: Arc<str>,
}

/// What one environment is made from: the default one from the top-level
/// settings, the others from `[[environments]]`.
struct Plan<'a> {
    id: &'a str,
    display_name: String,
    packages: &'a std::path::Path,
    network: &'a sluice_egress::Environment,
    members: &'a [crate::config::MemberConfig],
    owners: &'a indexmap::IndexMap<String, String>,
    connections: Vec<crate::config::ConnectionConfig>,
}

impl Gateway {
    /// Builds the gateway and loads every environment's packages. A broken
    /// `[oauth]` section fails here, with the reason.
    pub async fn start(config: GatewayConfig, options: GatewayOptions) -> Result<Self, StartError> {
        config.check_environments()?;
        let runtime = Runtime::new(RuntimeConfig {
            max_concurrent_calls: config.runtime.max_concurrent_calls,
            max_calls_per_connector: config.runtime.max_calls_per_connector,
            max_total_memory_bytes: config.runtime.max_total_memory_bytes,
            fuel_metering: config.runtime.fuel_metering,
            cache_dir: config.runtime.cache_dir.clone(),
            ..RuntimeConfig::default()
        })?;
        let mut client = EgressClient::builder().connect_timeout(config.requests.connect_timeout);
        if let Some(resolver) = options.resolver {
            client = client.resolver(resolver);
        }
        let client = client.build();
        let database = config
            .oauth
            .as_ref()
            .and_then(|o| o.database.clone())
            .or_else(|| config.state_dir.as_ref().map(|dir| dir.join("sluice-credentials.db")));
        let pool = PoolSettings {
            max_connections: config.store.max_connections,
            acquire_timeout: config.store.acquire_timeout,
        };
        let store = Arc::new(
            match (config.store.effective_url(), &database) {
                (Some(url), _) => SqlStore::connect(&url, &pool).await,
                (None, Some(path)) => SqlStore::open(path).await,
                (None, None) => SqlStore::in_memory().await,
            }
            .map_err(StartError::Store)?,
        );
        let (oauth_key, key) = match load_key(&config) {
            Ok(key) => (Ok(key.clone()), Some(key)),
            Err(reason) => (Err(reason), None),
        };
        let oauth = match oauth_parts(&config, oauth_key) {
            Ok(parts) => Ok(parts),
            Err(reason) if config.oauth.is_some() => return Err(StartError::OAuth(reason)),
            Err(reason) => {
                tracing::info!(%reason, "OAuth sign-in unavailable");
                Err(Arc::new(reason))
            }
        };
        let replica: Arc<str> = config.telemetry.replica_id().into();
        let metrics = Arc::new(Metrics::of_replica(&replica));

        let mut plans = vec![Plan {
            id: DEFAULT_ENVIRONMENT,
            display_name: "Default".into(),
            packages: &config.packages,
            network: &config.environment,
            members: &config.access.members,
            owners: &config.access.owners,
            connections: config.connections_of(DEFAULT_ENVIRONMENT).cloned().collect(),
        }];
        for environment in &config.environments {
            plans.push(Plan {
                id: &environment.id,
                display_name: environment.name.clone().unwrap_or_else(|| environment.id.clone()),
                packages: &environment.packages,
                network: &environment.network,
                members: &environment.members,
                owners: &environment.owners,
                connections: config.connections_of(&environment.id).cloned().collect(),
            });
        }
        let mut environments = HashMap::new();
        let mut installed = HashMap::new();
        for plan in &plans {
            if let Err(source) = std::fs::read_dir(plan.packages) {
                return Err(StartError::Packages { path: plan.packages.to_path_buf(), source });
            }
            let settings = plan
                .network
                .clone()
                .load_private_roots()
                .map_err(|source| StartError::PrivateRoots { environment: plan.id.to_string(), source })?;
            // Settings its admins set through the API win over the file's.
            let from_api = store.environment_network(plan.id).await.map_err(StartError::Store)?;
            let from_api = match from_api.as_deref().map(serde_json::from_str::<NetworkSettings>) {
                None => None,
                Some(Ok(network)) => Some(network),
                Some(Err(error)) => {
                    tracing::error!(environment = plan.id, %error, "stored network settings unreadable; the settings file's apply");
                    None
                }
            };
            let settings = match &from_api {
                Some(network) => network
                    .apply_to(settings)
                    .map_err(|source| StartError::StoredNetwork { environment: plan.id.to_string(), source })?,
                None => settings,
            };
            let network = Arc::new(Network::new(client.clone(), settings, options.grant_loopback));
            let oauth = match &oauth {
                Ok((settings, key, public_url)) => Ok(OAuth::new(
                    Vault::new(Arc::clone(&store) as _, key.clone(), plan.id),
                    Arc::clone(&network),
                    settings.clone(),
                    public_url.clone(),
                    Environment::prefix_of(plan.id),
                )),
                Err(reason) => Err(Arc::clone(reason)),
            };
            let mut made = crate::catalog::Installed::new();
            Catalog::materialize(&*store, plan.id, plan.packages, &mut made)
                .await
                .map_err(|source| StartError::Published { environment: plan.id.to_string(), source })?;
            installed.insert(plan.id.to_string(), made);
            let loader = Loader::new(runtime.clone(), plan.connections.clone());
            let registry = Arc::new(Registry::new(plan.id, plan.packages.to_path_buf(), loader, Arc::clone(&metrics)));
            registry.reload().await;
            let environment =
                Environment::new(plan.id, plan.display_name.clone(), registry, Arc::clone(&network), oauth);
            if from_api.is_some() {
                environment.set_network_from_api(network.environment().as_ref().clone());
            }
            environments.insert(plan.id.to_string(), Arc::new(environment));
        }
        let default = Arc::clone(&environments[DEFAULT_ENVIRONMENT]);
        let seeds: Vec<EnvironmentSeed<'_>> = plans
            .iter()
            .map(|plan| EnvironmentSeed {
                id: plan.id,
                display_name: &plan.display_name,
                registry: environments[plan.id].registry(),
                members: plan.members,
                owners: plan.owners,
                connections: &plan.connections,
            })
            .collect();
        // Issuers' keys are fetched under the default environment's network.
        let access = Arc::new(
            Access::open(store.clone(), Arc::clone(default.network()), &config.access.issuers, &seeds, key).await?,
        );
        let catalog = Arc::new(Catalog::new(
            store.clone(),
            Arc::clone(&access),
            config.requests.max_package_expanded_bytes,
            installed,
        ));
        let public_host = config.public_url.as_ref().and_then(authorities);
        let gateway = Self {
            inner: Arc::new(Inner {
                environments,
                default,
                metrics,
                activity: Arc::default(),
                access,
                catalog,
                limits: config.requests,
                public_host,
                public_url: config.public_url.clone(),
                replica,
            }),
        };
        crate::replicas::follow(gateway.clone(), store, config.store.resync_interval);
        Ok(gateway)
    }

    /// Which replica this is: on every span and metric series.
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// The environment with this id, if there is one.
    pub fn environment(&self, id: &str) -> Option<&Arc<Environment>> {
        self.inner.environments.get(id)
    }

    /// The default environment, which a single-environment settings file is.
    pub fn default_environment(&self) -> &Arc<Environment> {
        &self.inner.default
    }

    /// Every environment, the default one first, then by id.
    pub fn environments(&self) -> Vec<&Arc<Environment>> {
        let mut all: Vec<&Arc<Environment>> = self.inner.environments.values().collect();
        all.sort_by_key(|e| (e.id() != DEFAULT_ENVIRONMENT, e.id().to_string()));
        all
    }

    /// Publishing, updating, downloading and deleting connectors.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.inner.catalog
    }

    /// Who may do what: authentication, the snapshot, shares.
    pub fn access(&self) -> &Arc<Access> {
        &self.inner.access
    }

    /// The `host[:port]` requests must carry in `Host` when `public_url`
    /// is set (the port only when it is not the scheme's default).
    pub fn public_host(&self) -> Option<&str> {
        self.inner.public_host.as_ref().map(|(host, _)| &**host)
    }

    /// The configured `public_url`, if any.
    pub fn public_url(&self) -> Option<&url::Url> {
        self.inner.public_url.as_ref()
    }

    /// Whether a request's `Host` names this gateway: always when no
    /// `public_url` is set, else only `public_url`'s host (and port).
    pub fn serves_host(&self, host: &str) -> bool {
        match &self.inner.public_host {
            None => true,
            Some((short, full)) => host.eq_ignore_ascii_case(short) || host.eq_ignore_ascii_case(full),
        }
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The last hour's calls of each connector, as this gateway answered
    /// them.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.inner.activity
    }

    /// The limits on incoming requests.
    pub fn request_limits(&self) -> &RequestLimits {
        &self.inner.limits
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

/// What every environment's OAuth service is made from: the settings with
/// their secrets resolved, the key, and the public URL redirect URIs start
/// with; or why OAuth is unavailable.
fn oauth_parts(
    config: &GatewayConfig,
    key: Result<SecretKey, OAuthUnavailable>,
) -> Result<(OAuthSettings, SecretKey, url::Url), OAuthUnavailable> {
    let defaults = crate::config::OAuthConfig::default();
    let oauth = config.oauth.as_ref().unwrap_or(&defaults);
    let key = key?;
    let settings = OAuthSettings::resolve(oauth)?;
    let public_url = match &config.public_url {
        Some(url) => url.clone(),
        None => url::Url::parse(&format!("http://{}", config.listen)).map_err(OAuthUnavailable::PublicUrl)?,
    };
    Ok((settings, key, public_url))
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
