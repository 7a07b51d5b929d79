//! What the operator reads about customers over their limits (req O4):
//! one log line when a prefix first hits a limit, a summary per interval
//! while prefixes keep hitting them, every part bounded; and the listing of
//! the busiest prefixes. Pure: the table's offenders and `now` come in,
//! lines go out; the shell logs them.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::state::{Offender, REFUSALS, SourceRow};

use crate::limits::SourceKey;
use crate::state::Secs;

/// Seconds between two summaries.
pub const SUMMARY_INTERVAL: Secs = 60;
/// Most prefixes named in one batch of first-hit lines or one summary.
pub const MAX_LINES: usize = 20;
/// Most prefixes followed between two summaries; more are only counted.
pub const MAX_FOLLOWED: usize = 10_000;

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    refused: [u64; 4],
    sessions: u32,
    limit: u32,
}

/// Turns the table's offenders into log lines.
#[derive(Debug, Default)]
pub struct Reporter {
    /// Prefixes that hit a limit in this interval or the one before.
    followed: HashMap<SourceKey, (Tally, bool)>,
    /// Refusals of prefixes that could not be followed, this interval.
    unfollowed: u64,
    /// When the current interval started.
    since: Secs,
}

impl Reporter {
    /// Takes the offenders the table noted since the last call (and how
    /// many it could not note). Returns a line for each prefix that hits a
    /// limit for the first time (or again after an interval without),
    /// at most [`MAX_LINES`] and one line for the rest.
    pub fn feed(&mut self, offenders: &[Offender], unlisted: u32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut more = 0usize;
        self.unfollowed += u64::from(unlisted);
        for o in offenders {
            let total: u64 = o.refused.iter().map(|&n| u64::from(n)).sum();
            let known = self.followed.contains_key(&o.key);
            if !known && self.followed.len() >= MAX_FOLLOWED {
                self.unfollowed += total;
                continue;
            }
            let (t, hit) = self.followed.entry(o.key).or_default();
            for (a, b) in t.refused.iter_mut().zip(o.refused) {
                *a += u64::from(b);
            }
            (t.sessions, t.limit) = (o.sessions, o.limit);
            *hit = true;
            if !known {
                if lines.len() < MAX_LINES {
                    lines.push(format!(
                        "source prefix {} hit its limits: {}",
                        o.key,
                        describe(t)
                    ));
                } else {
                    more += 1;
                }
            }
        }
        if more > 0 {
            lines.push(format!("and {more} more source prefixes hit their limits"));
        }
        lines
    }

    /// Every [`SUMMARY_INTERVAL`] seconds: a line for each prefix refused
    /// in the interval (the [`MAX_LINES`] most refused, one line for the
    /// rest); prefixes refused in neither this interval nor the last are
    /// forgotten (a next refusal is a first hit again).
    pub fn summary(&mut self, now: Secs) -> Vec<String> {
        if now.saturating_sub(self.since) < SUMMARY_INTERVAL {
            return Vec::new();
        }
        let span = now - self.since;
        self.since = now;
        let mut busy: Vec<(SourceKey, Tally)> = self
            .followed
            .iter()
            .filter(|(_, (t, hit))| *hit && t.refused.iter().any(|&n| n > 0))
            .map(|(k, (t, _))| (*k, *t))
            .collect();
        busy.sort_by_key(|(k, t)| (std::cmp::Reverse(t.refused.iter().sum::<u64>()), *k));
        let mut lines: Vec<String> = busy
            .iter()
            .take(MAX_LINES)
            .map(|(k, t)| {
                format!(
                    "source prefix {k} over its limits in the last {span} s: {}",
                    describe(t)
                )
            })
            .collect();
        let rest = busy.len().saturating_sub(MAX_LINES);
        if rest > 0 || self.unfollowed > 0 {
            lines.push(format!(
                "and {rest} more source prefixes over their limits in the last {span} s \
                 ({} refusals of prefixes not followed)",
                self.unfollowed
            ));
        }
        self.unfollowed = 0;
        self.followed.retain(|_, (t, hit)| {
            let keep = *hit;
            *hit = false;
            t.refused = [0; 4];
            keep
        });
        lines
    }
}

