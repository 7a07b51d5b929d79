//! The query log (`[dns64] querylog`, `nat64gw dns querylog on|off`): one
//! line per answered query, `query CLIENT NAME TYPE RCODE TRANSPORT PATH
//! MICROSECONDS`, logged under the target `dns64d::querylog`. Off by
//! default. Clients choose how many queries they send, so the log is
//! bounded: at most [`MAX_PER_SECOND`] lines a second, the rest counted and
//! said in one line when the next second's first query comes. Pure: the
//! second comes in.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hickory_proto::op::Message;

/// Most query lines a second.
pub const MAX_PER_SECOND: u64 = 1000;

/// Whether the log is on, and this second's budget.
#[derive(Debug, Default)]
pub struct QueryLog {
    on: AtomicBool,
    second: AtomicU64,
    lines: AtomicU64,
    skipped: AtomicU64,
}

impl QueryLog {
    /// Turns the log on or off.
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// Whether it is on.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Whether a line may be written in second `now`, and how many lines
    /// earlier seconds skipped (to be said first; then forgotten).
    pub fn admit(&self, now: u64) -> (bool, u64) {
        let mut skipped = 0;
        if self.second.swap(now, Ordering::Relaxed) != now {
            self.lines.store(0, Ordering::Relaxed);
            skipped = self.skipped.swap(0, Ordering::Relaxed);
        }
        if self.lines.fetch_add(1, Ordering::Relaxed) < MAX_PER_SECOND {
            (true, skipped)
        } else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            (false, skipped)
        }
    }
}

/// A query as the log names it.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Its bytes.
    pub wire: &'a [u8],
    /// Who asked.
    pub client: IpAddr,
    /// `udp` or `tcp`.
    pub transport: &'a str,
    /// `fast` (a kept answer replayed) or `full`.
    pub path: &'a str,
}

impl QueryLog {
    /// Logs `q` and its answer `out` (none: dropped), begun at `t0`, in
    /// second `now`, within the budget.
    pub fn log(&self, now: u64, q: &Query<'_>, out: Option<&[u8]>, t0: std::time::Instant) {
        let (write, skipped) = self.admit(now);
        if skipped > 0 {
            tracing::info!(
                target: "dns64d::querylog",
                "{skipped} queries not logged (over {MAX_PER_SECOND} lines a second)"
            );
        }
        if write {
            let micros = t0.elapsed().as_micros();
            let l = line(q.wire, q.client, q.transport, q.path, out, micros);
            tracing::info!(target: "dns64d::querylog", "{l}");
        }
    }
}

/// The line for the query `wire` from `client` and its `answer` (none:
/// dropped unanswered).
pub fn line(
    wire: &[u8],
    client: IpAddr,
    transport: &str,
    path: &str,
    answer: Option<&[u8]>,
    micros: u128,
) -> String {
    let (name, qtype) = Message::from_vec(wire)
        .ok()
        .and_then(|m| {
            m.queries
                .first()
                .map(|q| (q.name().to_string(), q.query_type().to_string()))
        })
        .unwrap_or_else(|| ("-".into(), "-".into()));
    let rcode = answer.map_or_else(
        || "dropped".to_string(),
        |a| {
            let code = a.get(3).map_or(0, |b| u16::from(b & 0x0f));
            format!("{:?}", hickory_proto::op::ResponseCode::from(0, code as u8))
        },
    );
    format!("query {client} {name} {qtype} {rcode} {transport} {path} {micros}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    #[test]
    fn o6_the_query_log_is_bounded_per_second() {
        let q = QueryLog::default();
        let mut written = 0;
        for _ in 0..MAX_PER_SECOND + 500 {
            let (ok, skipped) = q.admit(7);
            assert_eq!(skipped, 0);
            written += u64::from(ok);
        }
        assert_eq!(written, MAX_PER_SECOND);
        assert_eq!(
            q.admit(8),
            (true, 500),
            "the next second says what was skipped"
        );
        assert_eq!(q.admit(8), (true, 0));
    }

    #[test]
    fn o6_query_lines_name_the_question_and_the_rcode() {
        let mut m = Message::new(9, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii("a.test.").unwrap(),
            RecordType::AAAA,
        ));
        let wire = m.to_vec().unwrap();
        let mut answer = wire.clone();
        answer[3] |= 3;
        let l = line(
            &wire,
            "2001:db8::1".parse().unwrap(),
            "udp",
            "full",
            Some(&answer),
            512,
        );
        assert_eq!(l, "query 2001:db8::1 a.test. AAAA NXDomain udp full 512");
        let l = line(b"xx", "192.0.2.1".parse().unwrap(), "tcp", "full", None, 3);
        assert_eq!(l, "query 192.0.2.1 - - dropped tcp full 3");
    }
}
