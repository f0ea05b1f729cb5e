//! Package folders and files: links are not followed, FIFOs and devices do
//! not block or flood loading, and a failed reload keeps the last good
//! version serving.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

fn shop(builder: TestGatewayBuilder, backend: std::net::SocketAddr) -> TestGatewayBuilder {
    builder.package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
}

#[tokio::test]
async fn a_symlinked_package_folder_is_not_served_as_its_target() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let builder = shop(TestGatewayBuilder::new(), backend).connection("shop", "c1", &[]).connection("evil", "c1", &[]);
    std::os::unix::fs::symlink(builder.packages_dir().join("shop"), builder.packages_dir().join("evil")).unwrap();
    let gateway = builder.start().await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
    let answer = gateway.get("/apim/evil/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (503, "connector-unavailable"), "{}", answer.text());
    assert!(answer.json()["detail"].as_str().unwrap().contains("symbolic link"), "{}", answer.text());
    assert_eq!(recorder.count(), 1, "only the real package called its backend");
}

#[tokio::test]
async fn a_script_linked_to_dev_zero_fails_fast() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let builder = shop(TestGatewayBuilder::new(), backend).connection("shop", "c1", &[]);
    std::os::unix::fs::symlink("/dev/zero", builder.packages_dir().join("shop/script.wasm")).unwrap();
    let gateway = tokio::time::timeout(Duration::from_secs(20), builder.start()).await.expect("loading ends");
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!(answer.problem_type(), "connector-unavailable");
    assert!(answer.json()["detail"].as_str().unwrap().contains("script.wasm"), "{}", answer.text());
}

#[tokio::test]
async fn a_fifo_in_a_package_does_not_block_reloading() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = shop(TestGatewayBuilder::new(), backend).connection("shop", "c1", &[]).start().await;
    let dir = gateway.packages_dir().join("piped");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("apiDefinition.swagger.json"), shop_definition(backend, json!({})).to_string()).unwrap();
    let made = std::process::Command::new("mkfifo").arg(dir.join("apiProperties.json")).status().unwrap();
    assert!(made.success());
    tokio::time::timeout(Duration::from_secs(20), gateway.gateway.default_environment().registry().reload())
        .await
        .expect("reload ends");
    assert_eq!(gateway.get("/apim/piped/c1/items").await.problem_type(), "connector-unavailable");
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
}

#[tokio::test]
async fn a_failed_reload_keeps_serving_the_last_good_version() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = shop(TestGatewayBuilder::new(), backend).connection("shop", "c1", &[]).start().await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
    std::fs::write(gateway.packages_dir().join("shop/apiDefinition.swagger.json"), "{ broken").unwrap();
    gateway.gateway.default_environment().registry().reload().await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200, "the last good version serves");
    let metrics = gateway.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"sluice_connector_stale{replica="tests",environment="default",connector="shop"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"sluice_connector_load_failures_total{replica="tests",environment="default",connector="shop"} 1"#
        ),
        "{metrics}"
    );
    let (ready, failed) = gateway.gateway.default_environment().registry().status();
    assert!(ready.contains(&"shop".to_string()) && failed.iter().any(|(id, _)| id == "shop"));
    assert!(log_lines("keeping the last good version").iter().any(|l| l.contains("shop")));
}
