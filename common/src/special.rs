//! The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and
//! the RFCs that updated them), and the req A3 rule built on them: which IPv4
//! addresses the Well-Known Prefix may carry.
//!
//! Lookups return the most specific entry, so `192.0.0.9` finds its own
//! globally reachable entry rather than the `192.0.0.0/24` block around it.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::prefix::{Nat64Prefix, PrefixKind};

/// One row of a special-purpose registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialRange<N> {
    /// The address block.
    pub net: N,
    /// The registry's name for it.
    pub name: &'static str,
    /// The RFC that defines it.
    pub rfc: &'static str,
    /// The registry's "Globally Reachable" column. Blocks the registry marks
    /// N/A (such as 6to4 and Teredo) count as not global here.
    pub global: bool,
}

/// A row of the IPv4 registry.
pub type SpecialRange4 = SpecialRange<Ipv4Net>;
/// A row of the IPv6 registry.
pub type SpecialRange6 = SpecialRange<Ipv6Net>;

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

const fn row<N>(net: N, name: &'static str, rfc: &'static str, global: bool) -> SpecialRange<N> {
    SpecialRange {
        net,
        name,
        rfc,
        global,
    }
}

/// The IPv4 registry, plus multicast and the rest of class E, which RFC 6052
/// §3.1 (through RFC 5735 §3) also counts as non-global. Most specific first.
pub const SPECIAL_V4: &[SpecialRange4] = &[
    row(
        v4(192, 0, 0, 9, 32),
        "Port Control Protocol Anycast",
        "RFC 7723",
        true,
    ),
    row(
        v4(192, 0, 0, 10, 32),
        "Traversal Using Relays around NAT Anycast",
        "RFC 8155",
        true,
    ),
    row(
        v4(192, 0, 0, 170, 32),
        "NAT64/DNS64 Discovery",
        "RFC 8880",
        false,
    ),
    row(
        v4(192, 0, 0, 171, 32),
        "NAT64/DNS64 Discovery",
        "RFC 8880",
        false,
    ),
    row(
        v4(255, 255, 255, 255, 32),
        "Limited Broadcast",
        "RFC 919",
        false,
    ),
    row(
        v4(192, 0, 0, 8, 32),
        "IPv4 dummy address",
        "RFC 7600",
        false,
    ),
    row(
        v4(192, 0, 0, 0, 29),
        "IPv4 Service Continuity Prefix",
        "RFC 7335",
        false,
    ),
    row(
        v4(192, 0, 0, 0, 24),
        "IETF Protocol Assignments",
        "RFC 6890",
        false,
    ),
    row(
        v4(192, 0, 2, 0, 24),
        "Documentation (TEST-NET-1)",
        "RFC 5737",
        false,
    ),
    row(v4(192, 31, 196, 0, 24), "AS112-v4", "RFC 7535", true),
    row(v4(192, 52, 193, 0, 24), "AMT", "RFC 7450", true),
    row(
        v4(192, 88, 99, 0, 24),
        "Deprecated 6to4 Relay Anycast",
        "RFC 7526",
        false,
    ),
    row(
        v4(192, 175, 48, 0, 24),
        "Direct Delegation AS112 Service",
        "RFC 7534",
        true,
    ),
    row(
        v4(198, 51, 100, 0, 24),
        "Documentation (TEST-NET-2)",
        "RFC 5737",
        false,
    ),
    row(
        v4(203, 0, 113, 0, 24),
        "Documentation (TEST-NET-3)",
        "RFC 5737",
        false,
    ),
    row(v4(169, 254, 0, 0, 16), "Link Local", "RFC 3927", false),
    row(v4(192, 168, 0, 0, 16), "Private-Use", "RFC 1918", false),
    row(v4(198, 18, 0, 0, 15), "Benchmarking", "RFC 2544", false),
    row(v4(172, 16, 0, 0, 12), "Private-Use", "RFC 1918", false),
    row(
        v4(100, 64, 0, 0, 10),
        "Shared Address Space",
        "RFC 6598",
        false,
    ),
    row(v4(0, 0, 0, 0, 8), "\"This network\"", "RFC 791", false),
    row(v4(10, 0, 0, 0, 8), "Private-Use", "RFC 1918", false),
    row(v4(127, 0, 0, 0, 8), "Loopback", "RFC 1122", false),
    row(v4(224, 0, 0, 0, 4), "Multicast", "RFC 5771", false),
    row(v4(240, 0, 0, 0, 4), "Reserved", "RFC 1112", false),
];

