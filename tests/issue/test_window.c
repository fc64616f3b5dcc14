/*
 * test_window.c — the self-invoicing window and global-invoice periods
 * (api/issue.h) at their edges: the last second, month and year ends,
 * leap days, ISO weeks, time zones; and the receiver checks naming
 * their fields.  INVARIANT 1: a ticket's window never outlives its
 * global-invoice period, so no ticket can be in both invoices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/issue.h"
#include "core/ticket.h"

#include "util/tz.h"

static const struct tz *
zone (const char *name)
{
  struct ferr e = { 0 };
  const struct tz *z = tz_get (name, &e);
  if (z == NULL)
    fail_msg ("%s: %s", name, e.message);
  return z;
}

/* UTC-6 all year since 2022-10-30; UTC-5 in summer before. */
#define MX zone ("America/Mexico_City")
/* UTC-8; UTC-7 from the 2nd Sunday of March to the 1st of November. */
#define TJ zone ("America/Tijuana")
#define CUN zone ("America/Cancun") /* UTC-5 */

static int64_t
at (const char *s)
{
  int64_t t = 0;
  assert_true (ticket_parse_date (s, tz_utc (), &t));
  return t;
}

static void
test_window_last_second (void **state)
{
  (void)state;
  /* Bought 2026-11-20 12:30 in Mexico City, 7 days: invoiceable until
   * 2026-11-27 23:59:59 local, i.e. 2026-11-28T06:00:00Z exclusive. */
  int64_t buy = at ("2026-11-20T12:30:00-06:00");
  int64_t end = issue_window_end (buy, 7, ISSUE_MONTHLY, MX);
  assert_int_equal (end, at ("2026-11-28T06:00:00Z"));
  assert_true (at ("2026-11-27T23:59:59-06:00") < end);  /* last second */
  assert_false (at ("2026-11-28T00:00:00-06:00") < end); /* first out */
  /* window 0: the purchase day only */
  assert_int_equal (issue_window_end (buy, 0, ISSUE_MONTHLY, MX),
                    at ("2026-11-21T00:00:00-06:00"));
  /* negative and huge windows are clamped */
  assert_int_equal (issue_window_end (buy, -5, ISSUE_MONTHLY, MX),
                    at ("2026-11-21T00:00:00-06:00"));
  assert_int_equal (issue_window_end (buy, 100000, ISSUE_MONTHLY, MX),
                    at ("2026-12-01T00:00:00-06:00"));
}

static void
test_window_month_end (void **state)
{
  (void)state;
  /* Capped at the end of the month (the global invoice's period). */
  assert_int_equal (issue_window_end (at ("2026-11-28T10:00:00-06:00"), 7,
                                      ISSUE_MONTHLY, MX),
                    at ("2026-12-01T00:00:00-06:00"));
  /* The last second of the month: one second to invoice it. */
  int64_t last = at ("2026-11-30T23:59:59-06:00");
  assert_int_equal (issue_window_end (last, 7, ISSUE_MONTHLY, MX), last + 1);
  /* The first second of December belongs to December. */
  assert_int_equal (issue_window_end (at ("2026-12-01T00:00:00-06:00"), 7,
                                      ISSUE_MONTHLY, MX),
                    at ("2026-12-09T00:00:00-06:00"));
  /* Year end, and "" periodicity (0 after parse) counts as monthly. */
  assert_int_equal (issue_window_end (at ("2026-12-30T08:00:00-06:00"), 7,
                                      issue_periodicity_parse (""), MX),
                    at ("2027-01-01T00:00:00-06:00"));
  /* Leap February. */
  assert_int_equal (issue_window_end (at ("2028-02-27T08:00:00-06:00"), 7,
                                      ISSUE_MONTHLY, MX),
                    at ("2028-03-01T00:00:00-06:00"));
  assert_int_equal (issue_window_end (at ("2028-02-10T08:00:00-06:00"), 20,
                                      ISSUE_MONTHLY, MX),
                    at ("2028-03-01T00:00:00-06:00"));
}

static void
test_window_time_zones (void **state)
{
  (void)state;
  /* One instant, three local dates. */
  int64_t t = at ("2026-12-01T05:30:00Z");
  /* Mexico City: 2026-11-30 23:30 -> November: ends at its midnight. */
  assert_int_equal (issue_window_end (t, 7, ISSUE_MONTHLY, MX),
                    at ("2026-12-01T06:00:00Z"));
  /* Tijuana: 2026-11-30 21:30. */
  assert_int_equal (issue_window_end (t, 7, ISSUE_MONTHLY, TJ),
                    at ("2026-12-01T08:00:00Z"));
  /* Cancún: 2026-12-01 00:30 -> December, 7 days. */
  assert_int_equal (issue_window_end (t, 7, ISSUE_MONTHLY, CUN),
                    at ("2026-12-09T05:00:00Z"));
}

