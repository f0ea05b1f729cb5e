//! Policy templates whose parameters are fuzzed expressions
//! (`@connectionParameters('x')`, `@headers('x')`, `@queryParameters('x')`,
//! `@{…}`, `@@`), applied to a fuzzed request and response.
//!
//! What must hold: nothing panics; a value is parsed or refused with a
//! warning; a literal value (no `@`) set as a header arrives unchanged when
//! it is a valid header value; a `Content-Length` that the policies keep
//! states the body's length.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderName, HeaderValue, Request, Response};
use indexmap::IndexMap;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sluice_policy::{ExprContext, PolicySet};

const TEMPLATES: [(&str, &[&str]); 5] = [
    ("setheader", &["name", "value", "existsAction"]),
    ("setqueryparameter", &["name", "value", "existsAction"]),
    ("routerequesttoendpoint", &["newPath", "httpMethod"]),
    ("dynamichosturl", &["urlTemplate"]),
    ("setproperty", &["newPropertyParentPathTemplate", "newPropertySubPathTemplate", "propertyValuePathTemplate"]),
];

#[derive(Debug, Arbitrary)]
struct Instance {
    template: u8,
    response: bool,
    values: Vec<String>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    instances: Vec<Instance>,
    literal_header: String,
    connection: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    path: String,
    body: Vec<u8>,
    json_body: bool,
}

fn instance(instance: &Instance) -> Value {
    let (id, names) = TEMPLATES[usize::from(instance.template) % TEMPLATES.len()];
    let mut parameters = serde_json::Map::new();
    for (name, value) in names.iter().zip(&instance.values) {
        parameters.insert(format!("x-ms-apimTemplateParameter.{name}"), json!(value));
    }
    let section = if instance.response { "Response" } else { "Request" };
    parameters.insert("x-ms-apimTemplate-policySection".into(), json!(section));
    json!({"templateId": id, "title": id, "parameters": parameters})
}

fuzz_target!(|input: Input| {
    let mut instances: Vec<Value> = input.instances.iter().take(6).map(instance).collect();
    let literal = !input.literal_header.contains('@');
    instances.push(json!({"templateId": "setheader", "title": "literal", "parameters": {
        "x-ms-apimTemplateParameter.name": "x-fuzz-literal",
        "x-ms-apimTemplateParameter.value": input.literal_header,
        "x-ms-apimTemplateParameter.existsAction": "override",
    }}));
    let (set, _warnings) = PolicySet::parse(&instances);
    // An empty value, say, is refused at load (with a warning) and sets nothing.
    let literal = literal && set.policies().last().is_some_and(|p| p.title() == "literal");
    let set = set.with_base_path("/v1").with_body_limits(1 << 16, 1 << 16);

    let connection: IndexMap<String, String> = input.connection.into_iter().collect();
    let mut headers = http::HeaderMap::new();
    for (name, value) in &input.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    }
    let ctx = ExprContext { connection_parameters: &connection, headers: &headers, query: &input.query, gateway: None };
    let _ = set.dynamic_host_urls(&ctx);

    let body = Bytes::from(input.body);
    let uri = format!("https://backend.test/v1/{}", input.path.trim_start_matches('/'));
    let Ok(mut request) = Request::builder()
        .method("POST")
        .uri(uri)
        .header(CONTENT_LENGTH, body.len())
        .header("content-type", if input.json_body { "application/json" } else { "text/plain" })
        .body(body.clone())
    else {
        return;
    };
    let outcome = set.apply_request("Op", &IndexMap::new(), &mut request, &ctx);
    if let Some(length) = request.headers().get(CONTENT_LENGTH) {
        assert_eq!(length.to_str().ok(), Some(request.body().len().to_string().as_str()));
    }
    if outcome.is_ok() && literal && HeaderValue::from_str(&input.literal_header).is_ok() {
        // Later policies of the set may not touch it: it is the last.
        let got: Vec<_> = request.headers().get_all("x-fuzz-literal").iter().map(|v| v.as_bytes()).collect();
        assert_eq!(got, [input.literal_header.as_bytes()], "a literal value changed on the way");
    }

    let mut response = Response::builder()
        .header(CONTENT_LENGTH, body.len())
        .header("content-type", if input.json_body { "application/json" } else { "text/plain" })
        .body(body)
        .expect("a response of valid parts");
    let _ = set.apply_response("Op", &mut response, &ctx);
    if let Some(length) = response.headers().get(CONTENT_LENGTH) {
        assert_eq!(length.to_str().ok(), Some(response.body().len().to_string().as_str()));
    }
});
