/*
 * http_web.c — forms, cookies and HTML replies for the web pages (see
 * http_web.h).
 *
 * The JSON API's replies (http/reply.c) carry a Content-Security-Policy
 * that forbids everything, forms included; pages need their own: scripts,
 * styles and images from this origin only, forms posting to this origin
 * only, no inline script or style, no framing.  That policy lives here,
 * in one place, for every HTML page.
 */
#include "web/http_web.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/log.h"

#define PAGE_CSP                                                              \
  "default-src 'none'; script-src 'self'; style-src 'self'; "                 \
  "img-src 'self'; connect-src 'self'; form-action 'self'; "                  \
  "frame-ancestors 'none'; base-uri 'none'"

/* ------------------------------------------------------------------ */
/* Forms                                                              */
/* ------------------------------------------------------------------ */

static int
hexval (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower (c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes s[0..n) ('+' = space, %XX); NULL if it holds a NUL or is too
 * long once decoded. */
static char *
decode (const char *s, size_t n)
{
  char *out = xmalloc (n + 1);
  size_t j = 0;
  for (size_t i = 0; i < n; i++)
    {
      int c = (unsigned char)s[i];
      if (c == '+')
        c = ' ';
      else if (c == '%' && i + 2 < n && hexval (s[i + 1]) >= 0
               && hexval (s[i + 2]) >= 0)
        {
          c = hexval (s[i + 1]) * 16 + hexval (s[i + 2]);
          i += 2;
        }
      if (c == 0)
        {
          free (out);
          return NULL;
        }
      out[j++] = (char)c;
    }
  out[j] = '\0';
  if (j > WEB_FORM_MAX_VALUE)
    {
      free (out);
      return NULL;
    }
  return out;
}

void
web_form_free (struct web_form *f)
{
  if (f == NULL)
    return;
  for (size_t i = 0; i < f->n; i++)
    {
      free (f->name[i]);
      free (f->value[i]);
    }
  memset (f, 0, sizeof *f);
}

bool
web_form_parse (const char *body, size_t len, struct web_form *f)
{
  memset (f, 0, sizeof *f);
  size_t i = 0;
  while (i < len)
    {
      size_t j = i;
      while (j < len && body[j] != '&')
        j++;
      if (j > i)
        {
          const char *eq = memchr (body + i, '=', j - i);
          size_t nl = eq ? (size_t)(eq - (body + i)) : j - i;
          if (f->n >= WEB_FORM_MAX_FIELDS)
            goto bad;
          char *name = decode (body + i, nl);
          char *value = eq ? decode (eq + 1, j - i - nl - 1) : xstrdup ("");
          if (name == NULL || value == NULL)
            {
              free (name);
              free (value);
              goto bad;
            }
          f->name[f->n] = name;
          f->value[f->n] = value;
          f->n++;
        }
      i = j + 1;
    }
  return true;
bad:
  web_form_free (f);
  return false;
}

const char *
web_form_get_nth (const struct web_form *f, const char *name, size_t k)
{
  for (size_t i = 0; i < f->n; i++)
    if (strcmp (f->name[i], name) == 0 && k-- == 0)
      return f->value[i];
  return NULL;
}

const char *
web_form_get (const struct web_form *f, const char *name)
{
  return web_form_get_nth (f, name, 0);
}

/* ------------------------------------------------------------------ */
/* Request facts                                                      */
/* ------------------------------------------------------------------ */

const char *
web_cookie (struct req *rq, const char *name)
{
  return MHD_lookup_connection_value (rq->conn, MHD_COOKIE_KIND, name);
}

void
web_client_addr (struct req *rq, char *out, size_t n)
{
  snprintf (out, n, "?");
  const union MHD_ConnectionInfo *ci
      = MHD_get_connection_info (rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (ci == NULL || ci->client_addr == NULL)
    return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop (AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
               (socklen_t)n);
  else if (sa->sa_family == AF_INET6)
    inet_ntop (AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
               (socklen_t)n);
  /* Behind a reverse proxy every request comes from the proxy: when the
   * peer is FACTURO_TRUSTED_PROXY, the client is the last address the
   * proxy appended to X-Forwarded-For. */
  const char *proxy = getenv ("FACTURO_TRUSTED_PROXY");
  const char *xff = req_header (rq, "X-Forwarded-For");
  if (proxy && *proxy && xff && strcmp (proxy, out) == 0)
    {
      const char *last = strrchr (xff, ',');
      last = last ? last + 1 : xff;
      while (*last == ' ')
        last++;
      size_t len = strlen (last);
      while (len > 0 && last[len - 1] == ' ')
        len--;
      bool ok = len > 0 && len < 46;
      for (size_t i = 0; ok && i < len; i++)
        ok = isxdigit ((unsigned char)last[i]) || last[i] == '.'
             || last[i] == ':';
      if (ok)
        snprintf (out, n, "%.*s", (int)len, last);
    }
}

bool
web_secure (const struct req *rq)
{
  return strncmp (rq->app->cfg.base_url, "https:", 6) == 0;
}

const char *
web_data_dir (void)
{
  const char *d = getenv ("FACTURO_DATA");
  return d && *d ? d : FACTURO_DATADIR;
}

/* ------------------------------------------------------------------ */
/* Replies                                                            */
/* ------------------------------------------------------------------ */

static void
page_headers (struct req *rq, struct MHD_Response *r, bool cache)
{
  MHD_add_response_header (r, "Content-Security-Policy", PAGE_CSP);
  MHD_add_response_header (r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header (r, "X-Frame-Options", "DENY");
  MHD_add_response_header (r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header (r, "Cross-Origin-Opener-Policy", "same-origin");
  MHD_add_response_header (r, "Cross-Origin-Resource-Policy", "same-origin");
  MHD_add_response_header (r, "Permissions-Policy",
                           "camera=(), microphone=(), geolocation=()");
  MHD_add_response_header (r, "Cache-Control",
                           cache ? "public, max-age=3600" : "no-store");
  if (web_secure (rq))
    MHD_add_response_header (r, "Strict-Transport-Security",
                             "max-age=31536000");
  MHD_add_response_header (r, "X-Request-Id", rq->request_id);
  if (rq->app->stopping)
    MHD_add_response_header (r, MHD_HTTP_HEADER_CONNECTION, "close");
}

static enum MHD_Result
queue (struct req *rq, unsigned status, struct MHD_Response *r, size_t len)
{
  if (r == NULL)
    return MHD_NO;
  if (rq->replied)
    {
      log_error ("request %s: second reply (%u) ignored", rq->request_id,
                 status);
      MHD_destroy_response (r);
      return MHD_YES;
    }
  enum MHD_Result ret = MHD_queue_response (rq->conn, status, r);
  MHD_destroy_response (r);
  rq->replied = true;
  rq->status = status;
  rq->reply_bytes = len;
  return ret;
}

enum MHD_Result
web_reply_html (struct req *rq, unsigned status, const char *html, size_t len,
                const char *const *cookies, size_t n)
{
  struct MHD_Response *r = MHD_create_response_from_buffer (
      len, (void *)html, MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE,
                           "text/html; charset=utf-8");
  page_headers (rq, r, false);
  for (size_t i = 0; i < n; i++)
    MHD_add_response_header (r, MHD_HTTP_HEADER_SET_COOKIE, cookies[i]);
  return queue (rq, status, r, len);
}

enum MHD_Result
web_reply_redirect (struct req *rq, const char *location,
                    const char *const *cookies, size_t n)
{
  struct MHD_Response *r = MHD_create_response_from_buffer (
      0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header (r, MHD_HTTP_HEADER_LOCATION, location);
  page_headers (rq, r, false);
  for (size_t i = 0; i < n; i++)
    MHD_add_response_header (r, MHD_HTTP_HEADER_SET_COOKIE, cookies[i]);
  return queue (rq, 303, r, 0);
}

enum MHD_Result
web_reply_bytes (struct req *rq, unsigned status, const char *content_type,
                 const void *data, size_t len, const char *download,
                 bool cache)
{
  struct MHD_Response *r = MHD_create_response_from_buffer (
      len, (void *)data, MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (download)
    {
      char cd[256];
      snprintf (cd, sizeof cd, "attachment; filename=\"%s\"", download);
      MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, cd);
    }
  page_headers (rq, r, cache);
  return queue (rq, status, r, len);
}

/* ------------------------------------------------------------------ */
/* Static files                                                       */
/* ------------------------------------------------------------------ */

enum MHD_Result
web_get_static (struct req *rq)
{
  static const struct
  {
    const char *ext, *type;
  } types[] = { { ".css", "text/css; charset=utf-8" },
                { ".js", "text/javascript; charset=utf-8" },
                { ".svg", "image/svg+xml" },
                { ".png", "image/png" } };
  const char *name = rq->params[0];
  const char *dot = strrchr (name, '.');
  const char *type = NULL;
  bool ok = dot != NULL && dot > name;
  for (const char *p = name; ok && p < dot; p++)
    if (!(islower ((unsigned char)*p) || isdigit ((unsigned char)*p)
          || *p == '-' || *p == '_'))
      ok = false;
  for (size_t i = 0; ok && i < sizeof types / sizeof types[0]; i++)
    if (strcmp (dot, types[i].ext) == 0)
      type = types[i].type;
  if (!ok || type == NULL)
    return web_reply_bytes (rq, 404, "text/plain; charset=utf-8",
                            "not found\n", 10, NULL, false);
  char path[1024];
  snprintf (path, sizeof path, "%s/static/%s", web_data_dir (), name);
  struct buf b = BUF_INIT;
  if (read_file (path, &b, 1u << 20) != 0)
    {
      buf_free (&b);
      return web_reply_bytes (rq, 404, "text/plain; charset=utf-8",
                              "not found\n", 10, NULL, false);
    }
  enum MHD_Result ret = web_reply_bytes (rq, 200, type, b.data ? b.data : "",
                                         b.len, NULL, true);
  buf_free (&b);
  return ret;
}
