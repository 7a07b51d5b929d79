#!/usr/bin/env bash
# More than one gateway behind routing (docs/scale-out.md): a lab of three
# nat64gw gateways behind one router, BGP (BIRD 2) between them, ECMP on
# the router, and the failure cases. Run as root; `scripts/test.sh` runs it
# after the namespace suite. Prints PASS/FAIL per case and the timings it
# measured; exit status 0 when every case passed. `--up` builds the lab,
# starts everything and waits (10 minutes at most) for you to look around.
#
#   client ── 2001:db8:100::/64 ── router ──┬── g1 (pool 198.51.100.0/28)
#   (IPv6 only; resolver 2001:db8:53::53,   ├── g2 (pool 198.51.100.16/28)
#    the gateways' anycast dns64d)           ├── g3 (pool 198.51.100.32/28)
#                                            └── v4server 192.0.2.0/26
#
# router  c0 2001:db8:100::1/64; gN 2001:db8:10N::1/64 and 192.0.2.(57+8N)/29;
#         s0 192.0.2.1/26; BIRD with examples/bird/router.conf: a BGP
#         session per gateway and family, the NAT64 prefix and the anycast
#         address installed as multipath routes, hashed on the 5-tuple
#         (net.ipv6.fib_multipath_hash_policy = 1).
# gN      up0 2001:db8:10N::2/64 and 192.0.2.(58+8N)/29; lo 2001:db8:53::53;
#         nat64d (its slice of the pool; routes = true), dns64d on the
#         anycast address (its route added while it runs, as
#         examples/systemd/dns64d-anycast.conf does), BIRD with
#         examples/bird/gateway.conf.
# v4server  the services of the main lab (NSD 192.0.2.53, HTTP on
#         203.0.113.x); routes 198.51.100.0/24 (the pool) and 192.0.2.64/27
#         (the gateways' links) via the router.
#
# Only documentation ranges and the NAT64 prefix; no default route; the
# namespaces carry a per-run suffix and are removed at exit with everything
# in them. Every wait is bounded.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=scripts/netns.sh
. "$HERE/netns.sh"
NAT64D=${NAT64D:-$ROOT/target/debug/nat64d}
DNS64D=${DNS64D:-$ROOT/target/debug/dns64d}
GATEWAYS=(g1 g2 g3)
LAB_ROLES=(client router g1 g2 g3 v4server)
ANYCAST=2001:db8:53::53
CLIENT=2001:db8:100::2
TWITTER6=64:ff9b::cb00:710a
CURL=(curl --silent --show-error --max-time 30)
FAILED=0
REPORT=()

[ "$(id -u)" -eq 0 ] || { echo "scale-out-test.sh: needs root (network namespaces)" >&2; exit 2; }
for tool in bird birdc nsd curl dig iperf3 ping nft; do
  command -v "$tool" >/dev/null || { echo "scale-out-test.sh: $tool is missing (scripts/packages.txt)" >&2; exit 2; }
done
for b in "$NAT64D" "$DNS64D"; do
  [ -x "$b" ] || { echo "scale-out-test.sh: no $b (cargo build)" >&2; exit 2; }
done

n_of() { echo "${1#g}"; }
router6() { echo "2001:db8:10$(n_of "$1")::1"; }
gw6() { echo "2001:db8:10$(n_of "$1")::2"; }
router4() { echo "192.0.2.$((57 + 8 * $(n_of "$1")))"; }
gw4() { echo "192.0.2.$((58 + 8 * $(n_of "$1")))"; }
pool_of() { echo "198.51.100.$((16 * ($(n_of "$1") - 1)))/28"; }
now_ms() { date +%s%3N; }
say() { printf '%s\n' "$*"; }
note() { REPORT+=("$*"); say "    $*"; }

so_up() {
  local role ns
  LAB_ID=${LAB_ID:-$$-$RANDOM}
  for role in "${LAB_ROLES[@]}"; do LAB_NS[$role]="so-$role-$LAB_ID"; done
  for role in "${LAB_ROLES[@]}"; do
    ns=${LAB_NS[$role]}
    if [ -e "/run/netns/$ns" ] || [ -e "/etc/netns/$ns" ]; then
      lab_log "namespace $ns exists and was not created by this run; refusing to touch it"
      return 1
    fi
  done
  LAB_DIR=$(mktemp -d /tmp/nat64gw-scale.XXXXXX) || return 1
  for role in "${LAB_ROLES[@]}"; do
    ip netns add "${LAB_NS[$role]}" || return 1
    LAB_CREATED+=("${LAB_NS[$role]}")
    lab_exec "$role" ip link set lo up
  done
  lab_resolver client "$ANYCAST" && so_network && lab_certs && lab_zone && lab_services
}

