#!/bin/sh
# import.sh BACKEND SETUP — `facturo import tickets` end to end, on a fresh
# database: BACKEND is "sqlite" (a file in a temporary folder) or "pg" (a
# new database on the server of FACTURO_TEST_PG; without it: skip, exit
# 77, unless FACTURO_REQUIRE_PG=1).  SETUP is the import_setup_db fixture
# (migrates and creates the tenants through store.h).
#
# Proves: the example file imports exactly its 6 tickets with the amounts
# computed by hand below; the same tickets written with a BOM, CRLF,
# another column order and other quoting import identically; re-running
# imports nothing twice; a bad file lists every bad line and imports
# nothing; a folio already stored with other content is an error; the
# bounds (items per ticket) hold; the progress bar appears on a terminal
# only; dates without an offset follow the tenant's zone with its daylight
# saving (Mexico City in July 2022, Tijuana in summer), the same instant
# through the API and the import; and (SQLite) SIGKILL in the middle of a 50,000-row import leaves
# nothing or everything, never part.
set -u
backend=${1:?usage: import.sh sqlite|pg SETUP}
setup=${2:?usage: import.sh sqlite|pg SETUP}
bin=${FACTURO_BIN:?}
src=${FACTURO_SRC:?}
tmp=$(mktemp -d /tmp/facturo-import.XXXXXX)
pgdb=""
fails=0

cleanup() {
  if [ -n "$pgdb" ]; then
    psql -q "$FACTURO_TEST_PG" -c "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

case $backend in
sqlite)
  db="sqlite:$tmp/facturo.db"
  sql() { sqlite3 -separator '|' "$tmp/facturo.db" "$1"; }
  ;;
pg)
  if [ -z "${FACTURO_TEST_PG:-}" ]; then
    if [ "${FACTURO_REQUIRE_PG:-0}" = 1 ]; then
      echo "FACTURO_TEST_PG is not set but FACTURO_REQUIRE_PG=1"; exit 1
    fi
    echo "SKIP: FACTURO_TEST_PG not set"; exit 77
  fi
  pgdb="imp_$$_$(date +%s)"
  psql -q "$FACTURO_TEST_PG" -c "CREATE DATABASE $pgdb" >/dev/null || exit 1
  db=$(printf '%s' "$FACTURO_TEST_PG" | sed "s#/[^/?]*\(?.*\)\{0,1\}\$#/$pgdb\1#")
  sql() { psql -qAt -F '|' "$db" -c "$1"; }
  ;;
*) echo "unknown backend $backend"; exit 2 ;;
esac

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# expect_rc WANT CMD... : runs CMD with stdout in $tmp/out, stderr in
# $tmp/err, and checks its exit status.
expect_rc() {
  want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ "$rc" != "$want" ]; then
    fail "exit $rc (want $want): $*"
    sed 's/^/  out: /' "$tmp/out"; sed 's/^/  err: /' "$tmp/err" | head -40
    return 1
  fi
  return 0
}

has() { # has FILE TEXT: FILE contains the fixed string TEXT
  grep -qF -- "$2" "$1" || { fail "$1 lacks '$2'"; sed 's/^/  | /' "$1" | head -40; }
}

tickets_of() { # the tenant's tickets with their amounts, ordered
  sql "SELECT b.code, t.folio_number, t.subtotal, t.discount, t.taxes,
              t.withheld, t.total, t.payment_form, t.date
       FROM tickets t JOIN branches b
         ON b.tenant_id = t.tenant_id AND b.id = t.branch_id
       JOIN tenants n ON n.id = t.tenant_id
       WHERE n.slug = '$1' ORDER BY b.code, t.folio_number"
}
count_of() {
  sql "SELECT count(*) FROM tickets t JOIN tenants n ON n.id = t.tenant_id
       WHERE n.slug = '$1'"
}

expect_rc 0 "$setup" "$db" shop shop2 shop3 shop4 shop5 shop6 shop7 shop8 --key shop6 || exit 1
apikey=$(cat "$tmp/out")

