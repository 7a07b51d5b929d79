//! What one customer may open through the shared pool (req O4): limits
//! counted per customer prefix (`source_prefix_len`, overrides per range),
//! token buckets, and the port policy. Pure: `now` comes in; the state
//! layer ([`crate::state`]) keeps the counts and buckets per prefix.
//!
//! A customer is an IPv6 prefix, not an address: every VM owns at least a
//! /64 and may send from any address in it, so a limit per /128 is no
//! limit at all.

use std::net::Ipv6Addr;

use foldhash::fast::FixedState;
use hashbrown::HashMap;
use ipnet::Ipv6Net;

use crate::flow::Proto;
use crate::pool::PortRange;
/// Seconds on the caller's coarse clock (the state layer's `Secs`).
type Secs = u32;

/// A token bucket's settings: `per_minute` tokens a minute, at most
/// `burst` saved up. `per_minute == 0`: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added a minute.
    pub per_minute: u32,
    /// Most tokens held (at least 1 when limited).
    pub burst: u32,
}

impl Rate {
    /// No limit.
    pub const NONE: Rate = Rate {
        per_minute: 0,
        burst: 0,
    };

    /// Whether the rate limits anything.
    pub fn limits(self) -> bool {
        self.per_minute != 0
    }

    fn capacity(self) -> u32 {
        self.burst.clamp(1, MAX_BURST).saturating_mul(UNIT)
    }

    /// Seconds a bucket of this rate takes to fill from empty.
    pub fn fill_time(self) -> Secs {
        if !self.limits() {
            return 0;
        }
        self.capacity().div_ceil(self.per_minute)
    }
}

/// A token is this many units, so that a rate per minute refills in whole
/// units per second.
const UNIT: u32 = 60;

/// The largest burst a bucket holds (the configuration refuses more).
pub const MAX_BURST: u32 = 1_000_000;

/// A token bucket, `now` passed in. It starts full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    level: u32,
    last: Secs,
}

impl Bucket {
    /// A full bucket of `rate` at `now`.
    pub fn full(rate: Rate, now: Secs) -> Self {
        Bucket {
            level: rate.capacity(),
            last: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Secs) {
        let secs = now.saturating_sub(self.last);
        self.level = self
            .level
            .saturating_add(secs.saturating_mul(rate.per_minute))
            .min(rate.capacity());
        self.last = self.last.max(now);
    }

    /// Whether a token is there at `now` (none is taken).
    pub fn ready(&mut self, rate: Rate, now: Secs) -> bool {
        if !rate.limits() {
            return true;
        }
        self.refill(rate, now);
        self.level >= UNIT
    }

    /// Takes a token; call after [`Bucket::ready`] said yes.
    pub fn take(&mut self, rate: Rate) {
        if rate.limits() {
            self.level = self.level.saturating_sub(UNIT);
        }
    }

    /// Whether the bucket is full at `now`: forgetting it changes nothing.
    pub fn is_full(&self, rate: Rate, now: Secs) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        !rate.limits() || b.level >= rate.capacity()
    }
}

/// A customer: the source prefix its addresses are counted under. Four
/// 32-bit words, most significant first, rather than a `u128`, so that a
/// key takes 20 bytes, not 32 (one per customer in the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey {
    words: [u32; 4],
    len: u8,
}

impl SourceKey {
    /// The prefix of length `len` that holds `a`.
    pub fn of(a: Ipv6Addr, len: u8) -> Self {
        let len = len.min(128);
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len))
        };
        let net = u128::from(a) & mask;
        SourceKey {
            words: [
                (net >> 96) as u32,
                (net >> 64) as u32,
                (net >> 32) as u32,
                net as u32,
            ],
            len,
        }
    }

    /// The prefix's first address.
    pub fn addr(self) -> Ipv6Addr {
        let [a, b, c, d] = self.words.map(u128::from);
        Ipv6Addr::from((a << 96) | (b << 64) | (c << 32) | d)
    }

    /// The prefix length.
    pub fn prefix_len(self) -> u8 {
        self.len
    }

    /// As a network, for logs.
    pub fn net(self) -> Ipv6Net {
        Ipv6Net::new(self.addr(), self.len)
            .unwrap_or_else(|_| Ipv6Net::new(Ipv6Addr::UNSPECIFIED, 0).unwrap_or_default())
    }

    /// A hash of the prefix that is the same in every run and on every
    /// gateway (the pool address a customer is paired with must not move
    /// at a restart: its reputation is the customer's).
    pub fn stable_hash(self) -> u64 {
        // SplitMix64 over both halves and the length.
        let mut h = u64::from(self.len);
        let [a, b, c, d] = self.words.map(u64::from);
        for part in [(a << 32) | b, (c << 32) | d] {
            h = h.wrapping_add(part).wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = h;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            h = z ^ (z >> 31);
        }
        h
    }
}

impl std::fmt::Display for SourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.net().fmt(f)
    }
}

/// What one customer prefix may hold and open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most sessions at once (0: no limit).
    pub sessions: u32,
    /// New sessions.
    pub rate: Rate,
}

