//! Logging of both daemons: `tracing` events, written by
//! `tracing-subscriber` to standard error with a timestamp and a level,
//! filtered by `RUST_LOG` (`info` when unset; for example
//! `RUST_LOG=nat64d=debug`), as plain text (what journald stores) or one
//! JSON object per line.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// The format of log lines (the daemons' `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2026-12-02T03:04:05.678901Z  INFO nat64d: message`.
    #[default]
    Text,
    /// `{"timestamp":"...","level":"INFO","fields":{"message":"..."},"target":"nat64d"}`.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("`{s}`: the log format is `text` or `json`")),
        }
    }
}

/// Installs the global subscriber. A `RUST_LOG` that does not parse is
/// reported and replaced by `info`.
pub fn init(format: LogFormat) {
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => match EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => (
                EnvFilter::new("info"),
                Some(format!("RUST_LOG={v}: {e}; using info")),
            ),
        },
        _ => (EnvFilter::new("info"), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if installed.is_ok()
        && let Some(bad) = bad
    {
        tracing::warn!("{bad}");
    }
}

/// Lets through at most `per_interval` events of one kind per `interval`
/// and counts the rest, so that what a remote party causes (a dead
/// upstream's timeouts, failed accepts) cannot flood the log: the first
/// event of the next interval says how many were held back.
#[derive(Debug)]
pub struct Throttle {
    interval: std::time::Duration,
    per_interval: u32,
    state: std::sync::Mutex<(std::time::Instant, u32, u64)>,
}

impl Throttle {
    /// At most `per_interval` events each `interval`.
    pub fn new(interval: std::time::Duration, per_interval: u32) -> Self {
        Throttle {
            interval,
            per_interval,
            state: std::sync::Mutex::new((std::time::Instant::now(), 0, 0)),
        }
    }

    /// `None`: hold this event back (counted). `Some(n)`: log it, and say
    /// that `n` similar events were held back before it (when `n > 0`).
    pub fn allow(&self) -> Option<u64> {
        let mut s = crate::sync::lock(&self.state);
        let now = std::time::Instant::now();
        if now.duration_since(s.0) >= self.interval {
            *s = (now, 0, s.2);
        }
        if s.1 >= self.per_interval {
            s.2 += 1;
            return None;
        }
        s.1 += 1;
        Some(std::mem::take(&mut s.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_a_few_through_and_counts_the_rest() {
        let t = Throttle::new(std::time::Duration::from_millis(200), 3);
        let let_through: Vec<_> = (0..10).filter_map(|_| t.allow()).collect();
        assert_eq!(let_through, [0, 0, 0]);
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert_eq!(t.allow(), Some(7), "the 7 held back are said");
        assert_eq!(t.allow(), Some(0));
    }
}
