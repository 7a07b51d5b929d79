//! One packet through the whole stateful translator: policy (req O4),
//! the table (RFC 6146), the translation (RFC 7915), hairpinning (req S8).
//! Pure: `now` and the buffer come in, what to send comes out; the worker
//! threads in the binary do the I/O.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use common::sync::lock;

use common::Nat64Prefix;
use common::PrefixConfig;
use common::prefix::embed;
use common::special::{Embeddable, embeddable, invalid_source_v6};
use ipnet::{Ipv4Net, Ipv6Net};

use crate::flow::{Proto, TransportAddr4, TransportAddr6};
use crate::offload::Offload;
use crate::pool::Pool;
use crate::state::{Ask, Event, Secs, Table};
use crate::stats::DropReason;
use crate::translate::{self, Flow4, Flow6, Kind, Map4, Map6};
use crate::verdict::Verdict;
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::transport::icmp6;

mod frags;
pub use frags::{FRAG_TIMEOUT, FragTable, MAX_FRAG_FLOWS, MAX_HELD_BYTES, MAX_HELD_PER_FLOW};

/// Who may use the translator and where it may not lead (req O4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// IPv6 sources allowed to use the translator.
    pub allow_from: Vec<Ipv6Net>,
    /// IPv4 destinations never reachable, on top of what req A3 refuses
    /// ([`common::special::embeddable`]).
    pub deny_to: Vec<Ipv4Net>,
    /// Let packets reach non-global IPv4 destinations (the `[prefix]`
    /// `allow_non_global` key; labs only).
    pub allow_non_global: bool,
}

impl Policy {
    /// Whether `src` may use the translator.
    pub fn allows(&self, src: Ipv6Addr) -> bool {
        self.allow_from.iter().any(|n| n.contains(&src))
    }

    /// Whether `dst`, reached through `prefix`, is out of bounds: in
    /// `deny_to`, or refused by the rule dns64d applies too (req A3).
    pub fn denies(&self, prefix: &Nat64Prefix, dst: Ipv4Addr) -> bool {
        self.deny_to.iter().any(|n| n.contains(&dst))
            || embeddable(prefix, dst, self.allow_non_global) != Embeddable::Yes
    }
}

/// Everything a worker needs to process packets; shared by all workers.
#[derive(Debug)]
pub struct Gateway {
    /// The prefixes.
    pub prefix: PrefixConfig,
    /// The IPv4 pool.
    pub pool: Pool,
    /// The BIB and sessions.
    pub table: Table,
    /// Translation settings.
    pub xlat: translate::Config,
    /// IPv4 fragments after the first, matched to the first's session
    /// (req S9): (src, dst, protocol, identification) → (IPv6 host,
    /// prefix number).
    frags4: Mutex<FragTable<Frag4Key, (TransportAddr6, u8)>>,
    /// IPv6 fragments after the first: (src, dst, protocol,
    /// identification) → the pool address the first went out from.
    frags6: Mutex<FragTable<Frag6Key, Ipv4Addr>>,
}

/// An IPv4 fragment's flow: source, destination, protocol, identification.
type Frag4Key = (Ipv4Addr, Ipv4Addr, u8, u16);
/// An IPv6 fragment's flow: source, destination, protocol, identification.
type Frag6Key = (Ipv6Addr, Ipv6Addr, u8, u32);

/// What processing a packet produced besides its action: binding events for
/// the mapping log, and held fragments the packet released (their first
/// fragment arrived), which the caller processes next.
#[derive(Debug, Default)]
pub struct Effects {
    /// Bindings created and removed.
    pub events: Vec<Event>,
    /// Fragments to process again, in arrival order.
    pub released: Vec<Box<[u8]>>,
}

/// A packet to process: where it lies in the buffer and what came with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Offset of its first byte (at least [`translate::HEADROOM`] + 20,
    /// for hairpinning).
    pub start: usize,
    /// Length.
    pub len: usize,
    /// What the TUN said about it (a super-packet, a partial checksum;
    /// [`Offload::default`] for a plain one).
    pub off: Offload,
    /// The coarse clock.
    pub now: Secs,
    /// The next IPv4 Identification (req N2).
    pub ident: u16,
}

