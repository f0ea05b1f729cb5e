//! `apiProperties.json` parsed into [`Properties`]: the connection
//! parameters a connection must supply (with what a form asking for them
//! shows: display name, description, tooltip, allowed values), which
//! operations run the custom code, the raw policy instances and the
//! connector's metadata.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

/// The connector's properties.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    /// `connectionParameters`, in file order, keyed by parameter name.
    pub connection_parameters: IndexMap<String, ConnectionParameter>,
    /// `scriptOperations`: `None` when absent. Absent or empty means every
    /// operation runs the code (see [`Package::runs_code`](super::Package::runs_code)).
    pub script_operations: Option<Vec<String>>,
    /// `policyTemplateInstances`, raw; [`crate::policy::PolicySet::parse`]
    /// reads them.
    pub policy_instances: Vec<Value>,
    /// `publisher`.
    pub publisher: Option<String>,
    /// `stackOwner`.
    pub stack_owner: Option<String>,
    /// `iconBrandColor`, e.g. `#da3b01`.
    pub icon_brand_color: Option<String>,
    /// `capabilities`, e.g. `["actions", "triggers"]`.
    pub capabilities: Vec<String>,
    /// Whether the file has `connectionParameterSets` (several ways to sign
    /// in), which sluice does not read yet.
    pub has_parameter_sets: bool,
}

/// One declared connection parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionParameter {
    /// `type`: `string`, `securestring`, `oauthSetting`, `int`, `bool`, ...
    pub kind: String,
    /// `uiDefinition.constraints.required` (the file writes `"true"` or
    /// `"false"`). Default: false.
    pub required: bool,
    /// `uiDefinition.displayName`, for messages.
    pub display_name: Option<String>,
    /// `uiDefinition.description`, what a form asking for it says.
    pub description: Option<String>,
    /// `uiDefinition.tooltip`, the hint a form shows beside it.
    pub tooltip: Option<String>,
    /// `uiDefinition.constraints.allowedValues`' values: when there are
    /// any, a connection's value must be one of them.
    pub allowed_values: Vec<String>,
    /// `oAuthSettings`, for `oauthSetting` parameters.
    pub oauth: Option<OAuthSettings>,
}

impl ConnectionParameter {
    /// Whether the value is a secret that must never be logged: secure
    /// strings and OAuth tokens.
    pub fn is_secret(&self) -> bool {
        matches!(self.kind.as_str(), "securestring" | "secureobject" | "oauthSetting")
    }
}

/// `oAuthSettings` of an `oauthSetting` connection parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// `identityProvider`, e.g. `oauth2`, `aad`.
    pub identity_provider: String,
    /// `clientId`.
    pub client_id: Option<String>,
    /// `scopes`.
    pub scopes: Vec<String>,
    /// `redirectMode`: `Global`, `GlobalPerConnector` (a redirect URI ending
    /// `/redirect/<connector-id>`) or `Local`.
    pub redirect_mode: Option<String>,
    /// `redirectUrl` (the first one, when the file lists several).
    pub redirect_url: Option<String>,
    /// `customParameters`, each `{ "value": ... }` flattened to its value
    /// (e.g. `authorizationUrl`, `tokenUrl`, `refreshUrl`).
    pub custom_parameters: IndexMap<String, String>,
}

