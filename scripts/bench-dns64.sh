#!/usr/bin/env bash
# DNS64 benchmark: dnsperf from v6client against dns64d, Unbound (dns64
# module) and BIND 9 (dns64), all three in gw at the same time, all asking
# the same NSD in v4server for the same zone. Two loads, each DURATION
# seconds per server: (a) cached: five names asked over and over; (b)
# uncached: unique names under bench.test (a wildcard A, no AAAA), so each
# query costs an AAAA and an A upstream; (c) uncached-dual: unique names
# under dual.bench.test (A and AAAA), answered with the real AAAA. dns64d
# runs twice, with `a_query = "parallel"` (its default) and with
# "after_aaaa" (a second instance, "dns64d-after"), and its questions to
# the upstream per client query are counted from its /metrics. Prints a
# Markdown table: queries per second, lost queries, average latency,
# resident memory after the run, upstream questions per query, and dns64d's
# ratio to each peer; then answer latency percentiles (p50, p90, p99, max)
# of dns64d, Unbound and BIND, cached and uncached, at a moderate rate and
# at saturation. Needs root and the Debian packages
# dnsperf, unbound, bind9, nsd.
#
# Rounds: every figure is taken once per round, the servers in turn within
# each load, so a slow minute of the machine hits all of them; each cell of
# the tables is the median of the rounds with their range, each ratio the
# median (and range) of the per-round ratios (scripts/bench_stats.py).
#
# The latency figures come in one-second blocks the servers take turns in
# (BENCH_DNS_LATENCY_BLOCKS=N blocks a figure, default 10), pooled per
# server.
#
# Usage: sudo scripts/bench-dns64.sh [DURATION [ROUNDS]]   (default 10 s, 3)
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/netns.sh
source "$HERE/netns.sh"
DURATION=${1:-10}
ROUNDS=${2:-3}
case $DURATION$ROUNDS in '' | *[!0-9]*) echo "usage: $0 [DURATION-SECONDS [ROUNDS]]" >&2; exit 2 ;; esac
if [ "$DURATION" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then echo "usage: $0 [DURATION-SECONDS [ROUNDS]] (both at least 1)" >&2; exit 2; fi
for tool in dnsperf unbound named nsd; do
  command -v "$tool" >/dev/null || { echo "bench-dns64.sh: $tool is missing (apt-get install dnsperf unbound bind9 nsd)" >&2; exit 1; }
done

echo "building release dns64d..." >&2
(cd "$HERE/.." && cargo build --release -p dns64d -q) || exit 1
DNS64D=$HERE/../target/release/dns64d

trap lab_down EXIT
trap 'exit 130' INT TERM
lab_up || exit 1

ADDR=$LAB_GW6
PORT_OURS=53
PORT_UNBOUND=5301
PORT_BIND=5302
PORT_AFTER=5303

lab_gateway_config "$LAB_DIR/gateway.toml" nat64=no dns64_listen="\"[$ADDR]:$PORT_OURS\"" \
  dns64_allow='"2001:db8:1::/64"' cache_size=1000000 dns64_metrics=127.0.0.1:9465 || exit 1
# The same dns64d, asking A only after AAAA (`a_query = "after_aaaa"`).
lab_gateway_config "$LAB_DIR/after.toml" nat64=no dns64_listen="\"[$ADDR]:$PORT_AFTER\"" \
  dns64_allow='"2001:db8:1::/64"' cache_size=1000000 dns64_metrics=127.0.0.1:9466 \
  dns64_control="$LAB_DIR/dns64d-after.sock" || exit 1
sed -i 's/^\(cache_size = .*\)$/\1\na_query = "after_aaaa"/' "$LAB_DIR/after.toml"
grep -q '^a_query = "after_aaaa"' "$LAB_DIR/after.toml" || { echo "bench-dns64.sh: cannot write after.toml" >&2; exit 1; }

mkdir -p "$LAB_DIR/unbound"
cat >"$LAB_DIR/unbound/unbound.conf" <<EOF
server:
  interface: $ADDR@$PORT_UNBOUND
  do-ip4: yes
  do-ip6: yes
  access-control: 2001:db8:1::/64 allow
  username: ""
  chroot: ""
  directory: "$LAB_DIR/unbound"
  pidfile: "$LAB_DIR/unbound/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 2
  so-reuseport: yes
  msg-cache-size: 64m
  rrset-cache-size: 128m
  module-config: "dns64 iterator"
  dns64-prefix: 64:ff9b::/96
  do-not-query-localhost: no
  domain-insecure: "test."
  # test. is a special-use name (RFC 6761) unbound answers itself by default.
  local-zone: "test." nodefault
  val-permissive-mode: yes
  harden-referral-path: no
  qname-minimisation: no
stub-zone:
  name: "test."
  stub-addr: $LAB_DNS4
remote-control:
  control-enable: no
EOF

mkdir -p "$LAB_DIR/bind"
cat >"$LAB_DIR/bind/named.conf" <<EOF
controls { };
options {
  directory "$LAB_DIR/bind";
  pid-file "$LAB_DIR/bind/named.pid";
  listen-on { none; };
  listen-on-v6 port $PORT_BIND { $ADDR; };
  recursion yes;
  allow-query { 2001:db8:1::/64; };
  allow-recursion { 2001:db8:1::/64; };
  dnssec-validation no;
  max-cache-size 256m;
  dns64 64:ff9b::/96 { clients { any; }; };
  query-source address 192.0.2.1;
};
zone "test." {
  type static-stub;
  server-addresses { $LAB_DNS4; };
};
EOF

lab_bg gw dns64d "$DNS64D" --config "$LAB_DIR/gateway.toml"
lab_bg gw dns64d-after "$DNS64D" --config "$LAB_DIR/after.toml"
lab_bg gw unbound unbound -d -c "$LAB_DIR/unbound/unbound.conf"
lab_bg gw named named -g -n 2 -c "$LAB_DIR/bind/named.conf"

probe() { lab_exec v6client dig +time=1 +tries=1 +short -p "$1" "@$ADDR" twitter.test AAAA | grep -q '^64:ff9b::cb00:710a$'; }
for p in $PORT_OURS $PORT_AFTER $PORT_UNBOUND $PORT_BIND; do
  if ! lab_wait 100 probe "$p"; then
    echo "the resolver on port $p does not synthesise twitter.test; logs:" >&2
    for l in dns64d dns64d-after unbound named; do echo "-- $l"; tail -n 5 "$LAB_DIR/$l.log"; done >&2
    exit 1
  fi
done

CACHED="$LAB_DIR/cached.txt"
for n in twitter.test akismet.test chain.test multi.test www.legacy.test; do echo "$n AAAA"; done >"$CACHED"

# Unique names: more than any server can answer in DURATION seconds (or
# COUNT of them); uncached_file TAG ZONE [COUNT] (bench.test,
# dual.bench.test).
uncached_file() {
  "${LAB_PYTHON}" -c "import sys
for i in range(int(sys.argv[2])): print('u%d.%s.%s AAAA' % (i, sys.argv[1], sys.argv[3]))" "$1" "${3:-2000000}" "$2" >"$LAB_DIR/uncached-$1-$2.txt"
  echo "$LAB_DIR/uncached-$1-$2.txt"
}

pid_of() {
  case $1 in
    dns64d) pgrep -f -- "$DNS64D --config $LAB_DIR/gateway.toml" | head -1 ;;
    dns64d-after) pgrep -f -- "$DNS64D --config $LAB_DIR/after.toml" | head -1 ;;
    unbound) pgrep -f -- "unbound -d -c $LAB_DIR" | head -1 ;;
    bind) pgrep -f -- "named -g -n 2 -c $LAB_DIR" | head -1 ;;
  esac
}
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null; }
# CPU seconds (user + system, all threads) a process has used.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null; }
# UDP datagrams the kernel dropped for full receive buffers in ROLE.
rcvbuf_errors() {
  # shellcheck disable=SC2016 # awk's own $i
  lab_exec "$1" awk '/^Udp: / && !h {for (i = 1; i <= NF; i++) d[i] = $i; h = 1; next}
    /^Udp: / {for (i = 1; i <= NF; i++) if (d[i] == "RcvbufErrors") s += $i}
    /^Udp6RcvbufErrors/ {s += $2}
    END {print s + 0}' /proc/net/snmp /proc/net/snmp6 2>/dev/null
}

