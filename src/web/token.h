/*
 * token.h — signed, expiring tokens for the web pages.
 *
 * One mechanism serves CSRF tokens, "remember my fiscal data" cookies,
 * document download links and proof-of-work challenges: a payload, an
 * expiry and an HMAC-SHA256 over both under the server's secret, written
 * as URL-safe base64 "payload.expiry.mac".  Nothing is stored; a token
 * is valid if its MAC verifies (constant time) and it has not expired.
 * Payloads are not encrypted: never put a secret in one.
 */
#ifndef FACTURO_TOKEN_H
#define FACTURO_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

#define TOKEN_SECRET_BYTES 32

/* Appends a token for payload (any bytes except NUL) valid until
 * `expires` (UTC seconds) to out.  `purpose` ("csrf", "dl", …) is mixed
 * into the MAC so a token made for one use is refused for another. */
void token_make (const uint8_t secret[TOKEN_SECRET_BYTES],
                 const char *purpose, const char *payload, time_t expires,
                 struct buf *out);

/* Checks token against purpose at time now.  On success copies the
 * payload into out (reset first) and returns true.  False for anything
 * malformed, forged or expired. */
bool token_check (const uint8_t secret[TOKEN_SECRET_BYTES],
                  const char *purpose, const char *token, time_t now,
                  struct buf *out);

/* Proof of work: true if SHA-256(challenge ":" nonce) starts with `bits`
 * zero bits.  The browser searches for such a nonce; the server checks it
 * in one hash. */
bool pow_check (const char *challenge, const char *nonce, int bits);

#endif
