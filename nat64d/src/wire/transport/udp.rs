//! The UDP header (RFC 768).

use super::field;
use super::{PortRewrite, rewrite_ports};
use super::{get16, set16};
use crate::stats::DropReason;
use crate::wire::checksum;

use super::UDP_HEADER_LEN;

/// A UDP header in a buffer.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps bytes already validated or written here.
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        UdpPacket { buf }
    }

    /// Wraps untrusted bytes: the header, and a length field of at least
    /// the header that the buffer holds.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self, DropReason> {
        let b = buf.as_ref();
        if b.len() < UDP_HEADER_LEN {
            return Err(DropReason::TruncatedTransport);
        }
        let len = usize::from(get16(b, field::UDP_LEN));
        if len < UDP_HEADER_LEN || len > b.len() {
            return Err(DropReason::TruncatedTransport);
        }
        Ok(UdpPacket { buf })
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::SRC_PORT)
    }
    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::DST_PORT)
    }
    /// The length field: header and data.
    #[inline]
    pub fn len(&self) -> u16 {
        get16(self.buf.as_ref(), field::UDP_LEN)
    }
    /// Whether the length field is zero (never, for a checked header).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The checksum field; 0 means none (IPv4 only).
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.buf.as_ref(), field::UDP_CHECKSUM)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::UDP_LEN, v);
    }
    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::UDP_CHECKSUM, v);
    }
    /// Sets both ports.
    #[inline]
    pub fn set_ports(&mut self, src: u16, dst: u16) {
        let b = self.buf.as_mut();
        set16(b, field::SRC_PORT, src);
        set16(b, field::DST_PORT, dst);
    }
    /// Computes the checksum over the whole datagram in the buffer plus
    /// `pseudo` (the pseudo-header's sum) and stores it; zero is sent as
    /// `0xffff` (RFC 768).
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let mut c = checksum::finish(pseudo + checksum::sum(self.buf.as_ref()));
        if c == 0 {
            c = 0xffff;
        }
        self.set_checksum(c);
    }
    /// As [`TcpPacket::rewrite_ports`]; a zero checksum (none, IPv4) stays
    /// zero, and a result of zero is sent as `0xffff` (RFC 768).
    #[inline]
    pub fn rewrite_ports(&mut self, r: &PortRewrite) {
        rewrite_ports(self.buf.as_mut(), field::UDP_CHECKSUM, true, r);
    }
}