so_network() {
  local r=${LAB_NS[router]} g n
  ip -n "${LAB_NS[client]}" link add eth0 type veth peer name c0 netns "$r" || return 1
  ip -n "$r" link add s0 type veth peer name eth0 netns "${LAB_NS[v4server]}" || return 1
  lab_exec client sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
  lab_exec client ip link set eth0 up
  lab_exec client ip -6 addr add "$CLIENT/64" dev eth0 nodad
  lab_exec client ip -6 route add "$LAB_PREFIX" via 2001:db8:100::1 dev eth0
  lab_exec client ip -6 route add 2001:db8:53::/64 via 2001:db8:100::1 dev eth0
  lab_exec router sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv6.fib_multipath_hash_policy=1 net.ipv4.fib_multipath_hash_policy=1 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
  lab_exec router ip link set c0 up
  lab_exec router ip -6 addr add 2001:db8:100::1/64 dev c0 nodad
  lab_exec router ip link set s0 up
  lab_exec router ip -4 addr add 192.0.2.1/26 dev s0
  lab_exec router ip -4 route add "$LAB_SERVICES4" via "$LAB_V4SERVER" dev s0
  for g in "${GATEWAYS[@]}"; do
    n=$(n_of "$g")
    ip -n "$r" link add "$g" type veth peer name up0 netns "${LAB_NS[$g]}" || return 1
    lab_exec router ip link set "$g" up
    lab_exec router ip -6 addr add "$(router6 "$g")/64" dev "$g" nodad
    lab_exec router ip -4 addr add "$(router4 "$g")/29" dev "$g"
    lab_exec "$g" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
      net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
    lab_exec "$g" ip link set up0 up
    lab_exec "$g" ip -6 addr add "$(gw6 "$g")/64" dev up0 nodad
    lab_exec "$g" ip -4 addr add "$(gw4 "$g")/29" dev up0
    lab_exec "$g" ip -6 addr add "$ANYCAST/128" dev lo
    lab_exec "$g" ip -6 route add 2001:db8:100::/64 via "$(router6 "$g")" dev up0
    lab_exec "$g" ip -4 route add 192.0.2.0/26 via "$(router4 "$g")" dev up0
    lab_exec "$g" ip -4 route add "$LAB_SERVICES4" via "$(router4 "$g")" dev up0
    [ "$n" -ge 1 ] || return 1
  done
  local s=${LAB_NS[v4server]} name i
  lab_exec v4server sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$s" link set eth0 up
  ip -n "$s" -4 addr add "$LAB_V4SERVER/26" dev eth0
  ip -n "$s" -4 addr add "$LAB_DNS4/26" dev eth0
  for name in "${!LAB_HOSTS[@]}"; do ip -n "$s" -4 addr add "${LAB_HOSTS[$name]}/32" dev lo; done
  for i in 20 21 22; do ip -n "$s" -4 addr add "203.0.113.$i/32" dev lo; done
  ip -n "$s" -4 route add "$LAB_POOL4" via 192.0.2.1 dev eth0
  # The gateways' own addresses (dns64d asks NSD from them).
  ip -n "$s" -4 route add 192.0.2.64/27 via 192.0.2.1 dev eth0
}

# The gateway file of gateway G: its pool slice, dns64d on the anycast
# address, its own sockets and logs.
gateway_file() {
  local g=$1 allow='"2001:db8:100::/64", "2001:db8:101::/64", "2001:db8:102::/64", "2001:db8:103::/64"'
  cat <<EOF
[prefix]
prefixes = ["$LAB_PREFIX"]
allow_non_global = true

[nat64]
tun = "nat64"
pool4 = ["$(pool_of "$g")"]
allow_from = [$allow]
threads = 1
mapping_log = "$LAB_DIR/$g-mappings.log"

[nat64.metrics]
listen = "127.0.0.1:9464"

[nat64.control]
socket = "$LAB_DIR/$g-nat64d.sock"

[dns64]
listen = ["[$ANYCAST]:53"]
upstreams = ["$LAB_DNS4:53"]
allow_from = [$allow]

[dns64.control]
socket = "$LAB_DIR/$g-dns64d.sock"
EOF
}

