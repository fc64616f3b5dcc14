/*
 * portal.c — the shopper's self-invoicing pages under /{merchant}/.
 *
 * Flow: find the ticket (QR link /t/{key}, or store + folio + total) →
 * fiscal data → preview → confirm → success page with download links.
 * Every page is rendered on the server from the templates in
 * data/templates/portal (auto-escaped, web/tmpl.h) and works without
 * JavaScript; the small script data/static/portal.js only narrows the
 * dropdowns and solves the proof of work.
 *
 * Nothing is kept on the server between pages (portal.h): the tickets
 * found travel in a signed "cart" token, the shopper's data in the forms.
 * Every form carries a CSRF token bound to a random cookie (double
 * submit, signed).  Issuing goes through issue_invoice_for_tickets only;
 * this file never claims, seals or stamps anything itself.  Documents are
 * downloaded through signed, expiring links (web/token.h), never by UUID
 * or folio.  Failed look-ups are throttled by portal_guard.c.
 *
 * Logs: one line per issuance and per failed look-up, with the tenant,
 * the client address and the outcome — never the RFC, name, address or
 * e-mail typed.
 */
#include "web/portal.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/issue.h"
#include "core/catalog.h"
#include "core/invoice.h"
#include "core/money.h"
#include "core/rfc.h"
#include "core/rules.h"
#include "core/ticket.h"
#include "jobs/jobs.h"
#include "jobs/mail.h"
#include "pdf/pdf.h"
#include "store/branding.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/tz.h"
#include "web/http_web.h"
#include "web/tmpl.h"
#include "web/token.h"

#define CART_TTL (2 * 3600)        /* seconds a search stays valid */
#define CSRF_TTL (4 * 3600)        /* seconds a form stays valid */
#define DL_TTL (24 * 3600)         /* seconds a download link works */
#define POW_TTL 600                /* seconds a challenge stays valid */
#define REMEMBER_TTL (365 * 86400) /* the "remember me" cookie */

/* ================================================================== */
/* Templates: loaded once per process                                  */
/* ================================================================== */

static struct tmpl_set *templates;
static pthread_once_t templates_once = PTHREAD_ONCE_INIT;

static void
templates_load (void)
{
  char dir[1024];
  snprintf (dir, sizeof dir, "%s/templates/portal", web_data_dir ());
  templates = tmpl_load_dir (dir);
  if (templates == NULL)
    log_error ("portal: cannot load the templates in %s", dir);
}

/* ================================================================== */
/* One page being built                                                */
/* ================================================================== */

struct page
{
  struct req *rq;
  struct app *app;
  struct store_tenant t;
  bool have_tenant;
  const char *lang; /* "es" or "en" */
  char csrf[65];    /* the browser's CSRF cookie value (hex) */
  char ip[64];      /* client address */
  int64_t now;
  const struct tz *tz; /* the tenant's zone (util/tz.h) */
  json_t *ctx; /* template context */
  struct web_form form;
  char *cookies[4]; /* Set-Cookie values, owned */
  size_t ncookies;
};

static void
add_cookie (struct page *p, const char *fmt_name, const char *value,
            int64_t max_age)
{
  if (p->ncookies >= sizeof p->cookies / sizeof p->cookies[0])
    return;
  struct buf b = BUF_INIT;
  buf_printf (&b, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Lax%s",
              fmt_name, value, (long long)max_age,
              web_secure (p->rq) ? "; Secure" : "");
  p->cookies[p->ncookies++] = buf_steal (&b);
}

static void
page_free (struct page *p)
{
  store_tenant_clear (&p->t);
  json_decref (p->ctx);
  web_form_free (&p->form);
  for (size_t i = 0; i < p->ncookies; i++)
    free (p->cookies[i]);
}

static bool
slug_ok (const char *s)
{
  size_t n = strlen (s);
  if (n == 0 || n > 63)
    return false;
  for (; *s; s++)
    if (!(islower ((unsigned char)*s) || isdigit ((unsigned char)*s)
          || *s == '-'))
      return false;
  return true;
}

static void
csrf_token (struct page *p, struct buf *out)
{
  token_make (p->app->secret, "portal-csrf", p->csrf, p->now + CSRF_TTL, out);
}

/* The merchant's branding JSON (NULL if none or not JSON).  New ref. */
static json_t *
branding (const struct store_tenant *t)
{
  if (t->branding == NULL)
    return NULL;
  json_error_t je;
  json_t *b = json_loadb (t->branding, strlen (t->branding), 0, &je);
  if (b && !json_is_object (b))
    {
      json_decref (b);
      b = NULL;
    }
  return b;
}

/* Starts a page: language, CSRF cookie, tenant (by the first path
 * parameter), base context.  False if the merchant does not exist (a 404
 * page is then queued). */
static bool page_render (struct page *p, unsigned status, const char *name);

static bool
page_begin (struct req *rq, struct page *p)
{
  memset (p, 0, sizeof *p);
  p->rq = rq;
  p->app = rq->app;
  p->now = (int64_t)time (NULL);
  store_tenant_init (&p->t);
  web_client_addr (rq, p->ip, sizeof p->ip);

  const char *ql = req_query (rq, "lang");
  const char *cl = web_cookie (rq, "lang");
  if (ql && (strcmp (ql, "en") == 0 || strcmp (ql, "es") == 0))
    {
      p->lang = strcmp (ql, "en") == 0 ? "en" : "es";
      add_cookie (p, "lang", p->lang, REMEMBER_TTL);
    }
  else
    p->lang = (cl && strcmp (cl, "en") == 0) ? "en" : "es";

  const char *c = web_cookie (rq, "fcsrf");
  bool ok = c && strlen (c) == 32;
  for (const char *q = c; ok && *q; q++)
    ok = isxdigit ((unsigned char)*q) != 0;
  if (ok)
    snprintf (p->csrf, sizeof p->csrf, "%s", c);
  else
    {
      unsigned char r[16];
      randombytes_buf (r, sizeof r);
      sodium_bin2hex (p->csrf, sizeof p->csrf, r, sizeof r);
      add_cookie (p, "fcsrf", p->csrf, CSRF_TTL * 6);
    }

  p->ctx = json_object ();
  json_object_set_new (p->ctx, "t", portal_texts_json (p->lang));
  json_object_set_new (p->ctx, "lang", json_string (p->lang));
  json_object_set_new (
      p->ctx, "other_lang",
      json_string (strcmp (p->lang, "en") == 0 ? "es" : "en"));
  struct buf tok = BUF_INIT;
  csrf_token (p, &tok);
  json_object_set_new (p->ctx, "csrf", json_string (tok.data));
  buf_free (&tok);

  const char *slug = rq->nparams > 0 ? rq->params[0] : "";
  enum store_status st
      = slug_ok (slug) ? store_tenant_find_slug (p->app->store, slug, &p->t)
                       : STORE_NONE;
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  if (st == STORE_ONE && (p->tz = tz_get (p->t.timezone, &fe)) == NULL)
    {
      log_error ("portal: tenant %s: %s", p->t.slug, fe.message);
      st = STORE_HARD;
    }
  if (st != STORE_ONE)
    {
      json_t *m = json_pack ("{s:s}", "name", "facturo");
      json_object_set_new (p->ctx, "m", m);
      json_object_set_new (p->ctx, "title",
                           json_string (portal_text (p->lang, "merchant_nf")));
      json_object_set_new (
          p->ctx, "message",
          json_string (portal_text (p->lang, st < 0 ? "error_internal"
                                                    : "merchant_nf")));
      page_render (p, st < 0 ? 503 : 404, "notice");
      return false;
    }
  p->have_tenant = true;
  rq->tenant_id = p->t.id;
  snprintf (rq->tenant_slug, sizeof rq->tenant_slug, "%s", p->t.slug);

  json_t *b = branding (&p->t);
  const char *dn
      = b ? json_string_value (json_object_get (b, "display_name")) : NULL;
  json_t *m = json_pack (
      "{s:s, s:s, s:b, s:b}", "slug", p->t.slug, "name",
      dn && *dn ? dn : p->t.name, "has_logo",
      b && json_is_string (json_object_get (b, "logo")), "sandbox",
      p->t.stamp[0] == '\0' || strcmp (p->t.stamp, "sandbox") == 0);
  json_decref (b);
  json_object_set_new (p->ctx, "m", m);
  return true;
}

