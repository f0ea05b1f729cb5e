//! Step 1 of a call: the connector, the connection and the operation, or
//! the reason the call goes no further.

use std::sync::Arc;

use sluice_package::Route;

use super::{Call, CallFailure};
use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::registry::{ConnectionState, LoadedConnector};

/// The connector and connection a call names in `environment`: a
/// connection of the settings file, or one made through the gateway.
pub(super) fn target(
    gateway: &Gateway,
    environment: &Environment,
    connector: &str,
    connection: &str,
) -> Result<(Arc<LoadedConnector>, Arc<ConnectionState>), CallFailure> {
    let loaded = environment.registry().get(connector)?;
    let unknown = |reason| CallFailure::UnknownConnection {
        connector: connector.to_string(),
        connection: connection.to_string(),
        reason,
    };
    let state = match gateway.access().connection(environment.id(), &loaded, connection) {
        Some(Ok(state)) => state,
        Some(Err(reason)) => return Err(unknown(Some(reason))),
        None => return Err(unknown(None)),
    };
    Ok((loaded, state))
}

/// The operation the call's method and path route to.
pub(super) fn route<'c>(connector: &'c LoadedConnector, call: &Call<'_>) -> Result<Route<'c>, CallFailure> {
    connector
        .package
        .definition
        .resolve(&call.parts.method, &call.path)
        .map_err(|source| CallFailure::Route { connector: call.connector.to_string(), source })
}
