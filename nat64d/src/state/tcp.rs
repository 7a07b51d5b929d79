//! The TCP session state machine of RFC 6146 §3.5.2.2, as a pure function
//! (req S4): the current state, the packet's direction and flags in; the
//! next state and which lifetime the session gets out.

/// TCP session states (RFC 6146 §3.5.2.2, Figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// No session yet (only as the input of a session being created).
    Closed,
    /// An IPv6 SYN went out; waiting for the IPv4 SYN.
    V6Init,
    /// An IPv4 SYN came in; waiting for the IPv6 SYN.
    V4Init,
    /// Both SYNs seen.
    Established,
    /// A FIN from the IPv4 side.
    V4FinRcv,
    /// A FIN from the IPv6 side.
    V6FinRcv,
    /// FINs from both sides: the session lives out the transitory lifetime.
    V4FinV6FinRcv,
    /// After a RST, or an established session about to expire.
    Trans,
}

impl TcpState {
    /// The name used in metrics labels and session listings.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "closed",
            TcpState::V6Init => "v6_init",
            TcpState::V4Init => "v4_init",
            TcpState::Established => "established",
            TcpState::V4FinRcv => "v4_fin_rcv",
            TcpState::V6FinRcv => "v6_fin_rcv",
            TcpState::V4FinV6FinRcv => "v4_fin_v6_fin_rcv",
            TcpState::Trans => "trans",
        }
    }

    /// Every state, for metrics.
    pub const ALL: [TcpState; 8] = [
        TcpState::Closed,
        TcpState::V6Init,
        TcpState::V4Init,
        TcpState::Established,
        TcpState::V4FinRcv,
        TcpState::V6FinRcv,
        TcpState::V4FinV6FinRcv,
        TcpState::Trans,
    ];
}

/// Which side a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From an IPv6 host (outbound).
    V6,
    /// From the IPv4 side (inbound).
    V4,
}

/// The lifetime a transition gives the session (RFC 6146 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// TCP_EST: 2 h 4 min by default.
    Established,
    /// TCP_TRANS: 4 min by default.
    Transitory,
    /// Leave the deadline as it is.
    Unchanged,
}

/// TCP flag bits (RFC 9293 §3.1).
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
}

/// The next state and lifetime of a session in `state` after a packet from
/// `dir` with TCP `flags` (RFC 6146 §3.5.2.2). A session being created
/// starts from [`TcpState::Closed`]; the caller creates it only for a SYN
/// (see [`opens`]).
pub fn next(state: TcpState, dir: Dir, tcp_flags: u8) -> (TcpState, Lifetime) {
    let syn = tcp_flags & flags::SYN != 0;
    let fin = tcp_flags & flags::FIN != 0;
    let rst = tcp_flags & flags::RST != 0;
    use Dir::{V4, V6};
    use Lifetime::{Established as Est, Transitory as Trans, Unchanged};
    use TcpState as S;
    match state {
        S::Closed => match dir {
            V6 if syn => (S::V6Init, Trans),
            V4 if syn => (S::V4Init, Trans),
            _ => (S::Closed, Unchanged),
        },
        S::V6Init => match dir {
            V4 if syn => (S::Established, Est),
            V6 if syn => (S::V6Init, Trans),
            _ => (S::V6Init, Unchanged),
        },
        S::V4Init => match dir {
            V6 if syn => (S::Established, Est),
            _ => (S::V4Init, Unchanged),
        },
        S::Established => {
            if rst {
                (S::Trans, Trans)
            } else if fin {
                match dir {
                    V4 => (S::V4FinRcv, Est),
                    V6 => (S::V6FinRcv, Est),
                }
            } else {
                (S::Established, Est)
            }
        }
        S::V4FinRcv => match dir {
            V6 if fin => (S::V4FinV6FinRcv, Trans),
            _ => (S::V4FinRcv, Est),
        },
        S::V6FinRcv => match dir {
            V4 if fin => (S::V4FinV6FinRcv, Trans),
            _ => (S::V6FinRcv, Est),
        },
        S::V4FinV6FinRcv => (S::V4FinV6FinRcv, Unchanged),
        S::Trans => {
            if rst {
                (S::Trans, Unchanged)
            } else {
                (S::Established, Est)
            }
        }
    }
}

