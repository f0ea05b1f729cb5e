//! `sluice serve` as several replicas on one real PostgreSQL database:
//! a replica started before its database waits and says so, and killing a
//! replica under load leaves the others serving.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sluice_test_postgres::Cluster;

/// A `sluice serve` process, killed when dropped.
struct Replica {
    child: Child,
    address: String,
    dir: tempfile::TempDir,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// What it logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `sluice serve` on `store_url`, serving the HtmlToText example
/// (code that answers without a backend) with a connection `main`; with
/// `bootstrap`, returns the admin key it prints.
fn start_replica(store_url: &str, key_file: &Path, bootstrap: bool) -> (Replica, Option<String>) {
    start_replica_with(store_url, key_file, bootstrap, "", &[])
}

/// [`start_replica`] with more settings and environment variables.
fn start_replica_with(
    store_url: &str,
    key_file: &Path,
    bootstrap: bool,
    more_settings: &str,
    environment: &[(&str, &str)],
) -> (Replica, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let package = dir.path().join("packages").join("HtmlToText");
    std::fs::create_dir_all(&package).unwrap();
    let example = sluice_test_programs::examples_dir().join("HtmlToText");
    for name in ["apiDefinition.swagger.json", "apiProperties.json", "sluice.toml"] {
        std::fs::copy(example.join(name), package.join(name)).unwrap();
    }
    std::fs::write(package.join("script.wasm"), sluice_test_programs::example_bytes("HtmlToText")).unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let settings = format!(
        r#"listen = "{address}"
packages = "packages"

[store]
url = "{store_url}"
acquire_timeout = "1s"
resync_interval = "2s"

[oauth]
key_file = "{}"

[[connections]]
connector = "HtmlToText"
id = "main"

{more_settings}"#,
        key_file.display()
    );
    std::fs::write(dir.path().join("sluice.toml"), settings).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command.args(["serve", "--config"]).arg(dir.path().join("sluice.toml"));
    if bootstrap {
        command.args(["--bootstrap-admin", "admin"]);
    }
    let mut child = command
        .envs(environment.iter().copied())
        .env("RUST_LOG", "info")
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .env_remove("SLUICE_STORE_URL")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .expect("sluice serve starts");
    let stdout = child.stdout.take().unwrap();
    let replica = Replica { child, address, dir };
    if !bootstrap {
        return (replica, None);
    }
    let line = BufReader::new(stdout).lines().map_while(Result::ok).find(|line| line.starts_with("admin api key"));
    let key = line.and_then(|line| line.rsplit(' ').next().map(str::to_string));
    assert!(key.is_some(), "the first replica prints the admin key: {}", replica.log());
    (replica, key)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// `GET /healthz`: the status and body, or `None` while nothing listens.
fn health(replica: &Replica) -> Option<(u16, String)> {
    let mut response = agent().get(&format!("http://{}/healthz", replica.address)).call().ok()?;
    Some((response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default()))
}

/// Calls HtmlToText through `replica` as the holder of `key`.
fn convert(replica: &Replica, key: &str) -> Result<(u16, String), ureq::Error> {
    convert_with(replica, key, &[])
}

/// [`convert`] with more headers.
fn convert_with(replica: &Replica, key: &str, headers: &[(&str, &str)]) -> Result<(u16, String), ureq::Error> {
    let url = format!("http://{}/apim/HtmlToText/main/HtmlToText", replica.address);
    let mut request = agent().post(&url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request
        .header("authorization", &format!("Bearer {key}"))
        .header("content-type", "application/json")
        .send(r#"{"html": "<p>Hello <b>replicas</b></p>"}"#)?;
    Ok((response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default()))
}

fn wait_for(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("key");
    // 32 bytes, base64: the sealing key every replica shares.
    std::fs::write(&path, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=").unwrap();
    path
}

#[test]
fn a_replica_started_before_its_database_is_not_ready_until_the_database_is() {
    let cluster = Cluster::new().expect("a PostgreSQL server of this test's own");
    let url = cluster.create_database();
    cluster.stop().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (replica, _) = start_replica(&url, &key_file(keys.path()), false);
    // Not ready from the moment it listens, then with the reason.
    wait_for(Duration::from_secs(60), "healthz says it waits for its database", || match health(&replica) {
        Some((status, body)) => {
            assert_eq!(status, 503, "{body}");
            assert!(!body.contains("127.0.0.1") && !body.contains("sluice_test"), "no address: {body}");
            body.contains("waiting for its database")
        }
        None => false,
    });
    assert!(replica.log().contains("the gateway's database cannot be reached; trying again"), "{}", replica.log());

    cluster.start().unwrap();
    wait_for(Duration::from_secs(60), "the replica becomes ready", || health(&replica).is_some_and(|(s, _)| s == 200));
}

#[test]
fn killing_a_replica_under_load_leaves_the_others_serving() {
    let cluster = Cluster::new().expect("a PostgreSQL server of this test's own");
    let url = cluster.create_database();
    let keys = tempfile::tempdir().unwrap();
    let key_file = key_file(keys.path());
    let (first, key) = start_replica(&url, &key_file, true);
    let key = key.unwrap();
    let mut replicas = vec![first];
    for _ in 0..2 {
        replicas.push(start_replica(&url, &key_file, false).0);
    }
    for replica in &replicas {
        wait_for(Duration::from_secs(60), "every replica serves the admin's key", || {
            convert(replica, &key).is_ok_and(|(status, _)| status == 200)
        });
    }
    let expected = convert(&replicas[0], &key).unwrap().1;
    assert!(expected.contains("Hello replicas"), "{expected}");

    // Load on every replica; one is killed outright in the middle of it.
    let running = std::sync::atomic::AtomicBool::new(true);
    let mut victim = replicas.remove(1);
    let answers: Vec<Vec<(u16, String)>> = std::thread::scope(|scope| {
        let load: Vec<_> = replicas
            .iter()
            .map(|replica| {
                let (running, key) = (&running, &key);
                scope.spawn(move || {
                    let mut answers = Vec::new();
                    while running.load(std::sync::atomic::Ordering::Relaxed) {
                        answers.push(convert(replica, key).unwrap_or_else(|e| panic!("{e}\n{}", replica.log())));
                    }
                    answers
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        victim.child.kill().unwrap();
        victim.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        running.store(false, std::sync::atomic::Ordering::Relaxed);
        load.into_iter().map(|thread| thread.join().unwrap()).collect()
    });
    assert!(convert(&victim, &key).is_err(), "the killed replica is gone");
    for answers in answers {
        assert!(answers.len() > 10, "calls ran throughout: {}", answers.len());
        assert!(answers.iter().all(|answer| *answer == (200, expected.clone())), "every call was served right");
    }
}

#[test]
fn a_replica_exports_its_spans_over_otlp_in_the_clients_trace_with_its_replica_id() {
    // A collector on loopback that keeps what is posted to it.
    let posted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let collector = runtime.block_on(async {
        let posted = posted.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let posted = posted.clone();
            async move {
                let path = request.uri().path().to_string();
                let body = axum::body::to_bytes(request.into_body(), 16 << 20).await.unwrap_or_default();
                posted.lock().unwrap().push((path, body.to_vec()));
                ""
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        address
    });
    let cluster = Cluster::new().expect("a PostgreSQL server of this test's own");
    let keys = tempfile::tempdir().unwrap();
    let telemetry = format!("[telemetry]\nreplica = \"gw-test\"\notlp_endpoint = \"http://{collector}\"\n");
    let (replica, key) = start_replica_with(
        &cluster.create_database(),
        &key_file(keys.path()),
        true,
        &telemetry,
        &[("OTEL_BSP_SCHEDULE_DELAY", "50")],
    );
    let key = key.unwrap();
    let client = [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")];
    wait_for(Duration::from_secs(60), "the replica serves", || {
        convert_with(&replica, &key, &client).is_ok_and(|(status, _)| status == 200)
    });
    let trace_id = [0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c];
    let contains = |body: &[u8], needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    wait_for(Duration::from_secs(30), "the call's span reaches the collector", || {
        posted.lock().unwrap().iter().any(|(path, body)| {
            path == "/v1/traces" && contains(body, &trace_id) && contains(body, b"gw-test") && contains(body, b"call")
        })
    });
}