static bool
page_render (struct page *p, unsigned status, const char *name)
{
  pthread_once (&templates_once, templates_load);
  struct buf out = BUF_INIT;
  if (templates == NULL || !tmpl_render (templates, name, p->ctx, &out))
    {
      buf_free (&out);
      log_error ("request %s: portal: template %s missing", p->rq->request_id,
                 name);
      static const char msg[] = "<!doctype html><title>Error</title>"
                                "<p>Internal error.</p>";
      web_reply_html (p->rq, 500, msg, sizeof msg - 1, NULL, 0);
      return false;
    }
  web_reply_html (p->rq, status, out.data, out.len,
                  (const char *const *)p->cookies, p->ncookies);
  buf_free (&out);
  return true;
}

/* A message page: title and message are text keys. */
static enum MHD_Result
notice (struct page *p, unsigned status, const char *title,
        const char *message)
{
  json_object_set_new (p->ctx, "title",
                       json_string (portal_text (p->lang, title)));
  if (message)
    json_object_set_new (p->ctx, "message",
                         json_string (portal_text (p->lang, message)));
  page_render (p, status, "notice");
  return MHD_YES;
}

/* Reads the form body and checks its CSRF token.  False with a page
 * queued. */
static bool
page_form (struct page *p)
{
  struct req *rq = p->rq;
  if (!web_form_parse (rq->body.data ? rq->body.data : "", rq->body.len,
                       &p->form))
    {
      notice (p, 400, "csrf_title", "csrf_text");
      return false;
    }
  struct buf got = BUF_INIT;
  const char *c = web_cookie (rq, "fcsrf");
  bool ok = c
            && token_check (p->app->secret, "portal-csrf",
                            web_form_get (&p->form, "csrf"), p->now, &got)
            && got.len == strlen (c) && got.len == 32
            && sodium_memcmp (got.data, c, got.len) == 0;
  buf_free (&got);
  if (!ok)
    {
      log_info ("request %s: portal: tenant %lld: CSRF token refused (%s)",
                rq->request_id, (long long)p->t.id, p->ip);
      notice (p, 403, "csrf_title", "csrf_text");
      return false;
    }
  return true;
}

/* ================================================================== */
/* Formatting                                                          */
/* ================================================================== */

/* "$1,234.50" */
static void
fmt_money (int64_t v, char out[48])
{
  char raw[MONEY_BUFSZ];
  money_format (money_round (v, 2), 2, raw);
  const char *s = raw;
  char *o = out;
  if (*s == '-')
    *o++ = *s++;
  *o++ = '$';
  const char *dot = strchr (s, '.');
  size_t ilen = dot ? (size_t)(dot - s) : strlen (s);
  for (size_t i = 0; i < ilen; i++)
    {
      *o++ = s[i];
      if ((ilen - i - 1) % 3 == 0 && i + 1 < ilen)
        *o++ = ',';
    }
  strcpy (o, s + ilen);
}

/* "2026-11-24 12:30" in the tenant's time. */
static void
fmt_time (int64_t t, const struct tz *z, char out[32])
{
  char d[TZ_ISO_MAX];
  tz_format_iso (z, t, d);
  snprintf (out, 32, "%.10s %.5s", d, d + 11);
}

/* ================================================================== */
/* The cart: tickets found so far, in a signed token                   */
/* ================================================================== */

struct cart
{
  size_t n;
  int64_t ids[PORTAL_MAX_TICKETS];
};

static void
cart_token (struct page *p, const struct cart *c, struct buf *out)
{
  struct buf pl = BUF_INIT;
  buf_printf (&pl, "%lld|", (long long)p->t.id);
  for (size_t i = 0; i < c->n; i++)
    buf_printf (&pl, "%s%lld", i ? "," : "", (long long)c->ids[i]);
  token_make (p->app->secret, "portal-cart", pl.data, p->now + CART_TTL, out);
  buf_free (&pl);
}

/* Reads the form's cart token.  An absent or empty token is an empty
 * cart (true); a forged, expired or other merchant's one is false. */
static bool
cart_read (struct page *p, struct cart *c)
{
  memset (c, 0, sizeof *c);
  const char *tok = web_form_get (&p->form, "cart");
  if (tok == NULL || *tok == '\0')
    return true;
  struct buf pl = BUF_INIT;
  bool ok = token_check (p->app->secret, "portal-cart", tok, p->now, &pl);
  if (ok)
    {
      char *s = pl.data, *end;
      long long tid = strtoll (s, &end, 10);
      ok = *end == '|' && tid == p->t.id;
      s = end + 1;
      while (ok && *s && c->n < PORTAL_MAX_TICKETS)
        {
          c->ids[c->n++] = strtoll (s, &end, 10);
          s = *end == ',' ? end + 1 : end;
          if (end == s && *s)
            ok = false;
        }
    }
  buf_free (&pl);
  return ok;
}

/* Puts the cart (token and rows) into the context. */
static void
cart_ctx (struct page *p, const struct cart *c)
{
  struct buf tok = BUF_INIT;
  if (c->n > 0)
    cart_token (p, c, &tok);
  json_object_set_new (p->ctx, "cart", json_string (tok.data ? tok.data : ""));
  buf_free (&tok);
  json_t *rows = json_array ();
  int64_t sum = 0;
  for (size_t i = 0; i < c->n; i++)
    {
      struct store_ticket tk;
      memset (&tk, 0, sizeof tk);
      if (store_ticket_get (p->app->store, p->t.id, c->ids[i], &tk)
          == STORE_ONE)
        {
          char tot[48], when[32];
          fmt_money (tk.total, tot);
          fmt_time (tk.date, p->tz, when);
          money_add (sum, tk.total, &sum);
          json_array_append_new (rows, json_pack ("{s:s, s:s, s:s, s:s}",
                                                  "branch", tk.branch_code,
                                                  "folio", tk.folio_number,
                                                  "date", when, "total", tot));
        }
      store_ticket_clear (&tk);
    }
  char tot[48];
  fmt_money (sum, tot);
  json_object_set_new (p->ctx, "has_tickets",
                       json_boolean (json_array_size (rows) > 0));
  json_object_set_new (p->ctx, "many_tickets",
                       json_boolean (json_array_size (rows) > 1));
  json_object_set_new (p->ctx, "tickets", rows);
  json_object_set_new (p->ctx, "tickets_total", json_string (tot));
  json_object_set_new (p->ctx, "can_add",
                       json_boolean (c->n < PORTAL_MAX_TICKETS));
}

/* ================================================================== */
/* Look-up form context (branches, proof of work)                      */
/* ================================================================== */

static void
lookup_ctx (struct page *p, const char *branch, const char *folio,
            const char *total, int fails, uint64_t ipkey)
{
  struct store_branch *br = NULL;
  size_t n = 0;
  json_t *arr = json_array ();
  if (store_branch_list (p->app->store, p->t.id, &br, &n) == STORE_ONE
      || n > 0)
    for (size_t i = 0; i < n && i < 500; i++)
      json_array_append_new (
          arr, json_pack ("{s:s, s:s, s:b}", "code", br[i].code, "name",
                          br[i].name[0] ? br[i].name : br[i].code, "selected",
                          branch && strcmp (branch, br[i].code) == 0));
  free (br);
  json_object_set_new (p->ctx, "has_branches",
                       json_boolean (json_array_size (arr) > 0));
  json_object_set_new (p->ctx, "branches", arr);
  json_object_set_new (
      p->ctx, "lookup",
      json_pack ("{s:s, s:s, s:s}", "branch", branch ? branch : "", "folio",
                 folio ? folio : "", "total", total ? total : ""));
  if (fails >= PORTAL_FREE_FAILS)
    {
      unsigned char r[8];
      char rh[17], pl[96];
      randombytes_buf (r, sizeof r);
      sodium_bin2hex (rh, sizeof rh, r, sizeof r);
      snprintf (pl, sizeof pl, "%016llx:%d:%s", (unsigned long long)ipkey,
                fails, rh);
      struct buf tok = BUF_INIT;
      token_make (p->app->secret, "portal-pow", pl, p->now + POW_TTL, &tok);
      json_object_set_new (p->ctx, "pow",
                           json_pack ("{s:s, s:i}", "challenge", tok.data,
                                      "bits", portal_guard_bits (fails)));
      buf_free (&tok);
    }
}

