//! dns64d's `/metrics` (req O2): queries by type and outcome, synthesis,
//! truncation, the caches and each upstream, as Prometheus families
//! (served by [`common::metrics`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::metrics::{Families, IntCounterVec, IntGaugeVec, set_counter, set_gauge};
use dns64d::listen::Admission;
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
    upstream_up: IntGaugeVec,
    reloads: common::metrics::ReloadFamilies,
    cache_entries: IntGaugeVec,
    answers_kept: IntGaugeVec,
    cache_bytes: IntGaugeVec,
    byte_evictions: IntCounterVec,
    shed: IntCounterVec,
    unsent: IntCounterVec,
    udp_reads: IntCounterVec,
    udp_helped: IntCounterVec,
    tcp_refused: IntCounterVec,
    inflight: IntGaugeVec,
    tcp_connections: IntGaugeVec,
}

/// The UDP readers' counters, by reader: datagrams read, and of those the
/// ones read from another reader's socket (`dns64d::readers`); and the
/// answers the kernel refused to send.
fn udp_families(f: &Families) -> (IntCounterVec, IntCounterVec, IntCounterVec) {
    (
        f.counter(
            "dns64d_udp_reader_datagrams_total",
            "UDP datagrams read, by reader (one per CPU, each pinned to its CPU and given the queries that arrive on it).",
            &["reader"],
        ),
        f.counter(
            "dns64d_udp_reader_helped_total",
            "UDP datagrams a reader read from another reader's socket, helping it with a queue.",
            &["reader"],
        ),
        f.counter(
            "dns64d_udp_answers_unsent_total",
            "UDP answers the kernel refused to send (a full send buffer, no route to the client).",
            &[],
        ),
    )
}

/// The caches' answers, their bytes, and the evictions for the byte bound.
fn cache_families(f: &Families) -> (IntGaugeVec, IntGaugeVec, IntGaugeVec, IntCounterVec) {
    (
        f.gauge(
            "dns64d_cache_entries",
            "Upstream answers in the cache.",
            &[],
        ),
        f.gauge(
            "dns64d_answer_cache_entries",
            "Final answers kept for the fast path.",
            &[],
        ),
        f.gauge(
            "dns64d_cache_bytes",
            "Bytes of the answers held, by cache (upstream: the upstream answers; answers: the final answers kept for the fast path).",
            &["cache"],
        ),
        f.counter(
            "dns64d_cache_byte_evictions_total",
            "Answers evicted, or not kept, to keep a cache within its byte bound (cache_size x 1 KiB), by cache.",
            &["cache"],
        ),
    )
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let f = Families::for_daemon("dns64d", env!("CARGO_PKG_VERSION"));
        let c = |n, h, l: &[&str]| f.counter(n, h, l);
        let (udp_reads, udp_helped, unsent) = udp_families(&f);
        let (cache_entries, answers_kept, cache_bytes, byte_evictions) = cache_families(&f);
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
            reloads: common::metrics::ReloadFamilies::new(&f, "dns64d"),
            upstream_up: f.gauge(
                "dns64d_upstream_up",
                "1 while an upstream is in use, 0 while it is marked down (it timed out) and probed.",
                &["server"],
            ),
            cache_entries,
            answers_kept,
            cache_bytes,
            byte_evictions,
            shed: c(
                "dns64d_shed_total",
                "Queries dropped unanswered: max_inflight queries were in flight.",
                &[],
            ),
            unsent,
            udp_reads,
            udp_helped,
            tcp_refused: c(
                "dns64d_tcp_connections_closed_total",
                "TCP connections closed by dns64d, by reason.",
                &["reason"],
            ),
            inflight: f.gauge(
                "dns64d_inflight_queries",
                "Queries being answered now.",
                &[],
            ),
            tcp_connections: f.gauge("dns64d_tcp_connections", "TCP connections open now.", &[]),
            families: f,
        }
    }

    /// The families, with the histograms `server` observes into.
    pub(crate) fn for_server(server: &Srv) -> Self {
        let metrics = Metrics::new();
        metrics.families.register(&server.stats.latency);
        metrics.families.register(&server.stats.answers);
        metrics.families.register(&*dns64d::upstream::UPSTREAM_RTT);
        metrics
    }

    /// The exposition text, from `server` and `admission` as they are now.
    pub(crate) fn render(&self, server: &Srv, admission: &Admission) -> String {
        self.families.render(|| {
            self.refresh(server);
            self.refresh_admission(admission);
        })
    }

    fn refresh_admission(&self, a: &Admission) {
        let get = |x: &std::sync::atomic::AtomicU64| x.load(Ordering::Relaxed);
        set_counter(&self.shed, &[], get(&a.stats.shed));
        set_counter(&self.unsent, &[], get(&a.stats.udp_unsent));
        for (i, n) in a.stats.udp_reads.iter().enumerate() {
            set_counter(&self.udp_reads, &[&i.to_string()], get(&n.0));
        }
        for (i, n) in a.stats.udp_helped.iter().enumerate() {
            set_counter(&self.udp_helped, &[&i.to_string()], get(&n.0));
        }
        for (reason, v) in [
            ("full", &a.stats.tcp_full),
            ("client_full", &a.stats.tcp_client_full),
            ("not_allowed", &a.stats.tcp_not_allowed),
            ("timeout", &a.stats.tcp_timed_out),
        ] {
            set_counter(&self.tcp_refused, &[reason], get(v));
        }
        set_gauge(&self.inflight, &[], a.inflight() as u64);
        set_gauge(&self.tcp_connections, &[], a.tcp_connections() as u64);
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
        self.reloads.set(&st.reloads);
        let r = server.resolver();
        set_counter(&self.hits, &[], get(&r.hits));
        set_counter(&self.misses, &[], get(&r.misses));
        set_gauge(&self.cache_entries, &[], r.len() as u64);
        set_gauge(&self.answers_kept, &[], server.answers_kept() as u64);
        let (kept_bytes, kept_evicted) = server.answers_bytes();
        set_gauge(&self.cache_bytes, &["upstream"], r.bytes() as u64);
        set_gauge(&self.cache_bytes, &["answers"], kept_bytes as u64);
        set_counter(&self.byte_evictions, &["upstream"], r.byte_evictions());
        set_counter(&self.byte_evictions, &["answers"], kept_evicted);
        for (i, (addr, s)) in r.inner.servers().iter().zip(&r.inner.stats).enumerate() {
            let addr = addr.to_string();
            set_gauge(&self.upstream_up, &[&addr], u64::from(r.inner.is_up(i)));
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
    metrics: Arc<Metrics>,
    server: Arc<Srv>,
    admission: Arc<Admission>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(common::metrics::serve(
        listener,
        Arc::new(move || metrics.render(&server, &admission)),
        None,
    ))
}
