//! IPv4 → IPv6 (RFC 7915 §4).

use std::net::Ipv4Addr;

use super::icmp_error;
use super::own_errors;
use super::v6_to_v4::check_transport;
use super::{Config, Kind, Map6};
use crate::flow::Proto;
use crate::offload::Offload;
use crate::stats::DropReason;
use crate::verdict::Verdict;
use crate::wire::checksum;
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::ipv6::{self, FragHeader, Ipv6Packet, proto, write_frag_header};
use crate::wire::transport::{
    IcmpMessage, IcmpPacket, PortRewrite, TcpPacket, UdpPacket, icmp4, icmp6,
};

/// An IPv4 packet, read once: what the state layer needs, and what
/// [`translate4`] rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow4 {
    /// Transport protocol.
    pub proto: Proto,
    /// Data, echo request or echo reply.
    pub kind: Kind,
    /// Source address (for [`Kind::Error`]: the quoted packet's
    /// destination, so that the flow is the session's).
    pub src: Ipv4Addr,
    /// Destination address (for [`Kind::Error`]: the quoted packet's
    /// source).
    pub dst: Ipv4Addr,
    /// For [`Kind::Error`]: the node that sent the error (the packet's real
    /// source); otherwise the same as `src`.
    pub error_src: Ipv4Addr,
    /// Source port, or the ICMP identifier; 0 in a non-first fragment.
    pub src_port: u16,
    /// Destination port, or the ICMP identifier; 0 in a non-first fragment.
    pub dst_port: u16,
    /// TCP flags (0 for other protocols and non-first fragments).
    pub tcp_flags: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_frag: bool,
    /// More Fragments.
    pub more_frags: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// Time to Live.
    pub ttl: u8,
    /// Type of Service.
    pub tos: u8,
    /// Offset of an unexpired source route option (req N5).
    pub source_route: Option<usize>,
    /// Header length (options included).
    pub header_len: usize,
    /// Total length.
    pub len: usize,
    /// How the packet came off the TUN (super-packet, partial checksum);
    /// [`inspect4`] says "plain", the caller sets what the device said.
    pub offload: Offload,
}

impl Flow4 {
    /// Whether the packet is a fragment (MF set or offset non-zero).
    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// Whether this packet carries the transport header.
    pub fn has_transport_header(&self) -> bool {
        self.frag_offset == 0
    }
}

/// IPv4 option types (RFC 791).
mod opt {
    pub(super) const END: u8 = 0;
    pub(super) const NOP: u8 = 1;
    pub(super) const LSRR: u8 = 131;
    pub(super) const SSRR: u8 = 137;
}

/// Offset (from the IPv4 header) of an unexpired Loose or Strict Source
/// Route option, if there is one (RFC 791: expired when the pointer is past
/// the option's length). Malformed options end the scan: RFC 7915 §4.1
/// ignores options other than source routes.
fn unexpired_source_route(options: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            opt::END => return None,
            opt::NOP => i += 1,
            typ => {
                let len = usize::from(*options.get(i + 1)?);
                if len < 2 || i + len > options.len() {
                    return None;
                }
                if (typ == opt::LSRR || typ == opt::SSRR)
                    && len >= 3
                    && usize::from(options[i + 2]) <= len
                {
                    return Some(20 + i);
                }
                i += len;
            }
        }
    }
    None
}

