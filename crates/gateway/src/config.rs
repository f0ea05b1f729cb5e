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
//! private_roots = ["internal-ca.pem"]  # trusted for TLS into the linked subnets
//!
//! [requests]
//! max_body_bytes = 8388608
//! max_header_bytes = 32768
//!
//! [access]                         # who may call (every route but /healthz)
//! members = [{ principal = "entra:0c5b…", role = "admin" }]
//! owners = { Calendly = "entra:0c5b…" }   # the packages folder's connectors
//! [[access.issuers]]               # OpenID Connect bearer tokens
//! name = "entra"
//! issuer = "https://login.microsoftonline.com/{tenant}/v2.0"
//! audience = ["api://sluice"]
//!
//! [[connections]]
//! id = "main"
//! connector = "Calendly"
//! owner = "entra:0c5b…"            # default: the environment's admins
//! # parameter_set = "apiKey"       # with connectionParameterSets: the way to connect
//! [connections.parameters]
//! api_key = { env = "CALENDLY_API_KEY" }   # secret from the environment
//!
//! [[environments]]                 # beside the default one, which the above is
//! id = "sales"                     # served under /environments/sales/
//! name = "Sales"
//! packages = "sales-connectors"
//! network = { subnets = ["10.2.0.0/16"], public = false }
//! members = [{ principal = "entra:7f1e…", role = "admin" }]
//! ```
//!
//! The top-level `packages`, `[environment]`, `[access] members` and
//! `[[connections]]` make the default environment, so a file without
//! `[[environments]]` is a single-environment gateway. A connection of
//! another environment names it (`environment = "sales"`).
//!
//! What can be typed without reading anything else is typed as the file is
//! parsed (the environment's subnets, URLs, durations, dates); what names
//! the process environment or other files (the sealing key, client secrets,
//! connection values from variables) is resolved once when the gateway
//! starts, which fails with the reason when any of it is broken.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use sluice_egress::Environment;

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
    /// The environment's network settings: linked subnets and whether
    /// public egress is allowed (`sluice_egress::Environment`; with linked
    /// subnets, `public` must be stated). Default: no subnet, public.
    #[serde(default)]
    pub environment: Environment,
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
    /// Where `/metrics` is served without a credential (keep it on
    /// loopback or a private network). On the main address it always
    /// needs an admin's credential. Default: none.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Who may call: OpenID Connect issuers, and members seeded at start.
    #[serde(default)]
    pub access: AccessConfig,
    /// Environments beside the default one. Default: none.
    #[serde(default)]
    pub environments: Vec<EnvironmentConfig>,
    /// The gateway's database. Default: SQLite, beside the settings file.
    #[serde(default)]
    pub store: StoreConfig,
    /// Which replica this is, and where its traces go.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// OAuth 2.0 sign-in and credential storage. When the section is present
    /// it must be usable (its key loads), or the gateway does not start;
    /// when absent, sign-in works if `SLUICE_SECRET_KEY` holds a key.
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
    /// Where the gateway keeps its files by default (the credential
    /// database): the settings file's folder when loaded from one; `None`
    /// for a gateway built in code, whose database is then in memory.
    #[serde(skip)]
    pub state_dir: Option<PathBuf>,
}

/// The gateway's database: everything that is state (environments,
/// principals, shares, connections, sealed tokens, key hashes, pending
/// sign-ins, the audit log and the published packages).
///
/// ```toml
/// [store]
/// url = "postgres://sluice@db.internal/sluice"  # else SLUICE_STORE_URL; else SQLite
/// max_connections = 10
/// acquire_timeout = "5s"
/// resync_interval = "30s"
/// ```
///
/// Without a URL the gateway keeps SQLite (`[oauth] database`, by default
/// `sluice-credentials.db` beside the settings file): one gateway. With a
/// `postgres://` URL, several gateways share it, and each keeps its
/// snapshot current from the database's change notifications.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The database URL: `postgres://…` or `sqlite:…`. Default: the
    /// `SLUICE_STORE_URL` environment variable, when set.
    pub url: Option<String>,
    /// At most this many connections to the database, per gateway.
    pub max_connections: u32,
    /// How long a statement waits for a connection before it fails.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: std::time::Duration,
    /// How often a gateway on a shared database reads every change again,
    /// whether or not it was notified: what a lost notification missed is
    /// caught up by then.
    #[serde(with = "humantime_serde")]
    pub resync_interval: std::time::Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout: std::time::Duration::from_secs(5),
            resync_interval: std::time::Duration::from_secs(30),
        }
    }
}

