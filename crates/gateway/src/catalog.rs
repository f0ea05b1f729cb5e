//! Publishing connectors through the management API: publish, update,
//! download and delete, each checked against the caller's rights.
//!
//! The store is the source of a published connector: every version is kept
//! there as its archive, content-addressed by SHA-256, and the newest is
//! the one served. Its folder in the environment's packages directory is
//! made from it (at publish, at update, and at start when the folder is
//! missing or differs), so that the registry loads it as it loads any
//! folder, and a call in flight keeps the version it started with.
//! Connectors whose folder has no version in the store are the operator's
//! (the GitOps way), and read-only here.
//!
//! A publish or update is checked before anything changes: the archive is
//! read ([`crate::archive`]), its files are written into a staging folder
//! and validated as `sluice validate` does; errors refuse it with the
//! findings, and nothing of it is left. Only then are the new version and
//! its audit entry stored, in one transaction, and the folder swapped in.
//! A check ([`Catalog::check`]) is the same staging and validation, with
//! every finding returned and nothing stored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sluice_tools::validate::{Finding, Severity, ValidateOptions, Validator};

use crate::access::{Access, Caller, Denied, Role};
use crate::archive::{self, ArchiveError, Files};
use crate::environment::Environment;
use crate::store::{AuditRow, PackageRow, PackageStore, PackageVersion, StoreError, now};

