//! The gateway's metrics, exposed at `GET /metrics` in Prometheus text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
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
    /// The connector id.
    pub connector: String,
    /// The operation id.
    pub operation: String,
}

/// Labels of a sandbox stop or a denial.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
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
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sluice");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<OperationLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let code_invocations = Family::<OperationLabels, Counter>::default();
        let fuel_consumed = Family::<OperationLabels, Counter>::default();
        let traps = Family::<KindLabels, Counter>::default();
        let egress_denials = Family::<KindLabels, Counter>::default();
        registry.register("requests", "Requests answered", requests.clone());
        registry.register("request_duration_seconds", "Request latency", latency.clone());
        registry.register("code_invocations", "Calls of custom code", code_invocations.clone());
        registry.register("fuel_consumed", "Fuel consumed by custom code", fuel_consumed.clone());
        registry.register("code_stops", "Calls the sandbox stopped, by kind", traps.clone());
        registry.register("egress_denials", "Backend calls denied by the egress policy", egress_denials.clone());
        Self { registry, requests, latency, code_invocations, fuel_consumed, traps, egress_denials }
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
    fn rendered_metrics_carry_labels() {
        let metrics = Metrics::default();
        let labels = OperationLabels { connector: "c".into(), operation: "Op".into() };
        metrics.code_invocations.get_or_create(&labels).inc();
        metrics.fuel_consumed.get_or_create(&labels).inc_by(42);
        let text = metrics.render();
        assert!(text.contains(r#"sluice_code_invocations_total{connector="c",operation="Op"} 1"#), "{text}");
        assert!(text.contains(r#"sluice_fuel_consumed_total{connector="c",operation="Op"} 42"#), "{text}");
    }
}
