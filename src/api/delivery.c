/*
 * delivery.c — the HTTP side of invoice delivery (issue 5) and the
 * merchant's mail settings.
 *
 *   GET  /_mail/d/{token}          signed download link from a mail (public)
 *   GET  /_mail/t/{token}.gif      tracking image (public)
 *   POST /v1/invoices/{id}/email   send the invoice's mail again
 *   GET  /v1/invoices/{id}/events  the invoice's tracking timeline
 *   facturo tenant mail …          per-merchant sender, SMTP, language,
 *                                  templates; SMTP password encrypted
 *
 * The work itself is the mail library's (jobs/jobs.h: mail_download,
 * mail_pixel_hit, mail_enqueue_invoice) and the store's (events, the
 * encrypted password); this file maps it onto HTTP and a command line.
 * Public routes answer without leaking: every forged link gets the same
 * 403, every expired one the same 410, and the image is always the same
 * GIF.  API routes are scoped by the key's tenant (another tenant's
 * invoice is a 404), and mail queued here follows the merchant's
 * language, never the API client's Accept-Language.
 */
#include "api/delivery.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "api/api.h"
#include "jobs/jobs.h"
#include "jobs/mail.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"

/* ------------------------------------------------------------------ */
/* GET /_mail/d/{token}, GET /_mail/t/{token}.gif                     */
/* ------------------------------------------------------------------ */

/* Content-Disposition's file name: only [A-Za-z0-9._-] survive. */
static void
safe_filename (const char *in, char *out, size_t size)
{
  size_t n = 0;
  for (; *in && n + 1 < size; in++)
    {
      char c = *in;
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
      out[n++] = ok ? c : '_';
    }
  out[n] = '\0';
  if (n == 0)
    snprintf (out, size, "factura");
}

enum MHD_Result
api_mail_get_download (struct req *rq)
{
  const char *token = rq->params[0];
  time_t now = time (NULL);
  struct mail_link l;
  if (!mail_link_check_download (rq->app->secret, token, now, &l))
    {
      /* Signed by us but past its date (checking as of time 0 skips the
       * date): 410.  Anything else: 403, the same for every token. */
      bool ours = mail_link_check_download (rq->app->secret, token, 0, &l);
      return reply_error (rq, ours ? ERR_LINK_EXPIRED : ERR_LINK_INVALID,
                          NULL);
    }
  struct mail_download d;
  mail_download (rq->app->store, rq->app->secret, token, now, &d);
  if (d.status != 200)
    {
      int status = d.status;
      mail_download_clear (&d);
      return status == 503 ? reply_error (rq, ERR_UNAVAILABLE, NULL)
                           : reply_error (rq, ERR_NOT_FOUND, NULL);
    }
  char name[160], disp[220];
  safe_filename (d.filename, name, sizeof name);
  snprintf (disp, sizeof disp, "attachment; filename=\"%s\"", name);
  struct MHD_Response *r
      = MHD_create_response_from_buffer (d.len, d.body, MHD_RESPMEM_MUST_FREE);
  if (r == NULL)
    {
      mail_download_clear (&d);
      return MHD_NO;
    }
  size_t len = d.len;
  d.body = NULL; /* owned by the response now */
  MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE, d.content_type);
  MHD_add_response_header (r, "Content-Disposition", disp);
  reply_secure_headers (r); /* includes Cache-Control: no-store */
  MHD_add_response_header (r, "X-Request-Id", rq->request_id);
  mail_download_clear (&d);
  enum MHD_Result ret = MHD_queue_response (rq->conn, 200, r);
  MHD_destroy_response (r);
  rq->replied = true;
  rq->status = 200;
  rq->reply_bytes = len;
  return ret;
}

enum MHD_Result
api_mail_get_pixel (struct req *rq)
{
  mail_pixel_hit (rq->app->store, rq->app->secret, rq->params[0], time (NULL));
  return reply_text (rq, 200, "image/gif", (const char *)mail_pixel_gif,
                     mail_pixel_gif_len);
}

/* ------------------------------------------------------------------ */
/* POST /v1/invoices/{id}/email                                       */
/* ------------------------------------------------------------------ */

struct email_post
{
  int64_t invoice;
  const char *to[DELIVERY_MAX_TO]; /* borrowed from rq->json */
  size_t n_to;                     /* 0 = the original addresses */
  char actor[64];
  int64_t job; /* set by email_fn */
};

/* The addresses of the invoice's first mail (its first mail_queued
 * event), appended to `to`. */
