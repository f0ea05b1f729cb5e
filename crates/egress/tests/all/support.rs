//! Shared test fixtures: the decision vectors, loopback HTTP servers, and
//! resolvers and dialers that let tests observe the client without leaving
//! the machine.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use serde::Deserialize;
use sluice_egress::Dialer;
use sluice_egress::rustls;
use sluice_egress::{
    Allowlist, CheckRequest, Environment, PinnedResolver, Policy, ResolveError, Resolver, parse_subnet,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The decision vectors.
pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/egress/vectors.json");
/// Further vectors: IPv6 answers, transition forms, IDNA wildcards, ports.
pub const EXTRA_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/egress/extra-vectors.json");

/// A file of decision vectors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vectors {
    pub contexts: BTreeMap<String, VectorContext>,
    pub vectors: Vec<Vector>,
}

/// Allow rules, environment and pinned names shared by several vectors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorContext {
    pub allow: Vec<String>,
    pub subnets: Vec<String>,
    pub public: bool,
    pub resolve: BTreeMap<String, Vec<IpAddr>>,
}

/// One URL and its expected decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    pub context: String,
    pub url: String,
    pub expect: Expect,
    pub why: String,
}

/// An expected decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allow,
    Deny,
}

pub fn load_vectors(path: &str) -> Result<Vectors> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {path}"))
}

impl VectorContext {
    pub fn policy(&self) -> Result<Policy> {
        let subnets = self.subnets.iter().map(|s| parse_subnet(s)).collect::<Result<Vec<_>, _>>()?;
        Ok(Policy::new(Allowlist::parse(&self.allow)?, Environment::new(subnets, self.public)))
    }

    /// The pinned names, falling back to [`offline_resolver`].
    pub fn resolver(&self) -> Result<PinnedResolver> {
        let mut resolver = PinnedResolver::new().with_fallback(Arc::new(offline_resolver()));
        for (name, addrs) in &self.resolve {
            resolver.pin(name, addrs.iter().copied())?;
        }
        Ok(resolver)
    }

    /// What `sluice egress check` is asked for this context and `urls`.
    pub fn check_args(&self, urls: Vec<String>) -> CheckRequest {
        CheckRequest {
            allow: self.allow.clone(),
            subnets: self.subnets.clone(),
            public: self.public,
            resolve: self
                .resolve
                .iter()
                .map(|(name, addrs)| {
                    let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                    format!("{name}={}", addrs.join(","))
                })
                .collect(),
            urls,
        }
    }
}

/// What the system resolver answers on any machine without touching the
/// network: `localhost` is loopback, every other name fails.
pub fn offline_resolver() -> PinnedResolver {
    let mut resolver = PinnedResolver::new();
    let loopback: [IpAddr; 2] = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    resolver.pin("localhost", loopback).unwrap();
    resolver
}

/// A resolver whose answers change from one lookup to the next, as a
/// rebinding attacker's DNS server does; the last answer repeats.
#[derive(Debug)]
pub struct RebindingResolver {
    answers: Vec<Vec<IpAddr>>,
    lookups: AtomicUsize,
}

impl RebindingResolver {
    pub fn new(answers: &[&[&str]]) -> Self {
        let answers = answers.iter().map(|a| a.iter().map(|ip| ip.parse().unwrap()).collect()).collect();
        Self { answers, lookups: AtomicUsize::new(0) }
    }

    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Resolver for RebindingResolver {
    async fn resolve(&self, _name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let n = self.lookups.fetch_add(1, Ordering::SeqCst);
        Ok(self.answers[n.min(self.answers.len() - 1)].clone())
    }
}

/// Records every address the client dials; connects to `stand_in` instead
/// (a loopback server) or refuses.
#[derive(Debug, Default)]
pub struct RecordingDialer {
    pub stand_in: Option<SocketAddr>,
    dialed: Mutex<Vec<SocketAddr>>,
}

impl RecordingDialer {
    pub fn refusing() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn standing_in(server: SocketAddr) -> Arc<Self> {
        Arc::new(Self { stand_in: Some(server), dialed: Mutex::new(Vec::new()) })
    }