impl Limits {
    /// No limit.
    pub const NONE: Limits = Limits {
        sessions: 0,
        rate: Rate::NONE,
    };
}

/// Other limits for the sources inside `net`, counted per prefix of
/// `prefix_len` (at least `net`'s own length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Override {
    /// The range.
    pub net: Ipv6Net,
    /// The customer prefix length inside it.
    pub prefix_len: u8,
    /// Its limits.
    pub limits: Limits,
}

/// What a port policy entry does to a new flow it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortAction {
    /// Refused.
    Deny,
    /// Admitted without the entries below it.
    Allow,
    /// Admitted within a rate per customer prefix.
    Limit(Rate),
}

/// One `[[nat64.port_policy]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRule {
    /// The protocol (TCP or UDP).
    pub proto: Proto,
    /// Destination ports.
    pub ports: Vec<PortRange>,
    /// Sources it applies to; empty: all.
    pub from: Vec<Ipv6Net>,
    /// What it does.
    pub action: PortAction,
}

impl PortRule {
    fn matches(&self, proto: Proto, port: u16, src: Ipv6Addr) -> bool {
        self.proto == proto
            && self.ports.iter().any(|r| r.contains(port))
            && (self.from.is_empty() || self.from.iter().any(|n| n.contains(&src)))
    }
}

/// The limits and the port policy, as the state layer applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitPolicy {
    /// The customer prefix length outside every override.
    pub prefix_len: u8,
    /// The limits outside every override.
    pub base: Limits,
    /// Overrides, most specific first (see [`LimitPolicy::new`]).
    overrides: Vec<Override>,
    /// The overrides by range length, longest first: the range's bits →
    /// its index in `overrides`. A lookup costs one hash probe per distinct
    /// length, whatever the number of overrides.
    by_len: Vec<(u8, HashMap<u128, usize, FixedState>)>,
    /// The port policy, in file order (first match wins).
    rules: Vec<PortRule>,
}

impl Default for LimitPolicy {
    /// No limits, counted per /64, no port policy.
    fn default() -> Self {
        LimitPolicy::new(64, Limits::NONE, Vec::new(), Vec::new())
    }
}

impl LimitPolicy {
    /// A policy; `overrides` in any order (the most specific range wins).
    pub fn new(
        prefix_len: u8,
        base: Limits,
        mut overrides: Vec<Override>,
        rules: Vec<PortRule>,
    ) -> Self {
        overrides.sort_by_key(|o| std::cmp::Reverse(o.net.prefix_len()));
        let mut by_len: Vec<(u8, HashMap<u128, usize, FixedState>)> = Vec::new();
        for (i, o) in overrides.iter().enumerate() {
            let len = o.net.prefix_len();
            if by_len.last().is_none_or(|(l, _)| *l != len) {
                by_len.push((len, HashMap::with_hasher(FixedState::default())));
            }
            if let Some((_, m)) = by_len.last_mut() {
                m.entry(u128::from(o.net.network())).or_insert(i);
            }
        }
        LimitPolicy {
            prefix_len: prefix_len.min(128),
            base,
            overrides,
            by_len,
            rules,
        }
    }

    /// The customer prefix `src` is counted under and its limits.
    pub fn source(&self, src: Ipv6Addr) -> (SourceKey, Limits) {
        let bits = u128::from(src);
        let found = self.by_len.iter().find_map(|(len, m)| {
            let mask = if *len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(*len))
            };
            m.get(&(bits & mask)).map(|&i| &self.overrides[i])
        });
        match found {
            Some(o) => (SourceKey::of(src, o.prefix_len), o.limits),
            None => (SourceKey::of(src, self.prefix_len), self.base),
        }
    }

    /// The first port policy entry that matches a new flow from `src` to
    /// destination `port` of `proto`, with its index.
    pub fn port_rule(&self, proto: Proto, port: u16, src: Ipv6Addr) -> Option<(u16, PortAction)> {
        if proto == Proto::Icmp {
            return None;
        }
        self.rules
            .iter()
            .position(|r| r.matches(proto, port, src))
            .map(|i| (u16::try_from(i).unwrap_or(u16::MAX), self.rules[i].action))
    }

    /// The rate of port policy entry `i` (none for deny and allow).
    pub fn rule_rate(&self, i: u16) -> Rate {
        match self.rules.get(usize::from(i)).map(|r| r.action) {
            Some(PortAction::Limit(r)) => r,
            _ => Rate::NONE,
        }
    }

    /// Whether `other` counts every address under the same prefix as this
    /// policy does (else the counts must be made again at a reload).
    pub fn same_keying(&self, other: &LimitPolicy) -> bool {
        self.prefix_len == other.prefix_len
            && self.overrides.len() == other.overrides.len()
            && self
                .overrides
                .iter()
                .zip(&other.overrides)
                .all(|(a, b)| a.net == b.net && a.prefix_len == b.prefix_len)
    }

    /// The port policy entries.
    pub fn rules(&self) -> &[PortRule] {
        &self.rules
    }
}

#[cfg(test)]
mod tests;
