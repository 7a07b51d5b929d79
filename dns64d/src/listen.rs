//! The listeners (req D12, D14) and what bounds them: queries in flight
//! (`max_inflight`: beyond it a UDP query is dropped unanswered, counted,
//! so that a flood, with a dead upstream say, cannot grow tasks, sockets
//! and memory without end; a client retries), TCP connections in all and
//! per client (`max_tcp_connections`, `max_tcp_per_client`: beyond them a
//! connection is closed at accept), clients outside `allow_from` closed at
//! accept before any work, an idle and a write timeout per connection, and
//! a backing-off accept loop whose errors are logged a few times a minute.
//! UDP is served by its own threads and reserve of in-flight slots: nothing
//! done over TCP holds a UDP reader.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::logging::Throttle;
use common::sync::lock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::readers::Group;
use crate::server::Server;
use crate::upstream::Resolve;

/// Most time a TCP client may stay idle between queries, and may take to
/// read an answer.
pub const TCP_IDLE: Duration = Duration::from_secs(10);

/// The bounds, from the `[dns64]` keys of the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Queries being answered at once (full path: upstream questions).
    pub max_inflight: usize,
    /// TCP connections open at once.
    pub max_tcp_connections: usize,
    /// TCP connections one client address may hold.
    pub max_tcp_per_client: u32,
}

/// Counters of what the bounds turned away.
#[derive(Debug, Default)]
pub struct AdmissionStats {
    /// Queries dropped unanswered: `max_inflight` queries in flight.
    pub shed: AtomicU64,
    /// TCP connections closed at accept: the total cap.
    pub tcp_full: AtomicU64,
    /// TCP connections closed at accept: the client's cap.
    pub tcp_client_full: AtomicU64,
    /// TCP connections closed at accept: a client outside `allow_from`.
    pub tcp_not_allowed: AtomicU64,
    /// TCP connections closed: idle, or not reading its answers.
    pub tcp_timed_out: AtomicU64,
    /// UDP datagrams read, by reader (reader `i` runs on the `i`-th CPU
    /// dns64d may use; summed over the listen addresses).
    pub udp_reads: Box<[ReaderCount]>,
    /// Of those, the datagrams each reader read from another reader's
    /// socket, helping it with a queue (`crate::readers`).
    pub udp_helped: Box<[ReaderCount]>,
    /// UDP answers the kernel refused to send (a full send buffer, no
    /// route to the client).
    pub udp_unsent: AtomicU64,
}

/// One reader's count, on a cache line of its own (readers on different
/// CPUs would otherwise contend for one line at every datagram).
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct ReaderCount(pub AtomicU64);

impl Limits {
    /// Descriptors the bounds may use at once: up to two upstream TCP
    /// connections per query in flight (answers retried over TCP; UDP goes
    /// over a fixed set of sockets), one per client TCP connection, and
    /// room for the listeners, the upstream sockets, the metrics endpoint
    /// and the runtime.
    pub fn descriptors(&self) -> u64 {
        (2 * self.max_inflight + self.max_tcp_connections + 128) as u64
    }
}

/// Raises the open-files limit to what `limits` need (within the hard
/// limit), so that the bounds, not the descriptor limit, decide what is
/// refused: with too few descriptors a flood of TCP connections would
/// starve the upstream sockets of UDP queries.
///
/// # Errors
/// When the hard limit is below the need: lower `max_inflight` or
/// `max_tcp_connections`, or raise the limit (`LimitNOFILE=`).
pub fn raise_descriptor_limit(limits: &Limits) -> Result<u64, String> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let need = limits.descriptors();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
    if soft >= need {
        return Ok(soft);
    }
    if hard < need {
        return Err(format!(
            "dns64.max_inflight ({}) and dns64.max_tcp_connections ({}) need {need} open files, \
             but the hard limit is {hard}: lower them, or raise the limit (systemd: LimitNOFILE=)",
            limits.max_inflight, limits.max_tcp_connections
        ));
    }
    setrlimit(Resource::RLIMIT_NOFILE, need, hard).map_err(|e| e.to_string())?;
    Ok(need)
}

