/*
 * admin.c — the administration commands on the store: `facturo migrate`,
 * `tenant create|csd|set|brand|list`, `branch add`, `user add`,
 * `apikey create|revoke|list` and `demo`.
 *
 * Every command takes --db URL (default $FACTURO_DB, else
 * sqlite:facturo.db) and --help, applies pending migrations first (they
 * are idempotent), validates its input before touching the database
 * (exit 2 with one line naming the problem), and never prints a secret
 * except the one it was asked to create (a new API key, on stdout).
 * Rules come from core/ (rules_issuer) and cfdi/csd.h (CSD checks); this
 * file only maps command lines onto store.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cfdi/csd.h"
#include "cli.h"
#include "core/catalog.h"
#include "core/rules.h"
#include "core/ticket.h"
#include "store/branding.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/tz.h"

/* Exit statuses (cli.h). */
enum
{
  EXIT_OK = 0,
  EXIT_FAIL = 1,
  EXIT_USAGE = 2
};

#define MAX_PASSWORD 1024

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static const char *
default_db (const char *db)
{
  if (db && *db)
    return db;
  const char *env = getenv ("FACTURO_DB");
  return env && *env ? env : "sqlite:facturo.db";
}

/* One line on stderr, exit status 2. */
static int bad (const char *cmd, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
static int
bad (const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "facturo %s: ", cmd);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  return EXIT_USAGE;
}

static int fail (const char *cmd, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
static int
fail (const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "facturo %s: ", cmd);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  return EXIT_FAIL;
}

/* An option getopt refused (unknown, or missing its value). */
static int
bad_opt (const char *cmd, int argc, char **argv)
{
  const char *o = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
  return bad (cmd, "unknown option or missing value: '%s' (see --help)", o);
}

/* Opens and migrates.  NULL (message printed) on failure. */
static struct store *
open_db (const char *cmd, const char *db)
{
  struct ferr err;
  memset (&err, 0, sizeof err);
  struct store *s = store_open (default_db (db), &err);
  if (s == NULL)
    {
      fail (cmd, "%s", err.message);
      return NULL;
    }
  if (store_migrate (s, NULL) != STORE_ONE)
    {
      fail (cmd, "cannot migrate the database schema");
      store_close (s);
      return NULL;
    }
  return s;
}

static bool
is_help (const char *a)
{
  return a && (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0);
}

/* The start of a command with subcommands (argv[1]): without one, usage
 * on stderr and EXIT_USAGE; for -h or --help, usage on stdout and
 * EXIT_OK; else -1 to go on. */
static int
subcommand_usage (int argc, char **argv, const char *usage)
{
  if (argc < 2)
    {
      fputs (usage, stderr);
      return EXIT_USAGE;
    }
  if (is_help (argv[1]))
    {
      fputs (usage, stdout);
      return EXIT_OK;
    }
  return -1;
}

/* One "--name VALUE" option and where its value goes. */
struct opt_arg
{
  const char *name;
  const char **value;
};

#define MAX_OPTS 16

/* Parses the options of a command (argv[0] is its word, skipped) into
 * the targets of args, a list ended by a NULL name; -h or --help prints
 * usage on stdout.  Unless operands is true, an operand is refused.
 * Returns -1 to go on (optind is then the first operand), else the exit
 * status to return: EXIT_OK after the help, EXIT_USAGE (one line on
 * stderr) for an unknown option, one missing its value or an operand. */
static int
parse_opts (const char *cmd, const char *usage, int argc, char **argv,
            const struct opt_arg *args, bool operands)
{
  struct option o[MAX_OPTS + 2];
  int n = 0;
  for (; args[n].name && n < MAX_OPTS; n++)
    o[n] = (struct option){ args[n].name, required_argument, 0, 256 + n };
  o[n] = (struct option){ "help", no_argument, 0, 'h' };
  o[n + 1] = (struct option){ 0, 0, 0, 0 };
  int c;
  optind = 0;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "h", o, NULL)) != -1)
    {
      if (c == 'h')
        {
          fputs (usage, stdout);
          return EXIT_OK;
        }
      if (c < 256 || c >= 256 + n)
        return bad_opt (cmd, argc, argv);
      *args[c - 256].value = optarg;
    }
  if (!operands && optind < argc)
    return bad (cmd, "unexpected argument '%s'", argv[optind]);
  return -1;
}

static bool
valid_slug (const char *s)
{
  size_t n = strlen (s);
  if (n == 0 || n > 63 || s[0] == '-')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(islower ((unsigned char)s[i]) || isdigit ((unsigned char)s[i])
          || s[i] == '-'))
      return false;
  return true;
}

