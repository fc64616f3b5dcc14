/* test_tz.c — util/tz: known facts of Mexico's zones, a sweep against
 * glibc's localtime_r, the ambiguous/skipped-time rule, ISO 8601
 * parsing and formatting, day/month helpers, bad names, and corrupt or
 * truncated TZif files refused.  Single-threaded except the cache test,
 * so it may set TZ for glibc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/tz.h"

static const char *zdir = "/usr/share/zoneinfo";

static const struct tz *
zone (const char *name)
{
  struct ferr err = { 0 };
  const struct tz *z = tz_get (name, &err);
  if (z == NULL)
    fail_msg ("%s: %s", name, err.message);
  return z;
}

/* UTC seconds of a civil time read as UTC. */
static int64_t
U (int y, int mo, int d, int h, int mi, int s)
{
  int64_t u;
  assert_true (tz_local_to_utc (tz_utc (), y, mo, d, h, mi, s, &u));
  return u;
}

static int64_t
local_to_utc (const struct tz *z, int y, int mo, int d, int h, int mi, int s)
{
  int64_t u;
  assert_true (tz_local_to_utc (z, y, mo, d, h, mi, s, &u));
  return u;
}

static void
assert_local (const struct tz *z, int64_t utc, int y, int mo, int d, int h,
              int mi, int s, int32_t off)
{
  struct tz_local l;
  tz_utc_to_local (z, utc, &l);
  char got[64], want[64];
  snprintf (got, sizeof got, "%04d-%02d-%02d %02d:%02d:%02d %d", l.year,
            l.month, l.day, l.hour, l.minute, l.second, (int)l.offset);
  snprintf (want, sizeof want, "%04d-%02d-%02d %02d:%02d:%02d %d", y, mo, d, h,
            mi, s, (int)off);
  assert_string_equal (got, want);
}

/* ------------------------------------------------------------------ */
/* Known facts                                                         */
/* ------------------------------------------------------------------ */

static void
test_mexico_city (void **state)
{
  const struct tz *z = zone ("America/Mexico_City");
  assert_ptr_equal (z, zone (NULL)); /* the default */
  assert_ptr_equal (z, zone (""));   /* cached: the same object */
  assert_string_equal (tz_name (z), "America/Mexico_City");
  /* DST until 2022: summer noon was UTC-5, since 2023 it is UTC-6. */
  assert_int_equal (local_to_utc (z, 2022, 7, 1, 12, 0, 0),
                    U (2022, 7, 1, 17, 0, 0));
  assert_int_equal (local_to_utc (z, 2023, 7, 1, 12, 0, 0),
                    U (2023, 7, 1, 18, 0, 0));
  assert_local (z, U (2022, 7, 1, 17, 0, 0), 2022, 7, 1, 12, 0, 0, -18000);
  /* The last DST end, 2022-10-30 02:00 CDT -> 01:00 CST (07:00Z). */
  int64_t end = U (2022, 10, 30, 7, 0, 0);
  assert_int_equal (tz_offset_at_utc (z, end - 1), -18000);
  assert_int_equal (tz_offset_at_utc (z, end), -21600);
  assert_local (z, end - 1, 2022, 10, 30, 1, 59, 59, -18000);
  assert_local (z, end, 2022, 10, 30, 1, 0, 0, -21600);
  /* 01:30 happened twice: the earlier (CDT) occurrence is taken. */
  assert_int_equal (local_to_utc (z, 2022, 10, 30, 1, 30, 0),
                    U (2022, 10, 30, 6, 30, 0));
  assert_int_equal (local_to_utc (z, 2022, 10, 30, 2, 0, 0),
                    U (2022, 10, 30, 8, 0, 0));
  /* After the last transition the footer ("CST6") applies. */
  assert_int_equal (tz_offset_at_utc (z, U (2030, 7, 1, 0, 0, 0)), -21600);
  assert_int_equal (tz_offset_at_utc (z, U (2090, 7, 1, 0, 0, 0)), -21600);
}

