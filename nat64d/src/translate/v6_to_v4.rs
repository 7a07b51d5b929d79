//! IPv6 → IPv4 (RFC 7915 §5).

use std::net::Ipv6Addr;

use super::icmp_error;
use super::own_errors;
use super::{Config, Kind, Map4};
use crate::flow::Proto;
use crate::offload::Offload;
use crate::stats::DropReason;
use crate::verdict::Verdict;
use crate::wire::checksum;
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv6::{FragHeader, Ipv6Packet, proto};
use crate::wire::transport::{
    IcmpMessage, IcmpPacket, PortRewrite, TcpPacket, UDP_HEADER_LEN, UdpPacket, icmp4, icmp6,
};

/// An IPv6 packet, read once: what the state layer needs to find or create
/// its session, and the offsets [`translate6`] rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow6 {
    /// Transport protocol.
    pub proto: Proto,
    /// Data, echo request or echo reply.
    pub kind: Kind,
    /// Source address (for [`Kind::Error`]: the quoted packet's
    /// destination, so that the flow is the session's).
    pub src: Ipv6Addr,
    /// Destination address (for [`Kind::Error`]: the quoted packet's
    /// source).
    pub dst: Ipv6Addr,
    /// For [`Kind::Error`]: the node that sent the error (the packet's real
    /// source); otherwise the same as `src`.
    pub error_src: Ipv6Addr,
    /// Source port, or the ICMP identifier; 0 in a non-first fragment.
    pub src_port: u16,
    /// Destination port, or the ICMP identifier; 0 in a non-first fragment.
    pub dst_port: u16,
    /// TCP flags (0 for other protocols and non-first fragments).
    pub tcp_flags: u8,
    /// The Fragment header, if any.
    pub frag: Option<FragHeader>,
    /// Hop Limit.
    pub hop_limit: u8,
    /// Traffic Class.
    pub traffic_class: u8,
    /// Offset of a non-zero Segments Left field (answered with Parameter
    /// Problem, req N1).
    pub routing_pointer: Option<usize>,
    /// Offset of the transport header from the start of the packet.
    pub upper_offset: usize,
    /// Length of the packet (the IPv6 payload length plus 40).
    pub len: usize,
    /// How the packet came off the TUN (super-packet, partial checksum);
    /// [`inspect6`] says "plain", the caller sets what the device said.
    pub offload: Offload,
}

impl Flow6 {
    /// Whether this packet carries the transport header (not a non-first
    /// fragment).
    pub fn has_transport_header(&self) -> bool {
        self.frag.is_none_or(|f| f.is_first())
    }
}

/// Reads an untrusted IPv6 packet (RFC 7915 §5.1): the header, the
/// extension headers, and the transport header the translator rewrites.
#[inline(always)]
pub fn inspect6(pkt: &[u8]) -> Result<Flow6, DropReason> {
    let ip = Ipv6Packet::new_checked(pkt)?;
    let h = ip.walk()?;
    let len = ip.total_len();
    let proto = match h.upper {
        proto::TCP => Proto::Tcp,
        proto::UDP => Proto::Udp,
        proto::ICMPV6 => Proto::Icmp,
        proto::NO_NEXT => return Err(DropReason::NoNextHeader),
        _ => return Err(DropReason::UnsupportedProtocol),
    };
    let mut flow = Flow6 {
        proto,
        kind: Kind::Data,
        src: ip.src(),
        dst: ip.dst(),
        error_src: ip.src(),
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        frag: h.frag,
        hop_limit: ip.hop_limit(),
        traffic_class: ip.traffic_class(),
        routing_pointer: h.routing_pointer,
        upper_offset: h.upper_offset,
        len,
        offload: Offload::default(),
    };
    let first = flow.has_transport_header();
    let data = &pkt[h.upper_offset..len];
    if proto == Proto::Icmp {
        if !first || h.frag.is_some_and(|f| f.more()) {
            return Err(DropReason::IcmpFragmented);
        }
        let icmp = IcmpPacket::new_checked(data)?;
        flow.kind = match icmp.msg_type() {
            icmp6::ECHO_REQUEST => Kind::EchoRequest,
            icmp6::ECHO_REPLY => Kind::EchoReply,
            icmp6::DEST_UNREACHABLE..=icmp6::PARAM_PROBLEM => {
                let plen = u32::try_from(data.len()).map_err(|_| DropReason::TooBig)?;
                icmp_error::flow6_of_error(&mut flow, data, plen)?;
                return Ok(flow);
            }
            _ => return Err(DropReason::IcmpInformational),
        };
        let id = icmp.echo_ident();
        flow.src_port = id;
        flow.dst_port = id;
        return Ok(flow);
    }
    if !first {
        return Ok(flow);
    }
    check_transport(proto, data, h.frag.is_some())?;
    if proto == Proto::Udp && UdpPacket::new_unchecked(data).checksum() == 0 {
        return Err(DropReason::Udp6ZeroChecksum);
    }
    if proto == Proto::Tcp {
        let t = TcpPacket::new_unchecked(data);
        (flow.src_port, flow.dst_port, flow.tcp_flags) = (t.src_port(), t.dst_port(), t.flags());
    } else {
        let u = UdpPacket::new_unchecked(data);
        (flow.src_port, flow.dst_port) = (u.src_port(), u.dst_port());
    }
    Ok(flow)
}