impl OAuthSettings {
    /// Whether `customParameters.enableOnbehalfOfLogin` is on (`true` or
    /// `"true"`): the platform signs the connection in with the maker's own
    /// Entra ID token (on-behalf-of), which the gateway cannot.
    pub fn on_behalf_of_login(&self) -> bool {
        self.custom_parameters.get("enableOnbehalfOfLogin").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
}

#[derive(Deserialize)]
struct RawFile {
    properties: RawProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProperties {
    #[serde(default)]
    connection_parameters: Option<IndexMap<String, RawParameter>>,
    connection_parameter_sets: Option<Value>,
    script_operations: Option<Vec<String>>,
    #[serde(default)]
    policy_template_instances: Option<Vec<Value>>,
    publisher: Option<String>,
    stack_owner: Option<String>,
    icon_brand_color: Option<String>,
    #[serde(default)]
    capabilities: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawParameter {
    #[serde(rename = "type")]
    kind: String,
    ui_definition: Option<RawUi>,
    #[serde(rename = "oAuthSettings")]
    oauth_settings: Option<RawOAuth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUi {
    display_name: Option<String>,
    description: Option<String>,
    tooltip: Option<String>,
    constraints: Option<RawConstraints>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConstraints {
    required: Option<Value>,
    /// A list of `{text, value}`; anything else is ignored.
    allowed_values: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOAuth {
    #[serde(default)]
    identity_provider: String,
    client_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    redirect_mode: Option<String>,
    /// A string, or (in some certified packages) a list of them.
    redirect_url: Option<Value>,
    #[serde(default)]
    custom_parameters: IndexMap<String, Value>,
}

impl Properties {
    /// Parses an `apiProperties.json` file's bytes; `warnings` gets what
    /// sluice ignores.
    pub fn parse(bytes: &[u8], warnings: &mut Vec<String>) -> Result<Self, serde_json::Error> {
        let (raw, leniency): (RawFile, _) = crate::json::parse(bytes)?;
        warnings.extend(leniency.map(|note| format!("the file {note}")));
        let raw = raw.properties;
        let has_parameter_sets = raw.connection_parameter_sets.is_some();
        if has_parameter_sets {
            warnings.push(
                "connectionParameterSets (several ways to sign in) is not supported; only connectionParameters is read"
                    .into(),
            );
        }
        let connection_parameters = raw
            .connection_parameters
            .unwrap_or_default()
            .into_iter()
            .map(|(name, p)| {
                let constraints = p.ui_definition.as_ref().and_then(|u| u.constraints.as_ref());
                let required = match constraints.and_then(|c| c.required.as_ref()) {
                    Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                    Some(Value::Bool(b)) => *b,
                    _ => false,
                };
                let oauth = p.oauth_settings.map(|o| OAuthSettings {
                    identity_provider: o.identity_provider,
                    client_id: o.client_id,
                    scopes: o.scopes,
                    redirect_mode: o.redirect_mode,
                    redirect_url: match o.redirect_url {
                        Some(Value::String(url)) => Some(url),
                        Some(Value::Array(urls)) => urls.into_iter().find_map(|u| u.as_str().map(str::to_string)),
                        _ => None,
                    },
                    custom_parameters: o
                        .custom_parameters
                        .into_iter()
                        .filter_map(|(k, v)| {
                            let value = match v.get("value")? {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            Some((k, value))
                        })
                        .collect(),
                });
                let allowed_values = constraints
                    .and_then(|c| c.allowed_values.as_ref())
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|v| match v.get("value").unwrap_or(v) {
                                Value::String(s) => Some(s.clone()),
                                Value::Null => None,
                                other => Some(other.to_string()),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let ui = p.ui_definition;
                let parameter = ConnectionParameter {
                    kind: p.kind,
                    required,
                    allowed_values,
                    description: ui.as_ref().and_then(|u| u.description.clone()),
                    tooltip: ui.as_ref().and_then(|u| u.tooltip.clone()),
                    display_name: ui.and_then(|u| u.display_name),
                    oauth,
                };
                (name, parameter)
            })
            .collect();
        Ok(Self {
            connection_parameters,
            script_operations: raw.script_operations,
            policy_instances: raw.policy_template_instances.unwrap_or_default(),
            publisher: raw.publisher,
            stack_owner: raw.stack_owner,
            icon_brand_color: raw.icon_brand_color,
            capabilities: raw.capabilities.unwrap_or_default(),
            has_parameter_sets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_accepts_string_and_bool() {
        let json = br#"{"properties": {"connectionParameters": {
            "a": {"type": "string", "uiDefinition": {"constraints": {"required": "true"}}},
            "b": {"type": "securestring", "uiDefinition": {"constraints": {"required": false}}},
            "c": {"type": "string"}
        }}}"#;
        let props = Properties::parse(json, &mut Vec::new()).unwrap();
        let required: Vec<bool> = props.connection_parameters.values().map(|p| p.required).collect();
        assert_eq!(required, [true, false, false]);
        assert!(props.connection_parameters["b"].is_secret());
        assert_eq!(props.script_operations, None);
    }

    #[test]
    fn description_and_tooltip_are_read_from_the_ui_definition() {
        let json = br#"{"properties": {"connectionParameters": {
            "key": {"type": "securestring", "uiDefinition": {"displayName": "API key",
                "description": "The key for this api", "tooltip": "Find it under Settings"}},
            "plain": {"type": "string", "uiDefinition": {"displayName": "Plain"}}
        }}}"#;
        let props = Properties::parse(json, &mut Vec::new()).unwrap();
        let key = &props.connection_parameters["key"];
        assert_eq!(key.description.as_deref(), Some("The key for this api"));
        assert_eq!(key.tooltip.as_deref(), Some("Find it under Settings"));
        let plain = &props.connection_parameters["plain"];
        assert_eq!((plain.description.as_deref(), plain.tooltip.as_deref()), (None, None));
    }

    #[test]
    fn connection_parameter_sets_are_a_warning() {
        let mut warnings = Vec::new();
        Properties::parse(br#"{"properties": {"connectionParameterSets": {}}}"#, &mut warnings).unwrap();
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn missing_properties_object_is_an_error() {
        assert!(Properties::parse(b"{}", &mut Vec::new()).is_err());
    }

    #[test]
    fn a_list_of_redirect_urls_is_read_as_its_first() {
        let file = br#"{"properties": {"connectionParameters": {"token": {"type": "oauthSetting",
            "oAuthSettings": {"identityProvider": "aad", "redirectUrl": ["https://a.example/redirect", "https://b.example"]}}}}}"#;
        let properties = Properties::parse(file, &mut Vec::new()).unwrap();
        let oauth = properties.connection_parameters["token"].oauth.as_ref().unwrap();
        assert_eq!(oauth.redirect_url.as_deref(), Some("https://a.example/redirect"));
    }
}
