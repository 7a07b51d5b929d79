//! SIGHUP (req O1): reads the file again and applies it, except the keys
//! that take effect only at start ([`nat64d::config::keep_restart_only`]
//! says which). A file that does not load, or whose static bindings clash
//! with live ones, changes nothing. Sessions are kept.

use nat64d::config::{File, keep_restart_only};

use super::control::ReloadResult;
use super::mapping_log::LogWriter;
use super::shared::Shared;
use crate::{Args, load};

/// Applies the file; `running` becomes what now runs. Returns the keys
/// whose change waits for a restart, or why the file was rejected (both
/// also logged, and counted in `shared.reloads`).
pub(crate) fn reload(
    args: &Args,
    running: &mut File,
    shared: &Shared,
    log: &LogWriter,
    now: u32,
) -> ReloadResult {
    let r = apply(args, running, shared, log, now);
    if let Err(e) = &r {
        tracing::error!("reload rejected, the running configuration stays: {e}");
    }
    shared.reloads.record(r.is_ok());
    r
}

fn apply(
    args: &Args,
    running: &mut File,
    shared: &Shared,
    log: &LogWriter,
    now: u32,
) -> ReloadResult {
    let mut new = load(args)?;
    let mut events = Vec::new();
    let gw = &shared.gateway;
    if let Err(e) = gw
        .table
        .set_statics(now, &gw.pool, &new.nat64.statics(), &mut events)
    {
        return Err(format!("nat64.static: {e}"));
    }
    let restart = keep_restart_only(running, &mut new);
    for key in &restart {
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
    Ok(restart)
}

/// `a, b, c`.
pub(crate) fn list<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
