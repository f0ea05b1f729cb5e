//! Policy templates: a connector's `policyTemplateInstances` parsed once,
//! when the package loads, into a [`PolicySet`] that edits each backend
//! request and response. Parsing does no I/O; evaluation touches only the
//! request or response it is given.
//!
//! # Instances
//!
//! Each instance is `{ "templateId", "title", "parameters": { ... } }`.
//! Template parameters are the keys `x-ms-apimTemplateParameter.<name>`;
//! two keys say where a policy applies:
//! - `x-ms-apimTemplate-operationName`: operation ids; absent or empty means
//!   every operation;
//! - `x-ms-apimTemplate-policySection`: `Request` (the default) or `Response`.
//!
//! An unknown template id, a template sluice does not implement, a missing or
//! malformed parameter and an unknown parameter key are load warnings; the
//! policy (for an unknown key, just the key) is ignored and the rest load.
//!
//! # Order
//!
//! The gateway runs a call as: route the operation, build the backend URL,
//! apply the connection's credentials, **request policies**, the custom code
//! (whose `send` makes the backend call) or the backend call itself,
//! **response policies**, answer. Within a section, policies apply in the
//! order `policyTemplateInstances` lists them, each seeing the previous one's
//! result. Expressions always read the client's *original* request
//! (`@headers`, `@queryParameters`), not what earlier policies changed.
//!
//! # Templates
//!
//! | template | parameters | what it does |
//! |---|---|---|
//! | `setheader` | `name`, `value`, `existsAction` | sets a request (or, in `Response`, response) header; `existsAction` is `override` (default: replace all values), `skip` (leave an existing header) or `append` (add another value) |
//! | `setqueryparameter` | `name`, `value`, `existsAction` | the same for a query parameter of the backend URL; request only. Untouched parameters keep their encoding |
//! | `routerequesttoendpoint` | `newPath`, `httpMethod` | replaces the operation's path (relative to the base URL, i.e. after `basePath`); `{name}` placeholders are filled with the operation's path parameters, encoded as path segments, after expressions are evaluated. A `newPath` that is an absolute `http(s)` URL replaces the base URL too; a `?query` in it is appended. `httpMethod` is a method or `@Request.OriginalHTTPMethod` (the client's method). Request only |
//! | `dynamichosturl` | `urlTemplate` | replaces scheme, host and base path of the backend URL with the evaluated URL (which must be absolute `http(s)` without query); the operation's path and the query stay. Request only |
//! | `setproperty` | `newPropertyParentPathTemplate` (default `@body()`), `newPropertySubPathTemplate`, `propertyValuePathTemplate` | sets a JSON body property under the parent (under each element when the parent is an array), creating missing objects. The value is text with expressions, a JSON value when the parameter is not a string, or a copy of another property when it is a path (`@body().x`, `@item().x`). An empty request body becomes `{}` |
//! | `convertobjecttoarray` | `propertyParentPath` (default `@body()`), `propertySubPath`, `newPropertyPath`, `keyName`, `valueName` | turns the object at parent/sub into `[{keyName: key, valueName: value}]` written at `newPropertyPath` (`@body()...` from the root, else relative to the parent); with no `valueName`, an object value's fields are merged beside the key |
//! | `convertarraytoobject` | `propertyParentPath`, `propertySubPath`, `keyWithinCollectionPath`, `newPropertyPath`, `retainKey` (default `true`) | turns the array at parent/sub into an object keyed by each item's key property; with `retainKey` false the key is removed from the items. An item without a string or number key is an error |
//! | `stringreplace` | `oldValue`, `newValue`, optional `propertyParentPath` / `propertySubPath` | replaces every occurrence of `oldValue`: in all strings at the property when a path is given, else in the whole body as text. (The platform does not document this template's parameters; these names follow the conversion templates.) |
//!
//! Paths in body templates are described in the `body` module: `@body()`,
//! `@body().a.b`, `@body()?['odd name']`, `[0]`, `@item().x` and bare `a.b`.
//!
//! Bodies: a *request* body that JSON templates need must be JSON (else
//! [`PolicyError::BodyNotJson`], a client mistake); a *response* body that is
//! empty or not JSON is passed on unchanged, so a backend's HTML error page
//! is not turned into a gateway error. An edited body is re-serialised and
//! any `Content-Length` header updated.
//!
//! Not implemented (load warning, policy ignored): `updatenextlink`,
//! `setvaluefromurl`, `stringtoarray`, `encodepropertyvalue`,
//! `pollingtrigger`, `setconnectionstatustounauthenticated`.

mod body;
mod expr;
mod target;
mod templates;

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Request, Response};
use indexmap::IndexMap;
use serde_json::Value;

