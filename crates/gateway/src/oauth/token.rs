//! What a token endpoint answered, whichever client asked: the tokens it
//! issued, or why it issued none (its OAuth error code, or a failure to
//! reach or read it). Sign-in and refresh decide on this alone.

use oauth2::basic::BasicErrorResponse;
use oauth2::{RequestTokenError, TokenResponse};

use super::http::describe;

/// The tokens a token endpoint issued.
#[derive(Clone)]
pub(super) struct Issued {
    pub(super) access_token: String,
    pub(super) refresh_token: Option<String>,
    /// Seconds the access token lives, when the provider says.
    pub(super) expires_in: Option<u64>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

impl<T: TokenResponse> From<T> for Issued {
    fn from(token: T) -> Self {
        Self {
            access_token: token.access_token().secret().clone(),
            refresh_token: token.refresh_token().map(|t| t.secret().clone()),
            expires_in: token.expires_in().map(|d| d.as_secs()),
        }
    }
}

/// Why a token endpoint issued no tokens. Never carries a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum TokenFailure {
    /// The provider refused, with this OAuth error code (`invalid_grant`...).
    #[error("{0}")]
    Refused(String),
    /// The request could not be made, or the answer was unusable.
    #[error("{0}")]
    Failed(String),
}

impl TokenFailure {
    /// Whether the provider refused the grant itself: the refresh token (or
    /// code) is dead, and only a new sign-in helps.
    pub(super) fn is_invalid_grant(&self) -> bool {
        matches!(self, Self::Refused(code) if code == "invalid_grant")
    }
}

impl<E: std::error::Error> From<RequestTokenError<E, BasicErrorResponse>> for TokenFailure {
    fn from(error: RequestTokenError<E, BasicErrorResponse>) -> Self {
        match &error {
            RequestTokenError::ServerResponse(response) => Self::Refused(response.error().to_string()),
            _ => Self::Failed(describe(&error)),
        }
    }
}
