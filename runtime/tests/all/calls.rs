//! Calling code: isolation between calls, the contract's imports (send,
//! log, context), and the errors code returns.

use std::sync::atomic::Ordering;

use crate::support::*;
use bytes::Bytes;
use sluice_runtime::{CallError, Limits, LogLevel, LogSource, SendError};

#[tokio::test]
async fn static_counter_sees_one_on_every_call() {
    let connector = load("misbehave", Limits::default());
    for _ in 0..3 {
        assert_eq!(body_text(&call(&connector, "/count").await), "1");
    }
}

#[tokio::test]
async fn send_reaches_backend_and_response_comes_back_transformed() {
    let connector = load("items-transform", Limits::default());
    let backend = FakeBackend::new(|call, request| {
        assert_eq!(request.headers()["x-sluice"], "1");
        assert_eq!(&*call.operation_id, "TestOperation");
        let items = r#"[{"id":1,"name":"item1","ok":true},{"id":2,"name":"item2","ok":false}]"#;
        Ok(http::Response::builder().header("content-type", "application/json").body(Bytes::from(items)).unwrap())
    });
    let output = connector.call(invocation("/items"), backend.clone()).await;
    let body: serde_json::Value = serde_json::from_str(&body_text(&output)).unwrap();
    assert_eq!(body["count"], 2);
    assert_eq!(body["items"][1]["name"], "item2");
    let sent = backend.requests.lock().unwrap();
    assert_eq!(sent[0].uri(), "https://api.contoso.example/items");
    assert_eq!(sent[0].headers()["x-test"], "yes", "the client's headers go through");
    assert_eq!(output.report.backend_calls.len(), 1);
    assert_eq!(output.report.backend_calls[0].outcome, Ok(200));
}

#[tokio::test]
async fn backend_error_status_passes_through_the_transform() {
    let connector = load("items-transform", Limits::default());
    let output = connector.call(invocation("/items"), FakeBackend::answering(404, "no such list")).await;
    let response = output.result.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.body(), "no such list");
}

#[tokio::test]
async fn invalid_backend_json_becomes_upstream_error() {
    let connector = load("items-transform", Limits::default());
    let output = connector.call(invocation("/items"), FakeBackend::answering(200, "<html>")).await;
    match output.result.unwrap_err() {
        CallError::Upstream(message) => assert!(message.contains("invalid JSON"), "{message}"),
        other => panic!("expected an upstream error, got {other:?}"),
    }
}

#[tokio::test]
async fn denied_send_reaches_guest_as_typed_error() {
    let connector = load("misbehave", Limits::default());
    let backend = FakeBackend::new(|_, request| {
        Err(SendError::Denied(format!("{} is not in the allowlist", request.uri().host().unwrap_or_default())))
    });
    let output = connector.call(invocation("/send?to=http://169.254.169.254/latest"), backend).await;
    let body: serde_json::Value = serde_json::from_str(&body_text(&output)).unwrap();
    assert_eq!(body["send_error"], "denied");
    assert_eq!(body["reason"], "169.254.169.254 is not in the allowlist");
    let record = &output.report.backend_calls[0];
    assert!(record.outcome.as_ref().unwrap_err().contains("denied"), "the host records the denial");
}

#[tokio::test]
async fn malformed_send_reaches_guest_as_invalid_request_without_leaving() {
    let connector = load("misbehave", Limits::default());
    let backend = FakeBackend::answering(200, "never");
    let output = connector.call(invocation("/send?to=not-a-url"), backend.clone()).await;
    let body: serde_json::Value = serde_json::from_str(&body_text(&output)).unwrap();
    assert_eq!(body["send_error"], "invalid-request");
    assert_eq!(backend.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn send_response_reaches_guest() {
    let connector = load("misbehave", Limits::default());
    let output =
        connector.call(invocation("/send?to=https://api.contoso.example/x"), FakeBackend::answering(201, "made")).await;
    assert_eq!(body_text(&output), "201:MADE");
}

#[tokio::test]
async fn context_carries_ids_url_and_time_left() {
    let connector = load("misbehave", Limits::default());
    let output = connector
        .call(invocation_with_body("/context", Bytes::from_static(b"hi")), FakeBackend::answering(200, ""))
        .await;
    let body: serde_json::Value = serde_json::from_str(&body_text(&output)).unwrap();
    assert_eq!(body["connector"], "misbehave");
    assert_eq!(body["operation"], "TestOperation");
    assert_eq!(body["correlation"], "corr-1");
    assert_eq!(body["original_url"], "http://127.0.0.1:8080/apim/test/conn/context");
    assert_eq!(body["header"], "yes");
    assert_eq!(body["body"], "hi");
    let left = body["time_left_ms"].as_u64().unwrap();
    assert!(left > 0 && left <= 5000, "{left}");
}

#[tokio::test]
async fn log_lines_stdout_and_stderr_reach_the_report() {
    let connector = load("misbehave", Limits::default());
    let output = call(&connector, "/log").await;
    assert_eq!(body_text(&output), "logged");
    let lines: Vec<(LogLevel, LogSource, &str)> =
        output.report.logs.iter().map(|l| (l.level, l.source, l.message.as_str())).collect();
    assert_eq!(
        lines,
        [
            (LogLevel::Info, LogSource::Log, "info line 1"),
            (LogLevel::Warn, LogSource::Log, "warn line"),
            (LogLevel::Info, LogSource::Stdout, "to stdout"),
            (LogLevel::Error, LogSource::Stderr, "to stderr"),
        ]
    );
}

#[tokio::test]
async fn client_error_keeps_status_and_message() {
    let connector = load("misbehave", Limits::default());
    let output = call(&connector, "/client-error").await;
    assert_eq!(output.result.unwrap_err(), CallError::Client { status: 400, message: "`name` is required".into() });
}

#[tokio::test]
async fn guest_errors_keep_their_kind() {
    let connector = load("misbehave", Limits::default());
    assert_eq!(
        call(&connector, "/upstream").await.result.unwrap_err(),
        CallError::Upstream("the backend said no".into())
    );
    assert_eq!(call(&connector, "/fail").await.result.unwrap_err(), CallError::Internal("something broke".into()));
}

#[tokio::test]
async fn invalid_guest_output_is_its_own_error() {
    let connector = load("misbehave", Limits::default());
    for path in ["/bad-status", "/not-4xx"] {
        let error = call(&connector, path).await.result.unwrap_err();
        assert!(matches!(error, CallError::InvalidOutput(_)), "{path}: {error:?}");
    }
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn concurrent_calls_are_isolated() {
    let connector = load("misbehave", Limits::default());
    let calls = (0..8).map(|_| {
        let connector = connector.clone();
        tokio::spawn(async move { body_text(&call(&connector, "/count").await) })
    });
    for handle in calls {
        assert_eq!(handle.await.unwrap(), "1");
    }
}
