//! The driver without a TUN: packets in through `received`, the bytes it
//! would write collected from its `Egress`, the counters read back.

use std::net::Ipv6Addr;
use std::sync::atomic::Ordering;

use etherparse::PacketBuilder;

use super::*;
use crate::gateway::tests::{H1, POOL1, SERVER4, gateway, udp_ends4, udp4, udp6, wkp};

/// Feeds `pkt` (behind a plain virtio-net header when `vnet`) to `d`;
/// returns what it wrote.
fn feed(
    d: &mut Driver,
    g: &(Gateway, Policy),
    counters: &Counters,
    rate: u32,
    now: Secs,
    pkt: &[u8],
) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; BUF_LEN];
    let at = d.read_at();
    let n = if d.vnet {
        VnetHdr::default().write(&mut buf[at..at + VNET_HDR_LEN]);
        buf[at + VNET_HDR_LEN..at + VNET_HDR_LEN + pkt.len()].copy_from_slice(pkt);
        VNET_HDR_LEN + pkt.len()
    } else {
        buf[at..at + pkt.len()].copy_from_slice(pkt);
        pkt.len()
    };
    let cx = Context {
        gateway: &g.0,
        policy: &g.1,
        now,
        error_rate: rate,
        counters,
    };
    let mut written = Vec::new();
    let mut out = |b: &[u8]| {
        written.push(b.to_vec());
        Ok(())
    };
    d.received(&cx, &mut buf, n, &mut out);
    written
}

/// Opens a UDP binding H1#5000 → SERVER4#53; returns its pool port.
fn bind(d: &mut Driver, g: &(Gateway, Policy), c: &Counters) -> u16 {
    let mut w = feed(d, g, c, 10, 0, &udp6(H1, wkp(SERVER4), 5000, 53));
    d.flush(c, &mut |b: &[u8]| {
        w.push(b.to_vec());
        Ok(())
    });
    let last = w.last().expect("the translation is written");
    let pkt = if d.vnet {
        &last[VNET_HDR_LEN..]
    } else {
        &last[..]
    };
    udp_ends4(pkt).1
}

#[test]
fn a_translation_is_written_once_and_counted() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, false, false);
    let w = feed(&mut d, &g, &c, 10, 0, &udp6(H1, wkp(SERVER4), 5000, 53));
    assert_eq!(w.len(), 1);
    assert_eq!(w[0][0] >> 4, 4, "IPv4 out");
    assert_eq!(c.packets[Way::Out.index()].load(Ordering::Relaxed), 1);
    assert_eq!(
        d.events().len(),
        1,
        "the binding's creation, for the mapping log"
    );
}

#[test]
fn with_vnet_every_write_has_its_header_in_front() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, true, false);
    let w = feed(&mut d, &g, &c, 10, 0, &udp6(H1, wkp(SERVER4), 5000, 53));
    assert_eq!(w.len(), 1);
    assert_eq!(VnetHdr::read(&w[0]), VnetHdr::default());
    assert_eq!(w[0][VNET_HDR_LEN] >> 4, 4);
}

/// req N13: Port Unreachable for UDP to unbound pool ports (req S3), at
/// most `rate` a second; the rest counted as rate-limited; the next second
/// refills.
#[test]
fn n13_own_errors_are_rate_limited_per_second() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, false, false);
    let mut sent = 0;
    for i in 0..5 {
        sent += feed(&mut d, &g, &c, 2, 1, &udp4(SERVER4, POOL1, 53, 40000 + i)).len();
    }
    assert_eq!(sent, 2);
    assert_eq!(c.own_errors.load(Ordering::Relaxed), 2);
    assert_eq!(c.own_errors_limited.load(Ordering::Relaxed), 3);
    assert_eq!(
        c.drops[DropReason::NoBinding as usize].load(Ordering::Relaxed),
        5
    );
    assert_eq!(
        feed(&mut d, &g, &c, 2, 2, &udp4(SERVER4, POOL1, 53, 40009)).len(),
        1
    );
}

