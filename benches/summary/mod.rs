//! The summary a bench run prints at its end: criterion's median of each
//! benchmark this run measured, and the ratios and targets the performance
//! issue asks for, computed from them.
//!
//! The medians are read back from criterion's own files
//! (`<target>/criterion/<group>/<bench>/new/estimates.json`), so that the
//! summary and criterion's report always agree; files older than this run
//! are ignored, so a filtered run never mixes in stale figures.
#![allow(dead_code, reason = "each bench binary uses the part it needs")]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Whether the run is the quick smoke run: `SLUICE_BENCH_QUICK=1`, or
/// criterion's own `--quick` flag.
pub fn quick() -> bool {
    std::env::var_os("SLUICE_BENCH_QUICK").is_some_and(|v| v != "0") || std::env::args().any(|arg| arg == "--quick")
}

/// Criterion settings for this run: short sampling in quick mode, so that
/// every bench finishes within the two-minute smoke budget.
pub fn criterion() -> criterion::Criterion {
    let base = criterion::Criterion::default();
    let base = if std::env::var_os("SLUICE_BENCH_QUICK").is_some_and(|v| v != "0") {
        base.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(10)
    } else {
        base
    };
    base.configure_from_args()
}

/// The median a benchmark measured in this run, if it ran.
pub struct Medians {
    dir: PathBuf,
    since: SystemTime,
}

impl Medians {
    /// Reads estimates written at or after `since` (the start of the run).
    pub fn since(since: SystemTime) -> Self {
        Self { dir: criterion_dir(), since }
    }

    /// The median time of `group/bench`, if this run measured it.
    pub fn get(&self, group: &str, bench: &str) -> Option<Duration> {
        let path = self.dir.join(group).join(bench).join("new/estimates.json");
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        if modified < self.since {
            return None;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
        let nanos = estimates["median"]["point_estimate"].as_f64()?;
        Some(Duration::from_secs_f64(nanos / 1e9))
    }
}

/// Where criterion writes, found as criterion finds it: `$CRITERION_HOME`,
/// else `<target dir>/criterion`, the target dir being `$CARGO_TARGET_DIR`
/// or the one this bench binary was built in.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .map(|target| target.join("criterion"))
        .unwrap_or_else(|| Path::new("target").join("criterion"))
}

/// Formats a duration in microseconds, the unit every figure here is in.
pub fn micros(duration: Duration) -> String {
    format!("{:.2} µs", duration.as_secs_f64() * 1e6)
}

/// `a / b` as a ratio, if both were measured.
pub fn ratio(a: Option<Duration>, b: Option<Duration>) -> Option<f64> {
    Some(a?.as_secs_f64() / b?.as_secs_f64())
}

/// Percentiles of individually timed calls.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let index = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

/// One line describing the machine: CPU model, cores, load average, so that
/// figures are read with the conditions they were taken in.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, m)| m.trim()))
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    format!("{model}, {cores} cores, load average {load}")
}
