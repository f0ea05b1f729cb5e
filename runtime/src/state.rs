//! The per-call store data and the host side of the contract's imports.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

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
        let logs = &self.logs;
        let ctx = self.wasi.get_or_insert_with(|| new_wasi(logs));
        WasiCtxView { ctx, table: &mut self.table }
    }
}

/// A call's WASI context: clocks and randomness of its own, no environment,
/// arguments or directories, and stdout and stderr into the call's log.
fn new_wasi(logs: &Arc<Mutex<LogSink>>) -> WasiCtx {
    WasiCtxBuilder::new()
        .stdout(LogStream::new(Arc::clone(logs), LogSource::Stdout))
        .stderr(LogStream::new(Arc::clone(logs), LogSource::Stderr))
        .build()
}

/// Caps the total linear memory of one instance and records its peak.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: u64,
    total: u64,
    pub(crate) peak: u64,
    pub(crate) exceeded: Option<Abort>,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: u64) -> Self {
        Self { limit, total: 0, peak: 0, exceeded: None }
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

/// Builds an HTTP request from the guest's, checking method, URL and headers.
/// The body moves out of `request`; method and URL stay for the report.
pub(crate) fn to_http_request(request: &mut types::Request) -> Result<http::Request<Bytes>, String> {
    let method = http::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| format!("`{}` is not a valid HTTP method", request.method))?;
    let uri: http::Uri = request.url.parse().map_err(|e| format!("`{}` is not a valid URL: {e}", request.url))?;
    if uri.scheme().is_none() || uri.authority().is_none() {
        return Err(format!("`{}` is not an absolute URL with a scheme and a host", request.url));
    }
    let mut builder = http::Request::builder().method(method).uri(uri);
    for header in &request.headers {
        let name = http::HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| format!("`{}` is not a valid header name", header.name))?;
        let value = http::HeaderValue::from_str(&header.value)
            .map_err(|_| format!("the value of header `{}` is not a valid header value", header.name))?;
        builder = builder.header(name, value);
    }
    builder.body(Bytes::from(std::mem::take(&mut request.body))).map_err(|e| e.to_string())
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
    fn guest_request_with_bad_parts_is_refused_with_the_part_named() {
        let bad_method = to_http_request(&mut request("GE T", "http://a.example/", ("x", "1")));
        assert!(bad_method.unwrap_err().contains("method"));
        let relative = to_http_request(&mut request("GET", "/items", ("x", "1")));
        assert!(relative.unwrap_err().contains("absolute URL"));
        let bad_header = to_http_request(&mut request("GET", "http://a.example/", ("x y", "1")));
        assert!(bad_header.unwrap_err().contains("header name"));
        let bad_value = to_http_request(&mut request("GET", "http://a.example/", ("x", "a\nb")));
        assert!(bad_value.unwrap_err().contains("header value"));
        let mut ok = request("POST", "https://a.example/x?y=1", ("x", "1"));
        assert!(to_http_request(&mut ok).is_ok());
        assert_eq!((ok.method.as_str(), ok.url.as_str()), ("POST", "https://a.example/x?y=1"));
    }

    #[test]
    fn memory_limiter_tracks_peak_and_refuses_growth_past_limit() {
        use wasmtime::ResourceLimiter;
        let mut limiter = MemoryLimiter::new(1000);
        assert!(limiter.memory_growing(0, 600, None).unwrap());
        assert!(limiter.memory_growing(600, 900, None).unwrap());
        assert!(limiter.memory_growing(900, 1001, None).is_err());
        assert_eq!(limiter.peak, 900);
        assert!(matches!(limiter.exceeded, Some(Abort::Memory { requested: 1001, limit: 1000 })));
    }
}
