//! `sluice connectors check`: the migration report. It loads each package
//! as the gateway would (the package files, then the code through the
//! runtime) and says, per package: whether it loads and why not, how many
//! operations it has, what its code is (a component, C# not ported, none),
//! what in it sluice does not run yet, its OAuth redirect mode and its policy
//! templates. This is what an operator moving from the platform runs first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sluice_package::oauth_templates::{Defect, GENERIC_PROVIDER, GenericTemplates};
use sluice_package::{DEFINITION_FILE, Package, RedirectMode};
use sluice_runtime::{Runtime, RuntimeConfig};

/// What a package's custom code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// A `script.wasm` component that loads in the runtime.
    Component,
    /// A `script.wasm` that does not load (the reason is in `error`).
    BrokenComponent,
    /// `script.csx` only: the platform's C#, not ported; its operations
    /// answer 501.
    NotPorted,
    /// No code.
    None,
}

/// One package's line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageCheck {
    /// The folder.
    pub dir: PathBuf,
    /// The connector id (the folder's name), when it loads.
    pub package: Option<String>,
    /// Whether the gateway would serve it.
    pub loads: bool,
    /// Why it does not load, or why its code does not.
    pub error: Option<String>,
    /// Its operations.
    pub operations: usize,
    /// Operations that run code.
    pub code_operations: usize,
    /// What its code is.
    pub code: Code,
    /// What in it sluice does not run yet, by short name (e.g.
    /// `unknown-template:frobnicate`,
    /// `identity-provider:oauth2`, `on-behalf-of-login`,
    /// `oauth2generic-template`).
    pub unsupported: Vec<String>,
    /// `per-connector` or `global` for OAuth connectors.
    pub redirect_mode: Option<&'static str>,
    /// Its policy templates, as the platform names them.
    pub templates: Vec<String>,
}

/// The totals over every package checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Packages checked.
    pub packages: usize,
    /// Packages that load.
    pub loaded: usize,
    /// Operations of the packages that load.
    pub operations: usize,
    /// Of those, operations that answer without an unported code refusal.
    pub callable_operations: usize,
    /// Packages with a component.
    pub component: usize,
    /// Packages whose code is C# not ported.
    pub not_ported: usize,
    /// Packages with something sluice does not run yet.
    pub with_unsupported: usize,
    /// OAuth connectors still on the global redirect URI.
    pub global_redirect: usize,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// One entry per package, in path order.
    pub packages: Vec<PackageCheck>,
    /// The totals.
    pub totals: Totals,
}

/// The package folders under `paths`: each path that is a package, and
/// every package folder below the others (platform repositories nest
/// versions, `X/V2/`), skipping hidden folders and guest crates.
pub fn package_dirs(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if dir.join(DEFINITION_FILE).is_file() {
            out.push(dir.to_path_buf());
        }
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut children: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('.') && n != "guest"))
            .collect();
        children.sort();
        for child in children {
            walk(&child, depth - 1, out);
        }
    }
    let mut out = Vec::new();
    for path in paths {
        walk(path, 3, &mut out);
    }
    out
}

/// Checks every package under `paths` (see [`package_dirs`]).
pub fn check(paths: &[PathBuf]) -> CheckReport {
    let mut runtime = None;
    let packages: Vec<PackageCheck> = package_dirs(paths).iter().map(|dir| check_one(dir, &mut runtime)).collect();
    let mut totals = Totals { packages: packages.len(), ..Totals::default() };
    for p in packages.iter().filter(|p| p.loads) {
        totals.loaded += 1;
        totals.operations += p.operations;
        let refused = if p.code == Code::NotPorted { p.code_operations } else { 0 };
        totals.callable_operations += p.operations - refused;
        totals.component += usize::from(p.code == Code::Component);
        totals.not_ported += usize::from(p.code == Code::NotPorted);
        totals.with_unsupported += usize::from(!p.unsupported.is_empty());
        totals.global_redirect += usize::from(p.redirect_mode == Some("global"));
    }
    CheckReport { packages, totals }
}

