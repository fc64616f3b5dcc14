/*
 * test_store.c — the storage interface (src/store/store.h) against one
 * backend, chosen by argv[1]: "sqlite" (a file in a fresh temp dir) or
 * "pg" (FACTURO_TEST_PG, in a fresh schema dropped afterwards; exit 77
 * without it unless FACTURO_REQUIRE_PG=1).  The same source runs per
 * backend (STYLE §16), so both prove the same contract:
 * CRUD of every entity, tenant isolation (INVARIANT 5), idempotency keys
 * from two connections, soft-error retries, gapless folios under
 * concurrency (INVARIANT 3), a ticket in at most one valid invoice under
 * concurrency (INVARIANT 1), job claims never shared, migrations
 * idempotent, API keys, CSD encryption at rest, the invoice hash chain
 * (INVARIANT 4), and $n parameter binding on SQLite.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/store.h"

static int failures;
static char url[2048];
static char tmpdir[256];
static const char *backend;

#define CHECK(c)                                                              \
  do                                                                          \
    {                                                                         \
      if (!(c))                                                               \
        {                                                                     \
          fprintf (stderr, "%s:%d: [%s] check failed: %s\n", __FILE__,        \
                   __LINE__, backend, #c);                                    \
          failures++;                                                         \
        }                                                                     \
    }                                                                         \
  while (0)
#define REQUIRE(c)                                                            \
  do                                                                          \
    {                                                                         \
      if (!(c))                                                               \
        {                                                                     \
          fprintf (stderr, "%s:%d: [%s] fatal: %s\n", __FILE__, __LINE__,     \
                   backend, #c);                                              \
          exit (1);                                                           \
        }                                                                     \
    }                                                                         \
  while (0)

static struct store *
open_store (const char *extra)
{
  char u[2200];
  snprintf (u, sizeof u, "%s%s%s", url,
            extra && *extra ? (strchr (url, '?') ? "&" : "?") : "",
            extra ? extra : "");
  struct ferr err;
  struct store *s = store_open (u, &err);
  if (s == NULL)
    fprintf (stderr, "store_open %s: %s\n", u, err.message);
  REQUIRE (s != NULL);
  return s;
}

static int64_t
make_tenant (struct store *s, const char *slug)
{
  struct store_tenant t;
  store_tenant_init (&t);
  snprintf (t.slug, sizeof t.slug, "%s", slug);
  snprintf (t.rfc, sizeof t.rfc, "EKU9003173C9");
  snprintf (t.name, sizeof t.name, "ESCUELA KEMPER URGATE");
  snprintf (t.regime, sizeof t.regime, "601");
  snprintf (t.zip, sizeof t.zip, "42501");
  REQUIRE (store_tenant_insert (s, &t) == STORE_ONE);
  return t.id;
}

static int64_t
make_branch (struct store *s, int64_t tid, const char *code)
{
  struct store_branch b = { 0 };
  snprintf (b.code, sizeof b.code, "%s", code);
  snprintf (b.name, sizeof b.name, "Sucursal %s", code);
  snprintf (b.zip, sizeof b.zip, "01000");
  REQUIRE (store_branch_insert (s, tid, &b) == STORE_ONE);
  return b.id;
}

static int64_t
make_ticket (struct store *s, int64_t tid, int64_t bid, const char *folio,
             int64_t date)
{
  struct store_ticket t = { 0 };
  t.branch_id = bid;
  snprintf (t.folio_number, sizeof t.folio_number, "%s", folio);
  t.date = date;
  snprintf (t.payment_form, sizeof t.payment_form, "01");
  t.items = (char *)"[{\"quantity\":1}]";
  t.subtotal = 100000000;
  t.taxes = 16000000;
  t.total = 116000000;
  REQUIRE (store_ticket_insert (s, tid, &t) == STORE_ONE);
  return t.id;
}

static int64_t
make_invoice (struct store *s, int64_t tid, const char *uuid,
              enum store_status *st)
{
  struct store_invoice inv = { 0 };
  snprintf (inv.uuid, sizeof inv.uuid, "%s", uuid);
  snprintf (inv.type, sizeof inv.type, "I");
  snprintf (inv.customer_rfc, sizeof inv.customer_rfc, "XAXX010101000");
  inv.total = 116000000;
  char xml[128];
  snprintf (xml, sizeof xml, "<cfdi:Comprobante uuid=\"%s\"/>", uuid);
  inv.xml = (unsigned char *)xml;
  inv.xml_len = strlen (xml);
  *st = store_invoice_insert (s, tid, &inv);
  return inv.id;
}

/* ------------------------------------------------------------------ */

static void
test_migrate (void)
{
  struct store *s = open_store (NULL);
  int n = -1;
  CHECK (store_migrate (s, &n) == STORE_ONE);
  CHECK (n == 0); /* main() migrated already */
  CHECK (store_schema_version (s) >= 1);
  int v = store_schema_version (s);
  CHECK (store_migrate (s, &n) == STORE_ONE && n == 0);
  CHECK (store_schema_version (s) == v);
  store_close (s);
}

static void
test_tenants (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "crud-a");
  struct store_tenant t;
  store_tenant_init (&t);
  snprintf (t.slug, sizeof t.slug, "crud-a");
  CHECK (store_tenant_insert (s, &t) == STORE_NONE); /* slug taken */
  memset (&t, 0, sizeof t);
  CHECK (store_tenant_get (s, a, &t) == STORE_ONE);
  CHECK (strcmp (t.slug, "crud-a") == 0
         && strcmp (t.rfc, "EKU9003173C9") == 0);
  CHECK (strcmp (t.timezone, "America/Mexico_City") == 0
         && t.window_days == 7);
  CHECK (!t.has_csd);
  t.window_days = 3;
  snprintf (t.periodicity, sizeof t.periodicity, "04");
  snprintf (t.series, sizeof t.series, "F");
  snprintf (t.stamp, sizeof t.stamp, "sandbox");
  t.branding = strdup ("{\"color\":\"#123456\"}");
  CHECK (store_tenant_update (s, a, &t) == STORE_ONE);
  store_tenant_clear (&t);
  CHECK (store_tenant_find_slug (s, "crud-a", &t) == STORE_ONE);
  CHECK (t.id == a && t.window_days == 3 && strcmp (t.periodicity, "04") == 0);
  CHECK (strcmp (t.series, "F") == 0 && strcmp (t.stamp, "sandbox") == 0);
  CHECK (t.branding && strstr (t.branding, "#123456"));
  store_tenant_clear (&t);
  CHECK (store_tenant_find_slug (s, "nope", &t) == STORE_NONE);
  struct store_tenant *all;
  size_t n;
  CHECK (store_tenant_list (s, &all, &n) == STORE_ONE && n >= 1);
  bool seen = false;
  for (size_t i = 0; i < n; i++)
    seen |= all[i].id == a;
  CHECK (seen);
  store_tenant_list_free (all, n);
  store_close (s);
}

