/*
 * import_csv.c — streaming RFC 4180 reader and the row checks of the
 * ticket CSV format (docs/import.md).  See import_csv.h.
 *
 * Workload: POS exports of up to a few hundred thousand rows.  The reader
 * keeps a 64 KiB input window and one record of at most CSV_MAX_RECORD
 * bytes, so memory does not grow with the file.  A malformed record is
 * skipped to its end (quotes respected) and reported, so one pass finds
 * every bad line; only an unterminated quote (which swallows the rest of
 * the file), an I/O error or the size bound stop the reader.
 */
#include "store/import_csv.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/invoice.h"
#include "core/money.h"
#include "core/ticket.h"
#include "util/buf.h"

/* ---------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------- */

#define CSV_WINDOW 65536

struct csv_reader
{
  csv_read_fn read;
  void *cls;
  uint64_t max_bytes; /* 0: unbounded */
  uint64_t bytes;     /* consumed from the input */
  char in[CSV_WINDOW];
  size_t in_len, in_pos;
  bool in_eof;           /* read() returned 0 */
  bool io_err;           /* read() returned -1 */
  bool started;          /* BOM check done */
  enum csv_status final; /* CSV_EOF or CSV_FATAL once reached; else 1 */
  struct csv_error final_err;
  unsigned long line;     /* current physical line */
  unsigned long rec_line; /* line where the current record starts */
  char rec[CSV_MAX_RECORD + CSV_MAX_FIELDS + 1]; /* fields, NUL-separated */
  size_t rec_len;
  size_t start[CSV_MAX_FIELDS];
  size_t len[CSV_MAX_FIELDS];
  size_t nfields;
};

#define CSV_C_EOF (-1)
#define CSV_C_ERR (-2)
#define CSV_C_BIG (-3)

/* Reads more input into the window after what it holds (moving the
 * unread part to the front first); false at end of input or on an I/O
 * error (r->io_err). */
static bool
fill (struct csv_reader *r)
{
  if (r->in_eof || r->io_err)
    return false;
  if (r->in_pos > 0)
    {
      memmove (r->in, r->in + r->in_pos, r->in_len - r->in_pos);
      r->in_len -= r->in_pos;
      r->in_pos = 0;
    }
  ssize_t n = r->read (r->cls, r->in + r->in_len, sizeof r->in - r->in_len);
  if (n < 0)
    {
      r->io_err = true;
      return false;
    }
  if (n == 0)
    {
      r->in_eof = true;
      return false;
    }
  r->in_len += (size_t)n;
  return true;
}

/* Looks at the next byte without consuming it: the byte, CSV_C_EOF or
 * CSV_C_ERR. */
static int
peekbyte (struct csv_reader *r)
{
  if (r->in_pos == r->in_len && !fill (r))
    return r->io_err ? CSV_C_ERR : CSV_C_EOF;
  return (unsigned char)r->in[r->in_pos];
}

/* Next byte, CSV_C_EOF, CSV_C_ERR (I/O) or CSV_C_BIG (size bound). */
static int
getbyte (struct csv_reader *r)
{
  int c = peekbyte (r);
  if (c < 0)
    return c;
  if (r->max_bytes && r->bytes >= r->max_bytes)
    return CSV_C_BIG;
  r->bytes++;
  r->in_pos++;
  return c;
}

struct csv_reader *
csv_new (csv_read_fn read, void *cls, uint64_t max_bytes)
{
  struct csv_reader *r = xcalloc (1, sizeof *r);
  r->read = read;
  r->cls = cls;
  r->max_bytes = max_bytes;
  r->line = 1;
  r->final = CSV_RECORD;
  return r;
}

void
csv_free (struct csv_reader *r)
{
  free (r);
}

size_t
csv_nfields (const struct csv_reader *r)
{
  return r->nfields;
}

const char *
csv_field (const struct csv_reader *r, size_t i, size_t *len)
{
  if (i >= r->nfields)
    {
      if (len)
        *len = 0;
      return NULL;
    }
  if (len)
    *len = r->len[i];
  return r->rec + r->start[i];
}

unsigned long
csv_record_line (const struct csv_reader *r)
{
  return r->rec_line;
}

uint64_t
csv_bytes_read (const struct csv_reader *r)
{
  return r->bytes;
}

