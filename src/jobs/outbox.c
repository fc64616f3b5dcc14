/*
 * outbox.c — the durable mail outbox: queueing an invoice's e-mail and
 * the worker threads that send it.  Contracts in jobs.h; the operator's
 * view in docs/mail.md.
 *
 * A mail job's payload is {"invoice_id":N,"to":[…],"lang":"es"}.  A
 * worker claims one due job with a lease (store_job_claim: SKIP LOCKED on
 * PostgreSQL, one UPDATE on SQLite, so two threads or two processes
 * never hold the same job), builds the message from the invoice as it is
 * stored, sends it, and then — in one transaction — marks the job done
 * and writes "mail_sent" with the server's reply.  Temporary failures go
 * back to the queue with exponential backoff (base·2^(n-1), ±20 % jitter,
 * capped); permanent ones and the last allowed attempt end the job DEAD
 * with "mail_failed" and the server's reason.
 *
 * What is deliberately not here: the HTTP side of links and tracking
 * (track.c has the functions the routes call), and bounce processing
 * (a 5xx after acceptance arrives later as a bounce mail, not seen here).
 */
#include "jobs/jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/money.h"
#include "jobs/mail.h"
#include "pdf/pdf.h"
#include "store/branding.h"
#include "util/log.h"

/* The PDF module may not be linked into every binary (tests, tools): take
 * pdf_render_cfdi when it is there, and send the XML alone when not. */
#pragma weak pdf_render_cfdi

#define MAIL_JOB_KIND "mail"
#define PAYLOAD_MAX 16384

/* ==================================================================== */
/* Configuration                                                        */
/* ==================================================================== */

void
jobs_config_defaults (struct jobs_config *c)
{
  memset (c, 0, sizeof *c);
  c->workers = 2;
  c->poll_ms = 1000;
  c->lease_seconds = 300;
  c->max_attempts = 12;
  c->backoff_base = 30;
  c->backoff_max = 6 * 3600;
  c->link_days = 30;
  c->render_pdf = true;
}

static bool
env_str (const char *name, char *dst, size_t size, char *err, size_t errsz)
{
  const char *v = getenv (name);
  if (v == NULL)
    return true;
  if (strlen (v) >= size)
    {
      snprintf (err, errsz, "%s is too long", name);
      return false;
    }
  strcpy (dst, v);
  return true;
}

static bool
env_uint (const char *name, unsigned *dst, unsigned min, unsigned max,
          char *err, size_t errsz)
{
  const char *v = getenv (name);
  if (v == NULL)
    return true;
  char *end;
  errno = 0;
  unsigned long x = strtoul (v, &end, 10);
  if (errno || end == v || *end || x < min || x > max)
    {
      snprintf (err, errsz, "%s must be a number from %u to %u", name, min,
                max);
      return false;
    }
  *dst = (unsigned) x;
  return true;
}

static bool
config_check (const struct jobs_config *c, char *err, size_t errsz)
{
  if (c->smtp_url[0])
    {
      struct mail_smtp s;
      char e[160];
      if (!mail_smtp_parse_url (c->smtp_url, &s, e, sizeof e))
        {
          snprintf (err, errsz, "smtp_url: %s", e);
          return false;
        }
      mail_smtp_clear (&s);
    }
  if (c->mail_from[0] && !mail_address_valid (c->mail_from))
    {
      snprintf (err, errsz, "mail_from is not a valid address");
      return false;
    }
  if (c->lease_seconds < 2 || c->max_attempts < 1 || c->backoff_base < 1
      || c->backoff_max < c->backoff_base || c->link_days < 1)
    {
      snprintf (err, errsz, "invalid mail retry or lease settings");
      return false;
    }
  return true;
}

