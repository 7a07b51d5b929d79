// The command-line tests both daemons share, run against the real binary.
// Included by nat64d/tests/cli.rs and dns64d/tests/cli.rs, which define
// `BIN` (the binary's path), `NAME` (its name) and `SECTION` (a minimal
// valid section of its own, TOML text) first.

use std::process::Command;


fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run the daemon");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (
        out.status.code().expect("exit code"),
        text(out.stdout),
        text(out.stderr),
    )
}

fn write_config(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{NAME}-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("{NAME} {}", env!("CARGO_PKG_VERSION")).as_str())
    );
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--config <FILE>") && out.contains("--check-config"),
        "{out}"
    );
}

#[test]
fn check_config_accepts_a_good_file() {
    let path = write_config(
        "good.toml",
        &format!("[prefix]\nprefixes = [\"64:ff9b::/96\"]\n{SECTION}"),
    );
    let (code, out, err) = run(&["--check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("configuration OK; prefixes: 64:ff9b::/96 (well-known)"),
        "{out}"
    );
}

#[test]
fn check_config_refuses_a_bad_file_naming_file_line_and_key() {
    let path = write_config("bad.toml", "[prefix]\nprefixes = [\"64:ff9b::/95\"]\n");
    let (code, _, err) = run(&["--check-config", "-c", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let expected = format!(
        "{NAME}: {}:2:13: key `prefix.prefixes[0]`: `64:ff9b::/95` has length /95",
        path.display()
    );
    assert!(err.starts_with(&expected), "{err}");
}

#[test]
fn check_config_accepts_the_shipped_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gateway.toml");
    let (code, out, err) = run(&["--check-config", "--config", example]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("prefixes: 64:ff9b::/96 (well-known); allow_non_global = false"),
        "{out}"
    );
}
