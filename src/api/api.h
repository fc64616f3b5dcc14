/*
 * api.h — the JSON API handlers (/v1), one file per resource.
 *
 * Every handler is named after its route (STYLE.md §2) and is only ever
 * called by the router (http/router.c) for a request it can serve: the
 * API key is valid (rq->tenant_id set), the body is within the route's
 * limit and, for routes with a body, rq->json is a JSON object.
 */
#ifndef FACTURO_API_H
#define FACTURO_API_H

#include "http/http.h"

/* Body limits, bytes (the router refuses larger bodies with 413). */
#define API_MAX_BODY_SMALL (16 * 1024)    /* products, customers */
#define API_MAX_BODY_TICKET (1024 * 1024) /* ≤ 1000 items */
#define API_LIST_MAX_LIMIT 200
#define API_LIST_DEFAULT_LIMIT 50

/* ---- common.c: helpers every resource uses ---- */

struct store;
struct api_post;

/* The object-creating part of a POST, run inside the store transaction
 * by api_post_run: sets p->status and p->body (malloc'd JSON text, the
 * answer or an error from reply_error_text) and returns STORE_ONE, or a
 * store error to abort. */
typedef enum store_status (*api_post_fn) (struct store *s, struct api_post *p);

struct api_post
{
  struct req *rq;
  void *arg;  /* the handler's own state */
  int status; /* answer status */
  char *body; /* answer body (JSON text); owned */
};

/* Runs a POST with Idempotency-Key semantics: in one transaction, claims
 * the key (if any), runs fn, records fn's answer with the key; then
 * queues the answer, or the first answer's replay (same request), or 409
 * (another request under the same key), or 503 when the store fails. */
enum MHD_Result api_post_run (struct req *rq, api_post_fn fn, void *arg);

/* Path parameter i as a positive id; false if it is not one. */
bool api_param_id (struct req *rq, int i, int64_t *id);

/* Reads ?limit (1..API_LIST_MAX_LIMIT, default API_LIST_DEFAULT_LIMIT)
 * and ?cursor (opaque, from next_cursor).  False with 400 queued. */
bool api_page_args (struct req *rq, int *limit, int64_t *cursor);

/* The opaque cursor text for an id (0 = JSON null). New reference. */
json_t *api_cursor_json (int64_t next);

/* Queues 503 (transient) or 500 for a failed store call. */
enum MHD_Result api_store_failed (struct req *rq, int status);

/* Sets *body to the error text and *status to its HTTP status. */
void api_error_answer (struct api_post *p, enum http_err e, const char *field);

/* Sets the answer from a JSON value (stolen). */
void api_json_answer (struct api_post *p, int status, json_t *v);

/* An id as JSON (string, since int64 does not fit a JS number). */
json_t *api_id_json (int64_t id);

/* UTC seconds as "YYYY-MM-DDTHH:MM:SSZ". */
json_t *api_time_json (int64_t t);

/* tickets.c */
enum MHD_Result api_tickets_post (struct req *rq);
enum MHD_Result api_tickets_get (struct req *rq);
enum MHD_Result api_tickets_get_id (struct req *rq);
enum MHD_Result api_tickets_post_id_cancel (struct req *rq);

/* products.c */
enum MHD_Result api_products_post (struct req *rq);
enum MHD_Result api_products_get (struct req *rq);
enum MHD_Result api_products_get_id (struct req *rq);
enum MHD_Result api_products_patch_id (struct req *rq);
enum MHD_Result api_products_delete_id (struct req *rq);

/* customers.c */
enum MHD_Result api_customers_post (struct req *rq);
enum MHD_Result api_customers_get (struct req *rq);
enum MHD_Result api_customers_get_id (struct req *rq);
enum MHD_Result api_customers_patch_id (struct req *rq);
enum MHD_Result api_customers_delete_id (struct req *rq);

#endif