# ---- the example file: exactly 6 tickets, amounts computed by hand ----
# (micros; MXN, 2 decimals, SAT rounding half away from zero)
# S01 1001: 2 x 116.00 IVA 16% included -> base 200.00 + IVA 32.00;
#           15.50 IVA 0% included -> 15.50.  Total 247.50.
# S01 1002: 3 x 10.00 + IEPS 8% 2.40 + IVA 16% on 32.40 = 5.184 -> 5.18;
#           50.00 - 5.00 discount, IVA 16% on 45.00 = 7.20.
#           Subtotal 80.00, discount 5.00, taxes 14.78, total 89.78.
# S01 1003: 99.00 IVA included: 85.34 + 13.65 = 98.99 and 85.35 + 13.66 =
#           99.01 are equally close; the lower base wins -> 85.34; the IVA
#           Importe is then moved to 13.66 (within SAT's limits 13.65..13.66
#           for Base 85.34) so the line still totals the 99.00 charged.
#           2 x 60.00 + IEPS cuota 2 x 1.50 = 3.00, IVA 16% on 123.00 =
#           19.68.  Subtotal 205.34, taxes 36.34, total 241.68.
# S02 A-77: 1000.00 + IVA 160.00 - ISR 10% 100.00 - IVA 10.6667% 106.67.
#           Total 953.33.  Date 09:00 -06:00 = 15:00 UTC.
# S02 A-78: 1.5 x 189.90 IVA 0% included = 284.85; 2 x 250.00 exempt;
#           30.00 + IEPS 26.5% 7.95 + IVA 16% on 37.95 = 6.072 -> 6.07.
#           Subtotal 814.85, taxes 14.02, total 828.87.
# S03 9001: 4 x 2.70 = 10.80 + IVA 8% 0.864 -> 0.86.  Total 11.66.
# Dates without a zone are Mexico City time (UTC-6): 2026-11-20T13:45:00
# is 1795203900.
cat >"$tmp/want" <<'EOF'
S01|1001|215500000|0|32000000|0|247500000|01|1795203900
S01|1002|80000000|5000000|14780000|0|89780000|04|1795219510
S01|1003|205340000|0|36340000|0|241680000|01|1795400100
S02|A-77|1000000000|0|160000000|206670000|953330000|03|1795273200
S02|A-78|814850000|0|14020000|0|828870000|28|1795278600
S03|9001|10800000|0|860000|0|11660000|01|1795348800
EOF
if expect_rc 0 "$bin" import tickets "$src/data/examples/tickets.csv" \
     --tenant shop --db "$db"; then
  has "$tmp/out" "imported 6, skipped 0, errors 0"
  [ -s "$tmp/err" ] && fail "stderr not empty without a terminal: $(cat "$tmp/err")"
fi
tickets_of shop >"$tmp/got"
if cmp -s "$tmp/got" "$tmp/want"; then ok "example: 6 tickets, exact totals"
else fail "example totals differ"; diff "$tmp/want" "$tmp/got"; fi

# ---- re-run: nothing imported twice ----
if expect_rc 0 "$bin" import tickets "$src/data/examples/tickets.csv" \
     --tenant shop --db "$db"; then
  has "$tmp/out" "imported 0, skipped 6, errors 0"
fi
[ "$(count_of shop)" = 6 ] && ok "re-run imports nothing" || fail "re-run: $(count_of shop) tickets"

# ---- a ticket created through the API is the same ticket for the import ----
# POST /v1/tickets with S02 A-78 (amounts spelt differently), then import
# the example file: that ticket is skipped as identical, the 5 others land.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --db "$db" --listen 127.0.0.1:$port --secret-file "$tmp/secret" \
  --log-level error >"$tmp/serve.log" 2>&1 &
