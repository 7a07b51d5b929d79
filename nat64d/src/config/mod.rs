//! The `[nat64]` section of the gateway file (req O1, O4, S5–S7), with
//! defaults, and the checks that span keys. Every key is documented in
//! `docs/configuration.md`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::PathBuf;

use common::config::Invalid;
use common::{GatewayFile, PrefixConfig};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::Deserialize;

use crate::flow::Proto;
use crate::pool::{DEFAULT_RANGES, PortRange};
use crate::state::{Filtering, StateConfig, Timeouts, UDP_MIN, check_statics};

mod derive;
mod limits;
pub use derive::keep_restart_only;
pub use limits::{
    ActionName, LimitOverride, LimitsConfig, MAX_OVERRIDES, MAX_PORT_RULES, MAX_RATE, PairingName,
    PortPolicyEntry, PortSpec,
};

/// The gateway file as nat64d reads it.
pub type File = GatewayFile<Nat64Config, toml::Table>;

/// `[nat64]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nat64Config {
    /// TUN device name. Default `nat64`.
    #[serde(default = "default_tun")]
    pub tun: String,
    /// IPv4 pool: addresses or prefixes. Required.
    #[serde(default)]
    pub pool4: Vec<Ipv4Net>,
    /// IPv6 sources allowed to use the translator. Required.
    #[serde(default)]
    pub allow_from: Vec<Ipv6Net>,
    /// IPv4 ranges never reachable, on top of the non-global ones.
    #[serde(default)]
    pub deny_to: Vec<Ipv4Net>,
    /// Most sessions. Default 1 000 000.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Mapping log file; `"-"` or absent: standard error.
    #[serde(default)]
    pub mapping_log: Option<PathBuf>,
    /// Worker threads (TUN queues); 0: one per core. Default 0.
    #[serde(default)]
    pub threads: usize,
    /// Pin worker `i` to the `i`-th CPU nat64d may run on (wrapping when
    /// there are more workers than CPUs). Default true.
    #[serde(default = "yes")]
    pub pin_workers: bool,
    /// The IPv4 egress MTU (at least 68), and the TUN device's MTU when at
    /// least 1280 (the TUN carries IPv6 too: [`Nat64Config::tun_mtu`]).
    /// Default 1500.
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// IPv6 path MTU assumed for unknown paths. Default 1280.
    #[serde(default = "default_ipv6_mtu")]
    pub ipv6_mtu: u16,
    /// Open the TUN with the virtio-net header and segmentation / checksum
    /// offload (TCP and UDP super-packets translated once per 64 KiB).
    /// Falls back to plain packets when the kernel refuses. Default true.
    #[serde(default = "yes")]
    pub offload: bool,
    /// Install the routes for the prefixes and the pool into the TUN at
    /// start (and remove them at stop). Default true.
    #[serde(default = "yes")]
    pub routes: bool,
    /// Use a TUN device of this name that exists already (a persistent one
    /// made with `ip tuntap add ... multi_queue`). Default false: nat64d
    /// refuses to start when the device exists, so that it never attaches
    /// to a device something else owns.
    #[serde(default)]
    pub adopt_tun: bool,
    /// `"endpoint-independent"` (default) or `"address-dependent"`.
    #[serde(default)]
    pub filtering: FilteringName,
    /// Source of the ICMPv4 errors nat64d sends. Default: the first pool
    /// address.
    #[serde(default)]
    pub own_ipv4: Option<Ipv4Addr>,
    /// Source of the ICMPv6 errors nat64d sends. Default: `own_ipv4` inside
    /// the first prefix.
    #[serde(default)]
    pub own_ipv6: Option<Ipv6Addr>,
    /// Zero the Traffic Class / TOS instead of copying it. Default false.
    #[serde(default)]
    pub zero_tos: bool,
    /// ICMP errors nat64d itself sends, per second (req N13). Default 100.
    #[serde(default = "default_error_rate")]
    pub icmp_error_rate: u32,
    /// Session lifetimes.
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    /// Limits per customer prefix (req O4).
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Destination ports refused, limited or allowed, first match wins.
    #[serde(default)]
    pub port_policy: Vec<PortPolicyEntry>,
    /// `"prefix"` (default): one pool address per customer prefix;
    /// `"address"`: per IPv6 address.
    #[serde(default)]
    pub pairing: PairingName,
    /// Port ranges per protocol.
    #[serde(default)]
    pub ports: PortsConfig,
    /// Static bindings (port forwarding to IPv6 servers).
    #[serde(default, rename = "static")]
    pub statics: Vec<StaticEntry>,
    /// `[nat64.metrics]`.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[nat64.control]`: the `nat64gw` command's socket.
    #[serde(default = "default_control")]
    pub control: common::control::ControlConfig,
}

