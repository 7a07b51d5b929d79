//! ICMP errors the translator itself sends back (req N3, N4, N6, N7, N13),
//! built in the packet's own buffer: the new headers go in the headroom in
//! front of the offending packet, which becomes the quoted part, cut to the
//! size limit (1280 bytes for ICMPv6, RFC 4443 §2.4(c); 576 for ICMPv4,
//! RFC 1812 §4.3.2.3).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::stats::DropReason;
use crate::verdict::Verdict;
use crate::wire::checksum;
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv6::{self, Ipv6Packet, proto};
use crate::wire::l4;

/// Largest ICMPv6 error (RFC 4443 §2.4(c): the IPv6 minimum MTU).
pub(crate) const ICMP6_ERROR_MAX: usize = 1280;
/// Largest ICMPv4 error (RFC 1812 §4.3.2.3).
pub(crate) const ICMP4_ERROR_MAX: usize = 576;

/// ICMPv6 types and codes (RFC 4443).
pub(crate) mod icmp6 {
    pub(crate) const PACKET_TOO_BIG: u8 = 2;
    pub(crate) const TIME_EXCEEDED: u8 = 3;
    pub(crate) const PARAM_PROBLEM: u8 = 4;
    pub(crate) const ECHO_REQUEST: u8 = 128;
    pub(crate) const ECHO_REPLY: u8 = 129;
}

/// ICMPv4 types and codes (RFC 792).
pub(crate) mod icmp4 {
    pub(crate) const ECHO_REPLY: u8 = 0;
    pub(crate) const DEST_UNREACHABLE: u8 = 3;
    pub(crate) const FRAG_NEEDED: u8 = 4;
    pub(crate) const ECHO_REQUEST: u8 = 8;
    pub(crate) const TIME_EXCEEDED: u8 = 11;
    pub(crate) const PARAM_PROBLEM: u8 = 12;
}

/// Whether an ICMPv6 error may be sent about a packet from `src`
/// (RFC 4443 §2.4(e): never to an unspecified or multicast source).
fn may_answer6(src: Ipv6Addr) -> bool {
    !src.is_unspecified() && !src.is_multicast()
}

/// Whether an ICMPv4 error may be sent about a packet from `src`
/// (RFC 1812 §4.3.2.7).
fn may_answer4(src: Ipv4Addr) -> bool {
    !src.is_unspecified() && !src.is_multicast() && !src.is_broadcast()
}

/// Builds an ICMPv6 error of `typ`/`code` with the 4-byte field `rest`,
/// quoting `buf[start..start + len]`, from `from` to the packet's source.
pub(crate) fn icmp6_error(
    buf: &mut [u8],
    start: usize,
    len: usize,
    from: Ipv6Addr,
    typ: u8,
    code: u8,
    rest: u32,
) -> Result<Verdict, DropReason> {
    let to = Ipv6Packet::new_unchecked(&buf[start..start + len]).src();
    if !may_answer6(to) {
        return Err(DropReason::ErrorToInvalidSource);
    }
    let head = ipv6::HEADER_LEN + l4::ICMP_HEADER_LEN;
    let Some(new_start) = start.checked_sub(head) else {
        return Err(DropReason::NoHeadroom);
    };
    let quote = len.min(ICMP6_ERROR_MAX - head);
    let msg_len = l4::ICMP_HEADER_LEN + quote;
    let icmp = &mut buf[start - l4::ICMP_HEADER_LEN..start + quote];
    icmp[0] = typ;
    icmp[1] = code;
    l4::set16(icmp, l4::ICMP_CHECKSUM, 0);
    icmp[4..8].copy_from_slice(&rest.to_be_bytes());
    let msg_len32 = u32::try_from(msg_len).map_err(|_| DropReason::TooBig)?;
    let c = checksum::finish(
        checksum::pseudo_v6(from, to, proto::ICMPV6, msg_len32) + checksum::sum(icmp),
    );
    l4::set16(icmp, l4::ICMP_CHECKSUM, c);
    let plen = u16::try_from(msg_len).map_err(|_| DropReason::TooBig)?;
    Ipv6Packet::new_unchecked(&mut buf[new_start..start]).write_header(
        0,
        plen,
        proto::ICMPV6,
        64,
        from,
        to,
    );
    Ok(Verdict::Reply {
        start: new_start,
        len: head + quote,
    })
}

/// Builds an ICMPv4 error of `typ`/`code` with the 4-byte field `rest`,
/// quoting `buf[start..start + len]`, from `from` to the packet's source.
#[allow(clippy::too_many_arguments)]
pub(crate) fn icmp4_error(
    buf: &mut [u8],
    start: usize,
    len: usize,
    from: Ipv4Addr,
    ident: u16,
    typ: u8,
    code: u8,
    rest: u32,
) -> Result<Verdict, DropReason> {
    let to = Ipv4Packet::new_unchecked(&buf[start..start + len]).src();
    if !may_answer4(to) {
        return Err(DropReason::ErrorToInvalidSource);
    }
    let head = ipv4::HEADER_LEN + l4::ICMP_HEADER_LEN;
    let Some(new_start) = start.checked_sub(head) else {
        return Err(DropReason::NoHeadroom);
    };
    let quote = len.min(ICMP4_ERROR_MAX - head);
    let icmp = &mut buf[start - l4::ICMP_HEADER_LEN..start + quote];
    icmp[0] = typ;
    icmp[1] = code;
    l4::set16(icmp, l4::ICMP_CHECKSUM, 0);
    icmp[4..8].copy_from_slice(&rest.to_be_bytes());
    let c = checksum::finish(checksum::sum(icmp));
    l4::set16(icmp, l4::ICMP_CHECKSUM, c);
    let total = u16::try_from(head + quote).map_err(|_| DropReason::TooBig)?;
    Ipv4Packet::new_unchecked(&mut buf[new_start..start - l4::ICMP_HEADER_LEN]).write_header(
        0,
        total,
        ident,
        false,
        false,
        0,
        64,
        proto::ICMP,
        from,
        to,
    );
    Ok(Verdict::Reply {
        start: new_start,
        len: head + quote,
    })
}
