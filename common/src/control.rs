//! The control sockets (req O6, docs/operations.md): each daemon answers the
//! `nat64gw` command on a Unix stream socket of its own, owner and group
//! only (mode 0660), one JSON request line in and one JSON response line
//! out per connection.
//!
//! The socket is served by plain threads of its own, never by a packet or
//! query thread: at most [`MAX_CLIENTS`] connections at once (the rest get
//! an error answer and are closed), [`IO_TIMEOUT`] to send the request and
//! to take the answer, requests up to [`MAX_REQUEST`] bytes. What a request
//! may cost the daemon is bounded by its handler (listings take a count
//! limit, at most [`MAX_ROWS`] rows).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, SocketAddrV6};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
pub use serde_json::{Value, json};

/// Connections served at once.
pub const MAX_CLIENTS: usize = 8;
/// Time a client has to send its request, and to read the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request line.
pub const MAX_REQUEST: usize = 64 * 1024;
/// Most rows one listing returns.
pub const MAX_ROWS: usize = 1_000_000;
/// Rows a listing returns when the request does not say.
pub const DEFAULT_ROWS: usize = 1000;

/// Where nat64d's socket is unless `[nat64.control] socket` says: in the
/// unit's `RuntimeDirectory=nat64gw/nat64d`, which its service user owns.
pub const NAT64D_SOCKET: &str = "/run/nat64gw/nat64d/control.sock";
/// Where dns64d's socket is unless `[dns64.control] socket` says
/// (`RuntimeDirectory=nat64gw/dns64d`).
pub const DNS64D_SOCKET: &str = "/run/nat64gw/dns64d/control.sock";

/// `[nat64.control]` and `[dns64.control]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// The socket's path; empty: no control socket.
    pub socket: PathBuf,
}

impl ControlConfig {
    /// The socket at `path`.
    pub fn at(path: &str) -> Self {
        ControlConfig {
            socket: PathBuf::from(path),
        }
    }

    /// The socket, unless switched off.
    pub fn path(&self) -> Option<&Path> {
        (!self.socket.as_os_str().is_empty()).then_some(self.socket.as_path())
    }

    /// The check `validate` runs: an absolute path that fits a socket
    /// address (108 bytes on Linux).
    pub fn check(&self) -> Result<(), String> {
        let Some(p) = self.path() else { return Ok(()) };
        if !p.is_absolute() {
            return Err(format!(
                "`{}` is not an absolute path (empty switches the socket off)",
                p.display()
            ));
        }
        if p.as_os_str().len() > 107 {
            return Err(format!(
                "`{}` is longer than a Unix socket path may be (107 bytes)",
                p.display()
            ));
        }
        Ok(())
    }
}

/// A listing's filter (`nat64gw sessions`, `nat64gw bib`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// `tcp`, `udp` or `icmp`.
    pub proto: Option<String>,
    /// An IPv6 address or prefix the IPv6 host is in.
    pub v6: Option<String>,
    /// The pool address.
    pub v4: Option<Ipv4Addr>,
    /// The pool port (ICMP: the identifier).
    pub port: Option<u16>,
    /// Most rows (0: [`DEFAULT_ROWS`]; at most [`MAX_ROWS`]).
    pub limit: usize,
}

impl Filter {
    /// The row limit this filter asks for.
    pub fn rows(&self) -> usize {
        match self.limit {
            0 => DEFAULT_ROWS,
            n => n.min(MAX_ROWS),
        }
    }
}

/// What `nat64gw` asks a daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Version, uptime, configuration, what the daemon holds.
    Status,
    /// Every counter.
    Stats,
    /// Read the file again and apply it.
    Reload,
    /// nat64d: sessions.
    Sessions(Filter),
    /// nat64d: bindings.
    Bib(Filter),
    /// nat64d: remove one binding and its sessions, found by either side.
    BibRemove {
        /// `tcp`, `udp` or `icmp`.
        proto: String,
        /// The pool transport address.
        v4: Option<SocketAddrV4>,
        /// The IPv6 host's transport address.
        v6: Option<SocketAddrV6>,
    },
    /// dns64d: each upstream's health.
    Upstreams,
    /// dns64d: what the cache holds for a name.
    CacheLookup {
        /// The name.
        name: String,
    },
    /// dns64d: forget a name (or everything).
    CacheFlush {
        /// The name; none: the whole cache.
        name: Option<String>,
    },
    /// dns64d: the cache's entries.
    CacheDump {
        /// Most rows (0: [`DEFAULT_ROWS`]).
        limit: usize,
    },
    /// dns64d: one log line per query, on or off.
    Querylog {
        /// On.
        on: bool,
    },
}

