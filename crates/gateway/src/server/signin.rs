//! OAuth sign-in over HTTP: starting one (a redirect to the provider), and
//! the provider's redirect back on the per-connector or the global URI.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::gateway::Gateway;
use crate::oauth::SignInFailure;
use crate::problem::GatewayError;
use crate::registry::Registry;

/// Starts signing a connection in: a redirect to the provider.
pub(super) async fn start(
    State(gateway): State<Gateway>,
    Path((connector, connection)): Path<(String, String)>,
) -> Result<Response, GatewayError> {
    let loaded = gateway.registry().get(&connector)?;
    let url = gateway.oauth()?.start_signin(&loaded, &connection).await?;
    let location = HeaderValue::from_str(&url).map_err(|_| GatewayError::AuthorizationUrl)?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
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
    Query(query): Query<RedirectQuery>,
) -> Result<Response, GatewayError> {
    finish(&gateway, &registry, None, query).await
}

/// `/redirect/{connector}`: a per-connector redirect URI.
pub(super) async fn redirect_connector(
    State(gateway): State<Gateway>,
    State(registry): State<Arc<Registry>>,
    Path(connector): Path<String>,
    Query(query): Query<RedirectQuery>,
) -> Result<Response, GatewayError> {
    finish(&gateway, &registry, Some(&connector), query).await
}

async fn finish(
    gateway: &Gateway,
    registry: &Registry,
    connector: Option<&str>,
    query: RedirectQuery,
) -> Result<Response, GatewayError> {
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
    let (connector, connection) =
        gateway.oauth()?.finish_signin(registry, connector, &code, &state, query.iss.as_deref()).await?;
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
