/*
 * invoices.c — /v1/invoices and the cashier's path to one.
 *
 *   POST /v1/tickets/{id}/invoice  invoice one ticket now (201 new, 200 the
 *                                  invoice it already has; idempotent)
 *   GET  /v1/invoices              list: date_from, date_to, status,
 *                                  customer (RFC), limit, cursor
 *   GET  /v1/invoices/{id}         one invoice (no documents)
 *   GET  /v1/invoices/{id}/xml     the stored, stamped bytes
 *   GET  /v1/invoices/{id}/pdf     rendered once, stored, then served
 *   POST /v1/invoices/{id}/cancel  cancel through the tenant's stamping
 *                                  provider (motive 01..04); 200 with the
 *                                  invoice and its `cancellation`
 *   GET  /v1/invoices/{id}/cancellation/acuse  the provider's acuse
 *
 * The issuing itself is api/issue.c's (the same function the portal
 * calls); this file maps JSON and results to HTTP.  Every lookup is
 * scoped by the API key's tenant: another tenant's invoice is a 404.
 */
#include "api/api.h"
#include "api/issue.h"

#include <stdlib.h>
#include <string.h>

#include "cfdi/cancel.h"
#include "cfdi/pac.h"
#include "core/catalog.h"
#include "core/ticket.h"
#include "pdf/pdf.h"
#include "store/branding.h"
#include "store/store.h"
#include "util/json.h"
#include "util/log.h"

static json_t *
amount_json (int64_t v, const char *currency)
{
  const struct catalog_currency *c = catalog_currency (currency);
  char b[MONEY_BUFSZ];
  return json_string (money_format (v, c ? c->decimals : 2, b));
}

/* The status word of the API: "valid", "cancellation_pending",
 * "cancelled" (the store's "cancel_pending" is renamed here). */
static const char *
api_status_name (enum store_invoice_status st)
{
  return st == STORE_INVOICE_CANCEL_PENDING ? "cancellation_pending"
                                            : store_invoice_status_name (st);
}

/* The `cancellation` object, or NULL if none was ever requested. */
static json_t *
cancellation_json (const struct store_invoice *inv)
{
  if (inv->cancel_requested_at == 0 && inv->cancel_reason[0] == '\0')
    return NULL;
  json_t *c = json_object ();
  json_object_set_new (c, "motive", json_string (inv->cancel_reason));
  json_object_set_new (c, "substitution",
                       inv->cancel_substitute[0]
                           ? json_string (inv->cancel_substitute)
                           : json_null ());
  json_object_set_new (c, "requested_at",
                       api_time_json (inv->cancel_requested_at));
  json_object_set_new (
      c, "status",
      json_string (inv->cancel_status[0] ? inv->cancel_status : "requested"));
  json_object_set_new (c, "acknowledged_at",
                       inv->cancel_ack_date[0]
                           ? json_string (inv->cancel_ack_date)
                           : json_null ());
  json_object_set_new (c, "provider",
                       inv->cancel_provider[0]
                           ? json_string (inv->cancel_provider)
                           : json_null ());
  json_object_set_new (c, "sat_code",
                       inv->cancel_sat_code[0]
                           ? json_string (inv->cancel_sat_code)
                           : json_null ());
  if (inv->cancel_ack)
    {
      char url[80];
      snprintf (url, sizeof url, "/v1/invoices/%lld/cancellation/acuse",
                (long long)inv->id);
      json_object_set_new (c, "acuse_url", json_string (url));
    }
  return c;
}