static enum store_status
original_addresses (struct store *s, int64_t tenant, int64_t invoice,
                    json_t *to)
{
  struct store_event *ev = NULL;
  size_t n = 0;
  enum store_status st = store_event_list (s, tenant, invoice, &ev, &n);
  if (st < 0)
    return st;
  for (size_t i = 0; i < n; i++)
    {
      if (strcmp (ev[i].kind, "mail_queued") != 0 || ev[i].detail == NULL)
        continue;
      json_t *d = json_loads (ev[i].detail, 0, NULL);
      size_t k;
      json_t *a;
      json_array_foreach (json_object_get (d, "to"), k, a)
      {
        if (json_is_string (a) && mail_address_valid (json_string_value (a))
            && json_array_size (to) < DELIVERY_MAX_TO)
          json_array_append (to, a);
      }
      json_decref (d);
      break;
    }
  store_event_list_free (ev, n);
  return STORE_ONE;
}

/* Inside api_post_run's transaction: may run more than once. */
static enum store_status
email_fn (struct store *s, struct api_post *p)
{
  struct email_post *c = p->arg;
  int64_t tenant = p->rq->tenant_id;
  c->job = 0;
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  enum store_status st
      = store_invoice_get (s, tenant, c->invoice, false, &inv);
  char email[sizeof inv.customer_email];
  snprintf (email, sizeof email, "%s", inv.customer_email);
  store_invoice_clear (&inv);
  if (st == STORE_NONE)
    {
      api_error_answer (p, ERR_NOT_FOUND, NULL);
      return STORE_ONE;
    }
  if (st < 0)
    return st;
  json_t *to = json_array ();
  for (size_t i = 0; i < c->n_to; i++)
    json_array_append_new (to, json_string (c->to[i]));
  if (c->n_to == 0)
    {
      st = original_addresses (s, tenant, c->invoice, to);
      if (st < 0)
        {
          json_decref (to);
          return st;
        }
      if (json_array_size (to) == 0 && mail_address_valid (email))
        json_array_append_new (to, json_string (email));
    }
  size_t n = json_array_size (to);
  if (n == 0)
    {
      json_decref (to);
      api_error_answer (p, ERR_MISSING_FIELD, "to"); /* none on record */
      return STORE_ONE;
    }
  const char *addr[DELIVERY_MAX_TO];
  for (size_t i = 0; i < n; i++)
    addr[i] = json_string_value (json_array_get (to, i));
  /* lang NULL: the merchant's language (branding.mail.lang), never the
   * API client's. */
  st = mail_enqueue_invoice (s, tenant, c->invoice, addr, n, NULL, c->actor,
                             &c->job);
  if (st != STORE_ONE)
    {
      json_decref (to);
      if (st < 0)
        return st;
      api_error_answer (p, ERR_INVALID_FIELD, "to");
      return STORE_ONE;
    }
  api_json_answer (p, 202,
                   json_pack ("{s:o, s:o, s:o}", "job", api_id_json (c->job),
                              "invoice_id", api_id_json (c->invoice), "to",
                              to));
  return STORE_ONE;
}

enum MHD_Result
api_invoices_post_id_email (struct req *rq)
{
  struct email_post c;
  memset (&c, 0, sizeof c);
  if (!api_param_id (rq, 0, &c.invoice))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  static const char *const keys[] = { "to", NULL };
  const char *bad = json_unknown_key (rq->json, keys);
  if (bad)
    return reply_error (rq, ERR_UNKNOWN_FIELD, bad);
  json_t *v = json_object_get (rq->json, "to");
  if (json_is_string (v))
    c.to[c.n_to++] = json_string_value (v);
  else if (json_is_array (v))
    {
      if (json_array_size (v) == 0 || json_array_size (v) > DELIVERY_MAX_TO)
        return reply_error (rq, ERR_INVALID_FIELD, "to");
      size_t i;
      json_t *a;
      json_array_foreach (v, i, a)
      {
        if (!json_is_string (a))
          return reply_error (rq, ERR_INVALID_FIELD, "to");
        c.to[c.n_to++] = json_string_value (a);
      }
    }
  else if (v != NULL && !json_is_null (v))
    return reply_error (rq, ERR_INVALID_FIELD, "to");
  for (size_t i = 0; i < c.n_to; i++)
    if (!mail_address_valid (c.to[i]))
      return reply_error (rq, ERR_INVALID_FIELD, "to");
  snprintf (c.actor, sizeof c.actor, "apikey:%lld", (long long)rq->apikey_id);
  enum MHD_Result ret = api_post_run (rq, email_fn, &c);
  if (rq->status == 202)
    jobs_wake_all (); /* committed: send now, not at the next poll */
  return ret;
}

