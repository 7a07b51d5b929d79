//! The `[nat64]` section: parsing, defaults, the checks that span keys,
//! and what a reload keeps.

use super::*;

fn parse(text: &str) -> Result<File, String> {
    let f: File = common::config::parse("t.toml", text).map_err(|e| e.to_string())?;
    f.nat64
        .validate("t.toml", &f.prefix)
        .map_err(|e| e.to_string())?;
    Ok(f)
}

const MIN: &str = "[nat64]\npool4 = [\"198.51.100.0/30\"]\nallow_from = [\"2001:db8:1::/64\"]\n";

#[test]
fn defaults() {
    let f = parse(MIN).unwrap();
    let c = &f.nat64;
    assert_eq!(c.tun, "nat64");
    assert_eq!(c.max_sessions, 1_000_000);
    assert_eq!(c.pool_addresses().len(), 4);
    assert_eq!(c.state_config().timeouts, Timeouts::default());
    assert_eq!(c.ranges(), DEFAULT_RANGES);
    assert!(c.routes);
    assert!(c.pin_workers);
    assert!(
        !parse(&format!("{MIN}pin_workers = false\n"))
            .unwrap()
            .nat64
            .pin_workers
    );
    assert_eq!(Nat64Config::default().tun, "nat64");
}

#[test]
fn o4_empty_allow_from_is_refused_with_how_to_open_it() {
    let e = parse("[nat64]\npool4 = [\"198.51.100.0/30\"]\n").unwrap_err();
    assert!(e.contains("key `nat64.allow_from`: is empty"), "{e}");
    assert!(e.contains("\"::/0\""), "{e}");
}

#[test]
fn bad_values_name_the_key() {
    let e = parse(&format!("{MIN}[nat64.timeouts]\nudp = 60\n")).unwrap_err();
    assert!(
        e.contains("`nat64.timeouts.udp`: 60 s is below 120 s"),
        "{e}"
    );
    let e = parse(&format!("{MIN}[nat64.ports]\ntcp = \"9-1\"\n")).unwrap_err();
    assert!(e.contains("t.toml:5:7: key `nat64.ports.tcp`"), "{e}");
    let e = parse(&format!("{MIN}filtering = \"full-cone\"\n")).unwrap_err();
    assert!(e.contains("nat64.filtering"), "{e}");
    let e = parse(&format!("{MIN}bogus = 1\n")).unwrap_err();
    assert!(e.contains("bogus"), "{e}");
    let e = parse(&format!(
        "{MIN}static = [{{ proto = \"tcp\", ipv6 = \"[2001:db8:1::10]:80\", ipv4 = \"192.0.2.9:80\" }}]\n"
    ))
    .unwrap_err();
    assert!(
        e.contains("`nat64.static[0].ipv4`: 192.0.2.9 is not in pool4"),
        "{e}"
    );
    let e = parse(
        "[nat64]\npool4 = [\"198.51.100.0/30\", \"198.51.100.2/32\"]\nallow_from = [\"::/0\"]\n",
    )
    .unwrap_err();
    assert!(e.contains("`nat64.pool4[1]`"), "{e}");
    let e = parse("[nat64]\npool4 = [\"198.51.100.1/28\"]\nallow_from = [\"::/0\"]\n").unwrap_err();
    assert!(
        e.contains("`nat64.pool4[0]`") && e.contains("did you mean `198.51.100.0/28`"),
        "{e}"
    );
}

#[test]
fn statics_and_ranges_parse() {
    let f = parse(&format!(
        "{MIN}static = [{{ proto = \"tcp\", ipv6 = \"[2001:db8:1::10]:80\", ipv4 = \"198.51.100.1:8080\" }}]\n[nat64.ports]\nudp = \"2000-2999\"\n"
    ))
    .unwrap();
    assert_eq!(f.nat64.statics[0].ipv4.port(), 8080);
    assert_eq!(
        f.nat64.ranges()[1],
        PortRange {
            first: 2000,
            last: 2999
        }
    );
}

