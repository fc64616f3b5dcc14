#!/bin/sh
# test_cli.sh BACKEND — the admin commands of src/store/admin.c, run as a
# user would: exit 0 and the expected effect for good input, exit 2 and one
# stderr line naming the option for bad input (DESIGN invariant 6), and
# nothing changed by a refused command.  BACKEND is sqlite (temp dir) or pg
# (a fresh schema in FACTURO_TEST_PG; 77 without it unless
# FACTURO_REQUIRE_PG=1).
set -u
F=${FACTURO_BIN:?}
SAT=${FACTURO_SHARED:?}/sat/csd
backend=${1:-sqlite}
tmp=$(mktemp -d /tmp/facturo-cli.XXXXXX)
fails=0
schema=""
cleanup() {
  [ -n "$schema" ] && psql -q "$FACTURO_TEST_PG" -c "SET client_min_messages=warning; DROP SCHEMA $schema CASCADE" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ "$backend" = pg ]; then
  if [ -z "${FACTURO_TEST_PG:-}" ]; then
    echo "FACTURO_TEST_PG not set" >&2
    [ "${FACTURO_REQUIRE_PG:-}" = 1 ] && exit 1
    exit 77
  fi
  schema=cli_$$_$(date +%s)
  psql -q "$FACTURO_TEST_PG" -c "CREATE SCHEMA $schema" || exit 1
  case $FACTURO_TEST_PG in *\?*) sep='&' ;; *) sep='?' ;; esac
  export FACTURO_DB="${FACTURO_TEST_PG}${sep}options=-csearch_path%3D$schema"
  export FACTURO_SECRET_KEY_FILE="$tmp/master.secret"
else
  export FACTURO_DB="sqlite:$tmp/cli.db"
fi
unset FACTURO_SECRET_KEY
cd "$tmp" || exit 1

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# ok CMD...: must exit 0
ok() {
  "$F" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 0 ] || fail "expected 0, got $rc: facturo $* ($(cat "$tmp/err"))"
}
# bad WORD CMD...: must exit 2 with exactly one stderr line containing WORD
bad() {
  [ "$1" = "--" ] && shift
  word=$1; shift
  "$F" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 2 ] || fail "expected 2, got $rc: facturo $*"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "expected one stderr line: facturo $*: $(cat "$tmp/err")"
  grep -q -- "$word" "$tmp/err" || fail "stderr does not name '$word': facturo $*: $(cat "$tmp/err")"
}

# --help everywhere
for c in migrate demo "tenant" "tenant create" "tenant csd" "tenant set" \
         "tenant brand" "tenant list" "branch" "branch add" "user" "user add" "apikey" \
         "apikey create" "apikey list"; do
  # shellcheck disable=SC2086
  ok $c --help
  grep -q usage "$tmp/out" || fail "no usage from facturo $c --help"
done

ok migrate
grep -q "schema version [1-9]" "$tmp/out" || fail "migrate output: $(cat "$tmp/out")"
ok migrate
grep -q "(0 migrations applied)" "$tmp/out" || fail "second migrate applied something"

# concurrent migrations of a fresh database: all succeed, exactly one applies
if [ "$backend" = sqlite ]; then
  pdb="sqlite:$tmp/par.db"
else
  psql -q "$FACTURO_TEST_PG" -c "CREATE SCHEMA ${schema}_par" || fail "create schema"
  pdb="${FACTURO_TEST_PG}${sep}options=-csearch_path%3D${schema}_par"
fi
for i in 1 2 3 4 5; do
  ("$F" migrate --db "$pdb" >"$tmp/par$i" 2>&1; echo "rc=$?" >>"$tmp/par$i") &
done
wait
[ "$(cat "$tmp"/par? | grep -c '^rc=0$')" -eq 5 ] || fail "parallel migrate: $(cat "$tmp"/par?)"
# every migration applied exactly once: the counts add up to the version
applied=$(cat "$tmp"/par? | sed -n 's/.*(\([0-9]*\) migrations\{0,1\} applied).*/\1/p' | awk '{s+=$1} END {print s+0}')
version=$(cat "$tmp"/par? | sed -n 's/^schema version \([0-9]*\) .*/\1/p' | sort -n | tail -1)
[ "$applied" -eq "${version:-0}" ] && [ "$applied" -ge 1 ] || fail "parallel migrate applied twice: $(cat "$tmp"/par?)"
[ "$backend" = pg ] && psql -q "$FACTURO_TEST_PG" -c "SET client_min_messages=warning; DROP SCHEMA ${schema}_par CASCADE" >/dev/null

