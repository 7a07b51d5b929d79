# shellcheck shell=bash
# ---- deployment: the systemd units' commands, as their unprivileged user ----

# unit_value UNIT KEY: the value of KEY= in examples/systemd/UNIT.
unit_value() { sed -n "s/^$2=//p" "$ROOT/examples/systemd/$1" | head -1; }

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
  if grep -q '^DeviceAllow=/dev/net/tun' "$ROOT/examples/systemd/$unit" &&
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
  # The units' daemons use the lab daemons' TUN, ports and addresses.
  if ! stop_pid "$(nat64_pid)" || ! stop_pid "$(dns64_pid)"; then
    echo "the lab's daemons did not stop"
    return 1
  fi
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
  nat64_config
  # The control sockets in directories the service user owns, as the
  # units' RuntimeDirectory= makes them.
  mkdir -p "$LAB_DIR/run-nat64d" "$LAB_DIR/run-dns64d"
  chown "$uid:$uid" "$LAB_DIR/run-nat64d" "$LAB_DIR/run-dns64d"
  chmod 0750 "$LAB_DIR/run-nat64d" "$LAB_DIR/run-dns64d"
  sed -e "s|^mapping_log = .*|mapping_log = \"$LAB_DIR/log-nat64d/mappings.log\"|" \
    -e "s|^socket = \".*/nat64d.sock\"|socket = \"$LAB_DIR/run-nat64d/control.sock\"|" \
    -e "s|^socket = \".*/dns64d.sock\"|socket = \"$LAB_DIR/run-dns64d/control.sock\"|" \
    "$LAB_DIR/gateway.toml" >"$DEPLOY_ETC/gateway.toml"
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
  lab_wait 20 grep -q " created tcp 2001:db8:1::2#" "$LAB_DIR/log-nat64d/mappings.log" || { echo "no mapping logged"; rc=1; }
  # The unit's capabilities suffice to steer packets by arrival CPU.
  if grep -q "workers pinned to CPUs" "$LAB_DIR/nat64d-unit.log"; then
    grep -q "queue by arrival CPU" "$LAB_DIR/nat64d-unit.log" ||
      { echo "the unit's nat64d could not steer:"; grep -E "WARN|translating on" "$LAB_DIR/nat64d-unit.log"; rc=1; }
  fi
  # As the unit's user, nat64d's workers still get their short slice.
  if custom_slices; then
    all_short "$(thread_slices "$(pgrep -f -- "$NAT64D --config $DEPLOY_ETC")" '^worker-')" ||
      { echo "the unit's nat64d workers run without the short slice"; rc=1; }
  fi
  expect "mapping log owner" "$(stat -c %u "$LAB_DIR/log-nat64d/mappings.log")" "$uid" || rc=1
  # The control sockets: the service user's, mode 0660; root's nat64gw
  # reaches both daemons.
  expect "nat64d's socket" "$(stat -c '%u %a' "$LAB_DIR/run-nat64d/control.sock")" "$uid 660" || rc=1
  "$NAT64GW" --config "$DEPLOY_ETC/gateway.toml" status >"$LAB_DIR/deploy-status.txt" ||
    { echo "nat64gw status failed"; cat "$LAB_DIR/deploy-status.txt"; rc=1; }
  expect "daemons answering" "$(grep -c '^daemon: ' "$LAB_DIR/deploy-status.txt")" 2 || rc=1
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
  grep -qE " INFO nat64d::shell::start: stopped$" "$LAB_DIR/nat64d-unit.log" || { tail -n 5 "$LAB_DIR/nat64d-unit.log"; rc=1; }
  expect "routes removed by the unprivileged nat64d" "$(lab_exec gw ip -6 route show 64:ff9b::/96)" "" || rc=1
  return $rc
}

