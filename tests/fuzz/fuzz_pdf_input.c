/*
 * fuzz_pdf_input.c — libFuzzer harness for pdf_render_cfdi.
 *
 * Input: a CFDI (any bytes) rendered to a PDF on Letter; when the input
 * starts with "LOGO:", the rest is instead used as the merchant logo
 * (PNG/JPEG decoding paths) on a fixed minimal CFDI.  Either way nothing
 * may crash, leak or abort, and a success must produce a PDF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pdf/pdf.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char minimal[]
    = "<cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/4\" "
      "Version=\"4.0\""
      " Total=\"1.00\" SubTotal=\"1.00\" Moneda=\"MXN\" "
      "TipoDeComprobante=\"I\">"
      "<cfdi:Emisor Rfc=\"EKU9003173C9\" Nombre=\"E\" RegimenFiscal=\"601\"/>"
      "<cfdi:Receptor Rfc=\"XAXX010101000\" Nombre=\"R\"/></cfdi:Comprobante>";

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct buf out = BUF_INIT;
  struct ferr e;
  struct pdf_options o = { 0 };
  bool ok;

  if (size >= 5 && memcmp (data, "LOGO:", 5) == 0)
    {
      o.logo = data + 5;
      o.logo_len = size - 5;
      ok = pdf_render_cfdi (minimal, sizeof minimal - 1, &o, &out, &e);
    }
  else
    ok = pdf_render_cfdi ((const char *)data, size, &o, &out, &e);
  if (ok && (out.len < 8 || memcmp (out.data, "%PDF-", 5) != 0))
    abort ();
  if (!ok && (e.code == NULL || e.message[0] == '\0'))
    abort ();
  buf_free (&out);
  return 0;
}