static json_t *
invoice_json (struct req *rq, const struct store_invoice *inv,
              const int64_t *tickets, size_t n_tickets)
{
  char url[700];
  json_t *o = json_pack (
      "{s:o, s:s, s:s, s:I, s:s, s:s, s:{s:s, s:s, s:s}, s:o, s:s, s:s, "
      "s:o}",
      "id", api_id_json (inv->id), "uuid", inv->uuid, "series", inv->series,
      "folio", (json_int_t)inv->folio, "type", inv->type, "status",
      api_status_name (inv->status), "customer", "tax_id", inv->customer_rfc,
      "legal_name", inv->customer_name, "email", inv->customer_email, "total",
      amount_json (inv->total, inv->currency), "currency", inv->currency,
      "sha256", inv->sha256, "created_at", api_time_json (inv->created_at));
  if (o == NULL)
    return json_object ();
  snprintf (url, sizeof url, "/v1/invoices/%lld/xml", (long long)inv->id);
  json_object_set_new (o, "xml_url", json_string (url));
  snprintf (url, sizeof url, "/v1/invoices/%lld/pdf", (long long)inv->id);
  json_object_set_new (o, "pdf_url", json_string (url));
  json_t *cj = cancellation_json (inv);
  if (cj)
    json_object_set_new (o, "cancellation", cj);
  if (tickets)
    {
      json_t *a = json_array ();
      for (size_t i = 0; i < n_tickets; i++)
        json_array_append_new (a, api_id_json (tickets[i]));
      json_object_set_new (o, "tickets", a);
    }
  return o;
}

/* The full answer for one invoice, read in the current transaction (if
 * any).  NULL on a store error (*st set). */
static json_t *
invoice_answer (struct store *s, struct req *rq, int64_t id,
                enum store_status *st)
{
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  *st = store_invoice_get (s, rq->tenant_id, id, false, &inv);
  if (*st != STORE_ONE)
    {
      store_invoice_clear (&inv);
      return NULL;
    }
  int64_t *t = NULL;
  size_t n = 0;
  *st = store_invoice_tickets (s, rq->tenant_id, id, &t, &n);
  json_t *o = *st >= 0 ? invoice_json (rq, &inv, t, n) : NULL;
  free (t);
  store_invoice_clear (&inv);
  if (o)
    *st = STORE_ONE;
  return o;
}

/* ------------------------------------------------------------------ */
/* POST /v1/tickets/{id}/invoice                                      */
/* ------------------------------------------------------------------ */

struct post
{
  int64_t ticket;
  struct issue_receiver r;
  const char *emails[ISSUE_MAX_EMAILS];
  char actor[64];
  enum issue_result result;
  struct issue_out out;
};

static enum http_err
result_err (enum issue_result r, const char **field)
{
  *field = NULL;
  switch (r)
    {
    case ISSUE_NOT_FOUND:
      return ERR_NOT_FOUND;
    case ISSUE_CANCELLED:
      return ERR_TICKET_CANCELLED;
    case ISSUE_EXPIRED:
      return ERR_TICKET_EXPIRED;
    case ISSUE_IN_GLOBAL:
      return ERR_TICKET_IN_GLOBAL;
    case ISSUE_INVOICED:
      return ERR_TICKET_ALREADY_INVOICED;
    case ISSUE_NO_CSD:
      return ERR_CSD_MISSING;
    case ISSUE_STAMP_REJECTED:
      return ERR_STAMP_REJECTED;
    case ISSUE_STAMP_RETRY:
      return ERR_STAMP_UNAVAILABLE;
    case ISSUE_INVALID:
      *field = "tickets";
      return ERR_INVALID_FIELD;
    case ISSUE_STORE_ERROR:
      return ERR_UNAVAILABLE;
    default:
      return ERR_INTERNAL;
    }
}

/* The invoice's mail is queued with lang NULL: the merchant's language
 * (branding.mail.lang, default Spanish), never the API client's
 * Accept-Language (docs/mail.md). */

