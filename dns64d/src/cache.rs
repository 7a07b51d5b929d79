//! The answer cache (req D13), pure: `now` (seconds) is an argument.
//! Shared by the AAAA and A paths (and every other upstream question):
//! keyed by (name in lower case, type, class, CD bit). Bounded by a number
//! of answers: when full, the oldest insertion goes first (expired ones are
//! dropped on the way). TTLs are honoured: an answer lives for its
//! smallest TTL (negative answers: the RFC 2308 negative TTL), and comes
//! out with TTLs lowered by the time it spent inside.

use std::collections::VecDeque;

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::core::negative_ttl;

/// Longest time an answer is kept, whatever its TTL says (seconds).
pub const MAX_TTL: u32 = 86400;

/// A cached question.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The name, in lower case, as text (compact: the bytes of the name).
    pub name: Box<str>,
    /// QTYPE.
    pub qtype: RecordType,
    /// QCLASS.
    pub qclass: DNSClass,
    /// The CD bit of the question (answers differ with it).
    pub cd: bool,
}

impl Key {
    /// The key of a question.
    pub fn new(name: &Name, qtype: RecordType, qclass: DNSClass, cd: bool) -> Key {
        Key {
            name: name.to_lowercase().to_ascii().into_boxed_str(),
            qtype,
            qclass,
            cd,
        }
    }
}

#[derive(Debug)]
struct Entry<K, V> {
    key: K,
    value: V,
    stored: u64,
    expires: u64,
    /// Insertion generation, to tell the queue's stale entries apart.
    generation: u64,
}

/// A bounded store of values that expire: when full, the oldest insertion
/// goes first. Used for upstream answers (as wire bytes: compact) and for
/// whole client answers (the server's fast path). Each key is stored once:
/// the eviction queue holds only (hash, generation).
#[derive(Debug)]
pub struct Store<K, V> {
    table: HashTable<Entry<K, V>>,
    hasher: foldhash::fast::RandomState,
    order: VecDeque<(u64, u64)>,
    capacity: usize,
    generation: u64,
}

impl<K: std::hash::Hash + Eq, V> Store<K, V> {
    /// A store of at most `capacity` values (0: keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Store {
            table: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            order: VecDeque::new(),
            capacity,
            generation: 0,
        }
    }

    /// Values kept.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The value of `key` at `now` and its age in seconds, unless expired.
    pub fn get(&mut self, key: &K, now: u64) -> Option<(&V, u32)> {
        let h = self.hasher.hash_one(key);
        let expired = now >= self.table.find(h, |e| e.key == *key)?.expires;
        if expired {
            if let Ok(e) = self.table.find_entry(h, |e| e.key == *key) {
                e.remove();
            }
            return None;
        }
        let e = self.table.find(h, |e| e.key == *key)?;
        Some((&e.value, u32::try_from(now - e.stored).unwrap_or(u32::MAX)))
    }

    /// Keeps `value` for `key` from `now` for `ttl` seconds.
    pub fn put(&mut self, key: K, value: V, ttl: u32, now: u64) {
        if self.capacity == 0 || ttl == 0 {
            return;
        }
        let h = self.hasher.hash_one(&key);
        if let Ok(e) = self.table.find_entry(h, |e| e.key == key) {
            e.remove();
        }
        while self.table.len() >= self.capacity {
            let Some((oh, g)) = self.order.pop_front() else {
                break;
            };
            if let Ok(e) = self.table.find_entry(oh, |e| e.generation == g) {
                e.remove();
            }
        }
        // The queue also holds entries replaced or expired since; keep it
        // from growing past twice the capacity.
        if self.order.len() > 2 * self.capacity {
            let table = &self.table;
            self.order
                .retain(|(oh, g)| table.find(*oh, |e| e.generation == *g).is_some());
        }
        self.generation += 1;
        self.order.push_back((h, self.generation));
        let hasher = &self.hasher;
        self.table.insert_unique(
            h,
            Entry {
                key,
                value,
                stored: now,
                expires: now + u64::from(ttl),
                generation: self.generation,
            },
            |e| hasher.hash_one(&e.key),
        );
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.table.clear();
        self.order.clear();
    }

    /// Up to `limit` live entries at `now` whose key `pick` accepts, as
    /// (key, value, seconds left), and how many live entries it accepted
    /// in all. One pass over the store.
    pub fn entries(
        &self,
        now: u64,
        limit: usize,
        pick: impl Fn(&K) -> bool,
    ) -> (Vec<(K, V, u64)>, usize)
    where
        K: Clone,
        V: Clone,
    {
        let mut out = Vec::new();
        let mut n = 0;
        for e in self
            .table
            .iter()
            .filter(|e| e.expires > now && pick(&e.key))
        {
            n += 1;
            if out.len() < limit {
                out.push((e.key.clone(), e.value.clone(), e.expires - now));
            }
        }
        (out, n)
    }

    /// Forgets the entries whose key `pick` accepts; returns how many.
    /// (The eviction queue's stale positions are skipped as usual.)
    pub fn remove_where(&mut self, pick: impl Fn(&K) -> bool) -> usize {
        let before = self.table.len();
        self.table.retain(|e| !pick(&e.key));
        before - self.table.len()
    }
}