/// A publish, update, download or delete was refused, or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The caller may not see the connector, or may not do this.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The archive is unusable.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// An id that cannot be a connector's.
    #[error("`{0}` is not a connector id: 1 to 64 letters, digits, `_` or `-`")]
    BadId(String),
    /// No id given, and the definition has no title to make one from.
    #[error("give the connector's id (`?id=`): the definition has no title to make one from")]
    NoId,
    /// A connector with this id exists.
    #[error("connector `{0}` exists; update it instead")]
    Exists(String),
    /// The connector's folder is the operator's, not the API's.
    #[error("connector `{0}` comes from the packages folder, which only the gateway's operator changes")]
    ReadOnly(String),
    /// `If-Match` names a version that is not the newest.
    #[error("connector `{connector}` is at {current}, not {expected}")]
    Stale {
        /// The connector.
        connector: String,
        /// The `If-Match` given.
        expected: String,
        /// The newest version's `ETag`.
        current: String,
    },
    /// The package has errors; nothing was changed.
    #[error("the package has {} errors; nothing was published", .0.iter().filter(|f| f.severity == Severity::Error).count())]
    Refused(Vec<Finding>),
    /// A file of the package folder could not be written or read.
    #[error("connector `{connector}`'s folder: {source}")]
    Folder {
        /// The connector.
        connector: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Validation itself failed (not the package).
    #[error("the package could not be validated: {0}")]
    Validate(String),
    /// The store failed.
    #[error("the package store failed")]
    Store(#[from] StoreError),
    /// The access change that goes with it failed.
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
}

/// A version just published or updated.
#[derive(Debug, Clone)]
pub struct Published {
    /// The connector.
    pub connector: String,
    /// Its version.
    pub version: i64,
    /// Its `ETag`.
    pub etag: String,
    /// The warnings validation found (errors would have refused it).
    pub warnings: Vec<Finding>,
}

/// A connector's package for download.
#[derive(Debug, Clone)]
pub struct Download {
    /// The archive.
    pub archive: Vec<u8>,
    /// Its `ETag`, for a published connector.
    pub etag: Option<String>,
}

/// The published connectors whose folders a gateway made from the store,
/// by id, with the SHA-256 of the version each folder holds.
pub type Installed = HashMap<String, String>;

/// The service.
#[derive(Debug)]
pub struct Catalog {
    store: Arc<dyn PackageStore>,
    access: Arc<Access>,
    /// Shares one runtime between validations (started once, when a
    /// package first has code).
    validator: Arc<Mutex<Validator>>,
    max_expanded: u64,
    /// What each environment's folders hold of the store.
    installed: Mutex<HashMap<String, Installed>>,
    /// One change of the folders at a time: a publish here and a sync of
    /// a change made elsewhere never swap the same folder together.
    installing: tokio::sync::Mutex<()>,
}

impl Catalog {
    /// The service over `store`; archives may expand to `max_expanded`
    /// bytes; `installed` is what [`Catalog::materialize`] made of each
    /// environment at start.
    pub fn new(
        store: Arc<dyn PackageStore>,
        access: Arc<Access>,
        max_expanded: u64,
        installed: HashMap<String, Installed>,
    ) -> Self {
        Self {
            store,
            access,
            validator: Default::default(),
            max_expanded,
            installed: Mutex::new(installed),
            installing: Default::default(),
        }
    }

    /// Brings `environment`'s folders of published connectors in line with
    /// the store, after another gateway on the same database changed it:
    /// new and updated versions are written, deleted connectors' folders
    /// removed, and the registry reloaded when anything changed (calls in
    /// flight keep the version they started with). Returns how many
    /// folders changed.
    pub async fn sync(&self, environment: &Environment) -> Result<usize, CatalogError> {
        let _one_at_a_time = self.installing.lock().await;
        let mut installed = self.installed_in(environment.id());
        let changed =
            Self::materialize(&*self.store, environment.id(), environment.registry().root(), &mut installed).await;
        self.lock_installed().insert(environment.id().to_string(), installed);
        if changed.as_ref().is_ok_and(|changed| *changed > 0) {
            environment.registry().reload().await;
        }
        changed
    }

    fn lock_installed(&self) -> std::sync::MutexGuard<'_, HashMap<String, Installed>> {
        self.installed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn installed_in(&self, environment: &str) -> Installed {
        self.lock_installed().get(environment).cloned().unwrap_or_default()
    }

    /// Puts a stored version's staged folder where the registry loads it,
    /// and reloads: the next call uses it, calls in flight keep theirs.
    async fn install(
        &self,
        staged: Staged,
        environment: &Environment,
        version: &PackageVersion,
    ) -> Result<(), CatalogError> {
        let _one_at_a_time = self.installing.lock().await;
        staged.swap_in(environment.registry().root(), &version.connector)?;
        self.lock_installed()
            .entry(environment.id().to_string())
            .or_default()
            .insert(version.connector.clone(), version.sha256.clone());
        environment.registry().reload().await;
        Ok(())
    }

    /// The `ETag` of a published version.
    pub fn etag(version: &PackageVersion) -> String {
        format!("\"{}-{}\"", version.version, &version.sha256[..16.min(version.sha256.len())])
    }

    /// The newest published version of each connector of `environment`.
    pub async fn published(&self, environment: &str) -> Result<Vec<PackageVersion>, CatalogError> {
        Ok(self.store.latest_versions(environment).await?)
    }

    /// The newest `limit` entries of `environment`'s audit log.
    pub async fn audit(&self, environment: &str, limit: u32) -> Result<Vec<AuditRow>, CatalogError> {
        Ok(self.store.audit(environment, limit).await?)
    }

    /// The newest published version of one connector, if it has one.
    pub async fn latest(&self, environment: &str, connector: &str) -> Result<Option<PackageVersion>, CatalogError> {
        Ok(self.store.latest_version(environment, connector).await?)
    }

    /// Publishes a new connector from an archive: the caller must be a
    /// maker (or admin) of the environment, and becomes its owner. The id is
    /// `id`, else made from the definition's title.
    pub async fn publish(
        &self,
        actor: &Caller,
        environment: &Environment,
        id: Option<&str>,
        upload: &[u8],
    ) -> Result<Published, CatalogError> {
        self.require_maker(actor, environment, "publishing a connector")?;
        let files = archive::read(upload, self.max_expanded)?;
        let id = match id {
            Some(id) => id.to_string(),
            None => id_from_title(&files).ok_or(CatalogError::NoId)?,
        };
        if !valid_connector_id(&id) {
            return Err(CatalogError::BadId(id));
        }
        if environment.registry().knows(&id) || self.store.latest_version(environment.id(), &id).await?.is_some() {
            return Err(CatalogError::Exists(id));
        }
        let (staged, row, warnings) = self.stage(environment, actor, &id, &files).await?;
        let audit = audit(actor, "published", &id, None, Some(format!("v1 {}", row.meta.sha256)));
        let Some(version) = self.store.put_package(environment.id(), &row, None, &audit).await? else {
            return Err(CatalogError::Exists(id));
        };
        self.install(staged, environment, &row.meta).await?;
        self.access.refresh().await?;
        tracing::info!(environment = environment.id(), connector = %id, version, by = %actor.id, "connector published");
        Ok(Published::of(row.meta, version, warnings))
    }

    /// Validates an uploaded package exactly as a publish would, storing
    /// nothing: the caller must be a maker (or admin). Every finding is
    /// returned, errors too; an archive that cannot be read, or a package
    /// that does not load at all, is refused as a publish refuses it.
    pub async fn check(
        &self,
        actor: &Caller,
        environment: &Environment,
        upload: &[u8],
    ) -> Result<Vec<Finding>, CatalogError> {
        self.require_maker(actor, environment, "validating a connector")?;
        let files = archive::read(upload, self.max_expanded)?;
        // The folder's name is the package's id to the checks; nothing
        // with it is published, so any valid one does.
        let id = id_from_title(&files).unwrap_or_else(|| "package".into());
        let staged = Staged::write(environment.registry().root(), &id, &files)?;
        let checked = self.findings(staged.package_dir()).await?;
        if !checked.loads {
            return Err(CatalogError::Refused(checked.findings));
        }
        Ok(checked.findings)
    }

    /// Refuses a caller who is not a maker (or admin) of `environment`.
    fn require_maker(&self, actor: &Caller, environment: &Environment, action: &str) -> Result<(), CatalogError> {
        let directory = self.access.member_directory(actor, environment.id())?;
        if directory.role(actor) < Some(Role::Maker) {
            return Err(Denied::Forbidden { action: action.into(), needed: "maker" }.into());
        }
        Ok(())
    }

    /// Publishes a new version of a connector published through the API
    /// (needs `can-edit`). With `if_match`, only if it names the newest
    /// version's `ETag`. Calls in flight finish on the old version.
    pub async fn update(
        &self,
        actor: &Caller,
        environment: &Environment,
        id: &str,
        upload: &[u8],
        if_match: Option<&str>,
    ) -> Result<Published, CatalogError> {
        let directory = self.access.member_directory(actor, environment.id())?;
        directory.may_edit_connector(actor, id)?;
        let latest = self.store.latest_version(environment.id(), id).await?;
        let Some(latest) = latest else { return Err(CatalogError::ReadOnly(id.to_string())) };
        let current = Catalog::etag(&latest);
        if let Some(expected) = if_match
            && expected != current
            && expected != "*"
        {
            return Err(CatalogError::Stale { connector: id.to_string(), expected: expected.to_string(), current });
        }
        let files = archive::read(upload, self.max_expanded)?;
        let (staged, row, warnings) = self.stage(environment, actor, id, &files).await?;
        let before = Some(format!("v{} {}", latest.version, latest.sha256));
        let after = Some(format!("v{} {}", latest.version + 1, row.meta.sha256));
        let audit = audit(actor, "updated", id, before, after);
        let Some(version) = self.store.put_package(environment.id(), &row, Some(latest.version), &audit).await? else {
            let current = self.store.latest_version(environment.id(), id).await?.map(|v| Catalog::etag(&v));
            return Err(CatalogError::Stale {
                connector: id.to_string(),
                expected: if_match.unwrap_or(&Catalog::etag(&latest)).to_string(),
                current: current.unwrap_or_default(),
            });
        };
        self.install(staged, environment, &row.meta).await?;
        tracing::info!(environment = environment.id(), connector = %id, version, by = %actor.id, "connector updated");
        Ok(Published::of(row.meta, version, warnings))
    }

    /// A connector's package as an archive (needs `can-edit`): the stored
    /// newest version of a published one, the folder's files of another.
    pub async fn download(
        &self,
        actor: &Caller,
        environment: &Environment,
        id: &str,
    ) -> Result<Download, CatalogError> {
        self.access.member_directory(actor, environment.id())?.may_edit_connector(actor, id)?;
        if let Some(row) = self.store.latest_package(environment.id(), id).await? {
            return Ok(Download { etag: Some(Catalog::etag(&row.meta)), archive: row.archive });
        }
        let folder = environment.registry().root().join(id);
        let files = archive::folder_files(&folder)
            .map_err(|source| CatalogError::Folder { connector: id.to_string(), source })?;
        if files.is_empty() {
            return Err(Denied::NoConnector { connector: id.to_string() }.into());
        }
        Ok(Download { archive: archive::write(&files), etag: None })
    }

    /// Deletes a connector published through the API, with its versions,
    /// connections, tokens and shares (needs `can-edit`).
    pub async fn delete(&self, actor: &Caller, environment: &Environment, id: &str) -> Result<(), CatalogError> {
        self.access.member_directory(actor, environment.id())?.may_edit_connector(actor, id)?;
        if self.store.latest_version(environment.id(), id).await?.is_none() {
            return Err(CatalogError::ReadOnly(id.to_string()));
        }
        let _one_at_a_time = self.installing.lock().await;
        self.access.delete_connector(actor, environment.id(), id).await?;
        if let Some(installed) = self.lock_installed().get_mut(environment.id()) {
            installed.remove(id);
        }
        Ok(())
    }

    /// Makes every published connector's folder of `environment` hold its
    /// newest stored version, where it is missing or holds something else,
    /// and removes the folders of the `installed` connectors the store no
    /// longer has: at start, so that the store, not the folder, is the
    /// source, and after a change elsewhere. `installed` is kept up to
    /// date. Returns how many folders changed.
    pub async fn materialize(
        store: &dyn PackageStore,
        environment: &str,
        root: &Path,
        installed: &mut Installed,
    ) -> Result<usize, CatalogError> {
        let versions = store.latest_versions(environment).await?;
        let mut changed = 0;
        for version in &versions {
            if installed.get(&version.connector) == Some(&version.sha256) {
                continue;
            }
            let folder = root.join(&version.connector);
            let current = archive::folder_files(&folder).map(|files| archive::digest(&archive::write(&files)));
            if current.ok().as_deref() != Some(version.sha256.as_str()) {
                // Read again with its archive: a newer version may have come meanwhile.
                let Some(row) = store.latest_package(environment, &version.connector).await? else { continue };
                let files = archive::read(&row.archive, u64::MAX)?;
                Staged::write(root, &row.meta.connector, &files)?.swap_in(root, &row.meta.connector)?;
                tracing::info!(environment, connector = %row.meta.connector, version = row.meta.version, "published connector's folder made from the store");
                installed.insert(row.meta.connector, row.meta.sha256);
                changed += 1;
                continue;
            }
            installed.insert(version.connector.clone(), version.sha256.clone());
        }
        let stored: std::collections::HashSet<&str> = versions.iter().map(|v| v.connector.as_str()).collect();
        let gone: Vec<String> = installed.keys().filter(|id| !stored.contains(id.as_str())).cloned().collect();
        for connector in gone {
            installed.remove(&connector);
            // The id is one the store gave a folder to, never a path from input.
            match std::fs::remove_dir_all(root.join(&connector)) {
                Ok(()) => {
                    tracing::info!(environment, %connector, "published connector deleted; its folder removed");
                    changed += 1;
                }
                Err(source) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(CatalogError::Folder { connector, source }),
            }
        }
        Ok(changed)
    }

    /// Writes a package's files into a staging folder and validates them:
    /// the staged folder, the version's row to store (its version not yet
    /// known), and the warnings. Errors refuse it, and the staging folder
    /// goes.
    async fn stage(
        &self,
        environment: &Environment,
        actor: &Caller,
        id: &str,
        files: &Files,
    ) -> Result<(Staged, PackageRow, Vec<Finding>), CatalogError> {
        let staged = Staged::write(environment.registry().root(), id, files)?;
        let warnings = self.validate(staged.package_dir()).await?;
        let row = package_row(id, actor, archive::write(files), &warnings);
        Ok((staged, row, warnings))
    }

    /// Validates a staged package: its warnings, or the refusal with every
    /// finding.
    async fn validate(&self, dir: &Path) -> Result<Vec<Finding>, CatalogError> {
        let checked = self.findings(dir).await?;
        if checked.findings.iter().any(|f| f.severity == Severity::Error) {
            return Err(CatalogError::Refused(checked.findings));
        }
        Ok(checked.findings)
    }

    /// Every finding of a staged package, and whether it loads as the
    /// registry would load it; off the async workers, since it may compile
    /// code.
    async fn findings(&self, dir: &Path) -> Result<Checked, CatalogError> {
        let validator = Arc::clone(&self.validator);
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut validator = validator.lock().unwrap_or_else(|p| p.into_inner());
            let report = validator.validate(&dir, &ValidateOptions::default()).map_err(|e| e.to_string())?;
            Ok(Checked { findings: report.findings, loads: sluice_package::load_package(&dir).is_ok() })
        })
        .await
        .map_err(|e| CatalogError::Validate(e.to_string()))?
        .map_err(CatalogError::Validate)
    }
}

