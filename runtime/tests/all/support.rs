//! Shared pieces of the runtime's tests: the guest components of
//! `sluice-test-programs`, runtimes sized for tests, and an in-process fake backend.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use sluice_runtime::{Backend, CallInfo, CallOutput, Connector, Invocation, Limits, Runtime, RuntimeConfig, SendError};

/// Where the test-programs crate put a guest component.
pub fn guest_path(name: &str) -> PathBuf {
    sluice_test_programs::path(name)
}

/// The bytes of a guest component.
pub fn guest(name: &str) -> Vec<u8> {
    sluice_test_programs::bytes(name)
}

/// A runtime config for tests: a small pool, a fast clock, and a compiled
/// code cache shared by all test binaries.
pub fn test_config() -> RuntimeConfig {
    RuntimeConfig {
        max_concurrent_calls: 16,
        epoch_tick: std::time::Duration::from_millis(5),
        cache_dir: Some(sluice_test_programs::compiled_cache_dir()),
        ..RuntimeConfig::default()
    }
}

pub fn runtime() -> Runtime {
    Runtime::new(test_config()).expect("runtime")
}

/// Loads a guest with the given limits into a fresh test runtime.
pub fn load(name: &str, limits: Limits) -> Connector {
    runtime().load(name, &guest(name), limits).expect("load guest")
}

/// A request to the misbehave guest: the path's last segment picks the behaviour.
pub fn invocation(path_and_query: &str) -> Invocation {
    invocation_with_body(path_and_query, Bytes::new())
}

pub fn invocation_with_body(path_and_query: &str, body: Bytes) -> Invocation {
    let url = format!("https://api.contoso.example{path_and_query}");
    Invocation {
        operation_id: "TestOperation".into(),
        correlation_id: "corr-1".into(),
        original_url: format!("http://127.0.0.1:8080/apim/test/conn{path_and_query}"),
        request: http::Request::get(url).header("x-test", "yes").body(body).expect("request"),
    }
}

type Handler = dyn Fn(&CallInfo, http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> + Send + Sync;

/// An in-process backend: answers with a closure and records what it got.
pub struct FakeBackend {
    handler: Box<Handler>,
    pub calls: AtomicUsize,
    pub requests: Mutex<Vec<http::Request<Bytes>>>,
}

impl FakeBackend {
    pub fn new(
        handler: impl Fn(&CallInfo, http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError>
        + Send
        + Sync
        + 'static,
    ) -> Arc<Self> {
        Arc::new(Self { handler: Box::new(handler), calls: AtomicUsize::new(0), requests: Mutex::new(Vec::new()) })
    }

    /// A backend that answers every request with `status` and `body`.
    pub fn answering(status: u16, body: &'static str) -> Arc<Self> {
        Self::new(move |_, _| Ok(http::Response::builder().status(status).body(Bytes::from(body)).expect("response")))
    }
}

#[async_trait]
impl Backend for FakeBackend {
    async fn send(&self, call: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let copy = {
            let mut builder = http::Request::builder().method(request.method()).uri(request.uri());
            for (name, value) in request.headers() {
                builder = builder.header(name, value);
            }
            builder.body(request.body().clone()).expect("copy")
        };
        self.requests.lock().expect("lock").push(copy);
        (self.handler)(call, request)
    }
}

/// Calls the connector with no backend behind it.
pub async fn call(connector: &Connector, path_and_query: &str) -> CallOutput {
    connector.call(invocation(path_and_query), FakeBackend::answering(200, "")).await
}

/// The body of a successful call, as text.
pub fn body_text(output: &CallOutput) -> String {
    match &output.result {
        Ok(response) => String::from_utf8_lossy(response.body()).into_owned(),
        Err(error) => panic!("call failed: {error}; logs: {:?}", output.report.logs),
    }
}

/// Checks that the code is still healthy: a plain call right after succeeds.
pub async fn assert_next_call_succeeds(connector: &Connector) {
    let output = call(connector, "/ok").await;
    assert_eq!(body_text(&output), "ok", "the call after a failure must succeed");
}
