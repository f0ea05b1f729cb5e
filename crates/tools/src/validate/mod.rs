//! `sluice validate`: checks a connector package the way certification
//! would, and reports every problem as a [`Finding`] with a rule id, a
//! severity, the file and the JSON path it concerns.
//!
//! The checks work on the files' raw JSON (so that a finding can point at
//! the exact key, and so that one broken operation does not hide the
//! others), and then load the package with [`sluice_package::load_package`]
//! and its code with [`sluice_runtime::Runtime::load`], so that a package
//! without errors is one the gateway loads. [`RULES`] lists every rule.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use sluice_runtime::{LoadError, Runtime, RuntimeConfig, RuntimeError};

use crate::jsonpath::{self, ROOT};
use sluice_package::{self, DEFINITION_FILE, PROPERTIES_FILE, SCRIPT_FILE, SETTINGS_FILE, Settings};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Certification would refuse the package, or sluice cannot run it as
    /// written. `sluice validate` exits 1.
    Error,
    /// Worth fixing; the package works. Alone, warnings exit 0.
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A check: its id, its severity and what it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The id findings carry, e.g. `summary-too-long`.
    pub id: &'static str,
    /// The severity of its findings.
    pub severity: Severity,
    /// What the rule asks for, in one line.
    pub summary: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $severity:ident, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $name: Rule = Rule { id: $id, severity: Severity::$severity, summary: $summary };
        )*
        /// Every rule, in the order checks run.
        pub const RULES: &[Rule] = &[$($name),*];
    };
}

/// The rules, one constant each.
pub mod rule {
    use super::{Rule, Severity};

