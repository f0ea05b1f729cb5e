//! OAuth 2.0 connections against an authorization server on loopback that
//! checks PKCE, `state`, the exact redirect URI registered for the client,
//! and issues expiring tokens; a resource server that accepts only live
//! tokens.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::support::*;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;
use sha2::Digest as _;

#[derive(Default)]
struct AuthState {
    redirect_uris: Vec<String>,
    codes: HashMap<String, (String, String)>,
    live_tokens: HashMap<String, u64>,
    refresh_tokens: HashMap<String, bool>,
    refresh_grants: usize,
    /// Refresh requests of any outcome.
    refresh_attempts: usize,
    /// When set, refresh requests get this status and OAuth error code.
    refresh_failure: Option<(u16, &'static str)>,
    /// When set, the redirect back carries this `iss` (RFC 9207).
    iss: Option<String>,
    expires_in: u64,
    counter: u64,
    /// Entra ID-style authorization requests: the tenant, the endpoint
    /// version, and the `resource` asked for.
    entra: Vec<(String, &'static str, Option<String>)>,
}

#[derive(Clone, Default)]
pub(crate) struct Auth(Arc<Mutex<AuthState>>);

impl Auth {
    fn state(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.0.lock().unwrap()
    }

    /// Lets the provider send sign-ins back to `uri`.
    pub(crate) fn register(&self, uri: String) {
        self.state().redirect_uris.push(uri);
    }

    /// How many access tokens the provider has issued.
    pub(crate) fn issued(&self) -> u64 {
        self.state().counter
    }

    fn issue(&self) -> serde_json::Value {
        let mut state = self.state();
        state.counter += 1;
        let access = format!("access-{}-{}", state.counter, uuid_like(state.counter));
        let refresh = format!("refresh-{}-{}", state.counter, uuid_like(state.counter * 7));
        let expires_in = state.expires_in;
        state.live_tokens.insert(access.clone(), expires_in);
        state.refresh_tokens.insert(refresh.clone(), true);
        json!({"access_token": access, "token_type": "bearer", "expires_in": expires_in, "refresh_token": refresh})
    }

    fn revoke_access_tokens(&self) {
        self.state().live_tokens.clear();
    }

    fn revoke_refresh_tokens(&self) {
        for live in self.state().refresh_tokens.values_mut() {
            *live = false;
        }
    }
}

fn uuid_like(seed: u64) -> String {
    format!("{:016x}", seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

async fn authorize(State(auth): State<Auth>, Query(q): Query<HashMap<String, String>>) -> Response {
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    if q.get("client_id").map(String::as_str) != Some("client-1") {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    if !auth.state().redirect_uris.contains(&redirect_uri) {
        return (StatusCode::BAD_REQUEST, format!("redirect_uri {redirect_uri} is not registered")).into_response();
    }
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") || !q.contains_key("code_challenge") {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let code = format!("code-{}", q["code_challenge"].len() + auth.state().codes.len());
    auth.state().codes.insert(code.clone(), (q["code_challenge"].clone(), redirect_uri.clone()));
    let mut location = format!("{redirect_uri}?code={code}&state={}", q.get("state").cloned().unwrap_or_default());
    if let Some(iss) = &auth.state().iss {
        location
            .push_str(&format!("&iss={}", url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>()));
    }
    (StatusCode::FOUND, [(axum::http::header::LOCATION, location)]).into_response()
}

/// `/{tenant}/oauth2/authorize` (v1, with `resource`) and
/// `/{tenant}/oauth2/v2.0/authorize`: recorded, then as `/authorize`.
async fn entra_authorize(
    State(auth): State<Auth>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
    uri: axum::http::Uri,
    query: Query<HashMap<String, String>>,
) -> Response {
    let version = if uri.path().contains("/v2.0/") { "v2.0" } else { "v1" };
    auth.state().entra.push((tenant, version, query.get("resource").cloned()));
    authorize(State(auth), query).await
}

async fn token(State(auth): State<Auth>, Form(form): Form<HashMap<String, String>>) -> Response {
    let invalid = || (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((challenge, redirect_uri)) = form.get("code").and_then(|c| auth.state().codes.remove(c)) else {
                return invalid();
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            if computed != challenge || form.get("redirect_uri") != Some(&redirect_uri) {
                return invalid();
            }
            axum::Json(auth.issue()).into_response()
        }
        Some("refresh_token") => {
            auth.state().refresh_attempts += 1;
            if let Some((status, error)) = auth.state().refresh_failure {
                let status = StatusCode::from_u16(status).unwrap();
                return (status, axum::Json(json!({"error": error}))).into_response();
            }
            let live = form.get("refresh_token").and_then(|t| auth.state().refresh_tokens.get(t).copied());
            if live != Some(true) {
                return invalid();
            }
            auth.state().refresh_grants += 1;
            axum::Json(auth.issue()).into_response()
        }
        _ => invalid(),
    }
}

async fn resource(State(auth): State<Auth>, headers: HeaderMap) -> Response {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(token) if auth.state().live_tokens.contains_key(token) => {
            axum::Json(json!({"ok": true, "token": token})).into_response()
        }
        _ => (StatusCode::UNAUTHORIZED, "bad token").into_response(),
    }
}

pub(crate) async fn start_auth(expires_in: u64) -> (Auth, SocketAddr) {
    let auth = Auth::default();
    auth.state().expires_in = expires_in;
    let app = Router::new()
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/{tenant}/oauth2/authorize", get(entra_authorize))
        .route("/{tenant}/oauth2/token", post(token))
        .route("/{tenant}/oauth2/v2.0/authorize", get(entra_authorize))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1/items", get(resource))
        .with_state(auth.clone());
    (auth.clone(), start_backend(app).await)
}

pub(crate) fn definition(server: SocketAddr) -> serde_json::Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "Plant Data", "description": "test", "version": "1.0"},
        "host": server.to_string(),
        "basePath": "/v1",
        "schemes": ["http"],
        "securityDefinitions": {"oauth2_auth": {"type": "oauth2", "flow": "accessCode",
            "authorizationUrl": format!("http://{server}/authorize"), "tokenUrl": format!("http://{server}/token"),
            "scopes": {"read": "read"}}},
        "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "ok"}}}}}
    })
}