# upstream_sent NAME: questions dns64d instance NAME has sent upstream
# (from its /metrics); empty for the peers.
upstream_sent() {
  local port
  case $1 in dns64d) port=9465 ;; dns64d-after) port=9466 ;; *) return ;; esac
  lab_exec gw curl -sf "http://127.0.0.1:$port/metrics" |
    awk '/^dns64d_upstream_total\{/ && /result="sent"/ {s += $2} END {print s + 0}'
}

# Every figure of every round: "ROUND FIGURE SERVER VALUE" (scripts/bench_stats.py).
RESULTS=$LAB_DIR/dns-results.txt
: >"$RESULTS"
# put ROUND SERVER FIGURE VALUE (empty: n/a).
put() { echo "$1 $3 $2 ${4:-n/a}" >>"$RESULTS"; }

# run ROUND LOAD NAME PORT FILE: queries per second, lost queries,
# average latency, resident memory after, server CPU per query, kernel
# drops at the server and at the client, upstream questions per query.
run() {
  local r=$1 load=$2 s=$3 out qps lost lat pid c0 c1 completed g0 g1 v0 v1 u0 u1
  pid=$(pid_of "$s")
  u0=$(upstream_sent "$s")
  c0=$(cpu_s "$pid")
  g0=$(rcvbuf_errors gw)
  v0=$(rcvbuf_errors v6client)
  out=$(lab_exec v6client dnsperf -s "$ADDR" -p "$4" -d "$5" -l "$DURATION" -c 4 -q 500 -t 2 2>&1)
  c1=$(cpu_s "$pid")
  u1=$(upstream_sent "$s")
  g1=$(rcvbuf_errors gw)
  v1=$(rcvbuf_errors v6client)
  qps=$(awk '/Queries per second/ {printf "%.0f", $4}' <<<"$out")
  lost=$(awk '/Queries lost/ {print $3}' <<<"$out")
  lat=$(awk '/Average Latency/ {printf "%.2f", $4 * 1000}' <<<"$out")
  completed=$(awk '/Queries completed/ {print $3}' <<<"$out")
  put "$r" "$s" "$load.qps" "$qps"
  put "$r" "$s" "$load.lost" "$lost"
  put "$r" "$s" "$load.latency" "$lat"
  put "$r" "$s" "$load.rss" "$(rss_mb "$pid")"
  put "$r" "$s" "$load.cpu" "$(awk -v a="$c0" -v b="$c1" -v n="${completed:-0}" 'BEGIN { if (n > 0) printf "%.2f", (b - a) * 1e6 / n }')"
  put "$r" "$s" "$load.drops_server" "$((g1 - g0))"
  put "$r" "$s" "$load.drops_client" "$((v1 - v0))"
  put "$r" "$s" "$load.upstream" "$(awk -v a="$u0" -v b="$u1" -v n="${completed:-0}" 'BEGIN { if (a != "" && n > 0) printf "%.2f", (b - a) / n }')"
}

