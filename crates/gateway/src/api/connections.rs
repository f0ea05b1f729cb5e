//! `/api/v1/connections`: the connections a caller may use, made, read,
//! deleted and shared. A connection's values are checked against its
//! connector's `connectionParameters` (or, for a connector with
//! `connectionParameterSets`, the parameters of the set it chooses) and
//! sealed when it is made; its secret values (and its OAuth tokens) are
//! never returned, to anyone.

use std::collections::BTreeMap;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, ProblemBody, created};
use crate::access::{Caller, Denied, Directory};
use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::problem::GatewayError;
use crate::registry::LoadedConnector;
use crate::server::InEnvironment;

pub(super) fn routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, delete))
        .routes(routes!(shares))
        .routes(routes!(share, unshare))
        .routes(routes!(signin))
        .routes(routes!(complete))
}

/// How a sign-in is begun.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct SignInQuery {
    /// For a command-line client: the port of its listener on 127.0.0.1,
    /// where the provider's redirect hands it a completion code.
    loopback_port: Option<u16>,
}

/// A command-line client's completion of a sign-in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Completion {
    /// The code its loopback listener received.
    completion: String,
    /// The binding secret the begin answered.
    binding: String,
}

/// A sign-in begun.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SignInBody {
    /// The identity provider's page to send the browser to. The answer also
    /// sets the browser-binding cookie: the provider's redirect completes
    /// only in the browser that made this request, for this caller.
    authorization_url: String,
    /// With `loopback_port`: the secret to complete with (`.../signin/complete`).
    binding: Option<String>,
}

/// Begins signing an OAuth connection in (its owner or an admin). A
/// browser-based client (the console) gets the provider's URL and the
/// browser-binding cookie; a command-line client names its loopback port
/// and gets a binding secret, and the provider's redirect hands its listener
/// a completion code (RFC 8252's loopback redirect, through the gateway).
#[utoipa::path(post, path = "/api/v1/connections/{connector}/{id}/signin", tag = "connections",
    params(("connector" = String, Path, description = "The connector"), ("id" = String, Path, description = "The connection"), SignInQuery),
    responses(
        (status = 200, description = "Begun; send the browser to `authorization_url`", body = SignInBody, headers(("set-cookie" = String, description = "The browser-binding cookie"))),
        (status = 403, description = "The caller may use it but does not own it", body = ProblemBody),
        (status = 404, description = "No such connection the caller may use", body = ProblemBody),
        (status = 409, description = "The connector does not sign in with OAuth", body = ProblemBody),
    ))]
async fn signin(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(entered): Extension<InEnvironment>,
    Path(super::ConnectionPath { connector, id }): Path<super::ConnectionPath>,
    axum::extract::Query(query): axum::extract::Query<SignInQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, GatewayError> {
    let port = query.loopback_port;
    let begun = crate::server::signin::begin(&gateway, &caller, &entered, &connector, &id, &headers, port).await?;
    let binding = port.map(|_| begun.binding.clone());
    let mut response = axum::Json(SignInBody { authorization_url: begun.url, binding }).into_response();
    response.headers_mut().insert(axum::http::header::SET_COOKIE, begun.cookie);
    Ok(response)
}

/// A connection to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewConnection {
    /// The connector.
    connector: String,
    /// Its id in URLs: 1 to 128 letters, digits, `.`, `_`, `-` or `~`.
    id: String,
    /// The way to connect, for a connector with `connectionParameterSets`:
    /// one of its set names (required then; absent otherwise).
    #[serde(default)]
    parameter_set: Option<String>,
    /// Values by parameter name, as the connector's `connectionParameters`
    /// (or the chosen set's parameters) declare them.
    #[serde(default)]
    parameters: BTreeMap<String, String>,
}

