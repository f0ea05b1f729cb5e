//! DocuSign's identity provider (`DocuSign`): plain OAuth 2.0 underneath,
//! the authorization code grant at `{LoginUri}/oauth/auth` and
//! `{LoginUri}/oauth/token`, the client authenticating with HTTP Basic (as
//! DocuSign documents it). `LoginUri` comes from `customParameters`: the
//! demo's `https://account-d.docusign.com` or production's
//! `https://account.docusign.com` (the default).

use super::{OAuthError, Provider};

/// Where DocuSign signs in when the package names no `LoginUri`.
const DOCUSIGN_LOGIN: &str = "https://account.docusign.com";

/// The scopes the platform's `all` stands for: `all` is no DocuSign scope;
/// `signature` calls the eSignature API and `extended` keeps refresh tokens
/// alive past their first lifetime.
const ALL_SCOPES: [&str; 2] = ["signature", "extended"];

/// Sets `provider`'s endpoints from `LoginUri` (read with `custom`, in
/// either case of its first letter) and its scopes.
pub(super) fn endpoints(
    provider: &mut Provider,
    custom: &dyn Fn(&str) -> Option<String>,
    connector: &str,
) -> Result<(), OAuthError> {
    let login = custom("LoginUri")
        .or_else(|| custom("loginUri"))
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| DOCUSIGN_LOGIN.to_string());
    let login = login.trim().trim_end_matches('/').to_string();
    let parsed = url::Url::parse(&login)
        .map_err(|source| OAuthError::BadEndpoint { connector: connector.to_string(), source })?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(OAuthError::NotConfigured {
            connector: connector.to_string(),
            what: "usable DocuSign `LoginUri` (it carries a query or a fragment)",
        });
    }
    provider.authorization_url = format!("{login}/oauth/auth");
    provider.token_url = format!("{login}/oauth/token");
    if provider.scopes.iter().any(|s| s == "all") {
        provider.scopes.retain(|s| s != "all" && !ALL_SCOPES.contains(&s.as_str()));
        provider.scopes.extend(ALL_SCOPES.iter().map(|s| s.to_string()));
    }
    Ok(())
}
