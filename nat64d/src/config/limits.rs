//! `[nat64.limits]`, `[[nat64.limits.override]]`, `[[nat64.port_policy]]`
//! and `pairing` (req O4): what one customer prefix may hold and open, and
//! the checks on them. `docs/configuration.md` says how the defaults were
//! chosen.

use std::sync::Arc;

use ipnet::Ipv6Net;
use serde::Deserialize;

use super::{Nat64Config, RangeText};
use crate::flow::Proto;
use crate::limits::{LimitPolicy, Limits, MAX_BURST, Override, PortAction, PortRule, Rate};
use crate::pool::PortRange;
use crate::state::Pairing;

/// `[nat64.limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Length of the customer prefix every per-source limit counts
    /// under. Default 64.
    #[serde(default = "prefix_len")]
    pub source_prefix_len: u8,
    /// Most sessions per customer prefix; 0: no limit. Default 10 000.
    #[serde(default = "sessions")]
    pub sessions_per_source: u32,
    /// New sessions per second per customer prefix; 0: no limit. Default
    /// 100.
    #[serde(default = "rate")]
    pub new_sessions_per_second: u32,
    /// New sessions a customer prefix may open at once before the rate
    /// applies. Default 1 000.
    #[serde(default = "burst")]
    pub new_sessions_burst: u32,
    /// Most sessions the IPv4 side may open on one binding that the IPv6
    /// host has not answered yet; 0: no limit. Default 64.
    #[serde(default = "inbound_per_binding")]
    pub inbound_sessions_per_binding: u32,
    /// Other limits for ranges of sources.
    #[serde(default, rename = "override")]
    pub overrides: Vec<LimitOverride>,
}

fn prefix_len() -> u8 {
    64
}
fn sessions() -> u32 {
    10_000
}
fn rate() -> u32 {
    100
}
fn burst() -> u32 {
    1_000
}
fn inbound_per_binding() -> u32 {
    64
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            source_prefix_len: prefix_len(),
            sessions_per_source: sessions(),
            new_sessions_per_second: rate(),
            new_sessions_burst: burst(),
            inbound_sessions_per_binding: inbound_per_binding(),
            overrides: Vec::new(),
        }
    }
}

/// `[[nat64.limits.override]]`: a range of sources with other limits; a
/// key left out keeps the `[nat64.limits]` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverride {
    /// The range.
    pub prefix: Ipv6Net,
    /// Customer prefix length inside the range; default: the range's own
    /// length (the whole range is one customer).
    pub source_prefix_len: Option<u8>,
    /// As in `[nat64.limits]`.
    pub sessions_per_source: Option<u32>,
    /// As in `[nat64.limits]`.
    pub new_sessions_per_second: Option<u32>,
    /// As in `[nat64.limits]`.
    pub new_sessions_burst: Option<u32>,
}

/// `pairing`: `"prefix"` (default) or `"address"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairingName {
    /// One pool address per customer prefix.
    #[default]
    Prefix,
    /// One preferred pool address per IPv6 address.
    Address,
}

/// `action` of a port policy entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionName {
    /// Refuse new flows.
    Deny,
    /// Admit new flows within a rate per customer prefix.
    Limit,
    /// Admit new flows; the entries below do not apply.
    Allow,
}

/// `[[nat64.port_policy]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortPolicyEntry {
    /// `"tcp"` or `"udp"`.
    pub proto: Proto,
    /// Destination ports: numbers and `"FIRST-LAST"` ranges.
    pub ports: Vec<PortSpec>,
    /// What happens to a new flow that matches.
    pub action: ActionName,
    /// With `action = "limit"`: new flows a minute per customer prefix.
    pub new_sessions_per_minute: Option<u32>,
    /// With `action = "limit"`: flows a prefix may open at once; default
    /// `new_sessions_per_minute`.
    pub burst: Option<u32>,
    /// Sources the entry applies to; absent: all.
    #[serde(default)]
    pub from: Vec<Ipv6Net>,
}

/// A port (`25`) or a range (`"1024-2047"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec(pub PortRange);

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PortSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port number or a \"FIRST-LAST\" range")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PortSpec, E> {
                let p = u16::try_from(v)
                    .map_err(|_| E::custom(format!("{v} is not a port (0-65535)")))?;
                Ok(PortSpec(PortRange { first: p, last: p }))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PortSpec, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PortSpec, E> {
                let r: RangeText = serde::Deserialize::deserialize(
                    serde::de::value::StrDeserializer::<E>::new(v),
                )?;
                Ok(PortSpec(r.0))
            }
        }
        d.deserialize_any(V)
    }
}

/// Most `[[nat64.limits.override]]` entries.
pub const MAX_OVERRIDES: usize = 4096;
/// Most `[[nat64.port_policy]]` entries.
pub const MAX_PORT_RULES: usize = 256;
/// Highest `new_sessions_per_second`.
pub const MAX_RATE: u32 = 1_000_000;

