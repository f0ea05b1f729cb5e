//! The enforcing egress client: every byte that leaves sluice for a backend
//! goes through [`EgressClient::send`].
//!
//! Its connector resolves a host once through the [`Policy`], checks every
//! address, and connects only to the vetted addresses, so a DNS answer that
//! changes between check and connect (rebinding) cannot redirect the
//! connection. TLS still verifies the original name. Redirects are returned,
//! never followed. Connections are pooled per policy: a connection opened
//! under one policy is never reused for a call under another.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri, Version};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types::ServerName};

use crate::canonical::{Host, Scheme, Target};
use crate::policy::{Decision, DenyReason, Policy, log_decision};
use crate::resolve::{Resolver, SystemResolver};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call through the egress client failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EgressError {
    /// The policy denies the call; nothing was sent.
    #[error("egress denied: {reason}")]
    Denied {
        /// Why, in words fit for the connector author.
        reason: DenyReason,
    },
    /// No vetted address accepted a connection.
    #[error("cannot connect to {target}")]
    Unreachable {
        /// The canonical target.
        target: String,
        /// The last connection error.
        #[source]
        source: io::Error,
    },
    /// The connect timeout or the call's total timeout elapsed.
    #[error("request to {target} timed out after {after:?}")]
    Timeout {
        /// The canonical target.
        target: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The TLS handshake or the HTTP exchange failed.
    #[error("request to {target} failed")]
    Failed {
        /// The canonical target.
        target: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The response body is larger than [`SendOptions::max_response_bytes`].
    #[error("response from {target} exceeds {limit} bytes")]
    BodyTooLarge {
        /// The canonical target.
        target: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The request cannot be sent at all (e.g. a relative URI).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong with it.
        reason: String,
    },
}

/// Per-call limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// Total time for the call: resolution, connection, request and the whole
    /// response body. Default 30 seconds.
    ///
    /// `None` when the caller already bounds the call, e.g. with a deadline
    /// around everything it does: a timer of the client's own would only
    /// duplicate it, and on a single-threaded runtime each timer earlier
    /// than all the others costs a wake-up of the runtime's thread.
    pub timeout: Option<Duration>,
    /// Largest response body accepted, in bytes. Default 10 MiB.
    pub max_response_bytes: usize,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self { timeout: Some(Duration::from_secs(30)), max_response_bytes: 10 * 1024 * 1024 }
    }
}

/// Replaces the TCP connect to a vetted address: the seam through which
/// tests see which addresses the client dials and serve them from loopback.
/// Only addresses the policy vetted are ever passed in, so a dialer cannot
/// widen what the policy allows.
pub trait Dialer: Send + Sync + fmt::Debug {
    /// Connects to `addr`, a vetted address, or to a stand-in for it.
    fn dial(&self, addr: SocketAddr) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;
}

/// Builds an [`EgressClient`].
#[derive(Debug)]
pub struct EgressClientBuilder {
    resolver: Arc<dyn Resolver>,
    tls: Option<Arc<ClientConfig>>,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    max_pools: usize,
    dialer: Option<Arc<dyn Dialer>>,
}

impl Default for EgressClientBuilder {
    fn default() -> Self {
        Self {
            resolver: Arc::new(SystemResolver),
            tls: None,
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            max_pools: 1024,
            dialer: None,
        }
    }
}

impl EgressClientBuilder {
    /// The resolver for host names. Default: the system resolver.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The TLS configuration, e.g. with extra root certificates. Its ALPN
    /// protocols must be empty or `http/1.1`. Default: the Mozilla roots of
    /// `webpki-roots`, TLS 1.2 and 1.3, ALPN `http/1.1`.
    pub fn tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Time allowed for each TCP connect and for the TLS handshake. Default
    /// 10 seconds.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an idle pooled connection is kept. Default 90 seconds.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many distinct policies keep connection pools at once; past it,
    /// the least recently used policy's pools are dropped. (A policy has
    /// one pool for callers on multi-threaded runtimes, and one per thread
    /// that calls from a single-threaded runtime, as the gateway's workers
    /// do.) Default 1024.
    pub fn max_pools(mut self, max: usize) -> Self {
        self.max_pools = max.max(1);
        self
    }

