/*
 * backend.h — private to src/store: the small driver interface that
 * sqlite.c and pg.c implement and store.c drives.
 *
 * store.c owns all SQL (written once in $1…$n form) and the transaction,
 * retry and pooling logic; a backend only connects, prepares (cached per
 * connection by statement id), binds, steps rows and maps its error codes
 * to the four outcomes below.  A connection is used by one thread at a
 * time.
 */
#ifndef FACTURO_STORE_BACKEND_H
#define FACTURO_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/ferr.h"
#include "store/store.h"

/* Outcome of a step or exec. */
enum
{
  BK_DUP = -3,  /* unique/primary key violation */
  BK_HARD = -2, /* = STORE_HARD */
  BK_SOFT = -1, /* = STORE_SOFT: busy, locked, 40001, 40P01 */
  BK_DONE = 0,  /* statement finished */
  BK_ROW = 1    /* a row is available */
};

#define BK_MAX_PARAMS 32

struct bconn;
struct bstmt;

struct backend
{
  enum store_dialect dialect;
  /* target: SQLite path or libpq conninfo.  NULL with err on failure. */
  struct bconn *(*connect) (const char *target, int busy_ms, struct ferr *err);
  void (*disconnect) (struct bconn *c);
  /* False if the connection is broken and must not go back to the pool. */
  int (*healthy) (struct bconn *c);
  /* Runs a script of one or more statements (no parameters). */
  int (*exec) (struct bconn *c, const char *sql);
  /* Returns the statement cached under id (0..nslots-1), preparing sql on
   * first use; NULL on failure (logged).  The statement is reset. */
  struct bstmt *(*prepare) (struct bconn *c, int id, const char *sql);
  /* Parameters are numbered from 1 ($1). */
  void (*bind_i64) (struct bstmt *st, int n, int64_t v);
  void (*bind_text) (struct bstmt *st, int n,
                     const char *s); /* NULL: SQL NULL */
  void (*bind_blob) (struct bstmt *st, int n, const void *p, size_t len);
  int (*step) (struct bstmt *st);
  /* Columns are numbered from 0; pointers valid until the next step or
   * reset. */
  int (*is_null) (struct bstmt *st, int col);
  int64_t (*col_i64) (struct bstmt *st, int col);
  const char *(*col_text) (struct bstmt *st, int col); /* "" for NULL */
  const void *(*col_blob) (struct bstmt *st, int col, size_t *len);
  /* Rows changed by the last finished INSERT/UPDATE/DELETE. */
  int64_t (*changes) (struct bstmt *st);
  void (*reset) (struct bstmt *st);
};

extern const struct backend store_sqlite_backend;
extern const struct backend store_pg_backend;

/* Number of statement slots each connection caches (store.c's enum). */
#define BK_NSLOTS 160

#endif
