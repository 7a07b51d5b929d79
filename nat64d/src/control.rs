//! The control plane: start-up, the coarse clock, the per-shard sweep, the
//! mapping log (req O3), `/metrics` (req O2), SIGHUP reload and SIGTERM
//! stop (req O1).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use common::prefix::embed;
use nat64d::config::{File, Nat64Config};
use nat64d::flow::{Proto, TransportAddr4, TransportAddr6};
use nat64d::gateway::{Gateway, Policy};
use nat64d::pool::Pool;
use nat64d::state::{Event, Table, tcp::TcpState};
use nat64d::stats::{Counters, DropReason};
use nat64d::translate;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tun_rs::InterruptEvent;

use crate::{Args, affinity, io, load, own_v4};

/// What the workers and the control thread share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) gateway: Gateway,
    pub(crate) counters: Vec<Counters>,
    /// Seconds since start, ticked by the control thread.
    pub(crate) now: AtomicU32,
    pub(crate) stopping: AtomicBool,
    policy: Mutex<Arc<Policy>>,
    pub(crate) policy_gen: AtomicU64,
    /// Own ICMP errors per second per worker.
    pub(crate) error_rate: AtomicU32,
    log_tx: SyncSender<Vec<Event>>,
    log_dropped: AtomicU64,
}

impl Shared {
    /// The current policy and its generation.
    pub(crate) fn policy(&self) -> (Arc<Policy>, u64) {
        let gen_now = self.policy_gen.load(Ordering::Acquire);
        let p = self
            .policy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (p, gen_now)
    }

    /// Hands mapping-log events to the log thread; never blocks a worker.
    /// Lines that do not fit the queue are counted, and said in the log.
    pub(crate) fn log_events(&self, events: &mut Vec<Event>) {
        let batch = std::mem::take(events);
        match self.log_tx.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => {
                self.log_dropped
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
            }
        }
    }
}

fn policy_of(f: &File) -> Policy {
    Policy {
        allow_from: f.nat64.allow_from.clone(),
        deny_to: f.nat64.deny_to.clone(),
        allow_non_global: f.prefix.allow_non_global,
    }
}

fn statics_of(c: &Nat64Config) -> Vec<(Proto, TransportAddr6, TransportAddr4)> {
    c.statics
        .iter()
        .map(|s| {
            (
                s.proto,
                TransportAddr6 {
                    addr: *s.ipv6.ip(),
                    port: s.ipv6.port(),
                },
                TransportAddr4 {
                    addr: *s.ipv4.ip(),
                    port: s.ipv4.port(),
                },
            )
        })
        .collect()
}

