//! The virtio-net header path: classification of what the TUN hands us,
//! software segmentation, and whole super-packets with partial checksums
//! through the gateway, finished the way the kernel finishes them and
//! checked by etherparse.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use super::*;
use crate::gateway::tests::{H1, POOL1, SERVER4, gateway, wkp};
use crate::gateway::{Arrival, Effects, Way};
use crate::translate::HEADROOM;
use crate::translate::tests::oracle;
use crate::verdict::Verdict;
use crate::wire::l4;

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

fn tcp6(src: Ipv6Addr, dst: Ipv6Addr, flags_fin: bool, n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ipv6(src.octets(), dst.octets(), 64)
        .tcp(40000, 443, 1_000_000, 65535)
        .ack(77)
        .psh();
    let b = if flags_fin { b.fin() } else { b };
    b.write(&mut v, &payload(n)).unwrap();
    v
}

/// Opens the TCP session of [`tcp6`]'s ports with a SYN; returns the pool
/// port it got.
fn open_tcp(g: &(crate::gateway::Gateway, crate::gateway::Policy)) -> u16 {
    let mut v = Vec::new();
    PacketBuilder::ipv6(H1.octets(), wkp(SERVER4).octets(), 64)
        .tcp(40000, 443, 999_999, 65535)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    let (a, _, out, _) = through(g, &v, &VnetHdr::default(), 0);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    u16::from_be_bytes([out[20], out[21]])
}

fn tcp4(src: Ipv4Addr, dst: Ipv4Addr, dport: u16, n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
        .tcp(443, dport, 5_000_000, 65535)
        .ack(99)
        .psh()
        .write(&mut v, &payload(n))
        .unwrap();
    // Linux's TCP sets DF.
    v[6] |= 0x40;
    fix_ipv4_header(&mut v);
    v
}

fn udp4(src: Ipv4Addr, dst: Ipv4Addr, n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
        .udp(5000, 53)
        .write(&mut v, &payload(n))
        .unwrap();
    v
}

fn fix_ipv4_header(p: &mut [u8]) {
    p[10] = 0;
    p[11] = 0;
    let c = checksum::finish(checksum::sum(&p[..20]));
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Turns a packet's full TCP/UDP checksum into the partial one the kernel
/// hands over (the pseudo-header's folded sum), and returns its header.
fn make_partial(p: &mut [u8], gso_type: u8, gso_size: u16) -> VnetHdr {
    let (at, proto) = transport_of(p).unwrap();
    let field = csum_field(proto).unwrap();
    let l4_len = p.len() - at;
    let ph = if p[0] >> 4 == 4 {
        let a = |o: usize| Ipv4Addr::new(p[o], p[o + 1], p[o + 2], p[o + 3]);
        checksum::pseudo_v4(a(12), a(16), proto, l4_len as u16)
    } else {
        let a = |o: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&p[o..o + 16]).unwrap());
        checksum::pseudo_v6(a(8), a(24), proto, l4_len as u32)
    };
    l4::set16(p, at + field, checksum::fold(ph));
    VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type,
        hdr_len: (at + 20) as u16,
        gso_size,
        csum_start: at as u16,
        csum_offset: field as u16,
    }
}

/// What the kernel does with a packet nat64d wrote: a super-packet is cut
/// into segments, a partial checksum finished. Every result is checked by
/// etherparse's oracle.
fn finish_like_kernel(pkt: &[u8], hdr: &VnetHdr) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    if hdr.gso_size > 0 {
        let mut segs = Vec::new();
        segment(pkt, hdr.gso_size, &mut segs).unwrap();
        out.extend(segs.into_iter().map(|s| s.to_vec()));
    } else {
        let mut p = pkt.to_vec();
        if hdr.flags & F_NEEDS_CSUM != 0 {
            complete_at(
                &mut p,
                usize::from(hdr.csum_start),
                usize::from(hdr.csum_start + hdr.csum_offset),
            );
        }
        out.push(p);
    }
    for p in &out {
        oracle(p);
    }
    out
}

fn tcp_payload(p: &[u8]) -> (u32, u8, Vec<u8>) {
    let s = SlicedPacket::from_ip(p).unwrap();
    let Some(TransportSlice::Tcp(t)) = &s.transport else {
        panic!("not TCP")
    };
    let flags = p[transport_of(p).unwrap().0 + 13];
    (t.sequence_number(), flags, t.payload().to_vec())
}

