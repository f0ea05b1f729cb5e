//! The `oauth2generic` identity provider's templates: the URLs and form
//! bodies of a sign-in, a code exchange and a refresh, written in
//! `oAuthSettings.customParameters` with `{placeholders}`; parsed here, and
//! filled for one connection with each value encoded for where it lands.
//!
//! A placeholder names a value of the sign-in (`{ClientId}`,
//! `{ClientSecret}`, `{RedirectUrl}`, `{State}`, `{Scopes}`, `{Code}`,
//! `{RefreshToken}`) or a connection parameter (`{CustomHost}` is
//! `token:customHost`, else `customHost`), in any case. A connection
//! parameter the package declares as `ClientId`, `ClientSecret` or `Scopes`
//! takes the place of the sign-in's own (the connection brings its own app
//! registration); `State`, `RedirectUrl`, `Code` and `RefreshToken` are
//! always the flow's, so no connection can redirect a code elsewhere.
//!
//! Where a value lands decides its encoding: inside a host, only the
//! characters of a host name; as the start of a URL, an `http(s)` URL with
//! no user information; in a path, one percent-encoded segment (never `.` or
//! `..`); in a query string, a fragment or a form body, form-encoded. A
//! connection's value may shape an endpoint's origin (its scheme, host or
//! port) only when the package restricts the parameter to `allowedValues`
//! and the value is one of them, or when one of the operator's allow rules
//! grants the origin that results: otherwise the operator's client secret,
//! a code or a refresh token would go wherever a connection says.
//!
//! Parsing and filling do no I/O.

use indexmap::IndexMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sluice_egress::{AllowRule, Target};

use crate::{Connection, ConnectionParameter, OAuthSettings};

/// The identity provider id of templated OAuth 2.0, as `identityProvider`
/// spells it (compared without regard to case).
pub const GENERIC_PROVIDER: &str = "oauth2generic";

/// Bytes a path segment keeps as they are: RFC 3986's unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The scope list's delimiter when the package sets no `scopeListDelimiter`.
/// The packages whose providers want spaces (Entra ID, GetAccept) all set
/// `" "`; those that set none (Zoho's) want commas.
pub const DEFAULT_SCOPE_DELIMITER: &str = ",";

/// A template: text with `{name}` placeholders. A brace that does not open a
/// `{name}` of letters, digits, `_`, `-` and `.` is text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The `customParameters` key it was read from (or `clientId`,
    /// `scopes`), as the file spells it: what messages name.
    pub key: String,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot(String),
}

impl Template {
    /// Parses `text`, read from `key`.
    pub fn parse(key: &str, text: &str) -> Self {
        let mut pieces = Vec::new();
        let mut text_run = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            text_run.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')));
            match name_len {
                Some(len) if len > 0 && after[len..].starts_with('}') => {
                    if !text_run.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text_run)));
                    }
                    pieces.push(Piece::Slot(after[..len].to_string()));
                    rest = &after[len + 1..];
                }
                _ => {
                    text_run.push('{');
                    rest = after;
                }
            }
        }
        text_run.push_str(rest);
        if !text_run.is_empty() {
            pieces.push(Piece::Text(text_run));
        }
        Self { key: key.to_string(), pieces }
    }

    /// The placeholders' names, in order, as written.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Slot(name) => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Whether a placeholder names the sign-in's value `flow`.
    fn names(&self, flow: FlowValue) -> bool {
        self.placeholders().any(|name| FlowValue::named(name) == Some(flow))
    }

    /// Each placeholder of a URL template with where it lands.
    fn url_places(&self) -> Vec<(&str, Place)> {
        let mut out = Vec::new();
        let mut place = Place::Url;
        // Whether the origin has begun: a literal `://`, or a placeholder
        // that brings the scheme itself.
        let mut authority = false;
        for piece in &self.pieces {
            match piece {
                Piece::Slot(name) => {
                    let here = match place {
                        // Before any `://`, the value brings the scheme.
                        Place::Url if !authority => {
                            authority = true;
                            place = Place::Host;
                            Place::Url
                        }
                        Place::Url | Place::Host => Place::Host,
                        other => other,
                    };
                    out.push((name.as_str(), here));
                }
                Piece::Text(text) => {
                    let mut chars = text.char_indices().peekable();
                    while let Some((at, c)) = chars.next() {
                        match place {
                            Place::Url | Place::Host => {
                                if !authority && text[at..].starts_with("://") {
                                    authority = true;
                                    place = Place::Host;
                                    chars.next();
                                    chars.next();
                                } else if authority && matches!(c, '/' | '?' | '#') {
                                    place = if c == '/' { Place::Path } else { Place::Query };
                                }
                            }
                            Place::Path if matches!(c, '?' | '#') => place = Place::Query,
                            _ => {}
                        }
                    }
                }
            }
        }
        out
    }
}

/// Where a placeholder's value lands, which decides its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The start of a URL: the value brings the scheme and host (and maybe a
    /// path).
    Url,
    /// Inside the host, after a literal `scheme://`.
    Host,
    /// In the path.
    Path,
    /// In a query string, a fragment or a form body.
    Query,
}

impl Place {
    /// Whether a value here shapes the endpoint's origin.
    pub fn shapes_origin(self) -> bool {
        matches!(self, Self::Url | Self::Host)
    }
}