impl Request {
    /// The command's name, as on the wire.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v["command"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// A daemon's answer: `data` when `ok`, else `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The answer.
    #[serde(default)]
    pub data: Value,
}

impl Response {
    /// Done, with `data`.
    pub fn ok(data: Value) -> Self {
        Response {
            ok: true,
            error: None,
            data,
        }
    }

    /// Refused or failed, with the reason.
    pub fn error(e: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(e.into()),
            data: Value::Null,
        }
    }
}

/// What serves requests: called on the socket's threads.
pub type Handler = Arc<dyn Fn(Request) -> Response + Send + Sync>;

/// Binds the control socket at `path`, mode 0660, making its directory
/// (mode 0755) when missing. A socket file left by a daemon that died is
/// replaced; one a running daemon answers on is an error.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "a running daemon answers on it",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(l)
}

/// Removes the socket file when dropped (the daemon stops).
#[derive(Debug)]
pub struct Cleanup(pub PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serves `listener` on a thread of its own (`name`), each connection on
/// a short-lived thread, at most [`MAX_CLIENTS`] at once.
pub fn spawn(
    listener: UnixListener,
    name: &str,
    handler: Handler,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let busy = Arc::new(AtomicUsize::new(0));
    let conn_name = format!("{name}-conn");
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if busy.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
                    busy.fetch_sub(1, Ordering::AcqRel);
                    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
                    let _ = answer(
                        &mut stream,
                        &Response::error(format!(
                            "busy: {MAX_CLIENTS} control connections are open; try again"
                        )),
                    );
                    continue;
                }
                let (handler, busy2) = (handler.clone(), busy.clone());
                let spawned =
                    std::thread::Builder::new()
                        .name(conn_name.clone())
                        .spawn(move || {
                            serve_one(stream, &handler);
                            busy2.fetch_sub(1, Ordering::AcqRel);
                        });
                if spawned.is_err() {
                    busy.fetch_sub(1, Ordering::AcqRel);
                }
            }
        })
}

fn serve_one(mut stream: UnixStream, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let response = match read_request(&stream) {
        Ok(r) => handler(r),
        Err(e) => Response::error(e),
    };
    let _ = answer(&mut stream, &response);
}

fn read_request(stream: &UnixStream) -> Result<Request, String> {
    let mut line = Vec::new();
    let mut r = BufReader::new(stream.take(MAX_REQUEST as u64 + 1));
    r.read_until(b'\n', &mut line)
        .map_err(|e| format!("cannot read the request: {e}"))?;
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    serde_json::from_slice(&line).map_err(|e| format!("not a request: {e}"))
}

fn answer(stream: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    let mut text = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    text.push(b'\n');
    stream.write_all(&text)?;
    stream.flush()
}

