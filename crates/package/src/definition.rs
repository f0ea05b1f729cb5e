//! The OpenAPI 2.0 definition (`apiDefinition.swagger.json`) parsed into the
//! typed model the gateway works with: host, base path, schemes, operations
//! with their tags and parameters (path-level parameters merged,
//! `#/parameters/...` references resolved) and security schemes. A body
//! parameter's schema is kept as written, with the file's `definitions`;
//! [`Definition::resolved_schema`] resolves its references, to a bounded
//! depth, for the one caller that asks (the console's form), so that loading
//! a package copies no definition.
//!
//! Only what sluice acts on is modelled; the file's other fields and `x-ms-*`
//! extensions are read past. Problems that leave the rest usable (an
//! operation without `operationId`, an unresolvable `$ref`, an unknown
//! security type) are warnings, not errors.

use http::Method;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::template::PathTemplate;

/// The parsed definition of a connector's API.
#[derive(Debug, Clone)]
pub struct Definition {
    /// `info.title`, the connector's display name, when the file has one.
    pub title: Option<String>,
    /// `host` (with port, if any), e.g. `api.annature.com.au`; `None` when
    /// the definition has none.
    pub host: Option<String>,
    /// `basePath`, starting with `/`; `/` when absent.
    pub base_path: String,
    /// `schemes`, as written (usually `["https"]`); may be empty.
    pub schemes: Vec<String>,
    /// Operations in the order the file lists them.
    pub operations: Vec<Operation>,
    /// `securityDefinitions`, keyed by definition name.
    pub security_definitions: IndexMap<String, SecurityScheme>,
    /// `definitions`, as written, for [`Definition::resolved_schema`].
    pub definitions: IndexMap<String, Value>,
    /// `x-ms-capabilities.testConnection.operationId`: the operation that
    /// tells whether a connection's credentials work; a success of it
    /// clears an unauthenticated status. `None` when the file names none
    /// (or one it does not define, which is a load warning).
    pub test_connection: Option<String>,
    /// `{scheme}://{host}` parsed, for [`Definition::backend_url`]: parsing
    /// the host (IDNA and all) is most of what parsing a URL costs, and the
    /// host is the same for every call.
    pub(crate) origin: std::sync::OnceLock<Option<(String, url::Url)>>,
}

/// One operation (a method on a path).
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`.
    pub id: String,
    /// The HTTP method.
    pub method: Method,
    /// The path template relative to `basePath`, e.g. `/envelopes/{id}/void`.
    pub path: String,
    /// Parameters: the path item's merged with the operation's own (the
    /// operation's win on the same name and location), references resolved.
    pub parameters: Vec<Parameter>,
    /// `summary`.
    pub summary: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `x-ms-visibility`.
    pub visibility: Visibility,
    /// `tags`, in file order; empty when absent.
    pub tags: Vec<String>,
    /// The compiled path template; `None` when it cannot be routed.
    pub(crate) template: Option<PathTemplate>,
}

impl Operation {
    /// Whether the operation is hidden from flow makers (`x-ms-visibility:
    /// internal`), as webhook plumbing and dynamic-value helpers are.
    pub fn is_internal(&self) -> bool {
        self.visibility == Visibility::Internal
    }

    /// The parameters in one location.
    pub fn parameters_in(&self, location: ParameterLocation) -> impl Iterator<Item = &Parameter> {
        self.parameters.iter().filter(move |p| p.location == location)
    }
}

/// `x-ms-visibility` of an operation or parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// No `x-ms-visibility` (or `none`).
    #[default]
    Default,
    /// `important`: shown first.
    Important,
    /// `advanced`: shown under "advanced options".
    Advanced,
    /// `internal`: hidden from makers.
    Internal,
}

impl Visibility {
    /// The visibility as the platform writes it (`none` aside): `default`,
    /// `important`, `advanced` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Important => "important",
            Self::Advanced => "advanced",
            Self::Internal => "internal",
        }
    }

    fn parse(value: Option<&Value>) -> Self {
        match value.and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("important") => Self::Important,
            Some("advanced") => Self::Advanced,
            Some("internal") => Self::Internal,
            _ => Self::Default,
        }
    }
}

