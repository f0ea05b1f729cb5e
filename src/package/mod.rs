//! Connector packages: a folder in the format the connector repositories
//! use, loaded and parsed up front into a [`Package`].
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

mod definition;
mod properties;
mod route;
mod settings;

use std::path::{Path, PathBuf};

pub use definition::{
    Definition, Operation, Parameter, ParameterLocation, SecurityLocation, SecurityScheme,
    Visibility,
};
pub use properties::{ConnectionParameter, OAuthSettings, Properties};
pub use route::{BackendUrlError, Route};
pub use settings::{CodeSettings, EgressSettings, Settings};

use crate::policy::PolicySet;

/// File name of the OpenAPI definition.
pub const DEFINITION_FILE: &str = "apiDefinition.swagger.json";
/// File name of the connector's properties.
pub const PROPERTIES_FILE: &str = "apiProperties.json";
/// File name of the custom code component.
pub const SCRIPT_FILE: &str = "script.wasm";
/// File name of sluice's own settings.
pub const SETTINGS_FILE: &str = "sluice.toml";

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
    /// The bytes of `script.wasm`, if the package has custom code.
    pub script: Option<Vec<u8>>,
    /// Non-fatal problems, each starting with the file it concerns.
    pub warnings: Vec<String>,
}

impl Package {
    /// Whether a call of `operation_id` runs the custom code: the package has
    /// `script.wasm` and `scriptOperations` is absent, empty, or lists the
    /// operation (the platform's rule).
    pub fn runs_code(&self, operation_id: &str) -> bool {
        self.script.is_some()
            && match &self.properties.script_operations {
                None => true,
                Some(ops) => ops.is_empty() || ops.iter().any(|o| o == operation_id),
            }
    }
}

/// A package could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("connector package {}: {file}: {reason}", folder.display())]
pub struct PackageError {
    /// The package folder.
    pub folder: PathBuf,
    /// The file at fault, relative to the folder (`.` for the folder itself).
    pub file: String,
    /// What is wrong.
    pub reason: PackageErrorReason,
}

/// What is wrong with a package file.
#[derive(Debug, thiserror::Error)]
pub enum PackageErrorReason {
    /// A required file does not exist.
    #[error("the file is missing")]
    Missing,
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Io(std::io::Error),
    /// The file is not valid JSON, or not the JSON shape expected.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's complaint.
        message: String,
    },
    /// `sluice.toml` is not valid TOML or has an unknown key or bad value.
    #[error("invalid settings at line {line}, column {column}: {message}")]
    Settings {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's complaint, naming the key.
        message: String,
    },
    /// The content is well-formed but unusable.
    #[error("{0}")]
    Invalid(String),
}

