/*
 * global.c — the global invoice to the general public (see global.h):
 * the command, the per-period issuing and the periodic job.
 *
 * Anexo 20, Guía de llenado, "Factura global": receptor XAXX010101000
 * PUBLICO EN GENERAL, régimen 616, uso S01, DomicilioFiscalReceptor = the
 * LugarExpedicion; InformacionGlobal with Periodicidad, Meses and Año;
 * one concepto per ticket (NoIdentificacion = the ticket's number,
 * ClaveProdServ 01010101, ClaveUnidad ACT, Descripcion "Venta",
 * Cantidad 1, ValorUnitario = the ticket's amount before taxes); a
 * ticket whose items carry different tax rates becomes one concepto per
 * rate, all with the same NoIdentificacion.
 *
 * One transaction, like the shopper's invoice (api/issue.c): list the
 * period's open tickets, keep those whose window ended, claim them with
 * the compare-and-set open -> in_global in ascending id order (a ticket
 * a concurrent request or process took meanwhile is simply left out),
 * take the folio, build with the streaming builder, seal, stamp, store,
 * link.  Any failure after the claims rolls everything back.
 *
 * Workload: a month of a busy shop is tens of thousands of tickets.  The
 * conceptos are kept in a compact array (no item JSON, no strings but the
 * ticket number); the XML is streamed by cfdi_build_global.
 */
#include "jobs/global.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cfdi/build.h"
#include "cfdi/csd.h"
#include "cfdi/pac.h"
#include "core/invoice.h"
#include "core/ticket.h"
#include "http/http.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/tz.h"

/* One concepto of the global invoice (a ticket, or one tax group of it). */
struct gconcept
{
  size_t ticket;      /* index into gtx.tickets */
  int64_t price;      /* ValorUnitario: Σ net Importe of the group */
  int64_t discount;   /* Σ Descuento of the group */
  char tax_object[3]; /* ObjetoImp of the group */
  size_t n_taxes;
  struct invoice_tax taxes[INVOICE_MAX_ITEM_TAXES]; /* rates only */
};

struct gticket
{
  int64_t id;
  char sku[100]; /* NoIdentificacion: BRANCH-FOLIO */
  char payment_form[3];
  int64_t total; /* micros */
  bool claimed;
};

struct gtx
{
  int64_t tenant_id;
  const struct issue_period *per;
  int64_t now;
  const char *actor;
  struct global_result *out;
  struct ferr *err;
  enum global_status result;
  struct gticket *tickets;
  size_t n_tickets, cap_tickets;
  struct gconcept *concepts;
  size_t n_concepts, cap_concepts;
  size_t *order; /* indexes of the concepts of claimed tickets */
  size_t n_order;
};

static void
gtx_reset (struct gtx *x)
{
  free (x->tickets);
  free (x->concepts);
  free (x->order);
  x->tickets = NULL;
  x->concepts = NULL;
  x->order = NULL;
  x->n_tickets = x->cap_tickets = x->n_concepts = x->cap_concepts = 0;
  x->n_order = 0;
}

static bool
same_taxes (const struct gconcept *c, const struct invoice_item *it,
            const char *obj)
{
  if (c->n_taxes != it->n_taxes || strcmp (c->tax_object, obj) != 0)
    return false;
  for (size_t i = 0; i < c->n_taxes; i++)
    if (c->taxes[i].kind != it->taxes[i].kind
        || c->taxes[i].factor != it->taxes[i].factor
        || c->taxes[i].rate != it->taxes[i].rate
        || c->taxes[i].withholding != it->taxes[i].withholding)
      return false;
  return true;
}

/* Adds ticket row t and its conceptos (items computed by the same code
 * that computed the ticket, grouped by tax combination).  False if its
 * items do not read back (logged; the ticket is left out). */
