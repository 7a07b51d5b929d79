# shellcheck shell=bash
# Abuse control for the shared pool (req O4, docs/abuse.md): limits counted
# per customer prefix, the port policy, pairing by prefix, what the operator
# sees, and reloads that change them without dropping sessions. Each case
# runs nat64d from its own limits and leaves the standard file behind.

# restart_nat64d: nat64d again from the file nat64_config writes now
# (NAT64_LIMITS, NAT64_TAIL as the caller set them).
restart_nat64d() {
  stop_pid "$(nat64_pid)" || return 1
  start_nat64d
}

# standard_nat64d: back to the suite's own file (nat64d restarts on demand).
standard_nat64d() {
  stop_pid "$(nat64_pid)"
  NAT64_LIMITS='' NAT64_TAIL='' nat64_config
}

# hup_nat64d: SIGHUP, then waits for the reload to be counted.
hup_nat64d() {
  local before
  before=$(metric 'nat64d_reloads_total{result="applied"}')
  kill -HUP "$(nat64_pid)"
  lab_wait 50 metric_is 'nat64d_reloads_total{result="applied"}' "$((${before:-0} + 1))"
}

# v6client_addresses add|del FIRST COUNT: the addresses 2001:db8:1::a:I (I
# in hex) of v6client's own /64, on its interface.
ROTATE_BASE=2001:db8:1::a:0
v6client_addresses() {
  local i ns
  ns=$(lab_ns v6client) || return 1
  for ((i = $2; i < $2 + $3; i++)); do
    printf 'addr %s 2001:db8:1::a:%x/64 dev eth0 nodad\n' "$1" "$i"
  done | ip -n "$ns" -batch -
  return 0
}