static void seterr (struct csv_error *err, unsigned long line, unsigned column,
                    const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
seterr (struct csv_error *err, unsigned long line, unsigned column,
        const char *fmt, ...)
{
  va_list ap;
  err->line = line;
  err->column = column;
  va_start (ap, fmt);
  vsnprintf (err->message, sizeof err->message, fmt, ap);
  va_end (ap);
}

/* Record-building state for one csv_next call. */
struct recstate
{
  bool bad;                 /* an error was recorded for this record */
  size_t cur_len;           /* bytes seen in the current field, stored or
                               not (decides whether a quote opens it) */
  unsigned long field_line; /* line where the current field starts: every
                               error is reported there */
  struct csv_error err;
};

static void
bad (struct recstate *st, unsigned long line, unsigned column, const char *msg)
{
  if (st->bad)
    return;
  st->bad = true;
  (void)line;
  seterr (&st->err, st->field_line, column, "%s", msg);
}

static void
put (struct csv_reader *r, struct recstate *st, char c, unsigned long line)
{
  st->cur_len++;
  if (st->bad)
    return;
  size_t f = r->nfields - 1;
  if (c == '\0')
    {
      bad (st, line, (unsigned)r->nfields, "NUL byte in field");
      return;
    }
  if (r->len[f] >= CSV_MAX_FIELD)
    {
      char m[80];
      snprintf (m, sizeof m, "field longer than %d bytes", CSV_MAX_FIELD);
      bad (st, line, (unsigned)r->nfields, m);
      return;
    }
  if (r->rec_len - (r->nfields - 1) >= CSV_MAX_RECORD)
    {
      char m[80];
      snprintf (m, sizeof m, "record longer than %d bytes", CSV_MAX_RECORD);
      bad (st, line, (unsigned)r->nfields, m);
      return;
    }
  r->rec[r->rec_len++] = c;
  r->len[f]++;
}

/* Starts field number nfields+1 (st->bad past CSV_MAX_FIELDS). */
static void
new_field (struct csv_reader *r, struct recstate *st, unsigned long line)
{
  st->cur_len = 0;
  st->field_line = line;
  if (r->nfields > 0 && !st->bad)
    r->rec[r->rec_len++] = '\0';
  if (st->bad)
    {
      r->nfields++;
      return;
    }
  if (r->nfields >= CSV_MAX_FIELDS)
    {
      char m[80];
      snprintf (m, sizeof m, "more than %d fields", CSV_MAX_FIELDS);
      bad (st, line, (unsigned)r->nfields + 1, m);
      r->nfields++;
      return;
    }
  r->start[r->nfields] = r->rec_len;
  r->len[r->nfields] = 0;
  r->nfields++;
}

static enum csv_status
fatal (struct csv_reader *r, struct csv_error *err, unsigned long line,
       const char *msg)
{
  seterr (&r->final_err, line, 0, "%s", msg);
  r->final = CSV_FATAL;
  *err = r->final_err;
  return CSV_FATAL;
}

/* Handles a byte the reader could not get: returns CSV_FATAL for I/O and
 * size errors; 0 for a plain end of input. */
static int
c_trouble (struct csv_reader *r, struct csv_error *err, int c)
{
  if (c == CSV_C_ERR)
    return fatal (r, err, r->line, "read error");
  if (c == CSV_C_BIG)
    {
      char m[80];
      snprintf (m, sizeof m, "file larger than %llu bytes",
                (unsigned long long)r->max_bytes);
      return fatal (r, err, r->line, m);
    }
  return 0;
}

enum csv_status
csv_next (struct csv_reader *r, struct csv_error *err)
{
  if (r->final != CSV_RECORD)
    {
      if (r->final == CSV_FATAL)
        *err = r->final_err;
      return r->final;
    }
  if (!r->started)
    {
      /* A BOM can only be the first three bytes; read until three bytes
         are in the window (a pipe may deliver them one by one). */
      r->started = true;
      while (r->in_len < 3 && fill (r))
        ;
      if (r->in_len >= 3 && memcmp (r->in, "\xEF\xBB\xBF", 3) == 0)
        {
          getbyte (r);
          getbyte (r);
          getbyte (r);
        }
    }

  for (;;)
    {
      struct recstate st = { 0 };
      int c;
      bool any = false; /* something other than a bare line end */
      r->rec_len = 0;
      r->nfields = 0;
      r->rec_line = r->line;
      new_field (r, &st, r->line);

      for (;;)
        {
          c = getbyte (r);
          if (c < 0)
            {
              if (c_trouble (r, err, c))
                return CSV_FATAL;
              /* End of input ends the record, if there is one. */
              if (!any)
                {
                  r->final = CSV_EOF;
                  return CSV_EOF;
                }
              goto end_record;
            }
          if (c == '"' && st.cur_len == 0)
            {
              /* Quoted field. */
              unsigned long qline = r->line;
              any = true;
              for (;;)
                {
                  c = getbyte (r);
                  if (c < 0)
                    {
                      if (c_trouble (r, err, c))
                        return CSV_FATAL;
                      char m[120];
                      snprintf (m, sizeof m,
                                "unterminated quoted field (opened on line "
                                "%lu, field %zu)",
                                qline, r->nfields);
                      fatal (r, err, qline, m);
                      err->column = (unsigned)r->nfields;
                      r->final_err.column = err->column;
                      return CSV_FATAL;
                    }
                  if (c == '"')
                    {
                      int d = peekbyte (r);
                      if (d == '"')
                        {
                          getbyte (r);
                          put (r, &st, '"', r->line);
                          continue;
                        }
                      break;
                    }
                  if (c == '\n')
                    r->line++;
                  put (r, &st, (char)c, r->line);
                }
              /* After the closing quote: a separator or a line end. */
              c = getbyte (r);
              if (c < 0)
                {
                  if (c_trouble (r, err, c))
                    return CSV_FATAL;
                  goto end_record;
                }
              if (c == ',')
                {
                  new_field (r, &st, r->line);
                  continue;
                }
              if (c == '\n')
                {
                  r->line++;
                  goto end_record;
                }
              if (c == '\r' && peekbyte (r) == '\n')
                {
                  getbyte (r);
                  r->line++;
                  goto end_record;
                }
              bad (&st, r->line, (unsigned)r->nfields,
                   "text after the closing quote of a quoted field");
              /* Go on as an unquoted field until the record ends. */
              if (c == '\r')
                continue;
              put (r, &st, (char)c, r->line);
              continue;
            }
          if (c == ',')
            {
              any = true;
              new_field (r, &st, r->line);
              continue;
            }
          if (c == '\n')
            {
              r->line++;
              goto end_record;
            }
          if (c == '\r')
            {
              if (peekbyte (r) == '\n')
                {
                  getbyte (r);
                  r->line++;
                  goto end_record;
                }
              any = true;
              bad (&st, r->line, (unsigned)r->nfields,
                   "carriage return outside quotes not followed by a "
                   "line feed");
              continue;
            }
          any = true;
          if (c == '"')
            {
              bad (&st, r->line, (unsigned)r->nfields,
                   "quote inside an unquoted field (quote the whole field "
                   "and double the quote)");
              continue;
            }
          put (r, &st, (char)c, r->line);
        }

    end_record:
      if (!st.bad)
        r->rec[r->rec_len] = '\0';
      if (!any && !st.bad)
        continue; /* empty line */
      if (st.bad)
        {
          *err = st.err;
          r->nfields = 0;
          return CSV_BAD;
        }
      return CSV_RECORD;
    }
}

/* ---------------------------------------------------------------------
 * Ticket rows
 * ------------------------------------------------------------------- */

static const char *const col_names[IMPORT_COL_COUNT] = {
  [IMPORT_COL_BRANCH] = "branch",
  [IMPORT_COL_FOLIO_NUMBER] = "folio_number",
  [IMPORT_COL_DATE] = "date",
  [IMPORT_COL_PAYMENT_FORM] = "payment_form",
  [IMPORT_COL_QUANTITY] = "quantity",
  [IMPORT_COL_DISCOUNT] = "discount",
  [IMPORT_COL_DESCRIPTION] = "description",
  [IMPORT_COL_PRODUCT_KEY] = "product_key",
  [IMPORT_COL_UNIT_KEY] = "unit_key",
  [IMPORT_COL_UNIT_NAME] = "unit_name",
  [IMPORT_COL_PRICE] = "price",
  [IMPORT_COL_TAX_INCLUDED] = "tax_included",
  [IMPORT_COL_TAXES] = "taxes",
};

/* Columns the header may leave out (their cells default as documented). */
static bool
col_optional (enum import_col c)
{
  return c == IMPORT_COL_DISCOUNT || c == IMPORT_COL_UNIT_NAME
         || c == IMPORT_COL_TAX_INCLUDED;
}

const char *
import_col_name (enum import_col c)
{
  return (unsigned)c < IMPORT_COL_COUNT ? col_names[c] : "";
}

/* Copies s without surrounding blanks into out (outsz). */
static void
trim_copy (const char *s, size_t len, char *out, size_t outsz)
{
  while (len > 0 && (*s == ' ' || *s == '\t'))
    s++, len--;
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  if (len >= outsz)
    len = outsz - 1;
  memcpy (out, s, len);
  out[len] = '\0';
}

bool
import_header (const struct csv_reader *r, int map[IMPORT_COL_COUNT],
               import_report_fn report, void *cls)
{
  bool ok = true;
  unsigned long line = csv_record_line (r);
  for (int c = 0; c < IMPORT_COL_COUNT; c++)
    map[c] = -1;
  for (size_t i = 0; i < csv_nfields (r); i++)
    {
      size_t len;
      const char *f = csv_field (r, i, &len);
      char name[64], msg[200];
      trim_copy (f, len, name, sizeof name);
      int found = -1;
      for (int c = 0; c < IMPORT_COL_COUNT; c++)
        if (strcasecmp (name, col_names[c]) == 0)
          found = c;
      if (name[0] == '\0')
        {
          snprintf (msg, sizeof msg, "header field %zu is empty", i + 1);
          report (cls, line, "", "header_empty_column", msg);
          ok = false;
        }
      else if (found < 0)
        {
          snprintf (msg, sizeof msg, "unknown column '%.40s'", name);
          report (cls, line, "", "header_unknown_column", msg);
          ok = false;
        }
      else if (map[found] >= 0)
        {
          snprintf (msg, sizeof msg, "column '%s' appears twice",
                    col_names[found]);
          report (cls, line, col_names[found], "header_duplicate_column", msg);
          ok = false;
        }
      else
        map[found] = (int)i;
    }
  for (int c = 0; c < IMPORT_COL_COUNT; c++)
    if (map[c] < 0 && !col_optional (c))
      {
        char msg[120];
        snprintf (msg, sizeof msg, "required column '%s' is missing",
                  col_names[c]);
        report (cls, line, col_names[c], "header_missing_column", msg);
        ok = false;
      }
  return ok;
}

/* Number of UTF-8 characters in s, or -1 if s is not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF refused). */
static long
utf8_chars (const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  long n = 0;
  size_t i = 0;
  while (i < len)
    {
      unsigned c = p[i];
      size_t k;
      unsigned cp;
      if (c < 0x80)
        {
          i++;
          n++;
          continue;
        }
      else if (c >= 0xC2 && c <= 0xDF)
        k = 1, cp = c & 0x1F;
      else if (c >= 0xE0 && c <= 0xEF)
        k = 2, cp = c & 0x0F;
      else if (c >= 0xF0 && c <= 0xF4)
        k = 3, cp = c & 0x07;
      else
        return -1;
      if (i + k >= len)
        return -1;
      for (size_t j = 1; j <= k; j++)
        {
          if ((p[i + j] & 0xC0) != 0x80)
            return -1;
          cp = (cp << 6) | (p[i + j] & 0x3F);
        }
      if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF
          || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
      i += k + 1;
      n++;
    }
  return n;
}

/* Text of column c in the current record ("" when the column is absent),
 * with its length. */
static const char *
cell (const struct csv_reader *r, const int map[IMPORT_COL_COUNT],
      enum import_col c, size_t *len)
{
  if (map[c] < 0 || (size_t)map[c] >= csv_nfields (r))
    {
      *len = 0;
      return "";
    }
  return csv_field (r, (size_t)map[c], len);
}

/* Report helper with printf formatting. */
static void rep (import_report_fn report, void *cls, unsigned long line,
                 enum import_col c, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static void
rep (import_report_fn report, void *cls, unsigned long line, enum import_col c,
     const char *code, const char *fmt, ...)
{
  char msg[300];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  report (cls, line, col_names[c], code, msg);
}

/* A code as the API reads branch and folio_number (core/ticket.c):
 * 1..max bytes of printable ASCII, inner spaces allowed. */
static bool
code_ok (const char *s, size_t len, enum import_col c, size_t max,
         unsigned long line, import_report_fn report, void *cls)
{
  if (len == 0)
    {
      rep (report, cls, line, c, "required", "%s is empty", col_names[c]);
      return false;
    }
  if (len > max)
    {
      rep (report, cls, line, c, "too_long",
           "%s is longer than %zu "
           "characters",
           col_names[c], max);
      return false;
    }
  for (size_t i = 0; i < len; i++)
    {
      unsigned char ch = (unsigned char)s[i];
      if (ch < 0x21 || ch > 0x7e)
        {
          if (ch == ' ' && i > 0 && i + 1 < len)
            continue;
          rep (report, cls, line, c, "text_character",
               "%s may only hold printable ASCII characters (no spaces at "
               "either end)",
               col_names[c]);
          return false;
        }
    }
  return true;
}

/* Case-insensitive comparison of a token with a keyword. */
static bool
kw (const char *s, size_t len, const char *word)
{
  return strlen (word) == len && strncasecmp (s, word, len) == 0;
}

bool
import_taxes_parse (const char *s, struct import_tax *taxes, size_t *n,
                    char *msg, size_t msgsz)
{
  size_t count = 0;
  const char *p = s;
  *n = 0;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '\0')
    return true;
  for (;;)
    {
      const char *end = strchr (p, ';');
      size_t len = end ? (size_t)(end - p) : strlen (p);
      char tok[96];
      trim_copy (p, len, tok, sizeof tok);
      if (len >= sizeof tok)
        {
          snprintf (msg, msgsz, "tax %zu is too long", count + 1);
          return false;
        }
      if (tok[0] == '\0')
        {
          snprintf (msg, msgsz,
                    "empty tax %zu (two ';' in a row, or a "
                    "trailing ';')",
                    count + 1);
          return false;
        }
      if (count == IMPORT_MAX_TAXES)
        {
          snprintf (msg, msgsz, "more than %d taxes on one item",
                    IMPORT_MAX_TAXES);
          return false;
        }
      struct import_tax t = { 0 };
      char *q = tok;
      if (strncasecmp (q, "RET-", 4) == 0)
        {
          t.withholding = true;
          q += 4;
        }
      char *colon = strchr (q, ':');
      if (colon == NULL)
        {
          snprintf (msg, msgsz,
                    "'%.40s': expected TYPE:VALUE, e.g. "
                    "IVA:0.16",
                    tok);
          return false;
        }
      size_t tlen = (size_t)(colon - q);
      if (kw (q, tlen, "IVA"))
        t.type = "IVA";
      else if (kw (q, tlen, "IEPS"))
        t.type = "IEPS";
      else if (kw (q, tlen, "ISR"))
        t.type = "ISR";
      else
        {
          snprintf (msg, msgsz,
                    "'%.40s': unknown tax type (IVA, IEPS, "
                    "ISR)",
                    tok);
          return false;
        }
      char *v = colon + 1;
      if (strcasecmp (v, "EXENTO") == 0)
        {
          t.factor = IMPORT_EXENTO;
          t.rate = 0;
        }
      else
        {
          t.factor = IMPORT_TASA;
          if (strncasecmp (v, "CUOTA:", 6) == 0)
            {
              t.factor = IMPORT_CUOTA;
              v += 6;
            }
          if (!money_parse (v, &t.rate) || t.rate < 0)
            {
              snprintf (msg, msgsz,
                        "'%.40s': the %s must be a decimal "
                        ">= 0 with at most 6 decimals",
                        tok, t.factor == IMPORT_CUOTA ? "amount" : "rate");
              return false;
            }
        }
      /* Which combinations exist (SAT c_TasaOCuota, c_TipoFactor). */
      const char *code = strcmp (t.type, "ISR") == 0   ? "001"
                         : strcmp (t.type, "IVA") == 0 ? "002"
                                                       : "003";
      if (t.factor == IMPORT_EXENTO)
        {
          if (t.withholding || strcmp (t.type, "IVA") != 0)
            {
              snprintf (msg, msgsz,
                        "'%.40s': only transferred IVA can be "
                        "EXENTO",
                        tok);
              return false;
            }
        }
      else if (strcmp (t.type, "ISR") == 0 && !t.withholding)
        {
          snprintf (msg, msgsz,
                    "'%.40s': ISR can only be withheld "
                    "(RET-ISR:rate)",
                    tok);
          return false;
        }
      else if (t.factor == IMPORT_CUOTA && strcmp (t.type, "IEPS") != 0)
        {
          snprintf (msg, msgsz, "'%.40s': only IEPS can be a CUOTA", tok);
          return false;
        }
      else if (!catalog_tax_rate_allowed (
                   code, t.factor == IMPORT_CUOTA ? "Cuota" : "Tasa", t.rate,
                   t.withholding))
        {
          char rb[MONEY_BUFSZ];
          snprintf (msg, msgsz,
                    "'%.40s': %s %s %s is not in SAT's "
                    "c_TasaOCuota%s",
                    tok, t.withholding ? "withheld" : "transferred", t.type,
                    money_format_min (t.rate, 2, rb),
                    t.rate >= MONEY_SCALE ? " (rates are fractions: 0.16, "
                                            "not 16)"
                                          : "");
          return false;
        }
      for (size_t i = 0; i < count; i++)
        if (strcmp (taxes[i].type, t.type) == 0
            && taxes[i].withholding == t.withholding)
          {
            snprintf (msg, msgsz, "'%.40s': %s%s appears twice", tok,
                      t.withholding ? "RET-" : "", t.type);
            return false;
          }
      taxes[count++] = t;
      if (end == NULL)
        break;
      p = end + 1;
    }
  *n = count;
  return true;
}

char *
import_taxes_format (const struct import_tax *taxes, size_t n, char *buf,
                     size_t bufsz)
{
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && off < bufsz; i++)
    {
      char rb[MONEY_BUFSZ];
      const struct import_tax *t = &taxes[i];
      int w = snprintf (buf + off, bufsz - off, "%s%s%s:%s%s", i ? ";" : "",
                        t->withholding ? "RET-" : "", t->type,
                        t->factor == IMPORT_CUOTA ? "CUOTA:" : "",
                        t->factor == IMPORT_EXENTO
                            ? "EXENTO"
                            : money_format_min (t->rate, 0, rb));
      if (w < 0)
        break;
      off += (size_t)w;
    }
  return buf;
}

