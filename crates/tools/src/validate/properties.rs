//! The properties' checks: metadata, connection parameters (those of
//! `connectionParameters` and of each parameter set alike), the parameter
//! sets themselves, script operations and policy instances, against the
//! definition's operations.
//!
//! `connectionParameters` beside `connectionParameterSets` is no finding:
//! the platform's multi-auth document does not forbid it, and 8 of the 9
//! certified packages with sets have both (their `connectionParameters`
//! repeating the sets' parameters). Connections then give a set's
//! parameters, so a parameter only `connectionParameters` declares is one.

use std::collections::HashSet;

use serde_json::{Map, Value};
use sluice_package::Properties;
use sluice_package::oauth_templates::{Defect, GENERIC_PROVIDER, GenericTemplates};
use sluice_policy::PolicySet;

use super::{Findings, PROPERTIES_FILE, rule};
use crate::jsonpath::{self, ROOT};

/// The properties checks. `operations` is `None` when the definition could
/// not be read (references to operations are then not checked).
pub(super) fn check_properties(props: &Map<String, Value>, operations: Option<&HashSet<String>>, out: &mut Findings) {
    let base = jsonpath::key(ROOT, "properties");
    let text = |key: &str| props.get(key).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    if text("publisher").is_none() {
        out.push(
            rule::PUBLISHER_MISSING,
            PROPERTIES_FILE,
            base.clone(),
            "no `publisher`: who publishes the connector".into(),
        );
    }
    if text("stackOwner").is_none() {
        out.push(
            rule::STACK_OWNER_MISSING,
            PROPERTIES_FILE,
            base.clone(),
            "no `stackOwner`: who owns the API behind it".into(),
        );
    }
    match text("iconBrandColor") {
        None => out.push(rule::BRAND_COLOR_MISSING, PROPERTIES_FILE, base.clone(), "no `iconBrandColor`".into()),
        Some(color) => {
            let path = jsonpath::key(&base, "iconBrandColor");
            let well_formed =
                color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit());
            if !well_formed {
                out.push(
                    rule::BRAND_COLOR_INVALID,
                    PROPERTIES_FILE,
                    path,
                    format!("`{color}` is not a colour like `#da3b01`"),
                );
            } else if color.eq_ignore_ascii_case("#007ee5") || color.eq_ignore_ascii_case("#ffffff") {
                out.push(
                    rule::BRAND_COLOR_INVALID,
                    PROPERTIES_FILE,
                    path,
                    format!("`{color}` is reserved; use the brand's own colour"),
                );
            }
        }
    }

    let known = |id: &str| operations.is_none_or(|ops| ops.contains(id));
    if let Some(list) = props.get("scriptOperations").and_then(Value::as_array) {
        let list_path = jsonpath::key(&base, "scriptOperations");
        for (index, id) in list.iter().enumerate() {
            let id = id.as_str().unwrap_or_default();
            if !known(id) {
                out.push(
                    rule::SCRIPT_OPERATION_UNKNOWN,
                    PROPERTIES_FILE,
                    jsonpath::index(&list_path, index),
                    format!("scriptOperations names `{id}`, which the definition does not have"),
                );
            }
        }
    }

    let empty = Map::new();
    let declared = props.get("connectionParameters").and_then(Value::as_object).unwrap_or(&empty);
    let parameters_path = jsonpath::key(&base, "connectionParameters");
    check_oauth_parameters(declared, &parameters_path, out);

    // With several ways to connect (connectionParameterSets), each set's
    // parameters are checked as connectionParameters are, and a policy may
    // use the parameters of any set.
    let mut in_sets = declared.clone();
    if let Some(sets) = props.get("connectionParameterSets") {
        let sets_path = jsonpath::key(&base, "connectionParameterSets");
        let declared_by_sets = check_parameter_sets(sets, &sets_path, out);
        for (name, _) in declared.iter().filter(|(name, _)| !declared_by_sets.contains_key(*name)) {
            out.push(
                rule::CONNECTION_PARAMETER_OUTSIDE_SETS,
                PROPERTIES_FILE,
                jsonpath::key(&parameters_path, name),
                format!("connectionParameters declares `{name}`, which no parameter set declares: a connection gives the parameters of the set it chooses, so `{name}` never has a value"),
            );
        }
        in_sets.extend(declared_by_sets);
    }
    let policies_path = jsonpath::key(&base, "policyTemplateInstances");
    for (index, instance) in
        props.get("policyTemplateInstances").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let has_sets = props.contains_key("connectionParameterSets");
        check_policy(instance, &jsonpath::index(&policies_path, index), (&in_sets, has_sets), &known, out);
    }
}

