//! A connection's access token: read from the vault, refreshed before it
//! expires, and refreshed once after the backend refuses it.

use std::sync::Arc;

use oauth2::{RefreshToken, RequestTokenError, TokenResponse};
use sluice_package::Package;

use super::http::{EgressHttp, describe};
use super::{OAuth, OAuthError};
use crate::store::{TokenSet, now};

/// Why a connection that never signed in must.
const NOT_SIGNED_IN: &str = "the connection has not been signed in";

impl OAuth {
    /// The connection's access token, refreshed first when it expires within
    /// the refresh margin.
    pub async fn access_token(&self, package: &Package, connection: &str) -> Result<String, OAuthError> {
        let Some(stored) = self.vault.tokens(&package.id, connection).await? else {
            return Err(self.signin_required(&package.id, connection, NOT_SIGNED_IN));
        };
        if let Some(reason) = stored.needs_signin {
            return Err(self.signin_required(&package.id, connection, &reason));
        }
        let margin = self.settings.refresh_margin.as_secs();
        let expiring = stored.tokens.expires_at.is_some_and(|at| at <= now() + margin);
        if expiring && stored.tokens.refresh_token.is_some() {
            return self.refresh(package, connection, &stored.tokens.access_token).await;
        }
        Ok(stored.tokens.access_token)
    }

    /// Refreshes the connection's tokens, unless another call already
    /// replaced `stale` meanwhile. A refusal marks the connection as needing
    /// a new sign-in. A refresh that finishes after a newer sign-in does not
    /// overwrite it.
    pub async fn refresh(&self, package: &Package, connection: &str, stale: &str) -> Result<String, OAuthError> {
        let lock = {
            let mut locks = self.refreshing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(locks.entry((package.id.clone(), connection.to_string())).or_default())
        };
        let _one_at_a_time = lock.lock().await;
        let stored = self
            .vault
            .tokens(&package.id, connection)
            .await?
            .ok_or_else(|| self.signin_required(&package.id, connection, NOT_SIGNED_IN))?;
        if let Some(reason) = stored.needs_signin {
            return Err(self.signin_required(&package.id, connection, &reason));
        }
        if stored.tokens.access_token != stale {
            return Ok(stored.tokens.access_token);
        }
        let Some(refresh_token) = stored.tokens.refresh_token.clone() else {
            let reason = "the access token expired and the provider gave no refresh token";
            self.vault.mark_needs_signin(&package.id, connection, reason, stored.version).await?;
            return Err(self.signin_required(&package.id, connection, reason));
        };
        let provider = self.provider(package)?;
        let client = provider.token_client(&package.id, None)?;
        let http = EgressHttp::new(&self.network, &provider.token_url);
        match client.exchange_refresh_token(&RefreshToken::new(refresh_token.clone())).request_async(&http).await {
            Ok(token) => {
                let tokens = TokenSet {
                    access_token: token.access_token().secret().clone(),
                    refresh_token: token.refresh_token().map(|t| t.secret().clone()).or(Some(refresh_token)),
                    expires_at: token.expires_in().map(|d| now() + d.as_secs()),
                };
                if self.vault.save_refresh(&package.id, connection, &tokens, stored.version).await? {
                    tracing::info!(connector = %package.id, connection, "token refreshed");
                    return Ok(tokens.access_token);
                }
                // A sign-in wrote meanwhile: its tokens win.
                tracing::info!(connector = %package.id, connection, "token refreshed, but a newer sign-in is kept");
                let current = self
                    .vault
                    .tokens(&package.id, connection)
                    .await?
                    .ok_or_else(|| self.signin_required(&package.id, connection, NOT_SIGNED_IN))?;
                Ok(current.tokens.access_token)
            }
            Err(RequestTokenError::ServerResponse(response)) => {
                let reason = format!("the provider refused to refresh the token ({})", response.error());
                self.vault.mark_needs_signin(&package.id, connection, &reason, stored.version).await?;
                tracing::warn!(connector = %package.id, connection, %reason, "connection needs sign-in");
                Err(self.signin_required(&package.id, connection, &reason))
            }
            Err(other) => Err(OAuthError::Refresh { reason: describe(&other) }),
        }
    }
}
