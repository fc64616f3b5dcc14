/*
 * test_pac.c — the provider interface and the sandbox PAC.
 *
 * Proves, with tools independent of our code (SAT's XSD under xmllint,
 * SAT's TFD XSLT under xsltproc, the openssl command): a sandbox-stamped
 * sample stays valid under cfdi40-bundle.xsd; its SelloSAT verifies over
 * the TFD cadena with data/sandbox's certificate; SelloCFD is the Sello;
 * the Comprobante's own cadena is unchanged.  Also: refusals (not XML,
 * not sealed, tampered, already stamped), fresh UUID v4 per stamp,
 * stamping from 8 threads, sandbox cancellation and its validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>

#include "cfdi/pac.h"

#define TFD_NS "http://www.sat.gob.mx/TimbreFiscalDigital"

static char sat[512];
static char data[512];
static char tmpdir[256];
static struct pac *sandbox;

static struct buf
slurp (const char *p)
{
  struct buf b = BUF_INIT;
  if (read_file (p, &b, 0) != 0)
    fail_msg ("cannot read %s", p);
  return b;
}

static struct buf
sample (const char *name)
{
  char p[700];
  snprintf (p, sizeof p, "%s/samples/%s", sat, name);
  return slurp (p);
}

static void
write_file (const char *p, const char *s, size_t n)
{
  FILE *f = fopen (p, "wb");
  assert_non_null (f);
  assert_int_equal (fwrite (s, 1, n, f), n);
  fclose (f);
}

static int
sh (const char *fmt, ...)
{
  char cmd[4096];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (cmd, sizeof cmd, fmt, ap);
  va_end (ap);
  return system (cmd);
}

static bool
uuid_v4_upper (const char *u)
{
  if (strlen (u) != 36 || u[14] != '4' || !strchr ("89AB", u[19]))
    return false;
  for (int i = 0; i < 36; i++)
    {
      bool dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? u[i] != '-' : !strchr ("0123456789ABCDEF", u[i]))
        return false;
    }
  return true;
}

/* Stamps a sample and checks it with the outside tools. */
static void
stamp_and_check (const char *name)
{
  struct buf in = sample (name);
  struct pac_stamp s;
  struct ferr e = { 0 };
  enum pac_status st = pac_stamp (sandbox, in.data, in.len, &s, &e);
  if (st != PAC_OK)
    fail_msg ("%s: %d %s %s", name, st, e.code, e.message);
  assert_true (uuid_v4_upper (s.uuid));
  assert_int_equal (strlen (s.fecha_timbrado), 19);
  assert_int_equal (s.fecha_timbrado[10], 'T');
  assert_string_equal (s.rfc_prov_certif, "FSB200101AA9");
  assert_string_equal (s.no_certificado_sat, "99999000000000000001");
  assert_non_null (strstr (s.xml, s.uuid));
  assert_non_null (strstr (s.xml, s.sello_sat));
  assert_non_null (strstr (s.xml, "NO tiene validez fiscal"));
  assert_non_null (strstr (s.xml, "TimbreFiscalDigitalv11.xsd"));

  char out[400];
  snprintf (out, sizeof out, "%s/%s", tmpdir, name);
  write_file (out, s.xml, s.xml_len);

  /* (a) SAT's XSD */
  assert_int_equal (sh ("xmllint --nonet --noout --schema %s/cfdi40-bundle.xsd"
                        " %s 2>%s.xsd.err",
                        sat, out, out),
                    0);
  /* (b) the Comprobante's cadena (SAT's XSLT) is what the sample had */
  assert_int_equal (
      sh ("xsltproc --nonet %s/www.sat.gob.mx/sitio_internet/cfd/4/"
          "cadenaoriginal_4_0/cadenaoriginal_4_0.xslt %s >%s.cad 2>/dev/null"
          " && cmp -s %s.cad %s/samples/%.*s.cadena.txt",
          sat, out, out, out, sat, (int)(strlen (name) - 4), name),
      0);
  /* (c) SelloSAT over SAT's TFD cadena, with data/sandbox's certificate */
  assert_int_equal (
      sh ("set -e; xsltproc --nonet %s/cadenaoriginal_TFD_1_1-in-cfdi.xslt %s"
          " >%s.tfd 2>/dev/null;"
          " openssl x509 -inform DER -in %s/sandbox/99999000000000000001.cer"
          " -pubkey -noout >%s.pub;"
          " xmllint --nonet --xpath 'string(//*[local-name()="
          "\"TimbreFiscalDigital\"]/@SelloSAT)' %s | base64 -d >%s.sig;"
          " openssl dgst -sha256 -verify %s.pub -signature %s.sig %s.tfd"
          " >/dev/null",
          sat, out, out, data, out, out, out, out, out, out),
      0);
  /* the TFD cadena names our UUID, date and the Comprobante's Sello */
  struct buf tfd;
  {
    char p[500];
    snprintf (p, sizeof p, "%s.tfd", out);
    tfd = slurp (p);
  }
  xmlDocPtr d = xmlReadMemory (in.data, (int)in.len, NULL, NULL, 0);
  xmlChar *sello
      = xmlGetNoNsProp (xmlDocGetRootElement (d), (const xmlChar *)"Sello");
  struct buf want = BUF_INIT;
  buf_printf (&want, "||1.1|%s|%s|FSB200101AA9|", s.uuid, s.fecha_timbrado);
  assert_memory_equal (tfd.data, want.data, want.len);
  assert_non_null (strstr (tfd.data, (const char *)sello)); /* SelloCFD */
  xmlFree (sello);
  xmlFreeDoc (d);
  buf_free (&want);
  buf_free (&tfd);

  /* stamping the stamped document again is refused */
  struct pac_stamp s2;
  assert_int_equal (pac_stamp (sandbox, s.xml, s.xml_len, &s2, &e),
                    PAC_REJECTED);
  assert_string_equal (e.code, "pac_already_stamped");
  assert_null (s2.xml);

  pac_stamp_clear (&s);
  pac_stamp_clear (&s);
  buf_free (&in);
}

