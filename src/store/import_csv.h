/*
 * import_csv.h — the pure half of `facturo import tickets`: a streaming,
 * bounded RFC 4180 reader and the check of one CSV row of the ticket
 * format described in docs/import.md.
 *
 * Nothing here touches the database, the file system or the clock, so the
 * fuzz harness (tests/fuzz/fuzz_csv.c) and the unit tests drive it from
 * memory.  The reader never holds more than one record: a file of any
 * length is read through a fixed 64 KiB window.
 */
#ifndef FACTURO_IMPORT_CSV_H
#define FACTURO_IMPORT_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* ---------------------------------------------------------------------
 * The reader
 * ------------------------------------------------------------------- */

#define CSV_MAX_FIELD 4096   /* bytes in one field */
#define CSV_MAX_RECORD 16384 /* bytes in one record (all its fields) */
#define CSV_MAX_FIELDS 64    /* fields in one record */

/* Reads up to n bytes into buf: returns how many (0 at end of input) or
 * -1 on an I/O error. */
typedef ssize_t (*csv_read_fn) (void *cls, char *buf, size_t n);

enum csv_status
{
  CSV_FATAL = -2, /* cannot go on (unterminated quote, I/O, size limit) */
  CSV_BAD = -1,   /* this record is malformed; the next call goes on */
  CSV_EOF = 0,    /* no more records */
  CSV_RECORD = 1, /* a record is available */
};

struct csv_error
{
  unsigned long line; /* physical line (1-based) where it happened */
  unsigned column;    /* 1-based field number, 0 if not known */
  char message[160];  /* English, one line */
};

struct csv_reader;

/* New reader over `read`/`cls` (borrowed until csv_free).  max_bytes
 * bounds the whole input (0: no bound).  Never returns NULL (OOM
 * aborts). */
struct csv_reader *csv_new (csv_read_fn read, void *cls, uint64_t max_bytes);
/* csv_free(NULL) is a no-op. */
void csv_free (struct csv_reader *r);

/* Reads the next record.  A leading UTF-8 byte-order mark is skipped;
 * records end with LF or CRLF; fields follow RFC 4180 quoting (quoted
 * fields may hold commas, doubled quotes and line breaks).  Lines that
 * are completely empty are skipped.  On CSV_BAD or CSV_FATAL, *err says
 * why (err may not be NULL).  After CSV_BAD the reader has skipped the
 * whole malformed record and can be called again; after CSV_FATAL or
 * CSV_EOF it keeps returning the same. */
enum csv_status csv_next (struct csv_reader *r, struct csv_error *err);

/* The current record (valid until the next csv_next). Fields are
 * NUL-terminated; a field holding a NUL byte makes the record CSV_BAD. */
size_t csv_nfields (const struct csv_reader *r);
const char *csv_field (const struct csv_reader *r, size_t i, size_t *len);
/* Physical line where the current record starts. */
unsigned long csv_record_line (const struct csv_reader *r);
/* Bytes consumed so far (for progress). */
uint64_t csv_bytes_read (const struct csv_reader *r);

/* ---------------------------------------------------------------------
 * The ticket format
 * ------------------------------------------------------------------- */

enum import_col
{
  IMPORT_COL_BRANCH,
  IMPORT_COL_FOLIO_NUMBER,
  IMPORT_COL_DATE,
  IMPORT_COL_PAYMENT_FORM,
  IMPORT_COL_QUANTITY,
  IMPORT_COL_DISCOUNT,
  IMPORT_COL_DESCRIPTION,
  IMPORT_COL_PRODUCT_KEY,
  IMPORT_COL_UNIT_KEY,
  IMPORT_COL_UNIT_NAME,
  IMPORT_COL_PRICE,
  IMPORT_COL_TAX_INCLUDED,
  IMPORT_COL_TAXES,
  IMPORT_COL_COUNT
};

/* Column name as written in the header ("folio_number"). */
const char *import_col_name (enum import_col c);

#define IMPORT_MAX_TAXES 8   /* taxes on one item */
#define IMPORT_MAX_BRANCH 31 /* bytes of a branch code (TICKET_MAX_BRANCH) */
#define IMPORT_MAX_FOLIO 63  /* bytes of a folio (TICKET_MAX_FOLIO) */
#define IMPORT_MAX_DESCRIPTION 1000 /* characters (SAT Descripcion) */
#define IMPORT_MAX_UNIT_NAME 20     /* characters (SAT Unidad) */

