//! Segmentation and checksum offload over the TUN device's virtio-net
//! header (`IFF_VNET_HDR` + `TUNSETOFFLOAD`), as pure functions.
//!
//! With offload on, the kernel hands the TUN TCP (and, since Linux 6.2,
//! UDP) "super-packets" of up to 64 KiB that GRO assembled or a local
//! socket produced, with the transport checksum left *partial* (the field
//! holds only the pseudo-header's sum, `CHECKSUM_PARTIAL`). nat64d
//! translates the headers once per super-packet and writes it back with the
//! same kind of header; the kernel segments it (or hands it whole to the
//! next device that can) and finishes the checksum. What does not fit that
//! fast path is made plain here: a partial checksum computed in software,
//! a super-packet cut into segments with full checksums.
//!
//! Layout of the header (`struct virtio_net_hdr`, 10 bytes, the host's
//! byte order for a legacy header): flags, gso_type, hdr_len, gso_size,
//! csum_start, csum_offset.

use crate::stats::DropReason;
use crate::wire::checksum;
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv6::{self, Ipv6Packet, proto};
use crate::wire::transport::{
    TCP_CHECKSUM_OFFSET, TCP_HEADER_LEN, TcpPacket, UDP_CHECKSUM_OFFSET, UDP_HEADER_LEN, UdpPacket,
    tcp_flags,
};

/// Length of the virtio-net header in front of every packet.
pub const VNET_HDR_LEN: usize = 10;

/// `flags`: the transport checksum is partial, from `csum_start` on, stored
/// at `csum_start + csum_offset`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `flags`: the checksum was verified (`CHECKSUM_UNNECESSARY`).
pub const F_DATA_VALID: u8 = 2;
/// `gso_type`: not a super-packet.
pub const GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4.
pub const GSO_TCPV4: u8 = 1;
/// `gso_type`: TCP over IPv6.
pub const GSO_TCPV6: u8 = 4;
/// `gso_type`: UDP segmentation (either family, Linux 6.2+).
pub const GSO_UDP_L4: u8 = 5;
/// `gso_type` bit: the TCP super-packet carries ECN's CWR handling.
pub const GSO_ECN: u8 = 0x80;

/// A virtio-net header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHdr {
    /// `F_*` bits.
    pub flags: u8,
    /// `GSO_*` type, with [`GSO_ECN`] possibly set.
    pub gso_type: u8,
    /// Length of the headers (IP + transport).
    pub hdr_len: u16,
    /// Transport payload bytes per segment.
    pub gso_size: u16,
    /// Where the checksummed data starts.
    pub csum_start: u16,
    /// Where the checksum field is, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Reads a header; `b` holds at least [`VNET_HDR_LEN`] bytes.
    pub fn read(b: &[u8]) -> Self {
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        }
    }

    /// Writes the header into `b[..VNET_HDR_LEN]`.
    pub fn write(&self, b: &mut [u8]) {
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
    }
}

/// What the translator is told about a packet's offload state. The
/// default: a plain packet with a full checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    /// The TCP/UDP checksum field holds the pseudo-header's sum only; the
    /// translator adjusts it for the new pseudo-header alone.
    pub partial: bool,
    /// A super-packet whose transport payload goes out in segments of this
    /// many bytes; 0: a single packet.
    pub gso_size: u16,
    /// The kernel verified the checksum (passed on: the translation keeps a
    /// good checksum good).
    pub valid: bool,
    /// [`GSO_ECN`] was set.
    pub ecn: bool,
}

/// What to do with a packet read with a virtio-net header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Translate it with this offload state (a partial checksum nat64d
    /// cannot carry has been completed in place).
    Ready(Offload),
    /// A super-packet nat64d cannot translate whole: cut it with
    /// [`segment`] and translate the segments.
    Segment,
}

/// The transport header's offset and protocol, for IPv4 without options
/// beyond its IHL and IPv6 with the transport header right after the fixed
/// header or one Fragment header. `None` for anything else.
fn transport_of(pkt: &[u8]) -> Option<(usize, u8)> {
    match pkt.first()? >> 4 {
        4 if pkt.len() >= ipv4::HEADER_LEN => {
            let ip = Ipv4Packet::new_unchecked(pkt);
            Some((ip.header_len(), ip.protocol()))
        }
        6 if pkt.len() >= ipv6::HEADER_LEN => match Ipv6Packet::new_unchecked(pkt).next_header() {
            proto::FRAGMENT if pkt.len() >= ipv6::HEADER_LEN + ipv6::FRAG_HEADER_LEN => {
                // The Fragment header's first byte is its Next Header.
                Some((
                    ipv6::HEADER_LEN + ipv6::FRAG_HEADER_LEN,
                    pkt[ipv6::HEADER_LEN],
                ))
            }
            p => Some((ipv6::HEADER_LEN, p)),
        },
        _ => None,
    }
}

/// The checksum field's offset in a TCP or UDP header.
fn csum_field(p: u8) -> Option<usize> {
    match p {
        proto::TCP => Some(TCP_CHECKSUM_OFFSET),
        proto::UDP => Some(UDP_CHECKSUM_OFFSET),
        _ => None,
    }
}

