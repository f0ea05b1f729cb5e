//! The gateway's metrics, exposed at `GET /metrics` in Prometheus text format.
//!
//! Label values are escaped as the exposition format requires (the encoder
//! writes them as given), and only names the gateway knows become labels:
//! a request for a connector that does not exist is counted under
//! `unknown`, so that clients can neither add series at will nor write into
//! the exposition. Every series of a connector carries its environment
//! first, since connector ids are only unique inside one.

use std::sync::{PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The label for a connector or operation name no registry entry has.
pub const UNKNOWN: &str = "unknown";

/// A label value as the text exposition format writes it: `\\`, `\"` and
/// `\n` escaped.
pub fn label(value: &str) -> String {
    if !value.contains(['\\', '"', '\n']) {
        return value.to_string();
    }
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl RequestLabels {
    /// The labels of an answered request.
    pub fn new(environment: &str, connector: &str, operation: &str, status: u16) -> Self {
        Self { environment: label(environment), connector: label(connector), operation: label(operation), status }
    }
}

impl OperationLabels {
    /// The labels of an operation.
    pub fn new(environment: &str, connector: &str, operation: &str) -> Self {
        Self { environment: label(environment), connector: label(connector), operation: label(operation) }
    }
}

impl KindLabels {
    /// The labels of a stop or a denial.
    pub fn new(environment: &str, connector: &str, operation: &str, kind: &str) -> Self {
        Self {
            environment: label(environment),
            connector: label(connector),
            operation: label(operation),
            kind: label(kind),
        }
    }
}

impl ConnectorLabels {
    /// The labels of a connector.
    pub fn new(environment: &str, connector: &str) -> Self {
        Self { environment: label(environment), connector: label(connector) }
    }
}

/// Labels of a request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The environment id.
    pub environment: String,
    /// The connector id.
    pub connector: String,
    /// The operation id (empty when none matched).
    pub operation: String,
    /// The answer's status code.
    pub status: u16,
}

/// Labels of an operation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The environment id.
    pub environment: String,
    /// The connector id.
    pub connector: String,
    /// The operation id.
    pub operation: String,
}

/// Labels of a connector.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabels {
    /// The environment id.
    pub environment: String,
    /// The connector id.
    pub connector: String,
}

/// Labels of a request refused for its credential.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CredentialLabels {
    /// `missing`, `api-key` or `token`: a fixed set, never the client's text.
    pub credential: &'static str,
}

/// Labels of a sandbox stop or a denial.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The environment id.
    pub environment: String,
    /// The connector id.
    pub connector: String,
    /// The operation id.
    pub operation: String,
    /// What happened, e.g. `fuel-exhausted`.
    pub kind: String,
}

/// Every metric the gateway keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency in seconds.
    pub latency: Family<OperationLabels, Histogram>,
    /// Calls of custom code.
    pub code_invocations: Family<OperationLabels, Counter>,
    /// Fuel consumed by custom code.
    pub fuel_consumed: Family<OperationLabels, Counter>,
    /// Calls the sandbox stopped (fuel, memory, deadline, trap, limits).
    pub traps: Family<KindLabels, Counter>,
    /// Backend calls the egress policy denied.
    pub egress_denials: Family<KindLabels, Counter>,
    /// Package loads that failed (the first version or a later one).
    pub reload_failures: Family<ConnectorLabels, Counter>,
    /// 1 while a connector serves its last good version because its newest
    /// failed to load.
    pub stale_connectors: Family<ConnectorLabels, Gauge>,
    /// Calls whose client went away before the answer.
    pub client_closed: Family<OperationLabels, Counter>,
    /// Requests refused with 401, by the kind of credential they carried.
    pub unauthenticated: Family<CredentialLabels, Counter>,
    /// The series of each operation answered so far, by environment,
    /// connector and operation: what [`Metrics::answered`] and
    /// [`Metrics::code_ran`] count into without building and hashing
    /// their labels again. They are the families' own series (a metric's
    /// clone shares its value), and families never drop a series.
    series: RwLock<Series>,
}

