//! The mapping log (req O3, RFC 6888 REQ-12): one line per binding created
//! or removed, `TIME created|removed PROTO IPV6#PORT IPV4#PORT [static]`,
//! written by a thread of its own so that no worker waits on the disk
//! (it drains what the workers handed over every 20 ms, so a new flow
//! never wakes it).
//! An audit trail: the wall-clock time each batch of events was handed
//! over (never the start time plus an offset, which a clock step would
//! falsify), `TIME start nat64d VERSION` and `TIME stop nat64d` markers, a
//! `removed` line for every binding alive at stop, a file moved or deleted
//! by log rotation noticed and opened anew, write failures counted
//! (`nat64d_mapping_log_write_failures_total`) and logged at most once a
//! minute.

use std::fmt::Write as _;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use common::control::utc;
use common::sync::lock;
use nat64d::state::Event;

/// Batches of events the log thread may have queued before workers' lines
/// are dropped (and counted) rather than waited for.
const QUEUE: usize = 65536;

/// How often the log thread takes what the workers handed over and writes
/// it, in one write.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// How often the thread checks that its file is still the one at the path.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What the log thread is handed.
#[derive(Debug)]
enum Msg {
    /// Events, and when they were handed over.
    Batch(SystemTime, Vec<Event>),
    /// A marker line (`start`, `stop`).
    Mark(SystemTime, String),
    /// Write what is queued and end.
    Finish,
}

/// The workers' side: hands batches of events to the log thread.
#[derive(Debug)]
pub(crate) struct LogSender {
    tx: SyncSender<Msg>,
    /// Lines lost to a full queue (`nat64d_mapping_log_dropped_total`).
    pub(crate) dropped: AtomicU64,
    /// Writes that failed (`nat64d_mapping_log_write_failures_total`).
    pub(crate) write_failures: Arc<AtomicU64>,
}

