//! A loaded connector: the per-connector template, and the per-call store, instance and report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use wasmtime::component::Linker;
use wasmtime::component::types::ComponentItem;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::backend::{Backend, CallInfo, NoBackend};
use crate::bindings::{self, sluice::connector::types};
use crate::cache;
use crate::config::RuntimeConfig;
use crate::error::{Abort, Body, CallError, EngineError, LoadError, bounded};
use crate::kind::{self, GuestKind};
use crate::limits::Limits;
use crate::logs::{self, LogSink};
use crate::report::CallReport;
use crate::state::{self, CallState, MemoryBudget, MemoryLimiter};

/// The export every connector's code must have.
pub const HANDLER_EXPORT: &str = "sluice:connector/handler@0.1.0";
/// The contract's version, as it appears in import and export names.
const CONTRACT_VERSION: &str = "0.1.0";
/// The contract's interfaces code may import.
const CONTRACT_IMPORTS: [&str; 4] =
    ["sluice:connector/types", "sluice:connector/backend", "sluice:connector/log", "sluice:connector/call"];
/// WASI interfaces code may import: what Rust's standard library links in.
/// The filesystem is there because `std` always imports it; code sees one
/// directory at most, the package's assets, read-only. Sockets, HTTP and
/// anything else are refused.
const WASI_IMPORTS: [&str; 5] = ["wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:cli/", "wasi:filesystem/"];
/// WASI sockets: admitted only for Python guests, whose C library links
/// them whatever the script does. Every use is refused (the call's WASI
/// context allows no TCP, no UDP, no name lookup and no address), so a
/// script reaches the network only through `backend.send`, as any guest.
const SOCKETS_IMPORT: &str = "wasi:sockets/";
/// Where the code finds the package's `assets` folder, read-only.
pub const ASSETS_GUEST_PATH: &str = "/assets";

/// What a connector's code may use besides its bytes and limits.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadOptions {
    /// A folder the code sees read-only at [`ASSETS_GUEST_PATH`] (schemas,
    /// templates, lookup tables, an interpreter's modules). Nothing else of
    /// the filesystem is visible; `..` and links cannot leave the folder.
    pub assets: Option<PathBuf>,
}

impl LoadOptions {
    /// Options offering `assets` to the code.
    pub fn with_assets(assets: impl Into<PathBuf>) -> Self {
        Self { assets: Some(assets.into()) }
    }
}

/// A connector's compiled code, ready to be called. Cheap to clone; calls
/// may run concurrently, each in its own instance.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    id: Arc<str>,
    engine: Engine,
    pre: bindings::ConnectorPre<CallState>,
    limits: Limits,
    fuel_metering: bool,
    code_bytes: usize,
    kind: GuestKind,
    /// The folder the code sees at [`ASSETS_GUEST_PATH`].
    assets: Option<Arc<Path>>,
    /// The connector's calls in flight, at most `max_calls_per_connector`.
    calls: Arc<tokio::sync::Semaphore>,
    max_calls: u32,
    /// The memory all calls of the runtime share.
    budget: Arc<MemoryBudget>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("id", &self.inner.id)
            .field("limits", &self.inner.limits)
            .field("code_bytes", &self.inner.code_bytes)
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

/// One call of an operation: what the code's `handle` receives.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The operation's `operationId`.
    pub operation_id: String,
    /// The call's correlation id.
    pub correlation_id: String,
    /// The URL the client called on the gateway.
    pub original_url: String,
    /// The request as the backend would receive it: absolute URL, the
    /// connection's credentials and the request policies applied.
    pub request: http::Request<Bytes>,
}

/// The outcome of a call and what it cost. The report is there even when
/// the call failed: its log lines often say why.
#[derive(Debug)]
pub struct CallOutput {
    /// The response for the client, or why there is none.
    pub result: Result<http::Response<Bytes>, CallError>,
    /// Fuel, memory, time, backend calls and log lines.
    pub report: CallReport,
}

/// What loading takes from the runtime: its engine, linker, settings and
/// the memory budget every call shares.
pub(crate) struct Host<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) linker: &'a Linker<CallState>,
    pub(crate) config: &'a RuntimeConfig,
    pub(crate) budget: &'a Arc<MemoryBudget>,
}