/// How long `m` may be cached, in seconds; `None`: not at all.
pub fn lifetime(m: &Message) -> Option<u32> {
    if m.metadata.truncation {
        return None;
    }
    let ttl = match m.metadata.response_code {
        ResponseCode::NoError if !m.answers.is_empty() => {
            m.answers.iter().map(|r| r.ttl).min().unwrap_or(0)
        }
        // NODATA and NXDOMAIN: the negative TTL; without an SOA, not
        // cached (RFC 2308 §5).
        ResponseCode::NoError | ResponseCode::NXDomain => negative_ttl(m)?,
        // SERVFAIL, REFUSED...: not cached.
        _ => return None,
    };
    (ttl > 0).then_some(ttl.min(MAX_TTL))
}

/// The upstream answer cache: messages kept as wire bytes.
#[derive(Debug)]
pub struct Cache {
    store: Store<Key, Box<[u8]>>,
}

impl Cache {
    /// A cache of at most `capacity` answers (0: caches nothing).
    pub fn new(capacity: usize) -> Cache {
        Cache {
            store: Store::new(capacity),
        }
    }

    /// Answers cached.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The cached answer to `key` at `now`, TTLs lowered by its age.
    pub fn get(&mut self, key: &Key, now: u64) -> Option<Message> {
        let (wire, age) = self.store.get(key, now)?;
        let mut m = Message::from_vec(wire).ok()?;
        for r in m
            .answers
            .iter_mut()
            .chain(m.authorities.iter_mut())
            .chain(m.additionals.iter_mut())
        {
            r.ttl = r.ttl.saturating_sub(age);
        }
        Some(m)
    }

    /// Keeps `m` as the answer to `key` from `now`, if it may be cached.
    pub fn put(&mut self, key: Key, m: &Message, now: u64) {
        let Some(ttl) = lifetime(m) else { return };
        let mut msg = m.clone();
        msg.edns = None;
        msg.signature = None;
        if let Ok(wire) = msg.to_vec() {
            self.store.put(key, wire.into_boxed_slice(), ttl, now);
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.store.clear();
    }

    /// What the cache holds at `now` for the keys `pick` accepts (at most
    /// `limit` rows), and how many it holds in all.
    pub fn rows(&self, now: u64, limit: usize, pick: impl Fn(&Key) -> bool) -> (Vec<Row>, usize) {
        let (entries, n) = self.store.entries(now, limit, pick);
        let rows = entries
            .into_iter()
            .map(|(key, wire, ttl)| Row::new(key, &wire, ttl))
            .collect();
        (rows, n)
    }

    /// Forgets every answer for `name` (any type, class, CD bit); returns
    /// how many.
    pub fn flush_name(&mut self, name: &Name) -> usize {
        let name = name.to_lowercase().to_ascii();
        self.store.remove_where(|k| *k.name == *name)
    }
}

/// One cached answer, for `nat64gw dns cache lookup|dump`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The question.
    pub key: Key,
    /// Seconds it is kept for yet.
    pub ttl: u64,
    /// The answer's RCODE (`NoError`, `NXDomain`).
    pub rcode: String,
    /// Its answer records, in zone-file form (TTLs as stored).
    pub answers: Vec<String>,
}

impl Row {
    fn new(key: Key, wire: &[u8], ttl: u64) -> Row {
        let (rcode, answers) = match Message::from_vec(wire) {
            Ok(m) => (
                format!("{:?}", m.metadata.response_code),
                m.answers.iter().map(ToString::to_string).collect(),
            ),
            Err(e) => (format!("unreadable: {e}"), Vec::new()),
        };
        Row {
            key,
            ttl,
            rcode,
            answers,
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{RData, Record};

    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn answer(ttl: u32) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(n("x.test."), RecordType::A));
        m.answers.push(Record::from_rdata(
            n("x.test."),
            ttl,
            RData::A(A("192.0.2.1".parse().unwrap())),
        ));
        m
    }

    fn key(s: &str) -> Key {
        Key::new(&n(s), RecordType::A, DNSClass::IN, false)
    }

