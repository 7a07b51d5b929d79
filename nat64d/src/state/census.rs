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
