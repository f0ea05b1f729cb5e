//! `oauth2generic`: a connection signs in as its package's templates write
//! it (`sluice_package::oauth_templates` parses and fills them), filled with
//! that connection's values: the authorization URL the browser goes to, and
//! the form posts of the code exchange and of a refresh, whose answers are
//! read as standard OAuth 2.0 JSON.
//!
//! The flow around it is the gateway's own, as for every provider: a
//! `state` bound to the connection and the browser, PKCE S256 (added to
//! whatever the templates send: providers ignore parameters they do not
//! know, RFC 6749 §3.1, and those that know PKCE check it), the exact
//! redirect URI, sealed tokens, a refresh before expiry and after a 401.
//! Every request goes through the egress client under a policy for its
//! endpoint's origin alone.

use std::sync::Arc;

use indexmap::IndexMap;
use oauth2::{CsrfToken, PkceCodeChallenge};
use serde_json::Value;
use sluice_egress::AllowRule;
use sluice_package::oauth_templates::{self, Defect, Fill, FillError, GenericTemplates, Request, Template};
use sluice_package::{Connection, ConnectionParameter, Package, RedirectMode};

use super::token::{Issued, TokenFailure};
use super::{ClientSettings, OAuthError, Provider};
use crate::network::Network;

/// A connection's `oauth2generic` provider: the templates and what fills
/// them.
pub(super) struct Generic {
    connector: String,
    templates: GenericTemplates,
    parameters: IndexMap<String, ConnectionParameter>,
    connection: Connection,
    client_id: String,
    client_secret: Option<String>,
    scopes: String,
    allowed_endpoints: Vec<AllowRule>,
    /// Where refreshes go, for the record kept with the tokens.
    pub(super) refresh_url: String,
}

impl std::fmt::Debug for Generic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generic")
            .field("connector", &self.connector)
            .field("connection", &self.connection.id)
            .field("client_id", &self.client_id)
            .field("refresh_url", &self.refresh_url)
            .finish_non_exhaustive()
    }
}

/// The provider of `connection` of an `oauth2generic` `package`: every
/// template filled once now, so that a defect or a refused origin is told
/// before the browser leaves, not after the provider sent a code.
pub(super) fn provider(
    package: &Package,
    settings: &sluice_package::OAuthSettings,
    client: Option<&ClientSettings>,
    default_scopes: Vec<String>,
    connection: Option<&Connection>,
    mode: RedirectMode,
) -> Result<Provider, OAuthError> {
    let connector = package.id.clone();
    let unusable = |what: &'static str| OAuthError::NotConfigured { connector: connector.clone(), what };
    let fail = |source: FillError| OAuthError::Generic { connector: connector.clone(), source };
    let templates = GenericTemplates::parse(&settings.custom_parameters)
        .map_err(|missing| fail(FillError::Defect(Defect::Missing(missing))))?;
    let connection = connection.ok_or_else(|| unusable("connection whose values fill its OAuth templates"))?;
    // The parameters of the connection's set, whose templates these are.
    let parameters = package.parameters_of(connection);
    let client_id = match client.and_then(|c| c.client_id.clone()) {
        Some(id) => id,
        None => {
            let written =
                settings.client_id.as_deref().ok_or_else(|| unusable("OAuth client id (`oAuthSettings.clientId`)"))?;
            oauth_templates::fill_plain(&Template::parse("clientId", written), parameters, connection).map_err(|_| {
                unusable("OAuth client id: its `clientId` is a note for people; set `client_id` under [oauth.clients.<connector>]")
            })?
        }
    };
    let written_scopes = if settings.scopes.is_empty() { default_scopes } else { settings.scopes.clone() };
    let mut scopes = Vec::new();
    for scope in &written_scopes {
        let filled =
            oauth_templates::fill_plain(&Template::parse("scopes", scope), parameters, connection).map_err(fail)?;
        if !filled.trim().is_empty() {
            scopes.push(filled);
        }
    }
    let mut generic = Generic {
        connector: connector.clone(),
        parameters: parameters.clone(),
        connection: connection.clone(),
        client_id: client_id.clone(),
        client_secret: client.and_then(|c| c.client_secret.as_ref()).map(|s| s.expose().to_string()),
        scopes: scopes.join(&templates.scope_delimiter),
        allowed_endpoints: client.map(|c| c.allowed_endpoints.clone()).unwrap_or_default(),
        refresh_url: String::new(),
        templates,
    };
    // Every request made once with stand-in flow values: what cannot be
    // filled for this connection fails here.
    let probe = generic.fill("https://gateway.invalid/redirect", "state", "code", "token");
    let authorization_url = generic.templates.endpoint_url(Request::Authorization, &probe).map_err(fail)?;
    let token_url = generic.templates.endpoint_url(Request::Token, &probe).map_err(fail)?;
    let refresh_url = generic.templates.endpoint_url(Request::Refresh, &probe).map_err(fail)?;
    generic.templates.authorization_url(&probe, &[]).map_err(fail)?;
    generic.templates.token_request(&probe, &[]).map_err(fail)?;
    generic.templates.refresh_request(&probe).map_err(fail)?;
    generic.refresh_url = refresh_url.to_string();
    Ok(Provider {
        client_id,
        client_secret: generic.client_secret.clone(),
        authorization_url: authorization_url.to_string(),
        token_url: token_url.to_string(),
        scopes,
        mode,
        issuer: settings.custom_parameters.get("issuer").cloned(),
        authorize_params: Vec::new(),
        client_certificate: None,
        generic: Some(Arc::new(generic)),
    })
}

