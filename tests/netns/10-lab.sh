# shellcheck shell=bash
# The lab itself, before any daemon: the addressing the design says
# (IPv6-only clients, an IPv4-only server, no default route anywhere,
# documentation ranges only) and the IPv4 services answering (NSD, HTTP,
# HTTPS with the lab CA, UDP echo).

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
    json_sha256)
  expect "upload sha256" "$got" "$want" || return 1
  want=$("$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --stream-sha256 5000000)
  got=$(lab_exec gw "${CURL[@]}" --resolve "twitter.test:80:${LAB_HOSTS[twitter.test]}" \
    http://twitter.test/bytes/5000000 | sha256sum | awk '{print $1}')
  expect "download sha256" "$got" "$want"
}

t_udp_echo() {
  lab_exec gw "$LAB_PYTHON" "$NETNS_PY/udp_exchange.py" "${LAB_HOSTS[twitter.test]}"
}

t_services_answer_inside_v4server() {
  lab_exec v4server "$LAB_PYTHON" "$LAB_SCRIPTS/lab-services.py" --probe &&
    expect "GET inside v4server" "$(lab_exec v4server "${CURL[@]}" "http://${LAB_HOSTS[dual.test]}/")" \
      "hello from ${LAB_HOSTS[dual.test]} to ${LAB_HOSTS[dual.test]}"
}

