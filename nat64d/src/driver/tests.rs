//! The driver without a TUN: packets in through `received`, the bytes it
//! would write collected from its `Egress`, the counters read back.

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
    answer_held(&g.0, vec![syn.into()], false, &c, &mut |b: &[u8]| {
        w.push(b.to_vec());
        Ok(())
    });
    assert_eq!(w.len(), 1);
    assert_eq!((w[0][20], w[0][21]), (3, 3));
    assert_eq!(c.own_errors.load(Ordering::Relaxed), 1);
}