/// Whether a packet may create a TCP session: only a SYN (RFC 6146
/// §3.5.2.2, CLOSED state: anything else is dropped).
pub fn opens(tcp_flags: u8) -> bool {
    tcp_flags & flags::SYN != 0 && tcp_flags & flags::RST == 0
}

#[cfg(test)]
mod tests {
    use super::flags::{FIN, RST, SYN};
    use super::*;

    const ACK: u8 = 0x10;

    #[test]
    fn s4_outbound_open_close() {
        let (s, l) = next(TcpState::Closed, Dir::V6, SYN);
        assert_eq!((s, l), (TcpState::V6Init, Lifetime::Transitory));
        let (s, l) = next(s, Dir::V4, SYN | ACK);
        assert_eq!((s, l), (TcpState::Established, Lifetime::Established));
        let (s, _) = next(s, Dir::V6, ACK);
        assert_eq!(s, TcpState::Established);
        let (s, l) = next(s, Dir::V6, FIN | ACK);
        assert_eq!((s, l), (TcpState::V6FinRcv, Lifetime::Established));
        let (s, _) = next(s, Dir::V6, ACK);
        assert_eq!(s, TcpState::V6FinRcv, "a second IPv6 FIN changes nothing");
        let (s, l) = next(s, Dir::V4, FIN | ACK);
        assert_eq!((s, l), (TcpState::V4FinV6FinRcv, Lifetime::Transitory));
        let (s, l) = next(s, Dir::V6, ACK);
        assert_eq!((s, l), (TcpState::V4FinV6FinRcv, Lifetime::Unchanged));
    }

    #[test]
    fn s4_inbound_open_and_v4_fin_first() {
        let (s, _) = next(TcpState::Closed, Dir::V4, SYN);
        assert_eq!(s, TcpState::V4Init);
        let (s, l) = next(s, Dir::V4, SYN);
        assert_eq!((s, l), (TcpState::V4Init, Lifetime::Unchanged));
        let (s, l) = next(s, Dir::V6, SYN | ACK);
        assert_eq!((s, l), (TcpState::Established, Lifetime::Established));
        let (s, _) = next(s, Dir::V4, FIN);
        assert_eq!(s, TcpState::V4FinRcv);
        let (s, _) = next(s, Dir::V6, FIN);
        assert_eq!(s, TcpState::V4FinV6FinRcv);
    }

    #[test]
    fn s4_simultaneous_open_v6_init_retransmit() {
        let (s, _) = next(TcpState::Closed, Dir::V6, SYN);
        let (s, l) = next(s, Dir::V6, SYN);
        assert_eq!((s, l), (TcpState::V6Init, Lifetime::Transitory));
        let (s, _) = next(s, Dir::V4, ACK);
        assert_eq!(s, TcpState::V6Init, "no SYN: no progress");
    }

    #[test]
    fn s4_rst_and_trans() {
        let (s, l) = next(TcpState::Established, Dir::V4, RST);
        assert_eq!((s, l), (TcpState::Trans, Lifetime::Transitory));
        let (s2, l) = next(s, Dir::V6, RST);
        assert_eq!((s2, l), (TcpState::Trans, Lifetime::Unchanged));
        let (s, l) = next(s, Dir::V6, ACK);
        assert_eq!((s, l), (TcpState::Established, Lifetime::Established));
        let (s, l) = next(TcpState::Established, Dir::V6, RST | ACK);
        assert_eq!((s, l), (TcpState::Trans, Lifetime::Transitory));
    }

    #[test]
    fn s4_only_syn_opens() {
        assert!(opens(SYN));
        assert!(opens(SYN | ACK));
        assert!(!opens(ACK));
        assert!(!opens(SYN | RST));
        assert_eq!(
            next(TcpState::Closed, Dir::V6, ACK),
            (TcpState::Closed, Lifetime::Unchanged)
        );
    }
}