/// A connection, without its secrets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConnectionInfo {
    /// The connector.
    connector: String,
    /// The connection's id.
    id: String,
    /// Its owner; none means the environment's admins.
    owner: Option<String>,
    /// Whether it comes from the settings file, which only its operator changes.
    read_only: bool,
    /// The parameter set it chose, for a connector with
    /// `connectionParameterSets`; absent for a connector without sets, whose
    /// connections read as they did before sets.
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter_set: Option<String>,
    /// `ready`, `signin-required`, `unauthenticated` (a backend's answer
    /// said the credentials do not work: `setconnectionstatustounauthenticated`)
    /// or `error`.
    status: String,
    /// Why it is not `ready`.
    reason: Option<String>,
    /// Its values that are not secret, by parameter name.
    parameters: BTreeMap<String, String>,
}

/// A principal a connection is shared with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConnectionShare {
    /// The user or group.
    principal: String,
    /// Its display name, when the gateway knows it.
    display_name: Option<String>,
}

/// Makes a connection owned by the caller, who must be able to use the connector.
#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", request_body = NewConnection, responses(
    (status = 201, description = "Made", body = ConnectionInfo),
    (status = 400, description = "A bad id, a field the body may not have, or a parameter set the connector does not offer (none chosen where it has sets, an unknown one, a value of another set's parameter); the detail lists its sets", body = ProblemBody),
    (status = 404, description = "No such connector the caller may use", body = ProblemBody),
    (status = 409, description = "The connector has a connection with this id", body = ProblemBody),
    (status = 415, description = "Not JSON", body = ProblemBody),
    (status = 422, description = "The values do not make a connection of the connector; the detail names the parameter", body = ProblemBody),
    (status = 503, description = "The gateway has no key to seal values with", body = ProblemBody),
))]
async fn create(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Body(new): Body<NewConnection>,
) -> Result<Response, GatewayError> {
    let access = gateway.access();
    access
        .create_connection_in_set(
            &caller,
            environment.id(),
            (&new.connector, &new.id),
            new.parameter_set.as_deref(),
            new.parameters.into_iter().collect(),
        )
        .await
        .map_err(GatewayError::Access)?;
    let directory = access.member_directory(&caller, environment.id())?;
    Ok(created(info(&gateway, &environment, &directory, &new.connector, &new.id).await?))
}

/// Lists the connections the caller may call through.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", responses(
    (status = 200, description = "The connections the caller may use, by connector and id", body = [ConnectionInfo]),
))]
async fn list(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
) -> Result<axum::Json<Vec<ConnectionInfo>>, GatewayError> {
    let mut ids: Vec<(String, String)> = Vec::new();
    for loaded in environment.registry().loaded() {
        ids.extend(loaded.connections.keys().map(|id| (loaded.package.id.clone(), id.clone())));
    }
    ids.extend(directory.stored_connections().map(|(connector, id)| (connector.to_string(), id.to_string())));
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for (connector, id) in ids {
        if directory.may_call(&caller, &connector, &id).is_ok() {
            out.push(info(&gateway, &environment, &directory, &connector, &id).await?);
        }
    }
    Ok(axum::Json(out))
}

/// A connection, with its status.
#[utoipa::path(get, path = "/api/v1/connections/{connector}/{id}", tag = "connections",
    params(("connector" = String, Path, description = "The connector"), ("id" = String, Path, description = "The connection")),
    responses(
        (status = 200, description = "The connection", body = ConnectionInfo),
        (status = 404, description = "No such connection the caller may use", body = ProblemBody),
    ))]
async fn show(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
    Path(super::ConnectionPath { connector, id }): Path<super::ConnectionPath>,
) -> Result<axum::Json<ConnectionInfo>, GatewayError> {
    directory.may_call(&caller, &connector, &id)?;
    Ok(axum::Json(info(&gateway, &environment, &directory, &connector, &id).await?))
}

/// Deletes a connection made through the gateway, with its tokens and shares
/// (its owner or an admin).
#[utoipa::path(delete, path = "/api/v1/connections/{connector}/{id}", tag = "connections",
    params(("connector" = String, Path, description = "The connector"), ("id" = String, Path, description = "The connection")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The caller may use it but does not own it", body = ProblemBody),
        (status = 404, description = "No such connection the caller may use", body = ProblemBody),
        (status = 409, description = "It comes from the settings file", body = ProblemBody),
    ))]