    pub fn dialed(&self) -> Vec<SocketAddr> {
        self.dialed.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.dialed.lock().unwrap().clear();
    }
}

impl Dialer for RecordingDialer {
    fn dial(&self, addr: SocketAddr) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>> {
        self.dialed.lock().unwrap().push(addr);
        let stand_in = self.stand_in;
        Box::pin(async move {
            match stand_in {
                Some(server) => TcpStream::connect(server).await,
                None => Err(io::Error::new(io::ErrorKind::ConnectionRefused, "test dialer refuses")),
            }
        })
    }
}

/// A raw HTTP/1.1 response with a body.
pub fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

type Responder = dyn Fn(&str) -> Option<String> + Send + Sync;

/// A loopback HTTP/1.1 server on port 0 that counts accepted connections,
/// and those the client has since closed.
/// The responder gets the request head and returns the raw response, or
/// `None` to hold the connection without answering. Connections are kept
/// alive unless the response says `connection: close`.
pub struct TestServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl TestServer {
    pub async fn start(respond: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let respond: Arc<Responder> = Arc::new(respond);
        let (acc, req, done) = (accepted.clone(), requests.clone(), closed.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                acc.fetch_add(1, Ordering::SeqCst);
                let (respond, req, done) = (respond.clone(), req.clone(), done.clone());
                tokio::spawn(async move {
                    serve(stream, respond, req).await;
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Self { addr, accepted, requests, closed }
    }

    /// Like [`TestServer::start`], over TLS with `config`; records the SNI
    /// name each handshake presented.
    pub async fn start_tls(
        config: Arc<rustls::ServerConfig>,
        sni: Arc<Mutex<Vec<String>>>,
        respond: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let respond: Arc<Responder> = Arc::new(respond);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let (acc, req) = (accepted.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                acc.fetch_add(1, Ordering::SeqCst);
                let (acceptor, respond, req, sni) = (acceptor.clone(), respond.clone(), req.clone(), sni.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    if let Some(name) = tls.get_ref().1.server_name() {
                        sni.lock().unwrap().push(name.to_owned());
                    }
                    serve(tls, respond, req).await;
                });
            }
        });
        Self { addr, accepted, requests, closed }
    }

    /// A server answering every request with 200 and `body`, keeping
    /// connections alive.
    pub async fn ok(body: &'static str) -> Self {
        Self::start(move |_| Some(response("200 OK", &[], body))).await
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Connections that ended, by the client's close or the server's own
    /// (plain HTTP only).
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

async fn serve(mut stream: impl AsyncRead + AsyncWrite + Unpin, respond: Arc<Responder>, requests: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let body_len = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0usize);
        while buf.len() < head_end + body_len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + body_len);
        requests.fetch_add(1, Ordering::SeqCst);
        let Some(reply) = respond(&head) else {
            // Hold the connection open, never answering.
            std::future::pending::<()>().await;
            return;
        };
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
        if reply.to_ascii_lowercase().contains("connection: close") {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// A self-signed certificate for `name`, as a server config and a client
/// config trusting only it.
pub fn tls_pair(name: &str) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    (Arc::new(server), Arc::new(client))
}

/// A private CA and a server certificate for `name` it signed: the
/// server's TLS config, and the CA certificate as PEM.
pub fn private_ca_pair(name: &str) -> (Arc<rustls::ServerConfig>, String) {
    use base64::Engine as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Contoso Internal CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap().signed_by(&leaf_key, &issuer).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key.into())
        .unwrap();
    let base64 = base64::engine::general_purpose::STANDARD.encode(ca.der());
    let lines: Vec<&str> = base64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"));
    (Arc::new(server), pem)
}
