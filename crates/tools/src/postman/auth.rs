//! A collection's `auth`: the security definition and connection parameters
//! it becomes, and the headers and query entries it owns.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// The collection's auth, as far as a definition can say it.
#[derive(Debug, Clone)]
pub(super) enum Auth {
    ApiKey { name: String, location: String },
    Basic,
    Bearer,
    OAuth2 { authorization_url: String, token_url: String, scopes: Vec<String> },
}

impl Auth {
    pub(super) fn parse(auth: &Value, notes: &mut Vec<String>) -> Option<Self> {
        let kind = auth.get("type").and_then(Value::as_str)?;
        // v2.1 writes each scheme's settings as a list of {key, value}; v2.0
        // as an object.
        let settings: HashMap<String, String> = match auth.get(kind) {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|e| {
                    let key = e.get("key").and_then(Value::as_str)?;
                    let value = match e.get("value")? {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Some((key.to_string(), value))
                })
                .collect(),
            Some(Value::Object(map)) => {
                map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect()
            }
            _ => HashMap::new(),
        };
        let get = |k: &str| settings.get(k).cloned().unwrap_or_default();
        match kind {
            "apikey" => Some(Auth::ApiKey {
                name: settings.get("key").cloned().unwrap_or_else(|| "api_key".into()),
                location: if get("in") == "query" { "query".into() } else { "header".into() },
            }),
            "basic" => Some(Auth::Basic),
            "bearer" => Some(Auth::Bearer),
            "oauth2" => Some(Auth::OAuth2 {
                authorization_url: get("authUrl"),
                token_url: get("accessTokenUrl"),
                scopes: get("scope").split_whitespace().map(str::to_string).collect(),
            }),
            "noauth" => None,
            other => {
                notes.push(format!(
                    "auth type `{other}` has no OpenAPI 2.0 form; set up the connection's security by hand"
                ));
                None
            }
        }
    }

    /// Whether a header or query entry is this auth's own.
    pub(super) fn covers(&self, location: &str, name: &str) -> bool {
        match self {
            Auth::ApiKey { name: key, location: at } => at == location && key.eq_ignore_ascii_case(name),
            _ => false,
        }
    }

    pub(super) fn apply(&self, definition: &mut Value, parameters: &mut Map<String, Value>) {
        let secure = |name: &str, display: &str| {
            json!({ "type": "securestring", "uiDefinition": {
                "displayName": display, "description": format!("The {display} for this API"),
                "tooltip": format!("Provide your {display}"),
                "constraints": { "tabIndex": 2, "clearText": false, "required": "true" } } })
            .as_object()
            .map(|o| (name.to_string(), Value::Object(o.clone())))
        };
        let (name, scheme) = match self {
            Auth::ApiKey { name, location } => {
                parameters.extend(secure("api_key", "API key"));
                ("api_key", json!({ "type": "apiKey", "in": location, "name": name }))
            }
            Auth::Bearer => {
                parameters.extend(secure("api_key", "token (with the Bearer prefix)"));
                ("api_key", json!({ "type": "apiKey", "in": "header", "name": "Authorization" }))
            }
            Auth::Basic => {
                parameters.extend(secure("username", "user name"));
                parameters.extend(secure("password", "password"));
                ("basic_auth", json!({ "type": "basic" }))
            }
            Auth::OAuth2 { authorization_url, token_url, scopes } => {
                parameters.insert(
                    "token".into(),
                    json!({ "type": "oauthSetting", "oAuthSettings": {
                        "identityProvider": "oauth2", "clientId": "", "scopes": scopes,
                        "redirectMode": "GlobalPerConnector",
                        "customParameters": {
                            "authorizationUrl": { "value": authorization_url },
                            "tokenUrl": { "value": token_url },
                            "refreshUrl": { "value": token_url } } } }),
                );
                let scope_map: Map<String, Value> =
                    scopes.iter().map(|s| (s.clone(), Value::String(s.clone()))).collect();
                (
                    "oauth2_auth",
                    json!({ "type": "oauth2", "flow": "accessCode",
                    "authorizationUrl": authorization_url, "tokenUrl": token_url, "scopes": scope_map }),
                )
            }
        };
        let mut schemes = Map::new();
        schemes.insert(name.to_string(), scheme);
        definition["securityDefinitions"] = Value::Object(schemes);
        let mut requirement = Map::new();
        requirement.insert(name.to_string(), json!([]));
        definition["security"] = json!([requirement]);
    }
}
