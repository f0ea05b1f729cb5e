//! What the policy tests share: a call's expression context, requests,
//! and the policies of the repository's packages.
#![allow(dead_code)]

pub use bytes::Bytes;
pub use http::header::CONTENT_LENGTH;
pub use http::{HeaderValue, Request, Response};
pub use indexmap::IndexMap;
pub use serde_json::{Value, json};
pub use sluice_policy::{ExprContext, PolicyError, PolicySet, Section};

pub struct Call {
    pub conn: IndexMap<String, String>,
    pub headers: http::HeaderMap,
    pub query: Vec<(String, String)>,
}

impl Call {
    pub fn new(conn: &[(&str, &str)]) -> Self {
        Self {
            conn: conn.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            headers: http::HeaderMap::new(),
            query: Vec::new(),
        }
    }

    pub fn ctx(&self) -> ExprContext<'_> {
        ExprContext { connection_parameters: &self.conn, headers: &self.headers, query: &self.query, gateway: None }
    }
}

pub fn set(instances: Value) -> PolicySet {
    let (set, warnings) = PolicySet::parse(instances.as_array().unwrap());
    assert!(warnings.is_empty(), "{warnings:?}");
    set
}

pub fn request(method: &str, uri: &str, body: &str) -> Request<Bytes> {
    Request::builder().method(method).uri(uri).body(Bytes::from(body.to_string())).unwrap()
}

pub fn json_body(req: &Request<Bytes>) -> Value {
    serde_json::from_slice(req.body()).unwrap()
}

/// The policies of a package of the repository: an example connector,
/// else a test package of `tests/data/packages`.
pub fn connector(name: &str) -> Vec<Value> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let example = format!("{root}/examples/{name}/apiProperties.json");
    let path = if std::path::Path::new(&example).exists() {
        example
    } else {
        format!("{root}/tests/data/packages/{name}/apiProperties.json")
    };
    let file: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    file["properties"]["policyTemplateInstances"].as_array().cloned().unwrap_or_default()
}

pub fn no_params() -> IndexMap<String, String> {
    IndexMap::new()
}

/// The one load warning of a policy, titled `T`, that does not load.
pub fn refused(template_id: &str, parameters: Value) -> String {
    let instance = json!({ "templateId": template_id, "title": "T", "parameters": parameters });
    let (set, warnings) = PolicySet::parse(&[instance]);
    assert!(set.is_empty(), "{warnings:?}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    warnings[0].clone()
}

/// A `ValueFetch` that records the requests it is given and answers each
/// with the next of its answers (status and body).
pub struct Answers {
    pub sent: std::sync::Mutex<Vec<Request<Bytes>>>,
    answers: std::sync::Mutex<Vec<(u16, String)>>,
}

impl Answers {
    pub fn new(answers: &[(u16, &str)]) -> Self {
        Self {
            sent: std::sync::Mutex::new(Vec::new()),
            answers: std::sync::Mutex::new(answers.iter().rev().map(|(s, b)| (*s, b.to_string())).collect()),
        }
    }

    pub fn sent(&self) -> Vec<Request<Bytes>> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

impl sluice_policy::ValueFetch for Answers {
    fn fetch<'a>(&'a self, _policy: &'a str, request: Request<Bytes>) -> sluice_policy::FetchFuture<'a> {
        self.sent.lock().unwrap().push(request);
        let answer = match self.answers.lock().unwrap().pop() {
            Some((status, body)) => {
                let mut response = Response::new(Bytes::from(body));
                *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
                Ok(response)
            }
            None => Err("no answer left".to_string()),
        };
        Box::pin(std::future::ready(answer))
    }
}

/// Runs a future whose every wait is already over (the policies' with
/// [`Answers`]): it must finish at its first poll.
pub fn now<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("the future waited"),
    }
}
