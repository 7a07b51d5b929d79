//! Start-up, the control loop and stop: builds the translator from the
//! file, opens the TUN and its routes, starts the workers, the mapping log
//! and `/metrics`, then ticks the coarse clock, sweeps the table, reports
//! customers over their limits and answers signals (SIGHUP reload, SIGUSR1
//! the busiest source prefixes into the log, SIGUSR2 ignored,
//! SIGTERM/SIGINT stop) until
//! told to stop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use nat64d::config::File;
use nat64d::driver::answer_held;
use nat64d::gateway::Gateway;
use nat64d::pool::Pool;
use nat64d::state::Table;
use nat64d::stats::DropReason;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use tun_rs::{InterruptEvent, SyncDevice};

use super::control::{self, Info, ReloadAsks};
use super::mapping_log::{self, LogWriter};
use super::reload::{list, reload};
use super::shared::Shared;
use super::tun::{self, Queue, Routes};
use super::{affinity, metrics, steering, worker};
use crate::Args;

/// The coarse clock's tick; every shard is swept about once a second.
const TICK: Duration = Duration::from_millis(100);

/// Runs the daemon until SIGTERM/SIGINT.
pub(crate) fn run(args: Args, f: File) -> anyhow::Result<()> {
    let c = &f.nat64;
    let threads = match c.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Everything that can fail on a bad setting fails before the TUN and
    // its routes exist: the example file's placeholder pool first, then
    // whether another nat64d has this TUN.
    if let Some(e) = c.placeholder_pool(f.prefix.allow_non_global) {
        anyhow::bail!("{e}");
    }
    let claim = tun::Claim::take(&c.tun)?;
    let metrics_listener = match c.metrics.listen {
        Some(addr) => Some(
            common::metrics::bind(addr)
                .with_context(|| format!("nat64.metrics.listen: cannot listen on {addr}"))?,
        ),
        None => None,
    };
    tun::refuse_existing(&c.tun, c.adopt_tun)?;
    let (shared, log) = build(&f, threads)?;
    let cpus = worker_cpus(c.pin_workers, threads);
    let info = Arc::new(Info {
        config: args.config.clone(),
        sha256: Default::default(),
        started: SystemTime::now(),
        tun: c.tun.clone(),
        workers: threads,
        cpus: cpus.clone(),
        steered: Default::default(),
        offload: c.offload,
        mapping_log: c.mapping_log.clone(),
    });
    info.hash_file();
    let metrics = Arc::new(metrics::Metrics::new());
    let (socket, asks) = match c.control.path() {
        Some(p) => {
            let (guard, asks) = control::start(p, shared.clone(), info.clone(), metrics.clone())?;
            (Some(guard), Some(asks))
        }
        None => (None, None),
    };
    let queues: Vec<Arc<SyncDevice>> = tun::open(&c.tun, threads, c.tun_mtu(), c.offload)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let steered = steer(&queues[0], &cpus, c.tun_mtu(), &info);
    let routes = Routes::install(c, &f.prefix)?;
    let workers = spawn_workers(&queues, &shared, &cpus)?;
    if let Some(l) = metrics_listener {
        metrics::start(l, shared.clone(), metrics).context("cannot start the metrics thread")?;
    }
    started(&f, &shared, threads, &cpus, steered);
    let signals = Signals::new([SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2])
        .context("cannot install signal handlers")?;
    let mut lp = Loop {
        args: &args,
        shared: &shared,
        log: &log,
        q0: &queues[0],
        info: &info,
        asks,
    };
    lp.run(f, signals);
    tracing::info!("stopping");
    shared.stopping.store(true, Ordering::Relaxed);
    drop(socket);
    for (stop, w) in workers {
        let _ = stop.trigger();
        let _ = w.join();
    }
    routes.remove();
    drop(queues);
    drop(claim);
    end_trail(&shared);
    log.finish(&shared.log);
    tracing::info!("stopped");
    Ok(())
}