pub(crate) fn properties(mode: &str) -> serde_json::Value {
    json!({"properties": {
        "connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
            "identityProvider": "oauth2", "clientId": "client-1", "scopes": ["read"], "redirectMode": mode}}},
        "publisher": "Plant Co", "stackOwner": "Plant Co"
    }})
}

struct Setup {
    gateway: TestGateway,
    auth: Auth,
    key_dir: tempfile::TempDir,
}

pub(crate) fn oauth_config(dir: &std::path::Path, cutoff: Option<&str>) -> sluice_gateway::config::OAuthConfig {
    let key_file = dir.join("key");
    if !key_file.exists() {
        std::fs::write(&key_file, base64::engine::general_purpose::STANDARD.encode([42u8; 32])).unwrap();
    }
    sluice_gateway::config::OAuthConfig {
        database: Some(dir.join("credentials.db")),
        key_file: Some(key_file),
        global_redirect_cutoff: cutoff.map(|d| d.parse().unwrap()),
        ..Default::default()
    }
}

async fn setup(mode: &str, expires_in: u64, register: &[&str]) -> Setup {
    let (auth, server) = start_auth(expires_in).await;
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = gateway_on(server, mode, &key_dir, None).await;
    for path in register {
        auth.state().redirect_uris.push(gateway.url(path));
    }
    Setup { gateway, auth, key_dir }
}

async fn gateway_on(server: SocketAddr, mode: &str, key_dir: &tempfile::TempDir, cutoff: Option<&str>) -> TestGateway {
    TestGatewayBuilder::new()
        .package("plant", definition(server), properties(mode))
        .connection("plant", "main", &[])
        .oauth(oauth_config(key_dir.path(), cutoff))
        .start()
        .await
}

/// Follows the sign-in the way a browser would; returns the final answer.
pub(crate) async fn sign_in(gateway: &TestGateway) -> Answer {
    sign_in_at(gateway, "").await
}

/// [`sign_in`] in the environment whose routes start with `prefix`.
async fn sign_in_at(gateway: &TestGateway, prefix: &str) -> Answer {
    let started = gateway.get(&format!("{prefix}/connections/plant/main/signin")).await;
    assert_eq!(started.status, 302, "{}", started.text());
    let authorize = started.headers["location"].to_str().unwrap().to_string();
    let provider = get_absolute(gateway, &authorize).await;
    if provider.status != 302 {
        return provider;
    }
    let back = provider.headers["location"].to_str().unwrap().to_string();
    // The browser brings back the cookie the start set.
    let cookie = binding_cookie(&started);
    gateway.anonymous(browser_get(&back, Some(&cookie))).await
}

/// The `name=value` of the browser-binding cookie a sign-in start set.
pub(crate) fn binding_cookie(started: &Answer) -> String {
    let set = started.headers[http::header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// A browser's GET: no credential, maybe a cookie.
pub(crate) fn browser_get(url: &str, cookie: Option<&str>) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    let mut request = http::Request::get(url);
    if let Some(cookie) = cookie {
        request = request.header(http::header::COOKIE, cookie);
    }
    request.body(http_body_util::Full::new(bytes::Bytes::new())).unwrap()
}

/// The provider's address, which the connector's definition names as its host.
fn provider_address(gateway: &TestGateway) -> SocketAddr {
    let loaded = gateway.gateway.default_environment().registry().get("plant").unwrap();
    loaded.package.definition.host.clone().unwrap().parse().unwrap()
}

pub(crate) async fn get_absolute(gateway: &TestGateway, url: &str) -> Answer {
    gateway.request(http::Request::get(url).body(http_body_util::Full::new(bytes::Bytes::new())).unwrap()).await
}

#[tokio::test]
async fn a_sign_in_in_another_environment_comes_back_to_it_and_stays_there() {
    for (mode, redirect) in [("GlobalPerConnector", "/environments/sales/redirect/plant"), ("Global", "/redirect")] {
        let (auth, server) = start_auth(3600).await;
        let key_dir = tempfile::tempdir().unwrap();
        // The same connector and connection ids in both environments.
        let gateway = TestGatewayBuilder::new()
            .package("plant", definition(server), properties(mode))
            .connection("plant", "main", &[])
            .environment("sales", sluice_egress::Environment::default(), &[(ADMIN, "admin")])
            .package_in("sales", "plant", definition(server), properties(mode))
            .connection_in("sales", "plant", "main", &[])
            .oauth(oauth_config(key_dir.path(), None))
            .start()
            .await;
        // Only the environment's own redirect URI is registered: a sign-in
        // sent to another would be refused by the provider.
        auth.state().redirect_uris.push(gateway.url(redirect));
        let before = gateway.get("/environments/sales/apim/plant/main/items").await;
        assert_eq!(before.status, 401, "{mode}: {}", before.text());
        let detail = before.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(&gateway.url("/environments/sales/connections/plant/main/signin")), "{detail}");

        let signed_in = sign_in_at(&gateway, "/environments/sales").await;
        assert_eq!(signed_in.status, 200, "{mode}: {}", signed_in.text());
        let call = gateway.get("/environments/sales/apim/plant/main/items").await;
        assert_eq!(call.status, 200, "{mode}: {}", call.text());
        // The default environment's connection of the same ids is not signed in.
        let other = gateway.get("/apim/plant/main/items").await;
        assert_eq!((other.status, other.problem_type().as_str()), (401, "signin-required"), "{mode}");
        assert!(other.json()["detail"].as_str().unwrap().contains(&gateway.url("/connections/plant/main/signin")));
    }
}

