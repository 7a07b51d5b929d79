//! Translation tests, named after the requirement ids of docs/requirements.md they check. Inputs are
//! built with etherparse (an independent implementation) and every packet
//! the translator emits is parsed back with it and its checksums checked.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice, UdpHeader};
use proptest::prelude::*;

use super::*;
use crate::stats::DropReason;

const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xcb00, 0x710a); // 64:ff9b::203.0.113.10
const SERVER4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const POOL4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const OWN6: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0201);
const OWN4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn cfg() -> Config {
    Config {
        own_v4: OWN4,
        own_v6: OWN6,
        ..Config::default()
    }
}

/// The mapping the state layer would choose for client:40000 → server:443.
const OUT: Map4 = Map4 {
    src: POOL4,
    src_port: 61001,
    dst: SERVER4,
    dst_port: 443,
};
/// The reverse mapping, for replies.
const BACK: Map6 = Map6 {
    src: SERVER6,
    src_port: 443,
    dst: CLIENT6,
    dst_port: 40000,
};

/// A buffer holding `pkt` after [`HEADROOM`] bytes.
fn buffer(pkt: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; HEADROOM + pkt.len()];
    buf[HEADROOM..].copy_from_slice(pkt);
    buf
}

fn udp6(payload: &[u8], hop: u8) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(CLIENT6.octets(), SERVER6.octets(), hop)
        .udp(40000, 443)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn tcp6(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(CLIENT6.octets(), SERVER6.octets(), 64)
        .tcp(40000, 443, 1_000_000, 64240)
        .syn()
        .write(&mut out, payload)
        .unwrap();
    out
}

fn echo6(id: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(CLIENT6.octets(), SERVER6.octets(), 64)
        .icmpv6_echo_request(id, 7)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn udp4(payload: &[u8], ttl: u8) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), ttl)
        .udp(443, 61001)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn tcp4(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), 64)
        .tcp(443, 61001, 7, 65535)
        .ack(1_000_001)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// Fixes the IPv4 header checksum after a test edited the header.
fn fix_ipv4_checksum(pkt: &mut [u8]) {
    let ihl = usize::from(pkt[0] & 0xf) * 4;
    pkt[10] = 0;
    pkt[11] = 0;
    let c = crate::wire::checksum::finish(crate::wire::checksum::sum(&pkt[..ihl]));
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
}

/// The independent check: etherparse parses `pkt` and every checksum in it
/// is what etherparse computes.
pub(crate) fn oracle(pkt: &[u8]) -> SlicedPacket<'_> {
    let s = SlicedPacket::from_ip(pkt).expect("etherparse parses the output");
    let (src4, dst4, src6, dst6) = match &s.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header().to_header();
            assert_eq!(
                h.header_checksum,
                h.calc_header_checksum(),
                "IPv4 header checksum"
            );
            (Some(h.source), Some(h.destination), None, None)
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            (None, None, Some(h.source()), Some(h.destination()))
        }
        other => panic!("not IP: {other:?}"),
    };
    match (&s.transport, src4, dst4, src6, dst6) {
        (Some(TransportSlice::Tcp(t)), Some(a), Some(b), _, _) => {
            assert_eq!(
                t.checksum(),
                t.calc_checksum_ipv4(a, b).unwrap(),
                "TCP/IPv4 checksum"
            );
        }
        (Some(TransportSlice::Tcp(t)), _, _, Some(a), Some(b)) => {
            assert_eq!(
                t.checksum(),
                t.calc_checksum_ipv6(a, b).unwrap(),
                "TCP/IPv6 checksum"
            );
        }
        (Some(TransportSlice::Udp(u)), Some(a), Some(b), _, _) => {
            let h = UdpHeader::from_slice(u.slice()).unwrap().0;
            assert_eq!(
                h.checksum,
                h.calc_checksum_ipv4_raw(a, b, u.payload()).unwrap(),
                "UDP/IPv4 checksum"
            );
        }
        (Some(TransportSlice::Udp(u)), _, _, Some(a), Some(b)) => {
            let h = UdpHeader::from_slice(u.slice()).unwrap().0;
            assert_eq!(
                h.checksum,
                h.calc_checksum_ipv6_raw(a, b, u.payload()).unwrap(),
                "UDP/IPv6 checksum"
            );
        }
        (Some(TransportSlice::Icmpv4(i)), ..) => {
            assert_eq!(
                i.checksum(),
                i.icmp_type().calc_checksum(i.payload()),
                "ICMPv4 checksum"
            );
        }
        (Some(TransportSlice::Icmpv6(i)), _, _, Some(a), Some(b)) => {
            assert!(i.is_checksum_valid(a, b), "ICMPv6 checksum");
        }
        (None, ..) => {}
        (other, ..) => panic!("unexpected transport {other:?}"),
    }
    s
}

fn forward(out: Verdict) -> (usize, usize) {
    match out {
        Verdict::Forward { start, len } => (start, len),
        _ => panic!("expected a translation, got {out:?}"),
    }
}

fn reply(out: Verdict) -> (usize, usize) {
    match out {
        Verdict::Reply { start, len } => (start, len),
        _ => panic!("expected a reply, got {out:?}"),
    }
}

fn to_fragment(out: Verdict) -> (usize, usize, u16) {
    match out {
        Verdict::Fragment { start, len, mtu } => (start, len, mtu),
        _ => panic!("expected a packet to fragment, got {out:?}"),
    }
}

/// Where any output lies in the buffer.
fn span(out: Verdict) -> (usize, usize) {
    match out {
        Verdict::Forward { start, len }
        | Verdict::Reply { start, len }
        | Verdict::Fragment { start, len, .. }
        | Verdict::Segment { start, len }
        | Verdict::Refuse { start, len, .. } => (start, len),
        Verdict::Drop(r) => panic!("no output: {r:?}"),
        Verdict::Held => panic!("no output: held"),
        Verdict::Ignored => panic!("no output: ignored"),
    }
}

