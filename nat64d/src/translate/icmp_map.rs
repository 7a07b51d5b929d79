//! The tables of ICMP error translation (RFC 7915 §4.2, §5.2; req N11):
//! type and code each way, the Parameter Problem pointer field by field,
//! and the RFC 1191 plateau estimate for a Fragmentation Needed without an
//! MTU.

use super::Config;
use crate::stats::DropReason;
use crate::wire::transport::{icmp4, icmp6};

/// RFC 7915 §5.2 Figure 6: IPv6 header pointer → IPv4 header pointer.
fn pointer_6to4(p: u32) -> Option<u8> {
    Some(match p {
        0 => 0,
        1 => 1,
        4 | 5 => 2,
        6 => 9,
        7 => 8,
        8..=23 => 12,
        24..=39 => 16,
        _ => return None,
    })
}

/// RFC 7915 §4.2 Figure 3: IPv4 header pointer → IPv6 header pointer.
fn pointer_4to6(p: u8) -> Option<u32> {
    Some(match p {
        0 => 0,
        1 => 1,
        2 | 3 => 4,
        8 => 7,
        9 => 6,
        12..=15 => 8,
        16..=19 => 24,
        _ => return None,
    })
}

/// RFC 1191 §7 plateau table, for a Fragmentation Needed without an MTU.
const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// The largest plateau below the length of the packet that did not fit.
fn plateau_below(len: usize) -> u16 {
    PLATEAUS
        .iter()
        .copied()
        .find(|&p| usize::from(p) < len)
        .unwrap_or(68)
}

/// ICMPv6 error type/code/rest → ICMPv4 (RFC 7915 §5.2).
pub(super) fn map_6to4(
    typ: u8,
    code: u8,
    rest: [u8; 4],
    cfg: &Config,
) -> Result<(u8, u8, [u8; 4]), DropReason> {
    let untranslatable = Err(DropReason::IcmpUntranslatable);
    match typ {
        icmp6::DEST_UNREACHABLE => {
            use icmp4::unreachable as u4;
            use icmp6::unreachable as u6;
            let c = match code {
                u6::NO_ROUTE | u6::BEYOND_SCOPE | u6::ADDRESS => u4::HOST,
                u6::ADMIN_PROHIBITED => u4::HOST_PROHIBITED,
                u6::PORT => u4::PORT,
                _ => return untranslatable,
            };
            Ok((icmp4::DEST_UNREACHABLE, c, [0; 4]))
        }
        icmp6::PACKET_TOO_BIG => {
            let mtu6 = u32::from_be_bytes(rest);
            let mtu = mtu6.saturating_sub(20).min(u32::from(cfg.ipv4_mtu));
            let [_, _, hi, lo] = mtu.min(0xffff).to_be_bytes();
            Ok((
                icmp4::DEST_UNREACHABLE,
                icmp4::unreachable::FRAG_NEEDED,
                [0, 0, hi, lo],
            ))
        }
        icmp6::TIME_EXCEEDED => Ok((icmp4::TIME_EXCEEDED, code, [0; 4])),
        icmp6::PARAM_PROBLEM => match code {
            icmp6::param_problem::HEADER_FIELD => {
                let p = pointer_6to4(u32::from_be_bytes(rest))
                    .ok_or(DropReason::UntranslatablePointer)?;
                Ok((
                    icmp4::PARAM_PROBLEM,
                    icmp4::param_problem::POINTER,
                    [p, 0, 0, 0],
                ))
            }
            icmp6::param_problem::NEXT_HEADER => Ok((
                icmp4::DEST_UNREACHABLE,
                icmp4::unreachable::PROTOCOL,
                [0; 4],
            )),
            _ => untranslatable,
        },
        _ => untranslatable,
    }
}

/// ICMPv4 error type/code/rest → ICMPv6 (RFC 7915 §4.2). `quoted_len` is
/// the total length of the quoted packet, for the plateau estimate.
pub(super) fn map_4to6(
    typ: u8,
    code: u8,
    rest: [u8; 4],
    quoted_len: usize,
) -> Result<(u8, u8, [u8; 4]), DropReason> {
    use icmp4::unreachable as u4;
    use icmp6::unreachable as u6;
    let untranslatable = Err(DropReason::IcmpUntranslatable);
    match typ {
        icmp4::DEST_UNREACHABLE => match code {
            u4::NET
            | u4::HOST
            | u4::SOURCE_ROUTE_FAILED..=u4::SOURCE_ISOLATED
            | u4::NET_TOS
            | u4::HOST_TOS => Ok((icmp6::DEST_UNREACHABLE, u6::NO_ROUTE, [0; 4])),
            u4::NET_PROHIBITED
            | u4::HOST_PROHIBITED
            | u4::ADMIN_PROHIBITED
            | u4::PRECEDENCE_CUTOFF => Ok((icmp6::DEST_UNREACHABLE, u6::ADMIN_PROHIBITED, [0; 4])),
            u4::PORT => Ok((icmp6::DEST_UNREACHABLE, u6::PORT, [0; 4])),
            // Pointer to the Next Header field.
            u4::PROTOCOL => Ok((
                icmp6::PARAM_PROBLEM,
                icmp6::param_problem::NEXT_HEADER,
                6u32.to_be_bytes(),
            )),
            u4::FRAG_NEEDED => {
                let reported = u16::from_be_bytes([rest[2], rest[3]]);
                let mtu4 = if reported == 0 {
                    plateau_below(quoted_len)
                } else {
                    reported
                };
                let mtu6 = (u32::from(mtu4) + 20).max(1280);
                Ok((icmp6::PACKET_TOO_BIG, 0, mtu6.to_be_bytes()))
            }
            _ => untranslatable,
        },
        icmp4::TIME_EXCEEDED => Ok((icmp6::TIME_EXCEEDED, code, [0; 4])),
        icmp4::PARAM_PROBLEM => match code {
            icmp4::param_problem::POINTER | icmp4::param_problem::BAD_LENGTH => {
                let p = pointer_4to6(rest[0]).ok_or(DropReason::UntranslatablePointer)?;
                Ok((
                    icmp6::PARAM_PROBLEM,
                    icmp6::param_problem::HEADER_FIELD,
                    p.to_be_bytes(),
                ))
            }
            _ => untranslatable,
        },
        _ => untranslatable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n11_pointer_tables() {
        assert_eq!(pointer_6to4(7), Some(8));
        assert_eq!(pointer_6to4(24), Some(16));
        assert_eq!(pointer_6to4(2), None);
        assert_eq!(pointer_4to6(9), Some(6));
        assert_eq!(pointer_4to6(16), Some(24));
        assert_eq!(pointer_4to6(10), None);
    }

    #[test]
    fn n11_plateaus() {
        assert_eq!(plateau_below(1500), 1492);
        assert_eq!(plateau_below(1492), 1006);
        assert_eq!(plateau_below(9000), 8166);
        assert_eq!(plateau_below(60), 68);
    }
}