bool
jobs_config_load_env (struct jobs_config *c, char *err, size_t errsz)
{
  bool ok = env_str ("FACTURO_SMTP_URL", c->smtp_url, sizeof c->smtp_url,
                     err, errsz)
            && env_str ("FACTURO_MAIL_FROM", c->mail_from,
                        sizeof c->mail_from, err, errsz)
            && env_str ("FACTURO_MAIL_FROM_NAME", c->mail_from_name,
                        sizeof c->mail_from_name, err, errsz)
            && env_str ("FACTURO_BASE_URL", c->base_url, sizeof c->base_url,
                        err, errsz)
            && env_str ("FACTURO_MAIL_TEMPLATES", c->templates_dir,
                        sizeof c->templates_dir, err, errsz)
            && env_str ("FACTURO_MAIL_TENANT_TEMPLATES",
                        c->tenant_templates_dir,
                        sizeof c->tenant_templates_dir, err, errsz)
            && env_uint ("FACTURO_MAIL_WORKERS", &c->workers, 0, 64, err,
                         errsz)
            && env_uint ("FACTURO_MAIL_POLL_MS", &c->poll_ms, 10, 60000, err,
                         errsz)
            && env_uint ("FACTURO_MAIL_LEASE", &c->lease_seconds, 2, 86400,
                         err, errsz)
            && env_uint ("FACTURO_MAIL_MAX_ATTEMPTS", &c->max_attempts, 1,
                         1000, err, errsz)
            && env_uint ("FACTURO_MAIL_BACKOFF_BASE", &c->backoff_base, 1,
                         86400, err, errsz)
            && env_uint ("FACTURO_MAIL_BACKOFF_MAX", &c->backoff_max, 1,
                         7 * 86400, err, errsz);
  return ok && config_check (c, err, errsz);
}

/* ==================================================================== */
/* Queueing                                                             */
/* ==================================================================== */

struct enqueue_arg
{
  int64_t tenant_id, invoice_id;
  const char *const *to;
  size_t n_to;
  const char *lang;
  const char *actor;
  int64_t job_id;
};

static enum store_status
tx_enqueue (struct store *s, void *arg)
{
  struct enqueue_arg *a = arg;
  struct store_invoice inv = { 0 };
  enum store_status st
      = store_invoice_get (s, a->tenant_id, a->invoice_id, false, &inv);
  if (st != STORE_ONE)
    {
      store_invoice_clear (&inv);
      return st;
    }
  json_t *to = json_array ();
  if (a->n_to == 0)
    {
      if (mail_address_valid (inv.customer_email))
        json_array_append_new (to, json_string (inv.customer_email));
    }
  else
    for (size_t i = 0; i < a->n_to; i++)
      json_array_append_new (to, json_string (a->to[i]));
  store_invoice_clear (&inv);
  if (json_array_size (to) == 0)
    {
      json_decref (to);
      return STORE_NONE;
    }
  json_t *p = json_pack ("{s:I, s:O}", "invoice_id",
                         (json_int_t) a->invoice_id, "to", to);
  if (a->lang != NULL)
    json_object_set_new (p, "lang", json_string (a->lang));
  char *payload = json_dumps (p, JSON_COMPACT);
  json_decref (p);
  st = store_job_enqueue (s, a->tenant_id, MAIL_JOB_KIND, payload, 0,
                          &a->job_id);
  free (payload);
  if (st == STORE_ONE)
    {
      json_t *d = json_pack ("{s:I, s:O}", "job", (json_int_t) a->job_id,
                             "to", to);
      char *detail = json_dumps (d, JSON_COMPACT);
      json_decref (d);
      st = store_event_add (s, a->tenant_id, a->invoice_id, 0, "mail_queued",
                            a->actor ? a->actor : "system", detail, NULL);
      free (detail);
    }
  json_decref (to);
  return st;
}

enum store_status
mail_enqueue_invoice (struct store *s, int64_t tenant_id, int64_t invoice_id,
                      const char *const *to, size_t n_to, const char *lang,
                      const char *actor, int64_t *job_id)
{
  if (n_to > MAIL_MAX_TO || (n_to > 0 && to == NULL))
    return STORE_NONE;
  for (size_t i = 0; i < n_to; i++)
    if (!mail_address_valid (to[i]))
      return STORE_NONE;
  if (lang != NULL
      && !(strlen (lang) == 2 && lang[0] >= 'a' && lang[0] <= 'z'
           && lang[1] >= 'a' && lang[1] <= 'z'))
    return STORE_NONE;
  struct enqueue_arg a = { tenant_id, invoice_id, to, n_to, lang, actor, 0 };
  enum store_status st = store_tx (s, tx_enqueue, &a);
  if (st == STORE_ONE && job_id != NULL)
    *job_id = a.job_id;
  return st;
}

/* ==================================================================== */
/* Workers                                                              */
/* ==================================================================== */

struct jobs
{
  struct jobs *next_running; /* registry of jobs_wake_all */
  struct store *store;
  struct jobs_config cfg;
  struct mail_tmpl *tmpl;
  pthread_t *threads;
  unsigned n_threads;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stopping;
  unsigned wakes; /* bumped by jobs_wake */
};

/* Every started jobs of this process, for jobs_wake_all (the HTTP
 * handlers that queue mail do not hold the handle serve started). */
