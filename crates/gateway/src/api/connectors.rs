//! `/api/v1/connectors`: publishing, updating, downloading and deleting
//! connectors as `paconn` does ([`crate::catalog`]), the connectors a caller
//! may see with what each holds (operations with their parameters, the
//! connection parameters it declares, code, policies, OAuth, validation),
//! their shares, and the environment's audit log. Connectors of the
//! packages folder are read-only here: the folder is their source, as a
//! GitOps deployment wants.
//!
//! The list is read on every page of the console, so it reads only the
//! snapshot, the registry and the newest versions' rows (one query), never
//! an archive.

use std::sync::Arc;

use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, ProblemBody};
use crate::access::{Caller, Denied, Directory, Right};
use crate::catalog::{Catalog, Published};
use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::problem::GatewayError;
use crate::registry::LoadedConnector;
use crate::server::InEnvironment;

pub(super) fn routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(list, publish))
        .routes(routes!(show, update, delete))
        .routes(routes!(download))
        .routes(routes!(shares))
        .routes(routes!(share, unshare))
        .routes(routes!(audit))
}

/// What a connector as listed and as shown both say.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConnectorCore {
    /// Its id (the package folder's name).
    id: String,
    /// The definition's title, when it loaded.
    title: Option<String>,
    /// Its owner; none means the environment's admins.
    owner: Option<String>,
    /// What the caller may do with it: `can-use` or `can-edit`.
    right: String,
    /// Whether it comes from the packages folder, which only its operator
    /// changes; a connector published through the API is not.
    read_only: bool,
    /// `ready`, `failed` (no version loads) or `stale` (the newest version
    /// failed; the last good one serves).
    status: String,
    /// Why the newest version did not load.
    failure: Option<String>,
    /// How many operations the serving version has.
    operations: usize,
    /// How many users and groups it is shared with; only for a caller who
    /// may edit it, else null.
    shares: Option<usize>,
}

/// A connector as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConnectorSummary {
    #[serde(flatten)]
    core: ConnectorCore,
    /// How many findings validation had for the newest published version;
    /// none for a connector of the packages folder.
    validation: Option<ValidationCounts>,
}

/// A connector with what it holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConnectorDetail {
    #[serde(flatten)]
    core: ConnectorCore,
    /// Its operations, in the definition's order.
    operation_list: Vec<OperationInfo>,
    /// The connection parameters the serving version declares, in file
    /// order: what a connection must supply, never a connection's values.
    /// For a connector with parameter sets, `parameter_sets` says what a
    /// connection supplies instead.
    connection_parameters: Vec<ConnectionParameterInfo>,
    /// `connectionParameterSets`: the ways to connect, of which a
    /// connection chooses one (`parameter_set`), in file order; empty for a
    /// connector without sets.
    parameter_sets: Vec<ParameterSetInfo>,
    /// `connectionParameterSets.uiDefinition.displayName`: what a form
    /// asking for the choice of set says, e.g. "Authentication type".
    parameter_sets_label: Option<String>,
    /// Its custom code, if it has any.
    code: Option<CodeInfo>,
    /// Its policies, in the order they run.
    policies: Vec<PolicyInfo>,
    /// How its connections sign in with OAuth, if they do; for a connector
    /// with parameter sets, each set that signs in says so instead.
    oauth: Option<OAuthInfo>,
    /// What validation found when the newest version was published; none
    /// for a connector of the packages folder (`sluice validate` checks it).
    validation: Option<Validation>,
}

/// How many findings of each severity a validation had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub(super) struct ValidationCounts {
    /// Errors (a published version has none: they refuse it).
    errors: usize,
    /// Warnings.
    warnings: usize,
}

impl ValidationCounts {
    /// The counts of stored findings, as a version's row holds them (a
    /// JSON list; anything else counts nothing).
    fn of_stored(findings: &serde_json::Value) -> Self {
        let findings = findings.as_array().map(Vec::as_slice).unwrap_or_default();
        let errors = findings.iter().filter(|f| f["severity"] == "error").count();
        Self { errors, warnings: findings.len() - errors }
    }

