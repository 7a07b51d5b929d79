//! Customers over their limits, for the operator (req O4): a log line when
//! a source prefix first hits a limit and a summary per minute while
//! prefixes keep hitting them ([`nat64d::report::Reporter`]), and the
//! busiest prefixes, served at `/sources` and logged on SIGUSR1.

use std::sync::atomic::Ordering;

use nat64d::report::{Reporter, top_text};

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

/// Called once a second by the control loop.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    reporter: Reporter,
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
    }

    /// SIGUSR1: the busiest prefixes into the log.
    pub(crate) fn dump(&self, s: &Shared) {
        for line in top(s).lines() {
            tracing::info!("sources: {line}");
        }
    }
}
