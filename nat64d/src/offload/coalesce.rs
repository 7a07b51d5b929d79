//! UDP coalescing on write (userspace GRO): consecutive translated
//! datagrams of one flow leave as one UDP super-packet (`GSO_UDP_L4`), so
//! the kernel routes, filters and forwards them once and cuts them back
//! into the same datagrams where it must (at the receiving socket, or at
//! the first device that cannot carry them whole).
//!
//! Why: for small datagrams the cost of a TUN translator is the kernel's
//! per-packet path behind each `write()` (measured: nat64d's own code is
//! under 2 % of the worker's time in a 64-byte UDP flood). A burst read
//! from the TUN queue is written back in one call per flow run.
//!
//! What joins a run: a plain (not super-) UDP datagram, IPv4 without
//! options and not a fragment or IPv6 with UDP right after the fixed
//! header, with the same addresses, ports, TOS / traffic class and flow
//! label, TTL / hop limit and DF bit as the run's first, and a payload the
//! size of the first's (the last one may be shorter, and closes the run).
//! Its checksum must be one the kernel would compute the same: partial
//! (the kernel's own), marked valid by the kernel, or verified here; a
//! datagram with a bad checksum is never merged, so it stays bad (req
//! N9). At most [`MAX_RUN`] datagrams and 64 KiB per run.
//!
//! The segments the kernel cuts carry the run's first IPv4 Identification
//! plus their index, each a fresh number as RFC 6864 wants for atomic
//! datagrams.

use super::{F_NEEDS_CSUM, GSO_UDP_L4, Offload, VNET_HDR_LEN, VnetHdr, header_for};
use crate::wire::checksum;
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv6::{self, Ipv6Packet, proto};
use crate::wire::transport::{UDP_CHECKSUM_OFFSET, UDP_HEADER_LEN, UdpPacket};

/// Most datagrams in one super-packet (the kernel accepts up to 128,
/// `UDP_MAX_SEGMENTS`).
pub const MAX_RUN: usize = 64;

/// Largest IPv4 total length / IPv6 payload length of a super-packet.
const MAX_LEN: usize = 65_535;

/// What [`Coalescer::offer`] did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// It joined the run (or began one).
    Taken,
    /// It could begin a run but does not fit the current one: flush, then
    /// offer it again.
    Flush,
    /// It cannot be coalesced: flush, then send it alone.
    Refused,
}

/// The run being built: one buffer, the virtio-net header's room in front.
pub struct Coalescer {
    buf: Box<[u8]>,
    /// Bytes of the super-packet after the header's room; 0: no run.
    len: usize,
    /// IP + UDP header length of the run.
    hdrs: usize,
    /// Payload bytes of each datagram but the last.
    seg: usize,
    /// Datagrams in the run.
    count: usize,
    /// A shorter datagram ended the run.
    closed: bool,
    /// The header the first datagram would have been written with alone.
    first: VnetHdr,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Coalescer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("len", &self.len)
            .field("count", &self.count)
            .field("seg", &self.seg)
            .finish()
    }
}

/// The IP + UDP header length of `pkt` if it may join a run, `None` if not
/// (see the module's documentation).
fn eligible(pkt: &[u8], off: &Offload) -> Option<usize> {
    if off.gso_size != 0 {
        return None;
    }
    let (at, pseudo) = match *pkt.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(pkt).ok()?;
            if ip.header_len() != ipv4::HEADER_LEN
                || ip.protocol() != proto::UDP
                || ip.is_fragment()
                || usize::from(ip.total_len()) != pkt.len()
            {
                return None;
            }
            let len = (pkt.len() - ipv4::HEADER_LEN) as u16;
            (
                ipv4::HEADER_LEN,
                checksum::pseudo_v4(ip.src(), ip.dst(), proto::UDP, len),
            )
        }
        6 => {
            let ip = Ipv6Packet::new_checked(pkt).ok()?;
            if ip.next_header() != proto::UDP || ip.total_len() != pkt.len() {
                return None;
            }
            let len = (pkt.len() - ipv6::HEADER_LEN) as u32;
            (
                ipv6::HEADER_LEN,
                checksum::pseudo_v6(ip.src(), ip.dst(), proto::UDP, len),
            )
        }
        _ => return None,
    };
    let udp = UdpPacket::new_checked(&pkt[at..]).ok()?;
    if usize::from(udp.len()) != pkt.len() - at || pkt.len() - at <= UDP_HEADER_LEN {
        return None;
    }
    if !(off.partial || off.valid) {
        // A full checksum: merged, the kernel would compute a new one from
        // the data, so only a correct one may be merged. Zero (none, IPv4)
        // is left alone too.
        if udp.checksum() == 0 || checksum::fold(pseudo + checksum::sum(&pkt[at..])) != 0xffff {
            return None;
        }
    }
    Some(at + UDP_HEADER_LEN)
}

