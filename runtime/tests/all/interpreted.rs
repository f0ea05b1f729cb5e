//! JavaScript and Python guests (StarlingMonkey and CPython components of
//! 12-18 MB): the same limits and typed errors as a Rust guest, the
//! package's assets read-only, and their size limit. Every case runs for
//! both languages, on `guests-js/hostile` and `guests-py/hostile`, which
//! pick their behaviour by the operation id.

use std::path::Path;

use bytes::Bytes;
use sluice_runtime::{CallError, CallOutput, Connector, GuestKind, Invocation, Limits, LoadError, LoadOptions};

use crate::support::*;

/// Loads a language's hostile guest with these limits and assets.
fn hostile(language: &str, limits: Limits, assets: Option<&Path>) -> Connector {
    let code = sluice_test_programs::interpreted_bytes(language, "hostile");
    let options = assets.map(LoadOptions::with_assets).unwrap_or_default();
    runtime().load_with(&format!("hostile-{language}"), &code, limits, options).expect("the hostile guest loads")
}

/// Calls operation `operation` of the guest, with a backend answering a
/// JSON array of two items.
async fn run(connector: &Connector, operation: &str) -> CallOutput {
    let invocation = Invocation {
        operation_id: operation.into(),
        correlation_id: "corr-1".into(),
        original_url: "http://127.0.0.1:8080/apim/hostile/c1/items".into(),
        request: http::Request::post("https://api.contoso.example/items?limit=2")
            .header("x-test", "yes")
            .body(Bytes::from_static(b"{\"q\":1}"))
            .expect("request"),
    };
    let backend = FakeBackend::new(|_, _| {
        Ok(http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Bytes::from_static(br#"[{"id":1,"name":"one","ok":true},{"id":2,"name":"two","ok":false}]"#))
            .expect("response"))
    });
    connector.call(invocation, backend).await
}

fn status_and_body(output: &CallOutput) -> (u16, String) {
    match &output.result {
        Ok(response) => (response.status().as_u16(), String::from_utf8_lossy(response.body()).into_owned()),
        Err(error) => panic!("call failed: {error}; logs: {:?}", output.report.logs),
    }
}

/// After any failure the connector still serves: a fresh instance per call.
async fn next_call_succeeds(connector: &Connector) {
    let (status, body) = status_and_body(&run(connector, "Echo").await);
    assert_eq!(status, 200, "{body}");
}

/// Defines one test per language for an async case taking the language.
macro_rules! both_languages {
    ($($case:ident),* $(,)?) => {
        mod js {
            $(#[tokio::test] async fn $case() { super::$case("js").await })*
        }
        mod py {
            $(#[tokio::test] async fn $case() { super::$case("py").await })*
        }
    };
}

both_languages!(
    is_recognised_as_an_interpreter_and_runs_the_canonical_transform,
    an_endless_loop_runs_out_of_fuel,
    growing_memory_stops_at_the_memory_limit,
    an_uncaught_exception_is_an_internal_error_carrying_its_message,
    a_client_error_is_a_4xx_with_its_message,
    a_log_flood_stops_at_the_log_limit,
    assets_are_readable,
    a_missing_asset_is_the_languages_not_found_error,
    assets_cannot_be_written_or_created,
    dot_dot_and_links_cannot_leave_the_assets,
    without_assets_there_is_no_filesystem,
);

async fn is_recognised_as_an_interpreter_and_runs_the_canonical_transform(language: &str) {
    let connector = hostile(language, Limits::default(), None);
    let expected = if language == "js" { GuestKind::JavaScript } else { GuestKind::Python };
    assert_eq!(connector.kind(), expected);
    let output = run(&connector, "Transform").await;
    let (status, body) = status_and_body(&output);
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["count"], 2, "{body}");
    assert_eq!(json["items"][1]["name"], "two", "{body}");
    let fuel = output.report.fuel_consumed.expect("fuel is metered");
    assert!(fuel < Limits::default().fuel / 100, "the transform takes {fuel} fuel, a hundredth of the default at most");
    assert!(
        output.report.peak_memory_bytes < Limits::default().memory_bytes / 2,
        "the transform peaks at {} bytes, half the default limit at most",
        output.report.peak_memory_bytes
    );
}

async fn an_endless_loop_runs_out_of_fuel(language: &str) {
    let connector = hostile(language, Limits { fuel: 50_000_000, ..Limits::default() }, None);
    let output = run(&connector, "Loop").await;
    assert_eq!(output.result.unwrap_err(), CallError::FuelExhausted { limit: 50_000_000 });
    next_call_succeeds(&connector).await;
}

async fn growing_memory_stops_at_the_memory_limit(language: &str) {
    let limit = 48 << 20;
    let connector = hostile(language, Limits { memory_bytes: limit, ..Limits::default() }, None);
    let output = run(&connector, "Grow").await;
    match output.result.unwrap_err() {
        CallError::MemoryLimit { requested, limit: reported } => {
            assert_eq!(reported, limit);
            assert!(requested > limit);
        }
        other => panic!("expected the memory error, got {other:?}; logs {:?}", output.report.logs),
    }
    assert!(output.report.peak_memory_bytes <= limit);
    next_call_succeeds(&connector).await;
}

async fn an_uncaught_exception_is_an_internal_error_carrying_its_message(language: &str) {
    let connector = hostile(language, Limits::default(), None);
    let output = run(&connector, "Throw").await;
    match output.result.unwrap_err() {
        CallError::Internal(message) => {
            assert!(message.contains("boom: the guest failed on purpose"), "{message}")
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
    next_call_succeeds(&connector).await;
}

async fn a_client_error_is_a_4xx_with_its_message(language: &str) {
    let connector = hostile(language, Limits::default(), None);
    let output = run(&connector, "ClientError").await;
    assert_eq!(output.result.unwrap_err(), CallError::Client { status: 422, message: "name is required".into() });
}

async fn a_log_flood_stops_at_the_log_limit(language: &str) {
    let connector = hostile(language, Limits { log_bytes: 16 << 10, ..Limits::default() }, None);
    let output = run(&connector, "LogFlood").await;
    assert_eq!(output.result.unwrap_err(), CallError::LogLimit { limit: 16 << 10 });
    let logged: usize = output.report.logs.iter().map(|l| l.message.len()).sum();
    assert!(logged <= 16 << 10, "{logged} bytes kept");
    assert!(!output.report.logs.is_empty(), "the lines before the limit are kept");
    next_call_succeeds(&connector).await;
}

/// A package's assets folder with `greeting.txt`, and beside it (outside
/// the assets) a secret the code must not reach.
fn assets_folder() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    let assets = root.path().join("assets");
    std::fs::create_dir(&assets).expect("assets");
    std::fs::write(assets.join("greeting.txt"), "hello from the assets").expect("write");
    std::fs::write(root.path().join("secret.txt"), "not for the code").expect("write");
    root
}

async fn assets_are_readable(language: &str) {
    let root = assets_folder();
    let connector = hostile(language, Limits::default(), Some(&root.path().join("assets")));
    let (status, body) = status_and_body(&run(&connector, "ReadAsset").await);
    assert_eq!((status, body.as_str()), (200, "hello from the assets"));
}

async fn a_missing_asset_is_the_languages_not_found_error(language: &str) {
    let root = assets_folder();
    std::fs::remove_file(root.path().join("assets/greeting.txt")).expect("remove");
    let connector = hostile(language, Limits::default(), Some(&root.path().join("assets")));
    match run(&connector, "ReadAsset").await.result.unwrap_err() {
        CallError::Client { status: 404, message } => {
            assert!(message.to_lowercase().contains("no such file"), "{message}")
        }
        other => panic!("expected the guest's 404, got {other:?}"),
    }
}

async fn assets_cannot_be_written_or_created(language: &str) {
    let root = assets_folder();
    let connector = hostile(language, Limits::default(), Some(&root.path().join("assets")));
    match run(&connector, "WriteAsset").await.result.unwrap_err() {
        CallError::Client { status: 403, message } => assert!(!message.is_empty()),
        other => panic!("expected the guest's 403, got {other:?}"),
    }
    assert!(!root.path().join("assets/new.txt").exists(), "nothing was created");
    let greeting = std::fs::read_to_string(root.path().join("assets/greeting.txt")).expect("read");
    assert_eq!(greeting, "hello from the assets");
}

async fn dot_dot_and_links_cannot_leave_the_assets(language: &str) {
    let root = assets_folder();
    // A link inside the assets pointing out of them, to the secret beside.
    std::os::unix::fs::symlink(root.path().join("secret.txt"), root.path().join("assets/link.txt")).expect("link");
    let connector = hostile(language, Limits::default(), Some(&root.path().join("assets")));
    match run(&connector, "EscapeAsset").await.result.unwrap_err() {
        CallError::Client { status: 403, .. } => {}
        other => panic!("expected the guest's 403, got {other:?}"),
    }
}

async fn without_assets_there_is_no_filesystem(language: &str) {
    let connector = hostile(language, Limits::default(), None);
    match run(&connector, "ReadAsset").await.result.unwrap_err() {
        CallError::Client { status: 404, .. } => {}
        other => panic!("expected the guest's 404, got {other:?}"),
    }
}

#[tokio::test]
async fn python_sockets_refuse_every_use() {
    // CPython's C library links WASI sockets, so a Python guest imports
    // them (and loads); the call's WASI context refuses connecting, name
    // lookup and binding alike, and the standard library componentize-py
    // embeds has no `socket` module to try them with.
    let connector = hostile("py", Limits::default(), None);
    match run(&connector, "Socket").await.result.unwrap_err() {
        CallError::Client { status: 403, message } => {
            let refused = message.starts_with("no sockets: ") || message.matches("; ").count() == 2;
            assert!(refused, "{message}")
        }
        other => panic!("expected the guest's 403, got {other:?}"),
    }
}

#[tokio::test]
async fn interpreter_guests_have_a_size_limit_of_their_own() {
    let code = sluice_test_programs::interpreted_bytes("js", "items-transform");
    let config = sluice_runtime::RuntimeConfig { max_interpreter_code_bytes: code.len() - 1, ..test_config() };
    let runtime = sluice_runtime::Runtime::new(config).expect("runtime");
    match runtime.load("items", &code, Limits::default()).unwrap_err() {
        LoadError::CodeTooLarge { size, limit, kind, .. } => {
            assert_eq!((size, limit, kind), (code.len(), code.len() - 1, GuestKind::JavaScript));
        }
        other => panic!("expected the size error, got {other}"),
    }
    // The compiled-code limit does not apply to an interpreter guest, and
    // the interpreter limit does not apply to compiled code.
    let runtime = sluice_runtime::Runtime::new(test_config()).expect("runtime");
    assert!(code.len() > test_config().max_code_bytes);
    runtime.load("items", &code, Limits::default()).expect("a 12 MB JavaScript guest loads");
    let rust = guest("misbehave");
    let config = sluice_runtime::RuntimeConfig { max_code_bytes: rust.len() - 1, ..test_config() };
    let error = sluice_runtime::Runtime::new(config).expect("runtime").load("m", &rust, Limits::default()).unwrap_err();
    assert!(error.to_string().contains("for compiled code"), "{error}");
}

#[tokio::test]
async fn an_assets_folder_that_is_not_a_folder_is_refused_at_load() {
    let root = assets_folder();
    let code = guest("misbehave");
    let file = root.path().join("secret.txt");
    let error = runtime().load_with("m", &code, Limits::default(), LoadOptions::with_assets(&file)).unwrap_err();
    assert!(matches!(error, LoadError::Assets { .. }), "{error}");
    assert!(error.to_string().contains("not a directory"), "{error}");
    let missing = root.path().join("nothing");
    let error = runtime().load_with("m", &code, Limits::default(), LoadOptions::with_assets(&missing)).unwrap_err();
    assert!(matches!(error, LoadError::Assets { .. }), "{error}");
}
