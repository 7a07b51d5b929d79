//! UDP readers that share the work when one falls behind.
//!
//! Each reader of a listen address is pinned to a CPU and given the queries
//! that arrive on that CPU (`crate::reuseport`), so at moderate rates a
//! query is read, answered and sent on one CPU with no cross-CPU wake-up.
//! But when queries arrive on one CPU faster than its reader answers them
//! (one busy client whose packets all land on one CPU, a network card with
//! a single queue), they would queue behind that reader while the others
//! sleep, and the tail of the answer time grows with the queue.
//!
//! So a reader that reads [`HELP_AFTER`] queries in a row without finding
//! its socket empty asks for help: it wakes one idle reader of its group
//! (an `eventfd` each), which reads from the busy reader's socket as well,
//! [`HELP_BATCH`] datagrams at a time, looking at its own socket between
//! batches, until the busy socket is empty. A reader with queries of its
//! own never helps. At moderate rates no reader is ever [`HELP_AFTER`]
//! queries behind, nobody is woken and every query stays on its CPU.
//! `dns64d_udp_reader_helped_total{reader}` counts the datagrams each
//! reader read from another reader's socket.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::logging::Throttle;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};

/// Queries read in a row, with more waiting each time, before a reader
/// asks for help: a queue of this many is tens of microseconds of waiting
/// at the fast path's speed.
pub const HELP_AFTER: u32 = 16;

/// Datagrams a helper reads from a busy socket before it looks at its own.
pub const HELP_BATCH: usize = 32;

/// One reader's flags, on a cache line of its own.
#[derive(Debug)]
#[repr(align(64))]
struct Slot {
    /// The reader has a queue: idle readers are welcome on its socket.
    /// This flag and `idle` are read and written in sequential order: a
    /// reader raising its call and a reader going idle each see the
    /// other's flag, so no call is lost between them.
    wants_help: AtomicBool,
    /// The reader is waiting, with nothing to read.
    idle: AtomicBool,
    /// Wakes the reader from its wait.
    wake: EventFd,
}

/// The readers of one listen address: their sockets (one each, in one
/// SO_REUSEPORT group) and the flags by which they share the work.
#[derive(Debug)]
pub struct Group {
    socks: Box<[Arc<UdpSocket>]>,
    slots: Box<[Slot]>,
    /// Bounds the log lines of failed reads.
    log: Throttle,
}

/// The first reader after `me`, in turn, for which `pick` holds.
pub fn next_after(me: usize, n: usize, pick: impl Fn(usize) -> bool) -> Option<usize> {
    (1..n).map(|k| (me + k) % n).find(|&j| pick(j))
}

/// Counts one reader's reads in a row with more waiting.
#[derive(Debug, Default)]
pub struct Streak(u32);

impl Streak {
    /// A query was read; true exactly when this read makes the streak
    /// [`HELP_AFTER`] long (ask for help once per streak).
    pub fn read(&mut self) -> bool {
        self.0 = self.0.saturating_add(1);
        self.0 == HELP_AFTER
    }

    /// The socket was found empty: the streak ends.
    pub fn empty(&mut self) {
        self.0 = 0;
    }
}

/// What a reader does with one datagram: `(payload, sender, the socket it
/// came on)`; answers go back on that socket.
pub trait Handle {
    /// Answers (or drops) one query.
    fn datagram(&mut self, wire: &[u8], peer: SocketAddr, sock: &Arc<UdpSocket>);
}

impl<F: FnMut(&[u8], SocketAddr, &Arc<UdpSocket>)> Handle for F {
    fn datagram(&mut self, wire: &[u8], peer: SocketAddr, sock: &Arc<UdpSocket>) {
        self(wire, peer, sock);
    }
}

/// One outcome of a non-blocking read.
enum Read {
    Got(usize, SocketAddr),
    Empty,
    Failed,
}

impl Group {
    /// One non-blocking read of `sock`. An error other than "empty" or
    /// "interrupted" pauses the reader 10 ms and is logged a few times a
    /// minute (the next line says how many were held back).
    fn read(&self, sock: &UdpSocket, buf: &mut [u8]) -> Read {
        match sock.recv_from(buf) {
            Ok((n, peer)) => Read::Got(n, peer),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Read::Empty,
            Err(e) if e.kind() == ErrorKind::Interrupted => Read::Failed,
            Err(e) => {
                if let Some(held) = self.log.allow() {
                    tracing::error!("UDP receive failed: {e} ({held} more since the last line)");
                }
                std::thread::sleep(Duration::from_millis(10));
                Read::Failed
            }
        }
    }

