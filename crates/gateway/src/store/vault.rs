//! Sealing above the store: typed tokens and pending sign-ins in, sealed
//! blobs bound to their row out, for any [`TokenStore`] backend.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::key::{KeyError, SecretKey};
use super::{PendingDestination, PendingRow, StoreError, TokenStore};
use crate::access::DEFAULT_ENVIRONMENT;

/// Pending sign-ins older than this are forgotten, in seconds.
const PENDING_TTL_SECS: u64 = 600;

/// What a loopback sign-in waiting for its client is stored under instead
/// of a redirect URI: no redirect can take it, only the completion.
pub const COMPLETION: &str = "urn:sluice:signin-completion";

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A connection's tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    /// The access token sent as `Authorization: Bearer`.
    pub access_token: String,
    /// The refresh token, when the provider issued one.
    pub refresh_token: Option<String>,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: Option<u64>,
    /// How long the access token lasted when issued, in seconds.
    #[serde(default)]
    pub lifetime: Option<u64>,
    /// The provider's endpoints the tokens came from: a refresh goes only
    /// to the token endpoint they were issued by.
    #[serde(default)]
    pub endpoints: Option<Endpoints>,
}

/// The provider endpoints of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// The authorization endpoint.
    pub authorization_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The refresh endpoint, when it is not the token endpoint's
    /// (`oauth2generic`'s `refreshUrlTemplate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("expires_at", &self.expires_at)
            .field("lifetime", &self.lifetime)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// What is stored for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTokens {
    /// The tokens.
    pub tokens: TokenSet,
    /// Set when a refresh failed: the connection needs a new sign-in.
    pub needs_signin: Option<String>,
    /// The row's version, for compare-and-set writes.
    pub version: i64,
}

/// A sign-in that was started and waits for the provider's redirect.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The connector.
    pub connector: String,
    /// The connection being signed in.
    pub connection: String,
    /// The PKCE code verifier (secret).
    pub pkce_verifier: String,
    /// The redirect URI sent to the provider; the token request repeats it.
    pub redirect_uri: String,
    /// When the sign-in started, in seconds since the Unix epoch.
    pub created_at: u64,
    /// The principal who started it; only they may complete it.
    #[serde(default)]
    pub principal: String,
    /// SHA-256 (hex) of the browser-binding cookie set when it started; the
    /// redirect must bring the same cookie.
    #[serde(default)]
    pub binding_hash: String,
    /// The port of the command-line client's loopback listener, for a
    /// sign-in it started: the redirect hands it a completion code there.
    #[serde(default)]
    pub loopback_port: Option<u16>,
    /// The provider's authorization code, held while a loopback sign-in
    /// waits for its client to complete it.
    #[serde(default)]
    pub code: Option<String>,
    /// The parameter set the connection chose, whose provider the sign-in
    /// went to (for a connector with `connectionParameterSets`).
    #[serde(default)]
    pub parameter_set: Option<String>,
}

impl fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("connector", &self.connector)
            .field("connection", &self.connection)
            .field("parameter_set", &self.parameter_set)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The vault failed: the store, or a value that does not open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value does not decrypt (wrong key, moved or altered).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A stored value decrypts but does not parse.
    #[error("the store holds an unreadable value")]
    Corrupt(#[source] serde_json::Error),
}

/// Typed, sealed access to one environment's rows of a [`TokenStore`].
#[derive(Debug, Clone)]
pub struct Vault {
    store: Arc<dyn TokenStore>,
    key: SecretKey,
    environment: Arc<str>,
}

impl Vault {
    /// A vault over `environment`'s rows of `store`, sealing with `key`.
    pub fn new(store: Arc<dyn TokenStore>, key: SecretKey, environment: &str) -> Self {
        Self { store, key, environment: environment.into() }
    }

    /// A connection's tokens, if it ever signed in.
    pub async fn tokens(&self, connector: &str, connection: &str) -> Result<Option<StoredTokens>, VaultError> {
        let Some(row) = self.store.tokens(&self.environment, connector, connection).await? else { return Ok(None) };
        let tokens = self.open(&row.sealed, &self.token_aad(connector, connection))?;
        Ok(Some(StoredTokens { tokens, needs_signin: row.needs_signin, version: row.version }))
    }

    /// Saves tokens from a sign-in, whatever was there.
    pub async fn save_signin(&self, connector: &str, connection: &str, tokens: &TokenSet) -> Result<(), VaultError> {
        let sealed = self.seal(tokens, &self.token_aad(connector, connection))?;
        self.store.put_tokens(&self.environment, connector, connection, &sealed, None).await?;
        Ok(())
    }