    /// The counts of findings just made.
    pub(super) fn of(findings: &[sluice_tools::validate::Finding]) -> Self {
        let errors = findings.iter().filter(|f| f.severity == sluice_tools::validate::Severity::Error).count();
        Self { errors, warnings: findings.len() - errors }
    }
}

/// A version's validation, when it was published.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Validation {
    /// The version validated.
    version: i64,
    /// When (RFC 3339).
    at: String,
    #[serde(flatten)]
    counts: ValidationCounts,
    /// Its warnings (an error would have refused it): rule, severity, file,
    /// JSON path and message each.
    #[schema(value_type = Vec<Object>)]
    findings: serde_json::Value,
}

/// One operation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct OperationInfo {
    /// The operationId.
    id: String,
    /// The HTTP method.
    method: String,
    /// The path template.
    path: String,
    /// The summary.
    summary: Option<String>,
    /// The description.
    description: Option<String>,
    /// Its `tags`, in file order.
    tags: Vec<String>,
    /// `default`, `important`, `advanced` or `internal` (`x-ms-visibility`).
    visibility: String,
    /// Its parameters, the path item's merged with its own.
    parameters: Vec<ParameterInfo>,
    /// Whether the connector's code runs for it.
    runs_code: bool,
}

/// One parameter of an operation, as the definition declares it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ParameterInfo {
    /// Its name.
    name: String,
    /// `path`, `query`, `header`, `body` or `formData`.
    #[serde(rename = "in")]
    location: String,
    /// Whether a call must give it (always for a path parameter).
    required: bool,
    /// Its `type` (`string`, `integer`, ...); none for a body parameter.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// `x-ms-summary`, the name a form shows.
    summary: Option<String>,
    /// Its description.
    description: Option<String>,
    /// Its `default`.
    #[schema(value_type = Option<Object>)]
    default: Option<serde_json::Value>,
    /// The values it may take (`enum`); empty when any.
    #[serde(rename = "enum")]
    #[schema(value_type = Vec<Object>)]
    enum_values: Vec<serde_json::Value>,
    /// A body parameter's schema, its references into `#/definitions`
    /// resolved to a bounded depth.
    #[schema(value_type = Option<Object>)]
    schema: Option<serde_json::Value>,
}

/// One connection parameter the connector declares.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConnectionParameterInfo {
    /// Its name, the key of a connection's `parameters`.
    name: String,
    /// Its `type`: `string`, `securestring`, `oauthSetting`, ...
    #[serde(rename = "type")]
    kind: String,
    /// `uiDefinition.displayName`.
    display_name: Option<String>,
    /// `uiDefinition.description`.
    description: Option<String>,
    /// `uiDefinition.tooltip`.
    tooltip: Option<String>,
    /// Whether a connection must give it.
    required: bool,
    /// The values a connection may give; empty when any.
    allowed_values: Vec<String>,
    /// Whether its value is a secret (a secure string or an OAuth token),
    /// which the API never returns.
    secret: bool,
}

/// One way to connect: a parameter set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ParameterSetInfo {
    /// Its name, what a connection gives as `parameter_set`.
    name: String,
    /// `uiDefinition.displayName`.
    display_name: Option<String>,
    /// `uiDefinition.description`.
    description: Option<String>,
    /// Its parameters, in file order.
    parameters: Vec<ConnectionParameterInfo>,
    /// How its connections sign in with OAuth, if they do.
    oauth: Option<OAuthInfo>,
}

/// A connector's code and the limits it runs under.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CodeInfo {
    /// `script.wasm`'s size.
    size_bytes: usize,
    /// Fuel per call.
    fuel: u64,
    /// Linear memory per call.
    memory_bytes: u64,
    /// The deadline per call, in milliseconds.
    deadline_ms: u64,
    /// Backend calls per call.
    backend_calls: u32,
    /// Whether the code sees the connection's credentials.
    sees_credentials: bool,
}