/// req N13 and RFC 7915's required errors: the limiter starts full, so
/// the errors of the very first second after start (the coarse clock at 0)
/// are sent, up to the rate.
#[test]
fn n13_the_error_limiter_starts_full() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, false, false);
    let sent: usize = (0..3)
        .map(|i| feed(&mut d, &g, &c, 2, 0, &udp4(SERVER4, POOL1, 53, 40000 + i)).len())
        .sum();
    assert_eq!(sent, 2);
    assert_eq!(c.own_errors_limited.load(Ordering::Relaxed), 1);
}

/// req N7: a DF-clear IPv4 datagram larger than the IPv6 MTU (1280) leaves
/// as IPv6 fragments, each within the MTU.
#[test]
fn n7_a_large_df_clear_datagram_is_fragmented() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, false, false);
    let port = bind(&mut d, &g, &c);
    let mut big = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL1.octets(), 64)
        .udp(53, port)
        .write(&mut big, &[7u8; 2000])
        .unwrap();
    // Clear DF and redo the header checksum.
    big[6] &= !0x40;
    big[10..12].fill(0);
    let sum = big[..20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    big[10..12].copy_from_slice(&(!((sum & 0xffff) + (sum >> 16)) as u16).to_be_bytes());
    let w = feed(&mut d, &g, &c, 10, 0, &big);
    assert!(w.len() >= 2, "{} pieces", w.len());
    assert!(w.iter().all(|p| p.len() <= 1280 && p[0] >> 4 == 6));
    assert_eq!(c.fragments.load(Ordering::Relaxed), w.len() as u64);
}

/// Datagrams of one flow read in a burst leave as one UDP super-packet
/// when the queue takes them (offload with UDP segmentation), and only
/// when the driver is flushed.
#[test]
fn a_burst_of_one_udp_flow_is_coalesced_until_flushed() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, true, true);
    let port = bind(&mut d, &g, &c);
    let mut written = 0;
    for _ in 0..3 {
        written += feed(&mut d, &g, &c, 10, 0, &udp4(SERVER4, POOL1, 53, port)).len();
    }
    let mut last = Vec::new();
    d.flush(&c, &mut |b: &[u8]| {
        written += 1;
        last = b.to_vec();
        Ok(())
    });
    assert!(written <= 2, "{written} writes");
    assert_eq!(c.coalesced.load(Ordering::Relaxed), 3);
    assert_eq!(VnetHdr::read(&last).gso_type, crate::offload::GSO_UDP_L4);
}

/// A write that fails is counted, and the driver goes on.
#[test]
fn a_failed_write_is_counted() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, false, false);
    let mut buf = vec![0u8; BUF_LEN];
    let pkt = udp6(H1, wkp(SERVER4), 5000, 53);
    buf[START..START + pkt.len()].copy_from_slice(&pkt);
    let cx = Context {
        gateway: &g.0,
        policy: &g.1,
        now: 0,
        error_rate: 10,
        counters: &c,
    };
    d.received(&cx, &mut buf, pkt.len(), &mut |_: &[u8]| {
        Err(std::io::Error::other("full"))
    });
    assert_eq!(c.write_errors.load(Ordering::Relaxed), 1);
}

/// req S4: a held SYN whose time ran out is answered with ICMPv4 Port
/// Unreachable (type 3, code 3) from the translator's own address.
#[test]
fn s4_an_unanswered_held_syn_gets_port_unreachable() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut syn = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL1.octets(), 64)
        .tcp(80, 6000, 1, 1000)
        .syn()
        .write(&mut syn, &[])
        .unwrap();
    let mut w = Vec::new();
    answer_held(&g.0, vec![syn.into()], 0, false, &c, &mut |b: &[u8]| {
        w.push(b.to_vec());
        Ok(())
    });
    assert_eq!(w.len(), 1);
    assert_eq!((w[0][20], w[0][21]), (3, 3));
    assert_eq!(c.own_errors.load(Ordering::Relaxed), 1);
}

