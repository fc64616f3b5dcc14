#!/bin/sh
# facturo benchmarks (not tests): prints the figures of BENCH.md (the
# workload, see docs/benchmarks.md) that exist so far, each beside a limit
# measured in this same run, and ends with one summary table.
#
# Limits first:
#   RSA-2048 signing (openssl speed, 1 core and -multi 2), a trivial
#   libmicrohttpd handler with facturo's flags under wrk -t2 -c64 -d10s,
#   SQLite WAL synchronous=FULL one-row commits per second.  Commits are
#   sampled again before every M1 and M2 run and 2-process RSA before every
#   M2 run; those figures use the medians of their own samples.
# Then, against one `facturo serve` on SQLite (durable: every answer is sent
# after its transaction is on disk):
#   M1  POST /v1/tickets per second (bench/tickets.lua, unique folios) and
#       GET of one ticket;
#   M2  POST /v1/tickets/{id}/invoice per second (bench/invoice.lua): the
#       cashier's self-invoice path (look-up and confirm of the ticket,
#       build, seal, sandbox stamp, one transaction).  The tickets are
#       created beforehand (M1's, dated now, plus more if needed), so only
#       the invoice step is timed; afterwards sqlite3 proves 0 duplicate
#       invoices and 0 folio gaps;
#   M3  GET /v1/invoices (a 50-invoice list page: the closest existing list
#       to a customer-portal page, which has no list yet);
#   M4  GET /v1/invoices/{id}/xml and /pdf of one stored invoice.
# Then every bench_* program other modules added to bench/meson.build that
# is built: bench_cadena (B2), bench_issue (B1, M5), bench_pdf (B3),
# bench_mail.  Medians of BENCH_RUNS runs (3; 1 with --quick).
#
#   bench/run.sh [--quick] [BUILD_DIR]   (BUILD_DIR default: build)
#   BENCH_DURATION=10   wrk seconds per run      BENCH_RUNS=3   runs per figure
#   BENCH_THREADS=64    facturo serve --threads  BENCH_M2_CONNECTIONS=64
#   BENCH_M2_TICKETS=20000  at most this many tickets offered per M2 run
#   BENCH_M2_IDEM=1     M2 sends an Idempotency-Key (joins the group commit)
#   BENCH_TMPDIR=/tmp   where the databases go (a disk, not tmpfs)
# Needs wrk, sqlite3, python3, openssl (scripts/deps.sh --test).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
runs=${BENCH_RUNS:-3}
bdir=build
for a in "$@"; do
  case $a in
    --quick) runs=1 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench: unknown option $a (try --help)" >&2; exit 2 ;;
    *) bdir=$a ;;
  esac