static void
test_branches_series_users (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "bsu");
  int64_t b1 = make_branch (s, a, "B1");
  struct store_branch b = { 0 };
  snprintf (b.code, sizeof b.code, "B1");
  CHECK (store_branch_insert (s, a, &b) == STORE_NONE);
  CHECK (store_branch_get (s, a, b1, &b) == STORE_ONE
         && strcmp (b.code, "B1") == 0);
  /* $n binding out of order ($3, $4 before $1, $2 in the text) */
  snprintf (b.name, sizeof b.name, "Centro");
  snprintf (b.zip, sizeof b.zip, "06000");
  CHECK (store_branch_update (s, a, &b) == STORE_ONE);
  memset (&b, 0, sizeof b);
  CHECK (store_branch_find_code (s, a, "B1", &b) == STORE_ONE);
  CHECK (strcmp (b.name, "Centro") == 0 && strcmp (b.zip, "06000") == 0);
  int64_t b2 = make_branch (s, a, "A0");
  struct store_branch *bl;
  size_t n;
  CHECK (store_branch_list (s, a, &bl, &n) == STORE_ONE && n == 2);
  CHECK (n == 2 && strcmp (bl[0].code, "A0") == 0);
  free (bl);
  /* repeated $1/$2 in the DELETE's subquery */
  CHECK (store_branch_delete (s, a, b2) == STORE_ONE);
  CHECK (store_branch_get (s, a, b2, &b) == STORE_NONE);

  CHECK (store_series_ensure (s, a, "A") == STORE_ONE);
  CHECK (store_series_ensure (s, a, "A") == STORE_NONE);
  int64_t f = 0;
  CHECK (store_series_next (s, a, "A", &f) == STORE_ONE && f == 1);
  CHECK (store_series_next (s, a, "A", &f) == STORE_ONE && f == 2);
  CHECK (store_series_next (s, a, "ZZ", &f) == STORE_NONE);
  struct store_series *sl;
  CHECK (store_series_list (s, a, &sl, &n) == STORE_ONE && n == 1);
  CHECK (n == 1 && sl[0].next_folio == 3);
  free (sl);

  struct store_user u = { 0 };
  snprintf (u.email, sizeof u.email, "ana@example.com");
  u.role = STORE_ROLE_ADMIN;
  CHECK (store_password_hash ("correct horse", u.pwhash));
  CHECK (strncmp (u.pwhash, "$argon2id$", 10) == 0);
  CHECK (store_user_insert (s, a, &u) == STORE_ONE && u.id > 0);
  struct store_user u2 = u;
  CHECK (store_user_insert (s, a, &u2) == STORE_NONE);
  memset (&u2, 0, sizeof u2);
  CHECK (store_user_find_email (s, a, "ana@example.com", &u2) == STORE_ONE);
  CHECK (u2.id == u.id && u2.role == STORE_ROLE_ADMIN);
  CHECK (store_password_verify (u2.pwhash, "correct horse"));
  CHECK (!store_password_verify (u2.pwhash, "wrong horse"));
  u2.role = STORE_ROLE_VIEWER;
  u2.disabled = true;
  CHECK (store_user_update (s, a, &u2) == STORE_ONE);
  CHECK (store_user_get (s, a, u.id, &u2) == STORE_ONE);
  CHECK (u2.role == STORE_ROLE_VIEWER && u2.disabled);
  struct store_user *ul;
  CHECK (store_user_list (s, a, &ul, &n) == STORE_ONE && n == 1);
  free (ul);
  CHECK (store_user_delete (s, a, u.id) == STORE_ONE);
  CHECK (store_user_get (s, a, u.id, &u2) == STORE_NONE);
  CHECK (store_role_parse ("staff") == STORE_ROLE_STAFF);
  CHECK (store_role_parse ("root") == -1);
  store_close (s);
}

static void
test_apikeys (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "keys-a");
  int64_t b = make_tenant (s, "keys-b");
  char ka[STORE_APIKEY_LEN + 1], kb[STORE_APIKEY_LEN + 1];
  struct store_apikey info;
  CHECK (store_apikey_create (s, a, "pos", ka, &info) == STORE_ONE);
  CHECK (strlen (ka) == STORE_APIKEY_LEN && strncmp (ka, "fk_", 3) == 0);
  CHECK (strncmp (ka + 3, info.prefix, STORE_APIKEY_PREFIX_LEN) == 0);
  CHECK (store_apikey_create (s, b, NULL, kb, NULL) == STORE_ONE);
  CHECK (strcmp (ka, kb) != 0);
  int64_t tid = 0, kid = 0;
  CHECK (store_apikey_lookup (s, ka, &tid, &kid) == STORE_ONE && tid == a
         && kid == info.id);
  CHECK (store_apikey_lookup (s, kb, &tid, NULL) == STORE_ONE && tid == b);
  char bad[STORE_APIKEY_LEN + 1];
  memcpy (bad, ka, sizeof bad);
  bad[STORE_APIKEY_LEN - 1] = bad[STORE_APIKEY_LEN - 1] == '0' ? '1' : '0';
  CHECK (store_apikey_lookup (s, bad, &tid, NULL) == STORE_NONE);
  CHECK (store_apikey_lookup (s, "fk_short", &tid, NULL) == STORE_NONE);
  CHECK (store_apikey_lookup (s, "", &tid, NULL) == STORE_NONE);
  /* B cannot revoke A's key */
  CHECK (store_apikey_revoke (s, b, info.prefix) == STORE_NONE);
  CHECK (store_apikey_lookup (s, ka, &tid, NULL) == STORE_ONE);
  CHECK (store_apikey_revoke (s, a, info.prefix) == STORE_ONE);
  CHECK (store_apikey_revoke (s, a, info.prefix) == STORE_NONE);
  CHECK (store_apikey_lookup (s, ka, &tid, NULL) == STORE_NONE);
  struct store_apikey *kl;
  size_t n;
  CHECK (store_apikey_list (s, a, &kl, &n) == STORE_ONE && n == 1);
  CHECK (n == 1 && kl[0].revoked && strcmp (kl[0].name, "pos") == 0);
  free (kl);
  store_close (s);
}

static void
test_tickets (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "tix");
  int64_t b1 = make_branch (s, a, "S1"), b2 = make_branch (s, a, "S2");
  int64_t ids[30];
  for (int i = 0; i < 30; i++)
    {
      char folio[16];
      snprintf (folio, sizeof folio, "F-%d", i);
      ids[i]
          = make_ticket (s, a, i % 2 ? b2 : b1, folio, 1700000000 + i * 3600);
    }
  /* same folio, same branch: refused; other branch: fine */
  struct store_ticket t = { 0 };
  t.branch_id = b1;
  snprintf (t.folio_number, sizeof t.folio_number, "F-0");
  snprintf (t.payment_form, sizeof t.payment_form, "01");
  CHECK (store_ticket_insert (s, a, &t) == STORE_NONE);
  CHECK (t.key[0] == '\0');
  CHECK (store_ticket_get (s, a, ids[0], &t) == STORE_ONE);
  CHECK (strcmp (t.folio_number, "F-0") == 0 && t.total == 116000000
         && t.subtotal == 100000000 && t.taxes == 16000000);
  CHECK (strcmp (t.branch_code, "S1") == 0 && strcmp (t.currency, "MXN") == 0);
  CHECK (t.status == STORE_TICKET_OPEN
         && strlen (t.key) == STORE_TICKET_KEY_LEN);
  CHECK (t.items && strstr (t.items, "quantity"));
  char key[STORE_TICKET_KEY_LEN + 1];
  memcpy (key, t.key, sizeof key);
  store_ticket_clear (&t);
  CHECK (store_ticket_find_key (s, a, key, &t) == STORE_ONE && t.id == ids[0]);
  store_ticket_clear (&t);
  CHECK (store_ticket_find_folio (s, a, b2, "F-1", &t) == STORE_ONE
         && t.id == ids[1]);
  store_ticket_clear (&t);
  CHECK (store_ticket_set_status (s, a, ids[2], STORE_TICKET_OPEN,
                                  STORE_TICKET_CANCELLED)
         == STORE_ONE);
  CHECK (store_ticket_set_status (s, a, ids[2], STORE_TICKET_OPEN,
                                  STORE_TICKET_INVOICED)
         == STORE_NONE);

  /* pagination: 30 tickets in pages of 7, newest first, no repeats */
  struct store_ticket_filter f = { .status = -1, .limit = 7 };
  int seen = 0;
  int64_t last = INT64_MAX;
  for (int page = 0; page < 10; page++)
    {
      struct store_ticket *l;
      size_t n;
      int64_t next;
      CHECK (store_ticket_list (s, a, &f, &l, &n, &next) >= 0);
      for (size_t i = 0; i < n; i++)
        {
          CHECK (l[i].id < last);
          last = l[i].id;
          seen++;
        }
      store_ticket_list_free (l, n);
      if (next == 0)
        break;
      f.cursor = next;
    }
  CHECK (seen == 30);
  /* filters */
  struct store_ticket *l;
  size_t n;
  int64_t next;
  struct store_ticket_filter fb
      = { .status = -1, .branch_id = b2, .limit = 100 };
  CHECK (store_ticket_list (s, a, &fb, &l, &n, &next) == STORE_ONE && n == 15);
  for (size_t i = 0; i < n; i++)
    CHECK (l[i].branch_id == b2);
  store_ticket_list_free (l, n);
  struct store_ticket_filter fd = { .status = -1,
                                    .date_from = 1700000000 + 10 * 3600,
                                    .date_to = 1700000000 + 20 * 3600,
                                    .limit = 100 };
  CHECK (store_ticket_list (s, a, &fd, &l, &n, &next) == STORE_ONE && n == 10);
  store_ticket_list_free (l, n);
  struct store_ticket_filter fs
      = { .status = STORE_TICKET_CANCELLED, .limit = 100 };
  CHECK (store_ticket_list (s, a, &fs, &l, &n, &next) == STORE_ONE && n == 1);
  CHECK (n == 1 && l[0].id == ids[2]);
  store_ticket_list_free (l, n);
  store_close (s);
}

