/*
 * test_pdf.c — pdf_render_cfdi and pdf_sat_url as a library: SAT's
 * verification URL (Anexo 20 QR text, shared/sat/README.md §6), every
 * sample renders on both paper sizes, bad input is refused with the
 * right code, and concurrent renders in threads give the same bytes as
 * a lone render (no hidden shared state in libharu/libqrencode/libxml2).
 * What the PDFs say is read back with poppler in test_pdf.sh.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pdf/pdf.h"

static const char *const samples[] = {
  "egreso-constructed",           "global-constructed",
  "ingreso-real-production",      "ingreso-test-stamped-cfdiutils",
  "ingreso-test-stamped-finkok",  "ingreso-test-stamped-sw",
  "ingreso-usd-discounts-sealed", "pago20-sealed",
};

static void
load_sample (const char *name, struct buf *b)
{
  char path[1024];
  const char *sh = getenv ("FACTURO_SHARED");
  snprintf (path, sizeof path, "%s/sat/samples/%s.xml", sh ? sh : "../shared",
            name);
  if (read_file (path, b, 0) != 0)
    fail_msg ("cannot read %s", path);
}

static bool
is_pdf (const struct buf *b)
{
  return b->len > 1000 && memcmp (b->data, "%PDF-1.", 7) == 0
         && memmem (b->data + b->len - 32, 32, "%%EOF", 5) != NULL;
}

/* SAT: Anexo 20 código bidimensional; README §6 gives the exact URL. */
static void
test_sat_url (void **state)
{
  struct buf u = BUF_INIT;
  (void)state;
  pdf_sat_url ("C2832671-DA6D-11EF-A83D-00155D012007", "ISD950921HE5",
               "COSC8001137NA", "1000.00", "....xyzhNjeNw==", &u);
  assert_string_equal (
      u.data,
      "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?"
      "id=C2832671-DA6D-11EF-A83D-00155D012007&re=ISD950921HE5&rr="
      "COSC8001137NA"
      "&tt=1000.0&fe=hNjeNw==");
  static const struct
  {
    const char *total, *tt;
  } tt[] = { { "1000.00", "1000.0" },  { "2010.010", "2010.01" },
             { "0.99", "0.99" },       { "0", "0.0" },
             { "3327.01", "3327.01" }, { "12.123456", "12.123456" },
             { "150", "150.0" } };
  for (size_t i = 0; i < sizeof tt / sizeof tt[0]; i++)
    {
      buf_reset (&u);
      pdf_sat_url ("U", "A&B010101AAA", "XAXX010101000", tt[i].total,
                   "12345678", &u);
      char want[256];
      snprintf (
          want, sizeof want,
          "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?"
          "id=U&re=A&amp;B010101AAA&rr=XAXX010101000&tt=%s&fe=12345678",
          tt[i].tt);
      assert_string_equal (u.data, want);
    }
  buf_free (&u);
}

static void
test_render_samples (void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
    for (int paper = 0; paper < 2; paper++)
      {
        struct buf x = BUF_INIT, out = BUF_INIT;
        struct ferr e = { 0 };
        struct pdf_options o
            = { .paper = paper ? PDF_PAPER_A4 : PDF_PAPER_LETTER };
        load_sample (samples[i], &x);
        if (!pdf_render_cfdi (x.data, x.len, &o, &out, &e))
          fail_msg ("%s: %s: %s", samples[i], e.code, e.message);
        assert_true (is_pdf (&out));
        const char *box
            = paper ? "/MediaBox [ 0 0 595.2" : "/MediaBox [ 0 0 612 792 ]";
        assert_non_null (memmem (out.data, out.len, box, strlen (box)));
        buf_free (&x);
        buf_free (&out);
      }
}

static void
expect_fail (const char *xml, size_t len, const struct pdf_options *o,
             const char *code, bool input)
{
  struct buf out = BUF_INIT;
  struct ferr e = { 0 };
  buf_puts (&out, "keep");
  assert_false (pdf_render_cfdi (xml, len, o, &out, &e));
  assert_non_null (e.code);
  if (strcmp (e.code, code) != 0)
    fail_msg ("want %s, got %s (%s)", code, e.code, e.message);
  assert_true (e.message[0] != '\0');
  assert_int_equal (pdf_error_is_input (&e), input);
  assert_string_equal (out.data, "keep"); /* *out unchanged */
  buf_free (&out);
}

