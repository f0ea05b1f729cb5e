//! Step 1 of a call: the connector, the connection and the operation, or
//! the reason the call goes no further.

use std::sync::Arc;

use sluice_package::Route;

use super::{Call, CallFailure};
use crate::registry::{ConnectionState, LoadedConnector, Registry};

/// The connector and connection a call names.
pub(super) fn target(
    registry: &Registry,
    connector: &str,
    connection: &str,
) -> Result<(Arc<LoadedConnector>, Arc<ConnectionState>), CallFailure> {
    let loaded = registry.get(connector)?;
    let unknown = |reason| CallFailure::UnknownConnection {
        connector: connector.to_string(),
        connection: connection.to_string(),
        reason,
    };
    let state = match loaded.connections.get(connection) {
        Some(Ok(state)) => Arc::clone(state),
        Some(Err(reason)) => return Err(unknown(Some(Arc::clone(reason)))),
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