static void
test_tijuana (void **state)
{
  const struct tz *z = zone ("America/Tijuana");
  assert_int_equal (local_to_utc (z, 2026, 7, 1, 12, 0, 0),
                    U (2026, 7, 1, 19, 0, 0));
  assert_int_equal (local_to_utc (z, 2026, 1, 15, 12, 0, 0),
                    U (2026, 1, 15, 20, 0, 0));
  /* 2026-03-08 02:00 PST -> 03:00 PDT: 02:30 does not exist; it is read
   * at the offset before (PST), i.e. 10:30Z, which clocks show as 03:30. */
  int64_t u = local_to_utc (z, 2026, 3, 8, 2, 30, 0);
  assert_int_equal (u, U (2026, 3, 8, 10, 30, 0));
  struct tz_local l;
  tz_utc_to_local (z, u, &l);
  assert_int_equal (l.hour, 3);
  assert_int_equal (l.minute, 30);
  assert_true (l.dst);
  assert_local (z, U (2026, 3, 8, 9, 59, 59), 2026, 3, 8, 1, 59, 59, -28800);
  assert_local (z, U (2026, 3, 8, 10, 0, 0), 2026, 3, 8, 3, 0, 0, -25200);
  /* 2026-11-01 01:30 happens twice: PDT first (08:30Z). */
  assert_int_equal (local_to_utc (z, 2026, 11, 1, 1, 30, 0),
                    U (2026, 11, 1, 8, 30, 0));
  /* The footer rule (PST8PDT,M3.2.0,M11.1.0) beyond the file's table. */
  assert_int_equal (local_to_utc (z, 2045, 3, 12, 3, 0, 0),
                    U (2045, 3, 12, 10, 0, 0));
  assert_int_equal (tz_offset_at_utc (z, U (2045, 7, 1, 0, 0, 0)), -25200);
  assert_int_equal (tz_offset_at_utc (z, U (2045, 12, 1, 0, 0, 0)), -28800);
}

static void
test_cancun_utc (void **state)
{
  const struct tz *z = zone ("America/Cancun");
  /* UTC-5 all year since 2015-02-01, UTC-6 in January 2014. */
  assert_int_equal (tz_offset_at_utc (z, U (2014, 1, 15, 12, 0, 0)), -21600);
  for (int y = 2016; y <= 2040; y += 3)
    for (int m = 1; m <= 12; m++)
      assert_int_equal (tz_offset_at_utc (z, U (y, m, 15, 12, 0, 0)), -18000);
  const struct tz *u = zone ("UTC");
  for (int64_t t = U (1990, 1, 1, 0, 0, 0); t < U (2040, 1, 1, 0, 0, 0);
       t += 86400 * 97 + 3)
    {
      assert_int_equal (tz_offset_at_utc (u, t), 0);
      assert_int_equal (tz_offset_at_utc (tz_utc (), t), 0);
    }
  assert_string_equal (tz_name (tz_utc ()), "UTC");
}

/* ------------------------------------------------------------------ */
/* Sweep against glibc                                                 */
/* ------------------------------------------------------------------ */

static void
set_glibc_tz (const char *name)
{
  char v[512];
  snprintf (v, sizeof v, ":%s/%s", zdir, name);
  setenv ("TZ", v, 1);
  tzset ();
}

static void
compare_at (const struct tz *z, const char *name, time_t t)
{
  struct tm tm;
  assert_non_null (localtime_r (&t, &tm));
  struct tz_local l;
  tz_utc_to_local (z, t, &l);
  if (l.year != tm.tm_year + 1900 || l.month != tm.tm_mon + 1
      || l.day != tm.tm_mday || l.hour != tm.tm_hour || l.minute != tm.tm_min
      || l.second != tm.tm_sec || l.offset != tm.tm_gmtoff
      || l.dst != (tm.tm_isdst > 0))
    fail_msg ("%s at %lld: tz %04d-%02d-%02d %02d:%02d:%02d %d dst=%d, "
              "glibc %04d-%02d-%02d %02d:%02d:%02d %ld dst=%d",
              name, (long long)t, l.year, l.month, l.day, l.hour, l.minute,
              l.second, (int)l.offset, l.dst, tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_gmtoff,
              tm.tm_isdst);
  /* Back to UTC: the same instant, or an earlier one that clocks show
   * the same way (the first occurrence of an ambiguous time). */
  int64_t u;
  assert_true (tz_local_to_utc (z, l.year, l.month, l.day, l.hour, l.minute,
                                l.second, &u));
  if (u != t)
    {
      struct tz_local e;
      tz_utc_to_local (z, u, &e);
      if (!(u < t && e.year == l.year && e.month == l.month && e.day == l.day
            && e.hour == l.hour && e.minute == l.minute
            && e.second == l.second))
        fail_msg ("%s: local time of %lld maps back to %lld", name,
                  (long long)t, (long long)u);
    }
  /* Formatting and parsing back name the same instant. */
  char iso[TZ_ISO_MAX];
  tz_format_iso (z, t, iso);
  assert_true (tz_parse_iso (tz_utc (), iso, &u, NULL));
  assert_int_equal (u, t);
}

