//! The longest pauses of nat64d's session table while it fills: opens
//! SESSIONS UDP sessions (each from a host of its own, as the 1 M-session
//! benchmark does), timing every creation.
//!
//!     cargo run --release -p nat64d --example tablepause [SESSIONS]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use nat64d::flow::{Proto, TransportAddr4, TransportAddr6};
use nat64d::pool::{DEFAULT_RANGES, Pool};
use nat64d::state::{Ask, StateConfig, Table};

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().expect("a count"));
    let addrs: Vec<Ipv4Addr> = (0..64).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect();
    let pool = Pool::new(addrs, DEFAULT_RANGES, 64).expect("pool");
    let cfg = StateConfig {
        max_sessions: 2 * n as usize,
        ..StateConfig::default()
    };
    let table = Table::new(64, cfg, 42);
    let server = TransportAddr4 {
        addr: Ipv4Addr::new(203, 0, 113, 10),
        port: 443,
    };
    let mut ev = Vec::new();
    let mut times = Vec::with_capacity(n as usize);
    for i in 0..n {
        let host = TransportAddr6 {
            addr: Ipv6Addr::new(0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 1),
            port: 40000,
        };
        let t = Instant::now();
        table
            .outbound(
                0,
                &pool,
                Proto::Udp,
                host,
                server,
                0,
                Ask::Data { tcp_flags: 0 },
                &mut ev,
            )
            .expect("room");
        times.push(t.elapsed().as_micros());
        ev.clear();
    }
    let mut worst: Vec<(u128, usize)> = times.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    worst.sort_unstable();
    let over = times.iter().filter(|&&t| t > 1000).count();
    println!("{n} sessions: {over} creations took over 1 ms; the longest:");
    for (t, i) in worst.iter().rev().take(8) {
        println!("  session {i}: {t} us");
    }
}