static void
test_bad_input (void **state)
{
  struct buf x = BUF_INIT;
  (void)state;
  expect_fail ("this is not xml", 15, NULL, "pdf_not_xml", true);
  expect_fail ("", 0, NULL, "pdf_not_xml", true);
  expect_fail ("<a/>", 4, NULL, "pdf_not_cfdi", true);
  static const char v33[]
      = "<cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/3\" "
        "Version=\"3.3\"/>";
  expect_fail (v33, strlen (v33), NULL, "pdf_not_cfdi", true);
  static const char noemisor[]
      = "<cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/4\" "
        "Version=\"4.0\"/>";
  expect_fail (noemisor, strlen (noemisor), NULL, "pdf_not_cfdi", true);
  /* entity expansion ("billion laughs") never happens: DOCTYPE refused */
  static const char bomb[]
      = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><r>&b;</r>";
  expect_fail (bomb, strlen (bomb), NULL, "pdf_not_xml", true);
  /* truncated sample */
  load_sample ("ingreso-real-production", &x);
  expect_fail (x.data, x.len / 2, NULL, "pdf_not_xml", true);
  /* oversized */
  expect_fail (x.data, (size_t)PDF_MAX_INPUT + 1, NULL, "pdf_too_large", true);
  /* logos: not an image, PNG signature with garbage (libharu would abort
   * the process on it; we must refuse it cleanly) */
  struct pdf_options o = { 0 };
  o.logo = (const unsigned char *)"GIF89a....";
  o.logo_len = 10;
  expect_fail (x.data, x.len, &o, "pdf_logo", true);
  static const unsigned char badpng[]
      = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10garbagegarbage";
  o.logo = badpng;
  o.logo_len = sizeof badpng - 1;
  expect_fail (x.data, x.len, &o, "pdf_logo", true);
  o.logo = (const unsigned char *)"\xFF\xD8\xFF\xE0 not really a jpeg";
  o.logo_len = 24;
  expect_fail (x.data, x.len, &o, "pdf_logo", true);
  /* missing fonts: an environment error, not bad input */
  struct pdf_options nf = { .font_dir = "/nonexistent" };
  expect_fail (x.data, x.len, &nf, "pdf_font", false);
  buf_free (&x);
}

struct job
{
  const struct buf *xml;
  const struct buf *want;
  int ok;
};

static void *
worker (void *arg)
{
  struct job *j = arg;
  j->ok = 1;
  for (int i = 0; i < 6; i++)
    {
      struct buf out = BUF_INIT;
      struct ferr e = { 0 };
      if (!pdf_render_cfdi (j->xml->data, j->xml->len, NULL, &out, &e)
          || out.len != j->want->len
          || memcmp (out.data, j->want->data, out.len) != 0)
        j->ok = 0;
      buf_free (&out);
    }
  return NULL;
}

/* Thread safety: 6 threads x 6 renders, byte-identical to a lone one. */
static void
test_threads (void **state)
{
  struct buf x[2] = { BUF_INIT, BUF_INIT }, want[2] = { BUF_INIT, BUF_INIT };
  struct ferr e = { 0 };
  pthread_t t[6];
  struct job j[6];
  (void)state;
  load_sample ("ingreso-real-production", &x[0]);
  load_sample ("pago20-sealed", &x[1]);
  for (int k = 0; k < 2; k++)
    {
      assert_true (pdf_render_cfdi (x[k].data, x[k].len, NULL, &want[k], &e));
      struct buf again = BUF_INIT;
      assert_true (pdf_render_cfdi (x[k].data, x[k].len, NULL, &again, &e));
      assert_int_equal (again.len, want[k].len); /* deterministic */
      assert_memory_equal (again.data, want[k].data, again.len);
      buf_free (&again);
    }
  for (int i = 0; i < 6; i++)
    {
      j[i] = (struct job){ &x[i % 2], &want[i % 2], 0 };
      assert_int_equal (pthread_create (&t[i], NULL, worker, &j[i]), 0);
    }
  for (int i = 0; i < 6; i++)
    {
      pthread_join (t[i], NULL);
      assert_int_equal (j[i].ok, 1);
    }
  for (int k = 0; k < 2; k++)
    {
      buf_free (&x[k]);
      buf_free (&want[k]);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sat_url),
    cmocka_unit_test (test_render_samples),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_threads),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