static bool
valid_code (const char *s, size_t max)
{
  size_t n = strlen (s);
  if (n == 0 || n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(isalnum ((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
      return false;
  return true;
}

static bool
valid_zip (const char *z)
{
  if (strlen (z) != 5)
    return false;
  for (int i = 0; i < 5; i++)
    if (!isdigit ((unsigned char)z[i]))
      return false;
  return true;
}

/* Printable UTF-8 text without control characters, 1..max bytes. */
static bool
valid_text (const char *s, size_t max)
{
  size_t n = strlen (s);
  if (n == 0 || n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '|')
      return false;
  return true;
}

/* An IANA zone name that util/tz.h can load (so every later use of the
 * tenant's zone succeeds); fits store_tenant.timezone. */
static bool
valid_timezone (const char *tz)
{
  struct ferr e = { 0 };
  return tz[0] != '\0'
         && strlen (tz) < sizeof ((struct store_tenant *)0)->timezone
         && tz_get (tz, &e) != NULL;
}

/* Reads a password: first line of `file`, or of stdin when file is NULL
 * or "-".  Trailing CR/LF removed.  False if unreadable or empty. */
static bool
read_password (const char *file, char *out, size_t cap)
{
  FILE *f = stdin;
  if (file && strcmp (file, "-") != 0)
    {
      f = fopen (file, "r");
      if (f == NULL)
        return false;
    }
  bool ok = fgets (out, (int)cap, f) != NULL;
  if (f != stdin)
    fclose (f);
  if (!ok)
    return false;
  out[strcspn (out, "\r\n")] = '\0';
  return out[0] != '\0';
}

static bool
find_tenant (const char *cmd, struct store *s, const char *slug,
             struct store_tenant *t, int *rc)
{
  memset (t, 0, sizeof *t);
  enum store_status st = store_tenant_find_slug (s, slug, t);
  if (st == STORE_ONE)
    return true;
  *rc = st == STORE_NONE ? bad (cmd, "--tenant: no tenant '%s'", slug)
                         : fail (cmd, "database error");
  return false;
}

static const char *
datadir (void)
{
  const char *d = getenv ("FACTURO_DATA");
  return d && *d ? d : FACTURO_DATADIR;
}

/* ------------------------------------------------------------------ */
/* facturo migrate                                                     */
/* ------------------------------------------------------------------ */

int
cmd_migrate (int argc, char **argv)
{
  static const char usage[]
      = "usage: facturo migrate [--db URL]\n"
        "Creates or upgrades the database schema (idempotent).\n"
        "URL: sqlite:PATH (default sqlite:facturo.db, or $FACTURO_DB)"
        " or postgres://...\n";
  const char *db = NULL;
  const struct opt_arg args[] = { { "db", &db }, { NULL, NULL } };
  int done = parse_opts ("migrate", usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  struct ferr err;
  struct store *s = store_open (default_db (db), &err);
  if (s == NULL)
    return fail ("migrate", "%s", err.message);
  int n = 0;
  enum store_status st = store_migrate (s, &n);
  int v = store_schema_version (s);
  store_close (s);
  if (st != STORE_ONE)
    return fail ("migrate", "migration failed");
  printf ("schema version %d (%d migration%s applied)\n", v, n,
          n == 1 ? "" : "s");
  return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* facturo tenant …                                                    */
/* ------------------------------------------------------------------ */

static const char tenant_usage[]
    = "usage: facturo tenant create --slug SLUG --rfc RFC --name NAME"
      " --regime CODE --zip CP [--db URL]\n"
      "       facturo tenant csd --tenant SLUG --cer F.cer --key F.key"
      " --password-file F [--db URL]\n"
      "       facturo tenant set --tenant SLUG [--window-days N]"
      " [--periodicity 01..05] [--timezone TZ] [--series S]"
      " [--stamp sandbox|none] [--db URL]\n"
      "       facturo tenant brand --tenant SLUG [--display-name NAME]"
      " [--color #RRGGBB] [--accent #RRGGBB] [--logo FILE.png|FILE.jpg]"
      " [--db URL]\n"
      "       facturo tenant list [--db URL]\n"
      "       facturo tenant mail --tenant SLUG [--from ADDR] [--from-name N]"
      " [--reply-to ADDR] [--lang es|en] [--smtp-url URL] [--smtp-user U]"
      " [--smtp-password-file F] [--templates DIR] [--db URL]\n";

/* `tenant mail` lives in api/delivery.c (it needs jobs/mail.h); weak so
 * that binaries without the HTTP layer still link. */
int delivery_tenant_mail (int argc, char **argv) __attribute__ ((weak));

static int
tenant_create (int argc, char **argv)
{
  const char *db = NULL, *slug = NULL, *rfc = NULL, *name = NULL,
             *regime = NULL, *zip = NULL;
  const char *cmd = "tenant create";
  const struct opt_arg args[]
      = { { "db", &db },     { "slug", &slug },     { "rfc", &rfc },
          { "name", &name }, { "regime", &regime }, { "zip", &zip },
          { NULL, NULL } };
  int done = parse_opts (cmd, tenant_usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  if (!slug || !rfc || !name || !regime || !zip)
    return bad (cmd, "--slug, --rfc, --name, --regime and --zip are required");
  if (!valid_slug (slug))
    return bad (cmd, "--slug: '%s' must be 1-63 of a-z, 0-9 and '-'", slug);
  if (!valid_text (name, 300))
    return bad (cmd, "--name: must be 1-300 bytes of printable text");
  struct ferr err;
  memset (&err, 0, sizeof err);
  if (!rules_issuer (rfc, regime, zip, &err))
    {
      const char *opt = strstr (err.field, "tax_system") ? "--regime"
                        : strstr (err.field, "zip")      ? "--zip"
                                                         : "--rfc";
      return bad (cmd, "%s: %s", opt, err.message);
    }
  struct store *s = open_db (cmd, db);
  if (!s)
    return EXIT_FAIL;
  struct store_tenant t;
  store_tenant_init (&t);
  snprintf (t.slug, sizeof t.slug, "%s", slug);
  snprintf (t.rfc, sizeof t.rfc, "%s", rfc);
  snprintf (t.name, sizeof t.name, "%s", name);
  snprintf (t.regime, sizeof t.regime, "%s", regime);
  snprintf (t.zip, sizeof t.zip, "%s", zip);
  enum store_status st = store_tenant_insert (s, &t);
  store_close (s);
  if (st == STORE_NONE)
    return bad (cmd, "--slug: tenant '%s' already exists", slug);
  if (st != STORE_ONE)
    return fail (cmd, "database error");
  printf ("tenant %s created (id %lld)\n", t.slug, (long long)t.id);
  return EXIT_OK;
}

/* Loads and checks a CSD for the tenant and stores it encrypted.  Shared
 * by `tenant csd` and `demo`.  Returns an exit status. */
static int
install_csd (const char *cmd, struct store *s, const struct store_tenant *t,
             const char *cer_path, const char *key_path, const char *password)
{
  struct buf cer = BUF_INIT, key = BUF_INIT;
  int rc = EXIT_OK;
  if (read_file (cer_path, &cer, CSD_MAX_FILE) != 0)
    {
      rc = bad (cmd, "--cer: cannot read %s (or larger than %d bytes)",
                cer_path, CSD_MAX_FILE);
      goto out;
    }
  if (read_file (key_path, &key, CSD_MAX_FILE) != 0)
    {
      rc = bad (cmd, "--key: cannot read %s (or larger than %d bytes)",
                key_path, CSD_MAX_FILE);
      goto out;
    }
  struct ferr err;
  memset (&err, 0, sizeof err);
  struct csd *csd = csd_load ((const uint8_t *)cer.data, cer.len,
                              (const uint8_t *)key.data, key.len, password,
                              time (NULL), &err);
  if (csd == NULL)
    {
      rc = bad (cmd, "%s: %s",
                strstr (err.code ? err.code : "", "password")
                    ? "--password-file"
                : strstr (err.code ? err.code : "", "key") ? "--key"
                                                           : "--cer",
                err.message);
      goto out;
    }
  if (strcmp (csd_rfc (csd), t->rfc) != 0)
    {
      rc = bad (cmd,
                "--cer: the certificate belongs to RFC %s, not to the"
                " tenant's RFC %s",
                csd_rfc (csd), t->rfc);
      csd_free (csd);
      goto out;
    }
  struct store_csd sc;
  memset (&sc, 0, sizeof sc);
  sc.cer = (unsigned char *)cer.data;
  sc.cer_len = cer.len;
  sc.key = (unsigned char *)key.data;
  sc.key_len = key.len;
  sc.password = (char *)password;
  snprintf (sc.serial, sizeof sc.serial, "%s", csd_no_certificado (csd));
  sc.not_after = (int64_t)csd_not_after (csd);
  csd_free (csd);
  if (store_tenant_csd_set (s, t->id, &sc) != STORE_ONE)
    {
      rc = fail (cmd,
                 "cannot store the CSD (master key: set"
                 " FACTURO_SECRET_KEY or check %s)",
                 store_master_key_path (s));
      goto out;
    }
  char until[32];
  time_t na = (time_t)sc.not_after;
  strftime (until, sizeof until, "%Y-%m-%d", gmtime (&na));
  fprintf (stderr, "CSD %s installed for %s (valid until %s)\n", sc.serial,
           t->slug, until);
out:
  if (key.data)
    sodium_memzero (key.data, key.len);
  buf_free (&cer);
  buf_free (&key);
  return rc;
}

static int
tenant_csd (int argc, char **argv)
{
  const char *db = NULL, *slug = NULL, *cer = NULL, *key = NULL, *pwf = NULL;
  const char *cmd = "tenant csd";
  const struct opt_arg args[]
      = { { "db", &db },   { "tenant", &slug },       { "cer", &cer },
          { "key", &key }, { "password-file", &pwf }, { NULL, NULL } };
  int done = parse_opts (cmd, tenant_usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  if (!slug || !cer || !key || !pwf)
    return bad (cmd,
                "--tenant, --cer, --key and --password-file are required");
  char pw[MAX_PASSWORD];
  if (!read_password (pwf, pw, sizeof pw))
    return bad (cmd, "--password-file: cannot read a password from %s", pwf);
  struct store *s = open_db (cmd, db);
  if (!s)
    {
      sodium_memzero (pw, sizeof pw);
      return EXIT_FAIL;
    }
  struct store_tenant t;
  int rc = EXIT_OK;
  if (find_tenant (cmd, s, slug, &t, &rc))
    rc = install_csd (cmd, s, &t, cer, key, pw);
  sodium_memzero (pw, sizeof pw);
  store_tenant_clear (&t);
  store_close (s);
  return rc;
}

static int
tenant_set (int argc, char **argv)
{
  const char *db = NULL, *slug = NULL, *win = NULL, *per = NULL, *tz = NULL,
             *series = NULL, *stamp = NULL;
  const char *cmd = "tenant set";
  const struct opt_arg args[]
      = { { "db", &db },           { "tenant", &slug },
          { "window-days", &win }, { "periodicity", &per },
          { "timezone", &tz },     { "series", &series },
          { "stamp", &stamp },     { NULL, NULL } };
  int done = parse_opts (cmd, tenant_usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  if (!slug)
    return bad (cmd, "--tenant is required");
  long days = 0;
  if (win)
    {
      char *end;
      days = strtol (win, &end, 10);
      if (*win == '\0' || *end != '\0' || days < 1 || days > 366)
        return bad (cmd,
                    "--window-days: '%s' must be a whole number of days"
                    " from 1 to 366",
                    win);
    }
  if (per && catalog_periodicity (per) == NULL)
    return bad (cmd,
                "--periodicity: '%s' is not a c_Periodicidad key"
                " (01 daily .. 05 bimonthly)",
                per);
  if (tz && !valid_timezone (tz))
    return bad (cmd,
                "--timezone: '%s' is not a known time zone"
                " (e.g. America/Mexico_City)",
                tz);
  if (series && !valid_code (series, 25))
    return bad (cmd,
                "--series: '%s' must be 1-25 letters, digits, '-' or"
                " '_'",
                series);
  if (stamp && strcmp (stamp, "sandbox") != 0 && strcmp (stamp, "none") != 0)
    return bad (cmd,
                "--stamp: '%s' is not a stamping provider (sandbox or"
                " none)",
                stamp);
  struct store *s = open_db (cmd, db);
  if (!s)
    return EXIT_FAIL;
  struct store_tenant t;
  int rc = EXIT_OK;
  if (find_tenant (cmd, s, slug, &t, &rc))
    {
      if (win)
        t.window_days = (int)days;
      if (per)
        snprintf (t.periodicity, sizeof t.periodicity, "%s", per);
      if (tz)
        snprintf (t.timezone, sizeof t.timezone, "%s", tz);
      if (series)
        snprintf (t.series, sizeof t.series, "%s", series);
      if (stamp)
        snprintf (t.stamp, sizeof t.stamp, "%s",
                  strcmp (stamp, "none") == 0 ? "" : stamp);
      if ((series && store_series_ensure (s, t.id, series) < 0)
          || store_tenant_update (s, t.id, &t) != STORE_ONE)
        rc = fail (cmd, "database error");
      else
        printf ("tenant %s: window %d days, periodicity %s, timezone %s,"
                " series %s, stamp %s\n",
                t.slug, t.window_days, t.periodicity[0] ? t.periodicity : "-",
                t.timezone, t.series[0] ? t.series : "-",
                t.stamp[0] ? t.stamp : "none");
    }
  store_tenant_clear (&t);
  store_close (s);
  return rc;
}

/* A colour as the portal's theme takes it: "#RRGGBB" (hex digits). */
static bool
valid_color (const char *c)
{
  if (strlen (c) != 7 || c[0] != '#')
    return false;
  for (int i = 1; i < 7; i++)
    if (!isxdigit ((unsigned char)c[i]))
      return false;
  return true;
}

/* Sets key to value in the branding object b; "" removes the key. */
static void
brand_put (json_t *b, const char *key, const char *value)
{
  if (value == NULL)
    return;
  if (value[0] == '\0')
    json_object_del (b, key);
  else
    json_object_set_new (b, key, json_string (value));
}

/* `facturo tenant brand`: display name, colours and logo, merged into the
 * tenant's branding JSON (branding.h) with every other key ("mail" …)
 * kept.  An option given as "" removes that key.  Everything is checked
 * before the database is opened, so a refused command changes nothing. */
static int
tenant_brand (int argc, char **argv)
{
  const char *db = NULL, *slug = NULL, *dname = NULL, *color = NULL,
             *accent = NULL, *logo = NULL;
  const char *cmd = "tenant brand";
  const struct opt_arg args[] = {
    { "db", &db },       { "tenant", &slug },   { "display-name", &dname },
    { "color", &color }, { "accent", &accent }, { "logo", &logo },
    { NULL, NULL }
  };
  int done = parse_opts (cmd, tenant_usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  if (!slug)
    return bad (cmd, "--tenant is required");
  if (dname && *dname && !valid_text (dname, 300))
    return bad (cmd, "--display-name: must be 1-300 bytes of printable text");
  if (color && *color && !valid_color (color))
    return bad (cmd, "--color: '%s' must be #RRGGBB (e.g. #1f5f8b)", color);
  if (accent && *accent && !valid_color (accent))
    return bad (cmd, "--accent: '%s' must be #RRGGBB (e.g. #e8f1f8)", accent);
  char *logo_uri = NULL;
  const char *logo_type = NULL;
  if (logo && *logo)
    {
      struct buf img = BUF_INIT;
      if (read_file (logo, &img, BRANDING_MAX_LOGO) != 0)
        {
          int e = errno;
          buf_free (&img);
          if (e == EFBIG)
            return bad (cmd, "--logo: %s is larger than %u KiB", logo,
                        BRANDING_MAX_LOGO / 1024);
          return bad (cmd, "--logo: cannot read %s: %s", logo, strerror (e));
        }
      logo_type
          = branding_image_type ((const unsigned char *)img.data, img.len);
      if (logo_type == NULL)
        {
          buf_free (&img);
          return bad (cmd, "--logo: %s is not a PNG or JPEG image", logo);
        }
      size_t b64 = sodium_base64_ENCODED_LEN (img.len,
                                              sodium_base64_VARIANT_ORIGINAL);
      struct buf uri = BUF_INIT;
      buf_printf (&uri, "data:%s;base64,", logo_type);
      char *enc = xmalloc (b64);
      sodium_bin2base64 (enc, b64, (const unsigned char *)img.data, img.len,
                         sodium_base64_VARIANT_ORIGINAL);
      buf_puts (&uri, enc);
      free (enc);
      buf_free (&img);
      logo_uri = buf_steal (&uri);
    }
  struct store *s = open_db (cmd, db);
  if (!s)
    {
      free (logo_uri);
      return EXIT_FAIL;
    }
  struct store_tenant t;
  int rc = EXIT_OK;
  json_t *b = NULL;
  if (!find_tenant (cmd, s, slug, &t, &rc))
    goto out;
  if (t.branding && t.branding[0])
    {
      b = json_loads (t.branding, 0, NULL);
      if (!json_is_object (b))
        {
          rc = fail (cmd, "the tenant's branding is not a JSON object; nothing"
                          " changed");
          goto out;
        }
    }
  else
    b = json_object ();
  brand_put (b, "display_name", dname);
  brand_put (b, "color", color);
  brand_put (b, "accent", accent);
  brand_put (b, "logo", logo ? (logo_uri ? logo_uri : "") : NULL);
  if (dname || color || accent || logo)
    {
      free (t.branding);
      t.branding = json_object_size (b) ? json_dumps (b, JSON_COMPACT) : NULL;
      if (store_tenant_update (s, t.id, &t) != STORE_ONE)
        {
          rc = fail (cmd, "database error");
          goto out;
        }
    }
  const char *v_dn = json_string_value (json_object_get (b, "display_name"));
  const char *v_co = json_string_value (json_object_get (b, "color"));
  const char *v_ac = json_string_value (json_object_get (b, "accent"));
  struct buf lg = BUF_INIT;
  const char *lty = NULL;
  bool has_logo = t.branding && branding_logo (t.branding, &lg, &lty);
  printf ("tenant %s: display name %s, color %s, accent %s, logo ", t.slug,
          v_dn ? v_dn : "-", v_co ? v_co : "-", v_ac ? v_ac : "-");
  if (has_logo)
    printf ("%s %zu bytes\n", lty, lg.len);
  else
    printf ("-\n");
  buf_free (&lg);
out:
  json_decref (b);
  free (logo_uri);
  store_tenant_clear (&t);
  store_close (s);
  return rc;
}

static int
tenant_list (int argc, char **argv)
{
  const char *db = NULL;
  const struct opt_arg args[] = { { "db", &db }, { NULL, NULL } };
  int done = parse_opts ("tenant list", tenant_usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  struct store *s = open_db ("tenant list", db);
  if (!s)
    return EXIT_FAIL;
  struct store_tenant *a;
  size_t n;
  enum store_status st = store_tenant_list (s, &a, &n);
  store_close (s);
  if (st < 0)
    return fail ("tenant list", "database error");
  printf ("%-20s %-13s %-6s %-5s %-22s %s\n", "SLUG", "RFC", "REGIME", "ZIP",
          "CSD", "NAME");
  for (size_t i = 0; i < n; i++)
    printf ("%-20s %-13s %-6s %-5s %-22s %s\n", a[i].slug, a[i].rfc,
            a[i].regime, a[i].zip, a[i].has_csd ? a[i].csd_serial : "-",
            a[i].name);
  store_tenant_list_free (a, n);
  return EXIT_OK;
}

int
cmd_tenant (int argc, char **argv)
{
  if (argc < 2)
    {
      fputs (tenant_usage, stderr);
      return EXIT_USAGE;
    }
  if (is_help (argv[1]))
    {
      fputs (tenant_usage, stdout);
      return EXIT_OK;
    }
  if (strcmp (argv[1], "create") == 0)
    return tenant_create (argc - 1, argv + 1);
  if (strcmp (argv[1], "csd") == 0)
    return tenant_csd (argc - 1, argv + 1);
  if (strcmp (argv[1], "set") == 0)
    return tenant_set (argc - 1, argv + 1);
  if (strcmp (argv[1], "brand") == 0)
    return tenant_brand (argc - 1, argv + 1);
  if (strcmp (argv[1], "list") == 0)
    return tenant_list (argc - 1, argv + 1);
  if (strcmp (argv[1], "mail") == 0 && delivery_tenant_mail)
    return delivery_tenant_mail (argc - 1, argv + 1);
  return bad ("tenant",
              "unknown subcommand '%s' (create, csd, set, brand, list,"
              " mail)",
              argv[1]);
}

/* ------------------------------------------------------------------ */
/* facturo branch add                                                  */
/* ------------------------------------------------------------------ */

static const char branch_usage[]
    = "usage: facturo branch add --tenant SLUG --code CODE --name NAME"
      " [--zip CP] [--db URL]\n"
      "       facturo branch list --tenant SLUG [--db URL]\n";

int
cmd_branch (int argc, char **argv)
{
  int done = subcommand_usage (argc, argv, branch_usage);
  if (done >= 0)
    return done;
  bool add = strcmp (argv[1], "add") == 0;
  if (!add && strcmp (argv[1], "list") != 0)
    return bad ("branch", "unknown subcommand '%s' (add, list)", argv[1]);
  const char *cmd = add ? "branch add" : "branch list";
  const char *db = NULL, *slug = NULL, *code = NULL, *name = NULL, *zip = NULL;
  argc--;
  argv++;
  const struct opt_arg args[]
      = { { "db", &db },     { "tenant", &slug }, { "code", &code },
          { "name", &name }, { "zip", &zip },     { NULL, NULL } };
  done = parse_opts (cmd, branch_usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  if (!slug)
    return bad (cmd, "--tenant is required");
  if (add)
    {
      if (!code || !name)
        return bad (cmd, "--code and --name are required");
      if (!valid_code (code, 31))
        return bad (cmd,
                    "--code: '%s' must be 1-31 letters, digits, '-' or"
                    " '_'",
                    code);
      if (!valid_text (name, 200))
        return bad (cmd, "--name: must be 1-200 bytes of printable text");
      if (zip && !valid_zip (zip))
        return bad (cmd, "--zip: '%s' must be 5 digits", zip);
    }
  struct store *s = open_db (cmd, db);
  if (!s)
    return EXIT_FAIL;
  struct store_tenant t;
  int rc = EXIT_OK;
  if (find_tenant (cmd, s, slug, &t, &rc))
    {
      if (add)
        {
          struct store_branch b;
          memset (&b, 0, sizeof b);
          snprintf (b.code, sizeof b.code, "%s", code);
          snprintf (b.name, sizeof b.name, "%s", name);
          snprintf (b.zip, sizeof b.zip, "%s", zip ? zip : "");
          enum store_status st = store_branch_insert (s, t.id, &b);
          if (st == STORE_NONE)
            rc = bad (cmd, "--code: branch '%s' already exists", code);
          else if (st != STORE_ONE)
            rc = fail (cmd, "database error");
          else
            printf ("branch %s added to %s\n", b.code, t.slug);
        }
      else
        {
          struct store_branch *a;
          size_t n;
          if (store_branch_list (s, t.id, &a, &n) < 0)
            rc = fail (cmd, "database error");
          else
            for (size_t i = 0; i < n; i++)
              printf ("%-16s %-5s %s\n", a[i].code,
                      a[i].zip[0] ? a[i].zip : "-", a[i].name);
          free (a);
        }
    }
  store_tenant_clear (&t);
  store_close (s);
  return rc;
}

/* ------------------------------------------------------------------ */
/* facturo user add                                                    */
/* ------------------------------------------------------------------ */

static const char user_usage[]
    = "usage: facturo user add --tenant SLUG --email EMAIL"
      " --role owner|admin|staff|viewer [--password-file F] [--db URL]\n"
      "The password is the first line of F, or of standard input"
      " (at least 10 characters).\n";

int
cmd_user (int argc, char **argv)
{
  int done = subcommand_usage (argc, argv, user_usage);
  if (done >= 0)
    return done;
  if (strcmp (argv[1], "add") != 0)
    return bad ("user", "unknown subcommand '%s' (add)", argv[1]);
  const char *cmd = "user add";
  const char *db = NULL, *slug = NULL, *email = NULL, *role = NULL,
             *pwf = NULL;
  argc--;
  argv++;
  const struct opt_arg args[]
      = { { "db", &db },     { "tenant", &slug },       { "email", &email },
          { "role", &role }, { "password-file", &pwf }, { NULL, NULL } };
  done = parse_opts (cmd, user_usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  if (!slug || !email || !role)
    return bad (cmd, "--tenant, --email and --role are required");
  const char *at = strchr (email, '@');
  if (!valid_text (email, 254) || at == NULL || at == email || at[1] == '\0'
      || strchr (at + 1, '@') || strchr (email, ' '))
    return bad (cmd, "--email: '%s' is not an e-mail address", email);
  int r = store_role_parse (role);
  if (r < 0)
    return bad (cmd, "--role: '%s' is not one of owner, admin, staff, viewer",
                role);
  char pw[MAX_PASSWORD];
  if (!read_password (pwf, pw, sizeof pw))
    return bad (cmd, "--password-file: no password given");
  if (strlen (pw) < 10)
    {
      sodium_memzero (pw, sizeof pw);
      return bad (cmd, "password: must have at least 10 characters");
    }
  struct store_user u;
  memset (&u, 0, sizeof u);
  for (size_t i = 0; email[i] && i < sizeof u.email - 1; i++)
    u.email[i] = (char)tolower ((unsigned char)email[i]);
  u.role = (enum store_role)r;
  bool hashed = store_password_hash (pw, u.pwhash);
  sodium_memzero (pw, sizeof pw);
  if (!hashed)
    return fail (cmd, "cannot hash the password (out of memory?)");
  struct store *s = open_db (cmd, db);
  if (!s)
    return EXIT_FAIL;
  struct store_tenant t;
  int rc = EXIT_OK;
  if (find_tenant (cmd, s, slug, &t, &rc))
    {
      enum store_status st = store_user_insert (s, t.id, &u);
      if (st == STORE_NONE)
        rc = bad (cmd, "--email: user %s already exists in %s", u.email,
                  t.slug);
      else if (st != STORE_ONE)
        rc = fail (cmd, "database error");
      else
        printf ("user %s (%s) added to %s\n", u.email,
                store_role_name (u.role), t.slug);
    }
  store_tenant_clear (&t);
  store_close (s);
  return rc;
}

/* ------------------------------------------------------------------ */
/* facturo apikey …                                                    */
/* ------------------------------------------------------------------ */

static const char apikey_usage[]
    = "usage: facturo apikey create --tenant SLUG [--name LABEL] [--db URL]\n"
      "       facturo apikey revoke --tenant SLUG PREFIX [--db URL]\n"
      "       facturo apikey list --tenant SLUG [--db URL]\n"
      "create prints only the new key on standard output; it is shown once.\n";

int
cmd_apikey (int argc, char **argv)
{
  int done = subcommand_usage (argc, argv, apikey_usage);
  if (done >= 0)
    return done;
  const char *sub = argv[1];
  char cmd[32];
  snprintf (cmd, sizeof cmd, "apikey %s", sub);
  if (strcmp (sub, "create") != 0 && strcmp (sub, "revoke") != 0
      && strcmp (sub, "list") != 0)
    return bad ("apikey", "unknown subcommand '%s' (create, revoke, list)",
                sub);
  const char *db = NULL, *slug = NULL, *name = NULL;
  argc--;
  argv++;
  const struct opt_arg args[] = {
    { "db", &db }, { "tenant", &slug }, { "name", &name }, { NULL, NULL }
  };
  done = parse_opts (cmd, apikey_usage, argc, argv, args, true);
  if (done >= 0)
    return done;
  if (!slug)
    return bad (cmd, "--tenant is required");
  const char *prefix = NULL;
  char pbuf[STORE_APIKEY_PREFIX_LEN + 1];
  if (strcmp (sub, "revoke") == 0)
    {
      if (optind + 1 != argc)
        return bad (cmd, "give exactly one key PREFIX (see apikey list)");
      const char *p = argv[optind];
      if (strncmp (p, "fk_", 3) == 0)
        p += 3; /* a whole key, or fk_PREFIX */
      size_t n = strspn (p, "0123456789abcdef");
      if (n < STORE_APIKEY_PREFIX_LEN
          || (p[STORE_APIKEY_PREFIX_LEN] != '\0'
              && p[STORE_APIKEY_PREFIX_LEN] != '_'))
        return bad (cmd, "PREFIX: '%.20s' is not a key prefix (16 hex digits)",
                    argv[optind]);
      memcpy (pbuf, p, STORE_APIKEY_PREFIX_LEN);
      pbuf[STORE_APIKEY_PREFIX_LEN] = '\0';
      prefix = pbuf;
    }
  else if (optind < argc)
    return bad (cmd, "unexpected argument '%s'", argv[optind]);
  if (name && strcmp (sub, "create") == 0 && strlen (name) > 0
      && !valid_text (name, 120))
    return bad (cmd, "--name: must be 1-120 bytes of printable text");
  struct store *s = open_db (cmd, db);
  if (!s)
    return EXIT_FAIL;
  struct store_tenant t;
  int rc = EXIT_OK;
  if (find_tenant (cmd, s, slug, &t, &rc))
    {
      if (strcmp (sub, "create") == 0)
        {
          char key[STORE_APIKEY_LEN + 1];
          if (store_apikey_create (s, t.id, name, key, NULL) != STORE_ONE)
            rc = fail (cmd, "database error");
          else
            {
              puts (key);
              fflush (stdout);
              sodium_memzero (key, sizeof key);
            }
        }
      else if (prefix)
        {
          enum store_status st = store_apikey_revoke (s, t.id, prefix);
          if (st == STORE_NONE)
            rc = bad (cmd, "PREFIX: no active key %s in %s", prefix, t.slug);
          else if (st != STORE_ONE)
            rc = fail (cmd, "database error");
          else
            printf ("key %s revoked\n", prefix);
        }
      else
        {
          struct store_apikey *a;
          size_t n;
          if (store_apikey_list (s, t.id, &a, &n) < 0)
            rc = fail (cmd, "database error");
          else
            {
              printf ("%-16s %-8s %-20s %s\n", "PREFIX", "STATUS", "CREATED",
                      "NAME");
              for (size_t i = 0; i < n; i++)
                {
                  char when[32];
                  time_t ts = (time_t)a[i].created_at;
                  strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ",
                            gmtime (&ts));
                  printf ("%-16s %-8s %-20s %s\n", a[i].prefix,
                          a[i].revoked ? "revoked" : "active", when,
                          a[i].name);
                }
            }
          free (a);
        }
    }
  store_tenant_clear (&t);
  store_close (s);
  return rc;
}

/* ------------------------------------------------------------------ */
/* facturo demo                                                        */
/* ------------------------------------------------------------------ */

static const char demo_usage[]
    = "usage: facturo demo [--db URL] [--key-file F]\n"
      "Creates (or completes) the demo merchant 'demo': SAT's test taxpayer\n"
      "EKU9003173C9 with SAT's test CSD, the sandbox stamping provider,\n"
      "series A, two branches and sample tickets.  Idempotent.  The first\n"
      "run creates an API key and prints it once on standard error, or\n"
      "writes it to F (mode 0600) with --key-file.\n";

/* Inserts the sample tickets not there yet; returns how many were new,
 * or -1 (message printed). */
static int
demo_tickets (struct store *s, const struct store_tenant *t)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/demo/tickets.json", datadir ());
  struct buf text = BUF_INIT;
  if (read_file (path, &text, 1 << 20) != 0)
    {
      fail ("demo", "cannot read %s (set FACTURO_DATA)", path);
      return -1;
    }
  json_error_t je;
  json_t *arr = json_load_exact (text.data, text.len, 16, &je);
  buf_free (&text);
  if (!json_is_array (arr))
    {
      fail ("demo", "%s: not a JSON array of tickets", path);
      json_decref (arr);
      return -1;
    }
  int added = 0;
  int64_t now = (int64_t)time (NULL);
  size_t i;
  json_t *o;
  json_array_foreach (arr, i, o)
  {
    /* Sales in the last few hours, so they are inside the self-invoice
     * window whenever the demo runs. */
    char date[TZ_ISO_MAX];
    tz_format_iso (tz_utc (), now - 3600 * (int64_t)(i + 1), date);
    json_object_set_new (o, "date", json_string (date));
    struct ticket tk;
    struct ferr err;
    memset (&err, 0, sizeof err);
    ticket_init (&tk);
    if (!ticket_from_json (o, tz_utc (), &tk, &err))
      {
        fail ("demo", "%s: ticket %zu: %s: %s", path, i, err.field,
              err.message);
        ticket_free (&tk);
        added = -1;
        break;
      }
    struct store_branch b;
    memset (&b, 0, sizeof b);
    if (store_branch_find_code (s, t->id, tk.branch, &b) != STORE_ONE)
      {
        fail ("demo", "ticket %zu: unknown branch %s", i, tk.branch);
        ticket_free (&tk);
        added = -1;
        break;
      }
    struct store_ticket row;
    memset (&row, 0, sizeof row);
    row.branch_id = b.id;
    snprintf (row.folio_number, sizeof row.folio_number, "%s",
              tk.folio_number);
    row.date = tk.date;
    memcpy (row.payment_form, tk.payment_form, sizeof row.payment_form);
    memcpy (row.currency, tk.currency, sizeof row.currency);
    json_t *items = ticket_items_json (&tk);
    row.items = json_dumps (items, JSON_COMPACT);
    json_decref (items);
    row.subtotal = tk.inv.subtotal;
    row.discount = tk.inv.discount;
    row.taxes = tk.inv.total_transferred;
    row.withheld = tk.inv.total_withheld;
    row.total = tk.inv.total;
    enum store_status st = store_ticket_insert (s, t->id, &row);
    if (st == STORE_ONE)
      {
        char tot[MONEY_BUFSZ];
        fprintf (stderr, "  ticket %s/%s total %s key %s\n", b.code,
                 row.folio_number, money_format (row.total, 2, tot), row.key);
        added++;
      }
    store_ticket_clear (&row);
    ticket_free (&tk);
    if (st < 0)
      {
        fail ("demo", "database error");
        added = -1;
        break;
      }
  }
  json_decref (arr);
  return added;
}

int
cmd_demo (int argc, char **argv)
{
  const char *db = NULL, *keyfile = NULL;
  const struct opt_arg args[]
      = { { "db", &db }, { "key-file", &keyfile }, { NULL, NULL } };
  int done = parse_opts ("demo", demo_usage, argc, argv, args, false);
  if (done >= 0)
    return done;
  struct store *s = open_db ("demo", db);
  if (!s)
    return EXIT_FAIL;
  int rc = EXIT_OK;
  struct store_tenant t;
  store_tenant_init (&t);
  enum store_status st = store_tenant_find_slug (s, "demo", &t);
  if (st == STORE_NONE)
    {
      store_tenant_init (&t);
      snprintf (t.slug, sizeof t.slug, "demo");
      snprintf (t.rfc, sizeof t.rfc, "EKU9003173C9");
      snprintf (t.name, sizeof t.name, "ESCUELA KEMPER URGATE");
      snprintf (t.regime, sizeof t.regime, "601");
      snprintf (t.zip, sizeof t.zip, "42501");
      snprintf (t.series, sizeof t.series, "A");
      snprintf (t.stamp, sizeof t.stamp, "sandbox");
      snprintf (t.periodicity, sizeof t.periodicity, "04");
      st = store_tenant_insert (s, &t);
      if (st == STORE_NONE) /* created meanwhile by another run */
        st = store_tenant_find_slug (s, "demo", &t);
      else if (st == STORE_ONE)
        fprintf (stderr, "demo merchant created: EKU9003173C9 ESCUELA KEMPER"
                         " URGATE, regime 601, zip 42501\n");
    }
  if (st != STORE_ONE)
    {
      rc = fail ("demo", "database error");
      goto out;
    }
  if (store_series_ensure (s, t.id, "A") < 0)
    {
      rc = fail ("demo", "database error");
      goto out;
    }
  static const struct
  {
    const char *code, *name, *zip;
  } branches[] = { { "MATRIZ", "Matriz Pachuca", "42501" },
                   { "CENTRO", "Sucursal Centro CDMX", "06000" } };
  for (size_t i = 0; i < sizeof branches / sizeof branches[0]; i++)
    {
      struct store_branch b;
      memset (&b, 0, sizeof b);
      snprintf (b.code, sizeof b.code, "%s", branches[i].code);
      snprintf (b.name, sizeof b.name, "%s", branches[i].name);
      snprintf (b.zip, sizeof b.zip, "%s", branches[i].zip);
      if (store_branch_insert (s, t.id, &b) < 0)
        {
          rc = fail ("demo", "database error");
          goto out;
        }
    }
  if (!t.has_csd)
    {
      char cer[4096], key[4096], pwf[4096], pw[MAX_PASSWORD];
      snprintf (cer, sizeof cer, "%s/demo/EKU9003173C9.cer", datadir ());
      snprintf (key, sizeof key, "%s/demo/EKU9003173C9.key", datadir ());
      snprintf (pwf, sizeof pwf, "%s/demo/EKU9003173C9.password", datadir ());
      if (!read_password (pwf, pw, sizeof pw))
        {
          rc = fail ("demo", "cannot read %s (set FACTURO_DATA)", pwf);
          goto out;
        }
      rc = install_csd ("demo", s, &t, cer, key, pw);
      sodium_memzero (pw, sizeof pw);
      if (rc != EXIT_OK)
        goto out;
    }
  int added = demo_tickets (s, &t);
  if (added < 0)
    {
      rc = EXIT_FAIL;
      goto out;
    }
  struct store_apikey *keys;
  size_t nkeys;
  if (store_apikey_list (s, t.id, &keys, &nkeys) < 0)
    {
      rc = fail ("demo", "database error");
      goto out;
    }
  free (keys);
  if (nkeys == 0)
    {
      char k[STORE_APIKEY_LEN + 1];
      if (store_apikey_create (s, t.id, "demo", k, NULL) != STORE_ONE)
        {
          rc = fail ("demo", "database error");
          goto out;
        }
      if (keyfile)
        {
          FILE *f = NULL;
          int fd
              = open (keyfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
          if (fd >= 0)
            f = fdopen (fd, "w");
          if (f == NULL || fprintf (f, "%s\n", k) < 0 || fclose (f) != 0)
            {
              sodium_memzero (k, sizeof k);
              rc = fail ("demo", "cannot write %s", keyfile);
              goto out;
            }
          fprintf (stderr, "API key of tenant 'demo' written to %s\n",
                   keyfile);
        }
      else
        fprintf (stderr,
                 "API key of tenant 'demo' (shown only this once; create"
                 " another with `facturo apikey create --tenant demo`):\n"
                 "  %s\n"
                 "Use it as: Authorization: Bearer <key>\n",
                 k);
      sodium_memzero (k, sizeof k);
    }
  fprintf (stderr, "demo ready: tenant 'demo', %d new ticket%s\n", added,
           added == 1 ? "" : "s");
out:
  store_tenant_clear (&t);
  store_close (s);
  return rc;
}
