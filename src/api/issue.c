/*
 * issue.c — the issuing service: tickets -> one sealed, stamped CFDI,
 * stored with its tickets in one transaction (see issue.h for the
 * contract, docs/invoices.md for the rules in prose).
 *
 * Owns: the self-invoicing window and global-invoice period arithmetic
 * (pure, civil-calendar maths on local days of the tenant's zone, util/tz.h),
 * the per-process caches of loaded CSDs and stamping providers, and
 * issue_invoice_for_tickets().  Does not own: the arithmetic of the
 * invoice (core/invoice.c, the same code that computed the tickets'
 * totals), XML and seals (cfdi/), SQL (store/), mail (jobs/).
 *
 * Where the CPU work runs.  The folio is part of the sealed document and
 * must be taken in the transaction that stores it (invariant 3), so the
 * seal cannot be made before the transaction.  The transaction therefore
 * (1) reads and classifies the tickets, writing nothing, so every refusal
 * commits nothing; (2) claims the tickets with a compare-and-set UPDATE
 * (open -> invoiced) in ascending id order — a concurrent request for the
 * same ticket blocks here until the first commits and then finds it
 * invoiced, so sealing and stamping run once per ticket; (3) takes the
 * folio, builds, seals, stamps and stores.  A failure after (2) returns
 * STORE_HARD so that everything, including an enclosing transaction,
 * rolls back.  (On SQLite, where the transaction holds the one write
 * lock from its start, the seal and stamp come before (2): a provider's
 * refusal then writes nothing.)  Locks are always taken in the order
 * tickets -> series -> tenant (the chain head), by every writer, so there
 * is no deadlock.
 *
 * Workload: one seal + one sandbox stamp (two RSA-2048 signatures, about
 * 1-3 ms) per invoice, while the series row is locked: issuance of one
 * tenant is serial, different tenants run in parallel on PostgreSQL.
 */
#include "api/issue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cfdi/build.h"
#include "cfdi/csd.h"
#include "cfdi/pac.h"
#include "core/catalog.h"
#include "core/invoice.h"
#include "core/rfc.h"
#include "core/rules.h"
#include "core/ticket.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "jobs/mail.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/tz.h"

/* ================================================================== */
/* Periods and windows (local calendar days of the tenant's zone)      */
/* ================================================================== */

/* ISO weekday: Monday 1 … Sunday 7 (1970-01-01 was a Thursday). */
static int
iso_weekday (int64_t day)
{
  int64_t r = (day + 3) % 7;
  if (r < 0)
    r += 7;
  return (int)r + 1;
}

int
issue_periodicity_parse (const char *code)
{
  if (code == NULL || code[0] == '\0')
    return ISSUE_MONTHLY;
  if (code[0] == '0' && code[1] >= '1' && code[1] <= '5' && code[2] == '\0')
    return code[1] - '0';
  return 0;
}

bool
issue_period_of (int p, int64_t t, const struct tz *z,
                 struct issue_period *out)
{
  memset (out, 0, sizeof *out);
  int64_t day = tz_local_day (z, t);
  int y, m, d;
  tz_civil_from_days (day, &y, &m, &d);
  if (y < 2000 || y > 2999)
    return false;
  int64_t first, last; /* [first, last) in days */
  int my = y, mm = m;  /* month and year written in InformacionGlobal */
  switch (p)
    {
    case ISSUE_DAILY:
      first = day;
      last = day + 1;
      snprintf (out->label, sizeof out->label, "%04d-%02d-%02d", y, m, d);
      break;
    case ISSUE_WEEKLY:
      {
        first = day - (iso_weekday (day) - 1);
        last = first + 7;
        int ty, tm, td;
        tz_civil_from_days (first + 3, &ty, &tm, &td); /* its Thursday */
        int week = (int)((first + 3 - tz_days_from_civil (ty, 1, 1)) / 7) + 1;
        my = ty;
        mm = tm;
        snprintf (out->label, sizeof out->label, "%04d-W%02d", ty, week);
        break;
      }
    case ISSUE_FORTNIGHTLY:
      if (d <= 15)
        {
          first = tz_days_from_civil (y, m, 1);
          last = tz_days_from_civil (y, m, 16);
        }
      else
        {
          first = tz_days_from_civil (y, m, 16);
          last = tz_days_from_civil (m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1,
                                     1);
        }
      snprintf (out->label, sizeof out->label, "%04d-%02d-%d", y, m,
                d <= 15 ? 1 : 2);
      break;
    case ISSUE_MONTHLY:
      first = tz_days_from_civil (y, m, 1);
      last = tz_days_from_civil (m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1);
      snprintf (out->label, sizeof out->label, "%04d-%02d", y, m);
      break;
    case ISSUE_BIMONTHLY:
      {
        int m0 = (m % 2) ? m : m - 1;
        first = tz_days_from_civil (y, m0, 1);
        last = tz_days_from_civil (m0 == 11 ? y + 1 : y, m0 == 11 ? 1 : m0 + 2,
                                   1);
        mm = 13 + (m0 - 1) / 2;
        snprintf (out->label, sizeof out->label, "%04d-%02d/%02d", y, m0,
                  m0 + 1);
        break;
      }
    default:
      return false;
    }
  out->periodicity = p;
  out->start = tz_midnight (z, first);
  out->end = tz_midnight (z, last);
  out->year = my;
  snprintf (out->months, sizeof out->months, "%02d", mm);
  return true;
}

