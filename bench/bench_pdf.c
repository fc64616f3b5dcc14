/*
 * bench_pdf.c — PDFs per second from an already-read CFDI.
 *
 * usage: bench_pdf [FILE.xml] [--seconds S] [--threads T] [--paper a4]
 * Wall-clock rates depend on what else runs; CPU ms per PDF do not.
 * Default FILE: $FACTURO_SHARED/sat/samples/ingreso-real-production.xml
 * (a production-stamped invoice: one page with the QR code, both seals
 * and the TFD cadena).  The XML is read once; each iteration is one full
 * pdf_render_cfdi (parse, fonts, layout, QR, save to memory).  Reports
 * one thread, then T threads in parallel (default: the CPU count).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pdf/pdf.h"

static struct buf xml = BUF_INIT;
static struct pdf_options opt;
static double seconds = 3;
static atomic_long done_count;
static atomic_size_t bytes;

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
run (void *arg)
{
  double end = *(double *)arg;
  struct ferr e;
  while (now () < end)
    {
      struct buf out = BUF_INIT;
      if (!pdf_render_cfdi (xml.data, xml.len, &opt, &out, &e))
        {
          fprintf (stderr, "bench_pdf: %s\n", e.message);
          exit (1);
        }
      atomic_fetch_add (&done_count, 1);
      atomic_fetch_add (&bytes, out.len);
      buf_free (&out);
    }
  return NULL;
}

static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
measure (int threads)
{
  pthread_t t[256];
  double cpu0 = cpu_now ();
  double start = now (), end = start + seconds;
  atomic_store (&done_count, 0);
  atomic_store (&bytes, 0);
  for (int i = 0; i < threads; i++)
    pthread_create (&t[i], NULL, run, &end);
  for (int i = 0; i < threads; i++)
    pthread_join (t[i], NULL);
  double el = now () - start;
  long n = atomic_load (&done_count);
  printf ("pdf: %d thread%s: %ld PDFs in %.2f s = %.1f PDFs/s (%.2f ms each, "
          "%zu bytes avg)\n",
          threads, threads == 1 ? "" : "s", n, el, n / el,
          el * 1000 * threads / n, n ? atomic_load (&bytes) / (size_t)n : 0);
  printf ("pdf: %d thread%s: %.2f ms of CPU per PDF (what a host that is not "
          "shared would give per core)\n",
          threads, threads == 1 ? "" : "s",
          n ? (cpu_now () - cpu0) * 1000 / n : 0);
}

int
main (int argc, char **argv)
{
  char path[1024] = "";
  int threads = (int)sysconf (_SC_NPROCESSORS_ONLN);
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi (argv[++i]);
    else if (strcmp (argv[i], "--paper") == 0 && i + 1 < argc)
      opt.paper
          = strcmp (argv[++i], "a4") == 0 ? PDF_PAPER_A4 : PDF_PAPER_LETTER;
    else if (strcmp (argv[i], "--help") == 0)
      {
        puts ("usage: bench_pdf [FILE.xml] [--seconds S] [--threads T] "
              "[--paper a4|letter]");
        return 0;
      }
    else
      snprintf (path, sizeof path, "%s", argv[i]);
  if (!*path)
    {
      const char *sh = getenv ("FACTURO_SHARED");
      snprintf (path, sizeof path,
                "%s/sat/samples/ingreso-real-production.xml",
                sh ? sh : "../shared");
    }
  if (threads < 1 || threads > 256 || seconds <= 0)
    {
      fprintf (stderr, "bench_pdf: bad --threads or --seconds\n");
      return 2;
    }
  if (read_file (path, &xml, PDF_MAX_INPUT) != 0)
    {
      perror (path);
      return 2;
    }
  printf ("pdf: rendering %s (%zu bytes of XML)\n", path, xml.len);
  measure (1);
  if (threads > 1)
    measure (threads);
  buf_free (&xml);
  return 0;
}
