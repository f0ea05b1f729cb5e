//! OAuth 2.0 connections: signing a connection in with the
//! authorization-code flow (PKCE, a `state` bound to the connection),
//! per-connector or global redirect URIs, tokens stored sealed, refreshed
//! before expiry and once after a 401, and the audit of connectors still on
//! the global redirect URI.
//!
//! Redirect URIs: a connector whose `oauthSetting` says
//! `redirectMode: "GlobalPerConnector"` gets `{public_url}/redirect/{connector}`;
//! any other mode uses the global `{public_url}/redirect`, and the connector
//! is found from the `state`. Every call to the provider goes through the
//! egress client, under a policy that allows only the provider's endpoint.

pub mod audit;
pub mod key;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use sluice_egress::{Allowlist, SendOptions};

use crate::config::{OAuthConfig, ValueSource};
use crate::gateway::{Gateway, LoadedConnector};
use crate::package::{Package, SecurityScheme};
use crate::problem::GatewayError;
use store::{CredentialStore, PendingSignIn, TokenSet, now};

/// Where the provider sends the user back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectMode {
    /// `/redirect/{connector}`: the platform's `GlobalPerConnector`.
    PerConnector,
    /// The one global `/redirect`.
    Global,
}

/// How a connector signs in, from its package and the settings file.
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
}

/// Whether a package signs in with OAuth: an `oauth2` security definition
/// or an `oauthSetting` connection parameter.
pub fn uses_oauth(package: &Package) -> bool {
    package.definition.security_definitions.values().any(|s| matches!(s, SecurityScheme::OAuth2 { .. }))
        || package.properties.connection_parameters.values().any(|p| p.kind == "oauthSetting")
}

/// The package's redirect mode.
pub fn redirect_mode(package: &Package) -> RedirectMode {
    let per_connector = package
        .properties
        .connection_parameters
        .values()
        .filter_map(|p| p.oauth.as_ref())
        .any(|o| o.redirect_mode.as_deref() == Some("GlobalPerConnector"));
    if per_connector { RedirectMode::PerConnector } else { RedirectMode::Global }
}

/// A connection's key: connector id and connection id.
type ConnectionKey = (String, String);

/// The gateway's OAuth service.
#[derive(Debug)]
pub struct OAuth {
    store: Arc<dyn CredentialStore>,
    config: OAuthConfig,
    public_url: url::Url,
    /// One refresh at a time per connection.
    refreshing: std::sync::Mutex<HashMap<ConnectionKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl OAuth {
    /// The service over a store.
    pub fn new(store: Arc<dyn CredentialStore>, config: OAuthConfig, public_url: url::Url) -> Self {
        Self { store, config, public_url, refreshing: Default::default() }
    }

    /// The redirect URI of a connector in a mode.
    pub fn redirect_uri(&self, connector: &str, mode: RedirectMode) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        match mode {
            RedirectMode::PerConnector => format!("{base}/redirect/{connector}"),
            RedirectMode::Global => format!("{base}/redirect"),
        }
    }

    /// The sign-in URL of a connection, for messages.
    pub fn signin_url(&self, connector: &str, connection: &str) -> String {
        format!("{}/connections/{connector}/{connection}/signin", self.public_url.as_str().trim_end_matches('/'))
    }

    /// The configured cut-off for the global redirect URI.
    pub fn cutoff(&self) -> Option<chrono::NaiveDate> {
        self.config.global_redirect_cutoff
    }