/* ================================================================== */
/* Fiscal data                                                         */
/* ================================================================== */

struct fiscal
{
  char rfc[32];
  char name[1024];
  char zip[16];
  char regime[8];
  char use[8];
  char emails[ISSUE_MAX_EMAILS][MAIL_ADDR_MAX + 1];
  size_t n_emails;
  bool accept_digit; /* the shopper confirmed a check digit SAT's
                        algorithm refuses */
  bool remember;
  bool too_many_emails;
};

static void
trim_copy (char *dst, size_t n, const char *src)
{
  if (src == NULL)
    src = "";
  while (*src == ' ' || *src == '\t' || *src == '\r' || *src == '\n')
    src++;
  snprintf (dst, n, "%s", src);
  size_t l = strlen (dst);
  while (l > 0
         && (dst[l - 1] == ' ' || dst[l - 1] == '\t' || dst[l - 1] == '\r'
             || dst[l - 1] == '\n'))
    dst[--l] = '\0';
}

/* Adds the addresses in s (separated by commas, semicolons or spaces). */
static void
add_emails (struct fiscal *f, const char *s)
{
  while (s && *s)
    {
      while (*s == ',' || *s == ';' || *s == ' ' || *s == '\t')
        s++;
      size_t n = strcspn (s, ",; \t");
      if (n == 0)
        break;
      if (f->n_emails >= ISSUE_MAX_EMAILS)
        {
          f->too_many_emails = true;
          return;
        }
      snprintf (f->emails[f->n_emails], sizeof f->emails[0], "%.*s",
                (int)(n > MAIL_ADDR_MAX + 1 ? MAIL_ADDR_MAX + 1 : n), s);
      f->n_emails++;
      s += n;
    }
}

/* Upper-cases ASCII letters and ñ (UTF-8 C3 B1 -> C3 91). */
static void
upcase_rfc (char *s)
{
  for (unsigned char *p = (unsigned char *)s; *p; p++)
    {
      if (p[0] == 0xC3 && p[1] == 0xB1)
        {
          p[1] = 0x91;
          p++;
        }
      else
        *p = (unsigned char)toupper (*p);
    }
  /* no spaces or dashes inside an RFC */
  char *w = s;
  for (char *r = s; *r; r++)
    if (*r != ' ' && *r != '-')
      *w++ = *r;
  *w = '\0';
}

static void
fiscal_from_form (const struct web_form *fm, struct fiscal *f)
{
  memset (f, 0, sizeof *f);
  trim_copy (f->rfc, sizeof f->rfc, web_form_get (fm, "rfc"));
  upcase_rfc (f->rfc);
  trim_copy (f->name, sizeof f->name, web_form_get (fm, "name"));
  trim_copy (f->zip, sizeof f->zip, web_form_get (fm, "zip"));
  trim_copy (f->regime, sizeof f->regime, web_form_get (fm, "regime"));
  trim_copy (f->use, sizeof f->use, web_form_get (fm, "use"));
  for (size_t i = 0; i < 8; i++)
    {
      const char *e = web_form_get_nth (fm, "email", i);
      if (e == NULL)
        break;
      add_emails (f, e);
    }
  const char *a = web_form_get (fm, "rfc_ok");
  f->accept_digit = a && strcmp (a, "1") == 0;
  const char *r = web_form_get (fm, "remember");
  f->remember = r && strcmp (r, "1") == 0;
}

/* The remembered data from the cookie, if any and valid. */
static bool
fiscal_from_cookie (struct page *p, struct fiscal *f)
{
  memset (f, 0, sizeof *f);
  const char *c = web_cookie (p->rq, "fdata");
  struct buf pl = BUF_INIT;
  if (c == NULL
      || !token_check (p->app->secret, "portal-remember", c, p->now, &pl))
    {
      buf_free (&pl);
      return false;
    }
  json_error_t je;
  json_t *o = json_loadb (pl.data, pl.len, 0, &je);
  buf_free (&pl);
  if (!json_is_object (o))
    {
      json_decref (o);
      return false;
    }
#define GET(k) json_string_value (json_object_get (o, k))
  trim_copy (f->rfc, sizeof f->rfc, GET ("rfc"));
  trim_copy (f->name, sizeof f->name, GET ("name"));
  trim_copy (f->zip, sizeof f->zip, GET ("zip"));
  trim_copy (f->regime, sizeof f->regime, GET ("regime"));
  trim_copy (f->use, sizeof f->use, GET ("use"));
  add_emails (f, GET ("emails"));
#undef GET
  f->remember = true;
  json_decref (o);
  return true;
}

static void
remember_cookie (struct page *p, const struct fiscal *f)
{
  struct buf em = BUF_INIT;
  for (size_t i = 0; i < f->n_emails; i++)
    buf_printf (&em, "%s%s", i ? "," : "", f->emails[i]);
  json_t *o = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "rfc", f->rfc,
                         "name", f->name, "zip", f->zip, "regime", f->regime,
                         "use", f->use, "emails", em.data ? em.data : "");
  buf_free (&em);
  char *s = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  struct buf tok = BUF_INIT;
  if (s && strlen (s) < 2000)
    {
      token_make (p->app->secret, "portal-remember", s, p->now + REMEMBER_TTL,
                  &tok);
      add_cookie (p, "fdata", tok.data, REMEMBER_TTL);
    }
  free (s);
  buf_free (&tok);
}

static void
set_err (json_t *errs, const char *field, const char *lang,
         const struct ferr *e, const char *key)
{
  if (json_object_get (errs, field))
    return;
  const char *msg = e ? (strcmp (lang, "en") == 0 ? e->message : e->message_es)
                      : portal_text (lang, key);
  json_object_set_new (errs, field, json_string (msg));
}

/* Maps issue_receiver_check's field names to the form's. */
static const char *
form_field (const char *api_field)
{
  if (strstr (api_field, "tax_id"))
    return "rfc";
  if (strstr (api_field, "legal_name"))
    return "name";
  if (strstr (api_field, "tax_system"))
    return "regime";
  if (strstr (api_field, "zip"))
    return "zip";
  if (strstr (api_field, "email"))
    return "email";
  if (strcmp (api_field, "use") == 0)
    return "use";
  return "form";
}

/* Checks every field; returns the errors (new ref; empty object = all
 * good).  *digit_warn is set when only the RFC's check digit fails. */
