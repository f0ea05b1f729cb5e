//! `sluice-package`: connector packages, a folder in the format the
//! connector repositories use, loaded and parsed up front into a
//! [`Package`], and what an operation call makes of them: routing, the
//! backend request, the connection's values and credentials. No network I/O
//! and no server: the gateway and the authors' tools both build on it, so
//! that a call is prepared the same way online and offline.
//!
//! ```no_run
//! use sluice_package::request::{self, ClientRequest};
//! use sluice_package::{Connection, Secret, load_package};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let package = load_package(std::path::Path::new("connectors/contoso"))?;
//! let method = http::Method::GET;
//! let route = package.definition.resolve(&method, "/items/42")?;
//! let values = [("api_key".to_string(), Secret::new("k-123"))].into_iter().collect();
//! let connection = Connection::new("main", &package.id, values, &package.properties.connection_parameters)?;
//! let headers = http::HeaderMap::new();
//! let client = ClientRequest { method: &method, query: "", headers: &headers, body: &bytes::Bytes::new() };
//! let backend = request::prepare(&package, &route, &client, &connection, None)?;
//! println!("{} {}", backend.method(), backend.uri());
//! # Ok(())
//! # }
//! ```
//!
//! ```text
//! <connector-id>/                 the folder name is the connector id
//!   apiDefinition.swagger.json    OpenAPI 2.0 (required)
//!   apiProperties.json            connection parameters, scriptOperations,
//!                                 policyTemplateInstances (required)
//!   script.wasm                   the custom code component (optional)
//!   sluice.toml                   sluice's own settings (optional)
//! ```
//!
//! `sluice.toml` holds what the platform's files have no place for; every
//! key is optional and unknown keys are errors:
//!
//! ```toml
//! [egress]
//! # Extra egress rules for this connector, beyond its definition's host:
//! # `scheme://host[:port]`, `*.suffix` hosts or CIDRs. Default: none.
//! allow = ["https://api.nationalize.io", "https://*.example.com:8443"]
//!
//! [limits]
//! # Per-call limits, overriding sluice_runtime::Limits defaults
//! # (fuel 1e9, memory_bytes 64 MiB, deadline 5 s, backend_calls 16,
//! # request/response_body_bytes 8 MiB, log_bytes 64 KiB).
//! fuel = 50_000_000
//! deadline = "2s"
//!
//! [code]
//! # Whether custom code sees the connection's credentials in its request.
//! # Default: false.
//! sees_credentials = false
//! ```
//!
//! Loading does file I/O once; everything after works on the parsed model.
//! A problem that makes a package unusable is a [`PackageError`] naming the
//! folder, the file and the reason; problems that leave it usable (an
//! operation that cannot be routed, an unknown policy template, a policy
//! naming an undeclared connection parameter, ...) are
//! [`Package::warnings`].

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod connection;
pub mod credentials;
mod definition;
pub mod json;
mod load;
pub mod oauth_templates;
mod properties;
pub mod request;
mod route;
mod settings;
mod template;

use std::path::PathBuf;

pub use connection::{Connection, ConnectionError, Secret, redact};
pub use definition::{
    Definition, Operation, Parameter, ParameterLocation, ParseError, SecurityLocation, SecurityScheme, Visibility,
};
pub use load::{
    ASSETS_DIR, MAX_ASSETS_BYTES, MAX_ASSETS_DEPTH, MAX_ASSETS_ENTRIES, MAX_CSX_BYTES, MAX_JSON_FILE_BYTES,
    MAX_SCRIPT_BYTES, MAX_SETTINGS_BYTES, PackageError, PackageErrorReason, load_package, load_packages,
};
pub use properties::{
    ConnectionParameter, OAuthSettings, ParameterSet, ParameterSets, ParameterSetsError, Properties, PropertiesError,
    SetChoiceError,
};
pub use route::{BackendUrlError, Route, RouteError};
pub use settings::{CodeSettings, EgressSettings, Settings};
pub use sluice_policy as policy;

use sluice_egress::Allowlist;
use sluice_policy::PolicySet;

/// Where the identity provider sends the user back after an OAuth sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectMode {
    /// `/redirect/{connector}`: the platform's `GlobalPerConnector`.
    PerConnector,
    /// The one global `/redirect`.
    Global,
}

/// File name of the OpenAPI definition.
pub const DEFINITION_FILE: &str = "apiDefinition.swagger.json";
/// File name of the connector's properties.
pub const PROPERTIES_FILE: &str = "apiProperties.json";
/// File name of the custom code component.
pub const SCRIPT_FILE: &str = "script.wasm";
/// File name of sluice's own settings.
pub const SETTINGS_FILE: &str = "sluice.toml";
/// The `identityProvider`s of `oAuthSettings` the gateway signs in with:
/// plain OAuth 2.0, Entra ID (`aad`, endpoints from `loginUri` and
/// `tenantId`, `resource` from `resourceUri`; `aadcertificate`, the same
/// with the app's certificate from the gateway's settings instead of a
/// client secret), templated OAuth 2.0 (`oauth2generic`, see
/// [`oauth_templates`]) and DocuSign (`{LoginUri}/oauth/auth` and
/// `/oauth/token`).
pub const SUPPORTED_IDENTITY_PROVIDERS: &[&str] = &["oauth2", "aad", "aadcertificate", "oauth2generic", "docusign"];

