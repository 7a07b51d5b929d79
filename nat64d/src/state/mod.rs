//! Stateful NAT64 (RFC 6146): the Binding Information Base and the session
//! table, sharded, with `now` passed in (req S1–S9, O4 limits).
//!
//! Layout: N shards, each a `Mutex` over its own maps. A binding lives in
//! the shard of its pool port (`port >> 1`, see [`crate::pool`]); dynamic
//! bindings are created with a port whose shard is also the keyed hash of
//! the IPv6 transport address, so a packet from either side takes exactly
//! one lock. Static bindings (port forwarding) are found from the IPv6 side
//! through a small read-mostly map. Sessions are keyed by (binding, remote
//! IPv4 transport address), so both directions find a session with the same
//! two lookups. Expiry: deadlines stored in the entries, checked on lookup,
//! and a per-shard sweep ([`Table::sweep`]) one shard at a time.

pub mod tcp;

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use common::sync::lock;

use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;
use hashbrown::{HashMap, HashTable};

use crate::flow::{Proto, TransportAddr4, TransportAddr6};
use crate::pool::{Pool, keyed};
use crate::stats::DropReason;

use tcp::{Dir, Lifetime, TcpState};

/// Seconds since the daemon started: the coarse clock of the state layer.
pub type Secs = u32;

/// Session lifetimes in seconds (RFC 6146 §4; req S5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// UDP_DEFAULT: 300 s; never below 120 s (RFC 6146 §4).
    pub udp: Secs,
    /// TCP_EST: 7440 s (2 h 4 min).
    pub tcp_est: Secs,
    /// TCP_TRANS: 240 s.
    pub tcp_trans: Secs,
    /// ICMP_DEFAULT: 60 s.
    pub icmp: Secs,
    /// TCP_INCOMING_SYN: how long an unsolicited IPv4 SYN is held, 6 s.
    pub syn_hold: Secs,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            udp: 300,
            tcp_est: 7440,
            tcp_trans: 240,
            icmp: 60,
            syn_hold: 6,
        }
    }
}

/// The RFC 6146 floor for the UDP lifetime.
pub const UDP_MIN: Secs = 120;

/// Filtering of IPv4 packets towards an existing binding (req S3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filtering {
    /// Any IPv4 host may use an existing binding (RFC 4787 REQ-8 default).
    EndpointIndependent,
    /// Only IPv4 addresses the IPv6 host has sent to (RFC 6146 §3.5.2.3).
    AddressDependent,
}

/// What the state layer needs from the configuration; reloadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateConfig {
    /// Lifetimes.
    pub timeouts: Timeouts,
    /// Filtering policy.
    pub filtering: Filtering,
    /// Most sessions in the whole table (memory bound).
    pub max_sessions: usize,
    /// Most sessions one IPv6 source address may hold (0: no limit).
    pub per_source_sessions: u32,
    /// Most new sessions per second one IPv6 source may open (0: no limit).
    pub per_source_rate: u32,
    /// Most unsolicited IPv4 SYNs held at once (req S4).
    pub max_held_syns: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            timeouts: Timeouts::default(),
            filtering: Filtering::EndpointIndependent,
            max_sessions: 1_000_000,
            per_source_sessions: 0,
            per_source_rate: 0,
            max_held_syns: 1024,
        }
    }
}

/// A mapping-log event (req O3): a binding created or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: Secs,
    /// Created (true) or removed (false).
    pub created: bool,
    /// Protocol.
    pub proto: Proto,
    /// The IPv6 host's transport address.
    pub v6: TransportAddr6,
    /// The pool transport address it is mapped to.
    pub v4: TransportAddr4,
    /// A static (configured) binding.
    pub is_static: bool,
}

/// What kind of packet asks the table, for the rules that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Data (TCP with these flags, UDP, ICMP query): may create state.
    Data {
        /// TCP flags (0 for UDP and ICMP).
        tcp_flags: u8,
    },
    /// An ICMP error or a non-first fragment: finds an existing session,
    /// never creates one, changes no timer (req S10).
    Lookup,
}

/// The answer for an outbound (IPv6 → IPv4) packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Out {
    /// The pool transport address: the IPv4 source.
    pub v4: TransportAddr4,
}

/// The answer for an inbound (IPv4 → IPv6) packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct In {
    /// The IPv6 host's transport address: the IPv6 destination.
    pub v6: TransportAddr6,
    /// Index of the prefix the host uses for this binding (to embed the
    /// IPv4 source with).
    pub prefix: u8,
}