/// Whether `a` and `b` (both eligible, headers `hdrs` long) belong to one
/// run: every header field equal but lengths, Identification and checksums.
fn same_flow(a: &[u8], b: &[u8], hdrs: usize) -> bool {
    if a[0] >> 4 != b[0] >> 4 || b.len() < hdrs {
        return false;
    }
    let ip = if a[0] >> 4 == 4 {
        let (x, y) = (Ipv4Packet::new_unchecked(a), Ipv4Packet::new_unchecked(b));
        x.tos() == y.tos()
            && x.dont_frag() == y.dont_frag()
            && x.ttl() == y.ttl()
            && x.src() == y.src()
            && x.dst() == y.dst()
    } else {
        let (x, y) = (Ipv6Packet::new_unchecked(a), Ipv6Packet::new_unchecked(b));
        x.traffic_class() == y.traffic_class()
            && x.flow_label() == y.flow_label()
            && x.hop_limit() == y.hop_limit()
            && x.src() == y.src()
            && x.dst() == y.dst()
    };
    let u = hdrs - UDP_HEADER_LEN;
    let (x, y) = (
        UdpPacket::new_unchecked(&a[u..]),
        UdpPacket::new_unchecked(&b[u..]),
    );
    ip && x.src_port() == y.src_port() && x.dst_port() == y.dst_port()
}

impl Coalescer {
    /// An empty coalescer (one 64 KiB buffer, allocated once).
    pub fn new() -> Self {
        Self {
            buf: vec![0u8; VNET_HDR_LEN + MAX_LEN].into_boxed_slice(),
            len: 0,
            hdrs: 0,
            seg: 0,
            count: 0,
            closed: false,
            first: VnetHdr::default(),
        }
    }

    /// Datagrams waiting in the run.
    pub fn pending(&self) -> usize {
        self.count
    }

    /// Offers the translated datagram `pkt`, which would have been written
    /// with the header [`header_for`]`(pkt, off)`.
    pub fn offer(&mut self, pkt: &[u8], off: &Offload) -> Offer {
        let Some(hdrs) = eligible(pkt, off) else {
            return Offer::Refused;
        };
        let payload = pkt.len() - hdrs;
        if self.len == 0 {
            self.buf[VNET_HDR_LEN..VNET_HDR_LEN + pkt.len()].copy_from_slice(pkt);
            self.len = pkt.len();
            self.hdrs = hdrs;
            self.seg = payload;
            self.count = 1;
            self.closed = false;
            self.first = header_for(pkt, off);
            return Offer::Taken;
        }
        let run = &self.buf[VNET_HDR_LEN..VNET_HDR_LEN + self.len];
        let room = if run[0] >> 4 == 4 {
            MAX_LEN - self.len
        } else {
            MAX_LEN + 40 - self.len
        };
        if self.closed
            || hdrs != self.hdrs
            || payload > self.seg
            || self.count >= MAX_RUN
            || payload > room
            || !same_flow(run, pkt, hdrs)
        {
            return Offer::Flush;
        }
        let at = VNET_HDR_LEN + self.len;
        self.buf[at..at + payload].copy_from_slice(&pkt[hdrs..]);
        self.len += payload;
        self.count += 1;
        self.closed = payload < self.seg;
        Offer::Taken
    }

    /// Ends the run: the bytes to write (virtio-net header, then the
    /// datagram or the super-packet) and how many datagrams they carry.
    /// `None` when no run is open.
    pub fn flush(&mut self) -> Option<(&[u8], usize)> {
        if self.len == 0 {
            return None;
        }
        let (len, count) = (self.len, self.count);
        self.len = 0;
        self.count = 0;
        if count == 1 {
            self.first.write(&mut self.buf[..VNET_HDR_LEN]);
            return Some((&self.buf[..VNET_HDR_LEN + len], 1));
        }
        let hdrs = self.hdrs;
        let u = hdrs - UDP_HEADER_LEN;
        let p = &mut self.buf[VNET_HDR_LEN..VNET_HDR_LEN + len];
        let udp_len = len - u;
        let pseudo = if p[0] >> 4 == 4 {
            let mut ip = Ipv4Packet::new_unchecked(&mut *p);
            ip.set_total_len(len as u16);
            ip.fill_checksum();
            checksum::pseudo_v4(ip.src(), ip.dst(), proto::UDP, udp_len as u16)
        } else {
            let mut ip = Ipv6Packet::new_unchecked(&mut *p);
            ip.set_payload_len(udp_len as u16);
            checksum::pseudo_v6(ip.src(), ip.dst(), proto::UDP, udp_len as u32)
        };
        let mut udp = UdpPacket::new_unchecked(&mut p[u..]);
        udp.set_len(udp_len as u16);
        // Partial: the pseudo-header's sum, the kernel adds the data's
        // (per segment, after adjusting the length).
        udp.set_checksum(checksum::fold(pseudo));
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_UDP_L4,
            hdr_len: hdrs as u16,
            gso_size: self.seg as u16,
            csum_start: u as u16,
            csum_offset: UDP_CHECKSUM_OFFSET as u16,
        }
        .write(&mut self.buf[..VNET_HDR_LEN]);
        Some((&self.buf[..VNET_HDR_LEN + len], count))
    }
}

#[cfg(test)]
mod tests;
