//! What the workers and the control thread share. Both sides import this
//! module; it imports neither.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::sync::lock;
use nat64d::gateway::{Gateway, Policy};
use nat64d::stats::Counters;

use super::mapping_log::LogSender;

/// The daemon's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The stateful translator.
    pub(crate) gateway: Gateway,
    /// One set per worker (no contention on the packet path).
    pub(crate) counters: Vec<Counters>,
    /// Seconds since start, ticked by the control thread.
    pub(crate) now: AtomicU32,
    pub(crate) stopping: AtomicBool,
    policy: Mutex<Arc<Policy>>,
    /// Bumped when the policy changes; workers re-read it then.
    policy_gen: AtomicU64,
    /// Own ICMP errors per second per worker (req N13).
    pub(crate) error_rate: AtomicU32,
    /// The mapping log's queue.
    pub(crate) log: LogSender,
    /// SIGHUP reloads.
    pub(crate) reloads: common::metrics::Reloads,
}

impl Shared {
    /// `workers` sets of counters; `icmp_error_rate` per second shared
    /// among them.
    pub(crate) fn new(
        gateway: Gateway,
        workers: usize,
        policy: Policy,
        icmp_error_rate: u32,
        log: LogSender,
    ) -> Self {
        Shared {
            gateway,
            counters: (0..workers).map(|_| Counters::default()).collect(),
            now: AtomicU32::new(0),
            stopping: AtomicBool::new(false),
            policy: Mutex::new(Arc::new(policy)),
            policy_gen: AtomicU64::new(0),
            error_rate: AtomicU32::new(per_worker(icmp_error_rate, workers)),
            log,
            reloads: Default::default(),
        }
    }

    /// The current policy; `seen` becomes its generation.
    pub(crate) fn policy(&self, seen: &mut u64) -> Arc<Policy> {
        *seen = self.policy_gen.load(Ordering::Acquire);
        lock(&self.policy).clone()
    }

    /// Whether the policy changed since generation `seen`.
    pub(crate) fn policy_changed(&self, seen: u64) -> bool {
        self.policy_gen.load(Ordering::Acquire) != seen
    }

    /// A reload's new policy and error rate.
    pub(crate) fn set_policy(&self, policy: Policy, icmp_error_rate: u32) {
        *lock(&self.policy) = Arc::new(policy);
        self.policy_gen.fetch_add(1, Ordering::Release);
        self.error_rate.store(
            per_worker(icmp_error_rate, self.counters.len()),
            Ordering::Relaxed,
        );
    }

    /// The sum of one counter over every worker.
    pub(crate) fn sum(&self, f: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        self.counters
            .iter()
            .map(|c| f(c).load(Ordering::Relaxed))
            .sum()
    }
}

fn per_worker(rate: u32, workers: usize) -> u32 {
    rate.div_ceil(u32::try_from(workers.max(1)).unwrap_or(u32::MAX))
}