static void
test_products_customers (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "prod");
  struct store_product p = { 0 }, p2 = { 0 };
  snprintf (p.sku, sizeof p.sku, "SKU-1");
  snprintf (p.name, sizeof p.name, "Café");
  p.doc = (char *)"{\"price\":\"10.50\"}";
  CHECK (store_product_insert (s, a, &p) == STORE_ONE);
  p2 = p;
  p2.id = 0;
  CHECK (store_product_insert (s, a, &p2) == STORE_NONE); /* sku taken */
  p2.sku[0] = '\0';
  CHECK (store_product_insert (s, a, &p2) == STORE_ONE); /* no sku: fine */
  p2.sku[0] = '\0';
  p2.id = 0;
  CHECK (store_product_insert (s, a, &p2) == STORE_ONE); /* twice */
  struct store_product g = { 0 };
  CHECK (store_product_get (s, a, p.id, &g) == STORE_ONE);
  CHECK (strcmp (g.name, "Café") == 0
         && strcmp (g.doc, "{\"price\":\"10.50\"}") == 0);
  store_product_clear (&g);
  CHECK (store_product_find_sku (s, a, "SKU-1", &g) == STORE_ONE
         && g.id == p.id);
  store_product_clear (&g);
  /* update into a taken sku: refused without aborting anything */
  p2.doc = (char *)"{}";
  snprintf (p2.sku, sizeof p2.sku, "SKU-1");
  CHECK (store_product_update (s, a, &p2) == STORE_NONE);
  snprintf (p2.sku, sizeof p2.sku, "SKU-2");
  CHECK (store_product_update (s, a, &p2) == STORE_ONE);
  CHECK (store_product_find_sku (s, a, "SKU-2", &g) == STORE_ONE
         && g.id == p2.id);
  store_product_clear (&g);
  struct store_product *pl;
  size_t n;
  int64_t next;
  CHECK (store_product_list (s, a, 0, 2, &pl, &n, &next) == STORE_ONE);
  CHECK (n == 2 && next != 0);
  store_product_list_free (pl, n);
  CHECK (store_product_list (s, a, next, 2, &pl, &n, &next) == STORE_ONE);
  CHECK (n == 1 && next == 0);
  store_product_list_free (pl, n);
  CHECK (store_product_delete (s, a, p.id) == STORE_ONE);
  CHECK (store_product_get (s, a, p.id, &g) == STORE_NONE);

  struct store_customer c = { 0 };
  snprintf (c.rfc, sizeof c.rfc, "XAXX010101000");
  snprintf (c.name, sizeof c.name, "PUBLICO EN GENERAL");
  snprintf (c.email, sizeof c.email, "x@example.com");
  c.doc = (char *)"{\"tax_system\":\"616\"}";
  CHECK (store_customer_insert (s, a, &c) == STORE_ONE);
  struct store_customer cg = { 0 };
  CHECK (store_customer_get (s, a, c.id, &cg) == STORE_ONE);
  CHECK (strcmp (cg.email, "x@example.com") == 0 && strstr (cg.doc, "616"));
  store_customer_clear (&cg);
  CHECK (store_customer_find_rfc (s, a, "XAXX010101000", &cg) == STORE_ONE);
  store_customer_clear (&cg);
  snprintf (c.email, sizeof c.email, "y@example.com");
  CHECK (store_customer_update (s, a, &c) == STORE_ONE);
  CHECK (store_customer_get (s, a, c.id, &cg) == STORE_ONE
         && strcmp (cg.email, "y@example.com") == 0);
  store_customer_clear (&cg);
  struct store_customer *cl;
  CHECK (store_customer_list (s, a, 0, 0, &cl, &n, &next) == STORE_ONE
         && n == 1);
  store_customer_list_free (cl, n);
  CHECK (store_customer_delete (s, a, c.id) == STORE_ONE);
  CHECK (store_customer_delete (s, a, c.id) == STORE_NONE);
  store_close (s);
}

static void
test_invoices_events_chain (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "inv");
  int64_t br = make_branch (s, a, "M");
  int64_t t1 = make_ticket (s, a, br, "1", 1700000000);
  enum store_status st;
  int64_t i1
      = make_invoice (s, a, "11111111-1111-1111-1111-111111111111", &st);
  CHECK (st == STORE_ONE);
  int64_t i2
      = make_invoice (s, a, "22222222-2222-2222-2222-222222222222", &st);
  CHECK (st == STORE_ONE);
  make_invoice (s, a, "22222222-2222-2222-2222-222222222222", &st);
  CHECK (st == STORE_NONE); /* same uuid */
  int64_t i3
      = make_invoice (s, a, "33333333-3333-3333-3333-333333333333", &st);
  CHECK (st == STORE_ONE);
  struct store_invoice v1 = { 0 }, v2 = { 0 }, v3 = { 0 };
  CHECK (store_invoice_get (s, a, i1, true, &v1) == STORE_ONE);
  CHECK (store_invoice_get (s, a, i2, false, &v2) == STORE_ONE);
  CHECK (store_invoice_find_uuid (s, a, "33333333-3333-3333-3333-333333333333",
                                  true, &v3)
             == STORE_ONE
         && v3.id == i3);
  /* INVARIANT 4: each invoice chains onto the previous one */
  CHECK (v1.prev_hash[0] == '\0' && strlen (v1.sha256) == 64);
  CHECK (strcmp (v2.prev_hash, v1.chain_hash) == 0);
  CHECK (strcmp (v3.prev_hash, v2.chain_hash) == 0);
  CHECK (v1.xml && v1.xml_len > 10 && memcmp (v1.xml, "<cfdi:", 6) == 0);
  CHECK (v2.xml == NULL);
  store_invoice_clear (&v1);
  store_invoice_clear (&v2);
  store_invoice_clear (&v3);
  unsigned char pdf[] = { '%', 'P', 'D', 'F', 0, 1, 2, 0xff };
  CHECK (store_invoice_set_pdf (s, a, i1, pdf, sizeof pdf) == STORE_ONE);
  CHECK (store_invoice_get (s, a, i1, true, &v1) == STORE_ONE);
  CHECK (v1.pdf_len == sizeof pdf && memcmp (v1.pdf, pdf, sizeof pdf) == 0);
  store_invoice_clear (&v1);

  CHECK (store_invoice_add_ticket (s, a, i1, t1) == STORE_ONE);
  CHECK (store_invoice_add_ticket (s, a, i2, t1)
         == STORE_NONE); /* INVARIANT 1 */
  int64_t holder = 0;
  CHECK (store_ticket_invoice (s, a, t1, &holder) == STORE_ONE
         && holder == i1);
  int64_t *tl;
  size_t n;
  CHECK (store_invoice_tickets (s, a, i1, &tl, &n) == STORE_ONE && n == 1
         && tl[0] == t1);
  free (tl);
  CHECK (store_invoice_cancel_request (s, a, i1, "02", NULL) == STORE_ONE);
  CHECK (store_invoice_get (s, a, i1, false, &v1) == STORE_ONE
         && v1.status == STORE_INVOICE_CANCEL_PENDING
         && strcmp (v1.cancel_reason, "02") == 0
         && v1.cancel_requested_at > 0);
  store_invoice_clear (&v1);
  CHECK (store_invoice_cancel_ack (s, a, i1, "<Acuse/>") == STORE_ONE);
  CHECK (store_invoice_get (s, a, i1, false, &v1) == STORE_ONE
         && v1.status == STORE_INVOICE_CANCELLED && v1.cancel_ack
         && strcmp (v1.cancel_ack, "<Acuse/>") == 0);
  store_invoice_clear (&v1);
  /* once cancelled, the ticket may go into another invoice */
  CHECK (store_ticket_invoice (s, a, t1, &holder) == STORE_NONE);
  CHECK (store_invoice_add_ticket (s, a, i2, t1) == STORE_ONE);

  struct store_invoice *il;
  int64_t next;
  CHECK (store_invoice_list (s, a, 0, 2, &il, &n, &next) == STORE_ONE && n == 2
         && next != 0);
  store_invoice_list_free (il, n);

  int64_t eid = 0;
  CHECK (store_event_add (s, a, i1, 0, "issued", "system", NULL, &eid)
             == STORE_ONE
         && eid > 0);
  CHECK (store_event_add (s, a, i1, 0, "emailed", "system",
                          "{\"to\":\"x@example.com\"}", NULL)
         == STORE_ONE);
  CHECK (store_event_add (s, a, 424242, 0, "issued", "system", NULL, NULL)
         == STORE_NONE);
  struct store_event *el;
  CHECK (store_event_list (s, a, i1, &el, &n) == STORE_ONE && n == 2);
  CHECK (n == 2 && strcmp (el[0].kind, "issued") == 0 && el[1].detail
         && strstr (el[1].detail, "x@example.com"));
  store_event_list_free (el, n);
  store_close (s);
}

/* store_invoice_list_filtered: keyset pages, each filter, tenant
 * isolation, and only the listing columns. */
