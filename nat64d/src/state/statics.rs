//! Static bindings (port forwarding to IPv6 servers; RFC 6146 §3.5.1,
//! req S7): configured, never expiring, replaced whole at a reload.

use super::shard::insert_bib;
use super::*;

impl Table {
    /// Replaces the static bindings (req S7) with `entries`: (protocol,
    /// IPv6 server, pool transport address). Sessions of removed entries
    /// stay until they expire, then the binding goes. Errors name a
    /// conflicting entry and change nothing.
    pub fn set_statics(
        &self,
        now: Secs,
        pool: &Pool,
        entries: &[(Proto, TransportAddr6, TransportAddr4)],
        events: &mut Vec<Event>,
    ) -> Result<(), String> {
        for (i, a) in entries.iter().enumerate() {
            if !pool.contains(a.2.addr) {
                return Err(format!("static {}: {} is not a pool address", i, a.2.addr));
            }
        }
        if let Err((i, e)) = check_statics(entries) {
            return Err(format!("static {i}: {e}"));
        }
        // A dynamic binding already holding a wanted pool port, or an IPv6
        // address+port, keeps it until it expires; the static entry then
        // cannot be installed now.
        for (i, (proto, v6, v4)) in entries.iter().enumerate() {
            let s = lock(&self.shards[pool.shard_of_port(v4.port)]);
            if let Some(id) = s.find4(*proto, v4) {
                let b = s.bibs[id as usize];
                if !b.is_static && b.v6 != *v6 {
                    return Err(format!(
                        "static {i}: {} {v4} is in use by {} until its sessions expire",
                        proto.name(),
                        b.v6
                    ));
                }
            }
        }
        let mut statics = self
            .statics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Unmark the old ones.
        for ((proto, v6), v4) in statics.iter() {
            let mut s = lock(&self.shards[pool.shard_of_port(v4.port)]);
            let s = &mut *s;
            if let Some(id) = s.find4(*proto, v4) {
                let b = &mut s.bibs[id as usize];
                b.is_static = false;
                if b.sessions == 0 {
                    s.unindex(id);
                    events.push(Event {
                        at: now,
                        created: false,
                        proto: *proto,
                        v6: *v6,
                        v4: *v4,
                        is_static: true,
                    });
                }
            }
        }
        statics.clear();
        for (proto, v6, v4) in entries {
            statics.insert((*proto, *v6), *v4);
            let mut s = lock(&self.shards[pool.shard_of_port(v4.port)]);
            let s = &mut *s;
            if let Some(id) = s.find4(*proto, v4) {
                s.bibs[id as usize].is_static = true;
            } else {
                insert_bib(s, *proto, *v6, *v4, 0, true);
                events.push(Event {
                    at: now,
                    created: true,
                    proto: *proto,
                    v6: *v6,
                    v4: *v4,
                    is_static: true,
                });
            }
        }
        Ok(())
    }
}

/// The static entries' own consistency, the same at `--check-config`, at
/// start and at a reload: no two entries of one protocol share the IPv6
/// server's transport address or the pool's (a binding is one to one, RFC
/// 6146 §3.5.1). The error names the later entry (its index) and the
/// earlier one it clashes with.
pub fn check_statics(
    entries: &[(Proto, TransportAddr6, TransportAddr4)],
) -> Result<(), (usize, String)> {
    for (i, a) in entries.iter().enumerate() {
        for (j, b) in entries[..i].iter().enumerate() {
            if a.0 == b.0 && (a.1 == b.1 || a.2 == b.2) {
                let shared = if a.2 == b.2 {
                    format!("pool address {}", a.2)
                } else {
                    format!("IPv6 server {}", a.1)
                };
                return Err((
                    i,
                    format!(
                        "{} {} ↔ {} uses the same {shared} as entry {j}; a static binding is one to one",
                        a.0.name(),
                        a.1,
                        a.2
                    ),
                ));
            }
        }
    }
    Ok(())
}
