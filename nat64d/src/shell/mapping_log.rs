//! The mapping log (req O3, RFC 6888 REQ-12): one line per binding created
//! or removed, `TIME created|removed PROTO IPV6#PORT IPV4#PORT [static]`,
//! written by a thread of its own so that no worker waits on the disk.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::sync::lock;
use nat64d::state::Event;

/// Batches of events the log thread may have queued before workers' lines
/// are dropped (and counted) rather than waited for.
const QUEUE: usize = 65536;

/// The workers' side: hands batches of events to the log thread.
#[derive(Debug)]
pub(crate) struct LogSender {
    tx: SyncSender<Vec<Event>>,
    /// Lines lost to a full queue (`nat64d_mapping_log_dropped_total`).
    pub(crate) dropped: AtomicU64,
}

impl LogSender {
    /// Hands `events` to the log thread and leaves the vector empty; never
    /// blocks. Lines that do not fit the queue are counted.
    pub(crate) fn send(&self, events: &mut Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let batch = std::mem::take(events);
        if let Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) = self.tx.try_send(batch)
        {
            self.dropped.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
    }
}

/// The control thread's side: where the log goes, and the thread.
#[derive(Debug)]
pub(crate) struct LogWriter {
    /// The file (`None` or `-`: standard error); read by the thread when
    /// `reopen` is set.
    path: Arc<Mutex<Option<PathBuf>>>,
    reopen: Arc<std::sync::atomic::AtomicBool>,
    thread: JoinHandle<()>,
}

/// Starts the log thread writing to `path`; times are `started` plus the
/// events' coarse clock.
pub(crate) fn start(
    path: Option<PathBuf>,
    started: SystemTime,
) -> std::io::Result<(LogSender, LogWriter)> {
    let (tx, rx) = sync_channel(QUEUE);
    let path = Arc::new(Mutex::new(path));
    let reopen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let thread = {
        let (path, reopen) = (path.clone(), reopen.clone());
        std::thread::Builder::new()
            .name("mapping-log".into())
            .spawn(move || write_lines(&rx, &path, &reopen, started))?
    };
    let sender = LogSender {
        tx,
        dropped: AtomicU64::new(0),
    };
    Ok((
        sender,
        LogWriter {
            path,
            reopen,
            thread,
        },
    ))
}

impl LogWriter {
    /// SIGHUP: the next batch goes to `path`, opened anew (log rotation).
    pub(crate) fn reopen(&self, path: Option<PathBuf>) {
        *lock(&self.path) = path;
        self.reopen.store(true, Ordering::Release);
    }

    /// Writes every line queued so far and ends the thread. `sender` must
    /// be the last one (the workers have stopped).
    pub(crate) fn finish(self, sender: &LogSender) {
        // An empty batch tells the thread to finish: workers never send one.
        let _ = sender.tx.send(Vec::new());
        let _ = self.thread.join();
    }
}

fn open(path: Option<&Path>) -> Box<dyn Write + Send> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
            {
                Ok(f) => Box::new(f),
                Err(e) => {
                    tracing::error!(
                        "nat64.mapping_log: cannot open {}: {e}; writing to standard error",
                        p.display()
                    );
                    Box::new(std::io::stderr())
                }
            }
        }
        _ => Box::new(std::io::stderr()),
    }
}

fn write_lines(
    rx: &Receiver<Vec<Event>>,
    path: &Mutex<Option<PathBuf>>,
    reopen: &std::sync::atomic::AtomicBool,
    started: SystemTime,
) {
    let mut out = open(lock(path).as_deref());
    while let Ok(batch) = rx.recv() {
        if batch.is_empty() {
            break;
        }
        if reopen.swap(false, Ordering::AcqRel) {
            out = open(lock(path).as_deref());
        }
        let mut text = String::new();
        for e in batch {
            line(&mut text, &e, started);
        }
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::error!("mapping log write failed: {e}");
        }
    }
}

/// One line of the log.
fn line(text: &mut String, e: &Event, started: SystemTime) {
    let t = started + Duration::from_secs(u64::from(e.at));
    let _ = writeln!(
        text,
        "{} {} {} {} {}{}",
        utc(t),
        if e.created { "created" } else { "removed" },
        e.proto,
        e.v6,
        e.v4,
        if e.is_static { " static" } else { "" }
    );
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC).
pub(crate) fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
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

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use nat64d::flow::{Proto, TransportAddr4, TransportAddr6};

    use super::*;

    #[test]
    fn utc_format() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(1_795_401_296)),
            "2026-11-23T02:34:56Z" // date -u -d @1795401296
        );
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn a_line_says_who_held_which_pool_port() {
        let mut text = String::new();
        let e = Event {
            at: 5,
            created: true,
            proto: Proto::Tcp,
            v6: TransportAddr6 {
                addr: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2),
                port: 40000,
            },
            v4: TransportAddr4 {
                addr: Ipv4Addr::new(198, 51, 100, 1),
                port: 61000,
            },
            is_static: false,
        };
        line(&mut text, &e, UNIX_EPOCH);
        assert_eq!(
            text,
            "1970-01-01T00:00:05Z created tcp 2001:db8:1::2#40000 198.51.100.1#61000\n"
        );
    }
}
