/*
 * test_ticket.c — cmocka tests of core/ticket.c: dates, field checks,
 * totals computed through invoice_compute, and the stored (canonical)
 * form reproducing the same ticket.  Table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/money.h"
#include "core/ticket.h"
#include "util/buf.h"
#include "util/json.h"

/* ---- dates ------------------------------------------------------- */

static const struct tz *
zone (const char *name)
{
  if (name == NULL)
    return tz_utc ();
  struct ferr e = { 0 };
  const struct tz *z = tz_get (name, &e);
  if (z == NULL)
    fail_msg ("%s: %s", name, e.message);
  return z;
}

#define MX "America/Mexico_City"
#define TJ "America/Tijuana"

static void
test_dates (void **state)
{
  static const struct
  {
    const char *text;
    const char *zone; /* NULL: UTC */
    bool ok;
    int64_t utc;
  } cases[] = {
    { "2026-11-20T12:30:00", MX, true, 1795199400 }, /* 18:30Z */
    { "2026-11-20T18:30:00Z", MX, true, 1795199400 },
    { "2026-11-20T12:30:00-06:00", NULL, true, 1795199400 },
    { "2026-11-20T13:30:00-05:00", NULL, true, 1795199400 },
    { "2026-11-20 12:30:00", MX, true, 1795199400 },
    /* daylight saving: Mexico City had it until October 2022 (UTC-5 in
     * July), Tijuana still has it (UTC-7 in July) */
    { "2022-07-01T12:00:00", MX, true, 1656694800 },
    { "2026-07-01T12:00:00", TJ, true, 1782932400 },
    { "2024-02-29T00:00:00Z", NULL, true, 1709164800 }, /* leap day */
    { "2026-02-29T00:00:00Z", NULL, false, 0 },         /* not leap */
    { "2100-02-29T00:00:00Z", NULL, false, 0 },         /* century */
    { "2000-02-29T00:00:00Z", NULL, true, 951782400 },  /* 400-year */
    { "2026-04-31T00:00:00", NULL, false, 0 },
    { "2026-11-20T24:00:00", NULL, false, 0 },
    { "2026-11-20T12:60:00", NULL, false, 0 },
    { "2026-11-20T12:30", NULL, false, 0 },
    { "2026-11-20T12:30:00+0600", NULL, false, 0 },
    { "2026-11-20T12:30:00+15:00", NULL, false, 0 }, /* beyond ±14:00 */
    { "2026-11-20T12:30:00Zjunk", NULL, false, 0 },
    { "1999-12-31T23:59:59Z", NULL, false, 0 },
    { "3000-01-01T00:00:00Z", NULL, false, 0 },
    { "20261120T123000", NULL, false, 0 },
    { "", NULL, false, 0 },
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      int64_t utc = 0;
      bool ok = ticket_parse_date (cases[i].text, zone (cases[i].zone), &utc);
      if (ok != cases[i].ok)
        fail_msg ("%s: ok=%d", cases[i].text, ok);
      if (ok)
        assert_int_equal (utc, cases[i].utc);
    }
  /* Round trip through tz_format_iso over a span of instants and zones. */
  static const char *const zones[]
      = { NULL, MX, TJ, "America/Cancun", "Asia/Kolkata", "Pacific/Auckland" };
  char out[TZ_ISO_MAX];
  for (int64_t t = 946771200; t < 4102444800; t += 86399 * 37)
    for (size_t k = 0; k < sizeof zones / sizeof zones[0]; k++)
      {
        int64_t back;
        tz_format_iso (zone (zones[k]), t, out);
        assert_true (ticket_parse_date (out, tz_utc (), &back));
        assert_int_equal (back, t);
      }
}

/* ---- whole tickets ----------------------------------------------- */

static const char *const base = "{\"branch\":\"S01\",\"folio_number\":\"A-1\","
                                "\"date\":\"2026-11-20T12:30:00\",\"payment_"
                                "form\":\"01\",\"items\":[%s]}";

static const char *const item_cafe
    = "{\"quantity\":2,\"product\":{\"description\":\"Cafe\","
      "\"product_key\":\"90101501\",\"unit_key\":\"H87\",\"price\":\"116.00\","
      "\"tax_included\":true,\"taxes\":[{\"type\":\"IVA\",\"rate\":\"0.16\"}]}"
      "}";
static const char *const item_cookie
    = "{\"quantity\":\"3\",\"discount\":\"1.50\",\"product\":{\"description\":"
      "\"Galleta\",\"product_key\":\"50181900\",\"price\":10.5,"
      "\"tax_included\":false}}";
static const char *const item_service
    = "{\"product\":{\"description\":\"Asesoria\",\"product_key\":"
      "\"80101500\","
      "\"unit_key\":\"E48\",\"price\":\"1000\",\"tax_included\":false,"
      "\"taxes\":[{\"type\":\"IVA\",\"rate\":\"0.16\"},{\"type\":\"ISR\","
      "\"rate\":\"0.10\",\"withholding\":true}]}}";