/// One operation parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// `name`.
    pub name: String,
    /// `in`.
    pub location: ParameterLocation,
    /// `required` (always true for path parameters).
    pub required: bool,
    /// `default`, if any.
    pub default: Option<Value>,
    /// `x-ms-url-encoding` (`single` or `double`), if any.
    pub url_encoding: Option<String>,
    /// `type` (`string`, `integer`, ...); `None` for body parameters, which
    /// have a `schema` instead.
    pub kind: Option<String>,
    /// `x-ms-visibility`.
    pub visibility: Visibility,
    /// `x-ms-summary`, the name a flow maker sees.
    pub summary: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `enum`: the values it may take, as written; empty when any.
    pub enum_values: Vec<Value>,
    /// For a body parameter, its `schema` as written
    /// ([`Definition::resolved_schema`] resolves it); `None` for other
    /// parameters.
    pub schema: Option<Value>,
}

/// How many `$ref`s deep a body schema is resolved: a recursive definition
/// stops here, its `$ref` kept.
pub const MAX_SCHEMA_DEPTH: usize = 8;

/// How many `$ref`s one body schema resolves in all, so that definitions
/// that each name several others cannot grow it without bound.
pub const MAX_SCHEMA_REFERENCES: usize = 256;

/// Where a parameter goes (`in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterLocation {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// The request body.
    Body,
    /// A form field of the body.
    FormData,
}

impl ParameterLocation {
    /// The location as OpenAPI writes it (`path`, `query`, `header`, `body`,
    /// `formData`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
            Self::Body => "body",
            Self::FormData => "formData",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "path" => Self::Path,
            "query" => Self::Query,
            "header" => Self::Header,
            "body" => Self::Body,
            "formData" => Self::FormData,
            _ => return None,
        })
    }
}

/// One entry of `securityDefinitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityScheme {
    /// `type: apiKey`: a key sent in a header or the query.
    ApiKey {
        /// The header or query parameter name.
        name: String,
        /// Where the key goes.
        location: SecurityLocation,
    },
    /// `type: basic`: HTTP basic authentication.
    Basic,
    /// `type: oauth2`.
    OAuth2 {
        /// `flow` (`accessCode`, `implicit`, `password`, `application`).
        flow: String,
        /// `authorizationUrl`, if any.
        authorization_url: Option<String>,
        /// `tokenUrl`, if any.
        token_url: Option<String>,
        /// The scope names of `scopes`.
        scopes: Vec<String>,
    },
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
}

/// The top level of the file, as far as sluice reads it.
#[derive(Deserialize)]
struct RawDefinition {
    swagger: Option<Value>,
    #[serde(default)]
    info: Option<Value>,
    host: Option<String>,
    #[serde(rename = "basePath")]
    base_path: Option<String>,
    #[serde(default)]
    schemes: Vec<String>,
    #[serde(default)]
    paths: IndexMap<String, IndexMap<String, Value>>,
    #[serde(default)]
    parameters: IndexMap<String, Value>,
    #[serde(default)]
    definitions: IndexMap<String, Value>,
    #[serde(default, rename = "securityDefinitions")]
    security_definitions: IndexMap<String, Value>,
    #[serde(default, rename = "x-ms-capabilities")]
    capabilities: Option<Value>,
}

const METHODS: &[(&str, Method)] = &[
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("options", Method::OPTIONS),
    ("head", Method::HEAD),
    ("patch", Method::PATCH),
];

