//! The dns64d binary: command line, configuration, the listeners, the
//! metrics endpoint, SIGHUP reload and SIGTERM stop.

/// See Cargo.toml: glibc's malloc fragments under the cache's pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod control;
mod metrics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use common::logging::{self, LogFormat};
use dns64d::config::{Dns64Config, File};
use dns64d::listen::{Admission, raise_descriptor_limit, serve_tcp, serve_udp};
use dns64d::server::Server;
use dns64d::upstream::{Cached, Client};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// DNS64 server of the nat64gw gateway (RFC 6147, RFC 8880).
///
/// Reads the shared `[prefix]` section and its own `[dns64]` section of the
/// gateway configuration file, answers on every `listen` address over UDP
/// and TCP, and asks the `upstreams`. SIGHUP reloads the file (a bad file
/// is rejected and the running configuration stays); SIGUSR1 logs the
/// cache's state; SIGUSR2 is ignored; SIGTERM stops.
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
    /// Log lines as `text` (for journald; the default) or `json`. The
    /// `RUST_LOG` environment variable filters them (default `info`).
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// Print the man page (made from these options) and exit.
    #[arg(long, hide = true)]
    man: bool,
}

pub(crate) type Srv = Server<Cached<Client>>;

/// Reads the file and applies the flag overrides, then checks the result.
fn load(args: &Args) -> Result<File, String> {
    let (mut f, parsed): (File, _) =
        common::config::load_lenient(&args.config).map_err(|e| e.to_string())?;
    if !args.listen.is_empty() {
        f.dns64.listen.clone_from(&args.listen);
    }
    if !args.upstream.is_empty() {
        f.dns64.upstreams.clone_from(&args.upstream);
    }
    if args.metrics_listen.is_some() {
        f.dns64.metrics.listen = args.metrics_listen;
    }
    let checked = f
        .dns64
        .validate_all(&args.config.display().to_string(), &f.prefix);
    common::config::report_all(parsed, checked)?;
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
        "{}; listen {}; upstreams {}; allow_from {}; control socket {}; runtime threads {}",
        f.prefix.summary(),
        list(&d.listen),
        list(&d.upstreams),
        list(&d.allow_from),
        d.control
            .path()
            .map_or("off".into(), |p| p.display().to_string()),
        d.runtime_threads(dns64d::reuseport::allowed_cpus().len().max(1))
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
    if args.man {
        return common::manpage::print(<Args as clap::CommandFactory>::command());
    }
    logging::init(args.log_format);
    let f = match load(&args) {
        Ok(f) => f,
        // --check-config answers a person at a terminal: the message
        // alone. A starting daemon logs it.
        Err(e) if args.check_config => {
            eprintln!("dns64d: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check_config {
        common::outln!(
            "{}: configuration OK; {}",
            args.config.display(),
            summary(&f)
        );
        if let Some(e) = f.dns64.placeholder_upstream(f.prefix.allow_non_global) {
            common::outln!("warning: {e}; dns64d will not start with it");
        }
        return ExitCode::SUCCESS;
    }
    // No 2 MiB page faults on a query's path (common::memory).
    common::memory::no_huge_pages_logged();
    let threads = f
        .dns64
        .runtime_threads(dns64d::reuseport::allowed_cpus().len().max(1));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args, f)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, f: File) -> anyhow::Result<()> {
    if let Some(e) = f.dns64.placeholder_upstream(f.prefix.allow_non_global) {
        anyhow::bail!("{e}");
    }
    let server: Arc<Srv> = Arc::new(Server::new(
        f.dns64.settings(&f.prefix),
        resolver(&f.dns64),
        f.dns64.cache_size,
    ));
    server.querylog.set(f.dns64.querylog);
    let files = raise_descriptor_limit(&f.dns64.limits()).map_err(anyhow::Error::msg)?;
    tracing::debug!("open files limit {files}");
    let admission = Arc::new(Admission::new(
        f.dns64.limits(),
        dns64d::reuseport::allowed_cpus().len().max(1),
    ));
    let mut tasks = listeners(&f, &server, &admission).await?;
    let metrics = Arc::new(metrics::Metrics::for_server(&server));
    if let Some(addr) = f.dns64.metrics.listen {
        let l = common::metrics::bind(addr)
            .with_context(|| format!("cannot listen on {addr} (`dns64.metrics.listen`)"))?;
        tasks.push(metrics::start(
            l,
            metrics.clone(),
            server.clone(),
            admission.clone(),
        ));
    }
    let info = Arc::new(control::Info {
        config: args.config.clone(),
        sha256: Default::default(),
        started: std::time::SystemTime::now(),
        t0: std::time::Instant::now(),
        summary: Default::default(),
    });
    info.update(summary(&f));
    let (socket, mut asks) = match f.dns64.control.path() {
        Some(p) => {
            let (g, a) = control::start(p, server.clone(), admission, info.clone(), metrics)?;
            (Some(g), Some(a))
        }
        None => (None, None),
    };
    tracing::info!("serving; {}", summary(&f));
    serve(&args, f, &server, &info, asks.as_mut()).await?;
    tracing::info!("stopping");
    drop(socket);
    for t in tasks {
        t.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Answers signals and the control socket's reloads until told to stop.
async fn serve(
    args: &Args,
    f: File,
    server: &Srv,
    info: &control::Info,
    mut asks: Option<&mut control::ReloadAsks>,
) -> anyhow::Result<()> {
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    // SIGUSR1 and SIGUSR2 would end the process by default: one reports,
    // the other is ignored, both said in the log.
    let mut usr1 = signal(SignalKind::user_defined1()).context("SIGUSR1 handler")?;
    let mut usr2 = signal(SignalKind::user_defined2()).context("SIGUSR2 handler")?;
    let mut current = f;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let _ = reload(args, &mut current, server, info);
            }
            Some(answer) = async {
                match asks.as_mut() {
                    Some(a) => a.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let _ = answer.send(reload(args, &mut current, server, info));
            }
            _ = usr1.recv() => tracing::info!(
                "SIGUSR1: {} final answers kept, {} upstream answers cached, upstreams {}",
                server.answers_kept(),
                server.resolver().len(),
                list(&current.dns64.upstreams)
            ),
            _ = usr2.recv() => tracing::info!("SIGUSR2 ignored: dns64d gives it no meaning"),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    Ok(())
}

/// Binds every `listen` address, UDP (a reader thread per core) and TCP
/// (a task); returns the tasks.
async fn listeners(
    f: &File,
    server: &Arc<Srv>,
    admission: &Arc<Admission>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    for addr in &f.dns64.listen {
        let tcp = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on TCP {addr} (`dns64.listen`)"))?;
        // One blocking reader thread per CPU, each on its own socket
        // (SO_REUSEPORT) and pinned to its CPU; a query goes to the reader
        // of the CPU it arrived on (dns64d::reuseport). Cache hits are
        // answered on that thread, the rest go to the runtime.
        let cpus = dns64d::reuseport::allowed_cpus();
        let readers = cpus.len().max(1);
        let mut socks = Vec::with_capacity(readers);
        for _ in 0..readers {
            socks.push(Arc::new(udp_socket(*addr).with_context(|| {
                format!("cannot listen on UDP {addr} (`dns64.listen`)")
            })?));
        }
        steer_udp(*addr, &socks[0], &cpus);
        // A reader with a queue is helped by the idle ones (dns64d::readers).
        let group = dns64d::readers::Group::new(socks)
            .with_context(|| format!("cannot set up the UDP readers of {addr}"))?;
        for i in 0..group.len() {
            let group = group.clone();
            let (server, rt) = (server.clone(), tokio::runtime::Handle::current());
            let admission = admission.clone();
            let cpu = cpus.get(i).copied();
            std::thread::Builder::new()
                .name("dns64d-udp".into())
                .spawn(move || {
                    if let Some(cpu) = cpu
                        && let Err(e) = dns64d::reuseport::pin_current_thread(cpu)
                    {
                        tracing::warn!("UDP reader {i} cannot be pinned to CPU {cpu} ({e}); it runs where the scheduler puts it");
                    }
                    serve_udp(server, admission, group, rt, i)
                })
                .context("cannot start a UDP reader thread")?;
        }
        tasks.push(tokio::spawn(serve_tcp(
            server.clone(),
            admission.clone(),
            tcp,
        )));
    }
    Ok(tasks)
}

/// Hands each UDP query on `addr` to the reader on its arrival CPU; when
/// the kernel refuses, says so: the kernel's hash then picks the reader.
fn steer_udp(addr: SocketAddr, first: &std::net::UdpSocket, cpus: &[usize]) {
    if cpus.len() < 2 {
        return;
    }
    if let Err(e) = dns64d::reuseport::attach(first, cpus) {
        tracing::warn!(
            "UDP {addr}: cannot steer queries to the reader on their CPU ({e}); the kernel picks readers by the client's address"
        );
    }
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

/// SIGHUP or `nat64gw reload`: a new file replaces the rules, access
/// list and upstreams; the cache stays when the upstreams are unchanged. A
/// bad file changes nothing. Returns the keys whose change waits for a
/// restart, or why the file was rejected.
fn reload(
    args: &Args,
    current: &mut File,
    server: &Srv,
    info: &control::Info,
) -> control::ReloadResult {
    let mut f = match load(args) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("reload rejected, the running configuration stays: {e}");
            server.stats.reloads.record(false);
            return Err(e);
        }
    };
    server.stats.reloads.record(true);
    let restart = dns64d::config::keep_restart_only(current, &mut f);
    for key in &restart {
        tracing::warn!("reload: {key} changes only at restart; the running value stays");
    }
    server.set_settings(f.dns64.settings(&f.prefix));
    let same = f.dns64.upstreams == current.dns64.upstreams
        && f.dns64.timeout_ms == current.dns64.timeout_ms
        && f.dns64.cache_size == current.dns64.cache_size;
    if !same {
        server.set_resolver(resolver(&f.dns64));
    }
    if f.dns64.querylog != current.dns64.querylog {
        server.querylog.set(f.dns64.querylog);
    }
    tracing::info!(
        "reloaded: {}; cache {}",
        summary(&f),
        if same {
            "kept"
        } else {
            "emptied (upstreams changed)"
        }
    );
    info.update(summary(&f));
    *current = f;
    Ok(restart)
}