/// A reload applies every key but the restart-only ones, which keep their
/// running values and are named for the log.
#[test]
fn a_reload_keeps_only_the_restart_keys() {
    let running = parse(MIN).unwrap();
    let mut new = parse(
        "[prefix]\nprefixes = [\"64:ff9b:1::/48\"]\n\
         [nat64]\npool4 = [\"198.51.100.0/29\"]\nallow_from = [\"2001:db8:2::/64\"]\n\
         tun = \"other\"\nmtu = 1400\nmax_sessions = 5\n",
    )
    .unwrap();
    let kept = keep_restart_only(&running, &mut new);
    assert_eq!(
        kept,
        ["prefix.prefixes", "nat64.tun", "nat64.pool4", "nat64.mtu"]
    );
    assert_eq!(new.prefix.prefixes, running.prefix.prefixes);
    assert_eq!(new.nat64.tun, "nat64");
    assert_eq!(new.nat64.pool4, running.nat64.pool4);
    assert_eq!(new.nat64.mtu, 1500);
    // Reloadable keys take the file's value.
    assert_eq!(new.nat64.max_sessions, 5);
    assert_eq!(new.nat64.allow_from, ["2001:db8:2::/64".parse().unwrap()]);
    // The same file again: nothing to keep.
    let mut same = running.clone();
    assert!(keep_restart_only(&running, &mut same).is_empty());
}

/// Everything the start would refuse, or that could never carry a packet,
/// is refused by the checks `--check-config` runs, naming the key.
#[test]
fn configs_that_can_never_work_are_refused_naming_the_key() {
    let with = |extra: &str, pool: &str| {
        parse(&format!(
            "[nat64]\npool4 = [\"{pool}\"]\nallow_from = [\"2001:db8:1::/64\"]\n{extra}"
        ))
        .unwrap_err()
    };
    for (pool, what) in [
        ("127.0.0.0/28", "loopback"),
        ("224.0.0.0/28", "multicast"),
        ("255.255.255.255/32", "reserved"),
        ("0.0.0.0/28", "this network"),
        ("169.254.1.0/28", "link-local"),
        ("240.0.0.0/4", "reserved"),
    ] {
        let e = with("", pool);
        assert!(
            e.contains("key `nat64.pool4[0]`") && e.contains(what),
            "{pool}: {e}"
        );
    }
    // A private or documentation pool is fine.
    assert!(
        parse("[nat64]\npool4 = [\"10.64.0.0/28\"]\nallow_from = [\"2001:db8:1::/64\"]\n").is_ok()
    );
    let e = with("ports = { tcp = \"0-0\" }\n", "198.51.100.0/28");
    assert!(
        e.contains("key `nat64.ports.tcp`") && e.contains("port 0"),
        "{e}"
    );
    let e = with("ports = { udp = \"0-100\" }\n", "198.51.100.0/28");
    assert!(e.contains("key `nat64.ports.udp`"), "{e}");
    // ICMP identifiers may be 0.
    assert!(
        parse("[nat64]\npool4 = [\"198.51.100.0/28\"]\nallow_from = [\"2001:db8:1::/64\"]\nports = { icmp = \"0-0\" }\n")
            .is_ok()
    );
    let e = with("max_sessions = 1000000000000\n", "198.51.100.0/28");
    assert!(e.contains("key `nat64.max_sessions`"), "{e}");
    for (a, b) in [
        ("[2001:db8:1::5]:80", "[2001:db8:1::6]:80"),
        ("[2001:db8:1::5]:80", "[2001:db8:1::5]:80"),
    ] {
        let statics = format!(
            "static = [ {{ proto = \"tcp\", ipv6 = \"{a}\", ipv4 = \"198.51.100.1:8080\" }}, \
             {{ proto = \"tcp\", ipv6 = \"{b}\", ipv4 = \"198.51.100.2:8080\" }}, \
             {{ proto = \"tcp\", ipv6 = \"[2001:db8:1::7]:80\", ipv4 = \"198.51.100.1:8080\" }} ]\n"
        );
        let e = with(&statics, "198.51.100.0/28");
        assert!(
            e.contains("key `nat64.static[") && e.contains("entry "),
            "{e}"
        );
    }
    // The same pool port for TCP and UDP is two bindings, not a clash.
    assert!(parse(
        "[nat64]\npool4 = [\"198.51.100.0/28\"]\nallow_from = [\"2001:db8:1::/64\"]\n\
         static = [ { proto = \"tcp\", ipv6 = \"[2001:db8:1::5]:53\", ipv4 = \"198.51.100.1:53\" }, \
         { proto = \"udp\", ipv6 = \"[2001:db8:1::5]:53\", ipv4 = \"198.51.100.1:53\" } ]\n"
    )
    .is_ok());
}