static void
test_invoice_list_filtered (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "flt-a"), b = make_tenant (s, "flt-b");
  enum store_status st;
  int64_t ids[7];
  char uuid[64];
  for (int i = 0; i < 7; i++)
    {
      struct store_invoice inv = { 0 };
      snprintf (inv.uuid, sizeof inv.uuid,
                "aaaaaaaa-0000-0000-0000-%012d", i);
      snprintf (inv.type, sizeof inv.type, "I");
      snprintf (inv.customer_rfc, sizeof inv.customer_rfc, "%s",
                i % 2 ? "EKU9003173C9" : "XAXX010101000");
      inv.total = 1000000 * (i + 1);
      inv.xml = (unsigned char *)"<x/>";
      inv.xml_len = 4;
      REQUIRE (store_invoice_insert (s, a, &inv) == STORE_ONE);
      ids[i] = inv.id;
    }
  int64_t bids[2];
  for (int i = 0; i < 2; i++)
    {
      snprintf (uuid, sizeof uuid, "bbbbbbbb-0000-0000-0000-%012d", i);
      bids[i] = make_invoice (s, b, uuid, &st);
      REQUIRE (st == STORE_ONE);
    }
  /* ids[4] (XAXX) is cancellation_pending, with an acuse-less request */
  CHECK (store_invoice_cancel_request (s, a, ids[4], "02", NULL)
         == STORE_ONE);

  struct store_invoice *il;
  size_t n;
  int64_t next;
  /* no filter: 3 + 3 + 1, newest first, only tenant a's */
  int64_t cur = 0, seen[8];
  size_t k = 0;
  int64_t cmin = INT64_MAX, cmax = 0;
  for (int page = 0; page < 4; page++)
    {
      st = store_invoice_list_filtered (s, a, NULL, cur, 3, &il, &n, &next);
      CHECK (st >= 0);
      for (size_t i = 0; i < n && k < 8; i++)
        {
          seen[k++] = il[i].id;
          CHECK (il[i].tenant_id == a && il[i].xml == NULL
                 && il[i].pdf == NULL && il[i].cancel_ack == NULL
                 && strncmp (il[i].uuid, "aaaaaaaa-", 9) == 0
                 && il[i].total > 0 && il[i].created_at > 0);
          if (il[i].created_at < cmin)
            cmin = il[i].created_at;
          if (il[i].created_at > cmax)
            cmax = il[i].created_at;
        }
      CHECK (page == 2 ? (n == 1 && next == 0) : (n == 3 && next != 0));
      store_invoice_list_free (il, n);
      cur = next;
      if (next == 0)
        break;
    }
  CHECK (k == 7);
  for (size_t i = 0; i < k && i < 7; i++)
    CHECK (seen[i] == ids[6 - i]);
  /* exactly the rows left: no next page */
  CHECK (store_invoice_list_filtered (s, a, NULL, 0, 7, &il, &n, &next)
             == STORE_ONE
         && n == 7 && next == 0);
  store_invoice_list_free (il, n);

  /* customer RFC, over two pages */
  struct store_invoice_filter f = { .status = -1,
                                    .customer_rfc = "EKU9003173C9" };
  CHECK (store_invoice_list_filtered (s, a, &f, 0, 2, &il, &n, &next)
             == STORE_ONE
         && n == 2 && next == ids[3]);
  CHECK (n == 2 && il[0].id == ids[5] && il[1].id == ids[3]
         && strcmp (il[0].customer_rfc, "EKU9003173C9") == 0);
  store_invoice_list_free (il, n);
  CHECK (store_invoice_list_filtered (s, a, &f, next, 2, &il, &n, &next)
             == STORE_ONE
         && n == 1 && il[0].id == ids[1] && next == 0);
  store_invoice_list_free (il, n);

  /* status, alone and with the RFC */
  f = (struct store_invoice_filter){ .status = STORE_INVOICE_CANCEL_PENDING };
  CHECK (store_invoice_list_filtered (s, a, &f, 0, 50, &il, &n, &next)
             == STORE_ONE
         && n == 1 && il[0].id == ids[4]
         && il[0].status == STORE_INVOICE_CANCEL_PENDING
         && strcmp (il[0].cancel_reason, "02") == 0
         && il[0].cancel_requested_at > 0 && next == 0);
  store_invoice_list_free (il, n);
  f = (struct store_invoice_filter){ .status = STORE_INVOICE_VALID,
                                     .customer_rfc = "XAXX010101000" };
  CHECK (store_invoice_list_filtered (s, a, &f, 0, 50, &il, &n, &next)
             == STORE_ONE
         && n == 3 && il[0].id == ids[6] && il[1].id == ids[2]
         && il[2].id == ids[0]);
  store_invoice_list_free (il, n);
  f = (struct store_invoice_filter){ .status = STORE_INVOICE_CANCELLED };
  CHECK (store_invoice_list_filtered (s, a, &f, 0, 50, &il, &n, &next)
             == STORE_NONE
         && n == 0 && next == 0);
  store_invoice_list_free (il, n);

  /* creation time: [from, to) */
  f = (struct store_invoice_filter){ .status = -1,
                                     .created_from = cmin,
                                     .created_to = cmax + 1 };
  CHECK (store_invoice_list_filtered (s, a, &f, 0, 50, &il, &n, &next)
             == STORE_ONE
         && n == 7);
  store_invoice_list_free (il, n);
  f.created_from = cmax + 1;
  f.created_to = 0;
  CHECK (store_invoice_list_filtered (s, a, &f, 0, 50, &il, &n, &next)
             == STORE_NONE
         && n == 0);
  store_invoice_list_free (il, n);
  f.created_from = 0;
  f.created_to = cmin;
  CHECK (store_invoice_list_filtered (s, a, &f, 0, 50, &il, &n, &next)
             == STORE_NONE
         && n == 0);
  store_invoice_list_free (il, n);

  /* INVARIANT 5: tenant b sees only its own, even from a's cursor */
  f = (struct store_invoice_filter){ .status = -1,
                                     .customer_rfc = "XAXX010101000" };
  CHECK (store_invoice_list_filtered (s, b, &f, 0, 50, &il, &n, &next)
             == STORE_ONE
         && n == 2 && il[0].id == bids[1] && il[1].id == bids[0]
         && il[0].tenant_id == b && next == 0);
  store_invoice_list_free (il, n);
  CHECK (store_invoice_list_filtered (s, 999999, NULL, 0, 50, &il, &n, &next)
             == STORE_NONE
         && n == 0);
  store_invoice_list_free (il, n);
  store_close (s);
}

static bool
walk_count (const struct store_invoice *v, void *arg)
{
  int *k = arg;
  (*k)++;
  return v->xml != NULL;
}

