# shellcheck shell=bash disable=SC2119,SC2120 # nat64_config: the case files pass arguments
# What every case file of the end-to-end suite uses: the outcome helpers, the
# daemons' binaries, the gateway file, and `need_*` functions that start what
# a case needs when it is not already running, so that any subset of cases
# runs on its own (scripts/netns-test.sh FILTER). Sourced by the runner after
# scripts/netns.sh.

NETNS_PY=$NETNS_DIR/py

# expect WHAT GOT WANT: fails with a message unless GOT == WANT.
expect() {
  if [ "$2" != "$3" ]; then
    printf '%s: got [%s], want [%s]\n' "$1" "$2" "$3"
    return 1
  fi
}

DIG=(dig +time=2 +tries=1)
CURL=(curl --silent --show-error --fail --max-time 10)

# The sha256 field of lab-services.py's JSON answer on standard input.
json_sha256() { "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["sha256"])'; }

NAT64D=${NAT64D:-$ROOT/target/debug/nat64d}
DNS64D=${DNS64D:-$ROOT/target/debug/dns64d}
NAT64GW=${NAT64GW:-$ROOT/target/debug/nat64gw}
NAT64_METRICS=127.0.0.1:9464
DNS64_METRICS=127.0.0.1:9465
# 64:ff9b::/96 + an IPv4-only service address.
v6_of() { echo "64:ff9b::$1"; }

# The TUN's segmentation/checksum offload (the `offload` key): the suite runs
# with it on; scripts/test.sh runs it again with NAT64_OFFLOAD=false.
NAT64_OFFLOAD=${NAT64_OFFLOAD:-true}
case $NAT64_OFFLOAD in
  true | false) ;;
  *) echo "netns-test.sh: NAT64_OFFLOAD must be true or false, not '$NAT64_OFFLOAD'" >&2; exit 2 ;;
esac

# Both IPv6 clients may use the translator.
NAT64_ALLOW='"2001:db8:1::/64", "2001:db8:3::/64"'
NAT64_DENY='"203.0.113.14/32"'
# dns64d serves v6client (and loopback), not v6client2.
DNS64_ALLOW='"2001:db8:1::/64", "::1/128"'
# Port forwarding (RFC 6146 §3.5.1 static BIB entries): this pool address
# and port reach an HTTP server on v6client.
NAT64_STATIC4=198.51.100.14
NAT64_STATIC_PORT=8080

# nat64_config [ALLOW_FROM [DENY_TO [DNS64_ALLOW_FROM]]]: writes the suite's
# gateway file, read by both daemons. A case sets NAT64_LIMITS (lines of
# [nat64.limits]) and NAT64_TAIL (TOML after the [nat64] tables) for its own
# limits and port policy, and calls nat64_config again without them after.
nat64_config() {
  lab_gateway_config "$LAB_DIR/gateway.toml" \
    limits="${NAT64_LIMITS:-}" nat64_tail="${NAT64_TAIL:-}" \
    nat64_allow="${1:-$NAT64_ALLOW}" deny_to="${2:-$NAT64_DENY}" \
    dns64_allow="${3:-$DNS64_ALLOW}" \
    offload="$NAT64_OFFLOAD" mapping_log="$LAB_DIR/mappings.log" \
    static="{ proto = \"tcp\", ipv6 = \"[$LAB_V6CLIENT]:$NAT64_STATIC_PORT\", ipv4 = \"$NAT64_STATIC4:$NAT64_STATIC_PORT\" }" \
    nat64_metrics="$NAT64_METRICS" dns64_metrics="$DNS64_METRICS" \
    dns64_listen="\"[$LAB_GW6]:53\", \"[$LAB_GW6_2]:53\"" timeout_ms=500
}

# own_sockets FILE NAME: a copy of the gateway file for a second daemon
# gets control sockets of its own (NAME in their file names).
own_sockets() { sed -i -E "s,/(nat64d|dns64d)\.sock\",/\1-$2.sock\"," "$1"; }

metric() {
  lab_exec gw "${CURL[@]}" "http://$NAT64_METRICS/metrics" | awk -v k="$1" '$1 == k {print $2}'
}

# metric_is NAME VALUE: nat64d's /metrics says NAME is VALUE.
metric_is() { [ "$(metric "$1")" = "$2" ]; }

nat64_pid() { pgrep -f -- "$NAT64D --config $LAB_DIR/gateway.toml" | head -1; }
dns64_pid() { pgrep -f -- "$DNS64D --config $LAB_DIR/gateway.toml" | head -1; }

# stop_pid PID: SIGTERM, then waits up to 5 s for it to go.
stop_pid() {
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null
  lab_wait 50 sh -c "! kill -0 $1 2>/dev/null"
}

