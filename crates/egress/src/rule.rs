//! Connector allowlist rules `scheme://host[:port]`, parsed once when the
//! connector loads, and the allowlist that grants a target scheme, host and
//! port.
//!
//! Parsing does no I/O. A rule that does not parse is a load error whose
//! message says how to fix it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;

use crate::canonical::{Host, Scheme, Target, canonical_host};

/// A rule that does not parse, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("rule `{rule}`: {problem}")]
pub struct RuleError {
    rule: String,
    problem: String,
}

impl RuleError {
    fn new(rule: &str, problem: impl Into<String>) -> Self {
        Self { rule: rule.to_owned(), problem: problem.into() }
    }

    /// The rule as written.
    pub fn rule(&self) -> &str {
        &self.rule
    }
}

/// The schemes a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemePattern {
    /// `http` only.
    Http,
    /// `https` only.
    Https,
    /// `*`: both.
    Any,
}

impl SchemePattern {
    fn matches(self, scheme: Scheme) -> bool {
        matches!((self, scheme), (Self::Any, _) | (Self::Http, Scheme::Http) | (Self::Https, Scheme::Https))
    }
}

/// The hosts a rule grants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `*`: any name or address.
    Any,
    /// One canonical name (lowercase ASCII, no trailing dot).
    Exact(String),
    /// `*.suffix`: any name below `suffix`, never `suffix` itself.
    Subdomains(String),
    /// IP literals inside a network; a bare address is a /32 or /128. Names
    /// are never matched by a CIDR, whatever they resolve to.
    Cidr(IpNet),
}

impl HostPattern {
    fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (Self::Any, _) => true,
            (Self::Exact(rule), Host::Name(name)) => rule == name,
            (Self::Subdomains(suffix), Host::Name(name)) => {
                name.strip_suffix(suffix.as_str()).is_some_and(|head| head.len() > 1 && head.ends_with('.'))
            }
            (Self::Cidr(net), Host::Ip(ip)) => net.contains(ip),
            _ => false,
        }
    }
}

/// The ports a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortPattern {
    /// Port omitted: the URL scheme's default (80 for http, 443 for https).
    SchemeDefault,
    /// One port.
    Exact(u16),
    /// An inclusive range `a-b`.
    Range(u16, u16),
    /// `*`: any port.
    Any,
}

impl PortPattern {
    fn matches(self, port: u16, scheme: Scheme) -> bool {
        match self {
            Self::SchemeDefault => port == scheme.default_port(),
            Self::Exact(p) => port == p,
            Self::Range(lo, hi) => (lo..=hi).contains(&port),
            Self::Any => true,
        }
    }
}

/// One allowlist rule: `scheme://host[:port]`.
///
/// - scheme: `http`, `https` or `*`;
/// - host: an exact name, `*.suffix` (any subdomain, never the apex), `*`, or
///   an IP CIDR (`10.1.0.0/16`, `[fd12::]/32`; a bare address is a /32 or
///   /128);
/// - port: a number, a range `a-b` or `*`; omitted means the URL scheme's
///   default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct AllowRule {
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

impl AllowRule {
    /// The schemes granted.
    pub fn scheme(&self) -> SchemePattern {
        self.scheme
    }

    /// The hosts granted.
    pub fn host(&self) -> &HostPattern {
        &self.host
    }

    /// The ports granted.
    pub fn port(&self) -> PortPattern {
        self.port
    }

    /// Whether this rule grants the target's scheme, host and port.
    pub fn grants(&self, target: &Target) -> bool {
        self.scheme.matches(target.scheme)
            && self.host.matches(&target.host)
            && self.port.matches(target.port, target.scheme)
    }
}

impl AllowRule {
    /// The rule that grants exactly one origin: `scheme` on `host`, which may
    /// carry a port (`api.example.com`, `api.example.com:8443`); without one,
    /// the scheme's default port. The one way a URL's origin (a definition's
    /// host, a token endpoint, a dynamic host) becomes a rule.
    pub fn for_origin(scheme: &str, host: &str) -> Result<Self, RuleError> {
        format!("{scheme}://{host}").parse()
    }

    /// The rule that grants exactly the origin of `url`: its scheme, host and
    /// port (explicit or the scheme's default).
    pub fn for_url(url: &url::Url) -> Result<Self, RuleError> {
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(RuleError::new(url.as_str(), "the URL has no host")),
        };
        Self::for_origin(url.scheme(), &host)
    }
}

impl TryFrom<String> for AllowRule {
    type Error = RuleError;

    fn try_from(rule: String) -> Result<Self, RuleError> {
        rule.parse()
    }
}

