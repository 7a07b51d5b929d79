//! State tests with a simulated clock, named after the requirement ids of docs/requirements.md.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::tcp::flags::{FIN, RST, SYN};
use super::*;
use crate::pool::{DEFAULT_RANGES, Pool, PortRange};

const ACK: u8 = 0x10;
const H1: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
const H2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 3);
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const OTHER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 11);
const POOL1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// A host of another customer prefix (/64) than H1 and H2.
const OTHER_NET: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2);

/// Limits per /64: `sessions` at most, `per_second` new ones with a burst
/// of `burst` (0: none).
fn limited(sessions: u32, per_second: u32, burst: u32) -> StateConfig {
    let base = crate::limits::Limits {
        sessions,
        rate: crate::limits::Rate {
            per_minute: per_second * 60,
            burst,
        },
    };
    StateConfig {
        limits: Arc::new(crate::limits::LimitPolicy::new(
            64,
            base,
            Vec::new(),
            Vec::new(),
        )),
        ..StateConfig::default()
    }
}

fn t6(a: Ipv6Addr, port: u16) -> TransportAddr6 {
    TransportAddr6 { addr: a, port }
}
fn t4(a: Ipv4Addr, port: u16) -> TransportAddr4 {
    TransportAddr4 { addr: a, port }
}

struct Lab {
    table: Table,
    pool: Pool,
    events: Vec<Event>,
}

fn lab_with(cfg: StateConfig, ranges: [PortRange; 3], shards: usize) -> Lab {
    let pool = Pool::new(vec![POOL1], ranges, shards).unwrap();
    Lab {
        table: Table::new(shards, cfg, 7),
        pool,
        events: Vec::new(),
    }
}

fn lab() -> Lab {
    lab_with(StateConfig::default(), DEFAULT_RANGES, 8)
}

impl Lab {
    fn out(
        &mut self,
        now: Secs,
        proto: Proto,
        src: TransportAddr6,
        dst: TransportAddr4,
        flags: u8,
    ) -> Result<TransportAddr4, DropReason> {
        self.table
            .outbound(
                now,
                &self.pool,
                proto,
                src,
                dst,
                0,
                Ask::Data { tcp_flags: flags },
                &mut self.events,
            )
            .map(|o| o.v4)
    }
    fn inn(
        &mut self,
        now: Secs,
        proto: Proto,
        to: TransportAddr4,
        from: TransportAddr4,
        flags: u8,
    ) -> Result<TransportAddr6, DropReason> {
        self.table
            .inbound(
                now,
                &self.pool,
                proto,
                to,
                from,
                Ask::Data { tcp_flags: flags },
                b"packet",
                &mut self.events,
            )
            .map(|i| i.v6)
    }
    fn sweep(&mut self, now: Secs) -> (usize, Vec<Box<[u8]>>) {
        let mut un = Vec::new();
        let mut n = 0;
        for s in 0..self.table.shard_count() {
            n += self.table.sweep(now, s, &mut self.events, &mut un);
        }
        (n, un)
    }
}

#[test]
fn s1_endpoint_independent_mapping() {
    let mut l = lab();
    let a = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    let b = l
        .out(1, Proto::Udp, t6(H1, 5000), t4(OTHER, 123), 0)
        .unwrap();
    assert_eq!(
        a, b,
        "same IPv6 transport address, same IPv4 one, any destination"
    );
    assert_eq!(a.addr, POOL1);
    let c = l
        .out(1, Proto::Udp, t6(H1, 5001), t4(SERVER, 53), 0)
        .unwrap();
    assert_ne!(a, c);
    let d = l
        .out(1, Proto::Tcp, t6(H1, 5000), t4(SERVER, 80), SYN)
        .unwrap();
    assert_eq!(
        l.events.iter().filter(|e| e.created).count(),
        3,
        "one binding per protocol and source"
    );
    assert_eq!(l.table.census().bibs, [1, 2, 0]);
    let _ = d;
}

#[test]
fn s2_both_directions_find_the_session() {
    let mut l = lab();
    let v4 = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    let back = l.inn(1, Proto::Udp, v4, t4(SERVER, 53), 0).unwrap();
    assert_eq!(back, t6(H1, 5000));
    assert_eq!(l.table.sessions(), 1);
    assert_eq!(l.table.census().sessions, [0, 1, 0]);
}

#[test]
fn s3_endpoint_independent_filtering_admits_any_remote() {
    let mut l = lab();
    let v4 = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    assert_eq!(
        l.inn(1, Proto::Udp, v4, t4(OTHER, 9999), 0).unwrap(),
        t6(H1, 5000)
    );
    assert_eq!(l.table.sessions(), 2, "a session for the new remote");
}

#[test]
fn s3_address_dependent_filtering() {
    let cfg = StateConfig {
        filtering: Filtering::AddressDependent,
        ..StateConfig::default()
    };
    let mut l = lab_with(cfg.clone(), DEFAULT_RANGES, 8);
    let v4 = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    assert_eq!(
        l.inn(1, Proto::Udp, v4, t4(OTHER, 53), 0),
        Err(DropReason::Filtered)
    );
    // Same address, another port: allowed (address-dependent, not port).
    assert_eq!(
        l.inn(1, Proto::Udp, v4, t4(SERVER, 5353), 0).unwrap(),
        t6(H1, 5000)
    );
    // Turning ADF off at reload admits the other host; on again rebuilds.
    l.table.reconfigure(StateConfig::default());
    assert!(l.inn(2, Proto::Udp, v4, t4(OTHER, 53), 0).is_ok());
    l.table.reconfigure(cfg);
    assert!(
        l.inn(3, Proto::Udp, v4, t4(OTHER, 53), 0).is_ok(),
        "its session exists now"
    );
    assert_eq!(
        l.inn(3, Proto::Udp, v4, t4(Ipv4Addr::new(203, 0, 113, 12), 53), 0),
        Err(DropReason::Filtered)
    );
}

