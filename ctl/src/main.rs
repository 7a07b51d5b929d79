//! `nat64gw`: the operator's command (req O6). Talks to nat64d and dns64d over
//! their control sockets (common::control, docs/operations.md) and checks
//! the gateway file with both daemons' own checks.

mod check;
mod cli;
mod render;
mod trace;
mod trace_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use cli::{BibCmd, CacheCmd, Cli, Cmd, DnsCmd, OnOff};
use common::control::{Request, Response, Value, json};
use common::{out, outln};

/// Which daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Daemon {
    Nat64d,
    Dns64d,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Nat64d => "nat64d",
            Daemon::Dns64d => "dns64d",
        }
    }
}

/// The sockets the gateway file names (defaults where it names none).
fn sockets(cli: &Cli) -> Result<[(Daemon, Option<PathBuf>); 2], String> {
    let text = match std::fs::read_to_string(&cli.config) {
        Ok(t) => t,
        // No file at the default path: the default sockets.
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && cli.config == Path::new("/etc/nat64gw/gateway.toml") =>
        {
            String::new()
        }
        Err(e) => return Err(format!("{}: {e}", cli.config.display())),
    };
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| format!("{}: not a TOML file: {e}", cli.config.display()))?;
    let path = |section: &str, default: &str| -> Option<PathBuf> {
        let p = table
            .get(section)
            .and_then(|s| s.get("control"))
            .and_then(|c| c.get("socket"))
            .and_then(|s| s.as_str())
            .unwrap_or(default);
        (!p.is_empty()).then(|| PathBuf::from(p))
    };
    Ok([
        (
            Daemon::Nat64d,
            path("nat64", common::control::NAT64D_SOCKET),
        ),
        (
            Daemon::Dns64d,
            path("dns64", common::control::DNS64D_SOCKET),
        ),
    ])
}

/// The answers so far, and whether every one was `ok`.
pub(crate) struct Out {
    json: bool,
    failed: bool,
}

impl Out {
    pub(crate) fn ask(&mut self, cli: &Cli, d: Daemon, req: &Request) -> Option<Value> {
        let path = match &cli.socket {
            Some(p) => Some(p.clone()),
            None => match sockets(cli) {
                Ok(s) => s.into_iter().find(|(x, _)| *x == d).and_then(|(_, p)| p),
                Err(e) => return self.fail(d, &e),
            },
        };
        let Some(path) = path else {
            return self.fail(d, "its control socket is off (`control.socket = \"\"`)");
        };
        // With --socket, whichever daemon answers there: named by the path.
        let who = match &cli.socket {
            Some(p) => p.display().to_string(),
            None => d.name().to_string(),
        };
        match common::control::request(&path, req, Duration::from_secs(cli.timeout)) {
            Ok(Response { ok: true, data, .. }) => Some(data),
            Ok(Response { error, .. }) => self.fail_as(&who, &error.unwrap_or_default()),
            Err(e) => self.fail_as(&who, &e),
        }
    }

    pub(crate) fn fail(&mut self, d: Daemon, e: &str) -> Option<Value> {
        self.fail_as(d.name(), e)
    }

    fn fail_as(&mut self, who: &str, e: &str) -> Option<Value> {
        self.failed = true;
        eprintln!("nat64gw: {who}: {e}");
        None
    }

    /// Prints one daemon's answer.
    pub(crate) fn show(&self, v: &Value) {
        if self.json {
            outln!("{v}");
        } else {
            out!("{}", render::text(v));
        }
    }
}

