//! The backend request of an operation call, built the one way both the
//! gateway and `sluice run` build it, so that custom code sees the same
//! request online and offline:
//!
//! 1. the route (operation and path parameters, [`crate::Definition::resolve`]);
//! 2. missing query and header parameters get their declared default;
//!    missing required ones are the client's mistake;
//! 3. the backend URL from `schemes`, `host`, `basePath` and the template;
//! 4. the client's headers (not hop-by-hop ones) and body;
//! 5. the connection's credentials ([`crate::credentials::apply`]);
//! 6. the request policies, in the order the package lists them.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use sluice_policy::{ExprContext, PolicyError, ValueFetch};

use crate::connection::Connection;
use crate::credentials::{self, CredentialError, SendCredentials};
use crate::route::{BackendUrlError, Route};
use crate::{Package, ParameterLocation};

/// Headers that belong to one hop and are never forwarded.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// What the client sent, as far as the backend request is made of it.
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The query string as sent, without `?` (empty when none).
    pub query: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a Bytes,
}

/// The backend request could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A required parameter is missing: the client's mistake.
    #[error("operation `{operation}` requires the {location} parameter `{name}`")]
    MissingParameter {
        /// The operation.
        operation: String,
        /// Where the parameter goes (`query`, `header`, `body`, ...).
        location: &'static str,
        /// The parameter.
        name: String,
    },
    /// The backend URL cannot be built from the path parameters.
    #[error(transparent)]
    BackendUrl(#[from] BackendUrlError),
    /// The definition declares a header that cannot be sent.
    #[error(
        "operation `{operation}` declares a header `{name}` that is not a valid header, or whose default is not a valid value"
    )]
    InvalidHeader {
        /// The operation.
        operation: String,
        /// The header as declared.
        name: String,
    },
    /// The credentials could not be applied.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// A request policy could not be applied.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A `setvaluefromurl` policy runs before code that may not see the
    /// connection's credentials: its call is made with them, so its value
    /// (a token, say) would reach the code.
    #[error(
        "operation `{operation}` has a setvaluefromurl policy before code that may not see credentials: the value \
         it fetches is made with them; let the code see them (`[code] sees_credentials = true` in sluice.toml) or \
         fetch the value in the code"
    )]
    FetchBeforeCode {
        /// The operation.
        operation: String,
    },
}

/// The backend request of `route` for `client`, before credentials and
/// policies: defaults filled in, the backend URL built, the client's headers
/// and body carried over.
pub fn backend_request(
    package: &Package,
    route: &Route<'_>,
    client: &ClientRequest<'_>,
) -> Result<http::Request<Bytes>, RequestError> {
    build(package, route, client, &client.query_pairs())
}

impl ClientRequest<'_> {
    /// The query's pairs, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes()).into_owned().collect()
    }
}

