//! Limits on what a customer may hold and open (req O4): the table's
//! total; per customer prefix ([`crate::limits`]) its sessions, its new
//! sessions (a token bucket) and the port policy; what the IPv4 side may
//! open on a binding. Each prefix's refusals are noted for the operator
//! ([`Table::offenders`]) and its use can be listed ([`Table::top_sources`]).

use std::sync::MutexGuard;

use crate::limits::{Limits, PortAction};

use super::*;

/// The refusals counted per customer prefix, in [`Offender::refused`]
/// order.
pub const REFUSALS: [DropReason; 4] = [
    DropReason::SourceSessionLimit,
    DropReason::SourceRateLimit,
    DropReason::PortDenied,
    DropReason::PortRateLimit,
];

/// Most prefixes one source shard notes as offending between two reports
/// ([`Table::offenders`]); more are only counted.
const OFFENDERS_PER_SHARD: usize = 256;

/// New-session rates are measured over windows of this many seconds.
const WINDOW: Secs = 10;

/// The customer prefixes of one source shard.
#[derive(Debug)]
pub(super) struct Sources {
    map: Map<SourceKey, Source>,
    /// The buckets of the port policy's limit entries, per prefix and
    /// entry: only for prefixes that opened such flows, each forgotten
    /// once full again.
    ports: Map<(SourceKey, u16), Bucket>,
    /// Prefixes refused since the last report, with their refusals in
    /// [`REFUSALS`] order; at most [`OFFENDERS_PER_SHARD`].
    offenders: Map<SourceKey, [u32; 4]>,
    /// Refusals of prefixes that did not fit in `offenders`.
    unlisted: u32,
}

impl Sources {
    pub(super) fn new(hasher: SeedableRandomState) -> Self {
        Sources {
            map: Map::with_hasher(hasher.clone()),
            ports: Map::with_hasher(hasher.clone()),
            offenders: Map::with_hasher(hasher),
            unlisted: 0,
        }
    }

    /// Notes a refusal of kind `i` ([`REFUSALS`]) for `key`.
    fn refuse(&mut self, key: SourceKey, i: usize) {
        let room = self.offenders.len() < OFFENDERS_PER_SHARD;
        match self.offenders.get_mut(&key) {
            Some(r) => r[i] = r[i].saturating_add(1),
            None if room => {
                let mut r = [0; 4];
                r[i] = 1;
                self.offenders.insert(key, r);
            }
            None => self.unlisted = self.unlisted.saturating_add(1),
        }
    }
}

/// One customer prefix: 20 bytes, and 20 of key.
#[derive(Debug)]
struct Source {
    sessions: u32,
    bucket: Bucket,
    /// The window `opened[0]` counts (now / [`WINDOW`]).
    window: Secs,
    /// New sessions in this window and the one before (at most 65 535
    /// counted).
    opened: [u16; 2],
}

impl Source {
    fn new(lim: Limits, now: Secs) -> Self {
        Source {
            sessions: 0,
            bucket: Bucket::full(lim.rate, now),
            window: now / WINDOW,
            opened: [0; 2],
        }
    }

    fn roll(&mut self, now: Secs) {
        let w = now / WINDOW;
        if w != self.window {
            self.opened = if w == self.window + 1 {
                [0, self.opened[0]]
            } else {
                [0, 0]
            };
            self.window = w;
        }
    }

    /// Whether forgetting it loses nothing: no session, its bucket full
    /// again (the caller checks that nothing is left to report).
    fn idle(&self, lim: Limits, now: Secs) -> bool {
        self.sessions == 0 && self.bucket.is_full(lim.rate, now)
    }
}

/// A customer prefix that was refused since the last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offender {
    /// The prefix.
    pub key: SourceKey,
    /// Its sessions now.
    pub sessions: u32,
    /// Its session limit (0: none).
    pub limit: u32,
    /// Refusals since the last report, in [`REFUSALS`] order.
    pub refused: [u32; 4],
}

/// One customer prefix's use of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRow {
    /// The prefix.
    pub key: SourceKey,
    /// Its sessions now.
    pub sessions: u32,
    /// New sessions it opened in the last whole window of 10 s.
    pub opened_10s: u32,
}

impl Table {
    fn source_shard(&self, key: SourceKey) -> usize {
        (keyed(&self.hasher, &key) as usize) & self.mask
    }