/// Cuts `pkt` with [`Fragments`] to `mtu`, checks every fragment with
/// etherparse (size, IPv4 header checksum), and reassembles them with
/// etherparse's own defragmenter. Returns the fragments and the reassembled
/// transport datagram, whose checksum is checked too.
fn cut_and_reassemble(pkt: &[u8], mtu: u16) -> (Vec<Vec<u8>>, Vec<u8>) {
    use etherparse::defrag::IpDefragPool;
    let mut cut = Fragments::new(pkt, mtu).unwrap();
    let count = cut.count();
    let mut frags = Vec::new();
    let mut out = vec![0u8; 9000];
    while let Some(f) = cut.next_into(&mut out) {
        assert!(
            f.len() <= usize::from(mtu),
            "fragment of {} > MTU {mtu}",
            f.len()
        );
        frags.push(f.to_vec());
        assert!(frags.len() <= count, "more fragments than announced");
    }
    assert_eq!(frags.len(), count);
    assert!(count >= 2, "a packet over the MTU is cut in two or more");
    let mut pool = IpDefragPool::<(), ()>::new();
    let mut whole = None;
    for f in &frags {
        let s = oracle(f);
        if let Some(p) = pool.process_sliced_packet(&s, (), ()).unwrap() {
            assert!(whole.is_none(), "reassembled twice");
            whole = Some(p.payload);
        }
    }
    let whole = whole.expect("etherparse reassembles the fragments");
    let ok = match (
        &SlicedPacket::from_ip(&frags[0]).unwrap().net,
        pkt_proto(pkt),
    ) {
        (Some(NetSlice::Ipv4(ip)), 17) => {
            let h = ip.header();
            let (u, data) = UdpHeader::from_slice(&whole).unwrap();
            u.checksum
                == u.calc_checksum_ipv4_raw(h.source(), h.destination(), data)
                    .unwrap()
        }
        (Some(NetSlice::Ipv6(ip)), 17) => {
            let h = ip.header();
            let (u, data) = UdpHeader::from_slice(&whole).unwrap();
            u.checksum
                == u.calc_checksum_ipv6_raw(h.source(), h.destination(), data)
                    .unwrap()
        }
        (Some(NetSlice::Ipv4(ip)), 6) => {
            let h = ip.header();
            let (t, data) = etherparse::TcpHeader::from_slice(&whole).unwrap();
            t.checksum
                == t.calc_checksum_ipv4_raw(h.source(), h.destination(), data)
                    .unwrap()
        }
        (Some(NetSlice::Ipv6(ip)), 6) => {
            let h = ip.header();
            let (t, data) = etherparse::TcpHeader::from_slice(&whole).unwrap();
            t.checksum
                == t.calc_checksum_ipv6_raw(h.source(), h.destination(), data)
                    .unwrap()
        }
        (Some(NetSlice::Ipv4(_)), 1) => {
            crate::wire::checksum::finish(crate::wire::checksum::sum(&whole)) == 0
        }
        (Some(NetSlice::Ipv6(ip)), 58) => {
            let h = ip.header();
            let len = u32::try_from(whole.len()).unwrap();
            let ph =
                crate::wire::checksum::pseudo_v6(h.source_addr(), h.destination_addr(), 58, len);
            crate::wire::checksum::finish(ph + crate::wire::checksum::sum(&whole)) == 0
        }
        other => panic!("unexpected {other:?}"),
    };
    assert!(ok, "checksum of the reassembled datagram");
    (frags, whole)
}

/// The transport protocol of a translated packet (after a Fragment header).
fn pkt_proto(pkt: &[u8]) -> u8 {
    match pkt[0] >> 4 {
        4 => pkt[9],
        _ if pkt[6] == 44 => pkt[40],
        _ => pkt[6],
    }
}

fn run6(pkt: &[u8], map: &Map4, cfg: &Config) -> Result<(Vec<u8>, Verdict), DropReason> {
    let mut buf = buffer(pkt);
    let flow = inspect6(&buf[HEADROOM..])?;
    let out = translate6(&mut buf, HEADROOM, &flow, map, cfg, 0x4242)?;
    Ok((buf, out))
}

fn run4(pkt: &[u8], map: &Map6, cfg: &Config) -> Result<(Vec<u8>, Verdict), DropReason> {
    let mut buf = buffer(pkt);
    let flow = inspect4(&buf[HEADROOM..])?;
    let out = translate4(&mut buf, HEADROOM, &flow, map, cfg, 0x4242)?;
    Ok((buf, out))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// version/IHL 45, TOS b8, total length 0x0021, ID 4242, flags 0, TTL 3f,
/// protocol 11, header checksum, 198.51.100.1, 203.0.113.10; UDP 61001 →
/// 443, length 000d, checksum, "hello".
const N1_UDP_FIXTURE: &str = "45b80021424200003f11d292c6336401cb00710aee4901bb000d65bd68656c6c6f";

#[test]
fn n1_udp_6to4_fixture() {
    let mut pkt = udp6(b"hello", 64);
    pkt[0] = 0x6b; // Traffic Class 0xb8 (EF), carried into the TOS.
    pkt[1] = 0x80;
    let (buf, out) = run6(&pkt, &OUT, &cfg()).unwrap();
    let (start, len) = forward(out);
    let v4 = &buf[start..start + len];
    // version/IHL 45, TOS b8, total 33, ID 4242, DF clear, TTL 63, UDP,
    // checksum, 198.51.100.1 → 203.0.113.10; UDP 61001 → 443, length 13.
    assert_eq!(hex(v4), N1_UDP_FIXTURE);
    let s = oracle(v4);
    let Some(NetSlice::Ipv4(ip)) = s.net else {
        panic!()
    };
    assert_eq!(ip.header().slice()[1], 0xb8);
}

#[test]
fn n1_zero_tos_option() {
    let mut pkt = udp6(b"x", 64);
    pkt[0] = 0x6b;
    pkt[1] = 0x80;
    let c = Config {
        zero_tos: true,
        ..cfg()
    };
    let (buf, out) = run6(&pkt, &OUT, &c).unwrap();
    let (start, _) = forward(out);
    assert_eq!(buf[start + 1], 0);
}

#[test]
fn n1_extension_headers_skipped() {
    // Hop-by-Hop + Destination Options in front of UDP.
    let inner = udp6(b"ext", 64);
    let mut pkt = inner[..40].to_vec();
    pkt[6] = 0; // Hop-by-Hop
    pkt.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    pkt.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
    pkt.extend_from_slice(&inner[40..]);
    let plen = u16::try_from(pkt.len() - 40).unwrap();
    pkt[4..6].copy_from_slice(&plen.to_be_bytes());
    let (buf, out) = run6(&pkt, &OUT, &cfg()).unwrap();
    let (start, len) = forward(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Udp(u)) = s.transport else {
        panic!("no UDP")
    };
    assert_eq!(u.payload(), b"ext");
}

#[test]
fn n1_routing_segments_left_gets_parameter_problem() {
    let inner = udp6(b"rt", 64);
    let mut pkt = inner[..40].to_vec();
    pkt[6] = 43;
    pkt.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 0]); // Segments Left 1
    pkt.extend_from_slice(&inner[40..]);
    let plen = u16::try_from(pkt.len() - 40).unwrap();
    pkt[4..6].copy_from_slice(&plen.to_be_bytes());
    let (buf, out) = run6(&pkt, &OUT, &cfg()).unwrap();
    let (start, len) = reply(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv6(i)) = s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), i.code_u8()), (4, 0));
    assert_eq!(
        u32::from_be_bytes(i.bytes5to8()),
        43,
        "pointer to Segments Left"
    );
}

