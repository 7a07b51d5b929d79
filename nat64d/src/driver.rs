//! One worker's packet driver: everything between "a packet was read from
//! the TUN" and "these bytes go back to the TUN", with no I/O of its own.
//!
//! For each packet read it accepts the TUN's virtio-net header (super-packets,
//! partial checksums; [`crate::offload`]), asks the gateway for a
//! [`Verdict`], and carries the verdict out: writes the translation (behind
//! the header it needs), fragments it (req N4, N7), cuts a super-packet
//! into segments and processes those, coalesces bursts of one UDP flow
//! into one super-packet, and answers with the translator's own ICMP
//! errors at most `icmp_error_rate` per second (req N13). Released held
//! fragments (req S9) are processed after the packet that released them.
//! Bytes leave through the caller's [`Egress`] (the TUN queue in the
//! daemon, a vector in tests); buffers are the caller's and the driver's
//! own, allocated once.

use std::sync::atomic::Ordering;

use crate::gateway::{Arrival, Effects, Gateway, Policy, Way};
use crate::offload::coalesce::{Coalescer, Offer};
use crate::offload::{self, Accept, Offload, VNET_HDR_LEN, VnetHdr};
use crate::state::{Event, Secs};
use crate::stats::{Counters, DropReason};
use crate::translate::{Fragments, HEADROOM, port_unreachable4};
use crate::verdict::Verdict;
use crate::wire::ipv4::Ipv4Packet;

/// Where a packet lies in the read buffer: room in front for the IPv6
/// header of a translation, for hairpinning (IPv6 → IPv4 → IPv6), and for
/// the virtio-net header written in front of what is sent.
pub const START: usize = 2 * HEADROOM + VNET_HDR_LEN;
/// Largest packet a TUN read returns (a super-packet with offload on).
pub const MAX_PACKET: usize = 65535;
/// Length of the read buffer a worker allocates for [`Driver::received`].
pub const BUF_LEN: usize = START + MAX_PACKET;

/// Where bytes for the TUN go.
pub trait Egress {
    /// Writes one packet (behind its virtio-net header when the queue
    /// carries them).
    ///
    /// # Errors
    /// The write's error; the driver counts it and goes on.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

impl<F: FnMut(&[u8]) -> std::io::Result<()>> Egress for F {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self(bytes)
    }
}

/// The translator's own ICMP errors, at most `rate` per second (req N13):
/// a token bucket refilled at each new second of the coarse clock. It
/// starts full: the errors of the first second after start (a Packet Too
/// Big RFC 7915 requires, say) are sent like any other.
#[derive(Debug, Default)]
pub struct ErrorLimiter {
    tokens: u32,
    /// The second `tokens` belongs to; none before the first error.
    second: Option<Secs>,
}

