//! The `/metrics` endpoint both daemons serve (req O2): Prometheus families
//! from the `prometheus` crate, rendered in the text exposition format on
//! each scrape, served over HTTP/1 by hyper on a small tokio runtime.
//!
//! The daemons keep their hot-path counters as plain atomics (one set per
//! worker, no contention); a scrape copies their sums into the families
//! ([`Families::refresh`] callers) and encodes them. Scrapes are served
//! concurrently, at most [`MAX_CONNECTIONS`] at a time; a client gets
//! [`HEADER_TIMEOUT`] to send its request and [`CONNECTION_DEADLINE`] in
//! all, so a slow or idle client never holds the endpoint for others.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{Encoder, Registry, TextEncoder};
pub use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Opts};
use tokio::sync::Semaphore;

use crate::sync::lock;

/// Scrapes served at once; further connections are closed at accept.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time one connection may last, whatever it does.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

/// A daemon's metric families: register once at start, set on each scrape.
#[derive(Debug, Default)]
pub struct Families {
    registry: Registry,
    /// One scrape sets and encodes the families at a time, so two
    /// concurrent scrapes cannot interleave a counter's reset and set.
    render: Mutex<()>,
}

/// Buckets of the latency histograms, in seconds: 50 µs to 5 s.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// A latency histogram family (seconds, [`LATENCY_BUCKETS`]), not yet
/// registered: the code that observes owns it, [`Families::register`]
/// exports it.
///
/// # Panics
/// On an invalid name or label: a programming error.
pub fn latency_histogram(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        prometheus::HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .unwrap_or_else(|e| panic!("histogram {name}: {e}"))
}

impl Families {
    /// Exports a family owned elsewhere (a [`latency_histogram`], a
    /// counter family the observing code keeps); a second registration is
    /// ignored.
    pub fn register<C: prometheus::core::Collector + Clone + 'static>(&self, c: &C) {
        let _ = self.registry.register(Box::new(c.clone()));
    }

    /// A daemon's families, with the process ones every operator reaches
    /// for (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
    /// `process_open_fds`, `process_max_fds`, `process_start_time_seconds`,
    /// `process_threads`; the `prometheus` crate's collector, from
    /// `/proc/self`) and `DAEMON_build_info{version}` (always 1).
    ///
    /// # Panics
    /// On an invalid `daemon` name: a programming error.
    pub fn for_daemon(daemon: &str, version: &str) -> Self {
        let f = Self::default();
        let _ = f.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        let info = f.gauge(
            &format!("{daemon}_build_info"),
            "The running build: its version (always 1).",
            &["version"],
        );
        info.with_label_values(&[version]).set(1);
        f
    }

    /// An empty set of families.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a counter family (`name` ends in `_total`).
    ///
    /// # Panics
    /// On an invalid or duplicate name: a programming error found by the
    /// daemon's unit test of its families, never by input.
    pub fn counter(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let c = IntCounterVec::new(Opts::new(name, help), labels)
            .unwrap_or_else(|e| panic!("counter {name}: {e}"));
        self.registry
            .register(Box::new(c.clone()))
            .unwrap_or_else(|e| panic!("counter {name}: {e}"));
        c
    }

    /// Registers a gauge family.
    ///
    /// # Panics
    /// As [`Families::counter`].
    pub fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        let g = IntGaugeVec::new(Opts::new(name, help), labels)
            .unwrap_or_else(|e| panic!("gauge {name}: {e}"));
        self.registry
            .register(Box::new(g.clone()))
            .unwrap_or_else(|e| panic!("gauge {name}: {e}"));
        g
    }

    /// Runs `refresh` (which copies the daemon's counters into the
    /// families), then encodes every family in the text format.
    pub fn render(&self, refresh: impl FnOnce()) -> String {
        let _one = lock(&self.render);
        refresh();
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("metrics: cannot encode: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Sets the counter with `labels` of `family` to `value`, a total the
/// daemon keeps itself.
pub fn set_counter(family: &IntCounterVec, labels: &[&str], value: u64) {
    let c = family.with_label_values(labels);
    c.reset();
    c.inc_by(value);
}

/// Sets the gauge with `labels` of `family` to `value`.
pub fn set_gauge(family: &IntGaugeVec, labels: &[&str], value: u64) {
    family
        .with_label_values(labels)
        .set(i64::try_from(value).unwrap_or(i64::MAX));
}

/// A daemon's reloads (SIGHUP): how many were applied and rejected, and
/// when the last one happened and whether it was applied.
#[derive(Debug, Default)]
pub struct Reloads {
    counts: [std::sync::atomic::AtomicU64; 2],
    /// Unix seconds of the last reload; 0: none yet.
    last_at: std::sync::atomic::AtomicU64,
    last_ok: std::sync::atomic::AtomicBool,
}

impl Reloads {
    /// Notes a reload that was applied (`ok`) or rejected.
    pub fn record(&self, ok: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts[usize::from(!ok)].fetch_add(1, Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_at.store(now, Relaxed);
        self.last_ok.store(ok, Relaxed);
    }

    /// (applied, rejected, unix seconds of the last or 0, the last applied).
    pub fn read(&self) -> (u64, u64, u64, bool) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.counts[0].load(Relaxed),
            self.counts[1].load(Relaxed),
            self.last_at.load(Relaxed),
            self.last_ok.load(Relaxed),
        )
    }
}

/// The families of [`Reloads`]: `DAEMON_reloads_total{result}`,
/// `DAEMON_last_reload_timestamp_seconds` (0 before the first),
/// `DAEMON_last_reload_success` (1 applied, 0 rejected).
#[derive(Debug)]
pub struct ReloadFamilies {
    total: IntCounterVec,
    at: IntGaugeVec,
    ok: IntGaugeVec,
}

impl ReloadFamilies {
    /// Registers them in `f` for `daemon`.
    pub fn new(f: &Families, daemon: &str) -> Self {
        ReloadFamilies {
            total: f.counter(
                &format!("{daemon}_reloads_total"),
                "Reloads (SIGHUP or `nat64gw reload`), by result.",
                &["result"],
            ),
            at: f.gauge(
                &format!("{daemon}_last_reload_timestamp_seconds"),
                "When the last reload happened (Unix time; 0: none since start).",
                &[],
            ),
            ok: f.gauge(
                &format!("{daemon}_last_reload_success"),
                "Whether the last reload was applied (1) or rejected (0); 1 before any.",
                &[],
            ),
        }
    }

    /// Copies `r` into the families.
    pub fn set(&self, r: &Reloads) {
        let (applied, rejected, at, ok) = r.read();
        set_counter(&self.total, &["applied"], applied);
        set_counter(&self.total, &["rejected"], rejected);
        set_gauge(&self.at, &[], at);
        set_gauge(&self.ok, &[], u64::from(ok || at == 0));
    }
}

/// What a scrape calls to get the exposition text.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Other plain-text pages a daemon serves next to `/metrics` (such as
/// nat64d's `/sources`): given the path, the page, or `None` for 404.
pub type Pages = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Binds the endpoint's listener now, so that a bad or busy address fails
/// the daemon's start rather than a later thread.
///
/// # Errors
/// When `addr` cannot be bound.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Serves scrapes on `listener` (from [`bind`]) until the runtime stops.
pub async fn serve(listener: std::net::TcpListener, render: Render, pages: Option<Pages>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("metrics: cannot use the listener: {e}");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("metrics: {MAX_CONNECTIONS} scrapes in progress; connection closed");
            continue;
        };
        let (render, pages) = (render.clone(), pages.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(req, render.clone(), pages.clone()));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, conn).await;
            drop(slot);
        });
    }
}