impl Definition {
    /// Parses an `apiDefinition.swagger.json` file's bytes. The error is the
    /// reason the file is unusable (the caller adds folder and file);
    /// `warnings` gets what was skipped.
    pub fn parse(bytes: &[u8], warnings: &mut Vec<String>) -> Result<Self, ParseError> {
        let (raw, leniency): (RawDefinition, _) = crate::json::parse(bytes).map_err(ParseError::Json)?;
        warnings.extend(leniency.map(|note| format!("the file {note}")));
        match &raw.swagger {
            Some(Value::String(v)) if v == "2.0" => {}
            Some(other) => {
                return Err(ParseError::Invalid(format!(
                    "`swagger` is {other}, but sluice reads OpenAPI 2.0 (\"2.0\")"
                )));
            }
            None => {
                return Err(ParseError::Invalid("no `swagger` version; sluice reads OpenAPI 2.0 (\"2.0\")".into()));
            }
        }
        let base_path = match raw.base_path.as_deref().map(str::trim) {
            None | Some("") => "/".to_string(),
            Some(p) if p.starts_with('/') => p.to_string(),
            Some(p) => {
                return Err(ParseError::Invalid(format!("`basePath` `{p}` does not start with `/`")));
            }
        };

        let mut operations: Vec<Operation> = Vec::new();
        for (path, item) in &raw.paths {
            let shared = item
                .get("parameters")
                .map(|v| parameters(v, &raw.parameters, &format!("path `{path}`"), warnings))
                .unwrap_or_default();
            for (key, value) in item {
                let Some((_, method)) = METHODS.iter().find(|(m, _)| key.eq_ignore_ascii_case(m)) else {
                    // `parameters`, `x-ms-notification-content` and other
                    // extensions are not operations.
                    continue;
                };
                let where_ = format!("{} {path}", method.as_str());
                let Some(id) = value.get("operationId").and_then(Value::as_str) else {
                    warnings.push(format!("operation {where_} has no operationId; it cannot be called"));
                    continue;
                };
                if operations.iter().any(|o| o.id == id) {
                    warnings.push(format!("operation id `{id}` ({where_}) is used twice; the second is ignored"));
                    continue;
                }
                let own = value
                    .get("parameters")
                    .map(|v| parameters(v, &raw.parameters, &format!("operation `{id}`"), warnings))
                    .unwrap_or_default();
                let template = match PathTemplate::compile(path) {
                    Ok(t) => Some(t),
                    Err(reason) => {
                        warnings.push(format!("operation `{id}`: cannot route path `{path}`: {reason}"));
                        None
                    }
                };
                let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
                operations.push(Operation {
                    id: id.to_string(),
                    method: method.clone(),
                    path: path.clone(),
                    parameters: merge(shared.clone(), own),
                    summary: text("summary"),
                    description: text("description"),
                    visibility: Visibility::parse(value.get("x-ms-visibility")),
                    tags: value
                        .get("tags")
                        .and_then(Value::as_array)
                        .map(|tags| tags.iter().filter_map(Value::as_str).map(str::to_string).collect())
                        .unwrap_or_default(),
                    template,
                });
            }
        }
        for op in &operations {
            let Some(template) = &op.template else {
                continue;
            };
            for name in template.parameter_names() {
                if !op.parameters.iter().any(|p| p.location == ParameterLocation::Path && p.name == name) {
                    warnings.push(format!(
                        "operation `{}`: path `{}` has `{{{name}}}` but no path parameter `{name}`",
                        op.id, op.path
                    ));
                }
            }
        }

        let mut security_definitions = IndexMap::new();
        for (name, value) in &raw.security_definitions {
            match security_scheme(value) {
                Ok(scheme) => {
                    security_definitions.insert(name.clone(), scheme);
                }
                Err(reason) => warnings.push(format!("security definition `{name}`: {reason}; ignored")),
            }
        }

        let test_connection = raw
            .capabilities
            .as_ref()
            .and_then(|c| c.get("testConnection"))
            .and_then(|t| t.get("operationId"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let test_connection = match test_connection {
            Some(id) if !operations.iter().any(|op| op.id == id) => {
                warnings.push(format!("x-ms-capabilities.testConnection names operation `{id}`, which is not defined"));
                None
            }
            other => other,
        };
        Ok(Self {
            test_connection,
            title: raw.info.as_ref().and_then(|info| info.get("title")).and_then(Value::as_str).map(str::to_string),
            host: raw.host.filter(|h| !h.trim().is_empty()),
            base_path,
            schemes: raw.schemes,
            operations,
            security_definitions,
            definitions: raw.definitions,
            origin: std::sync::OnceLock::new(),
        })
    }

    /// A body parameter's schema with its references into `#/definitions`
    /// replaced by what they name, at most [`MAX_SCHEMA_DEPTH`] deep and
    /// [`MAX_SCHEMA_REFERENCES`] in all (a reference past either, or one
    /// that does not resolve, stays a `$ref`); `None` for a parameter
    /// without a schema.
    pub fn resolved_schema(&self, parameter: &Parameter) -> Option<Value> {
        let mut budget = MAX_SCHEMA_REFERENCES;
        parameter.schema.as_ref().map(|schema| resolve_schema(schema, &self.definitions, 0, &mut budget))
    }

    /// The operation with this id.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }

    /// The scheme backend calls use: `https` when `schemes` is empty or
    /// lists it, else the first listed. The one place this is decided.
    pub fn scheme(&self) -> &str {
        if self.schemes.is_empty() || self.schemes.iter().any(|s| s.eq_ignore_ascii_case("https")) {
            "https"
        } else {
            self.schemes[0].as_str()
        }
    }

    /// The schemes the connector's calls may use on the definition's host:
    /// those `schemes` lists, or `https` alone when it lists none.
    pub fn allowed_schemes(&self) -> Vec<&str> {
        if self.schemes.is_empty() { vec!["https"] } else { self.schemes.iter().map(String::as_str).collect() }
    }

    /// The base URL of backend calls, `{scheme}://{host}{basePath}` without a
    /// trailing `/`; `None` when the definition has no host.
    pub fn base_url(&self) -> Option<String> {
        let host = self.host.as_deref()?;
        Some(format!("{}://{host}{}", self.scheme(), self.base_path.trim_end_matches('/')))
    }
}

/// Why a definition file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The file is not JSON.
    #[error("not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// JSON, but not an OpenAPI 2.0 definition sluice can route.
    #[error("{0}")]
    Invalid(String),
}

/// What a local reference (`#/{section}/{name}`, the name JSON-pointer
/// escaped) names in `section`'s map; `None` when it points elsewhere or
/// at nothing.
fn resolve<'a>(reference: &str, section: &str, map: &'a IndexMap<String, Value>) -> Option<&'a Value> {
    let name = reference.strip_prefix('#')?.strip_prefix('/')?.strip_prefix(section)?.strip_prefix('/')?;
    map.get(&name.replace("~1", "/").replace("~0", "~"))
}

