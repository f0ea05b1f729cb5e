//! Each policy template end to end, with `@connectionParameters`, `@headers`
//! and `@queryParameters` expressions.

use crate::support::*;
use serde_json::json;

fn instance(template: &str, operations: &[&str], section: &str, parameters: serde_json::Value) -> serde_json::Value {
    let mut params = serde_json::Map::new();
    for (key, value) in parameters.as_object().unwrap() {
        params.insert(format!("x-ms-apimTemplateParameter.{key}"), value.clone());
    }
    params.insert("x-ms-apimTemplate-operationName".into(), json!(operations));
    params.insert("x-ms-apimTemplate-policySection".into(), json!(section));
    json!({"templateId": template, "title": template, "parameters": params})
}

async fn shop(policies: serde_json::Value) -> (TestGateway, Recorder, std::net::SocketAddr) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let parameters = json!({
        "api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}},
        "region": {"type": "string", "uiDefinition": {"constraints": {"required": "false"}}}
    });
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(parameters, None, policies))
        .connection("shop", "c1", &[("api_key", "k-1"), ("region", "eu")])
        .start()
        .await;
    (gateway, recorder, backend)
}

#[tokio::test]
async fn setheader_with_connection_header_and_query_expressions() {
    let policies = json!([
        instance(
            "setheader",
            &[],
            "Request",
            json!({"name": "Authorization", "value": "Bearer @connectionParameters('api_key')", "existsAction": "override"})
        ),
        instance(
            "setheader",
            &[],
            "Request",
            json!({"name": "X-Copied", "value": "@headers('X-Source')/@queryParameters('q')", "existsAction": "override"})
        ),
        instance(
            "setheader",
            &["ListItems"],
            "Response",
            json!({"name": "X-Served-By", "value": "sluice", "existsAction": "override"})
        ),
    ]);
    let (gateway, recorder, _) = shop(policies).await;
    let answer = gateway.send("GET", "/apim/shop/c1/items?q=abc", &[("x-source", "src")], "").await;
    assert_eq!(answer.status, 200);
    let seen = recorder.last();
    assert_eq!(seen.headers["authorization"], "Bearer k-1");
    assert_eq!(seen.headers["x-copied"], "src/abc");
    assert_eq!(answer.headers["x-served-by"], "sluice");
    let other = gateway.get("/apim/shop/c1/orders/1").await;
    assert!(!other.headers.contains_key("x-served-by"), "scoped to ListItems");
}

#[tokio::test]
async fn setqueryparameter_adds_to_backend_query() {
    let policies = json!([instance(
        "setqueryparameter",
        &[],
        "Request",
        json!({"name": "region", "value": "@connectionParameters('region')", "existsAction": "override"})
    )]);
    let (gateway, recorder, _) = shop(policies).await;
    gateway.get("/apim/shop/c1/items?limit=2").await;
    assert_eq!(recorder.last().path_and_query, "/v1/items?limit=2&region=eu");
}

#[tokio::test]
async fn routerequesttoendpoint_rewrites_path_and_method() {
    let policies = json!([instance(
        "routerequesttoendpoint",
        &["GetOrder"],
        "Request",
        json!({"newPath": "/archive/{orderId}", "httpMethod": "POST"})
    )]);
    let (gateway, recorder, _) = shop(policies).await;
    gateway.get("/apim/shop/c1/orders/77").await;
    let seen = recorder.last();
    assert_eq!((seen.method.as_str(), seen.path_and_query.as_str()), ("POST", "/v1/archive/77"));
}

#[tokio::test]
async fn dynamichosturl_sends_to_the_connection_host() {
    let recorder = Recorder::default();
    let other = start_backend(recorder.app()).await;
    let parameters = json!({"url": {"type": "string", "uiDefinition": {"constraints": {"required": "true"}}}});
    let policies = json!([{"templateId": "dynamichosturl", "title": "SetHost", "parameters": {"x-ms-apimTemplateParameter.urlTemplate": "@connectionParameters('url')"}}]);
    let unused = Recorder::default();
    let definition_host = start_backend(unused.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(definition_host, json!({})), shop_properties(parameters, None, policies))
        .connection("shop", "c1", &[("url", &format!("http://{other}/tenant-7"))])
        .start()
        .await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(recorder.last().path_and_query, "/tenant-7/items");
    assert_eq!(unused.count(), 0);
}