spid=$!
# python3 as the HTTP client (in the test dependencies, unlike curl(1))
http() { # http METHOD PATH [BODYFILE]: prints the status, body to $tmp/api.json
  python3 - "$port" "$1" "$2" "${3:-}" "$apikey" "$tmp/api.json" <<'PY'
import http.client, sys
port, method, path, bodyfile, key, out = sys.argv[1:7]
body = open(bodyfile, 'rb').read() if bodyfile else None
try:
    c = http.client.HTTPConnection('127.0.0.1', int(port), timeout=10)
    c.request(method, path, body=body, headers={
        'Authorization': 'Bearer ' + key, 'Content-Type': 'application/json'})
    r = c.getresponse()
    open(out, 'wb').write(r.read())
    print(r.status)
except OSError:
    print(0)
PY
}
i=0
until [ "$(http GET /healthz)" = 200 ] || [ $i -ge 100 ]; do
  sleep 0.1; i=$((i + 1))
done
cat >"$tmp/a78.json" <<'EOF'
{"branch": "S02", "folio_number": "A-78", "date": "2026-11-21T10:30:00",
 "payment_form": "28", "items": [
  {"quantity": "1.5", "product": {"description": "Queso Oaxaca",
   "product_key": "50131800", "unit_key": "KGM", "unit_name": "Kilogramo",
   "price": "189.9", "tax_included": true, "taxes": [{"type": "IVA", "rate": "0.000000"}]}},
  {"quantity": 2, "product": {"description": "Libro de cocina",
   "product_key": "55101500", "unit_key": "H87", "unit_name": "Pieza",
   "price": 250, "taxes": [{"type": "IVA", "factor": "Exento"}]}},
  {"quantity": 1, "product": {"description": "Cerveza 355 ml",
   "product_key": "50202201", "unit_key": "H87", "unit_name": "Pieza",
   "price": "30.00", "tax_included": false,
   "taxes": [{"type": "IEPS", "rate": "0.265"}, {"type": "IVA", "rate": "0.16", "factor": "Tasa"}]}}]}
EOF
code=$(http POST /v1/tickets "$tmp/a78.json")
cp "$tmp/api.json" "$tmp/a78.answer"
# Mexico City still had daylight saving in July 2022 (UTC-5): a ticket of
# 2022-07-01 12:00 local is 17:00 UTC (1656694800), not 18:00.
cat >"$tmp/v22.json" <<'EOF'
{"branch": "S02", "folio_number": "V-2022", "date": "2022-07-01T12:00:00",
 "payment_form": "01", "items": [
  {"quantity": 1, "product": {"description": "Cafe", "product_key": "50201712",
   "unit_key": "H87", "unit_name": "Pieza", "price": "116.00",
   "tax_included": true, "taxes": [{"type": "IVA", "rate": "0.16"}]}}]}
EOF
code22=$(http POST /v1/tickets "$tmp/v22.json")
cp "$tmp/api.json" "$tmp/v22.answer"
kill $spid 2>/dev/null; wait $spid 2>/dev/null
if [ "$code" = 201 ]; then
  has "$tmp/a78.answer" '"total":"828.87"'
  if expect_rc 0 "$bin" import tickets "$src/data/examples/tickets.csv" \
       --tenant shop6 --db "$db"; then
    has "$tmp/out" "imported 5, skipped 1, errors 0"
  fi
  tickets_of shop6 | grep -v '|V-2022|' >"$tmp/got"
  cmp -s "$tmp/got" "$tmp/want" && ok "API ticket + import: identical, skipped" \
    || { fail "API + import differ"; diff "$tmp/want" "$tmp/got"; }
else
  fail "POST /v1/tickets answered $code: $(cat "$tmp/a78.answer")"
  sed 's/^/  serve: /' "$tmp/serve.log" | tail -5
fi

