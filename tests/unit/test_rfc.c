/* test_rfc.c — core/rfc: kinds, dates, SAT check digit, UTF-8 Ñ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/rfc.h"

struct rfc_case
{
  const char *rfc;
  const char *code;        /* NULL = valid */
  enum rfc_kind kind;
};

static const struct rfc_case cases[] = {
  /* SAT test CSDs (shared/sat/csd) and RFCs of real samples */
  { "EKU9003173C9", NULL, RFC_MORAL },
  { "XIA190128J61", NULL, RFC_MORAL },
  { "ISD950921HE5", NULL, RFC_MORAL },
  { "ICV060329BY0", NULL, RFC_MORAL },
  { "SPR190613I52", NULL, RFC_MORAL },
  { "TBN040609RKA", NULL, RFC_MORAL },     /* check digit 'A' */
  { "URE180429TM6", NULL, RFC_MORAL },
  { "CACX7605101P8", NULL, RFC_FISICA },
  { "FUNK671228PH6", NULL, RFC_FISICA },
  { "COSC8001137NA", NULL, RFC_FISICA },   /* check digit 'A' */
  { "VADA800927DJ3", NULL, RFC_FISICA },
  { "XAXX010101000", NULL, RFC_GENERIC_PUBLIC },
  { "XEXX010101000", NULL, RFC_GENERIC_FOREIGN },
  /* Ñ (UTF-8 C3 91) and & are letters; digits computed by SAT's table */
  { "PE\xc3\x91" "A800101AB8", NULL, RFC_FISICA },
  { "\xc3\x91" "AB010101AA7", NULL, RFC_MORAL },
  { "A&B010101AA2", NULL, RFC_MORAL },
  { "RO&A800101AB4", NULL, RFC_FISICA },
  /* 29 February only in leap years */
  { "ABC000229AA7", NULL, RFC_MORAL },
  { "ABC010229AAA", "rfc_date", 0 },
  /* wrong */
  { "ABC990231AA1", "rfc_date", 0 },
  { "ABC991301AA1", "rfc_date", 0 },
  { "ABC990100AA1", "rfc_date", 0 },
  { "EKU9003173C8", "rfc_check_digit", 0 },
  { "CACX7605101P9", "rfc_check_digit", 0 },
  { "XAXX010101001", "rfc_check_digit", 0 },
  { "eku9003173c9", "rfc_lowercase", 0 },
  { "CACx7605101P8", "rfc_lowercase", 0 },
  { "PE\xc3\xb1" "A800101AB3", "rfc_lowercase", 0 },
  { "EKU9003173C", "rfc_length", 0 },
  { "CACX7605101P8X", "rfc_length", 0 },
  { "EKU9003173C9 ", "rfc_format", 0 },  /* 13 chars, space not a letter */
  { "", "rfc_empty", 0 },
  { "EK19003173C9", "rfc_format", 0 },
  { "EKUX003173C9", "rfc_format", 0 },
  { "EKU9003173-9", "rfc_format", 0 },
  { "EKU9003173CB", "rfc_format", 0 },      /* last must be digit or A */
  { "P\xc3\xa9" "XA800101AB3", "rfc_format", 0 },  /* é is not allowed */
};

static void
test_cases (void **state)
{
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      const struct rfc_case *c = &cases[i];
      struct ferr e = { 0 };
      enum rfc_kind kind = (enum rfc_kind) -1;
      bool ok = rfc_check (c->rfc, &kind, &e);
      if (c->code == NULL)
        {
          if (!ok)
            fail_msg ("%s refused: %s (%s)", c->rfc, e.code, e.message);
          assert_int_equal (kind, c->kind);
        }
      else
        {
          if (ok)
            fail_msg ("%s accepted, want %s", c->rfc, c->code);
          assert_string_equal (e.code, c->code);
          assert_true (e.message[0] != '\0');
          assert_true (e.message_es[0] != '\0');
        }
    }
}

/* Real RFCs whose last character is not SAT's computed digit: refused by
 * rfc_check, accepted by rfc_check_shape. */
static void
test_shape_only (void **state)
{
  static const char *const real[] = { "MCI7306249Y1", "FNI970829JR9",
                                      "CCA980429MD4", "AUGJ651117623" };
  for (size_t i = 0; i < sizeof real / sizeof real[0]; i++)
    {
      struct ferr e = { 0 };
      enum rfc_kind k;
      assert_false (rfc_check (real[i], NULL, &e));
      assert_string_equal (e.code, "rfc_check_digit");
      assert_true (rfc_check_shape (real[i], &k, &e));
      assert_int_equal (k, strlen (real[i]) == 13 ? RFC_FISICA : RFC_MORAL);
    }
  assert_false (rfc_check_shape ("ABC990231AA1", NULL, NULL));
  assert_false (rfc_check_shape ("abc990101AA1", NULL, NULL));
  assert_false (rfc_check_shape ("ABC9901011", NULL, NULL));
}

static void
test_messages (void **state)
{
  struct ferr e = { 0 };
  assert_false (rfc_check ("EKU9003173C8", NULL, &e));
  assert_string_equal (e.message, "The RFC's check digit is wrong");
  assert_string_equal (e.message_es,
                       "El d\xc3\xadgito verificador del RFC es incorrecto");
  assert_false (rfc_check (NULL, NULL, &e));
  assert_string_equal (e.code, "rfc_empty");
  assert_false (rfc_check ("ABC990231AA1", NULL, NULL));  /* err optional */
}

static void
test_check_digit (void **state)
{
  assert_int_equal (rfc_check_digit ("EKU9003173C0"), '9');
  assert_int_equal (rfc_check_digit ("COSC8001137N0"), 'A');
  assert_int_equal (rfc_check_digit ("ICV060329BY0"), '0');
  assert_int_equal (rfc_check_digit ("short"), '\0');
  assert_true (rfc_is_generic (RFC_GENERIC_PUBLIC));
  assert_false (rfc_is_generic (RFC_MORAL));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_cases),
    cmocka_unit_test (test_shape_only),
    cmocka_unit_test (test_messages),
    cmocka_unit_test (test_check_digit),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