/// The checks of `oauthSetting` parameters (identity provider, redirect
/// mode) over one map of parameters at `path`: `connectionParameters`, or a
/// set's `parameters`.
fn check_oauth_parameters(declared: &Map<String, Value>, path: &str, out: &mut Findings) {
    for (name, parameter) in declared {
        if parameter.get("type").and_then(Value::as_str) != Some("oauthSetting") {
            continue;
        }
        let settings = parameter.get("oAuthSettings");
        if let Some(provider) = settings.and_then(|s| s.get("identityProvider")).and_then(Value::as_str)
            && !sluice_package::SUPPORTED_IDENTITY_PROVIDERS.iter().any(|p| provider.eq_ignore_ascii_case(p))
        {
            out.push(
                rule::IDENTITY_PROVIDER_UNSUPPORTED,
                PROPERTIES_FILE,
                jsonpath::keys(path, &[name, "oAuthSettings", "identityProvider"]),
                format!(
                    "identity provider `{provider}` is not one sluice signs in with ({}): its sign-in is read as plain OAuth 2.0 from the definition's and customParameters' URLs",
                    sluice_package::SUPPORTED_IDENTITY_PROVIDERS.join(", ")
                ),
            );
        }
        // A warning, not an error: the connection still signs in, with the
        // authorization code at the same app and resource; what is lost is
        // the platform's silent sign-in with the maker's own token.
        let on_behalf_of = settings
            .and_then(|s| s.get("customParameters"))
            .and_then(|c| c.get("enableOnbehalfOfLogin"))
            .and_then(|p| p.get("value"));
        if on_behalf_of.is_some_and(|v| {
            v == &Value::Bool(true) || v.as_str().is_some_and(|s| s.trim().eq_ignore_ascii_case("true"))
        }) {
            out.push(
                rule::OAUTH_ON_BEHALF_OF,
                PROPERTIES_FILE,
                jsonpath::keys(path, &[name, "oAuthSettings", "customParameters", "enableOnbehalfOfLogin"]),
                format!("connection parameter `{name}` asks for on-behalf-of sign-in (enableOnbehalfOfLogin), where the platform exchanges the maker's own Entra ID token; sluice cannot, so each connection signs in itself (authorization code, same app and resource)"),
            );
        }
        if let Some(provider) = settings.and_then(|s| s.get("identityProvider")).and_then(Value::as_str)
            && provider.eq_ignore_ascii_case(GENERIC_PROVIDER)
        {
            check_templates(declared, name, &jsonpath::keys(path, &[name, "oAuthSettings"]), out);
        }
        let mode = settings.and_then(|s| s.get("redirectMode")).and_then(Value::as_str);
        if mode.is_none_or(|m| m.eq_ignore_ascii_case("Global")) {
            let at = match mode {
                Some(_) => jsonpath::keys(path, &[name, "oAuthSettings", "redirectMode"]),
                None => jsonpath::keys(path, &[name, "oAuthSettings"]),
            };
            out.push(
                rule::OAUTH_GLOBAL_REDIRECT,
                PROPERTIES_FILE,
                at,
                format!(
                    "connection parameter `{name}` uses the global redirect URI (https://global.consent.azure-apim.net/redirect); set \"redirectMode\": \"GlobalPerConnector\" and register the per-connector redirect URI, https://global.consent.azure-apim.net/redirect/<connector-id>, with the identity provider"
                ),
            );
        }
    }
}

