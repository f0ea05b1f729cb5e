//! One call of an operation, in order:
//!
//! 1. find the connector, the connection and the operation (method and path
//!    against the definition's templates);
//! 2. check required query and header parameters;
//! 3. build the backend request from `schemes`, `host`, `basePath` and the
//!    operation's path, with the client's query, headers and body;
//! 4. apply the connection's credentials (`securityDefinitions`);
//! 5. apply request policies, in the order the package lists them;
//! 6. run the custom code if the operation has it (its `send` makes the
//!    backend calls, through the egress policy), else send the request
//!    directly through the egress policy;
//! 7. apply response policies;
//! 8. answer.
//!
//! When the code may not see credentials (the default), the headers and
//! query parameters that carry a secret after steps 4 and 5 are taken out of
//! the request the code gets, and put back on the code's backend requests to
//! the same host.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};
use sluice_egress::{EgressError, SendOptions};
use sluice_runtime::{Backend, CallError, CallInfo, Invocation, LogLevel, SendError};

use crate::gateway::{ConnectionState, Gateway, LoadedConnector, Lookup};
use crate::metrics::{KindLabels, OperationLabels};
use crate::package::ParameterLocation;
use crate::policy::ExprContext;
use crate::problem::GatewayError;

/// What the server hands to the pipeline.
#[derive(Debug)]
pub struct Call<'a> {
    /// Connector id from the URL.
    pub connector: &'a str,
    /// Connection id from the URL.
    pub connection: &'a str,
    /// The operation path, `/` first.
    pub path: String,
    /// The call's correlation id.
    pub correlation_id: &'a str,
    /// The client's request head.
    pub parts: http::request::Parts,
    /// The client's body.
    pub body: Bytes,
}

