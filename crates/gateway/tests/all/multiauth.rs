//! Connectors with several ways to connect (`connectionParameterSets`): a
//! connection chooses a set, in the settings file or through the management
//! API; its calls carry that set's credentials, only a set that signs in
//! signs in (with its own provider), a wrong choice is a 400 naming the
//! sets, and the redirect audit has a row per set on the global URI.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::api::api;
use crate::oauth::{binding_cookie, browser_get, get_absolute, oauth_config, start_auth};
use crate::support::*;

/// A definition on `backend` that takes an API key in a header and an
/// OAuth 2.0 token from the provider at `provider`.
pub(crate) fn definition(backend: SocketAddr, provider: SocketAddr) -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "Multi", "version": "1.0"},
        "host": backend.to_string(),
        "basePath": "/v1",
        "schemes": ["http"],
        "securityDefinitions": {
            "api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "oauth2_auth": {"type": "oauth2", "flow": "accessCode",
                "authorizationUrl": format!("http://{provider}/authorize"), "tokenUrl": format!("http://{provider}/token"),
                "scopes": {"read": "read"}}
        },
        "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "ok"}}}}}
    })
}

/// An API-key set, an OAuth set with a `token:`-prefixed parameter that a
/// policy reads (as the certified packages with sets write them), and an
/// OAuth set still on the global redirect URI.
pub(crate) fn properties() -> Value {
    let oauth = |mode: &str| {
        json!({"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2", "clientId": "client-1",
            "scopes": ["read"], "redirectMode": mode}})
    };
    json!({"properties": {
        "connectionParameterSets": {
            "uiDefinition": {"displayName": "Authentication type", "description": "How to connect"},
            "values": [
                {"name": "key", "uiDefinition": {"displayName": "API key"}, "parameters": {
                    "api_key": {"type": "securestring", "uiDefinition": {"displayName": "Key",
                        "constraints": {"required": "true"}}}}},
                {"name": "oauth", "uiDefinition": {"displayName": "Sign in"}, "parameters": {
                    "token": oauth("GlobalPerConnector"),
                    "token:customHost": {"type": "string", "uiDefinition": {"constraints": {"required": "true"}}}}},
                {"name": "legacy", "uiDefinition": {"displayName": "Sign in (old app)"}, "parameters": {
                    "token": oauth("Global")}}
            ]
        },
        "policyTemplateInstances": [{"templateId": "setheader", "title": "Custom host", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-Custom-Host",
            "x-ms-apimTemplateParameter.value": "@connectionParameters('token:customHost', 'none')",
            "x-ms-apimTemplateParameter.existsAction": "override",
            "x-ms-apimTemplate-policySection": "Request"}}],
        "publisher": "Multi Co", "stackOwner": "Multi Co"
    }})
}

struct Setup {
    gateway: TestGateway,
    auth: crate::oauth::Auth,
    backend: Recorder,
    /// The gateway's OAuth database lives here: a test must keep it bound
    /// (`..` would drop it at once, deleting the folder under the running
    /// gateway, whose next new database connection then fails).
    key_dir: tempfile::TempDir,
}

/// A gateway with the connector `multi`, its settings-file connection
/// `viakey` (set `key`) and `viaoauth` (set `oauth`).
async fn setup() -> Setup {
    let (auth, provider) = start_auth(3600).await;
    let backend = Recorder::default();
    let backend_at = start_backend(backend.app()).await;
    let key_dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("multi", definition(backend_at, provider), properties())
        .connection("multi", "viakey", &[("api_key", "k-settings")])
        .connection_parameter_set("viakey", "key")
        .connection("multi", "viaoauth", &[("token:customHost", "h.example")])
        .connection_parameter_set("viaoauth", "oauth")
        .oauth(oauth_config(key_dir.path(), None))
        .start()
        .await;
    auth.register(gateway.url("/redirect/multi"));
    Setup { gateway, auth, backend, key_dir }
}

