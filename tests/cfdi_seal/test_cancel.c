/*
 * test_cancel.c — cancellation request validation table (cancel.h).
 *
 * SAT (since 2022-01-01; shared/sat/README.md §6): Motivo 01..04 always;
 * 01 needs FolioSustitucion, different from the cancelled UUID; 02..04
 * carry none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cfdi/cancel.h"

#define U1 "5b6c7d8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
#define U1UP "5B6C7D8E-1A2B-4C3D-8E9F-0A1B2C3D4E5F"
#define U2 "C2832671-DA6D-11EF-A83D-00155D012007"

struct row
{
  const char *uuid, *reason, *substitute;
  const char *code; /* NULL = valid */
};

static const struct row rows[] = {
  { U1, "02", NULL, NULL },
  { U1, "03", "", NULL },
  { U1, "04", NULL, NULL },
  { U1, "01", U2, NULL },
  { U1, "1", U2, NULL },
  { U1, "2", NULL, NULL },
  { U1UP, "01", "c2832671-da6d-11ef-a83d-00155d012007", NULL },
  /* SAT: 01 requires the substituting UUID … */
  { U1, "01", NULL, "cancel_substitute_missing" },
  { U1, "01", "", "cancel_substitute_missing" },
  { U1, "01", "not-a-uuid", "cancel_substitute_invalid" },
  /* … which must differ from the cancelled one (any case) */
  { U1, "01", U1, "cancel_substitute_same" },
  { U1, "01", U1UP, "cancel_substitute_same" },
  /* 02..04 carry no substitute */
  { U1, "02", U2, "cancel_substitute_not_allowed" },
  { U1, "03", U2, "cancel_substitute_not_allowed" },
  { U1, "04", U2, "cancel_substitute_not_allowed" },
  { U1, "02", "junk", "cancel_substitute_not_allowed" },
  /* reasons */
  { U1, NULL, NULL, "cancel_reason_missing" },
  { U1, "", NULL, "cancel_reason_missing" },
  { U1, "05", NULL, "cancel_reason_invalid" },
  { U1, "00", NULL, "cancel_reason_invalid" },
  { U1, "001", NULL, "cancel_reason_invalid" },
  { U1, "1 ", NULL, "cancel_reason_invalid" },
  { U1, "A1", NULL, "cancel_reason_invalid" },
  /* UUIDs */
  { NULL, "02", NULL, "cancel_uuid_missing" },
  { "", "02", NULL, "cancel_uuid_missing" },
  { "5b6c7d8e1a2b4c3d8e9f0a1b2c3d4e5f", "02", NULL, "cancel_uuid_invalid" },
  { "5b6c7d8e-1a2b-4c3d-8e9f-0a1b2c3d4e5", "02", NULL, "cancel_uuid_invalid" },
  { "5b6c7d8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f0", "02", NULL,
    "cancel_uuid_invalid" },
  { "5b6c7d8e-1a2b-4c3d-8e9f-0a1b2c3d4e5g", "02", NULL,
    "cancel_uuid_invalid" },
  { "5b6c7d8e_1a2b-4c3d-8e9f-0a1b2c3d4e5f", "02", NULL,
    "cancel_uuid_invalid" },
};

static void
test_table (void **state)
{
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    {
      const struct row *r = &rows[i];
      struct cancel_request q;
      struct ferr e = { 0 };
      bool ok
          = cancel_request_init (&q, r->uuid, r->reason, r->substitute, &e);
      if (r->code == NULL)
        {
          if (!ok)
            fail_msg ("row %zu: unexpected %s (%s)", i, e.code, e.message);
          assert_true (cancel_request_check (&q, &e));
        }
      else
        {
          if (ok)
            fail_msg ("row %zu: accepted, expected %s", i, r->code);
          if (strcmp (e.code, r->code) != 0)
            fail_msg ("row %zu: got %s, expected %s", i, e.code, r->code);
          assert_true (e.message[0] != '\0' && e.message_es[0] != '\0');
          assert_true (e.field[0] != '\0');
        }
    }
}

static void
test_normalised (void **state)
{
  struct cancel_request q;
  struct ferr e;
  assert_true (cancel_request_init (
      &q, U1, "1", "c2832671-da6d-11ef-a83d-00155d012007", &e));
  assert_string_equal (q.uuid, U1UP);
  assert_string_equal (q.substitute_uuid, U2);
  assert_int_equal (q.reason, CANCEL_REASON_01);
  assert_string_equal (cancel_reason_code (q.reason), "01");
  assert_int_equal (q.total_micros, -1);
  assert_string_equal (q.issuer_rfc, "");

  /* a request edited after init is re-checked */
  q.reason = CANCEL_REASON_02;
  assert_false (cancel_request_check (&q, &e));
  assert_string_equal (e.code, "cancel_substitute_not_allowed");
  q.reason = CANCEL_REASON_NONE;
  assert_false (cancel_request_check (&q, &e));
  assert_string_equal (e.code, "cancel_reason_missing");
  q.reason = (enum cancel_reason)9;
  assert_false (cancel_request_check (&q, &e));
  assert_string_equal (e.code, "cancel_reason_invalid");
}

static void
test_names (void **state)
{
  for (int r = CANCEL_REASON_01; r < CANCEL_REASON_COUNT; r++)
    {
      assert_int_equal (cancel_reason_parse (cancel_reason_code (r)), r);
      assert_true (strlen (cancel_reason_text (r)) > 10);
    }
  assert_string_equal (cancel_reason_code (CANCEL_REASON_NONE), "");
  assert_string_equal (cancel_reason_code ((enum cancel_reason)7), "");
  assert_int_equal (cancel_reason_parse (NULL), CANCEL_REASON_NONE);
  for (int s = 0; s < CANCEL_STATUS_COUNT; s++)
    assert_int_equal (cancel_status_parse (cancel_status_name (s)), s);
  assert_int_equal (cancel_status_parse ("nope"), -1);
  assert_string_equal (cancel_status_name (CANCEL_STATUS_PENDING), "pending");
  struct cancel_ack a = { 0 };
  a.acuse_xml = strdup ("<Acuse/>");
  cancel_ack_clear (&a);
  assert_null (a.acuse_xml);
  cancel_ack_clear (NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_table),
    cmocka_unit_test (test_normalised),
    cmocka_unit_test (test_names),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