pub use expr::{ConnectionValues, ExprContext};
use target::Target;
use templates::{Body, Kind, NotParsed, PARAMETER_PREFIX, RequestParts};

/// Key of the operation scope in an instance's parameters.
const OPERATION_NAME: &str = "x-ms-apimTemplate-operationName";
/// Key of the section in an instance's parameters.
const POLICY_SECTION: &str = "x-ms-apimTemplate-policySection";

/// Which side of the backend call a policy edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// The request on its way to the backend (the default).
    Request,
    /// The response on its way back to the client.
    Response,
}

/// One parsed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    title: String,
    template_id: String,
    operations: Vec<String>,
    section: Section,
    kind: Kind,
}

impl Policy {
    /// The instance's title (its template id when it has none); errors and
    /// warnings name the policy by it.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The template id, e.g. `setheader`.
    pub fn template_id(&self) -> &str {
        &self.template_id
    }

    /// The operation ids the policy is limited to; empty means all.
    pub fn operations(&self) -> &[String] {
        &self.operations
    }

    /// The section the policy runs in.
    pub fn section(&self) -> Section {
        self.section
    }

    /// Whether the policy applies to the operation.
    pub fn applies_to(&self, operation_id: &str) -> bool {
        self.operations.is_empty() || self.operations.iter().any(|o| o == operation_id)
    }

    /// Names of the connection parameters the policy's expressions use.
    pub fn connection_parameters(&self) -> impl Iterator<Item = &str> {
        self.kind
            .templates()
            .into_iter()
            .flat_map(|t| t.connection_parameters())
    }
}

/// A connector's policies, in the order they apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicySet {
    policies: Vec<Policy>,
    base_path: String,
}