/// Checks that a TCP or UDP header is whole and its lengths do not lie.
/// `fragment`: the data is the first fragment, so it may end before the
/// datagram does.
pub(super) fn check_transport(proto: Proto, data: &[u8], fragment: bool) -> Result<(), DropReason> {
    match proto {
        Proto::Tcp => {
            TcpPacket::new_checked(data)?;
        }
        Proto::Udp => {
            if data.len() < UDP_HEADER_LEN {
                return Err(DropReason::TruncatedTransport);
            }
            let ulen = usize::from(UdpPacket::new_unchecked(data).len());
            let lies = if fragment {
                ulen < data.len()
            } else {
                ulen != data.len()
            };
            if ulen < UDP_HEADER_LEN || lies {
                return Err(DropReason::TruncatedTransport);
            }
        }
        Proto::Icmp => {}
    }
    Ok(())
}

/// Translates the IPv6 packet at `buf[start..start + flow.len]`, which
/// [`inspect6`] read into `flow`, to IPv4 with the addresses and ports of
/// `map` (RFC 7915 §5). `ident` is the next value of the caller's IPv4
/// Identification generator (req N2), used when the packet has no Fragment
/// header. The buffer must be the one `flow` was read from. An ICMPv6 error
/// ([`Kind::Error`]) is translated with the packet it quotes (req N11,
/// N12); `map` is then the mapping of the quoted packet's session.
#[inline]
pub fn translate6(
    buf: &mut [u8],
    start: usize,
    flow: &Flow6,
    map: &Map4,
    cfg: &Config,
    ident: u16,
) -> Result<Verdict, DropReason> {
    if flow.kind == Kind::Error {
        return icmp_error::translate6_error(buf, start, flow, map, cfg, ident);
    }
    let len = flow.len;
    if let Some(pointer) = flow.routing_pointer {
        // req N1: Routing header with Segments Left ≠ 0, RFC 7915 §5.1.
        let pointer = u32::try_from(pointer).map_err(|_| DropReason::TooBig)?;
        return own_errors::icmp6_error(
            buf,
            start,
            len,
            cfg.own_v6,
            IcmpMessage::param_problem6(pointer),
        );
    }
    if flow.hop_limit <= 1 {
        // req N3.
        return own_errors::icmp6_error(
            buf,
            start,
            len,
            cfg.own_v6,
            IcmpMessage::hop_limit_exceeded6(),
        );
    }
    let payload_len = len - flow.upper_offset;
    let total = ipv4::HEADER_LEN + payload_len;
    // A super-packet (TUN offload) leaves in segments: those must fit.
    let gso = flow.offload.gso_size;
    let l4_seg = super::segment_l4_len(
        &buf[start + flow.upper_offset..],
        flow.proto,
        gso,
        payload_len,
    );
    let seg_total = ipv4::HEADER_LEN + l4_seg;
    let fits = seg_total <= usize::from(cfg.ipv4_mtu);
    if gso > 0 && (!fits || total > usize::from(u16::MAX)) {
        return Ok(Verdict::Segment { start, len });
    }
    let total16 = u16::try_from(total).map_err(|_| DropReason::TooBig)?;
    // req N2: DF only for unfragmented packets above 1260 bytes.
    let (dont_frag, ident, more, offset) = match flow.frag {
        None => (seg_total > 1260, ident, false, 0),
        Some(f) => (false, f.ident() as u16, f.more(), f.offset()),
    };
    if !fits && dont_frag {
        // req N4: Packet Too Big, MTU = IPv4 MTU + 20, at least 1280.
        let mtu = (u32::from(cfg.ipv4_mtu) + 20).max(1280);
        return own_errors::icmp6_error(
            buf,
            start,
            len,
            cfg.own_v6,
            IcmpMessage::packet_too_big6(mtu),
        );
    }

    let at = start + flow.upper_offset;
    let data = &mut buf[at..start + len];
    let protocol = match flow.proto {
        Proto::Tcp | Proto::Udp => {
            if flow.has_transport_header() {
                let r = PortRewrite {
                    old_ports: (flow.src_port, flow.dst_port),
                    new_ports: (map.src_port, map.dst_port),
                    addr_old: checksum::sum_v6(flow.src) + checksum::sum_v6(flow.dst),
                    addr_new: checksum::sum_v4(map.src) + checksum::sum_v4(map.dst),
                    partial: flow.offload.partial,
                };
                super::rewrite_ports(data, flow.proto, &r);
            }
            flow.proto.number4()
        }
        Proto::Icmp => {
            // req N10: echo 128/129 → 8/0, identifier mapped; the ICMPv6
            // pseudo-header leaves the checksum (RFC 7915 §5.2).
            let typ = if flow.kind == Kind::EchoRequest {
                icmp4::ECHO_REQUEST
            } else {
                icmp4::ECHO_REPLY
            };
            let plen = u32::try_from(payload_len).map_err(|_| DropReason::TooBig)?;
            let ph = checksum::pseudo_v6(flow.src, flow.dst, proto::ICMPV6, plen);
            IcmpPacket::new_unchecked(data).rewrite_echo(typ, map.src_port, ph, 0);
            proto::ICMP
        }
    };

    let new_start = at - ipv4::HEADER_LEN;
    let tos = if cfg.zero_tos { 0 } else { flow.traffic_class };
    Ipv4Packet::new_unchecked(&mut buf[new_start..at]).write_header(
        tos,
        total16,
        ident,
        dont_frag,
        more,
        offset,
        flow.hop_limit - 1,
        protocol,
        map.src,
        map.dst,
    );
    if fits {
        Ok(Verdict::Forward {
            start: new_start,
            len: total,
        })
    } else {
        // req N4, DF clear: the caller sends it in fragments.
        Ok(Verdict::Fragment {
            start: new_start,
            len: total,
            mtu: cfg.ipv4_mtu,
        })
    }
}
