#!/usr/bin/env bash
# The end-to-end suite of nat64gw, run in network namespaces (needs root).
#
# It proves the lab itself (the namespaces have the addressing the design
# says: IPv6-only clients, an IPv4-only server, no default route anywhere; the
# IPv4 services answer: NSD, HTTP, HTTPS with the lab CA, UDP echo), then runs
# nat64d from a gateway config file the way an operator would and drives real
# clients through it (curl, ping, UDP, hairpinning, a static entry, policy
# refusals, the mapping log, /metrics, SIGHUP, SIGTERM), and finally brings the
# lab up and down again to show it leaves nothing behind. Each case prints
# PASS/FAIL with its name; the last line is "N passed, M failed"; the exit
# status is non-zero on any failure.
#
# Usage: sudo scripts/netns-test.sh
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/netns.sh
. "$HERE/netns.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "netns-test.sh: network namespaces need root; run: sudo $0" >&2
  exit 2
fi
missing=()
for tool in ip nsd nsd-checkconf nsd-checkzone dig curl openssl ping traceroute timeout sha256sum "$LAB_PYTHON"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "netns-test.sh: missing tools: ${missing[*]}" >&2
  echo "  install them with: apt-get install iproute2 nsd bind9-dnsutils curl openssl iputils-ping traceroute coreutils python3" >&2
  exit 2
fi

PASSED=0
FAILED=0
FAILED_NAMES=()

CHECK_OUT=$(mktemp /tmp/nat64gw-netns-test.XXXXXX)

# check NAME FUNCTION: runs one case in this shell (so it may change the lab's
# state), its output captured and shown on failure.
check() {
  local name=$1 out
  shift
  if "$@" >"$CHECK_OUT" 2>&1; then
    PASSED=$((PASSED + 1))
    printf 'PASS %s\n' "$name"
  else
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    printf 'FAIL %s\n' "$name"
    out=$(cat "$CHECK_OUT")
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /'
  fi
  return 0
}

# expect WHAT GOT WANT: fails with a message unless GOT == WANT.
expect() {
  if [ "$2" != "$3" ]; then
    printf '%s: got [%s], want [%s]\n' "$1" "$2" "$3"
    return 1
  fi
}

DIG=(dig +time=2 +tries=1)
CURL=(curl --silent --show-error --fail --max-time 10)

# ---- cases -----------------------------------------------------------------

t_namespaces_exist() {
  local role
  for role in "${LAB_ROLES[@]}"; do
    ip netns list | awk '{print $1}' | grep -qxF "$(lab_ns "$role")" || { echo "no namespace for $role"; return 1; }
  done
}

t_v6client_is_ipv6_only() {
  local role addr
  for role in v6client v6client2; do
    addr=$LAB_V6CLIENT
    [ "$role" = v6client2 ] && addr=$LAB_V6CLIENT2
    expect "$role IPv4 addresses besides loopback" "$(lab_exec "$role" ip -4 -o addr show | grep -v ' lo ')" "" &&
      expect "$role IPv4 routes" "$(lab_exec "$role" ip -4 route show)" "" &&
      expect "$role IPv6 address" "$(lab_exec "$role" ip -6 -o addr show dev eth0 scope global | awk '{print $4}')" "$addr/64" ||
      return 1
  done
}

t_v4server_is_ipv4_only() {
  expect "IPv6 addresses" "$(lab_exec v4server ip -6 -o addr show)" "" &&
    expect "IPv6 routes" "$(lab_exec v4server ip -6 route show)" ""
}

t_no_default_route_anywhere() {
  local role
  for role in "${LAB_ROLES[@]}"; do
    expect "$role IPv4 default route" "$(lab_exec "$role" ip -4 route show default)" "" || return 1
    expect "$role IPv6 default route" "$(lab_exec "$role" ip -6 route show default)" "" || return 1
  done
}

t_only_documentation_addresses() {
  # Every global address in the lab is in a documentation range.
  local role addr
  for role in "${LAB_ROLES[@]}"; do
    while read -r addr; do
      case $addr in
        2001:db8:* | 192.0.2.* | 198.51.100.* | 203.0.113.* | 127.* | ::1/128 | fe80:*) ;;
        *) echo "$role has $addr, outside the documentation ranges"; return 1 ;;
      esac
    done < <(lab_exec "$role" ip -o addr show | awk '{print $4}')
  done
}

t_ipv6_client_reaches_gw() {
  lab_exec v6client ping -6 -c 2 -i 0.2 -W 2 "$LAB_GW6" &&
    lab_exec v6client2 ping -6 -c 2 -i 0.2 -W 2 "$LAB_GW6_2"
}

t_ipv4_gw_reaches_server() {
  lab_exec gw ping -4 -c 2 -i 0.2 -W 2 "$LAB_V4SERVER" &&
    lab_exec gw ping -4 -c 1 -W 2 "${LAB_HOSTS[twitter.test]}"
}

t_client_has_no_ipv4_path() {
  if lab_exec v6client ping -4 -c 1 -W 1 "$LAB_V4SERVER" >/dev/null 2>&1; then
    echo "v6client reached $LAB_V4SERVER over IPv4"
    return 1
  fi
}

dig_gw() { lab_exec gw "${DIG[@]}" "@$LAB_DNS4" "$@"; }

t_nsd_ipv4_only_names() {
  expect "twitter.test A" "$(dig_gw +short twitter.test A)" "203.0.113.10" &&
    expect "twitter.test AAAA" "$(dig_gw +short twitter.test AAAA)" "" &&
    expect "akismet.test A TTL" "$(dig_gw +noall +answer akismet.test A | awk '{print $2}')" "60" &&
    expect "multi.test A" "$(dig_gw +short multi.test A | sort | tr '\n' ' ')" "203.0.113.20 203.0.113.21 203.0.113.22 " &&
    expect "many.test A count" "$(dig_gw +tcp +short many.test A | wc -l)" "40"
}

t_nsd_dual_and_mapped() {
  expect "dual.test AAAA" "$(dig_gw +short dual.test AAAA)" "2001:db8:2::12" &&
    expect "dual.test A" "$(dig_gw +short dual.test A)" "203.0.113.12" &&
    expect "mapped.test AAAA" "$(dig_gw +short mapped.test AAAA)" "::ffff:203.0.113.13"
}

t_nsd_chains_and_negative_answers() {
  expect "chain.test A" "$(dig_gw +short chain.test A | tr '\n' ' ')" "chain2.test. twitter.test. 203.0.113.10 " &&
    expect "www.legacy.test A (DNAME)" "$(dig_gw +short www.legacy.test A | tail -1)" "203.0.113.14" &&
    expect "noaddr.test A status" "$(dig_gw noaddr.test A | grep -o 'status: [A-Z]*')" "status: NOERROR" &&
    expect "noaddr.test A answers" "$(dig_gw +short noaddr.test A)" "" &&
    expect "noaddr.test SOA minimum" "$(dig_gw +noall +authority noaddr.test A | awk '$4 == "SOA" {print $11}')" "300" &&
    expect "missing.test status" "$(dig_gw missing.test A | grep -o 'status: [A-Z]*')" "status: NXDOMAIN" &&
    expect "broken-chain.test status" "$(dig_gw broken-chain.test A | grep -o 'status: [A-Z]*')" "status: NXDOMAIN"
}

t_nsd_ptr_and_tcp() {
  expect "PTR 203.0.113.10" "$(dig_gw +short -x 203.0.113.10)" "twitter.test." &&
    expect "PTR 192.0.2.53" "$(dig_gw +short -x 192.0.2.53)" "ns.test." &&
    expect "twitter.test A over TCP" "$(dig_gw +tcp +short twitter.test A)" "203.0.113.10"
}

t_http_answers() {
  expect "GET http://twitter.test/" \
    "$(lab_exec gw "${CURL[@]}" --resolve "twitter.test:80:${LAB_HOSTS[twitter.test]}" http://twitter.test/)" \
    "hello from twitter.test to $LAB_GW4"
}

t_https_verified_with_lab_ca() {
  lab_exec gw "${CURL[@]}" --cacert "$LAB_DIR/ca.crt" \
    --resolve "akismet.test:443:${LAB_HOSTS[akismet.test]}" https://akismet.test/ >/dev/null || return 1
  # Without the lab CA the same request must fail verification.
  if lab_exec gw "${CURL[@]}" --resolve "akismet.test:443:${LAB_HOSTS[akismet.test]}" \
    https://akismet.test/ >/dev/null 2>&1; then
    echo "HTTPS succeeded without the lab CA: the certificate is not being checked"
    return 1
  fi
}