pub(crate) fn load(
    host: Host<'_>,
    connector_id: &str,
    code: &[u8],
    limits: Limits,
    options: LoadOptions,
) -> Result<Connector, LoadError> {
    let Host { engine, linker, config, budget } = host;
    let budget = Arc::clone(budget);
    let connector = || connector_id.to_string();
    limits.check(config.max_memory_bytes).map_err(|(limit, reason)| LoadError::InvalidLimit {
        connector: connector(),
        limit,
        reason,
    })?;
    let kind = kind::detect(code);
    let limit = if kind.is_interpreter() { config.max_interpreter_code_bytes } else { config.max_code_bytes };
    if code.len() > limit {
        return Err(LoadError::CodeTooLarge { connector: connector(), size: code.len(), limit, kind });
    }
    let assets = match options.assets {
        Some(path) => Some(check_assets(&path).map_err(|reason| LoadError::Assets {
            connector: connector(),
            path: path.clone(),
            reason,
        })?),
        None => None,
    };
    if wasmparser::Parser::is_core_wasm(code) {
        return Err(LoadError::CoreModule { connector: connector() });
    }
    if !wasmparser::Parser::is_component(code) {
        return Err(LoadError::NotWasm { connector: connector() });
    }
    let started = Instant::now();
    let component = cache::compile(engine, code, config.cache_dir.as_deref())
        .map_err(|e| LoadError::Compile { connector: connector(), source: EngineError::new(e) })?;
    let ty = component.component_type();
    for (import, _) in ty.imports(engine) {
        if !import_allowed(import, kind) {
            return Err(LoadError::UnexpectedImport { connector: connector(), import: import.to_string() });
        }
    }
    let handler = ty.exports(engine).find(|(name, _)| *name == HANDLER_EXPORT);
    match handler {
        Some((_, item)) if matches!(item.ty, ComponentItem::ComponentInstance(_)) => {}
        _ => {
            let found: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
            return Err(LoadError::MissingExport {
                connector: connector(),
                export: HANDLER_EXPORT,
                found: if found.is_empty() { "nothing".into() } else { found.join(", ") },
            });
        }
    }
    let mismatch = |e: wasmtime::Error| LoadError::WorldMismatch { connector: connector(), reason: format!("{e:#}") };
    let instance_pre = linker.instantiate_pre(&component).map_err(mismatch)?;
    let pre = bindings::ConnectorPre::new(instance_pre).map_err(mismatch)?;
    tracing::debug!(connector = connector_id, bytes = code.len(), %kind, elapsed = ?started.elapsed(), "connector code loaded");
    Ok(Connector {
        inner: Arc::new(Inner {
            id: connector_id.into(),
            engine: engine.clone(),
            pre,
            limits,
            fuel_metering: config.fuel_metering,
            code_bytes: code.len(),
            kind,
            assets,
            calls: Arc::new(tokio::sync::Semaphore::new(config.max_calls_per_connector.max(1) as usize)),
            max_calls: config.max_calls_per_connector.max(1),
            budget,
        }),
    })
}

/// Whether a component of `kind` may import `name` (e.g. `wasi:io/streams@0.2.3`).
fn import_allowed(name: &str, kind: GuestKind) -> bool {
    let (interface, version) = name.split_once('@').unwrap_or((name, ""));
    if CONTRACT_IMPORTS.contains(&interface) {
        return version == CONTRACT_VERSION;
    }
    let wasi = WASI_IMPORTS.iter().any(|prefix| interface.starts_with(prefix))
        || (kind == GuestKind::Python && interface.starts_with(SOCKETS_IMPORT));
    wasi && version.starts_with("0.2.")
}

/// Checks that the assets folder is a real directory (not a link) and
/// returns its canonical path, which every call opens read-only.
fn check_assets(path: &Path) -> Result<Arc<Path>, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("it is a symbolic link".into());
    }
    if !meta.is_dir() {
        return Err("it is not a directory".into());
    }
    let canonical = path.canonicalize().map_err(|e| e.to_string())?;
    Ok(canonical.into())
}

impl Connector {
    /// The connector's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The limits every call of this connector runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The size of the code, in bytes.
    pub fn code_bytes(&self) -> usize {
        self.inner.code_bytes
    }

    /// The kind of guest the code is: compiled, or an interpreter with the
    /// author's script.
    pub fn kind(&self) -> GuestKind {
        self.inner.kind
    }

    /// Runs the code's `handle` for one call, in a fresh instance, and
    /// returns its response (or why there is none) with the call report.
    ///
    /// Backend calls the code makes go to `backend`. The call ends at the
    /// connector's deadline whatever the code or the backend is doing.
    pub async fn call(&self, invocation: Invocation, backend: Arc<dyn Backend>) -> CallOutput {
        self.call_started_at(invocation, backend, Instant::now()).await
    }

