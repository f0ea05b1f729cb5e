//! `sluice`: runs a connector's custom code in the sandbox.
//!
//! Until the gateway lands, the binary is a demo of the runtime: it loads the
//! example `items-transform` code, calls it once against an in-process
//! backend that answers like the real API, and prints the response and the
//! call report.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use bytes::Bytes;
use sluice_runtime::{Backend, CallInfo, Invocation, Limits, Runtime, RuntimeConfig, SendError};

/// The example connector's code, built from `examples/items-transform/guest` by build.rs.
const ITEMS_TRANSFORM: &[u8] = include_bytes!(concat!(env!("SLUICE_GUEST_DIR"), "/items_transform.wasm"));

/// Answers every request with the canonical list of 20 items.
struct ItemsBackend;

#[async_trait]
impl Backend for ItemsBackend {
    async fn send(&self, _call: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        println!("backend <- {} {} (x-sluice: {:?})", request.method(), request.uri(), request.headers().get("x-sluice"));
        let items: Vec<serde_json::Value> =
            (1..=20).map(|i| serde_json::json!({"id": i, "name": format!("item{i}"), "ok": true})).collect();
        let body = serde_json::to_vec(&items).map_err(|e| SendError::Failed(e.to_string()))?;
        http::Response::builder()
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .map_err(|e| SendError::Failed(e.to_string()))
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig { max_concurrent_calls: 8, ..RuntimeConfig::default() })
        .context("starting the runtime")?;
    let connector = runtime.load("items-transform", ITEMS_TRANSFORM, Limits::default()).context("loading the example code")?;
    let request = http::Request::get("https://api.contoso.example/items")
        .header("accept", "application/json")
        .body(Bytes::new())
        .context("building the request")?;
    let invocation = Invocation {
        operation_id: "ListItems".into(),
        correlation_id: "demo-1".into(),
        original_url: "http://127.0.0.1:8080/apim/items/demo/items".into(),
        request,
    };
    let output = connector.call(invocation, Arc::new(ItemsBackend)).await;
    match &output.result {
        Ok(response) => println!("response {}\n{}", response.status(), String::from_utf8_lossy(response.body())),
        Err(error) => println!("error: {error}"),
    }
    let report = &output.report;
    println!(
        "report: fuel {:?}, peak memory {} bytes, wall time {:?}, {} backend call(s), {} log line(s)",
        report.fuel_consumed,
        report.peak_memory_bytes,
        report.wall_time,
        report.backend_calls.len(),
        report.logs.len()
    );
    Ok(())
}