/* Checks one text cell: present (unless may_empty), valid UTF-8, at most
 * max_chars characters, no control characters unless allow_newline (tab
 * and line breaks then pass).  Reports and returns false otherwise. */
static bool
text_ok (const char *s, size_t len, enum import_col c, bool may_empty,
         long max_chars, bool allow_newline, unsigned long line,
         import_report_fn report, void *cls)
{
  if (len == 0)
    {
      if (may_empty)
        return true;
      rep (report, cls, line, c, "required", "%s is empty", col_names[c]);
      return false;
    }
  long chars = utf8_chars (s, len);
  if (chars < 0)
    {
      rep (report, cls, line, c, "invalid_utf8", "not valid UTF-8 text");
      return false;
    }
  for (size_t i = 0; i < len; i++)
    {
      unsigned char ch = (unsigned char)s[i];
      if ((ch < 0x20 || ch == 0x7F)
          && !(allow_newline && (ch == '\n' || ch == '\r' || ch == '\t')))
        {
          rep (report, cls, line, c, "control_character",
               "control character 0x%02X not allowed", ch);
          return false;
        }
    }
  if (chars > max_chars)
    {
      rep (report, cls, line, c, "too_long", "longer than %ld characters",
           max_chars);
      return false;
    }
  return true;
}