bird_gateway() {
  local g=$1
  cat <<EOF
log stderr all;
router id $(gw4 "$g");
define MY_AS = 6460$(n_of "$g");
define ROUTER_AS = 64600;
define ROUTER6 = $(router6 "$g");
define ROUTER4 = $(router4 "$g");
define NAT64_PREFIX = $LAB_PREFIX;
define DNS_ANYCAST = $ANYCAST/128;
define POOL = $(pool_of "$g");
include "$ROOT/examples/bird/gateway.conf";
EOF
}

bird_router() {
  local g
  cat <<EOF
log stderr all;
router id 192.0.2.1;
define MY_AS = 64600;
define NAT64_PREFIX = $LAB_PREFIX;
define DNS_ANYCAST = $ANYCAST/128;
define POOL_SLICES = [ $LAB_POOL4{24,32} ];
include "$ROOT/examples/bird/router.conf";
EOF
  for g in "${GATEWAYS[@]}"; do
    printf 'protocol bgp %s_6 from gateway6 { neighbor %s as 6460%s; }\n' "$g" "$(gw6 "$g")" "$(n_of "$g")"
    printf 'protocol bgp %s_4 from gateway4 { neighbor %s as 6460%s; }\n' "$g" "$(gw4 "$g")" "$(n_of "$g")"
  done
}

start_nat64d() { lab_bg "$1" "$1-nat64d" "$NAT64D" --config "$LAB_DIR/$1.toml"; }
# dns64d with its anycast route while it runs (what the unit's drop-in does
# with ExecStartPost= and ExecStopPost=).
start_dns64d() {
  # shellcheck disable=SC2016 # expanded by the inner sh
  lab_bg "$1" "$1-dns64d" sh -c '"$0" --config "$1" & p=$!
    for i in $(seq 50); do dig +time=1 +tries=1 +short "@$2" ipv4only.arpa A >/dev/null 2>&1 && break; sleep 0.1; done
    kill -0 $p 2>/dev/null && ip -6 route replace "$2/128" dev lo proto static
    wait $p; ip -6 route del "$2/128" dev lo proto static' "$DNS64D" "$LAB_DIR/$1.toml" "$ANYCAST"
}
start_bird() { lab_bg "$1" "$1-bird" bird -f -c "$LAB_DIR/$1-bird.conf" -s "$LAB_DIR/$1-bird.ctl" -P "$LAB_DIR/$1-bird.pid"; }
# The daemons are not this shell's jobs: no `wait` waits for them, and no
# "Killed" notice when a case kills them.
start_gateway() { start_nat64d "$1" && start_dns64d "$1" && start_bird "$1" && disown -a; }
# Every process of gateway G, killed at once: the VM is gone.
kill_gateway() {
  local pids
  mapfile -t pids < <(ip netns pids "${LAB_NS[$1]}")
  [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}"
  lab_wait 50 sh -c "[ -z \"\$(ip netns pids ${LAB_NS[$1]})\" ]"
}

# The router's next hops for ROUTE (an address each line).
hops() { lab_exec router ip -6 route show "$1" | grep -oE 'via [0-9a-f:]+' | awk '{print $2}'; }
hops4() { lab_exec router ip -4 route show "$1" | grep -oE 'via [0-9.]+' | awk '{print $2}'; }
hop_count() { hops "$1" | grep -c .; }
# The gateway whose router-side link address is HOP.
gw_of_hop() { local g; for g in "${GATEWAYS[@]}"; do [ "$(gw6 "$g")" = "$1" ] && echo "$g"; done; }
# Waits up to SECS for the router to have N next hops for ROUTE; prints ms.
wait_hops() {
  local route=$1 n=$2 secs=$3 t0 i
  t0=$(now_ms)
  for ((i = 0; i < secs * 20; i++)); do
    [ "$(hop_count "$route")" = "$n" ] && { echo $(($(now_ms) - t0)); return 0; }
    sleep 0.05
  done
  echo "never"
  return 1
}

