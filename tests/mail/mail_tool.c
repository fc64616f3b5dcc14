/*
 * mail_tool.c — test driver for the mail suite: builds a message with
 * mail_build() and sends it with mail_send(), so the Python tests can
 * check what a real SMTP server received.
 *
 *   mail_tool send --smtp URL --from ADDR [--from-name NAME]
 *       [--reply-to ADDR] --to ADDR [--to ADDR…] --subject TEXT
 *       --text FILE [--html FILE] [--attach PATH:NAME:TYPE]…
 *       [--message-id ID]
 *   mail_tool render DIR LANG JSONFILE    prints subject, text, html
 *
 * Outbox commands (DB is a store URL: sqlite:PATH or postgres://…):
 *   mail_tool init DB [BRANDING_JSON]      migrate, create a tenant; prints id
 *   mail_tool issue DB TENANT FOLIO XMLFILE PDFFILE|- EMAIL [--to A]…
 *       inserts an invoice and queues its mail in ONE transaction, as the
 *       issuing code does; prints "invoice_id job_id"
 *   mail_tool enqueue DB TENANT INVOICE [--lang L] [--to A]…   (resend)
 *   mail_tool work DB SECONDS [--until-idle] [--smtp URL] [--workers N]
 *       [--lease S] [--backoff B] [--max-attempts K] [--id W]
 *   mail_tool events DB TENANT INVOICE     JSON timeline
 *   mail_tool job DB TENANT JOB            JSON state of one job
 *   mail_tool track DB TENANT INVOICE JOB  links: make, check, record
 *   mail_tool pdf DB TENANT INVOICE OUT    writes the stored PDF (exit 1 if
 *                                          none); links the PDF module in,
 *                                          so the worker here renders PDFs
 *
 * Exit status of send: 0 sent, 1 temporary failure, 3 permanent failure,
 * 2 refused before sending (bad input).  The server's reply goes to
 * stdout.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "jobs/jobs.h"
#include "jobs/mail.h"
#include "pdf/pdf.h"

static int usage (void);

static const uint8_t test_secret[TOKEN_SECRET_BYTES] = "0123456789abcdef0123456789abcde";

static struct store *
open_db (const char *url)
{
  struct ferr e = { 0 };
  struct store *s = store_open (url, &e);
  if (s == NULL)
    {
      fprintf (stderr, "mail_tool: cannot open %s: %s\n", url, e.message);
      exit (1);
    }
  return s;
}

static int
cmd_init (int argc, char **argv)
{
  if (argc < 2)
    return usage ();
  struct store *s = open_db (argv[1]);
  if (store_migrate (s, NULL) < 0)
    return 1;
  struct store_tenant t;
  store_tenant_init (&t);
  char slug[40];
  snprintf (slug, sizeof slug, "tienda-%ld-%ld", (long) getpid (),
            (long) time (NULL));
  snprintf (t.slug, sizeof t.slug, "%s", slug);
  snprintf (t.rfc, sizeof t.rfc, "EKU9003173C9");
  snprintf (t.name, sizeof t.name, "Cafetería Ñandú");
  snprintf (t.regime, sizeof t.regime, "601");
  snprintf (t.zip, sizeof t.zip, "06000");
  if (argc > 2)
    t.branding = strdup (argv[2]);
  if (store_tenant_insert (s, &t) != STORE_ONE)
    return 1;
  printf ("%" PRId64 "\n", t.id);
  store_tenant_clear (&t);
  store_close (s);
  return 0;
}

struct issue_arg
{
  struct store_invoice *inv;
  const char *to[MAIL_MAX_TO];
  size_t n_to;
  int64_t job;
};

static enum store_status
tx_issue (struct store *s, void *arg)
{
  struct issue_arg *a = arg;
  enum store_status st = store_invoice_insert (s, a->inv->tenant_id, a->inv);
  if (st != STORE_ONE)
    return st == STORE_NONE ? STORE_HARD : st;
  st = mail_enqueue_invoice (s, a->inv->tenant_id, a->inv->id,
                             a->n_to ? a->to : NULL, a->n_to, NULL,
                             "user:1", &a->job);
  return st == STORE_NONE ? STORE_HARD : st;
}

static int
cmd_issue (int argc, char **argv)
{
  if (argc < 7)
    return usage ();
  struct store *s = open_db (argv[1]);
  struct store_invoice inv = { 0 };
  struct buf xml = BUF_INIT, pdf = BUF_INIT;
  inv.tenant_id = atoll (argv[2]);
  inv.folio = atoll (argv[3]);
  if (read_file (argv[4], &xml, 0) != 0)
    return usage ();
  if (strcmp (argv[5], "-") != 0 && read_file (argv[5], &pdf, 0) != 0)
    return usage ();
  snprintf (inv.customer_email, sizeof inv.customer_email, "%s", argv[6]);
  unsigned char r[16];
  randombytes_buf (r, sizeof r);
  snprintf (inv.uuid, sizeof inv.uuid,
            "%02X%02X%02X%02X-%02X%02X-4%X%02X-8%X%02X-%02X%02X%02X%02X%02X%02X",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6] & 15, r[7], r[8] & 15,
            r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
  snprintf (inv.series, sizeof inv.series, "A");
  snprintf (inv.type, sizeof inv.type, "I");
  snprintf (inv.customer_rfc, sizeof inv.customer_rfc, "XAXX010101000");
  snprintf (inv.customer_name, sizeof inv.customer_name, "Señora Pérez");
  snprintf (inv.currency, sizeof inv.currency, "MXN");
  inv.total = 1234500000; /* 1,234.50 */
  inv.xml = (unsigned char *) xml.data;
  inv.xml_len = xml.len;
  if (pdf.data)
    {
      inv.pdf = (unsigned char *) pdf.data;
      inv.pdf_len = pdf.len;
    }
  struct issue_arg a = { &inv, { 0 }, 0, 0 };
  for (int i = 7; i + 1 < argc; i += 2)
    if (strcmp (argv[i], "--to") == 0 && a.n_to < MAIL_MAX_TO)
      a.to[a.n_to++] = argv[i + 1];
  enum store_status st = store_tx (s, tx_issue, &a);
  if (st != STORE_ONE)
    {
      fprintf (stderr, "mail_tool: issue failed (%d)\n", st);
      return 1;
    }
  printf ("%" PRId64 " %" PRId64 "\n", inv.id, a.job);
  buf_free (&xml);
  buf_free (&pdf);
  store_close (s);
  return 0;
}

