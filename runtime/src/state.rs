//! The per-call store data and the host side of the contract's imports.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::backend::{Backend, CallInfo, SendError};
use crate::bindings::sluice::connector::{backend, call, log, types};
use crate::error::{Abort, Body};
use crate::limits::Limits;
use crate::logs::{self, LogSink, LogStream};
use crate::report::{BackendCall, LogLevel, LogSource};

/// Everything one call's store holds. Built fresh for every call and dropped
/// with it, so nothing survives from one call to the next.
pub(crate) struct CallState {
    /// The call's WASI context, built the first time the code calls a WASI
    /// function. Most connector code never does (it talks to the host
    /// through the contract), and building one costs two seeded random
    /// generators and a dozen allocations per call.
    pub(crate) wasi: Option<WasiCtx>,
    /// The package's assets folder, offered read-only when the WASI
    /// context is built.
    pub(crate) assets: Option<Arc<Path>>,
    pub(crate) table: ResourceTable,
    pub(crate) memory: MemoryLimiter,
    pub(crate) logs: Arc<Mutex<LogSink>>,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) info: CallInfo,
    pub(crate) limits: Limits,
    pub(crate) backend_calls: Vec<BackendCall>,
    /// The first limit the host enforced by trapping, for exact classification.
    pub(crate) abort: Option<Abort>,
}

impl CallState {
    /// Remembers why the host is stopping the guest and turns it into the trap.
    fn stop(&mut self, abort: Abort) -> wasmtime::Error {
        self.abort.get_or_insert_with(|| abort.clone());
        wasmtime::Error::new(abort)
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (logs, assets) = (&self.logs, self.assets.as_deref());
        let ctx = self.wasi.get_or_insert_with(|| new_wasi(logs, assets));
        WasiCtxView { ctx, table: &mut self.table }
    }
}

/// A call's WASI context: clocks and randomness of its own, no environment
/// or arguments, stdout and stderr into the call's log, no network (sockets,
/// which only Python guests may import, refuse every use), and no directory
/// but the package's assets, read-only.
fn new_wasi(logs: &Arc<Mutex<LogSink>>, assets: Option<&Path>) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(LogStream::new(Arc::clone(logs), LogSource::Stdout))
        .stderr(LogStream::new(Arc::clone(logs), LogSource::Stderr))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(assets) = assets {
        // Opened per call (one `open`), read-only: no write, create, rename
        // or delete, and cap-std keeps `..` and links inside the folder.
        if let Err(error) = builder.preopened_dir(assets, crate::ASSETS_GUEST_PATH, FsPerms::ReadOnly) {
            // The folder was there at load; the operator removed it since.
            // The code then finds no `/assets`, as its read will say.
            tracing::warn!(folder = %assets.display(), %error, "the assets folder cannot be opened");
        }
    }
    builder.build()
}

/// The linear memory every call in flight holds, against the runtime's
/// budget ([`RuntimeConfig::max_total_memory_bytes`](crate::RuntimeConfig)).
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    budget: u64,
    used: std::sync::atomic::AtomicU64,
}

impl MemoryBudget {
    pub(crate) fn new(budget: u64) -> Self {
        Self { budget, used: std::sync::atomic::AtomicU64::new(0) }
    }

    /// Takes `bytes` from the budget, if that many are left.
    fn take(&self, bytes: u64) -> bool {
        use std::sync::atomic::Ordering;
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.budget)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        self.used.fetch_sub(bytes, std::sync::atomic::Ordering::AcqRel);
    }

    /// The bytes held now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Caps the total linear memory of one instance, takes it from the
/// runtime's budget as it grows, and records its peak.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: u64,
    total: u64,
    budget: Arc<MemoryBudget>,
    pub(crate) peak: u64,
    pub(crate) exceeded: Option<Abort>,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: u64, budget: Arc<MemoryBudget>) -> Self {
        Self { limit, total: 0, budget, peak: 0, exceeded: None }
    }
}

impl Drop for MemoryLimiter {
    /// The instance's memory goes back to the budget when its store is dropped.
    fn drop(&mut self) {
        self.budget.give_back(self.total);
    }
}

/// Table elements one instance may hold; far above what compiled Rust needs.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let requested = (self.total - current as u64).saturating_add(desired as u64);
        if requested > self.limit {
            let abort = Abort::Memory { requested, limit: self.limit };
            self.exceeded.get_or_insert_with(|| abort.clone());
            return Err(wasmtime::Error::new(abort));
        }
        if !self.budget.take(requested.saturating_sub(self.total)) {
            let abort = Abort::MemoryBudget { budget: self.budget.budget };
            self.exceeded.get_or_insert_with(|| abort.clone());
            return Err(wasmtime::Error::new(abort));
        }
        self.total = requested;
        self.peak = self.peak.max(requested);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

impl types::Host for CallState {}

impl log::Host for CallState {
    fn write(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        let result = logs::lock(&self.logs).line(level, message);
        result.map_err(|abort| self.stop(abort))
    }
}

