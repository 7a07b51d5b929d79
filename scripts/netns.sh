# shellcheck shell=bash
# The namespace lab of nat64gw: a library other scripts source.
#
#   v6client ── 2001:db8:1::/64 ──┐
#   (IPv6 only)                   gw ── 192.0.2.0/24 ── v4server
#   v6client2 ─ 2001:db8:3::/64 ──┘  (gateway)          (IPv4 only)
#
# v6client  eth0 2001:db8:1::2/64; route 64:ff9b::/96 (and $LAB_PREFIX) via gw;
#           resolver 2001:db8:1::1 (dns64d on gw; /etc/netns/NS/resolv.conf)
# v6client2 eth0 2001:db8:3::2/64; the same route (a second IPv6-only host:
#           hairpinning, concurrent clients); resolver 2001:db8:3::1
# gw        eth6 2001:db8:1::1/64, eth62 2001:db8:3::1/64, eth4 192.0.2.1/24;
#           forwarding on; route 203.0.113.0/24 via v4server
# v4server  eth0 192.0.2.2/24 + 192.0.2.53 (DNS); lo 203.0.113.0/24 service
#           addresses; route 198.51.100.0/24 (the NAT64 pool) via gw; IPv6 off
#
# v4server runs real services: NSD (authoritative for `test.` and the
# matching in-addr.arpa zones) on 192.0.2.53:53, HTTP on :80 and HTTPS on :443
# (certificate from a CA made at start, $LAB_DIR/ca.crt) and UDP echo on :7.
#
# Only documentation ranges and the NAT64 prefix are used; no namespace has a
# default route. Namespace names carry a per-run suffix ($LAB_ID); lab_up
# refuses to start if any of its names exists, and lab_down deletes only what
# lab_up created. Callers set `trap lab_down EXIT`.
#
# Functions: lab_up, lab_down, lab_exec ROLE CMD..., lab_ns ROLE,
# lab_bg ROLE NAME CMD... (a background process, logged to $LAB_DIR/NAME.log),
# lab_wait TRIES CMD... (bounded retry).

LAB_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_ROLES=(v6client v6client2 gw v4server)
declare -gA LAB_NS=()
LAB_CREATED=()
LAB_DIR=
LAB_PYTHON=${LAB_PYTHON:-python3}

# Addresses every later script can rely on.
LAB_V6CLIENT=2001:db8:1::2
LAB_V6CLIENT2=2001:db8:3::2
LAB_GW6_2=2001:db8:3::1
LAB_GW6=2001:db8:1::1
LAB_GW4=192.0.2.1
LAB_V4SERVER=192.0.2.2
LAB_DNS4=192.0.2.53
LAB_POOL4=198.51.100.0/24
LAB_PREFIX=64:ff9b::/96
LAB_SERVICES4=203.0.113.0/24
# name -> IPv4 address of the IPv4-only services (also in the zone below).
declare -gA LAB_HOSTS=(
  [twitter.test]=203.0.113.10
  [akismet.test]=203.0.113.11
  [dual.test]=203.0.113.12
  [mapped.test]=203.0.113.13
  [www.svc.test]=203.0.113.14
)

lab_log() { printf 'lab: %s\n' "$*" >&2; }

# The namespace name of ROLE.
lab_ns() { printf '%s\n' "${LAB_NS[$1]:?unknown lab role $1}"; }

# Runs CMD inside ROLE's namespace.
lab_exec() {
  local ns
  ns=$(lab_ns "$1") || return 2
  shift
  ip netns exec "$ns" "$@"
}

# Starts CMD in the background inside ROLE's namespace, in its own session,
# output to $LAB_DIR/NAME.log. The process dies with the namespace at lab_down.
lab_bg() {
  local role=$1 name=$2 ns
  shift 2
  ns=$(lab_ns "$role") || return 2
  setsid ip netns exec "$ns" "$@" >"$LAB_DIR/$name.log" 2>&1 </dev/null &
}