#[test]
fn header_reads_what_it_writes() {
    let h = VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV6 | GSO_ECN,
        hdr_len: 60,
        gso_size: 1428,
        csum_start: 40,
        csum_offset: 16,
    };
    let mut b = [0u8; VNET_HDR_LEN];
    h.write(&mut b);
    assert_eq!(VnetHdr::read(&b), h);
}

#[test]
fn a_plain_header_is_a_plain_packet() {
    let mut p = tcp6(H1, wkp(SERVER4), false, 100);
    assert_eq!(
        accept(&VnetHdr::default(), &mut p),
        Ok(Accept::Ready(Offload::default()))
    );
    let valid = VnetHdr {
        flags: F_DATA_VALID,
        ..VnetHdr::default()
    };
    let Ok(Accept::Ready(off)) = accept(&valid, &mut p) else {
        panic!()
    };
    assert!(off.valid && !off.partial);
}

#[test]
fn headers_the_kernel_would_not_send_are_refused() {
    let mut p = tcp6(H1, wkp(SERVER4), false, 100);
    let good = make_partial(&mut p, GSO_TCPV6, 50);
    for bad in [
        VnetHdr {
            gso_type: 3, // UFO: never offered
            ..good
        },
        VnetHdr {
            gso_type: 9,
            ..good
        },
        VnetHdr {
            gso_size: 0,
            ..good
        },
        VnetHdr {
            csum_start: p.len() as u16,
            ..good
        },
        VnetHdr {
            csum_offset: u16::MAX,
            ..good
        },
    ] {
        assert_eq!(accept(&bad, &mut p), Err(DropReason::BadOffload), "{bad:?}");
    }
    assert!(matches!(accept(&good, &mut p), Ok(Accept::Ready(_))));
}

#[test]
fn a_partial_tcp_or_udp_checksum_is_carried() {
    let mut p = tcp6(H1, wkp(SERVER4), false, 3000);
    let h = make_partial(&mut p, GSO_TCPV6, 1000);
    assert_eq!(
        accept(&h, &mut p),
        Ok(Accept::Ready(Offload {
            partial: true,
            gso_size: 1000,
            valid: false,
            ecn: false,
        }))
    );
    let mut u = udp4(SERVER4, POOL1, 200);
    let h = make_partial(&mut u, GSO_NONE, 0);
    let Ok(Accept::Ready(off)) = accept(&h, &mut u) else {
        panic!()
    };
    assert!(off.partial && off.gso_size == 0);
}

#[test]
fn a_partial_checksum_elsewhere_is_finished_in_software() {
    // An ICMPv6 echo with its checksum left partial (offset 2): nat64d does
    // not carry those, it finishes them.
    let mut p = Vec::new();
    PacketBuilder::ipv6(H1.octets(), wkp(SERVER4).octets(), 64)
        .icmpv6_echo_request(7, 1)
        .write(&mut p, b"ping")
        .unwrap();
    let good = p.clone();
    let ph = checksum::pseudo_v6(H1, wkp(SERVER4), 58, (p.len() - 40) as u32);
    l4::set16(&mut p, 42, checksum::fold(ph));
    let h = VnetHdr {
        flags: F_NEEDS_CSUM,
        csum_start: 40,
        csum_offset: 2,
        ..VnetHdr::default()
    };
    assert_eq!(accept(&h, &mut p), Ok(Accept::Ready(Offload::default())));
    assert_eq!(p, good);
}

#[test]
fn a_super_packet_of_the_wrong_family_is_cut() {
    let mut p = tcp6(H1, wkp(SERVER4), false, 3000);
    let h = make_partial(&mut p, GSO_TCPV4, 1000);
    assert_eq!(accept(&h, &mut p), Ok(Accept::Segment));
    // And one without a partial checksum.
    let mut p = tcp6(H1, wkp(SERVER4), false, 3000);
    let h = VnetHdr {
        gso_type: GSO_TCPV6,
        gso_size: 1000,
        ..VnetHdr::default()
    };
    assert_eq!(accept(&h, &mut p), Ok(Accept::Segment));
}

