/*
 * test_faults.c — fault injection over a whole CSV import (STYLE §16),
 * on SQLite in a temporary folder.
 *
 * For every statement N that one import of data/examples/tickets.csv
 * executes (store_fault_inject counts them):
 *   - a soft error (busy, serialization) at N makes store_tx run the
 *     import again from the top of the file, and the result is still
 *     exactly the example's 6 tickets, reported once;
 *   - a hard error at N imports nothing at all (exit status 1), never
 *     part of the file;
 *   - with a bad file, a soft error at N still reports each bad line
 *     exactly once (the retry does not print the report twice).
 * The loop ends at the first N the import never reaches.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/import.h"
#include "store/store.h"

static int failures;

#define CHECK(cond, ...)                                                      \
  do                                                                          \
    {                                                                         \
      if (!(cond))                                                            \
        {                                                                     \
          failures++;                                                         \
          fprintf (stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
          fprintf (stderr, __VA_ARGS__);                                      \
          fputc ('\n', stderr);                                               \
        }                                                                     \
    }                                                                         \
  while (0)

static int64_t
new_tenant (struct store *s, const char *slug)
{
  struct store_tenant t;
  store_tenant_init (&t);
  snprintf (t.slug, sizeof t.slug, "%s", slug);
  snprintf (t.rfc, sizeof t.rfc, "EKU9003173C9");
  snprintf (t.name, sizeof t.name, "ESCUELA KEMPER URGATE");
  snprintf (t.regime, sizeof t.regime, "601");
  snprintf (t.zip, sizeof t.zip, "42501");
  if (store_tenant_insert (s, &t) != STORE_ONE)
    {
      fprintf (stderr, "tenant %s: insert failed\n", slug);
      exit (1);
    }
  int64_t id = t.id;
  store_tenant_clear (&t);
  return id;
}

static size_t
count_tickets (struct store *s, int64_t tenant)
{
  struct store_ticket_filter f = { 0 };
  struct store_ticket *rows = NULL;
  size_t n = 0;
  int64_t next = 0;
  f.status = -1;
  f.limit = 500;
  if (store_ticket_list (s, tenant, &f, &rows, &n, &next) < 0)
    {
      fprintf (stderr, "ticket list failed\n");
      exit (1);
    }
  store_ticket_list_free (rows, n);
  return n;
}

/* Runs one import of path for tenant with a fault of `kind` at statement
 * nth (0: none).  Problems go to *report (malloc'd text). */
static int
run (struct store *s, const char *path, int64_t tenant, int nth,
     enum store_status kind, struct import_result *res, char **report)
{
  int fd = open (path, O_RDONLY);
  struct stat sb;
  if (fd < 0 || fstat (fd, &sb) != 0)
    {
      perror (path);
      exit (1);
    }
  size_t len = 0;
  FILE *out = open_memstream (report, &len);
  struct import_options o = {
    .name = "f.csv",
    .fd = fd,
    .file_size = (uint64_t)sb.st_size,
    .tenant_id = tenant,
    .timezone = "America/Mexico_City",
    .out = out,
  };
  store_fault_inject (s, nth, kind);
  int rc = import_tickets (s, &o, res);
  store_fault_inject (s, 0, STORE_SOFT);
  fclose (out);
  close (fd);
  return rc;
}

static size_t
lines (const char *text)
{
  size_t n = 0;
  for (; *text; text++)
    n += *text == '\n';
  return n;
}