# tenant create
ok tenant create --slug acme --rfc EKU9003173C9 --name "ESCUELA KEMPER URGATE" --regime 601 --zip 42501
bad -- --slug tenant create --slug acme --rfc EKU9003173C9 --name X --regime 601 --zip 42501
bad -- --rfc tenant create --slug b1 --rfc NOTANRFC --name X --regime 601 --zip 42501
bad -- --regime tenant create --slug b2 --rfc EKU9003173C9 --name X --regime 999 --zip 42501
bad -- --regime tenant create --slug b3 --rfc EKU9003173C9 --name X --regime 605 --zip 42501
bad -- --zip tenant create --slug b4 --rfc EKU9003173C9 --name X --regime 601 --zip 4250
bad -- --slug tenant create --slug "Bad Slug" --rfc EKU9003173C9 --name X --regime 601 --zip 42501
bad -- required tenant create --slug b5
bad -- unknown tenant create --bogus 1
bad -- unknown tenant frobnicate
ok tenant list
[ "$(grep -c EKU9003173C9 "$tmp/out")" -eq 1 ] || fail "tenant list: $(cat "$tmp/out")"
grep -q " b[1-5] " "$tmp/out" && fail "a refused tenant was created"

# tenant set
ok tenant set --tenant acme --window-days 3 --periodicity 04 --timezone America/Tijuana --series F --stamp sandbox
grep -q "window 3 days, periodicity 04, timezone America/Tijuana, series F, stamp sandbox" "$tmp/out" || fail "tenant set: $(cat "$tmp/out")"
bad -- --window-days tenant set --tenant acme --window-days 0
bad -- --window-days tenant set --tenant acme --window-days 3x
bad -- --periodicity tenant set --tenant acme --periodicity 09
bad -- --timezone tenant set --tenant acme --timezone Mars/Olympus
bad -- --timezone tenant set --tenant acme --timezone ../../etc/passwd
bad -- --series tenant set --tenant acme --series "A B"
bad -- --stamp tenant set --tenant acme --stamp mypac
bad -- --tenant tenant set --tenant nobody --window-days 2
ok tenant set --tenant acme --window-days 5
grep -q "window 5 days, periodicity 04, timezone America/Tijuana, series F" "$tmp/out" || fail "tenant set kept settings: $(cat "$tmp/out")"

# tenant brand: merged into the branding JSON (other keys such as "mail"
# kept), checked before anything is written
sql() {
  if [ "$backend" = sqlite ]; then
    sqlite3 "$tmp/cli.db" "$1"
  else
    psql -qtAX "$FACTURO_TEST_PG" -c "SET search_path TO $schema" -c "$1"
  fi
}
brand() { sql "SELECT COALESCE(branding, '') FROM tenants WHERE slug = 'acme'"; }
sql "UPDATE tenants SET branding = '{\"mail\":{\"from\":\"f@acme.mx\"},\"x\":1}' WHERE slug = 'acme'"
python3 - "$tmp" <<'PY'
import struct, sys, zlib
d = sys.argv[1]
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
w, h = 24, 12
raw = b"".join(b"\0" + bytes([20, 90, 160]) * w for y in range(h))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(d + "/logo.png", "wb").write(png)
open(d + "/logo.jpg", "wb").write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9")
open(d + "/big.png", "wb").write(png[:8] + b"\x00" * (256 * 1024 - 7))
open(d + "/edge.png", "wb").write(png[:8] + b"\x00" * (256 * 1024 - 8))
open(d + "/logo.gif", "wb").write(b"GIF89a" + b"\x00" * 32)
PY
ok tenant brand --tenant acme --display-name "Cafetería Acme" --color "#7a1f3d" --accent "#FBEFF3" --logo "$tmp/logo.png"
grep -q "display name Cafetería Acme, color #7a1f3d, accent #FBEFF3, logo image/png" "$tmp/out" || fail "tenant brand: $(cat "$tmp/out")"
brand >"$tmp/b1"
python3 - "$tmp/b1" "$tmp/logo.png" <<'PY' || fail "tenant brand stored: $(cut -c1-200 "$tmp/b1")"
import base64, json, sys
b = json.load(open(sys.argv[1]))
logo = open(sys.argv[2], "rb").read()
assert b["mail"] == {"from": "f@acme.mx"} and b["x"] == 1, b
assert b["display_name"] == "Cafetería Acme" and b["color"] == "#7a1f3d" and b["accent"] == "#FBEFF3", b
pre = "data:image/png;base64,"
assert b["logo"].startswith(pre) and base64.b64decode(b["logo"][len(pre):]) == logo
PY
bad -- --color tenant brand --tenant acme --color red
bad -- --color tenant brand --tenant acme --color "#12345"
bad -- --color tenant brand --tenant acme --color "#12345g" --display-name Other
bad -- --accent tenant brand --tenant acme --accent 7a1f3d0
bad -- --logo tenant brand --tenant acme --logo "$tmp/logo.gif" --color "#000000"
bad -- --logo tenant brand --tenant acme --logo "$tmp/test_cli_nothing.png"
bad -- "256 KiB" tenant brand --tenant acme --logo "$tmp/big.png"
bad -- --display-name tenant brand --tenant acme --display-name "$(printf 'a\tb')"
bad -- --tenant tenant brand --tenant ghost --color "#000000"
bad -- --tenant tenant brand --color "#000000"
bad -- unknown tenant brand --tenant acme --colour "#000000"
brand >"$tmp/b2"
cmp -s "$tmp/b1" "$tmp/b2" || fail "a refused tenant brand changed the branding"
ok tenant brand --tenant acme --logo "$tmp/edge.png"
grep -q "logo image/png 262144 bytes" "$tmp/out" || fail "a logo of exactly 256 KiB: $(cat "$tmp/out")"
ok tenant brand --tenant acme --logo "$tmp/logo.jpg" --accent ""
brand >"$tmp/b3"
python3 - "$tmp/b3" <<'PY' || fail "tenant brand JPEG / removal: $(cut -c1-200 "$tmp/b3")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["logo"].startswith("data:image/jpeg;base64,") and "accent" not in b, b
assert b["color"] == "#7a1f3d" and b["mail"] == {"from": "f@acme.mx"} and b["x"] == 1, b
PY
ok tenant brand --tenant acme
grep -q "color #7a1f3d, accent -, logo image/jpeg" "$tmp/out" || fail "tenant brand without options: $(cat "$tmp/out")"

