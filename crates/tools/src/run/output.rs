//! A run's outcome for people (text) and for scripts (JSON).

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use sluice_runtime::CallError;

use super::RunOutcome;

/// A body for display: text as is (cut at 4 KiB), binary as its size.
pub(super) fn preview(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if text.len() > 4096 => {
            let cut = (0..=4096).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            format!("{}... ({} bytes)", &text[..cut], text.len())
        }
        Ok(text) => text.to_string(),
        Err(_) => format!("<{} bytes of binary>", body.len()),
    }
}

pub(super) fn serialize_body<S: serde::Serializer>(body: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
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
                writeln!(out, "  {name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
            }
            if !response.body().is_empty() {
                writeln!(out, "{}", preview(response.body()))?;
            }
        }
        Err(CallError::Client { status, message }) => writeln!(out, "client error: {status}: {message}")?,
        Err(error) => writeln!(out, "call failed: {error}")?,
    }
    writeln!(out)?;
    writeln!(out, "backend requests: {}", outcome.backend_requests.len())?;
    for (request, call) in outcome
        .backend_requests
        .iter()
        .zip(outcome.report.backend_calls.iter().map(Some).chain(std::iter::repeat(None)))
    {
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
                writeln!(out, "    {}", preview(&request.body).replace('\n', "\n    "))?;
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
        report.fuel_consumed.map_or_else(|| "not metered".to_string(), |f| f.to_string()),
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
