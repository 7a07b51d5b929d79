//! Fragments after the first (req S9; RFC 6146 §3.4, §3.5): they carry no
//! ports, so they are matched to their flow by (addresses, protocol,
//! fragment ID). When the first fragment is translated its result is
//! remembered; fragments that arrive before it are held, and released to
//! the caller when it arrives. Memory is bounded (flows and held bytes),
//! every entry times out, and held fragments that time out are counted.

use std::hash::Hash;

use hashbrown::HashMap;

use crate::state::Secs;

/// Most fragment flows remembered at once, per direction.
pub const MAX_FRAG_FLOWS: usize = 4096;
/// Most bytes of held fragments, per direction.
pub const MAX_HELD_BYTES: usize = 2 << 20;
/// Most fragments held for one flow (a 64 KiB datagram in 1280-byte
/// fragments is 52).
pub const MAX_HELD_PER_FLOW: usize = 64;
/// How long a fragment flow is remembered, in seconds (RFC 6146 §3.4: at
/// least 2 s). An entry made at coarse second `t` lives while `now <= t +
/// FRAG_TIMEOUT`, so at least this long in real time.
pub const FRAG_TIMEOUT: Secs = 2;

#[derive(Debug)]
enum Entry<V> {
    /// The first fragment was translated: later ones go the same way.
    Known(V),
    /// Fragments waiting for the first.
    Waiting(Vec<Box<[u8]>>),
}

/// One direction's fragment memory: key → what the first fragment decided.
#[derive(Debug)]
pub struct FragTable<K, V> {
    map: HashMap<K, (Entry<V>, Secs), foldhash::fast::RandomState>,
    held_bytes: usize,
    held_packets: usize,
}

impl<K, V> Default for FragTable<K, V> {
    fn default() -> Self {
        FragTable {
            map: HashMap::default(),
            held_bytes: 0,
            held_packets: 0,
        }
    }
}

/// Why a fragment could not be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldError {
    /// Too many flows, bytes or fragments of this flow.
    Full,
}

impl<K: Hash + Eq + Copy, V: Copy> FragTable<K, V> {
    /// What the first fragment of `key` decided, if it was seen in time.
    pub fn known(&self, key: &K, now: Secs) -> Option<V> {
        match self.map.get(key) {
            Some((Entry::Known(v), until)) if now <= *until => Some(*v),
            _ => None,
        }
    }

    /// Records the first fragment's decision for `key`, and returns the
    /// fragments that were waiting for it (to be processed again, now that
    /// they find it).
    pub fn learn(&mut self, key: K, v: V, now: Secs) -> Vec<Box<[u8]>> {
        let until = now + FRAG_TIMEOUT;
        if let Some((e, u)) = self.map.get_mut(&key) {
            let old = std::mem::replace(e, Entry::Known(v));
            *u = until;
            if let Entry::Waiting(held) = old {
                self.held_bytes -= held.iter().map(|p| p.len()).sum::<usize>();
                self.held_packets -= held.len();
                return held;
            }
            return Vec::new();
        }
        if self.map.len() >= MAX_FRAG_FLOWS {
            // Full: forget only flows whose first fragment is known (their
            // later fragments then drop as `NoSession`); never what waits.
            self.map
                .retain(|_, (e, u)| now <= *u || matches!(e, Entry::Waiting(_)));
            if self.map.len() >= MAX_FRAG_FLOWS {
                return Vec::new();
            }
        }
        self.map.insert(key, (Entry::Known(v), until));
        Vec::new()
    }

