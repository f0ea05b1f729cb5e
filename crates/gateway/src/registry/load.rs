//! Loading one package folder into a [`LoadedConnector`]: the package, its
//! compiled code, and its connections with the hosts each may reach.
use std::path::Path;
use std::sync::Arc;

use sluice_egress::{AllowRule, Allowlist, RuleError};
use sluice_package::{Connection, ConnectionError, Package, PackageError};
use sluice_policy::ExprContext;
use sluice_runtime::{LoadOptions, Runtime};

use crate::FastMap;
use crate::config::{ConnectionConfig, MissingEnv};

/// A connector ready to serve: its package, compiled code and connections.
#[derive(Debug)]
pub struct LoadedConnector {
    /// The package as loaded.
    pub package: Arc<Package>,
    /// Its compiled code, if it has `script.wasm`.
    pub code: Option<sluice_runtime::Connector>,
    /// Its connections by id; a refused one keeps the reason.
    pub connections: FastMap<String, Result<Arc<ConnectionState>, Arc<ConnectionRefused>>>,
}

/// A connection with the hosts its calls may go to.
#[derive(Debug)]
pub struct ConnectionState {
    /// The connection's values, shared with the credentials of its code's
    /// calls.
    pub connection: Arc<Connection>,
    /// The hosts its calls may reach: the package's, and its
    /// `dynamichosturl` results for this connection.
    pub allowlist: Allowlist,
}

/// A package folder did not load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadFailure {
    /// The package's files are unusable.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// Its code does not load.
    #[error("{}: script.wasm: {source}", folder.display())]
    Code {
        /// The package folder.
        folder: std::path::PathBuf,
        /// Why.
        #[source]
        source: sluice_runtime::LoadError,
    },
    /// Loading panicked (a bug); the registry keeps serving the others.
    #[error("loading panicked")]
    Panicked(#[source] tokio::task::JoinError),
}

impl LoadFailure {
    /// The failure for a client's error answer: what is wrong, without the
    /// folder's path on the gateway's machine.
    pub fn public(&self) -> String {
        match self {
            LoadFailure::Package(error) => format!("{}: {}", error.file, error.reason),
            LoadFailure::Code { source, .. } => format!("script.wasm: {source}"),
            LoadFailure::Panicked(_) => "loading failed; the operator's log says why".into(),
        }
    }
}

/// A connection of the settings file was refused at load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionRefused {
    /// A value reads an environment variable that is not set.
    #[error("connection `{connection}`: parameter `{parameter}` reads environment variable `{}`, which is not set", source.variable)]
    Env {
        /// The connection.
        connection: String,
        /// The parameter.
        parameter: String,
        /// The variable.
        #[source]
        source: MissingEnv,
    },
    /// The values do not fit the connector's parameters.
    #[error(transparent)]
    Parameters(#[from] ConnectionError),
    /// A connection made through the gateway whose stored values do not open.
    #[error("connection `{connection}` cannot be read: {reason}")]
    Unreadable {
        /// The connection.
        connection: String,
        /// Why.
        reason: String,
    },
    /// A `dynamichosturl` policy does not evaluate for this connection; the
    /// message is redacted of the connection's secrets.
    #[error("connection `{connection}`: {message}")]
    DynamicHost {
        /// The connection.
        connection: String,
        /// What the policy said, redacted.
        message: String,
    },
    /// A `dynamichosturl` policy gives a URL that cannot be an egress
    /// target; URL and reason are redacted of the connection's secrets.
    #[error("connection `{connection}`: dynamic host `{url}`: {reason}")]
    DynamicHostUrl {
        /// The connection.
        connection: String,
        /// The URL the policy gave, redacted.
        url: String,
        /// Why it is unusable, redacted.
        reason: String,
    },
}

impl ConnectionRefused {
    /// The refusal for a client's error answer: without the names of the
    /// gateway's environment variables.
    pub fn public(&self) -> String {
        match self {
            ConnectionRefused::Env { connection, parameter, .. } => {
                format!("connection `{connection}`: parameter `{parameter}` has no value where the gateway runs")
            }
            other => other.to_string(),
        }
    }
}

