/* test_money.c — core/money: parsing, rounding, formatting, arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/money.h"

struct parse_case
{
  const char *text;
  bool ok;
  int64_t micros;
};

static const struct parse_case parse_cases[] = {
  { "0", true, 0 },
  { "3", true, 3000000 },
  { "-12.5", true, -12500000 },
  { "0.160000", true, 160000 },
  { "258.594800", true, 258594800 },
  { "0.000001", true, 1 },
  { "123.456789", true, 123456789 },           /* 6-decimal unit price */
  { "999999999999", true, 999999999999000000LL },   /* 12 integer digits */
  { "999999999999.999999", true, 999999999999999999LL },
  { "-999999999999.999999", true, -999999999999999999LL },
  { "9999999999999", false, 0 },               /* 13 integer digits */
  { "1e3", false, 0 },
  { "+1", false, 0 },
  { ".5", false, 0 },
  { "1.", false, 0 },
  { "1.1234567", false, 0 },
  { " 1", false, 0 },
  { "1 ", false, 0 },
  { "", false, 0 },
  { "-", false, 0 },
  { "1,000", false, 0 },
  { "--1", false, 0 },
  { "0x10", false, 0 },
  { "1.2.3", false, 0 },
};

static void
test_parse (void **state)
{
  for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++)
    {
      const struct parse_case *c = &parse_cases[i];
      int64_t v = 42;
      bool ok = money_parse (c->text, &v);
      if (ok != c->ok)
        fail_msg ("money_parse(\"%s\") returned %d", c->text, ok);
      if (ok)
        assert_int_equal (v, c->micros);
      else
        assert_int_equal (v, 42);   /* untouched on refusal */
    }
}

static void
test_parse_n (void **state)
{
  int64_t v = 0;
  assert_true (money_parse_n ("12.50xyz", 5, &v));
  assert_int_equal (v, 12500000);
  assert_false (money_parse_n ("12.50xyz", 6, &v));
  assert_false (money_parse_n ("12.50", 0, &v));
}

struct round_case
{
  int64_t in;
  int decimals;
  int64_t out;
};

/* Half away from zero at every decimal count, both signs. */
static const struct round_case round_cases[] = {
  { 2500000, 0, 3000000 },  { -2500000, 0, -3000000 },
  { 2499999, 0, 2000000 },  { -2499999, 0, -2000000 },
  { 1250000, 1, 1300000 },  { -1250000, 1, -1300000 },
  { 1249999, 1, 1200000 },
  { 1005000, 2, 1010000 },  { -1005000, 2, -1010000 },
  { 1004999, 2, 1000000 },
  { 1000500, 3, 1001000 },  { -1000500, 3, -1001000 },
  { 1000050, 4, 1000100 },  { -1000050, 4, -1000100 },
  { 1000005, 5, 1000010 },  { -1000005, 5, -1000010 },
  { 1000004, 5, 1000000 },
  { 1234567, 6, 1234567 },  { -1234567, 6, -1234567 },
  { 0, 2, 0 },
  { 999999999999995000LL, 2, 1000000000000000000LL },
};

static void
test_round (void **state)
{
  for (size_t i = 0; i < sizeof round_cases / sizeof round_cases[0]; i++)
    {
      const struct round_case *c = &round_cases[i];
      int64_t r = money_round (c->in, c->decimals);
      if (r != c->out)
        fail_msg ("money_round(%lld, %d) = %lld, want %lld",
                  (long long) c->in, c->decimals, (long long) r,
                  (long long) c->out);
    }
}

struct format_case
{
  int64_t v;
  int decimals;
  bool min;
  const char *text;
};

static const struct format_case format_cases[] = {
  { 1500000, 2, false, "1.50" },
  { -1500000, 2, false, "-1.50" },
  { 160000, 6, false, "0.160000" },
  { 3000000, 0, false, "3" },
  { 258594800, 2, true, "258.5948" },
  { 100000000, 2, true, "100.00" },
  { 999999999999999999LL, 6, false, "999999999999.999999" },
  { -1, 6, false, "-0.000001" },
};

static void
test_format (void **state)
{
  char buf[MONEY_BUFSZ];
  for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++)
    {
      const struct format_case *c = &format_cases[i];
      const char *s = c->min ? money_format_min (c->v, c->decimals, buf)
                             : money_format (c->v, c->decimals, buf);
      assert_string_equal (s, c->text);
    }
  assert_int_equal (money_decimals_needed (258594800), 4);
  assert_int_equal (money_decimals_needed (3000000), 0);
  assert_int_equal (money_decimals_needed (1), 6);
  assert_int_equal (money_decimals_needed (-1500000), 1);
}

struct arith_case
{
  char op;
  int64_t a, b;
  bool ok;
  int64_t out;
};

static const struct arith_case arith_cases[] = {
  /* quantity x 6-decimal unit price, rounded at the sixth decimal */
  { '*', 3000000, 123456789, true, 370370367 },
  { '*', 1500000, 1000001, true, 1500002 },     /* 1.5000015 -> up */
  { '*', -1500000, 1000001, true, -1500002 },   /* away from zero */
  { '*', 1400000, 1000001, true, 1400001 },     /* 1.4000014 -> down */
  { '*', 100000000, 160000, true, 16000000 },   /* IVA 16% of 100 */
  { '*', 999999999999000000LL, 999999999999000000LL, false, 0 },
  { '/', 1000000, 3000000, true, 333333 },
  { '/', 2000000, 3000000, true, 666667 },
  { '/', -2000000, 3000000, true, -666667 },
  { '/', 1000000, 0, false, 0 },
  { '/', 999999999999000000LL, 1, false, 0 },
  { '+', INT64_MAX, 1, false, 0 },
  { '+', 1, 2, true, 3 },
  { '-', INT64_MIN, 1, false, 0 },
  { '-', 5, 7, true, -2 },
};

static void
test_arith (void **state)
{
  for (size_t i = 0; i < sizeof arith_cases / sizeof arith_cases[0]; i++)
    {
      const struct arith_case *c = &arith_cases[i];
      int64_t r = 42;
      bool ok = c->op == '*' ? money_mul (c->a, c->b, &r)
                : c->op == '/' ? money_div (c->a, c->b, &r)
                : c->op == '+' ? money_add (c->a, c->b, &r)
                               : money_sub (c->a, c->b, &r);
      if (ok != c->ok)
        fail_msg ("case %zu (%c): ok=%d", i, c->op, ok);
      assert_int_equal (r, ok ? c->out : 42);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse),
    cmocka_unit_test (test_parse_n),
    cmocka_unit_test (test_round),
    cmocka_unit_test (test_format),
    cmocka_unit_test (test_arith),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