#[tokio::test]
async fn sign_in_with_per_connector_redirect_then_calls_carry_the_token() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let before = setup.gateway.get("/apim/plant/main/items").await;
    assert_eq!((before.status, before.problem_type().as_str()), (401, "signin-required"));
    assert!(before.json()["detail"].as_str().unwrap().contains("/connections/plant/main/signin"));

    let started = setup.gateway.get("/connections/plant/main/signin").await;
    let authorize = started.headers["location"].to_str().unwrap();
    let expected_redirect = format!(
        "redirect_uri={}",
        url::form_urlencoded::byte_serialize(setup.gateway.url("/redirect/plant").as_bytes()).collect::<String>()
    );
    assert!(authorize.contains(&expected_redirect), "{authorize}");
    assert!(authorize.contains("code_challenge_method=S256") && authorize.contains("state="), "{authorize}");

    let done = sign_in(&setup.gateway).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let policy = done.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none';") && !policy.contains("script"), "{policy}");
    let answer = setup.gateway.get("/apim/plant/main/items").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.json()["token"].as_str().unwrap().starts_with("access-"));
}

#[tokio::test]
async fn sign_in_with_global_redirect_finds_the_connector_from_state() {
    let setup = setup("Global", 3600, &["/redirect"]).await;
    let done = sign_in(&setup.gateway).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(setup.gateway.get("/apim/plant/main/items").await.status, 200);
}

#[tokio::test]
async fn an_authorization_url_that_is_not_a_web_address_is_never_handed_to_a_browser() {
    let (_auth, server) = start_auth(3600).await;
    let mut hostile = definition(server);
    hostile["securityDefinitions"]["oauth2_auth"]["authorizationUrl"] = json!("javascript:alert(document.domain)");
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("plant", hostile, properties("GlobalPerConnector"))
        .connection("plant", "main", &[])
        .oauth(oauth_config(key_dir.path(), None))
        .start()
        .await;
    for answer in [
        gateway.get("/connections/plant/main/signin").await,
        gateway.send("POST", "/api/v1/connections/plant/main/signin", &[], "").await,
    ] {
        assert_eq!((answer.status, answer.problem_type().as_str()), (503, "oauth-unavailable"), "{}", answer.text());
        assert!(answer.text().contains("`javascript:` address"), "{}", answer.text());
        assert!(!answer.headers.contains_key("location"));
    }
}

#[tokio::test]
async fn wrong_state_is_refused() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let _ = setup.gateway.get("/connections/plant/main/signin").await;
    let answer = setup.gateway.get("/redirect/plant?code=code-1&state=forged").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "signin-failed"));
    assert_eq!(setup.gateway.get("/apim/plant/main/items").await.status, 401);
}

#[tokio::test]
async fn unregistered_redirect_uri_is_refused_by_the_provider() {
    // The provider knows only the global redirect URI; the connector uses its own.
    let setup = setup("GlobalPerConnector", 3600, &["/redirect"]).await;
    let answer = sign_in(&setup.gateway).await;
    assert_eq!(answer.status, 400);
    assert!(answer.text().contains("is not registered"), "{}", answer.text());
}

#[tokio::test]
async fn redirect_on_the_wrong_path_is_refused() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let started = setup.gateway.get("/connections/plant/main/signin").await;
    let provider = get_absolute(&setup.gateway, started.headers["location"].to_str().unwrap()).await;
    let back = provider.headers["location"].to_str().unwrap().replace("/redirect/plant", "/redirect");
    let answer = setup.gateway.anonymous(browser_get(&back, Some(&binding_cookie(&started)))).await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "signin-failed"));
}

