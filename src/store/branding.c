/*
 * branding.c — reading a merchant's branding JSON (see branding.h).
 *
 * Owns the decoding of the branding's logo, shared by the portal (served
 * as /{merchant}/logo) and every place that renders an invoice's PDF, so
 * both apply the same types and the same size bound.  Bounded before
 * decoding: a base64 text longer than the largest allowed logo needs is
 * refused without allocating for it.
 */
#include "store/branding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

static const char *const logo_types[]
    = { "image/png", "image/jpeg", "image/svg+xml", "image/webp" };

const char *
branding_image_type (const unsigned char *p, size_t n)
{
  if (n > 8 && memcmp (p, "\x89PNG\r\n\x1a\n", 8) == 0)
    return "image/png";
  if (n > 3 && memcmp (p, "\xFF\xD8\xFF", 3) == 0)
    return "image/jpeg";
  return NULL;
}

bool
branding_logo (const char *branding, struct buf *out, const char **type)
{
  if (branding == NULL || branding[0] == '\0')
    return false;
  json_t *b = json_loads (branding, 0, NULL);
  const char *logo = json_string_value (json_object_get (b, "logo"));
  const char *ty = NULL, *data = NULL;
  for (size_t i = 0; logo && i < sizeof logo_types / sizeof logo_types[0]; i++)
    {
      char pre[48];
      snprintf (pre, sizeof pre, "data:%s;base64,", logo_types[i]);
      if (strncmp (logo, pre, strlen (pre)) == 0)
        {
          ty = logo_types[i];
          data = logo + strlen (pre);
        }
    }
  bool ok = false;
  size_t dlen = data ? strlen (data) : 0;
  if (dlen > 0 && dlen < BRANDING_MAX_LOGO * 4 / 3 + 8)
    {
      unsigned char *bin = xmalloc (BRANDING_MAX_LOGO + 8);
      size_t len = 0;
      if (sodium_base642bin (bin, BRANDING_MAX_LOGO + 8, data, dlen, " \n",
                             &len, NULL, sodium_base64_VARIANT_ORIGINAL)
              == 0
          && len > 0 && len <= BRANDING_MAX_LOGO)
        {
          buf_append (out, bin, len);
          if (type)
            *type = ty;
          ok = true;
        }
      free (bin);
    }
  json_decref (b);
  return ok;
}

bool
branding_pdf_logo (const char *branding, struct buf *out)
{
  struct buf lg = BUF_INIT;
  bool ok = branding_logo (branding, &lg, NULL)
            && branding_image_type ((const unsigned char *)lg.data, lg.len);
  if (ok)
    buf_append (out, lg.data, lg.len);
  buf_free (&lg);
  return ok;
}