/// Headers that belong to one hop and are never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Runs the call; `operation_id` is filled in as soon as it is known.
pub async fn run(gateway: &Arc<Gateway>, call: Call<'_>, operation_id: &mut String) -> Result<Response, GatewayError> {
    let connector = match gateway.connector(call.connector) {
        Lookup::Ready(connector) => connector,
        Lookup::Failed(reason) => {
            return Err(GatewayError::ConnectorUnavailable { connector: call.connector.into(), reason });
        }
        Lookup::Missing => return Err(GatewayError::UnknownConnector { connector: call.connector.into() }),
    };
    let connection = match connector.connections.get(call.connection) {
        Some(Ok(state)) => Arc::clone(state),
        Some(Err(reason)) => {
            return Err(GatewayError::UnknownConnection {
                connector: call.connector.into(),
                connection: call.connection.into(),
                reason: Some(reason.clone()),
            });
        }
        None => {
            return Err(GatewayError::UnknownConnection {
                connector: call.connector.into(),
                connection: call.connection.into(),
                reason: None,
            });
        }
    };
    let package = &connector.package;
    let Some(route) = package.definition.route(&call.parts.method, &call.path) else {
        let allowed = package.definition.allowed_methods(&call.path);
        if !allowed.is_empty() {
            return Err(GatewayError::MethodNotAllowed {
                connector: call.connector.into(),
                method: call.parts.method.to_string(),
                path: call.path.clone(),
                allowed: allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "),
            });
        }
        return Err(GatewayError::UnknownOperation {
            connector: call.connector.into(),
            method: call.parts.method.to_string(),
            path: call.path.clone(),
        });
    };
    let operation = route.operation;
    *operation_id = operation.id.clone();
    tracing::Span::current().record("operation", operation.id.as_str());

    let query_string = call.parts.uri.query().unwrap_or_default();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(query_string.as_bytes()).into_owned().collect();
    // Missing parameters with a default get it (the platform fills in
    // internal parameters this way); missing required ones are the client's
    // mistake.
    let mut default_query = Vec::new();
    let mut default_headers = Vec::new();
    for parameter in &operation.parameters {
        let present = match parameter.location {
            ParameterLocation::Query => query.iter().any(|(name, _)| *name == parameter.name),
            ParameterLocation::Header => call.parts.headers.contains_key(parameter.name.as_str()),
            ParameterLocation::Body => !call.body.is_empty(),
            _ => true,
        };
        if present {
            continue;
        }
        let default = parameter.default.as_ref().map(|value| match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        });
        match (parameter.location, default) {
            (ParameterLocation::Query, Some(value)) => default_query.push((parameter.name.clone(), value)),
            (ParameterLocation::Header, Some(value)) => default_headers.push((parameter.name.clone(), value)),
            _ if parameter.required => {
                return Err(GatewayError::BadRequest(format!(
                    "operation `{}` requires the {} parameter `{}`",
                    operation.id,
                    parameter.location.as_str(),
                    parameter.name
                )));
            }
            _ => {}
        }
    }
    let query_string = if default_query.is_empty() {
        query_string.to_string()
    } else {
        let mut serializer = url::form_urlencoded::Serializer::new(query_string.to_string());
        serializer.extend_pairs(&default_query);
        serializer.finish()
    };

    let url = package
        .definition
        .backend_url(operation, &route.path_params, &query_string)
        .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    let mut request = http::Request::builder()
        .method(call.parts.method.clone())
        .uri(url.as_str())
        .body(call.body.clone())
        .map_err(|e| GatewayError::Internal(format!("building the backend request: {e}")))?;
    for (name, value) in &call.parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != header::CONTENT_LENGTH {
            request.headers_mut().append(name, value.clone());
        }
    }
    for (name, value) in default_headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| GatewayError::Internal(format!("operation `{}` declares an invalid header `{name}`", operation.id)))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| GatewayError::Internal(format!("the default of header `{name}` is not a valid header value")))?;
        request.headers_mut().insert(name, value);
    }
    let token = if crate::credentials::needs_signed_in_token(package, &connection.connection) {
        Some(gateway.oauth()?.access_token(gateway, package, call.connection).await?)
    } else {
        None
    };
    let secrets = CallSecrets::new(&connection.connection, token.as_deref());
    crate::credentials::apply(package, &connection.connection, token.as_deref(), &mut request)?;
    let values = connection.connection.values();
    let ctx = ExprContext { connection_parameters: &values, headers: &call.parts.headers, query: &query };
    connector
        .package
        .policies
        .apply_request(&operation.id, &route.path_params, &mut request, &ctx)
        .map_err(|e| GatewayError::Policy(secrets.redact(&e.to_string())))?;

    let signed_in = token.map(|token| SignedIn { connection: call.connection.to_string(), token });
    let mut response = match (&connector.code, package.runs_code(&operation.id)) {
        (Some(code), true) => {
            run_code(gateway, &connector, &connection, code, operation_id, &call, request, signed_in, secrets.clone()).await?
        }
        _ => send_direct(gateway, &connector, &connection, operation_id, request, signed_in.as_ref()).await?,
    };
    connector
        .package
        .policies
        .apply_response(&operation.id, &mut response, &ctx)
        .map_err(|e| GatewayError::Policy(secrets.redact(&e.to_string())))?;
    Ok(into_axum(response))
}

/// The OAuth token a call started with, for the one retry after a 401.
#[derive(Debug, Clone)]
struct SignedIn {
    connection: String,
    token: String,
}

