# shellcheck shell=bash
# nat64d (RFC 7915, RFC 6146) started from the gateway file the way an
# operator would, real clients through it: HTTP(S), large transfers, ping,
# UDP, hairpinning, a static binding, fragments, policy refusals, the mapping
# log, /metrics, SIGHUP, SIGTERM.

# nat64d from the suite's file: its routes; and the kernel's own packets
# into the fresh TUN (router solicitations, MLD reports) are ignored, not
# counted as drops.
t_nat64d_starts_from_its_config() {
  stop_pid "$(nat64_pid)" || { echo "the running nat64d did not stop"; return 1; }
  start_nat64d || return 1
  expect "IPv6 route into the TUN" "$(lab_exec gw ip -6 route show 64:ff9b::/96)" "64:ff9b::/96 dev nat64 metric 1024 pref medium" || return 1
  expect "IPv4 pool route into the TUN" "$(lab_exec gw ip -4 route show 198.51.100.0/28 | sed 's/ *$//')" "198.51.100.0/28 dev nat64 scope link" || return 1
  sleep 1
  echo "ignored at start: $(metric nat64d_ignored_total)"
  expect "drops at start" "$(lab_exec gw "${CURL[@]}" "http://$NAT64_METRICS/metrics" | awk '/^nat64d_drops_total/ {s += $2} END {print s + 0}')" 0
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
  need_nat64d || return 1
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
  need_nat64d || return 1
  local got
  got=$(lab_exec v6client "${CURL[@]}" "http://[$(v6_of 203.0.113.10)]/") || return 1
  case "$got" in
    "hello from 64:ff9b::203.0.113.10 to 198.51.100."* | "hello from [64:ff9b::203.0.113.10] to 198.51.100."* | "hello from [64:ff9b::cb00:710a] to 198.51.100."*) ;;
    *) echo "unexpected answer: $got"; return 1 ;;
  esac
}

t_nat64_https_verified() {
  need_nat64d || return 1
  lab_exec v6client "${CURL[@]}" --cacert "$LAB_DIR/ca.crt" \
    --resolve "akismet.test:443:[$(v6_of "${LAB_HOSTS[akismet.test]}")]" https://akismet.test/ >/dev/null
}

t_nat64_100mb_download_sha256() {
  need_nat64d || return 1
  local want got
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 100000000)
  got=$(lab_exec v6client curl --silent --show-error --fail --max-time 120 \
    "http://[$(v6_of 203.0.113.10)]/bytes/100000000" | sha256sum | awk '{print $1}')
  expect "100 MB download sha256" "$got" "$want"
}

t_nat64_20mb_upload_sha256() {
  need_nat64d || return 1
  local body want got
  body="$LAB_DIR/upload6.bin"
  head -c 20000000 /dev/urandom >"$body"
  want=$(sha256sum "$body" | awk '{print $1}')
  got=$(lab_exec v6client curl --silent --show-error --fail --max-time 60 --cacert "$LAB_DIR/ca.crt" \
    --resolve "akismet.test:443:[$(v6_of "${LAB_HOSTS[akismet.test]}")]" \
    --data-binary "@$body" https://akismet.test/comment-check |
    json_sha256)
  rm -f "$body"
  expect "20 MB upload sha256" "$got" "$want"
}

# With offload (the default) a 50 MB download crosses mostly as
# super-packets translated whole; without it, none.
t_nat64_offload_as_configured() {
  need_nat64d || return 1
  local whole0 whole cut
  whole0=$(metric nat64d_offload_superpackets_total)
  lab_exec v6client curl --silent --show-error --fail --max-time 60 -o /dev/null \
    "http://[$(v6_of 203.0.113.10)]/bytes/50000000" || return 1
  whole=$(metric nat64d_offload_superpackets_total)
  cut=$(metric nat64d_offload_superpackets_cut_total)
  echo "offload=$NAT64_OFFLOAD: super-packets translated whole $whole, cut in software $cut"
  grep 'TUN device nat64: offload' "$LAB_DIR/nat64d.log"
  if [ "$NAT64_OFFLOAD" = true ]; then
    grep -q 'TUN device nat64: offload on' "$LAB_DIR/nat64d.log" && [ $((${whole:-0} - ${whole0:-0})) -gt 200 ]
  else
    grep -q 'TUN device nat64: offload off' "$LAB_DIR/nat64d.log" && [ "${whole:-1}" -eq 0 ] && [ "${cut:-1}" -eq 0 ]
  fi
}

t_nat64_ping_small_and_large() {
  need_nat64d || return 1
  # The 1400-byte replies exceed the IPv6 MTU of unknown paths (1280):
  # nat64d fragments them (req N7), the client reassembles.
  # v4server must not have learnt a path MTU towards the pool from an
  # earlier transfer (then it fragments the replies itself, see below).
  lab_exec v4server ip route flush cache
  lab_exec v6client ping -6 -c 3 -i 0.2 -W 2 "$(v6_of 203.0.113.10)" | tail -2 &&
    lab_exec v6client ping -6 -c 3 -i 0.2 -W 2 -s 1400 "$(v6_of 203.0.113.10)" | tail -2 &&
    [ "$(metric nat64d_fragments_sent_total)" -ge 6 ]
}

