//! What the table holds, counted (for `/metrics`) and listed.

use super::*;

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
    /// Sessions the IPv4 side opened that the IPv6 host has not answered.
    pub unanswered_inbound: usize,
    /// Bindings per pool address and protocol: the ports each address has
    /// in use.
    pub bibs_by_address: std::collections::BTreeMap<Ipv4Addr, [usize; 3]>,
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
    /// Counts sessions, TCP states and bindings (for `/metrics`).
    pub fn census(&self) -> Census {
        let mut c = Census::default();
        for s in self.shards.iter() {
            let s = lock(s);
            for (k, v) in s.sessions.iter() {
                let p = s.bibs[k.bib as usize].proto;
                c.sessions[p.index()] += 1;
                c.unanswered_inbound += usize::from(v.unanswered);
                if p == Proto::Tcp {
                    let i = TcpState::ALL.iter().position(|x| *x == v.tcp).unwrap_or(0);
                    c.tcp_states[i] += 1;
                }
            }
            for b in s.bibs.iter().filter(|b| b.live) {
                c.bibs[b.proto.index()] += 1;
                c.bibs_by_address.entry(b.v4.addr).or_default()[b.proto.index()] += 1;
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

/// Which rows a listing shows (the control interface's filter): every
/// given field must match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Select {
    /// The protocol.
    pub proto: Option<Proto>,
    /// A range the IPv6 host's address is in.
    pub v6: Option<ipnet::Ipv6Net>,
    /// The pool address.
    pub v4: Option<Ipv4Addr>,
    /// The pool port (ICMP: identifier).
    pub port: Option<u16>,
}

impl Select {
    fn matches(&self, b: &Bib) -> bool {
        self.proto.is_none_or(|p| p == b.proto)
            && self.v6.is_none_or(|n| n.contains(&b.v6.addr))
            && self.v4.is_none_or(|a| a == b.v4.addr)
            && self.port.is_none_or(|p| p == b.v4.port)
    }
}

/// One row of a session listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRow {
    /// Protocol.
    pub proto: Proto,
    /// The IPv6 host's transport address.
    pub v6: TransportAddr6,
    /// The pool transport address.
    pub v4: TransportAddr4,
    /// The IPv4 peer's transport address.
    pub remote: TransportAddr4,
    /// Index of the NAT64 prefix the host uses to reach the peer.
    pub prefix: u8,
    /// TCP state (TCP only).
    pub tcp: Option<TcpState>,
    /// Seconds left of its lifetime.
    pub expires_in: Secs,
    /// Opened by the IPv4 side.
    pub inbound: bool,
}

/// Why [`Table::remove_binding`] removed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveError {
    /// No binding has that address.
    NotFound,
    /// It is configured (`[[nat64.static]]`): the file owns it.
    Static,
}

impl std::fmt::Display for RemoveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RemoveError::NotFound => "no such binding",
            RemoveError::Static => {
                "a static binding: remove it from [[nat64.static]] and reload instead"
            }
        })
    }
}

impl Table {
    /// The shards a listing must visit: only the port's when `sel` gives
    /// one (a binding lives in its pool port's shard).
    fn shards_for(&self, sel: &Select) -> Vec<usize> {
        match sel.port {
            Some(p) => vec![usize::from(p >> 1) & self.mask],
            None => (0..self.shards.len()).collect(),
        }
    }

    /// At most `limit` bindings that `sel` picks, sorted, and whether
    /// more matched. One shard's lock is held at a time, for a scan of its
    /// bindings.
    pub fn list_bindings(&self, sel: &Select, limit: usize) -> (Vec<BibRow>, bool) {
        let mut rows = Vec::new();
        let mut more = false;
        for i in self.shards_for(sel) {
            let s = lock(&self.shards[i]);
            for b in s.bibs.iter().filter(|b| b.live && sel.matches(b)) {
                if rows.len() == limit {
                    more = true;
                    break;
                }
                rows.push(BibRow {
                    proto: b.proto,
                    v6: b.v6,
                    v4: b.v4,
                    sessions: b.sessions,
                    is_static: b.is_static,
                });
            }
            if more {
                break;
            }
        }
        rows.sort_by_key(|r| (r.proto.index(), r.v4, r.v6));
        (rows, more)
    }

    /// At most `limit` sessions of the bindings `sel` picks at `now`,
    /// sorted, and whether more matched. One shard's lock is held at a
    /// time, for a pass over its bindings and, when one is picked, a scan
    /// of its sessions (`benches/state.rs` measures both).
    pub fn list_sessions(&self, sel: &Select, limit: usize, now: Secs) -> (Vec<SessionRow>, bool) {
        let mut rows = Vec::new();
        let mut more = false;
        for i in self.shards_for(sel) {
            let s = lock(&self.shards[i]);
            // The bindings picked first (a sequential pass): a shard with
            // none is left at once, and the sessions' pass reads one flag
            // each instead of its binding.
            let picked: Vec<bool> = s.bibs.iter().map(|b| b.live && sel.matches(b)).collect();
            if !picked.contains(&true) {
                continue;
            }
            for (k, v) in s.sessions.iter() {
                if !picked[k.bib as usize] || v.deadline <= now {
                    continue;
                }
                let b = &s.bibs[k.bib as usize];
                if rows.len() == limit {
                    more = true;
                    break;
                }
                rows.push(SessionRow {
                    proto: b.proto,
                    v6: b.v6,
                    v4: b.v4,
                    remote: k.remote,
                    prefix: b.prefix,
                    tcp: (b.proto == Proto::Tcp).then_some(v.tcp),
                    expires_in: v.deadline - now,
                    inbound: v.inbound,
                });
            }
            if more {
                break;
            }
        }
        rows.sort_by_key(|r| (r.proto.index(), r.v4, r.remote, r.v6));
        (rows, more)
    }

    /// Removes the dynamic binding of pool transport address `v4` and
    /// every session on it, as if they had expired at `now` (their
    /// customer's counts released, a `removed` event for the mapping log).
    /// Returns the binding and how many sessions went. A packet of the
    /// flow afterwards makes a new binding, like any new flow.
    pub fn remove_binding(
        &self,
        proto: Proto,
        v4: TransportAddr4,
        now: Secs,
        events: &mut Vec<Event>,
    ) -> Result<(BibRow, usize), RemoveError> {
        let mut s = lock(&self.shards[usize::from(v4.port >> 1) & self.mask]);
        let s = &mut *s;
        let id = s.find4(proto, &v4).ok_or(RemoveError::NotFound)?;
        let b = s.bibs[id as usize];
        if b.is_static {
            return Err(RemoveError::Static);
        }
        let row = BibRow {
            proto,
            v6: b.v6,
            v4: b.v4,
            sessions: b.sessions,
            is_static: false,
        };
        let keys: Vec<SessionKey> = s.sessions.keys().filter(|k| k.bib == id).copied().collect();
        for k in &keys {
            self.remove_session(s, *k, now, events);
        }
        // A binding without sessions (none had been made yet) goes too.
        if s.bibs[id as usize].live && s.find4(proto, &v4) == Some(id) {
            s.unindex(id);
            self.forget_displaced(proto, b.v6, b.v4);
            events.push(Event {
                at: now,
                created: false,
                proto,
                v6: b.v6,
                v4: b.v4,
                is_static: false,
            });
        }
        Ok((row, keys.len()))
    }
}