impl Nat64Config {
    /// The limits and the port policy as the table applies them.
    pub fn limit_policy(&self) -> Arc<LimitPolicy> {
        let l = &self.limits;
        let limits = |sessions, per_second: u32, burst| Limits {
            sessions,
            rate: Rate {
                per_minute: per_second.saturating_mul(60),
                burst,
            },
        };
        let base = limits(
            l.sessions_per_source,
            l.new_sessions_per_second,
            l.new_sessions_burst,
        );
        let overrides = l
            .overrides
            .iter()
            .map(|o| Override {
                net: o.prefix,
                prefix_len: o.source_prefix_len.unwrap_or(o.prefix.prefix_len()),
                limits: limits(
                    o.sessions_per_source.unwrap_or(l.sessions_per_source),
                    o.new_sessions_per_second
                        .unwrap_or(l.new_sessions_per_second),
                    o.new_sessions_burst.unwrap_or(l.new_sessions_burst),
                ),
            })
            .collect();
        let rules = self
            .port_policy
            .iter()
            .map(|e| PortRule {
                proto: e.proto,
                ports: e.ports.iter().map(|p| p.0).collect(),
                from: e.from.clone(),
                action: match e.action {
                    ActionName::Deny => PortAction::Deny,
                    ActionName::Allow => PortAction::Allow,
                    ActionName::Limit => {
                        let per_minute = e.new_sessions_per_minute.unwrap_or(0);
                        PortAction::Limit(Rate {
                            per_minute,
                            burst: e.burst.unwrap_or(per_minute),
                        })
                    }
                },
            })
            .collect();
        Arc::new(LimitPolicy::new(
            l.source_prefix_len,
            base,
            overrides,
            rules,
        ))
    }

    /// The limits in one phrase, for the start and reload log lines.
    pub fn limits_summary(&self) -> String {
        let l = &self.limits;
        let n = |v: u32| {
            if v == 0 {
                "no limit".to_string()
            } else {
                v.to_string()
            }
        };
        format!(
            "per /{} source prefix: sessions {}, new sessions/s {} (burst {}); {} overrides; \
             {} port policy entries; pairing by {}",
            l.source_prefix_len,
            n(l.sessions_per_source),
            n(l.new_sessions_per_second),
            l.new_sessions_burst,
            l.overrides.len(),
            self.port_policy.len(),
            match self.pairing {
                PairingName::Prefix => "prefix",
                PairingName::Address => "address",
            }
        )
    }

    /// Settings that are valid but likely a mistake, for the log at start
    /// and at a reload.
    pub fn limits_warnings(&self) -> Vec<String> {
        let l = &self.limits;
        let cap = |s: u32| s == 0 || s as usize > self.max_sessions / 2;
        let mut w = Vec::new();
        if cap(l.sessions_per_source) {
            w.push(format!(
                "nat64.limits.sessions_per_source = {} lets one customer prefix take more than \
                 half of max_sessions ({}): one customer could lock out the rest",
                l.sessions_per_source, self.max_sessions
            ));
        }
        if l.new_sessions_per_second == 0 {
            w.push(
                "nat64.limits.new_sessions_per_second = 0: a customer prefix may open new \
                 sessions as fast as it can send"
                    .into(),
            );
        }
        w
    }

    /// A pool range from the documentation (the example file's
    /// `198.51.100.0/28`, RFC 5737): no host on the internet can reply to
    /// it. `None` in a lab (`[prefix] allow_non_global = true`).
    pub fn placeholder_pool(&self, allow_non_global: bool) -> Option<String> {
        if allow_non_global {
            return None;
        }
        self.pool4
            .iter()
            .find(|p| common::special::is_documentation(p.network().into()))
            .map(|p| {
                format!(
                    "nat64.pool4: `{p}` is a documentation range (RFC 5737) left from an example \
                     file: no host on the internet can send replies to it; list the IPv4 \
                     addresses routed to this gateway (a lab opts out with [prefix] \
                     allow_non_global = true)"
                )
            })
    }

    /// How pool addresses are paired.
    pub fn pairing(&self) -> Pairing {
        match self.pairing {
            PairingName::Prefix => Pairing::Prefix,
            PairingName::Address => Pairing::Address,
        }
    }