async fn delete(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Path(super::ConnectionPath { connector, id }): Path<super::ConnectionPath>,
) -> Result<Response, GatewayError> {
    gateway
        .access()
        .delete_connection(&caller, environment.id(), &connector, &id)
        .await
        .map_err(GatewayError::Access)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Who a connection is shared with (its owner or an admin).
#[utoipa::path(get, path = "/api/v1/connections/{connector}/{id}/shares", tag = "connections",
    params(("connector" = String, Path, description = "The connector"), ("id" = String, Path, description = "The connection")),
    responses(
        (status = 200, description = "Its shares", body = [ConnectionShare]),
        (status = 403, description = "The caller may use it but does not own it", body = ProblemBody),
        (status = 404, description = "No such connection the caller may use", body = ProblemBody),
    ))]
async fn shares(
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { directory, .. }): Extension<InEnvironment>,
    Path(super::ConnectionPath { connector, id }): Path<super::ConnectionPath>,
) -> Result<axum::Json<Vec<ConnectionShare>>, GatewayError> {
    directory.may_call(&caller, &connector, &id)?;
    if !directory.owns_connection(&caller, &connector, &id) {
        return Err(Denied::Forbidden {
            action: format!("reading the shares of connection `{id}`"),
            needed: "the connection's owner",
        }
        .into());
    }
    Ok(axum::Json(share_list(&directory, &connector, &id)))
}

/// Shares a connection with a user or group (its owner or an admin).
#[utoipa::path(put, path = "/api/v1/connections/{connector}/{id}/shares/{principal}", tag = "connections",
    params(
        ("connector" = String, Path, description = "The connector"),
        ("id" = String, Path, description = "The connection"),
        ("principal" = String, Path, description = "The user or group"),
    ),
    responses(
        (status = 200, description = "Its shares now", body = [ConnectionShare]),
        (status = 400, description = "A bad principal id", body = ProblemBody),
        (status = 403, description = "The caller may use it but does not own it", body = ProblemBody),
        (status = 404, description = "No such connection the caller may use", body = ProblemBody),
    ))]
async fn share(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Path(super::ConnectionSharePath { connector, id, principal }): Path<super::ConnectionSharePath>,
) -> Result<axum::Json<Vec<ConnectionShare>>, GatewayError> {
    let access = gateway.access();
    access
        .share_connection(&caller, environment.id(), &connector, &id, &principal, true)
        .await
        .map_err(GatewayError::Access)?;
    let directory = access.member_directory(&caller, environment.id())?;
    Ok(axum::Json(share_list(&directory, &connector, &id)))
}

/// Stops sharing a connection with a user or group (its owner or an admin).
#[utoipa::path(delete, path = "/api/v1/connections/{connector}/{id}/shares/{principal}", tag = "connections",
    params(
        ("connector" = String, Path, description = "The connector"),
        ("id" = String, Path, description = "The connection"),
        ("principal" = String, Path, description = "The user or group"),
    ),
    responses(
        (status = 204, description = "Not shared with them any more; their next call is refused"),
        (status = 403, description = "The caller may use it but does not own it", body = ProblemBody),
        (status = 404, description = "No such connection the caller may use", body = ProblemBody),
    ))]
async fn unshare(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, .. }): Extension<InEnvironment>,
    Path(super::ConnectionSharePath { connector, id, principal }): Path<super::ConnectionSharePath>,
) -> Result<Response, GatewayError> {
    gateway
        .access()
        .share_connection(&caller, environment.id(), &connector, &id, &principal, false)
        .await
        .map_err(GatewayError::Access)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Completes a command-line client's sign-in with the completion code its
/// loopback listener received and the binding secret it was given: only for
/// the principal who began it.
#[utoipa::path(post, path = "/api/v1/connections/{connector}/{id}/signin/complete", tag = "connections",
    params(("connector" = String, Path, description = "The connector"), ("id" = String, Path, description = "The connection")),
    request_body = Completion,
    responses(
        (status = 200, description = "Signed in", body = ConnectionInfo),
        (status = 400, description = "An unknown, spent or foreign completion", body = ProblemBody),
        (status = 404, description = "No such connection the caller may use", body = ProblemBody),
    ))]