/// Reads an untrusted IPv4 packet (RFC 7915 §4.1): header, checksum,
/// options, and the transport header the translator rewrites.
#[inline(always)]
pub fn inspect4(pkt: &[u8]) -> Result<Flow4, DropReason> {
    let ip = Ipv4Packet::new_checked(pkt)?;
    if !ip.verify_checksum() {
        return Err(DropReason::BadIpv4Checksum);
    }
    let proto = match ip.protocol() {
        proto::TCP => Proto::Tcp,
        proto::UDP => Proto::Udp,
        proto::ICMP => Proto::Icmp,
        _ => return Err(DropReason::UnsupportedProtocol),
    };
    let mut flow = Flow4 {
        proto,
        kind: Kind::Data,
        src: ip.src(),
        dst: ip.dst(),
        error_src: ip.src(),
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        ident: ip.ident(),
        dont_frag: ip.dont_frag(),
        more_frags: ip.more_frags(),
        frag_offset: ip.frag_offset(),
        ttl: ip.ttl(),
        tos: ip.tos(),
        source_route: unexpired_source_route(ip.options()),
        header_len: ip.header_len(),
        len: usize::from(ip.total_len()),
        offload: Offload::default(),
    };
    let data = ip.payload();
    if proto == Proto::Icmp {
        if flow.is_fragment() {
            return Err(DropReason::IcmpFragmented);
        }
        let icmp = IcmpPacket::new_checked(data)?;
        flow.kind = match icmp.msg_type() {
            icmp4::ECHO_REQUEST => Kind::EchoRequest,
            icmp4::ECHO_REPLY => Kind::EchoReply,
            icmp4::DEST_UNREACHABLE | icmp4::TIME_EXCEEDED | icmp4::PARAM_PROBLEM => {
                icmp_error::flow4_of_error(&mut flow, data)?;
                return Ok(flow);
            }
            _ => return Err(DropReason::IcmpInformational),
        };
        let id = icmp.echo_ident();
        flow.src_port = id;
        flow.dst_port = id;
        return Ok(flow);
    }
    if !flow.has_transport_header() {
        return Ok(flow);
    }
    check_transport(proto, data, flow.more_frags)?;
    if proto == Proto::Udp && UdpPacket::new_unchecked(data).checksum() == 0 && flow.is_fragment() {
        // req N8: no checksum, and not the whole datagram to compute one.
        return Err(DropReason::Udp4ZeroChecksumFragment);
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

/// Translates the IPv4 packet at `buf[start..start + flow.len]`, which
/// [`inspect4`] read into `flow`, to IPv6 with the addresses and ports of
/// `map` (RFC 7915 §4). The IPv6 header grows into the headroom: `start`
/// must be at least [`super::HEADROOM`]. `ident` is the caller's IPv4
/// Identification generator's next value, for the errors it may send.
/// ICMPv4 errors ([`Kind::Error`]) go to [`super::translate4_error`].
#[inline]
pub fn translate4(
    buf: &mut [u8],
    start: usize,
    flow: &Flow4,
    map: &Map6,
    cfg: &Config,
    ident: u16,
) -> Result<Verdict, DropReason> {
    if flow.kind == Kind::Error {
        return Err(DropReason::WrongEntryPoint);
    }
    let len = flow.len;
    if flow.source_route.is_some() {
        // RFC 7915 §4.1: Destination Unreachable, Source Route Failed.
        return own_errors::icmp4_error(
            buf,
            start,
            len,
            cfg.own_v4,
            ident,
            IcmpMessage::unreachable4(icmp4::unreachable::SOURCE_ROUTE_FAILED),
        );
    }
    if flow.ttl <= 1 {
        // req N6.
        return own_errors::icmp4_error(
            buf,
            start,
            len,
            cfg.own_v4,
            ident,
            IcmpMessage::ttl_exceeded4(),
        );
    }
    let payload_len = len - flow.header_len;
    let mtu = usize::from(cfg.ipv6_mtu);
    // A super-packet (TUN offload) leaves in segments: those must fit,
    // whole, with no Fragment header.
    let gso = flow.offload.gso_size;
    let l4_seg = super::segment_l4_len(
        &buf[start + flow.header_len..],
        flow.proto,
        gso,
        payload_len,
    );
    if gso > 0 && (flow.is_fragment() || ipv6::HEADER_LEN + l4_seg > mtu) {
        return Ok(Verdict::Segment { start, len });
    }
    // A Fragment header for a fragment, and for a packet too big to go
    // whole (RFC 7915 §4.1).
    let frag_len = if flow.is_fragment() || ipv6::HEADER_LEN + l4_seg > mtu {
        ipv6::FRAG_HEADER_LEN
    } else {
        0
    };
    let total = ipv6::HEADER_LEN + frag_len + payload_len;
    let fits = gso > 0 || total <= mtu;
    if !fits && flow.dont_frag {
        // req N7: Fragmentation Needed, MTU = IPv6 MTU − 20.
        let mtu = cfg.ipv6_mtu.saturating_sub(20);
        return own_errors::icmp4_error(
            buf,
            start,
            len,
            cfg.own_v4,
            ident,
            IcmpMessage::frag_needed4(mtu),
        );
    }
    let plen = u16::try_from(frag_len + payload_len).map_err(|_| DropReason::TooBig)?;
    let at = start + flow.header_len;
    let Some(new_start) = at.checked_sub(ipv6::HEADER_LEN + frag_len) else {
        return Err(DropReason::NoHeadroom);
    };

    let data = &mut buf[at..start + len];
    let next = match flow.proto {
        Proto::Udp
            if flow.has_transport_header()
                && !flow.offload.partial
                && UdpPacket::new_unchecked(&*data).checksum() == 0 =>
        {
            // req N8: a whole datagram without checksum gets a real one.
            let ulen = u32::try_from(data.len()).map_err(|_| DropReason::TooBig)?;
            let mut udp = UdpPacket::new_unchecked(data);
            udp.set_ports(map.src_port, map.dst_port);
            udp.fill_checksum(checksum::pseudo_v6(map.src, map.dst, proto::UDP, ulen));
            proto::UDP
        }
        Proto::Tcp | Proto::Udp => {
            if flow.has_transport_header() {
                let r = PortRewrite {
                    old_ports: (flow.src_port, flow.dst_port),
                    new_ports: (map.src_port, map.dst_port),
                    addr_old: checksum::sum_v4(flow.src) + checksum::sum_v4(flow.dst),
                    addr_new: checksum::sum_v6(map.src) + checksum::sum_v6(map.dst),
                    partial: flow.offload.partial,
                };
                super::rewrite_ports(data, flow.proto, &r);
            }
            flow.proto.number6()
        }
        Proto::Icmp => {
            // req N10: echo 8/0 → 128/129; the ICMPv6 checksum adds the
            // pseudo-header (RFC 7915 §4.2).
            let typ = if flow.kind == Kind::EchoRequest {
                icmp6::ECHO_REQUEST
            } else {
                icmp6::ECHO_REPLY
            };
            let mlen = u32::try_from(payload_len).map_err(|_| DropReason::TooBig)?;
            let ph = checksum::pseudo_v6(map.src, map.dst, proto::ICMPV6, mlen);
            IcmpPacket::new_unchecked(data).rewrite_echo(typ, map.dst_port, 0, ph);
            proto::ICMPV6
        }
    };

    let tclass = if cfg.zero_tos { 0 } else { flow.tos };
    let first_next = if frag_len > 0 {
        let frag = FragHeader::new(flow.frag_offset, flow.more_frags, u32::from(flow.ident));
        write_frag_header(&mut buf[at - frag_len..at], next, frag);
        proto::FRAGMENT
    } else {
        next
    };
    Ipv6Packet::new_unchecked(&mut buf[new_start..new_start + ipv6::HEADER_LEN]).write_header(
        tclass,
        plen,
        first_next,
        flow.ttl - 1,
        map.src,
        map.dst,
    );
    if fits {
        Ok(Verdict::Forward {
            start: new_start,
            len: total,
        })
    } else {
        // req N7, DF clear: the caller sends it in fragments.
        Ok(Verdict::Fragment {
            start: new_start,
            len: total,
            mtu: cfg.ipv6_mtu,
        })
    }
}
