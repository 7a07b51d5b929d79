#!/usr/bin/env python3
"""Medians, ranges and per-round ratios of a benchmark's rounds.

scripts/bench.sh and scripts/bench-dns64.sh measure every path (nat64d,
TAYGA, the kernel; dns64d, Unbound, BIND) once per round, the paths
alternating within the round, and append one line per figure to a results
file:

    ROUND KEY PATH VALUE

(whitespace-separated; VALUE "n/a" when the figure could not be taken).
This script turns such a file into Markdown tables:

    bench_stats.py table RESULTS COLUMNS [RATIOS] < ROWS

COLUMNS is a comma-separated list of PATH=Label, RATIOS a comma-separated
list of A/B (path names). ROWS, on standard input, one per line:
KEY<TAB>row label. Each cell is the median of the rounds and, with more
than one round, their range: "13.40 (12.10–14.20)". Each ratio is the
median of the per-round ratios A ÷ B (rounds where both were measured),
with the range of those ratios: a slow minute of the machine hits both
paths of its round alike, so per-round ratios vary less than the figures.

    bench_stats.py ratio RESULTS KEY A B    ->  "median min max"
    bench_stats.py median RESULTS KEY PATH  ->  "median min max"

for the sentences written from a run, and

    bench_stats.py percentiles < TIMES     ->  "p50 p90 p99 max"

for the latency figures: TIMES holds one time (ms) a line, pooled from a
figure's blocks; nearest rank, three decimals; a line that is not a number
(connrate's `failed`) is counted on stderr and in none of them; nothing is
printed when there is no time.

    bench_stats.py residence WINDOWS PATH < TCPDUMP  ->  one time (ms) a line

for the time a packet spends in a translator: TCPDUMP is `tcpdump -tt -n
-S -r` of a capture on the translator's TUN device, where each packet
appears twice: handed to the translator in one family, written back by it
in the other. A TCP segment is paired with its translation by its flags,
sequence and acknowledgement numbers and length (no translator changes
them), an ICMP echo by its type and sequence number; the time between the
two is the packet's residence. Only packets handed over within a window
"PATH START END" (epoch seconds, one a line in WINDOWS) of PATH count, so
one capture serves several paths measured in turn on the same device.
"""

import re

import math
import statistics
import sys


def load(path):
    """{(key, path): {round: value}} of the numeric lines of RESULTS."""
    data = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                sys.exit(f"{path}:{n}: expected ROUND KEY PATH VALUE, got {line.strip()!r}")
            rnd, key, p, value = parts
            if value == "n/a":
                continue
            try:
                v = float(value)
            except ValueError:
                sys.exit(f"{path}:{n}: {value!r} is not a number")
            data.setdefault((key, p), {})[rnd] = (v, decimals(value))
    return data


def decimals(text):
    """Digits after the decimal point in a figure as it was written."""
    return len(text.split(".", 1)[1]) if "." in text else 0


def fmt(v, d):
    return f"{v:.{d}f}"


def summary(values, d):
    """'median (min–max)', or the one value when there is one round."""
    if not values:
        return "n/a"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt(m, d)
    return f"{fmt(m, d)} ({fmt(min(values), d)}–{fmt(max(values), d)})"


def figure(data, key, p):
    """(values in round order, decimals) of one figure."""
    rounds = data.get((key, p), {})
    vals = [rounds[r][0] for r in sorted(rounds, key=sort_key)]
    d = max((rounds[r][1] for r in rounds), default=0)
    return vals, d


def ratios(data, key, a, b):
    """Per-round A ÷ B, for the rounds where both were measured and B > 0."""
    ra, rb = data.get((key, a), {}), data.get((key, b), {})
    return [ra[r][0] / rb[r][0] for r in sorted(ra, key=sort_key) if r in rb and rb[r][0] > 0]


def sort_key(r):
    return (0, int(r)) if r.isdigit() else (1, r)


