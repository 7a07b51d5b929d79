//! Per-packet cost of the RFC 7915 core (inspect + translate in place),
//! against the physical-limit baseline of copying the packet once.
//! The target (ARCHITECTURE.md, "The data path"): translating a 1500-byte TCP packet costs less than one
//! copy of it, because the payload is never touched.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::PacketBuilder;
use nat64d::translate::{
    Config, HEADROOM, Map4, Map6, inspect4, inspect6, translate4, translate4_error, translate6,
};
use nat64d::verdict::Verdict;

const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xcb00, 0x710a);
const SERVER4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const POOL4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

const OUT: Map4 = Map4 {
    src: POOL4,
    src_port: 61001,
    dst: SERVER4,
    dst_port: 443,
};
const BACK: Map6 = Map6 {
    src: SERVER6,
    src_port: 443,
    dst: CLIENT6,
    dst_port: 40000,
};

/// The packet after `HEADROOM` bytes, padded to at least `RESTORE` bytes
/// (a buffer may be longer than its packet; the headers give the length).
fn with_headroom(pkt: Vec<u8>) -> Vec<u8> {
    let mut buf = vec![0u8; HEADROOM];
    buf.extend_from_slice(&pkt);
    if buf.len() < HEADROOM + RESTORE {
        buf.resize(HEADROOM + RESTORE, 0);
    }
    buf
}

/// Bytes of the packet put back before each iteration: every header the
/// translator rewrites (the headroom is written, never read). A fixed
/// size, so the copy is four inline vector moves, as cheap as the
/// "restore headers" baseline.
const RESTORE: usize = 128;

/// Puts back the first `RESTORE` bytes of the packet in `pkt` into `buf`.
#[inline(always)]
fn restore(buf: &mut [u8], pkt: &[u8]) {
    let to: &mut [u8; RESTORE] = (&mut buf[HEADROOM..HEADROOM + RESTORE])
        .try_into()
        .expect("long enough");
    let from: &[u8; RESTORE] = pkt[HEADROOM..HEADROOM + RESTORE]
        .try_into()
        .expect("long enough");
    *to = *from;
}

fn tcp6(total: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(CLIENT6.octets(), SERVER6.octets(), 64)
        .tcp(40000, 443, 1, 65535)
        .ack(1)
        .write(&mut out, &vec![0xab; total - 60])
        .expect("build");
    with_headroom(out)
}

fn tcp4(total: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), 64)
        .tcp(443, 61001, 1, 65535)
        .ack(1)
        .write(&mut out, &vec![0xab; total - 40])
        .expect("build");
    with_headroom(out)
}

fn udp6(total: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(CLIENT6.octets(), SERVER6.octets(), 64)
        .udp(40000, 443)
        .write(&mut out, &vec![0xab; total - 48])
        .expect("build");
    with_headroom(out)
}

fn udp4(total: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), 64)
        .udp(443, 61001)
        .write(&mut out, &vec![0xab; total - 28])
        .expect("build");
    with_headroom(out)
}

fn bench(c: &mut Criterion) {
    // An IPv6 MTU that fits the translated 1500-byte IPv4 packet (1520 B), so
    // the 4->6 case measures translation, not the Fragmentation Needed path.
    let cfg = Config {
        ipv6_mtu: 1520,
        ..Config::default()
    };
    let mut g = c.benchmark_group("per packet");
    g.throughput(Throughput::Elements(1));

    let src = vec![0x5au8; 1500];
    let mut dst = vec![0u8; 1500];
    g.bench_function("copy 1500 B (baseline)", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&src)))
    });

    // The translator rewrites only headers, in place; each iteration puts
    // back the first RESTORE bytes of the input, which costs the
    // "restore headers" baseline below.
    let hdr = [0x5au8; RESTORE];
    let mut hdr_dst = [0u8; RESTORE];
    g.bench_function("restore headers (128 B copy, included below)", |b| {
        b.iter(|| hdr_dst.copy_from_slice(black_box(&hdr)))
    });

    // The read step alone, for the breakdown.
    let pkt = tcp6(1500);
    g.bench_function("inspect only, TCP 1500 B IPv6", |b| {
        b.iter(|| {
            inspect6(black_box(&pkt[HEADROOM..]))
                .expect("valid")
                .src_port
        })
    });
    let pkt = tcp4(1500);
    g.bench_function("inspect only, TCP 1500 B IPv4", |b| {
        b.iter(|| {
            inspect4(black_box(&pkt[HEADROOM..]))
                .expect("valid")
                .src_port
        })
    });

    // A ring of buffers, as a worker reads a batch: each buffer is put back
    // right after its translation, RING iterations before it is read again,
    // so the restore's stores are long done when the translator reads (a
    // packet read from the TUN is not being written while it is parsed).
    const RING: usize = 8;
    let cases6 = [("TCP 1500 B 6->4", tcp6(1500)), ("UDP 64 B 6->4", udp6(64))];
    for (name, pkt) in cases6 {
        let mut ring = vec![pkt.clone(); RING];
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % RING;
                let buf = &mut ring[i];
                let flow = inspect6(black_box(&buf[HEADROOM..])).expect("valid");
                let n = match translate6(buf, HEADROOM, &flow, &OUT, &cfg, 1) {
                    Ok(Verdict::Forward { start, len }) => {
                        black_box(&buf[start..start + len]).len()
                    }
                    other => panic!("not a translation: {other:?}"),
                };
                restore(buf, &pkt);
                n
            })
        });
    }
    let cases4 = [("TCP 1500 B 4->6", tcp4(1500)), ("UDP 64 B 4->6", udp4(64))];
    for (name, pkt) in cases4 {
        let mut ring = vec![pkt.clone(); RING];
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % RING;
                let buf = &mut ring[i];
                let flow = inspect4(black_box(&buf[HEADROOM..])).expect("valid");
                let n = match translate4(buf, HEADROOM, &flow, &BACK, &cfg, 1) {
                    Ok(Verdict::Forward { start, len }) => {
                        black_box(&buf[start..start + len]).len()
                    }
                    other => panic!("not a translation: {other:?}"),
                };
                restore(buf, &pkt);
                n
            })
        });
    }
    // ICMPv4 Port Unreachable quoting the host's 48-byte UDP packet.
    let mut quoted = Vec::new();
    PacketBuilder::ipv4(POOL4.octets(), SERVER4.octets(), 63)
        .udp(61001, 443)
        .write(&mut quoted, &[0xab; 20])
        .expect("build");
    let mut err = Vec::new();
    PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), 64)
        .icmpv4_raw(3, 3, [0; 4])
        .write(&mut err, &quoted)
        .expect("build");
    let pkt = with_headroom(err);
    let mut buf = pkt.clone();
    g.bench_function("ICMPv4 error 76 B 4->6", |b| {
        b.iter(|| {
            buf.copy_from_slice(&pkt);
            let flow = inspect4(black_box(&buf[HEADROOM..])).expect("valid");
            match translate4_error(&mut buf, HEADROOM, &flow, &BACK, SERVER6, &cfg) {
                Ok(Verdict::Forward { start, len }) => black_box(&buf[start..start + len]).len(),
                other => panic!("not a translation: {other:?}"),
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
