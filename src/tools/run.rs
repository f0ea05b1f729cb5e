//! `sluice run`: runs one operation's custom code offline. The request comes
//! from a [`Fixture`], every `send` the code makes is answered from the
//! fixture's canned responses, and the result is a [`RunOutcome`]: the
//! answer, the requests the code made, its log lines and the call report.
//! No gateway, no network: a `send` no canned response matches fails the
//! run and shows the request.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use sluice_runtime::{
    Backend, CallError, CallInfo, CallReport, Invocation, LoadError, Runtime, RuntimeError,
    SendError,
};

use super::fixture::{BackendEntry, Fixture};
use super::validate::checking_config;
use crate::package::{self, Package, PackageError, SCRIPT_FILE};

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
        "connector `{connector}` has no {SCRIPT_FILE}; build the code and copy it there, or pass --script <component.wasm>"
    )]
    NoScript {
        /// The connector.
        connector: String,
    },
    /// The component cannot be read.
    #[error("{}: cannot read it: {source}", path.display())]
    Script {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The request cannot be built from the fixture.
    #[error("cannot build the request: {0}")]
    Request(String),
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
    let dir = spec
        .package
        .canonicalize()
        .unwrap_or_else(|_| spec.package.clone());
    let package = package::load_package(&dir)?;
    let operation_id = match (&spec.operation, &spec.fixture.operation) {
        (Some(given), Some(fixture)) if given != fixture => {
            return Err(RunError::OperationMismatch {
                given: given.clone(),
                fixture: fixture.clone(),
            });
        }
        (Some(id), _) | (None, Some(id)) => id.clone(),
        (None, None) => return Err(RunError::NoOperation),
    };
    let Some(operation) = package.definition.operation(&operation_id) else {
        let known: Vec<&str> = package
            .definition
            .operations
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        return Err(RunError::UnknownOperation {
            connector: package.id.clone(),
            operation: operation_id,
            known: known.join(", "),
        });
    };
    let code = match &spec.script {
        Some(path) => std::fs::read(path).map_err(|source| RunError::Script {
            path: path.clone(),
            source,
        })?,
        None => package.script.clone().ok_or_else(|| RunError::NoScript {
            connector: package.id.clone(),
        })?,
    };
    let (request, original_url) = build_request(&package, operation, &spec.fixture)?;

    let runtime = Runtime::new(checking_config())?;
    let connector = runtime.load(&package.id, &code, package.settings.limits)?;
    let backend = Arc::new(FixtureBackend {
        entries: spec.fixture.backend.clone(),
        recorded: Mutex::default(),
    });
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
    let backend_requests = std::mem::take(
        &mut *backend
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
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

/// The request the code receives, and the original URL.
fn build_request(
    package: &Package,
    operation: &package::Operation,
    fixture: &Fixture,
) -> Result<(http::Request<Bytes>, String), RunError> {
    let spec = &fixture.request;
    let method = match &spec.method {
        Some(m) => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| RunError::Request(format!("`{m}` is not an HTTP method")))?,
        None => operation.method.clone(),
    };
    let path = match (&spec.url, &spec.path) {
        (Some(_), _) => None,
        (None, Some(path)) => Some(path.clone()),
        (None, None) if !operation.path.contains('{') => Some(operation.path.clone()),
        (None, None) => {
            return Err(RunError::Request(format!(
                "the operation's path `{}` has parameters; give `request.path` (e.g. with --path)",
                operation.path
            )));
        }
    };
    let url = match (&spec.url, &path) {
        (Some(url), _) => url.clone(),
        (None, Some(path)) => {
            let host = package.definition.host.as_deref().ok_or_else(|| {
                RunError::Request(
                    "the definition has no host; give an absolute `request.url`".into(),
                )
            })?;
            let scheme = if package.definition.schemes.is_empty()
                || package
                    .definition
                    .schemes
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case("https"))
            {
                "https"
            } else {
                package.definition.schemes[0].as_str()
            };
            let base = package.definition.base_path.trim_end_matches('/');
            let path = if path.starts_with('/') {
                path.clone()
            } else {
                format!("/{path}")
            };
            format!("{scheme}://{host}{base}{path}")
        }
        (None, None) => unreachable!("a path is chosen whenever there is no url"),
    };
    let original_url = spec.original_url.clone().unwrap_or_else(|| {
        let tail = path.clone().unwrap_or_else(|| {
            url::Url::parse(&url)
                .map(|u| u.path().to_string())
                .unwrap_or_default()
        });
        format!("https://sluice.local/apim/{}/run{tail}", package.id)
    });
    let (body, content_type) = spec.body().to_bytes();
    let mut builder = http::Request::builder().method(method).uri(&url);
    for (name, value) in &spec.headers {
        builder = builder.header(name, value);
    }
    if let Some(content_type) = content_type
        && !spec
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    let request = builder
        .body(body)
        .map_err(|e| RunError::Request(format!("{url}: {e}")))?;
    Ok((request, original_url))
}

