//! The `oauth2generic` and `DocuSign` identity providers against an
//! authorization server on loopback that checks every parameter it
//! receives: the authorization request's (PKCE, `state`, the registered
//! redirect URI, and the package's own such as `access_type` and
//! `prompt`), the code exchange's and the refresh's form bodies as the
//! templates write them, no parameter twice, and the client's
//! authentication. The gateway reaches the providers' names through a
//! resolver that knows them as 127.0.0.1 and nothing else; the test's
//! "browser" goes to 127.0.0.1 with the name in `Host`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::oauth::{binding_cookie, browser_get, oauth_config};
use crate::support::*;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;
use sha2::Digest as _;

/// What the server demands of the requests it receives.
#[derive(Default, Clone)]
struct Expect {
    client_id: String,
    /// Parameters the authorization request must carry, with these values.
    authorize: Vec<(&'static str, String)>,
    /// Parameters the code exchange's body must carry, with these values.
    token: Vec<(&'static str, String)>,
    /// Parameters a refresh's body must carry, with these values.
    refresh: Vec<(&'static str, String)>,
    /// The client authenticates with HTTP Basic `id:secret` (and sends no
    /// secret in the body); else never with a header.
    basic: Option<String>,
}

#[derive(Default)]
struct ServerState {
    expect: Expect,
    redirect_uris: Vec<String>,
    codes: HashMap<String, (String, String)>,
    live_tokens: HashMap<String, u64>,
    refresh_tokens: Vec<String>,
    counter: u64,
    expires_in: u64,
    refreshes: usize,
    /// The `Host` of every request, in order.
    hosts: Vec<String>,
    /// Why the last request was refused.
    refusal: Option<String>,
    /// Code exchanges answer 200 with JSON that holds no token.
    malformed: bool,
}

#[derive(Clone, Default)]
struct Server(Arc<Mutex<ServerState>>);

impl Server {
    fn state(&self) -> std::sync::MutexGuard<'_, ServerState> {
        self.0.lock().unwrap()
    }

    fn refuse(&self, why: String) -> Response {
        self.state().refusal = Some(why.clone());
        (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_request", "error_description": why})))
            .into_response()
    }

    fn issue(&self) -> Response {
        let mut state = self.state();
        state.counter += 1;
        let access = format!("access-{}", state.counter);
        let refresh = format!("refresh-{}", state.counter);
        let expires_in = state.expires_in;
        state.live_tokens.insert(access.clone(), expires_in);
        state.refresh_tokens.push(refresh.clone());
        axum::Json(
            json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in, "refresh_token": refresh}),
        )
        .into_response()
    }
}

/// The pairs, or why they are unusable: a parameter sent twice is how a
/// value smuggles one in.
fn single(pairs: &[(String, String)]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (key, value) in pairs {
        if out.insert(key.clone(), value.clone()).is_some() {
            return Err(format!("`{key}` sent twice"));
        }
    }
    Ok(out)
}

fn demand(params: &HashMap<String, String>, expected: &[(&'static str, String)]) -> Result<(), String> {
    for (key, value) in expected {
        if params.get(*key) != Some(value) {
            return Err(format!("`{key}` is {:?}, not {value:?}", params.get(*key)));
        }
    }
    Ok(())
}

fn host(headers: &HeaderMap) -> String {
    headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default().to_string()
}

async fn authorize(
    State(server): State<Server>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    server.state().hosts.push(host(&headers));
    let expect = server.state().expect.clone();
    let params = match single(&pairs) {
        Ok(params) => params,
        Err(why) => return server.refuse(why),
    };
    let redirect_uri = params.get("redirect_uri").cloned().unwrap_or_default();
    let checks = demand(&params, &[("client_id", expect.client_id.clone()), ("code_challenge_method", "S256".into())])
        .and_then(|()| demand(&params, &expect.authorize))
        .and_then(|()| match server.state().redirect_uris.contains(&redirect_uri) {
            true => Ok(()),
            false => Err(format!("redirect_uri {redirect_uri} is not registered")),
        })
        .and_then(|()| match (params.get("code_challenge"), params.get("state")) {
            (Some(_), Some(_)) => Ok(()),
            _ => Err("no code_challenge or state".into()),
        });
    if let Err(why) = checks {
        return server.refuse(why);
    }
    let code = format!("code-{}", server.state().codes.len() + 1);
    server.state().codes.insert(code.clone(), (params["code_challenge"].clone(), redirect_uri.clone()));
    let location = format!("{redirect_uri}?code={code}&state={}", params["state"]);
    (StatusCode::FOUND, [(axum::http::header::LOCATION, location)]).into_response()
}

async fn token(State(server): State<Server>, headers: HeaderMap, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    server.state().hosts.push(host(&headers));
    let expect = server.state().expect.clone();
    let params = match single(&pairs) {
        Ok(params) => params,
        Err(why) => return server.refuse(why),
    };
    let authorization = headers.get("authorization").and_then(|h| h.to_str().ok()).map(str::to_string);
    let client = match &expect.basic {
        Some(pair) => {
            let wanted = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
            match (authorization, params.contains_key("client_secret")) {
                (Some(sent), false) if sent == wanted => Ok(()),
                _ => Err("the client must authenticate with Basic, and only so".to_string()),
            }
        }
        None if authorization.is_some() => Err("an Authorization header the client was not to send".to_string()),
        None => Ok(()),
    };
    if let Err(why) = client {
        return server.refuse(why);
    }
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((challenge, redirect_uri)) = params.get("code").and_then(|c| server.state().codes.remove(c))
            else {
                return server.refuse("unknown code".into());
            };
            let verifier = params.get("code_verifier").cloned().unwrap_or_default();
            let computed =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            if computed != challenge {
                return server.refuse("the PKCE verifier does not match".into());
            }
            if let Err(why) =
                demand(&params, &[("redirect_uri", redirect_uri)]).and_then(|()| demand(&params, &expect.token))
            {
                return server.refuse(why);
            }
            if server.state().malformed {
                return axum::Json(json!({"token": "not-where-it-belongs"})).into_response();
            }
            server.issue()
        }
        Some("refresh_token") => {
            let live = params.get("refresh_token").is_some_and(|t| server.state().refresh_tokens.contains(t));
            if !live {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response();
            }
            if let Err(why) = demand(&params, &expect.refresh) {
                return server.refuse(why);
            }
            server.state().refreshes += 1;
            server.issue()
        }
        _ => server.refuse("unknown grant_type".into()),
    }
}

async fn resource(State(server): State<Server>, headers: HeaderMap) -> Response {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(token) if server.state().live_tokens.contains_key(token) => {
            axum::Json(json!({"token": token})).into_response()
        }
        _ => (StatusCode::UNAUTHORIZED, "bad token").into_response(),
    }
}

