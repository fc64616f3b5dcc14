/*
 * app.c — server configuration (defaults, config file, environment) and
 * the server secret.
 *
 * One table below names every setting once: its config-file key, its
 * environment variable and (in server.c) its flag are derived from it,
 * so the three sources cannot drift apart.  Values are checked here,
 * not where they are used, so a bad setting stops `facturo serve` before
 * it opens the database.
 */
#include "app.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/buf.h"

enum kind
{
  K_STR,
  K_UINT,
  K_LISTEN,
  K_LEVEL
};

static const struct setting
{
  const char *key;
  const char *env;
  enum kind kind;
  size_t off;
  size_t size;  /* for K_STR: buffer size */
  unsigned max; /* for K_UINT */
} settings[] = {
#define S(k, e, kind, field, max)                                             \
  {                                                                           \
    k, e, kind, offsetof (struct app_config, field),                          \
        sizeof (((struct app_config *)0)->field), max                         \
  }
  S ("db", "FACTURO_DB", K_STR, db, 0),
  S ("listen", "FACTURO_LISTEN", K_LISTEN, listen_addr, 0),
  S ("base_url", "FACTURO_BASE_URL", K_STR, base_url, 0),
  S ("threads", "FACTURO_THREADS", K_UINT, threads, 256),
  S ("max_connections", "FACTURO_MAX_CONNECTIONS", K_UINT, max_connections,
     100000),
  S ("rate_limit", "FACTURO_RATE_LIMIT", K_UINT, rate_limit, 1000000),
  S ("rate_burst", "FACTURO_RATE_BURST", K_UINT, rate_burst, 1000000),
  S ("shutdown_timeout", "FACTURO_SHUTDOWN_TIMEOUT", K_UINT, shutdown_timeout,
     3600),
  S ("timeout", "FACTURO_TIMEOUT", K_UINT, timeout, 3600),
  S ("global_interval", "FACTURO_GLOBAL_INTERVAL", K_UINT, global_interval,
     86400),
  S ("stamp", "FACTURO_STAMP", K_STR, stamp, 0),
  S ("secret_file", "FACTURO_SECRET_KEY_FILE", K_STR, secret_file, 0),
  S ("log_level", "FACTURO_LOG_LEVEL", K_LEVEL, log_level, 0),
#undef S
};

void
app_config_defaults (struct app_config *c)
{
  memset (c, 0, sizeof *c);
  snprintf (c->db, sizeof c->db, "sqlite:./facturo.db");
  snprintf (c->listen_addr, sizeof c->listen_addr, "127.0.0.1");
  c->listen_port = 8080;
  c->threads = 16;
  c->max_connections = 1024;
  c->rate_limit = 50;
  c->rate_burst = 100;
  c->shutdown_timeout = 30;
  c->timeout = 30;
  c->global_interval = 600;
  snprintf (c->stamp, sizeof c->stamp, "sandbox");
  snprintf (c->log_level, sizeof c->log_level, "info");
}

static bool
set_listen (struct app_config *c, const char *v, char *err, size_t errsz)
{
  /* ADDR:PORT, [v6]:PORT or :PORT. */
  const char *colon = strrchr (v, ':');
  char addr[64];
  if (colon == NULL)
    goto bad;
  size_t alen = (size_t)(colon - v);
  const char *a = v;
  if (alen >= 2 && v[0] == '[' && v[alen - 1] == ']')
    {
      a = v + 1;
      alen -= 2;
    }
  if (alen >= sizeof addr)
    goto bad;
  memcpy (addr, a, alen);
  addr[alen] = '\0';
  if (alen == 0)
    snprintf (addr, sizeof addr, "0.0.0.0");
  char *end;
  errno = 0;
  unsigned long port = strtoul (colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535)
    goto bad;
  snprintf (c->listen_addr, sizeof c->listen_addr, "%s", addr);
  c->listen_port = (unsigned)port;
  return true;
bad:
  snprintf (err, errsz, "listen: expected ADDR:PORT, got '%s'", v);
  return false;
}

