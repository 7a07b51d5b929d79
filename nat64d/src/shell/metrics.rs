//! nat64d's `/metrics` (req O2): the per-worker counters summed, the
//! table's census, the pool, the fragment store, the mapping log and the
//! reloads, as Prometheus families (served by [`common::metrics`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::metrics::{Families, set_counter, set_gauge};
use common::metrics::{IntCounterVec, IntGaugeVec};
use nat64d::flow::Proto;
use nat64d::gateway::Way;
use nat64d::state::tcp::TcpState;
use nat64d::stats::{Counters, DropReason};

use super::shared::Shared;

type Get = fn(&Counters) -> &AtomicU64;

/// Pools of at most this many addresses get a series per address.
const MAX_ADDRESS_SERIES: usize = 256;

/// The single-number counters of every worker: name, help, which field.
const TOTALS: [(&str, &str, Get); 14] = [
    (
        "nat64d_superpackets_read_total",
        "Reads from the TUN that were super-packets (offload).",
        |c| &c.superpackets_read,
    ),
    (
        "nat64d_answered_total",
        "Packets answered with nat64d's own ICMP error instead of translated.",
        |c| &c.answered,
    ),
    (
        "nat64d_segments_total",
        "Segments made by cutting super-packets in software.",
        |c| &c.segments,
    ),
    (
        "nat64d_ignored_total",
        "The kernel's own link-scope packets into the TUN (router solicitations, MLD): not for the translator, not drops.",
        |c| &c.ignored,
    ),
    (
        "nat64d_fragments_held_total",
        "Fragments held for their first fragment (req S9).",
        |c| &c.held,
    ),
    (
        "nat64d_fragments_released_total",
        "Held fragments released by their first and processed again.",
        |c| &c.released,
    ),
    (
        "nat64d_own_icmp_errors_total",
        "ICMP errors nat64d generated and sent.",
        |c| &c.own_errors,
    ),
    (
        "nat64d_own_icmp_errors_rate_limited_total",
        "ICMP errors nat64d did not send (rate limit).",
        |c| &c.own_errors_limited,
    ),
    (
        "nat64d_fragments_sent_total",
        "Fragments sent by nat64d's own fragmentation.",
        |c| &c.fragments,
    ),
    (
        "nat64d_tun_write_errors_total",
        "Writes to the TUN device that failed.",
        |c| &c.write_errors,
    ),
    (
        "nat64d_offload_superpackets_total",
        "Super-packets (TUN offload) translated whole, headers once.",
        |c| &c.gso_whole,
    ),
    (
        "nat64d_offload_superpackets_cut_total",
        "Super-packets cut into segments in software before translation.",
        |c| &c.gso_cut,
    ),
    (
        "nat64d_offload_udp_coalesced_writes_total",
        "UDP super-packets written from two or more coalesced datagrams.",
        |c| &c.coalesced_writes,
    ),
    (
        "nat64d_offload_udp_coalesced_datagrams_total",
        "Datagrams written inside coalesced UDP super-packets.",
        |c| &c.coalesced,
    ),
];

/// The unlabelled gauges, in the order [`Metrics::refresh`] sets them.
const GAUGES: [(&str, &str); 7] = [
    ("nat64d_static_bib_entries", "Static bindings."),
    ("nat64d_held_syns", "IPv4 SYNs held for simultaneous open."),
    (
        "nat64d_unanswered_inbound_sessions",
        "Sessions the IPv4 side opened that the IPv6 host has not answered yet.",
    ),
    (
        "nat64d_fragment_flows",
        "Fragmented datagrams being matched (req S9).",
    ),
    (
        "nat64d_fragment_held_bytes",
        "Bytes of fragments waiting for their first fragment.",
    ),
    ("nat64d_fragments_held", "Fragments held now."),
    (
        "nat64d_source_prefixes",
        "Customer source prefixes followed by the limits (see /sources).",
    ),
];