/// The templates of `oauth2generic` parameter `name`, against the
/// parameters declared beside it (`connectionParameters`, or its set's);
/// `at` is the path of its `oAuthSettings`.
fn check_templates(declared: &Map<String, Value>, name: &str, at: &str, out: &mut Findings) {
    let properties = serde_json::json!({ "properties": { "connectionParameters": declared } });
    let bytes = serde_json::to_vec(&properties).unwrap_or_default();
    let Ok(typed) = Properties::parse(&bytes, &mut Vec::new()) else { return };
    let Some(settings) = typed.connection_parameters.get(name).and_then(|p| p.oauth.as_ref()) else { return };
    let custom = jsonpath::key(at, "customParameters");
    let defects = match GenericTemplates::parse(&settings.custom_parameters) {
        Ok(templates) => templates.defects(settings, &typed.connection_parameters),
        Err(missing) => vec![Defect::Missing(missing)],
    };
    // A placeholder naming one of the package's own customParameters
    // (NetDocuments' `{US_domain}`, beside `uS_domain`) is filled by the
    // platform, which certified the package, in a way it does not document
    // (the region's client secret, `{US_clientSecret}`, is in no file at
    // all): sluice cannot sign in with it, but such a package is no defect.
    let names_custom = |defect: &Defect| match defect {
        Defect::UnknownPlaceholder { placeholder, .. } => {
            settings.custom_parameters.keys().any(|k| k.eq_ignore_ascii_case(placeholder))
        }
        _ => false,
    };
    let platform_fills = defects.iter().any(names_custom);
    for defect in defects {
        let path = match &defect {
            Defect::Missing(_) => custom.clone(),
            other if other.key() == "scopes" => jsonpath::key(at, "scopes"),
            other => jsonpath::key(&custom, other.key()),
        };
        let (rule, message) = if platform_fills && matches!(defect, Defect::UnknownPlaceholder { .. }) {
            (
                rule::OAUTH_TEMPLATE_UNSUPPORTED,
                format!("{defect}; the platform fills it from customParameters, which sluice does not"),
            )
        } else if defect.is_error() {
            (rule::OAUTH_TEMPLATE_INVALID, defect.to_string())
        } else {
            (rule::OAUTH_ENDPOINT_HOST, defect.to_string())
        };
        out.push(rule, PROPERTIES_FILE, path, message);
    }
}

