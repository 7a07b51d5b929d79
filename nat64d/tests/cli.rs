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
    assert!(err.contains("key `nat64.allow_from`: is empty"), "{err}");
    assert!(err.contains("[\"::/0\"]"), "{err}");
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
