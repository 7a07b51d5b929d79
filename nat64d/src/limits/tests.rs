//! Prefix aggregation, overrides, the first-match port policy and the token
//! buckets, `now` passed in (req O4).

use std::net::Ipv6Addr;

use proptest::prelude::*;

use super::*;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}
fn n(s: &str) -> Ipv6Net {
    s.parse().unwrap()
}
fn rate(per_minute: u32, burst: u32) -> Rate {
    Rate { per_minute, burst }
}
fn limits(sessions: u32) -> Limits {
    Limits {
        sessions,
        rate: Rate::NONE,
    }
}
fn ports(first: u16, last: u16) -> PortRange {
    PortRange { first, last }
}

#[test]
fn o4_every_address_of_a_prefix_counts_as_one_source() {
    let p = LimitPolicy::new(64, limits(10), Vec::new(), Vec::new());
    let (k1, _) = p.source(a("2001:db8:1::1"));
    let (k2, _) = p.source(a("2001:db8:1:0:dead:beef:1:2"));
    let (k3, _) = p.source(a("2001:db8:1:1::1"));
    assert_eq!(k1, k2);
    assert_ne!(k1, k3);
    assert_eq!(k1.to_string(), "2001:db8:1::/64");
    assert_eq!(
        SourceKey::of(a("2001:db8::1"), 128).to_string(),
        "2001:db8::1/128"
    );
    assert_eq!(SourceKey::of(a("2001:db8::1"), 0).to_string(), "::/0");
}

#[test]
fn o4_the_most_specific_override_wins_whatever_the_order() {
    let wide = Override {
        net: n("2001:db8::/32"),
        prefix_len: 48,
        limits: limits(100),
    };
    let narrow = Override {
        net: n("2001:db8:5::/48"),
        prefix_len: 48,
        limits: limits(0),
    };
    for o in [vec![wide, narrow], vec![narrow, wide]] {
        let p = LimitPolicy::new(64, limits(10), o, Vec::new());
        let (k, l) = p.source(a("2001:db8:5:7::1"));
        assert_eq!((k.to_string().as_str(), l.sessions), ("2001:db8:5::/48", 0));
        let (k, l) = p.source(a("2001:db8:6:7::1"));
        assert_eq!(
            (k.to_string().as_str(), l.sessions),
            ("2001:db8:6::/48", 100)
        );
        let (k, l) = p.source(a("2001:db9::1"));
        assert_eq!((k.to_string().as_str(), l.sessions), ("2001:db9::/64", 10));
    }
}

#[test]
fn o4_port_policy_first_match_wins() {
    let rules = vec![
        PortRule {
            proto: Proto::Tcp,
            ports: vec![ports(25, 25)],
            from: vec![n("2001:db8:5::/48")],
            action: PortAction::Allow,
        },
        PortRule {
            proto: Proto::Tcp,
            ports: vec![ports(25, 25), ports(465, 465)],
            from: Vec::new(),
            action: PortAction::Limit(rate(10, 20)),
        },
        PortRule {
            proto: Proto::Tcp,
            ports: vec![ports(1, 65535)],
            from: vec![n("2001:db8:6::/48")],
            action: PortAction::Deny,
        },
    ];
    let p = LimitPolicy::new(64, Limits::NONE, Vec::new(), rules);
    let m = |proto, port, src| p.port_rule(proto, port, a(src));
    assert_eq!(
        m(Proto::Tcp, 25, "2001:db8:5::1"),
        Some((0, PortAction::Allow))
    );
    assert_eq!(
        m(Proto::Tcp, 25, "2001:db8:6::1"),
        Some((1, PortAction::Limit(rate(10, 20)))),
        "the limit comes before the deny"
    );
    assert_eq!(m(Proto::Tcp, 465, "2001:db8:7::1").map(|x| x.0), Some(1));
    assert_eq!(m(Proto::Udp, 25, "2001:db8:7::1"), None, "TCP only");
    assert_eq!(
        m(Proto::Tcp, 80, "2001:db8:6::1"),
        Some((2, PortAction::Deny))
    );
    assert_eq!(m(Proto::Tcp, 80, "2001:db8:7::1"), None);
    assert_eq!(
        m(Proto::Icmp, 25, "2001:db8:6::1"),
        None,
        "ICMP has no ports"
    );
    assert_eq!(p.rule_rate(1), rate(10, 20));
    assert_eq!(p.rule_rate(0), Rate::NONE);
}

#[test]
fn o4_a_bucket_starts_full_and_refills_at_its_rate() {
    let r = rate(60, 3); // one a second, three saved
    let mut b = Bucket::full(r, 100);
    for _ in 0..3 {
        assert!(b.ready(r, 100));
        b.take(r);
    }
    assert!(!b.ready(r, 100), "the burst is spent");
    assert!(b.ready(r, 101), "one second: one token");
    b.take(r);
    assert!(!b.ready(r, 101));
    assert!(!b.is_full(r, 103));
    assert!(b.is_full(r, 104));
    assert!(b.ready(r, 1000));
    // Never more than the burst, however long it waited.
    for _ in 0..3 {
        b.take(r);
    }
    assert!(!b.ready(r, 1000));
    // A rate below one a second.
    let slow = rate(6, 1); // one every 10 s
    let mut b = Bucket::full(slow, 0);
    b.take(slow);
    assert!(!b.ready(slow, 9));
    assert!(b.ready(slow, 10));
    assert_eq!(slow.fill_time(), 10);
    // No limit: always ready.
    let mut b = Bucket::full(Rate::NONE, 0);
    b.take(Rate::NONE);
    assert!(b.ready(Rate::NONE, 0) && b.is_full(Rate::NONE, 0));
}

