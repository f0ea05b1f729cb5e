//! How a connector signs in: its provider's endpoints, client and scopes,
//! from its package and the settings file.

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl, TokenUrl};
use sluice_package::{Package, RedirectMode, SecurityScheme};

use super::{OAuth, OAuthError};

/// A connector's OAuth provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The client id.
    pub client_id: String,
    client_secret: Option<String>,
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
}

/// The oauth2 client for the token endpoint.
pub(super) type TokenClient = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

impl OAuth {
    /// The provider of a package: endpoints from its `oauth2` security
    /// definition (else its `oAuthSettings.customParameters`), the client id
    /// from the settings file (else `oAuthSettings.clientId`), scopes from
    /// `oAuthSettings` (else the security definition).
    pub fn provider(&self, package: &Package) -> Result<Provider, OAuthError> {
        let settings = package.properties.connection_parameters.values().find_map(|p| p.oauth.as_ref());
        let scheme = package.definition.security_definitions.values().find_map(|s| match s {
            SecurityScheme::OAuth2 { authorization_url, token_url, scopes, .. } => {
                Some((authorization_url.clone(), token_url.clone(), scopes.clone()))
            }
            _ => None,
        });
        let custom = |name: &str| settings.and_then(|s| s.custom_parameters.get(name).cloned());
        let client = self.settings.clients.get(&package.id);
        let unusable = |what: &'static str| OAuthError::NotConfigured { connector: package.id.clone(), what };
        let client_id = client
            .and_then(|c| c.client_id.clone())
            .or_else(|| settings.and_then(|s| s.client_id.clone()))
            .ok_or_else(|| unusable("OAuth client id (`oAuthSettings.clientId`)"))?;
        let client_secret = client.and_then(|c| c.client_secret.as_ref()).map(|s| s.expose().to_string());
        let authorization_url = scheme
            .as_ref()
            .and_then(|s| s.0.clone())
            .or_else(|| custom("authorizationUrl"))
            .ok_or_else(|| unusable("authorization URL"))?;
        let token_url = scheme
            .as_ref()
            .and_then(|s| s.1.clone())
            .or_else(|| custom("tokenUrl"))
            .ok_or_else(|| unusable("token URL"))?;
        let mut scopes = settings.map(|s| s.scopes.clone()).unwrap_or_default();
        if scopes.is_empty() {
            scopes = scheme.map(|s| s.2).unwrap_or_default();
        }
        let issuer = custom("issuer");
        Ok(Provider {
            client_id,
            client_secret,
            authorization_url,
            token_url,
            scopes,
            mode: package.redirect_mode(),
            issuer,
        })
    }
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