async fn start_server(expect: Expect, expires_in: u64) -> (Server, SocketAddr) {
    let server = Server::default();
    server.state().expect = expect;
    server.state().expires_in = expires_in;
    let app = Router::new()
        .route("/oauth/v2/auth", get(authorize))
        .route("/oauth/v2/token", post(token))
        .route("/oauth/auth", get(authorize))
        .route("/oauth/token", post(token))
        .route("/s/oauth/authorize", get(authorize))
        .route("/s/oauth/token", post(token))
        .route("/v1/items", get(resource))
        .with_state(server.clone());
    (server.clone(), start_backend(app).await)
}

/// A package whose API is the server's `/v1/items`, signing in with
/// `oauth` (an `oauthSetting` parameter named `token`) beside `parameters`.
/// Its security definition names a host nobody resolves: the templates win.
fn package(
    server: SocketAddr,
    oauth: serde_json::Value,
    parameters: serde_json::Value,
) -> (serde_json::Value, serde_json::Value) {
    let definition = json!({
        "swagger": "2.0",
        "info": {"title": "Mail", "description": "test", "version": "1.0"},
        "host": server.to_string(), "basePath": "/v1", "schemes": ["http"],
        "securityDefinitions": {"oauth2-auth": {"type": "oauth2", "flow": "accessCode",
            "authorizationUrl": "https://accounts.placeholder.invalid/auth",
            "tokenUrl": "https://accounts.placeholder.invalid/token", "scopes": {}}},
        "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "ok"}}}}}
    });
    let mut declared = parameters.as_object().cloned().unwrap_or_default();
    declared.insert("token".into(), json!({"type": "oauthSetting", "oAuthSettings": oauth}));
    let properties =
        json!({"properties": {"connectionParameters": declared, "publisher": "Test", "stackOwner": "Test"}});
    (definition, properties)
}

