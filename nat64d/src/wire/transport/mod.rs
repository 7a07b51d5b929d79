//! Typed views over the transport headers the translator touches: TCP
//! (RFC 9293), UDP (RFC 768), ICMPv4 (RFC 792) and ICMPv6 (RFC 4443), with
//! the incremental checksum updates (RFC 1624) a translation needs.
//!
//! `new_checked` validates a header once (its fixed part, TCP's data offset,
//! UDP's length); `new_unchecked` wraps bytes this code has validated or
//! written. A header quoted inside an ICMP error may be cut short (req
//! N12): the rewrite methods then change what is there and skip a checksum
//! field that did not arrive.

use super::checksum;

pub(super) mod field {
    pub(super) const SRC_PORT: usize = 0;
    pub(super) const DST_PORT: usize = 2;
    pub(super) const TCP_SEQ: usize = 4;
    pub(super) const TCP_DATA_OFFSET: usize = 12;
    pub(super) const TCP_FLAGS: usize = 13;
    pub(super) const TCP_CHECKSUM: usize = 16;
    pub(super) const UDP_LEN: usize = 4;
    pub(super) const UDP_CHECKSUM: usize = 6;
    pub(super) const ICMP_TYPE: usize = 0;
    pub(super) const ICMP_CODE: usize = 1;
    pub(super) const ICMP_CHECKSUM: usize = 2;
    pub(super) const ICMP_REST: usize = 4;
}

/// Offset of the checksum field in a TCP header (for the virtio-net
/// header's `csum_offset`).
pub const TCP_CHECKSUM_OFFSET: usize = field::TCP_CHECKSUM;
/// Offset of the checksum field in a UDP header.
pub const UDP_CHECKSUM_OFFSET: usize = field::UDP_CHECKSUM;

/// Fixed length of a TCP header.
pub const TCP_HEADER_LEN: usize = 20;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// Length of an ICMP header: type, code, checksum, 4 bytes of rest.
pub const ICMP_HEADER_LEN: usize = 8;

#[inline]
pub(super) fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(super) fn set16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

mod icmp;
mod tcp;
mod udp;

pub use icmp::{IcmpMessage, IcmpPacket, icmp4, icmp6};
pub use tcp::{TcpPacket, tcp_flags};
pub use udp::UdpPacket;

/// A translation's change to a TCP or UDP header: the ports, and the
/// pseudo-header's addresses as one's-complement partial sums (RFC 1624).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRewrite {
    /// The ports in the header now (source, destination), as read when the
    /// packet was inspected.
    pub old_ports: (u16, u16),
    /// The ports to write.
    pub new_ports: (u16, u16),
    /// Sum of the old pseudo-header addresses.
    pub addr_old: u32,
    /// Sum of the new pseudo-header addresses.
    pub addr_new: u32,
    /// The checksum field holds the pseudo-header's sum only (TUN offload):
    /// it follows the addresses alone, the ports being summed with the data
    /// when the checksum is finished.
    pub partial: bool,
}

