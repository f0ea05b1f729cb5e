//! The registry of loaded connectors: one entry per package folder, reloaded
//! when the packages directory changes.
//!
//! A call takes a snapshot (`Arc`) of its connector when it starts and keeps
//! it to the end, so a reload never fails or changes a call in flight.

mod load;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::FastMap;
use crate::metrics::{ConnectorLabels, Metrics};

pub use load::{
    ConnectionRefused, ConnectionState, DynamicHostProblem, LoadFailure, LoadedConnector, Loader, connection_state,
};

/// What the registry holds for one package folder.
#[derive(Debug, Clone)]
enum Entry {
    Ready(Arc<LoadedConnector>),
    Failed(Arc<LoadFailure>),
    /// A new version failed to load; calls keep the last good one.
    Stale {
        serving: Arc<LoadedConnector>,
        failure: Arc<LoadFailure>,
    },
}

/// What the registry holds for one connector.
#[derive(Debug, Clone)]
pub struct ConnectorState {
    /// The version that serves calls, if one does.
    pub serving: Option<Arc<LoadedConnector>>,
    /// Why the newest version did not load, if it did not.
    pub failure: Option<Arc<LoadFailure>>,
}

/// What identifies a package folder's contents: names, sizes and times of its files.
type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

/// A connector could not be found.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No package folder has this id.
    #[error("no connector `{connector}` is loaded")]
    Missing {
        /// The connector id asked for.
        connector: String,
    },
    /// The folder is there but did not load.
    #[error("connector `{connector}` is not available: {reason}")]
    Failed {
        /// The connector id.
        connector: String,
        /// Why it did not load.
        #[source]
        reason: Arc<LoadFailure>,
    },
}

/// The loaded connectors of one packages directory.
#[derive(Debug)]
pub struct Registry {
    /// The environment the connectors belong to, for logs and metrics.
    environment: Arc<str>,
    root: PathBuf,
    loader: Arc<Loader>,
    entries: ArcSwap<FastMap<String, (Fingerprint, Entry)>>,
    reloading: tokio::sync::Mutex<()>,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// An empty registry of `environment`'s packages under `root`;
    /// [`Registry::reload`] fills it.
    pub fn new(environment: &str, root: PathBuf, loader: Loader, metrics: Arc<Metrics>) -> Self {
        Self {
            environment: environment.into(),
            root,
            loader: Arc::new(loader),
            entries: Default::default(),
            reloading: tokio::sync::Mutex::new(()),
            metrics,
        }
    }

    /// Whether a connector with this id is in the registry (loaded or not),
    /// for labelling metrics with known names only.
    pub fn knows(&self, id: &str) -> bool {
        self.entries.load().contains_key(id)
    }

    /// The packages directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The connector with this id, or why there is none: the one lookup
    /// every handler uses.
    pub fn get(&self, id: &str) -> Result<Arc<LoadedConnector>, LookupError> {
        match self.entries.load().get(id) {
            Some((_, Entry::Ready(connector) | Entry::Stale { serving: connector, .. })) => Ok(Arc::clone(connector)),
            Some((_, Entry::Failed(reason))) => {
                Err(LookupError::Failed { connector: id.to_string(), reason: Arc::clone(reason) })
            }
            None => Err(LookupError::Missing { connector: id.to_string() }),
        }
    }

    /// Every connector id in the registry, loaded or not, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.entries.load().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// What the registry holds for `id`, if anything.
    pub fn state(&self, id: &str) -> Option<ConnectorState> {
        Some(match &self.entries.load().get(id)?.1 {
            Entry::Ready(connector) => ConnectorState { serving: Some(Arc::clone(connector)), failure: None },
            Entry::Failed(failure) => ConnectorState { serving: None, failure: Some(Arc::clone(failure)) },
            Entry::Stale { serving, failure } => {
                ConnectorState { serving: Some(Arc::clone(serving)), failure: Some(Arc::clone(failure)) }
            }
        })
    }

    /// Every loaded connector, by id.
    pub fn loaded(&self) -> Vec<Arc<LoadedConnector>> {
        let entries = self.entries.load();
        let mut loaded: Vec<Arc<LoadedConnector>> = entries
            .values()
            .filter_map(|(_, entry)| match entry {
                Entry::Ready(connector) | Entry::Stale { serving: connector, .. } => Some(Arc::clone(connector)),
                Entry::Failed(_) => None,
            })
            .collect();
        loaded.sort_by(|a, b| a.package.id.cmp(&b.package.id));
        loaded
    }

