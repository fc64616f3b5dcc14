#!/bin/sh
# test_cli.sh — `facturo cfdi build` end to end, as an integrator runs it,
# on the JSON examples documented in docs/cfdi-json.md (examples/*.json).
# SAT: each output validates against SAT's XSD (xmllint, cfdi40-bundle.xsd),
# its cadena by SAT's XSLT (xsltproc) verifies the Sello with openssl, and
# `facturo cfdi verify` passes it (with --stamp sandbox too, TFD included).
# Bad input exits 2 with one line naming the field; --help exits 0.
set -u
BIN=${FACTURO_BIN:?}
SAT=${FACTURO_SHARED:?}/sat
EX=${FACTURO_SRC:?}/tests/cfdi_build/examples
D=$SAT/csd/EKU9003173C9
XSLT=$SAT/www.sat.gob.mx/sitio_internet/cfd/4/cadenaoriginal_4_0/cadenaoriginal_4_0.xslt
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
passed=0
ok () { passed=$((passed + 1)); }
bad () { echo "not ok: $*"; fails=$((fails + 1)); }
build () { "$BIN" cfdi build --cer "$D/EKU9003173C9.cer" --key "$D/EKU9003173C9.key" \
             --password-file "$D/password.txt" "$@"; }

"$BIN" cfdi build --help | grep -q 'usage: facturo cfdi build' && ok || bad "--help"

for ex in ingreso egreso pago global; do
  build --in "$EX/$ex.json" -o "$T/$ex.xml"; rc=$?
  [ $rc -eq 0 ] && ok || { bad "$ex: build exit $rc"; continue; }
  xmllint --nonet --noout --schema "$SAT/cfdi40-bundle.xsd" "$T/$ex.xml" 2>/dev/null \
    && ok || bad "$ex: XSD invalid"
  xsltproc --nonet "$XSLT" "$T/$ex.xml" > "$T/$ex.cad" 2>/dev/null
  "$BIN" cfdi cadena "$T/$ex.xml" > "$T/$ex.native" 2>/dev/null
  cmp -s "$T/$ex.cad" "$T/$ex.native" && ok || bad "$ex: cadena differs from XSLT"
  xmllint --nonet --xpath 'string(/*/@Certificado)' "$T/$ex.xml" | base64 -d > "$T/cert.der"
  openssl x509 -inform DER -in "$T/cert.der" -pubkey -noout > "$T/pub.pem"
  xmllint --nonet --xpath 'string(/*/@Sello)' "$T/$ex.xml" | base64 -d > "$T/sello.bin"
  openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sello.bin" "$T/$ex.cad" >/dev/null \
    && ok || bad "$ex: Sello does not verify with openssl"
  "$BIN" cfdi verify "$T/$ex.xml" > "$T/v" 2>&1 && ok || bad "$ex: verify: $(cat "$T/v")"
  # stamped in the sandbox
  build --in "$EX/$ex.json" --stamp sandbox -o "$T/$ex.s.xml" && ok || bad "$ex: stamp"
  "$BIN" cfdi verify "$T/$ex.s.xml" > "$T/v" 2>&1 && grep -q '^ok   tfd' "$T/v" \
    && ok || bad "$ex: stamped verify: $(cat "$T/v")"
done

# the documented totals of the examples
grep -q 'SubTotal="2100.00"' "$T/ingreso.xml" && grep -q 'Total="2078.33"' "$T/ingreso.xml" \
  && ok || bad "ingreso totals"
grep -q 'MontoTotalPagos="15000.00"' "$T/pago.xml" && grep -q 'TotalTrasladosBaseIVA16="12931.04"' "$T/pago.xml" \
  && ok || bad "pago totals"
grep -q '<cfdi:InformacionGlobal Periodicidad="04" Meses="10" Año="2026"/>' "$T/global.xml" \
  && grep -q 'Rfc="XAXX010101000" Nombre="PUBLICO EN GENERAL" DomicilioFiscalReceptor="42501" RegimenFiscalReceptor="616" UsoCFDI="S01"' "$T/global.xml" \
  && ok || bad "global receptor / InformacionGlobal"

