//! The TCP header (RFC 9293).

use super::field;
use super::{PortRewrite, rewrite_ports};
use super::{get16, set16};
use crate::stats::DropReason;

use super::TCP_HEADER_LEN;

/// TCP flags (RFC 9293 §3.1).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// CWR (RFC 3168).
    pub const CWR: u8 = 0x80;
}

/// A TCP header in a buffer.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps bytes already validated or written here.
    #[inline]
    pub const fn new_unchecked(buf: T) -> Self {
        TcpPacket { buf }
    }

    /// Wraps untrusted bytes: the fixed header, and a data offset of at
    /// least 5 words within the buffer.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self, DropReason> {
        let b = buf.as_ref();
        if b.len() < TCP_HEADER_LEN {
            return Err(DropReason::TruncatedTransport);
        }
        let hlen = usize::from(b[field::TCP_DATA_OFFSET] >> 4) * 4;
        if hlen < TCP_HEADER_LEN || hlen > b.len() {
            return Err(DropReason::TruncatedTransport);
        }
        Ok(TcpPacket { buf })
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
    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
    /// The flags byte ([`tcp_flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[field::TCP_FLAGS]
    }
    /// Header length in bytes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::TCP_DATA_OFFSET] >> 4) * 4
    }
    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.buf.as_ref(), field::TCP_CHECKSUM)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, v: u32) {
        self.buf.as_mut()[field::TCP_SEQ..field::TCP_SEQ + 4].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the flags byte.
    #[inline]
    pub fn set_flags(&mut self, v: u8) {
        self.buf.as_mut()[field::TCP_FLAGS] = v;
    }
    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::TCP_CHECKSUM, v);
    }
    /// Rewrites the ports and adjusts the checksum for them and for the
    /// pseudo-header's addresses (RFC 1624), as `r` says. A header cut
    /// before its checksum (inside an ICMP error) gets the ports only.
    #[inline]
    pub fn rewrite_ports(&mut self, r: &PortRewrite) {
        rewrite_ports(self.buf.as_mut(), field::TCP_CHECKSUM, false, r);
    }
}