    /// Dials vetted addresses through `dialer` instead of a plain TCP
    /// connect. Default: TCP.
    pub fn dialer(mut self, dialer: Arc<dyn Dialer>) -> Self {
        self.dialer = Some(dialer);
        self
    }

    /// The client.
    pub fn build(self) -> EgressClient {
        let tls = self.tls.unwrap_or_else(default_tls_config);
        EgressClient {
            inner: Arc::new(Inner {
                pools: Mutex::new(HashMap::default()),
                resolver: self.resolver,
                tls: TlsConnector::from(tls),
                connect_timeout: self.connect_timeout,
                pool_idle_timeout: self.pool_idle_timeout,
                max_pools: self.max_pools,
                dialer: self.dialer,
            }),
        }
    }
}

fn default_tls_config() -> Arc<ClientConfig> {
    tls_config_with_roots(&[])
}

/// The public roots, and `extra` (DER) beside them; an extra certificate
/// that is not a usable root is left out (`load_private_roots` refused it
/// already when it came from a file).
fn tls_config_with_roots(extra: &[Vec<u8>]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for der in extra {
        let _ = roots.add(rustls::pki_types::CertificateDer::from(der.clone()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The ring provider supports every default protocol version, so this
    // fails only if rustls itself is broken; the explicit provider keeps the
    // client independent of any process-wide provider choice.
    #[allow(clippy::expect_used)]
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// An environment's private root certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootsError {
    /// A file could not be read.
    #[error("private root {}: cannot read it", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file holds no certificate, or one that does not parse.
    #[error("private root {}: {reason}", path.display())]
    Unusable {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

impl crate::Environment {
    /// The same environment with the certificates of its private-root PEM
    /// files loaded, each checked to be a usable trust anchor.
    pub fn load_private_roots(self) -> Result<Self, RootsError> {
        use rustls::pki_types::pem::PemObject as _;
        let mut certificates = Vec::new();
        for path in self.private_root_files() {
            let pem = std::fs::read(path).map_err(|source| RootsError::Read { path: path.clone(), source })?;
            let unusable = |reason: String| RootsError::Unusable { path: path.clone(), reason };
            let mut found = 0;
            for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                let certificate = certificate.map_err(|e| unusable(format!("not PEM certificates: {e}")))?;
                RootCertStore::empty()
                    .add(certificate.clone())
                    .map_err(|e| unusable(format!("not a usable root certificate: {e}")))?;
                certificates.push(certificate.to_vec());
                found += 1;
            }
            if found == 0 {
                return Err(unusable("holds no `BEGIN CERTIFICATE` block".into()));
            }
        }
        Ok(self.with_private_roots(certificates))
    }
}

/// The egress client: one per process, shared by every connector. Cheap to
/// clone.
#[derive(Clone)]
pub struct EgressClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// One connection pool per policy, and per thread for callers on
    /// single-threaded runtimes (see [`Home`]); and when the policy was last
    /// used.
    pools: Mutex<HashMap<Policy, (Pools, Instant), foldhash::fast::RandomState>>,
    resolver: Arc<dyn Resolver>,
    tls: TlsConnector,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    max_pools: usize,
    dialer: Option<Arc<dyn Dialer>>,
}

impl fmt::Debug for EgressClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressClient")
            .field("resolver", &self.inner.resolver)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("pool_idle_timeout", &self.inner.pool_idle_timeout)
            .field("max_pools", &self.inner.max_pools)
            .finish_non_exhaustive()
    }
}

impl Default for EgressClient {
    fn default() -> Self {
        Self::new()
    }
}

impl EgressClient {
    /// A client with the defaults of [`EgressClientBuilder`].
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to change the resolver, TLS roots and timeouts.
    pub fn builder() -> EgressClientBuilder {
        EgressClientBuilder::default()
    }

    /// Sends `request` if `policy` allows it, and returns the response with
    /// its whole body. A 3xx response is returned as is; following it is a
    /// new call, checked again.
    pub async fn send(
        &self,
        policy: &Policy,
        request: Request<Bytes>,
        options: SendOptions,
    ) -> Result<Response<Bytes>, EgressError> {
        let uri = request.uri();
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(EgressError::InvalidRequest { reason: format!("uri `{uri}` is not absolute") });
        }
        // Deny what the allowlist alone denies before touching the pools:
        // no lookup, no connection, no pool for a policy that grants nothing.
        let target = match Target::of_uri(uri) {
            Ok(target) => target,
            Err(e) => return Err(denied(&uri.to_string(), e.into())),
        };
        if policy.allowlist.grant(&target).is_none() {
            return Err(denied(&uri.to_string(), DenyReason::NotGranted { target }));
        }
        let pool = self.pool_for(policy);
        let (mut parts, body) = request.into_parts();
        // The connector speaks HTTP/1.1 only.
        parts.version = Version::HTTP_11;
        // The URL says where the request goes; a Host header must not send
        // it to another virtual host of the same address. User information
        // in the URL is no part of it, and is never sent.
        if let Some(authority) = parts.uri.authority() {
            let host = authority.as_str().rsplit('@').next().unwrap_or_default();
            if let Ok(host) = http::HeaderValue::from_str(host) {
                parts.headers.insert(http::header::HOST, host);
            }
        }
        // The request line carries the path and query only: the connection
        // already goes to the origin.
        parts.uri = origin_form(&parts.uri)?;
        let request = Request::from_parts(parts, Full::new(body));
        // Boxed: the exchange is a large future, and every caller's future
        // would otherwise carry it, and be moved whole as it starts.
        let exchange = Box::pin(exchange(&pool, request, &target, options.max_response_bytes));
        let Some(timeout) = options.timeout else {
            return exchange.await;
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(EgressError::Timeout { target: target.to_string(), after: timeout }),
        }
    }

    /// The pool for `policy` on this thread.
    fn pool_for(&self, policy: &Policy) -> Arc<Pool> {
        let inner = &self.inner;
        let home = Home::current();
        // A poisoned lock only means another call panicked mid-insert; the
        // map itself is still consistent.
        let mut pools = inner.pools.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some((clients, used)) = pools.get_mut(policy) {
            *used = now;
            if let Some((_, client)) = clients.iter().find(|(h, _)| *h == home) {
                return Arc::clone(client);
            }
            let client = self.new_pool(policy);
            clients.push((home, client.clone()));
            return client;
        }
        if pools.len() >= inner.max_pools {
            let oldest = pools.iter().min_by_key(|(_, (_, used))| *used).map(|(policy, _)| policy.clone());
            if let Some(oldest) = oldest {
                pools.remove(&oldest);
            }
        }
        let client = self.new_pool(policy);
        pools.insert(policy.clone(), (vec![(home, client.clone())], now));
        client
    }

    fn new_pool(&self, policy: &Policy) -> Arc<Pool> {
        let inner = &self.inner;
        // An environment's private roots are trusted only for its linked
        // subnets: a connector of their own, chosen per dialed address.
        let private_roots = policy.environment.private_roots();
        let private_tls = (!private_roots.is_empty()).then(|| TlsConnector::from(tls_config_with_roots(private_roots)));
        let connector = PolicyConnector {
            policy: Arc::new(policy.clone()),
            resolver: inner.resolver.clone(),
            tls: inner.tls.clone(),
            private_tls,
            connect_timeout: inner.connect_timeout,
            dialer: inner.dialer.clone(),
        };
        Arc::new(Pool { connector, idle_timeout: inner.pool_idle_timeout, idle: Mutex::new(Idle::default()) })
    }
}

