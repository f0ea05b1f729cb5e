//! OAuth 2.0 connections: signing a connection in with the
//! authorization-code flow (PKCE, a `state` bound to the connection),
//! per-connector or global redirect URIs, tokens stored sealed, refreshed
//! before expiry and once after a 401.
//!
//! Redirect URIs: a connector whose `oauthSetting` says
//! `redirectMode: "GlobalPerConnector"` gets `{public_url}/redirect/{connector}`
//! (`{public_url}/environments/{id}/redirect/{connector}` outside the default
//! environment); any other mode uses the global `{public_url}/redirect`,
//! shared by every environment, and the environment and connector are found
//! from the `state`. Every call to the provider goes through the
//! egress client, under a policy that allows only the provider's endpoint.
//!
//! The service takes what it uses, not the gateway: the [`Vault`] of tokens,
//! the [`Network`] to reach providers, its settings, and the gateway's
//! public URL.

mod certificate;
mod docusign;
mod error;
mod generic;
mod http;
mod provider;
mod refresh;
mod signin;
mod token;

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use sluice_package::{Connection, RedirectMode, Secret};

pub use certificate::{CertificateError, ClientCertificate};
pub use error::{OAuthError, OAuthUnavailable, SignInFailure};
pub use provider::Provider;
pub use signin::{Finished, Redirect, StartedSignIn};

use crate::config::OAuthConfig;
use crate::network::Network;
use crate::registry::LoadedConnector;
use crate::store::{PendingDestination, Vault};

/// Finds a connection's values by its connector and id: a redirect names
/// its connection only through the pending sign-in, and an
/// `oauth2generic` provider is made of the connection's values.
pub type ConnectionValues<'a> = &'a (dyn Fn(&LoadedConnector, &str) -> Option<Connection> + Send + Sync);

/// A connector's OAuth client registration, resolved.
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    /// Overrides `clientId` of `apiProperties.json`.
    pub client_id: Option<String>,
    /// The client secret, if the provider wants one.
    pub client_secret: Option<Secret>,
    /// The app's certificate and key, for `aadcertificate` connectors.
    pub certificate: Option<Arc<ClientCertificate>>,
    /// The origins a connection's value may choose for an `oauth2generic`
    /// endpoint (`allowed_endpoints`).
    pub allowed_endpoints: Vec<sluice_egress::AllowRule>,
}

/// The OAuth settings, with secrets resolved.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// From this date on, connectors still on the global redirect URI refuse
    /// new sign-ins.
    pub global_redirect_cutoff: Option<chrono::NaiveDate>,
    /// Tokens are refreshed this long before they expire.
    pub refresh_margin: std::time::Duration,
    /// A token whose refresh failed is not refreshed again for this long.
    pub refresh_retry_after: std::time::Duration,
    /// Client settings per connector, or per parameter set (`Connector/set`).
    pub clients: IndexMap<String, ClientSettings>,
}

impl OAuthSettings {
    /// Resolves the settings file's `[oauth]` section: every client secret
    /// read from its variable now, every client certificate read and
    /// checked against its key.
    pub fn resolve(config: &OAuthConfig) -> Result<Self, OAuthUnavailable> {
        let mut clients = IndexMap::new();
        for (connector, client) in &config.clients {
            let client_secret = match &client.client_secret {
                Some(source) => Some(
                    source
                        .resolve()
                        .map_err(|source| OAuthUnavailable::ClientSecret { connector: connector.clone(), source })?,
                ),
                None => None,
            };
            let certificate = certificate::configured(client)
                .map_err(|source| OAuthUnavailable::Certificate { connector: connector.clone(), source })?
                .map(Arc::new);
            clients.insert(
                connector.clone(),
                ClientSettings {
                    client_id: client.client_id.clone(),
                    client_secret,
                    certificate,
                    allowed_endpoints: client.allowed_endpoints.clone(),
                },
            );
        }
        Ok(Self {
            global_redirect_cutoff: config.global_redirect_cutoff,
            refresh_margin: config.refresh_margin,
            refresh_retry_after: config.refresh_retry_after,
            clients,
        })
    }
}

/// A connection's key: connector id and connection id.
type ConnectionKey = (String, String);

/// One environment's OAuth service.
#[derive(Debug)]
pub struct OAuth {
    vault: Vault,
    network: Arc<Network>,
    settings: OAuthSettings,
    public_url: url::Url,
    /// What the environment's routes start with: empty for the default
    /// environment, `/environments/{id}` for the others.
    prefix: String,
    /// One refresh at a time per connection.
    refreshing: std::sync::Mutex<HashMap<ConnectionKey, Arc<tokio::sync::Mutex<()>>>>,
    /// The last failed refresh of each connection: the token's fingerprint,
    /// when, and why.
    failures: std::sync::Mutex<HashMap<ConnectionKey, (String, std::time::Instant, String)>>,
    /// Each connection's tokens as last read from the store: what calls use
    /// while the database cannot be reached.
    cached: std::sync::Mutex<HashMap<ConnectionKey, crate::store::StoredTokens>>,
}

impl OAuth {
    /// The service over an environment's vault, reaching providers through
    /// its `network`; its routes start with `prefix` under `public_url`.
    pub fn new(
        vault: Vault,
        network: Arc<Network>,
        settings: OAuthSettings,
        public_url: url::Url,
        prefix: String,
    ) -> Self {
        Self {
            vault,
            network,
            settings,
            public_url,
            prefix,
            refreshing: Default::default(),
            failures: Default::default(),
            cached: Default::default(),
        }
    }

    /// The redirect URI of a connector in a mode.
    pub fn redirect_uri(&self, connector: &str, mode: RedirectMode) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        match mode {
            RedirectMode::PerConnector => format!("{base}{}/redirect/{connector}", self.prefix),
            RedirectMode::Global => format!("{base}/redirect"),
        }
    }

    /// The sign-in URL of a connection, for messages.
    pub fn signin_url(&self, connector: &str, connection: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{}/connections/{connector}/{connection}/signin", self.prefix)
    }

    /// Where the sign-in with this `state` must come back, in any
    /// environment, if it is pending: the global redirect URI's handler
    /// finds the environment with it.
    pub async fn pending_destination(&self, state: &str) -> Result<Option<PendingDestination>, OAuthError> {
        Ok(self.vault.pending_destination(state).await?)
    }

    /// The configured cut-off for the global redirect URI.
    pub fn cutoff(&self) -> Option<chrono::NaiveDate> {
        self.settings.global_redirect_cutoff
    }

    fn signin_required(&self, connector: &str, connection: &str, reason: &str) -> OAuthError {
        OAuthError::SignInRequired {
            connector: connector.into(),
            connection: connection.into(),
            reason: reason.into(),
            signin_url: Some(self.signin_url(connector, connection)),
        }
    }
}
