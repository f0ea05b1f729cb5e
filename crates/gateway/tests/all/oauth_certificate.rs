//! `aadcertificate` connectors (Entra ID where the app signs in with a
//! certificate) against an authorization server on loopback that, like
//! Entra ID, knows the app by its registered certificate: it verifies each
//! token request's client assertion with that certificate's public key
//! (PS256), checks its header (`x5t`, `x5t#S256`) and claims (`aud` its own
//! token URL, `iss` and `sub` the client id, `exp` ahead, a `jti` never seen
//! before), refuses a request that also carries a client secret, and then
//! checks PKCE as any provider does. The app's RSA keys and self-signed
//! certificates are made by the test; none is kept in the repository.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::pkcs1::{EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::pkcs8::{DecodePublicKey as _, EncodePrivateKey as _, LineEnding};
use serde_json::{Value, json};
use sha2::Digest as _;
use sluice_gateway::config::{OAuthClientConfig, OAuthConfig};

use crate::oauth::{oauth_config, sign_in};
use crate::support::*;

/// The client id the app is registered under.
const CLIENT: &str = "app-1";

/// An app credential: an RSA key and its self-signed certificate.
struct AppCredential {
    certificate_pem: String,
    certificate_der: Vec<u8>,
    /// The key as PKCS#8 (`BEGIN PRIVATE KEY`).
    pkcs8_pem: String,
    /// The same key as PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pkcs1_pem: String,
}

impl AppCredential {
    fn new() -> Self {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("an RSA key");
        let pkcs8 = key.to_pkcs8_der().expect("PKCS#8");
        let signing = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .expect("rcgen reads the key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("certificate parameters");
        params.distinguished_name.push(rcgen::DnType::CommonName, "sluice test app");
        let certificate = params.self_signed(&signing).expect("a self-signed certificate");
        let certificate_der = certificate.der().to_vec();
        Self {
            certificate_pem: pem("CERTIFICATE", &certificate_der),
            certificate_der,
            pkcs8_pem: key.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM").to_string(),
            pkcs1_pem: key.to_pkcs1_pem(LineEnding::LF).expect("PKCS#1 PEM").to_string(),
        }
    }

    /// A stretch of the key's text that no honest output contains.
    fn key_fragment(&self) -> String {
        self.pkcs8_pem.lines().nth(5).expect("a long key").to_string()
    }
}

/// Two app credentials, made once for the whole test binary (an RSA key
/// takes a while): the registered one, and another.
static APP: LazyLock<AppCredential> = LazyLock::new(AppCredential::new);
static OTHER: LazyLock<AppCredential> = LazyLock::new(AppCredential::new);

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[derive(Default)]
struct EntraState {
    /// The DER of the certificate registered for [`CLIENT`].
    registered: Vec<u8>,
    redirect_uris: Vec<String>,
    codes: HashMap<String, (String, String)>,
    live_tokens: HashSet<String>,
    refresh_tokens: HashSet<String>,
    counter: u64,
    /// Token requests whose client assertion was accepted, by grant type.
    accepted: Vec<String>,
    /// Why token requests were refused.
    refused: Vec<String>,
    /// The assertions received, whole.
    assertions: Vec<String>,
    jtis: HashSet<String>,
    /// The tenant, endpoint version and `resource` of each authorization.
    authorizations: Vec<(String, &'static str, Option<String>)>,
}

#[derive(Clone)]
struct Entra {
    state: Arc<Mutex<EntraState>>,
    address: Arc<Mutex<Option<SocketAddr>>>,
}

impl Entra {
    fn state(&self) -> std::sync::MutexGuard<'_, EntraState> {
        self.state.lock().unwrap()
    }

    /// Registers `credential`'s certificate for the app (replacing any).
    fn register_certificate(&self, credential: &AppCredential) {
        self.state().registered = credential.certificate_der.clone();
    }

