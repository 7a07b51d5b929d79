//! ICMP error translation with the quoted packet (req N11, N12; RFC 7915
//! §4.2, §4.3, §5.2, §5.3).
//!
//! The quoted packet is read leniently (it may be cut short), translated
//! once (an error quoting an error is dropped), and its transport fields
//! rewritten only as far as they arrived. The quoted transport data stays
//! where it is; the new headers are written in front of it. The error's own
//! checksum is verified first and then recomputed, so a bad one stays
//! refused rather than repaired.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::own_errors::{ICMP4_ERROR_MAX, ICMP6_ERROR_MAX};
use super::{Config, Flow4, Flow6, Kind, Map4, Map6};
use crate::flow::Proto;
use crate::stats::DropReason;
use crate::verdict::Verdict;
use crate::wire::checksum;
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv6::{self, FragHeader, Ipv6Packet, proto, write_frag_header};
use crate::wire::transport::{ICMP_HEADER_LEN, IcmpPacket, TcpPacket, icmp4, icmp6};

/// The packet quoted in an ICMPv6 error.
#[derive(Debug, Clone, Copy)]
pub(super) struct Inner6 {
    pub(super) proto: Proto,
    pub(super) src: Ipv6Addr,
    pub(super) dst: Ipv6Addr,
    pub(super) src_port: u16,
    pub(super) dst_port: u16,
    /// Offset of the transport header within the ICMPv6 body.
    upper_at: usize,
    /// The transport length the quoted packet had before it was cut.
    upper_len: usize,
    frag: Option<FragHeader>,
    hop_limit: u8,
    traffic_class: u8,
    /// ICMP type of a quoted echo message.
    echo_type: u8,
}

/// The packet quoted in an ICMPv4 error.
#[derive(Debug, Clone, Copy)]
pub(super) struct Inner4 {
    pub(super) proto: Proto,
    pub(super) src: Ipv4Addr,
    pub(super) dst: Ipv4Addr,
    pub(super) src_port: u16,
    pub(super) dst_port: u16,
    /// Offset of the transport header within the ICMPv4 body (the IHL).
    upper_at: usize,
    /// The total length the quoted packet had before it was cut.
    total_len: usize,
    ident: u16,
    more_frags: bool,
    frag_offset: u16,
    ttl: u8,
    tos: u8,
    echo_type: u8,
}

/// Ports, or the echo identifier twice, of a quoted transport header; and
/// the echo type. Only the first 4 (TCP, UDP) or 8 (ICMP) bytes are needed.
fn quoted_ports(proto: Proto, data: &[u8], echo: [u8; 2]) -> Result<(u16, u16, u8), DropReason> {
    match proto {
        Proto::Tcp | Proto::Udp => {
            // The ports are all a quoted header must carry (req N12); they
            // sit where TCP's and UDP's do.
            if data.len() < 4 {
                return Err(DropReason::TruncatedInner);
            }
            let t = TcpPacket::new_unchecked(data);
            Ok((t.src_port(), t.dst_port(), 0))
        }
        Proto::Icmp => {
            let icmp = IcmpPacket::new_checked(data).map_err(|_| DropReason::TruncatedInner)?;
            let typ = icmp.msg_type();
            if !echo.contains(&typ) {
                return Err(DropReason::IcmpErrorInError);
            }
            let id = icmp.echo_ident();
            Ok((id, id, typ))
        }
    }
}

