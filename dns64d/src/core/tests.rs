//! Core tests, named after the requirement ids of docs/requirements.md: every upstream answer is built
//! here (an in-process fake upstream), every answer checked record by
//! record.

use std::net::{Ipv4Addr, Ipv6Addr};

use common::prefix::{Nat64Prefix, WELL_KNOWN_PREFIX};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NULL, PTR, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn core() -> Core {
    Core {
        prefixes: vec![PrefixRule {
            prefix: WELL_KNOWN_PREFIX,
            ipv4: vec![],
        }],
        // The tests use documentation addresses, as the lab does.
        allow_non_global: true,
        exclude: vec!["::ffff:0:0/96".parse().unwrap()],
    }
}

fn query(name: &str, t: RecordType) -> Message {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(n(name), t));
    m
}

/// An upstream answer to `q`'s question.
fn up(q: &Message, rcode: ResponseCode, answers: Vec<Record>, auth: Vec<Record>) -> Message {
    let mut m = Message::new(0x9999, MessageType::Response, OpCode::Query);
    m.metadata.response_code = rcode;
    m.queries.clone_from(&q.queries);
    m.answers = answers;
    m.authorities = auth;
    m
}

fn a(name: &str, ttl: u32, v4: &str) -> Record {
    Record::from_rdata(n(name), ttl, RData::A(A(v4.parse().unwrap())))
}
fn aaaa(name: &str, ttl: u32, v6: &str) -> Record {
    Record::from_rdata(n(name), ttl, RData::AAAA(AAAA(v6.parse().unwrap())))
}
fn cname(name: &str, to: &str) -> Record {
    Record::from_rdata(n(name), 300, RData::CNAME(CNAME(n(to))))
}
/// SOA with record TTL `ttl` and MINIMUM `min`.
fn soa(ttl: u32, min: u32) -> Record {
    Record::from_rdata(
        n("test."),
        ttl,
        RData::SOA(SOA::new(
            n("ns.test."),
            n("hostmaster.test."),
            1,
            3600,
            900,
            604800,
            min,
        )),
    )
}

fn aaaa_of(m: &Message) -> Vec<(Name, u32, Ipv6Addr)> {
    m.answers
        .iter()
        .filter_map(|r| match r.data {
            RData::AAAA(AAAA(x)) => Some((r.name.clone(), r.ttl, x)),
            _ => None,
        })
        .collect()
}

fn w(v4: &str) -> Ipv6Addr {
    embed(&WELL_KNOWN_PREFIX, v4.parse().unwrap())
}

/// Runs the whole DNS64 flow for `q` against fake AAAA and A answers.
fn dns64(c: &Core, q: &Message, aaaa: Upstream<'_>, a: Upstream<'_>) -> Message {
    assert_eq!(c.plan(q), Plan::Synthesize);
    match c.after_aaaa(q, aaaa) {
        AfterAaaa::Answer(m) => m,
        AfterAaaa::NeedA => c.synthesize(q, aaaa, a),
    }
}

#[test]
fn d1_other_types_and_classes_pass_through() {
    let c = core();
    for t in [
        RecordType::A,
        RecordType::MX,
        RecordType::TXT,
        RecordType::ANY,
        RecordType::NS,
        RecordType::SOA,
    ] {
        assert_eq!(c.plan(&query("twitter.test.", t)), Plan::Forward, "{t}");
    }
    let mut ch = query("version.bind.", RecordType::AAAA);
    ch.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(c.plan(&ch), Plan::Forward, "class CH untouched");
}