/* ------------------------------------------------------------------ */
/* GET /v1/invoices/{id}/events                                       */
/* ------------------------------------------------------------------ */

struct events_read
{
  int64_t tenant, invoice;
  struct store_event *ev;
  size_t n;
};

static enum store_status
events_fn (struct store *s, void *arg)
{
  struct events_read *x = arg;
  store_event_list_free (x->ev, x->n);
  x->ev = NULL;
  x->n = 0;
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  enum store_status st
      = store_invoice_get (s, x->tenant, x->invoice, false, &inv);
  store_invoice_clear (&inv);
  if (st != STORE_ONE)
    return st;
  st = store_event_list (s, x->tenant, x->invoice, &x->ev, &x->n);
  return st < 0 ? st : STORE_ONE;
}

enum MHD_Result
api_invoices_get_id_events (struct req *rq)
{
  struct events_read x = { rq->tenant_id, 0, NULL, 0 };
  if (!api_param_id (rq, 0, &x.invoice))
    return reply_error (rq, ERR_NOT_FOUND, NULL);
  enum store_status st = store_tx_read (rq->app->store, events_fn, &x);
  if (st != STORE_ONE)
    {
      store_event_list_free (x.ev, x.n);
      return st == STORE_NONE ? reply_error (rq, ERR_NOT_FOUND, NULL)
                              : api_store_failed (rq, st);
    }
  json_t *a = json_array ();
  for (size_t i = 0; i < x.n && i < DELIVERY_MAX_EVENTS; i++)
    {
      const struct store_event *e = &x.ev[i];
      json_t *detail = NULL;
      if (e->detail)
        {
          detail = json_loads (e->detail, JSON_DECODE_ANY, NULL);
          if (detail == NULL)
            detail = json_string (e->detail);
        }
      json_array_append_new (
          a, json_pack ("{s:o, s:s, s:s, s:o}", "time", api_time_json (e->at),
                        "kind", e->kind, "actor", e->actor, "detail",
                        detail ? detail : json_null ()));
    }
  bool truncated = x.n > DELIVERY_MAX_EVENTS;
  store_event_list_free (x.ev, x.n);
  return reply_json (rq, 200,
                     json_pack ("{s:o, s:o, s:b}", "invoice_id",
                                api_id_json (x.invoice), "events", a,
                                "truncated", truncated));
}

/* ------------------------------------------------------------------ */
/* facturo tenant mail                                                */
/* ------------------------------------------------------------------ */

enum
{
  EXIT_OK = 0,
  EXIT_FAIL = 1,
  EXIT_USAGE = 2
};

#define CMD "tenant mail"
#define PASSWORD_MAX 1024
#define TEMPLATE_MAX (64 * 1024) /* per file: branding is read often */

static const char mail_usage[]
    = "usage: facturo tenant mail --tenant SLUG [--from ADDR]"
      " [--from-name NAME] [--reply-to ADDR] [--lang es|en]\n"
      "         [--smtp-url URL] [--smtp-user USER]"
      " [--smtp-password-file F|-] [--templates DIR] [--db URL]\n"
      "Shows the merchant's mail settings, or changes the ones given (an\n"
      "empty value removes a setting; an empty password file removes the\n"
      "password).  URL: smtp[s]://host[:port][?tls=…] without a password:\n"
      "the password is read from F (first line; - = stdin) and stored\n"
      "encrypted under the master key.  DIR holds es/ and en/ folders with\n"
      "invoice.subject.txt, invoice.txt, invoice.html (any of them).\n"
      "See docs/mail.md.\n";

static int cli_bad (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));
static int
cli_bad (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "facturo " CMD ": ");
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  return EXIT_USAGE;
}