impl StoreConfig {
    /// The URL this gateway's database is at, if not the SQLite default:
    /// `url`, else `SLUICE_STORE_URL`.
    pub fn effective_url(&self) -> Option<String> {
        self.url.clone().or_else(|| std::env::var("SLUICE_STORE_URL").ok().filter(|url| !url.is_empty()))
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the database's password.
        f.debug_struct("StoreConfig")
            .field("url", &self.url.as_deref().map(crate::store::sql::redacted))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("resync_interval", &self.resync_interval)
            .finish()
    }
}

/// Which replica a gateway is among several, and where its traces go.
///
/// ```toml
/// [telemetry]
/// replica = "gw-a"                          # default: the host name and the process id
/// otlp_endpoint = "http://collector:4318"   # else OTEL_EXPORTER_OTLP_ENDPOINT; else no export
/// service_name = "sluice"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The replica's id, on every span and metric series.
    pub replica: Option<String>,
    /// Where traces are exported over OTLP/HTTP (protobuf); `sluice serve`
    /// exports nothing without one.
    pub otlp_endpoint: Option<url::Url>,
    /// The `service.name` of the exported traces.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self { replica: None, otlp_endpoint: None, service_name: "sluice".into() }
    }
}

impl TelemetryConfig {
    /// The replica's id: as set, else `{host name}-{process id}`.
    pub fn replica_id(&self) -> String {
        self.replica.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .or_else(|| std::env::var("HOSTNAME").ok())
                .map(|host| host.trim().to_string())
                .filter(|host| !host.is_empty())
                .unwrap_or_else(|| "sluice".into());
            format!("{host}-{}", std::process::id())
        })
    }
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
/// [oauth.clients.AzureDigitalTwins]            # identityProvider aadcertificate
/// client_id = "00000000-0000-0000-0000-000000000000"
/// certificate = { env = "ADT_CERTIFICATE" }    # PEM
/// private_key = { env = "ADT_PRIVATE_KEY" }    # PEM
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// The gateway's SQLite database (tokens, principals, roles, API keys,
    /// shares); relative to the settings file. It is used whether or not
    /// OAuth is. Default: `sluice-credentials.db` beside the settings file,
    /// or in memory for a gateway built in code.
    pub database: Option<PathBuf>,
    /// The environment variable holding the key secrets are sealed with.
    /// Default: `SLUICE_SECRET_KEY`.
    pub key_env: String,
    /// A file holding the key instead; relative to the settings file.
    pub key_file: Option<PathBuf>,
    /// From this date on, connectors still on the global redirect URI refuse
    /// new sign-ins. Default: none.
    pub global_redirect_cutoff: Option<chrono::NaiveDate>,
    /// Tokens are refreshed this long before they expire, or half their
    /// lifetime if that is shorter. Default: 60 s.
    #[serde(with = "humantime_serde")]
    pub refresh_margin: std::time::Duration,
    /// After a refresh fails for a passing reason (the provider down, a
    /// timeout), that token is not refreshed again for this long. Default:
    /// 10 s.
    #[serde(with = "humantime_serde")]
    pub refresh_retry_after: std::time::Duration,
    /// Client settings per connector (`[oauth.clients.Connector]`), or per
    /// parameter set of a connector with `connectionParameterSets`
    /// (`[oauth.clients."Connector/set"]`, which comes first for that set).
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
            refresh_retry_after: std::time::Duration::from_secs(10),
            clients: IndexMap::new(),
        }
    }
}

