//! Several gateways on one database: each serves calls from its own
//! in-memory snapshot (access, published connectors, network settings), so
//! a change made through any of them must reach the others' snapshots.
//!
//! The database announces every change on a channel when its transaction
//! commits (PostgreSQL `LISTEN`/`NOTIFY`, migration 0006), whoever made it.
//! Each gateway listens, and reads again what a notification names:
//! `people` and `access {environment}` rebuild the access snapshot,
//! `packages {environment}` brings the connectors' folders in line and
//! reloads those that changed, `environment {id}` applies its network
//! settings. Notifications are lost when the listening connection is: the
//! gateway then reads everything again, as it also does every
//! `resync_interval`, for whatever was missed unnoticed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::environment::NetworkSettings;
use crate::gateway::Gateway;
use crate::store::AccessStore;
use crate::store::sql::SqlStore;

/// What a notification says changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    /// Principals, groups or API keys.
    People,
    /// Members, owners, shares or connections of an environment.
    Access(String),
    /// The published packages of an environment.
    Packages(String),
    /// An environment's own settings (its network).
    Environment(String),
}

impl Change {
    /// A notification's payload, as migration 0006 writes it.
    fn parse(payload: &str) -> Option<Self> {
        match payload.split_once(' ') {
            None if payload == "people" => Some(Self::People),
            Some(("access", environment)) => Some(Self::Access(environment.to_string())),
            Some(("packages", environment)) => Some(Self::Packages(environment.to_string())),
            Some(("environment", id)) => Some(Self::Environment(id.to_string())),
            _ => None,
        }
    }

    /// Everything this gateway holds: what a resync reads.
    fn everything(gateway: &Gateway) -> BTreeSet<Self> {
        let mut all = BTreeSet::from([Self::People]);
        for environment in gateway.environments() {
            let id = environment.id().to_string();
            all.extend([Self::Access(id.clone()), Self::Packages(id.clone()), Self::Environment(id)]);
        }
        all
    }
}

/// What the listening task heard.
#[derive(Debug)]
enum Heard {
    /// One change.
    Change(Change),
    /// Notifications may have been missed (the listener connected, or
    /// lost its connection): everything must be read again.
    Everything,
}

/// Follows a shared database's changes for as long as the process runs,
/// when `store` is one (PostgreSQL); SQLite has one gateway, which makes
/// every change itself.
///
/// Two tasks: one listens and passes on what it hears, the other applies
/// it (and resyncs on its interval). Applying may take a while (a
/// connector to compile); meanwhile the listener keeps reading, and no
/// read of the database's connection is ever cancelled half-way.
pub(crate) fn follow(gateway: Gateway, store: Arc<SqlStore>, resync_interval: Duration) {
    if store.backend() != crate::store::sql::Backend::Postgres {
        return;
    }
    let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(listen(Arc::clone(&store), heard));
    tokio::spawn(async move {
        let mut resync = tokio::time::interval(resync_interval);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        resync.tick().await;
        loop {
            let first = tokio::select! {
                first = hearing.recv() => match first {
                    Some(first) => first,
                    None => return,
                },
                _ = resync.tick() => Heard::Everything,
            };
            let mut changes = BTreeSet::new();
            let mut next = Some(first);
            while let Some(heard) = next {
                match heard {
                    Heard::Change(change) => {
                        changes.insert(change);
                    }
                    Heard::Everything => changes.extend(Change::everything(&gateway)),
                }
                next = hearing.try_recv().ok();
            }
            apply(&gateway, &*store, changes).await;
        }
    });
}

/// Listens on the database's change channel, reconnecting with backoff,
/// and passes on what it hears until the applying task is gone.
async fn listen(store: Arc<SqlStore>, heard: tokio::sync::mpsc::UnboundedSender<Heard>) {
    let mut retry = Duration::from_millis(100);
    loop {
        let mut listener = match store.listener().await {
            Some(Ok(listener)) => listener,
            Some(Err(error)) => {
                tracing::warn!(error = %error_chain(&error), retry_in = ?retry, "cannot listen for the database's changes");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(5));
                continue;
            }
            None => return,
        };
        retry = Duration::from_millis(100);
        // Whatever changed before the listener listened.
        if heard.send(Heard::Everything).is_err() {
            return;
        }
        loop {
            let passed = match listener.try_recv().await {
                Ok(Some(notification)) => match Change::parse(notification.payload()) {
                    Some(change) => heard.send(Heard::Change(change)),
                    None => Ok(()),
                },
                Ok(None) => {
                    tracing::warn!("the database's change notifications were interrupted; reading everything again");
                    heard.send(Heard::Everything)
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "lost the database's change notifications");
                    break;
                }
            };
            if passed.is_err() {
                return;
            }
        }
    }
}

/// Reads again what changed, and applies it to the gateway's snapshot.
async fn apply(gateway: &Gateway, store: &dyn AccessStore, changes: BTreeSet<Change>) {
    if changes.iter().any(|change| matches!(change, Change::People | Change::Access(_)))
        && let Err(error) = gateway.access().refresh().await
    {
        tracing::warn!(error = %error_chain(&error), "access snapshot not refreshed from the database");
    }
    for change in &changes {
        match change {
            Change::Packages(id) => {
                let Some(environment) = gateway.environment(id) else { continue };
                if let Err(error) = gateway.catalog().sync(environment).await {
                    tracing::warn!(environment = %id, error = %error_chain(&error), "published connectors not synced from the database");
                }
            }
            Change::Environment(id) => sync_network(gateway, store, id).await,
            Change::People | Change::Access(_) => {}
        }
    }
}

/// Applies the network settings an environment's admins stored (through
/// any gateway), if they differ from those in force here.
async fn sync_network(gateway: &Gateway, store: &dyn AccessStore, id: &str) {
    let Some(environment) = gateway.environment(id) else { return };
    let stored = match store.environment_network(id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(environment = %id, error = %error_chain(&error), "network settings not read from the database");
            return;
        }
    };
    let current = environment.network().environment();
    let next = serde_json::from_str::<NetworkSettings>(&stored)
        .map_err(|e| e.to_string())
        .and_then(|settings| settings.apply_to((*current).clone()).map_err(|e| e.to_string()));
    match next {
        Ok(next) if NetworkSettings::of(&next) != NetworkSettings::of(&current) => {
            environment.set_network_from_api(next)
        }
        Ok(_) => {}
        Err(error) => tracing::error!(environment = %id, %error, "stored network settings unreadable; not applied"),
    }
}

/// An error with its sources, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_read_as_migration_0006_writes_them() {
        assert_eq!(Change::parse("people"), Some(Change::People));
        assert_eq!(Change::parse("access sales"), Some(Change::Access("sales".into())));
        assert_eq!(Change::parse("packages default"), Some(Change::Packages("default".into())));
        assert_eq!(Change::parse("environment sales"), Some(Change::Environment("sales".into())));
        assert_eq!(Change::parse("tokens default"), None);
        assert_eq!(Change::parse(""), None);
    }
}
