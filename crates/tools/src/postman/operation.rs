//! One Postman request as one operation: its summary and operationId, its
//! parameters, body and responses.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::url::ParsedUrl;
use super::{Auth, CONNECTION_HEADERS, Item, text};

pub(super) fn operation(
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
        let mut p =
            json!({ "name": name, "in": "path", "required": true, "type": "string", "x-ms-url-encoding": "single" });
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
    for header in request.get("header").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = header.get("key").and_then(Value::as_str) else {
            continue;
        };
        // An empty key, or one no HTTP request can carry, is no parameter.
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            notes.push(format!("request `{}`: header `{name}` is not a usable header name; skipped", item.name));
            continue;
        }
        if CONNECTION_HEADERS.contains(&name.to_ascii_lowercase().as_str())
            || auth.is_some_and(|a| a.covers("header", name))
        {
            continue;
        }
        let mut p = json!({ "name": name, "in": "header", "required": false, "type": "string" });
        set_description(&mut p, text(header.get("description")).as_deref().unwrap_or(name));
        parameters.push(p);
    }
    let mut consumes = None;
    if let Some(body) = request.get("body").filter(|b| !b.is_null()) {
        if method == "get" {
            notes.push(format!("request `{}` is a GET with a body; the body is dropped", item.name));
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
        // Made from the name and the folder, so that the package validates;
        // the note says it is a guess.
        let derived = match &item.folder {
            Some(folder) => format!("{summary} ({folder})."),
            None => format!("{summary}."),
        };
        notes.push(format!(
            "request `{}` has no description: operation `{}` says \"{derived}\"; write a better one",
            item.name,
            operation["operationId"].as_str().unwrap_or_default()
        ));
        operation["description"] = Value::String(derived);
    }
    if let Some(consumes) = consumes {
        operation["consumes"] = json!([consumes]);
    }
    operation
}

pub(super) fn set_description(parameter: &mut Value, description: &str) {
    parameter["description"] = Value::String(description.to_string());
    parameter["x-ms-summary"] = Value::String(description.chars().take(80).collect());
}

/// The request's name as a valid summary; from method and path when empty.
pub(super) fn summary(name: &str, method: &str, segments: &[String]) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_alphanumeric() || c == ' ' || c == '(' || c == ')' { c } else { ' ' }).collect();
    let mut summary = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if summary.is_empty() {
        let words: Vec<&str> = segments.iter().filter(|s| !s.starts_with('{')).map(String::as_str).collect();
        summary = format!("{} {}", method.to_uppercase(), words.join(" ")).trim().to_string();
    }
    if summary.chars().count() > 80 {
        summary = summary.chars().take(80).collect::<String>().trim_end().to_string();
    }
    summary
}

/// The summary's words in PascalCase, letters and digits only.
pub(super) fn operation_id(summary: &str) -> String {
    // Words are split at spaces only, so `name(s)` reads `Names`.
    let mut id: String = summary
        .split_whitespace()
        .map(|w| w.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert_str(0, "Operation");
    }
    id
}

/// The body parameter(s); returns the content type when it is not JSON.
pub(super) fn body_parameters(body: &Value, parameters: &mut Vec<Value>) -> Option<&'static str> {
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
            parameters.push(json!({ "name": "body", "in": "body", "required": true, "schema": schema }));
            None
        }
        Some(mode @ ("urlencoded" | "formdata")) => {
            for field in body.get(mode).and_then(Value::as_array).into_iter().flatten() {
                let Some(name) = field.get("key").and_then(Value::as_str) else {
                    continue;
                };
                let kind = if field.get("type").and_then(Value::as_str) == Some("file") { "file" } else { "string" };
                let mut p = json!({ "name": name, "in": "formData", "required": false, "type": kind });
                set_description(&mut p, text(field.get("description")).as_deref().unwrap_or(name));
                parameters.push(p);
            }
            Some(if mode == "urlencoded" { "application/x-www-form-urlencoded" } else { "multipart/form-data" })
        }
        _ => None,
    }
}

/// JSON, tolerating Postman's unquoted `{{variable}}` placeholders.
pub(super) fn parse_json_loosely(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok().or_else(|| {
        let replaced = substitute_all(raw, "null");
        serde_json::from_str(&replaced).ok()
    })
}

pub(super) fn substitute_all(text: &str, with: &str) -> String {
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
            let properties: Map<String, Value> = fields.iter().map(|(k, v)| (k.clone(), schema_of(v))).collect();
            json!({ "type": "object", "properties": properties })
        }
    }
}

/// The responses: from the first saved example, else a bare 200.
pub(super) fn responses(item: &Item<'_>, notes: &mut Vec<String>) -> Value {
    // A success example says what the operation answers; an error example
    // only when there is nothing better.
    let success = |r: &&Value| r.get("code").and_then(Value::as_u64).is_some_and(|c| (200..300).contains(&c));
    let examples = item.responses.map(Vec::as_slice).unwrap_or_default();
    let Some(example) = examples.iter().find(success).or_else(|| examples.first()) else {
        notes.push(format!(
            "request `{}` has no saved example response: its 200 answer is guessed as any JSON object; give its real schema",
            item.name
        ));
        return json!({ "200": { "description": "OK", "schema": { "type": "object" } } });
    };
    let code = example.get("code").and_then(Value::as_u64).unwrap_or(200);
    let description = example
        .get("status")
        .and_then(Value::as_str)
        .or_else(|| example.get("name").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .unwrap_or("OK");
    let mut response = json!({ "description": description });
    let body = example.get("body").and_then(Value::as_str).unwrap_or_default();
    let content_type = example
        .get("header")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|h| h.get("key").and_then(Value::as_str).is_some_and(|k| k.eq_ignore_ascii_case("content-type")))
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
