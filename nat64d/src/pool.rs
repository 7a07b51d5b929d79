//! The IPv4 pool (req S6): addresses with a port range per protocol, and
//! the choice of a port for a new binding.
//!
//! Port choice (RFC 6056 §3.3.3, "simple hash-based"): the first candidate
//! is a keyed hash of the IPv6 transport address, then candidates follow in
//! order, so an outsider who does not know the key cannot predict ports. The
//! candidate keeps the source port's class (below 1024 or not, RFC 6146
//! §3.5.1.1) and its parity (RFC 4787 REQ-4) where the range allows, and is
//! always one whose pair index `port >> 1` falls in the session-table shard
//! of the IPv6 side, so that one lock covers both keys of a binding. The
//! address is chosen per IPv6 host first (RFC 4787 REQ-2, "paired"), then
//! the others in turn.

use std::hash::{BuildHasher, Hash};
use std::net::Ipv4Addr;

use crate::flow::{Proto, TransportAddr4};

/// Inclusive port range (or ICMP identifier range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port.
    pub last: u16,
}

impl PortRange {
    /// Number of ports.
    pub fn len(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }
    /// Whether the range holds no port (never, when `first <= last`).
    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }
    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

/// Default ranges: TCP and UDP 1024–65535 (the privileged ports are left to
/// the gateway's own services unless configured), ICMP identifiers 0–65535.
pub const DEFAULT_RANGES: [PortRange; 3] = [
    PortRange {
        first: 1024,
        last: 65535,
    },
    PortRange {
        first: 1024,
        last: 65535,
    },
    PortRange {
        first: 0,
        last: 65535,
    },
];

/// The IPv4 pool.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Sorted, distinct addresses.
    addrs: Vec<Ipv4Addr>,
    ranges: [PortRange; 3],
    /// Number of session-table shards (a power of two).
    shards: usize,
}

/// Most addresses one pool may hold (a /16).
pub const MAX_ADDRESSES: usize = 65536;

impl Pool {
    /// A pool of `addrs` (duplicates removed) with per-protocol `ranges`
    /// (TCP, UDP, ICMP), split over `shards` session-table shards (a power
    /// of two). Errors name the problem.
    pub fn new(
        mut addrs: Vec<Ipv4Addr>,
        ranges: [PortRange; 3],
        shards: usize,
    ) -> Result<Self, String> {
        addrs.sort_unstable();
        addrs.dedup();
        if addrs.is_empty() {
            return Err("the pool holds no address".into());
        }
        if addrs.len() > MAX_ADDRESSES {
            return Err(format!(
                "the pool holds {} addresses; at most {MAX_ADDRESSES}",
                addrs.len()
            ));
        }
        for (r, name) in ranges.iter().zip(["tcp", "udp", "icmp"]) {
            if r.is_empty() {
                return Err(format!("{name} port range {}-{} is empty", r.first, r.last));
            }
        }
        if !shards.is_power_of_two() {
            return Err(format!("{shards} shards: not a power of two"));
        }
        Ok(Pool {
            addrs,
            ranges,
            shards,
        })
    }

    /// The addresses, sorted.
    pub fn addrs(&self) -> &[Ipv4Addr] {
        &self.addrs
    }

    /// The port range of `proto`.
    pub fn range(&self, proto: Proto) -> PortRange {
        self.ranges[proto.index()]
    }