# Waits up to SECS for the router to route gateway G's pool slice via G;
# prints ms. The pool slice and the prefix are learnt from the kernel and
# announced by two BGP sessions (examples/bird/gateway.conf), so a returning
# gateway's prefix can be routed to it before the replies to its pool are:
# a case that wants new connections through a returned gateway waits for both.
wait_pool() {
  local g=$1 secs=$2 t0 i
  t0=$(now_ms)
  for ((i = 0; i < secs * 20; i++)); do
    [ "$(hops4 "$(pool_of "$g")")" = "$(gw4 "$g")" ] && { echo $(($(now_ms) - t0)); return 0; }
    sleep 0.05
  done
  echo "never"
  return 1
}

# Which gateway carries the client's TCP flow from source port PORT.
gateway_of_port() {
  local g
  for g in "${GATEWAYS[@]}"; do
    grep -q " created tcp $CLIENT#$1 " "$LAB_DIR/$g-mappings.log" 2>/dev/null && echo "$g"
  done | tail -1
}

# Starts 12 long transfers from the client (60 MB at 8 MB/s each: 7.5 s,
# the data crossing the gateway throughout: the client's socket buffers
# hold a few MB at most), source ports BASE+1 to BASE+12 (a new BASE for
# each round: the last round's ports wait in TIME_WAIT); PIDs in JOBS.
long_flows_start() {
  local i p
  JOBS=()
  LONG_BASE=$1
  for ((i = 1; i <= 12; i++)); do
    p=$((LONG_BASE + i))
    # shellcheck disable=SC2016 # expanded by the inner sh
    lab_exec client sh -c 'curl --silent --max-time 40 --speed-limit 1000 --speed-time 4 --limit-rate 8M \
      --local-port "$1" -o "$2" "$3" 2>/dev/null; echo $? >"$2.rc"' \
      sh "$p" "$LAB_DIR/long.$p" "http://[$TWITTER6]/bytes/60000000" &
    JOBS+=($!)
  done
}

# After long_flows_start: waits for them; per flow "PORT GATEWAY intact|cut
# CURL-STATUS", one line each, into $LAB_DIR/long.tally.
long_flows_tally() {
  local want i p sum g
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 60000000)
  wait "${JOBS[@]}"
  : >"$LAB_DIR/long.tally"
  for ((i = 1; i <= 12; i++)); do
    p=$((LONG_BASE + i))
    g=$(gateway_of_port "$p")
    sum=$(sha256sum <"$LAB_DIR/long.$p" | awk '{print $1}')
    if [ "$sum" = "$want" ]; then
      echo "$p ${g:-none} intact $(cat "$LAB_DIR/long.$p.rc")"
    else
      echo "$p ${g:-none} cut $(cat "$LAB_DIR/long.$p.rc")"
    fi >>"$LAB_DIR/long.tally"
    rm -f "$LAB_DIR/long.$p" "$LAB_DIR/long.$p.rc"
  done
}
# How many tallied flows through gateway G ended as WHAT (intact, cut).
tally() { awk -v g="$1" -v w="$2" '$2 == g && $3 == w' "$LAB_DIR/long.tally" | grep -c .; }
# 20 new connections by name, 1 s each at most: "OK FAILED".
probe_connections() {
  local i ok=0 fail=0
  for ((i = 0; i < 20; i++)); do
    if lab_exec client curl --silent --max-time 1 -o /dev/null http://twitter.test/; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
  done
  echo "$ok $fail"
}

run_case() {
  local name=$1
  shift
  if "$@" >"$LAB_DIR/case-$name.out" 2>&1; then
    say "PASS $name"
  else
    say "FAIL $name"
    FAILED=$((FAILED + 1))
  fi
  sed 's/^/    /' "$LAB_DIR/case-$name.out"
}

# ---- cases ---------------------------------------------------------------

# All three gateways announce; the router installs three next hops for the
# prefix and for the anycast address, and one route per pool slice.
c_routes_converge() {
  local ms rc=0 g
  ms=$(wait_hops "$LAB_PREFIX" 3 30) || rc=1
  echo "prefix multipath with 3 next hops ${ms} ms after the daemons started"
  wait_hops "$ANYCAST" 3 10 >/dev/null || { echo "anycast: $(hops "$ANYCAST" | tr '\n' ' ')"; rc=1; }
  for g in "${GATEWAYS[@]}"; do
    lab_wait 100 sh -c "[ \"\$(ip -n ${LAB_NS[router]} -4 route show $(pool_of "$g"))\" != '' ]"
    [ "$(hops4 "$(pool_of "$g")")" = "$(gw4 "$g")" ] || { echo "pool slice of $g not via $g"; rc=1; }
  done
  lab_exec router ip -6 route show "$LAB_PREFIX"
  return $rc
}

