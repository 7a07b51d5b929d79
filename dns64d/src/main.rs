//! The dns64d binary: command line, configuration, the listeners, the
//! metrics endpoint, SIGHUP reload and SIGTERM stop.

/// See Cargo.toml: glibc's malloc fragments under the cache's pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use dns64d::config::{Dns64Config, File};
use dns64d::server::{OUTCOMES, Server, Settings, TYPES, serve_tcp, serve_udp};
use dns64d::upstream::{Cached, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// DNS64 server of the nat64gw gateway (RFC 6147, RFC 8880).
///
/// Reads the shared `[prefix]` section and its own `[dns64]` section of the
/// gateway configuration file, answers on every `listen` address over UDP
/// and TCP, and asks the `upstreams`. SIGHUP reloads the file (a bad file
/// is rejected and the running configuration stays); SIGTERM stops.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The gateway configuration file (TOML), shared with nat64d.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "/etc/nat64gw/gateway.toml"
    )]
    config: PathBuf,
    /// Validate the configuration file, print a summary and exit: status 0
    /// when it is valid, 1 with the file, line, key and problem otherwise.
    #[arg(long)]
    check_config: bool,
    /// Listen addresses (repeatable), instead of `dns64.listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// Upstream resolvers (repeatable), instead of `dns64.upstreams`.
    #[arg(long, value_name = "ADDR")]
    upstream: Vec<SocketAddr>,
    /// Metrics endpoint, instead of `dns64.metrics.listen`.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

type Srv = Server<Cached<Client>>;

/// Reads the file and applies the flag overrides, then checks the result.
fn load(args: &Args) -> Result<File, String> {
    let mut f = dns64d::config::load(&args.config).map_err(|e| e.to_string())?;
    if !args.listen.is_empty() {
        f.dns64.listen.clone_from(&args.listen);
    }
    if !args.upstream.is_empty() {
        f.dns64.upstreams.clone_from(&args.upstream);
    }
    if args.metrics_listen.is_some() {
        f.dns64.metrics.listen = args.metrics_listen;
    }
    f.dns64
        .validate(&args.config.display().to_string(), &f.prefix)
        .map_err(|e| e.to_string())?;
    Ok(f)
}

fn list<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(f: &File) -> String {
    let d = &f.dns64;
    format!(
        "{}; listen {}; upstreams {}; allow_from {}",
        f.prefix.summary(),
        list(&d.listen),
        list(&d.upstreams),
        list(&d.allow_from)
    )
}

