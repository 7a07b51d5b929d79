//! Zero-copy views over packet bytes (smoltcp style): checked construction
//! for untrusted input, then accessors that cannot panic, setters on
//! `AsMut<[u8]>`. No allocation.

pub mod checksum;
pub mod ipv4;
pub mod ipv6;
pub mod transport;

/// Transport-header offsets shared by TCP, UDP and ICMP (RFC 9293, RFC 768,
/// RFC 792, RFC 4443).
pub mod l4 {
    /// Source port (TCP/UDP) at 0..2, destination port at 2..4.
    pub const SRC_PORT: usize = 0;
    /// Destination port.
    pub const DST_PORT: usize = 2;
    /// UDP length field.
    pub const UDP_LEN: usize = 4;
    /// UDP checksum field.
    pub const UDP_CHECKSUM: usize = 6;
    /// TCP checksum field.
    pub const TCP_CHECKSUM: usize = 16;
    /// TCP data offset (high nibble) byte.
    pub const TCP_DATA_OFFSET: usize = 12;
    /// TCP flags byte.
    pub const TCP_FLAGS: usize = 13;
    /// ICMP type, code, checksum, then the identifier of an echo message.
    pub const ICMP_TYPE: usize = 0;
    /// ICMP code.
    pub const ICMP_CODE: usize = 1;
    /// ICMP checksum field.
    pub const ICMP_CHECKSUM: usize = 2;
    /// Echo identifier.
    pub const ICMP_ECHO_ID: usize = 4;
    /// Fixed length of a TCP header.
    pub const TCP_HEADER_LEN: usize = 20;
    /// Length of a UDP header.
    pub const UDP_HEADER_LEN: usize = 8;
    /// Length of the ICMP header (type, code, checksum, 4 bytes of rest).
    pub const ICMP_HEADER_LEN: usize = 8;

    /// The big-endian `u16` at `at`; the caller has checked the length.
    #[inline]
    pub fn get16(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// Stores a big-endian `u16` at `at`.
    #[inline]
    pub fn set16(b: &mut [u8], at: usize, v: u16) {
        b[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}