fn string_parameter(allowed: &[&str]) -> serde_json::Value {
    let allowed: Vec<_> = allowed.iter().map(|v| json!({"text": v, "value": v})).collect();
    json!({"type": "string", "uiDefinition": {"displayName": "x", "constraints": {"required": "true", "allowedValues": allowed}}})
}

/// `[oauth]` with the connector's client written as the settings file
/// writes it.
fn oauth_with_client(dir: &std::path::Path, connector: &str, client_toml: &str) -> sluice_gateway::config::OAuthConfig {
    let mut config = oauth_config(dir, None);
    config.clients.insert(connector.into(), toml::from_str(client_toml).expect("client settings"));
    config
}

/// Follows a sign-in as a browser would, the provider's names reached on
/// 127.0.0.1; returns the last answer.
async fn sign_in(gateway: &TestGateway, connector: &str) -> Answer {
    let started = gateway.get(&format!("/connections/{connector}/main/signin")).await;
    if started.status != 302 {
        return started;
    }
    let authorize = started.headers["location"].to_str().unwrap().to_string();
    let mut url = url::Url::parse(&authorize).unwrap();
    let named = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    url.set_host(Some("127.0.0.1")).unwrap();
    let request = http::Request::get(url.as_str())
        .header(http::header::HOST, named)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let provider = gateway.anonymous(request).await;
    if provider.status != 302 {
        return provider;
    }
    let back = provider.headers["location"].to_str().unwrap().to_string();
    gateway.anonymous(browser_get(&back, Some(&binding_cookie(&started)))).await
}

/// A Zoho Mail-like package: the host's suffix from `token:customHost`
/// (allowedValues), the authorization query asking for offline access and
/// consent, the code exchange's and the refresh's bodies written out, and a
/// free `token:orgName` carried in the query and the refresh body.
fn zoho(server: SocketAddr) -> (serde_json::Value, serde_json::Value) {
    let port = server.port();
    let oauth = json!({
        "identityProvider": "oauth2generic",
        "clientId": "<Enter Your Client ID>",
        "scopes": ["ZohoMail.messages.ALL", "ZohoMail.accounts.READ"],
        "redirectMode": "GlobalPerConnector",
        "customParameters": {
            "authorizationUrlTemplate": {"value": format!("http://accounts.zoho{{CustomHost}}:{port}/oauth/v2/auth")},
            "authorizationUrlQueryStringTemplate": {"value": "?response_type=code&client_id={clientId}&redirect_uri={redirectUrl}&state={State}&scope={Scopes}&access_type=offline&prompt=consent&acr_values=tenantName:{OrgName}"},
            "tokenUrlTemplate": {"value": format!("http://accounts.zoho{{CustomHost}}:{port}/oauth/v2/token")},
            "tokenBodyTemplate": {"value": "code={code}&grant_type=authorization_code&redirect_uri={redirectUrl}&client_id={clientId}&client_secret={clientSecret}&scope={Scopes}"},
            "refreshUrlTemplate": {"value": format!("http://accounts.zoho{{CustomHost}}:{port}/oauth/v2/token")},
            "refreshBodyTemplate": {"value": "grant_type=refresh_token&refresh_token={refreshToken}&client_id={clientId}&client_secret={clientSecret}&acr_values=tenantName:{OrgName}"}
        }
    });
    let parameters = json!({
        "token:customHost": string_parameter(&[".com.test", ".eu.test"]),
        "token:orgName": string_parameter(&[]),
    });
    package(server, oauth, parameters)
}

/// A value that tries to add a parameter where it lands.
const SMUGGLING_ORG: &str = "Acme & Co&client_id=evil";