async fn send_direct(
    gateway: &Arc<Gateway>,
    connector: &LoadedConnector,
    connection: &ConnectionState,
    operation_id: &str,
    request: http::Request<Bytes>,
    signed_in: Option<&SignedIn>,
) -> Result<http::Response<Bytes>, GatewayError> {
    let options = SendOptions {
        timeout: gateway.request_limits().backend_timeout,
        max_response_bytes: connector.package.settings.limits.response_body_bytes,
    };
    let retry = signed_in.map(|_| copy_request(&request));
    let send = |request| async {
        let policy = gateway.egress_policy(connection);
        gateway.client().send(&policy, request, options).await.map_err(|error| {
            if let EgressError::Denied { reason } = &error {
                count_denial(gateway, &connector.package.id, operation_id, "direct");
                return GatewayError::EgressDenied(reason.to_string());
            }
            match error {
                EgressError::Timeout { .. } => GatewayError::BackendTimeout,
                other => GatewayError::Backend(other.to_string()),
            }
        })
    };
    let response = send(request).await?;
    match (response.status(), signed_in, retry) {
        (http::StatusCode::UNAUTHORIZED, Some(signed_in), Some(mut retry)) => {
            // The provider may have revoked the token early: refresh once and retry.
            let fresh = gateway.oauth()?.refresh(gateway, &connector.package, &signed_in.connection, &signed_in.token).await?;
            set_bearer(&mut retry, &fresh)?;
            send(retry).await
        }
        _ => Ok(response),
    }
}

/// A copy of a request (requests with a `Bytes` body are cheap to copy).
fn copy_request(request: &http::Request<Bytes>) -> http::Request<Bytes> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

fn set_bearer(request: &mut http::Request<Bytes>, token: &str) -> Result<(), GatewayError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| GatewayError::Backend("the provider issued a token that is not a valid header value".into()))?;
    value.set_sensitive(true);
    request.headers_mut().insert(header::AUTHORIZATION, value);
    Ok(())
}

/// The secrets of one call (the connection's and its OAuth token), for
/// hiding them from the code and redacting them from text.
#[derive(Debug, Clone)]
struct CallSecrets {
    secrets: Vec<String>,
}

