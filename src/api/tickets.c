/*
 * tickets.c — /v1/tickets: what a point of sale pushes.
 *
 *   POST /v1/tickets               create (201; idempotent with a key)
 *   GET  /v1/tickets               list: date_from, date_to, branch, status,
 *                                  limit, cursor (newest first)
 *   GET  /v1/tickets/{id}          one ticket with items and taxes
 *   POST /v1/tickets/{id}/cancel   open -> cancelled (409 otherwise)
 *
 * Parsing and arithmetic are core/ticket.c's (the same code the invoice
 * uses); this file maps JSON and store rows.  A ticket's answer is only
 * sent after its transaction committed (synchronous=FULL on SQLite), so
 * an acknowledged ticket survives a crash.  Branches are created on first
 * use: "branch" is the merchant's own code for the shop.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/ticket.h"
#include "store/store.h"
#include "util/json.h"

static int
currency_decimals (const char *code)
{
  const struct catalog_currency *c = catalog_currency (code);
  return c ? c->decimals : 2;
}

static json_t *
amount_json (int64_t v, int decimals)
{
  char b[MONEY_BUFSZ];
  return json_string (money_format (v, decimals, b));
}

/* The summary every ticket answer carries (lists too). */
static json_t *
ticket_summary (struct req *rq, const struct store_ticket *row,
                const char *branch)
{
  char date[TZ_ISO_MAX], url[1024];
  int dec = currency_decimals (row->currency);
  tz_format_iso (rq->tz, row->date, date);
  snprintf (url, sizeof url, "%s/%s/t/%s", rq->app->cfg.base_url,
            rq->tenant_slug, row->key);
  json_t *o = json_pack (
      "{s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, "
      "s:o, s:o}",
      "id", api_id_json (row->id), "key", row->key, "self_invoice_url", url,
      "status", store_ticket_status_name (row->status), "branch", branch,
      "folio_number", row->folio_number, "date", date, "payment_form",
      row->payment_form, "currency", row->currency, "subtotal",
      amount_json (row->subtotal, dec), "discount",
      amount_json (row->discount, dec), "total_transferred",
      amount_json (row->taxes, dec), "total_withheld",
      amount_json (row->withheld, dec), "total", amount_json (row->total, dec),
      "created_at", api_time_json (row->created_at));
  return o;
}

/* The full answer: summary + taxes + items, from a computed ticket.
 * items: the canonical items if already at hand (stolen), else NULL. */
static json_t *
ticket_full (struct req *rq, const struct store_ticket *row,
             const struct ticket *t, json_t *items)
{
  json_t *o = ticket_summary (rq, row, t->branch);
  json_object_set_new (o, "taxes", ticket_taxes_json (t));
  json_object_set_new (o, "items", items ? items : ticket_items_json (t));
  return o;
}

/* Rebuilds the computed ticket from a stored row.  The stored items are
 * already canonical (ticket_items_json wrote them): *items_out (if not
 * NULL) receives them parsed, to be answered as they are. */
static bool
ticket_from_row (const struct store_ticket *row, struct ticket *t,
                 json_t **items_out, struct ferr *fe)
{
  snprintf (t->branch, sizeof t->branch, "%s", row->branch_code);
  snprintf (t->folio_number, sizeof t->folio_number, "%s", row->folio_number);
  t->date = row->date;
  memcpy (t->payment_form, row->payment_form, sizeof t->payment_form);
  memcpy (t->currency, row->currency, sizeof t->currency);
  json_error_t je;
  json_t *items = json_loads (row->items ? row->items : "", 0, &je);
  bool ok = items && invoice_items_from_json (items, &t->inv, fe)
            && ticket_compute (t, fe);
  if (ok && items_out)
    *items_out = items;
  else
    json_decref (items);
  return ok;
}

/* ------------------------------------------------------------------ */
/* POST /v1/tickets                                                   */
/* ------------------------------------------------------------------ */

struct create
{
  struct ticket t;
  char *items_text;
};

