//! The backend of `sluice run`: the fixture's canned responses, with every
//! request the code sends recorded.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use sluice_package::credentials::SendCredentials;
use sluice_runtime::{Backend, CallInfo, SendError};

use super::RecordedRequest;
use crate::fixture::BackendEntry;

/// Answers `send` from the fixture and records every request.
pub(super) struct FixtureBackend {
    pub(super) entries: Vec<BackendEntry>,
    /// The credentials the code may not see, put on its calls to the
    /// backend's origin as the gateway does.
    pub(super) credentials: Option<SendCredentials>,
    pub(super) recorded: Mutex<Vec<RecordedRequest>>,
}

#[async_trait]
impl Backend for FixtureBackend {
    async fn send(
        &self,
        _call: &CallInfo,
        mut request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, SendError> {
        if let Some(credentials) = &self.credentials {
            credentials.apply(&mut request).map_err(|e| SendError::InvalidRequest(e.to_string()))?;
        }
        let method = request.method().as_str().to_string();
        let url = request.uri().to_string();
        let matched = self.entries.iter().position(|e| e.matches(&method, &url));
        let headers = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner).push(RecordedRequest {
            method: method.clone(),
            url: url.clone(),
            headers,
            body: request.body().clone(),
            matched,
        });
        let Some(index) = matched else {
            return Err(SendError::Unreachable(format!(
                "sluice run: no canned response in the fixture for {method} {url}"
            )));
        };
        let spec = &self.entries[index].response;
        let (body, content_type) = spec.body().to_bytes();
        let mut builder = http::Response::builder().status(spec.status);
        for (name, value) in &spec.headers {
            builder = builder.header(name, value);
        }
        if let Some(content_type) = content_type
            && !spec.headers.keys().any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
        }
        builder
            .body(body)
            .map_err(|e| SendError::Failed(format!("backend[{index}] of the fixture is not a valid response: {e}")))
    }
}
