//! SIGHUP (req O1): reads the file again and applies it, except the keys
//! that take effect only at start ([`nat64d::config::keep_restart_only`]
//! says which). A file that does not load, or whose static bindings clash
//! with live ones, changes nothing. Sessions are kept.

use nat64d::config::{File, keep_restart_only};

use super::mapping_log::LogWriter;
use super::shared::Shared;
use crate::{Args, load};

/// Applies the file; `running` becomes what now runs. Returns whether the
/// reload was applied.
pub(crate) fn reload(
    args: &Args,
    running: &mut File,
    shared: &Shared,
    log: &LogWriter,
    now: u32,
) -> bool {
    let mut new = match load(args) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("reload rejected, the running configuration stays: {e}");
            return false;
        }
    };
    let mut events = Vec::new();
    let gw = &shared.gateway;
    if let Err(e) = gw
        .table
        .set_statics(now, &gw.pool, &new.nat64.statics(), &mut events)
    {
        tracing::error!("reload rejected, the running configuration stays: nat64.static: {e}");
        return false;
    }
    for key in keep_restart_only(running, &mut new) {
        tracing::warn!("reload: {key} changes only at restart; the running value stays");
    }
    let c = &new.nat64;
    gw.table.reconfigure(c.state_config());
    shared.set_policy(c.policy(&new.prefix), c.icmp_error_rate);
    log.reopen(c.mapping_log.clone());
    shared.log.send(&mut events);
    tracing::info!(
        "reloaded: allow_from {}; deny_to {}; {} static bindings; filtering {:?}; {}",
        list(&c.allow_from),
        list(&c.deny_to),
        c.statics.len(),
        c.filtering,
        c.limits_summary()
    );
    for w in c.limits_warnings() {
        tracing::warn!("{w}");
    }
    *running = new;
    true
}

/// `a, b, c`.
pub(crate) fn list<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