/// Reads the packet quoted in an ICMPv6 error body.
pub(super) fn inner6(body: &[u8]) -> Result<Inner6, DropReason> {
    let ip = Ipv6Packet::new_truncated(body)?;
    let h = ip.walk().map_err(|_| DropReason::TruncatedInner)?;
    if h.frag.is_some_and(|f| !f.is_first()) {
        return Err(DropReason::InnerFragment);
    }
    let proto = match h.upper {
        proto::TCP => Proto::Tcp,
        proto::UDP => Proto::Udp,
        proto::ICMPV6 => Proto::Icmp,
        _ => return Err(DropReason::UnsupportedProtocol),
    };
    let data = body
        .get(h.upper_offset..)
        .ok_or(DropReason::TruncatedInner)?;
    let (src_port, dst_port, echo_type) =
        quoted_ports(proto, data, [icmp6::ECHO_REQUEST, icmp6::ECHO_REPLY])?;
    Ok(Inner6 {
        proto,
        src: ip.src(),
        dst: ip.dst(),
        src_port,
        dst_port,
        upper_at: h.upper_offset,
        upper_len: ip.total_len().saturating_sub(h.upper_offset),
        frag: h.frag,
        hop_limit: ip.hop_limit(),
        traffic_class: ip.traffic_class(),
        echo_type,
    })
}

/// Reads the packet quoted in an ICMPv4 error body.
pub(super) fn inner4(body: &[u8]) -> Result<Inner4, DropReason> {
    let ip = Ipv4Packet::new_truncated(body)?;
    if ip.frag_offset() != 0 {
        return Err(DropReason::InnerFragment);
    }
    let proto = match ip.protocol() {
        proto::TCP => Proto::Tcp,
        proto::UDP => Proto::Udp,
        proto::ICMP => Proto::Icmp,
        _ => return Err(DropReason::UnsupportedProtocol),
    };
    let (src_port, dst_port, echo_type) = quoted_ports(
        proto,
        ip.payload(),
        [icmp4::ECHO_REQUEST, icmp4::ECHO_REPLY],
    )?;
    Ok(Inner4 {
        proto,
        src: ip.src(),
        dst: ip.dst(),
        src_port,
        dst_port,
        upper_at: ip.header_len(),
        total_len: usize::from(ip.total_len()),
        ident: ip.ident(),
        more_frags: ip.more_frags(),
        frag_offset: ip.frag_offset(),
        ttl: ip.ttl(),
        tos: ip.tos(),
        echo_type,
    })
}

/// The reversed flow of an ICMPv6 error: the session of the quoted packet,
/// as seen by a packet travelling with the error.
pub(super) fn flow6_of_error(outer: &mut Flow6, icmp: &[u8], plen: u32) -> Result<(), DropReason> {
    let valid = checksum::fold(
        checksum::pseudo_v6(outer.src, outer.dst, proto::ICMPV6, plen) + checksum::sum(icmp),
    );
    if valid != 0xffff {
        return Err(DropReason::BadIcmpChecksum);
    }
    let inner = inner6(&icmp[ICMP_HEADER_LEN..])?;
    outer.kind = Kind::Error;
    outer.error_src = outer.src;
    outer.src = inner.dst;
    outer.dst = inner.src;
    outer.proto = inner.proto;
    outer.src_port = inner.dst_port;
    outer.dst_port = inner.src_port;
    Ok(())
}

/// The reversed flow of an ICMPv4 error (see [`flow6_of_error`]).
pub(super) fn flow4_of_error(outer: &mut Flow4, icmp: &[u8]) -> Result<(), DropReason> {
    if checksum::fold(checksum::sum(icmp)) != 0xffff {
        return Err(DropReason::BadIcmpChecksum);
    }
    let inner = inner4(&icmp[ICMP_HEADER_LEN..])?;
    outer.kind = Kind::Error;
    outer.error_src = outer.src;
    outer.src = inner.dst;
    outer.dst = inner.src;
    outer.proto = inner.proto;
    outer.src_port = inner.dst_port;
    outer.dst_port = inner.src_port;
    Ok(())
}

/// RFC 7915 §5.2 Figure 6: IPv6 header pointer → IPv4 header pointer.
fn pointer_6to4(p: u32) -> Option<u8> {
    Some(match p {
        0 => 0,
        1 => 1,
        4 | 5 => 2,
        6 => 9,
        7 => 8,
        8..=23 => 12,
        24..=39 => 16,
        _ => return None,
    })
}