/// The checks of `connectionParameterSets` at `path`: at least one set, each
/// named, no two of one name, each with parameters, and each set's
/// parameters checked as `connectionParameters` are. Returns every
/// parameter some set declares.
fn check_parameter_sets(sets: &Value, path: &str, out: &mut Findings) -> Map<String, Value> {
    let mut declared = Map::new();
    let values_path = jsonpath::key(path, "values");
    let values = sets.get("values").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if values.is_empty() {
        out.push(
            rule::PARAMETER_SETS_EMPTY,
            PROPERTIES_FILE,
            path.to_string(),
            "connectionParameterSets lists no sets in `values`: there is no way to connect".into(),
        );
    }
    let mut names: Vec<String> = Vec::new();
    for (index, set) in values.iter().enumerate() {
        let set_path = jsonpath::index(&values_path, index);
        let name = set.get("name").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty());
        match name {
            None => out.push(
                rule::PARAMETER_SET_NAME,
                PROPERTIES_FILE,
                set_path.clone(),
                format!("set {index} has no `name`, so no connection can choose it"),
            ),
            Some(name) if names.iter().any(|n| n.eq_ignore_ascii_case(name)) => out.push(
                rule::PARAMETER_SET_NAME,
                PROPERTIES_FILE,
                jsonpath::key(&set_path, "name"),
                format!("two sets are named `{name}` (names are compared without case)"),
            ),
            Some(name) => names.push(name.to_string()),
        }
        let label = name.map_or_else(|| format!("set {index}"), |n| format!("set `{n}`"));
        match set.get("parameters").and_then(Value::as_object) {
            Some(parameters) if !parameters.is_empty() => {
                check_oauth_parameters(parameters, &jsonpath::key(&set_path, "parameters"), out);
                declared.extend(parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            _ => out.push(
                rule::PARAMETER_SET_WITHOUT_PARAMETERS,
                PROPERTIES_FILE,
                set_path.clone(),
                format!("{label} declares no parameters: a connection through it gives no credentials"),
            ),
        }
    }
    declared
}

/// `declared` is every parameter a connection may have, and whether the
/// package has parameter sets.
fn check_policy(
    instance: &Value,
    path: &str,
    (declared, has_sets): (&Map<String, Value>, bool),
    known: &dyn Fn(&str) -> bool,
    out: &mut Findings,
) {
    let template_id = instance.get("templateId").and_then(Value::as_str).unwrap_or_default();
    let template = sluice_policy::template(template_id);
    if !template_id.is_empty() && template.is_none() {
        out.push(
            rule::POLICY_TEMPLATE_UNKNOWN,
            PROPERTIES_FILE,
            jsonpath::key(path, "templateId"),
            format!("`{template_id}` is not a policy template of the platform"),
        );
        return;
    }
    let (set, warnings) = PolicySet::parse(std::slice::from_ref(instance));
    let Some(policy) = set.policies().first() else {
        let reason = warnings.join("; ");
        let reason = reason.strip_prefix("policy 0: ").unwrap_or(&reason);
        out.push(rule::POLICY_INVALID, PROPERTIES_FILE, path.to_string(), reason.to_string());
        return;
    };
    for warning in warnings {
        out.push(rule::POLICY_PARAMETER, PROPERTIES_FILE, jsonpath::key(path, "parameters"), warning);
    }
    for operation in policy.operations().iter().filter(|o| !known(o)) {
        out.push(
            rule::POLICY_OPERATION_UNKNOWN,
            PROPERTIES_FILE,
            jsonpath::keys(path, &["parameters", "x-ms-apimTemplate-operationName"]),
            format!("policy `{}` names operation `{operation}`, which the definition does not have", policy.title()),
        );
    }
    let parameters = instance.get("parameters").and_then(Value::as_object);
    for name in policy.connection_parameters() {
        if declared.contains_key(name) {
            continue;
        }
        // Point at the parameter whose expression names it.
        let needle = format!("'{name}'");
        let at = parameters
            .and_then(|p| p.iter().find(|(_, v)| v.as_str().is_some_and(|s| s.contains(&needle))))
            .map_or_else(|| jsonpath::key(path, "parameters"), |(key, _)| jsonpath::keys(path, &["parameters", key]));
        let hint = declared
            .keys()
            .find(|d| d.eq_ignore_ascii_case(name))
            .map(|d| format!("; did you mean `{d}`? names are case-sensitive"))
            .unwrap_or_default();
        let declarers = if has_sets {
            "neither connectionParameters nor a parameter set declares"
        } else {
            "connectionParameters does not declare"
        };
        out.push(
            rule::CONNECTION_PARAMETER_UNDECLARED,
            PROPERTIES_FILE,
            at,
            format!("policy `{}` uses @connectionParameters('{name}'), which {declarers}{hint}", policy.title()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules that fire on an `oauthSetting` parameter `token` of
    /// `provider` with these `customParameters`.
    fn oauth_rules(provider: &str, custom: Value) -> Vec<(&'static str, String)> {
        let props = serde_json::json!({
            "connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
                "identityProvider": provider, "clientId": "c", "redirectMode": "GlobalPerConnector",
                "customParameters": custom}}},
            "publisher": "p", "stackOwner": "s", "iconBrandColor": "#da3b01"
        });
        let mut out = Findings::default();
        check_properties(props.as_object().expect("an object"), None, &mut out);
        out.0.iter().map(|f| (f.rule, f.path.clone())).collect()
    }

    #[test]
    fn aadcertificate_is_an_identity_provider_sluice_serves() {
        let custom = serde_json::json!({"loginUriAAD": {"value": "https://login.windows.net"}, "tenantId": {},
                                        "resourceUri": {"value": "https://management.core.windows.net"}});
        assert_eq!(oauth_rules("aadcertificate", custom.clone()), []);
        assert_eq!(oauth_rules("AADCertificate", custom), []);
        assert_eq!(
            oauth_rules("facebook", serde_json::json!({})),
            [(
                "identity-provider-unsupported",
                "$.properties.connectionParameters.token.oAuthSettings.identityProvider".to_string()
            )]
        );
    }

    #[test]
    fn on_behalf_of_sign_in_is_a_warning_where_it_is_asked_for() {
        let path = "$.properties.connectionParameters.token.oAuthSettings.customParameters.enableOnbehalfOfLogin";
        for (value, warned) in [
            (serde_json::json!("true"), true),
            (serde_json::json!(true), true),
            (serde_json::json!("True"), true),
            (serde_json::json!("false"), false),
            (serde_json::json!(false), false),
            (Value::Null, false),
        ] {
            for provider in ["aad", "aadcertificate"] {
                let rules = oauth_rules(provider, serde_json::json!({"enableOnbehalfOfLogin": {"value": value}}));
                let expected = if warned { vec![("oauth-on-behalf-of", path.to_string())] } else { vec![] };
                assert_eq!(rules, expected, "{provider}, {value}");
            }
        }
        assert_eq!(rule::OAUTH_ON_BEHALF_OF.severity, super::super::Severity::Warning);
    }
}