# Many flows from the client spread over all three gateways (from their
# mapping logs); every transfer is intact.
c_flows_spread_and_intact() {
  local i g rc=0 want got n
  for ((i = 0; i < 30; i++)); do
    lab_exec client "${CURL[@]}" -o /dev/null http://twitter.test/ || rc=1
  done
  for g in "${GATEWAYS[@]}"; do
    n=$(grep -c " created tcp $CLIENT#" "$LAB_DIR/$g-mappings.log")
    echo "$g: $n of the client's TCP bindings"
    [ "$n" -ge 1 ] || rc=1
  done
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 4000000)
  local jobs=()
  for ((i = 0; i < 6; i++)); do
    lab_exec client "${CURL[@]}" http://twitter.test/bytes/4000000 | sha256sum | awk '{print $1}' >"$LAB_DIR/sum.$i" &
    jobs+=($!)
  done
  wait "${jobs[@]}"
  for ((i = 0; i < 6; i++)); do
    got=$(cat "$LAB_DIR/sum.$i")
    [ "$got" = "$want" ] || { echo "download $i: sha256 $got, want $want"; rc=1; }
  done
  echo "6 parallel 4 MB downloads by name: SHA-256 checked"
  return $rc
}

# Long transfers are running when one gateway dies. The dead gateway is the
# middle next hop of the router's multipath route: with the kernel's
# hash-threshold spreading (BIRD 2.0 installs plain multipath routes, not
# resilient nexthop groups), removing the middle range moves no flow of the
# two others, so their transfers must finish intact; the dead gateway's own
# flows stall and their clients give up (curl --speed-time) and reconnect.
c_gateway_dies_and_returns() {
  local mid rc=0 t_kill ms pool_ms ok fail dns_ok=0 dns_fail=0 i
  mapfile -t order < <(hops "$LAB_PREFIX")
  mid=$(gw_of_hop "${order[1]}")
  echo "next hops in the router's order: $(for h in "${order[@]}"; do gw_of_hop "$h"; done | tr '\n' ' ')-> $mid dies"
  long_flows_start 41000
  sleep 2
  t_kill=$(now_ms)
  kill_gateway "$mid"
  # New connections and DNS through the anycast address while the router
  # notices; counted, not asserted one by one.
  read -r ok fail < <(probe_connections)
  for ((i = 0; i < 20; i++)); do
    if [ -n "$(lab_exec client dig +time=1 +tries=1 +short "@$ANYCAST" twitter.test AAAA)" ]; then
      dns_ok=$((dns_ok + 1))
    else
      dns_fail=$((dns_fail + 1))
    fi
  done
  ms=$(($(now_ms) - t_kill))
  note "gateway $mid killed (its sockets closed by the kernel): $(hop_count "$LAB_PREFIX") next hops left at once; in the $ms ms after, 20 new connections: $ok succeeded, $fail failed; 20 DNS queries to the anycast address: $dns_ok answered, $dns_fail not"
  [ "$(hop_count "$LAB_PREFIX")" = 2 ] || { echo "the router still routes to $mid"; rc=1; }
  [ "$ok" -ge 15 ] || rc=1
  [ "$dns_ok" -ge 15 ] || rc=1
  long_flows_tally
  local g kept=0 broken=0 lost said on_mid
  for g in "${GATEWAYS[@]}"; do
    [ "$g" = "$mid" ] && continue
    kept=$((kept + $(tally "$g" intact)))
    broken=$((broken + $(tally "$g" cut)))
  done
  lost=$(tally "$mid" cut)
  on_mid=$((lost + $(tally "$mid" intact)))
  said=$(awk -v g="$mid" '$2 == g && $3 == "cut" && $4 != 0' "$LAB_DIR/long.tally" | grep -c .)
  note "long transfers (60 MB each): $kept through the surviving gateways finished intact, $broken broke; $lost of the $on_mid through $mid were cut short, and curl said so for $said (no data for 4 s)"
  [ "$broken" = 0 ] || { cat "$LAB_DIR/long.tally"; rc=1; }
  [ "$kept" -ge 1 ] || { echo "no long transfer ran through a surviving gateway"; rc=1; }
  if [ "$lost" != "$on_mid" ] || [ "$said" != "$on_mid" ]; then
    echo "the dead gateway's flows did not all end in an error"
    rc=1
  fi
  # The gateway comes back.
  t_kill=$(now_ms)
  start_gateway "$mid"
  wait_hops "$LAB_PREFIX" 3 30 >/dev/null || rc=1
  ms=$(($(now_ms) - t_kill))
  pool_ms=$(wait_pool "$mid" 10) || rc=1
  note "gateway $mid restarted: back in the prefix route after $ms ms, its pool slice $pool_ms ms later"
  read -r ok fail < <(probe_connections)
  note "20 new connections after $mid's return: $ok succeeded, $fail failed"
  [ "$ok" -ge 18 ] || rc=1
  return $rc
}

