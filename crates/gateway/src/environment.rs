//! One environment of the gateway: its connectors, its network, and its
//! OAuth sign-ins and tokens. The gateway holds one per environment; they
//! share the runtime, the egress client, the store and the metrics, and
//! nothing of one is reachable through another.
//!
//! The default environment is served at the root (`/apim/...`), as a
//! single-environment gateway always was; every other one under
//! `/environments/{id}/` (`/environments/{id}/apim/...`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

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
    /// Whether its admins set its network through the API, which then wins
    /// over the settings file's.
    network_from_api: AtomicBool,
}

/// An environment's linked subnets and public switch, as the management API
/// reads and writes them (and the store keeps them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// The linked subnets, in CIDR notation (`10.1.0.0/16`).
    pub subnets: Vec<String>,
    /// Whether public egress is allowed (a NAT gateway).
    pub public: bool,
}

impl NetworkSettings {
    /// The settings of an environment now.
    pub fn of(environment: &sluice_egress::Environment) -> Self {
        Self {
            subnets: environment.subnets().iter().map(ToString::to_string).collect(),
            public: environment.public_allowed(),
        }
    }

    /// `environment` with these subnets and this switch (its private roots
    /// kept); a subnet that is not one is the error.
    pub fn apply_to(
        &self,
        environment: sluice_egress::Environment,
    ) -> Result<sluice_egress::Environment, sluice_egress::SubnetError> {
        let subnets = self.subnets.iter().map(|s| sluice_egress::parse_subnet(s)).collect::<Result<Vec<_>, _>>()?;
        Ok(environment.with_network(subnets, self.public))
    }
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
        Self { id: id.into(), display_name, registry, network, oauth, network_from_api: AtomicBool::new(false) }
    }

    /// Applies network settings its admins set through the API to every
    /// call from now on; from then on the settings file's are not applied
    /// on `SIGHUP`.
    pub fn set_network_from_api(&self, settings: sluice_egress::Environment) {
        tracing::info!(environment = %self.id, subnets = ?settings.subnets(), public = settings.public_allowed(), "environment network set through the API");
        self.network.set_environment(settings);
        self.network_from_api.store(true, Ordering::Relaxed);
    }

    /// Whether its network was set through the API.
    pub fn network_from_api(&self) -> bool {
        self.network_from_api.load(Ordering::Relaxed)
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
