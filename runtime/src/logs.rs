//! The call's log sink: log lines, stdout and stderr under one byte budget.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::error::Abort;
use crate::report::{LogLevel, LogLine, LogSource};

/// What a log line costs at the least, in bytes of the budget: about what
/// keeping it costs the host (its text, level, source and time).
pub(crate) const MIN_LINE_BYTES: usize = 32;

/// `text` with every control character but tab written as an escape
/// (`\n`, `\u{1b}`), so that a guest's line is one line wherever it is
/// printed and cannot forge another, or drive a terminal.
pub fn escape_controls(text: String) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text;
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Collects a call's log output and enforces its byte budget.
#[derive(Debug)]
pub(crate) struct LogSink {
    started: Instant,
    limit: usize,
    used: usize,
    lines: Vec<LogLine>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exceeded: bool,
}

impl LogSink {
    pub(crate) fn new(started: Instant, limit: usize) -> Self {
        Self { started, limit, used: 0, lines: Vec::new(), stdout: Vec::new(), stderr: Vec::new(), exceeded: false }
    }

    fn charge(&mut self, bytes: usize) -> Result<(), Abort> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            self.exceeded = true;
            return Err(Abort::Log { limit: self.limit });
        }
        Ok(())
    }

    /// Records a line from the contract's `log.write`. Every line costs at
    /// least [`MIN_LINE_BYTES`], so that empty lines are not free.
    pub(crate) fn line(&mut self, level: LogLevel, message: String) -> Result<(), Abort> {
        self.charge(message.len().max(MIN_LINE_BYTES))?;
        let at = self.started.elapsed();
        self.lines.push(LogLine { level, source: LogSource::Log, message: escape_controls(message), at });
        Ok(())
    }

    /// Records bytes written to stdout or stderr; complete lines become log lines.
    fn stream(&mut self, source: LogSource, bytes: &[u8]) -> Result<(), Abort> {
        self.charge(bytes.len())?;
        let at = self.started.elapsed();
        let buffer = match source {
            LogSource::Stderr => &mut self.stderr,
            _ => &mut self.stdout,
        };
        buffer.extend_from_slice(bytes);
        let mut complete = Vec::new();
        while let Some(newline) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=newline).collect();
            complete.push(escape_controls(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned()));
        }
        for message in complete {
            self.lines.push(LogLine { level: stream_level(source), source, message, at });
        }
        Ok(())
    }

    /// Whether the budget was exceeded at some point.
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// Ends the call's logging: unterminated stream output becomes a last line.
    pub(crate) fn finish(&mut self) -> Vec<LogLine> {
        let at = self.started.elapsed();
        for source in [LogSource::Stdout, LogSource::Stderr] {
            let buffer = match source {
                LogSource::Stderr => std::mem::take(&mut self.stderr),
                _ => std::mem::take(&mut self.stdout),
            };
            if !buffer.is_empty() {
                let message = escape_controls(String::from_utf8_lossy(&buffer).into_owned());
                self.lines.push(LogLine { level: stream_level(source), source, message, at });
            }
        }
        std::mem::take(&mut self.lines)
    }
}

fn stream_level(source: LogSource) -> LogLevel {
    match source {
        LogSource::Stderr => LogLevel::Error,
        _ => LogLevel::Info,
    }
}

/// Locks the sink; a poisoned lock still holds consistent data (every update
/// is a push or an addition), so it is used as is.
pub(crate) fn lock(sink: &Mutex<LogSink>) -> MutexGuard<'_, LogSink> {
    sink.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The guest's stdout or stderr, feeding the call's [`LogSink`].
#[derive(Debug, Clone)]
pub(crate) struct LogStream {
    sink: Arc<Mutex<LogSink>>,
    source: LogSource,
}

impl LogStream {
    pub(crate) fn new(sink: Arc<Mutex<LogSink>>, source: LogSource) -> Self {
        Self { sink, source }
    }
}

/// How much one write may carry; the budget is checked on every write.
const WRITE_PERMIT: usize = 4096;

#[async_trait::async_trait]
impl OutputStream for LogStream {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        lock(&self.sink).stream(self.source, &bytes).map_err(|abort| StreamError::Trap(wasmtime::Error::new(abort)))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let result = lock(&self.sink).stream(self.source, buf);
        Poll::Ready(result.map(|()| buf.len()).map_err(std::io::Error::other))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Finds the message of a Rust panic in what the guest wrote to stderr.
///
/// Rust's default hook prints `thread '...' panicked at file:line:col:`, the
/// message on the following lines, then optionally a `note: ...` line.
pub(crate) fn panic_message(lines: &[LogLine]) -> Option<String> {
    let stderr: Vec<&str> =
        lines.iter().filter(|l| l.source == LogSource::Stderr).map(|l| l.message.as_str()).collect();
    let start = stderr.iter().rposition(|l| l.contains("panicked at"))?;
    let message: Vec<&str> = stderr[start + 1..].iter().take_while(|l| !l.starts_with("note: ")).copied().collect();
    let message = message.join("\n").trim().to_string();
    if message.is_empty() {
        // Older formats put the message on the same line: `panicked at 'msg', file`.
        Some(stderr[start].trim().to_string())
    } else {
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_output_splits_into_lines_and_keeps_the_tail() {
        let mut sink = LogSink::new(Instant::now(), 1024);
        sink.stream(LogSource::Stdout, b"one\ntw").unwrap();
        sink.stream(LogSource::Stdout, b"o\nthree").unwrap();
        let lines: Vec<String> = sink.finish().into_iter().map(|l| l.message).collect();
        assert_eq!(lines, ["one", "two", "three"]);
    }

    #[test]
    fn empty_lines_cost_a_minimum() {
        let mut sink = LogSink::new(Instant::now(), 10 * MIN_LINE_BYTES);
        for _ in 0..10 {
            sink.line(LogLevel::Info, String::new()).unwrap();
        }
        assert!(matches!(sink.line(LogLevel::Info, String::new()), Err(Abort::Log { .. })));
    }

    #[test]
    fn control_characters_cannot_forge_a_line() {
        let mut sink = LogSink::new(Instant::now(), 1 << 20);
        sink.line(LogLevel::Info, "ok\nERROR fake line\u{1b}[2J".into()).unwrap();
        sink.stream(LogSource::Stderr, b"a\rb\tc\n").unwrap();
        let lines: Vec<String> = sink.finish().into_iter().map(|l| l.message).collect();
        assert_eq!(lines, ["ok\\nERROR fake line\\u{1b}[2J", "a\\rb\tc"]);
    }

    #[test]
    fn log_budget_exceeded_aborts() {
        let mut sink = LogSink::new(Instant::now(), MIN_LINE_BYTES + 8);
        sink.line(LogLevel::Info, "12345".into()).unwrap();
        assert!(
            matches!(sink.line(LogLevel::Info, "6789".into()), Err(Abort::Log { limit }) if limit == MIN_LINE_BYTES + 8)
        );
        assert!(sink.exceeded());
    }

    #[test]
    fn panic_message_found_after_panicked_at_line() {
        let line = |m: &str| LogLine {
            level: LogLevel::Error,
            source: LogSource::Stderr,
            message: m.into(),
            at: Default::default(),
        };
        let lines = [
            line(""),
            line("thread '<unnamed>' panicked at src/lib.rs:3:5:"),
            line("boom: 42"),
            line("note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"),
        ];
        assert_eq!(panic_message(&lines).as_deref(), Some("boom: 42"));
        assert_eq!(panic_message(&lines[..1]), None);
    }
}
