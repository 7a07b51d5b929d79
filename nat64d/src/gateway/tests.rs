//! The whole packet path in process: IPv6 packet in, IPv4 packet out,
//! IPv4 reply in, IPv6 reply out; policy, hairpin and fragments.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use super::*;
use crate::pool::DEFAULT_RANGES;
use crate::state::StateConfig;
use crate::translate::HEADROOM;

pub(crate) const H1: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
const H2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 3);
const OUTSIDER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 2);
pub(crate) const SERVER4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
pub(crate) const POOL1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

pub(crate) fn wkp(v4: Ipv4Addr) -> Ipv6Addr {
    embed(&common::WELL_KNOWN_PREFIX, v4)
}

pub(crate) fn gateway(allow_non_global: bool, deny_to: Vec<Ipv4Net>) -> (Gateway, Policy) {
    let prefix = PrefixConfig {
        allow_non_global,
        ..PrefixConfig::default()
    };
    let pool = Pool::new(vec![POOL1], DEFAULT_RANGES, 4).unwrap();
    let table = Table::new(4, StateConfig::default(), 1);
    let policy = Policy {
        allow_from: vec!["2001:db8:1::/64".parse().unwrap()],
        deny_to,
        allow_non_global,
    };
    (
        Gateway::new(prefix, pool, table, translate::Config::default()),
        policy,
    )
}

fn run(g: &(Gateway, Policy), pkt: &[u8], now: Secs) -> (Verdict, Way, Vec<u8>) {
    let (a, w, out, released) = run_fx(g, pkt, now);
    assert!(released.is_empty(), "released {released:?}");
    (a, w, out)
}

/// Like `run`, also returning the fragments the packet released.
fn run_fx(g: &(Gateway, Policy), pkt: &[u8], now: Secs) -> (Verdict, Way, Vec<u8>, Vec<Box<[u8]>>) {
    let mut buf = vec![0u8; 2 * HEADROOM + pkt.len()];
    let at = 2 * HEADROOM;
    buf[at..].copy_from_slice(pkt);
    let mut fx = Effects::default();
    let arrival = Arrival {
        start: at,
        len: pkt.len(),
        off: Offload::default(),
        now,
        ident: 7,
    };
    let (a, w) = g.0.process(&g.1, &mut buf, arrival, &mut fx);
    let out = match a {
        Verdict::Forward { start, len }
        | Verdict::Reply { start, len }
        | Verdict::Refuse { start, len, .. } => buf[start..start + len].to_vec(),
        _ => Vec::new(),
    };
    (a, w, out, fx.released)
}

pub(crate) fn udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), 64)
        .udp(sport, dport)
        .write(&mut v, b"hello")
        .unwrap();
    v
}

pub(crate) fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
        .udp(sport, dport)
        .write(&mut v, b"world")
        .unwrap();
    v
}

pub(crate) fn udp_ends4(pkt: &[u8]) -> (Ipv4Addr, u16, Ipv4Addr, u16) {
    let s = SlicedPacket::from_ip(pkt).unwrap();
    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(u))) = (&s.net, &s.transport) else {
        panic!("not UDP/IPv4")
    };
    let h = ip.header();
    (
        h.source_addr(),
        u.source_port(),
        h.destination_addr(),
        u.destination_port(),
    )
}

fn udp_ends6(pkt: &[u8]) -> (Ipv6Addr, u16, Ipv6Addr, u16) {
    let s = SlicedPacket::from_ip(pkt).unwrap();
    let (Some(NetSlice::Ipv6(ip)), Some(TransportSlice::Udp(u))) = (&s.net, &s.transport) else {
        panic!("not UDP/IPv6")
    };
    let h = ip.header();
    (
        h.source_addr(),
        u.source_port(),
        h.destination_addr(),
        u.destination_port(),
    )
}

