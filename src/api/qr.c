/*
 * qr.c — GET /v1/tickets/{id}/qr?format=png|svg: the QR code a point of
 * sale prints on the ticket, holding the ticket's self_invoice_url
 * (base URL / merchant slug / t / unguessable key), so the shopper's
 * phone opens the portal with the ticket already found.
 *
 * libqrencode makes the matrix (level M, 8-bit mode); PNG is written
 * with libpng (1-bit grayscale, 8 pixels per module, 4-module quiet zone
 * as ISO/IEC 18004 asks), SVG as one path of unit squares.  The URL is
 * at most ~1 KiB (base_url is bounded by the config), so the symbol and
 * the image stay small.
 */
#include "api/api.h"
#include "api/issue.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"

#define QR_SCALE 8 /* pixels per module (PNG) */
#define QR_QUIET 4 /* modules of quiet zone on each side */

static void
png_out (png_structp p, png_bytep data, png_size_t len)
{
  buf_append ((struct buf *)png_get_io_ptr (p), data, len);
}

static void
png_flush (png_structp p)
{
  (void)p;
}

/* Writes the symbol as PNG into *out.  False on a libpng failure. */
static bool
qr_png (const QRcode *q, struct buf *out)
{
  int w = q->width + 2 * QR_QUIET;
  int px = w * QR_SCALE;
  png_structp p
      = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  if (p == NULL)
    return false;
  png_infop info = png_create_info_struct (p);
  unsigned char *row = NULL;
  if (info == NULL || setjmp (png_jmpbuf (p)))
    {
      free (row);
      png_destroy_write_struct (&p, &info);
      return false;
    }
  png_set_write_fn (p, out, png_out, png_flush);
  png_set_IHDR (p, info, (png_uint_32)px, (png_uint_32)px, 1,
                PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (p, info);
  size_t rb = ((size_t)px + 7) / 8;
  row = xmalloc (rb);
  for (int y = 0; y < px; y++)
    {
      int my = y / QR_SCALE - QR_QUIET;
      memset (row, 0xff, rb); /* white */
      for (int x = 0; x < px; x++)
        {
          int mx = x / QR_SCALE - QR_QUIET;
          if (my >= 0 && my < q->width && mx >= 0 && mx < q->width
              && (q->data[my * q->width + mx] & 1))
            row[x / 8] &= (unsigned char)~(0x80 >> (x % 8));
        }
      png_write_row (p, row);
    }
  png_write_end (p, NULL);
  free (row);
  png_destroy_write_struct (&p, &info);
  return true;
}

static void
qr_svg (const QRcode *q, struct buf *out)
{
  int w = q->width + 2 * QR_QUIET;
  buf_printf (out,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
              " width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
              "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
              "<path fill=\"#000\" d=\"",
              w, w, w * QR_SCALE, w * QR_SCALE, w, w);
  for (int y = 0; y < q->width; y++)
    for (int x = 0; x < q->width; x++)
      if (q->data[y * q->width + x] & 1)
        buf_printf (out, "M%d %dh1v1h-1z", x + QR_QUIET, y + QR_QUIET);
  buf_puts (out, "\"/></svg>\n");
}

enum MHD_Result
api_tickets_get_id_qr (struct req *rq)
{
  int64_t id;
  if (!api_param_id (rq, 0, &id))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  const char *fmt = req_query (rq, "format");
  bool svg = false;
  if (fmt && strcmp (fmt, "svg") == 0)
    svg = true;
  else if (fmt && *fmt && strcmp (fmt, "png") != 0)
    return reply_error (rq, ERR_INVALID_PARAMETER, "format");
  struct store_ticket t;
  memset (&t, 0, sizeof t);
  enum store_status st
      = store_ticket_get (rq->app->store, rq->tenant_id, id, &t);
  if (st != STORE_ONE)
    {
      store_ticket_clear (&t);
      return st == STORE_NONE ? reply_error (rq, ERR_NOT_FOUND, NULL)
                              : api_store_failed (rq, st);
    }
  /* The same URL the ticket's answer carries (api/tickets.c). */
  char url[1024];
  snprintf (url, sizeof url, "%s/%s/t/%s", rq->app->cfg.base_url,
            rq->tenant_slug, t.key);
  store_ticket_clear (&t);
  QRcode *q = QRcode_encodeString (url, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (q == NULL)
    {
      log_error ("request %s: qrencode failed", rq->request_id);
      return reply_error (rq, ERR_INTERNAL, NULL);
    }
  struct buf img = BUF_INIT;
  bool ok = true;
  if (svg)
    qr_svg (q, &img);
  else
    ok = qr_png (q, &img);
  QRcode_free (q);
  enum MHD_Result ret
      = ok ? reply_text (rq, 200, svg ? "image/svg+xml" : "image/png",
                         img.data ? img.data : "", img.len)
           : reply_error (rq, ERR_INTERNAL, NULL);
  buf_free (&img);
  return ret;
}
