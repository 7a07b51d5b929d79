//! Short-connection benchmark tool for `scripts/bench.sh`: a TCP server
//! that answers each connection with a fixed reply and closes it, and a
//! client that opens connections in a loop (connect, request, read the
//! reply, close) from several threads for a bounded time.
//!
//!   connrate serve ADDR:PORT
//!   connrate run ADDR:PORT THREADS SECONDS   -> prints "CONNECTIONS FAILURES"
//!   connrate latency ADDR:PORT COUNT INTERVAL_MS
//!       -> "P50 P90 P99 MAX FAILURES": COUNT connections one after the
//!          other, one every INTERVAL_MS (the shape of an API call: connect,
//!          a small request, its reply, close), each timed from connect to
//!          the reply's last byte, in milliseconds.
//!   connrate latency ADDR:PORT COUNT INTERVAL_MS raw
//!       -> the same calls, each one's time on a line of its own (`failed`
//!          for a failure), for a caller that pools several runs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let l = TcpListener::bind(addr)?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let l = Arc::new(l);
    let mut hs = Vec::new();
    for _ in 0..threads {
        let l = l.clone();
        hs.push(std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            loop {
                let Ok((mut s, _)) = l.accept() else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                if matches!(s.read(&mut buf), Ok(n) if n > 0) {
                    let _ = s.write_all(REPLY);
                }
            }
        }));
    }
    for h in hs {
        let _ = h.join();
    }
    Ok(())
}

fn run(addr: SocketAddr, threads: usize, seconds: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while !stop.load(Ordering::Relaxed) {
                    let r = (|| -> std::io::Result<bool> {
                        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
                        s.set_read_timeout(Some(Duration::from_secs(2)))?;
                        s.write_all(REQUEST)?;
                        let mut got = 0;
                        loop {
                            let n = s.read(&mut buf[got..])?;
                            if n == 0 {
                                break;
                            }
                            got += n;
                        }
                        Ok(&buf[..got] == REPLY)
                    })();
                    match r {
                        Ok(true) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in hs {
        let _ = h.join();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} {} {:.3}",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        secs
    );
}

/// One connection: connect, request, the whole reply; its duration.
fn one_call(addr: SocketAddr) -> Option<Duration> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(REQUEST).ok()?;
    let mut got = 0;
    let mut buf = [0u8; 256];
    while got < REPLY.len() {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got += n,
        }
    }
    Some(t0.elapsed())
}

/// `p` (0..=1) of sorted `v`, by the nearest rank.
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// `raw`: every call's time (ms) on a line of its own, `failed` for a
/// call that failed, so a caller can pool several runs; otherwise the
/// percentiles.
fn latency(addr: SocketAddr, count: usize, interval: Duration, raw: bool) {
    let mut times = Vec::with_capacity(count);
    let mut failures = 0;
    let start = Instant::now();
    for i in 0..count {
        // Paced from the start, so a slow call does not shift the others.
        let due = start + interval * u32::try_from(i).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        match one_call(addr) {
            Some(d) => times.push(d.as_secs_f64() * 1e3),
            None => failures += 1,
        }
    }
    if raw {
        for t in &times {
            println!("{t:.3}");
        }
        for _ in 0..failures {
            println!("failed");
        }
        return;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{:.3} {:.3} {:.3} {:.3} {failures}",
        pct(&times, 0.5),
        pct(&times, 0.9),
        pct(&times, 0.99),
        times.last().copied().unwrap_or(f64::NAN)
    );
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let usage = "usage: connrate serve ADDR:PORT | connrate run ADDR:PORT THREADS SECONDS | connrate latency ADDR:PORT COUNT INTERVAL_MS [raw]";
    let addr = |s: &str| -> SocketAddr {
        s.parse().unwrap_or_else(|_| {
            eprintln!("connrate: {s}: not ADDR:PORT");
            std::process::exit(2)
        })
    };
    match a.get(1).map(String::as_str) {
        Some("serve") if a.len() == 3 => {
            if let Err(e) = serve(addr(&a[2])) {
                eprintln!("connrate: {e}");
                std::process::exit(1);
            }
        }
        Some("run") if a.len() == 5 => {
            let (Ok(t), Ok(s)) = (a[3].parse(), a[4].parse()) else {
                eprintln!("{usage}");
                std::process::exit(2)
            };
            run(addr(&a[2]), t, s)
        }
        Some("latency") if a.len() == 5 || (a.len() == 6 && a[5] == "raw") => {
            let (Ok(n), Ok(ms)) = (a[3].parse(), a[4].parse()) else {
                eprintln!("{usage}");
                std::process::exit(2)
            };
            latency(addr(&a[2]), n, Duration::from_millis(ms), a.len() == 6)
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2)
        }
    }
}