#[test]
fn out_and_back() {
    let g = gateway(true, vec![]);
    let (a, w, v4) = run(&g, &udp6(H1, wkp(SERVER4), 5000, 53), 0);
    assert!(
        matches!(a, Verdict::Forward { .. }) && w == Way::Out,
        "{a:?}"
    );
    let (src, sport, dst, dport) = udp_ends4(&v4);
    assert_eq!((src, dst, dport), (POOL1, SERVER4, 53));
    let (_, w, v6) = run(&g, &udp4(SERVER4, POOL1, 53, sport), 1);
    assert_eq!(w, Way::In);
    assert_eq!(udp_ends6(&v6), (wkp(SERVER4), 53, H1, 5000));
}

/// The reason a refusal was counted under, and the ICMPv6 error sent back
/// (type, code), if any.
fn refused(a: Verdict, out: &[u8]) -> (DropReason, Option<(u8, u8)>) {
    match a {
        Verdict::Refuse { reason, .. } => (reason, Some((out[40], out[41]))),
        Verdict::Drop(r) => (r, None),
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn o4_policy() {
    let g = gateway(false, vec![]);
    let (a, _, _) = run(&g, &udp6(OUTSIDER, wkp(SERVER4), 5000, 53), 0);
    assert_eq!(a, Verdict::Drop(DropReason::SourceNotAllowed));
    // A non-global destination under the Well-Known Prefix (req A3):
    // Destination Unreachable, administratively prohibited (1, 1).
    let (a, _, out, _) = run_fx(&g, &udp6(H1, wkp(SERVER4), 5000, 53), 0);
    assert_eq!(
        refused(a, &out),
        (DropReason::DestinationDenied, Some((1, 1))),
        "non-global by default"
    );
    let g = gateway(true, vec!["203.0.113.0/28".parse().unwrap()]);
    let (a, _, out, _) = run_fx(&g, &udp6(H1, wkp(SERVER4), 5000, 53), 0);
    assert_eq!(
        refused(a, &out),
        (DropReason::DestinationDenied, Some((1, 1))),
        "deny_to"
    );
    let (a, _, _) = run(&g, &udp4(SERVER4, Ipv4Addr::new(198, 51, 100, 9), 53, 1), 0);
    assert_eq!(a, Verdict::Drop(DropReason::NotInPool));
}

/// req A3, the rule dns64d applies too: the never-translated blocks are
/// refused under every prefix even with `allow_non_global`; a
/// network-specific prefix carries other non-global addresses.
#[test]
fn a3_never_translated_destinations_under_any_prefix() {
    let g = gateway(true, vec![]);
    for dst in [
        Ipv4Addr::new(127, 0, 0, 1),
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(255, 255, 255, 255),
        Ipv4Addr::new(0, 0, 0, 0),
        Ipv4Addr::new(240, 0, 0, 1),
    ] {
        let (a, _, out, _) = run_fx(&g, &udp6(H1, wkp(dst), 5000, 53), 0);
        assert_eq!(
            refused(a, &out),
            (DropReason::DestinationDenied, Some((1, 1))),
            "{dst}"
        );
    }
    // Under a network-specific prefix: 10.0.0.1 goes (the operator chose
    // the prefix), 127.0.0.1 never.
    let nsp: common::Nat64Prefix = "2001:db8:64::/96".parse().unwrap();
    let prefix = PrefixConfig {
        prefixes: common::config::PrefixList::new(vec![nsp]).unwrap(),
        allow_non_global: false,
    };
    let g = (
        Gateway::new(
            prefix,
            Pool::new(vec![POOL1], DEFAULT_RANGES, 4).unwrap(),
            Table::new(4, StateConfig::default(), 1),
            translate::Config::default(),
        ),
        Policy {
            allow_non_global: false,
            ..g.1
        },
    );
    let (a, _, _) = run(
        &g,
        &udp6(H1, embed(&nsp, Ipv4Addr::new(10, 0, 0, 1)), 5000, 53),
        0,
    );
    assert!(matches!(a, Verdict::Forward { .. }), "{a:?}");
    let (a, _, out, _) = run_fx(
        &g,
        &udp6(H1, embed(&nsp, Ipv4Addr::new(127, 0, 0, 1)), 5000, 53),
        0,
    );
    assert_eq!(refused(a, &out).0, DropReason::DestinationDenied);
}

/// Sources no host may use are refused even when `allow_from` is `::/0`.
#[test]
fn o4_invalid_sources_refused_whatever_allow_from() {
    let (gw, mut policy) = gateway(true, vec![]);
    policy.allow_from = vec!["::/0".parse().unwrap()];
    let g = (gw, policy);
    for src in [
        Ipv6Addr::LOCALHOST,
        "ff02::1".parse().unwrap(),
        wkp(Ipv4Addr::new(203, 0, 113, 99)),
    ] {
        let (a, _, _) = run(&g, &udp6(src, wkp(SERVER4), 5000, 53), 0);
        assert_eq!(a, Verdict::Drop(DropReason::InvalidSource), "{src}");
    }
    let (a, _, _) = run(&g, &udp6(OUTSIDER, wkp(SERVER4), 5000, 53), 0);
    assert!(
        matches!(a, Verdict::Forward { .. }),
        "an ordinary source: {a:?}"
    );
}

#[test]
fn s8_hairpin() {
    // H2 has a binding (it talked to someone); H1 sends to H2's pool
    // address through the prefix. The pool is reachable even though it is
    // a documentation (non-global) range.
    let g2 = gateway(true, vec![]);
    let (_, _, v4) = run(&g2, &udp6(H2, wkp(SERVER4), 7000, 53), 0);
    let (_, h2_port, _, _) = udp_ends4(&v4);
    let (a, w, v6) = run(&g2, &udp6(H1, wkp(POOL1), 5000, h2_port), 1);
    assert_eq!(w, Way::Hairpin, "{a:?}");
    let (src, sport, dst, dport) = udp_ends6(&v6);
    assert_eq!((dst, dport), (H2, 7000));
    assert_eq!(src, wkp(POOL1), "from H1's pool address");
    // And back.
    let (_, w, v6) = run(&g2, &udp6(H2, src, 7000, sport), 2);
    assert_eq!(w, Way::Hairpin);
    assert_eq!(udp_ends6(&v6).2, H1);
}

/// req S8 with nat64d's own errors: H1 sends UDP to a pool port no binding
/// holds, through the prefix. The Port Unreachable nat64d makes for it is
/// for H1's pool address; it is translated there and then, so H1 gets an
/// ICMPv6 Port Unreachable quoting its own packet, whatever the host's
/// kernel would route.
#[test]
fn s8_an_own_error_about_a_hairpinned_packet_reaches_the_ipv6_host() {
    let g = gateway(true, vec![]);
    let (a, w, out) = run(&g, &udp6(H1, wkp(POOL1), 5000, 40404), 0);
    assert_eq!(w, Way::Hairpin);
    assert_eq!(refused(a, &out), (DropReason::NoBinding, Some((1, 4))));
    let s = SlicedPacket::from_ip(&out).unwrap();
    let Some(NetSlice::Ipv6(ip)) = &s.net else {
        panic!("not IPv6")
    };
    assert_eq!(ip.header().destination_addr(), H1);
    // The quoted packet is H1's own, as H1 sent it.
    let quoted = &out[48..];
    assert_eq!(&quoted[8..24], &H1.octets());
    assert_eq!(&quoted[24..40], &wkp(POOL1).octets());
    assert_eq!(u16::from_be_bytes([quoted[42], quoted[43]]), 40404);
}

/// A 2-fragment UDP reply from the server to the binding of H1 (first
/// with the header, second without), after H1 sent to the server.
fn udp4_reply_in_two(g: &(Gateway, Policy)) -> (Vec<u8>, Vec<u8>) {
    let (_, _, v4) = run(g, &udp6(H1, wkp(SERVER4), 5000, 53), 0);
    let (_, sport, _, _) = udp_ends4(&v4);
    let mut whole = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL1.octets(), 64)
        .udp(53, sport)
        .write(&mut whole, &[9u8; 64])
        .unwrap();
    let body = whole[20..].to_vec();
    let frag = |off: usize, data: &[u8], more: bool| {
        let mut p = whole[..20].to_vec();
        p.extend_from_slice(data);
        let total = u16::try_from(p.len()).unwrap();
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
        let field = (u16::from(more) << 13) | u16::try_from(off / 8).unwrap();
        p[6..8].copy_from_slice(&field.to_be_bytes());
        p[10] = 0;
        p[11] = 0;
        let c = crate::wire::checksum::finish(crate::wire::checksum::sum(&p[..20]));
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    };
    (frag(0, &body[..40], true), frag(40, &body[40..], false))
}

#[test]
fn s9_ipv4_fragments_follow_the_first() {
    let g = gateway(true, vec![]);
    let (first, second) = udp4_reply_in_two(&g);
    let (a, _, f1) = run(&g, &first, 1);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    assert_eq!(&f1[24..40], &H1.octets());
    let (a, _, f2) = run(&g, &second, 1 + FRAG_TIMEOUT);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    assert_eq!(
        &f2[24..40],
        &H1.octets(),
        "the second finds the first's host"
    );
    let (a, _, _) = run(&g, &second, 2 + FRAG_TIMEOUT);
    assert_eq!(
        a,
        Verdict::Held,
        "forgotten after the timeout: waits for a first fragment again"
    );
    assert_eq!(g.0.expire_fragments(3 + FRAG_TIMEOUT), 0);
    assert_eq!(g.0.expire_fragments(3 + 2 * FRAG_TIMEOUT), 1, "counted");
    assert_eq!(g.0.fragment_census(), (0, 0));
}

#[test]
fn s9_ipv4_fragments_out_of_order() {
    let g = gateway(true, vec![]);
    let (first, second) = udp4_reply_in_two(&g);
    let (a, _, _) = run(&g, &second, 1);
    assert_eq!(a, Verdict::Held);
    assert_eq!(g.0.fragment_census(), (1, second.len()));
    let (a, _, f1, released) = run_fx(&g, &first, 2);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    assert_eq!(&f1[24..40], &H1.octets());
    assert_eq!(released, vec![Box::from(second.as_slice())]);
    let (a, _, f2) = run(&g, &released[0], 2);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    assert_eq!(&f2[24..40], &H1.octets());
    // Fragment header of the translation: offset 40, last.
    assert_eq!(f2[40], 17);
    assert_eq!(u16::from_be_bytes([f2[42], f2[43]]), 40);
    assert_eq!(u32::from_be_bytes(f2[44..48].try_into().unwrap()), 0x4242);
    assert_eq!(g.0.fragment_census().1, 0, "nothing held any more");
}

#[test]
fn s9_held_fragment_without_first_times_out_counted() {
    let g = gateway(true, vec![]);
    let (_, second) = udp4_reply_in_two(&g);
    let (a, _, _) = run(&g, &second, 1);
    assert_eq!(a, Verdict::Held);
    assert_eq!(g.0.expire_fragments(1 + FRAG_TIMEOUT), 0, "2 s at least");
    assert_eq!(g.0.expire_fragments(2 + FRAG_TIMEOUT), 1);
    assert_eq!(g.0.fragment_census(), (0, 0));
}

/// A UDP packet from H1 to the server cut into two IPv6 fragments after
/// `cut` bytes of UDP (header included), identification `id`.
fn udp6_in_two(cut: usize, id: u32) -> (Vec<u8>, Vec<u8>) {
    let whole = {
        let mut v = Vec::new();
        PacketBuilder::ipv6(H1.octets(), wkp(SERVER4).octets(), 64)
            .udp(5000, 53)
            .write(&mut v, &[7u8; 100])
            .unwrap();
        v
    };
    let udp = &whole[40..];
    let piece = |off: usize, data: &[u8], more: bool| {
        let mut p = whole[..40].to_vec();
        p[6] = 44;
        let plen = u16::try_from(8 + data.len()).unwrap();
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p.extend_from_slice(&[17, 0]);
        let field = u16::try_from(off).unwrap() | u16::from(more);
        p.extend_from_slice(&field.to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(data);
        p
    };
    (piece(0, &udp[..cut], true), piece(cut, &udp[cut..], false))
}

#[test]
fn s9_ipv6_fragments_in_either_order() {
    let g = gateway(true, vec![]);
    let (first, second) = udp6_in_two(48, 0x0102_0304);
    // In order.
    let (a, _, f1) = run(&g, &first, 0);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    // A first fragment: etherparse does not slice its transport header.
    let port = |p: &[u8], at: usize| u16::from_be_bytes([p[at], p[at + 1]]);
    assert_eq!(&f1[12..16], &POOL1.octets());
    assert_eq!(&f1[16..20], &SERVER4.octets());
    let sport = port(&f1, 20);
    assert_eq!(port(&f1, 22), 53);
    assert_eq!(u16::from_be_bytes([f1[4], f1[5]]), 0x0304, "IPv4 ID");
    assert_eq!(f1[6] & 0x20, 0x20, "more fragments");
    let (a, _, f2) = run(&g, &second, 0);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    assert_eq!(&f2[12..16], &POOL1.octets());
    assert_eq!(&f2[16..20], &SERVER4.octets());
    assert_eq!(
        u16::from_be_bytes([f2[6], f2[7]]) & 0x1fff,
        6,
        "offset 48 / 8"
    );
    assert_eq!(f2[9], 17);
    // Out of order, another datagram of the same flow.
    let (first, second) = udp6_in_two(48, 0x0102_0305);
    let (a, _, _) = run(&g, &second, 1);
    assert_eq!(a, Verdict::Held);
    let (a, _, g1, released) = run_fx(&g, &first, 1);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    assert_eq!(port(&g1, 20), sport, "the same binding");
    assert_eq!(released.len(), 1);
    let (a, _, g2) = run(&g, &released[0], 1);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    assert_eq!(&g2[12..16], &POOL1.octets());
    assert_eq!(u16::from_be_bytes([g2[4], g2[5]]), 0x0305);
}

#[test]
fn s9_ipv6_fragments_obey_the_policy() {
    let g = gateway(true, vec![]);
    let (_, second) = udp6_in_two(48, 9);
    let mut outsider = second.clone();
    outsider[8..24].copy_from_slice(&OUTSIDER.octets());
    let (a, _, _) = run(&g, &outsider, 0);
    assert_eq!(a, Verdict::Drop(DropReason::SourceNotAllowed));
    assert_eq!(g.0.fragment_census(), (0, 0), "nothing held for it");
}

#[test]
fn s6_full_pool_answers_address_unreachable() {
    let mut ranges = DEFAULT_RANGES;
    ranges[Proto::Udp.index()] = crate::pool::PortRange {
        first: 2000,
        last: 2003,
    };
    let pool = Pool::new(vec![POOL1], ranges, 1).unwrap();
    let g = (
        Gateway::new(
            PrefixConfig {
                allow_non_global: true,
                ..PrefixConfig::default()
            },
            pool,
            Table::new(1, StateConfig::default(), 1),
            translate::Config::default(),
        ),
        Policy {
            allow_from: vec!["2001:db8:1::/64".parse().unwrap()],
            deny_to: vec![],
            allow_non_global: true,
        },
    );
    let mut refused = None;
    for port in 5000..5010 {
        let pkt = udp6(H1, wkp(SERVER4), port, 53);
        let (a, _, out, _) = run_fx(&g, &pkt, 0);
        match a {
            Verdict::Forward { .. } | Verdict::Reply { .. } => assert!(port < 5004, "only 4 ports"),
            Verdict::Refuse { reason, .. } => {
                assert_eq!(reason, DropReason::PoolExhausted);
                refused = Some((out, pkt));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let (err, quoted) = refused.expect("the pool filled up");
    let p = SlicedPacket::from_ip(&err).unwrap();
    let Some(NetSlice::Ipv6(ip)) = &p.net else {
        panic!("not IPv6")
    };
    assert_eq!(
        ip.header().source_addr(),
        translate::Config::default().own_v6
    );
    assert_eq!(ip.header().destination_addr(), H1);
    let Some(TransportSlice::Icmpv6(icmp)) = &p.transport else {
        panic!("not ICMPv6")
    };
    assert_eq!(
        (icmp.type_u8(), icmp.code_u8()),
        (1, 3),
        "Address Unreachable"
    );
    assert_eq!(icmp.payload(), &quoted[..], "quotes the refused packet");
    let want = icmp
        .icmp_type()
        .calc_checksum(
            ip.header().source(),
            ip.header().destination(),
            icmp.payload(),
        )
        .unwrap();
    assert_eq!(icmp.checksum(), want);
    // Existing flows are untouched.
    let (a, _, _) = run(&g, &udp6(H1, wkp(SERVER4), 5000, 53), 1);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
}

#[test]
fn s3_udp_without_binding_answers_port_unreachable() {
    let g = gateway(true, vec![]);
    let (a, _, err) = run(&g, &udp4(SERVER4, POOL1, 53, 7777), 0);
    let Verdict::Refuse { reason, .. } = a else {
        panic!("{a:?}")
    };
    assert_eq!(reason, DropReason::NoBinding);
    let p = SlicedPacket::from_ip(&err).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not IPv4")
    };
    assert_eq!(
        ip.header().source_addr(),
        translate::Config::default().own_v4
    );
    assert_eq!(ip.header().destination_addr(), SERVER4);
    let Some(TransportSlice::Icmpv4(icmp)) = &p.transport else {
        panic!("not ICMPv4")
    };
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (3, 3), "Port Unreachable");
    // TCP without a binding is only dropped (a held SYN is answered later).
    let mut tcp = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL1.octets(), 64)
        .tcp(80, 7777, 1, 1000)
        .ack(5)
        .write(&mut tcp, &[])
        .unwrap();
    let (a, _, _) = run(&g, &tcp, 0);
    assert!(matches!(a, Verdict::Drop(_)), "{a:?}");
}

/// A new flow the port policy denies, or a customer over its limit, is
/// answered with ICMPv6 Destination Unreachable, administratively
/// prohibited (type 1, code 1) and counted under its own reason; an ICMP
/// error from the host never is (no error about an error).
#[test]
fn o4_refused_new_flows_get_admin_prohibited() {
    use crate::limits::{LimitPolicy, Limits, PortAction, PortRule, Rate};
    let (mut g, policy) = gateway(true, vec![]);
    let deny25 = PortRule {
        proto: Proto::Udp,
        ports: vec![crate::pool::PortRange {
            first: 25,
            last: 25,
        }],
        from: Vec::new(),
        action: PortAction::Deny,
    };
    let base = Limits {
        sessions: 2,
        rate: Rate::NONE,
    };
    g.table = Table::new(
        4,
        StateConfig {
            limits: std::sync::Arc::new(LimitPolicy::new(64, base, Vec::new(), vec![deny25])),
            ..StateConfig::default()
        },
        1,
    );
    let g = (g, policy);
    let (a, _, out) = run(&g, &udp6(H1, wkp(SERVER4), 5000, 25), 0);
    assert_eq!(refused(a, &out), (DropReason::PortDenied, Some((1, 1))));
    for p in 0..2 {
        let (a, _, _) = run(&g, &udp6(H1, wkp(SERVER4), 6000 + p, 53), 0);
        assert!(matches!(a, Verdict::Forward { .. }), "{a:?}");
    }
    let (a, _, out) = run(&g, &udp6(H2, wkp(SERVER4), 7000, 53), 0);
    assert_eq!(
        refused(a, &out),
        (DropReason::SourceSessionLimit, Some((1, 1))),
        "H2 shares H1's /64"
    );
}
