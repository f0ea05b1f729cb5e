//! Each per-call limit of the sandbox, from both sides: the call that stays
//! inside it succeeds, the call that crosses it ends with the precise error,
//! and the next call of the same code succeeds.

use std::time::Duration;

use crate::support::*;
use bytes::Bytes;
use sluice_runtime::{Body, CallError, Limits, Runtime, RuntimeConfig};

#[tokio::test]
async fn fuel_limit_obeyed_reports_fuel_consumed() {
    let connector = load("misbehave", Limits { fuel: 50_000_000, ..Limits::default() });
    let output = call(&connector, "/ok").await;
    assert_eq!(body_text(&output), "ok");
    let fuel = output.report.fuel_consumed.expect("fuel is metered");
    assert!(fuel > 0 && fuel < 50_000_000, "fuel consumed: {fuel}");
    assert!(output.report.peak_memory_bytes > 0);
}

#[tokio::test]
async fn fuel_limit_violated_by_endless_loop() {
    let connector = load("misbehave", Limits { fuel: 20_000_000, ..Limits::default() });
    let output = call(&connector, "/loop").await;
    assert_eq!(output.result.unwrap_err(), CallError::FuelExhausted { limit: 20_000_000 });
    assert_eq!(output.report.fuel_consumed, Some(20_000_000));
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn deadline_ends_endless_loop_when_fuel_is_off() {
    let runtime = Runtime::new(RuntimeConfig { fuel_metering: false, ..test_config() }).unwrap();
    let limits = Limits { deadline: Duration::from_millis(200), ..Limits::default() };
    let connector = runtime.load("misbehave", &guest("misbehave"), limits).unwrap();
    let output = call(&connector, "/loop").await;
    assert_eq!(output.result.unwrap_err(), CallError::DeadlineExceeded { deadline: Duration::from_millis(200) });
    assert_eq!(output.report.fuel_consumed, None);
    assert!(output.report.wall_time >= Duration::from_millis(200));
    assert_next_call_succeeds(&connector).await;
}

/// A backend that waits: five seconds, or (as the gateway's does) until the
/// call's deadline, when it gives up with a timeout.
struct Sleepy {
    until_deadline: bool,
}

#[async_trait::async_trait]
impl sluice_runtime::Backend for Sleepy {
    async fn send(
        &self,
        call: &sluice_runtime::CallInfo,
        _: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, sluice_runtime::SendError> {
        if self.until_deadline {
            tokio::time::sleep_until(call.deadline.into()).await;
            return Err(sluice_runtime::SendError::Timeout);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(http::Response::new(Bytes::new()))
    }
}

#[tokio::test]
async fn deadline_counts_time_spent_in_backend_calls() {
    let limits = Limits { deadline: Duration::from_millis(300), ..Limits::default() };
    let connector = load("misbehave", limits);
    let sleepy = std::sync::Arc::new(Sleepy { until_deadline: false });
    let output = connector.call(invocation("/send?to=https://slow.example/"), sleepy).await;
    assert!(matches!(output.result.unwrap_err(), CallError::DeadlineExceeded { .. }));
    assert!(output.report.wall_time < Duration::from_secs(2), "took {:?}", output.report.wall_time);
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn a_send_that_ends_at_the_deadline_does_not_hand_control_back_to_the_code() {
    let limits = Limits { deadline: Duration::from_millis(300), ..Limits::default() };
    let connector = load("misbehave", limits);
    let sleepy = std::sync::Arc::new(Sleepy { until_deadline: true });
    // The guest would answer 200 with the send's timeout; past its deadline
    // it does not run again, and the call ends as the deadline's.
    let output = connector.call(invocation("/send?to=https://slow.example/"), sleepy).await;
    assert_eq!(output.result.unwrap_err(), CallError::DeadlineExceeded { deadline: Duration::from_millis(300) });
    let calls = &output.report.backend_calls;
    assert_eq!(calls.len(), 1, "the send is in the report");
    assert!(calls[0].outcome.is_err(), "{:?}", calls[0].outcome);
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn memory_limit_violated_by_unbounded_growth() {
    let connector = load("misbehave", Limits { memory_bytes: 16 << 20, ..Limits::default() });
    let output = call(&connector, "/grow").await;
    match output.result.unwrap_err() {
        CallError::MemoryLimit { requested, limit } => {
            assert_eq!(limit, 16 << 20);
            assert!(requested > limit);
        }
        other => panic!("expected the memory error, got {other:?}"),
    }
    assert!(output.report.peak_memory_bytes <= 16 << 20);
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn unbounded_recursion_traps_as_stack_overflow() {
    let connector = load("misbehave", Limits::default());
    let output = call(&connector, "/recurse").await;
    match output.result.unwrap_err() {
        CallError::Trap { reason, .. } => assert!(reason.contains("stack overflow"), "{reason}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn panicking_guest_returns_trap_with_panic_message() {
    let connector = load("misbehave", Limits::default());
    let output = call(&connector, "/panic").await;
    let error = output.result.unwrap_err();
    match &error {
        CallError::Trap { panic, .. } => assert_eq!(panic.as_deref(), Some("boom: the answer is 42")),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(error.to_string().contains("panicked: boom: the answer is 42"), "{error}");
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn a_trap_says_what_happened_in_one_line_and_keeps_the_backtrace_for_the_log() {
    let connector = load("misbehave", Limits::default());
    let error = call(&connector, "/panic").await.result.unwrap_err();
    let CallError::Trap { reason, detail, .. } = &error else { panic!("expected a trap, got {error:?}") };
    assert!(reason.contains("unreachable"), "{reason}");
    let shown = error.to_string();
    assert!(!shown.contains('\n') && !shown.contains("backtrace"), "{shown}");
    let detail = detail.as_deref().unwrap_or_default();
    assert!(detail.contains("backtrace"), "the detail keeps wasmtime's backtrace: {detail}");
}

#[tokio::test]
async fn guest_calling_exit_is_a_trap() {
    let connector = load("misbehave", Limits::default());
    let output = call(&connector, "/exit").await;
    match output.result.unwrap_err() {
        CallError::Trap { reason, .. } => assert!(reason.contains("the code called exit("), "{reason}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn too_many_backend_calls_stopped_at_limit() {
    let connector = load("misbehave", Limits { backend_calls: 3, ..Limits::default() });
    let backend = FakeBackend::answering(200, "fine");
    let output = connector.call(invocation("/send-many?to=https://api.contoso.example/x&n=3"), backend.clone()).await;
    assert_eq!(body_text(&output), "sent 3");
    let output = connector.call(invocation("/send-many?to=https://api.contoso.example/x&n=5"), backend.clone()).await;
    assert_eq!(output.result.unwrap_err(), CallError::TooManyBackendCalls { limit: 3 });
    assert_eq!(output.report.backend_calls.len(), 3);
    assert_eq!(backend.calls.load(std::sync::atomic::Ordering::SeqCst), 6);
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn oversized_request_body_refused_before_the_code_runs() {
    let connector = load("misbehave", Limits { request_body_bytes: 10, ..Limits::default() });
    let ok = connector
        .call(invocation_with_body("/ok", Bytes::from_static(b"0123456789")), FakeBackend::answering(200, ""))
        .await;
    assert_eq!(body_text(&ok), "ok");
    let output = connector
        .call(invocation_with_body("/ok", Bytes::from_static(b"0123456789x")), FakeBackend::answering(200, ""))
        .await;
    assert_eq!(output.result.unwrap_err(), CallError::BodyTooLarge { body: Body::Request, size: 11, limit: 10 });
}

#[tokio::test]
async fn oversized_response_body_stopped_at_limit() {
    let connector = load("misbehave", Limits { response_body_bytes: 1000, ..Limits::default() });
    assert_eq!(body_text(&call(&connector, "/big-response?n=1000").await).len(), 1000);
    let output = call(&connector, "/big-response?n=1001").await;
    assert_eq!(output.result.unwrap_err(), CallError::BodyTooLarge { body: Body::Response, size: 1001, limit: 1000 });
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn oversized_backend_bodies_stopped_at_limit() {
    let limits = Limits { request_body_bytes: 100, response_body_bytes: 100, ..Limits::default() };
    let connector = load("misbehave", limits);
    let big = FakeBackend::new(|_, _| Ok(http::Response::new(Bytes::from(vec![b'y'; 101]))));
    let output = connector.call(invocation("/send?to=https://api.contoso.example/"), big).await;
    assert_eq!(
        output.result.unwrap_err(),
        CallError::BodyTooLarge { body: Body::BackendResponse, size: 101, limit: 100 }
    );
    let backend = FakeBackend::answering(200, "fine");
    let output = connector.call(invocation("/send?to=https://api.contoso.example/&body=101"), backend.clone()).await;
    assert_eq!(
        output.result.unwrap_err(),
        CallError::BodyTooLarge { body: Body::BackendRequest, size: 101, limit: 100 }
    );
    assert_eq!(backend.calls.load(std::sync::atomic::Ordering::SeqCst), 0, "the oversized request never left");
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn log_flooding_stopped_at_limit() {
    let connector = load("misbehave", Limits { log_bytes: 4096, ..Limits::default() });
    for path in ["/log-flood", "/stdout-flood"] {
        let output = call(&connector, path).await;
        assert_eq!(output.result.unwrap_err(), CallError::LogLimit { limit: 4096 }, "{path}");
        let logged: usize = output.report.logs.iter().map(|l| l.message.len()).sum();
        assert!(logged <= 4096, "{path}: {logged} bytes kept");
        assert!(!output.report.logs.is_empty(), "{path}: lines before the limit are kept");
        assert_next_call_succeeds(&connector).await;
    }
}

#[tokio::test]
async fn memory_limit_above_runtime_maximum_refused_at_load() {
    let limits = Limits { memory_bytes: 1 << 40, ..Limits::default() };
    let error = runtime().load("misbehave", &guest("misbehave"), limits).unwrap_err();
    assert!(error.to_string().contains("limit `memory_bytes` is invalid"), "{error}");
}

#[tokio::test]
async fn calls_beyond_pool_capacity_get_capacity_error() {
    let config = RuntimeConfig { max_concurrent_calls: 1, fuel_metering: false, ..test_config() };
    let runtime = Runtime::new(config).unwrap();
    let limits = Limits { deadline: Duration::from_millis(500), ..Limits::default() };
    let connector = runtime.load("misbehave", &guest("misbehave"), limits).unwrap();
    let busy = tokio::spawn({
        let connector = connector.clone();
        async move { call(&connector, "/loop").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!busy.is_finished(), "the looping call must still hold the only slot");
    let output = call(&connector, "/ok").await;
    assert!(matches!(output.result, Err(CallError::Capacity(_))), "{:?}", output.result);
    let busy = busy.await.unwrap();
    assert!(matches!(busy.result, Err(CallError::DeadlineExceeded { .. }) | Err(CallError::FuelExhausted { .. })));
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn warm_up_reports_instantiation_and_teardown_times() {
    let connector = load("misbehave", Limits::default());
    let warm = connector.warm_up().await.expect("the code instantiates");
    assert!(warm.instantiation > Duration::ZERO && warm.teardown > Duration::ZERO, "{warm:?}");
    assert_next_call_succeeds(&connector).await;
}

#[tokio::test]
async fn warm_up_refuses_code_whose_initial_memory_is_over_the_limit() {
    // The guest's initial memory (stack and data) is several 64 KiB pages.
    let connector = load("misbehave", Limits { memory_bytes: 64 << 10, ..Limits::default() });
    let error = connector.warm_up().await.unwrap_err();
    assert!(matches!(error, CallError::MemoryLimit { limit: 65536, .. }), "{error:?}");
}
