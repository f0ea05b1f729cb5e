//! How a connector signs in: its provider's endpoints, client and scopes,
//! from its package and the settings file.

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl, TokenUrl};
use sluice_package::{Connection, Package, RedirectMode, SecurityScheme};

use super::{OAuth, OAuthError};
use sluice_package::oauth_templates::GENERIC_PROVIDER;

/// A connector's OAuth provider.
#[derive(Clone)]
pub struct Provider {
    /// The client id.
    pub client_id: String,
    pub(super) client_secret: Option<String>,
    /// The authorization endpoint.
    pub authorization_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The redirect mode.
    pub mode: RedirectMode,
    /// The issuer identifier the package names, if any.
    pub issuer: Option<String>,
    /// Parameters the authorization request carries besides the standard
    /// ones (Entra ID v1's `resource`).
    pub authorize_params: Vec<(String, String)>,
    /// The certificate token requests are signed with instead of a secret
    /// (`aadcertificate`).
    pub(super) client_certificate: Option<std::sync::Arc<super::ClientCertificate>>,
    /// An `oauth2generic` connection's templates: its requests are theirs.
    pub(super) generic: Option<std::sync::Arc<super::generic::Generic>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Everything but the client secret.
        f.debug_struct("Provider")
            .field("client_id", &self.client_id)
            .field("authorization_url", &self.authorization_url)
            .field("token_url", &self.token_url)
            .field("scopes", &self.scopes)
            .field("mode", &self.mode)
            .field("issuer", &self.issuer)
            .field("client_certificate", &self.client_certificate)
            .field("generic", &self.generic)
            .finish_non_exhaustive()
    }
}

/// Where Entra ID signs in when the package names no `loginUri`.
const ENTRA_LOGIN: &str = "https://login.microsoftonline.com";

/// The oauth2 client for the token endpoint.
pub(super) type TokenClient = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

impl OAuth {
    /// The provider a connection of `package` that chose parameter set `set`
    /// (`None` without sets) signs in with: endpoints from its `oauth2`
    /// security definition (else the `oAuthSettings.customParameters` of
    /// the set's, or `connectionParameters`', `oauthSetting` parameter), the
    /// client from the settings file (`[oauth.clients."{connector}/{set}"]`,
    /// else `[oauth.clients.{connector}]`; else `oAuthSettings.clientId`),
    /// scopes from `oAuthSettings` (else the security definition). An
    /// `oauth2generic` provider's come from its templates, filled with
    /// `connection`'s values.
    pub fn provider(
        &self,
        package: &Package,
        set: Option<&str>,
        connection: Option<&Connection>,
    ) -> Result<Provider, OAuthError> {
        let settings = package.oauth_settings(set);
        let scheme = package.definition.security_definitions.values().find_map(|s| match s {
            SecurityScheme::OAuth2 { authorization_url, token_url, scopes, .. } => {
                Some((authorization_url.clone(), token_url.clone(), scopes.clone()))
            }
            _ => None,
        });
        let custom = |name: &str| settings.and_then(|s| s.custom_parameters.get(name).cloned());
        // A connector id is a folder name, never holding `/`.
        let client = set
            .and_then(|set| self.settings.clients.get(&format!("{}/{set}", package.id)))
            .or_else(|| self.settings.clients.get(&package.id));
        let unusable = |what: &'static str| OAuthError::NotConfigured { connector: package.id.clone(), what };
        if let Some(settings) = settings.filter(|s| s.identity_provider.eq_ignore_ascii_case(GENERIC_PROVIDER)) {
            let scopes = scheme.map(|s| s.2).unwrap_or_default();
            return super::generic::provider(package, settings, client, scopes, connection, package.redirect_mode(set));
        }
        let client_id = client
            .and_then(|c| c.client_id.clone())
            .or_else(|| settings.and_then(|s| s.client_id.clone()))
            .ok_or_else(|| unusable("OAuth client id (`oAuthSettings.clientId`)"))?;
        let client_secret = client.and_then(|c| c.client_secret.as_ref()).map(|s| s.expose().to_string());
        // Entra ID (`aad`, and `aadcertificate` where the app signs in with
        // a certificate) builds its endpoints from its own parameters; the
        // definition's URLs are placeholders then.
        let provider_is = |name: &str| settings.is_some_and(|s| s.identity_provider.eq_ignore_ascii_case(name));
        let aad = provider_is("aad") || provider_is("aadcertificate");
        let docusign = provider_is("docusign");
        let authorization_url = scheme
            .as_ref()
            .and_then(|s| s.0.clone())
            .or_else(|| custom("authorizationUrl"))
            .or_else(|| (aad || docusign).then(String::new))
            .ok_or_else(|| unusable("authorization URL"))?;
        let token_url = scheme
            .as_ref()
            .and_then(|s| s.1.clone())
            .or_else(|| custom("tokenUrl"))
            .or_else(|| (aad || docusign).then(String::new))
            .ok_or_else(|| unusable("token URL"))?;
        let mut scopes = settings.map(|s| s.scopes.clone()).unwrap_or_default();
        if scopes.is_empty() {
            scopes = scheme.map(|s| s.2).unwrap_or_default();
        }
        let issuer = custom("issuer");
        let mut provider = Provider {
            client_id,
            client_secret,
            authorization_url,
            token_url,
            scopes,
            mode: package.redirect_mode(set),
            issuer,
            authorize_params: Vec::new(),
            client_certificate: None,
            generic: None,
        };
        if aad {
            entra_endpoints(&mut provider, &custom, &package.id)?;
        }
        if provider_is("aadcertificate") {
            // The platform's certificate store is the settings file here; a
            // secret, if one is set too, is not sent.
            let certificate = client.and_then(|c| c.certificate.clone());
            provider.client_certificate =
                Some(certificate.ok_or_else(|| unusable(super::certificate::NOT_CONFIGURED))?);
            provider.client_secret = None;
        }
        if docusign {
            super::docusign::endpoints(&mut provider, &custom, &package.id)?;
        }
        Ok(provider)
    }
}