/// Signs `connection` in the way a browser would; returns the final answer.
async fn sign_in(gateway: &TestGateway, connection: &str) -> Answer {
    let started = gateway.get(&format!("/connections/multi/{connection}/signin")).await;
    if started.status != 302 {
        return started;
    }
    let authorize = started.headers["location"].to_str().unwrap().to_string();
    let provider = get_absolute(gateway, &authorize).await;
    assert_eq!(provider.status, 302, "{}", provider.text());
    let back = provider.headers["location"].to_str().unwrap().to_string();
    gateway.anonymous(browser_get(&back, Some(&binding_cookie(&started)))).await
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn each_connection_carries_the_credentials_of_the_set_it_chose() {
    let Setup { gateway, auth, backend, key_dir: _key_dir } = setup().await;

    // The API-key set: its key, no token, and no sign-in ever.
    let call = gateway.get("/apim/multi/viakey/items").await;
    assert_eq!(call.status, 200, "{}", call.text());
    let seen = backend.last();
    assert_eq!(header(&seen, "x-api-key"), Some("k-settings"));
    assert_eq!(header(&seen, "authorization"), None);
    assert_eq!(header(&seen, "x-custom-host"), Some("none"), "the other set's parameter has no value here");
    let refused = gateway.get("/connections/multi/viakey/signin").await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (409, "no-signin"), "{}", refused.text());
    assert!(refused.json()["detail"].as_str().unwrap().contains("parameter set `key`"));

    // The OAuth set: it must sign in, through the set's provider, on the
    // connector's redirect URI; then its calls carry the token and the
    // set's `token:customHost`, and no key.
    let before = gateway.get("/apim/multi/viaoauth/items").await;
    assert_eq!((before.status, before.problem_type().as_str()), (401, "signin-required"), "{}", before.text());
    let signed_in = sign_in(&gateway, "viaoauth").await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    assert_eq!(auth.issued(), 1);
    let call = gateway.get("/apim/multi/viaoauth/items").await;
    assert_eq!(call.status, 200, "{}", call.text());
    let seen = backend.last();
    assert!(header(&seen, "authorization").is_some_and(|v| v.starts_with("Bearer access-1-")), "{seen:?}");
    assert_eq!(header(&seen, "x-custom-host"), Some("h.example"));
    assert_eq!(header(&seen, "x-api-key"), None);

    // The key connection still never signed in.
    assert_eq!(gateway.get("/apim/multi/viakey/items").await.status, 200);
    assert_eq!(auth.issued(), 1);
    let listed = api(&gateway, &gateway.admin_key, "GET", "/api/v1/connections", None).await.json();
    let sets: Vec<(&str, &str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["parameter_set"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(sets, [("viakey", "key", "ready"), ("viaoauth", "oauth", "ready")]);
    let viaoauth = listed.as_array().unwrap().iter().find(|c| c["id"] == "viaoauth").unwrap();
    assert_eq!(viaoauth["parameters"], json!({"token:customHost": "h.example"}));
}

#[tokio::test]
async fn the_management_api_makes_a_connection_of_a_set_and_refuses_a_wrong_choice_naming_the_sets() {
    let Setup { gateway, auth, backend, key_dir: _key_dir } = setup().await;
    let create = |body: Value| api(&gateway, &gateway.admin_key, "POST", "/api/v1/connections", Some(body));

    let made = create(json!({"connector": "multi", "id": "made", "parameter_set": "key",
        "parameters": {"api_key": "k-api"}}))
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.json()["parameter_set"], "key");
    assert_eq!(made.json()["status"], "ready");
    assert_eq!(gateway.get("/apim/multi/made/items").await.status, 200);
    assert_eq!(header(&backend.last(), "x-api-key"), Some("k-api"));
    let shown = api(&gateway, &gateway.admin_key, "GET", "/api/v1/connections/multi/made", None).await.json();
    assert_eq!((shown["parameter_set"].as_str(), shown["parameters"].clone()), (Some("key"), json!({})));

    // A connection of the OAuth set made through the API signs in too.
    let oauth = create(json!({"connector": "multi", "id": "made-oauth", "parameter_set": "oauth",
        "parameters": {"token:customHost": "api.example"}}))
    .await;
    assert_eq!(oauth.status, 201, "{}", oauth.text());
    assert_eq!(oauth.json()["status"], "signin-required");
    assert_eq!(sign_in(&gateway, "made-oauth").await.status, 200);
    assert_eq!(gateway.get("/apim/multi/made-oauth/items").await.status, 200);
    assert_eq!(header(&backend.last(), "x-custom-host"), Some("api.example"));
    assert_eq!(auth.issued(), 1);

    for (body, needle) in [
        (
            json!({"connector": "multi", "id": "c1", "parameters": {"api_key": "k-secret-1"}}),
            "offers several ways to connect; choose a parameter set: key, oauth, legacy",
        ),
        (
            json!({"connector": "multi", "id": "c2", "parameter_set": "basic", "parameters": {"api_key": "k-secret-1"}}),
            "has no parameter set `basic` (it has: key, oauth, legacy)",
        ),
        (
            json!({"connector": "multi", "id": "c3", "parameter_set": "oauth",
                "parameters": {"token:customHost": "h", "api_key": "k-secret-1"}}),
            "parameter `api_key` belongs to parameter set `key`, not to the chosen set `oauth`",
        ),
    ] {
        let refused = create(body).await;
        assert_eq!((refused.status, refused.problem_type().as_str()), (400, "bad-parameter-set"), "{}", refused.text());
        let detail = refused.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(needle), "{detail}");
        assert!(!refused.text().contains("k-secret-1"), "a value is never echoed");
    }
    // Values that do not fit the chosen set are what they were: 422.
    let missing = create(json!({"connector": "multi", "id": "c4", "parameter_set": "key"})).await;
    assert_eq!((missing.status, missing.problem_type().as_str()), (422, "bad-connection"), "{}", missing.text());
    let listed = api(&gateway, &gateway.admin_key, "GET", "/api/v1/connections", None).await;
    assert_eq!(listed.json().as_array().unwrap().len(), 4, "none of the refused was made: {}", listed.text());

    // The OpenAPI document describes the choice where a connection is made and shown.
    let document = api(&gateway, &gateway.admin_key, "GET", "/api/v1/openapi.json", None).await.json();
    let schemas = &document["components"]["schemas"];
    for schema in ["NewConnection", "ConnectionInfo"] {
        assert!(schemas[schema]["properties"]["parameter_set"].is_object(), "{schema}: {}", schemas[schema]);
    }
    assert!(schemas["ParameterSetInfo"]["properties"]["parameters"].is_object(), "{schemas}");
}