/* Inside api_post_run's transaction (an Idempotency-Key was sent). */
static enum store_status
post_fn (struct store *s, struct api_post *p)
{
  struct post *c = p->arg;
  c->result = issue_invoice_for_tickets_tx (s, p->rq->tenant_id, &c->ticket, 1,
                                            &c->r, c->actor, NULL, 0, &c->out);
  if (c->result == ISSUE_OK || c->result == ISSUE_EXISTING)
    {
      enum store_status st;
      json_t *o = invoice_answer (s, p->rq, c->out.invoice_id, &st);
      if (o == NULL)
        return st == STORE_NONE ? STORE_SOFT : st;
      api_json_answer (p, c->result == ISSUE_OK ? 201 : 200, o);
      return STORE_ONE;
    }
  if (c->out.store_status < 0)
    /* Something was written: roll back everything (answered 503). */
    return c->out.store_status == STORE_SOFT ? STORE_SOFT : STORE_HARD;
  const char *field = NULL;
  enum http_err e = result_err (c->result, &field);
  api_error_answer (p, e, field);
  return STORE_ONE;
}

/* Reads customer.email: a string or an array of strings. */
static bool
read_emails (json_t *v, struct post *c)
{
  if (v == NULL || json_is_null (v))
    return true;
  if (json_is_string (v))
    {
      c->emails[0] = json_string_value (v);
      c->r.n_emails = 1;
      return true;
    }
  if (!json_is_array (v) || json_array_size (v) > ISSUE_MAX_EMAILS)
    return false;
  for (size_t i = 0; i < json_array_size (v); i++)
    {
      json_t *e = json_array_get (v, i);
      if (!json_is_string (e))
        return false;
      c->emails[c->r.n_emails++] = json_string_value (e);
    }
  return true;
}

/* Optional string member; false if present and not a string. */
static bool
opt_str (json_t *o, const char *k, const char **out)
{
  json_t *v = json_object_get (o, k);
  *out = NULL;
  if (v == NULL || json_is_null (v))
    return true;
  if (!json_is_string (v) || strlen (json_string_value (v)) > 1024)
    return false;
  *out = json_string_value (v);
  return true;
}

