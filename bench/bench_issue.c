/*
 * bench_issue.c — how fast facturo issues CFDIs on one core, beside the
 * physical limit measured in the same run.
 *
 *   rsa        RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second with the
 *              same CSD key (an EVP_DigestSign loop over a typical cadena):
 *              one per sealed invoice, two per stamped one;
 *
 * Rates are operations per CPU-second of the measuring thread, with the
 * rows interleaved in 0.2 s slices, so a busy shared machine shifts all
 * rows alike and the ratios stay meaningful; wall-clock rates are shown
 * beside them.
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
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: the machine may be shared, and a rate "on one
 * core" is operations per CPU-second. */
static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One operation of a measured row. */
typedef void (*op_fn) (void *arg);

struct row
{
  const char *name;
  op_fn fn;
  void *arg;
  long n;
  double cpu, wall;
};

/* Runs the rows interleaved, in slices of ~0.2 s each, for `secs` in
 * total per row, so every row sees the same machine conditions. */
static void
measure (struct row *rows, size_t nrows, double secs)
{
  for (double done = 0; done < secs; done += 0.2)
    for (size_t r = 0; r < nrows; r++)
      {
        double c0 = cpu_now (), w0 = now (), c;
        do
          {
            for (int i = 0; i < 10; i++)
              rows[r].fn (rows[r].arg);
            rows[r].n += 10;
            c = cpu_now () - c0;
          }
        while (c < 0.2);
        rows[r].cpu += c;
        rows[r].wall += now () - w0;
      }
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

static EVP_PKEY *
load_key (void)
{
  char path[1024];
  snprintf (path, sizeof path, "%s/sat/csd/EKU9003173C9/EKU9003173C9.key",
            shared);
  BIO *bio = BIO_new_file (path, "rb");
  EVP_PKEY *k = bio ? d2i_PKCS8PrivateKey_bio (bio, NULL, NULL, pw) : NULL;
  BIO_free (bio);
  if (k == NULL)
    die ("key", NULL);
  return k;
}

struct ctx
{
  EVP_PKEY *key;
  const struct buf *cadena;
  struct invoice *inv;
  const struct csd *csd;
  const struct buf *json;
  struct pac *pac;
  struct buf xml;
};

/* The physical limit: one RSA-2048 SHA-256 signature of the cadena. */
static void
op_rsa (void *arg)
{
  struct ctx *c = arg;
  unsigned char sig[512];
  size_t sl = sizeof sig;
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  if (EVP_DigestSignInit (md, NULL, EVP_sha256 (), NULL, c->key) != 1
      || EVP_DigestSign (md, sig, &sl, (const unsigned char *)c->cadena->data,
                         c->cadena->len)
             != 1)
    die ("sign", NULL);
  EVP_MD_CTX_free (md);
}

static void
op_model (void *arg)
{
  struct ctx *c = arg;
  struct ferr e = { 0 };
  buf_reset (&c->xml);
  if (!cfdi_build_sealed (c->inv, c->csd, &c->xml, NULL, &e))
    die ("build", &e);
}

static void
op_json (void *arg)
{
  struct ctx *c = arg;
  struct ferr e = { 0 };
  struct invoice v;
  invoice_init (&v);
  buf_reset (&c->xml);
  if (!cfdi_invoice_from_text (c->json->data, c->json->len, &v, &e)
      || !cfdi_build_sealed (&v, c->csd, &c->xml, NULL, &e))
    die ("json+build", &e);
  invoice_free (&v);
}

static void
op_stamp (void *arg)
{
  struct ctx *c = arg;
  struct ferr e = { 0 };
  struct pac_stamp st = { 0 };
  buf_reset (&c->xml);
  if (cfdi_build_issue (c->inv, c->csd, c->pac, &c->xml, &st, &e) != PAC_OK)
    die ("stamp", &e);
  pac_stamp_clear (&st);
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
  it->price = (int64_t)((i * 7919) % 500000) * 100 + 100;
  it->n_taxes = 1;
  it->taxes[0].kind = INVOICE_TAX_IVA;
  it->taxes[0].rate = i % 5 == 4 ? 0 : 160000;
  (void)err;
  return 1;
}

struct counter
{
  size_t bytes;
};

static bool
count_write (void *arg, const char *data, size_t len)
{
  (void)data;
  ((struct counter *)arg)->bytes += len;
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
      double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
                   + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
      printf ("global %7zu tickets  %6.3f s CPU [%6.3f s wall]  peak RSS "
              "%5.1f MiB  XML %5.1f MiB  (targets: 10k <= 1 s / 64 MiB, "
              "100k <= 10 s / 256 MiB)\n",
              cnt, cpu, dt, (double)ru.ru_maxrss / 1024.0,
              (double)c.bytes / 1048576.0);
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
  snprintf (pw, sizeof pw, "%.*s", (int)strcspn (b.data, "\r\n"), b.data);
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

  struct ctx c = { load_key (), &cad, &inv, csd, &json, NULL, BUF_INIT };
  c.pac = pac_by_name ("sandbox", NULL, &e);
  if (c.pac == NULL)
    printf ("(sandbox PAC unavailable: %s; set FACTURO_DATA)\n", e.message);
  struct row rows[] = {
    { "rsa", op_rsa, &c, 0, 0, 0 },
    { "model", op_model, &c, 0, 0, 0 },
    { "json", op_json, &c, 0, 0, 0 },
    { "stamp", op_stamp, &c, 0, 0, 0 },
  };
  size_t nrows = c.pac ? 4 : 3;
  measure (rows, nrows, secs);
  double r[4];
  for (size_t i = 0; i < nrows; i++)
    r[i] = (double)rows[i].n / rows[i].cpu;
  printf ("rates per CPU-second of one core (rows interleaved, %.1f s "
          "each; wall-clock rates in brackets):\n",
          secs);
  printf ("rsa    %8.0f signatures/s [%6.0f]  RSA-2048 SHA-256, same key: "
          "the limit\n",
          r[0], rows[0].n / rows[0].wall);
  printf ("model  %8.0f invoices/s   [%6.0f]  built+sealed             = "
          "%.2f x RSA (target >= 2700/s)\n",
          r[1], rows[1].n / rows[1].wall, r[1] / r[0]);
  printf ("json   %8.0f invoices/s   [%6.0f]  JSON+built+sealed        = "
          "%.2f x RSA\n",
          r[2], rows[2].n / rows[2].wall, r[2] / r[0]);
  if (c.pac)
    printf ("stamp  %8.0f invoices/s   [%6.0f]  built+sealed+stamped     = "
            "%.2f x RSA (limit 0.50: two signatures)\n",
            r[3], rows[3].n / rows[3].wall, r[3] / r[0]);
  fflush (stdout);
  pac_free (c.pac);
  EVP_PKEY_free (c.key);
  buf_free (&c.xml);

  global_run (csd, 10000);
  global_run (csd, 100000);

  invoice_free (&inv);
  buf_free (&xml);
  buf_free (&cad);
  buf_free (&json);
  csd_free (csd);
  return 0;
}