/// What validating a staged package found.
struct Checked {
    /// Every finding, in the order the checks ran.
    findings: Vec<Finding>,
    /// Whether the package loads at all (errors may still refuse it).
    loads: bool,
}

impl Published {
    /// The answer for a version just stored as `version`.
    fn of(meta: PackageVersion, version: i64, warnings: Vec<Finding>) -> Self {
        let meta = PackageVersion { version, ..meta };
        Self { etag: Catalog::etag(&meta), connector: meta.connector, version, warnings }
    }
}

/// A package's files written into a hidden staging folder inside the
/// packages directory (the registry lists no hidden folder), removed unless
/// swapped in.
struct Staged {
    root: PathBuf,
    package: PathBuf,
}

impl Staged {
    fn write(packages: &Path, id: &str, files: &Files) -> Result<Self, CatalogError> {
        let folder = |source| CatalogError::Folder { connector: id.to_string(), source };
        let root = packages.join(format!(".staging-{}", uuid::Uuid::new_v4()));
        let package = root.join(id);
        std::fs::create_dir_all(&package).map_err(folder)?;
        let staged = Self { root, package };
        for (name, contents) in files {
            // Names are the archive reader's: known package file names only.
            std::fs::write(staged.package.join(name), contents).map_err(folder)?;
        }
        Ok(staged)
    }

