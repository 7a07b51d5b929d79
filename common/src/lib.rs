//! What nat64d and dns64d must agree on (req A1–A4): validated NAT64
//! prefixes, the RFC 6052 mapping between IPv4 and IPv6 addresses, the
//! special-purpose address ranges, and the shared `[prefix]` config section.
//!
//! Everything here is pure (no I/O except [`config::load`], which reads the
//! one file it is given), except the two shells both daemons share:
//! [`metrics`] (the `/metrics` endpoint), [`control`] (the control socket),
//! [`logging`], [`sched`] (a short scheduler slice for the threads that
//! carry packets) and [`memory`] (no transparent huge pages).

pub mod config;
pub mod control;
pub mod logging;
pub mod manpage;
pub mod memory;
pub mod metrics;
pub mod prefix;
pub mod sched;
pub mod special;
pub mod stdout;
pub mod sync;

pub use config::{ConfigError, GatewayFile, PrefixConfig};
pub use prefix::{
    LOCAL_USE_PREFIX, Nat64Prefix, PrefixError, PrefixKind, PrefixLen, WELL_KNOWN_PREFIX, embed,
    extract,
};
pub use special::{Embeddable, embeddable, special_v4, special_v6};
