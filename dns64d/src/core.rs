//! The DNS64 core (RFC 6147, RFC 8880; req D1–D11, A3), pure: it reads
//! queries and upstream answers as hickory-proto messages and says what to
//! ask upstream and what to answer. It opens no socket and reads no clock;
//! the server shell runs the upstream queries it asks for.
//!
//! The flow for one client query: [`Core::plan`] → either an answer now,
//! a query to forward as is, a PTR to follow, or DNS64: ask AAAA, give the
//! answer to [`Core::after_aaaa`], which decides or asks for A, then
//! [`Core::synthesize`] builds the answer from both.

use std::net::{Ipv4Addr, Ipv6Addr};

use common::prefix::{Nat64Prefix, embed, extract};
use common::special::{Embeddable, IPV4ONLY_ARPA, embeddable};
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// TTL of a synthesised record when the AAAA answer carries no SOA to take
/// the negative TTL from (req D7).
pub const NO_SOA_TTL: u32 = 600;
/// TTL of the locally answered `ipv4only.arpa` records (req D11): they
/// never change.
pub const IPV4ONLY_TTL: u32 = 86400;
/// The DNAME record type (RFC 6672), which hickory-proto carries as raw data.
const DNAME: u16 = 39;

/// One NAT64 prefix and the IPv4 addresses it synthesises for (req D8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRule {
    /// The prefix.
    pub prefix: Nat64Prefix,
    /// Only A records inside these ranges are synthesised under the prefix;
    /// empty: all.
    pub ipv4: Vec<Ipv4Net>,
}

/// The core's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    /// The prefixes, in configured order (one AAAA per A record per
    /// prefix that applies).
    pub prefixes: Vec<PrefixRule>,
    /// The `[prefix]` `allow_non_global` switch (req A3; labs only).
    pub allow_non_global: bool,
    /// AAAA records inside these ranges count as absent (req D5).
    pub exclude: Vec<Ipv6Net>,
}

/// Why an upstream query gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Every upstream timed out.
    Timeout,
    /// No upstream could be reached, or every one answered garbage.
    Unreachable,
}

/// An upstream's answer to one query, or why there is none.
pub type Upstream<'a> = Result<&'a Message, Failure>;

/// What to do with a client's query.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Send this answer to the client.
    Answer(Message),
    /// Ask upstream the same question and give its answer to the client
    /// unchanged (req D1, D10, D9 outside the prefixes).
    Forward,
    /// DNS64 (req D2–D7): ask AAAA for the name (and A, which may run in
    /// parallel), then [`Core::after_aaaa`].
    Synthesize,
    /// A PTR name inside a prefix (req D9): ask PTR for `target` (the
    /// in-addr.arpa name) and answer with [`Core::ptr_answer`].
    Ptr {
        /// The in-addr.arpa name the ip6.arpa name maps to.
        target: Name,
    },
}

/// What the AAAA answer decided.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterAaaa {
    /// The answer: real AAAA records (D2, D5), or NXDOMAIN (D3).
    Answer(Message),
    /// Synthesise: the A answer is needed (D4).
    NeedA,
}

/// A response to `q` with its question, RD copied, RA set.
pub fn response_to(q: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.checking_disabled = q.metadata.checking_disabled;
    m.metadata.response_code = rcode;
    m.queries.clone_from(&q.queries);
    m
}

/// The upstream answer `up` as the answer to the client's query `q`:
/// the client's ID and question, everything else as the upstream said.
pub fn relay(q: &Message, up: &Message) -> Message {
    let mut m = up.clone();
    m.metadata.id = q.metadata.id;
    // We answer as a recursive service, whatever kind of server answered.
    m.metadata.recursion_available = true;
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.queries.clone_from(&q.queries);
    m.edns = None;
    m.signature = None;
    m
}

/// SERVFAIL for `q` (upstreams failed).
pub fn servfail(q: &Message) -> Message {
    response_to(q, ResponseCode::ServFail)
}

fn ipv4only_name() -> Name {
    Name::from_ascii("ipv4only.arpa.").unwrap_or_else(|_| Name::root())
}

/// `d.c.b.a.in-addr.arpa.` for `a.b.c.d`.
pub fn in_addr_name(v4: Ipv4Addr) -> Name {
    let [a, b, c, d] = v4.octets();
    Name::from_ascii(format!("{d}.{c}.{b}.{a}.in-addr.arpa.")).unwrap_or_else(|_| Name::root())
}

/// The ip6.arpa network a PTR name stands for: `None` for a name that is
/// not under ip6.arpa or is malformed.
fn ip6_arpa_net(name: &Name) -> Option<Ipv6Net> {
    let ip6 = Name::from_ascii("ip6.arpa.").ok()?;
    if !ip6.zone_of(name) {
        return None;
    }
    match name.parse_arpa_name().ok()? {
        IpNet::V6(n) => Some(n),
        IpNet::V4(_) => None,
    }
}

