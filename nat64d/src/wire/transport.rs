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
use crate::stats::DropReason;

mod field {
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

/// Fixed length of a TCP header.
pub const TCP_HEADER_LEN: usize = 20;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// Length of an ICMP header: type, code, checksum, 4 bytes of rest.
pub const ICMP_HEADER_LEN: usize = 8;

#[inline]
fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn set16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// TCP flags (RFC 9293 §3.1).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A TCP header in a buffer.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps bytes already validated or written here.
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        TcpPacket { buf }
    }

    /// Wraps untrusted bytes: the fixed header, and a data offset of at
    /// least 5 words within the buffer.
    pub fn new_checked(buf: T) -> Result<Self, DropReason> {
        let b = buf.as_ref();
        if b.len() < TCP_HEADER_LEN {
            return Err(DropReason::TruncatedTransport);
        }
        let hlen = usize::from(b[field::TCP_DATA_OFFSET] >> 4) * 4;
        if hlen < TCP_HEADER_LEN || hlen > b.len() {
            return Err(DropReason::TruncatedTransport);
        }
        Ok(TcpPacket { buf })
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::SRC_PORT)
    }
    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::DST_PORT)
    }
    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
    /// The flags byte ([`tcp_flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[field::TCP_FLAGS]
    }
    /// Header length in bytes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::TCP_DATA_OFFSET] >> 4) * 4
    }
    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.buf.as_ref(), field::TCP_CHECKSUM)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, v: u32) {
        self.buf.as_mut()[field::TCP_SEQ..field::TCP_SEQ + 4].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the flags byte.
    #[inline]
    pub fn set_flags(&mut self, v: u8) {
        self.buf.as_mut()[field::TCP_FLAGS] = v;
    }
    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::TCP_CHECKSUM, v);
    }
    /// Rewrites the ports and adjusts the checksum for them and for a
    /// pseudo-header whose addresses summed to `addr_old` and now to
    /// `addr_new` (RFC 1624). `partial`: the field holds the pseudo-header
    /// sum only (TUN offload), adjusted for the addresses alone. A header
    /// cut before its checksum gets the ports only.
    #[inline]
    pub fn rewrite_ports(
        &mut self,
        ports: (u16, u16),
        addr_old: u32,
        addr_new: u32,
        partial: bool,
    ) {
        rewrite_ports(
            self.buf.as_mut(),
            field::TCP_CHECKSUM,
            false,
            ports,
            addr_old,
            addr_new,
            partial,
        );
    }
}

/// A UDP header in a buffer.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps bytes already validated or written here.
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        UdpPacket { buf }
    }

    /// Wraps untrusted bytes: the header, and a length field of at least
    /// the header that the buffer holds.
    pub fn new_checked(buf: T) -> Result<Self, DropReason> {
        let b = buf.as_ref();
        if b.len() < UDP_HEADER_LEN {
            return Err(DropReason::TruncatedTransport);
        }
        let len = usize::from(get16(b, field::UDP_LEN));
        if len < UDP_HEADER_LEN || len > b.len() {
            return Err(DropReason::TruncatedTransport);
        }
        Ok(UdpPacket { buf })
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::SRC_PORT)
    }
    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::DST_PORT)
    }
    /// The length field: header and data.
    #[inline]
    pub fn len(&self) -> u16 {
        get16(self.buf.as_ref(), field::UDP_LEN)
    }
    /// Whether the length field is zero (never, for a checked header).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The checksum field; 0 means none (IPv4 only).
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.buf.as_ref(), field::UDP_CHECKSUM)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::UDP_LEN, v);
    }
    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::UDP_CHECKSUM, v);
    }
    /// Sets both ports.
    #[inline]
    pub fn set_ports(&mut self, src: u16, dst: u16) {
        let b = self.buf.as_mut();
        set16(b, field::SRC_PORT, src);
        set16(b, field::DST_PORT, dst);
    }
    /// Computes the checksum over the whole datagram in the buffer plus
    /// `pseudo` (the pseudo-header's sum) and stores it; zero is sent as
    /// `0xffff` (RFC 768).
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let mut c = checksum::finish(pseudo + checksum::sum(self.buf.as_ref()));
        if c == 0 {
            c = 0xffff;
        }
        self.set_checksum(c);
    }
    /// As [`TcpPacket::rewrite_ports`]; a zero checksum (none, IPv4) stays
    /// zero, and a result of zero is sent as `0xffff` (RFC 768).
    #[inline]
    pub fn rewrite_ports(
        &mut self,
        ports: (u16, u16),
        addr_old: u32,
        addr_new: u32,
        partial: bool,
    ) {
        rewrite_ports(
            self.buf.as_mut(),
            field::UDP_CHECKSUM,
            true,
            ports,
            addr_old,
            addr_new,
            partial,
        );
    }
}

