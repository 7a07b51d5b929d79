//! `nat64gw trace`: who held a pool transport address, from nat64d's
//! mapping log (`TIME created|removed PROTO IPV6#PORT IPV4#PORT [static]`,
//! with `TIME start nat64d VERSION` and `TIME stop nat64d` around each
//! run). Pure: the log's lines come in, the holdings come out.

use common::control::parse_utc;

/// One holder of the address: from `from` until `until` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holding {
    pub(crate) proto: String,
    pub(crate) ipv6: String,
    pub(crate) from: u64,
    /// `None`: the log does not say it ended (alive now, or the log stops).
    pub(crate) until: Option<u64>,
    /// How it ended: `removed`, `stop` (nat64d stopped), `restart` (a
    /// start marker with no stop before it: nat64d died; it ended by then).
    pub(crate) ended_by: &'static str,
    pub(crate) is_static: bool,
}

impl Holding {
    /// Whether it covers the instant `t`.
    pub(crate) fn covers(&self, t: u64) -> bool {
        self.from <= t && self.until.is_none_or(|u| t <= u)
    }
}

/// The holdings of `target` (the pool side, `A.B.C.D#PORT`) for `proto`
/// (none: any), in the order of the log. Lines that do not parse are
/// skipped and counted.
pub(crate) fn holdings<'a>(
    lines: impl Iterator<Item = &'a str>,
    target: &str,
    proto: Option<&str>,
) -> (Vec<Holding>, usize) {
    let mut done: Vec<Holding> = Vec::new();
    let mut open: Vec<Holding> = Vec::new();
    let mut bad = 0;
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = f.first().and_then(|t| parse_utc(t)) else {
            bad += usize::from(!line.trim().is_empty());
            continue;
        };
        match f.get(1..).unwrap_or_default() {
            ["start", "nat64d", ..] | ["stop", "nat64d", ..] => {
                let ended_by = if f[1] == "stop" { "stop" } else { "restart" };
                for mut h in open.drain(..) {
                    h.until = Some(at);
                    h.ended_by = ended_by;
                    done.push(h);
                }
            }
            [what @ ("created" | "removed"), p, v6, v4, rest @ ..] => {
                if *v4 != target || proto.is_some_and(|want| want != *p) {
                    continue;
                }
                if *what == "created" {
                    open.push(Holding {
                        proto: p.to_string(),
                        ipv6: v6.to_string(),
                        from: at,
                        until: None,
                        ended_by: "",
                        is_static: rest.first() == Some(&"static"),
                    });
                } else if let Some(i) = open.iter().position(|h| h.proto == *p && h.ipv6 == *v6) {
                    let mut h = open.remove(i);
                    h.until = Some(at);
                    h.ended_by = "removed";
                    done.push(h);
                }
            }
            _ => bad += 1,
        }
    }
    done.extend(open);
    done.sort_by_key(|h| h.from);
    (done, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2026-12-02T10:00:00Z start nat64d 0.1.0
2026-12-02T10:00:05Z created udp 2001:db8:1::2#5000 198.51.100.1#40000
2026-12-02T10:00:06Z created tcp 2001:db8:1::3#6000 198.51.100.1#40000
2026-12-02T10:05:05Z removed udp 2001:db8:1::2#5000 198.51.100.1#40000
2026-12-02T10:06:00Z created udp 2001:db8:1::9#7000 198.51.100.1#40000
garbage line
2026-12-02T10:07:00Z created udp 2001:db8:1::9#7001 198.51.100.1#40001
2026-12-02T11:00:00Z start nat64d 0.1.0
2026-12-02T11:00:10Z created udp 2001:db8:2::7#1234 198.51.100.1#40000
2026-12-02T11:30:00Z removed udp 2001:db8:2::7#1234 198.51.100.1#40000
2026-12-02T11:30:00Z stop nat64d
2026-12-02T11:31:00Z start nat64d 0.1.0
2026-12-02T11:31:02Z created udp 2001:db8:3::1#99 198.51.100.1#40000
";

    fn t(s: &str) -> u64 {
        parse_utc(s).unwrap()
    }

    #[test]
    fn o6_trace_finds_each_holder_and_when_it_ended() {
        let (h, bad) = holdings(LOG.lines(), "198.51.100.1#40000", Some("udp"));
        assert_eq!(bad, 1);
        let who: Vec<(&str, &str)> = h.iter().map(|x| (x.ipv6.as_str(), x.ended_by)).collect();
        assert_eq!(
            who,
            [
                ("2001:db8:1::2#5000", "removed"),
                ("2001:db8:1::9#7000", "restart"),
                ("2001:db8:2::7#1234", "removed"),
                ("2001:db8:3::1#99", ""),
            ]
        );
        // Who had it at 10:30? The host whose binding began at 10:06 and
        // ended, at the latest, when nat64d started again at 11:00.
        let at = t("2026-12-02T10:30:00Z");
        let then: Vec<&str> = h
            .iter()
            .filter(|x| x.covers(at))
            .map(|x| x.ipv6.as_str())
            .collect();
        assert_eq!(then, ["2001:db8:1::9#7000"]);
        assert!(h[3].covers(t("2027-01-01T00:00:00Z")), "still open");
        assert!(!h.iter().any(|x| x.covers(t("2026-12-02T09:00:00Z"))));
        // Any protocol: the TCP binding of the same pool port is there too.
        let (all, _) = holdings(LOG.lines(), "198.51.100.1#40000", None);
        assert_eq!(all.len(), 5);
        assert!(
            all.iter()
                .any(|x| x.proto == "tcp" && x.ended_by == "restart")
        );
    }
}
