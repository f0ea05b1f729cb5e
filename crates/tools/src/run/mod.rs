//! `sluice run`: runs one operation's custom code offline. The request comes
//! from a [`Fixture`], every `send` the code makes is answered from the
//! fixture's canned responses, and the result is a [`RunOutcome`]: the
//! answer, the requests the code made, its log lines and the call report.
//! No gateway, no network: a `send` no canned response matches fails the
//! run and shows the request.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use sluice_runtime::{Backend, CallError, CallReport, Invocation, LoadError, LoadOptions, Runtime, RuntimeError};

use sluice_package::request::RequestError;
use sluice_package::{Connection, ConnectionError, PackageError, RouteError, SCRIPT_FILE, Secret};

use crate::fixture::Fixture;
use crate::validate::checking_config;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The package folder.
    pub package: PathBuf,
    /// The operationId; default: the fixture's `operation`.
    pub operation: Option<String>,
    /// The component to run instead of the package's `script.wasm`.
    pub script: Option<PathBuf>,
    /// The request, the canned backend responses and the expectations.
    pub fixture: Fixture,
}

/// The run could not start: bad input, not a failure of the code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The package does not load.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// No operation was named.
    #[error("no operation to run: name one, or set `operation` in the fixture")]
    NoOperation,
    /// The command line and the fixture name different operations.
    #[error("the fixture is for operation `{fixture}`, not `{given}`")]
    OperationMismatch {
        /// The operation asked for.
        given: String,
        /// The fixture's.
        fixture: String,
    },
    /// The definition has no such operation.
    #[error("connector `{connector}` has no operation `{operation}` (it has: {known})")]
    UnknownOperation {
        /// The connector.
        connector: String,
        /// The operation asked for.
        operation: String,
        /// The operations it has, comma-separated.
        known: String,
    },
    /// There is no code to run.
    #[error(
        "connector `{connector}` has no {SCRIPT_FILE}{}; build the code and copy it there, or pass --script <component.wasm>",
        if *csharp { " (its script.csx is C#, which sluice does not run: `sluice new --from-csx` starts the port)" } else { "" }
    )]
    NoScript {
        /// The connector.
        connector: String,
        /// Whether it has the platform's C# instead.
        csharp: bool,
    },
    /// The component cannot be read.
    #[error("{}: cannot read it: {source}", path.display())]
    Script {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The fixture's request is unusable as written.
    #[error("cannot build the request: {0}")]
    Fixture(String),
    /// The fixture's path is another operation's.
    #[error("the request's path is operation `{found}`, not `{operation}`")]
    OtherOperation {
        /// The operation run.
        operation: String,
        /// The operation the path routes to.
        found: String,
    },
    /// The fixture's path routes to no operation.
    #[error("the request does not route to operation `{operation}`: {source}")]
    Route {
        /// The operation run.
        operation: String,
        /// Why.
        #[source]
        source: RouteError,
    },
    /// The fixture's connection does not fit the connector.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The backend request cannot be built, as the gateway would refuse it.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The runtime cannot start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The code does not load.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// A request the code sent to the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(serialize_with = "serialize_body")]
    pub body: Bytes,
    /// Which backend entry answered (its index), or `None` when none matched.
    pub matched: Option<usize>,
}

/// The result of a run.
#[derive(Debug)]
pub struct RunOutcome {
    /// The connector.
    pub connector: String,
    /// The operation.
    pub operation: String,
    /// The code's answer, or why there is none.
    pub result: Result<http::Response<Bytes>, CallError>,
    /// Fuel, memory, time, backend calls and log lines.
    pub report: CallReport,
    /// Every request the code sent, answered or not.
    pub backend_requests: Vec<RecordedRequest>,
    /// How the answer differs from the fixture's `expect`; empty when it
    /// matches or there is nothing to expect.
    pub expectation_failures: Vec<String>,
}

impl RunOutcome {
    /// The requests no canned response matched.
    pub fn unmatched(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.backend_requests.iter().filter(|r| r.matched.is_none())
    }

    /// Whether the run passed: the code answered (a response, or a client
    /// error it chose), every `send` was matched, and the expectations hold.
    pub fn passed(&self) -> bool {
        let answered = matches!(&self.result, Ok(_) | Err(CallError::Client { .. }));
        answered && self.unmatched().next().is_none() && self.expectation_failures.is_empty()
    }