impl call::Host for CallState {
    fn time_left_ms(&mut self) -> wasmtime::Result<u64> {
        let left = self.info.deadline.saturating_duration_since(Instant::now());
        Ok(u64::try_from(left.as_millis()).unwrap_or(u64::MAX))
    }
}

impl backend::Host for CallState {
    async fn send(
        &mut self,
        mut request: types::Request,
    ) -> wasmtime::Result<Result<types::Response, types::SendError>> {
        let index = u32::try_from(self.backend_calls.len()).unwrap_or(u32::MAX);
        if index >= self.limits.backend_calls {
            return Err(self.stop(Abort::TooManyBackendCalls { limit: self.limits.backend_calls }));
        }
        if request.body.len() > self.limits.request_body_bytes {
            return Err(self.stop(Abort::Body {
                body: Body::BackendRequest,
                size: request.body.len(),
                limit: self.limits.request_body_bytes,
            }));
        }
        let started = Instant::now();
        let outcome = match to_http_request(&mut request) {
            Ok(http_request) => {
                let info = CallInfo { index, ..self.info.clone() };
                let backend = Arc::clone(&self.backend);
                backend.send(&info, http_request).await
            }
            Err(reason) => Err(SendError::InvalidRequest(reason)),
        };
        // The method and URL move into the report as the code gave them;
        // the HTTP request was built from copies.
        self.backend_calls.push(BackendCall {
            method: request.method,
            url: request.url,
            outcome: outcome.as_ref().map(|r| r.status().as_u16()).map_err(ToString::to_string),
            duration: started.elapsed(),
        });
        // A send that ends at or past the deadline (the host's timeout is the
        // deadline) stops the call here, as the deadline's: the code does not
        // run on after it. (The epoch callback would stop it too, at its
        // first check, once a tick has passed; this does not wait for one.)
        if Instant::now() >= self.info.deadline {
            return Err(self.stop(Abort::Deadline));
        }
        match outcome {
            Ok(response) => {
                let size = response.body().len();
                if size > self.limits.response_body_bytes {
                    return Err(self.stop(Abort::Body {
                        body: Body::BackendResponse,
                        size,
                        limit: self.limits.response_body_bytes,
                    }));
                }
                Ok(Ok(from_http_response(response)))
            }
            Err(error) => Ok(Err(error.into())),
        }
    }
}

impl From<SendError> for types::SendError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Denied(reason) => types::SendError::Denied(reason),
            SendError::InvalidRequest(reason) => types::SendError::InvalidRequest(reason),
            SendError::Unreachable(reason) => types::SendError::Unreachable(reason),
            SendError::Timeout => types::SendError::Timeout,
            SendError::Failed(reason) => types::SendError::Failed(reason),
        }
    }
}

/// The most headers a request the code sends, or its response, may carry.
pub const MAX_HEADERS: usize = 256;
/// The largest total of header names and values in a request the code
/// sends, or in its response, in bytes.
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// Refuses more than [`MAX_HEADERS`] headers or [`MAX_HEADER_BYTES`] of them.
pub(crate) fn check_headers(headers: &[types::Header]) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!("{} headers are more than the limit of {MAX_HEADERS}", headers.len()));
    }
    let size: usize = headers.iter().map(|h| h.name.len() + h.value.len()).sum();
    if size > MAX_HEADER_BYTES {
        return Err(format!("{size} bytes of headers are more than the limit of {MAX_HEADER_BYTES}"));
    }
    Ok(())
}

/// At most 100 characters of a value the code gave, for an error message.
fn shown(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// Builds an HTTP request from the guest's, checking method, URL and headers.
/// The body moves out of `request`; method and URL stay for the report. A
/// `Host` header may only repeat the URL's host: the URL says where the
/// request goes, and a header cannot send it to another virtual host.
pub(crate) fn to_http_request(request: &mut types::Request) -> Result<http::Request<Bytes>, String> {
    let method = http::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| format!("`{}` is not a valid HTTP method", shown(&request.method)))?;
    let uri: http::Uri =
        request.url.parse().map_err(|e| format!("`{}` is not a valid URL: {e}", shown(&request.url)))?;
    let Some(authority) = uri.authority().filter(|_| uri.scheme().is_some()).cloned() else {
        return Err(format!("`{}` is not an absolute URL with a scheme and a host", shown(&request.url)));
    };
    check_headers(&request.headers)?;
    let mut builder = http::Request::builder().method(method).uri(uri);
    for header in &mut request.headers {
        let name = http::HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| format!("`{}` is not a valid header name", shown(&header.name)))?;
        if name == http::header::HOST {
            // Checked against the URL's host, which is a valid value: an
            // invalid one cannot match.
            if !header.value.as_bytes().eq_ignore_ascii_case(authority.as_str().as_bytes()) {
                return Err(format!(
                    "the Host header `{}` is not the URL's host `{authority}`; set the host in the URL",
                    shown(&header.value)
                ));
            }
            continue;
        }
        let value = header_value(std::mem::take(&mut header.value))
            .map_err(|_| format!("the value of header `{}` is not a valid header value", shown(&header.name)))?;
        builder = builder.header(name, value);
    }
    builder.body(Bytes::from(std::mem::take(&mut request.body))).map_err(|e| e.to_string())
}

