//! Worker pinning (`nat64.pin_workers`): worker `i` runs on the `i`-th CPU
//! nat64d may use, so a flow's packets, the kernel's work on them and the
//! worker's caches stay on one CPU instead of following the scheduler.

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

/// The CPU of each of `workers` workers, given the CPUs nat64d may run on
/// (in order): worker `i` gets `allowed[i % allowed.len()]`, so workers
/// spread over every allowed CPU before two share one. Empty when nothing
/// is allowed (nothing to pin to).
pub(crate) fn plan(allowed: &[usize], workers: usize) -> Vec<usize> {
    if allowed.is_empty() {
        return Vec::new();
    }
    (0..workers).map(|i| allowed[i % allowed.len()]).collect()
}

/// The CPUs this process may run on now (its affinity mask, as narrowed by
/// `taskset`, systemd's `CPUAffinity=` or a cpuset), in increasing order.
pub(crate) fn allowed_cpus() -> nix::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0))?;
    Ok((0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect())
}

/// Pins the calling thread to `cpu`.
pub(crate) fn pin_current_thread(cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)
}

/// A CPU list for the start-up log line: `0, 1`.
pub(crate) fn describe(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_per_allowed_cpu_in_order() {
        assert_eq!(plan(&[0, 1], 2), vec![0, 1]);
        assert_eq!(plan(&[0, 1, 2, 3], 4), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_narrowed_mask_is_respected() {
        // `taskset -c 2,5 nat64d` with two workers.
        assert_eq!(plan(&[2, 5], 2), vec![2, 5]);
        // `taskset -c 1` with two workers: both on CPU 1, never CPU 0.
        assert_eq!(plan(&[1], 2), vec![1, 1]);
    }

    #[test]
    fn more_workers_than_cpus_wrap_around() {
        assert_eq!(plan(&[0, 1], 5), vec![0, 1, 0, 1, 0]);
    }

    #[test]
    fn fewer_workers_than_cpus_take_the_first() {
        assert_eq!(plan(&[0, 1, 2, 3], 2), vec![0, 1]);
    }

    #[test]
    fn nothing_allowed_means_no_pinning() {
        assert!(plan(&[], 3).is_empty());
    }

    #[test]
    fn this_process_may_run_somewhere_and_can_pin_there() {
        let allowed = allowed_cpus().expect("sched_getaffinity");
        assert!(!allowed.is_empty());
        // Pin a scratch thread, not the test harness's.
        let cpu = allowed[allowed.len() - 1];
        std::thread::spawn(move || {
            pin_current_thread(cpu).expect("sched_setaffinity");
            assert_eq!(allowed_cpus().unwrap(), vec![cpu]);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn describe_lists_the_cpus() {
        assert_eq!(describe(&[0, 1, 0]), "0, 1, 0");
    }
}