static void
test_glibc_sweep (void **state)
{
  static const char *zones[]
      = { "America/Mexico_City", "America/Tijuana",       "America/Cancun",
          "America/Chihuahua",   "America/Ciudad_Juarez", "America/Hermosillo",
          "America/Matamoros",   "America/Santiago",      "America/New_York",
          "Europe/Dublin",       "Australia/Lord_Howe",   "UTC" };
  const time_t from = U (1990, 1, 1, 0, 0, 0), to = U (2041, 1, 1, 0, 0, 0);
  long transitions = 0;
  for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
    {
      const struct tz *z = zone (zones[i]);
      set_glibc_tz (zones[i]);
      struct tm prev_tm;
      time_t prev = from;
      localtime_r (&prev, &prev_tm);
      for (time_t t = from; t < to; t += 3 * 3600 + 1237)
        {
          compare_at (z, zones[i], t);
          struct tm tm;
          localtime_r (&t, &tm);
          if (tm.tm_gmtoff != prev_tm.tm_gmtoff)
            {
              /* Find glibc's transition second and check both sides. */
              time_t lo = prev, hi = t;
              while (hi - lo > 1)
                {
                  time_t mid = lo + (hi - lo) / 2;
                  struct tm m;
                  localtime_r (&mid, &m);
                  if (m.tm_gmtoff == prev_tm.tm_gmtoff)
                    lo = mid;
                  else
                    hi = mid;
                }
              compare_at (z, zones[i], lo);
              compare_at (z, zones[i], hi);
              transitions++;
            }
          prev = t;
          prev_tm = tm;
        }
    }
  unsetenv ("TZ");
  tzset ();
  assert_true (transitions > 400); /* the sweep did cross DST changes */
}

/* Every zone file of the system loads (or is refused as corrupt, never a
 * crash), and agrees with glibc at a few instants. */
static void
test_all_system_zones (void **state)
{
  char list[256];
  snprintf (list, sizeof list, "%s/tzdata.zi", zdir);
  FILE *f = fopen (list, "r");
  if (f == NULL)
    skip ();
  char line[512];
  int n = 0;
  while (fgets (line, sizeof line, f))
    {
      char name[128];
      if (sscanf (line, "Z %127s", name) != 1
          && sscanf (line, "L %*s %127s", name) != 1)
        continue;
      const struct tz *z = zone (name);
      set_glibc_tz (name);
      for (int y = 1995; y <= 2040; y += 5)
        {
          compare_at (z, name, U (y, 1, 10, 12, 0, 0));
          compare_at (z, name, U (y, 7, 10, 12, 0, 0));
        }
      n++;
    }
  fclose (f);
  unsetenv ("TZ");
  tzset ();
  assert_true (n > 300);
}

/* ------------------------------------------------------------------ */
/* ISO 8601                                                            */
/* ------------------------------------------------------------------ */

