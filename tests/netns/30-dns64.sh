# shellcheck shell=bash
# dns64d (RFC 6147, RFC 8880) from the same gateway file, NSD in v4server
# upstream: synthesis, TTLs, exclusion, chains, PTR, ipv4only.arpa, other
# types, truncation, access control, malformed queries, failover, metrics,
# SIGHUP and SIGTERM.

t_dns64d_starts_from_its_config() {
  stop_pid "$(dns64_pid)" || { echo "the running dns64d did not stop"; return 1; }
  start_dns64d
}

t_dns64_synthesis_and_ttls() {
  need_dns64d || return 1
  # D4, D7: the SOA minimum (300) is below twitter's A TTL (3600) and
  # above akismet's (60).
  expect "twitter TTL" "$(dig6 twitter.test AAAA +noall +answer | awk '{print $2, $5}')" "300 64:ff9b::cb00:710a" &&
    expect "akismet TTL" "$(dig6 +tcp akismet.test AAAA +noall +answer | awk '{print $2, $5}')" "60 64:ff9b::cb00:710b" &&
    dig_both "AAAA 64:ff9b::cb00:7114
AAAA 64:ff9b::cb00:7115
AAAA 64:ff9b::cb00:7116" multi.test AAAA
}

t_dns64_real_and_excluded_aaaa() {
  need_dns64d || return 1
  dig_both "AAAA 2001:db8:2::12" dual.test AAAA &&
    dig_both "AAAA 64:ff9b::cb00:710d" mapped.test AAAA
}

t_dns64_chains_dname_and_negative() {
  need_dns64d || return 1
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
  need_dns64d || return 1
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
  need_dns64d || return 1
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
  need_dns64d || return 1
  # D12: 40 synthesised records do not fit 512 bytes.
  dig6 +bufsize=512 +ignore many.test AAAA +noall +comments | grep -q "flags: qr tc" ||
    { echo "no TC=1 at 512 bytes"; return 1; }
  dig6 +noedns +ignore many.test AAAA +noall +comments | grep -q "flags: qr tc" ||
    { echo "no TC=1 without EDNS"; return 1; }
  expect "records over TCP" "$(dig6 +tcp many.test AAAA +noall +answer | grep -c AAAA)" "40" &&
    expect "records over UDP (dig retries TCP)" "$(dig6 +bufsize=512 many.test AAAA +noall +answer | grep -c AAAA)" "40"
}

t_dns64_refused_outside_allow_from() {
  need_dns64d || return 1
  local before after
  before=$(dns_metric 'dns64d_queries_total{outcome="refused",type="aaaa"}')
  expect "v6client2 status" "$(lab_exec v6client2 "${DIG[@]}" "@$LAB_GW6_2" twitter.test AAAA +noall +comments | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')" "REFUSED" || return 1
  after=$(dns_metric 'dns64d_queries_total{outcome="refused",type="aaaa"}')
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "refused: $before -> $after"; return 1; }
}

t_dns64_malformed_queries() {
  need_dns64d || return 1
  # Garbage with a header gets FORMERR with its ID; a short datagram is
  # dropped; dns64d keeps answering.
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/dns_malformed_queries.py" "$LAB_GW6" || return 1
  dig_both "A 203.0.113.10" twitter.test A
}