/// The IPv6 registry, plus multicast. Most specific first.
pub const SPECIAL_V6: &[SpecialRange6] = &[
    row(
        v6(0, 0, 0, 0, 0, 0, 0, 1, 128),
        "Loopback Address",
        "RFC 4291",
        false,
    ),
    row(
        v6(0, 0, 0, 0, 0, 0, 0, 0, 128),
        "Unspecified Address",
        "RFC 4291",
        false,
    ),
    row(
        v6(0x2001, 1, 0, 0, 0, 0, 0, 1, 128),
        "Port Control Protocol Anycast",
        "RFC 7723",
        true,
    ),
    row(
        v6(0x2001, 1, 0, 0, 0, 0, 0, 2, 128),
        "TURN Anycast",
        "RFC 8155",
        true,
    ),
    row(
        v6(0x2001, 1, 0, 0, 0, 0, 0, 3, 128),
        "DNS-SD Service Registration Protocol Anycast",
        "RFC 9665",
        true,
    ),
    row(
        v6(0, 0, 0, 0, 0, 0xffff, 0, 0, 96),
        "IPv4-mapped Address",
        "RFC 4291",
        false,
    ),
    row(
        v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0, 96),
        "IPv4-IPv6 Translation",
        "RFC 6052",
        true,
    ),
    row(
        v6(0x100, 0, 0, 0, 0, 0, 0, 0, 64),
        "Discard-Only Address Block",
        "RFC 6666",
        false,
    ),
    row(
        v6(0x100, 0, 0, 1, 0, 0, 0, 0, 64),
        "Dummy IPv6 Prefix",
        "RFC 9780",
        false,
    ),
    row(
        v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0, 48),
        "IPv4-IPv6 Translation (local use)",
        "RFC 8215",
        false,
    ),
    row(
        v6(0x2001, 2, 0, 0, 0, 0, 0, 0, 48),
        "Benchmarking",
        "RFC 5180",
        false,
    ),
    row(
        v6(0x2001, 4, 0x112, 0, 0, 0, 0, 0, 48),
        "AS112-v6",
        "RFC 7535",
        true,
    ),
    row(
        v6(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0, 48),
        "Direct Delegation AS112 Service",
        "RFC 7534",
        true,
    ),
    row(
        v6(0x2001, 0, 0, 0, 0, 0, 0, 0, 32),
        "TEREDO",
        "RFC 4380",
        false,
    ),
    row(v6(0x2001, 3, 0, 0, 0, 0, 0, 0, 32), "AMT", "RFC 7450", true),
    row(
        v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0, 32),
        "Documentation",
        "RFC 3849",
        false,
    ),
    row(
        v6(0x2001, 0x10, 0, 0, 0, 0, 0, 0, 28),
        "Deprecated (previously ORCHID)",
        "RFC 4843",
        false,
    ),
    row(
        v6(0x2001, 0x20, 0, 0, 0, 0, 0, 0, 28),
        "ORCHIDv2",
        "RFC 7343",
        true,
    ),
    row(
        v6(0x2001, 0x30, 0, 0, 0, 0, 0, 0, 28),
        "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
        "RFC 9374",
        true,
    ),
    row(
        v6(0x2001, 0, 0, 0, 0, 0, 0, 0, 23),
        "IETF Protocol Assignments",
        "RFC 2928",
        false,
    ),
    row(
        v6(0x3fff, 0, 0, 0, 0, 0, 0, 0, 20),
        "Documentation",
        "RFC 9637",
        false,
    ),
    row(
        v6(0x2002, 0, 0, 0, 0, 0, 0, 0, 16),
        "6to4",
        "RFC 3056",
        false,
    ),
    row(
        v6(0x5f00, 0, 0, 0, 0, 0, 0, 0, 16),
        "Segment Routing (SRv6) SIDs",
        "RFC 9602",
        false,
    ),
    row(
        v6(0xfe80, 0, 0, 0, 0, 0, 0, 0, 10),
        "Link-Local Unicast",
        "RFC 4291",
        false,
    ),
    row(
        v6(0xfc00, 0, 0, 0, 0, 0, 0, 0, 7),
        "Unique-Local",
        "RFC 4193",
        false,
    ),
    row(
        v6(0xff00, 0, 0, 0, 0, 0, 0, 0, 8),
        "Multicast",
        "RFC 4291",
        false,
    ),
];