static json_t *
fiscal_check (const struct fiscal *f, const char *lang, bool *digit_warn)
{
  json_t *errs = json_object ();
  struct ferr e;
  enum rfc_kind kind = RFC_FISICA;
  bool rfc_ok = false;
  *digit_warn = false;
  memset (&e, 0, sizeof e);
  if (f->rfc[0] == '\0')
    set_err (errs, "rfc", lang, NULL, "required");
  else if (!rfc_check_shape (f->rfc, &kind, &e))
    set_err (errs, "rfc", lang, &e, NULL);
  else if (!rfc_is_generic (kind) && !rfc_check (f->rfc, &kind, &e))
    {
      if (f->accept_digit)
        rfc_ok = true;
      else
        {
          *digit_warn = true;
          set_err (errs, "rfc", lang, &e, NULL);
        }
    }
  else
    rfc_ok = true;
  if (f->name[0] == '\0')
    set_err (errs, "name", lang, NULL, "required");
  if (f->zip[0] == '\0')
    set_err (errs, "zip", lang, NULL, "required");
  else if (!catalog_zip_format (f->zip))
    {
      ferr_set (&e, "zip", "zip", "the postal code has 5 digits",
                "el código postal tiene 5 dígitos");
      set_err (errs, "zip", lang, &e, NULL);
    }
  if (f->regime[0] == '\0')
    set_err (errs, "regime", lang, NULL, "required");
  if (f->use[0] == '\0')
    set_err (errs, "use", lang, NULL, "required");
  if (f->n_emails == 0)
    set_err (errs, "email", lang, NULL, "required");
  if (f->too_many_emails)
    {
      ferr_set (&e, "too_many_emails", "email", "at most %d e-mail addresses",
                "como máximo %d direcciones de correo", ISSUE_MAX_EMAILS);
      set_err (errs, "email", lang, &e, NULL);
    }
  for (size_t i = 0; i < f->n_emails; i++)
    if (!mail_address_valid (f->emails[i]))
      {
        ferr_set (&e, "email_invalid", "email",
                  "\"%s\" is not a valid e-mail address",
                  "\"%s\" no es una dirección de correo válida", f->emails[i]);
        set_err (errs, "email", lang, &e, NULL);
      }
  if (rfc_ok && f->regime[0] && f->use[0] && f->zip[0])
    {
      /* Régimen and uso against the RFC's kind (SAT's matrix). */
      const char *zip = catalog_zip_format (f->zip) ? f->zip : "00000";
      if (!rules_receiver (f->rfc, f->regime, f->use, zip, &e))
        set_err (errs, form_field (e.field), lang, &e, NULL);
    }
  if (json_object_size (errs) == 0)
    {
      /* Anything else the issuer refuses (the name's characters…). */
      const char *em[ISSUE_MAX_EMAILS];
      for (size_t i = 0; i < f->n_emails; i++)
        em[i] = f->emails[i];
      struct issue_receiver r = { .rfc = f->rfc,
                                  .name = f->name,
                                  .regime = f->regime,
                                  .zip = f->zip,
                                  .use = f->use,
                                  .emails = em,
                                  .n_emails = f->n_emails,
                                  .accept_check_digit = f->accept_digit };
      if (!issue_receiver_check (&r, &e))
        set_err (errs, form_field (e.field), lang, &e, NULL);
    }
  return errs;
}

/* Dropdowns and values for the data form.  With a valid RFC the regimes
 * are those of its kind, and with a regime too the usos are exactly
 * rules_uses_for(kind, regime); otherwise every one is listed (the
 * script narrows them in the browser, the server checks on submit). */
static void
fiscal_ctx (struct page *p, const struct fiscal *f, json_t *errs,
            bool digit_warn)
{
  enum rfc_kind kind;
  bool known = rfc_check_shape (f->rfc, &kind, NULL);
  const struct catalog_regime *rg;
  size_t nrg = catalog_regimes (&rg);
  json_t *regs = json_array ();
  for (size_t i = 0; i < nrg; i++)
    {
      if (rg[i].valid_to && rg[i].valid_to[0])
        continue;
      if (known && !rfc_is_generic (kind)
          && !(kind == RFC_FISICA ? rg[i].fisica : rg[i].moral))
        continue;
      json_array_append_new (
          regs, json_pack ("{s:s, s:s, s:s, s:b}", "code", rg[i].code, "desc",
                           rg[i].description, "kinds",
                           rg[i].fisica && rg[i].moral ? "f m"
                           : rg[i].fisica              ? "f"
                                                       : "m",
                           "selected", strcmp (f->regime, rg[i].code) == 0));
    }
  json_object_set_new (p->ctx, "regimes", regs);

  const struct catalog_use *us;
  size_t nus = catalog_uses (&us);
  const struct catalog_use *allowed[64];
  size_t nallowed = 0;
  bool narrow = known && f->regime[0] && catalog_regime (f->regime);
  if (narrow)
    {
      nallowed = rules_uses_for (kind, f->regime, allowed, 64);
      if (nallowed > 64)
        nallowed = 64;
    }
  json_t *uses = json_array ();
  for (size_t i = 0; i < nus; i++)
    {
      if (us[i].valid_to && us[i].valid_to[0])
        continue;
      if (narrow)
        {
          bool ok = false;
          for (size_t k = 0; k < nallowed; k++)
            ok = ok || allowed[k] == &us[i]
                 || strcmp (allowed[k]->code, us[i].code) == 0;
          if (!ok)
            continue;
        }
      struct buf rl = BUF_INIT;
      for (size_t k = 0; k < nrg; k++)
        if (catalog_use_allowed_for_regime (us[i].code, rg[k].code))
          buf_printf (&rl, "%s%s", rl.len ? " " : "", rg[k].code);
      json_array_append_new (
          uses, json_pack ("{s:s, s:s, s:s, s:s, s:b}", "code", us[i].code,
                           "desc", us[i].description, "kinds",
                           us[i].fisica && us[i].moral ? "f m"
                           : us[i].fisica              ? "f"
                                                       : "m",
                           "regimes", rl.data ? rl.data : "", "selected",
                           strcmp (f->use, us[i].code) == 0));
      buf_free (&rl);
    }
  json_object_set_new (p->ctx, "uses", uses);

  json_t *v = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "rfc", f->rfc,
                         "name", f->name, "zip", f->zip, "email1",
                         f->n_emails > 0 ? f->emails[0] : "", "email2", "",
                         "remember", f->remember, "rfc_ok", f->accept_digit);
  if (f->n_emails > 1)
    {
      struct buf more = BUF_INIT;
      for (size_t i = 1; i < f->n_emails; i++)
        buf_printf (&more, "%s%s", i > 1 ? ", " : "", f->emails[i]);
      json_object_set_new (v, "email2", json_string (more.data));
      buf_free (&more);
    }
  json_object_set_new (p->ctx, "v", v);
  json_object_set_new (p->ctx, "err", errs ? errs : json_object ());
  json_object_set_new (p->ctx, "has_errors",
                       json_boolean (errs && json_object_size (errs) > 0));
  json_object_set_new (p->ctx, "digit_warn", json_boolean (digit_warn));
}

/* The data page (tickets found + fiscal form + "add another ticket"). */
static enum MHD_Result
data_page (struct page *p, unsigned status, const struct cart *c,
           const struct fiscal *f, json_t *errs, bool digit_warn)
{
  struct fiscal remembered;
  if (f == NULL)
    f = fiscal_from_cookie (p, &remembered) ? &remembered : NULL;
  if (f == NULL)
    {
      memset (&remembered, 0, sizeof remembered);
      f = &remembered;
    }
  json_object_set_new (p->ctx, "has_remembered",
                       json_boolean (web_cookie (p->rq, "fdata") != NULL));
  cart_ctx (p, c);
  fiscal_ctx (p, f, errs, digit_warn);
  int64_t last;
  uint64_t ipkey = portal_guard_key (p->app->secret, "ip", p->ip);
  lookup_ctx (p, NULL, NULL, NULL, portal_guard_fails (ipkey, p->now, &last),
              ipkey);
  page_render (p, status, "data");
  return MHD_YES;
}

/* ================================================================== */
/* Classifying a ticket found                                          */
/* ================================================================== */

static void
resend_token (struct page *p, int64_t invoice_id)
{
  char pl[64];
  snprintf (pl, sizeof pl, "%lld:%lld", (long long)p->t.id,
            (long long)invoice_id);
  struct buf tok = BUF_INIT;
  token_make (p->app->secret, "portal-resend", pl, p->now + CART_TTL, &tok);
  json_object_set_new (p->ctx, "resend", json_string (tok.data));
  buf_free (&tok);
}

