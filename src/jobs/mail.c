/*
 * mail.c — MIME assembly (RFC 5322, 2045–2047, 2231), SMTP submission
 * through libcurl, and mail templates.  See mail.h for the contracts.
 *
 * The message shape is fixed and the one every mail client renders well:
 *   multipart/mixed
 *     multipart/alternative
 *       text/plain; charset=UTF-8   (quoted-printable)
 *       text/html; charset=UTF-8    (quoted-printable)
 *     attachment 1..n               (base64, 76-column lines)
 * Everything is produced with CRLF line ends and no line over 998 bytes,
 * so the bytes pass SMTP untouched (libcurl adds the leading-dot
 * stuffing).  Header values we did not generate are checked for control
 * characters before anything is written: that is what makes header
 * injection impossible, rather than escaping after the fact.
 *
 * Workload: a few messages per second per worker with attachments of some
 * 100 KB; nothing here is clever about speed beyond one pass per part.
 */
#include "jobs/mail.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "web/tmpl.h"

/* ==================================================================== */
/* Checks                                                               */
/* ==================================================================== */

static bool
is_atext (unsigned char c)
{
  return isalnum (c) || strchr ("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool
mail_address_valid (const char *addr)
{
  if (addr == NULL)
    return false;
  size_t n = strlen (addr);
  if (n < 3 || n > MAIL_ADDR_MAX)
    return false;
  const char *at = strrchr (addr, '@');
  if (at == NULL || at == addr || at[1] == '\0' || at - addr > 64)
    return false;
  /* local part: dot-atom */
  bool prev_dot = true;
  for (const char *p = addr; p < at; p++)
    {
      unsigned char c = (unsigned char) *p;
      if (c == '.')
        {
          if (prev_dot)
            return false;
          prev_dot = true;
        }
      else if (c < 0x80 && is_atext (c))
        prev_dot = false;
      else
        return false;
    }
  if (prev_dot)
    return false;
  /* domain: ≥ 2 labels of [A-Za-z0-9-], no leading/trailing '-' */
  int labels = 0;
  const char *p = at + 1;
  while (*p)
    {
      const char *start = p;
      while (*p && *p != '.')
        {
          unsigned char c = (unsigned char) *p;
          if (!(c < 0x80 && (isalnum (c) || c == '-')))
            return false;
          p++;
        }
      size_t len = (size_t) (p - start);
      if (len == 0 || len > 63 || start[0] == '-' || p[-1] == '-')
        return false;
      labels++;
      if (*p == '.')
        {
          p++;
          if (*p == '\0')
            return false;
        }
    }
  return labels >= 2;
}

/* True if s has no control character (tab allowed when tab_ok). */
static bool
clean_value (const char *s, bool tab_ok)
{
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    if ((*p < 0x20 && !(tab_ok && *p == '\t')) || *p == 0x7f)
      return false;
  return true;
}

static bool
is_ascii (const char *s)
{
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    if (*p >= 0x80)
      return false;
  return true;
}

/* ==================================================================== */
/* Encoders                                                             */
/* ==================================================================== */

static const char b64chars[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of n bytes; wrap = 0 for one line, else CRLF every wrap chars
 * (a multiple of 4). */
static void
put_base64 (struct buf *out, const void *data, size_t n, size_t wrap)
{
  const unsigned char *p = data;
  size_t col = 0;
  char q[4];
  for (size_t i = 0; i < n; i += 3)
    {
      unsigned v = (unsigned) p[i] << 16;
      if (i + 1 < n)
        v |= (unsigned) p[i + 1] << 8;
      if (i + 2 < n)
        v |= p[i + 2];
      q[0] = b64chars[(v >> 18) & 63];
      q[1] = b64chars[(v >> 12) & 63];
      q[2] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
      q[3] = i + 2 < n ? b64chars[v & 63] : '=';
      buf_append (out, q, 4);
      col += 4;
      if (wrap && col >= wrap)
        {
          buf_puts (out, "\r\n");
          col = 0;
        }
    }
  if (wrap && col)
    buf_puts (out, "\r\n");
}

/* Quoted-printable (RFC 2045 §6.7) of a UTF-8 text; any line end (LF,
 * CRLF, lone CR) becomes CRLF; lines are soft-broken at 76 columns. */
static void
put_qp (struct buf *out, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t col = 0;
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    {
      unsigned char c = *p;
      if (c == '\r' || c == '\n')
        {
          if (c == '\r' && p[1] == '\n')
            p++;
          buf_puts (out, "\r\n");
          col = 0;
          continue;
        }
      char enc[3];
      size_t w;
      bool at_eol = p[1] == '\0' || p[1] == '\r' || p[1] == '\n';
      if ((c >= 33 && c <= 126 && c != '=')
          || ((c == ' ' || c == '\t') && !at_eol))
        {
          enc[0] = (char) c;
          w = 1;
        }
      else
        {
          enc[0] = '=';
          enc[1] = hex[c >> 4];
          enc[2] = hex[c & 15];
          w = 3;
        }
      if (col + w > 75)
        {
          buf_puts (out, "=\r\n");
          col = 0;
        }
      /* A leading '.' is escaped so the line never reads as SMTP's end
         of data, whatever the transport does. */
      if (col == 0 && c == '.')
        {
          enc[0] = '=';
          enc[1] = '2';
          enc[2] = 'E';
          w = 3;
        }
      buf_append (out, enc, w);
      col += w;
    }
  if (col)
    buf_puts (out, "\r\n");
}

/* Length of the UTF-8 sequence starting at p (1 for a stray byte). */
static size_t
utf8_len (const unsigned char *p)
{
  size_t n = 1;
  if (*p >= 0xf0)
    n = 4;
  else if (*p >= 0xe0)
    n = 3;
  else if (*p >= 0xc0)
    n = 2;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 1;
  return n;
}

/* RFC 2047 "B" encoded words for a UTF-8 phrase, each word at most 75
 * characters and never splitting a character, folded with CRLF SP. */
static void
put_encoded_words (struct buf *out, const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  bool first = true;
  /* "=?UTF-8?B?" + "?=" = 12 chars; 63 chars of base64 = 45 bytes max
     (multiple of 3 keeps padding at the end only). */
  while (*p)
    {
      size_t take = 0;
      while (p[take])
        {
          size_t l = utf8_len (p + take);
          if (take + l > 45)
            break;
          take += l;
        }
      if (!first)
        buf_puts (out, "\r\n ");
      buf_puts (out, "=?UTF-8?B?");
      put_base64 (out, p, take, 0);
      buf_puts (out, "?=");
      p += take;
      first = false;
    }
}

/* A display name as a quoted-string (ASCII) or encoded words. */
static void
put_phrase (struct buf *out, const char *s)
{
  if (!is_ascii (s))
    {
      put_encoded_words (out, s);
      return;
    }
  buf_putc (out, '"');
  for (const char *p = s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        buf_putc (out, '\\');
      buf_putc (out, *p);
    }
  buf_putc (out, '"');
}

/* Unstructured header text (Subject): as is if ASCII and short, else
 * encoded words. */
static void
put_unstructured (struct buf *out, const char *s)
{
  if (is_ascii (s) && strlen (s) <= 900 && strstr (s, "=?") == NULL)
    buf_puts (out, s);
  else
    put_encoded_words (out, s);
}

/* A MIME parameter value: a quoted-string if ASCII.  Otherwise
 * Content-Disposition's filename uses RFC 2231 (filename*=UTF-8''%XX…),
 * the standard that current clients read, and Content-Type's name gets
 * one RFC 2047 encoded word inside quotes — not standard, but what older
 * Outlook versions read, and ignored by the others when filename* is
 * there. */
static void
put_param (struct buf *out, const char *name, const char *value, bool rfc2231)
{
  if (is_ascii (value))
    {
      buf_printf (out, ";\r\n\t%s=\"", name);
      for (const char *p = value; *p; p++)
        {
          if (*p == '"' || *p == '\\')
            buf_putc (out, '\\');
          buf_putc (out, *p);
        }
      buf_putc (out, '"');
      return;
    }
  if (!rfc2231)
    {
      buf_printf (out, ";\r\n\t%s=\"=?UTF-8?B?", name);
      put_base64 (out, value, strlen (value), 0);
      buf_puts (out, "?=\"");
      return;
    }
  buf_printf (out, ";\r\n\t%s*=UTF-8''", name);
  for (const unsigned char *p = (const unsigned char *) value; *p; p++)
    {
      if (isalnum (*p) || strchr ("!#$&+-.^_`|~", *p))
        buf_putc (out, (char) *p);
      else
        buf_printf (out, "%%%02X", *p);
    }
}

static void
put_date (struct buf *out, time_t t)
{
  static const char *days[] = { "Sun", "Mon", "Tue", "Wed",
                                "Thu", "Fri", "Sat" };
  static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  struct tm tm;
  gmtime_r (&t, &tm);
  buf_printf (out, "%s, %02d %s %04d %02d:%02d:%02d +0000",
              days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
              tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
random_hex (char *out, size_t bytes)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char r[32];
  if (bytes > sizeof r)
    bytes = sizeof r;
  randombytes_buf (r, bytes);
  for (size_t i = 0; i < bytes; i++)
    {
      out[2 * i] = hex[r[i] >> 4];
      out[2 * i + 1] = hex[r[i] & 15];
    }
  out[2 * bytes] = '\0';
}

/* ==================================================================== */
/* Building                                                             */
/* ==================================================================== */

#define FAIL(...)                                                          \
  do                                                                       \
    {                                                                      \
      snprintf (err, errlen, __VA_ARGS__);                                 \
      return false;                                                        \
    }                                                                      \
  while (0)

static bool
check_message (const struct mail_message *m, char *err, size_t errlen)
{
  if (!mail_address_valid (m->from_addr))
    FAIL ("invalid sender address");
  if (m->reply_to != NULL && !mail_address_valid (m->reply_to))
    FAIL ("invalid reply-to address");
  if (m->n_to == 0 || m->n_to > MAIL_MAX_TO)
    FAIL ("between 1 and %d recipients are needed", MAIL_MAX_TO);
  for (size_t i = 0; i < m->n_to; i++)
    if (!mail_address_valid (m->to[i]))
      FAIL ("invalid recipient address %zu", i + 1);
  if (m->from_name != NULL
      && (!clean_value (m->from_name, false) || strlen (m->from_name) > 200))
    FAIL ("sender name has control characters or is too long");
  if (m->subject == NULL || !clean_value (m->subject, false)
      || strlen (m->subject) > 2000)
    FAIL ("subject missing, too long or with control characters");
  if (m->message_id != NULL
      && (!clean_value (m->message_id, false) || !is_ascii (m->message_id)
          || m->message_id[0] != '<' || strchr (m->message_id, ' ')
          || strlen (m->message_id) > 250))
    FAIL ("bad message-id");
  if (m->text == NULL)
    FAIL ("text body missing");
  if (m->n_att > MAIL_MAX_ATTACHMENTS)
    FAIL ("more than %d attachments", MAIL_MAX_ATTACHMENTS);
  size_t total = strlen (m->text) + (m->html ? strlen (m->html) : 0);
  for (size_t i = 0; i < m->n_att; i++)
    {
      const struct mail_attachment *a = &m->att[i];
      if (a->filename == NULL || a->filename[0] == '\0'
          || !clean_value (a->filename, false) || strlen (a->filename) > 200
          || strpbrk (a->filename, "/\\") != NULL)
        FAIL ("bad attachment file name %zu", i + 1);
      if (a->content_type != NULL)
        {
          const char *slash = strchr (a->content_type, '/');
          if (slash == NULL || strlen (a->content_type) > 100)
            FAIL ("bad attachment content type %zu", i + 1);
          for (const char *p = a->content_type; *p; p++)
            if (!(isalnum ((unsigned char) *p) || strchr ("/.+-", *p)))
              FAIL ("bad attachment content type %zu", i + 1);
        }
      if (a->len > 0 && a->data == NULL)
        FAIL ("attachment %zu has no data", i + 1);
      total += a->len;
    }
  /* base64 grows by 4/3 plus line ends; text by up to 3x in the worst
     case, but that is bounded by the same limit. */
  if (total / 3 * 4 + 4096 > MAIL_MAX_BYTES)
    FAIL ("message over %u bytes", MAIL_MAX_BYTES);
  return true;
}

static void
put_addr_list (struct buf *out, const char *header, const char *const *a,
               size_t n)
{
  buf_printf (out, "%s: ", header);
  for (size_t i = 0; i < n; i++)
    buf_printf (out, "%s%s", i ? ",\r\n " : "", a[i]);
  buf_puts (out, "\r\n");
}

bool
mail_build (const struct mail_message *m, struct buf *out, char *err,
            size_t errlen)
{
  if (m == NULL || !check_message (m, err, errlen))
    return false;
  if (sodium_init () < 0)
    FAIL ("no random source");

  char seed[33];
  if (m->boundary_seed != NULL && is_ascii (m->boundary_seed)
      && strlen (m->boundary_seed) < sizeof seed
      && strspn (m->boundary_seed,
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "0123456789")
             == strlen (m->boundary_seed))
    strcpy (seed, m->boundary_seed);
  else
    random_hex (seed, 12);
  /* "=_" cannot occur in base64 or quoted-printable output, so the
     boundary never collides with content. */
  char bmix[64], balt[64];
  snprintf (bmix, sizeof bmix, "=_mix_%s", seed);
  snprintf (balt, sizeof balt, "=_alt_%s", seed);

  struct buf b = BUF_INIT;
  buf_puts (&b, "Date: ");
  put_date (&b, m->date ? m->date : time (NULL));
  buf_puts (&b, "\r\nFrom: ");
  if (m->from_name != NULL && m->from_name[0] != '\0')
    {
      put_phrase (&b, m->from_name);
      buf_printf (&b, " <%s>", m->from_addr);
    }
  else
    buf_puts (&b, m->from_addr);
  buf_puts (&b, "\r\n");
  if (m->reply_to != NULL)
    buf_printf (&b, "Reply-To: %s\r\n", m->reply_to);
  put_addr_list (&b, "To", m->to, m->n_to);
  buf_puts (&b, "Subject: ");
  put_unstructured (&b, m->subject);
  buf_puts (&b, "\r\n");
  if (m->message_id != NULL)
    buf_printf (&b, "Message-ID: %s\r\n", m->message_id);
  else
    {
      char id[33];
      random_hex (id, 16);
      buf_printf (&b, "Message-ID: <%s@%s>\r\n", id,
                  strrchr (m->from_addr, '@') + 1);
    }
  buf_puts (&b, "MIME-Version: 1.0\r\n");
  buf_printf (&b, "Content-Type: multipart/mixed;\r\n\tboundary=\"%s\"\r\n"
                  "\r\nThis is a MIME message.\r\n",
              bmix);

  /* the bodies */
  buf_printf (&b, "\r\n--%s\r\n", bmix);
  if (m->html != NULL)
    buf_printf (&b,
                "Content-Type: multipart/alternative;\r\n"
                "\tboundary=\"%s\"\r\n\r\n--%s\r\n",
                balt, balt);
  buf_puts (&b, "Content-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
  put_qp (&b, m->text);
  if (m->html != NULL)
    {
      buf_printf (&b, "\r\n--%s\r\n", balt);
      buf_puts (&b, "Content-Type: text/html; charset=UTF-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
      put_qp (&b, m->html);
      buf_printf (&b, "\r\n--%s--\r\n", balt);
    }

  for (size_t i = 0; i < m->n_att; i++)
    {
      const struct mail_attachment *a = &m->att[i];
      buf_printf (&b, "\r\n--%s\r\nContent-Type: %s", bmix,
                  a->content_type ? a->content_type
                                  : "application/octet-stream");
      put_param (&b, "name", a->filename, false);
      buf_puts (&b, "\r\nContent-Disposition: attachment");
      put_param (&b, "filename", a->filename, true);
      buf_puts (&b, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
      put_base64 (&b, a->data, a->len, 76);
    }
  buf_printf (&b, "\r\n--%s--\r\n", bmix);

  if (b.len > MAIL_MAX_BYTES)
    {
      buf_free (&b);
      FAIL ("message over %u bytes", MAIL_MAX_BYTES);
    }
  buf_append (out, b.data, b.len);
  buf_free (&b);
  return true;
}

/* ==================================================================== */
/* SMTP                                                                 */
/* ==================================================================== */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once (void)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
  if (sodium_init () < 0)
    log_error ("mail: libsodium failed to initialise");
}

void
mail_global_init (void)
{
  pthread_once (&curl_once, curl_init_once);
}

static void
free_secret (char *s)
{
  if (s != NULL)
    {
      sodium_memzero (s, strlen (s));
      free (s);
    }
}

void
mail_smtp_clear (struct mail_smtp *s)
{
  if (s == NULL)
    return;
  free (s->host);
  free (s->user);
  free_secret (s->password);
  free (s->helo);
  free (s->ca_file);
  memset (s, 0, sizeof *s);
}

static char *
pct_decode (const char *p, size_t n)
{
  char *o = xmalloc (n + 1), *q = o;
  for (size_t i = 0; i < n; i++)
    {
      if (p[i] == '%' && i + 2 < n
          && isxdigit ((unsigned char) p[i + 1])
          && isxdigit ((unsigned char) p[i + 2]))
        {
          char h[3] = { p[i + 1], p[i + 2], 0 };
          *q++ = (char) strtol (h, NULL, 16);
          i += 2;
        }
      else
        *q++ = p[i];
    }
  *q = '\0';
  return o;
}

bool
mail_smtp_parse_url (const char *url, struct mail_smtp *s, char *err,
                     size_t errlen)
{
  memset (s, 0, sizeof *s);
  if (url == NULL || strlen (url) > 2048 || !clean_value (url, false))
    FAIL ("SMTP URL missing or too long");
  const char *p;
  if (strncmp (url, "smtp://", 7) == 0)
    {
      p = url + 7;
      s->tls = MAIL_TLS_STARTTLS_TRY;
    }
  else if (strncmp (url, "smtps://", 8) == 0)
    {
      p = url + 8;
      s->tls = MAIL_TLS_IMPLICIT;
    }
  else
    FAIL ("SMTP URL must start with smtp:// or smtps://");
  const char *end = p + strcspn (p, "/?");
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@')
      at = q;
  if (at != NULL)
    {
      const char *colon = memchr (p, ':', (size_t) (at - p));
      if (colon != NULL)
        {
          s->user = pct_decode (p, (size_t) (colon - p));
          s->password = pct_decode (colon + 1, (size_t) (at - colon - 1));
        }
      else
        s->user = pct_decode (p, (size_t) (at - p));
      p = at + 1;
    }
  const char *hend = end;
  if (*p == '[')
    {
      const char *rb = memchr (p, ']', (size_t) (end - p));
      if (rb == NULL)
        goto bad;
      s->host = xstrndup (p + 1, (size_t) (rb - p - 1));
      p = rb + 1;
    }
  else
    {
      const char *colon = memchr (p, ':', (size_t) (end - p));
      hend = colon ? colon : end;
      s->host = xstrndup (p, (size_t) (hend - p));
      p = hend;
    }
  if (s->host[0] == '\0' || strpbrk (s->host, " @"))
    goto bad;
  if (*p == ':')
    {
      char *e;
      long port = strtol (p + 1, &e, 10);
      if (e == p + 1 || e != end || port < 1 || port > 65535)
        goto bad;
      s->port = (int) port;
    }
  else if (p != end)
    goto bad;
  const char *q = strchr (end, '?');
  while (q != NULL && *q)
    {
      q++;
      size_t n = strcspn (q, "&");
      const char *eq = memchr (q, '=', n);
      if (eq == NULL)
        goto bad;
      size_t kl = (size_t) (eq - q);
      char *v = pct_decode (eq + 1, n - kl - 1);
      if (kl == 3 && strncmp (q, "tls", 3) == 0)
        {
          if (strcmp (v, "none") == 0)
            s->tls = MAIL_TLS_NONE;
          else if (strcmp (v, "try") == 0)
            s->tls = MAIL_TLS_STARTTLS_TRY;
          else if (strcmp (v, "starttls") == 0)
            s->tls = MAIL_TLS_STARTTLS;
          else if (strcmp (v, "implicit") == 0)
            s->tls = MAIL_TLS_IMPLICIT;
          else
            {
              free (v);
              goto bad;
            }
          free (v);
        }
      else if (kl == 4 && strncmp (q, "helo", 4) == 0)
        {
          free (s->helo);
          s->helo = v;
        }
      else if (kl == 7 && strncmp (q, "ca_file", 7) == 0)
        {
          free (s->ca_file);
          s->ca_file = v;
        }
      else if (kl == 8 && strncmp (q, "insecure", 8) == 0)
        {
          s->insecure = strcmp (v, "1") == 0;
          free (v);
        }
      else if ((kl == 7 && strncmp (q, "timeout", 7) == 0)
               || (kl == 15 && strncmp (q, "connect_timeout", 15) == 0))
        {
          long t = atol (v);
          free (v);
          if (t < 1 || t > 3600)
            goto bad;
          if (kl == 7)
            s->timeout = t;
          else
            s->connect_timeout = t;
        }
      else
        {
          free (v);
          goto bad;
        }
      q = strchr (q, '&');
    }
  return true;
bad:
  mail_smtp_clear (s);
  FAIL ("malformed SMTP URL");
}

struct upload
{
  const char *p;
  size_t left;
};

static size_t
read_cb (char *dst, size_t size, size_t nmemb, void *arg)
{
  struct upload *u = arg;
  size_t n = size * nmemb;
  if (n > u->left)
    n = u->left;
  memcpy (dst, u->p, n);
  u->p += n;
  u->left -= n;
  return n;
}

/* Keeps the server's reply lines (CURLINFO_HEADER_IN carries SMTP
 * replies), most recent last, each cut at 512 bytes; only the last 8 are
 * kept so a chatty server cannot grow it. */
struct replies
{
  char line[8][513];
  int n; /* lines seen in all */
};

static int
debug_cb (CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
  (void) h;
  struct replies *r = arg;
  if (type != CURLINFO_HEADER_IN)
    return 0;
  size_t i = 0;
  while (i < size)
    {
      size_t j = i;
      while (j < size && data[j] != '\r' && data[j] != '\n')
        j++;
      if (j > i)
        {
          char *l = r->line[r->n % 8];
          size_t n = j - i > 512 ? 512 : j - i;
          for (size_t k = 0; k < n; k++)
            {
              char c = data[i + k];
              l[k] = (c < 0x20 || c == 0x7f) ? ' ' : c;
            }
          l[n] = '\0';
          r->n++;
        }
      while (j < size && (data[j] == '\r' || data[j] == '\n'))
        j++;
      i = j;
    }
  return 0;
}

/* The most recent reply line that carries `code` (a QUIT's "221 Bye" may
 * follow the refusal we want), or NULL. */
static const char *
reply_for (const struct replies *r, long code)
{
  char want[8];
  snprintf (want, sizeof want, "%ld", code);
  for (int k = r->n - 1; k >= 0 && k >= r->n - 8; k--)
    {
      const char *l = r->line[k % 8];
      if (strncmp (l, want, 3) == 0 && (l[3] == ' ' || l[3] == '-'
                                        || l[3] == '\0'))
        return l;
    }
  return NULL;
}

enum mail_status
mail_send (const struct mail_smtp *s, const char *from,
           const char *const *rcpt, size_t n_rcpt, const char *msg,
           size_t len, struct buf *reply)
{
  buf_reset (reply);
  if (s == NULL || s->host == NULL || !mail_address_valid (from)
      || n_rcpt == 0 || n_rcpt > MAIL_MAX_TO)
    {
      buf_puts (reply, "facturo: bad sender, recipients or SMTP settings");
      return MAIL_PERMFAIL;
    }
  for (size_t i = 0; i < n_rcpt; i++)
    if (!mail_address_valid (rcpt[i]))
      {
        buf_puts (reply, "facturo: invalid recipient address");
        return MAIL_PERMFAIL;
      }
  mail_global_init ();

  CURL *h = curl_easy_init ();
  if (h == NULL)
    {
      buf_puts (reply, "curl: cannot create a handle");
      return MAIL_TEMPFAIL;
    }
  int port = s->port;
  if (port == 0)
    port = s->tls == MAIL_TLS_IMPLICIT ? 465
           : s->tls == MAIL_TLS_STARTTLS ? 587
                                         : 25;
  struct buf url = BUF_INIT;
  bool v6 = strchr (s->host, ':') != NULL;
  buf_printf (&url, "%s://%s%s%s:%d/%s",
              s->tls == MAIL_TLS_IMPLICIT ? "smtps" : "smtp", v6 ? "[" : "",
              s->host, v6 ? "]" : "", port, s->helo ? s->helo : "localhost");
  struct curl_slist *to = NULL;
  for (size_t i = 0; i < n_rcpt; i++)
    {
      struct buf r = BUF_INIT;
      buf_printf (&r, "<%s>", rcpt[i]);
      to = curl_slist_append (to, r.data);
      buf_free (&r);
    }
  struct buf mfrom = BUF_INIT;
  buf_printf (&mfrom, "<%s>", from);
  struct upload up = { msg, len };
  struct replies *last = xcalloc (1, sizeof *last);
  char errbuf[CURL_ERROR_SIZE] = "";

  curl_easy_setopt (h, CURLOPT_URL, url.data);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_MAIL_FROM, mfrom.data);
  curl_easy_setopt (h, CURLOPT_MAIL_RCPT, to);
  curl_easy_setopt (h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt (h, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt (h, CURLOPT_READDATA, &up);
  curl_easy_setopt (h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) len);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT,
                    s->connect_timeout ? s->connect_timeout : 10L);
  curl_easy_setopt (h, CURLOPT_TIMEOUT, s->timeout ? s->timeout : 60L);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (h, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt (h, CURLOPT_DEBUGFUNCTION, debug_cb);
  curl_easy_setopt (h, CURLOPT_DEBUGDATA, last);
  switch (s->tls)
    {
    case MAIL_TLS_STARTTLS_TRY:
      curl_easy_setopt (h, CURLOPT_USE_SSL, (long) CURLUSESSL_TRY);
      break;
    case MAIL_TLS_STARTTLS:
    case MAIL_TLS_IMPLICIT:
      curl_easy_setopt (h, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
      break;
    case MAIL_TLS_NONE:
      curl_easy_setopt (h, CURLOPT_USE_SSL, (long) CURLUSESSL_NONE);
      break;
    }
  if (s->ca_file)
    curl_easy_setopt (h, CURLOPT_CAINFO, s->ca_file);
  if (s->insecure)
    {
      curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  if (s->user)
    {
      curl_easy_setopt (h, CURLOPT_USERNAME, s->user);
      curl_easy_setopt (h, CURLOPT_PASSWORD, s->password ? s->password : "");
    }

  CURLcode rc = curl_easy_perform (h);
  long code = 0;
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &code);

  enum mail_status st;
  if (rc == CURLE_OK)
    st = MAIL_SENT;
  else if (code >= 500 && code < 600)
    st = MAIL_PERMFAIL;
  else
    st = MAIL_TEMPFAIL; /* 4xx, no reply, refused, time-out, TLS */
  /* The server's reason for a refusal or an acceptance; libcurl's own
     words when the server said nothing conclusive (no connection, TLS,
     time-out). */
  const char *why = NULL;
  if (st == MAIL_SENT || code >= 400)
    why = reply_for (last, code);
  if (why != NULL)
    buf_puts (reply, why);
  else
    {
      buf_printf (reply, "curl: %s",
                  errbuf[0] ? errbuf : curl_easy_strerror (rc));
      if (code)
        buf_printf (reply, " (last reply code %ld)", code);
    }
  /* the QUIT exchange during cleanup must not touch `last` any more */
  curl_easy_setopt (h, CURLOPT_DEBUGFUNCTION, NULL);
  curl_easy_setopt (h, CURLOPT_VERBOSE, 0L);
  curl_easy_cleanup (h);
  curl_slist_free_all (to);
  buf_free (&url);
  buf_free (&mfrom);
  free (last);
  return st;
}

/* ==================================================================== */
/* Templates                                                            */
/* ==================================================================== */

/* One web/tmpl.h set per template, so that a merchant's template can
 * replace a default (a tmpl_set keeps the first of two equal names). */
struct mail_tmpl_entry
{
  char name[128]; /* "es/invoice.html" */
  struct tmpl_set *set;
};

struct mail_tmpl
{
  struct mail_tmpl_entry *e;
  size_t n, cap;
};

#define TMPL_MAX_COUNT 256

#define TMPL_MAX_BYTES (256u * 1024)

/* In plain-text templates {{name}} prints raw: rewrite it to {{{name}}}
 * before parsing.  Sections, partials and triple braces are kept. */
static char *
text_to_raw (const char *src)
{
  struct buf o = BUF_INIT;
  const char *p = src;
  while (*p)
    {
      const char *open = strstr (p, "{{");
      if (open == NULL)
        {
          buf_puts (&o, p);
          break;
        }
      buf_append (&o, p, (size_t) (open - p));
      const char *c = open + 2;
      if (*c == '{' || *c == '#' || *c == '^' || *c == '/' || *c == '>'
          || *c == '!')
        {
          const char *close = strstr (c, *c == '{' ? "}}}" : "}}");
          if (close == NULL)
            {
              buf_puts (&o, open);
              break;
            }
          close += *c == '{' ? 3 : 2;
          buf_append (&o, open, (size_t) (close - open));
          p = close;
          continue;
        }
      const char *close = strstr (c, "}}");
      if (close == NULL)
        {
          buf_puts (&o, open);
          break;
        }
      buf_puts (&o, "{{{");
      buf_append (&o, c, (size_t) (close - c));
      buf_puts (&o, "}}}");
      p = close + 2;
    }
  return buf_steal (&o);
}

static bool
safe_name (const char *s)
{
  if (s == NULL || s[0] == '\0' || strlen (s) > 32)
    return false;
  for (const char *p = s; *p; p++)
    if (!(isalnum ((unsigned char) *p) || *p == '_' || *p == '-'))
      return false;
  return true;
}

bool
mail_tmpl_set (struct mail_tmpl *t, const char *lang, const char *kind,
               const char *part, const char *text)
{
  if (t == NULL || !safe_name (lang) || !safe_name (kind) || text == NULL
      || strlen (text) > TMPL_MAX_BYTES)
    return false;
  bool is_text;
  if (strcmp (part, "html") == 0)
    is_text = false;
  else if (strcmp (part, "text") == 0 || strcmp (part, "subject") == 0)
    is_text = true;
  else
    return false;
  char name[128];
  snprintf (name, sizeof name, "%s/%s.%s", lang, kind, part);
  char *src = is_text ? text_to_raw (text) : xstrdup (text);
  struct tmpl_set *set = tmpl_set_new ();
  bool ok = tmpl_add (set, "t", src);
  free (src);
  if (!ok)
    {
      tmpl_free (set);
      return false;
    }
  for (size_t i = 0; i < t->n; i++)
    if (strcmp (t->e[i].name, name) == 0)
      {
        tmpl_free (t->e[i].set);
        t->e[i].set = set;
        return true;
      }
  if (t->n == TMPL_MAX_COUNT)
    {
      tmpl_free (set);
      return false;
    }
  if (t->n == t->cap)
    {
      t->cap = t->cap ? 2 * t->cap : 8;
      t->e = xrealloc (t->e, t->cap * sizeof *t->e);
    }
  snprintf (t->e[t->n].name, sizeof t->e[t->n].name, "%s", name);
  t->e[t->n].set = set;
  t->n++;
  return true;
}

/* Loads dir/<lang>/<kind>.{subject.txt,txt,html}; counts into *n. */
static bool
load_tree (struct mail_tmpl *t, const char *dir, int *n)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return false;
  struct dirent *e;
  bool ok = true;
  while (ok && (e = readdir (d)) != NULL)
    {
      if (!safe_name (e->d_name))
        continue;
      char sub[4096];
      snprintf (sub, sizeof sub, "%s/%s", dir, e->d_name);
      DIR *ld = opendir (sub);
      if (ld == NULL)
        continue;
      struct dirent *f;
      while (ok && (f = readdir (ld)) != NULL)
        {
          char kind[64];
          const char *part = NULL;
          size_t fl = strlen (f->d_name);
          if (f->d_name[0] == '.' || fl >= sizeof kind)
            continue;
          if (fl > 12 && strcmp (f->d_name + fl - 12, ".subject.txt") == 0)
            {
              part = "subject";
              fl -= 12;
            }
          else if (fl > 4 && strcmp (f->d_name + fl - 4, ".txt") == 0)
            {
              part = "text";
              fl -= 4;
            }
          else if (fl > 5 && strcmp (f->d_name + fl - 5, ".html") == 0)
            {
              part = "html";
              fl -= 5;
            }
          else
            continue;
          memcpy (kind, f->d_name, fl);
          kind[fl] = '\0';
          char path[4096 + 300];
          snprintf (path, sizeof path, "%s/%s", sub, f->d_name);
          struct buf text = BUF_INIT;
          if (read_file (path, &text, TMPL_MAX_BYTES) != 0)
            {
              log_error ("mail: cannot read template %s", path);
              ok = false;
            }
          else if (!mail_tmpl_set (t, e->d_name, kind, part,
                                   text.data ? text.data : ""))
            {
              log_error ("mail: template %s does not parse", path);
              ok = false;
            }
          else
            (*n)++;
          buf_free (&text);
        }
      closedir (ld);
    }
  closedir (d);
  return ok;
}

struct mail_tmpl *
mail_tmpl_load (const char *dir, const char *override_dir)
{
  struct mail_tmpl *t = xcalloc (1, sizeof *t);
  int n = 0;
  if (dir == NULL || !load_tree (t, dir, &n) || n == 0)
    {
      log_error ("mail: no usable templates in %s", dir ? dir : "(null)");
      mail_tmpl_free (t);
      return NULL;
    }
  struct stat st;
  if (override_dir != NULL && stat (override_dir, &st) == 0
      && !load_tree (t, override_dir, &n))
    {
      mail_tmpl_free (t);
      return NULL;
    }
  return t;
}

static bool
render_one (const struct mail_tmpl *t, const char *name, const json_t *ctx,
            struct buf *out)
{
  for (size_t i = 0; i < t->n; i++)
    if (strcmp (t->e[i].name, name) == 0)
      return tmpl_render (t->e[i].set, "t", ctx, out);
  return false;
}

static bool
render_part (const struct mail_tmpl *over, const struct mail_tmpl *t,
             const char *lang, const char *kind, const char *part,
             const json_t *ctx, struct buf *out)
{
  char name[128];
  const char *langs[2] = { safe_name (lang) ? lang : "es", "es" };
  for (int l = 0; l < 2; l++)
    {
      snprintf (name, sizeof name, "%s/%s.%s", langs[l], kind, part);
      buf_reset (out);
      if (over != NULL && render_one (over, name, ctx, out))
        return true;
      buf_reset (out);
      if (render_one (t, name, ctx, out))
        return true;
    }
  buf_reset (out);
  return false;
}

bool
mail_tmpl_render (const struct mail_tmpl *t, const char *lang,
                  const char *kind, const json_t *ctx, struct buf *subject,
                  struct buf *text, struct buf *html)
{
  return mail_tmpl_render_over (NULL, t, lang, kind, ctx, subject, text,
                                html);
}

bool
mail_tmpl_render_over (const struct mail_tmpl *over,
                       const struct mail_tmpl *t, const char *lang,
                       const char *kind, const json_t *ctx,
                       struct buf *subject, struct buf *text,
                       struct buf *html)
{
  if (t == NULL || !safe_name (kind))
    return false;
  if (!render_part (over, t, lang, kind, "subject", ctx, subject)
      || !render_part (over, t, lang, kind, "text", ctx, text))
    return false;
  render_part (over, t, lang, kind, "html", ctx, html);
  /* one line, trimmed, no control characters */
  struct buf s = BUF_INIT;
  bool space = false;
  for (const char *p = subject->data ? subject->data : ""; *p; p++)
    {
      unsigned char c = (unsigned char) *p;
      if (c < 0x20 || c == 0x7f || c == ' ')
        space = s.len > 0;
      else
        {
          if (space)
            buf_putc (&s, ' ');
          space = false;
          buf_putc (&s, (char) c);
        }
    }
  buf_reset (subject);
  buf_puts (subject, s.data ? s.data : "");
  buf_free (&s);
  return true;
}

struct mail_tmpl *
mail_tmpl_new (void)
{
  return xcalloc (1, sizeof (struct mail_tmpl));
}

void
mail_tmpl_free (struct mail_tmpl *t)
{
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n; i++)
    tmpl_free (t->e[i].set);
  free (t->e);
  free (t);
}