/// Shards: a power of two, at most 64, each with at least 512 ports of the
/// narrowest range (so a small pool is not cut into useless slivers).
fn shard_count(c: &Nat64Config) -> usize {
    let narrowest = c.ranges().iter().map(|r| r.len()).min().unwrap_or(1);
    let mut n = 64usize;
    while n > 1 && narrowest / (n as u32) < 512 {
        n /= 2;
    }
    n
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// The CPU of each worker: none with `nat64.pin_workers = false`, or when
/// the affinity mask cannot be read (said in the log).
fn worker_cpus(pin: bool, workers: usize) -> Vec<usize> {
    if !pin {
        return Vec::new();
    }
    match affinity::allowed_cpus() {
        Ok(allowed) => affinity::plan(&allowed, workers),
        Err(e) => {
            eprintln!(
                "nat64d: nat64.pin_workers: cannot read the CPUs nat64d may run on ({e}); workers not pinned"
            );
            Vec::new()
        }
    }
}

/// Runs the daemon until SIGTERM/SIGINT.
pub(crate) fn run(args: Args, f: File) -> anyhow::Result<()> {
    let c = &f.nat64;
    let threads = if c.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        c.threads
    };
    let shards = shard_count(c);
    let pool = Pool::new(c.pool_addresses(), c.ranges(), shards)
        .map_err(|e| anyhow::anyhow!("nat64.pool4: {e}"))?;
    let table = Table::new(shards, c.state_config(), random_seed());
    let own4 = own_v4(c);
    let own6 = c.own_ipv6.unwrap_or_else(|| {
        embed(
            f.prefix
                .prefixes
                .as_slice()
                .first()
                .unwrap_or(&common::WELL_KNOWN_PREFIX),
            own4,
        )
    });
    let xlat = translate::Config {
        ipv4_mtu: c.mtu,
        ipv6_mtu: c.ipv6_mtu,
        zero_tos: c.zero_tos,
        own_v4: own4,
        own_v6: own6,
    };
    let gateway = Gateway::new(f.prefix.clone(), pool, table, xlat);
    let mut events = Vec::new();
    gateway
        .table
        .set_statics(0, &gateway.pool, &statics_of(c), &mut events)
        .map_err(|e| anyhow::anyhow!("nat64.static: {e}"))?;

    let (log_tx, log_rx) = sync_channel(65536);
    let shared = Arc::new(Shared {
        gateway,
        counters: (0..threads).map(|_| Counters::default()).collect(),
        now: AtomicU32::new(0),
        stopping: AtomicBool::new(false),
        policy: Mutex::new(Arc::new(policy_of(&f))),
        policy_gen: AtomicU64::new(0),
        error_rate: AtomicU32::new(c.icmp_error_rate.div_ceil(threads as u32)),
        log_tx,
        log_dropped: AtomicU64::new(0),
    });
    let started = SystemTime::now();
    let log_path = Arc::new(Mutex::new(c.mapping_log.clone()));
    let reopen = Arc::new(AtomicBool::new(false));
    let log_thread = {
        let (path, reopen) = (log_path.clone(), reopen.clone());
        std::thread::Builder::new()
            .name("mapping-log".into())
            .spawn(move || mapping_log(log_rx, path, reopen, started))?
    };
    if !events.is_empty() {
        shared.log_events(&mut events);
    }

    let queues = io::open(&c.tun, threads, c.mtu, c.offload)?;
    let mut installed: Vec<Vec<String>> = Vec::new();
    if c.routes {
        let mut routes: Vec<Vec<String>> = f
            .prefix
            .prefixes
            .iter()
            .map(|p| {
                vec![
                    "-6".into(),
                    "route".into(),
                    "replace".into(),
                    p.to_string(),
                    "dev".into(),
                    c.tun.clone(),
                ]
            })
            .collect();
        routes.extend(c.pool4.iter().map(|p| {
            vec![
                "-4".into(),
                "route".into(),
                "replace".into(),
                p.to_string(),
                "dev".into(),
                c.tun.clone(),
            ]
        }));
        for r in routes {
            let args: Vec<&str> = r.iter().map(String::as_str).collect();
            io::ip(&args)?;
            installed.push(r);
        }
    }
    let queues: Vec<Arc<_>> = queues.into_iter().map(Arc::new).collect();
    let cpus = worker_cpus(c.pin_workers, threads);
    // One stop event per worker: a woken reader may consume its event.
    let mut stops = Vec::new();
    let mut workers = Vec::new();
    for (i, q) in queues.iter().enumerate() {
        let stop = Arc::new(InterruptEvent::new().context("cannot create the stop event")?);
        stops.push(stop.clone());
        let (q, shared) = (q.clone(), shared.clone());
        let cpu = cpus.get(i).copied();
        workers.push(
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    if let Some(cpu) = cpu
                        && let Err(e) = affinity::pin_current_thread(cpu)
                    {
                        eprintln!(
                            "nat64d: nat64.pin_workers: worker {i} cannot be pinned to CPU {cpu} ({e}); it runs where the scheduler puts it"
                        );
                    }
                    io::worker(q, shared, i, stop)
                })?,
        );
    }
    let reloads = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    if let Some(addr) = c.metrics.listen {
        let listener = TcpListener::bind(addr)
            .with_context(|| format!("nat64.metrics.listen: cannot listen on {addr}"))?;
        let (shared, reloads) = (shared.clone(), reloads.clone());
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    serve_metrics(conn, &shared, &reloads);
                }
            })?;
    }
    eprintln!(
        "nat64d: translating on {} ({} queues, {} shards; {}); {}; pool4 {}; allow_from {}",
        c.tun,
        threads,
        shards,
        if cpus.is_empty() {
            "workers not pinned".to_string()
        } else {
            format!("workers pinned to CPUs {}", affinity::describe(&cpus))
        },
        f.prefix.summary(),
        c.pool4
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        c.allow_from
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT])
        .context("cannot install signal handlers")?;
    let t0 = Instant::now();
    let mut next_shard = 0;
    let mut current = f;
    let tick = Duration::from_millis(100);
    'run: loop {
        std::thread::sleep(tick);
        let now = t0.elapsed().as_secs() as u32;
        shared.now.store(now, Ordering::Relaxed);
        // Sweep so that every shard is visited about once a second.
        let per_tick = shards.div_ceil(10);
        let mut unanswered = Vec::new();
        for _ in 0..per_tick {
            shared
                .gateway
                .table
                .sweep(now, next_shard, &mut events, &mut unanswered);
            next_shard = (next_shard + 1) % shards;
        }
        if !events.is_empty() {
            shared.log_events(&mut events);
        }
        let lost = shared.gateway.expire_fragments(now);
        if lost > 0 {
            shared.counters[0].drop_n(DropReason::FragmentTimeout, lost as u64);
        }
        if !unanswered.is_empty() {
            io::answer_held(&queues[0], unanswered, own4, &shared);
        }
        for sig in signals.pending() {
            match sig {
                SIGHUP => {
                    let ok = reload(&args, &mut current, &shared, now, &log_path, &reopen);
                    reloads[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
                }
                _ => break 'run,
            }
        }
    }
    eprintln!("nat64d: stopping");
    shared.stopping.store(true, Ordering::Relaxed);
    for stop in &stops {
        let _ = stop.trigger();
    }
    for w in workers {
        let _ = w.join();
    }
    for r in installed.iter().rev() {
        let mut del: Vec<&str> = r.iter().map(String::as_str).collect();
        del[2] = "del";
        if let Err(e) = io::ip(&del) {
            eprintln!("nat64d: {e}");
        }
    }
    drop(queues);
    // An empty batch tells the log thread to finish (workers never send
    // one); it writes every line queued before it.
    let _ = shared.log_tx.send(Vec::new());
    let _ = log_thread.join();
    eprintln!("nat64d: stopped");
    Ok(())
}

