//! `GET /api/v1/connectors/{id}/activity`: a connector's calls over the
//! last hour, minute by minute, by operation and by kind of failure, for
//! the console's chart. The counts are this gateway process's own
//! ([`crate::activity`]): with several gateways, each answers with the
//! calls it served.

use std::collections::BTreeMap;

use axum::extract::{Extension, Path, State};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ProblemBody;
use crate::access::{Caller, Denied};
use crate::gateway::Gateway;
use crate::problem::GatewayError;
use crate::server::InEnvironment;

pub(super) fn routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new().routes(routes!(activity))
}

/// A connector's last hour.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ActivityBody {
    /// The connector.
    connector: String,
    /// Exactly 60 minutes, oldest first, the last being the current one.
    minutes: Vec<MinuteBody>,
}

/// One minute.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MinuteBody {
    /// When it starts (RFC 3339).
    start: String,
    /// Calls by operation id (`unknown` for a call that matched none).
    calls: BTreeMap<String, u64>,
    /// Failed calls by kind: a problem type's short name
    /// (`backend-unreachable`, `fuel-exhausted`, ...), or `http-{status}`
    /// for a backend's own 4xx or 5xx.
    errors: BTreeMap<String, u64>,
}

/// A connector's calls over the last hour, per minute (needs `can-use`).
/// Each gateway process counts the calls it answered.
#[utoipa::path(get, path = "/api/v1/connectors/{id}/activity", tag = "connectors",
    params(("id" = String, Path, description = "The connector id")),
    responses(
        (status = 200, description = "Its last 60 minutes, oldest first", body = ActivityBody),
        (status = 404, description = "No such connector the caller may see", body = ProblemBody),
    ))]
async fn activity(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> Result<axum::Json<ActivityBody>, GatewayError> {
    if directory.connector_right(&caller, &id).is_none() || !environment.registry().knows(&id) {
        return Err(Denied::NoConnector { connector: id }.into());
    }
    let minutes = gateway
        .activity()
        .minutes(environment.id(), &id)
        .into_iter()
        .map(|minute| MinuteBody {
            start: super::timestamp(minute.start as i64),
            calls: minute.calls,
            errors: minute.errors,
        })
        .collect();
    Ok(axum::Json(ActivityBody { connector: id, minutes }))
}