/// The most specific IPv4 special-purpose entry holding `addr`, or `None` for
/// an ordinary global unicast address.
pub fn special_v4(addr: Ipv4Addr) -> Option<&'static SpecialRange4> {
    SPECIAL_V4.iter().find(|r| r.net.contains(&addr))
}

/// The most specific IPv6 special-purpose entry holding `addr`, or `None` for
/// an ordinary global unicast address.
pub fn special_v6(addr: Ipv6Addr) -> Option<&'static SpecialRange6> {
    SPECIAL_V6.iter().find(|r| r.net.contains(&addr))
}

/// IPv4 blocks no NAT64 may ever use, on either side, whatever the
/// configuration: they are not unicast addresses of a host somewhere else
/// (RFC 1122 §3.2.1.3 this network and loopback, RFC 3927 link-local,
/// RFC 5771 multicast, RFC 1112 §4 reserved, RFC 919 limited broadcast).
pub const NEVER_TRANSLATED_V4: [SpecialRange4; 5] = [
    row(v4(0, 0, 0, 0, 8), "\"this network\"", "RFC 1122", false),
    row(v4(127, 0, 0, 0, 8), "loopback", "RFC 1122", false),
    row(v4(169, 254, 0, 0, 16), "link-local", "RFC 3927", false),
    row(v4(224, 0, 0, 0, 4), "multicast", "RFC 5771", false),
    row(
        v4(240, 0, 0, 0, 4),
        "reserved (with the limited broadcast address)",
        "RFC 1112",
        false,
    ),
];

/// The never-translated block (see [`NEVER_TRANSLATED_V4`]) that `net`
/// overlaps, if any.
pub fn never_translated_v4(net: Ipv4Net) -> Option<&'static SpecialRange4> {
    NEVER_TRANSLATED_V4
        .iter()
        .find(|r| r.net.contains(&net.network()) || net.contains(&r.net.network()))
}

/// Whether `addr` is globally reachable by the IPv4 registry.
pub fn is_global_v4(addr: Ipv4Addr) -> bool {
    special_v4(addr).is_none_or(|r| r.global)
}

/// Whether `addr` is in a documentation range (RFC 5737 TEST-NET-1/2/3,
/// RFC 3849 2001:db8::/32): an address from an example file, never one a
/// real deployment can use.
pub fn is_documentation(addr: std::net::IpAddr) -> bool {
    let name = match addr {
        std::net::IpAddr::V4(a) => special_v4(a).map(|r| r.name),
        std::net::IpAddr::V6(a) => special_v6(a).map(|r| r.name),
    };
    name.is_some_and(|n| n.starts_with("Documentation"))
}

/// The ipv4only.arpa addresses (RFC 8880 §2): always allowed under any
/// prefix, so that hosts can discover the prefix (req A3).
pub const IPV4ONLY_ARPA: [Ipv4Addr; 2] =
    [Ipv4Addr::new(192, 0, 0, 170), Ipv4Addr::new(192, 0, 0, 171)];

