/*
 * doc_resource.c — the CRUD handlers behind /v1/products and
 * /v1/customers (see doc_resource.h): one implementation of create, get,
 * merge-patch, delete and list for any resource stored as a JSON
 * document through store_doc_*.
 *
 * A row is the kind's store struct (store_product, store_customer),
 * allocated zeroed with store_doc_size and reached through the offsets
 * the kind gives.  The answer object is the stored document plus "id",
 * "created_at" and "updated_at".
 */
#include "api/doc_resource.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/buf.h"

static int64_t
row_i64 (const void *row, size_t off)
{
  int64_t v;
  memcpy (&v, (const char *)row + off, sizeof v);
  return v;
}

static const char *
row_doc (const void *row, const struct api_doc_kind *k)
{
  const char *doc;
  memcpy (&doc, (const char *)row + k->off_doc, sizeof doc);
  return doc;
}

static void *
row_new (const struct api_doc_kind *k)
{
  return xcalloc (1, store_doc_size (k->store));
}

static void
row_free (const struct api_doc_kind *k, void *row)
{
  store_doc_clear (k->store, row);
  free (row);
}

static json_t *
row_json (const struct api_doc_kind *k, const void *row)
{
  json_error_t je;
  const char *doc = row_doc (row, k);
  json_t *o = json_loads (doc ? doc : "{}", 0, &je);
  if (o == NULL)
    o = json_object ();
  json_object_set_new (o, "id", api_id_json (row_i64 (row, k->off_id)));
  json_object_set_new (o, "created_at",
                       api_time_json (row_i64 (row, k->off_created)));
  json_object_set_new (o, "updated_at",
                       api_time_json (row_i64 (row, k->off_updated)));
  return o;
}

struct create
{
  const struct api_doc_kind *k;
  const json_t *doc;
};

static enum store_status
create_fn (struct store *s, struct api_post *p)
{
  const struct create *c = p->arg;
  void *row = row_new (c->k);
  c->k->fill (row, c->doc);
  enum store_status st
      = store_doc_insert (s, c->k->store, p->rq->tenant_id, row);
  if (st == STORE_NONE)
    api_error_answer (p, c->k->insert_none, c->k->insert_none_field);
  else if (st > 0)
    api_json_answer (p, 201, row_json (c->k, row));
  row_free (c->k, row);
  return st < 0 ? st : STORE_ONE;
}

enum MHD_Result
api_doc_post (struct req *rq, const struct api_doc_kind *k)
{
  json_t *doc = NULL;
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  if (!k->check (rq->json, &doc, &fe))
    return reply_ferr (rq, 400, &fe);
  const char *bad = k->refuse ? k->refuse (doc) : NULL;
  if (bad)
    {
      json_decref (doc);
      return reply_error (rq, ERR_INVALID_FIELD, bad);
    }
  struct create c = { .k = k, .doc = doc };
  enum MHD_Result r = api_post_run (rq, create_fn, &c);
  json_decref (doc);
  return r;
}

enum MHD_Result
api_doc_get_id (struct req *rq, const struct api_doc_kind *k)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  void *row = row_new (k);
  enum store_status st
      = store_doc_get (rq->app->store, k->store, rq->tenant_id, id, row);
  enum MHD_Result r;
  if (st == STORE_NONE)
    r = reply_error (rq, ERR_NOT_FOUND, NULL);
  else if (st < 0)
    r = api_store_failed (rq, st);
  else
    r = reply_json (rq, 200, row_json (k, row));
  row_free (k, row);
  return r;
}

struct patch
{
  const struct api_doc_kind *k;
  int64_t id;
  const json_t *body;
  struct ferr fe;
  bool invalid;
  struct api_post p;
};

/* Runs in one transaction (and again if it is retried): reads the row,
 * merges the patch, checks the result and stores it. */
static enum store_status
patch_tx (struct store *s, void *arg)
{
  struct patch *x = arg;
  const struct api_doc_kind *k = x->k;
  struct api_post *p = &x->p;
  int64_t tenant = p->rq->tenant_id;
  x->invalid = false;
  void *row = row_new (k);
  enum store_status st = store_doc_get (s, k->store, tenant, x->id, row);
  if (st <= 0)
    {
      row_free (k, row);
      if (st < 0)
        return st;
      api_error_answer (p, ERR_NOT_FOUND, NULL);
      return STORE_ONE;
    }
  json_error_t je;
  const char *old = row_doc (row, k);
  json_t *merged = json_loads (old ? old : "{}", 0, &je);
  if (merged == NULL)
    merged = json_object ();
  const char *key;
  json_t *v;
  json_object_foreach ((json_t *)x->body, key, v)
  {
    if (json_is_null (v))
      json_object_del (merged, key);
    else
      json_object_set (merged, key, v);
  }
  json_t *doc = NULL;
  bool ok = k->check (merged, &doc, &x->fe);
  json_decref (merged);
  if (!ok)
    {
      x->invalid = true;
      row_free (k, row);
      api_error_answer (p, ERR_INVALID_FIELD, NULL);
      return STORE_ONE;
    }
  k->fill (row, doc);
  json_decref (doc);
  st = store_doc_update (s, k->store, tenant, row);
  if (st == STORE_NONE)
    api_error_answer (p, k->update_none, k->update_none_field);
  else if (st > 0)
    {
      store_doc_clear (k->store, row);
      st = store_doc_get (s, k->store, tenant, x->id, row);
      if (st > 0)
        api_json_answer (p, 200, row_json (k, row));
    }
  row_free (k, row);
  return st < 0 ? st : STORE_ONE;
}

enum MHD_Result
api_doc_patch_id (struct req *rq, const struct api_doc_kind *k)
{
  struct patch x;
  memset (&x, 0, sizeof x);
  x.k = k;
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
api_doc_delete_id (struct req *rq, const struct api_doc_kind *k)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  enum store_status st
      = store_doc_delete (rq->app->store, k->store, rq->tenant_id, id);
  if (st == STORE_NONE)
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  if (st < 0)
    return api_store_failed (rq, st);
  return reply_empty (rq, 204);
}

enum MHD_Result
api_doc_list (struct req *rq, const struct api_doc_kind *k)
{
  int limit;
  int64_t cursor, next = 0;
  if (!api_page_args (rq, &limit, &cursor))
    return MHD_YES;
  void *rows = NULL;
  size_t n = 0;
  enum store_status st
      = store_doc_list (rq->app->store, k->store, rq->tenant_id, cursor, limit,
                        &rows, &n, &next);
  if (st < 0)
    return api_store_failed (rq, st);
  size_t sz = store_doc_size (k->store);
  json_t *data = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (data, row_json (k, (char *)rows + i * sz));
  store_doc_list_free (k->store, rows, n);
  return reply_json (rq, 200,
                     json_pack ("{s:o, s:o}", "data", data, "next_cursor",
                                api_cursor_json (next)));
}
