//! The command line through the real binary: --version, --help, --check-config.

const BIN: &str = env!("CARGO_BIN_EXE_dns64d");
const NAME: &str = "dns64d";
const SECTION: &str = "[dns64]\nupstreams = [\"192.0.2.53:53\"]\n";

include!("../../tests/support/daemon_cli.rs");

#[test]
fn a_listen_address_in_use_stops_the_start_naming_the_key() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let path = write_config("plain.toml", SECTION);
    let (code, _, err) = run(&["--config", path.to_str().unwrap(), "--listen", &addr]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("cannot listen on UDP {addr} (`dns64.listen`)")),
        "{err}"
    );
}

#[test]
fn check_config_names_a_bad_dns64_key() {
    let path = write_config("nodns.toml", "[dns64]\nupstreams = []\n");
    let (code, _, err) = run(&["--check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("key `dns64.upstreams`: is empty"), "{err}");
}