/// A policy's connection pools, by where their connections live.
type Pools = Vec<(Home, Arc<Pool>)>;

/// Where a pool's connections live. Each connection runs as a task on the
/// runtime that opened it; a caller on a single-threaded
/// runtime gets pools of its own, so that its backend calls never wake a
/// task on another thread. Callers on a multi-threaded runtime share one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Home {
    Shared,
    Thread(std::thread::ThreadId),
}

impl Home {
    fn current() -> Self {
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => Self::Thread(std::thread::current().id()),
            _ => Self::Shared,
        }
    }
}

fn denied(url: &str, reason: DenyReason) -> EgressError {
    log_decision(url, &Decision::Deny { reason: reason.clone() });
    EgressError::Denied { reason }
}

/// The request line's form of `uri`: its path and query, `/` if empty.
fn origin_form(uri: &Uri) -> Result<Uri, EgressError> {
    let mut parts = http::uri::Parts::default();
    parts.path_and_query =
        Some(uri.path_and_query().cloned().unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")));
    Uri::from_parts(parts).map_err(|e| EgressError::InvalidRequest { reason: format!("uri `{uri}`: {e}") })
}

/// One policy's connections on one [`Home`]: the idle ones by origin, and
/// the connector that opens new ones.
struct Pool {
    connector: PolicyConnector,
    idle_timeout: Duration,
    idle: Mutex<Idle>,
}

/// A sender to a connection's task, as hyper's HTTP/1.1 client hands it out.
type Sender = SendRequest<Full<Bytes>>;

/// The idle connections of a [`Pool`].
#[derive(Default)]
struct Idle {
    /// By origin; in each list, the most recently used last.
    by_origin: Vec<(Target, Vec<(Sender, Instant)>)>,
    /// Whether a task is closing the connections idle for too long.
    sweeping: bool,
}

impl Pool {
    fn idle(&self) -> MutexGuard<'_, Idle> {
        // A poisoned lock only means another call panicked while holding
        // it; the lists themselves are still consistent.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used idle connection to `target` that is ready for
    /// a request. Those found closed or idle too long are dropped, which
    /// closes them.
    fn checkout(&self, target: &Target) -> Option<Sender> {
        let now = Instant::now();
        let mut idle = self.idle();
        let (_, list) = idle.by_origin.iter_mut().find(|(origin, _)| origin == target)?;
        while let Some((sender, since)) = list.pop() {
            if now.saturating_duration_since(since) < self.idle_timeout && sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    /// Opens a connection to `target` and starts its task on this runtime.
    async fn connect(&self, target: &Target) -> Result<Sender, EgressError> {
        let stream = self.connector.connect(target).await.map_err(|e| from_connect(e, target))?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| failed(target, e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "egress connection ended");
            }
        });
        Ok(sender)
    }

    /// Takes back a sender whose response was read whole: at once if its
    /// connection is ready for the next request, else once it is. A closed
    /// one is dropped.
    fn give_back(self: &Arc<Self>, target: &Target, mut sender: Sender) {
        if sender.is_ready() {
            return self.park(target, sender);
        }
        if sender.is_closed() {
            return;
        }
        let (pool, target) = (Arc::downgrade(self), target.clone());
        tokio::spawn(async move {
            if sender.ready().await.is_ok()
                && let Some(pool) = pool.upgrade()
            {
                pool.park(&target, sender);
            }
        });
    }

    fn park(self: &Arc<Self>, target: &Target, sender: Sender) {
        let mut idle = self.idle();
        let entry = (sender, Instant::now());
        match idle.by_origin.iter_mut().find(|(origin, _)| origin == target) {
            Some((_, list)) => list.push(entry),
            None => idle.by_origin.push((target.clone(), vec![entry])),
        }
        if !idle.sweeping {
            idle.sweeping = true;
            tokio::spawn(sweep(Arc::downgrade(self), self.idle_timeout));
        }
    }
}