#[test]
fn segment_cuts_tcp6_with_sequence_numbers_flags_and_checksums() {
    let p = tcp6(H1, wkp(SERVER4), true, 3500);
    let mut segs = Vec::new();
    segment(&p, 1000, &mut segs).unwrap();
    assert_eq!(segs.len(), 4);
    let mut data = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        oracle(s);
        let (seq, flags, d) = tcp_payload(s);
        assert_eq!(seq, 1_000_000 + 1000 * i as u32);
        let last = i == 3;
        assert_eq!(flags & 0x01 != 0, last, "FIN on the last only");
        assert_eq!(flags & 0x08 != 0, last, "PSH on the last only");
        assert_eq!(d.len(), if last { 500 } else { 1000 });
        data.extend(d);
    }
    assert_eq!(data, payload(3500));
}

#[test]
fn segment_cuts_udp4_with_lengths_identifications_and_checksums() {
    let p = udp4(SERVER4, POOL1, 250);
    let mut segs = Vec::new();
    segment(&p, 100, &mut segs).unwrap();
    assert_eq!(segs.len(), 3);
    let id0 = u16::from_be_bytes([p[4], p[5]]);
    for (i, s) in segs.iter().enumerate() {
        let parsed = oracle(s);
        let Some(NetSlice::Ipv4(ip)) = &parsed.net else {
            panic!()
        };
        assert_eq!(ip.header().identification(), id0.wrapping_add(i as u16));
        let Some(TransportSlice::Udp(u)) = &parsed.transport else {
            panic!()
        };
        assert_eq!(u.payload().len(), if i == 2 { 50 } else { 100 });
    }
}

#[test]
fn segment_refuses_what_it_cannot_cut() {
    let mut out = Vec::new();
    let p = tcp6(H1, wkp(SERVER4), false, 3000);
    assert_eq!(segment(&p, 0, &mut out), Err(DropReason::BadOffload));
    assert_eq!(segment(&p, 2, &mut out), Err(DropReason::BadOffload));
    assert_eq!(
        segment(&p[..30], 100, &mut out),
        Err(DropReason::BadOffload)
    );
    assert!(out.is_empty());
}

/// Runs a packet read with `hdr` through the gateway as the worker does;
/// returns the action, the way and the bytes to send with their header.
fn through(
    g: &(crate::gateway::Gateway, crate::gateway::Policy),
    pkt: &[u8],
    hdr: &VnetHdr,
    now: u32,
) -> (Verdict, Way, Vec<u8>, VnetHdr) {
    let at = 2 * HEADROOM + VNET_HDR_LEN;
    let mut buf = vec![0u8; at + pkt.len()];
    buf[at..].copy_from_slice(pkt);
    let Ok(Accept::Ready(off)) = accept(hdr, &mut buf[at..]) else {
        panic!("not ready")
    };
    let mut fx = Effects::default();
    let (a, w) = g.0.process(
        &g.1,
        &mut buf,
        Arrival {
            start: at,
            len: pkt.len(),
            off,
            now,
            ident: 7,
        },
        &mut fx,
    );
    match a {
        Verdict::Forward { start, len } | Verdict::Reply { start, len } => {
            let out = buf[start..start + len].to_vec();
            let h = header_for(&out, &off);
            (a, w, out, h)
        }
        _ => (a, w, Vec::new(), VnetHdr::default()),
    }
}

#[test]
fn a_tcp_super_packet_crosses_whole_both_ways() {
    let g = gateway(true, vec![]);
    open_tcp(&g);
    // Out: a 64 KiB GRO super-packet from the IPv6 client.
    let mut p = tcp6(H1, wkp(SERVER4), true, 65_000);
    let h = make_partial(&mut p, GSO_TCPV6, 1428);
    let (a, w, out, oh) = through(&g, &p, &h, 0);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }) && w == Way::Out,
        "{a:?}"
    );
    assert_eq!(out[0] >> 4, 4);
    assert_eq!(
        oh,
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 40,
            gso_size: 1428,
            csum_start: 20,
            csum_offset: 16,
        }
    );
    assert_eq!(out[6] & 0x40, 0x40, "DF: the segments are above 1260 bytes");
    let segs = finish_like_kernel(&out, &oh);
    assert_eq!(segs.len(), 65_000usize.div_ceil(1428));
    let data: Vec<u8> = segs.iter().flat_map(|s| tcp_payload(s).2).collect();
    assert_eq!(data, payload(65_000));
    for s in &segs {
        assert_eq!(transport_of(s).unwrap(), (20, 6));
        assert_eq!(&s[12..20], &[POOL1.octets(), SERVER4.octets()].concat()[..]);
    }
    let sport = u16::from_be_bytes([out[20], out[21]]);

    // Back: a super-packet from the IPv4 server to the pool port.
    let mut p = tcp4(SERVER4, POOL1, sport, 30_000);
    let h = make_partial(&mut p, GSO_TCPV4 | GSO_ECN, 1200);
    // ipv6_mtu is 1280 by default: 40 + 20 + 1200 fits.
    let (a, w, out, oh) = through(&g, &p, &h, 1);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }) && w == Way::In,
        "{a:?}"
    );
    assert_eq!(
        oh,
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6 | GSO_ECN,
            hdr_len: 60,
            gso_size: 1200,
            csum_start: 40,
            csum_offset: 16,
        }
    );
    let segs = finish_like_kernel(&out, &oh);
    assert_eq!(segs.len(), 25);
    let data: Vec<u8> = segs.iter().flat_map(|s| tcp_payload(s).2).collect();
    assert_eq!(data, payload(30_000));
    for s in &segs {
        assert!(s.len() <= 1280);
    }
}