/// File name of the platform's C# custom code, which sluice cannot run.
pub const CSX_FILE: &str = "script.csx";

/// A loaded connector package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The connector id: the folder's name.
    pub id: String,
    /// The folder it was loaded from.
    pub dir: PathBuf,
    /// `apiDefinition.swagger.json`.
    pub definition: Definition,
    /// `apiProperties.json`.
    pub properties: Properties,
    /// The policies of `apiProperties.json`, parsed, with the definition's
    /// base path set (use these rather than parsing `policy_instances` again:
    /// `dynamichosturl` needs the base path).
    pub policies: PolicySet,
    /// `sluice.toml`, or defaults.
    pub settings: Settings,
    /// The hosts the connector's calls may reach, whatever the connection:
    /// the definition's host with each of its schemes, and `sluice.toml`'s
    /// `[egress] allow` rules. A connection adds its `dynamichosturl` hosts.
    pub allowlist: Allowlist,
    /// The bytes of `script.wasm`, if the package has custom code.
    pub script: Option<Vec<u8>>,
    /// The package's `assets/` folder, if it has one: files the code reads
    /// read-only at `/assets` (checked at load: no links, bounded size).
    pub assets: Option<PathBuf>,
    /// The platform's C# code (`script.csx`) when the package has it and no
    /// `script.wasm`: code that was not ported. Its operations are never
    /// forwarded as if they had no code.
    pub unported_code: Option<String>,
    /// Non-fatal problems, each starting with the file it concerns.
    pub warnings: Vec<String>,
}

impl Package {
    /// Whether the connector signs in with OAuth, through some way of
    /// connecting: an `oauth2` security definition or an `oauthSetting`
    /// connection parameter (of `connectionParameters` or of a set).
    pub fn uses_oauth(&self) -> bool {
        self.definition.security_definitions.values().any(|s| matches!(s, SecurityScheme::OAuth2 { .. }))
            || self.properties.all_parameters().any(|(_, p)| p.kind == "oauthSetting")
    }

    /// Whether a connection that chose parameter set `set` (`None` for a
    /// connector without sets) signs in with OAuth: without sets, when the
    /// connector does ([`Package::uses_oauth`]); with sets, when the chosen
    /// set has an `oauthSetting` parameter. A set that does not sign in (an
    /// API key, a user and password) never does, whatever the others do.
    pub fn signs_in(&self, set: Option<&str>) -> bool {
        match (&self.properties.parameter_sets, set) {
            (None, _) => self.uses_oauth(),
            (Some(_), Some(set)) => self
                .properties
                .parameter_set(set)
                .is_some_and(|s| s.parameters.values().any(|p| p.kind == "oauthSetting")),
            (Some(_), None) => false,
        }
    }

    /// The `oAuthSettings` a connection that chose `set` signs in with: the
    /// set's `oauthSetting` parameter's, or (without sets) the first of
    /// `connectionParameters`.
    pub fn oauth_settings(&self, set: Option<&str>) -> Option<&OAuthSettings> {
        match set {
            Some(set) => self.properties.parameter_set(set)?.oauth(),
            None => self.properties.connection_parameters.values().find_map(|p| p.oauth.as_ref()),
        }
    }

    /// The OAuth redirect mode of a connection that chose `set` (`None`
    /// without sets): per connector when its `oAuthSettings` say
    /// `redirectMode: "GlobalPerConnector"`, else the global redirect URI.
    /// The platform sets the mode per set; the per-connector URI is the
    /// connector's, shared by its sets.
    pub fn redirect_mode(&self, set: Option<&str>) -> RedirectMode {
        let per_connector = |o: &OAuthSettings| o.redirect_mode.as_deref() == Some("GlobalPerConnector");
        let per_connector = match set {
            Some(_) => self.oauth_settings(set).is_some_and(per_connector),
            None => self.properties.connection_parameters.values().filter_map(|p| p.oauth.as_ref()).any(per_connector),
        };
        if per_connector { RedirectMode::PerConnector } else { RedirectMode::Global }
    }

    /// The connection parameters that apply to `connection`: its set's, or
    /// `connectionParameters` (also for a connection that was not checked
    /// against the package, such as [`Connection::empty`]).
    pub fn parameters_of(&self, connection: &Connection) -> &indexmap::IndexMap<String, ConnectionParameter> {
        self.properties
            .parameters_for(&self.id, connection.parameter_set())
            .unwrap_or(&self.properties.connection_parameters)
    }

    /// Whether a call of `operation_id` runs the custom code: the package has
    /// `script.wasm` and `scriptOperations` is absent, empty, or lists the
    /// operation (the platform's rule).
    pub fn runs_code(&self, operation_id: &str) -> bool {
        self.script.is_some() && self.is_code_operation(operation_id)
    }

    /// Whether `operation_id` has code that was not ported: the package has
    /// `script.csx` and no `script.wasm`, and the operation is one the code
    /// runs for (same rule as [`Package::runs_code`]).
    pub fn code_not_ported(&self, operation_id: &str) -> bool {
        self.script.is_none() && self.unported_code.is_some() && self.is_code_operation(operation_id)
    }

    /// The platform's rule: `scriptOperations` absent, empty, or listing the operation.
    fn is_code_operation(&self, operation_id: &str) -> bool {
        match &self.properties.script_operations {
            None => true,
            Some(ops) => ops.is_empty() || ops.iter().any(|o| o == operation_id),
        }
    }
}