# Retries CMD up to TRIES times, 0.1 s apart; status of the last try.
lab_wait() {
  local tries=$1 i
  shift
  for ((i = 0; i < tries; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  "$@"
}

lab_up() {
  local role ns
  LAB_ID=${LAB_ID:-$$-$RANDOM}
  for role in "${LAB_ROLES[@]}"; do
    LAB_NS[$role]="$role-$LAB_ID"
  done
  # Refuse to clobber: every name must be free before anything is created.
  for role in "${LAB_ROLES[@]}"; do
    ns=${LAB_NS[$role]}
    if [ -e "/run/netns/$ns" ] || [ -e "/etc/netns/$ns" ] || ip netns list | awk '{print $1}' | grep -qxF "$ns"; then
      lab_log "namespace $ns exists and was not created by this run; refusing to touch it"
      return 1
    fi
  done
  LAB_DIR=$(mktemp -d /tmp/nat64gw-lab.XXXXXX) || return 1
  for role in "${LAB_ROLES[@]}"; do
    ip netns add "${LAB_NS[$role]}" || { lab_log "cannot create namespace ${LAB_NS[$role]}"; return 1; }
    LAB_CREATED+=("${LAB_NS[$role]}")
    lab_exec "$role" ip link set lo up
  done
  # The IPv6-only clients resolve through dns64d on the gateway, as a
  # customer's VM would: `ip netns exec` shows /etc/netns/NS/resolv.conf as
  # the namespace's /etc/resolv.conf.
  lab_resolver v6client "$LAB_GW6" && lab_resolver v6client2 "$LAB_GW6_2" || return 1
  lab_network && lab_certs && lab_zone && lab_services
}

# Writes ROLE's /etc/resolv.conf (as seen inside its namespace): ADDRESS.
lab_resolver() {
  local dir
  dir=/etc/netns/$(lab_ns "$1") || return 1
  [ -d /etc/netns ] || LAB_MADE_ETC_NETNS=1
  mkdir -p "$dir" && printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$2" >"$dir/resolv.conf"
}

lab_network() {
  local c=${LAB_NS[v6client]} c2=${LAB_NS[v6client2]} g=${LAB_NS[gw]} s=${LAB_NS[v4server]}
  # Veth pairs are created inside the namespaces: no name in the host's
  # namespace, so parallel runs cannot collide.
  ip -n "$c" link add eth0 type veth peer name eth6 netns "$g" || return 1
  ip -n "$c2" link add eth0 type veth peer name eth62 netns "$g" || return 1
  ip -n "$g" link add eth4 type veth peer name eth0 netns "$s" || return 1

  # v6client: IPv6 only.
  lab_exec v6client sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
  ip -n "$c" link set eth0 up
  ip -n "$c" -6 addr add "$LAB_V6CLIENT/64" dev eth0 nodad
  ip -n "$c" -6 route add "$LAB_PREFIX" via "$LAB_GW6" dev eth0
  lab_exec v6client2 sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
  ip -n "$c2" link set eth0 up
  ip -n "$c2" -6 addr add "$LAB_V6CLIENT2/64" dev eth0 nodad
  ip -n "$c2" -6 route add "$LAB_PREFIX" via "$LAB_GW6_2" dev eth0

  # gw: one leg on each side, forwarding both families.
  lab_exec gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip -n "$g" link set eth6 up
  ip -n "$g" link set eth62 up
  ip -n "$g" link set eth4 up
  ip -n "$g" -6 addr add "$LAB_GW6/64" dev eth6 nodad
  ip -n "$g" -6 addr add "$LAB_GW6_2/64" dev eth62 nodad
  ip -n "$g" -4 addr add "$LAB_GW4/24" dev eth4
  ip -n "$g" -4 route add "$LAB_SERVICES4" via "$LAB_V4SERVER" dev eth4

  # v4server: IPv4 only.
  lab_exec v4server sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  lab_exec v4server sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 net.ipv6.conf.eth0.disable_ipv6=1
  ip -n "$s" link set eth0 up
  ip -n "$s" -4 addr add "$LAB_V4SERVER/24" dev eth0
  ip -n "$s" -4 addr add "$LAB_DNS4/24" dev eth0
  local name i
  for name in "${!LAB_HOSTS[@]}"; do
    ip -n "$s" -4 addr add "${LAB_HOSTS[$name]}/32" dev lo
  done
  for i in 20 21 22; do ip -n "$s" -4 addr add "203.0.113.$i/32" dev lo; done
  ip -n "$s" -4 route add "$LAB_POOL4" via "$LAB_GW4" dev eth0
}

# A CA and a server certificate for every name in the zone, made now.
lab_certs() {
  local d=$LAB_DIR san name
  # OpenSSL does not match a wildcard over a single label (*.test), so every
  # name is listed.
  san="DNS:*.svc.test,DNS:chain.test,DNS:multi.test,DNS:www.legacy.test"
  for name in "${!LAB_HOSTS[@]}"; do san+=",DNS:$name,IP:${LAB_HOSTS[$name]}"; done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=nat64gw lab CA $LAB_ID" -keyout "$d/ca.key" -out "$d/ca.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    >/dev/null 2>&1 || { lab_log "openssl: cannot make the lab CA"; return 1; }
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=twitter.test" \
    -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/server.ext" -out "$d/server.crt" >/dev/null 2>&1 ||
    { lab_log "openssl: cannot sign the server certificate"; return 1; }
}

# The authoritative data NSD serves (the DNS64 tests depend on each name).
lab_zone() {
  local d=$LAB_DIR i
  mkdir -p "$d/nsd"
  {
    cat <<'ZONE'
$ORIGIN test.
$TTL 3600
; SOA minimum (negative TTL, RFC 2308) 300 s: twitter's A TTL is above it,
; akismet's below it (req D7).
@            IN SOA ns.test. hostmaster.test. 2026112201 3600 900 604800 300
@            IN NS  ns.test.
ns           IN A   192.0.2.53
v4server     IN A   192.0.2.2
; IPv4-only names
twitter      IN A   203.0.113.10
akismet   60 IN A   203.0.113.11
; dual-stack
dual         IN A    203.0.113.12
dual         IN AAAA 2001:db8:2::12
; only AAAA is IPv4-mapped (excluded by DNS64, req D5)
mapped       IN A    203.0.113.13
mapped       IN AAAA ::ffff:203.0.113.13
; CNAME chain to an IPv4-only name, to NODATA, and to NXDOMAIN (req D6)
chain        IN CNAME chain2
chain2       IN CNAME twitter
nodata-chain IN CNAME noaddr
broken-chain IN CNAME missing
; A records no NAT64 may carry under any prefix (req A3): loopback and
; link-local (cloud metadata); neither daemon may lead a client there
loopback     IN A   127.0.0.1
metadata     IN A   169.254.169.254
; no address records at all
noaddr       IN TXT "this name has no address records"
noaddr       IN MX  10 twitter.test.
; several A records (one AAAA each, req D4)
multi        IN A   203.0.113.20
multi        IN A   203.0.113.21
multi        IN A   203.0.113.22
; DNAME (req D6): www.legacy.test -> www.svc.test
legacy       IN DNAME svc.test.
www.svc      IN A   203.0.113.14
ZONE
    # Any name under bench.test has an A record and no AAAA (a wildcard):
    # unique names for the uncached DNS64 benchmark.
    printf '*.bench IN A 203.0.113.50\n'
    # ... and under dual.bench.test both A and AAAA: a name dns64d answers
    # with its real AAAA (the A question, if asked, is wasted).
    printf '*.dual.bench IN A 203.0.113.51\n*.dual.bench IN AAAA 2001:db8:2::51\n'
    # 40 A records: a synthesised answer too large for 512-byte UDP (req D12).
    for ((i = 100; i < 140; i++)); do printf 'many IN A 203.0.113.%d\n' "$i"; done
    # Any name under big.test has 20 TXT records of 200 bytes (an answer of
    # about 4 KiB, over TCP): large answers for the cache's byte bound.
    for ((i = 10; i < 30; i++)); do printf '*.big IN TXT "%s"\n' "$(printf "r$i-%0196d" 0)"; done
  } >"$d/nsd/test.zone"
  cat >"$d/nsd/113.0.203.in-addr.arpa.zone" <<'ZONE'
$ORIGIN 113.0.203.in-addr.arpa.
$TTL 3600
@  IN SOA ns.test. hostmaster.test. 2026112201 3600 900 604800 300
@  IN NS  ns.test.
10 IN PTR twitter.test.
11 IN PTR akismet.test.
12 IN PTR dual.test.
13 IN PTR mapped.test.
14 IN PTR www.svc.test.
20 IN PTR multi.test.
21 IN PTR multi.test.
22 IN PTR multi.test.
ZONE
  cat >"$d/nsd/2.0.192.in-addr.arpa.zone" <<'ZONE'
$ORIGIN 2.0.192.in-addr.arpa.
$TTL 3600
@  IN SOA ns.test. hostmaster.test. 2026112201 3600 900 604800 300
@  IN NS  ns.test.
2  IN PTR v4server.test.
53 IN PTR ns.test.
ZONE
  cat >"$d/nsd/nsd.conf" <<CONF
server:
  ip-address: $LAB_DNS4
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$d/nsd"
  zonelistfile: "$d/nsd/zone.list"
  xfrdfile: "$d/nsd/xfrd.state"
  pidfile: "$d/nsd/nsd.pid"
  database: ""
  hide-version: yes
  # No response rate limiting: the benchmarks send many answers to one
  # client, and RRL would drop or truncate them.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: "test."
  zonefile: "test.zone"
zone:
  name: "113.0.203.in-addr.arpa."
  zonefile: "113.0.203.in-addr.arpa.zone"
zone:
  name: "2.0.192.in-addr.arpa."
  zonefile: "2.0.192.in-addr.arpa.zone"
CONF
  nsd-checkconf "$d/nsd/nsd.conf" || { lab_log "nsd-checkconf refused the lab config"; return 1; }
  local zone
  for zone in test 113.0.203.in-addr.arpa 2.0.192.in-addr.arpa; do
    nsd-checkzone "$zone" "$d/nsd/$zone.zone" >/dev/null ||
      { lab_log "nsd-checkzone refused zone $zone"; return 1; }
  done
}

lab_services() {
  lab_bg v4server nsd nsd -d -c "$LAB_DIR/nsd/nsd.conf"
  lab_bg v4server services "$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" \
    --cert "$LAB_DIR/server.crt" --key "$LAB_DIR/server.key"
  lab_wait 50 lab_exec v4server dig +time=1 +tries=1 +short "@$LAB_DNS4" ns.test A ||
    { lab_log "NSD did not answer in v4server; its log:"; cat "$LAB_DIR/nsd.log" >&2; return 1; }
  lab_wait 50 lab_exec v4server "$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --probe ||
    { lab_log "the HTTP/UDP services did not start in v4server; their log:"; cat "$LAB_DIR/services.log" >&2; return 1; }
}

# Stops every process in the lab's namespaces and deletes the namespaces this
# run created (and nothing else), then the lab's temporary directory.
lab_down() {
  local ns pids i
  for ns in "${LAB_CREATED[@]}"; do
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
    [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  done
  for ns in "${LAB_CREATED[@]}"; do
    for ((i = 0; i < 30; i++)); do
      [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
      sleep 0.1
    done
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
    [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || lab_log "could not delete namespace $ns"
    rm -rf -- "/etc/netns/$ns"
  done
  # /etc/netns itself only if this run made it and nothing else is in it.
  [ -n "${LAB_MADE_ETC_NETNS:-}" ] && rmdir /etc/netns 2>/dev/null
  LAB_MADE_ETC_NETNS=
  LAB_CREATED=()
  LAB_NS=()
  if [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ]; then
    rm -rf -- "$LAB_DIR"
  fi
  LAB_DIR=
  LAB_ID=
}

# lab_gateway_config FILE [KEY=VALUE...]: writes a gateway file (both
# daemons' sections) for the lab, the way an operator would: documentation
# addresses under the Well-Known Prefix need allow_non_global. Shared by the
# end-to-end suite, bench.sh and bench-dns64.sh. Keys (default):
#   nat64 (yes)          write the [nat64] section
#   nat64_allow ("2001:db8:1::/64")   nat64.allow_from, TOML list items
#   deny_to ()           nat64.deny_to, TOML list items
#   threads (2; empty: one per core)  offload (true)  max_sessions (unset)  mapping_log (-)
#   static ()            nat64.static, TOML list items
#   nat64_metrics (127.0.0.1:9464)
#   limits ()            lines of [nat64.limits] (empty: the defaults)
#   pairing ()           nat64.pairing (empty: the default)
#   nat64_tail ()        TOML appended after the [nat64] tables (such as
#                        [[nat64.port_policy]] entries)
#   dns64 (yes)          write the [dns64] section
#   dns64_listen ("[2001:db8:1::1]:53")  dns64_allow ("2001:db8:1::/64", "::1/128")
#   cache_size (unset)   timeout_ms (unset)
#   dns64_metrics (127.0.0.1:9465; empty: no [dns64.metrics])
#   nat64_control, dns64_control (nat64d.sock, dns64d.sock next to FILE: a
#                        lab's own control sockets, never /run/nat64gw's)
lab_gateway_config() {
  local file=$1 kv
  shift
  local -A c=(
    [nat64]=yes [nat64_allow]='"2001:db8:1::/64"' [deny_to]='' [threads]=2
    [offload]=true [max_sessions]='' [mapping_log]=- [static]=''
    [nat64_metrics]=127.0.0.1:9464 [limits]='' [pairing]='' [nat64_tail]=''
    [dns64]=yes [dns64_listen]="\"[$LAB_GW6]:53\"" [dns64_allow]='"2001:db8:1::/64", "::1/128"'
    [cache_size]='' [timeout_ms]='' [dns64_metrics]=127.0.0.1:9465
    [nat64_control]="$(dirname "$file")/nat64d.sock" [dns64_control]="$(dirname "$file")/dns64d.sock"
  )
  for kv in "$@"; do
    [ -n "${c[${kv%%=*}]+set}" ] || { lab_log "lab_gateway_config: unknown key ${kv%%=*}"; return 1; }
    c[${kv%%=*}]=${kv#*=}
  done
  {
    printf '[prefix]\nprefixes = ["%s"]\nallow_non_global = true\n' "$LAB_PREFIX"
    if [ "${c[nat64]}" = yes ]; then
      printf '\n[nat64]\ntun = "nat64"\npool4 = ["198.51.100.0/28"]\n'
      printf 'allow_from = [%s]\ndeny_to = [%s]\n' "${c[nat64_allow]}" "${c[deny_to]}"
      [ -n "${c[threads]}" ] && printf 'threads = %s\n' "${c[threads]}"
      printf 'offload = %s\nmapping_log = "%s"\n' "${c[offload]}" "${c[mapping_log]}"
      [ -n "${c[max_sessions]}" ] && printf 'max_sessions = %s\n' "${c[max_sessions]}"
      [ -n "${c[pairing]}" ] && printf 'pairing = "%s"\n' "${c[pairing]}"
      [ -n "${c[static]}" ] && printf 'static = [\n  %s,\n]\n' "${c[static]}"
      printf '\n[nat64.metrics]\nlisten = "%s"\n' "${c[nat64_metrics]}"
      [ -n "${c[limits]}" ] && printf '\n[nat64.limits]\n%s\n' "${c[limits]}"
      printf '\n[nat64.control]\nsocket = "%s"\n' "${c[nat64_control]}"
      [ -n "${c[nat64_tail]}" ] && printf '\n%s\n' "${c[nat64_tail]}"
    fi
    if [ "${c[dns64]}" = yes ]; then
      printf '\n[dns64]\nlisten = [%s]\nupstreams = ["%s:53"]\nallow_from = [%s]\n' \
        "${c[dns64_listen]}" "$LAB_DNS4" "${c[dns64_allow]}"
      [ -n "${c[cache_size]}" ] && printf 'cache_size = %s\n' "${c[cache_size]}"
      [ -n "${c[timeout_ms]}" ] && printf 'timeout_ms = %s\n' "${c[timeout_ms]}"
      printf '\n[dns64.control]\nsocket = "%s"\n' "${c[dns64_control]}"
      [ -n "${c[dns64_metrics]}" ] && printf '\n[dns64.metrics]\nlisten = "%s"\n' "${c[dns64_metrics]}"
    fi
  } >"$file"
}
