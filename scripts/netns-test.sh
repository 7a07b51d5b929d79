#!/usr/bin/env bash
# The end-to-end suite of nat64gw, run in network namespaces (needs root).
#
# The cases live in tests/netns/: one file per topic (NN-topic.sh), each case
# a function `t_NAME`, Python clients in tests/netns/py/. This runner brings
# up one lab (scripts/netns.sh) with a per-run suffix, discovers the cases in
# file order, runs all of them or those whose name matches one of the
# FILTERs (extended regular expressions), tears the lab down and checks that
# nothing of this run's is left. Each case starts what it needs itself (the
# `need_*` functions of tests/netns/lib.sh), so any subset runs on its own.
# Each case prints PASS/FAIL with its name, its output shown on failure; the
# last line is "netns: N passed, M failed"; the exit status is non-zero on
# any failure.
#
# Usage: sudo scripts/netns-test.sh [--list] [FILTER...]
#   e.g. sudo scripts/netns-test.sh dns64_       (the DNS64 cases)
#        sudo scripts/netns-test.sh '^nat64_udp'  NAT64_OFFLOAD=false ...
#   NETNS_VERBOSE=1 shows every case's output, passed ones too (figures).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
NETNS_DIR=$ROOT/tests/netns
# shellcheck source=scripts/netns.sh
. "$HERE/netns.sh"
# shellcheck source=tests/netns/lib.sh
. "$NETNS_DIR/lib.sh"

# Every case file, in name order; the cases of each in the order written.
CASE_FILES=("$NETNS_DIR"/[0-9][0-9]-*.sh)
for f in "${CASE_FILES[@]}"; do
  # shellcheck source=/dev/null
  . "$f"
done
ALL_CASES=()
for f in "${CASE_FILES[@]}"; do
  mapfile -t -O "${#ALL_CASES[@]}" ALL_CASES < <(sed -n 's/^t_\([a-z0-9_]*\)() {$/\1/p' "$f")
done

LIST=0
FILTERS=()
for arg in "$@"; do
  case $arg in
    --list) LIST=1 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "netns-test.sh: unknown option $arg (--list, FILTER...)" >&2; exit 2 ;;
    *) FILTERS+=("$arg") ;;
  esac
done

selected() {
  local f
  [ ${#FILTERS[@]} -eq 0 ] && return 0
  for f in "${FILTERS[@]}"; do
    [[ $1 =~ $f ]] && return 0
  done
  return 1
}
CASES=()
for c in "${ALL_CASES[@]}"; do
  selected "$c" && CASES+=("$c")
done
if [ "$LIST" -eq 1 ]; then
  printf '%s\n' "${CASES[@]}"
  exit 0
fi
if [ ${#CASES[@]} -eq 0 ]; then
  echo "netns-test.sh: no case matches ${FILTERS[*]} (--list shows them)" >&2
  exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "netns-test.sh: network namespaces need root; run: sudo $0 $*" >&2
  exit 2
fi
missing=()
for tool in ip nsd nsd-checkconf nsd-checkzone dig curl openssl ping traceroute timeout sha256sum setpriv "$LAB_PYTHON"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "netns-test.sh: missing tools: ${missing[*]}" >&2
  echo "  install them with: apt-get install $(grep -v '^#' "$HERE/packages.txt" | tr '\n' ' ')" >&2
  exit 2
fi

PASSED=0
FAILED=0
FAILED_NAMES=()
CHECK_OUT=$(mktemp /tmp/nat64gw-netns-test.XXXXXX)

# check NAME FUNCTION...: runs one case in this shell (so it may change the
# lab's state), its output captured and shown on failure.
check() {
  local name=$1 out
  shift
  if "$@" >"$CHECK_OUT" 2>&1; then
    PASSED=$((PASSED + 1))
    printf 'PASS %s\n' "$name"
    if [ -n "${NETNS_VERBOSE:-}" ]; then
      out=$(cat "$CHECK_OUT")
      [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /'
    fi
  else
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    printf 'FAIL %s\n' "$name"
    out=$(cat "$CHECK_OUT")
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /'
  fi
  return 0
}

trap 'lab_down; rm -f "$CHECK_OUT"' EXIT
trap 'exit 130' INT TERM

echo "== lab up (nat64d offload = $NAT64_OFFLOAD; ${#CASES[@]} of ${#ALL_CASES[@]} cases)"
lab_up_checked() {
  lab_up || { echo "the lab did not come up"; return 1; }
  [ ${#LAB_CREATED[@]} -eq ${#LAB_ROLES[@]} ]
}
check lab_comes_up lab_up_checked
if [ ${#LAB_CREATED[@]} -eq ${#LAB_ROLES[@]} ]; then
  topic=
  for c in "${CASES[@]}"; do
    for f in "${CASE_FILES[@]}"; do
      if grep -q "^t_$c() {" "$f"; then
        t=$(basename "$f" .sh)
        [ "$t" = "$topic" ] || echo "== ${t#[0-9][0-9]-}"
        topic=$t
        break
      fi
    done
    check "$c" "t_$c"
  done
fi
MAIN_NS=("${LAB_CREATED[@]}")
MAIN_DIR=$LAB_DIR
lab_down
echo "== lab down"
check lab_teardown_leaves_nothing lab_gone "$MAIN_DIR" "${MAIN_NS[@]}"

echo
[ "$FAILED" -gt 0 ] && echo "failed: ${FAILED_NAMES[*]}"
echo "netns: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