impl Generic {
    fn fill<'a>(&'a self, redirect_url: &'a str, state: &'a str, code: &'a str, refresh_token: &'a str) -> Fill<'a> {
        Fill {
            parameters: &self.parameters,
            connection: &self.connection,
            client_id: &self.client_id,
            client_secret: self.client_secret.as_deref(),
            redirect_url,
            scopes: &self.scopes,
            state,
            code,
            refresh_token,
            allowed_endpoints: &self.allowed_endpoints,
        }
    }

    /// The authorization URL for a fresh `state` and PKCE challenge, coming
    /// back on `redirect_uri`: the URL, the state and the PKCE verifier.
    pub(super) fn authorization(&self, redirect_uri: &str) -> Result<(String, String, String), OAuthError> {
        let state = CsrfToken::new_random().secret().clone();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let fill = self.fill(redirect_uri, &state, "", "");
        let pkce = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
        let url = self
            .templates
            .authorization_url(&fill, &pkce)
            .map_err(|source| OAuthError::Generic { connector: self.connector.clone(), source })?;
        Ok((url.to_string(), state, verifier.secret().clone()))
    }

    /// Exchanges `code` with the PKCE `verifier`; the token request repeats
    /// `redirect_uri`.
    pub(super) async fn exchange(
        &self,
        network: &Arc<Network>,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<Issued, TokenFailure> {
        let fill = self.fill(redirect_uri, "", code, "");
        let (url, body) = self
            .templates
            .token_request(&fill, &[("code_verifier", verifier)])
            .map_err(|e| TokenFailure::Failed(e.to_string()))?;
        post(network, &url, body).await
    }

    /// Refreshes with `refresh_token`; a template may repeat `redirect_uri`.
    pub(super) async fn refresh(
        &self,
        network: &Arc<Network>,
        refresh_token: &str,
        redirect_uri: &str,
    ) -> Result<Issued, TokenFailure> {
        let fill = self.fill(redirect_uri, "", "", refresh_token);
        let (url, body) = self.templates.refresh_request(&fill).map_err(|e| TokenFailure::Failed(e.to_string()))?;
        post(network, &url, body).await
    }
}