#[test]
fn o4_a_clock_that_goes_back_takes_nothing_away() {
    let r = rate(60, 2);
    let mut b = Bucket::full(r, 50);
    b.take(r);
    b.take(r);
    assert!(!b.ready(r, 40));
    assert!(b.ready(r, 51));
}

#[test]
fn o4_keying_changes_are_seen() {
    let p = LimitPolicy::new(64, limits(1), Vec::new(), Vec::new());
    assert!(p.same_keying(&LimitPolicy::new(64, limits(5), Vec::new(), Vec::new())));
    assert!(!p.same_keying(&LimitPolicy::new(56, limits(1), Vec::new(), Vec::new())));
    let o = Override {
        net: n("2001:db8::/48"),
        prefix_len: 48,
        limits: limits(1),
    };
    assert!(!p.same_keying(&LimitPolicy::new(64, limits(1), vec![o], Vec::new())));
}

#[test]
fn o4_the_pairing_hash_is_fixed() {
    // The same in every run: a customer keeps its pool address.
    let k = SourceKey::of(a("2001:db8:1::"), 64);
    assert_eq!(
        k.stable_hash(),
        SourceKey::of(a("2001:db8:1::9"), 64).stable_hash()
    );
    assert_ne!(
        k.stable_hash(),
        SourceKey::of(a("2001:db8:2::"), 64).stable_hash()
    );
    assert_ne!(
        k.stable_hash(),
        SourceKey::of(a("2001:db8:1::"), 56).stable_hash()
    );
}

proptest! {
    /// Whatever the addresses, two share a key exactly when they agree in
    /// the first `len` bits.
    #[test]
    fn o4_keys_are_the_prefix(x: u128, y: u128, len in 0u8..=128) {
        let (kx, ky) = (SourceKey::of(Ipv6Addr::from(x), len), SourceKey::of(Ipv6Addr::from(y), len));
        let shift = 128 - u32::from(len);
        let same = len == 0 || (x >> shift) == (y >> shift);
        prop_assert_eq!(kx == ky, same);
        prop_assert!(kx.net().contains(&Ipv6Addr::from(x)));
        prop_assert_eq!(kx.prefix_len(), len);
    }

    /// Over any span, a bucket admits at most burst + rate × span.
    #[test]
    fn o4_a_bucket_never_admits_more_than_burst_plus_rate(
        per_minute in 1u32..600, burst in 1u32..50, steps in proptest::collection::vec(0u32..5, 1..200)
    ) {
        let r = rate(per_minute, burst);
        let mut b = Bucket::full(r, 0);
        let (mut now, mut taken) = (0u32, 0u64);
        for s in steps {
            now += s;
            while b.ready(r, now) {
                b.take(r);
                taken += 1;
            }
        }
        prop_assert!(taken <= u64::from(burst) + u64::from(now) * u64::from(per_minute) / 60 + 1);
    }
}

proptest! {
    /// The override index finds what a scan for the longest range holding
    /// the address finds.
    #[test]
    fn o4_the_override_index_finds_the_most_specific_range(
        ranges in proptest::collection::vec((0u16..8, 0u16..4, prop::sample::select(vec![32u8, 40, 48, 56, 64])), 0..20),
        probes in proptest::collection::vec((0u16..8, 0u16..4, any::<u16>()), 1..50),
    ) {
        let overrides: Vec<Override> = ranges
            .iter()
            .enumerate()
            .map(|(i, &(a, b, len))| Override {
                net: Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, a, b << 8, 0, 0, 0, 0), len).unwrap().trunc(),
                prefix_len: 64,
                limits: limits(i as u32 + 1),
            })
            .collect();
        let p = LimitPolicy::new(64, limits(0), overrides.clone(), Vec::new());
        for (a, b, c) in probes {
            let src = Ipv6Addr::new(0x2001, 0xdb8, a, b << 8, c, 0, 0, 1);
            let best = overrides
                .iter()
                .filter(|o| o.net.contains(&src))
                .max_by_key(|o| o.net.prefix_len())
                .map(|o| o.net);
            let got = p.source(src).1.sessions;
            match best {
                None => prop_assert_eq!(got, 0),
                // Several entries may name one range: any of them is that range.
                Some(net) => prop_assert!(overrides.iter().any(|o| o.net == net && o.limits.sessions == got)),
            }
        }
    }
}

#[test]
fn o4_the_pairing_hash_does_not_change_between_versions() {
    // Pinned: a new version must pair every customer with the address it
    // had (its reputation is the customer's).
    let k = SourceKey::of(a("2001:db8:1::"), 64);
    assert_eq!(k.stable_hash(), 14_230_356_940_899_301_371);
}