#[inline]
fn rewrite_ports(
    b: &mut [u8],
    at: usize,
    udp: bool,
    new: (u16, u16),
    addr_old: u32,
    addr_new: u32,
    partial: bool,
) {
    let old = (get16(b, field::SRC_PORT), get16(b, field::DST_PORT));
    set16(b, field::SRC_PORT, new.0);
    set16(b, field::DST_PORT, new.1);
    if b.len() < at + 2 {
        return;
    }
    let c = get16(b, at);
    if partial {
        // The field is the sum itself, not its complement.
        set16(b, at, !checksum::adjust(!c, addr_old, addr_new));
        return;
    }
    if udp && c == 0 {
        return;
    }
    let old = addr_old + u32::from(old.0) + u32::from(old.1);
    let new = addr_new + u32::from(new.0) + u32::from(new.1);
    let mut c = checksum::adjust(c, old, new);
    if udp && c == 0 {
        c = 0xffff;
    }
    set16(b, at, c);
}

/// ICMPv4 types and codes (RFC 792, RFC 1191).
pub mod icmp4 {
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination Unreachable.
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Source Quench (deprecated, RFC 6633).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter Problem.
    pub const PARAM_PROBLEM: u8 = 12;

    /// Destination Unreachable codes (RFC 792, RFC 1122, RFC 1812).
    pub mod unreachable {
        /// Network unreachable.
        pub const NET: u8 = 0;
        /// Host unreachable.
        pub const HOST: u8 = 1;
        /// Protocol unreachable.
        pub const PROTOCOL: u8 = 2;
        /// Port unreachable.
        pub const PORT: u8 = 3;
        /// Fragmentation needed and DF set (RFC 1191).
        pub const FRAG_NEEDED: u8 = 4;
        /// Source route failed.
        pub const SOURCE_ROUTE_FAILED: u8 = 5;
        /// Destination network unknown.
        pub const NET_UNKNOWN: u8 = 6;
        /// Destination host unknown.
        pub const HOST_UNKNOWN: u8 = 7;
        /// Source host isolated.
        pub const SOURCE_ISOLATED: u8 = 8;
        /// Network administratively prohibited.
        pub const NET_PROHIBITED: u8 = 9;
        /// Host administratively prohibited.
        pub const HOST_PROHIBITED: u8 = 10;
        /// Network unreachable for the type of service.
        pub const NET_TOS: u8 = 11;
        /// Host unreachable for the type of service.
        pub const HOST_TOS: u8 = 12;
        /// Communication administratively prohibited (RFC 1812).
        pub const ADMIN_PROHIBITED: u8 = 13;
        /// Host precedence violation.
        pub const PRECEDENCE_VIOLATION: u8 = 14;
        /// Precedence cutoff in effect.
        pub const PRECEDENCE_CUTOFF: u8 = 15;
    }

    /// Parameter Problem codes (RFC 792, RFC 1122).
    pub mod param_problem {
        /// The pointer indicates the error.
        pub const POINTER: u8 = 0;
        /// A required option is missing.
        pub const MISSING_OPTION: u8 = 1;
        /// Bad length.
        pub const BAD_LENGTH: u8 = 2;
    }

