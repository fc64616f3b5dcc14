/*
 * idempotency.c — the Idempotency-Key header (every POST honours it).
 *
 * The key itself is recorded by the store in the same transaction as the
 * object it created (store_idem_begin / store_idem_finish, called by the
 * handlers): the same key with the same request replays the first answer,
 * with another request it is a 409.  "Same request" means same method,
 * path and body bytes, compared through a SHA-256.
 */
#include "http/http.h"

#include <string.h>

#include <sodium.h>

const char *
idem_key (struct req *rq, bool *bad)
{
  *bad = false;
  const char *k = req_header (rq, "Idempotency-Key");
  if (k == NULL)
    return NULL;
  size_t n = strlen (k);
  if (n == 0 || n > 255)
    {
      *bad = true;
      return NULL;
    }
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e)
      {
        *bad = true;
        return NULL;
      }
  return k;
}

void
idem_request_hash (struct req *rq, char out[65])
{
  crypto_hash_sha256_state st;
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_init (&st);
  crypto_hash_sha256_update (&st, (const unsigned char *)rq->method,
                             strlen (rq->method) + 1);
  crypto_hash_sha256_update (&st, (const unsigned char *)rq->path,
                             strlen (rq->path) + 1);
  if (rq->body.len)
    crypto_hash_sha256_update (&st, (const unsigned char *)rq->body.data,
                               rq->body.len);
  crypto_hash_sha256_final (&st, h);
  sodium_bin2hex (out, 65, h, sizeof h);
}

enum MHD_Result
idem_replay (struct req *rq, int status, const char *body)
{
  if (status <= 0 || body == NULL)
    return reply_error (rq, ERR_CONFLICT, NULL);
  struct MHD_Response *r = MHD_create_response_from_buffer (
      strlen (body), (void *)body, MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE,
                           "application/json");
  MHD_add_response_header (r, "Idempotent-Replayed", "true");
  reply_secure_headers (r);
  MHD_add_response_header (r, "X-Request-Id", rq->request_id);
  enum MHD_Result ret = MHD_queue_response (rq->conn, (unsigned)status, r);
  MHD_destroy_response (r);
  rq->replied = true;
  rq->status = (unsigned)status;
  return ret;
}
