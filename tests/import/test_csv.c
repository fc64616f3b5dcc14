/*
 * test_csv.c — the streaming RFC 4180 reader and the ticket row checks of
 * `facturo import tickets` (src/store/import_csv.h), from memory.
 *
 * Every input is read twice: in one chunk and one byte at a time, so the
 * 64 KiB window's edges (BOM, CRLF, doubled quotes split across reads)
 * are exercised too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/import_csv.h"

struct mem
{
  const char *p;
  size_t len, pos;
  size_t chunk; /* bytes per read; 0 = all */
};

static ssize_t
mem_read (void *cls, char *buf, size_t n)
{
  struct mem *m = cls;
  size_t left = m->len - m->pos;
  if (m->chunk && n > m->chunk)
    n = m->chunk;
  if (n > left)
    n = left;
  memcpy (buf, m->p + m->pos, n);
  m->pos += n;
  return (ssize_t)n;
}

/* Reads all of text (len bytes) and writes a transcript: one line per
 * record "L<line>:" followed by "[field]" per field, "BAD L<line> C<col>"
 * for malformed records, "FATAL L<line>" and "EOF". */
static char *
transcript (const char *text, size_t len, size_t chunk, uint64_t max)
{
  static char out[8192];
  size_t off = 0;
  struct mem m = { text, len, 0, chunk };
  struct csv_reader *r = csv_new (mem_read, &m, max);
  for (;;)
    {
      struct csv_error e;
      enum csv_status st = csv_next (r, &e);
      if (st == CSV_RECORD)
        {
          off += (size_t)snprintf (out + off, sizeof out - off,
                                   "L%lu:", csv_record_line (r));
          for (size_t i = 0; i < csv_nfields (r); i++)
            off += (size_t)snprintf (out + off, sizeof out - off, "[%s]",
                                     csv_field (r, i, NULL));
          off += (size_t)snprintf (out + off, sizeof out - off, "\n");
        }
      else if (st == CSV_BAD)
        off += (size_t)snprintf (out + off, sizeof out - off, "BAD L%lu C%u\n",
                                 e.line, e.column);
      else if (st == CSV_FATAL)
        {
          off += (size_t)snprintf (out + off, sizeof out - off,
                                   "FATAL L%lu %s\n", e.line, e.message);
          break;
        }
      else
        {
          off += (size_t)snprintf (out + off, sizeof out - off, "EOF\n");
          break;
        }
    }
  csv_free (r);
  return out;
}

/* Asserts the transcript of text, whole and byte by byte. */
static void
check (const char *text, size_t len, const char *want)
{
  assert_string_equal (transcript (text, len, 0, 0), want);
  assert_string_equal (transcript (text, len, 1, 0), want);
  assert_string_equal (transcript (text, len, 7, 0), want);
}
#define CHECK(lit, want) check (lit, sizeof lit - 1, want)

static void
test_plain (void **state)
{
  CHECK ("a,b,c\n1,2,3\n", "L1:[a][b][c]\nL2:[1][2][3]\nEOF\n");
  /* last line without a line end; empty fields */
  CHECK ("a,,c\n,,", "L1:[a][][c]\nL2:[][][]\nEOF\n");
  /* empty input */
  CHECK ("", "EOF\n");
  /* blank lines are skipped but counted */
  CHECK ("a\n\n\r\nb\n", "L1:[a]\nL4:[b]\nEOF\n");
}

static void
test_quotes (void **state)
{
  /* commas, doubled quotes, line breaks inside quotes; the next record
     starts on the right physical line */
  CHECK ("\"a,b\",\"say \"\"hi\"\"\"\n\"two\nlines\",x\ny,z\n",
         "L1:[a,b][say \"hi\"]\nL2:[two\nlines][x]\nL4:[y][z]\nEOF\n");
  /* empty quoted field, quoted last field at end of input */
  CHECK ("\"\",\"q\"", "L1:[][q]\nEOF\n");
  /* CRLF inside quotes is data; CRLF outside ends the record */
  CHECK ("\"a\r\nb\",c\r\nd,e\r\n", "L1:[a\r\nb][c]\nL3:[d][e]\nEOF\n");
}

