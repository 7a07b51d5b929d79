#!/usr/bin/env bash
# Runs every test of nat64gw: the unit, property and integration tests of the
# whole workspace (including each benchmark once, as a smoke test), then the
# namespace end-to-end suite, twice (nat64d's TUN offload on and off), which
# needs root (it is run through sudo when this script is not root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== cargo test (workspace)"
cargo test --workspace --all-targets
cargo test --workspace --doc

# The suite runs twice: nat64d with the TUN's segmentation/checksum offload
# (the default) and without it (the fallback path).
for offload in true false; do
  echo "== namespace end-to-end suite, nat64d offload = $offload"
  if [ "$(id -u)" -eq 0 ]; then
    NAT64_OFFLOAD=$offload scripts/netns-test.sh
  elif command -v sudo >/dev/null 2>&1; then
    sudo --preserve-env=PATH NAT64_OFFLOAD=$offload scripts/netns-test.sh
  else
    echo "test.sh: scripts/netns-test.sh needs root and sudo is not installed; run it as root" >&2
    exit 1
  fi
done
