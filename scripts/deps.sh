#!/bin/sh
# Installs what facturo needs to build, run and test, from Debian 12's packages.
# Idempotent: packages already present are skipped quickly.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh --test   also the test-suite services and tools
set -eu
cd "$(dirname "$0")/.."

BUILD="build-essential pkg-config meson ninja-build
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev
  libxml2-dev libxslt1-dev libssl-dev libcurl4-openssl-dev libsodium-dev
  libhpdf-dev libqrencode-dev libpng-dev fonts-dejavu-core openssl ca-certificates tzdata"
TEST="libcmocka-dev clang libclang-rt-14-dev postgresql python3 python3-aiosmtpd
  xsltproc libxml2-utils poppler-utils zbar-tools wrk sqlite3 chromium"

want="$BUILD"
[ "${1:-}" = "--test" ] && want="$BUILD $TEST"

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ -n "$missing" ]; then
  echo "deps: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null || true
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Browser tests drive Debian's Chromium with playwright-core from npm
# (pinned in tests/browser/package-lock.json; never downloads a browser).
if [ "${1:-}" = "--test" ]; then
  command -v node >/dev/null 2>&1 || $SUDO apt-get install -y -qq nodejs npm >/dev/null
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
