/*
 * store.c — the storage interface of store.h: pooling, transactions with
 * soft-error retries, migrations, the master key, and every entity's SQL.
 *
 * SQL is written once, in $1…$n form that both SQLite and PostgreSQL
 * accept; the few statements that must differ (the id sequence, FOR
 * UPDATE SKIP LOCKED) carry both versions side by side (Q2).  Each call
 * site gets its own statement slot through __COUNTER__, prepared lazily
 * and cached per connection by the backend (backend.h).  No SQL is ever
 * built from input text: every value is a bound parameter.
 *
 * Workload: many short transactions from a libmicrohttpd thread pool plus
 * a few workers.  A transaction borrows one pooled connection for its
 * whole length; the pool blocks when all connections are busy.  The
 * current transaction of a thread is kept in a thread-local frame stack,
 * so store_* calls made inside store_tx's function join it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "store/backend.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"

struct store_migration
{
  int version;
  const char *name;
  const char *sql;
};
extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

#define POOL_MAX 64
#define MAX_RETRIES 3
#define LIST_MAX 500
#define LIST_DEFAULT 50

struct store
{
  const struct backend *bk;
  char *target; /* SQLite path or libpq conninfo */
  int busy_ms;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct bconn *idle[POOL_MAX];
  int n_idle;
  int n_open;
  int pool_max;
  char key_path[4096]; /* master key file */
  unsigned char mkey[crypto_secretbox_KEYBYTES];
  bool have_mkey;
  /* fault injection (tests) */
  int fault_countdown;
  enum store_status fault_status;
  uint64_t retries;
};

/* ================================================================== */
/* Pool and thread-local transaction frames                            */
/* ================================================================== */

struct frame
{
  struct store *s;
  struct bconn *c;
  bool poisoned; /* a statement failed (PostgreSQL aborts) */
  struct frame *prev;
};
static __thread struct frame *tls_top;

static struct frame *
frame_find (struct store *s)
{
  for (struct frame *f = tls_top; f; f = f->prev)
    if (f->s == s)
      return f;
  return NULL;
}

static struct bconn *
pool_get (struct store *s)
{
  pthread_mutex_lock (&s->mu);
  while (s->n_idle == 0 && s->n_open >= s->pool_max)
    pthread_cond_wait (&s->cv, &s->mu);
  if (s->n_idle > 0)
    {
      struct bconn *c = s->idle[--s->n_idle];
      pthread_mutex_unlock (&s->mu);
      return c;
    }
  s->n_open++;
  pthread_mutex_unlock (&s->mu);
  struct ferr err;
  struct bconn *c = s->bk->connect (s->target, s->busy_ms, &err);
  if (c == NULL)
    {
      log_error ("store: %s", err.message);
      pthread_mutex_lock (&s->mu);
      s->n_open--;
      pthread_cond_signal (&s->cv);
      pthread_mutex_unlock (&s->mu);
    }
  return c;
}

static void
pool_put (struct store *s, struct bconn *c)
{
  if (c == NULL)
    return;
  bool keep = s->bk->healthy (c);
  if (!keep)
    s->bk->disconnect (c);
  pthread_mutex_lock (&s->mu);
  if (keep)
    s->idle[s->n_idle++] = c;
  else
    s->n_open--;
  pthread_cond_signal (&s->cv);
  pthread_mutex_unlock (&s->mu);
}

/* ================================================================== */
/* Opening                                                             */
/* ================================================================== */

static long
url_opt (const char *q, const char *name, long dflt)
{
  size_t n = strlen (name);
  for (const char *p = q; p && *p;)
    {
      if (strncmp (p, name, n) == 0 && p[n] == '=')
        return strtol (p + n + 1, NULL, 10);
      p = strchr (p, '&');
      if (p)
        p++;
    }
  return dflt;
}

struct store *
store_open (const char *url, struct ferr *err)
{
  if (sodium_init () < 0)
    {
      ferr_set (err, "store_open", "", "libsodium failed to initialise",
                "libsodium no pudo iniciarse");
      return NULL;
    }
  if (url == NULL || *url == '\0')
    url = "sqlite:facturo.db";
  struct store *s = xcalloc (1, sizeof *s);
  pthread_mutex_init (&s->mu, NULL);
  pthread_cond_init (&s->cv, NULL);
  char *u = xstrdup (url);
  const char *ours = NULL; /* our options: pool, busy_ms */
  if (strncmp (u, "postgres://", 11) == 0
      || strncmp (u, "postgresql://", 13) == 0)
    {
      s->bk = &store_pg_backend;
      /* Take our options out of the query; hand the rest to libpq. */
      struct buf b = BUF_INIT;
      char *q = strchr (u, '?');
      if (q)
        {
          *q++ = '\0';
          ours = q;
        }
      buf_puts (&b, u);
      bool first = true;
      for (char *p = q; p && *p;)
        {
          char *amp = strchr (p, '&');
          size_t len = amp ? (size_t)(amp - p) : strlen (p);
          if (strncmp (p, "pool=", 5) != 0 && strncmp (p, "busy_ms=", 8) != 0)
            {
              buf_putc (&b, first ? '?' : '&');
              buf_append (&b, p, len);
              first = false;
            }
          p = amp ? amp + 1 : NULL;
        }
      s->target = buf_steal (&b);
      const char *kf = getenv ("FACTURO_SECRET_KEY_FILE");
      snprintf (s->key_path, sizeof s->key_path, "%s",
                kf && *kf ? kf : "facturo.secret");
    }
  else
    {
      s->bk = &store_sqlite_backend;
      char *path = u;
      if (strncmp (path, "sqlite:", 7) == 0)
        path += 7;
      if (strncmp (path, "//", 2) == 0)
        path += 2;
      char *q = strchr (path, '?');
      if (q)
        {
          *q++ = '\0';
          ours = q;
        }
      if (*path == '\0')
        path = "facturo.db";
      s->target = xstrdup (path);
      const char *kf = getenv ("FACTURO_SECRET_KEY_FILE");
      snprintf (s->key_path, sizeof s->key_path, "%s%s", kf && *kf ? kf : path,
                kf && *kf ? "" : ".secret");
    }
  s->pool_max = (int)url_opt (ours, "pool", 8);
  if (s->pool_max < 1 || s->pool_max > POOL_MAX)
    s->pool_max = s->pool_max < 1 ? 1 : POOL_MAX;
  s->busy_ms = (int)url_opt (ours, "busy_ms", 5000);
  free (u);

  struct bconn *c = s->bk->connect (s->target, s->busy_ms, err);
  if (c == NULL)
    {
      store_close (s);
      return NULL;
    }
  s->n_open = 1;
  s->idle[s->n_idle++] = c;
  return s;
}

void
store_close (struct store *s)
{
  if (s == NULL)
    return;
  for (int i = 0; i < s->n_idle; i++)
    s->bk->disconnect (s->idle[i]);
  sodium_memzero (s->mkey, sizeof s->mkey);
  pthread_mutex_destroy (&s->mu);
  pthread_cond_destroy (&s->cv);
  free (s->target);
  free (s);
}

enum store_dialect
store_dialect (const struct store *s)
{
  return s->bk->dialect;
}

void
store_fault_inject (struct store *s, int nth, enum store_status status)
{
  pthread_mutex_lock (&s->mu);
  s->fault_countdown = nth;
  s->fault_status = status;
  pthread_mutex_unlock (&s->mu);
}

uint64_t
store_retries (const struct store *s)
{
  return __atomic_load_n (&s->retries, __ATOMIC_RELAXED);
}

const char *
store_master_key_path (const struct store *s)
{
  return s->key_path;
}

void
store_set_master_key_path (struct store *s, const char *path)
{
  if (path == NULL || *path == '\0')
    return;
  pthread_mutex_lock (&s->mu);
  snprintf (s->key_path, sizeof s->key_path, "%s", path);
  s->have_mkey = false;
  sodium_memzero (s->mkey, sizeof s->mkey);
  pthread_mutex_unlock (&s->mu);
}

/* ================================================================== */
/* Transactions                                                        */
/* ================================================================== */

/* One attempt loop around a body: for (RUN) { body }.  The body sets st
 * and must not return or break. */
struct run
{
  struct store *s;
  struct frame f;
  int state; /* 0 before the first attempt, 1 inside */
  int attempt;
  bool nested;
  int mode; /* RUN_AUTO, RUN_WRITE or RUN_READ */
};

/* RUN_AUTO: a single statement, no BEGIN/COMMIT (one round trip on
 * PostgreSQL); RUN_WRITE: BEGIN (IMMEDIATE on SQLite); RUN_READ: BEGIN
 * (DEFERRED on SQLite).  false/true in RUN() mean AUTO/WRITE. */
enum
{
  RUN_AUTO = 0,
  RUN_WRITE = 1,
  RUN_READ = 2
};

static int
tx_begin (struct run *r)
{
  const char *sql = "BEGIN";
  if (r->s->bk->dialect == STORE_SQLITE && r->mode == RUN_WRITE)
    sql = "BEGIN IMMEDIATE";
  r->f.poisoned = false;
  if (r->mode == RUN_AUTO)
    return BK_DONE;
  return r->s->bk->exec (r->f.c, sql);
}

static void
backoff (int attempt)
{
  struct timespec ts
      = { 0, (long)(1 + randombytes_uniform (5u << attempt)) * 1000000L };
  nanosleep (&ts, NULL);
}

/* If r's connection is broken, replaces it with a fresh one (counting an
 * attempt) and returns true; false if it is healthy or none can be had
 * (then r->f.c is NULL). */
static bool
reconnect (struct run *r)
{
  if (r->f.c == NULL || r->s->bk->healthy (r->f.c))
    return false;
  log_warn ("store: database connection lost; reconnecting");
  pool_put (r->s, r->f.c); /* drops it */
  r->f.c = pool_get (r->s);
  r->attempt++;
  __atomic_add_fetch (&r->s->retries, 1, __ATOMIC_RELAXED);
  return r->f.c != NULL;
}

/* Starts an attempt (state 0) or finishes one and decides whether to try
 * again.  Returns true when the body should run. */
static bool
run_next (struct run *r, enum store_status *st)
{
  struct store *s = r->s;
  if (r->state == 0)
    {
      r->state = 1;
      struct frame *f = frame_find (s);
      if (f)
        {
          r->nested = true;
          r->f.c = f->c;
          return true;
        }
      r->f.s = s;
      r->f.c = pool_get (s);
      if (r->f.c == NULL)
        {
          *st = STORE_HARD;
          return false;
        }
      for (;;)
        {
          int rc = tx_begin (r);
          if (rc == BK_DONE)
            break;
          if (rc == BK_HARD && r->attempt < MAX_RETRIES && reconnect (r))
            continue; /* a pooled connection had died (server restart) */
          if (rc == BK_SOFT && r->attempt < MAX_RETRIES)
            {
              r->attempt++;
              __atomic_add_fetch (&s->retries, 1, __ATOMIC_RELAXED);
              backoff (r->attempt);
              continue;
            }
          *st = rc == BK_SOFT ? STORE_SOFT : STORE_HARD;
          pool_put (s, r->f.c);
          return false;
        }
      r->f.prev = tls_top;
      tls_top = &r->f;
      return true;
    }
  if (r->nested)
    {
      struct frame *f = frame_find (s);
      if (f && r->f.poisoned)
        f->poisoned = true;
      return false;
    }
  for (;;)
    {
      /* The connection died inside the body: nothing can have been
       * committed, so the whole transaction runs again on a new one. */
      if (*st == STORE_HARD && r->attempt < MAX_RETRIES && reconnect (r))
        {
          int rc = tx_begin (r);
          if (rc == BK_DONE)
            return true;
          *st = rc == BK_SOFT ? STORE_SOFT : STORE_HARD;
          continue;
        }
      if (r->f.c == NULL)
        {
          *st = STORE_HARD; /* no connection to be had */
          break;
        }
      if (r->mode == RUN_AUTO)
        ; /* nothing to commit or roll back */
      else if (*st >= 0 && !(r->f.poisoned && s->bk->dialect == STORE_PG))
        {
          int rc = s->bk->exec (r->f.c, "COMMIT");
          if (rc != BK_DONE)
            {
              s->bk->exec (r->f.c, "ROLLBACK");
              *st = rc == BK_SOFT ? STORE_SOFT : STORE_HARD;
            }
        }
      else
        {
          s->bk->exec (r->f.c, "ROLLBACK");
          if (*st >= STORE_ONE)
            *st = STORE_HARD; /* claimed success in an aborted transaction */
        }
      if (*st == STORE_SOFT && r->attempt < MAX_RETRIES)
        {
          r->attempt++;
          __atomic_add_fetch (&s->retries, 1, __ATOMIC_RELAXED);
          backoff (r->attempt);
          int rc = tx_begin (r);
          if (rc == BK_DONE)
            return true;
          *st = rc == BK_SOFT ? STORE_SOFT : STORE_HARD;
          if (rc == BK_SOFT)
            continue; /* counts as a failed attempt */
        }
      break;
    }
  tls_top = r->f.prev;
  pool_put (s, r->f.c);
  return false;
}

#define RUN(s_, r_, st_, mode_)                                               \
  for (struct run r_ = { .s = (s_), .mode = (mode_) }; run_next (&r_, &(st_));)

static enum store_status
tx_common (struct store *s, store_tx_fn fn, void *arg, int mode)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, mode) { st = fn (s, arg); }
  return st;
}

enum store_status
store_tx (struct store *s, store_tx_fn fn, void *arg)
{
  return tx_common (s, fn, arg, RUN_WRITE);
}

