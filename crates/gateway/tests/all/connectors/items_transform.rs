//! items-transform, the canonical transform, in every language it is
//! written in: the request gains `x-sluice: 1`, the backend's JSON array
//! comes back wrapped with its count, anything else passes through.

use super::*;

async fn items(language: &str) -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        if header(seen, "x-sluice") != "1" {
            return json_answer(400, json!({"error": "the code did not mark the request"}));
        }
        match seen.path_and_query.as_str() {
            "/v1/items?limit=2" => {
                json_answer(200, json!([{"id": 1, "name": "one", "ok": true}, {"id": 2, "name": "two", "ok": false}]))
            }
            _ => json_answer(503, json!({"error": "try later"})),
        }
    })
    .await;
    let gateway = TestGatewayBuilder::new()
        .package_from(&example("items-transform"), Some(address))
        .file("items-transform", "script.wasm", code_in(language, "items-transform", "items-transform"))
        .connection("items-transform", "c1", &[("api_key", "k")])
        .start()
        .await;
    (gateway, log)
}

in_every_language!(items_are_wrapped_with_their_count, a_failed_backend_answer_passes_through);

async fn items_are_wrapped_with_their_count(language: &str) {
    let (gateway, log) = items(language).await;
    let answer = gateway.get("/apim/items-transform/c1/items?limit=2").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    assert_eq!(
        answer.json(),
        json!({"count": 2, "items": [{"id": 1, "name": "one", "ok": true}, {"id": 2, "name": "two", "ok": false}]})
    );
    assert_eq!(log.paths(), ["GET /v1/items?limit=2"]);
}

async fn a_failed_backend_answer_passes_through(language: &str) {
    let (gateway, _log) = items(language).await;
    let answer = gateway.get("/apim/items-transform/c1/items?limit=9").await;
    assert_eq!((answer.status, answer.json()), (503, json!({"error": "try later"})));
}
