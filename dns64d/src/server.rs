//! The server (req D12, D14): the access check, EDNS(0), truncation to the
//! client's UDP size, the fast path of kept answers, and the glue that runs
//! the core's plan against the resolver. Counters for `/metrics`. The
//! sockets are [`crate::listen`]'s.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use std::time::Instant;

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use ipnet::IpNet;

use crate::cache::{Shards, lifetime};
use crate::core::{AfterAaaa, Core, Plan, relay, response_to, servfail};
use crate::fast::{Kept, QueryKey, parse_query, reply, ttl_offsets};
use crate::upstream::{EDNS_SIZE, Question, Resolve};
use serde::Deserialize;

/// What may change on SIGHUP without restarting the listeners.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The DNS64 rules.
    pub core: Core,
    /// Clients served (req D14).
    pub allow_from: Vec<IpNet>,
    /// Clients that get DNS64 (empty: all served ones); the others get
    /// the upstream's answers unchanged (RFC 6147 §6.3.3).
    pub synthesize_for: Vec<IpNet>,
    /// When to ask for A.
    pub a_query: AQuery,
}

impl Settings {
    /// Whether `client` gets DNS64.
    pub fn dns64_for(&self, client: IpAddr) -> bool {
        self.synthesize_for.is_empty() || self.synthesize_for.iter().any(|n| n.contains(&client))
    }
}

/// Set in a fast-path key when the answer is for a client without DNS64:
/// the same question has another answer then.
const PLAIN_CLIENT: u8 = 0x80;

/// When to ask for A records (`[dns64] a_query`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AQuery {
    /// A asked together with AAAA: one upstream round trip for a name to
    /// synthesise, an A question wasted for a name with AAAA or none.
    #[default]
    Parallel,
    /// A asked only when the AAAA answer calls for synthesis (as BIND and
    /// Unbound do): two round trips for a name to synthesise, no wasted
    /// question.
    AfterAaaa,
}

pub use stats::{OUTCOMES, Outcome, RCODES, Stats, TYPES};

/// A final answer kept for the fast path, with what the full path counted
/// for it.
#[derive(Debug)]
struct Replay {
    kept: Kept,
    outcome: Outcome,
    synthesized: u16,
}

impl crate::cache::Weight for Replay {
    fn weight(&self) -> usize {
        self.kept.wire.len() + std::mem::size_of_val(&*self.kept.ttls)
    }
}

/// The server: settings (reloadable), the resolver, counters.
#[derive(Debug)]
pub struct Server<R> {
    settings: RwLock<Arc<Settings>>,
    resolver: RwLock<Arc<R>>,
    /// Final answers to plain queries, replayed from their bytes.
    answers: Shards<QueryKey, Replay>,
    epoch: Instant,
    /// Counters.
    pub stats: Stats,
    /// One line per query, when on.
    pub querylog: crate::querylog::QueryLog,
}

