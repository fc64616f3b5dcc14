/*
 * test_words.c — core/words: Spanish amounts in words as printed on
 * Mexican invoices ("importe con letra").  Table-driven: every row is an
 * amount (micros), a currency and the exact text expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/money.h"
#include "core/words.h"

#define M(x) ((int64_t)(x)*MONEY_SCALE)

struct row
{
  int64_t micros;
  const char *currency;
  const char *want;
};

static const struct row rows[] = {
  { 0, "MXN", "CERO PESOS 00/100 M.N." },
  { M (1), "MXN", "UN PESO 00/100 M.N." },
  { M (2), "MXN", "DOS PESOS 00/100 M.N." },
  { M (10), "MXN", "DIEZ PESOS 00/100 M.N." },
  { M (11), "MXN", "ONCE PESOS 00/100 M.N." },
  { M (15), "MXN", "QUINCE PESOS 00/100 M.N." },
  { M (16), "MXN", "DIECISÉIS PESOS 00/100 M.N." },
  { M (20), "MXN", "VEINTE PESOS 00/100 M.N." },
  { M (21), "MXN", "VEINTIÚN PESOS 00/100 M.N." },
  { M (22), "MXN", "VEINTIDÓS PESOS 00/100 M.N." },
  { M (23), "MXN", "VEINTITRÉS PESOS 00/100 M.N." },
  { M (26), "MXN", "VEINTISÉIS PESOS 00/100 M.N." },
  { M (30), "MXN", "TREINTA PESOS 00/100 M.N." },
  { M (31), "MXN", "TREINTA Y UN PESOS 00/100 M.N." },
  { M (45), "MXN", "CUARENTA Y CINCO PESOS 00/100 M.N." },
  { M (99), "MXN", "NOVENTA Y NUEVE PESOS 00/100 M.N." },
  { M (100), "MXN", "CIEN PESOS 00/100 M.N." },
  { M (101), "MXN", "CIENTO UN PESOS 00/100 M.N." },
  { M (115), "MXN", "CIENTO QUINCE PESOS 00/100 M.N." },
  { M (121), "MXN", "CIENTO VEINTIÚN PESOS 00/100 M.N." },
  { M (200), "MXN", "DOSCIENTOS PESOS 00/100 M.N." },
  { M (500), "MXN", "QUINIENTOS PESOS 00/100 M.N." },
  { M (555), "MXN", "QUINIENTOS CINCUENTA Y CINCO PESOS 00/100 M.N." },
  { M (700), "MXN", "SETECIENTOS PESOS 00/100 M.N." },
  { M (900), "MXN", "NOVECIENTOS PESOS 00/100 M.N." },
  { M (999), "MXN", "NOVECIENTOS NOVENTA Y NUEVE PESOS 00/100 M.N." },
  { M (1000), "MXN", "MIL PESOS 00/100 M.N." },
  { M (1001), "MXN", "MIL UN PESOS 00/100 M.N." },
  { M (1100), "MXN", "MIL CIEN PESOS 00/100 M.N." },
  { 1234500000, "MXN", "MIL DOSCIENTOS TREINTA Y CUATRO PESOS 50/100 M.N." },
  { M (2000), "MXN", "DOS MIL PESOS 00/100 M.N." },
  { M (21000), "MXN", "VEINTIÚN MIL PESOS 00/100 M.N." },
  { M (31000), "MXN", "TREINTA Y UN MIL PESOS 00/100 M.N." },
  { M (100000), "MXN", "CIEN MIL PESOS 00/100 M.N." },
  { M (101000), "MXN", "CIENTO UN MIL PESOS 00/100 M.N." },
  { M (121121), "MXN",
    "CIENTO VEINTIÚN MIL CIENTO VEINTIÚN PESOS 00/100 M.N." },
  { M (999999), "MXN",
    "NOVECIENTOS NOVENTA Y NUEVE MIL NOVECIENTOS NOVENTA Y NUEVE PESOS 00/100 "
    "M.N." },
  { M (1000000), "MXN", "UN MILLÓN DE PESOS 00/100 M.N." },
  { M (1000001), "MXN", "UN MILLÓN UN PESOS 00/100 M.N." },
  { M (1001000), "MXN", "UN MILLÓN MIL PESOS 00/100 M.N." },
  { M (2000000) + 990000, "MXN", "DOS MILLONES DE PESOS 99/100 M.N." },
  { M (2500000), "MXN", "DOS MILLONES QUINIENTOS MIL PESOS 00/100 M.N." },
  { M (21000000), "MXN", "VEINTIÚN MILLONES DE PESOS 00/100 M.N." },
  { M (100000000), "MXN", "CIEN MILLONES DE PESOS 00/100 M.N." },
  { M (999999999) + 990000, "MXN",
    "NOVECIENTOS NOVENTA Y NUEVE MILLONES NOVECIENTOS NOVENTA Y NUEVE MIL "
    "NOVECIENTOS NOVENTA Y NUEVE PESOS 99/100 M.N." },
  { M (1000000000), "MXN", "MIL MILLONES DE PESOS 00/100 M.N." },
  { M (1001000000), "MXN", "MIL UN MILLONES DE PESOS 00/100 M.N." },
  { M (21000000000), "MXN", "VEINTIÚN MIL MILLONES DE PESOS 00/100 M.N." },
  { M (999999999999), "MXN",
    "NOVECIENTOS NOVENTA Y NUEVE MIL NOVECIENTOS NOVENTA Y NUEVE MILLONES "
    "NOVECIENTOS NOVENTA Y NUEVE MIL NOVECIENTOS NOVENTA Y NUEVE PESOS 00/100 "
    "M.N." },
  { M (1000000000000), "MXN", "UN BILLÓN DE PESOS 00/100 M.N." },
  { M (2000000000001), "MXN", "DOS BILLONES UN PESOS 00/100 M.N." },
  /* rounding of micros to cents: half away from zero */
  { 1005000, "MXN", "UN PESO 01/100 M.N." },
  { 1004999, "MXN", "UN PESO 00/100 M.N." },
  { 999995000, "MXN", "MIL PESOS 00/100 M.N." },
  { 994999, "MXN", "CERO PESOS 99/100 M.N." },
  { 995000, "MXN", "UN PESO 00/100 M.N." },
  { -1500000, "MXN", "MENOS UN PESO 50/100 M.N." },
  /* default currency */
  { M (7), NULL, "SIETE PESOS 00/100 M.N." },
  { M (7), "", "SIETE PESOS 00/100 M.N." },
  /* other currencies */
  { 1234500000, "USD", "MIL DOSCIENTOS TREINTA Y CUATRO DÓLARES 50/100 USD" },
  { M (1), "USD", "UN DÓLAR 00/100 USD" },
  { M (21), "USD", "VEINTIÚN DÓLARES 00/100 USD" },
  { M (1000000), "USD", "UN MILLÓN DE DÓLARES 00/100 USD" },
  { 1234500000, "EUR", "MIL DOSCIENTOS TREINTA Y CUATRO EUROS 50/100 EUR" },
  { M (1), "EUR", "UN EURO 00/100 EUR" },
  { 1234500000, "GBP", "MIL DOSCIENTOS TREINTA Y CUATRO 50/100 GBP" },
  { M (21), "GBP", "VEINTIUNO 00/100 GBP" },
  { M (1), "JPY", "UNO 00/100 JPY" },
  { M (1000000), "CAD", "UN MILLÓN 00/100 CAD" },
  { 0, "XXX", "CERO 00/100 XXX" },
};