impl FromStr for AllowRule {
    type Err = RuleError;

    fn from_str(rule: &str) -> Result<Self, RuleError> {
        let err = |problem: &str| RuleError::new(rule, problem);
        let Some((scheme, rest)) = rule.split_once("://") else {
            return Err(err("write it as scheme://host[:port], e.g. https://api.example.com"));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => SchemePattern::Http,
            "https" => SchemePattern::Https,
            "*" => SchemePattern::Any,
            _ => return Err(err("scheme must be http, https or *")),
        };
        if rest.contains(['@', '?', '#']) {
            return Err(err("a rule has no userinfo, query or fragment; write scheme://host[:port]"));
        }
        let (host, prefix, port) = split_host(rest).map_err(|p| err(&p))?;
        let host = parse_host(host, prefix).map_err(|p| err(&p))?;
        let port = match port {
            None => PortPattern::SchemeDefault,
            Some(port) => parse_port(port).map_err(|p| err(&p))?,
        };
        Ok(Self { scheme, host, port })
    }
}

/// Splits `host[/prefix][:port]` (host possibly bracketed, prefix possibly
/// inside the brackets) into its parts.
fn split_host(rest: &str) -> Result<(&str, Option<&str>, Option<&str>), String> {
    let (host, after) = if let Some(bracketed) = rest.strip_prefix('[') {
        let Some((inside, after)) = bracketed.split_once(']') else {
            return Err("missing `]` after the IPv6 address".into());
        };
        (inside, after)
    } else {
        let end = rest.find(['/', ':']).unwrap_or(rest.len());
        rest.split_at(end)
    };
    let (host, mut prefix) = match host.split_once('/') {
        Some((host, prefix)) => (host, Some(prefix)),
        None => (host, None),
    };
    let mut after = after;
    if let Some(tail) = after.strip_prefix('/') {
        if tail.starts_with(|c: char| !c.is_ascii_digit()) || tail.is_empty() {
            return Err("a rule has no path; write scheme://host[:port] (a CIDR is address/length)".into());
        }
        if prefix.is_some() {
            return Err("the prefix length is given twice".into());
        }
        let end = tail.find(':').unwrap_or(tail.len());
        prefix = Some(&tail[..end]);
        after = &tail[end..];
    }
    let port = match after {
        "" => None,
        _ => match after.strip_prefix(':') {
            Some(port) if port.contains(':') => {
                return Err("write IPv6 addresses in brackets, e.g. http://[fd12::1]:8080".into());
            }
            Some(port) => Some(port),
            None if after.contains(':') || host.contains(':') => {
                return Err("write IPv6 addresses in brackets, e.g. http://[fd12::1]:8080".into());
            }
            None => {
                return Err("a rule has no path; write scheme://host[:port]".into());
            }
        },
    };
    if host.is_empty() {
        return Err("the host is missing; use `*` for any host".into());
    }
    // Decoded, `%2A` would be a `*` that no check above saw, and the rule
    // would print as one that does not parse.
    if host.contains('%') {
        return Err("write the host as it is, not percent-encoded".into());
    }
    Ok((host, prefix, port))
}

fn parse_host(host: &str, prefix: Option<&str>) -> Result<HostPattern, String> {
    if let Some(prefix) = prefix {
        let ip: IpAddr =
            host.parse().map_err(|_| format!("`{host}/{prefix}`: a CIDR needs an IP address before the `/`"))?;
        let len: u8 = prefix.parse().map_err(|_| format!("`/{prefix}` is not a prefix length"))?;
        let net = IpNet::new(ip, len).map_err(|_| {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            format!("prefix length /{len} is longer than /{max}")
        })?;
        if net.trunc() != net {
            return Err(format!("{net} has host bits set; write the network address, {}", net.trunc()));
        }
        return Ok(HostPattern::Cidr(net));
    }
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if let Some(suffix) = host.strip_prefix("*.") {
        if suffix.is_empty() {
            return Err("`*.` must be followed by a domain name".into());
        }
        if suffix.contains('*') {
            return Err("`*` may only be the whole host or a leading `*.`".into());
        }
        return match canonical_host(suffix) {
            Ok(Host::Name(name)) => Ok(HostPattern::Subdomains(name)),
            Ok(Host::Ip(_)) => Err("`*.` must be followed by a domain name, not an address".into()),
            Err(e) => Err(format!("`{suffix}`: {e}")),
        };
    }
    if host.contains('*') {
        return Err("`*` may only be the whole host or a leading `*.`".into());
    }
    match canonical_host(host) {
        Ok(Host::Name(name)) => Ok(HostPattern::Exact(name)),
        Ok(Host::Ip(ip)) => Ok(HostPattern::Cidr(IpNet::from(ip))),
        Err(e) => Err(format!("`{host}`: {e}")),
    }
}

