/*
 * tz.c — IANA time zones from compiled TZif files (RFC 8536), see tz.h.
 *
 * Owns: reading and checking TZif files (versions 1 to 4; the 64-bit
 * block of version 2+ is used), the POSIX TZ string of the footer for
 * instants after the last transition ("CST6", "PST8PDT,M3.2.0,M11.1.0",
 * "<-04>4<-03>,M9.1.6/24,M4.1.6/24"), the per-process cache of loaded
 * zones, and every civil-time conversion.  Does not: leap-second ("right/")
 * files, which are refused, nor the TZ environment variable, which is
 * never read or set (glibc's tzset is process-global and not thread-safe).
 *
 * The file is untrusted input: every count is bounded before it sizes
 * anything, every read is checked against the bytes left, every index
 * against its table.  Workload: a handful of zones per process, each
 * loaded once (about 1-3 KB of file); lookups are a binary search.
 */
#include "util/tz.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define TZ_FILE_MAX (256u << 10) /* bytes: real files are under 4 KB */
#define TZ_MAX_TIMES 2000        /* transitions, as tzcode's TZ_MAX_TIMES */
#define TZ_MAX_TYPES 256         /* a type index is one byte */
#define TZ_MAX_CHARS 256         /* abbreviation bytes */
#define TZ_FOOTER_MAX 64         /* bytes of the POSIX TZ string */
#define TZ_OFF_MIN (-86399)      /* offsets, seconds: under a day (RFC 8536 */
#define TZ_OFF_MAX 86399         /* allows 26h; real zones stay under 16h) */
#define DAY 86400

struct tz_type
{
  int32_t off; /* seconds east of UTC */
  bool dst;
};

/* One end of daylight saving time in a POSIX TZ rule. */
struct tz_when
{
  char kind;      /* 'J': Jn (1..365, no Feb 29); 'N': n (0..365); 'M' */
  int n, m, w, d; /* Jn/n day; Mm.w.d month 1..12, week 1..5, weekday 0..6 */
  int32_t time;   /* seconds after local midnight, -167h..167h */
};

struct tz
{
  char name[TZ_NAME_MAX + 1];
  size_t ntrans;
  int64_t *trans;      /* [ntrans] UTC seconds, strictly ascending */
  uint8_t *trans_type; /* [ntrans] index into types */
  size_t ntypes;       /* 1..TZ_MAX_TYPES; types[0] before trans[0] */
  struct tz_type types[TZ_MAX_TYPES];
  bool has_rule;            /* footer present: applies after the last trans */
  int32_t std_off, dst_off; /* seconds east */
  bool has_dst;
  struct tz_when start, end; /* DST starts (local std), ends (local dst) */
  struct tz *next;           /* cache list */
};