/* INVARIANT 5: tenant A's id with tenant B's objects finds nothing. */
static void
test_isolation (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "iso-a"), b = make_tenant (s, "iso-b");
  make_branch (s, a, "X");
  int64_t bb = make_branch (s, b, "X");
  int64_t bt = make_ticket (s, b, bb, "T1", 1700000000);
  struct store_product p = { .doc = (char *)"{}" };
  snprintf (p.sku, sizeof p.sku, "P");
  CHECK (store_product_insert (s, b, &p) == STORE_ONE);
  struct store_customer c = { .doc = (char *)"{}" };
  snprintf (c.rfc, sizeof c.rfc, "XAXX010101000");
  CHECK (store_customer_insert (s, b, &c) == STORE_ONE);
  struct store_user u = { .role = STORE_ROLE_STAFF };
  snprintf (u.email, sizeof u.email, "b@example.com");
  snprintf (u.pwhash, sizeof u.pwhash, "x");
  CHECK (store_user_insert (s, b, &u) == STORE_ONE);
  enum store_status st;
  int64_t bi
      = make_invoice (s, b, "44444444-4444-4444-4444-444444444444", &st);
  CHECK (st == STORE_ONE);
  CHECK (store_invoice_add_ticket (s, b, bi, bt) == STORE_ONE);
  CHECK (store_event_add (s, b, bi, 0, "issued", "", NULL, NULL) == STORE_ONE);
  int64_t bj;
  CHECK (store_job_enqueue (s, b, "mail", "{}", 0, &bj) == STORE_ONE);
  CHECK (store_idem_begin (s, b, "idem-b", "h", NULL) == STORE_ONE);
  CHECK (store_series_ensure (s, b, "B") == STORE_ONE);
  struct store_ticket t = { 0 };
  CHECK (store_ticket_get (s, b, bt, &t) == STORE_ONE);
  char key[STORE_TICKET_KEY_LEN + 1];
  memcpy (key, t.key, sizeof key);
  store_ticket_clear (&t);

  struct store_branch br;
  struct store_product pg = { 0 };
  struct store_customer cg = { 0 };
  struct store_user ug;
  struct store_invoice ig = { 0 };
  struct store_idem idg = { 0 };
  struct store_job jg = { 0 };
  int64_t x;
  CHECK (store_branch_get (s, a, bb, &br) == STORE_NONE);
  CHECK (store_ticket_get (s, a, bt, &t) == STORE_NONE);
  CHECK (store_ticket_find_key (s, a, key, &t) == STORE_NONE);
  CHECK (store_ticket_find_folio (s, a, bb, "T1", &t) == STORE_NONE);
  CHECK (store_ticket_set_status (s, a, bt, STORE_TICKET_OPEN,
                                  STORE_TICKET_CANCELLED)
         == STORE_NONE);
  CHECK (store_product_get (s, a, p.id, &pg) == STORE_NONE);
  CHECK (store_product_find_sku (s, a, "P", &pg) == STORE_NONE);
  CHECK (store_product_update (s, a, &p) == STORE_NONE);
  CHECK (store_product_delete (s, a, p.id) == STORE_NONE);
  CHECK (store_customer_get (s, a, c.id, &cg) == STORE_NONE);
  CHECK (store_customer_find_rfc (s, a, "XAXX010101000", &cg) == STORE_NONE);
  CHECK (store_customer_update (s, a, &c) == STORE_NONE);
  CHECK (store_customer_delete (s, a, c.id) == STORE_NONE);
  CHECK (store_user_get (s, a, u.id, &ug) == STORE_NONE);
  CHECK (store_user_find_email (s, a, "b@example.com", &ug) == STORE_NONE);
  CHECK (store_user_update (s, a, &u) == STORE_NONE);
  CHECK (store_user_delete (s, a, u.id) == STORE_NONE);
  CHECK (store_invoice_get (s, a, bi, true, &ig) == STORE_NONE);
  CHECK (store_invoice_find_uuid (s, a, "44444444-4444-4444-4444-444444444444",
                                  false, &ig)
         == STORE_NONE);
  CHECK (store_invoice_set_pdf (s, a, bi, (const unsigned char *)"x", 1)
         == STORE_NONE);
  CHECK (store_invoice_cancel_request (s, a, bi, "02", NULL) == STORE_NONE);
  CHECK (store_invoice_cancel_ack (s, a, bi, NULL) == STORE_NONE);
  CHECK (store_ticket_invoice (s, a, bt, &x) == STORE_NONE);
  int64_t *ids;
  size_t n;
  CHECK (store_invoice_tickets (s, a, bi, &ids, &n) == STORE_NONE && n == 0);
  free (ids);
  struct store_event *el;
  CHECK (store_event_list (s, a, bi, &el, &n) == STORE_NONE && n == 0);
  store_event_list_free (el, n);
  CHECK (store_event_add (s, a, bi, 0, "opened", "", NULL, NULL)
         == STORE_NONE);
  CHECK (store_job_get (s, a, bj, &jg) == STORE_NONE);
  CHECK (store_idem_get (s, a, "idem-b", &idg) == STORE_NONE);
  CHECK (store_series_next (s, a, "B", &x) == STORE_NONE);
  int k = 0;
  CHECK (store_invoice_walk (s, a, walk_count, &k) == STORE_NONE && k == 0);
  CHECK (store_invoice_walk (s, b, walk_count, &k) == STORE_ONE && k == 1);
  /* lists of A show nothing of B */
  struct store_ticket *tl;
  int64_t next;
  CHECK (store_ticket_list (s, a, NULL, &tl, &n, &next) == STORE_NONE
         && n == 0);
  store_ticket_list_free (tl, n);
  struct store_product *pl;
  CHECK (store_product_list (s, a, 0, 0, &pl, &n, &next) == STORE_NONE
         && n == 0);
  store_product_list_free (pl, n);
  struct store_customer *cl;
  CHECK (store_customer_list (s, a, 0, 0, &cl, &n, &next) == STORE_NONE
         && n == 0);
  store_customer_list_free (cl, n);
  struct store_invoice *il;
  CHECK (store_invoice_list (s, a, 0, 0, &il, &n, &next) == STORE_NONE
         && n == 0);
  store_invoice_list_free (il, n);
  struct store_user *ul;
  CHECK (store_user_list (s, a, &ul, &n) == STORE_NONE && n == 0);
  free (ul);
  struct store_series *sl;
  CHECK (store_series_list (s, a, &sl, &n) == STORE_NONE && n == 0);
  free (sl);
  /* B's objects are intact */
  CHECK (store_ticket_get (s, b, bt, &t) == STORE_ONE
         && t.status == STORE_TICKET_OPEN);
  store_ticket_clear (&t);
  CHECK (store_product_get (s, b, p.id, &pg) == STORE_ONE);
  store_product_clear (&pg);
  store_close (s);
}

/* ------------------------------------------------------------------ */
/* Idempotency from two connections                                    */
/* ------------------------------------------------------------------ */

struct idem_arg
{
  struct store *s;
  int64_t tenant;
  int delay_ms;
  enum store_status begin;
  int replay_status;
  char replay_body[64];
  int64_t product;
  int claimed; /* set once the key is held (atomic) */
};

static enum store_status
idem_tx (struct store *s, void *arg)
{
  struct idem_arg *ia = arg;
  struct store_idem prev = { 0 };
  enum store_status st
      = store_idem_begin (s, ia->tenant, "key-1", "hash-1", &prev);
  ia->begin = st;
  if (st == STORE_NONE)
    {
      ia->replay_status = prev.status;
      snprintf (ia->replay_body, sizeof ia->replay_body, "%s",
                prev.body ? prev.body : "");
      store_idem_clear (&prev);
      return STORE_NONE;
    }
  if (st != STORE_ONE)
    return st;
  __atomic_store_n (&ia->claimed, 1, __ATOMIC_SEQ_CST);
  struct timespec ts = { 0, ia->delay_ms * 1000000L };
  nanosleep (&ts, NULL);
  struct store_product p = { .doc = (char *)"{}" };
  snprintf (p.name, sizeof p.name, "idem");
  st = store_product_insert (s, ia->tenant, &p);
  if (st != STORE_ONE)
    return st < 0 ? st : STORE_HARD;
  ia->product = p.id;
  char body[64];
  snprintf (body, sizeof body, "{\"id\":%lld}", (long long)p.id);
  return store_idem_finish (s, ia->tenant, "key-1", 201, body);
}

static void *
idem_thread (void *arg)
{
  struct idem_arg *ia = arg;
  store_tx (ia->s, idem_tx, ia);
  return NULL;
}

static void
test_idempotency_two_connections (void)
{
  struct store *s1 = open_store (NULL), *s2 = open_store (NULL);
  int64_t a = make_tenant (s1, "idem");
  struct idem_arg x = { .s = s1, .tenant = a, .delay_ms = 300 };
  struct idem_arg y = { .s = s2, .tenant = a, .delay_ms = 0 };
  pthread_t t1, t2;
  pthread_create (&t1, NULL, idem_thread, &x);
  /* The second connection starts once the first holds the key inside its
   * still open transaction: it must wait for it, then replay its answer. */
  while (!__atomic_load_n (&x.claimed, __ATOMIC_SEQ_CST))
    {
      struct timespec ts = { 0, 1000000L };
      nanosleep (&ts, NULL);
    }
  pthread_create (&t2, NULL, idem_thread, &y);
  pthread_join (t1, NULL);
  pthread_join (t2, NULL);
  CHECK (x.begin == STORE_ONE);
  CHECK (y.begin == STORE_NONE);
  char want[64];
  snprintf (want, sizeof want, "{\"id\":%lld}", (long long)x.product);
  CHECK (y.replay_status == 201 && strcmp (y.replay_body, want) == 0);
  struct store_product *pl;
  size_t n;
  int64_t next;
  CHECK (store_product_list (s1, a, 0, 0, &pl, &n, &next) == STORE_ONE
         && n == 1);
  store_product_list_free (pl, n);
  struct store_idem g = { 0 };
  CHECK (store_idem_get (s2, a, "key-1", &g) == STORE_ONE && g.status == 201
         && strcmp (g.request_hash, "hash-1") == 0);
  store_idem_clear (&g);
  int64_t gone = -1;
  CHECK (store_idem_expire (s1, time (NULL) + 10, &gone) == STORE_ONE
         && gone >= 1);
  CHECK (store_idem_get (s2, a, "key-1", &g) == STORE_NONE);
  store_close (s1);
  store_close (s2);
}

/* ------------------------------------------------------------------ */
/* Soft errors                                                         */
/* ------------------------------------------------------------------ */

struct count_arg
{
  int calls;
  int64_t tenant;
  const char *code;
};

static enum store_status
branch_tx (struct store *s, void *arg)
{
  struct count_arg *c = arg;
  c->calls++;
  struct store_branch b = { 0 };
  snprintf (b.code, sizeof b.code, "%s", c->code);
  return store_branch_insert (s, c->tenant, &b);
}

static sqlite3 *locker_db;
static struct store *locked_store;
static uint64_t locked_retries;

