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