#[test]
fn s3_no_binding_is_dropped() {
    let mut l = lab();
    assert_eq!(
        l.inn(0, Proto::Udp, t4(POOL1, 40000), t4(SERVER, 53), 0),
        Err(DropReason::NoBinding)
    );
}

#[test]
fn s4_tcp_lifecycle_and_timers() {
    let mut l = lab();
    let h = t6(H1, 40000);
    let srv = t4(SERVER, 443);
    let v4 = l.out(0, Proto::Tcp, h, srv, SYN).unwrap();
    assert_eq!(l.table.census().tcp_states[1], 1, "V6 INIT");
    l.inn(1, Proto::Tcp, v4, srv, SYN | ACK).unwrap();
    assert_eq!(l.table.census().tcp_states[3], 1, "ESTABLISHED");
    // Established lives 2 h 4 min from the last packet.
    l.out(100, Proto::Tcp, h, srv, ACK).unwrap();
    assert_eq!(l.sweep(100 + 7439).0, 0);
    assert_eq!(l.sweep(100 + 7440).0, 1);
    assert!(
        l.events.iter().any(|e| !e.created),
        "binding removed with its last session"
    );
}

#[test]
fn s4_fin_both_sides_then_transitory() {
    let mut l = lab();
    let h = t6(H1, 40000);
    let srv = t4(SERVER, 443);
    let v4 = l.out(0, Proto::Tcp, h, srv, SYN).unwrap();
    l.inn(0, Proto::Tcp, v4, srv, SYN | ACK).unwrap();
    l.out(10, Proto::Tcp, h, srv, FIN | ACK).unwrap();
    l.inn(11, Proto::Tcp, v4, srv, FIN | ACK).unwrap();
    assert_eq!(l.table.census().tcp_states[6], 1, "V4 FIN V6 FIN RCV");
    l.out(12, Proto::Tcp, h, srv, ACK).unwrap();
    assert_eq!(l.sweep(11 + 239).0, 0);
    assert_eq!(l.sweep(11 + 240).0, 1, "4 min after the second FIN");
}

#[test]
fn s4_rst_goes_transitory_and_data_revives() {
    let mut l = lab();
    let h = t6(H1, 40000);
    let srv = t4(SERVER, 443);
    let v4 = l.out(0, Proto::Tcp, h, srv, SYN).unwrap();
    l.inn(0, Proto::Tcp, v4, srv, SYN | ACK).unwrap();
    l.inn(5, Proto::Tcp, v4, srv, RST).unwrap();
    assert_eq!(l.table.census().tcp_states[7], 1, "TRANS");
    l.out(6, Proto::Tcp, h, srv, ACK).unwrap();
    assert_eq!(l.table.census().tcp_states[3], 1, "back to ESTABLISHED");
}

#[test]
fn s4_non_syn_cannot_open() {
    let mut l = lab();
    assert_eq!(
        l.out(0, Proto::Tcp, t6(H1, 1), t4(SERVER, 80), ACK),
        Err(DropReason::TcpNotSyn)
    );
    assert!(l.events.is_empty());
}

#[test]
fn s4_simultaneous_open_success() {
    // ADF: an IPv4 SYN from a host the binding never talked to is held;
    // the IPv6 host's SYN to it supersedes the held one.
    let cfg = StateConfig {
        filtering: Filtering::AddressDependent,
        ..StateConfig::default()
    };
    let mut l = lab_with(cfg, DEFAULT_RANGES, 8);
    let h = t6(H1, 40000);
    let v4 = l.out(0, Proto::Tcp, h, t4(SERVER, 443), SYN).unwrap();
    let peer = t4(OTHER, 5555);
    assert_eq!(
        l.inn(1, Proto::Tcp, v4, peer, SYN),
        Err(DropReason::SynHeld)
    );
    assert_eq!(
        l.inn(1, Proto::Tcp, v4, peer, SYN),
        Err(DropReason::SynHeld),
        "retransmission"
    );
    assert_eq!(l.table.census().held_syns, 1);
    l.out(2, Proto::Tcp, h, peer, SYN).unwrap();
    assert_eq!(l.table.census().held_syns, 0, "superseded");
    assert!(l.inn(3, Proto::Tcp, v4, peer, SYN | ACK).is_ok());
    let (_, unanswered) = l.sweep(10);
    assert!(unanswered.is_empty());
}

/// RFC 6146 §3.5.2.2, RFC 5382 REQ-4: an unsolicited SYN from Y#y to
/// X#x with no binding is held; the IPv6 host's SYN to Y#y then gets a
/// binding on X#x itself, so the connection completes, whatever shard X#x
/// is in; the session is ESTABLISHED and both sides find it.
#[test]
fn s4_simultaneous_open_binding_takes_the_held_syns_pool_port() {
    let peer = t4(SERVER, 5555);
    // Ports in every shard of 8: some are the host's own shard, most not.
    for (n, port) in (40_000u16..40_016).enumerate() {
        let mut l = lab();
        let x = t4(POOL1, port);
        assert_eq!(l.inn(0, Proto::Tcp, x, peer, SYN), Err(DropReason::SynHeld));
        let h = t6(H1, 30_000 + n as u16);
        assert_eq!(l.out(1, Proto::Tcp, h, peer, SYN), Ok(x), "port {port}");
        assert_eq!(l.table.census().held_syns, 0, "superseded");
        let est = TcpState::ALL
            .iter()
            .position(|s| *s == TcpState::Established)
            .unwrap();
        assert_eq!(l.table.census().tcp_states[est], 1, "V4 INIT + V6 SYN");
        assert_eq!(l.inn(1, Proto::Tcp, x, peer, SYN | ACK), Ok(h));
        assert_eq!(
            l.out(2, Proto::Tcp, h, peer, ACK),
            Ok(x),
            "found again from the IPv6 side"
        );
        assert_eq!(
            l.out(2, Proto::Tcp, h, t4(OTHER, 80), SYN),
            Ok(x),
            "one binding"
        );
        assert!(l.sweep(20).1.is_empty(), "nothing left to answer");
        // Gone with its sessions, the binding is forgotten on both sides.
        l.sweep(100_000);
        assert_eq!(l.table.sessions(), 0);
        assert_ne!(
            l.out(100_001, Proto::Tcp, h, t4(OTHER, 80), SYN),
            Err(DropReason::NoBinding)
        );
    }
}