fn parse_port(port: &str) -> Result<PortPattern, String> {
    let number = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("port `{p}` must be a number from 1 to 65535, a range a-b, or *")),
        Ok(p) => Ok(p),
    };
    if port == "*" {
        return Ok(PortPattern::Any);
    }
    if let Some((lo, hi)) = port.split_once('-') {
        let (lo, hi) = (number(lo)?, number(hi)?);
        if lo > hi {
            return Err(format!("port range {lo}-{hi} is empty; write {hi}-{lo}"));
        }
        return Ok(PortPattern::Range(lo, hi));
    }
    number(port).map(PortPattern::Exact)
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            SchemePattern::Http => "http",
            SchemePattern::Https => "https",
            SchemePattern::Any => "*",
        };
        write!(f, "{scheme}://")?;
        match &self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Exact(name) => f.write_str(name)?,
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}")?,
            HostPattern::Cidr(IpNet::V4(net)) if net.prefix_len() == 32 => write!(f, "{}", net.addr())?,
            HostPattern::Cidr(IpNet::V6(net)) if net.prefix_len() == 128 => write!(f, "[{}]", net.addr())?,
            HostPattern::Cidr(IpNet::V4(net)) => write!(f, "{net}")?,
            HostPattern::Cidr(IpNet::V6(net)) => write!(f, "[{}]/{}", net.addr(), net.prefix_len())?,
        }
        match self.port {
            PortPattern::SchemeDefault => Ok(()),
            PortPattern::Exact(p) => write!(f, ":{p}"),
            PortPattern::Range(lo, hi) => write!(f, ":{lo}-{hi}"),
            PortPattern::Any => f.write_str(":*"),
        }
    }
}

/// A connector's allowlist: a call's scheme, host and port must be granted by
/// at least one rule. The gateway builds it from the hosts the connector's
/// definition names plus the connector's extra rules. Empty grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(transparent)]
pub struct Allowlist {
    rules: Vec<AllowRule>,
}

impl Allowlist {
    /// An allowlist of already parsed rules.
    pub fn new(rules: Vec<AllowRule>) -> Self {
        Self { rules }
    }

    /// Parses every rule; the first bad rule is the error.
    pub fn parse<I, S>(rules: I) -> Result<Self, RuleError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let rules = rules.into_iter().map(|rule| rule.as_ref().parse()).collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// Adds a rule.
    pub fn push(&mut self, rule: AllowRule) {
        self.rules.push(rule);
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[AllowRule] {
        &self.rules
    }

    /// The first rule granting the target's scheme, host and port.
    pub fn grant(&self, target: &Target) -> Option<&AllowRule> {
        self.rules.iter().find(|rule| rule.grants(target))
    }
}

impl Extend<AllowRule> for Allowlist {
    fn extend<T: IntoIterator<Item = AllowRule>>(&mut self, iter: T) {
        self.rules.extend(iter);
    }
}

impl FromIterator<AllowRule> for Allowlist {
    fn from_iter<T: IntoIterator<Item = AllowRule>>(iter: T) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> AllowRule {
        s.parse().unwrap()
    }

    fn problem(s: &str) -> String {
        s.parse::<AllowRule>().unwrap_err().to_string()
    }

    fn grants(r: &str, url: &str) -> bool {
        rule(r).grants(&Target::parse(url).unwrap())
    }

    #[test]
    fn a_percent_encoded_host_is_refused() {
        // Found by the `egress_url` fuzz target: `m%2Aetrics` parsed, as a
        // host with a `*` inside, and printed as a rule that does not parse.
        for s in ["https://m%2Aetrics.example:9100", "https://*.ex%61mple.com", "https://a%2Eb"] {
            assert!(problem(s).contains("not percent-encoded"), "{s}: {}", problem(s));
        }
    }

    #[test]
    fn rules_round_trip_through_display() {
        for s in [
            "https://api.example.com",
            "http://*.example.com:8080",
            "*://*:*",
            "http://10.1.0.0/16",
            "https://93.184.215.0/24:8443",
            "http://10.1.2.3:1000-2000",
            "http://[fd12:3456::]/32:443",
            "http://[::1]",
        ] {
            assert_eq!(rule(s).to_string(), s);
        }
    }

