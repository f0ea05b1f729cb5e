//! What each connector was called for over the last hour, minute by minute,
//! for the console's chart (`GET /api/v1/connectors/{id}/activity`): per
//! environment and connector, a ring of [`MINUTES`] one-minute buckets,
//! each counting calls by operation and failures by kind.
//!
//! The kind of a failure is its problem type's short name
//! (`backend-unreachable`, `fuel-exhausted`, `not-found`, ...), or
//! `http-{status}` for a 4xx or 5xx answer the backend (or the code) gave
//! itself. Memory is bounded as the metrics' labels are: only connectors
//! the registry knows are recorded, operations are the definition's ids or
//! [`UNKNOWN`](crate::metrics::UNKNOWN), kinds are a fixed set plus
//! statuses, and a bucket older than the hour is cleared and reused for
//! the current minute.
//!
//! It is per gateway process, kept in memory and never in the store: with
//! several gateways on one database each shows the calls it answered
//! itself, and a restart starts from an empty hour.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::FastMap;

/// How many minutes the activity covers: the current one and the 59
/// before it.
pub const MINUTES: usize = 60;

/// The calls of every known connector over the last hour.
#[derive(Debug, Default)]
pub struct Activity {
    /// Environment → connector → its ring. A new ring is the only write
    /// of the outer maps; a call locks just its own ring.
    rings: RwLock<FastMap<String, Connectors>>,
}

/// One environment's rings, by connector.
type Connectors = FastMap<String, Arc<Mutex<Ring>>>;

/// One minute of a connector's calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Minute {
    /// When the minute starts, in seconds since the Unix epoch.
    pub start: u64,
    /// Calls by operation id.
    pub calls: BTreeMap<String, u64>,
    /// Failed calls by kind.
    pub errors: BTreeMap<String, u64>,
}

/// A connector's last [`MINUTES`] minutes; the bucket of minute `m` is
/// `m % MINUTES`, and holds it only while its `minute` is `m`.
#[derive(Debug)]
struct Ring {
    buckets: Vec<Bucket>,
}

#[derive(Debug, Default)]
struct Bucket {
    /// The minute it counts, in minutes since the Unix epoch.
    minute: u64,
    calls: FastMap<String, u64>,
    errors: FastMap<String, u64>,
}

impl Activity {
    /// Records a call of `operation` answered now; `error` is its failure's
    /// kind, if it failed. The caller passes only a connector the registry
    /// knows.
    pub fn record(&self, environment: &str, connector: &str, operation: &str, error: Option<&str>) {
        self.record_at(environment, connector, operation, error, SystemTime::now());
    }

    /// Records a call answered at `at`. A call older than the hour its
    /// bucket now counts (a clock set back) is not counted.
    pub fn record_at(&self, environment: &str, connector: &str, operation: &str, error: Option<&str>, at: SystemTime) {
        let minute = minute_of(at);
        let ring = self.ring(environment, connector);
        let mut ring = ring.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = &mut ring.buckets[(minute % MINUTES as u64) as usize];
        if bucket.minute > minute {
            return;
        }
        if bucket.minute < minute {
            bucket.minute = minute;
            bucket.calls.clear();
            bucket.errors.clear();
        }
        count(&mut bucket.calls, operation);
        if let Some(kind) = error {
            count(&mut bucket.errors, kind);
        }
    }

    /// A connector's last [`MINUTES`] minutes, oldest first, the last being
    /// the current one; minutes without calls have empty maps.
    pub fn minutes(&self, environment: &str, connector: &str) -> Vec<Minute> {
        self.minutes_at(environment, connector, SystemTime::now())
    }

