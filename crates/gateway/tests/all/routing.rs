//! The gateway end to end on loopback: routing of path templates and
//! parameters, each credential type reaching the backend, and custom code on
//! and off per `scriptOperations`.

use crate::support::*;
use serde_json::json;

async fn shop(
    security: serde_json::Value,
    parameters: serde_json::Value,
    values: &[(&str, &str)],
) -> (TestGateway, Recorder) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, security), shop_properties(parameters, None, json!([])))
        .connection("shop", "c1", values)
        .start()
        .await;
    (gateway, recorder)
}

fn api_key_header() -> serde_json::Value {
    json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}})
}

#[tokio::test]
async fn path_template_query_headers_and_body_reach_the_backend() {
    let (gateway, recorder) = shop(api_key_header(), api_key_parameter(), &[("api_key", "k1")]).await;
    let answer = gateway
        .send(
            "POST",
            "/apim/shop/c1/orders/A%2F7/lines?dryRun=true&extra=1",
            &[("x-tenant", "t9"), ("content-type", "application/json")],
            r#"{"sku":"x"}"#,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = recorder.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path_and_query, "/v1/orders/A%2F7/lines?dryRun=true&extra=1");
    assert_eq!(seen.headers["x-tenant"], "t9");
    assert_eq!(seen.body, r#"{"sku":"x"}"#);
    assert!(answer.headers.contains_key("x-correlation-id"));
}

#[tokio::test]
async fn literal_path_and_templated_path_route_to_their_operations() {
    let (gateway, recorder) = shop(api_key_header(), api_key_parameter(), &[("api_key", "k1")]).await;
    assert_eq!(gateway.get("/apim/shop/c1/orders/42").await.status, 200);
    assert_eq!(recorder.last().path_and_query, "/v1/orders/42");
    assert_eq!(gateway.get("/apim/shop/c1/items/").await.status, 200);
    assert_eq!(recorder.last().path_and_query, "/v1/items");
}

#[tokio::test]
async fn missing_required_query_and_header_parameters_are_400_naming_them() {
    let (gateway, recorder) = shop(api_key_header(), api_key_parameter(), &[("api_key", "k1")]).await;
    let answer = gateway.send("POST", "/apim/shop/c1/orders/1/lines", &[("x-tenant", "t")], "{}").await;
    assert_eq!(answer.status, 400);
    assert!(answer.json()["detail"].as_str().unwrap().contains("query parameter `dryRun`"), "{}", answer.text());
    let answer = gateway.send("POST", "/apim/shop/c1/orders/1/lines?dryRun=1", &[], "{}").await;
    assert_eq!(answer.status, 400);
    assert!(answer.json()["detail"].as_str().unwrap().contains("`X-Tenant`"), "{}", answer.text());
    assert_eq!(recorder.count(), 0, "nothing reached the backend");
}

#[tokio::test]
async fn api_key_in_header_reaches_backend() {
    let (gateway, recorder) = shop(api_key_header(), api_key_parameter(), &[("api_key", "secret-1")]).await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
    assert_eq!(recorder.last().headers["x-api-key"], "secret-1");
}

#[tokio::test]
async fn api_key_in_query_reaches_backend() {
    let security = json!({"API Key": {"type": "apiKey", "in": "query", "name": "apikey"}});
    let (gateway, recorder) = shop(security, api_key_parameter(), &[("api_key", "secret-2")]).await;
    assert_eq!(gateway.get("/apim/shop/c1/items?limit=3").await.status, 200);
    assert_eq!(recorder.last().path_and_query, "/v1/items?limit=3&apikey=secret-2");
}

#[tokio::test]
async fn basic_auth_reaches_backend() {
    let security = json!({"basic-auth": {"type": "basic"}});
    let parameters = json!({
        "username": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}},
        "password": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}
    });
    let (gateway, recorder) = shop(security, parameters, &[("username", "ann"), ("password", "pw")]).await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
    assert_eq!(recorder.last().headers["authorization"], "Basic YW5uOnB3");
}

#[tokio::test]
async fn oauth_bearer_token_reaches_backend() {
    let security = json!({"oauth2_auth": {"type": "oauth2", "flow": "accessCode",
        "authorizationUrl": "https://login.example/authorize", "tokenUrl": "https://login.example/token", "scopes": {}}});
    let parameters = json!({"token": {"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2", "clientId": "x", "scopes": [], "redirectMode": "GlobalPerConnector"}}});
    let (gateway, recorder) = shop(security, parameters, &[("token", "tok-3")]).await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
    assert_eq!(recorder.last().headers["authorization"], "Bearer tok-3");
}

