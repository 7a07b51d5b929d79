# shellcheck shell=bash
# ---- the whole gateway: both daemons from one file, clients by name ---------


t_e2e_https_by_name() {
  need_gateway || return 1
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
  need_gateway || return 1
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
  need_gateway || return 1
  # NAT64 carrying DNS: v6client asks NSD (192.0.2.53) directly.
  local dns4
  dns4=$(v6_of "$LAB_DNS4")
  expect "UDP" "$(lab_exec v6client "${DIG[@]}" "@$dns4" twitter.test A +short)" 203.0.113.10 &&
    expect "TCP" "$(lab_exec v6client "${DIG[@]}" "@$dns4" +tcp akismet.test A +short)" 203.0.113.11
}

t_e2e_path_mtu_1400() {
  need_gateway || return 1
  local rc=0 want got mtu
  # The IPv4 server's link shrinks to 1400: IPv6 packets that fit 1500
  # become IPv4 packets too big for it; the gateway's kernel answers
  # Fragmentation Needed (1400), nat64d turns it into Packet Too Big (1420).
  lab_exec gw ip link set eth4 mtu 1400 && lab_exec v4server ip link set eth0 mtu 1400 || return 1
  mtu=$(lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/learn_path_mtu.py" "$(v6_of 203.0.113.10)"
  ) || rc=1
  expect "path MTU learnt by v6client" "$mtu" 1420 || rc=1
  # A large download and upload over the small link still complete.
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 20000000)
  got=$(curl6 v6client --max-time 60 https://twitter.test/bytes/20000000 | sha256sum | awk '{print $1}')
  expect "20 MB download over MTU 1400" "$got" "$want" || rc=1
  head -c 5000000 /dev/urandom >"$LAB_DIR/up1400.bin"
  want=$(sha256sum <"$LAB_DIR/up1400.bin" | awk '{print $1}')
  got=$(curl6 v6client --max-time 60 --data-binary "@$LAB_DIR/up1400.bin" https://akismet.test/comment-check |
    json_sha256)
  expect "5 MB upload over MTU 1400" "$got" "$want" || rc=1
  lab_exec gw ip link set eth4 mtu 1500
  lab_exec v4server ip link set eth0 mtu 1500
  lab_exec v6client ip -6 route flush cache
  return $rc
}