/// Parses a `parameters` list, resolving references.
fn parameters(
    list: &Value,
    shared: &IndexMap<String, Value>,
    owner: &str,
    warnings: &mut Vec<String>,
) -> Vec<Parameter> {
    let Some(items) = list.as_array() else {
        warnings.push(format!("{owner}: `parameters` is not a list; ignored"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let resolved = match item.get("$ref").and_then(Value::as_str) {
            Some(reference) => match resolve(reference, "parameters", shared) {
                Some(target) => target,
                None => {
                    warnings.push(format!("{owner}: parameter reference `{reference}` does not resolve; ignored"));
                    continue;
                }
            },
            None => item,
        };
        match parameter(resolved) {
            Ok(p) => out.push(p),
            Err(reason) => warnings.push(format!("{owner}: {reason}; parameter ignored")),
        }
    }
    out
}

fn parameter(value: &Value) -> Result<Parameter, String> {
    let name = value.get("name").and_then(Value::as_str).ok_or("a parameter has no name")?;
    let location_text =
        value.get("in").and_then(Value::as_str).ok_or_else(|| format!("parameter `{name}` has no `in`"))?;
    let location = ParameterLocation::parse(location_text)
        .ok_or_else(|| format!("parameter `{name}` has unknown location `{location_text}`"))?;
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    let schema = match location {
        ParameterLocation::Body => value.get("schema").cloned(),
        _ => None,
    };
    Ok(Parameter {
        name: name.to_string(),
        location,
        required: location == ParameterLocation::Path
            || value.get("required").and_then(Value::as_bool).unwrap_or(false),
        default: value.get("default").cloned(),
        url_encoding: text("x-ms-url-encoding"),
        kind: text("type"),
        visibility: Visibility::parse(value.get("x-ms-visibility")),
        summary: text("x-ms-summary"),
        description: text("description"),
        enum_values: value.get("enum").and_then(Value::as_array).cloned().unwrap_or_default(),
        schema,
    })
}

/// A schema with its `#/definitions/...` references replaced by what they
/// name, `depth` references deep already, spending `budget`. A reference
/// past [`MAX_SCHEMA_DEPTH`] or the budget, or one that does not resolve,
/// stays as written, so a recursive definition ends in a `$ref`.
fn resolve_schema(schema: &Value, definitions: &IndexMap<String, Value>, depth: usize, budget: &mut usize) -> Value {
    match schema {
        Value::Object(fields) => {
            if let Some(reference) = fields.get("$ref").and_then(Value::as_str)
                && depth < MAX_SCHEMA_DEPTH
                && *budget > 0
                && let Some(target) = resolve(reference, "definitions", definitions)
            {
                *budget -= 1;
                return resolve_schema(target, definitions, depth + 1, budget);
            }
            Value::Object(
                fields.iter().map(|(k, v)| (k.clone(), resolve_schema(v, definitions, depth, budget))).collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve_schema(v, definitions, depth, budget)).collect())
        }
        other => other.clone(),
    }
}

/// Path-item parameters overridden by the operation's own.
fn merge(mut shared: Vec<Parameter>, own: Vec<Parameter>) -> Vec<Parameter> {
    for p in own {
        match shared.iter_mut().find(|s| s.name == p.name && s.location == p.location) {
            Some(slot) => *slot = p,
            None => shared.push(p),
        }
    }
    shared
}

fn security_scheme(value: &Value) -> Result<SecurityScheme, String> {
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    match text("type").as_deref() {
        Some("apiKey") => {
            let name = text("name").ok_or("apiKey without `name`")?;
            let location = match text("in").as_deref() {
                Some("header") => SecurityLocation::Header,
                Some("query") => SecurityLocation::Query,
                other => return Err(format!("apiKey location {other:?} is not header or query")),
            };
            Ok(SecurityScheme::ApiKey { name, location })
        }
        Some("basic") => Ok(SecurityScheme::Basic),
        Some("oauth2") => Ok(SecurityScheme::OAuth2 {
            flow: text("flow").unwrap_or_default(),
            authorization_url: text("authorizationUrl"),
            token_url: text("tokenUrl"),
            scopes: value
                .get("scopes")
                .and_then(Value::as_object)
                .map(|s| s.keys().cloned().collect())
                .unwrap_or_default(),
        }),
        Some(other) => Err(format!("unknown security type `{other}`")),
        None => Err("no `type`".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> (Definition, Vec<String>) {
        let mut warnings = Vec::new();
        let def = Definition::parse(value.to_string().as_bytes(), &mut warnings).unwrap();
        (def, warnings)
    }

    #[test]
    fn path_level_parameters_merge_and_refs_resolve() {
        let (def, warnings) = parse(json!({
            "swagger": "2.0", "host": "h", "basePath": "/v1",
            "parameters": { "Id": { "name": "id", "in": "path", "type": "string", "x-ms-url-encoding": "double" } },
            "paths": { "/things/{id}": {
                "parameters": [ { "$ref": "#/parameters/Id" },
                                { "name": "v", "in": "query", "type": "string", "default": "1" } ],
                "get": { "operationId": "GetThing", "x-ms-visibility": "internal",
                         "parameters": [ { "name": "v", "in": "query", "required": true, "type": "integer" } ] },
                "x-ms-notification-content": { "schema": {} }
            } }
        }));
        assert!(warnings.is_empty(), "{warnings:?}");
        let op = def.operation("GetThing").unwrap();
        assert!(op.is_internal());
        assert_eq!(op.parameters.len(), 2);
        let id = &op.parameters[0];
        assert_eq!((id.name.as_str(), id.location, id.required), ("id", ParameterLocation::Path, true));
        assert_eq!(id.url_encoding.as_deref(), Some("double"));
        let v = &op.parameters[1];
        assert_eq!((v.required, v.kind.as_deref(), v.default.as_ref()), (true, Some("integer"), None));
    }

    #[test]
    fn unroutable_and_unnamed_operations_are_warnings() {
        let (def, warnings) = parse(json!({
            "swagger": "2.0",
            "parameters": {},
            "paths": {
                "/a": { "get": {} },
                "/b/{x}{y}": { "get": { "operationId": "Adjacent" } },
                "/c": { "get": { "operationId": "C", "parameters": [ { "$ref": "#/parameters/Nope" } ] } }
            }
        }));
        assert_eq!(def.operations.len(), 2);
        assert!(def.operation("Adjacent").unwrap().template.is_none());
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }

    #[test]
    fn the_test_connection_operation_is_read_and_an_undefined_one_is_a_warning() {
        let paths = json!({ "/me": { "get": { "operationId": "TestConnection" } } });
        let (def, warnings) = parse(json!({ "swagger": "2.0", "paths": paths,
            "x-ms-capabilities": { "testConnection": { "operationId": "TestConnection" } } }));
        assert_eq!((def.test_connection.as_deref(), warnings.len()), (Some("TestConnection"), 0));
        let (def, warnings) = parse(json!({ "swagger": "2.0", "paths": paths,
            "x-ms-capabilities": { "testConnection": { "operationId": "Nope" } } }));
        assert_eq!(def.test_connection, None);
        assert!(warnings[0].contains("`Nope`, which is not defined"), "{warnings:?}");
    }

    #[test]
    fn tags_and_parameter_descriptions_are_read() {
        let (def, _) = parse(json!({
            "swagger": "2.0",
            "paths": { "/things": { "get": {
                "operationId": "ListThings", "tags": ["Things", 7, "Lists"],
                "parameters": [ { "name": "colour", "in": "query", "type": "string", "x-ms-summary": "Colour",
                                  "description": "Which colour", "enum": ["red", "green", 3] } ]
            } } }
        }));
        let op = def.operation("ListThings").unwrap();
        assert_eq!(op.tags, ["Things", "Lists"], "a tag that is not a string is skipped");
        let colour = &op.parameters[0];
        assert_eq!((colour.summary.as_deref(), colour.description.as_deref()), (Some("Colour"), Some("Which colour")));
        assert_eq!(colour.enum_values, [json!("red"), json!("green"), json!(3)]);
        assert_eq!(colour.schema, None, "only a body parameter has a schema");
    }

    #[test]
    fn a_body_schema_has_its_definitions_resolved() {
        let (def, _) = parse(json!({
            "swagger": "2.0",
            "definitions": {
                "Order": { "type": "object", "properties": {
                    "lines": { "type": "array", "items": { "$ref": "#/definitions/Line" } },
                    "note": { "$ref": "#/definitions/Nowhere" } } },
                "Line": { "type": "object", "properties": { "sku": { "type": "string" } } }
            },
            "paths": { "/orders": { "post": { "operationId": "AddOrder", "parameters": [
                { "name": "body", "in": "body", "required": true, "schema": { "$ref": "#/definitions/Order" } }
            ] } } }
        }));
        let body = &def.operation("AddOrder").unwrap().parameters[0];
        assert_eq!(body.schema, Some(json!({ "$ref": "#/definitions/Order" })), "kept as written");
        let schema = def.resolved_schema(body).unwrap();
        assert_eq!(
            schema["properties"]["lines"]["items"],
            json!({ "type": "object", "properties": { "sku": { "type": "string" } } })
        );
        assert_eq!(
            schema["properties"]["note"],
            json!({ "$ref": "#/definitions/Nowhere" }),
            "an unresolvable reference stays"
        );
    }

    #[test]
    fn a_recursive_definition_stops_at_the_depth_limit() {
        let (def, _) = parse(json!({
            "swagger": "2.0",
            "definitions": { "Node": { "type": "object", "properties": {
                "left": { "$ref": "#/definitions/Node" }, "right": { "$ref": "#/definitions/Node" } } } },
            "paths": { "/trees": { "post": { "operationId": "AddTree", "parameters": [
                { "name": "body", "in": "body", "schema": { "$ref": "#/definitions/Node" } }
            ] } } }
        }));
        let tree = &def.operation("AddTree").unwrap().parameters[0];
        let mut schema = def.resolved_schema(tree).unwrap();
        let mut depth = 0;
        while schema.get("$ref").is_none() {
            schema = schema["properties"]["left"].clone();
            depth += 1;
        }
        assert_eq!(depth, MAX_SCHEMA_DEPTH, "{schema}");
        assert_eq!(schema, json!({ "$ref": "#/definitions/Node" }));
        let text = def.resolved_schema(tree).unwrap().to_string();
        let resolved = text.matches("\"type\":\"object\"").count();
        assert!(resolved <= MAX_SCHEMA_REFERENCES, "the budget bounds a tree of references: {resolved}");
    }

    #[test]
    fn swagger_other_than_2_is_an_error() {
        let mut warnings = Vec::new();
        let err = Definition::parse(br#"{"openapi": "3.0.0", "paths": {}}"#, &mut warnings).unwrap_err();
        assert!(matches!(err, ParseError::Invalid(reason) if reason.contains("2.0")));
        let err = Definition::parse(br#"{"swagger": "3.0"}"#, &mut warnings).unwrap_err();
        assert!(matches!(err, ParseError::Invalid(_)));
    }

    #[test]
    fn security_schemes_parse() {
        let (def, _) = parse(json!({
            "swagger": "2.0", "paths": {},
            "securityDefinitions": {
                "k": { "type": "apiKey", "in": "query", "name": "apikey" },
                "b": { "type": "basic" },
                "o": { "type": "oauth2", "flow": "accessCode", "authorizationUrl": "https://a", "tokenUrl": "https://t",
                       "scopes": { "DataRead": "DataRead" } }
            }
        }));
        assert_eq!(
            def.security_definitions["k"],
            SecurityScheme::ApiKey { name: "apikey".into(), location: SecurityLocation::Query }
        );
        assert_eq!(def.security_definitions["b"], SecurityScheme::Basic);
        assert!(
            matches!(&def.security_definitions["o"], SecurityScheme::OAuth2 { scopes, .. } if scopes == &["DataRead"])
        );
        assert_eq!(def.base_path, "/");
    }
}
