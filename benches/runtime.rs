//! Benchmarks 1 to 4 of the performance issue: what running the canonical
//! transform in the sandbox costs per call, next to the same transform in
//! native Rust, and what each engine setting contributes.
//!
//! - `canonical/native`: the transform as a plain Rust function (1);
//! - `canonical/sandboxed`: a full call, fresh store and instance, both hooks
//!   around an in-process backend, instantiation and teardown included (2);
//! - `instantiate/*`: instantiation alone, no call (3): a fresh store and
//!   an instance from the prepared template, with the pooling allocator and
//!   with on-demand allocation (4); `teardown/*`: dropping them again (the
//!   pool slot's reset), timed separately so that neither hides in the other;
//! - `allocation/*`: the full call, pooling versus on-demand (4);
//! - `fuel/*`: the full call, fuel metering on versus off (4).
//!
//! The run ends with a summary: criterion's medians and the ratios the issue
//! asks for (sandboxed / native, fuel on / off, pooling / on-demand); then
//! the same operations timed one call at a time, every kind in turns so that
//! their ratios come from the same moments, with p50 and p99; and the
//! targets, judged on those per-call p50s.
//!
//! The host allocator is mimalloc, as in the `sluice` gateway binary.
//!
//! Run: `cargo bench --bench runtime`. Smoke run (well under two minutes):
//! `SLUICE_BENCH_QUICK=1 cargo bench --bench runtime`, or
//! `cargo bench --bench runtime -- --quick`.

mod canonical;
mod summary;

/// The gateway binary's allocator, so that host-side figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion};
use sluice_runtime::{Backend, Connector, Limits, Runtime, RuntimeConfig, WarmUp};
use tokio::runtime::Runtime as Tokio;

use canonical::Canned;
use summary::{Medians, micros, ratio};

/// The sandboxed call's target p50, from the performance issue.
const CALL_TARGET: Duration = Duration::from_micros(25);
/// The instantiation target, from the performance issue.
const INSTANTIATE_TARGET: Duration = Duration::from_micros(5);
/// The most fuel metering may add, from the performance issue.
const FUEL_TARGET: f64 = 1.15;

/// What every bench needs, built once before any measurement.
struct Setup {
    tokio: Tokio,
    backend: Arc<dyn Backend>,
    /// The default configuration: pooling and fuel metering.
    pooled: Connector,
    /// On-demand allocation, fuel metering on.
    on_demand: Connector,
    /// Pooling, fuel metering off.
    unmetered: Connector,
    /// Kept alive for the connectors above; dropping a runtime stops its clock.
    _runtimes: Vec<Runtime>,
}

impl Setup {
    fn new() -> Self {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let code = std::fs::read(canonical::guest()).expect("the guest is built by sluice-test-programs");
        let mut runtimes = Vec::new();
        let mut load = |config: RuntimeConfig| {
            let runtime = Runtime::new(config).expect("runtime");
            let connector = runtime.load("items", &code, Limits::default()).expect("load the canonical transform");
            runtimes.push(runtime);
            connector
        };
        let pooled = load(RuntimeConfig::default());
        let on_demand = load(RuntimeConfig { pooling: false, ..RuntimeConfig::default() });
        let unmetered = load(RuntimeConfig { fuel_metering: false, ..RuntimeConfig::default() });
        let backend: Arc<dyn Backend> = Arc::new(Canned(canonical::backend_answer()));
        let setup = Self { tokio, backend, pooled, on_demand, unmetered, _runtimes: runtimes };
        setup.check();
        setup
    }

    /// Both versions give the same answer, so the benches compare the same work.
    fn check(&self) {
        let expected = canonical::expected_answer();
        let native = self
            .tokio
            .block_on(canonical::native(&canonical::call_info(), self.backend.as_ref(), canonical::request()))
            .expect("native transform");
        assert_eq!(serde_json::from_slice::<serde_json::Value>(native.body()).expect("json"), expected);
        for connector in [&self.pooled, &self.on_demand, &self.unmetered] {
            let output = self.tokio.block_on(connector.call(canonical::invocation(), Arc::clone(&self.backend)));
            let response = output.result.expect("sandboxed transform");
            assert_eq!(serde_json::from_slice::<serde_json::Value>(response.body()).expect("json"), expected);
            self.tokio.block_on(connector.warm_up()).expect("warm up");
        }
    }
}