static int
cmd_enqueue (int argc, char **argv)
{
  if (argc < 4)
    return usage ();
  struct store *s = open_db (argv[1]);
  const char *to[MAIL_MAX_TO];
  size_t n = 0;
  const char *lang = NULL;
  for (int i = 4; i + 1 < argc; i += 2)
    if (strcmp (argv[i], "--to") == 0 && n < MAIL_MAX_TO)
      to[n++] = argv[i + 1];
    else if (strcmp (argv[i], "--lang") == 0)
      lang = argv[i + 1];
  int64_t job = 0;
  enum store_status st = mail_enqueue_invoice (
      s, atoll (argv[2]), atoll (argv[3]), n ? to : NULL, n, lang,
      "user:2", &job);
  printf ("%d %" PRId64 "\n", st, job);
  store_close (s);
  return st == STORE_ONE ? 0 : st == STORE_NONE ? 2 : 1;
}

static int
cmd_work (int argc, char **argv)
{
  if (argc < 3)
    return usage ();
  struct store *s = open_db (argv[1]);
  double seconds = atof (argv[2]);
  bool until_idle = false;
  struct jobs_config c;
  jobs_config_defaults (&c);
  c.poll_ms = 50;
  c.backoff_base = 1;
  c.backoff_max = 2;
  c.lease_seconds = 30;
  snprintf (c.mail_from, sizeof c.mail_from, "facturas@tienda.example.com");
  snprintf (c.base_url, sizeof c.base_url, "https://facturo.example.com");
  memcpy (c.secret, test_secret, sizeof c.secret);
  for (int i = 3; i < argc; i++)
    {
      const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
      if (strcmp (a, "--until-idle") == 0)
        {
          until_idle = true;
          continue;
        }
      i++;
      if (strcmp (a, "--smtp") == 0)
        snprintf (c.smtp_url, sizeof c.smtp_url, "%s", v);
      else if (strcmp (a, "--workers") == 0)
        c.workers = (unsigned) atoi (v);
      else if (strcmp (a, "--lease") == 0)
        c.lease_seconds = (unsigned) atoi (v);
      else if (strcmp (a, "--backoff") == 0)
        c.backoff_base = c.backoff_max = (unsigned) atoi (v);
      else if (strcmp (a, "--max-attempts") == 0)
        c.max_attempts = (unsigned) atoi (v);
      else if (strcmp (a, "--id") == 0)
        snprintf (c.worker_id, sizeof c.worker_id, "%s", v);
      else if (strcmp (a, "--tenant-templates") == 0)
        snprintf (c.tenant_templates_dir, sizeof c.tenant_templates_dir,
                  "%s", v);
      else
        return usage ();
    }
  char err[200];
  struct jobs *j = jobs_start (s, &c, err, sizeof err);
  if (j == NULL)
    {
      fprintf (stderr, "mail_tool: %s\n", err);
      return 1;
    }
  struct timespec t0, now;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (;;)
    {
      struct timespec ts = { 0, 50000000L };
      nanosleep (&ts, NULL);
      clock_gettime (CLOCK_MONOTONIC, &now);
      double el = (double) (now.tv_sec - t0.tv_sec)
                  + (double) (now.tv_nsec - t0.tv_nsec) / 1e9;
      if (el > seconds)
        break;
      if (until_idle)
        {
          int64_t q = 1, r = 1;
          if (store_job_count (s, 0, STORE_JOB_QUEUED, &q) >= 0
              && store_job_count (s, 0, STORE_JOB_RUNNING, &r) >= 0
              && q == 0 && r == 0)
            break;
        }
    }
  jobs_stop (j);
  store_close (s);
  return 0;
}

