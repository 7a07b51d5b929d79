//! NAT64 prefixes and the RFC 6052 address mapping (req A1, A2).
//!
//! A [`Nat64Prefix`] can only hold a valid prefix: one of the six lengths of
//! RFC 6052 §2.2, with the u octet (bits 64–71) and every bit after the length
//! zero. [`embed`] and [`extract`] are exact inverses and allocate nothing.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// One of the six prefix lengths RFC 6052 §2.2 allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrefixLen {
    /// `/32`: the IPv4 address fills bits 32–63.
    L32,
    /// `/40`: bits 40–63 and 72–79.
    L40,
    /// `/48`: bits 48–63 and 72–87.
    L48,
    /// `/56`: bits 56–63 and 72–95.
    L56,
    /// `/64`: bits 72–103.
    L64,
    /// `/96`: bits 96–127.
    L96,
}

impl PrefixLen {
    /// Every valid length, shortest first.
    pub const ALL: [PrefixLen; 6] = [
        PrefixLen::L32,
        PrefixLen::L40,
        PrefixLen::L48,
        PrefixLen::L56,
        PrefixLen::L64,
        PrefixLen::L96,
    ];

    /// The length in bits, or `None` for a length RFC 6052 does not allow.
    pub const fn from_bits(bits: u8) -> Option<PrefixLen> {
        match bits {
            32 => Some(PrefixLen::L32),
            40 => Some(PrefixLen::L40),
            48 => Some(PrefixLen::L48),
            56 => Some(PrefixLen::L56),
            64 => Some(PrefixLen::L64),
            96 => Some(PrefixLen::L96),
            _ => None,
        }
    }

    /// The length in bits.
    pub const fn bits(self) -> u8 {
        match self {
            PrefixLen::L32 => 32,
            PrefixLen::L40 => 40,
            PrefixLen::L48 => 48,
            PrefixLen::L56 => 56,
            PrefixLen::L64 => 64,
            PrefixLen::L96 => 96,
        }
    }

    /// The prefix mask: the first `bits()` bits set.
    const fn mask(self) -> u128 {
        !(u128::MAX >> self.bits())
    }

    /// Places the 32 IPv4 bits right after the prefix, skipping bits 64–71
    /// (the u octet), as RFC 6052 §2.2 Figure 1 draws it. Bit positions count
    /// from the most significant bit; for length L < 96, the first 64 − L
    /// IPv4 bits fill bits L..64 and the remaining L − 32 fill 72..L + 40.
    const fn spread(self, v4: u32) -> u128 {
        let v = v4 as u128;
        match self {
            PrefixLen::L96 => v,
            _ => {
                let low = self.bits() as u32 - 32; // IPv4 bits after the u octet
                let hi = (v >> low) << 64;
                let lo = (v & ((1u128 << low) - 1)) << (88 - self.bits() as u32);
                hi | lo
            }
        }
    }

    /// The inverse of [`PrefixLen::spread`]: the 32 IPv4 bits of an address.
    const fn gather(self, addr: u128) -> u32 {
        match self {
            PrefixLen::L96 => addr as u32,
            _ => {
                let low = self.bits() as u32 - 32;
                let hi = (addr >> 64) & ((1u128 << (64 - low)) - 1);
                let lo = (addr >> (88 - self.bits() as u32)) & ((1u128 << low) - 1);
                ((hi << low) | lo) as u32
            }
        }
    }
}

/// What kind of prefix this is, for the rules that depend on it (req A3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixKind {
    /// `64:ff9b::/96`, the Well-Known Prefix (RFC 6052 §2.1): must not carry
    /// non-global IPv4 addresses (RFC 6052 §3.1).
    WellKnown,
    /// Inside `64:ff9b:1::/48`, the local-use prefix of RFC 8215: not bound by
    /// the §3.1 restriction.
    LocalUse,
    /// Any other prefix, chosen by the operator (a Network-Specific Prefix).
    NetworkSpecific,
}

/// The Well-Known Prefix `64:ff9b::/96` (RFC 6052 §2.1).
pub const WELL_KNOWN_PREFIX: Nat64Prefix = Nat64Prefix {
    addr: Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
    len: PrefixLen::L96,
};

/// The local-use translation prefix `64:ff9b:1::/48` (RFC 8215).
pub const LOCAL_USE_PREFIX: ipnet::Ipv6Net =
    ipnet::Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48);

/// A valid NAT64 prefix (RFC 6052 §2.2): a length of 32, 40, 48, 56, 64 or 96,
/// bits 64–71 zero, and nothing set after the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nat64Prefix {
    addr: Ipv6Addr,
    len: PrefixLen,
}

