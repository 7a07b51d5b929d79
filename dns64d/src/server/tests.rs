//! The server glue with an in-process fake resolver: access, EDNS,
//! truncation, and untrusted bytes that must never panic.

use std::net::{IpAddr, Ipv6Addr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::core::{Failure, PrefixRule};

/// Answers A questions with `n` records of 203.0.113.x, AAAA questions
/// for names starting with "dual" with one AAAA record; NODATA otherwise.
/// Notes every question's type.
struct Fake {
    n: u8,
    asked: std::sync::Mutex<Vec<RecordType>>,
}

impl Resolve for Fake {
    async fn resolve(&self, q: &Question) -> Result<Message, Failure> {
        self.asked.lock().unwrap().push(q.qtype);
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(q.name.clone(), q.qtype));
        if q.qtype == RecordType::AAAA && q.name.to_ascii().starts_with("dual") {
            m.answers.push(Record::from_rdata(
                q.name.clone(),
                3600,
                RData::AAAA(hickory_proto::rr::rdata::AAAA(
                    "2001:db8:2::1".parse().unwrap(),
                )),
            ));
        }
        if q.qtype == RecordType::A {
            for i in 0..self.n {
                m.answers.push(Record::from_rdata(
                    q.name.clone(),
                    3600,
                    RData::A(A(std::net::Ipv4Addr::new(203, 0, 113, i))),
                ));
            }
        }
        Ok(m)
    }
}

fn server(n: u8) -> Server<Fake> {
    server_with(n, vec![], AQuery::Parallel)
}

fn server_with(n: u8, synthesize_for: Vec<IpNet>, a_query: AQuery) -> Server<Fake> {
    Server::new(
        Settings {
            core: Core {
                prefixes: vec![PrefixRule {
                    prefix: common::prefix::WELL_KNOWN_PREFIX,
                    ipv4: vec![],
                }],
                allow_non_global: true,
                exclude: vec![],
            },
            allow_from: vec!["2001:db8:1::/64".parse().unwrap()],
            synthesize_for,
            a_query,
        },
        Fake {
            n,
            asked: std::sync::Mutex::default(),
        },
        1000,
    )
}

const CLIENT: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2));

fn query(name: &str, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii(name).unwrap(),
        RecordType::AAAA,
    ));
    if let Some(size) = edns {
        let mut e = hickory_proto::op::Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn d14_outside_allow_from_is_refused() {
    let s = server(1);
    let out = rt()
        .block_on(s.answer_wire(
            &query("x.test.", None),
            "2001:db8:9::1".parse().unwrap(),
            true,
        ))
        .unwrap();
    let m = Message::from_vec(&out).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(m.answers.is_empty());
    assert_eq!(
        s.stats.queries[1][Outcome::Refused as usize].load(Ordering::Relaxed),
        1
    );
}

#[test]
fn d12_truncated_to_the_client_size_complete_over_tcp() {
    let s = server(40);
    let rt = rt();
    let small = rt
        .block_on(s.answer_wire(&query("many.test.", None), CLIENT, true))
        .unwrap();
    assert!(small.len() <= 512);
    let m = Message::from_vec(&small).unwrap();
    assert!(m.metadata.truncation && m.answers.is_empty());
    let big = rt
        .block_on(s.answer_wire(&query("many.test.", Some(4096)), CLIENT, true))
        .unwrap();
    let m = Message::from_vec(&big).unwrap();
    assert!(
        !m.metadata.truncation,
        "40 AAAA fit our 1232-byte EDNS size"
    );
    assert_eq!(m.answers.len(), 40);
    assert_eq!(
        m.edns.as_ref().map(|e| e.max_payload()),
        Some(EDNS_SIZE),
        "EDNS echoed"
    );
    let tcp = rt
        .block_on(s.answer_wire(&query("many.test.", None), CLIENT, false))
        .unwrap();
    assert_eq!(Message::from_vec(&tcp).unwrap().answers.len(), 40);
}

#[test]
fn untrusted_bytes_never_panic() {
    let s = server(3);
    let rt = rt();
    let good = query("twitter.test.", Some(1232));
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20_000 {
        let input: Vec<u8> = if i % 2 == 0 {
            let len = (next() % 80) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut v = good.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % v.len();
                v[at] = next() as u8;
            }
            v
        };
        if let Some(out) = rt.block_on(s.answer_wire(&input, CLIENT, true)) {
            assert!(out.len() >= 12);
            assert_eq!(out[..2], input[..2], "an answer carries the query's ID");
        }
    }
}