static bool
add_ticket (struct gtx *x, const struct store_ticket *t)
{
  struct invoice inv;
  invoice_init (&inv);
  struct ferr e;
  memset (&e, 0, sizeof e);
  json_error_t je;
  json_t *items = json_loads (t->items ? t->items : "", 0, &je);
  strcpy (inv.currency, "MXN");
  bool ok = items && invoice_items_from_json (items, &inv, &e)
            && invoice_compute (&inv, &e);
  json_decref (items);
  if (!ok)
    {
      log_error ("global: tenant %lld: ticket %lld unreadable: %s",
                 (long long)x->tenant_id, (long long)t->id, e.message);
      invoice_free (&inv);
      return false;
    }
  if (x->n_tickets == x->cap_tickets)
    {
      x->cap_tickets = x->cap_tickets ? 2 * x->cap_tickets : 256;
      x->tickets = xrealloc (x->tickets, x->cap_tickets * sizeof *x->tickets);
    }
  size_t ti = x->n_tickets++;
  struct gticket *g = &x->tickets[ti];
  memset (g, 0, sizeof *g);
  g->id = t->id;
  snprintf (g->sku, sizeof g->sku, "%s%s%s", t->branch_code,
            t->branch_code[0] ? "-" : "", t->folio_number);
  snprintf (g->payment_form, sizeof g->payment_form, "%s", t->payment_form);
  g->total = t->total;
  size_t first = x->n_concepts;
  for (size_t i = 0; i < inv.n_items; i++)
    {
      const struct invoice_item *it = &inv.items[i];
      const char *obj = it->tax_object[0] ? it->tax_object
                        : it->n_taxes     ? "02"
                                          : "01";
      struct gconcept *c = NULL;
      for (size_t k = first; k < x->n_concepts; k++)
        if (same_taxes (&x->concepts[k], it, obj))
          c = &x->concepts[k];
      if (c == NULL)
        {
          if (x->n_concepts == x->cap_concepts)
            {
              x->cap_concepts = x->cap_concepts ? 2 * x->cap_concepts : 256;
              x->concepts = xrealloc (x->concepts,
                                      x->cap_concepts * sizeof *x->concepts);
            }
          c = &x->concepts[x->n_concepts++];
          memset (c, 0, sizeof *c);
          c->ticket = ti;
          snprintf (c->tax_object, sizeof c->tax_object, "%s", obj);
          c->n_taxes = it->n_taxes;
          for (size_t k = 0; k < it->n_taxes; k++)
            {
              c->taxes[k] = it->taxes[k];
              c->taxes[k].base = c->taxes[k].amount = 0;
            }
        }
      c->price += it->amount;
      c->discount += it->discount_net;
    }
  invoice_free (&inv);
  return true;
}

/* cfdi_concept_fn over the claimed tickets' conceptos. */
static int
next_concept (void *arg, size_t index, struct invoice_item *it,
              struct ferr *err)
{
  struct gtx *x = arg;
  (void)err;
  if (index >= x->n_order)
    return 0;
  const struct gconcept *c = &x->concepts[x->order[index]];
  it->price = c->price;
  it->discount = c->discount;
  it->sku = xstrdup (x->tickets[c->ticket].sku);
  memcpy (it->tax_object, c->tax_object, sizeof it->tax_object);
  it->n_taxes = c->n_taxes;
  memcpy (it->taxes, c->taxes, c->n_taxes * sizeof c->taxes[0]);
  return 1;
}