# A gateway that goes silent (a crashed VM: no FIN, no RST, nothing; all
# its packets dropped by nftables inside it) is noticed by the BGP hold
# timer (3 s). It is the last next hop: with hash-threshold spreading the
# first gateway's range only grows, so its flows must all finish; the
# middle one's range shifts, and the share of its flows that moves to the
# first is measured (what resilient nexthop groups would keep).
c_silent_gateway_and_hash_threshold() {
  local first mid last rc=0 t0 ms pool_ms ok fail
  mapfile -t order < <(hops "$LAB_PREFIX")
  first=$(gw_of_hop "${order[0]}")
  mid=$(gw_of_hop "${order[1]}")
  last=$(gw_of_hop "${order[2]}")
  long_flows_start 42000
  sleep 2
  t0=$(now_ms)
  lab_exec "$last" nft -f - <<'NFT'
table inet silent {
  chain input { type filter hook input priority -300; policy drop; }
  chain forward { type filter hook forward priority -300; policy drop; }
  chain output { type filter hook output priority -300; policy drop; }
}
NFT
  read -r ok fail < <(probe_connections)
  ms=$(wait_hops "$LAB_PREFIX" 2 10) || rc=1
  note "gateway $last silent: withdrawn by the router's hold timer $(($(now_ms) - t0)) ms after (probe loop included: 20 new connections, $ok succeeded, $fail failed while it was still routed)"
  long_flows_tally
  note "long transfers: through $first (first range) $(tally "$first" intact) intact, $(tally "$first" cut) cut; through $mid (middle range, shifted) $(tally "$mid" intact) intact, $(tally "$mid" cut) cut (moved to $first: no state there); through $last (silent) $(tally "$last" cut) cut"
  [ "$(tally "$first" cut)" = 0 ] || { cat "$LAB_DIR/long.tally"; rc=1; }
  [ "$(tally "$last" intact)" = 0 ] || rc=1
  lab_exec "$last" nft delete table inet silent
  t0=$(now_ms)
  wait_hops "$LAB_PREFIX" 3 30 >/dev/null || rc=1
  ms=$(($(now_ms) - t0))
  pool_ms=$(wait_pool "$last" 10) || rc=1
  note "gateway $last heard again: back after $ms ms, its pool slice $pool_ms ms later"
  read -r ok fail < <(probe_connections)
  note "20 new connections after $last's return: $ok succeeded, $fail failed"
  [ "$ok" -ge 18 ] || rc=1
  return $rc
}