impl CallSecrets {
    fn new(connection: &crate::connections::Connection, token: Option<&str>) -> Self {
        let mut secrets: Vec<String> = connection.secrets().into_iter().map(str::to_string).collect();
        secrets.extend(token.filter(|t| !t.is_empty()).map(str::to_string));
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    fn as_strs(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }

    fn redact(&self, text: &str) -> String {
        crate::connections::redact(&self.secrets, text)
    }
}

fn count_denial(gateway: &Gateway, connector: &str, operation: &str, kind: &str) {
    gateway
        .metrics()
        .egress_denials
        .get_or_create(&KindLabels { connector: connector.into(), operation: operation.into(), kind: kind.into() })
        .inc();
}

// The call's parts travel separately because each has its own lifetime
// (the gateway and connector are shared, the call is borrowed).
#[allow(clippy::too_many_arguments)]
async fn run_code(
    gateway: &Arc<Gateway>,
    connector: &Arc<LoadedConnector>,
    connection: &Arc<ConnectionState>,
    code: &sluice_runtime::Connector,
    operation_id: &str,
    call: &Call<'_>,
    mut request: http::Request<Bytes>,
    signed_in: Option<SignedIn>,
    secrets: CallSecrets,
) -> Result<http::Response<Bytes>, GatewayError> {
    let hidden = if connector.package.settings.code.sees_credentials {
        HiddenCredentials::default()
    } else {
        HiddenCredentials::take(&mut request, &secrets.as_strs())
    };
    let backend = Arc::new(CodeBackend {
        gateway: Arc::clone(gateway),
        connection: Arc::clone(connection),
        connector: Arc::clone(connector),
        hidden: std::sync::Mutex::new(hidden),
        signed_in: std::sync::Mutex::new(signed_in),
        secrets: secrets.clone(),
    });
    let invocation = Invocation {
        operation_id: operation_id.to_string(),
        correlation_id: call.correlation_id.to_string(),
        original_url: original_url(&call.parts),
        request,
    };
    let started = Instant::now();
    let output = code.call(invocation, backend).await;
    let report = &output.report;
    for line in &report.logs {
        let message = secrets.redact(&line.message);
        let source = line.source.to_string();
        match line.level {
            LogLevel::Trace => tracing::trace!(target: "sluice::guest", source, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "sluice::guest", source, "{message}"),
            LogLevel::Info => tracing::info!(target: "sluice::guest", source, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "sluice::guest", source, "{message}"),
            LogLevel::Error => tracing::error!(target: "sluice::guest", source, "{message}"),
        }
    }
    tracing::debug!(
        fuel = report.fuel_consumed,
        peak_memory = report.peak_memory_bytes,
        backend_calls = report.backend_calls.len(),
        elapsed = ?started.elapsed(),
        "code ran"
    );
    let metrics = gateway.metrics();
    let labels = OperationLabels { connector: connector.package.id.clone(), operation: operation_id.to_string() };
    metrics.code_invocations.get_or_create(&labels).inc();
    if let Some(fuel) = report.fuel_consumed {
        metrics.fuel_consumed.get_or_create(&labels).inc_by(fuel);
    }
    output.result.map_err(|error| {
        if error.is_sandbox_stop() || matches!(error, CallError::Capacity(_) | CallError::Host(_)) {
            let kind = crate::problem::GatewayError::Code(error.clone()).classify().1;
            metrics
                .traps
                .get_or_create(&KindLabels {
                    connector: connector.package.id.clone(),
                    operation: operation_id.to_string(),
                    kind: kind.into(),
                })
                .inc();
        }
        match error {
            CallError::Client { status, message } => {
                GatewayError::Code(CallError::Client { status, message: secrets.redact(&message) })
            }
            CallError::Upstream(message) => GatewayError::Code(CallError::Upstream(secrets.redact(&message))),
            other => GatewayError::Code(other),
        }
    })
}

/// The URL the client called, as the code's context shows it.
fn original_url(parts: &http::request::Parts) -> String {
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("http://{host}{path}")
}

/// Credential-bearing headers and query parameters kept from the code.
#[derive(Debug, Default)]
struct HiddenCredentials {
    authority: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    query: Vec<(String, String)>,
}

impl HiddenCredentials {
    /// Takes every header and query parameter whose value holds a secret out of `request`.
    fn take(request: &mut http::Request<Bytes>, secrets: &[&str]) -> Self {
        let holds_secret = |value: &str| secrets.iter().any(|secret| value.contains(secret));
        let mut hidden = Self { authority: request.uri().authority().map(|a| a.to_string()), ..Self::default() };
        let names: Vec<HeaderName> = request
            .headers()
            .iter()
            .filter(|(_, value)| value.to_str().is_ok_and(holds_secret))
            .map(|(name, _)| name.clone())
            .collect();
        for name in names {
            let values: Vec<HeaderValue> = request.headers().get_all(&name).iter().cloned().collect();
            request.headers_mut().remove(&name);
            hidden.headers.extend(values.into_iter().map(|value| (name.clone(), value)));
        }
        // Only a query can hide a secret beyond the headers; most calls have
        // none, and parsing the URL is the costliest step here.
        if request.uri().query().is_none_or(str::is_empty) {
            return hidden;
        }
        if let Ok(mut url) = url::Url::parse(&request.uri().to_string()) {
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let (secret, kept): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(_, value)| holds_secret(value));
            if !secret.is_empty() {
                hidden.query = secret;
                url.query_pairs_mut().clear().extend_pairs(kept);
                if url.query() == Some("") {
                    url.set_query(None);
                }
                if let Ok(uri) = url.as_str().parse() {
                    *request.uri_mut() = uri;
                }
            }
        }
        hidden
    }

    /// Swaps a refreshed token into the hidden `Authorization` header.
    fn replace_bearer(&mut self, stale: &str, fresh: &str) {
        let stale = format!("Bearer {stale}");
        for (name, value) in &mut self.headers {
            if *name == header::AUTHORIZATION
                && value.as_bytes() == stale.as_bytes()
                && let Ok(mut fresh) = HeaderValue::from_str(&format!("Bearer {fresh}"))
            {
                fresh.set_sensitive(true);
                *value = fresh;
            }
        }
    }