/// With pairing by prefix a held SYN to another pool address than the
/// customer's is not taken: the binding is made as usual.
#[test]
fn s4_simultaneous_open_keeps_the_customers_pool_address() {
    let addrs: Vec<Ipv4Addr> = (1..=4).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect();
    let pool = Pool::new(addrs.clone(), DEFAULT_RANGES, 8).unwrap();
    let table = Table::new(8, StateConfig::default(), 7);
    let mut ev = Vec::new();
    let mine = pool.paired_address(crate::limits::SourceKey::of(H1, 64).stable_hash());
    let other = *addrs.iter().find(|a| **a != mine).unwrap();
    let peer = t4(SERVER, 5555);
    for a in [other, mine] {
        let r = table.inbound(
            0,
            &pool,
            Proto::Tcp,
            t4(a, 41000),
            peer,
            Ask::Data { tcp_flags: SYN },
            b"p",
            &mut ev,
        );
        assert_eq!(r, Err(DropReason::SynHeld));
    }
    let out = table
        .outbound(
            1,
            &pool,
            Proto::Tcp,
            t6(H1, 1234),
            peer,
            0,
            Ask::Data { tcp_flags: SYN },
            &mut ev,
        )
        .unwrap();
    assert_eq!(out.v4, t4(mine, 41000));
    assert_eq!(
        table.census().held_syns,
        1,
        "the other address's SYN still held"
    );
}

#[test]
fn s4_simultaneous_open_timeout_answers_port_unreachable() {
    let mut l = lab();
    assert_eq!(
        l.inn(0, Proto::Tcp, t4(POOL1, 40000), t4(SERVER, 5555), SYN),
        Err(DropReason::SynHeld)
    );
    let (_, un) = l.sweep(5);
    assert!(un.is_empty(), "held 6 s");
    let (_, un) = l.sweep(6);
    assert_eq!(un.len(), 1);
    assert_eq!(&un[0][..], b"packet", "the held packet, to quote");
}

#[test]
fn s4_held_syns_are_bounded() {
    let cfg = StateConfig {
        max_held_syns: 2,
        ..StateConfig::default()
    };
    let mut l = lab_with(cfg, DEFAULT_RANGES, 8);
    for port in 0..2 {
        assert_eq!(
            l.inn(0, Proto::Tcp, t4(POOL1, 4000 + port), t4(SERVER, 1), SYN),
            Err(DropReason::SynHeld)
        );
    }
    assert_eq!(
        l.inn(0, Proto::Tcp, t4(POOL1, 4100), t4(SERVER, 1), SYN),
        Err(DropReason::SynHoldFull)
    );
}

#[test]
fn s5_udp_and_icmp_timers_and_refresh() {
    let mut l = lab();
    let v4 = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    l.inn(200, Proto::Udp, v4, t4(SERVER, 53), 0).unwrap();
    assert_eq!(l.sweep(499).0, 0, "refreshed by the IPv4 reply at 200");
    assert_eq!(l.sweep(500).0, 1);
    l.out(0, Proto::Icmp, t6(H1, 77), t4(SERVER, 0), 0).unwrap();
    assert_eq!(l.sweep(59).0, 0);
    assert_eq!(l.sweep(60).0, 1);
    assert_eq!(l.table.sessions(), 0);
    assert_eq!(l.table.census().bibs, [0, 0, 0], "bindings freed");
}

