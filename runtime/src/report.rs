//! What a call cost and said: the [`CallReport`] returned with every call, failed or not.

use std::fmt;
use std::time::Duration;

/// What one call used and produced, returned whether it succeeded or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallReport {
    /// Fuel consumed, when the runtime meters fuel.
    pub fuel_consumed: Option<u64>,
    /// The largest total size the instance's linear memories reached, in bytes.
    pub peak_memory_bytes: u64,
    /// Wall-clock time from the start of instantiation to the end of the call.
    pub wall_time: Duration,
    /// The backend calls the code made, in order.
    pub backend_calls: Vec<BackendCall>,
    /// The code's log lines, stdout and stderr included, in order.
    pub logs: Vec<LogLine>,
}

/// One backend call the code made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCall {
    /// The request method.
    pub method: String,
    /// The request URL as the code gave it.
    pub url: String,
    /// The response status, or the reason there was none.
    pub outcome: Result<u16, String>,
    /// How long the backend took.
    pub duration: Duration,
}

/// One line of the code's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// How much it matters.
    pub level: LogLevel,
    /// Where it came from.
    pub source: LogSource,
    /// The text, without a trailing newline.
    pub message: String,
    /// When it was written, from the start of the call.
    pub at: Duration,
}

/// The level of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Fine-grained detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// A failure.
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        })
    }
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogSource {
    /// The contract's `log.write`.
    Log,
    /// The guest's standard output (level info).
    Stdout,
    /// The guest's standard error, where Rust prints panics (level error).
    Stderr,
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogSource::Log => "log",
            LogSource::Stdout => "stdout",
            LogSource::Stderr => "stderr",
        })
    }
}
