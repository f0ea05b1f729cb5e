//! Annature: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

async fn annature() -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        if header(seen, "x-annature-id") != "ann-id" || header(seen, "x-annature-key") != "ann-key" {
            return json_answer(401, json!({"error": "missing or wrong Annature credentials"}));
        }
        match (seen.method.as_str(), seen.path_and_query.as_str()) {
            ("POST", "/v1/endpoints") => {
                let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
                if body["url"].as_str().is_none() {
                    return json_answer(400, json!({"error": "url is required"}));
                }
                json_answer(201, json!({"id": "ep_42", "url": body["url"], "events": body["events"]}))
            }
            ("GET", "/v1/envelopes/env7") => json_answer(200, json!({"id": "env7", "status": "sent"})),
            ("DELETE", "/v1/envelopes/env7") => StatusCode::NO_CONTENT.into_response(),
            _ => json_answer(404, json!({"error": "no such route"})),
        }
    })
    .await;
    let gateway = serve(
        "Annature",
        Some("annature-guest"),
        Some(address),
        &[("api_client_id", "ann-id"), ("api_key", "ann-key")],
    )
    .await;
    (gateway, log)
}

#[tokio::test]
async fn annature_webhook_subscription_answers_the_new_endpoints_location() {
    let (gateway, log) = annature().await;
    let body = r#"{"url":"https://flow.example/cb","events":["envelope_completed"]}"#;
    let answer =
        gateway.send("POST", "/apim/Annature/c1/endpoints", &[("content-type", "application/json")], body).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let expected = format!("http://{}/apim/Annature/c1/endpoints/ep_42", gateway.address);
    assert_eq!(answer.headers["location"], expected.as_str());
    assert_eq!(answer.json()["id"], "ep_42");
    assert_eq!(log.paths(), ["POST /v1/endpoints"]);
}

#[tokio::test]
async fn annature_other_operations_are_forwarded_unchanged() {
    let (gateway, log) = annature().await;
    let answer = gateway.get("/apim/Annature/c1/envelopes/env7").await;
    assert_eq!((answer.status, answer.json()), (200, json!({"id": "env7", "status": "sent"})));
    assert!(!answer.headers.contains_key("location"));
    // DeleteEnvelope is a HEAD the routerequesttoendpoint policy turns into a DELETE.
    let answer = gateway.send("HEAD", "/apim/Annature/c1/envelopes/env7", &[], "").await;
    assert_eq!(answer.status, 204);
    assert_eq!(log.paths(), ["GET /v1/envelopes/env7", "DELETE /v1/envelopes/env7"]);
}

#[tokio::test]
async fn annature_failed_subscription_passes_through_without_location() {
    let (gateway, _log) = annature().await;
    let answer =
        gateway.send("POST", "/apim/Annature/c1/endpoints", &[("content-type", "application/json")], "{}").await;
    assert_eq!((answer.status, answer.json()), (400, json!({"error": "url is required"})));
    assert!(!answer.headers.contains_key("location"));
}