    fn issue(&self) -> Value {
        let mut state = self.state();
        state.counter += 1;
        let access = format!("access-{}", state.counter);
        let refresh = format!("refresh-{}", state.counter);
        state.live_tokens.insert(access.clone());
        state.refresh_tokens.insert(refresh.clone());
        json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600, "refresh_token": refresh})
    }

    /// Checks the client authentication of a token request at `token_url`
    /// as Entra ID does for a certificate credential.
    fn authenticate(&self, token_url: &str, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<(), String> {
        if form.contains_key("client_secret") || headers.contains_key("authorization") {
            return Err("a client secret was sent with a certificate credential".into());
        }
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err("no jwt-bearer client_assertion_type".into());
        }
        let assertion = form.get("client_assertion").ok_or("no client_assertion")?;
        self.state().assertions.push(assertion.clone());
        if form.get("client_id").is_some_and(|id| id != CLIENT) {
            return Err("client_id is not the assertion's client".into());
        }
        let registered = self.state().registered.clone();
        let header = jsonwebtoken::decode_header(assertion).map_err(|e| format!("unreadable header: {e}"))?;
        if header.alg != jsonwebtoken::Algorithm::PS256 || header.typ.as_deref() != Some("JWT") {
            return Err(format!("alg {:?}, typ {:?}: PS256 and JWT expected", header.alg, header.typ));
        }
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &registered);
        if header.x5t.as_deref() != Some(URL_SAFE_NO_PAD.encode(sha1).as_str()) {
            return Err("x5t names no registered certificate".into());
        }
        if header.x5t_s256.as_deref() != Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&registered)).as_str()) {
            return Err("x5t#S256 names no registered certificate".into());
        }
        // The registered certificate's public key, read from the certificate.
        let certificate = rustls_pki_types::CertificateDer::from(registered.as_slice());
        let parsed = webpki::EndEntityCert::try_from(&certificate).map_err(|e| format!("registered: {e}"))?;
        let public = rsa::RsaPublicKey::from_public_key_der(parsed.subject_public_key_info().as_ref())
            .map_err(|e| format!("registered key: {e}"))?;
        let public = public.to_pkcs1_der().map_err(|e| format!("registered key: {e}"))?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
        validation.set_audience(&[token_url]);
        validation.set_issuer(&[CLIENT]);
        validation.sub = Some(CLIENT.into());
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        let claims = jsonwebtoken::decode::<Value>(
            assertion,
            &jsonwebtoken::DecodingKey::from_rsa_der(public.as_bytes()),
            &validation,
        )
        .map_err(|e| format!("assertion refused: {e}"))?
        .claims;
        let number = |name: &str| claims[name].as_u64().ok_or(format!("no `{name}`"));
        if number("exp")? > number("iat")? + 600 {
            return Err("the assertion lives longer than ten minutes".into());
        }
        let jti = claims["jti"].as_str().filter(|j| !j.is_empty()).ok_or("no `jti`")?;
        if !self.state().jtis.insert(jti.to_string()) {
            return Err("the assertion was used before".into());
        }
        Ok(())
    }
}

async fn start_entra(registered: &AppCredential) -> (Entra, SocketAddr) {
    let entra = Entra { state: Default::default(), address: Default::default() };
    entra.register_certificate(registered);
    let app = Router::new()
        .route("/{tenant}/oauth2/authorize", get(authorize))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
        .route("/{tenant}/oauth2/token", post(token))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1/items", get(resource))
        .with_state(entra.clone());
    let address = start_backend(app).await;
    *entra.address.lock().unwrap() = Some(address);
    (entra, address)
}

async fn authorize(
    State(entra): State<Entra>,
    Path(tenant): Path<String>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let version = if uri.path().contains("/v2.0/") { "v2.0" } else { "v1" };
    entra.state().authorizations.push((tenant, version, q.get("resource").cloned()));
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    if q.get("client_id").map(String::as_str) != Some(CLIENT) {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    if !entra.state().redirect_uris.contains(&redirect_uri) {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not registered").into_response();
    }
    let Some(challenge) =
        q.get("code_challenge").filter(|_| q.get("code_challenge_method").is_some_and(|m| m == "S256"))
    else {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    };
    let code = format!("code-{}", entra.state().codes.len() + 1);
    entra.state().codes.insert(code.clone(), (challenge.clone(), redirect_uri.clone()));
    let state = q.get("state").cloned().unwrap_or_default();
    (StatusCode::FOUND, [(axum::http::header::LOCATION, format!("{redirect_uri}?code={code}&state={state}"))])
        .into_response()
}

async fn token(
    State(entra): State<Entra>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let address = entra.address.lock().unwrap().expect("the server's address");
    let token_url = format!("http://{address}{}", uri.path());
    if let Err(reason) = entra.authenticate(&token_url, &headers, &form) {
        entra.state().refused.push(reason.clone());
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client", "error_description": reason})))
            .into_response();
    }
    let invalid = || (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response();
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    match grant.as_str() {
        "authorization_code" => {
            let Some((challenge, redirect_uri)) = form.get("code").and_then(|c| entra.state().codes.remove(c)) else {
                return invalid();
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes())) != challenge
                || form.get("redirect_uri") != Some(&redirect_uri)
            {
                return invalid();
            }
        }
        "refresh_token" => {
            if !form.get("refresh_token").is_some_and(|t| entra.state().refresh_tokens.contains(t)) {
                return invalid();
            }
        }
        _ => return invalid(),
    }
    entra.state().accepted.push(grant);
    axum::Json(entra.issue()).into_response()
}

async fn resource(State(entra): State<Entra>, headers: HeaderMap) -> Response {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(token) if entra.state().live_tokens.contains(token) => axum::Json(json!({"ok": true})).into_response(),
        _ => (StatusCode::UNAUTHORIZED, "bad token").into_response(),
    }
}

