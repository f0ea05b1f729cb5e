//! The request the code receives in `sluice run`: the fixture's client
//! request, made into the backend request the way the gateway makes it.

use std::sync::Arc;

use bytes::Bytes;
use sluice_package::credentials::SendCredentials;
use sluice_package::request::{self, ClientRequest, RequestError};
use sluice_package::{Connection, Package};

use super::RunError;
use crate::fixture::Fixture;

/// What the code receives, as the gateway would give it.
pub(super) struct Prepared {
    /// The request.
    pub(super) request: http::Request<Bytes>,
    /// The URL the client called, as the code's context shows it.
    pub(super) original_url: String,
    /// The credentials for the code's calls to the backend's origin, when
    /// the code may not see them.
    pub(super) credentials: Option<SendCredentials>,
}

/// The request the code receives, built from the fixture's client request
/// as the gateway builds it, and the original URL.
pub(super) fn build_request(
    package: &Arc<Package>,
    operation: &sluice_package::Operation,
    fixture: &Fixture,
    connection: &Arc<Connection>,
) -> Result<Prepared, RunError> {
    let sees_credentials = package.settings.code.sees_credentials;
    let spec = &fixture.request;
    let method = match &spec.method {
        Some(m) => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| RunError::Fixture(format!("`{m}` is not an HTTP method")))?,
        None => operation.method.clone(),
    };
    let base = package.definition.base_url();
    // A URL under the definition's base URL is its path; any other URL is
    // sent as given.
    let path = match (&spec.url, &spec.path) {
        (Some(url), _) => base
            .as_deref()
            .and_then(|base| url.strip_prefix(base))
            .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
            .map(|rest| if rest.starts_with('/') { rest.to_string() } else { format!("/{rest}") }),
        (None, Some(path)) if path.starts_with('/') => Some(path.clone()),
        (None, Some(path)) => Some(format!("/{path}")),
        (None, None) if !operation.path.contains('{') => Some(operation.path.clone()),
        (None, None) => {
            return Err(RunError::Fixture(format!(
                "the operation's path `{}` has parameters; give `request.path` (e.g. with --path)",
                operation.path
            )));
        }
    };
    let (body, content_type) = spec.body().to_bytes();
    let mut headers = http::HeaderMap::new();
    for (name, value) in &spec.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| RunError::Fixture(format!("`{name}` is not a valid header name")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| RunError::Fixture(format!("the value of header `{name}` is not a valid header value")))?;
        headers.append(name, value);
    }
    if let Some(content_type) = content_type
        && !headers.contains_key(http::header::CONTENT_TYPE)
    {
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    }
    let (request, credentials) = match &path {
        Some(path_and_query) => {
            let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
            let route = package
                .definition
                .resolve(&method, path)
                .map_err(|source| RunError::Route { operation: operation.id.clone(), source })?;
            if route.operation.id != operation.id {
                return Err(RunError::OtherOperation {
                    operation: operation.id.clone(),
                    found: route.operation.id.clone(),
                });
            }
            let client = ClientRequest { method: &method, query, headers: &headers, body: &body };
            if sees_credentials {
                (request::prepare(package, &route, &client, connection, None)?, None)
            } else {
                let (request, credentials) = request::prepare_for_code(package, &route, &client, connection, None)?;
                (request, Some(credentials))
            }
        }
        None => {
            let url = spec.url.as_deref().unwrap_or_default();
            let mut request = http::Request::new(body);
            *request.method_mut() = method;
            *request.uri_mut() =
                url.parse().map_err(|e| RunError::Fixture(format!("`{url}` is not a usable URL: {e}")))?;
            *request.headers_mut() = headers.clone();
            let mut credentials = None;
            let values = if sees_credentials {
                sluice_package::credentials::apply(package, connection, None, &mut request)
                    .map_err(RequestError::from)?;
                connection.values()
            } else {
                let send = SendCredentials::new(Arc::clone(package), Arc::clone(connection), None);
                let values = send.masked_values();
                credentials = Some(send);
                values
            };
            let query: Vec<(String, String)> = request
                .uri()
                .query()
                .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default();
            let ctx = sluice_package::policy::ExprContext {
                connection_parameters: &values,
                headers: &headers,
                query: &query,
                gateway: None,
            };
            package
                .policies
                .apply_request(&operation.id, &indexmap::IndexMap::new(), &mut request, &ctx)
                .map_err(RequestError::from)?;
            if let Some(send) = &mut credentials {
                send.set_origin(request.uri());
            }
            (request, credentials)
        }
    };
    let original_url = spec.original_url.clone().unwrap_or_else(|| {
        let tail = path.clone().unwrap_or_else(|| request.uri().path().to_string());
        format!("https://sluice.local/apim/{}/run{tail}", package.id)
    });
    Ok(Prepared { request, original_url, credentials })
}
