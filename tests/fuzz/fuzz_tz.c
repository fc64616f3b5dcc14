/*
 * fuzz_tz.c — libFuzzer harness for util/tz's TZif reader (header counts,
 * data blocks, the POSIX TZ footer).  A file that is accepted must then
 * answer every conversion without crashing: offsets under a day, and
 * its ISO 8601 text read back as the same instant.
 *
 * Seeds: tests/fuzz/corpus/tz/ (real zoneinfo files).  Run time-boxed
 * from tests/unit.
 */
#include <stdint.h>
#include <stdlib.h>

#include "util/tz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferr err;
  struct tz *z = tz_from_tzif (data, size, "Fuzz", &err);
  if (z == NULL)
    return 0;
  for (int64_t t = -2208988800LL; t < 4102444800LL; t += 86400 * 37 + 3607)
    {
      int32_t off = tz_offset_at_utc (z, t);
      if (off < -86399 || off > 86399)
        abort ();
      struct tz_local l;
      int64_t u;
      tz_utc_to_local (z, t, &l);
      if (!tz_local_to_utc (z, l.year, l.month, l.day, l.hour, l.minute,
                            l.second, &u))
        abort ();
      char iso[TZ_ISO_MAX];
      if (!tz_parse_iso (z, tz_format_iso (z, t, iso), &u, NULL) || u != t)
        abort ();
      (void)tz_add_days (z, tz_month_start (z, t), 45);
    }
  tz_free (z);
  return 0;
}
