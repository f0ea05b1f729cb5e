//! `ANY /apim/{connector}/{connection}/{operation path}`, in an environment:
//! the limits on what the client sends, whether the caller may use the
//! connector and the connection (decided from the in-memory snapshot), the
//! pipeline, the call's metrics and activity ([`crate::activity`]), and the
//! answer.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Extension, Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sluice_package::request::HOP_BY_HOP;
use sluice_runtime::escape_controls;

use super::{ConnectionPath, CorrelationId, InEnvironment};
use crate::access::Caller;
use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::metrics::{OperationLabels, UNKNOWN};
use crate::pipeline::{self, Call};
use crate::problem::GatewayError;

/// An operation whose path is the connection's root.
pub(super) async fn root(
    State(gateway): State<Gateway>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(caller): Extension<Caller>,
    Extension(entered): Extension<InEnvironment>,
    Path(ConnectionPath { connector, connection }): Path<ConnectionPath>,
    request: Request,
) -> Response {
    let target = Target { connector, connection, path: String::new() };
    serve(gateway, correlation, caller, entered, target, request).await
}

/// An operation under the connection.
pub(super) async fn path(
    State(gateway): State<Gateway>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(caller): Extension<Caller>,
    Extension(entered): Extension<InEnvironment>,
    Path(ConnectionPath { connector, connection }): Path<ConnectionPath>,
    request: Request,
) -> Response {
    // The operation path is taken raw: decoding it here would turn an encoded
    // `/` inside a parameter into a path separator. Routing decodes
    // parameters itself. (Under `/environments/{id}`, the router has taken
    // that prefix off the path already.)
    let path = request.uri().path().splitn(5, '/').nth(4).unwrap_or_default().to_string();
    serve(gateway, correlation, caller, entered, Target { connector, connection, path }, request).await
}

/// What a call names: the connector, the connection, and the operation
/// path under it (raw, without its first `/`).
#[derive(Debug, PartialEq)]
pub(super) struct Target {
    pub(super) connector: String,
    pub(super) connection: String,
    pub(super) path: String,
}

/// A call of `target`, for a request the steps before the handler have
/// put their findings in (correlation id, caller, environment): what the
/// gateway's shorter way in calls ([`super::call_operation`]).
pub(super) async fn call(gateway: &Gateway, target: Target, mut request: Request) -> Response {
    let extensions = request.extensions_mut();
    let found =
        (extensions.remove::<CorrelationId>(), extensions.remove::<Caller>(), extensions.remove::<InEnvironment>());
    let (Some(correlation), Some(caller), Some(entered)) = found else {
        // The steps before insert all three; without a caller, as `enter_environment`
        // answers, the call is not authenticated.
        return GatewayError::Unauthenticated.into_response();
    };
    serve(gateway.clone(), correlation, caller, entered, target, request).await
}

/// One call of an operation: limits, the pipeline, metrics.
async fn serve(
    gateway: Gateway,
    correlation: CorrelationId,
    caller: Caller,
    entered: InEnvironment,
    target: Target,
    request: Request,
) -> Response {
    let started = Instant::now();
    let Target { connector, connection, path } = target;
    let InEnvironment { environment, directory } = entered;
    // The ids come from the URL, decoded: escaped, they cannot forge a log line.
    let span = tracing::Span::current();
    span.record("connector", escape_controls(connector.clone()).as_str());
    span.record("connection", escape_controls(connection.clone()).as_str());
    let mut watch = ClientWatch {
        gateway: &gateway,
        environment: &environment,
        connector: &connector,
        operation: String::new(),
        answered: false,
    };
    let outcome = async {
        directory.may_call(&caller, &connector, &connection)?;
        check_limits(&gateway, &request)?;
        let (parts, body) = request.into_parts();
        let limits = gateway.request_limits();
        let limit = limits.max_body_bytes;
        let body = tokio::time::timeout(limits.body_read_timeout, axum::body::to_bytes(body, limit))
            .await
            .map_err(|_| GatewayError::BodyTimeout { after: limits.body_read_timeout })?
            .map_err(|_| GatewayError::BodyTooLarge { limit })?;
        let call = Call {
            connector: &connector,
            connection: &connection,
            path: format!("/{path}"),
            correlation_id: &correlation.0,
            parts,
            body,
            received: started,
            trace: None,
        };
        pipeline::run(&gateway, &environment, call, &mut watch.operation).await.map_err(|failure| {
            // Only the connection's owner is told where to sign it in.
            let owner = directory.owns_connection(&caller, &connector, &connection);
            GatewayError::from(if owner { failure } else { failure.without_signin_url() })
        })
    }
    .await;
    watch.answered = true;
    let operation_id = std::mem::take(&mut watch.operation);
    let failure = match &outcome {
        Ok(response) => crate::activity::status_kind(response.status()).map(std::borrow::Cow::Owned),
        Err(error) => Some(std::borrow::Cow::Borrowed(error.classify().1)),
    };
    let response = match outcome {
        Ok(response) => into_axum(response),
        Err(error) => error.into_response(),
    };
    // Only names the registry knows become labels.
    let known = environment.registry().knows(&connector);
    if known {
        let operation = if operation_id.is_empty() { UNKNOWN } else { operation_id.as_str() };
        gateway.activity().record(environment.id(), &connector, operation, failure.as_deref());
    }
    let connector = if known { connector.as_str() } else { UNKNOWN };
    let operation = if operation_id.is_empty() { UNKNOWN } else { operation_id.as_str() };
    let status = response.status().as_u16();
    gateway.metrics().answered(environment.id(), connector, operation, status, started.elapsed().as_secs_f64());
    response
}

/// Notices a call whose client went away: the handler is dropped before it
/// answers, which cancels the call. It is counted (`client_closed`) and
/// logged once, inside the call's span.
struct ClientWatch<'g> {
    gateway: &'g Gateway,
    environment: &'g Environment,
    connector: &'g str,
    operation: String,
    answered: bool,
}

impl Drop for ClientWatch<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let known = self.environment.registry().knows(self.connector);
        let connector = if known { self.connector } else { UNKNOWN };
        let operation = if self.operation.is_empty() { UNKNOWN } else { self.operation.as_str() };
        let labels = OperationLabels::new(self.environment.id(), connector, operation);
        self.gateway.metrics().client_closed.get_or_create(&labels).inc();
        if known {
            self.gateway.activity().record(self.environment.id(), connector, operation, Some("client-closed"));
        }
        tracing::info!(
            kind = "client-closed",
            "the client closed the connection before the answer; the call was cancelled"
        );
    }
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
    // One pass over the few headers an answer has, rather than a lookup
    // for each of the names it seldom carries.
    let names: Vec<_> = parts.headers.keys().filter(|name| HOP_BY_HOP.contains(&name.as_str())).cloned().collect();
    for name in names {
        parts.headers.remove(name);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
