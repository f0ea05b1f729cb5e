//! The definition's checks: the swagger version, and each operation's id,
//! texts, responses and parameters, as certification reviews them.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{DEFINITION_FILE, Findings, MAX_SUMMARY_CHARS, METHODS, rule};
use crate::jsonpath::{self, ROOT};

/// The operation checks; returns the operation ids found.
pub(super) fn check_definition(def: &Value, out: &mut Findings) -> HashSet<String> {
    let mut ids = HashSet::new();
    match def.get("swagger") {
        Some(Value::String(v)) if v == "2.0" => {}
        other => {
            out.push(
                rule::SWAGGER_VERSION,
                DEFINITION_FILE,
                jsonpath::key(ROOT, "swagger"),
                match other {
                    Some(v) => format!("`swagger` is {v}; sluice and the platform read OpenAPI 2.0 (\"2.0\")"),
                    None => "no `swagger` version; the definition must be OpenAPI 2.0 (\"swagger\": \"2.0\")".into(),
                },
            );
            return ids;
        }
    }
    check_oauth_urls(def, out);
    let shared_parameters = def.get("parameters").and_then(Value::as_object);
    let shared_responses = def.get("responses").and_then(Value::as_object);
    let Some(paths) = def.get("paths").and_then(Value::as_object) else {
        return ids;
    };
    for (path, item) in paths {
        let item_path = jsonpath::keys(ROOT, &["paths", path]);
        let Some(item) = item.as_object() else {
            continue;
        };
        let path_level = item.get("parameters").map(|p| (p, jsonpath::key(&item_path, "parameters")));
        for (method, op) in item {
            if !METHODS.contains(&method.to_ascii_lowercase().as_str()) {
                continue;
            }
            let op_path = jsonpath::key(&item_path, method);
            let Some(op) = op.as_object() else { continue };
            match op.get("operationId").and_then(Value::as_str) {
                None => out.push(
                    rule::OPERATION_ID_MISSING,
                    DEFINITION_FILE,
                    op_path.clone(),
                    format!("{} {path} has no operationId", method.to_uppercase()),
                ),
                Some(id) => {
                    let id_path = jsonpath::key(&op_path, "operationId");
                    let alphanumeric: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
                    if alphanumeric != id {
                        out.push(
                            rule::OPERATION_ID_FORMAT,
                            DEFINITION_FILE,
                            id_path.clone(),
                            format!("operationId `{id}` is not alphanumeric; use `{alphanumeric}`"),
                        );
                    }
                    if !ids.insert(id.to_string()) {
                        out.push(
                            rule::OPERATION_ID_DUPLICATE,
                            DEFINITION_FILE,
                            id_path,
                            format!("operationId `{id}` is used by another operation too"),
                        );
                    }
                }
            }
            check_texts(op, &op_path, out);
            check_responses(op, &op_path, shared_responses, out);
            let own = op.get("parameters").map(|p| (p, jsonpath::key(&op_path, "parameters")));
            let parameters = collect_parameters(path_level.iter().chain(own.iter()), shared_parameters, out);
            check_parameters(method, path, &op_path, &parameters, out);
        }
    }
    ids
}

/// An OAuth 2.0 security definition names the URLs its flow needs: the
/// authorization URL for `accessCode` and `implicit`, the token URL for
/// every flow but `implicit`.
fn check_oauth_urls(def: &Value, out: &mut Findings) {
    let Some(schemes) = def.get("securityDefinitions").and_then(Value::as_object) else { return };
    for (name, scheme) in schemes {
        if scheme.get("type").and_then(Value::as_str) != Some("oauth2") {
            continue;
        }
        let flow = scheme.get("flow").and_then(Value::as_str).unwrap_or("accessCode");
        let mut needed = Vec::new();
        if matches!(flow, "accessCode" | "implicit") {
            needed.push("authorizationUrl");
        }
        if flow != "implicit" {
            needed.push("tokenUrl");
        }
        for key in needed {
            let given = scheme.get(key).and_then(Value::as_str).is_some_and(|url| !url.trim().is_empty());
            if !given {
                out.push(
                    rule::OAUTH_URL_MISSING,
                    DEFINITION_FILE,
                    jsonpath::keys(ROOT, &["securityDefinitions", name, key]),
                    format!("OAuth 2.0 security definition `{name}` (flow `{flow}`) has no {key}; a connection cannot sign in without it"),
                );
            }
        }
    }
}

pub(super) fn check_texts(op: &Map<String, Value>, op_path: &str, out: &mut Findings) {
    let text = |key: &str| op.get(key).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    match text("summary") {
        None => out.push(
            rule::SUMMARY_MISSING,
            DEFINITION_FILE,
            op_path.to_string(),
            "the operation has no summary (it is the action's name in the designer)".into(),
        ),
        Some(summary) => {
            let path = jsonpath::key(op_path, "summary");
            let length = summary.chars().count();
            if length > MAX_SUMMARY_CHARS {
                out.push(
                    rule::SUMMARY_TOO_LONG,
                    DEFINITION_FILE,
                    path.clone(),
                    format!("the summary is {length} characters; at most {MAX_SUMMARY_CHARS}"),
                );
            }
            let mut bad: Vec<char> =
                summary.chars().filter(|c| !(c.is_alphanumeric() || *c == ' ' || *c == '(' || *c == ')')).collect();
            bad.dedup();
            if !bad.is_empty() {
                let shown: Vec<String> = bad.iter().map(|c| format!("`{c}`")).collect();
                out.push(
                    rule::SUMMARY_CHARACTERS,
                    DEFINITION_FILE,
                    path,
                    format!(
                        "the summary `{summary}` has {}; only letters, digits, spaces and parentheses",
                        shown.join(", ")
                    ),
                );
            }
        }
    }
    if text("description").is_none() {
        out.push(
            rule::DESCRIPTION_MISSING,
            DEFINITION_FILE,
            op_path.to_string(),
            "the operation has no description".into(),
        );
    }
}