#[test]
fn s5_expired_but_unswept_session_restarts() {
    let mut l = lab();
    let a = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    let b = l
        .out(1000, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    assert_eq!(a, b, "found before the sweep: restarted, same mapping");
    assert_eq!(l.sweep(1299).0, 0, "new lifetime from 1000");
    // An expired TCP session does not restart on a non-SYN.
    let v4 = l
        .out(0, Proto::Tcp, t6(H1, 1), t4(SERVER, 80), SYN)
        .unwrap();
    assert_eq!(
        l.inn(10_000, Proto::Tcp, v4, t4(SERVER, 80), ACK),
        Err(DropReason::NoSession)
    );
}

#[test]
fn s6_pool_exhaustion_keeps_existing_flows() {
    // One address, 8 UDP ports over 1 shard.
    let ranges = [PortRange {
        first: 2000,
        last: 2007,
    }; 3];
    let mut l = lab_with(StateConfig::default(), ranges, 1);
    let mut got = Vec::new();
    for p in 0..8 {
        got.push(
            l.out(0, Proto::Udp, t6(H1, 6000 + p), t4(SERVER, 53), 0)
                .unwrap(),
        );
    }
    assert_eq!(
        l.out(0, Proto::Udp, t6(H2, 1), t4(SERVER, 53), 0),
        Err(DropReason::PoolExhausted)
    );
    assert_eq!(l.table.sessions(), 8, "the refused flow is not counted");
    for (p, v4) in got.iter().enumerate() {
        assert_eq!(
            l.out(1, Proto::Udp, t6(H1, 6000 + p as u16), t4(SERVER, 53), 0)
                .unwrap(),
            *v4
        );
    }
}

#[test]
fn s7_static_binding_reaches_an_ipv6_server() {
    let mut l = lab();
    let server6 = t6(H2, 8080);
    let public = t4(POOL1, 80);
    let mut ev = Vec::new();
    l.table
        .set_statics(0, &l.pool, &[(Proto::Tcp, server6, public)], &mut ev)
        .unwrap();
    assert!(ev[0].created && ev[0].is_static);
    // An IPv4 client opens a connection to the public port.
    assert_eq!(
        l.inn(1, Proto::Tcp, public, t4(OTHER, 33333), SYN).unwrap(),
        server6
    );
    // The server's reply finds the same binding from the IPv6 side.
    assert_eq!(
        l.out(1, Proto::Tcp, server6, t4(OTHER, 33333), SYN | ACK)
            .unwrap(),
        public
    );
    // Never expires.
    l.sweep(1_000_000);
    assert_eq!(l.table.census().static_bibs, 1);
    assert_eq!(
        l.inn(1_000_001, Proto::Tcp, public, t4(OTHER, 1), SYN)
            .unwrap(),
        server6
    );
    // Removing it at reload frees it once unused.
    l.sweep(2_000_000);
    l.table
        .set_statics(2_000_000, &l.pool, &[], &mut ev)
        .unwrap();
    assert_eq!(l.table.census().bibs, [0, 0, 0]);
}

#[test]
fn s7_static_errors() {
    let l = lab();
    let mut ev = Vec::new();
    let e = l
        .table
        .set_statics(
            0,
            &l.pool,
            &[(Proto::Tcp, t6(H2, 1), t4(OTHER, 80))],
            &mut ev,
        )
        .unwrap_err();
    assert!(e.contains("not a pool address"), "{e}");
    let dup = [
        (Proto::Tcp, t6(H2, 1), t4(POOL1, 80)),
        (Proto::Tcp, t6(H2, 2), t4(POOL1, 80)),
    ];
    let e = l.table.set_statics(0, &l.pool, &dup, &mut ev).unwrap_err();
    assert!(
        e.contains("static 1:") && e.contains("same pool address") && e.contains("entry 0"),
        "{e}"
    );
}

#[test]
fn s8_hairpin_reaches_the_other_host() {
    // H1 talks to H2's pool address: the outbound binding of H1 and the
    // inbound lookup of H2's binding are both ordinary table operations.
    let mut l = lab();
    let h2_public = l
        .out(0, Proto::Udp, t6(H2, 7000), t4(SERVER, 53), 0)
        .unwrap();
    let h1_public = l.out(1, Proto::Udp, t6(H1, 5000), h2_public, 0).unwrap();
    assert_eq!(
        l.inn(1, Proto::Udp, h2_public, h1_public, 0).unwrap(),
        t6(H2, 7000)
    );
    // H2's answer goes back to H1 the same way.
    assert_eq!(
        l.out(2, Proto::Udp, t6(H2, 7000), h1_public, 0).unwrap(),
        h2_public
    );
    assert_eq!(
        l.inn(2, Proto::Udp, h1_public, h2_public, 0).unwrap(),
        t6(H1, 5000)
    );
}

#[test]
fn s10_errors_find_but_never_create() {
    let mut l = lab();
    let h = t6(H1, 5000);
    assert_eq!(
        l.table.outbound(
            0,
            &l.pool,
            Proto::Udp,
            h,
            t4(SERVER, 53),
            0,
            Ask::Lookup,
            &mut l.events
        ),
        Err(DropReason::NoSession)
    );
    let v4 = l.out(0, Proto::Udp, h, t4(SERVER, 53), 0).unwrap();
    let i = l
        .table
        .inbound(
            5,
            &l.pool,
            Proto::Udp,
            v4,
            t4(SERVER, 53),
            Ask::Lookup,
            &[],
            &mut l.events,
        )
        .unwrap();
    assert_eq!(i.v6, h);
    assert_eq!(
        l.table.inbound(
            5,
            &l.pool,
            Proto::Udp,
            v4,
            t4(OTHER, 53),
            Ask::Lookup,
            &[],
            &mut l.events
        ),
        Err(DropReason::NoSession),
        "an error about a session that does not exist"
    );
    assert_eq!(l.sweep(300).0, 1, "the error did not refresh the session");
}

#[test]
fn o4_session_limits() {
    let cfg = StateConfig {
        max_sessions: 3,
        ..StateConfig::default()
    };
    let mut l = lab_with(cfg, DEFAULT_RANGES, 8);
    for p in 0..3 {
        l.out(0, Proto::Udp, t6(H1, 100 + p), t4(SERVER, 53), 0)
            .unwrap();
    }
    assert_eq!(
        l.out(0, Proto::Udp, t6(H2, 1), t4(SERVER, 53), 0),
        Err(DropReason::SessionLimit)
    );
    let mut l = lab_with(limited(2, 0, 0), DEFAULT_RANGES, 8);
    l.out(0, Proto::Udp, t6(H1, 1), t4(SERVER, 53), 0).unwrap();
    l.out(0, Proto::Udp, t6(H1, 1), t4(OTHER, 53), 0).unwrap();
    assert_eq!(
        l.out(0, Proto::Udp, t6(H1, 2), t4(SERVER, 53), 0),
        Err(DropReason::SourceSessionLimit)
    );
    assert_eq!(
        l.out(0, Proto::Udp, t6(H2, 2), t4(SERVER, 53), 0),
        Err(DropReason::SourceSessionLimit),
        "another address of the same /64 is the same customer"
    );
    assert!(
        l.out(0, Proto::Udp, t6(OTHER_NET, 2), t4(SERVER, 53), 0)
            .is_ok(),
        "another customer prefix is not limited"
    );
    l.sweep(300);
    assert!(
        l.out(300, Proto::Udp, t6(H1, 2), t4(SERVER, 53), 0).is_ok(),
        "expired sessions give room back"
    );
}

#[test]
fn o4_new_session_rate_per_source() {
    let mut l = lab_with(limited(0, 2, 2), DEFAULT_RANGES, 8);
    assert!(l.out(0, Proto::Udp, t6(H1, 1), t4(SERVER, 53), 0).is_ok());
    assert!(l.out(0, Proto::Udp, t6(H1, 2), t4(SERVER, 53), 0).is_ok());
    assert_eq!(
        l.out(0, Proto::Udp, t6(H1, 3), t4(SERVER, 53), 0),
        Err(DropReason::SourceRateLimit)
    );
    assert!(
        l.out(0, Proto::Udp, t6(H1, 1), t4(SERVER, 53), 0).is_ok(),
        "existing sessions flow"
    );
    assert!(
        l.out(1, Proto::Udp, t6(H1, 3), t4(SERVER, 53), 0).is_ok(),
        "tokens refill each second"
    );
}

#[test]
fn s1_bindings_listing_and_events() {
    let mut l = lab();
    let v4 = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    let rows = l.table.bindings();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].v6, rows[0].v4, rows[0].sessions),
        (t6(H1, 5000), v4, 1)
    );
    assert_eq!(
        l.events[0],
        Event {
            at: 0,
            created: true,
            proto: Proto::Udp,
            v6: t6(H1, 5000),
            v4,
            is_static: false
        }
    );
}

