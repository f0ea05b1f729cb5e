//! W3C trace context through the gateway: a client's `traceparent` reaches
//! the backend unchanged when traces are not recorded, and becomes the
//! parent of the call's span, which the backend request names as its
//! parent, when they are; the call's span says which replica served it.

use opentelemetry::trace::TracerProvider as _;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::*;

const CLIENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

async fn shop() -> (TestGateway, Recorder) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}});
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, security), shop_properties(api_key_parameter(), None, json!([])))
        .connection("shop", "main", &[("api_key", "k")])
        .start()
        .await;
    (gateway, recorder)
}

#[tokio::test]
async fn unrecorded_the_clients_trace_context_reaches_the_backend_as_it_came() {
    let (gateway, recorder) = shop().await;
    let answer =
        gateway.send("GET", "/apim/shop/main/items", &[("traceparent", CLIENT), ("tracestate", "a=1")], "").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = recorder.last();
    assert_eq!(seen.headers["traceparent"], CLIENT);
    assert_eq!(seen.headers["tracestate"], "a=1");
    // Without one from the client, the backend gets none.
    assert_eq!(gateway.get("/apim/shop/main/items").await.status, 200);
    assert!(recorder.last().headers.get("traceparent").is_none());
}

#[tokio::test]
async fn recorded_the_call_is_the_clients_child_and_the_backend_requests_parent() {
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider =
        opentelemetry_sdk::trace::SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tests")));
    // Scoped to this thread; the gateway started below logs here from its
    // worker threads too.
    let _recording = tracing::subscriber::set_default(subscriber);
    let (gateway, recorder) = shop().await;
    let answer = gateway.send("GET", "/apim/shop/main/items", &[("traceparent", CLIENT)], "").await;
    assert_eq!(answer.status, 200, "{}", answer.text());

    let sent = recorder.last().headers["traceparent"].to_str().unwrap().to_string();
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!((parts[0], parts[1], parts[3]), ("00", "0af7651916cd43dd8448eb211c80319c", "01"), "{sent}");
    assert_ne!(parts[2], "b7ad6b7169203331", "the backend's parent is the gateway's span, not the client's");

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let call = spans.iter().find(|span| span.name == "call").expect("the call's span is exported");
    assert_eq!(call.span_context.trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(call.parent_span_id.to_string(), "b7ad6b7169203331");
    assert_eq!(call.span_context.span_id().to_string(), parts[2]);
    let replica = call.attributes.iter().find(|kv| kv.key.as_str() == "replica").expect("the replica is on the span");
    assert_eq!(replica.value.as_str(), gateway.gateway.replica());
}