static enum MHD_Result
expired_page (struct page *p, int64_t deadline)
{
  char when[32];
  fmt_time (deadline - 1, p->tz, when);
  json_object_set_new (p->ctx, "deadline", json_string (when));
  return notice (p, 410, "exp_title", NULL);
}

static enum MHD_Result
invoiced_page (struct page *p, int64_t ticket_id)
{
  int64_t iid = 0;
  if (store_ticket_invoice (p->app->store, p->t.id, ticket_id, &iid)
          == STORE_ONE
      && iid > 0)
    resend_token (p, iid);
  json_object_set_new (p->ctx, "invoiced", json_true ());
  return notice (p, 409, "inv_title", "inv_text");
}

/* If tk cannot be invoiced, queues the page saying why and returns
 * true. */
static bool
ticket_refused (struct page *p, const struct store_ticket *tk)
{
  int64_t end
      = issue_window_end (tk->date, p->t.window_days,
                          issue_periodicity_parse (p->t.periodicity), p->tz);
  switch (tk->status)
    {
    case STORE_TICKET_CANCELLED:
      notice (p, 410, "can_title", "can_text");
      return true;
    case STORE_TICKET_INVOICED:
      invoiced_page (p, tk->id);
      return true;
    case STORE_TICKET_IN_GLOBAL:
      expired_page (p, end);
      return true;
    default:
      break;
    }
  if (p->now >= end)
    {
      expired_page (p, end);
      return true;
    }
  return false;
}

/* ================================================================== */
/* Handlers                                                            */
/* ================================================================== */

enum MHD_Result
portal_get_static (struct req *rq)
{
  return web_get_static (rq);
}

enum MHD_Result
portal_get_index (struct req *rq)
{
  struct page p;
  if (page_begin (rq, &p))
    {
      json_object_set_new (p.ctx, "cart", json_string (""));
      uint64_t ipkey = portal_guard_key (p.app->secret, "ip", p.ip);
      lookup_ctx (&p, NULL, NULL, NULL,
                  portal_guard_fails (ipkey, p.now, NULL), ipkey);
      page_render (&p, 200, "index");
    }
  page_free (&p);
  return MHD_YES;
}

static bool
color_ok (const char *c)
{
  size_t n = c ? strlen (c) : 0;
  if (!(n == 4 || n == 7) || c[0] != '#')
    return false;
  for (size_t i = 1; i < n; i++)
    if (!isxdigit ((unsigned char)c[i]))
      return false;
  return true;
}

enum MHD_Result
portal_get_theme (struct req *rq)
{
  struct page p;
  if (page_begin (rq, &p))
    {
      json_t *b = branding (&p.t);
      const char *pri
          = b ? json_string_value (json_object_get (b, "color")) : NULL;
      const char *acc
          = b ? json_string_value (json_object_get (b, "accent")) : NULL;
      struct buf css = BUF_INIT;
      buf_printf (&css, ":root{--brand:%s;--accent:%s}\n",
                  color_ok (pri) ? pri : "#1f5f8b",
                  color_ok (acc) ? acc : "#e8f1f8");
      json_decref (b);
      web_reply_bytes (rq, 200, "text/css; charset=utf-8", css.data, css.len,
                       NULL, false);
      buf_free (&css);
    }
  page_free (&p);
  return MHD_YES;
}

enum MHD_Result
portal_get_logo (struct req *rq)
{
  struct page p;
  if (!page_begin (rq, &p))
    {
      page_free (&p);
      return MHD_YES;
    }
  struct buf lg = BUF_INIT;
  const char *type = NULL;
  if (branding_logo (p.t.branding, &lg, &type))
    web_reply_bytes (rq, 200, type, lg.data, lg.len, NULL, false);
  else
    web_reply_bytes (rq, 404, "text/plain; charset=utf-8", "no logo\n", 8,
                     NULL, false);
  buf_free (&lg);
  page_free (&p);
  return MHD_YES;
}

enum MHD_Result
portal_get_ticket (struct req *rq)
{
  struct page p;
  if (!page_begin (rq, &p))
    goto out;
  const char *key = rq->params[1];
  uint64_t ipkey = portal_guard_key (p.app->secret, "ip", p.ip);
  unsigned retry = 0;
  if (!portal_guard_take (ipkey, p.now, &retry))
    {
      json_object_set_new (p.ctx, "wait", json_integer (retry));
      notice (&p, 429, "wait_title", NULL);
      goto out;
    }
  struct store_ticket tk;
  memset (&tk, 0, sizeof tk);
  enum store_status st
      = strlen (key) == STORE_TICKET_KEY_LEN
            ? store_ticket_find_key (p.app->store, p.t.id, key, &tk)
            : STORE_NONE;
  if (st < 0)
    notice (&p, 503, "error_title", "error_retry");
  else if (st == STORE_NONE)
    {
      portal_guard_fail (ipkey, p.now);
      log_info ("request %s: portal: tenant %lld: look-up by key failed "
                "(client %s)",
                rq->request_id, (long long)p.t.id, p.ip);
      notice (&p, 404, "nf_title", "nf_text");
    }
  else if (!ticket_refused (&p, &tk))
    {
      struct cart c = { .n = 1 };
      c.ids[0] = tk.id;
      data_page (&p, 200, &c, NULL, NULL, false);
    }
  store_ticket_clear (&tk);
out:
  page_free (&p);
  return MHD_YES;
}

/* Typed total -> micros: "$1,234.50", "1234.5", " 116 " all accepted. */
static bool
parse_total (const char *s, int64_t *out)
{
  char t[48];
  size_t j = 0;
  if (s == NULL)
    return false;
  for (; *s && j + 1 < sizeof t; s++)
    if (*s != '$' && *s != ',' && *s != ' ')
      t[j++] = *s;
  t[j] = '\0';
  return j > 0 && money_parse (t, out);
}

/* Decides whether a look-up may run now: rate limit, then proof of work
 * or wait after repeated failures.  False with a page queued. */
static bool
lookup_admitted (struct page *p, uint64_t ipkey, uint64_t fkey,
                 const char *branch, const char *folio, const char *total,
                 const struct cart *c)
{
  unsigned retry = 0;
  if (!portal_guard_take (ipkey, p->now, &retry)
      || !portal_guard_take (fkey, p->now, &retry))
    {
      json_object_set_new (p->ctx, "wait", json_integer (retry));
      notice (p, 429, "wait_title", NULL);
      return false;
    }
  int64_t l1, l2;
  int f1 = portal_guard_fails (ipkey, p->now, &l1);
  int f2 = portal_guard_fails (fkey, p->now, &l2);
  int fails = f1 > f2 ? f1 : f2;
  int64_t last = l1 > l2 ? l1 : l2;
  if (fails < PORTAL_FREE_FAILS)
    return true;
  /* A proof of work made for this client and this failure count. */
  const char *ch = web_form_get (&p->form, "pow_challenge");
  const char *nonce = web_form_get (&p->form, "pow_nonce");
  struct buf pl = BUF_INIT;
  char want[40];
  snprintf (want, sizeof want, "%016llx:%d:", (unsigned long long)ipkey,
            fails);
  bool ok = ch && nonce && *nonce
            && token_check (p->app->secret, "portal-pow", ch, p->now, &pl)
            && strncmp (pl.data, want, strlen (want)) == 0
            && pow_check (ch, nonce, portal_guard_bits (fails));
  buf_free (&pl);
  if (ok)
    return true;
  int wait = portal_guard_wait (fails);
  if (p->now - last >= wait)
    return true; /* waited long enough (no JavaScript) */
  json_object_set_new (p->ctx, "wait", json_integer (wait - (p->now - last)));
  json_object_set_new (p->ctx, "lookup_error",
                       json_string (portal_text (p->lang, "wait_title")));
  if (c->n > 0)
    {
      json_object_set_new (p->ctx, "has_remembered", json_false ());
      struct fiscal f;
      memset (&f, 0, sizeof f);
      cart_ctx (p, c);
      fiscal_ctx (p, &f, NULL, false);
      lookup_ctx (p, branch, folio, total, fails, ipkey);
      page_render (p, 429, "data");
    }
  else
    {
      json_object_set_new (p->ctx, "cart", json_string (""));
      lookup_ctx (p, branch, folio, total, fails, ipkey);
      page_render (p, 429, "index");
    }
  return false;
}

