//! The server shell (SPEC D12, D14): UDP and TCP listeners, the access
//! check, EDNS(0), truncation to the client's UDP size, and the glue that
//! runs the core's plan against the resolver. Counters for `/metrics`.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::core::{AfterAaaa, Core, Plan, relay, response_to, servfail};
use crate::upstream::{EDNS_SIZE, Question, Resolve};

/// What may change on SIGHUP without restarting the listeners.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The DNS64 rules.
    pub core: Core,
    /// Clients served (SPEC D14).
    pub allow_from: Vec<IpNet>,
}

/// Query types counted apart.
pub const TYPES: [&str; 4] = ["a", "aaaa", "ptr", "other"];
/// Outcomes counted.
pub const OUTCOMES: [&str; 8] = [
    "local",
    "forwarded",
    "synthesized",
    "real_aaaa",
    "not_synthesized",
    "servfail",
    "refused",
    "formerr",
];

/// Outcome of one query, indexing [`OUTCOMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered here (ipv4only.arpa, PTR partial, NOTIMP...).
    Local = 0,
    /// Passed through to an upstream and back.
    Forwarded = 1,
    /// Synthesised AAAA records.
    Synthesized = 2,
    /// The name had real AAAA records.
    RealAaaa = 3,
    /// The DNS64 path ended without synthesis (NXDOMAIN, NODATA).
    NotSynthesized = 4,
    /// SERVFAIL because upstreams failed.
    ServFail = 5,
    /// A client outside `allow_from`.
    Refused = 6,
    /// A malformed query.
    FormErr = 7,
}

/// Counters, summed at scrape time.
#[derive(Debug, Default)]
pub struct Stats {
    /// Queries by [`TYPES`] × [`OUTCOMES`].
    pub queries: [[AtomicU64; 8]; 4],
    /// Synthesised AAAA records.
    pub synthesized_records: AtomicU64,
    /// Datagrams dropped unanswered (too short to answer, or responses).
    pub dropped: AtomicU64,
    /// UDP answers truncated to the client's size.
    pub truncated: AtomicU64,
}

/// The server: settings (reloadable), the resolver, counters.
#[derive(Debug)]
pub struct Server<R> {
    settings: RwLock<Arc<Settings>>,
    resolver: RwLock<Arc<R>>,
    /// Counters.
    pub stats: Stats,
}

fn type_index(t: RecordType) -> usize {
    match t {
        RecordType::A => 0,
        RecordType::AAAA => 1,
        RecordType::PTR => 2,
        _ => 3,
    }
}

/// FORMERR for a datagram that is not a DNS message but carries a header:
/// its ID, QR set, opcode kept, counts zero.
pub fn formerr_raw(query: &[u8]) -> Option<Vec<u8>> {
    let h = query.get(..12)?;
    if h[2] & 0x80 != 0 {
        return None; // a response: never answer it
    }
    let mut r = h.to_vec();
    r[2] = 0x80 | (h[2] & 0x79); // QR, opcode and RD kept
    r[3] = 0x01;
    r[4..12].fill(0);
    Some(r)
}

