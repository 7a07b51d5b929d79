//! What the `[nat64]` section means for each layer: the policy, the static
//! bindings, the translation settings, the table's shards, and which keys a
//! reload cannot change.

use std::net::Ipv4Addr;

use common::PrefixConfig;
use common::prefix::embed;

use super::{File, Nat64Config};
use crate::flow::{Proto, TransportAddr4, TransportAddr6};
use crate::gateway::Policy;
use crate::translate;

impl Nat64Config {
    /// Who may use the translator and where it may not lead (req O4).
    pub fn policy(&self, prefix: &PrefixConfig) -> Policy {
        Policy {
            allow_from: self.allow_from.clone(),
            deny_to: self.deny_to.clone(),
            allow_non_global: prefix.allow_non_global,
        }
    }

    /// The static bindings (req S7) as the table takes them.
    pub fn statics(&self) -> Vec<(Proto, TransportAddr6, TransportAddr4)> {
        self.statics
            .iter()
            .map(|s| {
                (
                    s.proto,
                    TransportAddr6 {
                        addr: *s.ipv6.ip(),
                        port: s.ipv6.port(),
                    },
                    TransportAddr4 {
                        addr: *s.ipv4.ip(),
                        port: s.ipv4.port(),
                    },
                )
            })
            .collect()
    }

    /// The translator's own IPv4 address (req N13): `own_ipv4`, or the
    /// first pool address.
    pub fn own_v4(&self) -> Ipv4Addr {
        self.own_ipv4.unwrap_or_else(|| {
            self.pool4
                .first()
                .map_or(Ipv4Addr::UNSPECIFIED, |p| p.network())
        })
    }

    /// The translation settings (RFC 7915): MTUs, TOS, own addresses
    /// (`own_ipv6` defaults to the own IPv4 address inside the first
    /// prefix).
    pub fn xlat(&self, prefix: &PrefixConfig) -> translate::Config {
        let own_v4 = self.own_v4();
        let first = prefix
            .prefixes
            .as_slice()
            .first()
            .unwrap_or(&common::WELL_KNOWN_PREFIX);
        translate::Config {
            ipv4_mtu: self.mtu,
            ipv6_mtu: self.ipv6_mtu,
            zero_tos: self.zero_tos,
            own_v4,
            own_v6: self.own_ipv6.unwrap_or_else(|| embed(first, own_v4)),
        }
    }

    /// Table shards: a power of two, at most 64, each with at least 512
    /// ports of the narrowest range (so a small pool is not cut into
    /// useless slivers).
    pub fn shard_count(&self) -> usize {
        let narrowest = self.ranges().iter().map(|r| r.len()).min().unwrap_or(1);
        let mut n = 64usize;
        while n > 1 && narrowest / (n as u32) < 512 {
            n /= 2;
        }
        n
    }
}

/// The keys that take effect only when nat64d starts, and so the one place
/// that says which keys a reload cannot change: the TUN device, its queues
/// and workers, the pool and its ports, the prefixes, the MTUs, the own
/// addresses, the metrics listener, routes, offload, adopting the TUN. On SIGHUP, `new` (the
/// file just read) gets the running value of each of them back; the names
/// of those the file changed are returned, for the log. Every other key of
/// the file is applied by the reload as it is.
pub fn keep_restart_only(running: &File, new: &mut File) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! keep {
        ($name:literal, $($field:ident).+) => {
            if new.$($field).+ != running.$($field).+ {
                changed.push($name);
                new.$($field).+ = running.$($field).+.clone();
            }
        };
    }
    keep!("prefix.prefixes", prefix.prefixes);
    keep!("nat64.tun", nat64.tun);
    keep!("nat64.threads", nat64.threads);
    keep!("nat64.pin_workers", nat64.pin_workers);
    keep!("nat64.pool4", nat64.pool4);
    keep!("nat64.ports", nat64.ports);
    keep!("nat64.mtu", nat64.mtu);
    keep!("nat64.ipv6_mtu", nat64.ipv6_mtu);
    keep!("nat64.own_ipv4", nat64.own_ipv4);
    keep!("nat64.own_ipv6", nat64.own_ipv6);
    keep!("nat64.zero_tos", nat64.zero_tos);
    keep!("nat64.metrics", nat64.metrics);
    keep!("nat64.routes", nat64.routes);
    keep!("nat64.offload", nat64.offload);
    keep!("nat64.adopt_tun", nat64.adopt_tun);
    keep!("nat64.control", nat64.control);
    changed
}
