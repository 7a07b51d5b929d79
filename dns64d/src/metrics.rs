//! dns64d's `/metrics` (req O2): queries by type and outcome, synthesis,
//! truncation, the caches and each upstream, as Prometheus families
//! (served by [`common::metrics`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::metrics::{Families, IntCounterVec, IntGaugeVec, set_counter, set_gauge};
use dns64d::server::{OUTCOMES, TYPES};

use crate::Srv;

/// dns64d's families.
#[derive(Debug)]
pub(crate) struct Metrics {
    families: Families,
    queries: IntCounterVec,
    synthesized: IntCounterVec,
    dropped: IntCounterVec,
    truncated: IntCounterVec,
    hits: IntCounterVec,
    misses: IntCounterVec,
    upstream: IntCounterVec,
    cache_entries: IntGaugeVec,
    answers_kept: IntGaugeVec,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let f = Families::new();
        let c = |n, h, l: &[&str]| f.counter(n, h, l);
        Metrics {
            queries: c(
                "dns64d_queries_total",
                "Client queries, by type and outcome.",
                &["type", "outcome"],
            ),
            synthesized: c(
                "dns64d_synthesized_records_total",
                "AAAA records synthesised.",
                &[],
            ),
            dropped: c(
                "dns64d_dropped_total",
                "Datagrams dropped unanswered (not a query, too short).",
                &[],
            ),
            truncated: c(
                "dns64d_truncated_total",
                "UDP answers truncated to the client's size (TC=1).",
                &[],
            ),
            hits: c(
                "dns64d_cache_hits_total",
                "Upstream questions answered from the cache.",
                &[],
            ),
            misses: c(
                "dns64d_cache_misses_total",
                "Upstream questions not in the cache.",
                &[],
            ),
            upstream: c(
                "dns64d_upstream_total",
                "Questions to each upstream, by result.",
                &["server", "result"],
            ),
            cache_entries: f.gauge(
                "dns64d_cache_entries",
                "Upstream answers in the cache.",
                &[],
            ),
            answers_kept: f.gauge(
                "dns64d_answer_cache_entries",
                "Final answers kept for the fast path.",
                &[],
            ),
            families: f,
        }
    }

    /// The exposition text, from `server` as it is now.
    pub(crate) fn render(&self, server: &Srv) -> String {
        self.families.render(|| self.refresh(server))
    }

    fn refresh(&self, server: &Srv) {
        let st = &server.stats;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        for (t, row) in TYPES.iter().zip(&st.queries) {
            for (oc, n) in OUTCOMES.iter().zip(row) {
                set_counter(&self.queries, &[t, oc], get(n));
            }
        }
        set_counter(&self.synthesized, &[], get(&st.synthesized_records));
        set_counter(&self.dropped, &[], get(&st.dropped));
        set_counter(&self.truncated, &[], get(&st.truncated));
        let r = server.resolver();
        set_counter(&self.hits, &[], get(&r.hits));
        set_counter(&self.misses, &[], get(&r.misses));
        set_gauge(&self.cache_entries, &[], r.len() as u64);
        set_gauge(&self.answers_kept, &[], server.answers_kept() as u64);
        for (addr, s) in r.inner.servers().iter().zip(&r.inner.stats) {
            let addr = addr.to_string();
            for (what, v) in [
                ("sent", &s.queries),
                ("timeout", &s.timeouts),
                ("error", &s.errors),
                ("tcp_retry", &s.tcp_retries),
            ] {
                set_counter(&self.upstream, &[&addr, what], get(v));
            }
        }
    }
}

/// Serves the endpoint on `listener` (bound at start) on the daemon's
/// runtime.
pub(crate) fn start(
    listener: std::net::TcpListener,
    server: Arc<Srv>,
) -> tokio::task::JoinHandle<()> {
    let metrics = Metrics::new();
    tokio::spawn(common::metrics::serve(
        listener,
        Arc::new(move || metrics.render(&server)),
    ))
}