static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static struct jobs *running;

/* Backoff before attempt n+1 after n failed attempts: base·2^(n-1),
 * capped, then ±20 % jitter so a recovering server is not hit by every
 * job in the same second. */
static int64_t
backoff_seconds (const struct jobs_config *c, int attempts)
{
  uint64_t d = c->backoff_base;
  for (int i = 1; i < attempts && d < c->backoff_max; i++)
    d *= 2;
  if (d > c->backoff_max)
    d = c->backoff_max;
  uint64_t span = d / 5;
  if (span > 0)
    d = d - span + randombytes_uniform ((uint32_t) (2 * span + 1));
  return d < 1 ? 1 : (int64_t) d;
}

/* "1234567.5" -> "1,234,567.50" (display only; the exact amount is in
 * the XML). */
static void
format_total (int64_t micros, struct buf *out)
{
  char num[MONEY_BUFSZ];
  money_format (money_round (micros, 2), 2, num);
  const char *p = num;
  if (*p == '-')
    buf_putc (out, *p++);
  const char *dot = strchr (p, '.');
  size_t int_len = dot ? (size_t) (dot - p) : strlen (p);
  for (size_t i = 0; i < int_len; i++)
    {
      if (i > 0 && (int_len - i) % 3 == 0)
        buf_putc (out, ',');
      buf_putc (out, p[i]);
    }
  if (dot)
    buf_puts (out, dot);
}

static void
format_date (int64_t t, struct buf *out)
{
  time_t tt = (time_t) t;
  struct tm tm;
  gmtime_r (&tt, &tm);
  buf_printf (out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday);
}

/* The tenant's "mail" settings from its branding JSON (may be NULL). */
static json_t *
tenant_mail (const struct store_tenant *t)
{
  if (t->branding == NULL)
    return NULL;
  json_t *b = json_loads (t->branding, 0, NULL);
  json_t *m = json_object_get (b, "mail");
  if (json_is_object (m))
    json_incref (m);
  else
    m = NULL;
  json_decref (b);
  return m;
}

static const char *
jstr (const json_t *o, const char *key)
{
  const char *v = json_string_value (json_object_get (o, key));
  return v && v[0] ? v : NULL;
}

/* The merchant's own templates: files under tenant_templates_dir/<id>/
 * then "templates" of the mail settings ({lang:{kind:{part:text}}}).
 * NULL if none. */
static struct mail_tmpl *
tenant_templates (const struct jobs *j, int64_t tenant_id,
                  const json_t *mail)
{
  struct mail_tmpl *over = NULL;
  if (j->cfg.tenant_templates_dir[0])
    {
      char dir[1200];
      struct stat st;
      snprintf (dir, sizeof dir, "%s/%" PRId64, j->cfg.tenant_templates_dir,
                tenant_id);
      if (stat (dir, &st) == 0)
        over = mail_tmpl_load (dir, NULL);
    }
  json_t *langs = json_object_get (mail, "templates");
  const char *lang, *kind, *part;
  json_t *kinds, *parts, *text;
  json_object_foreach (langs, lang, kinds)
  {
    json_object_foreach (kinds, kind, parts)
    {
      json_object_foreach (parts, part, text)
      {
        if (!json_is_string (text))
          continue;
        if (over == NULL)
          over = mail_tmpl_new ();
        if (!mail_tmpl_set (over, lang, kind, part, json_string_value (text)))
          log_warn ("mail: tenant %" PRId64 " template %s/%s.%s ignored "
                    "(does not parse)",
                    tenant_id, lang, kind, part);
      }
    }
  }
  return over;
}

/* Everything one send needs, gathered before the network. */
struct send_plan
{
  struct store_tenant tenant;
  struct store_invoice inv;
  json_t *payload;
  json_t *mail; /* tenant's mail settings or NULL */
  struct mail_smtp smtp;
  struct buf msg;
  const char *from;
  const char *to[MAIL_MAX_TO];
  size_t n_to;
};

static void
plan_clear (struct send_plan *p)
{
  store_tenant_clear (&p->tenant);
  store_invoice_clear (&p->inv);
  json_decref (p->payload);
  json_decref (p->mail);
  mail_smtp_clear (&p->smtp);
  buf_free (&p->msg);
  memset (p, 0, sizeof *p);
}

struct pdf_arg
{
  int64_t tenant_id, invoice_id;
  const struct buf *pdf;
  struct store_invoice *inv; /* receives the stored PDF */
};

/* Stores the rendered PDF unless another worker stored one meanwhile,
 * and hands back whichever PDF is stored: "made once and kept". */
