//! OAuth sign-in over HTTP: starting one (a redirect to the provider, and
//! the browser-binding cookie), and the provider's redirect back on the
//! per-connector or the global URI, which completes only in the browser
//! that started it, for the principal who did.
//!
//! Only a connection's owner (or an admin) may start its sign-in. The
//! cookie (`sluice_signin`) is `HttpOnly`, `SameSite=Lax` (the provider's
//! redirect is a top-level navigation, which carries it), limited to the
//! sign-in's redirect path, and `Secure` when `public_url` is https.
//!
//! The global redirect URI is shared by every environment: the pending
//! sign-in says which one it belongs to, and that environment finishes it.

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore as _;

use super::{ConnectionPath, InEnvironment};
use crate::access::{Caller, DEFAULT_ENVIRONMENT};
use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::oauth::{Finished, OAuthError, Redirect, SignInFailure};
use crate::problem::GatewayError;
use crate::registry::LoadedConnector;

/// The browser-binding cookie's name.
const BINDING_COOKIE: &str = "sluice_signin";
/// How long the cookie lives: as long as a pending sign-in.
const BINDING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Starts signing a connection in: a redirect to the provider, with the
/// browser-binding cookie.
pub(super) async fn start(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(entered): Extension<InEnvironment>,
    Path(ConnectionPath { connector, connection }): Path<ConnectionPath>,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let begun = begin(&gateway, &caller, &entered, &connector, &connection, &headers, None).await?;
    let location = HeaderValue::from_str(&begun.url).map_err(|_| GatewayError::AuthorizationUrl)?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location), (header::SET_COOKIE, begun.cookie)]).into_response())
}

/// A sign-in begun: the provider's authorization URL, and the
/// browser-binding cookie to set.
pub(crate) struct Begun {
    /// Where the browser goes next.
    pub url: String,
    /// The `Set-Cookie` value.
    pub cookie: HeaderValue,
    /// The binding secret, for a command-line client to complete with.
    pub binding: String,
}

/// Begins signing a connection in for its owner (or an admin), in the
/// browser that sent `headers`: the provider's URL and the binding cookie,
/// for the redirect of `GET .../signin` and for the management API alike.
/// With `loopback_port`, a command-line client on that port of the
/// browser's machine completes it instead of the cookie.
pub(crate) async fn begin(
    gateway: &Gateway,
    caller: &Caller,
    entered: &InEnvironment,
    connector: &str,
    connection: &str,
    headers: &HeaderMap,
    loopback_port: Option<u16>,
) -> Result<Begun, GatewayError> {
    let InEnvironment { environment, directory } = entered;
    directory.may_sign_in(caller, connector, connection)?;
    let loaded = environment.registry().get(connector)?;
    let Some(lookup) = gateway.access().connection(environment.id(), &loaded, connection) else {
        return Err(OAuthError::UnknownConnection { connector: connector.into(), connection: connection.into() }.into());
    };
    // A connection whose values no longer fit the package signs in all the
    // same, unless its provider is made of them.
    let values = lookup.as_ref().ok().map(|state| &*state.connection);
    // The browser keeps its binding across sign-ins; a new one gets one.
    let binding = match loopback_port {
        // A client's secret is its own, never a browser's cookie.
        Some(_) => new_binding(),
        None => binding_cookie(headers).unwrap_or_else(new_binding),
    };
    let oauth = environment.oauth()?;
    let started = oauth.start_signin(&loaded, connection, values, &caller.id, &binding, loopback_port).await?;
    let secure = gateway.public_url().is_some_and(|url| url.scheme() == "https");
    let path = url::Url::parse(&started.redirect_uri).map(|u| u.path().to_string()).unwrap_or("/redirect".into());
    let cookie = cookie::Cookie::build((BINDING_COOKIE, binding.clone()))
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Lax)
        .path(path)
        .max_age(cookie::time::Duration::seconds(BINDING_MAX_AGE.as_secs() as i64))
        .build();
    let cookie = HeaderValue::from_str(&cookie.to_string()).map_err(|_| GatewayError::AuthorizationUrl)?;
    Ok(Begun { url: started.url, cookie, binding })
}