    fn package_dir(&self) -> &Path {
        &self.package
    }

    /// Puts the staged package where the registry loads it, replacing what
    /// was there; the old folder is moved aside first and removed after.
    fn swap_in(self, packages: &Path, id: &str) -> Result<(), CatalogError> {
        let folder = |source| CatalogError::Folder { connector: id.to_string(), source };
        let target = packages.join(id);
        let aside = self.root.join(".replaced");
        match std::fs::rename(&target, &aside) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(folder(error)),
        }
        std::fs::rename(&self.package, &target).map_err(folder)?;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Checks a connector id: 1 to 64 ASCII letters, digits, `_` or `-` (a
/// folder name and a URL segment).
pub fn valid_connector_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// An id made from the definition's title: its letters and digits, words
/// joined by `_` (`Items transform` → `Items_transform`).
fn id_from_title(files: &Files) -> Option<String> {
    let definition: serde_json::Value =
        sluice_package::json::parse(files.get(sluice_package::DEFINITION_FILE)?).ok()?.0;
    let title = definition.get("info")?.get("title")?.as_str()?;
    let words: Vec<String> =
        title.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect();
    let id: String = words.join("_").chars().take(64).collect();
    (!id.is_empty()).then_some(id)
}

fn package_row(id: &str, actor: &Caller, archive: Vec<u8>, findings: &[Finding]) -> PackageRow {
    let meta = PackageVersion {
        connector: id.to_string(),
        version: 0,
        sha256: archive::digest(&archive),
        published_by: actor.id.to_string(),
        published_at: now() as i64,
        findings: serde_json::to_string(findings).unwrap_or_else(|_| "[]".into()),
    };
    PackageRow { meta, archive }
}

fn audit(actor: &Caller, action: &str, id: &str, before: Option<String>, after: Option<String>) -> AuditRow {
    AuditRow::now(&actor.id, action, format!("connector {id}"), before, after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::SqlStore;

    #[tokio::test]
    async fn a_published_connectors_folder_is_made_from_the_store_when_missing_or_changed() {
        let store = SqlStore::in_memory().await.unwrap();
        let definition = br#"{"swagger": "2.0"}"#.to_vec();
        let files: Files = [(sluice_package::DEFINITION_FILE.to_string(), definition.clone())].into_iter().collect();
        let archive = archive::write(&files);
        let meta = PackageVersion {
            connector: "Shop".into(),
            version: 0,
            sha256: archive::digest(&archive),
            published_by: "alice".into(),
            published_at: 1,
            findings: "[]".into(),
        };
        let row = PackageRow { meta, archive };
        let caller = Caller {
            id: "alice".into(),
            groups: Vec::new(),
            credential: crate::access::Credential::ApiKey { id: "k".into() },
        };
        store.put_package("default", &row, None, &audit(&caller, "published", "Shop", None, None)).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Shop").join(sluice_package::DEFINITION_FILE);
        let materialize = async |installed: &mut Installed| {
            Catalog::materialize(&store, "default", dir.path(), installed).await.unwrap()
        };
        assert_eq!(materialize(&mut Installed::new()).await, 1);
        assert_eq!(std::fs::read(&file).unwrap(), definition);
        assert_eq!(materialize(&mut Installed::new()).await, 0, "already the stored version");
        std::fs::write(&file, b"edited by hand").unwrap();
        let mut installed = Installed::new();
        assert_eq!(materialize(&mut installed).await, 1);
        assert_eq!(std::fs::read(&file).unwrap(), definition, "the store is the source");
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(entries, ["Shop"], "no staging folder is left");
        assert_eq!(installed.get("Shop"), Some(&row.meta.sha256));
        // Deleted from the store (by another gateway): the folder goes.
        std::fs::create_dir(dir.path().join("Operators")).unwrap();
        crate::store::AccessStore::delete_connector(&store, "default", "Shop", None).await.unwrap();
        assert_eq!(materialize(&mut installed).await, 1);
        assert!(!dir.path().join("Shop").exists());
        assert!(dir.path().join("Operators").exists(), "a folder the store never had is the operator's");
        assert!(installed.is_empty());
    }
}