    /// Whether `a` is a pool address.
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        self.addrs.binary_search(&a).is_ok()
    }

    /// The address a host key is paired with (see [`Pool::candidates`]).
    pub fn paired_address(&self, host_key: u64) -> Ipv4Addr {
        self.addrs[(host_key % self.addrs.len() as u64) as usize]
    }

    /// The shard a pool port belongs to.
    #[inline]
    pub fn shard_of_port(&self, port: u16) -> usize {
        usize::from(port >> 1) & (self.shards - 1)
    }

    /// How many shards the pool is split over.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The number of transport addresses of `proto` one shard can hand out.
    pub fn capacity_per_shard(&self, proto: Proto) -> usize {
        let r = self.range(proto);
        (r.len() as usize).div_ceil(self.shards) * self.addrs.len()
    }

    /// Candidate IPv4 transport addresses for a new binding of the IPv6
    /// source port `src_port` (class and parity kept where possible) in
    /// `shard`, in probe order, starting from the keyed hash `key` of the
    /// IPv6 transport address (and `host_key`, the hash of its address, for
    /// the address choice: `host_key` modulo the number of addresses).
    /// With `spill`, the other addresses follow the chosen one; without,
    /// only the chosen one is offered (strict pairing). At most `limit`
    /// candidates.
    #[allow(clippy::too_many_arguments)]
    pub fn candidates(
        &self,
        proto: Proto,
        src_port: u16,
        shard: usize,
        key: u64,
        host_key: u64,
        spill: bool,
        limit: usize,
    ) -> impl Iterator<Item = TransportAddr4> + '_ {
        let range = self.range(proto);
        let n = if spill { self.addrs.len() } else { 1 };
        let first_addr = (host_key % self.addrs.len() as u64) as usize;
        // Preferred ranges: the class of the source port (RFC 6146
        // §3.5.1.1), with its parity, then the other parity, then the whole
        // range; ICMP identifiers have neither class nor parity.
        let class = if proto == Proto::Icmp {
            range
        } else if src_port < 1024 {
            PortRange {
                first: range.first,
                last: range.last.min(1023),
            }
        } else {
            PortRange {
                first: range.first.max(1024),
                last: range.last,
            }
        };
        let parity = src_port & 1;
        let class = if class.is_empty() { range } else { class };
        // The rest of the range, the other class, last (empty when the
        // class is the whole range).
        let rest = if class == range {
            PortRange { first: 1, last: 0 }
        } else if class.first == range.first {
            PortRange {
                first: class.last + 1,
                last: range.last,
            }
        } else {
            PortRange {
                first: range.first,
                last: class.first - 1,
            }
        };
        let plans = [
            (class, Some(parity)),
            (class, Some(parity ^ 1)),
            (rest, None),
        ];
        let shards = self.shards;
        plans
            .into_iter()
            .flat_map(move |(r, par)| {
                (0..n).flat_map(move |i| {
                    let addr = self.addrs[(first_addr + i) % self.addrs.len()];
                    ShardPorts::new(r, shard, shards, par, key)
                        .map(move |port| TransportAddr4 { addr, port })
                })
            })
            .take(limit)
    }
}

/// The ports of a range whose pair index falls in one shard (and of one
/// parity, if asked), starting at a keyed offset and wrapping around.
struct ShardPorts {
    range: PortRange,
    shard: u32,
    shards: u32,
    parity: Option<u16>,
    /// Pair-index multiples k with q = shard + k * shards inside the range.
    k_first: u32,
    count: u32,
    /// Next position 0..count·(2 if no parity else 1).
    pos: u32,
    start: u32,
    total: u32,
}

impl ShardPorts {
    fn new(range: PortRange, shard: usize, shards: usize, parity: Option<u16>, key: u64) -> Self {
        let (shard, shards) = (shard as u32, shards as u32);
        if range.is_empty() {
            return ShardPorts {
                range,
                shard,
                shards,
                parity,
                k_first: 0,
                count: 0,
                pos: 0,
                start: 0,
                total: 0,
            };
        }
        let q_lo = u32::from(range.first >> 1);
        let q_hi = u32::from(range.last >> 1);
        let k_first = if q_lo > shard {
            (q_lo - shard).div_ceil(shards)
        } else {
            0
        };
        let count = if q_hi >= shard && shard + k_first * shards <= q_hi {
            (q_hi - shard) / shards - k_first + 1
        } else {
            0
        };
        let per = if parity.is_some() { 1 } else { 2 };
        let total = count * per;
        let start = if total == 0 {
            0
        } else {
            (key % u64::from(total)) as u32
        };
        ShardPorts {
            range,
            shard,
            shards,
            parity,
            k_first,
            count,
            pos: 0,
            start,
            total,
        }
    }
}

