//! Several gateways on one real PostgreSQL database (started by
//! `sluice-test-postgres` on loopback, as in the tests):
//!
//! - **propagation:** two gateways; 50 updates of a connector through the
//!   first, each timed from the update's answer to the first call through
//!   the second that reaches the new version (median and max);
//! - **call path:** one call of a published connector through a real
//!   server, on a gateway whose store is SQLite and on one whose store is
//!   PostgreSQL (criterion), and the process's CPU time per request over
//!   a fixed number of calls of each: both serve calls from the snapshot,
//!   so they should be equal within noise;
//! - **snapshot size:** 1,000 published connectors and 1,000 connections
//!   made through the gateway, then `sluice serve` started on that
//!   database and on an empty one: the time until each is ready, and the
//!   resident memory of each then.
//!
//! Run: `cargo bench --bench replicas` (`-- --quick`, or
//! `SLUICE_BENCH_QUICK=1`, for a smoke run).

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
use sluice_gateway::access::{Caller, Credential, DEFAULT_ENVIRONMENT};
use sluice_gateway::config::{GatewayConfig, OAuthConfig, StoreConfig};
use sluice_gateway::{Gateway, GatewayOptions};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn quick() -> bool {
    std::env::args().any(|a| a == "--quick") || std::env::var_os("SLUICE_BENCH_QUICK").is_some()
}

/// A backend whose `/v{n}/items` answers which version was called.
async fn start_backend() -> SocketAddr {
    let app = Router::new().route(
        "/{version}/items",
        get(|axum::extract::Path(version): axum::extract::Path<String>| async move { version }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind backend");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("backend") });
    address
}

/// A no-code package calling `backend` under `base_path`, as an archive.
fn package(backend: SocketAddr, base_path: &str) -> Vec<u8> {
    let definition = serde_json::json!({
        "swagger": "2.0",
        "info": {"title": "Shop", "description": "A shop.", "version": "1.0"},
        "host": backend.to_string(), "basePath": base_path, "schemes": ["http"],
        "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "paths": {"/items": {"get": {"operationId": "ListItems", "summary": "List items",
            "description": "Lists the items.", "responses": {"200": {"description": "ok"}}}}}
    });
    let properties = serde_json::json!({"properties": {
        "connectionParameters": {"api_key": {"type": "securestring",
            "uiDefinition": {"displayName": "API key", "description": "The key", "constraints": {"required": "true"}}}},
        "publisher": "Bench", "stackOwner": "Bench"}});
    let files: sluice_gateway::archive::Files = [
        ("apiDefinition.swagger.json".to_string(), serde_json::to_vec(&definition).expect("json")),
        ("apiProperties.json".to_string(), serde_json::to_vec(&properties).expect("json")),
    ]
    .into_iter()
    .collect();
    sluice_gateway::archive::write(&files)
}

/// The gateway's admin, as the library sees a caller.
fn admin() -> Caller {
    Caller { id: "bench".into(), groups: Vec::new(), credential: Credential::ApiKey { id: "bench".into() } }
}

struct Started {
    address: SocketAddr,
    gateway: Gateway,
    key: String,
    _packages: tempfile::TempDir,
}

