/*
 * samples.h — what test_cadena.c and test_verify.c both need from
 * SAT's sample folder (../shared/sat/samples): whole files read into
 * memory and the sorted list of the *.xml names.  Test-only; included
 * once per test program (static functions).
 */
#ifndef FACTURO_TESTS_CFDI_VERIFY_SAMPLES_H
#define FACTURO_TESTS_CFDI_VERIFY_SAMPLES_H

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* The whole file at path (NUL-terminated, *len bytes; the caller frees),
 * or NULL when it cannot be read. */
static char *
slurp (const char *path, size_t *len)
{
  struct buf b = BUF_INIT;
  if (read_file (path, &b, 0) != 0)
    return NULL;
  *len = b.len;
  return buf_steal (&b);
}

static int
samples_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Fills names (strdup'd, the caller frees) with at most max *.xml names
 * of dir, sorted; returns how many, or -1 when dir cannot be opened. */
static int
samples_list (const char *dir, char **names, int max)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL && n < max)
    {
      size_t l = strlen (de->d_name);
      if (l > 4 && strcmp (de->d_name + l - 4, ".xml") == 0)
        names[n++] = strdup (de->d_name);
    }
  closedir (d);
  qsort (names, (size_t)n, sizeof *names, samples_cmp);
  return n;
}

#endif
