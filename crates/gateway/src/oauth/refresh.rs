//! A connection's access token: read from the vault, refreshed before it
//! expires, and refreshed once after the backend refuses it.

use std::sync::Arc;

use oauth2::RefreshToken;
use sluice_package::{Connection, Package};

use super::http::EgressHttp;
use super::token::{Issued, TokenFailure};
use super::{OAuth, OAuthError};
use crate::store::{TokenSet, now};

/// Why a connection that never signed in must.
const NOT_SIGNED_IN: &str = "the connection has not been signed in";

/// A token's fingerprint, to remember which one failed without keeping it.
fn fingerprint(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(token.as_bytes())[..16])
}

impl OAuth {
    /// Why the connection must sign in before it can be used, or `None`
    /// when it holds tokens (which may still need a refresh): for status
    /// reports, without touching the provider.
    pub async fn signin_needed(&self, connector: &str, connection: &str) -> Result<Option<String>, OAuthError> {
        Ok(match self.vault.tokens(connector, connection).await? {
            None => Some(NOT_SIGNED_IN.to_string()),
            Some(stored) => stored.needs_signin,
        })
    }

    /// The connection's access token, refreshed first when it expires within
    /// the refresh margin; `values` are the connection's.
    pub async fn access_token(
        &self,
        package: &Package,
        connection: &str,
        values: &Connection,
    ) -> Result<String, OAuthError> {
        let key = (package.id.clone(), connection.to_string());
        let stored = match self.vault.tokens(&package.id, connection).await {
            Ok(stored) => {
                let mut cache = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match &stored {
                    Some(stored) => cache.insert(key, stored.clone()),
                    None => cache.remove(&key),
                };
                stored
            }
            Err(crate::store::VaultError::Store(error)) if error.is_unavailable() => {
                // The database is down: a token read before that serves
                // until it expires; a refresh waits for the database.
                let cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key).cloned();
                match cached {
                    Some(cached)
                        if cached.needs_signin.is_none() && cached.tokens.expires_at.is_none_or(|at| at > now()) =>
                    {
                        tracing::warn!(connector = %package.id, connection, "database unreachable; the cached token is used");
                        return Ok(cached.tokens.access_token);
                    }
                    _ => return Err(crate::store::VaultError::Store(error).into()),
                }
            }
            Err(error) => return Err(error.into()),
        };
        let Some(stored) = stored else {
            return Err(self.signin_required(&package.id, connection, NOT_SIGNED_IN));
        };
        if let Some(reason) = stored.needs_signin {
            return Err(self.signin_required(&package.id, connection, &reason));
        }
        // A short-lived token is not refreshed on every call: the margin is at
        // most half its lifetime.
        let margin = match stored.tokens.lifetime {
            Some(lifetime) => self.settings.refresh_margin.as_secs().min(lifetime / 2),
            None => self.settings.refresh_margin.as_secs(),
        };
        let expiring = stored.tokens.expires_at.is_some_and(|at| at <= now() + margin);
        if expiring && stored.tokens.refresh_token.is_some() {
            return self.refresh(package, connection, values, &stored.tokens.access_token).await;
        }
        Ok(stored.tokens.access_token)
    }

    /// Refreshes the connection's tokens, unless another call already
    /// replaced `stale` meanwhile: however many calls see a token expire or
    /// refused, one refresh is made for it. Only `invalid_grant` marks the
    /// connection for a new sign-in; a provider that is down or slow leaves
    /// it usable, and a refresh of the same token is not tried again for
    /// `refresh_retry_after`. A refresh that finishes after a newer sign-in does not
    /// overwrite it, and a refresh token goes only to the token endpoint that
    /// issued it. `values` are the connection's.
    pub async fn refresh(
        &self,
        package: &Package,
        connection: &str,
        values: &Connection,
        stale: &str,
    ) -> Result<String, OAuthError> {
        let lock = {
            let mut locks = self.refreshing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(locks.entry((package.id.clone(), connection.to_string())).or_default())
        };
        let _one_at_a_time = lock.lock().await;
        // And one across the gateways on a shared database; then the tokens
        // are read again, in case one of them refreshed meanwhile.
        let _one_across_gateways = self.vault.refresh_lock(&package.id, connection).await?;
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
        if let Some(reason) = self.failed_recently(package, connection, stale) {
            return Err(OAuthError::Refresh { reason });
        }
        let Some(refresh_token) = stored.tokens.refresh_token.clone() else {
            let reason = "the access token expired and the provider gave no refresh token";
            self.vault.mark_needs_signin(&package.id, connection, reason, stored.version).await?;
            return Err(self.signin_required(&package.id, connection, reason));
        };
        let provider = self.provider(package, values.parameter_set(), Some(values))?;
        let refresh_url = provider.generic.as_ref().map(|g| g.refresh_url.clone());
        if let Some(issued_by) = &stored.tokens.endpoints
            && (issued_by.token_url != provider.token_url
                || issued_by.authorization_url != provider.authorization_url
                || issued_by.refresh_url != refresh_url)
        {
            // The package now names other endpoints: the refresh token and the
            // client secret are not sent to an endpoint that did not issue them.
            let reason = "the connector's OAuth endpoints changed since the sign-in";
            tracing::warn!(connector = %package.id, connection, old = %issued_by.token_url, new = %provider.token_url, "{reason}; the connection must sign in again");
            self.vault.mark_needs_signin(&package.id, connection, reason, stored.version).await?;
            return Err(self.signin_required(&package.id, connection, reason));
        }
        let answer: Result<Issued, TokenFailure> = match &provider.generic {
            Some(generic) => {
                let redirect_uri = self.redirect_uri(&package.id, provider.mode);
                generic.refresh(&self.network, &refresh_token, &redirect_uri).await
            }
            None => {
                let client = provider.token_client(&package.id, None)?;
                let http = EgressHttp::new(&self.network, &provider.token_url);
                let grant = RefreshToken::new(refresh_token.clone());
                let mut request = client.exchange_refresh_token(&grant);
                for (name, value) in provider.client_authentication(&package.id)? {
                    request = request.add_extra_param(name, value);
                }
                request.request_async(&http).await.map(Issued::from).map_err(TokenFailure::from)
            }
        };
        match answer {
            Ok(token) => {
                let tokens = TokenSet {
                    access_token: token.access_token,
                    refresh_token: token.refresh_token.or(Some(refresh_token)),
                    expires_at: token.expires_in.map(|d| now().saturating_add(d)),
                    lifetime: token.expires_in,
                    endpoints: stored.tokens.endpoints.clone(),
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
            Err(refused) if refused.is_invalid_grant() => {
                let reason = format!("the provider refused to refresh the token ({refused})");
                self.vault.mark_needs_signin(&package.id, connection, &reason, stored.version).await?;
                tracing::warn!(connector = %package.id, connection, %reason, "connection needs sign-in");
                Err(self.signin_required(&package.id, connection, &reason))
            }
            // Anything else (temporarily_unavailable, a 5xx, a timeout) is the
            // provider's passing trouble: the connection stays signed in.
            Err(other) => {
                let reason = other.to_string();
                tracing::warn!(connector = %package.id, connection, %reason, "token refresh failed; will try again");
                self.remember_failure(package, connection, stale, &reason);
                Err(OAuthError::Refresh { reason })
            }
        }
    }

    /// Why the refresh of `stale` failed, if it did less than
    /// `refresh_retry_after` ago.
    fn failed_recently(&self, package: &Package, connection: &str, stale: &str) -> Option<String> {
        let failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (token, at, reason) = failures.get(&(package.id.clone(), connection.to_string()))?;
        let wait = self.settings.refresh_retry_after;
        (token == &fingerprint(stale) && at.elapsed() < wait)
            .then(|| format!("{reason} (not tried again for {wait:?})"))
    }

    fn remember_failure(&self, package: &Package, connection: &str, stale: &str, reason: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.insert(
            (package.id.clone(), connection.to_string()),
            (fingerprint(stale), std::time::Instant::now(), reason.to_string()),
        );
    }
}