fn check_responses(op: &Map<String, Value>, op_path: &str, shared: Option<&Map<String, Value>>, out: &mut Findings) {
    let responses_path = jsonpath::key(op_path, "responses");
    let responses = op.get("responses").and_then(Value::as_object);
    let resolve = |response: &'_ Value| -> Option<Value> {
        match response.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference.strip_prefix("#/responses/").and_then(|name| shared?.get(name)).cloned(),
            None => Some(response.clone()),
        }
    };
    let mut success = Vec::new();
    for (status, response) in responses.into_iter().flatten() {
        let Some(response) = resolve(response) else {
            continue;
        };
        let has_schema = response.get("schema").is_some();
        if status == "default" && has_schema {
            out.push(
                rule::DEFAULT_RESPONSE_SCHEMA,
                DEFINITION_FILE,
                jsonpath::keys(&responses_path, &["default", "schema"]),
                "the `default` response has a schema; give it to a 2xx response".into(),
            );
        }
        if status.len() == 3 && status.starts_with('2') {
            success.push((status.as_str(), has_schema));
        }
    }
    let no_content_only = !success.is_empty() && success.iter().all(|(s, _)| *s == "204");
    if !no_content_only && !success.iter().any(|(_, schema)| *schema) {
        let message = if success.is_empty() {
            "the operation has no success (2xx) response".to_string()
        } else {
            let statuses: Vec<&str> = success.iter().map(|(s, _)| *s).collect();
            format!(
                "no success response has a schema (responses {}); describe what the operation returns",
                statuses.join(", ")
            )
        };
        let path = if responses.is_some() { responses_path } else { op_path.to_string() };
        out.push(rule::RESPONSE_SCHEMA_MISSING, DEFINITION_FILE, path, message);
    }
}

/// One parameter, references resolved, with where it is written.
struct Param {
    value: Value,
    path: String,
}

impl Param {
    fn text(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }
}

/// Path-item then operation parameters, references resolved, the
/// operation's replacing the path item's of the same name and location.
fn collect_parameters<'a>(
    lists: impl Iterator<Item = &'a (&'a Value, String)>,
    shared: Option<&Map<String, Value>>,
    out: &mut Findings,
) -> Vec<Param> {
    let mut params: Vec<Param> = Vec::new();
    for (list, list_path) in lists {
        for (index, item) in list.as_array().into_iter().flatten().enumerate() {
            let path = jsonpath::index(list_path, index);
            let value = match item.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let target = reference
                        .strip_prefix("#/parameters/")
                        .map(|n| n.replace("~1", "/").replace("~0", "~"))
                        .and_then(|n| shared?.get(&n));
                    match target {
                        Some(target) => target.clone(),
                        None => {
                            out.push(
                                rule::PARAMETER_REF_UNRESOLVED,
                                DEFINITION_FILE,
                                jsonpath::key(&path, "$ref"),
                                format!("`{reference}` does not name an entry of the top-level `parameters`"),
                            );
                            continue;
                        }
                    }
                }
                None => item.clone(),
            };
            let param = Param { value, path };
            let same = |p: &Param| p.text("name") == param.text("name") && p.text("in") == param.text("in");
            match params.iter_mut().find(|p| same(p)) {
                Some(slot) => *slot = param,
                None => params.push(param),
            }
        }
    }
    params
}

fn check_parameters(method: &str, path: &str, op_path: &str, params: &[Param], out: &mut Findings) {
    let placeholders: Vec<&str> =
        path.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect();
    for param in params {
        let name = param.text("name").unwrap_or_default();
        let location = param.text("in").unwrap_or_default();
        if name.eq_ignore_ascii_case("connectionId") {
            out.push(
                rule::PARAMETER_CONNECTION_ID,
                DEFINITION_FILE,
                param.path.clone(),
                format!("parameter `{name}`: the platform reserves the name connectionId"),
            );
        }
        if method.eq_ignore_ascii_case("get") && matches!(location, "body" | "formData") {
            out.push(
                rule::GET_WITH_BODY,
                DEFINITION_FILE,
                param.path.clone(),
                format!("GET {path} has a {location} parameter `{name}`; a GET has no body"),
            );
        }
        if location == "path" {
            if !placeholders.contains(&name) {
                out.push(
                    rule::PATH_PARAMETER_UNUSED,
                    DEFINITION_FILE,
                    param.path.clone(),
                    format!("path parameter `{name}` does not appear as `{{{name}}}` in `{path}`"),
                );
            }
            if param.value.get("x-ms-url-encoding").is_none() {
                out.push(
                    rule::PATH_PARAMETER_ENCODING,
                    DEFINITION_FILE,
                    param.path.clone(),
                    format!("path parameter `{name}` has no x-ms-url-encoding; add \"x-ms-url-encoding\": \"single\""),
                );
            }
        }
    }
    for name in placeholders {
        if !params.iter().any(|p| p.text("in") == Some("path") && p.text("name") == Some(name)) {
            out.push(
                rule::PATH_PARAMETER_UNDECLARED,
                DEFINITION_FILE,
                op_path.to_string(),
                format!("`{{{name}}}` in `{path}` has no path parameter `{name}`"),
            );
        }
    }
}
