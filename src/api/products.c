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
 * canonical JSON document plus the indexed sku and name columns; the
 * handlers themselves are api/doc_resource.c's, shared with customers.
 */
#include "api/api.h"
#include "api/doc_resource.h"

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

static void
fill_row (void *r, const json_t *doc)
{
  struct store_product *row = r;
  const char *sku = json_string_value (json_object_get (doc, "sku"));
  const char *name = json_string_value (json_object_get (doc, "description"));
  snprintf (row->sku, sizeof row->sku, "%s", sku ? sku : "");
  snprintf (row->name, sizeof row->name, "%s", name ? name : "");
  free (row->doc);
  row->doc = json_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS);
}

/* The sku column holds 63 bytes: a longer one is refused on create. */
static const char *
product_refuse (const json_t *doc)
{
  return json_string_length (json_object_get (doc, "sku")) > 63 ? "sku" : NULL;
}

static const struct api_doc_kind product_kind = {
  .store = STORE_DOC_PRODUCT,
  API_DOC_ROW (struct store_product),
  .check = product_check,
  .refuse = product_refuse,
  .fill = fill_row,
  .insert_none = ERR_PRODUCT_EXISTS,
  .insert_none_field = "sku",
  .update_none = ERR_PRODUCT_EXISTS,
  .update_none_field = "sku",
};

enum MHD_Result
api_products_post (struct req *rq)
{
  return api_doc_post (rq, &product_kind);
}

enum MHD_Result
api_products_get_id (struct req *rq)
{
  return api_doc_get_id (rq, &product_kind);
}

enum MHD_Result
api_products_patch_id (struct req *rq)
{
  return api_doc_patch_id (rq, &product_kind);
}

enum MHD_Result
api_products_delete_id (struct req *rq)
{
  return api_doc_delete_id (rq, &product_kind);
}

enum MHD_Result
api_products_get (struct req *rq)
{
  return api_doc_list (rq, &product_kind);
}