/// Environment → connector → operation → its series.
type Series = crate::FastMap<String, crate::FastMap<String, crate::FastMap<String, OperationSeries>>>;

/// The series one operation counts into on every call.
#[derive(Debug, Clone)]
struct OperationSeries {
    latency: Histogram,
    code_invocations: Counter,
    fuel_consumed: Counter,
    /// `requests`, by status: the few an operation answers with.
    requests: Vec<(u16, Counter)>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Registry::with_prefix("sluice"))
    }
}

impl Metrics {
    /// The metrics of one replica among several gateways: every series
    /// carries `replica`.
    pub fn of_replica(replica: &str) -> Self {
        let labels = [(std::borrow::Cow::Borrowed("replica"), std::borrow::Cow::Owned(replica.to_string()))];
        Self::new(Registry::with_prefix_and_labels("sluice", labels.into_iter()))
    }

    fn new(mut registry: Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<OperationLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let code_invocations = Family::<OperationLabels, Counter>::default();
        let fuel_consumed = Family::<OperationLabels, Counter>::default();
        let traps = Family::<KindLabels, Counter>::default();
        let egress_denials = Family::<KindLabels, Counter>::default();
        let reload_failures = Family::<ConnectorLabels, Counter>::default();
        let stale_connectors = Family::<ConnectorLabels, Gauge>::default();
        let client_closed = Family::<OperationLabels, Counter>::default();
        let unauthenticated = Family::<CredentialLabels, Counter>::default();
        registry.register("requests", "Requests answered", requests.clone());
        registry.register("request_duration_seconds", "Request latency", latency.clone());
        registry.register("code_invocations", "Calls of custom code", code_invocations.clone());
        registry.register("fuel_consumed", "Fuel consumed by custom code", fuel_consumed.clone());
        registry.register("code_stops", "Calls the sandbox stopped, by kind", traps.clone());
        registry.register("egress_denials", "Backend calls denied by the egress policy", egress_denials.clone());
        registry.register("connector_load_failures", "Package loads that failed", reload_failures.clone());
        registry.register(
            "connector_stale",
            "1 while a connector serves its last good version after a failed reload",
            stale_connectors.clone(),
        );
        registry.register("client_closed", "Calls whose client went away before the answer", client_closed.clone());
        registry.register(
            "unauthenticated",
            "Requests refused for a missing or bad credential, by its kind",
            unauthenticated.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            code_invocations,
            fuel_consumed,
            traps,
            egress_denials,
            reload_failures,
            stale_connectors,
            client_closed,
            unauthenticated,
            series: RwLock::default(),
        }
    }

    /// Counts an answered request and its latency, in seconds. The names
    /// are the registry's, or [`UNKNOWN`].
    pub fn answered(&self, environment: &str, connector: &str, operation: &str, status: u16, seconds: f64) {
        let counted = self.with_series(environment, connector, operation, |series| {
            let (_, requests) = series.requests.iter().find(|(s, _)| *s == status)?;
            requests.inc();
            series.latency.observe(seconds);
            Some(())
        });
        if counted.is_some() {
            return;
        }
        let requests =
            self.requests.get_or_create(&RequestLabels::new(environment, connector, operation, status)).clone();
        requests.inc();
        let mut all = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let series = self.series_of(&mut all, environment, connector, operation);
        series.latency.observe(seconds);
        if !series.requests.iter().any(|(s, _)| *s == status) {
            series.requests.push((status, requests));
        }
    }

    /// Counts a call of custom code and the fuel it consumed.
    pub fn code_ran(&self, environment: &str, connector: &str, operation: &str, fuel: Option<u64>) {
        let count = |series: &OperationSeries| {
            series.code_invocations.inc();
            if let Some(fuel) = fuel {
                series.fuel_consumed.inc_by(fuel);
            }
            Some(())
        };
        if self.with_series(environment, connector, operation, count).is_none() {
            let mut all = self.series.write().unwrap_or_else(PoisonError::into_inner);
            count(self.series_of(&mut all, environment, connector, operation));
        }
    }

