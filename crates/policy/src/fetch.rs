//! The one template that needs a backend call of its own,
//! `setvaluefromurl`: its parameters parsed, the request it makes, and the
//! value it takes from the answer. The crate makes no call itself: the
//! caller hands [`PolicySet::apply_request_fetching`](crate::PolicySet::apply_request_fetching)
//! a [`ValueFetch`] that sends the request the way the caller sends any
//! backend request (through its egress policy), so policy code still does no
//! I/O of its own.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response};
use serde_json::Value;

use crate::body::{self, BodyPath};
use crate::error::PolicyError;
use crate::expr::{Reference, Template};

/// A boxed future of a [`ValueFetch`]'s answer.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Response<Bytes>, String>> + Send + 'a>>;

/// Sends the backend requests that `setvaluefromurl` policies make.
pub trait ValueFetch: Sync {
    /// Sends `request` for the policy titled `policy` and returns the
    /// backend's answer, whatever its status; the error says why nothing
    /// came back (and must hold no secret: it reaches the client).
    fn fetch<'a>(&'a self, policy: &'a str, request: Request<Bytes>) -> FetchFuture<'a>;
}

/// The [`ValueFetch`] of callers that cannot make backend calls for a
/// policy: every `setvaluefromurl` then fails with
/// [`PolicyError::FetchUnavailable`], which names `reason`.
#[derive(Debug, Clone, Copy)]
pub struct NoFetch(pub &'static str);

impl ValueFetch for NoFetch {
    fn fetch<'a>(&'a self, _policy: &'a str, _request: Request<Bytes>) -> FetchFuture<'a> {
        Box::pin(std::future::ready(Err(self.0.to_string())))
    }
}

/// Where `setvaluefromurl` puts the value it fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueTarget {
    /// `@headers('name')`: the request header, replaced.
    Header(HeaderName),
    /// `@queryParameters('name')`: the backend URL's query parameter,
    /// replaced.
    Query(String),
    /// `@body().path`: a property of the JSON request body.
    Body(BodyPath),
}

/// A parsed `setvaluefromurl`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueFromUrl {
    /// `parameterTemplate`.
    pub(crate) target: ValueTarget,
    /// `httpMethod` (default `GET`).
    pub(crate) method: Method,
    /// `parameterValueUrl`: relative to the request's base URL as the
    /// earlier policies left it, or absolute; `{name}` placeholders are the
    /// operation's path parameters.
    pub(crate) url: Template,
    /// `parameterValuePathTemplate`: where the value is in the answer's
    /// JSON body.
    pub(crate) value: BodyPath,
}

impl ValueFromUrl {
    /// Parses the template's parameters: `target` is `parameterTemplate`,
    /// `method` `httpMethod`, `url` `parameterValueUrl` and `value`
    /// `parameterValuePathTemplate`. The error says which is wrong.
    pub(crate) fn parse(target: &str, method: Option<&str>, url: Template, value: &str) -> Result<Self, String> {
        let target = if target.trim().starts_with("@body") {
            ValueTarget::Body(BodyPath::parse(target).map_err(|e| format!("parameterTemplate: {e}"))?)
        } else {
            let parsed = Template::parse(target).map_err(|e| format!("parameterTemplate: {e}"))?;
            match parsed.as_reference() {
                Some(Reference::Header(name)) => ValueTarget::Header(
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("parameterTemplate: `{name}` is not a valid header name"))?,
                ),
                Some(Reference::Query(name)) => ValueTarget::Query(name),
                None => {
                    return Err(format!(
                        "parameterTemplate `{target}` is none of `@headers('name')`, `@queryParameters('name')` \
                         or a `@body()` path"
                    ));
                }
            }
        };
        let method = match method.map(str::trim).filter(|m| !m.is_empty()) {
            None => Method::GET,
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("httpMethod `{m}` is not an HTTP method"))?,
        };
        let value = BodyPath::parse(value).map_err(|e| format!("parameterValuePathTemplate: {e}"))?;
        Ok(Self { target, method, url, value })
    }
}

/// The request a `setvaluefromurl` sends: its method, `url` (absolute,
/// already made), the request's headers as the earlier policies left them
/// (which carry the connection's credentials) and no body.
pub(crate) fn value_request(
    policy: &str,
    method: &Method,
    url: &str,
    headers: &http::HeaderMap,
) -> Result<Request<Bytes>, PolicyError> {
    let uri: http::Uri = url::Url::parse(url)
        .map_err(|e| e.to_string())
        .and_then(|u| http::Uri::try_from(u.as_str()).map_err(|e| e.to_string()))
        .map_err(|reason| PolicyError::InvalidUrl { policy: policy.to_string(), url: url.to_string(), reason })?;
    let mut request = Request::new(Bytes::new());
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers.clone();
    // The body is empty: what described the client's body does not hold.
    for name in [http::header::CONTENT_LENGTH, http::header::TRANSFER_ENCODING] {
        request.headers_mut().remove(name);
    }
    Ok(request)
}

/// The value at `path` in a `setvaluefromurl` answer: a string as it is,
/// another JSON value as its JSON text. A status other than 2xx, a body that
/// is not JSON, and a missing or `null` value are errors naming the policy.
pub(crate) fn value_of(policy: &str, path: &BodyPath, response: &Response<Bytes>) -> Result<String, PolicyError> {
    let failed = |reason: String| PolicyError::FetchedValue { policy: policy.to_string(), reason };
    if !response.status().is_success() {
        return Err(failed(format!("the backend answered {}", response.status())));
    }
    let json: Value =
        serde_json::from_slice(response.body()).map_err(|e| failed(format!("the answer is not JSON: {e}")))?;
    match body::get(&json, &path.steps) {
        None | Some(Value::Null) => Err(failed("the answer has no value at parameterValuePathTemplate".into())),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Ok(other.to_string()),
    }
}

/// A fetched value as a header value, marked sensitive: it may be a token.
pub(crate) fn header_value(policy: &str, name: &HeaderName, value: &str) -> Result<HeaderValue, PolicyError> {
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| PolicyError::InvalidHeader { policy: policy.to_string(), name: name.to_string() })?;
    value.set_sensitive(true);
    Ok(value)
}