# gone PID: whether the process has exited (or is a zombie, its
# descriptors released) within 5 s.
gone() {
  local i
  for ((i = 0; i < 100; i++)); do
    [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

# Health: nat64d alone dies -> the prefix and the pool slice are withdrawn
# (its TUN and routes are gone); dns64d alone dies -> the anycast address is
# withdrawn; each comes back when the daemon does.
c_a_daemon_dies_and_its_route_goes() {
  local rc=0 ms pid
  pid=$(pgrep -f -- "$NAT64D --config $LAB_DIR/g1.toml" | head -1)
  kill -KILL "$pid"
  ms=$(wait_hops "$LAB_PREFIX" 2 10) || rc=1
  note "nat64d on g1 killed: prefix withdrawn in $ms ms"
  [ -z "$(hops4 "$(pool_of g1)")" ] || { echo "g1's pool slice still routed"; rc=1; }
  [ "$(hop_count "$ANYCAST")" = 3 ] || { echo "dns64d's anycast went with nat64d"; rc=1; }
  # As a supervisor (systemd) does: restart once the process has exited.
  # The route goes as soon as the TUN device does, while the dying process
  # may still hold its other descriptors (the one-instance socket).
  gone "$pid" || { echo "the killed nat64d has not exited in 5 s"; rc=1; }
  start_nat64d g1 && disown -a
  ms=$(wait_hops "$LAB_PREFIX" 3 15) || { rc=1; echo "the restarted nat64d's log:"; tail -n 5 "$LAB_DIR/g1-nat64d.log"; }
  echo "nat64d on g1 restarted: prefix back in $ms ms"
  ms=$(wait_pool g1 10) || rc=1
  echo "and its pool slice $ms ms later"
  pid=$(pgrep -f -- "$DNS64D --config $LAB_DIR/g2.toml" | head -1)
  kill -KILL "$pid"
  ms=$(wait_hops "$ANYCAST" 2 10) || rc=1
  note "dns64d on g2 killed: anycast address withdrawn in $ms ms"
  [ -n "$(lab_exec client dig +time=2 +tries=2 +short "@$ANYCAST" twitter.test AAAA)" ] || { echo "no answer from the anycast address"; rc=1; }
  gone "$pid" || { echo "the killed dns64d has not exited in 5 s"; rc=1; }
  start_dns64d g2 && disown -a
  ms=$(wait_hops "$ANYCAST" 3 15) || { rc=1; echo "the restarted dns64d's log:"; tail -n 5 "$LAB_DIR/g2-dns64d.log"; }
  echo "dns64d on g2 restarted: anycast back in $ms ms"
  return $rc
}

# What the routed design adds to one flow: latency and throughput from the
# client (through the router, then a gateway) against from the router
# itself (the gateway alone, one hop less), three rounds alternating.
# Reported, not asserted.
c_per_flow_overhead() {
  local from round rtt bps
  for round in 1 2 3; do
    for from in client router; do
      rtt=$(lab_exec "$from" ping -6 -c 100 -i 0.01 -q "$TWITTER6" | awk -F/ '/^rtt/ {print $5}')
      lab_bg v4server "iperf3-$from" iperf3 -s -1 --bind 203.0.113.10
      disown -a
      sleep 0.3
      bps=$(lab_exec "$from" iperf3 -c "$TWITTER6" -t 3 -J 2>/dev/null |
        "$LAB_PYTHON" -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' 2>/dev/null)
      note "round $round, one flow from the $from: ping avg ${rtt:-?} ms; TCP ${bps:-?} Gb/s"
    done
  done
}

# ---- run -----------------------------------------------------------------

trap lab_down EXIT
trap 'exit 1' INT TERM
so_up || { echo "scale-out-test.sh: the lab did not come up" >&2; exit 1; }
bird_router >"$LAB_DIR/router-bird.conf"
start_bird router && disown -a
for g in "${GATEWAYS[@]}"; do
  gateway_file "$g" >"$LAB_DIR/$g.toml"
  bird_gateway "$g" >"$LAB_DIR/$g-bird.conf"
  "$NAT64D" --check-config --config "$LAB_DIR/$g.toml" >/dev/null || exit 1
  start_gateway "$g"
done
if [ "${1:-}" = --up ]; then
  wait_hops "$LAB_PREFIX" 3 30 >/dev/null
  say "lab up in $LAB_DIR; namespaces: ${LAB_CREATED[*]}; Ctrl-C (or 10 minutes) takes it down"
  sleep 600
  exit 0
fi
run_case routes_converge c_routes_converge
run_case flows_spread_and_intact c_flows_spread_and_intact
run_case gateway_dies_and_returns c_gateway_dies_and_returns
run_case silent_gateway_and_hash_threshold c_silent_gateway_and_hash_threshold
run_case a_daemon_dies_and_its_route_goes c_a_daemon_dies_and_its_route_goes
run_case per_flow_overhead c_per_flow_overhead
say "== timings"
for line in "${REPORT[@]}"; do say "  $line"; done
say "scale-out: $((6 - FAILED)) passed, $FAILED failed"
[ "$FAILED" = 0 ]