#[test]
fn s5_sweep_in_batches_removes_every_expired_session() {
    // One shard, more expired sessions than one batch, some kept alive.
    let mut l = lab_with(StateConfig::default(), DEFAULT_RANGES, 1);
    let n = 3 * SWEEP_BATCH as u16 + 17;
    for p in 0..n {
        l.out(0, Proto::Udp, t6(H1, 10_000 + p), t4(SERVER, 53), 0)
            .unwrap();
    }
    for p in 0..10 {
        l.out(100, Proto::Udp, t6(H1, 10_000 + p), t4(SERVER, 53), 0)
            .unwrap();
    }
    l.events.clear();
    assert_eq!(l.sweep(300).0, usize::from(n) - 10);
    assert_eq!(l.table.sessions(), 10);
    assert_eq!(
        l.events.iter().filter(|e| !e.created).count(),
        usize::from(n) - 10,
        "every binding left without sessions removed and logged"
    );
    assert_eq!(l.table.census().bibs[1], 10);
    assert_eq!(l.sweep(400).0, 10);
    assert_eq!(l.table.census().bibs, [0, 0, 0]);
}

/// A spray from the IPv4 side at one binding (endpoint-independent
/// filtering lets any remote in, RFC 6146 §3.5.1) holds at most
/// `inbound_per_binding` unanswered sessions, each counted as refused
/// beyond; the victim's own budget (its per-source cap) is untouched, so it
/// still opens new flows; the unanswered sessions go after their short
/// lifetime, answered ones stay.
#[test]
fn o4_inbound_spray_is_bounded_per_binding_and_spares_the_hosts_budget() {
    let cfg = StateConfig {
        inbound_per_binding: 8,
        ..limited(10, 0, 0)
    };
    let mut l = lab_with(cfg, DEFAULT_RANGES, 8);
    let b = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    let (mut ok, mut refused) = (0, 0);
    for port in 0..1000u16 {
        match l.inn(1, Proto::Udp, b, t4(OTHER, 10_000 + port), 0) {
            Ok(v6) => {
                assert_eq!(v6, t6(H1, 5000));
                ok += 1;
            }
            Err(DropReason::InboundSessionLimit) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok, refused), (8, 992));
    // The host answers one of them: it is no longer unanswered, so one
    // more inbound session fits.
    l.out(2, Proto::Udp, t6(H1, 5000), t4(OTHER, 10_000), 0)
        .unwrap();
    assert!(l.inn(2, Proto::Udp, b, t4(OTHER, 20_000), 0).is_ok());
    assert_eq!(
        l.inn(2, Proto::Udp, b, t4(OTHER, 20_001), 0),
        Err(DropReason::InboundSessionLimit)
    );
    // The host's own budget: 10 sessions of its own, whatever the spray.
    for port in 1..10 {
        l.out(3, Proto::Udp, t6(H1, 6000 + port), t4(SERVER, 53), 0)
            .unwrap_or_else(|e| panic!("own flow {port}: {e:?}"));
    }
    // After the short lifetime (6 s) the unanswered ones are gone; the
    // answered one and the host's own flows stay.
    l.sweep(2 + 6);
    let census = l.table.census();
    // The first flow, the answered inbound session, the 9 own flows.
    assert_eq!(census.sessions[Proto::Udp.index()], 1 + 1 + 9, "{census:?}");
    assert_eq!(census.unanswered_inbound, 0);
    // And the binding takes 8 new unanswered ones again.
    for port in 0..8 {
        assert!(l.inn(9, Proto::Udp, b, t4(OTHER, 30_000 + port), 0).is_ok());
    }
}

/// The table holds at most a quarter of `max_sessions` unanswered inbound
/// sessions, whatever the number of bindings sprayed.
#[test]
fn o4_unanswered_inbound_sessions_are_bounded_in_the_table() {
    let cfg = StateConfig {
        max_sessions: 40,
        inbound_per_binding: 0,
        ..StateConfig::default()
    };
    let mut l = lab_with(cfg, DEFAULT_RANGES, 8);
    let bindings: Vec<_> = (0..4)
        .map(|i| {
            l.out(0, Proto::Udp, t6(H1, 5000 + i), t4(SERVER, 53), 0)
                .unwrap()
        })
        .collect();
    let mut ok = 0;
    for (i, b) in bindings.iter().enumerate() {
        for port in 0..20u16 {
            if l.inn(1, Proto::Udp, *b, t4(OTHER, 1000 * i as u16 + port), 0)
                .is_ok()
            {
                ok += 1;
            }
        }
    }
    assert_eq!(ok, 10);
    // The IPv6 hosts still open their own flows.
    assert!(
        l.out(1, Proto::Udp, t6(H2, 7000), t4(SERVER, 53), 0)
            .is_ok()
    );
}