/// The start-up line, and the limits' warnings.
fn started(f: &File, shared: &Shared, threads: usize, cpus: &[usize], steered: bool) {
    let c = &f.nat64;
    tracing::info!(
        "translating on {} ({} queues, {} shards; {}); {}; pool4 {}; allow_from {}; {}; control socket {}",
        c.tun,
        threads,
        shared.gateway.table.shard_count(),
        match (cpus.is_empty(), steered) {
            (true, _) => "workers not pinned; queue by flow hash".to_string(),
            (false, true) => format!(
                "workers pinned to CPUs {}; queue by arrival CPU",
                affinity::describe(cpus)
            ),
            (false, false) => format!(
                "workers pinned to CPUs {}; queue by flow hash",
                affinity::describe(cpus)
            ),
        },
        f.prefix.summary(),
        list(&c.pool4),
        list(&c.allow_from),
        c.limits_summary(),
        c.control
            .path()
            .map_or("off".into(), |p| p.display().to_string())
    );
    for w in c.limits_warnings() {
        tracing::warn!("{w}");
    }
}

/// Ends the mapping log's audit trail (req O3): every binding still alive
/// ends here, and the log says so, then the stop marker.
fn end_trail(shared: &Shared) {
    let now = shared.now.load(Ordering::Relaxed);
    let mut gone: Vec<_> = shared
        .gateway
        .table
        .bindings()
        .into_iter()
        .map(|b| nat64d::state::Event {
            at: now,
            created: false,
            proto: b.proto,
            v6: b.v6,
            v4: b.v4,
            is_static: b.is_static,
        })
        .collect();
    shared.log.send(&mut gone);
    shared.log.mark("stop nat64d".into());
}

/// The translator, its shared state and the mapping log, from the file.
fn build(f: &File, threads: usize) -> anyhow::Result<(Arc<Shared>, LogWriter)> {
    let c = &f.nat64;
    let shards = c.shard_count();
    let pool = Pool::new(c.pool_addresses(), c.ranges(), shards)
        .map_err(|e| anyhow::anyhow!("nat64.pool4: {e}"))?;
    let table = Table::new(shards, c.state_config(), random_seed());
    let gateway = Gateway::new(f.prefix.clone(), pool, table, c.xlat(&f.prefix));
    let mut events = Vec::new();
    gateway
        .table
        .set_statics(0, &gateway.pool, &c.statics(), &mut events)
        .map_err(|e| anyhow::anyhow!("nat64.static: {e}"))?;
    let (sender, writer) = mapping_log::start(c.mapping_log.clone()).with_context(|| {
        format!(
            "nat64.mapping_log: cannot open {}",
            c.mapping_log
                .as_deref()
                .map_or("-".into(), |p| p.display().to_string())
        )
    })?;
    sender.mark(format!("start nat64d {}", env!("CARGO_PKG_VERSION")));
    let policy = c.policy(&f.prefix);
    let shared = Arc::new(Shared::new(
        gateway,
        threads,
        policy,
        c.icmp_error_rate,
        sender,
    ));
    shared.log.send(&mut events);
    Ok((shared, writer))
}

/// Starts one worker per queue (worker `i` pinned to `cpus[i]` when
/// given); each with its own stop event (a woken reader may consume it).
fn spawn_workers(
    queues: &[Arc<SyncDevice>],
    shared: &Arc<Shared>,
    cpus: &[usize],
) -> anyhow::Result<Vec<(Arc<InterruptEvent>, JoinHandle<()>)>> {
    let mut workers = Vec::new();
    for (i, q) in queues.iter().enumerate() {
        let stop = Arc::new(InterruptEvent::new().context("cannot create the stop event")?);
        let (q, shared, stop2) = (q.clone(), shared.clone(), stop.clone());
        let cpu = cpus.get(i).copied();
        let handle = std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || {
                if let Some(cpu) = cpu
                    && let Err(e) = affinity::pin_current_thread(cpu)
                {
                    tracing::warn!(
                        "nat64.pin_workers: worker {i} cannot be pinned to CPU {cpu} ({e}); it runs where the scheduler puts it"
                    );
                }
                common::sched::short_slice_logged(&format!("worker {i}"));
                worker::run(&q, &shared, i, &stop2);
            })?;
        workers.push((stop, handle));
    }
    Ok(workers)
}