    fn provider(&self, package: &Package) -> Result<Provider, GatewayError> {
        let settings = package.properties.connection_parameters.values().find_map(|p| p.oauth.as_ref());
        let scheme = package.definition.security_definitions.values().find_map(|s| match s {
            SecurityScheme::OAuth2 { authorization_url, token_url, scopes, .. } => {
                Some((authorization_url.clone(), token_url.clone(), scopes.clone()))
            }
            _ => None,
        });
        let custom = |name: &str| settings.and_then(|s| s.custom_parameters.get(name).cloned());
        let client = self.config.clients.get(&package.id);
        let unusable = |what: &str| GatewayError::OAuthUnavailable(format!("connector `{}` has no {what}", package.id));
        let client_id = client
            .and_then(|c| c.client_id.clone())
            .or_else(|| settings.and_then(|s| s.client_id.clone()))
            .ok_or_else(|| unusable("OAuth client id (`oAuthSettings.clientId`)"))?;
        let client_secret = match client.and_then(|c| c.client_secret.as_ref()) {
            Some(ValueSource::Literal(secret)) => Some(secret.clone()),
            Some(ValueSource::Env { env }) => Some(std::env::var(env).map_err(|_| {
                GatewayError::OAuthUnavailable(format!("the client secret variable `{env}` of connector `{}` is not set", package.id))
            })?),
            None => None,
        };
        let authorization_url = scheme
            .as_ref()
            .and_then(|s| s.0.clone())
            .or_else(|| custom("authorizationUrl"))
            .ok_or_else(|| unusable("authorization URL"))?;
        let token_url =
            scheme.as_ref().and_then(|s| s.1.clone()).or_else(|| custom("tokenUrl")).ok_or_else(|| unusable("token URL"))?;
        let mut scopes = settings.map(|s| s.scopes.clone()).unwrap_or_default();
        if scopes.is_empty() {
            scopes = scheme.map(|s| s.2).unwrap_or_default();
        }
        Ok(Provider { client_id, client_secret, authorization_url, token_url, scopes, mode: redirect_mode(package) })
    }

    /// Starts signing `connection` in: remembers a PKCE verifier under a
    /// fresh `state` and returns the provider's authorization URL.
    pub fn start_signin(&self, connector: &LoadedConnector, connection: &str) -> Result<String, GatewayError> {
        let package = &connector.package;
        if !connector.connections.contains_key(connection) {
            return Err(GatewayError::UnknownConnection {
                connector: package.id.clone(),
                connection: connection.into(),
                reason: None,
            });
        }
        let provider = self.provider(package)?;
        if provider.mode == RedirectMode::Global
            && let Some(cutoff) = self.config.global_redirect_cutoff
            && chrono::Utc::now().date_naive() >= cutoff
        {
            return Err(GatewayError::GlobalRedirectRetired {
                connector: package.id.clone(),
                cutoff: cutoff.to_string(),
                redirect_uri: self.redirect_uri(&package.id, RedirectMode::PerConnector),
            });
        }
        let redirect_uri = self.redirect_uri(&package.id, provider.mode);
        let client = BasicClient::new(ClientId::new(provider.client_id.clone()))
            .set_auth_uri(AuthUrl::new(provider.authorization_url.clone()).map_err(|e| bad_endpoint(package, e))?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).map_err(|e| bad_endpoint(package, e))?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        let pending = PendingSignIn {
            connector: package.id.clone(),
            connection: connection.into(),
            pkce_verifier: verifier.secret().clone(),
            redirect_uri,
            created_at: now(),
        };
        self.store.put_pending(state.secret(), &pending).map_err(store_failure)?;
        tracing::info!(connector = %package.id, connection, "sign-in started");
        Ok(url.to_string())
    }

