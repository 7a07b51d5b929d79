//! What to do with a packet once the translator has seen it: the one
//! verdict type of the packet path. The translation functions
//! ([`crate::translate`]) produce [`Verdict::Forward`], [`Verdict::Reply`],
//! [`Verdict::Fragment`] and [`Verdict::Segment`] (and `Err` with a
//! [`DropReason`]); the whole stateful path ([`crate::gateway`]) adds
//! [`Verdict::Refuse`] and [`Verdict::Drop`]; the driver
//! ([`crate::driver`]) carries every verdict out. Every range is in the
//! buffer the packet was read into.

use crate::stats::DropReason;

/// What to do with the buffer a packet was processed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send `buf[start..start + len]` on the other side: the translation.
    Forward {
        /// Offset of the first byte.
        start: usize,
        /// Length.
        len: usize,
    },
    /// Send `buf[start..start + len]` back where the packet came from: an
    /// ICMP error the translator generated (same family as the input;
    /// rate-limited, req N13).
    Reply {
        /// Offset of the first byte.
        start: usize,
        /// Length.
        len: usize,
    },
    /// `buf[start..start + len]` is the whole translation, larger than the
    /// egress MTU and allowed to be fragmented (req N4, N7): send the
    /// pieces [`crate::translate::Fragments::new`]`(&buf[start..start +
    /// len], mtu)` cuts.
    Fragment {
        /// Offset of the first byte.
        start: usize,
        /// Length of the whole translated packet.
        len: usize,
        /// The egress MTU each fragment must fit.
        mtu: u16,
    },
    /// `buf[start..start + len]`, untouched, is a super-packet (TUN
    /// offload) whose segments do not fit the egress MTU whole: cut it into
    /// segments ([`crate::offload::segment`]) and process those, which
    /// then get Packet Too Big or are fragmented one by one.
    Segment {
        /// Offset of the first byte.
        start: usize,
        /// Length.
        len: usize,
    },
    /// The packet is dropped for `reason` (counted), and the translator
    /// answers its source with the ICMP error at `buf[start..start + len]`
    /// (rate-limited, req N13): Address Unreachable when the pool is full
    /// (req S6), Port Unreachable for UDP to a pool port no binding holds
    /// (req S3).
    Refuse {
        /// Why the packet was dropped.
        reason: DropReason,
        /// Offset of the error.
        start: usize,
        /// Length of the error.
        len: usize,
    },
    /// A fragment after the first that came before its first, held (req
    /// S9): processed again when the first arrives, or counted as
    /// `fragment_timeout` when it does not.
    Held,
    /// Not for the translator and not a drop: the kernel's own link-scope
    /// traffic into the TUN (router solicitations, MLD reports: a
    /// multicast destination or a link-local source), counted apart.
    Ignored,
    /// Nothing to send.
    Drop(DropReason),
}