static int
cmd_events (int argc, char **argv)
{
  if (argc < 4)
    return usage ();
  struct store *s = open_db (argv[1]);
  struct store_event *ev = NULL;
  size_t n = 0;
  if (store_event_list (s, atoll (argv[2]), atoll (argv[3]), &ev, &n) < 0)
    return 1;
  json_t *a = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      json_t *d = ev[i].detail ? json_loads (ev[i].detail, 0, NULL) : NULL;
      json_array_append_new (a, json_pack ("{s:s, s:s, s:I, s:o*}", "kind",
                                           ev[i].kind, "actor", ev[i].actor,
                                           "at", (json_int_t) ev[i].at,
                                           "detail", d));
    }
  char *txt = json_dumps (a, JSON_COMPACT);
  puts (txt);
  free (txt);
  json_decref (a);
  store_event_list_free (ev, n);
  store_close (s);
  return 0;
}

static int
cmd_job (int argc, char **argv)
{
  if (argc < 4)
    return usage ();
  struct store *s = open_db (argv[1]);
  struct store_job j = { 0 };
  if (store_job_get (s, atoll (argv[2]), atoll (argv[3]), &j) != STORE_ONE)
    return 1;
  json_t *o = json_pack ("{s:s, s:i, s:s*, s:I}", "state",
                         store_job_state_name (j.state), "attempts",
                         j.attempts, "last_error", j.last_error, "run_after",
                         (json_int_t) j.run_after);
  char *txt = json_dumps (o, JSON_COMPACT);
  puts (txt);
  free (txt);
  json_decref (o);
  store_job_clear (&j);
  store_close (s);
  return 0;
}

/* Links: made, checked, refused when tampered, expired or used for the
 * other purpose; then the events recorded (opened twice: one event). */