bool
app_config_set (struct app_config *c, const char *key, const char *value,
                char *err, size_t errsz)
{
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    {
      const struct setting *s = &settings[i];
      if (strcmp (s->key, key) != 0)
        continue;
      char *field = (char *)c + s->off;
      switch (s->kind)
        {
        case K_STR:
          if (strlen (value) >= s->size)
            {
              snprintf (err, errsz, "%s: value too long", key);
              return false;
            }
          snprintf (field, s->size, "%s", value);
          if (strcmp (key, "base_url") == 0)
            {
              /* Goes into links and e-mails: an absolute http(s) URL with
               * nothing that could break out of an attribute. */
              size_t n = strlen (field);
              while (n > 0 && field[n - 1] == '/')
                field[--n] = '\0';
              bool ok = strncmp (field, "http://", 7) == 0
                        || strncmp (field, "https://", 8) == 0;
              for (size_t i = 0; ok && i < n; i++)
                if ((unsigned char)field[i] <= 0x20
                    || (unsigned char)field[i] >= 0x7f
                    || strchr ("\"'<>\\`", field[i]))
                  ok = false;
              if (!ok)
                {
                  field[0] = '\0';
                  snprintf (err, errsz,
                            "base_url: expected http://… or https://…");
                  return false;
                }
            }
          return true;
        case K_UINT:
          {
            char *end;
            errno = 0;
            unsigned long v = strtoul (value, &end, 10);
            if (!isdigit ((unsigned char)value[0]) || *end != '\0'
                || errno != 0 || v > s->max)
              {
                snprintf (err, errsz, "%s: expected an integer 0..%u", key,
                          s->max);
                return false;
              }
            *(unsigned *)(void *)field = (unsigned)v;
            return true;
          }
        case K_LISTEN:
          return set_listen (c, value, err, errsz);
        case K_LEVEL:
          if (strcmp (value, "debug") && strcmp (value, "info")
              && strcmp (value, "warn") && strcmp (value, "error"))
            {
              snprintf (err, errsz,
                        "log_level: expected debug, info, warn or error");
              return false;
            }
          snprintf (field, s->size, "%s", value);
          return true;
        }
    }
  snprintf (err, errsz, "unknown setting '%s'", key);
  return false;
}

