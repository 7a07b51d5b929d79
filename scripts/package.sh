#!/usr/bin/env bash
# Builds the Debian package of nat64gw (docs/deploy.md, "Install"): the
# release binaries, their man pages (made by each binary from its command
# line definition), then `cargo deb`, which strips the binaries. Checks
# the result: the files it must hold, stripped binaries. Needs cargo-deb
# (`cargo install --locked cargo-deb`). Prints the package's path.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release -p nat64d -p dns64d -p nat64gw-ctl
mkdir -p target/package/man
for b in nat64d dns64d; do
  "target/release/$b" --man | gzip -9n >"target/package/man/$b.8.gz"
done
target/release/nat64gw man | gzip -9n >target/package/man/nat64gw.8.gz
deb=$(cargo deb -p nat64gw --no-build --strip 2>&1 | tail -n 1)
[ -f "$deb" ] || { echo "package.sh: cargo deb did not make a package: $deb" >&2; exit 1; }
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
dpkg-deb -x "$deb" "$check"
for f in usr/bin/nat64d usr/bin/dns64d usr/bin/nat64gw \
  usr/share/man/man8/nat64d.8.gz usr/share/man/man8/dns64d.8.gz usr/share/man/man8/nat64gw.8.gz \
  etc/nat64gw/gateway.toml etc/logrotate.d/nat64d usr/lib/sysctl.d/90-nat64gw.conf \
  usr/lib/tmpfiles.d/nat64gw.conf lib/systemd/system/nat64d.service lib/systemd/system/dns64d.service; do
  [ -e "$check/$f" ] || { echo "package.sh: $deb lacks /$f" >&2; exit 1; }
done
for b in nat64d dns64d nat64gw; do
  if readelf -S "$check/usr/bin/$b" | grep -qE '\.(debug_info|symtab) '; then
    echo "package.sh: /usr/bin/$b is not stripped" >&2
    exit 1
  fi
done
echo "$deb"
