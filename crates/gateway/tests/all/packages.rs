//! Loading packages: the real packages of `examples/`, a broken package beside
//! a good one, and hot reload with a call in flight.

use std::time::Duration;

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn all_ten_real_packages_load_and_route() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let mut builder = TestGatewayBuilder::new();
    assert_eq!(EXAMPLE_CONNECTORS.len(), 10);
    for name in EXAMPLE_CONNECTORS {
        builder = builder.package_from(&examples().join(name), Some(backend));
    }
    let gateway = builder.connection("Nationalize.io", "n1", &[("api_key", "nk")]).start().await;
    let (ready, failed) = gateway.gateway.default_environment().registry().status();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(ready.len(), 10, "{ready:?}");
    // A package without code forwards: Nationalize's one operation, API key in the query.
    let answer = gateway.get("/apim/Nationalize.io/n1/?name=ann").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = recorder.last();
    assert!(seen.path_and_query.contains("apikey=nk"), "{}", seen.path_and_query);
}

#[tokio::test]
async fn broken_package_is_reported_and_does_not_stop_the_others() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .package("broken", json!({}), json!({}))
        .file("broken", "apiDefinition.swagger.json", "{ not json")
        .package("badcode", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .file("badcode", "script.wasm", b"garbage")
        .connection("shop", "c1", &[])
        .start()
        .await;
    let answer = gateway.get("/apim/broken/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (503, "connector-unavailable"));
    let detail = answer.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("broken") && detail.contains("apiDefinition.swagger.json"), "{detail}");
    let answer = gateway.get("/apim/badcode/c1/items").await;
    assert!(answer.json()["detail"].as_str().unwrap().contains("script.wasm"), "{}", answer.text());
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
}

#[tokio::test]
async fn reload_keeps_calls_in_flight_on_their_version() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let builder = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .connection("shop", "c1", &[]);
    let dir = builder.packages_dir().to_path_buf();
    let gateway = std::sync::Arc::new(builder.start().await);
    let in_flight = tokio::spawn({
        let gateway = std::sync::Arc::clone(&gateway);
        async move { gateway.get("/apim/shop/c1/slow").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A new version drops the Slow operation; remove a package too.
    let mut definition = shop_definition(backend, json!({}));
    definition["paths"].as_object_mut().unwrap().remove("/slow");
    definition["info"]["version"] = json!("2.0");
    std::fs::write(dir.join("shop/apiDefinition.swagger.json"), serde_json::to_vec(&definition).unwrap()).unwrap();
    gateway.gateway.default_environment().registry().reload().await;
    let answer = in_flight.await.unwrap();
    assert_eq!((answer.status, answer.text().as_str()), (200, "slow answer"), "the call finished on its version");
    let answer = gateway.get("/apim/shop/c1/slow").await;
    assert_eq!(answer.status, 404, "new calls see the new version");
}

#[tokio::test]
async fn watcher_picks_up_added_changed_and_removed_packages() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let builder = TestGatewayBuilder::new();
    let dir = builder.packages_dir().to_path_buf();
    let gateway = builder.connection("shop", "c1", &[]).start().await;
    gateway.gateway.default_environment().registry().watch().unwrap();
    assert!(
        gateway
            .gateway
            .default_environment()
            .registry()
            .get("shop")
            .is_err_and(|e| matches!(e, sluice_gateway::registry::LookupError::Missing { .. }))
    );

    let staging = tempfile::tempdir().unwrap();
    let package = staging.path().join("shop");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(
        package.join("apiDefinition.swagger.json"),
        serde_json::to_vec(&shop_definition(backend, json!({}))).unwrap(),
    )
    .unwrap();
    std::fs::write(
        package.join("apiProperties.json"),
        serde_json::to_vec(&shop_properties(json!({}), None, json!([]))).unwrap(),
    )
    .unwrap();
    std::fs::rename(&package, dir.join("shop")).unwrap();
    wait_until(|| gateway.gateway.default_environment().registry().get("shop").is_ok()).await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);

    std::fs::remove_dir_all(dir.join("shop")).unwrap();
    wait_until(|| {
        gateway
            .gateway
            .default_environment()
            .registry()
            .get("shop")
            .is_err_and(|e| matches!(e, sluice_gateway::registry::LookupError::Missing { .. }))
    })
    .await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 404);
}

async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached within 10 s");
}

/// A package whose code is the platform's C#: its code operation answers 501
/// naming the operation, and is never forwarded as if it had no code; its
/// other operation still reaches the backend.
#[tokio::test]
async fn code_that_was_not_ported_answers_501_and_is_never_forwarded() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package_from(&test_package("csx-only"), Some(backend))
        .connection("csx-only", "c1", &[])
        .start()
        .await;
    let package = &gateway.gateway.default_environment().registry().get("csx-only").unwrap().package;
    assert!(package.warnings.iter().any(|w| w.contains("501 `code-not-ported`")), "{:?}", package.warnings);
    let answer = gateway.send("POST", "/apim/csx-only/c1/convert", &[("content-type", "application/json")], "{}").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (501, "code-not-ported"), "{}", answer.text());
    let detail = answer.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("`Convert`") && detail.contains("sluice new --from-csx"), "{detail}");
    assert_eq!(recorder.count(), 0, "the code operation was not forwarded");
    let status = gateway.get("/apim/csx-only/c1/status").await;
    assert_eq!(status.status, 200, "{}", status.text());
    assert_eq!(recorder.last().path_and_query, "/v1/status");
}
