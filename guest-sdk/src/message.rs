//! [`Request`] and [`Response`]: HTTP messages with JSON, query and URL helpers.

use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::{Error, Headers};

/// An HTTP request: the one the client made (after credentials and request
/// policies), or one the code sends with [`send`](crate::send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    url: String,
    headers: Headers,
    body: Vec<u8>,
}

impl Request {
    /// A request with no headers and no body. The URL must be absolute.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self { method: method.into(), url: url.into(), headers: Headers::new(), body: Vec::new() }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Changes the method.
    pub fn set_method(&mut self, method: impl Into<String>) {
        self.method = method.into();
    }

    /// The absolute URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Replaces the URL.
    pub fn set_url(&mut self, url: impl Into<String>) {
        self.url = url.into();
    }

    /// The URL, parsed.
    pub fn parsed_url(&self) -> Result<Url, Error> {
        Url::parse(&self.url).map_err(|e| Error::internal(format!("request URL `{}`: {e}", self.url)))
    }

    /// The URL's path, percent-encoded as sent.
    pub fn path(&self) -> Result<String, Error> {
        Ok(self.parsed_url()?.path().to_string())
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let url = Url::parse(&self.url).ok()?;
        url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned())
    }

    /// Sets query parameter `name` to `value`, replacing earlier values and
    /// keeping the other parameters in order.
    pub fn set_query(&mut self, name: &str, value: &str) -> Result<(), Error> {
        self.edit_query(name, Some(value))
    }

    /// Adds the query pair `name=value` after the existing ones, keeping
    /// earlier values of `name`: for lists such as `name[]=a&name[]=b`, or to
    /// add a parameter the way a script appends `&name=value` to the URL.
    pub fn append_query(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let mut url = self.parsed_url()?;
        url.query_pairs_mut().append_pair(name, value);
        self.url = url.into();
        Ok(())
    }

    /// Removes every value of query parameter `name`.
    pub fn remove_query(&mut self, name: &str) -> Result<(), Error> {
        self.edit_query(name, None)
    }

    fn edit_query(&mut self, name: &str, value: Option<&str>) -> Result<(), Error> {
        let mut url = self.parsed_url()?;
        let kept: Vec<(String, String)> =
            url.query_pairs().filter(|(n, _)| n != name).map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
        {
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (n, v) in &kept {
                pairs.append_pair(n, v);
            }
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        self.url = url.into();
        Ok(())
    }

    /// Sends the request to another host (and optionally port), keeping
    /// scheme, path and query. The host must still be allowed by the
    /// connector's egress rules.
    pub fn set_host(&mut self, host: &str) -> Result<(), Error> {
        let mut url = self.parsed_url()?;
        url.set_host(Some(host)).map_err(|e| Error::internal(format!("host `{host}`: {e}")))?;
        self.url = url.into();
        Ok(())
    }

    /// Replaces the path, keeping scheme, host and query.
    pub fn set_path(&mut self, path: &str) -> Result<(), Error> {
        let mut url = self.parsed_url()?;
        url.set_path(path);
        self.url = url.into();
        Ok(())
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The headers, to change them.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Sets a header, replacing earlier values; for chaining.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.set(name, value);
        self
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: impl Into<Vec<u8>>) {
        self.body = body.into();
    }

    /// Takes the body out, leaving it empty.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// Sets the body; for chaining.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The body as UTF-8 text; invalid text is the client's mistake (400).
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|e| Error::bad_request(format!("request body is not UTF-8: {e}")))
    }

    /// The body parsed as JSON; invalid JSON is the client's mistake (400).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::bad_request(format!("request body is not valid JSON: {e}")))
    }

    /// Replaces the body with `value` as JSON and sets `content-type`.
    pub fn set_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.body = serde_json::to_vec(value)?;
        self.headers.set("content-type", "application/json");
        Ok(())
    }

    pub(crate) fn from_parts(method: String, url: String, headers: Headers, body: Vec<u8>) -> Self {
        Self { method, url, headers, body }
    }

    pub(crate) fn into_parts(self) -> (String, String, Headers, Vec<u8>) {
        (self.method, self.url, self.headers, self.body)
    }
}

