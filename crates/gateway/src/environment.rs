//! One environment of the gateway: its connectors, its network, and its
//! OAuth sign-ins and tokens. The gateway holds one per environment; they
//! share the runtime, the egress client, the store and the metrics, and
//! nothing of one is reachable through another.
//!
//! The default environment is served at the root (`/apim/...`), as a
//! single-environment gateway always was; every other one under
//! `/environments/{id}/` (`/environments/{id}/apim/...`).

use std::sync::Arc;

use crate::network::Network;
use crate::oauth::{OAuth, OAuthError, OAuthUnavailable};
use crate::registry::Registry;

/// One environment's parts.
#[derive(Debug)]
pub struct Environment {
    id: Arc<str>,
    display_name: String,
    registry: Arc<Registry>,
    network: Arc<Network>,
    /// OAuth sign-in and tokens; the reason when it is not available.
    oauth: Result<OAuth, Arc<OAuthUnavailable>>,
}

impl Environment {
    /// An environment of these parts.
    pub fn new(
        id: &str,
        display_name: String,
        registry: Arc<Registry>,
        network: Arc<Network>,
        oauth: Result<OAuth, Arc<OAuthUnavailable>>,
    ) -> Self {
        Self { id: id.into(), display_name, registry, network, oauth }
    }

    /// What the routes of the environment `id` start with: nothing for the
    /// default environment, `/environments/{id}` for the others.
    pub fn prefix_of(id: &str) -> String {
        if id == crate::access::DEFAULT_ENVIRONMENT { String::new() } else { format!("/environments/{id}") }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name people read.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// Its connectors.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The egress client and the environment's network settings.
    pub fn network(&self) -> &Arc<Network> {
        &self.network
    }

    /// Its OAuth service, or why it is unavailable.
    pub fn oauth(&self) -> Result<&OAuth, OAuthError> {
        self.oauth.as_ref().map_err(|reason| OAuthError::Unavailable(Arc::clone(reason)))
    }

    /// Applies new network settings (with their private root certificates,
    /// loaded now) to every call that starts from now on; connectors need
    /// no reload. Settings whose roots do not load change nothing.
    pub fn set_network(&self, settings: sluice_egress::Environment) -> Result<(), sluice_egress::RootsError> {
        let settings = settings.load_private_roots()?;
        tracing::info!(environment = %self.id, subnets = ?settings.subnets(), public = settings.public_allowed(), private_roots = settings.private_roots().len(), "environment network settings changed");
        self.network.set_environment(settings);
        Ok(())
    }
}