#[tokio::test]
async fn setproperty_sets_a_request_body_property() {
    let policies = json!([instance(
        "setproperty",
        &["AddLine"],
        "Request",
        json!({
            "newPropertyParentPathTemplate": "@body()",
            "newPropertySubPathTemplate": "region",
            "propertyValuePathTemplate": "@connectionParameters('region')"
        })
    )]);
    let (gateway, recorder, _) = shop(policies).await;
    let answer = gateway
        .send(
            "POST",
            "/apim/shop/c1/orders/1/lines?dryRun=1",
            &[("x-tenant", "t"), ("content-type", "application/json")],
            r#"{"sku":"a"}"#,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body: serde_json::Value = serde_json::from_slice(&recorder.last().body).unwrap();
    assert_eq!(body, json!({"sku": "a", "region": "eu"}));
}

#[tokio::test]
async fn convertobjecttoarray_reshapes_the_response() {
    let policies = json!([instance(
        "convertobjecttoarray",
        &["AddLine"],
        "Response",
        json!({
            "propertyParentPath": "@body()",
            "propertySubPath": "body",
            "newPropertyPath": "@body().lines",
            "keyName": "name",
            "valueName": "value"
        })
    )]);
    let (gateway, _, _) = shop(policies).await;
    let answer =
        gateway.send("POST", "/apim/shop/c1/orders/1/lines?dryRun=1", &[("x-tenant", "t")], r#"{"a":1,"b":2}"#).await;
    assert_eq!(
        answer.json()["lines"],
        json!([{"name": "a", "value": 1}, {"name": "b", "value": 2}]),
        "{}",
        answer.text()
    );
}

#[tokio::test]
async fn convertarraytoobject_reshapes_the_response() {
    let policies = json!([instance(
        "convertarraytoobject",
        &["AddLine"],
        "Response",
        json!({
            "propertyParentPath": "@body()",
            "propertySubPath": "body",
            "keyWithinCollectionPath": "id",
            "newPropertyPath": "@body().byId",
            "retainKey": false
        })
    )]);
    let (gateway, _, _) = shop(policies).await;
    let answer = gateway
        .send(
            "POST",
            "/apim/shop/c1/orders/1/lines?dryRun=1",
            &[("x-tenant", "t")],
            r#"[{"id":"x","n":1},{"id":"y","n":2}]"#,
        )
        .await;
    assert_eq!(answer.json()["byId"], json!({"x": {"n": 1}, "y": {"n": 2}}), "{}", answer.text());
}

#[tokio::test]
async fn stringreplace_rewrites_response_text() {
    let policies = json!([instance(
        "stringreplace",
        &["GetOrder"],
        "Response",
        json!({"oldValue": "/v1/", "newValue": "/public/"})
    )]);
    let (gateway, _, _) = shop(policies).await;
    let answer = gateway.get("/apim/shop/c1/orders/9").await;
    assert_eq!(answer.json()["path"], "/public/orders/9", "{}", answer.text());
}

#[tokio::test]
async fn unknown_template_is_a_warning_not_a_failure() {
    let policies = json!([{"templateId": "doesnotexist", "title": "x", "parameters": {}}]);
    let (gateway, _, _) = shop(policies).await;
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
}

/// A shop whose `dynamichosturl` is `template`, with a secret connection
/// value `s3cr3t-key-value` and a plain one `host` = `host`.
async fn dynamic_shop(template: &str, host: &str) -> (TestGateway, Recorder) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let parameters = json!({
        "api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}},
        "host": {"type": "string", "uiDefinition": {"constraints": {"required": "true"}}}
    });
    let policies = json!([{"templateId": "dynamichosturl", "title": "Instance host",
        "parameters": {"x-ms-apimTemplateParameter.urlTemplate": template}}]);
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(parameters, None, policies))
        .connection("shop", "c1", &[("api_key", "s3cr3t-key-value"), ("host", host)])
        .start()
        .await;
    (gateway, recorder)
}

/// A dynamic host that the request makes unusable: 502 `bad-backend-url`
/// naming the policy and the value, with the connection's secret redacted,
/// never a 500; nothing is sent.
#[tokio::test]
async fn a_dynamic_host_that_is_no_url_is_502_bad_backend_url() {
    let template = "https://api.example.com/t/@headers('X-Tenant')/@connectionParameters('api_key')";
    let (gateway, recorder) = dynamic_shop(template, "unused").await;
    let answer = gateway.send("GET", "/apim/shop/c1/items", &[("x-tenant", "a#b")], "").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (502, "bad-backend-url"), "{}", answer.text());
    let detail = answer.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("Instance host") && detail.contains("/t/a#b/"), "{detail}");
    assert!(!answer.text().contains("s3cr3t-key-value"), "{detail}");
    assert_eq!(recorder.count(), 0);
}