/// A header value the guest gave, checked as `HeaderValue::from_str` checks
/// it, in the string's own allocation: lifting it from the guest's memory
/// already copied it once.
pub(crate) fn header_value(value: String) -> Result<http::HeaderValue, http::header::InvalidHeaderValue> {
    http::HeaderValue::from_maybe_shared(Bytes::from(value.into_bytes()))
}

/// Turns a backend's response into the guest's.
pub(crate) fn from_http_response(response: http::Response<Bytes>) -> types::Response {
    let (parts, body) = response.into_parts();
    types::Response { status: parts.status.as_u16(), headers: to_wit_headers(&parts.headers), body: body.into() }
}

/// Copies headers into the contract's form; values that are not UTF-8 are
/// passed lossily, as the contract's header values are strings.
pub(crate) fn to_wit_headers(headers: &http::HeaderMap) -> Vec<types::Header> {
    headers
        .iter()
        .map(|(name, value)| types::Header {
            name: name.as_str().to_string(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, header: (&str, &str)) -> types::Request {
        types::Request {
            method: method.into(),
            url: url.into(),
            headers: vec![types::Header { name: header.0.into(), value: header.1.into() }],
            body: Vec::new(),
        }
    }

    #[test]
    fn too_many_headers_are_refused() {
        let headers: Vec<types::Header> =
            (0..24_576).map(|i| types::Header { name: format!("x-h{i}"), value: "v".into() }).collect();
        let mut request =
            types::Request { method: "GET".into(), url: "https://a.example/".into(), headers, body: vec![] };
        let error = to_http_request(&mut request).unwrap_err();
        assert!(error.contains("24576 headers"), "{error}");
        let big = vec![types::Header { name: "x-big".into(), value: "v".repeat(MAX_HEADER_BYTES) }];
        assert!(check_headers(&big).unwrap_err().contains("bytes of headers"));
    }

    #[test]
    fn a_host_header_may_only_repeat_the_urls_host() {
        let mut other = request("GET", "https://api.example.com/x", ("host", "internal.example"));
        let error = to_http_request(&mut other).unwrap_err();
        assert!(error.contains("Host header"), "{error}");
        let mut same = request("GET", "https://api.example.com/x", ("Host", "API.example.com"));
        let built = to_http_request(&mut same).unwrap();
        assert!(built.headers().get("host").is_none(), "the client sets Host from the URL");
    }

    #[test]
    fn guest_request_with_bad_parts_is_refused_with_the_part_named() {
        let bad_method = to_http_request(&mut request("GE T", "http://a.example/", ("x", "1")));
        assert!(bad_method.unwrap_err().contains("method"));
        let relative = to_http_request(&mut request("GET", "/items", ("x", "1")));
        assert!(relative.unwrap_err().contains("absolute URL"));
        let bad_header = to_http_request(&mut request("GET", "http://a.example/", ("x y", "1")));
        assert!(bad_header.unwrap_err().contains("header name"));
        let bad_value = to_http_request(&mut request("GET", "http://a.example/", ("x", "a\nb")));
        assert!(bad_value.unwrap_err().contains("header value"));
        let mut ok = request("POST", "https://a.example/x?y=1", ("x", "1 \u{e9}\t2"));
        let built = to_http_request(&mut ok).unwrap();
        assert_eq!(built.headers()["x"].as_bytes(), "1 \u{e9}\t2".as_bytes(), "the value as the guest gave it");
        assert_eq!((ok.method.as_str(), ok.url.as_str()), ("POST", "https://a.example/x?y=1"));
    }

    #[test]
    fn memory_limiter_tracks_peak_and_refuses_growth_past_limit() {
        use wasmtime::ResourceLimiter;
        let budget = Arc::new(MemoryBudget::new(u64::MAX));
        let mut limiter = MemoryLimiter::new(1000, Arc::clone(&budget));
        assert!(limiter.memory_growing(0, 600, None).unwrap());
        assert!(limiter.memory_growing(600, 900, None).unwrap());
        assert!(limiter.memory_growing(900, 1001, None).is_err());
        assert_eq!(limiter.peak, 900);
        assert!(matches!(limiter.exceeded, Some(Abort::Memory { requested: 1001, limit: 1000 })));
    }
    #[test]
    fn calls_share_one_memory_budget_and_give_it_back() {
        use wasmtime::ResourceLimiter;
        let budget = Arc::new(MemoryBudget::new(1000));
        let mut first = MemoryLimiter::new(800, Arc::clone(&budget));
        let mut second = MemoryLimiter::new(800, Arc::clone(&budget));
        assert!(first.memory_growing(0, 700, None).unwrap());
        assert!(second.memory_growing(0, 300, None).unwrap());
        // Within its own limit, but the budget is spent.
        assert!(second.memory_growing(300, 400, None).is_err());
        assert!(matches!(second.exceeded, Some(Abort::MemoryBudget { budget: 1000 })));
        drop(first);
        assert_eq!(budget.used(), 300);
        assert!(second.memory_growing(300, 400, None).unwrap());
        drop(second);
        assert_eq!(budget.used(), 0);
    }
}
