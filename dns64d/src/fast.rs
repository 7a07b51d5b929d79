//! The answer cache's fast path, pure: a plain query (one question, at most
//! an OPT record) is read straight from its bytes, and a final answer given
//! before to the same question is sent again from its bytes with the
//! client's ID, RD bit and question spelling, and TTLs lowered by its age.
//! Anything unusual (and every miss) takes the full path.

/// The question of a plain query, as the cache key: the name in lower case
/// (wire form), type, class, and the bits that change the answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryKey {
    /// QNAME in wire form, lower case.
    pub name: Box<[u8]>,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// CD bit, OPT present, DO bit.
    pub flags: u8,
}

/// A plain query, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainQuery {
    /// The cache key.
    pub key: QueryKey,
    /// End of the question section (the question is `wire[12..end]`).
    pub question_end: usize,
    /// The client's UDP size (512 without OPT).
    pub udp_size: u16,
}

fn get16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reads a plain query: QR=0, opcode QUERY, one question, no answer or
/// authority records, at most one additional record which is an OPT of
/// version 0. `None` for anything else.
pub fn parse_query(wire: &[u8]) -> Option<PlainQuery> {
    let flags = get16(wire, 2)?;
    if flags & 0x8000 != 0 || (flags >> 11) & 0xf != 0 {
        return None;
    }
    if get16(wire, 4)? != 1 || get16(wire, 6)? != 0 || get16(wire, 8)? != 0 {
        return None;
    }
    let arcount = get16(wire, 10)?;
    let mut at = 12;
    let mut name = Vec::with_capacity(32);
    loop {
        let len = usize::from(*wire.get(at)?);
        if len > 63 {
            return None; // compression or extended labels: not in a plain query
        }
        name.push(len as u8);
        if len == 0 {
            at += 1;
            break;
        }
        let label = wire.get(at + 1..at + 1 + len)?;
        name.extend(label.iter().map(u8::to_ascii_lowercase));
        at += 1 + len;
        if name.len() > 255 {
            return None;
        }
    }
    let qtype = get16(wire, at)?;
    let qclass = get16(wire, at + 2)?;
    let question_end = at + 4;
    let cd = u8::from(flags & 0x0010 != 0);
    let (udp_size, opt, dnssec_ok) = match arcount {
        0 if wire.len() == question_end => (512, 0, 0),
        1 => {
            // Root name, type OPT, class = UDP size, TTL = ext-rcode,
            // version, flags; then RDLENGTH and options.
            let o = question_end;
            if *wire.get(o)? != 0 || get16(wire, o + 1)? != 41 {
                return None;
            }
            let size = get16(wire, o + 3)?.max(512);
            if *wire.get(o + 6)? != 0 {
                return None; // version other than 0: BADVERS on the full path
            }
            let do_bit = u8::from(get16(wire, o + 7)? & 0x8000 != 0);
            let rdlen = usize::from(get16(wire, o + 9)?);
            if wire.len() != o + 11 + rdlen {
                return None;
            }
            (size, 1, do_bit)
        }
        _ => return None,
    };
    Some(PlainQuery {
        key: QueryKey {
            name: name.into_boxed_slice(),
            qtype,
            qclass,
            flags: cd | opt << 1 | dnssec_ok << 2,
        },
        question_end,
        udp_size,
    })
}

/// Skips a (possibly compressed) name at `at`; the offset after it.
fn skip_name(wire: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *wire.get(at)?;
        match len >> 6 {
            0 if len == 0 => return Some(at + 1),
            0 => at += 1 + usize::from(len),
            3 => return Some(at + 2),
            _ => return None,
        }
    }
}

/// The offsets of every TTL field in a response (OPT excluded), for
/// lowering them on a cache hit; `None` for a message that does not parse.
pub fn ttl_offsets(wire: &[u8]) -> Option<Box<[u16]>> {
    let qd = get16(wire, 4)?;
    let rr = u32::from(get16(wire, 6)?) + u32::from(get16(wire, 8)?) + u32::from(get16(wire, 10)?);
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(wire, at)? + 4;
    }
    let mut out = Vec::with_capacity(rr as usize);
    for _ in 0..rr {
        at = skip_name(wire, at)?;
        let rtype = get16(wire, at)?;
        if rtype != 41 {
            out.push(u16::try_from(at + 4).ok()?);
        }
        let rdlen = usize::from(get16(wire, at + 8)?);
        at += 10 + rdlen;
        if at > wire.len() {
            return None;
        }
    }
    (at == wire.len()).then(|| out.into_boxed_slice())
}

/// A final answer kept for the fast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The answer as sent.
    pub wire: Box<[u8]>,
    /// Where its TTLs are.
    pub ttls: Box<[u16]>,
}