/// A connector's OAuth client registration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientConfig {
    /// Overrides `clientId` of `apiProperties.json`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client secret, if the provider wants one.
    #[serde(default)]
    pub client_secret: Option<ValueSource>,
    /// The app's certificate (PEM; the first certificate is used), for an
    /// `aadcertificate` connector: its token requests carry a client
    /// assertion signed with `private_key` instead of a secret. Default:
    /// none.
    #[serde(default)]
    pub certificate: Option<ValueSource>,
    /// The certificate's private key (PEM, unencrypted PKCS#8 or PKCS#1
    /// RSA), set with `certificate`. Default: none.
    #[serde(default)]
    pub private_key: Option<ValueSource>,
    /// The origins a connection's value may choose for an `oauth2generic`
    /// endpoint whose template takes the host from a connection parameter
    /// without `allowedValues`: egress-style rules, `scheme://host[:port]`
    /// with `*.suffix` hosts (e.g. `["https://*.bigeval.com"]`). Default:
    /// none, and such sign-ins are refused.
    #[serde(default)]
    pub allowed_endpoints: Vec<sluice_egress::AllowRule>,
}

/// `[access]`: how callers authenticate, and members the settings file
/// gives roles. API keys and everything else live in the store.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// OpenID Connect issuers whose bearer tokens authenticate callers.
    pub issuers: Vec<IssuerConfig>,
    /// Members whose role the settings file sets at every start (the first
    /// admin, say); the store keeps the others.
    pub members: Vec<MemberConfig>,
    /// Owners of the packages folder's connectors, by connector id, set at
    /// every start (the GitOps way); a connector without one is its
    /// environment's admins'.
    pub owners: IndexMap<String, String>,
}

/// An OpenID Connect issuer. Its users' principal ids are
/// `{name}:{subject}`, and its groups' `{name}:{group}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// A short name, the prefix of its principals' ids.
    pub name: String,
    /// The `iss` its tokens carry, exactly.
    pub issuer: String,
    /// The `aud` values accepted; a token must carry one of them.
    pub audience: Vec<String>,
    /// The JWKS address. Default: from the issuer's discovery document.
    #[serde(default)]
    pub jwks_uri: Option<url::Url>,
    /// Signature algorithms accepted. Public-key ones only. Default: RS256 and ES256.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    /// The claim whose value is the user's stable id. Default: `sub` (Entra
    /// ID's stable one is `oid`).
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// The claim listing the user's groups. Default: `groups`.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`. Default: 60 s.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: std::time::Duration,
    /// The JWKS is fetched again once this old. Default: 1 hour.
    #[serde(default = "default_jwks_max_age", with = "humantime_serde")]
    pub jwks_max_age: std::time::Duration,
    /// A token with a key id the JWKS lacks fetches it again, at most this
    /// often. Default: 60 s.
    #[serde(default = "default_jwks_refetch_after", with = "humantime_serde")]
    pub jwks_refetch_after: std::time::Duration,
    /// Signing in to the console with this issuer, when set.
    #[serde(default)]
    pub console: Option<ConsoleClientConfig>,
}

/// How the console signs people in with an issuer: the authorization code
/// flow with PKCE, as a public client, in the browser. The client must be
/// registered with the redirect URI `{public_url}/console/` (a single-page
/// application's), and its token endpoint must allow the gateway's origin
/// (CORS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleClientConfig {
    /// The client id registered with the issuer.
    pub client_id: String,
    /// The button's name. Default: the issuer's name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The scopes asked for. Default: `openid profile`.
    #[serde(default = "default_console_scopes")]
    pub scopes: Vec<String>,
    /// Which token of the answer the console sends as its bearer
    /// credential; its `aud` must be one of the issuer's `audience`.
    /// Default: `id_token` (its `aud` is the client id).
    #[serde(default)]
    pub token: ConsoleToken,
    /// The authorization endpoint. Default: from the discovery document.
    #[serde(default)]
    pub authorization_endpoint: Option<url::Url>,
    /// The token endpoint. Default: from the discovery document.
    #[serde(default)]
    pub token_endpoint: Option<url::Url>,
}

/// The token of the issuer's answer the console sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleToken {
    /// The ID token.
    #[default]
    IdToken,
    /// The access token (a JWT for the gateway, e.g. Entra ID's for an API scope).
    AccessToken,
}

fn default_console_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into()]
}