static void
test_stamp_ingreso (void **state)
{
  stamp_and_check ("ingreso-usd-discounts-sealed.xml");
}

/* Complemento already present (Pagos 2.0): the TFD joins it. */
static void
test_stamp_pago (void **state)
{
  stamp_and_check ("pago20-sealed.xml");
}

static void
test_fresh_uuid (void **state)
{
  struct buf in = sample ("egreso-constructed.xml");
  struct pac_stamp a, b;
  struct ferr e;
  assert_int_equal (pac_stamp (sandbox, in.data, in.len, &a, &e), PAC_OK);
  assert_int_equal (pac_stamp (sandbox, in.data, in.len, &b, &e), PAC_OK);
  assert_string_not_equal (a.uuid, b.uuid);
  assert_string_not_equal (a.sello_sat, b.sello_sat);
  pac_stamp_clear (&a);
  pac_stamp_clear (&b);
  buf_free (&in);
}

static void
expect_reject (const char *xml, size_t len, const char *code)
{
  struct pac_stamp s;
  struct ferr e = { 0 };
  assert_int_equal (pac_stamp (sandbox, xml, len, &s, &e), PAC_REJECTED);
  if (strcmp (e.code, code) != 0)
    fail_msg ("expected %s, got %s (%s)", code, e.code, e.message);
  assert_null (s.xml);
  assert_null (s.sello_sat);
}

static void
replace_once (struct buf *b, const char *from, const char *to)
{
  char *p = strstr (b->data, from);
  assert_non_null (p);
  struct buf n = BUF_INIT;
  buf_append (&n, b->data, (size_t)(p - b->data));
  buf_puts (&n, to);
  buf_puts (&n, p + strlen (from));
  buf_free (b);
  *b = n;
}

static void
test_refusals (void **state)
{
  expect_reject ("", 0, "pac_xml_size");
  expect_reject ("not xml", 7, "pac_xml_invalid");
  const char *other = "<a xmlns=\"urn:x\" Version=\"4.0\"/>";
  expect_reject (other, strlen (other), "pac_not_cfdi40");

  struct buf in = sample ("ingreso-usd-discounts-sealed.xml");
  struct buf t = BUF_INIT;
  buf_append (&t, in.data, in.len);
  replace_once (&t, "Sello=\"", "SelloX=\"");
  expect_reject (t.data, t.len, "pac_not_sealed");
  buf_free (&t);

  buf_append (&t, in.data, in.len);
  replace_once (&t, "NoCertificado=\"30001000000500003416\"",
                "NoCertificado=\"30001000000500003417\"");
  expect_reject (t.data, t.len, "pac_cert_mismatch");
  buf_free (&t);

  buf_append (&t, in.data, in.len);
  replace_once (&t, "Rfc=\"EKU9003173C9\"", "Rfc=\"CACX7605101P8\"");
  expect_reject (t.data, t.len, "pac_rfc_mismatch");
  buf_free (&t);

  buf_append (&t, in.data, in.len);
  replace_once (&t, "Fecha=\"2023-06-18T19:20:21\"",
                "Fecha=\"2022-06-18T19:20:21\"");
  expect_reject (t.data, t.len, "pac_cert_not_valid_at_fecha");
  buf_free (&t);

  /* one changed character of a sealed value: the Sello no longer verifies */
  buf_append (&t, in.data, in.len);
  replace_once (&t, "Folio=\"0000123456\"", "Folio=\"0000123457\"");
  expect_reject (t.data, t.len, "pac_sello_invalid");
  buf_free (&t);
  buf_free (&in);
}

#define NTHREADS 8
struct job
{
  const struct buf *in;
  char uuid[4][40];
  int bad;
};

static void *
stamper (void *arg)
{
  struct job *j = arg;
  for (int i = 0; i < 4; i++)
    {
      struct pac_stamp s;
      struct ferr e;
      if (pac_stamp (sandbox, j->in->data, j->in->len, &s, &e) != PAC_OK)
        j->bad++;
      else
        snprintf (j->uuid[i], sizeof j->uuid[i], "%s", s.uuid);
      pac_stamp_clear (&s);
    }
  return NULL;
}