/// Asks the daemon at `path` (the client side); `timeout` for each of
/// connect, send and the answer.
pub fn request(path: &Path, req: &Request, timeout: Duration) -> Result<Response, String> {
    let mut s = UnixStream::connect(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                " (is the daemon running, with this control socket?)"
            }
            std::io::ErrorKind::PermissionDenied => " (root or the socket's group only)",
            _ => "",
        };
        format!("cannot connect to {}: {e}{hint}", path.display())
    })?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let mut line = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    line.push(b'\n');
    s.write_all(&line)
        .map_err(|e| format!("cannot send to {}: {e}", path.display()))?;
    let mut text = Vec::new();
    s.read_to_end(&mut text)
        .map_err(|e| format!("no answer from {}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("bad answer from {}: {e}", path.display()))
}

/// The SHA-256 of the file at `path`, in hex (what `sha256sum` prints).
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(path)?);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// The rows of `nat64gw stats` from a daemon's `/metrics` text (the same
/// families, so the two never disagree): `{metric, labels, value, help}`
/// for every sample but histogram buckets.
pub fn metric_rows(text: &str) -> Value {
    let mut help = std::collections::HashMap::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            if let Some((name, h)) = rest.split_once(' ') {
                help.insert(name.to_string(), h.to_string());
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        if name.ends_with("_bucket") {
            continue;
        }
        let family = ["_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| help.contains_key(*f)))
            .unwrap_or(name);
        let value: Value = value
            .parse::<u64>()
            .map(Value::from)
            .or_else(|_| value.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::from(value));
        rows.push(json!({
            "metric": name,
            "labels": labels,
            "value": value,
            "help": help.get(family).cloned().unwrap_or_default(),
        }));
    }
    Value::Array(rows)
}

/// `TIME` as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC): the mapping log's
/// and the control answers' form.
pub fn utc(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The inverse of [`utc`] (also without the `Z`, or with a space for the
/// `T`, or a date alone), in Unix seconds.
pub fn parse_utc(s: &str) -> Option<u64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(|x| x.parse::<u64>().ok());
    let (hh, mm) = (t.next()??, t.next()??);
    let ss = t.next().flatten().unwrap_or(0);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("nat64gw-ctl-{name}-{}", std::process::id()))
    }

    #[test]
    fn a_request_gets_its_answer_and_bad_input_an_error() {
        let dir = temp("serve");
        let path = dir.join("d.sock");
        let l = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let h: Handler = Arc::new(|r| match r {
            Request::Status => Response::ok(json!({"up": 1})),
            other => Response::error(format!("{other:?}")),
        });
        spawn(l, "test-ctl", h).unwrap();
        let r = request(&path, &Request::Status, IO_TIMEOUT).unwrap();
        assert_eq!(r, Response::ok(json!({"up": 1})));
        let r = request(&path, &Request::Reload, IO_TIMEOUT).unwrap();
        assert!(!r.ok);
        // Garbage and an endless line get an error, not a hang.
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(b"{\"command\":\"nope\"}\n").unwrap();
        let mut t = String::new();
        s.read_to_string(&mut t).unwrap();
        assert!(t.contains("not a request"), "{t}");
        let mut s = UnixStream::connect(&path).unwrap();
        let big = vec![b'x'; MAX_REQUEST + 10];
        let _ = s.write_all(&big);
        let mut t = String::new();
        // The answer may be lost to a reset (the rest was never read);
        // either way the server goes on serving.
        let _ = s.read_to_string(&mut t);
        assert!(t.is_empty() || t.contains("longer than"), "{t}");
        assert!(request(&path, &Request::Status, IO_TIMEOUT).unwrap().ok);
        // A second daemon on the same path is refused; a stale file is not.
        assert!(bind(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let dir = temp("stale");
        let path = dir.join("d.sock");
        drop(bind(&path).unwrap());
        assert!(path.exists());
        assert!(bind(&path).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn times_read_back() {
        use std::time::{Duration, UNIX_EPOCH};
        for secs in [0u64, 951_782_400, 1_795_000_000, 4_102_444_799] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(parse_utc(&utc(t)), Some(secs), "{}", utc(t));
        }
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(parse_utc("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_utc("2000-02-29 00:01"), Some(951_782_460));
        assert_eq!(parse_utc("2000-13-01"), None);
        assert_eq!(parse_utc("yesterday"), None);
    }

    #[test]
    fn metric_rows_carry_help_and_skip_buckets() {
        let text = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\"} 5\n\
                    # HELP h_seconds Lat.\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"1\"} 2\n\
                    h_seconds_sum 0.5\nh_seconds_count 2\n";
        let rows = metric_rows(text);
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0]["labels"], "x=\"1\"");
        assert_eq!(rows[0]["value"], 5);
        assert_eq!(rows[1]["help"], "Lat.");
        assert_eq!(rows[1]["value"], 0.5);
    }

    #[test]
    fn config_paths_are_checked() {
        assert!(ControlConfig::at("").check().is_ok());
        assert!(ControlConfig::at("/run/x.sock").check().is_ok());
        assert!(ControlConfig::at("run/x.sock").check().is_err());
        assert!(
            ControlConfig::at(&format!("/{}", "x".repeat(200)))
                .check()
                .is_err()
        );
        let r: Request =
            serde_json::from_str(r#"{"command":"sessions","v4":"192.0.2.1"}"#).unwrap();
        assert_eq!(
            r,
            Request::Sessions(Filter {
                v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
                ..Filter::default()
            })
        );
    }
}
