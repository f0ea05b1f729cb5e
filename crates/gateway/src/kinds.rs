//! The problem type of each failure of custom code: its status, the short
//! name problem answers and metrics both use, and its title.

use axum::http::StatusCode;
use sluice_runtime::{Body, CallError};

/// A status, a problem type's short name and its title.
pub(crate) type Classified = (StatusCode, &'static str, &'static str);

/// A failure of the gateway itself.
pub(crate) const INTERNAL: Classified = (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error");

/// The problem type of a runtime failure, as metrics label it.
pub(crate) fn call_error_kind(error: &CallError) -> &'static str {
    classify_call_error(error).1
}

/// Maps each runtime failure to its status and problem type.
pub(crate) fn classify_call_error(error: &CallError) -> (StatusCode, &'static str, &'static str) {
    match error {
        CallError::Client { status, .. } => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            "code-client-error",
            "Rejected by the connector's code",
        ),
        CallError::Upstream(_) => {
            (StatusCode::BAD_GATEWAY, "code-upstream-error", "Backend failure reported by the code")
        }
        CallError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "code-failed", "The connector's code failed"),
        CallError::FuelExhausted { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "fuel-exhausted", "Fuel exhausted"),
        CallError::MemoryLimit { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "memory-limit", "Memory limit exceeded"),
        CallError::DeadlineExceeded { .. } => (StatusCode::GATEWAY_TIMEOUT, "deadline-exceeded", "Deadline exceeded"),
        CallError::Trap { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "code-trapped", "The connector's code crashed"),
        CallError::TooManyBackendCalls { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, "too-many-backend-calls", "Too many backend calls")
        }
        CallError::BodyTooLarge { body: Body::Request, .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "Request body too large")
        }
        CallError::BodyTooLarge { body: Body::BackendResponse, .. } => {
            (StatusCode::BAD_GATEWAY, "backend-body-too-large", "Backend response too large")
        }
        CallError::BodyTooLarge { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "code-body-too-large", "Body too large"),
        CallError::LogLimit { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "log-limit", "Log limit exceeded"),
        CallError::InvalidOutput(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "invalid-code-output", "Invalid response from the connector's code")
        }
        CallError::Capacity(_) => (StatusCode::SERVICE_UNAVAILABLE, "no-capacity", "Too many calls in flight"),
        CallError::Host(_) => INTERNAL,
        _ => INTERNAL,
    }
}
