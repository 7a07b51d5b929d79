//! A typed view over an IPv4 header (RFC 791).
//!
//! [`Ipv4Packet::new_checked`] validates version, IHL and total length once;
//! after it no accessor can panic. Setters need `AsMut<[u8]>`.

use std::net::Ipv4Addr;

use super::checksum;
use crate::stats::DropReason;

mod field {
    pub(super) const VER_IHL: usize = 0;
    pub(super) const TOS: usize = 1;
    pub(super) const LEN: usize = 2;
    pub(super) const ID: usize = 4;
    pub(super) const FLAGS_FRAG: usize = 6;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTO: usize = 9;
    pub(super) const CHECKSUM: usize = 10;
    pub(super) const SRC: usize = 12;
    pub(super) const DST: usize = 16;
}

/// Length of the IPv4 header without options.
pub const HEADER_LEN: usize = 20;

const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// An IPv4 packet in a buffer; the buffer may be longer than the packet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buf` without checks; for buffers this code has just written.
    pub const fn new_unchecked(buf: T) -> Self {
        Ipv4Packet { buf }
    }

    /// Wraps untrusted bytes: version 4, IHL ≥ 5, IHL within the total
    /// length, total length within the buffer.
    pub fn new_checked(buf: T) -> Result<Self, DropReason> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DropReason::TruncatedHeader);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(DropReason::BadVersion);
        }
        let ihl = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([b[field::LEN], b[field::LEN + 1]]));
        if ihl < HEADER_LEN || ihl > b.len() {
            return Err(DropReason::BadHeaderLength);
        }
        if total < ihl || total > b.len() {
            return Err(DropReason::BadTotalLength);
        }
        Ok(Ipv4Packet { buf })
    }

    /// Wraps a packet quoted inside an ICMP error, which may be cut short
    /// (RFC 792: the header and at least 8 bytes): the header with its
    /// options must be whole; the payload is whatever arrived.
    pub fn new_truncated(buf: T) -> Result<Self, DropReason> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DropReason::TruncatedInner);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(DropReason::BadVersion);
        }
        let ihl = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([b[field::LEN], b[field::LEN + 1]]));
        if ihl < HEADER_LEN || ihl > b.len() || total < ihl {
            return Err(DropReason::TruncatedInner);
        }
        Ok(Ipv4Packet { buf })
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.b()[at], self.b()[at + 1]])
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::VER_IHL] & 0x0f) * 4
    }
    /// Type of Service.
    pub fn tos(&self) -> u8 {
        self.b()[field::TOS]
    }
    /// Total length.
    pub fn total_len(&self) -> u16 {
        self.u16_at(field::LEN)
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        self.u16_at(field::ID)
    }
    /// Don't Fragment.
    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLAGS_FRAG) & DF != 0
    }
    /// More Fragments.
    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLAGS_FRAG) & MF != 0
    }
    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.u16_at(field::FLAGS_FRAG) & OFFSET_MASK
    }
    /// Whether this is a fragment (MF set or offset non-zero).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    /// Time to Live.
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }
    /// Protocol.
    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTO]
    }
    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(
            b[field::SRC],
            b[field::SRC + 1],
            b[field::SRC + 2],
            b[field::SRC + 3],
        )
    }
    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(
            b[field::DST],
            b[field::DST + 1],
            b[field::DST + 2],
            b[field::DST + 3],
        )
    }
    /// The options, between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len()]
    }
    /// The payload, up to the total length (or to the end of the buffer for
    /// a truncated quoted packet).
    pub fn payload(&self) -> &[u8] {
        let b = self.b();
        &b[self.header_len()..usize::from(self.total_len()).min(b.len())]
    }
    /// Whether the header checksum is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        let h = &self.b()[..self.header_len()];
        if let Ok(w) = <&[u8; HEADER_LEN]>::try_from(h) {
            // The common 20-byte header: five native-order 32-bit words. A
            // one's-complement sum of 0xffff reads the same in either byte
            // order (RFC 1071 §2(B)), so no swap is needed.
            let word =
                |i: usize| u64::from(u32::from_ne_bytes([w[i], w[i + 1], w[i + 2], w[i + 3]]));
            let s = word(0) + word(4) + word(8) + word(12) + word(16);
            let s = (s >> 32) + (s & 0xffff_ffff);
            let s = (s >> 32) + (s & 0xffff_ffff);
            return checksum::fold(s as u32) == 0xffff;
        }
        checksum::fold(checksum::sum(h)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        self.buf.as_mut()[field::LEN..field::LEN + 2].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the Identification.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        self.buf.as_mut()[field::ID..field::ID + 2].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets DF, MF and the fragment offset (in 8-byte units).
    #[inline]
    pub fn set_frag(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let ff = if dont_frag { DF } else { 0 }
            | if more_frags { MF } else { 0 }
            | (offset & OFFSET_MASK);
        self.buf.as_mut()[field::FLAGS_FRAG..field::FLAGS_FRAG + 2]
            .copy_from_slice(&ff.to_be_bytes());
    }
    /// Computes the header checksum (options included) and stores it.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        let b = self.buf.as_mut();
        b[field::CHECKSUM..field::CHECKSUM + 2].fill(0);
        let c = checksum::finish(checksum::sum(&b[..hl]));
        b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
    }
    /// Writes a fresh 20-byte header (no options) with a correct checksum.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn write_header(
        &mut self,
        tos: u8,
        total_len: u16,
        ident: u16,
        dont_frag: bool,
        more_frags: bool,
        frag_offset: u16,
        ttl: u8,
        protocol: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        let flags = if dont_frag { DF } else { 0 } | if more_frags { MF } else { 0 };
        let ff = flags | (frag_offset & OFFSET_MASK);
        // The checksum is summed from the field values, not re-read.
        let ver_tos = 0x4500 | u16::from(tos);
        let ttl_proto = u16::from_be_bytes([ttl, protocol]);
        let s = u32::from(ver_tos)
            + u32::from(total_len)
            + u32::from(ident)
            + u32::from(ff)
            + u32::from(ttl_proto)
            + checksum::sum_v4(src)
            + checksum::sum_v4(dst);
        let c = checksum::finish(s);
        let mut h = [0u8; HEADER_LEN];
        h[0..2].copy_from_slice(&ver_tos.to_be_bytes());
        h[field::LEN..field::LEN + 2].copy_from_slice(&total_len.to_be_bytes());
        h[field::ID..field::ID + 2].copy_from_slice(&ident.to_be_bytes());
        h[field::FLAGS_FRAG..field::FLAGS_FRAG + 2].copy_from_slice(&ff.to_be_bytes());
        h[field::TTL..field::TTL + 2].copy_from_slice(&ttl_proto.to_be_bytes());
        h[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
        h[field::SRC..field::SRC + 4].copy_from_slice(&src.octets());
        h[field::DST..field::DST + 4].copy_from_slice(&dst.octets());
        self.buf.as_mut()[..HEADER_LEN].copy_from_slice(&h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> [u8; 20] {
        let mut b = [0u8; 20];
        Ipv4Packet::new_unchecked(&mut b[..]).write_header(
            0x10,
            20,
            0x1234,
            true,
            false,
            0,
            64,
            17,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(203, 0, 113, 10),
        );
        b
    }

    #[test]
    fn write_then_read() {
        let b = header();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(
            (p.tos(), p.total_len(), p.ident(), p.ttl(), p.protocol()),
            (0x10, 20, 0x1234, 64, 17)
        );
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.src(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(p.dst(), Ipv4Addr::new(203, 0, 113, 10));
        let oracle = etherparse::Ipv4HeaderSlice::from_slice(&b).unwrap();
        assert_eq!(
            oracle.header_checksum(),
            oracle.to_header().calc_header_checksum()
        );
    }

    proptest::proptest! {
        /// The 20-byte fast path agrees with the generic RFC 1071 sum.
        #[test]
        fn verify_checksum_fast_path_matches_sum(mut h in proptest::array::uniform20(proptest::prelude::any::<u8>()), fix in proptest::prelude::any::<bool>()) {
            h[0] = 0x45;
            if fix {
                h[10] = 0;
                h[11] = 0;
                let c = checksum::finish(checksum::sum(&h));
                h[10..12].copy_from_slice(&c.to_be_bytes());
            }
            let generic = checksum::fold(checksum::sum(&h)) == 0xffff;
            proptest::prop_assert_eq!(Ipv4Packet::new_unchecked(&h[..]).verify_checksum(), generic);
            if fix {
                proptest::prop_assert!(generic);
            }
        }
    }

    #[test]
    fn refuses_malformed() {
        let good = header();
        assert_eq!(
            Ipv4Packet::new_checked(&good[..19]).unwrap_err(),
            DropReason::TruncatedHeader
        );
        let mut b = good;
        b[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadVersion
        );
        let mut b = good;
        b[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadHeaderLength
        );
        let mut b = good;
        b[0] = 0x46;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadHeaderLength
        );
        let mut b = good;
        b[3] = 21;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadTotalLength
        );
        let mut b = good;
        b[3] = 19;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            DropReason::BadTotalLength
        );
    }
}
