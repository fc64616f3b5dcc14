/*
 * app.h — the running server's configuration and the one `struct app`
 * handed to every request handler (STYLE.md §18: no globals outside main.c
 * and app.c; handlers reach the app through rq->app).
 *
 * Configuration has four layers, applied in this order so that each one
 * overrides the previous:  built-in defaults < config file (--config F or
 * FACTURO_CONFIG, "key = value" lines) < environment (FACTURO_*) <
 * command-line flags.  docs/operations.md lists every key.
 */
#ifndef FACTURO_APP_H
#define FACTURO_APP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define APP_SECRET_BYTES 32

struct store;
struct metrics;
struct ratelimit;

struct app_config
{
  char db[1024];             /* "sqlite:PATH" or "postgres://…" */
  char listen_addr[64];      /* numeric IPv4/IPv6 address */
  unsigned listen_port;      /* 0 = any free port */
  char base_url[512];        /* public URL, no trailing '/' */
  unsigned threads;          /* libmicrohttpd thread-pool size */
  unsigned max_connections;  /* concurrent connections accepted */
  unsigned rate_limit;       /* API requests per second per key (0 = off) */
  unsigned rate_burst;       /* token-bucket size */
  unsigned shutdown_timeout; /* seconds to wait for in-flight requests */
  unsigned timeout;          /* idle connection timeout, seconds */
  unsigned global_interval;  /* seconds between global-invoice runs, 0 = off */
  char stamp[32];            /* stamping provider of merchants that set none */
  char secret_file[1024];    /* "" = next to the SQLite file */
  char log_level[16];        /* debug | info | warn | error */
  char config_file[1024];    /* the file read, "" if none */
};

struct app
{
  struct app_config cfg;
  struct store *store;              /* owned; opened by serve */
  struct metrics *metrics;          /* owned */
  struct ratelimit *ratelimit;      /* owned */
  uint8_t secret[APP_SECRET_BYTES]; /* server secret (tokens); wiped at exit */
  volatile int stopping;            /* set once SIGTERM/SIGINT arrived */
  /* SQLite group commit (api/common.c): POSTs waiting to write queue
   * here; one of them runs the whole queue in one transaction. */
  pthread_mutex_t write_mu;
  pthread_cond_t write_cv;
  void *write_queue; /* struct post_tx list, FIFO */
  bool write_leader; /* a batch is being written */
};

/* Fills c with the built-in defaults. */
void app_config_defaults (struct app_config *c);

/* Sets one setting by its key ("db", "listen", "base_url", "threads", …,
 * the names of docs/operations.md).  False (with a one-line reason in
 * err) for an unknown key or an invalid value. */
bool app_config_set (struct app_config *c, const char *key, const char *value,
                     char *err, size_t errsz);

/* Reads a config file of "key = value" lines ('#' starts a comment,
 * blank lines ignored) into c.  False with a reason naming the line. */
bool app_config_load_file (struct app_config *c, const char *path, char *err,
                           size_t errsz);

/* Applies every FACTURO_<KEY> environment variable that is set. */
bool app_config_load_env (struct app_config *c, char *err, size_t errsz);

/* Writes the effective configuration (never the secret) to f. */
void app_config_print (const struct app_config *c, FILE *f);

/* Loads the server secret: FACTURO_SECRET_KEY (64 hex digits) if set,
 * else the file cfg.secret_file (or "<sqlite path>.secret", or
 * "./facturo.secret" for PostgreSQL), created with 32 random bytes and
 * mode 0600 when missing.  Refuses a file readable by group or others.
 * False with a reason in err. */
bool app_secret_load (struct app *a, char *err, size_t errsz);

/* Wipes the secret. */
void app_secret_wipe (struct app *a);

#endif