#[test]
fn a_partial_checksum_comes_out_as_a_plain_translation_would() {
    // The same packet translated once with a full checksum and once with a
    // partial one that is then finished: the same bytes.
    let g = gateway(true, vec![]);
    open_tcp(&g);
    let plain = tcp6(H1, wkp(SERVER4), false, 500);
    let (_, _, want, wh) = through(&g, &plain, &VnetHdr::default(), 0);
    assert_eq!(wh, VnetHdr::default());
    let mut p = plain.clone();
    let h = make_partial(&mut p, GSO_NONE, 0);
    let (_, _, out, oh) = through(&g, &p, &h, 0);
    assert_eq!(oh.gso_type, GSO_NONE);
    let got = finish_like_kernel(&out, &oh);
    // The IPv4 Identification differs by nothing: same `ident` (7).
    assert_eq!(got, vec![want]);
}

#[test]
fn a_super_packet_too_big_for_the_egress_is_cut_first() {
    let g = gateway(true, vec![]);
    let sport = open_tcp(&g);
    // 1460-byte segments from the IPv4 side: 40 + 20 + 1460 > 1280.
    let mut p = tcp4(SERVER4, POOL1, sport, 5000);
    let h = make_partial(&mut p, GSO_TCPV4, 1460);
    let (a, _, _, _) = through(&g, &p, &h, 1);
    let Verdict::Segment { start, len } = a else {
        panic!("{a:?}")
    };
    assert_eq!(
        start,
        2 * HEADROOM + VNET_HDR_LEN,
        "untouched, where it was"
    );
    assert_eq!(len, p.len());
    // Cut, the segments get Fragmentation Needed as plain packets do.
    let mut segs = Vec::new();
    segment(&p, 1460, &mut segs).unwrap();
    let (a, _, out, _) = through(&g, &segs[0], &VnetHdr::default(), 1);
    assert!(matches!(a, Verdict::Reply { .. }), "{a:?}");
    assert_eq!((out[20], out[21]), (3, 4), "ICMPv4 Fragmentation Needed");
}

#[test]
fn a_udp_super_packet_crosses_whole() {
    let g = gateway(true, vec![]);
    let mut p = Vec::new();
    PacketBuilder::ipv6(H1.octets(), wkp(SERVER4).octets(), 64)
        .udp(5353, 53)
        .write(&mut p, &payload(4000))
        .unwrap();
    let h = make_partial(&mut p, GSO_UDP_L4, 1000);
    let (a, _, out, oh) = through(&g, &p, &h, 0);
    assert!(
        matches!(a, Verdict::Forward { .. } | Verdict::Reply { .. }),
        "{a:?}"
    );
    assert_eq!(
        (oh.gso_type, oh.csum_start, oh.csum_offset),
        (GSO_UDP_L4, 20, 6)
    );
    let segs = finish_like_kernel(&out, &oh);
    assert_eq!(segs.len(), 4);
}