fn qtype_of(q: &Message) -> RecordType {
    q.queries
        .first()
        .map_or(RecordType::Unknown(0), |x| x.query_type())
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
    /// A server with these settings and resolver, keeping at most
    /// `answers` final answers for the fast path.
    pub fn new(settings: Settings, resolver: R, answers: usize) -> Self {
        Server {
            settings: RwLock::new(Arc::new(settings)),
            resolver: RwLock::new(Arc::new(resolver)),
            answers: Shards::new(answers),
            epoch: Instant::now(),
            stats: Stats::default(),
            querylog: Default::default(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    /// Final answers kept for the fast path.
    pub fn answers_kept(&self) -> usize {
        self.answers.len()
    }

    /// The bytes of the final answers kept, and how many were evicted or
    /// not kept to stay within their byte bound.
    pub fn answers_bytes(&self) -> (usize, u64) {
        (self.answers.bytes(), self.answers.byte_evictions())
    }

    /// The fast path: the answer to a plain query from an allowed client
    /// whose final answer is kept, from its bytes; `None`: take the full
    /// path ([`Self::answer_wire`]).
    pub fn answer_fast(&self, wire: &[u8], client: IpAddr, udp: bool) -> Option<Vec<u8>> {
        let mut q = parse_query(wire)?;
        let settings = self.settings();
        if !settings.allow_from.iter().any(|n| n.contains(&client)) {
            return None;
        }
        if !settings.dns64_for(client) {
            q.key.flags |= PLAIN_CLIENT;
        }
        let now = self.now();
        let (out, outcome, n) = self.answers.get_with(&q.key, now, |r, age| {
            Some((reply(&r.kept, wire, &q, age)?, r.outcome, r.synthesized))
        })??;
        if udp && out.len() > usize::from(q.udp_size.min(EDNS_SIZE)) {
            return None;
        }
        self.stats.fast_hits.fetch_add(1, Ordering::Relaxed);
        self.stats.queries[type_index(RecordType::from(q.key.qtype))][outcome as usize]
            .fetch_add(1, Ordering::Relaxed);
        if n > 0 {
            self.stats
                .synthesized_records
                .fetch_add(u64::from(n), Ordering::Relaxed);
        }
        Some(out)
    }

    /// Whether `client` is served (req D14).
    pub fn allows(&self, client: IpAddr) -> bool {
        self.settings()
            .allow_from
            .iter()
            .any(|n| n.contains(&client))
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

    /// Replaces the settings (SIGHUP); the kept final answers go with the
    /// old ones.
    pub fn set_settings(&self, s: Settings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(s);
        self.answers.clear();
    }

    /// Replaces the resolver (SIGHUP with new upstreams).
    pub fn set_resolver(&self, r: R) {
        *self.resolver.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(r);
        self.answers.clear();
    }

    fn count(&self, qtype: RecordType, o: Outcome) {
        self.stats.queries[type_index(qtype)][o as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The answer to the wire-format query `wire` from `client`, in wire
    /// format, at most `limit` bytes when `udp`; `None`: no answer.
    pub async fn answer_wire(&self, wire: &[u8], client: IpAddr, udp: bool) -> Option<Vec<u8>> {
        let t0 = Instant::now();
        let transport = if udp { "udp" } else { "tcp" };
        let (out, path) = match self.answer_fast(wire, client, udp) {
            Some(out) => (Some(out), "fast"),
            None => (self.answer_full(wire, client, udp).await, "full"),
        };
        if let Some(o) = &out {
            self.stats
                .latency
                .with_label_values(&[transport, path])
                .observe(t0.elapsed().as_secs_f64());
            let rcode = o.get(3).map_or(0, |b| usize::from(b & 0x0f));
            self.stats
                .answers
                .with_label_values(&[RCODES[rcode], transport])
                .inc();
        }
        if self.querylog.is_on() {
            let now = self.now();
            let q = crate::querylog::Query {
                wire,
                client,
                transport,
                path,
            };
            self.querylog.log(now, &q, out.as_deref(), t0);
        }
        out
    }

    /// Forgets the final answers kept for the fast path (after a cache
    /// flush: they are rebuilt from the upstream cache).
    pub fn forget_answers(&self) {
        self.answers.clear();
    }

    /// [`Self::answer_wire`] past the fast path.
    async fn answer_full(&self, wire: &[u8], client: IpAddr, udp: bool) -> Option<Vec<u8>> {
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
        let (mut m, outcome) = self.decide(&q, client).await;
        self.count(qtype_of(&q), outcome);
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
        self.keep(wire, &m, &out, outcome, client);
        Some(out)
    }

    /// Keeps a final answer to a plain query for the fast path, for as long
    /// as its records live.
    fn keep(&self, query: &[u8], m: &Message, out: &[u8], outcome: Outcome, client: IpAddr) {
        if outcome == Outcome::Refused {
            return;
        }
        let (Some(mut q), Some(ttl)) = (parse_query(query), lifetime(m)) else {
            return;
        };
        if !self.settings().dns64_for(client) {
            q.key.flags |= PLAIN_CLIENT;
        }
        let Some(ttls) = ttl_offsets(out) else { return };
        let synthesized = if outcome == Outcome::Synthesized {
            m.answers
                .iter()
                .filter(|r| r.record_type() == RecordType::AAAA)
                .count() as u16
        } else {
            0
        };
        let r = Replay {
            kept: Kept {
                wire: out.into(),
                ttls,
            },
            outcome,
            synthesized,
        };
        let now = self.now();
        self.answers.put(q.key, r, ttl, now);
    }

    /// The answer to `q` from `client` (req D1–D14), counted.
    pub async fn answer(&self, q: &Message, client: IpAddr) -> Message {
        let (m, o) = self.decide(q, client).await;
        self.count(qtype_of(q), o);
        m
    }

    /// The answer to `q` from `client` and its outcome (not counted yet).
    async fn decide(&self, q: &Message, client: IpAddr) -> (Message, Outcome) {
        let settings = self.settings();
        if !settings.allow_from.iter().any(|n| n.contains(&client)) {
            return (response_to(q, ResponseCode::Refused), Outcome::Refused);
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
        let plan = match core.plan(q) {
            // RFC 6147 §6.3.3: a client without DNS64 gets what the
            // upstream says (ipv4only.arpa and PTR inside the prefix too);
            // only answers to malformed or unsupported queries stay.
            Plan::Synthesize | Plan::Ptr { .. } if !settings.dns64_for(client) => Plan::Forward,
            Plan::Answer(m)
                if !settings.dns64_for(client)
                    && matches!(
                        m.metadata.response_code,
                        ResponseCode::NoError | ResponseCode::NXDomain
                    ) =>
            {
                Plan::Forward
            }
            p => p,
        };
        match plan {
            Plan::Answer(m) => {
                let o = if m.metadata.response_code == ResponseCode::FormErr {
                    Outcome::FormErr
                } else {
                    Outcome::Local
                };
                (m, o)
            }
            Plan::Forward => {
                let Some(query) = q.queries.first() else {
                    return (servfail(q), Outcome::ServFail);
                };
                let question = ask(
                    query.name().clone(),
                    query.query_type(),
                    query.query_class(),
                );
                match resolver.resolve(&question).await {
                    Ok(up) => (relay(q, &up), Outcome::Forwarded),
                    Err(_) => (servfail(q), Outcome::ServFail),
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
                (m, o)
            }
            Plan::Synthesize => {
                self.synthesize(q, core, settings.a_query, &*resolver, ask)
                    .await
            }
        }
    }

    /// AAAA and A asked in parallel (req D13) or A only after the AAAA
    /// answer calls for it (`a_query`); the A answer is used only when the
    /// AAAA one calls for synthesis (req D2–D7).
    async fn synthesize(
        &self,
        q: &Message,
        core: &Core,
        a_query: AQuery,
        resolver: &R,
        ask: impl Fn(hickory_proto::rr::Name, RecordType, DNSClass) -> Question,
    ) -> (Message, Outcome) {
        let Some(query) = q.queries.first() else {
            return (servfail(q), Outcome::ServFail);
        };
        let name = query.name().clone();
        let qa = ask(name.clone(), RecordType::AAAA, DNSClass::IN);
        let qb = ask(name, RecordType::A, DNSClass::IN);
        let (aaaa, a) = match a_query {
            AQuery::Parallel => {
                let (aaaa, a) = tokio::join!(resolver.resolve(&qa), resolver.resolve(&qb));
                (aaaa, Some(a))
            }
            AQuery::AfterAaaa => (resolver.resolve(&qa).await, None),
        };
        let aaaa_ref = aaaa.as_ref().map_err(|e| *e);
        match core.after_aaaa(q, aaaa_ref) {
            AfterAaaa::Answer(m) => {
                let real = m
                    .answers
                    .iter()
                    .any(|r| r.record_type() == RecordType::AAAA);
                (
                    m,
                    if real {
                        Outcome::RealAaaa
                    } else {
                        Outcome::NotSynthesized
                    },
                )
            }
            AfterAaaa::NeedA => {
                let a = match a {
                    Some(a) => a,
                    None => resolver.resolve(&qb).await,
                };
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
                (m, o)
            }
        }
    }
}

mod stats;

#[cfg(test)]
mod tests;
