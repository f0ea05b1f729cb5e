//! Azure Communication Services: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

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

async fn acs(language: &str, connection_string: &str, address: SocketAddr) -> TestGateway {
    let name = "Azure_Communication_Services_Identity";
    TestGatewayBuilder::new()
        .package_from(&example(name), Some(address))
        .file(name, "script.wasm", code_in(language, name, "azure-communication-services-identity-guest"))
        .connection(name, "c1", &[("api_key", connection_string)])
        .start()
        .await
}

in_every_language!(
    acs_requests_are_signed_with_the_connection_strings_key_and_sent_to_its_endpoint,
    acs_invalid_connection_string_is_answered_400_without_a_call,
    acs_service_errors_pass_through,
);

async fn acs_requests_are_signed_with_the_connection_strings_key_and_sent_to_its_endpoint(language: &str) {
    let (address, log) = acs_backend().await;
    let gateway = acs(language, &format!("endpoint=http://{address}/;accesskey={ACS_KEY}"), address).await;
    let answer = gateway
        .send(
            "POST",
            "/apim/Azure_Communication_Services_Identity/c1/identities",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(
        (answer.status, answer.json()["identity"]["id"].clone()),
        (201, json!("8:acs:abc")),
        "{}",
        answer.text()
    );
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

async fn acs_invalid_connection_string_is_answered_400_without_a_call(language: &str) {
    let (address, log) = acs_backend().await;
    for (connection_string, reason) in [
        (format!("endpoint=http://{address}/"), "accesskey"),
        (format!("accesskey={ACS_KEY}"), "endpoint"),
        (format!("endpoint=http://{address}/;accesskey=***not base64***"), "base64"),
        (format!("endpoint=not a url;accesskey={ACS_KEY}"), "endpoint"),
    ] {
        let gateway = acs(language, &connection_string, address).await;
        let answer = gateway.send("POST", "/apim/Azure_Communication_Services_Identity/c1/identities", &[], "{}").await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (400, "code-client-error"), "{connection_string}");
        let detail = answer.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(reason) && !detail.contains(ACS_KEY), "{detail}");
    }
    assert!(log.all().is_empty(), "nothing reached the service");
}

async fn acs_service_errors_pass_through(language: &str) {
    let (address, log) = acs_backend().await;
    let gateway = acs(language, &format!("Endpoint=http://{address}/;AccessKey={ACS_KEY}"), address).await;
    let answer =
        gateway.send("DELETE", "/apim/Azure_Communication_Services_Identity/c1/identities/8:acs:zzz", &[], "").await;
    assert_eq!(answer.status, 404, "{}", answer.text());
    assert_eq!(answer.json()["error"]["code"], "IdentityNotFound", "signed correctly, refused on its merits");
    assert_eq!(log.all().len(), 1);
}
