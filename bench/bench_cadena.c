/*
 * bench_cadena.c — cadena original per second: native (cfdi/cadena.c) vs
 * libxslt running SAT's cadenaoriginal_4_0.xslt compiled once, on the same
 * parsed documents (SAT's samples), one core.  Also the TFD cadena.
 * Checks the two outputs are byte-identical before timing.
 *
 * usage: bench_cadena [SHARED_DIR] [SECONDS_PER_MEASURE]
 *   SHARED_DIR defaults to $FACTURO_SHARED, else ../shared; SECONDS
 *   (default 2) is split into 5 alternating rounds, the best of each kept.
 *
 * Owner: verify.  Not a test: run by hand or from bench/run.sh.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxslt/transform.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>

#include "cfdi/cadena.h"
#include "cfdi/verify.h"

#define MAX_DOCS 64

static void
quiet (void *ctx, const char *msg, ...)
{
  (void)ctx;
  (void)msg;
}

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
xslt_cadena (xsltStylesheetPtr st, xmlDocPtr doc, int *len)
{
  xmlDocPtr res = xsltApplyStylesheet (st, doc, NULL);
  xmlChar *s = NULL;
  *len = 0;
  if (res == NULL || xsltSaveResultToString (&s, len, res, st) != 0)
    {
      fprintf (stderr, "libxslt failed\n");
      exit (1);
    }
  xmlFreeDoc (res);
  return (char *)s;
}

static xmlNodePtr
find_tfd (xmlNodePtr n)
{
  for (; n != NULL; n = n->next)
    {
      if (n->type == XML_ELEMENT_NODE && n->ns
          && strcmp ((char *)n->ns->href, CFDI_NS_TFD11) == 0)
        return n;
      xmlNodePtr t = find_tfd (n->children);
      if (t)
        return t;
    }
  return NULL;
}

/* Runs the job over all docs until `secs` pass; returns cadenas per
 * second. */
struct job
{
  xmlDocPtr *docs;
  int n;
  xsltStylesheetPtr st; /* NULL = native */
  int tfd;
};

static double
measure (const struct job *j, double secs)
{
  struct buf out = BUF_INIT;
  long count = 0;
  double t0 = now (), t;
  do
    {
      for (int i = 0; i < j->n; i++)
        {
          xmlNodePtr root = xmlDocGetRootElement (j->docs[i]);
          if (j->st != NULL)
            {
              int len;
              free (xslt_cadena (j->st, j->docs[i], &len));
            }
          else
            {
              buf_reset (&out);
              if (j->tfd)
                cfdi_tfd_cadena (find_tfd (root), &out, NULL);
              else
                cfdi_cadena (root, &out, NULL);
            }
        }
      count += j->n;
      t = now ();
    }
  while (t - t0 < secs);
  buf_free (&out);
  return (double)count / (t - t0);
}

