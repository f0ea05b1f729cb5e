//! One call of an operation, in order, each step a function of its own:
//!
//! 1. [`resolve`]: the connector, the connection and the operation (method
//!    and path against the definition's templates);
//! 2. the connection's OAuth token, when it signs in ([`token`]);
//! 3. the backend request, built as `sluice_package::request` builds it for
//!    every caller: defaults and required parameters, the backend URL, the
//!    connection's credentials, the request policies in the package's order;
//! 4. the custom code if the operation has it (its `send` makes the backend
//!    calls, through the egress policy), else the request itself through the
//!    egress policy;
//! 5. the response policies.
//!
//! When the code may not see credentials (the default), its request is
//! built without them (`request::prepare_for_code`), with the secret values
//! policies place as placeholders; its own backend requests to the backend's
//! origin get the credentials and the secrets.

mod code;
mod error;
mod fetch;
mod resolve;
mod send;
mod trace;

use std::sync::Arc;

use bytes::Bytes;
use sluice_package::credentials::{self, CallSecrets};
use sluice_package::request::{self, ClientRequest, RequestError};
use sluice_policy::{ExprContext, GatewayRoute};

pub use error::CallFailure;
pub use trace::{Trace, TracedCode, TracedLog, TracedRequest};

use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::registry::{ConnectionState, LoadedConnector};

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
    /// When the gateway received the request: the code's deadline counts
    /// from then.
    pub received: std::time::Instant,
    /// Where to record the backend requests, the code's log and its report,
    /// for a test of the operation; `None` for a client's call.
    pub trace: Option<Arc<Trace>>,
}

/// What the steps after routing share: the call's connector, connection and
/// operation, and its secrets.
#[derive(Debug)]
pub(crate) struct Scope {
    pub(crate) environment: Arc<Environment>,
    pub(crate) connector: Arc<LoadedConnector>,
    pub(crate) connection: Arc<ConnectionState>,
    pub(crate) connection_id: String,
    pub(crate) operation_id: String,
    pub(crate) secrets: CallSecrets,
    pub(crate) trace: Option<Arc<Trace>>,
}

/// The OAuth token a call started with, for the one retry after a 401.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    pub(crate) token: String,
}

/// Runs the call in `environment`; `operation_id` is filled in as soon as
/// it is known.
pub async fn run(
    gateway: &Gateway,
    environment: &Arc<Environment>,
    call: Call<'_>,
    operation_id: &mut String,
) -> Result<http::Response<Bytes>, CallFailure> {
    let (connector, connection) = resolve::target(gateway, environment, call.connector, call.connection)?;
    let route = resolve::route(&connector, &call)?;
    *operation_id = route.operation.id.clone();
    tracing::Span::current().record("operation", operation_id.as_str());
    if connector.package.code_not_ported(operation_id) {
        return Err(CallFailure::CodeNotPorted {
            connector: call.connector.to_string(),
            operation: operation_id.clone(),
        });
    }

    let token = token(environment, &connector, &connection, call.connection).await?;
    let secrets = CallSecrets::new(&connection.connection, token.as_deref());
    let query = call.parts.uri.query().unwrap_or_default();
    let client = ClientRequest { method: &call.parts.method, query, headers: &call.parts.headers, body: &call.body };
    // Shared with the code's backend calls, which outlive this borrow.
    let scope = Arc::new(Scope {
        environment: Arc::clone(environment),
        connector: Arc::clone(&connector),
        connection: Arc::clone(&connection),
        connection_id: call.connection.to_string(),
        operation_id: operation_id.clone(),
        secrets,
        trace: call.trace.clone(),
    });
    let signed_in = token.clone().map(|token| SignedIn { token });
    let package = &connector.package;
    // Where the request went, for the response policies' next links.
    let backend_url: http::Uri;
    let mut response = match (&connector.code, package.runs_code(operation_id)) {
        (Some(code), true) => {
            // Code that may not see the credentials gets a request without
            // them; they go on its own calls to the backend's origin.
            let (request, credentials) = if package.settings.code.sees_credentials {
                let prepared =
                    Prepare { gateway, scope: &scope, route: &route, client: &client, token: token.as_deref() };
                (prepared.request(signed_in.as_ref()).await?, None)
            } else {
                let prepared =
                    request::prepare_for_code(package, &route, &client, &connection.connection, token.as_deref());
                let (request, credentials) = prepared.map_err(|source| redacted(source, &scope.secrets))?;
                (request, Some(credentials))
            };
            backend_url = request.uri().clone();
            code::run(gateway, Arc::clone(&scope), code, &call, request, credentials, signed_in).await?
        }
        _ => {
            let prepared = Prepare { gateway, scope: &scope, route: &route, client: &client, token: token.as_deref() };
            let request = prepared.request(signed_in.as_ref()).await?;
            backend_url = request.uri().clone();
            send::direct(gateway, &scope, request, signed_in.as_ref()).await?
        }
    };

    // What the backend's answer says of the connection
    // (`setconnectionstatustounauthenticated`), before the response policies.
    let answer = crate::access::ObservedAnswer {
        environment: environment.id(),
        connector: call.connector,
        connection: call.connection,
        operation: operation_id,
        status: response.status(),
        marks: package.policies.marks_unauthenticated(operation_id, response.status()),
        tests_connection: package.definition.test_connection.as_deref() == Some(operation_id.as_str()),
    };
    gateway.access().observe_answer(&answer).await;

    if !package.policies.has_response_policies(operation_id) {
        return Ok(response);
    }
    let query = client.query_pairs();
    // Made only for a connector that reads it: most calls need no URL of their own.
    let connection_url =
        connector.package.policies.reads_gateway_route().then(|| connection_url(gateway, environment, &call)).flatten();
    let route =
        connection_url.as_deref().map(|connection_url| GatewayRoute { connection_url, backend_url: &backend_url });
    let ctx = ExprContext {
        connection_parameters: &*connection.connection,
        headers: &call.parts.headers,
        query: &query,
        gateway: route,
    };
    connector
        .package
        .policies
        .apply_response(operation_id, &mut response, &ctx)
        .map_err(|source| CallFailure::ResponsePolicy { message: scope.secrets.redact(&source.to_string()), source })?;
    Ok(response)
}

