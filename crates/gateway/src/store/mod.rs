//! The gateway's state at rest: OAuth tokens and pending sign-ins behind
//! the async [`TokenStore`] trait, principals, roles, API keys and shares
//! behind [`AccessStore`], published packages and the audit log behind
//! [`PackageStore`]; one backend serves them all ([`sql`]: SQLite,
//! embedded, or PostgreSQL, shared by several gateways).
//!
//! A backend stores opaque blobs. Sealing happens once, above every backend,
//! in [`Vault`]: each secret value is encrypted under the gateway's
//! [`SecretKey`](key::SecretKey) and bound to the row it belongs to, so a
//! backend never sees a token, and a sealed value copied to another row does
//! not open.

mod access;
pub mod key;
mod packages;
pub mod sql;
mod vault;

use std::fmt;

use async_trait::async_trait;

pub use access::{
    AccessStore, ApiKeyRow, ConnectionRow, ConnectionStatusRow, EnvironmentRows, PeopleRows, PrincipalRow,
};
pub use packages::{AuditRow, PackageRow, PackageStore, PackageVersion};
pub use vault::{COMPLETION, Endpoints, PendingSignIn, StoredTokens, TokenSet, Vault, VaultError, now};

/// A connection's token row, as a backend keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// The sealed [`TokenSet`].
    pub sealed: Vec<u8>,
    /// Set when a refresh was refused: why the connection needs a new sign-in.
    pub needs_signin: Option<String>,
    /// Bumped on every write; compare-and-set writes name the version they read.
    pub version: i64,
}

impl fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRow")
            .field("sealed", &format_args!("{} bytes", self.sealed.len()))
            .field("needs_signin", &self.needs_signin)
            .field("version", &self.version)
            .finish()
    }
}

/// A sign-in waiting for the provider's redirect, as a backend keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingRow {
    /// The environment of the connection being signed in.
    pub environment: String,
    /// The connector being signed in.
    pub connector: String,
    /// The redirect URI the sign-in must come back on.
    pub redirect_uri: String,
    /// The sealed [`PendingSignIn`].
    pub sealed: Vec<u8>,
    /// When it started, in seconds since the Unix epoch.
    pub created_at: i64,
}

impl fmt::Debug for PendingRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRow")
            .field("environment", &self.environment)
            .field("connector", &self.connector)
            .field("redirect_uri", &self.redirect_uri)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Where a pending sign-in must come back: to explain a redirect that
/// arrived elsewhere, and to find the environment of one that arrived on the
/// global redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDestination {
    /// The environment of the connection being signed in.
    pub environment: String,
    /// The connector being signed in.
    pub connector: String,
    /// The redirect URI the sign-in must come back on.
    pub redirect_uri: String,
}

/// A backend failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("cannot open the store {location}")]
    Open {
        /// The database (a URL without its password, or `memory`).
        location: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A database URL of no backend this gateway has.
    #[error("`{location}` is no database URL of this gateway: it starts with `postgres://` or `sqlite:`")]
    Scheme {
        /// The URL, without its password.
        location: String,
    },
    /// The database's migrations failed.
    #[error("cannot migrate the store {location}")]
    Migrate {
        /// The database.
        location: String,
        /// Why.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A statement failed.
    #[error("the store failed")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Whether the database could not be reached (down, restarting,
    /// unreachable, or every connection busy): a failure that passes, unlike
    /// a statement the database refused.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Open { source, .. } | StoreError::Database(source) => unreachable_database(source),
            StoreError::Migrate { source: sqlx::migrate::MigrateError::Execute(source), .. } => {
                unreachable_database(source)
            }
            _ => false,
        }
    }
}

fn unreachable_database(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        // SQLSTATE class 08 (connection exception); the server shutting
        // down, starting or out of connections.
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")),
        _ => false,
    }
}

/// Where tokens and pending sign-ins are kept: an async trait, so that an
/// embedded database and a shared server database can both serve it. Every
/// value it holds is an opaque sealed blob. A connection is named by its
/// environment, its connector and its own id.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// A connection's token row, if it ever signed in.
    async fn tokens(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
    ) -> Result<Option<TokenRow>, StoreError>;

    /// Saves a connection's sealed tokens and clears any needs-sign-in mark.
    /// With `expected`, only if the row is still at that version (a refresh
    /// that must not overwrite a newer sign-in); without, unconditionally (a
    /// sign-in). Returns the new version, or `None` when the row had moved on.
    async fn put_tokens(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        sealed: &[u8],
        expected: Option<i64>,
    ) -> Result<Option<i64>, StoreError>;

    /// Marks a connection as needing a new sign-in, if its row is still at
    /// `expected`; returns whether it was marked.
    async fn mark_needs_signin(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        reason: &str,
        expected: i64,
    ) -> Result<bool, StoreError>;

    /// Records a sign-in in progress under the hash of its `state`, and
    /// forgets those started before `expired_before`.
    async fn put_pending(&self, state_hash: &str, row: &PendingRow, expired_before: i64) -> Result<(), StoreError>;

    /// Takes (deletes and returns, in one statement) the pending sign-in with
    /// this state hash, if it was started at `created_after` or later in
    /// `environment` and must come back on `redirect_uri`. A sign-in that
    /// came back on the wrong redirect URI is left in place.
    async fn take_pending(
        &self,
        state_hash: &str,
        environment: &str,
        redirect_uri: &str,
        created_after: i64,
    ) -> Result<Option<PendingRow>, StoreError>;

    /// Where a pending sign-in must come back, without taking it.
    async fn pending_destination(&self, state_hash: &str) -> Result<Option<PendingDestination>, StoreError>;

    /// Waits for, and holds until dropped, the right to refresh a
    /// connection's tokens, against every other gateway on the same
    /// database: the holder reads the tokens again and refreshes only if
    /// no one did meanwhile. A database that one gateway has to itself
    /// needs no lock here (the gateway serialises its own refreshes).
    async fn refresh_lock(
        &self,
        _environment: &str,
        _connector: &str,
        _connection: &str,
    ) -> Result<RefreshLock, StoreError> {
        Ok(RefreshLock::default())
    }
}

/// The right to refresh one connection's tokens, held until dropped.
#[derive(Default)]
pub struct RefreshLock {
    /// What holds it: a transaction holding an advisory lock, which ends
    /// (and releases it) when dropped.
    _held: Option<Box<dyn std::any::Any + Send>>,
}

impl RefreshLock {
    /// A lock held by `holder` until it is dropped.
    pub fn held_by(holder: impl std::any::Any + Send) -> Self {
        Self { _held: Some(Box::new(holder)) }
    }
}

impl fmt::Debug for RefreshLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshLock").field("held", &self._held.is_some()).finish()
    }
}
