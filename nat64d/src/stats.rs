//! Why a packet was not translated: every exit of the packet path that is
//! not a successful translation is a [`DropReason`], and each reason is a
//! counter (req O2). The pure code returns reasons; it never logs.

/// Every way the translator refuses a packet. Each variant cites the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than the fixed IPv4 or IPv6 header.
    TruncatedHeader,
    /// The version field does not match the header being read.
    BadVersion,
    /// IPv4 IHL below 5 or beyond the total length (RFC 791).
    BadHeaderLength,
    /// The IPv4 total length or IPv6 payload length claims more bytes than
    /// arrived, or less than the header.
    BadTotalLength,
    /// The IPv4 header checksum is wrong (RFC 791; RFC 7915 §4 translates
    /// only valid packets).
    BadIpv4Checksum,
    /// More IPv6 extension headers than we walk, or one that runs past the
    /// packet (RFC 8200 §4).
    BadExtensionHeaders,
    /// Hop-by-Hop Options not first (RFC 8200 §4.3).
    MisplacedHopByHop,
    /// An upper-layer protocol other than TCP, UDP and ICMP (RFC 6146 §3:
    /// the stateful translator handles only these).
    UnsupportedProtocol,
    /// The transport header is shorter than its fixed part or its own
    /// length field (TCP data offset, UDP length).
    TruncatedTransport,
    /// IPv6 UDP with checksum zero, invalid in IPv6 (RFC 8200 §8.1).
    Udp6ZeroChecksum,
    /// IPv4 UDP with checksum zero in a fragment: the checksum cannot be
    /// computed without the whole datagram (req N8, RFC 7915 §4.5).
    Udp4ZeroChecksumFragment,
    /// An ICMP informational message other than Echo Request/Reply (req
    /// N10, RFC 7915 §4.2, §5.2).
    IcmpInformational,
    /// An ICMP error type or code with no translation (RFC 7915 §4.2, §5.2).
    IcmpUntranslatable,
    /// A fragmented ICMP message: its checksum cannot be adjusted without
    /// reassembly (RFC 7915 §5.2 ICMPv6 checksum over the pseudo-header).
    IcmpFragmented,
    /// The translated packet would exceed 65535 bytes.
    TooBig,
    /// No room in the caller's buffer for the grown header (a caller bug,
    /// counted rather than panicking).
    NoHeadroom,
    /// An ICMP error whose own TTL / Hop Limit runs out here: no error is
    /// sent about an error (RFC 4443 §2.4(e), RFC 1812 §4.3.2.7).
    ErrorHopLimitExpired,
    /// An ICMP error flow was passed to `translate4` instead of
    /// `translate4_error` (a caller bug, counted rather than panicking).
    WrongEntryPoint,
    /// IPv6 Next Header is "No Next Header" (59): nothing to translate.
    NoNextHeader,
    /// An error would go to an unspecified, multicast or broadcast source
    /// (RFC 4443 §2.4(e), RFC 1812 §4.3.2.7).
    ErrorToInvalidSource,
    /// The packet quoted in an ICMP error is too short to find its flow (the
    /// IP header, or the ports / echo identifier), req N12.
    TruncatedInner,
    /// The packet quoted in an ICMP error is itself an ICMP error or an ICMP
    /// informational message: errors are translated once only (req N12).
    IcmpErrorInError,
    /// The quoted packet is a non-first fragment: it has no ports to find
    /// its session by.
    InnerFragment,
    /// The checksum of an ICMP error is wrong (RFC 7915 §4.2, §5.2: it is
    /// recomputed, so a bad one must not be made good).
    BadIcmpChecksum,
    /// A Parameter Problem whose pointer has no counterpart in the other
    /// header (RFC 7915 §4.2 Figure 3, §5.2 Figure 6).
    UntranslatablePointer,
    /// A packet to fragment (req N4, N7) whose egress MTU leaves no room
    /// for 8 bytes of payload after the repeated headers (a configuration
    /// the daemon refuses; counted should it ever happen).
    MtuTooSmall,
    /// The IPv6 source is outside `allow_from` (req O4).
    SourceNotAllowed,
    /// The IPv4 destination is in `deny_to` or a non-global range
    /// (req O4; RFC 6052 §3.1 for the well-known prefix).
    DestinationDenied,
    /// The IPv6 destination is in none of the configured prefixes.
    NotInPrefix,
    /// The IPv4 destination is not a pool address.
    NotInPool,
    /// An IPv4 packet to a pool transport address no binding holds
    /// (req S3; RFC 6146 §3.5.1).
    NoBinding,
    /// An ICMP error, a non-first fragment or a packet that cannot open a
    /// session found no session (req S9, S10).
    NoSession,
    /// A TCP packet other than a SYN for a session that does not exist
    /// (RFC 6146 §3.5.2.2, CLOSED state).
    TcpNotSyn,
    /// An IPv4 packet refused by address-dependent filtering (req S3).
    Filtered,
    /// No free pool transport address for a new binding (req S6).
    PoolExhausted,
    /// An IPv6 source no host may use, whatever `allow_from` says:
    /// unspecified, loopback, multicast, or inside a NAT64 prefix (RFC 4291
    /// §2.5.2, §2.5.3, §2.7; RFC 6146 §3.5; req O4).
    InvalidSource,
    /// The table holds `max_sessions` sessions (req O4, memory bound).
    SessionLimit,
    /// The customer prefix of the IPv6 source (`limits.source_prefix_len`
    /// or an override) holds its most sessions (`sessions_per_source`,
    /// req O4); answered with ICMPv6 administratively prohibited.
    SourceSessionLimit,
    /// The customer prefix of the IPv6 source opens new sessions faster
    /// than `new_sessions_per_second` allows (req O4); answered with
    /// ICMPv6 administratively prohibited.
    SourceRateLimit,
    /// A new flow to a destination port a `port_policy` entry denies
    /// (req O4); answered with ICMPv6 administratively prohibited.
    PortDenied,
    /// A new flow to a destination port a `port_policy` entry limits, from
    /// a customer prefix over that limit (req O4); answered with ICMPv6
    /// administratively prohibited.
    PortRateLimit,
    /// A new session the IPv4 side would open on a binding that holds its
    /// share of unanswered inbound sessions already (`inbound_sessions_per_binding`),
    /// or the table's (a quarter of `max_sessions`): RFC 6146 §3.5.1 lets
    /// any IPv4 host use a binding (endpoint-independent filtering); this
    /// bounds what a spray at one binding may hold.
    InboundSessionLimit,
    /// An unsolicited IPv4 SYN, held for simultaneous open (req S4); not
    /// lost: answered after the hold with Port Unreachable, or superseded
    /// by the IPv6 side's SYN.
    SynHeld,
    /// An unsolicited IPv4 SYN with the hold queue full (req S4).
    SynHoldFull,
    /// A held fragment whose first fragment did not arrive in time
    /// (req S9).
    FragmentTimeout,
    /// A non-first fragment that arrived before its first with the
    /// fragment memory full (req S9: bounded).
    FragmentHoldFull,
    /// A virtio-net header (TUN offload) the kernel should not have sent:
    /// checksum offsets beyond the packet, an unknown segmentation type, or
    /// a super-packet that cannot be cut into segments.
    BadOffload,
}

