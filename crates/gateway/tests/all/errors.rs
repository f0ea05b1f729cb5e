//! Every error answer of the gateway: problem+json with a correlation id,
//! the documented status and a distinct type per cause.

use crate::support::*;
use serde_json::json;

async fn shop_with(script: Option<&str>, settings: Option<&str>) -> (TestGateway, Recorder, std::net::SocketAddr) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}});
    let mut builder = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, security), shop_properties(api_key_parameter(), None, json!([])))
        .connection("shop", "c1", &[("api_key", "k")])
        .max_body_bytes(1024);
    if let Some(script) = script {
        builder = builder.file("shop", "script.wasm", guest(script));
    }
    if let Some(settings) = settings {
        builder = builder.file("shop", "sluice.toml", settings);
    }
    (builder.start().await, recorder, backend)
}

#[tokio::test]
async fn unknown_connector_connection_and_operation_are_404_with_distinct_types() {
    let (gateway, _, _) = shop_with(None, None).await;
    let answer = gateway.get("/apim/nope/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-connector"));
    let answer = gateway.get("/apim/shop/nope/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-connection"));
    let answer = gateway.get("/apim/shop/c1/nothing/here").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-operation"));
    let json = answer.json();
    assert_eq!(json["correlation_id"], answer.headers["x-correlation-id"].to_str().unwrap());
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let (gateway, _, _) = shop_with(None, None).await;
    let answer = gateway.send("DELETE", "/apim/shop/c1/items", &[], "").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (405, "method-not-allowed"));
    assert_eq!(answer.headers["allow"], "GET");
}

#[tokio::test]
async fn client_correlation_id_is_kept() {
    let (gateway, _, _) = shop_with(None, None).await;
    let answer = gateway.send("GET", "/apim/nope/c1/x", &[("x-correlation-id", "abc-123")], "").await;
    assert_eq!(answer.headers["x-correlation-id"], "abc-123");
    assert_eq!(answer.json()["correlation_id"], "abc-123");
}

#[tokio::test]
async fn oversized_body_is_413_and_oversized_headers_431() {
    let (gateway, recorder, _) = shop_with(None, None).await;
    let answer =
        gateway.send("POST", "/apim/shop/c1/orders/1/lines?dryRun=1", &[("x-tenant", "t")], vec![b'x'; 1025]).await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (413, "body-too-large"));
    let big = "v".repeat(40 * 1024);
    let answer = gateway.send("GET", "/apim/shop/c1/items", &[("x-big", &big)], "").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (431, "headers-too-large"));
    assert_eq!(recorder.count(), 0);
}

#[tokio::test]
async fn backend_status_passes_through_without_code() {
    let (gateway, _, _) = shop_with(None, None).await;
    let answer = gateway.get("/apim/shop/c1/status/418").await;
    assert_eq!(answer.status, 418);
    assert_eq!(answer.json()["status"], 418);
}

#[tokio::test]
async fn redirect_is_returned_not_followed() {
    let (gateway, recorder, _) = shop_with(None, None).await;
    let answer = gateway.get("/apim/shop/c1/redirect").await;
    assert_eq!(answer.status, 302);
    assert_eq!(answer.headers["location"], "http://169.254.169.254/latest/meta-data");
    assert_eq!(recorder.count(), 1);
}

#[tokio::test]
async fn egress_denied_without_code_is_502_with_reason_and_counted() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .connection("shop", "c1", &[])
        .without_loopback_grant()
        .start()
        .await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (502, "egress-denied"));
    assert!(answer.json()["detail"].as_str().unwrap().contains("127.0.0.1"), "{}", answer.text());
    assert_eq!(recorder.count(), 0, "nothing left");
    let metrics = gateway.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"sluice_egress_denials_total{replica="tests",environment="default",connector="shop",operation="ListItems",kind="direct"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn egress_denial_reaches_code_as_typed_error() {
    let (gateway, recorder, _) = shop_with(Some("misbehave"), None).await;
    let answer = gateway.get("/apim/shop/c1/run/send?to=http://169.254.169.254/latest").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["send_error"], "denied");
    assert_eq!(recorder.count(), 0);
    let metrics = gateway.get("/metrics").await.text();
    assert!(
        metrics.contains(
            r#"sluice_egress_denials_total{replica="tests",environment="default",connector="shop",operation="Run",kind="code"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn unreachable_backend_is_502() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(closed, json!({})), shop_properties(json!({}), None, json!([])))
        .connection("shop", "c1", &[])
        .start()
        .await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (502, "backend-failed"));
}