/// A connection whose dynamic host is no host is refused at load, and the
/// refusal, in the log and in the answer, does not hold its secret.
#[tokio::test]
async fn a_refused_dynamic_host_does_not_leak_the_connections_secret() {
    let template = "https://@connectionParameters('host').example.com/@connectionParameters('api_key')";
    let (gateway, _) = dynamic_shop(template, "").await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-connection"), "{}", answer.text());
    assert!(answer.text().contains("dynamic host"), "{}", answer.text());
    assert!(!answer.text().contains("s3cr3t-key-value"), "{}", answer.text());
    let lines = log_lines("connection refused");
    assert!(!lines.is_empty() && lines.iter().all(|l| !l.contains("s3cr3t-key-value")), "{lines:?}");
}

/// A definition without a host, or with a placeholder for one (as a
/// certified package ships, `{{replace_with_your_domain}}`), cannot make a
/// backend URL: 502, not the client's 400.
#[tokio::test]
async fn a_definition_without_a_usable_host_is_502_bad_backend_url() {
    for host in [None, Some("{{replace_with_your_domain}}")] {
        let mut definition = shop_definition("127.0.0.1:9".parse().unwrap(), json!({}));
        match host {
            None => drop(definition.as_object_mut().unwrap().remove("host")),
            Some(host) => definition["host"] = json!(host),
        }
        let gateway = TestGatewayBuilder::new()
            .package("shop", definition, shop_properties(json!({}), None, json!([])))
            .connection("shop", "c1", &[])
            .start()
            .await;
        let answer = gateway.get("/apim/shop/c1/items").await;
        assert_eq!(
            (answer.status, answer.problem_type().as_str()),
            (502, "bad-backend-url"),
            "{host:?}: {}",
            answer.text()
        );
    }
}

/// The `shop` connector on `backend` with `policies` and no connection
/// parameters, and its connection `c1`.
async fn shop_without_parameters(backend: std::net::SocketAddr, policies: serde_json::Value) -> TestGateway {
    TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, policies))
        .connection("shop", "c1", &[])
        .start()
        .await
}

/// A backend whose `GET /v1/items` is recorded and answered with the JSON
/// `answer` makes of its headers and URI.
async fn items_backend(
    recorder: &Recorder,
    answer: fn(&http::HeaderMap, &http::Uri) -> serde_json::Value,
) -> std::net::SocketAddr {
    let seen = recorder.clone();
    let app = axum::Router::new().route(
        "/v1/items",
        axum::routing::get(move |headers: http::HeaderMap, uri: http::Uri| {
            let seen = seen.clone();
            async move {
                let body = answer(&headers, &uri);
                seen.seen.lock().unwrap().push(Seen {
                    method: "GET".into(),
                    path_and_query: uri.path_and_query().map(ToString::to_string).unwrap_or_default(),
                    headers,
                    body: Default::default(),
                });
                axum::Json(body)
            }
        }),
    );
    start_backend(app).await
}

/// A backend that pages `/v1/items` as Microsoft Graph does: page 1 links
/// to page 2 on its own origin, page 2 to a foreign host, page 3 is the last.
async fn paging_backend(recorder: &Recorder) -> std::net::SocketAddr {
    items_backend(recorder, |headers, uri| {
        let host = headers[http::header::HOST].to_str().unwrap();
        let next = match uri.query().unwrap_or_default() {
            "" => json!(format!("http://{host}/v1/items?$skiptoken=p%2B2&$top=1")),
            q if q.contains("p%2B2") => json!("https://elsewhere.example/v1/items?$skiptoken=p3"),
            _ => json!(null),
        };
        json!({"value": [{"id": 1}], "@odata.nextLink": next})
    })
    .await
}

