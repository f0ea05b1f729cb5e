//! Classification of IP addresses into forbidden, private and public, the
//! first step of every per-address egress decision.
//!
//! Forbidden addresses (loopback, link-local, cloud metadata, multicast,
//! reserved ranges, ...) are never reachable, whatever the policy says.
//! Private addresses are reachable only inside a linked subnet, public ones
//! only when the environment allows public egress. IPv6 forms that embed an
//! IPv4 address (mapped, compatible, SIIT, NAT64, 6to4) are classified by the
//! embedded IPv4 address, so `::ffff:127.0.0.1` is loopback like `127.0.0.1`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is never reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForbiddenKind {
    /// `0.0.0.0` or `::`.
    Unspecified,
    /// `0.0.0.0/8`, "this network".
    ThisNetwork,
    /// `127.0.0.0/8` or `::1`.
    Loopback,
    /// A cloud provider's instance metadata or platform endpoint
    /// (169.254.169.254, fd00:ec2::254, 169.254.170.2, 100.100.100.200,
    /// 168.63.129.16, ...).
    CloudMetadata,
    /// `169.254.0.0/16` or `fe80::/10`.
    LinkLocal,
    /// `224.0.0.0/4` or `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
    /// 2001:db8::/32, 3fff::/20).
    Documentation,
    /// `198.18.0.0/15` or `2001:2::/48`.
    Benchmarking,
    /// Reserved or special-purpose ranges with no place in egress traffic
    /// (240.0.0.0/4, 192.0.0.0/24, discard-only, site-local, everything
    /// outside IPv6 global unicast, ...).
    Reserved,
    /// IPv6 transition forms whose embedded IPv4 address cannot be located
    /// reliably (Teredo, local-use NAT64 `64:ff9b:1::/48`).
    Tunnel,
}

/// Reads after "is": `127.0.0.1 is loopback`, `... is a cloud metadata endpoint`.
impl fmt::Display for ForbiddenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::ThisNetwork => "in \"this network\" (0.0.0.0/8)",
            Self::Loopback => "loopback",
            Self::CloudMetadata => "a cloud metadata endpoint",
            Self::LinkLocal => "link-local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "in a documentation range",
            Self::Benchmarking => "in a benchmarking range",
            Self::Reserved => "in a reserved range",
            Self::Tunnel => "an IPv6 tunnel address (Teredo or local-use NAT64)",
        })
    }
}

/// The class of an address, before the environment's subnets and public
/// switch are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Never reachable.
    Forbidden(ForbiddenKind),
    /// Private (RFC 1918, shared address space 100.64.0.0/10, unique local
    /// fc00::/7): reachable only inside a linked subnet.
    Private,
    /// Public: reachable when the environment allows public egress.
    Public,
}

