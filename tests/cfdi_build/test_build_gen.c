/*
 * test_build_gen.c — hundreds of generated invoices, each checked three
 * ways against SAT's own files and OpenSSL:
 *   1. XSD-valid under libxml2 with shared/sat/cfdi40-bundle.xsd;
 *   2. the builder's cadena original (cfdi_cadena, or the streaming
 *      emitter for global invoices) equal byte for byte to libxslt running
 *      SAT's cadenaoriginal_4_0.xslt over the written document;
 *   3. the Sello verified with OpenSSL (EVP_DigestVerify, RSA-SHA256)
 *      against the certificate carried in the Certificado attribute, and a
 *      one-byte change to the cadena makes it fail.
 * Types: I (every tax combination), E with CfdiRelacionados, P (Pagos 2.0,
 * several DoctoRelacionado, partial payments, USD paying MXN), global
 * invoices both from JSON and streamed.  Texts carry accents, ñ, &, <,
 * quotes and runs of spaces; optional attributes are absent at random.
 * Deterministic (fixed seed).  A few outputs also go through
 * `facturo cfdi verify`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxslt/transform.h>
#include <libxslt/xsltutils.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cfdi/build.h"
#include "cfdi/cadena.h"
#include "cfdi/csd.h"
#include "cfdi/json_in.h"
#include "cfdi/pac.h"
#include "util/buf.h"

/* SAT: Anexo 20 — every document must pass XSD, XSLT cadena and seal */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t
rnd (uint32_t n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static const char *
pick (const char *const *a, size_t n)
{
  return a[rnd ((uint32_t)n)];
}
#define PICK(a) pick (a, sizeof a / sizeof a[0])

static xmlSchemaPtr schema;
static xsltStylesheetPtr xslt;
static struct csd *csd;
static char tmpdir[256];
static int verified_cli;
static long n_docs, n_by_type[4];

static const char *names[] = {
  "José Ñúñez & Hijos",          "<Tienda> \"La Económica\"",
  "  Comercial   del   Norte  ", "O'Brien y Asociados",
  "ÁÉÍÓÚ áéíóú ü Ü ñ Ñ",         "A&B <C> 'D' \"E\"",
  "Panadería   La  Espiga",
};

static const char *descs[] = {
  "Café & pan <dulce> \"fino\"",
  "Servicio   de   consultoría  ",
  "Cigarros (cajetilla)",
  "Gasolina magna, litro",
  "Libro: El año del ñandú",
  "Artículo 'especial' #5",
  "x",
};

struct customer
{
  const char *rfc, *regime, *use, *zip;
};
static const struct customer customers[] = {
  { "CACX7605101P8", "612", "G03", "36257" },
  { "URE180429TM6", "601", "G01", "86991" },
  { "ICV060329BY0", "601", "G03", "33826" },
  { "COSC8001137NA", "605", "D01", "52000" },
  { "XEXX010101000", "616", "S01", "42501" },
};

static void
put_money (struct buf *b, int64_t micros, int decimals)
{
  char t[MONEY_BUFSZ];
  money_format (micros, decimals, t);
  buf_printf (b, "\"%s\"", t);
}

static void
put_uuid (struct buf *b)
{
  buf_printf (b, "\"%08X-%04X-%04X-%04X-%04X%08X\"", rnd (0xFFFFFFFF),
              rnd (0xFFFF), rnd (0xFFFF), rnd (0xFFFF), rnd (0xFFFF),
              rnd (0xFFFFFFFF));
}

static void
put_taxes (struct buf *b, int combo)
{
  static const char *combos[] = {
    NULL, /* absent: default IVA 16 % */
    "[{\"type\":\"IVA\",\"rate\":\"0.16\"}]",
    "[{\"type\":\"IVA\",\"rate\":0.08}]",
    "[{\"type\":\"IVA\",\"rate\":0}]",
    "[{\"type\":\"IVA\",\"factor\":\"Exento\"}]",
    "[{\"type\":\"IEPS\",\"rate\":0.265},{\"type\":\"IVA\",\"rate\":0.16}]",
    "[{\"type\":\"IEPS\",\"factor\":\"Cuota\",\"rate\":\"6.4555\"},"
    "{\"type\":\"IVA\",\"rate\":0.16}]",
    "[{\"type\":\"IVA\",\"rate\":0.16},{\"type\":\"ISR\",\"rate\":0.10,"
    "\"withholding\":true},{\"type\":\"IVA\",\"rate\":\"0.106667\","
    "\"withholding\":true}]",
    "[{\"type\":\"IVA\",\"rate\":0.16},{\"type\":\"IVA\",\"rate\":0.04,"
    "\"withholding\":true}]",
    "[{\"type\":\"IEPS\",\"rate\":0.08},{\"type\":\"IVA\",\"rate\":0}]",
    "[{\"type\":\"ISR\",\"rate\":\"0.0125\",\"withholding\":true},"
    "{\"type\":\"IVA\",\"factor\":\"Exento\"}]",
    "[]", /* with tax_object 01/03/04 */
  };
  if (combo == 0)
    return;
  buf_printf (b, ",\"taxes\":%s", combos[combo]);
  if (combo == 11)
    buf_printf (b, ",\"%s\":\"%s\"", rnd (2) ? "taxability" : "tax_object",
                (const char *[]){ "01", "03", "04" }[rnd (3)]);
}

static void
put_items (struct buf *b, int n, bool global)
{
  buf_puts (b, ",\"items\":[");
  for (int i = 0; i < n; i++)
    {
      int64_t q
          = global ? 1000000
                   : (rnd (4) == 0 ? (int64_t)(1 + rnd (999999))
                                   : (int64_t)(1 + rnd (20)) * 1000000
                                         + (rnd (2) ? rnd (1000) * 1000 : 0));
      int64_t p = rnd (3) == 0 ? (int64_t)rnd (50000000) + 1
                               : (int64_t)(1 + rnd (200000)) * 10000;
      char qs[MONEY_BUFSZ], ps[MONEY_BUFSZ];
      money_format_min (q, 0, qs);
      money_format_min (p, 0, ps);
      buf_printf (b, "%s{", i ? "," : "");
      if (!global || rnd (2))
        buf_printf (b, "\"quantity\":\"%s\",", qs);
      int64_t gross = (int64_t)(((__int128)q * p) / 1000000);
      if (rnd (4) == 0 && gross > 100)
        {
          buf_puts (b, "\"discount\":");
          put_money (b, (gross / 10 / 10000) * 10000, 2);
          buf_puts (b, ",");
        }
      buf_puts (b, "\"product\":{\"description\":");
      json_t *s = json_string (global ? "Venta" : PICK (descs));
      char *d = json_dumps (s, JSON_ENCODE_ANY);
      buf_puts (b, d);
      free (d);
      json_decref (s);
      buf_printf (b, ",\"product_key\":\"%s\",\"price\":\"%s\"",
                  global ? "01010101"
                         : PICK (((const char *[]){ "50181900", "84111506",
                                                    "15101514", "55101500" })),
                  ps);
      if (global)
        buf_printf (b, ",\"unit_key\":\"ACT\",\"sku\":\"T-%06u\"",
                    rnd (999999));
      else
        {
          if (rnd (2))
            buf_printf (
                b, ",\"unit_key\":\"%s\"",
                PICK (((const char *[]){ "H87", "E48", "LTR", "KGM" })));
          if (rnd (2))
            buf_puts (b, ",\"unit_name\":\"Pieza  única\"");
          if (rnd (2))
            buf_printf (b, ",\"sku\":\"SKU-%u ñ&<\"", rnd (10000));
        }
      if (rnd (2))
        buf_printf (b, ",\"tax_included\":%s", rnd (2) ? "true" : "false");
      put_taxes (b, global ? (int)(1 + rnd (4)) : (int)rnd (12));
      buf_puts (b, "}}");
    }
  buf_puts (b, "]");
}

static void
put_header (struct buf *b, char type, const struct customer *c, bool global)
{
  buf_printf (b, "{\"type\":\"%c\"", type);
  if (rnd (2))
    buf_printf (b, ",\"series\":\"%s\"",
                PICK (((const char *[]){ "A", "NC", "Ñ-1", "G  2" })));
  if (rnd (3))
    {
      if (rnd (2))
        buf_printf (b, ",\"folio_number\":%u", rnd (1000000));
      else
        buf_printf (b, ",\"folio_number\":\"F-%u\"", rnd (1000000));
    }
  buf_printf (b, ",\"date\":\"2026-%02u-%02uT%02u:%02u:%02u\"", 1 + rnd (10),
              1 + rnd (28), rnd (24), rnd (60), rnd (60));
  json_t *in = json_string (rnd (3) ? "ESCUELA KEMPER URGATE"
                                    : "Escuela Kemper  Urgate & Cía");
  char *ins = json_dumps (in, JSON_ENCODE_ANY);
  buf_printf (b,
              ",\"issuer\":{\"tax_id\":\"EKU9003173C9\",\"legal_name\":%s,"
              "\"tax_system\":\"601\",\"address\":{\"zip\":\"42501\"}}",
              ins);
  free (ins);
  json_decref (in);
  if (!global)
    {
      json_t *nm = json_string (PICK (names));
      char *n = json_dumps (nm, JSON_ENCODE_ANY);
      buf_printf (b,
                  ",\"customer\":{\"tax_id\":\"%s\",\"legal_name\":%s,"
                  "\"tax_system\":\"%s\"",
                  c->rfc, n, c->regime);
      free (n);
      json_decref (nm);
      if (strcmp (c->rfc, "XEXX010101000") != 0 || rnd (2))
        buf_printf (b, ",\"address\":{\"zip\":\"%s\"}", c->zip);
      buf_puts (b, "}");
      if (type != 'P')
        buf_printf (b, ",\"use\":\"%s\"",
                    strcmp (c->rfc, "XEXX010101000") == 0 ? "S01" : c->use);
    }
}

/* ---- the three checks ---- */

static void
check_doc (const char *xml, size_t len, const char *cadena, size_t cad_len,
           const char *what)
{
  xmlDocPtr doc = xmlReadMemory (xml, (int)len, NULL, NULL, XML_PARSE_NONET);
  assert_non_null (doc);

  /* 1. XSD */
  xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt (schema);
  int v = xmlSchemaValidateDoc (vc, doc);
  xmlSchemaFreeValidCtxt (vc);
  if (v != 0)
    {
      fprintf (stderr, "%s: XSD invalid:\n%.*s\n", what, (int)len, xml);
      fail ();
    }

  /* 2. cadena: libxslt == builder's */
  xmlDocPtr res = xsltApplyStylesheet (xslt, doc, NULL);
  assert_non_null (res);
  xmlChar *out = NULL;
  int out_len = 0;
  assert_true (xsltSaveResultToString (&out, &out_len, res, xslt) == 0);
  if ((size_t)out_len != cad_len || memcmp (out, cadena, cad_len) != 0)
    {
      fprintf (stderr, "%s: cadena differs\nxslt:    %.*s\nbuilder: %.*s\n",
               what, out_len, (char *)out, (int)cad_len, cadena);
      fail ();
    }
  /* and cfdi_cadena over the written document agrees too */
  struct buf nat = BUF_INIT;
  assert_true (cfdi_cadena (xmlDocGetRootElement (doc), &nat, NULL));
  assert_int_equal (nat.len, cad_len);
  assert_memory_equal (nat.data, cadena, cad_len);
  buf_free (&nat);

  /* 3. Sello with OpenSSL against the Certificado attribute */
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlChar *cert64 = xmlGetProp (root, BAD_CAST "Certificado");
  xmlChar *sello64 = xmlGetProp (root, BAD_CAST "Sello");
  assert_non_null (cert64);
  assert_non_null (sello64);
  size_t cl = strlen ((char *)cert64), sl = strlen ((char *)sello64);
  unsigned char *der = malloc (cl), *sig = malloc (sl);
  int dl = EVP_DecodeBlock (der, cert64, (int)cl);
  int gl = EVP_DecodeBlock (sig, sello64, (int)sl);
  assert_true (dl > 0 && gl > 0);
  while (cl > 0 && cert64[cl - 1] == '=')
    cl--, dl--;
  while (sl > 0 && sello64[sl - 1] == '=')
    sl--, gl--;
  const unsigned char *p = der;
  X509 *x = d2i_X509 (NULL, &p, dl);
  assert_non_null (x);
  EVP_PKEY *pk = X509_get0_pubkey (x);
  for (int flip = 0; flip < 2; flip++)
    {
      EVP_MD_CTX *md = EVP_MD_CTX_new ();
      assert_int_equal (
          EVP_DigestVerifyInit (md, NULL, EVP_sha256 (), NULL, pk), 1);
      if (flip)
        out[out_len / 2] ^= 1;
      int r = EVP_DigestVerify (md, sig, (size_t)gl, out, (size_t)out_len);
      EVP_MD_CTX_free (md);
      if (r != (flip ? 0 : 1))
        {
          fprintf (stderr, "%s: seal check %s\n", what,
                   flip ? "passed a changed cadena" : "failed");
          fail ();
        }
    }
  X509_free (x);
  free (der);
  free (sig);
  xmlFree (cert64);
  xmlFree (sello64);
  xmlFree (out);
  xmlFreeDoc (res);
  xmlFreeDoc (doc);
  n_docs++;
}

/* Runs `facturo cfdi verify` on a few outputs. */
static void
cli_verify (const char *xml, size_t len)
{
  const char *bin = getenv ("FACTURO_BIN");
  if (bin == NULL || verified_cli >= 8)
    return;
  char path[512], cmd[1200];
  snprintf (path, sizeof path, "%s/gen%d.xml", tmpdir, verified_cli);
  FILE *f = fopen (path, "wb");
  assert_non_null (f);
  assert_int_equal (fwrite (xml, 1, len, f), len);
  fclose (f);
  snprintf (cmd, sizeof cmd, "'%s' cfdi verify '%s' >/dev/null 2>&1", bin,
            path);
  int rc = system (cmd);
  if (rc != 0)
    {
      fprintf (stderr, "facturo cfdi verify failed on %s\n", path);
      fail ();
    }
  verified_cli++;
}

static void
build_check_json (const char *json, size_t len, const char *what, int kind)
{
  struct invoice inv;
  struct ferr e = { 0 };
  invoice_init (&inv);
  if (!cfdi_invoice_from_text (json, len, &inv, &e))
    {
      fprintf (stderr, "%s: %s: %s (%s)\n%s\n", what, e.field, e.message,
               e.code, json);
      fail ();
    }
  struct buf xml = BUF_INIT, cad = BUF_INIT;
  if (!cfdi_build_sealed (&inv, csd, &xml, &cad, &e))
    {
      fprintf (stderr, "%s: build: %s %s\n", what, e.field, e.message);
      fail ();
    }
  check_doc (xml.data, xml.len, cad.data, cad.len, what);
  if (n_docs % 40 == 0)
    cli_verify (xml.data, xml.len);
  n_by_type[kind]++;
  buf_free (&xml);
  buf_free (&cad);
  invoice_free (&inv);
}

static void
test_generated_ingreso_egreso (void **state)
{
  for (int k = 0; k < 260; k++)
    {
      struct buf b = BUF_INIT;
      bool egreso = k % 4 == 3;
      const struct customer *c = &customers[rnd (5)];
      put_header (&b, egreso ? 'E' : 'I', c, false);
      int pf = (int)rnd (6);
      if (rnd (5) == 0)
        buf_puts (&b, ",\"payment_form\":\"99\",\"payment_method\":\"PPD\"");
      else if (pf > 0)
        buf_printf (&b, ",\"payment_form\":\"%s\"",
                    (const char *[]){ "01", "02", "03", "04", "28" }[pf - 1]);
      else
        buf_puts (&b, ",\"payment_form\":\"01\",\"payment_method\":\"PUE\"");
      if (rnd (5) == 0)
        buf_printf (
            &b, ",\"currency\":\"%s\",\"exchange\":\"%s\"",
            (const char *[]){ "USD", "EUR", "JPY", "KWD", "CLF" }[k % 5],
            (const char *[]){ "17.2345", "19.01", "0.1234", "60.5",
                              "35000.1234" }[k % 5]);
      if (rnd (4) == 0)
        buf_puts (&b, ",\"conditions\":\"  Crédito  a 30 días & <sin> "
                      "recargo \\\"neto\\\"  \"");
      if (rnd (3) == 0)
        buf_printf (&b, ",\"export\":\"%s\"", rnd (2) ? "01" : "02");
      if (egreso || rnd (6) == 0)
        {
          buf_printf (&b,
                      ",\"related_documents\":[{\"relationship\":\"%s\","
                      "\"documents\":[",
                      egreso ? PICK (((const char *[]){ "01", "03", "07" }))
                             : "04");
          int m = 1 + (int)rnd (3);
          for (int i = 0; i < m; i++)
            {
              if (i)
                buf_puts (&b, ",");
              put_uuid (&b);
            }
          buf_puts (&b, "]}");
          if (egreso && rnd (2))
            {
              buf_puts (&b, ",{\"relationship\":\"02\",\"documents\":[");
              put_uuid (&b);
              buf_puts (&b, "]}");
            }
          buf_puts (&b, "]");
        }
      put_items (&b, 1 + (int)rnd (6), false);
      buf_puts (&b, "}");
      char what[64];
      snprintf (what, sizeof what, "generated %s #%d",
                egreso ? "egreso" : "ingreso", k);
      build_check_json (b.data, b.len, what, egreso ? 1 : 0);
      buf_free (&b);
    }
}

static void
test_generated_pagos (void **state)
{
  for (int k = 0; k < 80; k++)
    {
      struct buf b = BUF_INIT;
      const struct customer *c = &customers[rnd (4)];
      put_header (&b, 'P', c, false);
      buf_puts (&b, ",\"payments\":[");
      int np = 1 + (int)rnd (3);
      for (int i = 0; i < np; i++)
        {
          bool usd = rnd (4) == 0;
          int nd = 1 + (int)rnd (4);
          int64_t docs_amount[4], sum = 0;
          for (int j = 0; j < nd; j++)
            {
              docs_amount[j] = (int64_t)(1 + rnd (4000)) * 175 * 10000;
              sum += docs_amount[j];
            }
          const char *form
              = PICK (((const char *[]){ "01", "02", "03", "28" }));
          buf_printf (&b,
                      "%s{\"date\":\"2026-%02u-%02uT12:00:00\","
                      "\"payment_form\":\"%s\"",
                      i ? "," : "", 1 + rnd (10), 1 + rnd (28), form);
          if (strcmp (form, "01") != 0 && rnd (2))
            buf_puts (&b, ",\"payer_bank_tax_id\":\"BMI9704113PA\","
                          "\"payer_bank_name\":\"Banco  Ñ & <Cía>\","
                          "\"payer_account\":\"0001970000\","
                          "\"payee_bank_tax_id\":\"BBA830831LJ2\","
                          "\"payee_account\":\"0198005000\"");
          if (usd)
            buf_puts (&b, ",\"currency\":\"USD\",\"exchange\":\"17.5\"");
          buf_puts (&b, ",\"amount\":");
          /* USD: documents in MXN at EquivalenciaDR 17.5 */
          put_money (&b,
                     usd ? sum / 175 * 10 + (rnd (2) ? 10000 : 0)
                         : sum + (rnd (3) == 0 ? 50000 : 0),
                     2);
          if (rnd (2))
            buf_printf (&b, ",\"operation_number\":\"OP %u ñ\"", rnd (100000));
          buf_puts (&b, ",\"related_documents\":[");
          for (int j = 0; j < nd; j++)
            {
              buf_printf (&b, "%s{\"uuid\":", j ? "," : "");
              put_uuid (&b);
              if (rnd (2))
                buf_puts (&b, ",\"series\":\"A&B\"");
              if (rnd (2))
                buf_printf (&b, ",\"folio_number\":%u", rnd (99999));
              if (usd)
                buf_puts (&b, ",\"currency\":\"MXN\",\"exchange\":\"17.5\"");
              int64_t prev = docs_amount[j]
                             + (rnd (2) ? (int64_t)rnd (1000) * 10000 : 0);
              buf_printf (
                  &b, ",\"installment\":%u,\"last_balance\":", 1 + rnd (5));
              put_money (&b, prev, 2);
              buf_puts (&b, ",\"amount\":");
              put_money (&b, docs_amount[j], 2);
              switch (rnd (5))
                {
                case 0:
                  buf_puts (&b, ",\"tax_object\":\"01\"");
                  break;
                case 1:
                  buf_puts (&b, ",\"taxes\":[{\"type\":\"IVA\",\"rate\":0.16},"
                                "{\"type\":\"IVA\",\"rate\":0.106667,"
                                "\"withholding\":true},{\"type\":\"ISR\","
                                "\"rate\":0.10,\"withholding\":true}]");
                  break;
                case 2:
                  buf_puts (&b,
                            ",\"taxes\":[{\"type\":\"IVA\",\"rate\":0.08}]");
                  break;
                case 3:
                  buf_puts (&b, ",\"taxes\":[{\"type\":\"IVA\",\"factor\":"
                                "\"Exento\",\"base\":\"100.00\"}]");
                  break;
                default:
                  buf_puts (&b,
                            ",\"taxes\":[{\"type\":\"IVA\",\"rate\":0.16}]");
                }
              buf_puts (&b, "}");
            }
          buf_puts (&b, "]}");
        }
      buf_puts (&b, "]}");
      char what[64];
      snprintf (what, sizeof what, "generated pago #%d", k);
      build_check_json (b.data, b.len, what, 2);
      buf_free (&b);
    }
}

static void
test_generated_global_json (void **state)
{
  for (int k = 0; k < 30; k++)
    {
      struct buf b = BUF_INIT;
      put_header (&b, 'I', NULL, true);
      buf_printf (&b,
                  ",\"payment_form\":\"01\",\"global\":{\"periodicity\":"
                  "\"%s\",\"months\":\"%s\",\"year\":%d}",
                  k % 5 == 4 ? "05" : "04",
                  k % 5 == 4 ? "14"
                             : (const char *[]){ "01", "06", "11" }[k % 3],
                  2026 - (k % 2));
      put_items (&b, 1 + (int)rnd (20), true);
      buf_puts (&b, "}");
      char what[64];
      snprintf (what, sizeof what, "generated global (JSON) #%d", k);
      build_check_json (b.data, b.len, what, 3);
      buf_free (&b);
    }
}

/* Streamed global invoices: a callback of tickets */
struct tickets
{
  size_t n;
  uint64_t seed;
  uint64_t state;
};

static int
ticket_next (void *arg, size_t i, struct invoice_item *it, struct ferr *err)
{
  struct tickets *t = arg;
  if (i >= t->n)
    return 0;
  if (i == 0)
    t->state = t->seed;
  t->state = t->state * 6364136223846793005ULL + 1442695040888963407ULL;
  uint64_t r = t->state >> 20;
  char sku[32];
  snprintf (sku, sizeof sku, "T-%06zu", i + 1);
  it->sku = xstrdup (sku);
  it->price = (int64_t)(r % 500000) * 100 + 100; /* 0.01..5000.00 */
  switch ((r >> 24) % 4)
    {
    case 0:
    case 1:
      it->n_taxes = 1;
      it->taxes[0].kind = INVOICE_TAX_IVA;
      it->taxes[0].rate = 160000;
      break;
    case 2:
      it->n_taxes = 1;
      it->taxes[0].kind = INVOICE_TAX_IVA;
      it->taxes[0].rate = 0;
      break;
    default:
      it->n_taxes = 1;
      it->taxes[0].kind = INVOICE_TAX_IVA;
      it->taxes[0].factor = INVOICE_FACTOR_EXENTO;
    }
  (void)err;
  return 1;
}

static void
global_header (struct invoice *h)
{
  invoice_init (h);
  h->type = INVOICE_INGRESO;
  h->series = xstrdup ("G");
  h->folio = xstrdup ("202611");
  strcpy (h->date, "2026-11-24T09:00:00");
  h->issuer.rfc = xstrdup ("EKU9003173C9");
  h->issuer.name = xstrdup ("ESCUELA KEMPER URGATE");
  h->issuer.regime = xstrdup ("601");
  h->issuer.zip = xstrdup ("42501");
  strcpy (h->payment_form, "01");
  strcpy (h->currency, "MXN");
  h->global.present = true;
  strcpy (h->global.periodicity, "04");
  strcpy (h->global.months, "10");
  h->global.year = 2026;
}

static void
test_generated_global_streamed (void **state)
{
  static const size_t sizes[] = { 1, 2, 7, 50, 400 };
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
    {
      struct invoice h;
      global_header (&h);
      struct tickets t = { sizes[k], 1000 + k, 0 };
      struct buf xml = BUF_INIT, cad = BUF_INIT;
      struct ferr e = { 0 };
      size_t n = 0;
      if (!cfdi_build_global (&h, csd, ticket_next, &t, cfdi_write_buf, &xml,
                              &n, &e))
        {
          fprintf (stderr, "global: %s %s\n", e.field, e.message);
          fail ();
        }
      assert_int_equal (n, sizes[k]);
      /* the cadena the streamed signature covers: recompute unsigned with
       * the same certificate number, it must equal libxslt's over the
       * signed document (check_doc also verifies the Sello over it) */
      struct invoice h2;
      global_header (&h2);
      struct buf xml2 = BUF_INIT;
      assert_true (cfdi_build_global_unsigned (
          &h2, csd_no_certificado (csd), csd_certificado_b64 (csd),
          ticket_next, &t, cfdi_write_buf, &xml2, &cad, NULL, &e));
      assert_int_equal (h.total, h2.total);
      char what[64];
      snprintf (what, sizeof what, "streamed global of %zu", sizes[k]);
      check_doc (xml.data, xml.len, cad.data, cad.len, what);
      cli_verify (xml.data, xml.len);
      n_by_type[3]++;
      buf_free (&xml);
      buf_free (&xml2);
      buf_free (&cad);
      invoice_free (&h);
      invoice_free (&h2);
    }
}

/* The streamed global invoice's memory does not grow with the tickets:
 * 100,000 tickets (about 39 MiB of XML) written to a counting sink raise
 * the peak RSS of a fresh child process by far less than the XML's size.
 * (Skipped under AddressSanitizer, whose quarantine keeps freed memory.) */
struct counter
{
  size_t bytes;
};

static bool __attribute__ ((unused))
count_write (void *arg, const char *data, size_t len)
{
  (void)data;
  ((struct counter *)arg)->bytes += len;
  return true;
}

static int __attribute__ ((unused))
many_tickets (void *arg, size_t i, struct invoice_item *it, struct ferr *err)
{
  (void)arg;
  (void)err;
  if (i >= 100000)
    return 0;
  char sku[32];
  snprintf (sku, sizeof sku, "T-%07zu", i + 1);
  it->sku = xstrdup (sku);
  it->price = (int64_t)((i * 7919) % 500000) * 100 + 100;
  it->n_taxes = 1;
  it->taxes[0].kind = INVOICE_TAX_IVA;
  it->taxes[0].rate = i % 3 ? 160000 : 0;
  return 1;
}

static void
test_global_memory_bounded (void **state)
{
  /* AddressSanitizer's quarantine keeps freed memory resident, so peak
     RSS says nothing about our allocations there: measured in the plain
     build only. */
#if defined(FACTURO_FUZZ) || defined(__SANITIZE_ADDRESS__)
  skip ();
#else
  int fd[2];
  assert_int_equal (pipe (fd), 0);
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      struct rusage r0, r1;
      getrusage (RUSAGE_SELF, &r0);
      struct invoice h;
      global_header (&h);
      struct counter c = { 0 };
      struct ferr e = { 0 };
      size_t n = 0;
      long out[3] = { -1, 0, 0 };
      if (cfdi_build_global (&h, csd, many_tickets, NULL, count_write, &c, &n,
                             &e))
        {
          getrusage (RUSAGE_SELF, &r1);
          out[0] = r1.ru_maxrss - r0.ru_maxrss; /* KiB */
          out[1] = (long)(c.bytes / 1024);
          out[2] = (long)n;
        }
      if (write (fd[1], out, sizeof out) != (ssize_t)sizeof out)
        _exit (1);
      _exit (0);
    }
  close (fd[1]);
  long got[3] = { -1, 0, 0 };
  assert_int_equal (read (fd[0], got, sizeof got), (ssize_t)sizeof got);
  close (fd[0]);
  int st;
  waitpid (pid, &st, 0);
  fprintf (stderr,
           "global of %ld tickets: %ld KiB of XML, peak RSS grew %ld KiB\n",
           got[2], got[1], got[0]);
  assert_int_equal (got[2], 100000);
  assert_true (got[1] > 30 * 1024);
  assert_true (got[0] >= 0 && got[0] < 24 * 1024);
#endif
}

