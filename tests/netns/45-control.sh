# shellcheck shell=bash
# ---- the operator's command: nat64gw over both daemons' control sockets ----
# (req O6; docs/operations.md). Every case drives the real `nat64gw` binary
# against the real daemons of the lab, through the sockets the lab's gateway
# file names ($LAB_DIR/nat64d.sock, $LAB_DIR/dns64d.sock).

# gw_ctl ARGS...: nat64gw with the lab's gateway file.
gw_ctl() { "$NAT64GW" --config "$LAB_DIR/gateway.toml" "$@"; }
# jget EXPR: a value of the JSON on stdin (`d` is the document).
jget() { "$LAB_PYTHON" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

t_control_status_sessions_bib_and_stats() {
  need_gateway || return 1
  local out rc=0 sum
  curl6 v6client -o /dev/null https://twitter.test/ || return 1
  lab_exec v6client ping -6 -c 1 -W 2 "$(v6_of 203.0.113.10)" >/dev/null || return 1
  out=$(gw_ctl status) || { echo "$out"; return 1; }
  echo "$out" | grep -E '^(daemon|version|config_sha256|sessions|bindings|workers|cpus|last_reload|upstreams_up):'
  expect "daemons answering" "$(echo "$out" | grep -c '^daemon: ')" 2 || rc=1
  sum=$(sha256sum "$LAB_DIR/gateway.toml" | awk '{print $1}')
  expect "the file's hash, both daemons" "$(echo "$out" | grep -c "^config_sha256: $sum$")" 2 || rc=1
  echo "$out" | grep -q '^198\.51\.100\.[0-9]* ' || { echo "no pool address rows"; rc=1; }
  # The TCP session of the HTTPS fetch, found by prefix and protocol.
  out=$(gw_ctl --json sessions --proto tcp --ipv6 2001:db8:1::/64) || { echo "$out"; return 1; }
  expect "a session to twitter.test:443" \
    "$(echo "$out" | jget '[s["remote"] for s in d["sessions"] if s["remote"] == "203.0.113.10#443"][:1]')" \
    "['203.0.113.10#443']" || rc=1
  expect "its IPv6 view" "$(echo "$out" | jget '[s["remote_ipv6"] for s in d["sessions"] if s["remote"] == "203.0.113.10#443"][0]')" "64:ff9b::cb00:710a#443" || rc=1
  out=$(gw_ctl sessions --proto icmp --ipv6 2001:db8:1::2) || rc=1
  echo "$out"
  echo "$out" | grep -q "^icmp " || { echo "no ICMP session listed"; rc=1; }
  # Bindings: the static one is listed as such; a pool address filter.
  out=$(gw_ctl bib --proto tcp --ipv4 "$NAT64_STATIC4" --port "$NAT64_STATIC_PORT") || rc=1
  echo "$out"
  echo "$out" | grep -q "$NAT64_STATIC4#$NAT64_STATIC_PORT .* true$" || { echo "the static binding is not listed"; rc=1; }
  expect "a limit of one row" "$(gw_ctl --json bib --limit 1 | jget 'len(d["bindings"])')" 1 || rc=1
  # Counters, each drop reason with its meaning.
  out=$(gw_ctl stats) || rc=1
  echo "$out" | grep -q '^nat64d_drops_total{reason="truncated_header"} .*Shorter than the fixed IPv4 or IPv6 header' ||
    { echo "no drop reason with its meaning"; rc=1; }
  echo "$out" | grep -q '^dns64d_queries_total{' || { echo "no dns64d counters"; rc=1; }
  echo "$out" | grep -q '^process_resident_memory_bytes ' || { echo "no process_* rows"; rc=1; }
  # Bad input is an error with a reason and status 1, not a crash.
  out=$(gw_ctl sessions --ipv6 not-an-address 2>&1) && { echo "a bad filter was accepted"; rc=1; }
  echo "$out" | grep -q "is not an IPv6 address or prefix" || { echo "$out"; rc=1; }
  # Root or the socket's group only.
  expect "nat64d's socket" "$(stat -c %a "$LAB_DIR/nat64d.sock")" 660 || rc=1
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$NAT64GW" --socket "$LAB_DIR/nat64d.sock" status 2>&1) &&
    { echo "nobody was answered"; rc=1; }
  echo "$out" | grep -q "Permission denied" || { echo "$out"; rc=1; }
  return $rc
}

t_control_bib_remove_and_trace_an_abuse_report() {
  need_nat64d || return 1
  local port=40123 out pool rc=0 now n removed
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_bind_via_echo.py" "$(v6_of 203.0.113.10)" "$port" || return 1
  pool=$(gw_ctl --json bib --proto udp --ipv6 "$LAB_V6CLIENT" |
    jget "[b['pool'] for b in d['bindings'] if b['ipv6'] == '$LAB_V6CLIENT#$port'][0]") || return 1
  echo "binding: $LAB_V6CLIENT#$port <-> $pool"
  # Its sessions: the echo's and the answer's (the lab's echo answers from
  # another address, which endpoint-independent filtering lets in). The
  # answer's session is one the IPv4 side opened and the host never
  # answered: it lives `timeouts.unanswered_inbound` (6 s), and may be gone
  # by the time the binding is removed below.
  n=$(gw_ctl --json sessions --proto udp --ipv4 "${pool%#*}" --port "${pool#*#}" | jget 'len(d["sessions"])')
  [ "$n" -ge 1 ] || { echo "no session listed for the binding"; return 1; }
  # An abuse report names the pool address and port: trace finds the host,
  # alive now, and in the mapping log (written every 20 ms: waited for).
  lab_wait 20 grep -q " created udp $LAB_V6CLIENT#$port $pool$" "$LAB_DIR/mappings.log" || { echo "not logged"; return 1; }
  out=$(gw_ctl trace --proto udp "${pool/\#/:}") || { echo "$out"; return 1; }
  echo "$out"
  echo "$out" | grep -q "^udp .*$LAB_V6CLIENT#$port .*(open)" || { echo "trace found no holder"; rc=1; }
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  out=$(gw_ctl --json trace --proto udp --at "$now" "${pool/\#/:}") || rc=1
  expect "the holder at $now" "$(echo "$out" | jget '[h["ipv6"] for h in d["holders"]]')" "['$LAB_V6CLIENT#$port']" || rc=1
  expect "and live" "$(echo "$out" | jget 'd["live"][0]["ipv6"]')" "$LAB_V6CLIENT#$port" || rc=1
  # Removed: the binding and its session go, the mapping log says so.
  out=$(gw_ctl --json bib remove --proto udp --ipv4 "${pool/\#/:}") || { echo "$out"; return 1; }
  removed=$(echo "$out" | jget 'd["sessions_removed"]')
  echo "sessions removed: $removed (listed before: $n)"
  if [ "$removed" -lt 1 ] || [ "$removed" -gt "$n" ]; then echo "want 1 to $n"; rc=1; fi
  expect "no session left" "$(gw_ctl --json sessions --proto udp --ipv4 "${pool%#*}" --port "${pool#*#}" | jget 'len(d["sessions"])')" 0 || rc=1
  expect "gone from the table" "$(gw_ctl --json bib --proto udp --ipv6 "$LAB_V6CLIENT" |
    jget "len([b for b in d['bindings'] if b['ipv6'] == '$LAB_V6CLIENT#$port'])")" 0 || rc=1
  lab_wait 30 grep -q " removed udp $LAB_V6CLIENT#$port $pool$" "$LAB_DIR/mappings.log" ||
    { echo "no removed line"; tail -n 5 "$LAB_DIR/mappings.log"; rc=1; }
  out=$(gw_ctl trace --proto udp "${pool/\#/:}") || rc=1
  echo "$out" | grep -q "^udp .*$LAB_V6CLIENT#$port .* removed " || { echo "$out"; rc=1; }
  # Again: no such binding (status 1); a static binding is the file's.
  out=$(gw_ctl bib remove --proto udp --ipv4 "${pool/\#/:}" 2>&1) && { echo "removed twice"; rc=1; }
  echo "$out" | grep -q "no such binding" || { echo "$out"; rc=1; }
  out=$(gw_ctl bib remove --proto tcp --ipv4 "$NAT64_STATIC4:$NAT64_STATIC_PORT" 2>&1) && { echo "a static binding was removed"; rc=1; }
  echo "$out" | grep -q "a static binding" || { echo "$out"; rc=1; }
  # The host's next datagram makes a binding again.
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_bind_via_echo.py" "$(v6_of 203.0.113.10)" "$port" || rc=1
  return $rc
}

t_control_reload_answers_with_the_result() {
  need_gateway || return 1
  local out rc=0
  cp "$LAB_DIR/gateway.toml" "$LAB_DIR/gateway.before-reload"
  out=$(gw_ctl reload) || { echo "$out"; rc=1; }
  expect "both applied" "$(echo "$out" | grep -c '^result: applied')" 2 || rc=1
  # A restart-only key: applied, and named.
  sed -i 's/^threads = 2/threads = 1/' "$LAB_DIR/gateway.toml"
  out=$(gw_ctl --json reload) || { echo "$out"; rc=1; }
  expect "keys that need a restart" "$(echo "$out" | jget 'd["nat64d"]["restart_needed"]')" "['nat64.threads']" || rc=1
  # A bad file: rejected with the key named, status 1, the daemons serve on.
  printf '\n[nat64.bogus]\nx = 1\n' >>"$LAB_DIR/gateway.toml"
  out=$(gw_ctl reload 2>&1) && { echo "a bad file was accepted"; rc=1; }
  echo "$out"
  echo "$out" | grep -q "nat64d: reload rejected, the running configuration stays: .*bogus" || rc=1
  cp "$LAB_DIR/gateway.before-reload" "$LAB_DIR/gateway.toml"
  expect "last reload rejected" "$(gw_ctl --json status | jget 'd["nat64d"]["last_reload"]["result"]')" rejected || rc=1
  t_nat64_http_through_the_prefix >/dev/null || { echo "nat64d stopped translating"; rc=1; }
  return $rc
}

t_control_dns_cache_upstreams_and_querylog() {
  need_dns64d || return 1
  local out rc=0 before
  dig6 +short twitter.test AAAA >/dev/null
  out=$(gw_ctl dns cache lookup TWITTER.test) || { echo "$out"; return 1; }
  echo "$out"
  echo "$out" | grep -q "^twitter.test. .*A .*203.0.113.10" || { echo "no cached A record"; rc=1; }
  out=$(gw_ctl --json dns cache flush twitter.test) || rc=1
  [ "$(echo "$out" | jget 'd["entries"] >= 1')" = True ] || { echo "$out"; rc=1; }
  expect "nothing left for the name" "$(gw_ctl --json dns cache lookup twitter.test | jget 'd["total"]')" 0 || rc=1
  dig6 +short akismet.test AAAA >/dev/null
  expect "a dump of one row" "$(gw_ctl --json dns cache dump --limit 1 | jget 'len(d["entries"])')" 1 || rc=1
  out=$(gw_ctl dns upstreams) || rc=1
  echo "$out"
  echo "$out" | grep -q "^$LAB_DNS4:53 *up " || rc=1
  # The runtime's threads, one per four CPUs (at least one) by default.
  local threads=$(($(nproc) / 4))
  [ "$threads" -ge 1 ] || threads=1
  gw_ctl dns status | grep -q "runtime threads $threads\$" || { echo "no 'runtime threads $threads' in dns status"; rc=1; }
  # The query log: on, one line per query; off, none.
  gw_ctl dns querylog on >/dev/null || rc=1
  dig6 +short twitter.test AAAA >/dev/null
  lab_wait 20 grep -q "query $LAB_V6CLIENT twitter.test. AAAA NoError udp" "$LAB_DIR/dns64d.log" ||
    { echo "no query line"; tail -n 3 "$LAB_DIR/dns64d.log"; rc=1; }
  gw_ctl dns querylog off >/dev/null || rc=1
  before=$(grep -c " query " "$LAB_DIR/dns64d.log")
  dig6 +short akismet.test AAAA >/dev/null
  sleep 0.5
  expect "no line when off" "$(grep -c " query " "$LAB_DIR/dns64d.log")" "$before" || rc=1
  out=$(gw_ctl dns cache lookup 'bad..name' 2>&1) && rc=1
  echo "$out" | grep -q "is not a domain name" || { echo "$out"; rc=1; }
  return $rc
}

# The control socket is a local, root-only door, but it is bounded all the
# same: idle and garbage connections take at most MAX_CLIENTS (8) threads
# for at most 5 s each, and packets and queries never wait for them.
t_control_socket_idle_and_garbage_clients_are_bounded() {
  need_gateway || return 1
  local rc=0 threads0 threads1 pid out
  pid=$(nat64_pid)
  threads0=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)
  "$LAB_PYTHON" - "$LAB_DIR/nat64d.sock" <<'EOF' &
import socket, sys, time
conns = []
for i in range(50):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    if i % 2:
        s.sendall(b"\x00garbage" * 100 + b"\n")
    conns.append(s)
time.sleep(6)
EOF
  local clients=$!
  sleep 1
  threads1=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)
  echo "nat64d threads: $threads0 before, $threads1 with 50 idle and garbage clients"
  [ "$threads1" -le $((threads0 + 8)) ] || { echo "more than 8 connection threads"; rc=1; }
  t_nat64_http_through_the_prefix >/dev/null || { echo "translation stalled"; rc=1; }
  [ -n "$(dig6 +short twitter.test AAAA)" ] || { echo "dns64d stalled"; rc=1; }
  wait "$clients"
  out=$(gw_ctl status) || { echo "the socket did not recover: $out"; rc=1; }
  [ -n "$(nat64_pid)" ] || { echo "nat64d died"; rc=1; }
  return $rc
}
