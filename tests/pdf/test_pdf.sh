#!/bin/sh
# test_pdf.sh — `facturo cfdi pdf` read back with poppler-utils and zbar:
# every SAT sample renders and its text (pdftotext) carries the UUID, the
# RFCs, the names (accents included), the total and the amount in words;
# the QR decoded from a rendered page (pdftoppm + zbarimg) is SAT's exact
# verification URL; a 300-item invoice flows over pages with the table
# header on each; fonts are embedded; Letter vs A4; SIN VALIDEZ FISCAL on
# every page of unstamped and sandbox-stamped documents only; logos; bad
# input exits 2 with one line on stderr.
set -eu
BIN=${FACTURO_BIN:?}
S=${FACTURO_SHARED:?}/sat/samples
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
n=0
fail () { echo "FAIL: $*" >&2; exit 1; }
ok () { n=$((n + 1)); }
for t in pdftotext pdftoppm pdfinfo pdffonts zbarimg xmllint python3; do
  command -v $t >/dev/null || { echo "skip: $t missing" >&2; exit 77; }
done

# Text of a PDF (or of page $2) as one line, runs of blanks squeezed;
# extracted once per file and page (every PDF here has its own name).
text () {
  _c=$1.${2:-all}.txt
  if [ ! -f "$_c" ]; then
    if [ $# -gt 1 ]; then pdftotext -f "$2" -l "$2" "$1" - 2>/dev/null
    else pdftotext "$1" - 2>/dev/null; fi | tr '\n\f' '  ' | tr -s ' ' > "$_c"
  fi
  cat "$_c"
}
has () { # file needle [page]
  _f=$1; _s=$2; shift 2
  text "$_f" "$@" | grep -F -q -- "$_s" || fail "$(basename "$_f") ${1:+page $1 }lacks: $_s"
  ok
}
lacks () {
  text "$1" | grep -F -q -- "$2" && fail "$(basename "$1") should not show: $2"
  ok
}
x () { xmllint --nonet --xpath "string($2)" "$1"; }
pages () { pdfinfo "$1" 2>/dev/null | sed -n 's/^Pages: *//p'; }

# --- every sample in the folder renders --------------------------------
for in in "$S"/*.xml; do
  a=$W/any-$(basename "$in" .xml).pdf
  "$BIN" cfdi pdf "$in" -o "$a" || fail "$in: exit $?"
  has "$a" "$(x "$in" '/*/*[local-name()="Emisor"]/@Rfc')"
done

# --- every sample: identity, totals, amount in words ------------------
# name | total as printed | amount in words
while IFS='|' read -r name total words; do
  [ -n "$name" ] || continue
  in=$S/$name.xml out=$W/$name.pdf
  "$BIN" cfdi pdf "$in" -o "$out" || fail "$name: exit $?"
  has "$out" "$total"
  has "$out" "$words"
  has "$out" "$(x "$in" '/*/*[local-name()="Emisor"]/@Rfc')"
  has "$out" "$(x "$in" '/*/*[local-name()="Receptor"]/@Rfc')"
  has "$out" "$(x "$in" '/*/*[local-name()="Emisor"]/@Nombre')"
  has "$out" "$(x "$in" '/*/*[local-name()="Receptor"]/@Nombre')"
  has "$out" "Régimen fiscal: $(x "$in" '/*/*[local-name()="Emisor"]/@RegimenFiscal') "
  uuid=$(x "$in" '//*[local-name()="TimbreFiscalDigital"]/@UUID')
  if [ -n "$uuid" ]; then
    has "$out" "$uuid"
    has "$out" "$(x "$in" '//*[local-name()="TimbreFiscalDigital"]/@NoCertificadoSAT')"
    has "$out" "$(x "$in" '//*[local-name()="TimbreFiscalDigital"]/@FechaTimbrado')"
    has "$out" "Cadena original del complemento de certificación digital del SAT"
    # the TFD cadena, as SAT's XSLT gives it, printed (wrapped) in full
    has "$out" "$(cut -c1-60 "$S/$name.tfd-cadena.txt")"
  fi
  [ "$(pages "$out")" -ge 1 ] || fail "$name: no pages"
done <<'EOF'
egreso-constructed|$116.00|CIENTO DIECISÉIS PESOS 00/100 M.N.
global-constructed|$406.00|CUATROCIENTOS SEIS PESOS 00/100 M.N.
ingreso-real-production|$1,000.00|MIL PESOS 00/100 M.N.
ingreso-test-stamped-cfdiutils|$3,327.01|TRES MIL TRESCIENTOS VEINTISIETE PESOS 01/100 M.N.
ingreso-test-stamped-finkok|$1,191.95|MIL CIENTO NOVENTA Y UN PESOS 95/100 M.N.
ingreso-test-stamped-sw|$10.00|DIEZ PESOS 00/100 M.N.
ingreso-usd-discounts-sealed|$3,248.00|TRES MIL DOSCIENTOS CUARENTA Y OCHO DÓLARES 00/100 USD
pago20-sealed|$15,000.00|QUINCE MIL PESOS 00/100 M.N.
EOF

# accents, ñ and & from the XML come back as text
has "$W/egreso-constructed.pdf" "Bonificación por pronto pago (año 2025, ñandú & más)"
has "$W/ingreso-usd-discounts-sealed.pdf" "Carlos Cortés Soto"
has "$W/ingreso-test-stamped-sw.pdf" "UNIVERSIDAD ROBOTICA ESPAÑOLA"
# catalog descriptions, payment data
has "$W/ingreso-test-stamped-finkok.pdf" "Método de pago: PPD Pago en parcialidades o diferido"
has "$W/ingreso-test-stamped-finkok.pdf" "Forma de pago: 99 Por definir"
has "$W/ingreso-test-stamped-finkok.pdf" "Uso del CFDI: G03 Gastos en general"
has "$W/ingreso-test-stamped-finkok.pdf" "Retención ISR Tasa 10%"
has "$W/ingreso-test-stamped-finkok.pdf" "ISR retenido"
has "$W/ingreso-test-stamped-finkok.pdf" "Serie: T Folio: 1000"
has "$W/ingreso-usd-discounts-sealed.pdf" "Tipo de cambio:"
has "$W/ingreso-usd-discounts-sealed.pdf" "Moneda: USD Dólar americano"
has "$W/global-constructed.pdf" "Información global: Periodicidad 01"
has "$W/egreso-constructed.pdf" "CFDI relacionados: 01"
# Pagos 2.0: payment and its related documents
p=$W/pago20-sealed.pdf
has "$p" "RECIBO ELECTRÓNICO DE PAGO"
has "$p" "00000000-1111-2222-3333-00000000000A"
has "$p" "00000000-1111-2222-3333-00000000000B"
has "$p" "Forma de pago 03 Transferencia electrónica de fondos"
has "$p" "\$12,000.00"
has "$p" "\$7,000.00"
has "$p" "Núm. operación 963852"

# Parte and implocal (impuestos locales) added to a stamped sample
python3 - "$S/ingreso-test-stamped-sw.xml" "$W/il.xml" <<'PY'
import sys
s = open(sys.argv[1], encoding="utf-8").read()
s = s.replace("<cfdi:Complemento>", '<cfdi:Complemento><implocal:ImpuestosLocales '
    'xmlns:implocal="http://www.sat.gob.mx/implocal" version="1.0" TotaldeRetenciones="0.00" '
    'TotaldeTraslados="0.30"><implocal:TrasladosLocales ImpLocTrasladado="ISH" '
    'TasadeTraslado="3.00" Importe="0.30"/></implocal:ImpuestosLocales>', 1)
i = s.index("<cfdi:Concepto "); j = s.index(">", i)
assert s[j - 1] == "/"
s = s[:j - 1] + '><cfdi:Parte ClaveProdServ="50211503" Cantidad="2" Descripcion="Pieza ñ" ' \
    'Importe="5.00"/></cfdi:Concepto>' + s[j + 1:]
open(sys.argv[2], "w", encoding="utf-8").write(s)
PY
"$BIN" cfdi pdf "$W/il.xml" -o "$W/il.pdf"
has "$W/il.pdf" "Parte: 50211503 · 2 · Pieza ñ · \$5.00"
has "$W/il.pdf" "ISH trasladado 3.00%"
has "$W/il.pdf" "\$0.30"

# characters beyond the BMP (libharu cannot draw them) do not cut the text
sed 's/Descripcion="[^"]*"/Descripcion="Café ☕ 😀 sigue después 中文 fin"/' \
  "$S/ingreso-test-stamped-sw.xml" > "$W/emoji.xml"
"$BIN" cfdi pdf "$W/emoji.xml" -o "$W/emoji.pdf"
has "$W/emoji.pdf" "sigue después 中文 fin"

# --- QR: SAT's URL, exactly as shared/sat/README.md §6 gives it --------
want='https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id=C2832671-DA6D-11EF-A83D-00155D012007&re=ISD950921HE5&rr=COSC8001137NA&tt=1000.0&fe=hNjeNw=='
pdftoppm -r 150 -f 1 -l 1 -png "$W/ingreso-real-production.pdf" "$W/qr" 2>/dev/null
got=$(zbarimg --raw -q "$W"/qr-1.png 2>/dev/null) || fail "no QR found on page 1"
[ "$got" = "$want" ] || fail "QR: got '$got' want '$want'"
ok
# and for a TEST-stamped sample, built from its own attributes
in=$S/ingreso-test-stamped-finkok.xml
sello=$(x "$in" '/*/@Sello')
want="https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id=$(x "$in" '//*[local-name()="TimbreFiscalDigital"]/@UUID')&re=EKU9003173C9&rr=ICV060329BY0&tt=1191.95&fe=$(printf %s "$sello" | tail -c 8)"
pdftoppm -r 150 -f 1 -l 1 -png "$W/ingreso-test-stamped-finkok.pdf" "$W/qr2" 2>/dev/null
got=$(zbarimg --raw -q "$W"/qr2-1.png 2>/dev/null) || fail "no QR on finkok page 1"
[ "$got" = "$want" ] || fail "QR: got '$got' want '$want'"
ok

# --- fonts embedded, paper sizes ----------------------------------------
f=$W/ingreso-real-production.pdf
# the ToUnicode maps are valid (libharu's own are not; see docs/pdf.md)
pdftotext "$f" /dev/null 2>"$W/pt.err"
grep -q . "$W/pt.err" && fail "pdftotext complains: $(head -1 "$W/pt.err")"
ok
pdffonts "$f" 2>/dev/null | tail -n +3 > "$W/fonts"
[ -s "$W/fonts" ] || fail "no fonts listed"
grep -q DejaVuSans "$W/fonts" || fail "DejaVu not used"
awk '{ if ($(NF-4) != "yes") bad = 1 } END { exit bad }' "$W/fonts" || fail "font not embedded: $(cat "$W/fonts")"
ok
pdfinfo "$f" 2>/dev/null | grep -q 'Page size: *612 x 792 pts (letter)' || fail "default is not Letter"
"$BIN" cfdi pdf "$S/ingreso-real-production.xml" -o "$W/a4.pdf" --paper a4
pdfinfo "$W/a4.pdf" 2>/dev/null | grep -q 'Page size: *595.* x 841.* pts (A4)' || fail "--paper a4 not A4"
"$BIN" cfdi pdf "$S/ingreso-real-production.xml" -o "$W/letter.pdf" --paper letter
pdfinfo "$W/letter.pdf" 2>/dev/null | grep -q 'Page size: *612 x 792 pts (letter)' || fail "--paper letter"
has "$W/a4.pdf" "MIL PESOS 00/100 M.N."
ok

# --- SIN VALIDEZ FISCAL -------------------------------------------------
for s in pago20-sealed ingreso-usd-discounts-sealed egreso-constructed; do
  has "$W/$s.pdf" "SIN VALIDEZ FISCAL" 1
done
lacks "$W/ingreso-real-production.pdf" "SIN VALIDEZ FISCAL"
lacks "$W/ingreso-test-stamped-finkok.pdf" "SIN VALIDEZ FISCAL"
# stamped by the sandbox PAC: its certificate is in $FACTURO_DATA/sandbox
# (found by serial, whatever the file is called) ...
mkdir -p "$W/data/sandbox"
cp "${FACTURO_SHARED}/sat/sat-certs/30001000000500003456.cer" "$W/data/sandbox/pac-test.cer"
FACTURO_DATA=$W/data "$BIN" cfdi pdf "$S/ingreso-test-stamped-finkok.xml" -o "$W/sbx.pdf"
has "$W/sbx.pdf" "SIN VALIDEZ FISCAL" 1
# ... or its Leyenda says so
sed 's/<tfd:TimbreFiscalDigital /<tfd:TimbreFiscalDigital Leyenda="Timbre de pruebas sin validez fiscal" /' \
  "$S/ingreso-test-stamped-sw.xml" > "$W/ley.xml"
grep -q 'Leyenda=' "$W/ley.xml" || fail "could not add a Leyenda"
"$BIN" cfdi pdf "$W/ley.xml" -o "$W/ley.pdf"
has "$W/ley.pdf" "SIN VALIDEZ FISCAL" 1

# a document really stamped by facturo's sandbox PAC (cfdi build --stamp)
D=${FACTURO_SHARED}/sat/csd/EKU9003173C9
if "$BIN" cfdi build --in "${FACTURO_SRC:?}/tests/cfdi_build/examples/ingreso.json" \
     --cer "$D/EKU9003173C9.cer" --key "$D/EKU9003173C9.key" \
     --password-file "$D/password.txt" --stamp sandbox -o "$W/sbx2.xml" 2>"$W/build.err"; then
  "$BIN" cfdi pdf "$W/sbx2.xml" -o "$W/sbx2.pdf"
  has "$W/sbx2.pdf" "SIN VALIDEZ FISCAL" 1
  has "$W/sbx2.pdf" "$(x "$W/sbx2.xml" '//*[local-name()="TimbreFiscalDigital"]/@UUID')"
  # without its Leyenda it is still recognised, by its certificate in data/sandbox
  sed 's/ Leyenda="[^"]*"//' "$W/sbx2.xml" > "$W/sbx3.xml"
  grep -q Leyenda "$W/sbx3.xml" && fail "Leyenda not removed"
  "$BIN" cfdi pdf "$W/sbx3.xml" -o "$W/sbx3.pdf"
  has "$W/sbx3.pdf" "SIN VALIDEZ FISCAL" 1
else
  echo "note: cfdi build --stamp sandbox unavailable: $(head -1 "$W/build.err")" >&2
fi

# --- 300 conceptos: pages, header row on every page ----------------------
python3 - "$S/ingreso-usd-discounts-sealed.xml" "$W/big.xml" <<'PY'
import sys, copy
import xml.dom.minidom as md
doc = md.parse(sys.argv[1])
ns = "http://www.sat.gob.mx/cfd/4"
cs = doc.getElementsByTagNameNS(ns, "Conceptos")[0]
proto = [c for c in cs.childNodes if c.nodeType == c.ELEMENT_NODE][0]
for c in list(cs.childNodes):
    cs.removeChild(c)
for i in range(300):
    c = proto.cloneNode(True)
    c.setAttribute("NoIdentificacion", "ART%03d" % (i + 1))
    c.setAttribute("Descripcion", "Artículo número %d de trescientos, descripción de prueba" % (i + 1))
    cs.appendChild(c)
open(sys.argv[2], "wb").write(doc.toxml("utf-8"))
PY
"$BIN" cfdi pdf "$W/big.xml" -o "$W/big.pdf"
np=$(pages "$W/big.pdf")
[ "$np" -ge 5 ] || fail "300 conceptos on only $np pages"
i=1
while [ $i -le "$np" ]; do
  has "$W/big.pdf" "Página $i de $np" $i
  has "$W/big.pdf" "SIN VALIDEZ FISCAL" $i
  i=$((i + 1))
done
# every page that holds conceptos starts them with the header row
for i in $(seq 1 "$np"); do
  t=$(text "$W/big.pdf" $i)
  case $t in *ART[0-9][0-9][0-9]*)
    printf %s "$t" | grep -q 'Clave.*Cantidad.*Unidad' || fail "page $i: table header missing"
    printf %s "$t" | grep -q 'Valor unitario' || fail "page $i: table header missing"
    ok ;;
  esac
