//! The management API end to end through the real server: keys,
//! connectors and their shares, connections and theirs, every refusal as
//! problem+json, and the OpenAPI document against the routes.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};
use sluice_gateway::access::{Caller, Credential, DEFAULT_ENVIRONMENT, PrincipalKind, Role};

use crate::support::*;

pub(crate) fn caller(principal: &str) -> Caller {
    Caller { id: Arc::from(principal), groups: Vec::new(), credential: Credential::ApiKey { id: "test".into() } }
}

/// A shop whose connections hold an API key, owned by Alice (a maker);
/// Bob (in the group `sales`) and Carol are users. Keys for the three, and
/// the folder holding the sealing key and the database.
struct Shop {
    gateway: TestGateway,
    recorder: Recorder,
    alice: String,
    bob: String,
    carol: String,
    _dir: tempfile::TempDir,
}

async fn shop() -> Shop {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let dir = tempfile::tempdir().unwrap();
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}});
    let region = json!({"type": "string", "uiDefinition": {"displayName": "Region", "constraints": {
        "allowedValues": [{"text": "Europe", "value": "eu"}, {"text": "United States", "value": "us"}]}}});
    let mut parameters = api_key_parameter();
    parameters["region"] = region;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, security), shop_properties(parameters, None, json!([])))
        .connection("shop", "main", &[("api_key", "settings-key"), ("region", "eu")])
        .oauth(sealing(dir.path(), 5))
        .start()
        .await;
    let access = gateway.gateway.access();
    let admin = caller(ADMIN);
    access.add_principal(&admin, "sales", PrincipalKind::Group, "Sales").await.unwrap();
    access.set_group_member(&admin, "sales", "bob", true).await.unwrap();
    let mut keys = Vec::new();
    for (user, role) in [("alice", Role::Maker), ("bob", Role::User), ("carol", Role::User)] {
        access.add_principal(&admin, user, PrincipalKind::User, user).await.unwrap();
        access.set_role(&admin, DEFAULT_ENVIRONMENT, user, Some(role)).await.unwrap();
        keys.push(access.issue_key(&admin, user, "tests", None).await.unwrap().key);
    }
    access.set_connector_owner(&admin, DEFAULT_ENVIRONMENT, "shop", "alice").await.unwrap();
    let [alice, bob, carol] = <[String; 3]>::try_from(keys).unwrap();
    Shop { gateway, recorder, alice, bob, carol, _dir: dir }
}

/// Sends `method path` as the holder of `key`, with a JSON body when given.
pub(crate) async fn api(gateway: &TestGateway, key: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
    let mut request = http::Request::builder().method(method).uri(gateway.url(path));
    let bytes = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    gateway.request(with_bearer(request.body(Full::new(bytes)).unwrap(), key)).await
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.json().as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn keys_are_shown_once_listed_without_secrets_and_revoked() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let issued =
        api(gateway, &shop.alice, "POST", "/api/v1/keys", Some(json!({"label": "ci", "expires_in_days": 30}))).await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    let body = issued.json();
    let key = body["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("slk_") && body["expires_at"].is_string(), "{body}");
    assert_eq!(api(gateway, &key, "GET", "/api/v1/connectors", None).await.status, 200, "the new key works");

    let listed = api(gateway, &shop.alice, "GET", "/api/v1/keys", None).await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text().contains(&key[4..]), "no secret is listed: {}", listed.text());
    let labels: Vec<String> =
        listed.json().as_array().unwrap().iter().map(|k| k["label"].as_str().unwrap().to_string()).collect();
    assert!(labels.contains(&"ci".to_string()) && labels.contains(&"tests".to_string()), "{labels:?}");

    // A key for someone else needs the gateway's admins.
    let stolen =
        api(gateway, &shop.alice, "POST", "/api/v1/keys", Some(json!({"label": "x", "principal": "bob"}))).await;
    assert_eq!((stolen.status, stolen.problem_type().as_str()), (403, "forbidden"));
    // Bob cannot revoke Alice's key, nor learn that it exists.
    let id = body["id"].as_str().unwrap();
    let hidden = api(gateway, &shop.bob, "DELETE", &format!("/api/v1/keys/{id}"), None).await;
    assert_eq!((hidden.status, hidden.problem_type().as_str()), (404, "not-found"));
    assert_eq!(api(gateway, &shop.alice, "DELETE", &format!("/api/v1/keys/{id}"), None).await.status, 204);
    assert_eq!(api(gateway, &key, "GET", "/api/v1/connectors", None).await.status, 401, "revoked");

    for (body, problem) in [
        (json!({"label": ""}), "bad-request"),
        (json!({"label": "x", "expires_in_days": 0}), "bad-request"),
        (json!({"label": "x", "colour": "red"}), "bad-request"),
        (json!({"expires_in_days": 1}), "bad-request"),
    ] {
        let refused = api(gateway, &shop.alice, "POST", "/api/v1/keys", Some(body.clone())).await;
        assert_eq!((refused.status, refused.problem_type().as_str()), (400, problem), "{body}");
    }
}

