//! The command line through the real binary: --version, --help, --check-config.

const BIN: &str = env!("CARGO_BIN_EXE_dns64d");
const NAME: &str = "dns64d";
const SECTION: &str = "[dns64]\nupstreams = [\"192.0.2.53:53\"]\n";

include!("../../tests/support/daemon_cli.rs");

#[test]
fn without_check_config_it_says_what_it_cannot_do() {
    let path = write_config("plain.toml", SECTION);
    let (code, _, err) = run(&["--config", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("validates the configuration only"), "{err}");
}

#[test]
fn check_config_names_a_bad_dns64_key() {
    let path = write_config("nodns.toml", "[dns64]\nupstreams = []\n");
    let (code, _, err) = run(&["--check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("key `dns64.upstreams`: is empty"), "{err}");
}