    /// Saves refreshed tokens if the row is still at `version`; returns
    /// whether they were saved (not when a sign-in or another refresh wrote
    /// first).
    pub async fn save_refresh(
        &self,
        connector: &str,
        connection: &str,
        tokens: &TokenSet,
        version: i64,
    ) -> Result<bool, VaultError> {
        let sealed = self.seal(tokens, &self.token_aad(connector, connection))?;
        Ok(self.store.put_tokens(&self.environment, connector, connection, &sealed, Some(version)).await?.is_some())
    }

    /// Waits for, and holds until dropped, the right to refresh a
    /// connection's tokens against other gateways on the same database.
    pub async fn refresh_lock(&self, connector: &str, connection: &str) -> Result<super::RefreshLock, VaultError> {
        Ok(self.store.refresh_lock(&self.environment, connector, connection).await?)
    }

    /// Marks a connection as needing a new sign-in, if its row is still at
    /// `version`.
    pub async fn mark_needs_signin(
        &self,
        connector: &str,
        connection: &str,
        reason: &str,
        version: i64,
    ) -> Result<bool, VaultError> {
        Ok(self.store.mark_needs_signin(&self.environment, connector, connection, reason, version).await?)
    }

    /// Records a sign-in under its `state`.
    pub async fn put_pending(&self, state: &str, pending: &PendingSignIn) -> Result<(), VaultError> {
        self.put_pending_at(state, pending, &pending.redirect_uri).await
    }

    /// Records a sign-in under `state` that only `come_back_on` can take:
    /// its redirect URI, or [`COMPLETION`] for one waiting for its client.
    pub async fn put_pending_at(
        &self,
        state: &str,
        pending: &PendingSignIn,
        come_back_on: &str,
    ) -> Result<(), VaultError> {
        let hash = state_hash(state);
        let row = PendingRow {
            environment: self.environment.to_string(),
            connector: pending.connector.clone(),
            redirect_uri: come_back_on.to_string(),
            sealed: self.seal(pending, &self.pending_aad(&hash))?,
            created_at: pending.created_at as i64,
        };
        let expired_before = now().saturating_sub(PENDING_TTL_SECS) as i64;
        Ok(self.store.put_pending(&hash, &row, expired_before).await?)
    }

    /// Takes the sign-in with this `state`, if it is recent, of this
    /// environment, and came back on `redirect_uri`; one that came back
    /// elsewhere stays, and [`Vault::pending_destination`] says where it
    /// belongs.
    pub async fn take_pending(&self, state: &str, redirect_uri: &str) -> Result<Option<PendingSignIn>, VaultError> {
        let hash = state_hash(state);
        let created_after = now().saturating_sub(PENDING_TTL_SECS) as i64;
        let taken = self.store.take_pending(&hash, &self.environment, redirect_uri, created_after).await?;
        let Some(row) = taken else { return Ok(None) };
        Ok(Some(self.open(&row.sealed, &self.pending_aad(&hash))?))
    }

    /// Where the sign-in with this `state` must come back (in any
    /// environment), if it is pending.
    pub async fn pending_destination(&self, state: &str) -> Result<Option<PendingDestination>, VaultError> {
        Ok(self.store.pending_destination(&state_hash(state)).await?)
    }

    /// What a connection's sealed tokens are bound to. The default
    /// environment keeps the binding tokens had before there were
    /// environments, so that an upgraded gateway's sign-ins still open.
    fn token_aad(&self, connector: &str, connection: &str) -> Vec<u8> {
        match &*self.environment {
            DEFAULT_ENVIRONMENT => format!("sluice/tokens/v1\0{connector}\0{connection}"),
            environment => format!("sluice/tokens/v2\0{environment}\0{connector}\0{connection}"),
        }
        .into_bytes()
    }

    /// What a pending sign-in is bound to (as for tokens, the default
    /// environment keeps its binding from before environments).
    fn pending_aad(&self, state_hash: &str) -> Vec<u8> {
        match &*self.environment {
            DEFAULT_ENVIRONMENT => format!("sluice/pending/v1\0{state_hash}"),
            environment => format!("sluice/pending/v2\0{environment}\0{state_hash}"),
        }
        .into_bytes()
    }

    fn seal<T: Serialize>(&self, value: &T, aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let json = serde_json::to_vec(value).map_err(VaultError::Corrupt)?;
        Ok(self.key.seal(&json, aad))
    }

    fn open<T: for<'de> Deserialize<'de>>(&self, sealed: &[u8], aad: &[u8]) -> Result<T, VaultError> {
        let json = self.key.open(sealed, aad)?;
        serde_json::from_slice(&json).map_err(VaultError::Corrupt)
    }
}

