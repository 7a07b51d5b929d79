//! Limits on what a source may hold (req O4): the table's total, per IPv6
//! source its sessions and new sessions per second (a token bucket), and
//! what the IPv4 side may open on a binding.

use super::*;

impl Table {
    /// Counts a new session against the global and per-source limits
    /// (req O4); on success the session is counted.
    pub(super) fn admit(
        &self,
        cfg: &StateConfig,
        now: Secs,
        src: Ipv6Addr,
    ) -> Result<(), DropReason> {
        if self.total.fetch_add(1, Ordering::Relaxed) >= cfg.max_sessions {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(DropReason::SessionLimit);
        }
        let shard = (keyed(&self.hasher, &src) as usize) & self.mask;
        let mut m = lock(&self.sources[shard]);
        let rate = cfg.per_source_rate;
        let e = m.entry(src).or_insert(Source {
            sessions: 0,
            tokens: rate,
            last: now,
        });
        if cfg.per_source_sessions != 0 && e.sessions >= cfg.per_source_sessions {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(DropReason::SourceSessionLimit);
        }
        if rate != 0 {
            let refill = now.saturating_sub(e.last).saturating_mul(rate);
            e.tokens = e.tokens.saturating_add(refill).min(rate);
            e.last = now;
            if e.tokens == 0 {
                self.total.fetch_sub(1, Ordering::Relaxed);
                return Err(DropReason::SourceRateLimit);
            }
            e.tokens -= 1;
        }
        e.sessions += 1;
        Ok(())
    }

    /// Counts a new session the IPv4 side opens on a binding that holds
    /// `unanswered` such sessions already: at most `inbound_per_binding` of
    /// them per binding and a quarter of `max_sessions` in the table, so
    /// that no spray from the IPv4 side fills the table or a binding's
    /// host's budget; then against `max_sessions`. On success the session
    /// is counted in the total (never against the host's source limits).
    pub(super) fn admit_inbound(
        &self,
        cfg: &StateConfig,
        unanswered: u32,
    ) -> Result<(), DropReason> {
        if cfg.inbound_per_binding != 0 && unanswered >= cfg.inbound_per_binding {
            return Err(DropReason::InboundSessionLimit);
        }
        if self.inbound_total.load(Ordering::Relaxed) >= (cfg.max_sessions / 4).max(1) {
            return Err(DropReason::InboundSessionLimit);
        }
        if self.total.fetch_add(1, Ordering::Relaxed) >= cfg.max_sessions {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(DropReason::SessionLimit);
        }
        Ok(())
    }

    /// Shrinks a per-source map that has emptied out (see
    /// [`Shard::compact`]); the sweep of shard `shard` calls it.
    pub(super) fn compact_sources(&self, shard: usize) {
        let mut m = lock(&self.sources[shard % self.sources.len()]);
        if m.capacity() > 1024 && m.len() * 4 <= m.capacity() {
            let len = m.len();
            m.shrink_to(len * 2);
        }
    }

    /// Undoes [`Self::admit`] for a session that was not created.
    pub(super) fn release_source(&self, _now: Secs, src: Ipv6Addr) {
        self.total.fetch_sub(1, Ordering::Relaxed);
        let shard = (keyed(&self.hasher, &src) as usize) & self.mask;
        let mut m = lock(&self.sources[shard]);
        if let Some(e) = m.get_mut(&src) {
            e.sessions = e.sessions.saturating_sub(1);
            if e.sessions == 0 {
                m.remove(&src);
            }
        }
    }
}
