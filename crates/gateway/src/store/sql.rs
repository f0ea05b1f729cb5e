//! The SQL backend of [`TokenStore`], [`AccessStore`] and [`PackageStore`]:
//! SQLite, embedded (one file, or an in-memory database), or PostgreSQL,
//! shared by several gateways. One implementation serves both through
//! sqlx's `Any` driver: the statements are written in the SQL both speak
//! (`$1` parameters, `ON CONFLICT`, `RETURNING`), and only the schema's
//! migrations are written twice, once per dialect, under the same versions.
//!
//! The database is created (SQLite) and migrated on open; with PostgreSQL,
//! replicas that start together apply each migration once, under the
//! migrator's advisory lock.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool};

use super::{
    AccessStore, ApiKeyRow, AuditRow, ConnectionRow, ConnectionStatusRow, EnvironmentRows, PackageRow, PackageStore,
    PackageVersion, PendingDestination, PendingRow, PeopleRows, PrincipalRow, RefreshLock, StoreError, TokenRow,
    TokenStore, now,
};

/// The versioned, forward-only migrations of each dialect's schema.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a store is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded: one gateway.
    Sqlite,
    /// PostgreSQL, shared by every replica.
    Postgres,
}

/// How a store's connections are pooled.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// At most this many connections to the database.
    pub max_connections: u32,
    /// How long a statement waits for a free connection (or for the
    /// database to answer a new one) before it fails.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(5) }
    }
}

/// The channel PostgreSQL announces changes on (migration 0006).
pub const CHANGES_CHANNEL: &str = "sluice_changes";

/// The SQL store.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// A shared database's URL, to listen for its notifications.
    url: Option<std::sync::Arc<str>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the database's password.
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .field("url", &self.url.as_deref().map(redacted))
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Opens the database at `url` (`postgres://…`, `postgresql://…` or
    /// `sqlite:…`) and applies the migrations it lacks.
    pub async fn connect(url: &str, pool: &PoolSettings) -> Result<Self, StoreError> {
        let location = redacted(url);
        let open = |source| StoreError::Open { location: location.clone(), source };
        let backend = match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("postgres" | "postgresql") => Backend::Postgres,
            Some("sqlite") => Backend::Sqlite,
            _ => return Err(StoreError::Scheme { location }),
        };
        install_drivers();
        let options: AnyConnectOptions = url.parse().map_err(open)?;
        let pool = AnyPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(open)?;
        let mut store = Self::migrated(pool, backend, location).await?;
        if backend == Backend::Postgres {
            store.url = Some(url.into());
        }
        Ok(store)
    }

    /// Opens (creating if needed) the SQLite database at `path` and applies
    /// the migrations it lacks.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        // `mode=rwc` creates the file; the path is percent-encoded, since
        // `?` and `#` would end it.
        let path = percent_encoding::utf8_percent_encode(&path.to_string_lossy(), PATH_UNSAFE).to_string();
        let settings = PoolSettings { max_connections: 4, ..PoolSettings::default() };
        let store = Self::connect(&format!("sqlite://{path}?mode=rwc"), &settings).await?;
        // Readers do not wait for the writer; the mode is kept in the file.
        sqlx::query("PRAGMA journal_mode = WAL").execute(&store.pool).await?;
        Ok(store)
    }

    /// A fresh in-memory SQLite database, for a gateway built in code
    /// without a database file; its contents end with the process.
    pub async fn in_memory() -> Result<Self, StoreError> {
        install_drivers();
        let location = "memory".to_string();
        let options: AnyConnectOptions =
            "sqlite::memory:".parse().map_err(|source| StoreError::Open { location: location.clone(), source })?;
        // One connection, kept: every connection to `:memory:` is a database of its own.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { location: location.clone(), source })?;
        Self::migrated(pool, Backend::Sqlite, location).await
    }

    async fn migrated(pool: AnyPool, backend: Backend, location: String) -> Result<Self, StoreError> {
        let migrations = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrations.run(&pool).await.map_err(|source| StoreError::Migrate { location, source })?;
        Ok(Self { pool, backend, url: None })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A listener on a shared database's change notifications
    /// ([`CHANGES_CHANNEL`]), on a connection of its own; `None` for
    /// SQLite, which one gateway has to itself. The listener reconnects by
    /// itself after the connection is lost, and says so.
    pub async fn listener(&self) -> Option<Result<sqlx::postgres::PgListener, StoreError>> {
        let url = self.url.as_deref()?;
        let listen = async {
            let mut listener = sqlx::postgres::PgListener::connect(url).await?;
            listener.listen(CHANGES_CHANNEL).await?;
            Ok(listener)
        };
        Some(listen.await)
    }
}

/// What a SQLite path must not hold unescaped in a `sqlite://` URL.
const PATH_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%').add(b'?').add(b'#');