/// A value of the sign-in itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowValue {
    /// `{ClientId}`.
    ClientId,
    /// `{ClientSecret}`.
    ClientSecret,
    /// `{RedirectUrl}`: the gateway's redirect URI.
    RedirectUrl,
    /// `{State}`.
    State,
    /// `{Scopes}`: the scopes, joined by `scopeListDelimiter`.
    Scopes,
    /// `{Code}`: the authorization code (empty outside the code exchange).
    Code,
    /// `{RefreshToken}` (empty outside a refresh).
    RefreshToken,
}

impl FlowValue {
    /// The value a placeholder name means, in any case.
    pub fn named(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "clientid" => Self::ClientId,
            "clientsecret" => Self::ClientSecret,
            "redirecturl" => Self::RedirectUrl,
            "state" => Self::State,
            "scopes" => Self::Scopes,
            "code" => Self::Code,
            "refreshtoken" => Self::RefreshToken,
            _ => return None,
        })
    }

    /// Whether a connection parameter of the same name takes its place.
    fn yields_to_parameters(self) -> bool {
        matches!(self, Self::ClientId | Self::ClientSecret | Self::Scopes)
    }
}

/// What a placeholder names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'p> {
    /// A declared connection parameter, by its declared name.
    Parameter(&'p str),
    /// A value of the sign-in.
    Flow(FlowValue),
}

/// What `name` names among `parameters`: the flow's own values first (those
/// no parameter may replace), then `token:{name}`, then `{name}`, then the
/// values a parameter could have replaced; `None` for neither.
pub fn source<'p>(name: &str, parameters: &'p IndexMap<String, ConnectionParameter>) -> Option<Source<'p>> {
    let flow = FlowValue::named(name);
    if let Some(flow) = flow.filter(|f| !f.yields_to_parameters()) {
        return Some(Source::Flow(flow));
    }
    let declared = |wanted: &str| {
        parameters
            .iter()
            .filter(|(_, p)| p.kind != "oauthSetting")
            .find(|(declared, _)| declared.eq_ignore_ascii_case(wanted))
            .map(|(declared, _)| declared.as_str())
    };
    declared(&format!("token:{name}")).or_else(|| declared(name)).map(Source::Parameter).or(flow.map(Source::Flow))
}

/// Which request a template builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The browser's authorization request.
    Authorization,
    /// The code exchange at the token endpoint.
    Token,
    /// A refresh.
    Refresh,
}

/// One request's templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTemplates {
    /// The endpoint's URL.
    pub url: Template,
    /// The query string appended to it; `None`: the standard parameters
    /// (authorization) or nothing (token, refresh).
    pub query: Option<Template>,
    /// The form body; `None`: the standard parameters. Never for the
    /// authorization request.
    pub body: Option<Template>,
}

/// The templates of an `oauth2generic` package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericTemplates {
    /// `authorizationUrlTemplate` and `authorizationUrlQueryStringTemplate`.
    pub authorization: RequestTemplates,
    /// `tokenUrlTemplate`, `tokenUrlQueryStringTemplate`, `tokenBodyTemplate`.
    pub token: RequestTemplates,
    /// `refreshUrlTemplate` (default: the token URL and its query string),
    /// `refreshUrlQueryStringTemplate`, `refreshBodyTemplate`.
    pub refresh: RequestTemplates,
    /// `scopeListDelimiter`; default [`DEFAULT_SCOPE_DELIMITER`].
    pub scope_delimiter: String,
}

/// The package's templates do not make the requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A URL template the flow cannot do without is missing.
    #[error("customParameters has no `{key}`")]
    Missing {
        /// The key, e.g. `tokenUrlTemplate`.
        key: &'static str,
    },
}

/// A defect of a package's templates, found without any connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Defect {
    /// A placeholder names neither a value of the sign-in nor a declared
    /// connection parameter.
    UnknownPlaceholder {
        /// Where (a `customParameters` key, `clientId` or `scopes`).
        key: String,
        /// The placeholder's name.
        placeholder: String,
    },
    /// A placeholder in an endpoint's origin that no connection supplies (a
    /// value of the sign-in): no host can be made of it.
    NotAHost {
        /// The template's key.
        key: String,
        /// The placeholder's name.
        placeholder: String,
    },
    /// A connection parameter without `allowedValues` shapes an endpoint's
    /// origin: its sign-ins are refused unless the operator allows the
    /// origins that result.
    UnrestrictedOrigin {
        /// The template's key.
        key: String,
        /// The connection parameter.
        parameter: String,
    },
    /// A required URL template is missing.
    Missing(TemplateError),
}

impl Defect {
    /// Whether sluice cannot sign in with the package as written, whatever
    /// the operator configures (else the operator can make it work).
    pub fn is_error(&self) -> bool {
        !matches!(self, Self::UnrestrictedOrigin { .. })
    }

    /// The `customParameters` key (or `clientId`, `scopes`) it concerns.
    pub fn key(&self) -> &str {
        match self {
            Self::UnknownPlaceholder { key, .. }
            | Self::NotAHost { key, .. }
            | Self::UnrestrictedOrigin { key, .. } => key,
            Self::Missing(TemplateError::Missing { key }) => key,
        }
    }
}