#[tokio::test]
async fn token_refreshed_before_expiry() {
    // A 2 s token is refreshed once less than half its life is left.
    let setup = setup("GlobalPerConnector", 2, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let answer = setup.gateway.get("/apim/plant/main/items").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(setup.auth.state().refresh_grants, 1, "the expiring token was refreshed first");
}

#[tokio::test]
async fn a_short_lived_token_is_not_refreshed_on_every_call() {
    // With the 60 s margin against 30 s tokens, every call used to refresh.
    let setup = setup("GlobalPerConnector", 30, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    for _ in 0..3 {
        assert_eq!(setup.gateway.get("/apim/plant/main/items").await.status, 200);
    }
    assert_eq!(setup.auth.state().refresh_grants, 0);
}

#[tokio::test]
async fn token_refreshed_once_after_a_401() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    setup.auth.revoke_access_tokens();
    let answer = setup.gateway.get("/apim/plant/main/items").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(setup.auth.state().refresh_grants, 1);
}

#[tokio::test]
async fn revoked_refresh_token_marks_the_connection_for_sign_in() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    setup.auth.revoke_access_tokens();
    setup.auth.revoke_refresh_tokens();
    for _ in 0..2 {
        let answer = setup.gateway.get("/apim/plant/main/items").await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (401, "signin-required"), "{}", answer.text());
        assert!(answer.json()["detail"].as_str().unwrap().contains("refused to refresh"), "{}", answer.text());
    }
    assert_eq!(sign_in(&setup.gateway).await.status, 200, "signing in again heals it");
    assert_eq!(setup.gateway.get("/apim/plant/main/items").await.status, 200);
}

#[tokio::test]
async fn tokens_survive_a_restart_encrypted_on_disk() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    let token = setup.gateway.get("/apim/plant/main/items").await.json()["token"].as_str().unwrap().to_string();
    let server = provider_address(&setup.gateway);
    drop(setup.gateway);

    let database = std::fs::read(setup.key_dir.path().join("credentials.db")).unwrap();
    let tokens: Vec<String> = setup.auth.state().refresh_tokens.keys().cloned().chain([token.clone()]).collect();
    for secret in &tokens {
        assert!(!database.windows(secret.len()).any(|w| w == secret.as_bytes()), "`{secret}` is stored in clear");
    }

    let restarted = gateway_on(server, "GlobalPerConnector", &setup.key_dir, None).await;
    let answer = restarted.get("/apim/plant/main/items").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["token"], token.as_str());
}

#[tokio::test]
async fn redirect_audit_lists_global_connectors_and_cutoff_refuses_sign_in() {
    let (_, server) = start_auth(3600).await;
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = gateway_on(server, "Global", &key_dir, Some("2000-01-01")).await;
    let audit = gateway.get("/admin/redirect-audit").await.json();
    assert_eq!(audit["cutoff"], "2000-01-01");
    assert_eq!(audit["connectors"][0]["connector"], "plant");
    assert_eq!(audit["connectors"][0]["name"], "Plant Data");
    assert_eq!(audit["connectors"][0]["publisher"], "Plant Co");
    assert_eq!(audit["connectors"][0]["stack_owner"], "Plant Co");
    let html = gateway.get("/admin/redirect-audit.html").await;
    assert!(html.text().contains("<td>Plant Data</td>"), "{}", html.text());
    assert!(html.headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'none';"));

    let refused = gateway.get("/connections/plant/main/signin").await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (403, "global-redirect-retired"));
    let detail = refused.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("GlobalPerConnector") && detail.contains(&gateway.url("/redirect/plant")), "{detail}");

    let per_connector = gateway_on(server, "GlobalPerConnector", &key_dir, Some("2000-01-01")).await;
    assert_eq!(per_connector.get("/admin/redirect-audit").await.json()["connectors"], json!([]));
    assert_eq!(per_connector.get("/connections/plant/main/signin").await.status, 302);
}

#[tokio::test]
async fn an_oauth_section_without_its_key_fails_start_up_with_the_reason() {
    let (_, server) = start_auth(3600).await;
    let error = TestGatewayBuilder::new()
        .package("plant", definition(server), properties("GlobalPerConnector"))
        .connection("plant", "main", &[])
        .oauth(sluice_gateway::config::OAuthConfig { key_env: "SLUICE_TEST_NO_SUCH_KEY".into(), ..Default::default() })
        .try_start()
        .await
        .err()
        .expect("the gateway does not start");
    assert!(matches!(error, sluice_gateway::StartError::OAuth(_)), "{error:?}");
    let text = format!("{error:#}");
    assert!(text.contains("[oauth]") && text.contains("SLUICE_TEST_NO_SUCH_KEY"), "{text}");
}

/// A gateway whose failed refreshes are not tried again for `retry_after`.
async fn setup_retrying(retry_after: std::time::Duration) -> Setup {
    let (auth, server) = start_auth(3600).await;
    let key_dir = tempfile::tempdir().unwrap();
    let config =
        sluice_gateway::config::OAuthConfig { refresh_retry_after: retry_after, ..oauth_config(key_dir.path(), None) };
    let gateway = TestGatewayBuilder::new()
        .package("plant", definition(server), properties("GlobalPerConnector"))
        .connection("plant", "main", &[])
        .oauth(config)
        .start()
        .await;
    auth.state().redirect_uris.push(gateway.url("/redirect/plant"));
    Setup { gateway, auth, key_dir }
}

#[tokio::test]
async fn one_refresh_however_many_calls_see_the_401() {
    let setup = std::sync::Arc::new(setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await);
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    setup.auth.revoke_access_tokens();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let setup = std::sync::Arc::clone(&setup);
            tokio::spawn(async move { setup.gateway.get("/apim/plant/main/items").await.status })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(setup.auth.state().refresh_attempts, 1);
}

