//! `apiProperties.json` parsed into [`Properties`]: the connection
//! parameters a connection must supply (with what a form asking for them
//! shows: display name, description, tooltip, allowed values), or the
//! several ways to connect of `connectionParameterSets` (the platform's
//! "multi-auth"), of which a connection chooses one; which operations run
//! the custom code, the raw policy instances and the connector's metadata.
//!
//! A set's parameters have the shape of `connectionParameters`. Their names
//! are taken as written: `token:customHost` (the platform's way of naming a
//! value that goes with the OAuth parameter `token`) is one name, which a
//! policy reads as `@connectionParameters('token:customHost')`.

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
    /// `connectionParameterSets`: several ways to connect, of which a
    /// connection chooses one by name. When a package has them, they (not
    /// `connectionParameters`) say what a connection's values are.
    pub parameter_sets: Option<ParameterSets>,
}

/// `connectionParameterSets`: the ways to connect a connector offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParameterSets {
    /// `uiDefinition.displayName`: what a form asks, e.g. "Authentication type".
    pub display_name: Option<String>,
    /// `uiDefinition.description`.
    pub description: Option<String>,
    /// The sets (`values`), in file order; at least one, names unique.
    pub sets: Vec<ParameterSet>,
}

/// One way to connect: a named set of connection parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParameterSet {
    /// `name`: what a connection names to choose it, e.g. `oauth`.
    pub name: String,
    /// `uiDefinition.displayName`, e.g. "API key".
    pub display_name: Option<String>,
    /// `uiDefinition.description`.
    pub description: Option<String>,
    /// `parameters`, in file order, with the shape of `connectionParameters`.
    pub parameters: IndexMap<String, ConnectionParameter>,
}

impl ParameterSet {
    /// The set's `oauthSetting` parameter's `oAuthSettings`, if it signs in.
    pub fn oauth(&self) -> Option<&OAuthSettings> {
        self.parameters.values().find_map(|p| p.oauth.as_ref())
    }
}

/// `connectionParameterSets` is unusable; the package does not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParameterSetsError {
    /// `values` is missing or empty: there is no way to connect.
    #[error("connectionParameterSets has no sets in `values`")]
    Empty,
    /// A set has no `name` (or an empty one), so no connection can choose it.
    #[error("connectionParameterSets: set {index} (counting from 0) has no `name`")]
    Unnamed {
        /// Its position in `values`.
        index: usize,
    },
    /// Two sets have the same name (compared without case, so that a choice
    /// is never ambiguous to a person reading it).
    #[error("connectionParameterSets: two sets are named `{name}`")]
    Duplicate {
        /// The name.
        name: String,
    },
}

/// A connection's choice of parameter set does not fit its connector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetChoiceError {
    /// The connector has sets and the connection names none.
    #[error("connector `{connector}` offers several ways to connect; choose a parameter set: {sets}")]
    Required {
        /// The connector.
        connector: String,
        /// Its set names, comma-separated.
        sets: String,
    },
    /// The connection names a set the connector does not have.
    #[error("connector `{connector}` has no parameter set `{set}` (it has: {sets})")]
    Unknown {
        /// The connector.
        connector: String,
        /// The set named.
        set: String,
        /// Its set names, comma-separated.
        sets: String,
    },
    /// The connection names a set, and the connector has none.
    #[error("connector `{connector}` has no parameter sets, so set `{set}` cannot be chosen")]
    NoSets {
        /// The connector.
        connector: String,
        /// The set named.
        set: String,
    },
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
    connection_parameter_sets: Option<RawSets>,
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
struct RawSets {
    ui_definition: Option<RawSetUi>,
    values: Option<Vec<RawSet>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSet {
    name: Option<String>,
    ui_definition: Option<RawSetUi>,
    parameters: Option<IndexMap<String, RawParameter>>,
}

/// A set's (or the sets') `uiDefinition`; the platform's own documents
/// write `displayname` as often as `displayName`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSetUi {
    #[serde(alias = "displayname")]
    display_name: Option<String>,
    description: Option<String>,
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

/// `apiProperties.json` could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PropertiesError {
    /// Not JSON, or not the shape expected.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// `connectionParameterSets` is unusable.
    #[error(transparent)]
    ParameterSets(#[from] ParameterSetsError),
}

impl Properties {
    /// Parses an `apiProperties.json` file's bytes; `warnings` gets what
    /// sluice ignores.
    pub fn parse(bytes: &[u8], warnings: &mut Vec<String>) -> Result<Self, PropertiesError> {
        let (raw, leniency): (RawFile, _) = crate::json::parse(bytes)?;
        warnings.extend(leniency.map(|note| format!("the file {note}")));
        let raw = raw.properties;
        let parameter_sets = raw.connection_parameter_sets.map(parameter_sets).transpose()?;
        Ok(Self {
            connection_parameters: parameters(raw.connection_parameters.unwrap_or_default()),
            script_operations: raw.script_operations,
            policy_instances: raw.policy_template_instances.unwrap_or_default(),
            publisher: raw.publisher,
            stack_owner: raw.stack_owner,
            icon_brand_color: raw.icon_brand_color,
            capabilities: raw.capabilities.unwrap_or_default(),
            parameter_sets,
        })
    }

