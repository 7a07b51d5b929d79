//! Asking upstream resolvers (req D13): the [`Resolve`] trait the server
//! uses, the real client over UDP with TCP when the answer is truncated,
//! a per-server timeout and failover to the next server, and the cache in
//! front of it. Tests put an in-process fake behind the same trait.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::logging::Throttle;

mod health;
mod sockets;
use health::{Change, Health};
use sockets::Sockets;

use crate::cache::{Cache, Key};
use crate::core::Failure;

/// One upstream question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// QNAME.
    pub name: Name,
    /// QTYPE.
    pub qtype: RecordType,
    /// QCLASS.
    pub qclass: DNSClass,
    /// The client's CD bit, passed on (req D10).
    pub cd: bool,
    /// The client's DO bit, passed on.
    pub dnssec_ok: bool,
}

/// Something that answers questions: the upstream client, the cache in
/// front of it, or a test's fake.
pub trait Resolve: Send + Sync + 'static {
    /// The answer to `q`, or why there is none.
    fn resolve(&self, q: &Question) -> impl Future<Output = Result<Message, Failure>> + Send;
}

/// Our EDNS(0) UDP size towards upstreams (the DNS flag day 2020 value).
pub const EDNS_SIZE: u16 = 1232;

/// Counters of one upstream server.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Questions sent.
    pub queries: AtomicU64,
    /// No answer in time.
    pub timeouts: AtomicU64,
    /// Network errors and unusable answers.
    pub errors: AtomicU64,
    /// Answers retried over TCP because they were truncated.
    pub tcp_retries: AtomicU64,
}

/// Round trips of answered upstream questions, by server
/// (`dns64d_upstream_rtt_seconds`); one family for the process, since a
/// reload may replace the client.
pub static UPSTREAM_RTT: std::sync::LazyLock<common::metrics::HistogramVec> =
    std::sync::LazyLock::new(|| {
        common::metrics::latency_histogram(
            "dns64d_upstream_rtt_seconds",
            "Round trip of each answered upstream question (over TCP too), by server.",
            &["server"],
        )
    });

/// The real upstream client: the servers in order, each given `timeout`.
#[derive(Debug)]
pub struct Client {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    /// Per-server counters, in `servers` order.
    pub stats: Vec<ServerStats>,
    ids: RandomState,
    counter: AtomicU64,
    /// What a dead or failing upstream makes us log: a few lines a minute
    /// and a count of the rest, never a line per question.
    log: Throttle,
    /// Each server's UDP sockets, opened on first use.
    sockets: Vec<tokio::sync::OnceCell<Sockets>>,
    /// Each server's health.
    health: Vec<Mutex<Health>>,
    /// When a datagram last arrived from each server (milliseconds since
    /// `epoch`; 0: never), written by its socket readers.
    heard: Vec<std::sync::Arc<AtomicU64>>,
    epoch: Instant,
    /// Each server as a metric label.
    labels: Vec<String>,
}