/* Reads exactly n digits at *s. */
static bool
digits (const char **s, int n, int *v)
{
  *v = 0;
  for (int i = 0; i < n; i++)
    {
      char c = (*s)[i];
      if (c < '0' || c > '9')
        return false;
      *v = *v * 10 + (c - '0');
    }
  *s += n;
  return true;
}

bool
issue_period_parse (int p, const char *text, const struct tz *z,
                    struct issue_period *out)
{
  if (text == NULL || strlen (text) > 16)
    return false;
  const char *s = text;
  int y, m = 1, d = 1;
  int64_t day;
  if (!digits (&s, 4, &y) || *s++ != '-' || y < 2000 || y > 2999)
    return false;
  if (p == ISSUE_WEEKLY)
    {
      int w;
      if (*s++ != 'W' || !digits (&s, 2, &w) || *s || w < 1 || w > 53)
        return false;
      int64_t jan4 = tz_days_from_civil (y, 1, 4);
      day = jan4 - (iso_weekday (jan4) - 1) + (int64_t)(w - 1) * 7;
    }
  else
    {
      if (!digits (&s, 2, &m) || m < 1 || m > 12)
        return false;
      if (p == ISSUE_DAILY)
        {
          if (*s++ != '-' || !digits (&s, 2, &d) || d < 1 || d > 31)
            return false;
        }
      else if (p == ISSUE_FORTNIGHTLY)
        {
          int h;
          if (*s++ != '-' || !digits (&s, 1, &h) || (h != 1 && h != 2))
            return false;
          d = h == 1 ? 1 : 16;
        }
      else if (p == ISSUE_BIMONTHLY)
        {
          int m2;
          if (*s++ != '/' || !digits (&s, 2, &m2) || m % 2 != 1 || m2 != m + 1)
            return false;
        }
      else if (p != ISSUE_MONTHLY)
        return false;
      if (*s)
        return false;
      day = tz_days_from_civil (y, m, d);
    }
  /* Canonical round trip: refuses 2026-02-30, 2026-W53 when 2026 has
   * 52 weeks, and any other spelling. */
  if (!issue_period_of (p, tz_midnight (z, day), z, out))
    return false;
  return strcmp (out->label, text) == 0;
}

int64_t
issue_window_end (int64_t purchase, int window_days, int periodicity,
                  const struct tz *z)
{
  if (window_days < 0)
    window_days = 0;
  if (window_days > 366)
    window_days = 366;
  int64_t end = tz_midnight (z, tz_local_day (z, purchase) + window_days + 1);
  struct issue_period per;
  if (!issue_period_of (periodicity, purchase, z, &per)
      && !issue_period_of (ISSUE_MONTHLY, purchase, z, &per))
    return end;
  return per.end < end ? per.end : end;
}

/* ================================================================== */
/* Caches                                                              */
/* ================================================================== */

struct csd_entry
{
  int64_t tenant_id;
  char serial[41];
  struct csd *csd;
  struct csd_entry *next;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct csd_entry *csd_cache;   /* current CSD per tenant */
static struct csd_entry *csd_retired; /* replaced ones: a thread may still
                                         be signing with them */
static char default_stamp[32] = "sandbox";

struct pac_entry
{
  char name[32];
  struct pac *pac;
  struct pac_entry *next;
};
static struct pac_entry *pac_cache;

const struct csd *
issue_csd (struct store *s, const struct store_tenant *t, int64_t now,
           struct ferr *err)
{
  if (!t->has_csd)
    {
      ferr_set (err, "csd_missing", "",
                "the merchant has not installed its CSD (certificado de "
                "sello digital)",
                "el comercio no ha instalado su CSD (certificado de sello "
                "digital)");
      return NULL;
    }
  pthread_mutex_lock (&cache_mu);
  for (struct csd_entry *e = csd_cache; e; e = e->next)
    if (e->tenant_id == t->id && strcmp (e->serial, t->csd_serial) == 0)
      {
        const struct csd *c = e->csd;
        pthread_mutex_unlock (&cache_mu);
        if (now < csd_not_before (c) || now > csd_not_after (c))
          {
            ferr_set (err, "csd_expired", "",
                      "the merchant's CSD is not in force",
                      "el CSD del comercio no está vigente");
            return NULL;
          }
        return c;
      }
  pthread_mutex_unlock (&cache_mu);

