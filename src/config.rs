//! The gateway's settings file (TOML): where to listen, where the packages
//! are, the environment's network, request limits, and the connections.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! packages = "connectors"          # relative to this file
//!
//! [environment]                    # the virtual network
//! subnets = ["10.1.0.0/16"]        # linked subnets
//! public = true                    # public egress (a NAT gateway)
//!
//! [requests]
//! max_body_bytes = 8388608
//! max_header_bytes = 32768
//!
//! [[connections]]
//! id = "main"
//! connector = "Calendly"
//! [connections.parameters]
//! api_key = { env = "CALENDLY_API_KEY" }   # secret from the environment
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

/// The whole settings file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on. Default: `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory of connector packages, one folder each. Relative paths are
    /// taken from the settings file's directory.
    pub packages: PathBuf,
    /// The environment's network settings.
    #[serde(default)]
    pub environment: EnvironmentConfig,
    /// Limits on incoming requests.
    #[serde(default)]
    pub requests: RequestLimits,
    /// Runtime settings.
    #[serde(default)]
    pub runtime: RuntimeSettings,
    /// The connections clients may call.
    #[serde(default)]
    pub connections: Vec<ConnectionConfig>,
    /// The gateway's public base URL, which OAuth redirect URIs start with.
    /// Default: `http://` and the listen address.
    #[serde(default)]
    pub public_url: Option<url::Url>,
    /// OAuth 2.0 sign-in and credential storage.
    #[serde(default)]
    pub oauth: OAuthConfig,
}

/// OAuth 2.0 sign-in, token storage and the global-redirect cut-off.
///
/// ```toml
/// [oauth]
/// database = "sluice-credentials.db"   # default, beside the settings file
/// key_env = "SLUICE_SECRET_KEY"          # 32 bytes, base64 (or key_file)
/// global_redirect_cutoff = "2026-02-17"  # no new sign-ins on the global redirect URI from then
/// refresh_margin = "60s"
/// [oauth.clients.Industrial_App_Store]
/// client_secret = { env = "IAS_CLIENT_SECRET" }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// The SQLite database of tokens; relative to the settings file.
    /// Default: `sluice-credentials.db` beside the settings file; `None` when
    /// the gateway is built in code, meaning an in-memory database.
    pub database: Option<PathBuf>,
    /// The environment variable holding the key secrets are sealed with.
    /// Default: `SLUICE_SECRET_KEY`.
    pub key_env: String,
    /// A file holding the key instead; relative to the settings file.
    pub key_file: Option<PathBuf>,
    /// From this date on, connectors still on the global redirect URI refuse
    /// new sign-ins. Default: none.
    pub global_redirect_cutoff: Option<chrono::NaiveDate>,
    /// Tokens are refreshed this long before they expire. Default: 60 s.
    #[serde(with = "humantime_serde")]
    pub refresh_margin: std::time::Duration,
    /// Client settings per connector.
    pub clients: IndexMap<String, OAuthClientConfig>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            database: None,
            key_env: "SLUICE_SECRET_KEY".into(),
            key_file: None,
            global_redirect_cutoff: None,
            refresh_margin: std::time::Duration::from_secs(60),
            clients: IndexMap::new(),
        }
    }
}

/// A connector's OAuth client registration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientConfig {
    /// Overrides `clientId` of `apiProperties.json`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client secret, if the provider wants one.
    #[serde(default)]
    pub client_secret: Option<ValueSource>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// The environment's virtual network: which private subnets are linked and
/// whether public internet is reachable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Linked subnets, as CIDRs (IPv4 or IPv6). Default: none.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// Whether public addresses are reachable. Default: `true`.
    #[serde(default = "yes")]
    pub public: bool,
}

impl Default for EnvironmentConfig {
    fn default() -> Self {
        Self { subnets: Vec::new(), public: true }
    }
}

fn yes() -> bool {
    true
}

/// Limits on what clients send.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestLimits {
    /// Largest request body, in bytes; more is answered 413. Default: 8 MiB.
    pub max_body_bytes: usize,
    /// Largest total of header names and values, in bytes; more is answered
    /// 431. Default: 32 KiB.
    pub max_header_bytes: usize,
    /// Backend connect timeout. Default: 5 s.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: std::time::Duration,
    /// Total backend call timeout for operations without code (code uses its
    /// deadline). Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub backend_timeout: std::time::Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 << 20,
            max_header_bytes: 32 << 10,
            connect_timeout: std::time::Duration::from_secs(5),
            backend_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Runtime settings the gateway passes to `sluice-runtime`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Calls of custom code that may run at once. Default: 1000.
    pub max_concurrent_calls: u32,
    /// Meter fuel. Default: true.
    pub fuel_metering: bool,
    /// Directory for compiled code; relative to the settings file. Default: none.
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self { max_concurrent_calls: 1000, fuel_metering: true, cache_dir: None }
    }
}

/// One connection: a connector's parameter values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// The connection id used in URLs.
    pub id: String,
    /// The connector (package folder name).
    pub connector: String,
    /// Parameter values by name.
    #[serde(default)]
    pub parameters: IndexMap<String, ValueSource>,
}

/// Where a parameter value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ValueSource {
    /// The value itself.
    Literal(String),
    /// An environment variable holding the value (for secrets).
    Env {
        /// The variable's name.
        env: String,
    },
}

/// The settings file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read settings file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("settings file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
}

impl GatewayConfig {
    /// Reads and parses a settings file; relative paths in it are resolved
    /// against its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let mut config: GatewayConfig = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.packages = base.join(&config.packages);
        if let Some(dir) = &config.runtime.cache_dir {
            config.runtime.cache_dir = Some(base.join(dir));
        }
        let database = config.oauth.database.take().unwrap_or_else(|| PathBuf::from("sluice-credentials.db"));
        config.oauth.database = Some(base.join(database));
        if let Some(file) = &config.oauth.key_file {
            config.oauth.key_file = Some(base.join(file));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_with_env_and_literal_values() {
        let config: GatewayConfig = toml::from_str(
            r#"
            packages = "connectors"
            [[connections]]
            id = "main"
            connector = "Calendly"
            [connections.parameters]
            api_key = { env = "CALENDLY_KEY" }
            region = "eu"
            "#,
        )
        .unwrap();
        assert_eq!(config.listen, default_listen());
        assert!(config.environment.public);
        let params = &config.connections[0].parameters;
        assert!(matches!(&params["api_key"], ValueSource::Env { env } if env == "CALENDLY_KEY"));
        assert!(matches!(&params["region"], ValueSource::Literal(v) if v == "eu"));
    }

    #[test]
    fn unknown_setting_is_rejected_with_its_name() {
        let error = toml::from_str::<GatewayConfig>("packages = \"x\"\nlisten_on = \"1\"").unwrap_err();
        assert!(error.to_string().contains("listen_on"), "{error}");
    }
}
