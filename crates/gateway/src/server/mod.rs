//! The HTTP surface: routes, and the layer every request passes through.
//!
//! In an environment, at the root for the default one and under
//! `/environments/{id}` for the others:
//! - `ANY /apim/{connector}/{connection}/{operation path}`: call an operation,
//!   the platform's runtime URL shape;
//! - `GET /connections/{connector}/{connection}/signin`: start an OAuth sign-in;
//! - `GET /redirect/{connector}`: the provider's redirect back on a
//!   per-connector redirect URI;
//! - `GET /admin/redirect-audit` (JSON) and `/admin/redirect-audit.html`:
//!   OAuth connectors still on the global redirect URI;
//! - `/api/v1/...`: the management API ([`crate::api`]).
//!
//! For the whole gateway:
//! - `GET /healthz`: liveness, open to anyone;
//! - `GET /console/...`: the console's page and assets, open to anyone
//!   ([`crate::console`]; its data comes from the API);
//! - `GET /metrics`: Prometheus text, for the gateway's admins (or open on
//!   its own address, [`serve_metrics`]);
//! - `GET /redirect`: the provider's redirect back on the global redirect
//!   URI, shared by every environment.
//!
//! An environment that does not exist, and one the caller is not a member
//! of, answer 404 `unknown-environment` alike ([`enter_environment`]).
//!
//! The first step ([`correlated`]) gives each request its correlation id
//! (the client's when it sends a sane one) and a span carrying it, and turns
//! a handler's [`GatewayError`] into its problem+json answer, logged once.
//! Inside it, [`host_served`] answers 421 to a request for a host other
//! than `public_url`'s (a DNS-rebinding page driving a gateway on loopback),
//! and [`authenticate_caller`] answers 401 to a request without a caller, on every
//! route but `/healthz`, the console's files and the provider's redirects
//! (which the sign-in's browser-binding cookie authenticates).
//!
//! The router's layers run these steps; a call of an operation, the path
//! that carries nearly all the traffic, runs them without the router
//! ([`GatewayService`], [`call_operation`]).

mod admin;
mod listen;
mod operation;
pub(crate) mod signin;

pub use listen::serve;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use hyper_util::service::TowerToHyperService;
use tracing::Instrument;

use crate::access::{Caller, DEFAULT_ENVIRONMENT, Denied, Directory};
use crate::config::RequestLimits;
use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::problem::{CORRELATION_HEADER, GatewayError};

/// Serves the gateway on `listener` under its request limits until
/// `shutdown` completes.
pub async fn serve_gateway(
    listener: tokio::net::TcpListener,
    gateway: Gateway,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = *gateway.request_limits();
    let service = GatewayService { router: TowerToHyperService::new(router(gateway.clone())), gateway };
    serve(listener, service, limits, shutdown).await
}

