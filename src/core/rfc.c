/*
 * rfc.c — RFC shape, date and check digit (see rfc.h).
 *
 * Check digit: SAT's mod-11 algorithm (as documented in SAT's "Algoritmo
 * para generar el RFC con homoclave" and implemented by phpcfdi/rfc):
 * each of the first 12 characters (a moral's 11 are padded with one
 * leading space) takes its index in the table
 * "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ", weighted 13 down to 2; the
 * digit is 11 - sum % 11, written '0' when that is 11 and 'A' when 10.
 */
#include "core/rfc.h"

#include <string.h>

#define RFC_MAX_CHARS 13

/* Value of one RFC character in SAT's table; 'N'+1 is '&', Ñ is 38. */
static int
rfc_value (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'N')
    return c - 'A' + 10;
  if (c == '&')
    return 24;
  if (c >= 'O' && c <= 'Z')
    return c - 'O' + 25;
  if (c == ' ')
    return 37;
  if (c == 0xD1)  /* Ñ, after UTF-8 decoding */
    return 38;
  return -1;
}

/* Decodes s into code points (ASCII or Ñ only; anything else -> -1,
 * lower-case ñ -> 0xF1 so callers can report case).  Returns the number
 * of characters, or -1 when longer than max. */
static int
rfc_decode (const char *s, int *out, int max)
{
  const unsigned char *p = (const unsigned char *) s;
  int n = 0;

  while (*p)
    {
      int c;
      if (n == max)
        return -1;
      if (p[0] == 0xC3 && p[1] == 0x91)
        c = 0xD1, p += 2;
      else if (p[0] == 0xC3 && p[1] == 0xB1)
        c = 0xF1, p += 2;
      else if (*p < 0x80)
        c = *p++;
      else
        {
          c = -1;
          p++;
          /* skip UTF-8 continuation bytes so one character counts once */
          while ((*p & 0xC0) == 0x80)
            p++;
        }
      out[n++] = c;
    }
  return n;
}

static char
rfc_digit_of (const int *c, int n)
{
  int sum = 0, pad = 12 - (n - 1);   /* 1 for morales, 0 for físicas */

  for (int i = 0; i < 12; i++)
    {
      int v = i < pad ? 37 : rfc_value (c[i - pad]);
      if (v < 0)
        return '\0';
      sum += v * (13 - i);
    }
  int d = 11 - sum % 11;
  return d == 11 ? '0' : d == 10 ? 'A' : (char) ('0' + d);
}

char
rfc_check_digit (const char *rfc)
{
  int c[RFC_MAX_CHARS + 1];
  int n = rfc ? rfc_decode (rfc, c, RFC_MAX_CHARS + 1) : -1;

  if (n != 12 && n != 13)
    return '\0';
  return rfc_digit_of (c, n);
}

bool
rfc_is_generic (enum rfc_kind kind)
{
  return kind == RFC_GENERIC_PUBLIC || kind == RFC_GENERIC_FOREIGN;
}

static bool
rfc_is_leap (int y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Shape, case, date and (if digit) the check digit. */
static bool
rfc_validate (const char *rfc, enum rfc_kind *kind, bool digit,
              struct ferr *err)
{
  int c[RFC_MAX_CHARS + 1];
  int n;

  if (rfc == NULL || *rfc == '\0')
    return ferr_set (err, "rfc_empty", "tax_id", "The RFC is missing",
                     "Falta el RFC");
  /* The generic RFCs carry a fixed, non-computed last digit. */
  if (strcmp (rfc, "XAXX010101000") == 0)
    {
      if (kind)
        *kind = RFC_GENERIC_PUBLIC;
      return true;
    }
  if (strcmp (rfc, "XEXX010101000") == 0)
    {
      if (kind)
        *kind = RFC_GENERIC_FOREIGN;
      return true;
    }
  n = rfc_decode (rfc, c, RFC_MAX_CHARS + 1);
  if (n != 12 && n != 13)
    return ferr_set (err, "rfc_length", "tax_id",
                     "The RFC must have 12 characters (company) or 13 "
                     "(individual)",
                     "El RFC debe tener 12 caracteres (persona moral) o 13 "
                     "(persona física)");
  for (int i = 0; i < n; i++)
    if ((c[i] >= 'a' && c[i] <= 'z') || c[i] == 0xF1)
      return ferr_set (err, "rfc_lowercase", "tax_id",
                       "The RFC must be written in capital letters",
                       "El RFC debe escribirse en mayúsculas");

  int letters = n - 9;
  for (int i = 0; i < n; i++)
    {
      bool ok;
      if (i < letters)
        ok = (c[i] >= 'A' && c[i] <= 'Z') || c[i] == '&' || c[i] == 0xD1;
      else if (i < letters + 6)
        ok = c[i] >= '0' && c[i] <= '9';
      else if (i < n - 1)
        ok = (c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= '0' && c[i] <= '9');
      else
        ok = (c[i] >= '0' && c[i] <= '9') || c[i] == 'A';
      if (!ok)
        return ferr_set (err, "rfc_format", "tax_id",
                         "The RFC is not well formed: %d letters, a date "
                         "YYMMDD and 3 characters of homoclave are expected",
                         "El RFC no tiene la forma correcta: se esperan %d "
                         "letras, la fecha AAMMDD y 3 caracteres de "
                         "homoclave", letters);
    }

  const int *d = c + letters;
  int yy = (d[0] - '0') * 10 + (d[1] - '0');
  int mm = (d[2] - '0') * 10 + (d[3] - '0');
  int dd = (d[4] - '0') * 10 + (d[5] - '0');
  static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  /* Two-digit year: the century is unknown, so 29 February is accepted
   * for every yy divisible by 4 (00 counts as 2000, a leap year). */
  bool date_ok = mm >= 1 && mm <= 12 && dd >= 1 && dd <= mdays[mm - 1]
                 && !(mm == 2 && dd == 29 && !rfc_is_leap (2000 + yy));
  if (!date_ok)
    return ferr_set (err, "rfc_date", "tax_id",
                     "The date in the RFC (%02d%02d%02d) does not exist",
                     "La fecha del RFC (%02d%02d%02d) no existe",
                     yy, mm, dd);

  if (digit && rfc_digit_of (c, n) != c[n - 1])
    return ferr_set (err, "rfc_check_digit", "tax_id",
                     "The RFC's check digit is wrong",
                     "El dígito verificador del RFC es incorrecto");
  if (kind)
    *kind = n == 13 ? RFC_FISICA : RFC_MORAL;
  return true;
}

bool
rfc_check (const char *rfc, enum rfc_kind *kind, struct ferr *err)
{
  return rfc_validate (rfc, kind, true, err);
}

bool
rfc_check_shape (const char *rfc, enum rfc_kind *kind, struct ferr *err)
{
  return rfc_validate (rfc, kind, false, err);
}