    rules! {
        FILE_MISSING = "file-missing", Error, "apiDefinition.swagger.json and apiProperties.json must exist";
        JSON_INVALID = "json-invalid", Error, "package files must be valid JSON (sluice.toml valid TOML)";
        JSON_LENIENT = "json-lenient", Warning, "package files should be strict JSON: the platform reads a byte-order mark, comments, trailing commas and raw control characters, other tools may not";
        SWAGGER_VERSION = "swagger-version", Error, "the definition must be OpenAPI (swagger) 2.0";
        OAUTH_URL_MISSING = "oauth-url-missing", Error, "an OAuth 2.0 security definition needs the URLs its flow uses (authorizationUrl, tokenUrl)";
        DEFINITION_TOO_LARGE = "definition-too-large", Warning, "the definition should be under 1 MiB, the limit of import in the maker portal";
        PACKAGE_INVALID = "package-invalid", Error, "the package must load in the gateway";
        OPERATION_ID_MISSING = "operation-id-missing", Error, "every operation needs an operationId";
        OPERATION_ID_DUPLICATE = "operation-id-duplicate", Error, "operationIds must be unique";
        OPERATION_ID_FORMAT = "operation-id-format", Warning, "an operationId should equal its alphanumeric form (letters and digits only)";
        SUMMARY_MISSING = "summary-missing", Warning, "every operation should have a summary";
        SUMMARY_TOO_LONG = "summary-too-long", Warning, "a summary should be at most 80 characters";
        SUMMARY_CHARACTERS = "summary-characters", Warning, "a summary should have only letters, digits, spaces and parentheses";
        DESCRIPTION_MISSING = "description-missing", Warning, "every operation should have a description";
        RESPONSE_SCHEMA_MISSING = "response-schema-missing", Warning, "an operation should have a success (2xx) response with a schema (204 alone excepted)";
        DEFAULT_RESPONSE_SCHEMA = "default-response-schema", Warning, "the `default` response should not have a schema";
        GET_WITH_BODY = "get-with-body", Warning, "a GET operation should not have a body or formData parameter";
        PARAMETER_CONNECTION_ID = "parameter-connection-id", Error, "no parameter may be named connectionId (the platform reserves it)";
        PARAMETER_REF_UNRESOLVED = "parameter-ref-unresolved", Error, "a parameter $ref must name an entry of the top-level parameters";
        PATH_PARAMETER_UNUSED = "path-parameter-unused", Error, "a path parameter must appear as {name} in its path";
        PATH_PARAMETER_UNDECLARED = "path-parameter-undeclared", Error, "every {name} in a path needs a path parameter";
        PATH_PARAMETER_ENCODING = "path-parameter-encoding", Warning, "a path parameter should have x-ms-url-encoding (single or double)";
        PUBLISHER_MISSING = "publisher-missing", Warning, "apiProperties should have a publisher (independent publishers must)";
        STACK_OWNER_MISSING = "stack-owner-missing", Warning, "apiProperties should have a stackOwner (independent publishers must)";
        BRAND_COLOR_MISSING = "brand-color-missing", Warning, "apiProperties should set iconBrandColor";
        BRAND_COLOR_INVALID = "brand-color-invalid", Warning, "iconBrandColor should be #rrggbb and not the reserved #007ee5 or #ffffff";
        SCRIPT_OPERATION_UNKNOWN = "script-operation-unknown", Warning, "every scriptOperations entry should name an operation of the definition";
        CONNECTION_PARAMETER_UNDECLARED = "connection-parameter-undeclared", Error, "@connectionParameters('x') must name a declared connection parameter, exactly";
        POLICY_TEMPLATE_UNKNOWN = "policy-template-unknown", Error, "a policy's templateId must be a template the platform has";
        POLICY_INVALID = "policy-invalid", Warning, "a policy instance should parse (templateId, parameters, section, operations); sluice ignores one that does not";
        POLICY_PARAMETER = "policy-parameter", Warning, "a policy parameter that sluice ignores";
        POLICY_OPERATION_UNKNOWN = "policy-operation-unknown", Warning, "a policy's operations should exist in the definition";
        IDENTITY_PROVIDER_UNSUPPORTED = "identity-provider-unsupported", Warning, "sluice signs in with the oauth2, aad, aadcertificate, oauth2generic and DocuSign identity providers; others are read as plain OAuth 2.0";
        OAUTH_ON_BEHALF_OF = "oauth-on-behalf-of", Warning, "sluice cannot sign a connection in with the caller's own Entra ID token (enableOnbehalfOfLogin); its connections sign in themselves";
        OAUTH_TEMPLATE_INVALID = "oauth-template-invalid", Error, "oauth2generic's customParameters need authorizationUrlTemplate and tokenUrlTemplate, and every {placeholder} must name a value of the sign-in or a declared connection parameter (only a connection parameter can be part of a host)";
        OAUTH_TEMPLATE_UNSUPPORTED = "oauth-template-unsupported", Warning, "an oauth2generic placeholder that names one of the package's customParameters is filled by the platform in a way it does not document; sluice cannot sign in with it";
        OAUTH_ENDPOINT_HOST = "oauth-endpoint-host", Warning, "a connection parameter that shapes an oauth2generic endpoint's host should have allowedValues; without them the operator must allow the hosts (allowed_endpoints) or its sign-ins are refused";
        OAUTH_GLOBAL_REDIRECT = "oauth-global-redirect", Warning, "OAuth connection parameters should use the per-connector redirect URI (redirectMode GlobalPerConnector)";
        PARAMETER_SETS_EMPTY = "parameter-sets-empty", Error, "connectionParameterSets must list at least one set in `values`";
        PARAMETER_SET_NAME = "parameter-set-name", Error, "every parameter set needs a `name`, unique among the sets (compared without case)";
        PARAMETER_SET_WITHOUT_PARAMETERS = "parameter-set-without-parameters", Warning, "a parameter set should declare the parameters a connection through it gives (the multi-auth document asks for a required one in each set)";
        CONNECTION_PARAMETER_OUTSIDE_SETS = "connection-parameter-outside-sets", Warning, "with connectionParameterSets, a connection gives its set's parameters: connectionParameters should declare no parameter that no set declares";
        SCRIPT_MISSING = "script-missing", Warning, "script.wasm should exist when scriptOperations is set";
        CODE_NOT_PORTED = "code-not-ported", Warning, "script.csx is C#, which sluice does not run: port it to script.wasm (its operations answer 501 until then)";
        SCRIPT_TOO_LARGE = "script-too-large", Error, "script.wasm must be under the runtime's code size limit";
        SCRIPT_CONTRACT = "script-contract", Error, "script.wasm must be a component implementing sluice:connector@0.1.0";
        SETTINGS_INVALID = "settings-invalid", Error, "sluice.toml must parse, with limits in range";
        EGRESS_RULE_INVALID = "egress-rule-invalid", Error, "every [egress] allow rule must parse";
    }
}

