//! `sluice import postman`: a Postman collection (v2.0 or v2.1) turned into
//! an `apiDefinition.swagger.json`, the way the platform's import does:
//!
//! - each request becomes an operation: its name the summary (characters a
//!   summary may not have become spaces; at most 80), its description kept,
//!   its operationId the name's words in PascalCase (made unique);
//! - `host` and `schemes` come from the first request's URL (collection
//!   variables such as `{{baseUrl}}` resolved), `basePath` is the longest
//!   literal path prefix the requests share;
//! - path variables (`:id`, or an undefined `{{id}}` in the path) become
//!   path parameters with `x-ms-url-encoding: single`; query entries become
//!   query parameters; other headers become header parameters; a JSON body
//!   becomes a body parameter with a schema inferred from it, form bodies
//!   `formData` parameters (a GET's body is dropped);
//! - the first saved example response gives the response: its status, and
//!   a schema inferred from its JSON body;
//! - auth and content-type headers are left to the connection: the
//!   collection's `auth` (API key, basic, bearer, OAuth 2.0) becomes
//!   `securityDefinitions` and the matching connection parameters of a
//!   skeleton `apiProperties.json`; `Authorization`, `Content-Type`,
//!   `Accept` and the API key's own header or query entry are not parameters.
//!
//! What only a person can supply is left out: `publisher`, `stackOwner`,
//! `iconBrandColor`, and descriptions the collection lacks. Everything
//! skipped or guessed is listed in [`Imported::notes`].

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

/// The result of an import.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// `apiDefinition.swagger.json`.
    pub definition: Value,
    /// A skeleton `apiProperties.json`: the connection parameters the
    /// collection's auth needs, and nothing a person must decide.
    pub properties: Value,
    /// What was skipped or guessed, one line each, naming the request.
    pub notes: Vec<String>,
}

/// The collection cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum PostmanError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not a Postman v2.0/v2.1 collection.
    #[error("not a Postman v2.0 or v2.1 collection: {0}")]
    NotACollection(String),
    /// The collection has no requests.
    #[error("the collection has no requests")]
    Empty,
    /// A request's URL cannot be used.
    #[error("request `{request}`: {reason}")]
    Url {
        /// The request's name.
        request: String,
        /// What is wrong.
        reason: String,
    },
}

/// Headers never turned into parameters: the connection sets them.
const CONNECTION_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "content-length",
    "host",
    "cookie",
    "user-agent",
];