t_https_post_and_download_checksums() {
  local body want got
  body="$LAB_DIR/upload.bin"
  head -c 1048576 /dev/urandom >"$body"
  want=$(sha256sum "$body" | awk '{print $1}')
  got=$(lab_exec gw "${CURL[@]}" --cacert "$LAB_DIR/ca.crt" \
    --resolve "akismet.test:443:${LAB_HOSTS[akismet.test]}" \
    --data-binary "@$body" -H 'Content-Type: application/octet-stream' https://akismet.test/comment-check |
    "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')
  expect "upload sha256" "$got" "$want" || return 1
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 5000000)
  got=$(lab_exec gw "${CURL[@]}" --resolve "twitter.test:80:${LAB_HOSTS[twitter.test]}" \
    http://twitter.test/bytes/5000000 | sha256sum | awk '{print $1}')
  expect "download sha256" "$got" "$want"
}

t_udp_echo() {
  lab_exec gw "$LAB_PYTHON" - "${LAB_HOSTS[twitter.test]}" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(3):
    msg = b"echo %d" % i
    s.sendto(msg, (sys.argv[1], 7))
    got, _ = s.recvfrom(100)
    if got != msg:
        sys.exit("udp echo: sent %r, got %r" % (msg, got))
PY
}

t_services_answer_inside_v4server() {
  lab_exec v4server "$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --probe &&
    expect "GET inside v4server" "$(lab_exec v4server "${CURL[@]}" "http://${LAB_HOSTS[dual.test]}/")" \
      "hello from ${LAB_HOSTS[dual.test]} to ${LAB_HOSTS[dual.test]}"
}

# ---- nat64d: the stateful translator, started from its config file ----------

NAT64D=${NAT64D:-$HERE/../target/debug/nat64d}
NAT64_METRICS=127.0.0.1:9464
DNS64_METRICS=127.0.0.1:9465
DNS64D=${DNS64D:-$HERE/../target/debug/dns64d}
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
# Port forwarding (SPEC S7): this pool address and port reach an HTTP server
# on v6client.
NAT64_STATIC4=198.51.100.14
NAT64_STATIC_PORT=8080

# nat64_config ALLOW_FROM DENY_TO [DNS64_ALLOW_FROM]: writes the gateway file
# the way an operator would (documentation addresses need allow_non_global).
nat64_config() {
  local dns_allow=${3:-'"2001:db8:1::/64", "::1/128"'}
  cat >"$LAB_DIR/gateway.toml" <<EOF
[prefix]
prefixes = ["64:ff9b::/96"]
allow_non_global = true

[nat64]
tun = "nat64"
pool4 = ["198.51.100.0/28"]
allow_from = [$1]
deny_to = [$2]
threads = 2
offload = $NAT64_OFFLOAD
mapping_log = "$LAB_DIR/mappings.log"
static = [
  { proto = "tcp", ipv6 = "[$LAB_V6CLIENT]:$NAT64_STATIC_PORT", ipv4 = "$NAT64_STATIC4:$NAT64_STATIC_PORT" },
]

[nat64.metrics]
listen = "$NAT64_METRICS"

[dns64]
listen = ["[$LAB_GW6]:53", "[$LAB_GW6_2]:53"]
upstreams = ["$LAB_DNS4:53"]
allow_from = [$dns_allow]
timeout_ms = 500

[dns64.metrics]
listen = "$DNS64_METRICS"
EOF
}

metric() {
  lab_exec gw "${CURL[@]}" "http://$NAT64_METRICS/metrics" | awk -v k="$1" '$1 == k {print $2}'
}

nat64_pid() { pgrep -f -- "$NAT64D --config $LAB_DIR/gateway.toml" | head -1; }

t_nat64d_starts_from_its_config() {
  [ -x "$NAT64D" ] || { echo "no nat64d binary at $NAT64D (run cargo build)"; return 1; }
  nat64_config "$NAT64_ALLOW" '"203.0.113.14/32"'
  lab_exec gw "$NAT64D" --check-config --config "$LAB_DIR/gateway.toml" || return 1
  lab_bg gw nat64d "$NAT64D" --config "$LAB_DIR/gateway.toml"
  if ! lab_wait 50 lab_exec gw "${CURL[@]}" -o /dev/null "http://$NAT64_METRICS/metrics"; then
    cat "$LAB_DIR/nat64d.log"
    return 1
  fi
  expect "IPv6 route into the TUN" "$(lab_exec gw ip -6 route show 64:ff9b::/96)" "64:ff9b::/96 dev nat64 metric 1024 pref medium" &&
    expect "IPv4 pool route into the TUN" "$(lab_exec gw ip -4 route show 198.51.100.0/28 | sed 's/ *$//')" "198.51.100.0/28 dev nat64 scope link"
}

# cpu_list 0,2-3 -> "0 2 3"
cpu_list() {
  local part parts i out=()
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then
      for ((i = ${part%-*}; i <= ${part#*-}; i++)); do out+=("$i"); done
    else
      out+=("$part")
    fi
  done
  echo "${out[*]}"
}

# nat64.pin_workers (default true): worker i runs on the i-th CPU nat64d may
# use, wrapping around; the main thread keeps the whole mask.
t_nat64d_pins_its_workers() {
  local pid task name n cpus got rc=0 seen=0
  pid=$(nat64_pid)
  [ -n "$pid" ] || { echo "nat64d is not running"; return 1; }
  read -ra cpus <<<"$(cpu_list "$(awk '/^Cpus_allowed_list:/ {print $2}' "/proc/$pid/status")")"
  echo "nat64d may run on CPUs ${cpus[*]}"
  grep "workers pinned to CPUs" "$LAB_DIR/nat64d.log" || { echo "no pinning in the start-up line"; rc=1; }
  for task in /proc/"$pid"/task/*; do
    name=$(cat "$task/comm" 2>/dev/null) || continue
    [[ $name == worker-* ]] || continue
    n=${name#worker-}
    got=$(awk '/^Cpus_allowed_list:/ {print $2}' "$task/status")
    expect "CPUs of $name" "$got" "${cpus[n % ${#cpus[@]}]}" || rc=1
    seen=$((seen + 1))
  done
  expect "pinned workers" "$seen" 2 || rc=1
  return $rc
}

t_nat64_http_through_the_prefix() {
  local got
  got=$(lab_exec v6client "${CURL[@]}" "http://[$(v6_of 203.0.113.10)]/") || return 1
  case "$got" in
    "hello from 64:ff9b::203.0.113.10 to 198.51.100."* | "hello from [64:ff9b::203.0.113.10] to 198.51.100."* | "hello from [64:ff9b::cb00:710a] to 198.51.100."*) ;;
    *) echo "unexpected answer: $got"; return 1 ;;
  esac
}

t_nat64_https_verified() {
  lab_exec v6client "${CURL[@]}" --cacert "$LAB_DIR/ca.crt" \
    --resolve "akismet.test:443:[$(v6_of "${LAB_HOSTS[akismet.test]}")]" https://akismet.test/ >/dev/null
}

t_nat64_100mb_download_sha256() {
  local want got
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 100000000)
  got=$(lab_exec v6client curl --silent --show-error --fail --max-time 120 \
    "http://[$(v6_of 203.0.113.10)]/bytes/100000000" | sha256sum | awk '{print $1}')
  expect "100 MB download sha256" "$got" "$want"
}

t_nat64_20mb_upload_sha256() {
  local body want got
  body="$LAB_DIR/upload6.bin"
  head -c 20000000 /dev/urandom >"$body"
  want=$(sha256sum "$body" | awk '{print $1}')
  got=$(lab_exec v6client curl --silent --show-error --fail --max-time 60 --cacert "$LAB_DIR/ca.crt" \
    --resolve "akismet.test:443:[$(v6_of "${LAB_HOSTS[akismet.test]}")]" \
    --data-binary "@$body" https://akismet.test/comment-check |
    "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')
  rm -f "$body"
  expect "20 MB upload sha256" "$got" "$want"
}

# With offload (the default) the 100 MB and 20 MB transfers above crossed
# mostly as super-packets translated whole; without it, none.
t_nat64_offload_as_configured() {
  local whole cut
  whole=$(metric nat64d_offload_superpackets_total)
  cut=$(metric nat64d_offload_superpackets_cut_total)
  echo "offload=$NAT64_OFFLOAD: super-packets translated whole $whole, cut in software $cut"
  grep 'TUN device nat64: offload' "$LAB_DIR/nat64d.log"
  if [ "$NAT64_OFFLOAD" = true ]; then
    grep -q 'TUN device nat64: offload on' "$LAB_DIR/nat64d.log" && [ "${whole:-0}" -gt 1000 ]
  else
    grep -q 'TUN device nat64: offload off' "$LAB_DIR/nat64d.log" && [ "${whole:-1}" -eq 0 ] && [ "${cut:-1}" -eq 0 ]
  fi
}

t_nat64_ping_small_and_large() {
  # The 1400-byte replies exceed the IPv6 MTU of unknown paths (1280):
  # nat64d fragments them (SPEC N7), the client reassembles.
  lab_exec v6client ping -6 -c 3 -i 0.2 -W 2 "$(v6_of 203.0.113.10)" | tail -2 &&
    lab_exec v6client ping -6 -c 3 -i 0.2 -W 2 -s 1400 "$(v6_of 203.0.113.10)" | tail -2 &&
    [ "$(metric nat64d_fragments_sent_total)" -ge 6 ]
}

# After the download, v4server has learnt path MTU 1260 towards the pool
# (nat64d answered its DF-set 1500-byte segments with Fragmentation Needed),
# so it fragments its 1428-byte echo replies itself. ICMP cannot be
# translated in fragments (the ICMPv6 checksum covers the whole message,
# RFC 7915 §4.2): those replies are dropped, and counted.
t_nat64_fragmented_icmp_is_counted() {
  local before after
  before=$(metric 'nat64d_drops_total{reason="icmp_fragmented"}')
  lab_exec v6client ping -6 -c 2 -i 0.2 -W 1 -s 1400 "$(v6_of 203.0.113.10)" >/dev/null
  after=$(metric 'nat64d_drops_total{reason="icmp_fragmented"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "icmp_fragmented: $before -> $after"; return 1; }
}

t_nat64_udp_exchange() {
  lab_exec v6client "$LAB_PYTHON" - "$(v6_of 203.0.113.10)" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(5):
    msg = b"udp through nat64 %d" % i
    s.sendto(msg, (sys.argv[1], 7))
    got, _ = s.recvfrom(200)
    if got != msg:
        sys.exit("sent %r, got %r" % (msg, got))
PY
}

# A burst of UDP datagrams, three flows, blocks of one size (the last of a
# block shorter), echoed back: every datagram must arrive once with its
# bytes intact, both ways. With offload on (and UDP segmentation in the
# kernel), nat64d writes runs of one flow as one UDP super-packet that the
# kernel cuts back at the receiving socket; the count must show it.
t_nat64_udp_burst_intact_both_ways() {
  local before after csum0 csum1
  before=$(metric nat64d_offload_udp_coalesced_datagrams_total)
  csum0=$(lab_exec v4server nstat -az UdpInCsumErrors | awk '/UdpInCsumErrors/ {print $2}')
  cat >"$LAB_DIR/udp-burst-echo.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
s.setsockopt(socket.SOL_SOCKET, 32, 16 << 20)  # SO_SNDBUFFORCE
s.bind(("203.0.113.10", 9970))
s.settimeout(8)
n = 0
try:
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(d, a)
        n += 1
        s.settimeout(2)
except socket.timeout:
    pass
print("echoed", n)
PY
  lab_bg v4server udp-burst-echo "$LAB_PYTHON" "$LAB_DIR/udp-burst-echo.py"
  sleep 0.3
  lab_exec v6client "$LAB_PYTHON" - "$(v6_of 203.0.113.10)" <<'PY' || return 1
import hashlib, random, socket, struct, sys, time
dst = (sys.argv[1], 9970)
rnd = random.Random(6146)
socks = []
for _ in range(3):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
    s.setsockopt(socket.SOL_SOCKET, 32, 16 << 20)
    s.setblocking(False)
    socks.append(s)

def body(flow, seq, size):
    head = struct.pack("!BI", flow, seq)
    fill = hashlib.sha256(head).digest() * (size // 32 + 1)
    return head + fill[: size - len(head)]

sent = {}
seq = 0
for block in range(60):
    flow = block % 3
    size = rnd.randint(5, 1400)
    for i in range(50):
        n = size if i < 49 else rnd.randint(5, size)
        d = body(flow, seq, n)
        sent[(flow, seq)] = d
        while True:
            try:
                socks[flow].sendto(d, dst)
                break
            except BlockingIOError:
                time.sleep(0.001)
        seq += 1
got, bad, dup = set(), 0, 0
deadline = time.time() + 8
while len(got) < len(sent) and time.time() < deadline:
    idle = True
    for flow, s in enumerate(socks):
        try:
            d = s.recv(2048)
        except BlockingIOError:
            continue
        idle = False
        f, q = struct.unpack("!BI", d[:5])
        if f != flow or sent.get((f, q)) != d:
            bad += 1
        elif (f, q) in got:
            dup += 1
        else:
            got.add((f, q))
    if idle:
        time.sleep(0.002)
print("sent %d, echoed back %d, corrupt %d, duplicated %d" % (len(sent), len(got), bad, dup))
sys.exit(0 if len(got) == len(sent) and bad == 0 and dup == 0 else 1)
PY
  after=$(metric nat64d_offload_udp_coalesced_datagrams_total)
  csum1=$(lab_exec v4server nstat -az UdpInCsumErrors | awk '/UdpInCsumErrors/ {print $2}')
  echo "coalesced datagrams: ${before:-0} -> ${after:-0}; v4server checksum errors ${csum0:-0} -> ${csum1:-0}"
  [ "${csum1:-0}" -eq "${csum0:-0}" ] || return 1
  if [ "$NAT64_OFFLOAD" = true ] && grep -q 'offload on (.*UDP segmentation' "$LAB_DIR/nat64d.log"; then
    [ "${after:-0}" -gt "${before:-0}" ]
  else
    [ "${after:-0}" -eq 0 ]
  fi
}

# SPEC S8: v6client2 gets a UDP binding by talking to the echo service; the
# mapping log tells its pool address and port; v6client sends to that
# address inside the prefix, the packet goes through nat64d twice, and
# v6client2's answer comes back the same way.
t_nat64_hairpin_between_two_ipv6_clients() {
  local port=40007 line v4 p
  lab_exec v6client2 "$LAB_PYTHON" - "$(v6_of 203.0.113.10)" "$port" <<'PY' || return 1
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", int(sys.argv[2])))
s.settimeout(2)
s.sendto(b"binding", (sys.argv[1], 7))
assert s.recvfrom(100)[0] == b"binding"
PY
  lab_wait 20 grep -q " created udp $LAB_V6CLIENT2#$port " "$LAB_DIR/mappings.log" || { echo "no binding logged for v6client2"; return 1; }
  line=$(grep " created udp $LAB_V6CLIENT2#$port " "$LAB_DIR/mappings.log" | tail -1)
  v4=$(awk '{print $5}' <<<"$line")
  p=${v4#*#}
  v4=${v4%#*}
  echo "v6client2's binding: $v4 port $p"
  # The binding outlives the socket (UDP timer); v6client2 listens again on
  # the same port, answers one datagram and reports its source.
  lab_bg v6client2 hairpin-server "$LAB_PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", int(sys.argv[1])))
s.settimeout(5)
while True:
    data, peer = s.recvfrom(200)
    print("from", peer[0], flush=True)
    s.sendto(b"back:" + data, peer)
' "$port"
  sleep 0.3
  lab_exec v6client "$LAB_PYTHON" - "$(v6_of "$v4")" "$p" <<'PY' || { cat "$LAB_DIR/hairpin-server.log"; return 1; }
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(3):
    s.sendto(b"hairpin", (sys.argv[1], int(sys.argv[2])))
    try:
        got, peer = s.recvfrom(200)
    except socket.timeout:
        continue
    if got != b"back:hairpin":
        sys.exit("got %r" % got)
    import ipaddress
    if ipaddress.ip_address(peer[0]) != ipaddress.ip_address(sys.argv[1]):
        sys.exit("answer from %s, not %s" % (peer[0], sys.argv[1]))
    sys.exit(0)
sys.exit("no answer through the hairpin")
PY
  # v6client2 saw v6client as a pool address inside the prefix, not as
  # its IPv6 address.
  grep -q "^from 64:ff9b::c633:64" "$LAB_DIR/hairpin-server.log" ||
    { echo "v6client2 saw: $(cat "$LAB_DIR/hairpin-server.log")"; return 1; }
  [ "$(metric 'nat64d_packets_total{way="hairpin"}')" -ge 2 ] ||
    { echo "hairpin packets: $(metric 'nat64d_packets_total{way="hairpin"}')"; return 1; }
}

# SPEC S7: the IPv4-only server opens a TCP connection to a pool address;
# the static entry carries it to an HTTP server on v6client.
t_nat64_static_entry_ipv4_to_ipv6_server() {
  local got
  lab_bg v6client static-server "$LAB_PYTHON" -c '
import http.server, socket
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("ipv6 server saw %s\n" % self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
S(("::", '"$NAT64_STATIC_PORT"'), H).serve_forever()
'
  lab_wait 30 lab_exec v6client "${CURL[@]}" "http://[$LAB_V6CLIENT]:$NAT64_STATIC_PORT/" ||
    { cat "$LAB_DIR/static-server.log"; return 1; }
  got=$(lab_exec v4server "${CURL[@]}" "http://$NAT64_STATIC4:$NAT64_STATIC_PORT/") || return 1
  expect "IPv6 server's view of the IPv4 client" "$got" "ipv6 server saw 64:ff9b::c000:202" &&
    grep -q " created tcp $LAB_V6CLIENT#$NAT64_STATIC_PORT $NAT64_STATIC4#$NAT64_STATIC_PORT static$" "$LAB_DIR/mappings.log" &&
    [ "$(metric nat64d_static_bib_entries)" = 1 ]
}

# SPEC S9, in either order: fragments are written by hand with raw sockets,
# the one without the UDP header first. IPv6 side: v6client's fragments go
# to the echo service (nat64d holds the second until the first arrives);
# the echo comes back whole. IPv4 side: v4server sends a reply in two
# fragments, last first, to v6client's binding; v6client gets it whole.
t_nat64_fragments_out_of_order() {
  local port=40009 line v4 p before after
  before=$(metric 'nat64d_drops_total{reason="fragment_held"}')
  lab_bg v6client frag-client "$LAB_PYTHON" -c '
import os, socket, struct, sys
dst, port = sys.argv[1], int(sys.argv[2])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("::", port))
u.settimeout(3)
u.sendto(b"hello", (dst, 7))
assert u.recvfrom(100)[0] == b"hello"
print("bound", flush=True)
src = socket.inet_pton(socket.AF_INET6, "'"$LAB_V6CLIENT"'")
d6 = socket.inet_pton(socket.AF_INET6, dst)
payload = os.urandom(2000)
udp = struct.pack("!HHHH", port, 7, 8 + len(payload), 0) + payload
pseudo = src + d6 + struct.pack("!IxxxB", len(udp), 17)
c = csum(pseudo + udp) or 0xffff
udp = udp[:6] + struct.pack("!H", c) + udp[8:]
r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
def frag(off, data, more):
    fh = struct.pack("!BBHI", 17, 0, off | more, 0x6464)
    ip = struct.pack("!IHBB", 6 << 28, 8 + len(data), 44, 64) + src + d6
    return ip + fh + data
r.sendto(frag(1000, udp[1000:], 0), (dst, 0))
r.sendto(frag(0, udp[:1000], 1), (dst, 0))
got = u.recvfrom(4000)[0]
print("echo", len(got), got == payload, flush=True)
# The IPv4 side sends its fragments to this socket now.
got = u.recvfrom(4000)[0]
print("from v4server", len(got), got[:4].hex(), flush=True)
' "$(v6_of 203.0.113.10)" "$port"
  lab_wait 30 grep -q "^echo" "$LAB_DIR/frag-client.log"
  grep -q "^echo 2000 True$" "$LAB_DIR/frag-client.log" ||
    { echo "IPv6 fragments out of order:"; cat "$LAB_DIR/frag-client.log"; return 1; }
  line=$(grep " created udp $LAB_V6CLIENT#$port " "$LAB_DIR/mappings.log" | tail -1)
  v4=$(awk '{print $5}' <<<"$line")
  p=${v4#*#}
  v4=${v4%#*}
  lab_exec v4server "$LAB_PYTHON" - "$v4" "$p" <<'PY' || return 1
import socket, struct, sys
dst, port = sys.argv[1], int(sys.argv[2])
src = socket.inet_aton("203.0.113.10")
d4 = socket.inet_aton(dst)
payload = b"\xca\xfe" * 1000
udp = struct.pack("!HHHH", 7, port, 8 + len(payload), 0) + payload
s = sum(struct.unpack("!%dH" % ((12 + len(udp)) // 2),
                      src + d4 + struct.pack("!xBH", 17, len(udp)) + udp))
while s >> 16:
    s = (s & 0xffff) + (s >> 16)
udp = udp[:6] + struct.pack("!H", (~s & 0xffff) or 0xffff) + udp[8:]
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def frag(off, data, more):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), 0x4646,
                       (more << 13) | (off // 8), 64, 17, 0, src, d4) + data
r.sendto(frag(1000, udp[1000:], 0), (dst, 0))
r.sendto(frag(0, udp[:1000], 1), (dst, 0))
PY
  lab_wait 30 grep -q "^from v4server" "$LAB_DIR/frag-client.log"
  grep -q "^from v4server 2000 cafecafe$" "$LAB_DIR/frag-client.log" ||
    { echo "IPv4 fragments out of order:"; cat "$LAB_DIR/frag-client.log"; return 1; }
  after=$(metric 'nat64d_drops_total{reason="fragment_held"}')
  [ "${after:-0}" -ge $((${before:-0} + 2)) ] || { echo "fragment_held: $before -> $after"; return 1; }
}

# SPEC S3: UDP from the IPv4 side to a pool port no binding holds is
# dropped, counted, and answered with ICMPv4 Port Unreachable (the sender's
# socket sees "connection refused").
t_nat64_udp_without_binding_port_unreachable() {
  local before after
  before=$(metric 'nat64d_drops_total{reason="no_binding"}')
  lab_exec v4server "$LAB_PYTHON" - <<'PY' || return 1
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.10", 0))
s.connect(("198.51.100.3", 9))
s.settimeout(2)
for i in range(3):
    s.send(b"anyone?")
    try:
        s.recv(100)
        sys.exit("an answer from an unbound pool port")
    except ConnectionRefusedError:
        sys.exit(0)
    except socket.timeout:
        pass
sys.exit("no Port Unreachable")
PY
  after=$(metric 'nat64d_drops_total{reason="no_binding"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "no_binding: $before -> $after"; return 1; }
}

t_nat64_deny_to_refused_and_counted() {
  local before after
  before=$(metric 'nat64d_drops_total{reason="destination_denied"}')
  if lab_exec v6client curl --silent --max-time 2 "http://[$(v6_of 203.0.113.14)]/" >/dev/null; then
    echo "reached a deny_to destination"
    return 1
  fi
  after=$(metric 'nat64d_drops_total{reason="destination_denied"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "destination_denied: $before -> $after"; return 1; }
}

t_nat64_mapping_log_and_metrics() {
  grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z created tcp 2001:db8:1::2#[0-9]+ 198\.51\.100\.[0-9]+#[0-9]+$' \
    "$LAB_DIR/mappings.log" || { echo "no TCP binding in the mapping log:"; head "$LAB_DIR/mappings.log"; return 1; }
  grep -qE ' created udp 2001:db8:1::2#' "$LAB_DIR/mappings.log" || { echo "no UDP binding logged"; return 1; }
  local out6 in4
  out6=$(metric 'nat64d_packets_total{way="6to4"}')
  in4=$(metric 'nat64d_packets_total{way="4to6"}')
  if [ "${out6:-0}" -lt 1000 ] || [ "${in4:-0}" -lt 30000 ]; then
    echo "packets 6to4=$out6 4to6=$in4"
    return 1
  fi
}

t_nat64_sighup_outside_allow_from_then_back() {
  local before after
  # Close the translator to v6client2: it is then outside allow_from,
  # refused and counted; v6client and the old sessions stay.
  nat64_config '"2001:db8:1::/64"' '"203.0.113.14/32"'
  kill -HUP "$(nat64_pid)" || return 1
  lab_wait 30 grep -q "reloaded: allow_from 2001:db8:1::/64;" "$LAB_DIR/nat64d.log" || { cat "$LAB_DIR/nat64d.log"; return 1; }
  before=$(metric 'nat64d_drops_total{reason="source_not_allowed"}')
  if lab_exec v6client2 curl --silent --max-time 2 "http://[$(v6_of 203.0.113.10)]/" >/dev/null; then
    echo "a source outside allow_from was translated"
    return 1
  fi
  after=$(metric 'nat64d_drops_total{reason="source_not_allowed"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "source_not_allowed: $before -> $after"; return 1; }
  t_nat64_http_through_the_prefix || { echo "v6client, still allowed, was refused"; return 1; }
  # A bad file is rejected and the running configuration stays.
  echo "this is not toml" >"$LAB_DIR/gateway.toml"
  kill -HUP "$(nat64_pid)"
  lab_wait 30 grep -q "reload rejected" "$LAB_DIR/nat64d.log" || { echo "bad reload not reported"; return 1; }
  nat64_config "$NAT64_ALLOW" '"203.0.113.14/32"'
  kill -HUP "$(nat64_pid)"
  lab_wait 30 grep -q "reloaded: allow_from 2001:db8:1::/64, 2001:db8:3::/64" "$LAB_DIR/nat64d.log" || { tail -3 "$LAB_DIR/nat64d.log"; return 1; }
  lab_exec v6client2 "${CURL[@]}" -o /dev/null "http://[$(v6_of 203.0.113.10)]/"
}

t_nat64_sighup_during_a_download() {
  local want got pid
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 20000000)
  lab_exec v6client curl --silent --show-error --fail --max-time 30 --limit-rate 10M \
    "http://[$(v6_of 203.0.113.10)]/bytes/20000000" -o "$LAB_DIR/during-hup.bin" &
  pid=$!
  sleep 0.5
  kill -HUP "$(nat64_pid)"
  sleep 0.3
  kill -HUP "$(nat64_pid)"
  wait "$pid" || { echo "download failed"; return 1; }
  got=$(sha256sum <"$LAB_DIR/during-hup.bin" | awk '{print $1}')
  expect "sha256 across two reloads" "$got" "$want"
}

t_nat64d_stops_cleanly() {
  local pid
  pid=$(nat64_pid)
  kill -TERM "$pid" || return 1
  lab_wait 50 sh -c "! kill -0 $pid 2>/dev/null" || { echo "nat64d still runs after SIGTERM"; return 1; }
  grep -q "nat64d: stopped" "$LAB_DIR/nat64d.log" || { cat "$LAB_DIR/nat64d.log"; return 1; }
  expect "routes removed" "$(lab_exec gw ip -6 route show 64:ff9b::/96)" "" &&
    expect "TUN removed" "$(lab_exec gw ip -o link show nat64 2>/dev/null)" ""
}

# ---- dns64d: DNS64 from the same gateway file, NSD in v4server upstream -----

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
dns64_pid() { pgrep -f -- "$DNS64D --config $LAB_DIR/gateway.toml" | head -1; }

t_dns64d_starts_from_its_config() {
  [ -x "$DNS64D" ] || { echo "no dns64d binary at $DNS64D (run cargo build)"; return 1; }
  lab_exec gw "$DNS64D" --check-config --config "$LAB_DIR/gateway.toml" || return 1
  lab_bg gw dns64d "$DNS64D" --config "$LAB_DIR/gateway.toml"
  lab_wait 50 dig6 +short ipv4only.arpa A >/dev/null || { cat "$LAB_DIR/dns64d.log"; return 1; }
}

t_dns64_synthesis_and_ttls() {
  # D4, D7: the SOA minimum (300) is below twitter's A TTL (3600) and
  # above akismet's (60).
  expect "twitter TTL" "$(dig6 twitter.test AAAA +noall +answer | awk '{print $2, $5}')" "300 64:ff9b::cb00:710a" &&
    expect "akismet TTL" "$(dig6 +tcp akismet.test AAAA +noall +answer | awk '{print $2, $5}')" "60 64:ff9b::cb00:710b" &&
    dig_both "AAAA 64:ff9b::cb00:7114
AAAA 64:ff9b::cb00:7115
AAAA 64:ff9b::cb00:7116" multi.test AAAA
}

t_dns64_real_and_excluded_aaaa() {
  dig_both "AAAA 2001:db8:2::12" dual.test AAAA &&
    dig_both "AAAA 64:ff9b::cb00:710d" mapped.test AAAA
}

t_dns64_chains_dname_and_negative() {
  dig_both "CNAME chain2.test.
CNAME twitter.test.
AAAA 64:ff9b::cb00:710a" chain.test AAAA &&
    dig_both "DNAME svc.test.
CNAME www.svc.test.
AAAA 64:ff9b::cb00:710e" www.legacy.test AAAA &&
    dig_both "CNAME noaddr.test." nodata-chain.test AAAA &&
    expect "nodata-chain status" "$(status nodata-chain.test AAAA)" "NOERROR" &&
    expect "broken-chain status" "$(status broken-chain.test AAAA)" "NXDOMAIN" &&
    expect "missing status" "$(status +tcp missing.test AAAA)" "NXDOMAIN"
}

t_dns64_ptr_and_ipv4only_arpa() {
  dig_both "CNAME 10.113.0.203.in-addr.arpa.
PTR twitter.test." -x 64:ff9b::203.0.113.10 &&
    dig_both "PTR twitter.test." -x 203.0.113.10 &&
    dig_both "A 192.0.0.170
A 192.0.0.171" ipv4only.arpa A &&
    dig_both "AAAA 64:ff9b::c000:aa
AAAA 64:ff9b::c000:ab" ipv4only.arpa AAAA &&
    dig_both "PTR ipv4only.arpa." -x 192.0.0.171 &&
    expect "partial name inside the prefix" "$(status 0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa PTR)" "NOERROR"
}

t_dns64_other_types_and_cd_untouched() {
  # D1: as NSD answers them itself; D10: CD=1 gets NSD's NODATA.
  local direct
  direct=$(lab_exec v4server "${DIG[@]}" "@$LAB_DNS4" noaddr.test MX +noall +answer | awk '{print $4, $5, $6}')
  expect "MX" "$(dig6 noaddr.test MX +noall +answer | awk '{print $4, $5, $6}')" "$direct" &&
    dig_both "A 203.0.113.10" twitter.test A &&
    expect "CD=1 AAAA" "$(dig6 +cd twitter.test AAAA +noall +answer)" "" &&
    expect "CD=1 status" "$(status +cd twitter.test AAAA)" "NOERROR" &&
    expect "class CH" "$(dig6 version.bind TXT CH +noall +answer | grep -c AAAA)" "0"
}

t_dns64_truncation_then_tcp() {
  # D12: 40 synthesised records do not fit 512 bytes.
  dig6 +bufsize=512 +ignore many.test AAAA +noall +comments | grep -q "flags: qr tc" ||
    { echo "no TC=1 at 512 bytes"; return 1; }
  dig6 +noedns +ignore many.test AAAA +noall +comments | grep -q "flags: qr tc" ||
    { echo "no TC=1 without EDNS"; return 1; }
  expect "records over TCP" "$(dig6 +tcp many.test AAAA +noall +answer | grep -c AAAA)" "40" &&
    expect "records over UDP (dig retries TCP)" "$(dig6 +bufsize=512 many.test AAAA +noall +answer | grep -c AAAA)" "40"
}

t_dns64_refused_outside_allow_from() {
  local before after
  before=$(dns_metric 'dns64d_queries_total{type="aaaa",outcome="refused"}')
  expect "v6client2 status" "$(lab_exec v6client2 "${DIG[@]}" "@$LAB_GW6_2" twitter.test AAAA +noall +comments | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')" "REFUSED" || return 1
  after=$(dns_metric 'dns64d_queries_total{type="aaaa",outcome="refused"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "refused: $before -> $after"; return 1; }
}

t_dns64_malformed_queries() {
  # Garbage with a header gets FORMERR with its ID; a short datagram is
  # dropped; dns64d keeps answering.
  lab_exec v6client "$LAB_PYTHON" - "$LAB_GW6" <<'PY' || return 1
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff", (sys.argv[1], 53))
r = s.recv(512)
assert r[:2] == b"\xab\xcd" and r[2] & 0x80 and r[3] & 0x0f == 1, r.hex()
s.sendto(b"\x01\x02\x03", (sys.argv[1], 53))
PY
  dig_both "A 203.0.113.10" twitter.test A
}

t_dns64_failover_to_a_live_upstream() {
  # A second instance whose first upstream does not exist (no host at
  # 192.0.2.99): questions fail over to NSD, and the log says so.
  local conf="$LAB_DIR/failover.toml"
  sed -e 's/^upstreams = .*/upstreams = ["192.0.2.99:53", "192.0.2.53:53"]/' \
    -e 's/^listen = \["\[2001.*/listen = ["[2001:db8:1::1]:5353"]/' \
    -e '/^\[dns64.metrics\]/,$d' "$LAB_DIR/gateway.toml" >"$conf"
  lab_bg gw dns64d-failover "$DNS64D" --config "$conf"
  lab_wait 30 dig6 -p 5353 +short ipv4only.arpa A >/dev/null || { cat "$LAB_DIR/dns64d-failover.log"; return 1; }
  expect "through the second upstream" "$(dig6 -p 5353 +time=4 twitter.test AAAA +short)" "64:ff9b::cb00:710a" || return 1
  if ! grep -q "upstream 192.0.2.99:53 did not answer" "$LAB_DIR/dns64d-failover.log"; then
    cat "$LAB_DIR/dns64d-failover.log"
    return 1
  fi
}

t_dns64_metrics() {
  local syn hits
  syn=$(dns_metric dns64d_synthesized_records_total)
  hits=$(dns_metric dns64d_cache_hits_total)
  if [ "${syn:-0}" -lt 10 ] || [ "${hits:-0}" -lt 1 ]; then
    echo "synthesized=$syn hits=$hits"
    return 1
  fi
  [ "$(dns_metric 'dns64d_upstream_total{server="192.0.2.53:53",result="sent"}')" -ge 1 ]
}

t_dns64d_sighup_and_stop() {
  local pid
  pid=$(dns64_pid)
  cp "$LAB_DIR/gateway.toml" "$LAB_DIR/gateway.good"
  echo "not toml" >"$LAB_DIR/gateway.toml"
  kill -HUP "$pid"
  lab_wait 30 grep -q "reload rejected" "$LAB_DIR/dns64d.log" || { echo "bad reload not reported"; return 1; }
  dig_both "A 203.0.113.10" twitter.test A || return 1
  # Let v6client2 in: the new allow_from is in force, the cache kept.
  sed 's|^allow_from = \["2001:db8:1::/64", "::1/128"\]|allow_from = ["2001:db8:1::/64", "2001:db8:3::/64", "::1/128"]|' \
    "$LAB_DIR/gateway.good" >"$LAB_DIR/gateway.toml"
  kill -HUP "$pid"
  lab_wait 30 grep -q "reloaded: .*2001:db8:3::/64.*cache kept" "$LAB_DIR/dns64d.log" || { cat "$LAB_DIR/dns64d.log"; return 1; }
  expect "v6client2 after reload" "$(lab_exec v6client2 "${DIG[@]}" "@$LAB_GW6_2" twitter.test AAAA +short)" "64:ff9b::cb00:710a" || return 1
  cp "$LAB_DIR/gateway.good" "$LAB_DIR/gateway.toml"
  kill -TERM "$pid"
  lab_wait 50 sh -c "! kill -0 $pid 2>/dev/null" || { echo "dns64d still runs after SIGTERM"; return 1; }
  grep -q "dns64d: stopped" "$LAB_DIR/dns64d.log"
}

# ---- the whole gateway: both daemons from one file, clients by name ---------

# curl from ROLE with the lab's CA; names resolve through dns64d (the
# clients' resolv.conf points at the gateway).
curl6() {
  local role=$1
  shift
  lab_exec "$role" "${CURL[@]}" --cacert "$LAB_DIR/ca.crt" "$@"
}

t_e2e_https_by_name() {
  local got
  # The blog VM posts to Twitter: resolved by dns64d, carried by nat64d.
  got=$(curl6 v6client -w ' %{remote_ip}' https://twitter.test/) || return 1
  case "$got" in
    "hello from "*" 64:ff9b::cb00:710a") ;;
    *) echo "https://twitter.test/: $got"; return 1 ;;
  esac
  # ...and checks a comment with Akismet.
  got=$(curl6 v6client -X POST --data-binary "comment=hello" https://akismet.test/comment-check) || return 1
  expect "akismet answer" "$got" '{"bytes": 13, "sha256": "'"$(printf 'comment=hello' | sha256sum | awk '{print $1}')"'"}'
}

t_e2e_ping_and_traceroute_by_name() {
  local out
  lab_exec v6client ping -6 -c 3 -i 0.2 -W 2 twitter.test | tail -2 || return 1
  # Hops: the gateway's kernel (2001:db8:1::1), nat64d itself, the gateway's
  # IPv4 side (192.0.2.1 seen through the prefix), the server.
  out=$(lab_exec v6client traceroute -6 -n -q 1 -w 1 -m 8 twitter.test 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  echo "$out" | grep -q "^ 1  $LAB_GW6 " &&
    echo "$out" | grep -q " 64:ff9b::c000:201 " &&
    [ "$(echo "$out" | tail -1 | awk '{print $2}')" = 64:ff9b::cb00:710a ]
}

t_e2e_dns_to_an_ipv4_resolver_through_the_prefix() {
  # NAT64 carrying DNS: v6client asks NSD (192.0.2.53) directly.
  local dns4
  dns4=$(v6_of "$LAB_DNS4")
  expect "UDP" "$(lab_exec v6client "${DIG[@]}" "@$dns4" twitter.test A +short)" 203.0.113.10 &&
    expect "TCP" "$(lab_exec v6client "${DIG[@]}" "@$dns4" +tcp akismet.test A +short)" 203.0.113.11
}

t_e2e_path_mtu_1400() {
  local rc=0 want got mtu
  # The IPv4 server's link shrinks to 1400: IPv6 packets that fit 1500
  # become IPv4 packets too big for it; the gateway's kernel answers
  # Fragmentation Needed (1400), nat64d turns it into Packet Too Big (1420).
  lab_exec gw ip link set eth4 mtu 1400 && lab_exec v4server ip link set eth0 mtu 1400 || return 1
  mtu=$(lab_exec v6client "$LAB_PYTHON" - "$(v6_of 203.0.113.10)" <<'PY'
import errno, socket, sys, time
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, IPV6_MTU = 23, 2, 24
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)
s.connect((sys.argv[1], 7))
s.settimeout(0.5)
for _ in range(10):
    try:
        s.send(b"x" * 1400)  # IPv6 1448 bytes, IPv4 1428 after translation
    except OSError as e:
        if e.errno == errno.EMSGSIZE:
            break
        raise
    time.sleep(0.3)
print(s.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU))
PY
  ) || rc=1
  expect "path MTU learnt by v6client" "$mtu" 1420 || rc=1
  # A large download and upload over the small link still complete.
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 20000000)
  got=$(curl6 v6client --max-time 60 https://twitter.test/bytes/20000000 | sha256sum | awk '{print $1}')
  expect "20 MB download over MTU 1400" "$got" "$want" || rc=1
  head -c 5000000 /dev/urandom >"$LAB_DIR/up1400.bin"
  want=$(sha256sum <"$LAB_DIR/up1400.bin" | awk '{print $1}')
  got=$(curl6 v6client --max-time 60 --data-binary "@$LAB_DIR/up1400.bin" https://akismet.test/comment-check |
    "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')
  expect "5 MB upload over MTU 1400" "$got" "$want" || rc=1
  lab_exec gw ip link set eth4 mtu 1500
  lab_exec v4server ip link set eth0 mtu 1500
  lab_exec v6client ip -6 route flush cache
  return $rc
}

# many_connections ROLE COUNT HOST: COUNT HTTP connections opened at once to
# HOST (a name or an address), each fetching 20 000 bytes; prints how many
# completed whole.
many_connections() {
  lab_exec "$1" "$LAB_PYTHON" - "$2" "$3" <<'PY'
import socket, sys, threading
n = int(sys.argv[1])
addr = socket.getaddrinfo(sys.argv[2], 80, socket.AF_INET6, socket.SOCK_STREAM)[0][4]
start = threading.Barrier(n)
done = []
def one():
    try:
        start.wait(10)
        with socket.create_connection(addr[:2], timeout=15) as s:
            s.sendall(b"GET /bytes/20000 HTTP/1.0\r\nHost: twitter.test\r\n\r\n")
            data = b""
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        head, _, body = data.partition(b"\r\n\r\n")
        if head.split(b"\r\n")[0].split(b" ")[1:2] == [b"200"] and len(body) == 20000:
            done.append(1)
        else:
            print("unexpected answer: %r, %d body bytes" % (head[:40], len(body)), file=sys.stderr)
    except Exception as e:
        print("connection failed: %r" % e, file=sys.stderr)
threads = [threading.Thread(target=one) for _ in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join(30)
print(len(done))
PY
}

t_e2e_200_concurrent_connections_from_two_clients() {
  local a b pa
  # v6client by name; v6client2 (not a dns64d client here) by address.
  many_connections v6client 100 twitter.test >"$LAB_DIR/many1.out" &
  pa=$!
  b=$(many_connections v6client2 100 "$(v6_of "${LAB_HOSTS[twitter.test]}")")
  wait "$pa"
  a=$(cat "$LAB_DIR/many1.out")
  expect "v6client connections completed" "$a" 100 && expect "v6client2 connections completed" "$b" 100
}

reloads() { grep -c "reloaded:" "$LAB_DIR/$1.log"; }

t_e2e_sighup_both_during_a_transfer() {
  local want got pid n6 nd rc=0
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 20000000)
  curl6 v6client --max-time 30 --limit-rate 8M https://twitter.test/bytes/20000000 -o "$LAB_DIR/hup-both.bin" &
  pid=$!
  sleep 0.5
  n6=$(reloads nat64d)
  nd=$(reloads dns64d)
  # New file: nat64d denies mapped.test's address, dns64d serves v6client2.
  nat64_config "$NAT64_ALLOW" '"203.0.113.14/32", "203.0.113.13/32"' '"2001:db8:1::/64", "2001:db8:3::/64", "::1/128"'
  kill -HUP "$(nat64_pid)" "$(dns64_pid)" || rc=1
  lab_wait 30 sh -c "[ \$(grep -c 'reloaded:' '$LAB_DIR/nat64d.log') -gt $n6 ]" || { echo "nat64d did not reload"; rc=1; }
  lab_wait 30 sh -c "[ \$(grep -c 'reloaded:' '$LAB_DIR/dns64d.log') -gt $nd ]" || { echo "dns64d did not reload"; rc=1; }
  wait "$pid" || { echo "the transfer failed across the reloads"; rc=1; }
  got=$(sha256sum <"$LAB_DIR/hup-both.bin" | awk '{print $1}')
  expect "sha256 across the reloads" "$got" "$want" || rc=1
  # The new configuration is in force in both daemons.
  expect "v6client2 now served by dns64d" "$(lab_exec v6client2 "${DIG[@]}" "@$LAB_GW6_2" twitter.test AAAA +short)" "64:ff9b::cb00:710a" || rc=1
  if lab_exec v6client curl --silent --max-time 2 "http://mapped.test/" >/dev/null; then
    echo "mapped.test (now in deny_to) was reached"
    rc=1
  fi
  nat64_config "$NAT64_ALLOW" '"203.0.113.14/32"'
  n6=$(reloads nat64d)
  nd=$(reloads dns64d)
  kill -HUP "$(nat64_pid)" "$(dns64_pid)"
  lab_wait 30 sh -c "[ \$(grep -c 'reloaded:' '$LAB_DIR/nat64d.log') -gt $n6 ] && [ \$(grep -c 'reloaded:' '$LAB_DIR/dns64d.log') -gt $nd ]" || rc=1
  return $rc
}

t_e2e_nat64d_sigkill_and_restart() {
  local pid
  pid=$(nat64_pid)
  [ -n "$pid" ] || { echo "nat64d is not running"; return 1; }
  kill -KILL "$pid"
  lab_wait 50 sh -c "! kill -0 $pid 2>/dev/null" || { echo "nat64d survived SIGKILL"; return 1; }
  mv "$LAB_DIR/nat64d.log" "$LAB_DIR/nat64d-killed.log"
  lab_bg gw nat64d "$NAT64D" --config "$LAB_DIR/gateway.toml"
  # New connections by name work again within 2 s of the restart.
  if ! lab_exec v6client timeout 2 sh -c 'until curl --silent --fail --max-time 0.5 -o /dev/null http://twitter.test/; do sleep 0.05; done'; then
    echo "no new connection within 2 s of the restart"
    cat "$LAB_DIR/nat64d.log"
    return 1
  fi
  curl6 v6client -o /dev/null https://akismet.test/
}

# ---- deployment: the systemd units' commands, as their unprivileged user ----

# unit_value UNIT KEY: the value of KEY= in examples/systemd/UNIT.
unit_value() { sed -n "s/^$2=//p" "$HERE/../examples/systemd/$1" | head -1; }

# run_as_unit NAME UNIT UID: starts UNIT's ExecStart in gw the way systemd
# would (DynamicUser: an unused UID, no groups; only the unit's ambient
# capabilities; no new privileges), with the lab's binaries and gateway
# file in place of /usr/bin and /etc/nat64gw.
run_as_unit() {
  local name=$1 unit=$2 uid=$3 cmd caps setcaps
  cmd=$(unit_value "$unit" ExecStart)
  caps=$(unit_value "$unit" AmbientCapabilities | tr '[:upper:]' '[:lower:]' | sed 's/cap_//g')
  setcaps="-all,+${caps// /,+}"
  cmd=${cmd//\/usr\/bin\/nat64d/$NAT64D}
  cmd=${cmd//\/usr\/bin\/dns64d/$DNS64D}
  cmd=${cmd//\/etc\/nat64gw\/gateway.toml/$DEPLOY_ETC/gateway.toml}
  local run=(setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs
    --inh-caps="$setcaps" --ambient-caps="$setcaps" --bounding-set="$setcaps" --)
  if grep -q '^DeviceAllow=/dev/net/tun' "$HERE/../examples/systemd/$unit" &&
    [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    # This machine has no udev: its /dev/net/tun is root-only. Debian's
    # udev makes it 0666, which the unit relies on (docs/deploy.md). The
    # daemon sees such a node in a mount namespace of its own; the host's
    # node is left as it is.
    [ -e "$LAB_DIR/dev-net-tun" ] || mknod -m 0666 "$LAB_DIR/dev-net-tun" c 10 200 || return 1
    # shellcheck disable=SC2016 # expanded by the inner sh
    run=(unshare -m --propagation private sh -c 'mount --bind "$0" /dev/net/tun && exec "$@"'
      "$LAB_DIR/dev-net-tun" "${run[@]}")
  fi
  # shellcheck disable=SC2086 # the unit's command line, split as systemd does
  lab_bg gw "$name" "${run[@]}" $cmd
}

# all_gone PID...: none of them runs.
all_gone() {
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done
  return 0
}

# An unused UID from systemd's DynamicUser range.
free_uid() {
  local u
  for ((u = 61184; u < 65519; u++)); do
    getent passwd "$u" >/dev/null || { echo "$u"; return; }
  done
  return 1
}

t_deploy_units_run_unprivileged() {
  local uid rc=0
  uid=$(free_uid) || { echo "no free UID"; return 1; }
  command -v setpriv >/dev/null || { echo "setpriv is missing (util-linux)"; return 1; }
  # /etc/nat64gw/gateway.toml, readable by all as installed; the mapping
  # log in nat64d's LogsDirectory, owned by the service user.
  DEPLOY_ETC=$LAB_DIR/etc-nat64gw
  mkdir -p "$DEPLOY_ETC" "$LAB_DIR/log-nat64d"
  chmod 0711 "$LAB_DIR"
  chmod 0755 "$DEPLOY_ETC"
  chown "$uid:$uid" "$LAB_DIR/log-nat64d"
  chmod 0750 "$LAB_DIR/log-nat64d"
  nat64_config "$NAT64_ALLOW" '"203.0.113.14/32"'
  sed "s|^mapping_log = .*|mapping_log = \"$LAB_DIR/log-nat64d/mappings.log\"|" "$LAB_DIR/gateway.toml" >"$DEPLOY_ETC/gateway.toml"
  chmod 0644 "$DEPLOY_ETC/gateway.toml"
  run_as_unit nat64d-unit nat64d.service "$uid"
  run_as_unit dns64d-unit dns64d.service "$uid"
  if ! lab_wait 50 lab_exec v6client "${CURL[@]}" --cacert "$LAB_DIR/ca.crt" -o /dev/null https://twitter.test/; then
    echo "no HTTPS by name through the daemons started as their units"
    tail -n 5 "$LAB_DIR/nat64d-unit.log" "$LAB_DIR/dns64d-unit.log"
    rc=1
  fi
  # Not root, and no capability beyond the unit's.
  local p
  for p in "$(pgrep -f -- "$NAT64D --config $DEPLOY_ETC")" "$(pgrep -f -- "$DNS64D --config $DEPLOY_ETC")"; do
    [ -n "$p" ] || { echo "a daemon is not running"; rc=1; continue; }
    expect "uid of $p" "$(awk '/^Uid:/ {print $2}' "/proc/$p/status")" "$uid" || rc=1
    grep -E '^Cap(Eff|Bnd):' "/proc/$p/status"
  done
  grep -q " created tcp 2001:db8:1::2#" "$LAB_DIR/log-nat64d/mappings.log" || { echo "no mapping logged"; rc=1; }
  expect "mapping log owner" "$(stat -c %u "$LAB_DIR/log-nat64d/mappings.log")" "$uid" || rc=1
  # SIGHUP (ExecReload) and SIGTERM (systemd's stop) work unprivileged.
  local pids
  pids=$(pgrep -f -- "--config $DEPLOY_ETC/gateway.toml" | tr '\n' ' ')
  # shellcheck disable=SC2086 # a list of PIDs
  kill -HUP $pids
  lab_wait 30 grep -q "reloaded:" "$LAB_DIR/nat64d-unit.log" || { echo "nat64d did not reload"; rc=1; }
  lab_wait 30 grep -q "reloaded:" "$LAB_DIR/dns64d-unit.log" || { echo "dns64d did not reload"; rc=1; }
  # shellcheck disable=SC2086
  kill -TERM $pids
  # shellcheck disable=SC2086
  lab_wait 50 all_gone $pids || { echo "still running after SIGTERM: $pids"; rc=1; }
  grep -q "nat64d: stopped" "$LAB_DIR/nat64d-unit.log" || { tail -n 5 "$LAB_DIR/nat64d-unit.log"; rc=1; }
  expect "routes removed by the unprivileged nat64d" "$(lab_exec gw ip -6 route show 64:ff9b::/96)" "" || rc=1
  return $rc
}

# ---- lab life cycle ----------------------------------------------------------

NETNS_BEFORE=$(ip netns list | awk '{print $1}' | sort)
ETC_NETNS_BEFORE=$(find /etc/netns -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort)
LAB_DIRS=()

lab_up_checked() {
  if ! lab_up; then
    echo "the lab did not come up"
    return 1
  fi
  LAB_DIRS+=("$LAB_DIR")
}

t_teardown_leaves_nothing() {
  local dir
  expect "namespaces after teardown" "$(ip netns list | awk '{print $1}' | sort)" "$NETNS_BEFORE" || return 1
  expect "per-namespace /etc/netns entries after teardown" "$(find /etc/netns -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort)" "$ETC_NETNS_BEFORE" || return 1
  for dir in "${LAB_DIRS[@]}"; do
    [ ! -e "$dir" ] || { echo "$dir still exists"; return 1; }
    if pgrep -f -- "$dir" >/dev/null; then
      echo "processes of $dir still run: $(pgrep -af -- "$dir")"
      return 1
    fi
  done
}

t_refuses_to_clobber() {
  local id="clobber-$$-$RANDOM" status
  ip netns add "gw-$id" || return 1
  (
    trap lab_down EXIT
    LAB_ID=$id
    lab_up 2>&1
  )
  status=$?
  if [ "$status" -eq 0 ]; then
    echo "lab_up started although gw-$id existed"
  fi
  local survived=no
  ip netns list | awk '{print $1}' | grep -qxF "gw-$id" && survived=yes
  local created
  created=$(ip netns list | awk '{print $1}' | grep -xE "(v6client|v6client2|v4server)-$id")
  ip netns del "gw-$id" 2>/dev/null
  expect "foreign namespace kept" "$survived" "yes" && expect "namespaces created" "$created" "" &&
    [ "$status" -ne 0 ]
}

trap 'lab_down; rm -f "$CHECK_OUT"' EXIT
trap 'exit 130' INT TERM

echo "== lab cycle 1: full checks"
check lab_comes_up lab_up_checked
if [ ${#LAB_CREATED[@]} -eq ${#LAB_ROLES[@]} ]; then
  check namespaces_exist t_namespaces_exist
  check v6client_is_ipv6_only t_v6client_is_ipv6_only
  check v4server_is_ipv4_only t_v4server_is_ipv4_only
  check no_default_route_anywhere t_no_default_route_anywhere
  check only_documentation_addresses t_only_documentation_addresses
  check ipv6_client_reaches_gw t_ipv6_client_reaches_gw
  check ipv4_gw_reaches_server t_ipv4_gw_reaches_server
  check client_has_no_ipv4_path t_client_has_no_ipv4_path
  check nsd_ipv4_only_names t_nsd_ipv4_only_names
  check nsd_dual_and_mapped t_nsd_dual_and_mapped
  check nsd_chains_and_negative_answers t_nsd_chains_and_negative_answers
  check nsd_ptr_and_tcp t_nsd_ptr_and_tcp
  check http_answers t_http_answers
  check https_verified_with_lab_ca t_https_verified_with_lab_ca
  check https_post_and_download_checksums t_https_post_and_download_checksums
  check udp_echo t_udp_echo
  check services_answer_inside_v4server t_services_answer_inside_v4server
  echo "== nat64d"
  check nat64d_starts_from_its_config t_nat64d_starts_from_its_config
  check nat64d_pins_its_workers t_nat64d_pins_its_workers
  check nat64_http_through_the_prefix t_nat64_http_through_the_prefix
  check nat64_https_verified t_nat64_https_verified
  check nat64_ping_small_and_large t_nat64_ping_small_and_large
  check nat64_100mb_download_sha256 t_nat64_100mb_download_sha256
  check nat64_20mb_upload_sha256 t_nat64_20mb_upload_sha256
  check nat64_offload_as_configured t_nat64_offload_as_configured
  check nat64_fragmented_icmp_is_counted t_nat64_fragmented_icmp_is_counted
  check nat64_udp_exchange t_nat64_udp_exchange
  check nat64_udp_burst_intact_both_ways t_nat64_udp_burst_intact_both_ways
  check nat64_hairpin_between_two_ipv6_clients t_nat64_hairpin_between_two_ipv6_clients
  check nat64_static_entry_ipv4_to_ipv6_server t_nat64_static_entry_ipv4_to_ipv6_server
  check nat64_fragments_out_of_order t_nat64_fragments_out_of_order
  check nat64_udp_without_binding_port_unreachable t_nat64_udp_without_binding_port_unreachable
  check nat64_deny_to_refused_and_counted t_nat64_deny_to_refused_and_counted
  check nat64_mapping_log_and_metrics t_nat64_mapping_log_and_metrics
  check nat64_sighup_outside_allow_from_then_back t_nat64_sighup_outside_allow_from_then_back
  check nat64_sighup_during_a_download t_nat64_sighup_during_a_download
  echo "== dns64d"
  check dns64d_starts_from_its_config t_dns64d_starts_from_its_config
  check dns64_synthesis_and_ttls t_dns64_synthesis_and_ttls
  check dns64_real_and_excluded_aaaa t_dns64_real_and_excluded_aaaa
  check dns64_chains_dname_and_negative t_dns64_chains_dname_and_negative
  check dns64_ptr_and_ipv4only_arpa t_dns64_ptr_and_ipv4only_arpa
  check dns64_other_types_and_cd_untouched t_dns64_other_types_and_cd_untouched
  check dns64_truncation_then_tcp t_dns64_truncation_then_tcp
  check dns64_refused_outside_allow_from t_dns64_refused_outside_allow_from
  check dns64_malformed_queries t_dns64_malformed_queries
  check dns64_failover_to_a_live_upstream t_dns64_failover_to_a_live_upstream
  check dns64_metrics t_dns64_metrics
  echo "== the whole gateway: both daemons, clients by name"
  check e2e_https_by_name t_e2e_https_by_name
  check e2e_ping_and_traceroute_by_name t_e2e_ping_and_traceroute_by_name
  check e2e_dns_to_an_ipv4_resolver_through_the_prefix t_e2e_dns_to_an_ipv4_resolver_through_the_prefix
  check e2e_path_mtu_1400 t_e2e_path_mtu_1400
  check e2e_200_concurrent_connections_from_two_clients t_e2e_200_concurrent_connections_from_two_clients
  check e2e_sighup_both_during_a_transfer t_e2e_sighup_both_during_a_transfer
  check e2e_nat64d_sigkill_and_restart t_e2e_nat64d_sigkill_and_restart
  echo "== stopping"
  check dns64d_sighup_and_stop t_dns64d_sighup_and_stop
  check nat64d_stops_cleanly t_nat64d_stops_cleanly
  echo "== deployment: the systemd units' commands as their unprivileged user"
  check deploy_units_run_unprivileged t_deploy_units_run_unprivileged
fi
lab_down
check teardown_1_leaves_nothing t_teardown_leaves_nothing

echo "== lab cycle 2: up and down again"
check lab_comes_up_again lab_up_checked
if [ ${#LAB_CREATED[@]} -eq ${#LAB_ROLES[@]} ]; then
  check again_ipv6_client_reaches_gw t_ipv6_client_reaches_gw
  check again_nsd_ipv4_only_names t_nsd_ipv4_only_names
fi
lab_down
check teardown_2_leaves_nothing t_teardown_leaves_nothing

echo "== lab safety"
check refuses_to_clobber_foreign_namespaces t_refuses_to_clobber
check nothing_left_at_the_end t_teardown_leaves_nothing

echo
[ "$FAILED" -gt 0 ] && echo "failed: ${FAILED_NAMES[*]}"
echo "netns: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
