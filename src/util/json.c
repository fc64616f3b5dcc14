/*
 * json.c — exact, bounded JSON loading (see json.h).
 */
#include "util/json.h"

#include <string.h>

#include "core/money.h"
#include "util/buf.h"

json_t *
json_load_exact (const char *text, size_t len, int max_depth,
                 json_error_t *err)
{
  struct buf out = BUF_INIT;
  int depth = 0;
  size_t i = 0;

  while (i < len)
    {
      char c = text[i];
      if (c == '"')
        {
          /* Copy the string through, honouring escapes. */
          size_t j = i + 1;
          while (j < len && text[j] != '"')
            j += (text[j] == '\\') ? 2 : 1;
          if (j >= len)
            j = len - 1;
          buf_append (&out, text + i, j - i + 1);
          i = j + 1;
          continue;
        }
      if (c == '{' || c == '[')
        {
          if (++depth > max_depth)
            {
              buf_free (&out);
              memset (err, 0, sizeof *err);
              snprintf (err->text, sizeof err->text,
                        "JSON nested deeper than %d levels", max_depth);
              return NULL;
            }
        }
      else if (c == '}' || c == ']')
        depth--;
      if (c == '-' || (c >= '0' && c <= '9'))
        {
          size_t j = i;
          bool fractional = false;
          while (j < len
                 && (strchr ("0123456789+-.eE", text[j]) != NULL))
            {
              if (text[j] == '.' || text[j] == 'e' || text[j] == 'E')
                fractional = true;
              j++;
            }
          if (fractional)
            buf_putc (&out, '"');
          buf_append (&out, text + i, j - i);
          if (fractional)
            buf_putc (&out, '"');
          i = j;
          continue;
        }
      buf_putc (&out, c);
      i++;
    }
  json_t *root = json_loadb (out.data ? out.data : "", out.len,
                             JSON_REJECT_DUPLICATES, err);
  buf_free (&out);
  return root;
}

bool
json_money (const json_t *v, int64_t *out)
{
  if (v == NULL)
    return false;
  if (json_is_string (v))
    return money_parse_n (json_string_value (v), json_string_length (v), out);
  if (json_is_integer (v))
    {
      json_int_t i = json_integer_value (v);
      if (i > 999999999999LL || i < -999999999999LL)
        return false;
      *out = (int64_t) i * MONEY_SCALE;
      return true;
    }
  return false;
}

const char *
json_unknown_key (const json_t *o, const char *const *allowed)
{
  const char *key;
  json_t *val;
  json_object_foreach ((json_t *) o, key, val)
    {
      bool known = false;
      (void) val;
      for (const char *const *a = allowed; *a; a++)
        if (strcmp (*a, key) == 0)
          {
            known = true;
            break;
          }
      if (!known)
        return key;
    }
  return NULL;
}