/* Parses an amount cell: a plain decimal, at most 6 decimals. */
static bool
amount_ok (const char *s, size_t len, enum import_col c, int64_t *out,
           bool positive, unsigned long line, import_report_fn report,
           void *cls)
{
  if (!money_parse_n (s, len, out))
    {
      rep (report, cls, line, c, "invalid_amount",
           "'%.30s' is not a plain decimal with at most 6 decimals "
           "(e.g. 12.50; no thousands separators, no currency sign)",
           s);
      return false;
    }
  if (positive ? *out <= 0 : *out < 0)
    {
      rep (report, cls, line, c, positive ? "not_positive" : "negative",
           "%s must be %s", col_names[c],
           positive ? "greater than 0" : "0 or more");
      return false;
    }
  return true;
}

bool
import_row_parse (const struct csv_reader *r, const int map[IMPORT_COL_COUNT],
                  struct import_row *row, import_report_fn report, void *cls)
{
  unsigned long line = csv_record_line (r);
  bool ok = true;
  const char *s;
  size_t len;
  size_t used = 0;

  memset (row, 0, sizeof *row);
  row->line = line;
  for (int c = 0; c < IMPORT_COL_COUNT; c++)
    if (map[c] >= 0)
      used = (size_t)map[c] + 1 > used ? (size_t)map[c] + 1 : used;
  if (csv_nfields (r) != used)
    {
      char msg[120];
      snprintf (msg, sizeof msg, "%zu fields where the header has %zu",
                csv_nfields (r), used);
      report (cls, line, "", "field_count", msg);
      return false;
    }