/// The req A3 verdict on carrying an IPv4 address under a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embeddable {
    /// Allowed.
    Yes,
    /// Refused: a non-global address under the Well-Known Prefix
    /// (RFC 6052 §3.1). Carries the registry entry, for logs and counters.
    NonGlobalUnderWkp(&'static SpecialRange4),
    /// Refused under every prefix, whatever the configuration: not the
    /// unicast address of a host elsewhere ([`NEVER_TRANSLATED_V4`]).
    Never(&'static SpecialRange4),
}

/// req A3, the one rule both daemons apply (dns64d before synthesising,
/// nat64d before translating), so that they never disagree: may `addr` be
/// carried under `prefix`?
/// - never an address of [`NEVER_TRANSLATED_V4`] (this network, loopback,
///   link-local, multicast, reserved and broadcast), under any prefix;
/// - under the Well-Known Prefix, no other non-global address either (RFC
///   6052 §3.1) unless `allow_non_global`, the explicit override labs and
///   private deployments use; `192.0.0.170/171` (ipv4only.arpa) always;
/// - a network-specific prefix, or the RFC 8215 local-use one, the operator
///   chose for their own addresses: any other address.
pub fn embeddable(prefix: &Nat64Prefix, addr: Ipv4Addr, allow_non_global: bool) -> Embeddable {
    if let Some(r) = never_translated_v4(Ipv4Net::from(addr)) {
        return Embeddable::Never(r);
    }
    if allow_non_global || prefix.kind() != PrefixKind::WellKnown || IPV4ONLY_ARPA.contains(&addr) {
        return Embeddable::Yes;
    }
    match special_v4(addr) {
        Some(range) if !range.global => Embeddable::NonGlobalUnderWkp(range),
        _ => Embeddable::Yes,
    }
}

/// IPv6 sources no host may send from, whatever `allow_from` says (so an
/// open `["::/0"]` does not admit them): the unspecified and loopback
/// addresses (RFC 4291 §2.5.2, §2.5.3), multicast (§2.7), and any address
/// inside `prefixes`, which only the translator itself uses (RFC 6146
/// §3.5). The name of the class, or `None` for an ordinary source.
pub fn invalid_source_v6(src: Ipv6Addr, prefixes: &[Nat64Prefix]) -> Option<&'static str> {
    if src.is_unspecified() {
        Some("unspecified")
    } else if src.is_loopback() {
        Some("loopback")
    } else if src.is_multicast() {
        Some("multicast")
    } else if prefixes.iter().any(|p| p.contains(src)) {
        Some("inside a NAT64 prefix")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documentation_ranges_are_known() {
        for a in ["192.0.2.53", "198.51.100.7", "203.0.113.10", "2001:db8::1"] {
            assert!(is_documentation(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "10.0.0.1", "2001:4860::8888", "64:ff9b::1"] {
            assert!(!is_documentation(a.parse().unwrap()), "{a}");
        }
    }
    use crate::prefix::WELL_KNOWN_PREFIX;

    fn a4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// No row may stand before a narrower row inside it, and every row is a
    /// network address.
    fn check_table<N: Copy + PartialEq + std::fmt::Display>(
        table: &[SpecialRange<N>],
        contains: impl Fn(&N, &N) -> bool,
        trunc: impl Fn(&N) -> N,
    ) {
        for (i, outer) in table.iter().enumerate() {
            assert!(
                outer.net == trunc(&outer.net),
                "{} has host bits",
                outer.net
            );
            for inner in &table[i + 1..] {
                assert!(
                    !(contains(&outer.net, &inner.net) && outer.net != inner.net),
                    "{} listed before the narrower {}",
                    outer.net,
                    inner.net
                );
            }
        }
    }

    #[test]
    fn tables_are_most_specific_first_and_hold_network_addresses() {
        check_table(SPECIAL_V4, |a, b| a.contains(b), Ipv4Net::trunc);
        check_table(SPECIAL_V6, |a, b| a.contains(b), Ipv6Net::trunc);
    }

    #[test]
    fn v4_lookups() {
        assert_eq!(special_v4(a4("10.1.2.3")).unwrap().name, "Private-Use");
        assert_eq!(special_v4(a4("172.31.255.255")).unwrap().rfc, "RFC 1918");
        assert!(special_v4(a4("172.32.0.0")).is_none());
        assert_eq!(special_v4(a4("192.0.0.9")).unwrap().rfc, "RFC 7723");
        assert_eq!(special_v4(a4("192.0.0.77")).unwrap().rfc, "RFC 6890");
        assert_eq!(special_v4(a4("100.127.0.1")).unwrap().rfc, "RFC 6598");
        assert_eq!(special_v4(a4("239.1.1.1")).unwrap().name, "Multicast");
        assert!(special_v4(a4("8.8.8.8")).is_none());
        assert!(is_global_v4(a4("8.8.8.8")));
        assert!(is_global_v4(a4("192.0.0.10")));
        assert!(!is_global_v4(a4("203.0.113.7")));
        assert!(!is_global_v4(a4("255.255.255.255")));
    }

    #[test]
    fn v6_lookups() {
        let a6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(special_v6(a6("::1")).unwrap().name, "Loopback Address");
        assert_eq!(
            special_v6(a6("::ffff:1.2.3.4")).unwrap().name,
            "IPv4-mapped Address"
        );
        assert_eq!(special_v6(a6("64:ff9b::1.2.3.4")).unwrap().rfc, "RFC 6052");
        assert_eq!(special_v6(a6("64:ff9b:1::1")).unwrap().rfc, "RFC 8215");
        assert_eq!(
            special_v6(a6("2001:db8:1::2")).unwrap().name,
            "Documentation"
        );
        assert_eq!(special_v6(a6("2001:1::2")).unwrap().rfc, "RFC 8155");
        assert_eq!(special_v6(a6("2001:5::1")).unwrap().rfc, "RFC 2928");
        assert_eq!(special_v6(a6("fd00::1")).unwrap().name, "Unique-Local");
        assert!(special_v6(a6("2a00:1450::1")).is_none());
    }

    #[test]
    fn a3_wkp_refuses_non_global() {
        for addr in [
            "10.0.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "192.0.2.1",
            "224.0.0.1",
            "0.1.2.3",
        ] {
            assert!(
                matches!(
                    embeddable(&WELL_KNOWN_PREFIX, a4(addr), false),
                    Embeddable::NonGlobalUnderWkp(_) | Embeddable::Never(_)
                ),
                "{addr}"
            );
        }
        assert_eq!(
            embeddable(&WELL_KNOWN_PREFIX, a4("198.51.100.1"), true),
            Embeddable::Yes
        );
        assert_eq!(
            embeddable(&WELL_KNOWN_PREFIX, a4("93.184.216.34"), false),
            Embeddable::Yes
        );
        assert_eq!(
            embeddable(&WELL_KNOWN_PREFIX, a4("192.0.0.9"), false),
            Embeddable::Yes
        );
    }

    #[test]
    fn a3_ipv4only_arpa_always_allowed() {
        for addr in IPV4ONLY_ARPA {
            assert_eq!(embeddable(&WELL_KNOWN_PREFIX, addr, false), Embeddable::Yes);
        }
        assert!(matches!(
            embeddable(&WELL_KNOWN_PREFIX, a4("192.0.0.172"), false),
            Embeddable::NonGlobalUnderWkp(_)
        ));
    }

    /// The never-translated blocks are refused under every prefix, the lab
    /// switch notwithstanding; the rest of the non-global space is the
    /// operator's under a network-specific prefix.
    #[test]
    fn a3_never_translated_under_any_prefix() {
        for prefix in ["64:ff9b::/96", "64:ff9b:1::/48", "2001:db8:64::/96"] {
            let prefix: Nat64Prefix = prefix.parse().unwrap();
            for addr in [
                "0.0.0.0",
                "127.0.0.1",
                "169.254.169.254",
                "224.0.0.1",
                "240.0.0.1",
                "255.255.255.255",
            ] {
                for lab in [false, true] {
                    assert!(
                        matches!(embeddable(&prefix, a4(addr), lab), Embeddable::Never(_)),
                        "{addr} under {prefix}, allow_non_global {lab}"
                    );
                }
            }
        }
    }

    #[test]
    fn o4_invalid_ipv6_sources() {
        let p = [WELL_KNOWN_PREFIX];
        for (src, what) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("ff02::1", "multicast"),
            ("64:ff9b::c000:201", "inside a NAT64 prefix"),
        ] {
            assert_eq!(
                invalid_source_v6(src.parse().unwrap(), &p),
                Some(what),
                "{src}"
            );
        }
        assert_eq!(
            invalid_source_v6("2001:db8:1::2".parse().unwrap(), &p),
            None
        );
    }

    #[test]
    fn a3_other_prefixes_not_bound() {
        for prefix in ["64:ff9b:1::/48", "2001:db8:64::/96", "64:ff9b::/64"] {
            let prefix: Nat64Prefix = prefix.parse().unwrap();
            assert_eq!(
                embeddable(&prefix, a4("10.0.0.1"), false),
                Embeddable::Yes,
                "{prefix}"
            );
        }
    }
}
