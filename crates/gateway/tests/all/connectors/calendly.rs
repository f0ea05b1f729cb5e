//! Calendly: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

const CALENDLY_ORG: &str = "https://api.calendly.com/organizations/ORG1";

async fn calendly(token: &str) -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        if header(seen, "authorization") != "Bearer cal-token" {
            return json_answer(401, json!({"title": "Unauthenticated", "message": "The access token is invalid"}));
        }
        let path = seen.path_and_query.split('?').next().unwrap_or_default();
        match (seen.method.as_str(), path) {
            ("GET", "/users/me") if header(seen, "x-calendly-consumer-application") == "ms_power_automate" => {
                json_answer(200, json!({"resource": {"uri": "https://api.calendly.com/users/U1", "current_organization": CALENDLY_ORG}}))
            }
            ("GET", "/event_types") => {
                let organizations: Vec<String> =
                    query_pairs(seen).into_iter().filter(|(n, _)| n == "organization").map(|(_, v)| v).collect();
                if organizations != [CALENDLY_ORG] {
                    return json_answer(400, json!({"title": "Invalid Argument", "organizations": organizations}));
                }
                json_answer(200, json!({"collection": [{"name": "Intro call"}], "pagination": {"count": 1}}))
            }
            ("POST", "/webhook_subscriptions") => {
                let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
                if body["organization"] != CALENDLY_ORG {
                    return json_answer(400, json!({"title": "Invalid Argument", "message": "organization is required"}));
                }
                json_answer(201, json!({"resource": body}))
            }
            ("GET", "/event_types/E1") => json_answer(200, json!({"resource": {"uri": "E1"}})),
            _ => json_answer(404, json!({"title": "Resource Not Found"})),
        }
    })
    .await;
    (serve("Calendly", Some("calendly-guest"), Some(address), &[("api_key", token)]).await, log)
}

#[tokio::test]
async fn calendly_event_types_query_gets_the_callers_organization() {
    let (gateway, log) = calendly("cal-token").await;
    let answer = gateway.get("/apim/Calendly/c1/event_types?count=20").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["collection"][0]["name"], "Intro call");
    let paths = log.paths();
    assert_eq!(paths[0], "GET /users/me");
    assert!(paths[1].starts_with("GET /event_types?count=20&organization="), "{paths:?}");
}

#[tokio::test]
async fn calendly_webhook_subscriptions_get_the_organization_in_the_body() {
    let (gateway, log) = calendly("cal-token").await;
    let body = r#"{"url":"https://flow.example/cb","events":["invitee.created"],"scope":"organization"}"#;
    for path in
        ["/apim/Calendly/c1/webhook_subscriptions", "/apim/Calendly/c1/webhook_subscriptions/routing_form_submission"]
    {
        let answer = gateway.send("POST", path, &[("content-type", "application/json")], body).await;
        assert_eq!(answer.status, 201, "{path}: {}", answer.text());
        let resource = &answer.json()["resource"];
        assert_eq!(
            (resource["organization"].as_str(), resource["scope"].as_str()),
            (Some(CALENDLY_ORG), Some("organization"))
        );
    }
    assert_eq!(
        log.paths(),
        ["GET /users/me", "POST /webhook_subscriptions", "GET /users/me", "POST /webhook_subscriptions"]
    );
}

#[tokio::test]
async fn calendly_failed_user_lookup_is_returned_as_is() {
    let (gateway, log) = calendly("expired-token").await;
    let answer = gateway.get("/apim/Calendly/c1/event_types").await;
    assert_eq!((answer.status, answer.json()["title"].clone()), (401, json!("Unauthenticated")));
    assert_eq!(log.paths(), ["GET /users/me"], "the operation itself was not called");
}

#[tokio::test]
async fn calendly_operations_without_code_make_one_call() {
    let (gateway, log) = calendly("cal-token").await;
    let answer = gateway.get("/apim/Calendly/c1/event_types/E1").await;
    assert_eq!((answer.status, answer.json()), (200, json!({"resource": {"uri": "E1"}})));
    assert_eq!(log.paths(), ["GET /event_types/E1"]);
}