fn check_one(dir: &Path, runtime: &mut Option<Result<Runtime, String>>) -> PackageCheck {
    let mut check = PackageCheck {
        dir: dir.to_path_buf(),
        package: None,
        loads: false,
        error: None,
        operations: 0,
        code_operations: 0,
        code: Code::None,
        unsupported: Vec::new(),
        redirect_mode: None,
        templates: Vec::new(),
    };
    let package = match sluice_package::load_package(dir) {
        Ok(package) => package,
        Err(error) => {
            check.error = Some(format!("{}: {}", error.file, error.reason));
            return check;
        }
    };
    check.package = Some(package.id.clone());
    check.loads = true;
    check.operations = package.definition.operations.len();
    let ids = package.definition.operations.iter().map(|op| op.id.as_str());
    check.code_operations = ids.filter(|id| package.runs_code(id) || package.code_not_ported(id)).count();
    check.code = match (&package.script, &package.unported_code) {
        (Some(bytes), _) => {
            let runtime =
                runtime.get_or_insert_with(|| Runtime::new(RuntimeConfig::default()).map_err(|e| e.to_string()));
            match runtime.as_ref().map(|r| r.load(&package.id, bytes, package.settings.limits)) {
                Ok(Ok(_)) => Code::Component,
                Ok(Err(error)) => {
                    check.loads = false;
                    check.error = Some(format!("script.wasm: {error}"));
                    Code::BrokenComponent
                }
                Err(error) => {
                    check.error = Some(format!("the runtime does not start: {error}"));
                    Code::BrokenComponent
                }
            }
        }
        (None, Some(_)) => Code::NotPorted,
        (None, None) => Code::None,
    };
    check.templates = templates(&package);
    check.unsupported = unsupported(&package, &check.templates);
    if package.uses_oauth() {
        // With parameter sets, the connector is on the global redirect URI
        // while any set that signs in is.
        let names = package.properties.parameter_set_names();
        let global = if names.is_empty() {
            package.redirect_mode(None) == RedirectMode::Global
        } else {
            names
                .iter()
                .any(|set| package.signs_in(Some(set)) && package.redirect_mode(Some(set)) == RedirectMode::Global)
        };
        check.redirect_mode = Some(if global { "global" } else { "per-connector" });
    }
    check
}

/// The `templateId`s of the package's policies, lower case, each once.
fn templates(package: &Package) -> Vec<String> {
    let ids: BTreeSet<String> = package
        .properties
        .policy_instances
        .iter()
        .filter_map(|p| p.get("templateId").and_then(|t| t.as_str()))
        .map(str::to_ascii_lowercase)
        .collect();
    ids.into_iter().collect()
}

/// What in the package sluice does not run yet.
fn unsupported(package: &Package, templates: &[String]) -> Vec<String> {
    let mut out = BTreeSet::new();
    for id in templates {
        match sluice_policy::template(id) {
            Some(_) => {}
            None => {
                out.insert(format!("unknown-template:{id}"));
            }
        }
    }
    // Every way of connecting is checked: a connector with parameter sets
    // signs in with each set's provider.
    for (set, oauth) in package.properties.oauth_settings() {
        if !sluice_package::SUPPORTED_IDENTITY_PROVIDERS.iter().any(|p| oauth.identity_provider.eq_ignore_ascii_case(p))
        {
            out.insert(format!("identity-provider:{}", oauth.identity_provider.to_ascii_lowercase()));
        }
        if oauth.on_behalf_of_login() {
            out.insert("on-behalf-of-login".to_string());
        }
        // Templates sluice cannot fill, whatever the operator configures
        // (a placeholder naming nothing it knows).
        if oauth.identity_provider.eq_ignore_ascii_case(GENERIC_PROVIDER) {
            let declared = set.map_or(&package.properties.connection_parameters, |set| &set.parameters);
            let defects = match GenericTemplates::parse(&oauth.custom_parameters) {
                Ok(templates) => templates.defects(oauth, declared),
                Err(missing) => vec![Defect::Missing(missing)],
            };
            if defects.iter().any(Defect::is_error) {
                out.insert("oauth2generic-template".to_string());
            }
        }
    }
    out.into_iter().collect()
}