/// The gateway as hyper serves it: a call of an operation goes straight
/// through the steps the router's layers take ([`call_operation`]);
/// anything else, and a call whose path the router would refuse, goes
/// through the router. (Matching a path, four layers and their boxed
/// services, and the extensions they carry were a seventh of what the
/// gateway spent on a call without code.)
#[derive(Clone)]
struct GatewayService {
    gateway: Gateway,
    router: TowerToHyperService<Router>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for GatewayService {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, Self::Error>> + Send>>;

    fn call(&self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        match OperationRoute::parse(request.uri().path()) {
            Some(route) => {
                let gateway = self.gateway.clone();
                Box::pin(async move { Ok(call_operation(gateway, route, request.map(axum::body::Body::new)).await) })
            }
            None => Box::pin(self.router.call(request)),
        }
    }
}

/// What the path of a call of an operation names:
/// `[/environments/{environment}]/apim/{connector}/{connection}[/{operation path}]`,
/// the ids percent-decoded as the router's `Path` decodes them, the
/// operation path raw.
#[derive(Debug, PartialEq)]
struct OperationRoute {
    environment: Option<String>,
    target: operation::Target,
}

impl OperationRoute {
    /// The route of `path`, or `None` for any path the router's operation
    /// routes would not match or whose ids it would refuse.
    fn parse(path: &str) -> Option<Self> {
        let decode = |segment: &str| {
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().ok()?;
            (!segment.is_empty()).then(|| decoded.into_owned())
        };
        let (environment, rest) = match path.strip_prefix("/environments/") {
            Some(rest) => {
                let (environment, rest) = rest.split_once('/')?;
                (Some(decode(environment)?), rest)
            }
            None => (None, path.strip_prefix('/')?),
        };
        let mut parts = rest.strip_prefix("apim/")?.splitn(3, '/');
        let connector = decode(parts.next()?)?;
        let connection = decode(parts.next()?)?;
        let path = parts.next().unwrap_or_default().to_string();
        Some(Self { environment, target: operation::Target { connector, connection, path } })
    }
}

/// A call of an operation, through the steps the router's layers take, in
/// their order, and answered as the router answers (its length set, no
/// body for `HEAD`).
async fn call_operation(gateway: Gateway, route: OperationRoute, request: Request) -> Response {
    let method = request.method().clone();
    let OperationRoute { environment, target } = route;
    let gateway = &gateway;
    let environment = environment.as_deref().unwrap_or(DEFAULT_ENVIRONMENT);
    // The steps in one future, not each in its own: a step's future would
    // hold the request and the next step's future beside its own.
    let mut response = correlated(gateway, request, |mut request| async move {
        let steps = async {
            host_served(gateway, &request)?;
            authenticate_caller(gateway, &mut request).await?;
            enter_environment(gateway, environment, &mut request)
        };
        match steps.await {
            // Boxed: the operation's future is most of the call's, and would
            // otherwise be moved whole as each step starts.
            Ok(()) => Box::pin(operation::call(gateway, target, request)).await,
            Err(refusal) => refusal.into_response(),
        }
    })
    .await;
    answer_as_routed(&method, &mut response);
    response
}

/// What axum's router does to every answer of a route: the length of a
/// body of known size, then no body for `HEAD`; no body in a successful
/// answer to `CONNECT`.
fn answer_as_routed(method: &http::Method, response: &mut Response) {
    use axum::body::HttpBody as _;
    if *method == http::Method::CONNECT && response.status().is_success() {
        *response.body_mut() = axum::body::Body::empty();
        return;
    }
    if !response.headers().contains_key(header::CONTENT_LENGTH)
        && let Some(size) = response.body().size_hint().exact()
    {
        response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if *method == http::Method::HEAD {
        *response.body_mut() = axum::body::Body::empty();
    }
}

/// The gateway's router.
pub fn router(gateway: Gateway) -> Router {
    let in_default = axum::middleware::from_fn_with_state(gateway.clone(), enter_default);
    let in_named = axum::middleware::from_fn_with_state(gateway.clone(), enter_named);
    let callers_only = Router::new()
        .route("/metrics", get(admin::metrics))
        .merge(environment_routes().route_layer(in_default))
        .nest("/environments/{environment}", environment_routes().route_layer(in_named))
        .route_layer(axum::middleware::from_fn_with_state(gateway.clone(), authenticate));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/redirect", get(signin::redirect_global))
        .route("/redirect/{connector}", get(signin::redirect_connector))
        .route("/environments/{environment}/redirect/{connector}", get(signin::redirect_connector))
        .merge(crate::console::router())
        .merge(callers_only)
        .layer(axum::middleware::from_fn_with_state(gateway.clone(), check_host))
        .layer(axum::middleware::from_fn_with_state(gateway.clone(), correlate))
        .with_state(gateway)
}

/// The routes of one environment, which [`enter_environment`] puts the request in.
fn environment_routes() -> Router<Gateway> {
    Router::new()
        .route("/connections/{connector}/{connection}/signin", get(signin::start))
        .route("/admin/redirect-audit", get(admin::redirect_audit))
        .route("/admin/redirect-audit.html", get(admin::redirect_audit_html))
        .route("/apim/{connector}/{connection}", any(operation::root))
        .route("/apim/{connector}/{connection}/", any(operation::root))
        .route("/apim/{connector}/{connection}/{*path}", any(operation::path))
        .merge(crate::api::router())
}

/// A page the gateway writes itself (the sign-in's completion, the
/// redirect audit): it may run no script, load nothing, and be framed by no
/// one; its only style is its own inline sheet.
pub(crate) fn own_page(html: String) -> Response {
    let mut response = axum::response::Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The environment a request is in, and the snapshot of it its decisions
/// are made from, for the handler.
#[derive(Debug, Clone)]
pub struct InEnvironment {
    /// The environment.
    pub environment: Arc<Environment>,
    /// Its snapshot as the request found it.
    pub directory: Arc<Directory>,
}

/// The environment a route under `/environments/{environment}` names; the
/// other path parameters are the handler's.
#[derive(Debug, serde::Deserialize)]
struct EnvironmentPath {
    environment: String,
}

/// A connector and a connection named in the path.
#[derive(Debug, serde::Deserialize)]
struct ConnectionPath {
    connector: String,
    connection: String,
}

/// [`enter_environment`] for the routes at the root: the default environment.
async fn enter_default(State(gateway): State<Gateway>, mut request: Request, next: Next) -> Response {
    match enter_environment(&gateway, DEFAULT_ENVIRONMENT, &mut request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// [`enter_environment`] for the routes under `/environments/{environment}`.
async fn enter_named(
    State(gateway): State<Gateway>,
    Path(EnvironmentPath { environment }): Path<EnvironmentPath>,
    mut request: Request,
    next: Next,
) -> Response {
    match enter_environment(&gateway, &environment, &mut request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Puts an authenticated request in the environment `id`, for a caller who
/// is one of its members; anyone else is told there is no such environment
/// (404), whether there is one or not.
fn enter_environment(gateway: &Gateway, id: &str, request: &mut Request) -> Result<(), GatewayError> {
    let Some(caller) = request.extensions().get::<Caller>() else {
        return Err(GatewayError::Unauthenticated);
    };
    let entered = gateway
        .environment(id)
        .ok_or_else(|| Denied::NoEnvironment { environment: id.to_string() })
        .and_then(|environment| {
            let directory = gateway.access().member_directory(caller, id)?;
            Ok(InEnvironment { environment: Arc::clone(environment), directory })
        });
    match entered {
        Ok(entered) => {
            request.extensions_mut().insert(entered);
            Ok(())
        }
        Err(denied) => Err(GatewayError::Denied(denied)),
    }
}

/// Serves `/metrics` alone, to anyone who reaches `listener`: the
/// `metrics_listen` address, meant for loopback or a private network.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    gateway: Gateway,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    // A scrape now and then: served on the caller's runtime, no threads of its own.
    let limits = RequestLimits { workers: 0, ..*gateway.request_limits() };
    let app = Router::new().route("/metrics", get(admin::open_metrics)).with_state(gateway);
    serve(listener, TowerToHyperService::new(app), limits, shutdown).await
}

/// 421 for a request whose `Host` is not `public_url`'s, when it is set;
/// `/healthz` answers whatever the host (probes use addresses).
async fn check_host(State(gateway): State<Gateway>, request: Request, next: Next) -> Response {
    match host_served(&gateway, &request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// [`check_host`]'s step: whether the gateway serves `request`'s host.
fn host_served(gateway: &Gateway, request: &Request) -> Result<(), GatewayError> {
    if let Some(expected) = gateway.public_host()
        && request.uri().path() != "/healthz"
    {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()))
            .unwrap_or_default();
        if !gateway.serves_host(host) {
            let host: String = host.chars().take(256).collect();
            tracing::debug!(%expected, "request for another host");
            return Err(GatewayError::MisdirectedHost { host });
        }
    }
    Ok(())
}

/// 401 for a request without a caller; the caller, in the request's
/// extensions, for the handler.
async fn authenticate(State(gateway): State<Gateway>, mut request: Request, next: Next) -> Response {
    match authenticate_caller(&gateway, &mut request).await {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// [`authenticate`]'s step: the caller put in `request`, or the refusal.
async fn authenticate_caller(gateway: &Gateway, request: &mut Request) -> Result<(), GatewayError> {
    let authorization = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes());
    match gateway.access().authenticate(authorization).await {
        Ok(caller) => {
            // The gateway's credential is for the gateway: it never reaches
            // a backend, nor the code.
            request.headers_mut().remove(header::AUTHORIZATION);
            request.extensions_mut().insert(caller);
            Ok(())
        }
        Err(reason) => {
            // What the token said (an issuer, a key id) is the client's text.
            tracing::info!(reason = %sluice_runtime::escape_controls(reason.to_string()), "caller not authenticated");
            let labels = crate::metrics::CredentialLabels { credential: reason.credential() };
            gateway.metrics().unauthenticated.get_or_create(&labels).inc();
            Err(GatewayError::Unauthenticated)
        }
    }
}

impl FromRef<Gateway> for Arc<Metrics> {
    fn from_ref(gateway: &Gateway) -> Self {
        Arc::clone(gateway.metrics())
    }
}

/// The correlation id of the request being served.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub Arc<str>);

/// A failed handler's error, carried to [`correlate`] in the response.
#[derive(Debug, Clone)]
struct Failed(Arc<GatewayError>);

impl IntoResponse for GatewayError {
    /// A bare answer with the error's status; [`correlate`] writes the
    /// problem body, which needs the request's correlation id.
    fn into_response(self) -> Response {
        let (status, _, _) = self.classify();
        let mut response = status.into_response();
        response.extensions_mut().insert(Failed(Arc::new(self)));
        response
    }
}

/// The layer: correlation id, the request's span, and the one log line and
/// problem answer of a failure. The line says how long the gateway held the
/// request (`elapsed_ms`), from the moment it had read its headers.
async fn correlate(State(gateway): State<Gateway>, request: Request, next: Next) -> Response {
    correlated(&gateway, request, |request| next.run(request)).await
}

/// [`correlate`], for any next step.
async fn correlated<F: Future<Output = Response>>(
    gateway: &Gateway,
    mut request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    let started = std::time::Instant::now();
    let id: Arc<str> = correlation_id(&request).into();
    request.extensions_mut().insert(CorrelationId(Arc::clone(&id)));
    let span = tracing::info_span!(
        "call",
        method = %request.method(),
        path = %request.uri().path(),
        connector = tracing::field::Empty,
        connection = tracing::field::Empty,
        operation = tracing::field::Empty,
        correlation_id = %id,
        replica = %gateway.replica(),
    );
    let client = crate::telemetry::client_context(request.headers());
    crate::telemetry::adopt(&span, &client);
    let serving = next(request).instrument(span.clone());
    let mut response = crate::telemetry::serving(client, serving).await;
    if let Some(Failed(error)) = response.extensions_mut().remove::<Failed>() {
        let _inside = span.enter();
        let (status, kind, _) = error.classify();
        // One line per failure, its text escaped: it holds what clients and
        // code wrote (ids from the URL, a provider's error description).
        let text = sluice_runtime::escape_controls(error.to_string());
        let elapsed_ms = started.elapsed().as_millis();
        if status.is_server_error() {
            tracing::error!(kind, error = %text, elapsed_ms, "call failed");
        } else {
            tracing::info!(kind, error = %text, elapsed_ms, "call refused");
        }
        response = error.problem(&id);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}

/// The client's correlation id when it sent a sane one, else a new one.
fn correlation_id(request: &Request) -> String {
    request
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(environment: Option<&str>, connector: &str, connection: &str, path: &str) -> Option<OperationRoute> {
        let target =
            operation::Target { connector: connector.into(), connection: connection.into(), path: path.into() };
        Some(OperationRoute { environment: environment.map(str::to_string), target })
    }

    /// The shorter way in takes exactly the paths the router's operation
    /// routes take, with the same parameters; the router keeps the rest.
    #[test]
    fn operation_paths_are_parsed_as_the_router_matches_them() {
        let cases = [
            ("/apim/c/k", route(None, "c", "k", "")),
            ("/apim/c/k/", route(None, "c", "k", "")),
            ("/apim/c/k/orders/A%2F7/lines", route(None, "c", "k", "orders/A%2F7/lines")),
            ("/apim/c/k//x", route(None, "c", "k", "/x")),
            ("/apim/my%20shop/k%2F1/x", route(None, "my shop", "k/1", "x")),
            ("/environments/sales/apim/c/k/x", route(Some("sales"), "c", "k", "x")),
            ("/environments/s%C3%A4les/apim/c/k", route(Some("säles"), "c", "k", "")),
            // Not operation routes, or ids the router refuses: the router answers.
            ("/apim/c", None),
            ("/apim/c/", None),
            ("/apim//k/x", None),
            ("/apim/c%FF/k", None),
            ("/apim", None),
            ("/apimx/c/k", None),
            ("/environments/sales/apim/c", None),
            ("/environments//apim/c/k", None),
            ("/environments/sales", None),
            ("/environments/sales/connections/c/k/signin", None),
            ("/healthz", None),
            ("", None),
        ];
        for (path, expected) in cases {
            assert_eq!(OperationRoute::parse(path), expected, "{path}");
        }
    }

    #[test]
    fn answers_are_shaped_as_the_router_shapes_them() {
        let answer = || Response::new(axum::body::Body::from("twelve bytes"));
        let mut get = answer();
        answer_as_routed(&http::Method::GET, &mut get);
        assert_eq!(get.headers()[header::CONTENT_LENGTH], "12");

        let mut head = answer();
        answer_as_routed(&http::Method::HEAD, &mut head);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "12", "HEAD tells the length of the body it leaves out");
        assert_eq!(axum::body::HttpBody::size_hint(head.body()).exact(), Some(0));

        let mut connect = answer();
        answer_as_routed(&http::Method::CONNECT, &mut connect);
        assert!(!connect.headers().contains_key(header::CONTENT_LENGTH));
        assert_eq!(axum::body::HttpBody::size_hint(connect.body()).exact(), Some(0));

        let mut declared = answer();
        declared.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("12"));
        answer_as_routed(&http::Method::GET, &mut declared);
        assert_eq!(declared.headers().get_all(header::CONTENT_LENGTH).iter().count(), 1);
    }
}
