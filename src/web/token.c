/*
 * token.c — see token.h.
 */
#include "web/token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
mac (const uint8_t secret[TOKEN_SECRET_BYTES], const char *purpose,
     const char *body, size_t len, uint8_t out[crypto_auth_hmacsha256_BYTES])
{
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init (&st, secret, TOKEN_SECRET_BYTES);
  crypto_auth_hmacsha256_update (&st, (const uint8_t *) purpose,
                                 strlen (purpose) + 1);
  crypto_auth_hmacsha256_update (&st, (const uint8_t *) body, len);
  crypto_auth_hmacsha256_final (&st, out);
}

static void
b64 (struct buf *out, const void *p, size_t n)
{
  size_t cap = sodium_base64_ENCODED_LEN (n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *tmp = xmalloc (cap);
  sodium_bin2base64 (tmp, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  buf_puts (out, tmp);
  free (tmp);
}

void
token_make (const uint8_t secret[TOKEN_SECRET_BYTES], const char *purpose,
            const char *payload, time_t expires, struct buf *out)
{
  uint8_t m[crypto_auth_hmacsha256_BYTES];
  struct buf body = BUF_INIT;
  b64 (&body, payload, strlen (payload));
  buf_printf (&body, ".%lld", (long long) expires);
  mac (secret, purpose, body.data, body.len, m);
  buf_append (out, body.data, body.len);
  buf_putc (out, '.');
  b64 (out, m, sizeof m);
  buf_free (&body);
}

bool
token_check (const uint8_t secret[TOKEN_SECRET_BYTES], const char *purpose,
             const char *token, time_t now, struct buf *out)
{
  uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
  size_t got_len = 0;
  if (token == NULL || strlen (token) > 4096)
    return false;
  const char *last = strrchr (token, '.');
  if (last == NULL || last == token)
    return false;
  size_t body_len = (size_t) (last - token);
  if (sodium_base642bin (got, sizeof got, last + 1, strlen (last + 1), NULL,
                         &got_len, NULL,
                         sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0
      || got_len != sizeof got)
    return false;
  mac (secret, purpose, token, body_len, want);
  if (sodium_memcmp (want, got, sizeof want) != 0)
    return false;
  /* Authentic: now parse "payload.expiry". */
  const char *dot = memchr (token, '.', body_len);
  if (dot == NULL)
    return false;
  long long exp = 0;
  for (const char *p = dot + 1; p < last; p++)
    {
      if (*p < '0' || *p > '9' || exp > 1000000000000LL)
        return false;
      exp = exp * 10 + (*p - '0');
    }
  if ((long long) now > exp)
    return false;
  size_t plen = (size_t) (dot - token);
  uint8_t *payload = xmalloc (plen + 1);
  size_t n = 0;
  bool ok = sodium_base642bin (payload, plen + 1, token, plen, NULL, &n, NULL,
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING)
            == 0;
  if (ok)
    {
      buf_reset (out);
      buf_append (out, payload, n);
    }
  free (payload);
  return ok;
}

bool
pow_check (const char *challenge, const char *nonce, int bits)
{
  uint8_t h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_state st;
  if (challenge == NULL || nonce == NULL || strlen (nonce) > 64 || bits < 0
      || bits > 32)
    return false;
  crypto_hash_sha256_init (&st);
  crypto_hash_sha256_update (&st, (const uint8_t *) challenge,
                             strlen (challenge));
  crypto_hash_sha256_update (&st, (const uint8_t *) ":", 1);
  crypto_hash_sha256_update (&st, (const uint8_t *) nonce, strlen (nonce));
  crypto_hash_sha256_final (&st, h);
  for (int i = 0; i < bits; i++)
    if (h[i / 8] & (0x80 >> (i % 8)))
      return false;
  return true;
}