    /// Everything that makes the run fail, one line each.
    pub fn failures(&self) -> Vec<String> {
        // An unmatched send comes first: it is usually why the call failed.
        let mut failures: Vec<String> = self
            .unmatched()
            .map(|request| {
                format!(
                    "the code sent {} {}, which no backend entry of the fixture matches",
                    request.method, request.url
                )
            })
            .collect();
        if let Err(error) = &self.result
            && !matches!(error, CallError::Client { .. })
        {
            failures.push(format!("the call failed: {error}"));
        }
        failures.extend(self.expectation_failures.iter().cloned());
        failures
    }

    /// Panics with a readable account unless the run [passed](Self::passed):
    /// the assertion for `cargo test`.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            let mut text = Vec::new();
            let _ = write_text(self, &mut text);
            panic!(
                "sluice run {} {} failed:\n  {}\n\n{}",
                self.connector,
                self.operation,
                self.failures().join("\n  "),
                String::from_utf8_lossy(&text)
            );
        }
    }

    /// The answer's status: the response's, or the client error's.
    pub fn status(&self) -> Option<u16> {
        match &self.result {
            Ok(response) => Some(response.status().as_u16()),
            Err(CallError::Client { status, .. }) => Some(*status),
            Err(_) => None,
        }
    }

    /// The answer's body: the response's, or the client error's message.
    pub fn body(&self) -> Option<Bytes> {
        match &self.result {
            Ok(response) => Some(response.body().clone()),
            Err(CallError::Client { message, .. }) => Some(Bytes::from(message.clone())),
            Err(_) => None,
        }
    }

    /// The answer's body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        self.body().and_then(|b| serde_json::from_slice(&b).ok())
    }
}

/// Runs the operation's code as the spec says.
pub async fn run(spec: RunSpec) -> Result<RunOutcome, RunError> {
    // The connector id is the folder's name, which `.` does not have.
    let dir = spec.package.canonicalize().unwrap_or_else(|_| spec.package.clone());
    let package = Arc::new(sluice_package::load_package(&dir)?);
    let operation_id = match (&spec.operation, &spec.fixture.operation) {
        (Some(given), Some(fixture)) if given != fixture => {
            return Err(RunError::OperationMismatch { given: given.clone(), fixture: fixture.clone() });
        }
        (Some(id), _) | (None, Some(id)) => id.clone(),
        (None, None) => return Err(RunError::NoOperation),
    };
    let Some(operation) = package.definition.operation(&operation_id) else {
        let known: Vec<&str> = package.definition.operations.iter().map(|o| o.id.as_str()).collect();
        return Err(RunError::UnknownOperation {
            connector: package.id.clone(),
            operation: operation_id,
            known: known.join(", "),
        });
    };
    let code = match &spec.script {
        Some(path) => std::fs::read(path).map_err(|source| RunError::Script { path: path.clone(), source })?,
        None => package.script.clone().ok_or_else(|| RunError::NoScript {
            connector: package.id.clone(),
            csharp: package.unported_code.is_some(),
        })?,
    };
    let connection = match &spec.fixture.connection {
        Some(values) => {
            let values = values.iter().map(|(name, value)| (name.clone(), Secret::new(value.clone()))).collect();
            let set = spec.fixture.parameter_set.as_deref();
            Arc::new(Connection::with_set("fixture", &package.id, &package.properties, set, values)?)
        }
        None => Arc::new(Connection::empty(&package.id)),
    };
    // As in the gateway: the code may not see the credentials unless the
    // package says so; they go on its calls to the backend's origin.
    let request::Prepared { request, original_url, credentials } =
        build_request(&package, operation, &spec.fixture, &connection)?;

    let runtime = Runtime::new(checking_config())?;
    let options = package.assets.as_ref().map(LoadOptions::with_assets).unwrap_or_default();
    let connector = runtime.load_with(&package.id, &code, package.settings.limits, options)?;
    let backend =
        Arc::new(FixtureBackend { entries: spec.fixture.backend.clone(), credentials, recorded: Mutex::default() });
    let output = connector
        .call(
            Invocation {
                operation_id: operation_id.clone(),
                correlation_id: "sluice-run".into(),
                original_url,
                request,
            },
            Arc::clone(&backend) as Arc<dyn Backend>,
        )
        .await;
    let backend_requests = std::mem::take(&mut *backend.recorded.lock().unwrap_or_else(PoisonError::into_inner));
    let mut outcome = RunOutcome {
        connector: package.id.clone(),
        operation: operation_id,
        result: output.result,
        report: output.report,
        backend_requests,
        expectation_failures: Vec::new(),
    };
    outcome.expectation_failures = check_expectations(&outcome, &spec.fixture);
    Ok(outcome)
}

mod backend;
mod expect;
mod output;
mod request;

use backend::FixtureBackend;
use expect::check_expectations;
use output::serialize_body;
pub use output::{to_json, write_text};
use request::build_request;