/// Why a string or address is not a valid NAT64 prefix. Each message names the
/// value and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// Not of the form `ADDRESS/LENGTH`.
    #[error(
        "`{input}` is not a NAT64 prefix: expected an IPv6 address, `/` and a length, like `64:ff9b::/96`"
    )]
    Syntax {
        /// The value as written.
        input: String,
    },
    /// The part before `/` is not an IPv6 address.
    #[error("`{input}` is not a NAT64 prefix: `{addr}` is not an IPv6 address")]
    Address {
        /// The value as written.
        input: String,
        /// The part before the slash.
        addr: String,
    },
    /// A length RFC 6052 does not allow.
    #[error(
        "`{input}` has length /{len}, but a NAT64 prefix must be /32, /40, /48, /56, /64 or /96 (RFC 6052 §2.2)"
    )]
    Length {
        /// The value as written.
        input: String,
        /// The length as written.
        len: String,
    },
    /// Bits 64–71 are not zero.
    #[error(
        "`{input}` sets bits 64–71 (the u octet), which must be zero in a NAT64 prefix (RFC 6052 §2.2)"
    )]
    UOctet {
        /// The value as written.
        input: String,
    },
    /// Bits after the length are not zero.
    #[error("`{input}` has bits set after the first {len} (host bits); did you mean `{suggest}`?")]
    HostBits {
        /// The value as written.
        input: String,
        /// The length in bits.
        len: u8,
        /// The same prefix with the host bits cleared.
        suggest: String,
    },
    /// An address range that cannot carry translated addresses.
    #[error("`{input}` cannot be a NAT64 prefix: it lies in {what}")]
    Unusable {
        /// The value as written.
        input: String,
        /// The range it lies in.
        what: &'static str,
    },
}

impl Nat64Prefix {
    /// Validates `addr/len` as a NAT64 prefix.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Nat64Prefix, PrefixError> {
        let input = || format!("{addr}/{len}");
        let Some(plen) = PrefixLen::from_bits(len) else {
            return Err(PrefixError::Length {
                input: input(),
                len: len.to_string(),
            });
        };
        let octets = addr.octets();
        if octets[8] != 0 {
            return Err(PrefixError::UOctet { input: input() });
        }
        let keep = usize::from(len / 8);
        if octets[keep..].iter().any(|&b| b != 0) {
            let mut clean = [0u8; 16];
            clean[..keep].copy_from_slice(&octets[..keep]);
            return Err(PrefixError::HostBits {
                input: input(),
                len,
                suggest: format!("{}/{len}", Ipv6Addr::from(clean)),
            });
        }
        if octets[0] == 0xff {
            return Err(PrefixError::Unusable {
                input: input(),
                what: "ff00::/8, the multicast range",
            });
        }
        if octets[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            return Err(PrefixError::Unusable {
                input: input(),
                what: "::ffff:0:0/96, the IPv4-mapped range (RFC 4291 §2.5.5.2)",
            });
        }
        Ok(Nat64Prefix { addr, len: plen })
    }

    /// The prefix address (every bit after the length is zero).
    pub const fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length.
    pub const fn len(&self) -> PrefixLen {
        self.len
    }

    /// The prefix as an [`ipnet::Ipv6Net`].
    pub fn net(&self) -> ipnet::Ipv6Net {
        ipnet::Ipv6Net::new_assert(self.addr, self.len.bits())
    }

    /// Well-known, local-use (RFC 8215) or network-specific.
    pub fn kind(&self) -> PrefixKind {
        if *self == WELL_KNOWN_PREFIX {
            PrefixKind::WellKnown
        } else if LOCAL_USE_PREFIX.contains(&self.net()) {
            PrefixKind::LocalUse
        } else {
            PrefixKind::NetworkSpecific
        }
    }

    /// Whether `addr` lies inside this prefix.
    #[inline]
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        (addr.to_bits() ^ self.addr.to_bits()) & self.len.mask() == 0
    }

    /// Whether the two prefixes share any address.
    pub fn overlaps(&self, other: &Nat64Prefix) -> bool {
        let mask = self.len.mask() & other.len.mask();
        (self.addr.to_bits() ^ other.addr.to_bits()) & mask == 0
    }
}

/// The IPv4-embedded IPv6 address of `v4` under `prefix` (RFC 6052 §2.2):
/// the u octet and the suffix are zero.
#[inline]
pub fn embed(prefix: &Nat64Prefix, v4: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from_bits(prefix.addr.to_bits() | prefix.len.spread(v4.to_bits()))
}

