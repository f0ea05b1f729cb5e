//! The runtime's errors: building the engine, loading a connector's code, and running a call.
//!
//! Three kinds of call failure stay apart, so that a host can map each to an
//! HTTP status without looking at messages:
//! - the code *answered* with an error ([`CallError::Client`],
//!   [`CallError::Upstream`], [`CallError::Internal`]);
//! - the sandbox *stopped* the code (fuel, memory, deadline, a trap, a limit
//!   on backend calls, bodies or logs, output that is not a valid response);
//! - the host itself failed ([`CallError::Capacity`], [`CallError::Host`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// An error wasmtime reported, with its whole chain of causes kept: its
/// `Display` shows the chain, `source()` walks it.
#[derive(Clone)]
pub struct EngineError(Arc<wasmtime::Error>);

impl EngineError {
    pub(crate) fn new(error: wasmtime::Error) -> Self {
        Self(Arc::new(error))
    }
}

impl fmt::Debug for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The longest message a call error carries from the code (a client,
/// upstream or internal message, a panic message, a trap's reason), in
/// bytes: what the code writes beyond it is cut, with a marker, so that no
/// error body or log line grows with the code's output.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// `text` cut to [`MAX_MESSAGE_BYTES`] at a character boundary, with a
/// marker saying how long it was.
pub(crate) fn bounded(text: String) -> String {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text;
    }
    let marker = format!("... [cut: {} bytes in all]", text.len());
    let mut end = MAX_MESSAGE_BYTES - marker.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{marker}", &text[..end])
}

/// The runtime could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The engine rejected its configuration, or the pool could not reserve
    /// its address space.
    #[error("cannot create the WebAssembly engine: {source}")]
    Engine {
        /// What wasmtime reported.
        #[source]
        source: EngineError,
    },
}

/// A connector's code could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The code is larger than [`RuntimeConfig::max_code_bytes`](crate::RuntimeConfig::max_code_bytes),
    /// or for an interpreter guest [`RuntimeConfig::max_interpreter_code_bytes`](crate::RuntimeConfig::max_interpreter_code_bytes).
    #[error("connector `{connector}`: code is {size} bytes, over the limit of {limit} bytes for {kind} code")]
    CodeTooLarge {
        /// The connector.
        connector: String,
        /// The kind of guest the code is, which chose the limit.
        kind: crate::GuestKind,
        /// The code's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The bytes are not WebAssembly at all.
    #[error("connector `{connector}`: code is not a WebAssembly binary (it does not start with `\\0asm`)")]
    NotWasm {
        /// The connector.
        connector: String,
    },
    /// The bytes are a core module, not a component.
    #[error(
        "connector `{connector}`: code is a core WebAssembly module, not a component; build it with `cargo build --target wasm32-wasip2` and the sluice-guest crate"
    )]
    CoreModule {
        /// The connector.
        connector: String,
    },
    /// The component failed to validate or compile.
    #[error("connector `{connector}`: code does not compile: {source}")]
    Compile {
        /// The connector.
        connector: String,
        /// What the compiler reported.
        #[source]
        source: EngineError,
    },
    /// The component does not export the handler.
    #[error(
        "connector `{connector}`: code does not export `{export}` (it exports: {found}); implement it with `sluice_guest::export!`"
    )]
    MissingExport {
        /// The connector.
        connector: String,
        /// The export the contract requires.
        export: &'static str,
        /// What the component does export, comma-separated, or `nothing`.
        found: String,
    },
    /// The component imports something the sandbox does not provide.
    #[error(
        "connector `{connector}`: code imports `{import}`, which the sandbox does not provide (allowed: sluice:connector@0.1.0, and wasi:io, clocks, random, cli and filesystem, which sees only the package's assets, read-only)"
    )]
    UnexpectedImport {
        /// The connector.
        connector: String,
        /// The import's full name.
        import: String,
    },
    /// The package's `assets` folder cannot be offered to the code.
    #[error("connector `{connector}`: the assets folder {} cannot be used: {reason}", path.display())]
    Assets {
        /// The connector.
        connector: String,
        /// The folder.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The component names the contract's interfaces but with other types.
    #[error("connector `{connector}`: code does not match the sluice:connector@0.1.0 world: {reason}")]
    WorldMismatch {
        /// The connector.
        connector: String,
        /// What did not match.
        reason: String,
    },
    /// A limit override is out of range.
    #[error("connector `{connector}`: limit `{limit}` is invalid: {reason}")]
    InvalidLimit {
        /// The connector.
        connector: String,
        /// The limit's field name.
        limit: &'static str,
        /// Why it is invalid.
        reason: String,
    },
}

/// Which body broke a size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The request the client made.
    Request,
    /// The response the code returned.
    Response,
    /// A request the code sent to a backend.
    BackendRequest,
    /// A response a backend returned to the code.
    BackendResponse,
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Body::Request => "request",
            Body::Response => "response",
            Body::BackendRequest => "backend request",
            Body::BackendResponse => "backend response",
        })
    }
}