/// The key a pending sign-in is stored under: the `state` travels through
/// the browser, so the store keeps only its hash.
fn state_hash(state: &str) -> String {
    hex::encode(sha2::Sha256::digest(state.as_bytes()))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::store::sql::SqlStore;

    fn key() -> SecretKey {
        SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap()
    }

    fn tokens(access: &str) -> TokenSet {
        TokenSet {
            access_token: access.into(),
            refresh_token: Some("rt-secret-2".into()),
            expires_at: Some(5),
            lifetime: None,
            endpoints: None,
        }
    }

    #[tokio::test]
    async fn tokens_round_trip_and_are_not_stored_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.db");
        let vault = Vault::new(Arc::new(SqlStore::open(&path).await.unwrap()), key(), DEFAULT_ENVIRONMENT);
        vault.save_signin("c", "main", &tokens("at-secret-1")).await.unwrap();
        assert_eq!(vault.tokens("c", "main").await.unwrap().unwrap().tokens, tokens("at-secret-1"));
        drop(vault);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(dir.path().join("creds.db-wal")).unwrap_or_default());
        for secret in [&b"at-secret-1"[..], b"rt-secret-2"] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret));
        }
    }

    #[tokio::test]
    async fn sealed_tokens_copied_to_another_connection_do_not_open() {
        let store = Arc::new(SqlStore::in_memory().await.unwrap());
        let vault = Vault::new(Arc::clone(&store) as Arc<dyn TokenStore>, key(), DEFAULT_ENVIRONMENT);
        vault.save_signin("c", "alice", &tokens("alice-token")).await.unwrap();
        let sealed = store.tokens(DEFAULT_ENVIRONMENT, "c", "alice").await.unwrap().unwrap().sealed;
        store.put_tokens(DEFAULT_ENVIRONMENT, "c", "mallory", &sealed, None).await.unwrap();
        assert!(matches!(vault.tokens("c", "mallory").await, Err(VaultError::Key(KeyError::Open))));
    }

    #[tokio::test]
    async fn a_refresh_does_not_overwrite_a_newer_signin() {
        let vault = Vault::new(Arc::new(SqlStore::in_memory().await.unwrap()), key(), DEFAULT_ENVIRONMENT);
        vault.save_signin("c", "main", &tokens("first")).await.unwrap();
        let read = vault.tokens("c", "main").await.unwrap().unwrap();
        vault.save_signin("c", "main", &tokens("signed-in-again")).await.unwrap();
        assert!(!vault.save_refresh("c", "main", &tokens("refreshed"), read.version).await.unwrap());
        assert_eq!(vault.tokens("c", "main").await.unwrap().unwrap().tokens.access_token, "signed-in-again");
    }

    #[tokio::test]
    async fn pending_signin_is_stored_under_a_hash_and_taken_once() {
        let store = Arc::new(SqlStore::in_memory().await.unwrap());
        let vault = Vault::new(Arc::clone(&store) as Arc<dyn TokenStore>, key(), DEFAULT_ENVIRONMENT);
        let pending = PendingSignIn {
            connector: "c".into(),
            connection: "main".into(),
            pkce_verifier: "v".into(),
            redirect_uri: "http://x/redirect/c".into(),
            created_at: now(),
            principal: "alice".into(),
            binding_hash: "ab".into(),
            loopback_port: None,
            code: None,
            parameter_set: Some("oauth".into()),
        };
        vault.put_pending("s1", &pending).await.unwrap();
        assert_eq!(store.pending_destination("s1").await.unwrap(), None, "the raw state is not a key");
        assert_eq!(vault.take_pending("s1", "http://x/redirect").await.unwrap(), None);
        assert_eq!(vault.take_pending("s1", "http://x/redirect/c").await.unwrap(), Some(pending));
        assert_eq!(vault.take_pending("s1", "http://x/redirect/c").await.unwrap(), None);
    }

    #[tokio::test]
    async fn tokens_copied_to_another_environment_do_not_open() {
        let store = Arc::new(SqlStore::in_memory().await.unwrap());
        let default = Vault::new(Arc::clone(&store) as Arc<dyn TokenStore>, key(), DEFAULT_ENVIRONMENT);
        let sales = Vault::new(Arc::clone(&store) as Arc<dyn TokenStore>, key(), "sales");
        sales.save_signin("c", "main", &tokens("sales-token")).await.unwrap();
        assert_eq!(default.tokens("c", "main").await.unwrap(), None, "same ids, another environment");
        let sealed = store.tokens("sales", "c", "main").await.unwrap().unwrap().sealed;
        store.put_tokens(DEFAULT_ENVIRONMENT, "c", "main", &sealed, None).await.unwrap();
        assert!(matches!(default.tokens("c", "main").await, Err(VaultError::Key(KeyError::Open))));
    }
}
