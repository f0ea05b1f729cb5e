//! The fixture format of `sluice run` and the test harness: the request the
//! code receives, the backend's canned answers, and what the answer should
//! be. A fixture is a JSON file:
//!
//! ```json
//! {
//!   "operation": "ListItems",
//!   "request": {
//!     "method": "GET",
//!     "path": "/items?limit=2",
//!     "headers": { "X-Api-Key": "test-key" }
//!   },
//!   "backend": [
//!     {
//!       "method": "GET",
//!       "url": "https://items.sluice.example/v1/items?limit=2",
//!       "response": { "status": 200, "json": [{ "id": 1, "name": "one", "ok": true }] }
//!     }
//!   ],
//!   "expect": { "status": 200, "json": { "count": 1, "items": [{ "id": 1, "name": "one", "ok": true }] } }
//! }
//! ```
//!
//! Every key is optional and unknown keys are errors:
//! - `operation`: the operationId (the command line's wins when both are
//!   given and they differ: that is an error).
//! - `connection`: the connection's parameter values (name to value), as a
//!   connection of the gateway holds them; checked against the package's
//!   `connectionParameters`. Default: no connection, so no credentials.
//! - `parameter_set`: for a package with `connectionParameterSets`, the set
//!   the connection chose; its values are checked against that set's
//!   parameters. Required with `connection` for such a package.
//! - `request`: the client's request: `method` (default: the operation's),
//!   `path` (with an optional `?query`, relative to the definition's
//!   `scheme://host/basePath`; default: the operation's path when it has no
//!   parameters) or `url` (absolute; under the definition's base URL it is
//!   the same as the path after it, elsewhere it is sent as given, without
//!   routing), `headers` (name to value), and at most one body: `json`
//!   (any JSON value, sent serialised, `content-type: application/json`
//!   added unless given), `text`, or `base64`. `original_url`: the URL the
//!   client called on the gateway, as the code sees it.
//! - `backend`: canned responses, tried in order for each `send` the code
//!   makes; the first whose `method` (case-insensitive) and `url` match
//!   answers. `url` matches exactly, or as a prefix when it ends in `*`.
//!   An entry answers any number of times. `response` has `status`
//!   (default 200), `headers` and one body as above. A `send` no entry
//!   matches fails the run, showing the request the code made.
//! - `expect`: `status`, `headers` (each must be present with that value;
//!   names are case-insensitive), `json` (the body parsed as JSON must
//!   equal it) or `text` (the body must equal it). A client error the code
//!   returns (`Error::bad_request`, ...) counts as its status with the
//!   message as the text body.
//!
//! The code receives what the gateway would hand it for that client
//! request: the backend request built from the definition (defaults, the
//! backend URL), the connection's credentials (hidden from the code unless
//! its `sluice.toml` says `sees_credentials`, and put back on its calls to
//! the backend host), and the request policies, in the package's order.

use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A fixture: see the module documentation for the format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fixture {
    /// The operationId to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The connection's parameter values, by name; when given, they are
    /// checked against the connector's `connectionParameters` and their
    /// credentials applied, as the gateway applies a connection's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<IndexMap<String, String>>,
    /// The parameter set the connection chose, for a package with
    /// `connectionParameterSets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_set: Option<String>,
    /// The client's request, from which the code's request is built.
    pub request: RequestSpec,
    /// Canned backend responses, tried in order.
    pub backend: Vec<BackendEntry>,
    /// What the answer must be; nothing checked when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// The incoming request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestSpec {
    /// The method; default: the operation's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// An absolute URL; wins over `path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A path (and `?query`) relative to the definition's base URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Headers, name to value.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// A JSON body, sent serialised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A text body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A binary body, base64-encoded (standard alphabet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// The URL the client called on the gateway; default
    /// `https://sluice.local/apim/<connector>/run<path>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_url: Option<String>,
}

/// A body as a fixture writes it: JSON, text or base64, at most one.
#[derive(Debug, Clone, Copy)]
pub struct BodySpec<'a> {
    /// A JSON body, sent serialised.
    pub json: Option<&'a Value>,
    /// A text body.
    pub text: Option<&'a str>,
    /// A binary body, base64-encoded.
    pub base64: Option<&'a str>,
}

/// One canned backend response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendEntry {
    /// The method to match (case-insensitive).
    pub method: String,
    /// The URL to match exactly, or as a prefix when it ends in `*`.
    pub url: String,
    /// The answer.
    #[serde(default)]
    pub response: ResponseSpec,
}

/// A canned response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseSpec {
    /// The status. Default: 200.
    pub status: u16,
    /// Headers, name to value.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// A JSON body, sent serialised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A text body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A binary body, base64-encoded (standard alphabet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

impl Default for ResponseSpec {
    fn default() -> Self {
        Self { status: 200, headers: IndexMap::new(), json: None, text: None, base64: None }
    }
}

/// What the code's answer must be.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Expect {
    /// The status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Headers that must be present with these values.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// The body, parsed as JSON, must equal this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// The body, as text, must equal this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A fixture file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file cannot be read.
    #[error("{path}: cannot read it: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a fixture.
    #[error("{path}: not a valid fixture: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The parser's complaint (line and column included).
        reason: String,
    },
}