fn default_algorithms() -> Vec<jsonwebtoken::Algorithm> {
    vec![jsonwebtoken::Algorithm::RS256, jsonwebtoken::Algorithm::ES256]
}

fn default_subject_claim() -> String {
    "sub".into()
}

fn default_groups_claim() -> Option<String> {
    Some("groups".into())
}

fn default_leeway() -> std::time::Duration {
    std::time::Duration::from_secs(60)
}

fn default_jwks_max_age() -> std::time::Duration {
    std::time::Duration::from_secs(3600)
}

fn default_jwks_refetch_after() -> std::time::Duration {
    std::time::Duration::from_secs(60)
}

/// An environment beside the default one: its own connectors, network,
/// members, connections and tokens, served under `/environments/{id}/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// The id in URLs: 1 to 64 lowercase letters, digits, `-` or `_`; not
    /// `default`, which the top-level settings are.
    pub id: String,
    /// The name people read. Default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Its directory of connector packages, relative to the settings file.
    pub packages: PathBuf,
    /// Its network settings, as `[environment]` is the default one's.
    /// Default: no subnet, public.
    #[serde(default)]
    pub network: Environment,
    /// Members whose role the settings file sets at every start.
    #[serde(default)]
    pub members: Vec<MemberConfig>,
    /// Owners of its packages folder's connectors, as `[access] owners` is
    /// the default environment's.
    #[serde(default)]
    pub owners: IndexMap<String, String>,
}

/// A member the settings file gives a role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    /// The principal's id.
    pub principal: String,
    /// `admin`, `maker` or `user`.
    pub role: String,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// The most `[requests] workers` a settings file may ask for.
pub const MAX_WORKERS: usize = 1024;

fn workers<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let count = usize::deserialize(deserializer)?;
    if count > MAX_WORKERS {
        return Err(serde::de::Error::custom(format_args!(
            "workers = {count}: at most {MAX_WORKERS} threads serve connections (0 serves them on the main runtime)"
        )));
    }
    Ok(count)
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
    /// How long a client may take to send a request's headers, from the
    /// first byte; past it the connection is closed. Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: std::time::Duration,
    /// How long a client may take to send a request's body; past it the
    /// answer is 408. Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: std::time::Duration,
    /// How long a kept-alive connection may sit idle between requests before
    /// it is closed. Default: 60 s.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: std::time::Duration,
    /// Client connections served at once; more wait in the listen queue
    /// until one closes. Default: 4096.
    pub max_connections: usize,
    /// Threads that serve client connections, each with a single-threaded
    /// runtime of its own that runs a connection's calls from start to end;
    /// 0 serves them as tasks of the caller's runtime. At most
    /// [`MAX_WORKERS`]. Default: one per CPU.
    #[serde(deserialize_with = "workers")]
    pub workers: usize,
    /// Largest package archive the management API takes, in bytes; more is
    /// answered 413. Default: 32 MiB.
    pub max_package_bytes: usize,
    /// Most bytes a package archive may expand to; one that expands past it
    /// (a zip bomb) is refused as it is read. Default: 64 MiB.
    pub max_package_expanded_bytes: u64,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 << 20,
            max_header_bytes: 32 << 10,
            connect_timeout: std::time::Duration::from_secs(5),
            backend_timeout: std::time::Duration::from_secs(30),
            header_read_timeout: std::time::Duration::from_secs(30),
            body_read_timeout: std::time::Duration::from_secs(30),
            idle_timeout: std::time::Duration::from_secs(60),
            max_connections: 4096,
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            max_package_bytes: 32 << 20,
            max_package_expanded_bytes: 64 << 20,
        }
    }
}

