#!/usr/bin/env bash
# Runs every test of nat64gw: the unit, property and integration tests of the
# whole workspace (including each benchmark once, as a smoke test), then the
# namespace end-to-end suite (tests/netns/, scripts/netns-test.sh), twice:
# nat64d's TUN offload on and off, then the multi-gateway lab
# (scripts/scale-out-test.sh: BGP, ECMP, failover) once. The suite needs root (it is run through
# sudo when this script is not root). Both passes run and are reported even
# when the first fails; the exit status is non-zero if anything failed.
#
# Usage: scripts/test.sh [FILTER...]   (FILTERs go to scripts/netns-test.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== cargo test (workspace)"
cargo test --workspace --all-targets
cargo test --workspace --doc
# The suite runs the debug binaries cargo test built.
cargo build --workspace --bins

declare -A result=()
for offload in true false; do
  echo "== namespace end-to-end suite, nat64d offload = $offload"
  if [ "$(id -u)" -eq 0 ]; then
    run=(env "NAT64_OFFLOAD=$offload" scripts/netns-test.sh "$@")
  elif command -v sudo >/dev/null 2>&1; then
    run=(sudo --preserve-env=PATH "NAT64_OFFLOAD=$offload" scripts/netns-test.sh "$@")
  else
    echo "test.sh: scripts/netns-test.sh needs root and sudo is not installed; run it as root" >&2
    exit 1
  fi
  if "${run[@]}" | tee /tmp/nat64gw-test-netns.$$; then
    result[$offload]=ok
  else
    result[$offload]=FAILED
  fi
  result[$offload]+=" ($(grep '^netns: ' /tmp/nat64gw-test-netns.$$ | tail -1))"
  rm -f /tmp/nat64gw-test-netns.$$
done
echo "== multi-gateway lab (scripts/scale-out-test.sh)"
if [ "$(id -u)" -eq 0 ]; then
  scale=(scripts/scale-out-test.sh)
else
  scale=(sudo --preserve-env=PATH scripts/scale-out-test.sh)
fi
if "${scale[@]}"; then result[scale]=ok; else result[scale]=FAILED; fi
echo "== end-to-end suite: offload on: ${result[true]}; offload off: ${result[false]}; multi-gateway lab: ${result[scale]}"
[[ ${result[true]} == ok* && ${result[false]} == ok* && ${result[scale]} == ok ]]
