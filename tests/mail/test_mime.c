/*
 * test_mime.c — mail_build(), addresses, header-injection refusals,
 * encodings and templates, without a network (suite 'mail').
 * The bytes a real server receives are checked by test_smtp.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "jobs/mail.h"

static void
base_message (struct mail_message *m)
{
  memset (m, 0, sizeof *m);
  m->from_name = "Tienda Ejemplo";
  m->from_addr = "facturas@tienda.example.com";
  m->to[0] = "cliente@example.org";
  m->n_to = 1;
  m->subject = "Factura A1";
  m->text = "Hola";
  m->html = "<p>Hola</p>";
  m->date = 1795000000;
}

static bool
build (const struct mail_message *m, struct buf *out)
{
  char err[200];
  buf_reset (out);
  return mail_build (m, out, err, sizeof err);
}

static void
test_addresses (void **state)
{
  (void) state;
  static const char *good[] = { "a@b.co", "juan.perez+fact@mail.example.mx",
                                "x_y-z@sub-1.example.com",
                                "O'Brien@example.ie" };
  static const char *bad[]
      = { "", "a", "a@b", "@b.com", "a@", "a@.com", "a@b..com", ".a@b.com",
          "a.@b.com", "a..b@c.com", "a b@c.com", "a@b.com\r\nBcc: x@y.com",
          "a@b.com\n", "<a@b.com>", "\"a\"@b.com", "a@-b.com", "a@b-.com",
          "ñ@b.com", "a@bé.com", "a@b.com,c@d.com", "a@[127.0.0.1]",
          "a@b.com\x01" };
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    assert_true (mail_address_valid (good[i]));
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      if (mail_address_valid (bad[i]))
        fail_msg ("accepted bad address #%zu", i);
    }
  char longaddr[300];
  memset (longaddr, 'a', 60);
  strcpy (longaddr + 60, "@");
  for (int i = 0; i < 4; i++)
    strcat (longaddr, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.");
  strcat (longaddr, "com"); /* 60 + 1 + 200 + 3 = 264 > 254 */
  assert_false (mail_address_valid (longaddr));
  assert_false (mail_address_valid (NULL));
}

/* INVARIANT: header injection is impossible — any CR/LF in a value
 * refuses the whole message and writes nothing. */
static void
test_injection_refused (void **state)
{
  (void) state;
  struct mail_message m;
  struct buf out = BUF_INIT;
  base_message (&m);
  assert_true (build (&m, &out));

  const char *evil[] = { "Factura\r\nBcc: victim@example.com", "Factura\n",
                         "Factura\rX", "Fact\x00ura" /* ends early: ok */ };
  for (int i = 0; i < 3; i++)
    {
      base_message (&m);
      m.subject = evil[i];
      buf_reset (&out);
      char err[200];
      assert_false (mail_build (&m, &out, err, sizeof err));
      assert_int_equal (out.len, 0);
      assert_non_null (strstr (err, "subject"));
    }
  base_message (&m);
  m.from_name = "Tienda\r\nBcc: victim@example.com";
  assert_false (build (&m, &out));
  base_message (&m);
  m.reply_to = "a@b.com\r\nBcc: victim@example.com";
  assert_false (build (&m, &out));
  base_message (&m);
  m.to[1] = "b@example.com\nBcc: victim@example.com";
  m.n_to = 2;
  assert_false (build (&m, &out));
  base_message (&m);
  struct mail_attachment a = { "x.pdf\r\nContent-Type: text/html", NULL,
                               "x", 1 };
  m.att = &a;
  m.n_att = 1;
  assert_false (build (&m, &out));
  a.filename = "../../etc/passwd";
  assert_false (build (&m, &out));
  a.filename = "ok.pdf";
  a.content_type = "application/pdf\r\nX-Evil: 1";
  assert_false (build (&m, &out));
  a.content_type = "application/pdf";
  assert_true (build (&m, &out));
  base_message (&m);
  m.message_id = "<a@b>\r\nBcc: x@y.com";
  assert_false (build (&m, &out));
  base_message (&m);
  m.n_to = 0;
  assert_false (build (&m, &out));
  m.n_to = MAIL_MAX_TO + 1;
  assert_false (build (&m, &out));
  buf_free (&out);
}

/* Every line ends in CRLF and none is longer than 998 bytes (RFC 5322
 * §2.1.1), whatever the body holds. */
static void
test_line_discipline (void **state)
{
  (void) state;
  struct mail_message m;
  base_message (&m);
  struct buf text = BUF_INIT;
  for (int i = 0; i < 3000; i++)
    buf_puts (&text, "á");
  buf_puts (&text, "\n.\nline with trailing space \n\rbare CR\r\n");
  m.text = text.data;
  m.html = text.data;
  unsigned char bin[5000];
  for (size_t i = 0; i < sizeof bin; i++)
    bin[i] = (unsigned char) (i * 7 + 3);
  struct mail_attachment a = { "datos.bin", NULL, bin, sizeof bin };
  m.att = &a;
  m.n_att = 1;
  struct buf out = BUF_INIT;
  assert_true (build (&m, &out));
  size_t col = 0;
  for (size_t i = 0; i < out.len; i++)
    {
      if (out.data[i] == '\n')
        {
          assert_true (i > 0 && out.data[i - 1] == '\r');
          col = 0;
          continue;
        }
      if (out.data[i] == '\r')
        assert_true (i + 1 < out.len && out.data[i + 1] == '\n');
      col++;
      assert_true (col <= 998);
      assert_true ((unsigned char) out.data[i] < 0x80);
    }
  /* a line of only "." would end SMTP DATA early */
  assert_null (strstr (out.data, "\r\n.\r\n"));
  buf_free (&out);
  buf_free (&text);
}