/* Daylight saving, which the fixed offsets of old got wrong by an hour. */
static void
test_window_daylight_saving (void **state)
{
  (void)state;
  /* Tijuana in summer is UTC-7: bought 2026-07-20 12:30 PDT, 7 days,
   * invoiceable until 2026-07-27 23:59:59 PDT = 06:59:59Z (UTC-8 would
   * have said 07:59:59Z). */
  int64_t buy = at ("2026-07-20T12:30:00-07:00");
  int64_t end = issue_window_end (buy, 7, ISSUE_MONTHLY, TJ);
  assert_int_equal (end, at ("2026-07-28T07:00:00Z"));
  assert_true (at ("2026-07-27T23:59:59-07:00") < end); /* last second */
  assert_false (at ("2026-07-28T00:00:00-07:00") < end);
  /* Month end in Tijuana's summer: July closes at 2026-08-01 00:00 PDT
   * (07:00Z), and the period of 00:30 PDT on August 1st is August. */
  assert_int_equal (issue_window_end (at ("2026-07-30T10:00:00-07:00"), 7,
                                      ISSUE_MONTHLY, TJ),
                    at ("2026-08-01T07:00:00Z"));
  struct issue_period p;
  assert_true (
      issue_period_of (ISSUE_MONTHLY, at ("2026-08-01T07:30:00Z"), TJ, &p));
  assert_string_equal (p.label, "2026-08");
  assert_int_equal (p.start, at ("2026-08-01T07:00:00Z"));
  assert_true (
      issue_period_of (ISSUE_MONTHLY, at ("2026-08-01T06:59:59Z"), TJ, &p));
  assert_string_equal (p.label, "2026-07");
  assert_true (issue_period_parse (ISSUE_MONTHLY, "2026-11", TJ, &p));
  assert_int_equal (p.start, at ("2026-11-01T00:00:00-07:00")); /* PDT */
  assert_int_equal (p.end, at ("2026-12-01T00:00:00-08:00"));   /* PST */
  /* The 25-hour day when Tijuana turns clocks back (2026-11-01). */
  int64_t sat = at ("2026-10-31T12:00:00-07:00");
  assert_int_equal (issue_window_end (sat, 0, ISSUE_MONTHLY, TJ),
                    at ("2026-11-01T07:00:00Z"));
  assert_int_equal (issue_window_end (sat, 1, ISSUE_DAILY, TJ),
                    at ("2026-11-01T07:00:00Z"));
  assert_int_equal (
      issue_window_end (at ("2026-11-01T12:00:00-08:00"), 0, ISSUE_DAILY, TJ),
      at ("2026-11-02T08:00:00Z"));
  /* Mexico City in summer 2022 still had daylight saving (UTC-5). */
  assert_int_equal (issue_window_end (at ("2022-07-15T12:00:00-05:00"), 7,
                                      ISSUE_MONTHLY, MX),
                    at ("2022-07-23T05:00:00Z"));
  assert_true (issue_period_parse (ISSUE_MONTHLY, "2022-07", MX, &p));
  assert_int_equal (p.start, at ("2022-07-01T05:00:00Z"));
  assert_int_equal (p.end, at ("2022-08-01T05:00:00Z"));
}

static void
test_window_periodicities (void **state)
{
  (void)state;
  int64_t sat = at ("2026-11-28T10:00:00-06:00"); /* a Saturday */
  assert_int_equal (issue_window_end (sat, 7, ISSUE_DAILY, MX),
                    at ("2026-11-29T00:00:00-06:00"));
  assert_int_equal (issue_window_end (sat, 7, ISSUE_WEEKLY, MX),
                    at ("2026-11-30T00:00:00-06:00")); /* next Monday */
  assert_int_equal (issue_window_end (at ("2026-11-14T10:00:00-06:00"), 7,
                                      ISSUE_FORTNIGHTLY, MX),
                    at ("2026-11-16T00:00:00-06:00"));
  assert_int_equal (issue_window_end (sat, 7, ISSUE_FORTNIGHTLY, MX),
                    at ("2026-12-01T00:00:00-06:00"));
  assert_int_equal (issue_window_end (sat, 7, ISSUE_BIMONTHLY, MX),
                    at ("2026-12-06T00:00:00-06:00")); /* Nov-Dec: no cap */
  assert_int_equal (issue_window_end (at ("2026-10-28T10:00:00-06:00"), 7,
                                      ISSUE_BIMONTHLY, MX),
                    at ("2026-11-01T00:00:00-06:00")); /* Sep-Oct ends */
}

