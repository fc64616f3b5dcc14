/*
 * pg.c — the PostgreSQL backend of the store (libpq), for several facturo
 * processes sharing one database.
 *
 * Each statement is prepared once per connection (PQprepare, named
 * "f<id>", parameter types inferred by the server) and run with
 * PQexecPrepared; the whole result is fetched and then handed out row by
 * row.  Integers travel as text, byte strings as binary parameters and
 * come back in bytea's hex text form (PQunescapeBytea).  SQLSTATE 40001
 * (serialization_failure) and 40P01 (deadlock_detected) are soft errors,
 * 23505 (unique_violation) is BK_DUP.  Transactions run at READ COMMITTED;
 * the SQL in store.c is written so that is enough (row locks through
 * UPDATE, ON CONFLICT DO NOTHING, FOR UPDATE SKIP LOCKED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/backend.h"
#include "util/buf.h"
#include "util/log.h"

struct bstmt
{
  struct bconn *conn;
  char name[16];
  char *val[BK_MAX_PARAMS]; /* owned copies of the parameters */
  int len[BK_MAX_PARAMS];
  int fmt[BK_MAX_PARAMS];
  int nparams; /* highest $n bound */
  PGresult *res;
  int row; /* next row to hand out; -1 before exec */
  int64_t changes;
  unsigned char *blobs[8]; /* unescaped bytea of the current row */
  int nblobs;
};

struct bconn
{
  PGconn *pg;
  struct bstmt *cache[BK_NSLOTS];
};

static int
map_res (struct bconn *c, PGresult *r)
{
  const char *state = r ? PQresultErrorField (r, PG_DIAG_SQLSTATE) : NULL;
  if (state && (strcmp (state, "40001") == 0 || strcmp (state, "40P01") == 0))
    return BK_SOFT;
  if (state && strcmp (state, "23505") == 0)
    return BK_DUP;
  log_error ("postgres: %s (%s)",
             r ? PQresultErrorMessage (r) : PQerrorMessage (c->pg),
             state ? state : "no sqlstate");
  return BK_HARD;
}

static void
notice_quiet (void *arg, const char *msg)
{
  (void)arg;
  (void)msg;
}

static struct bconn *
pg_connect (const char *target, int busy_ms, struct ferr *err)
{
  (void)busy_ms;
  PGconn *pg = PQconnectdb (target);
  if (pg == NULL || PQstatus (pg) != CONNECTION_OK)
    {
      char msg[256];
      snprintf (msg, sizeof msg, "%s",
                pg ? PQerrorMessage (pg) : "out of memory");
      msg[strcspn (msg, "\n")] = '\0';
      ferr_set (err, "store_open", "db", "cannot connect to PostgreSQL: %s",
                "no se puede conectar a PostgreSQL: %s", msg);
      PQfinish (pg);
      return NULL;
    }
  PQsetNoticeProcessor (pg, notice_quiet, NULL);
  PGresult *r = PQexec (pg, "SET client_min_messages = warning;"
                            " SET TIME ZONE 'UTC'");
  PQclear (r);
  struct bconn *c = xcalloc (1, sizeof *c);
  c->pg = pg;
  return c;
}

static void
clear_row (struct bstmt *s)
{
  for (int i = 0; i < s->nblobs; i++)
    PQfreemem (s->blobs[i]);
  s->nblobs = 0;
}

static void
pg_reset (struct bstmt *s)
{
  clear_row (s);
  if (s->res)
    PQclear (s->res);
  s->res = NULL;
  s->row = -1;
  for (int i = 0; i < BK_MAX_PARAMS; i++)
    {
      free (s->val[i]);
      s->val[i] = NULL;
      s->len[i] = 0;
      s->fmt[i] = 0;
    }
  s->nparams = 0;
}

static void
pg_disconnect (struct bconn *c)
{
  if (c == NULL)
    return;
  for (int i = 0; i < BK_NSLOTS; i++)
    if (c->cache[i])
      {
        pg_reset (c->cache[i]);
        free (c->cache[i]);
      }
  PQfinish (c->pg);
  free (c);
}

static int
pg_healthy (struct bconn *c)
{
  return c != NULL && PQstatus (c->pg) == CONNECTION_OK
         && PQtransactionStatus (c->pg) != PQTRANS_UNKNOWN;
}

static int
pg_exec (struct bconn *c, const char *sql)
{
  PGresult *r = PQexec (c->pg, sql);
  ExecStatusType st = r ? PQresultStatus (r) : PGRES_FATAL_ERROR;
  int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? BK_DONE
                                                             : map_res (c, r);
  PQclear (r);
  return rc;
}