# start_nat64d: checks the standard gateway file and starts nat64d from it;
# waits for /metrics.
start_nat64d() {
  [ -x "$NAT64D" ] || { echo "no nat64d binary at $NAT64D (run cargo build)"; return 1; }
  nat64_config
  lab_exec gw "$NAT64D" --check-config --config "$LAB_DIR/gateway.toml" || return 1
  lab_bg gw nat64d "$NAT64D" --config "$LAB_DIR/gateway.toml"
  if ! lab_wait 50 lab_exec gw "${CURL[@]}" -o /dev/null "http://$NAT64_METRICS/metrics"; then
    cat "$LAB_DIR/nat64d.log"
    return 1
  fi
}

start_dns64d() {
  [ -x "$DNS64D" ] || { echo "no dns64d binary at $DNS64D (run cargo build)"; return 1; }
  [ -e "$LAB_DIR/gateway.toml" ] || nat64_config
  lab_exec gw "$DNS64D" --check-config --config "$LAB_DIR/gateway.toml" || return 1
  lab_bg gw dns64d "$DNS64D" --config "$LAB_DIR/gateway.toml"
  lab_wait 50 dig6 +short ipv4only.arpa A >/dev/null || { cat "$LAB_DIR/dns64d.log"; return 1; }
}

# need_nat64d, need_dns64d: the daemon runs from the standard gateway file
# (started now if it was not running).
need_nat64d() { [ -n "$(nat64_pid)" ] || start_nat64d; }
need_dns64d() { [ -n "$(dns64_pid)" ] || start_dns64d; }
need_gateway() { need_nat64d && need_dns64d; }

# thread_slices PID PATTERN: the scheduler slice (ns, `se.slice`) of each
# thread of PID whose name matches PATTERN, one per line.
thread_slices() {
  local t
  for t in /proc/"$1"/task/*; do
    grep -Eq "$2" "$t/comm" 2>/dev/null || continue
    awk -F: '/^se.slice/ {gsub(/ /, "", $2); print $2}' "$t/sched"
  done
}
# True when the kernel takes a thread's own slice (Linux 6.12 and later,
# and shows it in /proc/*/sched).
custom_slices() {
  grep -q '^se.slice' /proc/self/sched && printf '%s\n' 6.12 "$(uname -r | cut -d- -f1)" | sort -V -C
}
# all_short SLICES: every line is the short slice (100 000 ns), and there is one.
all_short() { [ -n "$1" ] && ! grep -qv '^100000$' <<<"$1"; }
# dig6 [ROLE] ARGS...: dig from v6client (or ROLE) at dns64d on the gateway.
dig6() {
  local role=v6client
  case $1 in v6client | v6client2) role=$1; shift ;; esac
  lab_exec "$role" "${DIG[@]}" "@$LAB_GW6" "$@"
}
# The answer section's type and data, one record per line.
answers() { dig6 "$@" +noall +answer | awk '{print $4, $5}'; }
# dig_both WANT ARGS...: the same answer over UDP and over TCP.
dig_both() {
  local want=$1 got
  shift
  got=$(answers "$@") || return 1
  expect "$* over UDP" "$got" "$want" || return 1
  got=$(answers +tcp "$@") || return 1
  expect "$* over TCP" "$got" "$want"
}
status() { dig6 "$@" +noall +comments | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
dns_metric() {
  lab_exec gw "${CURL[@]}" "http://$DNS64_METRICS/metrics" | awk -v k="$1" '$1 == k {print $2}'
}
# dns_metric_sum NAME: a family of dns64d's summed over its labels.
dns_metric_sum() {
  lab_exec gw "${CURL[@]}" "http://$DNS64_METRICS/metrics" | awk -v k="$1" 'index($1, k "{") == 1 || $1 == k {s += $2} END {print s + 0}'
}


# curl from ROLE with the lab's CA; names resolve through dns64d (the
# clients' resolv.conf points at the gateway).
curl6() {
  local role=$1
  shift
  lab_exec "$role" "${CURL[@]}" --cacert "$LAB_DIR/ca.crt" "$@"
}

reloads() { grep -c "reloaded:" "$LAB_DIR/$1.log"; }

# lab_gone DIR NAMESPACE...: none of this lab's namespaces, /etc/netns
# entries, its directory or its processes is left.
lab_gone() {
  local dir=$1 ns
  shift
  for ns in "$@"; do
    [ ! -e "/run/netns/$ns" ] || { echo "namespace $ns still exists"; return 1; }
    [ ! -e "/etc/netns/$ns" ] || { echo "/etc/netns/$ns still exists"; return 1; }
  done
  [ -n "$dir" ] || return 0
  [ ! -e "$dir" ] || { echo "$dir still exists"; return 1; }
  if pgrep -f -- "$dir" >/dev/null; then
    echo "processes of $dir still run: $(pgrep -af -- "$dir")"
    return 1
  fi
}