#[tokio::test]
async fn slow_backend_without_code_is_504() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .connection("shop", "c1", &[])
        .backend_timeout(std::time::Duration::from_millis(200))
        .start()
        .await;
    let answer = gateway.get("/apim/shop/c1/slow").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (504, "backend-timeout"));
}

#[tokio::test]
async fn code_client_error_keeps_its_status_and_message() {
    let (gateway, _, _) = shop_with(Some("misbehave"), None).await;
    let answer = gateway.get("/apim/shop/c1/run/client-error").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "code-client-error"));
    assert!(answer.json()["detail"].as_str().unwrap().contains("`name` is required"));
}

#[tokio::test]
async fn code_upstream_and_internal_failures_map_to_502_and_500() {
    let (gateway, _, _) = shop_with(Some("misbehave"), None).await;
    let answer = gateway.get("/apim/shop/c1/run/upstream").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (502, "code-upstream-error"));
    let answer = gateway.get("/apim/shop/c1/run/fail").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (500, "code-failed"));
    assert!(!answer.text().contains("something broke"), "internal detail is not shown: {}", answer.text());
}

#[tokio::test]
async fn sandbox_stops_map_to_distinct_5xx_types() {
    let settings = "[limits]\nfuel = 20000000\nmemory_bytes = 16777216\ndeadline = \"2s\"\n";
    let (gateway, _, _) = shop_with(Some("misbehave"), Some(settings)).await;
    let cases = [
        ("loop", 500, "fuel-exhausted"),
        ("grow", 500, "memory-limit"),
        ("panic", 500, "code-trapped"),
        ("bad-status", 500, "invalid-code-output"),
        ("log-flood", 500, "log-limit"),
    ];
    for (action, status, kind) in cases {
        let answer = gateway.get(&format!("/apim/shop/c1/run/{action}")).await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (status, kind), "{action}");
    }
    let metrics = gateway.get("/metrics").await.text();
    assert!(
        metrics.contains(
            r#"sluice_code_stops_total{replica="tests",environment="default",connector="shop",operation="Run",kind="fuel-exhausted"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn deadline_is_504() {
    let settings = "[limits]\ndeadline = \"300ms\"\n";
    let (gateway, _, backend) = shop_with(Some("misbehave"), Some(settings)).await;
    let answer = gateway.get(&format!("/apim/shop/c1/run/send?to=http://{backend}/v1/slow")).await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (504, "deadline-exceeded"));
}

#[tokio::test]
async fn connection_missing_required_parameter_is_refused_naming_it() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(api_key_parameter(), None, json!([])))
        .connection("shop", "c1", &[])
        .start()
        .await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-connection"));
    assert!(answer.json()["detail"].as_str().unwrap().contains("required parameter `api_key`"), "{}", answer.text());
}

#[tokio::test]
async fn secret_from_unset_environment_variable_is_refused_without_naming_the_variable() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(api_key_parameter(), None, json!([])))
        .connection_from_env("shop", "c1", "api_key", "SLUICE_TEST_UNSET_VARIABLE_42")
        .start()
        .await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-connection"));
    // The parameter is named; the gateway's environment variable is the
    // operator's business, and only the log names it.
    let detail = answer.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("parameter `api_key`"), "{detail}");
    assert!(!detail.contains("SLUICE_TEST_UNSET_VARIABLE_42"), "{detail}");
}

#[tokio::test]
async fn secrets_are_redacted_from_code_error_messages() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}});
    let settings = "[code]\nsees_credentials = true\n";
    let gateway = code_shop(TestGatewayBuilder::new(), backend, security, api_key_parameter(), json!([]), settings)
        .connection("shop", "c1", &[("api_key", "leaky-secret-value")])
        .start()
        .await;
    // The code can see the key here and echoes headers; its response is its
    // own business, but error details and logs must not carry the key.
    let answer = gateway.get("/apim/shop/c1/run/headers").await;
    assert_eq!(answer.status, 200);
    let connection = gateway.gateway.default_environment().registry().get("shop").unwrap().connections["c1"]
        .as_ref()
        .unwrap()
        .connection
        .clone();
    assert_eq!(connection.redact("key=leaky-secret-value!"), "key=***!");
    assert_eq!(format!("{:?}", connection), format!("{:?}", connection).replace("leaky-secret-value", "***"));
}