  s = cell (r, map, IMPORT_COL_BRANCH, &len);
  if (code_ok (s, len, IMPORT_COL_BRANCH, IMPORT_MAX_BRANCH, line, report,
               cls))
    row->branch = s;
  else
    ok = false;

  s = cell (r, map, IMPORT_COL_FOLIO_NUMBER, &len);
  if (code_ok (s, len, IMPORT_COL_FOLIO_NUMBER, IMPORT_MAX_FOLIO, line, report,
               cls))
    row->folio_number = s;
  else
    ok = false;

  s = cell (r, map, IMPORT_COL_DATE, &len);
  int64_t utc;
  if (len > 32 || !ticket_parse_date (s, tz_utc (), &utc))
    {
      rep (report, cls, line, IMPORT_COL_DATE, "invalid_date",
           "'%.30s' is not a date and time YYYY-MM-DDTHH:MM:SS (optionally "
           "with Z or an offset such as -06:00)",
           s);
      ok = false;
    }
  else
    row->date = s;

  s = cell (r, map, IMPORT_COL_PAYMENT_FORM, &len);
  if (catalog_payment_form (s) == NULL || strcmp (s, "99") == 0)
    {
      rep (report, cls, line, IMPORT_COL_PAYMENT_FORM, "invalid_payment_form",
           "'%.30s' is not a SAT c_FormaPago code other than 99 (01 cash, "
           "03 transfer, 04 credit card, 28 debit card, ...)",
           s);
      ok = false;
    }
  else
    row->payment_form = s;