# RFC 7915 §5.1 on an IPv4 link below 1280 (576 here; nat64d's `mtu`
# too): the TUN keeps 1280 for IPv6; an IPv6 packet above 1280 gets Packet
# Too Big 1280 (never less), and packets of at most 1280 bytes leave as
# IPv4 fragments of at most 576. A 5 MB upload and download match by
# SHA-256, a 1 400-byte UDP datagram (IPv6 fragments, cut again to 576)
# comes back whole, and v6client learns path MTU 1280.
t_e2e_ipv4_link_mtu_576() {
  need_gateway || return 1
  local rc=0 want got mtu
  stop_pid "$(nat64_pid)" || return 1
  nat64_config
  sed -i 's/^offload = /mtu = 576\noffload = /' "$LAB_DIR/gateway.toml"
  lab_bg gw nat64d "$NAT64D" --config "$LAB_DIR/gateway.toml"
  lab_wait 50 lab_exec gw "${CURL[@]}" -o /dev/null "http://$NAT64_METRICS/metrics" || { cat "$LAB_DIR/nat64d.log"; return 1; }
  lab_exec gw ip link set eth4 mtu 576 && lab_exec v4server ip link set eth0 mtu 576 || rc=1
  expect "TUN MTU" "$(lab_exec gw cat /sys/class/net/nat64/mtu)" 1280 || rc=1
  mtu=$(lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/learn_path_mtu.py" "$(v6_of 203.0.113.10)") || rc=1
  expect "path MTU learnt by v6client" "$mtu" 1280 || rc=1
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_big_echo.py" "$(v6_of "$LAB_V4SERVER")" 1400 || rc=1
  head -c 5000000 /dev/urandom >"$LAB_DIR/up576.bin"
  want=$(sha256sum <"$LAB_DIR/up576.bin" | awk '{print $1}')
  got=$(curl6 v6client --max-time 60 --data-binary "@$LAB_DIR/up576.bin" https://akismet.test/comment-check | json_sha256)
  expect "5 MB upload over MTU 576" "$got" "$want" || rc=1
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 5000000)
  got=$(curl6 v6client --max-time 60 https://twitter.test/bytes/5000000 | sha256sum | awk '{print $1}')
  expect "5 MB download over MTU 576" "$got" "$want" || rc=1
  lab_exec gw ip link set eth4 mtu 1500
  lab_exec v4server ip link set eth0 mtu 1500
  lab_exec v6client ip -6 route flush cache
  stop_pid "$(nat64_pid)"
  nat64_config
  return $rc
}

# many_connections ROLE COUNT HOST: COUNT HTTP connections opened at once to
# HOST (a name or an address), each fetching 20 000 bytes; prints how many
# completed whole.
many_connections() {
  lab_exec "$1" "$LAB_PYTHON" "$NETNS_PY/many_connections.py" "$2" "$3"
}

t_e2e_200_concurrent_connections_from_two_clients() {
  need_gateway || return 1
  local a b pa
  # v6client by name; v6client2 (not a dns64d client here) by address.
  many_connections v6client 100 twitter.test >"$LAB_DIR/many1.out" &
  pa=$!
  b=$(many_connections v6client2 100 "$(v6_of "${LAB_HOSTS[twitter.test]}")")
  wait "$pa"
  a=$(cat "$LAB_DIR/many1.out")
  expect "v6client connections completed" "$a" 100 && expect "v6client2 connections completed" "$b" 100
}


t_e2e_sighup_both_during_a_transfer() {
  need_gateway || return 1
  local want got pid n6 nd rc=0
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 20000000)
  curl6 v6client --max-time 30 --limit-rate 8M https://twitter.test/bytes/20000000 -o "$LAB_DIR/hup-both.bin" &
  pid=$!
  sleep 0.5
  n6=$(reloads nat64d)
  nd=$(reloads dns64d)
  # New file: nat64d denies mapped.test's address, dns64d serves v6client2.
  nat64_config "$NAT64_ALLOW" "$NAT64_DENY"', "203.0.113.13/32"' '"2001:db8:1::/64", "2001:db8:3::/64", "::1/128"'
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
  nat64_config
  n6=$(reloads nat64d)
  nd=$(reloads dns64d)
  kill -HUP "$(nat64_pid)" "$(dns64_pid)"
  lab_wait 30 sh -c "[ \$(grep -c 'reloaded:' '$LAB_DIR/nat64d.log') -gt $n6 ] && [ \$(grep -c 'reloaded:' '$LAB_DIR/dns64d.log') -gt $nd ]" || rc=1
  return $rc
}

t_e2e_nat64d_sigkill_and_restart() {
  need_gateway || return 1
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


# req O2: both endpoints pass `promtool check metrics`, and a scrape is
# answered while other clients hold connections open without a request
# (each endpoint serves scrapes concurrently, with a header timeout).
t_e2e_metrics_pass_promtool_while_idle_clients_wait() {
  need_gateway || return 1
  local ep port rc=0
  command -v promtool >/dev/null || { echo "promtool is missing (Debian package prometheus)"; return 1; }
  for ep in "$NAT64_METRICS" "$DNS64_METRICS"; do
    port=${ep##*:}
    lab_bg gw "idle-$port" "$LAB_PYTHON" "$NETNS_PY/idle_clients.py" "${ep%:*}" "$port" 20 4
    lab_wait 30 grep -q "^holding 20" "$LAB_DIR/idle-$port.log" || { cat "$LAB_DIR/idle-$port.log"; rc=1; continue; }
    lab_exec gw "${CURL[@]}" --max-time 2 "http://$ep/metrics" >"$LAB_DIR/metrics-$port.txt" ||
      { echo "no scrape of $ep within 2 s while 20 idle clients wait"; rc=1; continue; }
    promtool check metrics <"$LAB_DIR/metrics-$port.txt" || { echo "promtool refused $ep"; rc=1; }
    grep -c '^# TYPE' "$LAB_DIR/metrics-$port.txt"
    # What an operator reaches for first: the process and the build.
    for family in process_resident_memory_bytes process_cpu_seconds_total process_open_fds \
      process_max_fds process_start_time_seconds '[a-z0-9]*d_build_info{version='; do
      grep -q "^$family" "$LAB_DIR/metrics-$port.txt" || { echo "$ep has no $family"; rc=1; }
    done
  done
  return $rc
}

# req A3, one rule in both daemons: names whose A record is loopback or
# link-local (cloud metadata) get no AAAA from dns64d, and nat64d refuses
# those addresses under the prefix with ICMPv6 administratively prohibited
# (curl fails at once instead of timing out), counted; even with
# allow_non_global, which the lab sets. A source inside the NAT64 prefix is
# refused even when allow_from is ::/0.
t_e2e_never_translated_destinations_and_invalid_sources() {
  need_gateway || return 1
  local before after t0 t1 rc=0 name addr
  for name in loopback.test metadata.test; do
    expect "$name AAAA" "$(dig6 "$name" AAAA +short)" "" || rc=1
    expect "$name status" "$(status "$name" AAAA)" "NOERROR" || rc=1
  done
  before=$(metric 'nat64d_drops_total{reason="destination_denied"}')
  for addr in 127.0.0.1 169.254.169.254; do
    t0=$(date +%s%N)
    if lab_exec v6client curl --silent --max-time 5 "http://[$(v6_of "$addr")]/" >/dev/null; then
      echo "reached $addr through the prefix"
      rc=1
    fi
    t1=$(date +%s%N)
    [ $(((t1 - t0) / 1000000)) -lt 3000 ] || { echo "$addr: no ICMPv6 error, curl waited $(((t1 - t0) / 1000000)) ms"; rc=1; }
  done
  after=$(metric 'nat64d_drops_total{reason="destination_denied"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "destination_denied: $before -> $after"; rc=1; }
  # An open translator (allow_from ::/0) still refuses a source inside the
  # prefix.
  nat64_config '"::/0"'
  kill -HUP "$(nat64_pid)"
  lab_wait 30 grep -q "reloaded: allow_from ::/0;" "$LAB_DIR/nat64d.log" || { echo "no reload"; rc=1; }
  lab_exec v6client ip -6 addr add 64:ff9b::cb00:7163/128 dev eth0 nodad
  before=$(metric 'nat64d_drops_total{reason="invalid_source"}')
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_from.py" 64:ff9b::cb00:7163 "$(v6_of 203.0.113.10)"
  sleep 0.2
  after=$(metric 'nat64d_drops_total{reason="invalid_source"}')
  [ "${after:-0}" -ge $((${before:-0} + 3)) ] || { echo "invalid_source: $before -> $after"; rc=1; }
  lab_exec v6client ip -6 addr del 64:ff9b::cb00:7163/128 dev eth0
  nat64_config
  kill -HUP "$(nat64_pid)"
  lab_wait 30 sh -c "[ \$(grep -c 'reloaded:' '$LAB_DIR/nat64d.log') -ge 2 ]" || rc=1
  return $rc
}

# SIGUSR1 and SIGUSR2 end a process by default (nat64d's TUN routes would
# be left behind): both daemons give SIGUSR1 a use (the busiest customer
# prefixes; the cache's state) and ignore SIGUSR2, say so in their logs,
# and go on serving.
t_e2e_sigusr1_and_sigusr2_leave_both_daemons_serving() {
  need_gateway || return 1
  local n d rc=0
  n=$(nat64_pid)
  d=$(dns64_pid)
  kill -USR1 "$n" "$d" && kill -USR2 "$n" "$d" || return 1
  lab_wait 30 grep -q 'SIGUSR2 ignored' "$LAB_DIR/nat64d.log" || { echo "nat64d said nothing"; rc=1; }
  lab_wait 30 grep -q 'SIGUSR2 ignored' "$LAB_DIR/dns64d.log" || { echo "dns64d said nothing"; rc=1; }
  grep -q 'SIGUSR1: ' "$LAB_DIR/dns64d.log" || { echo "dns64d did not report on SIGUSR1"; rc=1; }
  grep -q 'sources: # customer prefixes tracked' "$LAB_DIR/nat64d.log" || { echo "nat64d did not report on SIGUSR1"; rc=1; }
  expect "nat64d" "$(nat64_pid)" "$n" || rc=1
  expect "dns64d" "$(dns64_pid)" "$d" || rc=1
  t_e2e_https_by_name || rc=1
  return $rc
}