/// One policy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PolicyInfo {
    /// The platform template it instantiates.
    template: String,
    /// Its title.
    title: String,
    /// `request` or `response`.
    section: String,
    /// The operations it applies to; empty means all.
    operations: Vec<String>,
}

/// How a connector's connections sign in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct OAuthInfo {
    /// `per-connector` or `global`.
    redirect_mode: String,
    /// The redirect URI to register with the identity provider.
    redirect_uri: Option<String>,
    /// A warning, when the connector uses the global redirect URI, which
    /// the platform retires.
    warning: Option<String>,
}

/// A share of a connector.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Share {
    /// The user or group.
    principal: String,
    /// Its display name, when the gateway knows it.
    display_name: Option<String>,
    /// `can-use` or `can-edit`.
    right: String,
}

/// The right to share a connector with.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ShareRequest {
    /// `can-use` or `can-edit`.
    right: String,
}

/// Where to publish a new connector.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct PublishQuery {
    /// The connector's id. Default: made from the definition's title.
    id: Option<String>,
}

/// A version just published or updated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PublishedBody {
    /// The connector.
    connector: String,
    /// Its version, from 1.
    version: i64,
    /// Its `ETag`, for `If-Match` on the next update.
    etag: String,
    /// What validation warned of (an error would have refused it): rule,
    /// severity, file, JSON path and message each.
    #[schema(value_type = Vec<Object>)]
    warnings: Vec<sluice_tools::validate::Finding>,
}

/// One entry of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AuditEntry {
    /// When (RFC 3339).
    at: String,
    /// Who.
    actor: String,
    /// `published`, `updated` or `deleted`.
    action: String,
    /// What, e.g. `connector Shop`.
    target: String,
    /// The version before (`v{n} {sha256}`), if any.
    before: Option<String>,
    /// The version after, if any.
    after: Option<String>,
}

/// How much of the audit log to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// The newest entries to return, at most 1000. Default: 100.
    limit: Option<u32>,
}

/// Publishes a connector from a package archive (a maker or admin), who
/// becomes its owner.
#[utoipa::path(post, path = "/api/v1/connectors", tag = "connectors", params(PublishQuery),
    request_body(content = Vec<u8>, content_type = "application/zip",
        description = "The package's files at the archive's root or in one top folder; or multipart/form-data parts named definition, properties, script, settings and icon"),
    responses(
        (status = 201, description = "Published", body = PublishedBody, headers(("etag" = String, description = "The version's ETag"))),
        (status = 400, description = "A bad id", body = ProblemBody),
        (status = 403, description = "Not a maker of the environment", body = ProblemBody),
        (status = 409, description = "A connector with this id exists", body = ProblemBody),
        (status = 413, description = "The archive, or what it expands to, is over the limit", body = ProblemBody),
        (status = 415, description = "Neither application/zip nor multipart/form-data", body = ProblemBody),
        (status = 422, description = "An unusable archive (paths that climb, links, foreign files), or a package with errors: `findings` lists them", body = ProblemBody),
    ))]
async fn publish(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Query(query): Query<PublishQuery>,
    request: Request,
) -> Result<Response, GatewayError> {
    let upload = upload(&gateway, request).await?;
    let published = gateway.catalog().publish(&caller, &environment, query.id.as_deref(), &upload).await?;
    Ok(published_answer(StatusCode::CREATED, published))
}

/// Publishes a new version of a connector published through the API
/// (`can-edit`). Calls in flight finish on the old version; the next call
/// uses the new one.
#[utoipa::path(put, path = "/api/v1/connectors/{id}", tag = "connectors",
    params(
        ("id" = String, Path, description = "The connector id"),
        ("if-match" = Option<String>, Header, description = "The ETag of the version this update replaces"),
    ),
    request_body(content = Vec<u8>, content_type = "application/zip",
        description = "The package's files at the archive's root or in one top folder"),
    responses(
        (status = 200, description = "Updated", body = PublishedBody, headers(("etag" = String, description = "The new version's ETag"))),
        (status = 403, description = "The caller may only use it", body = ProblemBody),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
        (status = 409, description = "It comes from the packages folder", body = ProblemBody),
        (status = 412, description = "If-Match is not the newest version's ETag", body = ProblemBody),
        (status = 413, description = "The archive, or what it expands to, is over the limit", body = ProblemBody),
        (status = 415, description = "Not application/zip", body = ProblemBody),
        (status = 422, description = "An unusable archive, or a package with errors", body = ProblemBody),
    ))]