#[tokio::test]
async fn a_share_gives_a_connector_and_bob_connects_and_calls_through_his_own_connection() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    assert_eq!(ids(&api(gateway, &shop.bob, "GET", "/api/v1/connectors", None).await), Vec::<String>::new());
    let mine = api(gateway, &shop.alice, "GET", "/api/v1/connectors", None).await.json();
    assert_eq!(mine[0]["id"], "shop");
    assert_eq!((mine[0]["right"].as_str(), mine[0]["owner"].as_str()), (Some("can-edit"), Some("alice")));
    assert_eq!((mine[0]["read_only"].as_bool(), mine[0]["status"].as_str()), (Some(true), Some("ready")));

    // Alice shares with the group; Bob sees it, may use it, may not share it.
    let shared =
        api(gateway, &shop.alice, "PUT", "/api/v1/connectors/shop/shares/sales", Some(json!({"right": "can-use"})))
            .await;
    assert_eq!(shared.status, 200, "{}", shared.text());
    assert_eq!(shared.json(), json!([{"principal": "sales", "display_name": "Sales", "right": "can-use"}]));
    let seen = api(gateway, &shop.bob, "GET", "/api/v1/connectors/shop", None).await.json();
    assert_eq!(seen["right"], "can-use");
    let operations: Vec<&str> =
        seen["operation_list"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert!(operations.contains(&"ListItems") && seen["code"].is_null() && seen["oauth"].is_null(), "{seen}");
    let refused =
        api(gateway, &shop.bob, "PUT", "/api/v1/connectors/shop/shares/carol", Some(json!({"right": "can-use"}))).await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (403, "forbidden"));
    assert_eq!(api(gateway, &shop.bob, "GET", "/api/v1/connectors/shop/shares", None).await.status, 403);
    let hidden = api(gateway, &shop.carol, "GET", "/api/v1/connectors/shop", None).await;
    assert_eq!((hidden.status, hidden.problem_type().as_str()), (404, "unknown-connector"));

    // Bob makes his own connection; its secret is sealed and never returned.
    let new = json!({"connector": "shop", "id": "bobs", "parameters": {"api_key": "k-bob-secret", "region": "us"}});
    let made = api(gateway, &shop.bob, "POST", "/api/v1/connections", Some(new.clone())).await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(
        made.json(),
        json!({"connector": "shop", "id": "bobs", "owner": "bob", "read_only": false, "status": "ready",
            "reason": null, "parameters": {"region": "us"}})
    );
    let listed = api(gateway, &shop.bob, "GET", "/api/v1/connections", None).await;
    assert_eq!(ids(&listed), ["bobs"], "Bob sees his own, not the admins' `main`");
    assert!(!listed.text().contains("k-bob-secret"));
    let call = gateway
        .request(with_bearer(
            http::Request::get(gateway.url("/apim/shop/bobs/items")).body(Full::default()).unwrap(),
            &shop.bob,
        ))
        .await;
    assert_eq!(call.status, 200, "{}", call.text());
    assert_eq!(shop.recorder.last().headers["x-api-key"], "k-bob-secret");
    // The admin sees both, the settings file's as read-only.
    let all = api(gateway, &gateway.admin_key, "GET", "/api/v1/connections", None).await.json();
    let main = all.as_array().unwrap().iter().find(|c| c["id"] == "main").unwrap().clone();
    assert_eq!((main["read_only"].as_bool(), main["parameters"].clone()), (Some(true), json!({"region": "eu"})));

    // Refusals, each as problem+json, and none leaves anything behind.
    let again = api(gateway, &shop.bob, "POST", "/api/v1/connections", Some(new)).await;
    assert_eq!((again.status, again.problem_type().as_str()), (409, "connection-exists"));
    let missing = json!({"connector": "shop", "id": "b2", "parameters": {"region": "us"}});
    let missing = api(gateway, &shop.bob, "POST", "/api/v1/connections", Some(missing)).await;
    assert_eq!((missing.status, missing.problem_type().as_str()), (422, "bad-connection"));
    assert!(missing.json()["detail"].as_str().unwrap().contains("api_key"), "{}", missing.text());
    let unknown = json!({"connector": "shop", "id": "b3", "parameters": {"api_key": "k", "colour": "red"}});
    let unknown = api(gateway, &shop.bob, "POST", "/api/v1/connections", Some(unknown)).await;
    assert_eq!((unknown.status, unknown.problem_type().as_str()), (422, "bad-connection"));
    assert!(unknown.json()["detail"].as_str().unwrap().contains("colour"), "{}", unknown.text());
    let elsewhere = json!({"connector": "shop", "id": "b5", "parameters": {"api_key": "k", "region": "mars"}});
    let elsewhere = api(gateway, &shop.bob, "POST", "/api/v1/connections", Some(elsewhere)).await;
    assert_eq!((elsewhere.status, elsewhere.problem_type().as_str()), (422, "bad-connection"));
    let detail = elsewhere.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("`region`") && detail.contains("eu, us") && !detail.contains("mars"), "{detail}");
    let extra = json!({"connector": "shop", "id": "b4", "parameters": {}, "owner": "alice"});
    let extra = api(gateway, &shop.bob, "POST", "/api/v1/connections", Some(extra)).await;
    assert_eq!((extra.status, extra.problem_type().as_str()), (400, "bad-request"));
    let not_json = gateway
        .request(with_bearer(
            http::Request::post(gateway.url("/api/v1/connections"))
                .header("content-type", "text/plain")
                .body(Full::new(Bytes::from("connector=shop")))
                .unwrap(),
            &shop.bob,
        ))
        .await;
    assert_eq!((not_json.status, not_json.problem_type().as_str()), (415, "unsupported-media-type"));
    let carol = json!({"connector": "shop", "id": "c", "parameters": {"api_key": "k"}});
    let carol = api(gateway, &shop.carol, "POST", "/api/v1/connections", Some(carol)).await;
    assert_eq!((carol.status, carol.problem_type().as_str()), (404, "unknown-connector"));
    assert_eq!(ids(&api(gateway, &shop.bob, "GET", "/api/v1/connections", None).await), ["bobs"]);

    // Bob shares his connection with Carol; Alice may not delete it.
    let shared = api(gateway, &shop.bob, "PUT", "/api/v1/connections/shop/bobs/shares/carol", None).await;
    assert_eq!(shared.json(), json!([{"principal": "carol", "display_name": "carol"}]));
    let not_hers = api(gateway, &shop.alice, "DELETE", "/api/v1/connections/shop/bobs", None).await;
    assert_eq!(not_hers.status, 404, "Alice may not even see Bob's connection");
    let read_only = api(gateway, &gateway.admin_key, "DELETE", "/api/v1/connections/shop/main", None).await;
    assert_eq!((read_only.status, read_only.problem_type().as_str()), (409, "read-only"));
    assert_eq!(api(gateway, &shop.bob, "DELETE", "/api/v1/connections/shop/bobs", None).await.status, 204);
    let gone = api(gateway, &shop.bob, "GET", "/api/v1/connections/shop/bobs", None).await;
    assert_eq!((gone.status, gone.problem_type().as_str()), (404, "unknown-connection"));

    // Once the share is gone, Bob sees the connector no more.
    assert_eq!(api(gateway, &shop.alice, "DELETE", "/api/v1/connectors/shop/shares/sales", None).await.status, 204);
    assert_eq!(ids(&api(gateway, &shop.bob, "GET", "/api/v1/connectors", None).await), Vec::<String>::new());
}