#[test]
fn n2_df_and_ident() {
    let (buf, out) = run6(&udp6(&[0; 100], 64), &OUT, &cfg()).unwrap();
    let (start, _) = forward(out);
    assert_eq!(buf[start + 6] & 0x40, 0, "small packet: DF clear");
    assert_eq!(
        &buf[start + 4..start + 6],
        &[0x42, 0x42],
        "ID from the generator"
    );
    let (buf, out) = run6(&udp6(&[0; 1300], 64), &OUT, &cfg()).unwrap();
    let (start, len) = forward(out);
    assert_eq!(len, 1328);
    assert_eq!(buf[start + 6] & 0x40, 0x40, "above 1260: DF set");
}

#[test]
fn n2_fragment_header_to_ipv4_fields() {
    // First fragment of a UDP datagram: Fragment header, M=1, ID 0x1234abcd.
    let inner = udp6(&[7; 40], 64);
    let mut pkt = inner[..40].to_vec();
    pkt[6] = 44;
    pkt.extend_from_slice(&[17, 0, 0, 1, 0x12, 0x34, 0xab, 0xcd]);
    pkt.extend_from_slice(&inner[40..72]); // 8-byte UDP header + 24 bytes
    let plen = u16::try_from(pkt.len() - 40).unwrap();
    pkt[4..6].copy_from_slice(&plen.to_be_bytes());
    let (buf, out) = run6(&pkt, &OUT, &cfg()).unwrap();
    let (start, len) = forward(out);
    let v4 = &buf[start..start + len];
    assert_eq!(
        &v4[4..6],
        &[0xab, 0xcd],
        "ID = low 16 bits of the fragment ID"
    );
    assert_eq!(&v4[6..8], &[0x20, 0x00], "MF set, DF clear, offset 0");
    assert_eq!(len, 20 + 32);
    oracle(v4);
}

#[test]
fn n3_hop_limit_1_gets_time_exceeded() {
    let pkt = udp6(b"ttl", 1);
    let (buf, out) = run6(&pkt, &OUT, &cfg()).unwrap();
    let (start, len) = reply(out);
    let err = &buf[start..start + len];
    let s = oracle(err);
    let Some(NetSlice::Ipv6(ip)) = &s.net else {
        panic!()
    };
    assert_eq!(ip.header().source_addr(), OWN6);
    assert_eq!(ip.header().destination_addr(), CLIENT6);
    let Some(TransportSlice::Icmpv6(i)) = s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), i.code_u8()), (3, 0));
    assert_eq!(&err[48..], &pkt[..], "the whole offending packet is quoted");
}

#[test]
fn n4_packet_too_big() {
    let c = Config {
        ipv4_mtu: 1400,
        ..cfg()
    };
    let pkt = udp6(&[0; 1452], 64); // 1500 bytes of IPv6 → 1480 of IPv4
    let (buf, out) = run6(&pkt, &OUT, &c).unwrap();
    let (start, len) = reply(out);
    assert_eq!(len, 1280, "ICMPv6 error cut to 1280 bytes");
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv6(i)) = s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), u32::from_be_bytes(i.bytes5to8())), (2, 1420));
    let c = Config {
        ipv4_mtu: 1000,
        ..cfg()
    };
    let (buf, out) = run6(&pkt, &OUT, &c).unwrap();
    let (start, len) = reply(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv6(i)) = s.transport else {
        panic!()
    };
    assert_eq!(u32::from_be_bytes(i.bytes5to8()), 1280, "never below 1280");
}

#[test]
fn n4_df_clear_is_fragmented() {
    // 1048 bytes of IPv6 → 1028 of IPv4: at most 1260, so DF clear (N2),
    // and the IPv4 MTU is 576.
    let c = Config {
        ipv4_mtu: 576,
        ..cfg()
    };
    let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let (buf, out) = run6(&udp6(&payload, 64), &OUT, &c).unwrap();
    let (start, len, mtu) = to_fragment(out);
    assert_eq!((len, mtu), (1028, 576));
    let (frags, whole) = cut_and_reassemble(&buf[start..start + len], mtu);
    // 556 payload bytes fit 576 − 20, cut to 552 (a multiple of 8).
    let sizes: Vec<usize> = frags.iter().map(Vec::len).collect();
    assert_eq!(sizes, [572, 476]);
    for (i, f) in frags.iter().enumerate() {
        assert_eq!(&f[4..6], &[0x42, 0x42], "every fragment has the ID");
        let field = u16::from_be_bytes([f[6], f[7]]);
        let more = i + 1 < frags.len();
        assert_eq!(
            field,
            (u16::from(more) << 13) | (i as u16 * 69),
            "fragment {i}"
        );
    }
    assert_eq!(&whole[8..], &payload[..]);
}

/// RFC 7915 §5.1 on an IPv4 link of the smallest MTU (68, RFC 791): an
/// IPv6 packet of 1280 bytes, which its sender cannot be asked to shrink,
/// leaves with DF clear in fragments of at most 68 bytes; a larger one gets
/// Packet Too Big 1280, never less.
#[test]
fn rfc7915_5_1_an_ipv4_mtu_below_1280_fragments_and_never_asks_below_1280() {
    let c = Config {
        ipv4_mtu: 68,
        ..cfg()
    };
    let payload: Vec<u8> = (0..1232u32).map(|i| (i * 7) as u8).collect();
    let pkt = udp6(&payload, 64);
    assert_eq!(pkt.len(), 1280);
    let (buf, out) = run6(&pkt, &OUT, &c).unwrap();
    let (start, len, mtu) = to_fragment(out);
    assert_eq!((len, mtu), (1260, 68));
    let (frags, whole) = cut_and_reassemble(&buf[start..start + len], mtu);
    assert!(
        frags.iter().all(|f| f.len() <= 68),
        "every fragment fits 68"
    );
    assert_eq!(frags.len(), 1240_usize.div_ceil(48));
    assert_eq!(&whole[8..], &payload[..]);
    let big = udp6(&[0; 1300], 64);
    let (buf, out) = run6(&big, &OUT, &c).unwrap();
    let (start, len) = reply(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv6(i)) = s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), u32::from_be_bytes(i.bytes5to8())), (2, 1280));
}

