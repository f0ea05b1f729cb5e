//! The maker's console at `/console/`: three static files compiled into
//! the gateway (`console/index.html`, `console.js`, `console.css`) and the
//! list of identity providers to sign in with (`/console/config.json`).
//!
//! The console is a client of the management API and nothing else: its
//! pages hold no data, so they are served to anyone (like a sign-in page),
//! and every fact it shows comes from `/api/v1` with the person's own
//! credential. The answers carry a strict Content-Security-Policy (scripts,
//! styles and requests only from the gateway itself, plus the token
//! endpoints of the issuers people sign in with; no inline script or
//! style; no framing), and the credential is a bearer header, never a
//! cookie, which a page of another site cannot make a browser send: that is
//! the console's protection against cross-site requests.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::access::oidc::ConsoleClient;
use crate::gateway::Gateway;

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// The console's routes; none needs a caller.
pub(crate) fn router() -> Router<Gateway> {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(index))
        .route("/console/console.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/console/console.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/console/config.json", get(config))
}

/// The page, under a policy that lets it reach the gateway and the token
/// endpoints of the console's issuers, and nothing else.
async fn index(State(gateway): State<Gateway>) -> Response {
    let clients = gateway.access().console_clients().await;
    let mut response = asset("text/html; charset=utf-8", INDEX);
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&clients)) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// `{"issuers": [...]}`: who the console offers to sign in with.
async fn config(State(gateway): State<Gateway>) -> Response {
    let clients = gateway.access().console_clients().await;
    let mut response = axum::Json(serde_json::json!({ "issuers": clients })).into_response();
    response.headers_mut().extend(hardening());
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response();
    response.headers_mut().extend(hardening());
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(BASE_POLICY));
    response
}

/// The policy of every console answer; the page's adds the issuers'
/// token endpoints to `connect-src`.
const BASE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn content_security_policy(clients: &[ConsoleClient]) -> String {
    let mut origins: Vec<String> =
        clients.iter().map(|c| c.token_endpoint.origin().ascii_serialization()).filter(|o| o != "null").collect();
    origins.sort();
    origins.dedup();
    if origins.is_empty() {
        return BASE_POLICY.to_string();
    }
    BASE_POLICY.replace("connect-src 'self'", &format!("connect-src 'self' {}", origins.join(" ")))
}

/// Headers every console answer carries: no sniffing, no framing, no
/// referrer (a provider's `code` must not leak), revalidated on each load.
fn hardening() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let pairs: [(HeaderName, &str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConsoleToken;

    fn client(token_endpoint: &str) -> ConsoleClient {
        ConsoleClient {
            name: "idp".into(),
            display_name: "IdP".into(),
            client_id: "console".into(),
            authorization_endpoint: url::Url::parse("https://login.example/authorize").unwrap(),
            token_endpoint: url::Url::parse(token_endpoint).unwrap(),
            scopes: vec!["openid".into()],
            token: ConsoleToken::IdToken,
        }
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_only_the_token_endpoints_origins() {
        let policy = content_security_policy(&[
            client("https://login.example:8443/t/token?x=1"),
            client("https://login.example:8443/other"),
        ]);
        assert!(policy.contains("connect-src 'self' https://login.example:8443;"), "{policy}");
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(content_security_policy(&[]), BASE_POLICY);
    }

    #[test]
    fn the_page_loads_no_inline_script_and_nothing_from_elsewhere() {
        assert!(!INDEX.contains("<script>"), "an inline script would need 'unsafe-inline'");
        assert!(!INDEX.contains(" style="), "an inline style would need 'unsafe-inline'");
        let elsewhere: Vec<&str> = INDEX.split(['"', '\'']).filter(|part| part.contains("://")).collect();
        assert!(elsewhere.is_empty(), "the page names other origins: {elsewhere:?}");
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML") && !SCRIPT.contains("eval("));
    }
}
