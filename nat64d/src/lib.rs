//! nat64d: the stateful NAT64 translator of the gateway (RFC 7915, RFC 6146).
//!
//! The library holds the pure packet logic: [`wire`] (typed views over
//! bytes), [`translate`] (RFC 7915, in place), [`state`] (RFC 6146 BIB and
//! sessions), [`pool`] (IPv4 address:port allocation), [`offload`] (the TUN's
//! virtio-net header: super-packets and partial checksums), [`stats`] (why a
//! packet was dropped). It reads no clock and does no I/O; the binary is
//! the I/O shell.

pub mod config;
pub mod driver;
pub mod flow;
pub mod gateway;
pub mod limits;
pub mod offload;
pub mod pool;
pub mod report;
pub mod state;
pub mod stats;
pub mod translate;
pub mod verdict;
pub mod wire;