/// RFC 6147 §5.3.2: a synthesised answer carries the authority and
/// additional sections of the A response it was made from; the additional
/// section passes unchanged (its A record is not synthesised into AAAA).
#[test]
fn rfc6147_5_3_2_authority_and_additional_come_from_the_a_response() {
    let c = core();
    let q = query("twitter.test.", RecordType::AAAA);
    let aq = query("twitter.test.", RecordType::A);
    let ns = Record::from_rdata(
        n("test."),
        3600,
        RData::NS(hickory_proto::rr::rdata::NS(n("ns.test."))),
    );
    let glue = a("ns.test.", 3600, "192.0.2.53");
    let mut au = up(
        &aq,
        ResponseCode::NoError,
        vec![a("twitter.test.", 3600, "203.0.113.10")],
        vec![ns.clone()],
    );
    au.additionals.push(glue.clone());
    let nodata = up(&q, ResponseCode::NoError, vec![], vec![soa(3600, 300)]);
    let m = dns64(&c, &q, Ok(&nodata), Ok(&au));
    assert_eq!(m.answers.len(), 1);
    assert_eq!(
        m.authorities,
        vec![ns],
        "the A response's authority, not the AAAA's SOA"
    );
    assert_eq!(
        m.additionals,
        vec![glue],
        "unchanged, nothing synthesised into it"
    );
}

#[test]
fn d2_real_aaaa_is_returned_without_synthesis() {
    let c = core();
    let q = query("dual.test.", RecordType::AAAA);
    let u = up(
        &q,
        ResponseCode::NoError,
        vec![aaaa("dual.test.", 3600, "2001:db8:2::12")],
        vec![],
    );
    let AfterAaaa::Answer(m) = c.after_aaaa(&q, Ok(&u)) else {
        panic!("A asked for a name with AAAA")
    };
    assert_eq!(m.metadata.id, 0x1234, "the client's ID");
    assert_eq!(
        aaaa_of(&m),
        vec![(n("dual.test."), 3600, "2001:db8:2::12".parse().unwrap())]
    );
}

#[test]
fn d3_nxdomain_is_returned_and_never_synthesised() {
    let c = core();
    let q = query("missing.test.", RecordType::AAAA);
    let u = up(&q, ResponseCode::NXDomain, vec![], vec![soa(3600, 300)]);
    let AfterAaaa::Answer(m) = c.after_aaaa(&q, Ok(&u)) else {
        panic!("A asked after NXDOMAIN")
    };
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
}

#[test]
fn d4_nodata_servfail_refused_and_timeout_still_synthesise() {
    let c = core();
    let q = query("twitter.test.", RecordType::AAAA);
    let aq = query("twitter.test.", RecordType::A);
    let au = up(
        &aq,
        ResponseCode::NoError,
        vec![a("twitter.test.", 3600, "203.0.113.10")],
        vec![],
    );
    let nodata = up(&q, ResponseCode::NoError, vec![], vec![soa(3600, 300)]);
    let servfail = up(&q, ResponseCode::ServFail, vec![], vec![]);
    let refused = up(&q, ResponseCode::Refused, vec![], vec![]);
    for (what, aaaa) in [
        ("NODATA", Ok(&nodata)),
        ("SERVFAIL", Ok(&servfail)),
        ("REFUSED", Ok(&refused)),
        ("timeout", Err(Failure::Timeout)),
    ] {
        let m = dns64(&c, &q, aaaa, Ok(&au));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{what}");
        assert_eq!(aaaa_of(&m).len(), 1, "{what}");
        assert_eq!(aaaa_of(&m)[0].2, w("203.0.113.10"), "{what}");
        assert!(!m.metadata.authentic_data);
    }
    // A empty too: the AAAA answer stands.
    let empty = up(&aq, ResponseCode::NoError, vec![], vec![soa(3600, 300)]);
    let m = dns64(&c, &q, Ok(&nodata), Ok(&empty));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1, "the NODATA's SOA");
    // Both failed: SERVFAIL.
    let m = dns64(&c, &q, Err(Failure::Timeout), Err(Failure::Unreachable));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    // AAAA SERVFAIL, A failed: the SERVFAIL.
    let m = dns64(&c, &q, Ok(&servfail), Err(Failure::Timeout));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn d4_several_a_records_one_aaaa_each() {
    let c = core();
    let q = query("multi.test.", RecordType::AAAA);
    let aq = query("multi.test.", RecordType::A);
    let au = up(
        &aq,
        ResponseCode::NoError,
        (20..23)
            .map(|i| a("multi.test.", 3600, &format!("203.0.113.{i}")))
            .collect(),
        vec![],
    );
    let m = dns64(&c, &q, Err(Failure::Timeout), Ok(&au));
    let got: Vec<_> = aaaa_of(&m).into_iter().map(|x| x.2).collect();
    assert_eq!(
        got,
        vec![w("203.0.113.20"), w("203.0.113.21"), w("203.0.113.22")]
    );
}

