//! Nationalize.io: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

async fn nationalize(key: &str) -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        let pairs = query_pairs(seen);
        if pairs.iter().any(|(n, v)| n == "apikey" && v != "nat-key") {
            return json_answer(401, json!({"error": "Invalid API key"}));
        }
        let answer: Vec<Value> = pairs
            .iter()
            .filter(|(n, _)| n == "name[]")
            .map(|(_, name)| json!({"name": name, "country": [{"country_id": "AU", "probability": 0.4}]}))
            .collect();
        json_answer(200, json!(answer))
    })
    .await;
    (serve("Nationalize.io", Some("nationalize-io-guest"), Some(address), &[("api_key", key)]).await, log)
}

#[tokio::test]
async fn nationalize_names_become_a_name_list_with_the_key() {
    let (gateway, log) = nationalize("nat-key").await;
    let answer = gateway
        .send(
            "GET",
            "/apim/Nationalize.io/c1/?name=%20ann%20,bob,,%20c%C3%A9cile",
            &[("accept", "application/json")],
            "",
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let names: Vec<Value> = answer.json().as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(names, [json!("ann"), json!("bob"), json!("cécile")]);
    let seen = &log.all()[0];
    let expected: Vec<(String, String)> =
        [("name[]", "ann"), ("name[]", "bob"), ("name[]", "cécile"), ("apikey", "nat-key")]
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
    assert_eq!(query_pairs(seen), expected);
    assert!(seen.path_and_query.starts_with("/?"), "{}", seen.path_and_query);
}

#[tokio::test]
async fn nationalize_free_plan_sends_no_key_and_at_most_ten_names() {
    let (gateway, log) = nationalize("None (free plan)").await;
    let names: Vec<String> = (1..=12).map(|i| format!("n{i}")).collect();
    let answer = gateway
        .send(
            "GET",
            &format!("/apim/Nationalize.io/c1/?name={}", names.join(",")),
            &[("accept", "application/json")],
            "",
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let pairs = query_pairs(&log.all()[0]);
    assert_eq!(pairs.len(), 10, "{pairs:?}");
    assert!(pairs.iter().all(|(n, _)| n == "name[]"), "no key on the free plan: {pairs:?}");
    assert_eq!(pairs[9].1, "n10");
}

#[tokio::test]
async fn nationalize_rejected_key_passes_through() {
    let (gateway, _log) = nationalize("wrong-key").await;
    let answer = gateway.send("GET", "/apim/Nationalize.io/c1/?name=ann", &[("accept", "application/json")], "").await;
    assert_eq!((answer.status, answer.json()), (401, json!({"error": "Invalid API key"})));
}

#[tokio::test]
async fn nationalize_empty_name_list_is_answered_400_without_a_call() {
    let (gateway, log) = nationalize("nat-key").await;
    let answer =
        gateway.send("GET", "/apim/Nationalize.io/c1/?name=%20,%20", &[("accept", "application/json")], "").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "code-client-error"));
    assert!(log.all().is_empty());
}