impl std::fmt::Display for Defect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownPlaceholder { key, placeholder } => write!(
                f,
                "`{key}` names `{{{placeholder}}}`, which is neither a value of the sign-in ({{ClientId}}, {{ClientSecret}}, {{RedirectUrl}}, {{State}}, {{Scopes}}, {{Code}}, {{RefreshToken}}) nor a declared connection parameter (`token:{placeholder}` or `{placeholder}`)"
            ),
            Self::NotAHost { key, placeholder } => {
                write!(
                    f,
                    "`{key}` puts `{{{placeholder}}}` in the endpoint's host, which only a connection parameter can be"
                )
            }
            Self::UnrestrictedOrigin { key, parameter } => write!(
                f,
                "`{key}` lets connection parameter `{parameter}` choose the endpoint's host, and the parameter has no allowedValues: sluice refuses its sign-ins unless the operator allows the hosts it may name (`allowed_endpoints` under [oauth.clients.<connector>] of the gateway's settings, e.g. [\"https://*.example.com\"]); give the parameter allowedValues to need none"
            ),
            Self::Missing(error) => error.fmt(f),
        }
    }
}

/// The flow's values and the connection's, to fill the templates with.
#[derive(Clone, Copy)]
pub struct Fill<'a> {
    /// The connector's declared connection parameters.
    pub parameters: &'a IndexMap<String, ConnectionParameter>,
    /// The connection's values.
    pub connection: &'a Connection,
    /// The client id: the operator's, else the package's `clientId` filled.
    pub client_id: &'a str,
    /// The operator's client secret, if any.
    pub client_secret: Option<&'a str>,
    /// The gateway's redirect URI.
    pub redirect_url: &'a str,
    /// The scopes, filled and joined.
    pub scopes: &'a str,
    /// The sign-in's `state` (empty outside the authorization request).
    pub state: &'a str,
    /// The authorization code (empty outside the code exchange).
    pub code: &'a str,
    /// The refresh token (empty outside a refresh).
    pub refresh_token: &'a str,
    /// The operator's rules for origins a connection's value may shape.
    pub allowed_endpoints: &'a [AllowRule],
}

impl std::fmt::Debug for Fill<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fill")
            .field("connection", &self.connection.id)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// A template could not be filled for a connection. Never carries a value
/// of a secret parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FillError {
    /// A defect of the package's templates.
    #[error("{0}")]
    Defect(Defect),
    /// A connection parameter shapes an endpoint's origin, and neither its
    /// `allowedValues` nor the operator's rules allow the one that results.
    #[error(
        "connection parameter `{parameter}` chooses the host of `{key}`{}, which the package does not restrict to allowedValues and no `allowed_endpoints` rule of the operator's [oauth.clients] settings for the connector grants",
        origin.as_deref().map(|o| format!(" ({o})")).unwrap_or_default()
    )]
    OriginNotAllowed {
        /// The template's key.
        key: String,
        /// The connection parameter.
        parameter: String,
        /// The origin that resulted, unless a secret parameter shaped it.
        origin: Option<String>,
    },
    /// A connection's value does not fit where it lands.
    #[error("the value of connection parameter `{parameter}` cannot be used in `{key}`: {reason}")]
    Value {
        /// The template's key.
        key: String,
        /// The connection parameter.
        parameter: String,
        /// Why (never the value).
        reason: &'static str,
    },
    /// The URL that results is not a usable `http(s)` address.
    #[error("`{key}` does not make a usable http(s) URL: {reason}")]
    Unusable {
        /// The template's key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A template names the client secret, and none is configured.
    #[error(
        "`{key}` sends the client secret, and none is configured: set `client_secret` under [oauth.clients.<connector>]"
    )]
    NoClientSecret {
        /// The template's key.
        key: String,
    },
}

