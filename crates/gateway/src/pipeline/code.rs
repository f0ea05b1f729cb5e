//! Step 4 with custom code: the code gets the request (its credentials
//! hidden unless the package lets it see them), its `send` goes through the
//! connection's egress policy with the credentials put back, and its log
//! lines are emitted inside the call's span, redacted.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use http::header;
use sluice_egress::{EgressError, SendOptions};
use sluice_package::credentials::HiddenCredentials;
use sluice_runtime::{Backend, CallError, CallInfo, CallReport, Invocation, LogLevel, SendError};

use super::send::{Refresh, count_denial, send_refreshing};
use super::{Call, CallFailure, Scope, SignedIn};
use crate::gateway::Gateway;
use crate::metrics::{KindLabels, OperationLabels};

/// Runs the operation's code on `request`.
pub(super) async fn run(
    gateway: &Gateway,
    scope: &Scope,
    code: &sluice_runtime::Connector,
    call: &Call<'_>,
    mut request: http::Request<Bytes>,
    signed_in: Option<SignedIn>,
) -> Result<http::Response<Bytes>, CallFailure> {
    let hidden = if scope.connector.package.settings.code.sees_credentials {
        HiddenCredentials::default()
    } else {
        HiddenCredentials::take(&mut request, &scope.secrets.as_strs())
    };
    let backend = Arc::new(CodeBackend {
        gateway: gateway.clone(),
        scope: scope.clone(),
        hidden: Mutex::new(hidden),
        signed_in: Mutex::new(signed_in),
    });
    let invocation = Invocation {
        operation_id: scope.operation_id.clone(),
        correlation_id: call.correlation_id.to_string(),
        original_url: original_url(&call.parts),
        request,
    };
    let started = Instant::now();
    let output = code.call(invocation, backend).await;
    emit_logs(scope, &output.report);
    tracing::debug!(
        fuel = output.report.fuel_consumed,
        peak_memory = output.report.peak_memory_bytes,
        backend_calls = output.report.backend_calls.len(),
        elapsed = ?started.elapsed(),
        "code ran"
    );
    let metrics = gateway.metrics();
    let labels =
        OperationLabels { connector: scope.connector.package.id.clone(), operation: scope.operation_id.clone() };
    metrics.code_invocations.get_or_create(&labels).inc();
    if let Some(fuel) = output.report.fuel_consumed {
        metrics.fuel_consumed.get_or_create(&labels).inc_by(fuel);
    }
    output.result.map_err(|error| {
        if error.is_sandbox_stop() || matches!(error, CallError::Capacity(_) | CallError::Host(_)) {
            let kind = crate::kinds::call_error_kind(&error);
            metrics
                .traps
                .get_or_create(&KindLabels {
                    connector: scope.connector.package.id.clone(),
                    operation: scope.operation_id.clone(),
                    kind: kind.into(),
                })
                .inc();
        }
        CallFailure::Code(match error {
            CallError::Client { status, message } => {
                CallError::Client { status, message: scope.secrets.redact(&message) }
            }
            CallError::Upstream(message) => CallError::Upstream(scope.secrets.redact(&message)),
            other => other,
        })
    })
}

/// The code's log lines, redacted, inside the call's span.
fn emit_logs(scope: &Scope, report: &CallReport) {
    for line in &report.logs {
        let message = scope.secrets.redact(&line.message);
        let source = line.source.to_string();
        match line.level {
            LogLevel::Trace => tracing::trace!(target: "sluice::guest", source, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "sluice::guest", source, "{message}"),
            LogLevel::Info => tracing::info!(target: "sluice::guest", source, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "sluice::guest", source, "{message}"),
            LogLevel::Error => tracing::error!(target: "sluice::guest", source, "{message}"),
        }
    }
}

/// The URL the client called, as the code's context shows it.
fn original_url(parts: &http::request::Parts) -> String {
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("http://{host}{path}")
}

/// The code's `send`: through the connection's egress policy, with the
/// hidden credentials put back, and one token refresh after a 401.
struct CodeBackend {
    gateway: Gateway,
    scope: Scope,
    hidden: Mutex<HiddenCredentials>,
    signed_in: Mutex<Option<SignedIn>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CodeBackend {
    /// What the code sees of an egress failure, redacted.
    fn send_error(&self, call: &CallInfo, error: EgressError) -> SendError {
        let redact = |text: String| self.scope.secrets.redact(&text);
        match error {
            EgressError::Denied { reason } => {
                count_denial(&self.gateway, &self.scope, "code");
                tracing::info!(operation = %call.operation_id, %reason, "code's backend call denied");
                SendError::Denied(reason.to_string())
            }
            EgressError::Timeout { .. } => SendError::Timeout,
            EgressError::InvalidRequest { reason } => SendError::InvalidRequest(redact(reason)),
            error @ EgressError::Unreachable { .. } => SendError::Unreachable(redact(error.to_string())),
            other => SendError::Failed(redact(other.to_string())),
        }
    }
}

#[async_trait]
impl Backend for CodeBackend {
    async fn send(
        &self,
        call: &CallInfo,
        mut request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, SendError> {
        lock(&self.hidden).restore(&mut request);
        let signed_in = lock(&self.signed_in).clone();
        let options = SendOptions {
            timeout: call.deadline.saturating_duration_since(Instant::now()),
            max_response_bytes: call.max_response_bytes,
        };
        let (response, refresh) = send_refreshing(&self.gateway, &self.scope, request, options, signed_in.as_ref())
            .await
            .map_err(|error| self.send_error(call, error))?;
        match refresh {
            Refresh::NotNeeded => {}
            // The code sees the backend's 401; the connection is marked for sign-in.
            Refresh::Failed(error) => tracing::warn!(error = %error, "token refresh after a 401 failed"),
            Refresh::Fresh(fresh) => {
                if let Some(stale) = &signed_in {
                    lock(&self.hidden).replace_bearer(&stale.token, &fresh);
                }
                *lock(&self.signed_in) = Some(SignedIn { token: fresh });
            }
        }
        Ok(response)
    }
}
