//! A Postman request's URL taken apart into the parts a definition needs:
//! scheme, host, path segments with their parameters, and query entries.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Item, PostmanError, text, variables};

/// A request's URL taken apart.
pub(super) struct ParsedUrl {
    pub(super) scheme: String,
    pub(super) host: String,
    /// Path segments, parameters written `{name}`.
    pub(super) segments: Vec<String>,
    /// Path parameter names with their descriptions.
    pub(super) path_params: Vec<(String, Option<String>)>,
    /// Whether the path ends with `/`.
    pub(super) trailing_slash: bool,
    /// Query entries: key, description, disabled.
    pub(super) query: Vec<(String, Option<String>, bool)>,
}

impl ParsedUrl {
    pub(super) fn of(item: &Item<'_>, collection_vars: &HashMap<String, Value>) -> Result<Self, PostmanError> {
        let error = |reason: String| PostmanError::Url { request: item.name.clone(), reason };
        let url = match item.request {
            Value::String(raw) => json!({ "raw": raw }),
            request => request.get("url").cloned().unwrap_or(Value::Null),
        };
        let raw = match &url {
            Value::String(raw) => raw.clone(),
            Value::Object(o) => match o.get("raw").and_then(Value::as_str) {
                Some(raw) => raw.to_string(),
                None => rebuild_raw(o),
            },
            _ => return Err(error("it has no URL".into())),
        };
        let raw = resolve(&raw, collection_vars);
        let (before_query, query_text) = raw.split_once('?').unwrap_or((&raw, ""));
        let (scheme, rest) = match before_query.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("https".to_string(), before_query),
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() || host.contains("{{") {
            let name = host.split_once("{{").and_then(|(_, rest)| rest.split_once("}}")).map(|(name, _)| name);
            let why = match name {
                Some(name) if collection_vars.contains_key(name) => {
                    format!("its host variable `{{{{{name}}}}}` is declared with no value")
                }
                Some(name) => format!("its host variable `{{{{{name}}}}}` is not defined in the collection"),
                None => format!("its host `{host}` is empty"),
            };
            let flag = name.unwrap_or("NAME");
            return Err(error(format!(
                "{why}; give it with `--var {flag}=VALUE` or `--environment FILE` (a Postman environment export)"
            )));
        }
        let url_vars = variables(url.get("variable"));
        let mut segments = Vec::new();
        let mut path_params = Vec::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            let (template, names) = template_segment(segment).map_err(error)?;
            for name in names {
                let description = url_vars.get(&name).and_then(|v| text(v.get("description")));
                path_params.push((name, description));
            }
            segments.push(template);
        }
        let query = match url.get("query").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .filter_map(|q| {
                    let key = q.get("key").and_then(Value::as_str)?;
                    let disabled = q.get("disabled").and_then(Value::as_bool).unwrap_or(false);
                    Some((key.to_string(), text(q.get("description")), disabled))
                })
                .collect(),
            None => query_text
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| (p.split_once('=').map_or(p, |(k, _)| k).to_string(), None, false))
                .collect(),
        };
        let trailing_slash = path.ends_with('/') && !segments.is_empty();
        Ok(Self { scheme, host: host.to_string(), segments, path_params, trailing_slash, query })
    }
}