# ---- local dates follow the tenant's zone and its daylight saving ----
date_of() { # date_of SLUG FOLIO: the stored UTC seconds
  sql "SELECT t.date FROM tickets t JOIN tenants n ON n.id = t.tenant_id
       WHERE n.slug = '$1' AND t.folio_number = '$2'"
}
row() { # row BRANCH FOLIO DATE: one CSV line of a 116.00 coffee
  echo "$1,$2,$3,01,1,,Cafe,50201712,H87,Pieza,116.00,true,IVA:0.16"
}
{ head -1 "$src/data/examples/tickets.csv"; row S02 V-2022 2022-07-01T12:00:00; } >"$tmp/v22.csv"
if [ "$code22" = 201 ]; then
  has "$tmp/v22.answer" '"date":"2022-07-01T12:00:00-05:00"'
  # the import reads the same text as the same instant: identical, skipped
  if expect_rc 0 "$bin" import tickets "$tmp/v22.csv" --tenant shop6 --db "$db"; then
    has "$tmp/out" "imported 0, skipped 1, errors 0"
  fi
  [ "$(date_of shop6 V-2022)" = 1656694800 ] \
    && ok "Mexico City July 2022 (UTC-5): API and import agree" \
    || fail "V-2022 stored at $(date_of shop6 V-2022), want 1656694800"
else
  fail "POST /v1/tickets (2022) answered $code22: $(cat "$tmp/v22.answer")"
fi
# Tijuana: UTC-7 in July, UTC-8 in December.
if expect_rc 0 "$bin" tenant set --tenant shop8 --timezone America/Tijuana --db "$db"; then
  { head -1 "$src/data/examples/tickets.csv"
    row S01 T-7 2026-07-01T12:00:00
    row S01 T-12 2026-12-01T12:00:00
  } >"$tmp/tj.csv"
  if expect_rc 0 "$bin" import tickets "$tmp/tj.csv" --tenant shop8 --db "$db"; then
    has "$tmp/out" "imported 2, skipped 0, errors 0"
  fi
  [ "$(date_of shop8 T-7)" = 1782932400 ] && [ "$(date_of shop8 T-12)" = 1796155200 ] \
    && ok "Tijuana: summer UTC-7, winter UTC-8" \
    || fail "Tijuana dates $(date_of shop8 T-7) $(date_of shop8 T-12)"
fi

# ---- four imports of the same file at once: each ticket exactly once ----
for i in 1 2 3 4; do
  "$bin" import tickets "$src/data/examples/tickets.csv" --tenant shop7 \
    --db "$db" >"$tmp/par$i.out" 2>"$tmp/par$i.err" &
done
wait
got=$(cat "$tmp"/par?.out | sed -n 's/^imported \([0-9]*\), skipped \([0-9]*\), errors 0$/\1 \2/p' \
      | awk '{i += $1; k += $2; n++} END {print n, i, k}')
if [ "$got" = "4 6 18" ] && [ "$(count_of shop7)" = 6 ]; then
  ok "4 concurrent imports: 6 imported once, 18 skipped"
else
  fail "concurrent imports: runs/imported/skipped = $got, tickets $(count_of shop7)"
  cat "$tmp"/par?.out "$tmp"/par?.err | sed 's/^/  | /'
fi

# ---- the same tickets, other spelling: BOM, CRLF, column order, quoting ----
python3 - "$src/data/examples/tickets.csv" "$tmp/variant.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8', newline='')))
head, body = rows[0], rows[1:]
order = list(reversed(range(len(head))))          # every column moved
with open(sys.argv[2], 'w', encoding='utf-8-sig', newline='') as f:
    w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator='\r\n')
    w.writerow([head[i] for i in order])
    for r in body:
        w.writerow([r[i] for i in order])
        f.write('\r\n')                             # blank lines are skipped
EOF
if expect_rc 0 "$bin" import tickets "$tmp/variant.csv" --tenant shop2 --db "$db"; then
  has "$tmp/out" "imported 6, skipped 0, errors 0"
fi
tickets_of shop2 >"$tmp/got"
cmp -s "$tmp/got" "$tmp/want" && ok "BOM + CRLF + reordered + quoted: same tickets" \
  || { fail "variant differs"; diff "$tmp/want" "$tmp/got"; }