/// The kept answer for the client's query `q` (bytes `query`), `age`
/// seconds old: the client's ID, RD bit and question spelling, TTLs
/// lowered. `None` when the question does not line up.
pub fn reply(kept: &Kept, query: &[u8], q: &PlainQuery, age: u32) -> Option<Vec<u8>> {
    let mut out = kept.wire.to_vec();
    if out.len() < q.question_end {
        return None;
    }
    out[..2].copy_from_slice(query.get(..2)?);
    out[2] = (out[2] & !0x01) | (query.get(2)? & 0x01);
    // The same question, maybe in other letter case (0x20 spelling):
    // the client's own bytes, same length.
    out[12..q.question_end].copy_from_slice(query.get(12..q.question_end)?);
    for &t in kept.ttls.iter() {
        let t = usize::from(t);
        let ttl = u32::from_be_bytes(out.get(t..t + 4)?.try_into().ok()?);
        out[t..t + 4].copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{AAAA, CNAME};
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    use super::*;

    fn query(name: &str, edns: Option<(u16, bool)>, cd: bool) -> Vec<u8> {
        let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.metadata.checking_disabled = cd;
        m.add_query(Query::query(
            Name::from_ascii(name).unwrap(),
            RecordType::AAAA,
        ));
        if let Some((size, d)) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            e.set_dnssec_ok(d);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn plain_queries_and_their_keys() {
        let a = parse_query(&query("Twitter.TEST.", None, false)).unwrap();
        let b = parse_query(&query("twitter.test.", None, false)).unwrap();
        assert_eq!(a.key, b.key, "case does not matter");
        assert_eq!(a.udp_size, 512);
        assert_eq!(a.key.qtype, 28);
        let e = parse_query(&query("twitter.test.", Some((1232, true)), false)).unwrap();
        assert_eq!(e.udp_size, 1232);
        assert_ne!(e.key, a.key, "OPT and DO change the answer");
        let cd = parse_query(&query("twitter.test.", None, true)).unwrap();
        assert_ne!(cd.key, a.key, "CD changes the answer");
        let mut resp = query("twitter.test.", None, false);
        resp[2] |= 0x80;
        assert_eq!(parse_query(&resp), None, "a response");
        let q = query("twitter.test.", None, false);
        for cut in 0..q.len() {
            assert_eq!(parse_query(&q[..cut]), None, "cut at {cut}");
        }
        let mut long = q.clone();
        long.push(0);
        assert_eq!(parse_query(&long), None, "trailing bytes");
    }

    #[test]
    fn a_kept_answer_replays_with_the_clients_id_case_and_aged_ttls() {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(
            Name::from_ascii("chain.test.").unwrap(),
            RecordType::AAAA,
        ));
        m.answers.push(Record::from_rdata(
            Name::from_ascii("chain.test.").unwrap(),
            3600,
            RData::CNAME(CNAME(Name::from_ascii("twitter.test.").unwrap())),
        ));
        m.answers.push(Record::from_rdata(
            Name::from_ascii("twitter.test.").unwrap(),
            300,
            RData::AAAA(AAAA("64:ff9b::cb00:710a".parse().unwrap())),
        ));
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
        let wire = m.to_vec().unwrap();
        let ttls = ttl_offsets(&wire).unwrap();
        assert_eq!(ttls.len(), 2, "OPT's TTL field is not a TTL");
        let kept = Kept {
            wire: wire.into_boxed_slice(),
            ttls,
        };
        let mut qw = query("CHAIN.test.", Some((1232, false)), false);
        qw[2] &= !0x01; // RD clear
        let q = parse_query(&qw).unwrap();
        let out = reply(&kept, &qw, &q, 100).unwrap();
        let r = Message::from_vec(&out).unwrap();
        assert_eq!(r.metadata.id, 0x4242);
        assert!(!r.metadata.recursion_desired);
        assert_eq!(r.queries[0].name().to_ascii(), "CHAIN.test.");
        assert_eq!(r.answers[0].ttl, 3500);
        assert_eq!(r.answers[1].ttl, 200);
        assert_eq!(
            r.answers[1].data,
            RData::AAAA(AAAA("64:ff9b::cb00:710a".parse().unwrap()))
        );
        assert_eq!(
            reply(&kept, &qw, &q, 1000).map(|o| Message::from_vec(&o).unwrap().answers[1].ttl),
            Some(0)
        );
    }

    #[test]
    fn ttl_offsets_refuse_garbage() {
        assert_eq!(ttl_offsets(&[0; 5]), None);
        let mut x = 0x9e37_79b9u32;
        for _ in 0..10_000 {
            let len = (x % 64) as usize;
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = ttl_offsets(&v);
            let _ = parse_query(&v);
        }
    }
}