#[tokio::test]
async fn a_zoho_like_connector_signs_in_at_the_host_its_allowed_value_names_and_refreshes_with_its_template() {
    let scopes = "ZohoMail.messages.ALL,ZohoMail.accounts.READ".to_string();
    let expect = Expect {
        client_id: "zoho-client".into(),
        authorize: vec![
            ("response_type", "code".into()),
            ("access_type", "offline".into()),
            ("prompt", "consent".into()),
            ("scope", scopes.clone()),
            ("acr_values", format!("tenantName:{SMUGGLING_ORG}")),
        ],
        token: vec![("client_secret", "zoho-secret".into()), ("scope", scopes)],
        refresh: vec![
            ("client_id", "zoho-client".into()),
            ("client_secret", "zoho-secret".into()),
            ("acr_values", format!("tenantName:{SMUGGLING_ORG}")),
        ],
        basic: None,
    };
    // Tokens of 2 s: the call after a second refreshes first.
    let (server, address) = start_server(expect, 2).await;
    let (definition, properties) = zoho(address);
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("zohomail", definition, properties)
        .connection("zohomail", "main", &[("token:customHost", ".eu.test"), ("token:orgName", SMUGGLING_ORG)])
        .oauth(oauth_with_client(
            key_dir.path(),
            "zohomail",
            "client_id = \"zoho-client\"\nclient_secret = \"zoho-secret\"",
        ))
        .resolve_to_loopback(&["accounts.zoho.eu.test", "accounts.zoho.com.test"])
        .start()
        .await;
    server.state().redirect_uris.push(gateway.url("/redirect/zohomail"));

    let done = sign_in(&gateway, "zohomail").await;
    assert_eq!(done.status, 200, "{} / server: {:?}", done.text(), server.state().refusal);
    let host = format!("accounts.zoho.eu.test:{}", address.port());
    assert_eq!(
        server.state().hosts,
        [host.clone(), host.clone()],
        "the browser and the code exchange went to the chosen host"
    );
    let call = gateway.get("/apim/zohomail/main/items").await;
    assert_eq!(call.status, 200, "{}", call.text());
    assert_eq!(call.json()["token"], "access-1");

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let call = gateway.get("/apim/zohomail/main/items").await;
    assert_eq!(call.status, 200, "{} / server: {:?}", call.text(), server.state().refusal);
    assert_eq!(call.json()["token"], "access-2");
    assert_eq!(server.state().refreshes, 1, "refreshed once, with the refresh template's body");
    assert_eq!(server.state().hosts.last(), Some(&host));

    // A token the provider revoked early: refreshed once after the 401, and
    // the call retried.
    server.state().live_tokens.clear();
    let call = gateway.get("/apim/zohomail/main/items").await;
    assert_eq!(call.status, 200, "{} / server: {:?}", call.text(), server.state().refusal);
    assert_eq!((call.json()["token"].as_str(), server.state().refreshes), (Some("access-3"), 2));
}

/// An iObeya-like package: the host's first label from a free
/// `token:HostnamePrefix`, and no query or body templates (the standard
/// parameters).
fn iobeya(server: SocketAddr) -> (serde_json::Value, serde_json::Value) {
    let port = server.port();
    let oauth = json!({
        "identityProvider": "oauth2generic",
        "clientId": "iobeya-client",
        "scopes": ["api offline_access"],
        "redirectMode": "GlobalPerConnector",
        "customParameters": {
            "authorizationUrlTemplate": {"value": format!("http://{{HostnamePrefix}}.iobeya.test:{port}/s/oauth/authorize")},
            "tokenUrlTemplate": {"value": format!("http://{{HostnamePrefix}}.iobeya.test:{port}/s/oauth/token")},
            "refreshUrlTemplate": {"value": format!("http://{{HostnamePrefix}}.iobeya.test:{port}/s/oauth/token")}
        }
    });
    package(server, oauth, json!({"token:HostnamePrefix": string_parameter(&[])}))
}

fn iobeya_expect() -> Expect {
    Expect {
        client_id: "iobeya-client".into(),
        authorize: vec![("response_type", "code".into()), ("scope", "api offline_access".into())],
        token: vec![("client_secret", "operator-secret".into())],
        ..Default::default()
    }
}

async fn iobeya_gateway(address: SocketAddr, prefix: &str, client_toml: &str) -> (TestGateway, tempfile::TempDir) {
    let (definition, properties) = iobeya(address);
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("iobeya", definition, properties)
        .connection("iobeya", "main", &[("token:HostnamePrefix", prefix)])
        .oauth(oauth_with_client(key_dir.path(), "iobeya", client_toml))
        .resolve_to_loopback(&["acme.iobeya.test", "evil.test", "acme.evil.test"])
        .start()
        .await;
    (gateway, key_dir)
}

