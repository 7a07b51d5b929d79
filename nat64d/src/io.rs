//! The data path's I/O: the multi-queue TUN device, its routes, and one
//! worker thread per queue (read, process, write).

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use nat64d::gateway::{Action, Effects, Way};
use nat64d::offload::coalesce::{Coalescer, Offer};
use nat64d::offload::{self, Accept, Offload, VNET_HDR_LEN, VnetHdr};
use nat64d::stats::{Counters, DropReason};
use nat64d::translate::{Fragments, HEADROOM};
use tun_rs::{DeviceBuilder, InterruptEvent, SyncDevice};

use crate::control::Shared;

/// Where a packet is read in the worker's buffer: room in front for the
/// IPv6 header of a translation, for hairpinning (IPv6 → IPv4 → IPv6), and
/// for the virtio-net header written in front of what is sent.
const START: usize = 2 * HEADROOM + VNET_HDR_LEN;
/// Largest packet a TUN read returns (a super-packet with offload on).
const MAX_PACKET: usize = 65535;

/// Packets the kernel may queue towards each TUN queue before it drops
/// (the kernel's default is 500): a burst waits for a worker instead of
/// being lost. Memory is only used while a queue is backlogged.
const TUN_QUEUE_LEN: u32 = 8192;

/// Opens the TUN device `name` with `queues` queues (IFF_MULTI_QUEUE) and
/// brings it up with `mtu` and a queue length of [`TUN_QUEUE_LEN`]. With
/// `offload`, asks for the virtio-net header and TCP/UDP segmentation
/// offload, and falls back to plain packets if the kernel refuses.
pub(crate) fn open(
    name: &str,
    queues: usize,
    mtu: u16,
    offload: bool,
) -> anyhow::Result<Vec<SyncDevice>> {
    let build = |offload: bool| {
        DeviceBuilder::new()
            .name(name)
            .mtu(mtu)
            .multi_queue(true)
            .offload(offload)
            .build_sync()
    };
    let first = match build(offload) {
        Ok(d) => Ok(d),
        Err(e) if offload => {
            eprintln!(
                "nat64d: TUN device {name}: offload refused ({e}); running without it (one read and one write per packet)"
            );
            build(false)
        }
        Err(e) => Err(e),
    }
    .with_context(|| {
        format!("cannot open TUN device {name} (needs CAP_NET_ADMIN and /dev/net/tun)")
    })?;
    if first.tcp_gso() {
        eprintln!(
            "nat64d: TUN device {name}: offload on (TCP segmentation{}, partial checksums)",
            if first.udp_gso() {
                ", UDP segmentation"
            } else {
                "; no UDP segmentation: kernel before 6.2"
            }
        );
    } else {
        eprintln!("nat64d: TUN device {name}: offload off");
    }
    let mut qs = Vec::with_capacity(queues);
    for i in 1..queues {
        let q = first
            .try_clone()
            .with_context(|| format!("cannot open queue {i} of TUN device {name}"))?;
        qs.push(q);
    }
    qs.insert(0, first);
    for (i, q) in qs.iter().enumerate() {
        q.set_nonblocking(true)
            .with_context(|| format!("cannot make queue {i} of TUN device {name} non-blocking"))?;
    }
    ip(&[
        "link",
        "set",
        "dev",
        name,
        "mtu",
        &mtu.to_string(),
        "txqueuelen",
        &TUN_QUEUE_LEN.to_string(),
        "up",
    ])?;
    Ok(qs)
}