/// The document parses as OpenAPI 3.1, describes exactly the API's routes,
/// and each route it describes exists on the server.
#[tokio::test]
async fn the_openapi_document_describes_the_routes_that_exist() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let answer = api(gateway, &gateway.admin_key, "GET", "/api/v1/openapi.json", None).await;
    assert_eq!(answer.status, 200);
    let document = oas3::from_json(answer.text()).expect("an OpenAPI 3.1 document");
    assert!(document.openapi.starts_with("3.1"), "{}", document.openapi);
    let mut described: Vec<(String, String)> = Vec::new();
    for (path, item) in document.paths.iter().flatten() {
        for (method, _) in item.methods() {
            described.push((method.to_string(), path.clone()));
        }
    }
    described.sort();
    let expected = [
        ("DELETE", "/api/v1/connections/{connector}/{id}"),
        ("DELETE", "/api/v1/connections/{connector}/{id}/shares/{principal}"),
        ("DELETE", "/api/v1/connectors/{id}"),
        ("DELETE", "/api/v1/connectors/{id}/shares/{principal}"),
        ("DELETE", "/api/v1/keys/{id}"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/connections"),
        ("GET", "/api/v1/connections/{connector}/{id}"),
        ("GET", "/api/v1/connections/{connector}/{id}/shares"),
        ("GET", "/api/v1/connectors"),
        ("GET", "/api/v1/connectors/{id}"),
        ("GET", "/api/v1/connectors/{id}/activity"),
        ("GET", "/api/v1/connectors/{id}/package"),
        ("GET", "/api/v1/connectors/{id}/shares"),
        ("GET", "/api/v1/environment"),
        ("GET", "/api/v1/keys"),
        ("GET", "/api/v1/network"),
        ("POST", "/api/v1/connections"),
        ("POST", "/api/v1/connections/{connector}/{id}/signin"),
        ("POST", "/api/v1/connections/{connector}/{id}/signin/complete"),
        ("POST", "/api/v1/connectors"),
        ("POST", "/api/v1/connectors/{id}/operations/{operation}/test"),
        ("POST", "/api/v1/keys"),
        ("POST", "/api/v1/validate"),
        ("PUT", "/api/v1/connections/{connector}/{id}/shares/{principal}"),
        ("PUT", "/api/v1/connectors/{id}"),
        ("PUT", "/api/v1/connectors/{id}/shares/{principal}"),
        ("PUT", "/api/v1/network"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(described, expected);
    every_route_answers(gateway, "", &described).await;
    // The same routes under another environment's prefix, where the path
    // holds the environment too.
    let sales = TestGatewayBuilder::new()
        .environment("sales", sluice_egress::Environment::new(vec![], false), &[(ADMIN, "admin")])
        .package_in(
            "sales",
            "shop",
            shop_definition(shop.gateway.address, json!({})),
            shop_properties(json!({}), None, json!([])),
        )
        .start()
        .await;
    every_route_answers(&sales, "/environments/sales", &described).await;
    let about = api(gateway, &shop.bob, "GET", "/api/v1/environment", None).await.json();
    assert_eq!(about, json!({"id": "default", "name": "Default", "role": "user", "caller": "bob"}));
    // The same API serves every environment, under its prefix.
    let unknown = api(gateway, &gateway.admin_key, "GET", "/environments/nowhere/api/v1/connectors", None).await;
    assert_eq!((unknown.status, unknown.problem_type().as_str()), (404, "unknown-environment"));
}

/// Each described route is served under `prefix`: it answers with its own
/// result or a problem, never the router's bare "no route" or "no such
/// method", nor an extractor's plain-text rejection, nor a 500.
async fn every_route_answers(gateway: &TestGateway, prefix: &str, described: &[(String, String)]) {
    for (method, path) in described {
        let concrete = path
            .replace("{connector}", "shop")
            .replace("{id}", "nothing")
            .replace("{principal}", "nobody")
            .replace("{operation}", "None");
        let concrete = format!("{prefix}{concrete}");
        let body = matches!(method.as_str(), "POST" | "PUT").then(|| json!({}));
        let answer = api(gateway, &gateway.admin_key, method, &concrete, body).await;
        let problem = answer.headers.get("content-type").is_some_and(|t| t == "application/problem+json");
        assert!(answer.status < 300 || problem, "{method} {concrete}: {} {}", answer.status, answer.text());
        assert!(![405, 500].contains(&answer.status), "{method} {concrete}: {}", answer.text());
    }
    // A route with path parameters reaches its handler.
    let shown = api(gateway, &gateway.admin_key, "GET", &format!("{prefix}/api/v1/connectors/shop"), None).await;
    assert_eq!(shown.status, 200, "{prefix}: {}", shown.text());
}

/// A package's files as the test writes them.
pub(crate) type Files = std::collections::BTreeMap<String, Vec<u8>>;

/// A shop package whose backend paths start with `base_path`.
pub(crate) fn shop_files(backend: std::net::SocketAddr, base_path: &str) -> Files {
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}});
    let mut definition = shop_definition(backend, security);
    definition["basePath"] = json!(base_path);
    definition["info"]["title"] = json!("Published shop");
    let mut properties = shop_properties(api_key_parameter(), None, json!([]));
    properties["properties"]["iconBrandColor"] = json!("#1f85ff");
    [
        ("apiDefinition.swagger.json".to_string(), serde_json::to_vec_pretty(&definition).unwrap()),
        ("apiProperties.json".to_string(), serde_json::to_vec_pretty(&properties).unwrap()),
    ]
    .into_iter()
    .collect()
}

/// Zips entries as given, names and all (for hostile archives too).
pub(crate) fn zip_entries(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, contents) in entries {
        out.start_file(*name, options).unwrap();
        out.write_all(contents).unwrap();
    }
    out.finish().unwrap().into_inner()
}

pub(crate) fn zip_files(files: &Files, folder: &str) -> Vec<u8> {
    let names: Vec<String> = files.keys().map(|name| format!("{folder}{name}")).collect();
    let entries: Vec<(&str, &[u8])> =
        names.iter().zip(files.values()).map(|(n, c)| (n.as_str(), c.as_slice())).collect();
    zip_entries(&entries)
}

/// The files of a downloaded archive.
fn unzip(bytes: &[u8]) -> Files {
    use std::io::Read as _;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut files = Files::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).unwrap();
        files.insert(entry.name().unwrap().to_string(), contents);
    }
    files
}

/// Sends an archive as the holder of `key`.
pub(crate) async fn send_zip(
    gateway: &TestGateway,
    key: &str,
    method: &str,
    path: &str,
    zip: Vec<u8>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request =
        http::Request::builder().method(method).uri(gateway.url(path)).header("content-type", "application/zip");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    gateway.request(with_bearer(request.body(Full::new(Bytes::from(zip))).unwrap(), key)).await
}