static struct bstmt *
pg_prepare (struct bconn *c, int id, const char *sql)
{
  if (id < 0 || id >= BK_NSLOTS)
    return NULL;
  struct bstmt *s = c->cache[id];
  if (s)
    {
      pg_reset (s);
      return s;
    }
  s = xcalloc (1, sizeof *s);
  snprintf (s->name, sizeof s->name, "f%d", id);
  PGresult *r = PQprepare (c->pg, s->name, sql, 0, NULL);
  if (r == NULL || PQresultStatus (r) != PGRES_COMMAND_OK)
    {
      log_error ("postgres: prepare %d: %s", id,
                 r ? PQresultErrorMessage (r) : PQerrorMessage (c->pg));
      PQclear (r);
      free (s);
      return NULL;
    }
  PQclear (r);
  s->conn = c;
  s->row = -1;
  c->cache[id] = s;
  return s;
}

static void
set_param (struct bstmt *s, int n, char *val, int len, int fmt)
{
  if (n <= 0 || n > BK_MAX_PARAMS)
    {
      free (val);
      return;
    }
  free (s->val[n - 1]);
  s->val[n - 1] = val;
  s->len[n - 1] = len;
  s->fmt[n - 1] = fmt;
  if (n > s->nparams)
    s->nparams = n;
}

static void
pg_bind_i64 (struct bstmt *s, int n, int64_t v)
{
  char tmp[24];
  snprintf (tmp, sizeof tmp, "%lld", (long long)v);
  set_param (s, n, xstrdup (tmp), 0, 0);
}

static void
pg_bind_text (struct bstmt *s, int n, const char *v)
{
  set_param (s, n, v ? xstrdup (v) : NULL, 0, 0);
}

static void
pg_bind_blob (struct bstmt *s, int n, const void *p, size_t len)
{
  if (p == NULL)
    {
      set_param (s, n, NULL, 0, 0);
      return;
    }
  char *copy = xmalloc (len ? len : 1);
  memcpy (copy, p, len);
  set_param (s, n, copy, (int)len, 1);
}

static int
pg_step (struct bstmt *s)
{
  clear_row (s);
  if (s->row < 0)
    {
      s->res = PQexecPrepared (s->conn->pg, s->name, s->nparams,
                               (const char *const *)s->val, s->len, s->fmt, 0);
      ExecStatusType st = s->res ? PQresultStatus (s->res) : PGRES_FATAL_ERROR;
      if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        {
          int rc = map_res (s->conn, s->res);
          PQclear (s->res);
          s->res = NULL;
          s->row = -1;
          return rc;
        }
      const char *ct = PQcmdTuples (s->res);
      s->changes = (ct && *ct) ? strtoll (ct, NULL, 10) : 0;
      s->row = 0;
    }
  else
    s->row++;
  if (s->row < PQntuples (s->res))
    return BK_ROW;
  return BK_DONE;
}

static int
pg_is_null (struct bstmt *s, int col)
{
  return PQgetisnull (s->res, s->row, col);
}

static int64_t
pg_col_i64 (struct bstmt *s, int col)
{
  if (PQgetisnull (s->res, s->row, col))
    return 0;
  return strtoll (PQgetvalue (s->res, s->row, col), NULL, 10);
}

static const char *
pg_col_text (struct bstmt *s, int col)
{
  return PQgetvalue (s->res, s->row, col);
}

static const void *
pg_col_blob (struct bstmt *s, int col, size_t *len)
{
  *len = 0;
  if (PQgetisnull (s->res, s->row, col) || s->nblobs >= 8)
    return NULL;
  unsigned char *p = PQunescapeBytea (
      (const unsigned char *)PQgetvalue (s->res, s->row, col), len);
  if (p)
    s->blobs[s->nblobs++] = p;
  return p;
}

static int64_t
pg_changes (struct bstmt *s)
{
  return s->changes;
}

const struct backend store_pg_backend = {
  .dialect = STORE_PG,
  .connect = pg_connect,
  .disconnect = pg_disconnect,
  .healthy = pg_healthy,
  .exec = pg_exec,
  .prepare = pg_prepare,
  .bind_i64 = pg_bind_i64,
  .bind_text = pg_bind_text,
  .bind_blob = pg_bind_blob,
  .step = pg_step,
  .is_null = pg_is_null,
  .col_i64 = pg_col_i64,
  .col_text = pg_col_text,
  .col_blob = pg_col_blob,
  .changes = pg_changes,
  .reset = pg_reset,
};
