#!/usr/bin/env bash
# Runs every test of nat64gw: the unit, property and integration tests of the
# whole workspace (including each benchmark once, as a smoke test), then the
# namespace end-to-end suite, which needs root (it is run through sudo when
# this script is not root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== cargo test (workspace)"
cargo test --workspace --all-targets
cargo test --workspace --doc

echo "== namespace end-to-end suite"
if [ "$(id -u)" -eq 0 ]; then
  scripts/netns-test.sh
elif command -v sudo >/dev/null 2>&1; then
  sudo --preserve-env=PATH scripts/netns-test.sh
else
  echo "test.sh: scripts/netns-test.sh needs root and sudo is not installed; run it as root" >&2
  exit 1
fi
