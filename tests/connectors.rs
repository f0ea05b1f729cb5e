//! The ten example connectors (`examples/<name>/`) end to end: each package
//! and its built code served by a real gateway, its host pointed at a
//! loopback backend that behaves like the real API for the operations used
//! and checks what it receives (signatures, SOAP envelopes, name lists,
//! tokens). Each connector has its success path, at least one error path,
//! and its operations that run no code.
//!
//! A few behaviours the gateway cannot reach (an operation id the definition
//! does not route, a host the test cannot own, the code's log lines) are
//! checked by calling the runtime directly with an in-process backend, in
//! the `direct` section at the bottom.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request as AxumRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use support::*;

/// An example package folder.
fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

/// A gateway serving one example with its built code (when it has some),
/// pointed at `backend`, with connection `c1`.
async fn serve(name: &str, guest_crate: Option<&str>, backend: Option<SocketAddr>, values: &[(&str, &str)]) -> TestGateway {
    let mut builder = TestGatewayBuilder::new().package_from(&example(name), backend);
    if let Some(krate) = guest_crate {
        builder = builder.file(name, "script.wasm", guest(krate));
    }
    builder.connection(name, "c1", values).start().await
}

/// What a backend saw, in order.
#[derive(Debug, Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    /// Reads a request whole and records it.
    async fn record(&self, request: AxumRequest) -> Seen {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        let seen = Seen {
            method: parts.method.to_string(),
            path_and_query: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
            headers: parts.headers,
            body,
        };
        self.0.lock().unwrap().push(seen.clone());
        seen
    }

    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.all().into_iter().map(|s| format!("{} {}", s.method, s.path_and_query)).collect()
    }
}

/// A backend answering every request with `answer(seen)`, recording it first.
async fn backend(answer: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> (SocketAddr, Log) {
    let log = Log::default();
    let answer = Arc::new(answer);
    let recorder = log.clone();
    let app = Router::new().fallback(move |request: AxumRequest| {
        let (log, answer) = (recorder.clone(), Arc::clone(&answer));
        async move {
            let seen = log.record(request).await;
            answer(&seen)
        }
    });
    (start_backend(app).await, log)
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn json_answer(status: u16, value: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response()
}

fn query_pairs(seen: &Seen) -> Vec<(String, String)> {
    let query = seen.path_and_query.split_once('?').map(|(_, q)| q).unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

// ---------------------------------------------------------------- Annature

async fn annature() -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        if header(seen, "x-annature-id") != "ann-id" || header(seen, "x-annature-key") != "ann-key" {
            return json_answer(401, json!({"error": "missing or wrong Annature credentials"}));
        }
        match (seen.method.as_str(), seen.path_and_query.as_str()) {
            ("POST", "/v1/endpoints") => {
                let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
                if body["url"].as_str().is_none() {
                    return json_answer(400, json!({"error": "url is required"}));
                }
                json_answer(201, json!({"id": "ep_42", "url": body["url"], "events": body["events"]}))
            }
            ("GET", "/v1/envelopes/env7") => json_answer(200, json!({"id": "env7", "status": "sent"})),
            ("DELETE", "/v1/envelopes/env7") => StatusCode::NO_CONTENT.into_response(),
            _ => json_answer(404, json!({"error": "no such route"})),
        }
    })
    .await;
    let gateway =
        serve("Annature", Some("annature-guest"), Some(address), &[("api_client_id", "ann-id"), ("api_key", "ann-key")]).await;
    (gateway, log)
}

#[tokio::test]
async fn annature_webhook_subscription_answers_the_new_endpoints_location() {
    let (gateway, log) = annature().await;
    let body = r#"{"url":"https://flow.example/cb","events":["envelope_completed"]}"#;
    let answer = gateway.send("POST", "/apim/Annature/c1/endpoints", &[("content-type", "application/json")], body).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let expected = format!("http://{}/apim/Annature/c1/endpoints/ep_42", gateway.address);
    assert_eq!(answer.headers["location"], expected.as_str());
    assert_eq!(answer.json()["id"], "ep_42");
    assert_eq!(log.paths(), ["POST /v1/endpoints"]);
}

