//! The gateway end to end on loopback: what custom code does to a real
//! operation's throughput, latency and CPU, what the gateway without code
//! costs beside nginx, and what thousands of calls in flight cost.
//!
//! Targets, each a real HTTP server on 127.0.0.1: the operation with the
//! canonical transform as code (`items-transform`, `ListItems`), the same
//! operation without code (`items-plain`), the backend called directly, and
//! nginx (Debian's package, when installed) proxying that backend. The load
//! generator runs in this process (tokio + hyper, one pooled client, N tasks
//! each sending requests back to back), as do the gateway and the backend:
//! on a 2-core machine they share the cores, so the figures are a floor for
//! a dedicated gateway. The same runs are repeated, at concurrency 1 and
//! 32, with every part in a process of its own: wrk (Debian's package, when
//! installed) as the generator, this process as the gateway, and the
//! backend in a child process; there the CPU per request is the gateway's
//! alone (nginx's alone in its row), as a deployment would see it.
//! `SLUICE_BENCH_WORKERS=N` sets the gateway's `[requests] workers` (0: the
//! connections served on this process's runtime).
//!
//! Each load run also reports CPU time per request (user and system, every
//! thread of this process, plus nginx's process in its row): with the cores
//! shared, that is what each path costs the machine, and it is steadier
//! than throughput between runs. The allocator is mimalloc, as in the
//! `sluice` binary. The CPU per request is also drawn against concurrency,
//! 1 to 1,000 (`docs/bench/gateway-concurrency.svg`).
//!
//! Every request carries a caller: the code path is measured twice, with an
//! API key and with an OpenID Connect token of a local issuer (verified
//! once, then remembered); and what authentication and the authorization
//! decision cost is measured in process, in CPU per call.
//!
//! Then 1,000 and 5,000 calls of code in flight behind a backend that
//! answers in 3 s, alone and with a process spinning on one core: their
//! latencies as their clients see them, and the gateway's memory (clients
//! and backend are child processes). Last, how late 256 and 1,000 calls are
//! answered when all of them reach a 1 s deadline at once.
//!
//! Run: `cargo bench --bench gateway` (`-- --quick`, or
//! `SLUICE_BENCH_QUICK=1`, for a smoke run). `SLUICE_BENCH_INSTRUCTIONS=1`
//! counts instructions per request under callgrind instead (see
//! [`instructions`]); `SLUICE_BENCH_MODE` runs one part alone (see [`Mode`]).

mod plot;

/// The gateway binary's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use cpu_time::ProcessTime;
use criterion::Criterion;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sluice_gateway::access::DEFAULT_ENVIRONMENT;
use sluice_gateway::config::{
    AccessConfig, ConnectionConfig, GatewayConfig, IssuerConfig, MemberConfig, RequestLimits, RuntimeSettings,
    ValueSource,
};
use sluice_gateway::{Gateway, GatewayOptions};

/// Where `sluice-test-programs` put the guest components.
const GUEST_DIR: &str = sluice_test_programs::COMPONENT_DIR;
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/items-transform");
const API_KEY: &str = "bench-key";

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn quick() -> bool {
    std::env::args().any(|a| a == "--quick") || std::env::var_os("SLUICE_BENCH_QUICK").is_some()
}

fn items() -> Bytes {
    let items: Vec<serde_json::Value> =
        (1..=20).map(|i| serde_json::json!({"id": i, "name": format!("item{i}"), "ok": true})).collect();
    Bytes::from(serde_json::to_vec(&items).expect("json"))
}

async fn start_backend() -> SocketAddr {
    let body = items();
    let slow = body.clone();
    let app = Router::new()
        .route(
            "/v1/items",
            get(move || {
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        )
        .route(
            "/v1/slow/items",
            get(move || {
                let body = slow.clone();
                async move {
                    tokio::time::sleep(SLOW_BACKEND).await;
                    ([("content-type", "application/json")], body)
                }
            }),
        );
    let listener = listen_deep();
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("backend") });
    address
}

/// This bench again, as a child told its part by `mode` (`SLUICE_BENCH_MODE`),
/// run by `wrapper` (valgrind and its options) when there is one.
fn bench_child(wrapper: &[String], mode: &str) -> std::process::Command {
    let exe = std::env::current_exe().expect("the bench's path");
    let mut command = match wrapper.split_first() {
        Some((program, options)) => {
            let mut command = std::process::Command::new(program);
            command.args(options).arg(exe);
            command
        }
        None => std::process::Command::new(exe),
    };
    command.arg("--bench").env("SLUICE_BENCH_MODE", mode).env_remove("SLUICE_BENCH_INSTRUCTIONS");
    command
}

/// The backend in a process of its own (this bench, `SLUICE_BENCH_MODE=backend`),
/// and its address; it ends when the child handle is dropped (its standard
/// input closes).
fn spawn_backend() -> (BackendProcess, SocketAddr) {
    use std::io::BufRead as _;
    let mut child = bench_child(&[], "backend")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the backend process");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("its stdout");
    std::io::BufReader::new(stdout).read_line(&mut line).expect("its address");
    let address = line.trim().parse().unwrap_or_else(|_| panic!("the backend printed `{line}`"));
    (BackendProcess(child), address)
}

/// The backend's process, stopped when dropped.
struct BackendProcess(std::process::Child);

impl Drop for BackendProcess {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// [`Mode::Backend`]: serves until standard input closes.
fn serve_backend() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let address = rt.block_on(start_backend());
    println!("{address}");
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}

/// A listener on loopback whose queue holds thousands of connections
/// arriving at once (tokio's `bind` asks for 1,024; the kernel caps it at
/// `net.core.somaxconn`): the in-flight runs open that many.
fn listen_deep() -> tokio::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    socket.listen(8192).expect("listen")
}

