//! The gateway's one error type and its `application/problem+json` answers.
//!
//! Every error answer carries the call's correlation id, in the body and in
//! the `x-correlation-id` header. Client mistakes get their real status and
//! detail; failures of the code, the sandbox and the backend get distinct
//! problem types; failures of the gateway itself get a generic 500 whose
//! detail is only logged.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sluice_runtime::{Body, CallError};

/// The header that carries the correlation id on every answer.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// Why the gateway answers with an error.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No connector is loaded under this id.
    #[error("no connector `{connector}` is loaded")]
    UnknownConnector {
        /// The connector id from the URL.
        connector: String,
    },
    /// The connector failed to load; the reason says why.
    #[error("connector `{connector}` is not available: {reason}")]
    ConnectorUnavailable {
        /// The connector id.
        connector: String,
        /// Why it did not load.
        reason: String,
    },
    /// No such connection for this connector.
    #[error("no connection `{connection}` for connector `{connector}`{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    UnknownConnection {
        /// The connector id.
        connector: String,
        /// The connection id from the URL.
        connection: String,
        /// Why the connection was refused at load, if it was.
        reason: Option<String>,
    },
    /// No operation of the connector matches the method and path.
    #[error("connector `{connector}` has no operation for {method} {path}")]
    UnknownOperation {
        /// The connector id.
        connector: String,
        /// The request method.
        method: String,
        /// The operation path requested.
        path: String,
    },
    /// An operation exists at this path, but not for this method.
    #[error("connector `{connector}` has no operation for {method} {path} (allowed: {allowed})")]
    MethodNotAllowed {
        /// The connector id.
        connector: String,
        /// The request method.
        method: String,
        /// The operation path requested.
        path: String,
        /// The methods the path has, comma-separated.
        allowed: String,
    },
    /// The request is missing a required parameter or has a bad one.
    #[error("{0}")]
    BadRequest(String),
    /// The request body is over the gateway's limit.
    #[error("request body is over the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request headers are over the gateway's limit.
    #[error("request headers are {size} bytes, over the limit of {limit} bytes")]
    HeadersTooLarge {
        /// Their size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The egress policy refused the backend call.
    #[error("backend call denied by egress policy: {0}")]
    EgressDenied(String),
    /// The backend could not be reached or failed.
    #[error("backend call failed: {0}")]
    Backend(String),
    /// The backend did not answer in time.
    #[error("backend timed out")]
    BackendTimeout,
    /// A policy template could not be applied.
    #[error("policy failed: {0}")]
    Policy(String),
    /// The custom code failed or was stopped.
    #[error(transparent)]
    Code(#[from] CallError),
    /// The connection must be signed in (again).
    #[error("connection `{connection}` of connector `{connector}` needs to sign in: {reason}; sign in at {signin_url}")]
    SignInRequired {
        /// The connector.
        connector: String,
        /// The connection.
        connection: String,
        /// Why.
        reason: String,
        /// Where to sign in.
        signin_url: String,
    },
    /// A sign-in could not be completed.
    #[error("sign-in failed: {0}")]
    SignInFailed(String),
    /// The connector is still on the global redirect URI after the cut-off.
    #[error(
        "connector `{connector}` still uses the global redirect URI, which takes no new sign-ins since {cutoff}; set \"redirectMode\": \"GlobalPerConnector\" in its apiProperties.json and register {redirect_uri} with the identity provider"
    )]
    GlobalRedirectRetired {
        /// The connector.
        connector: String,
        /// The cut-off date.
        cutoff: String,
        /// The per-connector redirect URI to register.
        redirect_uri: String,
    },
    /// OAuth is not configured or the connector lacks OAuth settings.
    #[error("OAuth sign-in is unavailable: {0}")]
    OAuthUnavailable(String),
    /// The gateway itself failed; the detail is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A problem detail (RFC 9457).
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    correlation_id: &'a str,
}