impl Fixture {
    /// Reads a fixture file.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| FixtureError::Io { path: shown.clone(), source })?;
        Self::parse(&bytes).map_err(|reason| FixtureError::Invalid { path: shown, reason })
    }

    /// Parses a fixture; the error is the reason.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let fixture: Fixture = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        fixture.request.body().check("request")?;
        for (index, entry) in fixture.backend.iter().enumerate() {
            entry.response.body().check(&format!("backend[{index}].response"))?;
            http::Method::from_bytes(entry.method.as_bytes())
                .map_err(|_| format!("backend[{index}].method `{}` is not an HTTP method", entry.method))?;
        }
        Ok(fixture)
    }

    /// Reads a file of canned backend responses only: a JSON list of
    /// entries, or an object with a `backend` list.
    pub fn load_backend(path: &Path) -> Result<Vec<BackendEntry>, FixtureError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| FixtureError::Io { path: shown.clone(), source })?;
        let invalid = |reason: String| FixtureError::Invalid { path: shown.clone(), reason };
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        let list = match value {
            Value::Array(_) => value,
            Value::Object(mut map) => map
                .remove("backend")
                .ok_or_else(|| invalid("expected a list of backend entries, or an object with `backend`".into()))?,
            _ => return Err(invalid("expected a list of backend entries".into())),
        };
        let entries: Vec<BackendEntry> = serde_json::from_value(list).map_err(|e| invalid(e.to_string()))?;
        for (index, entry) in entries.iter().enumerate() {
            entry.response.body().check(&format!("backend[{index}].response")).map_err(invalid)?;
        }
        Ok(entries)
    }
}

impl RequestSpec {
    /// The request's body as written.
    pub fn body(&self) -> BodySpec<'_> {
        BodySpec { json: self.json.as_ref(), text: self.text.as_deref(), base64: self.base64.as_deref() }
    }
}

impl ResponseSpec {
    /// The response's body as written.
    pub fn body(&self) -> BodySpec<'_> {
        BodySpec { json: self.json.as_ref(), text: self.text.as_deref(), base64: self.base64.as_deref() }
    }
}

impl BodySpec<'_> {
    fn check(&self, owner: &str) -> Result<(), String> {
        let given = [self.json.is_some(), self.text.is_some(), self.base64.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(format!("{owner}: give at most one of `json`, `text` and `base64`"));
        }
        if let Some(b64) = &self.base64 {
            base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| format!("{owner}.base64: {e}"))?;
        }
        Ok(())
    }

    /// The body's bytes, and the content type it implies (JSON only).
    pub fn to_bytes(&self) -> (Bytes, Option<&'static str>) {
        if let Some(json) = &self.json {
            return (Bytes::from(json.to_string()), Some("application/json"));
        }
        if let Some(text) = &self.text {
            return (Bytes::from(text.to_string()), None);
        }
        if let Some(b64) = &self.base64 {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default();
            return (Bytes::from(bytes), None);
        }
        (Bytes::new(), None)
    }
}

impl BackendEntry {
    /// Whether this entry answers a request with this method and URL.
    pub fn matches(&self, method: &str, url: &str) -> bool {
        self.method.eq_ignore_ascii_case(method)
            && match self.url.strip_suffix('*') {
                Some(prefix) => url.starts_with(prefix),
                None => self.url == url,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_fixture_parses() {
        let fixture = Fixture::parse(
            br#"{"operation": "A", "request": {"path": "/a?x=1", "headers": {"h": "v"}, "json": {"a": 1}},
                 "backend": [{"method": "get", "url": "https://h/a*", "response": {"status": 201, "text": "ok"}}],
                 "expect": {"status": 200, "json": {"ok": true}}}"#,
        )
        .unwrap();
        assert_eq!(fixture.request.body().to_bytes().0, Bytes::from_static(br#"{"a":1}"#));
        assert!(fixture.backend[0].matches("GET", "https://h/a?x=1"));
        assert!(!fixture.backend[0].matches("POST", "https://h/a"));
        assert_eq!(fixture.backend[0].response.status, 201);
    }

    #[test]
    fn numbers_reach_the_code_as_written() {
        // Found by the `fixture` fuzz target: without correctly rounded
        // parsing this number came back one ulp off.
        let fixture = Fixture::parse(br#"{"request": {"json": [5.5565555555555554e74, 0.1, 1e-300]}}"#).unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&fixture.request.body().to_bytes().0).unwrap();
        // The nearest f64 to what the fixture says, written shortest.
        assert_eq!(sent, serde_json::json!([5.556555555555555e74, 0.1, 1e-300]));
        let written = serde_json::to_vec(&fixture).unwrap();
        assert_eq!(Fixture::parse(&written).unwrap(), fixture);
    }

    #[test]
    fn two_bodies_and_unknown_keys_are_refused() {
        let err = Fixture::parse(br#"{"request": {"json": 1, "text": "x"}}"#).unwrap_err();
        assert!(err.contains("at most one"), "{err}");
        let err = Fixture::parse(br#"{"requests": {}}"#).unwrap_err();
        assert!(err.contains("requests"), "{err}");
    }
}
