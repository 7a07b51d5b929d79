//! The flow vocabulary every layer of nat64d shares: the transport
//! protocols the stateful translator handles and the transport addresses of
//! its bindings (RFC 6146 §2: "transport address", "BIB").

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use crate::wire::ipv6::proto::{ICMP, ICMPV6, TCP, UDP};

/// Transport protocols the stateful translator handles (RFC 6146 §3): one
/// BIB each. In the config file by [`Proto::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP queries; the identifier is the "port" (RFC 6146 §3.5.3).
    Icmp,
}

impl Proto {
    /// Every protocol, in [`Proto::index`] order.
    pub const ALL: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Icmp];

    /// Index in per-protocol arrays (`[T; 3]`, in [`Proto::ALL`] order).
    pub const fn index(self) -> usize {
        match self {
            Proto::Tcp => 0,
            Proto::Udp => 1,
            Proto::Icmp => 2,
        }
    }

    /// The name in logs, metrics labels and the config file.
    pub const fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }

    /// The IPv4 protocol number (IANA): ICMP is 1 on the IPv4 side.
    pub const fn number4(self) -> u8 {
        match self {
            Proto::Tcp => TCP,
            Proto::Udp => UDP,
            Proto::Icmp => ICMP,
        }
    }

    /// The IPv6 next-header value (IANA): ICMPv6 is 58 on the IPv6 side.
    pub const fn number6(self) -> u8 {
        match self {
            Proto::Tcp => TCP,
            Proto::Udp => UDP,
            Proto::Icmp => ICMPV6,
        }
    }
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An IPv6 transport address: address and port (or ICMP identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportAddr6 {
    /// Address.
    pub addr: Ipv6Addr,
    /// Port, or ICMP identifier.
    pub port: u16,
}

/// An IPv4 transport address: address and port (or ICMP identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportAddr4 {
    /// Address.
    pub addr: Ipv4Addr,
    /// Port, or ICMP identifier.
    pub port: u16,
}

impl std::fmt::Display for TransportAddr6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.addr, self.port)
    }
}

impl std::fmt::Display for TransportAddr4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.addr, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_name_and_numbers_agree_with_all() {
        for (i, p) in Proto::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
        }
        let names: Vec<_> = Proto::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["tcp", "udp", "icmp"]);
        assert_eq!(Proto::Icmp.number4(), 1);
        assert_eq!(Proto::Icmp.number6(), 58);
        assert_eq!(Proto::Udp.number4(), Proto::Udp.number6());
    }
}
