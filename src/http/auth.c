/*
 * auth.c — API-key authentication: "Authorization: Bearer <key>" to a
 * tenant.
 *
 * The key is looked up by the store (constant-time hash comparison,
 * revoked keys refused) and never copied, logged or kept beyond the
 * request: MHD owns the header and we only pass a pointer along.  Every
 * failure — no header, another scheme, a malformed, unknown or revoked
 * key — gets the same 401, so a caller learns nothing about which keys
 * exist.
 */
#include "http/http.h"

#include <string.h>
#include <strings.h>

#include "store/store.h"
#include "util/log.h"

struct auth_tx
{
  const char *key;
  int64_t tenant_id, key_id;
  struct store_tenant tenant;
};

static enum store_status
auth_fn (struct store *s, void *arg)
{
  struct auth_tx *a = arg;
  enum store_status st
      = store_apikey_lookup (s, a->key, &a->tenant_id, &a->key_id);
  if (st != STORE_ONE)
    return st;
  store_tenant_clear (&a->tenant);
  return store_tenant_get (s, a->tenant_id, &a->tenant);
}

bool
auth_api_key (struct req *rq)
{
  const char *h = req_header (rq, MHD_HTTP_HEADER_AUTHORIZATION);
  if (h == NULL || strncasecmp (h, "Bearer ", 7) != 0)
    {
      reply_error (rq, ERR_UNAUTHORIZED, NULL);
      return false;
    }
  const char *key = h + 7;
  while (*key == ' ')
    key++;
  if (strlen (key) != STORE_APIKEY_LEN)
    {
      reply_error (rq, ERR_UNAUTHORIZED, NULL);
      return false;
    }
  struct auth_tx a;
  memset (&a, 0, sizeof a);
  a.key = key;
  store_tenant_init (&a.tenant);
  enum store_status st = store_tx_read (rq->app->store, auth_fn, &a);
  if (st == STORE_ONE)
    {
      rq->tenant_id = a.tenant_id;
      rq->apikey_id = a.key_id;
      snprintf (rq->tenant_slug, sizeof rq->tenant_slug, "%s", a.tenant.slug);
      struct ferr fe;
      memset (&fe, 0, sizeof fe);
      rq->tz = tz_get (a.tenant.timezone, &fe);
      if (rq->tz == NULL)
        {
          log_warn ("request %s: tenant %s: %s", rq->request_id,
                    rq->tenant_slug, fe.message);
          st = STORE_HARD;
        }
    }
  store_tenant_clear (&a.tenant);
  if (st == STORE_ONE)
    return true;
  if (st == STORE_NONE)
    reply_error (rq, ERR_UNAUTHORIZED, NULL);
  else
    {
      log_warn ("request %s: key lookup failed (store %d)", rq->request_id,
                (int)st);
      reply_error (rq, ERR_UNAVAILABLE, NULL);
    }
  return false;
}
