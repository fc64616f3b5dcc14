/*
 * track.c — the links a mailed invoice carries (signed, expiring download
 * links and the tracking image) and the events they record.  See jobs.h.
 *
 * A link is a web/token.h token: payload "tenant.invoice.job.file" under
 * purpose "mail-dl" (downloads) or "mail-open" (image), so a token made
 * for one use is refused for the other and nothing is stored to check
 * it.  The payload is signed, not encrypted: it holds ids only.
 */
#include "jobs/jobs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/log.h"

#define PURPOSE_DL "mail-dl"
#define PURPOSE_OPEN "mail-open"

/* GIF89a, 1x1, one transparent pixel. */
const unsigned char mail_pixel_gif[]
    = { 0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b };
const size_t mail_pixel_gif_len = sizeof mail_pixel_gif;

static void
make (const uint8_t secret[TOKEN_SECRET_BYTES], const char *purpose,
      const char *base_url, const char *path, int64_t tenant_id,
      int64_t invoice_id, int64_t job_id, const char *file, time_t expires,
      const char *suffix, struct buf *out)
{
  char payload[128];
  snprintf (payload, sizeof payload, "%" PRId64 ".%" PRId64 ".%" PRId64 ".%s",
            tenant_id, invoice_id, job_id, file);
  buf_puts (out, base_url ? base_url : "");
  buf_puts (out, path);
  token_make (secret, purpose, payload, expires, out);
  buf_puts (out, suffix);
}

void
mail_link_download (const uint8_t secret[TOKEN_SECRET_BYTES],
                    const char *base_url, int64_t tenant_id,
                    int64_t invoice_id, int64_t job_id, const char *file,
                    time_t expires, struct buf *out)
{
  make (secret, PURPOSE_DL, base_url, "/_mail/d/", tenant_id, invoice_id, job_id,
        file, expires, "", out);
}

void
mail_link_pixel (const uint8_t secret[TOKEN_SECRET_BYTES],
                 const char *base_url, int64_t tenant_id, int64_t invoice_id,
                 int64_t job_id, time_t expires, struct buf *out)
{
  make (secret, PURPOSE_OPEN, base_url, "/_mail/t/", tenant_id, invoice_id,
        job_id, "", expires, ".gif", out);
}

/* Parses "T.I.J.F" strictly: three positive decimal ids and a file name
 * from the allowed list. */
static bool
parse_payload (const char *p, bool want_file, struct mail_link *out)
{
  int64_t v[3];
  for (int k = 0; k < 3; k++)
    {
      int64_t x = 0;
      const char *start = p;
      while (*p >= '0' && *p <= '9')
        {
          if (x > (INT64_MAX - 9) / 10)
            return false;
          x = x * 10 + (*p++ - '0');
        }
      if (p == start || *p != '.')
        return false;
      p++;
      v[k] = x;
    }
  memset (out, 0, sizeof *out);
  out->tenant_id = v[0];
  out->invoice_id = v[1];
  out->job_id = v[2];
  if (!want_file)
    return *p == '\0';
  if (strcmp (p, "pdf") != 0 && strcmp (p, "xml") != 0)
    return false;
  strcpy (out->file, p);
  return out->tenant_id > 0 && out->invoice_id > 0;
}

static bool
check (const uint8_t secret[TOKEN_SECRET_BYTES], const char *purpose,
       const char *token, time_t now, bool want_file, struct mail_link *out)
{
  struct buf payload = BUF_INIT;
  bool ok = token_check (secret, purpose, token, now, &payload)
            && payload.data != NULL
            && parse_payload (payload.data, want_file, out);
  buf_free (&payload);
  return ok;
}

bool
mail_link_check_download (const uint8_t secret[TOKEN_SECRET_BYTES],
                          const char *token, time_t now,
                          struct mail_link *out)
{
  return check (secret, PURPOSE_DL, token, now, true, out);
}

bool
mail_link_check_pixel (const uint8_t secret[TOKEN_SECRET_BYTES],
                       const char *token, time_t now, struct mail_link *out)
{
  return check (secret, PURPOSE_OPEN, token, now, false, out);
}

struct track_arg
{
  const struct mail_link *l;
  const char *kind;
};

/* In one transaction: skip "opened" if this job's opening is already in
 * the timeline, else add the event. */