#[test]
fn d5_partial_and_total_exclusion() {
    let c = core();
    let q = query("mapped.test.", RecordType::AAAA);
    let aq = query("mapped.test.", RecordType::A);
    let au = up(
        &aq,
        ResponseCode::NoError,
        vec![a("mapped.test.", 3600, "203.0.113.13")],
        vec![],
    );
    // All excluded: synthesised from A instead.
    let all = up(
        &q,
        ResponseCode::NoError,
        vec![aaaa("mapped.test.", 3600, "::ffff:203.0.113.13")],
        vec![],
    );
    let m = dns64(&c, &q, Ok(&all), Ok(&au));
    assert_eq!(
        aaaa_of(&m),
        vec![(n("mapped.test."), 600, w("203.0.113.13"))],
        "no SOA: 600"
    );
    // All excluded and no A record either: still never returned.
    let none = up(&aq, ResponseCode::NoError, vec![], vec![]);
    let m = dns64(&c, &q, Ok(&all), Ok(&none));
    assert!(m.answers.is_empty(), "{:?}", m.answers);
    // Some excluded: only the others.
    let some = up(
        &q,
        ResponseCode::NoError,
        vec![
            aaaa("mapped.test.", 3600, "::ffff:203.0.113.13"),
            aaaa("mapped.test.", 3600, "2001:db8:2::13"),
        ],
        vec![],
    );
    let m = dns64(&c, &q, Ok(&some), Ok(&au));
    assert_eq!(
        aaaa_of(&m),
        vec![(n("mapped.test."), 3600, "2001:db8:2::13".parse().unwrap())]
    );
    // A configured exclusion of the WKP (the upstream is itself a DNS64).
    let mut c2 = core();
    c2.exclude.push("64:ff9b::/96".parse().unwrap());
    let wkp = up(
        &q,
        ResponseCode::NoError,
        vec![aaaa("mapped.test.", 3600, "64:ff9b::cb00:710d")],
        vec![],
    );
    assert_eq!(c2.after_aaaa(&q, Ok(&wkp)), AfterAaaa::NeedA);
}