async fn update(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Path(super::IdPath { id }): Path<super::IdPath>,
    request: Request,
) -> Result<Response, GatewayError> {
    let if_match = request.headers().get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    let upload = upload(&gateway, request).await?;
    let published = gateway.catalog().update(&caller, &environment, &id, &upload, if_match.as_deref()).await?;
    Ok(published_answer(StatusCode::OK, published))
}

/// Downloads a connector's package as an archive that publishing takes
/// back unchanged (`can-edit`), as `paconn download` does.
#[utoipa::path(get, path = "/api/v1/connectors/{id}/package", tag = "connectors",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "The package", content_type = "application/zip", body = Vec<u8>),
        (status = 403, description = "The caller may only use it", body = ProblemBody),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
    ))]
async fn download(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> Result<Response, GatewayError> {
    let download = gateway.catalog().download(&caller, &environment, &id).await?;
    let mut response = download.archive.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.zip\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(etag) = download.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}

/// Deletes a connector published through the API (`can-edit`), with its
/// versions, connections, tokens and shares, as the platform does.
#[utoipa::path(delete, path = "/api/v1/connectors/{id}", tag = "connectors",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The caller may only use it", body = ProblemBody),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
        (status = 409, description = "It comes from the packages folder", body = ProblemBody),
    ))]
async fn delete(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> Result<Response, GatewayError> {
    gateway.catalog().delete(&caller, &environment, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The environment's audit log, newest first (its admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), responses(
    (status = 200, description = "Who published, updated or deleted what, and when", body = [AuditEntry]),
    (status = 403, description = "Not an admin of the environment", body = ProblemBody),
))]
async fn audit(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<Vec<AuditEntry>>, GatewayError> {
    directory.require_admin(&caller, "reading the audit log")?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let rows = gateway.catalog().audit(environment.id(), limit).await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|row| AuditEntry {
                at: super::timestamp(row.at),
                actor: row.actor,
                action: row.action,
                target: row.target,
                before: row.before,
                after: row.after,
            })
            .collect(),
    ))
}

/// An uploaded package as an archive: `application/zip` as sent, or
/// `multipart/form-data` parts (`definition`, `properties`, `script`,
/// `settings`, `icon`, or the files' own names) zipped here; at most the
/// gateway's limit either way.
pub(super) async fn upload(gateway: &Gateway, request: Request) -> Result<bytes::Bytes, GatewayError> {
    let media = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let limit = gateway.request_limits().max_package_bytes;
    match media.as_str() {
        "application/zip" | "application/x-zip-compressed" => {
            axum::body::to_bytes(request.into_body(), limit).await.map_err(|_| GatewayError::BodyTooLarge { limit })
        }
        "multipart/form-data" => {
            let boundary = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| multer::parse_boundary(v).ok())
                .ok_or_else(|| GatewayError::BadRequest { reason: "multipart/form-data without a boundary".into() })?;
            let constraints =
                multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit as u64));
            let stream = request.into_body().into_data_stream();
            let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
            let refused = |e: multer::Error| match e {
                multer::Error::StreamSizeExceeded { .. } => GatewayError::BodyTooLarge { limit },
                other => GatewayError::BadRequest { reason: format!("the multipart body: {other}") },
            };
            let mut files = crate::archive::Files::new();
            while let Some(field) = multipart.next_field().await.map_err(refused)? {
                let name = field.name().unwrap_or_default().to_string();
                let file = match name.as_str() {
                    "definition" => sluice_package::DEFINITION_FILE,
                    "properties" => sluice_package::PROPERTIES_FILE,
                    "script" => sluice_package::SCRIPT_FILE,
                    "settings" => sluice_package::SETTINGS_FILE,
                    "icon" => "icon.png",
                    other => crate::archive::PACKAGE_FILES.iter().find(|f| **f == other).copied().ok_or_else(|| {
                        crate::catalog::CatalogError::from(crate::archive::ArchiveError::UnknownFile(name.clone()))
                    })?,
                };
                let bytes = field.bytes().await.map_err(refused)?;
                if files.insert(file.to_string(), bytes.to_vec()).is_some() {
                    let duplicate = crate::archive::ArchiveError::Duplicate(file.to_string());
                    return Err(crate::catalog::CatalogError::from(duplicate).into());
                }
            }
            Ok(bytes::Bytes::from(crate::archive::write(&files)))
        }
        _ => Err(GatewayError::UnsupportedMediaType { expected: "application/zip or multipart/form-data" }),
    }
}