#[tokio::test]
async fn a_free_host_parameter_with_the_operators_secret_is_refused_before_anything_is_sent() {
    let (server, address) = start_server(iobeya_expect(), 3600).await;
    let (gateway, _dir) = iobeya_gateway(address, "acme", "client_secret = \"operator-secret\"").await;
    server.state().redirect_uris.push(gateway.url("/redirect/iobeya"));
    for answer in [
        gateway.get("/connections/iobeya/main/signin").await,
        gateway.send("POST", "/api/v1/connections/iobeya/main/signin", &[], "").await,
    ] {
        assert_eq!(
            (answer.status, answer.problem_type().as_str()),
            (403, "oauth-endpoint-refused"),
            "{}",
            answer.text()
        );
        let detail = answer.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains("connector `iobeya`") && detail.contains("`token:HostnamePrefix`"), "{detail}");
        assert!(!detail.contains("operator-secret"), "{detail}");
        assert!(!answer.headers.contains_key("location"));
    }
    assert!(server.state().hosts.is_empty(), "nothing reached the provider");
}

#[tokio::test]
async fn a_free_host_parameter_signs_in_where_the_operator_allows_its_origins() {
    let (server, address) = start_server(iobeya_expect(), 3600).await;
    let client = "client_secret = \"operator-secret\"\nallowed_endpoints = [\"http://*.iobeya.test:*\"]";
    let (gateway, _dir) = iobeya_gateway(address, "acme", client).await;
    server.state().redirect_uris.push(gateway.url("/redirect/iobeya"));
    let done = sign_in(&gateway, "iobeya").await;
    assert_eq!(done.status, 200, "{} / server: {:?}", done.text(), server.state().refusal);
    assert_eq!(server.state().hosts[1], format!("acme.iobeya.test:{}", address.port()));
    assert_eq!(gateway.get("/apim/iobeya/main/items").await.status, 200);

    // Under a rule for one host, another is refused; and so are values that
    // try to move the host elsewhere, whatever the rule.
    let one_host = "client_secret = \"operator-secret\"\nallowed_endpoints = [\"http://acme.iobeya.test:*\"]";
    for hostile in ["other", "evil.test#", "evil.test/x", "evil.test?", "evil.test:1@acme", "evil.test%2F", "evil test"]
    {
        let (gateway, _dir) = iobeya_gateway(address, hostile, one_host).await;
        let answer = gateway.get("/connections/iobeya/main/signin").await;
        assert_eq!(
            (answer.status, answer.problem_type().as_str()),
            (403, "oauth-endpoint-refused"),
            "{hostile}: {}",
            answer.text()
        );
    }
    assert_eq!(server.state().hosts.len(), 2, "no refused sign-in reached anyone");
}

#[tokio::test]
async fn a_token_answer_without_a_token_is_a_clean_sign_in_failure() {
    let (server, address) = start_server(iobeya_expect(), 3600).await;
    server.state().malformed = true;
    let client = "client_secret = \"operator-secret\"\nallowed_endpoints = [\"http://acme.iobeya.test:*\"]";
    let (gateway, _dir) = iobeya_gateway(address, "acme", client).await;
    server.state().redirect_uris.push(gateway.url("/redirect/iobeya"));
    let answer = sign_in(&gateway, "iobeya").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "signin-failed"), "{}", answer.text());
    assert!(answer.text().contains("without an `access_token`"), "{}", answer.text());
    assert_eq!(gateway.get("/apim/iobeya/main/items").await.problem_type(), "signin-required");
}

#[tokio::test]
async fn a_template_naming_an_undeclared_parameter_is_refused_as_unavailable() {
    let (_server, address) = start_server(iobeya_expect(), 3600).await;
    let (definition, mut properties) = iobeya(address);
    properties["properties"]["connectionParameters"]["token"]["oAuthSettings"]["customParameters"]["tokenBodyTemplate"] =
        json!({"value": "grant_type=authorization_code&code={code}&client_id={US_clientId}"});
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("iobeya", definition, properties)
        .connection("iobeya", "main", &[("token:HostnamePrefix", "acme")])
        .oauth(oauth_with_client(key_dir.path(), "iobeya", "allowed_endpoints = [\"http://*.iobeya.test:*\"]"))
        .start()
        .await;
    let answer = gateway.get("/connections/iobeya/main/signin").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (503, "oauth-unavailable"), "{}", answer.text());
    assert!(answer.text().contains("`{US_clientId}`"), "{}", answer.text());
}

