#!/bin/sh
# The whole test suite.  Installs what it needs, builds facturo three ways
# (plain; AddressSanitizer + UBSan; libFuzzer with clang), starts a private
# PostgreSQL and runs every suite.  Ends with one line: "N passed, N failed".
#   scripts/test.sh              everything
#   scripts/test.sh --quick      plain build only (no sanitizer or fuzz pass)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

./scripts/deps.sh --test

pgdir=$(mktemp -d /tmp/facturo-pg.XXXXXX)
trap './scripts/pg.sh stop "$pgdir"' EXIT INT TERM
FACTURO_TEST_PG=$(./scripts/pg.sh start "$pgdir")
export FACTURO_TEST_PG
export FACTURO_REQUIRE_PG=1

status=0
run_suite() { # builddir, meson-setup-args..., then -- meson-test-args...
  bdir=$1; shift
  setup=""; while [ "$1" != "--" ]; do setup="$setup $1"; shift; done; shift
  if [ ! -f "$bdir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$bdir" $setup >/dev/null
  fi
  ninja -C "$bdir" >"$bdir.log" 2>&1 || { cat "$bdir.log"; echo "build failed: $bdir"; status=1; return 0; }
  meson test -C "$bdir" --print-errorlogs "$@" || status=1
}

run_suite build -- --num-processes 2
if [ $quick -eq 0 ]; then
  run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -- \
    --suite unit --suite cfdi --suite api --suite store --suite pdf --suite mail --num-processes 2
  CC=clang run_suite build-fuzz -Dfuzz=true -Db_lundef=false -- --suite fuzz --num-processes 2
fi

python3 "$top/scripts/summary.py" build build-asan build-fuzz || status=1
exit $status