/// A policy failed while editing a request or response. Messages name the
/// policy by its title and never include evaluated values, which may be
/// secrets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// An expression refers to a connection parameter the connection does
    /// not define (a connector or connection configuration mistake).
    #[error(
        "policy `{policy}` refers to connection parameter `{name}`, which the connection does not define"
    )]
    UndefinedConnectionParameter {
        /// The policy's title.
        policy: String,
        /// The parameter's name as the expression writes it.
        name: String,
    },
    /// A `{name}` placeholder in `newPath` has no path parameter of the
    /// operation to fill it (a connector mistake).
    #[error("policy `{policy}` needs path parameter `{name}`, which the operation does not have")]
    MissingPathParameter {
        /// The policy's title.
        policy: String,
        /// The placeholder's name.
        name: String,
    },
    /// The evaluated value is not a valid header value.
    #[error("policy `{policy}` produced an invalid value for header `{name}`")]
    InvalidHeader {
        /// The policy's title.
        policy: String,
        /// The header's name.
        name: String,
    },
    /// The evaluated base URL or backend URL is unusable (a connection value
    /// such as a host name is probably wrong).
    #[error("policy `{policy}` produced an invalid backend URL: {reason}")]
    InvalidUrl {
        /// The policy's title.
        policy: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request body is not JSON (or not text) but a body template needs
    /// it to be (a client mistake).
    #[error("policy `{policy}` needs a JSON request body: {reason}")]
    BodyNotJson {
        /// The policy's title.
        policy: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A body template could not reshape the JSON it found.
    #[error("policy `{policy}` cannot reshape the body: {reason}")]
    Body {
        /// The policy's title.
        policy: String,
        /// What did not fit.
        reason: String,
    },
}

impl PolicySet {
    /// Parses `policyTemplateInstances`. Returns the policies that parsed
    /// and a warning for each instance, or parameter, that did not.
    pub fn parse(instances: &[Value]) -> (PolicySet, Vec<String>) {
        let mut policies = Vec::new();
        let mut warnings = Vec::new();
        for (index, instance) in instances.iter().enumerate() {
            match parse_instance(instance, &mut warnings) {
                Ok(policy) => policies.push(policy),
                Err(reason) => warnings.push(format!("policy {index}: {reason}; policy ignored")),
            }
        }
        (
            PolicySet {
                policies,
                base_path: String::new(),
            },
            warnings,
        )
    }

    /// Sets the definition's `basePath`, which separates the part of the
    /// backend URL `dynamichosturl` replaces from the part
    /// `routerequesttoendpoint` replaces. Default: none (`/`).
    pub fn with_base_path(mut self, base_path: &str) -> Self {
        self.base_path = base_path.trim_end_matches('/').to_string();
        self
    }

    /// The policies, in order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Whether there are no policies.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Every connection parameter an expression refers to, as (policy
    /// title, parameter name), in order, so a loader can check them against
    /// the declared `connectionParameters`.
    pub fn referenced_connection_parameters(&self) -> Vec<(&str, &str)> {
        self.policies
            .iter()
            .flat_map(|p| p.connection_parameters().map(move |name| (p.title(), name)))
            .collect()
    }

    /// The base URLs the `dynamichosturl` policies send to, evaluated for a
    /// connection (headers and query of `ctx` are usually empty here), so the
    /// gateway can add them to the connection's egress allowlist. Each is an
    /// absolute `http(s)` URL without a trailing `/`.
    pub fn dynamic_host_urls(&self, ctx: &ExprContext<'_>) -> Result<Vec<String>, PolicyError> {
        self.policies
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::DynamicHostUrl { url } => {
                    Some(templates::evaluate_base_url(p.title(), url, ctx))
                }
                _ => None,
            })
            .collect()
    }

    /// Applies the request policies for `operation_id` to a request whose
    /// URI is the absolute backend URL. `path_params` are the operation's
    /// path parameters (decoded), used by `routerequesttoendpoint`.
    pub fn apply_request(
        &self,
        operation_id: &str,
        path_params: &IndexMap<String, String>,
        request: &mut Request<Bytes>,
        ctx: &ExprContext<'_>,
    ) -> Result<(), PolicyError> {
        let mut applicable = self.in_section(Section::Request, operation_id).peekable();
        let Some(first) = applicable.peek() else {
            return Ok(());
        };
        let url_error = |policy: &str, reason: String| PolicyError::InvalidUrl {
            policy: policy.to_string(),
            reason,
        };
        let target = Target::split(request.uri(), &self.base_path)
            .map_err(|e| url_error(first.title(), e))?;
        let original_target = target.clone();
        let original_method = request.method().clone();
        let (mut parts, body) = std::mem::take(request).into_parts();
        let mut req = RequestParts {
            target,
            method: &mut parts.method,
            original_method,
            headers: &mut parts.headers,
            body: Body::new(body.clone(), true),
            path_params,
        };
        let mut last_title = first.title().to_string();
        let mut outcome = Ok(());
        for policy in applicable {
            last_title = policy.title().to_string();
            if let Err(e) = policy.kind.apply_request(policy.title(), &mut req, ctx) {
                outcome = Err(e);
                break;
            }
        }
        let RequestParts {
            target,
            body: edited,
            ..
        } = req;
        let new_body = edited.finish();
        if outcome.is_ok() && target != original_target {
            match target.to_uri() {
                Ok(uri) => parts.uri = uri,
                Err(reason) => outcome = Err(url_error(&last_title, reason)),
            }
        }
        let body = match new_body {
            Some(new) if outcome.is_ok() => {
                set_content_length(&mut parts.headers, new.len());
                new
            }
            _ => body,
        };
        *request = Request::from_parts(parts, body);
        outcome
    }

    /// Applies the response policies for `operation_id`.
    pub fn apply_response(
        &self,
        operation_id: &str,
        response: &mut Response<Bytes>,
        ctx: &ExprContext<'_>,
    ) -> Result<(), PolicyError> {
        let mut applicable = self.in_section(Section::Response, operation_id).peekable();
        if applicable.peek().is_none() {
            return Ok(());
        }
        let raw = std::mem::take(response.body_mut());
        let mut body = Body::new(raw.clone(), false);
        let mut outcome = Ok(());
        for policy in applicable {
            if let Err(e) =
                policy
                    .kind
                    .apply_response(policy.title(), response.headers_mut(), &mut body, ctx)
            {
                outcome = Err(e);
                break;
            }
        }
        match body.finish() {
            Some(new) if outcome.is_ok() => {
                set_content_length(response.headers_mut(), new.len());
                *response.body_mut() = new;
            }
            _ => *response.body_mut() = raw,
        }
        outcome
    }

    fn in_section<'s>(
        &'s self,
        section: Section,
        operation_id: &'s str,
    ) -> impl Iterator<Item = &'s Policy> + 's {
        self.policies
            .iter()
            .filter(move |p| p.section == section && p.applies_to(operation_id))
    }
}