#[tokio::test]
async fn a_docusign_connector_signs_in_at_its_login_uri_with_basic_client_authentication() {
    let expect = Expect {
        client_id: "ds-client".into(),
        authorize: vec![("response_type", "code".into()), ("scope", "signature extended".into())],
        basic: Some("ds-client:ds-secret".into()),
        ..Default::default()
    };
    let (server, address) = start_server(expect, 3600).await;
    let oauth = json!({
        "identityProvider": "DocuSign",
        "clientId": "<<Please add your clientID here>>",
        "scopes": ["all"],
        "redirectMode": "GlobalPerConnector",
        "customParameters": {"LoginUri": {"value": format!("http://account-d.docusign.test:{}", address.port())}}
    });
    let (mut definition, properties) = package(address, oauth, json!({}));
    definition.as_object_mut().unwrap().remove("securityDefinitions");
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("docusign", definition, properties)
        .connection("docusign", "main", &[])
        .oauth(oauth_with_client(
            key_dir.path(),
            "docusign",
            "client_id = \"ds-client\"\nclient_secret = \"ds-secret\"",
        ))
        .resolve_to_loopback(&["account-d.docusign.test"])
        .start()
        .await;
    server.state().redirect_uris.push(gateway.url("/redirect/docusign"));
    let done = sign_in(&gateway, "docusign").await;
    assert_eq!(done.status, 200, "{} / server: {:?}", done.text(), server.state().refusal);
    let call = gateway.get("/apim/docusign/main/items").await;
    assert_eq!(call.status, 200, "{}", call.text());
    assert_eq!(server.state().hosts[1], format!("account-d.docusign.test:{}", address.port()));
}

/// 3E Events' shape: the `oauth2generic` provider and its `token:`
/// parameters stand in a parameter set beside an API-key set. A connection
/// of the OAuth set signs in with that set's templates and values; one of
/// the key set never signs in.
#[tokio::test]
async fn an_oauth2generic_provider_in_a_parameter_set_signs_in_with_that_sets_values() {
    let scopes = "ZohoMail.messages.ALL,ZohoMail.accounts.READ".to_string();
    let expect = Expect {
        client_id: "zoho-client".into(),
        authorize: vec![("access_type", "offline".into()), ("acr_values", "tenantName:acme".into())],
        token: vec![("client_secret", "zoho-secret".into()), ("scope", scopes)],
        refresh: vec![("acr_values", "tenantName:acme".into())],
        basic: None,
    };
    let (server, address) = start_server(expect, 3600).await;
    let (definition, mut properties) = zoho(address);
    let oauth_parameters = properties["properties"]["connectionParameters"].take();
    properties["properties"]["connectionParameterSets"] = json!({
        "uiDefinition": {"displayName": "Authentication type", "description": "How to sign in"},
        "values": [
            {"name": "key", "uiDefinition": {"displayName": "API key"},
             "parameters": {"api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}}},
            {"name": "oauth", "uiDefinition": {"displayName": "Zoho account"}, "parameters": oauth_parameters}
        ]
    });
    properties["properties"].as_object_mut().unwrap().remove("connectionParameters");
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("zohomail", definition, properties)
        .connection("zohomail", "main", &[("token:customHost", ".com.test"), ("token:orgName", "acme")])
        .connection_parameter_set("main", "oauth")
        .connection("zohomail", "keyed", &[("api_key", "k-1")])
        .connection_parameter_set("keyed", "key")
        .oauth(oauth_with_client(
            key_dir.path(),
            "zohomail",
            "client_id = \"zoho-client\"\nclient_secret = \"zoho-secret\"",
        ))
        .resolve_to_loopback(&["accounts.zoho.com.test"])
        .start()
        .await;
    server.state().redirect_uris.push(gateway.url("/redirect/zohomail"));

    let done = sign_in(&gateway, "zohomail").await;
    assert_eq!(done.status, 200, "{} / server: {:?}", done.text(), server.state().refusal);
    let host = format!("accounts.zoho.com.test:{}", address.port());
    assert_eq!(server.state().hosts, [host.clone(), host], "the browser and the code exchange went to the set's host");
    let call = gateway.get("/apim/zohomail/main/items").await;
    assert_eq!((call.status, call.json()["token"].as_str()), (200, Some("access-1")), "{}", call.text());
    let refused = gateway.get("/connections/zohomail/keyed/signin").await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (409, "no-signin"), "{}", refused.text());
}
