/*
 * branding.h — a merchant's branding: the JSON object in the tenant's
 * `branding` column (struct store_tenant.branding).
 *
 * Keys read by facturo: "display_name", "color", "accent" (the portal,
 * docs/portal.md), "logo" (a data: URI; the portal's /{merchant}/logo and
 * the printed invoice) and "mail" (the outbox, docs/mail.md).  Written by
 * `facturo tenant brand` (admin.c) and `facturo tenant mail`.  One
 * decoder of the logo for every reader, so the portal and the PDF agree
 * on what a valid logo is.
 */
#ifndef FACTURO_BRANDING_H
#define FACTURO_BRANDING_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Largest logo, in bytes once decoded. */
#define BRANDING_MAX_LOGO (256u * 1024)

/* "image/png" or "image/jpeg" when p[0..n) starts with that format's
 * magic bytes (PNG signature; JPEG SOI + marker), else NULL.  A static
 * string; p may be NULL when n is 0. */
const char *branding_image_type (const unsigned char *p, size_t n);

/* Decodes the "logo" of the branding JSON text `branding` (may be NULL):
 * a data: URI, base64, of type image/png, image/jpeg, image/svg+xml or
 * image/webp, at most BRANDING_MAX_LOGO bytes decoded.  On success the
 * bytes are appended to *out, *type (if not NULL) gets the declared type
 * (a static string) and true is returned.  False, *out unchanged, when
 * there is no logo or it is malformed, too large or of another type. */
bool branding_logo (const char *branding, struct buf *out, const char **type);

/* The logo for the printed invoice (pdf_options.logo): as branding_logo,
 * but only a logo whose bytes really are PNG or JPEG (branding_image_type)
 * — the PDF renderer takes nothing else.  False, *out unchanged, when
 * there is none. */
bool branding_pdf_logo (const char *branding, struct buf *out);

#endif
