//! URL canonicalisation: turns a URL into the scheme, host and port the HTTP
//! client will actually use, before any egress decision is taken.
//!
//! Parsing follows the WHATWG URL standard (the `url` crate), so every
//! spelling of an address collapses to one form: `http://0x7f000001/`,
//! `http://2130706433/` and `http://0177.0.0.1/` are all `127.0.0.1`;
//! percent-encoded and internationalised names become lowercase ASCII
//! (punycode); userinfo plays no part; a trailing dot is removed.

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

/// An egress scheme. Only HTTP and HTTPS exist as egress schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`, default port 80.
    Http,
    /// `https`, default port 443.
    Https,
}

impl Scheme {
    /// The port used when a URL names none: 80 for http, 443 for https.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A canonical host: a lowercase ASCII name without trailing dot, or an IP
/// address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, resolved before any connection.
    Name(String),
    /// An IP literal; never resolved.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// Why a URL cannot be an egress target.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL does not parse.
    #[error("not a valid url: {0}")]
    Invalid(#[source] url::ParseError),
    /// The scheme is not http or https.
    #[error("scheme `{0}` is not an egress scheme (only http and https are)")]
    Scheme(String),
    /// The URL has no host.
    #[error("url has no host")]
    NoHost,
    /// The host has an empty label, e.g. `example..com` or `example.com..`.
    #[error("host `{0}` has an empty label")]
    EmptyLabel(String),
}

/// Where a request goes, as the HTTP client sees it: canonical scheme, host
/// and port (the scheme's default when the URL names none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// The canonical host.
    pub host: Host,
    /// The port, defaulted from the scheme.
    pub port: u16,
}

impl Target {
    /// Parses and canonicalises `url`. Only `http` and `https` URLs with a
    /// host are targets.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let parsed = url::Url::parse(url).map_err(UrlError::Invalid)?;
        let scheme = match parsed.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(UrlError::Scheme(other.to_owned())),
        };
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => Host::Name(trim_name(name)?),
            Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
            None => return Err(UrlError::NoHost),
        };
        let port = parsed.port().unwrap_or(scheme.default_port());
        Ok(Self { scheme, host, port })
    }

    /// [`Target::parse`] for a request's URI, as the HTTP client dials it:
    /// its scheme, and its authority's host, canonicalised as a URL's host
    /// is ([`canonical_host`]), and port. Only the authority is parsed, not
    /// the whole URL again: this runs on every request sent.
    #[cfg(feature = "client")]
    pub fn of_uri(uri: &http::Uri) -> Result<Self, UrlError> {
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(other) => return Err(UrlError::Scheme(other.to_ascii_lowercase())),
            None => return Err(UrlError::NoHost),
        };
        let authority = uri.authority().ok_or(UrlError::NoHost)?;
        let host = canonical_host(authority.host())?;
        // `http` keeps a port past 65535 as text, and `port_u16` is `None`
        // for it as for no port at all: that one is no target.
        let after_host = authority.as_str().rsplit('@').next().unwrap_or_default();
        let after_host = after_host.rsplit_once(']').map_or(after_host, |(_, rest)| rest);
        let port_text = after_host.split_once(':').map_or("", |(_, port)| port);
        let port = match authority.port_u16() {
            Some(port) => port,
            None if port_text.is_empty() => scheme.default_port(),
            None => return Err(UrlError::Invalid(url::ParseError::InvalidPort)),
        };
        Ok(Self { scheme, host, port })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Canonicalises a bare host as a URL's host would be (IDNA, lowercase,
/// numeric IPv4 forms, trailing dot removed). IPv6 addresses may be given
/// with or without brackets.
pub fn canonical_host(host: &str) -> Result<Host, UrlError> {
    // Most hosts are written canonically already; they skip the full parse
    // (percent-decoding, IDNA mapping, the IPv4 number forms), which runs
    // on every request sent.
    if is_canonical_name(host) {
        return Ok(Host::Name(host.to_owned()));
    }
    // The standard library reads only the strict dotted-decimal form (four
    // parts, no leading zeros), which the URL parser reads the same way.
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    parse_host(host)
}