t_dns64_failover_to_a_live_upstream() {
  need_dns64d || return 1
  # A second instance whose first upstream does not exist (no host at
  # 192.0.2.99): questions fail over to NSD, and the log says so; then the
  # dead one is skipped (upstream health).
  local conf="$LAB_DIR/failover.toml"
  sed -e 's/^upstreams = .*/upstreams = ["192.0.2.99:53", "192.0.2.53:53"]/' \
    -e 's/^listen = \["\[2001.*/listen = ["[2001:db8:1::1]:5353"]/' \
    -e '/^\[dns64.metrics\]/,$d' "$LAB_DIR/gateway.toml" >"$conf"
  own_sockets "$conf" failover
  lab_bg gw dns64d-failover "$DNS64D" --config "$conf"
  lab_wait 30 dig6 -p 5353 +short ipv4only.arpa A >/dev/null || { cat "$LAB_DIR/dns64d-failover.log"; return 1; }
  expect "through the second upstream" "$(dig6 -p 5353 +time=4 twitter.test AAAA +short)" "64:ff9b::cb00:710a" || return 1
  if ! grep -q "upstream 192.0.2.99:53 did not answer" "$LAB_DIR/dns64d-failover.log"; then
    cat "$LAB_DIR/dns64d-failover.log"
    return 1
  fi
  # The dead upstream is marked down once and skipped: ten more names, none
  # of them cached, each answered by NSD without waiting for 192.0.2.99
  # again (no new "did not answer" line; the log would allow ten a minute).
  grep -q "upstream 192.0.2.99:53 marked down" "$LAB_DIR/dns64d-failover.log" || { echo "not marked down"; return 1; }
  local i before
  before=$(grep -c "upstream 192.0.2.99:53 did not answer" "$LAB_DIR/dns64d-failover.log")
  for i in $(seq 10); do
    expect "u$i.bench.test" "$(dig6 -p 5353 +time=4 "u$i.bench.test" AAAA +short)" "64:ff9b::cb00:7132" || return 1
  done
  expect "timeouts of the dead upstream during ten names" \
    "$(grep -c "upstream 192.0.2.99:53 did not answer" "$LAB_DIR/dns64d-failover.log")" "$before"
}

t_dns64_metrics() {
  need_dns64d || return 1
  local syn hits
  # 40 records synthesised from many.test's A answer; then a client's own
  # A question for it is answered from the upstream cache.
  answers +tcp many.test AAAA >/dev/null && answers +tcp many.test A >/dev/null || return 1
  syn=$(dns_metric dns64d_synthesized_records_total)
  hits=$(dns_metric dns64d_cache_hits_total)
  if [ "${syn:-0}" -lt 10 ] || [ "${hits:-0}" -lt 1 ]; then
    echo "synthesized=$syn hits=$hits"
    return 1
  fi
  [ "$(dns_metric 'dns64d_upstream_total{result="sent",server="192.0.2.53:53"}')" -ge 1 ] || return 1
  # Latency and answers: the histograms and the RCODE counts.
  [ "$(dns_metric 'dns64d_answer_seconds_count{path="full",transport="tcp"}')" -ge 1 ] || { echo "no answer latency"; return 1; }
  [ "$(dns_metric 'dns64d_answers_total{rcode="noerror",transport="tcp"}')" -ge 2 ] || { echo "no answers by rcode"; return 1; }
  [ "$(dns_metric 'dns64d_upstream_rtt_seconds_count{server="192.0.2.53:53"}')" -ge 1 ] || { echo "no upstream round trips"; return 1; }
}

# The CPUs dns64d may run on, one per line (its readers' CPUs, in order).
dns64_cpus() {
  taskset -cp "$(dns64_pid)" | sed 's/.*: //' | tr ',' '\n' |
    awk -F- '{ if (NF == 2) for (c = $1; c <= $2; c++) print c; else print $1 }'
}

