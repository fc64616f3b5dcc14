/* test_rules.c — core/rules: receptor, emisor, payment, currency rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/rules.h"

/* Checks a rule result against the expected error code (NULL = pass)
 * and, when failing, the expected field. */
static void
expect (int line, bool ok, const struct ferr *e, const char *code,
        const char *field)
{
  if (code == NULL)
    {
      if (!ok)
        fail_msg ("line %d: refused with %s (%s): %s", line, e->code,
                  e->field, e->message);
      return;
    }
  if (ok)
    fail_msg ("line %d: accepted, want %s", line, code);
  if (strcmp (e->code, code) != 0 || strcmp (e->field, field) != 0)
    fail_msg ("line %d: got %s on %s, want %s on %s", line, e->code,
              e->field, code, field);
  if (e->message[0] == '\0' || e->message_es[0] == '\0')
    fail_msg ("line %d: empty message", line);
}

struct receiver_case
{
  int line;
  const char *rfc, *regime, *use, *zip, *code, *field;
};

#define L __LINE__
static const struct receiver_case receiver_cases[] = {
  { L, "EKU9003173C9", "601", "G03", "26015", NULL, NULL },
  { L, "CACX7605101P8", "612", "G03", "06600", NULL, NULL },
  { L, "CACX7605101P8", "605", "CN01", "06600", NULL, NULL },
  { L, "CACX7605101P8", "612", "D01", "06600", NULL, NULL },
  { L, "CACX7605101P8", "626", "G01", "06600", NULL, NULL },
  { L, "EKU9003173C9", "626", "G01", "26015", NULL, NULL },
  { L, "XAXX010101000", "616", "S01", "26015", NULL, NULL },
  { L, "XEXX010101000", "616", "S01", "26015", NULL, NULL },
  { L, "XEXX010101000", "616", "CP01", "26015", NULL, NULL },
  /* real RFC failing SAT's digit algorithm: accepted (rfc_check_shape) */
  { L, "MCI7306249Y1", "601", "G03", "26015", NULL, NULL },
  { L, "EKU9003173", "601", "G03", "26015", "rfc_length",
    "customer.tax_id" },
  { L, "EKU900231AC9", "601", "G03", "26015", "rfc_date",
    "customer.tax_id" },
  { L, "eku9003173c9", "601", "G03", "26015", "rfc_lowercase",
    "customer.tax_id" },
  { L, "EKU9003173C9", "612", "G03", "26015", "regime_not_for_moral",
    "customer.tax_system" },
  { L, "CACX7605101P8", "601", "G03", "06600", "regime_not_for_fisica",
    "customer.tax_system" },
  { L, "CACX7605101P8", "699", "G03", "06600", "regime_unknown",
    "customer.tax_system" },
  { L, "CACX7605101P8", "", "G03", "06600", "regime_missing",
    "customer.tax_system" },
  { L, "CACX7605101P8", "605", "G03", "06600", "use_not_for_regime", "use" },
  { L, "EKU9003173C9", "601", "D01", "26015", "use_not_for_kind", "use" },
  { L, "EKU9003173C9", "601", "Z99", "26015", "use_unknown", "use" },
  { L, "EKU9003173C9", "601", NULL, "26015", "use_missing", "use" },
  { L, "XAXX010101000", "601", "S01", "26015", "regime_generic_rfc",
    "customer.tax_system" },
  { L, "XAXX010101000", "616", "G03", "26015", "use_generic_rfc", "use" },
  { L, "XAXX010101000", "616", "CP01", "26015", "use_generic_rfc", "use" },
  { L, "EKU9003173C9", "601", "G03", "2601", "zip_format",
    "customer.address.zip" },
  { L, "EKU9003173C9", "601", "G03", "26O15", "zip_format",
    "customer.address.zip" },
  { L, "EKU9003173C9", "601", "G03", NULL, "zip_missing",
    "customer.address.zip" },
};

