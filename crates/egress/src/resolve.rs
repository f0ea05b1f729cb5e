//! Name resolution for egress decisions: the system resolver, and a pinned
//! map of names to addresses (like curl's `--resolve`) that falls back to
//! another resolver.
//!
//! A name is resolved once per decision; the addresses returned are the only
//! ones the client may connect to.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use crate::canonical::{Host, canonical_host};

/// A failed lookup. Every failed lookup denies the call.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The name has no addresses.
    #[error("no addresses found for `{name}`")]
    NotFound {
        /// The name looked up.
        name: String,
    },
    /// The lookup itself failed.
    #[error("lookup of `{name}` failed: {source}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
}

/// Resolves a canonical host name (lowercase ASCII, no trailing dot) to its
/// addresses.
#[async_trait]
pub trait Resolver: Send + Sync + fmt::Debug {
    /// All addresses of `name`, in the order a client should try them. An
    /// empty answer is a [`ResolveError::NotFound`].
    async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError>;
}

#[async_trait]
impl<R: Resolver + ?Sized> Resolver for Arc<R> {
    async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        (**self).resolve(name).await
    }
}

/// The operating system's resolver (`getaddrinfo` via
/// `tokio::net::lookup_host`). Needs the `client` feature.
#[cfg(feature = "client")]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[cfg(feature = "client")]
#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let addrs = tokio::net::lookup_host((name, 0))
            .await
            .map_err(|source| ResolveError::Lookup { name: name.to_owned(), source })?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for addr in addrs {
            if !ips.contains(&addr.ip()) {
                ips.push(addr.ip());
            }
        }
        if ips.is_empty() {
            return Err(ResolveError::NotFound { name: name.to_owned() });
        }
        Ok(ips)
    }
}

/// A `--resolve` pin that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("--resolve `{pin}`: {problem}")]
pub struct PinError {
    pin: String,
    problem: String,
}

/// Names pinned to fixed addresses, bypassing DNS; other names go to the
/// fallback resolver, or fail when there is none.
#[derive(Debug, Clone, Default)]
pub struct PinnedResolver {
    pins: HashMap<String, Vec<IpAddr>>,
    fallback: Option<Arc<dyn Resolver>>,
}

impl PinnedResolver {
    /// No pins and no fallback: every lookup fails.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends names that are not pinned to `fallback`.
    pub fn with_fallback(mut self, fallback: Arc<dyn Resolver>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// Pins `name` (canonicalised like a URL host) to `addrs`, adding to any
    /// addresses already pinned for it.
    pub fn pin(&mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Result<(), PinError> {
        let problem = |problem: String| PinError { pin: name.to_owned(), problem };
        let name = match canonical_host(name) {
            Ok(Host::Name(name)) => name,
            Ok(Host::Ip(_)) => {
                return Err(problem("only names can be pinned, not addresses".into()));
            }
            Err(e) => return Err(problem(e.to_string())),
        };
        let entry = self.pins.entry(name).or_default();
        for addr in addrs {
            if !entry.contains(&addr) {
                entry.push(addr);
            }
        }
        Ok(())
    }

    /// Pins from curl-style `NAME=IP[,IP...]` text; IPv6 addresses may be
    /// bracketed.
    pub fn pin_spec(&mut self, spec: &str) -> Result<(), PinError> {
        let problem = |problem: &str| PinError { pin: spec.to_owned(), problem: problem.to_owned() };
        let Some((name, ips)) = spec.split_once('=') else {
            return Err(problem("write NAME=IP[,IP...], e.g. api.example.com=93.184.215.14"));
        };
        let ips = ips
            .split(',')
            .map(|ip| {
                let bare = ip.trim().trim_start_matches('[').trim_end_matches(']');
                bare.parse::<IpAddr>().map_err(|_| problem(&format!("`{ip}` is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.pin(name, ips).map_err(|e| PinError { pin: spec.to_owned(), problem: e.problem })
    }
}

#[async_trait]
impl Resolver for PinnedResolver {
    async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        if let Some(addrs) = self.pins.get(name) {
            return Ok(addrs.clone());
        }
        match &self.fallback {
            Some(fallback) => fallback.resolve(name).await,
            None => Err(ResolveError::NotFound { name: name.to_owned() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn pinned_names_answer_without_dns() {
        let mut pins = PinnedResolver::new();
        pins.pin_spec("API.Example.COM.=93.184.215.14,[2606:4700::1]").unwrap();
        let addrs = pins.resolve("api.example.com").await.unwrap();
        assert_eq!(addrs, [ip("93.184.215.14"), ip("2606:4700::1")]);
    }

    #[tokio::test]
    async fn unpinned_name_without_fallback_fails() {
        let pins = PinnedResolver::new();
        assert!(matches!(pins.resolve("x.example").await, Err(ResolveError::NotFound { .. })));
    }

    #[tokio::test]
    async fn unpinned_name_goes_to_fallback() {
        let mut inner = PinnedResolver::new();
        inner.pin("x.example", [ip("8.8.8.8")]).unwrap();
        let outer = PinnedResolver::new().with_fallback(Arc::new(inner));
        assert_eq!(outer.resolve("x.example").await.unwrap(), [ip("8.8.8.8")]);
    }

    #[cfg(feature = "client")]
    #[tokio::test]
    async fn system_resolver_resolves_localhost_to_loopback() {
        let addrs = SystemResolver.resolve("localhost").await.unwrap();
        assert!(addrs.iter().all(IpAddr::is_loopback), "{addrs:?}");
    }

    #[test]
    fn bad_pins_explain_the_fix() {
        let mut pins = PinnedResolver::new();
        let e = pins.pin_spec("api.example.com").unwrap_err().to_string();
        assert!(e.contains("write NAME=IP"), "{e}");
        let e = pins.pin_spec("api.example.com=nope").unwrap_err().to_string();
        assert!(e.contains("`nope` is not an IP address"), "{e}");
        let e = pins.pin_spec("1.2.3.4=5.6.7.8").unwrap_err().to_string();
        assert!(e.contains("only names can be pinned"), "{e}");
    }
}