static int
cmp_ticket (const void *a, const void *b)
{
  const struct gticket *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

static enum store_status
refuse (struct gtx *x, enum global_status r)
{
  x->result = r;
  return STORE_NONE;
}

static enum store_status
fail (struct gtx *x, enum global_status r, enum store_status st)
{
  x->result = r;
  return st == STORE_SOFT ? STORE_SOFT : STORE_HARD;
}

static enum store_status
global_tx_fn (struct store *s, void *arg)
{
  struct gtx *x = arg;
  struct global_result *out = x->out;
  memset (out, 0, sizeof *out);
  gtx_reset (x);
  x->result = GLOBAL_FAILED;

  struct store_tenant t;
  store_tenant_init (&t);
  struct invoice h;
  invoice_init (&h);
  struct buf xml = BUF_INIT;
  struct pac_stamp stamp;
  memset (&stamp, 0, sizeof stamp);
  enum store_status st = store_tenant_get (s, x->tenant_id, &t);
  if (st != STORE_ONE)
    {
      st = st == STORE_NONE ? refuse (x, GLOBAL_FAILED) : st;
      goto done;
    }
  const struct tz *z = tz_get (t.timezone, x->err);
  if (z == NULL)
    {
      st = refuse (x, GLOBAL_FAILED);
      goto done;
    }
  int periodicity = issue_periodicity_parse (t.periodicity);
  const struct csd *csd = issue_csd (s, &t, x->now, x->err);
  if (csd == NULL)
    {
      st = refuse (x, GLOBAL_NO_CSD);
      goto done;
    }
  const struct pac *pac = issue_pac (t.stamp, x->err);
  if (pac == NULL)
    {
      st = refuse (x, GLOBAL_STAMP_RETRY);
      goto done;
    }

  /* ---- the period's open tickets whose window ended ---- */
  struct store_ticket_filter f;
  memset (&f, 0, sizeof f);
  f.date_from = x->per->start;
  f.date_to = x->per->end;
  f.status = STORE_TICKET_OPEN;
  f.limit = 500;
  for (;;)
    {
      struct store_ticket *rows = NULL;
      size_t n = 0;
      int64_t next = 0;
      st = store_ticket_list (s, x->tenant_id, &f, &rows, &n, &next);
      if (st < 0)
        goto done;
      for (size_t i = 0; i < n; i++)
        {
          const struct store_ticket *r = &rows[i];
          if (x->now
                  < issue_window_end (r->date, t.window_days, periodicity, z)
              || strcmp (r->currency, "MXN") != 0 || !add_ticket (x, r))
            out->n_skipped++;
        }
      store_ticket_list_free (rows, n);
      if (next == 0)
        break;
      f.cursor = next;
    }
  if (x->n_tickets == 0)
    {
      st = refuse (x, GLOBAL_EMPTY);
      goto done;
    }

  /* ---- claim, ascending ids (the lock order every writer uses) ---- */
  /* Sorting moves tickets: remember each concepto's ticket by id. */
  int64_t *cid = xmalloc (x->n_concepts * sizeof *cid);
  for (size_t k = 0; k < x->n_concepts; k++)
    cid[k] = x->tickets[x->concepts[k].ticket].id;
  qsort (x->tickets, x->n_tickets, sizeof *x->tickets, cmp_ticket);
  size_t claimed = 0;
  for (size_t i = 0; i < x->n_tickets; i++)
    {
      st = store_ticket_set_status (s, x->tenant_id, x->tickets[i].id,
                                    STORE_TICKET_OPEN, STORE_TICKET_IN_GLOBAL);
      if (st < 0)
        {
          free (cid);
          st = fail (x, GLOBAL_STORE_ERROR, st);
          goto done;
        }
      x->tickets[i].claimed = st == STORE_ONE; /* NONE: taken meanwhile */
      claimed += x->tickets[i].claimed;
    }
  /* Concepts in ticket order, only the claimed tickets'. */
  x->order = xmalloc ((x->n_concepts ? x->n_concepts : 1) * sizeof *x->order);
  for (size_t i = 0; i < x->n_tickets; i++)
    if (x->tickets[i].claimed)
      for (size_t k = 0; k < x->n_concepts; k++)
        if (cid[k] == x->tickets[i].id)
          {
            x->concepts[k].ticket = i;
            x->order[x->n_order++] = k;
          }
  free (cid);
  if (claimed == 0)
    {
      /* Nothing was written (every compare-and-set matched no row). */
      st = refuse (x, GLOBAL_EMPTY);
      goto done;
    }

  /* ---- folio, build (streamed), seal, stamp ---- */
  const char *series = t.series[0] ? t.series : "A";
  int64_t folio = 0;
  st = store_series_ensure (s, x->tenant_id, series);
  if (st >= 0)
    st = store_series_next (s, x->tenant_id, series, &folio);
  if (st != STORE_ONE)
    {
      st = fail (x, GLOBAL_STORE_ERROR, st == STORE_NONE ? STORE_HARD : st);
      goto done;
    }
  char folio_text[24], date[TZ_ISO_MAX];
  snprintf (folio_text, sizeof folio_text, "%lld", (long long)folio);
  h.type = INVOICE_INGRESO;
  h.series = xstrdup (series);
  h.folio = xstrdup (folio_text);
  tz_format_iso (z, x->now, date); /* Fecha: local, without the offset */
  memcpy (h.date, date, 19);
  h.date[19] = '\0';
  h.issuer.rfc = xstrdup (t.rfc);
  h.issuer.name = xstrdup (t.name);
  h.issuer.regime = xstrdup (t.regime);
  h.issuer.zip = xstrdup (t.zip);
  strcpy (h.payment_method, "PUE");
  strcpy (h.currency, "MXN");
  h.global.present = true;
  snprintf (h.global.periodicity, sizeof h.global.periodicity, "%02d",
            x->per->periodicity);
  memcpy (h.global.months, x->per->months, sizeof h.global.months);
  h.global.year = x->per->year;
  /* FormaPago: the form that received the most money. */
  {
    struct
    {
      char form[3];
      int64_t sum;
    } forms[32];
    size_t nf = 0, best = 0;
    for (size_t i = 0; i < x->n_tickets; i++)
      {
        if (!x->tickets[i].claimed)
          continue;
        size_t k;
        for (k = 0; k < nf; k++)
          if (strcmp (forms[k].form, x->tickets[i].payment_form) == 0)
            break;
        if (k == nf && nf < 32)
          {
            memcpy (forms[nf].form, x->tickets[i].payment_form, 3);
            forms[nf++].sum = 0;
          }
        if (k < nf)
          forms[k].sum += x->tickets[i].total;
      }
    for (size_t k = 1; k < nf; k++)
      if (forms[k].sum > forms[best].sum)
        best = k;
    memcpy (h.payment_form, nf ? forms[best].form : "01", 3);
  }
  size_t count = 0;
  if (!cfdi_build_global (&h, csd, next_concept, x, cfdi_write_buf, &xml,
                          &count, x->err))
    {
      log_error ("global: tenant %lld: build failed: %s: %s (%s)",
                 (long long)x->tenant_id, x->err->code ? x->err->code : "?",
                 x->err->message, x->err->field);
      st = fail (x, GLOBAL_FAILED, STORE_HARD);
      goto done;
    }
  enum pac_status ps = pac_stamp (pac, xml.data, xml.len, &stamp, x->err);
  if (ps != PAC_OK)
    {
      log_warn ("global: tenant %lld: stamping (%s) %s: %s",
                (long long)x->tenant_id, pac->name,
                ps == PAC_RETRY ? "unavailable" : "rejected", x->err->message);
      st = fail (x,
                 ps == PAC_RETRY ? GLOBAL_STAMP_RETRY : GLOBAL_STAMP_REJECTED,
                 STORE_HARD);
      goto done;
    }

  /* ---- store, link, event ---- */
  struct store_invoice row;
  memset (&row, 0, sizeof row);
  snprintf (row.uuid, sizeof row.uuid, "%.36s", stamp.uuid);
  snprintf (row.series, sizeof row.series, "%s", series);
  row.folio = folio;
  strcpy (row.type, "I");
  strcpy (row.customer_rfc, "XAXX010101000");
  strcpy (row.customer_name, "PUBLICO EN GENERAL");
  row.total = h.total;
  strcpy (row.currency, "MXN");
  row.xml = (unsigned char *)stamp.xml; /* borrowed */
  row.xml_len = stamp.xml_len;
  st = store_invoice_insert (s, x->tenant_id, &row);
  row.xml = NULL;
  if (st != STORE_ONE)
    {
      st = fail (x, GLOBAL_STORE_ERROR, st == STORE_NONE ? STORE_SOFT : st);
      goto done;
    }
  for (size_t i = 0; i < x->n_tickets; i++)
    if (x->tickets[i].claimed)
      {
        st = store_invoice_add_ticket (s, x->tenant_id, row.id,
                                       x->tickets[i].id);
        if (st != STORE_ONE)
          {
            store_invoice_clear (&row);
            st = fail (x, GLOBAL_STORE_ERROR,
                       st == STORE_NONE ? STORE_SOFT : st);
            goto done;
          }
      }
  json_t *det
      = json_pack ("{s:s, s:s, s:I, s:s, s:I}", "global", x->per->label,
                   "uuid", row.uuid, "tickets", (json_int_t)claimed, "series",
                   series, "folio", (json_int_t)folio);
  char *detail = json_dumps (det, JSON_COMPACT);
  json_decref (det);
  st = store_event_add (s, x->tenant_id, row.id, x->now, "issued",
                        x->actor ? x->actor : "job", detail, NULL);
  free (detail);
  if (st != STORE_ONE)
    {
      store_invoice_clear (&row);
      st = fail (x, GLOBAL_STORE_ERROR, st == STORE_NONE ? STORE_HARD : st);
      goto done;
    }
  out->invoice_id = row.id;
  snprintf (out->uuid, sizeof out->uuid, "%s", row.uuid);
  snprintf (out->series, sizeof out->series, "%s", series);
  out->folio = folio;
  out->n_tickets = claimed;
  out->n_concepts = count;
  out->n_skipped += x->n_tickets - claimed;
  out->total = h.total;
  store_invoice_clear (&row);
  x->result = GLOBAL_OK;
  st = STORE_ONE;

done:
  pac_stamp_clear (&stamp);
  buf_free (&xml);
  invoice_free (&h);
  store_tenant_clear (&t);
  return st;
}

enum global_status
global_invoice_issue (struct store *s, int64_t tenant_id,
                      const struct issue_period *per, int64_t now,
                      const char *actor, struct global_result *out,
                      struct ferr *err)
{
  struct ferr dummy;
  if (err == NULL)
    err = &dummy;
  memset (err, 0, sizeof *err);
  struct gtx x = { .tenant_id = tenant_id,
                   .per = per,
                   .now = now ? now : (int64_t)time (NULL),
                   .actor = actor,
                   .out = out,
                   .err = err,
                   .result = GLOBAL_STORE_ERROR };
  issue_writer_lock (s);
  enum store_status st = store_tx (s, global_tx_fn, &x);
  issue_writer_unlock (s);
  gtx_reset (&x);
  if (st < 0
      && (x.result == GLOBAL_OK || x.result == GLOBAL_EMPTY
          || x.result == GLOBAL_STORE_ERROR))
    {
      memset (out, 0, sizeof *out);
      return GLOBAL_STORE_ERROR;
    }
  if (x.result == GLOBAL_OK)
    log_info ("global: tenant %lld: period %s: invoice %lld %s-%lld uuid %s "
              "(%zu tickets, %zu conceptos)",
              (long long)tenant_id, per->label, (long long)out->invoice_id,
              out->series, (long long)out->folio, out->uuid, out->n_tickets,
              out->n_concepts);
  return x.result;
}

/* ------------------------------------------------------------------ */
/* The periodic job                                                   */
/* ------------------------------------------------------------------ */

int
global_invoice_tick (struct store *s, int64_t now)
{
  if (now == 0)
    now = (int64_t)time (NULL);
  struct store_tenant *ts = NULL;
  size_t n = 0;
  if (store_tenant_list (s, &ts, &n) < 0)
    return -1;
  int issued = 0;
  for (size_t i = 0; i < n; i++)
    {
      const struct store_tenant *t = &ts[i];
      if (!t->has_csd)
        continue;
      int p = issue_periodicity_parse (t->periodicity);
      struct ferr ze;
      memset (&ze, 0, sizeof ze);
      const struct tz *z = tz_get (t->timezone, &ze);
      if (z == NULL)
        {
          log_error ("global: tenant %s: %s", t->slug, ze.message);
          continue;
        }
      struct issue_period cur, prev, prev2;
      if (p == 0 || !issue_period_of (p, now, z, &cur)
          || !issue_period_of (p, cur.start - 1, z, &prev)
          || !issue_period_of (p, prev.start - 1, z, &prev2))
        continue;
      const struct issue_period *todo[2] = { &prev2, &prev };
      for (int k = 0; k < 2; k++)
        {
          struct global_result r;
          struct ferr e;
          enum global_status gs
              = global_invoice_issue (s, t->id, todo[k], now, "job", &r, &e);
          if (gs == GLOBAL_OK)
            issued++;
          else if (gs != GLOBAL_EMPTY)
            log_warn ("global job: tenant %s period %s: status %d %s", t->slug,
                      todo[k]->label, (int)gs, e.code ? e.code : "");
        }
    }
  store_tenant_list_free (ts, n);
  return issued;
}

struct global_job
{
  struct store *s;
  unsigned interval;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
};

static void *
job_main (void *arg)
{
  struct global_job *j = arg;
  /* The first tick waits a whole interval too: a server restarted in a
   * loop must not issue on every start, and the job runs from cron
   * (`global-invoice --auto`) for whoever wants it at a set hour. */
  unsigned wait = j->interval;
  pthread_mutex_lock (&j->mu);
  while (!j->stop)
    {
      struct timespec ts;
      clock_gettime (CLOCK_REALTIME, &ts);
      ts.tv_sec += wait;
      while (!j->stop
             && pthread_cond_timedwait (&j->cv, &j->mu, &ts) != ETIMEDOUT)
        ;
      if (j->stop)
        break;
      pthread_mutex_unlock (&j->mu);
      int r = global_invoice_tick (j->s, 0);
      if (r > 0)
        log_info ("global job: %d global invoice(s) issued", r);
      pthread_mutex_lock (&j->mu);
      wait = j->interval;
    }
  pthread_mutex_unlock (&j->mu);
  return NULL;
}

struct global_job *
global_job_start (struct store *s, unsigned interval_s)
{
  struct global_job *j = xcalloc (1, sizeof *j);
  j->s = s;
  j->interval = interval_s ? interval_s : 600;
  pthread_mutex_init (&j->mu, NULL);
  pthread_cond_init (&j->cv, NULL);
  if (pthread_create (&j->th, NULL, job_main, j) != 0)
    {
      pthread_mutex_destroy (&j->mu);
      pthread_cond_destroy (&j->cv);
      free (j);
      return NULL;
    }
  return j;
}

void
global_job_stop (struct global_job *j)
{
  if (j == NULL)
    return;
  pthread_mutex_lock (&j->mu);
  j->stop = true;
  pthread_cond_signal (&j->cv);
  pthread_mutex_unlock (&j->mu);
  pthread_join (j->th, NULL);
  pthread_mutex_destroy (&j->mu);
  pthread_cond_destroy (&j->cv);
  free (j);
}

/* ------------------------------------------------------------------ */
/* facturo global-invoice                                             */
/* ------------------------------------------------------------------ */

static void
usage (FILE *f)
{
  fputs ("usage: facturo global-invoice --tenant SLUG --period PERIOD "
         "[--db URL]\n"
         "       facturo global-invoice --auto [--db URL]\n"
         "Issues the global invoice (público en general) of PERIOD: every\n"
         "ticket dated in it that nobody invoiced, that is not cancelled\n"
         "and whose self-invoicing window has ended.  PERIOD follows the\n"
         "tenant's periodicity:\n"
         "  daily 2026-11-24   weekly 2026-W48 (ISO week)\n"
         "  fortnightly 2026-11-1 (days 1-15) or 2026-11-2 (16-end)\n"
         "  monthly 2026-11    bimonthly 2026-11/12\n"
         "--auto does what the server's job does: the last ended period(s)\n"
         "of every tenant with a CSD.  --db defaults to FACTURO_DB, else\n"
         "sqlite:./facturo.db.  See docs/global-invoice.md.\n",
         f);
}

int
cmd_global_invoice (int argc, char **argv)
{
  const char *slug = NULL, *period = NULL, *db = getenv ("FACTURO_DB");
  bool autorun = false;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
      if (strcmp (a, "--auto") == 0)
        autorun = true;
      else if (strcmp (a, "--tenant") == 0 && i + 1 < argc)
        slug = argv[++i];
      else if (strcmp (a, "--period") == 0 && i + 1 < argc)
        period = argv[++i];
      else if (strcmp (a, "--db") == 0 && i + 1 < argc)
        db = argv[++i];
      else
        {
          fprintf (stderr,
                   "facturo global-invoice: unexpected argument "
                   "'%s' (see --help)\n",
                   a);
          return 2;
        }
    }
  if (!autorun && (slug == NULL || period == NULL))
    {
      fprintf (stderr, "facturo global-invoice: --tenant and --period are "
                       "required (or --auto)\n");
      return 2;
    }
  if (sodium_init () < 0)
    return 1;
  struct ferr e;
  memset (&e, 0, sizeof e);
  struct store *s = store_open (db && *db ? db : "sqlite:./facturo.db", &e);
  if (s == NULL)
    {
      fprintf (stderr,
               "facturo global-invoice: cannot open the database: "
               "%s\n",
               e.message);
      return 1;
    }
  int rc = 1;
  if (autorun)
    {
      int n = global_invoice_tick (s, 0);
      if (n >= 0)
        {
          printf ("%d global invoice(s) issued\n", n);
          rc = 0;
        }
      else
        fprintf (stderr, "facturo global-invoice: cannot list tenants\n");
      goto out;
    }
  struct store_tenant t;
  store_tenant_init (&t);
  enum store_status st = store_tenant_find_slug (s, slug, &t);
  if (st != STORE_ONE)
    {
      fprintf (stderr, "facturo global-invoice: %s\n",
               st == STORE_NONE ? "no tenant has this slug"
                                : "cannot read the tenant");
      rc = st == STORE_NONE ? 2 : 1;
      store_tenant_clear (&t);
      goto out;
    }
  struct ferr ze;
  memset (&ze, 0, sizeof ze);
  const struct tz *z = tz_get (t.timezone, &ze);
  if (z == NULL)
    {
      fprintf (stderr, "facturo global-invoice: tenant %s: %s\n", slug,
               ze.message);
      store_tenant_clear (&t);
      goto out;
    }
  int p = issue_periodicity_parse (t.periodicity);
  struct issue_period per;
  static const char *const examples[]
      = { "", "2026-11-24", "2026-W48", "2026-11-1", "2026-11", "2026-11/12" };
  if (p == 0 || !issue_period_parse (p, period, z, &per))
    {
      fprintf (stderr,
               "facturo global-invoice: '%s' is not a period of tenant %s's "
               "periodicity (%s; e.g. %s)\n",
               period, slug, t.periodicity[0] ? t.periodicity : "04",
               examples[p ? p : ISSUE_MONTHLY]);
      store_tenant_clear (&t);
      rc = 2;
      goto out;
    }
  struct global_result r;
  enum global_status gs
      = global_invoice_issue (s, t.id, &per, 0, "cli", &r, &e);
  switch (gs)
    {
    case GLOBAL_OK:
      {
        char total[MONEY_BUFSZ];
        printf ("global invoice %lld %s-%lld uuid %s: period %s, %zu "
                "ticket(s), %zu concepto(s), total %s MXN",
                (long long)r.invoice_id, r.series, (long long)r.folio, r.uuid,
                per.label, r.n_tickets, r.n_concepts,
                money_format (r.total, 2, total));
        if (r.n_skipped)
          printf (" (%zu ticket(s) left out: window not ended or not MXN)",
                  r.n_skipped);
        printf ("\n");
        rc = 0;
        break;
      }
    case GLOBAL_EMPTY:
      printf ("period %s of %s: no ticket to include (none open whose "
              "self-invoicing window has ended); no invoice issued",
              per.label, slug);
      if (r.n_skipped)
        printf ("; %zu ticket(s) still within their window or not in MXN",
                r.n_skipped);
      printf ("\n");
      rc = 0;
      break;
    case GLOBAL_NO_CSD:
      fprintf (stderr, "facturo global-invoice: %s\n", e.message);
      rc = 1;
      break;
    case GLOBAL_STAMP_RETRY:
    case GLOBAL_STAMP_REJECTED:
      fprintf (stderr, "facturo global-invoice: stamping failed: %s\n",
               e.message);
      rc = 1;
      break;
    case GLOBAL_STORE_ERROR:
      fprintf (stderr, "facturo global-invoice: database error; nothing "
                       "was written\n");
      rc = 1;
      break;
    default:
      fprintf (stderr,
               "facturo global-invoice: cannot build the invoice: "
               "%s\n",
               e.message[0] ? e.message : "internal error");
      rc = 1;
    }
  store_tenant_clear (&t);
out:
  issue_caches_free ();
  store_close (s);
  return rc;
}