static void
test_threads (void **state)
{
  struct buf in = sample ("ingreso-usd-discounts-sealed.xml");
  pthread_t th[NTHREADS];
  static struct job jobs[NTHREADS];
  for (int t = 0; t < NTHREADS; t++)
    {
      memset (&jobs[t], 0, sizeof jobs[t]);
      jobs[t].in = &in;
      assert_int_equal (pthread_create (&th[t], NULL, stamper, &jobs[t]), 0);
    }
  for (int t = 0; t < NTHREADS; t++)
    {
      pthread_join (th[t], NULL);
      assert_int_equal (jobs[t].bad, 0);
    }
  for (int a = 0; a < NTHREADS * 4; a++)
    for (int b = a + 1; b < NTHREADS * 4; b++)
      assert_string_not_equal (jobs[a / 4].uuid[a % 4],
                               jobs[b / 4].uuid[b % 4]);
  buf_free (&in);
}

static void
test_cancel (void **state)
{
  struct cancel_request q;
  struct cancel_ack a;
  struct ferr e = { 0 };
  assert_true (
      cancel_request_init (&q, "5b6c7d8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "01",
                           "C2832671-DA6D-11EF-A83D-00155D012007", &e));
  snprintf (q.issuer_rfc, sizeof q.issuer_rfc, "EKU9003173C9");
  assert_int_equal (pac_cancel (sandbox, &q, NULL, &a, &e), PAC_OK);
  assert_string_equal (a.uuid, "5B6C7D8E-1A2B-4C3D-8E9F-0A1B2C3D4E5F");
  assert_int_equal (a.reason, CANCEL_REASON_01);
  assert_string_equal (a.substitute_uuid,
                       "C2832671-DA6D-11EF-A83D-00155D012007");
  assert_int_equal (a.status, CANCEL_STATUS_CANCELLED);
  assert_string_equal (a.sat_code, "201");
  assert_int_equal (strlen (a.date), 19);
  assert_non_null (a.acuse_xml);
  assert_non_null (strstr (a.acuse_xml, "<UUID>5B6C7D8E-"));
  assert_non_null (strstr (a.acuse_xml, "<Motivo>01</Motivo>"));
  assert_non_null (strstr (a.acuse_xml, "RfcEmisor=\"EKU9003173C9\""));
  /* the acuse is well-formed XML */
  xmlDocPtr d = xmlReadMemory (a.acuse_xml, (int)strlen (a.acuse_xml), NULL,
                               NULL, XML_PARSE_NOERROR);
  assert_non_null (d);
  xmlFreeDoc (d);
  cancel_ack_clear (&a);

  /* an invalid request never reaches the provider */
  q.reason = CANCEL_REASON_02; /* with a substitute: not allowed */
  assert_int_equal (pac_cancel (sandbox, &q, NULL, &a, &e), PAC_REJECTED);
  assert_string_equal (e.code, "cancel_substitute_not_allowed");
  assert_null (a.acuse_xml);
}

static void
test_registry (void **state)
{
  struct ferr e = { 0 };
  assert_null (pac_by_name ("nope", NULL, &e));
  assert_string_equal (e.code, "pac_unknown");
  assert_string_equal (pac_names ()[0], "sandbox");
  struct pac_config cfg = { 0 };
  cfg.datadir = "/nonexistent";
  assert_null (pac_by_name ("sandbox", &cfg, &e));
  assert_string_equal (e.code, "pac_sandbox_cert");
  pac_free (NULL);
  pac_stamp_clear (NULL);
}

int
main (void)
{
  const char *shd = getenv ("FACTURO_SHARED");
  const char *dd = getenv ("FACTURO_DATA");
  snprintf (sat, sizeof sat, "%s/sat", shd ? shd : "../shared");
  snprintf (data, sizeof data, "%s", dd ? dd : FACTURO_DATADIR);
  snprintf (tmpdir, sizeof tmpdir, "/tmp/facturo-test-pac-XXXXXX");
  if (mkdtemp (tmpdir) == NULL)
    return 1;
  struct ferr e = { 0 };
  sandbox = pac_by_name ("sandbox", NULL, &e);
  if (sandbox == NULL)
    {
      fprintf (stderr, "sandbox: %s %s\n", e.code, e.message);
      return 1;
    }
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_stamp_ingreso), cmocka_unit_test (test_stamp_pago),
    cmocka_unit_test (test_fresh_uuid),    cmocka_unit_test (test_refusals),
    cmocka_unit_test (test_threads),       cmocka_unit_test (test_cancel),
    cmocka_unit_test (test_registry),
  };
  int rc = cmocka_run_group_tests (tests, NULL, NULL);
  pac_free (sandbox);
  if (rc == 0)
    sh ("rm -rf %s", tmpdir);
  else
    fprintf (stderr, "outputs kept in %s\n", tmpdir);
  return rc;
}