#[derive(Debug, Clone, Copy)]
struct Bib {
    proto: Proto,
    v6: TransportAddr6,
    v4: TransportAddr4,
    sessions: u32,
    prefix: u8,
    is_static: bool,
    live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SessionKey {
    bib: u32,
    remote: TransportAddr4,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    deadline: Secs,
    tcp: TcpState,
}

#[derive(Debug)]
struct HeldSyn {
    proto_v4: TransportAddr4,
    remote: TransportAddr4,
    deadline: Secs,
    packet: Box<[u8]>,
}

type Map<K, V> = HashMap<K, V, SeedableRandomState>;

#[derive(Debug)]
struct Shard {
    cfg: StateConfig,
    /// Both indexes of the bindings hold only an index into `bibs`: the
    /// keys live once, in the binding (memory per session: under 200 bytes, benches/state.rs).
    bib6: HashTable<u32>,
    bib4: HashTable<u32>,
    /// Hashes both indexes' keys.
    bib_hasher: SeedableRandomState,
    bibs: Vec<Bib>,
    free: Vec<u32>,
    sessions: Map<SessionKey, Session>,
    /// Address-dependent filtering: (binding, remote address) → sessions.
    adf: Map<(u32, Ipv4Addr), u32>,
    held: VecDeque<HeldSyn>,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    sessions: u32,
    tokens: u32,
    last: Secs,
}

/// Most sessions [`Table::sweep`] removes under one acquisition of a
/// shard's lock.
pub const SWEEP_BATCH: usize = 256;

/// The BIB and session table.
#[derive(Debug)]
pub struct Table {
    shards: Box<[Mutex<Shard>]>,
    mask: usize,
    hasher: SeedableRandomState,
    statics: RwLock<Map<(Proto, TransportAddr6), TransportAddr4>>,
    sources: Box<[Mutex<Map<Ipv6Addr, Source>>]>,
    total: AtomicUsize,
    held_total: AtomicUsize,
}

impl Shard {
    fn hash6(&self, proto: Proto, v6: &TransportAddr6) -> u64 {
        self.bib_hasher.hash_one((proto, v6))
    }

    fn hash4(&self, proto: Proto, v4: &TransportAddr4) -> u64 {
        self.bib_hasher.hash_one((proto, v4))
    }

    /// The binding of IPv6 transport address `v6`.
    fn find6(&self, proto: Proto, v6: &TransportAddr6) -> Option<u32> {
        let bibs = &self.bibs;
        self.bib6
            .find(self.hash6(proto, v6), |&id| {
                let b = &bibs[id as usize];
                b.v6 == *v6 && b.proto == proto
            })
            .copied()
    }

    /// The binding of pool transport address `v4`.
    fn find4(&self, proto: Proto, v4: &TransportAddr4) -> Option<u32> {
        let bibs = &self.bibs;
        self.bib4
            .find(self.hash4(proto, v4), |&id| {
                let b = &bibs[id as usize];
                b.v4 == *v4 && b.proto == proto
            })
            .copied()
    }

    /// Adds binding `id` (already in `bibs`) to both indexes.
    fn index(&mut self, id: u32) {
        let b = self.bibs[id as usize];
        let (h6, h4) = (self.hash6(b.proto, &b.v6), self.hash4(b.proto, &b.v4));
        let (bibs, hasher) = (&self.bibs, &self.bib_hasher);
        self.bib6.insert_unique(h6, id, |&i| {
            let b = &bibs[i as usize];
            hasher.hash_one((b.proto, &b.v6))
        });
        self.bib4.insert_unique(h4, id, |&i| {
            let b = &bibs[i as usize];
            hasher.hash_one((b.proto, &b.v4))
        });
    }

    /// Removes binding `id` from both indexes and frees its slot.
    fn unindex(&mut self, id: u32) {
        let b = self.bibs[id as usize];
        let (h6, h4) = (self.hash6(b.proto, &b.v6), self.hash4(b.proto, &b.v4));
        if let Ok(e) = self.bib6.find_entry(h6, |&i| i == id) {
            e.remove();
        }
        if let Ok(e) = self.bib4.find_entry(h4, |&i| i == id) {
            e.remove();
        }
        self.bibs[id as usize].live = false;
        self.free.push(id);
    }
}

fn lifetime(cfg: &StateConfig, proto: Proto, tcp: TcpState) -> Secs {
    match proto {
        Proto::Udp => cfg.timeouts.udp,
        Proto::Icmp => cfg.timeouts.icmp,
        Proto::Tcp => match tcp {
            TcpState::Established | TcpState::V4FinRcv | TcpState::V6FinRcv => cfg.timeouts.tcp_est,
            _ => cfg.timeouts.tcp_trans,
        },
    }
}

/// Counts for metrics and listings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// Sessions per protocol (TCP, UDP, ICMP).
    pub sessions: [usize; 3],
    /// TCP sessions per state, in [`TcpState::ALL`] order.
    pub tcp_states: [usize; 8],
    /// BIB entries per protocol.
    pub bibs: [usize; 3],
    /// Static BIB entries.
    pub static_bibs: usize,
    /// IPv4 SYNs held for simultaneous open.
    pub held_syns: usize,
}

