//! The errors code returns ([`Error`]) and receives from backend calls ([`SendError`]).

use std::fmt;

/// Why the code could not produce a response. The gateway answers the
/// client according to the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Answer the client with this 4xx status and message: the typed form of
    /// the platform's `EXPECTED400: ...` habit.
    Client {
        /// The status, 400 to 499 (anything else is reported as invalid output).
        status: u16,
        /// The message the client sees.
        message: String,
    },
    /// The backend failed or answered something unusable: the client gets a 502.
    Upstream(String),
    /// The code failed: the client gets a 500, the message goes to the log.
    Internal(String),
}

impl Error {
    /// A 4xx answer with a message for the client.
    pub fn client(status: u16, message: impl Into<String>) -> Self {
        Error::Client { status, message: message.into() }
    }

    /// A 400 answer: the client's input is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::client(400, message)
    }

    /// The backend failed.
    pub fn upstream(message: impl Into<String>) -> Self {
        Error::Upstream(message.into())
    }

    /// The code failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Client { status, message } => write!(f, "client error {status}: {message}"),
            Error::Upstream(message) => write!(f, "upstream failure: {message}"),
            Error::Internal(message) => write!(f, "internal failure: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<SendError> for Error {
    fn from(error: SendError) -> Self {
        Error::Upstream(format!("backend call failed: {error}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::Internal(format!("JSON: {error}"))
    }
}

/// Why a backend call produced no response. A response with any status,
/// 4xx and 5xx included, is not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The egress policy refused the call; the text says why.
    Denied(String),
    /// The request is malformed: method, URL or a header.
    InvalidRequest(String),
    /// No connection could be made.
    Unreachable(String),
    /// The backend did not answer before the deadline.
    Timeout,
    /// The connection failed after it was made.
    Failed(String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Denied(reason) => write!(f, "denied by egress policy: {reason}"),
            SendError::InvalidRequest(reason) => write!(f, "invalid request: {reason}"),
            SendError::Unreachable(reason) => write!(f, "backend unreachable: {reason}"),
            SendError::Timeout => f.write_str("backend timed out"),
            SendError::Failed(reason) => write!(f, "backend connection failed: {reason}"),
        }
    }
}

impl std::error::Error for SendError {}
