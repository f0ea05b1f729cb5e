//! Applying a connection's credentials to a backend request, as the
//! definition's `securityDefinitions` say: API key in a header or the query,
//! HTTP basic, OAuth 2.0 bearer token.
//!
//! Which connection parameter holds what follows the platform: an API key
//! comes from the parameter named like the security definition, else from
//! `api_key`; basic auth from `username` and `password`; OAuth 2.0 from the
//! parameter of type `oauthSetting` (its value is the access token), else
//! from the connection's sign-in, which the caller passes in.
//!
//! [`HiddenCredentials`] keeps them from custom code that may not see them:
//! it takes the credential-bearing headers and query parameters off the
//! request the code receives, and puts them back on the code's own backend
//! requests to the same host.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};

use crate::connection::Connection;
use crate::{Package, SecurityLocation, SecurityScheme};

/// The credentials could not be put on the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A security definition names a header that is not a valid header name.
    #[error("security definition `{definition}` names an invalid header `{header}`")]
    InvalidHeaderName {
        /// The security definition.
        definition: String,
        /// The header name as written.
        header: String,
    },
    /// The connection's value cannot be sent as a header value (a line
    /// break, say); the value itself is not shown.
    #[error("the connection's value for header `{header}` is not a valid header value")]
    InvalidHeaderValue {
        /// The header.
        header: String,
    },
    /// The backend URL does not take a query parameter.
    #[error("cannot add the API key to the backend URL: {reason}")]
    Url {
        /// Why.
        reason: String,
    },
}

