/*
 * customers.c — /v1/customers: the merchant's invoice receivers.
 *
 *   POST /v1/customers          create (201; idempotent with a key)
 *   GET  /v1/customers          list (newest first; limit, cursor)
 *   GET  /v1/customers/{id}     one
 *   PATCH /v1/customers/{id}    merge-patch (null removes an optional field)
 *   DELETE /v1/customers/{id}   204
 *
 * Fields: legal_name, tax_id (RFC), tax_system (c_RegimenFiscal), zip
 * (DomicilioFiscalReceptor), and optional email and use (c_UsoCFDI).
 * Checked with core/rules.h as the CFDI receiver will be, so a stored
 * customer can be invoiced.  Several customers may share one RFC.
 */
#include "api/api.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/rfc.h"
#include "core/rules.h"
#include "store/store.h"
#include "util/json.h"

static bool
text (const json_t *o, const char *k, size_t max, bool required,
      const char **out, struct ferr *fe)
{
  const json_t *v = json_object_get (o, k);
  *out = NULL;
  if (v == NULL)
    return required ? ferr_set (fe, "required", k, "%s is required",
                                "%s es obligatorio", k)
                    : true;
  if (!json_is_string (v))
    return ferr_set (fe, "type", k, "%s must be a string",
                     "%s debe ser una cadena", k);
  size_t n = json_string_length (v);
  const char *s = json_string_value (v);
  if (n == 0 || n > max || strlen (s) != n)
    return ferr_set (fe, "text_length", k, "%s must have 1 to %zu characters",
                     "%s debe tener de 1 a %zu caracteres", k, max, k, max);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return ferr_set (fe, "text_character", k,
                       "%s contains a control character",
                       "%s contiene un carácter de control", k);
  *out = s;
  return true;
}

/* Checks body; on success *doc is the canonical document. */
static bool
customer_check (const json_t *body, json_t **doc, struct ferr *fe)
{
  static const char *const keys[]
      = { "legal_name", "tax_id", "tax_system", "zip", "email", "use", NULL };
  const char *bad = json_unknown_key (body, keys);
  if (bad)
    return ferr_set (fe, "unknown_field", bad, "unknown field %s",
                     "campo desconocido %s", bad);
  const char *name, *rfc, *regime, *zip, *email, *use;
  if (!text (body, "legal_name", 300, true, &name, fe)
      || !text (body, "tax_id", 13, true, &rfc, fe)
      || !text (body, "tax_system", 3, true, &regime, fe)
      || !text (body, "zip", 5, true, &zip, fe)
      || !text (body, "email", 254, false, &email, fe)
      || !text (body, "use", 4, false, &use, fe))
    return false;
  char up[16];
  size_t i;
  for (i = 0; rfc[i] && i < sizeof up - 1; i++)
    up[i] = (char)toupper ((unsigned char)rfc[i]);
  up[i] = '\0';
  enum rfc_kind kind;
  if (!rfc_check_shape (up, &kind, fe))
    {
      snprintf (fe->field, sizeof fe->field, "tax_id");
      return false;
    }
  if (catalog_regime (regime) == NULL)
    return ferr_set (fe, "tax_system", "tax_system",
                     "tax_system must be a c_RegimenFiscal key",
                     "tax_system debe ser una clave de c_RegimenFiscal");
  if (strlen (zip) != 5 || strspn (zip, "0123456789") != 5)
    return ferr_set (fe, "zip", "zip", "zip must be 5 digits",
                     "zip debe tener 5 dígitos");
  if (email && (strchr (email, '@') == NULL || strchr (email, ' ')))
    return ferr_set (fe, "email", "email", "email is not an e-mail address",
                     "email no es una dirección de correo");
  if (use)
    {
      if (!rules_receiver (up, regime, use, zip, fe))
        return false;
    }
  *doc = json_pack ("{s:s, s:s, s:s, s:s}", "legal_name", name, "tax_id", up,
                    "tax_system", regime, "zip", zip);
  if (email)
    json_object_set_new (*doc, "email", json_string (email));
  if (use)
    json_object_set_new (*doc, "use", json_string (use));
  return true;
}

static json_t *
customer_json (const struct store_customer *c)
{
  json_error_t je;
  json_t *o = json_loads (c->doc ? c->doc : "{}", 0, &je);
  if (o == NULL)
    o = json_object ();
  json_object_set_new (o, "id", api_id_json (c->id));
  json_object_set_new (o, "created_at", api_time_json (c->created_at));
  json_object_set_new (o, "updated_at", api_time_json (c->updated_at));
  return o;
}

static void
fill_row (struct store_customer *row, const json_t *doc)
{
  const char *v;
  v = json_string_value (json_object_get (doc, "tax_id"));
  snprintf (row->rfc, sizeof row->rfc, "%s", v ? v : "");
  v = json_string_value (json_object_get (doc, "legal_name"));
  snprintf (row->name, sizeof row->name, "%s", v ? v : "");
  v = json_string_value (json_object_get (doc, "email"));
  snprintf (row->email, sizeof row->email, "%s", v ? v : "");
  free (row->doc);
  row->doc = json_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS);
}

