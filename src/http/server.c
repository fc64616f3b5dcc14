/*
 * server.c — `facturo serve`: libmicrohttpd glue, request lifecycle,
 * logs, signals.
 *
 * libmicrohttpd runs its own thread pool with epoll
 * (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
 * MHD_OPTION_THREAD_POOL_SIZE); the main thread only waits for SIGTERM or
 * SIGINT.  A request is one struct req created on the first callback and
 * freed in the completion callback — the only place request memory is
 * released — which also writes the request's log line and metrics.
 *
 * Shutdown: stop accepting (MHD_quiesce_daemon), wait until every request
 * already admitted has been answered (bounded by shutdown_timeout), then
 * stop the daemon and close the store.  Exit status 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>

#include "app.h"
#include "cli.h"
#include "api/issue.h"
#include "http/http.h"
#include "jobs/global.h"
#include "jobs/jobs.h"
#include "store/store.h"
#include "util/log.h"

/* The store module may not provide this yet: look it up weakly. */
#pragma weak store_master_key_path

/* Requests admitted and not yet completed (for a graceful stop). */
static atomic_int inflight;

/* ------------------------------------------------------------------ */
/* Built-in routes                                                    */
/* ------------------------------------------------------------------ */

enum MHD_Result http_get_healthz (struct req *rq);
enum MHD_Result http_get_metrics (struct req *rq);

enum MHD_Result
http_get_healthz (struct req *rq)
{
  if (rq->app->stopping)
    return reply_error (rq, ERR_UNAVAILABLE, NULL);
  int v = store_schema_version (rq->app->store);
  if (v < 0)
    return reply_error (rq, ERR_UNAVAILABLE, NULL);
  return reply_json (rq, 200,
                     json_pack ("{s:s, s:s, s:i}", "status", "ok", "version",
                                FACTURO_VERSION, "schema", v));
}

enum MHD_Result
http_get_metrics (struct req *rq)
{
  struct buf b = BUF_INIT;
  metrics_render (rq->app->metrics, &b);
  buf_printf (&b,
              "# HELP facturo_http_inflight Requests being served.\n"
              "# TYPE facturo_http_inflight gauge\n"
              "facturo_http_inflight %d\n"
              "# HELP facturo_store_retries_total Transactions retried after "
              "a transient conflict.\n"
              "# TYPE facturo_store_retries_total counter\n"
              "facturo_store_retries_total %llu\n",
              atomic_load (&inflight),
              (unsigned long long)store_retries (rq->app->store));
  enum MHD_Result r = reply_text (rq, 200, "text/plain; version=0.0.4",
                                  b.data ? b.data : "", b.len);
  buf_free (&b);
  return r;
}

/* ------------------------------------------------------------------ */
/* Request lifecycle                                                  */
/* ------------------------------------------------------------------ */

static void
req_free (struct req *rq)
{
  if (rq == NULL)
    return;
  if (rq->ctx_free)
    rq->ctx_free (rq->ctx);
  json_decref (rq->json);
  buf_free (&rq->body);
  free (rq->path);
  free (rq);
}