/// Whether the connection's OAuth token comes from a sign-in (the token
/// store) rather than from one of its parameter values.
pub fn needs_signed_in_token(package: &Package, connection: &Connection) -> bool {
    package.uses_oauth()
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
) -> Result<(), CredentialError> {
    for (name, scheme) in &package.definition.security_definitions {
        match scheme {
            SecurityScheme::ApiKey { name: key_name, location } => {
                let Some(value) = connection.value(name).or_else(|| connection.value("api_key")) else { continue };
                match location {
                    SecurityLocation::Header => set_header(request, name, key_name, value)?,
                    SecurityLocation::Query => append_query(request, key_name, value)?,
                }
            }
            SecurityScheme::Basic => {
                let (Some(user), Some(password)) = (connection.value("username"), connection.value("password")) else {
                    continue;
                };
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                set_header(request, name, "authorization", &format!("Basic {token}"))?;
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
                    set_bearer(request, token).map_err(|_| CredentialError::InvalidHeaderValue {
                        header: header::AUTHORIZATION.to_string(),
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// Sets `Authorization: Bearer {token}`, marked sensitive.
pub fn set_bearer(request: &mut http::Request<Bytes>, token: &str) -> Result<(), http::header::InvalidHeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))?;
    value.set_sensitive(true);
    request.headers_mut().insert(header::AUTHORIZATION, value);
    Ok(())
}

fn set_header(
    request: &mut http::Request<Bytes>,
    definition: &str,
    name: &str,
    value: &str,
) -> Result<(), CredentialError> {
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| CredentialError::InvalidHeaderName {
        definition: definition.to_string(),
        header: name.to_string(),
    })?;
    let mut value =
        HeaderValue::from_str(value).map_err(|_| CredentialError::InvalidHeaderValue { header: name.to_string() })?;
    value.set_sensitive(true);
    request.headers_mut().insert(name, value);
    Ok(())
}

fn append_query(request: &mut http::Request<Bytes>, name: &str, value: &str) -> Result<(), CredentialError> {
    let mut url =
        url::Url::parse(&request.uri().to_string()).map_err(|e| CredentialError::Url { reason: e.to_string() })?;
    url.query_pairs_mut().append_pair(name, value);
    *request.uri_mut() =
        url.as_str().parse().map_err(|e: http::uri::InvalidUri| CredentialError::Url { reason: e.to_string() })?;
    Ok(())
}

/// The secrets of one call (the connection's secret values and its OAuth
/// token), longest first, for hiding them from the code and redacting them
/// from text.
#[derive(Debug, Clone, Default)]
pub struct CallSecrets {
    secrets: Vec<String>,
}

impl CallSecrets {
    /// The connection's secrets and the call's token.
    pub fn new(connection: &Connection, token: Option<&str>) -> Self {
        let mut secrets: Vec<String> = connection.secrets().into_iter().map(str::to_string).collect();
        secrets.extend(token.filter(|t| !t.is_empty()).map(str::to_string));
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    /// The secrets, longest first.
    pub fn as_strs(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        crate::connection::redact(&self.secrets, text)
    }
}

/// Credential-bearing headers and query parameters kept from the code.
#[derive(Debug, Default)]
pub struct HiddenCredentials {
    authority: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    query: Vec<(String, String)>,
}

impl HiddenCredentials {
    /// Takes every header and query parameter whose value holds a secret out of `request`.
    pub fn take(request: &mut http::Request<Bytes>, secrets: &[&str]) -> Self {
        let holds_secret = |value: &str| secrets.iter().any(|secret| value.contains(secret));
        let mut hidden = Self { authority: request.uri().authority().map(|a| a.to_string()), ..Self::default() };
        let names: Vec<HeaderName> = request
            .headers()
            .iter()
            .filter(|(_, value)| value.to_str().is_ok_and(holds_secret))
            .map(|(name, _)| name.clone())
            .collect();
        for name in names {
            let values: Vec<HeaderValue> = request.headers().get_all(&name).iter().cloned().collect();
            request.headers_mut().remove(&name);
            hidden.headers.extend(values.into_iter().map(|value| (name.clone(), value)));
        }
        // Only a query can hide a secret beyond the headers; most calls have
        // none, and parsing the URL is the costliest step here.
        if request.uri().query().is_none_or(str::is_empty) {
            return hidden;
        }
        if let Ok(mut url) = url::Url::parse(&request.uri().to_string()) {
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let (secret, kept): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(_, value)| holds_secret(value));
            if !secret.is_empty() {
                hidden.query = secret;
                url.query_pairs_mut().clear().extend_pairs(kept);
                if url.query() == Some("") {
                    url.set_query(None);
                }
                if let Ok(uri) = url.as_str().parse() {
                    *request.uri_mut() = uri;
                }
            }
        }
        hidden
    }

    /// Swaps a refreshed token into the hidden `Authorization` header.
    pub fn replace_bearer(&mut self, stale: &str, fresh: &str) {
        let stale = format!("Bearer {stale}");
        for (name, value) in &mut self.headers {
            if *name == header::AUTHORIZATION
                && value.as_bytes() == stale.as_bytes()
                && let Ok(mut fresh) = HeaderValue::from_str(&format!("Bearer {fresh}"))
            {
                fresh.set_sensitive(true);
                *value = fresh;
            }
        }
    }

    /// Puts the credentials back on a request to the same host, unless the
    /// code set those headers itself.
    pub fn restore(&self, request: &mut http::Request<Bytes>) {
        if self.authority.is_none() || request.uri().authority().map(|a| a.as_str()) != self.authority.as_deref() {
            return;
        }
        let set_by_code: Vec<&HeaderName> =
            self.headers.iter().map(|(name, _)| name).filter(|name| request.headers().contains_key(*name)).collect();
        for (name, value) in &self.headers {
            if !set_by_code.contains(&name) {
                request.headers_mut().append(name.clone(), value.clone());
            }
        }
        if !self.query.is_empty()
            && let Ok(mut url) = url::Url::parse(&request.uri().to_string())
        {
            url.query_pairs_mut().extend_pairs(self.query.iter());
            if let Ok(uri) = url.as_str().parse() {
                *request.uri_mut() = uri;
            }
        }
    }
}