/// SIGHUP: reads the file again; applies what can change while running.
fn reload(
    args: &Args,
    current: &mut File,
    shared: &Shared,
    now: u32,
    log_path: &Mutex<Option<PathBuf>>,
    reopen: &AtomicBool,
) -> bool {
    let new = match load(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("nat64d: reload rejected, the running configuration stays: {e}");
            return false;
        }
    };
    let (old, c) = (&current.nat64, &new.nat64);
    let mut events = Vec::new();
    if let Err(e) =
        shared
            .gateway
            .table
            .set_statics(now, &shared.gateway.pool, &statics_of(c), &mut events)
    {
        eprintln!("nat64d: reload rejected, the running configuration stays: nat64.static: {e}");
        return false;
    }
    for (what, changed) in [
        (
            "prefix",
            current.prefix != new.prefix && current.prefix.prefixes != new.prefix.prefixes,
        ),
        ("nat64.pool4", old.pool4 != c.pool4),
        ("nat64.ports", old.ports != c.ports),
        ("nat64.tun", old.tun != c.tun),
        ("nat64.threads", old.threads != c.threads),
        ("nat64.pin_workers", old.pin_workers != c.pin_workers),
        ("nat64.mtu", old.mtu != c.mtu || old.ipv6_mtu != c.ipv6_mtu),
        (
            "nat64.own_ipv4/own_ipv6",
            old.own_ipv4 != c.own_ipv4 || old.own_ipv6 != c.own_ipv6,
        ),
        ("nat64.metrics.listen", old.metrics != c.metrics),
        ("nat64.routes", old.routes != c.routes),
        ("nat64.offload", old.offload != c.offload),
    ] {
        if changed {
            eprintln!("nat64d: reload: {what} changes only at restart; the running value stays");
        }
    }
    shared.gateway.table.reconfigure(c.state_config());
    *shared.policy.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy_of(&new));
    shared.policy_gen.fetch_add(1, Ordering::Release);
    let threads = shared.counters.len() as u32;
    shared
        .error_rate
        .store(c.icmp_error_rate.div_ceil(threads), Ordering::Relaxed);
    *log_path.lock().unwrap_or_else(|e| e.into_inner()) = c.mapping_log.clone();
    reopen.store(true, Ordering::Release);
    if !events.is_empty() {
        shared.log_events(&mut events);
    }
    eprintln!(
        "nat64d: reloaded: allow_from {}; deny_to {}; {} static bindings; filtering {:?}",
        c.allow_from
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        c.deny_to
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        c.statics.len(),
        c.filtering
    );
    // Keep the values that need a restart.
    let mut kept = new;
    kept.prefix = current.prefix.clone();
    kept.nat64.pool4 = current.nat64.pool4.clone();
    kept.nat64.ports = current.nat64.ports;
    kept.nat64.tun = current.nat64.tun.clone();
    kept.nat64.threads = current.nat64.threads;
    kept.nat64.pin_workers = current.nat64.pin_workers;
    kept.nat64.mtu = current.nat64.mtu;
    kept.nat64.ipv6_mtu = current.nat64.ipv6_mtu;
    kept.nat64.own_ipv4 = current.nat64.own_ipv4;
    kept.nat64.own_ipv6 = current.nat64.own_ipv6;
    kept.nat64.metrics = current.nat64.metrics;
    kept.nat64.routes = current.nat64.routes;
    kept.nat64.offload = current.nat64.offload;
    *current = kept;
    true
}

