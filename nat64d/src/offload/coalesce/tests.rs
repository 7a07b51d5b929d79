//! Runs built and cut back the way the kernel cuts a `GSO_UDP_L4`
//! super-packet (`__udp_gso_segment`: per-segment lengths, the partial
//! checksum adjusted for the new length, IPv4 Identification + index, then
//! the checksum finished over the data); the segments must be, byte for
//! byte, the datagrams offered.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::offload::{F_DATA_VALID, GSO_NONE, complete};
use crate::translate::tests::oracle;
use crate::wire::l4;

const A4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const B4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

fn a6() -> Ipv6Addr {
    "2001:db8:1::100".parse().unwrap()
}
fn b6() -> Ipv6Addr {
    "64:ff9b::cb00:710a".parse().unwrap()
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// An IPv4/UDP datagram with a partial checksum (the pseudo-header's sum),
/// as a translation of a partial packet leaves it.
fn udp4(dport: u16, id: u16, tos: u8, df: bool, payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[1] = tos;
    l4::set16(&mut p, 2, total as u16);
    l4::set16(&mut p, 4, id);
    p[6] = if df { 0x40 } else { 0 };
    p[8] = 63;
    p[9] = proto::UDP;
    p[12..16].copy_from_slice(&A4.octets());
    p[16..20].copy_from_slice(&B4.octets());
    let c = checksum::finish(checksum::sum(&p[..20]));
    l4::set16(&mut p, 10, c);
    l4::set16(&mut p, 20, 40000);
    l4::set16(&mut p, 22, dport);
    l4::set16(&mut p, 24, (8 + payload.len()) as u16);
    p[28..].copy_from_slice(payload);
    let ph = checksum::pseudo_v4(A4, B4, proto::UDP, (8 + payload.len()) as u16);
    l4::set16(&mut p, 26, checksum::fold(ph));
    p
}

/// An IPv6/UDP datagram with a partial checksum.
fn udp6(dport: u16, flow: u32, payload: &[u8]) -> Vec<u8> {
    let plen = 8 + payload.len();
    let mut p = vec![0u8; 40 + plen];
    p[..4].copy_from_slice(&((6u32 << 28) | flow).to_be_bytes());
    l4::set16(&mut p, 4, plen as u16);
    p[6] = proto::UDP;
    p[7] = 63;
    p[8..24].copy_from_slice(&b6().octets());
    p[24..40].copy_from_slice(&a6().octets());
    l4::set16(&mut p, 40, 53);
    l4::set16(&mut p, 42, dport);
    l4::set16(&mut p, 44, plen as u16);
    p[48..].copy_from_slice(payload);
    let ph = checksum::pseudo_v6(b6(), a6(), proto::UDP, plen as u32);
    l4::set16(&mut p, 46, checksum::fold(ph));
    p
}

/// `p` with its checksum finished: what the kernel would send for it.
fn full(p: &[u8]) -> Vec<u8> {
    let mut p = p.to_vec();
    complete(&mut p);
    p
}

fn partial() -> Offload {
    Offload {
        partial: true,
        ..Offload::default()
    }
}

/// Cuts what [`Coalescer::flush`] returned the way the kernel does and
/// finishes every checksum.
fn cut_like_kernel(out: &[u8]) -> Vec<Vec<u8>> {
    let h = VnetHdr::read(&out[..VNET_HDR_LEN]);
    let pkt = &out[VNET_HDR_LEN..];
    if h.gso_type == GSO_NONE {
        let mut p = pkt.to_vec();
        if h.flags & F_NEEDS_CSUM != 0 {
            complete(&mut p);
        }
        return vec![p];
    }
    assert_eq!(h.gso_type, GSO_UDP_L4);
    assert_eq!(h.flags, F_NEEDS_CSUM);
    let (hdrs, u) = (usize::from(h.hdr_len), usize::from(h.csum_start));
    assert_eq!(hdrs, u + 8);
    assert_eq!(h.csum_offset, 6);
    let v4 = pkt[0] >> 4 == 4;
    // The super-packet's own lengths must be whole (the kernel checks the
    // UDP length against the packet before it cuts).
    assert_eq!(usize::from(l4::get16(pkt, u + 4)), pkt.len() - u);
    if v4 {
        assert_eq!(usize::from(l4::get16(pkt, 2)), pkt.len());
        assert_eq!(checksum::finish(checksum::sum(&pkt[..20])), 0);
    } else {
        assert_eq!(usize::from(l4::get16(pkt, 4)), pkt.len() - 40);
    }
    let super_len = l4::get16(pkt, u + 4);
    let super_check = l4::get16(pkt, u + 6);
    let id = l4::get16(pkt, 4);
    let mut segs = Vec::new();
    for (i, chunk) in pkt[hdrs..].chunks(usize::from(h.gso_size)).enumerate() {
        let mut s = pkt[..hdrs].to_vec();
        s.extend_from_slice(chunk);
        let l = (s.len() - u) as u16;
        l4::set16(&mut s, u + 4, l);
        // csum16_add(csum16_sub(check, old_len), new_len)
        let c = checksum::fold(u32::from(super_check) + u32::from(!super_len) + u32::from(l));
        l4::set16(&mut s, u + 6, c);
        if v4 {
            let total = s.len() as u16;
            l4::set16(&mut s, 2, total);
            l4::set16(&mut s, 4, id.wrapping_add(i as u16));
            l4::set16(&mut s, 10, 0);
            let c = checksum::finish(checksum::sum(&s[..20]));
            l4::set16(&mut s, 10, c);
        } else {
            let plen = (s.len() - 40) as u16;
            l4::set16(&mut s, 4, plen);
        }
        complete(&mut s);
        segs.push(s);
    }
    segs
}

/// Every segment parses and its checksums verify (etherparse's oracle).
fn assert_valid(segs: &[Vec<u8>]) {
    for s in segs {
        oracle(s);
    }
}

#[test]
fn ipv4_run_cuts_back_into_the_datagrams() {
    let dgs = [
        udp4(9, 100, 0, false, &data(64, 1)),
        udp4(9, 101, 0, false, &data(64, 2)),
        udp4(9, 102, 0, false, &data(64, 3)),
        udp4(9, 103, 0, false, &data(20, 4)),
    ];
    let mut c = Coalescer::new();
    for d in &dgs {
        assert_eq!(c.offer(d, &partial()), Offer::Taken);
    }
    assert_eq!(c.pending(), 4);
    let (out, n) = c.flush().unwrap();
    assert_eq!(n, 4);
    let h = VnetHdr::read(out);
    assert_eq!((h.gso_size, h.hdr_len, h.csum_start), (64, 28, 20));
    assert_eq!(out.len() - VNET_HDR_LEN, 28 + 3 * 64 + 20);
    let segs = cut_like_kernel(out);
    assert_valid(&segs);
    let want: Vec<_> = dgs.iter().map(|d| full(d)).collect();
    assert_eq!(segs, want);
    assert!(c.flush().is_none(), "a flush empties the run");
    assert_eq!(c.pending(), 0);
}

#[test]
fn ipv6_run_cuts_back_into_the_datagrams() {
    let dgs: Vec<_> = (0..MAX_RUN)
        .map(|i| udp6(5201, 7, &data(1000, i as u8)))
        .collect();
    let mut c = Coalescer::new();
    for d in &dgs {
        assert_eq!(c.offer(d, &partial()), Offer::Taken);
    }
    // The run is full: the next one waits for a flush.
    assert_eq!(c.offer(&dgs[0], &partial()), Offer::Flush);
    let (out, n) = c.flush().unwrap();
    assert_eq!(n, MAX_RUN);
    let segs = cut_like_kernel(out);
    assert_valid(&segs);
    assert_eq!(segs, dgs.iter().map(|d| full(d)).collect::<Vec<_>>());
    assert_eq!(c.offer(&dgs[0], &partial()), Offer::Taken);
}

#[test]
fn a_lone_datagram_leaves_as_it_would_have() {
    let d = udp4(9, 5, 0, true, &data(100, 9));
    let mut c = Coalescer::new();
    assert_eq!(c.offer(&d, &partial()), Offer::Taken);
    let (out, n) = c.flush().unwrap();
    assert_eq!(n, 1);
    assert_eq!(VnetHdr::read(out), header_for(&d, &partial()));
    assert_eq!(&out[VNET_HDR_LEN..], &d[..]);
    // A full, correct checksum is carried as it is.
    let f = full(&d);
    let valid = Offload::default();
    assert_eq!(c.offer(&f, &valid), Offer::Taken);
    let (out, _) = c.flush().unwrap();
    assert_eq!(VnetHdr::read(out), VnetHdr::default());
    assert_eq!(&out[VNET_HDR_LEN..], &f[..]);
}

#[test]
fn what_ends_a_run() {
    let p = partial();
    let first = udp4(9, 1, 0, false, &data(100, 0));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("other port", udp4(10, 2, 0, false, &data(100, 0))),
        ("other TOS", udp4(9, 2, 4, false, &data(100, 0))),
        ("DF differs", udp4(9, 2, 0, true, &data(100, 0))),
        ("larger payload", udp4(9, 2, 0, false, &data(101, 0))),
        ("other family", udp6(9, 0, &data(100, 0))),
    ];
    for (what, d) in cases {
        let mut c = Coalescer::new();
        assert_eq!(c.offer(&first, &p), Offer::Taken);
        assert_eq!(c.offer(&d, &p), Offer::Flush, "{what}");
    }
    // A shorter datagram joins and closes the run.
    let mut c = Coalescer::new();
    assert_eq!(c.offer(&first, &p), Offer::Taken);
    assert_eq!(
        c.offer(&udp4(9, 2, 0, false, &data(50, 0)), &p),
        Offer::Taken
    );
    assert_eq!(
        c.offer(&udp4(9, 3, 0, false, &data(50, 0)), &p),
        Offer::Flush
    );
    // Another flow label.
    let mut c = Coalescer::new();
    assert_eq!(c.offer(&udp6(9, 1, &data(10, 0)), &p), Offer::Taken);
    assert_eq!(c.offer(&udp6(9, 2, &data(10, 0)), &p), Offer::Flush);
    // 64 KiB: 1400-byte datagrams, 46 fit (28 + 46 × 1400 ≤ 65 535).
    let mut c = Coalescer::new();
    let big = udp4(9, 1, 0, false, &data(1400, 0));
    for _ in 0..46 {
        assert_eq!(c.offer(&big, &p), Offer::Taken);
    }
    assert_eq!(c.offer(&big, &p), Offer::Flush);
    let (out, n) = c.flush().unwrap();
    assert_eq!(n, 46);
    assert_valid(&cut_like_kernel(out));
}