    /// The [`MINUTES`] minutes up to the one `now` is in.
    pub fn minutes_at(&self, environment: &str, connector: &str, now: SystemTime) -> Vec<Minute> {
        let current = minute_of(now);
        let first = current.saturating_sub(MINUTES as u64 - 1);
        let ring = self
            .rings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(environment)
            .and_then(|connectors| connectors.get(connector))
            .cloned();
        let ring = ring.as_ref().map(|ring| ring.lock().unwrap_or_else(PoisonError::into_inner));
        (first..=current)
            .map(|minute| {
                let bucket = ring
                    .as_ref()
                    .map(|ring| &ring.buckets[(minute % MINUTES as u64) as usize])
                    .filter(|bucket| bucket.minute == minute);
                let sorted = |counts: &FastMap<String, u64>| counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
                Minute {
                    start: minute * 60,
                    calls: bucket.map(|b| sorted(&b.calls)).unwrap_or_default(),
                    errors: bucket.map(|b| sorted(&b.errors)).unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The connector's ring, made on its first call.
    fn ring(&self, environment: &str, connector: &str) -> Arc<Mutex<Ring>> {
        let known = self.rings.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(ring) = known.get(environment).and_then(|connectors| connectors.get(connector)) {
            return Arc::clone(ring);
        }
        drop(known);
        let mut rings = self.rings.write().unwrap_or_else(PoisonError::into_inner);
        let ring = rings
            .entry(environment.to_string())
            .or_default()
            .entry(connector.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Ring::new())));
        Arc::clone(ring)
    }
}

impl Ring {
    fn new() -> Self {
        Self { buckets: (0..MINUTES).map(|_| Bucket::default()).collect() }
    }
}

/// The kind of a failure an answer's status shows by itself: `http-{status}`
/// for a 4xx or 5xx, none for success.
pub fn status_kind(status: http::StatusCode) -> Option<String> {
    (status.is_client_error() || status.is_server_error()).then(|| format!("http-{}", status.as_u16()))
}

/// Adds one to `key`'s count, allocating its name only the first time.
fn count(counts: &mut FastMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// Minutes since the Unix epoch (0 for a time before it).
fn minute_of(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs() / 60)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A time `minutes` and `seconds` after an hour that starts a minute.
    fn at(minutes: u64, seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 / 3600 * 3600 + minutes * 60 + seconds)
    }

    #[test]
    fn calls_and_errors_are_counted_in_their_minute() {
        let activity = Activity::default();
        activity.record_at("default", "shop", "ListItems", None, at(10, 1));
        activity.record_at("default", "shop", "ListItems", Some("http-503"), at(10, 59));
        activity.record_at("default", "shop", "GetItem", Some("backend-unreachable"), at(11, 0));
        activity.record_at("sales", "shop", "ListItems", None, at(11, 0));
        let minutes = activity.minutes_at("default", "shop", at(11, 30));
        assert_eq!(minutes.len(), MINUTES);
        assert_eq!(minutes[MINUTES - 1].start, minute_of(at(11, 0)) * 60, "the last is the current minute");
        assert_eq!(minutes[0].start, minute_of(at(11, 0)) * 60 - 59 * 60, "the first is 59 minutes before");
        let tenth = &minutes[MINUTES - 2];
        assert_eq!(tenth.calls, BTreeMap::from([("ListItems".to_string(), 2)]));
        assert_eq!(tenth.errors, BTreeMap::from([("http-503".to_string(), 1)]));
        let eleventh = &minutes[MINUTES - 1];
        assert_eq!(eleventh.calls, BTreeMap::from([("GetItem".to_string(), 1)]), "another environment's are apart");
        assert_eq!(eleventh.errors, BTreeMap::from([("backend-unreachable".to_string(), 1)]));
        assert!(minutes[..MINUTES - 2].iter().all(|m| m.calls.is_empty() && m.errors.is_empty()));
    }

    #[test]
    fn a_bucket_older_than_the_hour_is_reused_and_its_calls_forgotten() {
        let activity = Activity::default();
        activity.record_at("default", "shop", "ListItems", Some("fuel-exhausted"), at(5, 0));
        // 59 minutes on the call is still in the hour; at 60 it is gone.
        let still = activity.minutes_at("default", "shop", at(64, 0));
        assert_eq!(still[0].calls.get("ListItems"), Some(&1));
        let gone = activity.minutes_at("default", "shop", at(65, 0));
        assert!(gone.iter().all(|m| m.calls.is_empty() && m.errors.is_empty()), "{gone:?}");
        // Minute 65 takes minute 5's bucket: only its own call is there.
        activity.record_at("default", "shop", "GetItem", None, at(65, 10));
        let minutes = activity.minutes_at("default", "shop", at(65, 20));
        assert_eq!(minutes[MINUTES - 1].calls, BTreeMap::from([("GetItem".to_string(), 1)]));
        assert!(minutes[MINUTES - 1].errors.is_empty(), "the old minute's errors were cleared");
        let ring = activity.ring("default", "shop");
        assert_eq!(ring.lock().unwrap().buckets.len(), MINUTES, "never more buckets than minutes");
    }

    #[test]
    fn a_call_from_before_its_buckets_minute_is_not_counted() {
        let activity = Activity::default();
        activity.record_at("default", "shop", "GetItem", None, at(65, 0));
        activity.record_at("default", "shop", "ListItems", None, at(5, 0));
        let minutes = activity.minutes_at("default", "shop", at(65, 0));
        assert_eq!(minutes[MINUTES - 1].calls, BTreeMap::from([("GetItem".to_string(), 1)]));
    }

    #[test]
    fn an_unknown_connector_has_an_empty_hour() {
        let minutes = Activity::default().minutes_at("default", "nothing", at(3, 0));
        assert_eq!(minutes.len(), MINUTES);
        assert!(minutes.iter().all(|m| m.calls.is_empty() && m.errors.is_empty()));
    }

    #[test]
    fn only_failing_statuses_are_kinds() {
        assert_eq!(status_kind(http::StatusCode::OK), None);
        assert_eq!(status_kind(http::StatusCode::FOUND), None);
        assert_eq!(status_kind(http::StatusCode::NOT_FOUND).as_deref(), Some("http-404"));
        assert_eq!(status_kind(http::StatusCode::BAD_GATEWAY).as_deref(), Some("http-502"));
    }
}
