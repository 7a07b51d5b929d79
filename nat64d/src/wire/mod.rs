//! Zero-copy views over packet bytes (smoltcp style): checked construction
//! for untrusted input, then accessors that cannot panic, setters on
//! `AsMut<[u8]>`. No allocation. [`ipv4`], [`ipv6`] (with extension
//! headers and the Fragment header), [`transport`] (TCP, UDP, ICMP), and
//! [`checksum`] (RFC 1071 sums, RFC 1624 adjustment).

pub mod checksum;
pub mod ipv4;
pub mod ipv6;
pub mod transport;

/// Big-endian 16-bit fields at raw offsets, for tests that build or
/// corrupt packets byte by byte; the packet path uses the views.
#[cfg(test)]
pub(crate) mod l4 {
    /// The big-endian `u16` at `at`.
    pub(crate) fn get16(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// Stores a big-endian `u16` at `at`.
    pub(crate) fn set16(b: &mut [u8], at: usize, v: u16) {
        b[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}