/// Whether an IPv4 header says the packet is a fragment.
fn is_fragment4(pkt: &[u8]) -> bool {
    Ipv4Packet::new_unchecked(pkt).is_fragment()
}

/// Decides how to translate `pkt`, read with `hdr`. Completes a partial
/// checksum nat64d cannot carry in place (over `pkt[csum_start..]`).
/// Errors are [`DropReason::BadOffload`]: a header the kernel would not
/// have sent (out of bounds, unknown GSO type).
pub fn accept(hdr: &VnetHdr, pkt: &mut [u8]) -> Result<Accept, DropReason> {
    let gso = hdr.gso_type & !GSO_ECN;
    if !matches!(gso, GSO_NONE | GSO_TCPV4 | GSO_TCPV6 | GSO_UDP_L4)
        || (gso != GSO_NONE && hdr.gso_size == 0)
    {
        return Err(DropReason::BadOffload);
    }
    let mut off = Offload {
        valid: hdr.flags & F_DATA_VALID != 0,
        ecn: hdr.gso_type & GSO_ECN != 0,
        ..Offload::default()
    };
    if hdr.flags & F_NEEDS_CSUM == 0 {
        // A super-packet always comes with a partial checksum; one without
        // is cut in software, which computes every checksum.
        return Ok(if gso == GSO_NONE {
            Accept::Ready(off)
        } else {
            Accept::Segment
        });
    }
    let start = usize::from(hdr.csum_start);
    let field = start + usize::from(hdr.csum_offset);
    if field + 2 > pkt.len() {
        return Err(DropReason::BadOffload);
    }
    // The fast path: the checksum is the TCP or UDP header's, right after
    // the IP header, in a packet that is not a fragment, and a super-packet
    // is of the family and protocol its type says.
    let fast = transport_of(pkt).is_some_and(|(at, p)| {
        let family_ok = match pkt[0] >> 4 {
            4 => !is_fragment4(pkt) && matches!(gso, GSO_NONE | GSO_TCPV4 | GSO_UDP_L4),
            _ => {
                Ipv6Packet::new_unchecked(&*pkt).next_header() == p
                    && matches!(gso, GSO_NONE | GSO_TCPV6 | GSO_UDP_L4)
            }
        };
        let gso_ok = match gso {
            GSO_TCPV4 | GSO_TCPV6 => p == proto::TCP,
            GSO_UDP_L4 => p == proto::UDP,
            _ => true,
        };
        family_ok && gso_ok && at == start && csum_field(p) == Some(usize::from(hdr.csum_offset))
    });
    if fast {
        off.partial = true;
        off.valid = false;
        off.gso_size = if gso == GSO_NONE { 0 } else { hdr.gso_size };
        return Ok(Accept::Ready(off));
    }
    if gso != GSO_NONE {
        return Ok(Accept::Segment);
    }
    complete_at(pkt, start, field);
    Ok(Accept::Ready(Offload::default()))
}

/// Finishes a partial checksum: the one's-complement sum of `pkt[start..]`
/// (the field holds the pseudo-header's sum) stored at `field`.
fn complete_at(pkt: &mut [u8], start: usize, field: usize) {
    let c = checksum::finish(checksum::sum(&pkt[start..]));
    // 0 and 0xffff verify alike; UDP reserves 0 for "no checksum".
    let c = if c == 0 { 0xffff } else { c };
    pkt[field..field + 2].copy_from_slice(&c.to_be_bytes());
}

/// Finishes the partial TCP/UDP checksum of a translated packet (before it
/// is fragmented). Does nothing to a packet with no such header.
pub fn complete(pkt: &mut [u8]) {
    if let Some((at, p)) = transport_of(pkt)
        && let Some(f) = csum_field(p)
        && at + f + 2 <= pkt.len()
    {
        complete_at(pkt, at, at + f);
    }
}

/// The header to write in front of `pkt`, a translation of a packet that
/// was read with `off`. A super-packet keeps its segment size; a partial
/// checksum gets the new header's offsets.
pub fn header_for(pkt: &[u8], off: &Offload) -> VnetHdr {
    if !off.partial {
        return VnetHdr {
            flags: if off.valid { F_DATA_VALID } else { 0 },
            ..VnetHdr::default()
        };
    }
    let Some((at, p)) = transport_of(pkt) else {
        return VnetHdr::default();
    };
    let field = csum_field(p).unwrap_or(TCP_CHECKSUM_OFFSET);
    let thl = match pkt.get(at..) {
        Some(t) if p == proto::TCP && t.len() >= TCP_HEADER_LEN => {
            TcpPacket::new_unchecked(t).header_len()
        }
        _ if p == proto::TCP => TCP_HEADER_LEN,
        _ => UDP_HEADER_LEN,
    };
    let gso_type = match (off.gso_size, p, pkt[0] >> 4) {
        (0, _, _) => GSO_NONE,
        (_, proto::UDP, _) => GSO_UDP_L4,
        (_, _, 4) => GSO_TCPV4,
        _ => GSO_TCPV6,
    };
    VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: if off.ecn && gso_type != GSO_NONE {
            gso_type | GSO_ECN
        } else {
            gso_type
        },
        hdr_len: (at + thl) as u16,
        gso_size: off.gso_size,
        csum_start: at as u16,
        csum_offset: field as u16,
    }
}