    /// The checks of the limits and the port policy: (key, problem).
    pub(super) fn check_limits(&self) -> Result<(), (String, String)> {
        let l = &self.limits;
        let bad = |k: String, p: String| Err((k, p));
        check_len("limits.source_prefix_len", l.source_prefix_len, 0)?;
        check_rate(
            "limits",
            Some(l.new_sessions_per_second),
            Some(l.new_sessions_burst),
        )?;
        if l.overrides.len() > MAX_OVERRIDES {
            return bad(
                "limits.override".into(),
                format!("{} entries; at most {MAX_OVERRIDES}", l.overrides.len()),
            );
        }
        for (i, o) in l.overrides.iter().enumerate() {
            let k = format!("limits.override[{i}]");
            check_net(&format!("{k}.prefix"), o.prefix)?;
            if let Some(j) = l.overrides[..i].iter().position(|p| p.prefix == o.prefix) {
                return bad(
                    format!("{k}.prefix"),
                    format!("`{}` is also limits.override[{j}]", o.prefix),
                );
            }
            if let Some(n) = o.source_prefix_len {
                check_len(&format!("{k}.source_prefix_len"), n, o.prefix.prefix_len())?;
            }
            check_rate(
                &k,
                o.new_sessions_per_second
                    .or(Some(l.new_sessions_per_second)),
                o.new_sessions_burst.or(Some(l.new_sessions_burst)),
            )?;
        }
        if self.port_policy.len() > MAX_PORT_RULES {
            return bad(
                "port_policy".into(),
                format!(
                    "{} entries; at most {MAX_PORT_RULES}",
                    self.port_policy.len()
                ),
            );
        }
        for (i, e) in self.port_policy.iter().enumerate() {
            check_rule(&format!("port_policy[{i}]"), e)?;
        }
        Ok(())
    }
}

fn check_len(key: &str, n: u8, at_least: u8) -> Result<(), (String, String)> {
    if n > 128 || n < at_least {
        return Err((
            key.into(),
            format!("{n} is outside {at_least}..=128 (the customer prefix length)"),
        ));
    }
    Ok(())
}

fn check_net(key: &str, n: Ipv6Net) -> Result<(), (String, String)> {
    if n.addr() != n.network() {
        return Err((
            key.into(),
            format!(
                "`{n}` has bits set after the first {}; did you mean `{}`?",
                n.prefix_len(),
                n.trunc()
            ),
        ));
    }
    Ok(())
}

fn check_rate(key: &str, rate: Option<u32>, burst: Option<u32>) -> Result<(), (String, String)> {
    let (rate, burst) = (rate.unwrap_or(0), burst.unwrap_or(0));
    if rate > MAX_RATE {
        return Err((
            format!("{key}.new_sessions_per_second"),
            format!("{rate} is above {MAX_RATE} (0 turns the limit off)"),
        ));
    }
    if burst > MAX_BURST {
        return Err((
            format!("{key}.new_sessions_burst"),
            format!("{burst} is above {MAX_BURST}"),
        ));
    }
    if rate != 0 && burst == 0 {
        return Err((
            format!("{key}.new_sessions_burst"),
            "must be at least 1 while new_sessions_per_second is set (0 would refuse every \
             new session)"
                .into(),
        ));
    }
    Ok(())
}

fn check_rule(k: &str, e: &PortPolicyEntry) -> Result<(), (String, String)> {
    let bad = |key: &str, p: String| Err((format!("{k}.{key}"), p));
    if e.proto == Proto::Icmp {
        return bad(
            "proto",
            "ICMP has no ports; write \"tcp\" or \"udp\"".into(),
        );
    }
    if e.ports.is_empty() {
        return bad(
            "ports",
            "is empty: list ports and ranges, such as [25, \"465\", \"587\"]".into(),
        );
    }
    if let Some((j, p)) = e.ports.iter().enumerate().find(|(_, p)| p.0.first == 0) {
        return bad(
            &format!("ports[{j}]"),
            format!(
                "`{}-{}` includes port 0, which no flow can have",
                p.0.first, p.0.last
            ),
        );
    }
    for (j, n) in e.from.iter().enumerate() {
        check_net(&format!("{k}.from[{j}]"), *n)?;
    }
    match e.action {
        ActionName::Limit => match e.new_sessions_per_minute {
            None | Some(0) => bad(
                "new_sessions_per_minute",
                "must be at least 1 with action = \"limit\" (action = \"deny\" refuses every \
                 flow)"
                    .into(),
            ),
            Some(_) if e.burst == Some(0) => bad(
                "burst",
                "must be at least 1 (leave it out for new_sessions_per_minute)".into(),
            ),
            Some(n) if e.burst.unwrap_or(n) > MAX_BURST => bad(
                "burst",
                format!(
                    "{} is above {MAX_BURST} (give burst when new_sessions_per_minute is above it)",
                    e.burst.unwrap_or(n)
                ),
            ),
            Some(_) => Ok(()),
        },
        ActionName::Deny | ActionName::Allow => {
            if e.new_sessions_per_minute.is_some() || e.burst.is_some() {
                return bad(
                    "action",
                    "new_sessions_per_minute and burst go only with action = \"limit\"".into(),
                );
            }
            Ok(())
        }
    }
}