#[test]
fn o4_safe_limits_by_default_per_64() {
    let c = parse(MIN).unwrap().nat64;
    let p = c.limit_policy();
    let (k, l) = p.source("2001:db8:1::1234".parse().unwrap());
    assert_eq!(k.to_string(), "2001:db8:1::/64");
    assert_eq!(l.sessions, 10_000);
    assert_eq!((l.rate.per_minute, l.rate.burst), (6_000, 1_000));
    assert!(p.rules().is_empty());
    assert_eq!(c.pairing(), crate::state::Pairing::Prefix);
}

#[test]
fn o4_overrides_and_port_policy_parse() {
    let f = parse(&format!(
        "{MIN}pairing = \"address\"\n\
         [nat64.limits]\nsessions_per_source = 50\n\
         [[nat64.limits.override]]\nprefix = \"2001:db8:5::/48\"\nnew_sessions_per_second = 0\n\
         [[nat64.limits.override]]\nprefix = \"2001:db8:6::/48\"\nsource_prefix_len = 56\nsessions_per_source = 7\n\
         [[nat64.port_policy]]\nproto = \"tcp\"\nports = [25]\naction = \"allow\"\nfrom = [\"2001:db8:5::/48\"]\n\
         [[nat64.port_policy]]\nproto = \"tcp\"\nports = [25, \"465\", \"587-588\"]\naction = \"limit\"\nnew_sessions_per_minute = 10\n"
    ))
    .unwrap();
    let c = &f.nat64;
    assert_eq!(c.pairing(), crate::state::Pairing::Address);
    let p = c.limit_policy();
    let (k, l) = p.source("2001:db8:5:1::1".parse().unwrap());
    assert_eq!(
        k.to_string(),
        "2001:db8:5::/48",
        "the whole range is one customer"
    );
    assert_eq!(
        (l.sessions, l.rate.per_minute),
        (50, 0),
        "left-out keys inherit"
    );
    let (k, l) = p.source("2001:db8:6:1::1".parse().unwrap());
    assert_eq!((k.to_string().as_str(), l.sessions), ("2001:db8:6::/56", 7));
    use crate::limits::{PortAction, Rate};
    let src = "2001:db8:1::1".parse().unwrap();
    assert_eq!(
        p.port_rule(Proto::Tcp, 588, src),
        Some((
            1,
            PortAction::Limit(Rate {
                per_minute: 10,
                burst: 10
            })
        )),
        "burst defaults to the rate per minute"
    );
    let src5 = "2001:db8:5::1".parse().unwrap();
    assert_eq!(
        p.port_rule(Proto::Tcp, 25, src5),
        Some((0, PortAction::Allow))
    );
}