impl Core {
    /// Whether A record address `v4` is synthesised under `rule` (req D8,
    /// A3).
    fn applies(&self, rule: &PrefixRule, v4: Ipv4Addr) -> bool {
        (rule.ipv4.is_empty() || rule.ipv4.iter().any(|n| n.contains(&v4)))
            && embeddable(&rule.prefix, v4, self.allow_non_global) == Embeddable::Yes
    }

    fn excluded(&self, a: Ipv6Addr) -> bool {
        self.exclude.iter().any(|n| n.contains(&a))
    }

    /// What to do with the client's query `q` (already checked to carry
    /// one question, opcode QUERY).
    pub fn plan(&self, q: &Message) -> Plan {
        let Some(query) = q.queries.first() else {
            return Plan::Answer(response_to(q, ResponseCode::FormErr));
        };
        if q.metadata.op_code != OpCode::Query || q.queries.len() != 1 {
            return Plan::Answer(response_to(q, ResponseCode::NotImp));
        }
        let name = query.name();
        let (qtype, qclass) = (query.query_type(), query.query_class());
        if qclass == DNSClass::IN
            && let Some(p) = self.ipv4only(q, name, qtype)
        {
            return p;
        }
        if qclass != DNSClass::IN {
            return Plan::Forward;
        }
        match qtype {
            // D10: with CD=1 the client validates; synthesis would break
            // its validation.
            RecordType::AAAA if q.metadata.checking_disabled => Plan::Forward,
            RecordType::AAAA => Plan::Synthesize,
            RecordType::PTR => self.plan_ptr(q, name),
            _ => Plan::Forward,
        }
    }

    /// req D11: `ipv4only.arpa` (A, AAAA) and the reverse names of its two
    /// addresses, answered here.
    fn ipv4only(&self, q: &Message, name: &Name, qtype: RecordType) -> Option<Plan> {
        let own = ipv4only_name();
        if name.eq_ignore_root(&own) || own.zone_of(name) {
            let mut m = response_to(q, ResponseCode::NoError);
            m.metadata.authoritative = true;
            if !name.eq_ignore_root(&own) {
                m.metadata.response_code = ResponseCode::NXDomain;
                return Some(Plan::Answer(m));
            }
            match qtype {
                RecordType::A => {
                    for a in IPV4ONLY_ARPA {
                        m.answers.push(Record::from_rdata(
                            own.clone(),
                            IPV4ONLY_TTL,
                            RData::A(A(a)),
                        ));
                    }
                }
                RecordType::AAAA => {
                    for rule in &self.prefixes {
                        for a in IPV4ONLY_ARPA {
                            m.answers.push(Record::from_rdata(
                                own.clone(),
                                IPV4ONLY_TTL,
                                RData::AAAA(AAAA(embed(&rule.prefix, a))),
                            ));
                        }
                    }
                }
                _ => {}
            }
            return Some(Plan::Answer(m));
        }
        if qtype != RecordType::PTR {
            return None;
        }
        let ptr = |m: &mut Message, owner: Name| {
            m.answers.push(Record::from_rdata(
                owner,
                IPV4ONLY_TTL,
                RData::PTR(PTR(own.clone())),
            ));
        };
        for a in IPV4ONLY_ARPA {
            let rev = in_addr_name(a);
            if name.eq_ignore_root(&rev) {
                let mut m = response_to(q, ResponseCode::NoError);
                m.metadata.authoritative = true;
                ptr(&mut m, name.clone());
                return Some(Plan::Answer(m));
            }
        }
        let net = ip6_arpa_net(name)?;
        if net.prefix_len() != 128 {
            return None;
        }
        let (_, v4) = self.extract(net.addr())?;
        if !IPV4ONLY_ARPA.contains(&v4) {
            return None;
        }
        let mut m = response_to(q, ResponseCode::NoError);
        m.metadata.authoritative = true;
        let target = in_addr_name(v4);
        m.answers.push(Record::from_rdata(
            name.clone(),
            IPV4ONLY_TTL,
            RData::CNAME(CNAME(target.clone())),
        ));
        ptr(&mut m, target);
        Some(Plan::Answer(m))
    }

    fn extract(&self, a: Ipv6Addr) -> Option<(&PrefixRule, Ipv4Addr)> {
        self.prefixes
            .iter()
            .find_map(|r| extract(&r.prefix, a).map(|v4| (r, v4)))
    }

    /// req D9.
    fn plan_ptr(&self, q: &Message, name: &Name) -> Plan {
        let Some(net) = ip6_arpa_net(name) else {
            return Plan::Forward;
        };
        if net.prefix_len() == 128 {
            return match self.extract(net.addr()) {
                Some((_, v4)) => Plan::Ptr {
                    target: in_addr_name(v4),
                },
                None => Plan::Forward,
            };
        }
        // A partial name: inside a prefix there is nothing at it (NODATA);
        // anything else is the upstream's business.
        let inside = self.prefixes.iter().any(|r| {
            r.prefix.net().contains(&net) && net.prefix_len() >= r.prefix.net().prefix_len()
        });
        if inside {
            let mut m = response_to(q, ResponseCode::NoError);
            m.metadata.authoritative = true;
            Plan::Answer(m)
        } else {
            Plan::Forward
        }
    }