#[test]
fn d6_cname_chains_and_dname() {
    let c = core();
    // A chain to an IPv4-only name: kept, synthesis at its end.
    let q = query("chain.test.", RecordType::AAAA);
    let aq = query("chain.test.", RecordType::A);
    let chain = vec![
        cname("chain.test.", "chain2.test."),
        cname("chain2.test.", "twitter.test."),
    ];
    let nodata = up(
        &q,
        ResponseCode::NoError,
        chain.clone(),
        vec![soa(3600, 300)],
    );
    let mut answers = chain.clone();
    answers.push(a("twitter.test.", 3600, "203.0.113.10"));
    let au = up(&aq, ResponseCode::NoError, answers, vec![]);
    let m = dns64(&c, &q, Ok(&nodata), Ok(&au));
    assert_eq!(m.answers.len(), 3);
    assert_eq!(m.answers[0], chain[0]);
    assert_eq!(m.answers[1], chain[1]);
    assert_eq!(
        aaaa_of(&m),
        vec![(n("twitter.test."), 300, w("203.0.113.10"))]
    );
    // A chain ending in NODATA: the AAAA answer (chain + SOA) stands.
    let q = query("nodata-chain.test.", RecordType::AAAA);
    let aq = query("nodata-chain.test.", RecordType::A);
    let ch = vec![cname("nodata-chain.test.", "noaddr.test.")];
    let nd = up(&q, ResponseCode::NoError, ch.clone(), vec![soa(3600, 300)]);
    let und = up(&aq, ResponseCode::NoError, ch.clone(), vec![soa(3600, 300)]);
    let m = dns64(&c, &q, Ok(&nd), Ok(&und));
    assert_eq!(m.answers, ch);
    assert!(aaaa_of(&m).is_empty());
    // A chain ending in NXDOMAIN: returned as is, never synthesised.
    let q = query("broken-chain.test.", RecordType::AAAA);
    let nx = up(
        &q,
        ResponseCode::NXDomain,
        vec![cname("broken-chain.test.", "missing.test.")],
        vec![soa(3600, 300)],
    );
    let AfterAaaa::Answer(m) = c.after_aaaa(&q, Ok(&nx)) else {
        panic!()
    };
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.answers.len(), 1);
    // DNAME (carried as raw data) + synthesised CNAME + A.
    let q = query("www.legacy.test.", RecordType::AAAA);
    let aq = query("www.legacy.test.", RecordType::A);
    let mut dname_rdata = vec![3u8];
    dname_rdata.extend_from_slice(b"svc");
    dname_rdata.push(4);
    dname_rdata.extend_from_slice(b"test");
    dname_rdata.push(0);
    let dname = Record::from_rdata(
        n("legacy.test."),
        3600,
        RData::Unknown {
            code: RecordType::Unknown(39),
            rdata: NULL::with(dname_rdata),
        },
    );
    let via = cname("www.legacy.test.", "www.svc.test.");
    let au = up(
        &aq,
        ResponseCode::NoError,
        vec![
            dname.clone(),
            via.clone(),
            a("www.svc.test.", 3600, "203.0.113.14"),
        ],
        vec![],
    );
    let nd = up(
        &q,
        ResponseCode::NoError,
        vec![dname.clone(), via.clone()],
        vec![soa(3600, 300)],
    );
    let m = dns64(&c, &q, Ok(&nd), Ok(&au));
    assert_eq!(m.answers[0], dname);
    assert_eq!(m.answers[1], via);
    assert_eq!(
        aaaa_of(&m),
        vec![(n("www.svc.test."), 300, w("203.0.113.14"))]
    );
}

#[test]
fn d7_ttl_from_the_soa_or_600() {
    let c = core();
    let q = query("x.test.", RecordType::AAAA);
    let aq = query("x.test.", RecordType::A);
    let au = |ttl| {
        up(
            &aq,
            ResponseCode::NoError,
            vec![a("x.test.", ttl, "203.0.113.10")],
            vec![],
        )
    };
    // A TTL above the negative TTL: the negative TTL (SOA TTL and MINIMUM,
    // the smaller).
    let nd = up(&q, ResponseCode::NoError, vec![], vec![soa(3600, 300)]);
    assert_eq!(aaaa_of(&dns64(&c, &q, Ok(&nd), Ok(&au(3600))))[0].1, 300);
    let nd2 = up(&q, ResponseCode::NoError, vec![], vec![soa(120, 300)]);
    assert_eq!(
        aaaa_of(&dns64(&c, &q, Ok(&nd2), Ok(&au(3600))))[0].1,
        120,
        "SOA TTL smaller"
    );
    // Below: the A TTL.
    assert_eq!(aaaa_of(&dns64(&c, &q, Ok(&nd), Ok(&au(60))))[0].1, 60);
    // No SOA (timeout, SERVFAIL without one): 600.
    assert_eq!(
        aaaa_of(&dns64(&c, &q, Err(Failure::Timeout), Ok(&au(3600))))[0].1,
        600
    );
    assert_eq!(
        aaaa_of(&dns64(&c, &q, Err(Failure::Timeout), Ok(&au(30))))[0].1,
        30
    );
}