#[tokio::test]
async fn annature_other_operations_are_forwarded_unchanged() {
    let (gateway, log) = annature().await;
    let answer = gateway.get("/apim/Annature/c1/envelopes/env7").await;
    assert_eq!((answer.status, answer.json()), (200, json!({"id": "env7", "status": "sent"})));
    assert!(!answer.headers.contains_key("location"));
    // DeleteEnvelope is a HEAD the routerequesttoendpoint policy turns into a DELETE.
    let answer = gateway.send("HEAD", "/apim/Annature/c1/envelopes/env7", &[], "").await;
    assert_eq!(answer.status, 204);
    assert_eq!(log.paths(), ["GET /v1/envelopes/env7", "DELETE /v1/envelopes/env7"]);
}

#[tokio::test]
async fn annature_failed_subscription_passes_through_without_location() {
    let (gateway, _log) = annature().await;
    let answer = gateway.send("POST", "/apim/Annature/c1/endpoints", &[("content-type", "application/json")], "{}").await;
    assert_eq!((answer.status, answer.json()), (400, json!({"error": "url is required"})));
    assert!(!answer.headers.contains_key("location"));
}

// ------------------------------------------- Azure Communication Services

/// The resource's access key, base64 as the portal shows it.
const ACS_KEY: &str = "c2x1aWNlLXRlc3Qta2V5LWZvci1obWFjLXNpZ25pbmc=";

/// Verifies a request the way the service does: body hash, then the HMAC
/// over method, path and query, date, host and hash. `Err` says what is wrong.
fn acs_verify(seen: &Seen) -> Result<(), String> {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    if seen.headers.contains_key("connection-string") {
        return Err("the connection string reached the service".into());
    }
    let hash = BASE64.encode(Sha256::digest(&seen.body));
    if header(seen, "x-ms-content-sha256") != hash {
        return Err(format!("content hash {} is not {hash}", header(seen, "x-ms-content-sha256")));
    }
    let date = header(seen, "date");
    if !date.ends_with(" GMT") {
        return Err(format!("date `{date}` is not in RFC 1123 form"));
    }
    let to_sign = format!("{}\n{}\n{date};{};{hash}", seen.method, seen.path_and_query, header(seen, "host"));
    let mut mac = Hmac::<Sha256>::new_from_slice(&BASE64.decode(ACS_KEY).unwrap()).unwrap();
    mac.update(to_sign.as_bytes());
    let expected = format!(
        "HMAC-SHA256 SignedHeaders=date;host;x-ms-content-sha256&Signature={}",
        BASE64.encode(mac.finalize().into_bytes())
    );
    if header(seen, "authorization") != expected {
        return Err(format!("authorization `{}` is not `{expected}`", header(seen, "authorization")));
    }
    Ok(())
}

async fn acs_backend() -> (SocketAddr, Log) {
    backend(|seen| {
        if let Err(reason) = acs_verify(seen) {
            return json_answer(401, json!({"error": {"code": "Denied", "message": reason}}));
        }
        let raw_path = seen.path_and_query.split('?').next().unwrap_or_default();
        let path = percent_encoding::percent_decode_str(raw_path).decode_utf8_lossy();
        match (seen.method.as_str(), path.as_ref()) {
            ("POST", "/identities") => json_answer(201, json!({"identity": {"id": "8:acs:abc"}})),
            ("POST", "/identities/8:acs:abc/:issueAccessToken") => {
                json_answer(200, json!({"token": "acs-token", "expiresOn": "2030-01-01T00:00:00Z"}))
            }
            ("DELETE", "/identities/8:acs:abc") => StatusCode::NO_CONTENT.into_response(),
            _ => json_answer(404, json!({"error": {"code": "IdentityNotFound", "message": "no such identity"}})),
        }
    })
    .await
}

async fn acs(connection_string: &str, address: SocketAddr) -> TestGateway {
    serve(
        "Azure_Communication_Services_Identity",
        Some("azure-communication-services-identity-guest"),
        Some(address),
        &[("api_key", connection_string)],
    )
    .await
}

