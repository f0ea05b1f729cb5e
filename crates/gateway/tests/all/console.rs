//! The console end to end in a real headless Chromium (Debian's, through
//! chromedriver): a maker publishes the example package, sees its
//! operations, makes a connection, tests an operation and reads the call
//! report, and shares the connector with a user who then sees it; a
//! package holding HTML shows it as text; a page of another site cannot act
//! in a signed-in person's name. Screenshots of the main pages go to
//! `target/tmp/console-screenshots/`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::json;
use sluice_gateway::access::{DEFAULT_ENVIRONMENT, PrincipalKind, Role};
use sluice_test_browser::{Browser, Client, Locator};

use crate::api::caller;
use crate::support::*;

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
}

/// Waits until the element `css` holds `needle` in its text; fails with
/// what the page shows instead.
async fn wait_text(client: &Client, css: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) {
            return text;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let page = client.find(Locator::Css("body")).await.unwrap().text().await.unwrap_or_default();
            panic!("`{css}` never showed {needle:?}; the page shows:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the page does wrong for people using a keyboard or a screen
/// reader, or needing contrast: form controls without a label, buttons and
/// links without a name, and text under 4.5:1 against its background.
const ACCESSIBILITY: &str = r#"
const named = (e) => e.textContent.trim() || e.getAttribute('aria-label');
const problems = [];
for (const e of document.querySelectorAll('input, select, textarea')) {
  if (e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')) problems.push('unlabeled ' + e.outerHTML);
}
for (const e of document.querySelectorAll('button, a[href]')) if (!named(e)) problems.push('nameless ' + e.outerHTML);
const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (e) => {
  for (; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
for (const e of document.querySelectorAll('body *')) {
  if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
  if (e.closest('[hidden], svg, .skip')) continue;
  const style = getComputedStyle(e);
  if (style.visibility === 'hidden' || style.display === 'none') continue;
  const [a, b] = [luminance(rgb(style.color)), luminance(background(e))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} of ${e.tagName} "${e.textContent.trim().slice(0, 40)}"`);
}
return problems;
"#;

async fn assert_accessible(client: &Client, page: &str) {
    let problems = client.execute(ACCESSIBILITY, vec![]).await.unwrap();
    assert_eq!(problems, json!([]), "{page}");
}

async fn fill(client: &Client, css: &str, text: &str) {
    let element = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    element.clear().await.unwrap();
    element.send_keys(text).await.unwrap();
}

async fn click(client: &Client, css: &str) {
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
}

async fn click_text(client: &Client, text: &str) {
    let xpath = format!("//*[self::a or self::button][normalize-space(.)='{text}']");
    client
        .wait()
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn sign_in(client: &Client, gateway: &TestGateway, key: &str) {
    client.goto(&gateway.url("/console/#/signin")).await.unwrap();
    wait_text(client, "main h1", "Sign in").await;
    // By keyboard: the credential, then Enter.
    fill(client, "#signin-credential", &format!("{key}\u{E007}")).await;
    wait_text(client, "main h1", "Connectors").await;
}

async fn sign_out(client: &Client) {
    click_text(client, "Sign out").await;
    wait_text(client, "main h1", "Sign in").await;
}

/// A gateway where Alice is a maker and Bob a user, each with a key.
struct People {
    gateway: TestGateway,
    alice: String,
    bob: String,
    _dir: tempfile::TempDir,
}

async fn people() -> People {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new().oauth(sealing(dir.path(), 9)).start().await;
    let access = gateway.gateway.access();
    let admin = caller(ADMIN);
    let mut keys = Vec::new();
    for (user, role) in [("alice", Role::Maker), ("bob", Role::User)] {
        access.add_principal(&admin, user, PrincipalKind::User, user).await.unwrap();
        access.set_role(&admin, DEFAULT_ENVIRONMENT, user, Some(role)).await.unwrap();
        keys.push(access.issue_key(&admin, user, "console tests", None).await.unwrap().key);
    }
    let [alice, bob] = <[String; 2]>::try_from(keys).unwrap();
    People { gateway, alice, bob, _dir: dir }
}

/// The example package (`examples/items-transform` with its code) as an
/// archive on disk, calling `backend`.
/// `broken` adds a parameter the platform reserves (`connectionId`), an
/// error of validation.
fn example_archive(dir: &std::path::Path, backend: std::net::SocketAddr, broken: bool) -> PathBuf {
    let name = if broken { "broken" } else { "items" };
    let folder = dir.join(name);
    copy_package(&examples().join("items-transform"), &folder, Some(backend));
    std::fs::write(folder.join("script.wasm"), guest("items-transform")).unwrap();
    std::fs::remove_file(folder.join("README.md")).ok();
    let mut files = sluice_gateway::archive::folder_files(&folder).unwrap();
    if broken {
        let mut definition: serde_json::Value = serde_json::from_slice(&files["apiDefinition.swagger.json"]).unwrap();
        let reserved = json!({"name": "connectionId", "in": "query", "type": "string"});
        definition["paths"]["/items"]["get"]["parameters"].as_array_mut().unwrap().push(reserved);
        files.insert("apiDefinition.swagger.json".into(), serde_json::to_vec(&definition).unwrap());
    }
    let archive = dir.join(format!("{name}.zip"));
    std::fs::write(&archive, sluice_gateway::archive::write(&files)).unwrap();
    archive
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maker_publishes_connects_tests_and_shares_and_the_user_sees_it() {
    let items = Router::new().route(
        "/v1/items",
        get(|| async {
            axum::Json(json!([{"id": 1, "name": "bolt", "ok": true}, {"id": 2, "name": "nut", "ok": false}]))
        }),
    );
    let backend = start_backend(items).await;
    let People { gateway, alice, bob, _dir } = people().await;
    let files = tempfile::tempdir().unwrap();
    let archive = example_archive(files.path(), backend, false);
    let broken = example_archive(files.path(), backend, true);
    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    let shots = screenshots();

    client.goto(&gateway.url("/console/")).await.unwrap();
    wait_text(client, "main h1", "Sign in").await;
    browser.screenshot(&shots, "01-sign-in").await.unwrap();
    assert_accessible(client, "01-sign-in").await;
    sign_in(client, &gateway, &alice).await;
    wait_text(client, "#who", "alice (API key)").await;

    // Publish: the findings show first, and only then may it be published.
    click_text(client, "Publish").await;
    wait_text(client, "main h1", "Publish a connector").await;
    let zip = client.find(Locator::Css("#package-zip")).await.unwrap();
    zip.send_keys(broken.to_str().unwrap()).await.unwrap();
    let refused = wait_text(client, "main", "errors block publishing").await;
    assert!(refused.contains("parameter-connection-id"), "the finding names its rule: {refused}");
    let button = client.find(Locator::Css("#publish-button")).await.unwrap();
    assert_eq!(button.prop("disabled").await.unwrap().as_deref(), Some("true"), "errors block publishing");
    browser.screenshot(&shots, "02-publish-refused").await.unwrap();
    zip.clear().await.unwrap();
    zip.send_keys(archive.to_str().unwrap()).await.unwrap();
    wait_text(client, "main", "Ready to publish").await;
    fill(client, "#publish-id", "items").await;
    browser.screenshot(&shots, "02-publish").await.unwrap();
    assert_accessible(client, "02-publish").await;
    click(client, "#publish-button").await;

    // Its page: the operations by tag, whether each runs code, the code's limits.
    wait_text(client, "main h1", "Items").await;
    let operations = wait_text(client, "main", "ListItems").await;
    assert!(operations.contains("GetItem") && operations.contains("runs code"), "{operations}");
    assert!(operations.contains("Fuel per call") && operations.contains("setheader"), "{operations}");
    browser.screenshot(&shots, "03-connector").await.unwrap();
    assert_accessible(client, "03-connector").await;

    // A connection, from the package's connectionParameters; the secret is not echoed.
    click_text(client, "New connection").await;
    wait_text(client, "main h1", "New connection to Items").await;
    let form = wait_text(client, "main form", "API key").await;
    assert!(form.contains("The key for the items API"), "the parameter's description shows: {form}");
    let secret = client.find(Locator::Css("#conn-param-0")).await.unwrap();
    assert_eq!(secret.attr("type").await.unwrap().as_deref(), Some("password"));
    fill(client, "#conn-id", "main").await;
    fill(client, "#conn-param-0", "key-123").await;
    browser.screenshot(&shots, "04-connection").await.unwrap();
    assert_accessible(client, "04-connection").await;
    click_text(client, "Create the connection").await;
    wait_text(client, "main", "Connection main: ready").await;
    assert_eq!(secret.prop("value").await.unwrap().as_deref(), Some(""), "the secret is cleared once sent");
    click_text(client, "All connections").await;
    let listed = wait_text(client, "main table", "main").await;
    assert!(!listed.contains("key-123"), "a secret never shows: {listed}");

    // Test ListItems: the response, the backend request, the call report.
    client.goto(&gateway.url("/console/#/connectors/items/test/ListItems")).await.unwrap();
    wait_text(client, "main h1", "Test ListItems").await;
    fill(client, "#param-0", "5").await;
    click_text(client, "Test").await;
    wait_text(client, "#response-status", "200").await;
    let body = wait_text(client, "#response-body", "\"count\": 2").await;
    assert!(body.contains("bolt"), "{body}");
    let report = wait_text(client, "#call-report", "Peak memory").await;
    assert!(report.contains("Fuel") && report.contains(" of ") && report.contains("ms of"), "{report}");
    let meters = client.find_all(Locator::Css("#call-report meter")).await.unwrap();
    assert_eq!(meters.len(), 3, "fuel, memory and time are bars");
    let requests = wait_text(client, "main", "Backend requests").await;
    assert!(requests.contains("/v1/items") && !requests.contains("key-123"), "credentials are redacted: {requests}");
    browser.screenshot(&shots, "05-test").await.unwrap();
    assert_accessible(client, "05-test").await;

    // Update from the package folder: a new version, validated first.
    client.goto(&gateway.url("/console/#/connectors/items/update")).await.unwrap();
    wait_text(client, "main h1", "Update items").await;
    let folder = client.find(Locator::Css("#package-folder")).await.unwrap();
    folder.send_keys(files.path().join("items").to_str().unwrap()).await.unwrap();
    wait_text(client, "main", "Ready to publish").await;
    click(client, "#publish-button").await;
    wait_text(client, "main", "Version 2, validated").await;

    // The connection's page: shared with Bob, as its owner may.
    client.goto(&gateway.url("/console/#/connections/items/main")).await.unwrap();
    wait_text(client, "main h1", "Connection main").await;
    fill(client, "#share-principal", "bob").await;
    click_text(client, "Share").await;
    wait_text(client, "#sharing-heading + div", "bob").await;
    let shares = gateway.get("/api/v1/connections/items/main/shares").await.json();
    assert_eq!(shares[0]["principal"], "bob", "{shares}");

    // A flow's call, as the activity chart counts it.
    let call = http::Request::get(gateway.url("/apim/items/main/items")).body(Default::default()).unwrap();
    assert_eq!(gateway.anonymous(with_bearer(call, &alice)).await.status, 200);

    // Share with Bob; he signs in and sees it.
    client.goto(&gateway.url("/console/#/connectors/items")).await.unwrap();
    wait_text(client, "main h1", "Items").await;
    let activity = wait_text(client, "#activity-heading + svg + ul + table", "ListItems").await;
    assert!(activity.contains("calls"), "{activity}");
    fill(client, "#share-principal", "bob").await;
    client.find(Locator::Css("#share-right")).await.unwrap().select_by_value("can-use").await.unwrap();
    click_text(client, "Share").await;
    wait_text(client, "#sharing-heading + div", "bob").await;
    browser.screenshot(&shots, "06-sharing-and-activity").await.unwrap();
    assert_accessible(client, "06-sharing-and-activity").await;
    sign_out(client).await;

    sign_in(client, &gateway, &bob).await;
    let list = wait_text(client, "main table", "items").await;
    assert!(list.contains("can-use"), "{list}");
    client.goto(&gateway.url("/console/#/connectors/items")).await.unwrap();
    wait_text(client, "main h1", "Items").await;
    let page = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(!page.contains("Sharing") && !page.contains("Delete items"), "a user may not share or delete: {page}");
    let nav = client.find(Locator::Css("#nav")).await.unwrap().text().await.unwrap();
    assert!(!nav.contains("Environment"), "only admins see the environment's page: {nav}");

    // Bob issues a key for the CLI: shown once, and it works.
    click_text(client, "API keys").await;
    wait_text(client, "main h1", "API keys").await;
    fill(client, "#key-label", "the CLI").await;
    click_text(client, "Issue a key").await;
    let key = wait_text(client, "#new-key", "slk_").await;
    let call = http::Request::get(gateway.url("/api/v1/environment")).body(Default::default()).unwrap();
    assert_eq!(gateway.anonymous(with_bearer(call, key.trim())).await.json()["caller"], "bob");
    let listed = wait_text(client, "main table", "the CLI").await;
    assert!(listed.contains("active") && !listed.contains(key.trim()), "the list never shows a secret: {listed}");
    browser.screenshot(&shots, "07-keys").await.unwrap();
    assert_accessible(client, "07-keys").await;
    sign_out(client).await;

    // The admin: the network settings, the redirect audit, the audit log.
    sign_in(client, &gateway, &gateway.admin_key).await;
    click_text(client, "Environment").await;
    let audit = wait_text(client, "main", "Audit log").await;
    assert!(audit.contains("published") && audit.contains("alice"), "{audit}");
    fill(client, "#net-subnets", "10.20.0.0/16").await;
    click_text(client, "Save the network settings").await;
    wait_text(client, "main [role=status]", "Saved: 1 linked subnets").await;
    let network = gateway.get("/api/v1/network").await.json();
    assert_eq!(network["subnets"], json!(["10.20.0.0/16"]), "{network}");
    browser.screenshot(&shots, "08-environment").await.unwrap();
    assert_accessible(client, "08-environment").await;
    browser.close().await;
}

const HOSTILE: &str = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_in_a_package_shows_as_text() {
    let backend = start_backend(Recorder::default().app()).await;
    let People { gateway, alice, _dir, .. } = people().await;
    let mut definition = shop_definition(backend, json!({}));
    definition["info"]["title"] = json!(format!("Evil {HOSTILE}"));
    definition["info"]["description"] = json!(HOSTILE);
    for (_, item) in definition["paths"].as_object_mut().unwrap() {
        for (_, operation) in item.as_object_mut().unwrap() {
            operation["summary"] = json!(format!("Sum {HOSTILE}"));
            operation["description"] = json!(format!("Desc {HOSTILE}"));
        }
    }
    let mut parameters = api_key_parameter();
    parameters["api_key"]["uiDefinition"]["description"] = json!(format!("Param {HOSTILE}"));
    let properties = shop_properties(parameters, None, json!([]));
    let archive = crate::api::zip_entries(&[
        ("apiDefinition.swagger.json", &serde_json::to_vec(&definition).unwrap()),
        ("apiProperties.json", &serde_json::to_vec(&properties).unwrap()),
    ]);
    let published =
        gateway.send("POST", "/api/v1/connectors?id=evil", &[("content-type", "application/zip")], archive).await;
    assert_eq!(published.status, 201, "{}", published.text());
    gateway.gateway.access().set_connector_owner(&caller(ADMIN), DEFAULT_ENVIRONMENT, "evil", "alice").await.unwrap();

    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    sign_in(client, &gateway, &alice).await;
    let list = wait_text(client, "main table", "evil").await;
    assert!(list.contains(HOSTILE), "the title shows as text in the list: {list}");
    client.goto(&gateway.url("/console/#/connectors/evil")).await.unwrap();
    let heading = wait_text(client, "main h1", "Evil").await;
    assert_eq!(heading, format!("Evil {HOSTILE}"));
    let page = wait_text(client, "main", "Sum <script>").await;
    assert!(page.contains(&format!("Sum {HOSTILE}")), "{page}");
    let operation = client.find(Locator::Css("main table td:nth-child(3) code")).await.unwrap().text().await.unwrap();
    client.goto(&gateway.url(&format!("/console/#/connectors/evil/test/{operation}"))).await.unwrap();
    wait_text(client, "main", &format!("Desc {HOSTILE}")).await;
    client.goto(&gateway.url("/console/#/connections/new/evil")).await.unwrap();
    wait_text(client, "main form", &format!("Param {HOSTILE}")).await;
    browser.screenshot(&screenshots(), "09-html-as-text").await.unwrap();
    for path in ["/console/#/connectors", "/console/#/connectors/evil", "/console/#/connections/new/evil"] {
        client.goto(&gateway.url(path)).await.unwrap();
        wait_text(client, "main", "Evil").await;
        let ran = client
            .execute(
                "return [window.__pwned === undefined, document.querySelectorAll('main img, main script').length]",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(ran, json!([true, 0]), "{path}: no markup of the package became an element");
    }
    browser.close().await;
}

/// A page of another site, in the browser where a maker is signed in,
/// posts to the API: without the bearer credential, which the console
/// keeps in its own tab's storage, the gateway refuses it and nothing is
/// made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_page_cannot_act_for_the_signed_in_maker() {
    let People { gateway, alice, _dir, .. } = people().await;
    let target = gateway.url("/api/v1/connections");
    let attacker = Router::new().route(
        "/",
        get(move || {
            let target = target.clone();
            async move {
                axum::response::Html(format!(
                    "<!doctype html><title>elsewhere</title><form id=f method=post action=\"{target}\" enctype=text/plain>\
                     <input name='{{\"connector\":\"x\",\"id\":\"forged\",\"parameters\":{{}},\"p\":\"' value='\"}}'></form>\
                     <p id=out>sending</p><script>\
                     fetch('{target}', {{method:'POST', credentials:'include', headers:{{'content-type':'text/plain'}}, body:'{{}}'}})\
                       .then(r => document.getElementById('out').textContent = 'read ' + r.status)\
                       .catch(() => {{ document.getElementById('out').textContent = 'blocked'; }});\
                     </script>"
                ))
            }
        }),
    );
    let elsewhere = start_backend(attacker).await;
    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    sign_in(client, &gateway, &alice).await;
    client.goto(&format!("http://{elsewhere}/")).await.unwrap();
    wait_text(client, "#out", "blocked").await;
    client.execute("document.getElementById('f').submit()", vec![]).await.unwrap();
    let refused = wait_text(client, "body", "unauthenticated").await;
    assert!(refused.contains("401"), "the gateway refuses the forged form: {refused}");
    let made = gateway.get("/api/v1/connections").await.json();
    assert!(made.as_array().unwrap().iter().all(|c| c["id"] != "forged"), "{made}");
    browser.close().await;
}

/// An identity provider on loopback for the console's sign-in: discovery,
/// JWKS, an authorization endpoint that signs `subject` in at once, and a
/// token endpoint that checks the code, the redirect URI and the PKCE
/// verifier before it gives an ID token (answering the console's origin
/// with CORS, as a provider does for a single-page application).
struct Provider {
    base: String,
    redeemed: Arc<Mutex<Vec<String>>>,
    /// While set, the discovery document answers 503.
    down: Arc<AtomicBool>,
    /// How often the discovery document was asked for.
    discoveries: Arc<AtomicUsize>,
}

/// A code issued: its PKCE challenge, redirect URI and nonce.
type Pending = (String, String, String);

#[derive(Clone)]
struct ProviderState {
    base: String,
    subject: String,
    client_id: String,
    allowed_origin: Arc<Mutex<String>>,
    key: Arc<crate::oidc::SigningKey>,
    codes: Arc<Mutex<HashMap<String, Pending>>>,
    redeemed: Arc<Mutex<Vec<String>>>,
    down: Arc<AtomicBool>,
    discoveries: Arc<AtomicUsize>,
}

async fn provider(subject: &str, client_id: &str, allowed_origin: Arc<Mutex<String>>) -> Provider {
    use axum::extract::{Form, Query, State};
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = ProviderState {
        base: base.clone(),
        subject: subject.into(),
        client_id: client_id.into(),
        allowed_origin,
        key: Arc::new(crate::oidc::signing_key("console-key")),
        codes: Default::default(),
        redeemed: Default::default(),
        down: Default::default(),
        discoveries: Default::default(),
    };
    let (redeemed, down, discoveries) =
        (Arc::clone(&state.redeemed), Arc::clone(&state.down), Arc::clone(&state.discoveries));
    async fn discovery(State(state): State<ProviderState>) -> axum::response::Response {
        state.discoveries.fetch_add(1, Ordering::SeqCst);
        if state.down.load(Ordering::SeqCst) {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        let base = &state.base;
        axum::Json(json!({
            "issuer": base, "jwks_uri": format!("{base}/keys"),
            "authorization_endpoint": format!("{base}/authorize"), "token_endpoint": format!("{base}/token"),
        }))
        .into_response()
    }
    async fn keys(State(state): State<ProviderState>) -> axum::Json<serde_json::Value> {
        axum::Json(json!({"keys": [state.key.jwk.clone()]}))
    }
    async fn authorize(
        State(state): State<ProviderState>,
        Query(query): Query<HashMap<String, String>>,
    ) -> axum::response::Response {
        let ok = query.get("response_type").map(String::as_str) == Some("code")
            && query.get("client_id") == Some(&state.client_id)
            && query.get("code_challenge_method").map(String::as_str) == Some("S256");
        if !ok {
            return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
        }
        let code = format!("code-{}", state.codes.lock().unwrap().len() + 1);
        let redirect = query["redirect_uri"].clone();
        state.codes.lock().unwrap().insert(
            code.clone(),
            (query["code_challenge"].clone(), redirect.clone(), query.get("nonce").cloned().unwrap_or_default()),
        );
        let mut target = url::Url::parse(&redirect).unwrap();
        target.query_pairs_mut().append_pair("code", &code).append_pair("state", &query["state"]);
        axum::response::Redirect::to(target.as_str()).into_response()
    }
    async fn token(
        State(state): State<ProviderState>,
        Form(form): Form<HashMap<String, String>>,
    ) -> axum::response::Response {
        let origin = state.allowed_origin.lock().unwrap().clone();
        let cors = [(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)];
        let Some((challenge, redirect, nonce)) = form.get("code").and_then(|c| state.codes.lock().unwrap().remove(c))
        else {
            return (StatusCode::BAD_REQUEST, cors, axum::Json(json!({"error": "invalid_grant"}))).into_response();
        };
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        let computed = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, digest.as_ref());
        if computed != challenge
            || form.get("redirect_uri") != Some(&redirect)
            || form.get("client_id") != Some(&state.client_id)
        {
            return (StatusCode::BAD_REQUEST, cors, axum::Json(json!({"error": "invalid_grant"}))).into_response();
        }
        let now = sluice_gateway::store::now();
        let claims = json!({"iss": state.base, "aud": state.client_id, "sub": state.subject, "nonce": nonce,
                            "iat": now, "nbf": now - 5, "exp": now + 600});
        let id_token = crate::oidc::sign_with(&state.key, &claims);
        state.redeemed.lock().unwrap().push(state.subject.clone());
        (cors, axum::Json(json!({"access_token": "opaque", "token_type": "Bearer", "id_token": id_token})))
            .into_response()
    }
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/keys", get(keys))
        .route("/authorize", get(authorize))
        .route("/token", axum::routing::post(token))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider { base, redeemed, down, discoveries }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_to_the_console_with_the_configured_issuer() {
    let origin = Arc::new(Mutex::new(String::new()));
    let provider = provider("carol", "sluice-console", Arc::clone(&origin)).await;
    let gateway = TestGatewayBuilder::new().access(console_issuer(&provider, Duration::from_secs(60))).start().await;
    *origin.lock().unwrap() = gateway.url("").trim_end_matches('/').to_string();

    // The page's policy lets it reach the provider's token endpoint and nothing else.
    let page = gateway.anonymous(http::Request::get(gateway.url("/console/")).body(Default::default()).unwrap()).await;
    let policy = page.headers["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains(&format!("connect-src 'self' {};", provider.base)), "{policy}");

    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    client.goto(&gateway.url("/console/")).await.unwrap();
    click_text(client, "Sign in with Test IdP").await;
    wait_text(client, "main h1", "Connectors").await;
    wait_text(client, "#who", "idp:carol (Test IdP)").await;
    assert_eq!(*provider.redeemed.lock().unwrap(), ["carol"], "one code, redeemed once");
    let address = client.current_url().await.unwrap();
    assert!(address.query().is_none(), "the code leaves the address bar: {address}");
    browser.close().await;
}

/// A connection of an OAuth connector, made and signed in from the console:
/// the provider's page, the redirect back, and its status afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_signed_in_from_the_console() {
    let (auth, server) = crate::oauth::start_auth(3600).await;
    let keys = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("plant", crate::oauth::definition(server), crate::oauth::properties("GlobalPerConnector"))
        .oauth(crate::oauth::oauth_config(keys.path(), None))
        .start()
        .await;
    auth.register(gateway.url("/redirect/plant"));
    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    sign_in(client, &gateway, &gateway.admin_key).await;
    client.goto(&gateway.url("/console/#/connections/new/plant")).await.unwrap();
    let form = wait_text(client, "main", "signs in with OAuth").await;
    assert!(!form.contains("token"), "an oauthSetting parameter is no form field: {form}");
    fill(client, "#conn-id", "web").await;
    click_text(client, "Create the connection").await;
    wait_text(client, "main", "Connection web: signin-required").await;
    click_text(client, "Sign in web").await;
    wait_text(client, "body", "is signed in").await;
    assert_eq!(auth.issued(), 1, "the provider issued the connection's token");
    click_text(client, "Back to the console").await;
    let listed = wait_text(client, "main table", "web").await;
    assert!(listed.contains("ready"), "{listed}");
    browser.close().await;
}

/// A connector with parameter sets: the form asks for the set first, then
/// shows that set's parameters, and the connection made has that set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_chooses_its_parameter_set_in_the_console() {
    let (_auth, provider) = crate::oauth::start_auth(3600).await;
    let backend = start_backend(Recorder::default().app()).await;
    let keys = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("multi", crate::multiauth::definition(backend, provider), crate::multiauth::properties())
        .oauth(crate::oauth::oauth_config(keys.path(), None))
        .start()
        .await;
    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    sign_in(client, &gateway, &gateway.admin_key).await;
    client.goto(&gateway.url("/console/#/connections/new/multi")).await.unwrap();
    let form = wait_text(client, "main form", "Authentication type").await;
    assert!(form.contains("Key") && !form.contains("token:customHost"), "the first set's fields: {form}");
    client.find(Locator::Css("#conn-set")).await.unwrap().select_by_value("oauth").await.unwrap();
    let form = wait_text(client, "main form", "token:customHost").await;
    assert!(form.contains("signs in with OAuth") && !form.contains("Key *"), "the chosen set's fields: {form}");
    fill(client, "#conn-id", "web").await;
    fill(client, "#conn-param-0", "h.example").await;
    click_text(client, "Create the connection").await;
    wait_text(client, "main", "Connection web: signin-required").await;
    let made = gateway.get("/api/v1/connections/multi/web").await.json();
    assert_eq!(made["parameter_set"], "oauth", "{made}");
    assert_eq!(made["parameters"], json!({"token:customHost": "h.example"}));
    client.goto(&gateway.url("/console/#/connections/multi/web")).await.unwrap();
    wait_text(client, "main", "Way to connect").await;
    browser.close().await;
}

/// Settings where `provider` signs people in to the console, and Carol is a maker.
fn console_issuer(provider: &Provider, refetch_after: Duration) -> sluice_gateway::config::AccessConfig {
    sluice_gateway::config::AccessConfig {
        issuers: vec![sluice_gateway::config::IssuerConfig {
            name: "idp".into(),
            issuer: provider.base.clone(),
            audience: vec!["sluice-console".into()],
            jwks_uri: None,
            algorithms: vec![jsonwebtoken::Algorithm::ES256],
            subject_claim: "sub".into(),
            groups_claim: None,
            leeway: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(3600),
            jwks_refetch_after: refetch_after,
            console: Some(sluice_gateway::config::ConsoleClientConfig {
                client_id: "sluice-console".into(),
                display_name: Some("Test IdP".into()),
                scopes: vec!["openid".into()],
                token: sluice_gateway::config::ConsoleToken::IdToken,
                authorization_endpoint: None,
                token_endpoint: None,
            }),
        }],
        members: vec![sluice_gateway::config::MemberConfig { principal: "idp:carol".into(), role: "maker".into() }],
        owners: Default::default(),
    }
}

/// A provider whose discovery document cannot be read leaves the console
/// without its button, at once and without asking it again on every page;
/// once it answers (after `jwks_refetch_after`) the button is back.
#[tokio::test]
async fn an_issuer_that_is_down_is_left_out_of_the_console_and_asked_again_later() {
    let provider = provider("carol", "sluice-console", Default::default()).await;
    provider.down.store(true, Ordering::SeqCst);
    let patient = TestGatewayBuilder::new().access(console_issuer(&provider, Duration::from_secs(3600))).start().await;
    let eager = TestGatewayBuilder::new().access(console_issuer(&provider, Duration::ZERO)).start().await;
    assert_eq!((offered(&patient).await, offered(&eager).await), (0, 0));
    let asked = provider.discoveries.load(Ordering::SeqCst);
    provider.down.store(false, Ordering::SeqCst);
    assert_eq!(offered(&patient).await, 0, "a failure is remembered until jwks_refetch_after");
    assert_eq!(provider.discoveries.load(Ordering::SeqCst), asked, "and the provider is not asked meanwhile");
    assert_eq!(offered(&eager).await, 1, "asked again once that has passed, and offered");
}

/// How many issuers the console offers to sign in with.
async fn offered(gateway: &TestGateway) -> usize {
    let request = http::Request::get(gateway.url("/console/config.json")).body(Default::default()).unwrap();
    gateway.anonymous(request).await.json()["issuers"].as_array().unwrap().len()
}

/// Signed in to another environment, the console shows that environment's
/// connectors and only them; one the person is no member of is refused at
/// sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_to_another_environment_and_sees_its_connectors() {
    let backend = start_backend(Recorder::default().app()).await;
    let mut sales = shop_definition(backend, json!({}));
    sales["info"]["title"] = json!("Sales Shop");
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .environment("sales", sluice_egress::Environment::new(vec![], false), &[("dana", "admin")])
        .package_in("sales", "sales-shop", sales, shop_properties(json!({}), None, json!([])))
        .start()
        .await;
    let access = gateway.gateway.access();
    access.add_principal(&caller(ADMIN), "dana", PrincipalKind::User, "Dana").await.unwrap();
    let dana = access.issue_key(&caller(ADMIN), "dana", "console tests", None).await.unwrap().key;

    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    client.goto(&gateway.url("/console/#/signin")).await.unwrap();
    wait_text(client, "main h1", "Sign in").await;
    fill(client, "#signin-credential", &dana).await;
    click(client, "form button[type=submit]").await;
    wait_text(client, "#alert", "404").await;
    fill(client, "#signin-environment", "sales").await;
    click(client, "form button[type=submit]").await;
    let list = wait_text(client, "main table", "sales-shop").await;
    assert!(!list.contains("\nshop "), "only the environment's connectors: {list}");
    wait_text(client, "#who", "Environment sales, admin").await;
    client.goto(&gateway.url("/console/#/connectors/sales-shop")).await.unwrap();
    wait_text(client, "main h1", "Sales Shop").await;
    browser.close().await;
}