  s = cell (r, map, IMPORT_COL_QUANTITY, &len);
  if (!amount_ok (s, len, IMPORT_COL_QUANTITY, &row->quantity, true, line,
                  report, cls))
    ok = false;

  s = cell (r, map, IMPORT_COL_DISCOUNT, &len);
  row->has_discount = len > 0;
  if (len == 0)
    row->discount = 0;
  else if (!amount_ok (s, len, IMPORT_COL_DISCOUNT, &row->discount, false,
                       line, report, cls))
    ok = false;

  s = cell (r, map, IMPORT_COL_DESCRIPTION, &len);
  if (text_ok (s, len, IMPORT_COL_DESCRIPTION, false, IMPORT_MAX_DESCRIPTION,
               false, line, report, cls))
    {
      if (memchr (s, '|', len))
        {
          rep (report, cls, line, IMPORT_COL_DESCRIPTION, "invalid_character",
               "'|' is not allowed in a CFDI description");
          ok = false;
        }
      else
        row->description = s;
    }
  else
    ok = false;

  s = cell (r, map, IMPORT_COL_PRODUCT_KEY, &len);
  if (!catalog_product_key_format (s))
    {
      rep (report, cls, line, IMPORT_COL_PRODUCT_KEY, "invalid_product_key",
           "'%.30s' is not a SAT product key (8 digits, c_ClaveProdServ)", s);
      ok = false;
    }
  else
    row->product_key = s;

