//! `ANY /apim/{connector}/{connection}/{operation path}`: the limits on what
//! the client sends, the pipeline, the call's metrics, and the answer.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Extension, Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sluice_package::request::HOP_BY_HOP;

use super::CorrelationId;
use crate::gateway::Gateway;
use crate::metrics::{OperationLabels, RequestLabels};
use crate::pipeline::{self, Call};
use crate::problem::GatewayError;

/// An operation whose path is the connection's root.
pub(super) async fn root(
    State(gateway): State<Gateway>,
    Extension(correlation): Extension<CorrelationId>,
    Path((connector, connection)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve(gateway, correlation, connector, connection, String::new(), request).await
}

/// An operation under the connection.
pub(super) async fn path(
    State(gateway): State<Gateway>,
    Extension(correlation): Extension<CorrelationId>,
    Path((connector, connection, _decoded)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    // The operation path is taken raw: decoding it here would turn an encoded
    // `/` inside a parameter into a path separator. Routing decodes
    // parameters itself.
    let path = request.uri().path().splitn(5, '/').nth(4).unwrap_or_default().to_string();
    serve(gateway, correlation, connector, connection, path, request).await
}

/// One call of an operation: limits, the pipeline, metrics.
async fn serve(
    gateway: Gateway,
    correlation: CorrelationId,
    connector: String,
    connection: String,
    path: String,
    request: Request,
) -> Response {
    let started = Instant::now();
    let span = tracing::Span::current();
    span.record("connector", connector.as_str());
    span.record("connection", connection.as_str());
    let mut operation_id = String::new();
    let outcome = async {
        check_limits(&gateway, &request)?;
        let (parts, body) = request.into_parts();
        let limit = gateway.request_limits().max_body_bytes;
        let body = axum::body::to_bytes(body, limit).await.map_err(|_| GatewayError::BodyTooLarge { limit })?;
        let call = Call {
            connector: &connector,
            connection: &connection,
            path: format!("/{path}"),
            correlation_id: &correlation.0,
            parts,
            body,
        };
        Ok::<_, GatewayError>(pipeline::run(&gateway, call, &mut operation_id).await?)
    }
    .await;
    let response = match outcome {
        Ok(response) => into_axum(response),
        Err(error) => error.into_response(),
    };
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

/// The backend's (or the code's) answer for the client, without the headers
/// that belong to one hop.
fn into_axum(response: http::Response<Bytes>) -> Response {
    let (mut parts, body) = response.into_parts();
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, body).into_response()
}