impl DropReason {
    /// Every variant, for counters and metrics.
    pub const ALL: &'static [DropReason] = &[
        DropReason::TruncatedHeader,
        DropReason::BadVersion,
        DropReason::BadHeaderLength,
        DropReason::BadTotalLength,
        DropReason::BadIpv4Checksum,
        DropReason::BadExtensionHeaders,
        DropReason::MisplacedHopByHop,
        DropReason::UnsupportedProtocol,
        DropReason::TruncatedTransport,
        DropReason::Udp6ZeroChecksum,
        DropReason::Udp4ZeroChecksumFragment,
        DropReason::IcmpInformational,
        DropReason::IcmpUntranslatable,
        DropReason::IcmpFragmented,
        DropReason::TooBig,
        DropReason::NoHeadroom,
        DropReason::ErrorHopLimitExpired,
        DropReason::WrongEntryPoint,
        DropReason::NoNextHeader,
        DropReason::ErrorToInvalidSource,
        DropReason::TruncatedInner,
        DropReason::IcmpErrorInError,
        DropReason::InnerFragment,
        DropReason::BadIcmpChecksum,
        DropReason::UntranslatablePointer,
        DropReason::MtuTooSmall,
        DropReason::SourceNotAllowed,
        DropReason::DestinationDenied,
        DropReason::NotInPrefix,
        DropReason::NotInPool,
        DropReason::NoBinding,
        DropReason::NoSession,
        DropReason::TcpNotSyn,
        DropReason::Filtered,
        DropReason::PoolExhausted,
        DropReason::InvalidSource,
        DropReason::SessionLimit,
        DropReason::SourceSessionLimit,
        DropReason::SourceRateLimit,
        DropReason::PortDenied,
        DropReason::PortRateLimit,
        DropReason::InboundSessionLimit,
        DropReason::SynHeld,
        DropReason::SynHoldFull,
        DropReason::FragmentTimeout,
        DropReason::FragmentHoldFull,
        DropReason::BadOffload,
    ];

    /// A stable snake_case name, for metric labels.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::TruncatedHeader => "truncated_header",
            DropReason::BadVersion => "bad_version",
            DropReason::BadHeaderLength => "bad_header_length",
            DropReason::BadTotalLength => "bad_total_length",
            DropReason::BadIpv4Checksum => "bad_ipv4_checksum",
            DropReason::BadExtensionHeaders => "bad_extension_headers",
            DropReason::MisplacedHopByHop => "misplaced_hop_by_hop",
            DropReason::UnsupportedProtocol => "unsupported_protocol",
            DropReason::TruncatedTransport => "truncated_transport",
            DropReason::Udp6ZeroChecksum => "udp6_zero_checksum",
            DropReason::Udp4ZeroChecksumFragment => "udp4_zero_checksum_fragment",
            DropReason::IcmpInformational => "icmp_informational",
            DropReason::IcmpUntranslatable => "icmp_untranslatable",
            DropReason::IcmpFragmented => "icmp_fragmented",
            DropReason::TooBig => "too_big",
            DropReason::NoHeadroom => "no_headroom",
            DropReason::ErrorHopLimitExpired => "error_hop_limit_expired",
            DropReason::WrongEntryPoint => "wrong_entry_point",
            DropReason::NoNextHeader => "no_next_header",
            DropReason::ErrorToInvalidSource => "error_to_invalid_source",
            DropReason::TruncatedInner => "truncated_inner",
            DropReason::IcmpErrorInError => "icmp_error_in_error",
            DropReason::InnerFragment => "inner_fragment",
            DropReason::BadIcmpChecksum => "bad_icmp_checksum",
            DropReason::UntranslatablePointer => "untranslatable_pointer",
            DropReason::MtuTooSmall => "mtu_too_small",
            DropReason::SourceNotAllowed => "source_not_allowed",
            DropReason::DestinationDenied => "destination_denied",
            DropReason::NotInPrefix => "not_in_prefix",
            DropReason::NotInPool => "not_in_pool",
            DropReason::NoBinding => "no_binding",
            DropReason::NoSession => "no_session",
            DropReason::TcpNotSyn => "tcp_not_syn",
            DropReason::Filtered => "filtered",
            DropReason::PoolExhausted => "pool_exhausted",
            DropReason::InvalidSource => "invalid_source",
            DropReason::SessionLimit => "session_limit",
            DropReason::SourceSessionLimit => "source_session_limit",
            DropReason::SourceRateLimit => "source_rate_limit",
            DropReason::PortDenied => "port_denied",
            DropReason::PortRateLimit => "port_rate_limit",
            DropReason::InboundSessionLimit => "inbound_session_limit",
            DropReason::SynHeld => "syn_held",
            DropReason::SynHoldFull => "syn_hold_full",
            DropReason::FragmentTimeout => "fragment_timeout",
            DropReason::FragmentHoldFull => "fragment_hold_full",
            DropReason::BadOffload => "bad_offload",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}

