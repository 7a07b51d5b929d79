//! `nat64gw`'s command line (clap): the commands, their options and the
//! help text the man page is made from.

use std::net::{Ipv4Addr, SocketAddrV4, SocketAddrV6};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use common::control::Filter;

/// Look into and steer the nat64gw gateway's daemons, nat64d and dns64d,
/// through their control sockets (root or the socket's group only), and
/// check the gateway file.
///
/// The sockets are found in the gateway file (`[nat64.control] socket`,
/// `[dns64.control] socket`; by default /run/nat64gw/nat64d/control.sock
/// and /run/nat64gw/dns64d/control.sock). Human tables by default; `--json` prints
/// the daemons' answers for scripts. Exit status 0 when every daemon asked
/// answered, 1 otherwise.
#[derive(Debug, Parser)]
#[command(name = "nat64gw", version)]
pub(crate) struct Cli {
    /// The gateway configuration file, where the sockets are named.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "/etc/nat64gw/gateway.toml",
        global = true
    )]
    pub(crate) config: PathBuf,
    /// The control socket to use instead of the file's (for a command of
    /// one daemon; with `status`, `stats` and `reload`, only the daemon on
    /// this socket is asked).
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) socket: Option<PathBuf>,
    /// Print the answers as JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Seconds to wait for a daemon's answer.
    #[arg(long, value_name = "SECS", default_value_t = 10, global = true)]
    pub(crate) timeout: u64,
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Both daemons: version, uptime, configuration file and its SHA-256,
    /// workers, pool use per address, sessions, the last reload.
    Status,
    /// Every counter of both daemons (the /metrics families), each drop
    /// reason with its meaning.
    Stats {
        /// Leave out the counters that are zero.
        #[arg(long)]
        nonzero: bool,
    },
    /// Both daemons read the file again and apply it; prints the result
    /// and the keys whose change needs a restart.
    Reload,
    /// nat64d's sessions, filtered.
    Sessions(FilterArgs),
    /// nat64d's bindings (BIB), filtered; `bib remove` removes one.
    #[command(args_conflicts_with_subcommands = true)]
    Bib {
        #[command(subcommand)]
        action: Option<BibCmd>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Which IPv6 host held a pool address and port: from nat64d's live
    /// table and its mapping log.
    Trace {
        /// The pool address and port (ICMP: the identifier).
        #[arg(value_name = "IPV4:PORT")]
        target: SocketAddrV4,
        /// The moment asked about, UTC: `2026-12-02T10:30:00Z`, or
        /// `2026-12-02 10:30` (default: every holder the log knows).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Only this protocol.
        #[arg(long, value_enum)]
        proto: Option<Proto>,
        /// The mapping log to read instead of the one nat64d writes (`-`:
        /// standard input, such as `journalctl -u nat64d -o cat`). Its
        /// rotated predecessor `FILE.1` is read too.
        #[arg(long, value_name = "FILE")]
        mapping_log: Option<PathBuf>,
    },
    /// dns64d: status, upstreams, the cache, the query log.
    Dns {
        #[command(subcommand)]
        cmd: DnsCmd,
    },
    /// Print the man page (made from these definitions) and exit.
    #[command(hide = true)]
    Man,
    /// Check the gateway file for both daemons at once (FILE, or the
    /// `--config` file): every error, with its line and key, and the
    /// warnings.
    Check {
        /// The file to check.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Proto {
    Tcp,
    Udp,
    Icmp,
}

impl Proto {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }
}

/// Which sessions or bindings.
#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// Only this protocol.
    #[arg(long, value_enum)]
    pub(crate) proto: Option<Proto>,
    /// Only IPv6 hosts at this address or in this prefix.
    #[arg(long, value_name = "ADDR|PREFIX")]
    ipv6: Option<String>,
    /// Only this pool address.
    #[arg(long, value_name = "ADDR")]
    ipv4: Option<Ipv4Addr>,
    /// Only this pool port (ICMP: identifier).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Most rows (default 1000, at most 1 000 000).
    #[arg(long, default_value_t = 1000)]
    pub(crate) limit: usize,
}

impl FilterArgs {
    pub(crate) fn filter(&self) -> Filter {
        Filter {
            proto: self.proto.map(|p| p.name().to_string()),
            v6: self.ipv6.clone(),
            v4: self.ipv4,
            port: self.port,
            limit: self.limit.max(1),
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum BibCmd {
    /// Remove one dynamic binding and its sessions (a static one is the
    /// file's). The flow's next packet makes a new binding.
    Remove {
        /// Its protocol.
        #[arg(long, value_enum)]
        proto: Proto,
        /// Its pool side, `IPV4:PORT`.
        #[arg(
            long,
            value_name = "IPV4:PORT",
            conflicts_with = "ipv6",
            required_unless_present = "ipv6"
        )]
        ipv4: Option<SocketAddrV4>,
        /// Its IPv6 side, `[IPV6]:PORT`.
        #[arg(long, value_name = "[IPV6]:PORT")]
        ipv6: Option<SocketAddrV6>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DnsCmd {
    /// dns64d's status.
    Status,
    /// Each upstream: up or down, since when, last heard, counters.
    Upstreams,
    /// dns64d's counters.
    Stats {
        /// Leave out the counters that are zero.
        #[arg(long)]
        nonzero: bool,
    },
    /// dns64d reads the file again.
    Reload,
    /// The answer cache.
    Cache {
        #[command(subcommand)]
        cmd: CacheCmd,
    },
    /// One log line per query (`dns64d::querylog`), on or off; the file's
    /// `[dns64] querylog` is the state at start.
    Querylog {
        #[arg(value_enum)]
        state: OnOff,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCmd {
    /// What the cache holds for a name (every type).
    Lookup {
        /// The name.
        name: String,
    },
    /// Forget a name (every type), or the whole cache.
    Flush {
        /// The name; none: everything.
        name: Option<String>,
    },
    /// The cached answers.
    Dump {
        /// Most rows.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}
