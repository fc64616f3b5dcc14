/*
 * bench_mail.c — e-mails per second to a local SMTP server (not a test).
 *
 * Starts the mail suite's aiosmtpd server (tests/mail/smtpd.py, which
 * writes every message to disk) on a free loopback port, then measures:
 *   1. mail_build alone: a realistic invoice mail (60 KB PDF, 8 KB XML,
 *      text and HTML bodies) per second;
 *   2. mail_build + mail_send, one connection per message, 1 and 4
 *      threads;
 *   3. the whole outbox on SQLite: invoices issued with their mail queued
 *      in the same transaction, then 4 worker threads claiming, building,
 *      sending and recording each one, until the queue is empty.
 * The SMTP server is a Python process: above some rate it, not facturo,
 * is the limit (see docs/mail.md).
 *   bench_mail [N]     (default 300 messages per send figure)
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "jobs/jobs.h"
#include "jobs/mail.h"
#include "util/log.h"

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
free_port (void)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { 0 };
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind (fd, (struct sockaddr *) &a, sizeof a) != 0
      || getsockname (fd, (struct sockaddr *) &a, &len) != 0)
    return -1;
  int port = ntohs (a.sin_port);
  close (fd);
  return port;
}

static const char *
smtpd_path (void)
{
  static char path[2048];
  const char *src = getenv ("FACTURO_SRC");
  if (src != NULL)
    snprintf (path, sizeof path, "%s/tests/mail/smtpd.py", src);
  else if (access ("tests/mail/smtpd.py", R_OK) == 0)
    snprintf (path, sizeof path, "tests/mail/smtpd.py");
  else
    snprintf (path, sizeof path, "%s/../tests/mail/smtpd.py",
              FACTURO_DATADIR);
  return path;
}

/* Starts smtpd.py; returns its pid after it printed "ready", or -1. */
static pid_t
start_smtpd (const char *dir, int port)
{
  int fds[2];
  if (pipe (fds) != 0)
    return -1;
  pid_t pid = fork ();
  if (pid == 0)
    {
      dup2 (fds[1], 1);
      close (fds[0]);
      char ports[16];
      snprintf (ports, sizeof ports, "%d", port);
      execl ("/usr/bin/python3", "python3", smtpd_path (), "--dir", dir,
             "--port", ports, (char *) NULL);
      _exit (127);
    }
  close (fds[1]);
  char line[64] = "";
  FILE *f = fdopen (fds[0], "r");
  if (f == NULL || fgets (line, sizeof line, f) == NULL
      || strncmp (line, "ready", 5) != 0)
    {
      if (pid > 0)
        kill (pid, SIGTERM);
      return -1;
    }
  fclose (f);
  return pid;
}

static unsigned char pdf[60000], xml[8000];
static char text[2000], html[6000];
static const char *smtp_url;

static void
message (struct mail_message *m, struct mail_attachment att[2])
{
  memset (m, 0, sizeof *m);
  m->from_name = "Cafetería Ñandú";
  m->from_addr = "facturas@cafeteria.example.mx";
  m->reply_to = "ventas@cafeteria.example.mx";
  m->to[0] = "cliente@example.org";
  m->n_to = 1;
  m->subject = "Factura A-17 de Cafetería Ñandú";
  m->text = text;
  m->html = html;
  att[0] = (struct mail_attachment){ "A17.pdf", "application/pdf", pdf,
                                     sizeof pdf };
  att[1] = (struct mail_attachment){ "A17.xml", "application/xml", xml,
                                     sizeof xml };
  m->att = att;
  m->n_att = 2;
}

struct sender
{
  int n;
  int failures;
};

static void *
send_loop (void *arg)
{
  struct sender *s = arg;
  struct mail_smtp smtp;
  char err[200];
  mail_smtp_parse_url (smtp_url, &smtp, err, sizeof err);
  struct buf msg = BUF_INIT, reply = BUF_INIT;
  for (int i = 0; i < s->n; i++)
    {
      struct mail_message m;
      struct mail_attachment att[2];
      message (&m, att);
      buf_reset (&msg);
      mail_build (&m, &msg, err, sizeof err);
      if (mail_send (&smtp, m.from_addr, m.to, m.n_to, msg.data, msg.len,
                     &reply)
          != MAIL_SENT)
        s->failures++;
    }
  buf_free (&msg);
  buf_free (&reply);
  mail_smtp_clear (&smtp);
  return NULL;
}

static double
send_rate (int n, int threads, int *failures)
{
  pthread_t t[8];
  struct sender s[8];
  double t0 = now_s ();
  for (int i = 0; i < threads; i++)
    {
      s[i] = (struct sender){ n / threads, 0 };
      pthread_create (&t[i], NULL, send_loop, &s[i]);
    }
  *failures = 0;
  for (int i = 0; i < threads; i++)
    {
      pthread_join (t[i], NULL);
      *failures += s[i].failures;
    }
  return (double) (n / threads * threads) / (now_s () - t0);
}

struct issue_arg
{
  struct store_invoice *inv;
};

static enum store_status
tx_issue (struct store *s, void *arg)
{
  struct issue_arg *a = arg;
  enum store_status st = store_invoice_insert (s, a->inv->tenant_id, a->inv);
  if (st != STORE_ONE)
    return st == STORE_NONE ? STORE_HARD : st;
  st = mail_enqueue_invoice (s, a->inv->tenant_id, a->inv->id, NULL, 0, NULL,
                             "system", NULL);
  return st == STORE_NONE ? STORE_HARD : st;
}

