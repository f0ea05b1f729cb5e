//! W3C trace context across gateways and into the backend, so that one
//! flow run can be followed through whichever replica served each call.
//!
//! A client's `traceparent` (and `tracestate`) is read when a request comes
//! in. When the host exports traces (an OpenTelemetry layer is installed on
//! the `tracing` subscriber, as `sluice serve` does with an OTLP endpoint),
//! the call's span becomes the child of the client's, and each backend call
//! carries the call's span as its parent. Without one, the gateway takes no
//! part in the trace and forwards the client's context unchanged, as the
//! W3C recommendation asks of an intermediary that does not record.
//! A backend request never carries a `traceparent` the code wrote itself:
//! the host sets it from the call.

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The headers of the W3C trace context.
const HEADERS: [&str; 2] = ["traceparent", "tracestate"];

tokio::task_local! {
    /// The trace context the client sent with the request being served.
    static CLIENT: opentelemetry::Context;
}

/// The trace context of a request's headers (empty when it has none, or a
/// malformed one).
pub fn client_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Makes `span` the child of the client's context, when it sent one and
/// traces are recorded.
pub fn adopt(span: &tracing::Span, client: &opentelemetry::Context) {
    if client.span().span_context().is_valid() {
        // Without an OpenTelemetry layer there is nothing to parent.
        let _ = span.set_parent(client.clone());
    }
}

/// Runs `serving` with the client's trace context at hand for the backend
/// calls it makes.
///
/// Not an `async fn`: one would hold `serving` twice, as its argument and
/// inside the scope it awaits, and every call's future would carry both.
pub fn serving<F: std::future::Future>(
    client: opentelemetry::Context,
    serving: F,
) -> impl std::future::Future<Output = F::Output> {
    CLIENT.scope(client, serving)
}

/// Sets a backend request's trace context: the current span's when traces
/// are recorded, else the client's as it came; none when there is neither.
pub fn propagate(headers: &mut http::HeaderMap) {
    for name in HEADERS {
        headers.remove(name);
    }
    let current = tracing::Span::current().context();
    let context = if current.span().span_context().is_valid() {
        current
    } else {
        match CLIENT.try_with(Clone::clone) {
            Ok(client) => client,
            Err(_) => return,
        }
    };
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn headers(traceparent: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", traceparent.parse().unwrap());
        headers
    }

    #[tokio::test]
    async fn without_a_recording_layer_the_clients_context_is_forwarded_unchanged() {
        let client = client_context(&headers(PARENT));
        let mut backend = headers("00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01");
        serving(client, async { propagate(&mut backend) }).await;
        assert_eq!(backend["traceparent"], PARENT, "the code's own value is replaced");
    }

    #[tokio::test]
    async fn a_malformed_or_absent_context_sends_none() {
        for sent in ["garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01"] {
            let client = client_context(&headers(sent));
            let mut backend = headers(PARENT);
            serving(client, async { propagate(&mut backend) }).await;
            assert!(backend.get("traceparent").is_none(), "{sent}");
        }
        let mut outside = headers(PARENT);
        propagate(&mut outside);
        assert!(outside.get("traceparent").is_none(), "outside a request there is no context");
    }
}