static enum store_status
create_fn (struct store *s, struct api_post *p)
{
  struct create *c = p->arg;
  int64_t tenant = p->rq->tenant_id;
  struct store_branch br;
  memset (&br, 0, sizeof br);
  enum store_status st = store_branch_find_code (s, tenant, c->t.branch, &br);
  if (st == STORE_NONE)
    {
      snprintf (br.code, sizeof br.code, "%s", c->t.branch);
      snprintf (br.name, sizeof br.name, "%s", c->t.branch);
      st = store_branch_insert (s, tenant, &br);
      if (st == STORE_NONE)
        st = store_branch_find_code (s, tenant, c->t.branch, &br);
    }
  if (st < 0)
    return st;
  if (st == STORE_NONE)
    return STORE_SOFT;

  struct store_ticket row;
  memset (&row, 0, sizeof row);
  row.branch_id = br.id;
  snprintf (row.folio_number, sizeof row.folio_number, "%s",
            c->t.folio_number);
  row.date = c->t.date;
  memcpy (row.payment_form, c->t.payment_form, sizeof row.payment_form);
  memcpy (row.currency, c->t.currency, sizeof row.currency);
  row.items = c->items_text; /* borrowed */
  row.subtotal = c->t.inv.subtotal;
  row.discount = c->t.inv.discount;
  row.taxes = c->t.inv.total_transferred;
  row.withheld = c->t.inv.total_withheld;
  row.total = c->t.inv.total;
  st = store_ticket_insert (s, tenant, &row);
  row.items = NULL;
  if (st < 0)
    return st;
  if (st == STORE_NONE)
    {
      api_error_answer (p, ERR_TICKET_EXISTS, "folio_number");
      return STORE_ONE;
    }
  api_json_answer (p, 201, ticket_full (p->rq, &row, &c->t, NULL));
  store_ticket_clear (&row);
  return STORE_ONE;
}

enum MHD_Result
api_tickets_post (struct req *rq)
{
  struct create c;
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  ticket_init (&c.t);
  c.items_text = NULL;
  enum MHD_Result ret;
  if (!ticket_from_json (rq->json, rq->tz, &c.t, &fe))
    ret = reply_ferr (rq, 400, &fe);
  else
    {
      json_t *items = ticket_items_json (&c.t);
      c.items_text = json_dumps (items, JSON_COMPACT);
      json_decref (items);
      ret = api_post_run (rq, create_fn, &c);
    }
  free (c.items_text);
  ticket_free (&c.t);
  return ret;
}

/* ------------------------------------------------------------------ */
/* GET /v1/tickets/{id}                                               */
/* ------------------------------------------------------------------ */

static enum MHD_Result
reply_ticket (struct req *rq, unsigned status, const struct store_ticket *row)
{
  struct ticket t;
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  ticket_init (&t);
  enum MHD_Result ret;
  json_t *items = NULL;
  if (!ticket_from_row (row, &t, &items, &fe))
    ret = reply_error (rq, ERR_INTERNAL, NULL);
  else
    ret = reply_json (rq, status, ticket_full (rq, row, &t, items));
  ticket_free (&t);
  return ret;
}

enum MHD_Result
api_tickets_get_id (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  struct store_ticket row;
  memset (&row, 0, sizeof row);
  enum store_status st
      = store_ticket_get (rq->app->store, rq->tenant_id, id, &row);
  enum MHD_Result ret;
  if (st == STORE_NONE)
    ret = reply_error (rq, ERR_NOT_FOUND, NULL);
  else if (st < 0)
    ret = api_store_failed (rq, st);
  else
    ret = reply_ticket (rq, 200, &row);
  store_ticket_clear (&row);
  return ret;
}

/* ------------------------------------------------------------------ */
/* POST /v1/tickets/{id}/cancel                                       */
/* ------------------------------------------------------------------ */

