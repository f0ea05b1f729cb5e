//! Azure Communication Services Identity's custom code: signs every call
//! with HMAC-SHA256, as the service requires, using the resource's
//! connection string, and sends it to the resource's endpoint.
//!
//! The connection string arrives in the `Connection-String` header (the
//! connection's API key; the package's `sluice.toml` lets the code see it)
//! and is removed before sending. It is `;`-separated
//! `endpoint=<url>;accesskey=<base64 key>`, prefixes case-insensitive.
//! The signature covers `METHOD\n<path and query>\n<date>;<host>;<body hash>`.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sluice_guest::{Context, Error, Handler, Request, Response, send};
use url::Url;

/// The operations the code knows; any other id is answered 400.
const OPERATIONS: [&str; 4] = [
    "CreateCommunicationIdentity",
    "DeleteCommunicationIdentity",
    "IssueIdentityAccessToken",
    "RevokeIdentityAccessTokens",
];

/// The header the connection puts the connection string in.
const CONNECTION_STRING_HEADER: &str = "Connection-String";

struct Identity;

impl Handler for Identity {
    fn handle(ctx: &Context, mut request: Request) -> Result<Response, Error> {
        let operation = ctx.operation_id();
        if !OPERATIONS.contains(&operation) {
            let answer = sluice_guest::serde_json::json!([{ "error": format!("Unknown operation ID '{operation}'") }]);
            return Response::json_body(400, &answer);
        }
        let connection_string = request
            .header(CONNECTION_STRING_HEADER)
            .ok_or_else(|| Error::bad_request("the connection string is missing"))?
            .to_string();
        request.headers_mut().remove(CONNECTION_STRING_HEADER);
        let connection = ConnectionString::parse(&connection_string)?;

        let mut url = request.parsed_url()?;
        point_at(&mut url, &connection.endpoint)?;
        let host = authority(&url);
        let path_and_query = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let content_hash = BASE64.encode(Sha256::digest(request.body()));
        let date = httpdate::fmt_http_date(SystemTime::now());
        let string_to_sign =
            format!("{}\n{path_and_query}\n{date};{host};{content_hash}", request.method().to_ascii_uppercase());
        let mut mac = Hmac::<Sha256>::new_from_slice(&connection.key)
            .map_err(|e| Error::bad_request(format!("the connection string's access key is unusable: {e}")))?;
        mac.update(string_to_sign.as_bytes());
        let signature = BASE64.encode(mac.finalize().into_bytes());

        request.set_url(url);
        let headers = request.headers_mut();
        headers.set("Date", date);
        headers.set("x-ms-content-sha256", content_hash);
        headers.set(
            "Authorization",
            format!("HMAC-SHA256 SignedHeaders=date;host;x-ms-content-sha256&Signature={signature}"),
        );
        Ok(send(request)?)
    }
}

/// The parts of a connection string the code uses.
struct ConnectionString {
    endpoint: Url,
    key: Vec<u8>,
}

impl ConnectionString {
    /// Parses `endpoint=...;accesskey=...`; a missing, empty or malformed
    /// part is the client's mistake. Messages never quote the key.
    fn parse(text: &str) -> Result<Self, Error> {
        let mut endpoint = None;
        let mut key = None;
        for part in text.split(';').map(str::trim) {
            let Some((name, value)) = part.split_once('=') else { continue };
            if name.trim().eq_ignore_ascii_case("endpoint") {
                endpoint = Some(value.trim());
            } else if name.trim().eq_ignore_ascii_case("accesskey") {
                key = Some(value.trim());
            }
        }
        let endpoint = endpoint
            .filter(|e| !e.is_empty())
            .ok_or_else(|| Error::bad_request("the connection string has no `endpoint=`"))?;
        let key = key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Error::bad_request("the connection string has no `accesskey=`"))?;
        let endpoint = Url::parse(endpoint)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
            .ok_or_else(|| Error::bad_request("the connection string's endpoint is not an http(s) URL"))?;
        let key =
            BASE64.decode(key).map_err(|_| Error::bad_request("the connection string's access key is not base64"))?;
        Ok(Self { endpoint, key })
    }
}

/// Moves `url` to the endpoint's scheme, host and port; path and query stay.
fn point_at(url: &mut Url, endpoint: &Url) -> Result<(), Error> {
    let invalid = || Error::bad_request("the connection string's endpoint cannot address the request");
    url.set_scheme(endpoint.scheme()).map_err(|()| invalid())?;
    url.set_host(endpoint.host_str()).map_err(|_| invalid())?;
    url.set_port(endpoint.port()).map_err(|()| invalid())?;
    Ok(())
}

/// The host as signed: the name, and the port when the URL names one.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

sluice_guest::export!(Identity);