enum store_status
store_tx_read (struct store *s, store_tx_fn fn, void *arg)
{
  return tx_common (s, fn, arg, RUN_READ);
}

/* ================================================================== */
/* Statements                                                          */
/* ================================================================== */

struct q
{
  struct run *r;
  const struct backend *bk;
  struct bstmt *st;
  bool started; /* first step done (fault injection counts executions) */
};

static bool
q_open (struct q *q, struct run *r, int id, const char *sql_lite,
        const char *sql_pg)
{
  q->r = r;
  q->bk = r->s->bk;
  q->started = false;
  const char *sql = (q->bk->dialect == STORE_PG && sql_pg) ? sql_pg : sql_lite;
  q->st = q->bk->prepare (r->f.c, id, sql);
  if (q->st == NULL)
    r->f.poisoned = true;
  return q->st != NULL;
}

/* Q: one SQL for both dialects.  Q2: SQLite's, then PostgreSQL's. */
#define Q(q_, r_, sql_) q_open ((q_), (r_), __COUNTER__, (sql_), NULL)
#define Q2(q_, r_, lite_, pg_) q_open ((q_), (r_), __COUNTER__, (lite_), (pg_))

static void
qi (struct q *q, int n, int64_t v)
{
  q->bk->bind_i64 (q->st, n, v);
}

static void
qt (struct q *q, int n, const char *v)
{
  q->bk->bind_text (q->st, n, v);
}

static void
qb (struct q *q, int n, const void *p, size_t len)
{
  q->bk->bind_blob (q->st, n, p, len);
}

static int
qstep (struct q *q)
{
  struct store *s = q->r->s;
  bool first = !q->started;
  q->started = true;
  if (first && __atomic_load_n (&s->fault_countdown, __ATOMIC_RELAXED) > 0)
    {
      pthread_mutex_lock (&s->mu);
      int hit = s->fault_countdown > 0 && --s->fault_countdown == 0;
      enum store_status fst = s->fault_status;
      pthread_mutex_unlock (&s->mu);
      if (hit)
        {
          q->bk->reset (q->st);
          return fst == STORE_SOFT ? BK_SOFT : BK_HARD;
        }
    }
  int rc = q->bk->step (q->st);
  if (rc < 0)
    q->r->f.poisoned = true;
  return rc;
}

static enum store_status
err_status (int rc)
{
  if (rc == BK_SOFT)
    return STORE_SOFT;
  if (rc == BK_DUP)
    return STORE_NONE;
  return STORE_HARD;
}

static int64_t
ci (struct q *q, int col)
{
  return q->bk->col_i64 (q->st, col);
}

static const char *
ct (struct q *q, int col)
{
  return q->bk->col_text (q->st, col);
}

static void
ccpy (struct q *q, int col, char *dst, size_t cap)
{
  snprintf (dst, cap, "%s", ct (q, col));
}

static char *
cdup (struct q *q, int col)
{
  if (q->bk->is_null (q->st, col))
    return NULL;
  return xstrdup (ct (q, col));
}

static unsigned char *
cblob (struct q *q, int col, size_t *len)
{
  *len = 0;
  if (q->bk->is_null (q->st, col))
    return NULL;
  const void *p = q->bk->col_blob (q->st, col, len);
  unsigned char *d = xmalloc (*len ? *len : 1);
  if (*len)
    memcpy (d, p, *len);
  return d;
}

/* Runs a statement that returns no rows: STORE_ONE if it changed rows,
 * STORE_NONE if not (or on a unique violation). */
static enum store_status
q_exec (struct q *q)
{
  int rc;
  while ((rc = qstep (q)) == BK_ROW)
    ;
  enum store_status st;
  if (rc == BK_DONE)
    st = q->bk->changes (q->st) > 0 ? STORE_ONE : STORE_NONE;
  else
    st = err_status (rc);
  q->bk->reset (q->st);
  return st;
}

typedef void (*reader_fn) (struct q *q, void *out);

/* Reads at most one row through rd. */
static enum store_status
q_one (struct q *q, reader_fn rd, void *out)
{
  int rc = qstep (q);
  enum store_status st;
  if (rc == BK_ROW)
    {
      if (rd)
        rd (q, out);
      st = STORE_ONE;
    }
  else if (rc == BK_DONE)
    st = STORE_NONE;
  else
    st = err_status (rc) == STORE_NONE ? STORE_HARD : err_status (rc);
  q->bk->reset (q->st);
  return st;
}

/* Reads every row into a new array of elements of size sz (zeroed before
 * rd fills each).  On error frees nothing the readers allocated: callers
 * pass a cleaner. */
static enum store_status
q_list (struct q *q, reader_fn rd, size_t sz, void **out, size_t *n,
        void (*clean) (void *))
{
  size_t cap = 0, cnt = 0;
  char *a = NULL;
  int rc;
  while ((rc = qstep (q)) == BK_ROW)
    {
      if (cnt == cap)
        {
          cap = cap ? cap * 2 : 8;
          a = xrealloc (a, cap * sz);
        }
      memset (a + cnt * sz, 0, sz);
      rd (q, a + cnt * sz);
      cnt++;
    }
  q->bk->reset (q->st);
  if (rc != BK_DONE)
    {
      for (size_t i = 0; clean && i < cnt; i++)
        clean (a + i * sz);
      free (a);
      *out = NULL;
      *n = 0;
      return err_status (rc) == STORE_NONE ? STORE_HARD : err_status (rc);
    }
  *out = a;
  *n = cnt;
  return cnt ? STORE_ONE : STORE_NONE;
}

static int
clamp_limit (int limit)
{
  if (limit <= 0)
    return LIST_DEFAULT;
  return limit > LIST_MAX ? LIST_MAX : limit;
}

static int64_t
now_s (void)
{
  return (int64_t)time (NULL);
}

static void
hex (const unsigned char *p, size_t n, char *out)
{
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    {
      out[2 * i] = d[p[i] >> 4];
      out[2 * i + 1] = d[p[i] & 15];
    }
  out[2 * n] = '\0';
}

static void
sha256_hex (const void *p, size_t n, char out[65])
{
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256 (h, p, n);
  hex (h, sizeof h, out);
}

/* ================================================================== */
/* Ids                                                                 */
/* ================================================================== */

static enum store_status
next_id (struct run *r, int64_t *id)
{
  struct q q;
  if (!Q2 (&q, r,
           "UPDATE facturo_ids SET value = value + 1 WHERE one = 1"
           " RETURNING value",
           "SELECT nextval('facturo_ids')"))
    return STORE_HARD;
  int rc = qstep (&q);
  enum store_status st = STORE_HARD;
  if (rc == BK_ROW)
    {
      *id = ci (&q, 0);
      st = STORE_ONE;
      while (qstep (&q) == BK_ROW)
        ;
    }
  else if (rc == BK_SOFT)
    st = STORE_SOFT;
  q.bk->reset (q.st);
  return st;
}

enum store_status
store_next_id (struct store *s, int64_t *id)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true) { st = next_id (&r, id); }
  return st;
}

/* ================================================================== */
/* Migrations                                                          */
/* ================================================================== */

/* Keeps the parts of a migration meant for this dialect ("-- @sqlite",
 * "-- @pg", "-- @both" switch lines). */
static char *
dialect_filter (const char *sql, enum store_dialect d)
{
  struct buf b = BUF_INIT;
  bool on = true;
  const char *p = sql;
  while (*p)
    {
      const char *nl = strchr (p, '\n');
      size_t len = nl ? (size_t)(nl - p) : strlen (p);
      if (strncmp (p, "-- @sqlite", 10) == 0)
        on = d == STORE_SQLITE;
      else if (strncmp (p, "-- @pg", 6) == 0)
        on = d == STORE_PG;
      else if (strncmp (p, "-- @both", 8) == 0)
        on = true;
      else if (on)
        {
          buf_append (&b, p, len);
          buf_putc (&b, '\n');
        }
      p += len + (nl ? 1 : 0);
    }
  return buf_steal (&b);
}

static enum store_status
schema_version (struct run *r, int *v)
{
  struct q q;
  if (!Q (&q, r, "SELECT COALESCE(MAX(version), 0) FROM schema_version"))
    return STORE_HARD;
  int rc = qstep (&q);
  enum store_status st = rc == BK_ROW ? STORE_ONE : err_status (rc);
  if (rc == BK_ROW)
    *v = (int)ci (&q, 0);
  q.bk->reset (q.st);
  return st == STORE_NONE ? STORE_HARD : st;
}

int
store_schema_version (struct store *s)
{
  enum store_status st = STORE_HARD;
  int v = -1;
  RUN (s, r, st, false) { st = schema_version (&r, &v); }
  return st == STORE_ONE ? v : -1;
}

static enum store_status
migrate_one (struct run *r, const struct store_migration *m, int *applied)
{
  int v = 0;
  enum store_status st = schema_version (r, &v);
  if (st < 0)
    return st;
  if (v >= m->version)
    return STORE_NONE; /* another process applied it meanwhile */
  char *sql = dialect_filter (m->sql, r->s->bk->dialect);
  int rc = r->s->bk->exec (r->f.c, sql);
  free (sql);
  if (rc != BK_DONE)
    {
      r->f.poisoned = true;
      log_error ("store: migration %s failed", m->name);
      return rc == BK_SOFT ? STORE_SOFT : STORE_HARD;
    }
  struct q q;
  if (!Q (&q, r,
          "INSERT INTO schema_version (version, name, applied_at)"
          " VALUES ($1, $2, $3)"))
    return STORE_HARD;
  qi (&q, 1, m->version);
  qt (&q, 2, m->name);
  qi (&q, 3, now_s ());
  st = q_exec (&q);
  if (st == STORE_ONE)
    (*applied)++;
  return st;
}

enum store_status
store_migrate (struct store *s, int *applied)
{
  int n = 0;
  enum store_status st = STORE_HARD;
  /* schema_version itself is created outside the numbered migrations;
   * on PostgreSQL an advisory lock serialises concurrent migrators. */
  RUN (s, r, st, true)
  {
    if (s->bk->dialect == STORE_PG)
      s->bk->exec (r.f.c, "SELECT pg_advisory_xact_lock(4242424242)");
    int rc = s->bk->exec (r.f.c,
                          "CREATE TABLE IF NOT EXISTS schema_version ("
                          " version INTEGER NOT NULL PRIMARY KEY,"
                          " name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
    st = rc == BK_DONE ? STORE_ONE : (rc == BK_SOFT ? STORE_SOFT : STORE_HARD);
    if (rc != BK_DONE)
      r.f.poisoned = true;
  }
  if (st < 0)
    return st;
  for (size_t i = 0; i < store_migrations_count; i++)
    {
      const struct store_migration *m = &store_migrations[i];
      RUN (s, r, st, true)
      {
        if (s->bk->dialect == STORE_PG)
          s->bk->exec (r.f.c, "SELECT pg_advisory_xact_lock(4242424242)");
        st = migrate_one (&r, m, &n);
      }
      if (st < 0)
        return st;
    }
  if (applied)
    *applied = n;
  return STORE_ONE;
}

/* ================================================================== */
/* Master key and CSD encryption                                       */
/* ================================================================== */

static bool
unhex (const char *s, unsigned char *out, size_t n)
{
  size_t bin_len = 0;
  if (strlen (s) < 2 * n)
    return false;
  return sodium_hex2bin (out, n, s, 2 * n, NULL, &bin_len, NULL) == 0
         && bin_len == n;
}

/* Loads (or, with create, makes) the master key.  Caller holds s->mu. */
static bool
master_key (struct store *s, bool create)
{
  if (s->have_mkey)
    return true;
  const char *env = getenv ("FACTURO_SECRET_KEY");
  if (env && *env)
    {
      if (strlen (env) != 2 * crypto_secretbox_KEYBYTES
          || !unhex (env, s->mkey, sizeof s->mkey))
        {
          log_error ("store: FACTURO_SECRET_KEY must be %d hex digits",
                     2 * crypto_secretbox_KEYBYTES);
          return false;
        }
      s->have_mkey = true;
      return true;
    }
  char text[2 * crypto_secretbox_KEYBYTES + 2];
  int fd = open (s->key_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && create)
    {
      crypto_secretbox_keygen (s->mkey);
      hex (s->mkey, sizeof s->mkey, text);
      text[2 * crypto_secretbox_KEYBYTES] = '\n';
      fd = open (s->key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0)
        {
          ssize_t w = write (fd, text, sizeof text - 1);
          bool ok = w == (ssize_t)sizeof text - 1 && fsync (fd) == 0;
          close (fd);
          sodium_memzero (text, sizeof text);
          if (!ok)
            {
              log_error ("store: cannot write master key file %s",
                         s->key_path);
              unlink (s->key_path);
              return false;
            }
          log_info ("store: created master key file %s (mode 0600)",
                    s->key_path);
          s->have_mkey = true;
          return true;
        }
      if (errno != EEXIST)
        {
          log_error ("store: cannot create master key file %s: %s",
                     s->key_path, strerror (errno));
          return false;
        }
      fd = open (s->key_path, O_RDONLY | O_CLOEXEC); /* lost a race */
    }
  if (fd < 0)
    {
      log_error ("store: no master key: set FACTURO_SECRET_KEY or provide %s",
                 s->key_path);
      return false;
    }
  struct stat sb;
  if (fstat (fd, &sb) == 0 && (sb.st_mode & 077))
    {
      close (fd);
      log_error ("store: master key file %s is readable by others; chmod 600",
                 s->key_path);
      return false;
    }
  ssize_t got = read (fd, text, sizeof text - 1);
  close (fd);
  bool ok = got >= 2 * crypto_secretbox_KEYBYTES;
  if (ok)
    {
      text[got] = '\0';
      ok = unhex (text, s->mkey, sizeof s->mkey);
    }
  sodium_memzero (text, sizeof text);
  if (!ok)
    {
      log_error ("store: master key file %s is malformed", s->key_path);
      return false;
    }
  s->have_mkey = true;
  return true;
}

static bool
get_mkey (struct store *s, bool create,
          unsigned char out[crypto_secretbox_KEYBYTES])
{
  pthread_mutex_lock (&s->mu);
  bool ok = master_key (s, create);
  if (ok)
    memcpy (out, s->mkey, crypto_secretbox_KEYBYTES);
  pthread_mutex_unlock (&s->mu);
  return ok;
}

/* nonce || secretbox(msg); *len set.  Caller frees. */
static unsigned char *
seal_box (const unsigned char *key, const void *msg, size_t n, size_t *len)
{
  *len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
  unsigned char *out = xmalloc (*len);
  randombytes_buf (out, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy (out + crypto_secretbox_NONCEBYTES, msg, n, out, key);
  return out;
}

/* Opens a box; NULL if it does not authenticate.  One extra NUL byte is
 * allocated after the message. */
static unsigned char *
open_box (const unsigned char *key, const unsigned char *box, size_t len,
          size_t *n)
{
  if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
    return NULL;
  *n = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
  unsigned char *out = xmalloc (*n + 1);
  if (crypto_secretbox_open_easy (out, box + crypto_secretbox_NONCEBYTES,
                                  len - crypto_secretbox_NONCEBYTES, box, key)
      != 0)
    {
      free (out);
      return NULL;
    }
  out[*n] = '\0';
  return out;
}

void
store_csd_clear (struct store_csd *c)
{
  if (c == NULL)
    return;
  free (c->cer);
  if (c->key)
    {
      sodium_memzero (c->key, c->key_len);
      free (c->key);
    }
  if (c->password)
    {
      sodium_memzero (c->password, strlen (c->password));
      free (c->password);
    }
  memset (c, 0, sizeof *c);
}

enum store_status
store_tenant_csd_set (struct store *s, int64_t tenant_id,
                      const struct store_csd *csd)
{
  unsigned char key[crypto_secretbox_KEYBYTES];
  if (csd == NULL || csd->cer == NULL || csd->key == NULL
      || csd->password == NULL || !get_mkey (s, true, key))
    return STORE_HARD;
  size_t kl, pl;
  unsigned char *kbox = seal_box (key, csd->key, csd->key_len, &kl);
  unsigned char *pbox
      = seal_box (key, csd->password, strlen (csd->password), &pl);
  sodium_memzero (key, sizeof key);
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE tenants SET csd_cer = $2, csd_key_box = $3, csd_pw_box = "
           "$4,"
           " csd_serial = $5, csd_not_after = $6 WHERE id = $1"))
      {
        qi (&q, 1, tenant_id);
        qb (&q, 2, csd->cer, csd->cer_len);
        qb (&q, 3, kbox, kl);
        qb (&q, 4, pbox, pl);
        qt (&q, 5, csd->serial);
        qi (&q, 6, csd->not_after);
        st = q_exec (&q);
      }
  }
  free (kbox);
  free (pbox);
  return st;
}

