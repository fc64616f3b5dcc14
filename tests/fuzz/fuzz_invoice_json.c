/*
 * fuzz_invoice_json.c — libFuzzer harness for the invoice JSON reader
 * (cfdi/json_in.c, core/invoice.c: invoice_items_from_json and
 * invoice_compute) and, for every input it accepts, the XML writer
 * (cfdi/build.c, unsigned) followed by a re-parse of what it wrote.
 *
 * Properties checked beyond "no crash, no leak, no UB" (ASan/UBSan):
 * an accepted invoice always yields XML that libxml2 parses back, and a
 * refused one always names an error code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "cfdi/build.h"
#include "cfdi/json_in.h"
#include "util/json.h"

static void
quiet (void *ctx, const char *msg, ...)
{
  (void)ctx;
  (void)msg;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int init;
  if (!init)
    {
      xmlSetGenericErrorFunc (NULL, quiet);
      init = 1;
    }
  struct invoice inv;
  struct ferr e = { 0 };
  invoice_init (&inv);
  /* A bare array exercises the shared items reader (the POS ticket API's
   * entry point) and the arithmetic directly. */
  if (size > 0 && data[0] == '[')
    {
      json_error_t je;
      json_t *j = json_load_exact ((const char *)data, size, 12, &je);
      if (j != NULL && invoice_items_from_json (j, &inv, &e)
          && invoice_compute (&inv, &e))
        {
          /* Total = SubTotal - Descuento + transferred - withheld */
          if (inv.total
              != inv.subtotal - inv.discount + inv.total_transferred
                     - inv.total_withheld)
            abort ();
        }
      json_decref (j);
      invoice_free (&inv);
      return 0;
    }
  if (cfdi_invoice_from_text ((const char *)data, size, &inv, &e))
    {
      struct buf xml = BUF_INIT;
      if (!cfdi_build_xml (&inv, "30001000000500003416", "AAAA", &xml, &e))
        abort ();
      xmlDocPtr doc = xmlReadMemory (xml.data, (int)xml.len, NULL, NULL,
                                     XML_PARSE_NONET);
      if (doc == NULL)
        abort ();
      xmlFreeDoc (doc);
      buf_free (&xml);
    }
  else if (e.code == NULL || e.message[0] == '\0')
    abort ();
  invoice_free (&inv);
  return 0;
}