#[tokio::test]
async fn a_maker_publishes_shares_updates_while_calls_run_downloads_and_deletes() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let backend: std::net::SocketAddr = gateway
        .gateway
        .default_environment()
        .registry()
        .get("shop")
        .unwrap()
        .package
        .definition
        .host
        .clone()
        .unwrap()
        .parse()
        .unwrap();
    let v1 = shop_files(backend, "/v1");

    // Only a maker publishes; the id comes from the title when none is given.
    let bob = send_zip(gateway, &shop.bob, "POST", "/api/v1/connectors", zip_files(&v1, ""), &[]).await;
    assert_eq!((bob.status, bob.problem_type().as_str()), (403, "forbidden"));
    let published =
        send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors", zip_files(&v1, "Published shop/"), &[]).await;
    assert_eq!(published.status, 201, "{}", published.text());
    let body = published.json();
    assert_eq!((body["connector"].as_str(), body["version"].as_i64()), (Some("Published_shop"), Some(1)));
    let etag_v1 = published.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(body["etag"], etag_v1.as_str());
    let again =
        send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?id=Published_shop", zip_files(&v1, ""), &[]).await;
    assert_eq!((again.status, again.problem_type().as_str()), (409, "connector-exists"));
    let folder = send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?id=shop", zip_files(&v1, ""), &[]).await;
    assert_eq!((folder.status, folder.problem_type().as_str()), (409, "connector-exists"), "a folder's id is taken");

    let listed = api(gateway, &shop.alice, "GET", "/api/v1/connectors/Published_shop", None).await;
    assert_eq!(listed.headers["etag"].to_str().unwrap(), etag_v1);
    let listed = listed.json();
    assert_eq!((listed["owner"].as_str(), listed["read_only"].as_bool()), (Some("alice"), Some(false)));
    // The last validation is the publish's: warnings only, as returned then.
    assert_eq!(listed["validation"]["version"], 1);
    assert!(!body["warnings"].as_array().unwrap().is_empty(), "the test package has warnings: {body}");
    assert_eq!(listed["validation"]["findings"], body["warnings"]);
    assert!(listed["validation"]["at"].is_string(), "{listed}");
    let folder = api(gateway, &shop.alice, "GET", "/api/v1/connectors/shop", None).await.json();
    assert!(folder["validation"].is_null(), "a folder's connector is not validated by the gateway: {folder}");

    // Shared with the group, Bob connects and calls.
    let share = json!({"right": "can-use"});
    assert_eq!(
        api(gateway, &shop.alice, "PUT", "/api/v1/connectors/Published_shop/shares/sales", Some(share)).await.status,
        200
    );
    let new = json!({"connector": "Published_shop", "id": "bobs", "parameters": {"api_key": "k-bob"}});
    assert_eq!(api(gateway, &shop.bob, "POST", "/api/v1/connections", Some(new)).await.status, 201);
    let call = |path: &'static str| {
        let request = with_bearer(http::Request::get(gateway.url(path)).body(Full::default()).unwrap(), &shop.bob);
        gateway.request(request)
    };
    assert_eq!(call("/apim/Published_shop/bobs/items").await.status, 200);
    assert_eq!(shop.recorder.last().path_and_query, "/v1/items");

    // Bob may use it, not update it.
    let v2 = shop_files(backend, "/v2");
    let refused =
        send_zip(gateway, &shop.bob, "PUT", "/api/v1/connectors/Published_shop", zip_files(&v2, ""), &[]).await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (403, "forbidden"));
    // An update that names an older version is refused; nothing changes.
    let stale = send_zip(
        gateway,
        &shop.alice,
        "PUT",
        "/api/v1/connectors/Published_shop",
        zip_files(&v2, ""),
        &[("if-match", "\"0-stale\"")],
    )
    .await;
    assert_eq!((stale.status, stale.problem_type().as_str()), (412, "precondition-failed"));

    // Calls in flight finish on v1; the next call uses v2.
    let update = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let headers = [("if-match", etag_v1.as_str())];
        send_zip(gateway, &shop.alice, "PUT", "/api/v1/connectors/Published_shop", zip_files(&v2, ""), &headers).await
    };
    let slow = "/apim/Published_shop/bobs/slow";
    let (a, b, c, d, updated) = tokio::join!(call(slow), call(slow), call(slow), call(slow), update);
    let answers = [a, b, c, d];
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.json()["version"], 2);
    for answer in answers {
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let slow_paths: Vec<String> = shop
        .recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path_and_query.ends_with("/slow"))
        .map(|s| s.path_and_query.clone())
        .collect();
    assert_eq!(slow_paths, ["/v1/slow"; 4], "each finished on the version it started with");
    assert_eq!(call("/apim/Published_shop/bobs/items").await.status, 200);
    assert_eq!(shop.recorder.last().path_and_query, "/v2/items");

    // The download is what was published, and publishing takes it back.
    let download = api(gateway, &shop.alice, "GET", "/api/v1/connectors/Published_shop/package", None).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.headers["content-type"], "application/zip");
    assert_eq!(unzip(&download.body), v2);
    assert_eq!(api(gateway, &shop.bob, "GET", "/api/v1/connectors/Published_shop/package", None).await.status, 403);
    let republished =
        send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?id=Copy", download.body.to_vec(), &[]).await;
    assert_eq!(republished.status, 201, "{}", republished.text());
    let copy = api(gateway, &shop.alice, "GET", "/api/v1/connectors/Copy/package", None).await;
    assert_eq!(copy.body, download.body, "the same files, the same archive");
    // A folder's connector downloads too, and is read-only.
    let folder = api(gateway, &shop.alice, "GET", "/api/v1/connectors/shop/package", None).await;
    assert!(unzip(&folder.body).contains_key("apiDefinition.swagger.json"));
    let read_only = send_zip(gateway, &shop.alice, "PUT", "/api/v1/connectors/shop", zip_files(&v2, ""), &[]).await;
    assert_eq!((read_only.status, read_only.problem_type().as_str()), (409, "read-only"));
    assert_eq!(api(gateway, &shop.alice, "DELETE", "/api/v1/connectors/shop", None).await.status, 409);

    // Deleting it takes its connections; the audit log tells the story.
    assert_eq!(api(gateway, &shop.alice, "DELETE", "/api/v1/connectors/Published_shop", None).await.status, 204);
    let gone = call("/apim/Published_shop/bobs/items").await;
    assert_eq!((gone.status, gone.problem_type().as_str()), (404, "unknown-connector"));
    assert!(!gateway.packages_dir().join("Published_shop").exists());
    assert_eq!(api(gateway, &shop.alice, "GET", "/api/v1/connectors/Published_shop/package", None).await.status, 404);
    assert_eq!(api(gateway, &shop.alice, "GET", "/api/v1/audit", None).await.status, 403, "admins only");
    let audit = api(gateway, &gateway.admin_key, "GET", "/api/v1/audit", None).await.json();
    let story: Vec<(String, String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
                e["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("alice", "deleted", "connector Published_shop"),
        ("alice", "published", "connector Copy"),
        ("alice", "updated", "connector Published_shop"),
        ("bob", "connected", "connection Published_shop/bobs"),
        ("alice", "shared", "connector Published_shop"),
        ("alice", "published", "connector Published_shop"),
    ];
    assert_eq!(story, expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
    assert_eq!(audit[4]["after"], "sales can-use");
    let updated = &audit[2];
    assert!(
        updated["before"].as_str().unwrap().starts_with("v1 ") && updated["after"].as_str().unwrap().starts_with("v2 "),
        "{updated}"
    );
}

#[tokio::test]
async fn a_refused_package_leaves_nothing_behind() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let backend: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    let files = shop_files(backend, "/v1");
    let definition = files["apiDefinition.swagger.json"].clone();
    let mut broken: serde_json::Value = serde_json::from_slice(&definition).unwrap();
    broken["swagger"] = json!("3.0");
    let broken = serde_json::to_vec(&broken).unwrap();
    let bomb = {
        use std::io::Write as _;
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        out.start_file("apiDefinition.swagger.json", options).unwrap();
        out.write_all(&vec![b' '; 80 << 20]).unwrap();
        out.finish().unwrap().into_inner()
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (zip_entries(&[("../apiDefinition.swagger.json", &definition)]), 422, "bad-archive"),
        (zip_entries(&[("/tmp/apiDefinition.swagger.json", &definition)]), 422, "bad-archive"),
        (zip_entries(&[("apiDefinition.swagger.json", &definition), ("run.sh", b"#!/bin/sh")]), 422, "bad-archive"),
        (b"not a zip".to_vec(), 422, "bad-archive"),
        (bomb, 413, "package-too-large"),
        (zip_entries(&[("apiDefinition.swagger.json", &broken)]), 422, "package-refused"),
    ];
    for (zip, status, problem) in cases {
        let answer = send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?id=Tried", zip, &[]).await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (status, problem), "{}", answer.text());
        if problem == "package-refused" {
            let findings = answer.json()["findings"].clone();
            assert!(findings.as_array().unwrap().iter().any(|f| f["rule"] == "swagger-version"), "{findings}");
        }
    }
    let not_zip = api(gateway, &shop.alice, "POST", "/api/v1/connectors?id=Tried", Some(json!({}))).await;
    assert_eq!((not_zip.status, not_zip.problem_type().as_str()), (415, "unsupported-media-type"));
    let bad_id = send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?id=../x", zip_files(&files, ""), &[]).await;
    assert_eq!((bad_id.status, bad_id.problem_type().as_str()), (400, "bad-request"));
    let unknown_query =
        send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?name=x", zip_files(&files, ""), &[]).await;
    assert_eq!(unknown_query.status, 400, "{}", unknown_query.text());

    // Nothing of them is left.
    assert_only_the_shop(&shop).await;
}

