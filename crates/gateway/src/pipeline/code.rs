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
use sluice_package::credentials::SendCredentials;
use sluice_runtime::{Backend, CallError, CallInfo, CallReport, Invocation, LogLevel, SendError};

use super::send::{Refresh, count_denial, send_refreshing};
use super::{Call, CallFailure, Scope, SignedIn};
use crate::gateway::Gateway;
use crate::metrics::KindLabels;

/// Runs the operation's code on `request`; `credentials`, when the code may
/// not see them, go on its calls to the backend's origin.
pub(super) async fn run(
    gateway: &Gateway,
    scope: Arc<Scope>,
    code: &sluice_runtime::Connector,
    call: &Call<'_>,
    request: http::Request<Bytes>,
    credentials: Option<SendCredentials>,
    signed_in: Option<SignedIn>,
) -> Result<http::Response<Bytes>, CallFailure> {
    let backend = Arc::new(CodeBackend {
        gateway: gateway.clone(),
        scope: Arc::clone(&scope),
        credentials: Mutex::new(credentials),
        signed_in: Mutex::new(signed_in),
    });
    let invocation = Invocation {
        operation_id: scope.operation_id.clone(),
        correlation_id: call.correlation_id.to_string(),
        original_url: original_url(&call.parts),
        request,
    };
    let started = Instant::now();
    let output = code.call_started_at(invocation, backend, call.received).await;
    // A failed call is logged once, by the server; the code's own lines say
    // why at debug level then.
    let scope = &*scope;
    emit_logs(scope, &output.report, output.result.is_err());
    tracing::debug!(
        fuel = output.report.fuel_consumed,
        peak_memory = output.report.peak_memory_bytes,
        backend_calls = output.report.backend_calls.len(),
        elapsed = ?started.elapsed(),
        "code ran"
    );
    if let Some(trace) = &scope.trace {
        let limits = &scope.connector.package.settings.limits;
        let logs = output
            .report
            .logs
            .iter()
            .map(|line| super::TracedLog {
                level: line.level.to_string(),
                source: line.source.to_string(),
                message: scope.secrets.redact(&line.message),
            })
            .collect();
        trace.code(super::TracedCode {
            fuel_consumed: output.report.fuel_consumed,
            fuel_limit: limits.fuel,
            peak_memory_bytes: output.report.peak_memory_bytes,
            memory_limit_bytes: limits.memory_bytes,
            wall_time: output.report.wall_time,
            deadline: limits.deadline,
            logs,
        });
    }
    let metrics = gateway.metrics();
    metrics.code_ran(
        scope.environment.id(),
        &scope.connector.package.id,
        &scope.operation_id,
        output.report.fuel_consumed,
    );
    output.result.map_err(|error| {
        if error.is_sandbox_stop() || matches!(error, CallError::Capacity(_) | CallError::Host(_)) {
            let kind = crate::kinds::call_error_kind(&error);
            let labels =
                KindLabels::new(scope.environment.id(), &scope.connector.package.id, &scope.operation_id, kind);
            metrics.traps.get_or_create(&labels).inc();
        }
        // Every message the code can produce is redacted, whatever its path.
        let error = error.map_messages(|message| scope.secrets.redact(message));
        if let CallError::Trap { detail: Some(detail), .. } = &error {
            tracing::debug!(detail = %detail, "the trap as wasmtime reports it");
        }
        CallFailure::Code(error)
    })
}

/// The code's log lines, redacted, inside the call's span; at debug level
/// all of them when the call failed.
fn emit_logs(scope: &Scope, report: &CallReport, failed: bool) {
    for line in &report.logs {
        let message = scope.secrets.redact(&line.message);
        let source = line.source.to_string();
        let level = if failed { LogLevel::Debug } else { line.level };
        match level {
            LogLevel::Trace => tracing::trace!(target: "sluice::guest", source, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "sluice::guest", source, "{message}"),
            LogLevel::Info => tracing::info!(target: "sluice::guest", source, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "sluice::guest", source, "{message}"),
            LogLevel::Error => tracing::error!(target: "sluice::guest", source, "{message}"),
        }
    }
}

/// The URL the client called, as the code's context shows it (with the
/// environment's prefix, which the router took off the request's own URI).
fn original_url(parts: &http::request::Parts) -> String {
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let uri = parts.extensions.get::<axum::extract::OriginalUri>().map_or(&parts.uri, |original| &original.0);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("http://{host}{path}")
}

/// The code's `send`: through the connection's egress policy, with the
/// credentials put on its calls to the backend's origin, and one token
/// refresh after a 401.
struct CodeBackend {
    gateway: Gateway,
    scope: Arc<Scope>,
    credentials: Mutex<Option<SendCredentials>>,
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
        let applied = match lock(&self.credentials).as_ref() {
            Some(credentials) => credentials.apply(&mut request),
            None => Ok(()),
        };
        applied.map_err(|error| SendError::InvalidRequest(self.scope.secrets.redact(&error.to_string())))?;
        let signed_in = lock(&self.signed_in).clone();
        // No timeout of the client's own: the call's deadline, around the
        // whole run of the code, already ends this request with the call.
        let options = SendOptions { timeout: None, max_response_bytes: call.max_response_bytes };
        let (response, refresh) = send_refreshing(&self.scope, request, options, signed_in.as_ref())
            .await
            .map_err(|error| self.send_error(call, error))?;
        match refresh {
            Refresh::NotNeeded => {}
            // The code sees the backend's 401; the connection is marked for sign-in.
            Refresh::Failed(error) => tracing::warn!(error = %error, "token refresh after a 401 failed"),
            Refresh::Fresh(fresh) => {
                if let Some(credentials) = lock(&self.credentials).as_mut() {
                    credentials.replace_token(&fresh);
                }
                *lock(&self.signed_in) = Some(SignedIn { token: fresh });
            }
        }
        Ok(response)
    }
}
