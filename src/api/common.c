/*
 * common.c — what every JSON resource handler shares: the idempotent
 * POST runner, ids, pagination cursors and store failures.
 *
 * api_post_run is the one place where Idempotency-Key meets the store:
 * the key is claimed, the object created and the answer recorded in one
 * transaction (store_tx retries the whole of it on transient conflicts),
 * so a crash can never leave an object without its key or a key without
 * its object, and two processes racing on one key end with one object.
 */
#include "api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/ticket.h"
#include "store/store.h"
#include "util/log.h"

struct post_tx
{
  struct post_tx *next; /* group-commit queue */
  bool done;            /* its batch was written (result in st) */
  enum store_status st;
  struct api_post p;
  api_post_fn fn;
  const char *key;
  char hash[65];
  bool replay;
  struct store_idem idem;
};

static enum store_status
post_tx_fn (struct store *s, void *arg)
{
  struct post_tx *x = arg;
  /* May run several times (retries): start clean each time. */
  free (x->p.body);
  x->p.body = NULL;
  x->p.status = 0;
  x->replay = false;
  store_idem_clear (&x->idem);
  enum store_status st;
  if (x->key)
    {
      st = store_idem_begin (s, x->p.rq->tenant_id, x->key, x->hash, &x->idem);
      if (st == STORE_NONE)
        {
          x->replay = true;
          return STORE_ONE;
        }
      if (st < 0)
        return st;
    }
  st = x->fn (s, &x->p);
  if (st < 0)
    return st;
  if (x->p.body == NULL)
    return STORE_HARD;
  if (x->key)
    {
      st = store_idem_finish (s, x->p.rq->tenant_id, x->key, x->p.status,
                              x->p.body);
      if (st < 0)
        return st;
    }
  return STORE_ONE;
}

/* ---- SQLite group commit ------------------------------------------
 * SQLite admits one writer at a time and makes the others sleep in its
 * busy handler, and each commit costs an fsync (synchronous=FULL).  So
 * POSTs queue here instead: the first to find no batch running becomes
 * the leader, takes every queued request (up to GROUP_MAX) and runs them
 * one after the other inside ONE transaction, then wakes them all.  One
 * fsync then acknowledges the whole batch, and nobody is answered before
 * that commit.  Each request's own work (post_tx_fn) keeps its semantics:
 * its idempotency key and object are in the committed transaction or
 * neither is.  Should the batch fail (a hard store error), every request
 * in it gets the error; a soft error retries the whole batch. */

#define GROUP_MAX 64

struct batch
{
  struct post_tx *head;
};

static enum store_status
batch_fn (struct store *s, void *arg)
{
  struct batch *b = arg;
  for (struct post_tx *x = b->head; x; x = x->next)
    {
      enum store_status st = post_tx_fn (s, x);
      if (st < 0)
        return st;
    }
  return STORE_ONE;
}

static enum store_status
group_commit (struct app *app, struct post_tx *me)
{
  pthread_mutex_lock (&app->write_mu);
  /* Append to the FIFO. */
  struct post_tx **tail = (struct post_tx **)&app->write_queue;
  while (*tail)
    tail = &(*tail)->next;
  me->next = NULL;
  me->done = false;
  *tail = me;
  while (!me->done)
    {
      if (app->write_leader)
        {
          pthread_cond_wait (&app->write_cv, &app->write_mu);
          continue;
        }
      /* Lead: take up to GROUP_MAX from the front (me among them). */
      app->write_leader = true;
      struct batch b = { app->write_queue };
      struct post_tx *last = b.head;
      for (int n = 1; n < GROUP_MAX && last->next; n++)
        last = last->next;
      app->write_queue = last->next;
      last->next = NULL;
      pthread_mutex_unlock (&app->write_mu);
      enum store_status st = store_tx (app->store, batch_fn, &b);
      pthread_mutex_lock (&app->write_mu);
      for (struct post_tx *x = b.head, *n; x; x = n)
        {
          n = x->next;
          x->st = st;
          x->done = true;
        }
      app->write_leader = false;
      pthread_cond_broadcast (&app->write_cv);
    }
  pthread_mutex_unlock (&app->write_mu);
  return me->st;
}

