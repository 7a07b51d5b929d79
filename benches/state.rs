//! Session table cost with 1 M live sessions: lookup hit, lookup miss,
//! create, expire; and memory per session, measured with a counting
//! allocator. The target (ARCHITECTURE.md, "State"): under 200 bytes per session, both indexes
//! included. Every host is its own customer prefix (/64), the worst case
//! for the per-customer entries. Then what the per-customer limits and the
//! port policy (req O4) add to a new session and to a packet of an
//! existing one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use nat64d::flow::{Proto, TransportAddr4, TransportAddr6};
use nat64d::pool::{DEFAULT_RANGES, Pool};
use std::sync::Arc;

use nat64d::limits::{LimitPolicy, Limits, Override, PortAction, PortRule, Rate};
use nat64d::pool::PortRange;
use nat64d::state::{Ask, Event, Pairing, SWEEP_BATCH, Select, StateConfig, Table};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts bytes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: same layout, passed through.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: p came from System.alloc with l.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// 1 M sessions under `cargo bench`; a few thousand when `cargo test`
/// runs the benchmark once as a smoke test.
fn n() -> u32 {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        5_000
    }
}

fn host(i: u32) -> TransportAddr6 {
    // 1 M hosts × one port each, as many bindings as sessions, each host in
    // a /64 of its own (worst case: one customer entry per session).
    TransportAddr6 {
        addr: Ipv6Addr::new(0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 1),
        port: 40000,
    }
}

const SERVER: TransportAddr4 = TransportAddr4 {
    addr: Ipv4Addr::new(203, 0, 113, 10),
    port: 443,
};

fn filled() -> (Table, Pool, usize) {
    let addrs: Vec<Ipv4Addr> = (0..64).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect();
    let pool = Pool::new(addrs, DEFAULT_RANGES, 64).expect("pool");
    let before = LIVE.load(Ordering::Relaxed);
    let cfg = StateConfig {
        max_sessions: 2 * n() as usize,
        ..StateConfig::default()
    };
    let table = Table::new(64, cfg, 42);
    let mut ev = Vec::new();
    for i in 0..n() {
        table
            .outbound(
                0,
                &pool,
                Proto::Udp,
                host(i),
                SERVER,
                0,
                Ask::Data { tcp_flags: 0 },
                &mut ev,
            )
            .expect("room");
        ev.clear();
    }
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    (table, pool, bytes)
}

/// `bytes` of u32 forming one random cycle (Sattolo's shuffle, xorshift).
fn chase_table(bytes: usize) -> Vec<u32> {
    let n = bytes / 4;
    let mut a: Vec<u32> = (0..n as u32).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % i as u64) as usize;
        a.swap(i, j);
    }
    a
}

fn bench(c: &mut Criterion) {
    let (table, pool, bytes) = filled();
    eprintln!(
        "memory: {} sessions (one binding each) use {} bytes: {:.1} bytes per session",
        table.sessions(),
        bytes,
        bytes as f64 / f64::from(n())
    );
    let n = n();
    let mut g = c.benchmark_group("session table, 1 M sessions");
    let mut ev = Vec::new();
    let mut i = 0u32;
    g.bench_function("lookup hit (outbound)", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            table.outbound(
                1,
                &pool,
                Proto::Udp,
                black_box(host(i)),
                SERVER,
                0,
                Ask::Lookup,
                &mut ev,
            )
        })
    });
    g.bench_function("lookup miss (inbound, no binding)", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            let to = TransportAddr4 {
                addr: Ipv4Addr::new(198, 51, 100, 200),
                port: (i % 60000) as u16 + 1024,
            };
            table.inbound(
                1,
                &pool,
                Proto::Udp,
                black_box(to),
                SERVER,
                Ask::Lookup,
                &[],
                &mut ev,
            )
        })
    });
    let mut j = n;
    g.bench_function("create (new binding + session)", |b| {
        b.iter(|| {
            j += 1;
            let r = table.outbound(
                1,
                &pool,
                Proto::Udp,
                host(j),
                SERVER,
                0,
                Ask::Data { tcp_flags: 0 },
                &mut ev,
            );
            ev.clear();
            r
        })
    });
    // Reference for the figures above: one dependent random read from a
    // table as large as the session table's (a pointer chase through a
    // random cycle), i.e. one cache and TLB miss to memory.
    let chase = chase_table(if n >= 1_000_000 { 160 << 20 } else { 1 << 20 });
    let mut p = 0usize;
    g.bench_function("reference: one random memory read (160 MB chase)", |b| {
        b.iter(|| {
            p = chase[p] as usize;
            p
        })
    });
    drop(chase);
    g.finish();
    // Expiry. A sweep holds a shard's lock for one read-only scan of the
    // shard, then once per batch of SWEEP_BATCH removals: those are the
    // pauses a shard's packets can see. First the scan alone (nothing
    // expired), then every shard with all sessions expired.
    let (table, _, _) = filled();
    let mut un = Vec::new();
    let t = std::time::Instant::now();
    for s in 0..table.shard_count() {
        table.sweep(0, s, &mut ev, &mut un);
    }
    let scan = t.elapsed().as_secs_f64() / table.shard_count() as f64;
    let t = std::time::Instant::now();
    let mut removed = 0;
    for s in 0..table.shard_count() {
        removed += table.sweep(10_000, s, &mut ev, &mut un);
        ev.clear();
    }
    let el = t.elapsed().as_secs_f64();
    let per = (el - scan * table.shard_count() as f64) / removed.max(1) as f64;
    eprintln!(
        "expire: {removed} sessions in {:.1} ms: {:.1} ns per session; lock held {:.0} us for a shard's scan ({} sessions), {:.0} us per batch of {SWEEP_BATCH} removals",
        el * 1e3,
        el * 1e9 / removed.max(1) as f64,
        scan * 1e6,
        n as usize / table.shard_count(),
        per * SWEEP_BATCH as f64 * 1e6,
    );
    control_listings(&mut ev);
}

