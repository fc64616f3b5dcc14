/*
 * fuzz_csd.c — libFuzzer harness for the CSD certificate and key loader.
 *
 * Input layout: the first two bytes (big endian) give the length of the
 * certificate part, the rest is the key; the password is fixed
 * ("12345678a", SAT's test password) so that seeds built from real pairs
 * reach the decryption and key-matching code.  Also feeds the whole input
 * to csd_cert_parse (DER and base64 paths) and, when a certificate
 * parses, signs and verifies with what loaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfdi/csd.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferr e;
  struct csd_cert *c = csd_cert_parse (data, size, &e);
  if (c != NULL)
    {
      csd_cert_check_time (c, 1700000000, &e);
      csd_cert_verify (c, "||x||", 5, "AAAA", &e);
      csd_cert_free (c);
    }
  if (size < 2)
    return 0;
  size_t cer_len = ((size_t)data[0] << 8) | data[1];
  if (cer_len > size - 2)
    cer_len = size - 2;
  const uint8_t *cer = data + 2;
  const uint8_t *key = cer + cer_len;
  size_t key_len = size - 2 - cer_len;
  /* a time inside the SAT test certificates' validity */
  struct csd *s
      = csd_load (cer, cer_len, key, key_len, "12345678a", 1800000000, &e);
  if (s != NULL)
    {
      struct buf b = BUF_INIT;
      if (csd_sign (s, "||4.0|x||", 9, &b, &e))
        csd_cert_verify (csd_cert (s), "||4.0|x||", 9, b.data, &e);
      buf_free (&b);
      csd_free (s);
    }
  return 0;
}