#[test]
fn n4_fragment_cut_again_keeps_offset_and_more() {
    // An IPv6 fragment at offset 800 bytes (100 units) with M=1, 600 bytes
    // of UDP data, through a 300-byte IPv4 MTU.
    let c = Config {
        ipv4_mtu: 300,
        ..cfg()
    };
    let mut pkt = CLIENT6_HEADER.to_vec();
    pkt[6] = 44;
    pkt.extend_from_slice(&[17, 0, 0x03, 0x21, 0, 0, 0x77, 0x77]);
    pkt.extend(std::iter::repeat_n(0x5a, 600));
    let plen = u16::try_from(pkt.len() - 40).unwrap();
    pkt[4..6].copy_from_slice(&plen.to_be_bytes());
    let (buf, out) = run6(&pkt, &OUT, &c).unwrap();
    let (start, len, mtu) = to_fragment(out);
    let mut cut = Fragments::new(&buf[start..start + len], mtu).unwrap();
    let mut out = [0u8; 300];
    let mut fields = Vec::new();
    while let Some(f) = cut.next_into(&mut out) {
        oracle(f);
        assert_eq!(&f[4..6], &[0x77, 0x77]);
        fields.push((u16::from_be_bytes([f[6], f[7]]), f.len()));
    }
    // 280 bytes per fragment: offsets 100, 135, 170 units, MF on all.
    assert_eq!(
        fields,
        [(0x2000 | 100, 300), (0x2000 | 135, 300), (0x2000 | 170, 60)]
    );
}

#[test]
fn n5_tcp_4to6() {
    let mut pkt = tcp4(b"GET /");
    pkt[1] = 0x28; // TOS
    fix_ipv4_checksum(&mut pkt);
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len) = forward(out);
    let s = oracle(&buf[start..start + len]);
    let Some(NetSlice::Ipv6(ip)) = &s.net else {
        panic!()
    };
    let h = ip.header();
    assert_eq!(
        (
            h.traffic_class(),
            h.flow_label().value(),
            h.hop_limit(),
            h.next_header().0
        ),
        (0x28, 0, 63, 6)
    );
    assert_eq!((h.source_addr(), h.destination_addr()), (SERVER6, CLIENT6));
    let Some(TransportSlice::Tcp(t)) = s.transport else {
        panic!()
    };
    assert_eq!(
        (t.source_port(), t.destination_port(), t.payload()),
        (443, 40000, &b"GET /"[..])
    );
}

#[test]
fn n5_options_skipped_and_source_route_refused() {
    // A Record Route option (7) is ignored.
    let base = udp4(b"opt", 64);
    let with_opt = |opt: [u8; 8]| {
        let mut p = Vec::new();
        p.extend_from_slice(&base[..20]);
        p.extend_from_slice(&opt);
        p.extend_from_slice(&base[20..]);
        p[0] = 0x47;
        let total = u16::try_from(p.len()).unwrap();
        p[2..4].copy_from_slice(&total.to_be_bytes());
        fix_ipv4_checksum(&mut p);
        p
    };
    let (buf, out) = run4(&with_opt([7, 7, 4, 0, 0, 0, 0, 0]), &BACK, &cfg()).unwrap();
    let (start, len) = forward(out);
    assert_eq!(len, 40 + 8 + 3);
    oracle(&buf[start..start + len]);
    // An unexpired Loose Source Route (pointer 4 ≤ length 7).
    let pkt = with_opt([131, 7, 4, 192, 0, 2, 9, 1]);
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len) = reply(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv4(i)) = s.transport else {
        panic!()
    };
    assert_eq!(
        (i.type_u8(), i.code_u8()),
        (3, 5),
        "Source Route Failed (RFC 7915 §4.1)"
    );
    // An expired one (pointer 8 > length 7) is ignored.
    let (_, out) = run4(&with_opt([131, 7, 8, 192, 0, 2, 9, 1]), &BACK, &cfg()).unwrap();
    forward(out);
}

#[test]
fn n6_ttl_1_gets_time_exceeded() {
    let pkt = udp4(b"ttl", 1);
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len) = reply(out);
    let s = oracle(&buf[start..start + len]);
    let Some(NetSlice::Ipv4(ip)) = &s.net else {
        panic!()
    };
    assert_eq!(
        (ip.header().source_addr(), ip.header().destination_addr()),
        (OWN4, SERVER4)
    );
    let Some(TransportSlice::Icmpv4(i)) = s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), i.code_u8()), (11, 0));
}

#[test]
fn n7_fragment_gets_fragment_header() {
    let mut pkt = udp4(&[1; 32], 64);
    pkt[4..6].copy_from_slice(&0xbeefu16.to_be_bytes());
    pkt[6] = 0x20; // MF
    fix_ipv4_checksum(&mut pkt);
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len) = forward(out);
    let v6 = &buf[start..start + len];
    assert_eq!(v6[6], 44, "Fragment header");
    assert_eq!(&v6[40..48], &[17, 0, 0, 1, 0, 0, 0xbe, 0xef]);
    oracle(v6);
}

#[test]
fn n7_df_set_too_big_gets_fragmentation_needed() {
    let mut pkt = udp4(&[0; 1400], 64);
    pkt[6] = 0x40;
    fix_ipv4_checksum(&mut pkt);
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len) = reply(out);
    assert_eq!(len, 576, "ICMPv4 error cut to 576 bytes");
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv4(i)) = s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), i.code_u8()), (3, 4));
    assert_eq!(
        u16::from_be_bytes([i.bytes5to8()[2], i.bytes5to8()[3]]),
        1260
    );
}

#[test]
fn n7_df_clear_too_big_is_fragmented() {
    // 1500 bytes of IPv4, DF clear, ID 0xbeef → IPv6 fragments of at most
    // 1280 bytes with Fragment header ID 0xbeef.
    let payload: Vec<u8> = (0..1472u32).map(|i| (i * 7) as u8).collect();
    let mut pkt = udp4(&payload, 64);
    pkt[4..6].copy_from_slice(&0xbeefu16.to_be_bytes());
    pkt[6] = 0; // etherparse sets DF
    fix_ipv4_checksum(&mut pkt);
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len, mtu) = to_fragment(out);
    assert_eq!((len, mtu), (40 + 8 + 1480, 1280));
    let (frags, whole) = cut_and_reassemble(&buf[start..start + len], mtu);
    let sizes: Vec<usize> = frags.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1280, 48 + 1480 - 1232]);
    assert_eq!(&frags[0][40..48], &[17, 0, 0, 1, 0, 0, 0xbe, 0xef]);
    assert_eq!(&frags[1][40..48], &[17, 0, 0x04, 0xd0, 0, 0, 0xbe, 0xef]);
    assert_eq!(&whole[8..], &payload[..]);
    // The zero-checksum rule (N8) computes over the whole datagram first.
    let mut pkt = udp4(&payload, 64);
    pkt[26..28].fill(0);
    pkt[6] = 0;
    fix_ipv4_checksum(&mut pkt);
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len, mtu) = to_fragment(out);
    cut_and_reassemble(&buf[start..start + len], mtu);
}