/// A definition as certified `aadcertificate` packages write it: the
/// security definition's URLs are placeholders, the host is the backend.
fn definition(server: SocketAddr) -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "Twins", "description": "test", "version": "1.0"},
        "host": server.to_string(),
        "basePath": "/v1",
        "schemes": ["http"],
        "securityDefinitions": {"oauth2_auth": {"type": "oauth2", "flow": "accessCode",
            "authorizationUrl": "https://login.windows.net/common/oauth2/authorize",
            "tokenUrl": "https://login.windows.net/common/oauth2/authorize",
            "scopes": {}}},
        "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "ok"}}}}}
    })
}

/// `apiProperties.json` of an `aadcertificate` connector with these
/// `customParameters`; its client id is a placeholder the settings replace.
fn properties(custom: Value) -> Value {
    json!({"properties": {
        "connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
            "identityProvider": "aadcertificate", "clientId": "<<Enter client id>>", "scopes": [],
            "redirectMode": "GlobalPerConnector", "customParameters": custom,
            "properties": {"IsFirstParty": "True"}}}},
        "publisher": "Plant Co", "stackOwner": "Plant Co"
    }})
}

/// Entra ID's v1 endpoints, as the certified SMS Events package names them:
/// `loginUriAAD`, a null `tenantId` (so `common`), a `resourceUri`.
fn v1_custom(server: SocketAddr) -> Value {
    json!({"loginUriAAD": {"value": format!("http://{server}")}, "tenantId": {"value": null},
           "resourceUri": {"value": "https://twins.example"}})
}

/// `[oauth]` with the client settings `client` (JSON, as the settings file
/// would give them) for the connector `plant`.
fn oauth_with(dir: &std::path::Path, client: Value) -> OAuthConfig {
    let client: OAuthClientConfig = serde_json::from_value(client).expect("client settings");
    OAuthConfig { clients: [("plant".to_string(), client)].into_iter().collect(), ..oauth_config(dir, None) }
}

async fn gateway_with(
    server: SocketAddr,
    custom: Value,
    oauth: OAuthConfig,
) -> Result<TestGateway, sluice_gateway::StartError> {
    TestGatewayBuilder::new()
        .package("plant", definition(server), properties(custom))
        .connection("plant", "main", &[])
        .oauth(oauth)
        .try_start()
        .await
}