fn set_content_length(headers: &mut http::HeaderMap, len: usize) {
    if headers.contains_key(CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}

fn parse_instance(instance: &Value, warnings: &mut Vec<String>) -> Result<Policy, String> {
    let object = instance.as_object().ok_or("is not a JSON object")?;
    let template_id = object
        .get("templateId")
        .and_then(Value::as_str)
        .ok_or("has no templateId")?
        .to_string();
    let title = object
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or(&template_id)
        .to_string();
    let empty = serde_json::Map::new();
    let parameters = match object.get("parameters") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(format!(
                "`{title}` ({template_id}): parameters is not an object"
            ));
        }
    };
    let kind = templates::parse(&template_id, parameters).map_err(|why| match why {
        NotParsed::Unknown => format!("`{title}`: unknown policy template `{template_id}`"),
        NotParsed::Unsupported => {
            format!("`{title}`: policy template `{template_id}` is not supported by sluice")
        }
        NotParsed::Invalid(reason) => format!("`{title}` ({template_id}): {reason}"),
    })?;
    let operations = match parameters.get(OPERATION_NAME) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(one)) if one.is_empty() => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                format!("`{title}` ({template_id}): {OPERATION_NAME} must list operation ids")
            })?,
        Some(_) => {
            return Err(format!(
                "`{title}` ({template_id}): {OPERATION_NAME} must list operation ids"
            ));
        }
    };
    let mut section = match parameters.get(POLICY_SECTION).and_then(Value::as_str) {
        None | Some("") => Section::Request,
        Some(s) if s.eq_ignore_ascii_case("request") => Section::Request,
        Some(s) if s.eq_ignore_ascii_case("response") => Section::Response,
        Some(other) => {
            return Err(format!(
                "`{title}` ({template_id}): {POLICY_SECTION} `{other}` is not Request or Response"
            ));
        }
    };
    if section == Section::Response && !kind.allowed_in_response() {
        warnings.push(format!(
            "policy `{title}` ({template_id}) only applies to requests; running it in the request section"
        ));
        section = Section::Request;
    }
    let known = templates::known_parameters(&template_id);
    for key in parameters.keys() {
        let unknown = match key.strip_prefix(PARAMETER_PREFIX) {
            Some(name) => !known.contains(&name),
            None => key != OPERATION_NAME && key != POLICY_SECTION,
        };
        if unknown {
            warnings.push(format!(
                "policy `{title}` ({template_id}): unknown parameter `{key}` ignored"
            ));
        }
    }
    Ok(Policy {
        title,
        template_id,
        operations,
        section,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Call {
        conn: IndexMap<String, String>,
        headers: http::HeaderMap,
        query: Vec<(String, String)>,
    }

    impl Call {
        fn new(conn: &[(&str, &str)]) -> Self {
            Self {
                conn: conn
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                headers: http::HeaderMap::new(),
                query: Vec::new(),
            }
        }

        fn ctx(&self) -> ExprContext<'_> {
            ExprContext {
                connection_parameters: &self.conn,
                headers: &self.headers,
                query: &self.query,
            }
        }
    }

    fn set(instances: Value) -> PolicySet {
        let (set, warnings) = PolicySet::parse(instances.as_array().unwrap());
        assert!(warnings.is_empty(), "{warnings:?}");
        set
    }

    fn request(method: &str, uri: &str, body: &str) -> Request<Bytes> {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Bytes::from(body.to_string()))
            .unwrap()
    }

    fn json_body(req: &Request<Bytes>) -> Value {
        serde_json::from_slice(req.body()).unwrap()
    }

    fn connector(name: &str) -> Vec<Value> {
        let path = format!(
            "{}/../shared/connectors/{name}/apiProperties.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let file: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        file["properties"]["policyTemplateInstances"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn no_params() -> IndexMap<String, String> {
        IndexMap::new()
    }

    #[test]
    fn setheader_overrides_skips_and_appends() {
        let call = Call::new(&[]);
        for (action, expected) in [
            ("override", vec!["new"]),
            ("skip", vec!["old"]),
            ("append", vec!["old", "new"]),
        ] {
            let set = set(json!([{ "templateId": "setheader", "parameters": {
                "x-ms-apimTemplateParameter.name": "X-A",
                "x-ms-apimTemplateParameter.value": "new",
                "x-ms-apimTemplateParameter.existsAction": action }}]));
            let mut req = request("GET", "https://h/x", "");
            req.headers_mut()
                .insert("x-a", HeaderValue::from_static("old"));
            set.apply_request("Op", &no_params(), &mut req, &call.ctx())
                .unwrap();
            let got: Vec<_> = req
                .headers()
                .get_all("x-a")
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect();
            assert_eq!(got, expected, "{action}");
        }
    }

    #[test]
    fn setheader_in_response_section_sets_a_response_header() {
        let set = set(json!([{ "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-Out",
            "x-ms-apimTemplateParameter.value": "@headers('x-in')",
            "x-ms-apimTemplate-policySection": "Response" }}]));
        let mut call = Call::new(&[]);
        call.headers
            .insert("x-in", HeaderValue::from_static("echo"));
        let mut res = Response::new(Bytes::from_static(b"<html>"));
        set.apply_response("Op", &mut res, &call.ctx()).unwrap();
        assert_eq!(res.headers()["x-out"], "echo");
        assert_eq!(res.body().as_ref(), b"<html>");
    }

    #[test]
    fn setqueryparameter_overrides_skips_and_appends() {
        let call = Call::new(&[("v", "2024-01-01")]);
        for (action, expected) in [
            ("override", "https://h/x?b=1&api-version=2024-01-01"),
            ("skip", "https://h/x?api-version=old&b=1"),
            (
                "append",
                "https://h/x?api-version=old&b=1&api-version=2024-01-01",
            ),
        ] {
            let set = set(json!([{ "templateId": "setqueryparameter", "parameters": {
                "x-ms-apimTemplateParameter.name": "api-version",
                "x-ms-apimTemplateParameter.value": "@connectionParameters('v')",
                "x-ms-apimTemplateParameter.existsAction": action }}]));
            let mut req = request("GET", "https://h/x?api-version=old&b=1", "");
            set.apply_request("Op", &no_params(), &mut req, &call.ctx())
                .unwrap();
            assert_eq!(req.uri().to_string(), expected, "{action}");
        }
    }

    #[test]
    fn setqueryparameter_reads_the_original_query() {
        let set = set(json!([{ "templateId": "setqueryparameter", "parameters": {
            "x-ms-apimTemplateParameter.name": "limit",
            "x-ms-apimTemplateParameter.value": "@queryParameters('top')" }}]));
        let mut call = Call::new(&[]);
        call.query.push(("top".into(), "5".into()));
        let mut req = request("GET", "https://h/x", "");
        set.apply_request("Op", &no_params(), &mut req, &call.ctx())
            .unwrap();
        assert_eq!(req.uri().to_string(), "https://h/x?limit=5");
    }

    #[test]
    fn routerequesttoendpoint_fills_path_params_and_changes_method() {
        let set = set(
            json!([{ "templateId": "routerequesttoendpoint", "parameters": {
            "x-ms-apimTemplateParameter.newPath": "/envelopes/{id}",
            "x-ms-apimTemplateParameter.httpMethod": "DELETE" }}]),
        )
        .with_base_path("/v1");
        let params: IndexMap<String, String> = [("id".to_string(), "a b/c".to_string())]
            .into_iter()
            .collect();
        let mut req = request("HEAD", "https://api.annature.com.au/v1/envelopes/x?q=1", "");
        set.apply_request("DeleteEnvelope", &params, &mut req, &Call::new(&[]).ctx())
            .unwrap();
        assert_eq!(req.method(), http::Method::DELETE);
        assert_eq!(
            req.uri().to_string(),
            "https://api.annature.com.au/v1/envelopes/a%20b%2Fc?q=1"
        );
    }

    #[test]
    fn routerequesttoendpoint_keeps_the_original_method() {
        let set = set(
            json!([{ "templateId": "routerequesttoendpoint", "parameters": {
            "x-ms-apimTemplateParameter.newPath": "/webhook_subscriptions",
            "x-ms-apimTemplateParameter.httpMethod": "@Request.OriginalHTTPMethod" }}]),
        );
        let mut req = request(
            "POST",
            "https://api.calendly.com/webhook_subscriptions/routing_form_submission",
            "{}",
        );
        set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx())
            .unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(
            req.uri().to_string(),
            "https://api.calendly.com/webhook_subscriptions"
        );
    }

    #[test]
    fn routerequesttoendpoint_names_a_missing_path_parameter() {
        let set = set(
            json!([{ "templateId": "routerequesttoendpoint", "parameters": {
            "x-ms-apimTemplateParameter.newPath": "/things/{thingId}" }}]),
        );
        let mut req = request("GET", "https://h/x", "");
        let err = set
            .apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx())
            .unwrap_err();
        assert!(
            matches!(&err, PolicyError::MissingPathParameter { name, .. } if name == "thingId"),
            "{err}"
        );
    }

    #[test]
    fn dynamichosturl_replaces_scheme_host_and_base_path() {
        let set = set(json!([{ "templateId": "dynamichosturl", "parameters": {
            "x-ms-apimTemplateParameter.urlTemplate": "https://@connectionParameters('factoryUrl')/api/v3" }}]))
        .with_base_path("/api/v3");
        let call = Call::new(&[("factoryUrl", "acme.tulip.co")]);
        let mut req = request("GET", "https://api.tulip.co/api/v3/tables/t1?x=1", "");
        set.apply_request("GetTable", &no_params(), &mut req, &call.ctx())
            .unwrap();
        assert_eq!(
            req.uri().to_string(),
            "https://acme.tulip.co/api/v3/tables/t1?x=1"
        );
    }

    #[test]
    fn dynamic_host_urls_are_evaluated_per_connection() {
        let (set, _) = PolicySet::parse(&connector("Tulip"));
        let err = set
            .dynamic_host_urls(&Call::new(&[("factoryUrl", "acme.tulip.co")]).ctx())
            .unwrap_err();
        assert!(matches!(
            err,
            PolicyError::UndefinedConnectionParameter { .. }
        ));
        let urls = set
            .dynamic_host_urls(&Call::new(&[("factoryURL", "acme.tulip.co")]).ctx())
            .unwrap();
        assert_eq!(urls, ["https://acme.tulip.co/api/v3"]);
    }

    #[test]
    fn dynamichosturl_rejects_a_value_that_is_not_a_url() {
        let set = set(json!([{ "templateId": "dynamichosturl", "parameters": {
            "x-ms-apimTemplateParameter.urlTemplate": "@connectionParameters('url')" }}]));
        let call = Call::new(&[("url", "not a url")]);
        let mut req = request("GET", "https://h/x", "");
        let err = set
            .apply_request("Op", &no_params(), &mut req, &call.ctx())
            .unwrap_err();
        assert!(matches!(err, PolicyError::InvalidUrl { .. }), "{err}");
        assert_eq!(
            req.uri().to_string(),
            "https://h/x",
            "request is left as it was"
        );
    }

    #[test]
    fn setproperty_sets_request_and_response_properties() {
        let set = set(json!([
            { "templateId": "setproperty", "parameters": {
                "x-ms-apimTemplateParameter.newPropertyParentPathTemplate": "@body().task",
                "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "priority",
                "x-ms-apimTemplateParameter.propertyValuePathTemplate": "!" }},
            { "templateId": "setproperty", "parameters": {
                "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "count",
                "x-ms-apimTemplateParameter.propertyValuePathTemplate": 3,
                "x-ms-apimTemplate-policySection": "Response" }},
            { "templateId": "setproperty", "parameters": {
                "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "copy",
                "x-ms-apimTemplateParameter.propertyValuePathTemplate": "@body().name",
                "x-ms-apimTemplate-policySection": "Response" }}
        ]));
        let call = Call::new(&[]);
        let mut req = request("POST", "https://h/x", "");
        req.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(0));
        set.apply_request("Op", &no_params(), &mut req, &call.ctx())
            .unwrap();
        assert_eq!(json_body(&req), json!({"task": {"priority": "!"}}));
        assert_eq!(
            req.headers()[CONTENT_LENGTH],
            req.body().len().to_string().as_str()
        );

        let mut res = Response::new(Bytes::from_static(br#"{"name":"n"}"#));
        set.apply_response("Op", &mut res, &call.ctx()).unwrap();
        let body: Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(body, json!({"name": "n", "count": 3, "copy": "n"}));
    }

    #[test]
    fn request_body_that_is_not_json_is_a_client_error() {
        let set = set(json!([{ "templateId": "setproperty", "parameters": {
            "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "a",
            "x-ms-apimTemplateParameter.propertyValuePathTemplate": "b" }}]));
        let mut req = request("POST", "https://h/x", "not json");
        let err = set
            .apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx())
            .unwrap_err();
        assert!(matches!(err, PolicyError::BodyNotJson { .. }), "{err}");
        assert_eq!(req.body().as_ref(), b"not json");
    }

    #[test]
    fn response_body_that_is_not_json_is_passed_on() {
        let set = set(
            json!([{ "templateId": "convertobjecttoarray", "parameters": {
            "x-ms-apimTemplateParameter.propertySubPath": "o",
            "x-ms-apimTemplateParameter.newPropertyPath": "o",
            "x-ms-apimTemplateParameter.keyName": "k",
            "x-ms-apimTemplate-policySection": "Response" }}]),
        );
        let mut res = Response::new(Bytes::from_static(b"<html>oops</html>"));
        set.apply_response("Op", &mut res, &Call::new(&[]).ctx())
            .unwrap();
        assert_eq!(res.body().as_ref(), b"<html>oops</html>");
    }

    #[test]
    fn response_that_no_policy_changes_keeps_its_bytes() {
        let set = set(
            json!([{ "templateId": "convertobjecttoarray", "parameters": {
            "x-ms-apimTemplateParameter.propertySubPath": "absent",
            "x-ms-apimTemplateParameter.newPropertyPath": "out",
            "x-ms-apimTemplateParameter.keyName": "k",
            "x-ms-apimTemplate-policySection": "Response" }}]),
        );
        let raw = br#"{ "z": 1,  "a": 2 }"#;
        let mut res = Response::new(Bytes::from_static(raw));
        set.apply_response("Op", &mut res, &Call::new(&[]).ctx())
            .unwrap();
        assert_eq!(res.body().as_ref(), raw);
    }

    #[test]
    fn convertobjecttoarray_reshapes_the_response() {
        let set = set(
            json!([{ "templateId": "convertobjecttoarray", "parameters": {
            "x-ms-apimTemplateParameter.propertyParentPath": "@body()",
            "x-ms-apimTemplateParameter.propertySubPath": "peopleObject",
            "x-ms-apimTemplateParameter.newPropertyPath": "@body().peopleArray",
            "x-ms-apimTemplateParameter.keyName": "Name",
            "x-ms-apimTemplateParameter.valueName": "Details",
            "x-ms-apimTemplate-policySection": "Response" }}]),
        );
        let mut res = Response::new(Bytes::from_static(
            br#"{"peopleObject":{"XYZ":{"Age":"30"}}}"#,
        ));
        set.apply_response("Op", &mut res, &Call::new(&[]).ctx())
            .unwrap();
        let body: Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(
            body["peopleArray"],
            json!([{"Name": "XYZ", "Details": {"Age": "30"}}])
        );
    }

    #[test]
    fn convertarraytoobject_reshapes_the_request() {
        let set = set(
            json!([{ "templateId": "convertarraytoobject", "parameters": {
            "x-ms-apimTemplateParameter.propertyParentPath": "@body()",
            "x-ms-apimTemplateParameter.propertySubPath": "references",
            "x-ms-apimTemplateParameter.keyWithinCollectionPath": "url",
            "x-ms-apimTemplateParameter.newPropertyPath": "@body().references",
            "x-ms-apimTemplateParameter.retainKey": "false" }}]),
        );
        let mut req = request(
            "PATCH",
            "https://h/x",
            r#"{"references":[{"url":"u1","alias":"a"}]}"#,
        );
        set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx())
            .unwrap();
        assert_eq!(
            json_body(&req),
            json!({"references": {"u1": {"alias": "a"}}})
        );
    }

    #[test]
    fn stringreplace_in_a_property_and_in_the_whole_body() {
        let set = set(json!([
            { "templateId": "stringreplace", "parameters": {
                "x-ms-apimTemplateParameter.propertySubPath": "link",
                "x-ms-apimTemplateParameter.oldValue": "http://",
                "x-ms-apimTemplateParameter.newValue": "https://",
                "x-ms-apimTemplate-policySection": "Response" }},
            { "templateId": "stringreplace", "parameters": {
                "x-ms-apimTemplateParameter.oldValue": "secret-host",
                "x-ms-apimTemplateParameter.newValue": "@connectionParameters('alias')",
                "x-ms-apimTemplate-policySection": "Response" }}
        ]));
        let call = Call::new(&[("alias", "public-host")]);
        let mut res = Response::new(Bytes::from_static(
            br#"{"link":"http://secret-host/a","other":"http://x"}"#,
        ));
        set.apply_response("Op", &mut res, &call.ctx()).unwrap();
        let body: Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(
            body,
            json!({"link": "https://public-host/a", "other": "http://x"})
        );
    }

    #[test]
    fn policies_apply_in_listed_order() {
        let set = set(json!([
            { "templateId": "setheader", "parameters": {
                "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "1" }},
            { "templateId": "setheader", "parameters": {
                "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "2" }},
            { "templateId": "setheader", "parameters": {
                "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "3",
                "x-ms-apimTemplateParameter.existsAction": "skip" }}
        ]));
        let mut req = request("GET", "https://h/x", "");
        set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx())
            .unwrap();
        assert_eq!(req.headers()["x-a"], "2");
    }

    #[test]
    fn operation_scope_limits_a_policy() {
        let set = set(json!([{ "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "1",
            "x-ms-apimTemplate-operationName": ["Other"] }}]));
        let mut req = request("GET", "https://h/x", "");
        set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx())
            .unwrap();
        assert!(req.headers().get("x-a").is_none());
        set.apply_request("Other", &no_params(), &mut req, &Call::new(&[]).ctx())
            .unwrap();
        assert_eq!(req.headers()["x-a"], "1");
    }

    #[test]
    fn unknown_and_unsupported_templates_are_warnings() {
        let (set, warnings) = PolicySet::parse(&[
            json!({ "templateId": "frobnicate", "title": "F", "parameters": {} }),
            json!({ "templateId": "updatenextlink", "title": "U", "parameters": {} }),
            json!({ "templateId": "setheader", "title": "Bad", "parameters": {} }),
            json!({ "templateId": "dynamichosturl", "parameters": {
                "x-ms-apimTemplateParameter.urlTemplate": "https://x", "x-ms-apimTemplateParameter.typo": 1 } }),
        ]);
        assert_eq!(set.policies().len(), 1);
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(
            warnings[0].contains("unknown policy template `frobnicate`"),
            "{}",
            warnings[0]
        );
        assert!(warnings[1].contains("not supported"), "{}", warnings[1]);
        assert!(
            warnings[2].contains("x-ms-apimTemplateParameter.name"),
            "{}",
            warnings[2]
        );
        assert!(warnings[3].contains("typo"), "{}", warnings[3]);
    }

    #[test]
    fn request_only_template_in_response_section_is_moved_with_a_warning() {
        let (set, warnings) =
            PolicySet::parse(&[json!({ "templateId": "dynamichosturl", "parameters": {
            "x-ms-apimTemplateParameter.urlTemplate": "https://x",
            "x-ms-apimTemplate-policySection": "Response" } })]);
        assert_eq!(set.policies()[0].section(), Section::Request);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn annature_sets_both_keys_and_turns_head_into_delete() {
        let (set, warnings) = PolicySet::parse(&connector("Annature"));
        assert!(warnings.is_empty(), "{warnings:?}");
        let set = set.with_base_path("/v1");
        let call = Call::new(&[("api_client_id", "id1"), ("api_key", "key1")]);
        let params: IndexMap<String, String> =
            [("id".to_string(), "e1".to_string())].into_iter().collect();
        let mut req = request("HEAD", "https://api.annature.com.au/v1/envelopes/e1", "");
        set.apply_request("DeleteEnvelope", &params, &mut req, &call.ctx())
            .unwrap();
        assert_eq!(req.method(), http::Method::DELETE);
        assert_eq!(
            req.uri().to_string(),
            "https://api.annature.com.au/v1/envelopes/e1"
        );
        assert_eq!(req.headers()["x-annature-id"], "id1");
        assert_eq!(req.headers()["x-annature-key"], "key1");

        let mut get = request("GET", "https://api.annature.com.au/v1/envelopes/e1", "");
        set.apply_request("GetEnvelope", &params, &mut get, &call.ctx())
            .unwrap();
        assert_eq!(get.method(), http::Method::GET);
    }

    #[test]
    fn calendly_sets_bearer_header_and_reroutes_one_operation() {
        let (set, warnings) = PolicySet::parse(&connector("Calendly"));
        assert!(warnings.is_empty(), "{warnings:?}");
        let call = Call::new(&[("api_key", "tok")]);
        let mut req = request(
            "POST",
            "https://api.calendly.com/webhook_subscriptions/routing_form_submission",
            "{}",
        );
        set.apply_request(
            "CreateWebhookSubscriptionRoutingFormSubmission",
            &no_params(),
            &mut req,
            &call.ctx(),
        )
        .unwrap();
        assert_eq!(
            req.uri().to_string(),
            "https://api.calendly.com/webhook_subscriptions"
        );
        assert_eq!(req.headers()["authorization"], "Bearer tok");
        assert_eq!(
            req.headers()["x-calendly-consumer-application"],
            "ms_power_automate"
        );
    }

    #[test]
    fn ibm_watson_takes_its_base_url_from_the_connection() {
        let (set, warnings) = PolicySet::parse(&connector("IBM_Watson_Text_to_Speech"));
        assert!(warnings.is_empty(), "{warnings:?}");
        let set = set.with_base_path("/");
        let call = Call::new(&[(
            "url",
            "https://api.eu-de.text-to-speech.watson.cloud.ibm.com/instances/abc",
        )]);
        let mut req = request(
            "GET",
            "https://text-to-speech.watson.cloud.ibm.com/v1/voices?x=1",
            "",
        );
        set.apply_request("ListVoices", &no_params(), &mut req, &call.ctx())
            .unwrap();
        assert_eq!(
            req.uri().to_string(),
            "https://api.eu-de.text-to-speech.watson.cloud.ibm.com/instances/abc/v1/voices?x=1"
        );
    }

    #[test]
    fn tulip_refers_to_factory_url_with_the_wrong_case() {
        let (set, warnings) = PolicySet::parse(&connector("Tulip"));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            set.referenced_connection_parameters(),
            [("Set Tulip Factory URL", "factoryURL")]
        );
        let set = set.with_base_path("/api/v3");
        let call = Call::new(&[("factoryUrl", "acme.tulip.co")]);
        let mut req = request("GET", "https://api.tulip.co/api/v3/tables", "");
        let err = set
            .apply_request("GetTables", &no_params(), &mut req, &call.ctx())
            .unwrap_err();
        assert_eq!(
            err,
            PolicyError::UndefinedConnectionParameter {
                policy: "Set Tulip Factory URL".into(),
                name: "factoryURL".into()
            }
        );
        assert!(err.to_string().contains("`factoryURL`"));
    }

    #[test]
    fn connectors_without_policies_parse_to_an_empty_set() {
        for name in ["Telstra_SMS", "Industrial_App_Store", "HtmlToText", "VIES"] {
            let (set, warnings) = PolicySet::parse(&connector(name));
            assert!(set.is_empty() && warnings.is_empty(), "{name}");
        }
    }
}
