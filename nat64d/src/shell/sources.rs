//! Customers over their limits, for the operator (req O4): a log line when
//! a source prefix first hits a limit and a summary per minute while
//! prefixes keep hitting them ([`nat64d::report::Reporter`]); a line at
//! most once a minute while the table is full or the pool out of ports;
//! and the busiest prefixes, served at `/sources` and logged on SIGUSR1.

use std::sync::atomic::Ordering;

use nat64d::report::{Reporter, top_text};
use nat64d::stats::DropReason;

use super::shared::Shared;

/// Prefixes in each list of [`top`].
const TOP: usize = 20;

/// The busiest source prefixes, by live sessions and by new sessions per
/// second, as text.
pub(crate) fn top(s: &Shared) -> String {
    let now = s.now.load(Ordering::Relaxed);
    let (by_sessions, by_rate, tracked) = s.gateway.table.top_sources(TOP, now);
    top_text(&by_sessions, &by_rate, tracked)
}

/// Seconds between two lines about the same kind of table-wide refusal.
const FULL_INTERVAL: u32 = 60;

/// Refusals for the table as a whole (no customer to name): the table
/// full, the pool out of ports. Said at most once a minute each.
#[derive(Debug, Default)]
struct Shortage {
    seen: u64,
    pending: u64,
    said: Option<u32>,
}

impl Shortage {
    fn tick(&mut self, total: u64, now: u32) -> Option<u64> {
        self.pending += total.saturating_sub(self.seen);
        self.seen = total;
        let due = self
            .said
            .is_none_or(|t| now.saturating_sub(t) >= FULL_INTERVAL);
        if self.pending == 0 || !due {
            return None;
        }
        self.said = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

/// Called once a second by the control loop.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    reporter: Reporter,
    full: Shortage,
    exhausted: Shortage,
}

impl Watch {
    /// Logs the prefixes that hit a limit since the last call, and the
    /// summary when one is due.
    pub(crate) fn tick(&mut self, s: &Shared, now: u32) {
        let (offenders, unlisted) = s.gateway.table.offenders();
        for line in self.reporter.feed(&offenders, unlisted) {
            tracing::warn!("{line}");
        }
        for line in self.reporter.summary(now) {
            tracing::warn!("{line}");
        }
        let count = |r: DropReason| s.sum(|c| &c.drops[r as usize]);
        if let Some(n) = self.full.tick(count(DropReason::SessionLimit), now) {
            tracing::warn!(
                "the session table is full ({} sessions, nat64.max_sessions): {n} new flows \
                 refused (session_limit); /sources lists who holds the most",
                s.gateway.table.sessions()
            );
        }
        if let Some(n) = self.exhausted.tick(count(DropReason::PoolExhausted), now) {
            tracing::warn!(
                "no free pool port for {n} new flows (pool_exhausted): a customer's paired \
                 pool address, or the pool, is out of ports; /sources lists who holds the most"
            );
        }
    }

    /// SIGUSR1: the busiest prefixes into the log.
    pub(crate) fn dump(&self, s: &Shared) {
        for line in top(s).lines() {
            tracing::info!("sources: {line}");
        }
    }
}