    /// The answer to a PTR query inside a prefix: a CNAME from the query
    /// name to `target`, then what the upstream said about `target`
    /// (req D9).
    pub fn ptr_answer(&self, q: &Message, target: &Name, up: Upstream<'_>) -> Message {
        let Ok(up) = up else {
            return servfail(q);
        };
        let mut m = response_to(q, up.metadata.response_code);
        if let Some(query) = q.queries.first() {
            let ttl = up.answers.first().map_or(NO_SOA_TTL, |r| r.ttl);
            m.answers.push(Record::from_rdata(
                query.name().clone(),
                ttl,
                RData::CNAME(CNAME(target.clone())),
            ));
        }
        m.answers.extend(up.answers.iter().cloned());
        m.authorities.extend(up.authorities.iter().cloned());
        m
    }

    /// req D2–D5: what the AAAA answer decides.
    pub fn after_aaaa(&self, q: &Message, aaaa: Upstream<'_>) -> AfterAaaa {
        let Ok(up) = aaaa else {
            return AfterAaaa::NeedA;
        };
        match up.metadata.response_code {
            // D3: the name does not exist; no A query.
            ResponseCode::NXDomain => return AfterAaaa::Answer(relay(q, up)),
            ResponseCode::NoError => {}
            // D4: any other error: synthesise if A has something.
            _ => return AfterAaaa::NeedA,
        }
        let mut real = 0;
        let mut excluded = 0;
        for r in &up.answers {
            if let RData::AAAA(AAAA(a)) = r.data {
                if self.excluded(a) {
                    excluded += 1;
                } else {
                    real += 1;
                }
            }
        }
        if real == 0 {
            // D4 NODATA, or D5 all excluded.
            return AfterAaaa::NeedA;
        }
        let mut m = relay(q, up);
        if excluded > 0 {
            // D5: excluded records are never returned.
            m.answers
                .retain(|r| !matches!(r.data, RData::AAAA(AAAA(a)) if self.excluded(a)));
        }
        AfterAaaa::Answer(m)
    }

    /// req D4, D6, D7, D8, D10: the synthesised answer for `q` from the
    /// AAAA answer (for the negative TTL) and the A answer.
    pub fn synthesize(&self, q: &Message, aaaa: Upstream<'_>, a: Upstream<'_>) -> Message {
        let neg_ttl = aaaa.ok().and_then(negative_ttl).unwrap_or(NO_SOA_TTL);
        let Ok(a_up) = a else {
            // The A query failed: the AAAA result stands, or SERVFAIL.
            return match aaaa {
                Ok(up) => relay(q, up),
                Err(_) => servfail(q),
            };
        };
        let mut m = response_to(q, ResponseCode::NoError);
        let mut synthesised = 0;
        for r in &a_up.answers {
            match &r.data {
                RData::A(A(v4)) if r.dns_class == DNSClass::IN => {
                    for rule in self.prefixes.iter().filter(|p| self.applies(p, *v4)) {
                        m.answers.push(Record::from_rdata(
                            r.name.clone(),
                            r.ttl.min(neg_ttl),
                            RData::AAAA(AAAA(embed(&rule.prefix, *v4))),
                        ));
                        synthesised += 1;
                    }
                }
                // D6: the chain stays, in order.
                RData::CNAME(_) => m.answers.push(r.clone()),
                _ if u16::from(r.record_type()) == DNAME => m.answers.push(r.clone()),
                // Signatures over A records, and anything else, do not
                // describe the synthesised data.
                _ => {}
            }
        }
        if synthesised > 0 {
            // RFC 6147 §5.3.2: the authority and additional sections are
            // those of the response to the final (A) query; the
            // additional one passed unchanged, nothing synthesised into it.
            m.authorities.clone_from(&a_up.authorities);
            m.additionals.clone_from(&a_up.additionals);
            // D10: never AD on synthesised data.
            m.metadata.authentic_data = false;
            return m;
        }
        // Nothing to synthesise: the AAAA answer stands when there is one
        // (NODATA, or its error); otherwise what the A query said, as an
        // answer without address records.
        match aaaa {
            Ok(up) => {
                let mut m = relay(q, up);
                m.answers
                    .retain(|r| !matches!(r.data, RData::AAAA(AAAA(a)) if self.excluded(a)));
                m
            }
            Err(_) => {
                let mut m = relay(q, a_up);
                m.answers.retain(|r| {
                    !matches!(r.data, RData::A(_)) && r.record_type() != RecordType::RRSIG
                });
                m.metadata.authentic_data = false;
                m
            }
        }
    }
}

/// The negative TTL of a NODATA answer (RFC 2308 §5): the smaller of the
/// SOA record's TTL and its MINIMUM field; `None` without an SOA.
pub fn negative_ttl(m: &Message) -> Option<u32> {
    m.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
