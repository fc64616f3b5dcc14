/*
 * fuzz_cfdi_read.c — libFuzzer harness for the CFDI reader and verifier.
 *
 * Arbitrary bytes go through what `facturo cfdi verify` does with a file:
 * the bounded XXE-safe parse, the native cadena original (Comprobante and
 * TFD), and every verify check (XSD, certificate, seals).  Differential
 * oracle: whenever the native cadena is produced, it must equal libxslt
 * running SAT's cadenaoriginal_4_0.xslt (compiled once, from
 * $FACTURO_SHARED) on the same tree; a difference aborts.
 * Seeds: SAT's samples (tests/fuzz/corpus/cfdi_read/).
 *
 * Owner: verify.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxslt/transform.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>

#include "cfdi/cadena.h"
#include "cfdi/verify.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

static xsltStylesheetPtr oracle;

static void
quiet (void *ctx, const char *msg, ...)
{
  (void)ctx;
  (void)msg;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  const char *shared = getenv ("FACTURO_SHARED");
  xsltSetGenericErrorFunc (NULL, quiet);
  xmlSetGenericErrorFunc (NULL, quiet);
  if (shared != NULL)
    {
      char path[2048];
      snprintf (path, sizeof path,
                "%s/sat/www.sat.gob.mx/sitio_internet/cfd/4/"
                "cadenaoriginal_4_0/cadenaoriginal_4_0.xslt",
                shared);
      oracle = xsltParseStylesheetFile (BAD_CAST path);
    }
  if (oracle == NULL)
    fprintf (stderr, "fuzz_cfdi_read: no SAT XSLT, differential check off\n");
  return 0;
}

static xmlNodePtr
find_tfd (xmlNodePtr n, int depth)
{
  for (; n != NULL && depth < 80; n = n->next)
    {
      if (n->type == XML_ELEMENT_NODE && n->ns != NULL
          && strcmp ((const char *)n->ns->href, CFDI_NS_TFD11) == 0
          && strcmp ((const char *)n->name, "TimbreFiscalDigital") == 0)
        return n;
      xmlNodePtr t = find_tfd (n->children, depth + 1);
      if (t != NULL)
        return t;
    }
  return NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferr e;
  xmlDocPtr doc = cfdi_parse_untrusted ((const char *)data, size, &e);
  if (doc == NULL)
    return 0;
  xmlNodePtr root = xmlDocGetRootElement (doc);
  struct buf cad = BUF_INIT;
  if (cfdi_cadena (root, &cad, &e) && oracle != NULL)
    {
      xmlDocPtr res = xsltApplyStylesheet (oracle, doc, NULL);
      xmlChar *s = NULL;
      int len = 0;
      if (res != NULL && xsltSaveResultToString (&s, &len, res, oracle) == 0)
        {
          if ((size_t)len != cad.len
              || (len > 0 && memcmp (s, cad.data, cad.len) != 0))
            {
              fprintf (stderr, "native: %s\nxslt:   %.*s\n", cad.data, len,
                       s ? (const char *)s : "");
              abort ();
            }
        }
      xmlFree (s);
      xmlFreeDoc (res);
    }
  xmlNodePtr tfd = find_tfd (root, 0);
  if (tfd != NULL)
    {
      buf_reset (&cad);
      cfdi_tfd_cadena (tfd, &cad, &e);
    }
  buf_free (&cad);
  struct cfdi_report rep;
  cfdi_verify_doc (doc, &rep);
  xmlFreeDoc (doc);
  return 0;
}