enum import_factor
{
  IMPORT_TASA,
  IMPORT_CUOTA,
  IMPORT_EXENTO
};

/* One tax of an item, as the `taxes` column spells it. */
struct import_tax
{
  const char *type; /* "IVA", "IEPS" or "ISR" (static) */
  enum import_factor factor;
  int64_t rate;     /* micros: 160000 = 16 %; cuota: micros of MXN
                       per unit; 0 for exento */
  bool withholding; /* RET- prefix */
};

/* One parsed data row.  Strings point into the reader's record and are
 * valid until the next csv_next. */
struct import_row
{
  unsigned long line;       /* physical line of the row */
  const char *branch;       /* printable ASCII, 1..31 bytes */
  const char *folio_number; /* printable ASCII, 1..63 bytes */
  const char *date;         /* as written: YYYY-MM-DDTHH:MM:SS, optional
                               Z or +-HH:MM (ticket_parse_date) */
  const char *payment_form; /* c_FormaPago code, not 99 */
  int64_t quantity;         /* micros, > 0 */
  int64_t discount;         /* micros, >= 0 (0 when empty) */
  bool has_discount;        /* the discount cell was not empty */
  const char *description;
  const char *product_key; /* 8 digits (c_ClaveProdServ shape) */
  const char *unit_key;    /* c_ClaveUnidad code */
  const char *unit_name;   /* may be "" */
  int64_t price;           /* micros, >= 0, unit price */
  bool tax_included;       /* true when the column is empty */
  struct import_tax taxes[IMPORT_MAX_TAXES];
  size_t ntaxes;
};

/* Receives one problem: the physical line, the column name (or "" for the
 * whole line), a stable snake_case code and an English sentence.  cls is
 * the caller's. */
typedef void (*import_report_fn) (void *cls, unsigned long line,
                                  const char *column, const char *code,
                                  const char *message);

/* Maps header fields to columns.  map[c] receives the field index of
 * column c or -1 when absent.  Reports (line 1-based `line`) every
 * unknown, duplicated, empty or missing required column; returns false if
 * it reported anything.  Header names are matched case-insensitively,
 * ignoring surrounding blanks. */
bool import_header (const struct csv_reader *r, int map[IMPORT_COL_COUNT],
                    import_report_fn report, void *cls);

/* Parses and checks the current record as a data row: every field that
 * is wrong is reported (not only the first), so one call may report
 * several problems.  Returns true and fills *row when the row is good. */
bool import_row_parse (const struct csv_reader *r,
                       const int map[IMPORT_COL_COUNT], struct import_row *row,
                       import_report_fn report, void *cls);

/* Parses the taxes column (see docs/import.md):
 *   ""                      no taxes
 *   tax *( ";" tax )        tax = ["RET-"] TYPE ":" VALUE
 *   TYPE  = IVA | IEPS | ISR
 *   VALUE = rate (0.16) | EXENTO | CUOTA:amount
 * Keywords are case-insensitive; blanks around tokens are ignored.
 * Fills taxes (up to IMPORT_MAX_TAXES) and *n.  On failure writes a
 * sentence into msg (msgsz bytes) and returns false. */
bool import_taxes_parse (const char *s, struct import_tax *taxes, size_t *n,
                         char *msg, size_t msgsz);

/* Writes the taxes back in canonical syntax (the inverse of the above,
 * used to compare contents).  Returns buf. */
char *import_taxes_format (const struct import_tax *taxes, size_t n, char *buf,
                           size_t bufsz);

/* The item of one good row in the JSON shape of the ticket API
 * (invoice_items_from_json, core/invoice.h): quantity, discount (only
 * when the cell was not empty), product.{description, product_key,
 * unit_key, unit_name (when not empty), price, tax_included, taxes[]}.
 * New reference. */
json_t *import_row_item_json (const struct import_row *row);

/* Reads and computes one item exactly as the API does
 * (invoice_items_from_json, then invoice_item_compute at 2 decimals);
 * reports its first problem at `line` and returns false. */
bool import_item_check (const json_t *item, unsigned long line,
                        import_report_fn report, void *cls);

/* The CSV column that carries an API field of a ticket
 * ("items[2].product.price" -> "price", "date" -> "date"; "" if none);
 * *item receives the item index, or -1 for ticket-level fields. */
const char *import_field_column (const char *field, long *item);

#endif