static enum store_status
tx_store_pdf (struct store *s, void *arg)
{
  struct pdf_arg *a = arg;
  struct store_invoice cur = { 0 };
  enum store_status st
      = store_invoice_get (s, a->tenant_id, a->invoice_id, true, &cur);
  if (st != STORE_ONE)
    {
      store_invoice_clear (&cur);
      return st;
    }
  if (cur.pdf == NULL)
    st = store_invoice_set_pdf (s, a->tenant_id, a->invoice_id,
                                (const unsigned char *) a->pdf->data,
                                a->pdf->len);
  if (st == STORE_ONE)
    {
      free (a->inv->pdf);
      if (cur.pdf != NULL)
        {
          a->inv->pdf = cur.pdf;
          a->inv->pdf_len = cur.pdf_len;
          cur.pdf = NULL;
        }
      else
        {
          a->inv->pdf = xmalloc (a->pdf->len);
          memcpy (a->inv->pdf, a->pdf->data, a->pdf->len);
          a->inv->pdf_len = a->pdf->len;
        }
    }
  store_invoice_clear (&cur);
  return st;
}

/* Renders and stores the PDF if the invoice has none.  A failure is
 * logged and the mail goes with the XML only: the XML is the legal
 * document, the PDF its printed representation. */
static void
ensure_pdf (struct jobs *j, struct send_plan *p)
{
  if (p->inv.pdf != NULL || !j->cfg.render_pdf || pdf_render_cfdi == NULL)
    return;
  struct buf pdf = BUF_INIT;
  struct ferr err = { 0 };
  /* The merchant's logo of now; the PDF is kept, logo included. */
  struct buf logo = BUF_INIT;
  branding_pdf_logo (p->tenant.branding, &logo);
  struct pdf_options po = { .logo = (const unsigned char *) logo.data,
                            .logo_len = logo.len,
                            .logo_optional = true };
  bool rendered = pdf_render_cfdi ((const char *) p->inv.xml,
                                   p->inv.xml_len, &po, &pdf, &err);
  buf_free (&logo);
  if (!rendered)
    {
      log_warn ("mail: invoice %" PRId64 "/%" PRId64
                ": PDF not rendered (%s); sending the XML only",
                p->inv.tenant_id, p->inv.id, err.code ? err.code : "?");
      buf_free (&pdf);
      return;
    }
  struct pdf_arg a = { p->inv.tenant_id, p->inv.id, &pdf, &p->inv };
  if (store_tx (j->store, tx_store_pdf, &a) != STORE_ONE)
    log_warn ("mail: invoice %" PRId64 "/%" PRId64 ": PDF not stored",
              p->inv.tenant_id, p->inv.id);
  if (p->inv.pdf == NULL)
    {
      p->inv.pdf = (unsigned char *) buf_steal (&pdf);
      p->inv.pdf_len = a.pdf->len;
    }
  buf_free (&pdf);
}

/* Reads the job's payload into p->payload and p->to.  MAIL_SENT if
 * usable, else MAIL_PERMFAIL with the reason in why. */
static enum mail_status
parse_payload (const struct store_job *job, struct send_plan *p,
               struct buf *why)
{
  p->payload = json_loads (job->payload ? job->payload : "", 0, NULL);
  json_t *jinv = json_object_get (p->payload, "invoice_id");
  json_t *jto = json_object_get (p->payload, "to");
  if (!json_is_integer (jinv) || !json_is_array (jto)
      || json_array_size (jto) == 0 || json_array_size (jto) > MAIL_MAX_TO)
    {
      buf_puts (why, "facturo: malformed mail job");
      return MAIL_PERMFAIL;
    }
  for (size_t i = 0; i < json_array_size (jto); i++)
    {
      const char *a = json_string_value (json_array_get (jto, i));
      if (!mail_address_valid (a))
        {
          buf_puts (why, "facturo: invalid recipient address");
          return MAIL_PERMFAIL;
        }
      p->to[p->n_to++] = a;
    }
  return MAIL_SENT;
}

/* The merchant's own SMTP server (its URL came from the mail settings,
 * never the global one): the user "smtp_user" when the URL names none,
 * and the password `facturo tenant mail` stored encrypted
 * (store_tenant_smtp_password_get) when the URL carries none.  The
 * password goes into p->smtp, which mail_smtp_clear wipes.  MAIL_SENT
 * when ready, MAIL_TEMPFAIL (why set) when the password cannot be
 * read. */
