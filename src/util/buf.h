/*
 * buf.h — a growable byte buffer, always NUL-terminated.
 *
 * Allocation failure aborts (xmalloc policy): facturo treats running out
 * of memory as fatal, like Redis, so callers never check these calls.
 */
#ifndef FACTURO_BUF_H
#define FACTURO_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf
{
  char *data; /* NUL-terminated; NULL until the first append */
  size_t len; /* bytes used, excluding the NUL */
  size_t cap; /* bytes allocated */
};

#define BUF_INIT { NULL, 0, 0 }

void buf_append (struct buf *b, const void *p, size_t n);
void buf_puts (struct buf *b, const char *s);
void buf_putc (struct buf *b, char c);
void buf_printf (struct buf *b, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void buf_vprintf (struct buf *b, const char *fmt, va_list ap);
/* Empties the buffer, keeping its memory. */
void buf_reset (struct buf *b);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void buf_free (struct buf *b);
/* Hands the string to the caller (free() it); the buffer is left empty.
 * Never returns NULL: an empty buffer yields "". */
char *buf_steal (struct buf *b);

/* Allocation helpers that abort on failure. */
void *xmalloc (size_t n);
void *xcalloc (size_t n, size_t size);
void *xrealloc (void *p, size_t n);
char *xstrdup (const char *s);
char *xstrndup (const char *s, size_t n);

/* Reads a whole file into *out (NUL-terminated); 0 on success, -1 with
 * errno set on failure.  max_size bounds what is accepted (0 = 64 MiB). */
int read_file (const char *path, struct buf *out, size_t max_size);

#endif