fn bench_call(c: &mut Criterion, setup: &Setup, group: &str, cases: &[(&str, &Connector)]) {
    let mut group = c.benchmark_group(group);
    for (name, connector) in cases {
        group.bench_function(*name, |b| {
            b.to_async(&setup.tokio).iter_batched(
                || (canonical::invocation(), Arc::clone(&setup.backend)),
                |(invocation, backend)| async move {
                    let output = connector.call(invocation, backend).await;
                    debug_assert!(output.result.is_ok());
                    output
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion, setup: &Setup) {
    // 1 and 2: the same transform natively and in the sandbox.
    {
        let mut group = c.benchmark_group("canonical");
        let info = canonical::call_info();
        group.bench_function("native", |b| {
            b.to_async(&setup.tokio).iter_batched(
                canonical::request,
                |request| canonical::native(&info, setup.backend.as_ref(), request),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
    bench_call(c, setup, "canonical", &[("sandboxed", &setup.pooled)]);

    // 3: instantiation alone from the prepared template (store and
    // instance), with either allocator; then the teardown it leaves behind.
    for (group, step) in [("instantiate", Step::Instantiation), ("teardown", Step::Teardown)] {
        let mut group = c.benchmark_group(group);
        for (name, connector) in [("pooling", &setup.pooled), ("on-demand", &setup.on_demand)] {
            group.bench_function(name, |b| {
                b.to_async(&setup.tokio).iter_custom(|iterations| async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        total += step.of(connector.warm_up().await.expect("warm up"));
                    }
                    total
                })
            });
        }
        group.finish();
    }

    // 4: the full call under each allocator, and with fuel on and off.
    bench_call(c, setup, "allocation", &[("pooling", &setup.pooled), ("on-demand", &setup.on_demand)]);
    bench_call(c, setup, "fuel", &[("on", &setup.pooled), ("off", &setup.unmetered)]);
}

/// Which part of a [`WarmUp`] a bench reports.
#[derive(Clone, Copy)]
enum Step {
    Instantiation,
    Teardown,
}

impl Step {
    fn of(self, warm: WarmUp) -> Duration {
        match self {
            Step::Instantiation => warm.instantiation,
            Step::Teardown => warm.teardown,
        }
    }
}

/// What the interleaved loop times, one call at a time.
#[derive(Clone, Copy)]
enum Kind {
    Native,
    Call(Which),
    Instantiate(Which, Step),
}

/// Which of the setup's connectors.
#[derive(Clone, Copy)]
enum Which {
    Pooled,
    OnDemand,
    Unmetered,
}

impl Setup {
    fn connector(&self, which: Which) -> &Connector {
        match which {
            Which::Pooled => &self.pooled,
            Which::OnDemand => &self.on_demand,
            Which::Unmetered => &self.unmetered,
        }
    }

    /// Times one operation of `kind`, its inputs built outside the timing.
    async fn time_one(&self, kind: Kind, info: &sluice_runtime::CallInfo) -> Duration {
        match kind {
            Kind::Native => {
                let request = canonical::request();
                let started = Instant::now();
                let output = canonical::native(info, self.backend.as_ref(), request).await;
                let elapsed = started.elapsed();
                let _ = std::hint::black_box(output);
                elapsed
            }
            Kind::Call(which) => {
                let (invocation, backend) = (canonical::invocation(), Arc::clone(&self.backend));
                let started = Instant::now();
                let output = self.connector(which).call(invocation, backend).await;
                let elapsed = started.elapsed();
                std::hint::black_box(output);
                elapsed
            }
            Kind::Instantiate(which, step) => step.of(self.connector(which).warm_up().await.expect("warm up")),
        }
    }
}

/// Per-call latencies, timed one call at a time, with every kind measured in
/// turns of [`BLOCK`] calls: the ratios between kinds then come from the
/// same moments, which matters on a shared machine whose speed drifts
/// between runs (criterion measures each bench in its own time window).
struct Latencies {
    sorted: Vec<Vec<Duration>>,
}

/// Calls of one kind in a row before the next kind's turn.
const BLOCK: usize = 200;
/// Untimed calls at the start of each turn.
const WARM_UP: usize = 20;
/// The kinds the interleaved loop times, in the order of the summary.
const KINDS: [(&str, Kind); 8] = [
    ("native", Kind::Native),
    ("sandboxed (pooling, fuel)", Kind::Call(Which::Pooled)),
    ("sandboxed, fuel off", Kind::Call(Which::Unmetered)),
    ("sandboxed, on-demand", Kind::Call(Which::OnDemand)),
    ("instantiate (pooling)", Kind::Instantiate(Which::Pooled, Step::Instantiation)),
    ("instantiate (on-demand)", Kind::Instantiate(Which::OnDemand, Step::Instantiation)),
    ("teardown (pooling)", Kind::Instantiate(Which::Pooled, Step::Teardown)),
    ("teardown (on-demand)", Kind::Instantiate(Which::OnDemand, Step::Teardown)),
];

impl Latencies {
    fn measure(setup: &Setup, per_kind: usize) -> Self {
        let info = canonical::call_info();
        let mut times: Vec<Vec<Duration>> = KINDS.iter().map(|_| Vec::with_capacity(per_kind)).collect();
        setup.tokio.block_on(async {
            for _ in 0..per_kind.div_ceil(BLOCK) {
                for ((_, kind), times) in KINDS.iter().zip(times.iter_mut()) {
                    // The previous turn ran other code (and on-demand turns
                    // map and unmap memory): warm up first, as criterion does.
                    for _ in 0..WARM_UP {
                        setup.time_one(*kind, &info).await;
                    }
                    for _ in 0..BLOCK {
                        times.push(setup.time_one(*kind, &info).await);
                    }
                }
            }
        });
        for times in &mut times {
            times.sort();
        }
        Self { sorted: times }
    }

    fn p50(&self, kind: usize) -> Duration {
        summary::percentile(&self.sorted[kind], 0.5)
    }

    fn p99(&self, kind: usize) -> Duration {
        summary::percentile(&self.sorted[kind], 0.99)
    }

    fn ratio(&self, a: usize, b: usize) -> f64 {
        self.p50(a).as_secs_f64() / self.p50(b).as_secs_f64()
    }
}

fn print_summary(setup: &Setup, started: SystemTime) {
    let medians = Medians::since(started);
    let get = |group, bench| medians.get(group, bench);
    let show = |value: Option<Duration>| value.map(micros).unwrap_or_else(|| "not run".into());
    let show_ratio = |value: Option<f64>| value.map(|r| format!("{r:.2}")).unwrap_or_else(|| "n/a".into());

    println!();
    println!("== sluice runtime, benches 1-4, on {}", summary::machine());
    println!("-- criterion medians (this run)");
    for (group, bench) in [
        ("canonical", "native"),
        ("canonical", "sandboxed"),
        ("instantiate", "pooling"),
        ("instantiate", "on-demand"),
        ("teardown", "pooling"),
        ("teardown", "on-demand"),
        ("allocation", "pooling"),
        ("allocation", "on-demand"),
        ("fuel", "on"),
        ("fuel", "off"),
    ] {
        println!("   {:<26} {:>10}", format!("{group}/{bench}"), show(get(group, bench)));
    }
    println!(
        "   ratios: sandboxed / native {}, fuel on / off {}, pooling / on-demand {} (call), {} (instantiation)",
        show_ratio(ratio(get("canonical", "sandboxed"), get("canonical", "native"))),
        show_ratio(ratio(get("fuel", "on"), get("fuel", "off"))),
        show_ratio(ratio(get("allocation", "pooling"), get("allocation", "on-demand"))),
        show_ratio(ratio(get("instantiate", "pooling"), get("instantiate", "on-demand"))),
    );
    if get("canonical", "sandboxed").is_none() {
        // A filtered or test-mode run: no per-call figures either.
        return;
    }

    let per_kind = if summary::quick() { 2 * BLOCK * 5 } else { 20 * BLOCK * 5 };
    let latencies = Latencies::measure(setup, per_kind);
    println!(
        "-- per call, {per_kind} of each timed one by one, kinds interleaved in turns of {BLOCK} (each after {WARM_UP} untimed)"
    );
    for (index, (name, _)) in KINDS.iter().enumerate() {
        println!("   {name:<26} p50 {:>10}   p99 {:>10}", micros(latencies.p50(index)), micros(latencies.p99(index)));
    }
    let fuel = latencies.ratio(1, 2);
    println!(
        "   ratios of p50s: sandboxed / native {:.2}, fuel on / off {fuel:.2}, pooling / on-demand {:.2} (call), {:.2} (instantiation)",
        latencies.ratio(1, 0),
        latencies.ratio(1, 3),
        latencies.ratio(4, 5),
    );
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!("-- targets (per-call p50s above)");
    println!(
        "   sandboxed call p50 <= {}: {} ({})",
        micros(CALL_TARGET),
        verdict(latencies.p50(1) <= CALL_TARGET),
        micros(latencies.p50(1))
    );
    println!(
        "   instantiation p50 <= {}: {} ({})",
        micros(INSTANTIATE_TARGET),
        verdict(latencies.p50(4) <= INSTANTIATE_TARGET),
        micros(latencies.p50(4))
    );
    println!("   fuel on / off <= {FUEL_TARGET:.2}: {} ({fuel:.2})", verdict(fuel <= FUEL_TARGET));
}

fn main() {
    let started = SystemTime::now();
    let setup = Setup::new();
    let mut c = summary::criterion();
    benches(&mut c, &setup);
    c.final_summary();
    print_summary(&setup, started);
}