impl Client {
    /// A client for `servers`.
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration) -> Client {
        let stats = servers.iter().map(|_| ServerStats::default()).collect();
        let sockets = servers
            .iter()
            .map(|_| tokio::sync::OnceCell::new())
            .collect();
        Client {
            sockets,
            health: servers.iter().map(|_| Mutex::default()).collect(),
            labels: servers.iter().map(ToString::to_string).collect(),
            heard: servers.iter().map(|_| std::sync::Arc::default()).collect(),
            epoch: Instant::now(),
            servers,
            timeout,
            stats,
            ids: RandomState::new(),
            counter: AtomicU64::new(0),
            log: Throttle::new(Duration::from_secs(60), 10),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether server `i` is up now (for `/metrics`).
    pub fn is_up(&self, i: usize) -> bool {
        self.health
            .get(i)
            .is_some_and(|h| common::sync::lock(h).is_up())
    }

    /// Server `i`'s health for `nat64gw dns upstreams`: up, how long it
    /// has been down (ms), how long since anything arrived from it (ms;
    /// `None`: nothing yet).
    pub fn health(&self, i: usize) -> Option<(bool, Option<u64>, Option<u64>)> {
        let h = *common::sync::lock(self.health.get(i)?);
        let now = self.now_ms();
        let heard = self.heard[i].load(Ordering::Relaxed);
        Some((
            h.is_up(),
            h.down_since().map(|t| now.saturating_sub(t)),
            (heard > 0).then(|| now.saturating_sub(heard)),
        ))
    }

    /// Notes a change of server `i`'s state in the log (at most one line
    /// per change: a down server changes back at most once a probe).
    fn said(&self, i: usize, c: Option<Change>) {
        match c {
            Some(Change::Down) => tracing::warn!(
                "upstream {} marked down: questions go to the others while it is probed every {} ms",
                self.servers[i],
                health::PROBE_EVERY_MS
            ),
            Some(Change::Up) => {
                tracing::info!("upstream {} answers again: back in use", self.servers[i])
            }
            None => {}
        }
    }

    /// The servers to ask, in order: those up; all of them when none is.
    /// Probes the down ones that are due with `q`, without waiting.
    async fn order(&self, q: &Question) -> Vec<usize> {
        let now = self.now_ms();
        let mut up = Vec::with_capacity(self.servers.len());
        let mut probe = Vec::new();
        for i in 0..self.servers.len() {
            let heard = self.heard[i].load(Ordering::Relaxed);
            let (usable, change, due) = {
                let mut h = common::sync::lock(&self.health[i]);
                let (usable, change) = h.usable(heard);
                (usable, change, !usable && h.probe_due(now))
            };
            self.said(i, change);
            if usable {
                up.push(i);
            } else if due {
                probe.push(i);
            }
        }
        for i in probe {
            self.probe(i, q).await;
        }
        if up.is_empty() {
            (0..self.servers.len()).collect()
        } else {
            up
        }
    }

    /// Sends `q` to server `i` and does not wait: any answer, read by the
    /// server's sockets, brings it back.
    async fn probe(&self, i: usize, q: &Question) {
        let Ok(socks) = self.sockets[i]
            .get_or_try_init(|| Sockets::open(self.servers[i], self.heard[i].clone(), self.epoch))
            .await
        else {
            return;
        };
        if let Ok(wire) = self.message(q).to_vec() {
            let _ = socks.send_any(&wire).await;
            self.stats[i].queries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The servers, in order.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// An unpredictable query ID (keyed SipHash of a counter): with the
    /// random source port of each query, what an off-path attacker must
    /// guess.
    fn next_id(&self) -> u16 {
        self.ids
            .hash_one(self.counter.fetch_add(1, Ordering::Relaxed)) as u16
    }

    fn message(&self, q: &Question) -> Message {
        let mut m = Message::new(self.next_id(), MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.metadata.checking_disabled = q.cd;
        let mut query = Query::query(q.name.clone(), q.qtype);
        query.set_query_class(q.qclass);
        m.add_query(query);
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_SIZE);
        edns.set_dnssec_ok(q.dnssec_ok);
        m.set_edns(edns);
        m
    }

    /// Asks server `i` over UDP through its socket set (opened on first
    /// use, on the runtime the question runs on).
    async fn ask(&self, i: usize, q: &Question) -> Result<Message, AskError> {
        let socks = self.sockets[i]
            .get_or_try_init(|| Sockets::open(self.servers[i], self.heard[i].clone(), self.epoch))
            .await
            .map_err(AskError::Io)?;
        let mut query = self.message(q);
        let ids = || {
            self.ids
                .hash_one(self.counter.fetch_add(1, Ordering::Relaxed))
        };
        let Some((sock, id, mut pending)) = socks.register(ids) else {
            return Err(AskError::Io(std::io::Error::other("no free query ID")));
        };
        query.metadata.id = id;
        let wire = query.to_vec().map_err(|_| AskError::Unusable)?;
        sock.send(&wire).await.map_err(AskError::Io)?;
        // Anything that is not the answer to this very question (ID and
        // question) is ignored: spoofing attempts, late answers.
        while let Some(bytes) = pending.answers.recv().await {
            let Ok(m) = Message::from_vec(&bytes) else {
                continue;
            };
            if !answers(&query, &m) {
                continue;
            }
            if m.metadata.truncation {
                return Err(AskError::Truncated);
            }
            return Ok(m);
        }
        Err(AskError::Io(std::io::Error::other(
            "the upstream reader stopped",
        )))
    }

    async fn ask_tcp(&self, server: SocketAddr, q: &Question) -> Result<Message, AskError> {
        let query = self.message(q);
        let wire = query.to_vec().map_err(|_| AskError::Unusable)?;
        let mut s = TcpStream::connect(server).await.map_err(AskError::Io)?;
        let len = u16::try_from(wire.len()).map_err(|_| AskError::Unusable)?;
        let mut out = Vec::with_capacity(wire.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&wire);
        s.write_all(&out).await.map_err(AskError::Io)?;
        let mut l = [0u8; 2];
        s.read_exact(&mut l).await.map_err(AskError::Io)?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(l))];
        s.read_exact(&mut buf).await.map_err(AskError::Io)?;
        let m = Message::from_vec(&buf).map_err(|_| AskError::Unusable)?;
        if !answers(&query, &m) {
            return Err(AskError::Unusable);
        }
        Ok(m)
    }
}

/// Whether `m` is the answer to `query`: same ID, a response, same
/// question (name compared without case).
fn answers(query: &Message, m: &Message) -> bool {
    m.metadata.id == query.metadata.id
        && m.metadata.message_type == MessageType::Response
        && m.queries.len() == 1
        && query.queries.first().is_some_and(|q| {
            let a = &m.queries[0];
            a.query_type() == q.query_type()
                && a.query_class() == q.query_class()
                && a.name().eq_ignore_root(q.name())
        })
}

#[derive(Debug)]
enum AskError {
    Io(std::io::Error),
    Truncated,
    Unusable,
}

/// The tail of a throttled log line: how many like it were held back.
fn held_back(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(
            " ({n} more upstream failures since the last line; counted in dns64d_upstream_total)"
        )
    }
}