/// Imports a collection's JSON text.
pub fn import(bytes: &[u8]) -> Result<Imported, PostmanError> {
    let collection: Value = serde_json::from_slice(bytes)?;
    let info = collection
        .get("info")
        .and_then(Value::as_object)
        .ok_or_else(|| not_collection(&collection))?;
    let schema = info
        .get("schema")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !(schema.contains("v2.0.") || schema.contains("v2.1.")) {
        return Err(PostmanError::NotACollection(format!(
            "`info.schema` is `{schema}`; export the collection as v2.1 (or v2.0)"
        )));
    }
    let items = collection
        .get("item")
        .and_then(Value::as_array)
        .ok_or_else(|| PostmanError::NotACollection("no `item` list".into()))?;
    let variables = variables(collection.get("variable"));
    let mut requests = Vec::new();
    collect_requests(items, &mut requests);
    if requests.is_empty() {
        return Err(PostmanError::Empty);
    }

    let mut notes = Vec::new();
    let auth = collection
        .get("auth")
        .or_else(|| requests.iter().find_map(|r| r.request.get("auth")))
        .and_then(|a| Auth::parse(a, &mut notes));

    let mut parsed = Vec::new();
    for request in &requests {
        parsed.push(ParsedUrl::of(request, &variables)?);
    }
    let host = parsed[0].host.clone();
    let scheme = parsed[0].scheme.clone();
    for (request, url) in requests.iter().zip(&parsed) {
        if url.host != host {
            notes.push(format!(
                "request `{}` is on host `{}`; the definition has one host, `{host}`, and keeps only its path",
                request.name, url.host
            ));
        }
    }
    let base = base_path(&parsed);

    let mut paths: Map<String, Value> = Map::new();
    let mut ids: HashSet<String> = HashSet::new();
    for (request, url) in requests.iter().zip(&parsed) {
        let method = request
            .request
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_lowercase();
        let rest = &url.segments[base.len()..];
        let slash = if url.trailing_slash && !rest.is_empty() {
            "/"
        } else {
            ""
        };
        let path = format!("/{}{slash}", rest.join("/"));
        let item = paths.entry(path.clone()).or_insert_with(|| json!({}));
        if item.get(&method).is_some() {
            notes.push(format!(
                "request `{}` is a second {} {path}; an OpenAPI path has one operation per method, so it is skipped",
                request.name,
                method.to_uppercase()
            ));
            continue;
        }
        let operation = operation(request, url, &method, auth.as_ref(), &mut ids, &mut notes);
        if let Some(item) = item.as_object_mut() {
            item.insert(method, operation);
        }
    }

    let mut definition = json!({
        "swagger": "2.0",
        "info": {
            "title": info.get("name").and_then(Value::as_str).unwrap_or("Imported collection"),
            "description": text(info.get("description")).unwrap_or_default(),
            "version": "1.0",
        },
        "host": host,
        "basePath": if base.is_empty() { "/".to_string() } else { format!("/{}", base.join("/")) },
        "schemes": [scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": {},
        "parameters": {},
        "responses": {},
        "securityDefinitions": {},
        "security": [],
    });
    let mut connection_parameters = Map::new();
    if let Some(auth) = &auth {
        auth.apply(&mut definition, &mut connection_parameters);
    }
    if definition["info"]["description"] == "" {
        notes.push("the collection has no description: add info.description".into());
    }
    notes.push("apiProperties.json needs publisher, stackOwner and iconBrandColor, which only you can supply".into());
    let properties = json!({
        "properties": {
            "connectionParameters": connection_parameters,
            "capabilities": [],
        }
    });
    Ok(Imported {
        definition,
        properties,
        notes,
    })
}

fn not_collection(value: &Value) -> PostmanError {
    if value.get("requests").is_some() {
        PostmanError::NotACollection("this is a v1 collection; export it as v2.1".into())
    } else {
        PostmanError::NotACollection("no `info` object".into())
    }
}

/// One request item, with its name and its folder's auth.
struct Item<'a> {
    name: String,
    request: &'a Value,
    responses: Option<&'a Vec<Value>>,
}

fn collect_requests<'a>(items: &'a [Value], out: &mut Vec<Item<'a>>) {
    for item in items {
        if let Some(children) = item.get("item").and_then(Value::as_array) {
            collect_requests(children, out);
        } else if let Some(request) = item.get("request") {
            out.push(Item {
                name: item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                request,
                responses: item.get("response").and_then(Value::as_array),
            });
        }
    }
}

/// `variable` lists (collection or URL): key to value.
fn variables(list: Option<&Value>) -> HashMap<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let key = v
                .get("key")
                .or_else(|| v.get("id"))
                .and_then(Value::as_str)?;
            Some((key.to_string(), v.clone()))
        })
        .collect()
}

