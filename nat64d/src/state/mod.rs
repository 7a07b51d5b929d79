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

mod census;
mod hold;
mod limits;
mod sessions;
mod shard;
mod statics;
pub mod tcp;

pub use census::{BibRow, Census, RemoveError, Select, SessionRow};
use limits::Sources;
pub use limits::{Offender, REFUSALS, SourceRow};
pub use statics::check_statics;

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use common::sync::lock;

use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;
use hashbrown::{HashMap, HashTable};

use crate::flow::{Proto, TransportAddr4, TransportAddr6};
use crate::limits::{Bucket, LimitPolicy, SourceKey};
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
    /// How long a session the IPv4 side opened lives until the IPv6 host
    /// answers it, 6 s (as RFC 6146 §3.5.2.2 gives a V4 INIT session).
    pub unanswered_inbound: Secs,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            udp: 300,
            tcp_est: 7440,
            tcp_trans: 240,
            icmp: 60,
            syn_hold: 6,
            unanswered_inbound: 6,
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

/// Which pool address a new binding gets (RFC 4787 REQ-2, RFC 6888
/// REQ-2: "paired").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pairing {
    /// Every address of one customer prefix (the limits' source prefix)
    /// uses one pool address, the same in every run; when its ports run
    /// out, the prefix gets no other (a blocklisting of that address hurts
    /// only the customers paired with it).
    #[default]
    Prefix,
    /// Each IPv6 address prefers its own pool address and takes another
    /// when that one's ports run out.
    Address,
}

/// What the state layer needs from the configuration; reloadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// Lifetimes.
    pub timeouts: Timeouts,
    /// Filtering policy.
    pub filtering: Filtering,
    /// Most sessions in the whole table (memory bound).
    pub max_sessions: usize,
    /// Limits per customer prefix and the port policy.
    pub limits: Arc<LimitPolicy>,
    /// How pool addresses are chosen.
    pub pairing: Pairing,
    /// Most unsolicited IPv4 SYNs held at once (req S4).
    pub max_held_syns: usize,
    /// Most sessions one binding may hold that the IPv4 side opened and the
    /// IPv6 host has not answered yet (0: no limit). The table as a whole
    /// holds at most a quarter of `max_sessions` of them.
    pub inbound_per_binding: u32,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            timeouts: Timeouts::default(),
            filtering: Filtering::EndpointIndependent,
            max_sessions: 1_000_000,
            limits: Arc::default(),
            pairing: Pairing::default(),
            max_held_syns: 1024,
            inbound_per_binding: 64,
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
    /// Unanswered inbound sessions (see [`Session::unanswered`]).
    unanswered: u32,
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
    /// Opened by the IPv4 side: not counted against the IPv6 host's
    /// per-source limits.
    inbound: bool,
    /// Opened by the IPv4 side and not answered by the IPv6 host yet:
    /// counted against the binding's and the table's inbound limits, with
    /// the short `unanswered_inbound` lifetime.
    unanswered: bool,
}

#[derive(Debug)]
pub(super) struct HeldSyn {
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
    sources: Box<[Mutex<Sources>]>,
    total: AtomicUsize,
    held_total: AtomicUsize,
    /// Unanswered inbound sessions in the whole table.
    inbound_total: AtomicUsize,
    /// Held SYNs by sender: its transport address → the pool transport
    /// addresses it sent to (for simultaneous open; at most
    /// `max_held_syns` in all). Always the innermost lock.
    held_from: Mutex<Map<TransportAddr4, Vec<TransportAddr4>>>,
    /// Bindings made by a simultaneous open that live in their pool
    /// port's shard, not their IPv6 side's: found from the IPv6 side here.
    displaced: RwLock<Map<(Proto, TransportAddr6), TransportAddr4>>,
    displaced_count: AtomicUsize,
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
                    cfg: cfg.clone(),
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
            .map(|_| Mutex::new(Sources::new(map(5))))
            .collect();
        Table {
            shards: shards_v.into_boxed_slice(),
            mask: shards - 1,
            hasher,
            statics: RwLock::new(Map::with_hasher(map(6))),
            sources,
            total: AtomicUsize::new(0),
            held_total: AtomicUsize::new(0),
            inbound_total: AtomicUsize::new(0),
            held_from: Mutex::new(Map::with_hasher(map(7))),
            displaced: RwLock::new(Map::with_hasher(map(8))),
            displaced_count: AtomicUsize::new(0),
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
    /// new lifetimes apply from each session's next packet. All shards are
    /// held while the configuration changes, so that no packet sees two;
    /// the per-prefix counts are made again when the prefixes change (see
    /// [`Table::recount_sources`]).
    pub fn reconfigure(&self, cfg: StateConfig) {
        let mut shards: Vec<_> = self.shards.iter().map(lock).collect();
        let Some(old) = shards.first().map(|s| s.cfg.clone()) else {
            return;
        };
        for s in &mut shards {
            let rebuild = s.cfg.filtering != cfg.filtering;
            s.cfg = cfg.clone();
            if rebuild {
                let Shard { adf, sessions, .. } = &mut **s;
                adf.clear();
                if cfg.filtering == Filtering::AddressDependent {
                    for k in sessions.keys() {
                        *adf.entry((k.bib, k.remote.addr)).or_insert(0) += 1;
                    }
                }
            }
        }
        if !old.limits.same_keying(&cfg.limits) {
            self.recount_sources(&shards, &cfg);
        } else if old.limits.rules() != cfg.limits.rules() {
            self.forget_port_buckets();
        }
    }

    fn v6_shard(&self, proto: Proto, v6: &TransportAddr6) -> usize {
        (keyed(&self.hasher, &(proto.index(), v6)) as usize) & self.mask
    }
}

#[cfg(test)]
mod tests;