pub use rule::RULES;

/// The definition's size limit, in bytes (1 MiB).
pub const MAX_DEFINITION_BYTES: usize = 1 << 20;
/// The longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 80;

/// Methods that are operations in a path item.
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// One problem found in a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id, e.g. `summary-too-long`.
    pub rule: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// The file, relative to the package folder.
    pub file: String,
    /// The JSON path in the file (`$` for the whole file), e.g.
    /// `$.paths['/items'].get.summary`.
    pub path: String,
    /// What is wrong, and how to fix it when that is not obvious.
    pub message: String,
}

/// The findings of one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageReport {
    /// The connector id (the folder's name).
    pub package: String,
    /// The folder, as given.
    pub dir: PathBuf,
    /// Findings, in the order the checks ran.
    pub findings: Vec<Finding>,
}

impl PackageReport {
    /// How many findings are errors.
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }

    /// How many findings are warnings.
    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }

    /// The distinct rule ids found, sorted.
    pub fn rules(&self) -> Vec<&'static str> {
        let mut rules: Vec<&'static str> = self.findings.iter().map(|f| f.rule).collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }
}

/// The package could not be checked at all (a missing folder, an unreadable
/// file, ...): bad input rather than a finding.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The folder does not exist or is not a folder.
    #[error("{}: not a package folder: {reason}", path.display())]
    NotAFolder {
        /// The path given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file exists but cannot be read.
    #[error("{}: cannot read it: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The WebAssembly runtime (needed to check `script.wasm`) cannot start.
    #[error("cannot start the WebAssembly runtime: {0}")]
    Runtime(#[from] RuntimeError),
}

/// Options of a validation run.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// Check this component instead of the package's `script.wasm`, e.g.
    /// `target/wasm32-wasip2/release/my_connector.wasm` while developing.
    pub script: Option<PathBuf>,
}

/// Validates packages, sharing one runtime (started only if some package
/// has code) between them.
#[derive(Debug, Default)]
pub struct Validator {
    runtime: Option<Runtime>,
}