struct csd_boxes
{
  unsigned char *cer, *kbox, *pbox;
  size_t cer_len, kl, pl;
  char serial[41];
  int64_t not_after;
};

static void
read_boxes (struct q *q, void *out)
{
  struct csd_boxes *b = out;
  b->cer = cblob (q, 0, &b->cer_len);
  b->kbox = cblob (q, 1, &b->kl);
  b->pbox = cblob (q, 2, &b->pl);
  ccpy (q, 3, b->serial, sizeof b->serial);
  b->not_after = ci (q, 4);
}

static void
boxes_clear (struct csd_boxes *b)
{
  free (b->cer);
  free (b->kbox);
  free (b->pbox);
  memset (b, 0, sizeof *b);
}

enum store_status
store_tenant_csd_get (struct store *s, int64_t tenant_id,
                      struct store_csd *out)
{
  memset (out, 0, sizeof *out);
  struct csd_boxes b = { 0 };
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    boxes_clear (&b);
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT csd_cer, csd_key_box, csd_pw_box, csd_serial, csd_not_after"
           " FROM tenants WHERE id = $1 AND csd_cer IS NOT NULL"))
      {
        qi (&q, 1, tenant_id);
        st = q_one (&q, read_boxes, &b);
      }
  }
  if (st != STORE_ONE)
    {
      boxes_clear (&b);
      return st;
    }
  unsigned char key[crypto_secretbox_KEYBYTES];
  if (!get_mkey (s, false, key))
    {
      boxes_clear (&b);
      return STORE_HARD;
    }
  size_t pn = 0;
  out->key = open_box (key, b.kbox, b.kl, &out->key_len);
  out->password = (char *)open_box (key, b.pbox, b.pl, &pn);
  sodium_memzero (key, sizeof key);
  out->cer = b.cer;
  out->cer_len = b.cer_len;
  b.cer = NULL;
  snprintf (out->serial, sizeof out->serial, "%s", b.serial);
  out->not_after = b.not_after;
  boxes_clear (&b);
  if (out->key == NULL || out->password == NULL)
    {
      log_error (
          "store: tenant %lld: CSD does not decrypt with this master key",
          (long long)tenant_id);
      store_csd_clear (out);
      return STORE_HARD;
    }
  return STORE_ONE;
}

/* ---- the merchant's SMTP password (0002-mail.sql) ---------------- */

enum store_status
store_tenant_smtp_password_set (struct store *s, int64_t tenant_id,
                                const char *password)
{
  bool clear = password == NULL || password[0] == '\0';
  unsigned char key[crypto_secretbox_KEYBYTES];
  unsigned char *box = NULL;
  size_t bl = 0;
  if (!clear)
    {
      if (!get_mkey (s, true, key))
        return STORE_HARD;
      box = seal_box (key, password, strlen (password), &bl);
      sodium_memzero (key, sizeof key);
    }
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (clear)
      {
        if (Q (&q, &r,
               "UPDATE tenants SET mail_smtp_pw_box = NULL WHERE id = $1"))
          {
            qi (&q, 1, tenant_id);
            st = q_exec (&q);
          }
      }
    else if (Q (&q, &r,
                "UPDATE tenants SET mail_smtp_pw_box = $2 WHERE id = $1"))
      {
        qi (&q, 1, tenant_id);
        qb (&q, 2, box, bl);
        st = q_exec (&q);
      }
  }
  free (box);
  return st;
}

struct pw_box
{
  unsigned char *box;
  size_t len;
};

static void
read_pw_box (struct q *q, void *out)
{
  struct pw_box *b = out;
  free (b->box);
  b->box = cblob (q, 0, &b->len);
}

enum store_status
store_tenant_smtp_password_get (struct store *s, int64_t tenant_id, char **out)
{
  *out = NULL;
  struct pw_box b = { NULL, 0 };
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT mail_smtp_pw_box FROM tenants WHERE id = $1"
           " AND mail_smtp_pw_box IS NOT NULL"))
      {
        qi (&q, 1, tenant_id);
        st = q_one (&q, read_pw_box, &b);
      }
  }
  if (st != STORE_ONE)
    {
      free (b.box);
      return st;
    }
  unsigned char key[crypto_secretbox_KEYBYTES];
  size_t n = 0;
  char *pw = NULL;
  if (get_mkey (s, false, key))
    {
      pw = (char *)open_box (key, b.box, b.len, &n);
      sodium_memzero (key, sizeof key);
    }
  free (b.box);
  if (pw == NULL)
    {
      log_error ("store: tenant %lld: SMTP password does not decrypt with"
                 " this master key",
                 (long long)tenant_id);
      return STORE_HARD;
    }
  *out = pw;
  return STORE_ONE;
}

/* ================================================================== */
/* Tenants                                                             */
/* ================================================================== */

#define TENANT_COLS                                                           \
  "id, slug, rfc, name, regime, zip, timezone, window_days, periodicity,"     \
  " series, stamp, branding, csd_serial, csd_not_after, created_at"

void
store_tenant_clear (struct store_tenant *t)
{
  if (t == NULL)
    return;
  free (t->branding);
  memset (t, 0, sizeof *t);
}

void
store_tenant_init (struct store_tenant *t)
{
  memset (t, 0, sizeof *t);
  snprintf (t->timezone, sizeof t->timezone, "%s", STORE_DEFAULT_TIMEZONE);
  t->window_days = STORE_DEFAULT_WINDOW_DAYS;
}

static void
read_tenant (struct q *q, void *out)
{
  struct store_tenant *t = out;
  memset (t, 0, sizeof *t);
  t->id = ci (q, 0);
  ccpy (q, 1, t->slug, sizeof t->slug);
  ccpy (q, 2, t->rfc, sizeof t->rfc);
  ccpy (q, 3, t->name, sizeof t->name);
  ccpy (q, 4, t->regime, sizeof t->regime);
  ccpy (q, 5, t->zip, sizeof t->zip);
  ccpy (q, 6, t->timezone, sizeof t->timezone);
  t->window_days = (int)ci (q, 7);
  ccpy (q, 8, t->periodicity, sizeof t->periodicity);
  ccpy (q, 9, t->series, sizeof t->series);
  ccpy (q, 10, t->stamp, sizeof t->stamp);
  t->branding = cdup (q, 11);
  ccpy (q, 12, t->csd_serial, sizeof t->csd_serial);
  t->csd_not_after = ci (q, 13);
  t->has_csd = t->csd_serial[0] != '\0';
  t->created_at = ci (q, 14);
}

enum store_status
store_tenant_insert (struct store *s, struct store_tenant *t)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    int64_t id = 0;
    st = next_id (&r, &id);
    if (st == STORE_ONE)
      {
        st = STORE_HARD;
        if (Q (&q, &r,
               "INSERT INTO tenants (id, slug, rfc, name, regime, zip, "
               "timezone,"
               " window_days, periodicity, series, stamp, branding, "
               "created_at)"
               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
               "$13)"
               " ON CONFLICT DO NOTHING"))
          {
            t->created_at = now_s ();
            qi (&q, 1, id);
            qt (&q, 2, t->slug);
            qt (&q, 3, t->rfc);
            qt (&q, 4, t->name);
            qt (&q, 5, t->regime);
            qt (&q, 6, t->zip);
            qt (&q, 7, t->timezone[0] ? t->timezone : STORE_DEFAULT_TIMEZONE);
            qi (&q, 8,
                t->window_days > 0 ? t->window_days
                                   : STORE_DEFAULT_WINDOW_DAYS);
            qt (&q, 9, t->periodicity);
            qt (&q, 10, t->series);
            qt (&q, 11, t->stamp);
            qt (&q, 12, t->branding);
            qi (&q, 13, t->created_at);
            st = q_exec (&q);
            if (st == STORE_ONE)
              t->id = id;
          }
      }
  }
  return st;
}

enum store_status
store_tenant_get (struct store *s, int64_t tenant_id, struct store_tenant *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r, "SELECT " TENANT_COLS " FROM tenants WHERE id = $1"))
      {
        qi (&q, 1, tenant_id);
        st = q_one (&q, read_tenant, out);
      }
  }
  return st;
}

enum store_status
store_tenant_find_slug (struct store *s, const char *slug,
                        struct store_tenant *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r, "SELECT " TENANT_COLS " FROM tenants WHERE slug = $1"))
      {
        qt (&q, 1, slug);
        st = q_one (&q, read_tenant, out);
      }
  }
  return st;
}

enum store_status
store_tenant_update (struct store *s, int64_t tenant_id,
                     const struct store_tenant *t)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE tenants SET name = $2, regime = $3, zip = $4, timezone = "
           "$5,"
           " window_days = $6, periodicity = $7, series = $8, stamp = $9,"
           " branding = $10 WHERE id = $1"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, t->name);
        qt (&q, 3, t->regime);
        qt (&q, 4, t->zip);
        qt (&q, 5, t->timezone[0] ? t->timezone : STORE_DEFAULT_TIMEZONE);
        qi (&q, 6, t->window_days);
        qt (&q, 7, t->periodicity);
        qt (&q, 8, t->series);
        qt (&q, 9, t->stamp);
        qt (&q, 10, t->branding);
        st = q_exec (&q);
      }
  }
  return st;
}

static void
clean_tenant (void *p)
{
  store_tenant_clear (p);
}

enum store_status
store_tenant_list (struct store *s, struct store_tenant **out, size_t *n)
{
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    store_tenant_list_free (*out, *n);
    if (Q (&q, &r, "SELECT " TENANT_COLS " FROM tenants ORDER BY id"))
      st = q_list (&q, read_tenant, sizeof **out, (void **)out, n,
                   clean_tenant);
  }
  return st;
}

void
store_tenant_list_free (struct store_tenant *a, size_t n)
{
  for (size_t i = 0; a && i < n; i++)
    store_tenant_clear (&a[i]);
  free (a);
}

/* ================================================================== */
/* Branches                                                            */
/* ================================================================== */

#define BRANCH_COLS "id, tenant_id, code, name, zip, created_at"