    /// The ids of loaded connectors and the failures, for reports; a
    /// connector whose new version failed is in both (it serves the last
    /// good one).
    pub fn status(&self) -> (Vec<String>, Vec<(String, Arc<LoadFailure>)>) {
        let entries = self.entries.load();
        let mut ready = Vec::new();
        let mut failed = Vec::new();
        for (id, (_, entry)) in entries.iter() {
            match entry {
                Entry::Ready(_) => ready.push(id.clone()),
                Entry::Failed(reason) => failed.push((id.clone(), Arc::clone(reason))),
                Entry::Stale { failure, .. } => {
                    ready.push(id.clone());
                    failed.push((id.clone(), Arc::clone(failure)));
                }
            }
        }
        ready.sort();
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        (ready, failed)
    }

    /// Rescans the packages directory: new and changed folders are loaded,
    /// removed ones dropped, unchanged ones kept as they are. Calls in flight
    /// keep the version they started with.
    pub async fn reload(&self) {
        let _one_at_a_time = self.reloading.lock().await;
        let current = self.entries.load_full();
        let mut next = FastMap::default();
        for dir in package_dirs(&self.root) {
            let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            let fingerprint = fingerprint(&dir);
            if let Some((old, entry)) = current.get(&id)
                && *old == fingerprint
            {
                next.insert(id, (fingerprint, entry.clone()));
                continue;
            }
            let loader = Arc::clone(&self.loader);
            let loading = dir.clone();
            // Compiling code is CPU work; keep it off the async workers.
            let loaded = match tokio::task::spawn_blocking(move || loader.load(&loading)).await {
                Ok(Ok(connector)) => Ok(Arc::new(connector)),
                Ok(Err(failure)) => Err(Arc::new(failure)),
                Err(panic) => Err(Arc::new(LoadFailure::Panicked(panic))),
            };
            let last_good = match current.get(&id) {
                Some((_, Entry::Ready(connector) | Entry::Stale { serving: connector, .. })) => Some(connector),
                _ => None,
            };
            let labels = ConnectorLabels::new(&self.environment, &id);
            let entry = match (loaded, last_good) {
                (Ok(connector), _) => {
                    tracing::info!(environment = %self.environment, connector = %id, folder = %dir.display(), "connector loaded");
                    self.metrics.stale_connectors.get_or_create(&labels).set(0);
                    Entry::Ready(connector)
                }
                (Err(failure), Some(serving)) => {
                    tracing::error!(environment = %self.environment, connector = %id, reason = %failure, "the new version failed to load; keeping the last good version");
                    self.metrics.reload_failures.get_or_create(&labels).inc();
                    self.metrics.stale_connectors.get_or_create(&labels).set(1);
                    Entry::Stale { serving: Arc::clone(serving), failure }
                }
                (Err(failure), None) => {
                    tracing::error!(environment = %self.environment, connector = %id, reason = %failure, "connector failed to load");
                    self.metrics.reload_failures.get_or_create(&labels).inc();
                    Entry::Failed(failure)
                }
            };
            next.insert(id, (fingerprint, entry));
        }
        for id in current.keys().filter(|id| !next.contains_key(*id)) {
            tracing::info!(environment = %self.environment, connector = %id, "connector removed");
        }
        self.entries.store(Arc::new(next));
    }

    /// Watches the packages directory and reloads on changes, until the
    /// registry is dropped.
    pub fn watch(self: &Arc<Self>) -> notify::Result<()> {
        use notify::{RecursiveMode, Watcher};
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
                let _ = tx.send(());
            }
        })?;
        watcher.watch(&self.root, RecursiveMode::Recursive)?;
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let _watcher = watcher;
            while rx.recv().await.is_some() {
                // Let a burst of writes settle (a copy of several files).
                tokio::time::sleep(Duration::from_millis(200)).await;
                while rx.try_recv().is_ok() {}
                let Some(registry) = weak.upgrade() else { break };
                registry.reload().await;
            }
        });
        Ok(())
    }
}

/// Every folder under `root` that holds a definition; a link to a folder
/// is listed too, so that its refusal is reported rather than silent.
fn package_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.retain(|dir| dir.join(sluice_package::DEFINITION_FILE).is_file());
    dirs.sort();
    dirs
}

fn fingerprint(dir: &Path) -> Fingerprint {
    let mut files: Fingerprint = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    meta.is_file()
                        .then(|| (e.file_name().to_string_lossy().into_owned(), meta.len(), meta.modified().ok()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