    /// Counts a new session from `src` to destination `port` of `proto`
    /// against the table's total, its customer prefix's limits and the
    /// port policy (req O4). On success the session is counted and the
    /// prefix returned.
    pub(super) fn admit(
        &self,
        cfg: &StateConfig,
        now: Secs,
        src: Ipv6Addr,
        proto: Proto,
        port: u16,
    ) -> Result<SourceKey, DropReason> {
        let pol = &cfg.limits;
        let (key, lim) = pol.source(src);
        let rule = pol.port_rule(proto, port, src);
        let mut m = lock(&self.sources[self.source_shard(key)]);
        if let Some((_, PortAction::Deny)) = rule {
            m.refuse(key, 2);
            return Err(DropReason::PortDenied);
        }
        if self.total.fetch_add(1, Ordering::Relaxed) >= cfg.max_sessions {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(DropReason::SessionLimit);
        }
        let Sources { map, ports, .. } = &mut *m;
        let e = map.entry(key).or_insert_with(|| Source::new(lim, now));
        let mut port = match rule {
            Some((i, PortAction::Limit(r))) => {
                Some((r, ports.entry((key, i)).or_insert(Bucket::full(r, now))))
            }
            _ => None,
        };
        let refusal = if lim.sessions != 0 && e.sessions >= lim.sessions {
            Some(0)
        } else if !e.bucket.ready(lim.rate, now) {
            Some(1)
        } else if let Some((r, b)) = &mut port
            && !b.ready(*r, now)
        {
            Some(3)
        } else {
            None
        };
        if let Some(i) = refusal {
            self.total.fetch_sub(1, Ordering::Relaxed);
            m.refuse(key, i);
            return Err(REFUSALS[i]);
        }
        e.bucket.take(lim.rate);
        if let Some((r, b)) = port {
            b.take(r);
        }
        e.sessions += 1;
        e.roll(now);
        e.opened[0] = e.opened[0].saturating_add(1);
        Ok(key)
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

    /// Undoes [`Self::admit`] for a session of `src` that ended or was not
    /// created. The prefix's entry goes when it has nothing left to count.
    pub(super) fn release_source(&self, cfg: &StateConfig, now: Secs, src: Ipv6Addr) {
        self.total.fetch_sub(1, Ordering::Relaxed);
        let pol = &cfg.limits;
        let (key, lim) = pol.source(src);
        let mut m = lock(&self.sources[self.source_shard(key)]);
        let reported = m.offenders.contains_key(&key);
        if let Some(e) = m.map.get_mut(&key) {
            e.sessions = e.sessions.saturating_sub(1);
            if e.idle(lim, now) && !reported {
                m.map.remove(&key);
            }
        }
    }

    /// Forgets the idle prefixes of source shard `shard` (see
    /// [`Source::idle`]) and shrinks a map that has emptied out; the sweep
    /// of shard `shard` calls it.
    pub(super) fn compact_sources(&self, cfg: &StateConfig, shard: usize, now: Secs) {
        let pol = &cfg.limits;
        let mut m = lock(&self.sources[shard % self.sources.len()]);
        let Sources {
            map,
            ports,
            offenders,
            ..
        } = &mut *m;
        map.retain(|k, e| offenders.contains_key(k) || !e.idle(pol.source(k.addr()).1, now));
        ports.retain(|(_, i), b| !b.is_full(pol.rule_rate(*i), now));
        if m.map.capacity() > 1024 && m.map.len() * 4 <= m.map.capacity() {
            let len = m.map.len();
            m.map.shrink_to(len * 2);
        }
    }

    /// Counts every session again under the prefixes of `cfg` (a reload
    /// changed `source_prefix_len` or the overrides' ranges); the caller
    /// holds every shard. Buckets start full.
    pub(super) fn recount_sources(&self, shards: &[MutexGuard<'_, Shard>], cfg: &StateConfig) {
        let mut all: Vec<_> = self.sources.iter().map(lock).collect();
        for m in &mut all {
            m.map.clear();
            m.ports.clear();
            m.offenders.clear();
        }
        for s in shards {
            for (k, _) in s.sessions.iter().filter(|(_, v)| !v.inbound) {
                let (key, lim) = cfg.limits.source(s.bibs[k.bib as usize].v6.addr);
                let m = &mut all[self.source_shard(key)];
                m.map
                    .entry(key)
                    .or_insert_with(|| Source::new(lim, 0))
                    .sessions += 1;
            }
        }
    }

    /// Customer prefixes the table follows now (with sessions, or with a
    /// bucket not full again).
    pub fn source_count(&self) -> usize {
        self.sources.iter().map(|m| lock(m).map.len()).sum()
    }

    /// Forgets the port policy's buckets (a reload changed the policy).
    pub(super) fn forget_port_buckets(&self) {
        for m in self.sources.iter() {
            lock(m).ports.clear();
        }
    }

    /// The prefixes refused since the last call, with what refused them,
    /// and how many more were refused than could be noted. Their counts
    /// start again from zero.
    pub fn offenders(&self) -> (Vec<Offender>, u32) {
        let Some(pol) = self.shards.first().map(|s| lock(s).cfg.limits.clone()) else {
            return (Vec::new(), 0);
        };
        let (mut out, mut unlisted) = (Vec::new(), 0u32);
        for m in self.sources.iter() {
            let mut m = lock(m);
            unlisted = unlisted.saturating_add(std::mem::take(&mut m.unlisted));
            let empty = Map::with_hasher(m.map.hasher().clone());
            let noted = std::mem::replace(&mut m.offenders, empty);
            for (key, refused) in noted {
                out.push(Offender {
                    key,
                    sessions: m.map.get(&key).map_or(0, |e| e.sessions),
                    limit: pol.source(key.addr()).1.sessions,
                    refused,
                });
            }
        }
        (out, unlisted)
    }

    /// The `n` prefixes with the most sessions and the `n` that opened
    /// the most in the last whole 10 s window, at `now`; and how many
    /// prefixes the table tracks.
    pub fn top_sources(&self, n: usize, now: Secs) -> (Vec<SourceRow>, Vec<SourceRow>, usize) {
        let mut rows = Vec::new();
        for m in self.sources.iter() {
            let mut m = lock(m);
            for (k, e) in m.map.iter_mut() {
                e.roll(now);
                rows.push(SourceRow {
                    key: *k,
                    sessions: e.sessions,
                    opened_10s: u32::from(e.opened[1]),
                });
            }
        }
        let tracked = rows.len();
        rows.sort_unstable_by_key(|r| (std::cmp::Reverse(r.sessions), r.key));
        let by_sessions = rows.iter().take(n).copied().collect();
        rows.sort_unstable_by_key(|r| (std::cmp::Reverse(r.opened_10s), r.key));
        rows.truncate(n);
        rows.retain(|r| r.opened_10s > 0);
        (by_sessions, rows, tracked)
    }
}
