//! A fixed set of UDP sockets per upstream server, reused by every
//! question (req D13 under load): each bound to a random port the kernel
//! picks and connected to the server, read by a task of its own that hands
//! each answer to the question waiting for its ID on that socket. A flood
//! then costs no descriptor per question, and the ID (random, 16 bits) and
//! the port (random, one of [`SOCKETS`]) are what an off-path attacker must
//! guess, as RFC 5452 §9 asks; the question is checked too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::sync::lock;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Sockets per upstream server.
pub(super) const SOCKETS: usize = 8;

/// Datagrams a waiting question may have queued (a spoofed answer with its
/// ID among them): beyond, more are dropped.
const QUEUE: usize = 4;

type Waiting = Arc<Mutex<HashMap<(usize, u16), mpsc::Sender<Vec<u8>>>>>;

/// The sockets of one upstream server and their readers.
#[derive(Debug)]
pub(crate) struct Sockets {
    socks: Vec<Arc<UdpSocket>>,
    waiting: Waiting,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for Sockets {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

/// A question waiting for its answer; leaves the table when dropped
/// (answered, timed out or abandoned).
#[derive(Debug)]
pub(crate) struct Pending {
    waiting: Waiting,
    key: (usize, u16),
    /// The answers that carried this question's ID.
    pub(crate) answers: mpsc::Receiver<Vec<u8>>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        lock(&self.waiting).remove(&self.key);
    }
}

impl Sockets {
    /// Opens [`SOCKETS`] sockets towards `server` and starts their readers
    /// (on the current tokio runtime).
    /// Every datagram read stamps `heard` (milliseconds since `epoch`): the
    /// server is alive, whatever question it answers.
    pub(crate) async fn open(
        server: SocketAddr,
        heard: Arc<std::sync::atomic::AtomicU64>,
        epoch: std::time::Instant,
    ) -> std::io::Result<Sockets> {
        let bind: SocketAddr = if server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let waiting: Waiting = Arc::default();
        let (mut socks, mut readers) = (Vec::new(), Vec::new());
        for i in 0..SOCKETS {
            let s = Arc::new(UdpSocket::bind(bind).await?);
            s.connect(server).await?;
            readers.push(tokio::spawn(read(
                i,
                s.clone(),
                waiting.clone(),
                heard.clone(),
                epoch,
            )));
            socks.push(s);
        }
        Ok(Sockets {
            socks,
            waiting,
            readers,
        })
    }

    /// Registers a question: a socket and an ID free on it, from `pick`
    /// (random numbers); `None` when 16 tries found no free pair.
    pub(crate) fn register(
        &self,
        mut pick: impl FnMut() -> u64,
    ) -> Option<(Arc<UdpSocket>, u16, Pending)> {
        let mut w = lock(&self.waiting);
        for _ in 0..16 {
            let r = pick();
            let key = ((r >> 16) as usize % self.socks.len(), r as u16);
            if w.contains_key(&key) {
                continue;
            }
            let (tx, rx) = mpsc::channel(QUEUE);
            w.insert(key, tx);
            let pending = Pending {
                waiting: self.waiting.clone(),
                key,
                answers: rx,
            };
            return Some((self.socks[key.0].clone(), key.1, pending));
        }
        None
    }

    /// Sends `wire` on the first socket, for no one to wait for (a probe:
    /// its answer only stamps the server as heard).
    pub(crate) async fn send_any(&self, wire: &[u8]) -> std::io::Result<usize> {
        self.socks[0].send(wire).await
    }

    /// Questions waiting now (tests).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.waiting).len()
    }
}

/// Reads socket `i` until aborted, handing each datagram to the question
/// waiting for its ID; anything else is dropped. Each datagram stamps
/// `heard`.
async fn read(
    i: usize,
    sock: Arc<UdpSocket>,
    waiting: Waiting,
    heard: Arc<std::sync::atomic::AtomicU64>,
    epoch: std::time::Instant,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match sock.recv(&mut buf).await {
            Ok(n) => n,
            // ICMP port unreachable from a dead server, say: the question
            // times out; keep reading.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let ms = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        heard.store(ms.max(1), std::sync::atomic::Ordering::Relaxed);
        if n < 2 {
            continue;
        }
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let tx = lock(&waiting).get(&(i, id)).cloned();
        if let Some(tx) = tx {
            let _ = tx.try_send(buf[..n].to_vec());
        }
    }
}