/// A path segment as a path template segment, and its parameters: `:id`
/// and `{{id}}` become `{id}`, as do variables inside a segment
/// (`v{{version}}`, `key={{transaction-key}}`) and OpenAPI-style `{id}`
/// written in the raw URL. The error is why the segment cannot be routed:
/// an unclosed brace, a stray one, two variables side by side.
fn template_segment(segment: &str) -> Result<(String, Vec<String>), String> {
    let bad_name = |name: &str| name.is_empty() || name.contains(['{', '}']);
    if let Some(name) = segment.strip_prefix(':') {
        if bad_name(name) {
            return Err(format!("its path segment `{segment}` is not a parameter name"));
        }
        return Ok((format!("{{{name}}}"), vec![name.to_string()]));
    }
    let stray = || format!("its path segment `{segment}` has a `{{` or `}}` that is not part of a `{{{{variable}}}}`");
    let mut template = String::new();
    let mut names = Vec::new();
    let mut rest = segment;
    while let Some(open) = rest.find('{') {
        let literal = &rest[..open];
        if literal.contains('}') {
            return Err(stray());
        }
        if literal.is_empty() && !names.is_empty() {
            return Err(format!(
                "its path segment `{segment}` has two variables side by side, which no route can split"
            ));
        }
        // `{{name}}`, Postman's variable, or `{name}`, OpenAPI's parameter.
        let (after, closing) = match rest[open..].strip_prefix("{{") {
            Some(after) => (after, "}}"),
            None => (&rest[open + 1..], "}"),
        };
        let close = after.find(closing).ok_or_else(|| format!("its path segment `{segment}` has an unclosed `{{`"))?;
        let name = &after[..close];
        if bad_name(name) {
            return Err(stray());
        }
        template.push_str(literal);
        template.push_str(&format!("{{{name}}}"));
        names.push(name.to_string());
        rest = &after[close + closing.len()..];
    }
    if rest.contains('}') {
        return Err(stray());
    }
    template.push_str(rest);
    // As the router compares segments decoded, a literal that decodes to
    // bytes that are not UTF-8 could never be called.
    if percent_encoding::percent_decode_str(&template).decode_utf8().is_err() {
        return Err(format!("its path segment `{segment}` percent-decodes to bytes that are not UTF-8"));
    }
    Ok((template, names))
}

/// A raw URL from the parts of a URL object without `raw`.
pub(super) fn rebuild_raw(url: &Map<String, Value>) -> String {
    let join = |v: Option<&Value>, sep: &str| match v {
        Some(Value::Array(parts)) => parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(sep),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let protocol = url.get("protocol").and_then(Value::as_str).unwrap_or("https");
    let port = url.get("port").and_then(Value::as_str).map(|p| format!(":{p}")).unwrap_or_default();
    format!("{protocol}://{}{port}/{}", join(url.get("host"), "."), join(url.get("path"), "/"))
}

/// `{{name}}` replaced by the variable's value where one is defined and not empty.
/// `text` with its `{{variables}}` replaced, also those that variables'
/// own values name (`{{baseUrl}}` = `https://{{host}}/v1`), four levels deep.
pub(super) fn resolve(text: &str, vars: &HashMap<String, Value>) -> String {
    let mut text = text.to_string();
    for _ in 0..4 {
        let next = substitute(&text, vars);
        if next == text {
            break;
        }
        text = next;
    }
    text
}

pub(super) fn substitute(text: &str, vars: &HashMap<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}").map(|c| open + c) else {
            break;
        };
        let name = &rest[open + 2..close];
        out.push_str(&rest[..open]);
        // A variable declared with no value stays a variable (a path
        // parameter, or an unresolved host): an empty value would erase
        // its path segment.
        match vars.get(name).and_then(|v| v.get("value")).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[open..close + 2]),
        }
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    out
}

/// The longest run of literal leading segments every request's path shares,
/// not counting each path's last segment (so an operation keeps a path).
pub(super) fn base_path<'a>(urls: impl Iterator<Item = &'a ParsedUrl>) -> Vec<String> {
    let mut common: Option<Vec<String>> = None;
    for url in urls {
        let directory: Vec<String> = url.segments[..url.segments.len().saturating_sub(1)]
            .iter()
            .take_while(|s| !s.contains('{'))
            .cloned()
            .collect();
        common = Some(match common {
            None => directory,
            Some(common) => common.into_iter().zip(directory).take_while(|(a, b)| a == b).map(|(a, _)| a).collect(),
        });
    }
    common.unwrap_or_default()
}