static const char *const item_exempt
    = "{\"quantity\":\"0.5\",\"product\":{\"description\":\"Tortilla\","
      "\"product_key\":\"50221200\",\"unit_key\":\"KGM\",\"price\":\"22.90\","
      "\"taxes\":[{\"type\":\"IVA\",\"factor\":\"Exento\"}]}}";

static bool
load (const char *items, const char *extra_top, struct ticket *t,
      struct ferr *fe)
{
  char text[8192];
  snprintf (text, sizeof text, base, items);
  if (extra_top)
    {
      /* splice ,"k":v before the closing brace */
      size_t n = strlen (text);
      snprintf (text + n - 1, sizeof text - n + 1, ",%s}", extra_top);
    }
  json_error_t je;
  json_t *o = json_load_exact (text, strlen (text), 10, &je);
  assert_non_null (o);
  memset (fe, 0, sizeof *fe);
  ticket_init (t);
  bool ok = ticket_from_json (o, zone (MX), t, fe);
  json_decref (o);
  return ok;
}

static void
test_totals (void **state)
{
  static const struct
  {
    const char *what;
    const char *items;
    int64_t subtotal, discount, transferred, withheld, total;
  } cases[] = {
    /* 2 x 116.00 IVA included: 2 x 100.00, IVA 32.00 */
    { "tax included", "%s", 200000000, 0, 32000000, 0, 232000000 },
    /* 3 x 10.50 = 31.50 - 1.50 = 30.00 base, IVA 4.80 (default IVA 16) */
    { "discount, default tax", "%s", 31500000, 1500000, 4800000, 0, 34800000 },
    /* 1000 + IVA 160 - ISR 100 */
    { "withholding", "%s", 1000000000, 0, 160000000, 100000000, 1060000000 },
    /* 0.5 x 22.90 = 11.45, exempt */
    { "exempt", "%s", 11450000, 0, 0, 0, 11450000 },
  };
  const char *items[] = { item_cafe, item_cookie, item_service, item_exempt };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct ticket t;
      struct ferr fe;
      char it[4096];
      snprintf (it, sizeof it, cases[i].items, items[i]);
      if (!load (it, NULL, &t, &fe))
        fail_msg ("%s: %s (%s)", cases[i].what, fe.message, fe.field);
      assert_int_equal (t.inv.subtotal, cases[i].subtotal);
      assert_int_equal (t.inv.discount, cases[i].discount);
      assert_int_equal (t.inv.total_transferred, cases[i].transferred);
      assert_int_equal (t.inv.total_withheld, cases[i].withheld);
      assert_int_equal (t.inv.total, cases[i].total);
      ticket_free (&t);
    }
  /* All four together: sums of the above. */
  struct ticket t;
  struct ferr fe;
  char all[8192];
  snprintf (all, sizeof all, "%s,%s,%s,%s", item_cafe, item_cookie,
            item_service, item_exempt);
  assert_true (load (all, NULL, &t, &fe));
  assert_int_equal (t.inv.total, 232000000 + 34800000 + 1060000000 + 11450000);
  assert_string_equal (t.branch, "S01");
  assert_string_equal (t.currency, "MXN");
  assert_int_equal (t.date, 1795199400);

  /* The stored form gives back the very same ticket. */
  json_t *stored = ticket_items_json (&t);
  char *text = json_dumps (stored, JSON_COMPACT);
  json_error_t je;
  json_t *back = json_loads (text, 0, &je);
  struct ticket u;
  ticket_init (&u);
  strcpy (u.branch, t.branch);
  strcpy (u.folio_number, t.folio_number);
  strcpy (u.payment_form, t.payment_form);
  assert_true (invoice_items_from_json (back, &u.inv, &fe));
  assert_true (ticket_compute (&u, &fe));
  assert_int_equal (u.inv.total, t.inv.total);
  assert_int_equal (u.inv.n_tax_totals, t.inv.n_tax_totals);
  json_t *again = ticket_items_json (&u);
  assert_true (json_equal (again, stored));
  json_t *taxes = ticket_taxes_json (&t);
  assert_int_equal (json_array_size (taxes), t.inv.n_tax_totals);
  json_decref (taxes);
  json_decref (again);
  json_decref (back);
  json_decref (stored);
  free (text);
  ticket_free (&u);
  ticket_free (&t);
}

