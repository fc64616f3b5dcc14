/*
 * doc_resource.h — the CRUD handlers shared by /v1/products and
 * /v1/customers (api-internal).
 *
 * Both resources are a checked, canonical JSON document stored with a
 * few indexed columns (store_doc_* in store/store.h); they differ only in
 * how a body is checked, which columns are indexed and which errors a
 * refusal names.  A resource file describes itself with one struct
 * api_doc_kind and hands its routes to the api_doc_* functions.
 */
#ifndef FACTURO_API_DOC_RESOURCE_H
#define FACTURO_API_DOC_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/ferr.h"
#include "http/http.h"
#include "store/store.h"

struct api_doc_kind
{
  enum store_doc_kind store;
  /* Offsets of the row struct's id, created_at, updated_at and doc. */
  size_t off_id, off_created, off_updated, off_doc;
  /* Checks body; on success *doc is its canonical form (new reference);
   * on failure fe names the field as the client sent it. */
  bool (*check) (const json_t *body, json_t **doc, struct ferr *fe);
  /* After a successful check on create: a field to refuse with
   * invalid_field, or NULL.  May be NULL. */
  const char *(*refuse) (const json_t *doc);
  /* Sets the row's indexed columns and its doc text from doc. */
  void (*fill) (void *row, const json_t *doc);
  /* What answers the store's STORE_NONE on insert and on update. */
  enum http_err insert_none, update_none;
  const char *insert_none_field, *update_none_field;
};

#define API_DOC_ROW(type_)                                                    \
  .off_id = offsetof (type_, id),                                             \
  .off_created = offsetof (type_, created_at),                                \
  .off_updated = offsetof (type_, updated_at),                                \
  .off_doc = offsetof (type_, doc)

/* POST: check, create (201; idempotent with a key). */
enum MHD_Result api_doc_post (struct req *rq, const struct api_doc_kind *k);
/* GET /{id}: one (404 when absent). */
enum MHD_Result api_doc_get_id (struct req *rq, const struct api_doc_kind *k);
/* PATCH /{id}: JSON merge-patch (null removes a field), checked again. */
enum MHD_Result api_doc_patch_id (struct req *rq,
                                  const struct api_doc_kind *k);
/* DELETE /{id}: 204, 404 when absent. */
enum MHD_Result api_doc_delete_id (struct req *rq,
                                   const struct api_doc_kind *k);
/* GET: newest first, {"data": [...], "next_cursor": ...}. */
enum MHD_Result api_doc_list (struct req *rq, const struct api_doc_kind *k);

#endif