/// The mapping-log thread (req O3): one line per binding created or
/// removed, `TIME created|removed PROTO IPV6#PORT IPV4#PORT [static]`.
fn mapping_log(
    rx: Receiver<Vec<Event>>,
    path: Arc<Mutex<Option<PathBuf>>>,
    reopen: Arc<AtomicBool>,
    started: SystemTime,
) {
    let open = |p: &Option<PathBuf>| -> Box<dyn Write + Send> {
        match p {
            Some(p) if p.as_os_str() != "-" => {
                match std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                {
                    Ok(f) => Box::new(f),
                    Err(e) => {
                        eprintln!(
                            "nat64d: nat64.mapping_log: cannot open {}: {e}; writing to standard error",
                            p.display()
                        );
                        Box::new(std::io::stderr())
                    }
                }
            }
            _ => Box::new(std::io::stderr()),
        }
    };
    let mut out = open(&path.lock().unwrap_or_else(|e| e.into_inner()));
    while let Ok(batch) = rx.recv() {
        if batch.is_empty() {
            break;
        }
        if reopen.swap(false, Ordering::AcqRel) {
            out = open(&path.lock().unwrap_or_else(|e| e.into_inner()));
        }
        let mut text = String::new();
        for e in batch {
            let t = started + Duration::from_secs(u64::from(e.at));
            let _ = writeln!(
                text,
                "{} {} {} {} {}{}",
                utc(t),
                if e.created { "created" } else { "removed" },
                e.proto.name(),
                e.v6,
                e.v4,
                if e.is_static { " static" } else { "" }
            );
        }
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            eprintln!("nat64d: mapping log write failed: {e}");
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC).
pub(crate) fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn serve_metrics(mut conn: TcpStream, shared: &Shared, reloads: &[AtomicU64; 2]) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let Ok(reader) = conn.try_clone() else { return };
    let mut reader = BufReader::new(reader.take(8192));
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Drain the headers.
    let mut h = String::new();
    while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
        h.clear();
    }
    let (status, body) = if line.starts_with("GET /metrics ") || line.starts_with("GET / ") {
        ("200 OK", render(shared, reloads))
    } else {
        (
            "404 Not Found",
            "only GET /metrics is served here\n".to_string(),
        )
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

use std::io::Read as _;

fn sum(shared: &Shared, f: impl Fn(&Counters) -> &AtomicU64) -> u64 {
    shared
        .counters
        .iter()
        .map(|c| f(c).load(Ordering::Relaxed))
        .sum()
}

/// The Prometheus text exposition of every counter (req O2).
fn render(shared: &Shared, reloads: &[AtomicU64; 2]) -> String {
    let mut o = String::new();
    let ways = ["6to4", "4to6", "hairpin"];
    let _ = writeln!(
        o,
        "# HELP nat64d_packets_total Packets translated, by direction.\n# TYPE nat64d_packets_total counter"
    );
    for (i, w) in ways.iter().enumerate() {
        let _ = writeln!(
            o,
            "nat64d_packets_total{{way=\"{w}\"}} {}",
            sum(shared, |c| &c.packets[i])
        );
    }
    let _ = writeln!(
        o,
        "# HELP nat64d_bytes_total Bytes of the packets translated, by direction.\n# TYPE nat64d_bytes_total counter"
    );
    for (i, w) in ways.iter().enumerate() {
        let _ = writeln!(
            o,
            "nat64d_bytes_total{{way=\"{w}\"}} {}",
            sum(shared, |c| &c.bytes[i])
        );
    }
    let _ = writeln!(
        o,
        "# HELP nat64d_drops_total Packets dropped, by reason.\n# TYPE nat64d_drops_total counter"
    );
    for (i, r) in DropReason::ALL.iter().enumerate() {
        let _ = writeln!(
            o,
            "nat64d_drops_total{{reason=\"{}\"}} {}",
            r.name(),
            sum(shared, |c| &c.drops[i])
        );
    }
    for (name, help, get) in [
        (
            "nat64d_own_icmp_errors_total",
            "ICMP errors nat64d generated and sent.",
            (|c: &Counters| &c.own_errors) as fn(&Counters) -> &AtomicU64,
        ),
        (
            "nat64d_own_icmp_errors_rate_limited_total",
            "ICMP errors nat64d did not send (rate limit).",
            |c| &c.own_errors_limited,
        ),
        (
            "nat64d_fragments_sent_total",
            "Fragments sent by nat64d's own fragmentation.",
            |c| &c.fragments,
        ),
        (
            "nat64d_tun_write_errors_total",
            "Writes to the TUN device that failed.",
            |c| &c.write_errors,
        ),
        (
            "nat64d_offload_superpackets_total",
            "Super-packets (TUN offload) translated whole, headers once.",
            |c| &c.gso_whole,
        ),
        (
            "nat64d_offload_superpackets_cut_total",
            "Super-packets cut into segments in software before translation.",
            |c| &c.gso_cut,
        ),
        (
            "nat64d_offload_udp_coalesced_writes_total",
            "UDP super-packets written from two or more coalesced datagrams.",
            |c| &c.coalesced_writes,
        ),
        (
            "nat64d_offload_udp_coalesced_datagrams_total",
            "Datagrams written inside coalesced UDP super-packets.",
            |c| &c.coalesced,
        ),
    ] {
        let _ = writeln!(
            o,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            sum(shared, get)
        );
    }
    let census = shared.gateway.table.census();
    let _ = writeln!(
        o,
        "# HELP nat64d_sessions Live sessions, by protocol.\n# TYPE nat64d_sessions gauge"
    );
    for p in Proto::ALL {
        let _ = writeln!(
            o,
            "nat64d_sessions{{proto=\"{p}\"}} {}",
            census.sessions[p.index()]
        );
    }
    let _ = writeln!(
        o,
        "# HELP nat64d_tcp_sessions Live TCP sessions, by state.\n# TYPE nat64d_tcp_sessions gauge"
    );
    for (i, s) in TcpState::ALL.iter().enumerate().skip(1) {
        let _ = writeln!(
            o,
            "nat64d_tcp_sessions{{state=\"{}\"}} {}",
            s.name(),
            census.tcp_states[i]
        );
    }
    let _ = writeln!(
        o,
        "# HELP nat64d_bib_entries Bindings, by protocol.\n# TYPE nat64d_bib_entries gauge"
    );
    for p in Proto::ALL {
        let _ = writeln!(
            o,
            "nat64d_bib_entries{{proto=\"{p}\"}} {}",
            census.bibs[p.index()]
        );
    }
    let pool = &shared.gateway.pool;
    let _ = writeln!(
        o,
        "# HELP nat64d_pool_ports Pool transport addresses, by protocol.\n# TYPE nat64d_pool_ports gauge"
    );
    for p in Proto::ALL {
        let i = p.index();
        let total = pool.range(p).len() as usize * pool.addrs().len();
        let _ = writeln!(
            o,
            "nat64d_pool_ports{{proto=\"{p}\",use=\"bound\"}} {}",
            census.bibs[i]
        );
        let _ = writeln!(
            o,
            "nat64d_pool_ports{{proto=\"{p}\",use=\"total\"}} {total}"
        );
    }
    let _ = writeln!(
        o,
        "# HELP nat64d_static_bib_entries Static bindings.\n# TYPE nat64d_static_bib_entries gauge\nnat64d_static_bib_entries {}",
        census.static_bibs
    );
    let _ = writeln!(
        o,
        "# HELP nat64d_held_syns IPv4 SYNs held for simultaneous open.\n# TYPE nat64d_held_syns gauge\nnat64d_held_syns {}",
        census.held_syns
    );
    let (flows, held) = shared.gateway.fragment_census();
    let _ = writeln!(
        o,
        "# HELP nat64d_fragment_flows Fragmented datagrams being matched (req S9).\n# TYPE nat64d_fragment_flows gauge\nnat64d_fragment_flows {flows}\n# HELP nat64d_fragment_held_bytes Bytes of fragments waiting for their first fragment.\n# TYPE nat64d_fragment_held_bytes gauge\nnat64d_fragment_held_bytes {held}"
    );
    let _ = writeln!(
        o,
        "# HELP nat64d_mapping_log_dropped_total Mapping-log lines lost to a full queue.\n# TYPE nat64d_mapping_log_dropped_total counter\nnat64d_mapping_log_dropped_total {}",
        shared.log_dropped.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        o,
        "# HELP nat64d_reloads_total SIGHUP reloads, by result.\n# TYPE nat64d_reloads_total counter"
    );
    let _ = writeln!(
        o,
        "nat64d_reloads_total{{result=\"applied\"}} {}",
        reloads[0].load(Ordering::Relaxed)
    );
    let _ = writeln!(
        o,
        "nat64d_reloads_total{{result=\"rejected\"}} {}",
        reloads[1].load(Ordering::Relaxed)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_format() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(1_795_401_296)),
            "2026-11-23T02:34:56Z" // date -u -d @1795401296
        );
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }
}
