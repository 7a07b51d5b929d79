//! dns64d's side of the control socket (req O6; `[dns64.control] socket`,
//! docs/operations.md): status, counters, upstream health, the cache
//! (lookup, flush, dump), the query log, reloading. Served by
//! [`common::control`]'s threads, never by a query's; a reload is handed
//! to the main task, which owns the running configuration.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::control::{Cleanup, Request, Response, Value, json, utc};
use common::sync::lock;
use dns64d::listen::Admission;
use hickory_proto::rr::Name;

use crate::Srv;
use crate::metrics::Metrics;

/// The answer of a reload: the keys that wait for a restart, or why the
/// file was rejected.
pub(crate) type ReloadResult = Result<Vec<&'static str>, String>;

/// Where the main task hears of reload requests.
pub(crate) type ReloadAsks = tokio::sync::mpsc::Receiver<std::sync::mpsc::SyncSender<ReloadResult>>;

/// What `status` says besides the server's own state.
#[derive(Debug)]
pub(crate) struct Info {
    pub(crate) config: PathBuf,
    pub(crate) sha256: Mutex<String>,
    pub(crate) started: SystemTime,
    pub(crate) t0: Instant,
    /// The running `listen` and `upstreams`, as text.
    pub(crate) summary: Mutex<String>,
}

impl Info {
    /// Notes the file's hash and the summary (at start, after reloads).
    pub(crate) fn update(&self, summary: String) {
        *lock(&self.sha256) = common::control::file_sha256(&self.config)
            .unwrap_or_else(|e| format!("unreadable: {e}"));
        *lock(&self.summary) = summary;
    }
}

/// Everything a request may need.
struct Ctx {
    server: Arc<Srv>,
    admission: Arc<Admission>,
    info: Arc<Info>,
    metrics: Arc<Metrics>,
    reload: tokio::sync::mpsc::Sender<std::sync::mpsc::SyncSender<ReloadResult>>,
}