/// Runs `ip ARGS`, failing with its error output.
pub(crate) fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run `ip` (iproute2)")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// One worker: reads packets from `q` until `stop` is triggered.
pub(crate) fn worker(
    q: Arc<SyncDevice>,
    shared: Arc<Shared>,
    index: usize,
    stop: Arc<InterruptEvent>,
) {
    // With offload every read and write carries a virtio-net header.
    let vnet = q.tcp_gso();
    // UDP datagrams of one flow read in a burst leave as one super-packet
    // (needs the kernel's UDP segmentation on the TUN, Linux 6.2).
    let mut co = (vnet && q.udp_gso()).then(Coalescer::new);
    let read_at = if vnet { START - VNET_HDR_LEN } else { START };
    let mut buf = vec![0u8; START + MAX_PACKET];
    let mut frag = vec![0u8; VNET_HDR_LEN + usize::from(u16::MAX)];
    let mut fx = Effects::default();
    // Packets to process after the one in `buf`, plain, last first: held
    // fragments its arrival released, segments of a super-packet cut in
    // software.
    let mut pending: Vec<Box<[u8]>> = Vec::new();
    let mut cut: Vec<Box<[u8]>> = Vec::new();
    let counters = &shared.counters[index];
    let gw = &shared.gateway;
    let (mut policy, mut gen_seen) = shared.policy();
    let mut ident = (index as u16).wrapping_mul(0x9e37);
    let mut limiter = ErrorLimiter::default();
    loop {
        // One read per packet while packets are waiting; poll (with the
        // stop event) only when the queue is empty. `recv_intr` would poll
        // before every read: two system calls per packet.
        let r = loop {
            match q.recv(&mut buf[read_at..]) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // Nothing more to read now: what waits goes out.
                    flush(&q, &mut co, counters);
                    if let Err(e) = q.wait_readable_intr(&stop) {
                        break Err(e);
                    }
                }
                r => break r,
            }
        };
        let n = match r {
            Ok(n) => n,
            Err(e) => {
                if shared.stopping.load(Ordering::Relaxed) {
                    flush(&q, &mut co, counters);
                    return;
                }
                if e.kind() != std::io::ErrorKind::Interrupted {
                    eprintln!("nat64d: worker {index}: TUN read failed: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                continue;
            }
        };
        if shared.policy_gen.load(Ordering::Acquire) != gen_seen {
            (policy, gen_seen) = shared.policy();
        }
        let now = shared.now.load(Ordering::Relaxed);
        let mut current = if vnet {
            let Some(n) = n.checked_sub(VNET_HDR_LEN) else {
                counters.drop(DropReason::BadOffload);
                continue;
            };
            let hdr = VnetHdr::read(&buf[START - VNET_HDR_LEN..START]);
            match offload::accept(&hdr, &mut buf[START..START + n]) {
                Ok(Accept::Ready(off)) => Some((n, off)),
                Ok(Accept::Segment) => {
                    counters.gso_cut.fetch_add(1, Ordering::Relaxed);
                    cut_into(
                        &buf[START..START + n],
                        hdr.gso_size,
                        &mut cut,
                        &mut pending,
                        counters,
                    );
                    None
                }
                Err(r) => {
                    counters.drop(r);
                    continue;
                }
            }
        } else {
            Some((n, Offload::default()))
        };
        loop {
            let (n, off) = match current.take() {
                Some(c) => c,
                None => {
                    let Some(p) = pending.pop() else { break };
                    let n = p.len().min(MAX_PACKET);
                    buf[START..START + n].copy_from_slice(&p[..n]);
                    (n, Offload::default())
                }
            };
            ident = ident.wrapping_add(1);
            let (action, way) = gw.process(&policy, &mut buf, START, n, off, now, ident, &mut fx);
            match action {
                Action::Send {
                    start,
                    len,
                    own_error,
                } => {
                    if own_error {
                        flush(&q, &mut co, counters);
                        if limiter.take(&shared, now, counters) {
                            send(&q, vnet, &mut buf, start, len, VnetHdr::default(), counters);
                        }
                    } else {
                        let hdr = offload::header_for(&buf[start..start + len], &off);
                        let packets = if hdr.gso_size > 0 {
                            counters.gso_whole.fetch_add(1, Ordering::Relaxed);
                            len.saturating_sub(usize::from(hdr.hdr_len))
                                .div_ceil(usize::from(hdr.gso_size))
                                .max(1)
                        } else {
                            1
                        };
                        count(counters, way, packets, n);
                        let pkt = &buf[start..start + len];
                        let taken = match co.as_mut().map(|c| c.offer(pkt, &off)) {
                            Some(Offer::Taken) => true,
                            Some(Offer::Flush) => {
                                flush(&q, &mut co, counters);
                                co.as_mut().map(|c| c.offer(pkt, &off)) == Some(Offer::Taken)
                            }
                            Some(Offer::Refused) | None => false,
                        };
                        if !taken {
                            flush(&q, &mut co, counters);
                            send(&q, vnet, &mut buf, start, len, hdr, counters);
                        }
                    }
                }
                Action::Refuse { reason, start, len } => {
                    counters.drop(reason);
                    flush(&q, &mut co, counters);
                    if limiter.take(&shared, now, counters) {
                        send(&q, vnet, &mut buf, start, len, VnetHdr::default(), counters);
                    }
                }
                Action::Fragments { start, len, mtu } => {
                    count(counters, way, 1, n);
                    flush(&q, &mut co, counters);
                    if off.partial {
                        // Fragments carry a finished checksum.
                        offload::complete(&mut buf[start..start + len]);
                    }
                    match Fragments::new(&buf[start..start + len], mtu) {
                        Ok(mut pieces) => {
                            while let Some(f) = pieces.next_into(&mut frag[VNET_HDR_LEN..]) {
                                let flen = f.len();
                                counters.fragments.fetch_add(1, Ordering::Relaxed);
                                send(
                                    &q,
                                    vnet,
                                    &mut frag,
                                    VNET_HDR_LEN,
                                    flen,
                                    VnetHdr::default(),
                                    counters,
                                );
                            }
                        }
                        Err(r) => counters.drop(r),
                    }
                }
                Action::Segment { start, len } => {
                    counters.gso_cut.fetch_add(1, Ordering::Relaxed);
                    cut_into(
                        &buf[start..start + len],
                        off.gso_size,
                        &mut cut,
                        &mut pending,
                        counters,
                    );
                }
                Action::Drop(r) => counters.drop(r),
            }
            if !fx.events.is_empty() {
                shared.log_events(&mut fx.events);
            }
            // Fragments that waited for the first one just translated
            // (req S9) go through now, in the order they arrived.
            pending.extend(fx.released.drain(..).rev());
        }
    }
}

