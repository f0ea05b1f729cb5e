//! Applying a connection's credentials to a backend request, as the
//! definition's `securityDefinitions` say: API key in a header or the query,
//! HTTP basic, OAuth 2.0 bearer token.
//!
//! Which connection parameter holds what follows the platform: an API key
//! comes from the parameter named like the security definition, else from
//! `api_key`; basic auth from `username` and `password`; OAuth 2.0 from the
//! parameter of type `oauthSetting` (its value is the access token), else
//! from the connection's sign-in, which the caller passes in.
//! When the connector has parameter sets, the parameters are those of the
//! set the connection chose, and a set without an `oauthSetting` never signs in.
//!
//! Custom code that may not see credentials never receives them: its request
//! is built without them, and [`SendCredentials`] puts them on the code's own
//! backend requests, and only on those to the backend's origin (scheme, host
//! and port). The secret values that request policies place (a header, the
//! query, the path, the body) reach the code as placeholders that only those
//! requests get replaced. Nothing derived from a secret (base64 of a basic
//! password, a percent-encoded key) is ever in what the code sees.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};
use indexmap::IndexMap;

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
    package.signs_in(connection.parameter_set())
        && !package
            .parameters_of(connection)
            .iter()
            .any(|(name, p)| p.kind == "oauthSetting" && connection.value(name).is_some())
}

/// Adds the connection's credentials to `request` for every security
/// definition the connection has values for, replacing what is there;
/// `signed_in_token` is the OAuth access token from a sign-in, if the
/// connection has one.
pub fn apply(
    package: &Package,
    connection: &Connection,
    signed_in_token: Option<&str>,
    request: &mut http::Request<Bytes>,
) -> Result<(), CredentialError> {
    apply_with(package, connection, signed_in_token, request, Existing::Replace)
}

/// What to do with a credential header or query parameter the request has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    /// Replace it (the request is the gateway's own).
    Replace,
    /// Keep it (the code set it on purpose, e.g. a token it fetched).
    Keep,
}

fn apply_with(
    package: &Package,
    connection: &Connection,
    signed_in_token: Option<&str>,
    request: &mut http::Request<Bytes>,
    existing: Existing,
) -> Result<(), CredentialError> {
    let keep = |request: &http::Request<Bytes>, header: &str| {
        existing == Existing::Keep && request.headers().contains_key(header)
    };
    for (name, scheme) in &package.definition.security_definitions {
        match scheme {
            SecurityScheme::ApiKey { name: key_name, location } => {
                let Some(value) = connection.value(name).or_else(|| connection.value("api_key")) else { continue };
                match location {
                    SecurityLocation::Header if keep(request, key_name) => {}
                    SecurityLocation::Header => set_header(request, name, key_name, value)?,
                    SecurityLocation::Query if existing == Existing::Keep && has_query(request, key_name) => {}
                    SecurityLocation::Query => append_query(request, key_name, value)?,
                }
            }
            SecurityScheme::Basic => {
                let (Some(user), Some(password)) = (connection.value("username"), connection.value("password")) else {
                    continue;
                };
                if keep(request, "authorization") {
                    continue;
                }
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                set_header(request, name, "authorization", &format!("Basic {token}"))?;
            }
            SecurityScheme::OAuth2 { .. } => apply_bearer(package, connection, signed_in_token, request, existing)?,
        }
    }
    // An `oauthSetting` parameter signs in whether or not the definition
    // declares OAuth (DocuSign's and Tribal's declare nothing): its token is
    // the bearer all the same, as on the platform.
    let declared = package.definition.security_definitions.values().any(|s| matches!(s, SecurityScheme::OAuth2 { .. }));
    if !declared && package.signs_in(connection.parameter_set()) {
        apply_bearer(package, connection, signed_in_token, request, existing)?;
    }
    Ok(())
}