static void
test_periods (void **state)
{
  (void)state;
  struct issue_period p;
  assert_true (issue_period_parse (ISSUE_MONTHLY, "2026-11", MX, &p));
  assert_int_equal (p.start, at ("2026-11-01T00:00:00-06:00"));
  assert_int_equal (p.end, at ("2026-12-01T00:00:00-06:00"));
  assert_string_equal (p.months, "11");
  assert_int_equal (p.year, 2026);

  assert_true (issue_period_parse (ISSUE_DAILY, "2026-11-24", MX, &p));
  assert_int_equal (p.end - p.start, 86400);
  assert_string_equal (p.months, "11");
  assert_false (issue_period_parse (ISSUE_DAILY, "2026-02-30", MX, &p));
  assert_false (issue_period_parse (ISSUE_DAILY, "2026-11-24x", MX, &p));

  assert_true (issue_period_parse (ISSUE_WEEKLY, "2026-W48", MX, &p));
  assert_int_equal (p.start, at ("2026-11-23T00:00:00-06:00")); /* Monday */
  assert_int_equal (p.end, at ("2026-11-30T00:00:00-06:00"));
  /* 2026 begins on a Thursday: it has a week 53, over the year end;
   * its Thursday (Dec 31) gives month and year. */
  assert_true (issue_period_parse (ISSUE_WEEKLY, "2026-W53", MX, &p));
  assert_int_equal (p.start, at ("2026-12-28T00:00:00-06:00"));
  assert_int_equal (p.end, at ("2027-01-04T00:00:00-06:00"));
  assert_string_equal (p.months, "12");
  assert_int_equal (p.year, 2026);
  assert_false (issue_period_parse (ISSUE_WEEKLY, "2025-W53", MX, &p));
  assert_false (issue_period_parse (ISSUE_WEEKLY, "2026-W00", MX, &p));
  assert_true (issue_period_of (ISSUE_WEEKLY, at ("2027-01-02T12:00:00-06:00"),
                                MX, &p));
  assert_string_equal (p.label, "2026-W53");

  assert_true (issue_period_parse (ISSUE_FORTNIGHTLY, "2026-11-2", MX, &p));
  assert_int_equal (p.start, at ("2026-11-16T00:00:00-06:00"));
  assert_int_equal (p.end, at ("2026-12-01T00:00:00-06:00"));
  assert_false (issue_period_parse (ISSUE_FORTNIGHTLY, "2026-11-3", MX, &p));

  assert_true (issue_period_parse (ISSUE_BIMONTHLY, "2026-11/12", MX, &p));
  assert_string_equal (p.months, "18");
  assert_int_equal (p.end, at ("2027-01-01T00:00:00-06:00"));
  assert_true (issue_period_parse (ISSUE_BIMONTHLY, "2026-01/02", MX, &p));
  assert_string_equal (p.months, "13");
  assert_false (issue_period_parse (ISSUE_BIMONTHLY, "2026-12/01", MX, &p));
  assert_false (issue_period_parse (ISSUE_BIMONTHLY, "2026-02/03", MX, &p));

  /* Wrong syntax for the periodicity. */
  assert_false (issue_period_parse (ISSUE_MONTHLY, "2026-W48", MX, &p));
  assert_false (issue_period_parse (ISSUE_MONTHLY, "2026-13", MX, &p));
  assert_false (issue_period_parse (ISSUE_MONTHLY, "1999-12", MX, &p));
  assert_int_equal (issue_periodicity_parse ("04"), ISSUE_MONTHLY);
  assert_int_equal (issue_periodicity_parse ("06"), 0);
}

static void
test_receiver_fields (void **state)
{
  (void)state;
  struct ferr e;
  const char *mail[] = { "cliente@example.com" };
  struct issue_receiver r = { "URE180429TM6",
                              "UNIVERSIDAD ROBOTICA ESPANOLA",
                              "601",
                              "86991",
                              "G03",
                              mail,
                              1,
                              false };
  memset (&e, 0, sizeof e);
  assert_true (issue_receiver_check (&r, &e));

  r.rfc = "URE180429TM5"; /* wrong check digit */
  assert_false (issue_receiver_check (&r, &e));
  assert_string_equal (e.code, "rfc_check_digit");
  assert_string_equal (e.field, "customer.tax_id");
  r.accept_check_digit = true; /* the user confirmed it */
  assert_true (issue_receiver_check (&r, &e));
  r.accept_check_digit = false;
  r.rfc = "URE180429TM6";

  /* G03 is not allowed for régimen 605 (sueldos y salarios). */
  struct issue_receiver f = { "XOJI740919U48",
                              "INGRID XODAR JIMENEZ",
                              "605",
                              "88965",
                              "G03",
                              NULL,
                              0,
                              false };
  assert_false (issue_receiver_check (&f, &e));
  assert_string_equal (e.field, "use");
  f.use = "D01";
  assert_true (issue_receiver_check (&f, &e));

  const char *bad[] = { "not an address" };
  r.emails = bad;
  assert_false (issue_receiver_check (&r, &e));
  assert_string_equal (e.field, "customer.email");
  r.emails = mail;
  r.name = "";
  assert_false (issue_receiver_check (&r, &e));
  assert_string_equal (e.field, "customer.legal_name");
  r.name = "X";
  r.zip = "123";
  assert_false (issue_receiver_check (&r, &e));
  assert_string_equal (e.field, "customer.address.zip");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_window_last_second),
    cmocka_unit_test (test_window_month_end),
    cmocka_unit_test (test_window_time_zones),
    cmocka_unit_test (test_window_daylight_saving),
    cmocka_unit_test (test_window_periodicities),
    cmocka_unit_test (test_periods),
    cmocka_unit_test (test_receiver_fields),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