enum MHD_Result
portal_post_lookup (struct req *rq)
{
  struct page p;
  if (!page_begin (rq, &p) || !page_form (&p))
    goto out;
  struct cart c;
  if (!cart_read (&p, &c))
    {
      notice (&p, 400, "session_title", "session_text");
      goto out;
    }
  char branch[64], folio[128], total[64];
  trim_copy (branch, sizeof branch, web_form_get (&p.form, "branch"));
  trim_copy (folio, sizeof folio, web_form_get (&p.form, "folio"));
  trim_copy (total, sizeof total, web_form_get (&p.form, "total"));
  char bf[200];
  snprintf (bf, sizeof bf, "%s\n%s", branch, folio);
  uint64_t ipkey = portal_guard_key (p.app->secret, "ip", p.ip);
  uint64_t fkey = portal_guard_key (p.app->secret, "folio", bf);
  if (!lookup_admitted (&p, ipkey, fkey, branch, folio, total, &c))
    goto out;

  struct store_branch br;
  struct store_ticket tk;
  memset (&br, 0, sizeof br);
  memset (&tk, 0, sizeof tk);
  int64_t want = 0;
  enum store_status st = STORE_NONE;
  bool total_ok = parse_total (total, &want);
  if (branch[0] && folio[0])
    {
      st = store_branch_find_code (p.app->store, p.t.id, branch, &br);
      if (st == STORE_ONE)
        st = store_ticket_find_folio (p.app->store, p.t.id, br.id, folio, &tk);
    }
  if (st < 0)
    {
      notice (&p, 503, "error_title", "error_retry");
      goto done;
    }
  if (st == STORE_NONE || !total_ok || tk.total != want)
    {
      /* One answer whatever was wrong (store, folio or total). */
      portal_guard_fail (ipkey, p.now);
      portal_guard_fail (fkey, p.now);
      log_info ("request %s: portal: tenant %lld: look-up failed (client "
                "%s)",
                rq->request_id, (long long)p.t.id, p.ip);
      json_object_set_new (p.ctx, "lookup_error",
                           json_string (portal_text (p.lang, "nf_title")));
      json_object_set_new (p.ctx, "lookup_error_text",
                           json_string (portal_text (p.lang, "nf_text")));
      int fails = portal_guard_fails (ipkey, p.now, NULL);
      int f2 = portal_guard_fails (fkey, p.now, NULL);
      if (f2 > fails)
        fails = f2;
      if (c.n > 0)
        {
          json_object_set_new (p.ctx, "has_remembered", json_false ());
          struct fiscal f;
          memset (&f, 0, sizeof f);
          cart_ctx (&p, &c);
          fiscal_ctx (&p, &f, NULL, false);
          lookup_ctx (&p, branch, folio, total, fails, ipkey);
          page_render (&p, 404, "data");
        }
      else
        {
          json_object_set_new (p.ctx, "cart", json_string (""));
          lookup_ctx (&p, branch, folio, total, fails, ipkey);
          page_render (&p, 404, "index");
        }
      goto done;
    }
  if (ticket_refused (&p, &tk))
    goto done;
  bool dup = false;
  for (size_t i = 0; i < c.n; i++)
    dup = dup || c.ids[i] == tk.id;
  if (!dup)
    {
      if (c.n >= PORTAL_MAX_TICKETS)
        json_object_set_new (
            p.ctx, "lookup_error",
            json_string (portal_text (p.lang, "too_many_tickets")));
      else
        c.ids[c.n++] = tk.id;
    }
  data_page (&p, 200, &c, NULL, NULL, false);
done:
  store_ticket_clear (&tk);
out:
  page_free (&p);
  return MHD_YES;
}

/* ================================================================== */
/* Preview: the invoice model exactly as issue_invoice_for_tickets     */
/* builds it (the tickets' stored items through invoice_items_from_json */
/* and invoice_compute, payment form of the largest ticket, PUE)       */
/* ================================================================== */

static const char *
tax_name (enum invoice_tax_kind k)
{
  return k == INVOICE_TAX_ISR ? "ISR" : k == INVOICE_TAX_IVA ? "IVA" : "IEPS";
}

/* Fills the preview context; false if the tickets cannot be read. */
static bool
preview_ctx (struct page *p, const struct cart *c, const struct fiscal *f)
{
  struct invoice inv;
  invoice_init (&inv);
  struct ferr e;
  memset (&e, 0, sizeof e);
  bool ok = c->n > 0;
  int64_t big_total = -1;
  char form[3] = "";
  for (size_t i = 0; ok && i < c->n; i++)
    {
      struct store_ticket tk;
      memset (&tk, 0, sizeof tk);
      ok = store_ticket_get (p->app->store, p->t.id, c->ids[i], &tk)
           == STORE_ONE;
      if (ok)
        {
          if (tk.total > big_total)
            {
              big_total = tk.total;
              snprintf (form, sizeof form, "%s", tk.payment_form);
            }
          snprintf (inv.currency, sizeof inv.currency, "%s", tk.currency);
          json_error_t je;
          json_t *items = json_loads (tk.items ? tk.items : "", 0, &je);
          ok = items && invoice_items_from_json (items, &inv, &e);
          json_decref (items);
        }
      store_ticket_clear (&tk);
    }
  ok = ok && invoice_compute (&inv, &e);
  if (!ok)
    {
      invoice_free (&inv);
      return false;
    }
  json_t *items = json_array ();
  for (size_t i = 0; i < inv.n_items; i++)
    {
      const struct invoice_item *it = &inv.items[i];
      char q[MONEY_BUFSZ], up[MONEY_BUFSZ + 1], am[48], ds[48];
      money_format_min (it->quantity, 0, q);
      up[0] = '$';
      money_format_min (it->unit_price, 2, up + 1);
      fmt_money (it->amount, am);
      fmt_money (it->discount_net, ds);
      json_array_append_new (
          items,
          json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?}", "qty", q, "unit",
                     it->unit_name ? it->unit_name : it->unit_key,
                     "description", it->description, "unit_price", up,
                     "amount", am, "product_key", it->product_key, "discount",
                     it->has_discount && it->discount_net ? ds : NULL));
    }
  json_t *taxes = json_array ();
  for (size_t i = 0; i < inv.n_tax_totals; i++)
    {
      const struct invoice_tax_total *tt = &inv.tax_totals[i];
      char label[64], am[48], rate[MONEY_BUFSZ];
      if (tt->withholding)
        snprintf (label, sizeof label, "%s %s", tax_name (tt->kind),
                  portal_text (p->lang, "withheld"));
      else if (tt->factor == INVOICE_FACTOR_EXENTO)
        snprintf (label, sizeof label, "%s %s", tax_name (tt->kind),
                  strcmp (p->lang, "en") == 0 ? "exempt" : "exento");
      else if (tt->factor == INVOICE_FACTOR_TASA)
        {
          money_format_min (tt->rate * 100, 0, rate);
          snprintf (label, sizeof label, "%s %s%%", tax_name (tt->kind), rate);
        }
      else
        snprintf (label, sizeof label, "%s", tax_name (tt->kind));
      fmt_money (tt->withholding ? -tt->amount : tt->amount, am);
      json_array_append_new (
          taxes, json_pack ("{s:s, s:s}", "label", label, "amount", am));
    }
  char sub[48], disc[48], tot[48];
  fmt_money (inv.subtotal, sub);
  fmt_money (inv.discount, disc);
  fmt_money (inv.total, tot);
  const struct catalog_payment_form *pf = catalog_payment_form (form);
  const struct catalog_regime *rr = catalog_regime (f->regime);
  const struct catalog_regime *ri = catalog_regime (p->t.regime);
  const struct catalog_use *uu = catalog_use (f->use);
  struct buf em = BUF_INIT;
  for (size_t i = 0; i < f->n_emails; i++)
    buf_printf (&em, "%s%s", i ? ", " : "", f->emails[i]);
  json_object_set_new (
      p->ctx, "inv",
      json_pack ("{s:o, s:o, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s}", "items",
                 items, "taxes", taxes, "subtotal", sub, "discount", disc,
                 "has_discount", inv.discount != 0, "total", tot, "currency",
                 inv.currency[0] ? inv.currency : "MXN", "payment_form",
                 pf ? pf->description : form, "form_code", form, "emails",
                 em.data ? em.data : ""));
  json_object_set_new (p->ctx, "issuer",
                       json_pack ("{s:s, s:s, s:s}", "rfc", p->t.rfc, "name",
                                  p->t.name, "regime",
                                  ri ? ri->description : p->t.regime));
  json_object_set_new (p->ctx, "receiver",
                       json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "rfc",
                                  f->rfc, "name", f->name, "zip", f->zip,
                                  "regime_code", f->regime, "regime",
                                  rr ? rr->description : "", "use_code",
                                  f->use, "use", uu ? uu->description : ""));
  buf_free (&em);
  invoice_free (&inv);
  return true;
}