#[tokio::test]
async fn one_refresh_however_many_calls_on_three_gateways_on_one_database_see_the_token_expire() {
    let (auth, server) = start_auth(2).await;
    let url = sluice_test_postgres::database();
    let key_dir = tempfile::tempdir().unwrap();
    let mut gateways = Vec::new();
    for _ in 0..3 {
        let gateway = TestGatewayBuilder::new()
            .package("plant", definition(server), properties("GlobalPerConnector"))
            .connection("plant", "main", &[])
            .oauth(oauth_config(key_dir.path(), None))
            .store_url(&url)
            .start()
            .await;
        auth.state().redirect_uris.push(gateway.url("/redirect/plant"));
        gateways.push(gateway);
    }
    assert_eq!(sign_in(&gateways[0]).await.status, 200);
    // The signed-in token lives 2 s; the refreshed one will live an hour.
    auth.state().expires_in = 3600;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let gateways = std::sync::Arc::new(gateways);
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let gateways = std::sync::Arc::clone(&gateways);
            tokio::spawn(async move { gateways[i % 3].get("/apim/plant/main/items").await.status })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(auth.state().refresh_attempts, 1, "one refresh across the three gateways");
}

#[tokio::test]
async fn with_the_database_down_a_token_read_before_serves_until_it_expires_then_the_call_is_a_clear_503() {
    let cluster = std::sync::Arc::new(sluice_test_postgres::Cluster::new().expect("a PostgreSQL server of its own"));
    // A token of 5 s: long enough to outlive stopping the database on a
    // busy machine.
    let (auth, server) = start_auth(5).await;
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("plant", definition(server), properties("GlobalPerConnector"))
        .connection("plant", "main", &[])
        .oauth(oauth_config(key_dir.path(), None))
        .store_url(&cluster.create_database())
        .store(|store| store.acquire_timeout = std::time::Duration::from_secs(1))
        .start()
        .await;
    auth.state().redirect_uris.push(gateway.url("/redirect/plant"));
    assert_eq!(sign_in(&gateway).await.status, 200);
    let signed_in = std::time::Instant::now();
    assert_eq!(gateway.get("/apim/plant/main/items").await.status, 200);
    let pg = cluster.clone();
    tokio::task::spawn_blocking(move || pg.stop()).await.unwrap().unwrap();
    let answer = gateway.get("/apim/plant/main/items").await;
    assert_eq!(answer.status, 200, "the token read before serves: {}", answer.text());
    // Expired, it needs a refresh, and the refresh needs the database.
    tokio::time::sleep(std::time::Duration::from_millis(5100).saturating_sub(signed_in.elapsed())).await;
    let answer = gateway.get("/apim/plant/main/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (503, "store-unavailable"), "{}", answer.text());
    assert_eq!(auth.state().refresh_attempts, 0, "nothing is sent to the provider that cannot be saved");
    let pg = cluster.clone();
    tokio::task::spawn_blocking(move || pg.start()).await.unwrap().unwrap();
    let answer = gateway.get("/apim/plant/main/items").await;
    assert_eq!(answer.status, 200, "refreshed once the database is back: {}", answer.text());
    assert_eq!(auth.state().refresh_grants, 1);
}

#[tokio::test]
async fn a_provider_that_is_down_leaves_the_connection_usable() {
    for (status, error) in [(503, "temporarily_unavailable"), (500, "server_error")] {
        let setup = setup_retrying(std::time::Duration::from_millis(300)).await;
        assert_eq!(sign_in(&setup.gateway).await.status, 200);
        setup.auth.revoke_access_tokens();
        setup.auth.state().refresh_failure = Some((status, error));
        let answer = setup.gateway.get("/apim/plant/main/items").await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (502, "backend-failed"), "{}", answer.text());
        // Calls that see the same token fail at once, without another refresh.
        let again = setup.gateway.get("/apim/plant/main/items").await;
        assert_eq!(again.status, 502);
        assert_eq!(setup.auth.state().refresh_attempts, 1, "{error}: not retried by every call");
        // The provider recovers; after the pause the next call refreshes.
        setup.auth.state().refresh_failure = None;
        tokio::time::sleep(std::time::Duration::from_millis(350)).await;
        let healed = setup.gateway.get("/apim/plant/main/items").await;
        assert_eq!(healed.status, 200, "{error}: {}", healed.text());
        assert_eq!(setup.auth.state().refresh_grants, 1);
    }
}

#[tokio::test]
async fn only_invalid_grant_asks_for_a_new_sign_in() {
    let setup = setup_retrying(std::time::Duration::from_millis(1)).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    setup.auth.revoke_access_tokens();
    setup.auth.state().refresh_failure = Some((400, "invalid_grant"));
    let answer = setup.gateway.get("/apim/plant/main/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (401, "signin-required"), "{}", answer.text());
}

#[tokio::test]
async fn a_state_sent_to_the_wrong_redirect_uri_stays_usable() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let started = setup.gateway.get("/connections/plant/main/signin").await;
    let provider = get_absolute(&setup.gateway, started.headers["location"].to_str().unwrap()).await;
    let right = provider.headers["location"].to_str().unwrap().to_string();
    let wrong = right.replace("/redirect/plant", "/redirect");
    let cookie = binding_cookie(&started);
    let refused = setup.gateway.anonymous(browser_get(&wrong, Some(&cookie))).await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (400, "signin-failed"));
    assert!(refused.json()["detail"].as_str().unwrap().contains("/redirect/plant"), "{}", refused.text());
    let answer = setup.gateway.anonymous(browser_get(&right, Some(&cookie))).await;
    assert_eq!(answer.status, 200, "the state was not used up: {}", answer.text());
}