static enum mail_status
smtp_credentials (struct jobs *j, const struct store_job *job,
                  struct send_plan *p, struct buf *why)
{
  const char *user = jstr (p->mail, "smtp_user");
  if (p->smtp.user == NULL && user != NULL)
    p->smtp.user = xstrdup (user);
  if (p->smtp.password != NULL)
    return MAIL_SENT;
  char *pw = NULL;
  enum store_status st
      = store_tenant_smtp_password_get (j->store, job->tenant_id, &pw);
  if (st < 0)
    {
      buf_puts (why, "facturo: the merchant's SMTP password cannot be read"
                     " (database or master key)");
      return MAIL_TEMPFAIL;
    }
  if (st == STORE_ONE && p->smtp.user != NULL)
    p->smtp.password = pw;
  else if (pw != NULL)
    {
      sodium_memzero (pw, strlen (pw));
      free (pw);
    }
  return MAIL_SENT;
}

/* Builds the message.  Returns MAIL_SENT when ready to send, else the
 * failure kind with the reason in why. */
static enum mail_status
plan (struct jobs *j, const struct store_job *job, struct send_plan *p,
      struct buf *why)
{
  if (parse_payload (job, p, why) != MAIL_SENT)
    return MAIL_PERMFAIL;
  json_t *jinv = json_object_get (p->payload, "invoice_id");
  enum store_status st = store_tenant_get (j->store, job->tenant_id,
                                           &p->tenant);
  if (st == STORE_ONE)
    st = store_invoice_get (j->store, job->tenant_id,
                            json_integer_value (jinv), true, &p->inv);
  if (st == STORE_NONE)
    {
      buf_puts (why, "facturo: invoice not found");
      return MAIL_PERMFAIL;
    }
  if (st != STORE_ONE)
    {
      buf_puts (why, "facturo: database unavailable");
      return MAIL_TEMPFAIL;
    }
  p->mail = tenant_mail (&p->tenant);

  /* SMTP: the merchant's own server, else the global one */
  const char *url = jstr (p->mail, "smtp_url");
  if (url == NULL)
    url = j->cfg.smtp_url[0] ? j->cfg.smtp_url : NULL;
  char e[160];
  if (url == NULL)
    {
      buf_puts (why, "facturo: no SMTP server configured");
      return MAIL_TEMPFAIL;
    }
  if (!mail_smtp_parse_url (url, &p->smtp, e, sizeof e))
    {
      buf_printf (why, "facturo: SMTP settings: %s", e);
      return MAIL_TEMPFAIL; /* fixable by the operator: keep the job */
    }
  if (url != j->cfg.smtp_url && smtp_credentials (j, job, p, why) != MAIL_SENT)
    return MAIL_TEMPFAIL;
  p->from = jstr (p->mail, "from");
  if (p->from == NULL)
    p->from = j->cfg.mail_from[0] ? j->cfg.mail_from : NULL;
  if (p->from == NULL)
    {
      buf_puts (why, "facturo: no sender address configured");
      return MAIL_TEMPFAIL;
    }

  ensure_pdf (j, p);

  /* the template context (documented in docs/mail.md) */
  time_t now = time (NULL);
  time_t expires = now + (time_t) j->cfg.link_days * 86400;
  const uint8_t *sec = j->cfg.secret;
  const char *base = j->cfg.base_url;
  struct buf total = BUF_INIT, date = BUF_INIT, exp = BUF_INIT,
             pdf_url = BUF_INIT, xml_url = BUF_INIT, pixel = BUF_INIT;
  format_total (p->inv.total, &total);
  format_date (p->inv.created_at, &date);
  format_date (expires, &exp);
  mail_link_download (sec, base, p->inv.tenant_id, p->inv.id, job->id, "pdf",
                      expires, &pdf_url);
  mail_link_download (sec, base, p->inv.tenant_id, p->inv.id, job->id, "xml",
                      expires, &xml_url);
  mail_link_pixel (sec, base, p->inv.tenant_id, p->inv.id, job->id, expires,
                   &pixel);
  char folio[24] = "";
  if (p->inv.folio > 0)
    snprintf (folio, sizeof folio, "%" PRId64, p->inv.folio);
  const char *reply_to = jstr (p->mail, "reply_to");
  json_t *ctx = json_pack (
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
      "merchant_name", p->tenant.name, "merchant_rfc", p->tenant.rfc,
      "series", p->inv.series, "folio", folio, "uuid", p->inv.uuid, "total",
      total.data, "currency", p->inv.currency, "issued_at", date.data,
      "receiver_name", p->inv.customer_name, "receiver_rfc",
      p->inv.customer_rfc, "xml_url", xml_url.data, "links_expire", exp.data,
      "reply_to", reply_to ? reply_to : "");
  if (p->inv.pdf != NULL)
    json_object_set_new (ctx, "pdf_url", json_string (pdf_url.data));
  if (base[0])
    json_object_set_new (ctx, "tracking_url", json_string (pixel.data));
  buf_free (&total);
  buf_free (&date);
  buf_free (&exp);
  buf_free (&pdf_url);
  buf_free (&xml_url);
  buf_free (&pixel);

