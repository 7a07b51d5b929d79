//! The `[dns64]` section of the gateway file (req D5, D8, D13, D14, O1),
//! with defaults, and the checks that span keys. Every key is documented in
//! `docs/configuration.md`.

use std::net::SocketAddr;

use common::config::Invalid;
use common::prefix::Nat64Prefix;
use common::{GatewayFile, PrefixConfig};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Deserialize;

use crate::core::{Core, PrefixRule};
use crate::server::AQuery;

/// The gateway file as dns64d reads it.
pub type File = GatewayFile<toml::Table, Dns64Config>;

/// `[dns64]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns64Config {
    /// Addresses to answer on, UDP and TCP. Default `["[::1]:53",
    /// "127.0.0.1:53"]`.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// Upstream resolvers, tried in order. Required.
    #[serde(default)]
    pub upstreams: Vec<SocketAddr>,
    /// Clients served; others get REFUSED (req D14). Default: loopback
    /// only.
    #[serde(default = "default_allow_from")]
    pub allow_from: Vec<IpNet>,
    /// AAAA records inside these ranges count as absent (req D5). Default
    /// `["::ffff:0:0/96"]`.
    #[serde(default = "default_exclude")]
    pub exclude: Vec<Ipv6Net>,
    /// Most answers cached (0: no cache). Default 100 000.
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
    /// How long to wait for one upstream before the next, milliseconds.
    /// Default 1000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Prefixes that synthesise only for some IPv4 ranges (req D8):
    /// `[{ prefix = "2001:db8:64::/96", ipv4 = ["198.51.100.0/24"] }]`.
    #[serde(default)]
    pub prefix_ipv4: Vec<PrefixIpv4>,
    /// Queries being answered at once through the full path; beyond it a
    /// UDP query is dropped unanswered (counted). Default 1024.
    #[serde(default = "default_max_inflight")]
    pub max_inflight: usize,
    /// TCP connections open at once. Default 256.
    #[serde(default = "default_max_tcp")]
    pub max_tcp_connections: usize,
    /// TCP connections one client address may hold. Default 16.
    #[serde(default = "default_max_tcp_per_client")]
    pub max_tcp_per_client: u32,
    /// Clients that get DNS64 (RFC 6147 §6.3.3); a served client outside
    /// them gets every answer as the upstream gave it. Empty (default):
    /// every client `allow_from` serves.
    #[serde(default)]
    pub synthesize_for: Vec<IpNet>,
    /// When to ask for A records: `"parallel"` (default) with the AAAA
    /// question, or `"after_aaaa"`, only when the AAAA answer calls for
    /// synthesis.
    #[serde(default)]
    pub a_query: AQuery,
    /// Metrics endpoint.
    #[serde(default)]
    pub metrics: Metrics,
    /// `[dns64.control]`: the `nat64gw` command's socket.
    #[serde(default = "default_control")]
    pub control: common::control::ControlConfig,
    /// Log one line per query from start (`nat64gw dns querylog` turns it
    /// on and off while running). Default false.
    #[serde(default)]
    pub querylog: bool,
    /// Threads of the runtime that answers cache misses (the upstream
    /// questions, synthesis) and serves TCP. Default: one per four CPUs
    /// dns64d may use, at least one ([`Dns64Config::runtime_threads`]).
    #[serde(default)]
    pub runtime_threads: Option<usize>,
}

fn default_control() -> common::control::ControlConfig {
    common::control::ControlConfig::at(common::control::DNS64D_SOCKET)
}

/// Most runtime threads `runtime_threads` may ask for.
pub const MAX_RUNTIME_THREADS: usize = 256;

impl Dns64Config {
    /// The runtime's threads: `runtime_threads`, or one per four of the
    /// `cpus` dns64d may use (at least one). A cache miss costs an upstream
    /// round trip, not CPU, and every extra thread is one more to wake and
    /// to contend with for a CPU: on 2 CPUs one thread answered uncached
    /// names at 1 000 queries/s with a p99 of about 0.4 ms where two gave
    /// about 1 ms, and at saturation 10 % faster (docs/performance.md).
    pub fn runtime_threads(&self, cpus: usize) -> usize {
        self.runtime_threads.unwrap_or((cpus / 4).max(1))
    }
}

fn default_max_inflight() -> usize {
    1024
}
fn default_max_tcp() -> usize {
    256
}
fn default_max_tcp_per_client() -> u32 {
    16
}