# ---- a bad file: every bad line listed, nothing imported ----
esc=$(printf '\033')
H="branch,folio_number,date,payment_form,quantity,discount,description,product_key,unit_key,unit_name,price,tax_included,taxes"
cat >"$tmp/bad.csv" <<EOF
$H
S01,1,2026-11-20T10:00:00,01,1,,Good item,50201712,H87,Pieza,10.00,true,IVA:0.16
S01,2,2026-11-20T10:00:00,01,1,,"Price with comma",50201712,H87,Pieza,"12,50",true,IVA:0.16
S01,3,2026-13-01T10:00:00,01,1,,Bad date,50201712,H87,Pieza,1.00,true,IVA:0.16
S01,4,2026-11-20T10:00:00,01,1,,Bad taxes,50201712,H87,Pieza,1.00,true,IVA:16
S01,5,2026-11-20T10:00:00,01,1,,"Bare "quote,50201712,H87,Pieza,1.00,true,IVA:0.16
S01,6,2026-11-20T10:00:00,01,1,,Two faults,5020,H87,Pieza,1.00,maybe,IVA:0.16
S01,7,2026-11-20T10:00:00,01,1,,Items differ,50201712,H87,Pieza,1.00,true,IVA:0.16
S01,7,2026-11-21T10:00:00,01,1,,Items differ,50201712,H87,Pieza,1.00,true,IVA:0.16
S01,8,2026-11-20T10:00:00,01,1,,Good,50201712,H87,Pieza,1.00,true,IVA:0.16
S01,1,2026-11-20T10:00:00,01,1,,Split ticket,50201712,H87,Pieza,10.00,true,IVA:0.16
S01,9,2026-11-20T10:00:00,01,1,20,Too much discount,50201712,H87,Pieza,1.00,true,IVA:0.16
S01,10,2026-11-20T10:00:00,01,1,,Short row
S01,11,2026-11-20T10:00:00,01,1,,Good again,50201712,H87,Pieza,1.00,true,
S01,12,2026-11-20T10:00:00,01,1,,"Two
lines",50201712,H87,Pieza,1.00,true,
S01,13,2026-11-20T10:00:00,01,1,,Line 17,50201712,H87,Pieza,-1,true,
S01,14,2026-11-20T10:00:00,01,1,,Escape,50201712,H87,Pieza,"1${esc}[31m",true,
EOF
if expect_rc 2 "$bin" import tickets "$tmp/bad.csv" --tenant shop3 --db "$db"; then
  for want in "bad.csv:3: price:" "bad.csv:4: date:" "bad.csv:5: taxes:" \
              "bad.csv:6: description:" "bad.csv:7: product_key:" \
              "bad.csv:7: tax_included:" "bad.csv:9: date:" \
              "bad.csv:11: folio_number:" "ticket_not_contiguous" \
              "bad.csv:12: discount:" "bad.csv:13:" "field_count" \
              "bad.csv:15: description: control character 0x0A" \
              "bad.csv:17: price:" "bad.csv:18: price: '1?[31m'" \
              "13 errors: nothing imported"; do
    has "$tmp/err" "$want"
  done
  for good in 2 8 10 14 16; do
    grep -q "bad.csv:$good:" "$tmp/err" && fail "good line $good reported"
  done
  has "$tmp/out" "imported 0, skipped 0, errors 13"
  grep -q "$(printf '\033')" "$tmp/err" && fail "an escape character reached stderr"
fi
[ "$(count_of shop3)" = 0 ] && ok "bad file: every bad line, nothing imported" \
  || fail "bad file imported $(count_of shop3) tickets"