static void
read_branch (struct q *q, void *out)
{
  struct store_branch *b = out;
  memset (b, 0, sizeof *b);
  b->id = ci (q, 0);
  b->tenant_id = ci (q, 1);
  ccpy (q, 2, b->code, sizeof b->code);
  ccpy (q, 3, b->name, sizeof b->name);
  ccpy (q, 4, b->zip, sizeof b->zip);
  b->created_at = ci (q, 5);
}

enum store_status
store_branch_insert (struct store *s, int64_t tenant_id,
                     struct store_branch *b)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    int64_t id = 0;
    st = next_id (&r, &id);
    if (st == STORE_ONE)
      {
        st = STORE_HARD;
        if (Q (&q, &r,
               "INSERT INTO branches (tenant_id, id, code, name, zip, "
               "created_at)"
               " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"))
          {
            b->created_at = now_s ();
            qi (&q, 1, tenant_id);
            qi (&q, 2, id);
            qt (&q, 3, b->code);
            qt (&q, 4, b->name);
            qt (&q, 5, b->zip);
            qi (&q, 6, b->created_at);
            st = q_exec (&q);
            if (st == STORE_ONE)
              {
                b->id = id;
                b->tenant_id = tenant_id;
              }
          }
      }
  }
  return st;
}

enum store_status
store_branch_get (struct store *s, int64_t tenant_id, int64_t id,
                  struct store_branch *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " BRANCH_COLS
           " FROM branches WHERE tenant_id = $1 AND id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_one (&q, read_branch, out);
      }
  }
  return st;
}

enum store_status
store_branch_find_code (struct store *s, int64_t tenant_id, const char *code,
                        struct store_branch *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " BRANCH_COLS
           " FROM branches WHERE tenant_id = $1 AND code = $2"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, code);
        st = q_one (&q, read_branch, out);
      }
  }
  return st;
}

enum store_status
store_branch_update (struct store *s, int64_t tenant_id,
                     const struct store_branch *b)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE branches SET name = $3, zip = $4"
           " WHERE tenant_id = $1 AND id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, b->id);
        qt (&q, 3, b->name);
        qt (&q, 4, b->zip);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_branch_delete (struct store *s, int64_t tenant_id, int64_t id)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "DELETE FROM branches WHERE tenant_id = $1 AND id = $2"
           " AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.tenant_id = $1"
           " AND t.branch_id = $2)"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_branch_list (struct store *s, int64_t tenant_id,
                   struct store_branch **out, size_t *n)
{
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    free (*out);
    if (Q (&q, &r,
           "SELECT " BRANCH_COLS
           " FROM branches WHERE tenant_id = $1 ORDER BY code"))
      {
        qi (&q, 1, tenant_id);
        st = q_list (&q, read_branch, sizeof **out, (void **)out, n, NULL);
      }
  }
  return st;
}

/* ================================================================== */
/* Series                                                              */
/* ================================================================== */

static void
read_series (struct q *q, void *out)
{
  struct store_series *se = out;
  se->tenant_id = ci (q, 0);
  ccpy (q, 1, se->code, sizeof se->code);
  se->next_folio = ci (q, 2);
}

enum store_status
store_series_ensure (struct store *s, int64_t tenant_id, const char *code)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "INSERT INTO series (tenant_id, code, next_folio) VALUES ($1, $2, "
           "1)"
           " ON CONFLICT DO NOTHING"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, code);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_series_next (struct store *s, int64_t tenant_id, const char *code,
                   int64_t *folio)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    /* The UPDATE locks the row until commit (PostgreSQL) or holds the
     * write lock (SQLite): concurrent issuers queue here, and a rollback
     * returns the folio.  Hence gapless. */
    if (Q (&q, &r,
           "UPDATE series SET next_folio = next_folio + 1"
           " WHERE tenant_id = $1 AND code = $2 RETURNING next_folio - 1"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, code);
        int rc = qstep (&q);
        if (rc == BK_ROW)
          {
            *folio = ci (&q, 0);
            st = STORE_ONE;
            while (qstep (&q) == BK_ROW)
              ;
          }
        else
          st = rc == BK_DONE ? STORE_NONE : err_status (rc);
        q.bk->reset (q.st);
      }
  }
  return st;
}

enum store_status
store_series_list (struct store *s, int64_t tenant_id,
                   struct store_series **out, size_t *n)
{
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    free (*out);
    if (Q (&q, &r,
           "SELECT tenant_id, code, next_folio FROM series WHERE tenant_id = "
           "$1"
           " ORDER BY code"))
      {
        qi (&q, 1, tenant_id);
        st = q_list (&q, read_series, sizeof **out, (void **)out, n, NULL);
      }
  }
  return st;
}

/* ================================================================== */
/* Users                                                               */
/* ================================================================== */

static const char *const role_names[STORE_ROLE_COUNT]
    = { "owner", "admin", "staff", "viewer" };

const char *
store_role_name (enum store_role r)
{
  return (unsigned)r < STORE_ROLE_COUNT ? role_names[r] : "viewer";
}

int
store_role_parse (const char *name)
{
  for (int i = 0; name && i < STORE_ROLE_COUNT; i++)
    if (strcmp (name, role_names[i]) == 0)
      return i;
  return -1;
}

bool
store_password_hash (const char *password, char out[STORE_PWHASH_LEN])
{
  if (sodium_init () < 0)
    return false;
  return crypto_pwhash_str_alg (out, password, strlen (password),
                                crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                crypto_pwhash_ALG_ARGON2ID13)
         == 0;
}

bool
store_password_verify (const char *pwhash, const char *password)
{
  if (sodium_init () < 0 || pwhash == NULL || password == NULL)
    return false;
  return crypto_pwhash_str_verify (pwhash, password, strlen (password)) == 0;
}

#define USER_COLS "id, tenant_id, email, role, pwhash, disabled, created_at"

static void
read_user (struct q *q, void *out)
{
  struct store_user *u = out;
  memset (u, 0, sizeof *u);
  u->id = ci (q, 0);
  u->tenant_id = ci (q, 1);
  ccpy (q, 2, u->email, sizeof u->email);
  int role = store_role_parse (ct (q, 3));
  u->role = role < 0 ? STORE_ROLE_VIEWER : (enum store_role)role;
  ccpy (q, 4, u->pwhash, sizeof u->pwhash);
  u->disabled = ci (q, 5) != 0;
  u->created_at = ci (q, 6);
}

enum store_status
store_user_insert (struct store *s, int64_t tenant_id, struct store_user *u)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    int64_t id = 0;
    st = next_id (&r, &id);
    if (st == STORE_ONE)
      {
        st = STORE_HARD;
        if (Q (&q, &r,
               "INSERT INTO users (tenant_id, id, email, role, pwhash, "
               "disabled,"
               " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
               " ON CONFLICT DO NOTHING"))
          {
            u->created_at = now_s ();
            qi (&q, 1, tenant_id);
            qi (&q, 2, id);
            qt (&q, 3, u->email);
            qt (&q, 4, store_role_name (u->role));
            qt (&q, 5, u->pwhash);
            qi (&q, 6, u->disabled);
            qi (&q, 7, u->created_at);
            st = q_exec (&q);
            if (st == STORE_ONE)
              {
                u->id = id;
                u->tenant_id = tenant_id;
              }
          }
      }
  }
  return st;
}

enum store_status
store_user_get (struct store *s, int64_t tenant_id, int64_t id,
                struct store_user *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " USER_COLS " FROM users WHERE tenant_id = $1 AND id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_one (&q, read_user, out);
      }
  }
  return st;
}

enum store_status
store_user_find_email (struct store *s, int64_t tenant_id, const char *email,
                       struct store_user *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " USER_COLS
           " FROM users WHERE tenant_id = $1 AND email = $2"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, email);
        st = q_one (&q, read_user, out);
      }
  }
  return st;
}

enum store_status
store_user_update (struct store *s, int64_t tenant_id,
                   const struct store_user *u)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE users SET role = $3, pwhash = $4, disabled = $5"
           " WHERE tenant_id = $1 AND id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, u->id);
        qt (&q, 3, store_role_name (u->role));
        qt (&q, 4, u->pwhash);
        qi (&q, 5, u->disabled);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_user_delete (struct store *s, int64_t tenant_id, int64_t id)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r, "DELETE FROM users WHERE tenant_id = $1 AND id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_user_list (struct store *s, int64_t tenant_id, struct store_user **out,
                 size_t *n)
{
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    free (*out);
    if (Q (&q, &r,
           "SELECT " USER_COLS
           " FROM users WHERE tenant_id = $1 ORDER BY email"))
      {
        qi (&q, 1, tenant_id);
        st = q_list (&q, read_user, sizeof **out, (void **)out, n, NULL);
      }
  }
  return st;
}

/* ================================================================== */
/* API keys                                                            */
/* ================================================================== */

#define APIKEY_COLS "id, tenant_id, prefix, name, created_at, revoked_at"

static void
read_apikey (struct q *q, void *out)
{
  struct store_apikey *k = out;
  memset (k, 0, sizeof *k);
  k->id = ci (q, 0);
  k->tenant_id = ci (q, 1);
  ccpy (q, 2, k->prefix, sizeof k->prefix);
  ccpy (q, 3, k->name, sizeof k->name);
  k->created_at = ci (q, 4);
  k->revoked_at = ci (q, 5);
  k->revoked = k->revoked_at != 0;
}

enum store_status
store_apikey_create (struct store *s, int64_t tenant_id, const char *name,
                     char key_out[STORE_APIKEY_LEN + 1],
                     struct store_apikey *out)
{
  unsigned char pre[STORE_APIKEY_PREFIX_LEN / 2], sec[32];
  char key[STORE_APIKEY_LEN + 1], hash[65];
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    int64_t id = 0;
    /* New random prefix per attempt: a (2^-64) clash just retries. */
    randombytes_buf (pre, sizeof pre);
    randombytes_buf (sec, sizeof sec);
    memcpy (key, "fk_", 3);
    hex (pre, sizeof pre, key + 3);
    key[3 + STORE_APIKEY_PREFIX_LEN] = '_';
    hex (sec, sizeof sec, key + 4 + STORE_APIKEY_PREFIX_LEN);
    sha256_hex (key, STORE_APIKEY_LEN, hash);
    st = next_id (&r, &id);
    if (st == STORE_ONE)
      {
        st = STORE_HARD;
        if (Q (&q, &r,
               "INSERT INTO api_keys (tenant_id, id, prefix, hash, name,"
               " created_at) VALUES ($1, $2, $3, $4, $5, $6)"
               " ON CONFLICT DO NOTHING"))
          {
            char prefix[STORE_APIKEY_PREFIX_LEN + 1];
            memcpy (prefix, key + 3, STORE_APIKEY_PREFIX_LEN);
            prefix[STORE_APIKEY_PREFIX_LEN] = '\0';
            int64_t now = now_s ();
            qi (&q, 1, tenant_id);
            qi (&q, 2, id);
            qt (&q, 3, prefix);
            qt (&q, 4, hash);
            qt (&q, 5, name ? name : "");
            qi (&q, 6, now);
            st = q_exec (&q);
            if (st == STORE_NONE)
              st = STORE_SOFT;
            if (st == STORE_ONE && out)
              {
                memset (out, 0, sizeof *out);
                out->id = id;
                out->tenant_id = tenant_id;
                memcpy (out->prefix, prefix, sizeof prefix);
                snprintf (out->name, sizeof out->name, "%s", name ? name : "");
                out->created_at = now;
              }
          }
      }
  }
  if (st == STORE_ONE)
    memcpy (key_out, key, sizeof key);
  sodium_memzero (sec, sizeof sec);
  sodium_memzero (key, sizeof key);
  return st;
}

struct keyrow
{
  int64_t tenant_id, id, revoked_at;
  char hash[65];
};

static void
read_keyrow (struct q *q, void *out)
{
  struct keyrow *k = out;
  k->tenant_id = ci (q, 0);
  k->id = ci (q, 1);
  ccpy (q, 2, k->hash, sizeof k->hash);
  k->revoked_at = ci (q, 3);
}

enum store_status
store_apikey_lookup (struct store *s, const char *key, int64_t *tenant_id,
                     int64_t *key_id)
{
  if (key == NULL || strlen (key) != STORE_APIKEY_LEN
      || strncmp (key, "fk_", 3) != 0
      || key[3 + STORE_APIKEY_PREFIX_LEN] != '_')
    return STORE_NONE;
  char prefix[STORE_APIKEY_PREFIX_LEN + 1];
  memcpy (prefix, key + 3, STORE_APIKEY_PREFIX_LEN);
  prefix[STORE_APIKEY_PREFIX_LEN] = '\0';
  struct keyrow k = { 0 };
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT tenant_id, id, hash, revoked_at FROM api_keys"
           " WHERE prefix = $1"))
      {
        qt (&q, 1, prefix);
        st = q_one (&q, read_keyrow, &k);
      }
  }
  if (st != STORE_ONE)
    return st;
  char hash[65];
  sha256_hex (key, STORE_APIKEY_LEN, hash);
  bool same = sodium_memcmp (hash, k.hash, 64) == 0;
  sodium_memzero (hash, sizeof hash);
  if (!same || k.revoked_at != 0)
    return STORE_NONE;
  *tenant_id = k.tenant_id;
  if (key_id)
    *key_id = k.id;
  return STORE_ONE;
}

