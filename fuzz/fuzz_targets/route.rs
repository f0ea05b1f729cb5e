//! Routing a call to an operation: a definition of fuzzed path templates,
//! then a fuzzed path, and a path built from one template with fuzzed
//! parameter values.
//!
//! What must hold: nothing panics; a match is for the method asked; a
//! "method not allowed" lists other methods only; a path built from a
//! routable template by encoding each value as one segment always routes,
//! and to that template's operation its values come back decoded, exactly;
//! the backend URL of a match is built or refused with a typed error.
#![no_main]

use arbitrary::Arbitrary;
use http::Method;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};
use sluice_package::{Definition, RouteError};

/// What `backend_url` encodes in a parameter: all but RFC 3986 unreserved.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH];

#[derive(Debug, Arbitrary)]
struct Input {
    templates: Vec<(u8, String)>,
    method: u8,
    path: String,
    chosen: u8,
    values: Vec<String>,
}

/// The `{name}` parameters of a template, in order.
fn parameter_names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        names.push(rest[open + 1..open + close].to_string());
        rest = &rest[open + close + 1..];
    }
    names
}

/// The definition, and its load warnings (an unroutable template is one).
fn definition(templates: &[(u8, String)]) -> Option<(Definition, Vec<String>)> {
    let mut paths = Map::new();
    for (index, (method, template)) in templates.iter().enumerate() {
        let method = METHODS[usize::from(*method) % METHODS.len()].as_str().to_ascii_lowercase();
        let parameters: Vec<Value> = parameter_names(template)
            .into_iter()
            .map(|name| json!({"name": name, "in": "path", "required": true, "type": "string"}))
            .collect();
        let item = paths.entry(template.clone()).or_insert_with(|| json!({}));
        item[method] = json!({"operationId": format!("op{index}"), "parameters": parameters, "responses": {}});
    }
    let document = json!({"swagger": "2.0", "host": "backend.test", "basePath": "/v1", "paths": paths});
    let mut warnings = Vec::new();
    let definition = Definition::parse(document.to_string().as_bytes(), &mut warnings).ok()?;
    Some((definition, warnings))
}

fuzz_target!(|input: Input| {
    let templates: Vec<_> = input.templates.into_iter().take(8).collect();
    let Some((definition, warnings)) = definition(&templates) else { return };
    let method = &METHODS[usize::from(input.method) % METHODS.len()];

    match definition.resolve(method, &input.path) {
        Ok(route) => {
            assert_eq!(&route.operation.method, method);
            match definition.backend_url(route.operation, &route.path_params, "") {
                Ok(url) => assert_eq!(url.host_str(), Some("backend.test")),
                Err(_typed) => {}
            }
        }
        Err(RouteError::MethodNotAllowed { allowed, .. }) => {
            assert!(!allowed.is_empty());
            assert!(!allowed.contains(method), "{method} is both refused and allowed");
        }
        Err(_) => {}
    }

    // A path built from one template, a parameter being a whole segment.
    if templates.is_empty() {
        return;
    }
    let index = usize::from(input.chosen) % templates.len();
    let (method, template) = &templates[index];
    let method = &METHODS[usize::from(*method) % METHODS.len()];
    let id = format!("op{index}");
    let Some(operation) = definition.operation(&id) else { return };
    if warnings.iter().any(|w| w.starts_with(&format!("operation `{id}`: cannot route"))) {
        return;
    }
    if operation.path != *template || template.contains(['?', '#', '%']) {
        return;
    }
    let names = parameter_names(template);
    let mut values = input.values.into_iter();
    let mut expected = indexmap::IndexMap::new();
    let mut path = String::new();
    // Segment by segment as the router splits (outer `/` trimmed, inner
    // empty segments kept).
    for segment in template.trim_matches('/').split('/') {
        path.push('/');
        let is_parameter = segment.starts_with('{') && segment.ends_with('}') && segment.matches('{').count() == 1;
        if is_parameter {
            let name = &segment[1..segment.len() - 1];
            let value = values.next().unwrap_or_else(|| "x".into());
            if value.is_empty() || value == "." || value == ".." || expected.contains_key(name) {
                return;
            }
            path.push_str(&utf8_percent_encode(&value, SEGMENT).to_string());
            expected.insert(name.to_string(), value);
        } else if segment.contains(['{', '}']) {
            return;
        } else {
            path.push_str(segment);
        }
    }
    if names.len() != expected.len() {
        return;
    }
    let route = definition
        .route(method, &path)
        .unwrap_or_else(|| panic!("{path} was built from {template} ({method}) but routes nowhere"));
    if route.operation.id == operation.id {
        assert_eq!(route.path_params, expected, "{path} from {template}");
    }
});