/// Sets the connection's OAuth token (its `oauthSetting` value, else the
/// signed-in one) as the bearer, unless the code's own is to be kept.
fn apply_bearer(
    package: &Package,
    connection: &Connection,
    signed_in_token: Option<&str>,
    request: &mut http::Request<Bytes>,
    existing: Existing,
) -> Result<(), CredentialError> {
    let token = package
        .parameters_of(connection)
        .iter()
        .filter(|(_, p)| p.kind == "oauthSetting")
        .find_map(|(param, _)| connection.value(param))
        .or(signed_in_token);
    if let Some(token) = token
        && !(existing == Existing::Keep && request.headers().contains_key(header::AUTHORIZATION))
    {
        set_bearer(request, token)
            .map_err(|_| CredentialError::InvalidHeaderValue { header: header::AUTHORIZATION.to_string() })?;
    }
    Ok(())
}

fn has_query(request: &http::Request<Bytes>, name: &str) -> bool {
    let query = request.uri().query().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == name)
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

/// A URL's origin: scheme, host and port (the scheme's default when the URL
/// names none), compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of a request's URI, if it is absolute.
    pub fn of(uri: &http::Uri) -> Option<Self> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = uri.host()?.trim_end_matches('.').to_ascii_lowercase();
        let port = uri.port_u16().or(default_port(&scheme))?;
        Some(Self { scheme, host, port })
    }

    /// Whether `uri` has this origin: `Origin::of(uri) == Some(self)`,
    /// without the copies.
    pub fn is_origin_of(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(&self.scheme)
            && host.trim_end_matches('.').eq_ignore_ascii_case(&self.host)
            && uri.port_u16().or(default_port(scheme)) == Some(self.port)
    }
}

/// The port a URL of `scheme` (in any case) goes to when it names none.
fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    }
}

/// The connection's values with each secret value replaced by its
/// placeholder ([`SendCredentials::masked`]).
#[derive(Debug, Clone, Copy)]
pub struct MaskedValues<'a>(&'a SendCredentials);

impl sluice_policy::ConnectionValues for MaskedValues<'_> {
    fn value(&self, name: &str) -> Option<&str> {
        self.0.connection.value(name).map(|value| self.0.shown(value))
    }
}

/// A secret value the code's request carries as a placeholder instead.
#[derive(Clone)]
struct Placeholder {
    marker: String,
    secret: String,
}

/// The credentials of a call whose code may not see them: what its backend
/// requests to the backend's origin get, and nothing else does.
#[derive(Clone)]
pub struct SendCredentials {
    package: std::sync::Arc<Package>,
    connection: std::sync::Arc<Connection>,
    token: Option<String>,
    origin: Option<Origin>,
    placeholders: Vec<Placeholder>,
}

impl std::fmt::Debug for SendCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendCredentials")
            .field("connector", &self.package.id)
            .field("connection", &self.connection.id)
            .field("origin", &self.origin)
            .field("placeholders", &self.placeholders.len())
            .finish_non_exhaustive()
    }
}

impl SendCredentials {
    /// The credentials of `connection` (and its sign-in `token`) for the
    /// code of `package`, with a fresh placeholder for each secret value.
    /// The origin is set once the code's request is built.
    pub fn new(package: std::sync::Arc<Package>, connection: std::sync::Arc<Connection>, token: Option<&str>) -> Self {
        let placeholders = connection
            .secret_names()
            .iter()
            .filter_map(|name| connection.value(name))
            .filter(|value| !value.is_empty())
            .map(|secret| Placeholder {
                marker: format!("sluice-secret-{}", uuid::Uuid::new_v4().simple()),
                secret: secret.to_string(),
            })
            .collect();
        Self { package, connection, token: token.map(str::to_string), origin: None, placeholders }
    }