    /// A group of `socks`, reader `i` reading `socks[i]`. Sets the sockets
    /// non-blocking: readers wait in `poll`, not in `recv`.
    ///
    /// # Errors
    /// The kernel's refusal of an eventfd or of the socket flag.
    pub fn new(socks: Vec<Arc<UdpSocket>>) -> std::io::Result<Arc<Self>> {
        let mut slots = Vec::with_capacity(socks.len());
        for s in &socks {
            s.set_nonblocking(true)?;
            slots.push(Slot {
                wants_help: AtomicBool::new(false),
                idle: AtomicBool::new(false),
                wake: EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?,
            });
        }
        Ok(Arc::new(Group {
            socks: socks.into(),
            slots: slots.into(),
            log: Throttle::new(Duration::from_secs(60), 5),
        }))
    }

    /// Readers in the group.
    pub fn len(&self) -> usize {
        self.socks.len()
    }

    /// True for a group without readers.
    pub fn is_empty(&self) -> bool {
        self.socks.is_empty()
    }

    /// Reader `me` has a queue: flags it and, unless already flagged, wakes
    /// one idle reader. Returns the reader woken.
    pub fn ask_help(&self, me: usize) -> Option<usize> {
        if self.slots[me].wants_help.swap(true, Ordering::SeqCst) {
            return None;
        }
        let helper = next_after(me, self.len(), |j| {
            self.slots[j].idle.load(Ordering::SeqCst)
        })?;
        // A full counter only means a wake-up is already pending.
        let _ = self.slots[helper].wake.write(1);
        Some(helper)
    }

    /// The reader after `me` that wants help, if any.
    fn needy(&self, me: usize) -> Option<usize> {
        next_after(me, self.len(), |j| {
            self.slots[j].wants_help.load(Ordering::SeqCst)
        })
    }

    /// Reader `i`'s loop (start one thread per reader): reads its own
    /// socket until empty, then helps a reader that asked, then waits for
    /// a query or a call for help. Runs until the process ends.
    pub fn serve(&self, me: usize, handle: &mut impl Handle, helped: &dyn Fn(u64)) {
        let mut buf = vec![0u8; 65535];
        let mut streak = Streak::default();
        let own = &self.socks[me];
        loop {
            match self.read(own, &mut buf) {
                Read::Got(n, peer) => {
                    if streak.read() {
                        self.ask_help(me);
                    }
                    handle.datagram(&buf[..n], peer, own);
                    continue;
                }
                Read::Failed => continue,
                Read::Empty => {
                    streak.empty();
                    self.slots[me].wants_help.store(false, Ordering::Release);
                }
            }
            if let Some(j) = self.needy(me) {
                helped(self.help(j, &mut buf, handle));
                continue;
            }
            self.wait(me);
        }
    }

    /// Reads up to [`HELP_BATCH`] datagrams of reader `j`'s socket; clears
    /// its call when the socket is empty. Returns the datagrams read.
    fn help(&self, j: usize, buf: &mut [u8], handle: &mut impl Handle) -> u64 {
        let sock = &self.socks[j];
        let mut done = 0;
        for _ in 0..HELP_BATCH {
            match self.read(sock, buf) {
                Read::Got(n, peer) => {
                    handle.datagram(&buf[..n], peer, sock);
                    done += 1;
                }
                Read::Failed => break,
                Read::Empty => {
                    self.slots[j].wants_help.store(false, Ordering::Release);
                    break;
                }
            }
        }
        done
    }

    /// Waits until reader `me`'s socket is readable or it is called.
    fn wait(&self, me: usize) {
        let slot = &self.slots[me];
        slot.idle.store(true, Ordering::SeqCst);
        // A call made before the flag was up woke nobody: look again.
        if self.needy(me).is_none() {
            let mut fds = [
                PollFd::new(self.socks[me].as_fd(), PollFlags::POLLIN),
                PollFd::new(slot.wake.as_fd(), PollFlags::POLLIN),
            ];
            let _ = poll(&mut fds, PollTimeout::NONE);
            if fds[1].any().unwrap_or(false) {
                let _ = slot.wake.read();
            }
        }
        slot.idle.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