static int
cmd_track (int argc, char **argv)
{
  if (argc < 5)
    return usage ();
  struct store *s = open_db (argv[1]);
  int64_t t = atoll (argv[2]), inv = atoll (argv[3]), job = atoll (argv[4]);
  time_t now = time (NULL);
  struct buf dl = BUF_INIT, px = BUF_INIT;
  mail_link_download (test_secret, "https://f.example.com", t, inv, job,
                      "pdf", now + 60, &dl);
  mail_link_pixel (test_secret, "https://f.example.com", t, inv, job,
                   now + 60, &px);
  const char *dtok = dl.data + strlen ("https://f.example.com/_mail/d/");
  char *ptok = strdup (px.data + strlen ("https://f.example.com/_mail/t/"));
  *strrchr (ptok, '.') = '\0'; /* drop ".gif" */
  struct mail_link l;
  int bad = 0;
  if (!mail_link_check_download (test_secret, dtok, now, &l)
      || l.tenant_id != t || l.invoice_id != inv || l.job_id != job
      || strcmp (l.file, "pdf") != 0)
    bad |= 1;
  if (mail_link_check_download (test_secret, dtok, now + 61, &l))
    bad |= 2; /* expired */
  if (mail_link_check_pixel (test_secret, dtok, now, &l))
    bad |= 4; /* wrong purpose */
  char *forged = strdup (dtok);
  forged[2] = forged[2] == 'A' ? 'B' : 'A';
  if (mail_link_check_download (test_secret, forged, now, &l))
    bad |= 8;
  uint8_t other[TOKEN_SECRET_BYTES] = { 1 };
  if (mail_link_check_download (other, dtok, now, &l))
    bad |= 16;
  struct mail_link lp;
  if (!mail_link_check_pixel (test_secret, ptok, now, &lp)
      || lp.job_id != job || lp.file[0] != '\0')
    bad |= 32;
  if (strncmp (px.data, "https://f.example.com/_mail/t/", 30) != 0
      || strcmp (px.data + px.len - 4, ".gif") != 0)
    bad |= 64;
  if (mail_pixel_gif_len != 43 || memcmp (mail_pixel_gif, "GIF89a", 6) != 0)
    bad |= 128;
  if (bad == 0
      && (mail_track_opened (s, &lp) < 0 || mail_track_opened (s, &lp) < 0
          || mail_track_downloaded (s, &l) < 0))
    bad |= 256;
  mail_link_check_download (test_secret, dtok, now, &l);
  if (bad == 0 && mail_track_downloaded (s, &l) < 0)
    bad |= 512;
  /* the route helpers: a good link serves the stored PDF, a forged or
     expired one 404s; the pixel records nothing for a bad token */
  struct mail_download d;
  mail_download (s, test_secret, dtok, now, &d);
  struct store_invoice si = { 0 };
  store_invoice_get (s, t, inv, true, &si);
  if (d.status != 200 || strcmp (d.content_type, "application/pdf") != 0
      || si.pdf == NULL || d.len != si.pdf_len
      || memcmp (d.body, si.pdf, d.len) != 0
      || strstr (d.filename, si.uuid) == NULL
      || strcmp (d.filename + strlen (d.filename) - 4, ".pdf") != 0)
    bad |= 1024;
  store_invoice_clear (&si);
  mail_download_clear (&d);
  mail_download (s, test_secret, forged, now, &d);
  if (d.status != 404 || d.body != NULL)
    bad |= 2048;
  mail_download (s, test_secret, dtok, now + 3600, &d);
  if (d.status != 404)
    bad |= 4096;
  mail_pixel_hit (s, test_secret, "garbage.gif", now);
  mail_pixel_hit (s, test_secret, px.data + 30, now); /* "TOKEN.gif" */
  printf ("%s %d\n", bad ? "BAD" : "OK", bad);
  free (forged);
  free (ptok);
  buf_free (&dl);
  buf_free (&px);
  store_close (s);
  return bad ? 1 : 0;
}

static int
usage (void)
{
  fprintf (stderr, "usage: mail_tool send|render …\n");
  return 2;
}

