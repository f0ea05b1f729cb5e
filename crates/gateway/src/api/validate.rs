//! `POST /api/v1/validate`: a package checked exactly as a publish checks it
//! (the same upload, size limit, archive checks and `sluice validate` rules,
//! [`crate::catalog::Catalog::check`]), with every finding in the answer and
//! nothing stored, so that a maker sees what a publish would say before
//! making one.

use axum::extract::{Extension, Request, State};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ProblemBody;
use super::connectors::{ValidationCounts, upload};
use crate::access::Caller;
use crate::gateway::Gateway;
use crate::problem::GatewayError;
use crate::server::InEnvironment;

pub(super) fn routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new().routes(routes!(validate))
}

/// What validation found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ValidateBody {
    /// Every finding, in the order the checks ran: rule, severity, file,
    /// JSON path and message each.
    #[schema(value_type = Vec<Object>)]
    findings: Vec<sluice_tools::validate::Finding>,
    /// How many are errors (a publish would refuse the package) and
    /// warnings.
    #[serde(flatten)]
    counts: ValidationCounts,
}

/// Validates a package as a publish would, and stores nothing (a maker or
/// admin). A package with errors is answered 200 with them; one that does
/// not load at all is refused as a publish refuses it.
#[utoipa::path(post, path = "/api/v1/validate", tag = "connectors",
    request_body(content = Vec<u8>, content_type = "application/zip",
        description = "The package's files at the archive's root or in one top folder; or multipart/form-data parts named definition, properties, script, settings and icon"),
    responses(
        (status = 200, description = "What validation found", body = ValidateBody),
        (status = 403, description = "Not a maker of the environment", body = ProblemBody),
        (status = 413, description = "The archive, or what it expands to, is over the limit", body = ProblemBody),
        (status = 415, description = "Neither application/zip nor multipart/form-data", body = ProblemBody),
        (status = 422, description = "An unusable archive, or a package that does not load at all: `findings` lists why", body = ProblemBody),
    ))]
async fn validate(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    request: Request,
) -> Result<axum::Json<ValidateBody>, GatewayError> {
    let upload = upload(&gateway, request).await?;
    let findings = gateway.catalog().check(&caller, &environment, &upload).await?;
    Ok(axum::Json(ValidateBody { counts: ValidationCounts::of(&findings), findings }))
}