/// Loads the package in `dir`.
pub fn load_package(dir: &Path) -> Result<Package, PackageError> {
    let error = |file: &str, reason| PackageError {
        folder: dir.to_path_buf(),
        file: file.to_string(),
        reason,
    };
    // `.` and `..` name no folder; the canonical path does.
    let canonical = dir.canonicalize().ok();
    let id = canonical
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            error(
                ".",
                PackageErrorReason::Invalid("the folder name is not a valid connector id".into()),
            )
        })?
        .to_string();

    let mut definition_warnings = Vec::new();
    let definition_bytes = read(dir, DEFINITION_FILE)?
        .ok_or_else(|| error(DEFINITION_FILE, PackageErrorReason::Missing))?;
    let definition = definition::Definition::parse(&definition_bytes, &mut definition_warnings)
        .map_err(|e| match e {
            definition::ParseError::Json(e) => error(DEFINITION_FILE, json_reason(&e)),
            definition::ParseError::Invalid(reason) => {
                error(DEFINITION_FILE, PackageErrorReason::Invalid(reason))
            }
        })?;

    let mut property_warnings = Vec::new();
    let properties_bytes = read(dir, PROPERTIES_FILE)?
        .ok_or_else(|| error(PROPERTIES_FILE, PackageErrorReason::Missing))?;
    let properties = Properties::parse(&properties_bytes, &mut property_warnings)
        .map_err(|e| error(PROPERTIES_FILE, json_reason(&e)))?;

    let settings = match read(dir, SETTINGS_FILE)? {
        None => Settings::default(),
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| {
                error(
                    SETTINGS_FILE,
                    PackageErrorReason::Invalid("the file is not UTF-8".into()),
                )
            })?;
            Settings::parse(&text).map_err(|e| error(SETTINGS_FILE, toml_reason(&text, &e)))?
        }
    };
    let script = read(dir, SCRIPT_FILE)?;

    let (policies, policy_warnings) = PolicySet::parse(&properties.policy_instances);
    let policies = policies.with_base_path(&definition.base_path);
    property_warnings.extend(policy_warnings);
    property_warnings.extend(cross_check(
        &definition,
        &properties,
        &policies,
        script.is_some(),
    ));

    let warnings = definition_warnings
        .into_iter()
        .map(|w| format!("{DEFINITION_FILE}: {w}"))
        .chain(
            property_warnings
                .into_iter()
                .map(|w| format!("{PROPERTIES_FILE}: {w}")),
        )
        .collect();
    Ok(Package {
        id,
        dir: dir.to_path_buf(),
        definition,
        properties,
        policies,
        settings,
        script,
        warnings,
    })
}

/// Loads every immediate subfolder of `root` that has an
/// `apiDefinition.swagger.json`, in name order (folders whose name starts
/// with `.` are skipped). A package that fails is reported beside the others;
/// when `root` itself cannot be read, the one error names it.
pub fn load_packages(root: &Path) -> (Vec<Package>, Vec<(PathBuf, PackageError)>) {
    let mut packages = Vec::new();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) => {
            let error = PackageError {
                folder: root.to_path_buf(),
                file: ".".into(),
                reason: PackageErrorReason::Io(e),
            };
            errors.push((root.to_path_buf(), error));
            return (packages, errors);
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join(DEFINITION_FILE).is_file())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    dirs.sort();
    for dir in dirs {
        match load_package(&dir) {
            Ok(package) => packages.push(package),
            Err(error) => errors.push((dir, error)),
        }
    }
    (packages, errors)
}

/// Reads a package file; `None` when it does not exist.
fn read(dir: &Path, file: &str) -> Result<Option<Vec<u8>>, PackageError> {
    match std::fs::read(dir.join(file)) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PackageError {
            folder: dir.to_path_buf(),
            file: file.to_string(),
            reason: PackageErrorReason::Io(e),
        }),
    }
}

fn json_reason(e: &serde_json::Error) -> PackageErrorReason {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    PackageErrorReason::Json {
        line: e.line(),
        column: e.column(),
        message,
    }
}

fn toml_reason(text: &str, e: &toml::de::Error) -> PackageErrorReason {
    let offset = e.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    PackageErrorReason::Settings {
        line,
        column,
        message: e.message().trim().to_string(),
    }
}

