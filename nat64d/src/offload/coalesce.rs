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

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{F_NEEDS_CSUM, GSO_UDP_L4, Offload, VNET_HDR_LEN, VnetHdr, header_for};
use crate::wire::checksum;
use crate::wire::ipv6::proto;
use crate::wire::l4;

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
            if pkt.len() < 28
                || pkt[0] & 0x0f != 5
                || pkt[9] != proto::UDP
                || l4::get16(pkt, 6) & 0x3fff != 0
                || usize::from(l4::get16(pkt, 2)) != pkt.len()
            {
                return None;
            }
            let a = |i: usize| Ipv4Addr::new(pkt[i], pkt[i + 1], pkt[i + 2], pkt[i + 3]);
            let len = (pkt.len() - 20) as u16;
            (20, checksum::pseudo_v4(a(12), a(16), proto::UDP, len))
        }
        6 => {
            if pkt.len() < 48
                || pkt[6] != proto::UDP
                || usize::from(l4::get16(pkt, 4)) + 40 != pkt.len()
            {
                return None;
            }
            let a = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&pkt[i..i + 16]);
                Ipv6Addr::from(o)
            };
            let len = (pkt.len() - 40) as u32;
            (40, checksum::pseudo_v6(a(8), a(24), proto::UDP, len))
        }
        _ => return None,
    };
    let udp = &pkt[at..];
    if usize::from(l4::get16(udp, l4::UDP_LEN)) != udp.len() || udp.len() <= l4::UDP_HEADER_LEN {
        return None;
    }
    if !(off.partial || off.valid) {
        // A full checksum: merged, the kernel would compute a new one from
        // the data, so only a correct one may be merged. Zero (none, IPv4)
        // is left alone too.
        let c = l4::get16(udp, l4::UDP_CHECKSUM);
        if c == 0 || checksum::fold(pseudo + checksum::sum(udp)) != 0xffff {
            return None;
        }
    }
    Some(at + l4::UDP_HEADER_LEN)
}

/// Whether `a` and `b` (both eligible, headers `hdrs` long) belong to one
/// run: every header byte equal but lengths, Identification and checksums.
fn same_flow(a: &[u8], b: &[u8], hdrs: usize) -> bool {
    if a[0] >> 4 != b[0] >> 4 || b.len() < hdrs {
        return false;
    }
    let ip = if a[0] >> 4 == 4 {
        // version/IHL, TOS; flags/offset, TTL, protocol; addresses.
        a[..2] == b[..2] && a[6..10] == b[6..10] && a[12..20] == b[12..20]
    } else {
        // version, traffic class, flow label; next header, hop limit;
        // addresses.
        a[..4] == b[..4] && a[6..40] == b[6..40]
    };
    let u = hdrs - l4::UDP_HEADER_LEN;
    ip && a[u..u + 4] == b[u..u + 4]
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
        let u = hdrs - l4::UDP_HEADER_LEN;
        let p = &mut self.buf[VNET_HDR_LEN..VNET_HDR_LEN + len];
        let udp_len = len - u;
        let pseudo = if p[0] >> 4 == 4 {
            l4::set16(p, 2, len as u16);
            l4::set16(p, 10, 0);
            let c = checksum::finish(checksum::sum(&p[..20]));
            l4::set16(p, 10, c);
            let a = |i: usize| Ipv4Addr::new(p[i], p[i + 1], p[i + 2], p[i + 3]);
            checksum::pseudo_v4(a(12), a(16), proto::UDP, udp_len as u16)
        } else {
            l4::set16(p, 4, udp_len as u16);
            let a = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&p[i..i + 16]);
                Ipv6Addr::from(o)
            };
            checksum::pseudo_v6(a(8), a(24), proto::UDP, udp_len as u32)
        };
        l4::set16(&mut p[u..], l4::UDP_LEN, udp_len as u16);
        // Partial: the pseudo-header's sum, the kernel adds the data's
        // (per segment, after adjusting the length).
        l4::set16(&mut p[u..], l4::UDP_CHECKSUM, checksum::fold(pseudo));
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_UDP_L4,
            hdr_len: hdrs as u16,
            gso_size: self.seg as u16,
            csum_start: u as u16,
            csum_offset: l4::UDP_CHECKSUM as u16,
        }
        .write(&mut self.buf[..VNET_HDR_LEN]);
        Some((&self.buf[..VNET_HDR_LEN + len], count))
    }
}

#[cfg(test)]
mod tests;