#[inline]
pub(super) fn rewrite_ports(b: &mut [u8], at: usize, udp: bool, r: &PortRewrite) {
    set16(b, field::SRC_PORT, r.new_ports.0);
    set16(b, field::DST_PORT, r.new_ports.1);
    if b.len() < at + 2 {
        return;
    }
    let c = get16(b, at);
    if r.partial {
        // The field is the sum itself, not its complement.
        set16(b, at, !checksum::adjust(!c, r.addr_old, r.addr_new));
        return;
    }
    if udp && c == 0 {
        return;
    }
    let old = r.addr_old + u32::from(r.old_ports.0) + u32::from(r.old_ports.1);
    let new = r.addr_new + u32::from(r.new_ports.0) + u32::from(r.new_ports.1);
    let mut c = checksum::adjust(c, old, new);
    if udp && c == 0 {
        c = 0xffff;
    }
    set16(b, at, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(
        old_ports: (u16, u16),
        new_ports: (u16, u16),
        addr_old: u32,
        addr_new: u32,
    ) -> PortRewrite {
        PortRewrite {
            old_ports,
            new_ports,
            addr_old,
            addr_new,
            partial: false,
        }
    }

    /// A TCP header's checksum after `rewrite_ports` equals the one
    /// computed from scratch (etherparse), for the new ports and addresses.
    #[test]
    fn tcp_and_udp_port_rewrites_keep_checksums_right() {
        use etherparse::PacketBuilder;
        let (s4, d4) = ([192, 0, 2, 1], [203, 0, 113, 10]);
        let (s4b, d4b) = ([198, 51, 100, 1], [203, 0, 113, 10]);
        let sum = |a: [u8; 4], b: [u8; 4]| checksum::sum_v4(a.into()) + checksum::sum_v4(b.into());
        for udp in [false, true] {
            let build = |s, d, sp, dp| {
                let mut v = Vec::new();
                let b = PacketBuilder::ipv4(s, d, 64);
                if udp {
                    b.udp(sp, dp).write(&mut v, b"payload!").unwrap();
                } else {
                    b.tcp(sp, dp, 7, 1000).write(&mut v, b"payload!").unwrap();
                }
                v
            };
            let mut before = build(s4, d4, 40000, 80);
            let after = build(s4b, d4b, 61000, 80);
            let l4 = &mut before[20..];
            if udp {
                UdpPacket::new_checked(&mut *l4).unwrap().rewrite_ports(&rw(
                    (40000, 80),
                    (61000, 80),
                    sum(s4, d4),
                    sum(s4b, d4b),
                ));
                assert_eq!(
                    UdpPacket::new_unchecked(&*l4).checksum(),
                    UdpPacket::new_unchecked(&after[20..]).checksum()
                );
            } else {
                TcpPacket::new_checked(&mut *l4).unwrap().rewrite_ports(&rw(
                    (40000, 80),
                    (61000, 80),
                    sum(s4, d4),
                    sum(s4b, d4b),
                ));
                assert_eq!(
                    TcpPacket::new_unchecked(&*l4).checksum(),
                    TcpPacket::new_unchecked(&after[20..]).checksum()
                );
            }
        }
    }

    #[test]
    fn a_zero_udp_checksum_stays_zero_and_a_cut_header_keeps_its_ports() {
        let mut h = [0x9c, 0x40, 0, 53, 0, 8, 0, 0];
        UdpPacket::new_unchecked(&mut h[..]).rewrite_ports(&rw((0x9c40, 53), (1, 2), 10, 20));
        assert_eq!(h, [0, 1, 0, 2, 0, 8, 0, 0]);
        // Inside an ICMP error: 4 bytes of a TCP header.
        let mut cut = [0x9c, 0x40, 0, 80];
        TcpPacket::new_unchecked(&mut cut[..]).rewrite_ports(&rw((0x9c40, 80), (5, 6), 10, 20));
        assert_eq!(cut, [0, 5, 0, 6]);
    }

    #[test]
    fn checked_views_refuse_short_or_lying_headers() {
        assert!(TcpPacket::new_checked(&[0u8; 19][..]).is_err());
        let mut t = [0u8; 20];
        t[12] = 0x40; // data offset 4 words
        assert!(TcpPacket::new_checked(&t[..]).is_err());
        t[12] = 0x60; // 6 words: past the buffer
        assert!(TcpPacket::new_checked(&t[..]).is_err());
        t[12] = 0x50;
        assert_eq!(TcpPacket::new_checked(&t[..]).unwrap().header_len(), 20);
        let u = [0, 1, 0, 2, 0, 9, 0, 0];
        assert!(
            UdpPacket::new_checked(&u[..]).is_err(),
            "length 9 in 8 bytes"
        );
        assert!(IcmpPacket::new_checked(&[0u8; 7][..]).is_err());
    }

    #[test]
    fn an_echo_rewrite_matches_a_fresh_checksum() {
        let mut m = [icmp4::ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i'];
        IcmpPacket::new_unchecked(&mut m[..]).fill_checksum(0);
        IcmpPacket::new_unchecked(&mut m[..]).rewrite_echo(icmp4::ECHO_REPLY, 0xabcd, 0, 0);
        let mut fresh = m;
        IcmpPacket::new_unchecked(&mut fresh[..]).fill_checksum(0);
        assert_eq!(m, fresh);
        assert_eq!(IcmpPacket::new_unchecked(&m[..]).echo_ident(), 0xabcd);
    }
}