fn build(
    package: &Package,
    route: &Route<'_>,
    client: &ClientRequest<'_>,
    query: &[(String, String)],
) -> Result<http::Request<Bytes>, RequestError> {
    let operation = route.operation;
    // Missing parameters with a default get it (the platform fills in
    // internal parameters this way); missing required ones are the client's
    // mistake.
    let mut default_query = Vec::new();
    let mut default_headers = Vec::new();
    for parameter in &operation.parameters {
        let present = match parameter.location {
            ParameterLocation::Query => query.iter().any(|(name, _)| *name == parameter.name),
            ParameterLocation::Header => client.headers.contains_key(parameter.name.as_str()),
            ParameterLocation::Body => !client.body.is_empty(),
            _ => true,
        };
        if present {
            continue;
        }
        let default = parameter.default.as_ref().map(|value| match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        });
        match (parameter.location, default) {
            (ParameterLocation::Query, Some(value)) => default_query.push((parameter.name.clone(), value)),
            (ParameterLocation::Header, Some(value)) => default_headers.push((parameter.name.clone(), value)),
            // A required header no client can send (its name is not a header
            // name) is the definition's defect, not the caller's.
            (ParameterLocation::Header, None)
                if parameter.required && http::HeaderName::from_bytes(parameter.name.as_bytes()).is_err() =>
            {
                return Err(RequestError::InvalidHeader {
                    operation: operation.id.clone(),
                    name: parameter.name.clone(),
                });
            }
            _ if parameter.required => {
                return Err(RequestError::MissingParameter {
                    operation: operation.id.clone(),
                    location: parameter.location.as_str(),
                    name: parameter.name.clone(),
                });
            }
            _ => {}
        }
    }
    let query_string = if default_query.is_empty() {
        client.query.to_string()
    } else {
        let mut serializer = url::form_urlencoded::Serializer::new(client.query.to_string());
        serializer.extend_pairs(&default_query);
        serializer.finish()
    };
    let url = package.definition.backend_url(operation, &route.path_params, &query_string)?;
    let mut request = http::Request::new(client.body.clone());
    *request.method_mut() = client.method.clone();
    *request.uri_mut() = url.as_str().parse().map_err(|e: http::uri::InvalidUri| BackendUrlError::Invalid {
        operation: operation.id.clone(),
        reason: e.to_string(),
    })?;
    for (name, value) in client.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != header::CONTENT_LENGTH {
            request.headers_mut().append(name, value.clone());
        }
    }
    for (name, value) in default_headers {
        let invalid = || RequestError::InvalidHeader { operation: operation.id.clone(), name: name.clone() };
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let header_value = HeaderValue::from_str(&value).map_err(|_| invalid())?;
        request.headers_mut().insert(header_name, header_value);
    }
    Ok(request)
}

/// The whole backend request: [`backend_request`], then the connection's
/// credentials (`token` is the OAuth access token of a signed-in
/// connection), then the request policies. Policy expressions read the
/// client's original query, and the request's headers as the earlier
/// policies left them. A `setvaluefromurl` policy fails here
/// ([`PolicyError::FetchUnavailable`]): [`prepare_fetching`] makes its call.
pub fn prepare(
    package: &Package,
    route: &Route<'_>,
    client: &ClientRequest<'_>,
    connection: &Connection,
    token: Option<&str>,
) -> Result<http::Request<Bytes>, RequestError> {
    let query = client.query_pairs();
    let mut request = credentialed(package, route, client, &query, connection, token)?;
    let ctx = ExprContext { connection_parameters: connection, headers: client.headers, query: &query, gateway: None };
    package.policies.apply_request(&route.operation.id, &route.path_params, &mut request, &ctx)?;
    Ok(request)
}

/// [`prepare`], with `fetch` sending the backend calls of `setvaluefromurl`
/// policies (the request's headers as the earlier policies left them, the
/// connection's credentials among them, to the URL the policy names).
pub async fn prepare_fetching(
    package: &Package,
    route: &Route<'_>,
    client: &ClientRequest<'_>,
    connection: &Connection,
    token: Option<&str>,
    fetch: &dyn ValueFetch,
) -> Result<http::Request<Bytes>, RequestError> {
    let query = client.query_pairs();
    let mut request = credentialed(package, route, client, &query, connection, token)?;
    let ctx = ExprContext { connection_parameters: connection, headers: client.headers, query: &query, gateway: None };
    let operation = &route.operation.id;
    package.policies.apply_request_fetching(operation, &route.path_params, &mut request, &ctx, fetch).await?;
    Ok(request)
}

/// The request with the connection's credentials, before the policies.
fn credentialed(
    package: &Package,
    route: &Route<'_>,
    client: &ClientRequest<'_>,
    query: &[(String, String)],
    connection: &Connection,
    token: Option<&str>,
) -> Result<http::Request<Bytes>, RequestError> {
    let mut request = build(package, route, client, query)?;
    credentials::apply(package, connection, token, &mut request)?;
    Ok(request)
}

