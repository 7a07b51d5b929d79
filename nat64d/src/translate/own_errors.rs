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
use crate::wire::transport::{ICMP_HEADER_LEN, IcmpMessage, IcmpPacket};

/// Largest ICMPv6 error (RFC 4443 §2.4(c): the IPv6 minimum MTU).
pub(crate) const ICMP6_ERROR_MAX: usize = 1280;
/// Largest ICMPv4 error (RFC 1812 §4.3.2.3).
pub(crate) const ICMP4_ERROR_MAX: usize = 576;

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

/// Builds the ICMPv6 error `msg`, quoting `buf[start..start + len]`, from
/// `from` to the packet's source.
pub(crate) fn icmp6_error(
    buf: &mut [u8],
    start: usize,
    len: usize,
    from: Ipv6Addr,
    msg: IcmpMessage,
) -> Result<Verdict, DropReason> {
    let to = Ipv6Packet::new_unchecked(&buf[start..start + len]).src();
    if !may_answer6(to) {
        return Err(DropReason::ErrorToInvalidSource);
    }
    let head = ipv6::HEADER_LEN + ICMP_HEADER_LEN;
    let Some(new_start) = start.checked_sub(head) else {
        return Err(DropReason::NoHeadroom);
    };
    let quote = len.min(ICMP6_ERROR_MAX - head);
    let msg_len = ICMP_HEADER_LEN + quote;
    let msg_len32 = u32::try_from(msg_len).map_err(|_| DropReason::TooBig)?;
    let mut icmp = IcmpPacket::new_unchecked(&mut buf[start - ICMP_HEADER_LEN..start + quote]);
    icmp.set_header(msg.msg_type, msg.code, msg.rest);
    icmp.fill_checksum(checksum::pseudo_v6(from, to, proto::ICMPV6, msg_len32));
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

/// Builds the ICMPv4 error `msg`, quoting `buf[start..start + len]`, from
/// `from` to the packet's source, with IPv4 Identification `ident`.
pub(crate) fn icmp4_error(
    buf: &mut [u8],
    start: usize,
    len: usize,
    from: Ipv4Addr,
    ident: u16,
    msg: IcmpMessage,
) -> Result<Verdict, DropReason> {
    let to = Ipv4Packet::new_unchecked(&buf[start..start + len]).src();
    if !may_answer4(to) {
        return Err(DropReason::ErrorToInvalidSource);
    }
    let head = ipv4::HEADER_LEN + ICMP_HEADER_LEN;
    let Some(new_start) = start.checked_sub(head) else {
        return Err(DropReason::NoHeadroom);
    };
    let quote = len.min(ICMP4_ERROR_MAX - head);
    let mut icmp = IcmpPacket::new_unchecked(&mut buf[start - ICMP_HEADER_LEN..start + quote]);
    icmp.set_header(msg.msg_type, msg.code, msg.rest);
    icmp.fill_checksum(0);
    let total = u16::try_from(head + quote).map_err(|_| DropReason::TooBig)?;
    Ipv4Packet::new_unchecked(&mut buf[new_start..start - ICMP_HEADER_LEN]).write_header(
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
