/*
 * test_portal_unit.c — the portal's pure pieces: url-encoded form bodies
 * (decoding, repeated names, bounds, NUL refusal), the look-up throttle's
 * table (per-minute limit, failures, their memory, growing difficulty and
 * wait), the texts table (every key in both languages).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "web/http_web.h"
#include "web/portal.h"

static void
form_decodes (void **state)
{
  (void)state;
  struct web_form f;
  const char *body = "csrf=a.b.c&name=JOS%C3%89+P%C3%89REZ&email=a%40x.mx"
                     "&email=b%40y.mx&empty=&flag&bad=%zz%4";
  assert_true (web_form_parse (body, strlen (body), &f));
  assert_string_equal (web_form_get (&f, "csrf"), "a.b.c");
  assert_string_equal (web_form_get (&f, "name"), "JOSÉ PÉREZ");
  assert_string_equal (web_form_get_nth (&f, "email", 0), "a@x.mx");
  assert_string_equal (web_form_get_nth (&f, "email", 1), "b@y.mx");
  assert_null (web_form_get_nth (&f, "email", 2));
  assert_string_equal (web_form_get (&f, "empty"), "");
  assert_string_equal (web_form_get (&f, "flag"), "");
  assert_string_equal (web_form_get (&f, "bad"), "%zz%4"); /* kept as is */
  assert_null (web_form_get (&f, "missing"));
  web_form_free (&f);
  web_form_free (NULL);
}

static void
form_bounds (void **state)
{
  (void)state;
  struct web_form f;
  /* A NUL, encoded or raw, refuses the body. */
  assert_false (web_form_parse ("a=x%00y", 7, &f));
  assert_int_equal (f.n, 0);
  assert_false (web_form_parse ("a=x\0y", 5, &f));
  /* Too many fields. */
  char big[WEB_FORM_MAX_FIELDS * 4 + 16];
  size_t n = 0;
  for (int i = 0; i <= WEB_FORM_MAX_FIELDS; i++)
    n += (size_t)snprintf (big + n, sizeof big - n, "a=%d&", i % 10);
  assert_false (web_form_parse (big, n, &f));
  /* A value longer than WEB_FORM_MAX_VALUE. */
  static char longv[WEB_FORM_MAX_VALUE + 8];
  memcpy (longv, "v=", 2);
  memset (longv + 2, 'x', WEB_FORM_MAX_VALUE + 1);
  assert_false (web_form_parse (longv, 2 + WEB_FORM_MAX_VALUE + 1, &f));
  assert_true (web_form_parse (longv, 2 + WEB_FORM_MAX_VALUE, &f));
  assert_int_equal (strlen (web_form_get (&f, "v")), WEB_FORM_MAX_VALUE);
  web_form_free (&f);
}

static void
guard_counts (void **state)
{
  (void)state;
  uint8_t secret[32];
  randombytes_buf (secret, sizeof secret);
  uint64_t a = portal_guard_key (secret, "ip", "192.0.2.1");
  uint64_t b = portal_guard_key (secret, "folio", "192.0.2.1");
  assert_true (a != b); /* the kind is part of the key */
  assert_true (a == portal_guard_key (secret, "ip", "192.0.2.1"));
  int64_t now = 1800000000; /* a whole minute */
  unsigned retry = 0;
  for (int i = 0; i < PORTAL_LOOKUPS_PER_MIN; i++)
    assert_true (portal_guard_take (a, now + 1, &retry));
  assert_false (portal_guard_take (a, now + 20, &retry));
  assert_int_equal (retry, 40);
  assert_true (portal_guard_take (a, now + 60, &retry)); /* next minute */

  int64_t last = 0;
  assert_int_equal (portal_guard_fails (b, now, &last), 0);
  portal_guard_fail (b, now);
  portal_guard_fail (b, now + 10);
  assert_int_equal (portal_guard_fails (b, now + 11, &last), 2);
  assert_int_equal (last, now + 10);
  /* Forgotten 30 minutes after the last failure. */
  assert_int_equal (portal_guard_fails (b, now + 10 + 1800, NULL), 0);
  portal_guard_fail (b, now + 10 + 1800);
  assert_int_equal (portal_guard_fails (b, now + 10 + 1801, NULL), 1);
}

static void
guard_policy (void **state)
{
  (void)state;
  assert_int_equal (portal_guard_wait (PORTAL_FREE_FAILS - 1), 0);
  assert_int_equal (portal_guard_wait (PORTAL_FREE_FAILS), 5);
  assert_int_equal (portal_guard_wait (PORTAL_FREE_FAILS + 1), 10);
  assert_int_equal (portal_guard_wait (PORTAL_FREE_FAILS + 5), 160);
  assert_int_equal (portal_guard_wait (PORTAL_FREE_FAILS + 6), 300);
  assert_int_equal (portal_guard_wait (1000), 300);
  assert_int_equal (portal_guard_bits (PORTAL_FREE_FAILS), 14);
  assert_int_equal (portal_guard_bits (PORTAL_FREE_FAILS + 2), 16);
  assert_int_equal (portal_guard_bits (1000), 20);
}

static void
texts_both_languages (void **state)
{
  (void)state;
  json_t *es = portal_texts_json ("es");
  json_t *en = portal_texts_json ("en");
  assert_true (json_object_size (es) > 50);
  assert_int_equal (json_object_size (es), json_object_size (en));
  const char *k;
  json_t *v;
  json_object_foreach (es, k, v)
  {
    assert_true (json_string_length (v) > 0);
    assert_true (json_string_length (json_object_get (en, k)) > 0);
  }
  assert_string_equal (portal_text ("es", "find"), "Buscar ticket");
  assert_string_equal (portal_text ("en", "find"), "Find ticket");
  assert_string_equal (portal_text (NULL, "find"), "Buscar ticket");
  assert_string_equal (portal_text ("en", "no-such-key"), "no-such-key");
  json_decref (es);
  json_decref (en);
}

int
main (void)
{
  if (sodium_init () < 0)
    return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (form_decodes),         cmocka_unit_test (form_bounds),
    cmocka_unit_test (guard_counts),         cmocka_unit_test (guard_policy),
    cmocka_unit_test (texts_both_languages),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