/// Which way a packet went, for counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// IPv6 → IPv4.
    Out,
    /// IPv4 → IPv6.
    In,
    /// IPv6 → IPv6 through a pool address.
    Hairpin,
}

impl Way {
    /// Every way, in [`Way::index`] order.
    pub const ALL: [Way; 3] = [Way::Out, Way::In, Way::Hairpin];

    /// Index in per-way counter arrays.
    pub const fn index(self) -> usize {
        match self {
            Way::Out => 0,
            Way::In => 1,
            Way::Hairpin => 2,
        }
    }

    /// The metrics label: `6to4`, `4to6`, `hairpin`.
    pub const fn name(self) -> &'static str {
        match self {
            Way::Out => "6to4",
            Way::In => "4to6",
            Way::Hairpin => "hairpin",
        }
    }
}

impl Gateway {
    /// A gateway over these parts.
    pub fn new(prefix: PrefixConfig, pool: Pool, table: Table, xlat: translate::Config) -> Self {
        Gateway {
            prefix,
            pool,
            table,
            xlat,
            frags4: Mutex::default(),
            frags6: Mutex::default(),
        }
    }

    /// Processes the packet `pkt` describes, in `buf`, under `policy`
    /// (the worker's copy of the reloadable policy). Returns the verdict
    /// and the way the packet went.
    pub fn process(
        &self,
        policy: &Policy,
        buf: &mut [u8],
        pkt: Arrival,
        fx: &mut Effects,
    ) -> (Verdict, Way) {
        match buf.get(pkt.start).map(|b| b >> 4) {
            Some(6) => {
                let a = self.process6(policy, buf, pkt, fx);
                // Hairpin (req S8): an IPv4 packet to a pool address goes
                // straight back in as if it had arrived from the IPv4 side.
                if let Verdict::Forward { start: s, len: l } = a
                    && buf[s] >> 4 == 4
                    && self
                        .pool
                        .contains(Ipv4Packet::new_unchecked(&buf[s..s + l]).dst())
                {
                    let again = Arrival {
                        start: s,
                        len: l,
                        ..pkt
                    };
                    let a = match self.process4(buf, again, fx) {
                        // nat64d's own error about a hairpinned packet is
                        // for a pool address, the sender's translation:
                        // translated here too, for the IPv6 host, rather
                        // than left to the host's kernel to route back in.
                        Verdict::Refuse {
                            reason,
                            start: es,
                            len: el,
                        } => {
                            let own = Arrival {
                                start: es,
                                len: el,
                                ..pkt
                            };
                            match self.process4(buf, own, fx) {
                                Verdict::Forward { start, len } => {
                                    Verdict::Refuse { reason, start, len }
                                }
                                _ => Verdict::Drop(reason),
                            }
                        }
                        a => a,
                    };
                    return (a, Way::Hairpin);
                }
                (a, Way::Out)
            }
            Some(4) => (self.process4(buf, pkt, fx), Way::In),
            _ => (Verdict::Drop(DropReason::BadVersion), Way::In),
        }
    }