impl Validator {
    /// A validator; nothing is started until a package needs it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the package in `dir`.
    pub fn validate(&mut self, dir: &Path, options: &ValidateOptions) -> Result<PackageReport, ValidateError> {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(ValidateError::NotAFolder { path: dir.to_path_buf(), reason: "it is a file".into() });
            }
            Err(e) => {
                return Err(ValidateError::NotAFolder { path: dir.to_path_buf(), reason: e.to_string() });
            }
        }
        let given = dir;
        // `load_package` takes the connector id from the folder's name, which
        // `.` or `pkg/..` do not have.
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let dir = canonical.as_path();
        let package_id = folder_name(dir);
        let mut out = Findings::default();

        let definition = read_json(dir, DEFINITION_FILE, &mut out)?;
        if let Some((bytes, _)) = &definition
            && bytes.len() > MAX_DEFINITION_BYTES
        {
            out.push(
                rule::DEFINITION_TOO_LARGE,
                DEFINITION_FILE,
                ROOT.into(),
                format!("the definition is {} bytes, over the limit of {MAX_DEFINITION_BYTES}", bytes.len()),
            );
        }
        let definition = definition.and_then(|(_, value)| value);
        let operation_ids = match &definition {
            Some(def) => check_definition(def, &mut out),
            None => HashSet::new(),
        };

        let properties = read_json(dir, PROPERTIES_FILE, &mut out)?.and_then(|(_, value)| value);
        let props = properties.as_ref().and_then(|p| p.get("properties")).and_then(Value::as_object);
        if let Some(props) = props {
            check_properties(props, definition.is_some().then_some(&operation_ids), &mut out);
        }

        let settings = read_settings(dir, &mut out)?;

        // What the gateway would make of the package, for what the raw
        // checks cannot see (e.g. a basePath without a leading `/`).
        if let Err(error) = sluice_package::load_package(dir) {
            let reported = out.0.iter().any(|f| {
                f.file == error.file
                    && [
                        rule::FILE_MISSING.id,
                        rule::JSON_INVALID.id,
                        rule::SWAGGER_VERSION.id,
                        rule::SETTINGS_INVALID.id,
                        rule::EGRESS_RULE_INVALID.id,
                        rule::PARAMETER_SETS_EMPTY.id,
                        rule::PARAMETER_SET_NAME.id,
                    ]
                    .contains(&f.rule)
            });
            if !reported {
                out.push(rule::PACKAGE_INVALID, &error.file, ROOT.into(), error.reason.to_string());
            }
        }

        let script = match &options.script {
            Some(path) => {
                Some(std::fs::read(path).map_err(|source| ValidateError::Unreadable { path: path.clone(), source })?)
            }
            None => read_optional(dir, SCRIPT_FILE)?,
        };
        let script_file = options.script.as_ref().map_or_else(|| SCRIPT_FILE.to_string(), |p| p.display().to_string());
        if script.is_none() && dir.join(sluice_package::CSX_FILE).is_file() {
            let listed = props.and_then(|p| p.get("scriptOperations")).and_then(Value::as_array).map_or(0, Vec::len);
            let which = if listed == 0 {
                "every operation".to_string()
            } else {
                format!("the {listed} operation(s) of scriptOperations")
            };
            out.push(
                rule::CODE_NOT_PORTED,
                sluice_package::CSX_FILE,
                ROOT.into(),
                format!(
                    "the platform runs this C# for {which}; sluice answers them 501 `code-not-ported` until it is ported: `sluice new --from-csx {}` scaffolds the guest crate",
                    given.display()
                ),
            );
            return Ok(PackageReport { package: package_id, dir: given.to_path_buf(), findings: out.0 });
        }
        self.check_code(&package_id, props, script.as_deref(), &script_file, settings.as_ref(), &mut out)?;

        Ok(PackageReport { package: package_id, dir: given.to_path_buf(), findings: out.0 })
    }

    fn check_code(
        &mut self,
        package_id: &str,
        props: Option<&Map<String, Value>>,
        script: Option<&[u8]>,
        script_file: &str,
        settings: Option<&Settings>,
        out: &mut Findings,
    ) -> Result<(), ValidateError> {
        let script_operations = props.and_then(|p| p.get("scriptOperations"));
        let Some(code) = script else {
            if let Some(ops) = script_operations {
                let listed = ops.as_array().map_or(0, Vec::len);
                let what = if listed == 0 {
                    "scriptOperations is set (empty: every operation runs code)".to_string()
                } else {
                    format!("scriptOperations lists {listed} operation(s)")
                };
                out.push(
                    rule::SCRIPT_MISSING,
                    PROPERTIES_FILE,
                    jsonpath::keys(ROOT, &["properties", "scriptOperations"]),
                    format!(
                        "{what} but the package has no {SCRIPT_FILE}; build the code into it with `sluice build` (Rust, JavaScript or Python)"
                    ),
                );
            }
            return Ok(());
        };
        let limits = settings.map(|s| s.limits).unwrap_or_default();
        let runtime = match &self.runtime {
            Some(runtime) => runtime.clone(),
            None => {
                let runtime = Runtime::new(checking_config())?;
                self.runtime = Some(runtime.clone());
                runtime
            }
        };
        if let Err(error) = runtime.load(package_id, code, limits) {
            match error {
                LoadError::CodeTooLarge { .. } => {
                    out.push(rule::SCRIPT_TOO_LARGE, script_file, ROOT.into(), error.to_string())
                }
                LoadError::InvalidLimit { limit, .. } => out.push(
                    rule::SETTINGS_INVALID,
                    SETTINGS_FILE,
                    jsonpath::keys(ROOT, &["limits", limit]),
                    error.to_string(),
                ),
                _ => out.push(rule::SCRIPT_CONTRACT, script_file, ROOT.into(), error.to_string()),
            }
        }
        Ok(())
    }
}

/// A runtime for checking and running code from the command line: no
/// instance pool (one call at a time needs none), and a compiled-code cache
/// so that the author's loop (`sluice build`, `validate`, `run`) compiles
/// a component once: a JavaScript or Python guest takes seconds to compile.
pub(crate) fn checking_config() -> RuntimeConfig {
    RuntimeConfig { pooling: false, max_concurrent_calls: 4, cache_dir: user_cache_dir(), ..RuntimeConfig::default() }
}

