//! A typed view over an IPv6 header (RFC 8200) and a walk over its
//! extension headers.
//!
//! [`Ipv6Packet::new_checked`] validates version and payload length once;
//! [`Ipv6Packet::walk`] finds the upper-layer header, the Fragment header
//! and a Routing header with segments left, bounded in count and length.

use std::net::Ipv6Addr;
use std::num::NonZeroU64;

use crate::stats::DropReason;

mod field {
    pub(super) const PAYLOAD_LEN: usize = 4;
    pub(super) const NEXT_HEADER: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC: usize = 8;
    pub(super) const DST: usize = 24;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;
/// Length of the Fragment header.
pub const FRAG_HEADER_LEN: usize = 8;

/// Next Header values (IANA "Assigned Internet Protocol Numbers").
pub mod proto {
    /// Hop-by-Hop Options.
    pub const HOP_BY_HOP: u8 = 0;
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// Routing header.
    pub const ROUTING: u8 = 43;
    /// Fragment header.
    pub const FRAGMENT: u8 = 44;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// No Next Header.
    pub const NO_NEXT: u8 = 59;
    /// Destination Options.
    pub const DEST_OPTS: u8 = 60;
}

/// The most extension headers [`Ipv6Packet::walk`] follows.
pub const MAX_EXT_HEADERS: usize = 8;

/// A Fragment header (RFC 8200 §4.5): offset, M flag and Identification,
/// packed in one non-zero word so that an `Option<FragHeader>` is a single
/// 8-byte value (stored and loaded whole on the packet path, never byte by
/// byte).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FragHeader(NonZeroU64);

impl FragHeader {
    /// Bit marking the word non-zero.
    const PRESENT: u64 = 1 << 63;

    /// A Fragment header with offset `offset` (8-byte units, 13 bits), M
    /// flag `more` and Identification `ident`.
    #[inline]
    pub const fn new(offset: u16, more: bool, ident: u32) -> Self {
        let w =
            Self::PRESENT | ((offset as u64 & 0x1fff) << 33) | ((more as u64) << 32) | ident as u64;
        match NonZeroU64::new(w) {
            Some(w) => FragHeader(w),
            None => unreachable!(),
        }
    }
    /// Fragment offset in 8-byte units.
    #[inline]
    pub const fn offset(&self) -> u16 {
        ((self.0.get() >> 33) & 0x1fff) as u16
    }
    /// M flag: more fragments follow.
    #[inline]
    pub const fn more(&self) -> bool {
        (self.0.get() >> 32) & 1 != 0
    }
    /// Identification.
    #[inline]
    pub const fn ident(&self) -> u32 {
        self.0.get() as u32
    }
    /// Reads the 8 bytes of a Fragment header (RFC 8200 §4.5): its Next
    /// Header and the header.
    #[inline]
    pub fn read(b: &[u8; FRAG_HEADER_LEN]) -> (u8, Self) {
        let off_flags = u16::from_be_bytes([b[2], b[3]]);
        let ident = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        (
            b[0],
            FragHeader::new(off_flags >> 3, off_flags & 1 != 0, ident),
        )
    }
    /// Whether this is the first fragment (the one with the transport header).
    #[inline]
    pub const fn is_first(&self) -> bool {
        self.offset() == 0
    }
}

impl std::fmt::Debug for FragHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FragHeader")
            .field("offset", &self.offset())
            .field("more", &self.more())
            .field("ident", &self.ident())
            .finish()
    }
}

/// What the extension-header walk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers6 {
    /// The upper-layer protocol (final Next Header).
    pub upper: u8,
    /// Offset of the upper-layer data from the start of the IPv6 header.
    pub upper_offset: usize,
    /// The Fragment header, if any.
    pub frag: Option<FragHeader>,
    /// Offset (from the IPv6 header) of the Segments Left field of a Routing
    /// header whose Segments Left is non-zero (RFC 7915 §5.1: answered with
    /// a Parameter Problem pointing there).
    pub routing_pointer: Option<usize>,
}