impl LogSender {
    /// Hands `events` to the log thread, stamped with the time now, and
    /// leaves the vector empty; never blocks. Lines that do not fit the
    /// queue are counted.
    pub(crate) fn send(&self, events: &mut Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let batch = Msg::Batch(SystemTime::now(), std::mem::take(events));
        if let Err(
            TrySendError::Full(Msg::Batch(_, b)) | TrySendError::Disconnected(Msg::Batch(_, b)),
        ) = self.tx.try_send(batch)
        {
            self.dropped.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
    }

    /// A marker line (`start nat64d 0.1.0`, `stop nat64d`), waited for.
    pub(crate) fn mark(&self, what: String) {
        if self.tx.send(Msg::Mark(SystemTime::now(), what)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
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

/// Whether the mapping log can be written at `path`: an existing file
/// opened for appending, or a new one in an existing directory. The error
/// says why not.
pub(crate) fn check(path: Option<&Path>) -> Result<(), String> {
    let Some(p) = path.filter(|p| p.as_os_str() != "-") else {
        return Ok(());
    };
    if p.exists() {
        return std::fs::OpenOptions::new()
            .append(true)
            .open(p)
            .map(drop)
            .map_err(|e| format!("cannot write {}: {e}", p.display()));
    }
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(format!("the directory {} does not exist", dir.display()));
    }
    Ok(())
}

/// Starts the log thread writing to `path` (opened now: an error stops the
/// start).
pub(crate) fn start(path: Option<PathBuf>) -> std::io::Result<(LogSender, LogWriter)> {
    let (tx, rx) = sync_channel(QUEUE);
    let first = Output::open(path.as_deref())?;
    let path = Arc::new(Mutex::new(path));
    let reopen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let write_failures = Arc::new(AtomicU64::new(0));
    let thread = {
        let (path, reopen, failures) = (path.clone(), reopen.clone(), write_failures.clone());
        std::thread::Builder::new()
            .name("mapping-log".into())
            .spawn(move || write_lines(&rx, first, &path, &reopen, &failures))?
    };
    let sender = LogSender {
        tx,
        dropped: AtomicU64::new(0),
        write_failures,
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
        let _ = sender.tx.send(Msg::Finish);
        let _ = self.thread.join();
    }
}

/// Where lines go: a file (with the identity it had when opened) or
/// standard error.
struct Output {
    out: Box<dyn Write + Send>,
    file: Option<(PathBuf, u64, u64)>,
}

impl Output {
    fn open(path: Option<&Path>) -> std::io::Result<Output> {
        match path {
            Some(p) if p.as_os_str() != "-" => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?;
                let m = f.metadata()?;
                Ok(Output {
                    out: Box::new(f),
                    file: Some((p.to_owned(), m.dev(), m.ino())),
                })
            }
            _ => Ok(Output {
                out: Box::new(std::io::stderr()),
                file: None,
            }),
        }
    }

    /// Whether the path no longer leads to the open file (moved or
    /// deleted by log rotation).
    fn replaced(&self) -> bool {
        match &self.file {
            Some((p, dev, ino)) => {
                std::fs::metadata(p).map_or(true, |m| m.dev() != *dev || m.ino() != *ino)
            }
            None => false,
        }
    }
}

fn reopen_at(path: Option<&Path>, why: &str) -> Option<Output> {
    match Output::open(path) {
        Ok(o) => {
            tracing::info!("mapping log {}: {why}; opened anew", shown(path));
            Some(o)
        }
        Err(e) => {
            tracing::error!(
                "nat64.mapping_log: cannot open {}: {e}; the old file stays",
                shown(path)
            );
            None
        }
    }
}

fn shown(path: Option<&Path>) -> String {
    path.map_or("standard error".into(), |p| p.display().to_string())
}

fn write_lines(
    rx: &Receiver<Msg>,
    first: Output,
    path: &Mutex<Option<PathBuf>>,
    reopen: &std::sync::atomic::AtomicBool,
    failures: &AtomicU64,
) {
    let mut out = first;
    let mut checked = Instant::now();
    let log = common::logging::Throttle::new(Duration::from_secs(60), 1);
    let mut finish = false;
    while !finish {
        // Drained every FLUSH_EVERY, never waited on: a worker's send never
        // wakes this thread, so a new flow costs no context switch on the
        // packet's CPU (the lines keep the time they were handed over).
        std::thread::sleep(FLUSH_EVERY);
        let mut text = String::new();
        loop {
            match rx.try_recv() {
                Ok(Msg::Batch(at, batch)) => {
                    for e in batch {
                        line(&mut text, &e, at);
                    }
                }
                Ok(Msg::Mark(at, what)) => {
                    let _ = writeln!(text, "{} {what}", utc(at));
                }
                Ok(Msg::Finish) | Err(TryRecvError::Disconnected) => {
                    finish = true;
                    break;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if reopen.swap(false, Ordering::AcqRel) {
            if let Some(o) = reopen_at(lock(path).as_deref(), "reload") {
                out = o;
            }
        } else if checked.elapsed() >= CHECK_EVERY {
            checked = Instant::now();
            if out.replaced()
                && let Some(o) = reopen_at(lock(path).as_deref(), "moved or deleted")
            {
                out = o;
            }
        }
        if !text.is_empty()
            && let Err(e) = out
                .out
                .write_all(text.as_bytes())
                .and_then(|()| out.out.flush())
        {
            let n = failures.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(held) = log.allow() {
                tracing::error!(
                    "mapping log write failed: {e} ({n} failed writes in all, {held} lines like this held back; nat64d_mapping_log_write_failures_total)"
                );
            }
        }
    }
}

/// One line of the log, for an event handed over at `at`.
fn line(text: &mut String, e: &Event, at: SystemTime) {
    let _ = writeln!(
        text,
        "{} {} {} {} {}{}",
        utc(at),
        if e.created { "created" } else { "removed" },
        e.proto,
        e.v6,
        e.v4,
        if e.is_static { " static" } else { "" }
    );
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::UNIX_EPOCH;

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
        line(&mut text, &e, UNIX_EPOCH + Duration::from_secs(5));
        assert_eq!(
            text,
            "1970-01-01T00:00:05Z created tcp 2001:db8:1::2#40000 198.51.100.1#61000\n"
        );
    }

    /// A directory of this test's own under the system's temporary one.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nat64d-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn o3_an_unusable_path_is_refused_with_why() {
        let d = scratch("check");
        assert_eq!(check(None), Ok(()));
        assert_eq!(check(Some(Path::new("-"))), Ok(()));
        assert_eq!(
            check(Some(&d.join("new.log"))),
            Ok(()),
            "a new file in a directory that exists"
        );
        let e = check(Some(&d.join("missing/dir/m.log"))).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = check(Some(&d)).unwrap_err();
        assert!(e.contains("cannot write"), "a directory is not a file: {e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Log rotation without SIGHUP: the file moved or deleted is noticed,
    /// and the lines go to a new file at the path, with start and stop
    /// markers and wall-clock times.
    #[test]
    fn o3_a_rotated_file_is_noticed_and_opened_anew() {
        let d = scratch("rotate");
        let path = d.join("mappings.log");
        let out = Output::open(Some(&path)).unwrap();
        assert!(!out.replaced());
        std::fs::rename(&path, d.join("mappings.log.1")).unwrap();
        assert!(out.replaced(), "moved away");
        let (sender, writer) = start(Some(path.clone())).unwrap();
        sender.mark("start nat64d test".into());
        std::fs::remove_file(&path).unwrap();
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(100));
        let e = Event {
            at: 0,
            created: true,
            proto: Proto::Udp,
            v6: TransportAddr6 {
                addr: Ipv6Addr::LOCALHOST,
                port: 1,
            },
            v4: TransportAddr4 {
                addr: Ipv4Addr::new(198, 51, 100, 1),
                port: 2,
            },
            is_static: false,
        };
        sender.send(&mut vec![e]);
        sender.mark("stop nat64d".into());
        writer.finish(&sender);
        let text = std::fs::read_to_string(&path).expect("a new file at the path");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].ends_with(" created udp ::1#1 198.51.100.1#2"),
            "{text}"
        );
        assert!(lines[1].ends_with(" stop nat64d"), "{text}");
        let year: u32 = lines[0][..4].parse().unwrap();
        assert!(
            year >= 2024,
            "the wall clock, not an offset from 1970: {text}"
        );
        assert_eq!(sender.write_failures.load(Ordering::Relaxed), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
