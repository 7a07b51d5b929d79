//! The command line through the real binary: --version, --help, --check-config.

const BIN: &str = env!("CARGO_BIN_EXE_dns64d");
const NAME: &str = "dns64d";
const SECTION: &str = "[dns64]\n";

include!("../../tests/support/daemon_cli.rs");

#[test]
fn without_check_config_it_says_what_it_cannot_do() {
    let path = write_config("plain.toml", "");
    let (code, _, err) = run(&["--config", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("validates the configuration only"), "{err}");
}
