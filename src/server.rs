//! The HTTP surface: routes, the per-request span and correlation id, and
//! the limits on what clients send.
//!
//! - `ANY /apim/{connector}/{connection}/{operation path}`: call an operation,
//!   the platform's runtime URL shape;
//! - `GET /healthz`: liveness;
//! - `GET /metrics`: Prometheus text;
//! - `GET /connections/{connector}/{connection}/signin`: start an OAuth sign-in;
//! - `GET /redirect/{connector}` and `GET /redirect`: the provider's redirect
//!   back (per-connector and global redirect URIs);
//! - `GET /admin/redirect-audit` (JSON) and `/admin/redirect-audit.html`:
//!   OAuth connectors still on the global redirect URI.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use tracing::Instrument;

use crate::gateway::Gateway;
use crate::metrics::{OperationLabels, RequestLabels};
use crate::problem::{CORRELATION_HEADER, GatewayError};

/// The gateway's router.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/connections/{connector}/{connection}/signin", get(signin))
        .route("/redirect", get(redirect_global))
        .route("/redirect/{connector}", get(redirect_connector))
        .route("/admin/redirect-audit", get(redirect_audit))
        .route("/admin/redirect-audit.html", get(redirect_audit_html))
        .route("/apim/{connector}/{connection}", any(operation_root))
        .route("/apim/{connector}/{connection}/", any(operation_root))
        .route("/apim/{connector}/{connection}/{*path}", any(operation))
        .with_state(gateway)
}

async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    let mut response = gateway.metrics().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// Starts signing a connection in: a redirect to the provider.
async fn signin(
    State(gateway): State<Arc<Gateway>>,
    Path((connector, connection)): Path<(String, String)>,
) -> Response {
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let started = (|| {
        let loaded = match gateway.connector(&connector) {
            crate::gateway::Lookup::Ready(loaded) => loaded,
            crate::gateway::Lookup::Failed(reason) => {
                return Err(GatewayError::ConnectorUnavailable { connector: connector.clone(), reason });
            }
            crate::gateway::Lookup::Missing => return Err(GatewayError::UnknownConnector { connector: connector.clone() }),
        };
        gateway.oauth()?.start_signin(&loaded, &connection)
    })();
    match started {
        Ok(url) => match HeaderValue::from_str(&url) {
            Ok(location) => (axum::http::StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => GatewayError::Internal("authorization URL is not a valid header".into()).into_problem(&correlation_id),
        },
        Err(error) => {
            tracing::info!(%connector, %connection, error = %error, "sign-in not started");
            error.into_problem(&correlation_id)
        }
    }
}

/// The provider's redirect back, on the query.
#[derive(Debug, serde::Deserialize)]
struct RedirectQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn redirect_global(State(gateway): State<Arc<Gateway>>, Query(query): Query<RedirectQuery>) -> Response {
    finish_signin(gateway, None, query).await
}

async fn redirect_connector(
    State(gateway): State<Arc<Gateway>>,
    Path(connector): Path<String>,
    Query(query): Query<RedirectQuery>,
) -> Response {
    finish_signin(gateway, Some(connector), query).await
}

async fn finish_signin(gateway: Arc<Gateway>, connector: Option<String>, query: RedirectQuery) -> Response {
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let result = async {
        if let Some(error) = query.error {
            let description = query.error_description.map(|d| format!(": {d}")).unwrap_or_default();
            return Err(GatewayError::SignInFailed(format!("the provider answered `{error}`{description}")));
        }
        let (Some(code), Some(state)) = (query.code, query.state) else {
            return Err(GatewayError::SignInFailed("the redirect carries no `code` and `state`".into()));
        };
        gateway.oauth()?.finish_signin(&gateway, connector.as_deref(), &code, &state).await
    }
    .await;
    match result {
        Ok((connector, connection)) => axum::response::Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed in</title></head>\
             <body><p>Connection <b>{}</b> of connector <b>{}</b> is signed in. You can close this page.</p></body></html>",
            html_text(&connection),
            html_text(&connector)
        ))
        .into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "sign-in failed");
            error.into_problem(&correlation_id)
        }
    }
}

