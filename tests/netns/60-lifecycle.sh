# shellcheck shell=bash
# The lab's own life cycle: a second lab comes up beside the first and goes
# down leaving nothing of its own behind; lab_up refuses to touch a namespace
# it did not create. Every check looks only at names and files this run made,
# so the suite passes while other labs come and go on the same machine.

# A second lab (its own suffix) beside this run's: up, checked, down, gone.
t_lab_second_cycle_leaves_nothing() {
  (
    trap lab_down EXIT
    LAB_ID=cycle-$$-$RANDOM
    LAB_CREATED=()
    lab_up || { echo "the second lab did not come up"; exit 1; }
    t_ipv6_client_reaches_gw && t_nsd_ipv4_only_names || exit 1
    local names=("${LAB_CREATED[@]}") dir=$LAB_DIR
    [ ${#names[@]} -eq ${#LAB_ROLES[@]} ] || { echo "created: ${names[*]}"; exit 1; }
    lab_down
    trap - EXIT
    lab_gone "$dir" "${names[@]}"
  )
}

t_lab_refuses_to_clobber_foreign_namespaces() {
  local id="clobber-$$-$RANDOM" status role created=()
  ip netns add "gw-$id" || return 1
  (
    trap lab_down EXIT
    LAB_ID=$id
    LAB_CREATED=()
    lab_up 2>&1
  )
  status=$?
  [ "$status" -ne 0 ] || echo "lab_up started although gw-$id existed"
  local survived=no
  [ -e "/run/netns/gw-$id" ] && survived=yes
  for role in v6client v6client2 v4server; do
    [ -e "/run/netns/$role-$id" ] && created+=("$role-$id") && ip netns del "$role-$id"
  done
  ip netns del "gw-$id" 2>/dev/null
  expect "foreign namespace kept" "$survived" "yes" && expect "namespaces created" "${created[*]}" "" &&
    [ "$status" -ne 0 ]
}
