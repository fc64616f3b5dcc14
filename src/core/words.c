/*
 * words.c — numbers and amounts in Spanish words ("importe con letra").
 *
 * Owns the Spanish cardinal numbers as written on Mexican invoices:
 * upper case, accents kept (DIECISÉIS, VEINTIDÓS, MILLÓN), "CIEN" alone
 * but "CIENTO UNO", "MIL" (never "UN MIL"), "UN MILLÓN"/"DOS MILLONES",
 * the long scale (BILLÓN = 10^12), and the apocope "UN"/"VEINTIÚN" before
 * a noun.  Does not know about locales or other languages.  Pure: no I/O.
 */
#include "core/words.h"

#include <string.h>

#include "core/money.h"

static const char *const units[30] = {
  "",
  "UNO",
  "DOS",
  "TRES",
  "CUATRO",
  "CINCO",
  "SEIS",
  "SIETE",
  "OCHO",
  "NUEVE",
  "DIEZ",
  "ONCE",
  "DOCE",
  "TRECE",
  "CATORCE",
  "QUINCE",
  "DIECISÉIS",
  "DIECISIETE",
  "DIECIOCHO",
  "DIECINUEVE",
  "VEINTE",
  "VEINTIUNO",
  "VEINTIDÓS",
  "VEINTITRÉS",
  "VEINTICUATRO",
  "VEINTICINCO",
  "VEINTISÉIS",
  "VEINTISIETE",
  "VEINTIOCHO",
  "VEINTINUEVE",
};

static const char *const tens[10] = {
  "",          "",        "",        "TREINTA", "CUARENTA",
  "CINCUENTA", "SESENTA", "SETENTA", "OCHENTA", "NOVENTA",
};

static const char *const hundreds[10] = {
  "",           "CIENTO",      "DOSCIENTOS",  "TRESCIENTOS", "CUATROCIENTOS",
  "QUINIENTOS", "SEISCIENTOS", "SETECIENTOS", "OCHOCIENTOS", "NOVECIENTOS",
};

/* Appends a space unless out is empty or already ends in one. */
static void
sep (struct buf *out, size_t start)
{
  if (out->len > start && out->data[out->len - 1] != ' ')
    buf_putc (out, ' ');
}

/* 1..999; `apocope`: "UN" rather than "UNO" for a final 1. */
static void
group (unsigned n, bool apocope, struct buf *out, size_t start)
{
  unsigned h = n / 100, r = n % 100;

  if (h > 0)
    {
      sep (out, start);
      buf_puts (out, (h == 1 && r == 0) ? "CIEN" : hundreds[h]);
    }
  if (r == 0)
    return;
  sep (out, start);
  if (r < 30)
    {
      if (apocope && r == 1)
        buf_puts (out, "UN");
      else if (apocope && r == 21)
        buf_puts (out, "VEINTIÚN");
      else
        buf_puts (out, units[r]);
      return;
    }
  buf_puts (out, tens[r / 10]);
  if (r % 10 != 0)
    {
      buf_puts (out, " Y ");
      buf_puts (out, (apocope && r % 10 == 1) ? "UN" : units[r % 10]);
    }
}

/* 1..999999 */
static void
below_million (unsigned n, bool apocope, struct buf *out, size_t start)
{
  unsigned th = n / 1000, r = n % 1000;

  if (th == 1)
    {
      sep (out, start);
      buf_puts (out, "MIL");
    }
  else if (th > 1)
    {
      group (th, true, out, start);
      buf_puts (out, " MIL");
    }
  if (r > 0)
    group (r, apocope, out, start);
}

void
words_number (uint64_t n, bool apocope, struct buf *out)
{
  static const struct
  {
    uint64_t scale;
    const char *one, *many;
  } scales[] = {
    { 1000000000000000000ULL, "UN TRILLÓN", "TRILLONES" },
    { 1000000000000ULL, "UN BILLÓN", "BILLONES" },
    { 1000000ULL, "UN MILLÓN", "MILLONES" },
  };
  size_t start = out->len;

  if (n == 0)
    {
      buf_puts (out, "CERO");
      return;
    }
  for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++)
    {
      uint64_t p = n / scales[i].scale;
      n %= scales[i].scale;
      if (p == 0)
        continue;
      if (p == 1)
        {
          sep (out, start);
          buf_puts (out, scales[i].one);
        }
      else
        {
          /* p < 10^6 here, except for trillones where p <= 18. */
          below_million ((unsigned)p, true, out, start);
          buf_putc (out, ' ');
          buf_puts (out, scales[i].many);
        }
    }
  if (n > 0)
    below_million ((unsigned)n, apocope, out, start);
}

void
words_amount (int64_t micros, const char *currency, struct buf *out)
{
  static const struct
  {
    const char *code, *one, *many, *suffix;
  } names[] = {
    { "MXN", "PESO", "PESOS", "M.N." },
    { "USD", "DÓLAR", "DÓLARES", "USD" },
    { "EUR", "EURO", "EUROS", "EUR" },
  };
  int64_t r = money_round (micros, 2);
  uint64_t a, whole;
  unsigned cents;
  const char *code = (currency && *currency) ? currency : "MXN";
  size_t k;

  if (r < 0)
    {
      buf_puts (out, "MENOS ");
      a = (uint64_t)0 - (uint64_t)r;
    }
  else
    a = (uint64_t)r;
  whole = a / (uint64_t)MONEY_SCALE;
  cents = (unsigned)((a % (uint64_t)MONEY_SCALE) / 10000);

  for (k = 0; k < sizeof names / sizeof names[0]; k++)
    if (strcmp (code, names[k].code) == 0)
      break;
  if (k == sizeof names / sizeof names[0])
    {
      words_number (whole, false, out);
      buf_printf (out, " %02u/100 %s", cents, code);
      return;
    }
  words_number (whole, true, out);
  if (whole >= 1000000 && whole % 1000000 == 0)
    buf_puts (out, " DE");
  buf_putc (out, ' ');
  buf_puts (out, whole == 1 ? names[k].one : names[k].many);
  buf_printf (out, " %02u/100 %s", cents, names[k].suffix);
}
