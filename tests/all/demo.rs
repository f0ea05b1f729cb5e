//! The README's first command: the demo starts offline, prints its API key,
//! and answers 401 without it and the items with it.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The demo process, stopped when dropped, and its cache folder, removed then.
pub struct Demo {
    child: Child,
    _cache: tempfile::TempDir,
}

impl Demo {
    /// What the demo wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._cache.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo on a free port; returns it, its address and its key.
pub fn start_demo() -> (Demo, String, String) {
    let cache = tempfile::tempdir().expect("a cache folder");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        // Its compiled-code cache goes to a folder of the test's own.
        .env("XDG_CACHE_HOME", cache.path())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(cache.path().join("stderr.log")).expect("a log file"))
        .spawn()
        .expect("the demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo { child, _cache: cache };
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Reads to the end even after the test has what it wants: a reader
        // that stopped would close the pipe, and the demo's next line (it
        // prints the console's address after the key) would kill it.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let (mut key, mut address) = (None, None);
    let started = Instant::now();
    while key.is_none() || address.is_none() {
        let left = Duration::from_secs(120).saturating_sub(started.elapsed());
        let line = lines.recv_timeout(left).expect("the demo prints its key and its address");
        if let Some(rest) = line.strip_prefix("demo api key: ") {
            key = Some(rest.trim().to_string());
        }
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://") && w.ends_with("/demo/items")) {
            address = Some(url.trim_start_matches("http://").split('/').next().unwrap().to_string());
        }
    }
    (demo, address.unwrap(), key.unwrap())
}

#[tokio::test]
async fn the_demo_prints_a_key_and_every_call_needs_it() {
    let (demo, address, key) = tokio::task::spawn_blocking(start_demo).await.unwrap();
    assert!(key.starts_with("slk_"), "{key}");
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let get = |authorization: Option<String>| {
        let mut request = http::Request::get(format!("http://{address}/apim/items-transform/demo/items"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let request = request.body(Full::default()).unwrap();
        let client = client.clone();
        let demo = &demo;
        async move {
            let response = match client.request(request).await {
                Ok(response) => response,
                Err(error) => panic!("the demo does not answer ({error}); its log:\n{}", demo.log()),
            };
            let status = response.status();
            (status, response.into_body().collect().await.unwrap().to_bytes())
        }
    };
    let (status, body) = get(None).await;
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    let (status, body) = get(Some(format!("Bearer {key}"))).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let items: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(items["count"], 20, "{items}");

    // The management API works in the demo, connections included: it has
    // a sealing key of its own.
    let request = http::Request::post(format!("http://{address}/api/v1/connections"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            r#"{"connector": "items-transform", "id": "mine", "parameters": {"api_key": "k"}}"#,
        )))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let (status, _) = get(Some(format!("Bearer {key}"))).await;
    assert_eq!(status, 200);
}