/// A description: a string, or `{ "content": ... }`.
fn text(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("content").and_then(Value::as_str)?.to_string(),
        _ => return None,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A request's URL taken apart.
struct ParsedUrl {
    scheme: String,
    host: String,
    /// Path segments, parameters written `{name}`.
    segments: Vec<String>,
    /// Path parameter names with their descriptions.
    path_params: Vec<(String, Option<String>)>,
    /// Whether the path ends with `/`.
    trailing_slash: bool,
    /// Query entries: key, description, disabled.
    query: Vec<(String, Option<String>, bool)>,
}

impl ParsedUrl {
    fn of(item: &Item<'_>, collection_vars: &HashMap<String, Value>) -> Result<Self, PostmanError> {
        let error = |reason: String| PostmanError::Url {
            request: item.name.clone(),
            reason,
        };
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
        // Variables may be built from others (`{{baseUrl}}` = `https://{{host}}/v1`).
        let mut raw = raw;
        for _ in 0..4 {
            let next = substitute(&raw, collection_vars);
            if next == raw {
                break;
            }
            raw = next;
        }
        let (before_query, query_text) = raw.split_once('?').unwrap_or((&raw, ""));
        let (scheme, rest) = match before_query.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("https".to_string(), before_query),
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() || host.contains("{{") {
            return Err(error(format!(
                "its host `{host}` is not resolved; define the variable in the collection's `variable` list"
            )));
        }
        let url_vars = variables(url.get("variable"));
        let mut segments = Vec::new();
        let mut path_params = Vec::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            let name = segment.strip_prefix(':').or_else(|| {
                segment
                    .strip_prefix("{{")
                    .and_then(|s| s.strip_suffix("}}"))
            });
            match name {
                Some(name) => {
                    let description = url_vars.get(name).and_then(|v| text(v.get("description")));
                    segments.push(format!("{{{name}}}"));
                    path_params.push((name.to_string(), description));
                }
                None => segments.push(segment.to_string()),
            }
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
                .map(|p| {
                    (
                        p.split_once('=').map_or(p, |(k, _)| k).to_string(),
                        None,
                        false,
                    )
                })
                .collect(),
        };
        let trailing_slash = path.ends_with('/') && !segments.is_empty();
        Ok(Self {
            scheme,
            host: host.to_string(),
            segments,
            path_params,
            trailing_slash,
            query,
        })
    }
}