# stdout when no -o
build --in "$EX/egreso.json" > "$T/stdout.xml" && grep -q '<cfdi:CfdiRelacionados TipoRelacion="01">' "$T/stdout.xml" \
  && ok || bad "stdout output"

# bad input: exit 2, one line naming the field
expect2 () { # name field json-edit
  name=$1; field=$2; shift 2
  sed "$@" "$EX/ingreso.json" > "$T/bad.json"
  build --in "$T/bad.json" -o "$T/bad.xml" > "$T/out" 2> "$T/err"; rc=$?
  [ $rc -eq 2 ] && ok || bad "$name: exit $rc"
  [ "$(wc -l < "$T/err")" -eq 1 ] && grep -qF "$field" "$T/err" && ok \
    || bad "$name: stderr '$(cat "$T/err")' does not name $field"
  [ -e "$T/bad.xml" ] && bad "$name: wrote output" || ok
}
# Fecha against the certificate (valid 2023-05-18T11:43:51Z ..
# 2027-05-18T11:43:51Z): Fecha has no zone, so it passes if some offset of
# Mexico's, UTC-5 to UTC-8, puts it inside (the rule of cfdi verify).
for f in 2023-05-18T04:43:51 2027-05-18T06:43:51; do
  sed "s/2026-11-20T10:00:00/$f/" "$EX/ingreso.json" > "$T/edge.json"
  if build --in "$T/edge.json" -o "$T/edge.xml" 2> "$T/err"; then
    ok
    "$BIN" cfdi verify "$T/edge.xml" > "$T/v" 2>&1 && grep -q '^ok   fecha' "$T/v" \
      && ok || bad "Fecha $f: verify disagrees: $(cat "$T/v")"
  else
    bad "Fecha $f (inside at UTC-8 / UTC-5) refused: $(cat "$T/err")"
  fi
done
expect2 before-validity 'date' -e 's/2026-11-20T10:00:00/2023-05-18T02:43:51/'
expect2 after-validity 'date' -e 's/2026-11-20T10:00:00/2027-05-18T06:43:52/'
expect2 price 'items[0].product.price' -e 's/"348.00"/"3.4.8"/'
expect2 rfc 'customer.tax_id' -e 's/URE180429TM6/URE18O429TM6/'
expect2 regime 'customer.tax_system' -e '/URE180429TM6/{n;n;s/"601"/"612"/}'
expect2 use 'use' -e 's/"G03"/"Z99"/'
expect2 zip 'issuer.address.zip' -e 's/"42501"/"4250"/'
expect2 unknown 'items[1].product.colour' -e 's/"Consultoría",/"Consultoría", "colour": "red",/'
expect2 rate 'items[1].product.taxes[0]' -e 's/"rate": "0.16"/"rate": "0.15"/'
expect2 date 'date' -e 's/2026-11-20T10:00:00/2026-02-30T10:00:00/'
expect2 ppd 'payment_form' -e 's/"PUE"/"PPD"/'

printf '{"type": "I", ' > "$T/trunc.json"
build --in "$T/trunc.json" 2> "$T/err" >/dev/null; rc=$?
[ $rc -eq 2 ] && grep -q 'invalid JSON' "$T/err" && ok || bad "truncated JSON: exit $rc"

echo wrong > "$T/pw"
"$BIN" cfdi build --in "$EX/ingreso.json" --cer "$D/EKU9003173C9.cer" --key "$D/EKU9003173C9.key" \
  --password-file "$T/pw" > /dev/null 2> "$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && ok || bad "wrong password: exit $rc $(cat "$T/err")"

C=$SAT/csd/CACX7605101P8
"$BIN" cfdi build --in "$EX/ingreso.json" --cer "$C/CACX7605101P8.cer" --key "$C/CACX7605101P8.key" \
  --password-file "$C/password.txt" > /dev/null 2> "$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'issuer.tax_id' "$T/err" && ok || bad "other RFC's CSD: exit $rc $(cat "$T/err")"

"$BIN" cfdi build --in "$EX/ingreso.json" > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok || bad "missing options: exit $rc"
build --in "$EX/ingreso.json" --bogus x > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok || bad "unknown option: exit $rc"

echo "$passed passed, $fails failed"
[ $fails -eq 0 ]