fn resolver(d: &Dns64Config) -> Cached<Client> {
    Cached::new(
        Client::new(d.upstreams.clone(), Duration::from_millis(d.timeout_ms)),
        d.cache_size,
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    let f = match load(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("dns64d: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check_config {
        println!(
            "{}: configuration OK; {}",
            args.config.display(),
            summary(&f)
        );
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dns64d: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args, f)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dns64d: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, f: File) -> anyhow::Result<()> {
    let server: Arc<Srv> = Arc::new(Server::new(
        Settings {
            core: f.dns64.core(&f.prefix),
            allow_from: f.dns64.allow_from.clone(),
        },
        resolver(&f.dns64),
        f.dns64.cache_size,
    ));
    let mut tasks = Vec::new();
    for addr in &f.dns64.listen {
        let tcp = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on TCP {addr} (`dns64.listen`)"))?;
        // One blocking reader thread per core, each on its own socket
        // (SO_REUSEPORT: the kernel spreads clients over them): cache hits
        // are answered on that thread, the rest go to the runtime.
        let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
        for _ in 0..readers {
            let udp = Arc::new(
                udp_socket(*addr)
                    .with_context(|| format!("cannot listen on UDP {addr} (`dns64.listen`)"))?,
            );
            let (server, rt) = (server.clone(), tokio::runtime::Handle::current());
            std::thread::Builder::new()
                .name("dns64d-udp".into())
                .spawn(move || serve_udp(server, udp, rt))
                .context("cannot start a UDP reader thread")?;
        }
        tasks.push(tokio::spawn(serve_tcp(server.clone(), tcp)));
    }
    if let Some(addr) = f.dns64.metrics.listen {
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (`dns64.metrics.listen`)"))?;
        tasks.push(tokio::spawn(serve_metrics(server.clone(), l)));
    }
    eprintln!("dns64d: serving; {}", summary(&f));
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut current = f;
    loop {
        tokio::select! {
            _ = hup.recv() => reload(&args, &mut current, &server),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    eprintln!("dns64d: stopping");
    for t in tasks {
        t.abort();
    }
    eprintln!("dns64d: stopped");
    Ok(())
}

/// A UDP socket bound to `addr` with SO_REUSEPORT and a receive buffer of
/// up to 4 MiB (the kernel caps it at `net.core.rmem_max`), so bursts wait
/// in the kernel instead of being dropped.
fn udp_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_port(true)?;
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// SIGHUP: a new file replaces the rules, access list and upstreams; the
/// cache stays when the upstreams are unchanged. A bad file changes
/// nothing.
fn reload(args: &Args, current: &mut File, server: &Srv) {
    let f = match load(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("dns64d: reload rejected, the running configuration stays: {e}");
            return;
        }
    };
    if f.dns64.listen != current.dns64.listen || f.dns64.metrics != current.dns64.metrics {
        eprintln!(
            "dns64d: reload: `dns64.listen` and `dns64.metrics` changes take effect at the next start"
        );
    }
    server.set_settings(Settings {
        core: f.dns64.core(&f.prefix),
        allow_from: f.dns64.allow_from.clone(),
    });
    let same = f.dns64.upstreams == current.dns64.upstreams
        && f.dns64.timeout_ms == current.dns64.timeout_ms
        && f.dns64.cache_size == current.dns64.cache_size;
    if !same {
        server.set_resolver(resolver(&f.dns64));
    }
    eprintln!(
        "dns64d: reloaded: {}; cache {}",
        summary(&f),
        if same {
            "kept"
        } else {
            "emptied (upstreams changed)"
        }
    );
    *current = f;
}

async fn serve_metrics(server: Arc<Srv>, l: TcpListener) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            continue;
        };
        let server = server.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let req = String::from_utf8_lossy(&buf[..n]);
            let ok = req.starts_with("GET /metrics ");
            let body = if ok {
                metrics(&server)
            } else {
                "not found\n".into()
            };
            let head = if ok {
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4"
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain"
            };
            let out = format!(
                "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(out.as_bytes()).await;
        });
    }
}

fn metrics(server: &Srv) -> String {
    let mut o = String::new();
    let st = &server.stats;
    let _ = writeln!(
        o,
        "# HELP dns64d_queries_total Client queries, by type and outcome.\n# TYPE dns64d_queries_total counter"
    );
    for (t, row) in TYPES.iter().zip(&st.queries) {
        for (oc, c) in OUTCOMES.iter().zip(row) {
            let _ = writeln!(
                o,
                "dns64d_queries_total{{type=\"{t}\",outcome=\"{oc}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
    }
    let r = server.resolver();
    let counters = [
        (
            "dns64d_synthesized_records_total",
            "AAAA records synthesised.",
            st.synthesized_records.load(Ordering::Relaxed),
        ),
        (
            "dns64d_dropped_total",
            "Datagrams dropped unanswered (not a query, too short).",
            st.dropped.load(Ordering::Relaxed),
        ),
        (
            "dns64d_truncated_total",
            "UDP answers truncated to the client's size (TC=1).",
            st.truncated.load(Ordering::Relaxed),
        ),
        (
            "dns64d_cache_hits_total",
            "Upstream questions answered from the cache.",
            r.hits.load(Ordering::Relaxed),
        ),
        (
            "dns64d_cache_misses_total",
            "Upstream questions not in the cache.",
            r.misses.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    }
    let _ = writeln!(
        o,
        "# HELP dns64d_cache_entries Upstream answers in the cache.\n# TYPE dns64d_cache_entries gauge\ndns64d_cache_entries {}\n# HELP dns64d_answer_cache_entries Final answers kept for the fast path.\n# TYPE dns64d_answer_cache_entries gauge\ndns64d_answer_cache_entries {}",
        r.len(),
        server.answers_kept()
    );
    let _ = writeln!(
        o,
        "# HELP dns64d_upstream_total Questions to each upstream, by result.\n# TYPE dns64d_upstream_total counter"
    );
    for (addr, s) in r.inner.servers().iter().zip(&r.inner.stats) {
        for (what, v) in [
            ("sent", &s.queries),
            ("timeout", &s.timeouts),
            ("error", &s.errors),
            ("tcp_retry", &s.tcp_retries),
        ] {
            let _ = writeln!(
                o,
                "dns64d_upstream_total{{server=\"{addr}\",result=\"{what}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }
    }
    o
}