/// nat64d's families.
#[derive(Debug)]
pub(crate) struct Metrics {
    families: Families,
    packets: IntCounterVec,
    bytes: IntCounterVec,
    read: IntCounterVec,
    worker_read: IntCounterVec,
    worker_super: IntCounterVec,
    forwarded: IntCounterVec,
    drops: IntCounterVec,
    totals: Vec<(IntCounterVec, Get)>,
    log_dropped: IntCounterVec,
    log_failures: IntCounterVec,
    reloads: common::metrics::ReloadFamilies,
    sessions: IntGaugeVec,
    tcp_sessions: IntGaugeVec,
    bibs: IntGaugeVec,
    pool: PoolFamilies,
    gauges: Vec<IntGaugeVec>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let f = Families::for_daemon("nat64d", env!("CARGO_PKG_VERSION"));
        let c = |n, h, l: &[&str]| f.counter(n, h, l);
        let packets = c(
            "nat64d_packets_total",
            "Packets translated, by direction.",
            &["way"],
        );
        let bytes = c(
            "nat64d_bytes_total",
            "Bytes of the packets translated, by direction.",
            &["way"],
        );
        let drops = c(
            "nat64d_drops_total",
            "Packets dropped, by reason.",
            &["reason"],
        );
        let read = c(
            "nat64d_packets_read_total",
            "Packets read from the TUN, by family (a super-packet is one).",
            &["family"],
        );
        let worker_read = c(
            "nat64d_worker_packets_read_total",
            "Packets read from the TUN, by worker (each reads its own queue): how the queues share the load.",
            &["worker"],
        );
        let worker_super = c(
            "nat64d_worker_superpackets_read_total",
            "Super-packets (offload) read from the TUN, by worker: they go to a queue by their flow, so bulk flows spread over the workers.",
            &["worker"],
        );
        let forwarded = c(
            "nat64d_forwarded_total",
            "Packets read that were translated and sent (a super-packet is one), by direction.",
            &["way"],
        );
        let totals = TOTALS
            .iter()
            .map(|(n, h, get)| (c(n, h, &[]), *get))
            .collect();
        let log_dropped = c(
            "nat64d_mapping_log_dropped_total",
            "Mapping-log lines lost to a full queue.",
            &[],
        );
        let log_failures = c(
            "nat64d_mapping_log_write_failures_total",
            "Mapping-log writes that failed (each logged at most once a minute).",
            &[],
        );
        let reloads = common::metrics::ReloadFamilies::new(&f, "nat64d");
        let g = |n, h, l: &[&str]| f.gauge(n, h, l);
        Metrics {
            sessions: g("nat64d_sessions", "Live sessions, by protocol.", &["proto"]),
            tcp_sessions: g(
                "nat64d_tcp_sessions",
                "Live TCP sessions, by state.",
                &["state"],
            ),
            bibs: g("nat64d_bib_entries", "Bindings, by protocol.", &["proto"]),
            pool: PoolFamilies::new(&f),
            gauges: GAUGES.iter().map(|(n, h)| g(n, h, &[])).collect(),
            families: f,
            packets,
            bytes,
            read,
            worker_read,
            worker_super,
            forwarded,
            drops,
            totals,
            log_dropped,
            log_failures,
            reloads,
        }
    }

    /// The exposition text, from `shared` as it is now.
    pub(crate) fn render(&self, shared: &Shared) -> String {
        self.families.render(|| self.refresh(shared))
    }

    fn refresh(&self, s: &Shared) {
        for w in Way::ALL {
            let i = w.index();
            set_counter(&self.packets, &[w.name()], s.sum(|c| &c.packets[i]));
            set_counter(&self.bytes, &[w.name()], s.sum(|c| &c.bytes[i]));
            set_counter(&self.forwarded, &[w.name()], s.sum(|c| &c.forwarded[i]));
        }
        for (i, family) in ["ipv6", "ipv4"].iter().enumerate() {
            set_counter(&self.read, &[family], s.sum(|c| &c.read[i]));
        }
        for (i, c) in s.counters.iter().enumerate() {
            let n = c.read.iter().map(|r| r.load(Ordering::Relaxed)).sum();
            set_counter(&self.worker_read, &[&i.to_string()], n);
            let n = c.superpackets_read.load(Ordering::Relaxed);
            set_counter(&self.worker_super, &[&i.to_string()], n);
        }

        for (i, r) in DropReason::ALL.iter().enumerate() {
            set_counter(&self.drops, &[r.name()], s.sum(|c| &c.drops[i]));
        }
        for (family, get) in &self.totals {
            set_counter(family, &[], s.sum(get));
        }
        set_counter(
            &self.log_failures,
            &[],
            s.log.write_failures.load(Ordering::Relaxed),
        );
        set_counter(
            &self.log_dropped,
            &[],
            s.log.dropped.load(Ordering::Relaxed),
        );
        self.reloads.set(&s.reloads);
        let census = s.gateway.table.census();
        let pool = &s.gateway.pool;
        for p in Proto::ALL {
            let i = p.index();
            set_gauge(&self.sessions, &[p.name()], census.sessions[i] as u64);
            set_gauge(&self.bibs, &[p.name()], census.bibs[i] as u64);
        }
        self.pool.set(&census, pool);
        for (i, st) in TcpState::ALL.iter().enumerate().skip(1) {
            set_gauge(
                &self.tcp_sessions,
                &[st.name()],
                census.tcp_states[i] as u64,
            );
        }

        let (flows, held) = s.gateway.fragment_census();
        let values = [
            census.static_bibs,
            census.held_syns,
            census.unanswered_inbound,
            flows,
            held,
            s.gateway.fragments_held(),
            s.gateway.table.source_count(),
        ];
        for (gauge, v) in self.gauges.iter().zip(values) {
            set_gauge(gauge, &[], v as u64);
        }
    }
}

