//! nat64d's side of the control socket (req O6; `[nat64.control] socket`,
//! docs/operations.md): status, counters, session and binding listings,
//! removing a binding, reloading. Served by [`common::control`]'s threads;
//! listings hold one shard's lock at a time and stop at their row limit,
//! and a reload is handed to the control loop, so nothing here runs on a
//! worker or waits for one.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::control::{Cleanup, Filter, Request, Response, Value, json, utc};
use common::sync::lock;
use nat64d::flow::{Proto, TransportAddr4, TransportAddr6};
use nat64d::state::{Select, SessionRow};

use super::metrics::Metrics;
use super::shared::Shared;

/// The answer of a reload: the keys that wait for a restart, or why the
/// file was rejected.
pub(crate) type ReloadResult = Result<Vec<&'static str>, String>;

/// Where the control loop hears of reload requests.
pub(crate) type ReloadAsks = Receiver<SyncSender<ReloadResult>>;

/// What `status` says that the table does not: fixed at start, except the
/// file's hash (a reload reads the file again).
#[derive(Debug)]
pub(crate) struct Info {
    pub(crate) config: PathBuf,
    pub(crate) sha256: Mutex<String>,
    pub(crate) started: SystemTime,
    pub(crate) tun: String,
    pub(crate) workers: usize,
    pub(crate) cpus: Vec<usize>,
    /// Whether the steering program picks the queues (set once the TUN
    /// is open; docs/performance.md).
    pub(crate) steered: std::sync::atomic::AtomicBool,
    pub(crate) offload: bool,
    pub(crate) mapping_log: Option<PathBuf>,
}

impl Info {
    /// Notes the file's hash now (at start and after each reload).
    pub(crate) fn hash_file(&self) {
        *lock(&self.sha256) = common::control::file_sha256(&self.config)
            .unwrap_or_else(|e| format!("unreadable: {e}"));
    }
}

/// Binds the socket at `path` and serves it; the socket file goes when
/// the returned guard is dropped.
pub(crate) fn start(
    path: &Path,
    shared: Arc<Shared>,
    info: Arc<Info>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(Cleanup, ReloadAsks)> {
    let listener = common::control::bind(path).map_err(|e| {
        anyhow::anyhow!(
            "nat64.control.socket: cannot listen on {}: {e}",
            path.display()
        )
    })?;
    let (tx, rx) = sync_channel::<SyncSender<ReloadResult>>(4);
    let handler: common::control::Handler = Arc::new(move |req| match req {
        Request::Status => Response::ok(status(&shared, &info)),
        Request::Stats => Response::ok(common::control::metric_rows(&metrics.render(&shared))),
        Request::Sessions(f) => sessions(&shared, &f),
        Request::Bib(f) => bib(&shared, &f),
        Request::BibRemove { proto, v4, v6 } => remove(&shared, &proto, v4, v6),
        Request::Reload => reload(&tx),
        other => Response::error(format!(
            "nat64d does not answer `{}`; dns64d does",
            other.name()
        )),
    });
    common::control::spawn(listener, "nat64d-control", handler)?;
    Ok((Cleanup(path.to_path_buf()), rx))
}

/// Asks the control loop to reload and waits for its answer (it looks
/// every tick; a reload of a large file takes well under the wait).
fn reload(tx: &SyncSender<SyncSender<ReloadResult>>) -> Response {
    let (answer, result) = sync_channel(1);
    if tx.try_send(answer).is_err() {
        return Response::error("a reload is already waiting; try again");
    }
    match result.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(restart)) => Response::ok(json!({
            "result": "applied",
            "restart_needed": restart,
        })),
        Ok(Err(e)) => Response::error(format!(
            "reload rejected, the running configuration stays: {e}"
        )),
        Err(_) => Response::error("no answer from the control loop in 30 s"),
    }
}

fn status(s: &Shared, info: &Info) -> Value {
    let census = s.gateway.table.census();
    let pool = &s.gateway.pool;
    let per_proto = |v: [usize; 3]| json!({"tcp": v[0], "udp": v[1], "icmp": v[2]});
    let per_address: Vec<Value> = pool
        .addrs()
        .iter()
        .take(256)
        .map(|a| {
            let used = census.bibs_by_address.get(a).copied().unwrap_or_default();
            json!({"address": a.to_string(), "tcp": used[0], "udp": used[1], "icmp": used[2]})
        })
        .collect();
    let (applied, rejected, at, ok) = s.reloads.read();
    let last = if at == 0 {
        Value::from("none since start")
    } else {
        json!({
            "at": utc(SystemTime::UNIX_EPOCH + Duration::from_secs(at)),
            "result": if ok { "applied" } else { "rejected" },
        })
    };
    json!({
        "daemon": "nat64d",
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "started": utc(info.started),
        "uptime_seconds": s.now.load(Ordering::Relaxed),
        "config": info.config.display().to_string(),
        "config_sha256": lock(&info.sha256).clone(),
        "tun": info.tun,
        "workers": info.workers,
        "cpus": if info.cpus.is_empty() {
            "not pinned".to_string()
        } else {
            super::affinity::describe(&info.cpus)
        },
        "queue_choice": if info.steered.load(Ordering::Relaxed) {
            "by arrival CPU (super-packets by flow)"
        } else {
            "by flow hash (the kernel's)"
        },
        "offload": info.offload,
        "mapping_log": info.mapping_log.as_deref().map_or("-".into(), |p| p.display().to_string()),
        "sessions": per_proto(census.sessions),
        "bindings": per_proto(census.bibs),
        "static_bindings": census.static_bibs,
        "held_syns": census.held_syns,
        "source_prefixes": s.gateway.table.source_count(),
        "ports_per_address": per_proto(Proto::ALL.map(|p| pool.range(p).len() as usize)),
        "pool_addresses": pool.addrs().len(),
        "reloads": {"applied": applied, "rejected": rejected},
        "last_reload": last,
        "pool": per_address,
    })
}

