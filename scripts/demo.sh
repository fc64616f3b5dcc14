#!/bin/sh
# Builds facturo and runs it on its embedded default: an SQLite file
# (./facturo.db), a demo merchant with SAT's public test certificate,
# sample tickets and the sandbox stamping provider, on http://127.0.0.1:8080
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
./build/facturo migrate --db sqlite:facturo.db
./build/facturo demo --db sqlite:facturo.db
exec ./build/facturo serve --db sqlite:facturo.db --listen 127.0.0.1:8080
