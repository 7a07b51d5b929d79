//! The answer cache (req D13), pure: `now` (seconds) is an argument.
//! Shared by the AAAA and A paths (and every other upstream question):
//! keyed by (name in lower case, type, class, CD bit). Bounded by a number
//! of answers: when full, the oldest insertion goes first (expired ones are
//! dropped on the way). TTLs are honoured: an answer lives for its
//! smallest TTL (negative answers: the RFC 2308 negative TTL), and comes
//! out with TTLs lowered by the time it spent inside.
//!
//! Shared stores are split into shards ([`Shards`]), each behind a lock of
//! its own and holding at most about [`SHARD_ENTRIES`] answers: a store's
//! table grows by doubling, which moves every entry at once, and its
//! eviction queue is compacted in one pass. In one table of a million
//! answers those pauses reached 173 ms, every query waiting on the lock;
//! in a shard they stay near a millisecond, and only the queries whose
//! names hash to that shard wait.
//!
//! A store is also bounded in bytes: [`BYTES_PER_ENTRY`] for each answer it
//! may hold, on average. Answers are a few hundred bytes, so the count is
//! what fills a store; but whoever runs an upstream zone decides how large
//! its answers are (up to 64 KiB over TCP), and a client asking for many
//! large ones would otherwise make the cache hold `cache_size` times that.
//! Past the byte bound the oldest answers go first, as past the count, and
//! each one that went for the bytes is counted.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use common::sync::lock;

use std::hash::{BuildHasher, Hash};

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

/// The bytes a store may hold per value it may hold (its byte bound is its
/// capacity times this): four times a large ordinary answer.
pub const BYTES_PER_ENTRY: usize = 1024;

/// What a value costs towards a store's byte bound.
pub trait Weight {
    /// Its bytes (the part that varies from value to value).
    fn weight(&self) -> usize;
}

impl Weight for Box<[u8]> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weight for u64 {
    fn weight(&self) -> usize {
        std::mem::size_of::<u64>()
    }
}

/// A bounded store of values that expire: when full (in values or in
/// bytes), the oldest insertion goes first. Used for upstream answers (as wire bytes: compact) and for
/// whole client answers (the server's fast path). Each key is stored once:
/// the eviction queue holds only (hash, generation).
#[derive(Debug)]
pub struct Store<K, V> {
    table: HashTable<Entry<K, V>>,
    hasher: foldhash::fast::RandomState,
    order: VecDeque<(u64, u64)>,
    capacity: usize,
    generation: u64,
    /// The values' bytes ([`Weight`]) and their bound.
    bytes: usize,
    max_bytes: usize,
    /// Values evicted, or not kept, to stay within `max_bytes`.
    byte_evictions: u64,
}