/// After a flood of sessions expires, the sweep hands the tables' memory
/// back: the maps shrink, the emptied shards let go of their binding slots.
#[test]
fn s5_the_sweep_hands_memory_back_after_a_flood() {
    let mut l = lab();
    for i in 0..20_000u32 {
        let src = t6(
            Ipv6Addr::from(u128::from(H1) + u128::from(i / 1000)),
            2000 + (i % 1000) as u16,
        );
        l.out(0, Proto::Icmp, src, t4(SERVER, 0), 0).unwrap();
    }
    let big: usize = l
        .table
        .shards
        .iter()
        .map(|s| lock(s).sessions.capacity())
        .sum();
    assert!(big >= 20_000, "{big}");
    l.sweep(1000);
    assert_eq!(l.table.sessions(), 0);
    for s in l.table.shards.iter() {
        let s = lock(s);
        assert!(
            s.sessions.capacity() <= 1024 * 2,
            "sessions capacity {}",
            s.sessions.capacity()
        );
        assert!(
            s.bibs.is_empty() && s.bib6.capacity() <= 2048,
            "bibs {}",
            s.bibs.len()
        );
    }
    // The table works as before.
    assert!(
        l.out(1001, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
            .is_ok()
    );
}

fn policy_cfg(p: crate::limits::LimitPolicy) -> StateConfig {
    StateConfig {
        limits: Arc::new(p),
        ..StateConfig::default()
    }
}

/// The address `i` of H1's /64 (a host rotating through its prefix).
fn rotating(i: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0xa, 0xb, i, 1)
}

#[test]
fn o4_a_host_rotating_through_its_prefix_is_held_to_the_prefix_cap() {
    let mut l = lab_with(limited(100, 0, 0), DEFAULT_RANGES, 8);
    let ok = (0..1000u16)
        .filter(|i| {
            l.out(0, Proto::Tcp, t6(rotating(*i), 40000), t4(SERVER, 80), SYN)
                .is_ok()
        })
        .count();
    assert_eq!(ok, 100);
    assert_eq!(l.table.sessions(), 100);
    assert!(
        l.out(0, Proto::Tcp, t6(OTHER_NET, 1), t4(SERVER, 80), SYN)
            .is_ok(),
        "another customer still gets in"
    );
    let (offenders, unlisted) = l.table.offenders();
    assert_eq!(unlisted, 0);
    assert_eq!(offenders.len(), 1, "one line for the whole prefix");
    assert_eq!(offenders[0].key.to_string(), "2001:db8:1::/64");
    assert_eq!(offenders[0].refused, [900, 0, 0, 0]);
    assert_eq!((offenders[0].sessions, offenders[0].limit), (100, 100));
    assert!(l.table.offenders().0.is_empty(), "counts start again");
}

#[test]
fn o4_an_override_lifts_the_limit_for_its_range_only() {
    use crate::limits::{LimitPolicy, Limits, Override, Rate};
    let base = Limits {
        sessions: 5,
        rate: Rate::NONE,
    };
    let exempt = Override {
        net: "2001:db8:2::/48".parse().unwrap(),
        prefix_len: 48,
        limits: Limits::NONE,
    };
    let mut l = lab_with(
        policy_cfg(LimitPolicy::new(64, base, vec![exempt], Vec::new())),
        DEFAULT_RANGES,
        8,
    );
    for i in 0..50u16 {
        let a = Ipv6Addr::new(0x2001, 0xdb8, 2, i, 0, 0, 0, 1);
        assert!(l.out(0, Proto::Udp, t6(a, 1000), t4(SERVER, 53), 0).is_ok());
    }
    let n = (0..50u16)
        .filter(|i| {
            l.out(0, Proto::Udp, t6(rotating(*i), 1000), t4(SERVER, 53), 0)
                .is_ok()
        })
        .count();
    assert_eq!(n, 5);
}

#[test]
fn o4_port_policy_denies_and_limits_new_flows_only() {
    use crate::limits::{LimitPolicy, Limits, PortAction, PortRule, Rate};
    let smtp = PortRange {
        first: 25,
        last: 25,
    };
    let rules = vec![
        PortRule {
            proto: Proto::Tcp,
            ports: vec![smtp],
            from: vec!["2001:db8:2::/48".parse().unwrap()],
            action: PortAction::Deny,
        },
        PortRule {
            proto: Proto::Tcp,
            ports: vec![smtp],
            from: Vec::new(),
            action: PortAction::Limit(Rate {
                per_minute: 6,
                burst: 2,
            }),
        },
    ];
    let pol = LimitPolicy::new(64, Limits::NONE, Vec::new(), rules);
    let mut l = lab_with(policy_cfg(pol), DEFAULT_RANGES, 8);
    assert_eq!(
        l.out(0, Proto::Tcp, t6(OTHER_NET, 1), t4(SERVER, 25), SYN),
        Err(DropReason::PortDenied)
    );
    assert!(
        l.out(0, Proto::Tcp, t6(OTHER_NET, 1), t4(SERVER, 80), SYN)
            .is_ok()
    );
    assert!(l.out(0, Proto::Tcp, t6(H1, 1), t4(SERVER, 25), SYN).is_ok());
    assert!(l.out(0, Proto::Tcp, t6(H2, 2), t4(SERVER, 25), SYN).is_ok());
    assert_eq!(
        l.out(0, Proto::Tcp, t6(H1, 3), t4(SERVER, 25), SYN),
        Err(DropReason::PortRateLimit),
        "the burst of the /64 is spent"
    );
    assert!(
        l.out(0, Proto::Tcp, t6(H1, 1), t4(SERVER, 25), ACK).is_ok(),
        "an existing flow goes on"
    );
    assert!(
        l.out(0, Proto::Tcp, t6(H1, 3), t4(SERVER, 587), SYN)
            .is_ok()
    );
    assert!(
        l.out(10, Proto::Tcp, t6(H1, 3), t4(SERVER, 25), SYN)
            .is_ok(),
        "one in 10 s"
    );
    assert_eq!(
        l.out(10, Proto::Tcp, t6(H1, 4), t4(SERVER, 25), SYN),
        Err(DropReason::PortRateLimit)
    );
    let (o, _) = l.table.offenders();
    let mut refused: Vec<_> = o.iter().map(|o| (o.key.to_string(), o.refused)).collect();
    refused.sort();
    assert_eq!(
        refused,
        [
            ("2001:db8:1::/64".to_string(), [0, 0, 0, 2]),
            ("2001:db8:2::/64".to_string(), [0, 0, 1, 0])
        ]
    );
}