done
case $bdir in /*) ;; *) bdir="$top/$bdir" ;; esac
dur=${BENCH_DURATION:-10}
m2conn=${BENCH_M2_CONNECTIONS:-64}
m2cap=${BENCH_M2_TICKETS:-20000}
bin="$bdir/facturo"
[ -x "$bin" ] || { echo "bench: build first (ninja -C $bdir)" >&2; exit 1; }
for c in wrk sqlite3 python3 openssl; do
  command -v $c >/dev/null || { echo "bench: $c is missing (scripts/deps.sh --test)" >&2; exit 1; }
done
# The bench programs find SAT's test data and facturo's data through these.
export FACTURO_SRC="${FACTURO_SRC:-$top}"
export FACTURO_DATA="${FACTURO_DATA:-$top/data}"
[ -n "${FACTURO_SHARED:-}" ] || [ ! -d "$top/../shared" ] || export FACTURO_SHARED="$top/../shared"
# A throw-away master key for the bench database's CSD (never printed).
FACTURO_SECRET_KEY=$(openssl rand -hex 32)
export FACTURO_SECRET_KEY

# The databases live here: it must be a real disk (on tmpfs fsync is free
# and the commit limit means nothing).
tmp=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/facturo-bench.XXXXXX")
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else print a[int((NR+1)/2)]}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  i=0
  while ! python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do
    i=$((i+1)); [ $i -gt 100 ] && { echo "bench: nothing listens on $1" >&2; exit 1; }
    sleep 0.1
  done
}
# fetch PATH: GET $url$PATH with the API key, body to stdout (no curl needed)
fetch() {
  python3 -c 'import os, sys, urllib.request as u
r = u.Request(sys.argv[1], headers={"Authorization": "Bearer " + os.environ["FACTURO_BENCH_KEY"]})
sys.stdout.buffer.write(u.urlopen(r, timeout=60).read())' "$url$1"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# pct P FILE -> wrk's latency percentile P (50, 99) of FILE in ms
pct() {
  awk -v p="$1%" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; f=1; printf "%.1f\n", v} END {if (!f) print 0}' "$2"
}
# wrk_rate ARGS... -> prints "rate p99_ms non2xx"
wrk_rate() {
  wrk --latency "$@" >"$tmp/wrk.out" 2>&1 || true
  rate=$(awk '/^Requests\/sec:/ {print int($2)}' "$tmp/wrk.out")
  p99=$(pct 99 "$tmp/wrk.out")
  bad=$(awk '/Non-2xx/ {print $5}' "$tmp/wrk.out")
  echo "${rate:-0} ${p99:-0} ${bad:-0}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f %%", 100*a/b; else print "n/a" }'; }
# met EXPR -> "met" or "NOT met" (EXPR is an awk condition on numbers)
met() { awk "BEGIN { print (($1) ? \"met\" : \"NOT met\") }"; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }

load0=$(loadavg)
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo "?")
echo "facturo bench — $(date -u +%Y-%m-%dT%H:%M:%SZ) — commit $rev — $(nproc) cores — wrk ${dur}s x $runs"
fstype=$(df -T "$tmp" | awk 'NR==2 {print $2}')
echo "load average at start: $load0; databases in $tmp ($fstype)"
[ "$fstype" != tmpfs ] || echo "WARNING: $tmp is tmpfs: fsync costs nothing there; set BENCH_TMPDIR to a disk"
echo
echo "== limits (same run)"
rsa1=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print int($6)}')
rsa2=$(openssl speed -seconds 3 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print int($6)}')
rsa1=${rsa1:-0}; rsa2=${rsa2:-0}
echo "RSA-2048 sign/s, 1 core:                 $rsa1"
echo "RSA-2048 sign/s, 2 processes:            $rsa2"

port=$(free_port)
"$bdir/bench/bench_http_trivial" "$port" 4 & tp=$!; pids="$pids $tp"
wait_port "$port"
: >"$tmp/triv"
for i in $(seq "$runs"); do wrk_rate -t2 -c64 -d"${dur}s" "http://127.0.0.1:$port/" | cut -d' ' -f1 >>"$tmp/triv"; done
kill "$tp"; wait "$tp" 2>/dev/null || true
trivial=$(median <"$tmp/triv")
echo "trivial MHD handler req/s (wrk -t2 -c64): $trivial"

: >"$tmp/commit"
# commit_sample FILE: one more one-row-commit measurement appended to FILE.
# The disk is what other work on a shared machine disturbs most, so M1 and
# M2 take one sample right before each of their runs and use the median of
# those as their commit limit.
commit_sample() {
  rm -f "$tmp/c.db"*; "$bdir/bench/bench_commit" "$tmp/c.db" 2000 | awk '{print int($2)}' | tee -a "$tmp/commit" >>"$1"
}
: >"$tmp/commit0"
for i in $(seq "$runs"); do commit_sample "$tmp/commit0"; done
echo "SQLite WAL FULL one-row commits/s:       $(median <"$tmp/commit0")"
echo

echo "== M1: POS tickets over HTTP (SQLite, durable: answered after commit)"
dbf="$tmp/m.db"
db="sqlite:$dbf"
"$bin" migrate --db "$db" >/dev/null
"$bin" tenant create --db "$db" --slug bench --rfc EKU9003173C9 --name "Bench SA" \
  --regime 601 --zip 06000 >/dev/null
# SAT's public test CSD (data/demo) so that M2 can seal; sandbox stamping.
"$bin" tenant csd --db "$db" --tenant bench --cer data/demo/EKU9003173C9.cer \
  --key data/demo/EKU9003173C9.key --password-file data/demo/EKU9003173C9.password \
  >/dev/null 2>"$tmp/csd.log" || { cat "$tmp/csd.log" >&2; exit 1; }
FACTURO_BENCH_KEY=$("$bin" apikey create --db "$db" --tenant bench)
export FACTURO_BENCH_KEY
# Tickets dated a minute ago in the merchant's time zone (the default,
# America/Mexico_City), so that M2 can still invoice them.
FACTURO_BENCH_DATE=$(TZ=America/Mexico_City date -d '1 minute ago' +%Y-%m-%dT%H:%M:%S)
export FACTURO_BENCH_DATE
port=$(free_port)
url="http://127.0.0.1:$port"
"$bin" serve --db "$db" --listen "127.0.0.1:$port" --rate-limit 0 --threads "${BENCH_THREADS:-64}" \
  --global-interval 0 --log-level warn 2>"$tmp/serve.log" & sp=$!; pids="$pids $sp"
wait_port "$port"
: >"$tmp/post"
: >"$tmp/commit1"
for i in $(seq "$runs"); do
  commit_sample "$tmp/commit1"
  wrk_rate -t2 -c64 -d"${dur}s" -s bench/tickets.lua "$url" >>"$tmp/post"
done
commit1=$(median <"$tmp/commit1")
limit=$(min "$trivial" "$commit1")
post=$(cut -d' ' -f1 "$tmp/post" | median)
postp99=$(cut -d' ' -f2 "$tmp/post" | median)
postbad=$(awk '{s+=$3} END {print s+0}' "$tmp/post")
FACTURO_BENCH_TICKET=$(fetch "/v1/tickets?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
export FACTURO_BENCH_TICKET
: >"$tmp/get"
for i in $(seq "$runs"); do wrk_rate -t2 -c64 -d"${dur}s" -s bench/get.lua "$url" >>"$tmp/get"; done
get=$(cut -d' ' -f1 "$tmp/get" | median)
getp99=$(cut -d' ' -f2 "$tmp/get" | median)
stored=$(sqlite3 "$dbf" "SELECT COUNT(*) FROM tickets")
echo "POST /v1/tickets/s:                      $post  (p99 ${postp99} ms; non-201: $postbad; tickets stored: $stored)"
echo "   each run (tickets stored grow):         $(cut -d' ' -f1 "$tmp/post" | tr '\n' ' ')"
echo "   one-row commits/s before each run:      $(tr '\n' ' ' <"$tmp/commit1")"
echo "   ratio to min(trivial, commit) = $limit: $(ratio "$post" "$limit")   (target >= 50 %)"
echo "   ratio to trivial handler:               $(ratio "$post" "$trivial")"
echo "   ratio to one-row commits:               $(ratio "$post" "$commit1")"
echo "GET /v1/tickets/{id}/s:                  $get  (p99 ${getp99} ms)"
echo "   ratio to trivial handler:               $(ratio "$get" "$trivial")"
echo

echo "== M2: self-invoice at the counter, POST /v1/tickets/{id}/invoice"
FACTURO_BENCH_IDEM=${BENCH_M2_IDEM:-0}
export FACTURO_BENCH_IDEM
echo "   (tickets created beforehand: only the invoice step is timed; wrk -t2 -c$m2conn;"
echo "    Idempotency-Key sent: $([ "$FACTURO_BENCH_IDEM" = 1 ] && echo "yes (group commit)" || echo "no (one transaction each)"))"
open_tickets() { sqlite3 "$dbf" "SELECT COUNT(*) FROM tickets WHERE status = 'open'"; }
# Offer each run min(BENCH_M2_TICKETS, open tickets / runs) tickets, at
# least 2,000: create more (untimed) when M1 left too few.
per=$(( $(open_tickets) / runs ))
[ "$per" -le "$m2cap" ] || per=$m2cap
if [ "$per" -lt 2000 ]; then
  per=2000
  i=0
  while [ "$(open_tickets)" -lt $((per * runs)) ]; do
    i=$((i + 1)); [ $i -le 60 ] || { echo "bench: cannot create M2's tickets" >&2; exit 1; }
    wrk -t2 -c64 -d2s -s bench/tickets.lua "$url" >/dev/null 2>&1 || true
  done
fi
: >"$tmp/m2"
# Each run takes the next ids: requests still in flight when the previous
# run's wrk stopped may commit later, and their tickets are not offered again.
last=0
: >"$tmp/commit2"
echo "$rsa2" >"$tmp/rsa2"
for i in $(seq "$runs"); do
  commit_sample "$tmp/commit2"
  openssl speed -seconds 1 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print int($6)}' >>"$tmp/rsa2"
  sqlite3 "$dbf" "SELECT id FROM tickets WHERE status = 'open' AND id > $last ORDER BY id LIMIT $per" >"$tmp/ids"
  last=$(tail -n 1 "$tmp/ids"); last=${last:-0}
  wrk --latency -t2 -c"$m2conn" -d"${dur}s" -s bench/invoice.lua "$url" -- "$tmp/ids" 2 \
    >"$tmp/wrk.out" 2>&1 || true
  grep '^M2 status' "$tmp/wrk.out" | sed 's/^/   /' || true
  line=$(grep '^M2 created=' "$tmp/wrk.out" || echo "M2 created=0 existing=0 other=0 seconds=0 rate=0")
  set -- $(echo "$line" | sed 's/[a-z0-9]*=//g; s/^M2 //')
  # rate p50 p99 created existing other seconds
  echo "$5 $(pct 50 "$tmp/wrk.out") $(pct 99 "$tmp/wrk.out") $1 $2 $3 $4" >>"$tmp/m2"
done
m2=$(cut -d' ' -f1 "$tmp/m2" | median)
commit2=$(median <"$tmp/commit2")
rsa2m=$(median <"$tmp/rsa2")
limit2=$(min "$(min "$trivial" "$commit2")" $((rsa2m / 2)))
m2p50=$(cut -d' ' -f2 "$tmp/m2" | median)
m2p99=$(cut -d' ' -f3 "$tmp/m2" | median)
m2created=$(awk '{s+=$4} END {print s+0}' "$tmp/m2")
m2existing=$(awk '{s+=$5} END {print s+0}' "$tmp/m2")
m2other=$(awk '{s+=$6} END {print s+0}' "$tmp/m2")
echo "invoices/s:                              $m2  (p50 ${m2p50} ms, p99 ${m2p99} ms)"
echo "   each run (rate seconds):                $(awk '{printf "%s/%ss ", $1, $7}' "$tmp/m2")"
echo "   answers: 201 new $m2created, 200 already invoiced $m2existing, other $m2other"
echo "   one-row commits/s before each run:      $(tr '\n' ' ' <"$tmp/commit2")"
echo "   RSA-2048 sign/s, 2 processes, at start and before each run: $(tr '\n' ' ' <"$tmp/rsa2")"
echo "   limit min(2-core RSA/2 = $((rsa2m / 2)), commit, trivial) = $limit2: $(ratio "$m2" "$limit2")   (target >= 40 %)"
echo

echo "== M3: invoice list page, GET /v1/invoices (50 newest; stands in for the customer portal's list)"
export FACTURO_BENCH_PATH=/v1/invoices
fetch /v1/invoices >"$tmp/list.json"
inv=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["data"]; print(d[0]["id"] if d else ""); print(len(d), file=sys.stderr)' \
  "$tmp/list.json" 2>"$tmp/list.n")
: >"$tmp/m3"
for i in $(seq "$runs"); do wrk_rate -t2 -c64 -d"${dur}s" -s bench/path.lua "$url" >>"$tmp/m3"; done
m3=$(cut -d' ' -f1 "$tmp/m3" | median)
m3p99=$(cut -d' ' -f2 "$tmp/m3" | median)
m3bad=$(awk '{s+=$3} END {print s+0}' "$tmp/m3")
echo "list pages/s:                            $m3  (p99 ${m3p99} ms; $(cat "$tmp/list.n") invoices a page, $(wc -c <"$tmp/list.json") bytes; non-2xx: $m3bad)"
echo "   ratio to trivial handler:               $(ratio "$m3" "$trivial")   (target >= 33 %)"
echo

echo "== M4: download a stored invoice, GET /v1/invoices/{id}/xml and /pdf"
m4x=0 m4xp99=0 m4p=0 m4pp99=0 m4xbad=0 m4pbad=0
if [ -n "$inv" ]; then
  # The PDF is rendered on its first download and stored: do that first.
  xbytes=$(fetch "/v1/invoices/$inv/xml" | wc -c)
  pbytes=$(fetch "/v1/invoices/$inv/pdf" | wc -c)
  for kind in xml pdf; do
    export FACTURO_BENCH_PATH="/v1/invoices/$inv/$kind"
    : >"$tmp/m4$kind"
    for i in $(seq "$runs"); do wrk_rate -t2 -c64 -d"${dur}s" -s bench/path.lua "$url" >>"$tmp/m4$kind"; done
  done
  m4x=$(cut -d' ' -f1 "$tmp/m4xml" | median); m4xp99=$(cut -d' ' -f2 "$tmp/m4xml" | median)
  m4p=$(cut -d' ' -f1 "$tmp/m4pdf" | median); m4pp99=$(cut -d' ' -f2 "$tmp/m4pdf" | median)
  m4xbad=$(awk '{s+=$3} END {print s+0}' "$tmp/m4xml"); m4pbad=$(awk '{s+=$3} END {print s+0}' "$tmp/m4pdf")
  echo "XML downloads/s:                         $m4x  (p99 ${m4xp99} ms; $xbytes bytes; non-2xx: $m4xbad)"
  echo "   ratio to trivial handler:               $(ratio "$m4x" "$trivial")   (target >= 50 %)"
  echo "PDF downloads/s:                         $m4p  (p99 ${m4pp99} ms; $pbytes bytes; non-2xx: $m4pbad)"
  echo "   ratio to trivial handler:               $(ratio "$m4p" "$trivial")   (target >= 50 %)"
else
  echo "no invoice to download (M2 issued none)"
fi
kill "$sp"; wait "$sp" 2>/dev/null || true
echo

echo "== M2 afterwards: duplicates and folio gaps, by sqlite3 on the database"
q() { sqlite3 "$dbf" "$1"; }
n_inv=$(q "SELECT COUNT(*) FROM invoices")
n_linked=$(q "SELECT COUNT(DISTINCT ticket_id) FROM invoice_tickets")
n_invoiced=$(q "SELECT COUNT(*) FROM tickets WHERE status = 'invoiced'")
dup_ticket=$(q "SELECT COUNT(*) FROM (SELECT 1 FROM invoice_tickets GROUP BY tenant_id, ticket_id HAVING COUNT(*) > 1)")
dup_uuid=$(q "SELECT COUNT(*) - COUNT(DISTINCT uuid) FROM invoices")
dup_folio=$(q "SELECT COUNT(*) FROM (SELECT 1 FROM invoices GROUP BY tenant_id, series, folio HAVING COUNT(*) > 1)")
no_ticket=$(q "SELECT COUNT(*) FROM invoices i WHERE NOT EXISTS (SELECT 1 FROM invoice_tickets t WHERE t.tenant_id = i.tenant_id AND t.invoice_id = i.id)")
gaps=$(q "SELECT COALESCE(SUM(mx - n), 0) FROM (SELECT MAX(folio) AS mx, COUNT(DISTINCT folio) AS n FROM invoices WHERE folio > 0 GROUP BY tenant_id, series)")
bad_next=$(q "SELECT COUNT(*) FROM series s WHERE next_folio - 1 <> (SELECT COALESCE(MAX(folio), 0) FROM invoices i WHERE i.tenant_id = s.tenant_id AND i.series = s.code)")
folios=$(q "SELECT group_concat(series || ' ' || mn || '..' || mx, ', ') FROM (SELECT series, MIN(folio) AS mn, MAX(folio) AS mx FROM invoices GROUP BY tenant_id, series)")
dups=$((dup_ticket + dup_uuid + dup_folio + no_ticket + n_inv - n_linked))
echo "invoices stored: $n_inv (201 answers: $m2created; the rest were in flight when wrk stopped); folios ${folios:-none}"
echo "tickets linked to an invoice: $n_linked; tickets with status invoiced: $n_invoiced"
echo "tickets in two invoices: $dup_ticket; repeated UUIDs: $dup_uuid; repeated folios: $dup_folio; invoices without ticket: $no_ticket"
echo "missing folios (1..max per series): $gaps; series whose next_folio is not max+1: $bad_next"
integrity_ok=$(met "$dups == 0 && $gaps == 0 && $bad_next == 0 && $n_linked == $n_invoiced && $n_inv >= $m2created && $m2other == 0")
echo "=> duplicates $dups, gaps $gaps: $integrity_ok"
echo

echo "== other modules' benchmarks (those built)"
for b in bench_cadena bench_issue bench_pdf bench_mail; do
  if [ -x "$bdir/bench/$b" ]; then
    echo "-- $b"
    (cd "$top" && "$bdir/bench/$b") >"$tmp/$b.out" 2>&1 || echo "($b failed)" >>"$tmp/$b.out"
    sed 's/^/   /' "$tmp/$b.out"
  else
    echo "-- $b: not built"
    : >"$tmp/$b.out"
  fi
done
load1=$(loadavg)
echo

# ---- summary -------------------------------------------------------------
b1=$(awk '$1=="model" {print $2}' "$tmp/bench_issue.out"); b1=${b1:-0}
b1rsa=$(awk '$1=="rsa" {print $2}' "$tmp/bench_issue.out"); b1rsa=${b1rsa:-0}
b2n=$(awk '/^ *native:/ {print $2}' "$tmp/bench_cadena.out"); b2n=${b2n:-0}
b2x=$(awk '/^ *libxslt \(SAT XSLT\):/ {print $4}' "$tmp/bench_cadena.out"); b2x=${b2x:-0}
b2same=$(grep -c 'byte-identical to libxslt: yes' "$tmp/bench_cadena.out" || true)
b3=$(sed -n 's/^pdf: 1 thread: .* = \([0-9.]*\) PDFs\/s.*/\1/p' "$tmp/bench_pdf.out"); b3=${b3:-0}
b3cpu=$(sed -n 's/^pdf: 1 thread: \([0-9.]*\) ms of CPU.*/\1/p' "$tmp/bench_pdf.out"); b3cpu=${b3cpu:-0}
m5() { sed -n "s/^global *$1 tickets.*\[ *\([0-9.]*\) s wall\].*peak RSS *\([0-9.]*\) MiB.*/\1 \2/p" "$tmp/bench_issue.out"; }
set -- $(m5 10000) 0 0; m5a=$1; m5ar=$2
set -- $(m5 100000) 0 0; m5b=$1; m5br=$2
mail=$(sed -n 's/^outbox, 4 workers.*: \([0-9]*\) e-mails\/s.*/\1/p' "$tmp/bench_mail.out"); mail=${mail:-0}
pc() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", 100*a/b; else print 0 }'; }