#[test]
fn d8_several_prefixes_of_different_lengths_and_ranges() {
    let p40: Nat64Prefix = "2001:db8:100::/40".parse().unwrap();
    let p64: Nat64Prefix = "2001:db8:6464:1::/64".parse().unwrap();
    let c = Core {
        prefixes: vec![
            PrefixRule {
                prefix: WELL_KNOWN_PREFIX,
                ipv4: vec![],
            },
            PrefixRule {
                prefix: p40,
                ipv4: vec![],
            },
            PrefixRule {
                prefix: p64,
                ipv4: vec!["198.51.100.0/24".parse().unwrap()],
            },
        ],
        allow_non_global: false,
        exclude: vec![],
    };
    let q = query("x.test.", RecordType::AAAA);
    let aq = query("x.test.", RecordType::A);
    let au = up(
        &aq,
        ResponseCode::NoError,
        vec![
            a("x.test.", 3600, "8.8.4.4"),
            a("x.test.", 3600, "198.51.100.7"),
        ],
        vec![],
    );
    let got: Vec<_> = aaaa_of(&dns64(&c, &q, Err(Failure::Timeout), Ok(&au)))
        .into_iter()
        .map(|x| x.2)
        .collect();
    let g4: Ipv4Addr = "8.8.4.4".parse().unwrap();
    let d4: Ipv4Addr = "198.51.100.7".parse().unwrap();
    assert_eq!(
        got,
        vec![
            embed(&WELL_KNOWN_PREFIX, g4),
            embed(&p40, g4),
            // 198.51.100.7 is non-global: not under the WKP (A3), but
            // under the network-specific prefixes, including the one
            // bound to its range.
            embed(&p40, d4),
            embed(&p64, d4),
        ]
    );
}

#[test]
fn a3_non_global_a_records_not_under_the_wkp() {
    let mut c = core();
    c.allow_non_global = false;
    let q = query("private.test.", RecordType::AAAA);
    let aq = query("private.test.", RecordType::A);
    let nd = up(&q, ResponseCode::NoError, vec![], vec![soa(3600, 300)]);
    let au = up(
        &aq,
        ResponseCode::NoError,
        vec![a("private.test.", 3600, "10.1.2.3")],
        vec![],
    );
    let m = dns64(&c, &q, Ok(&nd), Ok(&au));
    assert!(aaaa_of(&m).is_empty(), "RFC 1918 under the WKP");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let mut lab = core();
    lab.allow_non_global = true;
    assert_eq!(
        aaaa_of(&dns64(&lab, &q, Ok(&nd), Ok(&au))).len(),
        1,
        "the lab switch"
    );
    // Loopback and link-local (cloud metadata) never, whatever the switch:
    // nat64d would refuse them (the same rule, common::special::embeddable).
    for never in ["127.0.0.1", "169.254.169.254"] {
        let au = up(
            &aq,
            ResponseCode::NoError,
            vec![a("private.test.", 3600, never)],
            vec![],
        );
        assert!(
            aaaa_of(&dns64(&lab, &q, Ok(&nd), Ok(&au))).is_empty(),
            "{never}"
        );
    }
}

fn ip6_arpa(a: Ipv6Addr) -> String {
    let mut s = String::new();
    for b in a.octets().iter().rev() {
        s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
    }
    s + "ip6.arpa."
}

#[test]
fn d9_ptr_inside_outside_and_partial() {
    let c = core();
    let inside = query(&ip6_arpa(w("203.0.113.10")), RecordType::PTR);
    let Plan::Ptr { target } = c.plan(&inside) else {
        panic!("{:?}", c.plan(&inside))
    };
    assert_eq!(target, n("10.113.0.203.in-addr.arpa."));
    let pq = query("10.113.0.203.in-addr.arpa.", RecordType::PTR);
    let pu = up(
        &pq,
        ResponseCode::NoError,
        vec![Record::from_rdata(
            n("10.113.0.203.in-addr.arpa."),
            3600,
            RData::PTR(PTR(n("twitter.test."))),
        )],
        vec![],
    );
    let m = c.ptr_answer(&inside, &target, Ok(&pu));
    assert_eq!(m.answers.len(), 2);
    assert_eq!(m.answers[0].data, RData::CNAME(CNAME(target.clone())));
    assert_eq!(m.answers[0].name, inside.queries[0].name().clone());
    assert_eq!(m.answers[1].data, RData::PTR(PTR(n("twitter.test."))));
    assert_eq!(
        c.ptr_answer(&inside, &target, Err(Failure::Timeout))
            .metadata
            .response_code,
        ResponseCode::ServFail
    );
    // Outside every prefix: forwarded.
    let outside = query(&ip6_arpa("2001:db8:1::2".parse().unwrap()), RecordType::PTR);
    assert_eq!(c.plan(&outside), Plan::Forward);
    assert_eq!(
        c.plan(&query("10.113.0.203.in-addr.arpa.", RecordType::PTR)),
        Plan::Forward
    );
    // Partial: inside the prefix → NODATA here; above it → forwarded.
    let full = ip6_arpa(w("203.0.113.10"));
    let partial = &full[8..]; // two nibbles fewer
    let Plan::Answer(m) = c.plan(&query(partial, RecordType::PTR)) else {
        panic!("partial inside")
    };
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    let above = &full[full.len() - "b.9.f.f.4.6.0.0.ip6.arpa.".len()..];
    assert_eq!(c.plan(&query(above, RecordType::PTR)), Plan::Forward);
}