/// Binds the socket at `path` and serves it; the file goes when the
/// guard is dropped.
pub(crate) fn start(
    path: &Path,
    server: Arc<Srv>,
    admission: Arc<Admission>,
    info: Arc<Info>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(Cleanup, ReloadAsks)> {
    let listener = common::control::bind(path).map_err(|e| {
        anyhow::anyhow!(
            "dns64.control.socket: cannot listen on {}: {e}",
            path.display()
        )
    })?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let ctx = Ctx {
        server,
        admission,
        info,
        metrics,
        reload: tx,
    };
    let handler: common::control::Handler = Arc::new(move |req| ctx.handle(req));
    common::control::spawn(listener, "dns64d-control", handler)?;
    Ok((Cleanup(path.to_path_buf()), rx))
}

impl Ctx {
    fn handle(&self, req: Request) -> Response {
        let s = &self.server;
        match req {
            Request::Status => Response::ok(self.status()),
            Request::Stats => Response::ok(common::control::metric_rows(
                &self.metrics.render(s, &self.admission),
            )),
            Request::Upstreams => Response::ok(self.upstreams()),
            Request::CacheLookup { name } => match parse_name(&name) {
                Ok(n) => {
                    let key = n.to_lowercase().to_ascii();
                    let (rows, total) = s
                        .resolver()
                        .rows(common::control::MAX_ROWS, |k| *k.name == *key);
                    Response::ok(json!({"name": key, "entries": rows_json(&rows), "total": total}))
                }
                Err(e) => Response::error(e),
            },
            Request::CacheFlush { name } => self.flush(name.as_deref()),
            Request::CacheDump { limit } => {
                let limit = match limit {
                    0 => common::control::DEFAULT_ROWS,
                    n => n.min(common::control::MAX_ROWS),
                };
                let (rows, total) = s.resolver().rows(limit, |_| true);
                Response::ok(json!({
                    "entries": rows_json(&rows),
                    "total": total,
                    "truncated": total > rows.len(),
                }))
            }
            Request::Querylog { on } => {
                s.querylog.set(on);
                tracing::info!("control: query log {}", if on { "on" } else { "off" });
                Response::ok(json!({"querylog": if on { "on" } else { "off" }}))
            }
            Request::Reload => self.reload(),
            other => Response::error(format!(
                "dns64d does not answer `{}`; nat64d does",
                other.name()
            )),
        }
    }

    fn flush(&self, name: Option<&str>) -> Response {
        let name = match name.map(parse_name).transpose() {
            Ok(n) => n,
            Err(e) => return Response::error(e),
        };
        let n = self.server.resolver().flush(name.as_ref());
        // The fast path's final answers are built from the cache: they go
        // too, and are made again on the next query of each.
        self.server.forget_answers();
        let what = name.map_or("the whole cache".to_string(), |n| n.to_string());
        tracing::info!("control: cache flush of {what}: {n} answers forgotten");
        Response::ok(json!({"flushed": what, "entries": n}))
    }

    fn status(&self) -> Value {
        let s = &self.server;
        let r = s.resolver();
        let (applied, rejected, at, ok) = s.stats.reloads.read();
        let last = if at == 0 {
            Value::from("none since start")
        } else {
            json!({
                "at": utc(SystemTime::UNIX_EPOCH + Duration::from_secs(at)),
                "result": if ok { "applied" } else { "rejected" },
            })
        };
        let up = (0..r.inner.servers().len())
            .filter(|i| r.inner.is_up(*i))
            .count();
        json!({
            "daemon": "dns64d",
            "version": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
            "started": utc(self.info.started),
            "uptime_seconds": self.info.t0.elapsed().as_secs(),
            "config": self.info.config.display().to_string(),
            "config_sha256": lock(&self.info.sha256).clone(),
            "serving": lock(&self.info.summary).clone(),
            "upstreams_up": format!("{up} of {}", r.inner.servers().len()),
            "cache_entries": r.len(),
            "answers_kept": s.answers_kept(),
            "inflight_queries": self.admission.inflight(),
            "tcp_connections": self.admission.tcp_connections(),
            "querylog": if s.querylog.is_on() { "on" } else { "off" },
            "reloads": {"applied": applied, "rejected": rejected},
            "last_reload": last,
        })
    }

    fn upstreams(&self) -> Value {
        use std::sync::atomic::Ordering::Relaxed;
        let r = self.server.resolver();
        let rows: Vec<Value> = r
            .inner
            .servers()
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                let (up, down_ms, heard_ms) = r.inner.health(i).unwrap_or((false, None, None));
                let st = &r.inner.stats[i];
                json!({
                    "server": addr.to_string(),
                    "state": if up { "up" } else { "down" },
                    "down_for": down_ms.map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
                    "last_heard": heard_ms.map_or("never".into(), |ms| format!("{:.1} s ago", ms as f64 / 1000.0)),
                    "sent": st.queries.load(Relaxed),
                    "timeouts": st.timeouts.load(Relaxed),
                    "errors": st.errors.load(Relaxed),
                    "tcp_retries": st.tcp_retries.load(Relaxed),
                })
            })
            .collect();
        json!({"upstreams": rows})
    }

    /// Asks the main task to reload and waits for its answer.
    fn reload(&self) -> Response {
        let (answer, result) = std::sync::mpsc::sync_channel(1);
        if self.reload.try_send(answer).is_err() {
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
            Err(_) => Response::error("no answer from the main task in 30 s"),
        }
    }
}

fn parse_name(t: &str) -> Result<Name, String> {
    let fqdn = if t.ends_with('.') {
        t.to_string()
    } else {
        format!("{t}.")
    };
    Name::from_str(&fqdn).map_err(|e| format!("`{t}` is not a domain name: {e}"))
}

fn rows_json(rows: &[dns64d::cache::Row]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            json!({
                "name": &*r.key.name,
                "type": r.key.qtype.to_string(),
                "class": r.key.qclass.to_string(),
                "cd": r.key.cd,
                "ttl": r.ttl,
                "rcode": r.rcode,
                "answers": r.answers.join("; "),
            })
        })
        .collect()
}
