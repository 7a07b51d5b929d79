//! Giving memory back after a flood. The sweep shrinks the session table's
//! maps as sessions expire (`state::Shard::compact`), but glibc keeps what
//! was freed in its arenas: the pages of a table that held 200 000 sessions
//! stayed resident once they had all expired. `malloc_trim(3)` returns the
//! free pages of every arena to the system; the control thread calls it when
//! the table has shrunk a lot since the last call, never on the packet path.

/// Calls `malloc_trim` when the live sessions fell to half (and by at least
/// [`MIN_DROP`]) of what they were at the last trim or peak.
#[derive(Debug, Default)]
pub(crate) struct Trimmer {
    high: usize,
}

/// Fewer expired sessions than this are not worth a trim.
const MIN_DROP: usize = 10_000;

impl Trimmer {
    /// Notes `sessions` live now; trims when they fell far enough.
    pub(crate) fn after_sweep(&mut self, sessions: usize) {
        self.high = self.high.max(sessions);
        if self.high - sessions >= MIN_DROP && sessions <= self.high / 2 {
            trim();
            self.high = sessions;
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // the one libc call glibc offers for this; see below
fn trim() {
    // SAFETY: malloc_trim takes a size and touches only the allocator's own
    // free lists, under the allocator's locks; it is safe to call from any
    // thread at any time (glibc manual, "Memory Allocation Tunables").
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_after_a_large_fall() {
        let mut t = Trimmer::default();
        t.after_sweep(5_000);
        t.after_sweep(1_000);
        assert_eq!(t.high, 5_000, "a small fall: no trim");
        t.after_sweep(200_000);
        t.after_sweep(150_000);
        assert_eq!(t.high, 200_000, "not yet half");
        t.after_sweep(90_000);
        assert_eq!(t.high, 90_000, "trimmed, and the mark starts over");
    }
}