/* Releases the write lock once the store has retried at least once. */
static void *
unlock_later (void *arg)
{
  (void)arg;
  for (int i = 0; i < 5000 && store_retries (locked_store) <= locked_retries;
       i++)
    {
      struct timespec ts = { 0, 1000000L };
      nanosleep (&ts, NULL);
    }
  sqlite3_exec (locker_db, "COMMIT", NULL, NULL, NULL);
  return NULL;
}

static void
test_soft_retry (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "soft");
  struct store_branch b;
  /* injected: the first statement of the transaction fails soft once */
  struct count_arg c = { 0, a, "R1" };
  uint64_t r0 = store_retries (s);
  store_fault_inject (s, 1, STORE_SOFT);
  CHECK (store_tx (s, branch_tx, &c) == STORE_ONE);
  CHECK (c.calls == 2 && store_retries (s) == r0 + 1);
  CHECK (store_branch_find_code (s, a, "R1", &b) == STORE_ONE);
  /* hard: no retry, rolled back */
  struct count_arg c2 = { 0, a, "R2" };
  store_fault_inject (s, 2, STORE_HARD);
  CHECK (store_tx (s, branch_tx, &c2) == STORE_HARD);
  CHECK (c2.calls == 1);
  CHECK (store_branch_find_code (s, a, "R2", &b) == STORE_NONE);
  store_fault_inject (s, 0, STORE_SOFT);
  store_close (s);

  if (strcmp (backend, "sqlite") == 0)
    {
      /* A real SQLITE_BUSY: another connection holds the write lock longer
       * than the busy timeout; store_tx retries until it is released. */
      struct store *sb = open_store ("busy_ms=40");
      char path[600];
      snprintf (path, sizeof path, "%s/t.db", tmpdir);
      REQUIRE (sqlite3_open (path, &locker_db) == SQLITE_OK);
      REQUIRE (sqlite3_exec (locker_db, "BEGIN IMMEDIATE", NULL, NULL, NULL)
               == SQLITE_OK);
      pthread_t th;
      struct count_arg cb = { 0, a, "BUSY" };
      uint64_t before = store_retries (sb);
      locked_store = sb;
      locked_retries = before;
      pthread_create (&th, NULL, unlock_later, NULL);
      CHECK (store_tx (sb, branch_tx, &cb) == STORE_ONE);
      CHECK (store_retries (sb) > before);
      pthread_join (th, NULL);
      sqlite3_close (locker_db);
      CHECK (store_branch_find_code (sb, a, "BUSY", &b) == STORE_ONE);
      store_close (sb);
    }
  else
    {
      /* A real SQLSTATE 40001: a trigger fails the first two inserts with
       * serialization_failure (a sequence counts, since it survives the
       * rollback). */
      PGconn *pg = PQconnectdb (url);
      REQUIRE (PQstatus (pg) == CONNECTION_OK);
      PGresult *r = PQexec (
          pg,
          "CREATE SEQUENCE fail_seq;"
          "CREATE FUNCTION fail_twice() RETURNS trigger LANGUAGE plpgsql AS $$"
          " BEGIN IF NEW.code = 'SER' AND nextval('fail_seq') <= 2 THEN"
          " RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END IF;"
          " RETURN NEW; END $$;"
          "CREATE TRIGGER fail_twice BEFORE INSERT ON branches FOR EACH ROW"
          " EXECUTE FUNCTION fail_twice();");
      CHECK (PQresultStatus (r) == PGRES_COMMAND_OK);
      PQclear (r);
      struct store *sp = open_store (NULL);
      struct count_arg cs = { 0, a, "SER" };
      uint64_t before = store_retries (sp);
      CHECK (store_tx (sp, branch_tx, &cs) == STORE_ONE);
      CHECK (cs.calls == 3 && store_retries (sp) == before + 2);
      CHECK (store_branch_find_code (sp, a, "SER", &b) == STORE_ONE);
      store_close (sp);
      r = PQexec (pg, "DROP TRIGGER fail_twice ON branches");
      PQclear (r);
      PQfinish (pg);
    }
}

/* PostgreSQL restarted or a connection killed: the pooled connection is
 * dead; the next call reconnects and runs its transaction again. */
static void
test_reconnect (void)
{
  if (strcmp (backend, "pg") != 0)
    return;
  struct store *s = open_store ("application_name=facturo_kill&pool=1");
  int64_t a = make_tenant (s, "reconnect");
  PGconn *pg = PQconnectdb (url);
  REQUIRE (PQstatus (pg) == CONNECTION_OK);
  const char *kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE application_name = 'facturo_kill'";
  for (int round = 0; round < 2; round++)
    {
      PGresult *r = PQexec (pg, kill);
      CHECK (PQresultStatus (r) == PGRES_TUPLES_OK && PQntuples (r) == 1);
      PQclear (r);
      struct timespec ts = { 0, 50 * 1000000L };
      nanosleep (&ts, NULL);
      uint64_t before = store_retries (s);
      if (round == 0)
        {
          struct store_tenant t = { 0 };
          CHECK (store_tenant_get (s, a, &t)
                 == STORE_ONE); /* autocommit read */
          store_tenant_clear (&t);
        }
      else
        {
          struct count_arg c = { 0, a, "AFTER-KILL" };
          CHECK (store_tx (s, branch_tx, &c) == STORE_ONE); /* transaction */
          struct store_branch b;
          CHECK (store_branch_find_code (s, a, "AFTER-KILL", &b) == STORE_ONE);
        }
      CHECK (store_retries (s) > before);
    }
  PQfinish (pg);
  store_close (s);
}

/* ------------------------------------------------------------------ */
/* Concurrency: gapless folios, one invoice per ticket, job claims      */
/* ------------------------------------------------------------------ */

#define FOLIO_THREADS 8
#define FOLIO_EACH 25

struct folio_arg
{
  struct store *s;
  int64_t tenant;
  int idx;
  int64_t got[FOLIO_EACH];
  int ngot;
  int64_t pending;
  bool rollback;
};

static enum store_status
folio_tx (struct store *s, void *arg)
{
  struct folio_arg *fa = arg;
  int64_t f = 0;
  enum store_status st = store_series_next (s, fa->tenant, "G", &f);
  if (st != STORE_ONE)
    return st < 0 ? st : STORE_HARD;
  fa->pending = f;
  /* Some transactions take a folio and then fail: the folio must come
   * back to the series. */
  return fa->rollback ? STORE_HARD : STORE_ONE;
}

static void *
folio_thread (void *arg)
{
  struct folio_arg *fa = arg;
  for (int i = 0; i < FOLIO_EACH;)
    {
      fa->rollback = ((i + fa->idx) % 5) == 0 && fa->ngot < FOLIO_EACH - 1
                     && !fa->rollback;
      enum store_status st = store_tx (fa->s, folio_tx, fa);
      if (st == STORE_ONE)
        {
          fa->got[fa->ngot++] = fa->pending;
          i++;
        }
      else if (!fa->rollback)
        {
          fprintf (stderr, "folio tx failed: %d\n", st);
          break;
        }
    }
  return NULL;
}