/// One `prefix_ipv4` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixIpv4 {
    /// A prefix of `[prefix] prefixes`.
    pub prefix: Nat64Prefix,
    /// The IPv4 ranges synthesised under it.
    pub ipv4: Vec<Ipv4Net>,
}

/// `[dns64.metrics]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Address of the Prometheus endpoint (`GET /metrics`); none: off.
    pub listen: Option<SocketAddr>,
}

fn default_listen() -> Vec<SocketAddr> {
    vec![
        SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 53)),
        SocketAddr::from(([127, 0, 0, 1], 53)),
    ]
}
fn default_allow_from() -> Vec<IpNet> {
    vec![
        IpNet::V6(Ipv6Net::new_assert(std::net::Ipv6Addr::LOCALHOST, 128)),
        IpNet::V4(Ipv4Net::new_assert(
            std::net::Ipv4Addr::new(127, 0, 0, 0),
            8,
        )),
    ]
}
fn default_exclude() -> Vec<Ipv6Net> {
    vec![Ipv6Net::new_assert(
        std::net::Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
        96,
    )]
}
fn default_cache_size() -> usize {
    100_000
}
fn default_timeout_ms() -> u64 {
    1000
}

impl Default for Dns64Config {
    fn default() -> Self {
        Dns64Config {
            listen: default_listen(),
            upstreams: Vec::new(),
            allow_from: default_allow_from(),
            exclude: default_exclude(),
            cache_size: default_cache_size(),
            timeout_ms: default_timeout_ms(),
            prefix_ipv4: Vec::new(),
            max_inflight: default_max_inflight(),
            runtime_threads: None,
            max_tcp_connections: default_max_tcp(),
            max_tcp_per_client: default_max_tcp_per_client(),
            synthesize_for: Vec::new(),
            a_query: AQuery::default(),
            metrics: Metrics::default(),
            control: default_control(),
            querylog: false,
        }
    }
}

/// Most cached answers.
pub const MAX_CACHE_SIZE: usize = 10_000_000;

impl Dns64Config {
    /// The listeners' bounds.
    pub fn limits(&self) -> crate::listen::Limits {
        crate::listen::Limits {
            max_inflight: self.max_inflight,
            max_tcp_connections: self.max_tcp_connections,
            max_tcp_per_client: self.max_tcp_per_client,
        }
    }

