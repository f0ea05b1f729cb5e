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
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::definition::{Definition, Operation};
use crate::template::decode_segments;

/// Characters encoded in a path parameter value: everything but RFC 3986
/// unreserved characters, so a value is always exactly one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

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

/// Why no operation takes a call.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// No operation's path template matches the path.
    #[error("no operation for {method} {path}")]
    UnknownOperation {
        /// The request method.
        method: Method,
        /// The operation path requested.
        path: String,
    },
    /// Operations match the path, but none for this method.
    #[error("no operation for {method} {path} (allowed: {})", allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", "))]
    MethodNotAllowed {
        /// The request method.
        method: Method,
        /// The operation path requested.
        path: String,
        /// The methods the path has.
        allowed: Vec<Method>,
    },
}

impl Definition {
    /// The operation that takes `method` on `path`, or why none does: the
    /// one lookup every caller uses, so that the gateway and the tools
    /// refuse a call the same way.
    pub fn resolve(&self, method: &Method, path: &str) -> Result<Route<'_>, RouteError> {
        if let Some(route) = self.route(method, path) {
            return Ok(route);
        }
        let allowed = self.allowed_methods(path);
        if allowed.is_empty() {
            Err(RouteError::UnknownOperation { method: method.clone(), path: path.to_string() })
        } else {
            Err(RouteError::MethodNotAllowed { method: method.clone(), path: path.to_string(), allowed })
        }
    }

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
                best = Some((rank, Route { operation, path_params }));
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
            let matched = operation.template.as_ref().is_some_and(|t| t.matches(&segments).is_some());
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
        let host = self.host.as_deref().ok_or_else(|| BackendUrlError::NoHost { operation: operation.id.clone() })?;
        let scheme = self.scheme();
        let mut path = String::new();
        let mut rest = operation.path.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            path.push_str(&rest[..open]);
            let name = &rest[open + 1..close];
            let value = path_params.get(name).ok_or_else(|| BackendUrlError::MissingPathParameter {
                operation: operation.id.clone(),
                name: name.to_string(),
            })?;
            if value == "." || value == ".." {
                // `..` would climb out of the template (the URL parser
                // resolves it, encoded or not).
                return Err(BackendUrlError::DotSegment { operation: operation.id.clone(), name: name.to_string() });
            }
            let mut encoded = utf8_percent_encode(value, SEGMENT).to_string();
            let double =
                operation.parameters.iter().any(|p| p.name == name && p.url_encoding.as_deref() == Some("double"));
            if double {
                encoded = utf8_percent_encode(&encoded, SEGMENT).to_string();
            }
            path.push_str(&encoded);
            rest = &rest[close + 1..];
        }
        path.push_str(rest);
        let base = self.base_path.trim_end_matches('/');
        let path = if path.starts_with('/') || path.is_empty() { path } else { format!("/{path}") };
        let query = query.trim_start_matches('?');
        if let Some(origin) = self.parsed_origin(scheme, host) {
            // The URL parser's path and query states, without the host's
            // again: the same URL, unless the text holds what would end the
            // path early (`?`, `#`) or be trimmed from the whole URL's ends.
            let mut full_path = String::with_capacity(base.len() + path.len());
            full_path.push_str(base);
            full_path.push_str(&path);
            if !full_path.contains(['?', '#']) && !full_path.contains(|c: char| c <= ' ') {
                let mut url = origin.clone();
                url.set_path(&full_path);
                if !query.is_empty() {
                    url.set_query(Some(query));
                }
                return Ok(url);
            }
        }
        let mut text = format!("{scheme}://{host}{base}{path}");
        if !query.is_empty() {
            text.push('?');
            text.push_str(query);
        }
        url::Url::parse(&text)
            .map_err(|e| BackendUrlError::Invalid { operation: operation.id.clone(), reason: e.to_string() })
    }

    /// `{scheme}://{host}` parsed once and kept, when it is a bare origin
    /// (no path, query or fragment a host text could smuggle in).
    fn parsed_origin(&self, scheme: &str, host: &str) -> Option<&url::Url> {
        let (text, url) = self
            .origin
            .get_or_init(|| {
                let text = format!("{scheme}://{host}");
                let url = url::Url::parse(&text).ok()?;
                let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
                bare.then_some((text, url))
            })
            .as_ref()?;
        // The fields are public: a definition changed after its first call
        // is served by the whole parse.
        let same = text.strip_prefix(scheme).and_then(|rest| rest.strip_prefix("://")) == Some(host);
        same.then_some(url)
    }
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
        assert_eq!(def.route(&Method::GET, "/envelopes/recent").unwrap().operation.id, "Recent");
        let r = def.route(&Method::GET, "/envelopes/e1").unwrap();
        assert_eq!((r.operation.id.as_str(), r.path_params["id"].as_str()), ("GetEnvelope", "e1"));
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
        assert_eq!(def.route(&Method::POST, "/identities/u1/:issueAccessToken").unwrap().operation.id, "Issue");
        let r = def.route(&Method::GET, "/files/report.v2.json").unwrap();
        assert_eq!((r.operation.id.as_str(), r.path_params["name"].as_str()), ("Json", "report.v2"));
        assert_eq!(def.route(&Method::GET, "/files/report.xml").unwrap().operation.id, "Any");
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
        let params: IndexMap<String, String> = [("id".to_string(), "a b/ü".to_string())].into_iter().collect();
        let url = def.backend_url(operation, &params, "x=1&y=%20").unwrap();
        assert_eq!(url.as_str(), "https://api.example.com/v1/envelopes/a%20b%2F%C3%BC/void?x=1&y=%20");
    }

    #[test]
    fn backend_url_refuses_missing_and_dot_parameters() {
        let def = definition(json!({ "/x/{id}": { "get": op("X") } }));
        let operation = def.operation("X").unwrap();
        let err = def.backend_url(operation, &IndexMap::new(), "").unwrap_err();
        assert!(matches!(err, BackendUrlError::MissingPathParameter { name, .. } if name == "id"));
        let params: IndexMap<String, String> = [("id".to_string(), "..".to_string())].into_iter().collect();
        assert!(matches!(def.backend_url(operation, &params, ""), Err(BackendUrlError::DotSegment { .. })));
    }

    #[test]
    fn backend_url_uses_first_scheme_without_https() {
        let doc = json!({ "swagger": "2.0", "host": "h:8080", "schemes": ["http"], "paths": { "/a": { "get": { "operationId": "A" } } } });
        let def = Definition::parse(doc.to_string().as_bytes(), &mut Vec::new()).unwrap();
        let url = def.backend_url(def.operation("A").unwrap(), &IndexMap::new(), "").unwrap();
        assert_eq!(url.as_str(), "http://h:8080/a");
    }

    #[test]
    fn double_url_encoding_encodes_twice() {
        let doc = json!({ "swagger": "2.0", "host": "h", "paths": { "/f/{p}": { "get": { "operationId": "F",
            "parameters": [ { "name": "p", "in": "path", "type": "string", "x-ms-url-encoding": "double" } ] } } } });
        let def = Definition::parse(doc.to_string().as_bytes(), &mut Vec::new()).unwrap();
        let params: IndexMap<String, String> = [("p".to_string(), "a/b".to_string())].into_iter().collect();
        let url = def.backend_url(def.operation("F").unwrap(), &params, "").unwrap();
        assert_eq!(url.as_str(), "https://h/f/a%252Fb");
    }

    /// The URL built on the parsed origin is the one the whole text parses
    /// to, whatever the host, the template, the values and the query.
    #[test]
    fn backend_url_is_the_whole_urls_parse() {
        let hosts = [
            "api.example.com",
            "API.Example.COM.",
            "127.0.0.1:8080",
            "[::1]:9000",
            "xn--bcher-kva.example",
            "bücher.example",
            "h/prefix",
            "u:p@h",
        ];
        let templates = [
            "/items",
            "/a/{p}/b",
            "/{p}",
            "",
            "/",
            "/a b/{p}",
            "/a\\b/{p}",
            "/a/./b/../{p}",
            "/x?y=1",
            "/x#frag",
            "/é/{p}",
            "//double/{p}",
            "/a%2Fb/{p}",
            "/a/{p}/ ",
        ];
        let values = ["v", "a/b", "a b", "..x", "%2e%2e", "é", "a?b#c"];
        let queries = ["", "x=1&y=%20", "?a=b", "q='quote'&r=<>", "a=%zz"];
        let mut checked = 0;
        for host in hosts {
            for template in templates {
                let doc = json!({ "swagger": "2.0", "host": host, "basePath": "/base/", "schemes": ["http"],
                    "paths": { template: { "get": { "operationId": "A",
                        "parameters": [ { "name": "p", "in": "path", "type": "string" } ] } } } });
                let Ok(def) = Definition::parse(doc.to_string().as_bytes(), &mut Vec::new()) else { continue };
                let Some(operation) = def.operation("A") else { continue };
                for value in values {
                    let params: IndexMap<String, String> = [("p".to_string(), value.to_string())].into_iter().collect();
                    for query in queries {
                        // Twice: the first call fills the cached origin, the second uses it.
                        let first = def.backend_url(operation, &params, query).map(|u| u.to_string());
                        let second = def.backend_url(operation, &params, query).map(|u| u.to_string());
                        let path = substitute(&operation.path, value);
                        let path = if path.starts_with('/') || path.is_empty() { path } else { format!("/{path}") };
                        let query = query.trim_start_matches('?');
                        let text =
                            format!("http://{host}/base{path}{}{query}", if query.is_empty() { "" } else { "?" });
                        let whole = url::Url::parse(&text).map(|u| u.to_string());
                        assert_eq!(first.as_ref().ok(), whole.as_ref().ok(), "{text}");
                        assert_eq!(second.as_ref().ok(), whole.as_ref().ok(), "{text}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    /// `{p}` replaced as `backend_url` replaces it (one encoded segment).
    fn substitute(template: &str, value: &str) -> String {
        template.replace("{p}", &utf8_percent_encode(value, SEGMENT).to_string())
    }

    #[test]
    fn a_definition_changed_after_a_call_is_not_served_the_old_host() {
        let doc =
            json!({ "swagger": "2.0", "host": "old.example", "paths": { "/a": { "get": { "operationId": "A" } } } });
        let mut def = Definition::parse(doc.to_string().as_bytes(), &mut Vec::new()).unwrap();
        let url = def.backend_url(def.operation("A").unwrap(), &IndexMap::new(), "").unwrap();
        assert_eq!(url.as_str(), "https://old.example/a");
        def.host = Some("new.example".into());
        let url = def.backend_url(def.operation("A").unwrap(), &IndexMap::new(), "").unwrap();
        assert_eq!(url.as_str(), "https://new.example/a");
    }
}
