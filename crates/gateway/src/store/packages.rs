//! Published packages and the audit log, as a backend keeps them, behind
//! the async [`PackageStore`] trait. Each change of a package is one
//! transaction with its audit entry: no change is recorded without it, nor
//! an entry without its change.

use async_trait::async_trait;

use super::StoreError;

/// What is known of one version of a published package without its
/// archive: enough to list, show and compare versions.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PackageVersion {
    /// The connector.
    pub connector: String,
    /// Its version, from 1, one more at each update.
    pub version: i64,
    /// The hex SHA-256 of the archive.
    pub sha256: String,
    /// Who published it.
    pub published_by: String,
    /// When, in seconds since the Unix epoch.
    pub published_at: i64,
    /// What validation found then, as JSON.
    pub findings: String,
}

/// One version of a published package, with its archive.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PackageRow {
    /// The version.
    #[sqlx(flatten)]
    pub meta: PackageVersion,
    /// The archive, as `crate::archive::write` wrote it.
    pub archive: Vec<u8>,
}

impl std::fmt::Debug for PackageRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackageRow")
            .field("meta", &self.meta)
            .field("archive", &format_args!("{} bytes", self.archive.len()))
            .finish()
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Its place in the log (set by the backend).
    pub id: i64,
    /// When, in seconds since the Unix epoch.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What: `published`, `updated`, `deleted`, ...
    pub action: String,
    /// What it was done to, e.g. `connector Shop`.
    pub target: String,
    /// The version before, if any.
    pub before: Option<String>,
    /// The version after, if any.
    pub after: Option<String>,
}

impl AuditRow {
    /// An entry of `actor` doing `action` to `target` now.
    pub fn now(actor: &str, action: &str, target: String, before: Option<String>, after: Option<String>) -> Self {
        Self {
            id: 0,
            at: super::now() as i64,
            actor: actor.to_string(),
            action: action.to_string(),
            target,
            before,
            after,
        }
    }
}

/// Where published packages and the audit log are kept.
#[async_trait]
pub trait PackageStore: Send + Sync + std::fmt::Debug {
    /// Stores a new version of a connector's package in `environment`, if
    /// its newest stored version is still `expected` (`None`: there is none,
    /// and the connector gets `row.meta.published_by` as its owner), with
    /// the audit entry, in one transaction; `row.meta.version` is not read.
    /// Returns the new version, or `None` when the newest version is not
    /// `expected`.
    async fn put_package(
        &self,
        environment: &str,
        row: &PackageRow,
        expected: Option<i64>,
        audit: &AuditRow,
    ) -> Result<Option<i64>, StoreError>;

    /// The newest version of one published package, if there is one.
    async fn latest_package(&self, environment: &str, connector: &str) -> Result<Option<PackageRow>, StoreError>;

    /// The newest version of each of `environment`'s published packages,
    /// without the archives.
    async fn latest_versions(&self, environment: &str) -> Result<Vec<PackageVersion>, StoreError>;

    /// The newest version of one published package without its archive,
    /// if there is one.
    async fn latest_version(&self, environment: &str, connector: &str) -> Result<Option<PackageVersion>, StoreError>;

    /// The newest `limit` entries of `environment`'s audit log, newest first.
    async fn audit(&self, environment: &str, limit: u32) -> Result<Vec<AuditRow>, StoreError>;
}