# ---- unterminated quote: reported with the line where it opened ----
printf '%s\nS01,1,2026-11-20T10:00:00,01,1,,Fine,50201712,H87,Pieza,1.00,true,IVA:0.16\nS01,2,2026-11-20T10:00:00,01,1,,"Never closed,50201712,H87,Pieza,1.00,true,IVA:0.16\nS01,3,2026-11-20T10:00:00,01,1,,x,50201712,H87,Pieza,1.00,true,IVA:0.16\n' "$H" >"$tmp/open.csv"
if expect_rc 2 "$bin" import tickets "$tmp/open.csv" --tenant shop3 --db "$db"; then
  has "$tmp/err" "open.csv:3: description: unterminated quoted field (opened on line 3"
fi
[ "$(count_of shop3)" = 0 ] && ok "unterminated quote refused" || fail "unterminated quote imported"

# ---- same folio, other content: an error line, and nothing else lands ----
{ echo "$H"
  echo "S01,1001,2026-11-20T13:45:00,01,2,,Café molido 500 g,50201712,H87,Pieza,116.00,true,IVA:0.16"
  echo "S01,1001,2026-11-20T13:45:00,01,1,,Pan dulce,50181900,H87,Pieza,15.60,true,IVA:0"
  echo "S09,1,2026-11-20T13:45:00,01,1,,New ticket,50181900,H87,Pieza,1.00,true,IVA:0"
} >"$tmp/conflict.csv"
if expect_rc 2 "$bin" import tickets "$tmp/conflict.csv" --tenant shop --db "$db"; then
  has "$tmp/err" "conflict.csv:2: folio_number: branch S01 already has a ticket with folio 1001 and different content"
  has "$tmp/err" "[folio_conflict]"
fi
[ "$(count_of shop)" = 6 ] && ok "conflicting folio refused, nothing imported" \
  || fail "conflict: $(count_of shop) tickets"

# ---- bounds: a ticket with more items than allowed ----
python3 - "$tmp/big-ticket.csv" "$H" <<'EOF'
import sys
with open(sys.argv[1], 'w') as f:
    f.write(sys.argv[2] + '\n')
    for i in range(1001):
        f.write('S01,77,2026-11-20T10:00:00,01,1,,Item %d,50201712,H87,Pieza,1.00,true,IVA:0.16\n' % i)
EOF
if expect_rc 2 "$bin" import tickets "$tmp/big-ticket.csv" --tenant shop4 --db "$db"; then
  has "$tmp/err" "big-ticket.csv:1002: a ticket may have at most 1000 items [too_many_items]"
fi

# ---- bounds: file size, checked before reading (a sparse file) ----
truncate -s 300M "$tmp/huge.csv"
if expect_rc 2 "$bin" import tickets "$tmp/huge.csv" --tenant shop4 --db "$db"; then
  has "$tmp/err" "more than the 268435456 allowed"
fi
rm -f "$tmp/huge.csv"

# ---- bounds: rows (lowered with --max-rows; the built-in maximum is 10^6) ----
if expect_rc 2 "$bin" import tickets "$src/data/examples/tickets.csv" \
     --tenant shop4 --db "$db" --max-rows 5; then
  has "$tmp/err" "tickets.csv:7: more than 5 rows [too_many_rows]"
fi
expect_rc 2 "$bin" import tickets "$src/data/examples/tickets.csv" \
  --tenant shop4 --db "$db" --max-rows 1000001

# ---- usage ----
expect_rc 0 "$bin" import --help && has "$tmp/out" "usage: facturo import tickets"
expect_rc 2 "$bin" import tickets "$src/data/examples/tickets.csv" --db "$db" \
  && has "$tmp/err" "--tenant SLUG"
expect_rc 2 "$bin" import tickets "$src/data/examples/tickets.csv" --tenant nobody --db "$db" \
  && has "$tmp/err" "no tenant 'nobody'"
expect_rc 2 "$bin" import tickets "$tmp/missing.csv" --tenant shop --db "$db"