    /// Finishes a sign-in on the provider's redirect: checks `state` (and,
    /// on a per-connector redirect URI, that it belongs to that connector),
    /// exchanges the code and stores the tokens. Returns the connector and
    /// connection signed in.
    pub async fn finish_signin(
        &self,
        gateway: &Arc<Gateway>,
        path_connector: Option<&str>,
        code: &str,
        state: &str,
    ) -> Result<(String, String), GatewayError> {
        let pending = self
            .store
            .take_pending(state)
            .map_err(store_failure)?
            .ok_or_else(|| GatewayError::SignInFailed("unknown or expired `state`; start the sign-in again".into()))?;
        let connector = match gateway.connector(&pending.connector) {
            crate::gateway::Lookup::Ready(connector) => connector,
            _ => return Err(GatewayError::SignInFailed(format!("connector `{}` is no longer loaded", pending.connector))),
        };
        let provider = self.provider(&connector.package)?;
        let expected_path = match provider.mode {
            RedirectMode::PerConnector => Some(pending.connector.as_str()),
            RedirectMode::Global => None,
        };
        if path_connector != expected_path {
            return Err(GatewayError::SignInFailed(format!(
                "this sign-in for connector `{}` must come back on {}",
                pending.connector, pending.redirect_uri
            )));
        }
        let client = self.token_client(&connector.package, &provider, Some(&pending.redirect_uri))?;
        let http = EgressHttp { gateway: Arc::clone(gateway), endpoint: provider.token_url.clone() };
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| GatewayError::SignInFailed(format!("the provider refused the code: {}", describe(&e))))?;
        let tokens = TokenSet {
            access_token: token.access_token().secret().clone(),
            refresh_token: token.refresh_token().map(|t| t.secret().clone()),
            expires_at: token.expires_in().map(|d| now() + d.as_secs()),
        };
        self.store.save_tokens(&pending.connector, &pending.connection, &tokens).map_err(store_failure)?;
        tracing::info!(connector = %pending.connector, connection = %pending.connection, "connection signed in");
        Ok((pending.connector, pending.connection))
    }

    fn token_client(
        &self,
        package: &Package,
        provider: &Provider,
        redirect_uri: Option<&str>,
    ) -> Result<oauth2::basic::BasicClient<oauth2::EndpointNotSet, oauth2::EndpointNotSet, oauth2::EndpointNotSet, oauth2::EndpointNotSet, oauth2::EndpointSet>, GatewayError>
    {
        let mut client = BasicClient::new(ClientId::new(provider.client_id.clone()))
            .set_token_uri(TokenUrl::new(provider.token_url.clone()).map_err(|e| bad_endpoint(package, e))?);
        if let Some(secret) = &provider.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        if let Some(uri) = redirect_uri {
            client = client.set_redirect_uri(RedirectUrl::new(uri.to_string()).map_err(|e| bad_endpoint(package, e))?);
        }
        Ok(client)
    }

    /// The connection's access token, refreshed first when it expires within
    /// the refresh margin.
    pub async fn access_token(&self, gateway: &Arc<Gateway>, package: &Package, connection: &str) -> Result<String, GatewayError> {
        let stored = self.store.load_tokens(&package.id, connection).map_err(store_failure)?;
        let Some(stored) = stored else {
            return Err(self.signin_required(&package.id, connection, "the connection has not been signed in"));
        };
        if let Some(reason) = stored.needs_signin {
            return Err(self.signin_required(&package.id, connection, &reason));
        }
        let margin = self.config.refresh_margin.as_secs();
        let expiring = stored.tokens.expires_at.is_some_and(|at| at <= now() + margin);
        if expiring && stored.tokens.refresh_token.is_some() {
            return self.refresh(gateway, package, connection, &stored.tokens.access_token).await;
        }
        Ok(stored.tokens.access_token)
    }

    /// Refreshes the connection's tokens, unless another call already
    /// replaced `stale` meanwhile. A refusal marks the connection as needing
    /// a new sign-in.
    pub async fn refresh(&self, gateway: &Arc<Gateway>, package: &Package, connection: &str, stale: &str) -> Result<String, GatewayError> {
        let lock = {
            let mut locks = self.refreshing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(locks.entry((package.id.clone(), connection.to_string())).or_default())
        };
        let _one_at_a_time = lock.lock().await;
        let stored = self
            .store
            .load_tokens(&package.id, connection)
            .map_err(store_failure)?
            .ok_or_else(|| self.signin_required(&package.id, connection, "the connection has not been signed in"))?;
        if let Some(reason) = stored.needs_signin {
            return Err(self.signin_required(&package.id, connection, &reason));
        }
        if stored.tokens.access_token != stale {
            return Ok(stored.tokens.access_token);
        }
        let Some(refresh_token) = stored.tokens.refresh_token.clone() else {
            let reason = "the access token expired and the provider gave no refresh token";
            self.store.mark_needs_signin(&package.id, connection, reason).map_err(store_failure)?;
            return Err(self.signin_required(&package.id, connection, reason));
        };
        let provider = self.provider(package)?;
        let client = self.token_client(package, &provider, None)?;
        let http = EgressHttp { gateway: Arc::clone(gateway), endpoint: provider.token_url.clone() };
        match client.exchange_refresh_token(&RefreshToken::new(refresh_token.clone())).request_async(&http).await {
            Ok(token) => {
                let tokens = TokenSet {
                    access_token: token.access_token().secret().clone(),
                    refresh_token: token.refresh_token().map(|t| t.secret().clone()).or(Some(refresh_token)),
                    expires_at: token.expires_in().map(|d| now() + d.as_secs()),
                };
                self.store.save_tokens(&package.id, connection, &tokens).map_err(store_failure)?;
                tracing::info!(connector = %package.id, connection, "token refreshed");
                Ok(tokens.access_token)
            }
            Err(RequestTokenError::ServerResponse(response)) => {
                let reason = format!("the provider refused to refresh the token ({})", response.error());
                self.store.mark_needs_signin(&package.id, connection, &reason).map_err(store_failure)?;
                tracing::warn!(connector = %package.id, connection, %reason, "connection needs sign-in");
                Err(self.signin_required(&package.id, connection, &reason))
            }
            Err(other) => Err(GatewayError::Backend(format!("refreshing the token failed: {}", describe(&other)))),
        }
    }

    fn signin_required(&self, connector: &str, connection: &str, reason: &str) -> GatewayError {
        GatewayError::SignInRequired {
            connector: connector.into(),
            connection: connection.into(),
            reason: reason.into(),
            signin_url: self.signin_url(connector, connection),
        }
    }
}