  const char *lang = json_string_value (json_object_get (p->payload, "lang"));
  if (lang == NULL)
    lang = jstr (p->mail, "lang");
  struct mail_tmpl *over = tenant_templates (j, job->tenant_id, p->mail);
  struct buf subject = BUF_INIT, text = BUF_INIT, html = BUF_INIT;
  bool ok = mail_tmpl_render_over (over, j->tmpl, lang ? lang : "es",
                                   "invoice", ctx, &subject, &text, &html);
  mail_tmpl_free (over);
  json_decref (ctx);
  if (!ok)
    {
      buf_free (&subject);
      buf_free (&text);
      buf_free (&html);
      buf_puts (why, "facturo: no invoice mail template");
      return MAIL_TEMPFAIL;
    }

  /* attachments: <series><folio>_<UUID>.xml / .pdf */
  char stem[128];
  if (p->inv.series[0] || p->inv.folio > 0)
    snprintf (stem, sizeof stem, "%s%s_%s", p->inv.series, folio,
              p->inv.uuid);
  else
    snprintf (stem, sizeof stem, "%s", p->inv.uuid[0] ? p->inv.uuid
                                                      : "factura");
  char xml_name[160], pdf_name[160];
  snprintf (xml_name, sizeof xml_name, "%s.xml", stem);
  snprintf (pdf_name, sizeof pdf_name, "%s.pdf", stem);
  struct mail_attachment att[2];
  size_t n_att = 0;
  if (p->inv.pdf != NULL)
    att[n_att++] = (struct mail_attachment){ pdf_name, "application/pdf",
                                             p->inv.pdf, p->inv.pdf_len };
  att[n_att++] = (struct mail_attachment){ xml_name, "application/xml",
                                           p->inv.xml, p->inv.xml_len };

  const char *domain = strrchr (p->from, '@') + 1;
  char msgid[300];
  snprintf (msgid, sizeof msgid, "<facturo.%" PRId64 ".%" PRId64 "@%s>",
            job->tenant_id, job->id, domain);
  const char *from_name = jstr (p->mail, "from_name");
  if (from_name == NULL)
    from_name = j->cfg.mail_from_name[0] ? j->cfg.mail_from_name
                                         : p->tenant.name;
  struct mail_message m = { 0 };
  m.from_name = from_name;
  m.from_addr = p->from;
  m.reply_to = reply_to;
  memcpy (m.to, p->to, p->n_to * sizeof *p->to);
  m.n_to = p->n_to;
  m.subject = subject.data;
  m.text = text.data;
  m.html = html.len ? html.data : NULL;
  m.att = att;
  m.n_att = n_att;
  m.message_id = msgid;
  ok = mail_build (&m, &p->msg, e, sizeof e);
  buf_free (&subject);
  buf_free (&text);
  buf_free (&html);
  if (!ok)
    {
      buf_printf (why, "facturo: message refused: %s", e);
      return MAIL_PERMFAIL;
    }
  return MAIL_SENT;
}

static json_t *
to_array (const struct send_plan *p)
{
  json_t *a = json_array ();
  for (size_t i = 0; i < p->n_to; i++)
    json_array_append_new (a, json_string (p->to[i]));
  return a;
}

struct outcome_arg
{
  const struct store_job *job;
  const char *worker;
  int64_t invoice_id; /* 0 if unknown (malformed payload) */
  const char *event;  /* mail_sent, mail_deferred, mail_failed */
  const char *reply;
  json_t *to;         /* borrowed, may be NULL */
  int64_t retry_at;   /* 0 = done (sent) or dead (failed) */
  bool lost_lease;    /* out */
};