/// Writes a copy of the example package pointing at `backend`, with or without code.
fn write_package(dir: &Path, name: &str, backend: SocketAddr, base_path: &str, with_code: bool, settings: &str) {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).expect("package dir");
    let definition = std::fs::read(format!("{EXAMPLE}/apiDefinition.swagger.json")).expect("definition");
    let mut definition: serde_json::Value = serde_json::from_slice(&definition).expect("json");
    definition["host"] = serde_json::json!(backend.to_string());
    definition["schemes"] = serde_json::json!(["http"]);
    definition["basePath"] = serde_json::json!(base_path);
    std::fs::write(folder.join("apiDefinition.swagger.json"), serde_json::to_vec(&definition).expect("json"))
        .expect("write");
    std::fs::copy(format!("{EXAMPLE}/apiProperties.json"), folder.join("apiProperties.json")).expect("properties");
    if with_code {
        std::fs::copy(format!("{GUEST_DIR}/items_transform.wasm"), folder.join("script.wasm")).expect("script");
    }
    std::fs::write(folder.join("sluice.toml"), settings).expect("settings");
}

/// The deadline of the `items-deadline` connector.
const DEADLINE: Duration = Duration::from_secs(1);

/// The admin's API key, sent with every request to the gateway but the
/// OpenID Connect target's.
static CALLER_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The local OpenID Connect issuer: its base URL, and a token of the
/// subject `ops` (an admin) it signed.
struct Issuer {
    base: String,
    token: String,
}

/// Starts an issuer on loopback with a fresh P-256 key: its discovery
/// document and JWKS, and one token valid for an hour.
async fn start_issuer() -> Issuer {
    use base64::Engine as _;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("key");
    let point = pair.public_key().as_ref();
    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
        "x": b64(&point[1..33]), "y": b64(&point[33..65])});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind issuer");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let discovery = serde_json::json!({"issuer": base, "jwks_uri": format!("{base}/keys")});
    let keys = serde_json::json!({"keys": [jwk]});
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(move || async move { axum::Json(discovery) }))
        .route("/keys", get(move || async move { axum::Json(keys) }));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("issuer") });
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let claims =
        serde_json::json!({"iss": base, "aud": "api://bench", "sub": "ops", "exp": now + 3600, "nbf": now - 5});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let token =
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref())).expect("token");
    Issuer { base, token }
}

