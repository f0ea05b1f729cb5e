//! The OAuth client's HTTP: the egress client, under a policy that allows
//! exactly the provider endpoint's origin.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use oauth2::RequestTokenError;
use sluice_egress::SendOptions;

use crate::network::Network;

/// How long a provider may take to answer.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest provider answer read.
const MAX_PROVIDER_ANSWER: usize = 1 << 20;

/// The provider could not be reached through the egress client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderHttpError {
    /// The endpoint is not a URL an allow rule can name.
    #[error("token URL `{url}` is unusable: {reason}")]
    Endpoint {
        /// The endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// The call failed: denied, unreachable, timed out.
    #[error(transparent)]
    Egress(#[from] sluice_egress::EgressError),
}

/// Sends the oauth2 crate's requests to one endpoint.
pub(super) struct EgressHttp {
    network: Arc<Network>,
    endpoint: String,
}

impl EgressHttp {
    pub(super) fn new(network: &Arc<Network>, endpoint: &str) -> Self {
        Self { network: Arc::clone(network), endpoint: endpoint.to_string() }
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for EgressHttp {
    type Error = ProviderHttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, ProviderHttpError>> + Send + 'static>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        let network = Arc::clone(&self.network);
        let endpoint = self.endpoint.clone();
        Box::pin(async move { send(&network, &endpoint, request).await })
    }
}

/// Sends one request to the provider through the egress client.
pub(super) async fn send(
    network: &Network,
    endpoint: &str,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, ProviderHttpError> {
    let unusable = |reason: String| ProviderHttpError::Endpoint { url: endpoint.to_string(), reason };
    let policy = network.policy_for_origin(endpoint).map_err(unusable)?;
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Bytes::from(body));
    let options = SendOptions { timeout: Some(PROVIDER_TIMEOUT), max_response_bytes: MAX_PROVIDER_ANSWER };
    let response = network.client().send(&policy, request, options).await?;
    let (parts, body) = response.into_parts();
    Ok(http::Response::from_parts(parts, body.to_vec()))
}

/// A token-request error, without any secret.
pub(super) fn describe<E: std::error::Error>(
    error: &RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> String {
    match error {
        RequestTokenError::ServerResponse(response) => response.error().to_string(),
        RequestTokenError::Request(inner) => inner.to_string(),
        RequestTokenError::Parse(inner, _) => format!("unreadable answer: {inner}"),
        RequestTokenError::Other(text) => text.clone(),
    }
}