/// Why a dynamic host URL is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DynamicHostProblem {
    /// It does not parse.
    #[error(transparent)]
    Parse(#[from] url::ParseError),
    /// It is not a rule.
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// What loading needs: the runtime that compiles code, and the settings
/// file's connections.
#[derive(Debug)]
pub struct Loader {
    runtime: Runtime,
    connections: Vec<ConnectionConfig>,
}

impl Loader {
    /// A loader compiling with `runtime`, for these connections.
    pub fn new(runtime: Runtime, connections: Vec<ConnectionConfig>) -> Self {
        Self { runtime, connections }
    }

    /// Loads one package folder with its code and connections.
    pub fn load(&self, dir: &Path) -> Result<LoadedConnector, LoadFailure> {
        let package = sluice_package::load_package(dir)?;
        for warning in &package.warnings {
            tracing::warn!(connector = %package.id, %warning, "package warning");
        }
        let code = match &package.script {
            Some(bytes) => Some(
                self.runtime
                    .load_with(&package.id, bytes, package.settings.limits, code_options(&package))
                    .map_err(|source| LoadFailure::Code { folder: dir.to_path_buf(), source })?,
            ),
            None => None,
        };
        let mut connections = FastMap::default();
        for config in self.connections.iter().filter(|c| c.connector == package.id) {
            let state = settings_connection(&package, config).map(Arc::new).map_err(Arc::new);
            if let Err(reason) = &state {
                tracing::error!(connector = %package.id, connection = %config.id, %reason, "connection refused");
            }
            connections.insert(config.id.clone(), state);
        }
        Ok(LoadedConnector { package: Arc::new(package), code, connections })
    }
}

/// What the code may use besides its bytes: the package's assets.
pub(crate) fn code_options(package: &sluice_package::Package) -> LoadOptions {
    package.assets.as_ref().map(LoadOptions::with_assets).unwrap_or_default()
}

/// A connection of the settings file, resolved and checked, with the hosts
/// it may reach.
fn settings_connection(package: &Package, config: &ConnectionConfig) -> Result<ConnectionState, ConnectionRefused> {
    let mut values = indexmap::IndexMap::new();
    for (name, source) in &config.parameters {
        let value = source.resolve().map_err(|source| ConnectionRefused::Env {
            connection: config.id.clone(),
            parameter: name.clone(),
            source,
        })?;
        values.insert(name.clone(), value);
    }
    connection_state(package, &config.id, config.parameter_set.as_deref(), values)
}

/// A connection of `package` that chose parameter set `set` (`None` for a
/// connector without sets) with these values, checked against that set's
/// parameters, with the hosts it may reach: the package's, and what its
/// `dynamichosturl` policies give for these values.
pub fn connection_state(
    package: &Package,
    id: &str,
    set: Option<&str>,
    values: indexmap::IndexMap<String, sluice_package::Secret>,
) -> Result<ConnectionState, ConnectionRefused> {
    let connection = Connection::with_set(id, &package.id, &package.properties, set, values)?;
    let mut allowlist = package.allowlist.clone();
    allowlist.extend(dynamic_host_rules(package, &connection)?.rules().iter().cloned());
    Ok(ConnectionState { connection: Arc::new(connection), allowlist })
}

/// Rules for the hosts `dynamichosturl` policies send to for this connection.
/// What a refusal says is redacted of the connection's secrets: it reaches
/// the log and the answers of calls through the connection.
fn dynamic_host_rules(package: &Package, connection: &Connection) -> Result<Allowlist, ConnectionRefused> {
    let headers = http::HeaderMap::new();
    let ctx = ExprContext { connection_parameters: connection, headers: &headers, query: &[], gateway: None };
    let secrets = sluice_package::credentials::CallSecrets::new(connection, None);
    let urls = package.policies.dynamic_host_urls(&ctx).map_err(|source| ConnectionRefused::DynamicHost {
        connection: connection.id.clone(),
        message: secrets.redact(&source.to_string()),
    })?;
    let mut rules = Allowlist::default();
    for url in urls {
        let refused = |reason: DynamicHostProblem| ConnectionRefused::DynamicHostUrl {
            connection: connection.id.clone(),
            url: secrets.redact(&url),
            reason: secrets.redact(&reason.to_string()),
        };
        let parsed = url::Url::parse(&url).map_err(|e| refused(e.into()))?;
        rules.push(AllowRule::for_url(&parsed).map_err(|e| refused(e.into()))?);
    }
    Ok(rules)
}
