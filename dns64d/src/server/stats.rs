//! The server's counters and what they count, summed at scrape time.

use std::sync::atomic::AtomicU64;

/// Query types counted apart.
pub const TYPES: [&str; 4] = ["a", "aaaa", "ptr", "other"];
/// Outcomes counted.
pub const OUTCOMES: [&str; 8] = [
    "local",
    "forwarded",
    "synthesized",
    "real_aaaa",
    "not_synthesized",
    "servfail",
    "refused",
    "formerr",
];

/// Outcome of one query, indexing [`OUTCOMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered here (ipv4only.arpa, PTR partial, NOTIMP...).
    Local = 0,
    /// Passed through to an upstream and back.
    Forwarded = 1,
    /// Synthesised AAAA records.
    Synthesized = 2,
    /// The name had real AAAA records.
    RealAaaa = 3,
    /// The DNS64 path ended without synthesis (NXDOMAIN, NODATA).
    NotSynthesized = 4,
    /// SERVFAIL because upstreams failed.
    ServFail = 5,
    /// A client outside `allow_from`.
    Refused = 6,
    /// A malformed query.
    FormErr = 7,
}

/// Counters, summed at scrape time.
#[derive(Debug)]
pub struct Stats {
    /// Queries by [`TYPES`] × [`OUTCOMES`].
    pub queries: [[AtomicU64; 8]; 4],
    /// Synthesised AAAA records.
    pub synthesized_records: AtomicU64,
    /// Datagrams dropped unanswered (too short to answer, or responses).
    pub dropped: AtomicU64,
    /// UDP answers truncated to the client's size.
    pub truncated: AtomicU64,
    /// Queries answered from the answer cache's fast path.
    pub fast_hits: AtomicU64,
    /// SIGHUP reloads.
    pub reloads: common::metrics::Reloads,
    /// Time from a query's arrival to its answer, by transport and path
    /// (`dns64d_answer_seconds{transport,path}`).
    pub latency: common::metrics::HistogramVec,
    /// Answers by RCODE and transport (`dns64d_answers_total`).
    pub answers: common::metrics::IntCounterVec,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            queries: Default::default(),
            synthesized_records: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
            fast_hits: AtomicU64::new(0),
            reloads: common::metrics::Reloads::default(),
            latency: common::metrics::latency_histogram(
                "dns64d_answer_seconds",
                "Time from a query's arrival to its answer, by transport and path (fast: a kept answer replayed).",
                &["transport", "path"],
            ),
            answers: common::metrics::IntCounterVec::new(
                prometheus_opts(
                    "dns64d_answers_total",
                    "Answers sent, by RCODE and transport.",
                ),
                &["rcode", "transport"],
            )
            .unwrap_or_else(|e| panic!("dns64d_answers_total: {e}")),
        }
    }
}

fn prometheus_opts(name: &str, help: &str) -> common::metrics::Opts {
    common::metrics::Opts::new(name, help)
}

/// The RCODE names of `dns64d_answers_total` (header RCODE, 0–15).
pub const RCODES: [&str; 16] = [
    "noerror", "formerr", "servfail", "nxdomain", "notimp", "refused", "yxdomain", "yxrrset",
    "nxrrset", "notauth", "notzone", "other", "other", "other", "other", "other",
];
