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
 * Exit status of send: 0 sent, 1 temporary failure, 3 permanent failure,
 * 2 refused before sending (bad input).  The server's reply goes to
 * stdout.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mail.h"

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
  struct buf msg = BUF_INIT;
  if (!mail_build (&m, &msg, err, sizeof err))
    {
      fprintf (stderr, "mail_tool: %s\n", err);
      return 2;
    }
  struct mail_smtp s;
  if (!mail_smtp_parse_url (url, &s, err, sizeof err))
    {
      fprintf (stderr, "mail_tool: %s\n", err);
      return 2;
    }
  struct buf reply = BUF_INIT;
  enum mail_status st = mail_send (&s, m.from_addr, m.to, m.n_to, msg.data,
                                   msg.len, &reply);
  printf ("%s\n", reply.data ? reply.data : "");
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
  return st == MAIL_SENT ? 0 : st == MAIL_TEMPFAIL ? 1 : 3;
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

int
main (int argc, char **argv)
{
  if (argc < 2)
    return usage ();
  if (strcmp (argv[1], "send") == 0)
    return cmd_send (argc - 1, argv + 1);
  if (strcmp (argv[1], "render") == 0)
    return cmd_render (argc - 1, argv + 1);
  return usage ();
}