#[test]
fn n7_fragment_too_big_is_cut_again() {
    // A non-final IPv4 fragment at offset 1480 whose translation exceeds
    // the IPv6 MTU: offsets continue from 1480, M stays set throughout.
    let mut pkt = udp4(&[3; 1472], 64);
    pkt[6..8].copy_from_slice(&(0x2000u16 | 185).to_be_bytes());
    fix_ipv4_checksum(&mut pkt);
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len, mtu) = to_fragment(out);
    let mut cut = Fragments::new(&buf[start..start + len], mtu).unwrap();
    let mut out = vec![0u8; 2000];
    let mut fields = Vec::new();
    while let Some(f) = cut.next_into(&mut out) {
        oracle(f);
        fields.push(u16::from_be_bytes([f[42], f[43]]));
    }
    assert_eq!(fields, [(185 << 3) | 1, ((185 + 154) << 3) | 1]);
}

#[test]
fn fragments_refuse_a_useless_mtu_and_bad_input() {
    let pkt = udp4(&[0; 100], 64);
    assert_eq!(
        Fragments::new(&pkt, 24).unwrap_err(),
        DropReason::MtuTooSmall
    );
    assert_eq!(
        Fragments::new(&[], 1280).unwrap_err(),
        DropReason::TruncatedHeader
    );
    assert_eq!(
        Fragments::new(&udp6(b"x", 64), 1280).unwrap_err(),
        DropReason::TruncatedHeader,
        "IPv6 without a Fragment header"
    );
    // A buffer too small for headers + 8 bytes gets nothing, not a panic.
    let mut cut = Fragments::new(&pkt, 68).unwrap();
    assert!(cut.next_into(&mut [0u8; 27]).is_none());
}

#[test]
fn n8_udp_zero_checksum() {
    let mut pkt = udp4(b"no checksum", 64);
    pkt[26] = 0;
    pkt[27] = 0;
    let (buf, out) = run4(&pkt, &BACK, &cfg()).unwrap();
    let (start, len) = forward(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Udp(u)) = s.transport else {
        panic!()
    };
    assert_ne!(u.checksum(), 0, "a real checksum was computed");
    // The same as a fragment: dropped.
    pkt[6] = 0x20;
    fix_ipv4_checksum(&mut pkt);
    assert_eq!(
        run4(&pkt, &BACK, &cfg()).unwrap_err(),
        DropReason::Udp4ZeroChecksumFragment
    );
}

#[test]
fn n9_bad_checksum_stays_bad() {
    let mut pkt = tcp6(b"payload");
    let last = pkt.len() - 1;
    pkt[last] ^= 0xff; // corrupt the payload: the TCP checksum is now wrong
    let (buf, out) = run6(&pkt, &OUT, &cfg()).unwrap();
    let (start, len) = forward(out);
    let s = SlicedPacket::from_ip(&buf[start..start + len]).unwrap();
    let Some(TransportSlice::Tcp(t)) = s.transport else {
        panic!()
    };
    assert_ne!(
        t.checksum(),
        t.calc_checksum_ipv4(POOL4.octets(), SERVER4.octets())
            .unwrap()
    );
}

#[test]
fn n10_echo_both_ways() {
    let (buf, out) = run6(
        &echo6(0x1111, b"ping"),
        &Map4 {
            src_port: 0x2222,
            ..OUT
        },
        &cfg(),
    )
    .unwrap();
    let (start, len) = forward(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv4(i)) = s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), &i.bytes5to8()[..2]), (8, &[0x22, 0x22][..]));
    // The reply comes back from IPv4 and goes to the IPv6 host's identifier.
    let mut reply4 = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), 64)
        .icmpv4_echo_reply(0x2222, 7)
        .write(&mut reply4, b"ping")
        .unwrap();
    let (buf, out) = run4(
        &reply4,
        &Map6 {
            dst_port: 0x1111,
            ..BACK
        },
        &cfg(),
    )
    .unwrap();
    let (start, len) = forward(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv6(i)) = s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), &i.bytes5to8()[..2]), (129, &[0x11, 0x11][..]));
}

#[test]
fn n10_informational_dropped() {
    let mut pkt = echo6(1, b"");
    pkt[40] = 135; // Neighbor Solicitation
    assert_eq!(inspect6(&pkt).unwrap_err(), DropReason::IcmpInformational);
    let mut pkt = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), 64)
        .icmpv4_raw(13, 0, [0; 4]) // Timestamp
        .write(&mut pkt, &[0; 12])
        .unwrap();
    assert_eq!(inspect4(&pkt).unwrap_err(), DropReason::IcmpInformational);
}

#[test]
fn malformed_inputs_refused_with_reasons() {
    let good = udp6(b"abc", 64);
    // Payload length that lies.
    let mut p = good.clone();
    p[5] += 1;
    assert_eq!(inspect6(&p).unwrap_err(), DropReason::BadTotalLength);
    // UDP length that lies.
    let mut p = good.clone();
    p[45] += 1;
    assert_eq!(inspect6(&p).unwrap_err(), DropReason::TruncatedTransport);
    // UDP zero checksum in IPv6.
    let mut p = good.clone();
    p[46] = 0;
    p[47] = 0;
    assert_eq!(inspect6(&p).unwrap_err(), DropReason::Udp6ZeroChecksum);
    // TCP data offset beyond the segment.
    let mut p = tcp6(b"");
    p[52] = 0xf0;
    assert_eq!(inspect6(&p).unwrap_err(), DropReason::TruncatedTransport);
    // Bad IPv4 header checksum.
    let mut p = udp4(b"abc", 64);
    p[10] ^= 1;
    assert_eq!(inspect4(&p).unwrap_err(), DropReason::BadIpv4Checksum);
    // Unsupported protocol (GRE).
    let mut p = udp4(b"abc", 64);
    p[9] = 47;
    fix_ipv4_checksum(&mut p);
    assert_eq!(inspect4(&p).unwrap_err(), DropReason::UnsupportedProtocol);
}

#[test]
fn no_headroom_is_an_error_not_a_panic() {
    let pkt = udp4(b"x", 64);
    let mut buf = pkt.clone();
    let flow = inspect4(&buf).unwrap();
    assert_eq!(
        translate4(&mut buf, 0, &flow, &BACK, &cfg(), 0).unwrap_err(),
        DropReason::NoHeadroom
    );
}

