//! A short scheduler slice for the threads that carry packets (nat64d's
//! workers). dns64d's UDP readers do not ask for it: measured with cached
//! names at 1 000 queries/s (four rounds, dnsperf on the same two CPUs),
//! readers with the short slice answered at p50 0.094–0.109 ms against
//! 0.079–0.092 ms without, their p99 no better (docs/performance.md).
//!
//! Those threads are pinned to a CPU. When one is woken while another task
//! runs on its CPU (a kernel thread such as `kdamond` or `kworker`, the
//! gateway's other daemons), it cannot move to an idle CPU and waits until
//! the scheduler lets it in: with the default slice (about 1–3 ms under
//! EEVDF, Linux 6.6 and later) that wait was the 1–4 ms outliers of
//! nat64d's latency in the lab (`perf sched timehist`: a worker woken and
//! kept waiting 1.34 ms while `kdamond` ran on its CPU, the other CPU
//! idle). A task asking for a short slice gets an earlier virtual
//! deadline, so the scheduler lets it preempt the running task at its
//! wake-up (Linux 6.12 and later read `sched_runtime` of a `SCHED_OTHER`
//! task as its slice). Its share of the CPU does not change: its weight
//! (nice value) stays as it was; it only runs sooner, in shorter turns.
//! Older kernels accept and ignore the request ([`Slice::Ignored`]).

use std::time::Duration;

/// The slice asked for: the kernel's smallest (0.1 ms).
pub const SHORT_SLICE: Duration = Duration::from_micros(100);

/// What [`short_slice`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// The calling thread now runs with [`SHORT_SLICE`].
    Set,
    /// The kernel took the request but reads back another slice: it does
    /// not know custom slices (before Linux 6.12).
    Ignored,
    /// The thread runs under a policy other than `SCHED_OTHER` or
    /// `SCHED_BATCH` (an operator's real-time setting, say): left as it is.
    Kept,
}

/// Reads the calling thread's scheduling attributes.
#[cfg(target_os = "linux")]
fn get() -> std::io::Result<libc::sched_attr> {
    let size = std::mem::size_of::<libc::sched_attr>();
    // SAFETY: an all-zero sched_attr is a valid value of a plain C struct.
    #[allow(unsafe_code)]
    let mut attr: libc::sched_attr = unsafe { std::mem::zeroed() };
    #[allow(unsafe_code)] // sched_getattr(2): no libc wrapper
    // SAFETY: `attr` is a writable sched_attr of `size` bytes, which is what
    // the kernel fills; pid 0 is the calling thread; flags must be 0.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &raw mut attr,
            size as libc::c_uint,
            0,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(attr)
}

/// Asks the kernel for a [`SHORT_SLICE`] for the calling thread, keeping
/// its policy and nice value.
///
/// # Errors
/// The kernel's refusal (a seccomp filter without `sched_setattr`, say).
#[cfg(target_os = "linux")]
pub fn short_slice() -> std::io::Result<Slice> {
    let mut attr = get()?;
    let policy = attr.sched_policy as libc::c_int;
    if policy != libc::SCHED_OTHER && policy != libc::SCHED_BATCH {
        return Ok(Slice::Kept);
    }
    let want = SHORT_SLICE.as_nanos() as u64;
    attr.size = std::mem::size_of::<libc::sched_attr>() as u32;
    attr.sched_runtime = want;
    attr.sched_flags = 0;
    #[allow(unsafe_code)] // sched_setattr(2): no libc wrapper
    // SAFETY: `attr` is an initialised sched_attr whose `size` says how
    // many bytes the kernel may read; pid 0 is the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &raw const attr, 0) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(if get()?.sched_runtime == want {
        Slice::Set
    } else {
        Slice::Ignored
    })
}

/// [`short_slice`] for a thread named `who` in the log: a refusal is a
/// warning (the thread then waits behind other tasks on its CPU as before),
/// the rest is logged at debug level.
pub fn short_slice_logged(who: &str) {
    match short_slice() {
        Ok(Slice::Set) => tracing::debug!("{who}: scheduler slice {SHORT_SLICE:?}"),
        Ok(Slice::Ignored) => {
            tracing::debug!(
                "{who}: the kernel keeps its own slice (custom slices need Linux 6.12)"
            );
        }
        Ok(Slice::Kept) => tracing::debug!("{who}: not a SCHED_OTHER thread; slice left as it is"),
        Err(e) => tracing::warn!(
            "{who}: cannot ask for a short scheduler slice ({e}); woken while another task runs on its CPU, it waits for that task's turn to end"
        ),
    }
}

/// Not Linux: nothing to ask.
///
/// # Errors
/// Never.
#[cfg(not(target_os = "linux"))]
pub fn short_slice() -> std::io::Result<Slice> {
    Ok(Slice::Ignored)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The slice as the kernel shows it for the calling thread
    /// (`/proc/thread-self/sched`, `se.slice`, in ns), where it does.
    fn shown_slice() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/thread-self/sched").ok()?;
        let line = text.lines().find(|l| l.starts_with("se.slice"))?;
        line.split(':').nth(1)?.trim().parse().ok()
    }

    #[test]
    fn a_thread_gets_the_short_slice_and_keeps_its_nice_value() {
        std::thread::spawn(|| {
            // SAFETY: nice(2) changes only the calling thread here.
            #[allow(unsafe_code)]
            let _ = unsafe { libc::nice(3) };
            let before = get().unwrap();
            let got = short_slice().unwrap();
            let after = get().unwrap();
            assert_eq!(after.sched_nice, before.sched_nice, "nice value kept");
            assert_eq!(after.sched_policy, before.sched_policy, "policy kept");
            match got {
                Slice::Set => {
                    assert_eq!(after.sched_runtime, 100_000);
                    if let Some(ns) = shown_slice() {
                        assert_eq!(ns, 100_000, "the scheduler's own view");
                    }
                }
                Slice::Ignored => eprintln!("this kernel has no custom slices (before 6.12)"),
                Slice::Kept => panic!("a SCHED_OTHER thread was left alone"),
            }
        })
        .join()
        .unwrap();
    }
}
