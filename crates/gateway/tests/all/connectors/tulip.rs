//! Tulip: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

async fn tulip(language: &str) -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        if header(seen, "authorization") != format!("Basic {}", BASE64.encode("bot-key:bot-secret")) {
            return json_answer(401, json!({"errorCode": "Unauthorized"}));
        }
        match seen.path_and_query.as_str() {
            "/api/v3/tables/T1" => json_answer(
                200,
                json!({"id": "T1", "label": "Orders", "columns": [
                    {"name": "id", "label": "ID", "dataType": {"type": "string"}},
                    {"name": "qty", "label": "Quantity", "dataType": {"type": "float"}},
                    {"name": "due", "label": "Due", "dataType": {"type": "timestamp"}},
                    {"name": "tint", "label": "Tint", "dataType": {"type": "color"}},
                    {"name": "took", "label": "Took", "dataType": {"type": "interval"}},
                    {"name": "done", "label": "Done", "dataType": {"type": "boolean"}}
                ]}),
            ),
            "/api/v3/tables" => json_answer(200, json!([{"id": "T1", "label": "Orders"}])),
            _ => json_answer(404, json!({"errorCode": "NotFound", "message": "no such table"})),
        }
    })
    .await;
    // The policy's scheme is https; the loopback backend speaks plain HTTP.
    let properties = std::fs::read_to_string(example("Tulip").join("apiProperties.json"))
        .unwrap()
        .replace("https://@connectionParameters('factoryUrl')", "http://@connectionParameters('factoryUrl')");
    let gateway = TestGatewayBuilder::new()
        .package_from(&example("Tulip"), Some(address))
        .file("Tulip", "apiProperties.json", properties)
        .file("Tulip", "script.wasm", code_in(language, "Tulip", "tulip-guest"))
        .connection(
            "Tulip",
            "c1",
            &[("username", "bot-key"), ("password", "bot-secret"), ("factoryUrl", &address.to_string())],
        )
        .start()
        .await;
    (gateway, log)
}

in_every_language!(
    tulip_table_columns_become_a_record_schema,
    tulip_unknown_table_error_passes_through,
    tulip_other_operations_run_no_code,
);

async fn tulip_table_columns_become_a_record_schema(language: &str) {
    let (gateway, log) = tulip(language).await;
    let answer = gateway.get("/apim/Tulip/c1/tables/T1").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let property = |kind: &str, label: &str| json!({"type": kind, "description": label, "x-ms-summary": label});
    assert_eq!(
        answer.json(),
        json!({"type": "array", "items": {"type": "object", "required": ["id"], "properties": {
            "id": property("string", "ID"), "qty": property("number", "Quantity"), "due": property("string", "Due"),
            "tint": property("object", "Tint"), "took": property("number", "Took"), "done": property("string", "Done")
        }}})
    );
    let text = answer.text();
    assert!(text.find("\"qty\"") < text.find("\"due\""), "properties keep the columns' order: {text}");
    assert_eq!(log.paths(), ["GET /api/v3/tables/T1"]);
}

async fn tulip_unknown_table_error_passes_through(language: &str) {
    let (gateway, _log) = tulip(language).await;
    let answer = gateway.get("/apim/Tulip/c1/tables/T9").await;
    assert_eq!((answer.status, answer.json()["errorCode"].clone()), (404, json!("NotFound")));
}

async fn tulip_other_operations_run_no_code(language: &str) {
    let (gateway, _log) = tulip(language).await;
    let answer = gateway.get("/apim/Tulip/c1/tables").await;
    assert_eq!(answer.json(), json!([{"id": "T1", "label": "Orders"}]));
}

#[tokio::test]
async fn a_policy_naming_an_undeclared_parameter_refuses_the_connection() {
    // Why the example's apiProperties.json differs from Tulip's published
    // one, which names `factoryURL` where it declares `factoryUrl`; the test
    // package has the same mistake.
    let gateway = TestGatewayBuilder::new()
        .package_from(&test_package("param-case-mismatch"), None)
        .connection(
            "param-case-mismatch",
            "c1",
            &[("username", "k"), ("password", "s"), ("plantUrl", "north.contoso.example")],
        )
        .start()
        .await;
    let answer = gateway.get("/apim/param-case-mismatch/c1/machines").await;
    assert_eq!(answer.status, 404, "{}", answer.text());
    assert!(answer.text().contains("plantURL"), "{}", answer.text());
}
