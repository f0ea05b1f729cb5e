//! OAuth sign-in over HTTP: starting one (a redirect to the provider, and
//! the browser-binding cookie), and the provider's redirect back on the
//! per-connector or the global URI, which completes only in the browser
//! that started it, for the principal who did.
//!
//! Only a connection's owner (or an admin) may start its sign-in. The
//! cookie (`sluice_signin`) is `HttpOnly`, `SameSite=Lax` (the provider's
//! redirect is a top-level navigation, which carries it), limited to the
//! redirect paths, and `Secure` when `public_url` is https. Its value
//! identifies the browser, so one browser may run several sign-ins at once.

use std::sync::Arc;

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore as _;

use crate::access::Caller;
use crate::gateway::Gateway;
use crate::oauth::{Redirect, SignInFailure};
use crate::problem::GatewayError;
use crate::registry::Registry;

/// The browser-binding cookie's name.
const BINDING_COOKIE: &str = "sluice_signin";
/// How long the cookie lives: as long as a pending sign-in.
const BINDING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Starts signing a connection in: a redirect to the provider, with the
/// browser-binding cookie.
pub(super) async fn start(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path((connector, connection)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    gateway.access().directory().may_sign_in(&caller, &connector, &connection)?;
    let loaded = gateway.registry().get(&connector)?;
    if gateway.access().connection(&loaded, &connection).is_none() {
        return Err(crate::oauth::OAuthError::UnknownConnection { connector, connection }.into());
    }
    // The browser keeps its binding across sign-ins; a new one gets one.
    let binding = binding_cookie(&headers).unwrap_or_else(new_binding);
    let url = gateway.oauth()?.start_signin(&loaded, &connection, &caller.id, &binding).await?;
    let location = HeaderValue::from_str(&url).map_err(|_| GatewayError::AuthorizationUrl)?;
    let secure = gateway.public_url().is_some_and(|url| url.scheme() == "https");
    let cookie = cookie::Cookie::build((BINDING_COOKIE, binding))
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Lax)
        .path("/redirect")
        .max_age(cookie::time::Duration::seconds(BINDING_MAX_AGE.as_secs() as i64))
        .build();
    let cookie = HeaderValue::from_str(&cookie.to_string()).map_err(|_| GatewayError::AuthorizationUrl)?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location), (header::SET_COOKIE, cookie)]).into_response())
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

/// `/redirect`: the global redirect URI.
pub(super) async fn redirect_global(
    State(gateway): State<Gateway>,
    State(registry): State<Arc<Registry>>,
    headers: HeaderMap,
    Query(query): Query<RedirectQuery>,
) -> Result<Response, GatewayError> {
    finish(&gateway, &registry, None, &headers, query).await
}

/// `/redirect/{connector}`: a per-connector redirect URI.
pub(super) async fn redirect_connector(
    State(gateway): State<Gateway>,
    State(registry): State<Arc<Registry>>,
    Path(connector): Path<String>,
    headers: HeaderMap,
    Query(query): Query<RedirectQuery>,
) -> Result<Response, GatewayError> {
    finish(&gateway, &registry, Some(&connector), &headers, query).await
}

async fn finish(
    gateway: &Gateway,
    registry: &Registry,
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
        return Err(crate::oauth::OAuthError::from(SignInFailure::Provider {
            error,
            description: query.error_description,
        })
        .into());
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Err(crate::oauth::OAuthError::from(SignInFailure::MissingCodeOrState).into());
    };
    let redirect = Redirect {
        code: &code,
        state: &state,
        issuer: query.iss.as_deref(),
        binding: binding.as_deref(),
        principal: caller.as_ref().map(|c| &*c.id),
    };
    let (connector, connection) = gateway.oauth()?.finish_signin(registry, connector, redirect).await?;
    Ok(Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed in</title></head>\
         <body><p>Connection <b>{}</b> of connector <b>{}</b> is signed in. You can close this page.</p></body></html>",
        html_text(&connection),
        html_text(&connector)
    ))
    .into_response())
}

fn html_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
