/*
 * money.c — exact fixed-point amounts (see money.h).
 *
 * Intermediate products use 128-bit integers so that 13 integer digits
 * times 13 integer digits never overflows before rounding.
 */
#include "core/money.h"

#include <string.h>

static const int64_t pow10_tab[7] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };

bool
money_parse_n (const char *s, size_t len, int64_t *out)
{
  size_t i = 0;
  bool neg = false;
  int64_t ip = 0, fp = 0;
  int nint = 0, nfrac = 0;

  if (s == NULL || len == 0)
    return false;
  if (s[0] == '-')
    {
      neg = true;
      i++;
    }
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
    {
      if (++nint > 12)
        return false;
      ip = ip * 10 + (s[i] - '0');
    }
  if (nint == 0)
    return false;
  if (i < len && s[i] == '.')
    {
      i++;
      for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        {
          if (++nfrac > MONEY_MAX_DECIMALS)
            return false;
          fp = fp * 10 + (s[i] - '0');
        }
      if (nfrac == 0)
        return false;
    }
  if (i != len)
    return false;
  fp *= pow10_tab[MONEY_MAX_DECIMALS - nfrac];
  int64_t v = ip * MONEY_SCALE + fp;
  *out = neg ? -v : v;
  return true;
}

bool
money_parse (const char *s, int64_t *out)
{
  if (s == NULL)
    return false;
  return money_parse_n (s, strlen (s), out);
}

int64_t
money_round (int64_t v, int decimals)
{
  if (decimals < 0)
    decimals = 0;
  if (decimals >= MONEY_MAX_DECIMALS)
    return v;
  int64_t unit = pow10_tab[MONEY_MAX_DECIMALS - decimals];
  int64_t half = unit / 2;
  if (v >= 0)
    return ((v + half) / unit) * unit;
  return -(((-v + half) / unit) * unit);
}

char *
money_format (int64_t v, int decimals, char *buf)
{
  char tmp[MONEY_BUFSZ];
  int n = 0;
  /* Work on the magnitude as unsigned so INT64_MIN does not overflow. */
  uint64_t m = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
  uint64_t ip = m / MONEY_SCALE, fp = m % MONEY_SCALE;

  if (decimals < 0)
    decimals = 0;
  if (decimals > MONEY_MAX_DECIMALS)
    decimals = MONEY_MAX_DECIMALS;
  fp /= (uint64_t) pow10_tab[MONEY_MAX_DECIMALS - decimals];
  for (int d = 0; d < decimals; d++)
    {
      tmp[n++] = (char) ('0' + fp % 10);
      fp /= 10;
    }
  if (decimals > 0)
    tmp[n++] = '.';
  do
    {
      tmp[n++] = (char) ('0' + ip % 10);
      ip /= 10;
    }
  while (ip > 0);
  char *p = buf;
  if (v < 0)
    *p++ = '-';
  while (n > 0)
    *p++ = tmp[--n];
  *p = '\0';
  return buf;
}

int
money_decimals_needed (int64_t v)
{
  int d = MONEY_MAX_DECIMALS;
  int64_t f = v % MONEY_SCALE;
  if (f < 0)
    f = -f;
  while (d > 0 && f % 10 == 0)
    {
      f /= 10;
      d--;
    }
  return d;
}

char *
money_format_min (int64_t v, int min_decimals, char *buf)
{
  int d = money_decimals_needed (v);
  return money_format (v, d > min_decimals ? d : min_decimals, buf);
}

bool
money_add (int64_t a, int64_t b, int64_t *out)
{
  int64_t r;
  if (__builtin_add_overflow (a, b, &r))
    return false;
  *out = r;
  return true;
}

bool
money_sub (int64_t a, int64_t b, int64_t *out)
{
  int64_t r;
  if (__builtin_sub_overflow (a, b, &r))
    return false;
  *out = r;
  return true;
}

/* Divides a 128-bit value by d (> 0), rounding half away from zero. */
static bool
div_round (__int128 num, __int128 d, int64_t *out)
{
  bool neg = num < 0;
  if (neg)
    num = -num;
  __int128 q = (num + d / 2) / d;
  if (neg)
    q = -q;
  if (q > INT64_MAX || q < INT64_MIN)
    return false;
  *out = (int64_t) q;
  return true;
}

bool
money_mul (int64_t a, int64_t b, int64_t *out)
{
  return div_round ((__int128) a * b, MONEY_SCALE, out);
}

bool
money_div (int64_t a, int64_t b, int64_t *out)
{
  if (b == 0)
    return false;
  __int128 num = (__int128) a * MONEY_SCALE;
  if (b < 0)
    {
      num = -num;
      b = -b;
    }
  return div_round (num, b, out);
}
