//! nat64d: the stateful NAT64 translator of the gateway (RFC 7915, RFC 6146).
//!
//! This version reads and validates the gateway configuration; the packet
//! path (`wire`, `translate`, `state`, `pool`) arrives with its issues. The
//! library holds the pure logic, the binary the I/O shell.