enum MHD_Result
api_tickets_post_id_invoice (struct req *rq)
{
  struct post c;
  memset (&c, 0, sizeof c);
  if (!api_param_id (rq, 0, &c.ticket))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  static const char *const top[] = { "customer", "use", NULL };
  static const char *const cust[]
      = { "legal_name", "tax_id",           "tax_system", "address",
          "email",      "tax_id_confirmed", NULL };
  static const char *const addr[] = { "zip", NULL };
  const char *bad = json_unknown_key (rq->json, top);
  if (bad)
    return reply_error (rq, ERR_UNKNOWN_FIELD, bad);
  json_t *cu = json_object_get (rq->json, "customer");
  if (cu == NULL)
    return reply_error (rq, ERR_MISSING_FIELD, "customer");
  if (!json_is_object (cu))
    return reply_error (rq, ERR_INVALID_FIELD, "customer");
  if ((bad = json_unknown_key (cu, cust)))
    {
      char f[160];
      snprintf (f, sizeof f, "customer.%s", bad);
      return reply_error (rq, ERR_UNKNOWN_FIELD, f);
    }
  json_t *ad = json_object_get (cu, "address");
  if (ad && !json_is_object (ad))
    return reply_error (rq, ERR_INVALID_FIELD, "customer.address");
  if (ad && (bad = json_unknown_key (ad, addr)))
    {
      char f[160];
      snprintf (f, sizeof f, "customer.address.%s", bad);
      return reply_error (rq, ERR_UNKNOWN_FIELD, f);
    }
  if (!opt_str (cu, "tax_id", &c.r.rfc))
    return reply_error (rq, ERR_INVALID_FIELD, "customer.tax_id");
  if (!opt_str (cu, "legal_name", &c.r.name))
    return reply_error (rq, ERR_INVALID_FIELD, "customer.legal_name");
  if (!opt_str (cu, "tax_system", &c.r.regime))
    return reply_error (rq, ERR_INVALID_FIELD, "customer.tax_system");
  if (ad && !opt_str (ad, "zip", &c.r.zip))
    return reply_error (rq, ERR_INVALID_FIELD, "customer.address.zip");
  if (!opt_str (rq->json, "use", &c.r.use))
    return reply_error (rq, ERR_INVALID_FIELD, "use");
  json_t *conf = json_object_get (cu, "tax_id_confirmed");
  if (conf && !json_is_boolean (conf))
    return reply_error (rq, ERR_INVALID_FIELD, "customer.tax_id_confirmed");
  c.r.accept_check_digit = conf && json_is_true (conf);
  if (!read_emails (json_object_get (cu, "email"), &c))
    return reply_error (rq, ERR_INVALID_FIELD, "customer.email");
  c.r.emails = c.emails;
  if (c.r.rfc == NULL)
    return reply_error (rq, ERR_MISSING_FIELD, "customer.tax_id");
  if (c.r.name == NULL)
    return reply_error (rq, ERR_MISSING_FIELD, "customer.legal_name");
  if (c.r.regime == NULL)
    return reply_error (rq, ERR_MISSING_FIELD, "customer.tax_system");
  if (c.r.zip == NULL)
    return reply_error (rq, ERR_MISSING_FIELD, "customer.address.zip");
  if (c.r.use == NULL)
    return reply_error (rq, ERR_MISSING_FIELD, "use");
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  if (!issue_receiver_check (&c.r, &fe))
    return reply_ferr (rq, 400, &fe);
  snprintf (c.actor, sizeof c.actor, "apikey:%lld", (long long)rq->apikey_id);

  bool badkey;
  if (idem_key (rq, &badkey) != NULL || badkey)
    return api_post_run (rq, post_fn, &c);

  /* No Idempotency-Key: the issuing transaction alone, so every outcome
   * gets its own precise answer. */
  c.result
      = issue_invoice_for_tickets (rq->app->store, rq->tenant_id, &c.ticket, 1,
                                   &c.r, c.actor, NULL, 0, &c.out);
  if (c.result == ISSUE_OK || c.result == ISSUE_EXISTING)
    {
      enum store_status st;
      json_t *o = invoice_answer (rq->app->store, rq, c.out.invoice_id, &st);
      if (o == NULL)
        return api_store_failed (rq, st);
      return reply_json (rq, c.result == ISSUE_OK ? 201 : 200, o);
    }
  if (c.result == ISSUE_INVALID && c.out.err.code)
    return reply_ferr (rq, 400, &c.out.err);
  const char *field = NULL;
  enum http_err e = result_err (c.result, &field);
  return reply_error (rq, e, field);
}

/* ------------------------------------------------------------------ */
/* GET /v1/invoices/{id}, /xml, /pdf                                  */
/* ------------------------------------------------------------------ */

enum MHD_Result
api_invoices_get_id (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  enum store_status st;
  json_t *o = invoice_answer (rq->app->store, rq, id, &st);
  if (o == NULL)
    return st == STORE_NONE ? reply_error (rq, ERR_NOT_FOUND, NULL)
                            : api_store_failed (rq, st);
  return reply_json (rq, 200, o);
}

enum MHD_Result
api_invoices_get_id_xml (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  enum store_status st
      = store_invoice_get (rq->app->store, rq->tenant_id, id, true, &inv);
  enum MHD_Result ret;
  if (st == STORE_NONE)
    ret = reply_error (rq, ERR_NOT_FOUND, NULL);
  else if (st < 0)
    ret = api_store_failed (rq, st);
  else
    ret = reply_text (rq, 200, "application/xml; charset=utf-8",
                      (const char *)inv.xml, inv.xml_len);
  store_invoice_clear (&inv);
  return ret;
}