#[test]
fn fragments_of_a_partial_packet_carry_a_finished_checksum() {
    // A partial (not super) UDP packet from IPv4 without DF, too big for
    // the IPv6 side: translated, then fragmented; `complete` finishes the
    // checksum first, as the worker does.
    let g = gateway(true, vec![]);
    let mut q = Vec::new();
    PacketBuilder::ipv6(H1.octets(), wkp(SERVER4).octets(), 64)
        .udp(6000, 53)
        .write(&mut q, b"x")
        .unwrap();
    let (_, _, out, _) = through(&g, &q, &VnetHdr::default(), 0);
    let sport = u16::from_be_bytes([out[20], out[21]]);
    let mut p = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL1.octets(), 64)
        .udp(53, sport)
        .write(&mut p, &payload(2000))
        .unwrap();
    p[6] &= !0x40; // DF clear: fragmented, not refused
    fix_ipv4_header(&mut p);
    let h = make_partial(&mut p, GSO_NONE, 0);
    let at = 2 * HEADROOM + VNET_HDR_LEN;
    let mut buf = vec![0u8; at + p.len()];
    buf[at..].copy_from_slice(&p);
    let Ok(Accept::Ready(off)) = accept(&h, &mut buf[at..]) else {
        panic!()
    };
    let mut fx = Effects::default();
    let (a, _) = g.0.process(
        &g.1,
        &mut buf,
        Arrival {
            start: at,
            len: p.len(),
            off,
            now: 1,
            ident: 7,
        },
        &mut fx,
    );
    let Verdict::Fragment { start, len, .. } = a else {
        panic!("{a:?}")
    };
    complete(&mut buf[start..start + len]);
    // The whole translated datagram (Fragment header included) checks out.
    let whole = &buf[start..start + len];
    let (at6, p6) = transport_of(whole).unwrap();
    assert_eq!((at6, p6), (48, 17));
    let ph = checksum::pseudo_v6(wkp(SERVER4), H1, 17, (whole.len() - at6) as u32);
    assert_eq!(checksum::finish(ph + checksum::sum(&whole[at6..])), 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

    /// Whatever header and bytes a read returns, nothing panics: the
    /// packet is dropped with a reason, translated, or cut and translated.
    #[test]
    fn any_header_and_packet_never_panic(
        flags in 0u8..4,
        gso_type in proptest::prop_oneof![
            proptest::prelude::Just(GSO_NONE),
            proptest::prelude::Just(GSO_TCPV4),
            proptest::prelude::Just(GSO_TCPV6),
            proptest::prelude::Just(GSO_UDP_L4),
            proptest::prelude::any::<u8>(),
        ],
        gso_size in proptest::prop_oneof![0u16..4, 1u16..2000, proptest::prelude::any::<u16>()],
        csum_start in proptest::prop_oneof![0u16..80, proptest::prelude::any::<u16>()],
        csum_offset in proptest::prop_oneof![0u16..20, proptest::prelude::any::<u16>()],
        base in 0usize..4,
        cut in 0usize..3100,
        noise in proptest::collection::vec((0usize..3100, proptest::prelude::any::<u8>()), 0..6),
    ) {
        let g = gateway(true, vec![]);
        let mut p = match base {
            0 => tcp6(H1, wkp(SERVER4), false, 3000),
            1 => tcp4(SERVER4, POOL1, 1024, 3000),
            2 => udp4(SERVER4, POOL1, 3000),
            _ => {
                let mut v = Vec::new();
                PacketBuilder::ipv6(H1.octets(), wkp(SERVER4).octets(), 64)
                    .udp(5353, 53)
                    .write(&mut v, &payload(3000))
                    .unwrap();
                v
            }
        };
        for (i, b) in noise {
            if let Some(x) = p.get_mut(i) {
                *x = b;
            }
        }
        p.truncate(cut.max(1));
        let h = VnetHdr { flags, gso_type, hdr_len: 0, gso_size, csum_start, csum_offset };
        let at = 2 * HEADROOM + VNET_HDR_LEN;
        let mut buf = vec![0u8; at + p.len()];
        buf[at..].copy_from_slice(&p);
        let mut fx = Effects::default();
        match accept(&h, &mut buf[at..]) {
            Ok(Accept::Ready(off)) => {
                let (a, _) = g.0.process(&g.1, &mut buf, Arrival { start: at, len: p.len(), off, now: 0, ident: 7 }, &mut fx);
                match a {
                    Verdict::Forward { start, len } | Verdict::Reply { start, len } => {
                        header_for(&buf[start..start + len], &off);
                    }
                    Verdict::Fragment { start, len, .. } => complete(&mut buf[start..start + len]),
                    Verdict::Segment { start, len } => {
                        let _ = segment(&buf[start..start + len], off.gso_size, &mut Vec::new());
                    }
                    _ => {}
                }
            }
            Ok(Accept::Segment) => {
                let _ = segment(&buf[at..], h.gso_size, &mut Vec::new());
            }
            Err(r) => proptest::prop_assert_eq!(r, DropReason::BadOffload),
        }
    }
}