impl GenericTemplates {
    /// Reads the templates of `oAuthSettings.customParameters`: keys in
    /// either case of their first letter; an empty value, or the text
    /// `None` that some packages write, is no template.
    pub fn parse(custom: &IndexMap<String, String>) -> Result<Self, TemplateError> {
        let get = |key: &'static str| {
            custom
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .filter(|(_, v)| !v.trim().is_empty() && v.trim() != "None")
                .map(|(k, v)| Template::parse(k, v.trim()))
        };
        let url = |key: &'static str| get(key).ok_or(TemplateError::Missing { key });
        let token_url = url("tokenUrlTemplate")?;
        let token_query = get("tokenUrlQueryStringTemplate");
        let (refresh_url, refresh_query) = match get("refreshUrlTemplate") {
            Some(url) => (url, get("refreshUrlQueryStringTemplate")),
            None => (token_url.clone(), token_query.clone()),
        };
        Ok(Self {
            authorization: RequestTemplates {
                url: url("authorizationUrlTemplate")?,
                query: get("authorizationUrlQueryStringTemplate"),
                body: None,
            },
            token: RequestTemplates { url: token_url, query: token_query, body: get("tokenBodyTemplate") },
            refresh: RequestTemplates { url: refresh_url, query: refresh_query, body: get("refreshBodyTemplate") },
            scope_delimiter: custom
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("scopeListDelimiter"))
                .map_or_else(|| DEFAULT_SCOPE_DELIMITER.to_string(), |(_, v)| v.clone()),
        })
    }

    /// The templates of one request.
    pub fn request(&self, request: Request) -> &RequestTemplates {
        match request {
            Request::Authorization => &self.authorization,
            Request::Token => &self.token,
            Request::Refresh => &self.refresh,
        }
    }

    /// The defects of the templates, of `settings`' `clientId` and `scopes`,
    /// against the declared `parameters`.
    pub fn defects(&self, settings: &OAuthSettings, parameters: &IndexMap<String, ConnectionParameter>) -> Vec<Defect> {
        let mut out = Vec::new();
        // The package's scopes take connection values only. Its clientId is
        // not checked: the operator's replaces it, and many packages write
        // a note for people there (`{{CLIENT_ID}}`).
        for template in settings.scopes.iter().map(|s| Template::parse("scopes", s)) {
            for name in template.placeholders() {
                if !matches!(source(name, parameters), Some(Source::Parameter(_))) {
                    out.push(Defect::UnknownPlaceholder { key: template.key.clone(), placeholder: name.into() });
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for request in [Request::Authorization, Request::Token, Request::Refresh] {
            let templates = self.request(request);
            for (name, place) in templates.url.url_places() {
                if !seen.insert((templates.url.key.clone(), name.to_string())) {
                    continue;
                }
                match (source(name, parameters), place.shapes_origin()) {
                    (None, _) => out
                        .push(Defect::UnknownPlaceholder { key: templates.url.key.clone(), placeholder: name.into() }),
                    (Some(Source::Flow(_)), true) => {
                        out.push(Defect::NotAHost { key: templates.url.key.clone(), placeholder: name.into() })
                    }
                    (Some(Source::Parameter(parameter)), true)
                        if parameters.get(parameter).is_none_or(|p| p.allowed_values.is_empty()) =>
                    {
                        out.push(Defect::UnrestrictedOrigin {
                            key: templates.url.key.clone(),
                            parameter: parameter.into(),
                        })
                    }
                    _ => {}
                }
            }
            for template in [&templates.query, &templates.body].into_iter().flatten() {
                for name in template.placeholders() {
                    if source(name, parameters).is_none() && seen.insert((template.key.clone(), name.to_string())) {
                        out.push(Defect::UnknownPlaceholder { key: template.key.clone(), placeholder: name.into() });
                    }
                }
            }
        }
        out
    }

    /// The endpoint of `request` alone, for the record of where a
    /// connection signed in: its URL template filled, and for the token and
    /// refresh endpoints their query string template (which is part of the
    /// address the tokens go to).
    pub fn endpoint_url(&self, request: Request, fill: &Fill<'_>) -> Result<url::Url, FillError> {
        let templates = self.request(request);
        let query = match &templates.query {
            Some(query) if request != Request::Authorization => fill_form(query, fill)?,
            _ => String::new(),
        };
        endpoint(&templates.url, &query, "", fill)
    }

    /// The browser's authorization URL: the URL template, then the query
    /// string template (or the standard `response_type`, `client_id`,
    /// `redirect_uri`, `scope`, `state`), then `extra` (PKCE's), and
    /// `state` when the template names none: a sign-in without it could
    /// not be matched to its connection.
    pub fn authorization_url(&self, fill: &Fill<'_>, extra: &[(&str, &str)]) -> Result<url::Url, FillError> {
        let templates = &self.authorization;
        let mut extra: Vec<(&str, &str)> = extra.to_vec();
        let query = match &templates.query {
            Some(query) => {
                if !query.names(FlowValue::State) {
                    extra.push(("state", fill.state));
                }
                fill_form(query, fill)?
            }
            None => {
                let (client_id, scopes) = (standard(FlowValue::ClientId, fill), standard(FlowValue::Scopes, fill));
                let mut pairs =
                    vec![("response_type", "code"), ("client_id", client_id), ("redirect_uri", fill.redirect_url)];
                if !scopes.is_empty() {
                    pairs.push(("scope", scopes));
                }
                pairs.push(("state", fill.state));
                form(&pairs)
            }
        };
        endpoint(&templates.url, &query, &form(&extra), fill)
    }

    /// The token endpoint's URL and form body for a code exchange, `extra`
    /// (PKCE's verifier) appended to the body.
    pub fn token_request(&self, fill: &Fill<'_>, extra: &[(&str, &str)]) -> Result<(url::Url, String), FillError> {
        let mut standard =
            vec![("grant_type", "authorization_code"), ("code", fill.code), ("redirect_uri", fill.redirect_url)];
        standard.extend(client_pairs(fill));
        self.form_request(&self.token, fill, &standard, extra)
    }

    /// The refresh endpoint's URL and form body.
    pub fn refresh_request(&self, fill: &Fill<'_>) -> Result<(url::Url, String), FillError> {
        let mut standard = vec![("grant_type", "refresh_token"), ("refresh_token", fill.refresh_token)];
        standard.extend(client_pairs(fill));
        self.form_request(&self.refresh, fill, &standard, &[])
    }

    fn form_request(
        &self,
        templates: &RequestTemplates,
        fill: &Fill<'_>,
        standard: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Result<(url::Url, String), FillError> {
        let query = match &templates.query {
            Some(query) => fill_form(query, fill)?,
            None => String::new(),
        };
        let url = endpoint(&templates.url, &query, "", fill)?;
        let body = match &templates.body {
            Some(body) => fill_form(body, fill)?,
            None => form(standard),
        };
        Ok((url, join(&body, &form(extra), "&")))
    }
}

/// The value the standard parameters send for `flow`: a connection
/// parameter's that takes its place, else the sign-in's.
fn standard<'a>(flow: FlowValue, fill: &Fill<'a>) -> &'a str {
    let name = match flow {
        FlowValue::ClientId => "ClientId",
        FlowValue::ClientSecret => "ClientSecret",
        _ => "Scopes",
    };
    match source(name, fill.parameters) {
        Some(Source::Parameter(parameter)) => fill.connection.value(parameter).unwrap_or_default(),
        _ => match flow {
            FlowValue::ClientId => fill.client_id,
            FlowValue::ClientSecret => fill.client_secret.unwrap_or_default(),
            _ => fill.scopes,
        },
    }
}

/// The client's `client_id` and (when there is one) `client_secret`, as
/// the standard form sends them.
fn client_pairs<'a>(fill: &Fill<'a>) -> Vec<(&'static str, &'a str)> {
    let mut pairs = vec![("client_id", standard(FlowValue::ClientId, fill))];
    let secret = standard(FlowValue::ClientSecret, fill);
    if !secret.is_empty() {
        pairs.push(("client_secret", secret));
    }
    pairs
}