static void
test_iso (void **state)
{
  const struct tz *mx = zone ("America/Mexico_City");
  const struct tz *tj = zone ("America/Tijuana");
  char out[TZ_ISO_MAX];
  int64_t t = U (2026, 11, 24, 17, 7, 19), u;
  int32_t off;
  assert_string_equal (tz_format_iso (mx, t, out),
                       "2026-11-24T11:07:19-06:00");
  assert_string_equal (tz_format_iso (tj, U (2026, 7, 1, 19, 0, 0), out),
                       "2026-07-01T12:00:00-07:00");
  assert_string_equal (tz_format_iso (tz_utc (), t, out),
                       "2026-11-24T17:07:19+00:00");
  assert_string_equal (tz_format_iso (zone ("Asia/Kolkata"), t, out),
                       "2026-11-24T22:37:19+05:30");

  assert_true (tz_parse_iso (mx, "2026-11-24T11:07:19", &u, &off));
  assert_int_equal (u, t);
  assert_int_equal (off, -21600);
  assert_true (tz_parse_iso (mx, "2026-11-24 11:07:19", &u, NULL));
  assert_int_equal (u, t);
  assert_true (tz_parse_iso (mx, "2026-11-24T17:07:19Z", &u, &off));
  assert_int_equal (u, t);
  assert_int_equal (off, 0);
  assert_true (tz_parse_iso (tj, "2026-11-24T11:07:19-06:00", &u, &off));
  assert_int_equal (u, t);
  assert_int_equal (off, -21600);
  assert_true (tz_parse_iso (mx, "2026-11-24T22:37:19+05:30", &u, NULL));
  assert_int_equal (u, t);
  /* No suffix, in a zone with DST: the offset of that date. */
  assert_true (tz_parse_iso (tj, "2026-07-01T12:00:00", &u, &off));
  assert_int_equal (u, U (2026, 7, 1, 19, 0, 0));
  assert_int_equal (off, -25200);
  /* A skipped time: the offset applied is the one before the gap. */
  assert_true (tz_parse_iso (tj, "2026-03-08T02:30:00", &u, &off));
  assert_int_equal (u, U (2026, 3, 8, 10, 30, 0));
  assert_int_equal (off, -28800);
  assert_true (tz_parse_iso (mx, "2024-02-29T00:00:00", &u, NULL));

  static const char *bad[] = {
    "2026-02-29T00:00:00",
    "2026-11-24T24:00:00",
    "2026-11-24T11:60:00",
    "2026-11-24T11:07:60",
    "2026-13-01T00:00:00",
    "2026-00-10T00:00:00",
    "2026-11-00T00:00:00",
    "2026-11-31T00:00:00",
    "0000-01-01T00:00:00",
    "2026-11-24T11:07:19.5",
    "2026-11-24T11:07:19-0600",
    "2026-11-24T11:07:19+24:00",
    "2026-11-24T11:07:19-06:60",
    "2026-11-24T11:07:19z",
    "2026-11-24T11:07:19 ",
    " 2026-11-24T11:07:19",
    "2026-11-24",
    "2026-11-24T11:07",
    "2026/11/24T11:07:19",
    "2026-11-24X11:07:19",
    "2026-11-24T11:07:19Z0",
    "+2026-11-24T11:07:1",
    "2026-11-24T11:07:19-06:00x",
    "",
    NULL,
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      u = 12345;
      if (tz_parse_iso (mx, bad[i], &u, NULL))
        fail_msg ("accepted \"%s\"", bad[i]);
      assert_int_equal (u, 12345);
    }
  assert_false (tz_local_to_utc (mx, 2026, 2, 29, 0, 0, 0, &u));
  assert_false (tz_local_to_utc (mx, 10000, 1, 1, 0, 0, 0, &u));
  assert_false (tz_local_to_utc (mx, 2026, 1, 1, -1, 0, 0, &u));
}

/* ------------------------------------------------------------------ */
/* Day and month helpers                                               */
/* ------------------------------------------------------------------ */