#[tokio::test]
async fn a_settings_file_connection_without_a_set_is_refused_naming_the_sets() {
    let (_auth, provider) = start_auth(3600).await;
    let backend_at = start_backend(Recorder::default().app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("multi", definition(backend_at, provider), properties())
        .connection("multi", "none", &[("api_key", "k")])
        .connection("multi", "unknown", &[("api_key", "k")])
        .connection_parameter_set("unknown", "Key")
        .start()
        .await;
    for (id, needle) in
        [("none", "choose a parameter set: key, oauth, legacy"), ("unknown", "has no parameter set `Key`")]
    {
        let shown = api(&gateway, &gateway.admin_key, "GET", &format!("/api/v1/connections/multi/{id}"), None).await;
        assert_eq!(shown.json()["status"], "error", "{}", shown.text());
        assert!(shown.json()["reason"].as_str().unwrap().contains(needle), "{}", shown.text());
        let call = gateway.get(&format!("/apim/multi/{id}/items")).await;
        assert_ne!(call.status, 200, "{}", call.text());
    }
}

#[tokio::test]
async fn the_redirect_audit_and_the_connector_show_each_set() {
    let Setup { gateway, key_dir: _key_dir, .. } = setup().await;
    let audit = gateway.get("/admin/redirect-audit").await.json();
    let rows = audit["connectors"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "only the set on the global redirect URI: {audit}");
    assert_eq!(rows[0]["connector"], "multi");
    assert_eq!(rows[0]["parameter_set"], "legacy");
    assert_eq!(rows[0]["redirect_mode"], "Global");
    assert_eq!(rows[0]["redirect_uri"], gateway.url("/redirect"));
    let html = gateway.get("/admin/redirect-audit.html").await.text();
    assert!(html.contains("<td>legacy</td>"), "{html}");

    let detail = gateway.get("/api/v1/connectors/multi").await.json();
    assert_eq!(detail["parameter_sets_label"], "Authentication type");
    let sets = detail["parameter_sets"].as_array().unwrap();
    let names: Vec<&str> = sets.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["key", "oauth", "legacy"]);
    assert_eq!(sets[0]["display_name"], "API key");
    assert_eq!(sets[0]["oauth"], Value::Null);
    assert_eq!(sets[1]["parameters"][1]["name"], "token:customHost");
    assert_eq!(sets[1]["oauth"]["redirect_mode"], "per-connector");
    assert_eq!(sets[1]["oauth"]["redirect_uri"], gateway.url("/redirect/multi"));
    assert_eq!(sets[2]["oauth"]["redirect_mode"], "global");
}

/// `[oauth.clients."multi/oauth"]` gives the set its own client, before the
/// connector's `[oauth.clients.multi]` and the package's `clientId`.
#[tokio::test]
async fn a_set_has_its_own_oauth_client_in_the_settings_file() {
    let (auth, provider) = start_auth(3600).await;
    let backend = Recorder::default();
    let backend_at = start_backend(backend.app()).await;
    let key_dir = tempfile::tempdir().unwrap();
    let mut properties = properties();
    properties["properties"]["connectionParameterSets"]["values"][1]["parameters"]["token"]["oAuthSettings"]["clientId"] =
        json!("not-registered");
    let client =
        |id: &str| sluice_gateway::config::OAuthClientConfig { client_id: Some(id.into()), ..Default::default() };
    let mut oauth = oauth_config(key_dir.path(), None);
    oauth.clients.insert("multi".into(), client("nobody"));
    oauth.clients.insert("multi/oauth".into(), client("client-1"));
    let gateway = TestGatewayBuilder::new()
        .package("multi", definition(backend_at, provider), properties)
        .connection("multi", "viaoauth", &[("token:customHost", "h.example")])
        .connection_parameter_set("viaoauth", "oauth")
        .oauth(oauth)
        .start()
        .await;
    auth.register(gateway.url("/redirect/multi"));
    let signed_in = sign_in(&gateway, "viaoauth").await;
    assert_eq!(signed_in.status, 200, "the provider knows only client-1: {}", signed_in.text());
    assert_eq!(gateway.get("/apim/multi/viaoauth/items").await.status, 200);
}