impl PackageCheck {
    /// The report's line for people: `id: loads, 12 operations, code: none, ...`.
    pub fn line(&self) -> String {
        let name = self.package.clone().unwrap_or_else(|| self.dir.display().to_string());
        if !self.loads {
            return format!("{name}: does not load: {}", self.error.as_deref().unwrap_or("unknown reason"));
        }
        let code = match self.code {
            Code::Component => format!("code: component ({} operations)", self.code_operations),
            Code::BrokenComponent => "code: does not load".to_string(),
            Code::NotPorted => format!("code: C# not ported ({} operations answer 501)", self.code_operations),
            Code::None => "code: none".to_string(),
        };
        let mut parts = vec![format!("loads, {} operations", self.operations), code];
        if let Some(mode) = self.redirect_mode {
            parts.push(format!("oauth redirect: {mode}"));
        }
        if !self.templates.is_empty() {
            parts.push(format!("templates: {}", self.templates.join(" ")));
        }
        if !self.unsupported.is_empty() {
            parts.push(format!("unsupported: {}", self.unsupported.join(" ")));
        }
        format!("{name}: {}", parts.join("; "))
    }
}

impl Totals {
    /// The totals line for people.
    pub fn line(&self) -> String {
        format!(
            "{} packages: {} load; {} operations, {} callable; code: {} components, {} C# not ported; {} with unsupported features; {} OAuth on the global redirect URI",
            self.packages,
            self.loaded,
            self.operations,
            self.callable_operations,
            self.component,
            self.not_ported,
            self.with_unsupported,
            self.global_redirect
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report's `unsupported` of one package whose `token` parameter
    /// signs in with `provider` and these `customParameters`.
    fn unsupported_of(provider: &str, custom: serde_json::Value) -> Vec<String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let package = dir.path().join("Twins");
        std::fs::create_dir_all(&package).expect("package dir");
        let definition = serde_json::json!({"swagger": "2.0", "info": {"title": "t", "version": "1"}, "host": "h",
            "paths": {"/a": {"get": {"operationId": "A", "responses": {"200": {"description": "ok"}}}}}});
        let properties = serde_json::json!({"properties": {"connectionParameters": {"token": {
            "type": "oauthSetting", "oAuthSettings": {"identityProvider": provider, "clientId": "c",
            "redirectMode": "GlobalPerConnector", "customParameters": custom}}}}});
        std::fs::write(package.join(DEFINITION_FILE), definition.to_string()).expect("definition");
        std::fs::write(package.join(sluice_package::PROPERTIES_FILE), properties.to_string()).expect("properties");
        let report = check(&[dir.path().to_path_buf()]);
        assert!(report.packages[0].loads, "{:?}", report.packages[0].error);
        report.packages[0].unsupported.clone()
    }

    #[test]
    fn aadcertificate_is_served_and_on_behalf_of_sign_in_is_not() {
        let custom = serde_json::json!({"loginUri": {"value": "https://login.windows.net"},
                                        "resourceUri": {"value": "https://digitaltwins.azure.net"}});
        assert!(unsupported_of("aadcertificate", custom).is_empty());
        let custom = serde_json::json!({"enableOnbehalfOfLogin": {"value": "false"}});
        assert!(unsupported_of("aadcertificate", custom).is_empty());
        let custom = serde_json::json!({"enableOnbehalfOfLogin": {"value": "true"}});
        assert_eq!(unsupported_of("aad", custom), ["on-behalf-of-login"]);
        assert_eq!(unsupported_of("facebook", serde_json::json!({})), ["identity-provider:facebook"]);
    }
}