static void
test_errors (void **state)
{
  static const struct
  {
    const char *what;
    const char *extra; /* top-level field spliced in */
    const char *items;
    const char *code;
    const char *field;
  } cases[] = {
    { "unknown top field", "\"color\":1", NULL, "unknown_field", "color" },
    { "bad currency", "\"currency\":\"ZZZ\"", NULL, "currency_unknown",
      "currency" },
    { "currency XXX", "\"currency\":\"XXX\"", NULL, "currency_unknown",
      "currency" },
    { "no items", NULL, "", "items_missing", "items" },
    { "price 7 decimals", NULL,
      "{\"product\":{\"description\":\"x\",\"product_key\":\"01010101\","
      "\"price\":\"1.0000001\"}}",
      "amount_format", "items[0].product.price" },
    { "price exponent", NULL,
      "{\"product\":{\"description\":\"x\",\"product_key\":\"01010101\","
      "\"price\":1e3}}",
      "amount_format", "items[0].product.price" },
    { "unknown item field", NULL,
      "{\"qty\":1,\"product\":{\"description\":\"x\",\"product_key\":"
      "\"01010101\",\"price\":1}}",
      "unknown_field", "items[0].qty" },
    { "zero quantity", NULL,
      "{\"quantity\":0,\"product\":{\"description\":\"x\",\"product_key\":"
      "\"01010101\",\"price\":1}}",
      "quantity_format", "items[0].quantity" },
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct ticket t;
      struct ferr fe;
      bool ok = load (cases[i].items ? cases[i].items : item_cafe,
                      cases[i].extra, &t, &fe);
      if (ok)
        fail_msg ("%s: accepted", cases[i].what);
      if (strcmp (fe.code, cases[i].code) != 0
          || strcmp (fe.field, cases[i].field) != 0)
        fail_msg ("%s: got %s/%s", cases[i].what, fe.code, fe.field);
      ticket_free (&t);
    }
  /* Header fields: replace the whole document. */
  static const struct
  {
    const char *json, *code, *field;
  } docs[] = {
    { "[]", "type", "" },
    { "{\"folio_number\":\"1\",\"date\":\"2026-11-20T12:00:00\","
      "\"payment_form\":\"01\",\"items\":[]}",
      "required", "branch" },
    { "{\"branch\":\"S\",\"folio_number\":\"\",\"date\":\"x\"}", "text_length",
      "folio_number" },
    { "{\"branch\":\"S\\u0001\",\"folio_number\":\"1\"}", "text_character",
      "branch" },
    { "{\"branch\":\"S\",\"folio_number\":-1}", "type", "folio_number" },
    { "{\"branch\":\"S\",\"folio_number\":7,\"date\":\"2026-13-01T00:00:00\"}",
      "date_format", "date" },
    { "{\"branch\":\"S\",\"folio_number\":7,\"date\":\"2026-11-01T00:00:00\","
      "\"payment_form\":\"99\",\"items\":[{\"product\":{\"description\":"
      "\"x\",\"product_key\":\"01010101\",\"price\":1}}]}",
      "payment_form", "payment_form" },
    { "{\"branch\":\"S\",\"folio_number\":7,\"date\":\"2026-11-01T00:00:00\","
      "\"payment_form\":\"01\"}",
      "required", "items" },
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
    {
      json_error_t je;
      json_t *o
          = json_load_exact (docs[i].json, strlen (docs[i].json), 10, &je);
      assert_non_null (o);
      struct ticket t;
      struct ferr fe;
      memset (&fe, 0, sizeof fe);
      ticket_init (&t);
      if (ticket_from_json (o, zone (MX), &t, &fe))
        fail_msg ("doc %zu accepted", i);
      if (strcmp (fe.code, docs[i].code) != 0
          || strcmp (fe.field, docs[i].field) != 0)
        fail_msg ("doc %zu: got %s/%s", i, fe.code, fe.field);
      ticket_free (&t);
      json_decref (o);
    }
}

static void
test_item_limit (void **state)
{
  (void)state;
  struct buf b = BUF_INIT;
  for (int i = 0; i < TICKET_MAX_ITEMS + 1; i++)
    {
      if (i)
        buf_putc (&b, ',');
      buf_puts (&b, item_cookie);
    }
  struct ticket t;
  struct ferr fe;
  char *text = xmalloc (b.len + 512);
  snprintf (text, b.len + 512, base, b.data);
  json_error_t je;
  json_t *o = json_load_exact (text, strlen (text), 10, &je);
  memset (&fe, 0, sizeof fe);
  ticket_init (&t);
  assert_false (ticket_from_json (o, zone (MX), &t, &fe));
  assert_string_equal (fe.code, "items_count");
  ticket_free (&t);
  json_decref (o);
  /* Exactly the limit is fine. */
  b.len -= strlen (item_cookie) + 1;
  b.data[b.len] = '\0';
  snprintf (text, b.len + 512, base, b.data);
  o = json_load_exact (text, strlen (text), 10, &je);
  ticket_init (&t);
  assert_true (ticket_from_json (o, zone (MX), &t, &fe));
  assert_int_equal (t.inv.n_items, TICKET_MAX_ITEMS);
  assert_int_equal (t.inv.total, 34800000LL * TICKET_MAX_ITEMS);
  ticket_free (&t);
  json_decref (o);
  free (text);
  buf_free (&b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_dates),
    cmocka_unit_test (test_totals),
    cmocka_unit_test (test_errors),
    cmocka_unit_test (test_item_limit),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