/// Entra ID's endpoints, as the platform's `aad` provider makes them from
/// `customParameters`: `{loginUri}/{tenantId}/oauth2/authorize` and
/// `/token` with `resource` set to `resourceUri` (the v1 endpoints) when the
/// package names a resource, else the v2.0 endpoints, which take scopes.
/// `loginUri` (`loginUriAAD` in some packages) defaults to the public
/// cloud's, `tenantId` (empty or `null` in some) to `common`.
fn entra_endpoints(
    provider: &mut Provider,
    custom: &dyn Fn(&str) -> Option<String>,
    connector: &str,
) -> Result<(), OAuthError> {
    let unusable = |what: &'static str| OAuthError::NotConfigured { connector: connector.to_string(), what };
    let given = |name: &str| custom(name).filter(|v| !v.trim().is_empty() && v.trim() != "null");
    let login = given("loginUri").or_else(|| given("loginUriAAD")).unwrap_or_else(|| ENTRA_LOGIN.to_string());
    let login = login.trim().trim_end_matches('/').to_string();
    if url::Url::parse(&login)
        .map_err(|source| OAuthError::BadEndpoint { connector: connector.to_string(), source })?
        .query()
        .is_some()
    {
        return Err(unusable("usable Entra ID `loginUri` (it carries a query)"));
    }
    let tenant = given("tenantId").unwrap_or_else(|| "common".to_string());
    let tenant = tenant.trim();
    if !tenant.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')) {
        return Err(unusable("usable Entra ID `tenantId` (a tenant id or domain)"));
    }
    let base = format!("{login}/{tenant}/oauth2");
    match custom("resourceUri").filter(|r| !r.trim().is_empty()) {
        Some(resource) => {
            provider.authorization_url = format!("{base}/authorize");
            provider.token_url = format!("{base}/token");
            provider.authorize_params.push(("resource".into(), resource.trim().to_string()));
        }
        None => {
            provider.authorization_url = format!("{base}/v2.0/authorize");
            provider.token_url = format!("{base}/v2.0/token");
        }
    }
    Ok(())
}

impl Provider {
    /// Whether `issuer`, as a redirect's `iss` names it, is this provider:
    /// the `issuer` of `oAuthSettings.customParameters` when the package
    /// names one, else any issuer on the authorization endpoint's origin.
    pub fn issued(&self, issuer: &str) -> bool {
        if let Some(expected) = &self.issuer {
            return issuer.trim_end_matches('/') == expected.trim_end_matches('/');
        }
        let origin = |text: &str| url::Url::parse(text).ok().map(|u| u.origin());
        origin(issuer).is_some_and(|o| Some(o) == origin(&self.authorization_url))
    }

    /// The client for the token endpoint, with the redirect URI a code
    /// exchange repeats.
    pub(super) fn token_client(&self, connector: &str, redirect_uri: Option<&str>) -> Result<TokenClient, OAuthError> {
        let bad = |source| OAuthError::BadEndpoint { connector: connector.to_string(), source };
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(bad)?);
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        if let Some(uri) = redirect_uri {
            client = client.set_redirect_uri(RedirectUrl::new(uri.to_string()).map_err(bad)?);
        }
        Ok(client)
    }
}
