//! The egress decision: one function, [`Policy::check`], says whether a URL
//! may be called and which socket addresses a connection may use, and logs
//! every decision.
//!
//! A call is allowed only when the connector's allowlist grants its scheme,
//! host and port, and every address the host resolves to is permitted by the
//! environment. The allowlist is consulted first, so names that are not
//! granted are never looked up.

use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

use crate::canonical::{Host, Target, UrlError};
use crate::environment::{AddressDenial, Environment};
use crate::resolve::Resolver;
use crate::rule::{AllowRule, Allowlist};

/// What a connector may reach from an environment: the pair the egress
/// client keys its connection pools on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The connector's allowlist.
    pub allowlist: Allowlist,
    /// The environment's egress settings.
    pub environment: Environment,
}

/// Why a call is denied, in words fit for the connector author.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DenyReason {
    /// The URL is not an http(s) URL with a host.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// No allowlist rule grants the target.
    #[error("no allow rule grants {target}")]
    NotGranted {
        /// The canonical target.
        target: Target,
    },
    /// `localhost` and names below it always mean loopback.
    #[error("`{name}` is a loopback name, never reachable")]
    LoopbackName {
        /// The name.
        name: String,
    },
    /// An IP-literal host the environment refuses.
    #[error("{addr} is {denial}")]
    Address {
        /// The address.
        addr: IpAddr,
        /// Why it is refused.
        denial: AddressDenial,
    },
    /// A name with at least one address the environment refuses.
    #[error("`{name}` resolves to {addr}, which is {denial}")]
    ResolvedAddress {
        /// The name.
        name: String,
        /// The first refused address.
        addr: IpAddr,
        /// Why it is refused.
        denial: AddressDenial,
    },
    /// The name could not be resolved.
    #[error("{message}")]
    LookupFailed {
        /// The name.
        name: String,
        /// The resolver's error.
        message: String,
    },
}

impl DenyReason {
    /// The reason for people outside the operator's network (a client's
    /// error answer): the same words, without the address a name resolved
    /// to or the resolver's own message, which describe the inside.
    pub fn public(&self) -> String {
        match self {
            DenyReason::ResolvedAddress { name, denial, .. } => {
                format!("`{name}` resolves to an address that is {denial}")
            }
            DenyReason::LookupFailed { name, .. } => format!("`{name}` could not be resolved"),
            other => other.to_string(),
        }
    }
}

/// The outcome of [`Policy::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The call may go out, to these addresses only.
    Allow {
        /// The canonical target.
        target: Target,
        /// The rule that granted it.
        rule: AllowRule,
        /// The vetted addresses, in the order to try them; never empty.
        addrs: Vec<SocketAddr>,
    },
    /// The call must not go out.
    Deny {
        /// Why.
        reason: DenyReason,
    },
}

impl Decision {
    /// Whether the call may go out.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }

    /// The vetted addresses; empty on deny.
    pub fn addrs(&self) -> &[SocketAddr] {
        match self {
            Self::Allow { addrs, .. } => addrs,
            Self::Deny { .. } => &[],
        }
    }

    /// The reason on deny.
    pub fn reason(&self) -> Option<&DenyReason> {
        match self {
            Self::Allow { .. } => None,
            Self::Deny { reason } => Some(reason),
        }
    }
}

impl Policy {
    /// A policy from a connector's allowlist and an environment's settings.
    pub fn new(allowlist: Allowlist, environment: Environment) -> Self {
        Self { allowlist, environment }
    }

    /// Decides whether `url` may be called, resolving its host through
    /// `resolver` (IP literals are not resolved), and logs the decision.
    pub async fn check(&self, url: &str, resolver: &dyn Resolver) -> Decision {
        let decision = match Target::parse(url) {
            Ok(target) => self.decide(&target, resolver).await,
            Err(e) => Decision::Deny { reason: e.into() },
        };
        log_decision(url, &decision);
        decision
    }

    /// [`Policy::check`] for an already canonical target.
    pub async fn check_target(&self, target: &Target, resolver: &dyn Resolver) -> Decision {
        let decision = self.decide(target, resolver).await;
        log_decision(&target.to_string(), &decision);
        decision
    }

