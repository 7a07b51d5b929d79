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
