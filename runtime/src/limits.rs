//! Per-connector limits on one call: fuel, memory, time, backend calls, bodies and logs.

use std::time::Duration;

use serde::Deserialize;

/// What one call of a connector's code may use.
///
/// Every field has a default and can be overridden per connector, e.g. from
/// the gateway's settings file:
///
/// ```toml
/// [limits]
/// fuel = 50_000_000
/// deadline = "2s"
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel per call, in wasmtime fuel units (roughly one per WebAssembly
    /// instruction). Enforced when the runtime meters fuel. Default:
    /// 1,000,000,000 (about a second of guest compute on a current core).
    pub fuel: u64,
    /// Linear memory per instance, in bytes, at most the runtime's
    /// [`max_memory_bytes`](crate::RuntimeConfig::max_memory_bytes).
    /// Default: 64 MiB.
    pub memory_bytes: u64,
    /// Wall-clock time for the whole call, backend calls included, as the
    /// platform's 5 seconds. Default: 5 s.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// Backend calls (`send`) per call; one more ends the call. Default: 16.
    pub backend_calls: u32,
    /// Body of the incoming request and of each request the code sends, in
    /// bytes. Default: 8 MiB.
    pub request_body_bytes: usize,
    /// Body of each backend response and of the code's answer, in bytes.
    /// Default: 8 MiB.
    pub response_body_bytes: usize,
    /// Log output per call (log lines, stdout and stderr together), in bytes;
    /// more ends the call. Default: 64 KiB.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 1_000_000_000,
            memory_bytes: 64 << 20,
            deadline: Duration::from_secs(5),
            backend_calls: 16,
            request_body_bytes: 8 << 20,
            response_body_bytes: 8 << 20,
            log_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// The longest deadline a connector may set: 5 minutes, sixty times the
    /// platform's 5 seconds.
    pub const MAX_DEADLINE: Duration = Duration::from_secs(300);
    /// The most backend calls a connector may allow per call: 1,000.
    pub const MAX_BACKEND_CALLS: u32 = 1_000;
    /// The largest request or response body a connector may allow: 64 MiB.
    pub const MAX_BODY_BYTES: usize = 64 << 20;
    /// The largest log budget a connector may set: 16 MiB.
    pub const MAX_LOG_BYTES: usize = 16 << 20;

    /// Checks that the limits make sense under the given runtime maximum
    /// memory and the maxima above; returns the name of the offending field
    /// and why, naming the maximum.
    #[cfg_attr(not(feature = "engine"), allow(dead_code))]
    pub(crate) fn check(&self, max_memory_bytes: u64) -> Result<(), (&'static str, String)> {
        if self.memory_bytes > max_memory_bytes {
            return Err((
                "memory_bytes",
                format!("{} bytes is more than the runtime's maximum of {max_memory_bytes} bytes", self.memory_bytes),
            ));
        }
        if self.memory_bytes == 0 {
            return Err(("memory_bytes", "must be more than zero".into()));
        }
        if self.fuel == 0 {
            return Err(("fuel", "must be more than zero".into()));
        }
        if self.deadline.is_zero() {
            return Err(("deadline", "must be longer than zero".into()));
        }
        if self.deadline > Self::MAX_DEADLINE {
            return Err((
                "deadline",
                format!("{:?} is longer than the maximum of {:?}", self.deadline, Self::MAX_DEADLINE),
            ));
        }
        if self.backend_calls > Self::MAX_BACKEND_CALLS {
            return Err((
                "backend_calls",
                format!("{} is more than the maximum of {}", self.backend_calls, Self::MAX_BACKEND_CALLS),
            ));
        }
        for (field, value) in
            [("request_body_bytes", self.request_body_bytes), ("response_body_bytes", self.response_body_bytes)]
        {
            if value > Self::MAX_BODY_BYTES {
                return Err((
                    field,
                    format!("{value} bytes is more than the maximum of {} bytes", Self::MAX_BODY_BYTES),
                ));
            }
        }
        if self.log_bytes > Self::MAX_LOG_BYTES {
            return Err((
                "log_bytes",
                format!("{} bytes is more than the maximum of {} bytes", self.log_bytes, Self::MAX_LOG_BYTES),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_with_defaults_for_missing_fields() {
        let limits: Limits = serde_json::from_str(r#"{"fuel": 10, "deadline": "250ms"}"#).unwrap();
        assert_eq!(limits.fuel, 10);
        assert_eq!(limits.deadline, Duration::from_millis(250));
        assert_eq!(limits.memory_bytes, Limits::default().memory_bytes);
    }

    #[test]
    fn unknown_limit_is_rejected() {
        let err = serde_json::from_str::<Limits>(r#"{"fule": 10}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `fule`"), "{err}");
    }

    #[test]
    fn limits_over_their_maxima_are_refused_naming_the_maximum() {
        let huge: Limits = serde_json::from_str(r#"{"deadline": "1000000000years"}"#).unwrap();
        let (field, reason) = huge.check(64 << 20).unwrap_err();
        assert_eq!(field, "deadline");
        assert!(reason.contains("300s"), "{reason}");
        for (limits, field) in [
            (Limits { backend_calls: 1_001, ..Limits::default() }, "backend_calls"),
            (Limits { response_body_bytes: (64 << 20) + 1, ..Limits::default() }, "response_body_bytes"),
            (Limits { request_body_bytes: usize::MAX, ..Limits::default() }, "request_body_bytes"),
            (Limits { log_bytes: 1 << 30, ..Limits::default() }, "log_bytes"),
        ] {
            let (got, reason) = limits.check(64 << 20).unwrap_err();
            assert_eq!(got, field);
            assert!(reason.contains("maximum"), "{reason}");
        }
        let at_the_maxima = Limits {
            deadline: Limits::MAX_DEADLINE,
            backend_calls: Limits::MAX_BACKEND_CALLS,
            response_body_bytes: Limits::MAX_BODY_BYTES,
            ..Limits::default()
        };
        assert!(at_the_maxima.check(64 << 20).is_ok());
    }

    #[test]
    fn memory_over_runtime_maximum_is_rejected() {
        let limits = Limits { memory_bytes: 2 << 20, ..Limits::default() };
        assert_eq!(limits.check(1 << 20).unwrap_err().0, "memory_bytes");
        assert!(limits.check(4 << 20).is_ok());
    }
}