/* Errors of the streamed path: a ticket without number, a callback error */
static int
bad_next (void *arg, size_t i, struct invoice_item *it, struct ferr *err)
{
  if (i >= 3)
    return 0;
  it->price = 1000000;
  if (i == 2 && *(int *)arg == 0)
    return 1; /* no sku */
  if (i == 2)
    {
      ferr_set (err, "source_failed", "tickets", "source failed",
                "falló la fuente");
      return -1;
    }
  it->sku = xstrdup ("T-1");
  return 1;
}

static void
test_global_errors (void **state)
{
  for (int mode = 0; mode < 2; mode++)
    {
      struct invoice h;
      global_header (&h);
      struct buf xml = BUF_INIT;
      struct ferr e = { 0 };
      assert_false (cfdi_build_global (&h, csd, bad_next, &mode,
                                       cfdi_write_buf, &xml, NULL, &e));
      assert_string_equal (e.code, mode == 0 ? "global_ticket_number"
                                             : "source_failed");
      if (mode == 0)
        assert_string_equal (e.field, "items[2].sku");
      buf_free (&xml);
      invoice_free (&h);
    }
}

/* SAT: samples egreso-constructed.xml and global-constructed.xml rebuilt
 * from JSON: the cadena original equals the sample's .cadena.txt byte for
 * byte, and since PKCS#1 v1.5 signatures are deterministic, the Sello
 * equals the sample's Sello */