/// Only the folder's shop is there: no other connector, folder, staging
/// folder or audit entry.
async fn assert_only_the_shop(shop: &Shop) {
    let gateway = &shop.gateway;
    assert_eq!(ids(&api(gateway, &shop.alice, "GET", "/api/v1/connectors", None).await), ["shop"]);
    let entries: Vec<String> = std::fs::read_dir(gateway.packages_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".db") && !name.ends_with("-wal") && !name.ends_with("-shm"))
        .collect();
    assert_eq!(entries, ["shop"], "{entries:?}");
    assert_eq!(api(gateway, &gateway.admin_key, "GET", "/api/v1/audit", None).await.json(), json!([]));
}

/// At least `len` bytes that do not compress: a chain of hashes.
fn noise(len: usize) -> Vec<u8> {
    let mut noise = Vec::new();
    let mut block = [7u8; 32];
    while noise.len() < len {
        use sha2::Digest as _;
        block = sha2::Sha256::digest(block).into();
        noise.extend_from_slice(&block);
    }
    noise
}

#[tokio::test]
async fn an_archive_over_the_size_limit_is_413() {
    let gateway = TestGatewayBuilder::new().requests(|limits| limits.max_package_bytes = 4096).start().await;
    let big = zip_entries(&[("apiDefinition.swagger.json", &noise(64 << 10))]);
    let answer = send_zip(&gateway, &gateway.admin_key, "POST", "/api/v1/connectors?id=Big", big, &[]).await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (413, "body-too-large"));
}