#[test]
fn s6_pairing_by_prefix_keeps_a_customer_on_one_pool_address() {
    let addrs: Vec<Ipv4Addr> = (1..=8).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect();
    let mut seen = std::collections::BTreeSet::new();
    for pairing in [Pairing::Prefix, Pairing::Address] {
        let pool = Pool::new(addrs.clone(), DEFAULT_RANGES, 8).unwrap();
        let table = Table::new(
            8,
            StateConfig {
                pairing,
                ..StateConfig::default()
            },
            7,
        );
        let mut ev = Vec::new();
        let used: std::collections::BTreeSet<Ipv4Addr> = (0..64u16)
            .map(|i| {
                table
                    .outbound(
                        0,
                        &pool,
                        Proto::Udp,
                        t6(rotating(i), 1000 + i),
                        t4(SERVER, 53),
                        0,
                        Ask::Data { tcp_flags: 0 },
                        &mut ev,
                    )
                    .unwrap()
                    .v4
                    .addr
            })
            .collect();
        seen.insert((pairing == Pairing::Prefix, used.len()));
    }
    let by_prefix = seen.iter().find(|(p, _)| *p).unwrap().1;
    let by_address = seen.iter().find(|(p, _)| !*p).unwrap().1;
    assert_eq!(by_prefix, 1, "every address of the /64 on one pool address");
    assert!(by_address > 1, "per address: spread ({by_address})");
}

