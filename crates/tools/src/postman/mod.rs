//! `sluice import postman`: a Postman collection (v2.0 or v2.1) turned into
//! an `apiDefinition.swagger.json`, the way the platform's import does:
//!
//! - each request becomes an operation: its name the summary (characters a
//!   summary may not have become spaces; at most 80), its description kept,
//!   its operationId the name's words in PascalCase (made unique);
//! - `host` and `schemes` are those most requests use (variables such as
//!   `{{baseUrl}}` resolved: the collection's, an environment's, `--var`s);
//!   a request on another host is left out with a note, never folded onto
//!   this one; `basePath` is the longest literal path prefix the requests
//!   share;
//! - path variables (`:id`, or an undefined `{{id}}` in the path) become
//!   path parameters with `x-ms-url-encoding: single`; query entries become
//!   query parameters; other headers become header parameters; a JSON body
//!   becomes a body parameter with a schema inferred from it, form bodies
//!   `formData` parameters (a GET's body is dropped);
//! - a saved example response gives the response (a success one before an
//!   error one): its status, and a schema inferred from its JSON body;
//!   without one, 200 with any JSON object, noted as a guess; a request
//!   without a description gets one made from its name and folder, noted;
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
const CONNECTION_HEADERS: &[&str] =
    &["authorization", "content-type", "accept", "content-length", "host", "cookie", "user-agent"];

/// Imports a collection's JSON text with its own variables only.
pub fn import(bytes: &[u8]) -> Result<Imported, PostmanError> {
    import_with(bytes, &[])
}

/// The variables of a Postman environment export (`{"values": [{"key",
/// "value", "enabled"}]}`), as Newman's `-e` reads them; disabled ones are
/// left out.
pub fn environment_variables(bytes: &[u8]) -> Result<Vec<(String, String)>, PostmanError> {
    let environment: Value = serde_json::from_slice(bytes)?;
    let values = environment
        .get("values")
        .and_then(Value::as_array)
        .ok_or_else(|| PostmanError::NotACollection("not a Postman environment: it has no `values` list".into()))?;
    Ok(values
        .iter()
        .filter(|v| v.get("enabled").and_then(Value::as_bool).unwrap_or(true))
        .filter_map(|v| {
            let key = v.get("key").and_then(Value::as_str)?;
            let value = match v.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            Some((key.to_string(), value))
        })
        .collect())
}