impl Iterator for ShardPorts {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        while self.pos < self.total {
            let i = (self.start + self.pos) % self.total;
            self.pos += 1;
            let (k, low) = match self.parity {
                Some(p) => (i, p),
                None => (i / 2, (i % 2) as u16),
            };
            debug_assert!(k < self.count);
            let q = self.shard + (self.k_first + k) * self.shards;
            let Ok(q) = u16::try_from(q) else { continue };
            let port = (q << 1) | low;
            if self.range.contains(port) {
                return Some(port);
            }
        }
        None
    }
}

/// A keyed 64-bit hash of `v`.
pub fn keyed<T: Hash, S: BuildHasher>(s: &S, v: &T) -> u64 {
    s.hash_one(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn pool(shards: usize) -> Pool {
        Pool::new(
            vec![
                Ipv4Addr::new(198, 51, 100, 1),
                Ipv4Addr::new(198, 51, 100, 2),
            ],
            DEFAULT_RANGES,
            shards,
        )
        .unwrap()
    }

    #[test]
    fn s6_candidates_stay_in_shard_class_and_parity() {
        let p = pool(64);
        for shard in [0, 5, 63] {
            let c: Vec<_> = p
                .candidates(Proto::Udp, 40001, shard, 12345, 7, true, 10_000)
                .collect();
            assert!(!c.is_empty());
            for t in &c[..400] {
                assert_eq!(p.shard_of_port(t.port), shard);
                assert!(t.port >= 1024, "class kept");
                assert_eq!(t.port & 1, 1, "parity kept");
            }
            let distinct: HashSet<_> = c.iter().collect();
            assert_eq!(distinct.len(), c.len(), "no candidate twice");
        }
    }

    #[test]
    fn s6_privileged_source_gets_privileged_port_when_the_range_has_them() {
        let p = Pool::new(
            vec![Ipv4Addr::new(198, 51, 100, 1)],
            [PortRange {
                first: 1,
                last: 65535,
            }; 3],
            4,
        )
        .unwrap();
        let first = p
            .candidates(Proto::Tcp, 80, 1, 99, 0, true, 1)
            .next()
            .unwrap();
        assert!(first.port < 1024 && first.port & 1 == 0);
        // A range without privileged ports still gives a port.
        let p = pool(4);
        let first = p
            .candidates(Proto::Tcp, 80, 1, 99, 0, true, 1)
            .next()
            .unwrap();
        assert!(first.port >= 1024);
    }

    #[test]
    fn s6_start_is_keyed_and_the_whole_shard_is_reachable() {
        let p = Pool::new(
            vec![Ipv4Addr::new(198, 51, 100, 1)],
            [PortRange {
                first: 2000,
                last: 2099,
            }; 3],
            2,
        )
        .unwrap();
        let a: Vec<_> = p
            .candidates(Proto::Udp, 5000, 0, 1, 0, true, 1000)
            .collect();
        let b: Vec<_> = p
            .candidates(Proto::Udp, 5000, 0, 2, 0, true, 1000)
            .collect();
        assert_ne!(a[0], b[0], "different keys start elsewhere");
        let all: HashSet<u16> = a.iter().map(|t| t.port).collect();
        let expected: HashSet<u16> = (2000..=2099).filter(|p| (p >> 1) & 1 == 0).collect();
        assert_eq!(all, expected, "every port of the shard, both parities");
    }

    #[test]
    fn s6_paired_address_per_host() {
        let p = pool(8);
        let a = p
            .candidates(Proto::Udp, 5000, 3, 1, 42, true, 1)
            .next()
            .unwrap();
        let b = p
            .candidates(Proto::Udp, 6000, 3, 999, 42, true, 1)
            .next()
            .unwrap();
        assert_eq!(a.addr, b.addr, "same host key, same address first");
    }

    #[test]
    fn pool_config_errors() {
        assert!(Pool::new(vec![], DEFAULT_RANGES, 4).is_err());
        assert!(Pool::new(vec![Ipv4Addr::LOCALHOST], DEFAULT_RANGES, 3).is_err());
        let bad = [PortRange { first: 10, last: 5 }; 3];
        assert!(
            Pool::new(vec![Ipv4Addr::LOCALHOST], bad, 4)
                .unwrap_err()
                .contains("tcp")
        );
    }
}
