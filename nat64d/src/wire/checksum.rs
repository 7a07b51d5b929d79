//! Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Sums are carried as `u32` partial one's-complement sums and folded at the
//! end. An incremental update keeps a bad checksum bad (req N9): it never
//! recomputes from the data.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The one's-complement sum of `data` as 16-bit big-endian words, a trailing
/// odd byte padded with zero. Not folded.
#[inline]
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (w >> 48) + ((w >> 32) & 0xffff) + ((w >> 16) & 0xffff) + (w & 0xffff);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = rest.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold64(acc)
}

fn fold64(mut acc: u64) -> u32 {
    while acc > 0xffff_ffff {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
}

/// Folds a partial sum to 16 bits (end-around carry).
#[inline]
pub fn fold(s: u32) -> u16 {
    // Two end-around carries fold any u32 (the first leaves at most
    // 0x1fffe, the second at most 0xffff): no loop, no branch.
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// The checksum field value for data whose partial sum is `s`.
#[inline]
pub fn finish(s: u32) -> u16 {
    !fold(s)
}

/// Partial sum of an IPv4 address.
#[inline]
pub fn sum_v4(a: Ipv4Addr) -> u32 {
    let b = a.to_bits();
    (b >> 16) + (b & 0xffff)
}

/// Partial sum of an IPv6 address (congruent, modulo 0xffff, to the sum of
/// its eight 16-bit words, which is all a one's-complement sum needs).
#[inline]
pub fn sum_v6(a: Ipv6Addr) -> u32 {
    // Summed in native byte order and swapped once at the end (RFC 1071
    // §2(B): the one's-complement sum is byte-order independent), which
    // saves the four byte swaps of reading the words big-endian.
    let n = u128::from_ne_bytes(a.octets());
    let (hi, lo) = ((n >> 64) as u64, n as u64);
    let (s, carry) = hi.overflowing_add(lo);
    // With a carry, s ≤ 2^64 − 2: adding it back cannot overflow.
    let s = s + u64::from(carry);
    let s = (s >> 32) + (s & 0xffff_ffff);
    let s = (s >> 16) + (s & 0xffff);
    let s = (s >> 16) + (s & 0xffff);
    u32::from(u16::from_be(s as u16))
}

/// Partial sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1).
#[inline]
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    sum_v4(src) + sum_v4(dst) + u32::from(proto) + u32::from(len)
}

/// Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1).
#[inline]
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, len: u32) -> u32 {
    sum_v6(src) + sum_v6(dst) + (len >> 16) + (len & 0xffff) + u32::from(next)
}

/// RFC 1624 eqn. 3: the checksum after fields summing to `old` were replaced
/// by fields summing to `new`: `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn adjust(csum: u16, old: u32, new: u32) -> u16 {
    let s = u32::from(!csum) + u32::from(!fold(old)) + u32::from(fold(new));
    !fold(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        assert_eq!(
            fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])),
            0xddf2
        );
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(sum(&[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    proptest! {
        #[test]
        fn sum_v6_matches_wordwise(a in any::<u128>()) {
            let a = Ipv6Addr::from_bits(a);
            let words: u32 = a.segments().iter().map(|&w| u32::from(w)).sum();
            prop_assert_eq!(fold(sum_v6(a)) % 0xffff, fold(words) % 0xffff);
        }

        #[test]
        fn adjust_matches_recompute(mut data in prop::collection::vec(any::<u8>(), 2..200),
                                    at in any::<prop::sample::Index>(), new in any::<u16>()) {
            if data.len() % 2 == 1 { data.push(0); }
            let words = data.len() / 2;
            let i = at.index(words) * 2;
            let csum = finish(sum(&data));
            let old = u16::from_be_bytes([data[i], data[i + 1]]);
            data[i..i + 2].copy_from_slice(&new.to_be_bytes());
            let fresh = finish(sum(&data));
            let adjusted = adjust(csum, u32::from(old), u32::from(new));
            // 0x0000 and 0xffff are the same number in one's complement.
            prop_assert_eq!(fold(u32::from(adjusted)) % 0xffff, fold(u32::from(fresh)) % 0xffff);
        }

        #[test]
        fn chunked_sum_matches_wordwise(data in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut acc: u32 = 0;
            for c in data.chunks(2) {
                acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            prop_assert_eq!(fold(sum(&data)), fold(acc));
        }
    }
}