fn describe(t: &Tally) -> String {
    let mut s = String::new();
    for (r, n) in REFUSALS.iter().zip(t.refused) {
        if n > 0 {
            let _ = write!(
                s,
                "{}{} {n}",
                if s.is_empty() { "" } else { ", " },
                r.name()
            );
        }
    }
    match t.limit {
        0 => {
            let _ = write!(s, " (sessions {})", t.sessions);
        }
        l => {
            let _ = write!(s, " (sessions {} of {l})", t.sessions);
        }
    }
    s
}

/// The busiest prefixes as text: [`crate::state::Table::top_sources`]'s
/// answer, one prefix a line.
pub fn top_text(by_sessions: &[SourceRow], by_rate: &[SourceRow], tracked: usize) -> String {
    let mut s = format!("# customer prefixes tracked: {tracked}\n");
    let mut table = |title: &str, rows: &[SourceRow]| {
        let _ = writeln!(
            s,
            "# {title}\n{:<44} {:>9} {:>13}",
            "prefix", "sessions", "new_per_s"
        );
        for r in rows {
            let _ = writeln!(
                s,
                "{:<44} {:>9} {:>13.1}",
                r.key.to_string(),
                r.sessions,
                f64::from(r.opened_10s) / 10.0
            );
        }
    };
    table("top by live sessions", by_sessions);
    table("top by new sessions per second (last whole 10 s)", by_rate);
    s
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn off(i: u16, refused: [u32; 4]) -> Offender {
        Offender {
            key: SourceKey::of(Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 1), 64),
            sessions: 100,
            limit: 100,
            refused,
        }
    }

    #[test]
    fn o4_a_first_hit_is_one_line_then_a_summary_per_interval() {
        let mut r = Reporter::default();
        let l = r.feed(&[off(1, [5, 0, 0, 0])], 0);
        assert_eq!(
            l,
            [
                "source prefix 2001:db8:1::/64 hit its limits: source_session_limit 5 (sessions 100 of 100)"
            ]
        );
        assert!(
            r.feed(&[off(1, [7, 0, 0, 2])], 0).is_empty(),
            "no second first"
        );
        assert!(r.summary(30).is_empty(), "not yet");
        assert_eq!(
            r.summary(60),
            [
                "source prefix 2001:db8:1::/64 over its limits in the last 60 s: source_session_limit 12, port_rate_limit 2 (sessions 100 of 100)"
            ]
        );
        // Quiet for an interval: nothing said, then forgotten.
        assert!(r.summary(120).is_empty());
        assert!(r.summary(180).is_empty());
        assert_eq!(
            r.feed(&[off(1, [1, 0, 0, 0])], 0).len(),
            1,
            "a first hit again"
        );
    }

    #[test]
    fn o4_a_storm_of_prefixes_gives_bounded_lines() {
        let mut r = Reporter::default();
        let many: Vec<_> = (0..500).map(|i| off(i, [1, 0, 0, 0])).collect();
        let l = r.feed(&many, 7);
        assert_eq!(l.len(), MAX_LINES + 1);
        assert_eq!(
            l[MAX_LINES],
            "and 480 more source prefixes hit their limits"
        );
        let s = r.summary(60);
        assert_eq!(s.len(), MAX_LINES + 1);
        assert!(
            s[MAX_LINES].contains("and 480 more") && s[MAX_LINES].contains("(7 refusals"),
            "{s:?}"
        );
    }

    #[test]
    fn o4_top_text_lists_both_orders() {
        let row = |i: u16, sessions, opened_10s| SourceRow {
            key: SourceKey::of(Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 1), 64),
            sessions,
            opened_10s,
        };
        let t = top_text(&[row(1, 50, 3)], &[row(2, 1, 120)], 2);
        assert!(t.starts_with("# customer prefixes tracked: 2\n"), "{t}");
        assert!(t.contains("2001:db8:1::/64"), "{t}");
        assert!(t.contains("12.0"), "{t}");
    }
}