/// The URL the call's connection is called at on this gateway, for the
/// response policies that point the client back here (`updatenextlink`):
/// under `public_url` when it is set, else under the `Host` the client
/// named (then `http`, as the gateway serves without TLS); `None` when
/// there is neither.
fn connection_url(gateway: &Gateway, environment: &Environment, call: &Call<'_>) -> Option<String> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    let base = match gateway.public_url() {
        Some(url) => url.as_str().trim_end_matches('/').to_string(),
        None => {
            let host = call.parts.headers.get(http::header::HOST)?.to_str().ok()?;
            format!("http://{host}")
        }
    };
    Some(format!(
        "{base}{}/apim/{}/{}",
        Environment::prefix_of(environment.id()),
        utf8_percent_encode(call.connector, SEGMENT),
        utf8_percent_encode(call.connection, SEGMENT),
    ))
}

/// Step 2: the connection's OAuth access token, when it signs in rather
/// than holding a token among its values.
async fn token(
    environment: &Environment,
    connector: &LoadedConnector,
    connection: &ConnectionState,
    connection_id: &str,
) -> Result<Option<String>, CallFailure> {
    if !credentials::needs_signed_in_token(&connector.package, &connection.connection) {
        return Ok(None);
    }
    let oauth = environment.oauth()?;
    // Boxed, as it is rare and large: every call's future would carry it.
    Ok(Some(Box::pin(oauth.access_token(&connector.package, connection_id, &connection.connection)).await?))
}

/// What step 3 builds the backend request from, when the request is the
/// gateway's own (or code that may see credentials gets it).
struct Prepare<'c> {
    gateway: &'c Gateway,
    scope: &'c Scope,
    route: &'c sluice_package::Route<'c>,
    client: &'c ClientRequest<'c>,
    token: Option<&'c str>,
}

impl Prepare<'_> {
    /// The whole backend request, `setvaluefromurl` policies making their
    /// calls as the call's own request would be sent; a failed call answers
    /// as that failure.
    async fn request(&self, signed_in: Option<&SignedIn>) -> Result<http::Request<Bytes>, CallFailure> {
        let Prepare { gateway, scope, route, client, token } = *self;
        let fetch = fetch::PolicyFetch::new(gateway, scope, signed_in);
        let package = &scope.connector.package;
        let connection = &scope.connection.connection;
        let prepared = request::prepare_fetching(package, route, client, connection, token, &fetch).await;
        prepared.map_err(|source| fetch.into_failure().unwrap_or_else(|| redacted(source, &scope.secrets)))
    }
}

/// A request-building failure, its message redacted of the call's secrets.
fn redacted(source: RequestError, secrets: &CallSecrets) -> CallFailure {
    let message = match &source {
        RequestError::Policy(policy) => format!("policy failed: {}", secrets.redact(&policy.to_string())),
        other => secrets.redact(&other.to_string()),
    };
    CallFailure::Request { message, source }
}
