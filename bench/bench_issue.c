/*
 * bench_issue.c — how fast facturo issues CFDIs on one core, beside the
 * physical limit measured in the same run.
 *
 *   rsa        RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second with the
 *              same CSD key (an EVP_DigestSign loop over a typical cadena):
 *              one per sealed invoice, two per stamped one;
 *   model      invoices built + sealed per second from a computed model;
 *   json       the same from the invoice JSON text (parse, rules, compute);
 *   stamp      built + sealed + sandbox-stamped per second;
 *   global     streamed global invoices of 10,000 and 100,000 tickets:
 *              wall time and peak RSS (each in its own child process).
 *
 * Usage: bench_issue [SECONDS_PER_ROW] (default 2).  Needs FACTURO_SHARED
 * (the SAT test CSD) or ../shared, and FACTURO_SRC (for the example JSON)
 * or the current directory being the source tree; FACTURO_DATA for the
 * sandbox PAC certificate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cfdi/build.h"
#include "cfdi/csd.h"
#include "cfdi/json_in.h"
#include "cfdi/pac.h"
#include "util/buf.h"

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static const char *shared, *src;
static char pw[256];

static void
die (const char *what, const struct ferr *e)
{
  fprintf (stderr, "bench_issue: %s: %s %s\n", what, e ? e->field : "",
           e ? e->message : "");
  exit (1);
}

static double
rsa_rate (double secs, const char *cadena, size_t len)
{
  char path[1024];
  snprintf (path, sizeof path, "%s/sat/csd/EKU9003173C9/EKU9003173C9.key",
            shared);
  BIO *bio = BIO_new_file (path, "rb");
  EVP_PKEY *k = bio ? d2i_PKCS8PrivateKey_bio (bio, NULL, NULL, pw) : NULL;
  BIO_free (bio);
  if (k == NULL)
    die ("key", NULL);
  unsigned char sig[512];
  long n = 0;
  double t0 = now (), t;
  do
    {
      for (int i = 0; i < 50; i++)
        {
          EVP_MD_CTX *md = EVP_MD_CTX_new ();
          size_t sl = sizeof sig;
          if (EVP_DigestSignInit (md, NULL, EVP_sha256 (), NULL, k) != 1
              || EVP_DigestSign (md, sig, &sl, (const unsigned char *) cadena,
                                 len)
                     != 1)
            die ("sign", NULL);
          EVP_MD_CTX_free (md);
          n++;
        }
      t = now () - t0;
    }
  while (t < secs);
  EVP_PKEY_free (k);
  return (double) n / t;
}

struct tickets
{
  size_t n;
};

static int
ticket_next (void *arg, size_t i, struct invoice_item *it, struct ferr *err)
{
  struct tickets *t = arg;
  if (i >= t->n)
    return 0;
  char sku[32];
  snprintf (sku, sizeof sku, "T-%07zu", i + 1);
  it->sku = xstrdup (sku);
  it->price = (int64_t) ((i * 7919) % 500000) * 100 + 100;
  it->n_taxes = 1;
  it->taxes[0].kind = INVOICE_TAX_IVA;
  it->taxes[0].rate = i % 5 == 4 ? 0 : 160000;
  (void) err;
  return 1;
}

struct counter
{
  size_t bytes;
};

static bool
count_write (void *arg, const char *data, size_t len)
{
  (void) data;
  ((struct counter *) arg)->bytes += len;
  return true;
}

/* Runs one global invoice of n tickets in a child; prints its figures. */
static void
global_run (const struct csd *csd, size_t n)
{
  fflush (stdout);
  pid_t pid = fork ();
  if (pid == 0)
    {
      struct invoice h;
      invoice_init (&h);
      h.type = INVOICE_INGRESO;
      h.series = xstrdup ("G");
      h.folio = xstrdup ("1");
      strcpy (h.date, "2026-11-01T09:00:00");
      h.issuer.rfc = xstrdup ("EKU9003173C9");
      h.issuer.name = xstrdup ("ESCUELA KEMPER URGATE");
      h.issuer.regime = xstrdup ("601");
      h.issuer.zip = xstrdup ("42501");
      strcpy (h.payment_form, "01");
      strcpy (h.currency, "MXN");
      h.global.present = true;
      strcpy (h.global.periodicity, "04");
      strcpy (h.global.months, "10");
      h.global.year = 2026;
      struct tickets t = { n };
      struct counter c = { 0 };
      struct ferr e = { 0 };
      size_t cnt = 0;
      double t0 = now ();
      if (!cfdi_build_global (&h, csd, ticket_next, &t, count_write, &c, &cnt,
                              &e))
        die ("global", &e);
      double dt = now () - t0;
      struct rusage ru;
      getrusage (RUSAGE_SELF, &ru);
      printf ("global %7zu tickets  %7.3f s  peak RSS %6.1f MiB  XML %6.1f "
              "MiB  (targets: 10k <= 1 s / 64 MiB, 100k <= 10 s / 256 "
              "MiB)\n",
              cnt, dt, (double) ru.ru_maxrss / 1024.0,
              (double) c.bytes / 1048576.0);
      fflush (stdout);
      _exit (0);
    }
  int st;
  waitpid (pid, &st, 0);
}

