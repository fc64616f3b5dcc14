/*
 * test_fault.c — fault injection over the whole issuing flow (STYLE.md
 * §16): for N = 1, 2, … the N-th store statement of an issuance fails
 * (hard, then soft), and after every attempt the database must still hold
 * at most one valid invoice per ticket, the ticket's status must agree
 * with its link, and the series' folios must have no gap.  Then the same
 * ticket is issued without faults and must succeed exactly once.
 * INVARIANT 1, INVARIANT 3.
 *
 *   test_issue_fault      (SQLite in a temporary folder; FACTURO_SHARED
 *                          locates SAT's test CSD)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "api/issue.h"
#include "cfdi/csd.h"
#include "core/invoice.h"
#include "core/ticket.h"
#include "jobs/global.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/json.h"

static int failures;

#define CHECK(c, ...)                                                         \
  do                                                                          \
    {                                                                         \
      if (!(c))                                                               \
        {                                                                     \
          failures++;                                                         \
          fprintf (stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
          fprintf (stderr, __VA_ARGS__);                                      \
          fputc ('\n', stderr);                                               \
        }                                                                     \
    }                                                                         \
  while (0)

static const char *ticket_json
    = "{\"branch\":\"S01\",\"folio_number\":\"%s\",\"date\":\"%s\","
      "\"payment_form\":\"01\",\"items\":[{\"quantity\":2,\"product\":{"
      "\"description\":\"Cafe\",\"product_key\":\"90101501\","
      "\"unit_key\":\"H87\",\"price\":\"116.00\"}}]}";

static int64_t
add_ticket (struct store *s, int64_t tenant, int64_t branch, const char *folio,
            int64_t now)
{
  char date[TZ_ISO_MAX], text[1024];
  struct ferr ze = { 0 };
  const struct tz *mx = tz_get ("America/Mexico_City", &ze);
  if (mx == NULL)
    {
      fprintf (stderr, "zone: %s\n", ze.message);
      exit (1);
    }
  tz_format_iso (mx, now - 60, date);
  date[19] = '\0';
  snprintf (text, sizeof text, ticket_json, folio, date);
  json_error_t je;
  json_t *o = json_load_exact (text, strlen (text), 10, &je);
  struct ticket t;
  ticket_init (&t);
  struct ferr e = { 0 };
  if (o == NULL || !ticket_from_json (o, mx, &t, &e))
    {
      fprintf (stderr, "ticket: %s\n", e.message);
      exit (1);
    }
  json_decref (o);
  json_t *items = ticket_items_json (&t);
  char *it = json_dumps (items, JSON_COMPACT);
  json_decref (items);
  struct store_ticket row;
  memset (&row, 0, sizeof row);
  row.branch_id = branch;
  snprintf (row.folio_number, sizeof row.folio_number, "%s", folio);
  row.date = t.date;
  strcpy (row.payment_form, "01");
  strcpy (row.currency, "MXN");
  row.items = it;
  row.subtotal = t.inv.subtotal;
  row.discount = t.inv.discount;
  row.taxes = t.inv.total_transferred;
  row.withheld = t.inv.total_withheld;
  row.total = t.inv.total;
  if (store_ticket_insert (s, tenant, &row) != STORE_ONE)
    exit (1);
  row.items = NULL;
  free (it);
  ticket_free (&t);
  int64_t id = row.id;
  store_ticket_clear (&row);
  return id;
}

struct walk
{
  int64_t folios[4096];
  size_t n;
};

static bool
collect (const struct store_invoice *v, void *arg)
{
  struct walk *w = arg;
  if (w->n < 4096)
    w->folios[w->n++] = v->folio;
  return true;
}

/* The invariants after any attempt, faulty or not. */
static void
check_state (struct store *s, int64_t tenant, int64_t ticket, const char *what)
{
  struct store_ticket t;
  memset (&t, 0, sizeof t);
  CHECK (store_ticket_get (s, tenant, ticket, &t) == STORE_ONE, "%s: get",
         what);
  int64_t inv = 0;
  enum store_status st = store_ticket_invoice (s, tenant, ticket, &inv);
  CHECK (st >= 0, "%s: ticket_invoice", what);
  CHECK ((t.status == STORE_TICKET_INVOICED) == (st == STORE_ONE),
         "%s: status %s but link %d", what,
         store_ticket_status_name (t.status), (int)st);
  store_ticket_clear (&t);
  struct walk w = { .n = 0 };
  CHECK (store_invoice_walk (s, tenant, collect, &w) >= 0, "%s: walk", what);
  /* folios of the one series: exactly 1..n */
  for (size_t i = 0; i < w.n; i++)
    {
      bool found = false;
      for (size_t k = 0; k < w.n; k++)
        found |= w.folios[k] == (int64_t)i + 1;
      CHECK (found, "%s: folio %zu missing among %zu", what, i + 1, w.n);
    }
}

