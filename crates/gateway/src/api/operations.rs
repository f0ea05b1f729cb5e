//! `POST /api/v1/connectors/{id}/operations/{operationId}/test`: the custom
//! connector wizard's **Test** step. The operation runs through a
//! connection exactly as a flow's call would (the same rights, pipeline,
//! policies, code and egress), and the answer shows what happened: the
//! client's response, each backend request (credentials and the
//! connection's secrets redacted), the code's log lines, and its report
//! against the connector's limits. A test call counts in the connector's
//! activity ([`crate::activity`]) as any call does.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use serde::{Deserialize, Serialize};
use sluice_package::ParameterLocation;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, ProblemBody};
use crate::access::{Caller, Denied};
use crate::gateway::Gateway;
use crate::pipeline::{self, Call, Trace};
use crate::problem::GatewayError;
use crate::server::{CorrelationId, InEnvironment};

pub(super) fn routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new().routes(routes!(test))
}

/// What to call the operation with.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// The connection to call through.
    connection: String,
    /// Path, query and header parameters by name; strings, numbers or booleans.
    #[serde(default)]
    #[schema(value_type = Object)]
    parameters: BTreeMap<String, serde_json::Value>,
    /// The JSON body, for an operation that takes one.
    #[serde(default)]
    #[schema(value_type = Object)]
    body: Option<serde_json::Value>,
}

/// What the test did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TestResult {
    /// The answer a flow would have had.
    response: TestResponse,
    /// Each backend request, in order, secrets redacted.
    backend_requests: Vec<BackendRequest>,
    /// The code's log lines, redacted (empty without code).
    logs: Vec<LogLine>,
    /// The code's report against its limits, when the operation ran code.
    report: Option<Report>,
}

/// The client's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TestResponse {
    /// The status.
    status: u16,
    /// The headers.
    headers: BTreeMap<String, String>,
    /// The body: JSON when it is JSON, else its text.
    #[schema(value_type = Object)]
    body: serde_json::Value,
}

/// One backend request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct BackendRequest {
    /// The method.
    method: String,
    /// The URL, secrets redacted.
    url: String,
    /// The headers; credentials show as `***`.
    headers: BTreeMap<String, String>,
    /// The backend's status, when it answered.
    status: Option<u16>,
    /// Why it did not answer.
    error: Option<String>,
    /// How long it took, in milliseconds.
    duration_ms: u64,
}

/// One log line of the code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LogLine {
    /// `trace` to `error`.
    level: String,
    /// `log`, `stdout` or `stderr`.
    source: String,
    /// The text.
    message: String,
}

/// The code's report against the connector's limits.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Report {
    /// Fuel consumed, when metered.
    fuel_consumed: Option<u64>,
    /// Its limit.
    fuel_limit: u64,
    /// Peak linear memory, in bytes.
    peak_memory_bytes: u64,
    /// Its limit.
    memory_limit_bytes: u64,
    /// From instantiation to the end, in milliseconds.
    wall_time_ms: u64,
    /// The deadline, in milliseconds.
    deadline_ms: u64,
}

/// Calls an operation through a connection, as a flow would, and shows what
/// happened. A call that fails is shown as the flow would see it (its
/// problem answer), with what was sent before it failed.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/operations/{operation}/test", tag = "connectors",
    params(
        ("id" = String, Path, description = "The connector id"),
        ("operation" = String, Path, description = "The operationId"),
    ),
    request_body = TestRequest,
    responses(
        (status = 200, description = "The operation ran; `response` is what a flow would have had", body = TestResult),
        (status = 400, description = "A required path parameter is missing, or the body does not fit", body = ProblemBody),
        (status = 404, description = "No such connector, connection or operation the caller may use", body = ProblemBody),
        (status = 415, description = "Not JSON", body = ProblemBody),
    ))]
