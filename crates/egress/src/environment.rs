//! An environment's egress settings (its virtual network): the linked
//! subnets, whether public egress is allowed, the per-address verdict they
//! give, and the private root certificates it trusts for TLS into its
//! linked subnets (an internal CA, which public calls never trust).
//!
//! Forbidden addresses stay forbidden whatever the settings; an address
//! inside a linked subnet is reachable; otherwise a private address is not,
//! and a public one is only when public egress is on (the NAT gateway
//! switch).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;

use crate::address::{AddressClass, ForbiddenKind, classify, embedded_ipv4};

/// Why the environment refuses an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AddressDenial {
    /// The address is never reachable.
    #[error("{0}, never reachable")]
    Forbidden(ForbiddenKind),
    /// A private address outside every linked subnet.
    #[error("private and outside the linked subnets")]
    PrivateNotLinked,
    /// A public address while public egress is off.
    #[error("public, and public egress is off for this environment")]
    PublicDisabled,
}

/// A subnet that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("subnet `{0}`: write a CIDR such as 10.1.0.0/16 or fd12:3456::/32")]
pub struct SubnetError(String);

/// Parses a subnet as a CIDR; a bare address is a /32 or /128. Host bits are
/// cleared (`10.1.2.3/16` is `10.1.0.0/16`).
pub fn parse_subnet(subnet: &str) -> Result<IpNet, SubnetError> {
    let subnet = subnet.trim();
    if let Ok(net) = subnet.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    subnet
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| SubnetError(subnet.to_owned()))
}

/// An environment's egress settings.
///
/// Deserialises from `{"subnets": ["10.1.0.0/16"], "public": false}`.
/// `subnets` defaults to none. `public` defaults to `true` when no subnet is
/// linked and must be stated when one is, since with a virtual network public
/// egress depends on whether its subnet has a NAT gateway.
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "EnvironmentConfig")]
pub struct Environment {
    subnets: Vec<IpNet>,
    public: bool,
    /// Set only by [`Environment::with_loopback_grant`]; no
    /// configuration reaches it.
    loopback_grant: bool,
    private_roots: PrivateRoots,
}

/// Root certificates trusted for TLS to addresses in the linked subnets,
/// beside the public roots: the PEM files named, and the certificates (DER)
/// once loaded.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
struct PrivateRoots {
    files: Vec<PathBuf>,
    certificates: Arc<[Vec<u8>]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentConfig {
    #[serde(default)]
    subnets: Vec<String>,
    public: Option<bool>,
    #[serde(default)]
    private_roots: Vec<PathBuf>,
}

impl TryFrom<EnvironmentConfig> for Environment {
    type Error = String;

    fn try_from(config: EnvironmentConfig) -> Result<Self, String> {
        let subnets =
            config.subnets.iter().map(|s| parse_subnet(s)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
        let public = match (config.public, subnets.is_empty()) {
            (Some(public), _) => public,
            (None, true) => true,
            (None, false) => {
                return Err("with linked subnets, say whether public egress is allowed: \
                            `public: true` when the subnet has a NAT gateway"
                    .into());
            }
        };
        if !config.private_roots.is_empty() && subnets.is_empty() {
            return Err("private_roots are trusted only for linked subnets; link a subnet, or remove them".into());
        }
        let mut environment = Self::new(subnets, public);
        environment.private_roots.files = config.private_roots;
        Ok(environment)
    }
}

impl Default for Environment {
    /// No linked subnet, public egress allowed.
    fn default() -> Self {
        Self::new(Vec::new(), true)
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Environment");
        s.field("subnets", &self.subnets).field("public", &self.public);
        if self.loopback_grant {
            s.field("loopback_grant", &true);
        }
        if !self.private_roots.files.is_empty() || !self.private_roots.certificates.is_empty() {
            s.field("private_roots", &self.private_roots.files)
                .field("private_certificates", &self.private_roots.certificates.len());
        }
        s.finish()
    }
}

impl Environment {
    /// An environment linked to `subnets` (host bits are cleared), with
    /// public egress allowed or not.
    pub fn new(subnets: Vec<IpNet>, public: bool) -> Self {
        Self {
            subnets: subnets.into_iter().map(|net| net.trunc()).collect(),
            public,
            loopback_grant: false,
            private_roots: PrivateRoots::default(),
        }
    }

    /// The same environment linked to other `subnets` (host bits cleared),
    /// with public egress allowed or not; its private roots (and a
    /// loopback grant) are kept.
    pub fn with_network(mut self, subnets: Vec<IpNet>, public: bool) -> Self {
        self.subnets = subnets.into_iter().map(|net| net.trunc()).collect();
        self.public = public;
        self
    }

    /// The PEM files of private root certificates the settings name.
    pub fn private_root_files(&self) -> &[PathBuf] {
        &self.private_roots.files
    }

    /// The same environment with its relative private-root file names taken
    /// from `base` (the settings file's folder).
    pub fn with_private_roots_under(mut self, base: &Path) -> Self {
        self.private_roots.files = self.private_roots.files.iter().map(|file| base.join(file)).collect();
        self
    }