# tenant csd
E=$SAT/EKU9003173C9
C=$SAT/CACX7605101P8
printf 'wrongpass\n' >"$tmp/wrong.txt"
bad -- --password-file tenant csd --tenant acme --cer "$E/EKU9003173C9.cer" --key "$E/EKU9003173C9.key" --password-file "$tmp/wrong.txt"
bad -- "RFC CACX7605101P8" tenant csd --tenant acme --cer "$C/CACX7605101P8.cer" --key "$C/CACX7605101P8.key" --password-file "$C/password.txt"
bad -- --key tenant csd --tenant acme --cer "$E/EKU9003173C9.cer" --key "$C/CACX7605101P8.key" --password-file "$C/password.txt"
bad -- --cer tenant csd --tenant acme --cer "$tmp/nonexistent.cer" --key "$E/EKU9003173C9.key" --password-file "$E/password.txt"
bad -- --password-file tenant csd --tenant acme --cer "$E/EKU9003173C9.cer" --key "$E/EKU9003173C9.key" --password-file "$tmp/none.txt"
exp=$(ls -d "$SAT"/expired/*/ | head -n 1)
ecer=$(ls "$exp"*.cer | head -n 1); ekey=$(ls "$exp"*.key | head -n 1)
epw="$exp/password.txt"
if [ -f "$ecer" ] && [ -f "$ekey" ] && [ -f "$epw" ]; then
  "$F" tenant create --slug old --rfc "$(basename "$ecer" .cer)" --name OLD --regime 612 --zip 01000 >/dev/null 2>&1 ||
    "$F" tenant create --slug old --rfc "$(basename "$ecer" .cer)" --name OLD --regime 601 --zip 01000 >/dev/null 2>&1
  bad -- --cer tenant csd --tenant old --cer "$ecer" --key "$ekey" --password-file "$epw"
  grep -qi "expired\|venci" "$tmp/err" || fail "expired CSD not reported as such: $(cat "$tmp/err")"
fi
ok tenant list
grep acme "$tmp/out" | grep -q 30001000000500003416 && fail "a refused CSD was installed"
ok tenant csd --tenant acme --cer "$E/EKU9003173C9.cer" --key "$E/EKU9003173C9.key" --password-file "$E/password.txt"
ok tenant list
grep acme "$tmp/out" | grep -q 30001000000500003416 || fail "CSD not shown in tenant list"
if [ "$backend" = sqlite ]; then
  [ "$(stat -c %a "$tmp/cli.db.secret")" = 600 ] || fail "master key file not 0600"
  grep -c "12345678a" "$tmp/cli.db" >/dev/null && fail "CSD password stored in the clear"
else
  [ "$(stat -c %a "$tmp/master.secret")" = 600 ] || fail "master key file not 0600"
fi

# branch
ok branch add --tenant acme --code S01 --name "Sucursal Uno" --zip 06000
bad -- --code branch add --tenant acme --code S01 --name Again
bad -- --zip branch add --tenant acme --code S02 --name Dos --zip 6000
bad -- --code branch add --tenant acme --code "S 3" --name Tres
bad -- --tenant branch add --tenant ghost --code S04 --name Cuatro
ok branch list --tenant acme
[ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -q "S01" "$tmp/out" || fail "branch list: $(cat "$tmp/out")"

# user
printf 'a long enough password\n' | "$F" user add --tenant acme --email Ana@Example.com --role admin >"$tmp/out" 2>"$tmp/err" ||
  fail "user add from stdin: $(cat "$tmp/err")"
grep -q "ana@example.com (admin)" "$tmp/out" || fail "user add output: $(cat "$tmp/out")"
printf 'another long password\n' >"$tmp/pw.txt"
ok user add --tenant acme --email bob@example.com --role viewer --password-file "$tmp/pw.txt"
bad -- --email user add --tenant acme --email ana@example.com --role staff --password-file "$tmp/pw.txt"
bad -- --role user add --tenant acme --email c@example.com --role root --password-file "$tmp/pw.txt"
bad -- --email user add --tenant acme --email not-an-email --role staff --password-file "$tmp/pw.txt"
printf 'short\n' >"$tmp/short.txt"
bad -- password user add --tenant acme --email d@example.com --role staff --password-file "$tmp/short.txt"
if [ "$backend" = sqlite ]; then
  [ "$(sqlite3 "$tmp/cli.db" "SELECT COUNT(*) FROM users")" = 2 ] || fail "users count"
  sqlite3 "$tmp/cli.db" "SELECT pwhash FROM users" | grep -qv '^\$argon2id\$' && fail "password not argon2id"
  sqlite3 "$tmp/cli.db" "SELECT pwhash FROM users" | grep -q "long" && fail "password stored in the clear"
fi

# apikey
ok apikey create --tenant acme --name pos
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "apikey create printed more than the key"
key=$(cat "$tmp/out")
echo "$key" | grep -Eq '^fk_[0-9a-f]{16}_[0-9a-f]{64}$' || fail "key format: $key"
[ -s "$tmp/err" ] && fail "apikey create wrote to stderr: $(cat "$tmp/err")"
prefix=$(echo "$key" | cut -c4-19)
ok apikey list --tenant acme
grep "$prefix" "$tmp/out" | grep -q active || fail "apikey list: $(cat "$tmp/out")"
grep -q "$key" "$tmp/out" && fail "apikey list shows the secret"
ok apikey revoke --tenant acme "$prefix"
bad -- PREFIX apikey revoke --tenant acme "$prefix"
bad -- PREFIX apikey revoke --tenant acme nothex
bad -- PREFIX apikey revoke --tenant acme
ok apikey list --tenant acme
grep "$prefix" "$tmp/out" | grep -q revoked || fail "revoked key not shown as revoked"

# demo, twice
ok demo
grep -q "fk_" "$tmp/err" || fail "demo did not show the new API key"
ok demo
grep -q "fk_" "$tmp/err" && fail "second demo showed a key again"
grep -q "0 new tickets" "$tmp/err" || fail "second demo added tickets: $(cat "$tmp/err")"
ok tenant list
grep "^demo " "$tmp/out" | grep -q 30001000000500003416 || fail "demo CSD: $(cat "$tmp/out")"
if [ "$backend" = sqlite ]; then
  [ "$(sqlite3 "$tmp/cli.db" "SELECT COUNT(*) FROM tickets t JOIN tenants n ON n.id = t.tenant_id WHERE n.slug = 'demo'")" = 5 ] || fail "demo tickets"
  [ "$(sqlite3 "$tmp/cli.db" "SELECT total FROM tickets WHERE folio_number = 'M-1001'")" = 122500000 ] || fail "demo ticket total (2 x 45.00 + 32.50 = 122.50)"
fi
ok branch list --tenant demo
[ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "demo branches: $(cat "$tmp/out")"
rm -f "$tmp/k.txt"
if [ "$backend" = sqlite ]; then
  FACTURO_DB="sqlite:$tmp/cli2.db" "$F" demo --key-file "$tmp/k.txt" 2>"$tmp/err" >/dev/null || fail "demo --key-file"
  grep -Eq '^fk_[0-9a-f]{16}_[0-9a-f]{64}$' "$tmp/k.txt" || fail "demo key file"
  [ "$(stat -c %a "$tmp/k.txt")" = 600 ] || fail "demo key file mode"
  grep -q "fk_" "$tmp/err" && fail "demo --key-file also printed the key"
fi

# --db on the command line wins over FACTURO_DB
if [ "$backend" = sqlite ]; then
  ok migrate --db "sqlite:$tmp/other.db"
  [ -f "$tmp/other.db" ] || fail "--db ignored"
  bad -- unexpected migrate extra
fi

if [ $fails -ne 0 ]; then
  echo "$fails failure(s)" >&2
  exit 1
fi
echo "admin CLI ($backend): all checks passed"
