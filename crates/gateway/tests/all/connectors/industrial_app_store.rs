//! Industrial App Store: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

/// A snapshot answer, spaced as the service spaces it: the inner object
/// must come back byte for byte.
const IAS_SNAPSHOT: &str = r#"{"Sensor1": {"TagName": "Sensor1", "Value": {"UtcSampleTime": "2024-01-01T00:00:00Z", "NumericValue": 21.5}}, "Sensor2": {"TagName": "Sensor2"}}"#;

async fn industrial_app_store() -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        if header(seen, "authorization") != "Bearer ias-token" {
            return json_answer(401, json!({"error": "invalid_token"}));
        }
        let path = seen.path_and_query.split('?').next().unwrap_or_default();
        match path {
            "/gestalt/datacore/api/data/v2/snapshot/dsn1/" | "/Gestalt/api/data/v2/snapshot/dsn1/" => {
                ([("content-type", "application/json")], IAS_SNAPSHOT).into_response()
            }
            "/gestalt/datacore/api/data/datasources/" => json_answer(200, json!([{"Name": {"QualifiedName": "dsn1"}}])),
            _ => json_answer(500, json!({"error": "data source unavailable"})),
        }
    })
    .await;
    (
        serve("Industrial_App_Store", Some("industrial-app-store-guest"), Some(address), &[("token", "ias-token")])
            .await,
        log,
    )
}

#[tokio::test]
async fn ias_data_queries_answer_the_first_propertys_object() {
    let (gateway, log) = industrial_app_store().await;
    let answer =
        gateway.get("/apim/Industrial_App_Store/c1/gestalt/datacore/api/data/v2/snapshot/dsn1/?tag=Sensor1").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.text(),
        r#"{"TagName": "Sensor1", "Value": {"UtcSampleTime": "2024-01-01T00:00:00Z", "NumericValue": 21.5}}"#
    );
    assert!(
        log.paths()[0].starts_with("GET /gestalt/datacore/api/data/v2/snapshot/dsn1/?tag=Sensor1"),
        "{:?}",
        log.paths()
    );
}

#[tokio::test]
async fn ias_other_operations_are_forwarded_unchanged() {
    let (gateway, _log) = industrial_app_store().await;
    let answer = gateway.get("/apim/Industrial_App_Store/c1/Gestalt/api/data/v2/snapshot/dsn1/?tag=Sensor1").await;
    assert_eq!(answer.text(), IAS_SNAPSHOT, "the v1 snapshot is not unwrapped");
    let answer = gateway.get("/apim/Industrial_App_Store/c1/gestalt/datacore/api/data/datasources/").await;
    assert_eq!(answer.json(), json!([{"Name": {"QualifiedName": "dsn1"}}]));
}

#[tokio::test]
async fn ias_error_answers_pass_through() {
    let (gateway, _log) = industrial_app_store().await;
    let answer = gateway
        .get(
            "/apim/Industrial_App_Store/c1/gestalt/datacore/api/data/v2/plot/dsn1/?tag=S&start=*-1h&end=*&intervals=10",
        )
        .await;
    assert_eq!((answer.status, answer.json()), (500, json!({"error": "data source unavailable"})));
}
