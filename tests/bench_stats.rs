//! scripts/bench_stats.py, which turns the benchmark scripts' rounds into
//! the medians, ranges and per-round ratios of BENCHMARKS.md: run on a
//! results file with known answers.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_stats.py")
}

/// Runs the script with `args`, `stdin` on its standard input.
fn stats(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new("python3")
        .arg(script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A results file, removed when dropped.
struct Results(PathBuf);

impl Results {
    fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for Results {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn results(text: &str) -> Results {
    let p = std::env::temp_dir().join(format!(
        "nat64gw-bench-stats-{}-{:?}.txt",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&p, text).expect("write results");
    Results(p)
}

const ROUNDS: &str = "\
1 tcp1 nat64d 13.40
1 tcp1 kernel 12.09
2 tcp1 nat64d 18.07
2 tcp1 kernel 26.15
3 tcp1 nat64d 16.00
3 tcp1 kernel 25.00
1 conn nat64d 8791
2 conn nat64d n/a
3 conn kernel 20508
";

#[test]
fn cells_are_medians_with_ranges_and_ratios_are_medians_of_per_round_ratios() {
    let r = results(ROUNDS);
    let (ok, out, err) = stats(
        &[
            "table",
            r.arg(),
            "nat64d=nat64d,kernel=kernel NAT44",
            "nat64d/kernel",
        ],
        "tcp1\tTCP, 1 stream (Gb/s)\nconn\tshort connections (per s)\n",
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "| figure | nat64d | kernel NAT44 | nat64d ÷ kernel NAT44 |"
    );
    // Per-round ratios 1.11, 0.69, 0.64: their median is 0.69, not the
    // ratio of the medians (16.00 / 25.00 = 0.64).
    assert_eq!(
        lines[2],
        "| TCP, 1 stream (Gb/s) | 16.00 (13.40–18.07) | 25.00 (12.09–26.15) | 0.69 (0.64–1.11) |"
    );
    // One round measured: the value alone; no round with both: n/a.
    assert_eq!(
        lines[3],
        "| short connections (per s) | 8791 | 20508 | n/a |"
    );
}

#[test]
fn the_sentence_helpers_give_median_low_high() {
    let r = results(ROUNDS);
    let (ok, out, _) = stats(&["ratio", r.arg(), "tcp1", "nat64d", "kernel"], "");
    assert!(ok);
    assert_eq!(out.trim(), "0.69 0.64 1.11");
    let (ok, out, _) = stats(&["median", r.arg(), "tcp1", "kernel"], "");
    assert!(ok);
    assert_eq!(out.trim(), "25.00 12.09 26.15");
}

#[test]
fn a_malformed_results_line_is_refused_with_its_line_number() {
    let r = results("1 tcp1 nat64d 13.40\n2 tcp1 nat64d\n");
    let (ok, _, err) = stats(&["median", r.arg(), "tcp1", "nat64d"], "");
    assert!(!ok);
    assert!(err.contains(":2: expected ROUND KEY PATH VALUE"), "{err}");
    let r = results("1 tcp1 nat64d fast\n");
    let (ok, _, err) = stats(&["median", r.arg(), "tcp1", "nat64d"], "");
    assert!(!ok);
    assert!(err.contains("'fast' is not a number"), "{err}");
}