static enum store_status
create_fn (struct store *s, struct api_post *p)
{
  struct store_customer row;
  memset (&row, 0, sizeof row);
  fill_row (&row, p->arg);
  enum store_status st = store_customer_insert (s, p->rq->tenant_id, &row);
  if (st == STORE_NONE)
    api_error_answer (p, ERR_CUSTOMER_EXISTS, "tax_id");
  else if (st > 0)
    api_json_answer (p, 201, customer_json (&row));
  store_customer_clear (&row);
  return st < 0 ? st : STORE_ONE;
}

enum MHD_Result
api_customers_post (struct req *rq)
{
  json_t *doc = NULL;
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  if (!customer_check (rq->json, &doc, &fe))
    return reply_ferr (rq, 400, &fe);
  enum MHD_Result r = api_post_run (rq, create_fn, doc);
  json_decref (doc);
  return r;
}

enum MHD_Result
api_customers_get_id (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  struct store_customer row;
  memset (&row, 0, sizeof row);
  enum store_status st
      = store_customer_get (rq->app->store, rq->tenant_id, id, &row);
  enum MHD_Result r;
  if (st == STORE_NONE)
    r = reply_error (rq, ERR_NOT_FOUND, NULL);
  else if (st < 0)
    r = api_store_failed (rq, st);
  else
    r = reply_json (rq, 200, customer_json (&row));
  store_customer_clear (&row);
  return r;
}

struct patch
{
  int64_t id;
  const json_t *body;
  struct ferr fe;
  bool invalid;
  struct api_post p;
};

static enum store_status
patch_tx (struct store *s, void *arg)
{
  struct patch *x = arg;
  struct api_post *p = &x->p;
  struct store_customer row;
  memset (&row, 0, sizeof row);
  x->invalid = false;
  enum store_status st = store_customer_get (s, p->rq->tenant_id, x->id, &row);
  if (st < 0)
    return st;
  if (st == STORE_NONE)
    {
      api_error_answer (p, ERR_NOT_FOUND, NULL);
      return STORE_ONE;
    }
  json_error_t je;
  json_t *merged = json_loads (row.doc ? row.doc : "{}", 0, &je);
  if (merged == NULL)
    merged = json_object ();
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)x->body, k, v)
  {
    if (json_is_null (v))
      json_object_del (merged, k);
    else
      json_object_set (merged, k, v);
  }
  json_t *doc = NULL;
  bool ok = customer_check (merged, &doc, &x->fe);
  json_decref (merged);
  if (!ok)
    {
      x->invalid = true;
      store_customer_clear (&row);
      api_error_answer (p, ERR_INVALID_FIELD, NULL);
      return STORE_ONE;
    }
  fill_row (&row, doc);
  json_decref (doc);
  st = store_customer_update (s, p->rq->tenant_id, &row);
  if (st == STORE_NONE)
    api_error_answer (p, ERR_NOT_FOUND, NULL);
  else if (st > 0)
    {
      store_customer_clear (&row);
      st = store_customer_get (s, p->rq->tenant_id, x->id, &row);
      if (st > 0)
        api_json_answer (p, 200, customer_json (&row));
    }
  store_customer_clear (&row);
  return st < 0 ? st : STORE_ONE;
}

enum MHD_Result
api_customers_patch_id (struct req *rq)
{
  struct patch x;
  memset (&x, 0, sizeof x);
  if (!api_param_id (rq, 0, &x.id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  x.body = rq->json;
  x.p.rq = rq;
  enum store_status st = store_tx (rq->app->store, patch_tx, &x);
  enum MHD_Result r;
  if (st < 0)
    r = api_store_failed (rq, st);
  else if (x.invalid)
    r = reply_ferr (rq, 400, &x.fe);
  else
    r = reply_json_text (rq, (unsigned)x.p.status, x.p.body,
                         strlen (x.p.body));
  free (x.p.body);
  return r;
}

enum MHD_Result
api_customers_delete_id (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  enum store_status st
      = store_customer_delete (rq->app->store, rq->tenant_id, id);
  if (st == STORE_NONE)
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  if (st < 0)
    return api_store_failed (rq, st);
  return reply_empty (rq, 204);
}

enum MHD_Result
api_customers_get (struct req *rq)
{
  int limit;
  int64_t cursor, next = 0;
  if (!api_page_args (rq, &limit, &cursor))
    return MHD_YES;
  struct store_customer *rows = NULL;
  size_t n = 0;
  enum store_status st = store_customer_list (rq->app->store, rq->tenant_id,
                                              cursor, limit, &rows, &n, &next);
  if (st < 0)
    return api_store_failed (rq, st);
  json_t *data = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (data, customer_json (&rows[i]));
  store_customer_list_free (rows, n);
  return reply_json (rq, 200,
                     json_pack ("{s:o, s:o}", "data", data, "next_cursor",
                                api_cursor_json (next)));
}