/// `pairs` form-encoded, `a=b&c=d`.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// `left` and `right` joined by `separator`, when both have something.
fn join(left: &str, right: &str, separator: &str) -> String {
    match (left.is_empty(), right.is_empty()) {
        (_, true) => left.to_string(),
        (true, false) => right.to_string(),
        (false, false) => format!("{left}{separator}{right}"),
    }
}

/// The value of a placeholder that is not in an origin, raw.
fn value<'a>(name: &str, key: &str, fill: &Fill<'a>) -> Result<&'a str, FillError> {
    let unknown = || FillError::Defect(Defect::UnknownPlaceholder { key: key.into(), placeholder: name.into() });
    Ok(match source(name, fill.parameters).ok_or_else(unknown)? {
        Source::Parameter(parameter) => fill.connection.value(parameter).unwrap_or_default(),
        Source::Flow(FlowValue::ClientId) => fill.client_id,
        Source::Flow(FlowValue::ClientSecret) => {
            fill.client_secret.ok_or_else(|| FillError::NoClientSecret { key: key.into() })?
        }
        Source::Flow(FlowValue::RedirectUrl) => fill.redirect_url,
        Source::Flow(FlowValue::State) => fill.state,
        Source::Flow(FlowValue::Scopes) => fill.scopes,
        Source::Flow(FlowValue::Code) => fill.code,
        Source::Flow(FlowValue::RefreshToken) => fill.refresh_token,
    })
}

/// A query string or body template filled, every value form-encoded: no
/// value can add a parameter or end the string.
fn fill_form(template: &Template, fill: &Fill<'_>) -> Result<String, FillError> {
    let mut out = String::new();
    for piece in &template.pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Slot(name) => {
                out.extend(url::form_urlencoded::byte_serialize(value(name, &template.key, fill)?.as_bytes()))
            }
        }
    }
    Ok(out.trim_start_matches(['?', '&']).to_string())
}

/// Fills a `clientId` or scope template of the package with the
/// connection's values, as they are (they are sent form-encoded later);
/// a placeholder that names no connection parameter is an error.
pub fn fill_plain(
    template: &Template,
    parameters: &IndexMap<String, ConnectionParameter>,
    connection: &Connection,
) -> Result<String, FillError> {
    let mut out = String::new();
    for piece in &template.pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Slot(name) => match source(name, parameters) {
                Some(Source::Parameter(parameter)) => out.push_str(connection.value(parameter).unwrap_or_default()),
                _ => {
                    return Err(FillError::Defect(Defect::UnknownPlaceholder {
                        key: template.key.clone(),
                        placeholder: name.clone(),
                    }));
                }
            },
        }
    }
    Ok(out)
}

