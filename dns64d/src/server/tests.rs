//! The server glue with an in-process fake resolver: access, EDNS,
//! truncation, and untrusted bytes that must never panic.

use std::net::{IpAddr, Ipv6Addr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::core::{Failure, PrefixRule};

/// Answers A questions with `n` records of 203.0.113.x; NODATA otherwise.
struct Fake {
    n: u8,
}

impl Resolve for Fake {
    async fn resolve(&self, q: &Question) -> Result<Message, Failure> {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(q.name.clone(), q.qtype));
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
        },
        Fake { n },
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
