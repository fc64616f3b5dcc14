/*
 * log.c — see log.h.  One fprintf per line so lines from several
 * threads never interleave (stdio locks the stream per call).
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;

void
log_set_level (enum log_level level)
{
  min_level = level;
}

void
log_msg (enum log_level level, const char *fmt, ...)
{
  static const char *const names[] = { "debug", "info", "warn", "error" };
  char line[2048], ts[32];
  time_t now = time (NULL);
  struct tm tm;
  va_list ap;

  if (level < min_level)
    return;
  gmtime_r (&now, &tm);
  strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  fprintf (stderr, "%s %s %s\n", ts, names[level], line);
}
