//! dns64d: the DNS64 server of the gateway (RFC 6147, RFC 7050, RFC 8880).
//!
//! The library holds the pure logic (`core`: what to ask upstream and what
//! to answer); the binary holds the I/O shell.

pub mod cache;
pub mod config;
pub mod core;
pub mod fast;
pub mod listen;
pub mod querylog;
pub mod readers;
pub mod reuseport;
pub mod server;
pub mod upstream;
