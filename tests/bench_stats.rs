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

/// A capture on a translator's TUN device, as `tcpdump -tt -n -S` prints
/// it: two calls' SYNs and an echo request through nat64d (each packet
/// handed over in IPv6, written back in IPv4), a segment never translated,
/// and a SYN of another path measured later on the same device.
const TUN_CAPTURE: &str = "\
1000.000100 IP6 2001:db8:1::2.38208 > 64:ff9b::cb00:710a.9010: Flags [S], seq 560232021, win 64800, options [mss 1440], length 0
1000.000150 IP6 2001:db8:1::2.38210 > 64:ff9b::cb00:710a.9010: Flags [S], seq 77, win 64800, options [mss 1440], length 0
1000.000160 IP 198.51.100.8.32680 > 203.0.113.10.9010: Flags [S], seq 560232021, win 64800, options [mss 1440], length 0
1000.000400 IP 198.51.100.8.32682 > 203.0.113.10.9010: Flags [S], seq 77, win 64800, options [mss 1440], length 0
1000.001000 IP 203.0.113.10.9010 > 198.51.100.8.32680: Flags [P.], seq 1:41, ack 19, win 64, length 40
1000.002000 IP6 2001:db8:1::2 > 64:ff9b::cb00:710a: ICMP6, echo request, id 37, seq 5, length 64
1000.003500 IP 198.51.100.8 > 203.0.113.10: ICMP echo request, id 3, seq 5, length 64
1005.000000 IP6 2001:db8:1::2.40000 > 64:ff9b::cb00:710a.9010: Flags [S], seq 9, win 64800, length 0
1005.000020 IP 198.51.100.8.40000 > 203.0.113.10.9010: Flags [S], seq 9, win 64800, length 0
";

#[test]
fn residence_pairs_each_packet_with_its_translation_within_the_paths_windows() {
    let w = results("nat64d 999.5 1001.0\nbefore 1004.0 1006.0\n");
    let (ok, out, err) = stats(&["residence", w.arg(), "nat64d"], TUN_CAPTURE);
    assert!(ok, "{err}");
    let times: Vec<&str> = out.lines().collect();
    // 60 µs and 250 µs for the SYNs, 1.5 ms for the echo (handed over at
    // 1000.002, inside the window); the untranslated segment has no pair.
    assert_eq!(times, ["0.060", "0.250", "1.500"]);
    let (ok, out, _) = stats(&["residence", w.arg(), "before"], TUN_CAPTURE);
    assert!(ok);
    assert_eq!(out.trim(), "0.020");
    let (ok, out, _) = stats(&["residence", w.arg(), "tayga"], TUN_CAPTURE);
    assert!(ok);
    assert_eq!(out, "");
}