    /// The connection's values as the code's request policies read them:
    /// each secret value replaced by its placeholder. A view, not a copy.
    pub fn masked(&self) -> MaskedValues<'_> {
        MaskedValues(self)
    }

    /// [`SendCredentials::masked`], copied into a map by name.
    pub fn masked_values(&self) -> IndexMap<String, String> {
        let mut values = self.connection.values();
        for value in values.values_mut() {
            *value = self.shown(value).to_owned();
        }
        values
    }

    /// A connection value as the code sees it: its placeholder if it is a
    /// secret, else itself.
    fn shown<'v>(&'v self, value: &'v str) -> &'v str {
        self.placeholders.iter().find(|p| p.secret == value).map_or(value, |p| p.marker.as_str())
    }

    /// Sets the origin the credentials go to: the code's request's.
    pub fn set_origin(&mut self, uri: &http::Uri) {
        self.origin = Origin::of(uri);
    }

    /// Swaps a refreshed OAuth token in.
    pub fn replace_token(&mut self, fresh: &str) {
        self.token = Some(fresh.to_string());
    }

    /// The call's sign-in token, as the code's requests get it.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Puts the credentials on one of the code's requests, if it goes to the
    /// backend's origin: the placeholders it carries become the secrets
    /// (encoded for where they stand), and the connection's credentials are
    /// added where the code did not set that header or parameter itself. A
    /// request to any other origin (another host, port, or `http` where the
    /// backend is `https`) is left as it is.
    pub fn apply(&self, request: &mut http::Request<Bytes>) -> Result<(), CredentialError> {
        if !self.origin.as_ref().is_some_and(|origin| origin.is_origin_of(request.uri())) {
            return Ok(());
        }
        self.fill_placeholders(request)?;
        apply_with(&self.package, &self.connection, self.token.as_deref(), request, Existing::Keep)
    }

    fn fill_placeholders(&self, request: &mut http::Request<Bytes>) -> Result<(), CredentialError> {
        for placeholder in &self.placeholders {
            let uri = request.uri().to_string();
            if uri.contains(&placeholder.marker) {
                let encoded = percent_encoding::utf8_percent_encode(&placeholder.secret, UNRESERVED).to_string();
                *request.uri_mut() = uri
                    .replace(&placeholder.marker, &encoded)
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| CredentialError::Url { reason: e.to_string() })?;
            }
            let names: Vec<HeaderName> = request
                .headers()
                .iter()
                .filter(|(_, value)| value.to_str().is_ok_and(|v| v.contains(&placeholder.marker)))
                .map(|(name, _)| name.clone())
                .collect();
            for name in names {
                let values: Vec<String> = request
                    .headers()
                    .get_all(&name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(|v| v.replace(&placeholder.marker, &placeholder.secret))
                    .collect();
                request.headers_mut().remove(&name);
                for value in values {
                    let mut value = HeaderValue::from_str(&value)
                        .map_err(|_| CredentialError::InvalidHeaderValue { header: name.to_string() })?;
                    value.set_sensitive(true);
                    request.headers_mut().append(name.clone(), value);
                }
            }
            let marker = placeholder.marker.as_bytes();
            if request.body().windows(marker.len()).any(|w| w == marker) {
                let secret = body_form(request.headers(), &placeholder.secret);
                *request.body_mut() = replace_bytes(request.body(), marker, secret.as_bytes());
                if request.headers().contains_key(header::CONTENT_LENGTH) {
                    let length = HeaderValue::from(request.body().len());
                    request.headers_mut().insert(header::CONTENT_LENGTH, length);
                }
            }
        }
        Ok(())
    }
}

/// `body` with each `marker` replaced by `with`, its other bytes (which
/// need not be UTF-8) untouched.
fn replace_bytes(body: &[u8], marker: &[u8], with: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.windows(marker.len()).position(|w| w == marker) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + marker.len()..];
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

/// What is left unencoded when a secret goes into a URL: RFC 3986's
/// unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A secret as it must be written in a body of this content type: escaped
/// inside a JSON string, form-encoded in a form, as is otherwise.
fn body_form(headers: &http::HeaderMap, secret: &str) -> String {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.contains("json") {
        let quoted = serde_json::Value::String(secret.to_string()).to_string();
        quoted[1..quoted.len() - 1].to_string()
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect()
    } else {
        secret.to_string()
    }
}
