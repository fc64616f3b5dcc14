/*
 * import.c — `facturo import tickets FILE.csv --tenant SLUG [--db URL]`:
 * bulk import of point-of-sale tickets from a CSV file (docs/import.md).
 *
 * The file is read once, streaming (import_csv.c), inside ONE store
 * transaction: every row is checked (own checks, then the API's item
 * reader and arithmetic from core/invoice.h), rows are grouped into
 * tickets by branch + folio_number, and each ticket goes through
 * ticket_from_json() (core/ticket.h) — the very function POST /v1/tickets
 * uses — so an imported ticket's amounts are the ones the API would have
 * computed.  Every problem is reported with its line and column; if there
 * is any, the transaction is rolled back and nothing is imported (exit 2).
 * A ticket already stored with the same branch + folio and the same
 * content is skipped (re-running a file imports nothing twice); with
 * different content it is an error line.
 *
 * import_tickets() (import.h) does the work; cmd_import is the command
 * line around it.  Not done here: SQL (store.h), ticket arithmetic
 * (core/), CSV parsing (import_csv.c).  Memory grows only with the number of distinct tickets
 * (one small key per ticket, to refuse a ticket whose rows are split),
 * never with the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/money.h"
#include "core/ticket.h"
#include "store/import.h"
#include "store/import_csv.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/tz.h"

/* ---------------------------------------------------------------------
 * A small string-keyed hash table (open addressing): ticket keys seen in
 * this file (value: first line) and branch codes (value: branch id).
 * ------------------------------------------------------------------- */

struct hslot
{
  char *key;
  int64_t val;
};

struct hmap
{
  struct hslot *slots;
  size_t cap, n;
};