/// An IPv6 packet in a buffer; the buffer may be longer than the packet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buf` without checks; for buffers this code has just written.
    pub const fn new_unchecked(buf: T) -> Self {
        Ipv6Packet { buf }
    }

    /// Wraps untrusted bytes: version 6, payload length within the buffer.
    pub fn new_checked(buf: T) -> Result<Self, DropReason> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DropReason::TruncatedHeader);
        }
        if b[0] >> 4 != 6 {
            return Err(DropReason::BadVersion);
        }
        let plen = usize::from(u16::from_be_bytes([
            b[field::PAYLOAD_LEN],
            b[field::PAYLOAD_LEN + 1],
        ]));
        if HEADER_LEN + plen > b.len() {
            return Err(DropReason::BadTotalLength);
        }
        Ok(Ipv6Packet { buf })
    }

    /// Wraps a packet quoted inside an ICMP error, which may be cut short
    /// (RFC 4443 §2.4(c)): only the fixed header must be whole; the payload
    /// is whatever arrived, up to the payload length.
    pub fn new_truncated(buf: T) -> Result<Self, DropReason> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DropReason::TruncatedInner);
        }
        if b[0] >> 4 != 6 {
            return Err(DropReason::BadVersion);
        }
        Ok(Ipv6Packet { buf })
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Traffic Class.
    pub fn traffic_class(&self) -> u8 {
        let b = self.b();
        (b[0] << 4) | (b[1] >> 4)
    }
    /// Flow Label.
    pub fn flow_label(&self) -> u32 {
        let b = self.b();
        u32::from_be_bytes([0, b[1] & 0x0f, b[2], b[3]])
    }
    /// Payload length.
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes([
            self.b()[field::PAYLOAD_LEN],
            self.b()[field::PAYLOAD_LEN + 1],
        ])
    }
    /// Total length, header included.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + usize::from(self.payload_len())
    }
    /// Next Header of the fixed header.
    pub fn next_header(&self) -> u8 {
        self.b()[field::NEXT_HEADER]
    }
    /// Hop Limit.
    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT]
    }
    /// Source address.
    pub fn src(&self) -> Ipv6Addr {
        addr_at(self.b(), field::SRC)
    }
    /// Destination address.
    pub fn dst(&self) -> Ipv6Addr {
        addr_at(self.b(), field::DST)
    }
    /// The packet, up to the payload length (or to the end of the buffer
    /// for a truncated quoted packet).
    pub fn packet(&self) -> &[u8] {
        let b = self.b();
        &b[..self.total_len().min(b.len())]
    }

    /// Walks the extension headers (RFC 8200 §4): Hop-by-Hop (first only),
    /// Routing, Fragment and Destination Options are skipped; anything else
    /// is the upper layer. At most [`MAX_EXT_HEADERS`] are followed.
    #[inline]
    pub fn walk(&self) -> Result<Headers6, DropReason> {
        let next = self.next_header();
        if !matches!(
            next,
            proto::HOP_BY_HOP | proto::ROUTING | proto::DEST_OPTS | proto::FRAGMENT
        ) {
            // The common case: no extension headers.
            return Ok(Headers6 {
                upper: next,
                upper_offset: HEADER_LEN,
                frag: None,
                routing_pointer: None,
            });
        }
        self.walk_extensions()
    }

    fn walk_extensions(&self) -> Result<Headers6, DropReason> {
        let pkt = self.packet();
        let mut next = self.next_header();
        let mut at = HEADER_LEN;
        let mut frag = None;
        let mut routing_pointer = None;
        for count in 0..=MAX_EXT_HEADERS {
            match next {
                proto::HOP_BY_HOP | proto::ROUTING | proto::DEST_OPTS | proto::FRAGMENT => {}
                _ => {
                    return Ok(Headers6 {
                        upper: next,
                        upper_offset: at,
                        frag,
                        routing_pointer,
                    });
                }
            }
            if count == MAX_EXT_HEADERS {
                break;
            }
            if next == proto::HOP_BY_HOP && count != 0 {
                return Err(DropReason::MisplacedHopByHop);
            }
            let Some(hdr) = pkt.get(at..at + 8) else {
                return Err(DropReason::BadExtensionHeaders);
            };
            let len = if next == proto::FRAGMENT {
                if frag.is_some() {
                    return Err(DropReason::BadExtensionHeaders);
                }
                let off_flags = u16::from_be_bytes([hdr[2], hdr[3]]);
                let ident = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
                frag = Some(FragHeader::new(off_flags >> 3, off_flags & 1 != 0, ident));
                FRAG_HEADER_LEN
            } else {
                (usize::from(hdr[1]) + 1) * 8
            };
            if next == proto::ROUTING && hdr[3] != 0 && routing_pointer.is_none() {
                routing_pointer = Some(at + 3);
            }
            if at + len > pkt.len() {
                return Err(DropReason::BadExtensionHeaders);
            }
            next = hdr[0];
            at += len;
        }
        Err(DropReason::BadExtensionHeaders)
    }
}

fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(a)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, v: u16) {
        self.buf.as_mut()[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2]
            .copy_from_slice(&v.to_be_bytes());
    }
    /// Writes a fresh 40-byte header.
    pub fn write_header(
        &mut self,
        traffic_class: u8,
        payload_len: u16,
        next_header: u8,
        hop_limit: u8,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) {
        let b = &mut self.buf.as_mut()[..HEADER_LEN];
        b[0] = 0x60 | (traffic_class >> 4);
        b[1] = traffic_class << 4;
        b[2] = 0;
        b[3] = 0;
        b[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2].copy_from_slice(&payload_len.to_be_bytes());
        b[field::NEXT_HEADER] = next_header;
        b[field::HOP_LIMIT] = hop_limit;
        b[field::SRC..field::SRC + 16].copy_from_slice(&src.octets());
        b[field::DST..field::DST + 16].copy_from_slice(&dst.octets());
    }
}

