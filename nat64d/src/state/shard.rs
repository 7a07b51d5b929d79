//! One shard's maps (ARCHITECTURE.md, "State"): the bindings with their
//! two indexes, the sessions, the address-dependent filter, the held SYNs;
//! and the session lifetimes of RFC 6146 §4 (req S5).

use super::*;

impl Shard {
    pub(super) fn hash6(&self, proto: Proto, v6: &TransportAddr6) -> u64 {
        self.bib_hasher.hash_one((proto, v6))
    }

    pub(super) fn hash4(&self, proto: Proto, v4: &TransportAddr4) -> u64 {
        self.bib_hasher.hash_one((proto, v4))
    }

    /// The binding of IPv6 transport address `v6`.
    pub(super) fn find6(&self, proto: Proto, v6: &TransportAddr6) -> Option<u32> {
        let bibs = &self.bibs;
        self.bib6
            .find(self.hash6(proto, v6), |&id| {
                let b = &bibs[id as usize];
                b.v6 == *v6 && b.proto == proto
            })
            .copied()
    }

    /// The binding of pool transport address `v4`.
    pub(super) fn find4(&self, proto: Proto, v4: &TransportAddr4) -> Option<u32> {
        let bibs = &self.bibs;
        self.bib4
            .find(self.hash4(proto, v4), |&id| {
                let b = &bibs[id as usize];
                b.v4 == *v4 && b.proto == proto
            })
            .copied()
    }

    /// Adds binding `id` (already in `bibs`) to both indexes.
    pub(super) fn index(&mut self, id: u32) {
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
    pub(super) fn unindex(&mut self, id: u32) {
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

/// Tables smaller than this are left as they are.
const SHRINK_FLOOR: usize = 1024;

impl Shard {
    /// Hands memory back once the shard has emptied out (after a flood,
    /// say): each map shrinks when it is at most a quarter full, and a
    /// shard without a live binding lets go of its binding slots.
    pub(super) fn compact(&mut self) {
        if self.bibs.len() > SHRINK_FLOOR && self.bibs.len() == self.free.len() {
            self.bibs = Vec::new();
            self.free = Vec::new();
            self.bib6 = HashTable::new();
            self.bib4 = HashTable::new();
        }
        let shrink = |len: usize, cap: usize| cap > SHRINK_FLOOR && len * 4 <= cap;
        if shrink(self.sessions.len(), self.sessions.capacity()) {
            self.sessions.shrink_to(self.sessions.len() * 2);
        }
        if shrink(self.adf.len(), self.adf.capacity()) {
            self.adf.shrink_to(self.adf.len() * 2);
        }
        let (bibs, hasher) = (&self.bibs, &self.bib_hasher);
        if shrink(self.bib6.len(), self.bib6.capacity()) {
            self.bib6.shrink_to(self.bib6.len() * 2, |&i| {
                let b = &bibs[i as usize];
                hasher.hash_one((b.proto, &b.v6))
            });
        }
        if shrink(self.bib4.len(), self.bib4.capacity()) {
            self.bib4.shrink_to(self.bib4.len() * 2, |&i| {
                let b = &bibs[i as usize];
                hasher.hash_one((b.proto, &b.v4))
            });
        }
        if shrink(self.held.len(), self.held.capacity()) {
            self.held.shrink_to_fit();
        }
    }
}

pub(super) fn lifetime(cfg: &StateConfig, proto: Proto, tcp: TcpState) -> Secs {
    match proto {
        Proto::Udp => cfg.timeouts.udp,
        Proto::Icmp => cfg.timeouts.icmp,
        Proto::Tcp => match tcp {
            TcpState::Established | TcpState::V4FinRcv | TcpState::V6FinRcv => cfg.timeouts.tcp_est,
            _ => cfg.timeouts.tcp_trans,
        },
    }
}

pub(super) fn insert_bib(
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
        unanswered: 0,
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