static const char *
pick_lang (struct MHD_Connection *c)
{
  const char *al = MHD_lookup_connection_value (
      c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
  return (al && al[0] == 'e' && al[1] == 's') ? "es" : "en";
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *conn, const char *url,
            const char *method, const char *version, const char *upload_data,
            size_t *upload_data_size, void **con_cls)
{
  struct app *app = cls;
  struct req *rq = *con_cls;
  (void)version;

  if (rq == NULL)
    {
      rq = xcalloc (1, sizeof *rq);
      *con_cls = rq;
      atomic_fetch_add (&inflight, 1);
      clock_gettime (CLOCK_MONOTONIC, &rq->start);
      rq->app = app;
      rq->conn = conn;
      rq->route_index = -1;
      snprintf (rq->method, sizeof rq->method, "%s", method);
      /* MHD gives the path without its query string. */
      rq->path = xstrndup (url, 2048);
      unsigned char id[8];
      randombytes_buf (id, sizeof id);
      sodium_bin2hex (rq->request_id, sizeof rq->request_id, id, sizeof id);
      rq->lang = pick_lang (conn);
      if (!router_admit (rq))
        return MHD_YES; /* reply queued; any body is discarded */
      return MHD_YES;
    }

  if (*upload_data_size > 0)
    {
      size_t n = *upload_data_size;
      *upload_data_size = 0;
      if (rq->replied || rq->body_too_large)
        return MHD_YES;
      if (rq->route == NULL || rq->body.len + n > rq->route->max_body)
        {
          /* Chunked body over the limit: drop it, answer 413 at the end. */
          rq->body_too_large = true;
          buf_free (&rq->body);
          return MHD_YES;
        }
      buf_append (&rq->body, upload_data, n);
      return MHD_YES;
    }

  if (rq->replied)
    return MHD_YES;
  return router_dispatch (rq);
}

/* Path for the log: printable ASCII only, bounded. */
static void
log_path (const char *p, char *out, size_t n)
{
  size_t j = 0;
  for (size_t i = 0; p && p[i] && j + 1 < n; i++)
    {
      unsigned char c = (unsigned char)p[i];
      out[j++] = (c < 0x20 || c > 0x7e || c == '"') ? '?' : (char)c;
    }
  out[j] = '\0';
}

static void
on_completed (void *cls, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
  struct app *app = cls;
  struct req *rq = *con_cls;
  (void)conn;
  if (rq == NULL)
    return;
  *con_cls = NULL;
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  int64_t dus = (int64_t)(now.tv_sec - rq->start.tv_sec) * 1000000
                + (int64_t)(now.tv_nsec - rq->start.tv_nsec) / 1000;
  uint64_t us = dus > 0 ? (uint64_t)dus : 0;
  unsigned status = rq->replied ? rq->status : 0;
  metrics_observe (app->metrics, rq->route_index, status, us);
  char path[256];
  log_path (rq->path, path, sizeof path);
  log_info (
      "%s %s %u %llu.%03llums id=%s tenant=%lld%s", rq->method, path, status,
      (unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
      rq->request_id, (long long)rq->tenant_id,
      toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (interrupted)");
  req_free (rq);
  atomic_fetch_sub (&inflight, 1);
}

static void
mhd_log (void *cls, const char *fmt, va_list ap)
{
  char line[512];
  (void)cls;
  vsnprintf (line, sizeof line, fmt, ap);
  size_t n = strlen (line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  log_warn ("libmicrohttpd: %s", line);
}

/* ------------------------------------------------------------------ */
/* facturo serve                                                      */
/* ------------------------------------------------------------------ */

static void
usage (FILE *f)
{
  fputs (
      "usage: facturo serve [OPTIONS]\n"
      "  --db URL              sqlite:PATH (default sqlite:./facturo.db) or "
      "postgres://…\n"
      "  --listen ADDR:PORT    default 127.0.0.1:8080 (port 0: any free "
      "port)\n"
      "  --base-url URL        public URL for links (default "
      "http://LISTEN)\n"
      "  --config FILE         key = value settings (also FACTURO_CONFIG)\n"
      "  --threads N           HTTP thread-pool size (default 16)\n"
      "  --max-connections N   default 1024\n"
      "  --rate-limit N        API requests per second per key (default 50,"
      " 0 = off)\n"
      "  --rate-burst N        token-bucket size (default 100)\n"
      "  --shutdown-timeout S  wait for in-flight requests (default 30)\n"
      "  --timeout S           idle connection timeout (default 30)\n"
      "  --global-interval S   seconds between global-invoice runs (default "
      "600, 0 = off)\n"
      "  --stamp NAME          stamping provider of merchants that set none "
      "(default sandbox)\n"
      "  --secret-file F       server secret (default next to the database)\n"
      "  --log-level L         debug | info | warn | error (default info)\n"
      "  --print-routes        print the route table and exit\n"
      "  --print-config        print the effective settings and exit\n"
      "Precedence: flags > FACTURO_* environment > config file > defaults.\n"
      "Every setting and variable: docs/operations.md.\n",
      f);
}

static enum log_level
level_of (const char *s)
{
  if (strcmp (s, "debug") == 0)
    return LOG_DEBUG;
  if (strcmp (s, "warn") == 0)
    return LOG_WARN;
  if (strcmp (s, "error") == 0)
    return LOG_ERROR;
  return LOG_INFO;
}

/* Reads the flags into c on top of file and environment.  Returns -1 to
 * go on, or an exit status. */
static int
configure (int argc, char **argv, struct app_config *c, bool *print_routes,
           bool *print_config)
{
  char err[512];
  const char *config = getenv ("FACTURO_CONFIG");
  /* First pass: --help, --config. */
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
      if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
        config = argv[++i];
      else if (strncmp (argv[i], "--config=", 9) == 0)
        config = argv[i] + 9;
    }
  app_config_defaults (c);
  if (config && *config && !app_config_load_file (c, config, err, sizeof err))
    {
      fprintf (stderr, "facturo serve: %s\n", err);
      return 2;
    }
  if (!app_config_load_env (c, err, sizeof err))
    {
      fprintf (stderr, "facturo serve: %s\n", err);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--print-routes") == 0)
        {
          *print_routes = true;
          continue;
        }
      if (strcmp (a, "--print-config") == 0)
        {
          *print_config = true;
          continue;
        }
      if (strncmp (a, "--", 2) != 0)
        {
          fprintf (stderr, "facturo serve: unexpected argument '%s'\n", a);
          return 2;
        }
      char key[64];
      const char *val;
      const char *eq = strchr (a, '=');
      size_t kl = eq ? (size_t)(eq - a - 2) : strlen (a + 2);
      if (kl >= sizeof key)
        {
          fprintf (stderr, "facturo serve: unknown option '%s'\n", a);
          return 2;
        }
      memcpy (key, a + 2, kl);
      key[kl] = '\0';
      for (char *k = key; *k; k++)
        if (*k == '-')
          *k = '_';
      if (eq)
        val = eq + 1;
      else if (i + 1 < argc)
        val = argv[++i];
      else
        {
          fprintf (stderr, "facturo serve: %s needs a value\n", a);
          return 2;
        }
      if (strcmp (key, "config") == 0)
        continue;
      if (!app_config_set (c, key, val, err, sizeof err))
        {
          fprintf (stderr, "facturo serve: --%s: %s\n", a + 2, err);
          return 2;
        }
    }
  if (c->base_url[0] == '\0')
    snprintf (c->base_url, sizeof c->base_url, "http://%s%s%s:%u",
              strchr (c->listen_addr, ':') ? "[" : "", c->listen_addr,
              strchr (c->listen_addr, ':') ? "]" : "", c->listen_port);
  if (c->threads == 0)
    c->threads = 1;
  return -1;
}

int
cmd_serve (int argc, char **argv)
{
  static struct app app; /* lives for the whole process */
  bool print_routes = false, print_config = false;
  int rc = configure (argc, argv, &app.cfg, &print_routes, &print_config);
  if (rc >= 0)
    return rc;
  if (print_routes)
    {
      router_print (stdout);
      return 0;
    }
  if (print_config)
    {
      app_config_print (&app.cfg, stdout);
      return 0;
    }
  log_set_level (level_of (app.cfg.log_level));
  {
    /* Refuse an unknown provider now rather than at the first invoice. */
    struct ferr fe;
    memset (&fe, 0, sizeof fe);
    issue_set_default_stamp (app.cfg.stamp);
    if (issue_pac (app.cfg.stamp, &fe) == NULL)
      {
        fprintf (stderr, "facturo serve: --stamp %s: %s\n", app.cfg.stamp,
                 fe.message);
        return 2;
      }
  }
  if (sodium_init () < 0)
    {
      fprintf (stderr, "facturo serve: libsodium failed to start\n");
      return 1;
    }

  /* Address to listen on. */
  struct sockaddr_storage ss;
  memset (&ss, 0, sizeof ss);
  bool v6 = strchr (app.cfg.listen_addr, ':') != NULL;
  if (v6)
    {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons ((uint16_t)app.cfg.listen_port);
      if (inet_pton (AF_INET6, app.cfg.listen_addr, &s6->sin6_addr) != 1)
        goto bad_addr;
    }
  else
    {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
      s4->sin_family = AF_INET;
      s4->sin_port = htons ((uint16_t)app.cfg.listen_port);
      if (inet_pton (AF_INET, app.cfg.listen_addr, &s4->sin_addr) != 1)
        goto bad_addr;
    }

  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  app.store = store_open (app.cfg.db, &fe);
  if (app.store == NULL)
    {
      fprintf (stderr, "facturo serve: cannot open the database: %s\n",
               fe.message);
      return 1;
    }
  int schema = store_schema_version (app.store);
  if (schema <= 0)
    {
      fprintf (stderr, "facturo serve: the database has no schema; run "
                       "'facturo migrate --db …' first\n");
      store_close (app.store);
      return 1;
    }
  char err[512];
  if (app.cfg.secret_file[0] == '\0' && store_master_key_path != NULL)
    snprintf (app.cfg.secret_file, sizeof app.cfg.secret_file, "%s",
              store_master_key_path (app.store));
  if (!app_secret_load (&app, err, sizeof err))
    {
      fprintf (stderr, "facturo serve: %s\n", err);
      store_close (app.store);
      return 1;
    }
  pthread_mutex_init (&app.write_mu, NULL);
  pthread_cond_init (&app.write_cv, NULL);
  app.metrics = metrics_new (http_route_count ());
  app.ratelimit = ratelimit_new (app.cfg.rate_limit, app.cfg.rate_burst);

  /* Signals: blocked here so every pool thread inherits the mask; the
   * main thread takes them with sigwait. */
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);
  /* Nothing to reload (settings are read at start) and a closed terminal
   * must not stop a server: SIGHUP is ignored. */
  signal (SIGHUP, SIG_IGN);

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
                   | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (v6)
    flags |= MHD_USE_IPv6;
  struct MHD_Daemon *d = MHD_start_daemon (
      flags, (uint16_t)app.cfg.listen_port, NULL, NULL, on_request, &app,
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, app.cfg.threads,
      MHD_OPTION_CONNECTION_LIMIT, app.cfg.max_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, app.cfg.timeout,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, &app,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_END);
  if (d == NULL)
    {
      fprintf (stderr, "facturo serve: cannot listen on %s:%u\n",
               app.cfg.listen_addr, app.cfg.listen_port);
      rc = 1;
      goto out;
    }
  const union MHD_DaemonInfo *di
      = MHD_get_daemon_info (d, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = di ? di->port : app.cfg.listen_port;
  if (app.cfg.listen_port == 0 && port != 0)
    {
      /* Any free port: links must carry the one we got. */
      char derived[sizeof app.cfg.base_url];
      snprintf (derived, sizeof derived, "http://%s%s%s:0",
                v6 ? "[" : "", app.cfg.listen_addr, v6 ? "]" : "");
      if (strcmp (derived, app.cfg.base_url) == 0)
        snprintf (app.cfg.base_url, sizeof app.cfg.base_url,
                  "http://%s%s%s:%u", v6 ? "[" : "", app.cfg.listen_addr,
                  v6 ? "]" : "", port);
    }
  log_info ("facturo %s serving on %s:%u (%u threads, schema %d, base URL "
            "%s)",
            FACTURO_VERSION, app.cfg.listen_addr, port, app.cfg.threads,
            schema, app.cfg.base_url);
  /* The mail outbox workers (jobs/): configured from FACTURO_SMTP_URL,
   * FACTURO_MAIL_* (docs/mail.md); links signed with our secret. */
  struct jobs_config jc;
  jobs_config_defaults (&jc);
  struct jobs *jobs = NULL;
  if (!jobs_config_load_env (&jc, err, sizeof err))
    log_error ("mail worker not started: %s", err);
  else
    {
      snprintf (jc.base_url, sizeof jc.base_url, "%s", app.cfg.base_url);
      memcpy (jc.secret, app.secret, sizeof jc.secret);
      jobs = jobs_start (app.store, &jc, err, sizeof err);
      sodium_memzero (jc.secret, sizeof jc.secret);
      if (jobs == NULL)
        log_error ("mail worker not started: %s", err);
    }

  /* The global invoice of each merchant's closed periods (jobs/global.c);
   * safe with several processes on one database. */
  struct global_job *global = NULL;
  if (app.cfg.global_interval > 0)
    {
      global = global_job_start (app.store, app.cfg.global_interval);
      if (global == NULL)
        log_error ("global-invoice job not started");
    }

  int sig = 0;
  sigwait (&set, &sig);
  app.stopping = 1;
  log_info ("signal %d: no new connections; finishing %d request(s)", sig,
            atomic_load (&inflight));
  MHD_socket lsock = MHD_quiesce_daemon (d);
  if (lsock != MHD_INVALID_SOCKET)
    close (lsock);
  struct timespec t0, t;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (;;)
    {
      if (atomic_load (&inflight) == 0)
        break;
      clock_gettime (CLOCK_MONOTONIC, &t);
      if (t.tv_sec - t0.tv_sec >= (time_t)app.cfg.shutdown_timeout)
        {
          log_warn ("shutdown timeout: %d request(s) cut short",
                    atomic_load (&inflight));
          break;
        }
      usleep (10000);
    }
  global_job_stop (global);
  jobs_stop (jobs);
  MHD_stop_daemon (d);
  log_info ("stopped");
  rc = 0;
out:
  metrics_free (app.metrics);
  ratelimit_free (app.ratelimit);
  store_close (app.store);
  issue_caches_free (); /* cached CSDs: their keys are wiped */
  app_secret_wipe (&app);
  return rc;

bad_addr:
  fprintf (stderr, "facturo serve: listen: '%s' is not a numeric address\n",
           app.cfg.listen_addr);
  return 2;
}