# Each UDP reader is pinned to a CPU and gets the queries that arrive on
# it (docs/performance.md, "dns64d's UDP readers"): queries sent from one
# CPU, from new source ports each time, are all read by that CPU's reader.
t_dns64_udp_query_read_on_its_arrival_cpu() {
  need_dns64d || return 1
  local cpus n i w after got others rc=0
  mapfile -t cpus < <(dns64_cpus)
  n=${#cpus[@]}
  [ "$n" -ge 2 ] || { echo "one CPU: nothing to steer"; return 0; }
  for ((i = 0; i < n; i++)); do
    declare -A before=()
    for ((w = 0; w < n; w++)); do before[$w]=$(dns_metric "dns64d_udp_reader_datagrams_total{reader=\"$w\"}"); done
    lab_exec v6client taskset -c "${cpus[$i]}" sh -c \
      "for q in 1 2 3 4 5 6 7 8 9 10; do ${DIG[*]} @$LAB_GW6 +short twitter.test AAAA >/dev/null || exit 1; done" || rc=1
    others=0
    for ((w = 0; w < n; w++)); do
      after=$(dns_metric "dns64d_udp_reader_datagrams_total{reader=\"$w\"}")
      if [ "$w" = "$i" ]; then got=$((${after:-0} - ${before[$w]:-0})); else others=$((others + ${after:-0} - ${before[$w]:-0})); fi
    done
    echo "10 queries from CPU ${cpus[$i]}: reader $i read $got, the others $others"
    if [ "$got" -lt 10 ] || [ "$others" -gt 1 ]; then rc=1; fi
  done
  return $rc
}

# A reader with a queue is helped by the idle ones (docs/performance.md,
# "dns64d's UDP readers"): a flood of cached queries sent from one CPU,
# all steered to that CPU's reader, is read by the other readers too, and
# a client on another CPU is answered while it lasts.
t_dns64_readers_help_one_with_a_queue() {
  need_dns64d || return 1
  local cpus helped0 helped1 out rc=0
  mapfile -t cpus < <(dns64_cpus)
  [ "${#cpus[@]}" -ge 2 ] || { echo "one CPU: one reader, nobody to help"; return 0; }
  helped0=$(dns_metric_sum dns64d_udp_reader_helped_total)
  lab_exec v6client taskset -c "${cpus[0]}" "$LAB_PYTHON" "$NETNS_PY/dns_flood.py" "$LAB_GW6" 53 200000 twitter.test >"$LAB_DIR/cached-flood.out" &
  local flood=$!
  sleep 1
  out=$(lab_exec v6client taskset -c "${cpus[1]}" "${DIG[@]}" @"$LAB_GW6" +short twitter.test AAAA)
  expect "answer to another client during the flood" "$out" "64:ff9b::cb00:710a" || rc=1
  wait "$flood"
  helped1=$(dns_metric_sum dns64d_udp_reader_helped_total)
  echo "flood from CPU ${cpus[0]}: $(cat "$LAB_DIR/cached-flood.out"); read by helping readers: $((helped1 - helped0))"
  [ $((helped1 - helped0)) -gt 0 ] || { echo "no reader helped"; rc=1; }
  return $rc
}

t_dns64d_sighup_and_stop() {
  need_dns64d || return 1
  local pid
  pid=$(dns64_pid)
  cp "$LAB_DIR/gateway.toml" "$LAB_DIR/gateway.good"
  echo "not toml" >"$LAB_DIR/gateway.toml"
  kill -HUP "$pid"
  lab_wait 30 grep -q "reload rejected" "$LAB_DIR/dns64d.log" || { echo "bad reload not reported"; return 1; }
  expect "last reload success after a bad file" "$(dns_metric dns64d_last_reload_success)" 0 || return 1
  [ "$(dns_metric dns64d_last_reload_timestamp_seconds)" -gt 0 ] || { echo "no reload time"; return 1; }
  dig_both "A 203.0.113.10" twitter.test A || return 1
  # Let v6client2 in: the new allow_from is in force, the cache kept.
  sed 's|^allow_from = \["2001:db8:1::/64", "::1/128"\]|allow_from = ["2001:db8:1::/64", "2001:db8:3::/64", "::1/128"]|' \
    "$LAB_DIR/gateway.good" >"$LAB_DIR/gateway.toml"
  kill -HUP "$pid"
  lab_wait 30 grep -q "reloaded: .*2001:db8:3::/64.*cache kept" "$LAB_DIR/dns64d.log" || { cat "$LAB_DIR/dns64d.log"; return 1; }
  expect "last reload success" "$(dns_metric dns64d_last_reload_success)" 1 || return 1
  expect "reloads" "$(dns_metric 'dns64d_reloads_total{result="applied"}') $(dns_metric 'dns64d_reloads_total{result="rejected"}')" "1 1" || return 1
  expect "v6client2 after reload" "$(lab_exec v6client2 "${DIG[@]}" "@$LAB_GW6_2" twitter.test AAAA +short)" "64:ff9b::cb00:710a" || return 1
  cp "$LAB_DIR/gateway.good" "$LAB_DIR/gateway.toml"
  kill -TERM "$pid"
  lab_wait 50 sh -c "! kill -0 $pid 2>/dev/null" || { echo "dns64d still runs after SIGTERM"; return 1; }
  grep -qE " INFO dns64d: stopped$" "$LAB_DIR/dns64d.log"
}


# pid_of_conf DAEMON CONF: the pid of DAEMON started with --config CONF.
pid_of_conf() { pgrep -f -- "$1 --config $2" | head -1; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# req D13 under attack: 20 000 unique names in a few seconds with the first
# upstream dead. At most `max_inflight` queries are in flight (the rest are
# dropped unanswered and counted), so tasks, sockets and memory stay
# bounded; the dead upstream's timeouts are logged a few lines a minute, not
# one per question; a client is still answered through the live upstream.
t_dns64_flood_with_a_dead_upstream_is_bounded() {
  need_dns64d || return 1
  local conf=$LAB_DIR/flood.toml pid rss0 rss1 fds=0 n out shed lines rc=0
  sed -e 's/^upstreams = .*/upstreams = ["192.0.2.99:53", "192.0.2.53:53"]/' \
    -e 's/^listen = \["\[2001.*/listen = ["[2001:db8:1::1]:5354"]/' \
    -e 's/^timeout_ms = .*/timeout_ms = 500\nmax_inflight = 200/' \
    -e 's/^listen = "127.0.0.1:9465"/listen = "127.0.0.1:9466"/' "$LAB_DIR/gateway.toml" >"$conf"
  own_sockets "$conf" flood
  lab_bg gw dns64d-flood "$DNS64D" --config "$conf"
  lab_wait 30 dig6 -p 5354 +short ipv4only.arpa A >/dev/null || { cat "$LAB_DIR/dns64d-flood.log"; return 1; }
  pid=$(pid_of_conf "$DNS64D" "$conf")
  rss0=$(rss_kb "$pid")
  lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/dns_flood.py" "$LAB_GW6" 5354 20000 >"$LAB_DIR/flood.out" &
  local flood=$!
  while kill -0 "$flood" 2>/dev/null; do
    n=$(fd_count "$pid")
    [ "$n" -gt "$fds" ] && fds=$n
    sleep 0.2
  done
  wait "$flood"
  rss1=$(rss_kb "$pid")
  out=$(lab_exec gw "${CURL[@]}" "http://127.0.0.1:9466/metrics")
  shed=$(awk '$1 == "dns64d_shed_total" {print $2}' <<<"$out")
  lines=$(wc -l <"$LAB_DIR/dns64d-flood.log")
  echo "$(cat "$LAB_DIR/flood.out"); shed $shed; most descriptors $fds; RSS ${rss0} -> ${rss1} kB; log lines $lines"
  [ "${shed:-0}" -gt 0 ] || { echo "nothing shed"; rc=1; }
  [ "$fds" -le 100 ] || { echo "descriptors: $fds"; rc=1; }
  [ $((rss1 - rss0)) -lt 100000 ] || { echo "memory grew by $((rss1 - rss0)) kB"; rc=1; }
  [ "$lines" -lt 40 ] || { echo "the log grew by $lines lines"; rc=1; }
  expect "answered through the live upstream" "$(dig6 -p 5354 +time=4 twitter.test AAAA +short)" "64:ff9b::cb00:710a" || rc=1
  stop_pid "$pid"
  return $rc
}

# The answer caches are bounded in bytes as well as in answers: a client
# asking for many names whose answers are large (4 KiB each under big.test,
# fetched upstream over TCP) fills a cache of 200 answers' byte bound (200
# KiB) long before its count. The bytes held stay within the bound, the
# evictions for it are counted, and other names are still answered.
t_dns64_cache_bounded_in_bytes() {
  need_dns64d || return 1
  local conf=$LAB_DIR/bytes.toml pid out bytes evicted entries rc=0
  sed -e 's/^listen = \["\[2001.*/listen = ["[2001:db8:1::1]:5355"]/' \
    -e 's/^cache_size = .*/cache_size = 200/' \
    -e 's/^listen = "127.0.0.1:9465"/listen = "127.0.0.1:9467"/' "$LAB_DIR/gateway.toml" >"$conf"
  grep -q '^cache_size = 200$' "$conf" || sed -i 's/^\[dns64\]$/[dns64]\ncache_size = 200/' "$conf"
  own_sockets "$conf" bytes
  lab_bg gw dns64d-bytes "$DNS64D" --config "$conf"
  lab_wait 30 dig6 -p 5355 +short ipv4only.arpa A >/dev/null || { cat "$LAB_DIR/dns64d-bytes.log"; return 1; }
  pid=$(pid_of_conf "$DNS64D" "$conf")
  for ((i = 0; i < 300; i++)); do echo "u$i.big.test TXT"; done >"$LAB_DIR/big-names"
  out=$(dig6 -p 5355 +tcp +time=3 +tries=1 +noall +answer -f "$LAB_DIR/big-names" | awk '$4 == "TXT"' | wc -l)
  echo "TXT records answered: $out (300 names x 20)"
  [ "$out" -ge 5000 ] || { echo "too few answers"; rc=1; }
  out=$(lab_exec gw "${CURL[@]}" "http://127.0.0.1:9467/metrics")
  bytes=$(awk '$1 == "dns64d_cache_bytes{cache=\"upstream\"}" {print $2}' <<<"$out")
  evicted=$(awk '$1 == "dns64d_cache_byte_evictions_total{cache=\"upstream\"}" {print $2}' <<<"$out")
  entries=$(awk '$1 == "dns64d_cache_entries" {print $2}' <<<"$out")
  echo "upstream cache: $entries answers, $bytes bytes (bound 204800), $evicted evicted for the bytes"
  grep '^dns64d_cache_bytes\|^dns64d_cache_byte_evictions' <<<"$out"
  [ -n "$bytes" ] && [ "$bytes" -gt 100000 ] && [ "$bytes" -le 204800 ] || rc=1
  [ "${evicted:-0}" -ge 200 ] || rc=1
  [ "${entries:-999}" -lt 100 ] || rc=1
  expect "another name meanwhile" "$(dig6 -p 5355 twitter.test AAAA +short)" "64:ff9b::cb00:710a" || rc=1
  stop_pid "$pid"
  return $rc
}

idle_holder_gone() { ! pgrep -f -- "$NETNS_PY/idle_clients.py $LAB_GW6 53 40" >/dev/null; }

# TCP bounds: one client's connections beyond `max_tcp_per_client` (16) are
# closed at once; a client outside allow_from is closed at accept; one that
# pipelines queries and never reads its answers is let go; UDP is served
# throughout.
t_dns64_tcp_connections_are_bounded() {
  need_dns64d || return 1
  local closed out rc=0
  lab_bg v6client tcp-idle "$LAB_PYTHON" "$NETNS_PY/idle_clients.py" "$LAB_GW6" 53 40 3
  lab_wait 50 grep -q "^closed by the server" "$LAB_DIR/tcp-idle.log" || { cat "$LAB_DIR/tcp-idle.log"; return 1; }
  closed=$(awk '/^closed by the server/ {print $5}' "$LAB_DIR/tcp-idle.log")
  expect "connections of one client closed beyond 16" "$closed" 24 || rc=1
  expect "UDP meanwhile" "$(dig6 twitter.test AAAA +short)" "64:ff9b::cb00:710a" || rc=1
  out=$(lab_exec v6client2 "$LAB_PYTHON" "$NETNS_PY/idle_clients.py" "$LAB_GW6_2" 53 1 1 | tail -1)
  expect "a client outside allow_from" "$out" "closed by the server 1" || rc=1
  # The idle connections are gone when their holder exits (after 3 s).
  lab_wait 50 idle_holder_gone || rc=1
  out=$(lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/tcp_pipeline_noread.py" "$LAB_GW6" 53 many.test 3000 30)
  echo "pipelining client: $out"
  case $out in "closed after "[5-9]" s" | "closed after "[1-2][0-9]" s") ;; *) rc=1 ;; esac
  out=$(lab_exec gw "${CURL[@]}" "http://$DNS64_METRICS/metrics" | grep '^dns64d_tcp_connections_closed_total')
  echo "$out"
  grep -q 'reason="client_full"} [1-9]' <<<"$out" && grep -q 'reason="not_allowed"} [1-9]' <<<"$out" &&
    grep -q 'reason="timeout"} [1-9]' <<<"$out" || rc=1
  return $rc
}

# 20 000 mutated DNS datagrams (seeded): dns64d stays up, each is answered
# or counted (FORMERR, REFUSED, dropped), memory stays bounded, and a real
# client is answered afterwards, over UDP and TCP.
t_dns64_fuzzed_datagrams_survived() {
  need_dns64d || return 1
  local pid rss0 rss1 out rc=0
  pid=$(dns64_pid)
  rss0=$(rss_kb "$pid")
  out=$(lab_exec v6client "$LAB_PYTHON" "$NETNS_PY/dns_fuzz.py" "$LAB_GW6" 53 20000) || rc=1
  rss1=$(rss_kb "$pid")
  echo "$out; RSS $rss0 -> $rss1 kB"
  [ "$(dns64_pid)" = "$pid" ] || { echo "dns64d died or restarted"; return 1; }
  [ $((rss1 - rss0)) -lt 100000 ] || { echo "memory grew by $((rss1 - rss0)) kB"; rc=1; }
  dig_both "AAAA 64:ff9b::cb00:710a" twitter.test AAAA || rc=1
  lab_exec gw "${CURL[@]}" "http://$DNS64_METRICS/metrics" | grep -E '^dns64d_(dropped_total|shed_total|queries_total\{outcome="formerr")' || true
  return $rc
}

# RFC 6147 §5.3.2: a synthesised answer carries the authority and additional
# sections of the A response it was made from (NSD, authoritative, gives
# the zone's NS and their addresses); the additional section passes
# unchanged, its A records not synthesised into AAAA.
t_dns64_synthesis_keeps_the_a_responses_authority_and_additional() {
  need_dns64d || return 1
  local sections='+noall +authority +additional +nottlid +noclass'
  local want got
  # shellcheck disable=SC2086
  want=$(lab_exec v4server dig +time=2 +tries=1 +norec $sections "@$LAB_DNS4" twitter.test A | grep -v '^;' | grep -v OPT | sort)
  # shellcheck disable=SC2086
  got=$(dig6 $sections twitter.test AAAA | grep -v '^;' | grep -v OPT | sort)
  echo "A response's authority and additional:"; echo "$want"
  [ -n "$want" ] || { echo "NSD gave neither: nothing to compare"; return 1; }
  expect "synthesised answer's authority and additional" "$got" "$want"
}

# RFC 2308 §5: a NODATA or NXDOMAIN answer without an SOA "SHOULD NOT be
# cached". A second dns64d instance asks an upstream that answers
# everything without SOA (tests/netns/py/dns_nosoa_upstream.py on
# v4server): the same AAAA question asked twice reaches the upstream twice,
# for NODATA and for NXDOMAIN.
t_dns64_rfc2308_negative_answers_without_soa_are_not_cached() {
  need_dns64d || return 1
  local conf="$LAB_DIR/nosoa.toml" rc=0 name n
  lab_bg v4server nosoa-upstream "$LAB_PYTHON" "$NETNS_PY/dns_nosoa_upstream.py" "$LAB_V4SERVER" 5300 30
  lab_wait 50 grep -q '^ready$' "$LAB_DIR/nosoa-upstream.log" || { echo "the upstream did not start"; return 1; }
  sed -e "s/^upstreams = .*/upstreams = [\"$LAB_V4SERVER:5300\"]/" \
    -e 's/^listen = \["\[2001.*/listen = ["[2001:db8:1::1]:5355"]/' \
    -e '/^\[dns64.metrics\]/,$d' "$LAB_DIR/gateway.toml" >"$conf"
  own_sockets "$conf" nosoa
  lab_bg gw dns64d-nosoa "$DNS64D" --config "$conf"
  lab_wait 30 dig6 -p 5355 +short ipv4only.arpa A >/dev/null || { cat "$LAB_DIR/dns64d-nosoa.log"; return 1; }
  for name in nodata.nosoa.test nx.nosoa.test; do
    dig6 -p 5355 "$name" AAAA >/dev/null
    dig6 -p 5355 "$name" AAAA >/dev/null
    n=$(grep -c "^$name 28\$" "$LAB_DIR/nosoa-upstream.log")
    echo "$name AAAA asked twice: the upstream saw it $n times"
    expect "$name AAAA at the upstream" "$n" 2 || rc=1
  done
  return $rc
}

# RFC 6147 §6.3.3: DNS64 for some clients only. A second dns64d serves both
# clients but synthesises for v6client's /64 only (`synthesize_for`), with
# `a_query = "after_aaaa"`: v6client gets the synthesised AAAA of
# twitter.test, v6client2 the upstream's answer (no AAAA), twice each (the
# second from the fast path, keyed apart); both get dual.test's real AAAA.
t_dns64_rfc6147_synthesis_for_some_clients_only() {
  need_dns64d || return 1
  local conf="$LAB_DIR/somefor.toml" rc=0 round
  sed -e 's/^listen = \["\[2001.*/listen = ["[2001:db8:1::1]:5356", "[2001:db8:3::1]:5356"]/' \
    -e 's/^allow_from = \["2001:db8:1::\/64", "::1\/128"\]/allow_from = ["2001:db8:1::\/64", "2001:db8:3::\/64", "::1\/128"]\nsynthesize_for = ["2001:db8:1::\/64", "::1\/128"]\na_query = "after_aaaa"/' \
    -e '/^\[dns64.metrics\]/,$d' "$LAB_DIR/gateway.toml" >"$conf"
  grep -q '^synthesize_for' "$conf" || { echo "the file was not rewritten:"; cat "$conf"; return 1; }
  own_sockets "$conf" somefor
  lab_bg gw dns64d-somefor "$DNS64D" --config "$conf"
  lab_wait 30 dig6 -p 5356 +short ipv4only.arpa A >/dev/null || { cat "$LAB_DIR/dns64d-somefor.log"; return 1; }
  for round in 1 2; do
    expect "v6client, round $round" "$(dig6 -p 5356 +short twitter.test AAAA)" "64:ff9b::cb00:710a" || rc=1
    expect "v6client2, round $round" "$(lab_exec v6client2 "${DIG[@]}" -p 5356 "@$LAB_GW6_2" +short twitter.test AAAA)" "" || rc=1
    expect "v6client2's real AAAA, round $round" "$(lab_exec v6client2 "${DIG[@]}" -p 5356 "@$LAB_GW6_2" +short dual.test AAAA)" 2001:db8:2::12 || rc=1
    expect "v6client's real AAAA, round $round" "$(dig6 -p 5356 +short dual.test AAAA)" 2001:db8:2::12 || rc=1
  done
  return $rc
}