static void
test_bom_crlf (void **state)
{
  CHECK ("\xEF\xBB\xBFh1,h2\r\nv1,v2\r\n", "L1:[h1][h2]\nL2:[v1][v2]\nEOF\n");
  /* a BOM anywhere else is data */
  CHECK ("a\n\xEF\xBB\xBF"
         "b\n",
         "L1:[a]\nL2:[\xEF\xBB\xBF"
         "b]\nEOF\n");
}

static void
test_errors_recover (void **state)
{
  /* bare quote in an unquoted field: reported with its line and field,
     the next records are read */
  CHECK ("a,b\nx,y\"z\nc,d\n", "L1:[a][b]\nBAD L2 C2\nL3:[c][d]\nEOF\n");
  /* text after a closing quote */
  CHECK ("\"a\"b,c\nd\n", "BAD L1 C1\nL2:[d]\nEOF\n");
  /* a malformed record whose later quoted field spans lines is skipped
     whole */
  CHECK ("x\"y,\"1\n2\"\nok\n", "BAD L1 C1\nL3:[ok]\nEOF\n");
  /* stray CR */
  CHECK ("a\rb\nc\n", "BAD L1 C1\nL2:[c]\nEOF\n");
  /* NUL byte */
  CHECK ("a\0b\nc\n", "BAD L1 C1\nL2:[c]\nEOF\n");
}

static void
test_unterminated (void **state)
{
  const char *t = transcript ("a,b\nc,\"open\nmore\nlines\n", 22, 0, 0);
  assert_non_null (strstr (t, "L1:[a][b]\nFATAL L2 "));
  assert_non_null (strstr (t, "unterminated quoted field (opened on line 2, "
                              "field 2)"));
  t = transcript ("a,b\nc,\"open\nmore\nlines\n", 22, 1, 0);
  assert_non_null (strstr (t, "FATAL L2 "));
}

static void
test_bounds (void **state)
{
  size_t n = CSV_MAX_FIELD + 10;
  char *big = malloc (n + 20);
  memset (big, 'x', n);
  memcpy (big + n, "\nok\n", 5);
  assert_string_equal (transcript (big, n + 4, 0, 0),
                       "BAD L1 C1\nL2:[ok]\nEOF\n");
  /* the same, quoted and spanning lines */
  big[0] = '"';
  big[100] = '\n';
  memcpy (big + n, "\"\nok\n", 6);
  assert_string_equal (transcript (big, n + 5, 0, 0),
                       "BAD L1 C1\nL3:[ok]\nEOF\n");
  /* exactly the maximum is fine */
  memset (big, 'y', CSV_MAX_FIELD);
  memcpy (big + CSV_MAX_FIELD, "\n", 2);
  const char *t = transcript (big, CSV_MAX_FIELD + 1, 0, 0);
  assert_int_equal (strlen (t),
                    3 + CSV_MAX_FIELD + 3 + 4); /* "L1:[" y… "]\n" "EOF\n" */
  free (big);

  /* too many fields */
  char many[CSV_MAX_FIELDS * 2 + 8];
  size_t k = 0;
  for (int i = 0; i <= CSV_MAX_FIELDS; i++)
    many[k++] = 'f', many[k++] = ',';
  many[k - 1] = '\n';
  memcpy (many + k, "ok\n", 4);
  assert_string_equal (transcript (many, k + 3, 0, 0),
                       "BAD L1 C65\nL2:[ok]\nEOF\n");

  /* whole-input bound */
  t = transcript ("a,b\nc,d\ne,f\n", 12, 0, 6);
  assert_non_null (strstr (t, "L1:[a][b]\nFATAL L2 file larger than 6"));
}

/* ---- taxes column ---- */