#[tokio::test]
async fn acs_requests_are_signed_with_the_connection_strings_key_and_sent_to_its_endpoint() {
    let (address, log) = acs_backend().await;
    let gateway = acs(&format!("endpoint=http://{address}/;accesskey={ACS_KEY}"), address).await;
    let answer = gateway
        .send("POST", "/apim/Azure_Communication_Services_Identity/c1/identities", &[("content-type", "application/json")], "{}")
        .await;
    assert_eq!((answer.status, answer.json()["identity"]["id"].clone()), (201, json!("8:acs:abc")), "{}", answer.text());
    let body = r#"{"scopes":["chat","voip"]}"#;
    let answer = gateway
        .send(
            "POST",
            "/apim/Azure_Communication_Services_Identity/c1/identities/8:acs:abc/:issueAccessToken",
            &[("content-type", "application/json")],
            body,
        )
        .await;
    assert_eq!((answer.status, answer.json()["token"].clone()), (200, json!("acs-token")), "{}", answer.text());
    let seen = log.all();
    assert!(seen[1].path_and_query.ends_with("issueAccessToken?api-version=2021-03-07"), "{}", seen[1].path_and_query);
    assert_eq!(seen[1].body, body);
}

#[tokio::test]
async fn acs_invalid_connection_string_is_answered_400_without_a_call() {
    let (address, log) = acs_backend().await;
    for (connection_string, reason) in [
        (format!("endpoint=http://{address}/"), "accesskey"),
        (format!("accesskey={ACS_KEY}"), "endpoint"),
        (format!("endpoint=http://{address}/;accesskey=***not base64***"), "base64"),
        (format!("endpoint=not a url;accesskey={ACS_KEY}"), "endpoint"),
    ] {
        let gateway = acs(&connection_string, address).await;
        let answer = gateway.send("POST", "/apim/Azure_Communication_Services_Identity/c1/identities", &[], "{}").await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (400, "code-client-error"), "{connection_string}");
        let detail = answer.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(reason) && !detail.contains(ACS_KEY), "{detail}");
    }
    assert!(log.all().is_empty(), "nothing reached the service");
}

#[tokio::test]
async fn acs_service_errors_pass_through() {
    let (address, log) = acs_backend().await;
    let gateway = acs(&format!("Endpoint=http://{address}/;AccessKey={ACS_KEY}"), address).await;
    let answer = gateway.send("DELETE", "/apim/Azure_Communication_Services_Identity/c1/identities/8:acs:zzz", &[], "").await;
    assert_eq!(answer.status, 404, "{}", answer.text());
    assert_eq!(answer.json()["error"]["code"], "IdentityNotFound", "signed correctly, refused on its merits");
    assert_eq!(log.all().len(), 1);
}

// ---------------------------------------------------------------- Calendly

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
    for path in ["/apim/Calendly/c1/webhook_subscriptions", "/apim/Calendly/c1/webhook_subscriptions/routing_form_submission"] {
        let answer = gateway.send("POST", path, &[("content-type", "application/json")], body).await;
        assert_eq!(answer.status, 201, "{path}: {}", answer.text());
        let resource = &answer.json()["resource"];
        assert_eq!((resource["organization"].as_str(), resource["scope"].as_str()), (Some(CALENDLY_ORG), Some("organization")));
    }
    assert_eq!(log.paths(), ["GET /users/me", "POST /webhook_subscriptions", "GET /users/me", "POST /webhook_subscriptions"]);
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

// -------------------------------------------------------------- HtmlToText

#[tokio::test]
async fn html_to_text_converts_html_without_calling_a_backend() {
    let gateway = serve("HtmlToText", Some("html-to-text-guest"), None, &[]).await;
    let html = concat!(
        "<div>Hello&nbsp;<b>world</b>&nbsp;\n</div>",
        "<TABLE><tr><td>cell<table><tr><td>inner</td></tr></table>after inner</td></tr></TABLE>",
        "<p>Fish &amp; chips &lt;3 &eacute;t&#233;</p><ul><li>one</li><li>two<br/>lines</li></ul>",
        "<script type=\"text/javascript\">alert('x')</script><style>p { color: red }</style>",
        "<hr>Bye",
    );
    let answer = gateway
        .send("POST", "/apim/HtmlToText/c1/HtmlToText", &[("content-type", "application/json")], json!({"html": html}).to_string())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(answer.text(), "Hello\u{a0}world\n\n\nFish & chips <3 été\n\n\none\n\ntwo\nlines\n\n\nBye");
}

#[tokio::test]
async fn html_to_text_invalid_body_is_answered_400() {
    let gateway = serve("HtmlToText", Some("html-to-text-guest"), None, &[]).await;
    let answer = gateway.send("POST", "/apim/HtmlToText/c1/HtmlToText", &[("content-type", "application/json")], "<p>").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "code-client-error"));
}