#[test]
fn o4_bad_limits_and_policies_name_the_key() {
    let cases = [
        (
            "[nat64.limits]\nsource_prefix_len = 129\n",
            "nat64.limits.source_prefix_len`: 129",
        ),
        (
            "[nat64.limits]\nnew_sessions_burst = 0\n",
            "nat64.limits.new_sessions_burst`: must be at least 1",
        ),
        (
            "[[nat64.limits.override]]\nprefix = \"2001:db8:5::1/48\"\n",
            "nat64.limits.override[0].prefix`: `2001:db8:5::1/48` has bits set",
        ),
        (
            "[[nat64.limits.override]]\nprefix = \"2001:db8:5::/48\"\nsource_prefix_len = 32\n",
            "nat64.limits.override[0].source_prefix_len`: 32 is outside 48..=128",
        ),
        (
            "[[nat64.limits.override]]\nprefix = \"2001:db8:5::/48\"\n[[nat64.limits.override]]\nprefix = \"2001:db8:5::/48\"\n",
            "nat64.limits.override[1].prefix`: `2001:db8:5::/48` is also limits.override[0]",
        ),
        (
            "[[nat64.port_policy]]\nproto = \"icmp\"\nports = [1]\naction = \"deny\"\n",
            "nat64.port_policy[0].proto`: ICMP has no ports",
        ),
        (
            "[[nat64.port_policy]]\nproto = \"tcp\"\nports = []\naction = \"deny\"\n",
            "nat64.port_policy[0].ports`: is empty",
        ),
        (
            "[[nat64.port_policy]]\nproto = \"tcp\"\nports = [\"0-25\"]\naction = \"deny\"\n",
            "nat64.port_policy[0].ports[0]`: `0-25` includes port 0",
        ),
        (
            "[[nat64.port_policy]]\nproto = \"tcp\"\nports = [25]\naction = \"limit\"\n",
            "nat64.port_policy[0].new_sessions_per_minute`: must be at least 1",
        ),
        (
            "[[nat64.port_policy]]\nproto = \"tcp\"\nports = [25]\naction = \"deny\"\nburst = 3\n",
            "nat64.port_policy[0].action`: new_sessions_per_minute and burst go only with",
        ),
        (
            "[[nat64.port_policy]]\nproto = \"tcp\"\nports = [70000]\naction = \"deny\"\n",
            "70000 is not a port",
        ),
        (
            "[[nat64.port_policy]]\nproto = \"tcp\"\nports = [25]\naction = \"drop\"\n",
            "nat64.port_policy",
        ),
        ("pairing = \"random\"\n", "nat64.pairing"),
        (
            "[nat64.limits]\nnew_sessions_burst = 2000000\n",
            "nat64.limits.new_sessions_burst`: 2000000 is above 1000000",
        ),
    ];
    for (text, want) in cases {
        let e = parse(&format!("{MIN}{text}")).unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn o4_limits_that_let_one_customer_lock_out_the_rest_are_warned_about() {
    assert!(parse(MIN).unwrap().nat64.limits_warnings().is_empty());
    let c = parse(&format!(
        "{MIN}max_sessions = 15000\n[nat64.limits]\nnew_sessions_per_second = 0\n"
    ))
    .unwrap()
    .nat64;
    let w = c.limits_warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("more than half of max_sessions (15000)"),
        "{w:?}"
    );
}

#[test]
fn rfc791_an_ipv4_mtu_down_to_68_is_taken_and_the_tun_keeps_1280() {
    let c = parse(&format!("{MIN}mtu = 576\n")).unwrap().nat64;
    assert_eq!(
        (
            c.mtu,
            c.tun_mtu(),
            c.xlat(&PrefixConfig::default()).ipv4_mtu
        ),
        (576, 1280, 576)
    );
    assert_eq!(
        parse(&format!("{MIN}mtu = 68\n")).unwrap().nat64.tun_mtu(),
        1280
    );
    assert_eq!(
        parse(&format!("{MIN}mtu = 9000\n"))
            .unwrap()
            .nat64
            .tun_mtu(),
        9000
    );
    let e = parse(&format!("{MIN}mtu = 67\n")).unwrap_err();
    assert!(e.contains("`nat64.mtu`: 67 is below 68"), "{e}");
}

#[test]
fn o4_the_example_file_limits_smtp_per_64() {
    let f = parse(include_str!("../../../examples/gateway.toml")).unwrap();
    let p = f.nat64.limit_policy();
    let src = "2001:db8:1::7".parse().unwrap();
    assert!(matches!(
        p.port_rule(Proto::Tcp, 25, src),
        Some((_, crate::limits::PortAction::Limit(_)))
    ));
    assert_eq!(p.source(src).0.prefix_len(), 64);
    assert_eq!(f.nat64.pairing(), crate::state::Pairing::Prefix);
}