async fn test(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
    Path(super::OperationPath { id: connector, operation: operation_id }): Path<super::OperationPath>,
    Body(test): Body<TestRequest>,
) -> Result<axum::Json<TestResult>, GatewayError> {
    directory.may_call(&caller, &connector, &test.connection)?;
    let loaded = environment.registry().get(&connector)?;
    let operation = loaded
        .package
        .definition
        .operations
        .iter()
        .find(|op| op.id == operation_id)
        .ok_or_else(|| Denied::NotFound { kind: "operation", id: operation_id.clone() })?;
    let value = |name: &str| {
        test.parameters.get(name).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let mut path = operation.path.clone();
    let mut query_pairs: Vec<(String, String)> = Vec::new();
    let mut request = http::Request::builder().method(operation.method.clone());
    for parameter in &operation.parameters {
        let Some(given) = value(&parameter.name) else {
            if parameter.location == ParameterLocation::Path {
                return Err(GatewayError::BadRequest {
                    reason: format!("the path parameter `{}` needs a value in `parameters`", parameter.name),
                });
            }
            continue;
        };
        match parameter.location {
            ParameterLocation::Path => {
                let encoded = percent_encode_segment(&given);
                path = path.replace(&format!("{{{}}}", parameter.name), &encoded);
            }
            ParameterLocation::Query => query_pairs.push((parameter.name.clone(), given)),
            ParameterLocation::Header => {
                request = request.header(parameter.name.as_str(), given.as_str());
            }
            ParameterLocation::Body | ParameterLocation::FormData => {}
        }
    }
    // The serializer is not `Send`; it lives only here.
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&query_pairs).finish();
    let uri = match query.is_empty() {
        true => format!("/apim/{connector}/{}{path}", test.connection),
        false => format!("/apim/{connector}/{}{path}?{query}", test.connection),
    };
    let body = match &test.body {
        Some(body) => {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
            bytes::Bytes::from(serde_json::to_vec(body).unwrap_or_default())
        }
        None => bytes::Bytes::new(),
    };
    let (parts, ()) = request
        .uri(uri)
        .body(())
        .map_err(|e| GatewayError::BadRequest { reason: format!("the parameters do not make a request: {e}") })?
        .into_parts();
    let trace = Arc::new(Trace::default());
    let call = Call {
        connector: &connector,
        connection: &test.connection,
        path,
        correlation_id: &correlation.0,
        parts,
        body,
        received: std::time::Instant::now(),
        trace: Some(Arc::clone(&trace)),
    };
    let mut ran = String::new();
    let ((head, body), failure) = match pipeline::run(&gateway, &environment, call, &mut ran).await {
        Ok(response) => {
            let failure = crate::activity::status_kind(response.status()).map(std::borrow::Cow::Owned);
            (response.into_parts(), failure)
        }
        Err(failure) => {
            let owner = directory.owns_connection(&caller, &connector, &test.connection);
            let failure = if owner { failure } else { failure.without_signin_url() };
            let error = GatewayError::from(failure);
            let (head, body) = error.problem(&correlation.0).into_parts();
            // A problem body is small and already in memory.
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
            ((head, body), Some(std::borrow::Cow::Borrowed(error.classify().1)))
        }
    };
    let operation = if ran.is_empty() { crate::metrics::UNKNOWN } else { ran.as_str() };
    gateway.activity().record(environment.id(), &connector, operation, failure.as_deref());
    let response = TestResponse {
        status: head.status.as_u16(),
        headers: head
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body: serde_json::from_slice(&body)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())),
    };
    let backend_requests = trace
        .requests()
        .into_iter()
        .map(|sent| BackendRequest {
            method: sent.method,
            url: sent.url,
            headers: sent.headers.into_iter().collect(),
            status: sent.outcome.as_ref().ok().copied(),
            error: sent.outcome.err(),
            duration_ms: sent.duration.as_millis() as u64,
        })
        .collect();
    let code = trace.code_report();
    let logs = code
        .iter()
        .flat_map(|code| code.logs.iter())
        .map(|line| LogLine { level: line.level.clone(), source: line.source.clone(), message: line.message.clone() })
        .collect();
    let report = code.map(|code| Report {
        fuel_consumed: code.fuel_consumed,
        fuel_limit: code.fuel_limit,
        peak_memory_bytes: code.peak_memory_bytes,
        memory_limit_bytes: code.memory_limit_bytes,
        wall_time_ms: code.wall_time.as_millis() as u64,
        deadline_ms: code.deadline.as_millis() as u64,
    });
    Ok(axum::Json(TestResult { response, backend_requests, logs, report }))
}

/// A path parameter's value as one path segment.
fn percent_encode_segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace('+', "%20")
}