int
main (void)
{
  const char *src = getenv ("FACTURO_SRC");
  char dir[] = "/tmp/facturo-import-faults.XXXXXX";
  char url[128], example[1024], bad[160];
  if (src == NULL || mkdtemp (dir) == NULL)
    {
      fprintf (stderr, "FACTURO_SRC unset or no temporary folder\n");
      return 1;
    }
  snprintf (url, sizeof url, "sqlite:%s/f.db", dir);
  snprintf (example, sizeof example, "%s/data/examples/tickets.csv", src);
  snprintf (bad, sizeof bad, "%s/bad.csv", dir);
  FILE *b = fopen (bad, "w");
  fputs ("branch,folio_number,date,payment_form,quantity,description,"
         "product_key,unit_key,price,taxes\n"
         "S1,1,2026-11-20T10:00:00,01,1,Good,50201712,H87,10.00,IVA:0.16\n"
         "S1,2,2026-11-20T10:00:00,01,1,Bad price,50201712,H87,1e3,IVA:0\n"
         "S1,3,2026-11-20T10:00:00,01,1,Good,50201712,H87,5.00,IVA:0\n"
         "S1,4,2026-11-20T10:00:00,01,x,Bad quantity,50201712,H87,1,\n",
         b);
  fclose (b);

  struct ferr err = { 0 };
  struct store *s = store_open (url, &err);
  if (s == NULL || store_migrate (s, NULL) < 0)
    {
      fprintf (stderr, "store: %s\n", err.message);
      return 1;
    }

  struct import_result res;
  char *report = NULL;
  char slug[64];
  int soft_points = 0, hard_points = 0, bad_points = 0;

  /* Soft errors: retried, exactly 6 tickets in the end. */
  for (int n = 1; n < 2000; n++)
    {
      snprintf (slug, sizeof slug, "soft-%d", n);
      int64_t t = new_tenant (s, slug);
      uint64_t before = store_retries (s);
      int rc = run (s, example, t, n, STORE_SOFT, &res, &report);
      bool fired = store_retries (s) > before;
      size_t c = count_tickets (s, t);
      CHECK (rc == 0 && c == 6 && res.imported == 6 && res.errors == 0,
             "soft error at statement %d: rc %d, %zu tickets, imported %lu"
             "\n%s",
             n, rc, c, res.imported, report);
      free (report);
      report = NULL;
      if (!fired)
        break;
      soft_points++;
    }

  /* Hard errors: nothing imported. */
  for (int n = 1; n < 2000; n++)
    {
      snprintf (slug, sizeof slug, "hard-%d", n);
      int64_t t = new_tenant (s, slug);
      int rc = run (s, example, t, n, STORE_HARD, &res, &report);
      size_t c = count_tickets (s, t);
      free (report);
      report = NULL;
      if (rc == 0)
        {
          CHECK (c == 6, "no fault fired at %d, yet %zu tickets", n, c);
          break;
        }
      CHECK (rc == 1 && c == 0,
             "hard error at statement %d: rc %d, %zu tickets left", n, rc, c);
      hard_points++;
    }

  /* A bad file with soft errors: each bad line reported once. */
  for (int n = 1; n < 2000; n++)
    {
      snprintf (slug, sizeof slug, "bad-%d", n);
      int64_t t = new_tenant (s, slug);
      uint64_t before = store_retries (s);
      int rc = run (s, bad, t, n, STORE_SOFT, &res, &report);
      bool fired = store_retries (s) > before;
      size_t c = count_tickets (s, t);
      CHECK (rc == 2 && c == 0 && res.errors == 2 && lines (report) == 2
                 && strstr (report, "f.csv:3: price:")
                 && strstr (report, "f.csv:5: quantity:"),
             "bad file, soft error at %d: rc %d, %zu tickets, %lu errors:"
             "\n%s",
             n, rc, c, res.errors, report);
      free (report);
      report = NULL;
      if (!fired)
        break;
      bad_points++;
    }

  store_close (s);
  char cmd[200];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    fprintf (stderr, "could not remove %s\n", dir);

  printf ("fault points: %d soft, %d hard, %d soft on a bad file\n",
          soft_points, hard_points, bad_points);
  /* The example needs far more than a dozen statements (6 tickets, 3
     branches): fewer fault points means the injection never reached the
     import. */
  CHECK (soft_points >= 12 && hard_points >= 12 && bad_points >= 3,
         "too few fault points");
  if (failures)
    printf ("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