static void
test_amounts (void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    {
      struct buf b = BUF_INIT;
      words_amount (rows[i].micros, rows[i].currency, &b);
      if (strcmp (b.data, rows[i].want) != 0)
        fail_msg ("row %zu: got \"%s\", want \"%s\"", i, b.data, rows[i].want);
      buf_free (&b);
    }
}

static void
test_number_forms (void **state)
{
  static const struct
  {
    uint64_t n;
    _Bool apocope;
    const char *want;
  } t[] = {
    { 0, 0, "CERO" },
    { 1, 0, "UNO" },
    { 1, 1, "UN" },
    { 21, 0, "VEINTIUNO" },
    { 21, 1, "VEINTIÚN" },
    { 41, 0, "CUARENTA Y UNO" },
    { 41, 1, "CUARENTA Y UN" },
    { 101, 0, "CIENTO UNO" },
    { 21001, 0, "VEINTIÚN MIL UNO" },
    { 1000000, 0, "UN MILLÓN" },
    { 2000000, 0, "DOS MILLONES" },
    { 18446744073709551615ULL, 0,
      "DIECIOCHO TRILLONES CUATROCIENTOS CUARENTA Y SEIS MIL SETECIENTOS "
      "CUARENTA Y CUATRO BILLONES SETENTA Y TRES MIL SETECIENTOS NUEVE "
      "MILLONES QUINIENTOS CINCUENTA Y UN MIL SEISCIENTOS QUINCE" },
  };
  (void)state;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    {
      struct buf b = BUF_INIT;
      words_number (t[i].n, t[i].apocope, &b);
      if (strcmp (b.data, t[i].want) != 0)
        fail_msg ("row %zu: got \"%s\", want \"%s\"", i, b.data, t[i].want);
      buf_free (&b);
    }
}

/* Appending keeps what was already in the buffer and never doubles or
 * leaves spaces at the ends, for every value 0..2,100,000 (sampled). */
static void
test_spacing (void **state)
{
  (void)state;
  for (uint64_t n = 0; n < 2100000; n += (n < 3000 ? 1 : 997))
    {
      struct buf b = BUF_INIT;
      buf_puts (&b, "X:");
      words_number (n, n & 1, &b);
      assert_true (strncmp (b.data, "X:", 2) == 0);
      assert_true (b.data[2] != ' ');
      assert_true (b.data[b.len - 1] != ' ');
      assert_null (strstr (b.data, "  "));
      assert_false (strncmp (b.data + 2, "UN MIL ", 7) == 0);
      buf_free (&b);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_amounts),
    cmocka_unit_test (test_number_forms),
    cmocka_unit_test (test_spacing),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