/// Closes a pool's connections once they have been idle for `after`, while
/// the pool lives and has idle connections.
async fn sweep(pool: Weak<Pool>, after: Duration) {
    loop {
        tokio::time::sleep(after).await;
        let Some(pool) = pool.upgrade() else { return };
        let now = Instant::now();
        let mut idle = pool.idle();
        for (_, list) in &mut idle.by_origin {
            list.retain(|(sender, since)| now.saturating_duration_since(*since) < after && !sender.is_closed());
        }
        idle.by_origin.retain(|(_, list)| !list.is_empty());
        if idle.by_origin.is_empty() {
            idle.sweeping = false;
            return;
        }
    }
}

async fn exchange(
    pool: &Arc<Pool>,
    mut request: Request<Full<Bytes>>,
    target: &Target,
    limit: usize,
) -> Result<Response<Bytes>, EgressError> {
    let method = request.method().clone();
    let (sender, response) = loop {
        let (mut sender, reused) = match pool.checkout(target) {
            Some(sender) => (sender, true),
            None => (pool.connect(target).await?, false),
        };
        match sender.try_send_request(request).await {
            Ok(response) => break (sender, response),
            Err(mut e) => match e.take_message() {
                // A pooled connection closed before the request was written
                // (e.g. the backend's idle timeout): nothing was sent, so
                // it goes again, on another connection.
                Some(unsent) if reused => request = unsent,
                _ => return Err(failed(target, e.into_error())),
            },
        }
    };
    let too_large = || EgressError::BodyTooLarge { target: target.to_string(), limit };
    // A HEAD response declares the length of a body it does not carry.
    let declared = (method != http::Method::HEAD)
        .then(|| response.headers().get(http::header::CONTENT_LENGTH))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let (parts, body) = response.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(too_large()),
        Err(source) => {
            return Err(EgressError::Failed { target: target.to_string(), source });
        }
    };
    // Only a connection whose response was read whole can carry another.
    pool.give_back(target, sender);
    Ok(Response::from_parts(parts, body))
}

