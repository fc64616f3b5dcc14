/*
 * http.h — the HTTP layer's one interface: the request context handed to
 * handlers, the route table's row type, replies and errors.
 *
 * The router (router.c) decides everything a handler must not: 404, 405,
 * authentication and tenant, rate limit, the body-size limit (413) and
 * JSON well-formedness.  A handler therefore receives only requests it can
 * serve, reads rq->json / rq->params, and queues exactly one reply through
 * reply_*().  All request memory hangs off struct req and is released in
 * one place: the libmicrohttpd completion callback (server.c).
 */
#ifndef FACTURO_HTTP_H
#define FACTURO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "app.h"
#include "core/ferr.h"
#include "util/buf.h"
#include "util/tz.h"

/* ------------------------------------------------------------------ */
/* Errors (errors.def)                                                */
/* ------------------------------------------------------------------ */

enum http_err
{
#define ERR(name, status, code, en, es) ERR_##name,
#include "http/errors.def"
#undef ERR
  ERR__COUNT
};

/* HTTP status and stable code of an error. */
unsigned http_err_status (enum http_err e);
const char *http_err_code (enum http_err e);

/* ------------------------------------------------------------------ */
/* Requests and routes                                                */
/* ------------------------------------------------------------------ */

enum route_auth
{
  AUTH_PUBLIC,  /* no credentials */
  AUTH_API_KEY, /* Authorization: Bearer <api key>; sets tenant */
  AUTH_SESSION, /* staff/customer session cookie (web/, later) */
};

#define REQ_MAX_PARAMS 4
#define REQ_PARAM_MAX 128 /* longest path parameter accepted, bytes */

struct req;
typedef enum MHD_Result (*route_handler) (struct req *rq);

struct route
{
  const char *method;  /* "GET", "POST", … */
  const char *pattern; /* "/v1/tickets/{id}/cancel"; {x} = one segment */
  route_handler handler;
  enum route_auth auth;
  size_t max_body; /* bytes; 0 = no body accepted */
};

struct req
{
  struct app *app;
  struct MHD_Connection *conn;
  const struct route *route; /* NULL when no route matched */
  int route_index;           /* index in the table, -1 if none */
  char method[16];
  char *path;            /* without query string; owned */
  char request_id[17];   /* 16 hex digits, also X-Request-Id */
  struct timespec start; /* CLOCK_MONOTONIC */
  const char *lang;      /* "en" or "es" (Accept-Language) */

  /* Set by the router for AUTH_API_KEY routes. */
  int64_t tenant_id;
  char tenant_slug[64];
  int64_t apikey_id;
  const struct tz *tz; /* the tenant's zone (util/tz.h), never NULL */

  char params[REQ_MAX_PARAMS][REQ_PARAM_MAX]; /* {…} segments, in order */
  int nparams;

  struct buf body; /* raw body, at most route->max_body bytes */
  bool body_too_large;
  json_t *json; /* parsed body for routes with max_body > 0 */

  unsigned status; /* status of the reply queued, 0 = none */
  bool replied;
  size_t reply_bytes;

  void *ctx; /* handler state, freed with ctx_free */
  void (*ctx_free) (void *);
};

/* The route table (router.c), terminated by a row with method NULL. */
extern const struct route http_routes[];
/* Number of rows in http_routes. */
size_t http_route_count (void);

/* Matches method + path.  Returns the route index, or -1 with *path_found
 * telling 404 (false) from 405 (true).  Fills rq->params. */
int router_match (struct req *rq, const char *method, const char *path,
                  bool *path_found);

/* Writes the Allow header value for path (methods of every route whose
 * pattern matches) into out. */
void router_allow (const char *path, char *out, size_t n);

/* Prints the table, one "METHOD PATTERN AUTH MAX_BODY" line per route. */
void router_print (FILE *f);

/* Everything the router does before a handler runs (server.c calls it on
 * the first callback): match, auth, rate limit, Content-Length.  Returns
 * true if the request may proceed to its handler; false if a reply was
 * queued (rq->replied). */
bool router_admit (struct req *rq);

/* Called once the whole body is in: 413, JSON parse, handler. */
enum MHD_Result router_dispatch (struct req *rq);

/* Query-string argument, or NULL. */
const char *req_query (struct req *rq, const char *name);
/* Request header, or NULL. */
const char *req_header (struct req *rq, const char *name);

/* ------------------------------------------------------------------ */
/* Replies (reply.c)                                                  */
/* ------------------------------------------------------------------ */

/* Queues a JSON reply; steals `body`. */
enum MHD_Result reply_json (struct req *rq, unsigned status, json_t *body);
/* Queues a JSON reply from text (copied), e.g. an idempotent replay. */
enum MHD_Result reply_json_text (struct req *rq, unsigned status,
                                 const char *text, size_t len);
/* Queues {"error":{code,message,field}} with the error's status.
 * field may be NULL. */
enum MHD_Result reply_error (struct req *rq, enum http_err e,
                             const char *field);
/* Same with an explicit code and message (validation errors from core/). */
enum MHD_Result reply_ferr (struct req *rq, unsigned status,
                            const struct ferr *fe);
/* Plain text reply (metrics, health). */
enum MHD_Result reply_text (struct req *rq, unsigned status,
                            const char *content_type, const char *text,
                            size_t len);
/* 204 No Content. */
enum MHD_Result reply_empty (struct req *rq, unsigned status);

/* Adds the hardening headers every response carries. */
void reply_secure_headers (struct MHD_Response *r);

/* Error body text (for storage with an idempotency record). */
char *reply_error_text (struct req *rq, enum http_err e, const char *field);

/* ------------------------------------------------------------------ */
/* Metrics (metrics.c) and rate limits (ratelimit.c)                  */
/* ------------------------------------------------------------------ */

/* nroutes counters plus one for "unmatched". */
struct metrics *metrics_new (size_t nroutes);
void metrics_free (struct metrics *m);
/* route = index or -1; latency in microseconds. */
void metrics_observe (struct metrics *m, int route, unsigned status,
                      uint64_t latency_us);
/* Appends the Prometheus text exposition. */
void metrics_render (struct metrics *m, struct buf *out);

/* Token bucket per key id: `rate` tokens per second, `burst` at most. */
struct ratelimit *ratelimit_new (unsigned rate, unsigned burst);
void ratelimit_free (struct ratelimit *rl);
/* Takes one token for key.  True if allowed; false with *retry_after set
 * (whole seconds, ≥ 1) when the bucket is empty. */
bool ratelimit_take (struct ratelimit *rl, int64_t key, unsigned *retry_after);

/* ------------------------------------------------------------------ */
/* Authentication (auth.c) and idempotency (idempotency.c)            */
/* ------------------------------------------------------------------ */

/* Checks Authorization: Bearer <key> and fills tenant_id, tenant_slug,
 * apikey_id and tz (the tenant's zone, tz_get).  False with 401 (or 503)
 * queued. */
bool auth_api_key (struct req *rq);

/* The request's Idempotency-Key: NULL if absent.  *bad is set when the
 * header is present but not 1..255 printable ASCII characters. */
const char *idem_key (struct req *rq, bool *bad);

/* Hex SHA-256 over method, path and body: "same request" for replays. */
void idem_request_hash (struct req *rq, char out[65]);

/* Queues the replay of a recorded answer (status, body) with the header
 * Idempotent-Replayed: true. */
enum MHD_Result idem_replay (struct req *rq, int status, const char *body);

#endif