// ------------------------------------------------ IBM Watson Text to Speech

const AUDIO: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\xff\xfe";

async fn ibm() -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        let expected = format!("Basic {}", BASE64.encode("apikey:ibm-key"));
        if header(seen, "authorization") != expected {
            return json_answer(401, json!({"code": 401, "error": "Unauthorized"}));
        }
        let path = seen.path_and_query.split('?').next().unwrap_or_default();
        match (seen.method.as_str(), path) {
            ("POST", "/v1/synthesize") => {
                let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
                if body["text"].as_str().unwrap_or_default().is_empty() {
                    return json_answer(400, json!({"code": 400, "error": "The text is empty"}));
                }
                ([("content-type", "audio/wav")], AUDIO).into_response()
            }
            ("GET", "/v1/voices") => json_answer(200, json!({"voices": [{"name": "en-US_AllisonV3Voice"}]})),
            _ => json_answer(404, json!({"code": 404, "error": "Not Found"})),
        }
    })
    .await;
    let gateway = serve(
        "IBM_Watson_Text_to_Speech",
        Some("ibm-watson-text-to-speech-guest"),
        Some(address),
        &[("url", &format!("http://{address}")), ("username", "apikey"), ("password", "ibm-key")],
    )
    .await;
    (gateway, log)
}

#[tokio::test]
async fn ibm_synthesize_answers_the_audio_as_base64_json() {
    let (gateway, log) = ibm().await;
    let answer = gateway
        .send(
            "POST",
            "/apim/IBM_Watson_Text_to_Speech/c1/v1/synthesize?voice=en-US_AllisonV3Voice",
            &[("content-type", "application/json"), ("accept", "audio/wav")],
            r#"{"text":"hello"}"#,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(answer.json(), json!({"base64": BASE64.encode(AUDIO)}));
    assert_eq!(log.paths(), ["POST /v1/synthesize?voice=en-US_AllisonV3Voice"]);
}

#[tokio::test]
async fn ibm_synthesize_error_passes_through_untouched() {
    let (gateway, _log) = ibm().await;
    let answer = gateway
        .send("POST", "/apim/IBM_Watson_Text_to_Speech/c1/v1/synthesize", &[("content-type", "application/json")], r#"{"text":""}"#)
        .await;
    assert_eq!((answer.status, answer.json()), (400, json!({"code": 400, "error": "The text is empty"})));
}

#[tokio::test]
async fn ibm_list_voices_runs_no_code() {
    let (gateway, _log) = ibm().await;
    let answer = gateway.get("/apim/IBM_Watson_Text_to_Speech/c1/v1/voices").await;
    assert_eq!((answer.status, answer.json()), (200, json!({"voices": [{"name": "en-US_AllisonV3Voice"}]})));
}

// --------------------------------------------------- Industrial App Store

/// A snapshot answer, spaced as the service spaces it: the inner object
/// must come back byte for byte.
const IAS_SNAPSHOT: &str = r#"{"Sensor1": {"TagName": "Sensor1", "Value": {"UtcSampleTime": "2024-01-01T00:00:00Z", "NumericValue": 21.5}}, "Sensor2": {"TagName": "Sensor2"}}"#;

async fn industrial_app_store() -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        if header(seen, "authorization") != "Bearer ias-token" {
            return json_answer(401, json!({"error": "invalid_token"}));
        }
        let path = seen.path_and_query.split('?').next().unwrap_or_default();
        match path {
            "/gestalt/datacore/api/data/v2/snapshot/dsn1/" | "/Gestalt/api/data/v2/snapshot/dsn1/" => {
                ([("content-type", "application/json")], IAS_SNAPSHOT).into_response()
            }
            "/gestalt/datacore/api/data/datasources/" => json_answer(200, json!([{"Name": {"QualifiedName": "dsn1"}}])),
            _ => json_answer(500, json!({"error": "data source unavailable"})),
        }
    })
    .await;
    (serve("Industrial_App_Store", Some("industrial-app-store-guest"), Some(address), &[("token", "ias-token")]).await, log)
}

