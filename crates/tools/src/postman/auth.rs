//! A request's `auth` (its own, or its folder's or the collection's, as
//! Postman inherits it): the security definition and connection parameters
//! it becomes, and the headers and query entries it owns.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::url::substitute;

/// A request's auth, as far as a definition can say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Auth {
    ApiKey {
        name: String,
        location: String,
    },
    Basic,
    Bearer,
    /// OAuth 2.0 with its real grant: `flow` is OpenAPI 2.0's name for it
    /// (`accessCode`, `application`, `password`, `implicit`); a URL that
    /// cannot be known is empty.
    OAuth2 {
        flow: &'static str,
        authorization_url: String,
        token_url: String,
        scopes: Vec<String>,
    },
}

impl Auth {
    /// The auth of an `auth` object, with `{{variables}}` in its URLs
    /// resolved; `None` for `noauth` and for kinds a definition cannot say
    /// (noted).
    pub(super) fn parse(auth: &Value, variables: &HashMap<String, Value>, notes: &mut Vec<String>) -> Option<Self> {
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
            "oauth2" => {
                let flow = flow_of(&get("grant_type"));
                let url = |key: &str| {
                    let text = substitute(&get(key), variables);
                    if text.contains("{{") { String::new() } else { text }
                };
                let (mut authorization_url, mut token_url) = (url("authUrl"), url("accessTokenUrl"));
                if matches!(flow, "application" | "password") {
                    authorization_url.clear();
                }
                if flow == "implicit" {
                    token_url.clear();
                }
                Some(Auth::OAuth2 {
                    flow,
                    authorization_url,
                    token_url,
                    scopes: get("scope").split_whitespace().map(str::to_string).collect(),
                })
            }
            "noauth" => None,
            other => {
                notes.push(format!(
                    "auth type `{other}` has no OpenAPI 2.0 form; set up the connection's security by hand"
                ));
                None
            }
        }
    }

    /// Completes an OAuth 2.0 auth that names no token URL from the
    /// collection's own token request (`url`, with the `grant_type` it
    /// sends): its URL, and its grant when the block names none. Returns
    /// whether anything was taken.
    pub(super) fn complete_from_token_request(&mut self, url: &str, grant: &str) -> bool {
        let Auth::OAuth2 { flow, authorization_url, token_url, .. } = self else { return false };
        if !token_url.is_empty() {
            return false;
        }
        *token_url = url.to_string();
        if *flow == "accessCode" && authorization_url.is_empty() {
            *flow = flow_of(grant);
        }
        true
    }

    /// What the auth is, for notes and the summary.
    pub(super) fn describe(&self) -> String {
        match self {
            Auth::ApiKey { name, location } => format!("API key ({location} `{name}`)"),
            Auth::Basic => "basic".into(),
            Auth::Bearer => "bearer token".into(),
            Auth::OAuth2 { flow, .. } => format!(
                "OAuth 2.0 ({})",
                match *flow {
                    "application" => "client credentials",
                    "password" => "password",
                    "implicit" => "implicit",
                    _ => "authorization code",
                }
            ),
        }
    }

    /// The URLs an OAuth 2.0 grant needs that the collection does not give.
    pub(super) fn missing_urls(&self) -> Vec<&'static str> {
        let Auth::OAuth2 { flow, authorization_url, token_url, .. } = self else { return Vec::new() };
        let mut missing = Vec::new();
        if matches!(*flow, "accessCode" | "implicit") && authorization_url.is_empty() {
            missing.push("authorizationUrl");
        }
        if *flow != "implicit" && token_url.is_empty() {
            missing.push("tokenUrl");
        }
        missing
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
            Auth::OAuth2 { flow, authorization_url, token_url, scopes } => {
                let settings = json!({
                    "identityProvider": "oauth2", "clientId": "", "scopes": scopes,
                    "redirectMode": "GlobalPerConnector",
                    "customParameters": {
                        "authorizationUrl": { "value": authorization_url },
                        "tokenUrl": { "value": token_url },
                        "refreshUrl": { "value": token_url } } });
                // The connection parameter says what is missing, for the
                // person who finishes the package; validate reports it too.
                let missing = self.missing_urls();
                let description = if missing.is_empty() {
                    format!("Sign in with {}", self.describe())
                } else {
                    format!(
                        "Sign in with {}. The collection does not give its {}: set it here and in the definition's securityDefinitions",
                        self.describe(),
                        missing.join(" and ")
                    )
                };
                parameters.insert(
                    "token".into(),
                    json!({ "type": "oauthSetting", "oAuthSettings": settings,
                        "uiDefinition": { "displayName": "Sign in", "description": description } }),
                );
                let scope_map: Map<String, Value> =
                    scopes.iter().map(|s| (s.clone(), Value::String(s.clone()))).collect();
                let mut scheme = json!({ "type": "oauth2", "flow": flow, "scopes": scope_map });
                if matches!(*flow, "accessCode" | "implicit") {
                    scheme["authorizationUrl"] = json!(authorization_url);
                }
                if *flow != "implicit" {
                    scheme["tokenUrl"] = json!(token_url);
                }
                ("oauth2_auth", scheme)
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

/// OpenAPI 2.0's name for an OAuth 2.0 grant, as Postman or a token
/// request's `grant_type` writes it.
fn flow_of(grant: &str) -> &'static str {
    match grant {
        "client_credentials" => "application",
        "password_credentials" | "password" => "password",
        "implicit" => "implicit",
        // Postman's default, with or without PKCE.
        _ => "accessCode",
    }
}
