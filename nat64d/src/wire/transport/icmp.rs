//! ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) headers, and their types and
//! codes by name.

use super::field;
use super::{get16, set16};
use crate::stats::DropReason;
use crate::wire::checksum;

use super::ICMP_HEADER_LEN;

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
    #[inline]
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