  s = cell (r, map, IMPORT_COL_UNIT_KEY, &len);
  if (catalog_unit (s) == NULL)
    {
      rep (report, cls, line, IMPORT_COL_UNIT_KEY, "invalid_unit_key",
           "'%.30s' is not a SAT unit key (c_ClaveUnidad: H87, E48, KGM, "
           "...)",
           s);
      ok = false;
    }
  else
    row->unit_key = s;

  s = cell (r, map, IMPORT_COL_UNIT_NAME, &len);
  if (text_ok (s, len, IMPORT_COL_UNIT_NAME, true, IMPORT_MAX_UNIT_NAME, false,
               line, report, cls))
    row->unit_name = s;
  else
    ok = false;

  s = cell (r, map, IMPORT_COL_PRICE, &len);
  if (!amount_ok (s, len, IMPORT_COL_PRICE, &row->price, false, line, report,
                  cls))
    ok = false;

  s = cell (r, map, IMPORT_COL_TAX_INCLUDED, &len);
  if (len == 0 || kw (s, len, "true") || kw (s, len, "1") || kw (s, len, "yes")
      || kw (s, len, "si") || kw (s, len, "sí"))
    row->tax_included = true;
  else if (kw (s, len, "false") || kw (s, len, "0") || kw (s, len, "no"))
    row->tax_included = false;
  else
    {
      rep (report, cls, line, IMPORT_COL_TAX_INCLUDED, "invalid_boolean",
           "'%.30s' is not true or false", s);
      ok = false;
    }