int
main (int argc, char **argv)
{
  double secs = argc > 1 ? atof (argv[1]) : 2.0;
  if (secs <= 0)
    secs = 2.0;
  shared = getenv ("FACTURO_SHARED");
  if (shared == NULL)
    shared = "../shared";
  src = getenv ("FACTURO_SRC");
  if (src == NULL)
    src = ".";
  char p[1024], k[1024];
  struct buf b = BUF_INIT;
  snprintf (p, sizeof p, "%s/sat/csd/EKU9003173C9/password.txt", shared);
  if (read_file (p, &b, 200) != 0)
    die ("password file", NULL);
  snprintf (pw, sizeof pw, "%.*s", (int) strcspn (b.data, "\r\n"), b.data);
  buf_free (&b);
  snprintf (p, sizeof p, "%s/sat/csd/EKU9003173C9/EKU9003173C9.cer", shared);
  snprintf (k, sizeof k, "%s/sat/csd/EKU9003173C9/EKU9003173C9.key", shared);
  struct ferr e = { 0 };
  struct csd *csd = csd_load_files (p, k, pw, 1780000000, &e);
  if (csd == NULL)
    die ("csd", &e);
  struct buf json = BUF_INIT;
  snprintf (p, sizeof p, "%s/tests/cfdi_build/examples/ingreso.json", src);
  if (read_file (p, &json, 0) != 0)
    die ("examples/ingreso.json (set FACTURO_SRC)", NULL);

  struct invoice inv;
  invoice_init (&inv);
  if (!cfdi_invoice_from_text (json.data, json.len, &inv, &e))
    die ("json", &e);
  struct buf xml = BUF_INIT, cad = BUF_INIT;
  if (!cfdi_build_sealed (&inv, csd, &xml, &cad, &e))
    die ("build", &e);
  printf ("one invoice: 2 conceptos, %zu bytes of XML, cadena %zu bytes\n",
          xml.len, cad.len);

  double rsa = rsa_rate (secs, cad.data, cad.len);
  printf ("rsa    %8.0f signatures/s (RSA-2048, SHA-256, same key)\n", rsa);

  long n = 0;
  double t0 = now (), t;
  do
    {
      for (int i = 0; i < 50; i++, n++)
        {
          buf_reset (&xml);
          if (!cfdi_build_sealed (&inv, csd, &xml, NULL, &e))
            die ("build", &e);
        }
      t = now () - t0;
    }
  while (t < secs);
  double model = (double) n / t;
  printf ("model  %8.0f invoices/s built+sealed      = %.2f x RSA rate "
          "(target >= 2700/s)\n",
          model, model / rsa);

  n = 0;
  t0 = now ();
  do
    {
      for (int i = 0; i < 50; i++, n++)
        {
          struct invoice v;
          invoice_init (&v);
          buf_reset (&xml);
          if (!cfdi_invoice_from_text (json.data, json.len, &v, &e)
              || !cfdi_build_sealed (&v, csd, &xml, NULL, &e))
            die ("json+build", &e);
          invoice_free (&v);
        }
      t = now () - t0;
    }
  while (t < secs);
  double fromjson = (double) n / t;
  printf ("json   %8.0f invoices/s JSON+built+sealed = %.2f x RSA rate\n",
          fromjson, fromjson / rsa);

  struct pac *pac = pac_by_name ("sandbox", NULL, &e);
  if (pac == NULL)
    printf ("stamp  (sandbox unavailable: %s)\n", e.message);
  else
    {
      n = 0;
      t0 = now ();
      do
        {
          for (int i = 0; i < 20; i++, n++)
            {
              struct pac_stamp st = { 0 };
              buf_reset (&xml);
              if (!cfdi_build_sealed (&inv, csd, &xml, NULL, &e)
                  || pac_stamp (pac, xml.data, xml.len, &st, &e) != PAC_OK)
                die ("stamp", &e);
              pac_stamp_clear (&st);
            }
          t = now () - t0;
        }
      while (t < secs);
      double stamped = (double) n / t;
      printf ("stamp  %8.0f invoices/s built+sealed+stamped = %.2f x RSA "
              "rate (limit 0.5: two signatures each)\n",
              stamped, stamped / rsa);
      pac_free (pac);
    }

  global_run (csd, 10000);
  global_run (csd, 100000);

  invoice_free (&inv);
  buf_free (&xml);
  buf_free (&cad);
  buf_free (&json);
  csd_free (csd);
  return 0;
}