static void
rebuild_sample (const char *name, const char *json)
{
  const char *shared = getenv ("FACTURO_SHARED");
  char p[1024];
  struct buf want = BUF_INIT, sample = BUF_INIT;
  snprintf (p, sizeof p, "%s/sat/samples/%s.cadena.txt",
            shared ? shared : "../shared", name);
  assert_int_equal (read_file (p, &want, 0), 0);
  snprintf (p, sizeof p, "%s/sat/samples/%s.xml",
            shared ? shared : "../shared", name);
  assert_int_equal (read_file (p, &sample, 0), 0);
  struct invoice inv;
  struct ferr e = { 0 };
  invoice_init (&inv);
  if (!cfdi_invoice_from_text (json, strlen (json), &inv, &e))
    fail_msg ("%s: %s %s", name, e.field, e.message);
  struct buf xml = BUF_INIT, cad = BUF_INIT;
  assert_true (cfdi_build_sealed (&inv, csd, &xml, &cad, &e));
  if (cad.len != want.len || memcmp (cad.data, want.data, cad.len) != 0)
    fail_msg ("%s: cadena differs\nsample: %s\nbuilt:  %s", name, want.data,
              cad.data);
  const char *s1 = strstr (sample.data, " Sello=\"");
  const char *s2 = strstr (xml.data, " Sello=\"");
  assert_non_null (s1);
  assert_non_null (s2);
  size_t l1 = strcspn (s1 + 8, "\""), l2 = strcspn (s2 + 8, "\"");
  assert_int_equal (l1, l2);
  assert_memory_equal (s1 + 8, s2 + 8, l1);
  check_doc (xml.data, xml.len, cad.data, cad.len, name);
  buf_free (&want);
  buf_free (&sample);
  buf_free (&xml);
  buf_free (&cad);
  invoice_free (&inv);
}