    /// The checks that span keys, every problem found (`file` names the
    /// file in each).
    pub fn validate_all(&self, file: &str, prefix: &PrefixConfig) -> Vec<Invalid> {
        let mut errs = Vec::new();
        let err = |key: &str, problem: String| Invalid {
            file: file.to_owned(),
            position: None,
            key: Some(format!("dns64.{key}")),
            problem,
        };
        if let Err(e) = self.control.check() {
            errs.push(err("control.socket", e));
        }
        if let Some(n) = self.runtime_threads
            && !(1..=MAX_RUNTIME_THREADS).contains(&n)
        {
            errs.push(err(
                "runtime_threads",
                format!("{n} is outside 1..={MAX_RUNTIME_THREADS}"),
            ));
        }
        for (key, v, max) in [
            ("max_inflight", self.max_inflight, 1_000_000),
            ("max_tcp_connections", self.max_tcp_connections, 100_000),
            (
                "max_tcp_per_client",
                self.max_tcp_per_client as usize,
                100_000,
            ),
        ] {
            if v == 0 || v > max {
                errs.push(err(key, format!("{v} is outside 1..={max}")));
            }
        }
        if self.listen.is_empty() {
            errs.push(err(
                "listen",
                "is empty, so dns64d would answer nobody; give addresses such as [\"[::]:53\"]"
                    .into(),
            ));
        }
        for (i, a) in self.listen.iter().enumerate() {
            if self.listen[..i].contains(a) {
                errs.push(err(&format!("listen[{i}]"), format!("{a} is listed twice")));
            }
        }
        if self.upstreams.is_empty() {
            errs.push(err(
                "upstreams",
                "is empty; give at least one resolver, such as [\"192.0.2.53:53\"]".into(),
            ));
        }
        for (i, u) in self.upstreams.iter().enumerate() {
            if u.ip().is_unspecified() || u.port() == 0 {
                errs.push(err(
                    &format!("upstreams[{i}]"),
                    format!("{u} is not an address a query can be sent to"),
                ));
            }
            if self.listen.contains(u) {
                errs.push(err(
                    &format!("upstreams[{i}]"),
                    format!("{u} is also a listen address: dns64d would ask itself"),
                ));
            }
        }
        if self.allow_from.is_empty() {
            errs.push(err(
                "allow_from",
                "is empty, so every client would be refused; list your hosts' prefixes, such \
                 as [\"2001:db8:1::/64\", \"::1/128\"] (an open resolver is [\"::/0\", \
                 \"0.0.0.0/0\"], written deliberately)"
                    .into(),
            ));
        }
        for (i, n) in self.synthesize_for.iter().enumerate() {
            if n.addr() != n.network() {
                errs.push(err(
                    &format!("synthesize_for[{i}]"),
                    format!(
                        "`{n}` has bits set after the first {}; did you mean `{}`?",
                        n.prefix_len(),
                        n.trunc()
                    ),
                ));
            }
            if !self
                .allow_from
                .iter()
                .any(|a| a.contains(&n.network()) && a.prefix_len() <= n.prefix_len())
            {
                errs.push(err(
                    &format!("synthesize_for[{i}]"),
                    format!("`{n}` is not inside allow_from: those clients are refused anyway"),
                ));
            }
        }
        if self.cache_size > MAX_CACHE_SIZE {
            errs.push(err(
                "cache_size",
                format!("{} is more than {MAX_CACHE_SIZE}", self.cache_size),
            ));
        }
        if !(10..=30_000).contains(&self.timeout_ms) {
            errs.push(err(
                "timeout_ms",
                format!("{} is outside 10–30000 milliseconds", self.timeout_ms),
            ));
        }
        for (i, p) in self.prefix_ipv4.iter().enumerate() {
            if !prefix.prefixes.iter().any(|q| q == &p.prefix) {
                errs.push(err(
                    &format!("prefix_ipv4[{i}].prefix"),
                    format!("{} is not one of `prefix.prefixes`", p.prefix),
                ));
            }
            if p.ipv4.is_empty() {
                errs.push(err(
                    &format!("prefix_ipv4[{i}].ipv4"),
                    "is empty, so the prefix would synthesise nothing; remove the prefix \
                     from `prefix.prefixes` instead"
                        .into(),
                ));
            }
            if self.prefix_ipv4[..i].iter().any(|q| q.prefix == p.prefix) {
                errs.push(err(
                    &format!("prefix_ipv4[{i}].prefix"),
                    format!("{} is listed twice", p.prefix),
                ));
            }
        }
        errs
    }

    /// The first problem [`Self::validate_all`] finds.
    pub fn validate(&self, file: &str, prefix: &PrefixConfig) -> Result<(), Invalid> {
        self.validate_all(file, prefix)
            .into_iter()
            .next()
            .map_or(Ok(()), Err)
    }

    /// An upstream from the documentation (the example file's
    /// `192.0.2.53`, RFC 5737/3849): no resolver answers there. `None` in a
    /// lab (`[prefix] allow_non_global = true`).
    pub fn placeholder_upstream(&self, allow_non_global: bool) -> Option<String> {
        if allow_non_global {
            return None;
        }
        self.upstreams
            .iter()
            .find(|u| common::special::is_documentation(u.ip()))
            .map(|u| {
                format!(
                    "dns64.upstreams: {u} is a documentation address (RFC 5737, RFC 3849) left \
                     from an example file: no resolver answers there; list your recursive \
                     resolvers (a lab opts out with [prefix] allow_non_global = true)"
                )
            })
    }

    /// What the server applies, reloadable.
    pub fn settings(&self, prefix: &PrefixConfig) -> crate::server::Settings {
        crate::server::Settings {
            core: self.core(prefix),
            allow_from: self.allow_from.clone(),
            synthesize_for: self.synthesize_for.clone(),
            a_query: self.a_query,
        }
    }

    /// The DNS64 core this configuration describes.
    pub fn core(&self, prefix: &PrefixConfig) -> Core {
        Core {
            prefixes: prefix
                .prefixes
                .iter()
                .map(|p| PrefixRule {
                    prefix: *p,
                    ipv4: self
                        .prefix_ipv4
                        .iter()
                        .find(|r| r.prefix == *p)
                        .map(|r| r.ipv4.clone())
                        .unwrap_or_default(),
                })
                .collect(),
            allow_non_global: prefix.allow_non_global,
            exclude: self.exclude.clone(),
        }
    }
}

