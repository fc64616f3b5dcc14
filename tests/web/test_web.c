/*
 * test_web.c — templates escape by default; tokens resist forgery,
 * expiry and reuse for another purpose; proof of work is checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "web/tmpl.h"
#include "web/token.h"

static char *
render (const char *src, const char *json)
{
  struct tmpl_set *set = tmpl_set_new ();
  json_error_t e;
  json_t *ctx = json_loads (json, 0, &e);
  struct buf out = BUF_INIT;
  assert_non_null (ctx);
  assert_true (tmpl_add (set, "t", src));
  assert_true (tmpl_render (set, "t", ctx, &out));
  json_decref (ctx);
  tmpl_free (set);
  return buf_steal (&out);
}

static void
test_escape (void **state)
{
  (void) state;
  char *s = render ("<p>{{name}}</p>{{{raw}}}",
                    "{\"name\":\"<script>x'&\\\"</script>\",\"raw\":\"<b>\"}");
  assert_string_equal (s, "<p>&lt;script&gt;x&#39;&amp;&quot;&lt;/script&gt;</p><b>");
  free (s);
}

static void
test_sections (void **state)
{
  (void) state;
  char *s = render ("{{#items}}[{{name}}:{{total}}]{{/items}}{{^none}}empty{{/none}}"
                    "{{#t}}{{t.hello}}{{/t}}{{#flag}}F{{/flag}}{{^flag}}N{{/flag}}",
                    "{\"items\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"total\":\"9\","
                    "\"none\":[],\"t\":{\"hello\":\"hola\"},\"flag\":false}");
  assert_string_equal (s, "[a:9][b:9]emptyholaN");
  free (s);
}

static void
test_bad_templates (void **state)
{
  (void) state;
  struct tmpl_set *set = tmpl_set_new ();
  assert_false (tmpl_add (set, "a", "{{#x}}no end"));
  assert_false (tmpl_add (set, "b", "{{#x}}{{/y}}"));
  assert_false (tmpl_add (set, "c", "{{unclosed"));
  assert_false (tmpl_add (set, "d", "{{/x}}"));
  tmpl_free (set);
}

static void
test_tokens (void **state)
{
  (void) state;
  uint8_t key[TOKEN_SECRET_BYTES], other[TOKEN_SECRET_BYTES];
  struct buf tok = BUF_INIT, out = BUF_INIT;
  randombytes_buf (key, sizeof key);
  randombytes_buf (other, sizeof other);
  token_make (key, "dl", "demo/inv_123", 1000, &tok);
  assert_true (token_check (key, "dl", tok.data, 999, &out));
  assert_string_equal (out.data, "demo/inv_123");
  assert_true (token_check (key, "dl", tok.data, 1000, &out));
  assert_false (token_check (key, "dl", tok.data, 1001, &out));   /* expired */
  assert_false (token_check (key, "csrf", tok.data, 999, &out));  /* purpose */
  assert_false (token_check (other, "dl", tok.data, 999, &out));  /* key */
  /* Any single changed character is refused. */
  for (size_t i = 0; i < tok.len; i++)
    {
      char *t = strdup (tok.data);
      t[i] = t[i] == 'A' ? 'B' : 'A';
      assert_false (token_check (key, "dl", t, 999, &out));
      free (t);
    }
  assert_false (token_check (key, "dl", "", 0, &out));
  assert_false (token_check (key, "dl", "...", 0, &out));
  buf_free (&tok);
  buf_free (&out);
}

static void
test_pow (void **state)
{
  (void) state;
  char nonce[32];
  int found = -1;
  for (int i = 0; i < 1 << 20 && found < 0; i++)
    {
      snprintf (nonce, sizeof nonce, "%d", i);
      if (pow_check ("challenge", nonce, 12))
        found = i;
    }
  assert_true (found >= 0);
  assert_true (pow_check ("challenge", nonce, 8));   /* fewer bits: still ok */
  assert_false (pow_check ("challengf", nonce, 12) && pow_check ("challengf", nonce, 20));
  assert_false (pow_check ("challenge", nonce, 33));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_escape),     cmocka_unit_test (test_sections),
    cmocka_unit_test (test_bad_templates), cmocka_unit_test (test_tokens),
    cmocka_unit_test (test_pow),
  };
  if (sodium_init () < 0)
    return 1;
  return cmocka_run_group_tests (tests, NULL, NULL);
}