/// An HTTP response: a backend's, or the one the code returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

impl Response {
    /// A response with this status, no headers and no body.
    pub fn new(status: u16) -> Self {
        Self { status, headers: Headers::new(), body: Vec::new() }
    }

    /// A response whose body is `value` as JSON, with `content-type` set.
    pub fn json_body<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Self, Error> {
        let mut response = Self::new(status);
        response.set_json(value)?;
        Ok(response)
    }

    /// A `text/plain` response.
    pub fn text_body(status: u16, text: impl Into<String>) -> Self {
        let mut response = Self::new(status);
        response.headers.set("content-type", "text/plain; charset=utf-8");
        response.body = text.into().into_bytes();
        response
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Changes the status code.
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The headers, to change them.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Sets a header, replacing earlier values; for chaining.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.set(name, value);
        self
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: impl Into<Vec<u8>>) {
        self.body = body.into();
    }

    /// Takes the body out, leaving it empty.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// The body as UTF-8 text; invalid text is an upstream failure (502).
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|e| Error::upstream(format!("backend body is not UTF-8: {e}")))
    }

    /// The body parsed as JSON; invalid JSON is an upstream failure (502).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::upstream(format!("backend answered invalid JSON: {e}")))
    }

    /// Replaces the body with `value` as JSON and sets `content-type`.
    pub fn set_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.body = serde_json::to_vec(value)?;
        self.headers.set("content-type", "application/json");
        Ok(())
    }

    pub(crate) fn from_parts(status: u16, headers: Headers, body: Vec<u8>) -> Self {
        Self { status, headers, body }
    }

    pub(crate) fn into_parts(self) -> (u16, Headers, Vec<u8>) {
        (self.status, self.headers, self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_query_replaces_and_keeps_other_parameters() {
        let mut request = Request::get("https://api.example/items?a=1&b=2&a=3");
        request.set_query("a", "x y").unwrap();
        assert_eq!(request.url(), "https://api.example/items?b=2&a=x+y");
        assert_eq!(request.query("a").as_deref(), Some("x y"));
        request.remove_query("b").unwrap();
        request.remove_query("a").unwrap();
        assert_eq!(request.url(), "https://api.example/items");
    }

    #[test]
    fn append_query_keeps_earlier_values_in_order() {
        let mut request = Request::get("https://api.example/");
        request.append_query("name[]", "ann").unwrap();
        request.append_query("name[]", "bo b").unwrap();
        assert_eq!(request.url(), "https://api.example/?name%5B%5D=ann&name%5B%5D=bo+b");
        let mut request = Request::get("https://api.example/types?count=2&organization=a");
        request.append_query("organization", "b").unwrap();
        assert_eq!(request.url(), "https://api.example/types?count=2&organization=a&organization=b");
    }

    #[test]
    fn set_host_keeps_path_and_query() {
        let mut request = Request::get("https://api.example/v1/items?x=1");
        request.set_host("eu.api.example").unwrap();
        assert_eq!(request.url(), "https://eu.api.example/v1/items?x=1");
        assert!(request.set_host("bad host").is_err());
    }

    #[test]
    fn invalid_request_json_is_a_client_error_and_invalid_backend_json_an_upstream_one() {
        let request = Request::post("https://api.example/").with_body("{");
        assert!(matches!(request.json::<serde_json::Value>(), Err(Error::Client { status: 400, .. })));
        let response = Response::text_body(200, "<html>");
        assert!(matches!(response.json::<serde_json::Value>(), Err(Error::Upstream(_))));
    }

    #[test]
    fn json_body_sets_content_type() {
        let response = Response::json_body(201, &serde_json::json!({"ok": true})).unwrap();
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert_eq!(response.body(), br#"{"ok":true}"#);
    }
}
