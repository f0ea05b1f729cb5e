//! Where connections' OAuth tokens and pending sign-ins live: the
//! [`CredentialStore`] trait, and its embedded SQLite implementation with
//! every secret sealed by the gateway's key.
//!
//! A shared server database can implement the same trait to let several
//! gateway instances serve the same connections.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::key::{KeyError, SecretKey};

/// A connection's tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    /// The access token sent as `Authorization: Bearer`.
    pub access_token: String,
    /// The refresh token, when the provider issued one.
    pub refresh_token: Option<String>,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("expires_at", &self.expires_at)
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
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("connector", &self.connector)
            .field("connection", &self.connection)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("credential database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A stored value does not decrypt.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A stored value does not parse.
    #[error("credential database holds an unreadable value: {0}")]
    Corrupt(String),
}

/// Storage of tokens and pending sign-ins.
pub trait CredentialStore: Send + Sync + std::fmt::Debug {
    /// Saves a connection's tokens and clears any needs-sign-in mark.
    fn save_tokens(&self, connector: &str, connection: &str, tokens: &TokenSet) -> Result<(), StoreError>;
    /// A connection's tokens, if it ever signed in.
    fn load_tokens(&self, connector: &str, connection: &str) -> Result<Option<StoredTokens>, StoreError>;
    /// Marks a connection as needing a new sign-in, with the reason.
    fn mark_needs_signin(&self, connector: &str, connection: &str, reason: &str) -> Result<(), StoreError>;
    /// Records a sign-in in progress under its `state`.
    fn put_pending(&self, state: &str, pending: &PendingSignIn) -> Result<(), StoreError>;
    /// Takes (and deletes) the sign-in with this `state`, if any.
    fn take_pending(&self, state: &str) -> Result<Option<PendingSignIn>, StoreError>;
}

/// The embedded store: one SQLite file, secrets sealed with the gateway's key.
pub struct SqliteStore {
    db: Mutex<rusqlite::Connection>,
    key: SecretKey,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, key: SecretKey) -> Result<Self, StoreError> {
        let db = rusqlite::Connection::open(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS tokens (
                connector TEXT NOT NULL,
                connection TEXT NOT NULL,
                sealed BLOB NOT NULL,
                needs_signin TEXT,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (connector, connection)
            );
            CREATE TABLE IF NOT EXISTS pending_signins (
                state TEXT PRIMARY KEY,
                sealed BLOB NOT NULL,
                created_at INTEGER NOT NULL
            );",
        )?;
        Ok(Self { db: Mutex::new(db), key })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn seal<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(self.key.seal(&json))
    }

    fn unseal<T: for<'de> Deserialize<'de>>(&self, sealed: &[u8]) -> Result<T, StoreError> {
        let json = self.key.open(sealed)?;
        serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// Pending sign-ins older than this are forgotten.
const PENDING_TTL_SECS: u64 = 600;

impl CredentialStore for SqliteStore {
    fn save_tokens(&self, connector: &str, connection: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        let sealed = self.seal(tokens)?;
        self.db().execute(
            "INSERT INTO tokens (connector, connection, sealed, needs_signin, updated_at) VALUES (?1, ?2, ?3, NULL, ?4)
             ON CONFLICT (connector, connection) DO UPDATE SET sealed = ?3, needs_signin = NULL, updated_at = ?4",
            params![connector, connection, sealed, now() as i64],
        )?;
        Ok(())
    }

    fn load_tokens(&self, connector: &str, connection: &str) -> Result<Option<StoredTokens>, StoreError> {
        let row: Option<(Vec<u8>, Option<String>)> = self
            .db()
            .query_row(
                "SELECT sealed, needs_signin FROM tokens WHERE connector = ?1 AND connection = ?2",
                params![connector, connection],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match row {
            Some((sealed, needs_signin)) => Ok(Some(StoredTokens { tokens: self.unseal(&sealed)?, needs_signin })),
            None => Ok(None),
        }
    }

    fn mark_needs_signin(&self, connector: &str, connection: &str, reason: &str) -> Result<(), StoreError> {
        self.db().execute(
            "UPDATE tokens SET needs_signin = ?3, updated_at = ?4 WHERE connector = ?1 AND connection = ?2",
            params![connector, connection, reason, now() as i64],
        )?;
        Ok(())
    }

    fn put_pending(&self, state: &str, pending: &PendingSignIn) -> Result<(), StoreError> {
        let sealed = self.seal(pending)?;
        let db = self.db();
        db.execute("DELETE FROM pending_signins WHERE created_at < ?1", params![now().saturating_sub(PENDING_TTL_SECS) as i64])?;
        db.execute(
            "INSERT INTO pending_signins (state, sealed, created_at) VALUES (?1, ?2, ?3)",
            params![state, sealed, pending.created_at as i64],
        )?;
        Ok(())
    }

    fn take_pending(&self, state: &str) -> Result<Option<PendingSignIn>, StoreError> {
        let db = self.db();
        let row: Option<(Vec<u8>, i64)> = db
            .query_row("SELECT sealed, created_at FROM pending_signins WHERE state = ?1", params![state], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        db.execute("DELETE FROM pending_signins WHERE state = ?1", params![state])?;
        match row {
            Some((_, created_at)) if (created_at as u64) + PENDING_TTL_SECS < now() => Ok(None),
            Some((sealed, _)) => Ok(Some(self.unseal(&sealed)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn store(dir: &Path) -> SqliteStore {
        let key = SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap();
        SqliteStore::open(&dir.join("creds.db"), key).unwrap()
    }

    #[test]
    fn tokens_round_trip_and_are_not_stored_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let tokens = TokenSet { access_token: "at-secret-1".into(), refresh_token: Some("rt-secret-2".into()), expires_at: Some(5) };
        store.save_tokens("c", "main", &tokens).unwrap();
        assert_eq!(store.load_tokens("c", "main").unwrap().unwrap().tokens, tokens);
        drop(store);
        let bytes = std::fs::read(dir.path().join("creds.db")).unwrap();
        for secret in [&b"at-secret-1"[..], b"rt-secret-2"] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret));
        }
    }

    #[test]
    fn pending_signin_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let pending = PendingSignIn {
            connector: "c".into(),
            connection: "main".into(),
            pkce_verifier: "v".into(),
            redirect_uri: "http://x/redirect/c".into(),
            created_at: now(),
        };
        store.put_pending("s1", &pending).unwrap();
        assert_eq!(store.take_pending("s1").unwrap(), Some(pending));
        assert_eq!(store.take_pending("s1").unwrap(), None);
    }

    #[test]
    fn needs_signin_mark_is_cleared_by_new_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let tokens = TokenSet { access_token: "a".into(), refresh_token: None, expires_at: None };
        store.save_tokens("c", "main", &tokens).unwrap();
        store.mark_needs_signin("c", "main", "refresh refused").unwrap();
        assert_eq!(store.load_tokens("c", "main").unwrap().unwrap().needs_signin.as_deref(), Some("refresh refused"));
        store.save_tokens("c", "main", &tokens).unwrap();
        assert_eq!(store.load_tokens("c", "main").unwrap().unwrap().needs_signin, None);
    }
}