/// The filter of a listing, checked.
fn select(f: &Filter) -> Result<Select, String> {
    let proto = f.proto.as_deref().map(proto).transpose()?;
    let v6 = match f.v6.as_deref() {
        None => None,
        Some(t) if t.contains('/') => Some(
            t.parse::<ipnet::Ipv6Net>()
                .map_err(|_| format!("`{t}` is not an IPv6 prefix (2001:db8:1::/64)"))?
                .trunc(),
        ),
        Some(t) => Some(ipnet::Ipv6Net::from(
            t.parse::<std::net::Ipv6Addr>().map_err(|_| {
                format!("`{t}` is not an IPv6 address or prefix (2001:db8:1::2, 2001:db8:1::/64)")
            })?,
        )),
    };
    Ok(Select {
        proto,
        v6,
        v4: f.v4,
        port: f.port,
    })
}

fn proto(t: &str) -> Result<Proto, String> {
    Proto::ALL
        .into_iter()
        .find(|p| p.name() == t)
        .ok_or_else(|| format!("`{t}` is not a protocol: tcp, udp or icmp"))
}

fn sessions(s: &Shared, f: &Filter) -> Response {
    let sel = match select(f) {
        Ok(sel) => sel,
        Err(e) => return Response::error(e),
    };
    let now = s.now.load(Ordering::Relaxed);
    let (rows, more) = s.gateway.table.list_sessions(&sel, f.rows(), now);
    let prefixes = &s.gateway.prefix.prefixes;
    let row = |r: &SessionRow| {
        let remote6 = prefixes
            .iter()
            .nth(usize::from(r.prefix))
            .map_or_else(String::new, |p| {
                TransportAddr6 {
                    addr: common::embed(p, r.remote.addr),
                    port: r.remote.port,
                }
                .to_string()
            });
        json!({
            "proto": r.proto.name(),
            "ipv6": r.v6.to_string(),
            "pool": r.v4.to_string(),
            "remote": r.remote.to_string(),
            "remote_ipv6": remote6,
            "state": r.tcp.map_or("-", |t| t.name()),
            "expires_in": r.expires_in,
            "opened_by": if r.inbound { "ipv4" } else { "ipv6" },
        })
    };
    Response::ok(json!({
        "sessions": rows.iter().map(row).collect::<Vec<_>>(),
        "truncated": more,
    }))
}

fn bib(s: &Shared, f: &Filter) -> Response {
    let sel = match select(f) {
        Ok(sel) => sel,
        Err(e) => return Response::error(e),
    };
    let (rows, more) = s.gateway.table.list_bindings(&sel, f.rows());
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "proto": r.proto.name(),
                "ipv6": r.v6.to_string(),
                "pool": r.v4.to_string(),
                "sessions": r.sessions,
                "static": r.is_static,
            })
        })
        .collect();
    Response::ok(json!({"bindings": rows, "truncated": more}))
}

fn remove(
    s: &Shared,
    proto_name: &str,
    v4: Option<std::net::SocketAddrV4>,
    v6: Option<std::net::SocketAddrV6>,
) -> Response {
    let p = match proto(proto_name) {
        Ok(p) => p,
        Err(e) => return Response::error(e),
    };
    let table = &s.gateway.table;
    let pool_side = match (v4, v6) {
        (Some(a), None) => TransportAddr4 {
            addr: *a.ip(),
            port: a.port(),
        },
        (None, Some(a)) => {
            let host = TransportAddr6 {
                addr: *a.ip(),
                port: a.port(),
            };
            let sel = Select {
                proto: Some(p),
                v6: Some(ipnet::Ipv6Net::from(host.addr)),
                ..Select::default()
            };
            let (rows, _) = table.list_bindings(&sel, usize::MAX);
            match rows.iter().find(|r| r.v6 == host) {
                Some(r) => r.v4,
                None => return Response::error(format!("no {p} binding of {host}")),
            }
        }
        _ => return Response::error("give the binding's IPv4 side or its IPv6 side, one of them"),
    };
    let now = s.now.load(Ordering::Relaxed);
    let mut events = Vec::new();
    match table.remove_binding(p, pool_side, now, &mut events) {
        Ok((row, n)) => {
            s.log.send(&mut events);
            tracing::info!(
                "control: removed the {p} binding {} <-> {} and its {n} sessions",
                row.v6,
                row.v4
            );
            Response::ok(json!({
                "removed": {"proto": p.name(), "ipv6": row.v6.to_string(), "pool": row.v4.to_string()},
                "sessions_removed": n,
            }))
        }
        Err(e) => Response::error(format!("{p} {pool_side}: {e}")),
    }
}
