//! `nat64gw` through the real binary: `check` of both daemons' sections,
//! a daemon that is not there, the man page.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_nat64gw");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run nat64gw");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("nat64gw-ctl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const GOOD: &str = "[prefix]\nallow_non_global = true\n[nat64]\npool4 = [\"198.51.100.0/28\"]\n\
                    allow_from = [\"2001:db8:1::/64\"]\n[dns64]\nupstreams = [\"192.0.2.53:53\"]\n";

#[test]
fn o1_check_runs_both_daemons_checks_at_once() {
    let good = write("good.toml", GOOD);
    let (code, out, err) = run(&["check", &good]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("nat64d: OK") && out.contains("dns64d: OK"),
        "{out}"
    );
    // Outside a lab, the example file's documentation placeholders are
    // warned about, for both daemons.
    let example = write(
        "example.toml",
        &GOOD.replace("allow_non_global = true\n", ""),
    );
    let (code, out, _) = run(&["check", &example]);
    assert_eq!(code, 0);
    assert!(
        out.contains("nat64d: warning:") && out.contains("dns64d: warning:"),
        "{out}"
    );
    let bad = write(
        "bad.toml",
        "[nat64]\npool4 = [\"198.51.100.0/28\"]\nmtu = 1\n[dns64]\ntimeout_ms = 0\n",
    );
    let (code, out, _) = run(&["--config", &bad, "check"]);
    assert_eq!(code, 1);
    for want in [
        "nat64d: ",
        "key `nat64.allow_from`: is missing (required)",
        ":3:1: key `nat64.mtu`",
        "dns64d: ",
        "key `dns64.upstreams`: is missing (required)",
        ":5:1: key `dns64.timeout_ms`",
    ] {
        assert!(out.contains(want), "{want} not in {out}");
    }
    // Each daemon's problems come in the file's order, each address error
    // with the value and the form its key takes.
    let bad = write(
        "many.toml",
        "[nat64]\npool4 = [\"2001:db8::/64\"]\nallow_from = []\nmtu = \"big\"\nbogus = 1\n\
         [nat64.timeouts]\nudp = 0\n[dns64]\nlisten = [\"192.0.2.1\"]\n\
         upstreams = [\"192.0.2.53:53\"]\ntimeout_ms = 0\ncache_size = -1\n",
    );
    let (code, out, _) = run(&["check", &bad]);
    assert_eq!(code, 1);
    for want in [
        ":2:1: key `nat64.pool4[0]`: `2001:db8::/64` is an IPv6 prefix; this key takes IPv4",
        ":9:1: key `dns64.listen[0]`: `192.0.2.1` is not an address and a port",
    ] {
        assert!(out.contains(want), "{want} not in {out}");
    }
    for daemon in ["nat64d: ", "dns64d: "] {
        let at: Vec<usize> = out
            .lines()
            .filter_map(|l| l.strip_prefix(daemon))
            .filter_map(|l| l.strip_prefix(bad.as_str()))
            .filter_map(|l| l.strip_prefix(':')?.split(':').next()?.parse().ok())
            .collect();
        assert!(at.len() >= 2 && at.is_sorted(), "{daemon}{at:?} in {out}");
    }
}

#[test]
fn o6_a_daemon_that_is_not_running_is_an_error_with_a_hint() {
    let good = write("sockets.toml", GOOD);
    let (code, _, err) = run(&[
        "--config",
        &good,
        "--socket",
        "/nonexistent/nat64d.sock",
        "sessions",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot connect to /nonexistent/nat64d.sock"),
        "{err}"
    );
    assert!(err.contains("is the daemon running"), "{err}");
    let (code, _, err) = run(&["--config", "/nonexistent/gateway.toml", "status"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/gateway.toml"), "{err}");
}

#[test]
fn o6_the_man_page_comes_from_the_command_line() {
    let (code, out, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH nat64gw 8"), "{out}");
    for sub in ["status", "sessions", "trace", "reload", "check"] {
        assert!(out.contains(sub), "{sub} not in the man page");
    }
}

/// `nat64gw ... | head`: a reader that has gone away ends the command
/// quietly (status 0, nothing on standard error), never with a panic.
#[test]
fn o1_a_closed_pipe_on_standard_output_ends_quietly() {
    let good = write("pipe.toml", GOOD);
    for args in [vec!["check", good.as_str()], vec!["man"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(BIN)
            .args(&args)
            .stdout(writer)
            .output()
            .expect("run nat64gw");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            args[0] == "man" || (out.status.success() && err.is_empty()),
            "{args:?}: {:?} {err}",
            out.status
        );
    }
}
