//! How the per-call cost grows with the response body: the canonical
//! transform (wrap the backend's item array as `{"count": n, "items": [...]}`)
//! sandboxed and native, with the backend answering arrays of about 1 KiB,
//! 4 KiB, 16 KiB, 64 KiB, 256 KiB, 1 MiB and 4 MiB.
//!
//! This is the runtime alone, no gateway and no network: the backend is the
//! in-process `Canned` backend of `canonical`. The sandboxed side is the
//! items-transform guest in a `Runtime` configured as the gateway's default
//! (pooling, fuel metering on), each call with a fresh store and instance,
//! instantiation and teardown included; the native side is the same
//! transform as plain Rust over the same serde types.
//!
//! For each size and side it times calls one by one and reports the p50,
//! the two sides taking turns so that their ratio comes from the same
//! moments; for the sandboxed side also the fuel and peak linear memory of
//! one call. It prints a table and draws the per-call times against the
//! body size, log-log, into `docs/bench/body-size.svg`.
//!
//! The host allocator is mimalloc, as in the `sluice` gateway binary.
//!
//! Run: `cargo bench --bench scaling` (about a second per size and side).
//! Smoke run, a few seconds: `cargo bench --bench scaling -- --quick`, or
//! `SLUICE_BENCH_QUICK=1 cargo bench --bench scaling`; it draws its chart,
//! marked as a quick run, under `target/tmp`, leaving the README's alone.

mod canonical;
mod plot;
mod summary;

/// The gateway binary's allocator, so that host-side figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use sluice_runtime::{Backend, CallInfo, Connector, Limits, Runtime, RuntimeConfig};
use tokio::runtime::Runtime as Tokio;

use canonical::Canned;
use plot::{Axis, LineChart};
use summary::micros;

/// The backend bodies measured, in bytes: 1 KiB to 4 MiB in steps of four.
/// Each body is the shortest canonical item array at least this long.
const SIZES: [usize; 7] = [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/// Where the chart goes, beside the other figures of the documentation.
const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/bench/body-size.svg");
/// Where a quick run draws it.
const QUICK_CHART: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/body-size.svg");

/// How long each size and side is timed, and in how many turns.
struct Budget {
    per_point: Duration,
    turns: u32,
}

impl Budget {
    /// About a second per point; in a quick run a twentieth of that. Every
    /// turn times at least one call, so a point has at least `turns` calls.
    fn of_this_run() -> Self {
        if summary::quick() {
            Self { per_point: Duration::from_millis(50), turns: 5 }
        } else {
            Self { per_point: Duration::from_secs(1), turns: 10 }
        }
    }
}

/// The guest's limits: the defaults, which the 4 MiB body does not need
/// raised. Its call burns about 405 million fuel of the default billion,
/// its linear memory peaks at about 24 MiB of the default 64 MiB, and its
/// answer is about 4 MiB of the 8 MiB a response body may be (the backend's
/// body, within the same 8 MiB, too), all in about 45 ms of the 5 s
/// deadline. A size past 8 MiB would need `response_body_bytes` raised
/// first, and fuel and memory (both growing in step with the body) past
/// about 10 MiB.
fn limits() -> Limits {
    Limits::default()
}

/// One size, measured.
struct Point {
    /// The target size.
    size: usize,
    /// The backend body's actual length.
    body_bytes: usize,
    native: Timings,
    sandboxed: Timings,
    /// Fuel one sandboxed call burned.
    fuel: Option<u64>,
    /// The largest linear memory one sandboxed call reached, in bytes.
    peak_memory: u64,
}

/// Per-call wall times of one side, sorted.
struct Timings(Vec<Duration>);

impl Timings {
    fn p50(&self) -> Duration {
        summary::percentile(&self.0, 0.5)
    }
}

/// Everything one size's calls need, built before any timing.
struct Case<'a> {
    connector: &'a Connector,
    backend: Arc<dyn Backend>,
    info: CallInfo,
    items: u64,
    body_bytes: usize,
}

#[derive(Clone, Copy)]
enum Side {
    Native,
    Sandboxed,
}

impl Case<'_> {
    fn new(connector: &Connector, size: usize) -> Case<'_> {
        let items = items_for(size);
        let body = canonical::items_answer(items);
        let body_bytes = body.len();
        Case { connector, backend: Arc::new(Canned(body)), info: canonical::call_info(), items, body_bytes }
    }

    /// One call of `side`, timed; its inputs are built and its output
    /// dropped outside the timing.
    async fn time(&self, side: Side) -> Result<Duration> {
        match side {
            Side::Native => {
                let request = canonical::request();
                let started = Instant::now();
                let output = canonical::native(&self.info, self.backend.as_ref(), request).await;
                let elapsed = started.elapsed();
                output.context("native transform")?;
                Ok(elapsed)
            }
            Side::Sandboxed => {
                let (invocation, backend) = (canonical::invocation(), Arc::clone(&self.backend));
                let started = Instant::now();
                let output = self.connector.call(invocation, backend).await;
                let elapsed = started.elapsed();
                output.result.context("sandboxed transform")?;
                Ok(elapsed)
            }
        }
    }

    /// Both sides answer the same JSON, `count` being the number of items
    /// sent, so that the two curves measure the same work. Returns the fuel
    /// and peak memory of the sandboxed call.
    async fn check(&self) -> Result<(Option<u64>, u64)> {
        let native = canonical::native(&self.info, self.backend.as_ref(), canonical::request())
            .await
            .context("native transform")?;
        let output = self.connector.call(canonical::invocation(), Arc::clone(&self.backend)).await;
        let sandboxed = output.result.context("sandboxed transform")?;
        let native: Value = serde_json::from_slice(native.body()).context("native answer is not JSON")?;
        let sandboxed: Value = serde_json::from_slice(sandboxed.body()).context("sandboxed answer is not JSON")?;
        if native != sandboxed {
            bail!("the sandboxed and native answers differ for {} items", self.items);
        }
        ensure!(
            native["count"].as_u64() == Some(self.items),
            "count is {}, {} items were sent",
            native["count"],
            self.items
        );
        Ok((output.report.fuel_consumed, output.report.peak_memory_bytes))
    }

    /// Times both sides in turns, each turn opening with one untimed call
    /// (the other side's turn has just run other code over other memory).
    async fn measure(&self, budget: &Budget) -> Result<(Timings, Timings)> {
        let per_turn = budget.per_point / budget.turns;
        let (mut native, mut sandboxed) = (Vec::new(), Vec::new());
        for _ in 0..budget.turns {
            for (side, times) in [(Side::Native, &mut native), (Side::Sandboxed, &mut sandboxed)] {
                self.time(side).await?;
                let started = Instant::now();
                loop {
                    times.push(self.time(side).await?);
                    if started.elapsed() >= per_turn {
                        break;
                    }
                }
            }
        }
        native.sort();
        sandboxed.sort();
        Ok((Timings(native), Timings(sandboxed)))
    }
}