    /// Time Exceeded codes.
    pub mod time_exceeded {
        /// TTL exceeded in transit.
        pub const TTL: u8 = 0;
        /// Fragment reassembly time exceeded.
        pub const REASSEMBLY: u8 = 1;
    }
}

/// ICMPv6 types and codes (RFC 4443).
pub mod icmp6 {
    /// Destination Unreachable.
    pub const DEST_UNREACHABLE: u8 = 1;
    /// Packet Too Big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter Problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 129;

    /// Destination Unreachable codes.
    pub mod unreachable {
        /// No route to destination.
        pub const NO_ROUTE: u8 = 0;
        /// Communication administratively prohibited.
        pub const ADMIN_PROHIBITED: u8 = 1;
        /// Beyond scope of source address.
        pub const BEYOND_SCOPE: u8 = 2;
        /// Address unreachable.
        pub const ADDRESS: u8 = 3;
        /// Port unreachable.
        pub const PORT: u8 = 4;
    }

    /// Parameter Problem codes.
    pub mod param_problem {
        /// Erroneous header field.
        pub const HEADER_FIELD: u8 = 0;
        /// Unrecognised Next Header.
        pub const NEXT_HEADER: u8 = 1;
        /// Unrecognised IPv6 option.
        pub const OPTION: u8 = 2;
    }
}

/// The header fields of an ICMP message to build: type, code, and the 4
/// bytes after the checksum (an MTU, a pointer, zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpMessage {
    /// Type ([`icmp4`], [`icmp6`]).
    pub msg_type: u8,
    /// Code.
    pub code: u8,
    /// The 4 bytes after the checksum.
    pub rest: u32,
}

impl IcmpMessage {
    /// ICMPv4 Destination Unreachable with `code` ([`icmp4::unreachable`]).
    pub const fn unreachable4(code: u8) -> Self {
        IcmpMessage {
            msg_type: icmp4::DEST_UNREACHABLE,
            code,
            rest: 0,
        }
    }
    /// ICMPv4 Fragmentation Needed, next-hop MTU `mtu` (RFC 1191).
    pub const fn frag_needed4(mtu: u16) -> Self {
        IcmpMessage {
            msg_type: icmp4::DEST_UNREACHABLE,
            code: icmp4::unreachable::FRAG_NEEDED,
            rest: mtu as u32,
        }
    }
    /// ICMPv4 Time Exceeded, TTL exceeded in transit.
    pub const fn ttl_exceeded4() -> Self {
        IcmpMessage {
            msg_type: icmp4::TIME_EXCEEDED,
            code: icmp4::time_exceeded::TTL,
            rest: 0,
        }
    }
    /// ICMPv6 Destination Unreachable with `code` ([`icmp6::unreachable`]).
    pub const fn unreachable6(code: u8) -> Self {
        IcmpMessage {
            msg_type: icmp6::DEST_UNREACHABLE,
            code,
            rest: 0,
        }
    }
    /// ICMPv6 Packet Too Big, MTU `mtu`.
    pub const fn packet_too_big6(mtu: u32) -> Self {
        IcmpMessage {
            msg_type: icmp6::PACKET_TOO_BIG,
            code: 0,
            rest: mtu,
        }
    }
    /// ICMPv6 Time Exceeded, hop limit exceeded in transit.
    pub const fn hop_limit_exceeded6() -> Self {
        IcmpMessage {
            msg_type: icmp6::TIME_EXCEEDED,
            code: 0,
            rest: 0,
        }
    }
    /// ICMPv6 Parameter Problem, erroneous header field at `pointer`.
    pub const fn param_problem6(pointer: u32) -> Self {
        IcmpMessage {
            msg_type: icmp6::PARAM_PROBLEM,
            code: icmp6::param_problem::HEADER_FIELD,
            rest: pointer,
        }
    }
}