int
main (int argc, char **argv)
{
  const char *shared = argc > 1 ? argv[1] : getenv ("FACTURO_SHARED");
  if (shared == NULL)
    shared = "../shared";
  double secs = argc > 2 ? atof (argv[2]) : 2.0;
  char path[2048];

  xsltSetGenericErrorFunc (NULL, quiet);
  snprintf (path, sizeof path,
            "%s/sat/www.sat.gob.mx/sitio_internet/cfd/4/cadenaoriginal_4_0/"
            "cadenaoriginal_4_0.xslt",
            shared);
  xsltStylesheetPtr st = xsltParseStylesheetFile (BAD_CAST path);
  snprintf (path, sizeof path, "%s/sat/cadenaoriginal_TFD_1_1-in-cfdi.xslt",
            shared);
  xsltStylesheetPtr st_tfd = xsltParseStylesheetFile (BAD_CAST path);
  if (st == NULL || st_tfd == NULL)
    {
      fprintf (stderr, "bench_cadena: cannot compile SAT's XSLT under %s\n",
               shared);
      return 2;
    }

  xmlDocPtr docs[MAX_DOCS], stamped[MAX_DOCS];
  int n = 0, ns = 0;
  size_t bytes = 0;
  snprintf (path, sizeof path, "%s/sat/samples", shared);
  DIR *d = opendir (path);
  if (d == NULL)
    {
      fprintf (stderr, "bench_cadena: no %s\n", path);
      return 2;
    }
  struct dirent *de;
  while ((de = readdir (d)) != NULL && n < MAX_DOCS)
    {
      size_t l = strlen (de->d_name);
      if (l < 5 || strcmp (de->d_name + l - 4, ".xml") != 0)
        continue;
      char p[4200];
      snprintf (p, sizeof p, "%s/%s", path, de->d_name);
      xmlDocPtr doc = xmlReadFile (p, NULL, XML_PARSE_NONET);
      if (doc == NULL)
        continue;
      /* byte-identical check before timing */
      struct buf nat = BUF_INIT;
      int xl;
      char *x = xslt_cadena (st, doc, &xl);
      if (!cfdi_cadena (xmlDocGetRootElement (doc), &nat, NULL)
          || nat.len != (size_t)xl || memcmp (nat.data, x, nat.len) != 0)
        {
          fprintf (stderr, "bench_cadena: %s: native != libxslt\n", p);
          return 1;
        }
      bytes += nat.len;
      free (x);
      if (find_tfd (xmlDocGetRootElement (doc)) != NULL)
        {
          buf_reset (&nat);
          x = xslt_cadena (st_tfd, doc, &xl);
          cfdi_tfd_cadena (find_tfd (xmlDocGetRootElement (doc)), &nat, NULL);
          if (nat.len != (size_t)xl || memcmp (nat.data, x, nat.len) != 0)
            {
              fprintf (stderr, "bench_cadena: %s: TFD native != libxslt\n", p);
              return 1;
            }
          free (x);
          stamped[ns++] = doc;
        }
      buf_free (&nat);
      docs[n++] = doc;
    }
  closedir (d);
  if (n == 0)
    return 2;

  printf ("cadena original, %d SAT samples (avg %zu bytes of cadena), "
          "byte-identical to libxslt: yes\n",
          n, bytes / (size_t)n);
  /* Alternating rounds, best of each: the machine is shared, and the
   * best round is the one least disturbed. */
  struct job jn = { docs, n, NULL, 0 }, jx = { docs, n, st, 0 };
  double rn = 0, rx = 0;
  for (int round = 0; round < 5; round++)
    {
      double a = measure (&jn, secs / 5), b = measure (&jx, secs / 5);
      rn = a > rn ? a : rn;
      rx = b > rx ? b : rx;
    }
  printf ("  native:            %10.0f cadenas/s  (%.2f us each)\n", rn,
          1e6 / rn);
  printf ("  libxslt (SAT XSLT): %9.0f cadenas/s  (%.2f us each)\n", rx,
          1e6 / rx);
  printf ("  ratio native/libxslt: %.1fx\n", rn / rx);
  if (ns > 0)
    {
      struct job tn = { stamped, ns, NULL, 1 },
                 tx = { stamped, ns, st_tfd, 1 };
      double a = 0, b = 0;
      for (int round = 0; round < 5; round++)
        {
          double x = measure (&tn, secs / 10), y = measure (&tx, secs / 10);
          a = x > a ? x : a;
          b = y > b ? y : b;
        }
      printf ("TFD cadena, %d stamped samples: native %.0f/s, libxslt %.0f/s, "
              "ratio %.1fx\n",
              ns, a, b, a / b);
    }
  /* The whole of `facturo cfdi verify` (parse, XSD, cadena, certificate,
   * RSA verifications), from bytes, for scale. */
  {
    struct buf files[MAX_DOCS];
    int nf = 0;
    for (int i = 0; i < n; i++)
      {
        xmlChar *mem = NULL;
        int len = 0;
        xmlDocDumpMemoryEnc (docs[i], &mem, &len, "UTF-8");
        files[nf] = (struct buf) BUF_INIT;
        buf_append (&files[nf++], mem, (size_t) len);
        xmlFree (mem);
      }
    struct cfdi_report rep;
    long count = 0, failed = 0;
    double t0 = now (), t;
    do
      {
        for (int i = 0; i < nf; i++)
          failed += !cfdi_verify_buffer (files[i].data, files[i].len, &rep);
        count += nf;
        t = now ();
      }
    while (t - t0 < secs / 2);
    printf ("cfdi_verify_buffer (all checks): %.0f documents/s (%.0f us "
            "each)%s\n",
            (double) count / (t - t0), 1e6 * (t - t0) / (double) count,
            failed ? ", SOME FAILED" : "");
    for (int i = 0; i < nf; i++)
      buf_free (&files[i]);
  }
  for (int i = 0; i < n; i++)
    xmlFreeDoc (docs[i]);
  xsltFreeStylesheet (st);
  xsltFreeStylesheet (st_tfd);
  return 0;
}