enum MHD_Result
api_invoices_get_id_pdf (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  struct store *s = rq->app->store;
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  enum store_status st = store_invoice_get (s, rq->tenant_id, id, true, &inv);
  if (st != STORE_ONE)
    {
      store_invoice_clear (&inv);
      return st == STORE_NONE ? reply_error (rq, ERR_NOT_FOUND, NULL)
                              : api_store_failed (rq, st);
    }
  if (inv.pdf == NULL || inv.pdf_len == 0)
    {
      /* First request: render once and keep it.  Two racing first
       * requests both render; each then serves what the store holds. */
      struct buf pdf = BUF_INIT;
      struct ferr fe;
      memset (&fe, 0, sizeof fe);
      /* The merchant's logo as it is now: the PDF kept is the one made
       * here, so a logo set later shows only on invoices rendered later. */
      struct buf logo = BUF_INIT;
      struct store_tenant t;
      store_tenant_init (&t);
      if (store_tenant_get (s, rq->tenant_id, &t) == STORE_ONE)
        branding_pdf_logo (t.branding, &logo);
      store_tenant_clear (&t);
      struct pdf_options po = { .logo = (const unsigned char *)logo.data,
                                .logo_len = logo.len,
                                .logo_optional = true };
      bool rendered = pdf_render_cfdi ((const char *)inv.xml, inv.xml_len, &po,
                                       &pdf, &fe);
      buf_free (&logo);
      if (!rendered)
        {
          log_error ("request %s: invoice %lld: pdf: %s: %s", rq->request_id,
                     (long long)id, fe.code ? fe.code : "?", fe.message);
          buf_free (&pdf);
          store_invoice_clear (&inv);
          return reply_error (rq, ERR_INTERNAL, NULL);
        }
      st = store_invoice_set_pdf (s, rq->tenant_id, id,
                                  (const unsigned char *)pdf.data, pdf.len);
      buf_free (&pdf);
      store_invoice_clear (&inv);
      memset (&inv, 0, sizeof inv);
      if (st >= 0)
        st = store_invoice_get (s, rq->tenant_id, id, true, &inv);
      if (st != STORE_ONE || inv.pdf == NULL)
        {
          store_invoice_clear (&inv);
          return api_store_failed (rq, st < 0 ? st : STORE_HARD);
        }
    }
  enum MHD_Result ret = reply_text (rq, 200, "application/pdf",
                                    (const char *)inv.pdf, inv.pdf_len);
  store_invoice_clear (&inv);
  return ret;
}

/* ------------------------------------------------------------------ */
/* GET /v1/invoices                                                   */
/* ------------------------------------------------------------------ */

/* ?date_from / ?date_to: a day (YYYY-MM-DD, whole day) or a date-time,
 * compared with the invoice's creation time. */
static bool
query_date (struct req *rq, const char *name, bool end, int64_t *out)
{
  const char *v = req_query (rq, name);
  *out = 0;
  if (v == NULL || *v == '\0')
    return true;
  char buf[40];
  bool day = strlen (v) == 10;
  if (day)
    {
      snprintf (buf, sizeof buf, "%sT00:00:00", v);
      v = buf;
    }
  else if (strlen (v) >= sizeof buf)
    return false;
  if (!ticket_parse_date (v, rq->tz, out))
    return false;
  if (end && day) /* the whole local day, 23 to 25 hours long */
    *out = tz_add_days (rq->tz, *out, 1);
  return true;
}