    #[test]
    fn rule_hosts_canonicalised() {
        assert_eq!(rule("https://API.Example.COM.").to_string(), "https://api.example.com");
        assert_eq!(rule("https://*.Bücher.example").to_string(), "https://*.xn--bcher-kva.example");
        assert_eq!(rule("http://0x7f000001").to_string(), "http://127.0.0.1");
        assert_eq!(rule("http://[fd12::]:80").to_string(), "http://[fd12::]:80");
        assert_eq!(rule("http://[fd12::/16]").to_string(), "http://[fd12::]/16");
    }

    #[test]
    fn bad_rules_explain_the_fix() {
        assert_eq!(problem("ftp://x"), "rule `ftp://x`: scheme must be http, https or *");
        assert!(problem("api.example.com").contains("write it as scheme://host[:port]"));
        assert!(problem("https://api.example.com/v1").contains("no path"));
        assert!(problem("https://u@api.example.com").contains("no userinfo"));
        assert!(problem("https://a.*.example").contains("leading `*.`"));
        assert!(problem("https://*.").contains("followed by a domain name"));
        assert!(problem("http://10.1.2.3/16").contains("write the network address, 10.1.0.0/16"));
        assert!(problem("http://10.0.0.0/33").contains("longer than /32"));
        assert!(problem("http://x.example:0").contains("from 1 to 65535"));
        assert!(problem("http://x.example:99999").contains("from 1 to 65535"));
        assert!(problem("http://x.example:9-1").contains("write 1-9"));
        assert!(problem("http://fd12::1").contains("brackets"));
        assert!(problem("http://[fd12::1").contains("`]`"));
        assert!(problem("http://").contains("host is missing"));
        assert!(problem("http://x.example/16").contains("IP address before the `/`"));
    }

    #[test]
    fn exact_host_matches_case_insensitively_only_itself() {
        assert!(grants("https://api.example.com", "https://API.Example.com/x"));
        assert!(grants("https://api.example.com", "https://api.example.com./x"));
        assert!(!grants("https://api.example.com", "https://api.example.com.evil.com/"));
        assert!(!grants("https://api.example.com", "https://x.api.example.com/"));
    }

    #[test]
    fn wildcard_matches_subdomains_never_the_apex() {
        assert!(grants("https://*.example.com", "https://a.example.com/"));
        assert!(grants("https://*.example.com", "https://a.b.example.com/"));
        assert!(!grants("https://*.example.com", "https://example.com/"));
        assert!(!grants("https://*.example.com", "https://evilexample.com/"));
        assert!(Target::parse("https://.example.com/").is_err());
    }

    #[test]
    fn scheme_and_default_port_enforced() {
        assert!(!grants("https://a.example", "http://a.example/"));
        assert!(!grants("https://a.example", "https://a.example:8443/"));
        assert!(grants("https://a.example", "https://a.example:443/"));
        assert!(!grants("https://a.example", "https://a.example:80/"));
        assert!(grants("*://a.example", "http://a.example/"));
        assert!(grants("*://a.example", "https://a.example/"));
        assert!(!grants("*://a.example", "http://a.example:443/"));
    }

    #[test]
    fn port_ranges_and_any_port() {
        assert!(grants("http://a.example:8000-8100", "http://a.example:8080/"));
        assert!(!grants("http://a.example:8000-8100", "http://a.example:8101/"));
        assert!(grants("http://a.example:*", "http://a.example:1/"));
    }

    #[test]
    fn cidr_matches_literals_only() {
        assert!(grants("http://10.1.0.0/16", "http://10.1.2.3/"));
        assert!(grants("http://10.1.0.0/16", "http://0x0a010203/"));
        assert!(!grants("http://10.1.0.0/16", "http://10.2.0.1/"));
        assert!(!grants("http://10.1.0.0/16", "http://inner.example/"));
        assert!(grants("http://[fd12::]/16", "http://[fd12::9]/"));
        assert!(grants("http://10.1.2.3", "http://10.1.2.3/"));
        assert!(!grants("http://10.1.2.3", "http://10.1.2.4/"));
    }

    #[test]
    fn any_host_matches_names_and_addresses() {
        assert!(grants("*://*:*", "http://127.0.0.1:1/"));
        assert!(grants("*://*:*", "https://x.example/"));
    }

    #[test]
    fn allowlist_deserialises_from_strings() {
        let list: Allowlist = serde_json::from_str(r#"["https://a.example", "http://10.0.0.0/8:*"]"#).unwrap();
        assert_eq!(list.rules().len(), 2);
        let bad = serde_json::from_str::<Allowlist>(r#"["ftp://a"]"#).unwrap_err();
        assert!(bad.to_string().contains("scheme must be http, https or *"));
    }
}
