//! Applying a connection's credentials to a backend request, as the
//! definition's `securityDefinitions` say: API key in a header or the query,
//! HTTP basic, OAuth 2.0 bearer token.
//!
//! Which connection parameter holds what follows the platform: an API key
//! comes from the parameter named like the security definition, else from
//! `api_key`; basic auth from `username` and `password`; OAuth 2.0 from the
//! parameter of type `oauthSetting` (its value is the access token), else
//! from the connection's sign-in (see `crate::oauth`).

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderValue;

use crate::connections::Connection;
use crate::package::{Package, SecurityScheme, SecurityLocation};
use crate::problem::GatewayError;

/// Whether the connection's OAuth token comes from a sign-in (the token
/// store) rather than from a value in the settings file.
pub fn needs_signed_in_token(package: &Package, connection: &Connection) -> bool {
    crate::oauth::uses_oauth(package)
        && !package
            .properties
            .connection_parameters
            .iter()
            .any(|(name, p)| p.kind == "oauthSetting" && connection.value(name).is_some())
}

/// Adds the connection's credentials to `request` for every security
/// definition the connection has values for; `signed_in_token` is the OAuth
/// access token from a sign-in, if the connection has one.
pub fn apply(
    package: &Package,
    connection: &Connection,
    signed_in_token: Option<&str>,
    request: &mut http::Request<Bytes>,
) -> Result<(), GatewayError> {
    for (name, scheme) in &package.definition.security_definitions {
        match scheme {
            SecurityScheme::ApiKey { name: key_name, location } => {
                let Some(value) = connection.value(name).or_else(|| connection.value("api_key")) else { continue };
                match location {
                    SecurityLocation::Header => set_header(request, key_name, value)?,
                    SecurityLocation::Query => append_query(request, key_name, value)?,
                }
            }
            SecurityScheme::Basic => {
                let (Some(user), Some(password)) = (connection.value("username"), connection.value("password")) else {
                    continue;
                };
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                set_header(request, "authorization", &format!("Basic {token}"))?;
            }
            SecurityScheme::OAuth2 { .. } => {
                let token = package
                    .properties
                    .connection_parameters
                    .iter()
                    .filter(|(_, p)| p.kind == "oauthSetting")
                    .find_map(|(param, _)| connection.value(param))
                    .or(signed_in_token);
                if let Some(token) = token {
                    set_header(request, "authorization", &format!("Bearer {token}"))?;
                }
            }
        }
    }
    Ok(())
}

fn set_header(request: &mut http::Request<Bytes>, name: &str, value: &str) -> Result<(), GatewayError> {
    let name = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| GatewayError::Internal(format!("security definition names an invalid header `{name}`")))?;
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| GatewayError::BadRequest(format!("the connection's value for header `{name}` is not a valid header value")))?;
    value.set_sensitive(true);
    request.headers_mut().insert(name, value);
    Ok(())
}

fn append_query(request: &mut http::Request<Bytes>, name: &str, value: &str) -> Result<(), GatewayError> {
    let mut url = url::Url::parse(&request.uri().to_string())
        .map_err(|e| GatewayError::Internal(format!("backend URL: {e}")))?;
    url.query_pairs_mut().append_pair(name, value);
    *request.uri_mut() = url.as_str().parse().map_err(|e| GatewayError::Internal(format!("backend URL: {e}")))?;
    Ok(())
}
