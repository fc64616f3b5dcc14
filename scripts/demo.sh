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
cat >&2 <<'EOF2'

facturo demo: the shoppers' portal is http://127.0.0.1:8080/demo/
  http://127.0.0.1:8080/demo/t/KEY opens it with the ticket of that key found;
  the API key was printed above the first time; another one:
  build/facturo apikey create --db sqlite:facturo.db --tenant demo
  Stop with Ctrl-C.  README.md has a tour.

EOF2
exec ./build/facturo serve --db sqlite:facturo.db --listen 127.0.0.1:8080
