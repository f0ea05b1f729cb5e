//! The gateway's way out: the one egress client, and the environment's
//! network settings every call reads when it starts, so that a change of
//! settings applies to the next call without reloading any connector.

use std::sync::Arc;

use arc_swap::ArcSwap;
use sluice_egress::{AllowRule, Allowlist, EgressClient, Environment, Policy};

/// The egress client and the current environment.
#[derive(Debug)]
pub struct Network {
    client: EgressClient,
    environment: ArcSwap<Environment>,
    grant_loopback: bool,
}

impl Network {
    /// A network over `client` in `environment`; `grant_loopback` (set only
    /// from code: the demo, the tests) lets calls reach loopback addresses.
    pub fn new(client: EgressClient, environment: Environment, grant_loopback: bool) -> Self {
        let network = Self { client, environment: ArcSwap::from_pointee(Environment::default()), grant_loopback };
        network.set_environment(environment);
        network
    }

    /// The egress client every backend call goes through.
    pub fn client(&self) -> &EgressClient {
        &self.client
    }

    /// The environment calls run in now.
    pub fn environment(&self) -> Arc<Environment> {
        self.environment.load_full()
    }

    /// Applies new environment settings to every call that starts from now.
    pub fn set_environment(&self, environment: Environment) {
        let environment = if self.grant_loopback { environment.with_loopback_grant() } else { environment };
        self.environment.store(Arc::new(environment));
    }

    /// The policy a call to the hosts of `allowlist` runs under now.
    pub fn policy(&self, allowlist: &Allowlist) -> Policy {
        Policy::new(allowlist.clone(), Environment::clone(&self.environment.load()))
    }

    /// The policy of a call the gateway makes itself (to an OAuth provider,
    /// to an issuer's JWKS): only `url`'s origin is allowed. The error says
    /// why the URL cannot be an egress target.
    pub fn policy_for_origin(&self, url: &str) -> Result<Policy, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        let rule = AllowRule::for_url(&parsed).map_err(|e| e.to_string())?;
        Ok(self.policy(&Allowlist::new(vec![rule])))
    }
}
