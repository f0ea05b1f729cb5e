//! Why a call of an operation failed, as the pipeline reports it. The
//! server maps each case to its status and problem type
//! ([`crate::problem`]).

use std::sync::Arc;

use sluice_egress::{DenyReason, EgressError};
use sluice_package::RouteError;
use sluice_package::request::RequestError;
use sluice_runtime::CallError;

use crate::oauth::OAuthError;
use crate::registry::{ConnectionRefused, LookupError};

/// A call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallFailure {
    /// The connector is missing or did not load.
    #[error(transparent)]
    Connector(#[from] LookupError),
    /// The connector has no such connection, or refused it at load.
    #[error("no connection `{connection}` for connector `{connector}`{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    UnknownConnection {
        /// The connector id.
        connector: String,
        /// The connection id from the URL.
        connection: String,
        /// Why the connection was refused at load, if it was.
        #[source]
        reason: Option<Arc<ConnectionRefused>>,
    },
    /// No operation takes the method and path.
    #[error("connector `{connector}` has {source}")]
    Route {
        /// The connector id.
        connector: String,
        /// Why.
        #[source]
        source: RouteError,
    },
    /// The operation runs custom code that exists only as the platform's C#
    /// (`script.csx`), which was not ported: never forwarded without it.
    #[error(
        "operation `{operation}` of connector `{connector}` runs custom code that was not ported from script.csx; port it to script.wasm (`sluice new --from-csx`)"
    )]
    CodeNotPorted {
        /// The connector.
        connector: String,
        /// The operation.
        operation: String,
    },
    /// The backend request cannot be built: the message is redacted of the
    /// call's secrets.
    #[error("{message}")]
    Request {
        /// The cause, redacted, for the client.
        message: String,
        /// The cause.
        #[source]
        source: RequestError,
    },
    /// The connection's OAuth token is unavailable (sign-in required, the
    /// refresh failed, ...).
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The egress policy refused the backend call.
    #[error("backend call denied by egress policy: {0}")]
    EgressDenied(#[source] DenyReason),
    /// The backend could not be reached or failed.
    #[error("backend call failed: {0}")]
    Backend(#[source] EgressError),
    /// The backend did not answer in time.
    #[error("backend timed out")]
    BackendTimeout,
    /// A response policy could not be applied; redacted of the call's secrets.
    #[error("policy failed: {message}")]
    ResponsePolicy {
        /// The cause, redacted.
        message: String,
        /// The cause.
        #[source]
        source: sluice_policy::PolicyError,
    },
    /// The custom code failed or was stopped; messages the code wrote are
    /// redacted of the call's secrets.
    #[error(transparent)]
    Code(CallError),
}

impl CallFailure {
    /// The failure as a caller who does not own the connection is told it:
    /// a sign-in that is required does not say where to sign in.
    pub fn without_signin_url(self) -> Self {
        match self {
            CallFailure::OAuth(OAuthError::SignInRequired { connector, connection, reason, .. }) => {
                CallFailure::OAuth(OAuthError::SignInRequired { connector, connection, reason, signin_url: None })
            }
            other => other,
        }
    }

    /// The failure of a direct backend call (no code).
    pub(super) fn from_egress(error: EgressError) -> Self {
        match error {
            EgressError::Denied { reason } => CallFailure::EgressDenied(reason),
            EgressError::Timeout { .. } => CallFailure::BackendTimeout,
            other => CallFailure::Backend(other),
        }
    }
}