  /* Load outside the lock (decryption and key parsing take a while). */
  struct store_csd m;
  memset (&m, 0, sizeof m);
  enum store_status st = store_tenant_csd_get (s, t->id, &m);
  if (st != STORE_ONE)
    {
      store_csd_clear (&m);
      ferr_set (err, st == STORE_NONE ? "csd_missing" : "csd_unavailable", "",
                "the merchant's CSD cannot be read",
                "no se puede leer el CSD del comercio");
      return NULL;
    }
  struct csd *c = csd_load (m.cer, m.cer_len, m.key, m.key_len, m.password,
                            (time_t)now, err);
  store_csd_clear (&m);
  if (c == NULL)
    return NULL;

  pthread_mutex_lock (&cache_mu);
  struct csd_entry **pp = &csd_cache;
  while (*pp)
    {
      struct csd_entry *e = *pp;
      if (e->tenant_id == t->id)
        {
          *pp = e->next;
          e->next = csd_retired;
          csd_retired = e;
          continue;
        }
      pp = &e->next;
    }
  struct csd_entry *e = xcalloc (1, sizeof *e);
  e->tenant_id = t->id;
  snprintf (e->serial, sizeof e->serial, "%s", t->csd_serial);
  e->csd = c;
  e->next = csd_cache;
  csd_cache = e;
  pthread_mutex_unlock (&cache_mu);
  return c;
}

void
issue_set_default_stamp (const char *name)
{
  pthread_mutex_lock (&cache_mu);
  snprintf (default_stamp, sizeof default_stamp, "%s",
            name && *name ? name : "sandbox");
  pthread_mutex_unlock (&cache_mu);
}

const struct pac *
issue_pac (const char *name, struct ferr *err)
{
  pthread_mutex_lock (&cache_mu);
  char n[32];
  snprintf (n, sizeof n, "%s", name && *name ? name : default_stamp);
  for (struct pac_entry *e = pac_cache; e; e = e->next)
    if (strcmp (e->name, n) == 0)
      {
        pthread_mutex_unlock (&cache_mu);
        return e->pac;
      }
  /* Created under the lock: rare, and providers are cheap to make. */
  struct pac *p = pac_by_name (n, NULL, err);
  if (p)
    {
      struct pac_entry *e = xcalloc (1, sizeof *e);
      snprintf (e->name, sizeof e->name, "%s", n);
      e->pac = p;
      e->next = pac_cache;
      pac_cache = e;
    }
  pthread_mutex_unlock (&cache_mu);
  return p;
}

static void
free_csd_list (struct csd_entry *e)
{
  while (e)
    {
      struct csd_entry *n = e->next;
      csd_free (e->csd);
      free (e);
      e = n;
    }
}

void
issue_caches_free (void)
{
  pthread_mutex_lock (&cache_mu);
  free_csd_list (csd_cache);
  free_csd_list (csd_retired);
  csd_cache = csd_retired = NULL;
  for (struct pac_entry *e = pac_cache, *n; e; e = n)
    {
      n = e->next;
      pac_free (e->pac);
      free (e);
    }
  pac_cache = NULL;
  pthread_mutex_unlock (&cache_mu);
}

/* ================================================================== */
/* Receiver                                                            */
/* ================================================================== */

/* Counts UTF-8 code points; false on control characters or '|'. */
static bool
name_ok (const char *s, size_t max_chars)
{
  size_t n = 0;
  bool nonspace = false;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    {
      if (*p < 0x20 || *p == 0x7f || *p == '|')
        return false;
      if ((*p & 0xc0) != 0x80)
        n++;
      if (*p != ' ')
        nonspace = true;
    }
  return nonspace && n <= max_chars;
}

bool
issue_receiver_check (const struct issue_receiver *r, struct ferr *err)
{
  enum rfc_kind kind;
  if (r->rfc == NULL || r->rfc[0] == '\0')
    return ferr_set (err, "missing_field", "customer.tax_id",
                     "the RFC is required", "el RFC es obligatorio");
  if (!rfc_check_shape (r->rfc, &kind, err))
    {
      snprintf (err->field, sizeof err->field, "customer.tax_id");
      return false;
    }
  if (!r->accept_check_digit && !rfc_is_generic (kind)
      && !rfc_check (r->rfc, &kind, err))
    {
      snprintf (err->field, sizeof err->field, "customer.tax_id");
      return false;
    }
  if (r->name == NULL || !name_ok (r->name, 254))
    return ferr_set (err, r->name ? "invalid_field" : "missing_field",
                     "customer.legal_name",
                     "the name or company name is required (at most 254 "
                     "characters, as registered with SAT)",
                     "el nombre o razón social es obligatorio (hasta 254 "
                     "caracteres, como está registrado ante el SAT)");
  if (!rules_receiver (r->rfc, r->regime ? r->regime : "",
                       r->use ? r->use : "", r->zip ? r->zip : "", err))
    return false;
  if (r->n_emails > ISSUE_MAX_EMAILS)
    return ferr_set (err, "too_many_emails", "customer.email",
                     "at most %d e-mail addresses",
                     "como máximo %d direcciones de correo", ISSUE_MAX_EMAILS);
  for (size_t i = 0; i < r->n_emails; i++)
    if (r->emails[i] == NULL || !mail_address_valid (r->emails[i]))
      return ferr_set (err, "email_invalid", "customer.email",
                       "this e-mail address is not valid",
                       "esta dirección de correo no es válida");
  return true;
}

/* ================================================================== */
/* Issuing                                                             */
/* ================================================================== */

const char *
issue_result_code (enum issue_result r)
{
  static const char *const codes[] = {
    "issued",
    "existing",
    "invalid",
    "ticket_not_found",
    "ticket_cancelled",
    "ticket_expired",
    "ticket_in_global",
    "ticket_already_invoiced",
    "csd_missing",
    "stamp_rejected",
    "stamp_unavailable",
    "store_error",
    "internal_error",
  };
  return (unsigned)r < sizeof codes / sizeof codes[0] ? codes[r] : "?";
}

struct issue_tx
{
  int64_t tenant_id;
  const int64_t *ids; /* sorted, distinct */
  size_t n;
  const struct issue_receiver *r;
  const char *actor;
  const char *lang;
  int64_t now;
  enum issue_result result;
  struct issue_out *out;
};

static int
cmp_id (const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Sets the result and says "nothing written: commit". */
static enum store_status
refuse (struct issue_tx *x, enum issue_result r, int64_t ticket)
{
  x->result = r;
  x->out->ticket_id = ticket;
  return STORE_NONE;
}

/* Sets the result and says "undo everything". */
static enum store_status
fail (struct issue_tx *x, enum issue_result r, enum store_status st)
{
  x->result = r;
  x->out->store_status = st;
  return st == STORE_SOFT ? STORE_SOFT : STORE_HARD;
}

/* If every requested ticket is in invoice inv_id and that invoice holds
 * exactly these tickets, it is the answer (invariant 1: same answer). */
static enum store_status
existing (struct store *s, struct issue_tx *x, int64_t inv_id, bool *same)
{
  int64_t *ids = NULL;
  size_t n = 0;
  *same = false;
  enum store_status st
      = store_invoice_tickets (s, x->tenant_id, inv_id, &ids, &n);
  if (st < 0)
    return st;
  if (n == x->n)
    {
      qsort (ids, n, sizeof *ids, cmp_id);
      *same = memcmp (ids, x->ids, n * sizeof *ids) == 0;
    }
  free (ids);
  if (!*same)
    return STORE_ONE;
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  st = store_invoice_get (s, x->tenant_id, inv_id, false, &inv);
  if (st == STORE_ONE)
    {
      x->out->invoice_id = inv.id;
      snprintf (x->out->uuid, sizeof x->out->uuid, "%s", inv.uuid);
      snprintf (x->out->series, sizeof x->out->series, "%s", inv.series);
      x->out->folio = inv.folio;
    }
  store_invoice_clear (&inv);
  return st == STORE_NONE ? STORE_SOFT : st;
}

/* Builds the model from the tickets' stored items (the same
 * invoice_items_from_json + invoice_compute that produced their totals)
 * and checks that the totals agree. */
static bool
build_model (const struct store_tenant *t, const struct store_ticket *tk,
             size_t n, const struct issue_receiver *r, int64_t now,
             const struct tz *z, const char *zip, struct invoice *inv,
             struct ferr *err)
{
  inv->type = INVOICE_INGRESO;
  char date[TZ_ISO_MAX];
  tz_format_iso (z, now, date); /* Fecha: local time, without the offset */
  memcpy (inv->date, date, 19);
  inv->date[19] = '\0';
  inv->issuer.rfc = xstrdup (t->rfc);
  inv->issuer.name = xstrdup (t->name);
  inv->issuer.regime = xstrdup (t->regime);
  inv->issuer.zip = xstrdup (zip);
  inv->receiver.rfc = xstrdup (r->rfc ? r->rfc : "");
  inv->receiver.name = xstrdup (r->name ? r->name : "");
  inv->receiver.regime = xstrdup (r->regime ? r->regime : "");
  inv->receiver.zip = xstrdup (r->zip ? r->zip : "");
  inv->receiver.use = xstrdup (r->use ? r->use : "");
  strcpy (inv->payment_method, "PUE");
  snprintf (inv->currency, sizeof inv->currency, "%s", tk[0].currency);
  /* FormaPago: the form of the largest ticket (SAT: the one that paid
   * the most). */
  size_t big = 0;
  int64_t sum = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (tk[i].total > tk[big].total)
        big = i;
      if (!money_add (sum, tk[i].total, &sum))
        return ferr_set (err, "total_overflow", "tickets", "total overflow",
                         "el total se desborda");
      json_error_t je;
      json_t *items = json_loads (tk[i].items ? tk[i].items : "", 0, &je);
      bool ok = items && invoice_items_from_json (items, inv, err);
      json_decref (items);
      if (!ok)
        return false;
    }
  snprintf (inv->payment_form, sizeof inv->payment_form, "%s",
            tk[big].payment_form);
  if (!invoice_compute (inv, err))
    return false;
  if (inv->total != sum)
    return ferr_set (err, "ticket_total_mismatch", "tickets",
                     "the invoice total differs from the tickets' totals",
                     "el total de la factura difiere del de los tickets");
  return true;
}

/* LugarExpedicion: the branch's postal code when the invoice has one
 * ticket and its branch has one, else the tenant's. */
static void
expedition_zip (struct store *s, const struct store_tenant *t,
                const struct store_ticket *tk, size_t n, char zip[6])
{
  snprintf (zip, 6, "%s", t->zip);
  if (n == 1)
    {
      struct store_branch br;
      memset (&br, 0, sizeof br);
      if (store_branch_get (s, t->id, tk[0].branch_id, &br) == STORE_ONE
          && strlen (br.zip) == 5)
        snprintf (zip, 6, "%s", br.zip);
    }
}

bool
issue_preview (struct store *s, int64_t tenant_id, const int64_t *ticket_ids,
               size_t n, const struct issue_receiver *r, int64_t now,
               struct invoice *inv, struct ferr *err)
{
  if (n == 0 || n > ISSUE_MAX_TICKETS)
    return ferr_set (err, "invalid_field", "tickets",
                     "between 1 and %d tickets per invoice",
                     "entre 1 y %d tickets por factura", ISSUE_MAX_TICKETS);
  struct store_tenant t;
  store_tenant_init (&t);
  struct store_ticket *tk = xcalloc (n, sizeof *tk);
  int64_t *ids = xmalloc (n * sizeof *ids);
  memcpy (ids, ticket_ids, n * sizeof *ids);
  qsort (ids, n, sizeof *ids, cmp_id); /* the issuing order */
  bool ok = store_tenant_get (s, tenant_id, &t) == STORE_ONE;
  for (size_t i = 0; ok && i < n; i++)
    ok = store_ticket_get (s, tenant_id, ids[i], &tk[i]) == STORE_ONE;
  if (!ok)
    ferr_set (err, "ticket_not_found", "tickets", "ticket not found",
              "ticket no encontrado");
  else
    {
      char zip[6];
      expedition_zip (s, &t, tk, n, zip);
      const struct tz *z = tz_get (t.timezone, err);
      ok = z != NULL
           && build_model (&t, tk, n, r, now ? now : (int64_t)time (NULL), z,
                           zip, inv, err);
    }
  for (size_t i = 0; i < n; i++)
    store_ticket_clear (&tk[i]);
  free (tk);
  free (ids);
  store_tenant_clear (&t);
  return ok;
}

/* The folio store_series_next would give now (1 for a new series). */
static enum store_status
peek_folio (struct store *s, int64_t tenant_id, const char *series,
            int64_t *folio)
{
  struct store_series *a = NULL;
  size_t n = 0;
  enum store_status st = store_series_list (s, tenant_id, &a, &n);
  *folio = 1;
  for (size_t i = 0; st >= 0 && i < n; i++)
    if (strcmp (a[i].code, series) == 0)
      *folio = a[i].next_folio;
  free (a);
  return st < 0 ? st : STORE_ONE;
}

/* Puts series and folio into inv, builds and seals it with csd, stamps
 * it with pac.  ISSUE_OK with *xml and *stamp filled, else the result to
 * report (err filled, logged). */
static enum issue_result
seal_stamp (int64_t tenant_id, struct invoice *inv, const struct csd *csd,
            const struct pac *pac, const char *series, int64_t folio,
            struct buf *xml, struct pac_stamp *stamp, struct ferr *err)
{
  char folio_text[24];
  snprintf (folio_text, sizeof folio_text, "%lld", (long long)folio);
  free (inv->series);
  free (inv->folio);
  inv->series = xstrdup (series);
  inv->folio = xstrdup (folio_text);
  if (!cfdi_build_sealed (inv, csd, xml, NULL, err))
    {
      log_error ("issue: tenant %lld: seal failed: %s: %s",
                 (long long)tenant_id, err->code ? err->code : "?",
                 err->message);
      return ISSUE_FAILED;
    }
  enum pac_status ps = pac_stamp (pac, xml->data, xml->len, stamp, err);
  if (ps == PAC_OK)
    return ISSUE_OK;
  log_warn ("issue: tenant %lld: stamping (%s) %s: %s", (long long)tenant_id,
            pac->name, ps == PAC_RETRY ? "unavailable" : "rejected",
            err->message);
  return ps == PAC_RETRY ? ISSUE_STAMP_RETRY : ISSUE_STAMP_REJECTED;
}

static enum store_status
issue_tx_fn (struct store *s, void *arg)
{
  struct issue_tx *x = arg;
  struct issue_out *out = x->out;
  /* May run again after a transient error: start clean. */
  memset (out, 0, sizeof *out);
  x->result = ISSUE_FAILED;

  struct store_tenant t;
  store_tenant_init (&t);
  struct store_ticket *tk = xcalloc (x->n, sizeof *tk);
  struct invoice inv;
  invoice_init (&inv);
  struct buf xml = BUF_INIT;
  struct pac_stamp stamp;
  memset (&stamp, 0, sizeof stamp);
  enum store_status st;

  st = store_tenant_get (s, x->tenant_id, &t);
  if (st != STORE_ONE)
    {
      st = st == STORE_NONE ? refuse (x, ISSUE_NOT_FOUND, 0) : st;
      goto done;
    }
  const struct tz *z = tz_get (t.timezone, &out->err);
  if (z == NULL)
    {
      log_error ("issue: tenant %lld: %s", (long long)x->tenant_id,
                 out->err.message);
      st = refuse (x, ISSUE_FAILED, 0);
      goto done;
    }
  int periodicity = issue_periodicity_parse (t.periodicity);

  /* ---- (1) read and classify; nothing written ---- */
  int64_t invoiced_in = 0;
  size_t n_invoiced = 0;
  for (size_t i = 0; i < x->n; i++)
    {
      st = store_ticket_get (s, x->tenant_id, x->ids[i], &tk[i]);
      if (st != STORE_ONE)
        {
          st = st == STORE_NONE ? refuse (x, ISSUE_NOT_FOUND, x->ids[i]) : st;
          goto done;
        }
      if (tk[i].status == STORE_TICKET_INVOICED)
        {
          int64_t iid = 0;
          st = store_ticket_invoice (s, x->tenant_id, tk[i].id, &iid);
          if (st < 0)
            goto done;
          if (st == STORE_NONE || (invoiced_in && iid != invoiced_in))
            {
              st = refuse (x, ISSUE_INVOICED, tk[i].id);
              goto done;
            }
          invoiced_in = iid;
          n_invoiced++;
        }
    }
  if (n_invoiced > 0)
    {
      bool same = false;
      st = existing (s, x, invoiced_in, &same);
      if (st < 0)
        goto done;
      st = refuse (x, same ? ISSUE_EXISTING : ISSUE_INVOICED,
                   same ? 0 : x->ids[0]);
      if (same)
        out->ticket_id = 0;
      goto done;
    }
  for (size_t i = 0; i < x->n; i++)
    {
      if (tk[i].status == STORE_TICKET_CANCELLED)
        {
          st = refuse (x, ISSUE_CANCELLED, tk[i].id);
          goto done;
        }
      if (tk[i].status == STORE_TICKET_IN_GLOBAL)
        {
          st = refuse (x, ISSUE_IN_GLOBAL, tk[i].id);
          goto done;
        }
      int64_t end
          = issue_window_end (tk[i].date, t.window_days, periodicity, z);
      if (x->now >= end)
        {
          out->deadline = end;
          st = refuse (x, ISSUE_EXPIRED, tk[i].id);
          goto done;
        }
      if (strcmp (tk[i].currency, "MXN") != 0
          || strcmp (tk[i].currency, tk[0].currency) != 0)
        {
          ferr_set (&out->err, "ticket_currency", "tickets",
                    "only tickets in MXN can be self-invoiced",
                    "solo se pueden facturar tickets en MXN");
          st = refuse (x, ISSUE_INVALID, tk[i].id);
          goto done;
        }
    }
  const struct csd *csd = issue_csd (s, &t, x->now, &out->err);
  if (csd == NULL)
    {
      st = refuse (x, ISSUE_NO_CSD, 0);
      goto done;
    }
  const struct pac *pac = issue_pac (t.stamp, &out->err);
  if (pac == NULL)
    {
      st = refuse (x, ISSUE_STAMP_RETRY, 0);
      goto done;
    }
  char zip[6];
  expedition_zip (s, &t, tk, x->n, zip);
  if (!build_model (&t, tk, x->n, x->r, x->now, z, zip, &inv, &out->err))
    {
      log_error ("issue: tenant %lld: cannot build from tickets: %s (%s)",
                 (long long)x->tenant_id, out->err.message, out->err.field);
      st = refuse (x, ISSUE_FAILED, x->ids[0]);
      goto done;
    }

  /* On SQLite this transaction holds the database's single write lock
   * from its BEGIN IMMEDIATE (or from the enclosing grouped transaction's)
   * until it ends, so nothing can change meanwhile: the folio is read,
   * the document sealed and stamped, and only then is anything written —
   * a refusal by the provider leaves nothing to undo, even inside a
   * caller's transaction.  On PostgreSQL the claims come first: they are
   * the row locks that make a concurrent request for the ticket wait
   * instead of sealing too. */
  bool seal_first = store_dialect (s) == STORE_SQLITE;
  const char *series = t.series[0] ? t.series : "A";
  int64_t folio = 0;
  enum issue_result sr;
  if (seal_first)
    {
      st = peek_folio (s, x->tenant_id, series, &folio);
      if (st < 0)
        {
          st = fail (x, ISSUE_STORE_ERROR, st);
          goto done;
        }
      sr = seal_stamp (x->tenant_id, &inv, csd, pac, series, folio, &xml,
                       &stamp, &out->err);
      if (sr != ISSUE_OK)
        {
          st = refuse (x, sr, 0);
          goto done;
        }
    }

  /* ---- (2) claim: the compare-and-set that keeps invariant 1 ---- */
  for (size_t i = 0; i < x->n; i++)
    {
      st = store_ticket_set_status (s, x->tenant_id, tk[i].id,
                                    STORE_TICKET_OPEN, STORE_TICKET_INVOICED);
      if (st == STORE_NONE) /* someone else took it: read again */
        st = STORE_SOFT;
      if (st != STORE_ONE)
        {
          st = fail (x, ISSUE_STORE_ERROR, st);
          goto done;
        }
    }

  /* ---- (3) folio, seal, stamp, store ---- */
  int64_t taken = 0;
  st = store_series_ensure (s, x->tenant_id, series);
  if (st >= 0)
    st = store_series_next (s, x->tenant_id, series, &taken);
  if (st != STORE_ONE)
    {
      st = fail (x, ISSUE_STORE_ERROR, st == STORE_NONE ? STORE_HARD : st);
      goto done;
    }
  if (seal_first && taken != folio)
    {
      log_error ("issue: tenant %lld: folio %lld read, %lld taken",
                 (long long)x->tenant_id, (long long)folio, (long long)taken);
      st = fail (x, ISSUE_STORE_ERROR, STORE_SOFT);
      goto done;
    }
  folio = taken;
  if (!seal_first)
    {
      sr = seal_stamp (x->tenant_id, &inv, csd, pac, series, folio, &xml,
                       &stamp, &out->err);
      if (sr != ISSUE_OK)
        {
          st = fail (x, sr, STORE_HARD);
          goto done;
        }
    }

  struct store_invoice row;
  memset (&row, 0, sizeof row);
  snprintf (row.uuid, sizeof row.uuid, "%.36s", stamp.uuid);
  snprintf (row.series, sizeof row.series, "%s", series);
  row.folio = folio;
  strcpy (row.type, "I");
  snprintf (row.customer_rfc, sizeof row.customer_rfc, "%s", x->r->rfc);
  snprintf (row.customer_name, sizeof row.customer_name, "%s", x->r->name);
  if (x->r->n_emails > 0)
    snprintf (row.customer_email, sizeof row.customer_email, "%s",
              x->r->emails[0]);
  row.total = inv.total;
  snprintf (row.currency, sizeof row.currency, "%s", inv.currency);
  row.xml = (unsigned char *)stamp.xml; /* borrowed */
  row.xml_len = stamp.xml_len;
  st = store_invoice_insert (s, x->tenant_id, &row);
  row.xml = NULL;
  if (st != STORE_ONE)
    {
      st = fail (x, ISSUE_STORE_ERROR, st == STORE_NONE ? STORE_SOFT : st);
      goto done;
    }
  for (size_t i = 0; i < x->n; i++)
    {
      st = store_invoice_add_ticket (s, x->tenant_id, row.id, tk[i].id);
      if (st != STORE_ONE) /* NONE: linked elsewhere meanwhile — retry */
        {
          st = fail (x, ISSUE_STORE_ERROR, st == STORE_NONE ? STORE_SOFT : st);
          goto done;
        }
    }
  json_t *ids = json_array ();
  for (size_t i = 0; i < x->n; i++)
    {
      char b[24];
      snprintf (b, sizeof b, "%lld", (long long)tk[i].id);
      json_array_append_new (ids, json_string (b));
    }
  json_t *det
      = json_pack ("{s:o, s:s, s:s, s:I}", "tickets", ids, "uuid", row.uuid,
                   "series", series, "folio", (json_int_t)folio);
  char *detail = json_dumps (det, JSON_COMPACT);
  json_decref (det);
  st = store_event_add (s, x->tenant_id, row.id, x->now, "issued",
                        x->actor ? x->actor : "system", detail, NULL);
  free (detail);
  if (st != STORE_ONE)
    {
      st = fail (x, ISSUE_STORE_ERROR, st == STORE_NONE ? STORE_HARD : st);
      goto done;
    }
  if (x->r->n_emails > 0)
    {
      int64_t job = 0;
      st = mail_enqueue_invoice (s, x->tenant_id, row.id, x->r->emails,
                                 x->r->n_emails, x->lang,
                                 x->actor ? x->actor : "system", &job);
      if (st < 0)
        {
          st = fail (x, ISSUE_STORE_ERROR, st);
          goto done;
        }
      if (st == STORE_NONE)
        log_warn ("issue: invoice %lld: mail not queued", (long long)row.id);
    }
  out->invoice_id = row.id;
  snprintf (out->uuid, sizeof out->uuid, "%s", row.uuid);
  snprintf (out->series, sizeof out->series, "%s", series);
  out->folio = folio;
  store_invoice_clear (&row);
  x->result = ISSUE_OK;
  st = STORE_ONE;

done:
  pac_stamp_clear (&stamp);
  buf_free (&xml);
  invoice_free (&inv);
  for (size_t i = 0; i < x->n; i++)
    store_ticket_clear (&tk[i]);
  free (tk);
  store_tenant_clear (&t);
  return st;
}

/* SQLite admits one writer; writers that find the lock taken sleep in
 * its busy handler (1, 2, 5 … 100 ms steps), which makes concurrent
 * issuing slow and uneven.  Issuing calls that open their own transaction
 * queue on this mutex instead (calls joining a caller's transaction must
 * not: the caller may already hold the write lock). */
static pthread_mutex_t sqlite_writer = PTHREAD_MUTEX_INITIALIZER;

void
issue_writer_lock (struct store *s)
{
  if (store_dialect (s) == STORE_SQLITE)
    pthread_mutex_lock (&sqlite_writer);
}

void
issue_writer_unlock (struct store *s)
{
  if (store_dialect (s) == STORE_SQLITE)
    pthread_mutex_unlock (&sqlite_writer);
}

static enum issue_result issue_common (struct store *s, int64_t tenant_id,
                                       const int64_t *ticket_ids, size_t n,
                                       const struct issue_receiver *r,
                                       const char *actor, const char *lang,
                                       int64_t now, struct issue_out *out,
                                       bool own_tx);

enum issue_result
issue_invoice_for_tickets (struct store *s, int64_t tenant_id,
                           const int64_t *ticket_ids, size_t n,
                           const struct issue_receiver *r, const char *actor,
                           const char *lang, int64_t now,
                           struct issue_out *out)
{
  return issue_common (s, tenant_id, ticket_ids, n, r, actor, lang, now, out,
                       true);
}

enum issue_result
issue_invoice_for_tickets_tx (struct store *s, int64_t tenant_id,
                              const int64_t *ticket_ids, size_t n,
                              const struct issue_receiver *r,
                              const char *actor, const char *lang, int64_t now,
                              struct issue_out *out)
{
  return issue_common (s, tenant_id, ticket_ids, n, r, actor, lang, now, out,
                       false);
}

static enum issue_result
issue_common (struct store *s, int64_t tenant_id, const int64_t *ticket_ids,
              size_t n, const struct issue_receiver *r, const char *actor,
              const char *lang, int64_t now, struct issue_out *out,
              bool own_tx)
{
  memset (out, 0, sizeof *out);
  if (n == 0 || n > ISSUE_MAX_TICKETS)
    {
      ferr_set (&out->err, "invalid_field", "tickets",
                "between 1 and %d tickets per invoice",
                "entre 1 y %d tickets por factura", ISSUE_MAX_TICKETS);
      return ISSUE_INVALID;
    }
  if (!issue_receiver_check (r, &out->err))
    return ISSUE_INVALID;
  int64_t *ids = xmalloc (n * sizeof *ids);
  memcpy (ids, ticket_ids, n * sizeof *ids);
  qsort (ids, n, sizeof *ids, cmp_id);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (m == 0 || ids[m - 1] != ids[i])
      ids[m++] = ids[i];
  struct issue_tx x = { .tenant_id = tenant_id,
                        .ids = ids,
                        .n = m,
                        .r = r,
                        .actor = actor,
                        .lang = lang,
                        .now = now ? now : (int64_t)time (NULL),
                        .result = ISSUE_STORE_ERROR, /* until fn runs */
                        .out = out };
  bool serial = own_tx && store_dialect (s) == STORE_SQLITE;
  if (serial)
    pthread_mutex_lock (&sqlite_writer);
  enum store_status st = store_tx (s, issue_tx_fn, &x);
  if (serial)
    pthread_mutex_unlock (&sqlite_writer);
  free (ids);
  if (st < 0
      && (x.result == ISSUE_OK || x.result == ISSUE_STORE_ERROR
          || x.result == ISSUE_EXISTING))
    {
      /* The commit (or a retry) failed after fn had finished. */
      out->store_status = st;
      out->invoice_id = 0;
      out->uuid[0] = '\0';
      return ISSUE_STORE_ERROR;
    }
  if (x.result == ISSUE_OK)
    log_info ("issue: tenant %lld: invoice %lld %s-%lld uuid %s (%zu "
              "ticket(s))",
              (long long)tenant_id, (long long)out->invoice_id, out->series,
              (long long)out->folio, out->uuid, m);
  return x.result;
}
