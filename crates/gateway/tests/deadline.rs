//! The deadline under load, in a test binary of its own: 256 calls whose
//! code waits on a backend that never answers must all be answered 504 at
//! their 2 s deadline, counted from when the gateway took each request.
//!
//! Its own process, because what it measures is how late the answers come:
//! beside the `all` suite, whose tests run on parallel threads and compile
//! components, the 256 answers wait for cores those tests hold (up to 273 ms
//! late seen there), which says nothing of the gateway. Cargo runs test
//! binaries one after another, so here nothing else runs.

#[path = "all/support.rs"]
mod support;

use std::sync::Arc;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_holds_under_load() {
    capture_logs();
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = plain_code_shop(backend, "[limits]\ndeadline = \"2s\"\n")
        .runtime(|r| {
            r.max_concurrent_calls = 300;
            r.max_calls_per_connector = 300;
        })
        .start()
        .await;
    let gateway = Arc::new(gateway);
    let stall = format!("/apim/shop/c1/run/send?to=http://{backend}/v1/stall");
    let calls: Vec<_> = (0..256)
        .map(|_| {
            let (gateway, stall, id) = (Arc::clone(&gateway), stall.clone(), correlation());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let answer = gateway.send("GET", &stall, &[("x-correlation-id", id.as_str())], "").await;
                (answer, id, started.elapsed())
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut client_slowest = std::time::Duration::ZERO;
    for call in calls {
        let (answer, id, took) = call.await.unwrap();
        client_slowest = client_slowest.max(took);
        assert_eq!((answer.status, answer.problem_type().as_str()), (504, "deadline-exceeded"));
        ids.push(id);
    }
    // The deadline counts from when the gateway took the request (the
    // clients queue before that: 256 of them on two cores), and its one line
    // for the failure says how long it held it. The log is read once, after
    // the calls: reading it holds the lock every log line waits for.
    let failures = log_lines("call failed");
    let mut slowest = 0;
    for id in &ids {
        let line = failures.iter().find(|l| l.contains(id.as_str())).unwrap_or_else(|| panic!("no line for {id}"));
        let held: u64 = line
            .split("elapsed_ms=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("no elapsed_ms in {line}"));
        slowest = slowest.max(held);
    }
    eprintln!(
        "the slowest of {} answers took {slowest} ms in the gateway, {} ms for its client",
        ids.len(),
        client_slowest.as_millis()
    );
    // Seen 14 to 56 ms late here (unoptimised, with fuzzers or a release
    // build beside it). The clients waited up to 1.3 s more before the
    // gateway had their headers: 256 connections and instantiations of
    // unoptimised code on two cores, as much before issue 13 as after. What
    // a release gateway's clients see is measured by the gateway bench.
    assert!((2_000..2_000 + 250).contains(&slowest), "the slowest answer took {slowest} ms");
}
