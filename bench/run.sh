#!/bin/sh
# facturo benchmarks (not tests): prints the figures of
# ../shared/BENCH.md that exist so far.  Limits first, measured in this run:
#   RSA-2048 signing (openssl speed, 1 core and -multi 2), a trivial
#   libmicrohttpd handler with facturo's flags under wrk -t2 -c64 -d10s,
#   SQLite WAL synchronous=FULL one-row commits per second;
# then M1: POST /v1/tickets per second (wrk + bench/tickets.lua, unique
# folios, answered only after commit) and GET of one ticket per second,
# each as a ratio to the limits; then every bench_* program other modules
# add to bench/meson.build that is built (bench_cadena, bench_issue,
# bench_pdf, bench_mail).  Medians of 3 runs where cheap.
#   bench/run.sh [BUILD_DIR]        (default: build)
#   BENCH_DURATION=10 BENCH_RUNS=3  wrk seconds per run, runs per figure
#   BENCH_THREADS=64                facturo serve --threads for M1
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
bdir=${1:-build}
case $bdir in /*) ;; *) bdir="$top/$bdir" ;; esac
dur=${BENCH_DURATION:-10}
runs=${BENCH_RUNS:-3}
bin="$bdir/facturo"
[ -x "$bin" ] || { echo "bench: build first (ninja -C $bdir)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/facturo-bench.XXXXXX)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else print a[int((NR+1)/2)]}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  i=0
  while ! python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do
    i=$((i+1)); [ $i -gt 100 ] && { echo "bench: nothing listens on $1" >&2; exit 1; }
    sleep 0.1
  done
}
# wrk_rate ARGS... -> prints "rate p99_ms non2xx"
wrk_rate() {
  wrk --latency "$@" >"$tmp/wrk.out" 2>&1 || true
  rate=$(awk '/^Requests\/sec:/ {print int($2)}' "$tmp/wrk.out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$tmp/wrk.out")
  bad=$(awk '/Non-2xx/ {print $5}' "$tmp/wrk.out")
  echo "${rate:-0} ${p99:-0} ${bad:-0}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f %%", 100*a/b; else print "n/a" }'; }

echo "facturo bench — $(date -u +%Y-%m-%dT%H:%M:%SZ) — $(nproc) cores — wrk ${dur}s x $runs"
echo
echo "== limits (same run)"
rsa1=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print int($6)}')
rsa2=$(openssl speed -seconds 3 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print int($6)}')
echo "RSA-2048 sign/s, 1 core:                 ${rsa1:-?}"
echo "RSA-2048 sign/s, 2 processes:            ${rsa2:-?}"

port=$(free_port)
"$bdir/bench/bench_http_trivial" "$port" 4 & tp=$!; pids="$pids $tp"
wait_port "$port"
: >"$tmp/triv"
for i in $(seq "$runs"); do wrk_rate -t2 -c64 -d"${dur}s" "http://127.0.0.1:$port/" | cut -d' ' -f1 >>"$tmp/triv"; done
kill "$tp"; wait "$tp" 2>/dev/null || true
trivial=$(median <"$tmp/triv")
echo "trivial MHD handler req/s (wrk -t2 -c64): $trivial"

: >"$tmp/commit"
for i in $(seq "$runs"); do
  rm -f "$tmp/c.db"*; "$bdir/bench/bench_commit" "$tmp/c.db" 2000 | awk '{print int($2)}' >>"$tmp/commit"
done
commit=$(median <"$tmp/commit")
echo "SQLite WAL FULL one-row commits/s:       $commit"
limit=$(( trivial < commit ? trivial : commit ))
echo

echo "== M1: POS tickets over HTTP (SQLite, durable: answered after commit)"
db="sqlite:$tmp/m1.db"
"$bin" migrate --db "$db" >/dev/null
"$bin" tenant create --db "$db" --slug bench --rfc EKU9003173C9 --name "Bench SA" \
  --regime 601 --zip 06000 >/dev/null
FACTURO_BENCH_KEY=$("$bin" apikey create --db "$db" --tenant bench)
export FACTURO_BENCH_KEY
port=$(free_port)
"$bin" serve --db "$db" --listen "127.0.0.1:$port" --rate-limit 0 --threads "${BENCH_THREADS:-64}" \
  --log-level warn 2>"$tmp/serve.log" & sp=$!; pids="$pids $sp"
wait_port "$port"
: >"$tmp/post"
for i in $(seq "$runs"); do wrk_rate -t2 -c64 -d"${dur}s" -s bench/tickets.lua "http://127.0.0.1:$port" >>"$tmp/post"; done
post=$(cut -d' ' -f1 "$tmp/post" | median)
postp99=$(cut -d' ' -f2 "$tmp/post" | median)
postbad=$(awk '{s+=$3} END {print s+0}' "$tmp/post")
FACTURO_BENCH_TICKET=$(curl -s -H "Authorization: Bearer $FACTURO_BENCH_KEY" \
  "http://127.0.0.1:$port/v1/tickets?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
export FACTURO_BENCH_TICKET
: >"$tmp/get"
for i in $(seq "$runs"); do wrk_rate -t2 -c64 -d"${dur}s" -s bench/get.lua "http://127.0.0.1:$port" >>"$tmp/get"; done
get=$(cut -d' ' -f1 "$tmp/get" | median)
getp99=$(cut -d' ' -f2 "$tmp/get" | median)
stored=$(curl -s "http://127.0.0.1:$port/metrics" | awk -F'} ' '/requests_total\{method="POST",route="\/v1\/tickets",status="201"\}/ {print $2}')
kill "$sp"; wait "$sp" 2>/dev/null || true
echo "POST /v1/tickets/s:                      $post  (p99 ${postp99} ms; non-201: $postbad; 201s: ${stored:-?})"
echo "   each run (tickets stored grow):         $(cut -d' ' -f1 "$tmp/post" | tr '\n' ' ')"
echo "   ratio to min(trivial, commit) = $limit: $(ratio "$post" "$limit")   (target >= 50 %)"
echo "   ratio to trivial handler:               $(ratio "$post" "$trivial")"
echo "   ratio to one-row commits:               $(ratio "$post" "$commit")"
echo "GET /v1/tickets/{id}/s:                  $get  (p99 ${getp99} ms)"
echo "   ratio to trivial handler:               $(ratio "$get" "$trivial")"
echo

echo "== other modules' benchmarks (those built)"
for b in bench_cadena bench_issue bench_pdf bench_mail; do
  if [ -x "$bdir/bench/$b" ]; then
    echo "-- $b"
    (cd "$top" && "$bdir/bench/$b") 2>&1 | sed 's/^/   /' || echo "   ($b failed)"
  else
    echo "-- $b: not built"
  fi
done