    /// [`Connector::call`] for a call that started at `started` (when the
    /// host received the request, say): the deadline counts from then, so
    /// that time spent before the code runs is part of it.
    pub async fn call_started_at(
        &self,
        invocation: Invocation,
        backend: Arc<dyn Backend>,
        started: Instant,
    ) -> CallOutput {
        let limits = self.inner.limits;
        let deadline = started + limits.deadline;
        // One connector's calls may hold only so many of the pool's slots.
        let Ok(_slot) = Arc::clone(&self.inner.calls).try_acquire_owned() else {
            let error = CallError::Capacity(format!(
                "connector `{}` has {} calls in flight, its limit; try again",
                self.inner.id, self.inner.max_calls
            ));
            return CallOutput { result: Err(error), report: CallReport::default() };
        };
        let body_size = invocation.request.body().len();
        if body_size > limits.request_body_bytes {
            let error =
                CallError::BodyTooLarge { body: Body::Request, size: body_size, limit: limits.request_body_bytes };
            return CallOutput { result: Err(error), report: CallReport::default() };
        }

        let info = CallInfo {
            connector_id: Arc::clone(&self.inner.id),
            operation_id: invocation.operation_id.as_str().into(),
            correlation_id: invocation.correlation_id.as_str().into(),
            deadline,
            index: 0,
            max_response_bytes: limits.response_body_bytes,
        };
        let mut store = self.new_store(info, backend, started);
        let ctx = types::Context {
            connector_id: self.inner.id.to_string(),
            operation_id: invocation.operation_id,
            correlation_id: invocation.correlation_id,
            original_url: invocation.original_url,
        };
        let request = to_wit_request(invocation.request);

        let pre = &self.inner.pre;
        let run = async {
            let instance = pre.instantiate_async(&mut store).await.map_err(Failure::Instantiate)?;
            instance.sluice_connector_handler().call_handle(&mut store, &ctx, &request).await.map_err(Failure::Run)
        };
        let outcome = tokio::time::timeout_at(deadline.into(), run).await;

        let fuel_consumed = if self.inner.fuel_metering {
            store.get_fuel().ok().map(|left| limits.fuel.saturating_sub(left))
        } else {
            None
        };
        let state = store.into_data();
        let log_lines = logs::lock(&state.logs).finish();
        let result = match outcome {
            Err(_elapsed) => Err(CallError::DeadlineExceeded { deadline: limits.deadline }),
            Ok(Ok(Ok(response))) => from_wit_response(response, &limits),
            Ok(Ok(Err(error))) => Err(from_wit_error(error)),
            Ok(Err(failure)) => Err(classify(failure, &state, &log_lines, &limits)),
        };
        let report = CallReport {
            fuel_consumed,
            peak_memory_bytes: state.memory.peak,
            wall_time: started.elapsed(),
            backend_calls: state.backend_calls,
            logs: log_lines,
        };
        CallOutput { result, report }
    }

    /// Instantiates the code once without calling it, in a store built as
    /// for a call, then drops the instance, and says how long each step took.
    ///
    /// This checks that the code instantiates under its limits (its initial
    /// memory fits [`Limits::memory_bytes`], the pool has a free slot) and,
    /// with pooling, leaves a pool slot holding the code's memory image, so
    /// that the first call does not map it. A host may call it right after
    /// [`Runtime::load`](crate::Runtime::load); the benchmarks use the times
    /// it reports to measure instantiation alone.
    pub async fn warm_up(&self) -> Result<WarmUp, CallError> {
        let limits = self.inner.limits;
        let started = Instant::now();
        let info = CallInfo {
            connector_id: Arc::clone(&self.inner.id),
            operation_id: Arc::from(""),
            correlation_id: Arc::from(""),
            deadline: started + limits.deadline,
            index: 0,
            max_response_bytes: limits.response_body_bytes,
        };
        let mut store = self.new_store(info, Arc::new(NoBackend), started);
        match self.inner.pre.instantiate_async(&mut store).await {
            Ok(_instance) => {
                let instantiation = started.elapsed();
                let dropping = Instant::now();
                drop(store);
                Ok(WarmUp { instantiation, teardown: dropping.elapsed() })
            }
            Err(error) => {
                let state = store.into_data();
                let log_lines = logs::lock(&state.logs).finish();
                Err(classify(Failure::Instantiate(error), &state, &log_lines, &limits))
            }
        }
    }