enum store_status
store_apikey_revoke (struct store *s, int64_t tenant_id, const char *prefix)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE api_keys SET revoked_at = $3"
           " WHERE tenant_id = $1 AND prefix = $2 AND revoked_at = 0"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, prefix);
        qi (&q, 3, now_s ());
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_apikey_list (struct store *s, int64_t tenant_id,
                   struct store_apikey **out, size_t *n)
{
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    free (*out);
    if (Q (&q, &r,
           "SELECT " APIKEY_COLS
           " FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id"))
      {
        qi (&q, 1, tenant_id);
        st = q_list (&q, read_apikey, sizeof **out, (void **)out, n, NULL);
      }
  }
  return st;
}

/* ================================================================== */
/* Tickets                                                             */
/* ================================================================== */

static const char *const ticket_status_names[STORE_TICKET_STATUS_COUNT]
    = { "open", "invoiced", "cancelled", "in_global" };

const char *
store_ticket_status_name (enum store_ticket_status st)
{
  return (unsigned)st < STORE_TICKET_STATUS_COUNT ? ticket_status_names[st]
                                                  : "open";
}

int
store_ticket_status_parse (const char *name)
{
  for (int i = 0; name && i < STORE_TICKET_STATUS_COUNT; i++)
    if (strcmp (name, ticket_status_names[i]) == 0)
      return i;
  return -1;
}

void
store_ticket_clear (struct store_ticket *t)
{
  if (t == NULL)
    return;
  free (t->items);
  memset (t, 0, sizeof *t);
}

void
store_ticket_list_free (struct store_ticket *a, size_t n)
{
  for (size_t i = 0; a && i < n; i++)
    store_ticket_clear (&a[i]);
  free (a);
}

#define TICKET_COLS                                                           \
  "t.id, t.tenant_id, t.branch_id, b.code, t.folio_number, t.date,"           \
  " t.payment_form, t.currency, t.items, t.subtotal, t.discount, t.taxes,"    \
  " t.withheld, t.total, t.status, t.key, t.created_at"
#define TICKET_FROM                                                           \
  " FROM tickets t JOIN branches b ON b.tenant_id = t.tenant_id"              \
  " AND b.id = t.branch_id"

static void
read_ticket (struct q *q, void *out)
{
  struct store_ticket *t = out;
  memset (t, 0, sizeof *t);
  t->id = ci (q, 0);
  t->tenant_id = ci (q, 1);
  t->branch_id = ci (q, 2);
  ccpy (q, 3, t->branch_code, sizeof t->branch_code);
  ccpy (q, 4, t->folio_number, sizeof t->folio_number);
  t->date = ci (q, 5);
  ccpy (q, 6, t->payment_form, sizeof t->payment_form);
  ccpy (q, 7, t->currency, sizeof t->currency);
  t->items = cdup (q, 8);
  t->subtotal = ci (q, 9);
  t->discount = ci (q, 10);
  t->taxes = ci (q, 11);
  t->withheld = ci (q, 12);
  t->total = ci (q, 13);
  int st = store_ticket_status_parse (ct (q, 14));
  t->status = st < 0 ? STORE_TICKET_OPEN : (enum store_ticket_status)st;
  ccpy (q, 15, t->key, sizeof t->key);
  t->created_at = ci (q, 16);
}

static void
ticket_key (char out[STORE_TICKET_KEY_LEN + 1])
{
  static const char a[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; /* Crockford */
  for (int i = 0; i < STORE_TICKET_KEY_LEN; i++)
    out[i] = a[randombytes_uniform (32)];
  out[STORE_TICKET_KEY_LEN] = '\0';
}

enum store_status
store_ticket_insert (struct store *s, int64_t tenant_id,
                     struct store_ticket *t)
{
  enum store_status st = STORE_HARD;
  bool own_key = t->key[0] == '\0';
  RUN (s, r, st, true)
  {
    struct q q;
    int64_t id = 0;
    if (own_key)
      ticket_key (t->key);
    st = next_id (&r, &id);
    if (st == STORE_ONE)
      {
        st = STORE_HARD;
        if (Q (&q, &r,
               "INSERT INTO tickets (tenant_id, id, branch_id, folio_number, "
               "date,"
               " payment_form, currency, items, subtotal, discount, taxes,"
               " withheld, total, status, key, created_at)"
               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
               "$13,"
               " 'open', $14, $15) ON CONFLICT DO NOTHING"))
          {
            t->created_at = now_s ();
            qi (&q, 1, tenant_id);
            qi (&q, 2, id);
            qi (&q, 3, t->branch_id);
            qt (&q, 4, t->folio_number);
            qi (&q, 5, t->date);
            qt (&q, 6, t->payment_form);
            qt (&q, 7, t->currency[0] ? t->currency : "MXN");
            qt (&q, 8, t->items ? t->items : "[]");
            qi (&q, 9, t->subtotal);
            qi (&q, 10, t->discount);
            qi (&q, 11, t->taxes);
            qi (&q, 12, t->withheld);
            qi (&q, 13, t->total);
            qt (&q, 14, t->key);
            qi (&q, 15, t->created_at);
            st = q_exec (&q);
            if (st == STORE_ONE)
              {
                t->id = id;
                t->tenant_id = tenant_id;
                t->status = STORE_TICKET_OPEN;
                if (!t->currency[0])
                  memcpy (t->currency, "MXN", 4);
              }
          }
      }
  }
  if (st != STORE_ONE && own_key)
    t->key[0] = '\0';
  return st;
}

enum store_status
store_ticket_get (struct store *s, int64_t tenant_id, int64_t id,
                  struct store_ticket *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " TICKET_COLS TICKET_FROM
           " WHERE t.tenant_id = $1 AND t.id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_one (&q, read_ticket, out);
      }
  }
  return st;
}

enum store_status
store_ticket_find_key (struct store *s, int64_t tenant_id, const char *key,
                       struct store_ticket *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " TICKET_COLS TICKET_FROM
           " WHERE t.tenant_id = $1 AND t.key = $2"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, key);
        st = q_one (&q, read_ticket, out);
      }
  }
  return st;
}

enum store_status
store_ticket_find_folio (struct store *s, int64_t tenant_id, int64_t branch_id,
                         const char *folio_number, struct store_ticket *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " TICKET_COLS TICKET_FROM
           " WHERE t.tenant_id = $1 AND t.branch_id = $2"
           " AND t.folio_number = $3"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, branch_id);
        qt (&q, 3, folio_number);
        st = q_one (&q, read_ticket, out);
      }
  }
  return st;
}

enum store_status
store_ticket_set_status (struct store *s, int64_t tenant_id, int64_t id,
                         enum store_ticket_status from,
                         enum store_ticket_status to)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE tickets SET status = $4"
           " WHERE tenant_id = $1 AND id = $2 AND status = $3"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        qt (&q, 3, store_ticket_status_name (from));
        qt (&q, 4, store_ticket_status_name (to));
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_ticket_list (struct store *s, int64_t tenant_id,
                   const struct store_ticket_filter *f,
                   struct store_ticket **out, size_t *n, int64_t *next_cursor)
{
  struct store_ticket_filter none = { .status = -1 };
  if (f == NULL)
    f = &none;
  int limit = clamp_limit (f->limit);
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    store_ticket_list_free (*out, *n);
    *out = NULL;
    *n = 0;
    if (Q (&q, &r,
           "SELECT " TICKET_COLS TICKET_FROM
           " WHERE t.tenant_id = $1 AND t.id < $2 AND t.date >= $3"
           " AND t.date < $4 AND (CAST($5 AS BIGINT) = 0 OR t.branch_id = $5)"
           " AND (CAST($6 AS TEXT) = '' OR t.status = $6)"
           " ORDER BY t.id DESC LIMIT $7"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, f->cursor > 0 ? f->cursor : INT64_MAX);
        qi (&q, 3, f->date_from ? f->date_from : INT64_MIN);
        qi (&q, 4, f->date_to ? f->date_to : INT64_MAX);
        qi (&q, 5, f->branch_id);
        qt (&q, 6,
            f->status >= 0 && f->status < STORE_TICKET_STATUS_COUNT
                ? ticket_status_names[f->status]
                : "");
        qi (&q, 7, limit + 1);
        st = q_list (&q, read_ticket, sizeof **out, (void **)out, n,
                     (void (*) (void *))store_ticket_clear);
      }
  }
  *next_cursor = 0;
  if (st >= 0 && *n > (size_t)limit)
    {
      store_ticket_clear (&(*out)[limit]);
      *n = (size_t)limit;
      *next_cursor = (*out)[limit - 1].id;
    }
  return st;
}

/* ================================================================== */
/* Products and customers                                              */
/* ================================================================== */

/* Both are a JSON document plus a few indexed text columns, so one
 * implementation (store_doc_*) serves both, driven by a table
 * description; store_product_* and store_customer_* are its typed
 * wrappers.  A row struct has int64_t id, tenant_id, created_at and
 * updated_at, a char *doc and up to four char arrays, the indexed
 * columns in SQL order; SELECTs return id, tenant_id, the columns, doc,
 * created_at, updated_at. */

struct doc_sql
{
  int slot; /* statement slot (__COUNTER__, like Q) */
  const char *text;
};
#define DOC_SQL(text_)                                                        \
  {                                                                           \
    __COUNTER__, (text_)                                                      \
  }

struct doc_col
{
  size_t off, cap;
};
#define DOC_COL(type_, field_)                                                \
  {                                                                           \
    offsetof (type_, field_), sizeof ((type_ *)0)->field_                     \
  }
#define DOC_HEAD(type_)                                                       \
  .size = sizeof (type_), .off_id = offsetof (type_, id),                     \
  .off_tenant = offsetof (type_, tenant_id),                                  \
  .off_doc = offsetof (type_, doc),                                           \
  .off_created = offsetof (type_, created_at),                                \
  .off_updated = offsetof (type_, updated_at)

struct doc_table
{
  size_t size;
  size_t off_id, off_tenant, off_doc, off_created, off_updated;
  struct doc_col cols[4];
  int ncols;
  reader_fn read;
  void (*clear) (void *row);
  struct doc_sql insert; /* $1 tenant, $2 id, the columns, doc, the time */
  struct doc_sql update; /* the same; STORE_NONE when nothing changed */
  struct doc_sql get;    /* $1 tenant, $2 id */
  struct doc_sql del;    /* $1 tenant, $2 id */
  struct doc_sql find;   /* $1 tenant, $2 a key text; the first row */
  struct doc_sql list;   /* $1 tenant, $2 ids below, $3 limit */
};

static void read_product (struct q *q, void *out);
static void read_customer (struct q *q, void *out);
static void clear_product (void *row);
static void clear_customer (void *row);

#define PRODUCT_COLS "id, tenant_id, sku, name, doc, created_at, updated_at"
#define CUSTOMER_COLS                                                         \
  "id, tenant_id, rfc, name, email, doc, created_at, updated_at"

static const struct doc_table doc_tables[] = {
  [STORE_DOC_PRODUCT] = {
    DOC_HEAD (struct store_product),
    .cols = { DOC_COL (struct store_product, sku),
              DOC_COL (struct store_product, name) },
    .ncols = 2,
    .read = read_product,
    .clear = clear_product,
    .insert = DOC_SQL ("INSERT INTO products (tenant_id, id, sku, name, doc,"
                       " created_at, updated_at)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $6)"
                       " ON CONFLICT DO NOTHING"),
    /* A sku taken by another product makes this a no-op (STORE_NONE)
     * rather than a unique violation, which would abort the transaction
     * on PostgreSQL. */
    .update = DOC_SQL (
        "UPDATE products SET sku = $3, name = $4, doc = $5, updated_at = $6"
        " WHERE tenant_id = $1 AND id = $2 AND ($3 = '' OR NOT EXISTS"
        " (SELECT 1 FROM products o WHERE o.tenant_id = $1 AND o.sku = $3"
        " AND o.id <> $2))"),
    .get = DOC_SQL ("SELECT " PRODUCT_COLS
                    " FROM products WHERE tenant_id = $1 AND id = $2"),
    .del = DOC_SQL ("DELETE FROM products WHERE tenant_id = $1 AND id = $2"),
    .find = DOC_SQL (
        "SELECT " PRODUCT_COLS
        " FROM products WHERE tenant_id = $1 AND sku = $2 AND sku <> ''"),
    .list = DOC_SQL ("SELECT " PRODUCT_COLS
                     " FROM products WHERE tenant_id = $1"
                     " AND id < $2 ORDER BY id DESC LIMIT $3"),
  },
  [STORE_DOC_CUSTOMER] = {
    DOC_HEAD (struct store_customer),
    .cols = { DOC_COL (struct store_customer, rfc),
              DOC_COL (struct store_customer, name),
              DOC_COL (struct store_customer, email) },
    .ncols = 3,
    .read = read_customer,
    .clear = clear_customer,
    .insert = DOC_SQL ("INSERT INTO customers (tenant_id, id, rfc, name,"
                       " email, doc, created_at, updated_at)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
                       " ON CONFLICT DO NOTHING"),
    .update = DOC_SQL ("UPDATE customers SET rfc = $3, name = $4, email = $5,"
                       " doc = $6, updated_at = $7"
                       " WHERE tenant_id = $1 AND id = $2"),
    .get = DOC_SQL ("SELECT " CUSTOMER_COLS
                    " FROM customers WHERE tenant_id = $1 AND id = $2"),
    .del = DOC_SQL ("DELETE FROM customers WHERE tenant_id = $1 AND id = $2"),
    .find = DOC_SQL ("SELECT " CUSTOMER_COLS
                     " FROM customers WHERE tenant_id = $1"
                     " AND rfc = $2 ORDER BY id DESC LIMIT 1"),
    .list = DOC_SQL ("SELECT " CUSTOMER_COLS
                     " FROM customers WHERE tenant_id = $1"
                     " AND id < $2 ORDER BY id DESC LIMIT $3"),
  },
};

