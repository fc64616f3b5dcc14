/* test_catalog.c — core/catalog: generated SAT tables and lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/catalog.h"

static void
test_lookups (void **state)
{
  const struct catalog_regime *r = catalog_regime ("601");
  assert_non_null (r);
  assert_string_equal (r->description, "General de Ley Personas Morales");
  assert_false (r->fisica);
  assert_true (r->moral);
  r = catalog_regime ("626");     /* RESICO: both kinds */
  assert_non_null (r);
  assert_true (r->fisica && r->moral);
  r = catalog_regime ("616");
  assert_true (r->fisica && !r->moral);

  const struct catalog_use *u = catalog_use ("D01");
  assert_non_null (u);
  assert_true (u->fisica && !u->moral);
  assert_non_null (catalog_use ("CP01"));
  assert_non_null (catalog_use ("S01"));

  const struct catalog_currency *c = catalog_currency ("MXN");
  assert_non_null (c);
  assert_int_equal (c->decimals, 2);
  c = catalog_currency ("USD");
  assert_non_null (c);
  assert_int_equal (c->decimals, 2);
  c = catalog_currency ("CLF");   /* Unidad de Fomento: 4 decimals */
  assert_non_null (c);
  assert_int_equal (c->decimals, 4);
  c = catalog_currency ("JPY");
  assert_int_equal (c->decimals, 0);
  assert_non_null (catalog_currency ("XXX"));

  const struct catalog_unit *un = catalog_unit ("H87");
  assert_non_null (un);
  assert_string_equal (un->name, "Pieza");
  assert_non_null (catalog_unit ("E48"));
  assert_non_null (catalog_unit ("ACT"));

  const struct catalog_payment_form *pf = catalog_payment_form ("03");
  assert_non_null (pf);
  assert_string_equal (pf->description,
                       "Transferencia electr\xc3\xb3nica de fondos");
  assert_true (pf->banked);
  assert_false (catalog_payment_form ("01")->banked);
  assert_non_null (catalog_payment_form ("99"));

  assert_non_null (catalog_payment_method ("PUE"));
  assert_non_null (catalog_payment_method ("PPD"));
  assert_non_null (catalog_tax ("002"));
  assert_non_null (catalog_tax_object ("02"));
  assert_non_null (catalog_tax_object ("08"));
  assert_non_null (catalog_export ("01"));
  assert_non_null (catalog_periodicity ("05"));
  assert_non_null (catalog_month ("18"));
  assert_non_null (catalog_relation_type ("04"));
  assert_non_null (catalog_voucher_type ("P"));
  assert_non_null (catalog_tax_factor ("Exento"));
  const struct catalog_country *co = catalog_country ("MEX");
  assert_non_null (co);
  assert_string_equal (co->name, "M\xc3\xa9xico");
  assert_non_null (catalog_country ("USA"));
}

static void
test_unknown (void **state)
{
  static const char *const bad[] = { "", "600", "6011", "pue", "mxn",
                                     "ZZZ9", "h87", "H8" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      assert_null (catalog_regime (bad[i]));
      assert_null (catalog_use (bad[i]));
      assert_null (catalog_currency (bad[i]));
      assert_null (catalog_unit (bad[i]));
      assert_null (catalog_payment_method (bad[i]));
      assert_null (catalog_country (bad[i]));
    }
  assert_null (catalog_regime (NULL));
  assert_null (catalog_regime ("60"));
  assert_null (catalog_use ("G3"));
  assert_null (catalog_payment_form ("00"));
  assert_null (catalog_payment_form ("32"));
  assert_null (catalog_month ("19"));
  assert_null (catalog_periodicity ("06"));
  assert_null (catalog_tax ("004"));
  assert_null (catalog_tax_object ("09"));
  assert_null (catalog_export ("05"));
}