#[tokio::test]
async fn ias_data_queries_answer_the_first_propertys_object() {
    let (gateway, log) = industrial_app_store().await;
    let answer = gateway.get("/apim/Industrial_App_Store/c1/gestalt/datacore/api/data/v2/snapshot/dsn1/?tag=Sensor1").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.text(),
        r#"{"TagName": "Sensor1", "Value": {"UtcSampleTime": "2024-01-01T00:00:00Z", "NumericValue": 21.5}}"#
    );
    assert!(log.paths()[0].starts_with("GET /gestalt/datacore/api/data/v2/snapshot/dsn1/?tag=Sensor1"), "{:?}", log.paths());
}

#[tokio::test]
async fn ias_other_operations_are_forwarded_unchanged() {
    let (gateway, _log) = industrial_app_store().await;
    let answer = gateway.get("/apim/Industrial_App_Store/c1/Gestalt/api/data/v2/snapshot/dsn1/?tag=Sensor1").await;
    assert_eq!(answer.text(), IAS_SNAPSHOT, "the v1 snapshot is not unwrapped");
    let answer = gateway.get("/apim/Industrial_App_Store/c1/gestalt/datacore/api/data/datasources/").await;
    assert_eq!(answer.json(), json!([{"Name": {"QualifiedName": "dsn1"}}]));
}

#[tokio::test]
async fn ias_error_answers_pass_through() {
    let (gateway, _log) = industrial_app_store().await;
    let answer = gateway
        .get("/apim/Industrial_App_Store/c1/gestalt/datacore/api/data/v2/plot/dsn1/?tag=S&start=*-1h&end=*&intervals=10")
        .await;
    assert_eq!((answer.status, answer.json()), (500, json!({"error": "data source unavailable"})));
}

// ----------------------------------------------------------- Nationalize.io

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
    let answer = gateway.send("GET", "/apim/Nationalize.io/c1/?name=%20ann%20,bob,,%20c%C3%A9cile", &[("accept", "application/json")], "").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let names: Vec<Value> = answer.json().as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(names, [json!("ann"), json!("bob"), json!("cécile")]);
    let seen = &log.all()[0];
    let expected: Vec<(String, String)> = [("name[]", "ann"), ("name[]", "bob"), ("name[]", "cécile"), ("apikey", "nat-key")]
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
    let answer = gateway.send("GET", &format!("/apim/Nationalize.io/c1/?name={}", names.join(",")), &[("accept", "application/json")], "").await;
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
    let answer = gateway.send("GET", "/apim/Nationalize.io/c1/?name=%20,%20", &[("accept", "application/json")], "").await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (400, "code-client-error"));
    assert!(log.all().is_empty());
}

// -------------------------------------------------------------- Telstra SMS

async fn telstra(secret: &str) -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        let path = seen.path_and_query.split('?').next().unwrap_or_default();
        match (seen.method.as_str(), path) {
            ("POST", "/v2/oauth/token") => {
                let form: Vec<(String, String)> = url::form_urlencoded::parse(&seen.body).into_owned().collect();
                let field = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_default();
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
                json_answer(201, json!({"messageId": "m-1", "to": body["to"], "apiVersion": header(seen, "telstra-api-version")}))
            }
            _ => json_answer(404, json!({"error": "not found"})),
        }
    })
    .await;
    (serve("Telstra_SMS", Some("telstra-sms-guest"), Some(address), &[("username", "tel-id"), ("password", secret)]).await, log)
}

#[tokio::test]
async fn telstra_fetches_a_token_then_sends_the_message_with_it() {
    let (gateway, log) = telstra("tel-secret").await;
    let answer = gateway
        .send("POST", "/apim/Telstra_SMS/c1/messages", &[("content-type", "application/json")], r#"{"to":"+61400000000","messageContent":"hi"}"#)
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.json(), json!({"messageId": "m-1", "to": "+61400000000", "apiVersion": "3.x"}));
    assert_eq!(log.paths(), ["POST /v2/oauth/token", "POST /messaging/v3/messages"]);
}