fn default_control() -> common::control::ControlConfig {
    common::control::ControlConfig::at(common::control::NAT64D_SOCKET)
}

impl Default for Nat64Config {
    fn default() -> Self {
        // The defaults serde applies to an empty section.
        toml::from_str("").unwrap_or_else(|_| unreachable!("an empty [nat64] is valid TOML"))
    }
}

fn default_tun() -> String {
    "nat64".into()
}
fn default_max_sessions() -> usize {
    1_000_000
}
fn default_mtu() -> u16 {
    1500
}
fn default_ipv6_mtu() -> u16 {
    1280
}
fn default_error_rate() -> u32 {
    100
}
fn yes() -> bool {
    true
}

/// Filtering policy names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilteringName {
    /// RFC 4787 endpoint-independent filtering.
    #[default]
    EndpointIndependent,
    /// RFC 6146 §3.5.2.3 address-dependent filtering.
    AddressDependent,
}

/// `[nat64.timeouts]`, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsConfig {
    /// UDP, default 300, at least 120.
    #[serde(default = "t_udp")]
    pub udp: u32,
    /// TCP established, default 7440.
    #[serde(default = "t_est")]
    pub tcp_established: u32,
    /// TCP transitory, default 240.
    #[serde(default = "t_trans")]
    pub tcp_transitory: u32,
    /// ICMP query, default 60.
    #[serde(default = "t_icmp")]
    pub icmp: u32,
    /// A session the IPv4 side opened, until the IPv6 host answers it;
    /// default 6 (RFC 6146 §3.5.2.2's V4 INIT).
    #[serde(default = "t_unanswered")]
    pub unanswered_inbound: u32,
}
fn t_udp() -> u32 {
    300
}
fn t_est() -> u32 {
    7440
}
fn t_trans() -> u32 {
    240
}
fn t_icmp() -> u32 {
    60
}
fn t_unanswered() -> u32 {
    6
}
impl Default for TimeoutsConfig {
    fn default() -> Self {
        TimeoutsConfig {
            udp: t_udp(),
            tcp_established: t_est(),
            tcp_transitory: t_trans(),
            icmp: t_icmp(),
            unanswered_inbound: t_unanswered(),
        }
    }
}

/// `[nat64.ports]`: ranges written `"FIRST-LAST"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortsConfig {
    /// TCP, default `"1024-65535"`.
    #[serde(default = "r_tcp")]
    pub tcp: RangeText,
    /// UDP, default `"1024-65535"`.
    #[serde(default = "r_udp")]
    pub udp: RangeText,
    /// ICMP identifiers, default `"0-65535"`.
    #[serde(default = "r_icmp")]
    pub icmp: RangeText,
}
fn r_tcp() -> RangeText {
    RangeText(DEFAULT_RANGES[0])
}
fn r_udp() -> RangeText {
    RangeText(DEFAULT_RANGES[1])
}
fn r_icmp() -> RangeText {
    RangeText(DEFAULT_RANGES[2])
}
impl Default for PortsConfig {
    fn default() -> Self {
        PortsConfig {
            tcp: r_tcp(),
            udp: r_udp(),
            icmp: r_icmp(),
        }
    }
}

/// A port range parsed from `"FIRST-LAST"` (or a single port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeText(pub PortRange);

impl<'de> Deserialize<'de> for RangeText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bad = || {
            serde::de::Error::custom(format!(
                "`{s}` is not a port range: write FIRST-LAST, such as \"1024-65535\""
            ))
        };
        let (a, b) = s.split_once('-').unwrap_or((&s, &s));
        let first: u16 = a.trim().parse().map_err(|_| bad())?;
        let last: u16 = b.trim().parse().map_err(|_| bad())?;
        if first > last {
            return Err(serde::de::Error::custom(format!(
                "`{s}`: the first port is above the last"
            )));
        }
        Ok(RangeText(PortRange { first, last }))
    }
}

/// One static binding: `{ proto = "tcp", ipv6 = "[2001:db8:2::10]:80",
/// ipv4 = "198.51.100.1:8080" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticEntry {
    /// `"tcp"`, `"udp"` or `"icmp"` (the port is then the identifier).
    pub proto: Proto,
    /// The IPv6 server's address and port.
    pub ipv6: SocketAddrV6,
    /// The pool address and port IPv4 clients connect to.
    pub ipv4: SocketAddrV4,
}