/// Writes a Fragment header into `b[..8]`.
pub fn write_frag_header(b: &mut [u8], next_header: u8, frag: FragHeader) {
    b[0] = next_header;
    b[1] = 0;
    let off_flags = (frag.offset() << 3) | u16::from(frag.more());
    b[2..4].copy_from_slice(&off_flags.to_be_bytes());
    b[4..8].copy_from_slice(&frag.ident().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next: u8, ext: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN];
        let plen = u16::try_from(ext.len() + payload.len()).unwrap();
        Ipv6Packet::new_unchecked(&mut b[..]).write_header(
            0xb8,
            plen,
            next,
            64,
            "2001:db8:1::2".parse().unwrap(),
            "64:ff9b::203.0.113.10".parse().unwrap(),
        );
        b.extend_from_slice(ext);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn fields() {
        let b = packet(proto::UDP, &[], &[0; 8]);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (
                p.traffic_class(),
                p.flow_label(),
                p.payload_len(),
                p.hop_limit()
            ),
            (0xb8, 0, 8, 64)
        );
        let h = p.walk().unwrap();
        assert_eq!(
            (h.upper, h.upper_offset, h.frag, h.routing_pointer),
            (proto::UDP, 40, None, None)
        );
        let oracle = etherparse::Ipv6HeaderSlice::from_slice(&b).unwrap();
        assert_eq!(oracle.source_addr(), p.src());
        assert_eq!(oracle.destination_addr(), p.dst());
    }

    #[test]
    fn walks_hbh_dest_routing_fragment() {
        let mut ext = Vec::new();
        ext.extend_from_slice(&[proto::DEST_OPTS, 0, 1, 4, 0, 0, 0, 0]); // HbH, PadN
        ext.extend_from_slice(&[proto::ROUTING, 0, 1, 4, 0, 0, 0, 0]); // DestOpts
        ext.extend_from_slice(&[proto::FRAGMENT, 0, 0, 0, 0, 0, 0, 0]); // Routing, segments left 0
        let mut fh = [0u8; 8];
        write_frag_header(&mut fh, proto::TCP, FragHeader::new(0, true, 0xdead_beef));
        ext.extend_from_slice(&fh);
        let b = packet(proto::HOP_BY_HOP, &ext, &[0; 20]);
        let h = Ipv6Packet::new_checked(&b[..]).unwrap().walk().unwrap();
        assert_eq!(h.upper, proto::TCP);
        assert_eq!(h.upper_offset, 72);
        assert_eq!(h.frag, Some(FragHeader::new(0, true, 0xdead_beef)));
        assert_eq!(h.routing_pointer, None);
    }

    #[test]
    fn routing_with_segments_left_is_reported() {
        let ext = [proto::UDP, 0, 0, 2, 0, 0, 0, 0];
        let b = packet(proto::ROUTING, &ext, &[0; 8]);
        let h = Ipv6Packet::new_checked(&b[..]).unwrap().walk().unwrap();
        assert_eq!(h.routing_pointer, Some(43));
    }

    #[test]
    fn refuses_malformed() {
        let b = packet(proto::UDP, &[], &[0; 8]);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..39]).unwrap_err(),
            DropReason::TruncatedHeader
        );
        assert_eq!(
            Ipv6Packet::new_checked(&b[..47]).unwrap_err(),
            DropReason::BadTotalLength
        );
        let mut v = b.clone();
        v[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&v[..]).unwrap_err(),
            DropReason::BadVersion
        );
        // Hop-by-Hop after another header.
        let ext = [
            proto::HOP_BY_HOP,
            0,
            1,
            4,
            0,
            0,
            0,
            0,
            proto::UDP,
            0,
            1,
            4,
            0,
            0,
            0,
            0,
        ];
        let b = packet(proto::DEST_OPTS, &ext, &[0; 8]);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap().walk().unwrap_err(),
            DropReason::MisplacedHopByHop
        );
        // An extension header longer than the packet.
        let b = packet(proto::DEST_OPTS, &[proto::UDP, 5, 0, 0, 0, 0, 0, 0], &[]);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap().walk().unwrap_err(),
            DropReason::BadExtensionHeaders
        );
        // A chain longer than we follow.
        let mut ext = Vec::new();
        for _ in 0..MAX_EXT_HEADERS {
            ext.extend_from_slice(&[proto::DEST_OPTS, 0, 1, 4, 0, 0, 0, 0]);
        }
        let b = packet(proto::DEST_OPTS, &ext, &[]);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap().walk().unwrap_err(),
            DropReason::BadExtensionHeaders
        );
        // Two fragment headers.
        let ext = [
            proto::FRAGMENT,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            proto::UDP,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
        ];
        let b = packet(proto::FRAGMENT, &ext, &[0; 8]);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap().walk().unwrap_err(),
            DropReason::BadExtensionHeaders
        );
    }
}