#[tokio::test]
async fn telstra_failed_token_call_is_returned_as_is() {
    let (gateway, log) = telstra("wrong-secret").await;
    let answer = gateway.send("POST", "/apim/Telstra_SMS/c1/messages", &[("content-type", "application/json")], r#"{"to":"+61400000000"}"#).await;
    assert_eq!((answer.status, answer.json()), (401, json!({"error": "invalid_client"})));
    assert_eq!(log.paths(), ["POST /v2/oauth/token"], "no message was sent");
}

// -------------------------------------------------------------------- Tulip

async fn tulip() -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        if header(seen, "authorization") != format!("Basic {}", BASE64.encode("bot-key:bot-secret")) {
            return json_answer(401, json!({"errorCode": "Unauthorized"}));
        }
        match seen.path_and_query.as_str() {
            "/api/v3/tables/T1" => json_answer(
                200,
                json!({"id": "T1", "label": "Orders", "columns": [
                    {"name": "id", "label": "ID", "dataType": {"type": "string"}},
                    {"name": "qty", "label": "Quantity", "dataType": {"type": "float"}},
                    {"name": "due", "label": "Due", "dataType": {"type": "timestamp"}},
                    {"name": "tint", "label": "Tint", "dataType": {"type": "color"}},
                    {"name": "took", "label": "Took", "dataType": {"type": "interval"}},
                    {"name": "done", "label": "Done", "dataType": {"type": "boolean"}}
                ]}),
            ),
            "/api/v3/tables" => json_answer(200, json!([{"id": "T1", "label": "Orders"}])),
            _ => json_answer(404, json!({"errorCode": "NotFound", "message": "no such table"})),
        }
    })
    .await;
    // The policy's scheme is https; the loopback backend speaks plain HTTP.
    let properties = std::fs::read_to_string(example("Tulip").join("apiProperties.json"))
        .unwrap()
        .replace("https://@connectionParameters('factoryUrl')", "http://@connectionParameters('factoryUrl')");
    let gateway = TestGatewayBuilder::new()
        .package_from(&example("Tulip"), Some(address))
        .file("Tulip", "apiProperties.json", properties)
        .file("Tulip", "script.wasm", guest("tulip-guest"))
        .connection("Tulip", "c1", &[("username", "bot-key"), ("password", "bot-secret"), ("factoryUrl", &address.to_string())])
        .start()
        .await;
    (gateway, log)
}

#[tokio::test]
async fn tulip_table_columns_become_a_record_schema() {
    let (gateway, log) = tulip().await;
    let answer = gateway.get("/apim/Tulip/c1/tables/T1").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let property = |kind: &str, label: &str| json!({"type": kind, "description": label, "x-ms-summary": label});
    assert_eq!(
        answer.json(),
        json!({"type": "array", "items": {"type": "object", "required": ["id"], "properties": {
            "id": property("string", "ID"), "qty": property("number", "Quantity"), "due": property("string", "Due"),
            "tint": property("object", "Tint"), "took": property("number", "Took"), "done": property("string", "Done")
        }}})
    );
    let text = answer.text();
    assert!(text.find("\"qty\"") < text.find("\"due\""), "properties keep the columns' order: {text}");
    assert_eq!(log.paths(), ["GET /api/v3/tables/T1"]);
}

#[tokio::test]
async fn tulip_unknown_table_error_passes_through() {
    let (gateway, _log) = tulip().await;
    let answer = gateway.get("/apim/Tulip/c1/tables/T9").await;
    assert_eq!((answer.status, answer.json()["errorCode"].clone()), (404, json!("NotFound")));
}

#[tokio::test]
async fn tulip_other_operations_run_no_code() {
    let (gateway, _log) = tulip().await;
    let answer = gateway.get("/apim/Tulip/c1/tables").await;
    assert_eq!(answer.json(), json!([{"id": "T1", "label": "Orders"}]));
}

#[tokio::test]
async fn tulip_as_published_refers_to_an_undeclared_parameter() {
    // Why the example's apiProperties.json differs from the published one.
    let gateway = TestGatewayBuilder::new()
        .package_from(&shared_connectors().join("Tulip"), None)
        .connection("Tulip", "c1", &[("username", "k"), ("password", "s"), ("factoryUrl", "acme.tulip.co")])
        .start()
        .await;
    let answer = gateway.get("/apim/Tulip/c1/tables").await;
    assert_eq!(answer.status, 404, "{}", answer.text());
    assert!(answer.text().contains("factoryURL"), "{}", answer.text());
}

// --------------------------------------------------------------------- VIES