    /// Builds the call's store: its log, its limits and its clock. The WASI
    /// context is built only if the code calls WASI (see [`CallState`]).
    fn new_store(&self, info: CallInfo, backend: Arc<dyn Backend>, started: Instant) -> Store<CallState> {
        let limits = self.inner.limits;
        let deadline = info.deadline;
        let state = CallState {
            wasi: None,
            assets: self.inner.assets.clone(),
            table: Default::default(),
            memory: MemoryLimiter::new(limits.memory_bytes, Arc::clone(&self.inner.budget)),
            logs: Arc::new(Mutex::new(LogSink::new(started, limits.log_bytes))),
            backend,
            info,
            limits,
            backend_calls: Vec::new(),
            abort: None,
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.memory);
        if self.inner.fuel_metering {
            // Cannot fail: fuel metering is on in this engine.
            let _ = store.set_fuel(limits.fuel);
        }
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            if Instant::now() >= deadline {
                ctx.data_mut().abort.get_or_insert(Abort::Deadline);
                Err(wasmtime::Error::new(Abort::Deadline))
            } else {
                // Let other calls on this thread run, then check again next tick.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }
}

/// What [`Connector::warm_up`] measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmUp {
    /// Building the call's store and instantiating the code in it, from the
    /// template prepared at load: what every call pays before the code runs.
    pub instantiation: std::time::Duration,
    /// Dropping the instance and its store: the pool slot's reset (only the
    /// pages written are reset) and the store's bookkeeping.
    pub teardown: std::time::Duration,
}

/// Where a call failed inside wasmtime.
enum Failure {
    Instantiate(wasmtime::Error),
    Run(wasmtime::Error),
}

/// Names the cause of a trap or failed instantiation precisely: first what
/// the host itself enforced, then what wasmtime reports.
fn classify(failure: Failure, state: &CallState, log_lines: &[crate::report::LogLine], limits: &Limits) -> CallError {
    let (error, instantiating) = match &failure {
        Failure::Instantiate(e) => (e, true),
        Failure::Run(e) => (e, false),
    };
    let abort = state
        .abort
        .clone()
        .or_else(|| state.memory.exceeded.clone())
        .or_else(|| error.downcast_ref::<Abort>().cloned())
        .or_else(|| logs::lock(&state.logs).exceeded().then_some(Abort::Log { limit: limits.log_bytes }));
    if let Some(abort) = abort {
        return abort.into_call_error(limits.deadline);
    }
    if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
        return CallError::Capacity(bounded(error.root_cause().to_string()));
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => CallError::FuelExhausted { limit: limits.fuel },
            Trap::Interrupt => CallError::DeadlineExceeded { deadline: limits.deadline },
            Trap::StackOverflow => CallError::Trap {
                reason: "stack overflow: the code recursed deeper than its stack allows".into(),
                panic: None,
                detail: Some(format!("{error:?}")),
            },
            other => CallError::Trap {
                reason: other.to_string(),
                panic: logs::panic_message(log_lines).map(bounded),
                detail: Some(format!("{error:?}")),
            },
        };
    }
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return CallError::Trap { reason: format!("the code called exit({})", exit.0), panic: None, detail: None };
    }
    if instantiating {
        return CallError::Host(bounded(format!("cannot instantiate the code: {}", error.root_cause())));
    }
    // An error raised inside a host function: its root cause says what
    // happened; the context wasmtime adds (the wasm backtrace) is for the log.
    CallError::Trap {
        reason: bounded(error.root_cause().to_string()),
        panic: logs::panic_message(log_lines).map(bounded),
        detail: Some(format!("{error:?}")),
    }
}

fn to_wit_request(request: http::Request<Bytes>) -> types::Request {
    let (parts, body) = request.into_parts();
    types::Request {
        method: parts.method.as_str().to_string(),
        url: parts.uri.to_string(),
        headers: state::to_wit_headers(&parts.headers),
        body: body.into(),
    }
}

fn from_wit_response(response: types::Response, limits: &Limits) -> Result<http::Response<Bytes>, CallError> {
    let invalid = |reason: String| CallError::InvalidOutput(bounded(reason));
    // 1xx statuses (101 Switching Protocols among them) are not final
    // answers: a gateway must never hand one to the client as the response.
    if !(200..=599).contains(&response.status) {
        return Err(invalid(format!("status {} is not a final status (200 to 599)", response.status)));
    }
    state::check_headers(&response.headers).map_err(&invalid)?;
    if response.body.len() > limits.response_body_bytes {
        return Err(CallError::BodyTooLarge {
            body: Body::Response,
            size: response.body.len(),
            limit: limits.response_body_bytes,
        });
    }
    let mut builder = http::Response::builder().status(response.status);
    for header in response.headers {
        let name = http::HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| invalid(format!("`{}` is not a valid header name", header.name)))?;
        let value = state::header_value(header.value)
            .map_err(|_| invalid(format!("the value of header `{}` is not a valid header value", header.name)))?;
        builder = builder.header(name, value);
    }
    builder.body(Bytes::from(response.body)).map_err(|e| invalid(e.to_string()))
}

