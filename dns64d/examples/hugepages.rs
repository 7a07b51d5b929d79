//! What a fresh piece of dns64d's heap costs to touch, with transparent
//! huge pages as the machine gives them (`thp`) and with them off for the
//! process as dns64d runs (`off`, common::memory). Allocates MIB buffers
//! of 1 MiB from dns64d's allocator (mimalloc, which asks for huge pages on
//! its arenas) and writes one byte per 4 KiB page of each, timing every
//! write: the first write to a page is its page fault. Prints the longest
//! single write and the percentiles (docs/performance.md, "Huge pages").
//!
//!     cargo run --release -p dns64d --example hugepages [MIB [thp|off]]

use std::time::Instant;

/// As dns64d: see dns64d/Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MIB: usize = 1 << 20;
const PAGE: usize = 4096;

fn main() {
    let mut args = std::env::args().skip(1);
    let mib = match args.next().map(|s| s.parse::<usize>()) {
        None => 256,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => usage(),
    };
    match args.next().as_deref() {
        None | Some("off") => {
            let r = common::memory::no_huge_pages().unwrap_or_else(|e| {
                eprintln!("hugepages: cannot turn huge pages off: {e}");
                std::process::exit(1)
            });
            println!("transparent huge pages: off ({r:?})");
        }
        Some("thp") => println!("transparent huge pages: as the machine's setting gives them"),
        Some(_) => usage(),
    }
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(mib);
    let mut times = Vec::with_capacity(mib * (MIB / PAGE));
    for _ in 0..mib {
        // Allocated but not written: the pages are not backed yet.
        let mut b: Vec<u8> = Vec::with_capacity(MIB);
        let spare = b.spare_capacity_mut();
        for p in (0..MIB).step_by(PAGE) {
            let t = Instant::now();
            spare[p].write(1);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        kept.push(b);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let slow = times.iter().filter(|&&t| t > 1.0).count();
    println!(
        "{mib} MiB, {} page writes: p50 {:.4} ms, p99 {:.4}, p99.99 {:.3}, max {:.3}; {slow} over 1 ms; total {:.0} ms",
        times.len(),
        at(0.5),
        at(0.99),
        at(0.9999),
        times[times.len() - 1],
        times.iter().sum::<f64>()
    );
    std::hint::black_box(&kept);
}

fn usage() -> ! {
    eprintln!("usage: hugepages [MIB [thp|off]]");
    std::process::exit(2)
}
