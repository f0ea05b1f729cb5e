//! The gateway's one error type and its `application/problem+json` answers:
//! the one place where domain errors (of the pipeline, OAuth, the registry)
//! become statuses and problem types.
//!
//! Every error answer carries the call's correlation id, in the body and in
//! the `x-correlation-id` header. Client mistakes get their real status and
//! detail; failures of the code, the sandbox and the backend get distinct
//! problem types; failures of the gateway itself get a generic 500 whose
//! detail is only logged.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sluice_package::credentials::CredentialError;
use sluice_package::request::RequestError;
use sluice_package::{BackendUrlError, RouteError};
use sluice_policy::PolicyError;
use sluice_runtime::CallError;

use crate::kinds::{Classified, INTERNAL, classify_call_error};

use crate::access::{AccessError, Denied};
use crate::archive::ArchiveError;
use crate::catalog::CatalogError;
use crate::oauth::OAuthError;
use crate::pipeline::CallFailure;
use crate::registry::{ConnectionRefused, LookupError};
use sluice_package::oauth_templates::FillError;

/// The header that carries the correlation id on every answer.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// Why the gateway answers with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A call of an operation failed.
    #[error(transparent)]
    Call(#[from] CallFailure),
    /// An OAuth sign-in or redirect failed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The connector named is missing or did not load.
    #[error(transparent)]
    Lookup(#[from] LookupError),
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
    /// The client did not send its body in time.
    #[error("the request body did not arrive within {after:?}")]
    BodyTimeout {
        /// The time allowed.
        after: std::time::Duration,
    },
    /// No credential, or one that does not authenticate. The reason is
    /// logged; the client is told nothing that would help guess.
    #[error("missing or invalid credentials")]
    Unauthenticated,
    /// The request names a host other than the gateway's `public_url`.
    #[error("this gateway does not serve host `{host}`")]
    MisdirectedHost {
        /// The `Host` the request named.
        host: String,
    },
    /// The caller may not see the resource, or may not act on it.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// An access change failed.
    #[error(transparent)]
    Access(AccessError),
    /// A publish, update, download or delete of a connector failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The provider's authorization URL cannot be sent as a `Location`.
    #[error("the authorization URL is not a valid header value")]
    AuthorizationUrl,
    /// A management request's body or query is not what the endpoint takes
    /// (JSON that does not parse, a field it does not have).
    #[error("{reason}")]
    BadRequest {
        /// What is wrong, in the words of the parser.
        reason: String,
    },
    /// A management request's body is not of the type the endpoint takes.
    #[error("the body must be {expected}")]
    UnsupportedMediaType {
        /// The content type expected.
        expected: &'static str,
    },
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
    /// A refused package's validation findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<&'a [sluice_tools::validate::Finding]>,
}

impl GatewayError {
    /// The status, the problem type's short name and its title.
    pub fn classify(&self) -> Classified {
        match self {
            GatewayError::Call(failure) => classify_call(failure),
            GatewayError::OAuth(error) => classify_oauth(error),
            GatewayError::Lookup(error) => classify_lookup(error),
            GatewayError::BodyTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "Request body too large")
            }
            GatewayError::HeadersTooLarge { .. } => {
                (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers-too-large", "Request headers too large")
            }
            GatewayError::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "body-timeout", "Request body timed out"),
            GatewayError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required"),
            GatewayError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            GatewayError::UnsupportedMediaType { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            GatewayError::MisdirectedHost { .. } => {
                (StatusCode::MISDIRECTED_REQUEST, "misdirected-host", "Host not served here")
            }
            GatewayError::Denied(denied) => classify_denied(denied),
            GatewayError::Access(error) => classify_access(error),
            GatewayError::Catalog(error) => classify_catalog(error),
            GatewayError::AuthorizationUrl => INTERNAL,
        }
    }

    /// Whether the detail may be shown to the client: not for failures of
    /// the gateway itself, nor for the code's own failure messages, which
    /// are logged only.
    fn detail_is_public(&self) -> bool {
        let code_internal =
            matches!(self, GatewayError::Call(CallFailure::Code(CallError::Internal(_) | CallError::Host(_))));
        !code_internal && self.classify().1 != "internal"
    }

    /// The detail a client is shown: the error's own words, less what
    /// describes the gateway's machine and network (folders, environment
    /// variables, resolved internal addresses), which only the log has.
    pub fn public_detail(&self) -> String {
        if self.classify() == STORE_UNAVAILABLE {
            return "the gateway's database cannot be reached: calls go on, but changes, sign-ins and token \
                    refreshes wait for it; try again shortly"
                .into();
        }
        match self {
            GatewayError::Call(CallFailure::Connector(LookupError::Failed { connector, reason }))
            | GatewayError::Lookup(LookupError::Failed { connector, reason }) => {
                format!("connector `{connector}` is not available: {}", reason.public())
            }
            GatewayError::Call(CallFailure::UnknownConnection { connector, connection, reason: Some(reason) }) => {
                format!("no connection `{connection}` for connector `{connector}`: {}", reason.public())
            }
            GatewayError::Call(CallFailure::EgressDenied(reason)) => {
                format!("backend call denied by egress policy: {}", reason.public())
            }
            other => other.to_string(),
        }
    }

    /// The methods to list in `Allow`, for a 405.
    fn allowed(&self) -> Option<String> {
        match self {
            GatewayError::Call(CallFailure::Route { source: RouteError::MethodNotAllowed { allowed, .. }, .. }) => {
                Some(allowed.iter().map(http::Method::as_str).collect::<Vec<_>>().join(", "))
            }
            _ => None,
        }
    }

    /// The problem+json answer for this error.
    pub fn problem(&self, correlation_id: &str) -> Response {
        let (status, kind, title) = self.classify();
        let allowed = self.allowed();
        let detail = if self.detail_is_public() {
            self.public_detail()
        } else {
            format!("the call failed; quote correlation id {correlation_id} to the operator")
        };
        let problem = Problem {
            kind: format!("https://sluice.dev/problems/{kind}"),
            title,
            status: status.as_u16(),
            detail,
            correlation_id,
            findings: match self {
                GatewayError::Catalog(CatalogError::Refused(findings)) => Some(findings),
                _ => None,
            },
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
        if matches!(self, GatewayError::Unauthenticated) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"sluice\""));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Capacity and availability come back; a client may try again soon.
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

fn classify_access(error: &AccessError) -> Classified {
    match error {
        AccessError::Denied(denied) => classify_denied(denied),
        AccessError::BadPrincipal(_)
        | AccessError::NotAGroup(_)
        | AccessError::BadConnectionId(_)
        | AccessError::BadSubnet(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
        AccessError::ConnectionExists { .. } => (StatusCode::CONFLICT, "connection-exists", "Connection exists"),
        AccessError::ReadOnly(_) => (StatusCode::CONFLICT, "read-only", "Set in the settings file"),
        AccessError::ConnectionRefused(ConnectionRefused::Parameters(error)) if error.is_set_choice() => {
            (StatusCode::BAD_REQUEST, "bad-parameter-set", "Parameter set not offered")
        }
        AccessError::ConnectionRefused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad-connection", "Connection refused"),
        AccessError::NoSecretKey => (StatusCode::SERVICE_UNAVAILABLE, "no-secret-key", "No secret key"),
        AccessError::Store(error) if error.is_unavailable() => STORE_UNAVAILABLE,
        _ => INTERNAL,
    }
}

fn classify_catalog(error: &CatalogError) -> Classified {
    match error {
        CatalogError::Denied(denied) => classify_denied(denied),
        CatalogError::Archive(ArchiveError::TooLarge { .. }) => {
            (StatusCode::PAYLOAD_TOO_LARGE, "package-too-large", "Package too large")
        }
        CatalogError::Archive(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad-archive", "Unusable package archive"),
        CatalogError::BadId(_) | CatalogError::NoId => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
        CatalogError::Exists(_) => (StatusCode::CONFLICT, "connector-exists", "Connector exists"),
        CatalogError::ReadOnly(_) => (StatusCode::CONFLICT, "read-only", "From the packages folder"),
        CatalogError::Stale { .. } => {
            (StatusCode::PRECONDITION_FAILED, "precondition-failed", "Not the newest version")
        }
        CatalogError::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "package-refused", "Package refused"),
        CatalogError::Access(error) => classify_access(error),
        CatalogError::Store(error) if error.is_unavailable() => STORE_UNAVAILABLE,
        _ => INTERNAL,
    }
}

/// The database is unreachable: changes, sign-ins and refreshes wait for
/// it; calls go on from the snapshot.
const STORE_UNAVAILABLE: Classified = (StatusCode::SERVICE_UNAVAILABLE, "store-unavailable", "Database unavailable");
/// A connector that is missing, or that the caller may not see.
const UNKNOWN_CONNECTOR: Classified = (StatusCode::NOT_FOUND, "unknown-connector", "Unknown connector");
/// A connection that is missing, or that the caller may not see.
const UNKNOWN_CONNECTION: Classified = (StatusCode::NOT_FOUND, "unknown-connection", "Unknown connection");

fn classify_denied(denied: &Denied) -> Classified {
    match denied {
        // What the caller may not see answers exactly as what is missing.
        Denied::NoEnvironment { .. } => (StatusCode::NOT_FOUND, "unknown-environment", "Unknown environment"),
        Denied::NoConnector { .. } => UNKNOWN_CONNECTOR,
        Denied::NoConnection { .. } => UNKNOWN_CONNECTION,
        Denied::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found", "Not found"),
        Denied::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
    }
}

fn classify_lookup(error: &LookupError) -> Classified {
    match error {
        LookupError::Missing { .. } => UNKNOWN_CONNECTOR,
        LookupError::Failed { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "connector-unavailable", "Connector not available")
        }
    }
}

fn classify_call(failure: &CallFailure) -> Classified {
    let bad_request = (StatusCode::BAD_REQUEST, "bad-request", "Bad request");
    let bad_backend_url = (StatusCode::BAD_GATEWAY, "bad-backend-url", "Unusable backend URL");
    match failure {
        CallFailure::Connector(error) => classify_lookup(error),
        CallFailure::UnknownConnection { .. } => UNKNOWN_CONNECTION,
        CallFailure::Route { source: RouteError::MethodNotAllowed { .. }, .. } => {
            (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
        }
        CallFailure::Route { .. } => (StatusCode::NOT_FOUND, "unknown-operation", "Unknown operation"),
        CallFailure::CodeNotPorted { .. } => (StatusCode::NOT_IMPLEMENTED, "code-not-ported", "Code not ported"),
        CallFailure::Request { source, .. } => match source {
            // What the package gives cannot make a backend URL: the package's
            // (or a connection value's) defect, not the client's.
            // Path values are encoded before they join the URL, so a URL
            // that does not parse comes from the definition (a template
            // `host`, say) or a connection value.
            RequestError::BackendUrl(BackendUrlError::NoHost { .. } | BackendUrlError::Invalid { .. })
            | RequestError::Policy(PolicyError::InvalidUrl { .. })
            | RequestError::Credentials(CredentialError::Url { .. }) => bad_backend_url,
            RequestError::MissingParameter { .. } | RequestError::BackendUrl(_) => bad_request,
            // A connection value that cannot be sent is the connection's owner's to fix.
            RequestError::Credentials(CredentialError::InvalidHeaderValue { .. }) => bad_request,
            RequestError::Policy(_) | RequestError::FetchBeforeCode { .. } => {
                (StatusCode::BAD_GATEWAY, "policy-failed", "Policy failed")
            }
            RequestError::InvalidHeader { .. }
            | RequestError::Credentials(CredentialError::InvalidHeaderName { .. }) => {
                (StatusCode::BAD_GATEWAY, "bad-definition", "The definition cannot make this request")
            }
            _ => INTERNAL,
        },
        CallFailure::OAuth(error) => classify_oauth(error),
        CallFailure::EgressDenied(_) => (StatusCode::BAD_GATEWAY, "egress-denied", "Backend call denied"),
        CallFailure::Backend(_) => (StatusCode::BAD_GATEWAY, "backend-failed", "Backend call failed"),
        CallFailure::BackendTimeout => (StatusCode::GATEWAY_TIMEOUT, "backend-timeout", "Backend timed out"),
        CallFailure::ResponsePolicy { .. } => (StatusCode::BAD_GATEWAY, "policy-failed", "Policy failed"),
        CallFailure::Code(error) => classify_call_error(error),
    }
}

fn classify_oauth(error: &OAuthError) -> Classified {
    match error {
        OAuthError::Unavailable(_)
        | OAuthError::NotConfigured { .. }
        | OAuthError::BadEndpoint { .. }
        | OAuthError::EndpointScheme { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "oauth-unavailable", "OAuth unavailable")
        }
        OAuthError::Generic { source: FillError::OriginNotAllowed { .. } | FillError::Value { .. }, .. } => {
            (StatusCode::FORBIDDEN, "oauth-endpoint-refused", "OAuth endpoint refused")
        }
        OAuthError::Generic { .. } => (StatusCode::SERVICE_UNAVAILABLE, "oauth-unavailable", "OAuth unavailable"),
        OAuthError::UnknownConnection { .. } => UNKNOWN_CONNECTION,
        OAuthError::NoSignIn { .. } => (StatusCode::CONFLICT, "no-signin", "The connection does not sign in"),
        OAuthError::SignInRequired { .. } => (StatusCode::UNAUTHORIZED, "signin-required", "Sign-in required"),
        OAuthError::SignIn(_) => (StatusCode::BAD_REQUEST, "signin-failed", "Sign-in failed"),
        OAuthError::GlobalRedirectRetired { .. } => {
            (StatusCode::FORBIDDEN, "global-redirect-retired", "Global redirect URI retired")
        }
        OAuthError::Refresh { .. } | OAuthError::InvalidToken => {
            (StatusCode::BAD_GATEWAY, "backend-failed", "Backend call failed")
        }
        OAuthError::Vault(crate::store::VaultError::Store(error)) if error.is_unavailable() => STORE_UNAVAILABLE,
        _ => INTERNAL,
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
            CallError::Trap { reason: "x".into(), panic: None, detail: None },
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
        let internal = GatewayError::Call(CallFailure::Code(CallError::Internal("secret path".into())));
        assert!(!internal.detail_is_public());
        assert!(GatewayError::Call(CallFailure::BackendTimeout).detail_is_public());
    }
}