fn published_answer(status: StatusCode, published: Published) -> Response {
    let etag = HeaderValue::from_str(&published.etag).ok();
    let body = PublishedBody {
        connector: published.connector,
        version: published.version,
        etag: published.etag,
        warnings: published.warnings,
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Lists the connectors the caller may use, by id.
#[utoipa::path(get, path = "/api/v1/connectors", tag = "connectors", responses(
    (status = 200, description = "The connectors the caller may see", body = [ConnectorSummary]),
))]
async fn list(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
) -> Result<axum::Json<Vec<ConnectorSummary>>, GatewayError> {
    let published: std::collections::HashMap<String, ValidationCounts> = gateway
        .catalog()
        .published(environment.id())
        .await?
        .into_iter()
        .map(|row| (row.connector, ValidationCounts::of_stored(&stored_findings(&row.findings))))
        .collect();
    let visible = environment.registry().ids().into_iter().filter_map(|id| {
        let validation = published.get(&id).copied();
        let (core, _) = core(&environment, &directory, &caller, &id, validation.is_none())?;
        Some(ConnectorSummary { core, validation })
    });
    Ok(axum::Json(visible.collect()))
}

/// A connector with its operations, code, policies and OAuth redirect.
#[utoipa::path(get, path = "/api/v1/connectors/{id}", tag = "connectors",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "The connector", body = ConnectorDetail),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
    ))]
async fn show(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> Result<Response, GatewayError> {
    directory.connector_right(&caller, &id).ok_or_else(|| missing(&id))?;
    let latest = gateway.catalog().latest(environment.id(), &id).await?;
    let (core, serving) = core(&environment, &directory, &caller, &id, latest.is_none()).ok_or_else(|| missing(&id))?;
    let validation = latest.as_ref().map(|row| {
        let findings = stored_findings(&row.findings);
        Validation {
            version: row.version,
            at: super::timestamp(row.published_at),
            counts: ValidationCounts::of_stored(&findings),
            findings,
        }
    });
    let mut detail = ConnectorDetail {
        core,
        operation_list: Vec::new(),
        connection_parameters: Vec::new(),
        parameter_sets: Vec::new(),
        parameter_sets_label: None,
        code: None,
        policies: Vec::new(),
        oauth: None,
        validation,
    };
    if let Some(loaded) = serving {
        describe(&environment, &loaded, &mut detail);
    }
    let mut response = axum::Json(detail).into_response();
    if let Some(etag) = latest.and_then(|row| HeaderValue::from_str(&Catalog::etag(&row)).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// Who a connector is shared with (needs `can-edit`).
#[utoipa::path(get, path = "/api/v1/connectors/{id}/shares", tag = "connectors",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "Its shares", body = [Share]),
        (status = 403, description = "The caller may only use it", body = ProblemBody),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
    ))]
async fn shares(
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { directory, .. }): Extension<InEnvironment>,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> Result<axum::Json<Vec<Share>>, GatewayError> {
    directory.may_edit_connector(&caller, &id)?;
    Ok(axum::Json(share_list(&directory, &id)))
}