/* Decodes every =?UTF-8?B?…?= word of a header and concatenates them. */
static void
decode_words (const char *h, struct buf *out)
{
  const char *p = h;
  while ((p = strstr (p, "=?UTF-8?B?")) != NULL)
    {
      p += 10;
      const char *e = strstr (p, "?=");
      assert_non_null (e);
      assert_true (e - p + 12 <= 75);
      unsigned char bin[200];
      size_t n;
      assert_int_equal (sodium_base642bin (bin, sizeof bin, p,
                                           (size_t) (e - p), NULL, &n, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                        0);
      buf_append (out, bin, n);
      p = e + 2;
    }
}

static void
test_encoded_headers (void **state)
{
  (void) state;
  struct mail_message m;
  base_message (&m);
  const char *subj = "Factura A-123 de Cafetería Ñandú, S.A. de C.V. — "
                     "gracias por su compra, señora Pérez; éxito en 2026 ✓";
  m.subject = subj;
  m.from_name = "Panadería \"La Única\"";
  m.reply_to = "ventas@tienda.example.com";
  m.to[1] = "otra@example.net";
  m.n_to = 2;
  struct mail_attachment a = { "Factura Año 2026 ñ.pdf", "application/pdf",
                               "%PDF", 4 };
  m.att = &a;
  m.n_att = 1;
  m.message_id = "<job-7@tienda.example.com>";
  struct buf out = BUF_INIT;
  assert_true (build (&m, &out));
  assert_non_null (strstr (out.data, "Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n"));
  assert_non_null (strstr (out.data, "\r\nReply-To: ventas@tienda.example.com\r\n"));
  assert_non_null (strstr (out.data, "\r\nTo: cliente@example.org,\r\n otra@example.net\r\n"));
  assert_non_null (strstr (out.data, "\r\nMessage-ID: <job-7@tienda.example.com>\r\n"));
  assert_non_null (strstr (out.data, "filename*=UTF-8''Factura%20A%C3%B1o%202026%20%C3%B1.pdf"));
  assert_non_null (strstr (out.data, "<facturas@tienda.example.com>"));

  const char *s = strstr (out.data, "\r\nSubject: ");
  assert_non_null (s);
  const char *e = strstr (s + 2, "\r\nMessage-ID");
  char *hdr = strndup (s, (size_t) (e - s));
  struct buf dec = BUF_INIT;
  decode_words (hdr, &dec);
  assert_string_equal (dec.data, subj);
  free (hdr);
  buf_reset (&dec);
  s = strstr (out.data, "\r\nFrom: ");
  e = strstr (s + 2, "<facturas@");
  hdr = strndup (s, (size_t) (e - s));
  decode_words (hdr, &dec);
  assert_string_equal (dec.data, "Panadería \"La Única\"");
  free (hdr);
  buf_free (&dec);

  /* ASCII display names with quotes are quoted-strings */
  base_message (&m);
  m.from_name = "Shop \"Best\"";
  assert_true (build (&m, &out));
  assert_non_null (strstr (out.data, "From: \"Shop \\\"Best\\\"\" <facturas@"));
  buf_free (&out);
}

static void
test_smtp_url (void **state)
{
  (void) state;
  struct mail_smtp s;
  char err[200];
  assert_true (mail_smtp_parse_url (
      "smtp://us%40er:p%3Ass@mail.example.com:587?tls=starttls&timeout=30",
      &s, err, sizeof err));
  assert_string_equal (s.host, "mail.example.com");
  assert_int_equal (s.port, 587);
  assert_string_equal (s.user, "us@er");
  assert_string_equal (s.password, "p:ss");
  assert_int_equal (s.tls, MAIL_TLS_STARTTLS);
  assert_int_equal (s.timeout, 30);
  mail_smtp_clear (&s);
  assert_true (mail_smtp_parse_url ("smtps://[::1]", &s, err, sizeof err));
  assert_string_equal (s.host, "::1");
  assert_int_equal (s.tls, MAIL_TLS_IMPLICIT);
  assert_null (s.user);
  mail_smtp_clear (&s);
  assert_true (mail_smtp_parse_url ("smtp://127.0.0.1:2525?tls=none", &s,
                                    err, sizeof err));
  assert_int_equal (s.tls, MAIL_TLS_NONE);
  mail_smtp_clear (&s);
  const char *bad[] = { "http://x", "smtp://", "smtp://h:0", "smtp://h:99999",
                        "smtp://h?tls=maybe", "smtp://h?bogus=1",
                        "smtp://h\r\n:25", "smtp://h:25x" };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      if (mail_smtp_parse_url (bad[i], &s, err, sizeof err))
        fail_msg ("accepted bad URL %s", bad[i]);
      assert_null (s.host);
    }
}