/// A raw URL from the parts of a URL object without `raw`.
fn rebuild_raw(url: &Map<String, Value>) -> String {
    let join = |v: Option<&Value>, sep: &str| match v {
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(sep),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let protocol = url
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("https");
    let port = url
        .get("port")
        .and_then(Value::as_str)
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!(
        "{protocol}://{}{port}/{}",
        join(url.get("host"), "."),
        join(url.get("path"), "/")
    )
}

/// `{{name}}` replaced by the collection variable's value where one is defined.
fn substitute(text: &str, vars: &HashMap<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}").map(|c| open + c) else {
            break;
        };
        let name = &rest[open + 2..close];
        out.push_str(&rest[..open]);
        match vars
            .get(name)
            .and_then(|v| v.get("value"))
            .and_then(Value::as_str)
        {
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
fn base_path(urls: &[ParsedUrl]) -> Vec<String> {
    let mut common: Option<Vec<String>> = None;
    for url in urls {
        let directory: Vec<String> = url.segments[..url.segments.len().saturating_sub(1)]
            .iter()
            .take_while(|s| !s.starts_with('{'))
            .cloned()
            .collect();
        common = Some(match common {
            None => directory,
            Some(common) => common
                .into_iter()
                .zip(directory)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    common.unwrap_or_default()
}

fn operation(
    item: &Item<'_>,
    url: &ParsedUrl,
    method: &str,
    auth: Option<&Auth>,
    ids: &mut HashSet<String>,
    notes: &mut Vec<String>,
) -> Value {
    let request = item.request;
    let summary = summary(&item.name, method, &url.segments);
    let mut id = operation_id(&summary);
    if ids.contains(&id) {
        let mut n = 2;
        while ids.contains(&format!("{id}{n}")) {
            n += 1;
        }
        id = format!("{id}{n}");
    }
    ids.insert(id.clone());

    let mut parameters = Vec::new();
    for (name, description) in &url.path_params {
        let mut p = json!({ "name": name, "in": "path", "required": true, "type": "string", "x-ms-url-encoding": "single" });
        set_description(&mut p, description.as_deref().unwrap_or(name));
        parameters.push(p);
    }
    let mut seen = HashSet::new();
    for (name, description, _disabled) in &url.query {
        // `name[]=a&name[]=b` is one parameter.
        if auth.is_some_and(|a| a.covers("query", name)) || !seen.insert(name.clone()) {
            continue;
        }
        let mut p = json!({ "name": name, "in": "query", "required": false, "type": "string" });
        set_description(&mut p, description.as_deref().unwrap_or(name));
        parameters.push(p);
    }
    for header in request
        .get("header")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = header.get("key").and_then(Value::as_str) else {
            continue;
        };
        if CONNECTION_HEADERS.contains(&name.to_ascii_lowercase().as_str())
            || auth.is_some_and(|a| a.covers("header", name))
        {
            continue;
        }
        let mut p = json!({ "name": name, "in": "header", "required": false, "type": "string" });
        set_description(
            &mut p,
            text(header.get("description")).as_deref().unwrap_or(name),
        );
        parameters.push(p);
    }
    let mut consumes = None;
    if let Some(body) = request.get("body").filter(|b| !b.is_null()) {
        if method == "get" {
            notes.push(format!(
                "request `{}` is a GET with a body; the body is dropped",
                item.name
            ));
        } else {
            consumes = body_parameters(body, &mut parameters);
        }
    }

    let mut operation = json!({
        "operationId": id,
        "summary": summary,
        "parameters": parameters,
        "responses": responses(item, notes),
    });
    if let Some(description) = text(request.get("description")) {
        operation["description"] = Value::String(description);
    } else {
        notes.push(format!(
            "request `{}` has no description: add one to operation `{}`",
            item.name,
            operation["operationId"].as_str().unwrap_or_default()
        ));
    }
    if let Some(consumes) = consumes {
        operation["consumes"] = json!([consumes]);
    }
    operation
}

fn set_description(parameter: &mut Value, description: &str) {
    parameter["description"] = Value::String(description.to_string());
    parameter["x-ms-summary"] = Value::String(description.chars().take(80).collect());
}

/// The request's name as a valid summary; from method and path when empty.
fn summary(name: &str, method: &str, segments: &[String]) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || c == '(' || c == ')' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let mut summary = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if summary.is_empty() {
        let words: Vec<&str> = segments
            .iter()
            .filter(|s| !s.starts_with('{'))
            .map(String::as_str)
            .collect();
        summary = format!("{} {}", method.to_uppercase(), words.join(" "))
            .trim()
            .to_string();
    }
    if summary.chars().count() > 80 {
        summary = summary
            .chars()
            .take(80)
            .collect::<String>()
            .trim_end()
            .to_string();
    }
    summary
}

/// The summary's words in PascalCase, letters and digits only.
fn operation_id(summary: &str) -> String {
    // Words are split at spaces only, so `name(s)` reads `Names`.
    let mut id: String = summary
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert_str(0, "Operation");
    }
    id
}

/// The body parameter(s); returns the content type when it is not JSON.
fn body_parameters(body: &Value, parameters: &mut Vec<Value>) -> Option<&'static str> {
    match body.get("mode").and_then(Value::as_str) {
        Some("raw") => {
            let raw = body.get("raw").and_then(Value::as_str).unwrap_or_default();
            if raw.trim().is_empty() {
                return None;
            }
            let schema = match parse_json_loosely(raw) {
                Some(value) => schema_of(&value),
                None => json!({ "type": "string" }),
            };
            parameters
                .push(json!({ "name": "body", "in": "body", "required": true, "schema": schema }));
            None
        }
        Some(mode @ ("urlencoded" | "formdata")) => {
            for field in body
                .get(mode)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = field.get("key").and_then(Value::as_str) else {
                    continue;
                };
                let kind = if field.get("type").and_then(Value::as_str) == Some("file") {
                    "file"
                } else {
                    "string"
                };
                let mut p =
                    json!({ "name": name, "in": "formData", "required": false, "type": kind });
                set_description(
                    &mut p,
                    text(field.get("description")).as_deref().unwrap_or(name),
                );
                parameters.push(p);
            }
            Some(if mode == "urlencoded" {
                "application/x-www-form-urlencoded"
            } else {
                "multipart/form-data"
            })
        }
        _ => None,
    }
}

