#!/usr/bin/env bash
# The demo: nat64gw in the namespace lab, from one shipped config file.
#
# Builds release binaries, builds the lab (an IPv6-only client, the gateway,
# an IPv4-only server: docs/testing.md), starts dns64d and nat64d in the
# gateway from examples/demo.toml, shows the IPv6-only client resolving and
# fetching IPv4-only sites by name, then shows live counters until Ctrl-C
# and removes everything it made.
#
# Usage: sudo scripts/demo.sh [--no-build]
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=scripts/netns.sh
. "$HERE/netns.sh"

BUILD=1
case "${1:-}" in
  "") ;;
  --no-build) BUILD=0 ;;
  *) echo "usage: sudo $0 [--no-build]" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: the lab uses network namespaces and a TUN device; run: sudo $0" >&2
  exit 2
fi
missing=()
for tool in ip nsd dig curl openssl "$LAB_PYTHON"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "demo.sh: missing tools: ${missing[*]}" >&2
  echo "  install them with: apt-get install iproute2 nsd bind9-dnsutils curl openssl python3" >&2
  exit 2
fi

if [ "$BUILD" = 1 ]; then
  echo "== building release binaries (cargo build --release)"
  (cd "$ROOT" && cargo build --release -p nat64d -p dns64d -p nat64gw-ctl) || exit 1
fi
NAT64D=$ROOT/target/release/nat64d
DNS64D=$ROOT/target/release/dns64d
for b in "$NAT64D" "$DNS64D"; do
  [ -x "$b" ] || { echo "demo.sh: $b is missing; run without --no-build" >&2; exit 1; }
done

# On the way out: what was dropped and why, then the lab goes.
finish() {
  if [ -n "$LAB_DIR" ] && lab_exec gw true 2>/dev/null; then
    echo
    echo "== packets nat64d dropped, by reason (nat64d_drops_total, non-zero only)"
    metrics 127.0.0.1:9464 | awk '/^nat64d_drops_total/ && $2 > 0 {print "   " $0}'
  fi
  echo
  echo "== cleaning up"
  lab_down
  echo "done: namespaces, TUN device and files removed"
}
metrics() { lab_exec gw curl --silent --max-time 2 "http://$1/metrics"; }
trap finish EXIT
trap 'exit 0' INT TERM

echo "== building the lab"
lab_up || { echo "demo.sh: the lab did not come up" >&2; exit 1; }
CONF=$LAB_DIR/gateway.toml
cp "$ROOT/examples/demo.toml" "$CONF"
# The control sockets in the lab's directory, so that the demo leaves
# nothing in /run behind.
printf '\n[nat64.control]\nsocket = "%s"\n\n[dns64.control]\nsocket = "%s"\n' \
  "$LAB_DIR/nat64d.sock" "$LAB_DIR/dns64d.sock" >>"$CONF"

echo "== starting dns64d and nat64d in gw from examples/demo.toml"
lab_exec gw "$NAT64D" --check-config --config "$CONF" || exit 1
lab_exec gw "$DNS64D" --check-config --config "$CONF" || exit 1
lab_bg gw nat64d "$NAT64D" --config "$CONF"
lab_bg gw dns64d "$DNS64D" --config "$CONF"
if ! lab_wait 50 metrics 127.0.0.1:9464 || ! lab_wait 50 metrics 127.0.0.1:9465; then
  echo "demo.sh: the daemons did not start; their logs:" >&2
  tail -n 20 "$LAB_DIR/nat64d.log" "$LAB_DIR/dns64d.log" >&2
  exit 1
fi

show() {
  printf '\n$ %s\n' "$*"
  lab_exec v6client "$@"
}
echo
echo "== v6client (2001:db8:1::2) has IPv6 only; twitter.test and akismet.test have IPv4 only"
show ip -br addr show dev eth0
show cat /etc/resolv.conf
show dig +short twitter.test A
show dig +short twitter.test AAAA
show curl --silent --show-error --max-time 10 --cacert "$LAB_DIR/ca.crt" -w '  (from %{remote_ip})\n' https://twitter.test/
show curl --silent --show-error --max-time 10 --cacert "$LAB_DIR/ca.crt" -X POST --data 'comment=hello' https://akismet.test/comment-check
show ping -6 -c 2 -i 0.3 twitter.test

echo
echo "== try it yourself (another terminal):"
echo "   sudo ip netns exec $(lab_ns v6client) curl --cacert $LAB_DIR/ca.crt https://akismet.test/"
echo "   sudo ip netns exec $(lab_ns gw) curl -s http://127.0.0.1:9464/metrics"
echo "   sudo $ROOT/target/release/nat64gw --config $CONF status    (and sessions, bib, trace, dns cache lookup twitter.test: docs/operations.md)"
echo "   logs: $LAB_DIR/nat64d.log (with the mapping log), $LAB_DIR/dns64d.log"
echo
echo "== live counters, every 2 s; v6client fetches https://akismet.test/ every 2 s. Ctrl-C stops."

# value TEXT NAME: the sum of the samples of metric NAME (any labels).
value() { awk -v k="$2" '{n = $1; sub(/\{.*/, "", n)} n == k {s += $2} END {printf "%d", s}' <<<"$1"; }
labelled() { awk -v k="$2" '$1 == k {printf "%d", $2}' <<<"$1"; }
printf '%-8s %9s %9s %9s %12s %12s %11s %11s %10s\n' time tcp udp icmp "pkts 6->4" "pkts 4->6" "dns quer." synthesised drops
# At most an hour of traffic and counters; Ctrl-C ends it sooner.
for ((i = 0; i < 1800; i++)); do
  lab_exec v6client curl --silent --max-time 2 -o /dev/null --cacert "$LAB_DIR/ca.crt" https://akismet.test/ &
  n=$(metrics 127.0.0.1:9464)
  d=$(metrics 127.0.0.1:9465)
  printf '%-8s %9s %9s %9s %12s %12s %11s %11s %10s\n' "$(date +%H:%M:%S)" \
    "$(labelled "$n" 'nat64d_sessions{proto="tcp"}')" \
    "$(labelled "$n" 'nat64d_sessions{proto="udp"}')" \
    "$(labelled "$n" 'nat64d_sessions{proto="icmp"}')" \
    "$(labelled "$n" 'nat64d_packets_total{way="6to4"}')" \
    "$(labelled "$n" 'nat64d_packets_total{way="4to6"}')" \
    "$(value "$d" dns64d_queries_total)" \
    "$(value "$d" dns64d_synthesized_records_total)" \
    "$(value "$n" nat64d_drops_total)"
  sleep 2
done