impl GatewayError {
    /// The status, the problem type's short name and its title.
    pub fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use GatewayError as E;
        match self {
            E::UnknownConnector { .. } => (StatusCode::NOT_FOUND, "unknown-connector", "Unknown connector"),
            E::ConnectorUnavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "connector-unavailable", "Connector not available")
            }
            E::UnknownConnection { .. } => (StatusCode::NOT_FOUND, "unknown-connection", "Unknown connection"),
            E::UnknownOperation { .. } => (StatusCode::NOT_FOUND, "unknown-operation", "Unknown operation"),
            E::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            E::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            E::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "Request body too large"),
            E::HeadersTooLarge { .. } => {
                (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers-too-large", "Request headers too large")
            }
            E::EgressDenied(_) => (StatusCode::BAD_GATEWAY, "egress-denied", "Backend call denied"),
            E::Backend(_) => (StatusCode::BAD_GATEWAY, "backend-failed", "Backend call failed"),
            E::BackendTimeout => (StatusCode::GATEWAY_TIMEOUT, "backend-timeout", "Backend timed out"),
            E::Policy(_) => (StatusCode::BAD_GATEWAY, "policy-failed", "Policy failed"),
            E::SignInRequired { .. } => (StatusCode::UNAUTHORIZED, "signin-required", "Sign-in required"),
            E::SignInFailed(_) => (StatusCode::BAD_REQUEST, "signin-failed", "Sign-in failed"),
            E::GlobalRedirectRetired { .. } => {
                (StatusCode::FORBIDDEN, "global-redirect-retired", "Global redirect URI retired")
            }
            E::OAuthUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "oauth-unavailable", "OAuth unavailable"),
            E::Code(error) => classify_call_error(error),
            E::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    /// Whether the detail may be shown to the client. Internal failures and
    /// the code's own failure messages are logged only.
    fn detail_is_public(&self) -> bool {
        !matches!(
            self,
            GatewayError::Internal(_) | GatewayError::Code(CallError::Internal(_) | CallError::Host(_))
        )
    }

    /// The problem+json answer for this error.
    pub fn into_problem(self, correlation_id: &str) -> Response {
        let (status, kind, title) = self.classify();
        let allowed = match &self {
            GatewayError::MethodNotAllowed { allowed, .. } => Some(allowed.clone()),
            _ => None,
        };
        let detail = if self.detail_is_public() {
            self.to_string()
        } else {
            format!("the call failed; quote correlation id {correlation_id} to the operator")
        };
        let problem = Problem {
            kind: format!("https://sluice.dev/problems/{kind}"),
            title,
            status: status.as_u16(),
            detail,
            correlation_id,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Ok(value) = HeaderValue::from_str(correlation_id) {
            headers.insert(CORRELATION_HEADER, value);
        }
        if let Some(allowed) = allowed
            && let Ok(value) = HeaderValue::from_str(&allowed)
        {
            headers.insert(header::ALLOW, value);
        }
        response
    }
}

/// Maps each runtime failure to its status and problem type.
fn classify_call_error(error: &CallError) -> (StatusCode, &'static str, &'static str) {
    match error {
        CallError::Client { status, .. } => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            "code-client-error",
            "Rejected by the connector's code",
        ),
        CallError::Upstream(_) => (StatusCode::BAD_GATEWAY, "code-upstream-error", "Backend failure reported by the code"),
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
        CallError::Host(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sandbox_stop_has_its_own_problem_type() {
        let stops = [
            CallError::FuelExhausted { limit: 1 },
            CallError::MemoryLimit { requested: 2, limit: 1 },
            CallError::DeadlineExceeded { deadline: std::time::Duration::from_secs(1) },
            CallError::Trap { reason: "x".into(), panic: None },
            CallError::TooManyBackendCalls { limit: 1 },
            CallError::LogLimit { limit: 1 },
            CallError::InvalidOutput("x".into()),
        ];
        let kinds: std::collections::HashSet<_> = stops.iter().map(|e| classify_call_error(e).1).collect();
        assert_eq!(kinds.len(), stops.len());
        for stop in &stops {
            assert!(classify_call_error(stop).0.is_server_error());
        }
    }

    #[test]
    fn client_error_keeps_its_status_and_internal_detail_is_hidden() {
        let (status, _, _) = classify_call_error(&CallError::Client { status: 422, message: "x".into() });
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!GatewayError::Code(CallError::Internal("secret path".into())).detail_is_public());
        assert!(GatewayError::EgressDenied("x".into()).detail_is_public());
    }
}