static int
cmp64 (const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* INVARIANT 3 */
static void
test_gapless_folios (void)
{
  struct store *s = open_store ("pool=8");
  int64_t a = make_tenant (s, "folios");
  CHECK (store_series_ensure (s, a, "G") == STORE_ONE);
  static struct folio_arg fa[FOLIO_THREADS];
  pthread_t th[FOLIO_THREADS];
  for (int i = 0; i < FOLIO_THREADS; i++)
    {
      memset (&fa[i], 0, sizeof fa[i]);
      fa[i].s = s;
      fa[i].tenant = a;
      fa[i].idx = i;
      pthread_create (&th[i], NULL, folio_thread, &fa[i]);
    }
  int64_t all[FOLIO_THREADS * FOLIO_EACH];
  int n = 0;
  for (int i = 0; i < FOLIO_THREADS; i++)
    {
      pthread_join (th[i], NULL);
      for (int k = 0; k < fa[i].ngot; k++)
        all[n++] = fa[i].got[k];
    }
  CHECK (n == FOLIO_THREADS * FOLIO_EACH);
  qsort (all, n, sizeof all[0], cmp64);
  bool ok = true;
  for (int i = 0; i < n; i++)
    ok &= all[i] == i + 1;
  CHECK (ok);
  int64_t next = 0;
  CHECK (store_series_next (s, a, "G", &next) == STORE_ONE && next == n + 1);
  store_close (s);
}

#define RACE_THREADS 8

struct race_arg
{
  struct store *s;
  int64_t tenant, ticket;
  int idx;
  enum store_status result;
};

static enum store_status
race_tx (struct store *s, void *arg)
{
  struct race_arg *ra = arg;
  char uuid[40];
  snprintf (uuid, sizeof uuid, "AAAAAAAA-0000-0000-0000-%012d", ra->idx);
  enum store_status st;
  int64_t inv = make_invoice (s, ra->tenant, uuid, &st);
  if (st != STORE_ONE)
    return st < 0 ? st : STORE_HARD;
  st = store_invoice_add_ticket (s, ra->tenant, inv, ra->ticket);
  if (st == STORE_NONE)
    return STORE_NONE; /* taken: the caller rolls back */
  return st;
}

static enum store_status
race_wrap (struct store *s, void *arg)
{
  enum store_status st = race_tx (s, arg);
  return st == STORE_NONE ? STORE_HARD : st; /* roll back the invoice too */
}

static void *
race_thread (void *arg)
{
  struct race_arg *ra = arg;
  ra->result = store_tx (ra->s, race_wrap, ra);
  return NULL;
}

/* INVARIANT 1: many concurrent issuers, one invoice. */
static void
test_ticket_one_invoice (void)
{
  struct store *s1 = open_store ("pool=4"), *s2 = open_store ("pool=4");
  int64_t a = make_tenant (s1, "race");
  int64_t br = make_branch (s1, a, "R");
  int64_t t = make_ticket (s1, a, br, "R-1", 1700000000);
  struct race_arg ra[RACE_THREADS];
  pthread_t th[RACE_THREADS];
  for (int i = 0; i < RACE_THREADS; i++)
    {
      ra[i] = (struct race_arg){ i % 2 ? s2 : s1, a, t, i, STORE_HARD };
      pthread_create (&th[i], NULL, race_thread, &ra[i]);
    }
  int won = 0;
  for (int i = 0; i < RACE_THREADS; i++)
    {
      pthread_join (th[i], NULL);
      won += ra[i].result == STORE_ONE;
    }
  CHECK (won == 1);
  struct store_invoice *il;
  size_t n;
  int64_t next;
  CHECK (store_invoice_list (s1, a, 0, 100, &il, &n, &next) == STORE_ONE
         && n == 1);
  store_invoice_list_free (il, n);
  int64_t holder;
  CHECK (store_ticket_invoice (s2, a, t, &holder) == STORE_ONE);
  store_close (s1);
  store_close (s2);
}

#define JOBS 120
#define WORKERS 4

struct worker_arg
{
  struct store *s;
  char name[16];
  int claimed;
  int *seen; /* per job index, atomically incremented */
  int64_t *ids;
};

static void *
worker_thread (void *arg)
{
  struct worker_arg *w = arg;
  for (;;)
    {
      struct store_job j = { 0 };
      enum store_status st = store_job_claim (w->s, w->name, "bulk", 60, &j);
      if (st == STORE_NONE)
        break;
      if (st != STORE_ONE)
        {
          fprintf (stderr, "claim: %d\n", st);
          continue;
        }
      for (int i = 0; i < JOBS; i++)
        if (w->ids[i] == j.id)
          __atomic_add_fetch (&w->seen[i], 1, __ATOMIC_SEQ_CST);
      w->claimed++;
      if (store_job_done (w->s, j.tenant_id, j.id, w->name) != STORE_ONE)
        fprintf (stderr, "job_done failed\n");
      store_job_clear (&j);
    }
  return NULL;
}

static void
test_jobs (void)
{
  struct store *s1 = open_store ("pool=4"), *s2 = open_store ("pool=4");
  int64_t a = make_tenant (s1, "jobs-a"), b = make_tenant (s1, "jobs-b");
  static int64_t ids[JOBS];
  static int seen[JOBS];
  for (int i = 0; i < JOBS; i++)
    {
      seen[i] = 0;
      REQUIRE (store_job_enqueue (s1, i % 2 ? a : b, "bulk", "{\"n\":1}", 0,
                                  &ids[i])
               == STORE_ONE);
    }
  int64_t later;
  CHECK (store_job_enqueue (s1, a, "bulk", "{}", time (NULL) + 3600, &later)
         == STORE_ONE);
  struct worker_arg w[WORKERS];
  pthread_t th[WORKERS];
  for (int i = 0; i < WORKERS; i++)
    {
      w[i] = (struct worker_arg){ i % 2 ? s2 : s1, "", 0, seen, ids };
      snprintf (w[i].name, sizeof w[i].name, "w%d", i);
      pthread_create (&th[i], NULL, worker_thread, &w[i]);
    }
  int total = 0;
  for (int i = 0; i < WORKERS; i++)
    {
      pthread_join (th[i], NULL);
      total += w[i].claimed;
    }
  if (total != JOBS)
    fprintf (stderr, "claimed %d of %d\n", total, JOBS);
  CHECK (total == JOBS);
  bool once = true;
  for (int i = 0; i < JOBS; i++)
    once &= seen[i] == 1;
  CHECK (once);
  int64_t n = -1;
  int64_t na = -1, nb = -1;
  CHECK (store_job_count (s1, a, STORE_JOB_DONE, &na) == STORE_ONE);
  CHECK (store_job_count (s2, b, STORE_JOB_DONE, &nb) == STORE_ONE);
  CHECK (na + nb == JOBS);
  CHECK (store_job_count (s1, 0, STORE_JOB_DONE, &n) == STORE_ONE
         && n == JOBS);
  CHECK (store_job_count (s1, a, STORE_JOB_QUEUED, &n) == STORE_ONE && n == 1);
  /* fail / retry / dead, and an expired lease is claimed again */
  int64_t jid;
  CHECK (store_job_enqueue (s1, a, "pdf", "{}", 0, &jid) == STORE_ONE);
  struct store_job j = { 0 };
  CHECK (store_job_claim (s1, "x", "pdf", 60, &j) == STORE_ONE && j.id == jid
         && j.attempts == 1 && j.state == STORE_JOB_RUNNING);
  store_job_clear (&j);
  CHECK (store_job_claim (s2, "y", "pdf", 60, &j) == STORE_NONE);
  CHECK (store_job_fail (s1, a, jid, "y", "not mine", 1) == STORE_NONE);
  CHECK (store_job_fail (s1, a, jid, "x", "smtp down", 1) == STORE_ONE);
  CHECK (store_job_claim (s2, "y", "pdf", -1000, &j) == STORE_ONE
         && j.attempts == 2 && j.last_error
         && strcmp (j.last_error, "smtp down") == 0);
  store_job_clear (&j);
  /* lease_seconds <= 0 means the default (60): still held */
  CHECK (store_job_claim (s1, "z", "pdf", 60, &j) == STORE_NONE);
  CHECK (store_job_fail (s2, a, jid, "y", "bounced", 0) == STORE_ONE);
  CHECK (store_job_get (s1, a, jid, &j) == STORE_ONE
         && j.state == STORE_JOB_DEAD);
  store_job_clear (&j);
  store_close (s1);
  store_close (s2);
}

/* ------------------------------------------------------------------ */
/* Fault injection over an issue-like flow (STYLE §16)                 */
/* ------------------------------------------------------------------ */

struct flow_arg
{
  int64_t tenant, ticket;
};

/* claim the ticket, take a folio, store the invoice, link the ticket */
static enum store_status
flow_tx (struct store *s, void *arg)
{
  struct flow_arg *fa = arg;
  enum store_status st = store_ticket_set_status (
      s, fa->tenant, fa->ticket, STORE_TICKET_OPEN, STORE_TICKET_INVOICED);
  if (st != STORE_ONE)
    return st;
  int64_t folio = 0;
  st = store_series_next (s, fa->tenant, "F", &folio);
  if (st != STORE_ONE)
    return st < 0 ? st : STORE_HARD;
  struct store_invoice inv = { 0 };
  snprintf (inv.uuid, sizeof inv.uuid, "F-%lld", (long long)folio);
  snprintf (inv.series, sizeof inv.series, "F");
  inv.folio = folio;
  char xml[64];
  snprintf (xml, sizeof xml, "<x folio=\"%lld\"/>", (long long)folio);
  inv.xml = (unsigned char *)xml;
  inv.xml_len = strlen (xml);
  st = store_invoice_insert (s, fa->tenant, &inv);
  if (st != STORE_ONE)
    return st < 0 ? st : STORE_HARD;
  st = store_invoice_add_ticket (s, fa->tenant, inv.id, fa->ticket);
  return st == STORE_ONE ? st : (st < 0 ? st : STORE_HARD);
}

struct chain_check
{
  char prev[65];
  int n;
  bool ok;
};

static bool
chain_step (const struct store_invoice *v, void *arg)
{
  struct chain_check *c = arg;
  c->ok &= strcmp (v->prev_hash, c->prev) == 0;
  c->ok &= v->folio == c->n + 1; /* folios follow the chain: no gaps */
  snprintf (c->prev, sizeof c->prev, "%s", v->chain_hash);
  c->n++;
  return true;
}

/* INVARIANT 1, INVARIANT 3, INVARIANT 4: whichever statement fails, soft
 * or hard, a ticket ends in exactly one invoice, folios have no gap and
 * the hash chain stays linear. */
static void
test_fault_injection_flow (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "faults");
  int64_t br = make_branch (s, a, "F");
  CHECK (store_series_ensure (s, a, "F") == STORE_ONE);
  int tickets = 0;
  for (int kind = 0; kind < 2; kind++)
    for (int nth = 1; nth <= 9; nth++)
      {
        char folio[16];
        snprintf (folio, sizeof folio, "%d-%d", kind, nth);
        struct flow_arg fa = { a, make_ticket (s, a, br, folio, 1700000000) };
        tickets++;
        store_fault_inject (s, nth, kind ? STORE_HARD : STORE_SOFT);
        enum store_status st = store_tx (s, flow_tx, &fa);
        store_fault_inject (s, 0, STORE_SOFT);
        if (st != STORE_ONE) /* the client tries again */
          st = store_tx (s, flow_tx, &fa);
        CHECK (st == STORE_ONE);
        /* and a third, duplicate attempt changes nothing */
        CHECK (store_tx (s, flow_tx, &fa) == STORE_NONE);
        int64_t holder = 0;
        CHECK (store_ticket_invoice (s, a, fa.ticket, &holder) == STORE_ONE);
      }
  struct chain_check cc = { "", 0, true };
  CHECK (store_invoice_walk (s, a, chain_step, &cc) == STORE_ONE);
  CHECK (cc.ok && cc.n == tickets);
  int64_t next = 0;
  CHECK (store_series_next (s, a, "F", &next) == STORE_ONE
         && next == tickets + 1);
  store_close (s);
}