/// `[nat64.metrics]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the Prometheus text endpoint (`GET /metrics`); absent:
    /// no endpoint.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
}

/// The smallest IPv4 MTU (RFC 791: every host must take 68 bytes
/// unfragmented).
pub const MIN_IPV4_MTU: u16 = 68;

/// Most pool addresses (a /16).
pub const MAX_POOL_ADDRESSES: usize = 65536;

/// Most sessions `max_sessions` may allow: about 19 GB of table at the
/// measured 189 bytes a session at worst (`benches/state.rs`).
pub const MAX_SESSIONS: usize = 100_000_000;

impl Nat64Config {
    /// The checks that span keys, every problem found (`file` names the
    /// file in each).
    pub fn validate_all(&self, file: &str, prefix: &PrefixConfig) -> Vec<Invalid> {
        let mut errs = Vec::new();
        let err = |key: &str, problem: String| Invalid {
            file: file.to_owned(),
            position: None,
            key: Some(format!("nat64.{key}")),
            problem,
        };
        if let Err(e) = self.control.check() {
            errs.push(err("control.socket", e));
        }
        if self.allow_from.is_empty() {
            errs.push(err(
                "allow_from",
                "is empty, so no host could use the translator; list the IPv6 prefixes of \
                 your hosts, such as [\"2001:db8:1::/64\"] (an open translator is \
                 [\"::/0\"], written deliberately)"
                    .into(),
            ));
        }
        if self.pool4.is_empty() {
            errs.push(err(
                "pool4",
                "is empty: list the IPv4 addresses or prefixes routed to this gateway, \
                 such as [\"198.51.100.0/28\"]"
                    .into(),
            ));
        }
        for (i, p) in self.pool4.iter().enumerate() {
            if p.addr() != p.network() {
                errs.push(err(
                    &format!("pool4[{i}]"),
                    format!(
                        "`{p}` has bits set after the first {} (host bits); did you mean `{}`? \
                         (a single address is written /32)",
                        p.prefix_len(),
                        p.trunc()
                    ),
                ));
            }
        }
        for (i, p) in self.pool4.iter().enumerate() {
            if let Some(r) = common::special::never_translated_v4(*p) {
                errs.push(err(
                    &format!("pool4[{i}]"),
                    format!(
                        "`{p}` overlaps {} ({}, {}): no IPv4 host could send replies to it; \
                         list global or private unicast addresses routed to this gateway",
                        r.net, r.name, r.rfc
                    ),
                ));
            }
        }
        let n: usize = self
            .pool4
            .iter()
            .map(|p| 1usize << (32 - p.prefix_len()))
            .sum();
        if n > MAX_POOL_ADDRESSES {
            errs.push(err(
                "pool4",
                format!("holds {n} addresses; at most {MAX_POOL_ADDRESSES} (a /16)"),
            ));
        }
        for (i, a) in self.pool4.iter().enumerate() {
            for b in &self.pool4[..i] {
                if a.contains(&b.network()) || b.contains(&a.network()) {
                    errs.push(err(&format!("pool4[{i}]"), format!("`{a}` overlaps `{b}`")));
                }
            }
        }
        if self.tun.is_empty() || self.tun.len() > 15 || self.tun.contains(['/', ' ']) {
            errs.push(err(
                "tun",
                format!(
                    "`{}` is not an interface name (1-15 characters, no '/' or space)",
                    self.tun
                ),
            ));
        }
        if self.max_sessions == 0 || self.max_sessions > MAX_SESSIONS {
            errs.push(err(
                "max_sessions",
                format!(
                    "{} is outside 1..={MAX_SESSIONS} (each session costs up to about 190 bytes: \
                     {MAX_SESSIONS} sessions are some 19 GB)",
                    self.max_sessions
                ),
            ));
        }
        for (name, r) in [("tcp", self.ports.tcp.0), ("udp", self.ports.udp.0)] {
            if r.first == 0 {
                errs.push(err(
                    &format!("ports.{name}"),
                    format!(
                        "`{}-{}` includes port 0, which no {} packet may carry; start at 1 or \
                         above (the default is 1024-65535)",
                        r.first,
                        r.last,
                        name.to_uppercase()
                    ),
                ));
            }
        }
        if self.mtu < MIN_IPV4_MTU {
            errs.push(err(
                "mtu",
                format!(
                    "{} is below {MIN_IPV4_MTU}, the smallest MTU an IPv4 link may have \
                     (RFC 791)",
                    self.mtu
                ),
            ));
        }
        if self.ipv6_mtu < 1280 {
            errs.push(err(
                "ipv6_mtu",
                format!("{} is below 1280, the IPv6 minimum MTU", self.ipv6_mtu),
            ));
        }
        if self.timeouts.udp < UDP_MIN {
            errs.push(err(
                "timeouts.udp",
                format!(
                    "{} s is below {UDP_MIN} s, the RFC 6146 §4 minimum",
                    self.timeouts.udp
                ),
            ));
        }
        for (k, v) in [
            ("timeouts.tcp_established", self.timeouts.tcp_established),
            ("timeouts.tcp_transitory", self.timeouts.tcp_transitory),
            ("timeouts.icmp", self.timeouts.icmp),
            (
                "timeouts.unanswered_inbound",
                self.timeouts.unanswered_inbound,
            ),
        ] {
            if v == 0 {
                errs.push(err(k, "must be at least 1 second".into()));
            }
        }
        for (i, s) in self.statics.iter().enumerate() {
            if !self.pool4.iter().any(|p| p.contains(s.ipv4.ip())) {
                errs.push(err(
                    &format!("static[{i}].ipv4"),
                    format!("{} is not in pool4", s.ipv4.ip()),
                ));
            }
            if !self.allow_from.iter().any(|p| p.contains(s.ipv6.ip())) {
                errs.push(err(
                    &format!("static[{i}].ipv6"),
                    format!(
                        "{} is outside allow_from, so its replies would be refused",
                        s.ipv6.ip()
                    ),
                ));
            }
        }
        if let Err((i, e)) = check_statics(&self.statics()) {
            errs.push(err(&format!("static[{i}]"), e));
        }
        if let Err((k, problem)) = self.check_limits() {
            errs.push(err(&k, problem));
        }
        if let Some(own) = self.own_ipv6
            && prefix.extract(own).is_none()
        {
            errs.push(err(
                "own_ipv6",
                format!("{own} is in none of the prefixes; IPv6 hosts route only those here"),
            ));
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

    /// The TUN device's MTU: `mtu`, but never below 1280, since the device
    /// carries IPv6 too (RFC 8200 §5). A smaller IPv4 MTU is applied by the
    /// translation itself (RFC 7915 §5.1: fragments, Packet Too Big never
    /// below 1280).
    pub fn tun_mtu(&self) -> u16 {
        self.mtu.max(1280)
    }

    /// The pool's addresses, expanded.
    pub fn pool_addresses(&self) -> Vec<Ipv4Addr> {
        self.pool4.iter().flat_map(|p| p.hosts_all()).collect()
    }

    /// The state layer's settings.
    pub fn state_config(&self) -> StateConfig {
        StateConfig {
            timeouts: Timeouts {
                udp: self.timeouts.udp,
                tcp_est: self.timeouts.tcp_established,
                tcp_trans: self.timeouts.tcp_transitory,
                icmp: self.timeouts.icmp,
                unanswered_inbound: self.timeouts.unanswered_inbound,
                ..Timeouts::default()
            },
            filtering: match self.filtering {
                FilteringName::EndpointIndependent => Filtering::EndpointIndependent,
                FilteringName::AddressDependent => Filtering::AddressDependent,
            },
            max_sessions: self.max_sessions,
            limits: self.limit_policy(),
            pairing: self.pairing(),
            inbound_per_binding: self.limits.inbound_sessions_per_binding,
            ..StateConfig::default()
        }
    }

    /// Port ranges in pool order (TCP, UDP, ICMP).
    pub fn ranges(&self) -> [PortRange; 3] {
        [self.ports.tcp.0, self.ports.udp.0, self.ports.icmp.0]
    }
}

/// Every address of a prefix, network and broadcast included (a pool
/// prefix is routed here whole; no host uses its ends).
trait HostsAll {
    fn hosts_all(&self) -> Box<dyn Iterator<Item = Ipv4Addr>>;
}

impl HostsAll for Ipv4Net {
    fn hosts_all(&self) -> Box<dyn Iterator<Item = Ipv4Addr>> {
        let first = u32::from(self.network());
        let last = u32::from(self.broadcast());
        Box::new((first..=last).map(Ipv4Addr::from))
    }
}

#[cfg(test)]
mod tests;