impl Resolve for Client {
    async fn resolve(&self, q: &Question) -> Result<Message, Failure> {
        let mut failure = Failure::Unreachable;
        for i in self.order(q).await {
            let server = self.servers[i];
            let stats = &self.stats[i];
            stats.queries.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let got = match tokio::time::timeout(self.timeout, self.ask(i, q)).await {
                Ok(Err(AskError::Truncated)) => {
                    stats.tcp_retries.fetch_add(1, Ordering::Relaxed);
                    let left = self.timeout.saturating_sub(started.elapsed()) + self.timeout;
                    match tokio::time::timeout(left, self.ask_tcp(server, q)).await {
                        Ok(r) => r,
                        Err(_) => {
                            stats.timeouts.fetch_add(1, Ordering::Relaxed);
                            let c = common::sync::lock(&self.health[i]).timed_out(self.now_ms());
                            self.said(i, c);
                            if let Some(held) = self.log.allow() {
                                tracing::warn!(
                                    "upstream {server} timed out over TCP for {} {}; trying the next{}",
                                    q.name,
                                    q.qtype,
                                    held_back(held)
                                );
                            }
                            failure = Failure::Timeout;
                            continue;
                        }
                    }
                }
                Ok(r) => r,
                Err(_) => {
                    stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    let c = common::sync::lock(&self.health[i]).timed_out(self.now_ms());
                    self.said(i, c);
                    if let Some(held) = self.log.allow() {
                        tracing::warn!(
                            "upstream {server} did not answer {} {} within {} ms; trying the next{}",
                            q.name,
                            q.qtype,
                            self.timeout.as_millis(),
                            held_back(held)
                        );
                    }
                    failure = Failure::Timeout;
                    continue;
                }
            };
            match got {
                Ok(m) => {
                    UPSTREAM_RTT
                        .with_label_values(&[&self.labels[i]])
                        .observe(started.elapsed().as_secs_f64());
                    let c = common::sync::lock(&self.health[i]).answered();
                    self.said(i, c);
                    return Ok(m);
                }
                Err(e) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(held) = self.log.allow() {
                        tracing::warn!(
                            "upstream {server} failed for {} {}: {}; trying the next{}",
                            q.name,
                            q.qtype,
                            match e {
                                AskError::Io(e) => e.to_string(),
                                AskError::Truncated => "truncated over TCP".into(),
                                AskError::Unusable => "unusable answer".into(),
                            },
                            held_back(held)
                        );
                    }
                }
            }
        }
        Err(failure)
    }
}

/// The cache in front of a resolver (req D13), shared by every path.
#[derive(Debug)]
pub struct Cached<R> {
    /// The resolver asked on a miss.
    pub inner: R,
    cache: Cache,
    epoch: Instant,
    /// Hits.
    pub hits: AtomicU64,
    /// Misses.
    pub misses: AtomicU64,
}

