//! The command line through the real binary: --version, --help, --check-config.

const BIN: &str = env!("CARGO_BIN_EXE_dns64d");
const NAME: &str = "dns64d";
const SECTION: &str = "[dns64]\nupstreams = [\"192.0.2.53:53\"]\n";

include!("../../tests/support/daemon_cli.rs");

#[test]
fn a_listen_address_in_use_stops_the_start_naming_the_key() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    // A lab's file: `allow_non_global` lets the documentation upstream by.
    let path = write_config(
        "plain.toml",
        &format!("[prefix]\nallow_non_global = true\n{SECTION}"),
    );
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

/// A descriptor limit below what the bounds need is refused at start,
/// naming the keys, instead of letting TCP connections starve the upstream
/// sockets of UDP queries later.
#[test]
fn a_descriptor_limit_below_the_bounds_is_refused_at_start() {
    let path = write_config(
        "nofile.toml",
        "[prefix]\nallow_non_global = true\n[dns64]\nlisten = [\"127.0.0.1:5399\"]\nupstreams = [\"192.0.2.53:53\"]\n",
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec {BIN} --config {}",
            path.display()
        ))
        .output()
        .expect("sh runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("dns64.max_inflight") && err.contains("hard limit is 256"),
        "{err}"
    );
}

/// The example file's placeholder upstream (a documentation address) is
/// refused at start, and only warned about by --check-config.
#[test]
fn the_example_files_placeholder_upstream_stops_the_start() {
    let path = write_config("placeholder.toml", SECTION);
    let (code, out, _) = run(&["--check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("warning: dns64.upstreams: 192.0.2.53:53 is a documentation address"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "--config",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("dns64.upstreams: 192.0.2.53:53 is a documentation address"),
        "{err}"
    );
}