/// The control loop's parts: the coarse clock, the sweep, held SYNs,
/// customers over their limits, signals and the control socket's reloads.
struct Loop<'a> {
    args: &'a Args,
    shared: &'a Shared,
    log: &'a LogWriter,
    q0: &'a SyncDevice,
    info: &'a Info,
    asks: Option<ReloadAsks>,
}

impl Loop<'_> {
    fn run(&mut self, mut running: File, mut signals: Signals) {
        let shared = self.shared;
        let t0 = Instant::now();
        let shards = shared.gateway.table.shard_count();
        let mut next_shard = 0;
        let (mut events, mut unanswered) = (Vec::new(), Vec::new());
        let mut trimmer = super::trim::Trimmer::default();
        let mut watch = super::sources::Watch::default();
        let mut second = 0;
        loop {
            std::thread::sleep(TICK);
            let now = u32::try_from(t0.elapsed().as_secs()).unwrap_or(u32::MAX);
            shared.now.store(now, Ordering::Relaxed);
            for _ in 0..shards.div_ceil(10) {
                let t = &shared.gateway.table;
                t.sweep(now, next_shard, &mut events, &mut unanswered);
                next_shard = (next_shard + 1) % shards;
            }
            shared.log.send(&mut events);
            trimmer.after_sweep(shared.gateway.table.sessions());
            let lost = shared.gateway.expire_fragments(now);
            if lost > 0 {
                shared.counters[0].drop_n(DropReason::FragmentTimeout, lost as u64);
            }
            if !unanswered.is_empty() {
                let held = std::mem::take(&mut unanswered);
                answer_held(
                    &shared.gateway,
                    held,
                    now,
                    self.q0.tcp_gso(),
                    &shared.counters[0],
                    &mut Queue(self.q0),
                );
            }
            if now != second {
                second = now;
                watch.tick(shared, now);
            }
            while let Some(answer) = self.asks.as_ref().and_then(|a| a.try_recv().ok()) {
                let _ = answer.send(self.reload(&mut running, now));
            }
            for sig in signals.pending() {
                match sig {
                    SIGHUP => {
                        let _ = self.reload(&mut running, now);
                    }
                    SIGUSR1 => watch.dump(shared),
                    // By default it would end nat64d and leave the TUN's
                    // routes behind; it has no use here.
                    SIGUSR2 => tracing::info!("SIGUSR2 ignored: nat64d gives it no meaning"),
                    _ => return,
                }
            }
        }
    }

    fn reload(&self, running: &mut File, now: u32) -> super::control::ReloadResult {
        let r = reload(self.args, running, self.shared, self.log, now);
        self.info.hash_file();
        r
    }
}

/// With pinned workers, steers each packet to the queue of the worker on
/// the CPU it arrives on ([`steering`]); whether it could (also noted in
/// `info`, for `nat64gw status`).
fn steer(q0: &SyncDevice, cpus: &[usize], mtu: u16, info: &Info) -> bool {
    if cpus.is_empty() {
        return false;
    }
    let done = match steering::attach(q0, cpus, mtu) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(
                "nat64.pin_workers: cannot steer packets to the worker on their CPU ({e}; \
                 loading the program needs CAP_BPF); the kernel picks queues by flow hash, \
                 and a packet may wait for a worker on another CPU"
            );
            false
        }
    };
    info.steered.store(done, Ordering::Relaxed);
    done
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
            tracing::warn!(
                "nat64.pin_workers: cannot read the CPUs nat64d may run on ({e}); workers not pinned"
            );
            Vec::new()
        }
    }
}

/// The table's hash key: attackers choose the tuples (ARCHITECTURE.md,
/// "State").
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