impl<R> Cached<R> {
    /// `inner` behind a cache of `capacity` answers.
    pub fn new(inner: R, capacity: usize) -> Self {
        Cached {
            inner,
            cache: Cache::new(capacity),
            epoch: Instant::now(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    /// Answers cached now.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached answers' bytes now.
    pub fn bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Answers evicted, or not kept, to stay within the cache's byte bound.
    pub fn byte_evictions(&self) -> u64 {
        self.cache.byte_evictions()
    }

    /// At most `limit` cached answers whose key `pick` accepts, and how
    /// many there are (`nat64gw dns cache lookup|dump`). One shard of the
    /// cache is locked at a time; the answers are read after.
    pub fn rows(
        &self,
        limit: usize,
        pick: impl Fn(&Key) -> bool,
    ) -> (Vec<crate::cache::Row>, usize) {
        let now = self.now();
        self.cache.rows(now, limit, pick)
    }

    /// Forgets the answers for `name`, or all; returns how many went.
    pub fn flush(&self, name: Option<&Name>) -> usize {
        match name {
            Some(n) => self.cache.flush_name(n),
            None => self.cache.clear(),
        }
    }
}

impl<R: Resolve> Resolve for Cached<R> {
    async fn resolve(&self, q: &Question) -> Result<Message, Failure> {
        let key = Key::new(&q.name, q.qtype, q.qclass, q.cd);
        if let Some(m) = self.cache.get(&key, self.now()) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(m);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let m = self.inner.resolve(q).await?;
        self.cache.put(key, &m, self.now());
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use std::sync::Arc;

    use tokio::net::UdpSocket;

    /// A fake upstream on loopback: for every question, first a spoofed
    /// answer (right ID, another name), then the real one (an A record).
    async fn fake_upstream() -> SocketAddr {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = s.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = s.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut spoof = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                spoof.add_query(Query::query(
                    Name::from_str("evil.test.").unwrap(),
                    RecordType::A,
                ));
                let _ = s.send_to(&spoof.to_vec().unwrap(), peer).await;
                let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                r.add_query(q.queries[0].clone());
                let _ = s.send_to(&r.to_vec().unwrap(), peer).await;
            }
        });
        addr
    }

    /// 100 questions at once share the server's fixed set of sockets; each
    /// gets its own answer (the spoofed one is ignored), and none is left
    /// waiting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn questions_share_a_fixed_set_of_sockets() {
        let server = fake_upstream().await;
        let client = Arc::new(Client::new(vec![server], Duration::from_secs(2)));
        let mut tasks = Vec::new();
        for i in 0..100 {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let q = Question {
                    name: Name::from_str(&format!("n{i}.test.")).unwrap(),
                    qtype: RecordType::A,
                    qclass: DNSClass::IN,
                    cd: false,
                    dnssec_ok: false,
                };
                let t0 = std::time::Instant::now();
                let m = match client.resolve(&q).await {
                    Ok(m) => m,
                    Err(e) => panic!("{}: {e:?} after {:?}", q.name, t0.elapsed()),
                };
                assert_eq!(
                    m.queries[0].name(),
                    &q.name,
                    "its own answer, not the spoof"
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let socks = client.sockets[0].get().expect("opened");
        assert_eq!(socks.waiting(), 0);
        assert_eq!(client.stats[0].queries.load(Ordering::Relaxed), 100);
        assert_eq!(client.stats[0].timeouts.load(Ordering::Relaxed), 0);
    }

    fn question(i: usize) -> Question {
        Question {
            name: Name::from_str(&format!("h{i}.test.")).unwrap(),
            qtype: RecordType::A,
            qclass: DNSClass::IN,
            cd: false,
            dnssec_ok: false,
        }
    }

    /// A dead first upstream costs one timeout, not one per question: it
    /// is marked down, the next questions go straight to the second, and
    /// it is probed about once a second; once it answers (here: a server
    /// starts on its address) it is back in use.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn d13_a_dead_upstream_is_skipped_probed_and_taken_back() {
        // Reserve an address with nobody answering on it.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dead = silent.local_addr().unwrap();
        let live = fake_upstream().await;
        let client = Client::new(vec![dead, live], Duration::from_millis(200));
        let t0 = std::time::Instant::now();
        for i in 0..20 {
            client.resolve(&question(i)).await.unwrap();
        }
        let took = t0.elapsed();
        assert!(!client.is_up(0) && client.is_up(1));
        assert_eq!(
            client.stats[0].timeouts.load(Ordering::Relaxed),
            1,
            "one timeout"
        );
        let to_dead = client.stats[0].queries.load(Ordering::Relaxed);
        assert!(
            to_dead <= 1 + 1 + took.as_secs(),
            "the question and about a probe a second: {to_dead} in {took:?}"
        );
        // The dead address comes to life: a probe's answer brings it back.
        drop(silent);
        let revived = UdpSocket::bind(dead).await.unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = revived.recv_from(&mut buf).await {
                if let Ok(q) = Message::from_vec(&buf[..n]) {
                    let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                    r.add_query(q.queries[0].clone());
                    let _ = revived.send_to(&r.to_vec().unwrap(), peer).await;
                }
            }
        });
        let mut back = false;
        for i in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            client.resolve(&question(100 + i)).await.unwrap();
            if client.is_up(0) {
                back = true;
                break;
            }
        }
        assert!(back, "the revived upstream was taken back");
    }
}
