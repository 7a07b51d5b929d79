#!/usr/bin/env bash
# NAT64 benchmark: nat64d against TAYGA and the kernel's own NAT44, side by
# side in one run of the namespace lab (scripts/netns.sh), then dns64d
# against Unbound and BIND (scripts/bench-dns64.sh). Writes BENCHMARKS.md.
#
# Paths measured, all from v6client to v4server through gw:
#   nat64d            IPv6 → 64:ff9b::/96 → nat64d (TUN) → IPv4, pool 198.51.100.0/28
#   tayga             IPv6 → 2001:db8:64::/96 → TAYGA (stateless, TUN, dynamic
#                     pool 198.51.100.128/25) → nftables masquerade → IPv4
#                     (TAYGA refuses documentation addresses under 64:ff9b::/96)
#   kernel            IPv4 → gw forwarding + nftables masquerade (NAT44); v6client
#                     gets 198.51.100.194/30 for this path only
# each with the veths' segmentation offloads (TSO/GSO/GRO) on, and nat64d and
# the kernel also with them off (nat64d then also with `offload = false`: its
# fallback path, one read and one write per packet).
#
# Figures, each bounded in time: TCP throughput (iperf3, 1 and 4 streams),
# 64-byte UDP (iperf3 at the sender's maximum rate: received packets/s and
# loss), ping latency (average and p99 of 300 pings), short connections per
# second (examples/connrate.rs: connect, request, reply, close), translator
# CPU per Gb/s (the translator's process; the whole machine for all paths),
# and nat64d's resident memory with 1 M live UDP sessions.
#
# Latency at three rates (a packet or a call every 1 ms, 15 ms, 200 ms: a
# busy, a moderate and an idle client): p50, p90, p99 and max of ping, and
# of API-call shaped connections (connect, a small request, its reply,
# close: examples/connrate.rs `latency`), for each path; and for both
# translators, a packet's own time in the translator (p50, p99, max): from
# the kernel handing it to the translator's TUN device to its translation
# coming back, captured on the device during those blocks, free of where
# the lab's client and server run (residence_capture).
#
# Rounds: every figure is taken once per round, the paths alternating
# within the round (nat64d, TAYGA, the kernel, then the offloads-off pair;
# the latency figures rate by rate, the paths taking turns in blocks, see
# LAT_BLOCKS), so a slow minute of the machine hits all of them. The
# report gives each figure's median and range over the rounds, and each
# ratio as the median (and range) of the per-round ratios
# (scripts/bench_stats.py); every round's raw figures are kept at the end
# of BENCHMARKS.md.
#
# Usage: sudo scripts/bench.sh [SECONDS [ROUNDS]]   (per figure, default 5;
#        rounds, default 3)
#        BENCH_DNS=0 skips the DNS64 part; BENCH_LATENCY_ONLY=1 measures
#        only the latency figures and prints their table (BENCHMARKS.md
#        is left as it is); BENCH_PIN_WORKERS=false sets nat64d's
#        `pin_workers` (default: the file's default, true);
#        BENCH_COMPARE=PATH measures another nat64d binary (an earlier
#        build, say) as one more path in every round, right after nat64d,
#        with its ratio to it (before/after in one run); its latency only
#        with BENCH_LATENCY_ONLY=1 (a full run keeps to the throughput);
#        BENCH_LATENCY_BLOCKS=N splits each latency rate's samples into N
#        blocks the paths take turns in (default 5);
#        BENCH_LATENCY_PIN="C S" runs the latency client on CPUs C and its
#        server on CPUs S (taskset lists; default "0 1", "none" leaves
#        them to the scheduler).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=scripts/netns.sh
. "$HERE/netns.sh"