/// Length of the TCP or UDP header at `data` (checked by the caller's
/// bounds); `None` if it does not fit.
fn transport_header_len(p: u8, data: &[u8]) -> Option<usize> {
    match p {
        proto::TCP => TcpPacket::new_checked(data).ok().map(|t| t.header_len()),
        proto::UDP => (data.len() >= UDP_HEADER_LEN).then_some(UDP_HEADER_LEN),
        _ => None,
    }
}

/// Most segments one super-packet may be cut into (64 KiB / 1 byte would
/// be 65 535; a sane sender's segment is hundreds of bytes or more).
pub const MAX_SEGMENTS: usize = 1024;

/// Cuts the TCP or UDP super-packet `pkt` (IPv4, or IPv6 with the transport
/// header right after the fixed header) into segments of `gso_size`
/// payload bytes, each a whole packet with correct lengths, IPv4
/// Identification and header checksum, TCP sequence number and flags (FIN
/// and PSH on the last only, CWR on the first only), and a full transport
/// checksum computed from the data. Appends them to `out` in order.
pub fn segment(pkt: &[u8], gso_size: u16, out: &mut Vec<Box<[u8]>>) -> Result<(), DropReason> {
    let bad = DropReason::BadOffload;
    let (at, p) = transport_of(pkt).ok_or(bad)?;
    let v4 = pkt[0] >> 4 == 4;
    if (v4 && (is_fragment4(pkt) || at < ipv4::HEADER_LEN)) || (!v4 && at != ipv6::HEADER_LEN) {
        return Err(bad);
    }
    let ip_len = if v4 {
        usize::from(Ipv4Packet::new_unchecked(pkt).total_len())
    } else {
        Ipv6Packet::new_unchecked(pkt).total_len()
    };
    if ip_len > pkt.len() || at > ip_len {
        return Err(bad);
    }
    let pkt = &pkt[..ip_len];
    let thl = transport_header_len(p, &pkt[at..]).ok_or(bad)?;
    let hdrs = at + thl;
    let seg = usize::from(gso_size);
    let payload = pkt.len() - hdrs;
    if seg == 0 || payload.div_ceil(seg) > MAX_SEGMENTS {
        return Err(bad);
    }
    // The pseudo-header's addresses, and the first segment's IPv4
    // Identification and TCP sequence number.
    let (addrs, ident) = if v4 {
        let ip = Ipv4Packet::new_unchecked(pkt);
        (
            checksum::sum_v4(ip.src()) + checksum::sum_v4(ip.dst()),
            ip.ident(),
        )
    } else {
        let ip = Ipv6Packet::new_unchecked(pkt);
        (checksum::sum_v6(ip.src()) + checksum::sum_v6(ip.dst()), 0)
    };
    let seq = if p == proto::TCP {
        TcpPacket::new_unchecked(&pkt[at..]).seq_number()
    } else {
        0
    };
    let count = payload.div_ceil(seg).max(1);
    for i in 0..count {
        let from = hdrs + i * seg;
        let to = (from + seg).min(pkt.len());
        let mut s = Vec::with_capacity(hdrs + (to - from));
        s.extend_from_slice(&pkt[..hdrs]);
        s.extend_from_slice(&pkt[from..to]);
        let l4_len = s.len() - at;
        let total = s.len();
        if v4 {
            let mut ip = Ipv4Packet::new_unchecked(&mut s[..]);
            ip.set_total_len(total as u16);
            ip.set_ident(ident.wrapping_add(i as u16));
            ip.fill_checksum();
        } else {
            Ipv6Packet::new_unchecked(&mut s[..])
                .set_payload_len((total - ipv6::HEADER_LEN) as u16);
        }
        // The pseudo-header: addresses, protocol, transport length.
        let ph = addrs + u32::from(p) + l4_len as u32;
        if p == proto::TCP {
            let mut tcp = TcpPacket::new_unchecked(&mut s[at..]);
            tcp.set_seq_number(seq.wrapping_add((i * seg) as u32));
            let mut flags = tcp.flags();
            if i + 1 < count {
                flags &= !(tcp_flags::FIN | tcp_flags::PSH);
            }
            if i > 0 {
                flags &= !tcp_flags::CWR;
            }
            tcp.set_flags(flags);
            tcp.set_checksum(0);
            let c = checksum::finish(ph + checksum::sum(&s[at..]));
            TcpPacket::new_unchecked(&mut s[at..]).set_checksum(if c == 0 { 0xffff } else { c });
        } else {
            let mut udp = UdpPacket::new_unchecked(&mut s[at..]);
            udp.set_len(l4_len as u16);
            udp.fill_checksum(ph);
        }
        out.push(s.into_boxed_slice());
    }
    Ok(())
}

pub mod coalesce;

#[cfg(test)]
mod tests;