/// The keys that take effect only when dns64d starts, and so the one place
/// that says which keys a reload cannot change: the listeners and the
/// metrics endpoint, the listeners' bounds. On SIGHUP, `new` gets the running value of each back;
/// the names of those the file changed are returned, for the log. Every
/// other key is applied by the reload (a change of `upstreams`,
/// `timeout_ms` or `cache_size` starts a new, empty cache).
pub fn keep_restart_only(running: &File, new: &mut File) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if new.dns64.listen != running.dns64.listen {
        changed.push("dns64.listen");
        new.dns64.listen.clone_from(&running.dns64.listen);
    }
    if new.dns64.metrics != running.dns64.metrics {
        changed.push("dns64.metrics");
        new.dns64.metrics.clone_from(&running.dns64.metrics);
    }
    if new.dns64.control != running.dns64.control {
        changed.push("dns64.control");
        new.dns64.control.clone_from(&running.dns64.control);
    }
    if new.dns64.runtime_threads != running.dns64.runtime_threads {
        changed.push("dns64.runtime_threads");
        new.dns64.runtime_threads = running.dns64.runtime_threads;
    }
    if new.dns64.limits() != running.dns64.limits() {
        changed.push("dns64.max_inflight/max_tcp_connections/max_tcp_per_client");
        new.dns64.max_inflight = running.dns64.max_inflight;
        new.dns64.max_tcp_connections = running.dns64.max_tcp_connections;
        new.dns64.max_tcp_per_client = running.dns64.max_tcp_per_client;
    }
    changed
}