static const struct doc_table *
doc_table (enum store_doc_kind k)
{
  return &doc_tables[k];
}

static int64_t *
doc_i64 (const void *row, size_t off)
{
  return (int64_t *)((char *)row + off);
}

static char **
doc_text (const void *row, size_t off)
{
  return (char **)((char *)row + off);
}

static void
doc_read (struct q *q, const struct doc_table *t, void *row)
{
  memset (row, 0, t->size);
  int c = 0;
  *doc_i64 (row, t->off_id) = ci (q, c++);
  *doc_i64 (row, t->off_tenant) = ci (q, c++);
  for (int i = 0; i < t->ncols; i++)
    ccpy (q, c++, (char *)row + t->cols[i].off, t->cols[i].cap);
  *doc_text (row, t->off_doc) = cdup (q, c++);
  *doc_i64 (row, t->off_created) = ci (q, c++);
  *doc_i64 (row, t->off_updated) = ci (q, c++);
}

static void
read_product (struct q *q, void *out)
{
  doc_read (q, &doc_tables[STORE_DOC_PRODUCT], out);
}

static void
read_customer (struct q *q, void *out)
{
  doc_read (q, &doc_tables[STORE_DOC_CUSTOMER], out);
}

/* Binds the columns and the document from $first; returns the next
 * parameter's number. */
static int
doc_bind (struct q *q, const struct doc_table *t, const void *row, int first)
{
  int n = first;
  for (int i = 0; i < t->ncols; i++)
    qt (q, n++, (const char *)row + t->cols[i].off);
  const char *doc = *doc_text (row, t->off_doc);
  qt (q, n++, doc ? doc : "{}");
  return n;
}

void
store_doc_clear (enum store_doc_kind k, void *row)
{
  if (row == NULL)
    return;
  const struct doc_table *t = doc_table (k);
  free (*doc_text (row, t->off_doc));
  memset (row, 0, t->size);
}

void
store_doc_list_free (enum store_doc_kind k, void *a, size_t n)
{
  size_t sz = doc_table (k)->size;
  for (size_t i = 0; a && i < n; i++)
    store_doc_clear (k, (char *)a + i * sz);
  free (a);
}

static void
clear_product (void *row)
{
  store_doc_clear (STORE_DOC_PRODUCT, row);
}

static void
clear_customer (void *row)
{
  store_doc_clear (STORE_DOC_CUSTOMER, row);
}

size_t
store_doc_size (enum store_doc_kind k)
{
  return doc_table (k)->size;
}

enum store_status
store_doc_insert (struct store *s, enum store_doc_kind k, int64_t tenant_id,
                  void *row)
{
  const struct doc_table *t = doc_table (k);
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    int64_t id = 0;
    st = next_id (&r, &id);
    if (st == STORE_ONE)
      {
        st = STORE_HARD;
        if (q_open (&q, &r, t->insert.slot, t->insert.text, NULL))
          {
            int64_t now = now_s ();
            *doc_i64 (row, t->off_created) = now;
            *doc_i64 (row, t->off_updated) = now;
            qi (&q, 1, tenant_id);
            qi (&q, 2, id);
            qi (&q, doc_bind (&q, t, row, 3), now);
            st = q_exec (&q);
            if (st == STORE_ONE)
              {
                *doc_i64 (row, t->off_id) = id;
                *doc_i64 (row, t->off_tenant) = tenant_id;
              }
          }
      }
  }
  return st;
}

enum store_status
store_doc_get (struct store *s, enum store_doc_kind k, int64_t tenant_id,
               int64_t id, void *out)
{
  const struct doc_table *t = doc_table (k);
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (q_open (&q, &r, t->get.slot, t->get.text, NULL))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_one (&q, t->read, out);
      }
  }
  return st;
}

/* The first row whose key column (sku, rfc) is key, through t->find. */
static enum store_status
doc_find (struct store *s, enum store_doc_kind k, int64_t tenant_id,
          const char *key, void *out)
{
  const struct doc_table *t = doc_table (k);
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (q_open (&q, &r, t->find.slot, t->find.text, NULL))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, key);
        st = q_one (&q, t->read, out);
      }
  }
  return st;
}

enum store_status
store_doc_update (struct store *s, enum store_doc_kind k, int64_t tenant_id,
                  const void *row)
{
  const struct doc_table *t = doc_table (k);
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (q_open (&q, &r, t->update.slot, t->update.text, NULL))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, *doc_i64 (row, t->off_id));
        qi (&q, doc_bind (&q, t, row, 3), now_s ());
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_doc_delete (struct store *s, enum store_doc_kind k, int64_t tenant_id,
                  int64_t id)
{
  const struct doc_table *t = doc_table (k);
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (q_open (&q, &r, t->del.slot, t->del.text, NULL))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_doc_list (struct store *s, enum store_doc_kind k, int64_t tenant_id,
                int64_t cursor, int limit, void **out, size_t *n,
                int64_t *next_cursor)
{
  const struct doc_table *t = doc_table (k);
  limit = clamp_limit (limit);
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    store_doc_list_free (k, *out, *n);
    *out = NULL;
    *n = 0;
    if (q_open (&q, &r, t->list.slot, t->list.text, NULL))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, cursor > 0 ? cursor : INT64_MAX);
        qi (&q, 3, limit + 1);
        st = q_list (&q, t->read, t->size, out, n, t->clear);
      }
  }
  *next_cursor = 0;
  if (st >= 0 && *n > (size_t)limit)
    {
      char *a = *out;
      t->clear (a + (size_t)limit * t->size);
      *n = (size_t)limit;
      *next_cursor = *doc_i64 (a + (size_t)(limit - 1) * t->size, t->off_id);
    }
  return st;
}

void
store_product_clear (struct store_product *p)
{
  store_doc_clear (STORE_DOC_PRODUCT, p);
}

void
store_product_list_free (struct store_product *a, size_t n)
{
  store_doc_list_free (STORE_DOC_PRODUCT, a, n);
}

enum store_status
store_product_insert (struct store *s, int64_t tenant_id,
                      struct store_product *p)
{
  return store_doc_insert (s, STORE_DOC_PRODUCT, tenant_id, p);
}

enum store_status
store_product_get (struct store *s, int64_t tenant_id, int64_t id,
                   struct store_product *out)
{
  return store_doc_get (s, STORE_DOC_PRODUCT, tenant_id, id, out);
}

enum store_status
store_product_find_sku (struct store *s, int64_t tenant_id, const char *sku,
                        struct store_product *out)
{
  return doc_find (s, STORE_DOC_PRODUCT, tenant_id, sku, out);
}

enum store_status
store_product_update (struct store *s, int64_t tenant_id,
                      const struct store_product *p)
{
  return store_doc_update (s, STORE_DOC_PRODUCT, tenant_id, p);
}

enum store_status
store_product_delete (struct store *s, int64_t tenant_id, int64_t id)
{
  return store_doc_delete (s, STORE_DOC_PRODUCT, tenant_id, id);
}

enum store_status
store_product_list (struct store *s, int64_t tenant_id, int64_t cursor,
                    int limit, struct store_product **out, size_t *n,
                    int64_t *next_cursor)
{
  return store_doc_list (s, STORE_DOC_PRODUCT, tenant_id, cursor, limit,
                         (void **)out, n, next_cursor);
}

void
store_customer_clear (struct store_customer *c)
{
  store_doc_clear (STORE_DOC_CUSTOMER, c);
}

void
store_customer_list_free (struct store_customer *a, size_t n)
{
  store_doc_list_free (STORE_DOC_CUSTOMER, a, n);
}

enum store_status
store_customer_insert (struct store *s, int64_t tenant_id,
                       struct store_customer *c)
{
  return store_doc_insert (s, STORE_DOC_CUSTOMER, tenant_id, c);
}

enum store_status
store_customer_get (struct store *s, int64_t tenant_id, int64_t id,
                    struct store_customer *out)
{
  return store_doc_get (s, STORE_DOC_CUSTOMER, tenant_id, id, out);
}

enum store_status
store_customer_find_rfc (struct store *s, int64_t tenant_id, const char *rfc,
                         struct store_customer *out)
{
  return doc_find (s, STORE_DOC_CUSTOMER, tenant_id, rfc, out);
}

enum store_status
store_customer_update (struct store *s, int64_t tenant_id,
                       const struct store_customer *c)
{
  return store_doc_update (s, STORE_DOC_CUSTOMER, tenant_id, c);
}

enum store_status
store_customer_delete (struct store *s, int64_t tenant_id, int64_t id)
{
  return store_doc_delete (s, STORE_DOC_CUSTOMER, tenant_id, id);
}

enum store_status
store_customer_list (struct store *s, int64_t tenant_id, int64_t cursor,
                     int limit, struct store_customer **out, size_t *n,
                     int64_t *next_cursor)
{
  return store_doc_list (s, STORE_DOC_CUSTOMER, tenant_id, cursor, limit,
                         (void **)out, n, next_cursor);
}

/* ================================================================== */
/* Idempotency                                                         */
/* ================================================================== */

void
store_idem_clear (struct store_idem *i)
{
  if (i == NULL)
    return;
  free (i->body);
  memset (i, 0, sizeof *i);
}

static void
read_idem (struct q *q, void *out)
{
  struct store_idem *i = out;
  memset (i, 0, sizeof *i);
  ccpy (q, 0, i->request_hash, sizeof i->request_hash);
  i->status = (int)ci (q, 1);
  i->body = cdup (q, 2);
  i->created_at = ci (q, 3);
}

static enum store_status
idem_get (struct run *r, int64_t tenant_id, const char *key,
          struct store_idem *out)
{
  struct q q;
  if (!Q (&q, r,
          "SELECT request_hash, status, body, created_at FROM idempotency"
          " WHERE tenant_id = $1 AND key = $2"))
    return STORE_HARD;
  qi (&q, 1, tenant_id);
  qt (&q, 2, key);
  return q_one (&q, read_idem, out);
}

enum store_status
store_idem_begin (struct store *s, int64_t tenant_id, const char *key,
                  const char *request_hash, struct store_idem *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    /* ON CONFLICT DO NOTHING: on PostgreSQL this waits for a concurrent
     * holder of the key to finish, then inserts nothing, without aborting
     * our transaction; the SELECT (a new snapshot under READ COMMITTED)
     * then sees the winner's row. */
    if (Q (&q, &r,
           "INSERT INTO idempotency (tenant_id, key, request_hash, status,"
           " created_at) VALUES ($1, $2, $3, 0, $4) ON CONFLICT DO NOTHING"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, key);
        qt (&q, 3, request_hash);
        qi (&q, 4, now_s ());
        st = q_exec (&q);
        if (st == STORE_NONE)
          {
            st = idem_get (&r, tenant_id, key, out);
            if (st == STORE_ONE)
              st = STORE_NONE;
            else if (st == STORE_NONE)
              st = STORE_SOFT; /* vanished meanwhile: try again */
          }
      }
  }
  return st;
}

enum store_status
store_idem_finish (struct store *s, int64_t tenant_id, const char *key,
                   int status, const char *body)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE idempotency SET status = $3, body = $4"
           " WHERE tenant_id = $1 AND key = $2"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, key);
        qi (&q, 3, status);
        qt (&q, 4, body);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_idem_get (struct store *s, int64_t tenant_id, const char *key,
                struct store_idem *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false) { st = idem_get (&r, tenant_id, key, out); }
  return st;
}

enum store_status
store_idem_expire (struct store *s, int64_t before, int64_t *n)
{
  enum store_status st = STORE_HARD;
  *n = 0;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r, "DELETE FROM idempotency WHERE created_at < $1"))
      {
        qi (&q, 1, before);
        st = q_exec (&q);
        *n = st >= 0 ? q.bk->changes (q.st) : 0;
      }
  }
  return st;
}

/* ================================================================== */
/* Invoices                                                            */
/* ================================================================== */

static const char *const invoice_status_names[STORE_INVOICE_STATUS_COUNT]
    = { "valid", "cancel_pending", "cancelled" };

const char *
store_invoice_status_name (enum store_invoice_status st)
{
  return (unsigned)st < STORE_INVOICE_STATUS_COUNT ? invoice_status_names[st]
                                                   : "valid";
}

int
store_invoice_status_parse (const char *name)
{
  for (int i = 0; name && i < STORE_INVOICE_STATUS_COUNT; i++)
    if (strcmp (name, invoice_status_names[i]) == 0)
      return i;
  return -1;
}

void
store_invoice_clear (struct store_invoice *inv)
{
  if (inv == NULL)
    return;
  free (inv->xml);
  free (inv->pdf);
  free (inv->cancel_ack);
  memset (inv, 0, sizeof *inv);
}

void
store_invoice_list_free (struct store_invoice *a, size_t n)
{
  for (size_t i = 0; a && i < n; i++)
    store_invoice_clear (&a[i]);
  free (a);
}

#define INVOICE_COLS                                                          \
  "id, tenant_id, uuid, series, folio, type, status, customer_rfc,"           \
  " customer_name, customer_email, total, currency, sha256, prev_hash,"       \
  " chain_hash, cancel_reason, cancel_substitute, cancel_requested_at,"       \
  " cancel_ack, created_at, cancel_status, cancel_ack_date,"                  \
  " cancel_provider, cancel_sat_code"
#define INVOICE_DOCS ", xml, pdf"