DUR=${1:-5}
ROUNDS=${2:-3}
case $DUR$ROUNDS in '' | *[!0-9]*) echo "usage: sudo $0 [SECONDS [ROUNDS]]" >&2; exit 2 ;; esac
if [ "$DUR" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then echo "usage: sudo $0 [SECONDS [ROUNDS]] (both at least 1)" >&2; exit 2; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench.sh: the lab needs root; run: sudo $0" >&2
  exit 2
fi
missing=()
for tool in iperf3 tayga nft ethtool ping "$LAB_PYTHON" nsd curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench.sh: missing: ${missing[*]} (apt-get install iperf3 tayga nftables ethtool iputils-ping nsd curl python3)" >&2
  exit 2
fi

echo "== building release binaries" >&2
(cd "$ROOT" && cargo build --release -q -p nat64d && cargo build --release -q --example connrate) || exit 1
NAT64D=$ROOT/target/release/nat64d
CONNRATE=$ROOT/target/release/examples/connrate

trap lab_down EXIT
trap 'exit 130' INT TERM
lab_up || exit 1

SERVER4=203.0.113.10
TAYGA_PREFIX=2001:db8:64::/96
TAYGA_POOL=198.51.100.128/25
K_CLIENT4=198.51.100.194
K_GW4=198.51.100.193
declare -A DST=([nat64d]=64:ff9b::cb00:710a [before]=64:ff9b::cb00:710a [tayga]=2001:db8:64::cb00:710a [kernel]=$SERVER4)

# ---- the three paths ----------------------------------------------------------

# start_nat64d true|false [BINARY]: (re)starts nat64d (or BINARY) with the
# TUN offload on or off (the `offload` key); sets NAT64_PID.
NAT64_PID=
COMPARE=${BENCH_COMPARE:-}
if [ -n "$COMPARE" ] && [ ! -x "$COMPARE" ]; then
  echo "bench.sh: BENCH_COMPARE=$COMPARE is not an executable nat64d" >&2
  exit 2
fi
start_nat64d() {
  local bin=${2:-$NAT64D}
  if [ -n "$NAT64_PID" ]; then
    kill "$NAT64_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$NAT64_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  # The per-customer limits off and the pool not paired per customer: the
  # lab's one client is every customer here (a million sessions, thousands
  # of connections a second), and the peers have neither.
  lab_gateway_config "$LAB_DIR/gateway.toml" dns64=no threads='' offload="$1" \
    max_sessions=1100000 mapping_log=/dev/null pairing=address \
    limits=$'sessions_per_source = 0\nnew_sessions_per_second = 0' || exit 1
  # BENCH_PIN_WORKERS=false: nat64d's workers left to the scheduler.
  [ -n "${BENCH_PIN_WORKERS:-}" ] &&
    sed -i "s/^tun = \"nat64\"$/tun = \"nat64\"\npin_workers = ${BENCH_PIN_WORKERS}/" "$LAB_DIR/gateway.toml"
  lab_bg gw "nat64d-offload-$1" "$bin" --config "$LAB_DIR/gateway.toml"
  lab_wait 50 lab_exec gw curl -sf -o /dev/null http://127.0.0.1:9464/metrics || { cat "$LAB_DIR/nat64d-offload-$1.log" >&2; exit 1; }
  NAT64_PID=$(pgrep -f -- "$bin --config $LAB_DIR/gateway.toml" | head -1)
}
start_nat64d true

mkdir -p "$LAB_DIR/tayga"
cat >"$LAB_DIR/tayga.conf" <<EOF
tun-device tayga64
ipv4-addr 198.51.100.129
prefix $TAYGA_PREFIX
dynamic-pool $TAYGA_POOL
data-dir $LAB_DIR/tayga
EOF
lab_exec gw tayga -c "$LAB_DIR/tayga.conf" --mktun >/dev/null || exit 1
lab_exec gw ip link set tayga64 up
lab_exec gw ip route add "$TAYGA_POOL" dev tayga64
lab_exec gw ip -6 route add "$TAYGA_PREFIX" dev tayga64
lab_exec v6client ip -6 route add "$TAYGA_PREFIX" via "$LAB_GW6"
lab_bg gw tayga tayga -c "$LAB_DIR/tayga.conf" -n

lab_exec v6client ip addr add "$K_CLIENT4/30" dev eth0
lab_exec gw ip addr add "$K_GW4/30" dev eth6
lab_exec v6client ip route add 203.0.113.0/24 via "$K_GW4"

# NAT44 for TAYGA's pool and the kernel path. Only while those are measured:
# conntrack would otherwise tax nat64d's path too.
nat_on() {
  lab_exec gw nft -f - <<EOF
table ip bench_nat {
  chain post {
    type nat hook postrouting priority srcnat;
    oifname "eth4" ip saddr { $TAYGA_POOL, $K_CLIENT4/32 } masquerade
  }
}
EOF
}
nat_off() { lab_exec gw nft delete table ip bench_nat 2>/dev/null; }

# offloads on|off: TSO/GSO/GRO on every veth of the path.
offloads() {
  local v=$1 r role dev
  for r in "v6client eth0" "gw eth6" "gw eth4" "v4server eth0"; do
    read -r role dev <<<"$r"
    lab_exec "$role" ethtool -K "$dev" tso "$v" gso "$v" gro "$v" 2>/dev/null
  done
}

lab_bg v4server iperf3 iperf3 -s -B "$SERVER4"
# One short-connection server port per measurement and round: TAYGA's and
# the kernel's masquerades both use 192.0.2.1, and the conntrack TIME_WAIT
# entries one run leaves would collide with the next run's ports
# (measured: 21 000 connections/s fell to 2 900).
declare -A CONN_BASE=([nat64d]=8000 [nat64d_nooff]=8001 [tayga]=8002 [kernel]=8003 [kernel_nooff]=8004 [before]=8005)
conn_port() { echo $((CONN_BASE[$1] + 10 * $2)); }
# The latency calls' own servers (lat_port). The endpoints run on fixed
# CPUs, BENCH_LATENCY_PIN="CLIENT_CPUS SERVER_CPUS" (taskset lists;
# default "0 1": apart, so every path pays the same cross-CPU wake-ups;
# "none": where the scheduler puts them). Unpinned, the scheduler's
# placement, different in every run, decided how many cross-CPU wake-ups
# a call paid (docs/performance.md, "Where the endpoints run").
lat_port() { echo $(($(conn_port "$1" "$2") + 1000)); }
LAT_PIN_C=() LAT_PIN_S=()
LAT_PIN=${BENCH_LATENCY_PIN-0 1}
[ "$(nproc)" -lt 2 ] && LAT_PIN=${BENCH_LATENCY_PIN-none}
if [ "$LAT_PIN" != none ]; then
  read -r pin_c pin_s pin_extra <<<"$LAT_PIN"
  if [ -z "${pin_s:-}" ] || [ -n "${pin_extra:-}" ] || ! taskset -c "$pin_c" true || ! taskset -c "$pin_s" true; then
    echo "bench.sh: BENCH_LATENCY_PIN=\"$LAT_PIN\" is neither \"CLIENT_CPUS SERVER_CPUS\" (taskset CPU lists) nor none" >&2
    exit 2
  fi
  LAT_PIN_C=(taskset -c "$pin_c") LAT_PIN_S=(taskset -c "$pin_s")
fi
for ((r = 1; r <= ROUNDS; r++)); do
  for k in "${!CONN_BASE[@]}"; do
    lab_bg v4server "connrate-$k-$r" "$CONNRATE" serve "$SERVER4:$(conn_port "$k" "$r")"
    lab_bg v4server "latency-$k-$r" "${LAT_PIN_S[@]}" "$CONNRATE" serve "$SERVER4:$(lat_port "$k" "$r")"
  done
done
# The UDP flood's sink: dropped in v4server, no Port Unreachable back.
lab_exec v4server nft -f - <<'EOF'
table inet bench_sink {
  chain in {
    type filter hook input priority 0;
    udp dport 9 drop
  }
}
EOF
sleep 0.5

# ---- measurements -------------------------------------------------------------

json() { "$LAB_PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
cpu_ticks() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)

# Every figure of every round: "ROUND FIGURE PATH VALUE" (scripts/bench_stats.py).
RESULTS=$LAB_DIR/results.txt
: >"$RESULTS"
# put ROUND KEY FIGURE VALUE: one figure of one path (KEY) in one round;
# an empty VALUE is written as n/a (not measured).
put() {
  local r=$1 key=$2 fig=$3 v=${4:-n/a}
  echo "$r $fig $key $v" >>"$RESULTS"
}

# measure ROUND KEY PATH PID: every figure for one path, once.
measure() {
  local r=$1 key=$2 path=$3 pid=$4 dst=${DST[$3]} out c0 c1 b0 b1 bps v
  local fam=-6
  [ "$path" = kernel ] && fam=-4
  echo "-- round $r, $key: TCP 1 stream" >&2
  c0=$(cpu_ticks "$pid")
  b0=$(busy_ticks)
  out=$(lab_exec v6client iperf3 -c "$dst" -t "$DUR" -J 2>/dev/null)
  c1=$(cpu_ticks "$pid")
  b1=$(busy_ticks)
  bps=$(json "d['end']['sum_received']['bits_per_second']" <<<"$out" 2>/dev/null || echo 0)
  put "$r" "$key" tcp1 "$(awk -v b="$bps" 'BEGIN { if (b > 0) printf "%.2f", b / 1e9 }')"
  # CPU seconds per Gb moved: (ticks / HZ) / (Gb/s × seconds).
  put "$r" "$key" cpu "$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v b="$bps" -v s="$DUR" -v p="$pid" 'BEGIN { if (p != "" && b > 0) printf "%.3f", (t / hz) / (b / 1e9 * s) }')"
  put "$r" "$key" mcpu "$(awk -v t=$((b1 - b0)) -v hz="$HZ" -v b="$bps" -v s="$DUR" 'BEGIN { if (b > 0) printf "%.3f", (t / hz) / (b / 1e9 * s) }')"
  echo "-- round $r, $key: TCP 4 streams" >&2
  out=$(lab_exec v6client iperf3 -c "$dst" -t "$DUR" -P 4 -J 2>/dev/null)
  put "$r" "$key" tcp4 "$(json "'%.2f' % (d['end']['sum_received']['bits_per_second'] / 1e9)" <<<"$out" 2>/dev/null)"
  echo "-- round $r, $key: UDP 64 bytes" >&2
  out=$(lab_exec v6client iperf3 -c "$dst" -u -b 0 -l 64 -t "$DUR" -J 2>/dev/null)
  v=$(json "'%d %.2f' % ((d['end']['sum']['packets'] - d['end']['sum']['lost_packets']) / d['end']['sum']['seconds'], d['end']['sum']['lost_percent'])" <<<"$out" 2>/dev/null)
  put "$r" "$key" udp "$(col "$v" 1)"
  put "$r" "$key" udp_loss "$(col "$v" 2)"
  echo "-- round $r, $key: ping" >&2
  v=$(lab_exec v6client ping "$fam" -c 300 -i 0.01 -W 1 "$dst" 2>/dev/null |
    "$LAB_PYTHON" -c "
import re, sys
t = sorted(float(m.group(1)) for m in re.finditer(r'time=([0-9.]+)', sys.stdin.read()))
print('%.3f %.3f' % (sum(t) / len(t), t[min(len(t) - 1, int(len(t) * 0.99))]) if t else '')")
  put "$r" "$key" ping_avg "$(col "$v" 1)"
  put "$r" "$key" ping_p99 "$(col "$v" 2)"
  echo "-- round $r, $key: short connections" >&2
  local a=$dst
  [ "$fam" = -6 ] && a="[$dst]"
  out=$(lab_exec v6client "$CONNRATE" run "$a:$(conn_port "$key" "$r")" 8 "$DUR")
  put "$r" "$key" conn "$(awk '{ if ($3 > 0) printf "%d", $1 / $3 }' <<<"$out")"
  put "$r" "$key" conn_failed "$(awk '{ if ($3 > 0) print $2 }' <<<"$out")"
}

pid_of() { pgrep -f -- "$1" | head -1; }
TAYGA_PID=$(pid_of "tayga -c $LAB_DIR/tayga.conf -n")

# Field I of a space-separated figure.
col() { awk -v i="$2" '{print $i}' <<<"$1"; }
# percentiles: "P50 P90 P99 MAX" (ms) of the times on stdin, one a line
# (scripts/bench_stats.py percentiles).
percentiles() { "$LAB_PYTHON" "$HERE/bench_stats.py" percentiles; }
# ping_times: each reply's time (ms) from ping's output, one a line.
ping_times() { grep -o 'time=[0-9.]*' | cut -d= -f2; }
# Interval (ms) and count of each rate: 1 s, 6 s and 40 s of traffic. A
# p99 is the second-worst of 200 samples: with fewer, one stall of the
# machine decides it.
LAT_RATES=("1 1000" "15 400" "200 200")
# The paths of the latency figures: the BENCH_COMPARE build only in a
# latency-only run (at 200 ms a path costs 80 s a round).
LAT_PATHS=(nat64d tayga kernel)
[ "${BENCH_LATENCY_ONLY:-0}" = 1 ] && [ -n "$COMPARE" ] && LAT_PATHS=(nat64d before tayga kernel)
LAT_STATS=(p50 p90 p99 max)
# A rate's samples come in LAT_BLOCKS blocks; the paths take turns block by
# block, the order rotating, so a slow second of the machine (a host
# hiccup of several ms lands in any run) hits every path alike rather than
# whichever one was measuring. A path's percentiles pool its blocks.
LAT_BLOCKS=${BENCH_LATENCY_BLOCKS:-5}
case $LAT_BLOCKS in '' | *[!0-9]* | 0) echo "bench.sh: BENCH_LATENCY_BLOCKS=$LAT_BLOCKS is not a count of at least 1" >&2; exit 2 ;; esac
# latency_block PATH MS COUNT ROUND: one block of pings and calls through
# PATH, appended to the path's sample files.
latency_block() {
  local path=$1 ms=$2 n=$3 r=$4 a fam=-6 t0
  echo "-- round $r, latency, one every $ms ms: $path ($n)" >&2
  [ "$path" = before ] && { start_nat64d true "$COMPARE"; capture_on nat64; sleep 0.5; }
  # NAT44 only while TAYGA and the kernel are measured (conntrack).
  if [ "$path" = nat64d ] || [ "$path" = before ]; then nat_off; else nat_off; nat_on; fi
  a="[${DST[$path]}]"
  [ "$path" = kernel ] && { fam=-4; a=${DST[$path]}; }
  t0=$(date +%s.%N)
  lab_exec v6client "${LAT_PIN_C[@]}" ping "$fam" -c "$n" -i "0.$(printf '%03d' "$ms")" -W 1 "${DST[$path]}" 2>/dev/null |
    ping_times >>"$LAB_DIR/lat-$path-ping"
  lab_exec v6client "${LAT_PIN_C[@]}" "$CONNRATE" latency "$a:$(lat_port "$path" "$r")" "$n" "$ms" raw 2>/dev/null >>"$LAB_DIR/lat-$path-call"
  echo "$path $t0 $(date +%s.%N)" >>"$LAB_DIR/lat-windows"
  [ "$path" = before ] && { start_nat64d true; capture_on nat64; sleep 0.5; }
  return 0
}
# The time a packet spends in the translator, apart from the client's and
# the server's: each rate's blocks are captured on both translators' TUN
# devices, where every packet appears twice, handed to the translator and
# written back translated (scripts/bench_stats.py residence). tcpdump
# without --immediate-mode wakes about once a second, not per packet, so
# the capture leaves the round trips it watches alone; it is stopped only
# after its last buffer was handed over (a second after the traffic).
residence_capture() {
  if [ "$1" = start ]; then
    capture_on nat64
    capture_on tayga64
    sleep 0.5
  else
    sleep 1.2
    pkill -INT -f -- "-w $LAB_DIR/lat-capture-" 2>/dev/null
    sleep 0.3
  fi
  return 0
}
# capture_on DEV: one more capture of DEV (nat64d's device is made anew
# when the BENCH_COMPARE build takes over, and the capture on the old one
# ends with it).
CAPTURES=0
capture_on() {
  CAPTURES=$((CAPTURES + 1))
  lab_bg gw "capture-$CAPTURES" tcpdump -i "$1" -n -s 96 -w "$LAB_DIR/lat-capture-$1-$CAPTURES.pcap" tcp or icmp or icmp6
}
# residence PATH: the residence times (ms) of PATH's packets in its
# translator, one a line.
residence() {
  local dev=nat64
  [ "$1" = tayga ] && dev=tayga64
  local f
  for f in "$LAB_DIR/lat-capture-$dev-"*.pcap; do
    [ -s "$f" ] && tcpdump -r "$f" -tt -n -S 2>/dev/null
  done | sort -s -n -k1,1 | "$LAB_PYTHON" "$HERE/bench_stats.py" residence "$LAB_DIR/lat-windows" "$1"
}
# latency_figures ROUND: every rate, the paths taking turns in blocks.
latency_figures() {
  local r=$1 rate ms n b k kind i v
  local paths=("${LAT_PATHS[@]}")
  for rate in "${LAT_RATES[@]}"; do
    read -r ms n <<<"$rate"
    rm -f "$LAB_DIR"/lat-*
    residence_capture start
    for ((b = 0; b < LAT_BLOCKS; b++)); do
      for ((k = 0; k < ${#paths[@]}; k++)); do
        latency_block "${paths[$(((k + b) % ${#paths[@]}))]}" "$ms" $(((n + LAT_BLOCKS - 1) / LAT_BLOCKS)) "$r"
      done
    done
    residence_capture stop
    for k in "${paths[@]}"; do
      [ "$k" = kernel ] && continue
      v=$(residence "$k" | percentiles)
      for i in 0 2 3; do put "$r" "$k" "xl$ms.${LAT_STATS[$i]}" "$(col "$v" $((i + 1)))"; done
    done
    for k in "${paths[@]}"; do
      for kind in ping call; do
        v=$(percentiles <"$LAB_DIR/lat-$k-$kind")
        for i in 0 1 2 3; do
          put "$r" "$k" "$kind$ms.${LAT_STATS[$i]}" "$(col "$v" $((i + 1)))"
        done
      done
    done
  done
  nat_off
}
# latency_rows: the latency table's rows for bench_stats.py.
latency_rows() {
  local kind rate ms n s name
  for kind in ping call; do
    for rate in "${LAT_RATES[@]}"; do
      read -r ms n <<<"$rate"
      name=ping
      [ "$kind" = call ] && name="API call"
      for s in "${LAT_STATS[@]}"; do
        printf '%s\t%s, one every %s ms (%s), %s (ms)\n' "$kind$ms.$s" "$name" "$ms" "$n" "$s"
      done
    done
  done
  for rate in "${LAT_RATES[@]}"; do
    read -r ms n <<<"$rate"
    for s in p50 p99 max; do
      printf '%s\t%s, one every %s ms, %s (ms)\n' "xl$ms.$s" "a packet's time in the translator" "$ms" "$s"
    done
  done
}

LATENCY_ONLY=${BENCH_LATENCY_ONLY:-0}
for ((r = 1; r <= ROUNDS; r++)); do
  echo "== round $r of $ROUNDS" >&2
  offloads on
  if [ "$LATENCY_ONLY" != 1 ]; then
    measure "$r" nat64d nat64d "$NAT64_PID"
    if [ -n "$COMPARE" ]; then
      start_nat64d true "$COMPARE"
      measure "$r" before nat64d "$NAT64_PID"
      start_nat64d true
    fi
    nat_on
    measure "$r" tayga tayga "$TAYGA_PID"
    measure "$r" kernel kernel ""
    # The fallback paths: no offload anywhere, nat64d's TUN included.
    offloads off
    measure "$r" kernel_nooff kernel ""
    nat_off
    start_nat64d false
    measure "$r" nat64d_nooff nat64d "$NAT64_PID"
    start_nat64d true
    offloads on
  fi
  latency_figures "$r"
done

stats() { "$LAB_PYTHON" "$HERE/bench_stats.py" "$@"; }
LAT_COLUMNS="nat64d=nat64d,tayga=TAYGA,kernel=kernel NAT44"
LAT_RATIOS=nat64d/tayga,nat64d/kernel
if [ "${#LAT_PATHS[@]}" = 4 ]; then
  LAT_COLUMNS="nat64d=nat64d,before=nat64d (BENCH_COMPARE),tayga=TAYGA,kernel=kernel NAT44"
  LAT_RATIOS=$LAT_RATIOS,nat64d/before
fi
if [ "$LATENCY_ONLY" = 1 ]; then
  latency_rows | stats table "$RESULTS" "$LAT_COLUMNS" "$LAT_RATIOS"
  exit 0
fi

# ---- nat64d with 1 M live sessions ----------------------------------------------

echo "-- nat64d: 1 M UDP sessions" >&2
RSS0=$(awk '/VmRSS/ {print $2}' "/proc/$NAT64_PID/status")
# Raw IPv6/UDP packets from 1 M distinct (address, port) pairs inside
# v6client's /64 to the sink: one binding and one session each, paced to
# at most ~60 000 packets/s. A pass repeats what was dropped on the way
# (counted below); at most three.
# Packets the kernel dropped at nat64d's TUN queues (transmit drops).
# shellcheck disable=SC2016 # awk's own fields
tun_drops() { lab_exec gw awk '$1 == "nat64:" {print $13}' /proc/net/dev; }
TUN_DROPS0=$(tun_drops)
for pass in 1 2 3; do
  lab_exec v6client "$LAB_PYTHON" - 1000000 <<'PY'
import socket, struct, sys, time
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst = socket.inet_pton(socket.AF_INET6, "64:ff9b::cb00:710a")
base = socket.inet_pton(socket.AF_INET6, "2001:db8:1::1:0")[:12]
payload = b"x" * 8
for i in range(n):
    src = base + struct.pack("!I", 0x10000 + i // 50000)
    sport = 2000 + i % 50000
    udp = struct.pack("!HHHH", sport, 9, 8 + len(payload), 0) + payload
    pseudo = src + dst + struct.pack("!I3xB", len(udp), 17)
    data = pseudo + udp
    c = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while c >> 16:
        c = (c & 0xffff) + (c >> 16)
    udp = udp[:6] + struct.pack("!H", (~c & 0xffff) or 0xffff) + udp[8:]
    hdr = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + src + dst
    try:
        s.sendto(hdr + udp, ("64:ff9b::cb00:710a", 0))
    except BlockingIOError:
        pass
    if i % 250 == 249:
        time.sleep(0.004)  # at most ~60 000 packets/s: filling, not flooding
PY
  sleep 1
  SESSIONS=$(lab_exec gw curl -s http://127.0.0.1:9464/metrics | awk '$1 == "nat64d_sessions{proto=\"udp\"}" {print $2}')
  echo "   pass $pass: ${SESSIONS:-?} UDP sessions" >&2
  [ "${SESSIONS:-0}" -ge 1000000 ] && break
done
TUN_DROPS=$(($(tun_drops) - TUN_DROPS0))
RSS1=$(awk '/VmRSS/ {print $2}' "/proc/$NAT64_PID/status")

# ---- report ---------------------------------------------------------------------

MACHINE="$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r)"
main_rows() {
  printf '%s\t%s\n' tcp1 "TCP, 1 stream (Gb/s)" tcp4 "TCP, 4 streams (Gb/s)" \
    udp "UDP 64 B received (packets/s)" udp_loss "UDP 64 B loss (%)" \
    ping_avg "ping average (ms)" ping_p99 "ping p99 (ms)" \
    conn "short connections (per s)" conn_failed "short connections failed (count)" \
    cpu "translator CPU per Gb, TCP 1 stream (CPU s)" \
    mcpu "whole machine CPU per Gb, TCP 1 stream (CPU s, of $NCPU cores)"
}
{
  echo "# Benchmarks"
  echo
  echo "## NAT64"
  echo
  echo "Measured $(date -u +%Y-%m-%d) by \`sudo scripts/bench.sh $DUR $ROUNDS\`: $ROUNDS rounds, $DUR s per figure, the paths alternating within each round."
  echo "Machine: $MACHINE."
  [ -n "$COMPARE" ] && echo "Compared build (BENCH_COMPARE): $COMPARE ($("$COMPARE" --version 2>/dev/null | head -1)), measured right after nat64d in every round."
  echo "Versions: nat64d $(cd "$ROOT" && git describe --always --dirty 2>/dev/null), TAYGA $(dpkg-query -W -f '${Version}' tayga 2>/dev/null), iperf3 $(iperf3 --version | head -1 | awk '{print $2}'), nftables $(nft --version | awk '{print $2}')."
  echo "Paths, client and server in the namespace lab (docs/testing.md): nat64d (64:ff9b::/96); TAYGA (2001:db8:64::/96, stateless, nftables masquerade for the ports); the kernel's NAT44 (IPv4 client, nftables masquerade). \"off\": TSO/GSO/GRO off on every veth of the path, and for nat64d also its TUN offload (\`offload = false\`: the fallback path)."
  echo
  echo "Each cell: the median of the rounds (lowest–highest). Each ratio: the median of the per-round ratios (lowest–highest)."
  echo
  main_rows | stats table "$RESULTS" \
    "nat64d=nat64d,${COMPARE:+before=nat64d (BENCH_COMPARE),}nat64d_nooff=nat64d offloads off,tayga=TAYGA,kernel=kernel NAT44,kernel_nooff=kernel NAT44 offloads off" \
    "nat64d/tayga,nat64d/kernel,nat64d_nooff/kernel_nooff${COMPARE:+,nat64d/before}"
  echo
  echo "nat64d with $SESSIONS live UDP sessions (1 M sent from distinct address/port pairs in $pass pass(es); $TUN_DROPS dropped by the kernel at the TUN queue): resident memory $(awk -v k="$RSS1" 'BEGIN {printf "%.1f", k / 1024}') MB (before: $(awk -v k="$RSS0" 'BEGIN {printf "%.1f", k / 1024}') MB). One measurement, after the rounds."
  echo
  echo "### Latency"
  echo
  echo "At three rates (a packet or a call every 1, 15, 200 ms), each rate's samples in $LAT_BLOCKS blocks the paths take turns in, pooled per path; the latency client on CPUs ${pin_c:-any} and its server on CPUs ${pin_s:-any} (BENCH_LATENCY_PIN). Ping: ICMP echo through the translator; API call: connect, a 19-byte request, a 40-byte reply, close, timed to the reply's last byte."
  echo
  latency_rows | stats table "$RESULTS" "$LAT_COLUMNS" "$LAT_RATIOS"
  echo
  echo "<details><summary>Every round's figures (ROUND FIGURE PATH VALUE)</summary>"
  echo
  echo '```'
  cat "$RESULTS"
  echo '```'
  echo
  echo "</details>"
} >"$ROOT/BENCHMARKS.md.new"
lab_down
trap - EXIT

if [ "${BENCH_DNS:-1}" != 0 ]; then
  echo "== DNS64: dns64d, Unbound, BIND (scripts/bench-dns64.sh)" >&2
  if dns=$("$HERE/bench-dns64.sh" 10 "$ROUNDS"); then
    { echo; echo "## DNS64"; echo "$dns"; } >>"$ROOT/BENCHMARKS.md.new"
  else
    echo "bench.sh: the DNS64 benchmark failed; BENCHMARKS.md has the NAT64 part only" >&2
  fi
fi
mv "$ROOT/BENCHMARKS.md.new" "$ROOT/BENCHMARKS.md"
cat "$ROOT/BENCHMARKS.md"
