//! Per-call cost of the sandbox: a trivial guest, and the canonical
//! transform around an in-process backend. Setup (runtime, load) stays
//! outside the measured closure.
//!
//! Run: `cargo bench --bench runtime` (add `-- --quick` for a smoke run).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use sluice_runtime::{Backend, CallInfo, Invocation, Limits, Runtime, RuntimeConfig, SendError};

const GUEST_DIR: &str = env!("SLUICE_GUEST_DIR");

struct Canned(Bytes);

#[async_trait]
impl Backend for Canned {
    async fn send(&self, _: &CallInfo, _: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        Ok(http::Response::new(self.0.clone()))
    }
}

fn invocation(path: &str) -> Invocation {
    Invocation {
        operation_id: "ListItems".into(),
        correlation_id: "bench".into(),
        original_url: format!("http://127.0.0.1/apim/items/c{path}"),
        request: http::Request::get(format!("https://api.contoso.example{path}"))
            .header("accept", "application/json")
            .header("user-agent", "bench")
            .header("x-request-id", "1")
            .body(Bytes::new())
            .expect("request"),
    }
}

fn canonical_items() -> Bytes {
    let items: Vec<serde_json::Value> =
        (1..=20).map(|i| serde_json::json!({"id": i, "name": format!("item{i}"), "ok": true})).collect();
    Bytes::from(serde_json::to_vec(&items).expect("json"))
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    let runtime = Runtime::new(RuntimeConfig { max_concurrent_calls: 16, ..RuntimeConfig::default() }).expect("runtime");
    let load = |name: &str| {
        let code = std::fs::read(format!("{GUEST_DIR}/{name}.wasm")).expect("guest built by build.rs");
        runtime.load(name, &code, Limits::default()).expect("load")
    };
    let trivial = load("misbehave");
    let transform = load("items_transform");
    let backend: Arc<dyn Backend> = Arc::new(Canned(canonical_items()));

    let mut group = c.benchmark_group("call");
    group.bench_function("trivial", |b| {
        b.to_async(&rt).iter(|| async {
            let output = trivial.call(invocation("/ok"), Arc::clone(&backend)).await;
            assert!(output.result.is_ok());
        })
    });
    group.bench_function("canonical_transform", |b| {
        b.to_async(&rt).iter(|| async {
            let output = transform.call(invocation("/items"), Arc::clone(&backend)).await;
            assert!(output.result.is_ok());
        })
    });
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);