enum MHD_Result
api_invoices_get (struct req *rq)
{
  int limit;
  int64_t cursor, from, to;
  if (!api_page_args (rq, &limit, &cursor))
    return MHD_YES;
  if (!query_date (rq, "date_from", false, &from))
    return reply_error (rq, ERR_INVALID_PARAMETER, "date_from");
  if (!query_date (rq, "date_to", true, &to))
    return reply_error (rq, ERR_INVALID_PARAMETER, "date_to");
  int status = -1;
  const char *sv = req_query (rq, "status");
  if (sv && strcmp (sv, "cancellation_pending") == 0)
    status = STORE_INVOICE_CANCEL_PENDING;
  else if (sv && *sv && (status = store_invoice_status_parse (sv)) < 0)
    return reply_error (rq, ERR_INVALID_PARAMETER, "status");
  const char *rfc = req_query (rq, "customer");
  if (rfc && (*rfc == '\0' || strlen (rfc) > 13))
    {
      if (*rfc)
        return reply_error (rq, ERR_INVALID_PARAMETER, "customer");
      rfc = NULL;
    }
  struct store_invoice_filter f
      = { .created_from = from, .created_to = to, .status = status,
          .customer_rfc = rfc };
  struct store_invoice *rows = NULL;
  size_t n = 0;
  int64_t next = 0;
  enum store_status st = store_invoice_list_filtered (
      rq->app->store, rq->tenant_id, &f, cursor, limit, &rows, &n, &next);
  if (st < 0)
    return api_store_failed (rq, st);
  json_t *data = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (data, invoice_json (rq, &rows[i], NULL, 0));
  store_invoice_list_free (rows, n);
  return reply_json (rq, 200,
                     json_pack ("{s:o, s:o}", "data", data, "next_cursor",
                                api_cursor_json (next)));
}

/* ------------------------------------------------------------------ */
/* POST /v1/invoices/{id}/cancel                                      */
/* ------------------------------------------------------------------ */

/* Three steps, never one transaction around the provider call (it is
 * external and may take seconds):
 *   1. the request is committed alone (status cancellation_pending,
 *      cancellation.status "requested");
 *   2. the provider (pac_cancel, the tenant's stamping provider) is asked,
 *      outside any transaction;
 *   3. its answer, the event and the Idempotency-Key's answer are written
 *      in one transaction (api_post_run).
 * A crash or a provider outage between 1 and 3 leaves "requested"; the
 * same request again (same motive and substitution) asks the provider
 * again and completes it (SAT answers a repeated cancellation with the
 * same acuse). */

struct cancel
{
  int64_t id;
  const char *provider;
  struct cancel_ack ack;
  char detail[256];
};

/* Step 3, inside api_post_run's transaction. */
static enum store_status
cancel_fn (struct store *s, struct api_post *p)
{
  struct cancel *c = p->arg;
  bool done = c->ack.status == CANCEL_STATUS_CANCELLED;
  struct store_cancel_answer a = { .status = done ? "cancelled" : "pending",
                                   .ack = c->ack.acuse_xml,
                                   .ack_date = c->ack.date,
                                   .provider = c->provider,
                                   .sat_code = c->ack.sat_code };
  enum store_status st
      = store_invoice_cancel_answer (s, p->rq->tenant_id, c->id, &a);
  if (st < 0)
    return st;
  if (st == STORE_NONE)
    {
      /* Answered meanwhile by a concurrent request. */
      api_error_answer (p, ERR_INVOICE_CANCELLED, NULL);
      return STORE_ONE;
    }
  st = store_event_add (s, p->rq->tenant_id, c->id, 0,
                        done ? "cancelled" : "cancellation_pending", "api",
                        c->detail, NULL);
  if (st < 0)
    return st;
  json_t *o = invoice_answer (s, p->rq, c->id, &st);
  if (o == NULL)
    return st == STORE_NONE ? STORE_HARD : st;
  api_json_answer (p, 200, o);
  return STORE_ONE;
}

/* Checks the substituting invoice of motive 01: same tenant, exists, not
 * cancelled.  The CfdiRelacionados TipoRelacion 04 link is not checked
 * (docs/invoices.md).  Queues the error and returns false. */
static bool
substitute_ok (struct req *rq, const char *uuid, enum MHD_Result *ret)
{
  struct store_invoice sub;
  memset (&sub, 0, sizeof sub);
  enum store_status st = store_invoice_find_uuid (
      rq->app->store, rq->tenant_id, uuid, false, &sub);
  bool ok = st == STORE_ONE && sub.status == STORE_INVOICE_VALID;
  store_invoice_clear (&sub);
  if (st < 0)
    *ret = api_store_failed (rq, st);
  else if (!ok)
    {
      struct ferr fe;
      memset (&fe, 0, sizeof fe);
      ferr_set (&fe, "cancel_substitute_unknown", "substitution",
                "substitution %s is not a valid invoice of this merchant",
                "la sustitución %s no es una factura vigente de este comercio",
                uuid);
      *ret = reply_ferr (rq, 400, &fe);
    }
  return ok && st == STORE_ONE;
}