/// The IPv4 address embedded in `addr` under `prefix` (RFC 6052 §2.2), or
/// `None` when `addr` is outside the prefix. The u octet and the suffix are
/// ignored, as RFC 6052 §2.2 and req A1 ask.
#[inline]
pub fn extract(prefix: &Nat64Prefix, addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = addr.to_bits();
    if (bits ^ prefix.addr.to_bits()) & prefix.len.mask() != 0 {
        return None;
    }
    Some(Ipv4Addr::from_bits(prefix.len.gather(bits)))
}

impl fmt::Display for Nat64Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len.bits())
    }
}

impl FromStr for Nat64Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = s.trim();
        let Some((addr, len)) = input.split_once('/') else {
            return Err(PrefixError::Syntax {
                input: input.to_owned(),
            });
        };
        let ip: Ipv6Addr = addr.parse().map_err(|_| PrefixError::Address {
            input: input.to_owned(),
            addr: addr.to_owned(),
        })?;
        let bits: u8 = match len.parse() {
            Ok(bits) if len.bytes().all(|b| b.is_ascii_digit()) => bits,
            _ => {
                return Err(PrefixError::Length {
                    input: input.to_owned(),
                    len: len.to_owned(),
                });
            }
        };
        // Report errors with the value exactly as the operator wrote it.
        Nat64Prefix::new(ip, bits).map_err(|e| e.with_input(input))
    }
}

impl PrefixError {
    fn with_input(mut self, written: &str) -> PrefixError {
        match &mut self {
            PrefixError::Syntax { input }
            | PrefixError::Address { input, .. }
            | PrefixError::Length { input, .. }
            | PrefixError::UOctet { input }
            | PrefixError::HostBits { input, .. }
            | PrefixError::Unusable { input, .. } => *input = written.to_owned(),
        }
        self
    }
}