/// Why a call did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The code chose to answer the client with a 4xx.
    #[error("the code answered {status}: {message}")]
    Client {
        /// The status, 400 to 499.
        status: u16,
        /// The message for the client.
        message: String,
    },
    /// The code reported that the backend failed.
    #[error("the code reported an upstream failure: {0}")]
    Upstream(String),
    /// The code reported a failure of its own.
    #[error("the code failed: {0}")]
    Internal(String),
    /// The code used all its fuel.
    #[error("fuel exhausted: the call used its budget of {limit} units")]
    FuelExhausted {
        /// The budget.
        limit: u64,
    },
    /// The code asked for more linear memory than its limit.
    #[error("memory limit exceeded: the code asked for {requested} bytes of linear memory, the limit is {limit}")]
    MemoryLimit {
        /// The total size the code asked for, in bytes.
        requested: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The call ran past its deadline.
    #[error("deadline exceeded: the call ran longer than {deadline:?}")]
    DeadlineExceeded {
        /// The deadline.
        deadline: Duration,
    },
    /// The code trapped: a panic, an unreachable instruction, a stack
    /// overflow, an out-of-bounds access.
    #[error("the code trapped: {}", panic.as_deref().map_or_else(|| reason.clone(), |p| format!("panicked: {p}")))]
    Trap {
        /// The trap as wasmtime describes it, without the wasm backtrace.
        reason: String,
        /// The guest's panic message, when it printed one.
        panic: Option<String>,
        /// The whole error as wasmtime reports it, with the wasm backtrace:
        /// for the operator's log, never for the client.
        detail: Option<String>,
    },
    /// The code made more backend calls than its limit.
    #[error("too many backend calls: the limit is {limit} per call")]
    TooManyBackendCalls {
        /// The limit.
        limit: u32,
    },
    /// A body was larger than its limit.
    #[error("{body} body of {size} bytes is over the limit of {limit} bytes")]
    BodyTooLarge {
        /// Which body.
        body: Body,
        /// Its size in bytes (at least; reading may have stopped early).
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The code wrote more log output than its limit.
    #[error("log limit exceeded: the code wrote more than {limit} bytes of logs")]
    LogLimit {
        /// The limit in bytes.
        limit: usize,
    },
    /// The code returned something that is not a valid HTTP response (or a
    /// client error with a status outside 4xx).
    #[error("the code returned an invalid response: {0}")]
    InvalidOutput(String),
    /// Every instance slot is busy; try again later.
    #[error("no capacity: {0}")]
    Capacity(String),
    /// The host failed; not the code's fault.
    #[error("host failure: {0}")]
    Host(String),
}

impl CallError {
    /// The error with every message it carries (the code's, a panic's, a
    /// trap's and its detail, the host's) passed through `f`: how a host
    /// redacts secrets from every path out at once.
    pub fn map_messages(self, f: impl Fn(&str) -> String) -> CallError {
        match self {
            CallError::Client { status, message } => CallError::Client { status, message: f(&message) },
            CallError::Upstream(message) => CallError::Upstream(f(&message)),
            CallError::Internal(message) => CallError::Internal(f(&message)),
            CallError::Trap { reason, panic, detail } => CallError::Trap {
                reason: f(&reason),
                panic: panic.as_deref().map(&f),
                detail: detail.as_deref().map(&f),
            },
            CallError::InvalidOutput(message) => CallError::InvalidOutput(f(&message)),
            CallError::Capacity(message) => CallError::Capacity(f(&message)),
            CallError::Host(message) => CallError::Host(f(&message)),
            other => other,
        }
    }

    /// Whether the sandbox stopped the code (a limit or a trap), as opposed
    /// to the code answering with an error or the host failing.
    pub fn is_sandbox_stop(&self) -> bool {
        matches!(
            self,
            CallError::FuelExhausted { .. }
                | CallError::MemoryLimit { .. }
                | CallError::DeadlineExceeded { .. }
                | CallError::Trap { .. }
                | CallError::TooManyBackendCalls { .. }
                | CallError::BodyTooLarge { .. }
                | CallError::LogLimit { .. }
                | CallError::InvalidOutput(_)
        )
    }
}

/// Why the host stopped the guest from inside a host call or a callback;
/// carried through wasmtime as the trap's error so the call can be
/// classified exactly.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Abort {
    #[error("deadline exceeded")]
    Deadline,
    #[error("memory limit exceeded")]
    Memory { requested: u64, limit: u64 },
    #[error("too many backend calls")]
    TooManyBackendCalls { limit: u32 },
    #[error("body too large")]
    Body { body: Body, size: usize, limit: usize },
    #[error("log limit exceeded")]
    Log { limit: usize },
    #[error("the runtime's memory budget is in use")]
    MemoryBudget { budget: u64 },
}

impl Abort {
    pub(crate) fn into_call_error(self, deadline: Duration) -> CallError {
        match self {
            Abort::Deadline => CallError::DeadlineExceeded { deadline },
            Abort::Memory { requested, limit } => CallError::MemoryLimit { requested, limit },
            Abort::TooManyBackendCalls { limit } => CallError::TooManyBackendCalls { limit },
            Abort::Body { body, size, limit } => CallError::BodyTooLarge { body, size, limit },
            Abort::Log { limit } => CallError::LogLimit { limit },
            Abort::MemoryBudget { budget } => CallError::Capacity(format!(
                "the memory of the calls in flight has reached the runtime's budget of {budget} bytes; try again"
            )),
        }
    }
}