# The provider's complaint: a VM that rotates through the addresses of its
# /64 escaped a per-address cap. 1 000 addresses of v6client's /64 send one
# UDP datagram each (to the IPv4 server's own address, which its echo
# answers from: a connected socket sees the ICMP error); the prefix holds at most its cap of 200 sessions, the
# rest are refused (source_session_limit, ICMPv6 administratively
# prohibited), logged once for the prefix, and listed at /sources; v6client2
# (another /64) is served meanwhile. Every binding of the /64 is on one pool
# address (pairing = "prefix"; the pool has 16). Then a reload adds an
# override that lifts the cap for that /64: the sessions stay and 300 more
# addresses all get through.
t_abuse_rotating_host_held_to_its_prefix_cap_on_one_pool_address() {
  NAT64_LIMITS='sessions_per_source = 200' restart_nat64d || return 1
  local out before after sessions pools rc=0
  v6client_addresses add 0 1300 || return 1
  # Ready when the gateway finds the last one by neighbour discovery (its
  # solicited-node group joined): else the first answers wait a second for
  # a retransmitted solicitation.
  lab_wait 50 lab_exec gw ping -c 1 -W 1 2001:db8:1::a:513 || { echo "the new addresses do not answer"; return 1; }
  before=$(metric 'nat64d_drops_total{reason="source_session_limit"}')
  out=$(lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_rotating.py" "$ROTATE_BASE" 0 1000 "$(v6_of "$LAB_V4SERVER")")
  after=$(metric 'nat64d_drops_total{reason="source_session_limit"}')
  sessions=$(metric 'nat64d_sessions{proto="udp"}')
  echo "1 000 addresses of one /64: $out; source_session_limit ${before:-0} -> ${after:-0}; UDP sessions $sessions"
  # The cap is exact; an answer lost on the lab's links is not the cap's.
  expect "UDP sessions" "$sessions" 200 || rc=1
  expect "refused" "$((${after:-0} - ${before:-0}))" 800 || rc=1
  [ "$(awk '{print $2}' <<<"$out")" -ge 190 ] || { echo "too few answers"; rc=1; }
  [ "$(awk '{print $4}' <<<"$out")" -ge 1 ] || { echo "no ICMP error reached the client"; rc=1; }
  lab_exec v6client2 "${CURL[@]}" -o /dev/null "http://[$(v6_of 203.0.113.10)]/" || { echo "another customer lost service"; rc=1; }
  # The operator's view: one log line for the prefix, the busiest prefixes.
  lab_wait 30 grep -q 'source prefix 2001:db8:1::/64 hit its limits: source_session_limit' "$LAB_DIR/nat64d.log" ||
    { echo "no log line for the prefix"; rc=1; }
  [ "$(grep -c 'hit its limits' "$LAB_DIR/nat64d.log")" -eq 1 ] || { echo "more than one first-hit line"; rc=1; }
  lab_exec gw "${CURL[@]}" "http://$NAT64_METRICS/sources" | grep -E '^2001:db8:1::/64 +20[0-9] ' ||
    { echo "/sources does not list the prefix:"; lab_exec gw "${CURL[@]}" "http://$NAT64_METRICS/sources"; rc=1; }
  kill -USR1 "$(nat64_pid)"
  lab_wait 20 grep -q 'sources: 2001:db8:1::/64' "$LAB_DIR/nat64d.log" || { echo "SIGUSR1 listed nothing"; rc=1; }
  # Pairing by prefix, from the mapping log.
  pools=$(awk '$2 == "created" && index($4, "2001:db8:1::a:") == 1 {split($5, a, "#"); print a[1]}' "$LAB_DIR/mappings.log" | sort -u)
  echo "pool addresses of the /64's bindings: $(echo "$pools" | tr '\n' ' ')"
  expect "pool addresses used by one /64" "$(grep -c . <<<"$pools")" 1 || rc=1
  # A reload exempts the /64: nothing is dropped, the next 300 get through.
  NAT64_LIMITS='sessions_per_source = 200' NAT64_TAIL=$'[[nat64.limits.override]]\nprefix = "2001:db8:1::/64"\nsessions_per_source = 0' nat64_config
  hup_nat64d || { echo "the reload was not applied"; tail -3 "$LAB_DIR/nat64d.log"; rc=1; }
  sessions=$(metric 'nat64d_sessions{proto="udp"}')
  [ "${sessions:-0}" -ge 200 ] || { echo "the reload dropped sessions: $sessions"; rc=1; }
  out=$(lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_rotating.py" "$ROTATE_BASE" 1000 300 "$(v6_of "$LAB_V4SERVER")")
  echo "after the override: $out; UDP sessions $(metric 'nat64d_sessions{proto="udp"}')"
  expect "UDP sessions under the override" "$(metric 'nat64d_sessions{proto="udp"}')" $((sessions + 300)) || rc=1
  expect "refused under the override" "$(metric 'nat64d_drops_total{reason="source_session_limit"}')" "$after" || rc=1
  [ "$(awk '{print $2}' <<<"$out")" -ge 290 ] || { echo "too few answers"; rc=1; }
  v6client_addresses del 0 1300
  standard_nat64d
  return $rc
}

# Outbound SMTP limited per /64 (the example file's policy, tighter here: 2
# a minute, burst 2): of 8 connections to port 25 two get through, six fail
# at once with the ICMPv6 error (EACCES at the client) and are counted as
# port_rate_limit; another /64 has its own budget. A reload to `deny`
# refuses every new one (port_denied); another reload with an `allow` entry
# for v6client's /64 above the deny opens it for that customer only. A
# connection open from the start keeps talking through both reloads. (The
# echo server on :25 exits by itself after 60 s.)
t_abuse_smtp_limited_denied_and_opened_per_customer() {
  local smtp25=$'[[nat64.port_policy]]\nproto = "tcp"\nports = [25]\naction = "limit"\nnew_sessions_per_minute = 2\nburst = 2'
  local deny25=$'[[nat64.port_policy]]\nproto = "tcp"\nports = [25]\naction = "deny"'
  local allow1=$'[[nat64.port_policy]]\nproto = "tcp"\nports = [25]\naction = "allow"\nfrom = ["2001:db8:1::/64"]'
  local dst out before after talker rc=0
  dst=$(v6_of 203.0.113.10)
  NAT64_TAIL=$smtp25 restart_nat64d || return 1
  lab_bg v4server smtp-echo "$LAB_PYTHON" "$NETNS_PY/tcp_echo_server.py" 25 60
  lab_wait 30 lab_exec v4server sh -c 'ss -ltn | grep -q ":25 "' || { echo "no echo server on :25"; return 1; }
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/tcp_keep_talking.py" "$dst" 25 8 >"$LAB_DIR/smtp-talker.log" 2>&1 &
  talker=$!
  sleep 0.5
  before=$(metric 'nat64d_drops_total{reason="port_rate_limit"}')
  out=$(lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/tcp_connects.py" "$dst" 25 8)
  after=$(metric 'nat64d_drops_total{reason="port_rate_limit"}')
  echo "limit 2/min, burst 2, one used by the open connection: $out; port_rate_limit ${before:-0} -> ${after:-0}"
  expect "limited" "$out" "ok 1 refused 7 other 0" || rc=1
  [ $((${after:-0} - ${before:-0})) -ge 7 ] || rc=1
  expect "another /64" "$(lab_exec v6client2 "$LAB_PYTHON" "$NETNS_PY/tcp_connects.py" "$dst" 25 2)" "ok 2 refused 0 other 0" || rc=1
  NAT64_TAIL=$deny25 nat64_config
  hup_nat64d || rc=1
  before=$(metric 'nat64d_drops_total{reason="port_denied"}')
  out=$(lab_exec v6client2 "$LAB_PYTHON" "$NETNS_PY/tcp_connects.py" "$dst" 25 3)
  after=$(metric 'nat64d_drops_total{reason="port_denied"}')
  echo "deny: $out; port_denied ${before:-0} -> ${after:-0}"
  expect "denied" "$out" "ok 0 refused 3 other 0" || rc=1
  [ $((${after:-0} - ${before:-0})) -ge 3 ] || rc=1
  NAT64_TAIL="$allow1"$'\n'"$deny25" nat64_config
  hup_nat64d || rc=1
  expect "opened for v6client's /64" "$(lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/tcp_connects.py" "$dst" 25 3)" "ok 3 refused 0 other 0" || rc=1
  expect "still denied for v6client2's" "$(lab_exec v6client2 "$LAB_PYTHON" "$NETNS_PY/tcp_connects.py" "$dst" 25 1)" "ok 0 refused 1 other 0" || rc=1
  wait "$talker" || { echo "the open connection broke: $(cat "$LAB_DIR/smtp-talker.log")"; rc=1; }
  echo "open connection: $(cat "$LAB_DIR/smtp-talker.log")"
  standard_nat64d
  return $rc
}

# The provider's second complaint, with nothing but the defaults: one /64
# sends 30 000 SYNs from random addresses of itself at a table of 20 000
# sessions (it used to fill it in 0.6 s and lock everyone out for 240 s).
# The default 100 new sessions a second, burst 1 000, per /64 holds it to a
# few thousand sessions; the rest are refused as source_rate_limit, the
# prefix is named in the log, and v6client2 (another /64) is served while
# the flood goes on and after. The flooding /64 is routed to v6client (a
# VM's routed prefix), not on gw's link: answers to thousands of random
# on-link addresses would fill gw's kernel neighbour table (docs/abuse.md).
FLOOD_NET=2001:db8:1:1::/64
t_abuse_syn_flood_with_the_default_limits_leaves_room_for_others() {
  stop_pid "$(nat64_pid)" || return 1
  NAT64_LIMITS='' NAT64_TAIL='' nat64_config "$NAT64_ALLOW, \"$FLOOD_NET\""
  sed -i 's/^offload = /max_sessions = 20000\noffload = /' "$LAB_DIR/gateway.toml"
  lab_exec gw ip -6 route add "$FLOOD_NET" via "$LAB_V6CLIENT" dev eth6 || return 1
  lab_bg gw nat64d "$NAT64D" --config "$LAB_DIR/gateway.toml"
  lab_wait 50 lab_exec gw "${CURL[@]}" -o /dev/null "http://$NAT64_METRICS/metrics" || { cat "$LAB_DIR/nat64d.log"; return 1; }
  local flood before after sessions rc=0
  before=$(metric 'nat64d_drops_total{reason="source_rate_limit"}')
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/syn_flood.py" "$FLOOD_NET" "$(v6_of 203.0.113.10)" 80 30000 8 >"$LAB_DIR/syn-flood.log" 2>&1 &
  flood=$!
  sleep 1
  lab_exec v6client2 "${CURL[@]}" -o /dev/null "http://[$(v6_of 203.0.113.10)]/" || { echo "another customer lost service during the flood"; rc=1; }
  wait "$flood"
  after=$(metric 'nat64d_drops_total{reason="source_rate_limit"}')
  sessions=$(metric 'nat64d_sessions{proto="tcp"}')
  echo "flood: $(cat "$LAB_DIR/syn-flood.log"); TCP sessions $sessions of 20 000; source_rate_limit ${before:-0} -> ${after:-0}"
  [ "${sessions:-0}" -le 2000 ] || { echo "the flood holds too much of the table"; rc=1; }
  [ $((${after:-0} - ${before:-0})) -ge 25000 ] || rc=1
  lab_exec v6client2 "${CURL[@]}" -o /dev/null "http://[$(v6_of 203.0.113.10)]/" || { echo "another customer lost service after the flood"; rc=1; }
  lab_wait 30 grep -q 'source prefix 2001:db8:1:1::/64 hit its limits: source_rate_limit' "$LAB_DIR/nat64d.log" ||
    { echo "no log line for the prefix"; rc=1; }
  lab_exec gw ip -6 route del "$FLOOD_NET" via "$LAB_V6CLIENT" dev eth6
  standard_nat64d
  return $rc
}
