#!/usr/bin/env bash
# The end-to-end suite of nat64gw, run in network namespaces (needs root).
#
# At this stage it proves the lab itself: the three namespaces have the
# addressing the design says (IPv6-only client, IPv4-only server, no default
# route anywhere), the IPv4 services answer (NSD, HTTP, HTTPS with the lab CA,
# UDP echo), IPv6 reaches the gateway, and the lab comes up and goes down
# twice leaving nothing behind. Each case prints PASS/FAIL with its name; the
# last line is "N passed, M failed"; the exit status is non-zero on any failure.
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
for tool in ip nsd nsd-checkconf nsd-checkzone dig curl openssl ping sha256sum "$LAB_PYTHON"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "netns-test.sh: missing tools: ${missing[*]}" >&2
  echo "  install them with: apt-get install iproute2 nsd bind9-dnsutils curl openssl iputils-ping coreutils python3" >&2
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
  expect "IPv4 addresses besides loopback" "$(lab_exec v6client ip -4 -o addr show | grep -v ' lo ')" "" &&
    expect "IPv4 routes" "$(lab_exec v6client ip -4 route show)" "" &&
    expect "IPv6 address" "$(lab_exec v6client ip -6 -o addr show dev eth0 scope global | awk '{print $4}')" "$LAB_V6CLIENT/64"
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
  lab_exec v6client ping -6 -c 2 -i 0.2 -W 2 "$LAB_GW6"
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

# ---- lab life cycle ----------------------------------------------------------

NETNS_BEFORE=$(ip netns list | awk '{print $1}' | sort)
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
  created=$(ip netns list | awk '{print $1}' | grep -xE "(v6client|v4server)-$id")
  ip netns del "gw-$id" 2>/dev/null
  expect "foreign namespace kept" "$survived" "yes" && expect "namespaces created" "$created" "" &&
    [ "$status" -ne 0 ]
}

trap 'lab_down; rm -f "$CHECK_OUT"' EXIT
trap 'exit 130' INT TERM

echo "== lab cycle 1: full checks"
check lab_comes_up lab_up_checked
if [ ${#LAB_CREATED[@]} -eq 3 ]; then
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
fi
lab_down
check teardown_1_leaves_nothing t_teardown_leaves_nothing

echo "== lab cycle 2: up and down again"
check lab_comes_up_again lab_up_checked
if [ ${#LAB_CREATED[@]} -eq 3 ]; then
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