/// An ICMPv4 or ICMPv6 header in a buffer.
#[derive(Debug, Clone, Copy)]
pub struct IcmpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wraps bytes already validated or written here.
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        IcmpPacket { buf }
    }

    /// Wraps untrusted bytes: the 8-byte header.
    pub fn new_checked(buf: T) -> Result<Self, DropReason> {
        if buf.as_ref().len() < ICMP_HEADER_LEN {
            return Err(DropReason::TruncatedTransport);
        }
        Ok(IcmpPacket { buf })
    }

    /// Type ([`icmp4`], [`icmp6`]).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buf.as_ref()[field::ICMP_TYPE]
    }
    /// Code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[field::ICMP_CODE]
    }
    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.buf.as_ref(), field::ICMP_CHECKSUM)
    }
    /// The identifier of an echo message (the first half of the rest).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        get16(self.buf.as_ref(), field::ICMP_REST)
    }
    /// The 4 bytes after the checksum: an MTU, a pointer, an echo's
    /// identifier and sequence number.
    #[inline]
    pub fn rest(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
    /// What follows the header: the echo data, or the quoted packet.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[ICMP_HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    /// Sets type, code and the 4 bytes of rest.
    #[inline]
    pub fn set_header(&mut self, msg_type: u8, code: u8, rest: u32) {
        let b = self.buf.as_mut();
        b[field::ICMP_TYPE] = msg_type;
        b[field::ICMP_CODE] = code;
        b[field::ICMP_REST..field::ICMP_REST + 4].copy_from_slice(&rest.to_be_bytes());
    }
    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::ICMP_CHECKSUM, v);
    }
    /// Computes the checksum over the whole buffer plus `pseudo` (the
    /// pseudo-header's sum for ICMPv6, 0 for ICMPv4) and stores it.
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let c = checksum::finish(pseudo + checksum::sum(self.buf.as_ref()));
        self.set_checksum(c);
    }
    /// Rewrites an echo message to type `msg_type` and identifier `ident`,
    /// adjusting the checksum for those and for the pseudo-header sums
    /// `ph_old` → `ph_new` (ICMPv6 has a pseudo-header, ICMPv4 none; RFC
    /// 7915 §4.2, §5.2).
    #[inline]
    pub fn rewrite_echo(&mut self, msg_type: u8, ident: u16, ph_old: u32, ph_new: u32) {
        let b = self.buf.as_mut();
        let old_id = get16(b, field::ICMP_REST);
        let old_type = u32::from(get16(b, field::ICMP_TYPE));
        b[field::ICMP_TYPE] = msg_type;
        let new_type = u32::from(get16(b, field::ICMP_TYPE));
        set16(b, field::ICMP_REST, ident);
        let old = ph_old + old_type + u32::from(old_id);
        let new = ph_new + new_type + u32::from(ident);
        let c = checksum::adjust(get16(b, field::ICMP_CHECKSUM), old, new);
        set16(b, field::ICMP_CHECKSUM, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                UdpPacket::new_checked(&mut *l4).unwrap().rewrite_ports(
                    (61000, 80),
                    sum(s4, d4),
                    sum(s4b, d4b),
                    false,
                );
                assert_eq!(
                    UdpPacket::new_unchecked(&*l4).checksum(),
                    UdpPacket::new_unchecked(&after[20..]).checksum()
                );
            } else {
                TcpPacket::new_checked(&mut *l4).unwrap().rewrite_ports(
                    (61000, 80),
                    sum(s4, d4),
                    sum(s4b, d4b),
                    false,
                );
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
        UdpPacket::new_unchecked(&mut h[..]).rewrite_ports((1, 2), 10, 20, false);
        assert_eq!(h, [0, 1, 0, 2, 0, 8, 0, 0]);
        // Inside an ICMP error: 4 bytes of a TCP header.
        let mut cut = [0x9c, 0x40, 0, 80];
        TcpPacket::new_unchecked(&mut cut[..]).rewrite_ports((5, 6), 10, 20, false);
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