    /// Holds a fragment of `key` that arrived before its first.
    pub fn hold(&mut self, key: K, pkt: &[u8], now: Secs) -> Result<(), HoldError> {
        if self.held_bytes + pkt.len() > MAX_HELD_BYTES {
            return Err(HoldError::Full);
        }
        let entries = self.map.len();
        match self.map.get_mut(&key) {
            Some((Entry::Waiting(held), _)) => {
                if held.len() >= MAX_HELD_PER_FLOW {
                    return Err(HoldError::Full);
                }
                held.push(pkt.into());
            }
            // A known entry that timed out: start waiting again.
            Some((e @ Entry::Known(_), u)) => {
                *e = Entry::Waiting(vec![pkt.into()]);
                *u = now + FRAG_TIMEOUT;
            }
            None => {
                if entries >= MAX_FRAG_FLOWS {
                    return Err(HoldError::Full);
                }
                self.map
                    .insert(key, (Entry::Waiting(vec![pkt.into()]), now + FRAG_TIMEOUT));
            }
        }
        self.held_bytes += pkt.len();
        self.held_packets += 1;
        Ok(())
    }

    /// Forgets every entry past its time; returns how many held fragments
    /// were dropped with them.
    pub fn expire(&mut self, now: Secs) -> usize {
        let mut dropped = 0;
        let mut bytes = 0;
        self.map.retain(|_, (e, u)| {
            if now <= *u {
                return true;
            }
            if let Entry::Waiting(held) = e {
                dropped += held.len();
                bytes += held.iter().map(|p| p.len()).sum::<usize>();
            }
            false
        });
        self.held_bytes -= bytes;
        self.held_packets -= dropped;
        dropped
    }

    /// Flows remembered (known or waiting).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes of held fragments.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Fragments held, waiting for their first.
    pub fn held_packets(&self) -> usize {
        self.held_packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_fragments_are_released_by_the_first() {
        let mut t = FragTable::<u32, u8>::default();
        assert_eq!(t.known(&1, 0), None);
        t.hold(1, &[1, 2, 3], 0).unwrap();
        t.hold(1, &[4], 0).unwrap();
        assert_eq!(t.held_bytes(), 4);
        let out = t.learn(1, 9, 1);
        assert_eq!(out, vec![Box::from([1u8, 2, 3]), Box::from([4u8])]);
        assert_eq!(t.held_bytes(), 0);
        assert_eq!(t.known(&1, 1 + FRAG_TIMEOUT), Some(9));
        assert_eq!(t.known(&1, 2 + FRAG_TIMEOUT), None);
    }

    #[test]
    fn held_fragments_time_out_counted() {
        let mut t = FragTable::<u32, u8>::default();
        t.hold(1, &[0; 10], 5).unwrap();
        t.hold(2, &[0; 10], 6).unwrap();
        t.learn(3, 1, 5);
        assert_eq!(t.expire(5 + FRAG_TIMEOUT), 0);
        assert_eq!(t.expire(6 + FRAG_TIMEOUT), 1, "flow 1's fragment");
        assert_eq!(t.len(), 1);
        assert_eq!(t.held_bytes(), 10);
        assert_eq!(t.expire(7 + FRAG_TIMEOUT), 1);
        assert!(t.is_empty());
        assert_eq!(t.held_bytes(), 0);
    }

    #[test]
    fn bounded() {
        let mut t = FragTable::<u32, u8>::default();
        for i in 0..MAX_HELD_PER_FLOW {
            t.hold(0, &[i as u8], 0).unwrap();
        }
        assert_eq!(t.hold(0, &[0], 0), Err(HoldError::Full));
        let big = vec![0u8; MAX_HELD_BYTES];
        assert_eq!(t.hold(1, &big, 0), Err(HoldError::Full));
        for k in 1..MAX_FRAG_FLOWS as u32 {
            t.learn(k, 0, 0);
        }
        assert_eq!(t.len(), MAX_FRAG_FLOWS);
        assert_eq!(t.hold(99_999, &[0], 0), Err(HoldError::Full));
        // Known entries past their time make room; waiting ones are kept.
        t.learn(99_999, 1, 1 + FRAG_TIMEOUT);
        assert_eq!(t.known(&99_999, 1 + FRAG_TIMEOUT), Some(1));
        assert_eq!(t.len(), 2, "the waiting flow 0 and the new one");
        assert_eq!(t.learn(0, 5, 1 + FRAG_TIMEOUT).len(), MAX_HELD_PER_FLOW);
    }
}