static void
test_days (void **state)
{
  const struct tz *mx = zone ("America/Mexico_City");
  const struct tz *tj = zone ("America/Tijuana");
  int64_t t = U (2026, 11, 24, 17, 7, 19);
  assert_int_equal (tz_day_start (mx, t), U (2026, 11, 24, 6, 0, 0));
  assert_int_equal (tz_month_start (mx, t), U (2026, 11, 1, 6, 0, 0));
  /* 03:00Z on the 24th is still the 23rd in Mexico City. */
  assert_int_equal (tz_day_start (mx, U (2026, 11, 24, 3, 0, 0)),
                    U (2026, 11, 23, 6, 0, 0));
  assert_int_equal (tz_local_day (mx, U (2026, 11, 24, 3, 0, 0)),
                    tz_days_from_civil (2026, 11, 23));
  assert_int_equal (tz_month_start (mx, U (2026, 12, 1, 5, 59, 59)),
                    U (2026, 11, 1, 6, 0, 0));
  /* A month that started in DST (Mexico City, October 2022). */
  assert_int_equal (tz_month_start (mx, U (2022, 10, 31, 12, 0, 0)),
                    U (2022, 10, 1, 5, 0, 0));
  /* Adding local days across Tijuana's spring-forward: 23 hours. */
  int64_t noon = local_to_utc (tj, 2026, 3, 7, 12, 0, 0);
  assert_int_equal (tz_add_days (tj, noon, 1) - noon, 23 * 3600);
  assert_int_equal (tz_add_days (tj, noon, 1), U (2026, 3, 8, 19, 0, 0));
  assert_int_equal (tz_add_days (tj, tz_add_days (tj, noon, 1), -1), noon);
  int64_t fall = local_to_utc (tj, 2026, 10, 31, 12, 0, 0);
  assert_int_equal (tz_add_days (tj, fall, 1) - fall, 25 * 3600);
  assert_int_equal (tz_add_days (mx, t, 7), t + 7 * 86400);
  assert_int_equal (tz_midnight (tj, tz_days_from_civil (2026, 3, 8)),
                    U (2026, 3, 8, 8, 0, 0));
  assert_int_equal (tz_midnight (tj, tz_days_from_civil (2026, 3, 9)),
                    U (2026, 3, 9, 7, 0, 0));
  /* Chile starts DST at Saturday 24:00: on 2026-09-06 local 00:00 does
   * not exist and the day starts at the jump, 01:00 (-03). */
  const struct tz *cl = zone ("America/Santiago");
  int64_t s = tz_midnight (cl, tz_days_from_civil (2026, 9, 6));
  assert_local (cl, s, 2026, 9, 6, 1, 0, 0, -10800);
  assert_local (cl, s - 1, 2026, 9, 5, 23, 59, 59, -14400);
  assert_int_equal (tz_day_start (cl, s + 3600), s);
  /* Calendar helpers. */
  int y, m, d;
  for (int64_t day = -800000; day < 3000000; day += 997)
    {
      tz_civil_from_days (day, &y, &m, &d);
      assert_int_equal (tz_days_from_civil (y, m, d), day);
    }
  assert_int_equal (tz_days_from_civil (1970, 1, 1), 0);
  assert_int_equal (tz_days_from_civil (2000, 3, 1), 11017);
  /* Far instants are clamped, not overflowed. */
  struct tz_local l;
  tz_utc_to_local (tj, INT64_MAX, &l);
  assert_int_equal (l.year, 9999);
  tz_utc_to_local (tj, INT64_MIN, &l);
  assert_int_equal (l.year, 1);
  (void)tz_add_days (tj, INT64_MAX, 2000000000);
  (void)tz_midnight (mx, INT64_MIN);
}

/* ------------------------------------------------------------------ */
/* Bad names, corrupt files                                            */
/* ------------------------------------------------------------------ */

static void
expect_refused (const char *name, const char *code)
{
  struct ferr err = { 0 };
  const struct tz *z = tz_get (name, &err);
  if (z != NULL)
    fail_msg ("%s was accepted", name);
  assert_non_null (err.code);
  if (strcmp (err.code, code) != 0)
    fail_msg ("%s: %s (%s), expected %s", name, err.code, err.message, code);
  assert_string_equal (err.field, "timezone");
  assert_true (strlen (err.message) > 10 && strlen (err.message_es) > 10);
}

/* A CFDI Fecha (local time, zone unknown) names UTC-5 .. UTC-8. */
static void
test_mx_local_range (void **state)
{
  (void)state;
  int64_t lo = 0, hi = 0, t;
  assert_true (tz_mx_local_range ("2026-11-24T12:00:00", &lo, &hi));
  assert_true (tz_parse_iso (tz_utc (), "2026-11-24T17:00:00Z", &t, NULL));
  assert_int_equal (lo, t); /* at UTC-5 (Cancun) */
  assert_true (tz_parse_iso (tz_utc (), "2026-11-24T20:00:00Z", &t, NULL));
  assert_int_equal (hi, t); /* at UTC-8 (Tijuana in winter) */
  /* exactly the CFDI shape: a 'T', no zone, a calendar date */
  assert_false (tz_mx_local_range ("2026-11-24 12:00:00", &lo, &hi));
  assert_false (tz_mx_local_range ("2026-11-24T12:00:00Z", &lo, &hi));
  assert_false (tz_mx_local_range ("2026-11-24T12:00:00-06:00", &lo, &hi));
  assert_false (tz_mx_local_range ("2026-02-29T12:00:00", &lo, &hi));
  assert_false (tz_mx_local_range ("2026-11-24T12:00", &lo, &hi));
  assert_false (tz_mx_local_range (NULL, &lo, &hi));
}

