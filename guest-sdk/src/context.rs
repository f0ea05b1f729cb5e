//! The [`Context`] of a call: who is calling what, and how much time is left.

use std::time::Duration;

use crate::bindings::sluice::connector::call;

/// What the code knows about the call it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub(crate) connector_id: String,
    pub(crate) operation_id: String,
    pub(crate) correlation_id: String,
    pub(crate) original_url: String,
}

impl Context {
    /// The connector's id.
    pub fn connector_id(&self) -> &str {
        &self.connector_id
    }

    /// The `operationId` being called.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// The correlation id of the call (also in the client's error answers).
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The URL the client called on the gateway; webhook operations build
    /// their `Location` header from it.
    pub fn original_url(&self) -> &str {
        &self.original_url
    }

    /// Time left before the call's deadline; backend calls count.
    pub fn time_left(&self) -> Duration {
        Duration::from_millis(call::time_left_ms())
    }
}