/// Classifies `ip`. IPv6 addresses embedding an IPv4 address are classified
/// by the embedded address.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// The IPv4 address embedded in an IPv6 transition form, if `ip` is one:
/// IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96` (except `::` and
/// `::1`), SIIT `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96` and 6to4
/// `2002::/16`.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // IPv4-mapped.
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // SIIT IPv4-translated.
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        // IPv4-compatible (deprecated); `::` and `::1` are themselves.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(low),
        // Well-known NAT64 prefix.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        // 6to4: the IPv4 address follows the 2002::/16 prefix.
        [0x2002, a, b, ..] => Some(Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8)),
        _ => None,
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// Cloud metadata and platform endpoints. Several sit inside ranges that are
/// otherwise private or even public (Azure's wire server), so they are
/// checked before any range.
const METADATA_V4: [[u8; 4]; 6] = [
    [169, 254, 169, 254], // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack
    [169, 254, 170, 2],   // AWS ECS task metadata
    [169, 254, 169, 253], // AWS VPC DNS
    [100, 100, 100, 200], // Alibaba Cloud
    [168, 63, 129, 16],   // Azure wire server
    [192, 0, 0, 192],     // Oracle Cloud (legacy)
];

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::{Forbidden, Private, Public};
    use ForbiddenKind::*;
    if METADATA_V4.contains(&ip.octets()) {
        return Forbidden(CloudMetadata);
    }
    // Ordered: the first matching range decides.
    const RANGES: &[([u8; 4], u32, AddressClass)] = &[
        ([0, 0, 0, 0], 32, Forbidden(Unspecified)),
        ([0, 0, 0, 0], 8, Forbidden(ThisNetwork)),
        ([127, 0, 0, 0], 8, Forbidden(Loopback)),
        ([169, 254, 0, 0], 16, Forbidden(LinkLocal)),
        ([255, 255, 255, 255], 32, Forbidden(Broadcast)),
        ([224, 0, 0, 0], 4, Forbidden(Multicast)),
        ([240, 0, 0, 0], 4, Forbidden(Reserved)),
        ([192, 0, 0, 0], 24, Forbidden(Reserved)),
        ([192, 88, 99, 0], 24, Forbidden(Reserved)),
        ([192, 0, 2, 0], 24, Forbidden(Documentation)),
        ([198, 51, 100, 0], 24, Forbidden(Documentation)),
        ([203, 0, 113, 0], 24, Forbidden(Documentation)),
        ([198, 18, 0, 0], 15, Forbidden(Benchmarking)),
        ([10, 0, 0, 0], 8, Private),
        ([172, 16, 0, 0], 12, Private),
        ([192, 168, 0, 0], 16, Private),
        ([100, 64, 0, 0], 10, Private),
    ];
    RANGES.iter().find(|(net, len, _)| in_v4(ip, *net, *len)).map_or(Public, |(_, _, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::{Forbidden, Private, Public};
    use ForbiddenKind::*;
    if ip.is_unspecified() {
        return Forbidden(Unspecified);
    }
    if ip.is_loopback() {
        return Forbidden(Loopback);
    }
    if let Some(v4) = embedded_ipv4(ip) {
        return classify_v4(v4);
    }
    // Ordered: the first matching range decides.
    const RANGES: &[([u16; 8], u32, AddressClass)] = &[
        // AWS's IPv6 instance metadata, VPC DNS and time service, as their
        // IPv4 twins above.
        ([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128, Forbidden(CloudMetadata)),
        ([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x253], 128, Forbidden(CloudMetadata)),
        ([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x123], 128, Forbidden(CloudMetadata)),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Forbidden(Tunnel)),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Forbidden(Tunnel)),
        ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, Forbidden(Benchmarking)),
        // The rest of the IETF protocol assignments block (ORCHID, AMT, ...).
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Forbidden(Reserved)),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Forbidden(Documentation)),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Forbidden(Documentation)),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Forbidden(Reserved)),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Forbidden(LinkLocal)),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Forbidden(Multicast)),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private),
        // Only 2000::/3 is global unicast; everything else left (discard-only
        // 100::/64, site-local fec0::/10, unassigned space) is reserved.
        ([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, Public),
    ];
    RANGES.iter().find(|(net, len, _)| in_v6(ip, *net, *len)).map_or(Forbidden(Reserved), |(_, _, class)| *class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn loopback_and_unspecified_forbidden() {
        for a in ["127.0.0.1", "127.255.0.1", "::1", "0.0.0.0", "::", "0.1.2.3"] {
            assert!(matches!(class(a), AddressClass::Forbidden(_)), "{a}");
        }
    }

    #[test]
    fn metadata_forbidden_even_inside_private_or_public_ranges() {
        for a in [
            "169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "168.63.129.16",
            "fd00:ec2::254",
            "fd00:ec2::253",
            "fd00:ec2::123",
        ] {
            assert_eq!(class(a), AddressClass::Forbidden(ForbiddenKind::CloudMetadata), "{a}");
        }
    }

    #[test]
    fn special_ipv4_ranges_forbidden() {
        for a in [
            "169.254.1.1",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.19.0.1",
            "192.0.0.8",
        ] {
            assert!(matches!(class(a), AddressClass::Forbidden(_)), "{a}");
        }
    }

    #[test]
    fn private_ranges_classified_private() {
        for a in ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "fc00::1", "fd12:3456::10"] {
            assert_eq!(class(a), AddressClass::Private, "{a}");
        }
    }

    #[test]
    fn public_addresses_classified_public() {
        for a in ["8.8.8.8", "93.184.215.14", "172.32.0.1", "2606:4700:4700::1111", "2002:808:808::1"] {
            assert_eq!(class(a), AddressClass::Public, "{a}");
        }
    }

    #[test]
    fn ipv6_embedding_forbidden_ipv4_forbidden() {
        for a in [
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::ffff:0:7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
        ] {
            assert!(matches!(class(a), AddressClass::Forbidden(_)), "{a}");
        }
    }

    #[test]
    fn ipv6_embedding_private_ipv4_private() {
        assert_eq!(class("::ffff:10.1.2.3"), AddressClass::Private);
        assert_eq!(class("64:ff9b::a01:203"), AddressClass::Private);
    }

    #[test]
    fn ipv6_tunnels_and_reserved_forbidden() {
        for a in [
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "64:ff9b:1::a00:1",
            "2001:db8::1",
            "3fff::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "4000::1",
        ] {
            assert!(matches!(class(a), AddressClass::Forbidden(_)), "{a}");
        }
    }
}