/// The request for custom code that may not see the connection's
/// credentials: [`backend_request`], then the request policies reading the
/// connection with its secret values as placeholders; no credentials. The
/// [`SendCredentials`] returned put them, and the secrets behind the
/// placeholders, on the code's requests to this request's origin.
pub fn prepare_for_code(
    package: &std::sync::Arc<Package>,
    route: &Route<'_>,
    client: &ClientRequest<'_>,
    connection: &std::sync::Arc<Connection>,
    token: Option<&str>,
) -> Result<(http::Request<Bytes>, SendCredentials), RequestError> {
    if package.policies.fetches_for(&route.operation.id) {
        return Err(RequestError::FetchBeforeCode { operation: route.operation.id.clone() });
    }
    let query = client.query_pairs();
    let mut request = build(package, route, client, &query)?;
    let mut send = SendCredentials::new(std::sync::Arc::clone(package), std::sync::Arc::clone(connection), token);
    let values = send.masked();
    let ctx = ExprContext { connection_parameters: &values, headers: client.headers, query: &query, gateway: None };
    package.policies.apply_request(&route.operation.id, &route.path_params, &mut request, &ctx)?;
    send.set_origin(request.uri());
    Ok((request, send))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    /// A package with one operation that has a path parameter, a query
    /// parameter with a default, a required header, an API key and a policy.
    fn package() -> (tempfile::TempDir, Package) {
        let dir = tempfile::tempdir().unwrap();
        let definition = serde_json::json!({
            "swagger": "2.0", "host": "api.contoso.example", "basePath": "/v1", "schemes": ["https"],
            "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
            "paths": {"/orders/{id}": {"get": {"operationId": "GetOrder", "parameters": [
                {"name": "id", "in": "path", "required": true, "type": "string"},
                {"name": "expand", "in": "query", "type": "string", "default": "lines"},
                {"name": "X-Tenant", "in": "header", "required": true, "type": "string"}
            ], "responses": {"200": {"description": "ok"}}}}}
        });
        let properties = serde_json::json!({"properties": {
            "connectionParameters": {"key": {"type": "securestring"}, "region": {"type": "string"}},
            "policyTemplateInstances": [{"templateId": "setqueryparameter", "parameters": {
                "x-ms-apimTemplateParameter.name": "region",
                "x-ms-apimTemplateParameter.value": "@connectionParameters('region')"}}]
        }});
        std::fs::write(dir.path().join(crate::DEFINITION_FILE), definition.to_string()).unwrap();
        std::fs::write(dir.path().join(crate::PROPERTIES_FILE), properties.to_string()).unwrap();
        let package = crate::load_package(dir.path()).unwrap();
        (dir, package)
    }

    fn connection(package: &Package) -> Connection {
        let values = [("key", "k-1"), ("region", "eu")]
            .into_iter()
            .map(|(name, value)| (name.to_string(), Secret::new(value)))
            .collect();
        Connection::new("c1", &package.id, values, &package.properties.connection_parameters).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn the_backend_request_gets_defaults_the_url_and_the_clients_headers() {
        let (_dir, package) = package();
        let route = package.definition.resolve(&Method::GET, "/orders/a%2Fb").unwrap();
        let headers = headers(&[("x-tenant", "t1"), ("connection", "close"), ("host", "gateway")]);
        let body = Bytes::new();
        let client = ClientRequest { method: &Method::GET, query: "", headers: &headers, body: &body };
        let request = backend_request(&package, &route, &client).unwrap();
        assert_eq!(request.uri(), "https://api.contoso.example/v1/orders/a%2Fb?expand=lines");
        assert_eq!(request.headers()["x-tenant"], "t1");
        assert!(!request.headers().contains_key("connection") && !request.headers().contains_key("host"));
    }

    #[test]
    fn a_missing_required_parameter_is_named() {
        let (_dir, package) = package();
        let route = package.definition.resolve(&Method::GET, "/orders/7").unwrap();
        let none = HeaderMap::new();
        let body = Bytes::new();
        let client = ClientRequest { method: &Method::GET, query: "", headers: &none, body: &body };
        let error = backend_request(&package, &route, &client).unwrap_err();
        assert!(
            matches!(&error, RequestError::MissingParameter { name, location: "header", .. } if name == "X-Tenant"),
            "{error}"
        );
    }

    #[test]
    fn a_required_header_no_client_can_send_is_the_definitions_defect() {
        let dir = tempfile::tempdir().unwrap();
        let definition = serde_json::json!({
            "swagger": "2.0", "host": "api.contoso.example", "paths": {"/run": {"post": {"operationId": "Run",
                "parameters": [{"name": "Account Id", "in": "header", "required": true, "type": "string"}],
                "responses": {"200": {"description": "ok"}}}}}
        });
        std::fs::write(dir.path().join(crate::DEFINITION_FILE), definition.to_string()).unwrap();
        std::fs::write(dir.path().join(crate::PROPERTIES_FILE), r#"{"properties": {}}"#).unwrap();
        let package = crate::load_package(dir.path()).unwrap();
        let route = package.definition.resolve(&Method::POST, "/run").unwrap();
        let (none, body) = (HeaderMap::new(), Bytes::new());
        let client = ClientRequest { method: &Method::POST, query: "", headers: &none, body: &body };
        let error = backend_request(&package, &route, &client).unwrap_err();
        assert!(matches!(&error, RequestError::InvalidHeader { name, .. } if name == "Account Id"), "{error}");
    }

    #[test]
    fn prepare_applies_credentials_then_policies() {
        let (_dir, package) = package();
        let route = package.definition.resolve(&Method::GET, "/orders/7").unwrap();
        let headers = headers(&[("x-tenant", "t1")]);
        let body = Bytes::new();
        let client = ClientRequest { method: &Method::GET, query: "expand=none", headers: &headers, body: &body };
        let request = prepare(&package, &route, &client, &connection(&package), None).unwrap();
        assert_eq!(request.headers()["x-key"], "k-1");
        assert!(request.headers()["x-key"].is_sensitive());
        assert_eq!(request.uri(), "https://api.contoso.example/v1/orders/7?expand=none&region=eu");
    }

    /// The value a `setvaluefromurl` fetches is made with the credentials,
    /// so code that may not see them cannot get a request carrying it.
    #[test]
    fn a_fetching_policy_before_code_that_may_not_see_credentials_is_refused() {
        let (dir, _) = package();
        let properties = serde_json::json!({"properties": {
            "connectionParameters": {"key": {"type": "securestring"}, "region": {"type": "string"}},
            "policyTemplateInstances": [{"templateId": "setvaluefromurl", "parameters": {
                "x-ms-apimTemplateParameter.parameterTemplate": "@headers('If-Match')",
                "x-ms-apimTemplateParameter.parameterValueUrl": "/orders/{id}",
                "x-ms-apimTemplateParameter.parameterValuePathTemplate": "@body().etag"}}]
        }});
        std::fs::write(dir.path().join(crate::PROPERTIES_FILE), properties.to_string()).unwrap();
        let package = std::sync::Arc::new(crate::load_package(dir.path()).unwrap());
        let route = package.definition.resolve(&Method::GET, "/orders/7").unwrap();
        let headers = headers(&[("x-tenant", "t1")]);
        let body = Bytes::new();
        let client = ClientRequest { method: &Method::GET, query: "", headers: &headers, body: &body };
        let error =
            prepare_for_code(&package, &route, &client, &std::sync::Arc::new(connection(&package)), None).unwrap_err();
        assert!(matches!(&error, RequestError::FetchBeforeCode { operation } if operation == "GetOrder"), "{error}");
        assert!(error.to_string().contains("sees_credentials"), "the fix is named: {error}");
        // Without code, the plain `prepare` cannot make the call either, and says so.
        let error = prepare(&package, &route, &client, &connection(&package), None).unwrap_err();
        assert!(matches!(&error, RequestError::Policy(PolicyError::FetchUnavailable { .. })), "{error}");
    }
}