    /// The names of the parameter sets, in file order; empty for a
    /// connector without them.
    pub fn parameter_set_names(&self) -> Vec<&str> {
        self.parameter_sets.iter().flat_map(|s| &s.sets).map(|s| s.name.as_str()).collect()
    }

    /// The parameter set named `name` (exactly), if the connector has it.
    pub fn parameter_set(&self, name: &str) -> Option<&ParameterSet> {
        self.parameter_sets.as_ref()?.sets.iter().find(|s| s.name == name)
    }

    /// The parameters that apply to a connection of `connector` that chose
    /// `set`: the set's, when the connector has sets (one must be chosen),
    /// else `connectionParameters` (none may be).
    pub fn parameters_for(
        &self,
        connector: &str,
        set: Option<&str>,
    ) -> Result<&IndexMap<String, ConnectionParameter>, SetChoiceError> {
        let names = || self.parameter_set_names().join(", ");
        match (&self.parameter_sets, set) {
            (None, None) => Ok(&self.connection_parameters),
            (None, Some(set)) => Err(SetChoiceError::NoSets { connector: connector.to_string(), set: set.to_string() }),
            (Some(_), None) => Err(SetChoiceError::Required { connector: connector.to_string(), sets: names() }),
            (Some(_), Some(name)) => self.parameter_set(name).map(|s| &s.parameters).ok_or_else(|| {
                SetChoiceError::Unknown { connector: connector.to_string(), set: name.to_string(), sets: names() }
            }),
        }
    }

    /// Every parameter some way of connecting declares: `connectionParameters`
    /// and each set's (a name may come more than once), for the checks of
    /// what policies read.
    pub fn all_parameters(&self) -> impl Iterator<Item = (&String, &ConnectionParameter)> {
        self.connection_parameters
            .iter()
            .chain(self.parameter_sets.iter().flat_map(|s| &s.sets).flat_map(|s| &s.parameters))
    }