    #[test]
    fn d13_ttls_are_honoured_and_lowered() {
        let mut c = Cache::new(10);
        c.put(key("X.test."), &answer(100), 1000);
        let m = c.get(&key("x.TEST."), 1030).expect("case-insensitive hit");
        assert_eq!(m.answers[0].ttl, 70);
        assert!(c.get(&key("x.test."), 1100).is_none(), "expired");
        assert!(c.is_empty());
    }

    #[test]
    fn d13_negative_answers_by_their_soa() {
        let mut c = Cache::new(10);
        let mut nodata = Message::new(1, MessageType::Response, OpCode::Query);
        nodata.authorities.push(Record::from_rdata(
            n("test."),
            3600,
            RData::SOA(SOA::new(n("ns.test."), n("h.test."), 1, 1, 1, 1, 300)),
        ));
        assert_eq!(lifetime(&nodata), Some(300));
        c.put(key("a.test."), &nodata, 0);
        assert!(c.get(&key("a.test."), 299).is_some());
        assert!(c.get(&key("a.test."), 300).is_none());
        let bare = Message::new(1, MessageType::Response, OpCode::Query);
        assert_eq!(lifetime(&bare), None, "NODATA without SOA: not cached");
        let mut fail = answer(100);
        fail.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(lifetime(&fail), None);
        let mut tc = answer(100);
        tc.metadata.truncation = true;
        assert_eq!(lifetime(&tc), None);
        assert_eq!(lifetime(&answer(0)), None);
        assert_eq!(lifetime(&answer(999_999)), Some(MAX_TTL));
    }

    /// `nat64gw dns cache lookup|flush|dump`: rows by name, in any case,
    /// every type; a flush of one name leaves the others.
    #[test]
    fn o6_rows_and_flush_by_name() {
        let mut c = Cache::new(10);
        c.put(key("x.test."), &answer(100), 0);
        let mut nx = answer(100);
        nx.answers.clear();
        nx.metadata.response_code = ResponseCode::NXDomain;
        nx.authorities.push(Record::from_rdata(
            n("test."),
            3600,
            RData::SOA(SOA::new(n("ns.test."), n("h.test."), 1, 1, 1, 1, 300)),
        ));
        c.put(
            Key::new(&n("x.test."), RecordType::AAAA, DNSClass::IN, false),
            &nx,
            0,
        );
        c.put(key("y.test."), &answer(50), 0);
        let x = Key::new(&n("X.Test."), RecordType::A, DNSClass::IN, false).name;
        let (rows, n_all) = c.rows(10, 100, |k| k.name == x);
        assert_eq!((rows.len(), n_all), (2, 2));
        let a = rows.iter().find(|r| r.key.qtype == RecordType::A).unwrap();
        assert_eq!((a.ttl, a.rcode.as_str()), (90, "NoError"));
        assert!(a.answers[0].contains("192.0.2.1"), "{:?}", a.answers);
        let aaaa = rows
            .iter()
            .find(|r| r.key.qtype == RecordType::AAAA)
            .unwrap();
        assert_eq!(aaaa.rcode, "NXDomain");
        let (rows, n_all) = c.rows(10, 1, |_| true);
        assert_eq!(
            (rows.len(), n_all),
            (1, 3),
            "the limit bounds the rows, not the count"
        );
        assert_eq!(
            c.rows(60, 100, |_| true).1,
            2,
            "expired entries are not shown"
        );
        assert_eq!(c.flush_name(&n("X.TEST.")), 2);
        assert_eq!(c.len(), 1);
        assert!(c.get(&key("y.test."), 1).is_some());
        // The eviction queue still works after a flush.
        for i in 0..20 {
            c.put(key(&format!("{i}.test.")), &answer(100), 1);
        }
        assert_eq!(c.len(), 10);
    }

    #[test]
    fn d13_bounded_oldest_first() {
        let mut c = Cache::new(3);
        for i in 0..5 {
            c.put(key(&format!("{i}.test.")), &answer(100), 0);
            assert!(c.len() <= 3);
        }
        assert!(c.get(&key("0.test."), 1).is_none());
        assert!(c.get(&key("1.test."), 1).is_none());
        assert!(c.get(&key("4.test."), 1).is_some());
        // Replacing a key many times keeps the queue bounded.
        for t in 0..100 {
            c.put(key("4.test."), &answer(100), t);
        }
        assert!(c.store.order.len() <= 2 * 3 + 1);
        assert_eq!(c.len(), 3);
        let mut none = Cache::new(0);
        none.put(key("x.test."), &answer(100), 0);
        assert!(none.is_empty());
    }
}