/// Answers `send` from the fixture and records every request.
struct FixtureBackend {
    entries: Vec<BackendEntry>,
    recorded: Mutex<Vec<RecordedRequest>>,
}

#[async_trait]
impl Backend for FixtureBackend {
    async fn send(
        &self,
        _call: &CallInfo,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, SendError> {
        let method = request.method().as_str().to_string();
        let url = request.uri().to_string();
        let matched = self.entries.iter().position(|e| e.matches(&method, &url));
        let headers = request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(RecordedRequest {
                method: method.clone(),
                url: url.clone(),
                headers,
                body: request.body().clone(),
                matched,
            });
        let Some(index) = matched else {
            return Err(SendError::Unreachable(format!(
                "sluice run: no canned response in the fixture for {method} {url}"
            )));
        };
        let spec = &self.entries[index].response;
        let (body, content_type) = spec.body().to_bytes();
        let mut builder = http::Response::builder().status(spec.status);
        for (name, value) in &spec.headers {
            builder = builder.header(name, value);
        }
        if let Some(content_type) = content_type
            && !spec
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
        }
        builder.body(body).map_err(|e| {
            SendError::Failed(format!(
                "backend[{index}] of the fixture is not a valid response: {e}"
            ))
        })
    }
}

fn check_expectations(outcome: &RunOutcome, fixture: &Fixture) -> Vec<String> {
    let Some(expect) = &fixture.expect else {
        return Vec::new();
    };
    let mut failures = Vec::new();
    let Some(status) = outcome.status() else {
        if expect.status.is_some()
            || expect.json.is_some()
            || expect.text.is_some()
            || !expect.headers.is_empty()
        {
            failures.push("expected an answer, but the call failed".to_string());
        }
        return failures;
    };
    if let Some(want) = expect.status
        && want != status
    {
        failures.push(format!("expected status {want}, got {status}"));
    }
    if let Ok(response) = &outcome.result {
        for (name, want) in &expect.headers {
            let got: Vec<&str> = response
                .headers()
                .get_all(name.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if !got.contains(&want.as_str()) {
                failures.push(format!(
                    "expected header `{name}: {want}`, got {}",
                    if got.is_empty() {
                        "none".to_string()
                    } else {
                        got.join(", ")
                    }
                ));
            }
        }
    } else if !expect.headers.is_empty() {
        failures.push("expected headers, but the code answered with a client error".into());
    }
    let body = outcome.body().unwrap_or_default();
    if let Some(want) = &expect.json {
        match serde_json::from_slice::<Value>(&body) {
            Ok(got) if &got == want => {}
            Ok(got) => failures.push(format!("expected JSON body {want}, got {got}")),
            Err(e) => failures.push(format!(
                "expected a JSON body, but it does not parse ({e}): {}",
                preview(&body)
            )),
        }
    }
    if let Some(want) = &expect.text
        && body != want.as_bytes()
    {
        failures.push(format!(
            "expected body {want:?}, got {:?}",
            String::from_utf8_lossy(&body)
        ));
    }
    failures
}

/// A body for display: text as is (cut at 4 KiB), binary as its size.
fn preview(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if text.len() > 4096 => {
            let cut = (0..=4096)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{}... ({} bytes)", &text[..cut], text.len())
        }
        Ok(text) => text.to_string(),
        Err(_) => format!("<{} bytes of binary>", body.len()),
    }
}

fn serialize_body<S: serde::Serializer>(body: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    body_json(body).serialize(serializer)
}