    /// Every `oAuthSettings` the connector has, with the set it belongs to
    /// (`None` for `connectionParameters`'): what the redirect audit and the
    /// connector's page show. `connectionParameters`' is left out when the
    /// connector has sets, since no connection then uses it.
    pub fn oauth_settings(&self) -> Vec<(Option<&ParameterSet>, &OAuthSettings)> {
        match &self.parameter_sets {
            Some(sets) => sets.sets.iter().filter_map(|s| s.oauth().map(|o| (Some(s), o))).collect(),
            None => self.connection_parameters.values().filter_map(|p| p.oauth.as_ref()).map(|o| (None, o)).collect(),
        }
    }
}

fn parameter_sets(raw: RawSets) -> Result<ParameterSets, ParameterSetsError> {
    let values = raw.values.unwrap_or_default();
    if values.is_empty() {
        return Err(ParameterSetsError::Empty);
    }
    let mut sets: Vec<ParameterSet> = Vec::with_capacity(values.len());
    for (index, set) in values.into_iter().enumerate() {
        let name = set.name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        let Some(name) = name else { return Err(ParameterSetsError::Unnamed { index }) };
        if sets.iter().any(|s| s.name.eq_ignore_ascii_case(&name)) {
            return Err(ParameterSetsError::Duplicate { name });
        }
        let ui = set.ui_definition;
        sets.push(ParameterSet {
            name,
            display_name: ui.as_ref().and_then(|u| u.display_name.clone()),
            description: ui.and_then(|u| u.description),
            parameters: parameters(set.parameters.unwrap_or_default()),
        });
    }
    let ui = raw.ui_definition;
    Ok(ParameterSets {
        display_name: ui.as_ref().and_then(|u| u.display_name.clone()),
        description: ui.and_then(|u| u.description),
        sets,
    })
}

fn parameters(raw: IndexMap<String, RawParameter>) -> IndexMap<String, ConnectionParameter> {
    raw.into_iter().map(|(name, p)| (name, parameter(p))).collect()
}

fn parameter(p: RawParameter) -> ConnectionParameter {
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
    ConnectionParameter {
        kind: p.kind,
        required,
        allowed_values,
        description: ui.as_ref().and_then(|u| u.description.clone()),
        tooltip: ui.as_ref().and_then(|u| u.tooltip.clone()),
        display_name: ui.and_then(|u| u.display_name),
        oauth,
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

    /// An API-key set and an OAuth set with a `token:`-prefixed parameter,
    /// as the certified packages that use sets write them.
    const SETS: &[u8] = br#"{"properties": {
        "connectionParameters": {"legacy": {"type": "string"}},
        "connectionParameterSets": {
            "uiDefinition": {"displayName": "Authentication type", "description": "How to connect"},
            "values": [
                {"name": "key", "uiDefinition": {"displayname": "API key", "description": "A key from Settings"},
                 "parameters": {
                    "api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}},
                    "region": {"type": "string", "uiDefinition": {"constraints": {"allowedValues": [{"value": "eu"}]}}}}},
                {"name": "oauth", "uiDefinition": {"displayName": "Sign in"},
                 "parameters": {
                    "token": {"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2",
                        "clientId": "c", "redirectMode": "GlobalPerConnector"}},
                    "token:customHost": {"type": "string", "uiDefinition": {"constraints": {"required": "true"}}}}}
            ]}}}"#;

    #[test]
    fn parameter_sets_are_read_in_file_order_with_their_parameters() {
        let mut warnings = Vec::new();
        let props = Properties::parse(SETS, &mut warnings).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let sets = props.parameter_sets.as_ref().unwrap();
        assert_eq!(sets.display_name.as_deref(), Some("Authentication type"));
        assert_eq!(sets.description.as_deref(), Some("How to connect"));
        assert_eq!(props.parameter_set_names(), ["key", "oauth"]);
        let key = props.parameter_set("key").unwrap();
        assert_eq!(key.display_name.as_deref(), Some("API key"), "`displayname` is read too");
        assert_eq!(key.parameters.keys().collect::<Vec<_>>(), ["api_key", "region"]);
        assert!(key.parameters["api_key"].required && key.parameters["api_key"].is_secret());
        assert_eq!(key.parameters["region"].allowed_values, ["eu"]);
        assert!(key.oauth().is_none());
        let oauth = props.parameter_set("oauth").unwrap();
        assert_eq!(oauth.parameters.keys().collect::<Vec<_>>(), ["token", "token:customHost"]);
        assert_eq!(oauth.oauth().unwrap().redirect_mode.as_deref(), Some("GlobalPerConnector"));
        assert_eq!(props.oauth_settings().len(), 1);
        let every: Vec<&str> = props.all_parameters().map(|(name, _)| name.as_str()).collect();
        assert_eq!(every, ["legacy", "api_key", "region", "token", "token:customHost"]);
    }

    #[test]
    fn a_connection_gets_the_parameters_of_the_set_it_chooses() {
        let props = Properties::parse(SETS, &mut Vec::new()).unwrap();
        let oauth = props.parameters_for("Shop", Some("oauth")).unwrap();
        assert!(oauth.contains_key("token:customHost"));
        assert_eq!(
            props.parameters_for("Shop", None).unwrap_err().to_string(),
            "connector `Shop` offers several ways to connect; choose a parameter set: key, oauth"
        );
        assert_eq!(
            props.parameters_for("Shop", Some("OAuth")).unwrap_err(),
            SetChoiceError::Unknown { connector: "Shop".into(), set: "OAuth".into(), sets: "key, oauth".into() },
            "names are exact"
        );
        let plain = Properties::parse(
            br#"{"properties": {"connectionParameters": {"a": {"type": "string"}}}}"#,
            &mut Vec::new(),
        )
        .unwrap();
        assert!(plain.parameters_for("Shop", None).unwrap().contains_key("a"));
        assert!(matches!(plain.parameters_for("Shop", Some("key")), Err(SetChoiceError::NoSets { .. })));
        assert!(plain.parameter_set_names().is_empty());
    }

    #[test]
    fn broken_parameter_sets_are_errors_naming_the_set() {
        let parse = |sets: &str| {
            let file = format!(r#"{{"properties": {{"connectionParameterSets": {sets}}}}}"#);
            Properties::parse(file.as_bytes(), &mut Vec::new()).unwrap_err().to_string()
        };
        assert_eq!(parse("{}"), "connectionParameterSets has no sets in `values`");
        assert_eq!(parse(r#"{"values": []}"#), "connectionParameterSets has no sets in `values`");
        assert_eq!(
            parse(r#"{"values": [{"name": "a"}, {"parameters": {}}]}"#),
            "connectionParameterSets: set 1 (counting from 0) has no `name`"
        );
        assert_eq!(
            parse(r#"{"values": [{"name": " "}]}"#),
            "connectionParameterSets: set 0 (counting from 0) has no `name`"
        );
        assert_eq!(
            parse(r#"{"values": [{"name": "oauth"}, {"name": "OAuth"}]}"#),
            "connectionParameterSets: two sets are named `OAuth`"
        );
        assert!(parse(r#"{"values": [{"name": "a", "parameters": []}]}"#).contains("invalid type"));
    }

    #[test]
    fn a_set_without_parameters_loads() {
        let file = br#"{"properties": {"connectionParameterSets": {"values": [{"name": "anonymous"}]}}}"#;
        let props = Properties::parse(file, &mut Vec::new()).unwrap();
        assert!(props.parameters_for("Shop", Some("anonymous")).unwrap().is_empty());
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