    /// Puts the credentials back on a request to the same host, unless the
    /// code set those headers itself.
    fn restore(&self, request: &mut http::Request<Bytes>) {
        if self.authority.is_none() || request.uri().authority().map(|a| a.as_str()) != self.authority.as_deref() {
            return;
        }
        let set_by_code: Vec<&HeaderName> =
            self.headers.iter().map(|(name, _)| name).filter(|name| request.headers().contains_key(*name)).collect();
        for (name, value) in &self.headers {
            if !set_by_code.contains(&name) {
                request.headers_mut().append(name.clone(), value.clone());
            }
        }
        if !self.query.is_empty()
            && let Ok(mut url) = url::Url::parse(&request.uri().to_string())
        {
            url.query_pairs_mut().extend_pairs(self.query.iter());
            if let Ok(uri) = url.as_str().parse() {
                *request.uri_mut() = uri;
            }
        }
    }
}

/// The code's `send`: through the connection's egress policy, with the
/// hidden credentials put back, and one token refresh after a 401.
struct CodeBackend {
    gateway: Arc<Gateway>,
    connection: Arc<ConnectionState>,
    connector: Arc<LoadedConnector>,
    hidden: std::sync::Mutex<HiddenCredentials>,
    signed_in: std::sync::Mutex<Option<SignedIn>>,
    secrets: CallSecrets,
}

impl CodeBackend {
    async fn send_once(&self, call: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        let options = SendOptions {
            timeout: call.deadline.saturating_duration_since(Instant::now()),
            max_response_bytes: call.max_response_bytes,
        };
        let policy = self.gateway.egress_policy(&self.connection);
        self.gateway.client().send(&policy, request, options).await.map_err(|error| {
            let redact = |text: String| self.secrets.redact(&text);
            match error {
                EgressError::Denied { reason } => {
                    count_denial(&self.gateway, &self.connector.package.id, &call.operation_id, "code");
                    tracing::info!(reason = %reason, "code's backend call denied");
                    SendError::Denied(reason.to_string())
                }
                EgressError::Timeout { .. } => SendError::Timeout,
                EgressError::InvalidRequest { reason } => SendError::InvalidRequest(redact(reason.to_string())),
                error @ EgressError::Unreachable { .. } => SendError::Unreachable(redact(error.to_string())),
                other => SendError::Failed(redact(other.to_string())),
            }
        })
    }

    fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Backend for CodeBackend {
    async fn send(&self, call: &CallInfo, mut request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        Self::lock(&self.hidden).restore(&mut request);
        let signed_in = Self::lock(&self.signed_in).clone();
        let bearer = signed_in.as_ref().map(|s| format!("Bearer {}", s.token));
        let carries_token = bearer.as_deref().is_some_and(|b| {
            request.headers().get(header::AUTHORIZATION).is_some_and(|v| v.as_bytes() == b.as_bytes())
        });
        let retry = carries_token.then(|| copy_request(&request));
        let response = self.send_once(call, request).await?;
        let (Some(signed_in), Some(mut retry)) = (signed_in, retry) else { return Ok(response) };
        if response.status() != http::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let oauth = match self.gateway.oauth() {
            Ok(oauth) => oauth,
            Err(_) => return Ok(response),
        };
        let fresh = match oauth.refresh(&self.gateway, &self.connector.package, &signed_in.connection, &signed_in.token).await {
            Ok(fresh) => fresh,
            // The code sees the backend's 401; the connection is marked for sign-in.
            Err(error) => {
                tracing::warn!(error = %error, "token refresh after a 401 failed");
                return Ok(response);
            }
        };
        Self::lock(&self.hidden).replace_bearer(&signed_in.token, &fresh);
        *Self::lock(&self.signed_in) = Some(SignedIn { connection: signed_in.connection.clone(), token: fresh.clone() });
        if set_bearer(&mut retry, &fresh).is_err() {
            return Ok(response);
        }
        self.send_once(call, retry).await
    }
}

fn into_axum(response: http::Response<Bytes>) -> Response {
    let (mut parts, body) = response.into_parts();
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, body).into_response()
}