    /// `f` of the operation's series, if it has been counted before.
    fn with_series<T>(
        &self,
        environment: &str,
        connector: &str,
        operation: &str,
        f: impl FnOnce(&OperationSeries) -> Option<T>,
    ) -> Option<T> {
        let all = self.series.read().unwrap_or_else(PoisonError::into_inner);
        f(all.get(environment)?.get(connector)?.get(operation)?)
    }

    /// The operation's series, taken from the families the first time.
    fn series_of<'s>(
        &self,
        all: &'s mut Series,
        environment: &str,
        connector: &str,
        operation: &str,
    ) -> &'s mut OperationSeries {
        all.entry(environment.to_owned())
            .or_default()
            .entry(connector.to_owned())
            .or_default()
            .entry(operation.to_owned())
            .or_insert_with(|| {
                let labels = OperationLabels::new(environment, connector, operation);
                OperationSeries {
                    latency: self.latency.get_or_create(&labels).clone(),
                    code_invocations: self.code_invocations.get_or_create(&labels).clone(),
                    fuel_consumed: self.fuel_consumed.get_or_create(&labels).clone(),
                    requests: Vec::new(),
                }
            })
    }
}

impl Metrics {
    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "cannot encode metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_cannot_write_into_the_exposition() {
        let metrics = Metrics::default();
        metrics.requests.get_or_create(&RequestLabels::new("default", "x\"} 1\nfake{a=\"", "op", 404)).inc();
        let text = metrics.render();
        assert!(!text.lines().any(|l| l.starts_with("fake")), "{text}");
        assert!(text.contains(r#"connector="x\"} 1\nfake{a=\"""#), "{text}");
    }

    #[test]
    fn answers_and_runs_of_code_count_into_the_rendered_series() {
        let metrics = Metrics::default();
        for status in [200, 200, 404, 200] {
            metrics.answered("sales", "c", "Op", status, 0.001);
        }
        for fuel in [Some(40), None, Some(2)] {
            metrics.code_ran("sales", "c", "Op", fuel);
        }
        metrics.answered("sales", "x\"} 1\nfake{a=\"", "Op", 200, 0.001);
        let text = metrics.render();
        let series = r#"{environment="sales",connector="c",operation="Op""#;
        for line in [
            format!("sluice_requests_total{series},status=\"200\"}} 3"),
            format!("sluice_requests_total{series},status=\"404\"}} 1"),
            format!("sluice_request_duration_seconds_count{series}}} 4"),
            format!("sluice_code_invocations_total{series}}} 3"),
            format!("sluice_fuel_consumed_total{series}}} 42"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.lines().any(|l| l.starts_with("fake")), "{text}");
    }

    #[test]
    fn rendered_metrics_carry_labels() {
        let metrics = Metrics::default();
        let labels = OperationLabels::new("sales", "c", "Op");
        metrics.code_invocations.get_or_create(&labels).inc();
        metrics.fuel_consumed.get_or_create(&labels).inc_by(42);
        let text = metrics.render();
        assert!(
            text.contains(r#"sluice_code_invocations_total{environment="sales",connector="c",operation="Op"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sluice_fuel_consumed_total{environment="sales",connector="c",operation="Op"} 42"#),
            "{text}"
        );
    }

    #[test]
    fn a_replicas_series_say_which_replica_it_is() {
        let metrics = Metrics::of_replica("gw-a");
        metrics.code_invocations.get_or_create(&OperationLabels::new("sales", "c", "Op")).inc();
        let text = metrics.render();
        assert!(text.contains(r#"replica="gw-a""#), "{text}");
        assert!(text.lines().filter(|l| l.starts_with("sluice_")).all(|l| l.contains(r#"replica="gw-a""#)), "{text}");
    }
}