#[test]
fn formerr_keeps_the_id_and_never_answers_a_response() {
    let r = formerr_raw(&[0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff]).unwrap();
    assert_eq!(&r[..4], &[0xab, 0xcd, 0x81, 0x01]);
    assert!(r[4..].iter().all(|b| *b == 0));
    assert_eq!(
        formerr_raw(&[0xab, 0xcd, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
        None
    );
    assert_eq!(formerr_raw(&[1, 2, 3]), None);
}

#[test]
fn d13_second_query_replays_the_kept_answer() {
    let s = server(2);
    let rt = rt();
    let first = rt
        .block_on(s.answer_wire(&query("twitter.test.", Some(1232)), CLIENT, true))
        .unwrap();
    assert_eq!(s.stats.fast_hits.load(Ordering::Relaxed), 0);
    let mut again = query("TWITTER.test.", Some(1232));
    again[0] = 0x99;
    let out = s.answer_fast(&again, CLIENT, true).expect("kept");
    assert_eq!(s.stats.fast_hits.load(Ordering::Relaxed), 1);
    let (a, b) = (
        Message::from_vec(&first).unwrap(),
        Message::from_vec(&out).unwrap(),
    );
    assert_eq!(b.metadata.id, 0x9900 | u16::from(again[1]));
    assert_eq!(b.queries[0].name().to_ascii(), "TWITTER.test.");
    assert_eq!(a.answers, b.answers);
    assert_eq!(
        s.stats.queries[1][Outcome::Synthesized as usize].load(Ordering::Relaxed),
        2,
        "counted like the first"
    );
    assert_eq!(s.stats.synthesized_records.load(Ordering::Relaxed), 4);
    // Another client outside allow_from never gets it.
    assert!(
        s.answer_fast(&again, "2001:db8:9::1".parse().unwrap(), true)
            .is_none()
    );
    // A reload forgets kept answers.
    s.set_settings(s.settings().as_ref().clone());
    assert!(s.answer_fast(&again, CLIENT, true).is_none());
}

/// RFC 6147 §6.3.3: DNS64 for some clients only. A served client outside
/// `synthesize_for` gets the upstream's answer unchanged (NODATA here, and
/// ipv4only.arpa asked upstream), from the fast path too: its kept answer
/// is not the DNS64 client's.
#[test]
fn rfc6147_6_3_3_dns64_for_some_clients_only() {
    let s = server_with(
        1,
        vec!["2001:db8:1::2/128".parse().unwrap()],
        AQuery::Parallel,
    );
    let plain: IpAddr = "2001:db8:1::3".parse().unwrap();
    let rt = rt();
    for round in 0..2 {
        let q = query("twitter.test.", None);
        let ours =
            Message::from_vec(&rt.block_on(s.answer_wire(&q, CLIENT, true)).unwrap()).unwrap();
        let theirs =
            Message::from_vec(&rt.block_on(s.answer_wire(&q, plain, true)).unwrap()).unwrap();
        assert_eq!(
            ours.answers.len(),
            1,
            "round {round}: synthesised for the DNS64 client"
        );
        assert!(
            theirs.answers.is_empty(),
            "round {round}: the upstream's NODATA for the other"
        );
        assert_eq!(theirs.metadata.response_code, ResponseCode::NoError);
    }
    // The DNS64 client's answer is kept and replayed; the other client's
    // question, the same bytes, did not get it (round 2 above). (Its own
    // NODATA carries no SOA, so it is not kept, RFC 2308 §5.)
    assert_eq!(s.stats.fast_hits.load(Ordering::Relaxed), 1);
    let before = s.resolver().asked.lock().unwrap().len();
    let q = query("ipv4only.arpa.", None);
    rt.block_on(s.answer_wire(&q, plain, true)).unwrap();
    assert_eq!(
        s.resolver().asked.lock().unwrap().len(),
        before + 1,
        "asked upstream"
    );
}

/// `a_query = "after_aaaa"`: no A question for a name with AAAA records;
/// for a name without, A after AAAA. `"parallel"` asks both every time.
#[test]
fn a_query_after_aaaa_asks_a_only_when_synthesis_needs_it() {
    let rt = rt();
    for (mode, dual, v4only) in [(AQuery::Parallel, 2, 2), (AQuery::AfterAaaa, 1, 2)] {
        let s = server_with(1, vec![], mode);
        let m = Message::from_vec(
            &rt.block_on(s.answer_wire(&query("dual.test.", None), CLIENT, true))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(m.answers.len(), 1);
        assert_eq!(
            s.resolver().asked.lock().unwrap().len(),
            dual,
            "{mode:?}: dual.test"
        );
        let m = Message::from_vec(
            &rt.block_on(s.answer_wire(&query("v4only.test.", None), CLIENT, true))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(m.answers.len(), 1, "{mode:?}: synthesised");
        assert_eq!(
            s.resolver().asked.lock().unwrap().len(),
            dual + v4only,
            "{mode:?}: v4only.test"
        );
    }
}
