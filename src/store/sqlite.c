/*
 * sqlite.c — the SQLite backend of the store (the default: one file).
 *
 * Each connection is opened NOMUTEX (one thread at a time, guaranteed by
 * store.c's pool) in WAL mode with synchronous=FULL (a committed
 * transaction survives power loss), foreign keys on and a busy timeout.
 * Statements are prepared once per connection with
 * SQLITE_PREPARE_PERSISTENT and cached by id.  SQL arrives in $1…$n form:
 * SQLite treats "$1" as a named parameter, so each statement keeps a map
 * from n to SQLite's parameter index (sqlite3_bind_parameter_index),
 * which tests/store proves with out-of-order and repeated parameters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/backend.h"
#include "util/buf.h"
#include "util/log.h"

struct bstmt
{
  sqlite3_stmt *st;
  struct bconn *conn;
  int idx[BK_MAX_PARAMS + 1]; /* $n -> SQLite parameter index, 0 if absent */
  int64_t changes;
};

struct bconn
{
  sqlite3 *db;
  struct bstmt *cache[BK_NSLOTS];
};

static int
map_rc (sqlite3 *db, int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return BK_SOFT;
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return BK_DUP;
      /* fall through */
    default:
      log_error ("sqlite: %s (%d)", sqlite3_errmsg (db), rc);
      return BK_HARD;
    }
}

static struct bconn *
sq_connect (const char *target, int busy_ms, struct ferr *err)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (
      target, &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      ferr_set (err, "store_open", "db", "cannot open SQLite database %s: %s",
                "no se puede abrir la base SQLite %s: %s", target,
                db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
      sqlite3_close (db);
      return NULL;
    }
  sqlite3_extended_result_codes (db, 1);
  sqlite3_busy_timeout (db, busy_ms);
  char *msg = NULL;
  rc = sqlite3_exec (db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     " PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg);
  if (rc != SQLITE_OK)
    {
      ferr_set (err, "store_open", "db",
                "cannot set up SQLite database %s: %s",
                "no se puede preparar la base SQLite %s: %s", target,
                msg ? msg : sqlite3_errstr (rc));
      sqlite3_free (msg);
      sqlite3_close (db);
      return NULL;
    }
  struct bconn *c = xcalloc (1, sizeof *c);
  c->db = db;
  return c;
}

static void
sq_disconnect (struct bconn *c)
{
  if (c == NULL)
    return;
  for (int i = 0; i < BK_NSLOTS; i++)
    if (c->cache[i])
      {
        sqlite3_finalize (c->cache[i]->st);
        free (c->cache[i]);
      }
  sqlite3_close (c->db);
  free (c);
}

static int
sq_healthy (struct bconn *c)
{
  return c != NULL && c->db != NULL;
}

static int
sq_exec (struct bconn *c, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec (c->db, sql, NULL, NULL, &msg);
  sqlite3_free (msg);
  if (rc == SQLITE_OK)
    return BK_DONE;
  return map_rc (c->db, rc);
}

static struct bstmt *
sq_prepare (struct bconn *c, int id, const char *sql)
{
  if (id < 0 || id >= BK_NSLOTS)
    return NULL;
  struct bstmt *s = c->cache[id];
  if (s)
    {
      sqlite3_reset (s->st);
      sqlite3_clear_bindings (s->st);
      return s;
    }
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v3 (c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                               NULL);
  if (rc != SQLITE_OK)
    {
      log_error ("sqlite: prepare %d: %s", id, sqlite3_errmsg (c->db));
      return NULL;
    }
  s = xcalloc (1, sizeof *s);
  s->st = st;
  s->conn = c;
  for (int n = 1; n <= BK_MAX_PARAMS; n++)
    {
      char name[8];
      snprintf (name, sizeof name, "$%d", n);
      s->idx[n] = sqlite3_bind_parameter_index (st, name);
    }
  c->cache[id] = s;
  return s;
}

static void
sq_bind_i64 (struct bstmt *s, int n, int64_t v)
{
  if (n > 0 && n <= BK_MAX_PARAMS && s->idx[n])
    sqlite3_bind_int64 (s->st, s->idx[n], v);
}

static void
sq_bind_text (struct bstmt *s, int n, const char *v)
{
  if (n <= 0 || n > BK_MAX_PARAMS || !s->idx[n])
    return;
  if (v == NULL)
    sqlite3_bind_null (s->st, s->idx[n]);
  else
    sqlite3_bind_text (s->st, s->idx[n], v, -1, SQLITE_TRANSIENT);
}

static void
sq_bind_blob (struct bstmt *s, int n, const void *p, size_t len)
{
  if (n <= 0 || n > BK_MAX_PARAMS || !s->idx[n])
    return;
  if (p == NULL)
    sqlite3_bind_null (s->st, s->idx[n]);
  else
    sqlite3_bind_blob64 (s->st, s->idx[n], p, len, SQLITE_TRANSIENT);
}

static int
sq_step (struct bstmt *s)
{
  int rc = sqlite3_step (s->st);
  if (rc == SQLITE_ROW)
    return BK_ROW;
  if (rc == SQLITE_DONE)
    {
      s->changes = sqlite3_changes64 (s->conn->db);
      return BK_DONE;
    }
  rc = sqlite3_extended_errcode (s->conn->db);
  sqlite3_reset (s->st);
  return map_rc (s->conn->db, rc);
}

static int
sq_is_null (struct bstmt *s, int col)
{
  return sqlite3_column_type (s->st, col) == SQLITE_NULL;
}

static int64_t
sq_col_i64 (struct bstmt *s, int col)
{
  return sqlite3_column_int64 (s->st, col);
}

static const char *
sq_col_text (struct bstmt *s, int col)
{
  const char *t = (const char *)sqlite3_column_text (s->st, col);
  return t ? t : "";
}

static const void *
sq_col_blob (struct bstmt *s, int col, size_t *len)
{
  const void *p = sqlite3_column_blob (s->st, col);
  *len = (size_t)sqlite3_column_bytes (s->st, col);
  return p;
}

static int64_t
sq_changes (struct bstmt *s)
{
  return s->changes;
}

static void
sq_reset (struct bstmt *s)
{
  sqlite3_reset (s->st);
  sqlite3_clear_bindings (s->st);
}

const struct backend store_sqlite_backend = {
  .dialect = STORE_SQLITE,
  .connect = sq_connect,
  .disconnect = sq_disconnect,
  .healthy = sq_healthy,
  .exec = sq_exec,
  .prepare = sq_prepare,
  .bind_i64 = sq_bind_i64,
  .bind_text = sq_bind_text,
  .bind_blob = sq_bind_blob,
  .step = sq_step,
  .is_null = sq_is_null,
  .col_i64 = sq_col_i64,
  .col_text = sq_col_text,
  .col_blob = sq_col_blob,
  .changes = sq_changes,
  .reset = sq_reset,
};
