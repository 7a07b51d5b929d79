//! Transparent huge pages off for the daemon's own process.
//!
//! With transparent huge pages, the first touch of a fresh 2 MiB-aligned
//! region of the heap makes the kernel find, and clear, a whole 2 MiB page
//! in the faulting thread: on a busy or fragmented machine it may first
//! compact memory to find one, and on a virtual machine whose host backs
//! guest memory on demand it waits for the host to back all 2 MiB. A
//! packet or a query behind that fault waits with it. In the lab (a
//! 2-core VM, `perf record` of dns64d answering unique names at 1 000
//! queries/s) dns64d's runtime thread spent 47–50 ms at a time in
//! `clear_page_erms` under `do_huge_pmd_anonymous_page`, its allocator
//! (mimalloc, which asks for huge pages on its arenas) extending a page
//! for a hash table's growth: every answer in flight waited 30–44 ms. One
//! 2 MiB fault there took 2–38 ms; one 4 KiB fault at most 0.3 ms
//! (docs/performance.md, "Huge pages").
//!
//! So both daemons turn transparent huge pages off for themselves at start
//! (`prctl(PR_SET_THP_DISABLE)`, Linux 3.15 and later), whatever the
//! machine's setting (`always` is the default of some distributions,
//! `madvise` of others, where mimalloc's request is enough). The heap then
//! grows 4 KiB at a time: each fault is short. The cost is more TLB misses
//! over large tables; in `madvise` mode nat64d (glibc's malloc, which asks
//! for no huge pages) has the same memory either way.

/// What [`no_huge_pages`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HugePages {
    /// Transparent huge pages are now off for this process.
    Off,
    /// They were off already (inherited from the parent, e.g. a service
    /// manager that set it).
    AlreadyOff,
}

/// Turns transparent huge pages off for the calling process and the
/// children it starts. Memory already backed by huge pages keeps them; no
/// new huge page is faulted in, and `khugepaged` leaves the process alone.
pub fn no_huge_pages() -> std::io::Result<HugePages> {
    use nix::sys::prctl;
    if prctl::get_thp_disable().map_err(std::io::Error::from)? {
        return Ok(HugePages::AlreadyOff);
    }
    prctl::set_thp_disable(true).map_err(std::io::Error::from)?;
    Ok(HugePages::Off)
}

/// [`no_huge_pages`] for a daemon's start: logs what happened; a kernel
/// that refuses leaves the daemon running as before, with a warning.
pub fn no_huge_pages_logged() {
    match no_huge_pages() {
        Ok(HugePages::Off) => tracing::debug!("transparent huge pages off for this process"),
        Ok(HugePages::AlreadyOff) => {
            tracing::debug!("transparent huge pages already off for this process");
        }
        Err(e) => tracing::warn!(
            "cannot turn transparent huge pages off for this process ({e}): a packet or query \
             may wait while the kernel clears a 2 MiB page (docs/performance.md, \"Huge pages\")"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flag is per process and inherited: a child (this test's own
    /// `cat`) must see it in `/proc/self/status` (`THP_enabled: 0`).
    #[test]
    fn huge_pages_are_off_for_the_process_and_its_children() {
        let r = no_huge_pages().expect("prctl(PR_SET_THP_DISABLE)");
        assert!(matches!(r, HugePages::Off | HugePages::AlreadyOff));
        assert!(nix::sys::prctl::get_thp_disable().unwrap());
        assert_eq!(no_huge_pages().unwrap(), HugePages::AlreadyOff);
        let out = std::process::Command::new("cat")
            .arg("/proc/self/status")
            .output()
            .expect("cat");
        let status = String::from_utf8_lossy(&out.stdout);
        let line = status
            .lines()
            .find(|l| l.starts_with("THP_enabled:"))
            .expect("THP_enabled in /proc/self/status");
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}