row() { printf '%-4s %-30s %-24s %-30s %-9s %-22s %s\n' "$@"; }
echo "== summary — $(date -u +%Y-%m-%d) — $(nproc) cores — medians of $runs — load average $load0 at start, $load1 at end"
row id figure measured "limit (same run)" ratio "target" ""
row -- ------ -------- ---------------- ----- ------ ---
row B1 "issue: build+seal, 1 core" "$b1/CPU-s" "RSA sign 1 core $b1rsa/CPU-s" "$(pc "$b1" "$b1rsa") %" ">= 70 %" "$(met "$(pc "$b1" "$b1rsa") >= 70")"
row B2 "cadena original, native" "$b2n/s" "libxslt + SAT XSLT $b2x/s" \
  "$(awk -v a="$b2n" -v b="$b2x" 'BEGIN { if (b > 0) printf "%.1fx", a/b; else print "n/a" }')" ">= 50x, identical" \
  "$(met "$b2x > 0 && $b2n / $b2x >= 50 && $b2same == 1")"
row B3 "CFDI PDF with QR, 1 thread" "$b3/s ($b3cpu ms CPU)" "nodecfdi 18/s (BENCH.md)" \
  "$(awk -v a="$b3" 'BEGIN { printf "%.1fx", a/18 }')" ">= 15x" "$(met "$b3 / 18 >= 15")"
