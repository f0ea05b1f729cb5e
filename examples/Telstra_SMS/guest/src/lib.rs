//! Telstra SMS's custom code, for every operation: the Messaging API wants
//! an OAuth bearer token, the connection holds a client id and secret as
//! basic credentials. The code decodes them from the `Authorization` header
//! (the package's `sluice.toml` lets it see that header), posts a
//! client-credentials form to the token endpoint on the same host, and sends
//! the original request with `Authorization: Bearer <token>`.
//!
//! Unlike the original, it logs status codes only: the decoded credentials
//! and the token never reach a log line or an error message.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use sluice_guest::{Context, Error, Handler, Request, Response, send};

/// The token endpoint's path on the API's host.
const TOKEN_PATH: &str = "/v2/oauth/token";
/// The scopes the connector asks for.
const SCOPES: &str = "free-trial-numbers:read free-trial-numbers:write messages:read messages:write \
                      virtual-numbers:read virtual-numbers:write reports:read reports:write";

/// The token endpoint's answer, as far as the code needs it.
#[derive(Deserialize)]
struct Token {
    access_token: String,
}

struct TelstraSms;

impl Handler for TelstraSms {
    fn handle(ctx: &Context, mut request: Request) -> Result<Response, Error> {
        let (client_id, client_secret) = basic_credentials(&request)?;
        let url = request.parsed_url()?;
        let token_url = format!("{}{TOKEN_PATH}", url.origin().ascii_serialization());
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &client_id)
            .append_pair("client_secret", &client_secret)
            .append_pair("scope", SCOPES)
            .finish();
        let token_request = Request::post(token_url)
            .with_header("Content-Type", "application/x-www-form-urlencoded")
            .with_header("Accept", "application/json")
            .with_body(form);
        let token_response = send(token_request)?;
        sluice_guest::info!("token endpoint answered {}", token_response.status());
        if !token_response.is_success() {
            return Ok(token_response);
        }
        let token: Token = token_response.json()?;
        request.headers_mut().set("Authorization", format!("Bearer {}", token.access_token));
        let response = send(request)?;
        sluice_guest::info!("{} answered {}", ctx.operation_id(), response.status());
        Ok(response)
    }
}

/// The client id and secret from `Authorization: Basic <base64 id:secret>`.
/// Error messages say what is wrong, never what the header holds.
fn basic_credentials(request: &Request) -> Result<(String, String), Error> {
    let header = request
        .header("Authorization")
        .ok_or_else(|| Error::bad_request("the connection's client id and secret are missing"))?;
    let encoded = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim())
        .ok_or_else(|| Error::bad_request("the connection's credentials are not basic credentials"))?;
    let decoded = BASE64
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Error::bad_request("the connection's basic credentials are not valid base64 text"))?;
    let (id, secret) =
        decoded.split_once(':').ok_or_else(|| Error::bad_request("the connection's basic credentials have no `:`"))?;
    Ok((id.to_string(), secret.to_string()))
}

sluice_guest::export!(TelstraSms);