  s = cell (r, map, IMPORT_COL_TAXES, &len);
  {
    char msg[240];
    if (!import_taxes_parse (s, row->taxes, &row->ntaxes, msg, sizeof msg))
      {
        report (cls, line, col_names[IMPORT_COL_TAXES], "invalid_taxes", msg);
        ok = false;
      }
  }

  if (ok && row->discount > 0)
    {
      int64_t gross;
      if (!money_mul (row->quantity, row->price, &gross))
        {
          rep (report, cls, line, IMPORT_COL_QUANTITY, "overflow",
               "quantity x price is too large");
          ok = false;
        }
      else if (row->discount > gross)
        {
          rep (report, cls, line, IMPORT_COL_DISCOUNT, "discount_too_large",
               "discount is larger than quantity x price");
          ok = false;
        }
    }
  return ok;
}

/* ---------------------------------------------------------------------
 * The API's item shape
 * ------------------------------------------------------------------- */

/* Maps an API field path of a ticket to the CSV column that carries it
 * ("items[2].product.price" -> "price"); sets *item to the item index or
 * -1 for ticket-level fields. */
const char *
import_field_column (const char *field, long *item)
{
  static const struct
  {
    const char *suffix, *column;
  } map[] = {
    { "product.taxes", "taxes" },
    { "product.price", "price" },
    { "product.tax_included", "tax_included" },
    { "product.description", "description" },
    { "product.product_key", "product_key" },
    { "product.unit_key", "unit_key" },
    { "product.unit_name", "unit_name" },
    { "quantity", "quantity" },
    { "discount", "discount" },
  };
  *item = -1;
  if (strncmp (field, "items[", 6) == 0)
    {
      char *end;
      long i = strtol (field + 6, &end, 10);
      if (*end == ']')
        {
          *item = i;
          const char *rest = end + 1;
          if (*rest == '.')
            rest++;
          for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
            if (strncmp (rest, map[k].suffix, strlen (map[k].suffix)) == 0)
              return map[k].column;
          return "";
        }
      return "";
    }
  static const char *const top[]
      = { "branch", "folio_number", "date", "payment_form" };
  for (size_t k = 0; k < 4; k++)
    if (strcmp (field, top[k]) == 0)
      return top[k];
  return "";
}

/* The item of one row in the API's JSON shape (invoice_items_from_json).
 * New reference. */
json_t *
import_row_item_json (const struct import_row *r)
{
  char b[MONEY_BUFSZ];
  json_t *taxes = json_array ();
  for (size_t i = 0; i < r->ntaxes; i++)
    {
      const struct import_tax *t = &r->taxes[i];
      json_t *o = json_pack ("{s:s, s:s, s:b}", "type", t->type, "factor",
                             t->factor == IMPORT_TASA    ? "Tasa"
                             : t->factor == IMPORT_CUOTA ? "Cuota"
                                                         : "Exento",
                             "withholding", t->withholding);
      if (t->factor != IMPORT_EXENTO)
        json_object_set_new (o, "rate",
                             json_string (money_format_min (t->rate, 0, b)));
      json_array_append_new (taxes, o);
    }
  json_t *product
      = json_pack ("{s:s, s:s, s:s, s:s, s:b, s:o}", "description",
                   r->description, "product_key", r->product_key, "unit_key",
                   r->unit_key, "price", money_format_min (r->price, 0, b),
                   "tax_included", r->tax_included, "taxes", taxes);
  if (r->unit_name && r->unit_name[0])
    json_object_set_new (product, "unit_name", json_string (r->unit_name));
  json_t *item
      = json_pack ("{s:s, s:o}", "quantity",
                   money_format_min (r->quantity, 0, b), "product", product);
  if (r->has_discount)
    json_object_set_new (item, "discount",
                         json_string (money_format_min (r->discount, 0, b)));
  return item;
}

/* Checks one row's item exactly as the API reads and computes an item;
 * reports the first problem at the row's line. */
bool
import_item_check (const json_t *item, unsigned long line,
                   import_report_fn report, void *cls)
{
  struct invoice inv;
  struct ferr err = { 0 };
  json_t *arr = json_pack ("[O]", item);
  invoice_init (&inv);
  bool ok = invoice_items_from_json (arr, &inv, &err)
            && invoice_item_compute (&inv.items[0], 2, 0, &err);
  if (!ok)
    {
      long idx;
      report (cls, line, import_field_column (err.field, &idx),
              err.code ? err.code : "invalid", err.message);
    }
  invoice_free (&inv);
  json_decref (arr);
  return ok;
}