fn failed(target: &Target, error: hyper::Error) -> EgressError {
    EgressError::Failed { target: target.to_string(), source: Box::new(error) }
}

/// What the connector's failure means for the call.
fn from_connect(error: ConnectError, target: &Target) -> EgressError {
    let target = target.to_string();
    match error {
        ConnectError::Denied(reason) => EgressError::Denied { reason },
        ConnectError::Unreachable { source, .. } => EgressError::Unreachable { target, source },
        ConnectError::Timeout { after, .. } => EgressError::Timeout { target, after },
        error @ ConnectError::Tls { .. } => EgressError::Failed { target, source: Box::new(error) },
    }
}

/// The connector's failures; mapped to [`EgressError`] by [`from_connect`].
#[derive(Debug, Error)]
enum ConnectError {
    #[error("egress denied: {0}")]
    Denied(DenyReason),
    #[error("cannot connect to {target}")]
    Unreachable {
        target: String,
        #[source]
        source: io::Error,
    },
    #[error("connecting to {target} timed out after {after:?}")]
    Timeout { target: String, after: Duration },
    #[error("tls handshake with {target} failed")]
    Tls {
        target: String,
        #[source]
        source: io::Error,
    },
}

/// Opens connections under one policy: check, then dial vetted addresses
/// only.
struct PolicyConnector {
    policy: Arc<Policy>,
    resolver: Arc<dyn Resolver>,
    tls: TlsConnector,
    /// The public roots and the environment's private ones, for addresses
    /// in its linked subnets.
    private_tls: Option<TlsConnector>,
    connect_timeout: Duration,
    dialer: Option<Arc<dyn Dialer>>,
}

impl PolicyConnector {
    async fn connect(&self, target: &Target) -> Result<EgressStream, ConnectError> {
        // The one lookup for this connection: what it vets is what we dial.
        let addrs = match self.policy.check_target(target, &*self.resolver).await {
            Decision::Allow { addrs, .. } => addrs,
            Decision::Deny { reason } => return Err(ConnectError::Denied(reason)),
        };
        let (tcp, dialed) = self.dial(target, &addrs).await?;
        if target.scheme == Scheme::Http {
            return Ok(EgressStream::Plain(tcp));
        }
        let tls = match &self.private_tls {
            Some(private) if self.policy.environment.is_linked(dialed.ip()) => private,
            _ => &self.tls,
        };
        let tls_error = |source| ConnectError::Tls { target: target.to_string(), source };
        let name = match &target.host {
            Host::Name(name) => ServerName::try_from(name.clone())
                .map_err(|e| tls_error(io::Error::new(io::ErrorKind::InvalidInput, e)))?,
            Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
        };
        match tokio::time::timeout(self.connect_timeout, tls.connect(name, tcp)).await {
            Ok(Ok(tls)) => Ok(EgressStream::Tls(Box::new(tls))),
            Ok(Err(e)) => Err(tls_error(e)),
            Err(_) => Err(ConnectError::Timeout { target: target.to_string(), after: self.connect_timeout }),
        }
    }

