/*
 * products.c — /v1/products: the merchant's catalogue.
 *
 *   POST /v1/products          create (201; idempotent with a key)
 *   GET  /v1/products          list (newest first; limit, cursor)
 *   GET  /v1/products/{id}     one
 *   PATCH /v1/products/{id}    merge-patch (null removes an optional field)
 *   DELETE /v1/products/{id}   204
 *
 * A product has exactly the fields of a ticket item's "product" and is
 * checked by the same reader (invoice_items_from_json), so any stored
 * product can be pasted into a ticket as it is.  It is stored as its
 * canonical JSON document plus the indexed sku and name columns.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/ticket.h"
#include "store/store.h"

/* Checks body as a product; on success *doc is its canonical form (new
 * reference).  On failure fe names the field as the client sent it. */
static bool
product_check (const json_t *body, json_t **doc, struct ferr *fe)
{
  struct ticket t;
  ticket_init (&t);
  json_t *items = json_pack ("[{s:O}]", "product", body);
  bool ok = invoice_items_from_json (items, &t.inv, fe)
            && invoice_item_compute (&t.inv.items[0], 2, 0, fe);
  json_decref (items);
  if (ok)
    {
      json_t *arr = ticket_items_json (&t);
      *doc
          = json_incref (json_object_get (json_array_get (arr, 0), "product"));
      json_decref (arr);
    }
  else
    {
      /* "items[0].product.price" -> "price" */
      const char *pfx = "items[0].product.";
      size_t n = strlen (pfx);
      if (strncmp (fe->field, pfx, n) == 0)
        memmove (fe->field, fe->field + n, strlen (fe->field + n) + 1);
      else if (strcmp (fe->field, "items[0].product") == 0
               || strncmp (fe->field, "items", 5) == 0)
        fe->field[0] = '\0';
    }
  ticket_free (&t);
  return ok;
}

static json_t *
product_json (const struct store_product *p)
{
  json_error_t je;
  json_t *o = json_loads (p->doc ? p->doc : "{}", 0, &je);
  if (o == NULL)
    o = json_object ();
  json_object_set_new (o, "id", api_id_json (p->id));
  json_object_set_new (o, "created_at", api_time_json (p->created_at));
  json_object_set_new (o, "updated_at", api_time_json (p->updated_at));
  return o;
}

static void
fill_row (struct store_product *row, const json_t *doc)
{
  const char *sku = json_string_value (json_object_get (doc, "sku"));
  const char *name = json_string_value (json_object_get (doc, "description"));
  snprintf (row->sku, sizeof row->sku, "%s", sku ? sku : "");
  snprintf (row->name, sizeof row->name, "%s", name ? name : "");
  free (row->doc);
  row->doc = json_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS);
}

static enum store_status
create_fn (struct store *s, struct api_post *p)
{
  const json_t *doc = p->arg;
  struct store_product row;
  memset (&row, 0, sizeof row);
  fill_row (&row, doc);
  enum store_status st = store_product_insert (s, p->rq->tenant_id, &row);
  if (st == STORE_NONE)
    api_error_answer (p, ERR_PRODUCT_EXISTS, "sku");
  else if (st > 0)
    api_json_answer (p, 201, product_json (&row));
  store_product_clear (&row);
  return st < 0 ? st : STORE_ONE;
}

enum MHD_Result
api_products_post (struct req *rq)
{
  json_t *doc = NULL;
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  if (!product_check (rq->json, &doc, &fe))
    return reply_ferr (rq, 400, &fe);
  if (json_string_length (json_object_get (doc, "sku")) > 63)
    {
      json_decref (doc);
      return reply_error (rq, ERR_INVALID_FIELD, "sku");
    }
  enum MHD_Result r = api_post_run (rq, create_fn, doc);
  json_decref (doc);
  return r;
}

enum MHD_Result
api_products_get_id (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  struct store_product row;
  memset (&row, 0, sizeof row);
  enum store_status st
      = store_product_get (rq->app->store, rq->tenant_id, id, &row);
  enum MHD_Result r;
  if (st == STORE_NONE)
    r = reply_error (rq, ERR_NOT_FOUND, NULL);
  else if (st < 0)
    r = api_store_failed (rq, st);
  else
    r = reply_json (rq, 200, product_json (&row));
  store_product_clear (&row);
  return r;
}

struct patch
{
  int64_t id;
  const json_t *body;
  struct ferr fe;
  bool invalid;
};

static enum store_status
patch_fn (struct store *s, struct api_post *p)
{
  struct patch *x = p->arg;
  struct store_product row;
  memset (&row, 0, sizeof row);
  enum store_status st = store_product_get (s, p->rq->tenant_id, x->id, &row);
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
  x->invalid = false;
  if (!product_check (merged, &doc, &x->fe))
    {
      x->invalid = true;
      json_decref (merged);
      store_product_clear (&row);
      api_error_answer (p, ERR_INVALID_FIELD, NULL);
      return STORE_ONE;
    }
  json_decref (merged);
  fill_row (&row, doc);
  json_decref (doc);
  st = store_product_update (s, p->rq->tenant_id, &row);
  if (st == STORE_NONE)
    api_error_answer (p, ERR_PRODUCT_EXISTS, "sku");
  else if (st > 0)
    {
      store_product_clear (&row);
      st = store_product_get (s, p->rq->tenant_id, x->id, &row);
      if (st > 0)
        api_json_answer (p, 200, product_json (&row));
    }
  store_product_clear (&row);
  return st < 0 ? st : STORE_ONE;
}

static enum store_status
patch_tx (struct store *s, void *arg)
{
  return patch_fn (s, arg);
}

enum MHD_Result
api_products_patch_id (struct req *rq)
{
  struct patch x;
  memset (&x, 0, sizeof x);
  if (!api_param_id (rq, 0, &x.id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  x.body = rq->json;
  struct api_post p;
  memset (&p, 0, sizeof p);
  p.rq = rq;
  p.arg = &x;
  enum store_status st = store_tx (rq->app->store, patch_tx, &p);
  enum MHD_Result r;
  if (st < 0)
    r = api_store_failed (rq, st);
  else if (x.invalid)
    r = reply_ferr (rq, 400, &x.fe);
  else
    r = reply_json_text (rq, (unsigned)p.status, p.body, strlen (p.body));
  free (p.body);
  return r;
}

enum MHD_Result
api_products_delete_id (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  enum store_status st
      = store_product_delete (rq->app->store, rq->tenant_id, id);
  if (st == STORE_NONE)
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  if (st < 0)
    return api_store_failed (rq, st);
  return reply_empty (rq, 204);
}

enum MHD_Result
api_products_get (struct req *rq)
{
  int limit;
  int64_t cursor, next = 0;
  if (!api_page_args (rq, &limit, &cursor))
    return MHD_YES;
  struct store_product *rows = NULL;
  size_t n = 0;
  enum store_status st = store_product_list (rq->app->store, rq->tenant_id,
                                             cursor, limit, &rows, &n, &next);
  if (st < 0)
    return api_store_failed (rq, st);
  json_t *data = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (data, product_json (&rows[i]));
  store_product_list_free (rows, n);
  return reply_json (rq, 200,
                     json_pack ("{s:o, s:o}", "data", data, "next_cursor",
                                api_cursor_json (next)));
}