#[tokio::test]
async fn an_aadcertificate_connector_signs_in_and_refreshes_with_a_client_assertion() {
    let app = &*APP;
    let (entra_v1, server_v1) = start_entra(app).await;
    let (entra_v2, server_v2) = start_entra(app).await;
    let v2_custom = json!({"loginUri": {"value": format!("http://{server_v2}")}, "tenantId": {"value": "contoso"},
                           "enableOnbehalfOfLogin": {"value": "false"}});
    // The v1 endpoints with a PKCS#8 key, the v2.0 endpoints with the same key as PKCS#1.
    let cases = [
        (entra_v1, server_v1, v1_custom(server_v1), &app.pkcs8_pem, ("common", "v1", Some("https://twins.example"))),
        (entra_v2, server_v2, v2_custom, &app.pkcs1_pem, ("contoso", "v2.0", None)),
    ];
    for (entra, server, custom, key, (tenant, version, resource)) in cases {
        let key_dir = tempfile::tempdir().unwrap();
        // A secret set as well is not sent: the server refuses one.
        let client = json!({"client_id": CLIENT, "client_secret": "a-secret-never-sent",
                            "certificate": app.certificate_pem, "private_key": key});
        let gateway = gateway_with(server, custom, oauth_with(key_dir.path(), client)).await.expect("gateway starts");
        entra.state().redirect_uris.push(gateway.url("/redirect/plant"));

        let done = sign_in(&gateway).await;
        assert_eq!(done.status, 200, "{version}: {} (refused: {:?})", done.text(), entra.state().refused);
        assert_eq!(
            entra.state().authorizations,
            [(tenant.to_string(), version, resource.map(str::to_string))],
            "{version}"
        );
        assert_eq!(gateway.get("/apim/plant/main/items").await.status, 200, "{version}: the token works");

        // The backend no longer takes the token: one refresh, with a fresh assertion.
        entra.state().live_tokens.clear();
        let answer = gateway.get("/apim/plant/main/items").await;
        assert_eq!(answer.status, 200, "{version}: {} (refused: {:?})", answer.text(), entra.state().refused);
        let state = entra.state();
        assert_eq!(state.accepted, ["authorization_code", "refresh_token"], "{version}");
        assert!(state.refused.is_empty(), "{version}: {:?}", state.refused);
        assert_eq!(state.jtis.len(), 2, "{version}: each request its own assertion");
        // Neither the key nor an assertion reached the logs.
        assert!(log_lines(&app.key_fragment()).is_empty());
        for assertion in &state.assertions {
            let signature = assertion.rsplit('.').next().unwrap();
            assert!(log_lines(signature).is_empty(), "{version}: an assertion was logged");
        }
    }
}

/// The app's certificate in the settings is not the one registered with
/// Entra ID (or was replaced there): Entra ID refuses the assertion, and
/// the sign-in, or the call whose refresh it refused, says so cleanly.
#[tokio::test]
async fn a_certificate_the_provider_does_not_know_is_refused_and_the_error_is_clean() {
    let (entra, server) = start_entra(&APP).await;
    let key_dir = tempfile::tempdir().unwrap();
    let client = json!({"client_id": CLIENT, "certificate": OTHER.certificate_pem, "private_key": OTHER.pkcs8_pem});
    let gateway = gateway_with(server, v1_custom(server), oauth_with(key_dir.path(), client)).await.unwrap();
    entra.state().redirect_uris.push(gateway.url("/redirect/plant"));
    let refused = sign_in(&gateway).await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (400, "signin-failed"), "{}", refused.text());
    let detail = refused.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("the provider refused the code: invalid_client"), "{detail}");
    assert!(!detail.contains(&OTHER.key_fragment()) && !detail.contains("eyJ"), "{detail}");
    assert_eq!(entra.state().refused, ["x5t names no registered certificate"]);
    assert_eq!(gateway.get("/apim/plant/main/items").await.status, 401, "not signed in");

    // Signed in with the registered certificate; then Entra ID's app
    // registration changes to another certificate.
    let (entra, server) = start_entra(&APP).await;
    let key_dir = tempfile::tempdir().unwrap();
    let client = json!({"client_id": CLIENT, "certificate": APP.certificate_pem, "private_key": APP.pkcs8_pem});
    let gateway = gateway_with(server, v1_custom(server), oauth_with(key_dir.path(), client)).await.unwrap();
    entra.state().redirect_uris.push(gateway.url("/redirect/plant"));
    assert_eq!(sign_in(&gateway).await.status, 200, "{:?}", entra.state().refused);
    entra.register_certificate(&OTHER);
    entra.state().live_tokens.clear();
    let answer = gateway.get("/apim/plant/main/items").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (502, "backend-failed"), "{}", answer.text());
    assert!(answer.text().contains("invalid_client"), "{}", answer.text());
    assert!(!answer.text().contains(&APP.key_fragment()) && !answer.text().contains("eyJ"), "{}", answer.text());
    assert_eq!(entra.state().refused, ["x5t names no registered certificate"]);
    assert!(log_lines(&APP.key_fragment()).is_empty());
}