/// Registers the SQLite and PostgreSQL drivers with `Any`, once.
fn install_drivers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// A database URL fit for logs and errors: without its password.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        // A URL that does not parse may still hold a password: show its scheme only.
        Err(_) => format!("{}:…", url.split(':').next().unwrap_or_default()),
    }
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn tokens(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
    ) -> Result<Option<TokenRow>, StoreError> {
        let row: Option<(Vec<u8>, Option<String>, i64)> = sqlx::query_as(
            "SELECT sealed, needs_signin, version FROM tokens
             WHERE environment = $1 AND connector = $2 AND connection = $3",
        )
        .bind(environment)
        .bind(connector)
        .bind(connection)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(sealed, needs_signin, version)| TokenRow { sealed, needs_signin, version }))
    }

    async fn put_tokens(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        sealed: &[u8],
        expected: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        let version: Option<(i64,)> =
            match expected {
                None => sqlx::query_as(
                    "INSERT INTO tokens (environment, connector, connection, sealed, needs_signin, version, updated_at)
                     VALUES ($1, $2, $3, $4, NULL, 1, $5)
                     ON CONFLICT (environment, connector, connection) DO UPDATE
                     SET sealed = $4, needs_signin = NULL, version = tokens.version + 1, updated_at = $5
                     RETURNING version",
                )
                .bind(environment)
                .bind(connector)
                .bind(connection)
                .bind(sealed)
                .bind(now() as i64)
                .fetch_optional(&self.pool)
                .await?,
                Some(expected) => {
                    sqlx::query_as(
                        "UPDATE tokens SET sealed = $4, needs_signin = NULL, version = version + 1, updated_at = $5
                     WHERE environment = $1 AND connector = $2 AND connection = $3 AND version = $6
                     RETURNING version",
                    )
                    .bind(environment)
                    .bind(connector)
                    .bind(connection)
                    .bind(sealed)
                    .bind(now() as i64)
                    .bind(expected)
                    .fetch_optional(&self.pool)
                    .await?
                }
            };
        Ok(version.map(|(v,)| v))
    }

    async fn mark_needs_signin(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        reason: &str,
        expected: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tokens SET needs_signin = $4, version = version + 1, updated_at = $5
             WHERE environment = $1 AND connector = $2 AND connection = $3 AND version = $6",
        )
        .bind(environment)
        .bind(connector)
        .bind(connection)
        .bind(reason)
        .bind(now() as i64)
        .bind(expected)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_pending(&self, state_hash: &str, row: &PendingRow, expired_before: i64) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("DELETE FROM pending_signins WHERE created_at < $1")
            .bind(expired_before)
            .execute(&mut *transaction)
            .await?;
        sqlx::query(
            "INSERT INTO pending_signins (state_hash, environment, connector, redirect_uri, sealed, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state_hash)
        .bind(&row.environment)
        .bind(&row.connector)
        .bind(&row.redirect_uri)
        .bind(&row.sealed)
        .bind(row.created_at)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn take_pending(
        &self,
        state_hash: &str,
        environment: &str,
        redirect_uri: &str,
        created_after: i64,
    ) -> Result<Option<PendingRow>, StoreError> {
        let row: Option<(String, String, String, Vec<u8>, i64)> = sqlx::query_as(
            "DELETE FROM pending_signins
             WHERE state_hash = $1 AND environment = $2 AND redirect_uri = $3 AND created_at >= $4
             RETURNING environment, connector, redirect_uri, sealed, created_at",
        )
        .bind(state_hash)
        .bind(environment)
        .bind(redirect_uri)
        .bind(created_after)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(environment, connector, redirect_uri, sealed, created_at)| PendingRow {
            environment,
            connector,
            redirect_uri,
            sealed,
            created_at,
        }))
    }

    async fn refresh_lock(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
    ) -> Result<RefreshLock, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(RefreshLock::default());
        }
        // A transaction-scoped advisory lock on the connection's name
        // (ids hold no `/`), released when the transaction ends: on drop,
        // or when the holder's connection is lost.
        let mut transaction = self.pool.begin().await?;
        sqlx::query("SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked")
            .bind(format!("tokens/{environment}/{connector}/{connection}"))
            .fetch_one(&mut *transaction)
            .await?;
        Ok(RefreshLock::held_by(transaction))
    }

    async fn pending_destination(&self, state_hash: &str) -> Result<Option<PendingDestination>, StoreError> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT environment, connector, redirect_uri FROM pending_signins WHERE state_hash = $1")
                .bind(state_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(environment, connector, redirect_uri)| PendingDestination {
            environment,
            connector,
            redirect_uri,
        }))
    }
}