/// What `nat64gw sessions` and `bib` cost the table (docs/operations.md):
/// a listing holds one shard's lock at a time for a scan of that shard.
/// Worst case, a filter nothing matches (every shard scanned whole); the
/// usual case, the first 1 000 rows of everything; one pool port (its
/// shard alone); and removing one binding.
fn control_listings(ev: &mut Vec<Event>) {
    let (table, pool, _) = filled();
    let shards = table.shard_count() as f64;
    let nothing = Select {
        v6: Some("2001:db8:ffff::/48".parse().expect("prefix")),
        ..Select::default()
    };
    let time = |f: &dyn Fn() -> usize| {
        let t = std::time::Instant::now();
        let rows = f();
        (t.elapsed().as_secs_f64(), rows)
    };
    let (all, rows) = time(&|| table.list_sessions(&nothing, 1000, 0).0.len());
    let (first, n1000) = time(&|| table.list_sessions(&Select::default(), 1000, 0).0.len());
    let port = pool.range(Proto::Udp).first + 2;
    let one = Select {
        port: Some(port),
        ..Select::default()
    };
    let (by_port, _) = time(&|| table.list_bindings(&one, 1000).0.len());
    let target = table.list_bindings(&Select::default(), 1).0[0];
    let t = std::time::Instant::now();
    let removed = table.remove_binding(target.proto, target.v4, 0, ev);
    let rm = t.elapsed().as_secs_f64();
    eprintln!(
        "control: sessions listing, nothing matching: {:.1} ms in all ({rows} rows), lock held {:.0} us per shard ({} sessions); first {n1000} rows: {:.2} ms; one pool port: {:.0} us; bib remove: {:.0} us ({:?})",
        all * 1e3,
        all / shards * 1e6,
        table.sessions() / table.shard_count(),
        first * 1e3,
        by_port * 1e6,
        rm * 1e6,
        removed.map(|(_, n)| n),
    );
}

/// The example file's limits: per /64, 10 000 sessions, 100 a second with
/// a burst of 1 000, SMTP limited; with 100 overrides to look through.
fn example_limits() -> Arc<LimitPolicy> {
    let rate = |per_minute, burst| Rate { per_minute, burst };
    let base = Limits {
        sessions: 10_000,
        rate: rate(6_000, 1_000),
    };
    let overrides = (0..100u16)
        .map(|i| Override {
            net: format!("2001:db9:{i:x}::/48").parse().expect("net"),
            prefix_len: 48,
            limits: Limits::NONE,
        })
        .collect();
    let smtp = PortRule {
        proto: Proto::Tcp,
        ports: vec![PortRange {
            first: 25,
            last: 25,
        }],
        from: Vec::new(),
        action: PortAction::Limit(rate(10, 20)),
    };
    Arc::new(LimitPolicy::new(64, base, overrides, vec![smtp]))
}

fn admission(c: &mut Criterion) {
    let addrs: Vec<Ipv4Addr> = (0..64).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect();
    let pool = Pool::new(addrs, DEFAULT_RANGES, 64).expect("pool");
    let mut g = c.benchmark_group("per-customer limits");
    for (name, limits) in [
        ("off", Arc::new(LimitPolicy::default())),
        ("example file", example_limits()),
    ] {
        let cfg = StateConfig {
            max_sessions: 100_000_000,
            limits,
            pairing: Pairing::Address,
            ..StateConfig::default()
        };
        // A new customer's new session each time: a new entry, every
        // check. Fresh tables of at most 100 000 sessions (the pool never
        // runs short), built inside the timing, dropped outside it.
        g.bench_function(format!("create, limits {name}"), |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                let mut done = 0u64;
                let mut ev = Vec::new();
                while done < iters {
                    let n = (iters - done).min(100_000) as u32;
                    let table = Table::new(64, cfg.clone(), 42);
                    let t = std::time::Instant::now();
                    for j in 0..n {
                        let r = table.outbound(
                            j / 50,
                            &pool,
                            Proto::Udp,
                            host(j),
                            SERVER,
                            0,
                            Ask::Data { tcp_flags: 0 },
                            &mut ev,
                        );
                        black_box(r).ok();
                        ev.clear();
                    }
                    total += t.elapsed();
                    done += u64::from(n);
                }
                total
            })
        });
        // A packet of an existing session (100 000 of them): the fast path,
        // no check.
        let table = Table::new(64, cfg.clone(), 42);
        let mut ev = Vec::new();
        for j in 0..100_000 {
            table
                .outbound(
                    0,
                    &pool,
                    Proto::Udp,
                    host(j),
                    SERVER,
                    0,
                    Ask::Data { tcp_flags: 0 },
                    &mut ev,
                )
                .expect("room");
            ev.clear();
        }
        let mut i = 0u32;
        g.bench_function(format!("existing session, limits {name}"), |b| {
            b.iter(|| {
                i = (i + 7919) % 100_000;
                table.outbound(
                    1,
                    &pool,
                    Proto::Udp,
                    black_box(host(i)),
                    SERVER,
                    0,
                    Ask::Data { tcp_flags: 0 },
                    &mut ev,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, admission);
criterion_main!(benches);