impl<'de> serde::Deserialize<'de> for Nat64Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Nat64Prefix;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NAT64 prefix string such as \"64:ff9b::/96\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Nat64Prefix, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl serde::Serialize for Nat64Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Nat64Prefix {
        s.parse().unwrap()
    }

    /// RFC 6052 §2.4, Table 1: 192.0.2.33 under each prefix length.
    const RFC6052_VECTORS: [(&str, &str); 6] = [
        ("2001:db8::/32", "2001:db8:c000:221::"),
        ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
        ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
        ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
        ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
        ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
    ];

    #[test]
    fn a2_rfc6052_vectors_embed() {
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        for (prefix, expected) in RFC6052_VECTORS {
            let expected: Ipv6Addr = expected.parse().unwrap();
            assert_eq!(embed(&p(prefix), v4), expected, "embed under {prefix}");
        }
    }

    #[test]
    fn a2_rfc6052_vectors_extract() {
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        for (prefix, addr) in RFC6052_VECTORS {
            let addr: Ipv6Addr = addr.parse().unwrap();
            assert_eq!(
                extract(&p(prefix), addr),
                Some(v4),
                "extract under {prefix}"
            );
        }
    }

    #[test]
    fn a2_wkp_example() {
        // RFC 6052 §2.4, second table: 192.0.2.33 under 64:ff9b::/96.
        let a = embed(&WELL_KNOWN_PREFIX, Ipv4Addr::new(192, 0, 2, 33));
        assert_eq!(a, "64:ff9b::192.0.2.33".parse::<Ipv6Addr>().unwrap());
        assert_eq!(WELL_KNOWN_PREFIX.to_string(), "64:ff9b::/96");
    }

    #[test]
    fn a1_extract_ignores_suffix_and_u_octet() {
        // /64: bytes 13..16 are the suffix, byte 8 the u octet.
        let prefix = p("2001:db8:122:344::/64");
        let noisy: Ipv6Addr = "2001:db8:122:344:ffc0:2:21ff:ffff".parse().unwrap();
        assert_eq!(extract(&prefix, noisy), Some(Ipv4Addr::new(192, 0, 2, 33)));
    }

    #[test]
    fn a1_extract_outside_prefix_is_none() {
        let addr: Ipv6Addr = "2001:db9::c000:221".parse().unwrap();
        for (prefix, _) in RFC6052_VECTORS {
            assert_eq!(extract(&p(prefix), addr), None, "{prefix}");
        }
    }

    #[test]
    fn a1_bad_length_message() {
        let err = "64:ff9b::/95".parse::<Nat64Prefix>().unwrap_err();
        assert!(matches!(err, PrefixError::Length { .. }));
        assert_eq!(
            err.to_string(),
            "`64:ff9b::/95` has length /95, but a NAT64 prefix must be /32, /40, /48, /56, /64 or /96 (RFC 6052 §2.2)"
        );
        for bad in [
            "64:ff9b::/128",
            "64:ff9b::/0",
            "64:ff9b::/x",
            "64:ff9b::/+96",
            "64:ff9b::/",
        ] {
            assert!(
                matches!(bad.parse::<Nat64Prefix>(), Err(PrefixError::Length { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a1_u_octet_message() {
        let err = "2001:db8:0:0:100::/96".parse::<Nat64Prefix>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`2001:db8:0:0:100::/96` sets bits 64–71 (the u octet), which must be zero in a NAT64 prefix (RFC 6052 §2.2)"
        );
    }

    #[test]
    fn a1_host_bits_message() {
        let err = "64:ff9b::1/96".parse::<Nat64Prefix>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`64:ff9b::1/96` has bits set after the first 96 (host bits); did you mean `64:ff9b::/96`?"
        );
        let err = "2001:db8:1::/32".parse::<Nat64Prefix>().unwrap_err();
        assert!(
            err.to_string().contains("did you mean `2001:db8::/32`"),
            "{err}"
        );
    }

    #[test]
    fn a1_syntax_and_address_messages() {
        let err = "64:ff9b::".parse::<Nat64Prefix>().unwrap_err();
        assert!(matches!(err, PrefixError::Syntax { .. }), "{err}");
        let err = "192.0.2.0/96".parse::<Nat64Prefix>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`192.0.2.0/96` is not a NAT64 prefix: `192.0.2.0` is not an IPv6 address"
        );
    }

    #[test]
    fn a1_unusable_ranges() {
        for bad in ["ff00::/32", "::ffff:0:0/96"] {
            let err = bad.parse::<Nat64Prefix>().unwrap_err();
            assert!(matches!(err, PrefixError::Unusable { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn a3_prefix_kinds() {
        assert_eq!(p("64:ff9b::/96").kind(), PrefixKind::WellKnown);
        assert_eq!(p("64:ff9b:1::/48").kind(), PrefixKind::LocalUse);
        assert_eq!(p("64:ff9b:1:ab00::/56").kind(), PrefixKind::LocalUse);
        assert_eq!(p("64:ff9b:2::/48").kind(), PrefixKind::NetworkSpecific);
        assert_eq!(p("2001:db8:64::/96").kind(), PrefixKind::NetworkSpecific);
        // Same leading bits as the WKP but a different length: not the WKP.
        assert_eq!(p("64:ff9b::/64").kind(), PrefixKind::NetworkSpecific);
    }

    #[test]
    fn overlap() {
        assert!(p("2001:db8::/32").overlaps(&p("2001:db8:1::/96")));
        assert!(p("2001:db8:1::/96").overlaps(&p("2001:db8::/32")));
        assert!(!p("2001:db8:1::/96").overlaps(&p("2001:db8:2::/96")));
    }

    fn any_prefix() -> impl Strategy<Value = Nat64Prefix> {
        (
            prop::sample::select(PrefixLen::ALL.to_vec()),
            any::<[u8; 16]>(),
        )
            .prop_filter_map("not a usable prefix", |(len, mut bytes)| {
                let keep = usize::from(len.bits() / 8);
                bytes[keep..].fill(0);
                bytes[8] = 0;
                Nat64Prefix::new(Ipv6Addr::from(bytes), len.bits()).ok()
            })
    }

    proptest! {
        #[test]
        fn a2_extract_inverts_embed(prefix in any_prefix(), v4 in any::<[u8; 4]>()) {
            let v4 = Ipv4Addr::from(v4);
            let v6 = embed(&prefix, v4);
            prop_assert!(prefix.contains(v6));
            prop_assert_eq!(v6.octets()[8], 0, "u octet must be zero");
            prop_assert_eq!(extract(&prefix, v6), Some(v4));
        }

        #[test]
        fn a2_extract_outside_is_none(prefix in any_prefix(), addr in any::<[u8; 16]>()) {
            let addr = Ipv6Addr::from(addr);
            let inside = prefix.contains(addr);
            prop_assert_eq!(extract(&prefix, addr).is_some(), inside);
        }

        #[test]
        fn a2_embed_is_inside_only_its_prefix(a in any_prefix(), b in any_prefix(), v4 in any::<[u8; 4]>()) {
            let v6 = embed(&a, Ipv4Addr::from(v4));
            if !a.overlaps(&b) {
                prop_assert_eq!(extract(&b, v6), None);
            }
        }

        #[test]
        fn a1_display_parses_back(prefix in any_prefix()) {
            prop_assert_eq!(prefix.to_string().parse::<Nat64Prefix>(), Ok(prefix));
        }

        #[test]
        fn a1_parse_never_panics(s in "\\PC{0,60}") {
            let _ = s.parse::<Nat64Prefix>();
        }
    }
}