/// The next page goes through the gateway and the connection, as the
/// certified Office365GroupsMail, AzureAD and Planner packages' `updatenextlink`
/// (`nextLinkPropertyName: @odata.nextLink`, no section) make it on the
/// platform; a link to another host is never turned into a gateway URL.
#[tokio::test]
async fn updatenextlink_sends_the_next_page_through_the_gateway() {
    let recorder = Recorder::default();
    let backend = paging_backend(&recorder).await;
    let policies = json!([{"templateId": "updatenextlink", "title": "Paging", "parameters": {
        "x-ms-apimTemplate-operationName": ["ListItems"],
        "x-ms-apimTemplateParameter.nextLinkPropertyName": "@odata.nextLink"}}]);
    let gateway = shop_without_parameters(backend, policies).await;

    let first = gateway.get("/apim/shop/c1/items").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let next = first.json()["@odata.nextLink"].as_str().unwrap().to_string();
    assert_eq!(next, gateway.url("/apim/shop/c1/items?$skiptoken=p%2B2&$top=1"));

    let path = next.strip_prefix(&gateway.url("")).unwrap();
    let second = gateway.get(path).await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(recorder.last().path_and_query, "/v1/items?$skiptoken=p%2B2&$top=1");
    assert_eq!(second.json()["@odata.nextLink"], "https://elsewhere.example/v1/items?$skiptoken=p3");

    let last = gateway.get("/apim/shop/c1/items?$skiptoken=p3").await;
    assert_eq!(last.json()["@odata.nextLink"], json!(null));
    assert_eq!(recorder.count(), 3);
}

/// A backend whose `/v1/items` is a polling trigger as the certified Huddle
/// package's folder trigger is: the files uploaded after `after`, newest first.
async fn polling_backend(recorder: &Recorder) -> std::net::SocketAddr {
    items_backend(recorder, |_, uri| {
        let files = match uri.query().unwrap_or_default().contains("after=") {
            true => json!([]),
            false => json!([
                {"name": "b.txt", "created": "2024-05-02T08:00:00Z"},
                {"name": "a.txt", "created": "2024-05-01T08:00:00Z"}
            ]),
        };
        json!({"files": files})
    })
    .await
}

/// Following a poll's `Location` polls the backend again through the gateway
/// and the connection, with the state the policy took from the items, as the
/// certified Huddle, Scrive eSign and Nosco packages' `pollingtrigger` (no
/// section) make it on the platform: new files are 200, none are 202.
#[tokio::test]
async fn pollingtrigger_sends_the_next_poll_through_the_gateway_with_the_state() {
    let recorder = Recorder::default();
    let backend = polling_backend(&recorder).await;
    let policies = json!([{"templateId": "pollingtrigger", "title": "PollingTriggerPolicy", "type": "PollingTrigger",
        "parameters": {
            "x-ms-apimTemplate-operationName": ["ListItems"],
            "x-ms-apimTemplateParameter.triggerConfig": {"after": "@{triggerBody().files[0].created}"},
            "x-ms-apimTemplateParameter.triggerDataPath": "@triggerBody().files"}}]);
    let gateway = shop_without_parameters(backend, policies).await;

    let first = gateway.get("/apim/shop/c1/items?workspaceId=W").await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["files"][0]["name"], "b.txt");
    let next = first.headers["location"].to_str().unwrap().to_string();
    assert_eq!(next, gateway.url("/apim/shop/c1/items?workspaceId=W&after=2024-05-02T08%3A00%3A00Z"));

    let path = next.strip_prefix(&gateway.url("")).unwrap();
    let second = gateway.get(path).await;
    assert_eq!(recorder.last().path_and_query, "/v1/items?workspaceId=W&after=2024-05-02T08%3A00%3A00Z");
    // Nothing new: 202, and the next poll keeps the state it was asked with.
    assert_eq!(second.status, 202, "{}", second.text());
    assert_eq!(second.headers["location"].to_str().unwrap(), next);
    assert_eq!(recorder.count(), 2);
}

/// The `shop` connector with an API key in a header and `policies`.
async fn keyed_shop(policies: serde_json::Value) -> (TestGateway, Recorder) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Key"}});
    let parameters =
        json!({"api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}});
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, security), shop_properties(parameters, None, policies))
        .connection("shop", "c1", &[("api_key", "k-1")])
        .start()
        .await;
    (gateway, recorder)
}