/// Packet counters of one worker thread, summed at scrape time (no
/// contention on the packet path: each worker writes only its own).
#[derive(Debug)]
pub struct Counters {
    /// Drops by reason, in [`DropReason::ALL`] order.
    pub drops: Vec<std::sync::atomic::AtomicU64>,
    /// Packets and bytes translated: IPv6→IPv4, IPv4→IPv6, hairpin.
    pub packets: [std::sync::atomic::AtomicU64; 3],
    /// Bytes read for the packets counted in `packets`.
    pub bytes: [std::sync::atomic::AtomicU64; 3],
    /// ICMP errors the translator generated and sent (req N13).
    pub own_errors: std::sync::atomic::AtomicU64,
    /// ICMP errors the translator did not send: over the rate limit.
    pub own_errors_limited: std::sync::atomic::AtomicU64,
    /// Fragments sent by the translator's own fragmentation.
    pub fragments: std::sync::atomic::AtomicU64,
    /// TUN write errors.
    pub write_errors: std::sync::atomic::AtomicU64,
    /// Super-packets (TUN offload) translated whole.
    pub gso_whole: std::sync::atomic::AtomicU64,
    /// Super-packets cut into segments in software first (their segments
    /// did not fit the egress MTU, or their headers are unusual).
    pub gso_cut: std::sync::atomic::AtomicU64,
    /// Packets read from the TUN, IPv6 and IPv4 (a super-packet is one).
    pub read: [std::sync::atomic::AtomicU64; 2],
    /// Reads that were super-packets (TUN offload).
    pub superpackets_read: std::sync::atomic::AtomicU64,
    /// Packets processed that were translated and sent (whole or in
    /// fragments; a super-packet translated whole is one), by way.
    pub forwarded: [std::sync::atomic::AtomicU64; 3],
    /// Packets processed that were answered with one of the translator's
    /// own ICMP errors instead of being translated (Packet Too Big, Time
    /// Exceeded, Parameter Problem...), sent or rate-limited.
    pub answered: std::sync::atomic::AtomicU64,
    /// Segments made by cutting super-packets in software.
    pub segments: std::sync::atomic::AtomicU64,
    /// Fragments held for their first fragment (req S9).
    pub held: std::sync::atomic::AtomicU64,
    /// The kernel's own link-scope packets into the TUN, ignored (not
    /// drops): [`crate::verdict::Verdict::Ignored`].
    pub ignored: std::sync::atomic::AtomicU64,
    /// Held fragments released by their first and processed again.
    pub released: std::sync::atomic::AtomicU64,
    /// UDP super-packets written from coalesced datagrams (two or more).
    pub coalesced_writes: std::sync::atomic::AtomicU64,
    /// Datagrams written inside those super-packets.
    pub coalesced: std::sync::atomic::AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            drops: DropReason::ALL.iter().map(|_| Default::default()).collect(),
            packets: Default::default(),
            bytes: Default::default(),
            own_errors: Default::default(),
            own_errors_limited: Default::default(),
            fragments: Default::default(),
            write_errors: Default::default(),
            gso_whole: Default::default(),
            gso_cut: Default::default(),
            read: Default::default(),
            superpackets_read: Default::default(),
            forwarded: Default::default(),
            answered: Default::default(),
            segments: Default::default(),
            held: Default::default(),
            ignored: Default::default(),
            released: Default::default(),
            coalesced_writes: Default::default(),
            coalesced: Default::default(),
        }
    }
}

impl Counters {
    /// Counts a drop.
    #[inline]
    pub fn drop(&self, r: DropReason) {
        self.drop_n(r, 1);
    }

    /// Counts `n` drops for `r`.
    pub fn drop_n(&self, r: DropReason, n: u64) {
        if let Some(c) = self.drops.get(r as usize) {
            c.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod counter_tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_slot_and_name() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "ALL is in declaration order");
        }
        let names: std::collections::HashSet<_> =
            DropReason::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}
