//! Error text: bounded, redacted on every path out, and free of what
//! describes the gateway's machine; one log line per failure.

use serde_json::json;

use super::header_key;
use crate::support::*;

async fn shop_seeing_credentials(key: &str) -> (TestGateway, Recorder) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let (security, parameters) = header_key();
    let gateway = code_shop(
        TestGatewayBuilder::new(),
        backend,
        security,
        parameters,
        json!([]),
        "[code]\nsees_credentials = true\n",
    )
    .connection("shop", "c1", &[("api_key", key)])
    .start()
    .await;
    (gateway, recorder)
}

async fn get_with_id(gateway: &TestGateway, path: &str) -> (Answer, String) {
    let id = correlation();
    (gateway.send("GET", path, &[("x-correlation-id", id.as_str())], "").await, id)
}

#[tokio::test]
async fn messages_from_the_code_are_cut_to_a_few_kib() {
    let (gateway, _) = shop_seeing_credentials("dummy-key-0042").await;
    for kind in ["client", "upstream", "internal"] {
        let (answer, id) = get_with_id(&gateway, &format!("/apim/shop/c1/run/long-error?kind={kind}&n=20000000")).await;
        assert!(answer.body.len() < 8 << 10, "{kind}: a {} byte answer", answer.body.len());
        let logged: usize = log_lines(&id).iter().map(String::len).sum();
        assert!(logged < 16 << 10, "{kind}: {logged} bytes logged");
        if kind != "internal" {
            assert!(answer.json()["detail"].as_str().unwrap().contains("[cut:"), "{kind}");
        }
    }
}

#[tokio::test]
async fn a_panic_carrying_a_secret_is_redacted_in_the_answer_and_the_log() {
    let (gateway, _) = shop_seeing_credentials("panic-key-9876").await;
    let (answer, id) = get_with_id(&gateway, "/apim/shop/c1/run/panic-header?name=x-key").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (500, "code-trapped"));
    let detail = answer.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("the header says ***"), "{detail}");
    let lines = log_lines(&id);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| !l.contains("panic-key-9876")), "{lines:#?}");
}

#[tokio::test]
async fn internal_failures_and_the_codes_log_are_redacted() {
    let (gateway, _) = shop_seeing_credentials("log-key-1234").await;
    let (answer, id) = get_with_id(&gateway, "/apim/shop/c1/run/log-secret?name=x-key").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (500, "code-failed"));
    assert!(!answer.text().contains("log-key-1234"));
    let lines = log_lines(&id);
    assert!(lines.iter().any(|l| l.contains("the header is ***")), "{lines:#?}");
    assert!(lines.iter().all(|l| !l.contains("log-key-1234")), "{lines:#?}");
}

#[tokio::test]
async fn a_failed_call_is_logged_once_with_the_details_at_debug() {
    let (gateway, _) = shop_seeing_credentials("dummy-key-0042").await;
    let (answer, id) = get_with_id(&gateway, "/apim/shop/c1/run/panic").await;
    assert_eq!(answer.status, 500);
    let lines = log_lines(&id);
    let loud: Vec<&String> = lines.iter().filter(|l| l.contains(" ERROR ") || l.contains(" WARN ")).collect();
    assert_eq!(loud.len(), 1, "{lines:#?}");
    assert!(loud[0].contains("code-trapped"), "{}", loud[0]);
    assert!(lines.iter().any(|l| l.contains(" DEBUG ") && l.contains("panicked at")), "{lines:#?}");
}

#[tokio::test]
async fn a_trap_shows_the_client_no_wasm_backtrace() {
    let (gateway, _) = shop_seeing_credentials("dummy-key-0042").await;
    for action in ["panic", "recurse", "exit"] {
        let answer = gateway.get(&format!("/apim/shop/c1/run/{action}")).await;
        assert!(
            !answer.text().contains("wasm backtrace") && !answer.text().contains("0x"),
            "{action}: {}",
            answer.text()
        );
    }
}

#[tokio::test]
async fn a_broken_package_is_reported_without_the_gateways_folders() {
    let gateway = TestGatewayBuilder::new()
        .package("broken", json!({}), json!({}))
        .file("broken", "apiDefinition.swagger.json", "{ not json")
        .start()
        .await;
    let answer = gateway.get("/apim/broken/c1/items").await;
    assert_eq!(answer.problem_type(), "connector-unavailable");
    let detail = answer.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("apiDefinition.swagger.json") && detail.contains("line 1"), "{detail}");
    let folder = gateway.packages_dir().display().to_string();
    assert!(!detail.contains(&folder), "{detail}");
}

#[tokio::test]
async fn guest_log_lines_cannot_forge_a_line() {
    let (gateway, _) = shop_seeing_credentials("dummy-key-0042").await;
    let (answer, id) = get_with_id(&gateway, "/apim/shop/c1/run/forge-log").await;
    assert_eq!(answer.status, 200);
    let lines = log_lines(&id);
    assert!(lines.iter().any(|l| l.contains(r"fine\nERROR forged line")), "{lines:#?}");
    // No line of the log starts with the forged text.
    let all = log_lines("ERROR forged line");
    assert!(all.iter().all(|l| !l.starts_with("ERROR forged line")), "{all:#?}");
}

#[tokio::test]
async fn ids_from_the_url_cannot_forge_a_line() {
    let gateway = TestGatewayBuilder::new().start().await;
    let marker = correlation();
    let path = format!("/apim/x%0A2026-01-01T00:00:00Z%20ERROR%20{marker}/c1/items");
    let (answer, id) = get_with_id(&gateway, &path).await;
    assert_eq!(answer.status, 404);
    // The id reaches the log escaped, inside its call's line.
    let lines = log_lines(&marker);
    assert!(!lines.is_empty() && lines.iter().all(|l| l.contains(&id)), "{lines:#?}");
    assert!(lines.iter().all(|l| !l.starts_with("2026-01-01T00:00:00Z")), "{lines:#?}");
}

#[tokio::test]
async fn empty_log_lines_are_not_free() {
    let (gateway, _) = shop_seeing_credentials("dummy-key-0042").await;
    let answer = gateway.get("/apim/shop/c1/run/empty-logs").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (500, "log-limit"));
}

#[tokio::test]
async fn header_floods_and_informational_statuses_from_code_are_refused() {
    let (gateway, recorder) = shop_seeing_credentials("dummy-key-0042").await;
    let backend =
        gateway.gateway.default_environment().registry().get("shop").unwrap().package.definition.host.clone().unwrap();
    let flood = gateway.get(&format!("/apim/shop/c1/run/send-many-headers?n=24576&to=http://{backend}/v1/x")).await;
    assert_eq!(flood.json()["send_error"], "invalid-request", "{}", flood.text());
    assert_eq!(recorder.count(), 0);
    let answer = gateway.get("/apim/shop/c1/run/many-response-headers?n=300").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (500, "invalid-code-output"));
    for code in [100, 101] {
        let answer = gateway.get(&format!("/apim/shop/c1/run/status?code={code}")).await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (500, "invalid-code-output"), "{code}");
    }
}