static struct tz utc_zone = {
  .name = "UTC",
  .ntypes = 1,
  .has_rule = true,
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tz *cache; /* loaded zones, never freed */

/* ================================================================== */
/* Calendar                                                            */
/* ================================================================== */

static int64_t
floor_div (int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool
is_leap (int y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_len (int y, int m)
{
  static const int len[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  return m == 2 && is_leap (y) ? 29 : len[m - 1];
}

/* H. Hinnant's days_from_civil / civil_from_days algorithms. */
int64_t
tz_days_from_civil (int y, int m, int d)
{
  int64_t yy = (int64_t)y - (m <= 2);
  int64_t era = floor_div (yy, 400);
  int64_t yoe = yy - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void
tz_civil_from_days (int64_t z, int *y, int *m, int *d)
{
  z += 719468;
  int64_t era = floor_div (z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Sunday 0 … Saturday 6 (1970-01-01 was a Thursday). */
static int
weekday (int64_t day)
{
  return (int)(((day + 4) % 7 + 7) % 7);
}

/* Local seconds (as if UTC) of 0001-01-01 and 9999-12-31T23:59:59: the
 * range tz_local results are clamped to. */
#define LOCAL_MIN (-62135596800LL)
#define LOCAL_MAX (253402300799LL)

static int64_t
clamp64 (int64_t v, int64_t lo, int64_t hi)
{
  return v < lo ? lo : v > hi ? hi : v;
}

/* ================================================================== */
/* Offsets                                                             */
/* ================================================================== */

/* Day number of a rule date in year y. */
static int64_t
rule_day (const struct tz_when *r, int y)
{
  int64_t jan1 = tz_days_from_civil (y, 1, 1);
  if (r->kind == 'J')
    return jan1 + r->n - 1 + (is_leap (y) && r->n >= 60);
  if (r->kind == 'N')
    return jan1 + r->n;
  int64_t first = tz_days_from_civil (y, r->m, 1);
  int64_t day = first + (r->d - weekday (first) + 7) % 7 + 7 * (r->w - 1);
  while (day >= first + month_len (y, r->m)) /* week 5 = the last one */
    day -= 7;
  return day;
}

static struct tz_type
rule_at (const struct tz *z, int64_t t)
{
  struct tz_type r = { z->std_off, false };
  if (!z->has_dst)
    return r;
  t = clamp64 (t, LOCAL_MIN, LOCAL_MAX);
  int y, m, d;
  tz_civil_from_days (floor_div (t + z->std_off, DAY), &y, &m, &d);
  int64_t s = rule_day (&z->start, y) * DAY + z->start.time - z->std_off;
  int64_t e = rule_day (&z->end, y) * DAY + z->end.time - z->dst_off;
  bool in = s < e ? (t >= s && t < e) : !(t >= e && t < s);
  if (in)
    r = (struct tz_type){ z->dst_off, true };
  return r;
}

static struct tz_type
type_at (const struct tz *z, int64_t t)
{
  if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1])
    {
      if (z->has_rule)
        return rule_at (z, t);
      if (z->ntrans == 0)
        return z->types[0];
    }
  if (t < z->trans[0])
    return z->types[0];
  size_t lo = 0, hi = z->ntrans; /* trans[lo] <= t < trans[hi] */
  while (hi - lo > 1)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (z->trans[mid] <= t)
        lo = mid;
      else
        hi = mid;
    }
  return z->types[z->trans_type[lo]];
}

int32_t
tz_offset_at_utc (const struct tz *z, int64_t utc)
{
  return type_at (z, utc).off;
}

/* The instant at which clocks show local seconds L, by the rule of
 * tz.h: of the offsets in force two days either side (and the one
 * between), those that reproduce L; the earliest such instant; none (a
 * gap): L at the offset before. */
static int64_t
resolve (const struct tz *z, int64_t L)
{
  int32_t before = tz_offset_at_utc (z, L - 2 * DAY);
  int32_t cand[3] = { before, tz_offset_at_utc (z, L - before),
                      tz_offset_at_utc (z, L + 2 * DAY) };
  int64_t best = 0;
  bool found = false;
  for (int i = 0; i < 3; i++)
    {
      int64_t u = L - cand[i];
      if (tz_offset_at_utc (z, u) == cand[i] && (!found || u < best))
        {
          best = u;
          found = true;
        }
    }
  return found ? best : L - before;
}

/* ================================================================== */
/* Conversions                                                         */
/* ================================================================== */

const struct tz *
tz_utc (void)
{
  return &utc_zone;
}

const char *
tz_name (const struct tz *z)
{
  return z->name;
}

void
tz_utc_to_local (const struct tz *z, int64_t utc, struct tz_local *out)
{
  utc = clamp64 (utc, LOCAL_MIN - 2 * DAY, LOCAL_MAX + 2 * DAY);
  struct tz_type t = type_at (z, utc);
  int64_t l = clamp64 (utc + t.off, LOCAL_MIN, LOCAL_MAX);
  int64_t day = floor_div (l, DAY), secs = l - day * DAY;
  tz_civil_from_days (day, &out->year, &out->month, &out->day);
  out->hour = (int)(secs / 3600);
  out->minute = (int)(secs / 60 % 60);
  out->second = (int)(secs % 60);
  out->offset = t.off;
  out->dst = t.dst;
}

bool
tz_local_to_utc (const struct tz *z, int y, int mo, int d, int h, int mi,
                 int s, int64_t *utc)
{
  if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > month_len (y, mo)
      || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
    return false;
  *utc = resolve (z, tz_days_from_civil (y, mo, d) * DAY + h * 3600 + mi * 60
                         + s);
  return true;
}

char *
tz_format_iso (const struct tz *z, int64_t utc, char out[TZ_ISO_MAX])
{
  int32_t off = tz_offset_at_utc (z, utc) / 60 * 60; /* whole minutes */
  struct tz_local l;
  tz_utc_to_local (tz_utc (), utc + off, &l);
  int a = off < 0 ? -off : off;
  snprintf (out, TZ_ISO_MAX, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
            l.year, l.month, l.day, l.hour, l.minute, l.second,
            off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return out;
}

/* Reads exactly n digits. */
static bool
digits (const char *s, int n, int *v)
{
  *v = 0;
  for (int i = 0; i < n; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return false;
      *v = *v * 10 + (s[i] - '0');
    }
  return true;
}

bool
tz_parse_iso (const struct tz *z, const char *s, int64_t *utc, int32_t *offset)
{
  int y, mo, d, h, mi, se;
  if (s == NULL)
    return false;
  size_t n = strnlen (s, 26);
  if ((n != 19 && n != 20 && n != 25) || !digits (s, 4, &y) || s[4] != '-'
      || !digits (s + 5, 2, &mo) || s[7] != '-' || !digits (s + 8, 2, &d)
      || (s[10] != 'T' && s[10] != ' ') || !digits (s + 11, 2, &h)
      || s[13] != ':' || !digits (s + 14, 2, &mi) || s[16] != ':'
      || !digits (s + 17, 2, &se))
    return false;
  int64_t u;
  if (!tz_local_to_utc (tz_utc (), y, mo, d, h, mi, se, &u))
    return false; /* u: the local fields read as if UTC */
  int32_t off;
  if (n == 19)
    {
      int64_t l = u;
      u = resolve (z, l);
      off = (int32_t)(l - u);
    }
  else if (n == 20 && s[19] == 'Z')
    off = 0;
  else if (n == 25 && (s[19] == '+' || s[19] == '-') && s[22] == ':')
    {
      int oh, om;
      if (!digits (s + 20, 2, &oh) || !digits (s + 23, 2, &om) || oh > 23
          || om > 59)
        return false;
      off = (oh * 3600 + om * 60) * (s[19] == '-' ? -1 : 1);
      u -= off;
    }
  else
    return false;
  *utc = u;
  if (offset)
    *offset = off;
  return true;
}

int64_t
tz_local_day (const struct tz *z, int64_t utc)
{
  struct tz_local l;
  tz_utc_to_local (z, utc, &l);
  return tz_days_from_civil (l.year, l.month, l.day);
}

int64_t
tz_midnight (const struct tz *z, int64_t day)
{
  return resolve (z, clamp64 (day, LOCAL_MIN / DAY, LOCAL_MAX / DAY) * DAY);
}

int64_t
tz_day_start (const struct tz *z, int64_t utc)
{
  return tz_midnight (z, tz_local_day (z, utc));
}

int64_t
tz_month_start (const struct tz *z, int64_t utc)
{
  struct tz_local l;
  tz_utc_to_local (z, utc, &l);
  return tz_midnight (z, tz_days_from_civil (l.year, l.month, 1));
}

int64_t
tz_add_days (const struct tz *z, int64_t utc, int n)
{
  struct tz_local l;
  tz_utc_to_local (z, utc, &l);
  int64_t day = tz_days_from_civil (l.year, l.month, l.day)
                + clamp64 (n, -1000000, 1000000);
  day = clamp64 (day, LOCAL_MIN / DAY, LOCAL_MAX / DAY);
  return resolve (z, day * DAY + l.hour * 3600 + l.minute * 60 + l.second);
}

/* ================================================================== */
/* POSIX TZ strings (the footer)                                       */
/* ================================================================== */

/* An abbreviation: 3+ letters, or <3+ of [A-Za-z0-9+-]>. */
static const char *
posix_name (const char *s)
{
  size_t n = 0;
  if (*s == '<')
    {
      for (s++; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
                || (*s >= '0' && *s <= '9') || *s == '+' || *s == '-';
           s++)
        n++;
      return *s == '>' && n >= 3 ? s + 1 : NULL;
    }
  for (; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'); s++)
    n++;
  return n >= 3 ? s : NULL;
}

/* [+-]h[h[h]][:mm[:ss]] with hours <= max_h, into signed seconds. */
static const char *
posix_hms (const char *s, int max_h, int32_t *out)
{
  int sign = 1, h = 0, m = 0, sec = 0, nd = 0;
  if (*s == '+' || *s == '-')
    sign = *s++ == '-' ? -1 : 1;
  for (; *s >= '0' && *s <= '9' && nd < 3; s++, nd++)
    h = h * 10 + (*s - '0');
  if (nd == 0 || h > max_h)
    return NULL;
  if (*s == ':')
    {
      if (!digits (s + 1, 2, &m) || m > 59)
        return NULL;
      s += 3;
      if (*s == ':')
        {
          if (!digits (s + 1, 2, &sec) || sec > 59)
            return NULL;
          s += 3;
        }
    }
  *out = sign * (h * 3600 + m * 60 + sec);
  return s;
}

/* Reads 1..3 digits as a number in [lo, hi]. */
static const char *
posix_num (const char *s, int lo, int hi, int *out)
{
  int v = 0, nd = 0;
  for (; *s >= '0' && *s <= '9' && nd < 3; s++, nd++)
    v = v * 10 + (*s - '0');
  if (nd == 0 || v < lo || v > hi)
    return NULL;
  *out = v;
  return s;
}

static const char *
posix_when (const char *s, struct tz_when *w)
{
  memset (w, 0, sizeof *w);
  w->time = 7200; /* default 02:00:00 */
  if (*s == 'J')
    {
      w->kind = 'J';
      s = posix_num (s + 1, 1, 365, &w->n);
    }
  else if (*s == 'M')
    {
      w->kind = 'M';
      s = posix_num (s + 1, 1, 12, &w->m);
      if (s && *s == '.')
        s = posix_num (s + 1, 1, 5, &w->w);
      else
        s = NULL;
      if (s && *s == '.')
        s = posix_num (s + 1, 0, 6, &w->d);
      else
        s = NULL;
    }
  else
    {
      w->kind = 'N';
      s = posix_num (s, 0, 365, &w->n);
    }
  if (s && *s == '/')
    s = posix_hms (s + 1, 167, &w->time);
  return s;
}

/* Fills z's rule from a footer such as "PST8PDT,M3.2.0,M11.1.0".  POSIX
 * offsets count west; ours count east.  False if not understood. */
static bool
posix_parse (struct tz *z, const char *s)
{
  int32_t v;
  if (!(s = posix_name (s)) || !(s = posix_hms (s, 24, &v)))
    return false;
  z->std_off = -v;
  z->has_rule = true;
  if (z->std_off < TZ_OFF_MIN || z->std_off > TZ_OFF_MAX)
    return false;
  if (*s == '\0')
    return true;
  if (!(s = posix_name (s)))
    return false;
  z->has_dst = true;
  z->dst_off = z->std_off + 3600;
  if (*s != ',')
    {
      if (!(s = posix_hms (s, 24, &v)))
        return false;
      z->dst_off = -v;
    }
  /* tzdata always writes the rule; POSIX's implementation-defined
   * default is not guessed. */
  if (*s != ',' || !(s = posix_when (s + 1, &z->start)) || *s != ','
      || !(s = posix_when (s + 1, &z->end)))
    return false;
  return *s == '\0' && z->dst_off >= TZ_OFF_MIN && z->dst_off <= TZ_OFF_MAX;
}

/* ================================================================== */
/* TZif files                                                          */
/* ================================================================== */

struct reader
{
  const uint8_t *p;
  size_t left;
};

static const uint8_t *
take (struct reader *r, size_t n)
{
  if (n > r->left)
    return NULL;
  const uint8_t *p = r->p;
  r->p += n;
  r->left -= n;
  return p;
}

static uint32_t
be32 (const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
         | p[3];
}

static int64_t
be64 (const uint8_t *p)
{
  return (int64_t)((uint64_t)be32 (p) << 32 | be32 (p + 4));
}

struct header
{
  char version; /* 0, '2', '3' or '4' */
  uint32_t isut, isstd, leap, time, type, chars;
};

static const char *
read_header (struct reader *r, struct header *h)
{
  const uint8_t *p = take (r, 44);
  if (p == NULL)
    return "truncated header";
  if (memcmp (p, "TZif", 4) != 0)
    return "not a TZif file (bad magic)";
  h->version = (char)p[4];
  if (h->version != 0 && (h->version < '2' || h->version > '4'))
    return "unknown TZif version";
  h->isut = be32 (p + 20);
  h->isstd = be32 (p + 24);
  h->leap = be32 (p + 28);
  h->time = be32 (p + 32);
  h->type = be32 (p + 36);
  h->chars = be32 (p + 40);
  if (h->type < 1 || h->type > TZ_MAX_TYPES)
    return "bad count of time types";
  if (h->time > TZ_MAX_TIMES)
    return "too many transitions";
  if (h->chars < 1 || h->chars > TZ_MAX_CHARS)
    return "bad count of abbreviation characters";
  if ((h->isut != 0 && h->isut != h->type)
      || (h->isstd != 0 && h->isstd != h->type))
    return "bad count of UT/standard indicators";
  if (h->leap != 0)
    return "leap-second files are not supported";
  return NULL;
}

/* Reads one data block with tsize-byte times into z (tsize 4 or 8). */
static const char *
read_block (struct reader *r, const struct header *h, size_t tsize,
            struct tz *z)
{
  const uint8_t *times = take (r, h->time * tsize);
  const uint8_t *idx = take (r, h->time);
  const uint8_t *types = take (r, h->type * 6);
  const uint8_t *chars = take (r, h->chars);
  const uint8_t *isstd = take (r, h->isstd);
  const uint8_t *isut = take (r, h->isut);
  if (!times || !idx || !types || !chars || !isstd || !isut)
    return "truncated data block";
  if (chars[h->chars - 1] != '\0')
    return "abbreviations not NUL-terminated";
  z->ntypes = h->type;
  for (size_t i = 0; i < h->type; i++)
    {
      const uint8_t *t = types + 6 * i;
      int32_t off = (int32_t)be32 (t);
      if (off < TZ_OFF_MIN || off > TZ_OFF_MAX)
        return "offset out of range";
      if (t[4] > 1)
        return "bad DST flag";
      if (t[5] >= h->chars)
        return "abbreviation index out of range";
      if ((h->isstd && isstd[i] > 1) || (h->isut && isut[i] > 1)
          || (h->isut && isut[i] && !(h->isstd && isstd[i])))
        return "bad UT/standard indicator";
      z->types[i] = (struct tz_type){ off, t[4] == 1 };
    }
  z->ntrans = h->time;
  z->trans = xcalloc (h->time ? h->time : 1, sizeof *z->trans);
  z->trans_type = xcalloc (h->time ? h->time : 1, 1);
  for (size_t i = 0; i < h->time; i++)
    {
      z->trans[i]
          = tsize == 8 ? be64 (times + 8 * i) : (int32_t)be32 (times + 4 * i);
      if (i > 0 && z->trans[i] <= z->trans[i - 1])
        return "transitions out of order";
      if (idx[i] >= h->type)
        return "transition type index out of range";
      z->trans_type[i] = idx[i];
    }
  return NULL;
}

/* Parses a whole TZif file into z (name already set).  NULL on success,
 * or why not. */
static const char *
tzif_parse (const uint8_t *data, size_t len, struct tz *z)
{
  struct reader r = { data, len };
  struct header h;
  const char *why = read_header (&r, &h);
  if (why)
    return why;
  if (h.version == 0)
    {
      why = read_block (&r, &h, 4, z);
      return why ? why : r.left ? "trailing bytes" : NULL;
    }
  /* Version 2+: skip the 32-bit block, read the second header and the
   * 64-bit block, then "\n<POSIX TZ>\n" and nothing more. */
  size_t v1 = h.time * 5 + h.type * 6 + h.chars + h.isstd + h.isut;
  if (!take (&r, v1))
    return "truncated version 1 block";
  char version = h.version;
  if ((why = read_header (&r, &h)))
    return why;
  if (h.version != version)
    return "second header's version differs";
  if ((why = read_block (&r, &h, 8, z)))
    return why;
  const uint8_t *nl = take (&r, 1);
  if (nl == NULL || *nl != '\n')
    return "missing footer";
  const uint8_t *end = memchr (r.p, '\n', r.left);
  size_t n = end ? (size_t)(end - r.p) : 0;
  if (end == NULL || n > TZ_FOOTER_MAX || n + 1 != r.left)
    return "bad footer";
  char footer[TZ_FOOTER_MAX + 1];
  memcpy (footer, r.p, n);
  footer[n] = '\0';
  if (memchr (footer, '\0', n))
    return "bad footer";
  if (n > 0 && !posix_parse (z, footer))
    return "footer TZ string not understood";
  if (z->has_rule && z->ntrans > 0)
    {
      /* The rule must agree with the last transition it continues. */
      struct tz_type last = z->types[z->trans_type[z->ntrans - 1]];
      if (rule_at (z, z->trans[z->ntrans - 1]).off != last.off)
        return "footer disagrees with the last transition";
    }
  return NULL;
}

/* ================================================================== */
/* Loading and cache                                                   */
/* ================================================================== */

static bool
valid_name (const char *s)
{
  size_t n = strnlen (s, TZ_NAME_MAX + 1);
  if (n == 0 || n > TZ_NAME_MAX || s[0] == '/' || s[n - 1] == '/'
      || strstr (s, "//"))
    return false;
  /* '.' is not allowed at all, so neither is "..". */
  for (size_t i = 0; i < n; i++)
    {
      char c = s[i];
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-'
            || c == '/'))
        return false;
    }
  return true;
}

void
tz_free (struct tz *z)
{
  if (z == NULL || z == &utc_zone)
    return;
  free (z->trans);
  free (z->trans_type);
  free (z);
}

struct tz *
tz_from_tzif (const void *data, size_t len, const char *name, struct ferr *err)
{
  struct tz *z = xcalloc (1, sizeof *z);
  snprintf (z->name, sizeof z->name, "%s", name ? name : "");
  const char *why = tzif_parse (data, len, z);
  if (why)
    {
      ferr_set (err, "timezone_corrupt", "timezone",
                "time zone file %s is corrupt: %s",
                "el archivo de la zona horaria %s está dañado: %s", z->name,
                why);
      tz_free (z);
      return NULL;
    }
  return z;
}

/* Called with cache_mu held. */
static struct tz *
load (const char *name, struct ferr *err)
{
  const char *dir = getenv ("FACTURO_ZONEINFO");
  if (dir == NULL || dir[0] == '\0')
    dir = "/usr/share/zoneinfo";
  char path[4096];
  if ((size_t)snprintf (path, sizeof path, "%s/%s", dir, name) >= sizeof path)
    {
      ferr_set (err, "timezone_unknown", "timezone", "unknown time zone %s",
                "zona horaria desconocida %s", name);
      return NULL;
    }
  struct buf b = BUF_INIT;
  struct tz *z = NULL;
  if (read_file (path, &b, TZ_FILE_MAX) == 0)
    z = tz_from_tzif (b.data, b.len, name, err);
  else if (errno == EFBIG)
    ferr_set (err, "timezone_corrupt", "timezone",
              "time zone file %s is too large",
              "el archivo de la zona horaria %s es demasiado grande", name);
  else
    ferr_set (err, "timezone_unknown", "timezone",
              "unknown time zone %s (no readable file %s)",
              "zona horaria desconocida %s (no se puede leer %s)", name, path);
  buf_free (&b);
  return z;
}

const struct tz *
tz_get (const char *name, struct ferr *err)
{
  if (name == NULL || name[0] == '\0')
    name = TZ_DEFAULT;
  if (!valid_name (name))
    {
      ferr_set (err, "timezone_invalid", "timezone",
                "invalid time zone name (expected an IANA name such as "
                "America/Mexico_City)",
                "nombre de zona horaria inválido (se espera un nombre IANA "
                "como America/Mexico_City)");
      return NULL;
    }
  pthread_mutex_lock (&cache_mu);
  struct tz *z = cache;
  while (z && strcmp (z->name, name) != 0)
    z = z->next;
  if (z == NULL && (z = load (name, err)) != NULL)
    {
      z->next = cache;
      cache = z;
    }
  pthread_mutex_unlock (&cache_mu);
  return z;
}

bool
tz_mx_local_range (const char *s, int64_t *earliest, int64_t *latest)
{
  int64_t t;
  if (s == NULL || strlen (s) != 19 || s[10] != 'T'
      || !tz_parse_iso (tz_utc (), s, &t, NULL))
    return false;
  *earliest = t - TZ_MX_EAST_MAX;
  *latest = t - TZ_MX_EAST_MIN;
  return true;
}