#[tokio::test]
async fn a_redirect_from_another_issuer_is_refused() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    setup.auth.state().iss = Some("https://login.attacker.example".into());
    let answer = sign_in(&setup.gateway).await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "signin-failed"), "{}", answer.text());
    assert!(answer.json()["detail"].as_str().unwrap().contains("login.attacker.example"));
    let still = setup.gateway.get("/apim/plant/main/items").await;
    assert_eq!(still.problem_type(), "signin-required", "no tokens were stored");
    // The provider naming itself is fine.
    let server =
        setup.gateway.gateway.default_environment().registry().loaded()[0].package.definition.host.clone().unwrap();
    setup.auth.state().iss = Some(format!("http://{server}"));
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
}

#[tokio::test]
async fn a_changed_token_url_needs_a_new_sign_in_and_gets_no_refresh_token() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    let (elsewhere, other_server) = start_auth(3600).await;
    // An update of the package moves its token endpoint to another server.
    let server = provider_address(&setup.gateway);
    let mut moved = definition(server);
    moved["securityDefinitions"]["oauth2_auth"]["tokenUrl"] = json!(format!("http://{other_server}/token"));
    let file = setup.gateway.packages_dir().join("plant/apiDefinition.swagger.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&moved).unwrap()).unwrap();
    setup.gateway.gateway.default_environment().registry().reload().await;
    setup.auth.revoke_access_tokens();
    let answer = setup.gateway.get("/apim/plant/main/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (401, "signin-required"), "{}", answer.text());
    assert!(answer.json()["detail"].as_str().unwrap().contains("endpoints changed"), "{}", answer.text());
    assert_eq!(elsewhere.state().refresh_attempts, 0, "the new endpoint got no refresh token");
    assert_eq!(setup.auth.state().refresh_attempts, 0);
}

/// Starts a sign-in as the admin and follows it to the provider; returns
/// the start's answer and the provider's redirect back to the gateway.
async fn start_and_authorize(gateway: &TestGateway) -> (Answer, String) {
    let started = gateway.get("/connections/plant/main/signin").await;
    assert_eq!(started.status, 302, "{}", started.text());
    let provider = get_absolute(gateway, started.headers["location"].to_str().unwrap()).await;
    assert_eq!(provider.status, 302, "{}", provider.text());
    let back = provider.headers["location"].to_str().unwrap().to_string();
    (started, back)
}

/// The access token the backend sees on a call through `main`.
async fn token_in_use(gateway: &TestGateway) -> String {
    let answer = gateway.get("/apim/plant/main/items").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["token"].as_str().unwrap().to_string()
}

/// A user `bob` who may use the connector and the connection `main`, with his key.
async fn bob_with_a_share(gateway: &TestGateway) -> String {
    use sluice_gateway::access::{Caller, Credential, DEFAULT_ENVIRONMENT, Right, Role};
    let access = gateway.gateway.access();
    let admin = Caller { id: ADMIN.into(), groups: vec![], credential: Credential::ApiKey { id: "t".into() } };
    access.set_role(&admin, DEFAULT_ENVIRONMENT, "bob", Some(Role::User)).await.unwrap();
    access.share_connector(&admin, DEFAULT_ENVIRONMENT, "plant", "bob", Some(Right::CanUse)).await.unwrap();
    access.share_connection(&admin, DEFAULT_ENVIRONMENT, "plant", "main", "bob", true).await.unwrap();
    access.issue_key(&admin, "bob", "tests", None).await.unwrap().key
}

#[tokio::test]
async fn a_redirect_without_the_browsers_cookie_is_refused_and_the_tokens_stay() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    let before = token_in_use(&setup.gateway).await;

    // Someone sends the provider's link to another browser: no cookie there.
    let (started, back) = start_and_authorize(&setup.gateway).await;
    let refused = setup.gateway.anonymous(browser_get(&back, None)).await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (400, "signin-failed"), "{}", refused.text());
    assert!(refused.json()["detail"].as_str().unwrap().contains("another browser"), "{}", refused.text());
    // Another browser's cookie is no better.
    let (_, back_again) = start_and_authorize(&setup.gateway).await;
    let other = "sluice_signin=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(setup.gateway.anonymous(browser_get(&back_again, Some(other))).await.status, 400);
    assert_eq!(token_in_use(&setup.gateway).await, before, "the stored tokens are unchanged");
    // The refused state is spent: the right browser cannot use it afterwards.
    let late = setup.gateway.anonymous(browser_get(&back, Some(&binding_cookie(&started)))).await;
    assert_eq!(late.status, 400);
    assert_eq!(token_in_use(&setup.gateway).await, before);
}

#[tokio::test]
async fn a_redirect_completed_by_another_principal_is_refused() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    let before = token_in_use(&setup.gateway).await;
    let bob = bob_with_a_share(&setup.gateway).await;
    let (started, back) = start_and_authorize(&setup.gateway).await;
    let cookie = binding_cookie(&started);
    let refused = setup.gateway.anonymous(with_bearer(browser_get(&back, Some(&cookie)), &bob)).await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (400, "signin-failed"), "{}", refused.text());
    assert_eq!(token_in_use(&setup.gateway).await, before);
}