/// Checks the files against each other: operation ids named in
/// `scriptOperations` and policies exist, and policies' connection
/// parameters are declared.
fn cross_check(
    definition: &Definition,
    properties: &Properties,
    policies: &PolicySet,
    has_script: bool,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let known = |id: &str| definition.operation(id).is_some();
    let script_operations = properties.script_operations.as_deref().unwrap_or_default();
    for id in script_operations.iter().filter(|id| !known(id)) {
        warnings.push(format!(
            "scriptOperations names `{id}`, which the definition does not have"
        ));
    }
    if !has_script && !script_operations.is_empty() {
        warnings.push(format!(
            "scriptOperations lists {} operation(s) but the package has no {SCRIPT_FILE}; they are forwarded without custom code",
            script_operations.len()
        ));
    }
    for policy in policies.policies() {
        for id in policy.operations().iter().filter(|id| !known(id)) {
            warnings.push(format!(
                "policy `{}` names operation `{id}`, which the definition does not have",
                policy.title()
            ));
        }
    }
    let declared = &properties.connection_parameters;
    for (policy, name) in policies.referenced_connection_parameters() {
        if !declared.contains_key(name) {
            let hint = declared
                .keys()
                .find(|d| d.eq_ignore_ascii_case(name))
                .map(|d| format!(" (did you mean `{d}`? names are case-sensitive)"))
                .unwrap_or_default();
            warnings.push(format!(
                "policy `{policy}` uses connection parameter `{name}`, which connectionParameters does not declare{hint}"
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(name: &str) -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/connectors")).join(name)
    }

    fn load(name: &str) -> Package {
        load_package(&shared(name)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A scratch folder of this test process, emptied first.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("sluice-package-tests-{}", std::process::id()))
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const MINIMAL_DEFINITION: &str =
        r#"{"swagger": "2.0", "host": "h", "paths": {"/a": {"get": {"operationId": "A"}}}}"#;
    const MINIMAL_PROPERTIES: &str = r#"{"properties": {"connectionParameters": {}}}"#;

    #[test]
    fn all_shared_connectors_load() {
        let (packages, errors) = load_packages(&shared(""));
        assert!(errors.is_empty(), "{errors:?}");
        let ids: Vec<&str> = packages.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "Annature",
                "Azure_Communication_Services_Identity",
                "Calendly",
                "HtmlToText",
                "IBM_Watson_Text_to_Speech",
                "Industrial_App_Store",
                "Nationalize.io",
                "Telstra_SMS",
                "Tulip",
                "VIES"
            ]
        );
        for p in &packages {
            assert!(!p.definition.operations.is_empty(), "{}", p.id);
            assert!(p.script.is_none());
            assert_eq!(p.settings, Settings::default());
        }
    }

    #[test]
    fn calendly_script_operations_are_pinned() {
        let p = load("Calendly");
        assert_eq!(
            p.properties.script_operations.as_deref().unwrap(),
            [
                "CreateWebhookSubscription",
                "CreateWebhookSubscriptionRoutingFormSubmission",
                "GetEventTypes"
            ]
        );
        assert_eq!(p.properties.capabilities, ["actions", "triggers"]);
        assert_eq!(p.policies.policies().len(), 3);
        assert!(!p.runs_code("GetEventTypes"), "no script.wasm, no code");
        let with_code = Package {
            script: Some(vec![0]),
            ..p
        };
        assert!(with_code.runs_code("GetEventTypes"));
        assert!(!with_code.runs_code("GetEventType"));
    }

    #[test]
    fn telstra_empty_script_operations_mean_all_operations() {
        let p = load("Telstra_SMS");
        assert_eq!(p.properties.script_operations.as_deref(), Some(&[][..]));
        assert_eq!(p.definition.base_path, "/messaging/v3");
        let with_code = Package {
            script: Some(vec![0]),
            ..p
        };
        for op in &with_code.definition.operations {
            assert!(with_code.runs_code(&op.id), "{}", op.id);
        }
    }

    #[test]
    fn tulip_declares_factory_url_and_its_policy_misspells_it() {
        let p = load("Tulip");
        let names: Vec<&str> = p
            .properties
            .connection_parameters
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["username", "password", "factoryUrl"]);
        assert!(p.properties.connection_parameters["username"].required);
        assert!(!p.properties.connection_parameters["factoryUrl"].required);
        assert_eq!(
            p.policies.referenced_connection_parameters(),
            [("Set Tulip Factory URL", "factoryURL")]
        );
        let warning = p
            .warnings
            .iter()
            .find(|w| w.contains("factoryURL"))
            .expect("a warning about factoryURL");
        assert!(warning.contains("factoryUrl"), "{warning}");
        assert!(matches!(
            p.definition.security_definitions["basic-auth"],
            SecurityScheme::Basic
        ));
        assert!(p.definition.operation("GetTable").unwrap().is_internal());
    }

    #[test]
    fn ibm_watson_uses_basic_auth() {
        let p = load("IBM_Watson_Text_to_Speech");
        assert_eq!(p.definition.security_definitions.len(), 1);
        assert_eq!(
            p.definition.security_definitions["basic-auth"],
            SecurityScheme::Basic
        );
        assert_eq!(
            p.properties.script_operations.as_deref().unwrap(),
            ["Synthesize"]
        );
        let op = p
            .definition
            .route(&http::Method::GET, "/v1/voices/en-US_Allison")
            .unwrap();
        assert_eq!(
            (op.operation.id.as_str(), op.path_params["voice"].as_str()),
            ("GetVoice", "en-US_Allison")
        );
        assert_eq!(
            p.definition
                .route(&http::Method::GET, "/v1/voices")
                .unwrap()
                .operation
                .id,
            "ListVoices"
        );
    }

    #[test]
    fn industrial_app_store_uses_oauth2_with_an_oauth_setting() {
        let p = load("Industrial_App_Store");
        let SecurityScheme::OAuth2 {
            flow,
            authorization_url,
            token_url,
            scopes,
        } = &p.definition.security_definitions["oauth2_auth"]
        else {
            panic!("not oauth2");
        };
        assert_eq!(flow, "accessCode");
        assert!(
            authorization_url
                .as_deref()
                .unwrap()
                .ends_with("/OAuth/Authorize")
        );
        assert!(token_url.as_deref().unwrap().ends_with("/OAuth/Token"));
        assert_eq!(scopes, &["DataRead"]);
        let token = &p.properties.connection_parameters["token"];
        assert_eq!(token.kind, "oauthSetting");
        assert!(token.is_secret());
        let oauth = token.oauth.as_ref().unwrap();
        assert_eq!(oauth.identity_provider, "oauth2");
        assert_eq!(oauth.scopes, ["DataRead"]);
        assert_eq!(oauth.redirect_mode.as_deref(), Some("Global"));
        assert!(oauth.custom_parameters["tokenUrl"].ends_with("/OAuth/Token"));
        // Upper- and lower-case `gestalt` are distinct operations.
        let r = p
            .definition
            .route(&http::Method::GET, "/Gestalt/api/data/v2/raw/dsn1/")
            .unwrap();
        assert_eq!(r.operation.id, "ias_getdata_raw");
        let r = p
            .definition
            .route(&http::Method::GET, "/gestalt/datacore/api/data/v2/raw/dsn1")
            .unwrap();
        assert_eq!(r.operation.id, "ias_getdata_raw_v2");
    }

    #[test]
    fn annature_routes_and_resolves_shared_parameters() {
        let p = load("Annature");
        let r = p
            .definition
            .route(&http::Method::POST, "/envelopes/e%201/void")
            .unwrap();
        assert_eq!(
            (r.operation.id.as_str(), r.path_params["id"].as_str()),
            ("VoidEnvelope", "e 1")
        );
        assert_eq!(
            p.definition
                .route(&http::Method::HEAD, "/envelopes/e1")
                .unwrap()
                .operation
                .id,
            "DeleteEnvelope"
        );
        let get = p.definition.operation("GetEnvelopes").unwrap();
        assert_eq!(get.parameters.len(), 7);
        assert!(
            get.parameters
                .iter()
                .all(|p| p.location == ParameterLocation::Query)
        );
        assert_eq!(
            p.definition.security_definitions["api_key"],
            SecurityScheme::ApiKey {
                name: "X-Annature-Key".into(),
                location: SecurityLocation::Header
            }
        );
        let url = p
            .definition
            .backend_url(r.operation, &r.path_params, "")
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.annature.com.au/v1/envelopes/e%201/void"
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn nationalize_sends_its_key_in_the_query() {
        let p = load("Nationalize.io");
        assert_eq!(
            p.definition.security_definitions["API Key"],
            SecurityScheme::ApiKey {
                name: "apikey".into(),
                location: SecurityLocation::Query
            }
        );
        assert_eq!(
            p.definition
                .route(&http::Method::GET, "/")
                .unwrap()
                .operation
                .id,
            "CheckNamesNationality"
        );
    }

    #[test]
    fn bad_json_reports_folder_file_line_and_column() {
        let dir = scratch("bad-json");
        std::fs::write(
            dir.join(DEFINITION_FILE),
            "{\n  \"swagger\": \"2.0\",\n  oops\n}",
        )
        .unwrap();
        std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
        let err = load_package(&dir).unwrap_err();
        assert_eq!(err.folder, dir);
        assert_eq!(err.file, DEFINITION_FILE);
        assert!(
            matches!(err.reason, PackageErrorReason::Json { line: 3, .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("bad-json") && text.contains(DEFINITION_FILE) && text.contains("line 3"),
            "{text}"
        );
    }

    #[test]
    fn missing_properties_file_is_reported() {
        let dir = scratch("no-properties");
        std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
        let err = load_package(&dir).unwrap_err();
        assert_eq!(err.file, PROPERTIES_FILE);
        assert!(matches!(err.reason, PackageErrorReason::Missing), "{err}");
    }

    #[test]
    fn missing_definition_is_reported() {
        let dir = scratch("no-definition");
        std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
        let err = load_package(&dir).unwrap_err();
        assert_eq!(err.file, DEFINITION_FILE);
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn unknown_settings_key_is_an_error_naming_it() {
        let dir = scratch("bad-settings");
        std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
        std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
        std::fs::write(
            dir.join(SETTINGS_FILE),
            "[egress]\nallow = []\n\n[limits]\nfuel_budget = 5\n",
        )
        .unwrap();
        let err = load_package(&dir).unwrap_err();
        assert_eq!(err.file, SETTINGS_FILE);
        assert!(
            matches!(err.reason, PackageErrorReason::Settings { line: 5, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("fuel_budget"), "{err}");
    }

    #[test]
    fn settings_and_script_are_read() {
        let dir = scratch("with-code");
        std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
        std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
        std::fs::write(dir.join(SCRIPT_FILE), b"\0asm").unwrap();
        std::fs::write(
            dir.join(SETTINGS_FILE),
            "[limits]\nfuel = 7\n[code]\nsees_credentials = true\n",
        )
        .unwrap();
        let p = load_package(&dir).unwrap();
        assert_eq!(p.id, "with-code");
        assert_eq!(p.script.as_deref(), Some(&b"\0asm"[..]));
        assert_eq!(p.settings.limits.fuel, 7);
        assert!(p.settings.code.sees_credentials);
        assert!(p.runs_code("A"), "no scriptOperations means all operations");
    }

    #[test]
    fn swagger_3_is_refused() {
        let dir = scratch("openapi3");
        std::fs::write(
            dir.join(DEFINITION_FILE),
            r#"{"openapi": "3.0.0", "paths": {}}"#,
        )
        .unwrap();
        std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
        let err = load_package(&dir).unwrap_err();
        assert!(
            matches!(err.reason, PackageErrorReason::Invalid(_)),
            "{err}"
        );
        assert!(err.to_string().contains("2.0"), "{err}");
    }

    #[test]
    fn a_broken_package_does_not_stop_the_others() {
        let root = scratch("root");
        for name in ["good", "broken"] {
            std::fs::create_dir_all(root.join(name)).unwrap();
            std::fs::write(root.join(name).join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
        }
        std::fs::write(root.join("good").join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
        std::fs::write(root.join("broken").join(DEFINITION_FILE), "{").unwrap();
        std::fs::create_dir_all(root.join("not-a-package")).unwrap();
        let (packages, errors) = load_packages(&root);
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].id, "good");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, root.join("broken"));
    }

    #[test]
    fn unreadable_root_is_one_error() {
        let (packages, errors) = load_packages(Path::new("/nonexistent/sluice-packages"));
        assert!(packages.is_empty());
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn package_loaded_through_dot_takes_the_folder_name() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/connectors/Tulip/."));
        assert_eq!(load_package(dir).unwrap().id, "Tulip");
    }
}