/// RFC 7915 §4.2 Figure 3: IPv4 header pointer → IPv6 header pointer.
fn pointer_4to6(p: u8) -> Option<u32> {
    Some(match p {
        0 => 0,
        1 => 1,
        2 | 3 => 4,
        8 => 7,
        9 => 6,
        12..=15 => 8,
        16..=19 => 24,
        _ => return None,
    })
}

/// RFC 1191 §7 plateau table, for a Fragmentation Needed without an MTU.
const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// The largest plateau below the length of the packet that did not fit.
fn plateau_below(len: usize) -> u16 {
    PLATEAUS
        .iter()
        .copied()
        .find(|&p| usize::from(p) < len)
        .unwrap_or(68)
}

/// ICMPv6 error type/code/rest → ICMPv4 (RFC 7915 §5.2).
fn map_6to4(
    typ: u8,
    code: u8,
    rest: [u8; 4],
    cfg: &Config,
) -> Result<(u8, u8, [u8; 4]), DropReason> {
    let untranslatable = Err(DropReason::IcmpUntranslatable);
    match typ {
        icmp6::DEST_UNREACHABLE => {
            use icmp4::unreachable as u4;
            use icmp6::unreachable as u6;
            let c = match code {
                u6::NO_ROUTE | u6::BEYOND_SCOPE | u6::ADDRESS => u4::HOST,
                u6::ADMIN_PROHIBITED => u4::HOST_PROHIBITED,
                u6::PORT => u4::PORT,
                _ => return untranslatable,
            };
            Ok((icmp4::DEST_UNREACHABLE, c, [0; 4]))
        }
        icmp6::PACKET_TOO_BIG => {
            let mtu6 = u32::from_be_bytes(rest);
            let mtu = mtu6.saturating_sub(20).min(u32::from(cfg.ipv4_mtu));
            let [_, _, hi, lo] = mtu.min(0xffff).to_be_bytes();
            Ok((
                icmp4::DEST_UNREACHABLE,
                icmp4::unreachable::FRAG_NEEDED,
                [0, 0, hi, lo],
            ))
        }
        icmp6::TIME_EXCEEDED => Ok((icmp4::TIME_EXCEEDED, code, [0; 4])),
        icmp6::PARAM_PROBLEM => match code {
            icmp6::param_problem::HEADER_FIELD => {
                let p = pointer_6to4(u32::from_be_bytes(rest))
                    .ok_or(DropReason::UntranslatablePointer)?;
                Ok((
                    icmp4::PARAM_PROBLEM,
                    icmp4::param_problem::POINTER,
                    [p, 0, 0, 0],
                ))
            }
            icmp6::param_problem::NEXT_HEADER => Ok((
                icmp4::DEST_UNREACHABLE,
                icmp4::unreachable::PROTOCOL,
                [0; 4],
            )),
            _ => untranslatable,
        },
        _ => untranslatable,
    }
}