/* One transaction: the job's new state and the timeline event. */
static enum store_status
tx_outcome (struct store *s, void *arg)
{
  struct outcome_arg *a = arg;
  const struct store_job *job = a->job;
  enum store_status st;
  if (strcmp (a->event, "mail_sent") == 0)
    st = store_job_done (s, job->tenant_id, job->id, a->worker);
  else
    st = store_job_fail (s, job->tenant_id, job->id, a->worker, a->reply,
                         a->retry_at);
  if (st < 0)
    return st;
  a->lost_lease = st == STORE_NONE;
  /* A job taken over after our lease expired: the mail did go out (or
     fail) all the same, so the event is still true; record it. */
  if (a->invoice_id <= 0)
    return STORE_ONE;
  json_t *d = json_pack ("{s:I, s:s, s:i}", "job", (json_int_t) job->id,
                         "reply", a->reply, "attempt", job->attempts);
  if (a->to != NULL && strcmp (a->event, "mail_deferred") != 0)
    json_object_set (d, "to", a->to);
  if (a->retry_at)
    json_object_set_new (d, "retry_at", json_integer (a->retry_at));
  char *detail = json_dumps (d, JSON_COMPACT);
  json_decref (d);
  st = store_event_add (s, job->tenant_id, a->invoice_id, 0, a->event,
                        "system", detail, NULL);
  free (detail);
  return st < 0 ? st : STORE_ONE;
}

/* Records the outcome, insisting a little: after a send, losing this
 * write is what could send the mail twice. */
static void
record (struct jobs *j, struct outcome_arg *a)
{
  for (int i = 0; i < 5; i++)
    {
      enum store_status st = store_tx (j->store, tx_outcome, a);
      if (st >= 0)
        {
          if (a->lost_lease)
            log_warn ("mail: job %" PRId64 "/%" PRId64
                      " was taken over by another worker (lease expired)",
                      a->job->tenant_id, a->job->id);
          return;
        }
      struct timespec ts = { 0, 200000000L * (i + 1) };
      nanosleep (&ts, NULL);
    }
  log_error ("mail: job %" PRId64 "/%" PRId64
             ": outcome %s not recorded; the job will run again when its "
             "lease expires",
             a->job->tenant_id, a->job->id, a->event);
}

int
jobs_step (struct jobs *j)
{
  struct store_job job = { 0 };
  enum store_status st = store_job_claim (j->store, j->cfg.worker_id,
                                          MAIL_JOB_KIND,
                                          (int) j->cfg.lease_seconds, &job);
  if (st == STORE_NONE)
    return 0;
  if (st != STORE_ONE)
    {
      store_job_clear (&job);
      return -1;
    }
  struct send_plan p = { 0 };
  struct buf why = BUF_INIT;
  enum mail_status ms;
  if ((unsigned) job.attempts > j->cfg.max_attempts)
    {
      /* Only lease expiries get a job here (a deferral at the last
         attempt already ends it): workers died holding it, perhaps
         because of it.  Stop rather than crash-loop. */
      if (parse_payload (&job, &p, &why) == MAIL_SENT)
        p.inv.id = json_integer_value (json_object_get (p.payload,
                                                        "invoice_id"));
      buf_reset (&why);
      buf_puts (&why, "facturo: too many attempts (workers stopped while "
                      "holding this job)");
      ms = MAIL_PERMFAIL;
    }
  else
    ms = plan (j, &job, &p, &why);
  if (ms == MAIL_SENT)
    ms = mail_send (&p.smtp, p.from, p.to, p.n_to, p.msg.data, p.msg.len,
                    &why);

  json_t *to = p.n_to ? to_array (&p) : NULL;
  struct outcome_arg a = { 0 };
  a.job = &job;
  a.worker = j->cfg.worker_id;
  a.invoice_id = p.inv.id;
  a.reply = why.data ? why.data : "";
  a.to = to;
  if (ms == MAIL_SENT)
    a.event = "mail_sent";
  else if (ms == MAIL_TEMPFAIL
           && (unsigned) job.attempts < j->cfg.max_attempts)
    {
      a.event = "mail_deferred";
      a.retry_at = (int64_t) time (NULL) + backoff_seconds (&j->cfg,
                                                            job.attempts);
    }
  else
    a.event = "mail_failed";
  record (j, &a);
  log_info ("mail: job %" PRId64 "/%" PRId64 " attempt %d: %s: %s",
            job.tenant_id, job.id, job.attempts, a.event, a.reply);
  json_decref (to);
  buf_free (&why);
  plan_clear (&p);
  store_job_clear (&job);
  return 1;
}

