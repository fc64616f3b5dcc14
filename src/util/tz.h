/*
 * tz.h — IANA time zones: UTC seconds <-> a merchant's local civil time.
 *
 * One module for every conversion facturo makes (API dates, CSV import,
 * self-invoicing window, global-invoice periods), so they all agree and
 * follow daylight saving where a zone has it (America/Tijuana) and its
 * history where it had it (America/Mexico_City until October 2022).
 *
 * Zones are read from the system's compiled zoneinfo (Debian's tzdata:
 * /usr/share/zoneinfo, or the directory named by FACTURO_ZONEINFO) by
 * tz_get, once per zone and process; a loaded zone is immutable and may
 * be used by any number of threads without locking.  Nothing here reads
 * or changes the process's TZ, so it is safe in the threaded server.
 *
 * Times are int64 seconds since 1970-01-01T00:00:00Z (no leap seconds).
 * Offsets are seconds east of UTC (Mexico City: -21600).  Supported
 * civil years are 1..9999; instants outside are clamped to that range.
 */
#ifndef FACTURO_TZ_H
#define FACTURO_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ferr.h"

#define TZ_DEFAULT "America/Mexico_City"
#define TZ_NAME_MAX 64 /* longest zone name accepted, in bytes */
#define TZ_ISO_MAX 32  /* room for tz_format_iso's output, with the NUL */

struct tz; /* opaque, immutable once loaded */

/* A local civil time as read on a clock in the zone. */
struct tz_local
{
  int year, month, day;     /* 1..9999, 1..12, 1..31 */
  int hour, minute, second; /* 0..23, 0..59, 0..59 */
  int32_t offset;           /* seconds east of UTC in force (local - UTC) */
  bool dst;                 /* the zone says daylight saving time */
};

/* The zone called `name` (an IANA name such as "America/Tijuana"; NULL or
 * "" mean TZ_DEFAULT).  The name must be 1..TZ_NAME_MAX bytes of
 * [A-Za-z0-9_+/-], must not start or end with '/' nor contain "//" (so
 * no path can escape the zoneinfo folder).  The first call for a name
 * reads and checks its TZif file; later calls return the same object.
 * The result lives until the process exits: never free it.  NULL with err
 * (field "timezone") filled: "timezone_invalid" for a bad name,
 * "timezone_unknown" when no such file can be read, "timezone_corrupt"
 * when the file is not a valid TZif file.  Thread-safe. */
const struct tz *tz_get (const char *name, struct ferr *err);

/* A zone parsed from a TZif file image in memory (len bytes, borrowed
 * for the call), outside the cache: for tests, fuzzing and tools.  name
 * is only recorded.  NULL with err as tz_get ("timezone_corrupt").  The
 * caller releases it with tz_free. */
struct tz *tz_from_tzif (const void *data, size_t len, const char *name,
                         struct ferr *err);
/* Frees a zone from tz_from_tzif; NULL (and tz_utc ()) are no-ops.
 * Never pass a zone from tz_get: those live until exit. */
void tz_free (struct tz *z);

/* Coordinated Universal Time, built in (needs no file).  Never NULL. */
const struct tz *tz_utc (void);

/* The name the zone was loaded under. */
const char *tz_name (const struct tz *z);

/* The offset (seconds east of UTC) in force at the instant utc. */
int32_t tz_offset_at_utc (const struct tz *z, int64_t utc);

/* The local time in z at the instant utc. */
void tz_utc_to_local (const struct tz *z, int64_t utc, struct tz_local *out);

/* The instant at which clocks in z show y-mo-d h:mi:s.  False (and *utc
 * untouched) if a field is out of range or the date is not in the
 * calendar (2026-02-29).  Times that a transition makes ambiguous or
 * skips are read at the offset in force BEFORE the transition (the rule
 * of java.time and of Python's fold=0):
 *   - an ambiguous time (clocks turned back) is its first, earlier,
 *     occurrence: Mexico City 2022-10-30 01:30 is 06:30Z (CDT);
 *   - a skipped time (clocks turned forward) is moved forward by the
 *     length of the gap: Tijuana 2026-03-08 02:30 is 10:30Z, which clocks
 *     show as 03:30 PDT.
 * Hence the first instant of a local day is always y-mo-d 00:00:00. */
bool tz_local_to_utc (const struct tz *z, int y, int mo, int d, int h, int mi,
                      int s, int64_t *utc);

/* Writes utc as ISO 8601 local time with its offset,
 * "2026-11-24T11:07:19-06:00" (always 25 characters; an offset with
 * seconds, only in local mean time before 1922, is written truncated to
 * the minute and the time shown at that offset, so the text still names
 * the same instant).  Returns out. */
char *tz_format_iso (const struct tz *z, int64_t utc, char out[TZ_ISO_MAX]);

/* Parses "YYYY-MM-DDTHH:MM:SS" (a space may replace the 'T') optionally
 * followed by "Z" or "+HH:MM"/"-HH:MM" (at most 23:59: local mean
 * times before 1900 reach 15:56) into the instant
 * it names: with no suffix the text is local time in z, resolved as
 * tz_local_to_utc does.  Nothing else is accepted (no fractions, no
 * trailing text).  *offset (seconds east, may be NULL) receives the
 * offset applied: the suffix's, or the zone's.  False on any error. */
bool tz_parse_iso (const struct tz *z, const char *s, int64_t *utc,
                   int32_t *offset);

/* Mexico's zones span UTC-8 (Tijuana in winter) to UTC-5 (Cancun; border
 * zones in summer), in seconds east of UTC. */
#define TZ_MX_EAST_MIN (-8 * 3600)
#define TZ_MX_EAST_MAX (-5 * 3600)

/* The instants that a local time written without an offset somewhere in
 * Mexico can name, such as a CFDI's Fecha (the issuer's local time at
 * LugarExpedicion, whose zone the document does not say): s read at
 * UTC-5 (*earliest) and at UTC-8 (*latest).  s must be exactly
 * "YYYY-MM-DDTHH:MM:SS" with a calendar date; false otherwise.  Used
 * wherever a Fecha is compared with a certificate's validity (cfdi/build.c
 * before sealing, cfdi/verify.c), so both accept the same dates. */
bool tz_mx_local_range (const char *s, int64_t *earliest, int64_t *latest);

/* Local calendar helpers for windows and periods.  A "day number" is a
 * local calendar date counted in days since 1970-01-01 (negative
 * before), as tz_days_from_civil gives. */

/* The local calendar date containing utc, as a day number. */
int64_t tz_local_day (const struct tz *z, int64_t utc);
/* The first instant (UTC) of the local date `day` (its 00:00:00, see
 * tz_local_to_utc for days that start in a gap). */
int64_t tz_midnight (const struct tz *z, int64_t day);
/* The first instant of the local day / month containing utc. */
int64_t tz_day_start (const struct tz *z, int64_t utc);
int64_t tz_month_start (const struct tz *z, int64_t utc);
/* The same local clock time n local days later (n < 0: earlier),
 * resolved as tz_local_to_utc does: a day is 23, 24 or 25 hours long
 * across a transition.  |n| is clamped to 1,000,000. */
int64_t tz_add_days (const struct tz *z, int64_t utc, int n);

/* Proleptic Gregorian calendar <-> day numbers (no zone involved). */
int64_t tz_days_from_civil (int y, int m, int d);
void tz_civil_from_days (int64_t day, int *y, int *m, int *d);

#endif