static void
test_taxes_ok (void **state)
{
  struct import_tax t[IMPORT_MAX_TAXES];
  size_t n;
  char msg[200], back[200];
  assert_true (import_taxes_parse ("IVA:0.16;IEPS:0.08;RET-ISR:0.0125", t, &n,
                                   msg, sizeof msg));
  assert_int_equal (n, 3);
  assert_string_equal (t[0].type, "IVA");
  assert_int_equal (t[0].rate, 160000);
  assert_int_equal (t[0].factor, IMPORT_TASA);
  assert_false (t[0].withholding);
  assert_string_equal (t[1].type, "IEPS");
  assert_int_equal (t[1].rate, 80000);
  assert_string_equal (t[2].type, "ISR");
  assert_true (t[2].withholding);
  assert_int_equal (t[2].rate, 12500);
  assert_string_equal (import_taxes_format (t, n, back, sizeof back),
                       "IVA:0.16;IEPS:0.08;RET-ISR:0.0125");

  assert_true (import_taxes_parse ("iva:exento", t, &n, msg, sizeof msg));
  assert_int_equal (n, 1);
  assert_int_equal (t[0].factor, IMPORT_EXENTO);

  assert_true (import_taxes_parse ("IVA:0.16; RET-IVA:0.106667 ;IEPS:CUOTA:"
                                   "1.5",
                                   t, &n, msg, sizeof msg));
  assert_int_equal (n, 3);
  assert_true (t[1].withholding);
  assert_int_equal (t[1].rate, 106667);
  assert_int_equal (t[2].factor, IMPORT_CUOTA);
  assert_int_equal (t[2].rate, 1500000);
  assert_string_equal (import_taxes_format (t, n, back, sizeof back),
                       "IVA:0.16;RET-IVA:0.106667;IEPS:CUOTA:1.5");

  assert_true (import_taxes_parse ("IVA:0", t, &n, msg, sizeof msg));
  assert_int_equal (n, 1);
  assert_int_equal (t[0].rate, 0);
  assert_true (import_taxes_parse ("IVA:0.08", t, &n, msg, sizeof msg));
  assert_true (import_taxes_parse ("", t, &n, msg, sizeof msg));
  assert_int_equal (n, 0);
}