/// The wizard's Test step: the operation runs as a flow's call would, and
/// the answer shows the response, each backend request with its
/// credentials redacted, the code's log and its report against the limits.
#[tokio::test]
async fn testing_an_operation_shows_the_response_the_backend_requests_the_log_and_the_report() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}});
    let gateway = code_shop(TestGatewayBuilder::new(), backend, security, api_key_parameter(), json!([]), "")
        .connection("shop", "c1", &[("api_key", "sekret-key-42")])
        .start()
        .await;
    let test = |body: Value| {
        api(&gateway, &gateway.admin_key, "POST", "/api/v1/connectors/shop/operations/Run/test", Some(body))
    };

    let logged = test(json!({"connection": "c1", "parameters": {"action": "log"}})).await;
    assert_eq!(logged.status, 200, "{}", logged.text());
    let result = logged.json();
    assert_eq!(
        (result["response"]["status"].as_u64(), result["response"]["body"].as_str()),
        (Some(200), Some("logged"))
    );
    let messages: Vec<&str> =
        result["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"info line 1") && messages.contains(&"to stdout"), "{messages:?}");
    let report = &result["report"];
    assert!(report["fuel_consumed"].as_u64().unwrap() > 0 && report["fuel_limit"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["peak_memory_bytes"].as_u64().unwrap() > 0 && report["deadline_ms"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert_eq!(result["backend_requests"], json!([]));

    // The code's own call to the backend gets the key; the test shows it redacted.
    let to = format!("http://{backend}/v1/items");
    let sent = test(json!({"connection": "c1", "parameters": {"action": "send", "to": to}})).await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    assert_eq!(recorder.last().headers["x-api-key"], "sekret-key-42", "the backend got the key");
    assert!(!sent.text().contains("sekret-key-42"), "no secret in the test's answer: {}", sent.text());
    let requests = sent.json()["backend_requests"].clone();
    assert_eq!(requests.as_array().unwrap().len(), 1, "{requests}");
    assert_eq!((requests[0]["method"].as_str(), requests[0]["url"].as_str()), (Some("GET"), Some(to.as_str())));
    assert_eq!(
        (requests[0]["status"].as_u64(), requests[0]["headers"]["x-api-key"].as_str()),
        (Some(200), Some("***"))
    );

    // A failing call is shown as a flow would see it.
    let failed = test(json!({"connection": "c1", "parameters": {"action": "client-error"}})).await.json();
    assert_eq!(failed["response"]["status"], 400);
    // Refusals of the test itself.
    let missing = test(json!({"connection": "c1"})).await;
    assert_eq!((missing.status, missing.problem_type().as_str()), (400, "bad-request"));
    assert!(missing.json()["detail"].as_str().unwrap().contains("`action`"), "{}", missing.text());
    let no_op = api(
        &gateway,
        &gateway.admin_key,
        "POST",
        "/api/v1/connectors/shop/operations/Nope/test",
        Some(json!({"connection": "c1"})),
    )
    .await;
    assert_eq!((no_op.status, no_op.problem_type().as_str()), (404, "not-found"));
    let no_connection = test(json!({"connection": "nope", "parameters": {"action": "ok"}})).await;
    assert_eq!(no_connection.status, 200, "the call's own 404 is the response");
    assert_eq!(no_connection.json()["response"]["status"], 404);
}

/// An environment's admins change its network through the API: the next
/// call's decision uses it, it is audited, and it outlives a restart.
#[tokio::test]
async fn network_settings_change_for_the_next_call_and_outlive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let oauth = sealing(dir.path(), 6);
    let public: std::net::SocketAddr = "93.184.215.14:443".parse().unwrap();
    let mut definition = shop_definition(public, json!({}));
    definition["schemes"] = json!(["https"]);
    let gateway = TestGatewayBuilder::new()
        .package("shop", definition.clone(), shop_properties(json!({}), None, json!([])))
        .connection("shop", "c1", &[])
        .oauth(oauth.clone())
        .start()
        .await;
    let decide = |gateway: &TestGateway| {
        let environment = std::sync::Arc::clone(gateway.gateway.default_environment());
        async move {
            let connector = environment.registry().get("shop").unwrap();
            let connection = connector.connections["c1"].as_ref().unwrap();
            let resolver: &dyn sluice_egress::Resolver = &sluice_egress::PinnedResolver::new();
            environment.network().policy(&connection.allowlist).check("https://93.184.215.14/v1/items", resolver).await
        }
    };
    let admin = gateway.admin_key.clone();
    let before = api(&gateway, &admin, "GET", "/api/v1/network", None).await.json();
    assert_eq!(before, json!({"subnets": [], "public": true, "private_roots": 0, "source": "settings-file"}));
    assert!(decide(&gateway).await.is_allowed());

    let changed =
        api(&gateway, &admin, "PUT", "/api/v1/network", Some(json!({"subnets": ["10.9.1.7/16"], "public": false})))
            .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(
        changed.json(),
        json!({"subnets": ["10.9.0.0/16"], "public": false, "private_roots": 0, "source": "api"})
    );
    assert!(!decide(&gateway).await.is_allowed(), "no public egress from the next call on");

    for (body, problem) in [
        (json!({"subnets": ["10.9/16"], "public": false}), "bad-request"),
        (json!({"subnets": [], "public": false, "nat": true}), "bad-request"),
        (json!({"subnets": []}), "bad-request"),
    ] {
        let refused = api(&gateway, &admin, "PUT", "/api/v1/network", Some(body.clone())).await;
        assert_eq!((refused.status, refused.problem_type().as_str()), (400, problem), "{body}");
    }
    let audit = api(&gateway, &admin, "GET", "/api/v1/audit", None).await.json();
    assert_eq!(audit.as_array().unwrap().len(), 1, "refused changes are not audited: {audit}");
    assert_eq!(
        (audit[0]["action"].as_str(), audit[0]["target"].as_str()),
        (Some("network-changed"), Some("environment default"))
    );
    assert_eq!(audit[0]["after"], r#"{"subnets":["10.9.1.7/16"],"public":false}"#);
    drop(gateway);

    // Another start on the same store runs under the settings set here.
    let again = TestGatewayBuilder::new()
        .package("shop", definition, shop_properties(json!({}), None, json!([])))
        .connection("shop", "c1", &[])
        .oauth(oauth)
        .start()
        .await;
    let after = api(&again, &again.admin_key, "GET", "/api/v1/network", None).await.json();
    assert_eq!((after["source"].as_str(), after["public"].as_bool()), (Some("api"), Some(false)));
    assert!(!decide(&again).await.is_allowed());
}

/// A multipart body of named parts.
fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "sluice-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, contents) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(contents);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_package_may_be_published_as_multipart_parts() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let files = shop_files("127.0.0.1:9".parse().unwrap(), "/v1");
    let send = |content_type: String, body: Vec<u8>| {
        let request = http::Request::post(gateway.url("/api/v1/connectors?id=Parts"))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        gateway.request(with_bearer(request, &shop.alice))
    };
    let (content_type, body) = multipart(&[
        ("definition", &files["apiDefinition.swagger.json"]),
        ("apiProperties.json", &files["apiProperties.json"]),
    ]);
    let published = send(content_type, body).await;
    assert_eq!(published.status, 201, "{}", published.text());
    let download = api(gateway, &shop.alice, "GET", "/api/v1/connectors/Parts/package", None).await;
    assert_eq!(unzip(&download.body), files);

    let (content_type, body) =
        multipart(&[("definition", &files["apiDefinition.swagger.json"]), ("run.sh", b"#!/bin/sh")]);
    let refused = send(content_type, body).await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (422, "bad-archive"), "{}", refused.text());
    let (content_type, body) = multipart(&[("definition", b"{}"), ("definition", b"{}")]);
    let twice = send(content_type, body).await;
    assert_eq!((twice.status, twice.problem_type().as_str()), (422, "bad-archive"));
    let no_boundary = send("multipart/form-data".into(), b"x".to_vec()).await;
    assert_eq!((no_boundary.status, no_boundary.problem_type().as_str()), (400, "bad-request"));

    let small = TestGatewayBuilder::new().requests(|limits| limits.max_package_bytes = 256).start().await;
    let (content_type, body) = multipart(&[("definition", &vec![b' '; 4096])]);
    let request = http::Request::post(small.url("/api/v1/connectors?id=Big"))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let too_big = small.request(request).await;
    assert_eq!((too_big.status, too_big.problem_type().as_str()), (413, "body-too-large"), "{}", too_big.text());
}

/// A folder's connector belongs to the owner the settings file names: she
/// shares it, though it stays read-only to the API.
#[tokio::test]
async fn a_folder_connector_belongs_to_its_configured_owner() {
    let access = sluice_gateway::config::AccessConfig {
        owners: [("shop".to_string(), "alice".to_string())].into_iter().collect(),
        ..Default::default()
    };
    let gateway = TestGatewayBuilder::new()
        .package(
            "shop",
            shop_definition("127.0.0.1:9".parse().unwrap(), json!({})),
            shop_properties(json!({}), None, json!([])),
        )
        .access(access)
        .start()
        .await;
    let admin = caller(ADMIN);
    let access = gateway.gateway.access();
    access.set_role(&admin, DEFAULT_ENVIRONMENT, "alice", Some(Role::Maker)).await.unwrap();
    access.add_principal(&admin, "alice", PrincipalKind::User, "Alice").await.unwrap();
    let alice = access.issue_key(&admin, "alice", "tests", None).await.unwrap().key;
    let shown = api(&gateway, &alice, "GET", "/api/v1/connectors/shop", None).await.json();
    assert_eq!(
        (shown["owner"].as_str(), shown["right"].as_str(), shown["read_only"].as_bool()),
        (Some("alice"), Some("can-edit"), Some(true))
    );
    let share = json!({"right": "can-use"});
    assert_eq!(api(&gateway, &alice, "PUT", "/api/v1/connectors/shop/shares/bob", Some(share)).await.status, 200);
    let bad = sluice_gateway::config::AccessConfig {
        owners: [("shop".to_string(), "has space".to_string())].into_iter().collect(),
        ..Default::default()
    };
    let Err(error) = TestGatewayBuilder::new().access(bad).try_start().await else { panic!("started") };
    assert!(error.to_string().contains("`has space` is not a principal id"), "{error}");
}

/// Every example connector of `examples/`, zipped here from its folder,
/// publishes as a maker and downloads back as the same files.
#[tokio::test]
async fn the_example_connectors_publish_as_a_maker_and_download_unchanged() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    for name in EXAMPLE_CONNECTORS {
        let folder = examples().join(name);
        let files: Files =
            ["apiDefinition.swagger.json", "apiProperties.json", "script.wasm", "sluice.toml", "icon.png"]
                .into_iter()
                .filter_map(|file| std::fs::read(folder.join(file)).ok().map(|bytes| (file.to_string(), bytes)))
                .collect();
        let id = format!("Example_{}", name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
        let path = format!("/api/v1/connectors?id={id}");
        let published =
            send_zip(gateway, &shop.alice, "POST", &path, zip_files(&files, &format!("{name}/")), &[]).await;
        assert_eq!(published.status, 201, "{name}: {}", published.text());
        let download = api(gateway, &shop.alice, "GET", &format!("/api/v1/connectors/{id}/package"), None).await;
        assert_eq!(unzip(&download.body), files, "{name}");
        let shown = api(gateway, &shop.alice, "GET", &format!("/api/v1/connectors/{id}"), None).await.json();
        assert_eq!(
            (shown["status"].as_str(), shown["owner"].as_str()),
            (Some("ready"), Some("alice")),
            "{name}: {shown}"
        );
    }
}

/// What a form for a call or a connection needs: each operation's tags,
/// visibility and parameters (a body's schema with its definitions
/// resolved), and the connection parameters the package declares, never a
/// connection's values.
#[tokio::test]
async fn a_connector_shows_its_operations_parameters_and_connection_parameters() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let mut files = shop_files("127.0.0.1:9".parse().unwrap(), "/v1");
    let mut definition: Value = serde_json::from_slice(&files["apiDefinition.swagger.json"]).unwrap();
    definition["definitions"] = json!({"Line": {"type": "object", "properties": {
        "sku": {"type": "string"}, "next": {"$ref": "#/definitions/Line"}}}});
    let add_line = &mut definition["paths"]["/orders/{orderId}/lines"]["post"];
    add_line["tags"] = json!(["Orders"]);
    add_line["description"] = json!("Adds a line to an order");
    add_line["x-ms-visibility"] = json!("important");
    add_line["parameters"][1]["x-ms-summary"] = json!("Dry run");
    add_line["parameters"][1]["enum"] = json!([true, false]);
    add_line["parameters"][3]["schema"] = json!({"$ref": "#/definitions/Line"});
    files.insert("apiDefinition.swagger.json".into(), serde_json::to_vec(&definition).unwrap());
    let published = send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?id=Rich", zip_files(&files, ""), &[]);
    assert_eq!(published.await.status, 201);

    let shown = api(gateway, &shop.alice, "GET", "/api/v1/connectors/Rich", None).await.json();
    let operations = shown["operation_list"].as_array().unwrap();
    let add_line = operations.iter().find(|o| o["id"] == "AddLine").unwrap();
    assert_eq!(
        (add_line["tags"].clone(), add_line["description"].as_str(), add_line["visibility"].as_str()),
        (json!(["Orders"]), Some("Adds a line to an order"), Some("important"))
    );
    let list_items = operations.iter().find(|o| o["id"] == "ListItems").unwrap();
    assert_eq!(
        (list_items["tags"].clone(), list_items["visibility"].as_str(), list_items["parameters"].clone()),
        (json!([]), Some("default"), json!([]))
    );
    let parameters = add_line["parameters"].as_array().unwrap();
    let located: Vec<(&str, &str, bool)> = parameters
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap(), p["required"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        located,
        [("orderId", "path", true), ("dryRun", "query", true), ("X-Tenant", "header", true), ("body", "body", false)]
    );
    assert_eq!(
        parameters[1],
        json!({"name": "dryRun", "in": "query", "required": true, "type": "boolean", "summary": "Dry run",
            "description": null, "default": null, "enum": [true, false], "schema": null})
    );
    let schema = &parameters[3]["schema"];
    assert_eq!(parameters[3]["type"], Value::Null);
    assert_eq!(schema["properties"]["sku"], json!({"type": "string"}), "{schema}");
    assert_eq!(
        schema["properties"]["next"]["properties"]["sku"],
        json!({"type": "string"}),
        "resolved again: {schema}"
    );

    // The connection parameters of the folder's shop, in file order; a
    // connection's values (`main` holds `settings-key` and `eu`) are not there.
    let shop_shown = api(gateway, &shop.alice, "GET", "/api/v1/connectors/shop", None).await;
    assert!(!shop_shown.text().contains("settings-key"), "{}", shop_shown.text());
    assert_eq!(
        shop_shown.json()["connection_parameters"],
        json!([
            {"name": "api_key", "type": "securestring", "display_name": "key", "description": null, "tooltip": null,
             "required": true, "allowed_values": [], "secret": true},
            {"name": "region", "type": "string", "display_name": "Region", "description": null, "tooltip": null,
             "required": false, "allowed_values": ["eu", "us"], "secret": false},
        ])
    );
}