static enum store_status
cancel_fn (struct store *s, struct api_post *p)
{
  int64_t id = *(int64_t *)p->arg;
  int64_t tenant = p->rq->tenant_id;
  struct store_ticket row;
  memset (&row, 0, sizeof row);
  enum store_status st = store_ticket_get (s, tenant, id, &row);
  if (st < 0)
    return st;
  if (st == STORE_NONE)
    {
      api_error_answer (p, ERR_NOT_FOUND, NULL);
      return STORE_ONE;
    }
  if (row.status == STORE_TICKET_CANCELLED)
    api_error_answer (p, ERR_TICKET_CANCELLED, NULL);
  else if (row.status != STORE_TICKET_OPEN)
    api_error_answer (p, ERR_TICKET_INVOICED, NULL);
  else
    {
      st = store_ticket_set_status (s, tenant, id, STORE_TICKET_OPEN,
                                    STORE_TICKET_CANCELLED);
      if (st < 0)
        {
          store_ticket_clear (&row);
          return st;
        }
      if (st == STORE_NONE)
        {
          store_ticket_clear (&row);
          return STORE_SOFT; /* changed under us: read again */
        }
      row.status = STORE_TICKET_CANCELLED;
      struct ticket t;
      struct ferr fe;
      memset (&fe, 0, sizeof fe);
      ticket_init (&t);
      json_t *items = NULL;
      if (ticket_from_row (&row, &t, &items, &fe))
        api_json_answer (p, 200, ticket_full (p->rq, &row, &t, items));
      else
        api_error_answer (p, ERR_INTERNAL, NULL);
      ticket_free (&t);
    }
  store_ticket_clear (&row);
  return STORE_ONE;
}

enum MHD_Result
api_tickets_post_id_cancel (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  static const char *const keys[] = { NULL };
  const char *bad = json_unknown_key (rq->json, keys);
  if (bad)
    return reply_error (rq, ERR_UNKNOWN_FIELD, bad);
  return api_post_run (rq, cancel_fn, &id);
}

/* ------------------------------------------------------------------ */
/* GET /v1/tickets                                                    */
/* ------------------------------------------------------------------ */

/* ?date_from / ?date_to: a day (YYYY-MM-DD, whole day) or a date-time. */
static bool
query_date (struct req *rq, const char *name, bool end, int64_t *out)
{
  const char *v = req_query (rq, name);
  *out = 0;
  if (v == NULL || *v == '\0')
    return true;
  char buf[40];
  if (strlen (v) == 10)
    {
      snprintf (buf, sizeof buf, "%sT00:00:00", v);
      v = buf;
    }
  else if (strlen (v) >= sizeof buf)
    return false;
  if (!ticket_parse_date (v, rq->tz, out))
    return false;
  if (end && v == buf) /* date_to=2026-11-24 includes that whole day */
    *out = tz_add_days (rq->tz, *out, 1);
  return true;
}

enum MHD_Result
api_tickets_get (struct req *rq)
{
  struct store_ticket_filter f;
  memset (&f, 0, sizeof f);
  f.status = -1;
  if (!api_page_args (rq, &f.limit, &f.cursor))
    return MHD_YES;
  if (!query_date (rq, "date_from", false, &f.date_from))
    return reply_error (rq, ERR_INVALID_PARAMETER, "date_from");
  if (!query_date (rq, "date_to", true, &f.date_to))
    return reply_error (rq, ERR_INVALID_PARAMETER, "date_to");
  const char *status = req_query (rq, "status");
  if (status && *status)
    {
      f.status = store_ticket_status_parse (status);
      if (f.status < 0)
        return reply_error (rq, ERR_INVALID_PARAMETER, "status");
    }
  const char *branch = req_query (rq, "branch");
  if (branch && *branch)
    {
      struct store_branch br;
      memset (&br, 0, sizeof br);
      if (strlen (branch) > TICKET_MAX_BRANCH)
        return reply_error (rq, ERR_INVALID_PARAMETER, "branch");
      enum store_status st = store_branch_find_code (
          rq->app->store, rq->tenant_id, branch, &br);
      if (st < 0)
        return api_store_failed (rq, st);
      if (st == STORE_NONE) /* no such branch: an empty page */
        return reply_json (rq, 200,
                           json_pack ("{s:[], s:n}", "data", "next_cursor"));
      f.branch_id = br.id;
    }
  struct store_ticket *rows = NULL;
  size_t n = 0;
  int64_t next = 0;
  enum store_status st = store_ticket_list (rq->app->store, rq->tenant_id, &f,
                                            &rows, &n, &next);
  if (st < 0)
    return api_store_failed (rq, st);
  json_t *data = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (data,
                           ticket_summary (rq, &rows[i], rows[i].branch_code));
  store_ticket_list_free (rows, n);
  return reply_json (rq, 200,
                     json_pack ("{s:o, s:o}", "data", data, "next_cursor",
                                api_cursor_json (next)));
}
