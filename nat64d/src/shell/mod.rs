//! nat64d's I/O shell, one module per job: [`start`] (start-up, the control
//! loop, stop), [`reload`] (SIGHUP), [`mapping_log`], [`metrics`], [`tun`]
//! (the device and its routes), [`control`] (the `nat64gw` socket), [`sources`] (customers over their
//! limits, the busiest prefixes), [`worker`] (the read loop around the
//! library's packet driver). [`shared`] is what the workers and the control
//! thread share; it imports neither side.

mod affinity;
mod control;
mod mapping_log;
mod metrics;
mod reload;
mod shared;
mod sources;
pub(crate) mod start;
mod steering;
mod trim;
mod tun;
mod worker;

pub(crate) use mapping_log::check as mapping_log_usable;
