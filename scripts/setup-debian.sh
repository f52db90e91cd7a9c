#!/bin/sh
# setup-debian.sh — install what vdmzip needs on Debian 12, only what is missing.
#   scripts/setup-debian.sh          build + test dependencies
#   scripts/setup-debian.sh --bench  also the peer codecs and gnuplot for benchmarks/
# Idempotent and silent when everything is present.  Uses sudo when not root.
set -eu
PKGS="build-essential cmake pkg-config libpng-dev libzstd-dev libssl-dev libcriterion-dev libopenblas-dev"
if [ "${1:-}" = "--bench" ]; then
  PKGS="$PKGS optipng webp libjxl-tools gnuplot-nox time"
fi
missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "setup-debian: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