static void
test_taxes_bad (void **state)
{
  static const struct
  {
    const char *in, *want;
  } bad[] = {
    { "IVA:16", "rates are fractions" },
    { "IVA:0.15", "not in SAT's c_TasaOCuota" },
    { "IVA", "expected TYPE:VALUE" },
    { "VAT:0.16", "unknown tax type" },
    { "ISR:0.10", "ISR can only be withheld" },
    { "RET-IVA:EXENTO", "only transferred IVA can be EXENTO" },
    { "IEPS:EXENTO", "only transferred IVA can be EXENTO" },
    { "IVA:CUOTA:1", "only IEPS can be a CUOTA" },
    { "IVA:0.16;", "empty tax 2" },
    { "IVA:0.16;IVA:0", "appears twice" },
    { "IVA:abc", "must be a decimal" },
    { "IVA:-0.16", "must be a decimal" },
    { "IVA:0.1600001", "must be a decimal" },
    { "IVA:0.16;IEPS:0.08;RET-ISR:0.0125;RET-IVA:0.106667;IEPS:0.08;"
      "IVA:0;IVA:0;IVA:0;IVA:0",
      "IEPS appears twice" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      struct import_tax t[IMPORT_MAX_TAXES];
      size_t n;
      char msg[200] = "";
      assert_false (import_taxes_parse (bad[i].in, t, &n, msg, sizeof msg));
      if (strstr (msg, bad[i].want) == NULL)
        fail_msg ("taxes '%s': got '%s', want '%s'", bad[i].in, msg,
                  bad[i].want);
    }
}

/* ---- rows ---- */

struct reports
{
  char text[4096];
  int n;
};

static void
collect (void *cls, unsigned long line, const char *column, const char *code,
         const char *message)
{
  struct reports *r = cls;
  size_t off = strlen (r->text);
  snprintf (r->text + off, sizeof r->text - off, "%lu:%s:%s\n", line, column,
            code);
  r->n++;
}

static const char header[]
    = "branch,folio_number,date,payment_form,quantity,discount,description,"
      "product_key,unit_key,unit_name,price,tax_included,taxes\n";

/* Reads header + one row and parses the row. */
static bool
parse_one (const char *text, struct import_row *row, struct reports *rep,
           struct csv_reader **keep)
{
  static struct mem m;
  m = (struct mem){ text, strlen (text), 0, 0 };
  struct csv_reader *r = csv_new (mem_read, &m, 0);
  struct csv_error e;
  int map[IMPORT_COL_COUNT];
  assert_int_equal (csv_next (r, &e), CSV_RECORD);
  assert_true (import_header (r, map, collect, rep));
  assert_int_equal (csv_next (r, &e), CSV_RECORD);
  bool ok = import_row_parse (r, map, row, collect, rep);
  *keep = r;
  return ok;
}

static void
test_row_good (void **state)
{
  char text[1024];
  struct import_row row;
  struct reports rep = { "", 0 };
  struct csv_reader *r;
  snprintf (text, sizeof text, "%s%s", header,
            "S01,1001,2026-11-20T13:45:00,01,2,10.5,\"Café, 1 kg\","
            "50201712,H87,Pieza,116.00,true,IVA:0.16\n");
  assert_true (parse_one (text, &row, &rep, &r));
  assert_int_equal (rep.n, 0);
  assert_string_equal (row.branch, "S01");
  assert_string_equal (row.folio_number, "1001");
  assert_int_equal (row.quantity, 2000000);
  assert_int_equal (row.discount, 10500000);
  assert_int_equal (row.price, 116000000);
  assert_string_equal (row.description, "Café, 1 kg");
  assert_true (row.tax_included);
  assert_int_equal (row.ntaxes, 1);
  assert_int_equal (row.line, 2);
  csv_free (r);
}

static void
test_row_every_error (void **state)
{
  /* one row, many wrong cells: every one is reported */
  char text[1024];
  struct import_row row;
  struct reports rep = { "", 0 };
  struct csv_reader *r;
  snprintf (text, sizeof text, "%s%s", header,
            ", 12a,2026-02-30T10:00:00,77,0,-1,,5020171,ZZZZ,Pieza,1.2345678,"
            "maybe,IVA:16\n");
  assert_false (parse_one (text, &row, &rep, &r));
  assert_string_equal (rep.text, "2:branch:required\n"
                                 "2:folio_number:text_character\n"
                                 "2:date:invalid_date\n"
                                 "2:payment_form:invalid_payment_form\n"
                                 "2:quantity:not_positive\n"
                                 "2:discount:negative\n"
                                 "2:description:required\n"
                                 "2:product_key:invalid_product_key\n"
                                 "2:unit_key:invalid_unit_key\n"
                                 "2:price:invalid_amount\n"
                                 "2:tax_included:invalid_boolean\n"
                                 "2:taxes:invalid_taxes\n");
  csv_free (r);

  /* wrong field count, bad UTF-8, '|' in the description */
  rep = (struct reports){ "", 0 };
  snprintf (text, sizeof text, "%s%s", header, "a,b\n");
  assert_false (parse_one (text, &row, &rep, &r));
  assert_string_equal (rep.text, "2::field_count\n");
  csv_free (r);
  rep = (struct reports){ "", 0 };
  snprintf (text, sizeof text, "%s%s", header,
            "S,1,2026-11-20T13:45:00,01,1,,a|b,50201712,H87,\xC3,1,,\n");
  assert_false (parse_one (text, &row, &rep, &r));
  assert_string_equal (rep.text, "2:description:invalid_character\n"
                                 "2:unit_name:invalid_utf8\n");
  csv_free (r);
  /* discount above quantity x price */
  rep = (struct reports){ "", 0 };
  snprintf (text, sizeof text, "%s%s", header,
            "S,1,2026-11-20T13:45:00,01,2,5.01,a,50201712,H87,,2.50,,\n");
  assert_false (parse_one (text, &row, &rep, &r));
  assert_string_equal (rep.text, "2:discount:discount_too_large\n");
  csv_free (r);
}

static void
test_header (void **state)
{
  struct mem m;
  struct csv_error e;
  int map[IMPORT_COL_COUNT];
  struct reports rep = { "", 0 };
  const char *h = "Branch , FOLIO_NUMBER,date,payment_form,quantity,"
                  "description,product_key,unit_key,price,taxes,colour,"
                  "price,\n";
  m = (struct mem){ h, strlen (h), 0, 0 };
  struct csv_reader *r = csv_new (mem_read, &m, 0);
  assert_int_equal (csv_next (r, &e), CSV_RECORD);
  assert_false (import_header (r, map, collect, &rep));
  assert_string_equal (rep.text, "1::header_unknown_column\n"
                                 "1:price:header_duplicate_column\n"
                                 "1::header_empty_column\n");
  assert_int_equal (map[IMPORT_COL_BRANCH], 0);
  assert_int_equal (map[IMPORT_COL_FOLIO_NUMBER], 1);
  assert_int_equal (map[IMPORT_COL_DISCOUNT], -1);
  csv_free (r);

  rep = (struct reports){ "", 0 };
  h = "branch,date\n";
  m = (struct mem){ h, strlen (h), 0, 0 };
  r = csv_new (mem_read, &m, 0);
  assert_int_equal (csv_next (r, &e), CSV_RECORD);
  assert_false (import_header (r, map, collect, &rep));
  assert_non_null (strstr (rep.text, "1:folio_number:header_missing_column"));
  assert_non_null (strstr (rep.text, "1:taxes:header_missing_column"));
  assert_null (strstr (rep.text, "discount"));
  csv_free (r);
}

static void
test_item_json (void **state)
{
  /* the API shape of a good row, and the API's own check of it */
  char text[1024];
  struct import_row row;
  struct reports rep = { "", 0 };
  struct csv_reader *r;
  snprintf (text, sizeof text, "%s%s", header,
            "S01,7,2026-11-20T13:45:00,01,1.5,0,Queso,50131800,KGM,,"
            "189.90,false,IEPS:CUOTA:1.5;IVA:EXENTO;RET-ISR:0.10\n");
  assert_true (parse_one (text, &row, &rep, &r));
  json_t *item = import_row_item_json (&row);
  char *dump = json_dumps (item, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal (
      dump, "{\"discount\":\"0\",\"product\":{\"description\":\"Queso\","
            "\"price\":\"189.9\",\"product_key\":\"50131800\","
            "\"tax_included\":false,\"taxes\":[{\"factor\":\"Cuota\","
            "\"rate\":\"1.5\",\"type\":\"IEPS\",\"withholding\":false},"
            "{\"factor\":\"Exento\",\"type\":\"IVA\",\"withholding\":"
            "false},{\"factor\":\"Tasa\",\"rate\":\"0.1\",\"type\":"
            "\"ISR\",\"withholding\":true}],\"unit_key\":\"KGM\"},"
            "\"quantity\":\"1.5\"}");
  free (dump);
  assert_true (import_item_check (item, row.line, collect, &rep));
  assert_int_equal (rep.n, 0);
  json_decref (item);
  csv_free (r);

  /* a problem only the API's item reader finds is reported on the row's
     line and mapped back to its column */
  item = json_pack ("{s:s, s:{s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}}",
                    "quantity", "1", "product", "description", "x",
                    "product_key", "01010101", "unit_key", "H87", "price", "1",
                    "taxes", "type", "IVA", "rate", "0.15");
  rep = (struct reports){ "", 0 };
  assert_false (import_item_check (item, 42, collect, &rep));
  assert_string_equal (rep.text, "42:taxes:tax_rate\n");
  json_decref (item);
}

static void
test_field_column (void **state)
{
  static const struct
  {
    const char *field, *column;
    long item;
  } t[] = {
    { "items[3].product.taxes[1].rate", "taxes", 3 },
    { "items[0].product.price", "price", 0 },
    { "items[12].quantity", "quantity", 12 },
    { "items[2].discount", "discount", 2 },
    { "items[2].product.unit_key", "unit_key", 2 },
    { "items[1]", "", 1 },
    { "date", "date", -1 },
    { "payment_form", "payment_form", -1 },
    { "folio_number", "folio_number", -1 },
    { "currency", "", -1 },
    { "items", "", -1 },
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    {
      long item = 99;
      assert_string_equal (import_field_column (t[i].field, &item),
                           t[i].column);
      assert_int_equal (item, t[i].item);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_plain),
    cmocka_unit_test (test_quotes),
    cmocka_unit_test (test_bom_crlf),
    cmocka_unit_test (test_errors_recover),
    cmocka_unit_test (test_unterminated),
    cmocka_unit_test (test_bounds),
    cmocka_unit_test (test_taxes_ok),
    cmocka_unit_test (test_taxes_bad),
    cmocka_unit_test (test_row_good),
    cmocka_unit_test (test_row_every_error),
    cmocka_unit_test (test_header),
    cmocka_unit_test (test_item_json),
    cmocka_unit_test (test_field_column),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