/* Hidden copies of the fiscal fields for the confirm form. */
static void
hidden_ctx (struct page *p, const struct fiscal *f)
{
  struct buf em = BUF_INIT;
  for (size_t i = 0; i < f->n_emails; i++)
    buf_printf (&em, "%s%s", i ? "," : "", f->emails[i]);
  json_object_set_new (
      p->ctx, "h",
      json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "rfc", f->rfc, "name",
                 f->name, "zip", f->zip, "regime", f->regime, "use", f->use,
                 "emails", em.data ? em.data : "", "rfc_ok", f->accept_digit));
  buf_free (&em);
}

enum MHD_Result
portal_post_data (struct req *rq)
{
  struct page p;
  if (!page_begin (rq, &p) || !page_form (&p))
    goto out;
  struct cart c;
  if (!cart_read (&p, &c) || c.n == 0)
    {
      notice (&p, 400, "session_title", "session_text");
      goto out;
    }
  struct fiscal f;
  fiscal_from_form (&p.form, &f);
  if (web_form_get (&p.form, "edit"))
    {
      /* "Change data" from the preview: the form again, filled in. */
      data_page (&p, 200, &c, &f, NULL, false);
      goto out;
    }
  bool warn = false;
  json_t *errs = fiscal_check (&f, p.lang, &warn);
  if (json_object_size (errs) > 0)
    {
      data_page (&p, 422, &c, &f, errs, warn);
      goto out;
    }
  json_decref (errs);
  if (f.remember)
    remember_cookie (&p, &f);
  else if (web_cookie (rq, "fdata"))
    add_cookie (&p, "fdata", "", 0); /* unticked: forget */
  cart_ctx (&p, &c);
  hidden_ctx (&p, &f);
  if (!preview_ctx (&p, &c, &f))
    {
      log_error ("request %s: portal: tenant %lld: tickets cannot be read "
                 "for the preview",
                 rq->request_id, (long long)p.t.id);
      notice (&p, 500, "error_title", "error_internal");
      goto out;
    }
  page_render (&p, 200, "preview");
out:
  page_free (&p);
  return MHD_YES;
}

/* "portal:" + a keyed hash of the browser's CSRF cookie: lets a second
 * tab of the same browser see the invoice the first tab issued, and
 * nobody else. */
static void
actor_of (struct page *p, char out[40])
{
  uint8_t h[8];
  char hex[17];
  crypto_generichash (h, sizeof h, (const uint8_t *)p->csrf, strlen (p->csrf),
                      p->app->secret, 32);
  sodium_bin2hex (hex, sizeof hex, h, sizeof h);
  snprintf (out, 40, "portal:%s", hex);
}

static bool
issued_by (struct page *p, int64_t invoice_id, const char *actor)
{
  struct store_event *ev = NULL;
  size_t n = 0;
  bool same = false;
  if (store_event_list (p->app->store, p->t.id, invoice_id, &ev, &n) >= 0)
    for (size_t i = 0; i < n; i++)
      if (strcmp (ev[i].kind, "issued") == 0
          && strcmp (ev[i].actor, actor) == 0)
        same = true;
  store_event_list_free (ev, n);
  return same;
}

static void
dl_link (struct page *p, int64_t invoice_id, const char *file, const char *key)
{
  char pl[80];
  snprintf (pl, sizeof pl, "%lld:%lld:%s", (long long)p->t.id,
            (long long)invoice_id, file);
  struct buf tok = BUF_INIT, url = BUF_INIT;
  token_make (p->app->secret, "portal-dl", pl, p->now + DL_TTL, &tok);
  buf_printf (&url, "/%s/dl/%s", p->t.slug, tok.data);
  json_object_set_new (p->ctx, key, json_string (url.data));
  buf_free (&tok);
  buf_free (&url);
}

static enum MHD_Result
done_page (struct page *p, const struct issue_out *o, const struct fiscal *f)
{
  char sf[64];
  snprintf (sf, sizeof sf, "%s-%lld", o->series, (long long)o->folio);
  struct buf em = BUF_INIT;
  for (size_t i = 0; i < f->n_emails; i++)
    buf_printf (&em, "%s%s", i ? ", " : "", f->emails[i]);
  json_object_set_new (p->ctx, "done",
                       json_pack ("{s:s, s:s, s:s}", "uuid", o->uuid,
                                  "series_folio", sf, "emails",
                                  em.data ? em.data : ""));
  buf_free (&em);
  dl_link (p, o->invoice_id, "xml", "xml_url");
  dl_link (p, o->invoice_id, "pdf", "pdf_url");
  page_render (p, 200, "done");
  return MHD_YES;
}

enum MHD_Result
portal_post_confirm (struct req *rq)
{
  struct page p;
  if (!page_begin (rq, &p) || !page_form (&p))
    goto out;
  struct cart c;
  if (!cart_read (&p, &c) || c.n == 0)
    {
      notice (&p, 400, "session_title", "session_text");
      goto out;
    }
  struct fiscal f;
  fiscal_from_form (&p.form, &f);
  bool warn = false;
  json_t *errs = fiscal_check (&f, p.lang, &warn);
  if (json_object_size (errs) > 0)
    {
      data_page (&p, 422, &c, &f, errs, warn);
      goto out;
    }
  json_decref (errs);
  const char *em[ISSUE_MAX_EMAILS];
  for (size_t i = 0; i < f.n_emails; i++)
    em[i] = f.emails[i];
  struct issue_receiver r = { .rfc = f.rfc,
                              .name = f.name,
                              .regime = f.regime,
                              .zip = f.zip,
                              .use = f.use,
                              .emails = em,
                              .n_emails = f.n_emails,
                              .accept_check_digit = f.accept_digit };
  char actor[40];
  actor_of (&p, actor);
  struct issue_out o;
  enum issue_result res = issue_invoice_for_tickets (
      p.app->store, p.t.id, c.ids, c.n, &r, actor, p.lang, 0, &o);
  log_info ("request %s: portal: tenant %lld: issue %s: %zu ticket(s), "
            "invoice %lld (client %s)",
            rq->request_id, (long long)p.t.id, issue_result_code (res), c.n,
            (long long)o.invoice_id, p.ip);
  struct store_ticket tk;
  memset (&tk, 0, sizeof tk);
  switch (res)
    {
    case ISSUE_OK:
      done_page (&p, &o, &f);
      break;
    case ISSUE_EXISTING:
      /* The same browser (a second tab, a double click) sees its
       * invoice; anyone else only the "already invoiced" answer. */
      if (issued_by (&p, o.invoice_id, actor))
        done_page (&p, &o, &f);
      else
        {
          resend_token (&p, o.invoice_id);
          json_object_set_new (p.ctx, "invoiced", json_true ());
          notice (&p, 409, "inv_title", "inv_text");
        }
      break;
    case ISSUE_INVALID:
      {
        json_t *e2 = json_object ();
        set_err (e2, form_field (o.err.field), p.lang, &o.err, NULL);
        data_page (&p, 422, &c, &f, e2, false);
      }
      break;
    case ISSUE_NOT_FOUND:
      notice (&p, 404, "nf_title", "nf_text");
      break;
    case ISSUE_CANCELLED:
      notice (&p, 410, "can_title", "can_text");
      break;
    case ISSUE_EXPIRED:
      expired_page (&p, o.deadline);
      break;
    case ISSUE_IN_GLOBAL:
      if (store_ticket_get (p.app->store, p.t.id, o.ticket_id, &tk)
          == STORE_ONE)
        expired_page (
            &p, issue_window_end (tk.date, p.t.window_days,
                                  issue_periodicity_parse (p.t.periodicity),
                                  p.tz));
      else
        notice (&p, 410, "exp_title", "exp_text2");
      break;
    case ISSUE_INVOICED:
      invoiced_page (&p, o.ticket_id);
      break;
    case ISSUE_NO_CSD:
      notice (&p, 503, "error_title", "error_csd");
      break;
    case ISSUE_STAMP_RETRY:
    case ISSUE_STORE_ERROR:
      notice (&p, 503, "error_title", "error_retry");
      break;
    default:
      notice (&p, 500, "error_title", "error_internal");
      break;
    }
  store_ticket_clear (&tk);
out:
  page_free (&p);
  return MHD_YES;
}

