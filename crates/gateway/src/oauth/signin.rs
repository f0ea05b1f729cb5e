//! Signing a connection in: the authorization URL with PKCE and a fresh
//! `state`, and the provider's redirect back.
//!
//! A sign-in is bound to the principal who started it and to their
//! browser: the `state`'s pending record keeps the principal and the hash
//! of a browser-binding cookie, and the redirect completes only with that
//! cookie (and, when it carries a credential, the same principal). Sending
//! someone the provider's link therefore gets nobody's tokens anywhere.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use sluice_package::{Connection, RedirectMode};

use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::http::EgressHttp;
use super::token::{Issued, TokenFailure};
use super::{ConnectionValues, OAuth, OAuthError, SignInFailure};
use crate::registry::{LoadedConnector, Registry};
use crate::store::{COMPLETION, Endpoints, PendingSignIn, TokenSet, now};

impl OAuth {
    /// Starts signing `connection` (which the caller checked exists; its
    /// `values`, when they make a connection) in for `principal`, in the
    /// browser whose binding cookie holds `binding`: remembers a PKCE
    /// verifier under a fresh `state` and returns the provider's
    /// authorization URL, and the redirect URI it comes back on.
    pub async fn start_signin(
        &self,
        connector: &LoadedConnector,
        connection: &str,
        values: Option<&Connection>,
        principal: &str,
        binding: &str,
        loopback_port: Option<u16>,
    ) -> Result<StartedSignIn, OAuthError> {
        let package = &connector.package;
        // With parameter sets, only a set with an `oauthSetting` signs in
        // (a connection refused at load has no set to sign in with).
        let set = values.and_then(Connection::parameter_set);
        if package.properties.parameter_sets.is_some() && !package.signs_in(set) {
            return Err(OAuthError::NoSignIn {
                connector: package.id.clone(),
                connection: connection.to_string(),
                set: set.map(str::to_string),
            });
        }
        let provider = self.provider(package, set, values)?;
        if provider.mode == RedirectMode::Global
            && let Some(cutoff) = self.settings.global_redirect_cutoff
            && chrono::Utc::now().date_naive() >= cutoff
        {
            return Err(OAuthError::GlobalRedirectRetired {
                connector: package.id.clone(),
                cutoff,
                redirect_uri: self.redirect_uri(&package.id, RedirectMode::PerConnector),
            });
        }
        let redirect_uri = self.redirect_uri(&package.id, provider.mode);
        let bad = |source| OAuthError::BadEndpoint { connector: package.id.clone(), source };
        let authorize = AuthUrl::new(provider.authorization_url.clone()).map_err(bad)?;
        if !matches!(authorize.url().scheme(), "https" | "http") {
            let scheme = authorize.url().scheme().to_string();
            return Err(OAuthError::EndpointScheme { connector: package.id.clone(), scheme });
        }
        let (url, state, verifier) = match &provider.generic {
            Some(generic) => generic.authorization(&redirect_uri)?,
            None => {
                let client = BasicClient::new(ClientId::new(provider.client_id.clone()))
                    .set_auth_uri(authorize)
                    .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).map_err(bad)?);
                let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
                let mut request = client
                    .authorize_url(CsrfToken::new_random)
                    .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
                    .set_pkce_challenge(challenge);
                for (name, value) in &provider.authorize_params {
                    request = request.add_extra_param(name.clone(), value.clone());
                }
                let (url, state) = request.url();
                (url.to_string(), state.secret().clone(), verifier.secret().clone())
            }
        };
        let pending = PendingSignIn {
            connector: package.id.clone(),
            connection: connection.into(),
            pkce_verifier: verifier,
            redirect_uri: redirect_uri.clone(),
            created_at: now(),
            principal: principal.to_string(),
            binding_hash: binding_hash(binding),
            loopback_port,
            code: None,
            parameter_set: set.map(str::to_string),
        };
        self.vault.put_pending(&state, &pending).await?;
        tracing::info!(connector = %package.id, connection, "sign-in started");
        Ok(StartedSignIn { url, redirect_uri })
    }

    /// Finishes a sign-in on the provider's redirect, which arrived on
    /// `/redirect/{connector}` (`path_connector`) or on the global
    /// `/redirect`: takes the pending sign-in of `state` only if it belongs
    /// to that redirect URI (one that came back on the wrong one stays
    /// pending), checks that it comes from the browser (`binding`) and the
    /// principal (`principal`, when the redirect carries a credential) that
    /// started it, exchanges the code and stores the tokens. Returns the
    /// connector and connection signed in; `values` finds the connection's
    /// values.
    pub async fn finish_signin(
        &self,
        registry: &Registry,
        values: ConnectionValues<'_>,
        path_connector: Option<&str>,
        redirect: Redirect<'_>,
    ) -> Result<Finished, OAuthError> {
        let Redirect { code, state, issuer, binding, principal } = redirect;
        let redirect_uri = match path_connector {
            Some(connector) => self.redirect_uri(connector, RedirectMode::PerConnector),
            None => self.redirect_uri("", RedirectMode::Global),
        };
        let Some(pending) = self.vault.take_pending(state, &redirect_uri).await? else {
            return Err(match self.vault.pending_destination(state).await? {
                Some(destination) => SignInFailure::WrongRedirect {
                    connector: destination.connector,
                    redirect_uri: destination.redirect_uri,
                },
                None => SignInFailure::UnknownState,
            }
            .into());
        };
        // Taken first, checked after: a state someone else brings is spent.
        let bound = binding.is_some_and(|binding| {
            !pending.binding_hash.is_empty()
                && bool::from(binding_hash(binding).as_bytes().ct_eq(pending.binding_hash.as_bytes()))
        });
        let loopback = pending.loopback_port.filter(|_| !bound && principal.is_none());
        if loopback.is_none() && (!bound || principal.is_some_and(|principal| principal != pending.principal)) {
            tracing::warn!(connector = %pending.connector, connection = %pending.connection, "sign-in redirect from another browser or principal refused");
            return Err(SignInFailure::NotBound.into());
        }
        let connector = registry
            .get(&pending.connector)
            .map_err(|_| SignInFailure::ConnectorGone { connector: pending.connector.clone() })?;
        let provider = self.provider(
            &connector.package,
            pending.parameter_set.as_deref(),
            values(&connector, &pending.connection).as_ref(),
        )?;
        // RFC 9207: a provider that says who it is must be the one the
        // sign-in went to, or a code from another provider is being passed off.
        if let Some(issuer) = issuer
            && !provider.issued(issuer)
        {
            return Err(SignInFailure::IssuerMismatch { issuer: issuer.to_string() }.into());
        }
        if let Some(port) = loopback {
            // A command-line client started it: the code waits here, and a
            // completion code goes to the client's loopback listener on the
            // browser's own machine, which only that client can redeem.
            let completion = CsrfToken::new_random().secret().clone();
            let waiting = PendingSignIn { code: Some(code.to_string()), created_at: now(), ..pending };
            self.vault.put_pending_at(&completion, &waiting, COMPLETION).await?;
            tracing::info!(connector = %waiting.connector, connection = %waiting.connection, "sign-in waits for its command-line client");
            return Ok(Finished::Handoff { url: format!("http://127.0.0.1:{port}/?completion={completion}") });
        }
        let (connector, connection) = self.exchange(&provider, pending, code).await?;
        Ok(Finished::SignedIn { connector, connection })
    }

    /// Completes a sign-in a command-line client started for `connection`
    /// of `connector`, with the completion code its loopback listener
    /// received: only for the principal who started it, with the binding
    /// secret it was given.
    pub async fn complete_signin(
        &self,
        registry: &Registry,
        values: ConnectionValues<'_>,
        (connector, connection): (&str, &str),
        completion: &str,
        binding: &str,
        principal: &str,
    ) -> Result<(String, String), OAuthError> {
        let Some(pending) = self.vault.take_pending(completion, COMPLETION).await? else {
            return Err(SignInFailure::UnknownState.into());
        };
        let bound = !pending.binding_hash.is_empty()
            && bool::from(binding_hash(binding).as_bytes().ct_eq(pending.binding_hash.as_bytes()));
        let same = pending.connector == connector && pending.connection == connection;
        if !bound || principal != pending.principal || !same {
            tracing::warn!(connector = %pending.connector, connection = %pending.connection, "sign-in completion by another client or principal refused");
            return Err(SignInFailure::NotBound.into());
        }
        let Some(code) = pending.code.clone() else { return Err(SignInFailure::UnknownState.into()) };
        let loaded = registry
            .get(&pending.connector)
            .map_err(|_| SignInFailure::ConnectorGone { connector: pending.connector.clone() })?;
        let provider = self.provider(
            &loaded.package,
            pending.parameter_set.as_deref(),
            values(&loaded, &pending.connection).as_ref(),
        )?;
        self.exchange(&provider, pending, &code).await
    }

    /// Exchanges the authorization code with the PKCE verifier and stores
    /// the tokens.
    async fn exchange(
        &self,
        provider: &super::Provider,
        pending: PendingSignIn,
        code: &str,
    ) -> Result<(String, String), OAuthError> {
        let issued: Result<Issued, TokenFailure> = match &provider.generic {
            Some(generic) => generic.exchange(&self.network, code, &pending.pkce_verifier, &pending.redirect_uri).await,
            None => {
                let client = provider.token_client(&pending.connector, Some(&pending.redirect_uri))?;
                let http = EgressHttp::new(&self.network, &provider.token_url);
                let mut request = client
                    .exchange_code(AuthorizationCode::new(code.to_string()))
                    .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
                for (name, value) in provider.client_authentication(&pending.connector)? {
                    request = request.add_extra_param(name, value);
                }
                request.request_async(&http).await.map(Issued::from).map_err(TokenFailure::from)
            }
        };
        let token = issued.map_err(|e| SignInFailure::CodeRefused { reason: e.to_string() })?;
        let tokens = TokenSet {
            access_token: token.access_token,
            refresh_token: token.refresh_token,
            expires_at: token.expires_in.map(|d| now().saturating_add(d)),
            lifetime: token.expires_in,
            endpoints: Some(Endpoints {
                authorization_url: provider.authorization_url.clone(),
                token_url: provider.token_url.clone(),
                refresh_url: provider.generic.as_ref().map(|g| g.refresh_url.clone()),
            }),
        };
        self.vault.save_signin(&pending.connector, &pending.connection, &tokens).await?;
        tracing::info!(connector = %pending.connector, connection = %pending.connection, "connection signed in");
        Ok((pending.connector, pending.connection))
    }
}

