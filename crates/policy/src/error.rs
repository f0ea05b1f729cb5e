//! What a policy can fail with while it edits a message.

/// A policy failed while editing a request or response. Messages name the
/// policy by its title and never include evaluated values, which may be
/// secrets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// An expression refers to a connection parameter the connection does
    /// not define (a connector or connection configuration mistake).
    #[error("policy `{policy}` refers to connection parameter `{name}`, which the connection does not define")]
    UndefinedConnectionParameter {
        /// The policy's title.
        policy: String,
        /// The parameter's name as the expression writes it.
        name: String,
    },
    /// A `{name}` placeholder in `newPath` has no path parameter of the
    /// operation to fill it (a connector mistake).
    #[error("policy `{policy}` needs path parameter `{name}`, which the operation does not have")]
    MissingPathParameter {
        /// The policy's title.
        policy: String,
        /// The placeholder's name.
        name: String,
    },
    /// The evaluated value is not a valid header value.
    #[error("policy `{policy}` produced an invalid value for header `{name}`")]
    InvalidHeader {
        /// The policy's title.
        policy: String,
        /// The header's name.
        name: String,
    },
    /// The evaluated base URL or backend URL is unusable (a connection value
    /// such as a host name is probably wrong).
    #[error("policy `{policy}` produced an invalid backend URL `{url}`: {reason}")]
    InvalidUrl {
        /// The policy's title.
        policy: String,
        /// The URL it produced (it may hold connection values: redact
        /// before showing it).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request body is not JSON (or not text) but a body template needs
    /// it to be (a client mistake).
    #[error("policy `{policy}` needs a JSON request body: {reason}")]
    BodyNotJson {
        /// The policy's title.
        policy: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A body template would make the body larger than the connector's
    /// body limit.
    #[error("policy `{policy}` would make the body larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The policy's title.
        policy: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A `setvaluefromurl` could not make its backend call: the caller
    /// makes none for policies (before code that may not see credentials,
    /// offline), or the call failed (`reason`, which names no secret).
    #[error("policy `{policy}` could not fetch its value: {reason}")]
    FetchUnavailable {
        /// The policy's title.
        policy: String,
        /// Why.
        reason: String,
    },
    /// A `setvaluefromurl`'s answer has no usable value: not 2xx, not JSON,
    /// or nothing at `parameterValuePathTemplate`.
    #[error("policy `{policy}` found no value to set: {reason}")]
    FetchedValue {
        /// The policy's title.
        policy: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// A body template could not reshape the JSON it found.
    #[error("policy `{policy}` cannot reshape the body: {reason}")]
    Body {
        /// The policy's title.
        policy: String,
        /// What did not fit.
        reason: String,
    },
}
