//! RFC 7915 IP/ICMP translation, in place, as pure functions.
//!
//! Two steps per packet, as the architecture asks: `inspect` reads the
//! untrusted bytes once and returns what the state layer needs (the flow's
//! addresses and ports, or a [`DropReason`]); `translate` takes the mapping
//! the state layer decided and rewrites the same buffer, growing into the
//! headroom in front of the packet when IPv4 becomes IPv6. Errors the
//! translator must send back (Time Exceeded, Packet Too Big, Parameter
//! Problem) are built in the same buffer, in front of the quoted packet.
//! Nothing here allocates, reads the clock or does I/O.

mod fragment;
mod icmp_error;
mod icmp_map;
mod own_errors;
mod v4_to_v6;
mod v6_to_v4;

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::flow::Proto;
use crate::verdict::Verdict;
use crate::wire::transport::{
    IcmpMessage, PortRewrite, TCP_HEADER_LEN, TcpPacket, UDP_HEADER_LEN, UdpPacket, icmp4,
};

pub use fragment::Fragments;
pub use icmp_error::translate4_error;
pub use v4_to_v6::{Flow4, inspect4, translate4};
pub use v6_to_v4::{Flow6, inspect6, translate6};

/// Headroom the caller must leave in front of a packet: the largest growth
/// of one translation (IPv4 20-byte header → IPv6 40 + Fragment 8) or of an
/// error built around the packet (IPv6 40 + ICMPv6 8).
pub const HEADROOM: usize = 48;

/// Translation settings (the `[nat64]` keys that reach the packet path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// MTU of the IPv4 side: larger translated packets get Packet Too Big
    /// (DF set) or are fragmented (req N4).
    pub ipv4_mtu: u16,
    /// MTU assumed for the IPv6 side (default 1280, RFC 7915 §4): larger
    /// DF-set IPv4 packets get Fragmentation Needed, DF-clear ones are
    /// fragmented (req N7).
    pub ipv6_mtu: u16,
    /// Zero the TOS / Traffic Class instead of copying it (req N1, N5).
    pub zero_tos: bool,
    /// Source of the ICMPv4 errors the translator itself sends (req N13).
    pub own_v4: Ipv4Addr,
    /// Source of the ICMPv6 errors the translator itself sends (req N13).
    pub own_v6: Ipv6Addr,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ipv4_mtu: 1500,
            ipv6_mtu: 1280,
            zero_tos: false,
            own_v4: Ipv4Addr::UNSPECIFIED,
            own_v6: Ipv6Addr::UNSPECIFIED,
        }
    }
}

/// What kind of packet a flow's packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TCP or UDP data, or a non-first fragment of them.
    Data,
    /// ICMP Echo Request.
    EchoRequest,
    /// ICMP Echo Reply.
    EchoReply,
    /// An ICMP error. The flow's protocol, addresses and ports are those of
    /// the quoted packet, reversed: the same as a packet of the session
    /// travelling in the error's direction, so the state layer finds the
    /// session exactly as for data (req S10).
    Error,
}

/// The IPv4 side of a translated flow: the addresses and ports (or ICMP
/// identifier, in `src_port`) the state layer chose for an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Map4 {
    /// IPv4 source: a pool address.
    pub src: Ipv4Addr,
    /// Source port, or the ICMP identifier.
    pub src_port: u16,
    /// IPv4 destination: extracted from the IPv6 destination.
    pub dst: Ipv4Addr,
    /// Destination port (unused for ICMP).
    pub dst_port: u16,
}

/// The IPv6 side of a translated flow, for an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Map6 {
    /// IPv6 source: the IPv4 source embedded in the prefix.
    pub src: Ipv6Addr,
    /// Source port (unused for ICMP).
    pub src_port: u16,
    /// IPv6 destination: the host the binding belongs to.
    pub dst: Ipv6Addr,
    /// Destination port, or the ICMP identifier.
    pub dst_port: u16,
}

/// Rewrites a TCP or UDP header's ports and adjusts its checksum as `r`
/// says ([`TcpPacket::rewrite_ports`], [`UdpPacket::rewrite_ports`]).
#[inline]
fn rewrite_ports(data: &mut [u8], proto: Proto, r: &PortRewrite) {
    if proto == Proto::Tcp {
        TcpPacket::new_unchecked(data).rewrite_ports(r);
    } else {
        UdpPacket::new_unchecked(data).rewrite_ports(r);
    }
}

/// Length of the transport data one packet of the flow carries: the whole
/// `l4_len`, or for a super-packet (TUN offload) its first segment's, the
/// transport header plus `gso_size`.
#[inline]
fn segment_l4_len(data: &[u8], proto: Proto, gso_size: u16, l4_len: usize) -> usize {
    if gso_size == 0 {
        return l4_len;
    }
    let thl = match proto {
        Proto::Tcp if data.len() >= TCP_HEADER_LEN => TcpPacket::new_unchecked(data).header_len(),
        Proto::Tcp => 0,
        _ => UDP_HEADER_LEN,
    };
    (thl + usize::from(gso_size)).min(l4_len)
}

/// ICMPv4 Port Unreachable (type 3, code 3) from `from`, quoting the IPv4
/// packet at `buf[start..start + len]` (already validated), built in front
/// of it: the answer to an IPv4 SYN held for simultaneous open that no IPv6
/// SYN met (req S4, RFC 6146 §3.5.2.2), or to UDP without a binding.
pub fn port_unreachable4(
    buf: &mut [u8],
    start: usize,
    len: usize,
    from: Ipv4Addr,
    ident: u16,
) -> Result<Verdict, crate::stats::DropReason> {
    if len < crate::wire::ipv4::HEADER_LEN || buf.get(start).is_none_or(|b| b >> 4 != 4) {
        return Err(crate::stats::DropReason::TruncatedHeader);
    }
    own_errors::icmp4_error(
        buf,
        start,
        len,
        from,
        ident,
        IcmpMessage::unreachable4(icmp4::unreachable::PORT),
    )
}

/// ICMPv6 Destination Unreachable with `code`
/// ([`crate::wire::transport::icmp6::unreachable`])
/// from `from`, quoting the IPv6 packet at `buf[start..start + len]`
/// (already validated), built in front of it: Address Unreachable (3) for
/// a new flow the pool has no room for (req S6), Administratively
/// Prohibited (1) for a destination the translator refuses (req A3, O4).
pub fn unreachable6(
    buf: &mut [u8],
    start: usize,
    len: usize,
    from: Ipv6Addr,
    code: u8,
) -> Result<Verdict, crate::stats::DropReason> {
    if len < crate::wire::ipv6::HEADER_LEN || buf.get(start).is_none_or(|b| b >> 4 != 6) {
        return Err(crate::stats::DropReason::TruncatedHeader);
    }
    own_errors::icmp6_error(buf, start, len, from, IcmpMessage::unreachable6(code))
}

#[cfg(test)]
pub(crate) mod tests;
