//! `/api/v1/environment`: the environment a request is in, as its member
//! sees it; and `/api/v1/network`: its linked subnets and public switch,
//! read and changed by its admins. A change is stored with its audit entry
//! and applies to the next call, with no connector re-saved; from then on
//! it wins over the settings file's `[environment]`. Private root
//! certificates stay the settings file's (they name files on the gateway's
//! machine).

use axum::extract::{Extension, State};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, ProblemBody};
use crate::access::Caller;
use crate::environment::{Environment, NetworkSettings};
use crate::gateway::Gateway;
use crate::problem::GatewayError;
use crate::server::InEnvironment;

pub(super) fn routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new().routes(routes!(about)).routes(routes!(show, change))
}

/// The environment, as the caller sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EnvironmentBody {
    /// Its id (`default`, or the one in `/environments/{id}`).
    id: String,
    /// The name people read.
    name: String,
    /// The caller's role in it: `admin`, `maker` or `user`.
    role: String,
    /// The caller's principal id, as shares and owners name it.
    caller: String,
}

/// The environment the request is in, and the caller's role in it.
#[utoipa::path(get, path = "/api/v1/environment", tag = "network", responses(
    (status = 200, description = "The environment", body = EnvironmentBody),
))]
async fn about(
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
) -> axum::Json<EnvironmentBody> {
    // `enter` let only a member in, so there is a role.
    let role = directory.role(&caller).map(|r| r.as_str()).unwrap_or("user");
    axum::Json(EnvironmentBody {
        id: environment.id().to_string(),
        name: environment.display_name().to_string(),
        role: role.to_string(),
        caller: caller.id.to_string(),
    })
}

/// An environment's network settings now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct NetworkBody {
    /// The linked subnets.
    subnets: Vec<String>,
    /// Whether public egress is allowed.
    public: bool,
    /// How many private root certificates it trusts for its linked subnets.
    private_roots: usize,
    /// `settings-file`, or `api` once its admins set it here.
    source: String,
}

/// The environment's network settings (its admins).
#[utoipa::path(get, path = "/api/v1/network", tag = "network", responses(
    (status = 200, description = "The network settings calls run under now", body = NetworkBody),
    (status = 403, description = "Not an admin of the environment", body = ProblemBody),
))]
async fn show(
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
) -> Result<axum::Json<NetworkBody>, GatewayError> {
    directory.require_admin(&caller, "reading network settings")?;
    Ok(axum::Json(body(&environment)))
}

/// Changes the environment's linked subnets and public switch (its admins);
/// the next call runs under them.
#[utoipa::path(put, path = "/api/v1/network", tag = "network", request_body = NetworkSettings, responses(
    (status = 200, description = "Changed", body = NetworkBody),
    (status = 400, description = "A subnet that is not one, or a field the body may not have", body = ProblemBody),
    (status = 403, description = "Not an admin of the environment", body = ProblemBody),
    (status = 415, description = "Not JSON", body = ProblemBody),
))]
async fn change(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Body(settings): Body<NetworkSettings>,
) -> Result<axum::Json<NetworkBody>, GatewayError> {
    gateway.access().set_network(&caller, &environment, &settings).await.map_err(GatewayError::Access)?;
    Ok(axum::Json(body(&environment)))
}

fn body(environment: &Environment) -> NetworkBody {
    let now = environment.network().environment();
    let NetworkSettings { subnets, public } = NetworkSettings::of(&now);
    let source = if environment.network_from_api() { "api" } else { "settings-file" };
    NetworkBody { subnets, public, private_roots: now.private_roots().len(), source: source.to_string() }
}