/// An ICMPv4 error from `from` to the pool address, quoting `quoted`.
fn icmp4_error(from: Ipv4Addr, typ: u8, code: u8, rest: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(from.octets(), POOL4.octets(), 64)
        .icmpv4_raw(typ, code, rest)
        .write(&mut out, quoted)
        .unwrap();
    out
}

/// An ICMPv6 error from `from` to the client, quoting `quoted`.
fn icmp6_error(from: Ipv6Addr, typ: u8, code: u8, rest: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(from.octets(), SERVER6.octets(), 64)
        .icmpv6_raw(typ, code, rest)
        .write(&mut out, quoted)
        .unwrap();
    out
}

/// What the host sent, as it left the translator: POOL4:61001 → SERVER4:443.
fn sent4_udp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(POOL4.octets(), SERVER4.octets(), 63)
        .udp(61001, 443)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// What arrived for the host, after translation: SERVER6:443 → CLIENT6:40000.
fn received6_tcp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(SERVER6.octets(), CLIENT6.octets(), 63)
        .tcp(443, 40000, 5, 1000)
        .ack(9)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn run4_error(pkt: &[u8], outer_src: Ipv6Addr) -> Result<(Vec<u8>, Verdict, Flow4), DropReason> {
    let mut buf = buffer(pkt);
    let flow = inspect4(&buf[HEADROOM..])?;
    let out = translate4_error(&mut buf, HEADROOM, &flow, &BACK, outer_src, &cfg())?;
    Ok((buf, out, flow))
}

#[test]
fn n11_port_unreachable_4to6_with_quoted_packet() {
    let quoted = sent4_udp(b"query");
    let pkt = icmp4_error(SERVER4, 3, 3, [0; 4], &quoted);
    let (buf, out, flow) = run4_error(&pkt, SERVER6).unwrap();
    // req S10: the flow is the session's, as an inbound packet would be.
    assert_eq!(flow.kind, Kind::Error);
    assert_eq!(
        (flow.src, flow.src_port, flow.dst, flow.dst_port),
        (SERVER4, 443, POOL4, 61001)
    );
    let (start, len) = forward(out);
    let v6 = &buf[start..start + len];
    let s = oracle(v6);
    let Some(NetSlice::Ipv6(ip)) = &s.net else {
        panic!()
    };
    assert_eq!(
        (ip.header().source_addr(), ip.header().destination_addr()),
        (SERVER6, CLIENT6)
    );
    let Some(TransportSlice::Icmpv6(i)) = &s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), i.code_u8()), (1, 4));
    // req N12: the quoted packet is the host's own, checksums and all.
    let inner = oracle(i.payload());
    let Some(NetSlice::Ipv6(iip)) = &inner.net else {
        panic!()
    };
    assert_eq!(
        (iip.header().source_addr(), iip.header().destination_addr()),
        (CLIENT6, SERVER6)
    );
    let Some(TransportSlice::Udp(u)) = inner.transport else {
        panic!()
    };
    assert_eq!(
        (u.source_port(), u.destination_port(), u.payload()),
        (40000, 443, &b"query"[..])
    );
}

#[test]
fn n11_frag_needed_becomes_packet_too_big_with_plateau() {
    let quoted = sent4_udp(&[0; 1472]); // a 1500-byte packet
    let mut rest = [0u8; 4];
    let pkt = icmp4_error(Ipv4Addr::new(192, 0, 2, 254), 3, 4, rest, &quoted[..28]);
    let (buf, out, _) = run4_error(&pkt, OWN6).unwrap();
    let (start, len) = forward(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv6(i)) = &s.transport else {
        panic!()
    };
    assert_eq!(i.type_u8(), 2);
    assert_eq!(
        u32::from_be_bytes(i.bytes5to8()),
        1492 + 20,
        "RFC 1191 plateau below 1500, + 20"
    );
    rest[2..4].copy_from_slice(&1400u16.to_be_bytes());
    let pkt = icmp4_error(SERVER4, 3, 4, rest, &quoted[..28]);
    let (buf, out, _) = run4_error(&pkt, SERVER6).unwrap();
    let (start, len) = forward(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv6(i)) = &s.transport else {
        panic!()
    };
    assert_eq!(u32::from_be_bytes(i.bytes5to8()), 1420);
}

#[test]
fn n11_parameter_problem_pointer_4to6() {
    let quoted = sent4_udp(b"x");
    let pkt = icmp4_error(SERVER4, 12, 0, [9, 0, 0, 0], &quoted); // pointer at Protocol
    let (buf, out, _) = run4_error(&pkt, SERVER6).unwrap();
    let (start, len) = forward(out);
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv6(i)) = &s.transport else {
        panic!()
    };
    assert_eq!(
        (i.type_u8(), u32::from_be_bytes(i.bytes5to8())),
        (4, 6),
        "pointer at Next Header"
    );
    let pkt = icmp4_error(SERVER4, 12, 0, [5, 0, 0, 0], &quoted); // Identification: no counterpart
    assert_eq!(
        run4_error(&pkt, SERVER6).unwrap_err(),
        DropReason::UntranslatablePointer
    );
}

#[test]
fn n11_time_exceeded_6to4_with_quoted_packet() {
    let quoted = received6_tcp(b"data");
    let router6 = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    let mut pkt = icmp6_error(router6, 3, 0, [0; 4], &quoted);
    // The error goes from the IPv6 side towards the IPv4 server.
    pkt[24..40].copy_from_slice(&SERVER6.octets());
    let pkt = icmp6_error_fix(pkt, router6, SERVER6);
    let mut buf = buffer(&pkt);
    let flow = inspect6(&buf[HEADROOM..]).unwrap();
    assert_eq!(flow.kind, Kind::Error);
    assert_eq!(
        (flow.src, flow.src_port, flow.dst, flow.dst_port),
        (CLIENT6, 40000, SERVER6, 443)
    );
    assert_eq!(flow.error_src, router6);
    let (start, len) = forward(translate6(&mut buf, HEADROOM, &flow, &OUT, &cfg(), 9).unwrap());
    let v4 = &buf[start..start + len];
    let s = oracle(v4);
    let Some(NetSlice::Ipv4(ip)) = &s.net else {
        panic!()
    };
    assert_eq!(
        (ip.header().source_addr(), ip.header().destination_addr()),
        (POOL4, SERVER4)
    );
    let Some(TransportSlice::Icmpv4(i)) = &s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), i.code_u8()), (11, 0));
    let inner = oracle(i.payload());
    let Some(NetSlice::Ipv4(iip)) = &inner.net else {
        panic!()
    };
    assert_eq!(
        (iip.header().source_addr(), iip.header().destination_addr()),
        (SERVER4, POOL4)
    );
    let Some(TransportSlice::Tcp(t)) = inner.transport else {
        panic!()
    };
    assert_eq!(
        (t.source_port(), t.destination_port(), t.payload()),
        (443, 61001, &b"data"[..])
    );
}