/* Every (uso, régimen) row of SAT's CSV is allowed; pairs absent are not. */
static void
test_use_regime_pairs (void **state)
{
  const char *shared = getenv ("FACTURO_SHARED");
  char path[1024], line[256];
  size_t rows = 0;

  if (shared == NULL)
    skip ();
  snprintf (path, sizeof path, "%s/sat/catalogs/"
            "c_UsoCFDI_RegimenFiscalReceptor.csv", shared);
  FILE *f = fopen (path, "r");
  assert_non_null (f);
  assert_non_null (fgets (line, sizeof line, f));   /* header */
  while (fgets (line, sizeof line, f))
    {
      char *comma = strchr (line, ',');
      assert_non_null (comma);
      *comma = '\0';
      comma[strcspn (comma + 1, "\r\n") + 1] = '\0';
      if (!catalog_use_allowed_for_regime (line, comma + 1))
        fail_msg ("pair %s/%s from the CSV is refused", line, comma + 1);
      rows++;
    }
  fclose (f);
  assert_int_equal (rows, 251);

  static const char *const absent[][2] = {
    { "G03", "605" }, { "D01", "601" }, { "G01", "616" }, { "CN01", "612" },
    { "I01", "616" }, { "S01", "999" }, { "XX1", "601" }, { "G03", "" },
  };
  for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
    if (catalog_use_allowed_for_regime (absent[i][0], absent[i][1]))
      fail_msg ("pair %s/%s accepted", absent[i][0], absent[i][1]);
  assert_true (catalog_use_allowed_for_regime ("CN01", "605"));
  assert_true (catalog_use_allowed_for_regime ("S01", "616"));
  assert_false (catalog_use_allowed_for_regime (NULL, "601"));
}

struct rate_case
{
  const char *tax, *factor;
  int64_t rate;
  bool withholding, ok;
};

static const struct rate_case rate_cases[] = {
  { "002", "Tasa", 160000, false, true },    /* IVA 16% */
  { "002", "Tasa", 80000, false, true },     /* IVA frontera 8% */
  { "002", "Tasa", 0, false, true },
  { "002", "Tasa", 150000, false, false },
  { "002", "Tasa", 160000, true, true },     /* retención: Rango 0..0.16 */
  { "002", "Tasa", 106667, true, true },
  { "002", "Tasa", 160001, true, false },
  { "002", "Cuota", 160000, false, false },
  { "001", "Tasa", 100000, true, true },     /* ISR retención 10% */
  { "001", "Tasa", 12500, true, true },      /* RESICO 1.25% */
  { "001", "Tasa", 350001, true, false },
  { "001", "Tasa", 100000, false, false },   /* ISR is never trasladado */
  { "003", "Tasa", 265000, false, true },
  { "003", "Tasa", 265000, true, true },
  { "003", "Tasa", 30000, true, false },     /* 3% only traslado */
  { "003", "Tasa", 30000, false, true },
  { "003", "Tasa", 100000, false, false },
  { "003", "Cuota", 72160500, false, true },
  { "003", "Cuota", 72160501, false, false },
  { "003", "Cuota", 5000000, true, true },
  { "004", "Tasa", 0, false, false },
  { "002", "Exento", 0, false, false },
};

static void
test_tax_rates (void **state)
{
  for (size_t i = 0; i < sizeof rate_cases / sizeof rate_cases[0]; i++)
    {
      const struct rate_case *c = &rate_cases[i];
      bool ok = catalog_tax_rate_allowed (c->tax, c->factor, c->rate,
                                          c->withholding);
      if (ok != c->ok)
        fail_msg ("rate case %zu (%s %s %lld %s) = %d", i, c->tax,
                  c->factor, (long long) c->rate,
                  c->withholding ? "ret" : "tras", ok);
    }
}

static void
test_iteration_and_formats (void **state)
{
  const struct catalog_regime *r;
  const struct catalog_use *u;
  const struct catalog_payment_form *p;
  const struct catalog_currency *c;

  assert_int_equal (catalog_regimes (&r), 19);
  assert_string_equal (r[0].code, "601");
  assert_int_equal (catalog_uses (&u), 24);
  assert_int_equal (catalog_payment_forms (&p), 22);
  assert_string_equal (p[0].code, "01");
  assert_int_equal (catalog_currencies (&c), 183);
  for (size_t i = 1; i < 19; i++)
    assert_true (strcmp (r[i - 1].code, r[i].code) < 0);

  assert_true (catalog_product_key_format ("01010101"));
  assert_false (catalog_product_key_format ("0101010"));
  assert_false (catalog_product_key_format ("0101010A"));
  assert_false (catalog_product_key_format (NULL));
  assert_true (catalog_zip_format ("06600"));
  assert_false (catalog_zip_format ("6600"));
  assert_false (catalog_zip_format ("066000"));
  assert_false (catalog_zip_format ("0660a"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_lookups),
    cmocka_unit_test (test_unknown),
    cmocka_unit_test (test_use_regime_pairs),
    cmocka_unit_test (test_tax_rates),
    cmocka_unit_test (test_iteration_and_formats),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