/// req S4 with hairpinning (req S8): a SYN from H1 to a pool port no
/// binding holds is held; unanswered, its Port Unreachable goes to H1 as
/// ICMPv6 (translated by nat64d itself, not written to H1's pool address).
#[test]
fn s4_s8_an_unanswered_hairpinned_syn_gets_port_unreachable_as_icmpv6() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut syn6 = Vec::new();
    PacketBuilder::ipv6(H1.octets(), wkp(POOL1).octets(), 64)
        .tcp(5000, 6000, 1, 1000)
        .syn()
        .write(&mut syn6, &[])
        .unwrap();
    // Through the gateway: translated, hairpinned, held.
    let mut buf = vec![0u8; START + syn6.len() + 64];
    buf[START..START + syn6.len()].copy_from_slice(&syn6);
    let mut fx = Effects::default();
    let arrival = Arrival {
        start: START,
        len: syn6.len(),
        off: Offload::default(),
        now: 0,
        ident: 1,
    };
    let (v, w) = g.0.process(&g.1, &mut buf, arrival, &mut fx);
    assert_eq!((v, w), (Verdict::Drop(DropReason::SynHeld), Way::Hairpin));
    let mut held = Vec::new();
    let mut ev = Vec::new();
    for sh in 0..g.0.table.shard_count() {
        g.0.table.sweep(10, sh, &mut ev, &mut held);
    }
    assert_eq!(held.len(), 1);
    let mut w = Vec::new();
    answer_held(&g.0, held, 10, false, &c, &mut |b: &[u8]| {
        w.push(b.to_vec());
        Ok(())
    });
    assert_eq!(w.len(), 1);
    assert_eq!(w[0][0] >> 4, 6, "IPv6");
    assert_eq!(&w[0][24..40], &H1.octets());
    assert_eq!((w[0][40], w[0][41]), (1, 4), "Port Unreachable");
}

