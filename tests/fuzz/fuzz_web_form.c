/*
 * fuzz_web_form.c — libFuzzer harness for the portal's form-body parser
 * (web/http_web.c web_form_parse): any bytes must either parse into at
 * most WEB_FORM_MAX_FIELDS NUL-free values no longer than
 * WEB_FORM_MAX_VALUE, or be refused, without a memory error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/http_web.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct web_form f;
  if (size > 64 * 1024)
    return 0;
  if (web_form_parse ((const char *)data, size, &f))
    {
      if (f.n > WEB_FORM_MAX_FIELDS)
        abort ();
      for (size_t i = 0; i < f.n; i++)
        {
          if (strlen (f.value[i]) > WEB_FORM_MAX_VALUE)
            abort ();
          if (web_form_get (&f, f.name[i]) == NULL)
            abort ();
        }
    }
  else if (f.n != 0)
    abort ();
  web_form_free (&f);
  return 0;
}