/// One row of a binding listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BibRow {
    /// Protocol.
    pub proto: Proto,
    /// IPv6 side.
    pub v6: TransportAddr6,
    /// IPv4 side.
    pub v4: TransportAddr4,
    /// Live sessions.
    pub sessions: u32,
    /// Configured.
    pub is_static: bool,
}

impl Table {
    /// A table with `shards` shards (a power of two, the pool's) whose hash
    /// keys derive from `seed` (random in the daemon, fixed in tests).
    pub fn new(shards: usize, cfg: StateConfig, seed: u64) -> Self {
        assert!(shards.is_power_of_two(), "shards must be a power of two");
        let hasher = SeedableRandomState::with_seed(seed, SharedSeed::global_fixed());
        let map = |i: u64| SeedableRandomState::with_seed(seed ^ i, SharedSeed::global_fixed());
        let shards_v: Vec<_> = (0..shards)
            .map(|_| {
                Mutex::new(Shard {
                    cfg,
                    bib6: HashTable::new(),
                    bib4: HashTable::new(),
                    bib_hasher: map(1),
                    bibs: Vec::new(),
                    free: Vec::new(),
                    sessions: Map::with_hasher(map(3)),
                    adf: Map::with_hasher(map(4)),
                    held: VecDeque::new(),
                })
            })
            .collect();
        let sources = (0..shards)
            .map(|_| Mutex::new(Map::with_hasher(map(5))))
            .collect();
        Table {
            shards: shards_v.into_boxed_slice(),
            mask: shards - 1,
            hasher,
            statics: RwLock::new(Map::with_hasher(map(6))),
            sources,
            total: AtomicUsize::new(0),
            held_total: AtomicUsize::new(0),
        }
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Live sessions.
    pub fn sessions(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Applies a new configuration to every shard (SIGHUP): sessions stay;
    /// new lifetimes apply from each session's next packet.
    pub fn reconfigure(&self, cfg: StateConfig) {
        for s in self.shards.iter() {
            let mut s = lock(s);
            let rebuild = s.cfg.filtering != cfg.filtering;
            s.cfg = cfg;
            if rebuild {
                let Shard { adf, sessions, .. } = &mut *s;
                adf.clear();
                if cfg.filtering == Filtering::AddressDependent {
                    for k in sessions.keys() {
                        *adf.entry((k.bib, k.remote.addr)).or_insert(0) += 1;
                    }
                }
            }
        }
    }

    fn v6_shard(&self, proto: Proto, v6: &TransportAddr6) -> usize {
        (keyed(&self.hasher, &(proto.index(), v6)) as usize) & self.mask
    }

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
        let Ask::Data { tcp_flags } = ask else {
            return Err(DropReason::NoSession);
        };
        if proto == Proto::Tcp && !tcp::opens(tcp_flags) {
            return Err(DropReason::TcpNotSyn);
        }
        let mut s = lock(&self.shards[home]);
        // Another worker may have created it between the two locks.
        if let Some(id) = s.find6(proto, &v6) {
            return self.outbound_in(&mut s, now, id, remote, ask, events);
        }
        self.admit(&s.cfg, now, v6.addr)?;
        let key = keyed(&self.hasher, &(0xb1b_u32, proto.index(), v6));
        let host_key = keyed(&self.hasher, &(0x405_u32, v6.addr));
        let limit = pool.capacity_per_shard(proto).min(65536);
        let chosen = pool
            .candidates(proto, v6.port, home, key, host_key, limit)
            .find(|t| s.find4(proto, t).is_none());
        let Some(v4) = chosen else {
            self.release_source(now, v6.addr);
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
    fn outbound_in(
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
        self.admit(&s.cfg, now, bib.v6.addr)?;
        // An IPv4 SYN held for this very session is answered by this one
        // (simultaneous open, RFC 6146 §3.5.2.2): forget it.
        if let Some(i) = s
            .held
            .iter()
            .position(|h| h.proto_v4 == bib.v4 && h.remote == remote)
        {
            s.held.remove(i);
            self.held_total.fetch_sub(1, Ordering::Relaxed);
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
        self.admit(&s.cfg, now, bib.v6.addr)?;
        self.create_session(s, now, id, remote, Dir::V4, ask);
        Ok(answer)
    }

    /// Holds an unsolicited IPv4 SYN (req S4); bounded.
    fn hold(
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

    #[allow(clippy::too_many_arguments)]
    fn refresh(
        &self,
        s: &mut Shard,
        key: SessionKey,
        mut sess: Session,
        proto: Proto,
        dir: Dir,
        tcp_flags: u8,
        now: Secs,
    ) {
        if proto == Proto::Tcp {
            let (next, life) = tcp::next(sess.tcp, dir, tcp_flags);
            sess.tcp = next;
            match life {
                Lifetime::Established => sess.deadline = now + s.cfg.timeouts.tcp_est,
                Lifetime::Transitory => sess.deadline = now + s.cfg.timeouts.tcp_trans,
                Lifetime::Unchanged => {}
            }
        } else if dir == Dir::V6 || proto == Proto::Udp {
            // UDP: refreshed by either side (RFC 6146 §3.5.1); ICMP query
            // sessions by the IPv6 side's requests.
            sess.deadline = now + lifetime(&s.cfg, proto, sess.tcp);
        }
        s.sessions.insert(key, sess);
    }

    /// Starts an expired session over as if it were new (same binding,
    /// same counts).
    fn restart(
        &self,
        s: &mut Shard,
        key: SessionKey,
        now: Secs,
        proto: Proto,
        dir: Dir,
        tcp_flags: u8,
    ) {
        let tcp = if proto == Proto::Tcp {
            tcp::next(TcpState::Closed, dir, tcp_flags).0
        } else {
            TcpState::Closed
        };
        let deadline = now + lifetime(&s.cfg, proto, tcp);
        s.sessions.insert(key, Session { deadline, tcp });
    }

    fn create_session(
        &self,
        s: &mut Shard,
        now: Secs,
        id: u32,
        remote: TransportAddr4,
        dir: Dir,
        ask: Ask,
    ) {
        let bib = &mut s.bibs[id as usize];
        bib.sessions += 1;
        let proto = bib.proto;
        let tcp = match ask {
            Ask::Data { tcp_flags } if proto == Proto::Tcp => {
                tcp::next(TcpState::Closed, dir, tcp_flags).0
            }
            _ => TcpState::Closed,
        };
        let deadline = now + lifetime(&s.cfg, proto, tcp);
        s.sessions
            .insert(SessionKey { bib: id, remote }, Session { deadline, tcp });
        if s.cfg.filtering == Filtering::AddressDependent {
            *s.adf.entry((id, remote.addr)).or_insert(0) += 1;
        }
    }

    /// Counts a new session against the global and per-source limits
    /// (req O4); on success the session is counted.
    fn admit(&self, cfg: &StateConfig, now: Secs, src: Ipv6Addr) -> Result<(), DropReason> {
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

    /// Undoes [`Self::admit`] for a session that was not created.
    fn release_source(&self, _now: Secs, src: Ipv6Addr) {
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

    fn remove_session(&self, s: &mut Shard, key: SessionKey, now: Secs, events: &mut Vec<Event>) {
        if s.sessions.remove(&key).is_none() {
            return;
        }
        if let Some(n) = s.adf.get_mut(&(key.bib, key.remote.addr)) {
            *n -= 1;
            if *n == 0 {
                s.adf.remove(&(key.bib, key.remote.addr));
            }
        }
        let bib = &mut s.bibs[key.bib as usize];
        bib.sessions -= 1;
        let bib = *bib;
        self.release_source(now, bib.v6.addr);
        if bib.sessions == 0 && !bib.is_static {
            s.unindex(key.bib);
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
            if let Some(h) = s.held.pop_front() {
                self.held_total.fetch_sub(1, Ordering::Relaxed);
                unanswered.push(h.packet);
            }
        }
        removed
    }

    /// Replaces the static bindings (req S7) with `entries`: (protocol,
    /// IPv6 server, pool transport address). Sessions of removed entries
    /// stay until they expire, then the binding goes. Errors name a
    /// conflicting entry and change nothing.
    pub fn set_statics(
        &self,
        now: Secs,
        pool: &Pool,
        entries: &[(Proto, TransportAddr6, TransportAddr4)],
        events: &mut Vec<Event>,
    ) -> Result<(), String> {
        for (i, a) in entries.iter().enumerate() {
            if !pool.contains(a.2.addr) {
                return Err(format!("static {}: {} is not a pool address", i, a.2.addr));
            }
            for b in &entries[..i] {
                if a.0 == b.0 && (a.1 == b.1 || a.2 == b.2) {
                    return Err(format!(
                        "static {i}: {} {} ↔ {} repeats an earlier entry",
                        a.0.name(),
                        a.1,
                        a.2
                    ));
                }
            }
        }
        // A dynamic binding already holding a wanted pool port, or an IPv6
        // address+port, keeps it until it expires; the static entry then
        // cannot be installed now.
        for (i, (proto, v6, v4)) in entries.iter().enumerate() {
            let s = lock(&self.shards[pool.shard_of_port(v4.port)]);
            if let Some(id) = s.find4(*proto, v4) {
                let b = s.bibs[id as usize];
                if !b.is_static && b.v6 != *v6 {
                    return Err(format!(
                        "static {i}: {} {v4} is in use by {} until its sessions expire",
                        proto.name(),
                        b.v6
                    ));
                }
            }
        }
        let mut statics = self
            .statics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Unmark the old ones.
        for ((proto, v6), v4) in statics.iter() {
            let mut s = lock(&self.shards[pool.shard_of_port(v4.port)]);
            let s = &mut *s;
            if let Some(id) = s.find4(*proto, v4) {
                let b = &mut s.bibs[id as usize];
                b.is_static = false;
                if b.sessions == 0 {
                    s.unindex(id);
                    events.push(Event {
                        at: now,
                        created: false,
                        proto: *proto,
                        v6: *v6,
                        v4: *v4,
                        is_static: true,
                    });
                }
            }
        }
        statics.clear();
        for (proto, v6, v4) in entries {
            statics.insert((*proto, *v6), *v4);
            let mut s = lock(&self.shards[pool.shard_of_port(v4.port)]);
            let s = &mut *s;
            if let Some(id) = s.find4(*proto, v4) {
                s.bibs[id as usize].is_static = true;
            } else {
                insert_bib(s, *proto, *v6, *v4, 0, true);
                events.push(Event {
                    at: now,
                    created: true,
                    proto: *proto,
                    v6: *v6,
                    v4: *v4,
                    is_static: true,
                });
            }
        }
        Ok(())
    }

    /// Counts sessions, TCP states and bindings (for `/metrics`).
    pub fn census(&self) -> Census {
        let mut c = Census::default();
        for s in self.shards.iter() {
            let s = lock(s);
            for (k, v) in s.sessions.iter() {
                let p = s.bibs[k.bib as usize].proto;
                c.sessions[p.index()] += 1;
                if p == Proto::Tcp {
                    let i = TcpState::ALL.iter().position(|x| *x == v.tcp).unwrap_or(0);
                    c.tcp_states[i] += 1;
                }
            }
            for b in s.bibs.iter().filter(|b| b.live) {
                c.bibs[b.proto.index()] += 1;
                c.static_bibs += usize::from(b.is_static);
            }
            c.held_syns += s.held.len();
        }
        c
    }

    /// Every live binding, sorted (for the control interface).
    pub fn bindings(&self) -> Vec<BibRow> {
        let mut rows = Vec::new();
        for s in self.shards.iter() {
            let s = lock(s);
            rows.extend(s.bibs.iter().filter(|b| b.live).map(|b| BibRow {
                proto: b.proto,
                v6: b.v6,
                v4: b.v4,
                sessions: b.sessions,
                is_static: b.is_static,
            }));
        }
        rows.sort_by_key(|r| (r.proto.index(), r.v4, r.v6));
        rows
    }
}

fn insert_bib(
    s: &mut Shard,
    proto: Proto,
    v6: TransportAddr6,
    v4: TransportAddr4,
    prefix: u8,
    is_static: bool,
) -> u32 {
    let bib = Bib {
        proto,
        v6,
        v4,
        sessions: 0,
        prefix,
        is_static,
        live: true,
    };
    let id = match s.free.pop() {
        Some(id) => {
            s.bibs[id as usize] = bib;
            id
        }
        None => {
            s.bibs.push(bib);
            (s.bibs.len() - 1) as u32
        }
    };
    s.index(id);
    id
}

#[cfg(test)]
mod tests;