def table(data, columns, ratio_pairs, rows):
    labels = dict(columns)
    head = ["figure"] + [label for _, label in columns]
    head += [f"{labels.get(a, a)} ÷ {labels.get(b, b)}" for a, b in ratio_pairs]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in rows:
        cells = [label]
        for p, _ in columns:
            vals, d = figure(data, key, p)
            cells.append(summary(vals, d))
        for a, b in ratio_pairs:
            cells.append(summary(ratios(data, key, a, b), 2))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def triple(values, d):
    if not values:
        return "n/a n/a n/a"
    return " ".join(fmt(v, d) for v in (statistics.median(values), min(values), max(values)))


def percentiles(lines):
    """'p50 p90 p99 max' (nearest rank) of the numbers among LINES, or ''."""
    t, failed = [], 0
    for line in lines:
        try:
            t.append(float(line))
        except ValueError:
            failed += 1
    t.sort()
    if failed:
        print(f"bench_stats.py: {failed} of {failed + len(t)} samples failed", file=sys.stderr)
    if not t:
        return ""

    def rank(q):
        return t[max(1, math.ceil(q * len(t))) - 1]

    return "%.3f %.3f %.3f %.3f" % (rank(0.5), rank(0.9), rank(0.99), t[-1])


PACKET = re.compile(r"^(\d+\.\d+) (IP6?) (.*)$")
TCP = re.compile(r"Flags \[([^\]]*)\](?:, seq ([\d:]+))?(?:, ack (\d+))?.*length (\d+)")
ECHO = re.compile(r"ICMP6?,? echo (request|reply), id \d+, seq (\d+)")


def packet_key(rest):
    """What a packet and its translation share, or None."""
    m = TCP.search(rest)
    if m:
        return ("tcp",) + m.groups()
    m = ECHO.search(rest)
    if m:
        return ("echo",) + m.groups()
    return None


def residence(lines, windows):
    """The residence times (ms) of the packets handed over in WINDOWS."""
    waiting = {}  # key -> [(time, family)] not yet paired
    out = []
    for line in lines:
        m = PACKET.match(line.strip())
        if not m:
            continue
        t, family, rest = float(m.group(1)), m.group(2), m.group(3)
        key = packet_key(rest)
        if key is None:
            continue
        queue = waiting.setdefault(key, [])
        # The oldest packet of the other family with this key, within a second.
        queue[:] = [(t0, f0) for t0, f0 in queue if t - t0 <= 1.0]
        other = next((i for i, (_, f0) in enumerate(queue) if f0 != family), None)
        if other is None:
            queue.append((t, family))
            continue
        t0, _ = queue.pop(other)
        if any(a <= t0 <= b for a, b in windows):
            out.append((t - t0) * 1000)
    return out


def main(argv):
    if len(argv) == 2 and argv[1] == "percentiles":
        print(percentiles(sys.stdin))
    elif len(argv) == 4 and argv[1] == "residence":
        windows = []
        with open(argv[2]) as f:
            for line in f:
                w = line.split()
                if len(w) == 3 and w[0] == argv[3]:
                    windows.append((float(w[1]), float(w[2])))
        for v in residence(sys.stdin, windows):
            print("%.3f" % v)
    elif len(argv) >= 3 and argv[1] == "table":
        data = load(argv[2])
        columns = [tuple(c.split("=", 1)) for c in argv[3].split(",")] if len(argv) > 3 else []
        pairs = [tuple(r.split("/", 1)) for r in argv[4].split(",") if r] if len(argv) > 4 else []
        if any(len(c) != 2 for c in columns) or any(len(p) != 2 for p in pairs):
            sys.exit("bench_stats.py: COLUMNS are PATH=Label, RATIOS are A/B")
        rows = []
        for line in sys.stdin:
            line = line.rstrip("\n")
            if line:
                key, _, label = line.partition("\t")
                rows.append((key, label or key))
        print(table(data, columns, pairs, rows))
    elif len(argv) == 6 and argv[1] == "ratio":
        print(triple(ratios(load(argv[2]), argv[3], argv[4], argv[5]), 2))
    elif len(argv) == 5 and argv[1] == "median":
        vals, d = figure(load(argv[2]), argv[3], argv[4])
        print(triple(vals, d))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