static void
test_receiver (void **state)
{
  for (size_t i = 0; i < sizeof receiver_cases / sizeof receiver_cases[0];
       i++)
    {
      const struct receiver_case *c = &receiver_cases[i];
      struct ferr e = { 0 };
      bool ok = rules_receiver (c->rfc, c->regime, c->use, c->zip, &e);
      expect (c->line, ok, &e, c->code, c->field);
    }
}

static void
test_receiver_message (void **state)
{
  struct ferr e = { 0 };
  assert_false (rules_receiver ("CACX7605101P8", "605", "G03", "06600", &e));
  assert_string_equal (e.message, "Uso CFDI G03 is not allowed for "
                       "r\xc3\xa9gimen 605");
  assert_string_equal (e.message_es, "El uso CFDI G03 no est\xc3\xa1 "
                       "permitido para el r\xc3\xa9gimen 605");
}

struct issuer_case
{
  int line;
  const char *rfc, *regime, *zip, *code, *field;
};

static const struct issuer_case issuer_cases[] = {
  { L, "EKU9003173C9", "601", "26015", NULL, NULL },
  { L, "CACX7605101P8", "612", "06600", NULL, NULL },
  { L, "CACX7605101P8", "601", "06600", "regime_not_for_fisica",
    "issuer.tax_system" },
  { L, "XAXX010101000", "616", "06600", "rfc_generic_issuer",
    "issuer.tax_id" },
  { L, "EKU900317", "601", "06600", "rfc_length", "issuer.tax_id" },
  { L, "EKU9003173C9", "601", "123456", "zip_format", "issuer.zip" },
};

static void
test_issuer (void **state)
{
  for (size_t i = 0; i < sizeof issuer_cases / sizeof issuer_cases[0]; i++)
    {
      const struct issuer_case *c = &issuer_cases[i];
      struct ferr e = { 0 };
      bool ok = rules_issuer (c->rfc, c->regime, c->zip, &e);
      expect (c->line, ok, &e, c->code, c->field);
    }
}

struct payment_case
{
  int line;
  const char *type, *form, *method, *code, *field;
};

static const struct payment_case payment_cases[] = {
  { L, "I", "03", "PUE", NULL, NULL },
  { L, "I", "01", "PUE", NULL, NULL },
  { L, "I", "99", "PPD", NULL, NULL },
  { L, "E", "03", "PUE", NULL, NULL },
  { L, "P", NULL, NULL, NULL, NULL },
  { L, "P", "", "", NULL, NULL },
  { L, "T", NULL, NULL, NULL, NULL },
  { L, "N", "99", "PUE", NULL, NULL },
  { L, "I", "03", "PPD", "payment_ppd_form", "payment_form" },
  { L, "I", "99", "PUE", "payment_pue_form", "payment_form" },
  { L, "I", "98", "PUE", "payment_form_unknown", "payment_form" },
  { L, "I", "3", "PUE", "payment_form_unknown", "payment_form" },
  { L, "I", NULL, "PUE", "payment_form_missing", "payment_form" },
  { L, "I", "03", NULL, "payment_method_missing", "payment_method" },
  { L, "I", "03", "PIP", "payment_method_unknown", "payment_method" },
  { L, "P", "03", NULL, "payment_form_not_allowed", "payment_form" },
  { L, "P", NULL, "PUE", "payment_method_not_allowed", "payment_method" },
  { L, "T", "01", NULL, "payment_form_not_allowed", "payment_form" },
  { L, "N", "03", "PUE", "payment_payroll", "payment_form" },
  { L, "X", "03", "PUE", "type_unknown", "type" },
  { L, NULL, "03", "PUE", "type_unknown", "type" },
};

static void
test_payment (void **state)
{
  for (size_t i = 0; i < sizeof payment_cases / sizeof payment_cases[0]; i++)
    {
      const struct payment_case *c = &payment_cases[i];
      struct ferr e = { 0 };
      bool ok = rules_payment (c->type, c->form, c->method, &e);
      expect (c->line, ok, &e, c->code, c->field);
    }
}