/// Shares a connector with a user or group, or changes the right shared
/// (needs `can-edit`).
#[utoipa::path(put, path = "/api/v1/connectors/{id}/shares/{principal}", tag = "connectors",
    params(
        ("id" = String, Path, description = "The connector id"),
        ("principal" = String, Path, description = "The user or group"),
    ),
    request_body = ShareRequest,
    responses(
        (status = 200, description = "Its shares now", body = [Share]),
        (status = 400, description = "A right that is not one, or a bad principal id", body = ProblemBody),
        (status = 403, description = "The caller may only use it", body = ProblemBody),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
        (status = 415, description = "Not JSON", body = ProblemBody),
    ))]
async fn share(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Path(super::SharePath { id, principal }): Path<super::SharePath>,
    Body(request): Body<ShareRequest>,
) -> Result<axum::Json<Vec<Share>>, GatewayError> {
    let right = Right::parse(&request.right).ok_or_else(|| GatewayError::BadRequest {
        reason: format!("`right` is `{}`; it is `can-use` or `can-edit`", request.right),
    })?;
    let access = gateway.access();
    access
        .share_connector(&caller, environment.id(), &id, &principal, Some(right))
        .await
        .map_err(GatewayError::Access)?;
    let directory = access.member_directory(&caller, environment.id())?;
    Ok(axum::Json(share_list(&directory, &id)))
}

/// Stops sharing a connector with a user or group (needs `can-edit`).
#[utoipa::path(delete, path = "/api/v1/connectors/{id}/shares/{principal}", tag = "connectors",
    params(
        ("id" = String, Path, description = "The connector id"),
        ("principal" = String, Path, description = "The user or group"),
    ),
    responses(
        (status = 204, description = "Not shared with them any more; their next call is refused"),
        (status = 403, description = "The caller may only use it", body = ProblemBody),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
    ))]
