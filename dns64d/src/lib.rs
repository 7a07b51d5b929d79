//! dns64d: the DNS64 server of the gateway (RFC 6147, RFC 7050, RFC 8880).
//!
//! This version reads and validates the gateway configuration; the pure
//! DNS64 core and the server glue arrive with their issue. The library holds
//! the pure logic, the binary the I/O shell.