#[tokio::test]
async fn an_aadcertificate_connector_without_a_certificate_answers_503_naming_the_settings() {
    let (entra, server) = start_entra(&APP).await;
    let key_dir = tempfile::tempdir().unwrap();
    // A secret alone does not do: the connector's app signs in with a certificate.
    let client = json!({"client_id": CLIENT, "client_secret": "a-secret"});
    let gateway = gateway_with(server, v1_custom(server), oauth_with(key_dir.path(), client)).await.unwrap();
    entra.state().redirect_uris.push(gateway.url("/redirect/plant"));
    for answer in [
        gateway.get("/connections/plant/main/signin").await,
        gateway.send("POST", "/api/v1/connections/plant/main/signin", &[], "").await,
    ] {
        assert_eq!((answer.status, answer.problem_type().as_str()), (503, "oauth-unavailable"), "{}", answer.text());
        let detail = answer.json()["detail"].as_str().unwrap().to_string();
        assert!(
            detail.contains("connector `plant` has no client certificate")
                && detail.contains("`certificate` and `private_key`")
                && detail.contains("[oauth.clients]"),
            "{detail}"
        );
        assert!(!detail.contains("a-secret"), "{detail}");
    }
    assert!(entra.state().authorizations.is_empty() && entra.state().assertions.is_empty());
}

#[tokio::test]
async fn a_client_certificate_that_does_not_load_fails_start_up_with_its_reason() {
    let (_entra, server) = start_entra(&APP).await;
    let ec_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a P-256 key");
    let ec_key = pem("PRIVATE KEY", &ec_key.serialize_der());
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n";
    // ring signs with RSA keys of 2048 bits and more.
    let small_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).expect("a small RSA key");
    let small_key = small_key.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM").to_string();
    let cert = APP.certificate_pem.as_str();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"certificate": cert, "private_key": OTHER.pkcs8_pem}), "`private_key` is not the key of `certificate`"),
        (json!({"certificate": cert, "private_key": "not a key"}), "`private_key` holds no PEM private key"),
        (json!({"certificate": cert, "private_key": encrypted}), "`private_key` is encrypted"),
        (json!({"certificate": cert, "private_key": ec_key}), "`private_key` is not an RSA key"),
        (json!({"certificate": cert, "private_key": small_key}), "`private_key` is not a usable RSA key (TooSmall)"),
        (
            json!({"certificate": "not a certificate", "private_key": APP.pkcs8_pem}),
            "`certificate` holds no PEM certificate",
        ),
        (
            json!({"certificate": pem("CERTIFICATE", b"not DER"), "private_key": APP.pkcs8_pem}),
            "`certificate` is not a usable X.509 certificate",
        ),
        (json!({"certificate": cert}), "`certificate` is set without `private_key`"),
        (json!({"private_key": APP.pkcs8_pem}), "`private_key` is set without `certificate`"),
        (
            json!({"certificate": cert, "private_key": {"env": "SLUICE_TEST_NO_SUCH_PRIVATE_KEY"}}),
            "`private_key` reads environment variable `SLUICE_TEST_NO_SUCH_PRIVATE_KEY`, which is not set",
        ),
    ];
    for (client, reason) in cases {
        let key_dir = tempfile::tempdir().unwrap();
        let error = gateway_with(server, v1_custom(server), oauth_with(key_dir.path(), client))
            .await
            .err()
            .unwrap_or_else(|| panic!("{reason}: the gateway does not start"));
        assert!(matches!(error, sluice_gateway::StartError::OAuth(_)), "{error:?}");
        let text = format!("{error:#}");
        assert!(text.starts_with("[oauth]: the client certificate of connector `plant`: "), "{text}");
        assert!(text.contains(reason), "{reason}: {text}");
        for key in [&APP, &OTHER] {
            assert!(!text.contains(&key.key_fragment()) && !format!("{error:?}").contains(&key.key_fragment()));
        }
    }
}

#[test]
fn a_client_certificate_shows_its_thumbprint_and_never_its_key() {
    let key = sluice_package::Secret::new(APP.pkcs1_pem.clone());
    let certificate = sluice_gateway::oauth::ClientCertificate::from_pem(&APP.certificate_pem, &key).unwrap();
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &APP.certificate_der);
    assert_eq!(certificate.thumbprint(), hex::encode_upper(sha1));
    let shown = format!("{certificate:?}");
    assert!(shown.contains(certificate.thumbprint()) && !shown.contains(&APP.key_fragment()), "{shown}");
}
