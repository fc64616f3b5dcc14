/*
 * import.h — `facturo import tickets` as a library call, so that tests
 * can drive it against a store with fault injection (store_fault_inject)
 * and the command (import.c, cmd_import) stays a thin wrapper.  The file
 * format is docs/import.md; the CSV half lives in import_csv.h.
 */
#ifndef FACTURO_IMPORT_H
#define FACTURO_IMPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

#define IMPORT_MAX_FILE (256ULL * 1024 * 1024) /* bytes */
#define IMPORT_MAX_ROWS 1000000UL              /* data rows */

struct import_options
{
  const char *name;       /* file name in messages (borrowed) */
  int fd;                 /* the CSV, a regular file: read from offset 0,
                             and again from 0 if the transaction retries */
  uint64_t file_size;     /* bytes, for the progress bar (0: unknown) */
  int64_t tenant_id;      /* receiving tenant */
  const char *timezone;   /* tenant's IANA zone for dates without one
                             ("" or NULL: America/Mexico_City) */
  bool dry_run;           /* check everything, then roll back */
  bool progress;          /* draw a progress bar on `out` (a terminal) */
  unsigned long max_rows; /* data rows allowed; 0 = IMPORT_MAX_ROWS */
  FILE *out;              /* where problems go, one line each
                             "NAME:LINE: COLUMN: reason [code]";
                             NULL = stderr */
};

struct import_result
{
  unsigned long imported; /* tickets inserted (0 unless the call returns 0;
                             with dry_run: that would have been) */
  unsigned long skipped;  /* tickets already stored with the same content */
  unsigned long errors;   /* problems reported */
  unsigned long rows;     /* data rows read */
  unsigned long tickets;  /* tickets computed */
};

/* Imports the file in one store transaction (store_tx): every row is
 * checked, every problem reported on o->out, and if there is any, nothing
 * is imported.  Returns 0 (imported, or dry run passed), 1 (store or I/O
 * failure: nothing imported; one line on o->out) or 2 (bad input: nothing
 * imported; res->errors lines on o->out).  Dates without an offset are
 * read in the zone o->timezone (util/tz.h, daylight saving included);
 * a zone tz_get cannot load is a failure (1) before anything is read.
 * Thread-safe (no process-wide state).  res is always filled. */
int import_tickets (struct store *s, const struct import_options *o,
                    struct import_result *res);

#endif