/// Recomputes an ICMPv6 checksum after a test changed the addresses.
fn icmp6_error_fix(mut pkt: Vec<u8>, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    use crate::wire::checksum;
    pkt[42] = 0;
    pkt[43] = 0;
    let len = u32::try_from(pkt.len() - 40).unwrap();
    let c = checksum::finish(checksum::pseudo_v6(src, dst, 58, len) + checksum::sum(&pkt[40..]));
    pkt[42..44].copy_from_slice(&c.to_be_bytes());
    pkt
}

#[test]
fn n11_packet_too_big_6to4_and_576_limit() {
    let quoted = received6_tcp(&[0; 1180]);
    let pkt = icmp6_error_fix(
        icmp6_error(CLIENT6, 2, 0, 1280u32.to_be_bytes(), &quoted),
        CLIENT6,
        SERVER6,
    );
    let mut buf = buffer(&pkt);
    let flow = inspect6(&buf[HEADROOM..]).unwrap();
    let (start, len) = forward(translate6(&mut buf, HEADROOM, &flow, &OUT, &cfg(), 9).unwrap());
    assert_eq!(len, 576, "cut to 576 bytes");
    let s = oracle(&buf[start..start + len]);
    let Some(TransportSlice::Icmpv4(i)) = &s.transport else {
        panic!()
    };
    assert_eq!((i.type_u8(), i.code_u8()), (3, 4));
    assert_eq!(
        u16::from_be_bytes([i.bytes5to8()[2], i.bytes5to8()[3]]),
        1260
    );
}

#[test]
fn n12_error_quoting_an_error_is_dropped() {
    let quoted = icmp6_error(CLIENT6, 1, 4, [0; 4], &received6_tcp(b""));
    let pkt = icmp6_error_fix(
        icmp6_error(CLIENT6, 1, 4, [0; 4], &quoted),
        CLIENT6,
        SERVER6,
    );
    assert_eq!(inspect6(&pkt).unwrap_err(), DropReason::IcmpErrorInError);
}

#[test]
fn n12_short_quoted_transport_is_enough() {
    // Only 4 bytes of UDP quoted: ports, no checksum.
    let quoted = sent4_udp(b"abc");
    let pkt = icmp4_error(SERVER4, 3, 3, [0; 4], &quoted[..24]);
    let (buf, out, _) = run4_error(&pkt, SERVER6).unwrap();
    let (start, len) = forward(out);
    assert_eq!(len, 40 + 8 + 40 + 4);
    let v6 = &buf[start..start + len];
    assert_eq!(&v6[88..92], &[0x9c, 0x40, 0x01, 0xbb], "ports 40000 → 443");
    // Fewer than 4 bytes: the session cannot be found.
    let pkt = icmp4_error(SERVER4, 3, 3, [0; 4], &quoted[..22]);
    assert_eq!(inspect4(&pkt).unwrap_err(), DropReason::TruncatedInner);
}

#[test]
fn n11_bad_error_checksum_refused() {
    let mut pkt = icmp4_error(SERVER4, 3, 3, [0; 4], &sent4_udp(b"q"));
    let last = pkt.len() - 1;
    pkt[last] ^= 1;
    assert_eq!(inspect4(&pkt).unwrap_err(), DropReason::BadIcmpChecksum);
}

/// An IPv6 header from the client to the server, payload length 0.
const CLIENT6_HEADER: [u8; 40] = {
    let mut h = [0u8; 40];
    h[0] = 0x60;
    h[7] = 64;
    let s = CLIENT6.octets();
    let d = SERVER6.octets();
    let mut i = 0;
    while i < 16 {
        h[8 + i] = s[i];
        h[24 + i] = d[i];
        i += 1;
    }
    h
};

/// Translates an IPv4 flow by the entry point its kind needs.
fn run_any4(buf: &mut [u8], flow: &Flow4) -> Result<Verdict, DropReason> {
    if flow.kind == Kind::Error {
        translate4_error(buf, HEADROOM, flow, &BACK, SERVER6, &cfg())
    } else {
        translate4(buf, HEADROOM, flow, &BACK, &cfg(), 1)
    }
}

fn arb_payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..1200)
}