static int
sample_tickets (void *arg, size_t i, struct invoice_item *it, struct ferr *err)
{
  (void)arg;
  (void)err;
  if (i >= 2)
    return 0;
  it->sku = xstrdup (i == 0 ? "T-000101" : "T-000102");
  it->price = i == 0 ? 150000000 : 200000000;
  it->n_taxes = 1;
  it->taxes[0].kind = INVOICE_TAX_IVA;
  it->taxes[0].rate = 160000;
  return 1;
}

static void
test_rebuild_sample_streamed (void **state)
{
  const char *shared = getenv ("FACTURO_SHARED");
  char p[1024];
  struct buf want = BUF_INIT, sample = BUF_INIT;
  snprintf (p, sizeof p, "%s/sat/samples/global-constructed.cadena.txt",
            shared ? shared : "../shared");
  assert_int_equal (read_file (p, &want, 0), 0);
  snprintf (p, sizeof p, "%s/sat/samples/global-constructed.xml",
            shared ? shared : "../shared");
  assert_int_equal (read_file (p, &sample, 0), 0);
  struct invoice h;
  global_header (&h);
  free (h.folio);
  h.folio = xstrdup ("20250531");
  strcpy (h.date, "2025-06-01T09:15:00");
  strcpy (h.global.periodicity, "01");
  strcpy (h.global.months, "05");
  h.global.year = 2025;
  struct buf xml = BUF_INIT, xml2 = BUF_INIT, cad = BUF_INIT;
  struct ferr e = { 0 };
  assert_true (cfdi_build_global (&h, csd, sample_tickets, NULL,
                                  cfdi_write_buf, &xml, NULL, &e));
  assert_true (cfdi_build_global_unsigned (
      &h, csd_no_certificado (csd), csd_certificado_b64 (csd), sample_tickets,
      NULL, cfdi_write_buf, &xml2, &cad, NULL, &e));
  assert_int_equal (cad.len, want.len);
  assert_memory_equal (cad.data, want.data, cad.len);
  const char *s1 = strstr (sample.data, " Sello=\"");
  const char *s2 = strstr (xml.data, " Sello=\"");
  size_t l1 = strcspn (s1 + 8, "\""), l2 = strcspn (s2 + 8, "\"");
  assert_int_equal (l1, l2);
  assert_memory_equal (s1 + 8, s2 + 8, l1);
  buf_free (&want);
  buf_free (&sample);
  buf_free (&xml);
  buf_free (&xml2);
  buf_free (&cad);
  invoice_free (&h);
}

