//! Limits that keep one connector, one call or one client from taking
//! everything: package limits with maxima, slots per connector, a memory
//! budget for all calls, and calls whose client left (the deadline under
//! load has a test binary of its own, `tests/deadline.rs`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn limits_past_their_maxima_are_load_errors_naming_the_maximum() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    for (settings, field) in [
        ("[limits]\ndeadline = \"1000000000years\"\n", "deadline"),
        ("[limits]\nbackend_calls = 1000000\n", "backend_calls"),
        ("[limits]\nresponse_body_bytes = 1000000000000\n", "response_body_bytes"),
        ("[limits]\nmemory_bytes = 100000000000\n", "memory_bytes"),
    ] {
        let gateway = plain_code_shop(backend, settings).start().await;
        let answer = gateway.get("/apim/shop/c1/run/ok").await;
        assert_eq!(answer.problem_type(), "connector-unavailable", "{field}");
        let detail = answer.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(field) && detail.contains("maximum"), "{field}: {detail}");
    }
}

#[tokio::test]
async fn one_connector_with_a_slow_backend_cannot_take_every_slot() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let builder = code_package(plain_code_shop(backend, ""), "other", backend, json!({}), json!({}), json!([]), "")
        .connection("other", "c1", &[])
        .runtime(|r| r.max_calls_per_connector = 2);
    let gateway = Arc::new(builder.start().await);
    let slow = format!("/apim/shop/c1/run/send?to=http://{backend}/v1/slow");
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let (gateway, slow) = (Arc::clone(&gateway), slow.clone());
            tokio::spawn(async move { gateway.get(&slow).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The other connector still has its slots.
    assert_eq!(gateway.get("/apim/other/c1/run/ok").await.status, 200);
    let mut statuses = Vec::new();
    for call in calls {
        let answer = call.await.unwrap();
        if answer.status == 503 {
            assert_eq!(answer.problem_type(), "no-capacity");
            assert_eq!(answer.headers["retry-after"], "1");
        }
        statuses.push(answer.status);
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 503, 503]);
}

#[tokio::test]
async fn all_calls_share_one_memory_budget() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = plain_code_shop(backend, "").runtime(|r| r.max_total_memory_bytes = 8 << 20).start().await;
    // The code grows toward its own 64 MiB limit; the 8 MiB budget stops it
    // first, as "try again", not as the code's fault.
    let answer = gateway.get("/apim/shop/c1/run/grow").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (503, "no-capacity"), "{}", answer.text());
    assert_eq!(answer.headers["retry-after"], "1");
    assert_eq!(gateway.get("/apim/shop/c1/run/ok").await.status, 200, "the budget was given back");
}

#[tokio::test]
async fn a_call_whose_client_left_is_counted_and_logged_once() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = plain_code_shop(backend, "").start().await;
    let id = correlation();
    let path = format!("/apim/shop/c1/run/send?to=http://{backend}/v1/slow");
    let left = tokio::time::timeout(
        Duration::from_millis(300),
        gateway.send("GET", &path, &[("x-correlation-id", id.as_str())], ""),
    )
    .await;
    assert!(left.is_err(), "the client gave up first");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = gateway.get("/metrics").await.text();
    assert!(
        metrics.contains(
            r#"sluice_client_closed_total{replica="tests",environment="default",connector="shop",operation="Run"} 1"#
        ),
        "{metrics}"
    );
    let lines: Vec<String> = log_lines(&id).into_iter().filter(|l| l.contains("client-closed")).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
}