struct currency_case
{
  int line;
  const char *code;
  int64_t exchange;
  bool has;
  int decimals;
  const char *err, *field;
};

static const struct currency_case currency_cases[] = {
  { L, "MXN", 0, false, 2, NULL, NULL },
  { L, "MXN", 1000000, true, 2, NULL, NULL },
  { L, "USD", 17123400, true, 2, NULL, NULL },
  { L, "CLF", 700000000, true, 4, NULL, NULL },
  { L, "JPY", 118000, true, 0, NULL, NULL },
  { L, "XXX", 0, false, 0, NULL, NULL },
  { L, "MXN", 1000001, true, 0, "exchange_mxn", "exchange" },
  { L, "MXN", 0, true, 0, "exchange_mxn", "exchange" },
  { L, "USD", 0, false, 0, "exchange_missing", "exchange" },
  { L, "USD", 0, true, 0, "exchange_invalid", "exchange" },
  { L, "USD", -1, true, 0, "exchange_invalid", "exchange" },
  { L, "XXX", 1000000, true, 0, "exchange_xxx", "exchange" },
  { L, "usd", 1000000, true, 0, "currency_unknown", "currency" },
  { L, "ABC", 1000000, true, 0, "currency_unknown", "currency" },
  { L, "", 0, false, 0, "currency_missing", "currency" },
};

static void
test_currency (void **state)
{
  for (size_t i = 0; i < sizeof currency_cases / sizeof currency_cases[0];
       i++)
    {
      const struct currency_case *c = &currency_cases[i];
      struct ferr e = { 0 };
      int dec = -1;
      bool ok = rules_currency (c->code, c->exchange, c->has, &dec, &e);
      expect (c->line, ok, &e, c->err, c->field);
      if (ok)
        assert_int_equal (dec, c->decimals);
    }
}

/* True if code is among the n uses in list. */
static bool
has_use (const struct catalog_use **list, size_t n, const char *code)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (list[i]->code, code) == 0)
      return true;
  return false;
}

static void
test_uses_for (void **state)
{
  const struct catalog_use *list[32];
  size_t n;

  n = rules_uses_for (RFC_FISICA, "605", list, 32);
  assert_int_equal (n, 13);  /* D01..D10, S01, CP01, CN01 per c_UsoCFDI */
  assert_true (has_use (list, n, "CN01"));
  assert_true (has_use (list, n, "D10"));
  assert_false (has_use (list, n, "G03"));

  n = rules_uses_for (RFC_MORAL, "601", list, 32);
  assert_true (has_use (list, n, "G03"));
  assert_false (has_use (list, n, "D01"));    /* deductions: físicas only */
  assert_false (has_use (list, n, "CN01"));

  n = rules_uses_for (RFC_FISICA, "612", list, 32);
  assert_true (has_use (list, n, "D01"));
  assert_true (has_use (list, n, "G03"));

  n = rules_uses_for (RFC_GENERIC_PUBLIC, "616", list, 32);
  assert_int_equal (n, 1);
  assert_string_equal (list[0]->code, "S01");
  assert_int_equal (rules_uses_for (RFC_GENERIC_PUBLIC, "601", list, 32), 0);
  assert_int_equal (rules_uses_for (RFC_GENERIC_FOREIGN, "616", list, 32), 2);

  /* Every use listed passes rules_receiver with a matching RFC. */
  n = rules_uses_for (RFC_FISICA, "612", list, 32);
  for (size_t i = 0; i < n; i++)
    assert_true (rules_receiver ("CACX7605101P8", "612", list[i]->code,
                                 "06600", NULL));
  /* cap smaller than the count: total still returned, no overflow */
  assert_int_equal (rules_uses_for (RFC_FISICA, "612", list, 1), n);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_receiver),
    cmocka_unit_test (test_receiver_message),
    cmocka_unit_test (test_issuer),
    cmocka_unit_test (test_payment),
    cmocka_unit_test (test_currency),
    cmocka_unit_test (test_uses_for),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