/// The list says how many a connector is shared with to those who may
/// edit it, and how many findings its newest published version had.
#[tokio::test]
async fn the_list_counts_shares_for_editors_and_validation_findings_of_published_connectors() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let files = shop_files("127.0.0.1:9".parse().unwrap(), "/v1");
    let published = send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?id=Mine", zip_files(&files, ""), &[]);
    let published = published.await;
    assert_eq!(published.status, 201, "{}", published.text());
    let warnings = published.json()["warnings"].as_array().unwrap().len();
    assert!(warnings > 0, "the test package has warnings");
    let share = json!({"right": "can-use"});
    let shared = api(gateway, &shop.alice, "PUT", "/api/v1/connectors/Mine/shares/sales", Some(share.clone())).await;
    assert_eq!(shared.status, 200);
    assert_eq!(api(gateway, &shop.alice, "PUT", "/api/v1/connectors/Mine/shares/carol", Some(share)).await.status, 200);

    let by_id = |answer: Answer| -> std::collections::BTreeMap<String, Value> {
        answer.json().as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap().to_string(), c.clone())).collect()
    };
    let alices = by_id(api(gateway, &shop.alice, "GET", "/api/v1/connectors", None).await);
    assert_eq!(alices["Mine"]["shares"], 2);
    assert_eq!(alices["Mine"]["validation"], json!({"errors": 0, "warnings": warnings}));
    assert_eq!((alices["shop"]["shares"].clone(), alices["shop"]["validation"].clone()), (json!(0), Value::Null));
    let shown = api(gateway, &shop.alice, "GET", "/api/v1/connectors/Mine", None).await.json();
    assert_eq!((shown["shares"].clone(), shown["validation"]["warnings"].clone()), (json!(2), json!(warnings)));

    // Bob may use it: he is not told who else may.
    let bobs = by_id(api(gateway, &shop.bob, "GET", "/api/v1/connectors", None).await);
    assert_eq!(bobs["Mine"]["right"], "can-use");
    assert!(bobs["Mine"]["shares"].is_null(), "{}", bobs["Mine"]);
    assert_eq!(bobs["Mine"]["validation"], json!({"errors": 0, "warnings": warnings}));
}

