//! The nat64d binary: the command line and the configuration; the rest of
//! the I/O shell is in [`shell`].

mod shell;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use common::logging::{self, LogFormat};
use nat64d::config::{File, Nat64Config};

/// Stateful NAT64 translator of the nat64gw gateway (RFC 7915, RFC 6146).
///
/// Reads the shared `[prefix]` section and its own `[nat64]` section of the
/// gateway configuration file, opens the TUN device the prefixes and the
/// IPv4 pool are routed to, and translates. SIGHUP reloads the policy,
/// timers, limits, port policy and static bindings; SIGUSR1 logs the
/// busiest customer prefixes (also at `/sources` on the metrics address);
/// SIGUSR2 is ignored; SIGTERM stops.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The gateway configuration file (TOML), shared with dns64d.
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
    /// Overrides `nat64.tun`.
    #[arg(long, value_name = "NAME")]
    tun: Option<String>,
    /// Overrides `nat64.threads` (0: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Overrides `nat64.mapping_log` (`-`: standard error).
    #[arg(long, value_name = "FILE")]
    mapping_log: Option<PathBuf>,
    /// Overrides `nat64.metrics.listen`.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_listen: Option<SocketAddr>,
    /// Overrides `nat64.routes = false`: leave routing to the operator.
    #[arg(long)]
    no_routes: bool,
    /// Log lines as `text` (for journald; the default) or `json`. The
    /// `RUST_LOG` environment variable filters them (default `info`).
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// Print the man page (made from these options) and exit.
    #[arg(long, hide = true)]
    man: bool,
}

/// Loads and checks the file, with the command line's overrides applied.
fn load(args: &Args) -> Result<File, String> {
    let (mut f, parsed): (File, _) =
        common::config::load_lenient(&args.config).map_err(|e| e.to_string())?;
    apply(args, &mut f.nat64);
    let checked = f
        .nat64
        .validate_all(&args.config.display().to_string(), &f.prefix);
    common::config::report_all(parsed, checked)?;
    Ok(f)
}

fn apply(args: &Args, c: &mut Nat64Config) {
    if let Some(t) = &args.tun {
        c.tun = t.clone();
    }
    if let Some(n) = args.threads {
        c.threads = n;
    }
    if let Some(p) = &args.mapping_log {
        c.mapping_log = Some(p.clone());
    }
    if let Some(a) = args.metrics_listen {
        c.metrics.listen = Some(a);
    }
    if args.no_routes {
        c.routes = false;
    }
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
            eprintln!("nat64d: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check_config {
        // A file that cannot be written fails the check; a directory that
        // does not exist yet only warns (systemd's LogsDirectory= makes it
        // when the unit starts, and the start itself refuses without it).
        if let Err(e) = shell::mapping_log_usable(f.nat64.mapping_log.as_deref()) {
            if e.contains("does not exist") {
                common::outln!(
                    "warning: key `nat64.mapping_log`: {e}; nat64d will not start until it does"
                );
            } else {
                eprintln!(
                    "nat64d: {}: key `nat64.mapping_log`: {e}",
                    args.config.display()
                );
                return ExitCode::FAILURE;
            }
        }
        let pool: Vec<String> = f.nat64.pool4.iter().map(|p| p.to_string()).collect();
        common::outln!(
            "{}: configuration OK; {}; pool4: {}; tun {}; {}",
            args.config.display(),
            f.prefix.summary(),
            pool.join(", "),
            f.nat64.tun,
            f.nat64.limits_summary()
        );
        for w in f.nat64.limits_warnings() {
            common::outln!("warning: {w}");
        }
        if let Some(e) = f.nat64.placeholder_pool(f.prefix.allow_non_global) {
            common::outln!("warning: {e}; nat64d will not start with it");
        }
        return ExitCode::SUCCESS;
    }
    // No 2 MiB page faults on a worker's packet (common::memory).
    common::memory::no_huge_pages_logged();
    match shell::start::run(args, f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