#[test]
fn s6_pairing_by_prefix_is_strict_when_the_address_is_full() {
    // Two pool addresses, 16 ports each per shard: the customer gets no
    // port of the other address.
    let ranges = [
        PortRange {
            first: 2000,
            last: 2015,
        },
        PortRange {
            first: 2000,
            last: 2015,
        },
        DEFAULT_RANGES[2],
    ];
    let pool = Pool::new(vec![POOL1, Ipv4Addr::new(198, 51, 100, 2)], ranges, 1).unwrap();
    let table = Table::new(1, StateConfig::default(), 7);
    let mut ev = Vec::new();
    let mut addrs = std::collections::BTreeSet::new();
    let mut exhausted = 0;
    for p in 0..40u16 {
        match table.outbound(
            0,
            &pool,
            Proto::Udp,
            t6(H1, 3000 + p),
            t4(SERVER, 53),
            0,
            Ask::Data { tcp_flags: 0 },
            &mut ev,
        ) {
            Ok(o) => {
                addrs.insert(o.v4.addr);
            }
            Err(DropReason::PoolExhausted) => exhausted += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((addrs.len(), exhausted), (1, 24));
    assert_eq!(
        table.sessions(),
        16,
        "the refused ones gave their count back"
    );
}

#[test]
fn o4_a_reload_that_changes_the_prefix_length_counts_again() {
    let mut l = lab_with(limited(4, 0, 0), DEFAULT_RANGES, 8);
    for i in 0..4u16 {
        l.out(0, Proto::Udp, t6(rotating(i), 1000), t4(SERVER, 53), 0)
            .unwrap();
    }
    assert_eq!(
        l.out(0, Proto::Udp, t6(rotating(9), 1000), t4(SERVER, 53), 0),
        Err(DropReason::SourceSessionLimit)
    );
    // Per /128 now: each address holds one session of its 4.
    let per_address = crate::limits::LimitPolicy::new(
        128,
        crate::limits::Limits {
            sessions: 4,
            rate: crate::limits::Rate::NONE,
        },
        Vec::new(),
        Vec::new(),
    );
    l.table.reconfigure(policy_cfg(per_address));
    assert_eq!(l.table.sessions(), 4, "sessions kept");
    assert!(
        l.out(1, Proto::Udp, t6(rotating(9), 1000), t4(SERVER, 53), 0)
            .is_ok()
    );
    for p in 0..3 {
        l.out(1, Proto::Udp, t6(rotating(0), 2000 + p), t4(SERVER, 53), 0)
            .unwrap();
    }
    assert_eq!(
        l.out(1, Proto::Udp, t6(rotating(0), 2009), t4(SERVER, 53), 0),
        Err(DropReason::SourceSessionLimit),
        "its existing session was counted again"
    );
    // Once reported, and every session expired, nothing is left counted.
    assert_eq!(
        l.table.offenders().0.len(),
        1,
        "the count before the reload went with its keys"
    );
    l.sweep(1000);
    assert_eq!(l.table.sessions(), 0);
    let (rows, _, tracked) = l.table.top_sources(10, 1000);
    assert!(rows.is_empty() && tracked == 0, "{rows:?}");
}

#[test]
fn o4_top_sources_by_sessions_and_by_rate() {
    let mut l = lab();
    for i in 0..30u16 {
        l.out(5, Proto::Udp, t6(rotating(i), 1000), t4(SERVER, 53), 0)
            .unwrap();
    }
    for p in 0..3 {
        l.out(15, Proto::Udp, t6(OTHER_NET, 1000 + p), t4(SERVER, 53), 0)
            .unwrap();
    }
    let (by_sessions, by_rate, tracked) = l.table.top_sources(1, 12);
    assert_eq!(tracked, 2);
    assert_eq!(by_sessions[0].key.to_string(), "2001:db8:1::/64");
    assert_eq!(
        (by_sessions[0].sessions, by_sessions[0].opened_10s),
        (30, 30)
    );
    assert_eq!(by_rate.len(), 1);
    let (_, by_rate, _) = l.table.top_sources(2, 25);
    assert_eq!(by_rate.len(), 1, "the first went quiet; {by_rate:?}");
    assert_eq!(by_rate[0].key.to_string(), "2001:db8:2::/64");
}

/// The control interface's listings pick by protocol, IPv6 range, pool
/// address and port, stop at the limit and say that more matched.
#[test]
fn o6_listings_filter_and_stop_at_the_limit() {
    let mut l = lab();
    let mut ports = Vec::new();
    for p in 0..10u16 {
        ports.push(
            l.out(0, Proto::Udp, t6(H1, 5000 + p), t4(SERVER, 53), 0)
                .unwrap(),
        );
    }
    l.out(0, Proto::Tcp, t6(OTHER_NET, 80), t4(SERVER, 443), SYN)
        .unwrap();
    l.out(0, Proto::Udp, t6(H1, 5000), t4(OTHER, 53), 0)
        .unwrap();
    let all = Select::default();
    let (rows, more) = l.table.list_bindings(&all, 100);
    assert_eq!((rows.len(), more), (11, false));
    let (rows, more) = l.table.list_bindings(&all, 4);
    assert_eq!((rows.len(), more), (4, true));
    let udp = Select {
        proto: Some(Proto::Udp),
        ..all
    };
    assert_eq!(l.table.list_bindings(&udp, 100).0.len(), 10);
    let net = Select {
        v6: Some("2001:db8:2::/64".parse().unwrap()),
        ..all
    };
    let (rows, _) = l.table.list_bindings(&net, 100);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].v6, t6(OTHER_NET, 80));
    let one = Select {
        v4: Some(ports[3].addr),
        port: Some(ports[3].port),
        ..udp
    };
    let (rows, _) = l.table.list_bindings(&one, 100);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].v6, rows[0].sessions), (t6(H1, 5003), 1));
    // Sessions: port 5000's binding has two (two remotes).
    let first = Select {
        port: Some(ports[0].port),
        ..udp
    };
    let (s, more) = l.table.list_sessions(&first, 100, 10);
    assert!(!more);
    assert_eq!(s.len(), 2);
    assert!(
        s.iter()
            .all(|r| r.v6 == t6(H1, 5000) && r.expires_in == 290)
    );
    let (s, _) = l.table.list_sessions(&net, 100, 10);
    assert_eq!(s[0].tcp, Some(TcpState::V6Init));
    assert_eq!(s[0].remote, t4(SERVER, 443));
    // Expired sessions are not listed, swept or not.
    assert!(l.table.list_sessions(&first, 100, 400).0.is_empty());
}

/// `nat64gw bib remove`: the binding and its sessions go, the customer's
/// count with them, the mapping log hears of it; a static binding is the
/// file's and stays; the flow's next packet makes a new binding.
#[test]
fn o6_a_removed_binding_takes_its_sessions_and_counts() {
    let mut l = lab_with(limited(100, 0, 0), DEFAULT_RANGES, 8);
    let v4 = l
        .out(0, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    l.out(0, Proto::Udp, t6(H1, 5000), t4(OTHER, 53), 0)
        .unwrap();
    l.out(0, Proto::Udp, t6(H1, 5001), t4(OTHER, 53), 0)
        .unwrap();
    assert_eq!(l.table.sessions(), 3);
    l.events.clear();
    let (row, n) = l
        .table
        .remove_binding(Proto::Udp, v4, 5, &mut l.events)
        .unwrap();
    assert_eq!((row.v6, n), (t6(H1, 5000), 2));
    assert_eq!(l.table.sessions(), 1);
    assert_eq!(l.events.len(), 1);
    assert!(!l.events[0].created && l.events[0].v4 == v4 && l.events[0].at == 5);
    assert_eq!(l.table.list_bindings(&Select::default(), 10).0.len(), 1);
    assert_eq!(
        l.table.remove_binding(Proto::Udp, v4, 5, &mut l.events),
        Err(RemoveError::NotFound)
    );
    assert_eq!(
        l.table.remove_binding(Proto::Tcp, v4, 5, &mut l.events),
        Err(RemoveError::NotFound),
        "the protocol is part of the binding"
    );
    // The answer to the removed flow finds nothing; its next packet out
    // makes a binding again.
    assert_eq!(
        l.inn(6, Proto::Udp, v4, t4(SERVER, 53), 0),
        Err(DropReason::NoBinding)
    );
    l.out(7, Proto::Udp, t6(H1, 5000), t4(SERVER, 53), 0)
        .unwrap();
    assert_eq!(l.table.sessions(), 2);
    // Static.
    let st = t4(POOL1, 2000);
    let mut ev = Vec::new();
    l.table
        .set_statics(0, &l.pool, &[(Proto::Tcp, t6(H2, 80), st)], &mut ev)
        .unwrap();
    assert_eq!(
        l.table.remove_binding(Proto::Tcp, st, 8, &mut l.events),
        Err(RemoveError::Static)
    );
}