/// The compiled-code cache of the command line: `SLUICE_CACHE_DIR` when set
/// (empty: no cache), else `$XDG_CACHE_HOME/sluice/compiled`, else
/// `~/.cache/sluice/compiled`.
fn user_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SLUICE_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(|c| PathBuf::from(c).join("sluice/compiled"))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sluice/compiled")))
}

/// The folder's name, the connector id.
fn folder_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[derive(Debug, Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, rule: Rule, file: &str, path: String, message: String) {
        self.0.push(Finding { rule: rule.id, severity: rule.severity, file: file.to_string(), path, message });
    }
}

fn read_optional(dir: &Path, file: &str) -> Result<Option<Vec<u8>>, ValidateError> {
    let path = dir.join(file);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ValidateError::Unreadable { path, source }),
    }
}

/// A JSON file's bytes, and its value when it parses.
type JsonFile = (Vec<u8>, Option<Value>);

/// Reads a required JSON file: `None` when missing (a finding), the bytes
/// and `None` when it does not parse (a finding).
fn read_json(dir: &Path, file: &str, out: &mut Findings) -> Result<Option<JsonFile>, ValidateError> {
    let Some(bytes) = read_optional(dir, file)? else {
        out.push(rule::FILE_MISSING, file, ROOT.into(), "the file is missing".into());
        return Ok(None);
    };
    let value = match sluice_package::json::parse::<Value>(&bytes) {
        Ok((value, leniency)) => {
            if let Some(note) = leniency {
                out.push(rule::JSON_LENIENT, file, ROOT.into(), format!("the file {note}"));
            }
            Some(value)
        }
        Err(e) => {
            out.push(rule::JSON_INVALID, file, ROOT.into(), format!("invalid JSON: {e}"));
            None
        }
    };
    Ok(Some((bytes, value)))
}

/// Reads `sluice.toml` when present and checks its egress rules.
fn read_settings(dir: &Path, out: &mut Findings) -> Result<Option<Settings>, ValidateError> {
    let Some(bytes) = read_optional(dir, SETTINGS_FILE)? else {
        return Ok(Some(Settings::default()));
    };
    let Ok(text) = String::from_utf8(bytes) else {
        out.push(rule::SETTINGS_INVALID, SETTINGS_FILE, ROOT.into(), "the file is not UTF-8".into());
        return Ok(None);
    };
    let settings = match Settings::parse(&text) {
        Ok(settings) => settings,
        Err(e) => {
            out.push(rule::SETTINGS_INVALID, SETTINGS_FILE, ROOT.into(), e.message().trim().to_string());
            return Ok(None);
        }
    };
    let allow = jsonpath::keys(ROOT, &["egress", "allow"]);
    for (index, text) in settings.egress.allow.iter().enumerate() {
        if let Err(e) = sluice_egress::Allowlist::parse([text]) {
            out.push(rule::EGRESS_RULE_INVALID, SETTINGS_FILE, jsonpath::index(&allow, index), e.to_string());
        }
    }
    Ok(Some(settings))
}

mod definition;
mod properties;

use definition::check_definition;
use properties::check_properties;

/// package.
/// Writes reports as text: one line per finding, then one summary line per
/// package.
pub fn write_text(reports: &[PackageReport], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    for report in reports {
        for f in &report.findings {
            writeln!(out, "{}[{}] {}/{} {}: {}", f.severity, f.rule, report.package, f.file, f.path, f.message)?;
        }
        let (errors, warnings) = (report.errors(), report.warnings());
        let verdict = if errors > 0 { "fails" } else { "passes" };
        writeln!(
            out,
            "{}: {verdict} ({errors} error{}, {warnings} warning{})",
            report.package,
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" },
        )?;
    }
    Ok(())
}

/// The exit code for a set of reports: 1 if any has an error, else 0.
pub fn exit_code(reports: &[PackageReport]) -> u8 {
    u8::from(reports.iter().any(|r| r.errors() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len());
    }

    #[test]
    fn summary_rules_apply_to_length_and_characters() {
        let mut out = Findings::default();
        let op = serde_json::json!({"summary": "Get an item / by id.", "description": "d"});
        definition::check_texts(op.as_object().unwrap(), "$.x", &mut out);
        assert_eq!(out.0.len(), 1);
        assert_eq!(out.0[0].rule, "summary-characters");
        assert!(out.0[0].message.contains("`/`") && out.0[0].message.contains("`.`"));
    }
}
