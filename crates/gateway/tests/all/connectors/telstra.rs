//! Telstra SMS: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

async fn telstra(secret: &str) -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        let path = seen.path_and_query.split('?').next().unwrap_or_default();
        match (seen.method.as_str(), path) {
            ("POST", "/v2/oauth/token") => {
                let form: Vec<(String, String)> = url::form_urlencoded::parse(&seen.body).into_owned().collect();
                let field =
                    |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_default();
                let scopes_ok = field("scope").split(' ').any(|s| s == "messages:write");
                if header(seen, "content-type") != "application/x-www-form-urlencoded"
                    || field("grant_type") != "client_credentials"
                    || !scopes_ok
                {
                    return json_answer(400, json!({"error": "invalid_request"}));
                }
                if (field("client_id"), field("client_secret")) != ("tel-id", "tel-secret") {
                    return json_answer(401, json!({"error": "invalid_client"}));
                }
                json_answer(200, json!({"access_token": "tel-token", "token_type": "Bearer", "expires_in": "3599"}))
            }
            ("POST", "/messaging/v3/messages") => {
                if header(seen, "authorization") != "Bearer tel-token" {
                    return json_answer(401, json!({"error": "invalid_token"}));
                }
                let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
                json_answer(
                    201,
                    json!({"messageId": "m-1", "to": body["to"], "apiVersion": header(seen, "telstra-api-version")}),
                )
            }
            _ => json_answer(404, json!({"error": "not found"})),
        }
    })
    .await;
    (
        serve("Telstra_SMS", Some("telstra-sms-guest"), Some(address), &[("username", "tel-id"), ("password", secret)])
            .await,
        log,
    )
}

#[tokio::test]
async fn telstra_fetches_a_token_then_sends_the_message_with_it() {
    let (gateway, log) = telstra("tel-secret").await;
    let answer = gateway
        .send(
            "POST",
            "/apim/Telstra_SMS/c1/messages",
            &[("content-type", "application/json")],
            r#"{"to":"+61400000000","messageContent":"hi"}"#,
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.json(), json!({"messageId": "m-1", "to": "+61400000000", "apiVersion": "3.x"}));
    assert_eq!(log.paths(), ["POST /v2/oauth/token", "POST /messaging/v3/messages"]);
}

#[tokio::test]
async fn telstra_failed_token_call_is_returned_as_is() {
    let (gateway, log) = telstra("wrong-secret").await;
    let answer = gateway
        .send(
            "POST",
            "/apim/Telstra_SMS/c1/messages",
            &[("content-type", "application/json")],
            r#"{"to":"+61400000000"}"#,
        )
        .await;
    assert_eq!((answer.status, answer.json()), (401, json!({"error": "invalid_client"})));
    assert_eq!(log.paths(), ["POST /v2/oauth/token"], "no message was sent");
}