row B4 "EN 16931 UBL/CII/Factur-X" "not measured" "-" "-" ">= 5x" "(no bench program yet)"
row M1 "POST /v1/tickets" "$post/s p99 ${postp99}ms" "min(HTTP,commit) $limit/s" "$(pc "$post" "$limit") %" ">= 50 %, p99 <= 50 ms" \
  "$(met "$(pc "$post" "$limit") >= 50 && $postp99 <= 50 && $postbad == 0")"
row M1 "GET /v1/tickets/{id}" "$get/s p99 ${getp99}ms" "trivial HTTP $trivial/s" "$(pc "$get" "$trivial") %" "-" ""
row M2 "self-invoice, cashier API" "$m2/s p99 ${m2p99}ms" "min(RSA2/2,commit,HTTP) $limit2/s" "$(pc "$m2" "$limit2") %" \
  ">= 40 %, p99 <= 100 ms" "$(met "$(pc "$m2" "$limit2") >= 40 && $m2p99 <= 100 && $m2other == 0")"
row M2 "  duplicates / folio gaps" "$dups / $gaps" "-" "-" "0 / 0" "$integrity_ok"
row M3 "list page (GET /v1/invoices)" "$m3/s p99 ${m3p99}ms" "trivial HTTP $trivial/s" "$(pc "$m3" "$trivial") %" \
  ">= 33 %, p99 <= 20 ms" "$(met "$(pc "$m3" "$trivial") >= 33 && $m3p99 <= 20 && $m3bad == 0")"
