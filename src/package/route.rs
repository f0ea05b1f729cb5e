//! Routing a call to an operation by method and path template, and building
//! the backend URL from `schemes`, `host`, `basePath` and the template.
//!
//! Matching is per path segment and case-sensitive. A segment of a template
//! is a literal (`envelopes`), a parameter (`{id}`) or a mix (`{name}.json`,
//! `:issueAccessToken` after a parameter segment is just a literal). When
//! several templates match, the one whose segments are more specific wins,
//! compared left to right: literal over mixed over parameter. A trailing `/`
//! on either side is ignored. Parameter values are percent-decoded.

use http::Method;
use indexmap::IndexMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::definition::{Definition, Operation};

/// Characters encoded in a path parameter value: everything but RFC 3986
/// unreserved characters, so a value is always exactly one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A matched operation.
#[derive(Debug, Clone)]
pub struct Route<'d> {
    /// The operation.
    pub operation: &'d Operation,
    /// Its path parameters, percent-decoded, in template order.
    pub path_params: IndexMap<String, String>,
}

/// The backend URL could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendUrlError {
    /// The definition has no `host`.
    #[error("the definition has no host to send operation `{operation}` to")]
    NoHost {
        /// The operation id.
        operation: String,
    },
    /// A path parameter of the template has no value.
    #[error("operation `{operation}` needs path parameter `{name}`")]
    MissingPathParameter {
        /// The operation id.
        operation: String,
        /// The parameter.
        name: String,
    },
    /// A path parameter value would change the path's structure.
    #[error("path parameter `{name}` of operation `{operation}` cannot be `.` or `..`")]
    DotSegment {
        /// The operation id.
        operation: String,
        /// The parameter.
        name: String,
    },
    /// The assembled URL does not parse.
    #[error("the backend URL for operation `{operation}` is invalid: {reason}")]
    Invalid {
        /// The operation id.
        operation: String,
        /// The URL parser's complaint.
        reason: String,
    },
}

/// A compiled path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    segments: Vec<Vec<Part>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
}

impl PathTemplate {
    /// Compiles a template; the error says why it cannot be routed.
    pub(crate) fn compile(path: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        for segment in split(path) {
            let mut parts = Vec::new();
            let mut rest = segment;
            while !rest.is_empty() {
                match rest.find('{') {
                    Some(0) => {
                        let close = rest.find('}').ok_or("unclosed `{`")?;
                        let name = &rest[1..close];
                        if name.is_empty() || name.contains('{') {
                            return Err(format!("bad parameter in segment `{segment}`"));
                        }
                        if matches!(parts.last(), Some(Part::Param(_))) {
                            return Err(format!(
                                "two parameters side by side in segment `{segment}`"
                            ));
                        }
                        parts.push(Part::Param(name.to_string()));
                        rest = &rest[close + 1..];
                    }
                    Some(open) => {
                        parts.push(Part::Literal(rest[..open].to_string()));
                        rest = &rest[open..];
                    }
                    None => {
                        if rest.contains('}') {
                            return Err(format!("stray `}}` in segment `{segment}`"));
                        }
                        parts.push(Part::Literal(rest.to_string()));
                        rest = "";
                    }
                }
            }
            segments.push(parts);
        }
        Ok(Self { segments })
    }