#[test]
fn d10_cd_passes_through_and_no_ad_on_synthesis() {
    let c = core();
    let mut q = query("twitter.test.", RecordType::AAAA);
    q.metadata.checking_disabled = true;
    assert_eq!(c.plan(&q), Plan::Forward);
    let q = query("twitter.test.", RecordType::AAAA);
    let aq = query("twitter.test.", RecordType::A);
    let mut au = up(
        &aq,
        ResponseCode::NoError,
        vec![a("twitter.test.", 3600, "203.0.113.10")],
        vec![],
    );
    au.metadata.authentic_data = true;
    let m = dns64(&c, &q, Err(Failure::Timeout), Ok(&au));
    assert!(!m.metadata.authentic_data);
}

#[test]
fn d11_ipv4only_arpa_answered_locally() {
    let c = core();
    let Plan::Answer(m) = c.plan(&query("ipv4only.arpa.", RecordType::A)) else {
        panic!()
    };
    let got: Vec<_> = m.answers.iter().map(|r| r.data.clone()).collect();
    assert_eq!(
        got,
        vec![
            RData::A(A(Ipv4Addr::new(192, 0, 0, 170))),
            RData::A(A(Ipv4Addr::new(192, 0, 0, 171)))
        ]
    );
    let Plan::Answer(m) = c.plan(&query("IPv4only.ARPA.", RecordType::AAAA)) else {
        panic!()
    };
    assert_eq!(
        aaaa_of(&m).into_iter().map(|x| x.2).collect::<Vec<_>>(),
        vec![w("192.0.0.170"), w("192.0.0.171")],
        "under every prefix, even the WKP (always allowed)"
    );
    let Plan::Answer(m) = c.plan(&query("ipv4only.arpa.", RecordType::MX)) else {
        panic!()
    };
    assert!(m.answers.is_empty() && m.metadata.response_code == ResponseCode::NoError);
    let Plan::Answer(m) = c.plan(&query("x.ipv4only.arpa.", RecordType::A)) else {
        panic!()
    };
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    for v4 in ["192.0.0.170", "192.0.0.171"] {
        let Plan::Answer(m) = c.plan(&query(
            &in_addr_name(v4.parse().unwrap()).to_ascii(),
            RecordType::PTR,
        )) else {
            panic!()
        };
        assert_eq!(m.answers[0].data, RData::PTR(PTR(n("ipv4only.arpa."))));
        let Plan::Answer(m) = c.plan(&query(&ip6_arpa(w(v4)), RecordType::PTR)) else {
            panic!()
        };
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[1].data, RData::PTR(PTR(n("ipv4only.arpa."))));
    }
}

#[test]
fn plan_refuses_what_is_not_one_query() {
    let c = core();
    let mut m = query("a.test.", RecordType::AAAA);
    m.add_query(Query::query(n("b.test."), RecordType::AAAA));
    let Plan::Answer(r) = c.plan(&m) else {
        panic!()
    };
    assert_eq!(r.metadata.response_code, ResponseCode::NotImp);
    let empty = Message::new(1, MessageType::Query, OpCode::Query);
    let Plan::Answer(r) = c.plan(&empty) else {
        panic!()
    };
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
}