/// The counters add up: every packet read (and every segment cut from a
/// super-packet) ends as forwarded, answered, dropped (by reason), cut, or
/// is a fragment held now: `read + segments = forwarded + answered +
/// dropped + cut + held now`. Held fragments are not drops: when their
/// first comes they are processed again; when it does not they are counted
/// as `fragment_timeout`.
#[test]
fn the_counters_add_up() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, false, false);
    let port = bind(&mut d, &g, &c);
    let sum = |a: &[std::sync::atomic::AtomicU64]| -> u64 {
        a.iter().map(|x| x.load(Ordering::Relaxed)).sum()
    };
    let check = |what: &str| {
        let read = sum(&c.read);
        let segments = c.segments.load(Ordering::Relaxed);
        let out = sum(&c.forwarded)
            + c.answered.load(Ordering::Relaxed)
            + sum(&c.drops)
            + c.gso_cut.load(Ordering::Relaxed)
            + g.0.fragments_held() as u64;
        assert_eq!(read + segments, out, "after {what}");
    };
    check("a binding");
    // Garbage, a packet outside the prefix, one to a refused destination,
    // one with hop limit 1 (answered with Time Exceeded).
    feed(&mut d, &g, &c, 10, 1, &[0x60, 1, 2]);
    feed(&mut d, &g, &c, 10, 1, &[0x45; 40]);
    feed(
        &mut d,
        &g,
        &c,
        10,
        1,
        &udp6(H1, "2001:db8:9::1".parse().unwrap(), 1, 2),
    );
    feed(
        &mut d,
        &g,
        &c,
        10,
        1,
        &udp6(H1, wkp("127.0.0.1".parse().unwrap()), 1, 2),
    );
    let mut ttl1 = Vec::new();
    PacketBuilder::ipv6(H1.octets(), wkp(SERVER4).octets(), 1)
        .udp(5000, 53)
        .write(&mut ttl1, b"x")
        .unwrap();
    feed(&mut d, &g, &c, 10, 1, &ttl1);
    check("garbage, refusals, an answered packet");
    assert_eq!(c.answered.load(Ordering::Relaxed), 1);
    // An IPv4 datagram in two fragments, the second first: held, then
    // released by the first and translated.
    let mut big = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL1.octets(), 64)
        .udp(53, port)
        .write(&mut big, &[9u8; 1000])
        .unwrap();
    let total = big.len();
    let fix = |p: &mut Vec<u8>, more: bool, off: u16| {
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p[6..8].copy_from_slice(&((u16::from(more) << 13) | off).to_be_bytes());
        p[10..12].fill(0);
        let s: u32 = p[..20]
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        let s = (s & 0xffff) + (s >> 16);
        p[10..12].copy_from_slice(&(!((s & 0xffff) + (s >> 16)) as u16).to_be_bytes());
    };
    let (first, second) = {
        let mut f1 = big[..20 + 512].to_vec();
        let mut f2 = [&big[..20], &big[20 + 512..]].concat();
        fix(&mut f1, true, 0);
        fix(&mut f2, false, 512 / 8);
        (f1, f2)
    };
    assert!(total > 532);
    feed(&mut d, &g, &c, 10, 2, &second);
    assert_eq!(g.0.fragments_held(), 1);
    check("a held fragment");
    feed(&mut d, &g, &c, 10, 2, &first);
    assert_eq!(g.0.fragments_held(), 0);
    assert_eq!(c.released.load(Ordering::Relaxed), 1);
    check("its release");
    // A fragment whose first never comes: expired, counted as a drop.
    let mut orphan = [&second[..4], &[0x12, 0x34], &second[6..]].concat();
    fix(&mut orphan, false, 512 / 8);
    feed(&mut d, &g, &c, 10, 3, &orphan);
    assert_eq!(g.0.fragments_held(), 1);
    let lost = g.0.expire_fragments(3 + crate::gateway::FRAG_TIMEOUT + 1);
    assert_eq!(lost, 1);
    c.drop_n(DropReason::FragmentTimeout, lost as u64);
    check("an expired fragment");
}

/// The kernel's own link-scope packets into the TUN (a router solicitation
/// from a link-local source, an MLD report to a multicast group) are
/// ignored, counted apart, never drops.
#[test]
fn link_scope_packets_from_the_kernel_are_ignored_not_dropped() {
    let g = gateway(true, vec![]);
    let c = Counters::default();
    let mut d = Driver::new(0, false, false);
    let ll: Ipv6Addr = "fe80::1".parse().unwrap();
    let mut rs = Vec::new();
    PacketBuilder::ipv6(
        ll.octets(),
        "ff02::2".parse::<Ipv6Addr>().unwrap().octets(),
        255,
    )
    .icmpv6(etherparse::Icmpv6Type::Unknown {
        type_u8: 133,
        code_u8: 0,
        bytes5to8: [0; 4],
    })
    .write(&mut rs, &[])
    .unwrap();
    let mut mld = Vec::new();
    PacketBuilder::ipv6([0; 16], "ff02::16".parse::<Ipv6Addr>().unwrap().octets(), 1)
        .icmpv6(etherparse::Icmpv6Type::Unknown {
            type_u8: 143,
            code_u8: 0,
            bytes5to8: [0; 4],
        })
        .write(&mut mld, &[])
        .unwrap();
    for p in [rs, mld] {
        assert!(feed(&mut d, &g, &c, 10, 0, &p).is_empty());
    }
    assert_eq!(c.ignored.load(Ordering::Relaxed), 2);
    let drops: u64 = c.drops.iter().map(|x| x.load(Ordering::Relaxed)).sum();
    assert_eq!(drops, 0);
}