/// A gateway on `store_url` (else SQLite in `state`), serving on loopback,
/// sealing with the key in `state`.
async fn start_gateway(store_url: Option<&str>, state: &Path) -> Started {
    let packages = tempfile::tempdir().expect("packages dir");
    let key_file = state.join("key");
    if !key_file.exists() {
        std::fs::write(&key_file, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=").expect("key");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gateway");
    let address = listener.local_addr().expect("address");
    let config = GatewayConfig {
        listen: address,
        packages: packages.path().to_path_buf(),
        environment: Default::default(),
        requests: Default::default(),
        runtime: Default::default(),
        connections: Vec::new(),
        public_url: None,
        metrics_listen: None,
        access: Default::default(),
        environments: Vec::new(),
        store: StoreConfig { url: store_url.map(str::to_string), ..Default::default() },
        telemetry: Default::default(),
        oauth: Some(OAuthConfig {
            database: Some(state.join("sluice.db")),
            key_file: Some(key_file),
            ..Default::default()
        }),
        state_dir: None,
    };
    let gateway =
        Gateway::start(config, GatewayOptions { grant_loopback: true, ..Default::default() }).await.expect("gateway");
    let key = gateway.access().bootstrap_admin("bench", "Bench", "bench").await.expect("admin key").key;
    let serving = gateway.clone();
    tokio::spawn(async move {
        sluice_gateway::server::serve_gateway(listener, serving, std::future::pending()).await.expect("gateway serves")
    });
    Started { address, gateway, key, _packages: packages }
}

/// Publishes `Shop` and makes its connection `main`.
async fn publish_shop(started: &Started, backend: SocketAddr) {
    let environment = started.gateway.default_environment();
    started
        .gateway
        .catalog()
        .publish(&admin(), environment, Some("Shop"), &package(backend, "/v0"))
        .await
        .expect("publish");
    let values = [("api_key".to_string(), "k".to_string())].into_iter().collect();
    started
        .gateway
        .access()
        .create_connection(&admin(), DEFAULT_ENVIRONMENT, "Shop", "main", values)
        .await
        .expect("connection");
}

/// One call of `Shop`'s `ListItems`: the status and the body.
async fn call(client: &HttpClient, started: &Started) -> (http::StatusCode, Bytes) {
    let request = http::Request::get(format!("http://{}/apim/Shop/main/items", started.address))
        .header("authorization", format!("Bearer {}", started.key))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client.request(request).await.expect("answer");
    let status = response.status();
    (status, response.into_body().collect().await.expect("body").to_bytes())
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

async fn propagation(client: &HttpClient, backend: SocketAddr, changes: usize) {
    let state = tempfile::tempdir().expect("state");
    let url = sluice_test_postgres::database();
    let (one, two) = (start_gateway(Some(&url), state.path()).await, start_gateway(Some(&url), state.path()).await);
    publish_shop(&one, backend).await;
    let mut times = Vec::new();
    for change in 1..=changes {
        let version = format!("v{change}");
        let environment = one.gateway.default_environment();
        let archive = package(backend, &format!("/{version}"));
        one.gateway.catalog().update(&admin(), environment, "Shop", &archive, None).await.expect("update");
        let changed = Instant::now();
        loop {
            let (status, body) = call(client, &two).await;
            if status == 200 && body == version.as_bytes() {
                break;
            }
            assert!(changed.elapsed() < Duration::from_secs(10), "update {change} never reached the other gateway");
        }
        times.push(changed.elapsed());
    }
    times.sort();
    println!(
        "propagation from an update's answer to the first call on another gateway, {changes} updates: median {:?}, max {:?}",
        quantile(&times, 0.5),
        times[times.len() - 1]
    );
}

async fn cpu_per_request(client: &HttpClient, started: &Started, calls: u32) -> Duration {
    let before = ProcessTime::now();
    for _ in 0..calls {
        assert_eq!(call(client, started).await.0, 200);
    }
    before.elapsed() / calls
}

async fn snapshot_cost(connectors: usize, backend: SocketAddr) {
    let state = tempfile::tempdir().expect("state");
    let url = sluice_test_postgres::database();
    let writer = start_gateway(Some(&url), state.path()).await;
    let environment = writer.gateway.default_environment();
    let archive = package(backend, "/v1");
    for index in 0..connectors {
        let id = format!("Shop{index}");
        writer.gateway.catalog().publish(&admin(), environment, Some(&id), &archive).await.expect("publish");
        let values = [("api_key".to_string(), format!("key-{index}"))].into_iter().collect();
        writer
            .gateway
            .access()
            .create_connection(&admin(), DEFAULT_ENVIRONMENT, &id, "main", values)
            .await
            .expect("connection");
    }
    drop(writer);
    let baseline = serve_process(&sluice_test_postgres::database(), state.path());
    let loaded = serve_process(&url, state.path());
    println!(
        "`sluice serve` ready on an empty database in {:?} at {:.1} MiB resident; on {connectors} published \
         connectors and {connectors} connections in {:?} at {:.1} MiB (+{:.1} MiB)",
        baseline.0,
        mib(baseline.1),
        loaded.0,
        mib(loaded.1),
        mib(loaded.1.saturating_sub(baseline.1))
    );
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Starts `sluice serve` on `store_url`, sealing with the key in `state`:
/// the time until `/healthz` answers 200, and its resident memory then.
fn serve_process(store_url: &str, state: &Path) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("serve dir");
    std::fs::create_dir(dir.path().join("packages")).expect("packages dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("address").port();
    let settings = format!(
        "listen = \"127.0.0.1:{port}\"\npackages = \"packages\"\n[store]\nurl = \"{store_url}\"\n[oauth]\nkey_file = \"{}\"\n",
        state.join("key").display()
    );
    std::fs::write(dir.path().join("sluice.toml"), settings).expect("settings");
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--config"])
        .arg(dir.path().join("sluice.toml"))
        .env("RUST_LOG", "warn")
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sluice serve starts");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    while !agent.get(&healthz).call().is_ok_and(|r| r.status() == 200) {
        assert!(started.elapsed() < Duration::from_secs(120), "sluice serve did not become ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let ready = started.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let resident = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024;
    let _ = child.kill();
    let _ = child.wait();
    (ready, resident)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let quick = quick();
    let backend = runtime.block_on(start_backend());

    runtime.block_on(propagation(&client, backend, if quick { 5 } else { 50 }));

    let sqlite_state = tempfile::tempdir().expect("state");
    let postgres_state = tempfile::tempdir().expect("state");
    let url = sluice_test_postgres::database();
    let stores = runtime.block_on(async {
        let sqlite = start_gateway(None, sqlite_state.path()).await;
        let postgres = start_gateway(Some(&url), postgres_state.path()).await;
        for started in [&sqlite, &postgres] {
            publish_shop(started, backend).await;
        }
        [("sqlite", Arc::new(sqlite)), ("postgres", Arc::new(postgres))]
    });
    // Rounds of calls on each store in turn, so that the machine's noise
    // falls on both alike; the median round of each.
    let (rounds, calls) = if quick { (3, 200) } else { (20, 500) };
    let mut cpu: [Vec<Duration>; 2] = Default::default();
    for _ in 0..rounds {
        for (index, (_, started)) in stores.iter().enumerate() {
            cpu[index].push(runtime.block_on(cpu_per_request(&client, started, calls)));
        }
    }
    let medians: Vec<Duration> = cpu
        .iter_mut()
        .map(|rounds| {
            rounds.sort();
            quantile(rounds, 0.5)
        })
        .collect();
    println!(
        "call path CPU per request, median of {rounds} rounds of {calls} calls: sqlite {:?}, postgres {:?} \
         (postgres/sqlite {:.2})",
        medians[0],
        medians[1],
        medians[1].as_secs_f64() / medians[0].as_secs_f64()
    );
    let mut criterion = Criterion::default().configure_from_args();
    if quick {
        criterion = criterion.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    }
    let mut group = criterion.benchmark_group("call path");
    for (name, started) in &stores {
        group.bench_function(*name, |b| b.to_async(&runtime).iter(|| async { call(&client, started).await }));
    }
    group.finish();

    runtime.block_on(snapshot_cost(if quick { 100 } else { 1000 }, backend));
    criterion.final_summary();
}