/// Reads and checks the gateway file at `path`: every problem found.
pub fn load(path: &std::path::Path) -> Result<File, common::config::ConfigError> {
    let (f, parsed): (File, _) = common::config::load_lenient(path)?;
    let checked = f.dns64.validate_all(&path.display().to_string(), &f.prefix);
    let mut all = common::config::combine(parsed, checked);
    match all.len() {
        0 => Ok(f),
        1 => Err(common::config::ConfigError::Invalid(all.remove(0))),
        _ => Err(common::config::ConfigError::Many(all)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<File, String> {
        let f: File = common::config::parse("t.toml", text).map_err(|e| e.to_string())?;
        f.dns64
            .validate("t.toml", &f.prefix)
            .map_err(|e| e.to_string())?;
        Ok(f)
    }

    const MIN: &str = "[dns64]\nupstreams = [\"192.0.2.53:53\"]\n";

    #[test]
    fn defaults() {
        let f = parse(MIN).unwrap();
        let d = &f.dns64;
        assert_eq!(d.listen.len(), 2);
        assert_eq!(d.allow_from.len(), 2, "loopback only (req D14)");
        assert_eq!(d.exclude, vec!["::ffff:0:0/96".parse::<Ipv6Net>().unwrap()]);
        assert_eq!(d.cache_size, 100_000);
        assert_eq!(d.core(&f.prefix).prefixes.len(), 1);
        // One runtime thread per four CPUs, at least one.
        assert_eq!(
            [1, 2, 4, 7, 8, 64].map(|cpus| d.runtime_threads(cpus)),
            [1, 1, 1, 1, 2, 16]
        );
        let f = parse(&format!("{MIN}runtime_threads = 3\n")).unwrap();
        assert_eq!(f.dns64.runtime_threads(2), 3);
    }

    #[test]
    fn the_issue_keys_parse() {
        let f = parse(
            "[dns64]\nlisten = [\"[::]:53\"]\nupstreams = [\"192.0.2.53:53\"]\n\
             allow_from = [\"2001:db8:1::/64\", \"::1/128\"]\nexclude = [\"::ffff:0:0/96\"]\n\
             cache_size = 100000\n[dns64.metrics]\nlisten = \"127.0.0.1:9465\"\n",
        )
        .unwrap();
        assert_eq!(
            f.dns64.metrics.listen,
            Some("127.0.0.1:9465".parse().unwrap())
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("[dns64]\n", "`dns64.upstreams`: is empty"),
            (
                "[dns64]\nupstreams = [\"0.0.0.0:53\"]\n",
                "`dns64.upstreams[0]`: 0.0.0.0:53 is not an address",
            ),
            (
                "[dns64]\nlisten = [\"127.0.0.1:53\"]\nupstreams = [\"127.0.0.1:53\"]\n",
                "would ask itself",
            ),
            (
                "[dns64]\nupstreams = [\"192.0.2.53:53\"]\nallow_from = []\n",
                "`dns64.allow_from`: is empty",
            ),
            (
                "[dns64]\nupstreams = [\"192.0.2.53:53\"]\ntimeout_ms = 0\n",
                "`dns64.timeout_ms`: 0 is outside",
            ),
            (
                "[dns64]\nupstreams = [\"192.0.2.53:53\"]\nprefix_ipv4 = [{ prefix = \"2001:db8:64::/96\", ipv4 = [\"192.0.2.0/24\"] }]\n",
                "`dns64.prefix_ipv4[0].prefix`: 2001:db8:64::/96 is not one of",
            ),
            (
                "[dns64]\nupstreams = [\"192.0.2.53:53\"]\nlisten = [\"[::]:53\", \"[::]:53\"]\n",
                "`dns64.listen[1]`",
            ),
            ("[dns64]\nupstream = []\n", "`dns64.upstream`: unknown key"),
            (
                "[dns64]\nupstreams = [\"192.0.2.53:53\"]\nruntime_threads = 0\n",
                "`dns64.runtime_threads`: 0 is outside 1..=256",
            ),
            ("[dns64]\nupstreams = [\"nonsense\"]\n", "dns64.upstreams"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn runtime_threads_take_effect_at_start_only() {
        let running = parse(MIN).unwrap();
        let mut new = parse(&format!("{MIN}runtime_threads = 3\n")).unwrap();
        assert_eq!(
            keep_restart_only(&running, &mut new),
            vec!["dns64.runtime_threads"]
        );
        assert_eq!(new.dns64.runtime_threads, None);
    }

    #[test]
    fn d8_prefix_ranges_reach_the_core() {
        let f = parse(
            "[prefix]\nprefixes = [\"64:ff9b::/96\", \"2001:db8:64::/96\"]\n\
             [dns64]\nupstreams = [\"192.0.2.53:53\"]\n\
             prefix_ipv4 = [{ prefix = \"2001:db8:64::/96\", ipv4 = [\"198.51.100.0/24\"] }]\n",
        )
        .unwrap();
        let c = f.dns64.core(&f.prefix);
        assert!(c.prefixes[0].ipv4.is_empty());
        assert_eq!(
            c.prefixes[1].ipv4,
            vec!["198.51.100.0/24".parse::<Ipv4Net>().unwrap()]
        );
    }

    #[test]
    fn synthesize_for_and_a_query_parse_and_are_checked() {
        let base = "[dns64]\nupstreams = [\"192.0.2.53:53\"]\nallow_from = [\"2001:db8:1::/64\", \"2001:db8:3::/64\"]\n";
        let f: File = common::config::parse(
            "t.toml",
            &format!("{base}synthesize_for = [\"2001:db8:1::/64\"]\na_query = \"after_aaaa\"\n"),
        )
        .unwrap();
        f.dns64.validate("t.toml", &f.prefix).unwrap();
        let s = f.dns64.settings(&f.prefix);
        assert!(s.dns64_for("2001:db8:1::9".parse().unwrap()));
        assert!(!s.dns64_for("2001:db8:3::9".parse().unwrap()));
        assert_eq!(s.a_query, AQuery::AfterAaaa);
        for (extra, want) in [
            ("synthesize_for = [\"2001:db8:1::1/64\"]\n", "has bits set"),
            (
                "synthesize_for = [\"2001:db8:9::/64\"]\n",
                "not inside allow_from",
            ),
            ("a_query = \"serial\"\n", "a_query"),
        ] {
            let e = common::config::parse::<File>("t.toml", &format!("{base}{extra}"))
                .map_err(|e| e.to_string())
                .and_then(|f| {
                    f.dns64
                        .validate("t.toml", &f.prefix)
                        .map_err(|e| e.to_string())
                });
            let e = e.unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
        }
        assert_eq!(Dns64Config::default().a_query, AQuery::Parallel);
        assert!(
            Dns64Config::default()
                .settings(&PrefixConfig::default())
                .dns64_for("::1".parse().unwrap())
        );
    }
}
