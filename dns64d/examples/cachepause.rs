//! The longest pauses of the answer cache's inserts: fills a store of
//! CAPACITY answers with unique names, then keeps putting a thousand names
//! over and over (replacements: the eviction queue's compaction), timing
//! every insert. `single` is one table behind one lock, as the cache was;
//! `shards` is the cache as it is (docs/performance.md, "The answer cache's
//! pauses").
//!
//!     cargo run --release -p dns64d --example cachepause [CAPACITY [PUTS [single|shards]]]

use std::time::Instant;

use dns64d::cache::{Shards, Store};

fn main() {
    let mut args = std::env::args().skip(1);
    let cap = number(args.next(), 1_000_000);
    let puts = number(args.next(), 3 * cap);
    let single = match args.next().as_deref() {
        None | Some("shards") => false,
        Some("single") => true,
        Some(other) => {
            eprintln!("cachepause: {other:?} is neither single nor shards");
            std::process::exit(2);
        }
    };
    let shards = Shards::new(if single { 0 } else { cap });
    let mut store = Store::new(if single { cap } else { 0 });
    for (phase, distinct) in [("fill", puts), ("replace", 1000)] {
        let mut times = Vec::with_capacity(puts);
        for i in 0..puts {
            let key: Box<str> = format!("u{}.bench.test", i % distinct).into();
            let value: Box<[u8]> = vec![0u8; 100].into();
            let now = (i / 1000) as u64;
            let t = Instant::now();
            if single {
                store.put(key, value, 3600, now);
            } else {
                shards.put(key, value, 3600, now);
            }
            times.push(t.elapsed().as_micros());
        }
        times.sort_unstable();
        let over = times.iter().filter(|&&t| t > 1000).count();
        let worst = times.last().copied().unwrap_or(0);
        println!(
            "{phase}: {puts} puts into {} ({cap}): {over} took over 1 ms, the worst {worst} us",
            if single { "one table" } else { "shards" },
        );
    }
}

fn number(arg: Option<String>, default: usize) -> usize {
    arg.map_or(default, |a| {
        a.parse().unwrap_or_else(|_| {
            eprintln!("cachepause: {a:?} is not a count");
            std::process::exit(2);
        })
    })
}