/// The daemons a both-daemon command asks: the one on `--socket` if
/// given (whichever answers), else both.
fn both(cli: &Cli, out: &mut Out, req: &Request, each: impl Fn(&Out, Daemon, Value)) {
    if cli.socket.is_some() {
        if let Some(v) = out.ask(cli, Daemon::Nat64d, req) {
            if out.json {
                outln!("{v}");
            } else {
                each(out, Daemon::Nat64d, v);
            }
        }
        return;
    }
    let mut answers = serde_json::Map::new();
    for d in [Daemon::Nat64d, Daemon::Dns64d] {
        if let Some(v) = out.ask(cli, d, req) {
            if out.json {
                answers.insert(d.name().into(), v);
            } else {
                outln!("== {} ==", d.name());
                each(out, d, v);
            }
        }
    }
    if out.json {
        outln!("{}", Value::Object(answers));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Out {
        json: cli.json,
        failed: false,
    };
    match &cli.cmd {
        Cmd::Man => return common::manpage::print(<Cli as clap::CommandFactory>::command()),
        Cmd::Check { file } => return check::run(file.as_deref().unwrap_or(&cli.config)),
        Cmd::Status => both(&cli, &mut out, &Request::Status, |o, _, v| o.show(&v)),
        Cmd::Stats { nonzero } => both(&cli, &mut out, &Request::Stats, |_, _, v| {
            out!("{}", stats_table(&v, *nonzero));
        }),
        Cmd::Reload => both(&cli, &mut out, &Request::Reload, |o, _, v| o.show(&v)),
        Cmd::Sessions(f) => one(
            &cli,
            &mut out,
            Daemon::Nat64d,
            Request::Sessions(f.filter()),
        ),
        Cmd::Bib {
            action: None,
            filter,
        } => one(
            &cli,
            &mut out,
            Daemon::Nat64d,
            Request::Bib(filter.filter()),
        ),
        Cmd::Bib {
            action: Some(BibCmd::Remove { proto, ipv4, ipv6 }),
            ..
        } => one(
            &cli,
            &mut out,
            Daemon::Nat64d,
            Request::BibRemove {
                proto: proto.name().into(),
                v4: *ipv4,
                v6: *ipv6,
            },
        ),
        Cmd::Trace {
            target,
            at,
            proto,
            mapping_log,
        } => trace_cmd::run(
            &cli,
            &mut out,
            *target,
            at.as_deref(),
            *proto,
            mapping_log.as_deref(),
        ),
        Cmd::Dns { cmd } => dns(&cli, &mut out, cmd),
    }
    if out.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn one(cli: &Cli, out: &mut Out, d: Daemon, req: Request) {
    if let Some(v) = out.ask(cli, d, &req) {
        out.show(&v);
    }
}

fn dns(cli: &Cli, out: &mut Out, cmd: &DnsCmd) {
    let req = match cmd {
        DnsCmd::Status => Request::Status,
        DnsCmd::Upstreams => Request::Upstreams,
        DnsCmd::Reload => Request::Reload,
        DnsCmd::Stats { nonzero } => {
            if let Some(v) = out.ask(cli, Daemon::Dns64d, &Request::Stats) {
                if out.json {
                    out.show(&v);
                } else {
                    out!("{}", stats_table(&v, *nonzero));
                }
            }
            return;
        }
        DnsCmd::Cache { cmd } => match cmd {
            CacheCmd::Lookup { name } => Request::CacheLookup { name: name.clone() },
            CacheCmd::Flush { name } => Request::CacheFlush { name: name.clone() },
            CacheCmd::Dump { limit } => Request::CacheDump {
                limit: (*limit).max(1),
            },
        },
        DnsCmd::Querylog { state } => Request::Querylog {
            on: matches!(state, OnOff::On),
        },
    };
    one(cli, out, Daemon::Dns64d, req);
}

/// The drop reasons' meanings, from the page the tests keep current.
const DROP_REASONS: &str = include_str!("../../docs/drop-reasons.md");

fn drop_meaning(reason: &str) -> Option<&'static str> {
    DROP_REASONS.lines().find_map(|l| {
        let rest = l.strip_prefix(&format!("| `{reason}` | "))?;
        Some(rest.trim_end_matches(" |"))
    })
}

/// `nat64gw stats` as a table: counter, value, meaning.
fn stats_table(v: &Value, nonzero: bool) -> String {
    let rows: Vec<Value> = v
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|r| !nonzero || r["value"].as_f64().is_some_and(|x| x != 0.0))
        .map(|r| {
            let (metric, labels) = (
                r["metric"].as_str().unwrap_or_default(),
                r["labels"].as_str().unwrap_or_default(),
            );
            let series = if labels.is_empty() {
                metric.to_string()
            } else {
                format!("{metric}{{{labels}}}")
            };
            let reason = labels
                .strip_prefix("reason=\"")
                .and_then(|x| x.strip_suffix('"'));
            let meaning = match reason {
                Some(r) if metric == "nat64d_drops_total" => {
                    drop_meaning(r).unwrap_or_default().to_string()
                }
                _ => r["help"].as_str().unwrap_or_default().to_string(),
            };
            json!({"counter": series, "value": r["value"], "meaning": meaning})
        })
        .collect();
    render::table(&rows)
}
