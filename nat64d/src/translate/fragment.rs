//! The translator's own fragmentation (req N4 IPv4 side, N7 IPv6 side).
//!
//! A translation whose result is larger than the egress MTU and may be
//! fragmented (DF clear) comes back as [`super::Verdict::Fragment`]: the whole
//! translated packet, already correct in every field, lies in the buffer.
//! [`Fragments`] then cuts it into fragments one at a time, each written into
//! a buffer the caller owns, so nothing is allocated per packet.
//!
//! IPv4 (RFC 791 §3.2): the header is repeated, the payload cut on 8-byte
//! boundaries, offsets added to the packet's own offset, MF set on all but
//! the last (and on the last too when the packet was itself a non-final
//! fragment), the header checksum recomputed. IPv6 (RFC 8200 §4.5): the
//! packet already carries a Fragment header (the translator adds one, RFC
//! 7915 §4.1); the fragmentable part after it is cut the same way, the
//! Identification kept.

use crate::stats::DropReason;
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv6::{self, FragHeader, Ipv6Packet, proto, write_frag_header};

/// Cuts one translated packet into fragments that fit an MTU.
#[derive(Debug, Clone)]
pub struct Fragments<'a> {
    pkt: &'a [u8],
    /// Bytes repeated in front of every fragment: the IPv4 header, or the
    /// IPv6 header plus the Fragment header.
    head: usize,
    /// Payload bytes per fragment, a multiple of 8.
    chunk: usize,
    /// Next payload byte to send, counted from `head`.
    pos: usize,
    /// The packet's own fragment offset, in 8-byte units.
    base: u16,
    /// The packet's own More Fragments flag.
    more: bool,
    v6: bool,
}

impl<'a> Fragments<'a> {
    /// Prepares to cut `pkt` (an IPv4 packet, or an IPv6 packet whose first
    /// extension header is a Fragment header, as the translator builds them)
    /// into fragments of at most `mtu` bytes.
    ///
    /// Refused with [`DropReason::MtuTooSmall`] when `mtu` leaves no room
    /// for 8 bytes of payload after the repeated headers, and with
    /// [`DropReason::TruncatedHeader`] when `pkt` is not such a packet.
    pub fn new(pkt: &'a [u8], mtu: u16) -> Result<Self, DropReason> {
        let mtu = usize::from(mtu);
        let Some(&first) = pkt.first() else {
            return Err(DropReason::TruncatedHeader);
        };
        let (head, base, more, v6) = if first >> 4 == 4 {
            let head = usize::from(first & 0xf) * 4;
            if head < ipv4::HEADER_LEN || pkt.len() < head {
                return Err(DropReason::TruncatedHeader);
            }
            let ip = Ipv4Packet::new_unchecked(pkt);
            (head, ip.frag_offset(), ip.more_frags(), false)
        } else {
            let head = ipv6::HEADER_LEN + ipv6::FRAG_HEADER_LEN;
            let fh = pkt
                .get(ipv6::HEADER_LEN..head)
                .and_then(|b| <&[u8; 8]>::try_from(b).ok());
            let Some(fh) =
                fh.filter(|_| Ipv6Packet::new_unchecked(pkt).next_header() == proto::FRAGMENT)
            else {
                return Err(DropReason::TruncatedHeader);
            };
            let (_, f) = FragHeader::read(fh);
            (head, f.offset(), f.more(), true)
        };
        if usize::from(base) * 8 + pkt.len() - head > 0xffff {
            // The fragment offset field could not express the last piece.
            return Err(DropReason::TooBig);
        }
        let chunk = mtu.saturating_sub(head) & !7;
        if chunk == 0 {
            return Err(DropReason::MtuTooSmall);
        }
        Ok(Fragments {
            pkt,
            head,
            chunk,
            pos: 0,
            base,
            more,
            v6,
        })
    }

    /// How many fragments the packet is cut into.
    pub fn count(&self) -> usize {
        (self.pkt.len() - self.head).div_ceil(self.chunk).max(1)
    }

    /// Writes the next fragment into `out` and returns it, or `None` when
    /// every fragment has been written. When `out` is shorter than the MTU
    /// the fragments are simply smaller; when it cannot hold the headers
    /// and 8 bytes of payload, nothing is written (`None`).
    pub fn next_into<'o>(&mut self, out: &'o mut [u8]) -> Option<&'o [u8]> {
        let payload = self.pkt.len() - self.head;
        if self.pos >= payload && !(self.pos == 0 && payload == 0) {
            return None;
        }
        let room = out.len().saturating_sub(self.head) & !7;
        let chunk = self.chunk.min(room);
        if chunk == 0 {
            return None;
        }
        let n = chunk.min(payload - self.pos);
        let last = self.pos + n >= payload;
        let len = self.head + n;
        // `new` checked that base * 8 + payload fits 16 bits, so this fits
        // the 13-bit field.
        let offset = self.base + u16::try_from(self.pos / 8).ok()?;
        let more = self.more || !last;
        let frag = &mut out[..len];
        frag[..self.head].copy_from_slice(&self.pkt[..self.head]);
        frag[self.head..].copy_from_slice(&self.pkt[self.head + self.pos..][..n]);
        if self.v6 {
            let plen = u16::try_from(len - ipv6::HEADER_LEN).ok()?;
            Ipv6Packet::new_unchecked(&mut *frag).set_payload_len(plen);
            let fh = &mut frag[ipv6::HEADER_LEN..self.head];
            let (next, f) = FragHeader::read(<&[u8; 8]>::try_from(&*fh).ok()?);
            write_frag_header(fh, next, FragHeader::new(offset, more, f.ident()));
        } else {
            let total = u16::try_from(len).ok()?;
            let mut ip = Ipv4Packet::new_unchecked(&mut *frag);
            let dont_frag = ip.dont_frag();
            ip.set_total_len(total);
            ip.set_frag(dont_frag, more, offset);
            ip.fill_checksum();
        }
        // The empty-payload case sends its one fragment once.
        self.pos += n.max(1);
        Some(frag)
    }
}