/// A maker validates a package as a publish would and nothing is stored:
/// errors are findings, a package that does not load is refused as a
/// publish refuses it, and a user may not validate.
#[tokio::test]
async fn validating_a_package_finds_what_a_publish_would_and_stores_nothing() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let files = shop_files("127.0.0.1:9".parse().unwrap(), "/v1");
    let checked = send_zip(gateway, &shop.alice, "POST", "/api/v1/validate", zip_files(&files, "pkg/"), &[]).await;
    assert_eq!(checked.status, 200, "{}", checked.text());
    let checked = checked.json();
    let warnings = checked["findings"].as_array().unwrap().len();
    assert!(warnings > 0, "the test package has warnings: {checked}");
    assert_eq!((checked["errors"].clone(), checked["warnings"].clone()), (json!(0), json!(warnings)));
    assert_only_the_shop(&shop).await;
    // A publish of the same package warns of the same.
    let published = send_zip(gateway, &shop.alice, "POST", "/api/v1/connectors?id=Same", zip_files(&files, ""), &[]);
    let published = published.await.json();
    assert_eq!(published["warnings"], checked["findings"]);

    // An error a publish refuses is a finding here, as multipart parts too.
    let (content_type, body) = multipart(&[
        ("definition", &files["apiDefinition.swagger.json"]),
        ("properties", &files["apiProperties.json"]),
        ("script", b"not a component"),
    ]);
    let request = http::Request::post(gateway.url("/api/v1/validate"))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let with_error = gateway.request(with_bearer(request, &shop.alice)).await;
    assert_eq!(with_error.status, 200, "{}", with_error.text());
    let with_error = with_error.json();
    assert_eq!(with_error["errors"], 1, "{with_error}");
    let error = with_error["findings"].as_array().unwrap().iter().find(|f| f["severity"] == "error").unwrap();
    assert_eq!((error["rule"].as_str(), error["file"].as_str()), (Some("script-contract"), Some("script.wasm")));

    // A package that does not load, and an archive that cannot be read, are
    // answered as a publish answers them.
    let mut definition: Value = serde_json::from_slice(&files["apiDefinition.swagger.json"]).unwrap();
    definition["swagger"] = json!("3.0");
    let broken = serde_json::to_vec(&definition).unwrap();
    let refused = send_zip(
        gateway,
        &shop.alice,
        "POST",
        "/api/v1/validate",
        zip_entries(&[("apiDefinition.swagger.json", &broken)]),
        &[],
    )
    .await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (422, "package-refused"), "{}", refused.text());
    let findings = refused.json()["findings"].clone();
    assert!(findings.as_array().unwrap().iter().any(|f| f["rule"] == "swagger-version"), "{findings}");
    let climbing = zip_entries(&[("../apiDefinition.swagger.json", &broken)]);
    let climbing = send_zip(gateway, &shop.alice, "POST", "/api/v1/validate", climbing, &[]).await;
    assert_eq!((climbing.status, climbing.problem_type().as_str()), (422, "bad-archive"));
    let not_zip = api(gateway, &shop.alice, "POST", "/api/v1/validate", Some(json!({}))).await;
    assert_eq!((not_zip.status, not_zip.problem_type().as_str()), (415, "unsupported-media-type"));

    // Bob is a user, not a maker.
    let bob = send_zip(gateway, &shop.bob, "POST", "/api/v1/validate", zip_files(&files, ""), &[]).await;
    assert_eq!((bob.status, bob.problem_type().as_str()), (403, "forbidden"), "{}", bob.text());
}

#[tokio::test]
async fn validating_is_held_to_the_upload_limit() {
    let gateway = TestGatewayBuilder::new().requests(|limits| limits.max_package_bytes = 256).start().await;
    let big = zip_entries(&[("apiDefinition.swagger.json", &noise(4096))]);
    let answer = send_zip(&gateway, &gateway.admin_key, "POST", "/api/v1/validate", big, &[]).await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (413, "body-too-large"), "{}", answer.text());
}

/// Every call of a connector counts in its last hour, the Test step's too,
/// with each failure's kind; only those who may use the connector see it.
#[tokio::test]
async fn a_connectors_activity_counts_its_calls_and_failures_per_minute() {
    let shop = shop().await;
    let gateway = &shop.gateway;
    let admin = &gateway.admin_key;
    let before = chrono::Utc::now();
    for path in [
        "/apim/shop/main/items",
        "/apim/shop/main/items",
        "/apim/shop/main/status/503",
        "/apim/shop/main/nowhere",
        "/apim/shop/nobody/items",
    ] {
        let request = http::Request::get(gateway.url(path)).body(Full::default()).unwrap();
        gateway.request(with_bearer(request, admin)).await;
    }
    let tested = api(
        gateway,
        admin,
        "POST",
        "/api/v1/connectors/shop/operations/GetItem/test",
        Some(json!({"connection": "main", "parameters": {"id": "7"}})),
    )
    .await;
    assert_eq!(tested.status, 200, "{}", tested.text());

    let answer = api(gateway, &shop.alice, "GET", "/api/v1/connectors/shop/activity", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let activity = answer.json();
    assert_eq!(activity["connector"], "shop");
    let minutes = activity["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let starts: Vec<chrono::DateTime<chrono::Utc>> =
        minutes.iter().map(|m| m["start"].as_str().unwrap().parse().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == chrono::TimeDelta::seconds(60)), "{starts:?}");
    let now = chrono::Utc::now();
    assert!(starts[59] <= now && now - starts[59] < chrono::TimeDelta::seconds(60), "the last is the current minute");
    assert!(starts[59] + chrono::TimeDelta::seconds(60) > before, "the calls' minute is in the hour");
    // Summed over the minutes, since the calls may straddle a minute's end.
    let total = |field: &str| {
        let mut sums = std::collections::BTreeMap::<String, u64>::new();
        for minute in minutes {
            for (name, n) in minute[field].as_object().unwrap() {
                *sums.entry(name.clone()).or_default() += n.as_u64().unwrap();
            }
        }
        sums
    };
    let expected_calls = [("GetItem", 1), ("ListItems", 2), ("Status", 1), ("unknown", 2)];
    assert_eq!(total("calls"), expected_calls.map(|(k, n)| (k.to_string(), n)).into_iter().collect());
    let expected_errors = [("http-503", 1), ("unknown-connection", 1), ("unknown-operation", 1)];
    assert_eq!(total("errors"), expected_errors.map(|(k, n)| (k.to_string(), n)).into_iter().collect());
    assert!(minutes[..58].iter().all(|m| m["calls"] == json!({}) && m["errors"] == json!({})), "{activity}");

    // Carol may not see the connector; Bob may once it is shared with him.
    for key in [&shop.carol, &shop.bob] {
        let hidden = api(gateway, key, "GET", "/api/v1/connectors/shop/activity", None).await;
        assert_eq!((hidden.status, hidden.problem_type().as_str()), (404, "unknown-connector"));
    }
    let share = json!({"right": "can-use"});
    assert_eq!(api(gateway, &shop.alice, "PUT", "/api/v1/connectors/shop/shares/bob", Some(share)).await.status, 200);
    let bobs = api(gateway, &shop.bob, "GET", "/api/v1/connectors/shop/activity", None).await;
    assert_eq!(bobs.status, 200, "{}", bobs.text());
    let missing = api(gateway, admin, "GET", "/api/v1/connectors/nothing/activity", None).await;
    assert_eq!((missing.status, missing.problem_type().as_str()), (404, "unknown-connector"));
}