/// An endpoint: the URL template filled (each value encoded for its place),
/// `query` and `extra` appended as the platform does, by concatenation
/// (after a fragment, as an SPA's `#/authorize` wants them), then parsed and
/// its origin checked against the rule for connection values.
fn endpoint(template: &Template, query: &str, extra: &str, fill: &Fill<'_>) -> Result<url::Url, FillError> {
    let key = &template.key;
    let places = template.url_places();
    let mut slots = places.iter();
    let mut text = String::new();
    // The connection parameters that shaped the origin: (name, restricted, secret).
    let mut shaping: Vec<(&str, bool, bool)> = Vec::new();
    for (index, piece) in template.pieces.iter().enumerate() {
        let name = match piece {
            Piece::Text(literal) => {
                text.push_str(literal);
                continue;
            }
            Piece::Slot(name) => name,
        };
        let place = slots.next().map_or(Place::Query, |(_, place)| *place);
        if !place.shapes_origin() {
            let raw = value(name, key, fill)?;
            if place == Place::Path {
                if !raw.is_empty() && raw.bytes().all(|b| b == b'.') {
                    let parameter = name.clone();
                    return Err(FillError::Value {
                        key: key.clone(),
                        parameter,
                        reason: "dots alone would leave the path",
                    });
                }
                text.extend(utf8_percent_encode(raw, SEGMENT));
            } else {
                text.extend(url::form_urlencoded::byte_serialize(raw.as_bytes()));
            }
            continue;
        }
        let parameter = match source(name, fill.parameters) {
            Some(Source::Parameter(parameter)) => parameter,
            Some(Source::Flow(_)) => {
                return Err(FillError::Defect(Defect::NotAHost { key: key.clone(), placeholder: name.clone() }));
            }
            None => {
                return Err(FillError::Defect(Defect::UnknownPlaceholder {
                    key: key.clone(),
                    placeholder: name.clone(),
                }));
            }
        };
        let bad = |reason: &'static str| FillError::Value { key: key.clone(), parameter: parameter.into(), reason };
        let declared = fill.parameters.get(parameter);
        let raw = fill.connection.value(parameter).unwrap_or_default();
        let restricted = declared.is_some_and(|p| p.allowed_values.iter().any(|allowed| allowed == raw));
        shaping.push((parameter, restricted, declared.is_some_and(ConnectionParameter::is_secret)));
        if raw.is_empty() {
            return Err(bad("it is empty, and the endpoint's host needs it"));
        }
        if place == Place::Host {
            if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.')) {
                return Err(bad("a host takes letters, digits, `-` and `.` only"));
            }
            text.push_str(raw);
            continue;
        }
        // The value brings the scheme and host: an absolute http(s) URL of
        // its own, with nothing that could move the host.
        if raw.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'\\') {
            return Err(bad("a URL takes no spaces, control characters or backslashes"));
        }
        let own = url::Url::parse(raw).map_err(|_| bad("it is not an absolute http(s) URL"))?;
        if !matches!(own.scheme(), "http" | "https") || own.host().is_none() {
            return Err(bad("it is not an absolute http(s) URL"));
        }
        if !own.username().is_empty() || own.password().is_some() {
            return Err(bad("it carries user information"));
        }
        let last = index + 1 == template.pieces.len();
        if own.fragment().is_some() || (!last && own.query().is_some()) {
            return Err(bad("it carries a query or a fragment, and the template goes on after it"));
        }
        let continues_with_slash =
            matches!(template.pieces.get(index + 1), Some(Piece::Text(next)) if next.starts_with('/'));
        text.push_str(if continues_with_slash { raw.trim_end_matches('/') } else { raw });
    }
    let tail = join(query, extra, "&");
    if !tail.is_empty() {
        text.push(if text.contains('?') { '&' } else { '?' });
        text.push_str(&tail);
    }
    let unusable = |reason: String| FillError::Unusable { key: key.clone(), reason };
    let url = url::Url::parse(&text).map_err(|e| unusable(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(unusable(format!("its scheme is `{}`", url.scheme())));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(unusable("it carries user information".into()));
    }
    if url.host().is_none() {
        return Err(unusable("it has no host".into()));
    }
    if let Some((parameter, _, _)) = shaping.iter().find(|(_, restricted, _)| !restricted) {
        let target = Target::parse(url.as_str()).map_err(|e| unusable(e.to_string()))?;
        if !fill.allowed_endpoints.iter().any(|rule| rule.grants(&target)) {
            let secret = shaping.iter().any(|(_, _, secret)| *secret);
            return Err(FillError::OriginNotAllowed {
                key: key.clone(),
                parameter: parameter.to_string(),
                origin: (!secret).then(|| target.to_string()),
            });
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(kind: &str, allowed: &[&str]) -> ConnectionParameter {
        ConnectionParameter {
            kind: kind.into(),
            required: false,
            display_name: None,
            description: None,
            tooltip: None,
            allowed_values: allowed.iter().map(|s| s.to_string()).collect(),
            oauth: None,
        }
    }

    fn custom(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    struct Case {
        parameters: IndexMap<String, ConnectionParameter>,
        connection: Connection,
        rules: Vec<AllowRule>,
    }

    impl Case {
        fn new(parameters: &[(&str, ConnectionParameter)], values: &[(&str, &str)], rules: &[&str]) -> Self {
            let parameters: IndexMap<_, _> = parameters.iter().map(|(n, p)| (n.to_string(), p.clone())).collect();
            let values = values.iter().map(|(k, v)| (k.to_string(), crate::Secret::new(*v))).collect();
            let mut loose = parameters.clone();
            for p in loose.values_mut() {
                p.allowed_values.clear();
            }
            // Values outside allowedValues are what an old connection of a
            // changed package may still hold: built unchecked.
            let connection = Connection::new("c", "x", values, &loose).unwrap();
            Self { parameters, connection, rules: rules.iter().map(|r| r.parse().unwrap()).collect() }
        }

        fn fill(&self) -> Fill<'_> {
            Fill {
                parameters: &self.parameters,
                connection: &self.connection,
                client_id: "client 1",
                client_secret: Some("s3cret&x=y"),
                redirect_url: "https://gw.example/redirect/x",
                scopes: "a b",
                state: "st",
                code: "co&de",
                refresh_token: "",
                allowed_endpoints: &self.rules,
            }
        }
    }

    fn zoho() -> GenericTemplates {
        GenericTemplates::parse(&custom(&[
            ("authorizationUrlTemplate", "https://accounts.zoho{CustomHost}/oauth/v2/auth"),
            (
                "authorizationUrlQueryStringTemplate",
                "?response_type=code&client_id={clientId}&redirect_uri={redirectUrl}&state={State}&scope={Scopes}&access_type=offline&prompt=consent",
            ),
            ("tokenUrlTemplate", "https://accounts.zoho{CustomHost}/oauth/v2/token"),
            (
                "tokenBodyTemplate",
                "code={code}&grant_type=authorization_code&redirect_uri={redirectUrl}&client_id={clientId}&client_secret={clientSecret}",
            ),
            ("refreshBodyTemplate", "grant_type=refresh_token&refresh_token={refreshToken}&client_id={clientId}"),
        ]))
        .unwrap()
    }

    #[test]
    fn placeholders_and_braces_that_are_text() {
        let t = Template::parse("k", "{{CLIENT_ID}} {a b} {x.y-z_1}{}");
        assert_eq!(t.placeholders().collect::<Vec<_>>(), ["CLIENT_ID", "x.y-z_1"]);
    }

    #[test]
    fn places_follow_the_url() {
        let t = Template::parse("k", "https://identity{environment}/{region}/ids/{tenantId}?a={q}#{f}");
        let places: Vec<_> = t.url_places().into_iter().map(|(_, p)| p).collect();
        assert_eq!(places, [Place::Host, Place::Path, Place::Path, Place::Query, Place::Query]);
        let t = Template::parse("k", "{env}/oauth/{x}");
        assert_eq!(t.url_places().into_iter().map(|(_, p)| p).collect::<Vec<_>>(), [Place::Url, Place::Path]);
        let t = Template::parse("k", "{AuthorizationUrl}");
        assert_eq!(t.url_places()[0].1, Place::Url);
    }

    #[test]
    fn a_restricted_host_value_fills_the_origin_and_values_are_form_encoded() {
        let case = Case::new(
            &[("token:customHost", parameter("string", &[".com", ".eu"]))],
            &[("token:customHost", ".eu")],
            &[],
        );
        let templates = zoho();
        let url = templates.authorization_url(&case.fill(), &[("code_challenge", "cc")]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://accounts.zoho.eu/oauth/v2/auth?response_type=code&client_id=client+1&redirect_uri=https%3A%2F%2Fgw.example%2Fredirect%2Fx&state=st&scope=a+b&access_type=offline&prompt=consent&code_challenge=cc"
        );
        let (url, body) = templates.token_request(&case.fill(), &[("code_verifier", "v")]).unwrap();
        assert_eq!(url.as_str(), "https://accounts.zoho.eu/oauth/v2/token");
        assert_eq!(
            body,
            "code=co%26de&grant_type=authorization_code&redirect_uri=https%3A%2F%2Fgw.example%2Fredirect%2Fx&client_id=client+1&client_secret=s3cret%26x%3Dy&code_verifier=v"
        );
    }

    #[test]
    fn a_free_host_value_is_refused_unless_the_operator_allows_the_origin() {
        let free = [("token:customHost", parameter("string", &[]))];
        let case = Case::new(&free, &[("token:customHost", ".evil.example")], &[]);
        let error = zoho().token_request(&case.fill(), &[]).unwrap_err();
        assert_eq!(
            error,
            FillError::OriginNotAllowed {
                key: "tokenUrlTemplate".into(),
                parameter: "token:customHost".into(),
                origin: Some("https://accounts.zoho.evil.example:443".into())
            }
        );
        // A value of the package's list that the package no longer lists is free too.
        let changed = [("token:customHost", parameter("string", &[".com"]))];
        let case = Case::new(&changed, &[("token:customHost", ".evil.example")], &[]);
        assert!(matches!(zoho().token_request(&case.fill(), &[]), Err(FillError::OriginNotAllowed { .. })));
        let case = Case::new(&free, &[("token:customHost", ".eu")], &["https://accounts.zoho.eu"]);
        assert!(zoho().token_request(&case.fill(), &[]).is_ok());
        let case = Case::new(&free, &[("token:customHost", ".eu")], &["http://accounts.zoho.eu"]);
        assert!(matches!(zoho().token_request(&case.fill(), &[]), Err(FillError::OriginNotAllowed { .. })));
    }

    #[test]
    fn injection_into_a_host_is_refused_even_where_the_operator_allows_a_suffix() {
        let free = [("token:customHost", parameter("string", &[]))];
        for hostile in [".com@evil.example", ".com/x", ".com?", ".com#", ".com:8443", ".com\\evil", ".com%2F", ""] {
            let case = Case::new(&free, &[("token:customHost", hostile)], &["https://*.example", "https://*.zoho.com"]);
            let error = zoho().authorization_url(&case.fill(), &[]).unwrap_err();
            assert!(matches!(error, FillError::Value { .. }), "{hostile}: {error:?}");
            assert!(!error.to_string().contains("evil"), "{error}");
        }
    }

    #[test]
    fn a_url_valued_parameter_is_an_http_url_whose_origin_must_be_allowed() {
        let templates = GenericTemplates::parse(&custom(&[
            ("authorizationUrlTemplate", "{BigEvalUrl}/connect/authorize"),
            ("tokenUrlTemplate", "{BigEvalUrl}/connect/token"),
        ]))
        .unwrap();
        let declared = [("token:BigEvalUrl", parameter("string", &[]))];
        let rules = ["https://*.bigeval.example"];
        let case = Case::new(&declared, &[("token:BigEvalUrl", "https://acme.bigeval.example/")], &rules);
        let (url, _) = templates.token_request(&case.fill(), &[]).unwrap();
        assert_eq!(url.as_str(), "https://acme.bigeval.example/connect/token");
        for hostile in [
            "https://acme.bigeval.example@evil.example",
            "https://evil.example#.bigeval.example",
            "https://evil.example?.bigeval.example",
            "javascript:alert(1)",
            "https://evil.example\\.bigeval.example",
            "acme.bigeval.example",
        ] {
            let case = Case::new(&declared, &[("token:BigEvalUrl", hostile)], &rules);
            let error = templates.token_request(&case.fill(), &[]).unwrap_err();
            assert!(matches!(error, FillError::Value { .. }), "{hostile}: {error:?}");
        }
        let case = Case::new(&declared, &[("token:BigEvalUrl", "https://evil.example")], &rules);
        assert!(matches!(templates.token_request(&case.fill(), &[]), Err(FillError::OriginNotAllowed { .. })));
    }

    #[test]
    fn path_values_stay_one_segment() {
        let templates = GenericTemplates::parse(&custom(&[
            ("authorizationUrlTemplate", "https://identity{environment}/{region}/ids/{tenantId}/connect/authorize"),
            ("tokenUrlTemplate", "https://identity{environment}/{region}/ids/{tenantId}/connect/token"),
        ]))
        .unwrap();
        let declared = [
            ("token:environment", parameter("string", &[".tribal.example"])),
            ("token:region", parameter("string", &["emea"])),
            ("token:tenantId", parameter("string", &[])),
        ];
        let values =
            |tenant| [("token:environment", ".tribal.example"), ("token:region", "emea"), ("token:tenantId", tenant)];
        let case = Case::new(&declared, &values("a/../b?c#d"), &[]);
        let (url, _) = templates.token_request(&case.fill(), &[]).unwrap();
        assert_eq!(url.as_str(), "https://identity.tribal.example/emea/ids/a%2F..%2Fb%3Fc%23d/connect/token");
        for dots in ["..", "."] {
            let case = Case::new(&declared, &values(dots), &[]);
            assert!(matches!(templates.token_request(&case.fill(), &[]), Err(FillError::Value { .. })));
        }
    }

    #[test]
    fn connection_parameters_replace_the_client_but_never_the_flow_values() {
        let templates = GenericTemplates::parse(&custom(&[
            ("authorizationUrlTemplate", "https://id.example/authorize"),
            ("authorizationUrlQueryStringTemplate", "?client_id={ClientId}&redirect_uri={RedirectUrl}"),
            ("tokenUrlTemplate", "https://id.example/token"),
        ]))
        .unwrap();
        let declared = [
            ("token:ClientId", parameter("string", &[])),
            ("token:ClientSecret", parameter("securestring", &[])),
            ("token:RedirectUrl", parameter("string", &[])),
        ];
        let values = [
            ("token:ClientId", "own"),
            ("token:ClientSecret", "own-secret"),
            ("token:RedirectUrl", "https://evil.example"),
        ];
        let case = Case::new(&declared, &values, &[]);
        let url = templates.authorization_url(&case.fill(), &[]).unwrap();
        assert_eq!(url.query(), Some("client_id=own&redirect_uri=https%3A%2F%2Fgw.example%2Fredirect%2Fx&state=st"));
        // The standard body sends the connection's own client, not the operator's.
        let (_, body) = templates.token_request(&case.fill(), &[]).unwrap();
        assert!(body.ends_with("client_id=own&client_secret=own-secret"), "{body}");
    }

    #[test]
    fn defects_name_unknown_placeholders_flow_values_in_hosts_and_free_hosts() {
        let templates = GenericTemplates::parse(&custom(&[
            ("authorizationUrlTemplate", "https://{US_domain}/auth"),
            ("tokenUrlTemplate", "https://{state}.example/token"),
            ("refreshUrlTemplate", "https://{host}.example/token"),
            ("refreshBodyTemplate", "x={Nope}"),
        ]))
        .unwrap();
        let parameters: IndexMap<String, ConnectionParameter> =
            [("token:host".to_string(), parameter("string", &[]))].into_iter().collect();
        let settings = OAuthSettings {
            identity_provider: GENERIC_PROVIDER.into(),
            client_id: Some("{{CLIENT_ID}}".into()),
            scopes: vec!["{Scope}".into()],
            redirect_mode: None,
            redirect_url: None,
            custom_parameters: IndexMap::new(),
        };
        let found: Vec<String> =
            templates.defects(&settings, &parameters).iter().map(|d| format!("{} {}", d.key(), d.is_error())).collect();
        assert_eq!(
            found,
            [
                "scopes true",
                "authorizationUrlTemplate true",
                "tokenUrlTemplate true",
                "refreshUrlTemplate false",
                "refreshBodyTemplate true"
            ]
        );
        assert_eq!(
            GenericTemplates::parse(&custom(&[("authorizationUrlTemplate", "https://a")])),
            Err(TemplateError::Missing { key: "tokenUrlTemplate" })
        );
    }

    #[test]
    fn absent_templates_mean_the_standard_parameters() {
        let templates = GenericTemplates::parse(&custom(&[
            ("AuthorizationUrlTemplate", "https://id.example/authorize"),
            ("TokenUrlTemplate", "https://id.example/token"),
            ("TokenUrlQueryStringTemplate", ""),
            ("RefreshUrlTemplate", "None"),
        ]))
        .unwrap();
        let case = Case::new(&[], &[], &[]);
        let url = templates.authorization_url(&case.fill(), &[("code_challenge", "cc")]).unwrap();
        assert_eq!(
            url.query(),
            Some(
                "response_type=code&client_id=client+1&redirect_uri=https%3A%2F%2Fgw.example%2Fredirect%2Fx&scope=a+b&state=st&code_challenge=cc"
            )
        );
        let mut fill = case.fill();
        fill.refresh_token = "r t";
        let (url, body) = templates.refresh_request(&fill).unwrap();
        assert_eq!(url.as_str(), "https://id.example/token");
        assert_eq!(body, "grant_type=refresh_token&refresh_token=r+t&client_id=client+1&client_secret=s3cret%26x%3Dy");
        assert_eq!(templates.scope_delimiter, ",");
    }
}
