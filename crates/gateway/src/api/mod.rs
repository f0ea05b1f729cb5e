//! The management API: JSON over HTTP under `/api/v1`, in an environment
//! (at the root for the default one, under `/environments/{id}` for the
//! others), for every caller according to their rights.
//!
//! - [`keys`]: the caller's API keys;
//! - [`connectors`]: connectors, what they hold, and their shares;
//! - [`activity`]: a connector's calls over the last hour, per minute;
//! - [`connections`]: connections, their status, and their shares;
//! - [`operations`]: testing an operation through a connection;
//! - [`validate`]: a package validated as a publish would, nothing stored;
//! - [`environment`]: the environment itself, and its network settings.
//!
//! The routes and the OpenAPI 3.1 document (`GET /api/v1/openapi.json`)
//! come from the same `#[utoipa::path]` handlers through one
//! [`OpenApiRouter`], so the document cannot describe a route that does not
//! exist, nor miss one that does. Every failure is the gateway's
//! problem+json answer: a body that is not JSON is 415, JSON that does not
//! fit the endpoint (a field it does not have, one missing) is 400.

mod activity;
mod connections;
mod connectors;
mod environment;
mod keys;
mod operations;
mod validate;

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::OpenApi as _;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::gateway::Gateway;
use crate::problem::GatewayError;

/// The document's frame: its title, version, the bearer credential every
/// route takes, and the shape of a problem answer.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "sluice management API",
        version = "1",
        description = "Connectors, connections, shares and API keys of one environment: the default one at /api/v1, another at /environments/{id}/api/v1. Every route takes `Authorization: Bearer` with an API key or an OpenID Connect token, and answers failures as application/problem+json."
    ),
    modifiers(&BearerCredential),
    security(("bearer" = [])),
    components(schemas(ProblemBody)),
)]
struct Frame;

/// Declares the `bearer` security scheme the frame names.
struct BearerCredential;

impl utoipa::Modify for BearerCredential {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("A gateway API key (slk_…) or a token of a configured OpenID Connect issuer"));
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme.build()));
    }
}

/// A problem answer (RFC 9457), as every failure of the API is.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
struct ProblemBody {
    /// The problem type, a URI whose last segment names it (`forbidden`, ...).
    r#type: String,
    /// Its title.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for a person.
    detail: String,
    /// The correlation id, as in the `x-correlation-id` header and the log.
    correlation_id: String,
}

/// The routes of the API and their document.
fn described() -> (axum::Router<Gateway>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(Frame::openapi())
        .merge(keys::routes())
        .merge(connectors::routes())
        .merge(activity::routes())
        .merge(connections::routes())
        .merge(operations::routes())
        .merge(validate::routes())
        .merge(environment::routes())
        .split_for_parts()
}

/// The API's routes, with `GET /api/v1/openapi.json` serving their document.
pub fn router() -> axum::Router<Gateway> {
    let (routes, document) = described();
    let document: Arc<str> = document.to_pretty_json().unwrap_or_default().into();
    routes.route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let document = Arc::clone(&document);
            async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], document.to_string()) }
        }),
    )
}

/// A JSON request body: without `Content-Type: application/json` it is 415;
/// JSON that does not parse, or that does not fit the type (a field it does
/// not have, one missing), is 400 with the parser's reason.
#[derive(Debug)]
pub(crate) struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = GatewayError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(GatewayError::UnsupportedMediaType { expected: "application/json" })
            }
            Err(rejection) => Err(GatewayError::BadRequest { reason: rejection.body_text() }),
        }
    }
}

// Path parameters by name, never by position: under
// `/environments/{environment}` the path holds the environment too, which
// `server::enter` reads and these ignore.

/// `{id}`: a connector's or a key's.
#[derive(Debug, Deserialize)]
pub(crate) struct IdPath {
    pub id: String,
}

/// `{id}/shares/{principal}` of a connector.
#[derive(Debug, Deserialize)]
pub(crate) struct SharePath {
    pub id: String,
    pub principal: String,
}

/// `{id}/operations/{operation}` of a connector.
#[derive(Debug, Deserialize)]
pub(crate) struct OperationPath {
    pub id: String,
    pub operation: String,
}

/// `{connector}/{id}` of a connection.
#[derive(Debug, Deserialize)]
pub(crate) struct ConnectionPath {
    pub connector: String,
    pub id: String,
}

/// `{connector}/{id}/shares/{principal}` of a connection.
#[derive(Debug, Deserialize)]
pub(crate) struct ConnectionSharePath {
    pub connector: String,
    pub id: String,
    pub principal: String,
}

/// `201 Created` with a JSON body.
pub(crate) fn created(body: impl serde::Serialize) -> Response {
    (axum::http::StatusCode::CREATED, axum::Json(body)).into_response()
}

/// The display time of a Unix timestamp: RFC 3339, UTC.
pub(crate) fn timestamp(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.to_rfc3339()).unwrap_or_default()
}