/// Runtime settings the gateway passes to `sluice-runtime`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Calls of custom code that may run at once. Default: 1000.
    pub max_concurrent_calls: u32,
    /// Calls of one connector's code that may run at once; more answer 503
    /// `no-capacity` with `Retry-After`. Default: 250.
    pub max_calls_per_connector: u32,
    /// The linear memory all calls of code in flight may hold together, in
    /// bytes; a call whose memory would grow past it answers 503
    /// `no-capacity` with `Retry-After`. With the defaults that is 32 calls
    /// at the 64 MiB per-call limit, or thousands of ordinary calls.
    /// Default: 2 GiB.
    pub max_total_memory_bytes: u64,
    /// Meter fuel. Default: true.
    pub fuel_metering: bool,
    /// Directory for compiled code; relative to the settings file. Default: none.
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            max_concurrent_calls: 1000,
            max_calls_per_connector: 250,
            max_total_memory_bytes: 2 << 30,
            fuel_metering: true,
            cache_dir: None,
        }
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
    /// The principal who owns it. Default: none, so only the environment's
    /// admins may use it until they share it.
    #[serde(default)]
    pub owner: Option<String>,
    /// The environment it belongs to. Default: the default environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// The parameter set it chooses, by name, for a connector with
    /// `connectionParameterSets` (required then; none otherwise).
    #[serde(default)]
    pub parameter_set: Option<String>,
    /// Parameter values by name (the chosen set's parameters, with sets).
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
    #[error("settings file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// The environments do not fit together.
    #[error("settings file {path}: {source}")]
    Environments {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: EnvironmentsError,
    },
}

/// `[[environments]]`, or a connection's `environment`, is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvironmentsError {
    /// An id that cannot be one.
    #[error("environment id `{0}`: use 1 to 64 lowercase letters, digits, `-` or `_`")]
    BadId(String),
    /// `default` names the top-level settings.
    #[error("environment id `default` is the top-level settings; give this environment another id")]
    Default,
    /// Two environments share an id.
    #[error("environment `{0}` is declared twice")]
    Duplicate(String),
    /// A connection names an environment that is not declared.
    #[error("connection `{connection}` names environment `{environment}`, which no [[environments]] declares")]
    UnknownEnvironment {
        /// The connection.
        connection: String,
        /// The environment it names.
        environment: String,
    },
}

/// Checks an environment id: 1 to 64 lowercase ASCII letters, digits, `-`
/// or `_` (it is a URL path segment and a metrics label).
pub fn valid_environment_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

/// A value reads an environment variable that is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable `{variable}` is not set")]
pub struct MissingEnv {
    /// The variable.
    pub variable: String,
}

impl ValueSource {
    /// The value: the literal, or the variable's value read now.
    pub fn resolve(&self) -> Result<sluice_package::Secret, MissingEnv> {
        match self {
            ValueSource::Literal(value) => Ok(sluice_package::Secret::new(value.clone())),
            ValueSource::Env { env } => {
                std::env::var(env).map(sluice_package::Secret::new).map_err(|_| MissingEnv { variable: env.clone() })
            }
        }
    }
}

impl GatewayConfig {
    /// Reads and parses a settings file; relative paths in it are resolved
    /// against its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let mut config: GatewayConfig =
            toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.packages = base.join(&config.packages);
        config.environment = config.environment.with_private_roots_under(base);
        for environment in &mut config.environments {
            environment.packages = base.join(&environment.packages);
            environment.network = environment.network.clone().with_private_roots_under(base);
        }
        config.check_environments().map_err(|source| ConfigError::Environments { path: path.to_path_buf(), source })?;
        if let Some(dir) = &config.runtime.cache_dir {
            config.runtime.cache_dir = Some(base.join(dir));
        }
        config.state_dir = Some(base.to_path_buf());
        if let Some(oauth) = &mut config.oauth {
            if let Some(database) = &oauth.database {
                oauth.database = Some(base.join(database));
            }
            if let Some(file) = &oauth.key_file {
                oauth.key_file = Some(base.join(file));
            }
        }
        Ok(config)
    }
}

impl GatewayConfig {
    /// Checks that the environments' ids are usable and distinct, and that
    /// every connection names one of them. [`crate::Gateway::start`] checks
    /// it too, for settings built in code.
    pub fn check_environments(&self) -> Result<(), EnvironmentsError> {
        let mut seen = std::collections::HashSet::new();
        for environment in &self.environments {
            let id = environment.id.as_str();
            if id == crate::access::DEFAULT_ENVIRONMENT {
                return Err(EnvironmentsError::Default);
            }
            if !valid_environment_id(id) {
                return Err(EnvironmentsError::BadId(id.to_string()));
            }
            if !seen.insert(id) {
                return Err(EnvironmentsError::Duplicate(id.to_string()));
            }
        }
        for connection in &self.connections {
            if let Some(environment) = &connection.environment
                && environment != crate::access::DEFAULT_ENVIRONMENT
                && !seen.contains(environment.as_str())
            {
                return Err(EnvironmentsError::UnknownEnvironment {
                    connection: connection.id.clone(),
                    environment: environment.clone(),
                });
            }
        }
        Ok(())
    }

