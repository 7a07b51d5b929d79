//! The simultaneous-open hold (RFC 6146 §3.5.2.2; req S4): an unsolicited
//! IPv4 SYN waits, in a bounded queue per shard, for the IPv6 host's own
//! SYN; the sweep answers those whose time ran out. When an IPv6 host's SYN
//! to the held SYN's sender arrives with no binding yet, the new binding
//! takes the pool transport address the held SYN was sent to (RFC 5382
//! REQ-4: simultaneous open must work, not by the chance of a port).

use super::shard::insert_bib;
use super::*;

impl Table {
    /// Holds an unsolicited IPv4 SYN (req S4); bounded.
    pub(super) fn hold(
        &self,
        s: &mut Shard,
        now: Secs,
        v4: TransportAddr4,
        remote: TransportAddr4,
        packet: &[u8],
    ) -> Result<In, DropReason> {
        if s.held
            .iter()
            .any(|h| h.proto_v4 == v4 && h.remote == remote)
        {
            // A retransmission of a SYN already held.
            return Err(DropReason::SynHeld);
        }
        if self.held_total.load(Ordering::Relaxed) >= s.cfg.max_held_syns {
            return Err(DropReason::SynHoldFull);
        }
        self.held_total.fetch_add(1, Ordering::Relaxed);
        lock(&self.held_from).entry(remote).or_default().push(v4);
        // Enough of the packet for the Port Unreachable that may answer it
        // (an ICMPv4 error is at most 576 bytes).
        let keep = packet.len().min(548);
        s.held.push_back(HeldSyn {
            proto_v4: v4,
            remote,
            deadline: now + s.cfg.timeouts.syn_hold,
            packet: packet[..keep].into(),
        });
        Err(DropReason::SynHeld)
    }

    /// Forgets held SYN `i` of shard `s` (answered, superseded or taken by
    /// a simultaneous open) and returns it.
    pub(super) fn unhold(&self, s: &mut Shard, i: usize) -> Option<HeldSyn> {
        let h = s.held.remove(i)?;
        self.held_total.fetch_sub(1, Ordering::Relaxed);
        let mut from = lock(&self.held_from);
        if let Some(v) = from.get_mut(&h.remote) {
            if let Some(j) = v.iter().position(|x| *x == h.proto_v4) {
                v.swap_remove(j);
            }
            if v.is_empty() {
                from.remove(&h.remote);
            }
        }
        Some(h)
    }

    /// Simultaneous open (RFC 6146 §3.5.2.2, RFC 5382 REQ-4): the IPv6
    /// host `v6`, with no binding yet, sends a SYN to `remote`, and an
    /// unsolicited SYN from `remote` to the pool transport address X#x, no
    /// binding's, is held. The new binding takes X#x (in X#x's shard; the
    /// IPv6 side finds it through [`Table::displaced_of`] when that is not
    /// its own), the held SYN is superseded, and the session is
    /// ESTABLISHED (V4 INIT and a V6 SYN). `None`: no such held SYN, the
    /// caller makes a binding as usual. With pairing by prefix only the
    /// customer's own pool address qualifies.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open_on_held(
        &self,
        now: Secs,
        pool: &Pool,
        v6: TransportAddr6,
        remote: TransportAddr4,
        prefix: u8,
        ask: Ask,
        events: &mut Vec<Event>,
        home: usize,
    ) -> Option<Result<Out, DropReason>> {
        let targets = lock(&self.held_from).get(&remote).cloned()?;
        for x in targets {
            if !pool.contains(x.addr) || !pool.range(Proto::Tcp).contains(x.port) {
                continue;
            }
            let sx = pool.shard_of_port(x.port);
            // Both shards, in index order (nothing else holds two).
            let (lo, hi) = (home.min(sx), home.max(sx));
            let mut first = lock(&self.shards[lo]);
            let mut second = (hi != lo).then(|| lock(&self.shards[hi]));
            let (at_home, xs): (bool, &mut Shard) = match second.as_deref_mut() {
                None => (first.find6(Proto::Tcp, &v6).is_some(), &mut *first),
                Some(other) if lo == home => (first.find6(Proto::Tcp, &v6).is_some(), other),
                Some(other) => (other.find6(Proto::Tcp, &v6).is_some(), &mut *first),
            };
            if at_home || xs.find6(Proto::Tcp, &v6).is_some() {
                // Another worker made its binding meanwhile.
                return None;
            }
            if xs.find4(Proto::Tcp, &x).is_some() {
                continue;
            }
            if xs.cfg.pairing == Pairing::Prefix {
                let customer = xs.cfg.limits.source(v6.addr).0;
                if pool.paired_address(customer.stable_hash()) != x.addr {
                    continue;
                }
            }
            let Some(i) = xs
                .held
                .iter()
                .position(|h| h.proto_v4 == x && h.remote == remote)
            else {
                continue;
            };
            if let Err(e) = self.admit(&xs.cfg, now, v6.addr, Proto::Tcp, remote.port) {
                return Some(Err(e));
            }
            self.unhold(xs, i);
            let id = insert_bib(xs, Proto::Tcp, v6, x, prefix, false);
            if sx != home {
                self.displace(Proto::Tcp, v6, x);
            }
            events.push(Event {
                at: now,
                created: true,
                proto: Proto::Tcp,
                v6,
                v4: x,
                is_static: false,
            });
            self.create_session(xs, now, id, remote, Dir::V6, ask);
            // Both sides have sent their SYN: V4 INIT + V6 SYN.
            let key = SessionKey { bib: id, remote };
            if let Some(sess) = xs.sessions.get(&key).copied() {
                self.refresh(xs, key, sess, Proto::Tcp, Dir::V4, tcp::flags::SYN, now);
            }
            return Some(Ok(Out { v4: x }));
        }
        None
    }

    /// Notes a binding that lives in the shard of its pool port rather than
    /// in its IPv6 side's (made by a simultaneous open).
    fn displace(&self, proto: Proto, v6: TransportAddr6, v4: TransportAddr4) {
        self.displaced_count.fetch_add(1, Ordering::Relaxed);
        self.displaced
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((proto, v6), v4);
    }

    /// The pool transport address of a displaced binding of `v6`.
    pub(super) fn displaced_of(&self, proto: Proto, v6: &TransportAddr6) -> Option<TransportAddr4> {
        if self.displaced_count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.displaced
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(proto, *v6))
            .copied()
    }

    /// Forgets a removed binding if it was displaced.
    pub(super) fn forget_displaced(&self, proto: Proto, v6: TransportAddr6, v4: TransportAddr4) {
        if self.displaced_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut d = self
            .displaced
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if d.get(&(proto, v6)) == Some(&v4) {
            d.remove(&(proto, v6));
            self.displaced_count.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