/// Cuts the super-packet `pkt` into segments of `gso_size` and queues them
/// on `pending` (processed last first, so in reverse).
fn cut_into(
    pkt: &[u8],
    gso_size: u16,
    cut: &mut Vec<Box<[u8]>>,
    pending: &mut Vec<Box<[u8]>>,
    counters: &Counters,
) {
    match offload::segment(pkt, gso_size, cut) {
        Ok(()) => pending.extend(cut.drain(..).rev()),
        Err(r) => {
            cut.clear();
            counters.drop(r);
        }
    }
}

/// Writes the coalesced run, if one is open.
fn flush(q: &SyncDevice, co: &mut Option<Coalescer>, counters: &Counters) {
    let Some((bytes, n)) = co.as_mut().and_then(Coalescer::flush) else {
        return;
    };
    if n > 1 {
        counters.coalesced_writes.fetch_add(1, Ordering::Relaxed);
        counters.coalesced.fetch_add(n as u64, Ordering::Relaxed);
    }
    if q.send(bytes).is_err() {
        counters.write_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// req N13: the translator's own ICMP errors, at most `icmp_error_rate`
/// per second per worker.
#[derive(Default)]
struct ErrorLimiter {
    tokens: u32,
    second: u32,
}

impl ErrorLimiter {
    /// Whether one more error may be sent now (counted either way).
    fn take(&mut self, shared: &Shared, now: u32, counters: &Counters) -> bool {
        if now != self.second {
            self.second = now;
            self.tokens = shared.error_rate.load(Ordering::Relaxed);
        }
        if self.tokens == 0 {
            counters.own_errors_limited.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.tokens -= 1;
        counters.own_errors.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Writes `buf[start..start + len]`, behind `hdr` when the queue carries
/// virtio-net headers (written into the headroom in front of `start`).
fn send(
    q: &SyncDevice,
    vnet: bool,
    buf: &mut [u8],
    start: usize,
    len: usize,
    hdr: VnetHdr,
    counters: &Counters,
) {
    let from = if vnet {
        let Some(h) = start.checked_sub(VNET_HDR_LEN) else {
            counters.write_errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        hdr.write(&mut buf[h..start]);
        h
    } else {
        start
    };
    if q.send(&buf[from..start + len]).is_err() {
        counters.write_errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn count(c: &Counters, way: Way, packets: usize, bytes: usize) {
    let i = match way {
        Way::Out => 0,
        Way::In => 1,
        Way::Hairpin => 2,
    };
    c.packets[i].fetch_add(packets as u64, Ordering::Relaxed);
    c.bytes[i].fetch_add(bytes as u64, Ordering::Relaxed);
}

/// Answers held IPv4 SYNs whose time ran out with Port Unreachable (req
/// S4), through queue `q`.
pub(crate) fn answer_held(q: &SyncDevice, packets: Vec<Box<[u8]>>, own: Ipv4Addr, shared: &Shared) {
    let mut buf = vec![0u8; START + 600];
    for p in packets {
        let n = p.len().min(buf.len() - START);
        buf[START..START + n].copy_from_slice(&p[..n]);
        if let Ok(nat64d::translate::Output::Reply { start, len }) =
            nat64d::translate::port_unreachable4(&mut buf, START, n, own, 0)
        {
            shared.counters[0]
                .own_errors
                .fetch_add(1, Ordering::Relaxed);
            send(
                q,
                q.tcp_gso(),
                &mut buf,
                start,
                len,
                VnetHdr::default(),
                &shared.counters[0],
            );
        }
    }
}