static void
test_csd (void)
{
  struct store *s = open_store (NULL);
  int64_t a = make_tenant (s, "csd");
  unsetenv ("FACTURO_SECRET_KEY");
  struct store_csd c = { 0 };
  unsigned char cer[] = { 0x30, 0x82, 0x01, 0x00, 0xaa };
  unsigned char key[] = { 0x30, 0x82, 0x02, 0x00, 0xbb, 0x00, 0xcc };
  c.cer = cer;
  c.cer_len = sizeof cer;
  c.key = key;
  c.key_len = sizeof key;
  c.password = (char *)"12345678a";
  snprintf (c.serial, sizeof c.serial, "30001000000500003416");
  c.not_after = 2000000000;
  struct store_csd out;
  CHECK (store_tenant_csd_get (s, a, &out) == STORE_NONE);
  CHECK (store_tenant_csd_set (s, a, &c) == STORE_ONE);
  struct stat sb;
  CHECK (stat (store_master_key_path (s), &sb) == 0
         && (sb.st_mode & 0777) == 0600);
  CHECK (store_tenant_csd_get (s, a, &out) == STORE_ONE);
  CHECK (out.cer_len == sizeof cer && memcmp (out.cer, cer, sizeof cer) == 0);
  CHECK (out.key_len == sizeof key && memcmp (out.key, key, sizeof key) == 0);
  CHECK (out.password && strcmp (out.password, "12345678a") == 0);
  CHECK (strcmp (out.serial, "30001000000500003416") == 0
         && out.not_after == 2000000000);
  store_csd_clear (&out);
  CHECK (out.key == NULL && out.password == NULL);
  struct store_tenant t = { 0 };
  CHECK (store_tenant_get (s, a, &t) == STORE_ONE && t.has_csd
         && strcmp (t.csd_serial, "30001000000500003416") == 0);
  store_tenant_clear (&t);
  store_close (s);
  /* the key and password are not stored in the clear */
  if (strcmp (backend, "sqlite") == 0)
    {
      char path[600];
      snprintf (path, sizeof path, "%s/t.db", tmpdir);
      FILE *f = fopen (path, "rb");
      REQUIRE (f);
      static char db[8 << 20];
      size_t n = fread (db, 1, sizeof db, f);
      fclose (f);
      CHECK (memmem (db, n, "12345678a", 9) == NULL);
    }
  /* another key file: nothing to decrypt with, then a new key */
  s = open_store (NULL);
  char alt[600];
  snprintf (alt, sizeof alt, "%s/alt.secret", tmpdir);
  store_set_master_key_path (s, alt);
  CHECK (strcmp (store_master_key_path (s), alt) == 0);
  CHECK (store_tenant_csd_get (s, a, &out) == STORE_HARD);
  CHECK (store_tenant_csd_set (s, a, &c) == STORE_ONE);
  CHECK (stat (alt, &sb) == 0 && (sb.st_mode & 0777) == 0600);
  CHECK (store_tenant_csd_get (s, a, &out) == STORE_ONE
         && out.key_len == sizeof key);
  store_csd_clear (&out);
  store_close (s);
  /* another master key cannot decrypt */
  setenv ("FACTURO_SECRET_KEY",
          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
          1);
  s = open_store (NULL);
  CHECK (store_tenant_csd_get (s, a, &out) == STORE_HARD);
  store_close (s);
  unsetenv ("FACTURO_SECRET_KEY");
}

static void
test_bad_url (void)
{
  struct ferr err;
  CHECK (store_open ("sqlite:/nonexistent-dir/x/y.db", &err) == NULL);
  CHECK (strcmp (err.code, "store_open") == 0);
}

/* ------------------------------------------------------------------ */

static char pg_schema[64];

static void
pg_setup (const char *base)
{
  PGconn *pg = PQconnectdb (base);
  if (PQstatus (pg) != CONNECTION_OK)
    {
      fprintf (stderr, "cannot connect to FACTURO_TEST_PG: %s",
               PQerrorMessage (pg));
      exit (1);
    }
  snprintf (pg_schema, sizeof pg_schema, "t_%d_%ld", (int)getpid (),
            (long)time (NULL));
  char sql[256];
  snprintf (sql, sizeof sql, "CREATE SCHEMA %s", pg_schema);
  PGresult *r = PQexec (pg, sql);
  REQUIRE (PQresultStatus (r) == PGRES_COMMAND_OK);
  PQclear (r);
  PQfinish (pg);
  snprintf (url, sizeof url, "%s%coptions=-csearch_path%%3D%s", base,
            strchr (base, '?') ? '&' : '?', pg_schema);
}

static void
pg_teardown (const char *base)
{
  PGconn *pg = PQconnectdb (base);
  char sql[256];
  PQclear (PQexec (pg, "SET client_min_messages = warning"));
  snprintf (sql, sizeof sql, "DROP SCHEMA %s CASCADE", pg_schema);
  PQclear (PQexec (pg, sql));
  PQfinish (pg);
}

int
main (int argc, char **argv)
{
  backend = argc > 1 ? argv[1] : "sqlite";
  const char *pgbase = NULL;
  if (strcmp (backend, "pg") == 0)
    {
      pgbase = getenv ("FACTURO_TEST_PG");
      if (pgbase == NULL || *pgbase == '\0')
        {
          const char *req = getenv ("FACTURO_REQUIRE_PG");
          fprintf (stderr, "FACTURO_TEST_PG not set\n");
          return req && strcmp (req, "1") == 0 ? 1 : 77;
        }
      pg_setup (pgbase);
    }
  snprintf (tmpdir, sizeof tmpdir, "/tmp/facturo-store-XXXXXX");
  REQUIRE (mkdtemp (tmpdir) != NULL);
  if (pgbase == NULL)
    snprintf (url, sizeof url, "sqlite:%s/t.db", tmpdir);
  /* the master key file of PostgreSQL stores goes into the temp dir */
  char kf[600];
  snprintf (kf, sizeof kf, "%s/master.secret", tmpdir);
  if (pgbase)
    setenv ("FACTURO_SECRET_KEY_FILE", kf, 1);
  unsetenv ("FACTURO_SECRET_KEY");

  struct store *s = open_store (NULL);
  int n = 0;
  REQUIRE (store_migrate (s, &n) == STORE_ONE);
  CHECK (n >= 1);
  store_close (s);

  test_migrate ();
  test_tenants ();
  test_branches_series_users ();
  test_apikeys ();
  test_tickets ();
  test_products_customers ();
  test_invoices_events_chain ();
  test_invoice_list_filtered ();
  test_isolation ();
  test_idempotency_two_connections ();
  test_soft_retry ();
  test_reconnect ();
  test_gapless_folios ();
  test_ticket_one_invoice ();
  test_jobs ();
  test_fault_injection_flow ();
  test_csd ();
  test_bad_url ();

  if (pgbase)
    pg_teardown (pgbase);
  char cmd[400];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system (cmd) != 0)
    fprintf (stderr, "could not remove %s\n", tmpdir);
  if (failures)
    fprintf (stderr, "[%s] %d check(s) failed\n", backend, failures);
  else
    printf ("[%s] all store checks passed\n", backend);
  return failures ? 1 : 0;
}