static void
test_rebuild_samples (void **state)
{
  rebuild_sample (
      "egreso-constructed",
      "{\"type\":\"E\",\"series\":\"NC\",\"folio_number\":\"17\","
      "\"date\":\"2025-06-02T12:30:00\",\"issuer\":{\"tax_id\":"
      "\"EKU9003173C9\",\"legal_name\":\"ESCUELA KEMPER URGATE\","
      "\"tax_system\":\"601\",\"address\":{\"zip\":\"42501\"}},"
      "\"customer\":{\"tax_id\":\"CACX7605101P8\",\"legal_name\":"
      "\"XOCHILT CASAS CHAVEZ\",\"tax_system\":\"612\",\"address\":"
      "{\"zip\":\"36257\"}},\"use\":\"G02\",\"payment_form\":\"03\","
      "\"related_documents\":[{\"relationship\":\"01\",\"documents\":"
      "[\"F08A8B8C-26DB-5385-86AF-2A1D354C5CC3\"]}],\"items\":[{"
      "\"product\":{\"description\":\"Bonificación por pronto pago "
      "(año 2025, ñandú & más)\",\"product_key\":\"84111506\","
      "\"unit_key\":\"ACT\",\"price\":\"100.00\",\"tax_included\":"
      "false}}]}");
  rebuild_sample (
      "global-constructed",
      "{\"series\":\"G\",\"folio_number\":20250531,\"date\":"
      "\"2025-06-01T09:15:00\",\"issuer\":{\"tax_id\":\"EKU9003173C9\","
      "\"legal_name\":\"ESCUELA KEMPER URGATE\",\"tax_system\":\"601\","
      "\"address\":{\"zip\":\"42501\"}},\"payment_form\":\"01\","
      "\"global\":{\"periodicity\":\"01\",\"months\":\"05\","
      "\"year\":2025},\"items\":["
      "{\"product\":{\"description\":\"Venta\",\"product_key\":"
      "\"01010101\",\"unit_key\":\"ACT\",\"sku\":\"T-000101\","
      "\"price\":\"150.00\",\"tax_included\":false}},"
      "{\"product\":{\"description\":\"Venta\",\"product_key\":"
      "\"01010101\",\"unit_key\":\"ACT\",\"sku\":\"T-000102\","
      "\"price\":\"232.00\"}}]}");
}