port_of() {
  case $1 in dns64d) echo $PORT_OURS ;; dns64d-after) echo $PORT_AFTER ;; unbound) echo $PORT_UNBOUND ;; bind) echo $PORT_BIND ;; esac
}

# Answer latency: every answer's time from dnsperf -v, cached and uncached
# (fresh unique names), at a moderate rate (dnsperf -Q 1000) and at
# saturation. Each figure's LAT_BLOCKS seconds come in one-second blocks
# the servers take turns in, the order rotating, so a stall of the machine
# hits every server alike; a server's percentiles pool its blocks
# (scripts/bench_stats.py percentiles).
# Ten seconds a figure: the lab's stalls of 5-15 ms (every server has
# them, a few a second) hit some 10 answers each, so with fewer samples
# the p99 counts stalls rather than answers.
LAT_BLOCKS=${BENCH_DNS_LATENCY_BLOCKS:-10}
case $LAT_BLOCKS in '' | *[!0-9]* | 0) echo "bench-dns64.sh: BENCH_DNS_LATENCY_BLOCKS=$LAT_BLOCKS is not a count of at least 1" >&2; exit 2 ;; esac
# lat_block SERVER FILE RATE: every answer's time (ms) of one second of
# queries from FILE, one a line (RATE 0: as fast as dnsperf goes).
lat_block() {
  local limit=()
  [ "$3" != 0 ] && limit=(-Q "$3")
  lab_exec v6client dnsperf -s "$ADDR" -p "$(port_of "$1")" -d "$2" -l 1 -c 4 -q 500 -t 2 -v "${limit[@]}" 2>/dev/null |
    awk '$1 == ">" {printf "%.3f\n", $5 * 1000}'
}
# lat_figure ROUND LOAD RATE: the LOAD's latency at RATE, every server.
lat_figure() {
  local r=$1 load=$2 rate=$3 b k s file v
  rm -f "$LAB_DIR"/dnslat-*
  for ((b = 0; b < LAT_BLOCKS; b++)); do
    for ((k = 0; k < ${#LAT_SERVERS[@]}; k++)); do
      s=${LAT_SERVERS[$(((k + b) % ${#LAT_SERVERS[@]}))]}
      file=$CACHED
      [ "$load" = uncached ] && file=$(uncached_file "lat$rate-$s-r$r-b$b" bench.test 200000)
      echo "round $r of $ROUNDS, dnsperf latency: $load, $(rate_label "$rate"), block $((b + 1)) of $LAT_BLOCKS: $s..." >&2
      lat_block "$s" "$file" "$rate" >>"$LAB_DIR/dnslat-$s"
      [ "$load" = uncached ] && rm -f "$file"
    done
  done
  for s in "${LAT_SERVERS[@]}"; do
    read -ra v <<<"$(stats percentiles <"$LAB_DIR/dnslat-$s")"
    for k in 0 1 2 3; do put "$r" "$s" "lat.$load.$rate.${LAT_STATS[$k]}" "${v[$k]:-}"; done
  done
}
rate_label() { if [ "$1" = 0 ]; then echo saturation; else echo "$1/s"; fi; }
stats() { "$LAB_PYTHON" "$HERE/bench_stats.py" "$@"; }

SERVERS=(dns64d dns64d-after unbound bind)
LOADS=(cached uncached uncached-dual)
LAT_SERVERS=(dns64d unbound bind)
LAT_STATS=(p50 p90 p99 max)
for ((r = 1; r <= ROUNDS; r++)); do
  for load in "${LOADS[@]}"; do
    for s in "${SERVERS[@]}"; do
      case $load in
        cached) file=$CACHED ;;
        uncached) file=$(uncached_file "$s-r$r" bench.test) ;;
        uncached-dual) file=$(uncached_file "$s-r$r" dual.bench.test) ;;
      esac
      echo "round $r of $ROUNDS, dnsperf: $load, $s ($DURATION s)..." >&2
      run "$r" "$load" "$s" "$(port_of "$s")" "$file"
    done
  done
  for load in cached uncached; do
    for rate in 1000 0; do lat_figure "$r" "$load" "$rate"; done
  done
done

echo
echo "DNS64 benchmark, $(date -u +%Y-%m-%d): $ROUNDS rounds, the servers in turn within each load; dnsperf -l $DURATION -c 4 -q 500 from v6client; upstream NSD $(nsd -v 2>&1 | head -1 | awk '{print $3}'), $(unbound -V | head -1), BIND $(named -v | awk '{print $2}')."
echo "Machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), Linux $(uname -r)."
echo
echo "Each cell: the median of the rounds (lowest–highest); each ratio: the median of the per-round ratios (lowest–highest). Queries per second: higher is better; the rest: lower is better."
echo
for load in "${LOADS[@]}"; do
  printf '%s\t%s\n' "$load.qps" "$load: queries/s" "$load.lost" "$load: lost" \
    "$load.latency" "$load: average latency (ms)" "$load.rss" "$load: RSS after (MB)" \
    "$load.cpu" "$load: server CPU per query (µs)" \
    "$load.drops_server" "$load: kernel drops at the server" "$load.drops_client" "$load: kernel drops at the client" \
    "$load.upstream" "$load: upstream questions per query"
done | stats table "$RESULTS" "dns64d=dns64d,dns64d-after=dns64d after_aaaa,unbound=Unbound,bind=BIND" dns64d/unbound,dns64d/bind
echo
echo "CPU per query counts the server process only (upstream NSD and dnsperf share the same $(nproc) cores). RSS grows over the rounds: the caches keep the unique names of every round."
echo
echo "Answer latency (dnsperf -v, every answer of $LAT_BLOCKS one-second blocks the servers take turns in, pooled per server; cached: the five names above; uncached: fresh unique names; moderate: dnsperf -Q 1000, saturation: as fast as dnsperf goes), ms:"
echo
for load in cached uncached; do
  for rate in 1000 0; do
    for s in "${LAT_STATS[@]}"; do
      printf '%s\t%s, %s, %s (ms)\n' "lat.$load.$rate.$s" "$load" "$(rate_label "$rate")" "$s"
    done
  done
done | stats table "$RESULTS" "dns64d=dns64d,unbound=Unbound,bind=BIND" dns64d/unbound,dns64d/bind
echo
echo "<details><summary>Every round's figures (ROUND FIGURE SERVER VALUE)</summary>"
echo
echo '```'
cat "$RESULTS"
echo '```'
echo
echo "</details>"