static enum MHD_Result
cancel_run (struct req *rq, struct cancel *c, struct store_invoice *inv)
{
  struct store *s = rq->app->store;
  /* Idempotent replay first: a key already answered replays that answer
   * without asking the provider again. */
  bool badkey;
  const char *key = idem_key (rq, &badkey);
  if (badkey)
    return reply_error (rq, ERR_INVALID_IDEMPOTENCY_KEY, "Idempotency-Key");
  if (key)
    {
      struct store_idem idem;
      memset (&idem, 0, sizeof idem);
      enum store_status st = store_idem_get (s, rq->tenant_id, key, &idem);
      store_idem_clear (&idem);
      if (st == STORE_ONE)
        return api_post_run (rq, cancel_fn, c);
    }

  static const char *const top[] = { "motive", "substitution", NULL };
  const char *bad = json_unknown_key (rq->json, top);
  if (bad)
    return reply_error (rq, ERR_UNKNOWN_FIELD, bad);
  json_t *mv = json_object_get (rq->json, "motive");
  if (mv == NULL || json_is_null (mv))
    return reply_error (rq, ERR_MISSING_FIELD, "motive");
  if (!json_is_string (mv)
      || cancel_reason_parse (json_string_value (mv)) == CANCEL_REASON_NONE)
    return reply_error (rq, ERR_INVALID_FIELD, "motive");
  const char *sub = NULL;
  if (!opt_str (rq->json, "substitution", &sub))
    return reply_error (rq, ERR_INVALID_FIELD, "substitution");
  enum cancel_reason reason = cancel_reason_parse (json_string_value (mv));
  if (reason == CANCEL_REASON_01 && (sub == NULL || *sub == '\0'))
    return reply_error (rq, ERR_MISSING_FIELD, "substitution");
  if (reason != CANCEL_REASON_01 && sub && *sub)
    return reply_error (rq, ERR_INVALID_FIELD, "substitution");

  struct cancel_request req;
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  if (!cancel_request_init (&req, inv->uuid, json_string_value (mv), sub, &fe))
    {
      /* the only input left that can fail */
      snprintf (fe.field, sizeof fe.field, "substitution");
      return reply_ferr (rq, 400, &fe);
    }
  if (inv->status == STORE_INVOICE_CANCELLED)
    return reply_error (rq, ERR_INVOICE_CANCELLED, NULL);
  if (inv->status == STORE_INVOICE_CANCEL_PENDING
      && (strcmp (inv->cancel_reason, cancel_reason_code (reason)) != 0
          || strcmp (inv->cancel_substitute, req.substitute_uuid) != 0))
    return reply_error (rq, ERR_INVOICE_CANCEL_PENDING, NULL);
  enum MHD_Result ret;
  if (reason == CANCEL_REASON_01
      && !substitute_ok (rq, req.substitute_uuid, &ret))
    return ret;

  struct store_tenant t;
  store_tenant_init (&t);
  enum store_status st = store_tenant_get (s, rq->tenant_id, &t);
  if (st != STORE_ONE)
    {
      store_tenant_clear (&t);
      return api_store_failed (rq, st < 0 ? st : STORE_HARD);
    }
  snprintf (req.issuer_rfc, sizeof req.issuer_rfc, "%s", t.rfc);
  snprintf (req.receiver_rfc, sizeof req.receiver_rfc, "%s",
            inv->customer_rfc);
  req.total_micros = inv->total;
  const struct pac *pac = issue_pac (t.stamp, &fe);
  store_tenant_clear (&t);
  if (pac == NULL)
    {
      log_error ("request %s: cancel: provider: %s", rq->request_id,
                 fe.message);
      return reply_error (rq, ERR_STAMP_UNAVAILABLE, NULL);
    }
  c->provider = pac->name;

  /* 1. The request, committed alone. */
  if (inv->status == STORE_INVOICE_VALID)
    {
      st = store_invoice_cancel_request (s, rq->tenant_id, c->id,
                                         cancel_reason_code (reason),
                                         req.substitute_uuid);
      if (st == STORE_NONE) /* changed meanwhile */
        return reply_error (rq, ERR_CONFLICT, NULL);
      if (st < 0)
        return api_store_failed (rq, st);
    }

  /* 2. The provider, outside any transaction. */
  memset (&fe, 0, sizeof fe);
  enum pac_status ps = pac_cancel (pac, &req, NULL, &c->ack, &fe);
  if (ps == PAC_RETRY)
    {
      log_error ("request %s: cancel invoice %lld: %s: %s", rq->request_id,
                 (long long)c->id, fe.code ? fe.code : "?", fe.message);
      return reply_error (rq, ERR_STAMP_UNAVAILABLE, NULL);
    }
  if (ps != PAC_OK || c->ack.status == CANCEL_STATUS_REJECTED)
    {
      struct store_cancel_answer a = { .status = "rejected",
                                       .ack = c->ack.acuse_xml,
                                       .ack_date = c->ack.date,
                                       .provider = c->provider,
                                       .sat_code = c->ack.sat_code };
      st = store_invoice_cancel_answer (s, rq->tenant_id, c->id, &a);
      log_error ("request %s: cancel invoice %lld refused: %s: %s",
                 rq->request_id, (long long)c->id, fe.code ? fe.code : "?",
                 fe.message);
      if (st < 0)
        return api_store_failed (rq, st);
      return reply_error (rq, ERR_CANCEL_REJECTED, NULL);
    }

  /* 3. The answer, the event and the key, together. */
  json_t *d = json_pack (
      "{s:s, s:s?, s:s, s:s}", "motive", cancel_reason_code (reason),
      "substitution", req.substitute_uuid[0] ? req.substitute_uuid : NULL,
      "provider", c->provider, "status", cancel_status_name (c->ack.status));
  char *dt = d ? json_dumps (d, JSON_COMPACT) : NULL;
  json_decref (d);
  snprintf (c->detail, sizeof c->detail, "%s", dt ? dt : "{}");
  free (dt);
  return api_post_run (rq, cancel_fn, c);
}

