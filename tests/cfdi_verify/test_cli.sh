#!/bin/sh
# test_cli.sh — `facturo cfdi verify` and `facturo cfdi cadena` as a user
# runs them, on SAT's samples (../shared/sat/samples).
# SAT: each sample verifies (exit 0, every line "ok"); a copy with one
# character changed in an amount, a name or the Sello fails (exit 1,
# "FAIL sello"); `cadena` prints exactly <name>.cadena.txt and `cadena --tfd`
# exactly <name>.tfd-cadena.txt; bad usage and non-XML exit 2; a CFDI
# built and stamped by facturo's sandbox PAC verifies with the "sandbox
# stamp: no fiscal validity" note, and fails once its UUID is changed.
set -u
BIN=${FACTURO_BIN:?}
S=${FACTURO_SHARED:?}/sat/samples
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
passed=0
ok () { passed=$((passed + 1)); }
bad () { echo "not ok: $*"; fails=$((fails + 1)); }

n=0
for f in "$S"/*.xml; do
  n=$((n + 1))
  name=$(basename "$f" .xml)
  out=$("$BIN" cfdi verify "$f"); rc=$?
  [ $rc -eq 0 ] && ok || bad "$name: verify exit $rc: $out"
  echo "$out" | grep -v '^ok   \|^skip tfd' >/dev/null && bad "$name: non-ok line: $out"
  echo "$out" | grep -q '^ok   sello$' && ok || bad "$name: no 'ok   sello'"

  "$BIN" cfdi cadena "$f" > "$T/c" && cmp -s "$T/c" "$S/$name.cadena.txt" && ok \
    || bad "$name: cadena differs from $name.cadena.txt"
  if [ -f "$S/$name.tfd-cadena.txt" ]; then
    "$BIN" cfdi cadena --tfd "$f" > "$T/t" && cmp -s "$T/t" "$S/$name.tfd-cadena.txt" && ok \
      || bad "$name: TFD cadena differs"
  else
    "$BIN" cfdi cadena --tfd "$f" > /dev/null 2>&1; rc=$?
    [ $rc -eq 1 ] && ok || bad "$name: cadena --tfd on unstamped: exit $rc"
  fi

  # one character changed: an amount (first digit of Total), a name
  # (second letter of the first Nombre), the Sello (11th character)
  sed 's/ Total="\([0-8]\)/ Total="9\1/' "$f" > "$T/amount.xml"
  sed 's/ Nombre="\(.\)./ Nombre="\1Q/' "$f" > "$T/name.xml"
  sed 's/ Sello="\(..........\)./ Sello="\1\//' "$f" > "$T/sello.xml"
  for m in amount name sello; do
    cmp -s "$f" "$T/$m.xml" && { bad "$name: $m edit did not apply"; continue; }
    out=$("$BIN" cfdi verify "$T/$m.xml"); rc=$?
    [ $rc -eq 1 ] && ok || bad "$name: $m changed: exit $rc"
    echo "$out" | grep -q '^FAIL sello: ' && ok || bad "$name: $m changed: no FAIL sello: $out"
  done
done
[ $n -ge 8 ] && ok || bad "only $n samples"

# usage and input errors
"$BIN" cfdi verify > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no FILE: not exit 2"
"$BIN" cfdi verify --help | grep -q '^usage: facturo cfdi verify' && ok || bad "verify --help"
"$BIN" cfdi cadena --help | grep -q '^usage: facturo cfdi cadena' && ok || bad "cadena --help"
"$BIN" cfdi verify "$T/missing.xml" 2>/dev/null; [ $? -eq 2 ] && ok || bad "missing file: not exit 2"
printf '<a' > "$T/broken.xml"
"$BIN" cfdi verify "$T/broken.xml" 2>/dev/null; [ $? -eq 2 ] && ok || bad "broken XML: not exit 2"
"$BIN" cfdi cadena "$T/broken.xml" 2>/dev/null; [ $? -eq 2 ] && ok || bad "cadena broken XML: not exit 2"
"$BIN" cfdi verify - < "$S/pago20-sealed.xml" > /dev/null && ok || bad "stdin"

# facturo's own sandbox stamps (the builder's examples, SAT's test CSD):
# verify passes and says plainly that the stamp has no fiscal validity.
EX=${FACTURO_SRC:-.}/tests/cfdi_build/examples
D=${FACTURO_SHARED}/sat/csd/EKU9003173C9
if [ -d "$EX" ] && "$BIN" cfdi build --help >/dev/null 2>&1; then
  for j in "$EX"/*.json; do
    name=$(basename "$j" .json)
    if "$BIN" cfdi build --in "$j" --cer "$D/EKU9003173C9.cer" --key "$D/EKU9003173C9.key" \
        --password-file "$D/password.txt" --stamp sandbox -o "$T/$name.xml" 2>"$T/err"; then
      out=$("$BIN" cfdi verify "$T/$name.xml"); rc=$?
      [ $rc -eq 0 ] && ok || bad "sandbox $name: verify exit $rc: $out"
      echo "$out" | grep -q '^note sandbox stamp: no fiscal validity' && ok \
        || bad "sandbox $name: no sandbox note: $out"
      # the stamp's own seal: one character of the UUID changed
      sed 's/\(TimbreFiscalDigital[^>]* UUID="...\)[^0]/\10/' "$T/$name.xml" > "$T/u.xml"
      cmp -s "$T/$name.xml" "$T/u.xml" \
        && sed 's/\(TimbreFiscalDigital[^>]* UUID="...\)0/\11/' "$T/$name.xml" > "$T/u.xml"
      if cmp -s "$T/$name.xml" "$T/u.xml"; then
        bad "sandbox $name: UUID edit did not apply"
      else
        out=$("$BIN" cfdi verify "$T/u.xml"); rc=$?
        [ $rc -eq 1 ] && echo "$out" | grep -q '^FAIL sellosat: ' && ok \
          || bad "sandbox $name: changed UUID not caught: $out"
      fi
    else
      echo "note: cfdi build $name failed: $(cat "$T/err")"
    fi
  done
fi

echo "$passed passed, $fails failed"
[ $fails -eq 0 ]