fn html_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn audit_entries(gateway: &Gateway) -> Vec<crate::oauth::audit::AuditEntry> {
    let loaded = gateway.packages();
    crate::oauth::audit::audit(loaded.iter().map(|c| &c.package))
}

async fn redirect_audit(State(gateway): State<Arc<Gateway>>) -> Response {
    let cutoff = gateway.oauth().ok().and_then(|o| o.cutoff());
    axum::Json(serde_json::json!({
        "cutoff": cutoff.map(|d| d.to_string()),
        "connectors": audit_entries(&gateway),
    }))
    .into_response()
}

async fn redirect_audit_html(State(gateway): State<Arc<Gateway>>) -> Response {
    let cutoff = gateway.oauth().ok().and_then(|o| o.cutoff());
    axum::response::Html(crate::oauth::audit::render_html(&audit_entries(&gateway), cutoff)).into_response()
}

async fn operation_root(
    State(gateway): State<Arc<Gateway>>,
    Path((connector, connection)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve_operation(gateway, connector, connection, String::new(), request).await
}

async fn operation(
    State(gateway): State<Arc<Gateway>>,
    Path((connector, connection, _decoded)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    // The operation path is taken raw: decoding it here would turn an encoded
    // `/` inside a parameter into a path separator. The router decodes
    // parameters itself.
    let path = request.uri().path().splitn(5, '/').nth(4).unwrap_or_default().to_string();
    serve_operation(gateway, connector, connection, path, request).await
}

/// One call of an operation: correlation id, span, limits, the pipeline,
/// metrics, and the problem answer when it fails.
async fn serve_operation(
    gateway: Arc<Gateway>,
    connector: String,
    connection: String,
    path: String,
    request: Request,
) -> Response {
    let started = Instant::now();
    let correlation_id = correlation_id(&request);
    let span = tracing::info_span!(
        "call",
        connector = %connector,
        connection = %connection,
        operation = tracing::field::Empty,
        correlation_id = %correlation_id,
    );
    let mut operation_id = String::new();
    let outcome = async {
        check_limits(&gateway, &request)?;
        let (parts, body) = request.into_parts();
        let limit = gateway.request_limits().max_body_bytes;
        let body = axum::body::to_bytes(body, limit).await.map_err(|_| GatewayError::BodyTooLarge { limit })?;
        let call = crate::pipeline::Call {
            connector: &connector,
            connection: &connection,
            path: format!("/{path}"),
            correlation_id: &correlation_id,
            parts,
            body,
        };
        crate::pipeline::run(&gateway, call, &mut operation_id).await
    }
    .instrument(span.clone())
    .await;

    let mut response = match outcome {
        Ok(response) => response,
        Err(error) => {
            let _guard = span.enter();
            let (status, kind, _) = error.classify();
            if status.is_server_error() {
                tracing::error!(kind, error = %error, "call failed");
            } else {
                tracing::info!(kind, error = %error, "call refused");
            }
            error.into_problem(&correlation_id)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&correlation_id) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    let metrics = gateway.metrics();
    metrics
        .requests
        .get_or_create(&RequestLabels {
            connector: connector.clone(),
            operation: operation_id.clone(),
            status: response.status().as_u16(),
        })
        .inc();
    metrics
        .latency
        .get_or_create(&OperationLabels { connector, operation: operation_id })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The client's correlation id when it sent a sane one, else a new one.
fn correlation_id(request: &Request) -> String {
    request
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Refuses oversized headers (431) and bodies announced as oversized (413)
/// before reading anything more.
fn check_limits(gateway: &Gateway, request: &Request<Body>) -> Result<(), GatewayError> {
    let limits = gateway.request_limits();
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > limits.max_header_bytes {
        return Err(GatewayError::HeadersTooLarge { size, limit: limits.max_header_bytes });
    }
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|length| length > limits.max_body_bytes) {
        return Err(GatewayError::BodyTooLarge { limit: limits.max_body_bytes });
    }
    Ok(())
}

