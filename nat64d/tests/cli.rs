//! The command line through the real binary: --version, --help, --check-config.

const BIN: &str = env!("CARGO_BIN_EXE_nat64d");
const NAME: &str = "nat64d";
const SECTION: &str =
    "[nat64]\npool4 = [\"198.51.100.0/28\"]\nallow_from = [\"2001:db8:1::/64\"]\n";

include!("../../tests/support/daemon_cli.rs");

#[test]
fn an_empty_allow_from_is_refused_at_start_saying_how_to_open_it() {
    let path = write_config("open.toml", "[nat64]\npool4 = [\"198.51.100.0/28\"]\n");
    let (code, _, err) = run(&["--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("key `nat64.allow_from`: is missing (required)"),
        "{err}"
    );
    assert!(err.contains("[\"::/0\"]"), "{err}");
    let path = write_config(
        "empty.toml",
        "[nat64]\npool4 = [\"198.51.100.0/28\"]\nallow_from = []\n",
    );
    let (code, _, err) = run(&["--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(":3:1: key `nat64.allow_from`: is empty"),
        "{err}"
    );
}

/// Every problem of the file at once, parsing and checks alike, each with
/// its line and key.
#[test]
fn every_problem_of_the_file_is_reported() {
    let path = write_config(
        "many.toml",
        "[nat64]\npool4 = [\"198.51.100.0/28\"]\nallow_from = [\"2001:db8:1::/64\"]\n\
         mtu = 10\nmax_sessions = \"lots\"\nbogus = 1\n[nat64.timeouts]\nudp = 5\n",
    );
    let (code, _, err) = run(&["--check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    for want in [
        ":6:1: key `nat64.bogus`: unknown key",
        ":5:1: key `nat64.max_sessions`: invalid type",
        ":4:1: key `nat64.mtu`: 10 is below 68",
        ":8:1: key `nat64.timeouts.udp`: 5 s is below 120 s",
    ] {
        assert!(err.contains(want), "{want} not in {err}");
    }
}

#[test]
fn flag_overrides_are_checked_like_the_file() {
    let path = write_config("flags.toml", SECTION);
    let (code, _, err) = run(&[
        "--check-config",
        "--config",
        path.to_str().unwrap(),
        "--tun",
        "a/b",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("key `nat64.tun`"), "{err}");
    let (code, out, err) = run(&[
        "--check-config",
        "--config",
        path.to_str().unwrap(),
        "--tun",
        "nat64x",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("tun nat64x"), "{out}");
}

/// `--check-config` refuses what the start would refuse: two static entries
/// on one pool address and port, a loopback pool.
#[test]
fn check_config_refuses_what_the_start_would() {
    let dup = format!(
        "{SECTION}static = [ {{ proto = \"tcp\", ipv6 = \"[2001:db8:1::5]:80\", ipv4 = \"198.51.100.1:8080\" }}, \
         {{ proto = \"tcp\", ipv6 = \"[2001:db8:1::6]:80\", ipv4 = \"198.51.100.1:8080\" }} ]\n"
    );
    let path = write_config("dup-static.toml", &dup);
    let (code, _, err) = run(&["--check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("key `nat64.static[1]`") && err.contains("entry 0"),
        "{err}"
    );
    let path = write_config(
        "loopback-pool.toml",
        "[nat64]\npool4 = [\"127.0.0.0/28\"]\nallow_from = [\"2001:db8:1::/64\"]\n",
    );
    let (code, _, err) = run(&["--check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("key `nat64.pool4[0]`") && err.contains("loopback"),
        "{err}"
    );
}