static void
read_invoice_common (struct q *q, struct store_invoice *v)
{
  memset (v, 0, sizeof *v);
  v->id = ci (q, 0);
  v->tenant_id = ci (q, 1);
  ccpy (q, 2, v->uuid, sizeof v->uuid);
  ccpy (q, 3, v->series, sizeof v->series);
  v->folio = ci (q, 4);
  ccpy (q, 5, v->type, sizeof v->type);
  int st = store_invoice_status_parse (ct (q, 6));
  v->status = st < 0 ? STORE_INVOICE_VALID : (enum store_invoice_status)st;
  ccpy (q, 7, v->customer_rfc, sizeof v->customer_rfc);
  ccpy (q, 8, v->customer_name, sizeof v->customer_name);
  ccpy (q, 9, v->customer_email, sizeof v->customer_email);
  v->total = ci (q, 10);
  ccpy (q, 11, v->currency, sizeof v->currency);
  ccpy (q, 12, v->sha256, sizeof v->sha256);
  ccpy (q, 13, v->prev_hash, sizeof v->prev_hash);
  ccpy (q, 14, v->chain_hash, sizeof v->chain_hash);
  ccpy (q, 15, v->cancel_reason, sizeof v->cancel_reason);
  ccpy (q, 16, v->cancel_substitute, sizeof v->cancel_substitute);
  v->cancel_requested_at = ci (q, 17);
  v->cancel_ack = cdup (q, 18);
  v->created_at = ci (q, 19);
  ccpy (q, 20, v->cancel_status, sizeof v->cancel_status);
  ccpy (q, 21, v->cancel_ack_date, sizeof v->cancel_ack_date);
  ccpy (q, 22, v->cancel_provider, sizeof v->cancel_provider);
  ccpy (q, 23, v->cancel_sat_code, sizeof v->cancel_sat_code);
}

static void
read_invoice (struct q *q, void *out)
{
  read_invoice_common (q, out);
}

static void
read_invoice_docs (struct q *q, void *out)
{
  struct store_invoice *v = out;
  read_invoice_common (q, v);
  v->xml = cblob (q, 24, &v->xml_len);
  v->pdf = cblob (q, 25, &v->pdf_len);
}

struct chain
{
  char head[65];
  int64_t seq;
};

static void
read_chain (struct q *q, void *out)
{
  struct chain *c = out;
  ccpy (q, 0, c->head, sizeof c->head);
  c->seq = ci (q, 1);
}

static enum store_status
invoice_insert (struct run *r, int64_t tenant_id, struct store_invoice *inv)
{
  struct q q;
  int64_t id = 0;
  enum store_status st = next_id (r, &id);
  if (st != STORE_ONE)
    return st;
  /* Taking the tenant row lock first makes the chain linear: a second
   * issuer of the same tenant waits here until we commit, then reads our
   * head (READ COMMITTED re-reads the updated row). */
  struct chain ch = { { 0 }, 0 };
  if (!Q (&q, r,
          "UPDATE tenants SET chain_count = chain_count + 1 WHERE id = $1"
          " RETURNING chain_head, chain_count"))
    return STORE_HARD;
  qi (&q, 1, tenant_id);
  st = q_one (&q, read_chain, &ch);
  if (st != STORE_ONE)
    return st;
  char buf[130];
  sha256_hex (inv->xml, inv->xml_len, inv->sha256);
  snprintf (inv->prev_hash, sizeof inv->prev_hash, "%s", ch.head);
  snprintf (buf, sizeof buf, "%s%s", inv->prev_hash, inv->sha256);
  sha256_hex (buf, strlen (buf), inv->chain_hash);
  inv->created_at = now_s ();
  if (!Q (&q, r,
          "INSERT INTO invoices (tenant_id, id, uuid, series, folio, type,"
          " status, customer_rfc, customer_name, customer_email, total,"
          " currency, xml, pdf, sha256, prev_hash, chain_hash, chain_seq,"
          " created_at) VALUES ($1, $2, $3, $4, $5, $6, 'valid', $7, $8, $9,"
          " $10, $11, $12, $13, $14, $15, $16, $17, $18)"
          " ON CONFLICT DO NOTHING"))
    return STORE_HARD;
  qi (&q, 1, tenant_id);
  qi (&q, 2, id);
  qt (&q, 3, inv->uuid);
  qt (&q, 4, inv->series);
  qi (&q, 5, inv->folio);
  qt (&q, 6, inv->type[0] ? inv->type : "I");
  qt (&q, 7, inv->customer_rfc);
  qt (&q, 8, inv->customer_name);
  qt (&q, 9, inv->customer_email);
  qi (&q, 10, inv->total);
  qt (&q, 11, inv->currency[0] ? inv->currency : "MXN");
  qb (&q, 12, inv->xml ? (const void *)inv->xml : "", inv->xml_len);
  qb (&q, 13, inv->pdf, inv->pdf_len);
  qt (&q, 14, inv->sha256);
  qt (&q, 15, inv->prev_hash);
  qt (&q, 16, inv->chain_hash);
  qi (&q, 17, ch.seq);
  qi (&q, 18, inv->created_at);
  st = q_exec (&q);
  if (st != STORE_ONE)
    {
      /* Duplicate uuid or folio: undo the chain counter. */
      if (st == STORE_NONE
          && Q (&q, r,
                "UPDATE tenants SET chain_count = chain_count - 1 WHERE id = "
                "$1"))
        {
          qi (&q, 1, tenant_id);
          enum store_status u = q_exec (&q);
          if (u < 0)
            return u;
        }
      return st;
    }
  if (!Q (&q, r, "UPDATE tenants SET chain_head = $2 WHERE id = $1"))
    return STORE_HARD;
  qi (&q, 1, tenant_id);
  qt (&q, 2, inv->chain_hash);
  st = q_exec (&q);
  if (st != STORE_ONE)
    return st < 0 ? st : STORE_HARD;
  inv->id = id;
  inv->tenant_id = tenant_id;
  inv->status = STORE_INVOICE_VALID;
  return STORE_ONE;
}

enum store_status
store_invoice_insert (struct store *s, int64_t tenant_id,
                      struct store_invoice *inv)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true) { st = invoice_insert (&r, tenant_id, inv); }
  return st;
}

enum store_status
store_invoice_get (struct store *s, int64_t tenant_id, int64_t id,
                   bool with_docs, struct store_invoice *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    bool ok = with_docs
                  ? Q (&q, &r,
                       "SELECT " INVOICE_COLS INVOICE_DOCS
                       " FROM invoices WHERE tenant_id = $1 AND id = $2")
                  : Q (&q, &r,
                       "SELECT " INVOICE_COLS
                       " FROM invoices WHERE tenant_id = $1 AND id = $2");
    if (ok)
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_one (&q, with_docs ? read_invoice_docs : read_invoice, out);
      }
  }
  return st;
}

enum store_status
store_invoice_find_uuid (struct store *s, int64_t tenant_id, const char *uuid,
                         bool with_docs, struct store_invoice *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    bool ok = with_docs
                  ? Q (&q, &r,
                       "SELECT " INVOICE_COLS INVOICE_DOCS
                       " FROM invoices WHERE tenant_id = $1 AND uuid = $2")
                  : Q (&q, &r,
                       "SELECT " INVOICE_COLS
                       " FROM invoices WHERE tenant_id = $1 AND uuid = $2");
    if (ok)
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, uuid);
        st = q_one (&q, with_docs ? read_invoice_docs : read_invoice, out);
      }
  }
  return st;
}

enum store_status
store_invoice_set_pdf (struct store *s, int64_t tenant_id, int64_t id,
                       const unsigned char *pdf, size_t len)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE invoices SET pdf = $3 WHERE tenant_id = $1 AND id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        qb (&q, 3, pdf, len);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_invoice_cancel_request (struct store *s, int64_t tenant_id, int64_t id,
                              const char *reason, const char *substitute_uuid)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE invoices SET status = 'cancel_pending', cancel_reason = $3,"
           " cancel_substitute = $4, cancel_requested_at = $5,"
           " cancel_status = 'requested', cancel_ack_date = '',"
           " cancel_sat_code = ''"
           " WHERE tenant_id = $1 AND id = $2 AND status = 'valid'"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        qt (&q, 3, reason ? reason : "");
        qt (&q, 4, substitute_uuid ? substitute_uuid : "");
        qi (&q, 5, now_s ());
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_invoice_cancel_ack (struct store *s, int64_t tenant_id, int64_t id,
                          const char *ack)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE invoices SET status = 'cancelled', cancel_ack = $3,"
           " cancel_status = 'cancelled'"
           " WHERE tenant_id = $1 AND id = $2 AND status <> 'cancelled'"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        qt (&q, 3, ack);
        st = q_exec (&q);
      }
    if (st == STORE_ONE
        && Q (&q, &r,
              "UPDATE invoice_tickets SET active = 0"
              " WHERE tenant_id = $1 AND invoice_id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        enum store_status u = q_exec (&q);
        if (u < 0)
          st = u;
      }
  }
  return st;
}

enum store_status
store_invoice_cancel_answer (struct store *s, int64_t tenant_id, int64_t id,
                             const struct store_cancel_answer *a)
{
  const char *cs = a->status ? a->status : "";
  const char *inv_status;
  if (strcmp (cs, "cancelled") == 0)
    inv_status = "cancelled";
  else if (strcmp (cs, "pending") == 0)
    inv_status = "cancel_pending";
  else if (strcmp (cs, "rejected") == 0)
    inv_status = "valid";
  else
    return STORE_HARD;
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE invoices SET status = $3, cancel_status = $4,"
           " cancel_ack = COALESCE($5, cancel_ack), cancel_ack_date = $6,"
           " cancel_provider = $7, cancel_sat_code = $8"
           " WHERE tenant_id = $1 AND id = $2 AND status = 'cancel_pending'"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        qt (&q, 3, inv_status);
        qt (&q, 4, cs);
        qt (&q, 5, a->ack);
        qt (&q, 6, a->ack_date ? a->ack_date : "");
        qt (&q, 7, a->provider ? a->provider : "");
        qt (&q, 8, a->sat_code ? a->sat_code : "");
        st = q_exec (&q);
      }
    if (st == STORE_ONE && strcmp (inv_status, "cancelled") == 0
        && Q (&q, &r,
              "UPDATE invoice_tickets SET active = 0"
              " WHERE tenant_id = $1 AND invoice_id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        enum store_status u = q_exec (&q);
        if (u < 0)
          st = u;
      }
  }
  return st;
}

enum store_status
store_invoice_list (struct store *s, int64_t tenant_id, int64_t cursor,
                    int limit, struct store_invoice **out, size_t *n,
                    int64_t *next_cursor)
{
  limit = clamp_limit (limit);
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    store_invoice_list_free (*out, *n);
    *out = NULL;
    *n = 0;
    if (Q (&q, &r,
           "SELECT " INVOICE_COLS " FROM invoices WHERE tenant_id = $1"
           " AND id < $2 ORDER BY id DESC LIMIT $3"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, cursor > 0 ? cursor : INT64_MAX);
        qi (&q, 3, limit + 1);
        st = q_list (&q, read_invoice, sizeof **out, (void **)out, n,
                     (void (*) (void *))store_invoice_clear);
      }
  }
  *next_cursor = 0;
  if (st >= 0 && *n > (size_t)limit)
    {
      store_invoice_clear (&(*out)[limit]);
      *n = (size_t)limit;
      *next_cursor = (*out)[limit - 1].id;
    }
  return st;
}

/* The listing columns (what GET /v1/invoices shows); read_invoice_brief
 * reads them. */
#define INVOICE_BRIEF_COLS                                                    \
  "id, uuid, series, folio, type, status, customer_rfc, customer_name,"       \
  " customer_email, total, currency, sha256, cancel_reason,"                  \
  " cancel_substitute, cancel_requested_at, created_at, cancel_status,"       \
  " cancel_ack_date, cancel_provider, cancel_sat_code"

static void
read_invoice_brief (struct q *q, void *out)
{
  struct store_invoice *v = out;
  memset (v, 0, sizeof *v);
  v->id = ci (q, 0);
  ccpy (q, 1, v->uuid, sizeof v->uuid);
  ccpy (q, 2, v->series, sizeof v->series);
  v->folio = ci (q, 3);
  ccpy (q, 4, v->type, sizeof v->type);
  int st = store_invoice_status_parse (ct (q, 5));
  v->status = st < 0 ? STORE_INVOICE_VALID : (enum store_invoice_status)st;
  ccpy (q, 6, v->customer_rfc, sizeof v->customer_rfc);
  ccpy (q, 7, v->customer_name, sizeof v->customer_name);
  ccpy (q, 8, v->customer_email, sizeof v->customer_email);
  v->total = ci (q, 9);
  ccpy (q, 10, v->currency, sizeof v->currency);
  ccpy (q, 11, v->sha256, sizeof v->sha256);
  ccpy (q, 12, v->cancel_reason, sizeof v->cancel_reason);
  ccpy (q, 13, v->cancel_substitute, sizeof v->cancel_substitute);
  v->cancel_requested_at = ci (q, 14);
  v->created_at = ci (q, 15);
  ccpy (q, 16, v->cancel_status, sizeof v->cancel_status);
  ccpy (q, 17, v->cancel_ack_date, sizeof v->cancel_ack_date);
  ccpy (q, 18, v->cancel_provider, sizeof v->cancel_provider);
  ccpy (q, 19, v->cancel_sat_code, sizeof v->cancel_sat_code);
}