/// Starts the endpoint on `listener` (bound at start).
pub(crate) fn start(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    let s = shared.clone();
    let pages: common::metrics::Pages = Arc::new(move |path| match path {
        "/sources" => Some(super::sources::top(&s)),
        _ => None,
    });
    common::metrics::spawn_thread(
        listener,
        Arc::new(move || metrics.render(&shared)),
        Some(pages),
    )?;
    Ok(())
}

/// Pool use and capacity, for the pool and per pool address.
#[derive(Debug)]
struct PoolFamilies {
    used: IntGaugeVec,
    capacity: IntGaugeVec,
    address_used: IntGaugeVec,
    address_capacity: IntGaugeVec,
}

impl PoolFamilies {
    fn new(f: &Families) -> Self {
        let g = |n, h, l: &[&str]| f.gauge(n, h, l);
        PoolFamilies {
            used: g(
                "nat64d_pool_ports_used",
                "Pool transport addresses bound, by protocol.",
                &["proto"],
            ),
            capacity: g(
                "nat64d_pool_ports_capacity",
                "Pool transport addresses there are, by protocol.",
                &["proto"],
            ),
            address_used: g(
                "nat64d_pool_address_ports_used",
                "Ports bound on each pool address, by protocol (pools of at most 256 addresses).",
                &["address", "proto"],
            ),
            address_capacity: g(
                "nat64d_pool_address_ports_capacity",
                "Ports each pool address has, by protocol.",
                &["proto"],
            ),
        }
    }

    fn set(&self, census: &nat64d::state::Census, pool: &nat64d::pool::Pool) {
        for p in Proto::ALL {
            let per_address = u64::from(pool.range(p).len());
            set_gauge(&self.used, &[p.name()], census.bibs[p.index()] as u64);
            set_gauge(
                &self.capacity,
                &[p.name()],
                per_address * pool.addrs().len() as u64,
            );
            set_gauge(&self.address_capacity, &[p.name()], per_address);
        }
        // One series per pool address and protocol: bounded by the pool,
        // exported while it is small enough to read.
        if pool.addrs().len() <= MAX_ADDRESS_SERIES {
            for a in pool.addrs() {
                let used = census.bibs_by_address.get(a).copied().unwrap_or_default();
                let a = a.to_string();
                for p in Proto::ALL {
                    set_gauge(&self.address_used, &[&a, p.name()], used[p.index()] as u64);
                }
            }
        }
    }
}
