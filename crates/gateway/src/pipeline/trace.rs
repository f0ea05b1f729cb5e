//! What a test of an operation shows besides its answer: each backend
//! request (credentials and the connection's secrets redacted), the code's
//! log lines (redacted) and the code's report. A client's call records
//! nothing.

use std::sync::Mutex;
use std::time::Duration;

/// The record of one traced call.
#[derive(Debug, Default)]
pub struct Trace {
    inner: Mutex<Recorded>,
}

#[derive(Debug, Default)]
struct Recorded {
    requests: Vec<TracedRequest>,
    code: Option<TracedCode>,
}

/// One backend request, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedRequest {
    /// The method.
    pub method: String,
    /// The URL, the connection's secrets redacted.
    pub url: String,
    /// Its headers; credentials (`Authorization`, a connection's key) show
    /// as `***`.
    pub headers: Vec<(String, String)>,
    /// The backend's status, or why there was none.
    pub outcome: Result<u16, String>,
    /// How long it took.
    pub duration: Duration,
}

/// What the code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedCode {
    /// Fuel consumed, when metered.
    pub fuel_consumed: Option<u64>,
    /// The fuel limit.
    pub fuel_limit: u64,
    /// Peak linear memory, in bytes.
    pub peak_memory_bytes: u64,
    /// The memory limit, in bytes.
    pub memory_limit_bytes: u64,
    /// Time from instantiation to the end of the call.
    pub wall_time: Duration,
    /// The deadline.
    pub deadline: Duration,
    /// Its log lines, redacted.
    pub logs: Vec<TracedLog>,
}

/// One log line of the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedLog {
    /// `trace` to `error`.
    pub level: String,
    /// `log`, `stdout` or `stderr`.
    pub source: String,
    /// The text, redacted.
    pub message: String,
}

impl Trace {
    /// Records a backend request.
    pub(crate) fn request(&self, request: TracedRequest) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).requests.push(request);
    }

    /// Records what the code did.
    pub(crate) fn code(&self, code: TracedCode) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).code = Some(code);
    }

    /// The backend requests, in order.
    pub fn requests(&self) -> Vec<TracedRequest> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).requests.clone()
    }

    /// What the code did, if the operation ran code.
    pub fn code_report(&self) -> Option<TracedCode> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).code.clone()
    }
}