/// The fewest canonical items whose JSON array is at least `size` bytes:
/// item `i` is `{"id":i,"name":"item{i}","ok":true}`, 31 bytes and its
/// number twice, and a comma parts it from the next.
fn items_for(size: usize) -> u64 {
    let mut length = 2; // the brackets
    let mut items = 0u64;
    while length < size {
        items += 1;
        let digits = items.to_string().len();
        length += 31 + 2 * digits + usize::from(items > 1);
    }
    items
}

fn measure(tokio: &Tokio, connector: &Connector, size: usize, budget: &Budget) -> Result<Point> {
    let case = Case::new(connector, size);
    let (fuel, peak_memory) =
        tokio.block_on(case.check()).with_context(|| format!("check at {}", plot::bytes(size as f64)))?;
    let (native, sandboxed) = tokio.block_on(case.measure(budget))?;
    Ok(Point { size, body_bytes: case.body_bytes, native, sandboxed, fuel, peak_memory })
}

/// The table's columns: their headings and widths.
const COLUMNS: [(&str, usize); 9] = [
    ("size", 8),
    ("body bytes", 11),
    ("native p50", 13),
    ("sandboxed p50", 14),
    ("ratio", 6),
    ("µs/KiB sandboxed", 17),
    ("fuel", 14),
    ("peak memory", 12),
    ("calls", 14),
];

fn print_row(cells: [String; 9]) {
    let line: Vec<String> = cells
        .iter()
        .zip(COLUMNS)
        .enumerate()
        .map(
            |(index, (cell, (_, width)))| {
                if index == 0 { format!("{cell:<width$}") } else { format!("{cell:>width$}") }
            },
        )
        .collect();
    println!("   {}", line.join(" "));
}

fn print_point(point: &Point) {
    let (native, sandboxed) = (point.native.p50(), point.sandboxed.p50());
    let kib = point.body_bytes as f64 / 1024.0;
    print_row([
        plot::bytes(point.size as f64),
        plot::number(point.body_bytes as f64),
        micros(native),
        micros(sandboxed),
        format!("{:.2}", sandboxed.as_secs_f64() / native.as_secs_f64()),
        format!("{:.2}", sandboxed.as_secs_f64() * 1e6 / kib),
        point.fuel.map_or_else(|| "n/a".into(), |fuel| plot::number(fuel as f64)),
        plot::bytes(point.peak_memory as f64),
        format!("{}/{}", point.native.0.len(), point.sandboxed.0.len()),
    ]);
}

fn draw(points: &[Point], quick: bool) -> Result<()> {
    let curve = |timings: fn(&Point) -> &Timings| {
        points.iter().map(move |p| (p.body_bytes as f64, timings(p).p50().as_secs_f64() * 1e6))
    };
    let title = "Per-call time against response body size (p50, runtime only)";
    LineChart::new(if quick { format!("{title}, quick run") } else { title.to_string() })
        .x(Axis::log("backend response body (JSON item array)")
            .ticks(SIZES.map(|size| size as f64))
            .format(plot::bytes))
        .y(Axis::log("time per call (µs)"))
        .series("sandboxed (items-transform)", curve(|p| &p.sandboxed))
        .series("native Rust", curve(|p| &p.native))
        .write_svg(Path::new(if quick { QUICK_CHART } else { CHART }))
}

fn main() -> Result<()> {
    let quick = summary::quick();
    let budget = Budget::of_this_run();
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    let code = std::fs::read(canonical::guest()).context("read the guest built by sluice-test-programs")?;
    let runtime = Runtime::new(RuntimeConfig::default()).context("runtime")?;
    let connector = runtime.load("items", &code, limits()).context("load the canonical transform")?;

    println!();
    println!("== sluice runtime, per-call cost against the response body size, on {}", summary::machine());
    println!(
        "-- p50 of calls timed one by one, about {} ms per size and side in {} turns; fuel and peak memory of one \
         sandboxed call; calls timed native/sandboxed",
        budget.per_point.as_millis(),
        budget.turns
    );
    print_row(COLUMNS.map(|(heading, _)| heading.to_string()));
    let mut points = Vec::new();
    for size in SIZES {
        let point = measure(&tokio, &connector, size, &budget)?;
        print_point(&point);
        points.push(point);
    }
    draw(&points, quick)?;
    println!("-- chart: {}", if quick { QUICK_CHART } else { CHART });
    Ok(())
}