row M4 "stored XML download" "$m4x/s p99 ${m4xp99}ms" "trivial HTTP $trivial/s" "$(pc "$m4x" "$trivial") %" ">= 50 %" \
  "$(met "$(pc "$m4x" "$trivial") >= 50 && $m4xbad == 0")"
row M4 "stored PDF download" "$m4p/s p99 ${m4pp99}ms" "trivial HTTP $trivial/s" "$(pc "$m4p" "$trivial") %" ">= 50 %" \
  "$(met "$(pc "$m4p" "$trivial") >= 50 && $m4pbad == 0")"
row M5 "global invoice, 10k tickets" "${m5a} s, ${m5ar} MiB" "-" "-" "<= 1 s, <= 64 MiB" "$(met "$m5a > 0 && $m5a <= 1 && $m5ar <= 64")"
row M5 "global invoice, 100k tickets" "${m5b} s, ${m5br} MiB" "-" "-" "<= 10 s, <= 256 MiB" "$(met "$m5b > 0 && $m5b <= 10 && $m5br <= 256")"
row -- "mail outbox (no target)" "$mail e-mails/s" "-" "-" "-" ""
echo "limits: RSA-2048 $rsa1/s 1 core, $rsa2/s 2 processes; trivial handler $trivial req/s; one-row FULL commits $(median <"$tmp/commit")/s (median of all $(wc -l <"$tmp/commit") samples; M1 used $commit1, M2 $commit2 and RSA $rsa2m)"
echo "M2: POST /v1/tickets/{id}/invoice, tickets made beforehand (only the invoice step timed), wrk -c$m2conn, Idempotency-Key $([ "$FACTURO_BENCH_IDEM" = 1 ] && echo yes || echo no); M3: GET /v1/invoices stands in for the customer portal's list (none exists yet)"
echo "B1, B2: rates per CPU-second inside bench_issue / bench_cadena (their own same-run limit); B3: against BENCH.md's reference, not a same-run limit"