static enum store_status
tx_track (struct store *s, void *arg)
{
  struct track_arg *a = arg;
  const struct mail_link *l = a->l;
  bool is_open = strcmp (a->kind, "opened") == 0;
  if (is_open)
    {
      struct store_event *ev = NULL;
      size_t n = 0;
      enum store_status st
          = store_event_list (s, l->tenant_id, l->invoice_id, &ev, &n);
      if (st < 0)
        return st;
      bool seen = false;
      for (size_t i = 0; i < n && !seen; i++)
        if (strcmp (ev[i].kind, "opened") == 0 && ev[i].detail != NULL)
          {
            json_t *d = json_loads (ev[i].detail, 0, NULL);
            json_t *job = json_object_get (d, "job");
            seen = json_is_integer (job)
                   && json_integer_value (job) == l->job_id;
            json_decref (d);
          }
      store_event_list_free (ev, n);
      if (seen)
        return STORE_ONE;
    }
  json_t *d = json_pack ("{s:I}", "job", (json_int_t) l->job_id);
  if (!is_open)
    json_object_set_new (d, "file", json_string (l->file));
  char *detail = json_dumps (d, JSON_COMPACT);
  json_decref (d);
  enum store_status st = store_event_add (s, l->tenant_id, l->invoice_id, 0,
                                          a->kind, "recipient", detail, NULL);
  free (detail);
  return st;
}

enum store_status
mail_track_opened (struct store *s, const struct mail_link *l)
{
  struct track_arg a = { l, "opened" };
  return store_tx (s, tx_track, &a);
}

enum store_status
mail_track_downloaded (struct store *s, const struct mail_link *l)
{
  struct track_arg a = { l, "downloaded" };
  return store_tx (s, tx_track, &a);
}

/* The attachment name the mail used: <series><folio>_<UUID>.<ext>. */
static void
file_name (const struct store_invoice *inv, const char *ext, char *out,
           size_t size)
{
  char folio[24] = "";
  if (inv->folio > 0)
    snprintf (folio, sizeof folio, "%" PRId64, inv->folio);
  if (inv->series[0] || folio[0])
    snprintf (out, size, "%s%s_%s.%s", inv->series, folio, inv->uuid, ext);
  else
    snprintf (out, size, "%s.%s", inv->uuid[0] ? inv->uuid : "factura", ext);
}

void
mail_download (struct store *s, const uint8_t secret[TOKEN_SECRET_BYTES],
               const char *token, time_t now, struct mail_download *out)
{
  memset (out, 0, sizeof *out);
  out->status = 404;
  struct mail_link l;
  if (!mail_link_check_download (secret, token, now, &l))
    return;
  struct store_invoice inv = { 0 };
  enum store_status st
      = store_invoice_get (s, l.tenant_id, l.invoice_id, true, &inv);
  if (st != STORE_ONE)
    {
      out->status = st == STORE_NONE ? 404 : 503;
      store_invoice_clear (&inv);
      return;
    }
  bool pdf = strcmp (l.file, "pdf") == 0;
  unsigned char **doc = pdf ? &inv.pdf : &inv.xml;
  size_t len = pdf ? inv.pdf_len : inv.xml_len;
  if (*doc == NULL)
    {
      store_invoice_clear (&inv);
      return;
    }
  out->body = *doc;
  out->len = len;
  *doc = NULL;
  out->content_type = pdf ? "application/pdf" : "application/xml";
  file_name (&inv, l.file, out->filename, sizeof out->filename);
  out->status = 200;
  store_invoice_clear (&inv);
  if (mail_track_downloaded (s, &l) < 0)
    log_warn ("mail: download of invoice %" PRId64 "/%" PRId64
              " not recorded",
              l.tenant_id, l.invoice_id);
}

void
mail_download_clear (struct mail_download *d)
{
  if (d == NULL)
    return;
  free (d->body);
  memset (d, 0, sizeof *d);
}

void
mail_pixel_hit (struct store *s, const uint8_t secret[TOKEN_SECRET_BYTES],
                const char *token, time_t now)
{
  if (token == NULL)
    return;
  size_t n = strlen (token);
  if (n > 4096)
    return;
  char *t = xstrndup (token, n);
  if (n > 4 && strcmp (t + n - 4, ".gif") == 0)
    t[n - 4] = '\0';
  struct mail_link l;
  if (mail_link_check_pixel (secret, t, now, &l)
      && mail_track_opened (s, &l) < 0)
    log_warn ("mail: opening of invoice %" PRId64 "/%" PRId64
              " not recorded",
              l.tenant_id, l.invoice_id);
  free (t);
}