/// What a provider's redirect came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// The connection is signed in.
    SignedIn {
        /// The connector.
        connector: String,
        /// The connection.
        connection: String,
    },
    /// A command-line client started it: send the browser here, to the
    /// client's loopback listener, which completes it.
    Handoff {
        /// The loopback URL with the completion code.
        url: String,
    },
}

/// A sign-in just started.
#[derive(Debug, Clone)]
pub struct StartedSignIn {
    /// The provider's authorization URL, to send the browser to.
    pub url: String,
    /// The redirect URI the provider sends the browser back to.
    pub redirect_uri: String,
}

/// The provider's redirect, and what the browser brought with it.
#[derive(Debug, Clone, Copy)]
pub struct Redirect<'a> {
    /// The authorization code.
    pub code: &'a str,
    /// The `state`.
    pub state: &'a str,
    /// The provider's `iss` (RFC 9207), when it sends one.
    pub issuer: Option<&'a str>,
    /// The browser-binding cookie's value, if the browser sent it.
    pub binding: Option<&'a str>,
    /// The principal of the credential the redirect carries, if any.
    pub principal: Option<&'a str>,
}

/// The hex SHA-256 of a browser-binding cookie value.
fn binding_hash(binding: &str) -> String {
    hex::encode(sha2::Sha256::digest(binding.as_bytes()))
}