#[tokio::test]
async fn a_replayed_state_is_refused() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let (started, back) = start_and_authorize(&setup.gateway).await;
    let cookie = binding_cookie(&started);
    assert_eq!(setup.gateway.anonymous(browser_get(&back, Some(&cookie))).await.status, 200);
    let first = token_in_use(&setup.gateway).await;
    let replayed = setup.gateway.anonymous(browser_get(&back, Some(&cookie))).await;
    assert_eq!((replayed.status, replayed.problem_type().as_str()), (400, "signin-failed"));
    assert_eq!(token_in_use(&setup.gateway).await, first);
}

#[tokio::test]
async fn the_binding_cookie_is_http_only_lax_and_scoped_to_the_redirect() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let started = setup.gateway.get("/connections/plant/main/signin").await;
    let cookie = started.headers["set-cookie"].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/redirect", "Max-Age=600"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // The gateway's public URL is http here, so the cookie cannot be Secure.
    assert!(!cookie.contains("Secure"), "{cookie}");
    // A browser that has the cookie keeps it for its next sign-in.
    let again = setup
        .gateway
        .request(browser_get(&setup.gateway.url("/connections/plant/main/signin"), Some(&binding_cookie(&started))))
        .await;
    assert_eq!(binding_cookie(&again), binding_cookie(&started));
}

#[tokio::test]
async fn only_the_owner_starts_a_sign_in_and_only_the_owner_is_told_where() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let bob = bob_with_a_share(&setup.gateway).await;
    let start = setup
        .gateway
        .request(with_bearer(browser_get(&setup.gateway.url("/connections/plant/main/signin"), None), &bob))
        .await;
    assert_eq!((start.status, start.problem_type().as_str()), (403, "forbidden"), "{}", start.text());
    assert!(start.json()["detail"].as_str().unwrap().contains("the connection's owner"), "{}", start.text());

    // Bob may call; the sign-in it needs is the owner's to do.
    let call =
        setup.gateway.request(with_bearer(browser_get(&setup.gateway.url("/apim/plant/main/items"), None), &bob)).await;
    assert_eq!((call.status, call.problem_type().as_str()), (401, "signin-required"));
    let detail = call.json()["detail"].as_str().unwrap().to_string();
    assert!(!detail.contains("/signin") && detail.contains("its owner must sign it in again"), "{detail}");
    let owner = setup.gateway.get("/apim/plant/main/items").await;
    assert!(owner.json()["detail"].as_str().unwrap().contains("/connections/plant/main/signin"), "{}", owner.text());
}

#[tokio::test]
async fn deleting_the_connector_removes_every_connection_and_token() {
    use sluice_gateway::access::{Caller, Credential, DEFAULT_ENVIRONMENT};
    use sluice_gateway::store::TokenStore as _;
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    assert_eq!(sign_in(&setup.gateway).await.status, 200);
    let access = setup.gateway.gateway.access();
    let admin = Caller { id: ADMIN.into(), groups: vec![], credential: Credential::ApiKey { id: "t".into() } };
    access.create_connection(&admin, DEFAULT_ENVIRONMENT, "plant", "second", Default::default()).await.unwrap();
    let bob = bob_with_a_share(&setup.gateway).await;
    assert_eq!(setup.gateway.get("/apim/plant/main/items").await.status, 200);

    // Bob may use it, not delete it.
    let refused = access
        .delete_connector(&Caller { id: "bob".into(), ..admin.clone() }, DEFAULT_ENVIRONMENT, "plant")
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("can-edit"), "{refused}");
    access.delete_connector(&admin, DEFAULT_ENVIRONMENT, "plant").await.unwrap();

    assert!(!setup.gateway.packages_dir().join("plant").exists(), "the package is gone");
    for (key, path) in [(&setup.gateway.admin_key, "/apim/plant/main/items"), (&bob, "/apim/plant/second/items")] {
        let request = with_bearer(browser_get(&setup.gateway.url(path), None), key);
        let answer = setup.gateway.request(request).await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-connector"), "{path}");
    }
    // Nothing of it is left in the database: no tokens, no connection, no share.
    let store = sluice_gateway::store::sql::SqlStore::open(&setup.key_dir.path().join("credentials.db")).await.unwrap();
    assert_eq!(store.tokens(DEFAULT_ENVIRONMENT, "plant", "main").await.unwrap(), None);
    let rows = sluice_gateway::store::AccessStore::environment_rows(&store, DEFAULT_ENVIRONMENT).await.unwrap();
    assert!(
        rows.connections.is_empty() && rows.connector_shares.is_empty() && rows.connection_shares.is_empty(),
        "{rows:?}"
    );
}

/// An Entra ID (`aad`) connector as certified packages write it: the
/// definition's URLs are placeholders; the endpoints come from `loginUri`
/// and `tenantId`, and `resourceUri` selects the v1 endpoints and is sent
/// as `resource` (else the v2.0 endpoints, with scopes).
#[tokio::test]
async fn an_entra_id_connector_signs_in_at_its_tenant_with_its_resource() {
    for (resource, version) in [(Some("https://graph.example"), "v1"), (None, "v2.0")] {
        let (auth, server) = start_auth(3600).await;
        let key_dir = tempfile::tempdir().unwrap();
        let mut definition = definition(server);
        definition["securityDefinitions"]["oauth2_auth"]["authorizationUrl"] =
            json!("https://login.windows.net/common/oauth2/authorize");
        definition["securityDefinitions"]["oauth2_auth"]["tokenUrl"] =
            json!("https://login.windows.net/common/oauth2/authorize");
        let mut custom = json!({"loginUri": {"value": format!("http://{server}")}, "tenantId": {"value": "contoso"}});
        if let Some(resource) = resource {
            custom["resourceUri"] = json!({"value": resource});
        }
        let properties = json!({"properties": {
            "connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
                "identityProvider": "aad", "clientId": "client-1", "scopes": [], "redirectMode": "GlobalPerConnector",
                "customParameters": custom}}},
            "publisher": "Plant Co", "stackOwner": "Plant Co"
        }});
        let gateway = TestGatewayBuilder::new()
            .package("plant", definition, properties)
            .connection("plant", "main", &[])
            .oauth(oauth_config(key_dir.path(), None))
            .start()
            .await;
        auth.state().redirect_uris.push(gateway.url("/redirect/plant"));
        let done = sign_in(&gateway).await;
        assert_eq!(done.status, 200, "{version}: {}", done.text());
        assert_eq!(auth.state().entra, [("contoso".to_string(), version, resource.map(str::to_string))]);
        assert_eq!(gateway.get("/apim/plant/main/items").await.status, 200, "{version}: the token works");
    }
}