int
main (void)
{
  if (sodium_init () < 0)
    return 1;
  setenv ("FACTURO_SECRET_KEY",
          "cd"
          "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
          1);
  const char *shared = getenv ("FACTURO_SHARED");
  char dir[] = "/tmp/facturo-fault-XXXXXX";
  if (shared == NULL || mkdtemp (dir) == NULL)
    {
      fprintf (stderr, "SKIP: FACTURO_SHARED not set\n");
      return 77;
    }
  char url[256], cer[512], key[512];
  snprintf (url, sizeof url, "sqlite:%s/f.db", dir);
  snprintf (cer, sizeof cer, "%s/sat/csd/EKU9003173C9/EKU9003173C9.cer",
            shared);
  snprintf (key, sizeof key, "%s/sat/csd/EKU9003173C9/EKU9003173C9.key",
            shared);
  struct ferr e = { 0 };
  struct store *s = store_open (url, &e);
  if (s == NULL || store_migrate (s, NULL) < 0)
    return 1;
  struct store_tenant t;
  store_tenant_init (&t);
  strcpy (t.slug, "ft");
  strcpy (t.rfc, "EKU9003173C9");
  strcpy (t.name, "ESCUELA KEMPER URGATE");
  strcpy (t.regime, "601");
  strcpy (t.zip, "06000");
  if (store_tenant_insert (s, &t) != STORE_ONE)
    return 1;
  struct buf bc = BUF_INIT, bk = BUF_INIT;
  if (read_file (cer, &bc, 0) || read_file (key, &bk, 0))
    return 1;
  struct csd *c = csd_load ((uint8_t *)bc.data, bc.len, (uint8_t *)bk.data,
                            bk.len, "12345678a", time (NULL), &e);
  if (c == NULL)
    return 1;
  struct store_csd m = { 0 };
  m.cer = (unsigned char *)bc.data;
  m.cer_len = bc.len;
  m.key = (unsigned char *)bk.data;
  m.key_len = bk.len;
  m.password = (char *)"12345678a";
  snprintf (m.serial, sizeof m.serial, "%s", csd_no_certificado (c));
  m.not_after = csd_not_after (c);
  csd_free (c);
  if (store_tenant_csd_set (s, t.id, &m) != STORE_ONE)
    return 1;
  int64_t tid = t.id;
  store_tenant_clear (&t);
  if (store_tenant_get (s, tid, &t) != STORE_ONE)
    return 1;
  struct store_branch br = { 0 };
  strcpy (br.code, "S01");
  strcpy (br.name, "S01");
  if (store_branch_insert (s, t.id, &br) != STORE_ONE)
    return 1;

  const char *mail[] = { "a@example.com" };
  struct issue_receiver r = { "URE180429TM6",
                              "UNIVERSIDAD ROBOTICA ESPANOLA",
                              "601",
                              "86991",
                              "G03",
                              mail,
                              1,
                              false };
  int64_t now = time (NULL);
  int issued = 0, faulted = 0;

  /* issue_preview: the same model as the issued document. */
  {
    int64_t tk = add_ticket (s, t.id, br.id, "PREVIEW", now);
    struct invoice pv;
    invoice_init (&pv);
    struct ferr pe = { 0 };
    CHECK (issue_preview (s, t.id, &tk, 1, &r, now, &pv, &pe), "preview: %s",
           pe.message);
    CHECK (pv.n_items == 1 && pv.total == 232000000 && pv.series == NULL
               && strcmp (pv.receiver.rfc, "URE180429TM6") == 0,
           "preview model: %zu items, total %lld", pv.n_items,
           (long long)pv.total);
    struct issue_out po;
    CHECK (
        issue_invoice_for_tickets (s, t.id, &tk, 1, &r, "test", "es", now, &po)
            == ISSUE_OK,
        "preview ticket issued");
    struct store_invoice si;
    memset (&si, 0, sizeof si);
    CHECK (store_invoice_get (s, t.id, po.invoice_id, true, &si) == STORE_ONE
               && si.total == pv.total
               && strstr ((const char *)si.xml, pv.date) != NULL,
           "issued total and Fecha equal the preview's");
    store_invoice_clear (&si);
    invoice_free (&pv);
  }
  /* Several tickets in one invoice; the same set again is that invoice;
   * a subset or an overlapping set is refused (INVARIANT 1). */
  {
    int64_t a = add_ticket (s, t.id, br.id, "MULTI-A", now);
    int64_t b = add_ticket (s, t.id, br.id, "MULTI-B", now);
    int64_t c3 = add_ticket (s, t.id, br.id, "MULTI-C", now);
    int64_t ab[] = { b, a, b }, ba[] = { a, b }, ac[] = { a, c3 };
    struct issue_out o1, o2, o3;
    CHECK (
        issue_invoice_for_tickets (s, t.id, ab, 3, &r, "test", "es", now, &o1)
            == ISSUE_OK,
        "two tickets (one repeated) in one invoice");
    CHECK (
        issue_invoice_for_tickets (s, t.id, ba, 2, &r, "test", "es", now, &o2)
                == ISSUE_EXISTING
            && o2.invoice_id == o1.invoice_id,
        "same set, other order: the same invoice");
    CHECK (
        issue_invoice_for_tickets (s, t.id, &a, 1, &r, "test", "es", now, &o3)
                == ISSUE_INVOICED
            && o3.ticket_id == a,
        "subset refused");
    CHECK (
        issue_invoice_for_tickets (s, t.id, ac, 2, &r, "test", "es", now, &o3)
            == ISSUE_INVOICED,
        "overlapping set refused");
    struct store_ticket tc;
    memset (&tc, 0, sizeof tc);
    CHECK (store_ticket_get (s, t.id, c3, &tc) == STORE_ONE
               && tc.status == STORE_TICKET_OPEN,
           "the refused set left its open ticket open");
    store_ticket_clear (&tc);
    struct store_invoice si;
    memset (&si, 0, sizeof si);
    CHECK (store_invoice_get (s, t.id, o1.invoice_id, false, &si) == STORE_ONE
               && si.total == 2 * 232000000,
           "total of two tickets");
    store_invoice_clear (&si);
    int64_t unknown = 987654321;
    CHECK (issue_invoice_for_tickets (s, t.id, &unknown, 1, &r, "test", "es",
                                      now, &o3)
               == ISSUE_NOT_FOUND,
           "unknown ticket");
  }

  for (int pass = 0; pass < 2; pass++)
    {
      enum store_status kind = pass ? STORE_SOFT : STORE_HARD;
      for (int n = 1; n <= 80; n++)
        {
          char folio[32], what[64];
          snprintf (folio, sizeof folio, "F-%d-%d", pass, n);
          snprintf (what, sizeof what, "%s fault at %d",
                    pass ? "soft" : "hard", n);
          int64_t tk = add_ticket (s, t.id, br.id, folio, now);
          struct issue_out out;
          store_fault_inject (s, n, kind);
          enum issue_result res = issue_invoice_for_tickets (
              s, t.id, &tk, 1, &r, "test", "es", now, &out);
          store_fault_inject (s, 0, STORE_HARD);
          if (res != ISSUE_OK)
            faulted++;
          check_state (s, t.id, tk, what);
          /* Without faults: issued now, or the same invoice again. */
          struct issue_out o2;
          enum issue_result r2 = issue_invoice_for_tickets (
              s, t.id, &tk, 1, &r, "test", "es", now, &o2);
          CHECK (r2 == (res == ISSUE_OK ? ISSUE_EXISTING : ISSUE_OK),
                 "%s: second attempt %s (first %s)", what,
                 issue_result_code (r2), issue_result_code (res));
          if (res == ISSUE_OK)
            CHECK (o2.invoice_id == out.invoice_id
                       && strcmp (o2.uuid, out.uuid) == 0,
                   "%s: same invoice", what);
          issued++;
          check_state (s, t.id, tk, what);
        }
    }
  /* Every statement of the flow was hit once by a hard fault (and
   * failed the issuance); soft faults were retried by store_tx. */
  /* The periodic job: a daily tenant's ticket of yesterday goes into the
   * global invoice on the job's first tick; today's stays open. */
  {
    struct store_tenant d;
    store_tenant_init (&d);
    strcpy (d.slug, "daily");
    strcpy (d.rfc, "EKU9003173C9");
    strcpy (d.name, "ESCUELA KEMPER URGATE");
    strcpy (d.regime, "601");
    strcpy (d.zip, "06000");
    strcpy (d.periodicity, "01");
    CHECK (store_tenant_insert (s, &d) == STORE_ONE, "daily tenant");
    CHECK (store_tenant_csd_set (s, d.id, &m) == STORE_ONE, "daily csd");
    struct store_branch db = { 0 };
    strcpy (db.code, "S01");
    strcpy (db.name, "S01");
    CHECK (store_branch_insert (s, d.id, &db) == STORE_ONE, "daily branch");
    int64_t old = add_ticket (s, d.id, db.id, "D-OLD", now - 86400);
    int64_t cur = add_ticket (s, d.id, db.id, "D-NOW", now);
    struct global_job *j = global_job_start (s, 1);
    CHECK (j != NULL, "job started");
    struct store_ticket tt;
    memset (&tt, 0, sizeof tt);
    for (int i = 0; i < 100; i++)
      {
        store_ticket_clear (&tt);
        memset (&tt, 0, sizeof tt);
        store_ticket_get (s, d.id, old, &tt);
        if (tt.status == STORE_TICKET_IN_GLOBAL)
          break;
        usleep (50000);
      }
    global_job_stop (j);
    CHECK (tt.status == STORE_TICKET_IN_GLOBAL, "job took yesterday's ticket");
    store_ticket_clear (&tt);
    memset (&tt, 0, sizeof tt);
    bool after_midnight = (now - 6 * 3600) % 86400 >= 120; /* "today" */
    CHECK (store_ticket_get (s, d.id, cur, &tt) == STORE_ONE
               && (tt.status == STORE_TICKET_OPEN || !after_midnight),
           "job left today's ticket");
    store_ticket_clear (&tt);
    CHECK (global_invoice_tick (s, 0) == 0, "a second tick issues nothing");
    store_tenant_clear (&d);
  }

  CHECK (faulted >= 10, "faults actually hit the flow (%d)", faulted);
  CHECK (store_retries (s) >= 10, "soft faults were retried (%llu)",
         (unsigned long long)store_retries (s));
  printf ("%d issuances, %d of them failed by an injected fault; "
          "%zu retries\n",
          issued, faulted, (size_t)store_retries (s));
  issue_caches_free ();
  store_close (s);
  buf_free (&bc);
  buf_free (&bk);
  char cmd[300];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    fprintf (stderr, "could not remove %s\n", dir);
  return failures ? 1 : 0;
}
