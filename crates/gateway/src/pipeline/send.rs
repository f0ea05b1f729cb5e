//! Sending a backend request through the egress policy of the call's
//! connection, with the one refresh-and-retry rule both paths use: when the
//! request carries the call's OAuth token and the backend answers 401, the
//! token is refreshed once and the request sent again with the fresh one.

use bytes::Bytes;
use http::header;
use sluice_egress::{EgressError, SendOptions};
use sluice_package::credentials::set_bearer;

use super::{CallFailure, Scope, SignedIn};
use crate::gateway::Gateway;
use crate::metrics::KindLabels;
use crate::oauth::OAuthError;

/// What became of the token when a request was sent.
#[derive(Debug)]
pub(super) enum Refresh {
    /// No retry was needed (no token, or no 401).
    NotNeeded,
    /// The token was refreshed and the request sent again with it.
    Fresh(String),
    /// The refresh failed; the answer is the backend's 401.
    Failed(OAuthError),
}

/// Sends `request`, refreshing the token once after a 401 when the request
/// carries it.
pub(super) async fn send_refreshing(
    scope: &Scope,
    request: http::Request<Bytes>,
    options: SendOptions,
    signed_in: Option<&SignedIn>,
) -> Result<(http::Response<Bytes>, Refresh), EgressError> {
    let carries_token = signed_in.is_some_and(|s| {
        request
            .headers()
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == format!("Bearer {}", s.token).as_bytes())
    });
    let retry = carries_token.then(|| copy_request(&request));
    let response = send_once(scope, request, options).await?;
    let (Some(signed_in), Some(mut retry)) = (signed_in, retry) else { return Ok((response, Refresh::NotNeeded)) };
    if response.status() != http::StatusCode::UNAUTHORIZED {
        return Ok((response, Refresh::NotNeeded));
    }
    // The provider may have revoked the token early: refresh once and retry.
    // Boxed, as it is rare and large: every call's future would carry it.
    let refreshed = match scope.environment.oauth() {
        Ok(oauth) => {
            let connection = &scope.connection.connection;
            Box::pin(oauth.refresh(&scope.connector.package, &scope.connection_id, connection, &signed_in.token)).await
        }
        Err(error) => Err(error),
    };
    let fresh = match refreshed {
        Ok(fresh) => fresh,
        Err(error) => return Ok((response, Refresh::Failed(error))),
    };
    if set_bearer(&mut retry, &fresh).is_err() {
        return Ok((response, Refresh::Failed(OAuthError::InvalidToken)));
    }
    let response = send_once(scope, retry, options).await?;
    Ok((response, Refresh::Fresh(fresh)))
}

/// One request through the connection's policy, as the environment is now.
async fn send_once(
    scope: &Scope,
    mut request: http::Request<Bytes>,
    options: SendOptions,
) -> Result<http::Response<Bytes>, EgressError> {
    crate::telemetry::propagate(request.headers_mut());
    let network = scope.environment.network();
    let policy = network.policy(&scope.connection.allowlist);
    let Some(trace) = &scope.trace else { return network.client().send(&policy, request, options).await };
    // A test of the operation shows what was sent, secrets redacted.
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let url = scope.secrets.redact(&request.uri().to_string());
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let shown = if value.is_sensitive() || name == header::AUTHORIZATION {
                "***".to_string()
            } else {
                scope.secrets.redact(&String::from_utf8_lossy(value.as_bytes()))
            };
            (name.to_string(), shown)
        })
        .collect();
    let result = network.client().send(&policy, request, options).await;
    let outcome = match &result {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => Err(scope.secrets.redact(&error.to_string())),
    };
    trace.request(super::TracedRequest { method, url, headers, outcome, duration: started.elapsed() });
    result
}

/// A call without code: the request itself goes to the backend. A refresh
/// that fails after a 401 is the call's failure (sign-in required, ...).
pub(super) async fn direct(
    gateway: &Gateway,
    scope: &Scope,
    request: http::Request<Bytes>,
    signed_in: Option<&SignedIn>,
) -> Result<http::Response<Bytes>, CallFailure> {
    match send_refreshing(scope, request, options(gateway, scope), signed_in).await {
        Ok((_, Refresh::Failed(error))) => Err(error.into()),
        Ok((response, _)) => Ok(response),
        Err(error) => {
            if matches!(error, EgressError::Denied { .. }) {
                count_denial(gateway, scope, "direct");
            }
            Err(CallFailure::from_egress(error))
        }
    }
}

/// How the gateway sends a call's own backend requests: its backend
/// timeout, and the connector's response size limit.
pub(super) fn options(gateway: &Gateway, scope: &Scope) -> SendOptions {
    SendOptions {
        timeout: Some(gateway.request_limits().backend_timeout),
        max_response_bytes: scope.connector.package.settings.limits.response_body_bytes,
    }
}

/// Counts a denied backend call, by path (`direct`, `code`, or `policy`
/// for a `setvaluefromurl`'s).
pub(super) fn count_denial(gateway: &Gateway, scope: &Scope, kind: &str) {
    gateway
        .metrics()
        .egress_denials
        .get_or_create(&KindLabels::new(scope.environment.id(), &scope.connector.package.id, &scope.operation_id, kind))
        .inc();
}

/// A copy of a request (requests with a `Bytes` body are cheap to copy).
fn copy_request(request: &http::Request<Bytes>) -> http::Request<Bytes> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}