/// The management API begins a sign-in for a browser-based client: the
/// answer carries the provider's URL and sets the binding cookie, and the
/// provider's redirect completes it in that browser.
#[tokio::test]
async fn the_api_begins_a_sign_in_that_completes_in_the_same_browser() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let gateway = &setup.gateway;
    let status = gateway.get("/api/v1/connections/plant/main").await.json();
    assert_eq!(status["status"], "signin-required", "{status}");
    let begun = gateway
        .request(
            http::Request::post(gateway.url("/api/v1/connections/plant/main/signin")).body(Default::default()).unwrap(),
        )
        .await;
    assert_eq!(begun.status, 200, "{}", begun.text());
    let authorize = begun.json()["authorization_url"].as_str().unwrap().to_string();
    assert!(begun.headers[http::header::SET_COOKIE].to_str().unwrap().contains("HttpOnly"));
    let provider = get_absolute(gateway, &authorize).await;
    assert_eq!(provider.status, 302, "{}", provider.text());
    let back = provider.headers["location"].to_str().unwrap().to_string();
    // Without the cookie the redirect is refused; with it, it signs in.
    assert_eq!(gateway.anonymous(browser_get(&back, None)).await.status, 400);
    let begun = gateway
        .request(
            http::Request::post(gateway.url("/api/v1/connections/plant/main/signin")).body(Default::default()).unwrap(),
        )
        .await;
    let provider = get_absolute(gateway, begun.json()["authorization_url"].as_str().unwrap()).await;
    let back = provider.headers["location"].to_str().unwrap().to_string();
    let done = gateway.anonymous(browser_get(&back, Some(&binding_cookie(&begun)))).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let status = gateway.get("/api/v1/connections/plant/main").await.json();
    assert_eq!(status["status"], "ready", "{status}");
}

/// A command-line client signs in through its loopback listener: the
/// provider's redirect hands the listener a completion code, which only
/// that client (the same principal, with the binding secret it was given)
/// redeems, once.
#[tokio::test]
async fn a_command_line_sign_in_completes_through_its_loopback_listener_once() {
    let setup = setup("GlobalPerConnector", 3600, &["/redirect/plant"]).await;
    let gateway = &setup.gateway;
    let post = |path: &str, body: Option<serde_json::Value>| {
        let mut request = http::Request::post(gateway.url(path));
        let bytes = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                bytes::Bytes::from(body.to_string())
            }
            None => bytes::Bytes::new(),
        };
        gateway.request(request.body(http_body_util::Full::new(bytes)).unwrap())
    };
    // Begins, follows the provider as a browser with no cookie would, and
    // returns the binding secret and the completion the listener gets.
    let handoff = || async {
        let begun = post("/api/v1/connections/plant/main/signin?loopback_port=45678", None).await;
        assert_eq!(begun.status, 200, "{}", begun.text());
        let begun = begun.json();
        let provider = get_absolute(gateway, begun["authorization_url"].as_str().unwrap()).await;
        let back = provider.headers["location"].to_str().unwrap().to_string();
        let landed = gateway.anonymous(browser_get(&back, None)).await;
        assert_eq!(landed.status, 302, "{}", landed.text());
        let listener = landed.headers["location"].to_str().unwrap().to_string();
        let completion =
            listener.strip_prefix("http://127.0.0.1:45678/?completion=").expect("to the loopback listener");
        (begun["binding"].as_str().unwrap().to_string(), completion.to_string())
    };
    let complete = |completion: &str, binding: &str| {
        post(
            "/api/v1/connections/plant/main/signin/complete",
            Some(json!({"completion": completion, "binding": binding})),
        )
    };

    // A wrong binding secret is refused, and spends the completion.
    let (binding, completion) = handoff().await;
    let wrong = complete(&completion, "not-the-secret").await;
    assert_eq!((wrong.status, wrong.problem_type().as_str()), (400, "signin-failed"), "{}", wrong.text());
    assert_eq!(complete(&completion, &binding).await.status, 400, "spent");
    assert_eq!(gateway.get("/api/v1/connections/plant/main").await.json()["status"], "signin-required");

    let (binding, completion) = handoff().await;
    let done = complete(&completion, &binding).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["status"], "ready");
    assert_eq!(gateway.get("/apim/plant/main/items").await.status, 200);
    assert_eq!(complete(&completion, &binding).await.status, 400, "a completion is redeemed once");
}
