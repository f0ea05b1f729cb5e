//! The gateway end to end on loopback: what custom code does to a real
//! operation's throughput and latency, and what 1,000 calls in flight cost in
//! memory.
//!
//! Three targets, each a real HTTP server on 127.0.0.1: the operation with
//! the canonical transform as code (`items-transform`, `ListItems`), the same
//! operation without code (`items-plain`), and the backend called directly.
//! The load generator runs in this process (tokio + hyper, one pooled
//! client, N tasks each sending requests back to back), as do the gateway
//! and the backend: on a 2-core machine they share the cores, so the figures
//! are a floor for a dedicated gateway.
//!
//! Each load run also reports the process's CPU time per request (user and
//! system, every thread): with the cores shared, that is what code costs the
//! machine, and it is steadier than throughput between runs. The allocator
//! is mimalloc, as in the `sluice` binary.
//!
//! Every request carries a caller: the code path is measured twice, with an
//! API key and with an OpenID Connect token of a local issuer (verified
//! once, then remembered); and what authentication and the authorization
//! decision cost is measured in process, in CPU per call, beside the code
//! path's CPU per request.
//!
//! Last, how late 1,000 calls of code are answered when all of them reach
//! their deadline at once (a backend that answers after 3 s, a 1 s
//! deadline), as their clients see it.
//!
//! Run: `cargo bench --bench gateway` (`-- --quick`, or
//! `SLUICE_BENCH_QUICK=1`, for a smoke run of a few seconds).

/// The gateway binary's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
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
    AccessConfig, ConnectionConfig, GatewayConfig, IssuerConfig, MemberConfig, RuntimeSettings, ValueSource,
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
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    ([("content-type", "application/json")], body)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind backend");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("backend") });
    address
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

async fn start_gateway(dir: &Path, issuer: &Issuer) -> (SocketAddr, Gateway) {
    let connection = |connector: &str| ConnectionConfig {
        id: "c".into(),
        connector: connector.into(),
        owner: None,
        environment: None,
        parameter_set: None,
        parameters: [("api_key".to_string(), ValueSource::Literal(API_KEY.into()))].into_iter().collect(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gateway");
    let address = listener.local_addr().expect("address");
    let config = GatewayConfig {
        listen: address,
        packages: dir.to_path_buf(),
        environment: Default::default(),
        requests: Default::default(),
        // 1,000 calls of one connector in flight, past the default cap of
        // 250 per connector.
        runtime: RuntimeSettings { max_calls_per_connector: 1000, ..Default::default() },
        connections: ["items-transform", "items-plain", "items-slow", "items-deadline"].map(connection).to_vec(),
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

async fn fetch(client: &HttpClient, url: &str, authorization: &str) -> Duration {
    fetch_status(client, url, authorization, http::StatusCode::OK).await
}

/// The time to an answer of `expected` status, body included.
async fn fetch_status(client: &HttpClient, url: &str, authorization: &str, expected: http::StatusCode) -> Duration {
    let started = Instant::now();
    let request = http::Request::get(url)
        .header("x-api-key", API_KEY)
        .header("authorization", authorization)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client.request(request).await.expect("answer");
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(status, expected, "{url}: {}", String::from_utf8_lossy(&body));
    started.elapsed()
}

/// `calls` requests to `url` at once, each a task answering its time to an
/// `expected` answer.
fn spawn_fetches(
    client: &HttpClient,
    url: &str,
    calls: usize,
    expected: http::StatusCode,
) -> Vec<tokio::task::JoinHandle<Duration>> {
    (0..calls)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_string());
            tokio::spawn(async move { fetch_status(&client, &url, &admin_key(), expected).await })
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
    // Warm the connection pool and the instance pool first.
    for _ in 0..concurrency.max(8) {
        fetch(client, url, authorization).await;
    }
    let started = Instant::now();
    let cpu = ProcessTime::now();
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
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let dir = tempfile::tempdir().expect("temp dir");
    let ((gateway, service), backend, issuer) = rt.block_on(async {
        let backend = start_backend().await;
        write_package(dir.path(), "items-transform", backend, "/v1", true, "");
        write_package(dir.path(), "items-plain", backend, "/v1", false, "");
        // What this one measures is memory, not the deadline: 1,000
        // connections opened at once to the gateway and from it to the
        // backend can take seconds on two shared cores (1 s SYN retries), and
        // the default 5 s deadline then cut calls of a 3 s backend.
        write_package(dir.path(), "items-slow", backend, "/v1/slow", true, "[limits]\ndeadline = \"30s\"\n");
        let deadline = format!("[limits]\ndeadline = \"{}ms\"\n", DEADLINE.as_millis());
        write_package(dir.path(), "items-deadline", backend, "/v1/slow", true, &deadline);
        let issuer = start_issuer().await;
        (start_gateway(dir.path(), &issuer).await, backend, issuer)
    });
    let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(2048).build_http();
    let oidc = format!("Bearer {}", issuer.token);
    let targets = [
        ("code", format!("http://{gateway}/apim/items-transform/c/items"), admin_key()),
        ("code_oidc", format!("http://{gateway}/apim/items-transform/c/items"), oidc.clone()),
        ("no_code", format!("http://{gateway}/apim/items-plain/c/items"), admin_key()),
        ("direct", format!("http://{backend}/v1/items"), admin_key()),
    ];

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

    // Throughput and tail latency at concurrency 1 and 32.
    let duration = if quick() { Duration::from_secs(1) } else { Duration::from_secs(5) };
    println!("\ngateway load on loopback ({duration:?} per run; generator, gateway and backend share this process)");
    println!("{:<10} {:>5} {:>10} {:>10} {:>10} {:>12}", "target", "conc", "req/s", "p50", "p99", "cpu/request");
    let mut results = std::collections::HashMap::new();
    for concurrency in [1, 32] {
        for (name, url, authorization) in &targets {
            let result = rt.block_on(load(&client, url, authorization, concurrency, duration));
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
            "ratio at {concurrency:>2}: code / no-code throughput {:.2}; code adds {:.2?} at p99 and {:.1?} of CPU per request",
            code.rps / plain.rps,
            code.p99.saturating_sub(plain.p99),
            code.cpu_per_request.saturating_sub(plain.cpu_per_request)
        );
    }

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

    // Resident memory with 1,000 calls of code in flight against a slow backend.
    let in_flight = 1000;
    let before = resident_bytes();
    let peak = rt.block_on(async {
        let url = format!("http://{gateway}/apim/items-slow/c/items");
        let calls = spawn_fetches(&client, &url, in_flight, http::StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let peak = resident_bytes();
        for call in calls {
            call.await.expect("slow call");
        }
        peak
    });
    println!(
        "\nresident memory with {in_flight} calls in flight: {:.0} MiB (this whole process; {:.0} MiB before the calls)",
        peak as f64 / (1 << 20) as f64,
        before as f64 / (1 << 20) as f64
    );
    // Calls reaching their deadline together: how late, after it, their
    // clients have the 504 (256 at once as in the review that found answers
    // 420 ms late, then 1,000).
    for calls in [256, in_flight] {
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
    for call in spawn_fetches(client, &plain, calls, http::StatusCode::OK) {
        call.await.expect("opening call");
    }
    let url = format!("http://{gateway}/apim/items-deadline/c/items");
    let tasks = spawn_fetches(client, &url, calls, http::StatusCode::GATEWAY_TIMEOUT);
    let mut late = Vec::new();
    for task in tasks {
        late.push(task.await.expect("deadline call").saturating_sub(DEADLINE));
    }
    late
}