static int
cmd_send (int argc, char **argv)
{
  struct mail_message m = { 0 };
  struct mail_attachment att[MAIL_MAX_ATTACHMENTS];
  struct buf files[MAIL_MAX_ATTACHMENTS];
  char *names[MAIL_MAX_ATTACHMENTS];
  struct buf text = BUF_INIT, html = BUF_INIT;
  const char *url = NULL;
  memset (files, 0, sizeof files);
  m.att = att;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      const char *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (v == NULL)
        return usage ();
      i++;
      if (strcmp (a, "--smtp") == 0)
        url = v;
      else if (strcmp (a, "--from") == 0)
        m.from_addr = v;
      else if (strcmp (a, "--from-name") == 0)
        m.from_name = v;
      else if (strcmp (a, "--reply-to") == 0)
        m.reply_to = v;
      else if (strcmp (a, "--to") == 0 && m.n_to < MAIL_MAX_TO)
        m.to[m.n_to++] = v;
      else if (strcmp (a, "--subject") == 0)
        m.subject = v;
      else if (strcmp (a, "--message-id") == 0)
        m.message_id = v;
      else if (strcmp (a, "--text") == 0)
        {
          if (read_file (v, &text, 0) != 0)
            return usage ();
          m.text = text.data ? text.data : "";
        }
      else if (strcmp (a, "--html") == 0)
        {
          if (read_file (v, &html, 0) != 0)
            return usage ();
          m.html = html.data ? html.data : "";
        }
      else if (strcmp (a, "--attach") == 0 && m.n_att < MAIL_MAX_ATTACHMENTS)
        {
          char *spec = strdup (v);
          char *c1 = strchr (spec, ':');
          char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
          if (c2 == NULL)
            return usage ();
          *c1 = *c2 = '\0';
          size_t k = m.n_att++;
          if (read_file (spec, &files[k], 0) != 0)
            return usage ();
          names[k] = spec;
          att[k].filename = c1 + 1;
          att[k].content_type = c2 + 1;
          att[k].data = files[k].data;
          att[k].len = files[k].len;
        }
      else
        return usage ();
    }
  char err[200];
  struct buf msg = BUF_INIT, reply = BUF_INIT;
  struct mail_smtp s = { 0 };
  int rc;
  if (!mail_build (&m, &msg, err, sizeof err)
      || !mail_smtp_parse_url (url, &s, err, sizeof err))
    {
      fprintf (stderr, "mail_tool: %s\n", err);
      rc = 2;
    }
  else
    {
      enum mail_status st = mail_send (&s, m.from_addr, m.to, m.n_to,
                                       msg.data, msg.len, &reply);
      printf ("%s\n", reply.data ? reply.data : "");
      rc = st == MAIL_SENT ? 0 : st == MAIL_TEMPFAIL ? 1 : 3;
    }
  mail_smtp_clear (&s);
  buf_free (&reply);
  buf_free (&msg);
  buf_free (&text);
  buf_free (&html);
  for (size_t k = 0; k < m.n_att; k++)
    {
      buf_free (&files[k]);
      free (names[k]);
    }
  return rc;
}

static int
cmd_render (int argc, char **argv)
{
  if (argc != 4)
    return usage ();
  struct mail_tmpl *t = mail_tmpl_load (argv[1], NULL);
  json_error_t je;
  json_t *ctx = json_load_file (argv[3], 0, &je);
  if (t == NULL || ctx == NULL)
    return 1;
  struct buf s = BUF_INIT, tx = BUF_INIT, h = BUF_INIT;
  if (!mail_tmpl_render (t, argv[2], "invoice", ctx, &s, &tx, &h))
    return 1;
  printf ("%s\n----\n%s\n----\n%s", s.data, tx.data,
          h.data ? h.data : "");
  buf_free (&s);
  buf_free (&tx);
  buf_free (&h);
  json_decref (ctx);
  mail_tmpl_free (t);
  return 0;
}

/* A real reference to the PDF module pulls pdf.o into this program, so
 * the outbox's weak pdf_render_cfdi resolves and its worker renders. */
__attribute__ ((used)) static void *const pull_pdf = (void *) pdf_render_cfdi;

static int
cmd_pdf (int argc, char **argv)
{
  if (argc < 5)
    return usage ();
  struct store *s = open_db (argv[1]);
  struct store_invoice inv = { 0 };
  int rc = 1;
  if (store_invoice_get (s, atoll (argv[2]), atoll (argv[3]), true, &inv)
             == STORE_ONE
      && inv.pdf != NULL)
    {
      FILE *f = fopen (argv[4], "wb");
      if (f != NULL && fwrite (inv.pdf, 1, inv.pdf_len, f) == inv.pdf_len)
        rc = 0;
      if (f != NULL)
        fclose (f);
    }
  store_invoice_clear (&inv);
  store_close (s);
  return rc;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    return usage ();
  if (strcmp (argv[1], "send") == 0)
    return cmd_send (argc - 1, argv + 1);
  if (strcmp (argv[1], "render") == 0)
    return cmd_render (argc - 1, argv + 1);
  static const struct
  {
    const char *name;
    int (*fn) (int, char **);
  } cmds[] = { { "init", cmd_init },     { "issue", cmd_issue },
               { "enqueue", cmd_enqueue }, { "work", cmd_work },
               { "events", cmd_events }, { "job", cmd_job },
               { "track", cmd_track }, { "pdf", cmd_pdf } };
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
    if (strcmp (argv[1], cmds[i].name) == 0)
      return cmds[i].fn (argc - 1, argv + 1);
  return usage ();
}
