//! The canonical transform of the performance issue, shared by the benches:
//! its inputs (`GET /items` with three headers, a backend answering a JSON
//! array of 20 items) and its native baseline, the same transform written as
//! plain Rust over the same serde types as the guest
//! (`examples/items-transform/guest/src/lib.rs`).
//!
//! Keep both sides in step: figures only compare across versions if the work
//! is exactly this.
#![allow(dead_code, reason = "each bench binary uses the part it needs")]

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_runtime::{Backend, CallInfo, Invocation, SendError};

/// The guest component of the canonical transform, built by `sluice-test-programs`.
pub fn guest() -> std::path::PathBuf {
    sluice_test_programs::path("items-transform")
}

/// One item as the backend sends it: the guest's type, field for field.
#[derive(Serialize, Deserialize)]
struct Item {
    id: u64,
    name: String,
    ok: bool,
}

/// The answer the transform builds: the guest's type, field for field.
#[derive(Serialize)]
struct Wrapped {
    count: usize,
    items: Vec<Item>,
}

/// The backend's answer: `[{"id": 1, "name": "item1", "ok": true}, ...]`,
/// 20 items, about 700 bytes.
pub fn backend_answer() -> Bytes {
    items_answer(20)
}

/// A backend answer of `count` canonical items, ids 1 to `count`: the
/// canonical answer at other sizes.
pub fn items_answer(count: u64) -> Bytes {
    let items: Vec<Item> = (1..=count).map(|i| Item { id: i, name: format!("item{i}"), ok: true }).collect();
    Bytes::from(serde_json::to_vec(&items).expect("items serialize"))
}

/// The client's request as the code receives it: `GET /items` with three headers.
pub fn request() -> http::Request<Bytes> {
    http::Request::get("https://api.contoso.example/items")
        .header("accept", "application/json")
        .header("user-agent", "sluice-bench")
        .header("x-request-id", "1")
        .body(Bytes::new())
        .expect("request")
}

/// One sandboxed call of the canonical transform.
pub fn invocation() -> Invocation {
    Invocation {
        operation_id: "ListItems".into(),
        correlation_id: "bench".into(),
        original_url: "http://127.0.0.1/apim/items/c1/items".into(),
        request: request(),
    }
}

/// What a native host would pass its backend: the same call description the
/// runtime gives a [`Backend`].
pub fn call_info() -> CallInfo {
    CallInfo {
        connector_id: "items".into(),
        operation_id: "ListItems".into(),
        correlation_id: "bench".into(),
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(3600),
        index: 0,
        max_response_bytes: 8 << 20,
    }
}

/// An in-process backend that answers every request with the same body, so
/// that what is measured is the transform and its sandbox, not a network.
#[derive(Debug, Clone)]
pub struct Canned(pub Bytes);

#[async_trait]
impl Backend for Canned {
    async fn send(&self, _: &CallInfo, _: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        Ok(http::Response::new(self.0.clone()))
    }
}

/// The canonical transform as native Rust, around the same backend: add
/// `x-sluice: 1`, send, wrap the item array as `{"count": n, "items": [...]}`.
pub async fn native(
    info: &CallInfo,
    backend: &dyn Backend,
    mut request: http::Request<Bytes>,
) -> Result<http::Response<Bytes>, SendError> {
    request.headers_mut().insert("x-sluice", http::HeaderValue::from_static("1"));
    let response = backend.send(info, request).await?;
    if !response.status().is_success() {
        return Ok(response);
    }
    let items: Vec<Item> = serde_json::from_slice(response.body())
        .map_err(|e| SendError::Failed(format!("backend body is not the item array: {e}")))?;
    let body = serde_json::to_vec(&Wrapped { count: items.len(), items }).expect("serialize");
    Ok(http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .expect("response"))
}

/// The body both versions must answer, to check the benches measure the
/// same work.
pub fn expected_answer() -> serde_json::Value {
    let items: serde_json::Value = serde_json::from_slice(&backend_answer()).expect("json");
    serde_json::json!({ "count": 20, "items": items })
}