/// Imports a collection's JSON text, with `overrides` (an environment's
/// variables, then `--var`s; later ones win) over the collection's own.
pub fn import_with(bytes: &[u8], overrides: &[(String, String)]) -> Result<Imported, PostmanError> {
    let collection: Value = serde_json::from_slice(bytes)?;
    let info = collection.get("info").and_then(Value::as_object).ok_or_else(|| not_collection(&collection))?;
    let schema = info.get("schema").and_then(Value::as_str).unwrap_or_default();
    if !(schema.contains("v2.0.") || schema.contains("v2.1.")) {
        return Err(PostmanError::NotACollection(format!(
            "`info.schema` is `{schema}`; export the collection as v2.1 (or v2.0)"
        )));
    }
    let items = collection
        .get("item")
        .and_then(Value::as_array)
        .ok_or_else(|| PostmanError::NotACollection("no `item` list".into()))?;
    let mut variables = variables(collection.get("variable"));
    for (key, value) in overrides {
        variables.insert(key.clone(), json!({ "key": key, "value": value }));
    }
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
    // The backend is the host most requests use, not the first request's
    // (often a token exchange on the identity provider's host).
    let mut counts: Vec<((String, String), usize)> = Vec::new();
    for url in &parsed {
        let key = (url.scheme.clone(), url.host.clone());
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    let most = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let ((scheme, host), _) = counts.iter().find(|(_, n)| *n == most).cloned().unwrap_or_default();
    // A request on another host is never folded onto this one, where it
    // would call the wrong backend: it is left out, and said so.
    let mut kept_requests = Vec::new();
    let mut kept_urls = Vec::new();
    for (request, url) in requests.into_iter().zip(parsed) {
        if url.host == host && url.scheme == scheme {
            kept_requests.push(request);
            kept_urls.push(url);
        } else {
            notes.push(format!(
                "request `{}` is on {}://{}, not the collection's backend {scheme}://{host} ({most} of the requests); it is left out: import it on its own",
                request.name, url.scheme, url.host
            ));
        }
    }
    let (requests, parsed) = (kept_requests, kept_urls);
    let base = base_path(&parsed);

    let mut paths: Map<String, Value> = Map::new();
    let mut ids: HashSet<String> = HashSet::new();
    for (request, url) in requests.iter().zip(&parsed) {
        let method = request.request.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_lowercase();
        let rest = &url.segments[base.len()..];
        let slash = if url.trailing_slash && !rest.is_empty() { "/" } else { "" };
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
    Ok(Imported { definition, properties, notes })
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
    /// The folder it is in, if any (the innermost).
    folder: Option<String>,
    request: &'a Value,
    responses: Option<&'a Vec<Value>>,
}

fn collect_requests<'a>(items: &'a [Value], out: &mut Vec<Item<'a>>) {
    collect_in(items, None, out);
}

fn collect_in<'a>(items: &'a [Value], folder: Option<&str>, out: &mut Vec<Item<'a>>) {
    for item in items {
        let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
        if let Some(children) = item.get("item").and_then(Value::as_array) {
            collect_in(children, Some(name).filter(|n| !n.is_empty()), out);
        } else if let Some(request) = item.get("request") {
            out.push(Item {
                name: name.to_string(),
                folder: folder.map(str::to_string),
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
            let key = v.get("key").or_else(|| v.get("id")).and_then(Value::as_str)?;
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

mod auth;
mod operation;
mod url;

use auth::Auth;
use operation::operation;
pub use operation::schema_of;
use url::{ParsedUrl, base_path};

#[cfg(test)]
mod tests {
    use super::*;
    use operation::{operation_id, parse_json_loosely, summary};

    #[test]
    fn summaries_lose_forbidden_characters_and_ids_are_pascal_case() {
        let s = summary("Get envelope - by ID (v2)!", "get", &[]);
        assert_eq!(s, "Get envelope by ID (v2)");
        assert_eq!(operation_id(&s), "GetEnvelopeByIDV2");
        assert_eq!(operation_id("Check name(s) nationality"), "CheckNamesNationality");
        assert_eq!(operation_id("2 things"), "Operation2Things");
    }

    #[test]
    fn schemas_are_inferred_from_examples() {
        let schema = schema_of(&json!({"a": 1, "b": [{"c": "x", "d": 1.5}], "e": true}));
        assert_eq!(schema["properties"]["a"]["type"], "integer");
        assert_eq!(schema["properties"]["b"]["items"]["properties"]["d"]["type"], "number");
        assert_eq!(schema["properties"]["e"]["type"], "boolean");
    }

    #[test]
    fn unquoted_variables_in_json_bodies_are_tolerated() {
        assert_eq!(parse_json_loosely(r#"{"n": {{count}}}"#), Some(json!({"n": null})));
    }

    fn collection(raw_urls: &[&str]) -> Vec<u8> {
        let items: Vec<Value> = raw_urls
            .iter()
            .enumerate()
            .map(|(i, raw)| json!({"name": format!("Request {i}"), "request": {"method": "GET", "url": {"raw": raw}}}))
            .collect();
        let schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";
        serde_json::to_vec(&json!({"info": {"name": "T", "schema": schema}, "item": items})).unwrap()
    }

    #[test]
    fn variables_inside_a_segment_become_parameters() {
        let imported = import(&collection(&["https://h.example/api/v{{version}}/files/{{name}}.json"])).unwrap();
        // A parameter never goes into basePath.
        assert_eq!(imported.definition["basePath"], "/api");
        let paths = imported.definition["paths"].as_object().unwrap();
        assert_eq!(paths.keys().collect::<Vec<_>>(), ["/v{version}/files/{name}.json"]);
    }

    #[test]
    fn mid_segment_variables_and_openapi_braces_become_parameters() {
        let raw =
            ["https://h.example/api/transactions/key={{transaction-key}}", "https://h.example/api/streams/{id}/events"];
        let imported = import(&collection(&raw)).unwrap();
        let paths = imported.definition["paths"].as_object().unwrap();
        assert_eq!(paths.keys().collect::<Vec<_>>(), ["/transactions/key={transaction-key}", "/streams/{id}/events"]);
        let streams = &paths["/streams/{id}/events"]["get"]["parameters"][0];
        assert_eq!((streams["name"].as_str(), streams["in"].as_str()), (Some("id"), Some("path")));
        let definition = serde_json::to_vec(&imported.definition).unwrap();
        let definition = sluice_package::Definition::parse(&definition, &mut Vec::new()).unwrap();
        for operation in &definition.operations {
            assert!(definition.route(&operation.method, &operation.path).is_some(), "{}", operation.path);
        }
    }

    #[test]
    fn a_segment_no_route_can_match_is_refused_naming_it() {
        // Found by the `postman` fuzz target: `{{rest-api` (unclosed) was
        // written into the definition as a path no call could reach.
        for (raw, problem) in [
            ("https://h.example/{{rest-api/x", "unclosed"),
            ("https://h.example/a}b", "not part of"),
            ("https://h.example/{{a}}{{b}}", "side by side"),
            ("https://h.example/{a}{b}", "side by side"),
            ("https://h.example/{id/x", "unclosed"),
            ("https://h.example/:", "not a parameter name"),
        ] {
            let error = import(&collection(&[raw])).unwrap_err().to_string();
            assert!(error.contains(problem), "{raw}: {error}");
        }
    }
}
