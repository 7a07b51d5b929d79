//! The whole packet path in process: IPv6 packet in, IPv4 packet out,
//! IPv4 reply in, IPv6 reply out; policy, hairpin and fragments.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use super::*;
use crate::pool::DEFAULT_RANGES;
use crate::state::StateConfig;
use crate::translate::HEADROOM;

const H1: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
const H2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 3);
const OUTSIDER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 2);
const SERVER4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const POOL1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn wkp(v4: Ipv4Addr) -> Ipv6Addr {
    embed(&common::WELL_KNOWN_PREFIX, v4)
}

fn gateway(allow_non_global: bool, deny_to: Vec<Ipv4Net>) -> (Gateway, Policy) {
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

fn run(g: &(Gateway, Policy), pkt: &[u8], now: Secs) -> (Action, Way, Vec<u8>) {
    let mut buf = vec![0u8; 2 * HEADROOM + pkt.len()];
    let at = 2 * HEADROOM;
    buf[at..].copy_from_slice(pkt);
    let mut ev = Vec::new();
    let (a, w) = g.0.process(&g.1, &mut buf, at, pkt.len(), now, 7, &mut ev);
    let out = match a {
        Action::Send { start, len, .. } => buf[start..start + len].to_vec(),
        _ => Vec::new(),
    };
    (a, w, out)
}

fn udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), 64)
        .udp(sport, dport)
        .write(&mut v, b"hello")
        .unwrap();
    v
}

fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
        .udp(sport, dport)
        .write(&mut v, b"world")
        .unwrap();
    v
}

fn udp_ends4(pkt: &[u8]) -> (Ipv4Addr, u16, Ipv4Addr, u16) {
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
        matches!(
            a,
            Action::Send {
                own_error: false,
                ..
            }
        ) && w == Way::Out,
        "{a:?}"
    );
    let (src, sport, dst, dport) = udp_ends4(&v4);
    assert_eq!((src, dst, dport), (POOL1, SERVER4, 53));
    let (_, w, v6) = run(&g, &udp4(SERVER4, POOL1, 53, sport), 1);
    assert_eq!(w, Way::In);
    assert_eq!(udp_ends6(&v6), (wkp(SERVER4), 53, H1, 5000));
}

#[test]
fn o4_policy() {
    let g = gateway(false, vec![]);
    let (a, _, _) = run(&g, &udp6(OUTSIDER, wkp(SERVER4), 5000, 53), 0);
    assert_eq!(a, Action::Drop(DropReason::SourceNotAllowed));
    let (a, _, _) = run(&g, &udp6(H1, wkp(SERVER4), 5000, 53), 0);
    assert_eq!(
        a,
        Action::Drop(DropReason::DestinationDenied),
        "non-global by default"
    );
    let g = gateway(true, vec!["203.0.113.0/28".parse().unwrap()]);
    let (a, _, _) = run(&g, &udp6(H1, wkp(SERVER4), 5000, 53), 0);
    assert_eq!(a, Action::Drop(DropReason::DestinationDenied), "deny_to");
    let (a, _, _) = run(&g, &udp4(SERVER4, Ipv4Addr::new(198, 51, 100, 9), 53, 1), 0);
    assert_eq!(a, Action::Drop(DropReason::NotInPool));
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

#[test]
fn s9_ipv4_fragments_follow_the_first() {
    let g = gateway(true, vec![]);
    let (_, _, v4) = run(&g, &udp6(H1, wkp(SERVER4), 5000, 53), 0);
    let (_, sport, _, _) = udp_ends4(&v4);
    // A 2-fragment UDP reply: first with the header, second without.
    let mut whole = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL1.octets(), 64)
        .udp(53, sport)
        .write(&mut whole, &[9u8; 64])
        .unwrap();
    let body = &whole[20..];
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
    let second = frag(40, &body[40..], false);
    let (a, _, _) = run(&g, &second, 1);
    assert_eq!(
        a,
        Action::Drop(DropReason::NoSession),
        "before the first: not known yet"
    );
    let (a, _, f1) = run(&g, &frag(0, &body[..40], true), 1);
    assert!(matches!(a, Action::Send { .. }), "{a:?}");
    assert_eq!(&f1[24..40], &H1.octets());
    let (a, _, f2) = run(&g, &second, 1);
    assert!(matches!(a, Action::Send { .. }), "{a:?}");
    assert_eq!(
        &f2[24..40],
        &H1.octets(),
        "the second finds the first's host"
    );
    let (a, _, _) = run(&g, &second, 1 + FRAG_TIMEOUT);
    assert_eq!(
        a,
        Action::Drop(DropReason::NoSession),
        "forgotten after the timeout"
    );
}