async fn complete(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
    Path(super::ConnectionPath { connector, id }): Path<super::ConnectionPath>,
    Body(completion): Body<Completion>,
) -> Result<axum::Json<ConnectionInfo>, GatewayError> {
    directory.may_sign_in(&caller, &connector, &id)?;
    let oauth = environment.oauth()?;
    let target = (connector.as_str(), id.as_str());
    let values = crate::server::signin::connection_values(&gateway, &environment);
    oauth
        .complete_signin(
            environment.registry(),
            &values,
            target,
            &completion.completion,
            &completion.binding,
            &caller.id,
        )
        .await?;
    Ok(axum::Json(info(&gateway, &environment, &directory, &connector, &id).await?))
}

/// A connection the caller may use, with its status.
async fn info(
    gateway: &Gateway,
    environment: &Environment,
    directory: &Directory,
    connector: &str,
    id: &str,
) -> Result<ConnectionInfo, GatewayError> {
    let missing = || Denied::NoConnection { connector: connector.to_string(), connection: id.to_string() };
    let loaded = environment.registry().get(connector).map_err(|_| missing())?;
    let state = gateway.access().connection(environment.id(), &loaded, id).ok_or_else(missing)?;
    let read_only = loaded.connections.contains_key(id);
    let mut info = ConnectionInfo {
        connector: connector.to_string(),
        id: id.to_string(),
        owner: directory.connection_owner(connector, id).map(str::to_string),
        read_only,
        parameter_set: None,
        status: "ready".into(),
        reason: None,
        parameters: BTreeMap::new(),
    };
    match state {
        Err(refused) => {
            info.status = "error".into();
            info.reason = Some(refused.to_string());
        }
        Ok(state) => {
            info.parameter_set = state.connection.parameter_set().map(str::to_string);
            info.parameters = public_values(&loaded, &state.connection);
            if sluice_package::credentials::needs_signed_in_token(&loaded.package, &state.connection) {
                let needed = match environment.oauth() {
                    Ok(oauth) => oauth.signin_needed(connector, id).await.map_err(GatewayError::OAuth)?,
                    Err(unavailable) => Some(unavailable.to_string()),
                };
                if let Some(reason) = needed {
                    info.status = "signin-required".into();
                    info.reason = Some(reason);
                }
            }
            let marked = gateway.access().connection_status(environment.id(), connector, id).await;
            if info.reason.is_none()
                && let Some(status) = marked.map_err(GatewayError::Access)?
            {
                info.status = status.status;
                info.reason = Some(status.reason);
            }
        }
    }
    Ok(info)
}

/// The values of a connection's parameters that are not secret.
fn public_values(loaded: &LoadedConnector, connection: &sluice_package::Connection) -> BTreeMap<String, String> {
    loaded
        .package
        .parameters_of(connection)
        .iter()
        .filter(|(_, parameter)| !parameter.is_secret() && parameter.kind != "oauthSetting")
        .filter_map(|(name, _)| connection.value(name).map(|value| (name.clone(), value.to_string())))
        .collect()
}

fn share_list(directory: &Directory, connector: &str, id: &str) -> Vec<ConnectionShare> {
    let mut shares: Vec<ConnectionShare> = directory
        .connection_shares(connector, id)
        .iter()
        .map(|principal| ConnectionShare {
            principal: principal.to_string(),
            display_name: directory.people().display_name(principal).map(str::to_string),
        })
        .collect();
    shares.sort_by(|a, b| a.principal.cmp(&b.principal));
    shares
}