done
for k in ART001 ART150 ART300; do has "$W/big.pdf" "$k"; done
has "$W/big.pdf" "Artículo número 300 de trescientos"

# --- logo (PNG with alpha, JPEG) -----------------------------------------
python3 - "$W/logo.png" <<'PY'
import struct, sys, zlib
w, h = 40, 20
px = lambda x: bytes([200, 30, 30, 255 if x < 30 else 0])   # RGBA, part transparent
raw = b"".join(b"\0" + b"".join(px(x) for x in range(w)) for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
"$BIN" cfdi pdf "$S/ingreso-real-production.xml" -o "$W/logo.pdf" --logo "$W/logo.png"
pdfimages -list "$W/logo.pdf" 2>/dev/null | grep -q ' 40 *20 ' || fail "PNG logo not in the PDF"
ok
pdftoppm -r 90 -f 1 -l 1 -png "$W/logo.pdf" "$W/lg" 2>/dev/null
[ "$(pages "$W/logo.pdf")" -eq "$(pages "$f")" ] || fail "logo changed the page count"
ok

# --- bad input: exit 2, one line on stderr --------------------------------
bad () { # expected-substring args...
  want=$1; shift
  set +e; "$BIN" cfdi pdf "$@" -o "$W/bad.pdf" 2>"$W/err"; rc=$?; set -e
  [ $rc -eq 2 ] || fail "cfdi pdf $*: exit $rc, want 2"
  [ "$(wc -l < "$W/err")" -eq 1 ] || fail "cfdi pdf $*: stderr not one line: $(cat "$W/err")"
  grep -q -- "$want" "$W/err" || fail "cfdi pdf $*: message lacks '$want': $(cat "$W/err")"
  ok
}
printf 'hello, not xml' > "$W/notxml.xml"
bad "not well-formed XML" "$W/notxml.xml"
printf '<?xml version="1.0"?><factura total="1"/>' > "$W/notcfdi.xml"
bad "not a CFDI 4.0" "$W/notcfdi.xml"
head -c 3000 "$S/ingreso-real-production.xml" > "$W/trunc.xml"
bad "not well-formed XML" "$W/trunc.xml"
bad "No such file" "$W/missing.xml"
bad "logo" "$S/ingreso-real-production.xml" --logo "$W/notxml.xml"
bad "paper" "$S/ingreso-real-production.xml" --paper legal
set +e; "$BIN" cfdi pdf 2>/dev/null; rc=$?; set -e
[ $rc -eq 2 ] || fail "no arguments: exit $rc"
"$BIN" cfdi pdf --help | grep -q 'usage: facturo cfdi pdf' || fail "--help"
ok
echo "ok: $n checks"