/// ICMPv4 error type/code/rest → ICMPv6 (RFC 7915 §4.2). `quoted_len` is
/// the total length of the quoted packet, for the plateau estimate.
fn map_4to6(
    typ: u8,
    code: u8,
    rest: [u8; 4],
    quoted_len: usize,
) -> Result<(u8, u8, [u8; 4]), DropReason> {
    use icmp4::unreachable as u4;
    use icmp6::unreachable as u6;
    let untranslatable = Err(DropReason::IcmpUntranslatable);
    match typ {
        icmp4::DEST_UNREACHABLE => match code {
            u4::NET
            | u4::HOST
            | u4::SOURCE_ROUTE_FAILED..=u4::SOURCE_ISOLATED
            | u4::NET_TOS
            | u4::HOST_TOS => Ok((icmp6::DEST_UNREACHABLE, u6::NO_ROUTE, [0; 4])),
            u4::NET_PROHIBITED
            | u4::HOST_PROHIBITED
            | u4::ADMIN_PROHIBITED
            | u4::PRECEDENCE_CUTOFF => Ok((icmp6::DEST_UNREACHABLE, u6::ADMIN_PROHIBITED, [0; 4])),
            u4::PORT => Ok((icmp6::DEST_UNREACHABLE, u6::PORT, [0; 4])),
            // Pointer to the Next Header field.
            u4::PROTOCOL => Ok((
                icmp6::PARAM_PROBLEM,
                icmp6::param_problem::NEXT_HEADER,
                6u32.to_be_bytes(),
            )),
            u4::FRAG_NEEDED => {
                let reported = u16::from_be_bytes([rest[2], rest[3]]);
                let mtu4 = if reported == 0 {
                    plateau_below(quoted_len)
                } else {
                    reported
                };
                let mtu6 = (u32::from(mtu4) + 20).max(1280);
                Ok((icmp6::PACKET_TOO_BIG, 0, mtu6.to_be_bytes()))
            }
            _ => untranslatable,
        },
        icmp4::TIME_EXCEEDED => Ok((icmp6::TIME_EXCEEDED, code, [0; 4])),
        icmp4::PARAM_PROBLEM => match code {
            icmp4::param_problem::POINTER | icmp4::param_problem::BAD_LENGTH => {
                let p = pointer_4to6(rest[0]).ok_or(DropReason::UntranslatablePointer)?;
                Ok((
                    icmp6::PARAM_PROBLEM,
                    icmp6::param_problem::HEADER_FIELD,
                    p.to_be_bytes(),
                ))
            }
            _ => untranslatable,
        },
        _ => untranslatable,
    }
}

/// The checksum sums a quoted header's rewrite changes: the addresses'
/// (old and new) and, for ICMP, the pseudo-header's (ICMPv6 has one,
/// ICMPv4 none).
#[derive(Debug, Clone, Copy)]
struct QuotedSums {
    addr_old: u32,
    addr_new: u32,
    ph_old: u32,
    ph_new: u32,
}

/// Rewrites the quoted transport header's ports (or echo identifier and
/// type `echo_type`) and adjusts its checksum, as far as the bytes arrived.
fn rewrite_quoted(
    data: &mut [u8],
    proto: Proto,
    new_ports: (u16, u16),
    sums: QuotedSums,
    echo_type: u8,
) {
    match proto {
        Proto::Tcp | Proto::Udp => {
            super::rewrite_ports(data, proto, new_ports, sums.addr_old, sums.addr_new, false);
        }
        Proto::Icmp => IcmpPacket::new_unchecked(data).rewrite_echo(
            echo_type,
            new_ports.0,
            sums.ph_old,
            sums.ph_new,
        ),
    }
}