enum MHD_Result
api_invoices_post_id_cancel (struct req *rq)
{
  struct cancel c;
  memset (&c, 0, sizeof c);
  if (!api_param_id (rq, 0, &c.id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  enum store_status st
      = store_invoice_get (rq->app->store, rq->tenant_id, c.id, false, &inv);
  enum MHD_Result ret;
  if (st == STORE_NONE)
    ret = reply_error (rq, ERR_NOT_FOUND, NULL);
  else if (st < 0)
    ret = api_store_failed (rq, st);
  else
    ret = cancel_run (rq, &c, &inv);
  store_invoice_clear (&inv);
  cancel_ack_clear (&c.ack);
  return ret;
}

enum MHD_Result
api_invoices_get_id_cancellation_acuse (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  enum store_status st
      = store_invoice_get (rq->app->store, rq->tenant_id, id, false, &inv);
  enum MHD_Result ret;
  if (st == STORE_NONE || (st == STORE_ONE && inv.cancel_ack == NULL))
    ret = reply_error (rq, ERR_NOT_FOUND, NULL);
  else if (st < 0)
    ret = api_store_failed (rq, st);
  else
    ret = reply_text (rq, 200, "application/xml; charset=utf-8",
                      inv.cancel_ack, strlen (inv.cancel_ack));
  store_invoice_clear (&inv);
  return ret;
}
