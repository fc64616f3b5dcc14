/*
 * buf.c — growable buffers and the abort-on-OOM allocation policy.
 */
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom (void)
{
  fputs ("facturo: out of memory\n", stderr);
  abort ();
}

void *
xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);
  if (p == NULL)
    oom ();
  return p;
}

void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size ? size : 1);
  if (p == NULL)
    oom ();
  return p;
}

void *
xrealloc (void *p, size_t n)
{
  void *q = realloc (p, n ? n : 1);
  if (q == NULL)
    oom ();
  return q;
}

char *
xstrdup (const char *s)
{
  return xstrndup (s, strlen (s));
}

char *
xstrndup (const char *s, size_t n)
{
  char *p = xmalloc (n + 1);
  memcpy (p, s, n);
  p[n] = '\0';
  return p;
}

static void
reserve (struct buf *b, size_t extra)
{
  if (b->len + extra + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1)
    cap *= 2;
  b->data = xrealloc (b->data, cap);
  b->cap = cap;
}

void
buf_append (struct buf *b, const void *p, size_t n)
{
  reserve (b, n);
  if (n)
    memcpy (b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void
buf_puts (struct buf *b, const char *s)
{
  buf_append (b, s, strlen (s));
}

void
buf_putc (struct buf *b, char c)
{
  buf_append (b, &c, 1);
}

void
buf_vprintf (struct buf *b, const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy (ap2, ap);
  int n = vsnprintf (NULL, 0, fmt, ap2);
  va_end (ap2);
  if (n < 0)
    return;
  reserve (b, (size_t) n);
  vsnprintf (b->data + b->len, (size_t) n + 1, fmt, ap);
  b->len += (size_t) n;
}

void
buf_printf (struct buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  buf_vprintf (b, fmt, ap);
  va_end (ap);
}

void
buf_reset (struct buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void
buf_free (struct buf *b)
{
  free (b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *
buf_steal (struct buf *b)
{
  char *s = b->data ? b->data : xstrdup ("");
  b->data = NULL;
  b->len = b->cap = 0;
  return s;
}

int
read_file (const char *path, struct buf *out, size_t max_size)
{
  if (max_size == 0)
    max_size = 64u << 20;
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return -1;
  char tmp[65536];
  size_t n;
  buf_reset (out);
  while ((n = fread (tmp, 1, sizeof tmp, f)) > 0)
    {
      if (out->len + n > max_size)
        {
          fclose (f);
          errno = EFBIG;
          return -1;
        }
      buf_append (out, tmp, n);
    }
  int err = ferror (f);
  fclose (f);
  if (err)
    {
      errno = EIO;
      return -1;
    }
  if (out->data == NULL)
    buf_append (out, "", 0);
  return 0;
}