enum MHD_Result
portal_post_resend (struct req *rq)
{
  struct page p;
  if (!page_begin (rq, &p) || !page_form (&p))
    goto out;
  struct buf pl = BUF_INIT;
  long long tid = 0, iid = 0;
  bool ok = token_check (p.app->secret, "portal-resend",
                         web_form_get (&p.form, "resend"), p.now, &pl)
            && sscanf (pl.data, "%lld:%lld", &tid, &iid) == 2 && tid == p.t.id;
  buf_free (&pl);
  uint64_t ipkey = portal_guard_key (p.app->secret, "ip", p.ip);
  char inv_text[48];
  snprintf (inv_text, sizeof inv_text, "%lld:%lld", tid, iid);
  uint64_t rkey = portal_guard_key (p.app->secret, "resend", inv_text);
  unsigned retry = 0;
  if (!ok)
    notice (&p, 400, "session_title", "session_text");
  else if (!portal_guard_take (ipkey, p.now, &retry)
           || portal_guard_fails (rkey, p.now, NULL) >= PORTAL_MAX_RESENDS)
    {
      /* At most PORTAL_MAX_RESENDS per invoice in 30 minutes: nobody
       * can flood the customer's mailbox with its own invoice. */
      json_object_set_new (p.ctx, "wait", json_integer (retry ? retry : 1800));
      notice (&p, 429, "wait_title", NULL);
    }
  else
    {
      portal_guard_fail (rkey, p.now);
      char actor[40];
      actor_of (&p, actor);
      int64_t job = 0;
      enum store_status st = mail_enqueue_invoice (
          p.app->store, p.t.id, iid, NULL, 0, p.lang, actor, &job);
      log_info ("request %s: portal: tenant %lld: resend invoice %lld: %s",
                rq->request_id, (long long)p.t.id, iid,
                st == STORE_ONE ? "queued" : "no address");
      if (st < 0)
        notice (&p, 503, "error_title", "error_retry");
      else
        notice (&p, 200, "inv_title",
                st == STORE_ONE ? "resent" : "resend_none");
    }
out:
  page_free (&p);
  return MHD_YES;
}

enum MHD_Result
portal_post_forget (struct req *rq)
{
  struct page p;
  if (page_begin (rq, &p) && page_form (&p))
    {
      add_cookie (&p, "fdata", "", 0);
      json_object_set_new (p.ctx, "info",
                           json_string (portal_text (p.lang, "forgotten")));
      json_object_set_new (p.ctx, "cart", json_string (""));
      uint64_t ipkey = portal_guard_key (p.app->secret, "ip", p.ip);
      lookup_ctx (&p, NULL, NULL, NULL,
                  portal_guard_fails (ipkey, p.now, NULL), ipkey);
      page_render (&p, 200, "index");
    }
  page_free (&p);
  return MHD_YES;
}

enum MHD_Result
portal_get_download (struct req *rq)
{
  struct page p;
  if (!page_begin (rq, &p))
    goto out;
  struct buf pl = BUF_INIT;
  long long tid = 0, iid = 0;
  char file[8] = "";
  bool ok = token_check (p.app->secret, "portal-dl", rq->params[1], p.now, &pl)
            && sscanf (pl.data, "%lld:%lld:%3s", &tid, &iid, file) == 3
            && tid == p.t.id
            && (strcmp (file, "xml") == 0 || strcmp (file, "pdf") == 0);
  buf_free (&pl);
  if (!ok)
    {
      notice (&p, 404, "session_title", "back");
      goto out;
    }
  struct store_invoice inv;
  memset (&inv, 0, sizeof inv);
  enum store_status st
      = store_invoice_get (p.app->store, p.t.id, iid, true, &inv);
  if (st != STORE_ONE)
    {
      notice (&p, st < 0 ? 503 : 404, "session_title", "back");
      store_invoice_clear (&inv);
      goto out;
    }
  /* The delivery timeline (GET /v1/invoices/{id}/events): the shopper
   * fetched the document in the portal.  Best effort: a failed write
   * must not cost them the download. */
  char detail[32];
  snprintf (detail, sizeof detail, "{\"document\":\"%s\"}", file);
  if (store_event_add (p.app->store, p.t.id, iid, 0, "viewed", "portal",
                       detail, NULL)
      < 0)
    log_warn ("request %s: portal: invoice %lld: viewed event not recorded",
              rq->request_id, iid);
  char name[96];
  snprintf (name, sizeof name, "%s-%s-%lld.%s", p.t.rfc, inv.series,
            (long long)inv.folio, file);
  /* A plain ASCII file name for Content-Disposition (RFCs may hold '&'
   * or 'Ñ'; series are the merchant's text). */
  for (unsigned char *q = (unsigned char *)name; *q; q++)
    if (!isalnum (*q) && *q != '-' && *q != '.' && *q != '_')
      *q = '_';
  if (strcmp (file, "xml") == 0)
    web_reply_bytes (rq, 200, "application/xml", inv.xml, inv.xml_len, name,
                     false);
  else
    {
      struct buf pdf = BUF_INIT;
      struct ferr e;
      memset (&e, 0, sizeof e);
      if (inv.pdf && inv.pdf_len)
        buf_append (&pdf, inv.pdf, inv.pdf_len);
      else
        {
          /* Rendered once with the merchant's logo of now, then kept. */
          struct buf logo = BUF_INIT;
          branding_pdf_logo (p.t.branding, &logo);
          struct pdf_options po = { .logo = (const unsigned char *)logo.data,
                                    .logo_len = logo.len,
                                    .logo_optional = true };
          if (pdf_render_cfdi ((const char *)inv.xml, inv.xml_len, &po, &pdf,
                               &e))
            store_invoice_set_pdf (p.app->store, p.t.id, iid,
                                   (const unsigned char *)pdf.data, pdf.len);
          buf_free (&logo);
        }
      if (pdf.len)
        web_reply_bytes (rq, 200, "application/pdf", pdf.data, pdf.len, name,
                         false);
      else
        {
          log_error ("request %s: portal: invoice %lld: pdf: %s",
                     rq->request_id, iid, e.message);
          notice (&p, 500, "error_title", "error_internal");
        }
      buf_free (&pdf);
    }
  store_invoice_clear (&inv);
out:
  page_free (&p);
  return MHD_YES;
}
