/*
 * fixture.c — test set-up for tests/issue: a migrated database with a
 * merchant, its CSD and an API key, made through the store API directly
 * (so these tests do not depend on the admin CLI).
 *
 *   issue_fixture DB tenant SLUG RFC NAME REGIME ZIP CER KEY PWFILE
 *                 [WINDOW_DAYS [PERIODICITY [SERIES [STAMP]]]]
 *       migrates, creates the tenant (with its CSD if CER is not "-") and
 *       prints a new API key on stdout.
 *   issue_fixture DB folios SLUG      prints "SERIES FOLIO" per invoice
 *   issue_fixture DB count SLUG       prints the number of invoices
 *   issue_fixture DB window SLUG DAYS sets the tenant's window_days
 *   issue_fixture DB events SLUG ID   prints "KIND ACTOR DETAIL" per event
 *
 * The master key comes from FACTURO_SECRET_KEY like the server's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cfdi/csd.h"
#include "store/store.h"
#include "util/buf.h"

static int
die (const char *what, const struct ferr *e)
{
  fprintf (stderr, "issue_fixture: %s%s%s\n", what, e ? ": " : "",
           e ? e->message : "");
  return 1;
}

static bool
print_row (const struct store_invoice *v, void *arg)
{
  (void)arg;
  printf ("%s %lld %s\n", v->series, (long long)v->folio, v->uuid);
  return true;
}

int
main (int argc, char **argv)
{
  if (argc < 4)
    {
      fprintf (stderr, "usage: issue_fixture DB tenant|folios|count ...\n");
      return 2;
    }
  if (sodium_init () < 0)
    return 1;
  struct ferr e;
  memset (&e, 0, sizeof e);
  struct store *s = store_open (argv[1], &e);
  if (s == NULL)
    return die ("open", &e);
  int rc = 0;
  if (strcmp (argv[2], "tenant") == 0 && argc >= 11)
    {
      if (store_migrate (s, NULL) < 0)
        return die ("migrate", NULL);
      struct store_tenant t;
      store_tenant_init (&t);
      snprintf (t.slug, sizeof t.slug, "%s", argv[3]);
      snprintf (t.rfc, sizeof t.rfc, "%s", argv[4]);
      snprintf (t.name, sizeof t.name, "%s", argv[5]);
      snprintf (t.regime, sizeof t.regime, "%s", argv[6]);
      snprintf (t.zip, sizeof t.zip, "%s", argv[7]);
      if (argc > 11)
        t.window_days = atoi (argv[11]);
      if (argc > 12)
        snprintf (t.periodicity, sizeof t.periodicity, "%s", argv[12]);
      if (argc > 13)
        snprintf (t.series, sizeof t.series, "%s", argv[13]);
      if (argc > 14)
        snprintf (t.stamp, sizeof t.stamp, "%s", argv[14]);
      if (store_tenant_insert (s, &t) != STORE_ONE)
        return die ("tenant insert", NULL);
      if (strcmp (argv[8], "-") != 0)
        {
          struct buf cer = BUF_INIT, key = BUF_INIT, pw = BUF_INIT;
          if (read_file (argv[8], &cer, 0) || read_file (argv[9], &key, 0)
              || read_file (argv[10], &pw, 0))
            return die ("cannot read the CSD files", NULL);
          while (
              pw.len
              && (pw.data[pw.len - 1] == '\n' || pw.data[pw.len - 1] == '\r'))
            pw.data[--pw.len] = '\0';
          struct csd *c
              = csd_load ((uint8_t *)cer.data, cer.len, (uint8_t *)key.data,
                          key.len, pw.data, time (NULL), &e);
          if (c == NULL)
            return die ("csd", &e);
          struct store_csd m = { 0 };
          m.cer = (unsigned char *)cer.data;
          m.cer_len = cer.len;
          m.key = (unsigned char *)key.data;
          m.key_len = key.len;
          m.password = pw.data;
          snprintf (m.serial, sizeof m.serial, "%s", csd_no_certificado (c));
          m.not_after = (int64_t)csd_not_after (c);
          csd_free (c);
          if (store_tenant_csd_set (s, t.id, &m) != STORE_ONE)
            return die ("csd set", NULL);
          buf_free (&cer);
          buf_free (&key);
          sodium_memzero (pw.data, pw.len);
          buf_free (&pw);
        }
      char k[STORE_APIKEY_LEN + 1];
      if (store_apikey_create (s, t.id, "test", k, NULL) != STORE_ONE)
        return die ("apikey", NULL);
      printf ("%s\n", k);
      store_tenant_clear (&t);
    }
  else if (strcmp (argv[2], "events") == 0 && argc >= 5)
    {
      struct store_tenant t;
      store_tenant_init (&t);
      if (store_tenant_find_slug (s, argv[3], &t) != STORE_ONE)
        return die ("no such tenant", NULL);
      struct store_event *ev = NULL;
      size_t n = 0;
      if (store_event_list (s, t.id, atoll (argv[4]), &ev, &n) < 0)
        return die ("events", NULL);
      for (size_t i = 0; i < n; i++)
        printf ("%s %s %s\n", ev[i].kind, ev[i].actor,
                ev[i].detail ? ev[i].detail : "");
      store_event_list_free (ev, n);
      store_tenant_clear (&t);
    }
  else if (strcmp (argv[2], "window") == 0 && argc >= 5)
    {
      struct store_tenant t;
      store_tenant_init (&t);
      if (store_tenant_find_slug (s, argv[3], &t) != STORE_ONE)
        return die ("no such tenant", NULL);
      t.window_days = atoi (argv[4]);
      if (store_tenant_update (s, t.id, &t) != STORE_ONE)
        return die ("tenant update", NULL);
      store_tenant_clear (&t);
    }
  else if (strcmp (argv[2], "folios") == 0 || strcmp (argv[2], "count") == 0)
    {
      struct store_tenant t;
      store_tenant_init (&t);
      if (store_tenant_find_slug (s, argv[3], &t) != STORE_ONE)
        return die ("no such tenant", NULL);
      if (strcmp (argv[2], "folios") == 0)
        store_invoice_walk (s, t.id, print_row, NULL);
      else
        {
          long n = 0;
          int64_t cur = 0, next;
          do
            {
              struct store_invoice *rows;
              size_t k;
              if (store_invoice_list (s, t.id, cur, 500, &rows, &k, &next) < 0)
                return die ("list", NULL);
              n += (long)k;
              store_invoice_list_free (rows, k);
              cur = next;
            }
          while (next);
          printf ("%ld\n", n);
        }
      store_tenant_clear (&t);
    }
  else
    rc = 2;
  store_close (s);
  return rc;
}