fn vies_answer(seen: &Seen) -> Response {
    let body = String::from_utf8_lossy(&seen.body);
    let envelope_ok = header(seen, "content-type").starts_with("text/xml")
        && body.contains(r#"xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/""#)
        && body.contains(r#"xmlns:urn="urn:ec.europa.eu:taxud:vies:services:checkVat:types""#)
        && body.contains("<urn:checkVat><urn:countryCode>");
    let soap = |inner: &str| format!(r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Header/><env:Body>{inner}</env:Body></env:Envelope>"#);
    let fault = |status: StatusCode, reason: &str| {
        (status, [("content-type", "text/xml")], soap(&format!("<env:Fault><faultcode>env:Server</faultcode><faultstring>{reason}</faultstring></env:Fault>"))).into_response()
    };
    if seen.path_and_query != "/taxation_customs/vies/services/checkVatService" || !envelope_ok {
        return fault(StatusCode::INTERNAL_SERVER_ERROR, "MALFORMED_REQUEST");
    }
    if !body.contains("<urn:countryCode>BE</urn:countryCode><urn:vatNumber>0123456789</urn:vatNumber>") {
        return fault(StatusCode::INTERNAL_SERVER_ERROR, "INVALID_INPUT");
    }
    let result = concat!(
        r#"<ns2:checkVatResponse xmlns:ns2="urn:ec.europa.eu:taxud:vies:services:checkVat:types">"#,
        "<ns2:countryCode>BE</ns2:countryCode><ns2:vatNumber>0123456789</ns2:vatNumber>",
        "<ns2:requestDate>2024-10-23+02:00</ns2:requestDate><ns2:valid>true</ns2:valid>",
        "<ns2:name>ACME &amp; CO</ns2:name><ns2:address>\nRUE DE LA LOI 1\n1000 BRUXELLES\n</ns2:address>",
        "</ns2:checkVatResponse>"
    );
    ([("content-type", "text/xml; charset=UTF-8")], soap(result)).into_response()
}

async fn vies() -> (TestGateway, Log) {
    let (address, log) = backend(vies_answer).await;
    (serve("VIES", Some("vies-guest"), Some(address), &[]).await, log)
}

#[tokio::test]
async fn vies_checks_the_vat_number_through_a_soap_call() {
    let (gateway, log) = vies().await;
    let body = json!({"countryCode": " BE ", "vatNumber": " 0123.456-789 "}).to_string();
    let answer = gateway.send("POST", "/apim/VIES/c1/taxation_customs/vies/services/checkVatService", &[("content-type", "application/json")], body).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.text(),
        json!({"countryCode": "BE", "vatNumber": "0123456789", "name": "ACME & CO",
               "address": "RUE DE LA LOI 1\n1000 BRUXELLES", "requestDate": "2024-10-23+02:00", "valid": true})
        .to_string(),
        "flat, in the original's order"
    );
    assert_eq!(log.all().len(), 1);
}

#[tokio::test]
async fn vies_soap_fault_is_answered_400_with_its_message() {
    let (gateway, _log) = vies().await;
    let body = json!({"countryCode": "BE", "vatNumber": "999"}).to_string();
    let answer = gateway.send("POST", "/apim/VIES/c1/taxation_customs/vies/services/checkVatService", &[("content-type", "application/json")], body).await;
    assert_eq!((answer.status, answer.json()), (400, json!("the VIES service reported a fault: INVALID_INPUT")));
}

#[tokio::test]
async fn vies_missing_vat_number_is_answered_400_without_a_call() {
    let (gateway, log) = vies().await;
    let answer = gateway
        .send("POST", "/apim/VIES/c1/taxation_customs/vies/services/checkVatService", &[("content-type", "application/json")], r#"{"countryCode":"BE"}"#)
        .await;
    assert_eq!((answer.status, answer.json()), (400, json!("vatNumber is required")));
    assert!(log.all().is_empty());
}

// ------------------------------------------- direct calls into the runtime

mod direct {
    //! Calls into `sluice-runtime` with an in-process backend, for what the
    //! gateway cannot show: operation ids no route leads to, a real
    //! production host, and the code's own log lines.

    use super::*;
    use async_trait::async_trait;
    use sluice_runtime::{Backend, CallInfo, CallOutput, Invocation, Limits, Runtime, RuntimeConfig, SendError};

    /// How a canned backend answers a request.
    pub(super) type Answer = Box<dyn Fn(&http::Request<Bytes>) -> http::Response<Bytes> + Send + Sync>;

    /// Records each request and answers with `answer`.
    pub(super) struct Canned {
        pub seen: Mutex<Vec<http::Request<Bytes>>>,
        pub answer: Answer,
    }

    #[async_trait]
    impl Backend for Canned {
        async fn send(&self, _: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
            let response = (self.answer)(&request);
            self.seen.lock().unwrap().push(request);
            Ok(response)
        }
    }

    pub(super) async fn call(
        krate: &str,
        operation: &str,
        request: http::Request<Bytes>,
        answer: impl Fn(&http::Request<Bytes>) -> http::Response<Bytes> + Send + Sync + 'static,
    ) -> (CallOutput, Arc<Canned>) {
        let runtime = Runtime::new(RuntimeConfig { max_concurrent_calls: 2, ..RuntimeConfig::default() }).unwrap();
        let connector = runtime.load(krate, &guest(krate), Limits::default()).unwrap();
        let backend = Arc::new(Canned { seen: Mutex::new(Vec::new()), answer: Box::new(answer) });
        let invocation = Invocation {
            operation_id: operation.into(),
            correlation_id: "test".into(),
            original_url: "http://gateway.test/apim/x/c1/".into(),
            request,
        };
        let output = connector.call(invocation, Arc::clone(&backend) as Arc<dyn Backend>).await;
        (output, backend)
    }

    fn ok(body: &'static str) -> http::Response<Bytes> {
        http::Response::new(Bytes::from_static(body.as_bytes()))
    }

    #[tokio::test]
    async fn acs_unknown_operation_is_answered_400_naming_it() {
        let request = http::Request::post("https://api.contoso.com/identities").body(Bytes::new()).unwrap();
        let (output, backend) = call("azure-communication-services-identity-guest", "Bogus", request, |_| ok("{}")).await;
        let response = output.result.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(serde_json::from_slice::<Value>(response.body()).unwrap(), json!([{"error": "Unknown operation ID 'Bogus'"}]));
        assert!(backend.seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn html_to_text_unknown_operation_is_answered_400_naming_it() {
        let request = http::Request::post("https://api.contoso.com/Other").body(Bytes::from_static(b"{}")).unwrap();
        let (output, _) = call("html-to-text-guest", "Other", request, |_| ok("")).await;
        let response = output.result.unwrap();
        assert_eq!((response.status().as_u16(), response.body().as_ref()), (400, br#""Unknown operation ID 'Other'""#.as_slice()));
    }

    #[tokio::test]
    async fn nationalize_moves_the_definitions_host_to_api_nationalize_io() {
        let request = http::Request::get("https://api.genderize.io/?name=ann,bob&apikey=k1").body(Bytes::new()).unwrap();
        let (output, backend) = call("nationalize-io-guest", "CheckNamesNationality", request, |_| ok("[]")).await;
        assert_eq!(output.result.unwrap().status(), 200);
        let seen = backend.seen.lock().unwrap();
        assert_eq!(seen[0].uri().to_string(), "https://api.nationalize.io/?name%5B%5D=ann&name%5B%5D=bob&apikey=k1");
    }

    #[tokio::test]
    async fn telstra_logs_status_codes_never_the_credentials_or_token() {
        let basic = format!("Basic {}", BASE64.encode("tel-id:tel-secret"));
        let request = http::Request::post("https://products.api.telstra.com/messaging/v3/messages")
            .header("authorization", basic)
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let (output, backend) = call("telstra-sms-guest", "SendSMS", request, |request| {
            if request.uri().path() == "/v2/oauth/token" {
                ok(r#"{"access_token":"tel-token"}"#)
            } else {
                let mut response = ok(r#"{"messageId":"m-1"}"#);
                *response.status_mut() = http::StatusCode::CREATED;
                response
            }
        })
        .await;
        assert_eq!(output.result.unwrap().status(), 201);
        let seen = backend.seen.lock().unwrap();
        assert_eq!(seen[0].uri().to_string(), "https://products.api.telstra.com/v2/oauth/token");
        assert_eq!(seen[1].headers()["authorization"], "Bearer tel-token");
        let logs: Vec<&str> = output.report.logs.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(logs, ["token endpoint answered 200", "SendSMS answered 201"]);
        for secret in ["tel-id", "tel-secret", "tel-token"] {
            assert!(logs.iter().all(|line| !line.contains(secret)), "{secret} logged: {logs:?}");
        }
    }
}
