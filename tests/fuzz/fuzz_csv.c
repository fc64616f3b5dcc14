/*
 * fuzz_csv.c — libFuzzer harness for the CSV side of `facturo import
 * tickets`: the streaming RFC 4180 reader (fed in odd-sized chunks so the
 * window edges move), the header and row checks, the taxes syntax (parse
 * -> format -> parse must be a fixed point) and, for rows that pass, the
 * API's own item reader and arithmetic (import_item_check).
 *
 * Seeds: tests/fuzz/corpus/csv/.  Run time-boxed from tests/import.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/import_csv.h"

struct mem
{
  const uint8_t *p;
  size_t len, pos, chunk;
};

static ssize_t
mem_read (void *cls, char *buf, size_t n)
{
  struct mem *m = cls;
  size_t left = m->len - m->pos;
  size_t k = m->chunk;
  if (k == 0 || k > n)
    k = n;
  if (k > left)
    k = left;
  memcpy (buf, m->p + m->pos, k);
  m->pos += k;
  /* vary the chunk size so every split point gets exercised */
  m->chunk = (m->chunk * 7 + 3) % 61;
  return (ssize_t)k;
}

static void
sink (void *cls, unsigned long line, const char *column, const char *code,
      const char *message)
{
  unsigned long *n = cls;
  (void)line;
  if (column == NULL || code == NULL || message == NULL || code[0] == '\0')
    abort ();
  (*n)++;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct mem m = { data, size, 0, size ? data[0] % 17 : 0 };
  struct csv_reader *r = csv_new (mem_read, &m, 1 << 20);
  struct csv_error e;
  int map[IMPORT_COL_COUNT];
  unsigned long reports = 0, rows = 0;
  bool have_header = false;
  uint64_t last = 0;

  for (;;)
    {
      enum csv_status st = csv_next (r, &e);
      if (csv_bytes_read (r) < last)
        abort (); /* progress only moves forward */
      last = csv_bytes_read (r);
      if (st == CSV_EOF || st == CSV_FATAL)
        break;
      if (st == CSV_BAD)
        {
          if (e.line == 0 || e.message[0] == '\0')
            abort ();
          continue;
        }
      if (csv_nfields (r) == 0 || csv_nfields (r) > CSV_MAX_FIELDS)
        abort ();
      for (size_t i = 0; i < csv_nfields (r); i++)
        {
          size_t len;
          const char *f = csv_field (r, i, &len);
          if (len > CSV_MAX_FIELD || strlen (f) != len)
            abort ();
        }
      if (!have_header)
        {
          have_header = true;
          import_header (r, map, sink, &reports);
          for (int c = 0; c < IMPORT_COL_COUNT; c++)
            if (map[c] >= 0 && (size_t)map[c] >= csv_nfields (r))
              abort ();
          continue;
        }
      if (++rows > 10000)
        break;
      struct import_row row;
      if (import_row_parse (r, map, &row, sink, &reports))
        {
          /* the taxes syntax is a fixed point of parse/format */
          char buf[512], buf2[512];
          struct import_tax t2[IMPORT_MAX_TAXES];
          size_t n2;
          char msg[200];
          import_taxes_format (row.taxes, row.ntaxes, buf, sizeof buf);
          if (!import_taxes_parse (buf, t2, &n2, msg, sizeof msg)
              || n2 != row.ntaxes)
            abort ();
          import_taxes_format (t2, n2, buf2, sizeof buf2);
          if (strcmp (buf, buf2) != 0)
            abort ();
          json_t *item = import_row_item_json (&row);
          import_item_check (item, row.line, sink, &reports);
          json_decref (item);
        }
    }
  csv_free (r);
  return 0;
}