static char *
trim (char *s)
{
  while (isspace ((unsigned char)*s))
    s++;
  size_t n = strlen (s);
  while (n > 0 && isspace ((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

bool
app_config_load_file (struct app_config *c, const char *path, char *err,
                      size_t errsz)
{
  struct buf b = BUF_INIT;
  if (read_file (path, &b, 1 << 20) != 0)
    {
      snprintf (err, errsz, "%s: %s", path, strerror (errno));
      return false;
    }
  snprintf (c->config_file, sizeof c->config_file, "%s", path);
  char *save = NULL;
  int lineno = 0;
  bool ok = true;
  /* strtok_r would skip empty lines and so miscount; walk by hand. */
  char *p = b.data ? b.data : (char *)"";
  (void)save;
  while (ok && *p)
    {
      char *nl = strchr (p, '\n');
      if (nl)
        *nl = '\0';
      lineno++;
      char *hash = strchr (p, '#');
      if (hash)
        *hash = '\0';
      char *line = trim (p);
      if (*line)
        {
          char *eq = strchr (line, '=');
          char e2[256];
          if (eq == NULL)
            {
              snprintf (err, errsz, "%s:%d: expected 'key = value'", path,
                        lineno);
              ok = false;
            }
          else
            {
              *eq = '\0';
              char *k = trim (line), *v = trim (eq + 1);
              size_t vl = strlen (v);
              if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
                {
                  v[vl - 1] = '\0';
                  v++;
                }
              if (!app_config_set (c, k, v, e2, sizeof e2))
                {
                  snprintf (err, errsz, "%s:%d: %s", path, lineno, e2);
                  ok = false;
                }
            }
        }
      if (!nl)
        break;
      p = nl + 1;
    }
  buf_free (&b);
  return ok;
}

bool
app_config_load_env (struct app_config *c, char *err, size_t errsz)
{
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    {
      const char *v = getenv (settings[i].env);
      char e2[256];
      if (v == NULL)
        continue;
      if (!app_config_set (c, settings[i].key, v, e2, sizeof e2))
        {
          snprintf (err, errsz, "%s: %s", settings[i].env, e2);
          return false;
        }
    }
  return true;
}

void
app_config_print (const struct app_config *c, FILE *f)
{
  fprintf (f, "db = %s\n",
           strncmp (c->db, "postgres", 8) == 0 ? "postgres://(hidden)"
                                               : c->db);
  fprintf (f, "listen = %s:%u\n", c->listen_addr, c->listen_port);
  fprintf (f, "base_url = %s\n", c->base_url);
  fprintf (f, "threads = %u\nmax_connections = %u\n", c->threads,
           c->max_connections);
  fprintf (f, "rate_limit = %u\nrate_burst = %u\n", c->rate_limit,
           c->rate_burst);
  fprintf (f, "shutdown_timeout = %u\ntimeout = %u\n", c->shutdown_timeout,
           c->timeout);
  fprintf (f, "global_interval = %u\nstamp = %s\n", c->global_interval,
           c->stamp);
  fprintf (f, "secret_file = %s\nlog_level = %s\n", c->secret_file,
           c->log_level);
}

/* ------------------------------------------------------------------ */
/* The server secret                                                  */
/* ------------------------------------------------------------------ */

static bool
from_hex (const char *hex, uint8_t out[APP_SECRET_BYTES])
{
  size_t bin_len = 0;
  if (strlen (hex) != 2 * APP_SECRET_BYTES)
    return false;
  return sodium_hex2bin (out, APP_SECRET_BYTES, hex, strlen (hex), NULL,
                         &bin_len, NULL)
             == 0
         && bin_len == APP_SECRET_BYTES;
}

static void
secret_path (const struct app_config *c, char *out, size_t n)
{
  if (c->secret_file[0])
    snprintf (out, n, "%s", c->secret_file);
  else if (strncmp (c->db, "sqlite:", 7) == 0)
    snprintf (out, n, "%s.secret", c->db + 7);
  else
    snprintf (out, n, "./facturo.secret");
}

/* The file (or FACTURO_SECRET_KEY) is the master key the store also
 * uses for CSD encryption; the HTTP layer gets its own key derived from
 * it, so a token MAC can never be turned against the encryption. */
static void
derive (uint8_t key[APP_SECRET_BYTES])
{
  static const char ctx[] = "facturo/http-secret/v1";
  uint8_t out[APP_SECRET_BYTES];
  crypto_generichash (out, sizeof out, (const unsigned char *)ctx,
                      sizeof ctx - 1, key, APP_SECRET_BYTES);
  memcpy (key, out, sizeof out);
  sodium_memzero (out, sizeof out);
}

bool
app_secret_load (struct app *a, char *err, size_t errsz)
{
  const char *env = getenv ("FACTURO_SECRET_KEY");
  if (env != NULL)
    {
      if (!from_hex (env, a->secret))
        {
          snprintf (err, errsz, "FACTURO_SECRET_KEY: expected %d hex digits",
                    2 * APP_SECRET_BYTES);
          return false;
        }
      derive (a->secret);
      return true;
    }
  char path[1100];
  secret_path (&a->cfg, path, sizeof path);
  char hex[2 * APP_SECRET_BYTES + 2];
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    {
      /* Create it: random bytes, hex, mode 0600, never overwrite. */
      uint8_t bin[APP_SECRET_BYTES];
      randombytes_buf (bin, sizeof bin);
      sodium_bin2hex (hex, sizeof hex, bin, sizeof bin);
      sodium_memzero (bin, sizeof bin);
      fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0)
        {
          size_t n = strlen (hex);
          hex[n] = '\n';
          bool ok
              = write (fd, hex, n + 1) == (ssize_t)(n + 1) && fsync (fd) == 0;
          close (fd);
          hex[n] = '\0';
          if (!ok)
            {
              sodium_memzero (hex, sizeof hex);
              snprintf (err, errsz, "%s: cannot write: %s", path,
                        strerror (errno));
              unlink (path);
              return false;
            }
        }
      else if (errno != EEXIST)
        {
          sodium_memzero (hex, sizeof hex);
          snprintf (err, errsz, "%s: cannot create: %s", path,
                    strerror (errno));
          return false;
        }
      sodium_memzero (hex, sizeof hex);
      /* Someone else may have won the race: read it back below. */
      fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
  if (fd < 0)
    {
      snprintf (err, errsz, "%s: %s", path, strerror (errno));
      return false;
    }
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || (st.st_mode & 077) != 0)
    {
      close (fd);
      snprintf (err, errsz, "%s: must be a regular file with mode 0600", path);
      return false;
    }
  ssize_t n = read (fd, hex, sizeof hex - 1);
  close (fd);
  bool ok = false;
  if (n == APP_SECRET_BYTES)
    {
      /* Raw bytes (the store may write the key this way). */
      memcpy (a->secret, hex, APP_SECRET_BYTES);
      ok = true;
    }
  else if (n >= 2 * APP_SECRET_BYTES)
    {
      hex[2 * APP_SECRET_BYTES] = '\0';
      ok = from_hex (hex, a->secret);
    }
  sodium_memzero (hex, sizeof hex);
  if (!ok)
    {
      snprintf (err, errsz, "%s: expected %d hex digits", path,
                2 * APP_SECRET_BYTES);
      return false;
    }
  derive (a->secret);
  return true;
}

void
app_secret_wipe (struct app *a)
{
  sodium_memzero (a->secret, sizeof a->secret);
}
