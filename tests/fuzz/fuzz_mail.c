/*
 * fuzz_mail.c — libFuzzer harness for jobs/mail.c: mail_build with hostile
 * header values and bodies, addresses, SMTP URLs and merchant templates.
 *
 * The input is up to eight NUL-separated fields: display name, subject,
 * recipient, attachment name, text, HTML, SMTP URL, template.  Beyond "no
 * crash", it checks the properties the mail module promises: an accepted
 * message is 7-bit, CRLF only, lines ≤ 998 bytes, and its header section
 * holds only the headers mail_build writes (no injected Bcc or anything
 * else), each once; an accepted address has no separator characters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jobs/mail.h"

#define CHECK(c)                                                           \
  do                                                                       \
    {                                                                      \
      if (!(c))                                                            \
        __builtin_trap ();                                                 \
    }                                                                      \
  while (0)

static void
check_message (const struct buf *b)
{
  static const char *const names[]
      = { "Date:", "From:", "Reply-To:", "To:", "Subject:", "Message-ID:",
          "MIME-Version:", "Content-Type:" };
  int seen[8] = { 0 };
  size_t col = 0;
  for (size_t i = 0; i < b->len; i++)
    {
      unsigned char c = (unsigned char) b->data[i];
      CHECK (c < 0x80 && c != 0);
      if (c == '\r')
        CHECK (i + 1 < b->len && b->data[i + 1] == '\n');
      if (c == '\n')
        {
          CHECK (i > 0 && b->data[i - 1] == '\r');
          col = 0;
        }
      else
        CHECK (++col <= 998);
    }
  /* the header section */
  const char *p = b->data;
  for (;;)
    {
      const char *eol = strstr (p, "\r\n");
      CHECK (eol != NULL);
      if (eol == p)
        break; /* blank line: end of headers */
      if (*p != ' ' && *p != '\t')
        {
          size_t k;
          for (k = 0; k < 8; k++)
            if (strncmp (p, names[k], strlen (names[k])) == 0)
              break;
          CHECK (k < 8);
          seen[k]++;
          CHECK (seen[k] == 1);
        }
      p = eol + 2;
    }
  CHECK (seen[0] && seen[1] && seen[3] && seen[4] && seen[5]);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 65536)
    return 0;
  char *copy = malloc (size + 1);
  memcpy (copy, data, size);
  copy[size] = '\0';
  const char *f[8] = { "", "", "", "", "", "", "", "" };
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= size && n < 8; i++)
    if (i == size || copy[i] == '\0')
      {
        f[n++] = copy + start;
        start = i + 1;
      }

  if (mail_address_valid (f[2]))
    CHECK (strpbrk (f[2], " \t\r\n<>,;\"()[]\\") == NULL);

  struct mail_message m = { 0 };
  m.from_name = f[0];
  m.from_addr = "facturas@tienda.example.com";
  m.subject = f[1];
  m.to[0] = f[2];
  m.to[1] = "cliente@example.org";
  m.n_to = 2;
  m.text = f[4];
  m.html = f[5][0] ? f[5] : NULL;
  m.reply_to = f[2];
  struct mail_attachment a = { f[3], "application/pdf", f[4], strlen (f[4]) };
  m.att = &a;
  m.n_att = 1;
  m.date = 1795000000;
  struct buf out = BUF_INIT;
  char err[200];
  if (mail_build (&m, &out, err, sizeof err))
    check_message (&out);
  else
    CHECK (out.len == 0);
  buf_free (&out);

  struct mail_smtp s;
  if (mail_smtp_parse_url (f[6], &s, err, sizeof err))
    {
      CHECK (s.host != NULL && s.host[0] != '\0');
      mail_smtp_clear (&s);
    }
  else
    CHECK (s.host == NULL);

  struct mail_tmpl *t = mail_tmpl_new ();
  bool ok_text = mail_tmpl_set (t, "es", "invoice", "text", f[7]);
  bool ok_subj = mail_tmpl_set (t, "es", "invoice", "subject", f[7]);
  mail_tmpl_set (t, "es", "invoice", "html", f[7]);
  json_t *ctx = json_pack ("{s:s, s:s, s:[s,s]}", "merchant_name", f[0],
                           "folio", f[1], "items", f[2], f[3]);
  struct buf sb = BUF_INIT, tb = BUF_INIT, hb = BUF_INIT;
  if (ok_text && ok_subj
      && mail_tmpl_render (t, "es", "invoice", ctx, &sb, &tb, &hb))
    CHECK (sb.data == NULL || strpbrk (sb.data, "\r\n") == NULL);
  buf_free (&sb);
  buf_free (&tb);
  buf_free (&hb);
  json_decref (ctx);
  mail_tmpl_free (t);
  free (copy);
  return 0;
}