/// JSON, tolerating Postman's unquoted `{{variable}}` placeholders.
fn parse_json_loosely(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok().or_else(|| {
        let replaced = substitute_all(raw, "null");
        serde_json::from_str(&replaced).ok()
    })
}

fn substitute_all(text: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}").map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(with);
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    out
}

/// A JSON Schema for an example value.
pub fn schema_of(value: &Value) -> Value {
    match value {
        Value::Null => json!({}),
        Value::Bool(_) => json!({ "type": "boolean" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "type": "integer" }),
        Value::Number(_) => json!({ "type": "number" }),
        Value::String(_) => json!({ "type": "string" }),
        Value::Array(items) => {
            json!({ "type": "array", "items": items.first().map_or_else(|| json!({}), schema_of) })
        }
        Value::Object(fields) => {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|(k, v)| (k.clone(), schema_of(v)))
                .collect();
            json!({ "type": "object", "properties": properties })
        }
    }
}

/// The responses: from the first saved example, else a bare 200.
fn responses(item: &Item<'_>, notes: &mut Vec<String>) -> Value {
    let Some(example) = item.responses.and_then(|r| r.first()) else {
        notes.push(format!(
            "request `{}` has no saved example response: add the response schema by hand",
            item.name
        ));
        return json!({ "200": { "description": "OK" } });
    };
    let code = example.get("code").and_then(Value::as_u64).unwrap_or(200);
    let description = example
        .get("status")
        .and_then(Value::as_str)
        .or_else(|| example.get("name").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .unwrap_or("OK");
    let mut response = json!({ "description": description });
    let body = example
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let content_type = example
        .get("header")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|h| {
            h.get("key")
                .and_then(Value::as_str)
                .is_some_and(|k| k.eq_ignore_ascii_case("content-type"))
        })
        .and_then(|h| h.get("value").and_then(Value::as_str))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let binary = !content_type.is_empty()
        && !content_type.contains("json")
        && !content_type.starts_with("text/")
        && !content_type.contains("xml");
    if binary {
        // Postman saves no bytes for audio, images and files.
        response["schema"] = json!({ "type": "string", "format": "binary" });
    } else if !body.trim().is_empty() {
        response["schema"] = match parse_json_loosely(body) {
            Some(value) => schema_of(&value),
            None => json!({ "type": "string" }),
        };
    }
    let mut responses = Map::new();
    responses.insert(code.to_string(), response);
    Value::Object(responses)
}

/// The collection's auth, as far as a definition can say it.
#[derive(Debug, Clone)]
enum Auth {
    ApiKey {
        name: String,
        location: String,
    },
    Basic,
    Bearer,
    OAuth2 {
        authorization_url: String,
        token_url: String,
        scopes: Vec<String>,
    },
}