fn from_wit_error(error: types::Error) -> CallError {
    match error {
        types::Error::Client(client) if (400..=499).contains(&client.status) => {
            CallError::Client { status: client.status, message: bounded(client.message) }
        }
        types::Error::Client(client) => CallError::InvalidOutput(bounded(format!(
            "a client error must have a 4xx status, not {} (message: {})",
            client.status, client.message
        ))),
        types::Error::Upstream(message) => CallError::Upstream(bounded(message)),
        types::Error::Internal(message) => CallError::Internal(bounded(message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_and_plain_wasi_imports_are_allowed() {
        for kind in [GuestKind::Compiled, GuestKind::JavaScript, GuestKind::Python] {
            assert!(import_allowed("sluice:connector/backend@0.1.0", kind));
            assert!(import_allowed("wasi:io/streams@0.2.3", kind));
            assert!(import_allowed("wasi:filesystem/preopens@0.2.0", kind));
        }
    }

    #[test]
    fn sockets_http_and_other_versions_are_refused() {
        for kind in [GuestKind::Compiled, GuestKind::JavaScript, GuestKind::Python] {
            assert!(!import_allowed("wasi:http/outgoing-handler@0.2.3", kind));
            assert!(!import_allowed("sluice:connector/backend@0.2.0", kind));
            assert!(!import_allowed("wasi:io/streams@0.3.0", kind));
            assert!(!import_allowed("evil:net/raw", kind));
        }
        assert!(!import_allowed("wasi:sockets/tcp@0.2.3", GuestKind::Compiled));
        assert!(!import_allowed("wasi:sockets/tcp@0.2.3", GuestKind::JavaScript));
        // CPython links them; every use is refused at run time instead.
        assert!(import_allowed("wasi:sockets/tcp@0.2.3", GuestKind::Python));
        assert!(!import_allowed("wasi:sockets/tcp@0.3.0", GuestKind::Python));
    }

    #[test]
    fn client_error_outside_4xx_is_invalid_output() {
        let error = from_wit_error(types::Error::Client(types::ClientError { status: 503, message: "x".into() }));
        assert!(matches!(error, CallError::InvalidOutput(_)));
        let error = from_wit_error(types::Error::Client(types::ClientError { status: 404, message: "x".into() }));
        assert_eq!(error, CallError::Client { status: 404, message: "x".into() });
    }

    #[test]
    fn messages_from_the_code_are_cut_to_a_few_kib() {
        let long = "m".repeat(20 << 20);
        for error in [
            types::Error::Client(types::ClientError { status: 400, message: long.clone() }),
            types::Error::Upstream(long.clone()),
            types::Error::Internal(long.clone()),
            types::Error::Client(types::ClientError { status: 999, message: long.clone() }),
        ] {
            let text = from_wit_error(error).to_string();
            assert!(text.len() <= crate::error::MAX_MESSAGE_BYTES + 100, "{} bytes", text.len());
            assert!(text.ends_with(" bytes in all]"), "{}", &text[text.len() - 60..]);
        }
        let short = from_wit_error(types::Error::Upstream("é".repeat(3000)));
        assert!(short.to_string().contains("[cut:"), "multi-byte text is cut at a character boundary");
    }

    #[test]
    fn informational_statuses_and_header_floods_are_not_responses() {
        let limits = Limits::default();
        for status in [100, 101, 199] {
            let response = types::Response { status, headers: vec![], body: vec![] };
            assert!(matches!(from_wit_response(response, &limits), Err(CallError::InvalidOutput(_))), "{status}");
        }
        let headers = (0..300).map(|i| types::Header { name: format!("x-{i}"), value: "v".into() }).collect();
        let response = types::Response { status: 200, headers, body: vec![] };
        assert!(
            matches!(from_wit_response(response, &limits), Err(CallError::InvalidOutput(m)) if m.contains("300 headers"))
        );
    }

    #[test]
    fn response_with_bad_status_or_header_is_invalid_output() {
        let limits = Limits::default();
        let response = |status, name: &str| types::Response {
            status,
            headers: vec![types::Header { name: name.into(), value: "v".into() }],
            body: Vec::new(),
        };
        assert!(matches!(from_wit_response(response(700, "x"), &limits), Err(CallError::InvalidOutput(_))));
        assert!(matches!(from_wit_response(response(200, "a b"), &limits), Err(CallError::InvalidOutput(_))));
        assert!(from_wit_response(response(201, "x"), &limits).is_ok());
    }
}