    /// Tries the vetted addresses in order; never any other address.
    /// Returns the connection and the vetted address it went to.
    async fn dial(&self, target: &Target, addrs: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), ConnectError> {
        let mut last_error = None;
        for &addr in addrs {
            match tokio::time::timeout(self.connect_timeout, self.dial_one(addr)).await {
                Ok(Ok(tcp)) => {
                    // Latency matters more than packet count for API calls.
                    let _ = tcp.set_nodelay(true);
                    return Ok((tcp, addr));
                }
                Ok(Err(e)) => last_error = Some(e),
                Err(_) => last_error = None,
            }
        }
        match last_error {
            Some(source) => Err(ConnectError::Unreachable { target: target.to_string(), source }),
            None => Err(ConnectError::Timeout { target: target.to_string(), after: self.connect_timeout }),
        }
    }

    async fn dial_one(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        if let Some(dialer) = &self.dialer {
            return dialer.dial(addr).await;
        }
        TcpStream::connect(addr).await
    }
}

/// A connection to a vetted address, plain or TLS.
enum EgressStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for EgressStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for EgressStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Allowlist;

    #[tokio::test]
    async fn relative_uri_is_invalid_request() {
        let client = EgressClient::new();
        let request = Request::get("/v1/items").body(Bytes::new()).unwrap();
        let e = client.send(&Policy::default(), request, SendOptions::default()).await.unwrap_err();
        assert!(matches!(e, EgressError::InvalidRequest { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn ungranted_call_denied_without_pool() {
        let client = EgressClient::new();
        let policy = Policy::new(Allowlist::parse(["https://a.example"]).unwrap(), Default::default());
        let request = Request::get("https://b.example/").body(Bytes::new()).unwrap();
        let e = client.send(&policy, request, SendOptions::default()).await.unwrap_err();
        assert_eq!(e.to_string(), "egress denied: no allow rule grants https://b.example:443");
        assert!(client.inner.pools.lock().unwrap().is_empty());
    }

    /// The homes of the pools `client` keeps for `policy`.
    fn homes(client: &EgressClient, policy: &Policy) -> Vec<Home> {
        client
            .inner
            .pools
            .lock()
            .unwrap()
            .get(policy)
            .map(|(pools, _)| pools.iter().map(|(h, _)| *h).collect())
            .unwrap_or_default()
    }

    #[test]
    fn single_threaded_runtimes_get_pools_of_their_own_and_others_share_one() {
        let client = EgressClient::new();
        let policy = Policy::new(Allowlist::parse(["https://a.example"]).unwrap(), Default::default());
        let on_own_runtime = || {
            let client = client.clone();
            let policy = policy.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                runtime.block_on(async {
                    // Twice: the second call finds the first's pool.
                    drop(client.pool_for(&policy));
                    drop(client.pool_for(&policy));
                });
                std::thread::current().id()
            })
            .join()
            .unwrap()
        };
        let (a, b) = (on_own_runtime(), on_own_runtime());
        assert_eq!(homes(&client, &policy), [Home::Thread(a), Home::Thread(b)]);
        let shared = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        for _ in 0..4 {
            let (client, policy) = (client.clone(), policy.clone());
            shared.block_on(shared.spawn(async move { drop(client.pool_for(&policy)) })).unwrap();
        }
        assert_eq!(homes(&client, &policy), [Home::Thread(a), Home::Thread(b), Home::Shared]);
        // Outside any runtime: shared too.
        drop(client.pool_for(&policy));
        assert_eq!(homes(&client, &policy).len(), 3);
        assert_eq!(client.inner.pools.lock().unwrap().len(), 1, "one policy, one entry");
    }

    #[test]
    fn default_tls_offers_http1_only() {
        assert_eq!(default_tls_config().alpn_protocols, [b"http/1.1".to_vec()]);
    }
}