/* One prepared statement for every combination of filters: an absent
 * filter is bound as its neutral value (0, '') and its test is true.
 * The scan walks the primary key (tenant_id, id) backwards from the
 * cursor, so a page costs about limit+1 matching rows. */
enum store_status
store_invoice_list_filtered (struct store *s, int64_t tenant_id,
                             const struct store_invoice_filter *f,
                             int64_t cursor, int limit,
                             struct store_invoice **out, size_t *n,
                             int64_t *next_cursor)
{
  limit = clamp_limit (limit);
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  *next_cursor = 0;
  int64_t from = f ? f->created_from : 0, to = f ? f->created_to : 0;
  const char *status = "";
  if (f && f->status >= 0 && f->status < STORE_INVOICE_STATUS_COUNT)
    status = store_invoice_status_name ((enum store_invoice_status)f->status);
  const char *rfc = f && f->customer_rfc ? f->customer_rfc : "";
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    store_invoice_list_free (*out, *n);
    *out = NULL;
    *n = 0;
    if (Q (&q, &r,
           "SELECT " INVOICE_BRIEF_COLS " FROM invoices WHERE tenant_id = $1"
           " AND id < $2"
           " AND (CAST($3 AS BIGINT) = 0 OR created_at >= CAST($3 AS BIGINT))"
           " AND (CAST($4 AS BIGINT) = 0 OR created_at < CAST($4 AS BIGINT))"
           " AND (CAST($5 AS TEXT) = '' OR status = CAST($5 AS TEXT))"
           " AND (CAST($6 AS TEXT) = '' OR customer_rfc = CAST($6 AS TEXT))"
           " ORDER BY id DESC LIMIT $7"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, cursor > 0 ? cursor : INT64_MAX);
        qi (&q, 3, from);
        qi (&q, 4, to);
        qt (&q, 5, status);
        qt (&q, 6, rfc);
        qi (&q, 7, limit + 1);
        st = q_list (&q, read_invoice_brief, sizeof **out, (void **)out, n,
                     (void (*) (void *))store_invoice_clear);
      }
  }
  for (size_t i = 0; st >= 0 && i < *n; i++)
    (*out)[i].tenant_id = tenant_id;
  if (st >= 0 && *n > (size_t)limit)
    {
      store_invoice_clear (&(*out)[limit]);
      *n = (size_t)limit;
      *next_cursor = (*out)[limit - 1].id;
    }
  return st;
}

enum store_status
store_invoice_walk (struct store *s, int64_t tenant_id,
                    bool (*fn) (const struct store_invoice *, void *),
                    void *arg)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " INVOICE_COLS INVOICE_DOCS " FROM invoices"
           " WHERE tenant_id = $1 ORDER BY chain_seq"))
      {
        qi (&q, 1, tenant_id);
        struct store_invoice v = { 0 };
        int rc;
        st = STORE_NONE;
        while ((rc = qstep (&q)) == BK_ROW)
          {
            read_invoice_docs (&q, &v);
            st = STORE_ONE;
            bool more = fn (&v, arg);
            store_invoice_clear (&v);
            if (!more)
              break;
          }
        if (rc < 0)
          st = err_status (rc) == STORE_NONE ? STORE_HARD : err_status (rc);
        q.bk->reset (q.st);
      }
  }
  return st;
}

enum store_status
store_invoice_add_ticket (struct store *s, int64_t tenant_id,
                          int64_t invoice_id, int64_t ticket_id)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    /* The partial unique index invoice_tickets_one does the work: a second
     * valid invoice for the ticket inserts nothing. */
    if (Q (&q, &r,
           "INSERT INTO invoice_tickets (tenant_id, invoice_id, ticket_id, "
           "active)"
           " VALUES ($1, $2, $3, 1) ON CONFLICT DO NOTHING"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, invoice_id);
        qi (&q, 3, ticket_id);
        st = q_exec (&q);
      }
  }
  return st;
}

static void
read_i64 (struct q *q, void *out)
{
  *(int64_t *)out = ci (q, 0);
}

enum store_status
store_invoice_tickets (struct store *s, int64_t tenant_id, int64_t invoice_id,
                       int64_t **out, size_t *n)
{
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    free (*out);
    if (Q (&q, &r,
           "SELECT ticket_id FROM invoice_tickets WHERE tenant_id = $1"
           " AND invoice_id = $2 ORDER BY ticket_id"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, invoice_id);
        st = q_list (&q, read_i64, sizeof **out, (void **)out, n, NULL);
      }
  }
  return st;
}

enum store_status
store_ticket_invoice (struct store *s, int64_t tenant_id, int64_t ticket_id,
                      int64_t *invoice_id)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT invoice_id FROM invoice_tickets WHERE tenant_id = $1"
           " AND ticket_id = $2 AND active = 1"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, ticket_id);
        st = q_one (&q, read_i64, invoice_id);
      }
  }
  return st;
}

/* ================================================================== */
/* Invoice events                                                      */
/* ================================================================== */

void
store_event_clear (struct store_event *e)
{
  if (e == NULL)
    return;
  free (e->detail);
  memset (e, 0, sizeof *e);
}

void
store_event_list_free (struct store_event *a, size_t n)
{
  for (size_t i = 0; a && i < n; i++)
    store_event_clear (&a[i]);
  free (a);
}

static void
read_event (struct q *q, void *out)
{
  struct store_event *e = out;
  memset (e, 0, sizeof *e);
  e->id = ci (q, 0);
  e->tenant_id = ci (q, 1);
  e->invoice_id = ci (q, 2);
  e->at = ci (q, 3);
  ccpy (q, 4, e->kind, sizeof e->kind);
  ccpy (q, 5, e->actor, sizeof e->actor);
  e->detail = cdup (q, 6);
}

enum store_status
store_event_add (struct store *s, int64_t tenant_id, int64_t invoice_id,
                 int64_t at, const char *kind, const char *actor,
                 const char *detail, int64_t *idp)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    int64_t id = 0;
    st = next_id (&r, &id);
    if (st == STORE_ONE)
      {
        st = STORE_HARD;
        if (Q (&q, &r,
               "INSERT INTO invoice_events (tenant_id, id, invoice_id, at, "
               "kind,"
               " actor, detail) SELECT $1, $2, $3, $4, $5, $6, $7"
               " WHERE EXISTS (SELECT 1 FROM invoices WHERE tenant_id = $1"
               " AND id = $3)"))
          {
            qi (&q, 1, tenant_id);
            qi (&q, 2, id);
            qi (&q, 3, invoice_id);
            qi (&q, 4, at ? at : now_s ());
            qt (&q, 5, kind);
            qt (&q, 6, actor ? actor : "");
            qt (&q, 7, detail);
            st = q_exec (&q);
            if (st == STORE_ONE && idp)
              *idp = id;
          }
      }
  }
  return st;
}

enum store_status
store_event_list (struct store *s, int64_t tenant_id, int64_t invoice_id,
                  struct store_event **out, size_t *n)
{
  enum store_status st = STORE_HARD;
  *out = NULL;
  *n = 0;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    store_event_list_free (*out, *n);
    *out = NULL;
    *n = 0;
    if (Q (&q, &r,
           "SELECT id, tenant_id, invoice_id, at, kind, actor, detail"
           " FROM invoice_events WHERE tenant_id = $1 AND invoice_id = $2"
           " ORDER BY at, id"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, invoice_id);
        st = q_list (&q, read_event, sizeof **out, (void **)out, n,
                     (void (*) (void *))store_event_clear);
      }
  }
  return st;
}

/* ================================================================== */
/* Jobs                                                                */
/* ================================================================== */

static const char *const job_state_names[STORE_JOB_STATE_COUNT]
    = { "queued", "running", "done", "dead" };

const char *
store_job_state_name (enum store_job_state st)
{
  return (unsigned)st < STORE_JOB_STATE_COUNT ? job_state_names[st] : "queued";
}

void
store_job_clear (struct store_job *j)
{
  if (j == NULL)
    return;
  free (j->payload);
  free (j->last_error);
  memset (j, 0, sizeof *j);
}

#define JOB_COLS                                                              \
  "id, tenant_id, kind, payload, state, attempts, run_after, last_error,"     \
  " claimed_by, lease_until, created_at"

static void
read_job (struct q *q, void *out)
{
  struct store_job *j = out;
  memset (j, 0, sizeof *j);
  j->id = ci (q, 0);
  j->tenant_id = ci (q, 1);
  ccpy (q, 2, j->kind, sizeof j->kind);
  j->payload = cdup (q, 3);
  const char *state = ct (q, 4);
  for (int i = 0; i < STORE_JOB_STATE_COUNT; i++)
    if (strcmp (state, job_state_names[i]) == 0)
      j->state = (enum store_job_state)i;
  j->attempts = (int)ci (q, 5);
  j->run_after = ci (q, 6);
  j->last_error = cdup (q, 7);
  ccpy (q, 8, j->claimed_by, sizeof j->claimed_by);
  j->lease_until = ci (q, 9);
  j->created_at = ci (q, 10);
}

enum store_status
store_job_enqueue (struct store *s, int64_t tenant_id, const char *kind,
                   const char *payload, int64_t run_after, int64_t *idp)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    int64_t id = 0;
    st = next_id (&r, &id);
    if (st == STORE_ONE)
      {
        st = STORE_HARD;
        if (Q (&q, &r,
               "INSERT INTO jobs (tenant_id, id, kind, payload, state, "
               "run_after,"
               " created_at) VALUES ($1, $2, $3, $4, 'queued', $5, $6)"))
          {
            int64_t now = now_s ();
            qi (&q, 1, tenant_id);
            qi (&q, 2, id);
            qt (&q, 3, kind);
            qt (&q, 4, payload ? payload : "{}");
            qi (&q, 5, run_after ? run_after : now);
            qi (&q, 6, now);
            st = q_exec (&q);
            if (st == STORE_ONE && idp)
              *idp = id;
          }
      }
  }
  return st;
}

enum store_status
store_job_claim (struct store *s, const char *worker, const char *kind,
                 int lease_seconds, struct store_job *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    /* One statement either way.  PostgreSQL: the subquery locks the chosen
     * row and skips rows other workers hold; a row claimed and committed
     * by another worker after our snapshot is re-checked against the
     * WHERE clause and dropped.  SQLite: the UPDATE runs under the
     * database write lock, so it is atomic by itself. */
    if (Q2 (&q, &r,
            "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
            " claimed_by = $1, lease_until = $2"
            " WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM jobs"
            " WHERE ((state = 'queued' AND run_after <= $3)"
            " OR (state = 'running' AND lease_until < $3))"
            " AND (CAST($4 AS TEXT) = '' OR kind = $4)"
            " ORDER BY run_after, id LIMIT 1)"
            " RETURNING " JOB_COLS,
            "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
            " claimed_by = $1, lease_until = $2"
            " WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM jobs"
            " WHERE ((state = 'queued' AND run_after <= $3)"
            " OR (state = 'running' AND lease_until < $3))"
            " AND (CAST($4 AS TEXT) = '' OR kind = $4)"
            " ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
            " RETURNING " JOB_COLS))
      {
        int64_t now = now_s ();
        qt (&q, 1, worker);
        qi (&q, 2, now + (lease_seconds > 0 ? lease_seconds : 60));
        qi (&q, 3, now);
        qt (&q, 4, kind ? kind : "");
        int rc = qstep (&q);
        if (rc == BK_ROW)
          {
            read_job (&q, out);
            st = STORE_ONE;
            while (qstep (&q) == BK_ROW)
              ;
          }
        else
          st = rc == BK_DONE ? STORE_NONE : err_status (rc);
        q.bk->reset (q.st);
      }
  }
  return st;
}

enum store_status
store_job_done (struct store *s, int64_t tenant_id, int64_t id,
                const char *worker)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE jobs SET state = 'done', lease_until = 0"
           " WHERE tenant_id = $1 AND id = $2 AND state = 'running'"
           " AND claimed_by = $3"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        qt (&q, 3, worker);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_job_fail (struct store *s, int64_t tenant_id, int64_t id,
                const char *worker, const char *error, int64_t retry_at)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, true)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "UPDATE jobs SET state = $4, run_after = $5, last_error = $6,"
           " lease_until = 0 WHERE tenant_id = $1 AND id = $2"
           " AND state = 'running' AND claimed_by = $3"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        qt (&q, 3, worker);
        qt (&q, 4, retry_at ? "queued" : "dead");
        qi (&q, 5, retry_at);
        qt (&q, 6, error);
        st = q_exec (&q);
      }
  }
  return st;
}

enum store_status
store_job_get (struct store *s, int64_t tenant_id, int64_t id,
               struct store_job *out)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT " JOB_COLS " FROM jobs WHERE tenant_id = $1 AND id = $2"))
      {
        qi (&q, 1, tenant_id);
        qi (&q, 2, id);
        st = q_one (&q, read_job, out);
      }
  }
  return st;
}

enum store_status
store_job_count (struct store *s, int64_t tenant_id, enum store_job_state js,
                 int64_t *n)
{
  enum store_status st = STORE_HARD;
  RUN (s, r, st, false)
  {
    struct q q;
    st = STORE_HARD;
    if (Q (&q, &r,
           "SELECT COUNT(*) FROM jobs WHERE (CAST($1 AS BIGINT) = 0"
           " OR tenant_id = $1) AND state = $2"))
      {
        qi (&q, 1, tenant_id);
        qt (&q, 2, store_job_state_name (js));
        st = q_one (&q, read_i64, n);
      }
  }
  return st;
}

_Static_assert(__COUNTER__ < BK_NSLOTS, "raise BK_NSLOTS in backend.h");
