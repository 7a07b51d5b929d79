//! The simultaneous-open hold (RFC 6146 §3.5.2.2; req S4): an unsolicited
//! IPv4 SYN waits, in a bounded queue per shard, for the IPv6 host's own
//! SYN; the sweep answers those whose time ran out.

use super::*;

impl Table {
    /// Holds an unsolicited IPv4 SYN (req S4); bounded.
    pub(super) fn hold(
        &self,
        s: &mut Shard,
        now: Secs,
        v4: TransportAddr4,
        remote: TransportAddr4,
        packet: &[u8],
    ) -> Result<In, DropReason> {
        if s.held
            .iter()
            .any(|h| h.proto_v4 == v4 && h.remote == remote)
        {
            // A retransmission of a SYN already held.
            return Err(DropReason::SynHeld);
        }
        if self.held_total.load(Ordering::Relaxed) >= s.cfg.max_held_syns {
            return Err(DropReason::SynHoldFull);
        }
        self.held_total.fetch_add(1, Ordering::Relaxed);
        // Enough of the packet for the Port Unreachable that may answer it
        // (an ICMPv4 error is at most 576 bytes).
        let keep = packet.len().min(548);
        s.held.push_back(HeldSyn {
            proto_v4: v4,
            remote,
            deadline: now + s.cfg.timeouts.syn_hold,
            packet: packet[..keep].into(),
        });
        Err(DropReason::SynHeld)
    }
}