impl ErrorLimiter {
    /// Whether one more error may be sent at `now` (counted either way).
    pub fn take(&mut self, now: Secs, rate: u32, counters: &Counters) -> bool {
        if self.second != Some(now) {
            self.second = Some(now);
            self.tokens = rate;
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

/// What one call of [`Driver::received`] works with, besides the packet.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The stateful translator.
    pub gateway: &'a Gateway,
    /// The worker's copy of the reloadable policy.
    pub policy: &'a Policy,
    /// The coarse clock.
    pub now: Secs,
    /// Own ICMP errors this worker may send per second.
    pub error_rate: u32,
    /// This worker's counters.
    pub counters: &'a Counters,
}

/// A packet the gateway has processed: which way it went, how many bytes
/// were read, what the TUN said about it.
#[derive(Debug, Clone, Copy)]
struct Read {
    way: Way,
    n: usize,
    off: Offload,
}

/// The per-worker state of the packet path (see the module doc).
#[derive(Debug)]
pub struct Driver {
    /// Every read and write carries a virtio-net header (offload on).
    vnet: bool,
    /// Runs of one UDP flow waiting to leave as one super-packet (offload
    /// on and the kernel's UDP segmentation, Linux 6.2).
    coalescer: Option<Coalescer>,
    limiter: ErrorLimiter,
    /// Packets to process after the current one, plain, last first: held
    /// fragments its arrival released, segments of a super-packet cut in
    /// software.
    pending: Vec<Box<[u8]>>,
    cut: Vec<Box<[u8]>>,
    /// Where fragments are built, behind room for the virtio-net header.
    frag: Vec<u8>,
    /// The next IPv4 Identification (req N2), spread per worker.
    ident: u16,
    fx: Effects,
}

impl Driver {
    /// The driver of worker `index`; `vnet`: the TUN queue carries
    /// virtio-net headers; `udp_gso`: the kernel takes UDP super-packets.
    pub fn new(index: usize, vnet: bool, udp_gso: bool) -> Self {
        Driver {
            vnet,
            coalescer: (vnet && udp_gso).then(Coalescer::new),
            limiter: ErrorLimiter::default(),
            pending: Vec::new(),
            cut: Vec::new(),
            frag: vec![0u8; VNET_HDR_LEN + usize::from(u16::MAX)],
            ident: (index as u16).wrapping_mul(0x9e37),
            fx: Effects::default(),
        }
    }

    /// Where in a [`BUF_LEN`] buffer the next read goes (its virtio-net
    /// header, if any, first).
    pub fn read_at(&self) -> usize {
        if self.vnet {
            START - VNET_HDR_LEN
        } else {
            START
        }
    }

    /// Mapping-log events of the packets handled so far: the caller hands
    /// them to the log and leaves the vector empty.
    pub fn events(&mut self) -> &mut Vec<Event> {
        &mut self.fx.events
    }

    /// Handles the `n` bytes read at `buf[self.read_at()..]`, then every
    /// packet it released or was cut into.
    pub fn received(&mut self, cx: &Context<'_>, buf: &mut [u8], n: usize, out: &mut impl Egress) {
        let c = cx.counters;
        let data = if self.vnet {
            n.checked_sub(VNET_HDR_LEN)
        } else {
            Some(n)
        };
        let family = usize::from(data.is_some_and(|l| l > 0) && buf[START] >> 4 == 4);
        c.read[family].fetch_add(1, Ordering::Relaxed);
        let mut current = if self.vnet {
            let Some(n) = data else {
                c.drop(DropReason::BadOffload);
                return;
            };
            let hdr = VnetHdr::read(&buf[START - VNET_HDR_LEN..START]);
            if hdr.gso_size > 0 {
                c.superpackets_read.fetch_add(1, Ordering::Relaxed);
            }
            match offload::accept(&hdr, &mut buf[START..START + n]) {
                Ok(Accept::Ready(off)) => Some((n, off)),
                Ok(Accept::Segment) => {
                    self.cut_into(START, n, hdr.gso_size, buf, c);
                    None
                }
                Err(r) => {
                    cx.counters.drop(r);
                    return;
                }
            }
        } else {
            Some((n, Offload::default()))
        };
        loop {
            let (n, off) = match current.take() {
                Some(c) => c,
                None => {
                    let Some(p) = self.pending.pop() else { break };
                    let n = p.len().min(MAX_PACKET);
                    buf[START..START + n].copy_from_slice(&p[..n]);
                    (n, Offload::default())
                }
            };
            self.ident = self.ident.wrapping_add(1);
            let pkt = Arrival {
                start: START,
                len: n,
                off,
                now: cx.now,
                ident: self.ident,
            };
            let (verdict, way) = cx.gateway.process(cx.policy, buf, pkt, &mut self.fx);
            let read = Read { way, n, off };
            self.carry_out(cx, verdict, &read, buf, out);
            // Fragments that waited for the first one just translated
            // (req S9) go through now, in the order they arrived.
            c.released
                .fetch_add(self.fx.released.len() as u64, Ordering::Relaxed);
            self.pending.extend(self.fx.released.drain(..).rev());
        }
    }

    /// Does what `verdict` says for the packet `read` describes.
    fn carry_out(
        &mut self,
        cx: &Context<'_>,
        verdict: Verdict,
        read: &Read,
        buf: &mut [u8],
        out: &mut impl Egress,
    ) {
        let (counters, way, n, off) = (cx.counters, read.way, read.n, &read.off);
        match verdict {
            Verdict::Forward { start, len } => {
                let hdr = offload::header_for(&buf[start..start + len], off);
                let packets = if hdr.gso_size > 0 {
                    counters.gso_whole.fetch_add(1, Ordering::Relaxed);
                    len.saturating_sub(usize::from(hdr.hdr_len))
                        .div_ceil(usize::from(hdr.gso_size))
                        .max(1)
                } else {
                    1
                };
                count(counters, way, packets, n);
                counters.forwarded[way.index()].fetch_add(1, Ordering::Relaxed);
                let pkt = &buf[start..start + len];
                let taken = match self.coalescer.as_mut().map(|c| c.offer(pkt, off)) {
                    Some(Offer::Taken) => true,
                    Some(Offer::Flush) => {
                        self.flush(counters, out);
                        self.coalescer.as_mut().map(|c| c.offer(pkt, off)) == Some(Offer::Taken)
                    }
                    Some(Offer::Refused) | None => false,
                };
                if !taken {
                    self.flush(counters, out);
                    send(self.vnet, buf, start, len, hdr, counters, out);
                }
            }
            Verdict::Reply { start, len } => {
                counters.answered.fetch_add(1, Ordering::Relaxed);
                self.reply(cx, buf, start, len, out);
            }
            Verdict::Refuse { reason, start, len } => {
                counters.drop(reason);
                self.reply(cx, buf, start, len, out);
            }
            Verdict::Fragment { start, len, mtu } => {
                self.flush(counters, out);
                if off.partial {
                    // Fragments carry a finished checksum.
                    offload::complete(&mut buf[start..start + len]);
                }
                if self.fragment(&buf[start..start + len], mtu, counters, out) {
                    count(counters, way, 1, n);
                    counters.forwarded[way.index()].fetch_add(1, Ordering::Relaxed);
                }
            }
            Verdict::Segment { start, len } => {
                self.cut_into(start, len, off.gso_size, buf, counters);
            }
            Verdict::Held => {
                counters.held.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Ignored => {
                counters.ignored.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Drop(r) => counters.drop(r),
        }
    }

    /// Sends `buf[start..start + len]`, one of the translator's own ICMP
    /// errors, within the rate limit (req N13).
    fn reply(
        &mut self,
        cx: &Context<'_>,
        buf: &mut [u8],
        start: usize,
        len: usize,
        out: &mut impl Egress,
    ) {
        self.flush(cx.counters, out);
        if self.limiter.take(cx.now, cx.error_rate, cx.counters) {
            let hdr = VnetHdr::default();
            send(self.vnet, buf, start, len, hdr, cx.counters, out);
        }
    }

    /// Writes the fragments of `pkt` cut to `mtu`; false when it cannot be
    /// cut (counted as a drop).
    fn fragment(
        &mut self,
        pkt: &[u8],
        mtu: u16,
        counters: &Counters,
        out: &mut impl Egress,
    ) -> bool {
        match Fragments::new(pkt, mtu) {
            Ok(mut pieces) => {
                while let Some(f) = pieces.next_into(&mut self.frag[VNET_HDR_LEN..]) {
                    let flen = f.len();
                    counters.fragments.fetch_add(1, Ordering::Relaxed);
                    send(
                        self.vnet,
                        &mut self.frag,
                        VNET_HDR_LEN,
                        flen,
                        VnetHdr::default(),
                        counters,
                        out,
                    );
                }
            }
            Err(r) => {
                counters.drop(r);
                return false;
            }
        }
        true
    }

    /// Cuts the super-packet at `buf[start..start + len]` into segments of
    /// `gso_size` and queues them (processed last first, so in reverse).
    fn cut_into(
        &mut self,
        start: usize,
        len: usize,
        gso_size: u16,
        buf: &[u8],
        counters: &Counters,
    ) {
        match offload::segment(&buf[start..start + len], gso_size, &mut self.cut) {
            Ok(()) => {
                counters.gso_cut.fetch_add(1, Ordering::Relaxed);
                counters
                    .segments
                    .fetch_add(self.cut.len() as u64, Ordering::Relaxed);
                self.pending.extend(self.cut.drain(..).rev());
            }
            Err(r) => {
                self.cut.clear();
                counters.drop(r);
            }
        }
    }

    /// Writes the coalesced run, if one is open: the caller calls this
    /// when nothing more waits to be read.
    pub fn flush(&mut self, counters: &Counters, out: &mut impl Egress) {
        let Some((bytes, n)) = self.coalescer.as_mut().and_then(Coalescer::flush) else {
            return;
        };
        if n > 1 {
            counters.coalesced_writes.fetch_add(1, Ordering::Relaxed);
            counters.coalesced.fetch_add(n as u64, Ordering::Relaxed);
        }
        if out.write(bytes).is_err() {
            counters.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Answers IPv4 SYNs held for simultaneous open whose time ran out with
/// ICMPv4 Port Unreachable from the translator's own address (req S4, RFC
/// 6146 §3.5.2.2), through `out`. A held SYN that was itself a hairpinned
/// translation (an IPv6 host's SYN to another pool port, req S8) came from
/// a pool address: its error is translated here, at `now`, for the IPv6
/// host that sent it, rather than written to a pool address for the host's
/// kernel to route back in.
pub fn answer_held(
    gateway: &Gateway,
    held: Vec<Box<[u8]>>,
    now: Secs,
    vnet: bool,
    counters: &Counters,
    out: &mut impl Egress,
) {
    // Room in front for the error's headers and, for a hairpinned one, its
    // translation to IPv6.
    let at = 2 * START;
    let mut buf = vec![0u8; at + 600];
    let mut fx = Effects::default();
    for p in held {
        let n = p.len().min(buf.len() - at);
        buf[at..at + n].copy_from_slice(&p[..n]);
        let Ok(Verdict::Reply { start, len }) =
            port_unreachable4(&mut buf, at, n, gateway.xlat.own_v4, 0)
        else {
            continue;
        };
        let to = Ipv4Packet::new_unchecked(&buf[start..start + len]).dst();
        let (start, len) = if gateway.pool.contains(to) {
            let own = Arrival {
                start,
                len,
                off: Offload::default(),
                now,
                ident: 0,
            };
            match gateway.process_own4(&mut buf, own, &mut fx) {
                Verdict::Forward { start, len } => (start, len),
                _ => continue,
            }
        } else {
            (start, len)
        };
        counters.own_errors.fetch_add(1, Ordering::Relaxed);
        send(
            vnet,
            &mut buf,
            start,
            len,
            VnetHdr::default(),
            counters,
            out,
        );
    }
}

/// Writes `buf[start..start + len]`, behind `hdr` when the queue carries
/// virtio-net headers (written into the room in front of `start`).
fn send(
    vnet: bool,
    buf: &mut [u8],
    start: usize,
    len: usize,
    hdr: VnetHdr,
    counters: &Counters,
    out: &mut impl Egress,
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
    if out.write(&buf[from..start + len]).is_err() {
        counters.write_errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn count(c: &Counters, way: Way, packets: usize, bytes: usize) {
    let i = way.index();
    c.packets[i].fetch_add(packets as u64, Ordering::Relaxed);
    c.bytes[i].fetch_add(bytes as u64, Ordering::Relaxed);
}

#[cfg(test)]
mod tests;