/* True if s is at most max bytes with no control character. */
static bool
plain_text (const char *s, size_t max)
{
  size_t n = strlen (s);
  if (n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return false;
  return true;
}

/* Reads the first line of path ("-" = stdin) into out (cap bytes).
 * False if it cannot be read or is too long.  An empty line is fine. */
static bool
read_password (const char *path, char *out, size_t cap)
{
  FILE *f = strcmp (path, "-") == 0 ? stdin : fopen (path, "r");
  if (f == NULL)
    return false;
  out[0] = '\0';
  bool ok = fgets (out, (int)cap, f) != NULL || feof (f);
  if (f != stdin)
    fclose (f);
  if (!ok)
    return false;
  size_t n = strcspn (out, "\r\n");
  if (out[n] == '\0' && strlen (out) == cap - 1)
    return false; /* no line end within the bound: too long */
  out[n] = '\0';
  return true;
}

/* Reads DIR/<lang>/invoice.{subject.txt,txt,html} into a JSON object
 * {lang:{"invoice":{part:text}}}, each checked by the template parser.
 * NULL with a line on stderr when a file is bad or none exists. */
static json_t *
read_templates (const char *dir)
{
  static const char *const langs[] = { "es", "en" };
  static const char *const files[][2] = { { "invoice.subject.txt", "subject" },
                                          { "invoice.txt", "text" },
                                          { "invoice.html", "html" } };
  json_t *out = json_object ();
  struct mail_tmpl *check = mail_tmpl_new ();
  size_t found = 0;
  bool ok = true;
  for (size_t l = 0; l < 2 && ok; l++)
    for (size_t k = 0; k < 3 && ok; k++)
      {
        char path[4200];
        snprintf (path, sizeof path, "%s/%s/%s", dir, langs[l], files[k][0]);
        struct buf b = BUF_INIT;
        if (read_file (path, &b, TEMPLATE_MAX) != 0)
          {
            FILE *probe = fopen (path, "r");
            if (probe)
              {
                fclose (probe);
                cli_bad ("--templates: %s is larger than %d KiB", path,
                         TEMPLATE_MAX / 1024);
                ok = false;
              }
            buf_free (&b);
            continue;
          }
        const char *text = b.data ? b.data : "";
        if (strlen (text) != b.len
            || !mail_tmpl_set (check, langs[l], "invoice", files[k][1], text))
          {
            cli_bad ("--templates: %s does not parse (see docs/mail.md)",
                     path);
            ok = false;
          }
        else
          {
            json_t *lo = json_object_get (out, langs[l]);
            if (lo == NULL)
              {
                lo = json_pack ("{s:{}}", "invoice");
                json_object_set_new (out, langs[l], lo);
              }
            json_object_set_new (json_object_get (lo, "invoice"), files[k][1],
                                 json_string (text));
            found++;
          }
        buf_free (&b);
      }
  mail_tmpl_free (check);
  if (ok && found == 0)
    {
      cli_bad ("--templates: no es/ or en/ invoice.subject.txt, invoice.txt"
               " or invoice.html in %s",
               dir);
      ok = false;
    }
  if (!ok)
    {
      json_decref (out);
      return NULL;
    }
  return out;
}

/* Sets key of o to v (a new string), or removes it when v is "". */
static void
set_or_remove (json_t *o, const char *key, const char *v)
{
  if (v == NULL)
    return;
  if (v[0] == '\0')
    json_object_del (o, key);
  else
    json_object_set_new (o, key, json_string (v));
}

/* password: 1 set, 0 none, -1 cannot be read. */
static void
print_settings (const struct store_tenant *t, const json_t *mail, int password)
{
  const char *v;
#define SHOW(label, key, dflt)                                                \
  v = json_string_value (json_object_get (mail, key));                        \
  printf ("  %-14s %s\n", label, v &&v[0] ? v : dflt)
  printf ("tenant %s mail settings:\n", t->slug);
  SHOW ("from", "from", "- (FACTURO_MAIL_FROM)");
  SHOW ("from_name", "from_name", "- (FACTURO_MAIL_FROM_NAME or the name)");
  SHOW ("reply_to", "reply_to", "-");
  SHOW ("lang", "lang", "es (default)");
#undef SHOW
  v = json_string_value (json_object_get (mail, "smtp_url"));
  if (v && v[0])
    {
      struct mail_smtp sm;
      char e[160];
      memset (&sm, 0, sizeof sm);
      bool clear_pw
          = mail_smtp_parse_url (v, &sm, e, sizeof e) && sm.password != NULL;
      mail_smtp_clear (&sm);
      /* Never print a password, even one left in a URL set by hand. */
      printf ("  %-14s %s\n", "smtp_url",
              clear_pw ? "set, but it holds a password in clear: set it"
                         " again without one"
                       : v);
    }
  else
    printf ("  %-14s %s\n", "smtp_url", "- (FACTURO_SMTP_URL)");
  v = json_string_value (json_object_get (mail, "smtp_user"));
  printf ("  %-14s %s\n", "smtp_user", v && v[0] ? v : "-");
  printf ("  %-14s %s\n", "smtp_password",
          password > 0    ? "set (encrypted)"
          : password == 0 ? "-"
                          : "set, but it cannot be read (database or"
                            " master key)");
  printf ("  %-14s", "templates");
  const char *lang, *part;
  json_t *lo, *text;
  size_t shown = 0;
  json_object_foreach (json_object_get (mail, "templates"), lang, lo)
  {
    json_object_foreach (json_object_get (lo, "invoice"), part, text)
    {
      printf (" %s/%s", lang, part);
      shown++;
    }
  }
  printf ("%s\n", shown ? "" : " - (shipped)");
}

static enum store_status
tx_save (struct store *s, void *arg)
{
  struct store_tenant *t = arg;
  return store_tenant_update (s, t->id, t);
}

int
delivery_tenant_mail (int argc, char **argv)
{
  static const struct option opts[]
      = { { "db", required_argument, 0, 'd' },
          { "tenant", required_argument, 0, 't' },
          { "from", required_argument, 0, 'f' },
          { "from-name", required_argument, 0, 'n' },
          { "reply-to", required_argument, 0, 'r' },
          { "lang", required_argument, 0, 'l' },
          { "smtp-url", required_argument, 0, 'u' },
          { "smtp-user", required_argument, 0, 'U' },
          { "smtp-password-file", required_argument, 0, 'p' },
          { "templates", required_argument, 0, 'T' },
          { "help", no_argument, 0, 'h' },
          { 0, 0, 0, 0 } };
  const char *db = NULL, *slug = NULL, *from = NULL, *from_name = NULL,
             *reply_to = NULL, *lang = NULL, *smtp_url = NULL,
             *smtp_user = NULL, *pw_file = NULL, *tdir = NULL;
  int c;
  optind = 0;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    switch (c)
      {
      case 'd':
        db = optarg;
        break;
      case 't':
        slug = optarg;
        break;
      case 'f':
        from = optarg;
        break;
      case 'n':
        from_name = optarg;
        break;
      case 'r':
        reply_to = optarg;
        break;
      case 'l':
        lang = optarg;
        break;
      case 'u':
        smtp_url = optarg;
        break;
      case 'U':
        smtp_user = optarg;
        break;
      case 'p':
        pw_file = optarg;
        break;
      case 'T':
        tdir = optarg;
        break;
      case 'h':
        fputs (mail_usage, stdout);
        return EXIT_OK;
      default:
        {
          const char *o
              = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
          return cli_bad ("unknown option or missing value: '%s' (see"
                          " --help)",
                          o);
        }
      }
  if (optind < argc)
    return cli_bad ("unexpected argument '%s'", argv[optind]);
  if (slug == NULL)
    return cli_bad ("--tenant is required");

  /* Check everything before touching the database. */
  if (from && from[0] && !mail_address_valid (from))
    return cli_bad ("--from: '%s' is not an address facturo can send from"
                    " (plain ASCII local@domain.tld)",
                    from);
  if (reply_to && reply_to[0] && !mail_address_valid (reply_to))
    return cli_bad ("--reply-to: '%s' is not a plain ASCII address", reply_to);
  if (from_name && !plain_text (from_name, 200))
    return cli_bad ("--from-name: at most 200 bytes, no control characters");
  if (lang && lang[0] && strcmp (lang, "es") != 0 && strcmp (lang, "en") != 0)
    return cli_bad ("--lang: '%s' is not es or en", lang);
  if (smtp_user && !plain_text (smtp_user, 256))
    return cli_bad ("--smtp-user: at most 256 bytes, no control characters");
  if (smtp_url && smtp_url[0])
    {
      struct mail_smtp sm;
      char e[160];
      memset (&sm, 0, sizeof sm);
      if (strlen (smtp_url) > 1000 || !plain_text (smtp_url, 1000)
          || !mail_smtp_parse_url (smtp_url, &sm, e, sizeof e))
        return cli_bad ("--smtp-url: not an smtp:// or smtps:// URL (%s)",
                        strlen (smtp_url) > 1000 ? "too long" : e);
      bool has_pw = sm.password != NULL;
      mail_smtp_clear (&sm);
      if (has_pw)
        return cli_bad ("--smtp-url: leave the password out of the URL and"
                        " give it with --smtp-password-file (it is stored"
                        " encrypted)");
    }
  char password[PASSWORD_MAX + 2];
  password[0] = '\0';
  if (pw_file && !read_password (pw_file, password, sizeof password))
    {
      sodium_memzero (password, sizeof password);
      return cli_bad ("--smtp-password-file: cannot read '%s' (or its first"
                      " line is over %d bytes)",
                      pw_file, PASSWORD_MAX);
    }
  json_t *templates = NULL;
  if (tdir && tdir[0] && (templates = read_templates (tdir)) == NULL)
    {
      sodium_memzero (password, sizeof password);
      return EXIT_USAGE; /* read_templates said why */
    }

  struct ferr err;
  memset (&err, 0, sizeof err);
  const char *url = db && *db ? db : getenv ("FACTURO_DB");
  struct store *s = store_open (url && *url ? url : "sqlite:facturo.db", &err);
  int rc = EXIT_OK;
  struct store_tenant t;
  memset (&t, 0, sizeof t);
  json_t *branding = NULL;
  if (s == NULL)
    {
      fprintf (stderr, "facturo " CMD ": %s\n", err.message);
      rc = EXIT_FAIL;
      goto out;
    }
  if (store_migrate (s, NULL) != STORE_ONE)
    {
      fprintf (stderr, "facturo " CMD ": cannot migrate the database\n");
      rc = EXIT_FAIL;
      goto out;
    }
  enum store_status st = store_tenant_find_slug (s, slug, &t);
  if (st != STORE_ONE)
    {
      rc = st == STORE_NONE ? cli_bad ("--tenant: no tenant '%s'", slug)
                            : EXIT_FAIL;
      if (st != STORE_NONE)
        fprintf (stderr, "facturo " CMD ": database error\n");
      goto out;
    }
  if (t.branding && t.branding[0])
    {
      branding = json_loads (t.branding, 0, NULL);
      if (!json_is_object (branding))
        {
          fprintf (stderr,
                   "facturo " CMD ": the tenant's branding is not a JSON"
                   " object; not changed\n");
          rc = EXIT_FAIL;
          goto out;
        }
    }
  else
    branding = json_object ();
  json_t *mail = json_object_get (branding, "mail");
  if (!json_is_object (mail))
    {
      mail = json_object ();
      json_object_set_new (branding, "mail", mail);
    }
  bool change
      = from || from_name || reply_to || lang || smtp_url || smtp_user || tdir;
  set_or_remove (mail, "from", from);
  set_or_remove (mail, "from_name", from_name);
  set_or_remove (mail, "reply_to", reply_to);
  set_or_remove (mail, "lang", lang);
  set_or_remove (mail, "smtp_url", smtp_url);
  set_or_remove (mail, "smtp_user", smtp_user);
  if (tdir && tdir[0] == '\0')
    json_object_del (mail, "templates");
  else if (templates)
    json_object_set (mail, "templates", templates);
  if (change)
    {
      if (json_object_size (mail) == 0)
        json_object_del (branding, "mail");
      char *text = json_dumps (branding, JSON_COMPACT);
      free (t.branding);
      t.branding = json_object_size (branding) ? text : NULL;
      if (t.branding == NULL)
        free (text);
      if (store_tx (s, tx_save, &t) != STORE_ONE)
        {
          fprintf (stderr, "facturo " CMD ": database error\n");
          rc = EXIT_FAIL;
          goto out;
        }
    }
  if (pw_file
      && store_tenant_smtp_password_set (s, t.id, password) != STORE_ONE)
    {
      fprintf (stderr,
               "facturo " CMD ": cannot store the SMTP password (database"
               " or master key)\n");
      rc = EXIT_FAIL;
      goto out;
    }
  char *pw = NULL;
  st = store_tenant_smtp_password_get (s, t.id, &pw);
  if (pw)
    {
      sodium_memzero (pw, strlen (pw));
      free (pw);
    }
  json_t *shown = json_object_get (branding, "mail");
  print_settings (&t, shown, st == STORE_ONE ? 1 : st == STORE_NONE ? 0 : -1);
  if (st == STORE_ONE && json_object_get (shown, "smtp_user") == NULL)
    {
      struct mail_smtp sm;
      char e[160];
      memset (&sm, 0, sizeof sm);
      const char *u = json_string_value (json_object_get (shown, "smtp_url"));
      bool user = u && mail_smtp_parse_url (u, &sm, e, sizeof e) && sm.user;
      mail_smtp_clear (&sm);
      if (!user)
        fprintf (stderr, "facturo " CMD ": note: the SMTP password is used"
                         " only with a user (--smtp-user)\n");
    }
out:
  sodium_memzero (password, sizeof password);
  json_decref (templates);
  json_decref (branding);
  store_tenant_clear (&t);
  store_close (s);
  return rc;
}
