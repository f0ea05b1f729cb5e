//! The seam between guest code and the network: the [`Backend`] trait a host implements.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;

/// Performs the backend calls that guest code makes with `send`.
///
/// This is the only way out of the sandbox: the runtime gives the guest no
/// sockets, so whatever implements this trait decides what may leave (the
/// gateway puts its egress policy here). Tests use an in-process fake.
///
/// The runtime has already enforced the per-call limits on the number of
/// calls and on the request body; the backend should stop reading a response
/// body past [`CallInfo::max_response_bytes`] (the runtime rejects a larger
/// one anyway) and should not outlive [`CallInfo::deadline`].
#[async_trait]
pub trait Backend: Send + Sync {
    /// Sends one request for the call described by `call`.
    async fn send(&self, call: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError>;
}

/// Who is asking: the call a backend request belongs to.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// The connector whose code is sending.
    pub connector_id: Arc<str>,
    /// The operation being called.
    pub operation_id: Arc<str>,
    /// The call's correlation id.
    pub correlation_id: Arc<str>,
    /// When the whole call must be over.
    pub deadline: Instant,
    /// Which backend call of this invocation this is, from 0.
    pub index: u32,
    /// The largest response body the runtime accepts, in bytes.
    pub max_response_bytes: usize,
}

/// Why a backend call produced no response; the guest receives it as the
/// `send-error` of the contract. Any HTTP status is a response, not an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The egress policy refused the call.
    #[error("denied by egress policy: {0}")]
    Denied(String),
    /// The request is malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No connection could be made.
    #[error("backend unreachable: {0}")]
    Unreachable(String),
    /// The backend did not answer in time.
    #[error("backend timed out")]
    Timeout,
    /// The connection failed after it was made.
    #[error("backend connection failed: {0}")]
    Failed(String),
}

/// A backend for hosts that give code no network at all: every call is denied.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBackend;

#[async_trait]
impl Backend for NoBackend {
    async fn send(&self, _call: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        Err(SendError::Denied(format!("this host allows no backend calls (asked for {})", request.uri())))
    }
}
