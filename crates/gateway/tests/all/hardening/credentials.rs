//! Credentials and custom code: the code that may not see them never gets
//! them, in any form; they go only to the backend's origin.

use base64::Engine as _;
use serde_json::json;

use super::{basic_auth, header_key};
use crate::support::*;

#[tokio::test]
async fn code_never_sees_a_basic_auth_password_and_its_calls_carry_it() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let (security, parameters) = basic_auth();
    let gateway = code_shop(TestGatewayBuilder::new(), backend, security, parameters, json!([]), "")
        .connection("shop", "c1", &[("username", "ann"), ("password", "pa55-w0rd")])
        .start()
        .await;
    let seen = gateway.get("/apim/shop/c1/run/echo").await;
    assert_eq!(seen.status, 200, "{}", seen.text());
    // Neither the password nor anything derived from it (base64 of user:pass).
    let encoded = base64::engine::general_purpose::STANDARD.encode("ann:pa55-w0rd");
    assert!(!seen.text().contains("pa55-w0rd") && !seen.text().contains(&encoded), "{}", seen.text());
    assert!(seen.json()["headers"].get("authorization").is_none(), "{}", seen.text());

    let forwarded = gateway.get("/apim/shop/c1/run/forward").await;
    assert_eq!(forwarded.status, 200, "{}", forwarded.text());
    assert_eq!(recorder.last().headers["authorization"], format!("Basic {encoded}").as_str());
}

#[tokio::test]
async fn credentials_go_only_to_the_backends_origin() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let elsewhere = Recorder::default();
    let other = start_backend(elsewhere.app()).await;
    let (security, parameters) = header_key();
    let settings = format!("[egress]\nallow = [\"http://{other}\"]\n");
    let gateway = code_shop(TestGatewayBuilder::new(), backend, security, parameters, json!([]), &settings)
        .connection("shop", "c1", &[("api_key", "k-4711")])
        .start()
        .await;
    // The same host on another port is another origin.
    let to_other = gateway.get(&format!("/apim/shop/c1/run/send?to=http://{other}/v1/x")).await;
    assert_eq!(to_other.status, 200, "{}", to_other.text());
    assert!(elsewhere.last().headers.get("x-key").is_none(), "the key went to another origin");
    let to_backend = gateway.get(&format!("/apim/shop/c1/run/send?to=http://{backend}/v1/x")).await;
    assert_eq!(to_backend.status, 200, "{}", to_backend.text());
    assert_eq!(recorder.last().headers["x-key"], "k-4711");
}

#[tokio::test]
async fn a_host_header_from_code_cannot_pick_another_virtual_host() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = plain_code_shop(backend, "").start().await;
    let path = format!("/apim/shop/c1/run/send-with-host?to=http://{backend}/v1/x&host=admin.internal.example");
    let answer = gateway.get(&path).await.json();
    assert_eq!(answer["send_error"], "invalid-request", "{answer}");
    assert_eq!(recorder.count(), 0, "nothing was sent");
    let same = format!("/apim/shop/c1/run/send-with-host?to=http://{backend}/v1/x&host={backend}");
    assert_eq!(gateway.get(&same).await.status, 200);
    assert_eq!(recorder.last().headers["host"], backend.to_string().as_str());
}

#[tokio::test]
async fn secrets_placed_by_policies_do_not_reach_the_code() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let (security, parameters) = header_key();
    let secret = "s3cr3t-value";
    let policies = json!([
        {"templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-Signature",
            "x-ms-apimTemplateParameter.value": "@connectionParameters('api_key')"}},
        {"templateId": "setqueryparameter", "parameters": {
            "x-ms-apimTemplateParameter.name": "sig",
            "x-ms-apimTemplateParameter.value": "@connectionParameters('api_key')"}},
        {"templateId": "setproperty", "parameters": {
            "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "token",
            "x-ms-apimTemplateParameter.propertyValuePathTemplate": "@connectionParameters('api_key')"}},
        {"templateId": "routerequesttoendpoint", "parameters": {
            "x-ms-apimTemplateParameter.newPath": "/keys/@connectionParameters('api_key')/run/{action}"}}
    ]);
    let gateway = code_shop(TestGatewayBuilder::new(), backend, security, parameters, policies, "")
        .connection("shop", "c1", &[("api_key", secret)])
        .start()
        .await;
    let seen = gateway.get("/apim/shop/c1/run/echo").await;
    assert_eq!(seen.status, 200, "{}", seen.text());
    assert!(!seen.text().contains(secret), "the code saw the secret: {}", seen.text());
    assert!(seen.text().contains("sluice-secret-"), "it sees placeholders where the secret goes: {}", seen.text());

    assert_eq!(gateway.get("/apim/shop/c1/run/forward").await.status, 200);
    let at_backend = recorder.last();
    assert!(
        at_backend.path_and_query.starts_with(&format!("/v1/keys/{secret}/run/forward")),
        "{}",
        at_backend.path_and_query
    );
    assert!(at_backend.path_and_query.contains(&format!("sig={secret}")), "{}", at_backend.path_and_query);
    assert_eq!(at_backend.headers["x-signature"], secret);
    assert_eq!(at_backend.headers["x-key"], secret);
    let body: serde_json::Value = serde_json::from_slice(&at_backend.body).unwrap();
    assert_eq!(body["token"], secret);
}