/// A gateway serving the packages in `dir`, `calls` calls of code in flight at most.
async fn start_gateway(dir: &Path, issuer: &Issuer, calls: u32) -> (SocketAddr, Gateway) {
    let connection = |connector: &str| ConnectionConfig {
        id: "c".into(),
        connector: connector.into(),
        owner: None,
        environment: None,
        parameter_set: None,
        parameters: [("api_key".to_string(), ValueSource::Literal(API_KEY.into()))].into_iter().collect(),
    };
    let listener = listen_deep();
    let address = listener.local_addr().expect("address");
    let config = GatewayConfig {
        listen: address,
        packages: dir.to_path_buf(),
        environment: Default::default(),
        // 5,000 calls in flight, past the defaults (1,000 calls of code in
        // all, 250 per connector, 4,096 connections).
        requests: RequestLimits {
            max_connections: 16_384,
            workers: std::env::var("SLUICE_BENCH_WORKERS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(RequestLimits::default().workers),
            ..Default::default()
        },
        runtime: RuntimeSettings {
            max_concurrent_calls: calls,
            max_calls_per_connector: calls,
            // Compiled once for every run of the bench: the instruction
            // count's runs under valgrind load it rather than compile it.
            cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-compiled")),
            ..Default::default()
        },
        connections: [
            "items-transform",
            "items-plain",
            "items-apart",
            "items-apart-plain",
            "items-remote",
            "items-slow",
            "items-deadline",
        ]
        .map(connection)
        .to_vec(),
        public_url: None,
        metrics_listen: None,
        access: AccessConfig {
            issuers: vec![IssuerConfig {
                name: "bench".into(),
                issuer: issuer.base.clone(),
                audience: vec!["api://bench".into()],
                jwks_uri: None,
                algorithms: vec![jsonwebtoken::Algorithm::ES256],
                subject_claim: "sub".into(),
                groups_claim: None,
                leeway: Duration::from_secs(60),
                jwks_max_age: Duration::from_secs(3600),
                jwks_refetch_after: Duration::from_secs(60),
                console: None,
            }],
            members: vec![MemberConfig { principal: "bench:ops".into(), role: "admin".into() }],
            owners: Default::default(),
        },
        environments: Vec::new(),
        store: Default::default(),
        telemetry: Default::default(),
        oauth: None,
        state_dir: None,
    };
    let gateway =
        Gateway::start(config, GatewayOptions { grant_loopback: true, ..Default::default() }).await.expect("gateway");
    let (_, failed) = gateway.default_environment().registry().status();
    assert!(failed.is_empty(), "{failed:?}");
    let issued = gateway.access().bootstrap_admin("bench", "Bench", "bench").await.expect("admin key");
    CALLER_KEY.set(issued.key).expect("one gateway");
    let serving = gateway.clone();
    tokio::spawn(async move {
        sluice_gateway::server::serve_gateway(listener, serving, std::future::pending()).await.expect("gateway serves")
    });
    (address, gateway)
}

/// The admin's API key, as an `Authorization` value.
fn admin_key() -> String {
    format!("Bearer {}", CALLER_KEY.get().expect("gateway started"))
}

/// The time to a 200, body included; anything else ends the bench.
async fn fetch(client: &HttpClient, url: &str, authorization: &str) -> Duration {
    try_fetch(client, url, authorization, http::StatusCode::OK).await.unwrap_or_else(|error| panic!("{url}: {error}"))
}

/// The time to an answer of `expected` status, body included, or what came
/// instead.
async fn try_fetch(
    client: &HttpClient,
    url: &str,
    authorization: &str,
    expected: http::StatusCode,
) -> Result<Duration, String> {
    let started = Instant::now();
    let request = http::Request::get(url)
        .header("x-api-key", API_KEY)
        .header("authorization", authorization)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    if status != expected {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(started.elapsed())
}

/// `calls` requests to `url` at once, each a task answering its time to an
/// `expected` answer, or what came instead.
fn spawn_fetches(
    client: &HttpClient,
    url: &str,
    authorization: &str,
    calls: usize,
    expected: http::StatusCode,
) -> Vec<tokio::task::JoinHandle<Result<Duration, String>>> {
    (0..calls)
        .map(|_| {
            let (client, url, authorization) = (client.clone(), url.to_string(), authorization.to_string());
            tokio::spawn(async move { try_fetch(&client, &url, &authorization, expected).await })
        })
        .collect()
}

/// The `q` quantile of `sorted` (not empty).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// Requests per second, latency percentiles and CPU time per request at a concurrency.
#[derive(Debug, Clone, Copy)]
struct Load {
    rps: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_request: Duration,
}

async fn load(client: &HttpClient, url: &str, authorization: &str, concurrency: usize, duration: Duration) -> Load {
    load_counting(client, url, authorization, concurrency, duration, None).await
}

/// The CPU time this process has spent since a start, and nginx's process
/// too when it is between the generator and the backend.
struct CpuMeter<'a> {
    process: ProcessTime,
    nginx: Option<(&'a Nginx, Duration)>,
}

impl<'a> CpuMeter<'a> {
    fn start(nginx: Option<&'a Nginx>) -> Self {
        Self { process: ProcessTime::now(), nginx: nginx.map(|nginx| (nginx, nginx.cpu())) }
    }

    fn elapsed(&self) -> Duration {
        let nginx = self.nginx.map_or(Duration::ZERO, |(nginx, before)| nginx.cpu().saturating_sub(before));
        self.process.elapsed() + nginx
    }
}

/// [`load`], with the CPU time of `other`, a process of its own between
/// the generator and the backend (nginx), added to this process's.
async fn load_counting(
    client: &HttpClient,
    url: &str,
    authorization: &str,
    concurrency: usize,
    duration: Duration,
    other: Option<&Nginx>,
) -> Load {
    // Warm the connection pool and the instance pool first.
    for _ in 0..concurrency.max(8) {
        fetch(client, url, authorization).await;
    }
    let started = Instant::now();
    let cpu = CpuMeter::start(other);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let (url, authorization) = (url.to_string(), authorization.to_string());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < duration {
                    latencies.push(fetch(&client, &url, &authorization).await);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("load task"));
    }
    let elapsed = started.elapsed();
    let cpu_per_request = cpu.elapsed() / u32::try_from(latencies.len()).expect("request count");
    latencies.sort();
    let at = |q| quantile(&latencies, q);
    Load { rps: latencies.len() as f64 / elapsed.as_secs_f64(), p50: at(0.50), p99: at(0.99), cpu_per_request }
}

fn resident_bytes() -> u64 {
    proc_self_bytes("status", "VmRSS:")
}

/// This process's proportional set size: its resident memory with each
/// page shared with other mappings or processes counted as its share.
/// Where `VmRSS` counts a file page once for every mapping of it (the
/// code's data image is mapped once per pool slot), this counts it once.
/// The kernel walks every mapping to answer, so it is read once per run,
/// not sampled.
fn proportional_bytes() -> u64 {
    proc_self_bytes("smaps_rollup", "Pss:")
}

/// The `field` of `/proc/self/<file>`, in bytes (0 if unreadable).
fn proc_self_bytes(file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// What one run of this bench does, from `SLUICE_BENCH_MODE`.
enum Mode {
    /// Every measurement (no `SLUICE_BENCH_MODE`).
    All,
    /// `load:<target>:<concurrency>:<seconds>`: one load run and nothing
    /// else, for a profiler attached to the process.
    Load { target: String, concurrency: usize, duration: Duration },
    /// `count:<target>:<requests>`: exactly so many requests, for callgrind
    /// ([`instructions`] runs the bench so).
    Count { target: String, requests: usize },
    /// `backend`: only the backend, in a process of its own, until its
    /// standard input closes ([`spawn_backend`] runs the bench so).
    Backend,
    /// `inflight:<calls>`: only the in-flight runs, alone and with the hog.
    InFlight { calls: usize },
    /// `clients:<gateway>:<calls>`: the clients of an in-flight run, in a
    /// process of their own ([`in_flight`] runs the bench so).
    Clients { gateway: SocketAddr, calls: usize },
    /// `apart:<concurrency>:<seconds>`: only the runs with generator,
    /// gateway and backend each in a process of its own ([`apart`]).
    Apart { concurrency: usize, duration: Duration },
}

fn mode() -> Mode {
    let Ok(mode) = std::env::var("SLUICE_BENCH_MODE") else { return Mode::All };
    let parts: Vec<&str> = mode.split(':').collect();
    let number = |text: &str| text.parse::<usize>().expect("SLUICE_BENCH_MODE: a number");
    match parts.as_slice() {
        ["load", target, concurrency, seconds] => Mode::Load {
            target: target.to_string(),
            concurrency: number(concurrency),
            duration: Duration::from_secs(number(seconds) as u64),
        },
        ["count", target, requests] => Mode::Count { target: target.to_string(), requests: number(requests) },
        ["backend"] => Mode::Backend,
        ["inflight", calls] => Mode::InFlight { calls: number(calls) },
        ["apart", concurrency, seconds] => {
            Mode::Apart { concurrency: number(concurrency), duration: Duration::from_secs(number(seconds) as u64) }
        }
        ["clients", host, port, calls] => Mode::Clients {
            gateway: format!("{host}:{port}").parse().expect("SLUICE_BENCH_MODE: the gateway's address"),
            calls: number(calls),
        },
        _ => panic!(
            "SLUICE_BENCH_MODE: `load:<target>:<concurrency>:<seconds>`, `count:<target>:<requests>`, `inflight:<calls>`, `apart:<concurrency>:<seconds>`, `backend` or `clients:<gateway>:<calls>`"
        ),
    }
}

/// Tasks sending requests at once in the instruction count: enough to keep
/// the gateway's own concurrency in play, few enough for valgrind, which
/// runs one thread at a time.
const COUNT_CONCURRENCY: usize = 4;

/// Exactly `requests` requests to `url`, `COUNT_CONCURRENCY` at a time,
/// after the warm-up every load run has.
async fn count(client: &HttpClient, url: &str, authorization: &str, requests: usize) {
    for _ in 0..COUNT_CONCURRENCY {
        fetch(client, url, authorization).await;
    }
    let left = Arc::new(std::sync::atomic::AtomicUsize::new(requests));
    let tasks: Vec<_> = (0..COUNT_CONCURRENCY)
        .map(|_| {
            let (client, left) = (client.clone(), Arc::clone(&left));
            let (url, authorization) = (url.to_string(), authorization.to_string());
            tokio::spawn(async move {
                while left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                    fetch(&client, &url, &authorization).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("count task");
    }
}

/// Instructions per request, counted by callgrind: for each target, the
/// bench runs twice under valgrind, once with `n` requests and once with
/// `2n`, and the difference over `n` is what one request costs, start-up
/// and warm-up cancelled out. Instruction counts do not depend on what else
/// the machine is doing, so two revisions compare without the noise of
/// timings (`SLUICE_BENCH_INSTRUCTIONS=1 cargo bench --bench gateway`).
fn instructions() {
    let requests: usize = std::env::var("SLUICE_BENCH_REQUESTS").ok().and_then(|n| n.parse().ok()).unwrap_or(400);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("callgrind");
    std::fs::create_dir_all(&out).expect("callgrind folder");
    let run = |target: &str, n: usize| -> Count {
        let file = out.join(format!("callgrind.out.{target}.{n}"));
        let valgrind = [
            "valgrind".to_string(),
            "--tool=callgrind".to_string(),
            format!("--callgrind-out-file={}", file.display()),
            // wasmtime writes the code it compiled, then runs it.
            "--smc-check=all-non-file".to_string(),
        ];
        let output = bench_child(&valgrind, &format!("count:{target}:{n}"))
            .output()
            .expect("valgrind runs (Debian's package `valgrind`)");
        assert!(output.status.success(), "valgrind: {}", String::from_utf8_lossy(&output.stderr));
        let text = std::fs::read_to_string(&file).expect("callgrind's output");
        let total = text
            .lines()
            .find_map(|line| line.strip_prefix("totals:").or_else(|| line.strip_prefix("summary:")))
            .and_then(|total| total.split_whitespace().next()?.parse().ok())
            .expect("callgrind's total");
        Count { total, compiled: compiled_code_instructions(&text) }
    };
    println!(
        "instructions per request, by callgrind ({requests} and {} requests, {COUNT_CONCURRENCY} at a time; generator, gateway and backend in one process)",
        2 * requests
    );
    let mut per_request = std::collections::HashMap::new();
    for target in ["code", "no_code", "direct"] {
        // The two runs of a target side by side: valgrind runs one thread at a time.
        let (once, twice) = std::thread::scope(|scope| {
            let twice = scope.spawn(|| run(target, 2 * requests));
            (run(target, requests), twice.join().expect("valgrind run"))
        });
        let instructions = twice.total.saturating_sub(once.total) / requests as u64;
        let compiled = twice.compiled.saturating_sub(once.compiled) / requests as u64;
        println!(
            "{target:<10} {instructions:>10} instructions per request, {compiled} of them in the guest's compiled code"
        );
        per_request.insert(target, (instructions, compiled));
    }
    let (code, guest) = per_request["code"];
    let (no_code, _) = per_request["no_code"];
    let (direct, _) = per_request["direct"];
    let added = code.saturating_sub(no_code);
    println!(
        "code adds {added} instructions per request over no code ({guest} in the guest's compiled code, {} in the host); the gateway without code adds {} over the backend directly",
        added.saturating_sub(guest),
        no_code.saturating_sub(direct)
    );
    println!("profiles: callgrind_annotate --inclusive=yes {}/callgrind.out.<target>.<requests>", out.display());
}

/// What callgrind counted in one run.
struct Count {
    /// Every instruction of the process.
    total: u64,
    /// Those of the code wasmtime compiled from the guest (fuel and epoch
    /// checks included): the only code in the process with no object file.
    compiled: u64,
}

/// The instructions callgrind counted in code with no object file behind
/// it, which in this bench is what wasmtime compiled and wrote to memory
/// (callgrind names that object `???`). Reads the format's own lines: `ob=`
/// and `cob=` name objects (once, then by number), `ob=` sets the object of
/// the functions that follow, and the cost line after a `calls=` line is a
/// call's inclusive cost, counted in the callee's own lines.
fn compiled_code_instructions(text: &str) -> u64 {
    let mut objects = std::collections::HashMap::new();
    let mut name_object = |spec: &str| -> bool {
        let (id, name) = spec.split_once(' ').map_or((spec, None), |(id, name)| (id, Some(name)));
        if let Some(name) = name {
            objects.insert(id.to_string(), name == "???");
        }
        objects.get(id).copied().unwrap_or(false)
    };
    let (mut in_compiled, mut call_cost_next, mut total) = (false, false, 0u64);
    for line in text.lines() {
        if let Some(spec) = line.strip_prefix("ob=") {
            in_compiled = name_object(spec);
        } else if let Some(spec) = line.strip_prefix("cob=") {
            name_object(spec);
        } else if line.starts_with("calls=") {
            call_cost_next = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '*')) {
            if std::mem::take(&mut call_cost_next) {
                continue;
            }
            if in_compiled {
                total += line.split_whitespace().last().and_then(|cost| cost.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    total
}

fn main() {
    let mode = mode();
    // A child of this bench is told what it is by its mode alone.
    match mode {
        Mode::Backend => return serve_backend(),
        Mode::Clients { gateway, calls } => return clients(gateway, calls),
        _ => {}
    }
    if std::env::var_os("SLUICE_BENCH_INSTRUCTIONS").is_some() {
        return instructions();
    }
    // Three descriptors per call in flight here (client, gateway, egress).
    let files = rlimit::increase_nofile_limit(u64::MAX).expect("the open-file limit");
    assert!(files >= 16_000, "5,000 calls in flight need 16,000 open files; the limit is {files}");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let dir = tempfile::tempdir().expect("temp dir");
    // The backend of the in-flight runs answers from a process of its own:
    // in this one, 5,000 calls in flight would hold four descriptors each.
    let remote_backend = matches!(mode, Mode::All | Mode::InFlight { .. } | Mode::Apart { .. }).then(spawn_backend);
    let ((gateway, service), backend, issuer) = rt.block_on(async {
        let backend = start_backend().await;
        let remote = remote_backend.as_ref().map_or(backend, |(_, remote)| *remote);
        write_package(dir.path(), "items-transform", backend, "/v1", true, "");
        write_package(dir.path(), "items-plain", backend, "/v1", false, "");
        // The same two in front of the backend's own process, for the runs
        // with every part in a process of its own.
        write_package(dir.path(), "items-apart", remote, "/v1", true, "");
        write_package(dir.path(), "items-apart-plain", remote, "/v1", false, "");
        // Without code, as slow: the in-flight runs open their connections with it.
        write_package(dir.path(), "items-remote", remote, "/v1/slow", false, "");
        // The default deadline, 5 s: 2 s of slack over the slow backend.
        write_package(dir.path(), "items-slow", remote, "/v1/slow", true, "");
        let deadline = format!("[limits]\ndeadline = \"{}ms\"\n", DEADLINE.as_millis());
        write_package(dir.path(), "items-deadline", backend, "/v1/slow", true, &deadline);
        let issuer = start_issuer().await;
        // Under valgrind, whose address space is far smaller than the
        // pool's reservation for 5,000 calls, a pool for the count's calls.
        let calls = if matches!(mode, Mode::Count { .. }) { COUNT_CONCURRENCY as u32 } else { 5000 };
        (start_gateway(dir.path(), &issuer, calls).await, backend, issuer)
    });
    let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(8192).build_http();
    let oidc = format!("Bearer {}", issuer.token);
    let targets = [
        ("code", format!("http://{gateway}/apim/items-transform/c/items"), admin_key()),
        ("code_oidc", format!("http://{gateway}/apim/items-transform/c/items"), oidc.clone()),
        ("no_code", format!("http://{gateway}/apim/items-plain/c/items"), admin_key()),
        ("direct", format!("http://{backend}/v1/items"), admin_key()),
    ];
    let target = |name: &str| {
        let (_, url, authorization) = targets.iter().find(|(n, _, _)| *n == name).expect("a known target");
        (url.clone(), authorization.clone())
    };
    match mode {
        Mode::All | Mode::Backend | Mode::Clients { .. } => {}
        Mode::Load { target: name, concurrency, duration } => {
            let (url, authorization) = target(&name);
            let result = rt.block_on(load(&client, &url, &authorization, concurrency, duration));
            println!("{name} at {concurrency}: {result:?}");
            return;
        }
        Mode::Apart { concurrency, duration } => {
            let remote = remote_backend.as_ref().map(|(_, remote)| *remote).expect("the backend's process");
            let nginx = Nginx::start(remote).map_err(|why| println!("no nginx: {why}")).ok();
            apart(gateway, remote, nginx.as_ref(), &[concurrency], duration);
            return;
        }
        Mode::InFlight { calls } => {
            for (slots, hog) in BURSTS {
                println!("{calls} in flight, {slots} slots, hog {hog}: {:?}", in_flight(gateway, calls, hog));
            }
            return;
        }
        Mode::Count { target: name, requests } => {
            let (url, authorization) = target(&name);
            rt.block_on(count(&client, &url, &authorization, requests));
            return;
        }
    }

    // Latency of one request at a time, measured by criterion.
    let mut criterion = Criterion::default().configure_from_args();
    if quick() {
        criterion =
            criterion.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(10);
    }
    {
        let mut group = criterion.benchmark_group("gateway_request");
        for (name, url, authorization) in &targets {
            group.bench_function(*name, |b| b.to_async(&rt).iter(|| fetch(&client, url, authorization)));
        }
        group.finish();
    }
    let access = service.access();
    let check = |authorization: String| {
        let access = Arc::clone(access);
        async move {
            let caller = access.authenticate(Some(authorization.as_bytes())).await.expect("authenticates");
            let directory = access.member_directory(&caller, DEFAULT_ENVIRONMENT).expect("a member");
            directory.may_call(&caller, "items-transform", "c").expect("may call");
            caller
        }
    };
    {
        // What authentication and the authorization decision cost a call,
        // in process: the credential checked (an API key against the
        // snapshot; a token already verified, from the cache), then the
        // environment's snapshot and `may_call` on it, as a request does.
        let mut group = criterion.benchmark_group("access");
        group.bench_function("api_key", |b| b.to_async(&rt).iter(|| check(admin_key())));
        group.bench_function("oidc_cached", |b| b.to_async(&rt).iter(|| check(oidc.clone())));
        group.finish();
    }
    criterion.final_summary();

    // Throughput and tail latency at concurrency 1 and 32, and nginx in
    // front of the same backend when it is installed.
    let nginx = Nginx::start(backend).map_err(|why| println!("\nno nginx beside the gateway: {why}")).ok();
    let nginx_url = nginx.as_ref().map(|nginx| format!("http://{}/v1/items", nginx.address));
    let duration = if quick() { Duration::from_secs(1) } else { Duration::from_secs(5) };
    println!(
        "\ngateway load on loopback ({duration:?} per run; generator, gateway and backend share this process; nginx's own CPU is added to its row)"
    );
    println!("{:<10} {:>5} {:>10} {:>10} {:>10} {:>12}", "target", "conc", "req/s", "p50", "p99", "cpu/request");
    let mut results = std::collections::HashMap::new();
    // nginx, for its own row: its process's CPU counts there.
    let in_front = |name: &str| if name == "nginx" { nginx.as_ref() } else { None };
    let mut rows: Vec<(&str, String, String)> = targets.to_vec();
    if let Some(url) = &nginx_url {
        rows.push(("nginx", url.clone(), admin_key()));
    }
    for concurrency in [1, 32] {
        for (name, url, authorization) in &rows {
            let result = rt.block_on(load_counting(&client, url, authorization, concurrency, duration, in_front(name)));
            println!(
                "{name:<10} {concurrency:>5} {:>10.0} {:>10.1?} {:>10.1?} {:>12.1?}",
                result.rps, result.p50, result.p99, result.cpu_per_request
            );
            results.insert((*name, concurrency), result);
        }
    }
    for concurrency in [1, 32] {
        let code = results[&("code", concurrency)];
        let plain = results[&("no_code", concurrency)];
        println!(
            "ratio at {concurrency:>2}: code / no-code throughput {:.2} (target ≥ 0.70); code adds {:.2?} at p99 and {:.1?} of CPU per request (target ≤ 25 µs at 32)",
            code.rps / plain.rps,
            code.p99.saturating_sub(plain.p99),
            code.cpu_per_request.saturating_sub(plain.cpu_per_request)
        );
        let direct = results[&("direct", concurrency)].cpu_per_request;
        let gateway_adds = plain.cpu_per_request.saturating_sub(direct);
        if let Some(nginx) = results.get(&("nginx", concurrency)) {
            let nginx_adds = nginx.cpu_per_request.saturating_sub(direct);
            println!(
                "          no code: the gateway adds {gateway_adds:.1?} of CPU per request over the backend directly, nginx {nginx_adds:.1?}: {:.2}× nginx (target ≤ 1.5×)",
                gateway_adds.as_secs_f64() / nginx_adds.as_secs_f64()
            );
        }
    }

    // The same with every part in a process of its own: wrk, the gateway
    // (this process) and the backend (a child), so that neither generator
    // nor backend is billed to the gateway or shares its threads.
    if let Some((_, remote)) = &remote_backend {
        let nginx = Nginx::start(*remote).map_err(|why| println!("\nno nginx beside the gateway: {why}")).ok();
        apart(gateway, *remote, nginx.as_ref(), &[1, 32], duration);
    }

    // Gateway CPU per request against concurrency: each target's CPU per
    // request less the backend's alone at the same concurrency, drawn for
    // the README.
    let levels = [1, 4, 16, 64, 256, 1000];
    let step = if quick() { Duration::from_secs(1) } else { Duration::from_secs(3) };
    println!(
        "\ngateway CPU per request against concurrency ({step:?} per point; each target's CPU per request less the backend's alone)"
    );
    println!("{:>6} {:>12} {:>12} {:>12} {:>12} {:>10}", "conc", "direct", "no code", "code", "nginx", "code req/s");
    let mut curves: Vec<(&str, Vec<(f64, f64)>)> = vec![("with code", Vec::new()), ("without code", Vec::new())];
    if nginx.is_some() {
        curves.push(("nginx, proxying", Vec::new()));
    }
    for concurrency in levels {
        let at = |name: &str| {
            let (url, authorization) = match name {
                "nginx" => (nginx_url.clone().unwrap_or_default(), admin_key()),
                other => target(other),
            };
            rt.block_on(load_counting(&client, &url, &authorization, concurrency, step, in_front(name)))
        };
        let direct = at("direct");
        let plain = at("no_code");
        let code = at("code");
        let proxied = nginx.is_some().then(|| at("nginx"));
        let adds = |load: &Load| load.cpu_per_request.saturating_sub(direct.cpu_per_request);
        let micros = |load: &Load| adds(load).as_secs_f64() * 1e6;
        println!(
            "{concurrency:>6} {:>12.1?} {:>12.1?} {:>12.1?} {:>12} {:>10.0}",
            direct.cpu_per_request,
            adds(&plain),
            adds(&code),
            proxied.as_ref().map_or("-".to_string(), |load| format!("{:.1?}", adds(load))),
            code.rps
        );
        curves[0].1.push((concurrency as f64, micros(&code)));
        curves[1].1.push((concurrency as f64, micros(&plain)));
        if let Some(load) = &proxied {
            curves[2].1.push((concurrency as f64, micros(load)));
        }
    }
    // A quick run's chart goes under target/tmp, leaving the README's alone.
    let chart = if quick() {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("gateway-concurrency.svg")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/bench/gateway-concurrency.svg")
    };
    let mut drawing = plot::LineChart::new("Gateway CPU per request over the backend's, against concurrency")
        .x(plot::Axis::log("requests in flight").ticks(levels.map(|level| level as f64)))
        .y(plot::Axis::linear("CPU per request over the backend alone (µs)"));
    for (name, points) in curves {
        drawing = drawing.series(name, points);
    }
    drawing.write_svg(&chart).expect("the concurrency chart");
    println!("chart: {}", chart.display());

    // Authentication and the decision, in CPU per call, against the code
    // path's CPU per request measured above.
    let calls = if quick() { 20_000 } else { 200_000 };
    for (name, authorization) in [("API key", admin_key()), ("OIDC token (cached)", oidc.clone())] {
        let cpu = ProcessTime::now();
        rt.block_on(async {
            for _ in 0..calls {
                check(authorization.clone()).await;
            }
        });
        let per_call = cpu.elapsed() / calls;
        let code = results[&("code", 32)].cpu_per_request;
        println!(
            "authentication and decision, {name}: {per_call:.2?} of CPU per call, {:.2}% of the code path's {code:.1?} per request at 32",
            100.0 * per_call.as_secs_f64() / code.as_secs_f64()
        );
    }

    // Calls of code in flight against a backend that answers in 3 s, alone
    // and with a CPU hog on one core: how late, and how much memory.
    println!(
        "\n{SLOW_BACKEND:?} backend, calls of code in flight at once (as their clients, a process of their own, see them; resident memory of this process, the gateway's, before and at its peak, sampled every 50 ms, and its proportional set size once every call is in)"
    );
    println!(
        "{:>6} {:>5} {:>5} {:>8} {:>11} {:>10} {:>10} {:>10} {:>11} {:>11} {:>11}",
        "calls", "slots", "hog", "failed", "p50", "p90", "p99", "max", "RSS before", "peak RSS", "PSS, all in"
    );
    for calls in [1000, 5000] {
        for (slots, hog) in BURSTS {
            let result = in_flight(gateway, calls, hog);
            println!(
                "{calls:>6} {slots:>5} {:>5} {:>8} {:>8} ms {:>7} ms {:>7} ms {:>7} ms {:>7.0} MiB {:>7.0} MiB {:>7.0} MiB",
                if hog { "yes" } else { "no" },
                result.failed,
                result.p50.as_millis(),
                result.p90.as_millis(),
                result.p99.as_millis(),
                result.max.as_millis(),
                result.before as f64 / (1 << 20) as f64,
                result.peak_rss as f64 / (1 << 20) as f64,
                result.pss_in_flight as f64 / (1 << 20) as f64
            );
        }
    }
    // Calls reaching their deadline together: how late, after it, their
    // clients have the 504 (256 at once as in the review that found answers
    // 420 ms late, then 1,000).
    for calls in [256, 1000] {
        let mut late = rt.block_on(deadline_lateness(&client, gateway, calls));
        late.sort();
        let at = |q| quantile(&late, q);
        println!(
            "{calls} calls past a {DEADLINE:?} deadline at once, answered 504 after it by: p50 {:.1?}, p99 {:.1?}, max {:.1?}",
            at(0.50),
            at(0.99),
            late[late.len() - 1]
        );
    }
}

/// How long after the deadline each of `calls` concurrent calls to the
/// `items-deadline` connector had its 504, timed by its client. The client
/// first opens its connections (with as many calls without code at once),
/// so that what is timed is the gateway's, not connection set-up.
async fn deadline_lateness(client: &HttpClient, gateway: SocketAddr, calls: usize) -> Vec<Duration> {
    let plain = format!("http://{gateway}/apim/items-plain/c/items");
    for call in spawn_fetches(client, &plain, &admin_key(), calls, http::StatusCode::OK) {
        call.await.expect("opening call").unwrap_or_else(|error| panic!("{plain}: {error}"));
    }
    let url = format!("http://{gateway}/apim/items-deadline/c/items");
    let tasks = spawn_fetches(client, &url, &admin_key(), calls, http::StatusCode::GATEWAY_TIMEOUT);
    let mut late = Vec::new();
    for task in tasks {
        let time = task.await.expect("deadline call").unwrap_or_else(|error| panic!("{url}: {error}"));
        late.push(time.saturating_sub(DEADLINE));
    }
    late
}

/// How long the slow backend takes to answer.
const SLOW_BACKEND: Duration = Duration::from_secs(3);

/// The in-flight bursts of each size, in order: the first mostly on pool
/// slots this code has not run in yet (each such call maps the code's
/// memory image into its slot and faults its pages in, as in a gateway's
/// first burst of a connector; of 5,000, the bursts of 1,000 before have
/// warmed 1,000), then the same again on the slots it left warm, alone
/// and with the hog.
const BURSTS: [(&str, bool); 3] = [("cold", false), ("warm", false), ("warm", true)];

/// What [`in_flight`] saw.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    failed: usize,
    before: u64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    peak_rss: u64,
    /// [`proportional_bytes`] 1 s before the backend answers, every call
    /// started and none answered.
    pss_in_flight: u64,
}

/// `calls` calls of code at once to the slow backend, with a process
/// spinning on one core (`hog`) or without: each call's time as its client
/// sees it, how many failed, and the peak resident memory of this process,
/// which then holds the gateway alone (the clients are a child process,
/// [`Mode::Clients`], the backend another). The clients first open their
/// connections with as many slow calls without code, so that what is timed
/// is the gateway's, not TCP's connection set-up.
fn in_flight(gateway: SocketAddr, calls: usize, hog: bool) -> InFlight {
    use std::io::{BufRead as _, Write as _};
    let mut clients = bench_child(&[], &format!("clients:{gateway}:{calls}"))
        .env("SLUICE_BENCH_CALLER", admin_key())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the clients' process");
    let mut said = std::io::BufReader::new(clients.stdout.take().expect("their stdout")).lines();
    let mut next = || said.next().expect("a line from the clients").expect("their stdout");
    assert_eq!(next(), "ready", "the clients open their connections first");
    let mut hog = hog.then(|| {
        std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("a shell to spin")
    });
    let before = resident_bytes();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = Arc::clone(&sampling);
        std::thread::spawn(move || {
            let started = Instant::now();
            let (mut peak, mut pss) = (resident_bytes(), 0);
            while sampling.load(Ordering::Relaxed) {
                peak = peak.max(resident_bytes());
                if pss == 0 && started.elapsed() >= SLOW_BACKEND - Duration::from_secs(1) {
                    pss = proportional_bytes();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (peak, pss)
        })
    };
    writeln!(clients.stdin.as_mut().expect("their stdin"), "go").expect("the clients go");
    let result = next();
    sampling.store(false, Ordering::Relaxed);
    let (peak_rss, pss_in_flight) = sampler.join().expect("sampler");
    if let Some(hog) = hog.as_mut() {
        let _ = hog.kill();
        let _ = hog.wait();
    }
    let _ = clients.wait();
    let numbers: Vec<u64> = result.split_whitespace().map(|n| n.parse().expect("a number")).collect();
    let [failed, p50, p90, p99, max] = numbers[..] else { panic!("the clients said `{result}`") };
    let ms = Duration::from_millis;
    InFlight {
        failed: failed as usize,
        p50: ms(p50),
        p90: ms(p90),
        p99: ms(p99),
        max: ms(max),
        before,
        peak_rss,
        pss_in_flight,
    }
}

/// [`Mode::Clients`]: opens `calls` connections to `gateway` with slow
/// calls without code, says `ready`, and on `go` makes `calls` calls of code
/// at once; then prints how many failed and the p50, p90, p99 and max of
/// the others, in milliseconds.
fn clients(gateway: SocketAddr, calls: usize) {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let caller = std::env::var("SLUICE_BENCH_CALLER").expect("SLUICE_BENCH_CALLER");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(2 * calls).build_http();
    let url = |path: &str| format!("http://{gateway}/apim/{path}/c/items");
    let burst = |url: &str| spawn_fetches(&client, url, &caller, calls, http::StatusCode::OK);
    rt.block_on(async {
        let opening = url("items-remote");
        for call in burst(&opening) {
            call.await.expect("opening call").unwrap_or_else(|error| panic!("{opening}: {error}"));
        }
    });
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("go");
    let (mut times, mut failed) = (Vec::new(), 0);
    rt.block_on(async {
        for call in burst(&url("items-slow")) {
            match call.await.expect("slow call") {
                Ok(time) => times.push(time),
                Err(_) => failed += 1,
            }
        }
    });
    times.sort();
    let at = |q| if times.is_empty() { 0 } else { quantile(&times, q).as_millis() };
    println!("{failed} {} {} {} {}", at(0.50), at(0.90), at(0.99), at(1.0));
}

/// nginx (Debian's package) proxying the backend over kept-alive
/// connections, as an operator would deploy it for operations without
/// code: the side-by-side figure for the no-code path. It runs as one
/// process (`master_process off`), whose CPU time is read from
/// `/proc/<pid>/schedstat`.
struct Nginx {
    child: std::process::Child,
    address: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx in front of `backend`, or `None` (and why) when it is not
    /// installed or does not start.
    fn start(backend: SocketAddr) -> Result<Self, String> {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .ok_or("nginx is not installed (Debian: apt-get install nginx-light)")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let d = dir.path().display();
        let config = format!(
            "worker_processes 1;\nmaster_process off;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 16384; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               upstream backend {{ server {backend}; keepalive 256; }}\n\
               server {{\n    listen {address} backlog=8192;\n    location / {{\n      proxy_pass http://backend;\n\
                   proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
        );
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let mut child = std::process::Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("{binary}: {e}"))?;
        for _ in 0..250 {
            if std::net::TcpStream::connect(address).is_ok() {
                return Ok(Self { child, address, _dir: dir });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {log}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("nginx did not start listening in 5 s".into())
    }

    /// The CPU time nginx has used so far.
    fn cpu(&self) -> Duration {
        let schedstat = std::fs::read_to_string(format!("/proc/{}/schedstat", self.child.id())).unwrap_or_default();
        let nanos = schedstat.split_whitespace().next().and_then(|n| n.parse().ok()).expect("nginx's schedstat");
        Duration::from_nanos(nanos)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The load runs with wrk as the generator, this process as the gateway
/// and the backend's own process behind it (and nginx in front of that
/// backend), at each of `levels`: each row's CPU is that of this process,
/// plus nginx's in its row, so it is what each proxy alone spends, and the
/// direct row is what this process spends while idle.
fn apart(gateway: SocketAddr, backend: SocketAddr, nginx: Option<&Nginx>, levels: &[usize], duration: Duration) {
    let mut rows = vec![
        ("code", format!("http://{gateway}/apim/items-apart/c/items")),
        ("no_code", format!("http://{gateway}/apim/items-apart-plain/c/items")),
        ("direct", format!("http://{backend}/v1/items")),
    ];
    if let Some(nginx) = nginx {
        rows.push(("nginx", format!("http://{}/v1/items", nginx.address)));
    }
    println!(
        "\nwrk as the generator, the gateway (this process) and the backend each in a process of its own ({duration:?} per run; CPU of the gateway alone, or of nginx alone in its row)"
    );
    println!("{:<10} {:>5} {:>10} {:>10} {:>10} {:>12}", "target", "conc", "req/s", "p50", "p99", "cpu/request");
    for &concurrency in levels {
        let mut runs = Vec::new();
        for (name, url) in &rows {
            let cpu = CpuMeter::start(if *name == "nginx" { nginx } else { None });
            let Some(run) = wrk(url, &admin_key(), concurrency, duration) else {
                println!("no wrk for these runs (Debian: apt-get install wrk)");
                return;
            };
            let cpu = cpu.elapsed() / u32::try_from(run.requests.max(1)).expect("request count");
            println!(
                "{name:<10} {concurrency:>5} {:>10.0} {:>10.1?} {:>10.1?} {:>12.1?}",
                run.rps, run.p50, run.p99, cpu
            );
            runs.push((*name, run, cpu));
        }
        let find = |target: &str| runs.iter().find(|(name, _, _)| *name == target).map(|(_, run, cpu)| (*run, *cpu));
        let (Some((code, code_cpu)), Some((plain, plain_cpu)), Some((_, idle))) =
            (find("code"), find("no_code"), find("direct"))
        else {
            continue;
        };
        let plain_adds = plain_cpu.saturating_sub(idle);
        println!(
            "apart at {concurrency:>2}: code / no-code throughput {:.2}; code adds {:.1?} of CPU per request; the gateway without code spends {plain_adds:.1?}",
            code.rps / plain.rps,
            code_cpu.saturating_sub(plain_cpu),
        );
        if let Some((_, nginx_cpu)) = find("nginx") {
            let nginx_adds = nginx_cpu.saturating_sub(idle);
            println!(
                "apart at {concurrency:>2}: nginx spends {nginx_adds:.1?}; the gateway without code is {:.2}× nginx",
                plain_adds.as_secs_f64() / nginx_adds.as_secs_f64()
            );
        }
    }
}

/// What wrk measured of one run.
#[derive(Debug, Clone, Copy)]
struct Wrk {
    requests: u64,
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// `wrk` (Debian's package), the load generator in a process of its own:
/// one thread, `concurrency` connections, `duration`. `None` when wrk is
/// not installed.
fn wrk(url: &str, authorization: &str, concurrency: usize, duration: Duration) -> Option<Wrk> {
    let output = std::process::Command::new("wrk")
        .args(["-t", "1", "-c", &concurrency.to_string(), "-d", &format!("{}s", duration.as_secs().max(1))])
        .args(["--latency", "-H", &format!("x-api-key: {API_KEY}"), "-H", &format!("authorization: {authorization}")])
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk: {text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(!text.contains("Non-2xx"), "wrk saw failed requests: {text}");
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("wrk printed no `{prefix}`: {text}"))
            .to_string()
    };
    let latency = |text: String| -> Duration {
        let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len()));
        let number: f64 = number.parse().expect("a latency");
        Duration::from_secs_f64(match unit {
            "us" => number / 1e6,
            "ms" => number / 1e3,
            "s" => number,
            other => panic!("wrk latency unit `{other}`"),
        })
    };
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))
        .and_then(|line| line.split_whitespace().next()?.parse().ok())
        .expect("wrk's request count");
    Some(Wrk {
        requests,
        rps: field("Requests/sec:").parse().expect("req/s"),
        p50: latency(field("50%")),
        p99: latency(field("99%")),
    })
}