    /// The same environment trusting these certificates (DER) for TLS to
    /// its linked subnets; `load_private_roots` (with the `client` feature)
    /// reads them from the files.
    pub fn with_private_roots(mut self, certificates: Vec<Vec<u8>>) -> Self {
        self.private_roots.certificates = certificates.into();
        self
    }

    /// The private root certificates (DER) trusted for TLS to the linked subnets.
    pub fn private_roots(&self) -> &[Vec<u8>] {
        &self.private_roots.certificates
    }

    /// The linked subnets.
    pub fn subnets(&self) -> &[IpNet] {
        &self.subnets
    }

    /// Whether public addresses are reachable.
    pub fn public_allowed(&self) -> bool {
        self.public
    }

    /// Makes loopback (127.0.0.0/8 and ::1) reachable, for hosts whose own
    /// backends listen on loopback: the offline demo and the tests. Only
    /// code can grant it: no configuration deserialises to it, and nothing
    /// else of the environment changes.
    pub fn with_loopback_grant(mut self) -> Self {
        self.loopback_grant = true;
        self
    }

    /// Whether `ip` is inside one of the linked subnets.
    pub fn is_linked(&self, ip: IpAddr) -> bool {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.subnets.iter().any(|net| net.contains(&ip) || embedded.is_some_and(|v4| net.contains(&v4)))
    }

    /// Whether this environment lets a connection reach `ip`.
    pub fn permit(&self, ip: IpAddr) -> Result<(), AddressDenial> {
        if self.loopback_grant && ip.is_loopback() {
            return Ok(());
        }
        match classify(ip) {
            AddressClass::Forbidden(kind) => Err(AddressDenial::Forbidden(kind)),
            _ if self.is_linked(ip) => Ok(()),
            AddressClass::Private => Err(AddressDenial::PrivateNotLinked),
            AddressClass::Public if self.public => Ok(()),
            AddressClass::Public => Err(AddressDenial::PublicDisabled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn env(subnets: &[&str], public: bool) -> Environment {
        Environment::new(subnets.iter().map(|s| parse_subnet(s).unwrap()).collect(), public)
    }

    #[test]
    fn default_environment_reaches_public_only() {
        let env = Environment::default();
        assert_eq!(env.permit(ip("8.8.8.8")), Ok(()));
        assert_eq!(env.permit(ip("10.0.0.1")), Err(AddressDenial::PrivateNotLinked));
    }

    #[test]
    fn private_address_inside_linked_subnet_allowed() {
        let env = env(&["10.1.0.0/16", "fd12:3456::/32"], false);
        assert_eq!(env.permit(ip("10.1.0.5")), Ok(()));
        assert_eq!(env.permit(ip("fd12:3456::10")), Ok(()));
        assert_eq!(env.permit(ip("::ffff:10.1.0.5")), Ok(()));
        assert_eq!(env.permit(ip("10.3.0.5")), Err(AddressDenial::PrivateNotLinked));
    }

    #[test]
    fn public_address_denied_without_nat() {
        let env = env(&["10.1.0.0/16"], false);
        assert_eq!(env.permit(ip("93.184.215.14")), Err(AddressDenial::PublicDisabled));
    }

    #[test]
    fn public_range_linked_as_subnet_reachable_without_nat() {
        let env = env(&["20.1.0.0/16"], false);
        assert_eq!(env.permit(ip("20.1.2.3")), Ok(()));
    }

    #[test]
    fn forbidden_address_denied_even_inside_linked_subnet() {
        let env = env(&["127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/0"], true);
        for a in ["127.0.0.1", "169.254.169.254", "::ffff:127.0.0.1"] {
            assert!(matches!(env.permit(ip(a)), Err(AddressDenial::Forbidden(_))), "{a}");
        }
    }

    #[test]
    fn loopback_grant_reaches_loopback_only() {
        let env = Environment::default().with_loopback_grant();
        assert_eq!(env.permit(ip("127.0.0.1")), Ok(()));
        assert_eq!(env.permit(ip("::1")), Ok(()));
        assert!(env.permit(ip("169.254.169.254")).is_err());
        assert!(env.permit(ip("10.0.0.1")).is_err());
    }

    #[test]
    fn environment_deserialises_strictly() {
        let env: Environment =
            serde_json::from_str(r#"{"subnets": ["10.1.2.3/16", "fd12::1"], "public": false}"#).unwrap();
        assert_eq!(env, self::env(&["10.1.0.0/16", "fd12::1/128"], false));
        let env: Environment = serde_json::from_str("{}").unwrap();
        assert_eq!(env, Environment::default());
        for bad in [
            r#"{"subnets": ["10.1.0.0/16"]}"#,
            r#"{"public": true, "loopback_grant": true}"#,
            r#"{"subnets": ["nope"], "public": true}"#,
        ] {
            assert!(serde_json::from_str::<Environment>(bad).is_err(), "{bad}");
        }
    }
}