/// Posts a form to a token endpoint through the egress client, and reads
/// the answer.
async fn post(network: &Arc<Network>, url: &url::Url, body: String) -> Result<Issued, TokenFailure> {
    let request = http::Request::post(url.as_str())
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(http::header::ACCEPT, "application/json")
        .body(body.into_bytes())
        .map_err(|e| TokenFailure::Failed(format!("the token request cannot be made: {e}")))?;
    let response =
        super::http::send(network, url.as_str(), request).await.map_err(|e| TokenFailure::Failed(e.to_string()))?;
    answer(response.status(), response.body())
}

/// A token endpoint's answer: standard OAuth 2.0 JSON (RFC 6749 §5.1 and
/// §5.2). An `error` refuses whatever the status (some providers answer
/// 200 with one); anything else without a string `access_token` is
/// unusable.
fn answer(status: http::StatusCode, body: &[u8]) -> Result<Issued, TokenFailure> {
    #[derive(serde::Deserialize)]
    struct Answer {
        access_token: Option<Value>,
        refresh_token: Option<Value>,
        expires_in: Option<Value>,
        error: Option<Value>,
    }
    let unreadable = |what: &str| TokenFailure::Failed(format!("the token endpoint answered {status} {what}"));
    let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
        return Err(unreadable("without a JSON object"));
    };
    if let Some(error) = answer.error {
        // The code is shown and logged: only the shape of one is kept.
        let code = error
            .as_str()
            .filter(|c| {
                !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            })
            .unwrap_or("unreadable_error");
        return Err(TokenFailure::Refused(code.to_string()));
    }
    if !status.is_success() {
        return Err(unreadable("without an OAuth error"));
    }
    let access_token = match answer.access_token {
        Some(Value::String(token)) if !token.is_empty() => token,
        _ => return Err(unreadable("without an `access_token`")),
    };
    let refresh_token = match answer.refresh_token {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) if !token.is_empty() => Some(token),
        Some(_) => return Err(unreadable("with a `refresh_token` that is not a string")),
    };
    let expires_in = match answer.expires_in {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => s.trim().parse().ok(),
        Some(_) => return Err(unreadable("with an `expires_in` that is not a number of seconds")),
    };
    Ok(Issued { access_token, refresh_token, expires_in })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_standard_json() {
        let ok = http::StatusCode::OK;
        let issued = answer(ok, br#"{"access_token":"a","refresh_token":"r","expires_in":"3600"}"#).unwrap();
        assert_eq!(
            (issued.access_token.as_str(), issued.refresh_token.as_deref(), issued.expires_in),
            ("a", Some("r"), Some(3600))
        );
        let refused = answer(ok, br#"{"error":"invalid_code"}"#).unwrap_err();
        assert!(matches!(&refused, TokenFailure::Refused(code) if code == "invalid_code"));
        let grant = answer(http::StatusCode::BAD_REQUEST, br#"{"error":"invalid_grant","error_description":"x"}"#);
        assert!(grant.unwrap_err().is_invalid_grant());
        let hostile = answer(ok, br#"{"error":"<script>alert(1)</script>"}"#).unwrap_err();
        assert_eq!(hostile.to_string(), "unreadable_error");
        for (body, says) in [
            (&b"<html>"[..], "without a JSON object"),
            (br#"{"token":"a"}"#, "without an `access_token`"),
            (br#"{"access_token":7}"#, "without an `access_token`"),
            (br#"{"access_token":"a","expires_in":-5}"#, "not a number of seconds"),
            (br#"{"access_token":"a","refresh_token":{}}"#, "not a string"),
        ] {
            let failure = answer(ok, body).unwrap_err();
            assert!(matches!(&failure, TokenFailure::Failed(text) if text.contains(says)), "{failure}");
        }
        assert!(matches!(answer(http::StatusCode::BAD_GATEWAY, b"{}"), Err(TokenFailure::Failed(_))));
    }
}