async fn shop_with_code(script_operations: Option<&[&str]>) -> (TestGateway, Recorder) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package(
            "shop",
            shop_definition(backend, api_key_header()),
            shop_properties(api_key_parameter(), script_operations, json!([])),
        )
        .file("shop", "script.wasm", guest("items-transform"))
        .connection("shop", "c1", &[("api_key", "k")])
        .start()
        .await;
    (gateway, recorder)
}

#[tokio::test]
async fn code_runs_only_for_listed_script_operations() {
    let (gateway, recorder) = shop_with_code(Some(&["ListItems"])).await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!(answer.json()["count"], 20, "ListItems runs the code");
    assert_eq!(recorder.last().headers["x-sluice"], "1");
    let answer = gateway.get("/apim/shop/c1/orders/5").await;
    assert_eq!(answer.json()["path"], "/v1/orders/5", "GetOrder runs no code");
    assert!(!recorder.last().headers.contains_key("x-sluice"));
    let metrics = gateway.get("/metrics").await.text();
    assert!(
        metrics.contains(
            r#"sluice_code_invocations_total{replica="tests",environment="default",connector="shop",operation="ListItems"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains(r#"operation="GetOrder"} 1"#)
            || !metrics
                .contains("code_invocations_total{environment=\"default\",connector=\"shop\",operation=\"GetOrder\"")
    );
}

#[tokio::test]
async fn absent_or_empty_script_operations_run_code_for_all_operations() {
    for script_operations in [None, Some(&[][..])] {
        let (gateway, recorder) = shop_with_code(script_operations).await;
        gateway.get("/apim/shop/c1/orders/5").await;
        assert_eq!(recorder.last().headers["x-sluice"], "1", "{script_operations:?}");
    }
}

#[tokio::test]
async fn code_does_not_see_credentials_by_default_but_its_calls_carry_them() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = code_shop(TestGatewayBuilder::new(), backend, api_key_header(), api_key_parameter(), json!([]), "")
        .connection("shop", "c1", &[("api_key", "very-secret-key")])
        .start()
        .await;
    let answer = gateway.get("/apim/shop/c1/run/headers").await;
    assert!(!answer.text().contains("very-secret-key"), "the code saw the key: {}", answer.text());
    let to = format!("http://{backend}/v1/echo");
    let answer = gateway.get(&format!("/apim/shop/c1/run/send?to={to}")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(recorder.last().headers["x-api-key"], "very-secret-key", "the host put the key back");
}

#[tokio::test]
async fn code_sees_credentials_when_the_connector_says_so() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let settings = "[code]\nsees_credentials = true\n";
    let gateway =
        code_shop(TestGatewayBuilder::new(), backend, api_key_header(), api_key_parameter(), json!([]), settings)
            .connection("shop", "c1", &[("api_key", "visible-key")])
            .start()
            .await;
    let answer = gateway.get("/apim/shop/c1/run/headers").await;
    assert_eq!(answer.json()["headers"]["x-api-key"], "visible-key");
}

#[tokio::test]
async fn healthz_answers() {
    let gateway = TestGatewayBuilder::new().start().await;
    let answer = gateway.get("/healthz").await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "ok"));
}

/// A `HEAD` call answers as the router answers one: the length of the
/// answer it leaves out, and no body.
#[tokio::test]
async fn a_head_call_answers_its_length_without_a_body() {
    let (gateway, _recorder) = shop(api_key_header(), api_key_parameter(), &[("api_key", "k1")]).await;
    let get = gateway.get("/apim/shop/c1/orders/42").await;
    assert_eq!(get.status, 200, "{}", get.text());
    let head = gateway.send("HEAD", "/apim/shop/c1/orders/42", &[], "").await;
    // The definition has no HEAD operation: the gateway says so, as it
    // would to a GET, but sends no body.
    assert_ne!(head.status, 200);
    let length: usize = head.headers["content-length"].to_str().unwrap().parse().unwrap();
    assert!(length > 0);
    assert!(head.body.is_empty());
}

/// Ids in the path are percent-decoded, in the default environment and
/// in a named one's path alike; an id that is not UTF-8 once decoded is
/// refused before anything runs.
#[tokio::test]
async fn encoded_ids_name_the_connector_and_connection() {
    let (gateway, recorder) = shop(api_key_header(), api_key_parameter(), &[("api_key", "k1")]).await;
    assert_eq!(gateway.get("/apim/sh%6Fp/c%31/orders/42").await.status, 200);
    assert_eq!(recorder.last().path_and_query, "/v1/orders/42");
    let bad = gateway.get("/apim/shop/c%FF/orders/42").await;
    assert_eq!(bad.status, 400, "{}", bad.text());
}