static int
outbox (const char *dir, int n, double *issue_rate, double *send_rate_out)
{
  char url[1200];
  snprintf (url, sizeof url, "sqlite:%s/bench.db", dir);
  struct ferr e = { 0 };
  struct store *s = store_open (url, &e);
  if (s == NULL || store_migrate (s, NULL) < 0)
    return -1;
  struct store_tenant t;
  store_tenant_init (&t);
  snprintf (t.slug, sizeof t.slug, "bench");
  snprintf (t.rfc, sizeof t.rfc, "EKU9003173C9");
  snprintf (t.name, sizeof t.name, "Cafetería Ñandú");
  snprintf (t.regime, sizeof t.regime, "601");
  snprintf (t.zip, sizeof t.zip, "06000");
  if (store_tenant_insert (s, &t) != STORE_ONE)
    return -1;
  double t0 = now_s ();
  for (int i = 0; i < n; i++)
    {
      struct store_invoice inv = { 0 };
      inv.tenant_id = t.id;
      inv.folio = i + 1;
      snprintf (inv.series, sizeof inv.series, "A");
      snprintf (inv.uuid, sizeof inv.uuid,
                "00000000-0000-4000-8000-%012d", i + 1);
      snprintf (inv.type, sizeof inv.type, "I");
      snprintf (inv.currency, sizeof inv.currency, "MXN");
      snprintf (inv.customer_email, sizeof inv.customer_email,
                "cliente@example.org");
      snprintf (inv.customer_name, sizeof inv.customer_name, "Señora Pérez");
      inv.total = 1234500000;
      inv.xml = xml;
      inv.xml_len = sizeof xml;
      inv.pdf = pdf;
      inv.pdf_len = sizeof pdf;
      struct issue_arg a = { &inv };
      if (store_tx (s, tx_issue, &a) != STORE_ONE)
        return -1;
    }
  *issue_rate = n / (now_s () - t0);

  struct jobs_config c;
  jobs_config_defaults (&c);
  c.workers = 4;
  c.poll_ms = 20;
  snprintf (c.smtp_url, sizeof c.smtp_url, "%s", smtp_url);
  snprintf (c.mail_from, sizeof c.mail_from, "facturas@cafeteria.example.mx");
  snprintf (c.base_url, sizeof c.base_url, "https://facturo.example.com");
  randombytes_buf (c.secret, sizeof c.secret);
  char err[200];
  t0 = now_s ();
  struct jobs *j = jobs_start (s, &c, err, sizeof err);
  if (j == NULL)
    {
      fprintf (stderr, "bench_mail: %s\n", err);
      return -1;
    }
  int64_t done = 0;
  while (done < n && now_s () - t0 < 300)
    {
      struct timespec ts = { 0, 20000000L };
      nanosleep (&ts, NULL);
      store_job_count (s, 0, STORE_JOB_DONE, &done);
    }
  *send_rate_out = (double) done / (now_s () - t0);
  jobs_stop (j);
  store_tenant_clear (&t);
  store_close (s);
  return done == n ? 0 : -1;
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 300;
  if (n < 8)
    n = 8;
  if (sodium_init () < 0)
    return 1;
  log_set_level (LOG_WARN);
  randombytes_buf (pdf, sizeof pdf);
  memset (xml, 'x', sizeof xml);
  for (size_t i = 0; i + 1 < sizeof text; i++)
    text[i] = "Hola señora Pérez, su factura. \n"[i % 33];
  for (size_t i = 0; i + 1 < sizeof html; i++)
    html[i] = "<p>Hola <b>señora</b> Pérez</p>\n"[i % 34];
  mail_global_init ();

  char dir[] = "/tmp/facturo-bench-mail.XXXXXX";
  if (mkdtemp (dir) == NULL)
    return 1;
  char mdir[64];
  snprintf (mdir, sizeof mdir, "%s/mail", dir);
  int port = free_port ();
  pid_t smtpd = start_smtpd (mdir, port);
  if (smtpd < 0)
    {
      fprintf (stderr, "bench_mail: cannot start %s (python3-aiosmtpd)\n",
                smtpd_path ());
      return 1;
    }
  char url[128];
  snprintf (url, sizeof url, "smtp://127.0.0.1:%d?tls=none", port);
  smtp_url = url;

  /* 1. building */
  struct buf msg = BUF_INIT;
  char err[200];
  double t0 = now_s ();
  int builds = 2000;
  for (int i = 0; i < builds; i++)
    {
      struct mail_message m;
      struct mail_attachment att[2];
      message (&m, att);
      buf_reset (&msg);
      mail_build (&m, &msg, err, sizeof err);
    }
  double build_rate = builds / (now_s () - t0);
  printf ("mail_build (60 KB PDF + 8 KB XML, %zu bytes): %.0f messages/s\n",
          msg.len, build_rate);
  buf_free (&msg);

  /* 2. direct sends */
  int fail1, fail4;
  double r1 = send_rate (n, 1, &fail1);
  printf ("build + SMTP send, 1 thread:  %.0f e-mails/s (%d failed)\n", r1,
          fail1);
  double r4 = send_rate (n, 4, &fail4);
  printf ("build + SMTP send, 4 threads: %.0f e-mails/s (%d failed)\n", r4,
          fail4);

  /* 3. the outbox */
  double ir = 0, sr = 0;
  int rc = outbox (dir, n, &ir, &sr);
  if (rc == 0)
    {
      printf ("issue + queue (SQLite, one tx each): %.0f invoices/s\n", ir);
      printf ("outbox, 4 workers, claim+build+send+record: %.0f e-mails/s\n",
              sr);
    }
  else
    printf ("outbox: failed\n");

  kill (smtpd, SIGTERM);
  waitpid (smtpd, NULL, 0);
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    fprintf (stderr, "bench_mail: could not remove %s\n", dir);
  return rc == 0 && fail1 == 0 && fail4 == 0 ? 0 : 1;
}