/* SAT: the streamed global invoice's header is checked like a JSON one */
static void
test_global_header_checks (void **state)
{
  static const char *what[]
      = { "payment_form", "global", "date", "issuer.tax_id" };
  for (int k = 0; k < 4; k++)
    {
      struct invoice h;
      global_header (&h);
      if (k == 0)
        strcpy (h.payment_form, "77");
      else if (k == 1)
        strcpy (h.global.months, "42");
      else if (k == 2)
        strcpy (h.date, "2026-11-31T00:00:00");
      else
        {
          free (h.issuer.rfc);
          h.issuer.rfc = xstrdup ("XAXX010101000");
        }
      struct tickets t = { 3, 1, 0 };
      struct buf xml = BUF_INIT;
      struct ferr e = { 0 };
      assert_false (cfdi_build_global (&h, csd, ticket_next, &t,
                                       cfdi_write_buf, &xml, NULL, &e));
      assert_string_equal (e.field, what[k]);
      assert_int_equal (xml.len, 0);
      buf_free (&xml);
      invoice_free (&h);
    }
}

/* SAT: TFD 1.1 — the whole issuing step through the sandbox PAC: the
 * stamped document still passes the three checks */
static void
test_issue_stamped (void **state)
{
  struct ferr e = { 0 };
  struct pac *pac = pac_by_name ("sandbox", NULL, &e);
  if (pac == NULL)
    fail_msg ("sandbox: %s", e.message);
  for (int k = 0; k < 6; k++)
    {
      struct buf b = BUF_INIT;
      put_header (&b, 'I', &customers[k % 4], false);
      buf_puts (&b, ",\"payment_form\":\"03\"");
      put_items (&b, 1 + k, false);
      buf_puts (&b, "}");
      struct invoice inv;
      invoice_init (&inv);
      assert_true (cfdi_invoice_from_text (b.data, b.len, &inv, &e));
      struct buf sealed = BUF_INIT, cad = BUF_INIT, out = BUF_INIT;
      assert_true (cfdi_build_sealed (&inv, csd, &sealed, &cad, &e));
      struct pac_stamp st = { 0 };
      assert_int_equal (cfdi_build_issue (&inv, csd, pac, &out, &st, &e),
                        PAC_OK);
      assert_int_equal (strlen (st.uuid), 36);
      assert_non_null (strstr (out.data, "TimbreFiscalDigital"));
      check_doc (out.data, out.len, cad.data, cad.len, "stamped");
      pac_stamp_clear (&st);
      /* without a PAC: the sealed document itself */
      buf_reset (&out);
      assert_int_equal (cfdi_build_issue (&inv, csd, NULL, &out, NULL, &e),
                        PAC_OK);
      assert_int_equal (out.len, sealed.len);
      assert_memory_equal (out.data, sealed.data, out.len);
      buf_free (&b);
      buf_free (&sealed);
      buf_free (&cad);
      buf_free (&out);
      invoice_free (&inv);
    }
  pac_free (pac);
}