static void
test_bad_names (void **state)
{
  static const char *invalid[] = {
    "../../etc/passwd",
    "/etc/passwd",
    "America/../UTC",
    "America//Tijuana",
    "America/Tijuana/",
    "America/Mexico City",
    "America/Tijuana\n",
    "./UTC",
    "UTC;rm",
    "Amérique/Montréal",
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
    expect_refused (invalid[i], "timezone_invalid");
  char longname[TZ_NAME_MAX + 2];
  memset (longname, 'A', TZ_NAME_MAX + 1);
  longname[TZ_NAME_MAX + 1] = '\0';
  expect_refused (longname, "timezone_invalid");
  longname[TZ_NAME_MAX] = '\0'; /* long enough, but no such file */
  expect_refused (longname, "timezone_unknown");
  expect_refused ("America/Nowhere", "timezone_unknown");
  expect_refused ("America", "timezone_unknown"); /* a folder */
  struct ferr err = { 0 };
  assert_non_null (tz_get ("Etc/GMT+6", &err)); /* '+' is allowed */
  assert_int_equal (tz_offset_at_utc (tz_get ("Etc/GMT+6", NULL), 0), -21600);
}

static char tmpdir[64];

static void
write_zone (const char *name, const void *p, size_t n)
{
  char path[256];
  snprintf (path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen (path, "wb");
  assert_non_null (f);
  assert_int_equal (fwrite (p, 1, n, f), n);
  fclose (f);
}

/* Builds a version-2 TZif file: n transitions to types idx[] among nt
 * types of offsets off[] (dst[]), then the footer. */
static void
build_tzif (struct buf *b, const int64_t *tr, const uint8_t *idx, size_t n,
            const int32_t *off, const uint8_t *dst, size_t nt,
            const char *footer)
{
  buf_reset (b);
  for (int block = 0; block < 2; block++)
    {
      size_t ts = block ? 8 : 4;
      uint8_t h[44] = { 'T', 'Z', 'i', 'f', '2' };
      uint32_t counts[6] = { 0, 0, 0, (uint32_t)n, (uint32_t)nt, 4 };
      for (int i = 0; i < 6; i++)
        for (int k = 0; k < 4; k++)
          h[20 + 4 * i + k] = (uint8_t)(counts[i] >> (24 - 8 * k));
      buf_append (b, h, 44);
      for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ts; k++)
          buf_putc (b, (char)((uint64_t)tr[i] >> (8 * (ts - 1 - k))));
      buf_append (b, idx, n);
      for (size_t i = 0; i < nt; i++)
        {
          uint8_t t[6] = { (uint8_t)((uint32_t)off[i] >> 24),
                           (uint8_t)((uint32_t)off[i] >> 16),
                           (uint8_t)((uint32_t)off[i] >> 8),
                           (uint8_t)off[i],
                           dst[i],
                           0 };
          buf_append (b, t, 6);
        }
      buf_append (b, "XYZ", 4);
    }
  buf_printf (b, "\n%s\n", footer);
}

static void
test_corrupt_files (void **state)
{
  snprintf (tmpdir, sizeof tmpdir, "/tmp/test_tz.XXXXXX");
  assert_non_null (mkdtemp (tmpdir));
  setenv ("FACTURO_ZONEINFO", tmpdir, 1);
  struct buf b = BUF_INIT;

  /* A small valid zone: one summer in 1990, then the footer's US rule
   * (consistent with the last transition, as RFC 8536 requires). */
  const int64_t tr[] = { U (1990, 3, 11, 8, 0, 0), U (1990, 11, 4, 7, 0, 0) };
  const uint8_t idx[] = { 1, 0 };
  const int32_t off[] = { -21600, -18000 };
  const uint8_t dst[] = { 0, 1 };
  build_tzif (&b, tr, idx, 2, off, dst, 2, "CST6CDT,M3.2.0,M11.1.0");
  write_zone ("Built", b.data, b.len);
  const struct tz *z = zone ("Built");
  assert_int_equal (tz_offset_at_utc (z, U (1990, 7, 1, 0, 0, 0)), -18000);
  assert_int_equal (tz_offset_at_utc (z, U (1991, 1, 1, 0, 0, 0)), -21600);
  assert_int_equal (tz_offset_at_utc (z, U (2026, 7, 1, 0, 0, 0)), -18000);
  assert_int_equal (tz_offset_at_utc (z, U (2026, 3, 8, 7, 59, 59)), -21600);
  assert_int_equal (tz_offset_at_utc (z, U (2026, 3, 8, 8, 0, 0)), -18000);
  assert_int_equal (tz_offset_at_utc (z, U (2026, 11, 1, 6, 59, 59)), -18000);
  assert_int_equal (tz_offset_at_utc (z, U (2026, 11, 1, 7, 0, 0)), -21600);

  /* The same as a version-1 file (32-bit block only, no footer): after
   * the last transition its type stays in force. */
  size_t v1len = 44 + 2 * 5 + 2 * 6 + 4;
  uint8_t v1[128];
  memcpy (v1, b.data, v1len);
  v1[4] = 0;
  write_zone ("V1", v1, v1len);
  z = zone ("V1");
  assert_int_equal (tz_offset_at_utc (z, U (1990, 7, 1, 0, 0, 0)), -18000);
  assert_int_equal (tz_offset_at_utc (z, U (2026, 7, 1, 0, 0, 0)), -21600);
  write_zone ("Bad", v1, v1len - 1);
  expect_refused ("Bad", "timezone_corrupt");

  /* Semantic corruptions of the built file, each refused. */
  const int64_t bad_order[] = { tr[1], tr[0] };
  const uint8_t bad_idx[] = { 1, 2 };
  const uint8_t bad_dst[] = { 0, 2 };
  const int32_t bad_off[] = { -21600, 100000 };
  struct
  {
    const int64_t *tr;
    const uint8_t *idx;
    const int32_t *off;
    const uint8_t *dst;
    const char *footer;
  } cases[] = {
    { bad_order, idx, off, dst, "CST6CDT,M3.2.0,M11.1.0" },
    { tr, bad_idx, off, dst, "CST6CDT,M3.2.0,M11.1.0" },
    { tr, idx, off, bad_dst, "CST6CDT,M3.2.0,M11.1.0" },
    { tr, idx, bad_off, dst, "CST6CDT,M3.2.0,M11.1.0" },
    { tr, idx, off, dst, "CST6CDT" }, /* no rule */
    { tr, idx, off, dst, "C6" },      /* short name */
    { tr, idx, off, dst, "CST" },     /* no offset */
    { tr, idx, off, dst, "CST25" },   /* offset too big */
    { tr, idx, off, dst, "CST6CDT,M13.2.0,M11.1.0" },
    { tr, idx, off, dst, "CST6CDT,M3.6.0,M11.1.0" },
    { tr, idx, off, dst, "CST6CDT,M3.2.7,M11.1.0" },
    { tr, idx, off, dst, "CST6CDT,M3.2.0,M11.1.0/168" },
    { tr, idx, off, dst, "CST6CDT,M3.2.0,M11.1.0x" },
    { tr, idx, off, dst, "CST6CDT,J366,M11.1.0" },
    { tr, idx, off, dst, "<-06>6<-05,M3.2.0,M11.1.0" },
    { tr, idx, off, dst, "PST8" }, /* disagrees with the last transition */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      build_tzif (&b, cases[i].tr, cases[i].idx, 2, cases[i].off, cases[i].dst,
                  2, cases[i].footer);
      write_zone ("Bad", b.data, b.len);
      expect_refused ("Bad", "timezone_corrupt");
    }

  /* Byte-level corruptions of a real file. */
  char path[256];
  snprintf (path, sizeof path, "%s/America/Tijuana", zdir);
  struct buf real = BUF_INIT;
  assert_int_equal (read_file (path, &real, 0), 0);
  assert_true (real.len > 1000);
  uint8_t *p = xmalloc (real.len + 8);
  /* Every truncation is refused. */
  for (size_t n = 0; n < real.len; n++)
    {
      write_zone ("Bad", real.data, n);
      expect_refused ("Bad", "timezone_corrupt");
    }
  /* Header fields: magic, version, counts (time types 0 and 257,
   * transitions 0xffffffff, leap seconds, indicators), trailing bytes. */
  struct
  {
    size_t at;
    uint8_t v;
  } pokes[] = { { 0, 'X' },   { 4, '9' }, { 39, 0 }, { 38, 1 },
                { 32, 0xff }, { 31, 1 },  { 23, 1 }, { 43, 0 } };
  for (size_t i = 0; i < sizeof pokes / sizeof pokes[0]; i++)
    {
      memcpy (p, real.data, real.len);
      p[pokes[i].at] = pokes[i].v;
      if (pokes[i].at == 38) /* typecnt 256+x: too many */
        p[39] = 1;
      write_zone ("Bad", p, real.len);
      expect_refused ("Bad", "timezone_corrupt");
    }
  memcpy (p, real.data, real.len);
  memcpy (p + real.len, "junk", 4);
  write_zone ("Bad", p, real.len + 4);
  expect_refused ("Bad", "timezone_corrupt");
  /* Random byte flips: refused or loaded, never a crash, and a loaded
   * zone only reports offsets within RFC 8536's bounds. */
  srand (42);
  for (int i = 0; i < 3000; i++)
    {
      memcpy (p, real.data, real.len);
      for (int k = 0; k < 1 + i % 4; k++)
        p[(size_t)rand () % real.len] ^= (uint8_t)(1 + rand () % 255);
      char name[32];
      snprintf (name, sizeof name, "Fuzz%d", i);
      write_zone (name, p, real.len);
      struct ferr err = { 0 };
      const struct tz *fz = tz_get (name, &err);
      if (fz)
        for (int64_t t = U (1900, 1, 1, 0, 0, 0); t < U (2100, 1, 1, 0, 0, 0);
             t += 86400 * 211)
          {
            int32_t o = tz_offset_at_utc (fz, t);
            assert_true (o > -86400 && o < 86400);
          }
      else
        assert_string_equal (err.code, "timezone_corrupt");
      snprintf (path, sizeof path, "%s/%s", tmpdir, name);
      unlink (path);
    }
  /* Oversized file. */
  uint8_t *big = xcalloc (1, 300 << 10);
  memcpy (big, real.data, real.len);
  write_zone ("Bad", big, 300 << 10);
  expect_refused ("Bad", "timezone_corrupt");
  free (big);
  free (p);
  buf_free (&real);
  buf_free (&b);
  snprintf (path, sizeof path, "%s/Bad", tmpdir);
  unlink (path);
  snprintf (path, sizeof path, "%s/Built", tmpdir);
  unlink (path);
  snprintf (path, sizeof path, "%s/V1", tmpdir);
  unlink (path);
  rmdir (tmpdir);
  unsetenv ("FACTURO_ZONEINFO");
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

static const char *thread_zones[]
    = { "America/Merida", "America/Bahia_Banderas", "America/Ojinaga",
        "America/Mazatlan" };

static void *
thread_main (void *arg)
{
  const struct tz **out = arg;
  for (int r = 0; r < 200; r++)
    for (int i = 0; i < 4; i++)
      {
        const struct tz *z = tz_get (thread_zones[i], NULL);
        if (z == NULL || (out[i] && out[i] != z))
          return (void *)1;
        out[i] = z;
        struct tz_local l;
        tz_utc_to_local (z, 1790000000 + r * 3600, &l);
        if (l.offset != tz_offset_at_utc (z, 1790000000 + r * 3600))
          return (void *)1;
      }
  return NULL;
}

static void
test_threads (void **state)
{
  pthread_t th[8];
  const struct tz *seen[8][4];
  memset (seen, 0, sizeof seen);
  for (int i = 0; i < 8; i++)
    assert_int_equal (pthread_create (&th[i], NULL, thread_main, seen[i]), 0);
  for (int i = 0; i < 8; i++)
    {
      void *rv;
      pthread_join (th[i], &rv);
      assert_null (rv);
    }
  for (int i = 1; i < 8; i++)
    for (int k = 0; k < 4; k++)
      assert_ptr_equal (seen[i][k], seen[0][k]); /* loaded once */
}

int
main (void)
{
  const char *d = getenv ("FACTURO_ZONEINFO");
  if (d && d[0])
    zdir = d;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_mexico_city),
    cmocka_unit_test (test_tijuana),
    cmocka_unit_test (test_cancun_utc),
    cmocka_unit_test (test_glibc_sweep),
    cmocka_unit_test (test_all_system_zones),
    cmocka_unit_test (test_iso),
    cmocka_unit_test (test_days),
    cmocka_unit_test (test_mx_local_range),
    cmocka_unit_test (test_bad_names),
    cmocka_unit_test (test_corrupt_files),
    cmocka_unit_test (test_threads),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