enum MHD_Result
api_post_run (struct req *rq, api_post_fn fn, void *arg)
{
  bool bad;
  struct post_tx x;
  memset (&x, 0, sizeof x);
  x.p.rq = rq;
  x.p.arg = arg;
  x.fn = fn;
  x.key = idem_key (rq, &bad);
  if (bad)
    return reply_error (rq, ERR_INVALID_IDEMPOTENCY_KEY, "Idempotency-Key");
  if (x.key)
    idem_request_hash (rq, x.hash);
  enum store_status st;
  if (store_dialect (rq->app->store) == STORE_SQLITE)
    st = group_commit (rq->app, &x);
  else
    st = store_tx (rq->app->store, post_tx_fn, &x);
  enum MHD_Result ret;
  if (st < 0)
    ret = api_store_failed (rq, st);
  else if (x.replay)
    {
      if (strcmp (x.idem.request_hash, x.hash) != 0)
        ret = reply_error (rq, ERR_IDEMPOTENCY_KEY_REUSED, "Idempotency-Key");
      else
        ret = idem_replay (rq, x.idem.status, x.idem.body);
    }
  else
    ret = reply_json_text (rq, (unsigned)x.p.status, x.p.body,
                           strlen (x.p.body));
  free (x.p.body);
  store_idem_clear (&x.idem);
  return ret;
}

bool
api_param_id (struct req *rq, int i, int64_t *id)
{
  if (i >= rq->nparams)
    return false;
  const char *s = rq->params[i];
  if (*s < '1' || *s > '9' || strlen (s) > 18)
    return false;
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (*end != '\0' || errno != 0 || v <= 0)
    return false;
  *id = v;
  return true;
}

bool
api_page_args (struct req *rq, int *limit, int64_t *cursor)
{
  *limit = API_LIST_DEFAULT_LIMIT;
  *cursor = 0;
  const char *l = req_query (rq, "limit");
  if (l)
    {
      char *end;
      long v = strtol (l, &end, 10);
      if (*l == '\0' || *end != '\0' || v < 1 || v > API_LIST_MAX_LIMIT)
        {
          reply_error (rq, ERR_INVALID_PARAMETER, "limit");
          return false;
        }
      *limit = (int)v;
    }
  const char *c = req_query (rq, "cursor");
  if (c && *c)
    {
      unsigned char bin[8];
      size_t n = 0;
      if (strlen (c) > 16
          || sodium_base642bin (bin, sizeof bin, c, strlen (c), NULL, &n, NULL,
                                sodium_base64_VARIANT_URLSAFE_NO_PADDING)
                 != 0
          || n != sizeof bin)
        {
          reply_error (rq, ERR_INVALID_CURSOR, "cursor");
          return false;
        }
      uint64_t v = 0;
      for (size_t i = 0; i < 8; i++)
        v = (v << 8) | bin[i];
      v ^= 0x5a17c0ffee5eed00ULL; /* not a secret: keeps ids from showing */
      if (v == 0 || v > INT64_MAX)
        {
          reply_error (rq, ERR_INVALID_CURSOR, "cursor");
          return false;
        }
      *cursor = (int64_t)v;
    }
  return true;
}

json_t *
api_cursor_json (int64_t next)
{
  if (next <= 0)
    return json_null ();
  uint64_t v = (uint64_t)next ^ 0x5a17c0ffee5eed00ULL;
  unsigned char bin[8];
  for (int i = 7; i >= 0; i--)
    {
      bin[i] = (unsigned char)(v & 0xff);
      v >>= 8;
    }
  char out[32];
  sodium_bin2base64 (out, sizeof out, bin, sizeof bin,
                     sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return json_string (out);
}

enum MHD_Result
api_store_failed (struct req *rq, int status)
{
  if (status == STORE_SOFT)
    return reply_error (rq, ERR_UNAVAILABLE, NULL);
  log_error ("request %s: store failure %d on %s %s", rq->request_id, status,
             rq->method, rq->route ? rq->route->pattern : "?");
  return reply_error (rq, ERR_UNAVAILABLE, NULL);
}

void
api_error_answer (struct api_post *p, enum http_err e, const char *field)
{
  free (p->body);
  p->body = reply_error_text (p->rq, e, field);
  p->status = (int)http_err_status (e);
}

void
api_json_answer (struct api_post *p, int status, json_t *v)
{
  free (p->body);
  p->body = json_dumps (v, JSON_COMPACT);
  json_decref (v);
  p->status = status;
}

json_t *
api_id_json (int64_t id)
{
  char b[24];
  snprintf (b, sizeof b, "%lld", (long long)id);
  return json_string (b);
}

json_t *
api_time_json (int64_t t)
{
  char b[TZ_ISO_MAX];
  tz_format_iso (tz_utc (), t, b);
  /* "…+00:00" -> "…Z" */
  char *p = strstr (b, "+00:00");
  if (p)
    strcpy (p, "Z");
  return json_string (b);
}