/* SAT: the builder refuses an issuer that is not the certificate's */
static void
test_rfc_mismatch (void **state)
{
  const char *json
      = "{\"date\":\"2026-01-02T03:04:05\",\"issuer\":{\"tax_id\":"
        "\"CACX7605101P8\",\"legal_name\":\"X\",\"tax_system\":\"612\","
        "\"address\":{\"zip\":\"01000\"}},\"customer\":{\"tax_id\":"
        "\"URE180429TM6\",\"legal_name\":\"U\",\"tax_system\":\"601\","
        "\"address\":{\"zip\":\"86991\"}},\"use\":\"G03\",\"payment_form\":"
        "\"01\",\"items\":[{\"product\":{\"description\":\"a\","
        "\"product_key\":\"01010101\",\"price\":1}}]}";
  struct invoice inv;
  invoice_init (&inv);
  struct ferr e = { 0 };
  assert_true (cfdi_invoice_from_text (json, strlen (json), &inv, &e));
  struct buf xml = BUF_INIT;
  assert_false (cfdi_build_sealed (&inv, csd, &xml, NULL, &e));
  assert_string_equal (e.code, "csd_rfc_mismatch");
  assert_string_equal (e.field, "issuer.tax_id");
  buf_free (&xml);
  invoice_free (&inv);
}