/// The shared bounds of the listeners.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    inflight: Arc<Semaphore>,
    tcp: Arc<Semaphore>,
    per_client: Mutex<HashMap<IpAddr, u32>>,
    /// Counters.
    pub stats: AdmissionStats,
    accept_log: Throttle,
}

impl Admission {
    /// Bounds as `limits` says, for `udp_readers` UDP readers per listen
    /// address.
    pub fn new(limits: Limits, udp_readers: usize) -> Self {
        Admission {
            limits,
            inflight: Arc::new(Semaphore::new(limits.max_inflight)),
            tcp: Arc::new(Semaphore::new(limits.max_tcp_connections)),
            per_client: Mutex::new(HashMap::new()),
            stats: AdmissionStats {
                udp_reads: (0..udp_readers).map(|_| ReaderCount::default()).collect(),
                udp_helped: (0..udp_readers).map(|_| ReaderCount::default()).collect(),
                ..AdmissionStats::default()
            },
            accept_log: Throttle::new(Duration::from_secs(60), 5),
        }
    }

    /// Sends a UDP answer; counts it when the kernel refuses it (the
    /// sockets are non-blocking: a full send buffer drops the answer, as a
    /// full queue further down would).
    pub fn send_udp(&self, sock: &std::net::UdpSocket, out: &[u8], peer: SocketAddr) {
        if sock.send_to(out, peer).is_err() {
            self.stats.udp_unsent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queries in flight now.
    pub fn inflight(&self) -> usize {
        self.limits.max_inflight - self.inflight.available_permits()
    }

    /// TCP connections open now.
    pub fn tcp_connections(&self) -> usize {
        self.limits.max_tcp_connections - self.tcp.available_permits()
    }

    /// A slot for one query in flight, or `None` (counted as shed).
    fn query_slot(&self) -> Option<OwnedSemaphorePermit> {
        let slot = self.inflight.clone().try_acquire_owned().ok();
        if slot.is_none() {
            self.stats.shed.fetch_add(1, Ordering::Relaxed);
        }
        slot
    }

    /// Admits a TCP connection from `client`, or says why not (counted).
    fn tcp_slot(self: &Arc<Self>, client: IpAddr) -> Option<TcpSlot> {
        let Ok(permit) = self.tcp.clone().try_acquire_owned() else {
            self.stats.tcp_full.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let mut m = lock(&self.per_client);
        let n = m.entry(client).or_insert(0);
        if *n >= self.limits.max_tcp_per_client {
            self.stats.tcp_client_full.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *n += 1;
        Some(TcpSlot {
            admission: self.clone(),
            client,
            _permit: permit,
        })
    }
}

/// One admitted TCP connection; gives its place back when dropped.
#[derive(Debug)]
struct TcpSlot {
    admission: Arc<Admission>,
    client: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for TcpSlot {
    fn drop(&mut self) {
        let mut m = lock(&self.admission.per_client);
        if let Some(n) = m.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.client);
            }
        }
    }
}

/// Serves UDP as reader number `reader` of `group`, from a plain thread
/// (start one per CPU, each on its own socket of the reuseport group):
/// answers from the fast path are sent at once; everything else becomes a
/// task on `rt`, within `max_inflight`. A reader with a queue is helped by
/// the idle ones (`crate::readers`). Runs until the process ends.
pub fn serve_udp<R: Resolve>(
    server: Arc<Server<R>>,
    admission: Arc<Admission>,
    group: Arc<Group>,
    rt: tokio::runtime::Handle,
    reader: usize,
) {
    let no_count = ReaderCount::default();
    let stats = &admission.stats;
    let reads = &stats.udp_reads.get(reader).unwrap_or(&no_count).0;
    let helped = &stats.udp_helped.get(reader).unwrap_or(&no_count).0;
    let mut answer = |wire: &[u8], peer: SocketAddr, sock: &Arc<std::net::UdpSocket>| {
        reads.fetch_add(1, Ordering::Relaxed);
        if let Some(out) = server.answer_fast(wire, peer.ip(), true) {
            admission.send_udp(sock, &out, peer);
            return;
        }
        let Some(slot) = admission.query_slot() else {
            return;
        };
        let wire = wire.to_vec();
        let (server, sock, admission) = (server.clone(), sock.clone(), admission.clone());
        rt.spawn(async move {
            if let Some(out) = server.answer_wire(&wire, peer.ip(), true).await {
                admission.send_udp(&sock, &out, peer);
            }
            drop(slot);
        });
    };
    group.serve(reader, &mut answer, &|n| {
        helped.fetch_add(n, Ordering::Relaxed);
    });
}

/// Serves TCP on `l` until the task is dropped: one task per admitted
/// connection, its queries answered in order (RFC 7766).
pub async fn serve_tcp<R: Resolve>(
    server: Arc<Server<R>>,
    admission: Arc<Admission>,
    l: TcpListener,
) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let (s, peer) = match l.accept().await {
            Ok(x) => {
                backoff = Duration::from_millis(10);
                x
            }
            Err(e) => {
                // Out of descriptors, say: wait before trying again, longer
                // each time, and log a few times a minute.
                if let Some(held) = admission.accept_log.allow() {
                    tracing::error!("TCP accept failed: {e} ({held} more since the last line)");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        if !server.allows(peer.ip()) {
            admission
                .stats
                .tcp_not_allowed
                .fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let Some(slot) = admission.tcp_slot(peer.ip()) else {
            continue;
        };
        let (server, admission) = (server.clone(), admission.clone());
        tokio::spawn(async move {
            let _ = tcp_connection(&server, &admission, s, peer).await;
            drop(slot);
        });
    }
}

async fn tcp_connection<R: Resolve>(
    server: &Server<R>,
    admission: &Admission,
    mut s: TcpStream,
    peer: SocketAddr,
) -> std::io::Result<()> {
    let timed_out = || {
        admission
            .stats
            .tcp_timed_out
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    };
    loop {
        let mut l = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, s.read_exact(&mut l)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Ok(()),
            Err(_) => return timed_out(),
        }
        let mut wire = vec![0u8; usize::from(u16::from_be_bytes(l))];
        match tokio::time::timeout(TCP_IDLE, s.read_exact(&mut wire)).await {
            Ok(r) => r?,
            Err(_) => return timed_out(),
        };
        let Some(slot) = admission.query_slot() else {
            return Ok(());
        };
        let out = server.answer_wire(&wire, peer.ip(), false).await;
        drop(slot);
        let Some(out) = out else {
            return Ok(());
        };
        let Ok(len) = u16::try_from(out.len()) else {
            return Ok(());
        };
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&out);
        // A client that sends and never reads is let go.
        match tokio::time::timeout(TCP_IDLE, s.write_all(&framed)).await {
            Ok(r) => r?,
            Err(_) => return timed_out(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_the_kernel_refuses_is_counted() {
        let limits = Limits {
            max_inflight: 4,
            max_tcp_connections: 4,
            max_tcp_per_client: 1,
        };
        let a = Admission::new(limits, 1);
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = sock.local_addr().unwrap();
        a.send_udp(&sock, b"answer", to);
        assert_eq!(a.stats.udp_unsent.load(Ordering::Relaxed), 0);
        // An IPv4 socket cannot send to an IPv6 client: refused, counted.
        a.send_udp(&sock, b"answer", "[2001:db8::1]:53".parse().unwrap());
        assert_eq!(a.stats.udp_unsent.load(Ordering::Relaxed), 1);
    }
}