/// Starts a thread with a one-thread tokio runtime serving `listener`, for
/// a daemon whose own threads are not on tokio (nat64d).
///
/// # Errors
/// When the thread or the runtime cannot be started.
pub fn spawn_thread(
    listener: std::net::TcpListener,
    render: Render,
    pages: Option<Pages>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || rt.block_on(serve(listener, render, pages)))
}

async fn answer(
    req: Request<Incoming>,
    render: Render,
    pages: Option<Pages>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let get = req.method() == Method::GET;
    // Rendering takes shard locks briefly: off the I/O thread.
    let page = match pages {
        Some(p) if get && path != "/metrics" && path != "/" => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || p(&path))
                .await
                .ok()
                .flatten()
        }
        _ => None,
    };
    let (status, ctype, body) = if let Some(body) = page {
        (StatusCode::OK, "text/plain; charset=utf-8", body)
    } else if get && (path == "/metrics" || path == "/") {
        (
            StatusCode::OK,
            prometheus::TEXT_FORMAT,
            tokio::task::spawn_blocking(move || render())
                .await
                .unwrap_or_default(),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "only GET /metrics is served here\n".to_string(),
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = ctype.parse() {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_in_the_text_format() {
        let f = Families::new();
        let c = f.counter("x_packets_total", "Packets.", &["way"]);
        let g = f.gauge("x_sessions", "Sessions.", &[]);
        let text = f.render(|| {
            set_counter(&c, &["in"], 7);
            set_counter(&c, &["in"], 9);
            set_gauge(&g, &[], 3);
        });
        assert!(text.contains("# TYPE x_packets_total counter\n"), "{text}");
        assert!(text.contains("x_packets_total{way=\"in\"} 9\n"), "{text}");
        assert!(
            text.contains("# HELP x_sessions Sessions.\n# TYPE x_sessions gauge\nx_sessions 3\n"),
            "{text}"
        );
    }

    /// A client that connects and sends nothing does not keep another from
    /// being served, and a scrape gets the families.
    #[test]
    fn a_silent_client_does_not_block_a_scrape() {
        use std::io::{Read, Write};
        let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let render: Render = Arc::new(|| "x 1\n".to_string());
        spawn_thread(l, render, None).unwrap();
        let _silent = std::net::TcpStream::connect(addr).unwrap();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
        assert!(got.ends_with("x 1\n"), "{got}");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        assert!(got.starts_with("HTTP/1.1 404"), "{got}");
    }
}