/// Translates an ICMPv6 error (a [`Kind::Error`] flow from `inspect6`) to
/// ICMPv4. `map` is the session's mapping, as for data in this direction:
/// the error goes from `map.src` (the binding's pool address) to `map.dst`,
/// and the quoted packet from `map.dst:map.dst_port` to
/// `map.src:map.src_port`.
pub(super) fn translate6_error(
    buf: &mut [u8],
    start: usize,
    flow: &Flow6,
    map: &Map4,
    cfg: &Config,
    ident: u16,
) -> Result<Verdict, DropReason> {
    if flow.hop_limit <= 1 {
        return Err(DropReason::ErrorHopLimitExpired);
    }
    let end = start + flow.len;
    let icmp_at = start + flow.upper_offset;
    let body_at = icmp_at + ICMP_HEADER_LEN;
    let (typ, code) = (buf[icmp_at], buf[icmp_at + 1]);
    let rest = [
        buf[icmp_at + 4],
        buf[icmp_at + 5],
        buf[icmp_at + 6],
        buf[icmp_at + 7],
    ];
    let (t4, c4, rest4) = map_6to4(typ, code, rest, cfg)?;
    let inner = inner6(&buf[body_at..end])?;
    let upper = body_at + inner.upper_at;
    let head = ipv4::HEADER_LEN + ICMP_HEADER_LEN + ipv4::HEADER_LEN;
    let data_len = (end - upper).min(ICMP4_ERROR_MAX - head);

    // The quoted packet went map.dst → map.src in IPv4 terms.
    let ulen = u32::try_from(inner.upper_len).map_err(|_| DropReason::TooBig)?;
    let echo = if inner.echo_type == icmp6::ECHO_REQUEST {
        icmp4::ECHO_REQUEST
    } else {
        icmp4::ECHO_REPLY
    };
    let sums = QuotedSums {
        addr_old: checksum::sum_v6(inner.src) + checksum::sum_v6(inner.dst),
        addr_new: checksum::sum_v4(map.dst) + checksum::sum_v4(map.src),
        ph_old: checksum::pseudo_v6(inner.src, inner.dst, proto::ICMPV6, ulen),
        ph_new: 0,
    };
    rewrite_quoted(
        &mut buf[upper..upper + data_len],
        inner.proto,
        (map.dst_port, map.src_port),
        sums,
        echo,
    );
    let inner_total = u16::try_from(ipv4::HEADER_LEN + inner.upper_len).unwrap_or(u16::MAX);
    let (dont_frag, q_ident, more) = match inner.frag {
        Some(f) => (false, f.ident() as u16, f.more()),
        None => (usize::from(inner_total) > 1260, 0, false),
    };
    let protocol = inner.proto.number4();
    let tos = |tc| if cfg.zero_tos { 0 } else { tc };
    Ipv4Packet::new_unchecked(&mut buf[upper - ipv4::HEADER_LEN..upper]).write_header(
        tos(inner.traffic_class),
        inner_total,
        q_ident,
        dont_frag,
        more,
        0,
        inner.hop_limit,
        protocol,
        map.dst,
        map.src,
    );
    let icmp_start = upper - ipv4::HEADER_LEN - ICMP_HEADER_LEN;
    let mut icmp = IcmpPacket::new_unchecked(&mut buf[icmp_start..upper + data_len]);
    icmp.set_header(t4, c4, u32::from_be_bytes(rest4));
    icmp.fill_checksum(0);
    let new_start = upper - head;
    let total = head + data_len;
    Ipv4Packet::new_unchecked(&mut buf[new_start..icmp_start]).write_header(
        tos(flow.traffic_class),
        u16::try_from(total).map_err(|_| DropReason::TooBig)?,
        ident,
        false,
        false,
        0,
        flow.hop_limit - 1,
        proto::ICMP,
        map.src,
        map.dst,
    );
    Ok(Verdict::Forward {
        start: new_start,
        len: total,
    })
}