impl<R: Resolve> Server<R> {
    /// A server with these settings and resolver.
    pub fn new(settings: Settings, resolver: R) -> Self {
        Server {
            settings: RwLock::new(Arc::new(settings)),
            resolver: RwLock::new(Arc::new(resolver)),
            stats: Stats::default(),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The current resolver.
    pub fn resolver(&self) -> Arc<R> {
        self.resolver
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the settings (SIGHUP).
    pub fn set_settings(&self, s: Settings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(s);
    }

    /// Replaces the resolver (SIGHUP with new upstreams).
    pub fn set_resolver(&self, r: R) {
        *self.resolver.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(r);
    }

    fn count(&self, qtype: RecordType, o: Outcome) {
        self.stats.queries[type_index(qtype)][o as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The answer to the wire-format query `wire` from `client`, in wire
    /// format, at most `limit` bytes when `udp`; `None`: no answer.
    pub async fn answer_wire(&self, wire: &[u8], client: IpAddr, udp: bool) -> Option<Vec<u8>> {
        let q = match Message::from_vec(wire) {
            Ok(q) if q.metadata.message_type == MessageType::Query => q,
            Ok(_) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Err(_) => {
                let r = formerr_raw(wire);
                if r.is_some() {
                    self.count(RecordType::Unknown(0), Outcome::FormErr);
                } else {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                return r;
            }
        };
        let mut m = self.answer(&q, client).await;
        // EDNS(0) (RFC 6891): answer with our own OPT when the client sent
        // one; a version we do not speak gets BADVERS.
        if let Some(e) = &q.edns {
            let mut ours = Edns::new();
            ours.set_max_payload(EDNS_SIZE);
            ours.set_dnssec_ok(e.flags().dnssec_ok);
            if e.version() > 0 {
                m = response_to(&q, ResponseCode::NoError);
                ours.set_rcode_high(ResponseCode::BADVERS.high());
                m.metadata.response_code = ResponseCode::BADVERS;
            }
            m.set_edns(ours);
        }
        let out = m.to_vec().ok()?;
        let limit = usize::from(q.max_payload().min(EDNS_SIZE.max(512)).max(512));
        if udp && out.len() > limit {
            // D12: too large for the client's UDP size: TC=1, complete
            // over TCP.
            self.stats.truncated.fetch_add(1, Ordering::Relaxed);
            return m.truncate().to_vec().ok();
        }
        Some(out)
    }

    /// The answer to `q` from `client` (SPEC D1–D14).
    pub async fn answer(&self, q: &Message, client: IpAddr) -> Message {
        let settings = self.settings();
        let qtype = q
            .queries
            .first()
            .map_or(RecordType::Unknown(0), |x| x.query_type());
        if !settings.allow_from.iter().any(|n| n.contains(&client)) {
            self.count(qtype, Outcome::Refused);
            return response_to(q, ResponseCode::Refused);
        }
        let core = &settings.core;
        let resolver = self.resolver();
        let ask = |name, qtype, qclass| Question {
            name,
            qtype,
            qclass,
            cd: q.metadata.checking_disabled,
            dnssec_ok: q.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
        };
        match core.plan(q) {
            Plan::Answer(m) => {
                let o = if m.metadata.response_code == ResponseCode::FormErr {
                    Outcome::FormErr
                } else {
                    Outcome::Local
                };
                self.count(qtype, o);
                m
            }
            Plan::Forward => {
                let Some(query) = q.queries.first() else {
                    return servfail(q);
                };
                let question = ask(
                    query.name().clone(),
                    query.query_type(),
                    query.query_class(),
                );
                match resolver.resolve(&question).await {
                    Ok(up) => {
                        self.count(qtype, Outcome::Forwarded);
                        relay(q, &up)
                    }
                    Err(_) => {
                        self.count(qtype, Outcome::ServFail);
                        servfail(q)
                    }
                }
            }
            Plan::Ptr { target } => {
                let up = resolver
                    .resolve(&ask(target.clone(), RecordType::PTR, DNSClass::IN))
                    .await;
                let m = core.ptr_answer(q, &target, up.as_ref().map_err(|e| *e));
                let o = if m.metadata.response_code == ResponseCode::ServFail {
                    Outcome::ServFail
                } else {
                    Outcome::Local
                };
                self.count(qtype, o);
                m
            }
            Plan::Synthesize => {
                let Some(query) = q.queries.first() else {
                    return servfail(q);
                };
                let name = query.name().clone();
                // The AAAA and A questions run in parallel (SPEC D13); the
                // A answer is only used when the AAAA one calls for it.
                let qa = ask(name.clone(), RecordType::AAAA, DNSClass::IN);
                let qb = ask(name, RecordType::A, DNSClass::IN);
                let (aaaa, a) = tokio::join!(resolver.resolve(&qa), resolver.resolve(&qb));
                let aaaa_ref = aaaa.as_ref().map_err(|e| *e);
                match core.after_aaaa(q, aaaa_ref) {
                    AfterAaaa::Answer(m) => {
                        let o = if m
                            .answers
                            .iter()
                            .any(|r| r.record_type() == RecordType::AAAA)
                        {
                            Outcome::RealAaaa
                        } else {
                            Outcome::NotSynthesized
                        };
                        self.count(qtype, o);
                        m
                    }
                    AfterAaaa::NeedA => {
                        let m = core.synthesize(q, aaaa_ref, a.as_ref().map_err(|e| *e));
                        let n = m
                            .answers
                            .iter()
                            .filter(|r| r.record_type() == RecordType::AAAA)
                            .count();
                        let o = if n > 0 {
                            self.stats
                                .synthesized_records
                                .fetch_add(n as u64, Ordering::Relaxed);
                            Outcome::Synthesized
                        } else if m.metadata.response_code == ResponseCode::ServFail {
                            Outcome::ServFail
                        } else {
                            Outcome::NotSynthesized
                        };
                        self.count(qtype, o);
                        m
                    }
                }
            }
        }
    }
}

/// Serves UDP on `sock` until the task is dropped: one task per query.
pub async fn serve_udp<R: Resolve>(server: Arc<Server<R>>, sock: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("dns64d: UDP receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let wire = buf[..n].to_vec();
        let (server, sock) = (server.clone(), sock.clone());
        tokio::spawn(async move {
            if let Some(out) = server.answer_wire(&wire, peer.ip(), true).await {
                let _ = sock.send_to(&out, peer).await;
            }
        });
    }
}

/// Most time a TCP client may stay idle between queries.
pub const TCP_IDLE: Duration = Duration::from_secs(10);

/// Serves TCP on `l` until the task is dropped: one task per connection,
/// its queries answered in order (RFC 7766).
pub async fn serve_tcp<R: Resolve>(server: Arc<Server<R>>, l: TcpListener) {
    loop {
        let (s, peer) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("dns64d: TCP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let _ = tcp_connection(server, s, peer).await;
        });
    }
}

async fn tcp_connection<R: Resolve>(
    server: Arc<Server<R>>,
    mut s: TcpStream,
    peer: SocketAddr,
) -> std::io::Result<()> {
    loop {
        let mut l = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, s.read_exact(&mut l)).await {
            Ok(Ok(_)) => {}
            _ => return Ok(()),
        }
        let mut wire = vec![0u8; usize::from(u16::from_be_bytes(l))];
        tokio::time::timeout(TCP_IDLE, s.read_exact(&mut wire))
            .await
            .map_err(|_| std::io::ErrorKind::TimedOut)??;
        let Some(out) = server.answer_wire(&wire, peer.ip(), false).await else {
            return Ok(());
        };
        let Ok(len) = u16::try_from(out.len()) else {
            return Ok(());
        };
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&out);
        s.write_all(&framed).await?;
    }
}

#[cfg(test)]
mod tests;
