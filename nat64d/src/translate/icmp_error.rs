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

use super::icmp_map::{map_4to6, map_6to4};
use super::own_errors::{ICMP4_ERROR_MAX, ICMP6_ERROR_MAX};
use super::{Config, Flow4, Flow6, Kind, Map4, Map6};
use crate::flow::Proto;
use crate::stats::DropReason;
use crate::verdict::Verdict;
use crate::wire::checksum;
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv6::{self, FragHeader, Ipv6Packet, proto, write_frag_header};
use crate::wire::transport::{ICMP_HEADER_LEN, IcmpPacket, PortRewrite, TcpPacket, icmp4, icmp6};

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
    ports: [(u16, u16); 2],
    sums: QuotedSums,
    echo_type: u8,
) {
    let [old_ports, new_ports] = ports;
    match proto {
        Proto::Tcp | Proto::Udp => {
            let r = PortRewrite {
                old_ports,
                new_ports,
                addr_old: sums.addr_old,
                addr_new: sums.addr_new,
                partial: false,
            };
            super::rewrite_ports(data, proto, &r);
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
        [
            (inner.src_port, inner.dst_port),
            (map.dst_port, map.src_port),
        ],
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
        [
            (inner.src_port, inner.dst_port),
            (map.dst_port, map.src_port),
        ],
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