#[async_trait]
impl AccessStore for SqlStore {
    async fn people_rows(&self) -> Result<PeopleRows, StoreError> {
        let mut tx = self.pool.begin().await?;
        let principals: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, kind, display_name FROM principals ORDER BY id").fetch_all(&mut *tx).await?;
        let group_members = sqlx::query_as("SELECT group_id, member FROM group_members").fetch_all(&mut *tx).await?;
        let keys: Vec<(String, String, String, Vec<u8>, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, principal, label, secret_hash, created_at, expires_at, revoked_at FROM api_keys",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PeopleRows {
            principals: principals
                .into_iter()
                .map(|(id, kind, display_name)| PrincipalRow { id, kind, display_name })
                .collect(),
            group_members,
            api_keys: keys
                .into_iter()
                .map(|(id, principal, label, secret_hash, created_at, expires_at, revoked_at)| ApiKeyRow {
                    id,
                    principal,
                    label,
                    secret_hash,
                    created_at,
                    expires_at,
                    revoked_at,
                })
                .collect(),
        })
    }

    async fn environment_rows(&self, environment: &str) -> Result<EnvironmentRows, StoreError> {
        let mut tx = self.pool.begin().await?;
        let memberships = sqlx::query_as("SELECT principal, role FROM memberships WHERE environment = $1")
            .bind(environment)
            .fetch_all(&mut *tx)
            .await?;
        let connector_owners = sqlx::query_as("SELECT connector, owner FROM connector_owners WHERE environment = $1")
            .bind(environment)
            .fetch_all(&mut *tx)
            .await?;
        let connector_shares =
            sqlx::query_as("SELECT connector, principal, access FROM connector_shares WHERE environment = $1")
                .bind(environment)
                .fetch_all(&mut *tx)
                .await?;
        let connection_shares =
            sqlx::query_as("SELECT connector, connection, principal FROM connection_shares WHERE environment = $1")
                .bind(environment)
                .fetch_all(&mut *tx)
                .await?;
        let connections: Vec<(String, String, String, Vec<u8>)> =
            sqlx::query_as("SELECT connector, id, owner, sealed FROM connections WHERE environment = $1")
                .bind(environment)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(EnvironmentRows {
            connections: connections
                .into_iter()
                .map(|(connector, id, owner, sealed)| ConnectionRow { connector, id, owner, sealed })
                .collect(),
            memberships,
            connector_owners,
            connector_shares,
            connection_shares,
        })
    }

    async fn environment_network(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as("SELECT network FROM environments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|(network,)| network))
    }

    async fn put_environment_network(&self, id: &str, network: &str, audit: &AuditRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE environments SET network = $2 WHERE id = $1")
            .bind(id)
            .bind(network)
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, id, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_environment(&self, id: &str, display_name: &str) -> Result<(), StoreError> {
        let sql = "INSERT INTO environments (id, display_name) VALUES ($1, $2)
                   ON CONFLICT (id) DO UPDATE SET display_name = $2";
        self.execute(sql, &[id, display_name]).await.map(drop)
    }

    async fn put_principal(&self, row: &PrincipalRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO principals (id, kind, display_name, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET display_name = $3",
        )
        .bind(&row.id)
        .bind(&row.kind)
        .bind(&row.display_name)
        .bind(now() as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn put_group_member(&self, group: &str, member: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO group_members (group_id, member) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[group, member],
        )
        .await
        .map(drop)
    }

    async fn remove_group_member(&self, group: &str, member: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM group_members WHERE group_id = $1 AND member = $2";
        Ok(self.execute(sql, &[group, member]).await? == 1)
    }

    async fn put_membership(&self, environment: &str, principal: &str, role: &str) -> Result<(), StoreError> {
        let sql = "INSERT INTO memberships (environment, principal, role) VALUES ($1, $2, $3)
                   ON CONFLICT (environment, principal) DO UPDATE SET role = $3";
        self.execute(sql, &[environment, principal, role]).await.map(drop)
    }

    async fn remove_membership(&self, environment: &str, principal: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM memberships WHERE environment = $1 AND principal = $2";
        Ok(self.execute(sql, &[environment, principal]).await? == 1)
    }

    async fn put_api_key(&self, row: &ApiKeyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, principal, label, secret_hash, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.id)
        .bind(&row.principal)
        .bind(&row.label)
        .bind(&row.secret_hash)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(row.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_connector_owner(&self, environment: &str, connector: &str, owner: &str) -> Result<(), StoreError> {
        let sql = "INSERT INTO connector_owners (environment, connector, owner) VALUES ($1, $2, $3)
                   ON CONFLICT (environment, connector) DO UPDATE SET owner = $3";
        self.execute(sql, &[environment, connector, owner]).await.map(drop)
    }

    async fn put_connector_share(
        &self,
        environment: &str,
        connector: &str,
        principal: &str,
        access: &str,
        audit: &AuditRow,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO connector_shares (environment, connector, principal, access) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (environment, connector, principal) DO UPDATE SET access = $4";
        self.execute_audited(sql, &[environment, connector, principal, access], environment, audit).await.map(drop)
    }

    async fn remove_connector_share(
        &self,
        environment: &str,
        connector: &str,
        principal: &str,
        audit: &AuditRow,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM connector_shares WHERE environment = $1 AND connector = $2 AND principal = $3";
        Ok(self.execute_audited(sql, &[environment, connector, principal], environment, audit).await? == 1)
    }

    async fn put_connection_share(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        principal: &str,
        audit: &AuditRow,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO connection_shares (environment, connector, connection, principal)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
        self.execute_audited(sql, &[environment, connector, connection, principal], environment, audit).await.map(drop)
    }

    async fn remove_connection_share(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        principal: &str,
        audit: &AuditRow,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM connection_shares
                   WHERE environment = $1 AND connector = $2 AND connection = $3 AND principal = $4";
        Ok(self.execute_audited(sql, &[environment, connector, connection, principal], environment, audit).await? == 1)
    }

    async fn put_connection(
        &self,
        environment: &str,
        row: &ConnectionRow,
        audit: &AuditRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO connections (environment, connector, id, owner, sealed, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(environment)
        .bind(&row.connector)
        .bind(&row.id)
        .bind(&row.owner)
        .bind(&row.sealed)
        .bind(now() as i64)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            let row = [environment, row.connector.as_str(), row.id.as_str()];
            text_query(
                "DELETE FROM connection_status WHERE environment = $1 AND connector = $2 AND connection = $3",
                &row,
            )
            .execute(&mut *tx)
            .await?;
            insert_audit(&mut tx, environment, audit).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_connection(
        &self,
        environment: &str,
        connector: &str,
        id: &str,
        audit: &AuditRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = [environment, connector, id];
        let deleted = text_query("DELETE FROM connections WHERE environment = $1 AND connector = $2 AND id = $3", &row)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        for sql in [
            "DELETE FROM connection_shares WHERE environment = $1 AND connector = $2 AND connection = $3",
            "DELETE FROM tokens WHERE environment = $1 AND connector = $2 AND connection = $3",
            "DELETE FROM connection_status WHERE environment = $1 AND connector = $2 AND connection = $3",
        ] {
            text_query(sql, &row).execute(&mut *tx).await?;
        }
        if deleted {
            insert_audit(&mut tx, environment, audit).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn connection_status(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
    ) -> Result<Option<ConnectionStatusRow>, StoreError> {
        let sql = "SELECT status, reason, since FROM connection_status
                   WHERE environment = $1 AND connector = $2 AND connection = $3";
        let row: Option<(String, String, i64)> =
            sqlx::query_as(sql).bind(environment).bind(connector).bind(connection).fetch_optional(&self.pool).await?;
        Ok(row.map(|(status, reason, since)| ConnectionStatusRow { status, reason, since }))
    }

    async fn set_connection_status(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        status: Option<&ConnectionStatusRow>,
    ) -> Result<(), StoreError> {
        let key = [environment, connector, connection];
        match status {
            None => {
                let sql = "DELETE FROM connection_status WHERE environment = $1 AND connector = $2 AND connection = $3";
                text_query(sql, &key).execute(&self.pool).await?;
            }
            Some(row) => {
                let sql = "INSERT INTO connection_status (environment, connector, connection, status, reason, since)
                           VALUES ($1, $2, $3, $4, $5, $6)
                           ON CONFLICT (environment, connector, connection) DO NOTHING";
                text_query(sql, &[environment, connector, connection, &row.status, &row.reason])
                    .bind(row.since)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete_connector(
        &self,
        environment: &str,
        connector: &str,
        audit: Option<&AuditRow>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let key = [environment, connector];
        let connections = text_query("DELETE FROM connections WHERE environment = $1 AND connector = $2", &key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for table in
            ["connection_shares", "connection_status", "connector_shares", "connector_owners", "tokens", "packages"]
        {
            // The table names are this list's, never input.
            let sql = format!("DELETE FROM {table} WHERE environment = $1 AND connector = $2");
            text_query(&sql, &key).execute(&mut *tx).await?;
        }
        if let Some(audit) = audit {
            insert_audit(&mut tx, environment, audit).await?;
        }
        tx.commit().await?;
        Ok(connections)
    }
}

#[async_trait]
impl PackageStore for SqlStore {
    async fn put_package(
        &self,
        environment: &str,
        row: &PackageRow,
        expected: Option<i64>,
        audit: &AuditRow,
    ) -> Result<Option<i64>, StoreError> {
        let (meta, mut tx) = (&row.meta, self.pool.begin().await?);
        let (latest,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(version) FROM packages WHERE environment = $1 AND connector = $2")
                .bind(environment)
                .bind(&meta.connector)
                .fetch_one(&mut *tx)
                .await?;
        if latest != expected {
            return Ok(None);
        }
        let version = latest.unwrap_or(0) + 1;
        let insert = sqlx::query(
            "INSERT INTO packages (environment, connector, version, sha256, archive, published_by, published_at, findings)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(environment)
        .bind(&meta.connector)
        .bind(version)
        .bind(&meta.sha256)
        .bind(&row.archive)
        .bind(&meta.published_by)
        .bind(meta.published_at)
        .bind(&meta.findings);
        match insert.execute(&mut *tx).await {
            Ok(_) => {}
            // Another gateway stored this version first, between our read
            // and our write: as stale as a version read before it.
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        if expected.is_none() {
            sqlx::query(
                "INSERT INTO connector_owners (environment, connector, owner) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(environment)
            .bind(&meta.connector)
            .bind(&meta.published_by)
            .execute(&mut *tx)
            .await?;
        }
        insert_audit(&mut tx, environment, audit).await?;
        tx.commit().await?;
        Ok(Some(version))
    }

    async fn latest_package(&self, environment: &str, connector: &str) -> Result<Option<PackageRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT connector, version, sha256, published_by, published_at, findings, archive FROM packages
             WHERE environment = $1 AND connector = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(environment)
        .bind(connector)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn latest_versions(&self, environment: &str) -> Result<Vec<PackageVersion>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT connector, version, sha256, published_by, published_at, findings FROM packages p
             WHERE environment = $1
               AND version = (SELECT MAX(version) FROM packages q WHERE q.environment = p.environment AND q.connector = p.connector)
             ORDER BY connector",
        )
        .bind(environment)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn latest_version(&self, environment: &str, connector: &str) -> Result<Option<PackageVersion>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT connector, version, sha256, published_by, published_at, findings FROM packages
             WHERE environment = $1 AND connector = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(environment)
        .bind(connector)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn audit(&self, environment: &str, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<(i64, i64, String, String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT id, at, actor, action, target, before, after FROM audit_log
             WHERE environment = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(environment)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, at, actor, action, target, before, after)| AuditRow {
                id,
                at,
                actor,
                action,
                target,
                before,
                after,
            })
            .collect())
    }
}

/// A statement with its parameters, all text, bound in order.
fn text_query<'q>(sql: &'q str, values: &[&'q str]) -> sqlx::query::Query<'q, Any, AnyArguments<'q>> {
    values.iter().fold(sqlx::query(sql), |query, value| query.bind(*value))
}

/// Appends an audit entry inside the change's transaction.
async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, Any>,
    environment: &str,
    audit: &AuditRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (environment, at, actor, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(environment)
    .bind(audit.at)
    .bind(&audit.actor)
    .bind(&audit.action)
    .bind(&audit.target)
    .bind(&audit.before)
    .bind(&audit.after)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    /// Runs one statement whose parameters are all text and, when it
    /// changed a row, appends the audit entry, in one transaction; returns
    /// the rows it changed.
    async fn execute_audited(
        &self,
        sql: &'static str,
        values: &[&str],
        environment: &str,
        audit: &AuditRow,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = text_query(sql, values).execute(&mut *tx).await?.rows_affected();
        if changed > 0 {
            insert_audit(&mut tx, environment, audit).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Runs one statement whose parameters are all text; returns the rows it changed.
    async fn execute(&self, sql: &'static str, values: &[&str]) -> Result<u64, StoreError> {
        Ok(text_query(sql, values).execute(&self.pool).await?.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where a test's database is: a SQLite file in a directory of its own,
    /// or a database of its own on the tests' PostgreSQL server.
    enum Place {
        Sqlite(tempfile::TempDir),
        Postgres(String),
    }

    impl Place {
        fn new(backend: Backend) -> Self {
            match backend {
                Backend::Sqlite => Self::Sqlite(tempfile::tempdir().unwrap()),
                Backend::Postgres => Self::Postgres(sluice_test_postgres::database()),
            }
        }

        /// Opens the database (again).
        async fn open(&self) -> SqlStore {
            match self {
                Self::Sqlite(dir) => SqlStore::open(&dir.path().join("creds.db")).await.unwrap(),
                Self::Postgres(url) => SqlStore::connect(url, &PoolSettings::default()).await.unwrap(),
            }
        }
    }

    /// One suite, two backends: each test runs against SQLite and PostgreSQL.
    macro_rules! on_both_backends {
        ($($test:ident),* $(,)?) => {
            mod sqlite {
                $(#[tokio::test]
                async fn $test() {
                    super::$test(super::Place::new(super::Backend::Sqlite)).await
                })*
            }
            mod postgres {
                $(#[tokio::test]
                async fn $test() {
                    super::$test(super::Place::new(super::Backend::Postgres)).await
                })*
            }
        };
    }

    on_both_backends!(
        tokens_are_versioned_and_compare_and_set,
        needs_signin_mark_is_cleared_by_new_tokens,
        pending_signin_is_taken_once_and_only_on_its_redirect_uri,
        expired_pending_signins_are_not_taken,
        reopening_keeps_the_data_and_migrates_once,
        access_rows_round_trip_and_shares_replace,
        a_role_outside_the_three_is_refused_by_the_schema,
        an_api_key_is_revoked_once,
        tokens_of_two_environments_are_apart,
        a_change_and_its_audit_entry_are_written_together_and_a_no_op_writes_none,
        package_versions_follow_each_other_and_a_stale_one_is_refused,
        a_connection_status_stays_until_cleared_or_the_connection_goes,
    );

    async fn a_connection_status_stays_until_cleared_or_the_connection_goes(place: Place) {
        let store = place.open().await;
        let marked = |reason: &str, since| ConnectionStatusRow {
            status: "unauthenticated".into(),
            reason: reason.into(),
            since,
        };
        assert_eq!(store.connection_status(D, "Shop", "main").await.unwrap(), None);
        store.set_connection_status(D, "Shop", "main", Some(&marked("first", 10))).await.unwrap();
        // A second mark keeps the first's reason and time.
        store.set_connection_status(D, "Shop", "main", Some(&marked("second", 20))).await.unwrap();
        assert_eq!(store.connection_status(D, "Shop", "main").await.unwrap(), Some(marked("first", 10)));
        assert_eq!(store.connection_status("sales", "Shop", "main").await.unwrap(), None, "one environment's");
        store.set_connection_status(D, "Shop", "main", None).await.unwrap();
        assert_eq!(store.connection_status(D, "Shop", "main").await.unwrap(), None);
        // A connection made again, deleted, or its connector deleted starts clean.
        let row = ConnectionRow { connector: "Shop".into(), id: "main".into(), owner: "alice".into(), sealed: vec![1] };
        store.set_connection_status(D, "Shop", "main", Some(&marked("old", 1))).await.unwrap();
        assert!(store.put_connection(D, &row, &note()).await.unwrap());
        assert_eq!(store.connection_status(D, "Shop", "main").await.unwrap(), None);
        store.set_connection_status(D, "Shop", "main", Some(&marked("old", 1))).await.unwrap();
        assert!(store.delete_connection(D, "Shop", "main", &note()).await.unwrap());
        assert_eq!(store.connection_status(D, "Shop", "main").await.unwrap(), None);
        store.set_connection_status(D, "Shop", "file-made", Some(&marked("old", 1))).await.unwrap();
        store.delete_connector(D, "Shop", None).await.unwrap();
        assert_eq!(store.connection_status(D, "Shop", "file-made").await.unwrap(), None);
    }

    /// The default environment.
    const D: &str = "default";

    /// An audit entry for the changes the tests make.
    fn note() -> AuditRow {
        AuditRow::now("test", "changed", "it".into(), None, None)
    }

    fn pending(connector: &str) -> PendingRow {
        PendingRow {
            environment: D.into(),
            connector: connector.into(),
            redirect_uri: "http://gw/redirect/c".into(),
            sealed: vec![1, 2, 3],
            created_at: now() as i64,
        }
    }

    async fn tokens_are_versioned_and_compare_and_set(place: Place) {
        let store = place.open().await;
        assert_eq!(store.tokens(D, "c", "main").await.unwrap(), None);
        assert_eq!(store.put_tokens(D, "c", "main", b"one", None).await.unwrap(), Some(1));
        assert_eq!(store.put_tokens(D, "c", "main", b"two", Some(1)).await.unwrap(), Some(2));
        // A writer that read version 1 lost the race: nothing is written.
        assert_eq!(store.put_tokens(D, "c", "main", b"stale", Some(1)).await.unwrap(), None);
        let row = store.tokens(D, "c", "main").await.unwrap().unwrap();
        assert_eq!((row.sealed.as_slice(), row.version), (&b"two"[..], 2));
    }

    async fn needs_signin_mark_is_cleared_by_new_tokens(place: Place) {
        let store = place.open().await;
        store.put_tokens(D, "c", "main", b"a", None).await.unwrap();
        assert!(!store.mark_needs_signin(D, "c", "main", "refused", 7).await.unwrap());
        assert!(store.mark_needs_signin(D, "c", "main", "refused", 1).await.unwrap());
        assert_eq!(store.tokens(D, "c", "main").await.unwrap().unwrap().needs_signin.as_deref(), Some("refused"));
        store.put_tokens(D, "c", "main", b"a", None).await.unwrap();
        assert_eq!(store.tokens(D, "c", "main").await.unwrap().unwrap().needs_signin, None);
    }

    async fn pending_signin_is_taken_once_and_only_on_its_redirect_uri(place: Place) {
        let store = place.open().await;
        let row = pending("c");
        store.put_pending("h1", &row, 0).await.unwrap();
        assert_eq!(store.take_pending("h1", D, "http://gw/redirect", 0).await.unwrap(), None);
        assert_eq!(
            store.pending_destination("h1").await.unwrap(),
            Some(PendingDestination {
                environment: D.into(),
                connector: "c".into(),
                redirect_uri: "http://gw/redirect/c".into()
            })
        );
        // Another environment's redirect cannot take it.
        assert_eq!(store.take_pending("h1", "sales", "http://gw/redirect/c", 0).await.unwrap(), None);
        assert_eq!(store.take_pending("h1", D, "http://gw/redirect/c", 0).await.unwrap(), Some(row));
        assert_eq!(store.take_pending("h1", D, "http://gw/redirect/c", 0).await.unwrap(), None);
    }

    async fn expired_pending_signins_are_not_taken(place: Place) {
        let store = place.open().await;
        let old = PendingRow { created_at: 10, ..pending("c") };
        store.put_pending("h1", &old, 0).await.unwrap();
        assert_eq!(store.take_pending("h1", D, "http://gw/redirect/c", 11).await.unwrap(), None);
    }

    async fn reopening_keeps_the_data_and_migrates_once(place: Place) {
        place.open().await.put_tokens(D, "c", "main", b"kept", None).await.unwrap();
        let again = place.open().await;
        assert_eq!(again.tokens(D, "c", "main").await.unwrap().unwrap().sealed, b"kept");
    }

    async fn access_rows_round_trip_and_shares_replace(place: Place) {
        let store = place.open().await;
        let alice = PrincipalRow { id: "alice".into(), kind: "user".into(), display_name: "Alice".into() };
        store.put_principal(&alice).await.unwrap();
        store.put_principal(&PrincipalRow { display_name: "Alice L.".into(), ..alice.clone() }).await.unwrap();
        store
            .put_principal(&PrincipalRow { id: "sales".into(), kind: "group".into(), display_name: "Sales".into() })
            .await
            .unwrap();
        store.put_group_member("sales", "bob").await.unwrap();
        store.put_group_member("sales", "bob").await.unwrap();
        store.put_membership("default", "alice", "maker").await.unwrap();
        store.put_membership("default", "alice", "admin").await.unwrap();
        store.put_connector_owner("default", "Shop", "alice").await.unwrap();
        store.put_connector_share("default", "Shop", "sales", "can-use", &note()).await.unwrap();
        store.put_connector_share("default", "Shop", "sales", "can-edit", &note()).await.unwrap();
        store.put_connection_share("default", "Shop", "main", "bob", &note()).await.unwrap();
        let people = store.people_rows().await.unwrap();
        assert_eq!(people.principals.len(), 2);
        assert_eq!(people.principals[0].display_name, "Alice L.");
        assert_eq!(people.group_members, [("sales".to_string(), "bob".to_string())]);
        let rows = store.environment_rows(D).await.unwrap();
        assert_eq!(rows.memberships, [("alice".to_string(), "admin".to_string())]);
        assert_eq!(rows.connector_shares, [("Shop".into(), "sales".into(), "can-edit".into())]);
        assert_eq!(rows.connection_shares, [("Shop".into(), "main".into(), "bob".into())]);
        assert!(store.remove_connection_share("default", "Shop", "main", "bob", &note()).await.unwrap());
        assert!(!store.remove_connection_share("default", "Shop", "main", "bob", &note()).await.unwrap());
        // Another environment sees none of it.
        assert!(store.environment_rows("other").await.unwrap().memberships.is_empty());
        // An environment must exist before it has members.
        assert!(store.put_membership("other", "alice", "user").await.is_err());
        store.put_environment("other", "Other").await.unwrap();
        store.put_membership("other", "alice", "user").await.unwrap();
        assert_eq!(store.environment_rows(D).await.unwrap().memberships.len(), 1);
    }

    async fn a_role_outside_the_three_is_refused_by_the_schema(place: Place) {
        let store = place.open().await;
        assert!(store.put_membership("default", "alice", "owner").await.is_err());
        assert!(store.put_connector_share("default", "Shop", "bob", "can-delete", &note()).await.is_err());
    }

    async fn an_api_key_is_revoked_once(place: Place) {
        let store = place.open().await;
        let row = ApiKeyRow {
            id: "0123abcd4567".into(),
            principal: "alice".into(),
            label: "ci".into(),
            secret_hash: vec![7; 32],
            created_at: 1,
            expires_at: Some(99),
            revoked_at: None,
        };
        store.put_api_key(&row).await.unwrap();
        assert!(store.put_api_key(&row).await.is_err(), "a key id is unique");
        assert!(store.revoke_api_key(&row.id, 5).await.unwrap());
        assert!(!store.revoke_api_key(&row.id, 6).await.unwrap());
        assert_eq!(store.people_rows().await.unwrap().api_keys[0].revoked_at, Some(5));
    }

    async fn tokens_of_two_environments_are_apart(place: Place) {
        let store = place.open().await;
        store.put_environment("sales", "Sales").await.unwrap();
        store.put_tokens(D, "c", "main", b"default's", None).await.unwrap();
        store.put_tokens("sales", "c", "main", b"sales'", None).await.unwrap();
        assert_eq!(store.tokens(D, "c", "main").await.unwrap().unwrap().sealed, b"default's");
        assert_eq!(store.tokens("sales", "c", "main").await.unwrap().unwrap().sealed, b"sales'");
        store.delete_connector("sales", "c", None).await.unwrap();
        assert_eq!(store.tokens("sales", "c", "main").await.unwrap(), None);
        assert!(store.tokens(D, "c", "main").await.unwrap().is_some(), "another environment's connector stays");
    }

    #[tokio::test]
    async fn a_database_from_before_environments_keeps_its_tokens_and_sign_ins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.db");
        {
            // The schema as it was: the first two migrations only.
            let mut before = sqlx::migrate!("./migrations/sqlite");
            before.migrations = before.migrations.iter().filter(|m| m.version <= 2).cloned().collect();
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            before.run(&pool).await.unwrap();
            sqlx::query(
                "INSERT INTO tokens (connector, connection, sealed, needs_signin, version, updated_at)
                 VALUES ('c', 'main', x'6b657074', 'refused', 3, 1)",
            )
            .execute(&pool)
            .await
            .unwrap();
            let created = now() as i64;
            sqlx::query(
                "INSERT INTO pending_signins (state_hash, connector, redirect_uri, sealed, created_at)
                 VALUES ('h1', 'c', 'http://gw/redirect/c', x'010203', $1)",
            )
            .bind(created)
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
        let store = SqlStore::open(&path).await.unwrap();
        let row = store.tokens(D, "c", "main").await.unwrap().unwrap();
        assert_eq!(
            (row.sealed.as_slice(), row.needs_signin.as_deref(), row.version),
            (&b"kept"[..], Some("refused"), 3)
        );
        let taken = store.take_pending("h1", D, "http://gw/redirect/c", 0).await.unwrap().unwrap();
        assert_eq!((taken.environment.as_str(), taken.connector.as_str()), (D, "c"));
    }

    async fn a_change_and_its_audit_entry_are_written_together_and_a_no_op_writes_none(place: Place) {
        let store = place.open().await;
        store.put_connector_share(D, "Shop", "sales", "can-use", &note()).await.unwrap();
        assert!(!store.remove_connector_share(D, "Shop", "nobody", &note()).await.unwrap());
        assert!(store.remove_connector_share(D, "Shop", "sales", &note()).await.unwrap());
        // A share that the schema refuses leaves no entry behind either.
        assert!(store.put_connector_share(D, "Shop", "bob", "can-delete", &note()).await.is_err());
        assert_eq!(store.audit(D, 10).await.unwrap().len(), 2);
    }

    async fn package_versions_follow_each_other_and_a_stale_one_is_refused(place: Place) {
        let store = place.open().await;
        let row = |sha: &str| PackageRow {
            meta: PackageVersion {
                connector: "Shop".into(),
                version: 0,
                sha256: sha.into(),
                published_by: "alice".into(),
                published_at: 1,
                findings: "[]".into(),
            },
            archive: sha.as_bytes().to_vec(),
        };
        assert_eq!(store.put_package(D, &row("a1"), None, &note()).await.unwrap(), Some(1));
        assert_eq!(store.put_package(D, &row("b2"), None, &note()).await.unwrap(), None, "it exists");
        assert_eq!(store.put_package(D, &row("b2"), Some(1), &note()).await.unwrap(), Some(2));
        assert_eq!(store.put_package(D, &row("c3"), Some(1), &note()).await.unwrap(), None, "1 is stale");
        let latest = store.latest_package(D, "Shop").await.unwrap().unwrap();
        assert_eq!((latest.meta.version, latest.archive.as_slice()), (2, &b"b2"[..]));
        assert_eq!(store.latest_versions(D).await.unwrap().len(), 1);
        assert_eq!(store.environment_rows(D).await.unwrap().connector_owners, [("Shop".into(), "alice".into())]);
        assert_eq!(store.audit(D, 10).await.unwrap().len(), 2, "refused versions leave no entry");
    }

    #[tokio::test]
    async fn a_url_of_no_backend_is_refused_and_errors_never_show_a_password() {
        let error = SqlStore::connect("mysql://root:hunter2@db/sluice", &PoolSettings::default()).await.unwrap_err();
        assert!(matches!(error, StoreError::Scheme { .. }), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert_eq!(redacted("postgres://sluice:hunter2@db:5432/sluice"), "postgres://sluice:redacted@db:5432/sluice");
        assert_eq!(redacted("postgres://sluice@db/sluice"), "postgres://sluice@db/sluice");
        assert!(!redacted("postgres://sluice:hunter2@[db/sluice").contains("hunter2"));
        // Nothing listens on port 1: the error names the database, not its password.
        let settings = PoolSettings { acquire_timeout: Duration::from_millis(500), ..PoolSettings::default() };
        let error = SqlStore::connect("postgres://sluice:hunter2@127.0.0.1:1/sluice", &settings).await.unwrap_err();
        assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
        assert!(!format!("{error} {error:?}").contains("hunter2"), "{error:?}");
    }

    #[tokio::test]
    async fn gateways_that_start_together_on_a_new_postgres_database_migrate_it_once() {
        let url = sluice_test_postgres::database();
        let opening = (0..4).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { SqlStore::connect(&url, &PoolSettings::default()).await })
        });
        let mut stores = Vec::new();
        for store in opening {
            stores.push(store.await.unwrap().unwrap());
        }
        let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&stores[0].pool)
            .await
            .unwrap();
        let expected: Vec<(i64,)> = POSTGRES_MIGRATIONS.iter().map(|m| (m.version,)).collect();
        assert_eq!(applied, expected, "each migration once");
    }

    #[tokio::test]
    async fn a_refresh_lock_is_held_against_other_gateways_until_dropped() {
        let url = sluice_test_postgres::database();
        let (one, two) = (
            SqlStore::connect(&url, &PoolSettings::default()).await.unwrap(),
            SqlStore::connect(&url, &PoolSettings::default()).await.unwrap(),
        );
        let held = one.refresh_lock(D, "c", "main").await.unwrap();
        let waiting = tokio::spawn(async move { two.refresh_lock(D, "c", "main").await.map(drop) });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "another gateway waits for the lock");
        // Another connection's lock is its own.
        tokio::time::timeout(Duration::from_secs(5), one.refresh_lock(D, "c", "other")).await.unwrap().unwrap();
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test]
    async fn postgres_over_tls_encrypts_and_checks_the_servers_certificate_when_asked() {
        let cluster = sluice_test_postgres::Cluster::with_tls().expect("a PostgreSQL server with TLS");
        let url = cluster.create_database();
        let encrypted = SqlStore::connect(&format!("{url}?sslmode=require"), &PoolSettings::default()).await.unwrap();
        let (ssl,): (bool,) = sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&encrypted.pool)
            .await
            .unwrap();
        assert!(ssl, "the connection is encrypted");
        // Verified against the Mozilla roots, a self-signed certificate is refused...
        let settings = PoolSettings { acquire_timeout: Duration::from_secs(2), ..PoolSettings::default() };
        let refused = SqlStore::connect(&format!("{url}?sslmode=verify-full"), &settings).await.unwrap_err();
        assert!(matches!(refused, StoreError::Open { .. }), "{refused:?}");
        // ...and accepted against its own, named in the URL.
        let root = cluster.certificate().display().to_string();
        let verified = format!("{url}?sslmode=verify-full&sslrootcert={root}");
        SqlStore::connect(&verified, &PoolSettings::default()).await.unwrap();
    }
}