async fn unshare(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Path(super::SharePath { id, principal }): Path<super::SharePath>,
) -> Result<Response, GatewayError> {
    gateway
        .access()
        .share_connector(&caller, environment.id(), &id, &principal, None)
        .await
        .map_err(GatewayError::Access)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The connector `id` as the caller may see it, with the version that
/// serves; `None` when it is missing or the caller may not see it.
fn core(
    environment: &Environment,
    directory: &Directory,
    caller: &Caller,
    id: &str,
    read_only: bool,
) -> Option<(ConnectorCore, Option<Arc<LoadedConnector>>)> {
    let right = directory.connector_right(caller, id)?;
    let crate::registry::ConnectorState { serving, failure } = environment.registry().state(id)?;
    let status = match (&serving, &failure) {
        (Some(_), None) => "ready",
        (Some(_), Some(_)) => "stale",
        (None, _) => "failed",
    };
    let core = ConnectorCore {
        id: id.to_string(),
        title: serving.as_ref().and_then(|c| c.package.definition.title.clone()),
        owner: directory.connector_owner(id).map(str::to_string),
        right: right.as_str().to_string(),
        read_only,
        status: status.to_string(),
        failure: failure.map(|f| f.to_string()),
        operations: serving.as_ref().map_or(0, |c| c.package.definition.operations.len()),
        shares: (right == Right::CanEdit).then(|| directory.connector_shares(id).len()),
    };
    Some((core, serving))
}

/// Fills in what a loaded connector holds.
fn describe(environment: &Environment, loaded: &LoadedConnector, detail: &mut ConnectorDetail) {
    let package = &loaded.package;
    detail.operation_list = package
        .definition
        .operations
        .iter()
        .map(|op| OperationInfo {
            id: op.id.clone(),
            method: op.method.to_string(),
            path: op.path.clone(),
            summary: op.summary.clone(),
            description: op.description.clone(),
            tags: op.tags.clone(),
            visibility: op.visibility.as_str().to_string(),
            parameters: op
                .parameters
                .iter()
                .map(|p| ParameterInfo {
                    name: p.name.clone(),
                    location: p.location.as_str().to_string(),
                    required: p.required,
                    kind: p.kind.clone(),
                    summary: p.summary.clone(),
                    description: p.description.clone(),
                    default: p.default.clone(),
                    enum_values: p.enum_values.clone(),
                    schema: package.definition.resolved_schema(p),
                })
                .collect(),
            runs_code: loaded.code.is_some() && package.runs_code(&op.id),
        })
        .collect();
    let parameters = |declared: &indexmap::IndexMap<String, sluice_package::ConnectionParameter>| {
        declared
            .iter()
            .map(|(name, p)| ConnectionParameterInfo {
                name: name.clone(),
                kind: p.kind.clone(),
                display_name: p.display_name.clone(),
                description: p.description.clone(),
                tooltip: p.tooltip.clone(),
                required: p.required,
                allowed_values: p.allowed_values.clone(),
                secret: p.is_secret(),
            })
            .collect()
    };
    detail.connection_parameters = parameters(&package.properties.connection_parameters);
    detail.parameter_sets_label = package.properties.parameter_sets.as_ref().and_then(|s| s.display_name.clone());
    detail.parameter_sets = package
        .properties
        .parameter_sets
        .iter()
        .flat_map(|sets| &sets.sets)
        .map(|set| ParameterSetInfo {
            name: set.name.clone(),
            display_name: set.display_name.clone(),
            description: set.description.clone(),
            parameters: parameters(&set.parameters),
            oauth: package.signs_in(Some(&set.name)).then(|| oauth_info(environment, package, Some(&set.name))),
        })
        .collect();
    detail.code = package.script.as_ref().map(|script| {
        let limits = &package.settings.limits;
        CodeInfo {
            size_bytes: script.len(),
            fuel: limits.fuel,
            memory_bytes: limits.memory_bytes,
            deadline_ms: limits.deadline.as_millis() as u64,
            backend_calls: limits.backend_calls,
            sees_credentials: package.settings.code.sees_credentials,
        }
    });
    detail.policies = package
        .policies
        .policies()
        .iter()
        .map(|policy| PolicyInfo {
            template: policy.template_id().to_string(),
            title: policy.title().to_string(),
            section: match policy.section() {
                sluice_policy::Section::Request => "request",
                sluice_policy::Section::Response => "response",
            }
            .to_string(),
            operations: policy.operations().to_vec(),
        })
        .collect();
    if package.uses_oauth() && package.properties.parameter_sets.is_none() {
        detail.oauth = Some(oauth_info(environment, package, None));
    }
}

/// How connections of `package` that chose `set` sign in: the redirect mode
/// and URI (the per-connector URI is the connector's, whatever the set).
fn oauth_info(environment: &Environment, package: &sluice_package::Package, set: Option<&str>) -> OAuthInfo {
    let mode = package.redirect_mode(set);
    let redirect_uri = environment.oauth().ok().map(|oauth| oauth.redirect_uri(&package.id, mode));
    let (redirect_mode, warning) = match mode {
        sluice_package::RedirectMode::PerConnector => ("per-connector", None),
        sluice_package::RedirectMode::Global => (
            "global",
            Some("the connector uses the global redirect URI, which the platform retires: set redirectMode GlobalPerConnector".to_string()),
        ),
    };
    OAuthInfo { redirect_mode: redirect_mode.to_string(), redirect_uri, warning }
}

/// A version's findings as its row stores them (JSON); `null` when the
/// row's text does not parse.
fn stored_findings(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_default()
}

fn share_list(directory: &Directory, id: &str) -> Vec<Share> {
    let mut shares: Vec<Share> = directory
        .connector_shares(id)
        .iter()
        .map(|(principal, right)| Share {
            principal: principal.to_string(),
            display_name: directory.people().display_name(principal).map(str::to_string),
            right: right.as_str().to_string(),
        })
        .collect();
    shares.sort_by(|a, b| a.principal.cmp(&b.principal));
    shares
}

/// A connector the caller may not see, answered as a missing one.
fn missing(id: &str) -> GatewayError {
    Denied::NoConnector { connector: id.to_string() }.into()
}