#[test]
fn what_never_joins() {
    let p = partial();
    let d = udp4(9, 1, 0, false, &data(100, 0));
    let mut c = Coalescer::new();
    let mut frag = d.clone();
    frag[6] = 0x20; // MF
    let mut opts = d.clone();
    opts[0] = 0x46;
    let mut tcp = d.clone();
    tcp[9] = proto::TCP;
    let mut short = d.clone();
    l4::set16(&mut short, 2, 100);
    let mut bad = full(&d);
    bad[40] ^= 1;
    let mut zero = d.clone();
    l4::set16(&mut zero, 26, 0);
    let empty = udp4(9, 1, 0, false, &[]);
    let sup = Offload {
        partial: true,
        gso_size: 100,
        ..Offload::default()
    };
    for (what, pkt, off) in [
        ("fragment", &frag, p),
        ("IPv4 options", &opts, p),
        ("TCP", &tcp, p),
        ("length mismatch", &short, p),
        ("bad full checksum", &bad, Offload::default()),
        ("no checksum", &zero, Offload::default()),
        ("empty payload", &empty, p),
        ("super-packet", &d, sup),
    ] {
        assert_eq!(c.offer(pkt, &off), Offer::Refused, "{what}");
    }
    assert!(c.flush().is_none());
    // Marked valid by the kernel: joins without being summed here.
    let valid = Offload {
        valid: true,
        ..Offload::default()
    };
    assert_eq!(c.offer(&full(&d), &valid), Offer::Taken);
    assert_eq!(VnetHdr::read(c.flush().unwrap().0).flags, F_DATA_VALID);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Any sequence of datagrams from a few flows, offered the way the
    /// worker offers them (flush on `Flush` and `Refused`), comes out as
    /// exactly those datagrams, in order, with correct checksums.
    #[test]
    fn any_sequence_comes_out_as_offered(
        dgs in proptest::collection::vec((0u8..3, 1usize..1500, any::<u8>(), any::<bool>()), 1..120)
    ) {
        let mut c = Coalescer::new();
        let mut got = Vec::new();
        let mut want = Vec::new();
        for (i, (flow, n, seed, v6)) in dgs.into_iter().enumerate() {
            let d = if v6 {
                udp6(9000 + u16::from(flow), 0, &data(n, seed))
            } else {
                udp4(9000 + u16::from(flow), i as u16, 0, false, &data(n, seed))
            };
            want.push(full(&d));
            match c.offer(&d, &partial()) {
                Offer::Taken => {}
                Offer::Flush => {
                    let (out, _) = c.flush().unwrap();
                    got.extend(cut_like_kernel(out));
                    prop_assert_eq!(c.offer(&d, &partial()), Offer::Taken);
                }
                Offer::Refused => {
                    if let Some((out, _)) = c.flush() {
                        got.extend(cut_like_kernel(out));
                    }
                    got.push(full(&d));
                }
            }
        }
        if let Some((out, _)) = c.flush() {
            got.extend(cut_like_kernel(out));
        }
        assert_valid(&got);
        prop_assert_eq!(got, want);
    }
}