# ---- progress bar: on a terminal only ----
if command -v script >/dev/null 2>&1; then
  script -qec "'$bin' import tickets '$src/data/examples/tickets.csv' --tenant shop5 --db '$db' --dry-run" \
    /dev/null >"$tmp/tty" 2>&1 </dev/null
  has "$tmp/tty" "importing ["
  has "$tmp/tty" "would import 6, skipped 0, errors 0"
  [ "$(count_of shop5)" = 0 ] && ok "dry run imports nothing" || fail "dry run imported"
  script -qec "'$bin' import tickets '$src/data/examples/tickets.csv' --tenant shop5 --db '$db' --dry-run --no-progress" \
    /dev/null >"$tmp/tty" 2>&1 </dev/null
  grep -q "importing \[" "$tmp/tty" && fail "--no-progress drew a bar"
  has "$tmp/tty" "would import 6, skipped 0, errors 0"
fi

# ---- SIGKILL in the middle of a large import (SQLite) ----
if [ "$backend" = sqlite ]; then
  python3 - "$tmp/large.csv" "$H" <<'EOF'
import sys
with open(sys.argv[1], 'w') as f:
    f.write(sys.argv[2] + '\n')
    for t in range(25000):
        for k in range(2):
            f.write('B%d,%d,2026-11-20T10:%02d:00,01,%d,,"Artículo %d, lote %d",50201712,H87,Pieza,%d.%02d,true,IVA:0.16\n'
                    % (t % 7, t, t % 60, k + 1, k, t, 10 + t % 90, t % 100))
EOF
  n=25000
  size=$(stat -c %s "$tmp/large.csv")
  # Kill once the importer has read 20 %, 50 % and 90 % of the file (its
  # read position, from /proc/PID/fdinfo): the whole file is read inside
  # the one transaction, so each kill lands in the middle of it.
  killed=0
  pstate() { awk '{print $3}' /proc/$1/stat 2>/dev/null; } # R, S, D, Z…
  for pct in 20 50 90; do
    "$bin" import tickets "$tmp/large.csv" --tenant shop4 --db "$db" >/dev/null 2>&1 &
    pid=$!
    pos=0
    i=0
    while [ $i -lt 3000 ]; do
      st=$(pstate $pid)
      { [ -z "$st" ] || [ "$st" = Z ]; } && break
      for fd in /proc/$pid/fd/*; do
        if [ "$(readlink "$fd" 2>/dev/null)" = "$tmp/large.csv" ]; then
          pos=$(awk '/^pos:/ {print $2}' /proc/$pid/fdinfo/${fd##*/} 2>/dev/null)
          break
        fi
      done
      [ "${pos:-0}" -ge $((size * pct / 100)) ] && break
      i=$((i + 1))
    done
    st=$(pstate $pid)
    if [ -n "$st" ] && [ "$st" != Z ] && [ "${pos:-0}" -lt "$size" ] \
       && kill -9 $pid 2>/dev/null; then
      killed=$((killed + 1))
      echo "killed at byte $pos of $size"
    fi
    wait $pid 2>/dev/null
    c=$(count_of shop4)
    [ "$c" = 0 ] || [ "$c" = $n ] || fail "SIGKILL at ${pct}% left $c of $n tickets"
  done
  [ "$(sql 'PRAGMA integrity_check')" = ok ] || fail "integrity_check after SIGKILL"
  [ $killed -ge 2 ] || fail "the import was killed mid-file only $killed time(s)"
  start=$(date +%s%N)
  if expect_rc 0 "$bin" import tickets "$tmp/large.csv" --tenant shop4 --db "$db"; then
    end=$(date +%s%N)
    echo "50,000 rows: $(cat "$tmp/out") in $(( (end - start) / 1000000 )) ms"
  fi
  [ "$(count_of shop4)" = $n ] && ok "SIGKILL mid-file ($killed times): nothing, then all $n" \
    || fail "after SIGKILL and re-run: $(count_of shop4) of $n"
fi

[ $fails -eq 0 ] && { echo "all import checks passed ($backend)"; exit 0; }
echo "$fails failure(s) ($backend)"
exit 1
