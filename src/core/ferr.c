/*
 * ferr.c — see ferr.h.
 */
#include "core/ferr.h"

#include <stdarg.h>
#include <stdio.h>

_Bool
ferr_set (struct ferr *e, const char *code, const char *field,
          const char *fmt_en, const char *fmt_es, ...)
{
  va_list ap;
  if (e == NULL)
    return 0;
  e->code = code;
  snprintf (e->field, sizeof e->field, "%s", field ? field : "");
  va_start (ap, fmt_es);
  vsnprintf (e->message, sizeof e->message, fmt_en, ap);
  va_end (ap);
  va_start (ap, fmt_es);
  vsnprintf (e->message_es, sizeof e->message_es, fmt_es, ap);
  va_end (ap);
  return 0;
}
