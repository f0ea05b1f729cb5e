//! The backend calls that `setvaluefromurl` policies make while the request
//! is prepared: sent as the call's own request is (the connection's egress
//! policy, one token refresh after a 401, recorded in a test's trace), and
//! a failure kept typed, so the call answers what it would answer had its
//! own request failed that way (egress denied, backend timeout, sign-in
//! required) rather than a policy's generic failure.

use std::sync::Mutex;

use bytes::Bytes;
use sluice_egress::EgressError;
use sluice_policy::{FetchFuture, ValueFetch};

use super::send::{self, Refresh};
use super::{CallFailure, Scope, SignedIn};
use crate::gateway::Gateway;

/// A call's [`ValueFetch`].
pub(super) struct PolicyFetch<'a> {
    gateway: &'a Gateway,
    scope: &'a Scope,
    signed_in: Option<&'a SignedIn>,
    /// Why the last call failed, for the call's answer.
    failure: Mutex<Option<CallFailure>>,
}

impl<'a> PolicyFetch<'a> {
    pub(super) fn new(gateway: &'a Gateway, scope: &'a Scope, signed_in: Option<&'a SignedIn>) -> Self {
        Self { gateway, scope, signed_in, failure: Mutex::new(None) }
    }

    /// The typed failure of the call that failed, if one did.
    pub(super) fn into_failure(self) -> Option<CallFailure> {
        self.failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `failure` for the answer and gives the policy its message,
    /// redacted of the call's secrets.
    fn failed(&self, failure: CallFailure) -> String {
        let message = self.scope.secrets.redact(&failure.to_string());
        *self.failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(failure);
        message
    }
}

impl ValueFetch for PolicyFetch<'_> {
    fn fetch<'f>(&'f self, _policy: &'f str, request: http::Request<Bytes>) -> FetchFuture<'f> {
        Box::pin(async move {
            let options = send::options(self.gateway, self.scope);
            match send::send_refreshing(self.scope, request, options, self.signed_in).await {
                Ok((_, Refresh::Failed(error))) => Err(self.failed(error.into())),
                Ok((response, _)) => Ok(response),
                Err(error) => {
                    if matches!(error, EgressError::Denied { .. }) {
                        send::count_denial(self.gateway, self.scope, "policy");
                    }
                    Err(self.failed(CallFailure::from_egress(error)))
                }
            }
        })
    }
}
