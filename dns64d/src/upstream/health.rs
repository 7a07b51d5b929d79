//! Upstream health: an upstream that timed out is down, skipped by
//! questions while another is up, and probed in the background; it is up
//! again as soon as anything arrives from it. Pure: times (milliseconds on
//! the client's clock) come in; the client keeps one per server.

/// How often a down upstream is probed, in milliseconds.
pub(super) const PROBE_EVERY_MS: u64 = 1000;

/// What a change of state means for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// It just went down.
    Down,
    /// It just came back.
    Up,
}

/// One upstream's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Health {
    /// When it went down; `None`: up.
    down_since: Option<u64>,
    /// When it may be probed next.
    next_probe: u64,
}

impl Health {
    /// Whether questions may go to it, given when a datagram last arrived
    /// from it (`heard`, 0: never). Anything heard after it went down
    /// brings it back.
    pub(super) fn usable(&mut self, heard: u64) -> (bool, Option<Change>) {
        match self.down_since {
            None => (true, None),
            Some(t) if heard > t => {
                self.down_since = None;
                (true, Some(Change::Up))
            }
            Some(_) => (false, None),
        }
    }

    /// When it went down; `None`: up.
    pub(super) fn down_since(&self) -> Option<u64> {
        self.down_since
    }

    /// It did not answer a question in time at `now`.
    pub(super) fn timed_out(&mut self, now: u64) -> Option<Change> {
        if self.down_since.is_some() {
            return None;
        }
        self.down_since = Some(now);
        self.next_probe = now + PROBE_EVERY_MS;
        Some(Change::Down)
    }

    /// It answered: up.
    pub(super) fn answered(&mut self) -> Option<Change> {
        self.down_since.take().map(|_| Change::Up)
    }

    /// Whether a probe is due at `now` (then the next one is scheduled).
    pub(super) fn probe_due(&mut self, now: u64) -> bool {
        if self.down_since.is_none() || now < self.next_probe {
            return false;
        }
        self.next_probe = now + PROBE_EVERY_MS;
        true
    }

    /// Whether it is up.
    pub(super) fn is_up(&self) -> bool {
        self.down_since.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d13_a_timeout_takes_it_down_a_datagram_brings_it_back() {
        let mut h = Health::default();
        assert_eq!(h.usable(0), (true, None));
        assert_eq!(h.timed_out(5_000), Some(Change::Down));
        assert_eq!(h.timed_out(5_100), None, "said once");
        assert_eq!(h.usable(4_000), (false, None), "heard before it went down");
        assert!(!h.probe_due(5_500));
        assert!(h.probe_due(6_000));
        assert!(!h.probe_due(6_500), "one probe a second");
        assert!(h.probe_due(7_000));
        assert_eq!(h.usable(6_200), (true, Some(Change::Up)));
        assert!(h.is_up());
        assert!(!h.probe_due(9_000), "no probes while up");
        h.timed_out(10_000);
        assert_eq!(h.answered(), Some(Change::Up));
        assert_eq!(h.answered(), None);
    }
}