static uint64_t
hash_str (const char *s)
{
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static struct hslot *
hmap_find (struct hmap *m, const char *key)
{
  if (m->cap == 0)
    return NULL;
  for (size_t i = hash_str (key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
    {
      if (m->slots[i].key == NULL)
        return NULL;
      if (strcmp (m->slots[i].key, key) == 0)
        return &m->slots[i];
    }
}

/* Adds key (copied); the key must not be present. */
static void
hmap_put (struct hmap *m, const char *key, int64_t val)
{
  if ((m->n + 1) * 2 > m->cap)
    {
      struct hmap g = { xcalloc (m->cap ? m->cap * 2 : 64, sizeof *g.slots),
                        m->cap ? m->cap * 2 : 64, 0 };
      for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
          {
            size_t j = hash_str (m->slots[i].key) & (g.cap - 1);
            while (g.slots[j].key)
              j = (j + 1) & (g.cap - 1);
            g.slots[j] = m->slots[i];
            g.n++;
          }
      free (m->slots);
      *m = g;
    }
  size_t j = hash_str (key) & (m->cap - 1);
  while (m->slots[j].key)
    j = (j + 1) & (m->cap - 1);
  m->slots[j].key = xstrdup (key);
  m->slots[j].val = val;
  m->n++;
}

static void
hmap_free (struct hmap *m)
{
  for (size_t i = 0; i < m->cap; i++)
    free (m->slots[i].key);
  free (m->slots);
  memset (m, 0, sizeof *m);
}

/* ---------------------------------------------------------------------
 * The import run
 * ------------------------------------------------------------------- */

struct import
{
  /* set once by the command */
  const char *path; /* as given, for messages */
  int fd;
  uint64_t file_size; /* for the progress bar; 0 if unknown */
  int64_t tenant_id;
  FILE *out;              /* problems and progress (stderr) */
  bool progress;          /* draw the progress bar on out */
  bool dry_run;           /* validate, then roll back */
  unsigned long max_rows; /* data rows allowed (<= IMPORT_MAX_ROWS) */

  /* reset at the start of every transaction attempt */
  unsigned long errors;  /* problems reported */
  unsigned long printed; /* problems printed, over all attempts */
  unsigned long imported, skipped, rows, tickets;
  bool stop;            /* cannot read on (fatal CSV error) */
  bool io_error;        /* read() failed */
  bool db_error;        /* the store failed (not the input) */
  struct hmap seen;     /* ticket keys of this file -> first line */
  struct hmap branches; /* branch code -> branch id */
  struct csv_reader *csv;
  int map[IMPORT_COL_COUNT];
  double last_draw; /* monotonic seconds of the last progress */

  /* the ticket being gathered (rows of one branch + folio) */
  char cur_key[256];      /* branch "\x1f" folio as written ("" = none) */
  bool cur_bad;           /* one of its rows was bad */
  bool cur_too_many;      /* already reported "too many items" */
  unsigned long cur_line; /* its first line */
  char cur_branch[IMPORT_MAX_BRANCH + 1];
  char cur_folio[TICKET_MAX_FOLIO + 1];
  char cur_date[40];
  const struct tz *tz; /* the tenant's zone: dates without an offset */
  char cur_payment_form[8];
  json_t *cur_items;        /* array of item objects (API shape) */
  unsigned long *cur_lines; /* line of each item */
  size_t cur_n, cur_cap;
};

static void
report (void *cls, unsigned long line, const char *column, const char *code,
        const char *message)
{
  struct import *im = cls;
  char clean[512];
  size_t i;
  im->errors++;
  /* A retried transaction (soft error) reads the file again: lines
     already printed by an earlier attempt are not printed twice. */
  if (im->errors <= im->printed)
    return;
  im->printed = im->errors;
  /* Messages quote cells of the file: never let its control characters
     (terminal escapes, line breaks) through to the terminal or log. */
  for (i = 0; message[i] && i + 1 < sizeof clean; i++)
    {
      unsigned char ch = (unsigned char)message[i];
      clean[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
  clean[i] = '\0';
  if (im->progress)
    fputs ("\r\033[K", im->out); /* clear the progress line */
  if (column && column[0])
    fprintf (im->out, "%s:%lu: %s: %s [%s]\n", im->path, line, column, clean,
             code);
  else
    fprintf (im->out, "%s:%lu: %s [%s]\n", im->path, line, clean, code);
}

static double
now_mono (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Draws the progress bar on im->out (only on a terminal), at most 10 times
 * a second unless `force`. */
static void
progress (struct import *im, bool force)
{
  if (!im->progress)
    return;
  double t = now_mono ();
  if (!force && t - im->last_draw < 0.1)
    return;
  im->last_draw = t;
  uint64_t done = csv_bytes_read (im->csv);
  int pct = im->file_size ? (int)(done * 100 / im->file_size) : 0;
  if (pct > 100)
    pct = 100;
  char bar[31];
  int fill = pct * 30 / 100;
  for (int i = 0; i < 30; i++)
    bar[i] = i < fill ? '#' : '-';
  bar[30] = '\0';
  fprintf (im->out, "\r\033[Kimporting [%s] %3d%%  %lu rows, %lu tickets", bar,
           pct, im->rows, im->tickets);
  fflush (im->out);
}

static ssize_t
fd_read (void *cls, char *buf, size_t n)
{
  struct import *im = cls;
  for (;;)
    {
      ssize_t r = read (im->fd, buf, n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        im->io_error = true;
      return r;
    }
}

/* Reads the current content of a stored ticket's items into canonical
 * form (ticket_items_json), or a copy of the stored JSON if it cannot be
 * read back.  New reference, NULL if the text is not JSON. */
static json_t *
canonical_items (const char *text)
{
  json_error_t jerr;
  json_t *stored = json_loads (text ? text : "null", 0, &jerr);
  if (stored == NULL)
    return NULL;
  struct ticket t;
  struct ferr err;
  ticket_init (&t);
  json_t *out;
  if (invoice_items_from_json (stored, &t.inv, &err))
    {
      out = ticket_items_json (&t);
      json_decref (stored);
    }
  else
    out = stored;
  ticket_free (&t);
  return out;
}

/* Compares a stored ticket with a computed one; writes what differs
 * into why. */
static bool
same_content (const struct store_ticket *old, const struct ticket *t,
              char *why, size_t whysz)
{
  char a[MONEY_BUFSZ], b[MONEY_BUFSZ];
  if (old->date != t->date)
    {
      char da[TZ_ISO_MAX], db[TZ_ISO_MAX];
      tz_format_iso (tz_utc (), old->date, da);
      tz_format_iso (tz_utc (), t->date, db);
      snprintf (why, whysz, "stored date %s, file %s", da, db);
      return false;
    }
  if (strcmp (old->payment_form, t->payment_form) != 0)
    {
      snprintf (why, whysz, "stored payment_form %s, file %s",
                old->payment_form, t->payment_form);
      return false;
    }
  if (strcmp (old->currency, t->currency[0] ? t->currency : "MXN") != 0)
    {
      snprintf (why, whysz, "stored currency %s", old->currency);
      return false;
    }
  if (old->total != t->inv.total || old->subtotal != t->inv.subtotal
      || old->discount != t->inv.discount
      || old->taxes != t->inv.total_transferred
      || old->withheld != t->inv.total_withheld)
    {
      snprintf (why, whysz, "stored total %s, file %s",
                money_format (old->total, 2, a),
                money_format (t->inv.total, 2, b));
      return false;
    }
  json_t *mine = ticket_items_json (t);
  json_t *theirs = canonical_items (old->items);
  bool eq = theirs != NULL && json_equal (mine, theirs);
  json_decref (mine);
  json_decref (theirs);
  if (!eq)
    snprintf (why, whysz, "the items differ");
  return eq;
}

/* Branch id of a code: cached; 0 (and reported) if the tenant has no such
 * branch.  -1 on a store error. */
static int64_t
branch_id (struct import *im, struct store *s, const char *code)
{
  struct hslot *h = hmap_find (&im->branches, code);
  if (h)
    return h->val;
  struct store_branch b;
  memset (&b, 0, sizeof b);
  enum store_status st = store_branch_find_code (s, im->tenant_id, code, &b);
  int64_t id;
  if (st == STORE_ONE)
    id = b.id;
  else if (st == STORE_NONE)
    {
      /* First ticket of a new branch: register it, as the API does. */
      memset (&b, 0, sizeof b);
      snprintf (b.code, sizeof b.code, "%s", code);
      snprintf (b.name, sizeof b.name, "%s", code);
      st = store_branch_insert (s, im->tenant_id, &b);
      if (st == STORE_NONE) /* created meanwhile (PostgreSQL) */
        st = store_branch_find_code (s, im->tenant_id, code, &b);
      if (st != STORE_ONE)
        return st == STORE_SOFT || st == STORE_NONE ? -2 : -1;
      id = b.id;
    }
  else
    return st == STORE_SOFT ? -2 : -1;
  hmap_put (&im->branches, code, id);
  return id;
}

/* Finishes the gathered ticket: computes it as the API does, then skips,
 * refuses or inserts it.  Returns STORE_SOFT/STORE_HARD on a store
 * failure (the caller rolls back), else STORE_ONE. */
static enum store_status
flush_ticket (struct import *im, struct store *s)
{
  enum store_status ret = STORE_ONE;
  if (im->cur_key[0] == '\0')
    return ret;
  if (im->cur_bad || im->cur_n == 0)
    goto done;

  json_t *o = json_pack ("{s:s, s:s, s:s, s:s, s:O}", "branch", im->cur_branch,
                         "folio_number", im->cur_folio, "date", im->cur_date,
                         "payment_form", im->cur_payment_form, "items",
                         im->cur_items);
  struct ticket t;
  struct ferr err = { 0 };
  ticket_init (&t);
  if (!ticket_from_json (o, im->tz, &t, &err))
    {
      long idx;
      const char *col = import_field_column (err.field, &idx);
      unsigned long line = idx >= 0 && (size_t)idx < im->cur_n
                               ? im->cur_lines[idx]
                               : im->cur_line;
      report (im, line, col, err.code ? err.code : "invalid", err.message);
      goto free_ticket;
    }
  im->tickets++;

  int64_t bid = branch_id (im, s, t.branch);
  if (bid < 0)
    {
      ret = bid == -2 ? STORE_SOFT : STORE_HARD;
      im->db_error = ret == STORE_HARD;
      goto free_ticket;
    }
  /* Insert first, even once errors were found (the transaction is rolled
     back then): the unique (branch, folio) index decides in O(log n).
     Only a ticket that is already there is read back and compared. */
  struct store_ticket nt;
  memset (&nt, 0, sizeof nt);
  nt.branch_id = bid;
  snprintf (nt.branch_code, sizeof nt.branch_code, "%s", t.branch);
  snprintf (nt.folio_number, sizeof nt.folio_number, "%s", t.folio_number);
  nt.date = t.date;
  snprintf (nt.payment_form, sizeof nt.payment_form, "%s", t.payment_form);
  snprintf (nt.currency, sizeof nt.currency, "%s",
            t.currency[0] ? t.currency : "MXN");
  json_t *items = ticket_items_json (&t);
  nt.items = json_dumps (items, JSON_COMPACT);
  json_decref (items);
  nt.subtotal = t.inv.subtotal;
  nt.discount = t.inv.discount;
  nt.taxes = t.inv.total_transferred;
  nt.withheld = t.inv.total_withheld;
  nt.total = t.inv.total;
  enum store_status st = store_ticket_insert (s, im->tenant_id, &nt);
  free (nt.items);
  if (st == STORE_ONE)
    {
      im->imported++;
      goto free_ticket;
    }
  if (st != STORE_NONE)
    {
      ret = st == STORE_SOFT ? STORE_SOFT : STORE_HARD;
      im->db_error = ret == STORE_HARD;
      goto free_ticket;
    }

  struct store_ticket old;
  memset (&old, 0, sizeof old);
  st = store_ticket_find_folio (s, im->tenant_id, bid, t.folio_number, &old);
  if (st == STORE_ONE)
    {
      char why[160];
      if (same_content (&old, &t, why, sizeof why))
        im->skipped++;
      else
        {
          char msg[400];
          snprintf (msg, sizeof msg,
                    "branch %s already has a ticket with folio %s and "
                    "different content (%s)",
                    t.branch, t.folio_number, why);
          report (im, im->cur_line, "folio_number", "folio_conflict", msg);
        }
      store_ticket_clear (&old);
    }
  else if (st == STORE_NONE)
    ret = STORE_SOFT; /* the clash was the random key, or a row that went
                         away meanwhile: start over */
  else
    {
      ret = st == STORE_SOFT ? STORE_SOFT : STORE_HARD;
      im->db_error = ret == STORE_HARD;
    }

free_ticket:
  ticket_free (&t);
  json_decref (o);
done:
  im->cur_key[0] = '\0';
  json_array_clear (im->cur_items);
  im->cur_n = 0;
  return ret;
}

/* Adds a row to the gathered ticket (or starts a new one).  key is the
 * row's branch + folio as written; r is NULL for a bad row. */
static enum store_status
add_row (struct import *im, struct store *s, const char *key,
         const struct import_row *r, json_t *item, unsigned long line)
{
  enum store_status st = STORE_ONE;
  if (strcmp (key, im->cur_key) != 0)
    {
      st = flush_ticket (im, s);
      if (st != STORE_ONE)
        return st;
      struct hslot *h = hmap_find (&im->seen, key);
      if (h)
        {
          char msg[200];
          snprintf (msg, sizeof msg,
                    "the rows of a ticket must be consecutive: this branch "
                    "and folio_number started on line %ld",
                    (long)h->val);
          report (im, line, "folio_number", "ticket_not_contiguous", msg);
          /* Gather it anyway (marked bad) so its rows are still checked
             but it is not reported twice. */
        }
      else
        hmap_put (&im->seen, key, (int64_t)line);
      snprintf (im->cur_key, sizeof im->cur_key, "%s", key);
      im->cur_bad = h != NULL;
      im->cur_too_many = false;
      im->cur_line = line;
      im->cur_n = 0;
      im->cur_date[0] = im->cur_payment_form[0] = '\0';
      im->cur_branch[0] = im->cur_folio[0] = '\0';
    }
  if (r == NULL)
    {
      im->cur_bad = true;
      return st;
    }
  if (im->cur_n == 0 && im->cur_date[0] == '\0')
    {
      snprintf (im->cur_branch, sizeof im->cur_branch, "%s", r->branch);
      snprintf (im->cur_folio, sizeof im->cur_folio, "%s", r->folio_number);
      snprintf (im->cur_date, sizeof im->cur_date, "%s", r->date);
      snprintf (im->cur_payment_form, sizeof im->cur_payment_form, "%s",
                r->payment_form);
    }
  else
    {
      bool ok = true;
      if (strcmp (im->cur_date, r->date) != 0)
        {
          char msg[200];
          snprintf (msg, sizeof msg,
                    "date differs from the ticket's first row (line %lu: "
                    "%s)",
                    im->cur_line, im->cur_date);
          report (im, line, "date", "ticket_field_mismatch", msg);
          ok = false;
        }
      if (strcmp (im->cur_payment_form, r->payment_form) != 0)
        {
          char msg[200];
          snprintf (msg, sizeof msg,
                    "payment_form differs from the ticket's first row "
                    "(line %lu: %s)",
                    im->cur_line, im->cur_payment_form);
          report (im, line, "payment_form", "ticket_field_mismatch", msg);
          ok = false;
        }
      if (!ok)
        {
          im->cur_bad = true;
          return st;
        }
    }
  if (im->cur_n >= TICKET_MAX_ITEMS)
    {
      if (!im->cur_too_many)
        {
          char msg[120];
          snprintf (msg, sizeof msg, "a ticket may have at most %d items",
                    TICKET_MAX_ITEMS);
          report (im, line, "", "too_many_items", msg);
        }
      im->cur_too_many = true;
      im->cur_bad = true;
      return st;
    }
  if (im->cur_bad)
    return st;
  if (im->cur_n == im->cur_cap)
    {
      im->cur_cap = im->cur_cap ? im->cur_cap * 2 : 16;
      im->cur_lines
          = xrealloc (im->cur_lines, im->cur_cap * sizeof *im->cur_lines);
    }
  im->cur_lines[im->cur_n++] = line;
  json_array_append (im->cur_items, item);
  return st;
}

/* Column name of a 1-based field number of the header, or "". */
static const char *
col_of_field (const struct import *im, unsigned field)
{
  for (int c = 0; c < IMPORT_COL_COUNT; c++)
    if (im->map[c] >= 0 && (unsigned)im->map[c] + 1 == field)
      return import_col_name ((enum import_col)c);
  return "";
}

/* The whole import: runs inside store_tx, so it may run again after a
 * soft error and starts from the beginning of the file each time. */
static enum store_status
import_tx (struct store *s, void *arg)
{
  struct import *im = arg;
  enum store_status ret = STORE_ONE;
  struct csv_error e;

  im->errors = im->imported = im->skipped = im->rows = im->tickets = 0;
  im->stop = im->io_error = im->db_error = false;
  hmap_free (&im->seen);
  hmap_free (&im->branches);
  im->cur_key[0] = '\0';
  im->cur_n = 0;
  json_array_clear (im->cur_items);
  if (lseek (im->fd, 0, SEEK_SET) != 0)
    {
      fprintf (im->out, "%s: cannot rewind: %s\n", im->path, strerror (errno));
      im->io_error = true;
      return STORE_HARD;
    }
  csv_free (im->csv);
  im->csv = csv_new (fd_read, im, IMPORT_MAX_FILE);

  /* Header. */
  enum csv_status cs = csv_next (im->csv, &e);
  if (cs == CSV_EOF)
    {
      report (im, 1, "", "empty_file", "the file is empty (no header row)");
      return STORE_HARD;
    }
  if (cs != CSV_RECORD)
    {
      report (im, e.line, "", "csv_syntax", e.message);
      return STORE_HARD;
    }
  if (!import_header (im->csv, im->map, report, im))
    return STORE_HARD;

  for (;;)
    {
      cs = csv_next (im->csv, &e);
      if (cs == CSV_EOF)
        break;
      if (cs == CSV_FATAL)
        {
          report (im, e.line, e.column ? col_of_field (im, e.column) : "",
                  im->io_error ? "io_error" : "csv_syntax", e.message);
          im->stop = true;
          break;
        }
      if (++im->rows > im->max_rows)
        {
          char msg[100];
          snprintf (msg, sizeof msg, "more than %lu rows", im->max_rows);
          report (im, cs == CSV_RECORD ? csv_record_line (im->csv) : e.line,
                  "", "too_many_rows", msg);
          im->stop = true;
          break;
        }
      if (cs == CSV_BAD)
        {
          report (im, e.line, e.column ? col_of_field (im, e.column) : "",
                  "csv_syntax", e.message);
          continue;
        }

      /* Group key: branch and folio as written, even if invalid. */
      size_t bl, fl;
      const char *b
          = csv_field (im->csv, (size_t)im->map[IMPORT_COL_BRANCH], &bl);
      const char *f
          = csv_field (im->csv, (size_t)im->map[IMPORT_COL_FOLIO_NUMBER], &fl);
      char key[256];
      snprintf (key, sizeof key, "%.*s\x1f%.*s", (int)(bl < 100 ? bl : 100),
                b ? b : "", (int)(fl < 100 ? fl : 100), f ? f : "");
      unsigned long line = csv_record_line (im->csv);

      struct import_row row;
      json_t *item = NULL;
      bool ok = import_row_parse (im->csv, im->map, &row, report, im);
      if (ok)
        {
          item = import_row_item_json (&row);
          ok = import_item_check (item, line, report, im);
        }
      ret = add_row (im, s, key, ok ? &row : NULL, item, line);
      json_decref (item);
      if (ret != STORE_ONE)
        break;
      progress (im, false);
    }
  if (ret == STORE_ONE && !im->stop)
    ret = flush_ticket (im, s);
  if (im->io_error)
    ret = STORE_HARD;
  if (ret != STORE_ONE)
    return ret;
  progress (im, true);
  if (im->errors > 0 || im->dry_run)
    return STORE_HARD; /* roll back: whole file or nothing */
  return STORE_ONE;
}

int
import_tickets (struct store *s, const struct import_options *o,
                struct import_result *res)
{
  struct import im;
  memset (&im, 0, sizeof im);
  im.path = o->name ? o->name : "-";
  im.fd = o->fd;
  im.file_size = o->file_size;
  im.tenant_id = o->tenant_id;
  im.dry_run = o->dry_run;
  im.max_rows = o->max_rows && o->max_rows < IMPORT_MAX_ROWS ? o->max_rows
                                                             : IMPORT_MAX_ROWS;
  im.out = o->out ? o->out : stderr;
  im.progress = o->progress;
  struct ferr ze = { 0 };
  im.tz = tz_get (o->timezone, &ze);
  if (im.tz == NULL)
    {
      fprintf (im.out, "%s: %s\n", im.path, ze.message);
      memset (res, 0, sizeof *res);
      return 1;
    }

  im.cur_items = json_array ();
  enum store_status st = store_tx (s, import_tx, &im);
  if (im.progress)
    fputs ("\r\033[K", im.out);

  int rc;
  if (im.errors > 0)
    rc = 2;
  else if (st != STORE_ONE
           && !(im.dry_run && st == STORE_HARD && !im.db_error
                && !im.io_error))
    {
      fprintf (im.out, "%s: %s\n", im.path,
               im.io_error ? "read error" : "database error");
      rc = 1;
    }
  else
    rc = 0;
  memset (res, 0, sizeof *res);
  res->imported = rc == 0 ? im.imported : 0;
  res->skipped = rc == 1 ? 0 : im.skipped;
  res->errors = im.errors;
  res->rows = im.rows;
  res->tickets = im.tickets;

  csv_free (im.csv);
  hmap_free (&im.seen);
  hmap_free (&im.branches);
  json_decref (im.cur_items);
  free (im.cur_lines);
  return rc;
}

/* ---------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------- */

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: facturo import tickets FILE.csv --tenant SLUG [--db URL]"
           " [--dry-run] [--no-progress]\n"
           "                               [--max-rows N]\n"
           "\n"
           "Imports point-of-sale tickets from a CSV file (format: "
           "docs/import.md):\n"
           "one row per ticket item; rows of one ticket share branch and "
           "folio_number.\n"
           "All or nothing: any bad line (every one is listed with its line "
           "and column)\n"
           "means nothing is imported (exit 2).  Tickets already stored "
           "with the same\n"
           "content are skipped, so the same file can be imported again.\n"
           "\n"
           "  --tenant SLUG   merchant that receives the tickets\n"
           "  --db URL        sqlite:PATH or postgres://... (default "
           "$FACTURO_DB, else sqlite:facturo.db)\n"
           "  --dry-run       check everything, import nothing\n"
           "  --no-progress   no progress bar even on a terminal\n"
           "  --max-rows N    refuse files with more than N data rows "
           "(default and maximum 1000000)\n"
           "\n"
           "Exit status: 0 imported (or nothing new), 1 failure (database, "
           "I/O), 2 bad usage or bad input.\n");
}

int
cmd_import (int argc, char **argv)
{
  static const struct option opts[]
      = { { "tenant", required_argument, NULL, 't' },
          { "db", required_argument, NULL, 'd' },
          { "dry-run", no_argument, NULL, 'n' },
          { "no-progress", no_argument, NULL, 'q' },
          { "max-rows", required_argument, NULL, 'm' },
          { "help", no_argument, NULL, 'h' },
          { NULL, 0, NULL, 0 } };
  const char *tenant = NULL, *db = getenv ("FACTURO_DB");
  bool dry_run = false, no_progress = false;
  unsigned long max_rows = IMPORT_MAX_ROWS;

  if (argc >= 2
      && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    {
      usage (stdout);
      return 0;
    }
  if (argc < 2 || strcmp (argv[1], "tickets") != 0)
    {
      fprintf (stderr, "facturo import: expected 'tickets' (see facturo "
                       "import --help)\n");
      return 2;
    }
  argc--, argv++; /* argv[0] = "tickets" */
  optind = 1;
  opterr = 0;
  int c;
  /* GNU getopt permutes: options may come before or after FILE. */
  while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    switch (c)
      {
      case 't':
        tenant = optarg;
        break;
      case 'd':
        db = optarg;
        break;
      case 'n':
        dry_run = true;
        break;
      case 'q':
        no_progress = true;
        break;
      case 'm':
        {
          char *end;
          errno = 0;
          unsigned long v = strtoul (optarg, &end, 10);
          if (errno || *end || end == optarg || v == 0 || v > IMPORT_MAX_ROWS
              || optarg[0] == '-')
            {
              fprintf (stderr,
                       "facturo import tickets: --max-rows must be "
                       "1 to %lu\n",
                       IMPORT_MAX_ROWS);
              return 2;
            }
          max_rows = v;
        }
        break;
      case 'h':
        usage (stdout);
        return 0;
      default:
        fprintf (stderr,
                 "facturo import tickets: bad or incomplete option "
                 "'%s' (see --help)\n",
                 argv[optind - 1]);
        return 2;
      }
  const char *path = optind < argc ? argv[optind] : NULL;
  if (optind + 1 < argc)
    {
      fprintf (stderr,
               "facturo import tickets: one FILE only ('%s' is "
               "extra)\n",
               argv[optind + 1]);
      return 2;
    }
  if (path == NULL || tenant == NULL)
    {
      fprintf (stderr, "facturo import tickets: FILE.csv and --tenant SLUG "
                       "are required (see --help)\n");
      return 2;
    }

  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      fprintf (stderr, "facturo import tickets: %s: %s\n", path,
               strerror (errno));
      return errno == ENOENT ? 2 : 1;
    }
  struct stat sb;
  if (fstat (fd, &sb) != 0 || !S_ISREG (sb.st_mode))
    {
      fprintf (stderr, "facturo import tickets: %s: not a regular file\n",
               path);
      close (fd);
      return 2;
    }
  if ((uint64_t)sb.st_size > IMPORT_MAX_FILE)
    {
      fprintf (stderr,
               "facturo import tickets: %s: %llu bytes, more than "
               "the %llu allowed\n",
               path, (unsigned long long)sb.st_size,
               (unsigned long long)IMPORT_MAX_FILE);
      close (fd);
      return 2;
    }

  struct ferr err = { 0 };
  struct store *s = store_open (db, &err);
  if (s == NULL)
    {
      fprintf (stderr, "facturo import tickets: %s\n", err.message);
      close (fd);
      return 1;
    }
  struct store_tenant tn;
  memset (&tn, 0, sizeof tn);
  enum store_status st = store_tenant_find_slug (s, tenant, &tn);
  if (st != STORE_ONE)
    {
      if (st == STORE_NONE)
        fprintf (stderr, "facturo import tickets: no tenant '%s'\n", tenant);
      else
        fprintf (stderr, "facturo import tickets: cannot read tenants\n");
      store_close (s);
      close (fd);
      return st == STORE_NONE ? 2 : 1;
    }
  struct import_options o = {
    .name = path,
    .fd = fd,
    .file_size = (uint64_t)sb.st_size,
    .tenant_id = tn.id,
    .timezone = tn.timezone,
    .dry_run = dry_run,
    .progress = !no_progress && isatty (STDERR_FILENO),
    .max_rows = max_rows,
    .out = stderr,
  };
  struct import_result res;
  int rc = import_tickets (s, &o, &res);
  store_tenant_clear (&tn); /* only now: o.timezone points into tn */
  if (rc == 2)
    {
      fprintf (stderr, "%s: %lu error%s: nothing imported\n", path, res.errors,
               res.errors == 1 ? "" : "s");
      printf ("imported 0, skipped %lu, errors %lu\n", res.skipped,
              res.errors);
    }
  else if (rc == 1)
    {
      fprintf (stderr, "%s: nothing imported\n", path);
      printf ("imported 0, skipped 0, errors 0\n");
    }
  else if (dry_run)
    printf ("would import %lu, skipped %lu, errors 0 (dry run: nothing "
            "imported)\n",
            res.imported, res.skipped);
  else
    printf ("imported %lu, skipped %lu, errors 0\n", res.imported,
            res.skipped);
  store_close (s);
  close (fd);
  return rc;
}