    async fn decide(&self, target: &Target, resolver: &dyn Resolver) -> Decision {
        let deny = |reason| Decision::Deny { reason };
        let Some(rule) = self.allowlist.grant(target) else {
            return deny(DenyReason::NotGranted { target: target.clone() });
        };
        let ips = match &target.host {
            Host::Ip(addr) => {
                if let Err(denial) = self.environment.permit(*addr) {
                    return deny(DenyReason::Address { addr: *addr, denial });
                }
                vec![*addr]
            }
            Host::Name(name) => {
                if name == "localhost" || name.ends_with(".localhost") {
                    return deny(DenyReason::LoopbackName { name: name.clone() });
                }
                let ips = match resolver.resolve(name).await {
                    Ok(ips) if !ips.is_empty() => ips,
                    Ok(_) => {
                        return deny(DenyReason::LookupFailed {
                            name: name.clone(),
                            message: format!("no addresses found for `{name}`"),
                        });
                    }
                    Err(e) => {
                        return deny(DenyReason::LookupFailed { name: name.clone(), message: e.to_string() });
                    }
                };
                // Any one refused address denies the name: a client may pick
                // any of them, and an attacker controlling DNS picks for it.
                for addr in &ips {
                    if let Err(denial) = self.environment.permit(*addr) {
                        return deny(DenyReason::ResolvedAddress { name: name.clone(), addr: *addr, denial });
                    }
                }
                ips
            }
        };
        let mut addrs: Vec<SocketAddr> = Vec::with_capacity(ips.len());
        for ip in ips {
            let addr = SocketAddr::new(ip, target.port);
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        Decision::Allow { target: target.clone(), rule: rule.clone(), addrs }
    }
}

/// Denials are logged at `info`, allowed calls at `debug`.
pub(crate) fn log_decision(url: &str, decision: &Decision) {
    match decision {
        Decision::Allow { rule, addrs, .. } => tracing::debug!(
            target: "sluice_egress",
            url,
            decision = "allow",
            rule = %rule,
            addrs = ?addrs,
            "egress allowed"
        ),
        Decision::Deny { reason } => tracing::info!(
            target: "sluice_egress",
            url,
            decision = "deny",
            reason = %reason,
            "egress denied"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::parse_subnet;
    use crate::resolve::PinnedResolver;

    fn policy(rules: &[&str], subnets: &[&str], public: bool) -> Policy {
        Policy::new(
            Allowlist::parse(rules).unwrap(),
            Environment::new(subnets.iter().map(|s| parse_subnet(s).unwrap()).collect(), public),
        )
    }

    fn pins(pins: &[&str]) -> PinnedResolver {
        let mut r = PinnedResolver::new();
        for p in pins {
            r.pin_spec(p).unwrap();
        }
        r
    }

    #[tokio::test]
    async fn allowed_name_returns_every_vetted_address_with_port() {
        let p = policy(&["https://*.example.com"], &[], true);
        let r = pins(&["a.example.com=93.184.215.14,2606:4700::1"]);
        let d = p.check("https://a.example.com/x", &r).await;
        assert_eq!(d.addrs(), ["93.184.215.14:443".parse().unwrap(), "[2606:4700::1]:443".parse().unwrap()]);
    }

    #[tokio::test]
    async fn name_with_one_forbidden_address_denied() {
        let p = policy(&["*://*:*"], &[], true);
        let r = pins(&["a.example.com=93.184.215.14,169.254.169.254"]);
        let d = p.check("http://a.example.com/", &r).await;
        assert_eq!(
            d.reason().unwrap().to_string(),
            "`a.example.com` resolves to 169.254.169.254, which is a cloud metadata endpoint, never reachable"
        );
    }

    #[tokio::test]
    async fn ungranted_name_never_resolved() {
        #[derive(Debug)]
        struct Panics;
        #[async_trait::async_trait]
        impl Resolver for Panics {
            async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, crate::ResolveError> {
                panic!("resolved {name}")
            }
        }
        let p = policy(&["https://a.example.com"], &[], true);
        let d = p.check("https://b.example.com/", &Panics).await;
        assert_eq!(d.reason().unwrap().to_string(), "no allow rule grants https://b.example.com:443");
    }

    #[tokio::test]
    async fn localhost_names_denied_without_lookup() {
        let p = policy(&["*://*:*"], &[], true);
        let r = pins(&["x.localhost=93.184.215.14"]);
        assert!(!p.check("http://x.localhost/", &r).await.is_allowed());
        assert!(!p.check("http://LOCALHOST./", &r).await.is_allowed());
    }

    #[tokio::test]
    async fn failed_lookup_denied() {
        let p = policy(&["*://*:*"], &[], true);
        let d = p.check("http://nowhere.example/", &PinnedResolver::new()).await;
        assert_eq!(d.reason().unwrap().to_string(), "no addresses found for `nowhere.example`");
    }

    #[tokio::test]
    async fn private_address_denied() {
        let p = policy(&["*://*:*"], &[], true);
        let d = p.check("http://192.168.0.1/", &PinnedResolver::new()).await;
        assert_eq!(d.reason().unwrap().to_string(), "192.168.0.1 is private and outside the linked subnets");
    }
}
