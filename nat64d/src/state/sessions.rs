//! Sessions both ways (RFC 6146 §3.5): an outbound packet finds or creates
//! its binding and session, an inbound one finds them (or is held, or
//! filtered), every packet refreshes its session's timer, and the sweep
//! expires what ran out (§3.5.2.2, §4; req S1–S5).

use super::shard::{insert_bib, lifetime};
use super::*;

impl Table {
    /// An outbound packet from `v6` to `remote` (IPv4 transport address
    /// extracted from its destination, through prefix number `prefix`):
    /// finds or creates the binding and session (req S1, S2, S4, S6, O4).
    /// Created and removed bindings are appended to `events`.
    #[allow(clippy::too_many_arguments)]
    pub fn outbound(
        &self,
        now: Secs,
        pool: &Pool,
        proto: Proto,
        v6: TransportAddr6,
        remote: TransportAddr4,
        prefix: u8,
        ask: Ask,
        events: &mut Vec<Event>,
    ) -> Result<Out, DropReason> {
        let home = self.v6_shard(proto, &v6);
        {
            let mut s = lock(&self.shards[home]);
            if let Some(id) = s.find6(proto, &v6) {
                return self.outbound_in(&mut s, now, id, remote, ask, events);
            }
        }
        let fixed = self
            .statics
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(proto, v6))
            .copied();
        if let Some(v4) = fixed {
            let mut s = lock(&self.shards[pool.shard_of_port(v4.port)]);
            if let Some(id) = s.find6(proto, &v6) {
                return self.outbound_in(&mut s, now, id, remote, ask, events);
            }
            return Err(DropReason::NoBinding);
        }
        if let Some(v4) = self.displaced_of(proto, &v6) {
            let mut s = lock(&self.shards[pool.shard_of_port(v4.port)]);
            if let Some(id) = s.find6(proto, &v6) {
                return self.outbound_in(&mut s, now, id, remote, ask, events);
            }
        }
        let Ask::Data { tcp_flags } = ask else {
            return Err(DropReason::NoSession);
        };
        if proto == Proto::Tcp && !tcp::opens(tcp_flags) {
            return Err(DropReason::TcpNotSyn);
        }
        if proto == Proto::Tcp
            && self.held_total.load(Ordering::Relaxed) > 0
            && let Some(r) = self.open_on_held(now, pool, v6, remote, prefix, ask, events, home)
        {
            return r;
        }
        let mut s = lock(&self.shards[home]);
        // Another worker may have created it between the two locks.
        if let Some(id) = s.find6(proto, &v6) {
            return self.outbound_in(&mut s, now, id, remote, ask, events);
        }
        let customer = self.admit(&s.cfg, now, v6.addr, proto, remote.port)?;
        let key = keyed(&self.hasher, &(0xb1b_u32, proto.index(), v6));
        // The pool address (req S6): one per customer prefix, or preferred
        // per IPv6 address (see `Pairing`).
        let (host_key, spill) = match s.cfg.pairing {
            Pairing::Prefix => (customer.stable_hash(), false),
            Pairing::Address => (keyed(&self.hasher, &(0x405_u32, v6.addr)), true),
        };
        let limit = pool.capacity_per_shard(proto).min(65536);
        let chosen = pool
            .candidates(proto, v6.port, home, key, host_key, spill, limit)
            .find(|t| s.find4(proto, t).is_none());
        let Some(v4) = chosen else {
            self.release_source(&s.cfg, now, v6.addr);
            return Err(DropReason::PoolExhausted);
        };
        let id = insert_bib(&mut s, proto, v6, v4, prefix, false);
        events.push(Event {
            at: now,
            created: true,
            proto,
            v6,
            v4,
            is_static: false,
        });
        // admit() counted the session already.
        self.create_session(&mut s, now, id, remote, Dir::V6, ask);
        Ok(Out { v4 })
    }

    /// Finishes an outbound packet whose binding `id` is in shard `s`.
    pub(super) fn outbound_in(
        &self,
        s: &mut Shard,
        now: Secs,
        id: u32,
        remote: TransportAddr4,
        ask: Ask,
        events: &mut Vec<Event>,
    ) -> Result<Out, DropReason> {
        let bib = s.bibs[id as usize];
        let key = SessionKey { bib: id, remote };
        if let Some(sess) = s.sessions.get(&key).copied() {
            if sess.deadline > now {
                if let Ask::Data { tcp_flags } = ask {
                    self.refresh(s, key, sess, bib.proto, Dir::V6, tcp_flags, now);
                }
                return Ok(Out { v4: bib.v4 });
            }
            // Expired but not swept yet: a packet that may open a session
            // starts it over in place; anything else finds nothing.
            return match ask {
                Ask::Data { tcp_flags } if bib.proto != Proto::Tcp || tcp::opens(tcp_flags) => {
                    self.restart(s, key, now, bib.proto, Dir::V6, tcp_flags);
                    Ok(Out { v4: bib.v4 })
                }
                _ => {
                    self.remove_session(s, key, now, events);
                    Err(DropReason::NoSession)
                }
            };
        }
        let Ask::Data { tcp_flags } = ask else {
            return Err(DropReason::NoSession);
        };
        if bib.proto == Proto::Tcp && !tcp::opens(tcp_flags) {
            return Err(DropReason::TcpNotSyn);
        }
        self.admit(&s.cfg, now, bib.v6.addr, bib.proto, remote.port)?;
        // An IPv4 SYN held for this very session is answered by this one
        // (simultaneous open, RFC 6146 §3.5.2.2): forget it.
        if let Some(i) = s
            .held
            .iter()
            .position(|h| h.proto_v4 == bib.v4 && h.remote == remote)
        {
            self.unhold(s, i);
        }
        self.create_session(s, now, id, remote, Dir::V6, ask);
        Ok(Out { v4: bib.v4 })
    }

    /// An inbound packet from `remote` to the pool transport address `v4`
    /// (req S2, S3, S4). `packet` is the whole IPv4 packet, kept when an
    /// unsolicited SYN is held for simultaneous open.
    #[allow(clippy::too_many_arguments)]
    pub fn inbound(
        &self,
        now: Secs,
        pool: &Pool,
        proto: Proto,
        v4: TransportAddr4,
        remote: TransportAddr4,
        ask: Ask,
        packet: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<In, DropReason> {
        let mut s = lock(&self.shards[pool.shard_of_port(v4.port)]);
        let s = &mut *s;
        let syn =
            matches!(ask, Ask::Data { tcp_flags } if proto == Proto::Tcp && tcp::opens(tcp_flags));
        let Some(id) = s.find4(proto, &v4) else {
            if syn {
                return self.hold(s, now, v4, remote, packet);
            }
            return Err(DropReason::NoBinding);
        };
        let bib = s.bibs[id as usize];
        let key = SessionKey { bib: id, remote };
        let answer = In {
            v6: bib.v6,
            prefix: bib.prefix,
        };
        if let Some(sess) = s.sessions.get(&key).copied() {
            if sess.deadline > now {
                if let Ask::Data { tcp_flags } = ask {
                    self.refresh(s, key, sess, proto, Dir::V4, tcp_flags, now);
                }
                return Ok(answer);
            }
            // Expired, not swept yet (see `outbound_in`). Under
            // address-dependent filtering the session itself was the
            // permission, so it may restart too.
            return match ask {
                Ask::Data { tcp_flags } if proto != Proto::Tcp || syn => {
                    self.restart(s, key, now, proto, Dir::V4, tcp_flags);
                    Ok(answer)
                }
                _ => {
                    self.remove_session(s, key, now, events);
                    Err(DropReason::NoSession)
                }
            };
        }
        if ask == Ask::Lookup {
            return Err(DropReason::NoSession);
        }
        let allowed = match s.cfg.filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => s.adf.contains_key(&(id, remote.addr)),
        };
        if !allowed {
            if syn {
                return self.hold(s, now, v4, remote, packet);
            }
            return Err(DropReason::Filtered);
        }
        if proto == Proto::Tcp && !syn {
            return Err(DropReason::TcpNotSyn);
        }
        // Not the IPv6 host's own budget (its per-source limits): the
        // binding's and the table's inbound limits.
        self.admit_inbound(&s.cfg, bib.unanswered)?;
        self.create_session(s, now, id, remote, Dir::V4, ask);
        Ok(answer)
    }

    /// A packet of a live session: the TCP state machine, the timer. The
    /// IPv6 host's first packet answers a session the IPv4 side opened
    /// (its short lifetime ends); until then the IPv4 side's packets do not
    /// extend it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn refresh(
        &self,
        s: &mut Shard,
        key: SessionKey,
        mut sess: Session,
        proto: Proto,
        dir: Dir,
        tcp_flags: u8,
        now: Secs,
    ) {
        if sess.unanswered && dir == Dir::V6 {
            sess.unanswered = false;
            let bib = &mut s.bibs[key.bib as usize];
            bib.unanswered = bib.unanswered.saturating_sub(1);
            self.inbound_total.fetch_sub(1, Ordering::Relaxed);
            sess.deadline = now + lifetime(&s.cfg, proto, sess.tcp);
        }
        if proto == Proto::Tcp {
            let (next, life) = tcp::next(sess.tcp, dir, tcp_flags);
            sess.tcp = next;
            match life {
                _ if sess.unanswered => {}
                Lifetime::Established => sess.deadline = now + s.cfg.timeouts.tcp_est,
                Lifetime::Transitory => sess.deadline = now + s.cfg.timeouts.tcp_trans,
                Lifetime::Unchanged => {}
            }
        } else if !sess.unanswered && (dir == Dir::V6 || proto == Proto::Udp) {
            // UDP: refreshed by either side (RFC 6146 §3.5.1); ICMP query
            // sessions by the IPv6 side's requests.
            sess.deadline = now + lifetime(&s.cfg, proto, sess.tcp);
        }
        s.sessions.insert(key, sess);
    }

    /// Starts an expired session over as if it were new (same binding,
    /// same counts, same origin; an unanswered inbound one gets its short
    /// lifetime again).
    pub(super) fn restart(
        &self,
        s: &mut Shard,
        key: SessionKey,
        now: Secs,
        proto: Proto,
        dir: Dir,
        tcp_flags: u8,
    ) {
        let Some(old) = s.sessions.get(&key).copied() else {
            return;
        };
        let tcp = if proto == Proto::Tcp {
            tcp::next(TcpState::Closed, dir, tcp_flags).0
        } else {
            TcpState::Closed
        };
        let deadline = if old.unanswered {
            now + s.cfg.timeouts.unanswered_inbound
        } else {
            now + lifetime(&s.cfg, proto, tcp)
        };
        s.sessions.insert(
            key,
            Session {
                deadline,
                tcp,
                ..old
            },
        );
    }

    /// A new session on binding `id`; `dir`: who opened it. One the IPv4
    /// side opened (`Dir::V4`) is unanswered until the IPv6 host sends on
    /// it (see [`Self::refresh`]); the caller has admitted it.
    pub(super) fn create_session(
        &self,
        s: &mut Shard,
        now: Secs,
        id: u32,
        remote: TransportAddr4,
        dir: Dir,
        ask: Ask,
    ) {
        let inbound = dir == Dir::V4;
        let bib = &mut s.bibs[id as usize];
        bib.sessions += 1;
        if inbound {
            bib.unanswered += 1;
            self.inbound_total.fetch_add(1, Ordering::Relaxed);
        }
        let proto = bib.proto;
        let tcp = match ask {
            Ask::Data { tcp_flags } if proto == Proto::Tcp => {
                tcp::next(TcpState::Closed, dir, tcp_flags).0
            }
            _ => TcpState::Closed,
        };
        let deadline = if inbound {
            now + s.cfg.timeouts.unanswered_inbound
        } else {
            now + lifetime(&s.cfg, proto, tcp)
        };
        let sess = Session {
            deadline,
            tcp,
            inbound,
            unanswered: inbound,
        };
        s.sessions.insert(SessionKey { bib: id, remote }, sess);
        if s.cfg.filtering == Filtering::AddressDependent {
            *s.adf.entry((id, remote.addr)).or_insert(0) += 1;
        }
    }

    pub(super) fn remove_session(
        &self,
        s: &mut Shard,
        key: SessionKey,
        now: Secs,
        events: &mut Vec<Event>,
    ) {
        let Some(sess) = s.sessions.remove(&key) else {
            return;
        };
        if let Some(n) = s.adf.get_mut(&(key.bib, key.remote.addr)) {
            *n -= 1;
            if *n == 0 {
                s.adf.remove(&(key.bib, key.remote.addr));
            }
        }
        let bib = &mut s.bibs[key.bib as usize];
        bib.sessions -= 1;
        if sess.unanswered {
            bib.unanswered = bib.unanswered.saturating_sub(1);
            self.inbound_total.fetch_sub(1, Ordering::Relaxed);
        }
        let bib = *bib;
        if sess.inbound {
            self.total.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.release_source(&s.cfg, now, bib.v6.addr);
        }
        if bib.sessions == 0 && !bib.is_static {
            s.unindex(key.bib);
            self.forget_displaced(bib.proto, bib.v6, bib.v4);
            events.push(Event {
                at: now,
                created: false,
                proto: bib.proto,
                v6: bib.v6,
                v4: bib.v4,
                is_static: false,
            });
        }
    }

    /// Expires the sessions of shard `shard` whose deadline has passed, and
    /// the bindings left without sessions (req S5). Held SYNs whose time
    /// is up are appended to `unanswered` (the caller answers each with
    /// ICMPv4 Port Unreachable, req S4). Returns the sessions removed.
    ///
    /// Never a long pause for the shard's packets: one pass under the lock
    /// only reads (a sequential scan of the shard's sessions), then the
    /// expired ones are removed [`SWEEP_BATCH`] at a time, the lock taken
    /// again for each batch (a packet that refreshed a session in between
    /// keeps it).
    pub fn sweep(
        &self,
        now: Secs,
        shard: usize,
        events: &mut Vec<Event>,
        unanswered: &mut Vec<Box<[u8]>>,
    ) -> usize {
        let expired: Vec<SessionKey> = lock(&self.shards[shard])
            .sessions
            .iter()
            .filter(|(_, v)| v.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        let mut removed = 0;
        for batch in expired.chunks(SWEEP_BATCH) {
            let mut s = lock(&self.shards[shard]);
            for k in batch {
                if s.sessions.get(k).is_some_and(|v| v.deadline <= now) {
                    self.remove_session(&mut s, *k, now, events);
                    removed += 1;
                }
            }
        }
        let mut s = lock(&self.shards[shard]);
        while s.held.front().is_some_and(|h| h.deadline <= now) {
            if let Some(h) = self.unhold(&mut s, 0) {
                unanswered.push(h.packet);
            }
        }
        s.compact();
        let cfg = s.cfg.clone();
        drop(s);
        self.compact_sources(&cfg, shard, now);
        removed
    }
}