fn bad_endpoint(package: &Package, error: impl std::fmt::Display) -> GatewayError {
    GatewayError::OAuthUnavailable(format!("connector `{}`: OAuth endpoint: {error}", package.id))
}

fn store_failure(error: store::StoreError) -> GatewayError {
    GatewayError::Internal(error.to_string())
}

/// A token-request error, without any secret.
fn describe<E: std::error::Error>(error: &RequestTokenError<E, oauth2::basic::BasicErrorResponse>) -> String {
    match error {
        RequestTokenError::ServerResponse(response) => response.error().to_string(),
        RequestTokenError::Request(inner) => inner.to_string(),
        RequestTokenError::Parse(inner, _) => format!("unreadable answer: {inner}"),
        RequestTokenError::Other(text) => text.clone(),
    }
}

/// The provider could not be reached through the egress client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderHttpError(String);

/// The OAuth client's HTTP: the egress client, under a policy that allows
/// exactly the token endpoint's origin.
struct EgressHttp {
    gateway: Arc<Gateway>,
    endpoint: String,
}

impl<'c> oauth2::AsyncHttpClient<'c> for EgressHttp {
    type Error = ProviderHttpError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, ProviderHttpError>> + Send + 'static>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        let gateway = Arc::clone(&self.gateway);
        let endpoint = self.endpoint.clone();
        Box::pin(async move { egress_http(&gateway, &endpoint, request).await })
    }
}

/// Sends one request to the provider through the egress client.
async fn egress_http(gateway: &Gateway, endpoint: &str, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, ProviderHttpError> {
    let origin = url::Url::parse(endpoint).map_err(|e| ProviderHttpError(format!("token URL: {e}")))?;
    let rule = match origin.port() {
        Some(port) => format!("{}://{}:{port}", origin.scheme(), origin.host_str().unwrap_or_default()),
        None => format!("{}://{}", origin.scheme(), origin.host_str().unwrap_or_default()),
    };
    let allowlist = Allowlist::parse([rule]).map_err(|e| ProviderHttpError(e.to_string()))?;
    let policy = gateway.policy_for(allowlist);
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Bytes::from(body));
    let options = SendOptions { timeout: std::time::Duration::from_secs(15), max_response_bytes: 1 << 20 };
    let response = gateway.client().send(&policy, request, options).await.map_err(|e| ProviderHttpError(e.to_string()))?;
    let (parts, body) = response.into_parts();
    Ok(http::Response::from_parts(parts, body.to_vec()))
}