    /// The parameter names, in order.
    pub(crate) fn parameter_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().flatten().filter_map(|p| match p {
            Part::Param(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Matches decoded request segments; returns the specificity rank (per
    /// segment: 2 literal, 1 mixed, 0 parameter) and the captures.
    fn matches(&self, request: &[String]) -> Option<(Vec<u8>, IndexMap<String, String>)> {
        if request.len() != self.segments.len() {
            return None;
        }
        let mut rank = Vec::with_capacity(request.len());
        let mut captures = IndexMap::new();
        for (parts, segment) in self.segments.iter().zip(request) {
            rank.push(match parts.as_slice() {
                [Part::Literal(_)] | [] => 2,
                [Part::Param(_)] => 0,
                _ => 1,
            });
            if !match_parts(parts, segment, &mut captures) {
                return None;
            }
        }
        Some((rank, captures))
    }
}

/// Matches one segment against its parts, backtracking over where each
/// parameter ends. Parameters capture at least one character.
fn match_parts(parts: &[Part], text: &str, captures: &mut IndexMap<String, String>) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((Part::Literal(lit), rest)) => text
            .strip_prefix(lit.as_str())
            .is_some_and(|tail| match_parts(rest, tail, captures)),
        Some((Part::Param(name), rest)) => {
            let ends = text
                .char_indices()
                .map(|(i, _)| i)
                .skip(1)
                .chain([text.len()]);
            for end in ends {
                if match_parts(rest, &text[end..], captures) {
                    captures.insert(name.clone(), text[..end].to_string());
                    return true;
                }
            }
            false
        }
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.trim_matches('/');
    trimmed.split('/').filter(move |_| !trimmed.is_empty())
}

impl Definition {
    /// The operation for `method` and `path`, the path being relative to
    /// `basePath` (e.g. `/envelopes/abc/void`, without a query).
    pub fn route(&self, method: &Method, path: &str) -> Option<Route<'_>> {
        let segments = decode_segments(path)?;
        let mut best: Option<(Vec<u8>, Route<'_>)> = None;
        for operation in self.operations.iter().filter(|o| o.method == *method) {
            let Some(template) = &operation.template else {
                continue;
            };
            let Some((rank, path_params)) = template.matches(&segments) else {
                continue;
            };
            if best.as_ref().is_none_or(|(best_rank, _)| rank > *best_rank) {
                best = Some((
                    rank,
                    Route {
                        operation,
                        path_params,
                    },
                ));
            }
        }
        best.map(|(_, route)| route)
    }

    /// The methods some operation accepts on `path`, for a 405 answer's
    /// `Allow` header; empty when no template matches the path.
    pub fn allowed_methods(&self, path: &str) -> Vec<Method> {
        let Some(segments) = decode_segments(path) else {
            return Vec::new();
        };
        let mut methods: Vec<Method> = Vec::new();
        for operation in &self.operations {
            let matched = operation
                .template
                .as_ref()
                .is_some_and(|t| t.matches(&segments).is_some());
            if matched && !methods.contains(&operation.method) {
                methods.push(operation.method.clone());
            }
        }
        methods
    }

    /// The backend URL of a call: scheme (`https` when `schemes` is empty or
    /// lists it, else the first listed), `host`, `basePath`, the operation's
    /// template with each path parameter percent-encoded as one segment
    /// (twice for `x-ms-url-encoding: double`), and `query` as given
    /// (already encoded, without `?`).
    pub fn backend_url(
        &self,
        operation: &Operation,
        path_params: &IndexMap<String, String>,
        query: &str,
    ) -> Result<url::Url, BackendUrlError> {
        let host = self
            .host
            .as_deref()
            .ok_or_else(|| BackendUrlError::NoHost {
                operation: operation.id.clone(),
            })?;
        let scheme = if self.schemes.is_empty()
            || self.schemes.iter().any(|s| s.eq_ignore_ascii_case("https"))
        {
            "https"
        } else {
            self.schemes[0].as_str()
        };
        let mut path = String::new();
        let mut rest = operation.path.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            path.push_str(&rest[..open]);
            let name = &rest[open + 1..close];
            let value =
                path_params
                    .get(name)
                    .ok_or_else(|| BackendUrlError::MissingPathParameter {
                        operation: operation.id.clone(),
                        name: name.to_string(),
                    })?;
            if value == "." || value == ".." {
                // `..` would climb out of the template (the URL parser
                // resolves it, encoded or not).
                return Err(BackendUrlError::DotSegment {
                    operation: operation.id.clone(),
                    name: name.to_string(),
                });
            }
            let mut encoded = utf8_percent_encode(value, SEGMENT).to_string();
            let double = operation
                .parameters
                .iter()
                .any(|p| p.name == name && p.url_encoding.as_deref() == Some("double"));
            if double {
                encoded = utf8_percent_encode(&encoded, SEGMENT).to_string();
            }
            path.push_str(&encoded);
            rest = &rest[close + 1..];
        }
        path.push_str(rest);
        let base = self.base_path.trim_end_matches('/');
        let path = if path.starts_with('/') || path.is_empty() {
            path
        } else {
            format!("/{path}")
        };
        let mut text = format!("{scheme}://{host}{base}{path}");
        if !query.is_empty() {
            text.push('?');
            text.push_str(query.trim_start_matches('?'));
        }
        url::Url::parse(&text).map_err(|e| BackendUrlError::Invalid {
            operation: operation.id.clone(),
            reason: e.to_string(),
        })
    }
}

/// Splits a request path into percent-decoded segments; `None` if a segment
/// is not UTF-8 once decoded.
fn decode_segments(path: &str) -> Option<Vec<String>> {
    split(path)
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn definition(paths: serde_json::Value) -> Definition {
        let doc = json!({ "swagger": "2.0", "host": "api.example.com", "basePath": "/v1", "schemes": ["http", "https"], "paths": paths });
        let mut warnings = Vec::new();
        Definition::parse(doc.to_string().as_bytes(), &mut warnings).unwrap()
    }

    fn op(id: &str) -> serde_json::Value {
        json!({ "operationId": id, "parameters": [
            { "name": "id", "in": "path", "type": "string" },
            { "name": "name", "in": "path", "type": "string" } ] })
    }

    #[test]
    fn literal_segment_beats_parameter() {
        let def = definition(json!({
            "/envelopes/{id}": { "get": op("GetEnvelope") },
            "/envelopes/recent": { "get": op("Recent") },
            "/envelopes/{id}/void": { "post": op("VoidEnvelope") }
        }));
        assert_eq!(
            def.route(&Method::GET, "/envelopes/recent")
                .unwrap()
                .operation
                .id,
            "Recent"
        );
        let r = def.route(&Method::GET, "/envelopes/e1").unwrap();
        assert_eq!(
            (r.operation.id.as_str(), r.path_params["id"].as_str()),
            ("GetEnvelope", "e1")
        );
        let r = def.route(&Method::POST, "/envelopes/e1/void/").unwrap();
        assert_eq!(r.operation.id, "VoidEnvelope");
        assert!(def.route(&Method::DELETE, "/envelopes/e1").is_none());
        assert!(def.route(&Method::GET, "/envelopes/e1/void/x").is_none());
        assert_eq!(def.allowed_methods("/envelopes/e1/void"), [Method::POST]);
    }

    #[test]
    fn path_parameters_are_percent_decoded() {
        let def = definition(json!({ "/files/{name}": { "get": op("Get") } }));
        let r = def.route(&Method::GET, "/files/a%20b%2Fc").unwrap();
        assert_eq!(r.path_params["name"], "a b/c");
    }

    #[test]
    fn mixed_segments_capture_around_literals() {
        let def = definition(json!({
            "/identities/{id}/:issueAccessToken": { "post": op("Issue") },
            "/files/{name}.json": { "get": op("Json") },
            "/files/{name}": { "get": op("Any") }
        }));
        assert_eq!(
            def.route(&Method::POST, "/identities/u1/:issueAccessToken")
                .unwrap()
                .operation
                .id,
            "Issue"
        );
        let r = def.route(&Method::GET, "/files/report.v2.json").unwrap();
        assert_eq!(
            (r.operation.id.as_str(), r.path_params["name"].as_str()),
            ("Json", "report.v2")
        );
        assert_eq!(
            def.route(&Method::GET, "/files/report.xml")
                .unwrap()
                .operation
                .id,
            "Any"
        );
    }

    #[test]
    fn root_template_matches_empty_and_slash() {
        let def = definition(json!({ "/": { "get": { "operationId": "Root" } } }));
        assert_eq!(def.route(&Method::GET, "").unwrap().operation.id, "Root");
        assert_eq!(def.route(&Method::GET, "/").unwrap().operation.id, "Root");
    }

    #[test]
    fn backend_url_substitutes_encoded_parameters() {
        let def = definition(json!({ "/envelopes/{id}/void": { "post": op("Void") } }));
        let operation = def.operation("Void").unwrap();
        let params: IndexMap<String, String> = [("id".to_string(), "a b/ü".to_string())]
            .into_iter()
            .collect();
        let url = def.backend_url(operation, &params, "x=1&y=%20").unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v1/envelopes/a%20b%2F%C3%BC/void?x=1&y=%20"
        );
    }

    #[test]
    fn backend_url_refuses_missing_and_dot_parameters() {
        let def = definition(json!({ "/x/{id}": { "get": op("X") } }));
        let operation = def.operation("X").unwrap();
        let err = def
            .backend_url(operation, &IndexMap::new(), "")
            .unwrap_err();
        assert!(matches!(err, BackendUrlError::MissingPathParameter { name, .. } if name == "id"));
        let params: IndexMap<String, String> =
            [("id".to_string(), "..".to_string())].into_iter().collect();
        assert!(matches!(
            def.backend_url(operation, &params, ""),
            Err(BackendUrlError::DotSegment { .. })
        ));
    }

    #[test]
    fn backend_url_uses_first_scheme_without_https() {
        let doc = json!({ "swagger": "2.0", "host": "h:8080", "schemes": ["http"], "paths": { "/a": { "get": { "operationId": "A" } } } });
        let def = Definition::parse(doc.to_string().as_bytes(), &mut Vec::new()).unwrap();
        let url = def
            .backend_url(def.operation("A").unwrap(), &IndexMap::new(), "")
            .unwrap();
        assert_eq!(url.as_str(), "http://h:8080/a");
    }

    #[test]
    fn double_url_encoding_encodes_twice() {
        let doc = json!({ "swagger": "2.0", "host": "h", "paths": { "/f/{p}": { "get": { "operationId": "F",
            "parameters": [ { "name": "p", "in": "path", "type": "string", "x-ms-url-encoding": "double" } ] } } } });
        let def = Definition::parse(doc.to_string().as_bytes(), &mut Vec::new()).unwrap();
        let params: IndexMap<String, String> =
            [("p".to_string(), "a/b".to_string())].into_iter().collect();
        let url = def
            .backend_url(def.operation("F").unwrap(), &params, "")
            .unwrap();
        assert_eq!(url.as_str(), "https://h/f/a%252Fb");
    }
}