/// Whether the full parse would return `host` unchanged as a name: labels
/// of lowercase ASCII letters, digits and hyphens, none empty, none
/// punycode (`xn--`, which IDNA must decode to validate), and a last label
/// that starts with a letter, so that no reading of it is an IPv4 number.
fn is_canonical_name(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or_default();
    last.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with("xn--")
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// [`canonical_host`] by the WHATWG host parser, for any spelling.
fn parse_host(host: &str) -> Result<Host, UrlError> {
    let bracketed;
    let host = if host.contains(':') && !host.starts_with('[') {
        bracketed = format!("[{host}]");
        &bracketed
    } else {
        host
    };
    match url::Host::parse(host).map_err(UrlError::Invalid)? {
        url::Host::Domain(name) => Ok(Host::Name(trim_name(&name)?)),
        url::Host::Ipv4(ip) => Ok(Host::Ip(IpAddr::V4(ip))),
        url::Host::Ipv6(ip) => Ok(Host::Ip(IpAddr::V6(ip))),
    }
}

/// Removes the one trailing dot a fully qualified name may carry, and
/// rejects names with empty labels, which no resolver would answer the same
/// way twice.
fn trim_name(name: &str) -> Result<String, UrlError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() || trimmed.split('.').any(str::is_empty) {
        return Err(UrlError::EmptyLabel(name.to_owned()));
    }
    Ok(trimmed.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> String {
        Target::parse(url).unwrap().host.to_string()
    }

    #[test]
    fn numeric_ipv4_forms_canonicalised() {
        for url in [
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
        ] {
            assert_eq!(host(url), "127.0.0.1", "{url}");
        }
    }

    #[test]
    fn names_lowercased_punycoded_and_trailing_dot_removed() {
        assert_eq!(host("https://API.Allowed.Example./v1"), "api.allowed.example");
        assert_eq!(host("https://bücher.example/"), "xn--bcher-kva.example");
        assert_eq!(host("https://%61pi.example/"), "api.example");
    }

    #[test]
    fn userinfo_ignored() {
        assert_eq!(host("http://allowed.example@127.0.0.1/"), "127.0.0.1");
        assert_eq!(host("http://a:b@[::1]:8080/"), "[::1]");
    }

    #[test]
    fn port_defaults_from_scheme() {
        assert_eq!(Target::parse("http://x.example").unwrap().port, 80);
        assert_eq!(Target::parse("https://x.example").unwrap().port, 443);
        assert_eq!(Target::parse("https://x.example:80").unwrap().port, 80);
        assert_eq!(Target::parse("http://x.example:443").unwrap().port, 443);
    }

    #[test]
    fn non_http_scheme_rejected() {
        for url in ["file:///etc/passwd", "gopher://1.2.3.4/", "ftp://x.example/"] {
            assert!(matches!(Target::parse(url), Err(UrlError::Scheme(_))), "{url}");
        }
    }

    #[test]
    fn empty_labels_rejected() {
        assert!(Target::parse("http://a..example/").is_err());
        assert!(Target::parse("http://example.com../").is_err());
        // WHATWG skips extra slashes after a special scheme.
        assert_eq!(host("http:///x"), "x");
    }

    #[test]
    fn bare_hosts_canonicalised_like_url_hosts() {
        assert_eq!(canonical_host("::1").unwrap(), Host::Ip("::1".parse().unwrap()));
        assert_eq!(canonical_host("[::1]").unwrap(), Host::Ip("::1".parse().unwrap()));
        assert_eq!(canonical_host("0x7f000001").unwrap(), Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(canonical_host("Eu.Allowed.Example.").unwrap(), Host::Name("eu.allowed.example".into()));
    }

    /// Calls `check` with every string of 1 to `max_len` characters drawn
    /// from `alphabet`.
    fn every_string(alphabet: &[u8], max_len: u32, mut check: impl FnMut(&str)) {
        let mut text = Vec::new();
        for len in 1..=max_len {
            for mut n in 0..alphabet.len().pow(len) {
                text.clear();
                for _ in 0..len {
                    text.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                check(std::str::from_utf8(&text).unwrap());
            }
        }
    }

    /// The shortcut for hosts already canonical agrees with the full parse
    /// on every string of up to five characters from an alphabet that
    /// covers its edges: letters that start `xn--` and hex numbers, digits,
    /// hyphens, dots, and a capital.
    #[test]
    fn canonical_names_skip_the_parse_without_changing_its_answer() {
        let mut shortcut = 0;
        every_string(b"axn09-.X", 5, |host| {
            if is_canonical_name(host) {
                shortcut += 1;
                assert_eq!(parse_host(host), Ok(Host::Name(host.to_owned())), "{host}");
            }
        });
        assert!(shortcut > 5_000, "the shortcut took only {shortcut} hosts");
        for host in ["xn--bcher-kva.example", "a.0x1f", "a.09", "A.example", "a.example.", "a_b.example"] {
            assert!(!is_canonical_name(host), "{host}");
        }
        assert!(is_canonical_name("api-1.eu.example"));
    }

    /// The dotted-decimal shortcut agrees with the full parse on every
    /// string of up to seven characters of digits, dots and an `x`, and on
    /// the edges of the octets.
    #[test]
    fn dotted_decimal_addresses_skip_the_parse_without_changing_its_answer() {
        let mut checked = 0;
        let mut check = |host: &str| {
            assert_eq!(canonical_host(host), parse_host(host), "{host}");
            checked += 1;
        };
        every_string(b"019.x", 7, &mut check);
        for host in ["255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "0x1.2.3.4", "1.2.3.4.", "127.0.0.1"] {
            check(host);
        }
        assert!(checked > 90_000);
        assert_eq!(canonical_host("10.0.0.255"), Ok(Host::Ip("10.0.0.255".parse().unwrap())));
    }

    /// The spellings the URL tests above use, and more: a request's URI
    /// names the target the whole URL would. (`http` refuses a
    /// percent-encoded host outright.)
    #[cfg(feature = "client")]
    #[test]
    fn a_uri_names_the_target_its_url_does() {
        for url in [
            "http://2130706433/",
            "http://0x7f000001/x",
            "http://0177.0.0.1/",
            "http://127.1:8080/",
            "HTTPS://Example.COM./a?b=c",
            "https://xn--bcher-kva.example/",
            "https://user:pw@example.com:8443/",
            "http://[::1]:9000/",
            "http://[0:0::1]/",
            "https://example.com:443/",
            "http://example.com:80/",
            "http://a..b/",
            "http://8.8.4.4:99999/",
            "https://9.9.9.9:65536/",
            "http://h:080/",
            "http://h:/",
        ] {
            let uri: http::Uri = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(Target::of_uri(&uri), Target::parse(url), "{url}");
        }
    }

    #[cfg(feature = "client")]
    #[test]
    fn a_uri_that_is_no_target_is_refused() {
        let of = |text: &str| Target::of_uri(&text.parse::<http::Uri>().unwrap());
        assert_eq!(of("ftp://example.com/"), Err(UrlError::Scheme("ftp".into())));
        assert_eq!(of("/relative"), Err(UrlError::NoHost));
        assert!(matches!(of("http://a..b/"), Err(UrlError::EmptyLabel(_))));
    }
}