    /// The connections of `environment`.
    pub fn connections_of<'a>(&'a self, environment: &'a str) -> impl Iterator<Item = &'a ConnectionConfig> + 'a {
        self.connections
            .iter()
            .filter(move |c| c.environment.as_deref().unwrap_or(crate::access::DEFAULT_ENVIRONMENT) == environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_are_checked_as_the_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sluice.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            GatewayConfig::load(&path)
        };
        let config = load(
            "packages = \"p\"\n[[environments]]\nid = \"sales\"\npackages = \"s\"\nnetwork = { subnets = [\"10.2.0.0/16\"], public = false }\n\
             [[connections]]\nid = \"main\"\nconnector = \"Shop\"\nenvironment = \"sales\"\n",
        )
        .unwrap();
        assert_eq!(config.environments[0].packages, dir.path().join("s"));
        assert!(!config.environments[0].network.public_allowed());
        assert_eq!(config.connections_of("sales").count(), 1);
        assert_eq!(config.connections_of("default").count(), 0);
        for (text, expected) in [
            ("[[environments]]\nid = \"default\"\npackages = \"s\"\n", "top-level settings"),
            ("[[environments]]\nid = \"Sales\"\npackages = \"s\"\n", "environment id `Sales`"),
            (
                "[[environments]]\nid = \"a\"\npackages = \"s\"\n[[environments]]\nid = \"a\"\npackages = \"t\"\n",
                "declared twice",
            ),
            ("[[connections]]\nid = \"main\"\nconnector = \"Shop\"\nenvironment = \"hr\"\n", "environment `hr`"),
        ] {
            let error = load(&format!("packages = \"p\"\n{text}")).unwrap_err();
            assert!(matches!(error, ConfigError::Environments { .. }), "{error}");
            assert!(error.to_string().contains(expected), "{error}");
        }
    }

    #[test]
    fn workers_default_to_the_cpus_and_are_bounded() {
        let parse = |text: &str| toml::from_str::<GatewayConfig>(&format!("packages = \"p\"\n{text}"));
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(parse("").unwrap().requests.workers, cpus);
        assert_eq!(parse("[requests]\nworkers = 0\n").unwrap().requests.workers, 0);
        assert_eq!(parse("[requests]\nworkers = 1024\n").unwrap().requests.workers, 1024);
        let error = parse("[requests]\nworkers = 1025\n").unwrap_err().to_string();
        assert!(error.contains("workers = 1025: at most 1024 threads"), "{error}");
        assert!(parse("[requests]\nworkers = -1\n").is_err());
    }

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
        assert!(config.environment.public_allowed());
        let params = &config.connections[0].parameters;
        assert!(matches!(&params["api_key"], ValueSource::Env { env } if env == "CALENDLY_KEY"));
        assert!(matches!(&params["region"], ValueSource::Literal(v) if v == "eu"));
    }

    #[test]
    fn subnets_without_the_public_switch_are_refused() {
        let error = toml::from_str::<GatewayConfig>("packages = \"x\"\n[environment]\nsubnets = [\"10.1.0.0/16\"]")
            .unwrap_err();
        assert!(error.to_string().contains("public"), "{error}");
        let error =
            toml::from_str::<GatewayConfig>("packages = \"x\"\n[environment]\nsubnets = [\"10.1/16\"]\npublic = true")
                .unwrap_err();
        assert!(error.to_string().contains("10.1/16"), "{error}");
    }

    #[test]
    fn unknown_setting_is_rejected_with_its_name() {
        let error = toml::from_str::<GatewayConfig>("packages = \"x\"\nlisten_on = \"1\"").unwrap_err();
        assert!(error.to_string().contains("listen_on"), "{error}");
    }
}