/// A fresh binding: 32 random bytes, base64url.
fn new_binding() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The binding cookie the browser sent, if it has the shape of one.
fn binding_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == BINDING_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The provider's redirect back, on the query.
#[derive(Debug, serde::Deserialize)]
pub(super) struct RedirectQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// The provider's issuer identifier (RFC 9207), when it sends one.
    iss: Option<String>,
}

/// `/redirect`: the global redirect URI, shared by every environment. The
/// pending sign-in of the `state` says which one finishes it; a `state`
/// that is not pending is refused by the default environment, as any is.
pub(super) async fn redirect_global(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Query(query): Query<RedirectQuery>,
) -> Result<Response, GatewayError> {
    let mut environment = gateway.default_environment();
    if let Some(state) = &query.state
        && let Ok(oauth) = environment.oauth()
        && let Some(destination) = oauth.pending_destination(state).await?
        && let Some(found) = gateway.environment(&destination.environment)
    {
        environment = found;
    }
    finish(&gateway, environment, None, &headers, query).await
}

/// The path of a per-connector redirect URI: the connector, and the
/// environment outside the default one.
#[derive(Debug, serde::Deserialize)]
pub(super) struct RedirectPath {
    environment: Option<String>,
    connector: String,
}

/// `/redirect/{connector}` and `/environments/{environment}/redirect/{connector}`:
/// a per-connector redirect URI. An environment that does not exist has no
/// sign-in pending, and is refused as an unknown `state` is.
pub(super) async fn redirect_connector(
    State(gateway): State<Gateway>,
    Path(RedirectPath { environment, connector }): Path<RedirectPath>,
    headers: HeaderMap,
    Query(query): Query<RedirectQuery>,
) -> Result<Response, GatewayError> {
    let id = environment.as_deref().unwrap_or(DEFAULT_ENVIRONMENT);
    let Some(environment) = gateway.environment(id) else {
        return Err(OAuthError::from(SignInFailure::UnknownState).into());
    };
    finish(&gateway, environment, Some(&connector), &headers, query).await
}

async fn finish(
    gateway: &Gateway,
    environment: &Environment,
    connector: Option<&str>,
    headers: &HeaderMap,
    query: RedirectQuery,
) -> Result<Response, GatewayError> {
    // A redirect that carries a credential must carry the starter's; one
    // that carries a bad credential is refused like one without a caller.
    let caller = match headers.get(header::AUTHORIZATION) {
        Some(value) => Some(
            gateway.access().authenticate(Some(value.as_bytes())).await.map_err(|_| GatewayError::Unauthenticated)?,
        ),
        None => None,
    };
    let binding = binding_cookie(headers);
    if let Some(error) = query.error {
        return Err(OAuthError::from(SignInFailure::Provider { error, description: query.error_description }).into());
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Err(OAuthError::from(SignInFailure::MissingCodeOrState).into());
    };
    let redirect = Redirect {
        code: &code,
        state: &state,
        issuer: query.iss.as_deref(),
        binding: binding.as_deref(),
        principal: caller.as_ref().map(|c| &*c.id),
    };
    let oauth = environment.oauth()?;
    let values = connection_values(gateway, environment);
    let (connector, connection) =
        match oauth.finish_signin(environment.registry(), &values, connector, redirect).await? {
            Finished::SignedIn { connector, connection } => (connector, connection),
            Finished::Handoff { url } => {
                let location = HeaderValue::from_str(&url).map_err(|_| GatewayError::AuthorizationUrl)?;
                return Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response());
            }
        };
    Ok(super::own_page(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed in</title></head>\
         <body><p>Connection <b>{}</b> of connector <b>{}</b> is signed in.</p>\
         <p><a href=\"/console/#/connections\">Back to the console</a></p></body></html>",
        html_text(&connection),
        html_text(&connector)
    )))
}

/// Finds the values of a connection of `environment`, for an OAuth
/// provider made of them (`oauth2generic`).
pub(crate) fn connection_values<'a>(
    gateway: &'a Gateway,
    environment: &'a Environment,
) -> impl Fn(&LoadedConnector, &str) -> Option<sluice_package::Connection> + Send + Sync + 'a {
    move |loaded, id| {
        gateway
            .access()
            .connection(environment.id(), loaded, id)?
            .ok()
            .map(|state| sluice_package::Connection::clone(&state.connection))
    }
}

fn html_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