proptest! {
    /// 6 → 4 → 6 gives back the same payload, ports and addresses.
    #[test]
    fn prop_round_trip_6_4_6(payload in arb_payload(), sport in 1u16.., dport in 1u16.., proto in 0..3u8, pool_port in 1u16..) {
        let mut pkt = Vec::new();
        let b = PacketBuilder::ipv6(CLIENT6.octets(), SERVER6.octets(), 64);
        match proto {
            0 => b.tcp(sport, dport, 1, 1000).write(&mut pkt, &payload).unwrap(),
            1 => b.udp(sport, dport).write(&mut pkt, &payload).unwrap(),
            _ => b.icmpv6_echo_request(sport, 1).write(&mut pkt, &payload).unwrap(),
        }
        let map = Map4 { src: POOL4, src_port: pool_port, dst: SERVER4, dst_port: dport };
        let (buf, out) = run6(&pkt, &map, &cfg()).unwrap();
        let (start, len) = forward(out);
        let v4 = buf[start..start + len].to_vec();
        oracle(&v4);
        // Back through the 4 → 6 direction, as the reverse path would, but
        // with the IPv4 addresses swapped to look like a packet to the host.
        let mut swapped = v4.clone();
        swapped[12..16].copy_from_slice(&SERVER4.octets());
        swapped[16..20].copy_from_slice(&POOL4.octets());
        if proto < 2 {
            swapped[20..22].copy_from_slice(&dport.to_be_bytes());
            swapped[22..24].copy_from_slice(&pool_port.to_be_bytes());
        }
        // Swapping whole 16-bit fields keeps every checksum valid.
        let back = Map6 { src: SERVER6, src_port: dport, dst: CLIENT6, dst_port: sport };
        let (buf, out) = run4(&swapped, &back, &cfg()).unwrap();
        let (start, len) = forward(out);
        let v6 = &buf[start..start + len];
        let s = oracle(v6);
        let Some(NetSlice::Ipv6(ip)) = &s.net else { panic!() };
        prop_assert_eq!(ip.header().destination_addr(), CLIENT6);
        prop_assert_eq!(ip.header().source_addr(), SERVER6);
        let got = match s.transport {
            Some(TransportSlice::Tcp(t)) => { prop_assert_eq!(t.destination_port(), sport); t.payload().to_vec() }
            Some(TransportSlice::Udp(u)) => { prop_assert_eq!(u.destination_port(), sport); u.payload().to_vec() }
            Some(TransportSlice::Icmpv6(i)) => { prop_assert_eq!(&i.bytes5to8()[..2], &sport.to_be_bytes()[..]); i.payload().to_vec() }
            other => panic!("{other:?}"),
        };
        prop_assert_eq!(got, payload);
    }

    /// A packet over the MTU, fragmented and reassembled (by etherparse),
    /// carries the same datagram as the same packet translated whole.
    #[test]
    fn prop_fragments_reassemble_to_the_whole(payload in prop::collection::vec(any::<u8>(), 0..1470), proto in 0..3u8, to_v4 in any::<bool>(), mtu_pick in any::<prop::sample::Index>()) {
        let big = Config { ipv4_mtu: 9000, ipv6_mtu: 9000, ..cfg() };
        let (pkt, whole_out) = if to_v4 {
            let payload = &payload[..payload.len().min(1200)];
            let mut pkt = Vec::new();
            let b = PacketBuilder::ipv6(CLIENT6.octets(), SERVER6.octets(), 64);
            match proto {
                0 => b.tcp(40000, 443, 1, 1000).write(&mut pkt, payload).unwrap(),
                1 => b.udp(40000, 443).write(&mut pkt, payload).unwrap(),
                _ => b.icmpv6_echo_request(40000, 1).write(&mut pkt, payload).unwrap(),
            }
            let (buf, out) = run6(&pkt, &OUT, &big).unwrap();
            let (s, l) = forward(out);
            (pkt, buf[s + 20..s + l].to_vec())
        } else {
            let mut pkt = Vec::new();
            let b = PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), 64);
            match proto {
                0 => b.tcp(443, 61001, 1, 1000).write(&mut pkt, &payload).unwrap(),
                1 => b.udp(443, 61001).write(&mut pkt, &payload).unwrap(),
                _ => b.icmpv4_echo_reply(61001, 1).write(&mut pkt, &payload).unwrap(),
            }
            pkt[6] = 0; // DF clear: etherparse sets it
            fix_ipv4_checksum(&mut pkt);
            let (buf, out) = run4(&pkt, &BACK, &big).unwrap();
            let (s, l) = forward(out);
            (pkt, buf[s + 40..s + l].to_vec())
        };
        let translated = if to_v4 { pkt.len() - 20 } else { pkt.len() + 20 };
        // Mostly below the translated size; at the floor when it is smaller.
        let lo = if to_v4 { 68 } else { 1280 };
        let hi = translated.saturating_sub(1).max(lo);
        let mtu = u16::try_from(lo + mtu_pick.index(hi - lo + 1)).unwrap();
        let c = Config { ipv4_mtu: mtu, ipv6_mtu: mtu.max(1280), ..cfg() };
        let (buf, out) = if to_v4 { run6(&pkt, &OUT, &c).unwrap() } else { run4(&pkt, &BACK, &c).unwrap() };
        match out {
            Verdict::Fragment { start, len, mtu } => {
                let (_, whole) = cut_and_reassemble(&buf[start..start + len], mtu);
                prop_assert_eq!(whole, whole_out);
            }
            Verdict::Forward { start, len } => {
                let limit = if to_v4 { mtu } else { mtu.max(1280) };
                prop_assert!(len <= usize::from(limit));
                let skip = if to_v4 { 20 } else { 40 };
                prop_assert_eq!(&buf[start + skip..start + len], &whole_out[..]);
            }
            Verdict::Reply { .. } | Verdict::Refuse { .. } | Verdict::Drop(_) | Verdict::Held | Verdict::Ignored => {
                prop_assert!(false, "no error expected")
            }
            Verdict::Segment { .. } => prop_assert!(false, "not a super-packet"),
        }
    }

    /// Arbitrary bytes never panic: each is translated or refused.
    #[test]
    fn prop_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), v6 in any::<bool>()) {
        let mut buf = buffer(&bytes);
        if v6 {
            if let Ok(flow) = inspect6(&buf[HEADROOM..]) {
                let _ = translate6(&mut buf, HEADROOM, &flow, &OUT, &cfg(), 1);
            }
        } else if let Ok(flow) = inspect4(&buf[HEADROOM..]) {
            let _ = run_any4(&mut buf, &flow);
        }
    }

    /// Valid packets with random bytes changed never panic either.
    #[test]
    fn prop_mutated_packets_never_panic(payload in arb_payload(), at in any::<prop::sample::Index>(), to in any::<u8>(), which in 0..6u8) {
        let mut pkt = match which {
            0 => udp6(&payload, 64),
            1 => tcp6(&payload),
            2 => icmp6_error_fix(icmp6_error(CLIENT6, 1, 4, [0; 4], &received6_tcp(&payload)), CLIENT6, SERVER6),
            3 => udp4(&payload, 64),
            4 => tcp4(&payload),
            _ => icmp4_error(SERVER4, 3, 3, [0; 4], &sent4_udp(&payload)),
        };
        let i = at.index(pkt.len());
        pkt[i] = to;
        // Errors: keep the checksums valid so the mutation reaches the quoted
        // packet instead of stopping at the checksum check.
        if which == 2 && pkt.len() >= 48 {
            pkt = icmp6_error_fix(pkt, CLIENT6, SERVER6);
        } else if which == 5 && pkt.len() >= 28 && pkt[0] == 0x45 {
            fix_ipv4_checksum(&mut pkt);
            pkt[22] = 0;
            pkt[23] = 0;
            let c = crate::wire::checksum::finish(crate::wire::checksum::sum(&pkt[20..]));
            pkt[22..24].copy_from_slice(&c.to_be_bytes());
        }
        let mut buf = buffer(&pkt);
        if which < 3 {
            if let Ok(flow) = inspect6(&buf[HEADROOM..]) {
                if let Ok(out) = translate6(&mut buf, HEADROOM, &flow, &OUT, &cfg(), 1) {
                    let (start, len) = span(out);
                    prop_assert!(start + len <= buf.len());
                }
            }
        } else if let Ok(flow) = inspect4(&buf[HEADROOM..]) {
            if let Ok(out) = run_any4(&mut buf, &flow) {
                let (start, len) = span(out);
                prop_assert!(start + len <= buf.len());
            }
        }
    }
}