static void *
worker_main (void *arg)
{
  struct jobs *j = arg;
  for (;;)
    {
      pthread_mutex_lock (&j->mu);
      bool stop = j->stopping;
      unsigned wakes = j->wakes;
      pthread_mutex_unlock (&j->mu);
      if (stop)
        break;
      int r = jobs_step (j);
      if (r == 1)
        continue;
      /* nothing due (or the store failed): sleep until poked or polled */
      struct timespec ts;
      clock_gettime (CLOCK_REALTIME, &ts);
      unsigned ms = j->cfg.poll_ms * (r < 0 ? 5 : 1);
      ts.tv_sec += ms / 1000;
      ts.tv_nsec += (long) (ms % 1000) * 1000000L;
      if (ts.tv_nsec >= 1000000000L)
        {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000L;
        }
      pthread_mutex_lock (&j->mu);
      while (!j->stopping && j->wakes == wakes)
        if (pthread_cond_timedwait (&j->cv, &j->mu, &ts) == ETIMEDOUT)
          break;
      pthread_mutex_unlock (&j->mu);
    }
  return NULL;
}

struct jobs *
jobs_start (struct store *s, const struct jobs_config *c, char *err,
            size_t errsz)
{
  if (s == NULL || c == NULL || !config_check (c, err, errsz))
    {
      if (s == NULL || c == NULL)
        snprintf (err, errsz, "no store or configuration");
      return NULL;
    }
  mail_global_init ();
  struct jobs *j = xcalloc (1, sizeof *j);
  j->store = s;
  j->cfg = *c;
  if (j->cfg.worker_id[0] == '\0')
    {
      char host[64] = "localhost";
      gethostname (host, sizeof host - 1);
      host[sizeof host - 1] = '\0';
      snprintf (j->cfg.worker_id, sizeof j->cfg.worker_id, "%.40s:%ld", host,
                (long) getpid ());
    }
  char dir[1100];
  if (c->templates_dir[0])
    snprintf (dir, sizeof dir, "%s", c->templates_dir);
  else
    {
      const char *data = getenv ("FACTURO_DATA");
      snprintf (dir, sizeof dir, "%s/templates/mail",
                data && data[0] ? data : FACTURO_DATADIR);
    }
  j->tmpl = mail_tmpl_load (dir, NULL);
  if (j->tmpl == NULL)
    {
      snprintf (err, errsz, "no mail templates in %s", dir);
      sodium_memzero (j->cfg.secret, sizeof j->cfg.secret);
      free (j);
      return NULL;
    }
  pthread_mutex_init (&j->mu, NULL);
  pthread_cond_init (&j->cv, NULL);
  if (c->workers > 0)
    {
      j->threads = xcalloc (c->workers, sizeof *j->threads);
      for (unsigned i = 0; i < c->workers; i++)
        {
          if (pthread_create (&j->threads[i], NULL, worker_main, j) != 0)
            break;
          j->n_threads++;
        }
    }
  if (c->smtp_url[0] == '\0')
    log_warn ("mail: no SMTP server configured (FACTURO_SMTP_URL); mail "
              "waits in the outbox unless a merchant has its own");
  pthread_mutex_lock (&running_mu);
  j->next_running = running;
  running = j;
  pthread_mutex_unlock (&running_mu);
  return j;
}

void
jobs_wake_all (void)
{
  pthread_mutex_lock (&running_mu);
  for (struct jobs *j = running; j; j = j->next_running)
    jobs_wake (j);
  pthread_mutex_unlock (&running_mu);
}

void
jobs_wake (struct jobs *j)
{
  if (j == NULL)
    return;
  pthread_mutex_lock (&j->mu);
  j->wakes++;
  pthread_cond_broadcast (&j->cv);
  pthread_mutex_unlock (&j->mu);
}

void
jobs_stop (struct jobs *j)
{
  if (j == NULL)
    return;
  pthread_mutex_lock (&running_mu);
  for (struct jobs **pp = &running; *pp; pp = &(*pp)->next_running)
    if (*pp == j)
      {
        *pp = j->next_running;
        break;
      }
  pthread_mutex_unlock (&running_mu);
  pthread_mutex_lock (&j->mu);
  j->stopping = true;
  pthread_cond_broadcast (&j->cv);
  pthread_mutex_unlock (&j->mu);
  for (unsigned i = 0; i < j->n_threads; i++)
    pthread_join (j->threads[i], NULL);
  free (j->threads);
  pthread_mutex_destroy (&j->mu);
  pthread_cond_destroy (&j->cv);
  mail_tmpl_free (j->tmpl);
  sodium_memzero (j->cfg.secret, sizeof j->cfg.secret);
  free (j);
}