impl Auth {
    fn parse(auth: &Value, notes: &mut Vec<String>) -> Option<Self> {
        let kind = auth.get("type").and_then(Value::as_str)?;
        // v2.1 writes each scheme's settings as a list of {key, value}; v2.0
        // as an object.
        let settings: HashMap<String, String> = match auth.get(kind) {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|e| {
                    let key = e.get("key").and_then(Value::as_str)?;
                    let value = match e.get("value")? {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Some((key.to_string(), value))
                })
                .collect(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect(),
            _ => HashMap::new(),
        };
        let get = |k: &str| settings.get(k).cloned().unwrap_or_default();
        match kind {
            "apikey" => Some(Auth::ApiKey {
                name: settings
                    .get("key")
                    .cloned()
                    .unwrap_or_else(|| "api_key".into()),
                location: if get("in") == "query" {
                    "query".into()
                } else {
                    "header".into()
                },
            }),
            "basic" => Some(Auth::Basic),
            "bearer" => Some(Auth::Bearer),
            "oauth2" => Some(Auth::OAuth2 {
                authorization_url: get("authUrl"),
                token_url: get("accessTokenUrl"),
                scopes: get("scope")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            }),
            "noauth" => None,
            other => {
                notes.push(format!("auth type `{other}` has no OpenAPI 2.0 form; set up the connection's security by hand"));
                None
            }
        }
    }

    /// Whether a header or query entry is this auth's own.
    fn covers(&self, location: &str, name: &str) -> bool {
        match self {
            Auth::ApiKey {
                name: key,
                location: at,
            } => at == location && key.eq_ignore_ascii_case(name),
            _ => false,
        }
    }

    fn apply(&self, definition: &mut Value, parameters: &mut Map<String, Value>) {
        let secure = |name: &str, display: &str| {
            json!({ "type": "securestring", "uiDefinition": {
                "displayName": display, "description": format!("The {display} for this API"),
                "tooltip": format!("Provide your {display}"),
                "constraints": { "tabIndex": 2, "clearText": false, "required": "true" } } })
            .as_object()
            .map(|o| (name.to_string(), Value::Object(o.clone())))
        };
        let (name, scheme) = match self {
            Auth::ApiKey { name, location } => {
                parameters.extend(secure("api_key", "API key"));
                (
                    "api_key",
                    json!({ "type": "apiKey", "in": location, "name": name }),
                )
            }
            Auth::Bearer => {
                parameters.extend(secure("api_key", "token (with the Bearer prefix)"));
                (
                    "api_key",
                    json!({ "type": "apiKey", "in": "header", "name": "Authorization" }),
                )
            }
            Auth::Basic => {
                parameters.extend(secure("username", "user name"));
                parameters.extend(secure("password", "password"));
                ("basic_auth", json!({ "type": "basic" }))
            }
            Auth::OAuth2 {
                authorization_url,
                token_url,
                scopes,
            } => {
                parameters.insert(
                    "token".into(),
                    json!({ "type": "oauthSetting", "oAuthSettings": {
                        "identityProvider": "oauth2", "clientId": "", "scopes": scopes,
                        "redirectMode": "GlobalPerConnector",
                        "customParameters": {
                            "authorizationUrl": { "value": authorization_url },
                            "tokenUrl": { "value": token_url },
                            "refreshUrl": { "value": token_url } } } }),
                );
                let scope_map: Map<String, Value> = scopes
                    .iter()
                    .map(|s| (s.clone(), Value::String(s.clone())))
                    .collect();
                (
                    "oauth2_auth",
                    json!({ "type": "oauth2", "flow": "accessCode",
                    "authorizationUrl": authorization_url, "tokenUrl": token_url, "scopes": scope_map }),
                )
            }
        };
        let mut schemes = Map::new();
        schemes.insert(name.to_string(), scheme);
        definition["securityDefinitions"] = Value::Object(schemes);
        let mut requirement = Map::new();
        requirement.insert(name.to_string(), json!([]));
        definition["security"] = json!([requirement]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_lose_forbidden_characters_and_ids_are_pascal_case() {
        let s = summary("Get envelope - by ID (v2)!", "get", &[]);
        assert_eq!(s, "Get envelope by ID (v2)");
        assert_eq!(operation_id(&s), "GetEnvelopeByIDV2");
        assert_eq!(
            operation_id("Check name(s) nationality"),
            "CheckNamesNationality"
        );
        assert_eq!(operation_id("2 things"), "Operation2Things");
    }

    #[test]
    fn schemas_are_inferred_from_examples() {
        let schema = schema_of(&json!({"a": 1, "b": [{"c": "x", "d": 1.5}], "e": true}));
        assert_eq!(schema["properties"]["a"]["type"], "integer");
        assert_eq!(
            schema["properties"]["b"]["items"]["properties"]["d"]["type"],
            "number"
        );
        assert_eq!(schema["properties"]["e"]["type"], "boolean");
    }

    #[test]
    fn unquoted_variables_in_json_bodies_are_tolerated() {
        assert_eq!(
            parse_json_loosely(r#"{"n": {{count}}}"#),
            Some(json!({"n": null}))
        );
    }
}
