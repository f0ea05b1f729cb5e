//! `/api/v1/connectors`: the connectors a caller may see, what each holds
//! (operations, code, policies, OAuth), and their shares. Connectors of the
//! packages folder are read-only here: the folder is their source, as a
//! GitOps deployment wants.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, ProblemBody};
use crate::access::{Caller, Denied, Directory, Right};
use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::problem::GatewayError;
use crate::registry::LoadedConnector;
use crate::server::InEnvironment;

pub(super) fn routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(shares))
        .routes(routes!(share, unshare))
}

/// A connector as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConnectorSummary {
    /// Its id (the package folder's name).
    id: String,
    /// The definition's title, when it loaded.
    title: Option<String>,
    /// Its owner; none means the environment's admins.
    owner: Option<String>,
    /// What the caller may do with it: `can-use` or `can-edit`.
    right: String,
    /// Whether it comes from the packages folder, which only its operator changes.
    read_only: bool,
    /// `ready`, `failed` (no version loads) or `stale` (the newest version
    /// failed; the last good one serves).
    status: String,
    /// Why the newest version did not load.
    failure: Option<String>,
    /// How many operations the serving version has.
    operations: usize,
}

/// A connector with what it holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConnectorDetail {
    #[serde(flatten)]
    summary: ConnectorSummary,
    /// Its operations, in the definition's order.
    operation_list: Vec<OperationInfo>,
    /// Its custom code, if it has any.
    code: Option<CodeInfo>,
    /// Its policies, in the order they run.
    policies: Vec<PolicyInfo>,
    /// How its connections sign in with OAuth, if they do.
    oauth: Option<OAuthInfo>,
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
    /// Whether the connector's code runs for it.
    runs_code: bool,
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

/// Lists the connectors the caller may use, by id.
#[utoipa::path(get, path = "/api/v1/connectors", tag = "connectors", responses(
    (status = 200, description = "The connectors the caller may see", body = [ConnectorSummary]),
))]
async fn list(
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
) -> axum::Json<Vec<ConnectorSummary>> {
    let visible =
        environment.registry().ids().into_iter().filter_map(|id| summary(&environment, &directory, &caller, &id));
    axum::Json(visible.map(|(summary, _)| summary).collect())
}

/// A connector with its operations, code, policies and OAuth redirect.
#[utoipa::path(get, path = "/api/v1/connectors/{id}", tag = "connectors",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "The connector", body = ConnectorDetail),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
    ))]
async fn show(
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConnectorDetail>, GatewayError> {
    let (summary, serving) = summary(&environment, &directory, &caller, &id).ok_or_else(|| missing(&id))?;
    let mut detail =
        ConnectorDetail { summary, operation_list: Vec::new(), code: None, policies: Vec::new(), oauth: None };
    if let Some(loaded) = serving {
        describe(&environment, &loaded, &mut detail);
    }
    Ok(axum::Json(detail))
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
    Path(id): Path<String>,
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
    Path((id, principal)): Path<(String, String)>,
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
    Path((id, principal)): Path<(String, String)>,
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
fn summary(
    environment: &Environment,
    directory: &Directory,
    caller: &Caller,
    id: &str,
) -> Option<(ConnectorSummary, Option<Arc<LoadedConnector>>)> {
    let right = directory.connector_right(caller, id)?;
    let crate::registry::ConnectorState { serving, failure } = environment.registry().state(id)?;
    let status = match (&serving, &failure) {
        (Some(_), None) => "ready",
        (Some(_), Some(_)) => "stale",
        (None, _) => "failed",
    };
    let summary = ConnectorSummary {
        id: id.to_string(),
        title: serving.as_ref().and_then(|c| c.package.definition.title.clone()),
        owner: directory.connector_owner(id).map(str::to_string),
        right: right.as_str().to_string(),
        read_only: true,
        status: status.to_string(),
        failure: failure.map(|f| f.to_string()),
        operations: serving.as_ref().map_or(0, |c| c.package.definition.operations.len()),
    };
    Some((summary, serving))
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
            runs_code: loaded.code.is_some() && package.runs_code(&op.id),
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
    if package.uses_oauth() {
        let mode = package.redirect_mode();
        let redirect_uri = environment.oauth().ok().map(|oauth| oauth.redirect_uri(&package.id, mode));
        let (redirect_mode, warning) = match mode {
            sluice_package::RedirectMode::PerConnector => ("per-connector", None),
            sluice_package::RedirectMode::Global => (
                "global",
                Some("the connector uses the global redirect URI, which the platform retires: set redirectMode GlobalPerConnector".to_string()),
            ),
        };
        detail.oauth = Some(OAuthInfo { redirect_mode: redirect_mode.to_string(), redirect_uri, warning });
    }
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