# With pinned workers, each packet goes to the queue of the worker on the
# CPU it arrives on (docs/performance.md, "Queues and CPUs"): pings sent
# from one CPU, and their replies, are read by that CPU's worker, whatever
# the flow; a cross-CPU wake-up per packet was nat64d's latency tail.
t_nat64_queue_follows_the_arrival_cpu() {
  need_nat64d || return 1
  local cpus i cpu w after got others n rc=0
  cpus=$(sed -n 's/.*workers pinned to CPUs \([0-9, ]*\);.*/\1/p' "$LAB_DIR/nat64d.log" | tail -1 | tr -d ',')
  read -ra cpus <<<"$cpus"
  if [ "${#cpus[@]}" -lt 2 ]; then
    echo "workers not pinned, or one CPU: $(grep -o 'translating on [^;]*;[^;]*' "$LAB_DIR/nat64d.log" | tail -1)"
    grep -q "workers not pinned" "$LAB_DIR/nat64d.log" || [ "$(nproc)" -lt 2 ]
    return
  fi
  grep -q "queue by arrival CPU" "$LAB_DIR/nat64d.log" || { grep -E "WARN|translating on" "$LAB_DIR/nat64d.log"; return 1; }
  "$NAT64GW" --config "$LAB_DIR/gateway.toml" status | grep '^queue_choice: by arrival CPU' || { echo "not in nat64gw status"; rc=1; }
  n=${#cpus[@]}
  for ((i = 0; i < n; i++)); do
    cpu=${cpus[$i]}
    declare -A before=()
    for ((w = 0; w < n; w++)); do before[$w]=$(metric "nat64d_worker_packets_read_total{worker=\"$w\"}"); done
    # Distinct identifiers (a new flow each time), all from one CPU.
    lab_exec v6client taskset -c "$cpu" ping -6 -c 20 -i 0.01 -W 1 -q "$(v6_of 203.0.113.10)" >/dev/null || rc=1
    others=0
    for ((w = 0; w < n; w++)); do
      after=$(metric "nat64d_worker_packets_read_total{worker=\"$w\"}")
      if [ "$w" = "$i" ]; then got=$((${after:-0} - ${before[$w]:-0})); else others=$((others + ${after:-0} - ${before[$w]:-0})); fi
    done
    echo "20 pings from CPU $cpu: worker $i read $got packets, the others $others"
    # 20 requests and 20 replies; a stray packet of the kernel's may go
    # elsewhere.
    if [ "$got" -lt 40 ] || [ "$others" -gt 4 ]; then rc=1; fi
  done
  return $rc
}

# One host's parallel bulk uploads, all sent from one CPU, spread over the
# workers: super-packets go to a queue by their flow, and the flow hash
# tells apart connections whose source ports differ in a few low bits
# (connect() takes even ports one after another).
t_nat64_parallel_streams_spread_over_the_workers() {
  need_nat64d || return 1
  local cpus n w k body total=0 least='' got rc=0 pids=()
  cpus=$(sed -n 's/.*workers pinned to CPUs \([0-9, ]*\);.*/\1/p' "$LAB_DIR/nat64d.log" | tail -1 | tr -d ',')
  read -ra cpus <<<"$cpus"
  n=${#cpus[@]}
  if [ "$n" -lt 2 ] || [ "$NAT64_OFFLOAD" != true ]; then
    echo "$n pinned workers, offload=$NAT64_OFFLOAD: no super-packets to spread over two workers"
    return 0
  fi
  body="$LAB_DIR/stream.bin"
  head -c 2000000 /dev/urandom >"$body"
  declare -A before=()
  for ((w = 0; w < n; w++)); do before[$w]=$(metric "nat64d_worker_superpackets_read_total{worker=\"$w\"}"); done
  # 16 streams: all in one of two queues by chance once in 30 000 runs.
  for ((k = 0; k < 16; k++)); do
    lab_exec v6client taskset -c "${cpus[0]}" curl --silent --show-error --fail --max-time 60 -o /dev/null \
      --data-binary "@$body" "http://[$(v6_of 203.0.113.10)]/upload" &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || rc=1; done
  rm -f "$body"
  local per=()
  for ((w = 0; w < n; w++)); do
    got=$(($(metric "nat64d_worker_superpackets_read_total{worker=\"$w\"}") - ${before[$w]:-0}))
    per+=("$got")
    total=$((total + got))
    if [ -z "$least" ] || [ "$got" -lt "$least" ]; then least=$got; fi
  done
  echo "16 uploads of 2 MB from CPU ${cpus[0]}: super-packets read by each worker: ${per[*]}"
  # Every worker carried some of the streams.
  [ "$total" -gt 100 ] && [ "$least" -gt 0 ] || rc=1
  return $rc
}

# The threads that carry packets ask for the kernel's shortest slice, so
# that woken while another task runs on their CPU they run at once
# (docs/performance.md, "What else could hold a packet"): nat64d's workers
# show `se.slice` 100 000 ns. dns64d's UDP readers keep the kernel's slice
# (measured: no gain for them).
t_packet_threads_run_with_a_short_slice() {
  need_gateway || return 1
  custom_slices || { echo "kernel $(uname -r) keeps its own slices: nothing to check"; return 0; }
  local w r rc=0
  w=$(thread_slices "$(nat64_pid)" '^worker-')
  r=$(thread_slices "$(dns64_pid)" '^dns64d-udp')
  echo "nat64d workers: $(tr '\n' ' ' <<<"$w"); dns64d readers: $(tr '\n' ' ' <<<"$r")"
  all_short "$w" || rc=1
  if [ -z "$r" ] || grep -q '^100000$' <<<"$r"; then echo "dns64d's readers: no slice read, or the short one"; rc=1; fi
  grep -h "short scheduler slice" "$LAB_DIR/nat64d.log" "$LAB_DIR/dns64d.log" && rc=1
  return $rc
}

# Both daemons run with transparent huge pages off for their process
# (docs/performance.md, "Huge pages"): no 2 MiB page fault on a packet's or
# a query's path. /proc/PID/status says `THP_enabled: 0`, and neither logs
# that the kernel refused.
t_daemons_run_without_huge_pages() {
  need_gateway || return 1
  local pid name v rc=0
  for name in nat64d dns64d; do
    pid=$("${name%d}_pid")
    [ -n "$pid" ] || { echo "$name is not running"; rc=1; continue; }
    v=$(awk '/^THP_enabled:/ {print $2}' "/proc/$pid/status")
    echo "$name (pid $pid): THP_enabled ${v:-missing}"
    [ "$v" = 0 ] || rc=1
  done
  grep -h "cannot turn transparent huge pages off" "$LAB_DIR/nat64d.log" "$LAB_DIR/dns64d.log" && rc=1
  return $rc
}

# After a download, v4server has learnt path MTU 1260 towards the pool
# (nat64d answered its DF-set 1500-byte segments with Fragmentation Needed),
# so it fragments its 1428-byte echo replies itself. ICMP cannot be
# translated in fragments (the ICMPv6 checksum covers the whole message,
# RFC 7915 §4.2): those replies are dropped, and counted.
t_nat64_fragmented_icmp_is_counted() {
  need_nat64d || return 1
  local before after
  lab_exec v6client curl --silent --show-error --fail --max-time 30 -o /dev/null \
    "http://[$(v6_of 203.0.113.10)]/bytes/2000000" || return 1
  before=$(metric 'nat64d_drops_total{reason="icmp_fragmented"}')
  lab_exec v6client ping -6 -c 2 -i 0.2 -W 1 -s 1400 "$(v6_of 203.0.113.10)" >/dev/null
  after=$(metric 'nat64d_drops_total{reason="icmp_fragmented"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "icmp_fragmented: $before -> $after"; return 1; }
}

t_nat64_udp_exchange() {
  need_nat64d || return 1
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_exchange.py" "$(v6_of 203.0.113.10)" 5
}

# A burst of UDP datagrams, three flows, blocks of one size (the last of a
# block shorter), echoed back: every datagram must arrive once with its
# bytes intact, both ways. With offload on (and UDP segmentation in the
# kernel), nat64d writes runs of one flow as one UDP super-packet that the
# kernel cuts back at the receiving socket; the count must show it.
t_nat64_udp_burst_intact_both_ways() {
  need_nat64d || return 1
  local before after csum0 csum1
  before=$(metric nat64d_offload_udp_coalesced_datagrams_total)
  csum0=$(lab_exec v4server nstat -az UdpInCsumErrors | awk '/UdpInCsumErrors/ {print $2}')
  # (the echo server is tests/netns/py/udp_burst_echo.py)
  lab_bg v4server udp-burst-echo "$LAB_PYTHON" "$NETNS_PY/udp_burst_echo.py"
  # Neighbours resolved on both sides first: a burst that waits for ARP or
  # neighbour discovery in the kernel is cut at its queue, before nat64d.
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_exchange.py" "$(v6_of 203.0.113.10)" 1 || return 1
  sleep 0.3
  if ! lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_burst_client.py" "$(v6_of 203.0.113.10)"; then
    echo "nat64d's non-zero drop counters and the kernels' UDP counters:"
    lab_exec gw "${CURL[@]}" "http://$NAT64_METRICS/metrics" | grep -E '^nat64d_(drops_total|tun_write_errors_total|packets_total)' | grep -v ' 0$'
    for role in v6client gw v4server; do echo "$role: $(lab_exec "$role" nstat -az UdpRcvbufErrors UdpSndbufErrors Udp6RcvbufErrors Udp6SndbufErrors UdpInErrors Udp6InErrors | awk 'NR > 1 && $2 > 0 {printf "%s=%s ", $1, $2}')"; done
    echo "the TUN: $(lab_exec gw ip -s -o link show nat64)"
    sleep 2.5
    echo "the echo server: $(cat "$LAB_DIR/udp-burst-echo.log")"
    return 1
  fi
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

# req S8: v6client2 gets a UDP binding by talking to the echo service; the
# mapping log tells its pool address and port; v6client sends to that
# address inside the prefix, the packet goes through nat64d twice, and
# v6client2's answer comes back the same way.
t_nat64_hairpin_between_two_ipv6_clients() {
  need_nat64d || return 1
  local port=40007 line v4 p
  lab_exec v6client2 "$LAB_PYTHON" "$NETNS_PY/udp_bind_via_echo.py" "$(v6_of 203.0.113.10)" "$port" || return 1
  lab_wait 20 grep -q " created udp $LAB_V6CLIENT2#$port " "$LAB_DIR/mappings.log" || { echo "no binding logged for v6client2"; return 1; }
  line=$(grep " created udp $LAB_V6CLIENT2#$port " "$LAB_DIR/mappings.log" | tail -1)
  v4=$(awk '{print $5}' <<<"$line")
  p=${v4#*#}
  v4=${v4%#*}
  echo "v6client2's binding: $v4 port $p"
  # The binding outlives the socket (UDP timer); v6client2 listens again on
  # the same port, answers one datagram and reports its source.
  lab_bg v6client2 hairpin-server "$LAB_PYTHON" "$NETNS_PY/hairpin_server.py" "$port"
  sleep 0.3
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/hairpin_client.py" "$(v6_of "$v4")" "$p" || { cat "$LAB_DIR/hairpin-server.log"; return 1; }
  # v6client2 saw v6client as a pool address inside the prefix, not as
  # its IPv6 address.
  grep -q "^from 64:ff9b::c633:64" "$LAB_DIR/hairpin-server.log" ||
    { echo "v6client2 saw: $(cat "$LAB_DIR/hairpin-server.log")"; return 1; }
  [ "$(metric 'nat64d_packets_total{way="hairpin"}')" -ge 2 ] ||
    { echo "hairpin packets: $(metric 'nat64d_packets_total{way="hairpin"}')"; return 1; }
}

# RFC 6146 §3.5.2.2, RFC 5382 REQ-4 (req S4): TCP simultaneous open. The
# IPv4 server (203.0.113.10#5555) connects to a pool transport address X#x
# that no binding holds: its SYN is held. v6client then connects to it from
# its own port: the new binding takes X#x, so the server's socket sees the
# SYN it expects from X#x, both sides open, and each reads the other's
# line. (X is v6client's paired pool address, from the mapping log.)
t_nat64_tcp_simultaneous_open_takes_the_held_syns_port() {
  need_nat64d || return 1
  local line x port=$((47000 + RANDOM % 2000)) v4side rc=0
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_exchange.py" "$(v6_of 203.0.113.10)" 1 || return 1
  lab_wait 20 grep -q " created udp $LAB_V6CLIENT#" "$LAB_DIR/mappings.log" || { echo "no binding logged"; return 1; }
  line=$(grep " created udp $LAB_V6CLIENT#" "$LAB_DIR/mappings.log" | tail -1)
  x=$(awk '{split($5, a, "#"); print a[1]}' <<<"$line")
  lab_exec v4server "$LAB_PYTHON" "$NETNS_PY/tcp_simultaneous.py" 203.0.113.10 5555 "$x" "$port" 0 v4server >"$LAB_DIR/simopen-v4.log" 2>&1 &
  v4side=$!
  sleep 0.5
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/tcp_simultaneous.py" "$LAB_V6CLIENT" 0 "$(v6_of 203.0.113.10)" 5555 0 v6client || rc=1
  wait "$v4side" || rc=1
  cat "$LAB_DIR/simopen-v4.log"
  # The log is written every 20 ms: waited for, bounded.
  lab_wait 20 grep -q " created tcp $LAB_V6CLIENT#[0-9]* $x#$port" "$LAB_DIR/mappings.log" || { echo "no binding on $x#$port"; rc=1; }
  return $rc
}

# req S8 with nat64d's own errors, and IPv4 forwarding off in gw: v6client
# sends UDP, and then a TCP SYN, to a pool port no binding holds, through
# the prefix. Port Unreachable for the datagram at once, and for the SYN
# after its 6 s hold (req S4), are for v6client's pool address: nat64d
# translates them itself, so v6client's sockets see "connection refused"
# although gw's kernel routes no IPv4 packet back into the TUN.
t_nat64_hairpin_own_errors_reach_the_host_with_ipv4_forwarding_off() {
  need_nat64d || return 1
  local fwd rc=0 dst
  fwd=$(lab_exec gw sysctl -n net.ipv4.ip_forward)
  lab_exec gw sysctl -qw net.ipv4.ip_forward=0 || return 1
  dst=$(v6_of 198.51.100.9)
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/expect_refused.py" udp "$dst" 40404 3 || rc=1
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/expect_refused.py" tcp "$dst" 40405 12 || rc=1
  lab_exec gw sysctl -qw "net.ipv4.ip_forward=$fwd"
  return $rc
}

# req N13 (RFC 7915 §4.2, §5.2: the translator's own errors): nat64d's
# error limiter starts full. Right after a fresh start (the coarse clock
# still at 0 s), UDP from v4server to an unbound pool port gets its Port
# Unreachable, and nothing is counted as rate-limited.
t_nat64_own_errors_sent_in_the_first_second() {
  stop_pid "$(nat64_pid)" || return 1
  start_nat64d || return 1
  lab_exec v4server "$LAB_PYTHON" "$NETNS_PY/udp_expect_port_unreachable.py" || return 1
  expect "errors rate-limited" "$(metric nat64d_own_icmp_errors_rate_limited_total)" 0
}

# req S7: the IPv4-only server opens a TCP connection to a pool address;
# the static entry carries it to an HTTP server on v6client.
t_nat64_static_entry_ipv4_to_ipv6_server() {
  need_nat64d || return 1
  local got
  lab_bg v6client static-server "$LAB_PYTHON" "$NETNS_PY/static_server.py" "$NAT64_STATIC_PORT"
  lab_wait 30 lab_exec v6client "${CURL[@]}" "http://[$LAB_V6CLIENT]:$NAT64_STATIC_PORT/" ||
    { cat "$LAB_DIR/static-server.log"; return 1; }
  got=$(lab_exec v4server "${CURL[@]}" "http://$NAT64_STATIC4:$NAT64_STATIC_PORT/") || return 1
  expect "IPv6 server's view of the IPv4 client" "$got" "ipv6 server saw 64:ff9b::c000:202" &&
    lab_wait 20 grep -q " created tcp $LAB_V6CLIENT#$NAT64_STATIC_PORT $NAT64_STATIC4#$NAT64_STATIC_PORT static$" "$LAB_DIR/mappings.log" &&
    [ "$(metric nat64d_static_bib_entries)" = 1 ]
}

# req S9, in either order: fragments are written by hand with raw sockets,
# the one without the UDP header first. IPv6 side: v6client's fragments go
# to the echo service (nat64d holds the second until the first arrives);
# the echo comes back whole. IPv4 side: v4server sends a reply in two
# fragments, last first, to v6client's binding; v6client gets it whole.
t_nat64_fragments_out_of_order() {
  need_nat64d || return 1
  local port=40009 line v4 p before after
  before=$(metric nat64d_fragments_held_total)
  lab_bg v6client frag-client "$LAB_PYTHON" "$NETNS_PY/frag_client.py" "$(v6_of 203.0.113.10)" "$port" "$LAB_V6CLIENT"
  lab_wait 30 grep -q "^echo" "$LAB_DIR/frag-client.log"
  grep -q "^echo 2000 True$" "$LAB_DIR/frag-client.log" ||
    { echo "IPv6 fragments out of order:"; cat "$LAB_DIR/frag-client.log"; return 1; }
  lab_wait 20 grep -q " created udp $LAB_V6CLIENT#$port " "$LAB_DIR/mappings.log" || { echo "no binding logged"; return 1; }
  line=$(grep " created udp $LAB_V6CLIENT#$port " "$LAB_DIR/mappings.log" | tail -1)
  v4=$(awk '{print $5}' <<<"$line")
  p=${v4#*#}
  v4=${v4%#*}
  lab_exec v4server "$LAB_PYTHON" "$NETNS_PY/v4_fragments_out_of_order.py" "$v4" "$p" || return 1
  lab_wait 30 grep -q "^from v4server" "$LAB_DIR/frag-client.log"
  grep -q "^from v4server 2000 cafecafe$" "$LAB_DIR/frag-client.log" ||
    { echo "IPv4 fragments out of order:"; cat "$LAB_DIR/frag-client.log"; return 1; }
  after=$(metric nat64d_fragments_held_total)
  [ "${after:-0}" -ge $((${before:-0} + 2)) ] || { echo "fragments held: $before -> $after"; return 1; }
}

# req S3: UDP from the IPv4 side to a pool port no binding holds is
# dropped, counted, and answered with ICMPv4 Port Unreachable (the sender's
# socket sees "connection refused").
t_nat64_udp_without_binding_port_unreachable() {
  need_nat64d || return 1
  local before after
  before=$(metric 'nat64d_drops_total{reason="no_binding"}')
  lab_exec v4server "$LAB_PYTHON" "$NETNS_PY/udp_expect_port_unreachable.py" || return 1
  after=$(metric 'nat64d_drops_total{reason="no_binding"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "no_binding: $before -> $after"; return 1; }
}

t_nat64_deny_to_refused_and_counted() {
  need_nat64d || return 1
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
  need_nat64d || return 1
  local out0 in0
  out0=$(metric 'nat64d_packets_total{way="6to4"}')
  in0=$(metric 'nat64d_packets_total{way="4to6"}')
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_exchange.py" "$(v6_of 203.0.113.10)" || return 1
  lab_exec v6client curl --silent --show-error --fail --max-time 30 -o /dev/null \
    "http://[$(v6_of 203.0.113.10)]/bytes/20000000" || return 1
  lab_wait 20 grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z created tcp 2001:db8:1::2#[0-9]+ 198\.51\.100\.[0-9]+#[0-9]+$' \
    "$LAB_DIR/mappings.log" || { echo "no TCP binding in the mapping log:"; head "$LAB_DIR/mappings.log"; return 1; }
  grep -qE ' created udp 2001:db8:1::2#' "$LAB_DIR/mappings.log" || { echo "no UDP binding logged"; return 1; }
  local out6 in4
  out6=$(metric 'nat64d_packets_total{way="6to4"}')
  in4=$(metric 'nat64d_packets_total{way="4to6"}')
  # 20 MB down is about 14 000 segments of 1 440 bytes in; ACKs (fewer
  # with offload: one per super-packet received) out.
  if [ $((${out6:-0} - ${out0:-0})) -lt 100 ] || [ $((${in4:-0} - ${in0:-0})) -lt 13000 ]; then
    echo "packets 6to4=$out6 4to6=$in4"
    return 1
  fi
  # Pool use: the TCP port v6client holds is on its paired address, and the
  # per-address series add up to the pool's.
  local addr per sum
  addr=$(grep -E " created tcp 2001:db8:1::2#" "$LAB_DIR/mappings.log" | tail -1 | awk '{split($5, a, "#"); print a[1]}')
  per=$(metric "nat64d_pool_address_ports_used{address=\"$addr\",proto=\"tcp\"}")
  sum=$(lab_exec gw "${CURL[@]}" "http://$NAT64_METRICS/metrics" |
    awk '/^nat64d_pool_address_ports_used\{.*proto="tcp"/ {s += $2} END {print s + 0}')
  [ "${per:-0}" -ge 1 ] || { echo "no port in use on $addr"; return 1; }
  expect "per-address TCP ports add up" "$sum" "$(metric 'nat64d_pool_ports_used{proto="tcp"}')" || return 1
  expect "capacity" "$(metric 'nat64d_pool_ports_capacity{proto="tcp"}')" $((64512 * 16))
}

t_nat64_sighup_outside_allow_from_then_back() {
  need_nat64d || return 1
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
  nat64_config
  kill -HUP "$(nat64_pid)"
  lab_wait 30 grep -q "reloaded: allow_from 2001:db8:1::/64, 2001:db8:3::/64" "$LAB_DIR/nat64d.log" || { tail -3 "$LAB_DIR/nat64d.log"; return 1; }
  lab_exec v6client2 "${CURL[@]}" -o /dev/null "http://[$(v6_of 203.0.113.10)]/"
}

t_nat64_sighup_during_a_download() {
  need_nat64d || return 1
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

# SIGTERM: nat64d stops, removes its routes and TUN, and the mapping log
# (req O3, an audit trail) ends with a `removed` line for every binding
# still alive and a `stop` marker, after the `start` marker of this run.
t_nat64d_stops_cleanly() {
  need_nat64d || return 1
  local pid port=40077 created removed
  pid=$(nat64_pid)
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_bind_via_echo.py" "$(v6_of 203.0.113.10)" "$port" || return 1
  lab_wait 20 grep -q " created udp $LAB_V6CLIENT#$port " "$LAB_DIR/mappings.log" || { echo "no binding logged"; return 1; }
  kill -TERM "$pid" || return 1
  lab_wait 50 sh -c "! kill -0 $pid 2>/dev/null" || { echo "nat64d still runs after SIGTERM"; return 1; }
  grep -qE " INFO nat64d::shell::start: stopped$" "$LAB_DIR/nat64d.log" || { cat "$LAB_DIR/nat64d.log"; return 1; }
  expect "routes removed" "$(lab_exec gw ip -6 route show 64:ff9b::/96)" "" || return 1
  expect "TUN removed" "$(lab_exec gw ip -o link show nat64 2>/dev/null)" "" || return 1
  grep -q ' start nat64d ' "$LAB_DIR/mappings.log" || { echo "no start marker"; return 1; }
  expect "last line" "$(tail -1 "$LAB_DIR/mappings.log" | awk '{print $2, $3}')" "stop nat64d" || return 1
  created=$(grep -c " created udp $LAB_V6CLIENT#$port " "$LAB_DIR/mappings.log")
  removed=$(grep -c " removed udp $LAB_V6CLIENT#$port " "$LAB_DIR/mappings.log")
  expect "the binding alive at stop logged as removed" "$removed" "$created"
}


# nat64d_gone CONFIG: no nat64d runs from CONFIG (a function, so that no
# process carries the pattern in its own command line).
nat64d_gone() { ! pgrep -f -- "$NAT64D --config $1" >/dev/null; }

# A second nat64d on the same TUN in the same namespace is refused at start,
# naming what holds it; the first goes on translating with its routes. A
# persistent device of the TUN's name is refused unless adopt_tun; an
# adopting nat64d whose routes existed already leaves them at stop.
t_nat64d_second_instance_and_foreign_tun_refused() {
  need_nat64d || return 1
  local second pid rc=0
  second=$LAB_DIR/gateway-second.toml
  cp "$LAB_DIR/gateway.toml" "$second"
  own_sockets "$second" second
  lab_bg gw nat64d-second "$NAT64D" --config "$second"
  # The refusal is awaited first: right after lab_bg the process may not
  # have been started yet, so "gone" alone would pass before it ran.
  lab_wait 50 grep -q "another nat64d in this network namespace already runs on TUN device nat64" "$LAB_DIR/nat64d-second.log" ||
    { echo "second instance's log:"; cat "$LAB_DIR/nat64d-second.log"; rc=1; }
  lab_wait 50 nat64d_gone "$second" ||
    { echo "the second nat64d is still running"; pkill -f -- "$NAT64D --config $second"; rc=1; }
  expect "the first one's route" "$(lab_exec gw ip -6 route show 64:ff9b::/96 | awk '{print $1, $2, $3}')" "64:ff9b::/96 dev nat64" || rc=1
  t_nat64_http_through_the_prefix || { echo "the first nat64d stopped translating"; rc=1; }
  # A persistent TUN device of another name, refused, then adopted.
  lab_exec gw ip tuntap add dev nat64p mode tun multi_queue || return 1
  sed -e 's/^tun = .*/tun = "nat64p"/' -e 's/^listen = "127.0.0.1:9464"/listen = "127.0.0.1:9474"/' "$LAB_DIR/gateway.toml" >"$second"
  own_sockets "$second" second
  lab_bg gw nat64d-persistent "$NAT64D" --config "$second"
  lab_wait 50 grep -q "a network device named nat64p exists already" "$LAB_DIR/nat64d-persistent.log" ||
    { cat "$LAB_DIR/nat64d-persistent.log"; rc=1; }
  lab_wait 50 nat64d_gone "$second" || rc=1
  sed -i 's/^tun = "nat64p"/tun = "nat64p"\nadopt_tun = true/' "$second"
  lab_bg gw nat64d-adopt "$NAT64D" --config "$second"
  lab_wait 50 lab_exec gw "${CURL[@]}" -o /dev/null "http://127.0.0.1:9474/metrics" || { cat "$LAB_DIR/nat64d-adopt.log"; rc=1; }
  grep -q "route to 64:ff9b::/96 exists already" "$LAB_DIR/nat64d-adopt.log" || { cat "$LAB_DIR/nat64d-adopt.log"; rc=1; }
  pid=$(pgrep -f -- "$NAT64D --config $second" | head -1)
  stop_pid "$pid" || rc=1
  expect "the first one's route after the adopter stopped" "$(lab_exec gw ip -6 route show 64:ff9b::/96 | awk '{print $1, $2, $3}')" "64:ff9b::/96 dev nat64" || rc=1
  lab_exec gw ip link del nat64p
  t_nat64_http_through_the_prefix || rc=1
  return $rc
}

# req O4 against the IPv4 side: endpoint-independent filtering lets any IPv4
# host use a binding (RFC 6146 §3.5.1), so a spray from 2 000 source ports at
# one binding could fill the table or the host's budget. A binding holds at
# most `limits.inbound_sessions_per_binding` (64) sessions the IPv6 host has
# not answered, for `timeouts.unanswered_inbound` (6 s); the rest are counted
# as refused; the victim and other clients are still served.
t_nat64_inbound_spray_bounded_per_binding() {
  need_nat64d || return 1
  local port=40011 line v4 p before after held rc=0
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_bind_via_echo.py" "$(v6_of 203.0.113.10)" "$port" || return 1
  lab_wait 20 grep -q " created udp $LAB_V6CLIENT#$port " "$LAB_DIR/mappings.log" || { echo "no binding logged"; return 1; }
  line=$(grep " created udp $LAB_V6CLIENT#$port " "$LAB_DIR/mappings.log" | tail -1)
  v4=$(awk '{print $5}' <<<"$line")
  p=${v4#*#}
  v4=${v4%#*}
  before=$(metric 'nat64d_drops_total{reason="inbound_session_limit"}')
  lab_exec v4server "$LAB_PYTHON" "$NETNS_PY/udp_spray.py" "$v4" "$p" 2000 || return 1
  after=$(metric 'nat64d_drops_total{reason="inbound_session_limit"}')
  held=$(metric nat64d_unanswered_inbound_sessions)
  echo "spray at $v4#$p: refused ${before:-0} -> ${after:-0}; unanswered inbound sessions $held"
  [ $((${after:-0} - ${before:-0})) -ge 1900 ] || rc=1
  [ "${held:-0}" -le 64 ] || rc=1
  # The victim opens new flows, another client is served.
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/udp_exchange.py" "$(v6_of 203.0.113.10)" || { echo "the victim lost service"; rc=1; }
  lab_exec v6client2 "${CURL[@]}" -o /dev/null "http://[$(v6_of 203.0.113.10)]/" || { echo "another client lost service"; rc=1; }
  # The unanswered sessions go after their short lifetime.
  lab_wait 100 metric_is nat64d_unanswered_inbound_sessions 0 ||
    { echo "unanswered inbound sessions after 10 s: $(metric nat64d_unanswered_inbound_sessions)"; rc=1; }
  return $rc
}

# Mutated packets from both sides (seeded, 10 000 each) reach nat64d; it
# stays up, its memory bounded, keeps translating, and its counters add up
# (random virtio-net headers cannot come from outside the kernel: the
# offload property test covers them): every packet read (or segment
# cut from a super-packet) ended as forwarded, answered with its own ICMP
# error, dropped under a reason, cut, or is a fragment held now:
#   read + segments = forwarded + answered + drops + cut + held now
#                     + ignored (the kernel's own link-scope packets)
# (docs/deploy.md, "Metrics").
t_nat64_fuzzed_packets_counted_and_counters_add_up() {
  need_nat64d || return 1
  local out read segs fwd ans drops cut held ign pid rss0 rss1 rc=0
  pid=$(nat64_pid)
  rss0=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/fuzz_packets.py" 6 "$LAB_V6CLIENT" "$(v6_of 203.0.113.10)" 10000 || rc=1
  lab_exec v4server "$LAB_PYTHON" "$NETNS_PY/fuzz_packets.py" 4 203.0.113.10 198.51.100.3 10000 || rc=1
  [ "$(nat64_pid)" = "$pid" ] || { echo "nat64d died or restarted"; return 1; }
  rss1=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  echo "nat64d resident ${rss0} -> ${rss1} kB"
  [ $((rss1 - rss0)) -lt 50000 ] || { echo "memory grew by $((rss1 - rss0)) kB"; rc=1; }
  t_nat64_http_through_the_prefix || { echo "no longer translating"; rc=1; }
  # Quiescence: held fragments expire within a few seconds.
  lab_wait 80 metric_is nat64d_fragments_held 0 || rc=1
  out=$(lab_exec gw "${CURL[@]}" "http://$NAT64_METRICS/metrics")
  sum() { awk -v k="$1" 'index($1, k) == 1 {s += $2} END {printf "%d", s}' <<<"$out"; }
  read=$(sum 'nat64d_packets_read_total{')
  segs=$(sum nat64d_segments_total)
  fwd=$(sum 'nat64d_forwarded_total{')
  ans=$(sum nat64d_answered_total)
  drops=$(sum 'nat64d_drops_total{')
  cut=$(sum nat64d_offload_superpackets_cut_total)
  ign=$(sum nat64d_ignored_total)
  held=$(awk '$1 == "nat64d_fragments_held" {print $2}' <<<"$out")
  echo "read $read + segments $segs = forwarded $fwd + answered $ans + dropped $drops + cut $cut + held $held + ignored $ign"
  expect "the counters' identity" "$((read + segs))" "$((fwd + ans + drops + cut + held + ign))" || rc=1
  awk '$1 ~ /^nat64d_drops_total/ && $2 > 0' <<<"$out" | sort -k2 -n -r | head -8
  return $rc
}

# A flood of sessions that then expires leaves no memory behind: the sweep
# shrinks the tables (and lets go of emptied shards' binding slots), so the
# resident size falls back instead of staying at its peak. nat64d runs here
# with an 8 s ICMP query lifetime; the standard one comes back afterwards.
t_nat64_memory_handed_back_after_a_session_flood() {
  stop_pid "$(nat64_pid)" || return 1
  # One client is the whole flood: its per-customer limits off, and spread
  # over the pool (paired with one address, it would have 65 536 ICMP
  # identifiers).
  NAT64_LIMITS=$'sessions_per_source = 0\nnew_sessions_per_second = 0' nat64_config
  sed -i 's/^offload = /timeouts = { icmp = 8 }\npairing = "address"\noffload = /' "$LAB_DIR/gateway.toml"
  lab_bg gw nat64d "$NAT64D" --config "$LAB_DIR/gateway.toml"
  lab_wait 50 lab_exec gw "${CURL[@]}" -o /dev/null "http://$NAT64_METRICS/metrics" || { cat "$LAB_DIR/nat64d.log"; return 1; }
  local pid rss0 rss1 rss2 peak rc=0
  pid=$(nat64_pid)
  rss0=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/icmp_sessions.py" "$(v6_of 203.0.113.10)" 200000
  peak=$(metric 'nat64d_sessions{proto="icmp"}')
  rss1=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  lab_wait 250 metric_is 'nat64d_sessions{proto="icmp"}' 0 || rc=1
  sleep 2
  rss2=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  echo "ICMP sessions at the peak $peak; resident ${rss0} kB before, ${rss1} kB at the peak, ${rss2} kB after they expired"
  [ "${peak:-0}" -ge 100000 ] || { echo "too few sessions to measure"; rc=1; }
  [ $((rss2 - rss0)) -le $(((rss1 - rss0) / 2)) ] || { echo "less than half of the memory was handed back"; rc=1; }
  stop_pid "$pid"
  nat64_config
  return $rc
}