/// Planner's shape, end to end: before the call, the policy's own call goes
/// to the backend with the connection's credentials and the operation's
/// path parameter, and the value it answers goes on the call.
#[tokio::test]
async fn setvaluefromurl_fetches_through_the_connection_then_the_call_carries_the_value() {
    let policies = json!([instance(
        "setvaluefromurl",
        &["GetItem"],
        "Request",
        json!({"parameterTemplate": "@headers('X-Order-Path')", "parameterValueUrl": "/orders/{id}",
               "parameterValuePathTemplate": "@body().path", "httpMethod": "GET"})
    )]);
    let (gateway, recorder) = keyed_shop(policies).await;
    let answer = gateway.get("/apim/shop/c1/items/7").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "the policy's call, then the call");
    assert_eq!((seen[0].method.as_str(), seen[0].path_and_query.as_str()), ("GET", "/v1/orders/7"));
    assert_eq!(seen[0].headers["x-key"], "k-1", "with the connection's credentials");
    assert_eq!(seen[1].path_and_query, "/v1/items/7");
    assert_eq!(seen[1].headers["x-order-path"], "/v1/orders/7");
    // Other operations make no such call.
    gateway.get("/apim/shop/c1/orders/1").await;
    assert_eq!(recorder.count(), 3);
}

/// The policy's call obeys the connection's egress policy like any backend
/// call, and is answered as one: a host the connection may not reach is
/// `egress-denied`, and the call itself is never sent.
#[tokio::test]
async fn setvaluefromurl_to_a_host_the_connection_may_not_reach_is_egress_denied() {
    let policies = json!([instance(
        "setvaluefromurl",
        &[],
        "Request",
        json!({"parameterTemplate": "@headers('X-V')", "parameterValueUrl": "http://127.0.0.2:9/token",
               "parameterValuePathTemplate": "@body().v"})
    )]);
    let (gateway, recorder) = keyed_shop(policies).await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (502, "egress-denied"), "{}", answer.text());
    assert_eq!(recorder.count(), 0);
}

/// An answer with no usable value fails the call with the policy named,
/// never a 500, and the call is not sent.
#[tokio::test]
async fn setvaluefromurl_without_a_value_is_502_policy_failed_naming_the_policy() {
    let policies = json!([instance(
        "setvaluefromurl",
        &["ListItems"],
        "Request",
        json!({"parameterTemplate": "@headers('If-Match')", "parameterValueUrl": "/status/404",
               "parameterValuePathTemplate": "@body().etag"})
    )]);
    let (gateway, recorder) = keyed_shop(policies).await;
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (502, "policy-failed"), "{}", answer.text());
    let detail = answer.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("setvaluefromurl") && detail.contains("404"), "{detail}");
    assert!(!detail.contains("k-1"));
    assert_eq!(recorder.count(), 1, "only the policy's call");
}

/// DeskDirector's shape: a 401 from the backend marks the connection
/// unauthenticated, which its status shows (the answer itself is passed
/// on); other failures and other successes leave it; a success of the
/// connector's test-connection operation clears it.
#[tokio::test]
async fn a_401_marks_the_connection_unauthenticated_until_its_test_connection_succeeds() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Key"}});
    let mut definition = shop_definition(backend, security);
    definition["x-ms-capabilities"] = json!({"testConnection": {"operationId": "ListItems"}});
    let parameters =
        json!({"api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}});
    let policies = json!([{"templateId": "setconnectionstatustounauthenticated", "title": "Set unauthorized status",
        "parameters": {"x-ms-apimTemplateParameter.statusCode": 401}}]);
    let gateway = TestGatewayBuilder::new()
        .package("shop", definition, shop_properties(parameters, None, policies))
        .connection("shop", "c1", &[("api_key", "k-secret-1")])
        .start()
        .await;
    let status = || async {
        let info = crate::api::api(&gateway, &gateway.admin_key, "GET", "/api/v1/connections/shop/c1", None).await;
        assert_eq!(info.status, 200, "{}", info.text());
        (info.json()["status"].as_str().unwrap().to_string(), info.json()["reason"].as_str().map(str::to_string))
    };
    assert_eq!(status().await, ("ready".to_string(), None));
    assert_eq!(gateway.get("/apim/shop/c1/status/403").await.status, 403);
    assert_eq!(status().await.0, "ready", "403 is not the status the policy names");
    let answer = gateway.get("/apim/shop/c1/status/401").await;
    assert_eq!((answer.status, answer.json()["status"].as_u64()), (401, Some(401)), "the answer is passed on");
    let (now, reason) = status().await;
    assert_eq!(now, "unauthenticated");
    let reason = reason.unwrap();
    assert!(reason.contains("401") && reason.contains("`Status`"), "{reason}");
    assert!(!reason.contains("k-secret-1"));
    assert_eq!(gateway.get("/apim/shop/c1/items/3").await.status, 200);
    assert_eq!(status().await.0, "unauthenticated", "a success of another operation tells nothing of the credentials");
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
    assert_eq!(status().await, ("ready".to_string(), None), "the test-connection operation succeeded");
}
