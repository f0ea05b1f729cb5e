//! The ten example connectors (`examples/<name>/`) end to end: each package
//! and its built code served by a real gateway, its host pointed at a
//! loopback backend that behaves like the real API for the operations used
//! and checks what it receives (signatures, SOAP envelopes, name lists,
//! tokens). Each connector has its success path, at least one error path,
//! and its operations that run no code.
//!
//! A few behaviours the gateway cannot reach (an operation id the definition
//! does not route, a host the test cannot own, the code's log lines) are
//! checked by calling the runtime directly with an in-process backend, in
//! the `direct` section at the bottom.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::support::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Request as AxumRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

/// An example package folder.
fn example(name: &str) -> PathBuf {
    examples().join(name)
}

/// A gateway serving one example with its built code (when it has some),
/// pointed at `backend`, with connection `c1`.
async fn serve(
    name: &str,
    guest_crate: Option<&str>,
    backend: Option<SocketAddr>,
    values: &[(&str, &str)],
) -> TestGateway {
    let mut builder = TestGatewayBuilder::new().package_from(&example(name), backend);
    if let Some(krate) = guest_crate {
        builder = builder.file(name, "script.wasm", guest(krate));
    }
    builder.connection(name, "c1", values).start().await
}

/// What a backend saw, in order.
#[derive(Debug, Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    /// Reads a request whole and records it.
    async fn record(&self, request: AxumRequest) -> Seen {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        let seen = Seen {
            method: parts.method.to_string(),
            path_and_query: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
            headers: parts.headers,
            body,
        };
        self.0.lock().unwrap().push(seen.clone());
        seen
    }

    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.all().into_iter().map(|s| format!("{} {}", s.method, s.path_and_query)).collect()
    }
}

/// A backend answering every request with `answer(seen)`, recording it first.
async fn backend(answer: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> (SocketAddr, Log) {
    let log = Log::default();
    let answer = Arc::new(answer);
    let recorder = log.clone();
    let app = Router::new().fallback(move |request: AxumRequest| {
        let (log, answer) = (recorder.clone(), Arc::clone(&answer));
        async move {
            let seen = log.record(request).await;
            answer(&seen)
        }
    });
    (start_backend(app).await, log)
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn json_answer(status: u16, value: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response()
}

fn query_pairs(seen: &Seen) -> Vec<(String, String)> {
    let query = seen.path_and_query.split_once('?').map(|(_, q)| q).unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// An example's code in `language`: the Rust guest crate's component
/// (`rust`), or its JavaScript (`js`) or Python (`py`) port's.
fn code_in(language: &str, package: &str, krate: &str) -> Vec<u8> {
    match language {
        "rust" => guest(krate),
        other => sluice_test_programs::interpreted_bytes(other, package),
    }
}

/// Runs each named async case (taking the language) once per language the
/// example is written in, as tests `rust::case`, `js::case` and `py::case`:
/// the ports must pass the Rust guest's own assertions.
macro_rules! in_every_language {
    ($($case:ident),* $(,)?) => {
        mod rust {
            $(#[tokio::test] async fn $case() { super::$case("rust").await })*
        }
        mod js {
            $(#[tokio::test] async fn $case() { super::$case("js").await })*
        }
        mod py {
            $(#[tokio::test] async fn $case() { super::$case("py").await })*
        }
    };
}

mod annature;
mod calendly;
mod communication_services;
mod direct;
mod html_to_text;
mod ibm_watson;
mod industrial_app_store;
mod items_transform;
mod nationalize;
mod telstra;
mod tulip;
mod vies;