/* Connection refused is temporary and says so; nothing listens on port 1
 * of loopback. */
static void
test_send_refused (void **state)
{
  (void) state;
  struct mail_smtp s;
  char err[200];
  assert_true (mail_smtp_parse_url ("smtp://127.0.0.1:1?tls=none", &s, err,
                                    sizeof err));
  const char *to[] = { "a@example.com" };
  struct buf reply = BUF_INIT;
  assert_int_equal (mail_send (&s, "f@example.com", to, 1, "x\r\n", 3,
                               &reply),
                    MAIL_TEMPFAIL);
  assert_non_null (strstr (reply.data, "curl:"));
  /* invalid recipients never reach the network */
  const char *bad[] = { "a@example.com>\r\nRCPT TO:<b@example.com" };
  assert_int_equal (mail_send (&s, "f@example.com", bad, 1, "x\r\n", 3,
                               &reply),
                    MAIL_PERMFAIL);
  mail_smtp_clear (&s);
  buf_free (&reply);
}

static void
test_templates (void **state)
{
  (void) state;
  const char *data = getenv ("FACTURO_DATA");
  assert_non_null (data);
  char dir[1024];
  snprintf (dir, sizeof dir, "%s/templates/mail", data);
  struct mail_tmpl *t = mail_tmpl_load (dir, NULL);
  assert_non_null (t);
  json_t *ctx = json_pack (
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
      "merchant_name", "Café <Ñandú> & Cía", "series", "A", "folio", "17",
      "uuid", "6F1E2D3C-0000-4000-8000-123456789ABC", "total", "1,234.50",
      "currency", "MXN", "issued_at", "2026-11-24", "pdf_url",
      "https://f.example.com/d/abc?x=1&y=2", "xml_url",
      "https://f.example.com/d/def", "tracking_url",
      "https://f.example.com/t/ghi.gif", "links_expire", "2027-11-24");
  struct buf s = BUF_INIT, tx = BUF_INIT, h = BUF_INIT;
  assert_true (mail_tmpl_render (t, "es", "invoice", ctx, &s, &tx, &h));
  assert_string_equal (s.data, "Factura A17 de Café <Ñandú> & Cía");
  /* text: raw values; html: escaped */
  assert_non_null (strstr (tx.data, "Café <Ñandú> & Cía"));
  assert_non_null (strstr (tx.data, "https://f.example.com/d/abc?x=1&y=2"));
  assert_non_null (strstr (h.data, "Café &lt;Ñandú&gt; &amp; Cía"));
  assert_null (strstr (h.data, "<Ñandú>"));
  assert_non_null (strstr (h.data, "href=\"https://f.example.com/d/abc?x=1&amp;y=2\""));
  assert_non_null (strstr (h.data, "<img src=\"https://f.example.com/t/ghi.gif\""));
  assert_non_null (strstr (tx.data, "Total: 1,234.50 MXN"));
  assert_true (mail_tmpl_render (t, "en", "invoice", ctx, &s, &tx, &h));
  assert_string_equal (s.data, "Invoice A17 from Café <Ñandú> & Cía");
  /* unknown language falls back to Spanish */
  assert_true (mail_tmpl_render (t, "fr", "invoice", ctx, &s, &tx, &h));
  assert_string_equal (s.data, "Factura A17 de Café <Ñandú> & Cía");
  assert_false (mail_tmpl_render (t, "es", "nothing", ctx, &s, &tx, &h));
  /* a merchant's own subject: line breaks in values cannot reach the
     header */
  assert_true (mail_tmpl_set (t, "es", "invoice", "subject",
                              "Su factura {{folio}}\n de {{merchant_name}}"));
  json_object_set_new (ctx, "folio", json_string ("17\r\nBcc: x@y.com"));
  assert_true (mail_tmpl_render (t, "es", "invoice", ctx, &s, &tx, &h));
  assert_null (strchr (s.data, '\r'));
  assert_null (strchr (s.data, '\n'));
  assert_string_equal (s.data, "Su factura 17 Bcc: x@y.com de Café <Ñandú> & Cía");
  assert_false (mail_tmpl_set (t, "es", "invoice", "html", "{{#a}}open"));
  assert_false (mail_tmpl_set (t, "../x", "invoice", "html", "x"));
  json_decref (ctx);
  buf_free (&s);
  buf_free (&tx);
  buf_free (&h);
  mail_tmpl_free (t);
  assert_null (mail_tmpl_load ("/nonexistent", NULL));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_addresses),
    cmocka_unit_test (test_injection_refused),
    cmocka_unit_test (test_line_discipline),
    cmocka_unit_test (test_encoded_headers),
    cmocka_unit_test (test_smtp_url),
    cmocka_unit_test (test_send_refused),
    cmocka_unit_test (test_templates),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