/// A body in JSON output: JSON as JSON, text as a string, binary as
/// `{"base64": ...}`.
fn body_json(body: &[u8]) -> Value {
    use base64::Engine as _;
    if body.is_empty() {
        return Value::Null;
    }
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return value;
    }
    match std::str::from_utf8(body) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(body) }),
    }
}

/// Writes an outcome as text: the answer, the backend requests, the logs,
/// the report, and the verdict.
pub fn write_text(outcome: &RunOutcome, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    match &outcome.result {
        Ok(response) => {
            writeln!(out, "response: {}", response.status())?;
            for (name, value) in response.headers() {
                writeln!(
                    out,
                    "  {name}: {}",
                    String::from_utf8_lossy(value.as_bytes())
                )?;
            }
            if !response.body().is_empty() {
                writeln!(out, "{}", preview(response.body()))?;
            }
        }
        Err(CallError::Client { status, message }) => {
            writeln!(out, "client error: {status}: {message}")?
        }
        Err(error) => writeln!(out, "call failed: {error}")?,
    }
    writeln!(out)?;
    writeln!(out, "backend requests: {}", outcome.backend_requests.len())?;
    for (request, call) in outcome.backend_requests.iter().zip(
        outcome
            .report
            .backend_calls
            .iter()
            .map(Some)
            .chain(std::iter::repeat(None)),
    ) {
        let answer = match (request.matched, call.map(|c| &c.outcome)) {
            (Some(index), Some(Ok(status))) => format!("{status} (backend[{index}])"),
            (Some(index), _) => format!("backend[{index}]"),
            (None, _) => "NO MATCH in the fixture".to_string(),
        };
        writeln!(out, "  {} {} -> {answer}", request.method, request.url)?;
        if request.matched.is_none() {
            for (name, value) in &request.headers {
                writeln!(out, "    {name}: {value}")?;
            }
            if !request.body.is_empty() {
                writeln!(
                    out,
                    "    {}",
                    preview(&request.body).replace('\n', "\n    ")
                )?;
            }
        }
    }
    writeln!(out, "logs: {}", outcome.report.logs.len())?;
    for line in &outcome.report.logs {
        writeln!(
            out,
            "  {:>8.3} ms {:<5} {:<6} {}",
            line.at.as_secs_f64() * 1e3,
            line.level.to_string(),
            line.source.to_string(),
            line.message
        )?;
    }
    let report = &outcome.report;
    writeln!(
        out,
        "report: fuel {}, peak memory {} bytes, time {:.3} ms",
        report
            .fuel_consumed
            .map_or_else(|| "not metered".to_string(), |f| f.to_string()),
        report.peak_memory_bytes,
        report.wall_time.as_secs_f64() * 1e3
    )?;
    if outcome.passed() {
        writeln!(out, "passed")?;
    } else {
        for failure in outcome.failures() {
            writeln!(out, "FAILED: {failure}")?;
        }
    }
    Ok(())
}

/// The outcome as one JSON value, for `--format json`.
pub fn to_json(outcome: &RunOutcome) -> Value {
    let answer = match &outcome.result {
        Ok(response) => json!({
            "status": response.status().as_u16(),
            "headers": response.headers().iter().map(|(n, v)| json!([n.as_str(), String::from_utf8_lossy(v.as_bytes())])).collect::<Vec<_>>(),
            "body": body_json(response.body()),
        }),
        Err(error) => json!({ "error": error.to_string(), "status": outcome.status() }),
    };
    json!({
        "connector": outcome.connector,
        "operation": outcome.operation,
        "passed": outcome.passed(),
        "failures": outcome.failures(),
        "response": answer,
        "backend_requests": outcome.backend_requests,
        "logs": outcome.report.logs.iter().map(|l| json!({
            "at_ms": l.at.as_secs_f64() * 1e3,
            "level": l.level.to_string(),
            "source": l.source.to_string(),
            "message": l.message,
        })).collect::<Vec<_>>(),
        "report": {
            "fuel": outcome.report.fuel_consumed,
            "peak_memory_bytes": outcome.report.peak_memory_bytes,
            "wall_time_ms": outcome.report.wall_time.as_secs_f64() * 1e3,
        },
    })
}