/// Translates an ICMPv4 error (a [`Kind::Error`] flow from `inspect4`) to
/// ICMPv6. `map` is the session's mapping, as for data in this direction:
/// the error goes to `map.dst` and the quoted packet from
/// `map.dst:map.dst_port` to `map.src:map.src_port`. `outer_src` is the
/// IPv4 address of the node that sent the error, embedded in the prefix.
pub fn translate4_error(
    buf: &mut [u8],
    start: usize,
    flow: &Flow4,
    map: &Map6,
    outer_src: Ipv6Addr,
    cfg: &Config,
) -> Result<Verdict, DropReason> {
    if flow.ttl <= 1 {
        return Err(DropReason::ErrorHopLimitExpired);
    }
    let end = start + flow.len;
    let icmp_at = start + flow.header_len;
    let body_at = icmp_at + ICMP_HEADER_LEN;
    let (typ, code) = (buf[icmp_at], buf[icmp_at + 1]);
    let rest = [
        buf[icmp_at + 4],
        buf[icmp_at + 5],
        buf[icmp_at + 6],
        buf[icmp_at + 7],
    ];
    let inner = inner4(&buf[body_at..end])?;
    let (t6, c6, rest6) = map_4to6(typ, code, rest, inner.total_len)?;
    let upper = body_at + inner.upper_at;
    let is_frag = inner.more_frags || inner.frag_offset != 0;
    let frag_len = if is_frag { ipv6::FRAG_HEADER_LEN } else { 0 };
    let head = ipv6::HEADER_LEN + ICMP_HEADER_LEN + ipv6::HEADER_LEN + frag_len;
    let Some(new_start) = upper.checked_sub(head) else {
        return Err(DropReason::NoHeadroom);
    };
    let data_len = (end - upper).min(ICMP6_ERROR_MAX - head);

    // The quoted packet went map.dst → map.src in IPv6 terms.
    let upper_len = inner.total_len.saturating_sub(inner.upper_at);
    let ulen = u32::try_from(upper_len).map_err(|_| DropReason::TooBig)?;
    let echo = if inner.echo_type == icmp4::ECHO_REQUEST {
        icmp6::ECHO_REQUEST
    } else {
        icmp6::ECHO_REPLY
    };
    let sums = QuotedSums {
        addr_old: checksum::sum_v4(inner.src) + checksum::sum_v4(inner.dst),
        addr_new: checksum::sum_v6(map.dst) + checksum::sum_v6(map.src),
        ph_old: 0,
        ph_new: checksum::pseudo_v6(map.dst, map.src, proto::ICMPV6, ulen),
    };
    rewrite_quoted(
        &mut buf[upper..upper + data_len],
        inner.proto,
        (map.dst_port, map.src_port),
        sums,
        echo,
    );
    let next = inner.proto.number6();
    let inner6_at = upper - frag_len - ipv6::HEADER_LEN;
    let first_next = if is_frag {
        let frag = FragHeader::new(inner.frag_offset, inner.more_frags, u32::from(inner.ident));
        write_frag_header(&mut buf[upper - frag_len..upper], next, frag);
        proto::FRAGMENT
    } else {
        next
    };
    let tc = |t| if cfg.zero_tos { 0 } else { t };
    let inner_plen = u16::try_from(frag_len + upper_len).unwrap_or(u16::MAX);
    Ipv6Packet::new_unchecked(&mut buf[inner6_at..upper - frag_len]).write_header(
        tc(inner.tos),
        inner_plen,
        first_next,
        inner.ttl,
        map.dst,
        map.src,
    );

    let icmp_start = inner6_at - ICMP_HEADER_LEN;
    let msg_len = end.min(upper + data_len) - icmp_start;
    let mlen = u32::try_from(msg_len).map_err(|_| DropReason::TooBig)?;
    let mut icmp = IcmpPacket::new_unchecked(&mut buf[icmp_start..icmp_start + msg_len]);
    icmp.set_header(t6, c6, u32::from_be_bytes(rest6));
    icmp.fill_checksum(checksum::pseudo_v6(outer_src, map.dst, proto::ICMPV6, mlen));
    Ipv6Packet::new_unchecked(&mut buf[new_start..icmp_start]).write_header(
        tc(flow.tos),
        u16::try_from(msg_len).map_err(|_| DropReason::TooBig)?,
        proto::ICMPV6,
        flow.ttl - 1,
        outer_src,
        map.dst,
    );
    Ok(Verdict::Forward {
        start: new_start,
        len: ipv6::HEADER_LEN + msg_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n11_pointer_tables() {
        assert_eq!(pointer_6to4(7), Some(8));
        assert_eq!(pointer_6to4(24), Some(16));
        assert_eq!(pointer_6to4(2), None);
        assert_eq!(pointer_4to6(9), Some(6));
        assert_eq!(pointer_4to6(16), Some(24));
        assert_eq!(pointer_4to6(10), None);
    }

    #[test]
    fn n11_plateaus() {
        assert_eq!(plateau_below(1500), 1492);
        assert_eq!(plateau_below(1492), 1006);
        assert_eq!(plateau_below(9000), 8166);
        assert_eq!(plateau_below(60), 68);
    }
}