static int
setup (void **state)
{
  const char *shared = getenv ("FACTURO_SHARED");
  if (shared == NULL)
    shared = "../shared";
  char p[1024], k[1024], pw[1024];
  snprintf (p, sizeof p, "%s/sat/cfdi40-bundle.xsd", shared);
  xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt (p);
  schema = xmlSchemaParse (pc);
  xmlSchemaFreeParserCtxt (pc);
  if (schema == NULL)
    return -1;
  snprintf (p, sizeof p,
            "%s/sat/www.sat.gob.mx/sitio_internet/cfd/4/cadenaoriginal_4_0/"
            "cadenaoriginal_4_0.xslt",
            shared);
  xslt = xsltParseStylesheetFile (BAD_CAST p);
  if (xslt == NULL)
    return -1;
  snprintf (p, sizeof p, "%s/sat/csd/EKU9003173C9/EKU9003173C9.cer", shared);
  snprintf (k, sizeof k, "%s/sat/csd/EKU9003173C9/EKU9003173C9.key", shared);
  snprintf (pw, sizeof pw, "%s/sat/csd/EKU9003173C9/password.txt", shared);
  struct buf pass = BUF_INIT;
  if (read_file (pw, &pass, 100) != 0)
    return -1;
  while (pass.len && (pass.data[pass.len - 1] == '\n'))
    pass.data[--pass.len] = 0;
  struct ferr e = { 0 };
  /* a fixed "now" inside the test certificate's validity */
  csd = csd_load_files (p, k, pass.data, 1780000000, &e);
  buf_free (&pass);
  if (csd == NULL)
    {
      fprintf (stderr, "csd: %s\n", e.message);
      return -1;
    }
  snprintf (tmpdir, sizeof tmpdir, "/tmp/facturo-build-gen-XXXXXX");
  if (mkdtemp (tmpdir) == NULL)
    return -1;
  return 0;
}

static int
teardown (void **state)
{
  fprintf (stderr,
           "checked %ld documents (I %ld, E %ld, P %ld, global %ld), %d "
           "through facturo cfdi verify\n",
           n_docs, n_by_type[0], n_by_type[1], n_by_type[2], n_by_type[3],
           verified_cli);
  char cmd[400];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system (cmd) != 0)
    return -1;
  csd_free (csd);
  xsltFreeStylesheet (xslt);
  xmlSchemaFree (schema);
  return 0;
}

static void
quiet (void *ctx, const char *msg, ...)
{
  (void)ctx;
  (void)msg;
}

int
main (void)
{
  /* SAT's XSLTs declare version 2.0: libxslt warns once and runs them in
   * forwards-compatible mode (shared/sat/README.md); silence that. */
  xmlSetGenericErrorFunc (NULL, quiet);
  xsltSetGenericErrorFunc (NULL, quiet);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_generated_ingreso_egreso),
    cmocka_unit_test (test_generated_pagos),
    cmocka_unit_test (test_generated_global_json),
    cmocka_unit_test (test_generated_global_streamed),
    cmocka_unit_test (test_global_memory_bounded),
    cmocka_unit_test (test_global_errors),
    cmocka_unit_test (test_rebuild_samples),
    cmocka_unit_test (test_rebuild_sample_streamed),
    cmocka_unit_test (test_global_header_checks),
    cmocka_unit_test (test_issue_stamped),
    cmocka_unit_test (test_rfc_mismatch),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
