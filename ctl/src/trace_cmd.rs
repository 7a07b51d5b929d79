//! `nat64gw trace`: asks nat64d for the live binding and its mapping log's
//! path, reads the log (and its rotated predecessor), and shows who held
//! the pool address and port ([`crate::trace`] reads the lines).

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::control::{Filter, Request, Value, json};

use crate::cli::{Cli, Proto};
use crate::{Daemon, Out, trace};

/// `nat64gw trace`.
pub(crate) fn run(
    cli: &Cli,
    out: &mut Out,
    target: SocketAddrV4,
    at: Option<&str>,
    proto: Option<Proto>,
    log: Option<&Path>,
) {
    let at_secs = match at
        .map(|t| common::control::parse_utc(t).ok_or(t))
        .transpose()
    {
        Ok(t) => t,
        Err(t) => {
            out.fail(
                Daemon::Nat64d,
                &format!("`{t}` is not a time: 2026-12-02T10:30:00Z"),
            );
            return;
        }
    };
    let live = out.ask(
        cli,
        Daemon::Nat64d,
        &Request::Bib(Filter {
            proto: proto.map(|p| p.name().into()),
            v4: Some(*target.ip()),
            port: Some(target.port()),
            ..Filter::default()
        }),
    );
    // The log nat64d writes: from its status, else from the file.
    let log_path = match log {
        Some(p) => Some(p.to_path_buf()),
        None => out
            .ask(cli, Daemon::Nat64d, &Request::Status)
            .and_then(|s| s["mapping_log"].as_str().map(PathBuf::from)),
    };
    let text = read_log(out, log_path.as_deref(), log.is_some());
    let key = format!("{}#{}", target.ip(), target.port());
    let (holds, bad) = trace::holdings(text.lines(), &key, proto.map(Proto::name));
    let rows: Vec<Value> = holds
        .iter()
        .filter(|h| at_secs.is_none_or(|t| h.covers(t)))
        .map(|h| {
            let time =
                |t: u64| common::control::utc(std::time::UNIX_EPOCH + Duration::from_secs(t));
            json!({
                "proto": h.proto,
                "ipv6": h.ipv6,
                "from": time(h.from),
                "until": h.until.map_or("-".into(), time),
                "ended_by": if h.until.is_none() { "(open)" } else { h.ended_by },
                "static": h.is_static,
            })
        })
        .collect();
    let v = json!({
        "pool": key,
        "at": at.unwrap_or("any time"),
        "mapping_log": log_path.map_or("-".into(), |p| p.display().to_string()),
        "unreadable_lines": bad,
        "holders": rows,
        "live": live.map_or(Value::Null, |l| l["bindings"].clone()),
    });
    out.show(&v);
}

/// The mapping log's text: `FILE.1` (rotated) then `FILE`; `-` is standard
/// input when `given` on the command line, else nat64d writes to stderr.
fn read_log(out: &mut Out, path: Option<&Path>, given: bool) -> String {
    match path {
        Some(p) if p == Path::new("-") && given => {
            std::io::read_to_string(std::io::stdin()).unwrap_or_default()
        }
        Some(p) if p == Path::new("-") => {
            out.fail(Daemon::Nat64d, "the mapping log goes to standard error (journald): `journalctl -u nat64d -o cat | nat64gw trace ... --mapping-log -`");
            String::new()
        }
        Some(p) => {
            let rotated = PathBuf::from(format!("{}.1", p.display()));
            let old = std::fs::read_to_string(&rotated).unwrap_or_default();
            match std::fs::read_to_string(p) {
                Ok(t) => old + &t,
                Err(e) => {
                    out.fail(Daemon::Nat64d, &format!("cannot read {}: {e}", p.display()));
                    old
                }
            }
        }
        None => String::new(),
    }
}