    fn process6(&self, policy: &Policy, buf: &mut [u8], pkt: Arrival, fx: &mut Effects) -> Verdict {
        let Arrival {
            start,
            len,
            off,
            now,
            ident,
        } = pkt;
        // The kernel's own link-scope packets (router solicitations, MLD
        // reports into the fresh TUN): not for the translator, not drops.
        if len >= 40 {
            let h = &buf[start..start + 40];
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&h[8..24]).unwrap_or([0; 16]));
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&h[24..40]).unwrap_or([0; 16]));
            if dst.is_multicast() || src.is_unicast_link_local() {
                return Verdict::Ignored;
            }
        }
        let mut flow = match translate::inspect6(&buf[start..start + len]) {
            Ok(f) => f,
            Err(r) => return Verdict::Drop(r),
        };
        flow.offload = off;
        if invalid_source_v6(flow.src, self.prefix.prefixes.as_slice()).is_some() {
            return Verdict::Drop(DropReason::InvalidSource);
        }
        if !policy.allows(flow.src) {
            return Verdict::Drop(DropReason::SourceNotAllowed);
        }
        let Some((prefix, dst4)) = self.prefix.extract(flow.dst) else {
            return Verdict::Drop(DropReason::NotInPrefix);
        };
        let prefix_idx = self
            .prefix
            .prefixes
            .iter()
            .position(|p| p == prefix)
            .unwrap_or(0) as u8;
        if !self.pool.contains(dst4) && policy.denies(prefix, dst4) {
            // Administratively prohibited, rate-limited (req N13); not for
            // an ICMP error (no error about an error) nor a fragment after
            // the first (its first was answered).
            if flow.kind == Kind::Error || !flow.has_transport_header() {
                return Verdict::Drop(DropReason::DestinationDenied);
            }
            let code = icmp6::unreachable::ADMIN_PROHIBITED;
            let e = translate::unreachable6(buf, start, len, self.xlat.own_v6, code);
            return refuse(DropReason::DestinationDenied, e);
        }
        if !flow.has_transport_header() {
            // A fragment after the first: no ports; it goes where the first
            // went, or waits for it (req S9).
            let key = frag6_key(&flow);
            let mut frags = lock(&self.frags6);
            let Some(pool4) = frags.known(&key, now) else {
                return match frags.hold(key, &buf[start..start + len], now) {
                    Ok(()) => Verdict::Held,
                    Err(_) => Verdict::Drop(DropReason::FragmentHoldFull),
                };
            };
            drop(frags);
            let map = Map4 {
                src: pool4,
                src_port: 0,
                dst: dst4,
                dst_port: 0,
            };
            return match translate::translate6(buf, start, &flow, &map, &self.xlat, ident) {
                Ok(o) => o,
                Err(r) => Verdict::Drop(r),
            };
        }
        let ask = if flow.kind == Kind::Error {
            Ask::Lookup
        } else {
            Ask::Data {
                tcp_flags: flow.tcp_flags,
            }
        };
        let remote_port = if flow.proto == Proto::Icmp {
            0
        } else {
            flow.dst_port
        };
        let out = match self.table.outbound(
            now,
            &self.pool,
            flow.proto,
            TransportAddr6 {
                addr: flow.src,
                port: flow.src_port,
            },
            TransportAddr4 {
                addr: dst4,
                port: remote_port,
            },
            prefix_idx,
            ask,
            &mut fx.events,
        ) {
            Ok(o) => o,
            // A customer over its limits or a port the policy refuses
            // (req O4): administratively prohibited, so that the host's
            // connect fails at once instead of retrying into the limit;
            // rate-limited like every error of ours (req N13).
            Err(
                r @ (DropReason::SourceSessionLimit
                | DropReason::SourceRateLimit
                | DropReason::PortDenied
                | DropReason::PortRateLimit),
            ) if flow.kind != Kind::Error => {
                let code = icmp6::unreachable::ADMIN_PROHIBITED;
                return refuse(
                    r,
                    translate::unreachable6(buf, start, len, self.xlat.own_v6, code),
                );
            }
            Err(DropReason::PoolExhausted) if flow.kind != Kind::Error => {
                return refuse(
                    DropReason::PoolExhausted,
                    translate::unreachable6(
                        buf,
                        start,
                        len,
                        self.xlat.own_v6,
                        icmp6::unreachable::ADDRESS,
                    ),
                );
            }
            Err(r) => return Verdict::Drop(r),
        };
        if flow.kind != Kind::Error && flow.frag.is_some_and(|f| f.more()) {
            let held = lock(&self.frags6).learn(frag6_key(&flow), out.v4.addr, now);
            fx.released.extend(held);
        }
        let map = Map4 {
            src: out.v4.addr,
            src_port: out.v4.port,
            dst: dst4,
            dst_port: flow.dst_port,
        };
        match translate::translate6(buf, start, &flow, &map, &self.xlat, ident) {
            Ok(o) => o,
            Err(r) => Verdict::Drop(r),
        }
    }

    fn process4(&self, buf: &mut [u8], pkt: Arrival, fx: &mut Effects) -> Verdict {
        let Arrival {
            start,
            len,
            off,
            now,
            ident,
        } = pkt;
        let mut flow = match translate::inspect4(&buf[start..start + len]) {
            Ok(f) => f,
            Err(r) => return Verdict::Drop(r),
        };
        flow.offload = off;
        if !self.pool.contains(flow.dst) {
            return Verdict::Drop(DropReason::NotInPool);
        }
        let (v6, prefix_idx) = if flow.has_transport_header() {
            let ask = if flow.kind == Kind::Error {
                Ask::Lookup
            } else {
                Ask::Data {
                    tcp_flags: flow.tcp_flags,
                }
            };
            let remote_port = if flow.proto == Proto::Icmp {
                0
            } else {
                flow.src_port
            };
            let found = self.table.inbound(
                now,
                &self.pool,
                flow.proto,
                TransportAddr4 {
                    addr: flow.dst,
                    port: flow.dst_port,
                },
                TransportAddr4 {
                    addr: flow.src,
                    port: remote_port,
                },
                ask,
                &buf[start..start + len],
                &mut fx.events,
            );
            let i = match found {
                Ok(i) => i,
                Err(DropReason::NoBinding) if flow.proto == Proto::Udp => {
                    return refuse(
                        DropReason::NoBinding,
                        translate::port_unreachable4(buf, start, len, self.xlat.own_v4, ident),
                    );
                }
                Err(r) => return Verdict::Drop(r),
            };
            if flow.more_frags && flow.kind != Kind::Error {
                let held = lock(&self.frags4).learn(frag4_key(&flow), (i.v6, i.prefix), now);
                fx.released.extend(held);
            }
            (i.v6, i.prefix)
        } else {
            // A fragment after the first (req S9), as on the IPv6 side.
            let key = frag4_key(&flow);
            let mut frags = lock(&self.frags4);
            match frags.known(&key, now) {
                Some(x) => x,
                None => {
                    return match frags.hold(key, &buf[start..start + len], now) {
                        Ok(()) => Verdict::Held,
                        Err(_) => Verdict::Drop(DropReason::FragmentHoldFull),
                    };
                }
            }
        };
        let prefixes = self.prefix.prefixes.as_slice();
        let Some(prefix) = prefixes.get(usize::from(prefix_idx)).or(prefixes.first()) else {
            return Verdict::Drop(DropReason::NotInPrefix);
        };
        let map = Map6 {
            src: embed(prefix, flow.src),
            src_port: flow.src_port,
            dst: v6.addr,
            dst_port: v6.port,
        };
        let out = if flow.kind == Kind::Error {
            let outer_src = embed(prefix, flow.error_src);
            translate::translate4_error(buf, start, &flow, &map, outer_src, &self.xlat)
        } else {
            translate::translate4(buf, start, &flow, &map, &self.xlat, ident)
        };
        match out {
            Ok(o) => o,
            Err(r) => Verdict::Drop(r),
        }
    }

    /// An IPv4 packet nat64d made itself for a pool address (its own error
    /// about a hairpinned packet, req S8), processed as if it had arrived
    /// from the IPv4 side.
    pub fn process_own4(&self, buf: &mut [u8], pkt: Arrival, fx: &mut Effects) -> Verdict {
        self.process4(buf, pkt, fx)
    }

    /// Forgets fragment flows past their time (req S9); returns how many
    /// held fragments were dropped with them (their first never came).
    pub fn expire_fragments(&self, now: Secs) -> usize {
        lock(&self.frags4).expire(now) + lock(&self.frags6).expire(now)
    }

    /// Fragment flows remembered and bytes held, both directions.
    pub fn fragment_census(&self) -> (usize, usize) {
        let a = lock(&self.frags4);
        let b = lock(&self.frags6);
        (a.len() + b.len(), a.held_bytes() + b.held_bytes())
    }

    /// Fragments held now, both directions.
    pub fn fragments_held(&self) -> usize {
        lock(&self.frags4).held_packets() + lock(&self.frags6).held_packets()
    }
}

fn frag4_key(f: &Flow4) -> Frag4Key {
    (f.src, f.dst, f.proto.number4(), f.ident)
}

fn frag6_key(f: &Flow6) -> Frag6Key {
    (
        f.src,
        f.dst,
        f.proto.number4(),
        f.frag.map_or(0, |h| h.ident()),
    )
}

/// A drop for `reason` answered with the error `e`, if one could be built.
fn refuse(reason: DropReason, e: Result<Verdict, DropReason>) -> Verdict {
    match e {
        Ok(Verdict::Reply { start, len }) => Verdict::Refuse { reason, start, len },
        _ => Verdict::Drop(reason),
    }
}

#[cfg(test)]
pub(crate) mod tests;