impl<K: std::hash::Hash + Eq, V: Weight> Store<K, V> {
    /// A store of at most `capacity` values (0: keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Self::with_hasher(capacity, foldhash::fast::RandomState::default())
    }

    /// A store hashing with `hasher` (shards share theirs: a key's hash
    /// picks its shard and is then used inside it).
    fn with_hasher(capacity: usize, hasher: foldhash::fast::RandomState) -> Self {
        Store {
            table: HashTable::new(),
            hasher,
            order: VecDeque::new(),
            capacity,
            generation: 0,
            bytes: 0,
            max_bytes: capacity.saturating_mul(BYTES_PER_ENTRY),
            byte_evictions: 0,
        }
    }

    /// The values' bytes now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Values evicted, or not kept, to stay within the byte bound.
    pub fn byte_evictions(&self) -> u64 {
        self.byte_evictions
    }

    /// Takes out the entry found by `eq` under hash `h`, if any.
    fn take(&mut self, h: u64, eq: impl FnMut(&Entry<K, V>) -> bool) -> bool {
        match self.table.find_entry(h, eq) {
            Ok(e) => {
                let (old, _) = e.remove();
                self.bytes -= old.value.weight();
                true
            }
            Err(_) => false,
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
        self.get_hashed(self.hasher.hash_one(key), key, now)
    }

    /// [`Self::get`] with the key's hash already taken.
    fn get_hashed(&mut self, h: u64, key: &K, now: u64) -> Option<(&V, u32)> {
        let expired = now >= self.table.find(h, |e| e.key == *key)?.expires;
        if expired {
            self.take(h, |e| e.key == *key);
            return None;
        }
        let e = self.table.find(h, |e| e.key == *key)?;
        Some((&e.value, u32::try_from(now - e.stored).unwrap_or(u32::MAX)))
    }

    /// Keeps `value` for `key` from `now` for `ttl` seconds.
    pub fn put(&mut self, key: K, value: V, ttl: u32, now: u64) {
        self.put_hashed(self.hasher.hash_one(&key), key, value, ttl, now);
    }

    /// [`Self::put`] with the key's hash already taken.
    fn put_hashed(&mut self, h: u64, key: K, value: V, ttl: u32, now: u64) {
        if self.capacity == 0 || ttl == 0 {
            return;
        }
        self.take(h, |e| e.key == key);
        let w = value.weight();
        if w > self.max_bytes {
            self.byte_evictions += 1;
            return;
        }
        while self.table.len() >= self.capacity || self.bytes + w > self.max_bytes {
            let Some((oh, g)) = self.order.pop_front() else {
                break;
            };
            let for_bytes = self.table.len() < self.capacity;
            if self.take(oh, |e| e.generation == g) && for_bytes {
                self.byte_evictions += 1;
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
        self.bytes += w;
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

    /// Forgets everything; returns how many values went.
    pub fn clear(&mut self) -> usize {
        let n = self.table.len();
        self.table.clear();
        self.order.clear();
        self.bytes = 0;
        n
    }

    /// Appends to `out`, while it holds fewer than `limit`, the live
    /// entries at `now` whose key `pick` accepts, as (key, value, seconds
    /// left); returns how many live entries it accepted in all. One pass
    /// over the store.
    fn collect(
        &self,
        now: u64,
        limit: usize,
        pick: &dyn Fn(&K) -> bool,
        out: &mut Vec<(K, V, u64)>,
    ) -> usize
    where
        K: Clone,
        V: Clone,
    {
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
        n
    }

    /// Forgets the entries whose key `pick` accepts; returns how many.
    /// (The eviction queue's stale positions are skipped as usual.)
    pub fn remove_where(&mut self, pick: impl Fn(&K) -> bool) -> usize {
        let before = self.table.len();
        let mut freed = 0;
        self.table.retain(|e| {
            let keep = !pick(&e.key);
            if !keep {
                freed += e.value.weight();
            }
            keep
        });
        self.bytes -= freed;
        before - self.table.len()
    }
}

/// Answers a shard holds at most (about): see the module's text. A shard
/// of 8 192 answers grows from 4 096 buckets to 8 192 and then 16 384, each
/// step a copy of at most about 7 000 entries.
pub const SHARD_ENTRIES: usize = 8192;
/// Most shards of one store (`cache_size` at its limit, 10 million, gives
/// shards of about 9 800 answers).
const MAX_SHARDS: usize = 1024;

/// A [`Store`] shared by threads, split into shards by the key's hash,
/// each behind its own lock. The bound is exact: the shards' capacities
/// add up to the store's. Eviction is oldest-first within a shard, so
/// about oldest-first overall (the hash spreads insertions evenly). A
/// store of at most [`SHARD_ENTRIES`] values has one shard and behaves as
/// one [`Store`].
#[derive(Debug)]
pub struct Shards<K, V> {
    shards: Box<[Mutex<Store<K, V>>]>,
    hasher: foldhash::fast::RandomState,
}

impl<K: Hash + Eq, V: Weight> Shards<K, V> {
    /// A store of at most `capacity` values (0: keeps nothing).
    pub fn new(capacity: usize) -> Self {
        let n = capacity
            .div_ceil(SHARD_ENTRIES)
            .next_power_of_two()
            .min(MAX_SHARDS);
        let hasher = foldhash::fast::RandomState::default();
        let shards = (0..n)
            .map(|i| {
                let cap = capacity / n + usize::from(i < capacity % n);
                Mutex::new(Store::with_hasher(cap, hasher.clone()))
            })
            .collect();
        Shards { shards, hasher }
    }

    /// The shard of hash `h`. The bits above 32 pick it: a shard's table
    /// indexes its buckets with the low bits and tags them with the top 7,
    /// which must stay spread within a shard.
    fn shard(&self, h: u64) -> MutexGuard<'_, Store<K, V>> {
        let i = usize::try_from(h >> 32).unwrap_or(0) & (self.shards.len() - 1);
        lock(&self.shards[i])
    }

    /// Shards (for tests and the docs' figures).
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// `f` of the value of `key` at `now` and its age in seconds, unless
    /// absent or expired; `f` runs under the shard's lock: keep it short.
    pub fn get_with<T>(&self, key: &K, now: u64, f: impl FnOnce(&V, u32) -> T) -> Option<T> {
        let h = self.hasher.hash_one(key);
        let mut s = self.shard(h);
        s.get_hashed(h, key, now).map(|(v, age)| f(v, age))
    }

    /// Keeps `value` for `key` from `now` for `ttl` seconds.
    pub fn put(&self, key: K, value: V, ttl: u32, now: u64) {
        let h = self.hasher.hash_one(&key);
        self.shard(h).put_hashed(h, key, value, ttl, now);
    }

    /// Values kept (shard by shard: a moment's count under load).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| lock(s).is_empty())
    }

    /// The values' bytes (shard by shard).
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| lock(s).bytes()).sum()
    }

    /// Values evicted, or not kept, to stay within the byte bound.
    pub fn byte_evictions(&self) -> u64 {
        self.shards.iter().map(|s| lock(s).byte_evictions()).sum()
    }

    /// Forgets everything, shard by shard; returns how many values went.
    pub fn clear(&self) -> usize {
        self.shards.iter().map(|s| lock(s).clear()).sum()
    }

    /// Up to `limit` live entries at `now` whose key `pick` accepts, as
    /// (key, value, seconds left), and how many live entries it accepted
    /// in all. One pass over each shard, one shard locked at a time.
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
        let n = self
            .shards
            .iter()
            .map(|s| lock(s).collect(now, limit, &pick, &mut out))
            .sum();
        (out, n)
    }

    /// [`Store::remove_where`] over every shard, one locked at a time.
    pub fn remove_where(&self, pick: impl Fn(&K) -> bool) -> usize {
        self.shards
            .iter()
            .map(|s| lock(s).remove_where(&pick))
            .sum()
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

/// The upstream answer cache: messages kept as wire bytes, in shards
/// ([`Shards`]). Answers are parsed and serialised outside the locks.
#[derive(Debug)]
pub struct Cache {
    store: Shards<Key, Box<[u8]>>,
}

impl Cache {
    /// A cache of at most `capacity` answers (0: caches nothing).
    pub fn new(capacity: usize) -> Cache {
        Cache {
            store: Shards::new(capacity),
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

    /// The cached answers' bytes.
    pub fn bytes(&self) -> usize {
        self.store.bytes()
    }

    /// Answers evicted, or not kept, to stay within the byte bound.
    pub fn byte_evictions(&self) -> u64 {
        self.store.byte_evictions()
    }

    /// The cached answer to `key` at `now`, TTLs lowered by its age.
    pub fn get(&self, key: &Key, now: u64) -> Option<Message> {
        let (wire, age) = self.store.get_with(key, now, |w, age| (w.to_vec(), age))?;
        let mut m = Message::from_vec(&wire).ok()?;
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
    pub fn put(&self, key: Key, m: &Message, now: u64) {
        let Some(ttl) = lifetime(m) else { return };
        let mut msg = m.clone();
        msg.edns = None;
        msg.signature = None;
        if let Ok(wire) = msg.to_vec() {
            self.store.put(key, wire.into_boxed_slice(), ttl, now);
        }
    }

    /// Forgets everything; returns how many answers went.
    pub fn clear(&self) -> usize {
        self.store.clear()
    }

    /// What the cache holds at `now` for the keys `pick` accepts (at most
    /// `limit` rows), and how many it holds in all. One shard is locked
    /// at a time; the rows are parsed after.
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
    pub fn flush_name(&self, name: &Name) -> usize {
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
        let c = Cache::new(10);
        c.put(key("X.test."), &answer(100), 1000);
        let m = c.get(&key("x.TEST."), 1030).expect("case-insensitive hit");
        assert_eq!(m.answers[0].ttl, 70);
        assert!(c.get(&key("x.test."), 1100).is_none(), "expired");
        assert!(c.is_empty());
    }

    #[test]
    fn d13_negative_answers_by_their_soa() {
        let c = Cache::new(10);
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
        let c = Cache::new(10);
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
        let c = Cache::new(3);
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
        assert_eq!(c.store.shard_count(), 1);
        assert!(lock(&c.store.shards[0]).order.len() <= 2 * 3 + 1);
        assert_eq!(c.len(), 3);
        let none = Cache::new(0);
        none.put(key("x.test."), &answer(100), 0);
        assert!(none.is_empty());
    }

    /// Answers far larger than usual fill a store's byte bound before its
    /// count: the oldest go first, each counted, and the bytes held never
    /// pass `capacity` x [`BYTES_PER_ENTRY`]; an answer larger than the
    /// whole bound is not kept. Replacing, expiring, removing and clearing
    /// give their bytes back.
    #[test]
    fn d13_a_store_is_bounded_in_bytes_too() {
        let big = |n: usize| vec![7u8; n].into_boxed_slice();
        let mut st: Store<u64, Box<[u8]>> = Store::new(4);
        let bound = 4 * BYTES_PER_ENTRY;
        for k in 0..3 {
            st.put(k, big(2000), 100, 0);
            assert!(st.bytes() <= bound);
        }
        assert_eq!((st.len(), st.bytes(), st.byte_evictions()), (2, 4000, 1));
        assert!(st.get(&0, 1).is_none(), "the oldest went first");
        assert!(st.get(&2, 1).is_some());
        st.put(9, big(bound + 1), 100, 0);
        assert_eq!((st.len(), st.byte_evictions()), (2, 2));
        assert!(st.get(&9, 1).is_none());
        // Small answers: the first needs the room of one large one (a
        // third eviction for the bytes); then the count binds.
        for k in 10..20 {
            st.put(k, big(100), 100, 0);
        }
        assert_eq!((st.len(), st.bytes(), st.byte_evictions()), (4, 400, 3));
        st.put(19, big(50), 100, 0);
        assert_eq!(st.bytes(), 350);
        st.put(30, big(10), 5, 0);
        assert!(st.get(&30, 6).is_none(), "expired");
        assert_eq!(st.bytes(), 250);
        assert_eq!(st.remove_where(|k| *k == 18), 1);
        assert_eq!(st.bytes(), 150);
        st.clear();
        assert_eq!(st.bytes(), 0);
        // The same through the shards of a large store.
        let sh: Shards<u64, Box<[u8]>> = Shards::new(4 * SHARD_ENTRIES);
        for k in 0..(4 * SHARD_ENTRIES as u64) {
            sh.put(k, big(4096), 100, 0);
        }
        assert!(sh.bytes() <= 4 * SHARD_ENTRIES * BYTES_PER_ENTRY);
        assert!(sh.len() <= SHARD_ENTRIES + 4, "{}", sh.len());
        assert!(sh.byte_evictions() >= 3 * SHARD_ENTRIES as u64 - 4);
    }

    /// A large store is split; every key put is found again (the shards
    /// use the hash that picked them, across their tables' growth), the
    /// bound holds, and eviction is oldest-first in every shard.
    #[test]
    fn d13_shards_bound_and_find() {
        let cap = 10 * SHARD_ENTRIES + 3;
        let s: Shards<u64, u64> = Shards::new(cap);
        assert_eq!(s.shard_count(), 16);
        let half = cap as u64 / 2;
        for i in 0..half {
            s.put(i, i * 2, 100, 0);
        }
        assert_eq!(s.len(), half as usize);
        for i in 0..half {
            assert_eq!(s.get_with(&i, 1, |v, age| (*v, age)), Some((i * 2, 1)));
        }
        for i in half..half + 3 * cap as u64 {
            s.put(i, i, 100, 2);
            assert!(s.len() <= cap);
        }
        // Full: a shard evicts once its own share is full, so the store
        // holds within a few percent of the bound, never more.
        let n = s.len();
        assert!(n <= cap && n > cap * 97 / 100, "{n} of {cap}");
        let old = (0..half).filter(|i| s.get_with(i, 3, |_, _| ()).is_some());
        assert_eq!(old.count(), 0, "the oldest went first in every shard");
        let even = (0..half + 3 * cap as u64)
            .filter(|i| i % 2 == 0 && s.get_with(i, 3, |_, _| ()).is_some())
            .count();
        let (rows, m) = s.entries(3, 5, |k| k % 2 == 0);
        assert_eq!((rows.len(), m), (5, even));
        assert_eq!(s.remove_where(|k| k % 2 == 0), even);
        assert_eq!(s.clear(), n - even);
        assert!(s.is_empty());
        assert_eq!(Shards::<u64, u64>::new(SHARD_ENTRIES).shard_count(), 1);
        assert_eq!(Shards::<u64, u64>::new(0).shard_count(), 1);
        let most = Shards::<u64, u64>::new(crate::config::MAX_CACHE_SIZE);
        assert_eq!(most.shard_count(), MAX_SHARDS);
    }
}
