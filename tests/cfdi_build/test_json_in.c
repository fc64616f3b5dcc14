/*
 * test_json_in.c — cmocka tests of cfdi/json_in.c: the documented examples
 * are read with their defaults, and each kind of bad input is refused
 * with an error naming the field as the integrator sent it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The table below leaves the optional second edit out of most rows. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "cfdi/json_in.h"
#include "util/buf.h"
#include "util/json.h"

static json_t *
example (const char *name)
{
  const char *src = getenv ("FACTURO_SRC");
  char p[1024];
  snprintf (p, sizeof p, "%s/tests/cfdi_build/examples/%s.json",
            src ? src : ".", name);
  struct buf b = BUF_INIT;
  assert_int_equal (read_file (p, &b, 0), 0);
  json_error_t je;
  json_t *j = json_load_exact (b.data, b.len, 12, &je);
  assert_non_null (j);
  buf_free (&b);
  return j;
}

/* Sets the value at a dotted path ("customer.address.zip",
 * "items.0.product.price"); value NULL deletes it. */
static void
set_path (json_t *root, const char *path, const char *value_json)
{
  char buf[256];
  snprintf (buf, sizeof buf, "%s", path);
  json_t *cur = root;
  char *save = NULL, *tok = strtok_r (buf, ".", &save);
  while (tok)
    {
      char *next = strtok_r (NULL, ".", &save);
      bool idx = tok[0] >= '0' && tok[0] <= '9';
      if (next == NULL)
        {
          json_t *v = NULL;
          if (value_json)
            {
              json_error_t je;
              v = json_loads (value_json, JSON_DECODE_ANY, &je);
              assert_non_null (v);
            }
          if (idx)
            {
              if (v)
                json_array_set_new (cur, (size_t)atoi (tok), v);
              else
                json_array_remove (cur, (size_t)atoi (tok));
            }
          else if (v)
            json_object_set_new (cur, tok, v);
          else
            json_object_del (cur, tok);
          return;
        }
      cur = idx ? json_array_get (cur, (size_t)atoi (tok))
                : json_object_get (cur, tok);
      assert_non_null (cur);
      tok = next;
    }
}

static void
expect_ok (json_t *j, struct invoice *inv)
{
  struct ferr e = { 0 };
  invoice_init (inv);
  if (!cfdi_invoice_from_json (j, inv, &e))
    fail_msg ("refused: %s %s %s", e.field, e.code, e.message);
}

/* The documented examples and their defaults */
static void
test_examples (void **state)
{
  struct invoice inv;
  json_t *j = example ("ingreso");
  expect_ok (j, &inv);
  assert_int_equal (inv.type, INVOICE_INGRESO);
  assert_string_equal (inv.currency, "MXN");
  assert_string_equal (inv.export_code, "01");
  assert_string_equal (inv.folio, "1001");
  assert_false (inv.has_exchange);
  assert_int_equal (inv.total, 2078330000);
  invoice_free (&inv);
  json_decref (j);

  j = example ("egreso");
  expect_ok (j, &inv);
  assert_int_equal (inv.type, INVOICE_EGRESO);
  assert_string_equal (inv.payment_method, "PUE");
  assert_int_equal (inv.n_related, 1);
  assert_string_equal (inv.related[0].uuids[0],
                       "F08A8B8C-26DB-5385-86AF-2A1D354C5CC3");
  invoice_free (&inv);
  json_decref (j);

  j = example ("pago");
  expect_ok (j, &inv);
  assert_string_equal (inv.currency, "XXX");
  assert_string_equal (inv.receiver.use, "CP01");
  assert_string_equal (inv.payment_form, "");
  assert_int_equal (inv.pay_totals.total, 15000000000);
  assert_string_equal (inv.payments[0].payer_rfc, "BMI9704113PA");
  assert_string_equal (inv.payments[0].payee_account, "0198005000");
  invoice_free (&inv);
  json_decref (j);

  /* SAT: Guía de llenado del CFDI global — público en general */
  j = example ("global");
  expect_ok (j, &inv);
  assert_string_equal (inv.receiver.rfc, "XAXX010101000");
  assert_string_equal (inv.receiver.name, "PUBLICO EN GENERAL");
  assert_string_equal (inv.receiver.regime, "616");
  assert_string_equal (inv.receiver.use, "S01");
  assert_string_equal (inv.receiver.zip, inv.issuer.zip);
  assert_true (inv.global.present);
  invoice_free (&inv);
  json_decref (j);
}

/* Defaults: PPD without form gives 99; a lower-case UUID is upper-cased;
 * XEXX010101000 without address takes the issuer's zip; no date = now */
static void
test_defaults (void **state)
{
  struct invoice inv;
  json_t *j = example ("ingreso");
  set_path (j, "payment_method", "\"PPD\"");
  set_path (j, "payment_form", NULL);
  set_path (j, "date", NULL);
  set_path (j, "related_documents",
            "[{\"relationship\":\"04\",\"documents\":"
            "[{\"uuid\":\"f08a8b8c-26db-5385-86af-2a1d354c5cc3\"}]}]");
  set_path (j, "customer",
            "{\"tax_id\":\"XEXX010101000\",\"legal_name\":\"ACME Inc.\","
            "\"tax_system\":\"616\"}");
  set_path (j, "use", "\"S01\"");
  expect_ok (j, &inv);
  assert_string_equal (inv.payment_form, "99");
  assert_string_equal (inv.related[0].uuids[0],
                       "F08A8B8C-26DB-5385-86AF-2A1D354C5CC3");
  assert_string_equal (inv.receiver.zip, "42501");
  assert_int_equal (strlen (inv.date), 19);
  invoice_free (&inv);
  json_decref (j);

  /* the popular APIs' full address is accepted (only zip is used);
   * conditions; taxability as the spelling of ObjetoImp */
  j = example ("ingreso");
  set_path (j, "customer.address",
            "{\"street\":\"Av. Juárez\",\"exterior\":\"10\","
            "\"interior\":\"B\",\"neighborhood\":\"Centro\",\"city\":"
            "\"Cárdenas\",\"municipality\":\"Cárdenas\",\"state\":"
            "\"Tabasco\",\"country\":\"MEX\",\"zip\":\"86991\"}");
  set_path (j, "conditions", "\"Crédito a 30 días\"");
  set_path (j, "items.1.product.taxability", "\"02\"");
  set_path (j, "items.0.product.taxability", "\"03\"");
  set_path (j, "items.0.product.taxes", "[]");
  expect_ok (j, &inv);
  assert_string_equal (inv.receiver.zip, "86991");
  assert_string_equal (inv.conditions, "Crédito a 30 días");
  assert_string_equal (inv.items[0].tax_object, "03");
  assert_int_equal (inv.items[0].n_taxes, 0);
  invoice_free (&inv);
  json_decref (j);
}

struct bad
{
  const char *example, *path, *value, *field, *code;
  const char *path2, *value2; /* optional second edit */
};

static const struct bad bads[] = {
  { "ingreso", "type", "\"X\"", "type", "type_unknown" },
  { "ingreso", "colour", "\"red\"", "colour", "unknown_field" },
  { "ingreso", "date", "\"2026-02-29T10:00:00\"", "date", "date_format" },
  { "ingreso", "date", "\"2026-11-20 10:00:00\"", "date", "date_format" },
  { "ingreso", "series", "\"A|B\"", "series", "text_character" },
  { "ingreso", "folio_number", "-1", "folio_number", "folio_format" },
  { "ingreso", "issuer.tax_id", "\"XAXX010101000\"", "issuer.tax_id", NULL },
  { "ingreso", "issuer.address.zip", "\"4250\"", "issuer.address.zip", NULL },
  { "ingreso", "issuer.address.planet", "\"x\"", "issuer.address.planet",
    "unknown_field" },
  { "ingreso", "customer.address.city", "7", "customer.address.city", "type" },
  { "ingreso", "conditions", "\"a|b\"", "conditions", "text_character" },
  { "pago", "conditions", "\"Contado\"", "conditions", "conditions_payment" },
  { "ingreso", "items.0.product.taxability", "\"05\"",
    "items[0].product.taxability", "tax_object" },
  { "ingreso", "items.0.product.taxability", "\"02\"",
    "items[0].product.tax_object", "tax_object", "items.0.product.tax_object",
    "\"02\"" },
  { "ingreso", "customer.tax_id", "\"URE18O429TM6\"", "customer.tax_id",
    NULL },
  { "ingreso", "customer.tax_system", "\"612\"", "customer.tax_system", NULL },
  { "ingreso", "customer.address", NULL, "customer.address", "required" },
  { "ingreso", "customer.legal_name", NULL, "customer.legal_name",
    "required" },
  { "ingreso", "use", "\"Z99\"", "use", NULL },
  { "ingreso", "payment_form", "\"77\"", "payment_form", NULL },
  { "ingreso", "payment_method", "\"PPD\"", "payment_form", NULL },
  { "ingreso", "currency", "\"USD\"", "exchange", NULL },
  { "ingreso", "currency", "\"ZZZ\"", "currency", NULL },
  { "ingreso", "export", "\"09\"", "export", "export_unknown" },
  { "ingreso", "related_documents",
    "[{\"relationship\":\"99\",\"documents\":[\"F08A8B8C-26DB-5385-86AF-"
    "2A1D354C5CC3\"]}]",
    "related_documents[0].relationship", "relation_unknown" },
  { "ingreso", "related_documents",
    "[{\"relationship\":\"01\",\"documents\":[\"F08A8B8C-26DB-5385-86AF\"]}]",
    "related_documents[0].documents[0]", "uuid_format" },
  { "ingreso", "related_documents",
    "[{\"relationship\":\"01\",\"documents\":[]}]",
    "related_documents[0].documents", "required" },
  { "ingreso", "items.1.product.taxes.0.rate", "\"0.15\"",
    "items[1].product.taxes[0]", "tax_rate" },
  { "ingreso", "items.0.product.price", "1.5e2", "items[0].product.price",
    "amount_format" },
  { "ingreso", "items.1.discount", "\"1500.01\"", "items[1].discount",
    "discount_too_large" },
  { "ingreso", "items", "[]", "items", "items_missing" },
  { "ingreso", "items", NULL, "items", "required" },
  { "ingreso", "payments", "[]", "payments", "payments_not_pago" },
  { "ingreso", "global",
    "{\"periodicity\":\"04\",\"months\":\"10\","
    "\"year\":2026}",
    "customer.tax_id", "global_customer" },
  { "global", "customer",
    "{\"tax_id\":\"XAXX010101000\",\"legal_name\":\"JUAN\","
    "\"tax_system\":\"616\"}",
    "customer.legal_name", "global_customer_name" },
  { "global", "global", NULL, "customer", "required" },
  { "ingreso", "customer",
    "{\"tax_id\":\"XAXX010101000\",\"legal_name\":\"PUBLICO EN "
    "GENERAL\",\"tax_system\":\"616\"}",
    "global", "global_required", "use", "\"S01\"" },
  { "global", "items.1.product.sku", NULL, "items[1].product.sku",
    "global_ticket_number" },
  { "global", "items.2.product.unit_key", "\"H87\"",
    "items[2].product.unit_key", "global_concepto" },
  { "global", "items.0.product.description", "\"Ventas\"",
    "items[0].product.description", "global_concepto" },
  { "global", "items.0.quantity", "2", "items[0].quantity",
    "global_concepto" },
  { "global", "global.months", "\"13\"", "global.months",
    "months_periodicity" },
  { "global", "global.periodicity", "\"09\"", "global.periodicity",
    "periodicity_unknown" },
  { "global", "global.year", "2019", "global.year", "year_range" },
  { "global", "global.year", "2027", "global.year", "year_range" },
  { "global", "type", "\"E\"", "global", "global_type" },
  { "pago", "items", "[]", "items", "payment_items" },
  { "pago", "payments", NULL, "payments", "required" },
  { "pago", "use", "\"G03\"", "use", "use_payment" },
  { "pago", "currency", "\"MXN\"", "currency", "currency_payment" },
  { "pago", "payments.0.payment_form", "\"99\"", "payments[0].payment_form",
    "payment_form_unknown" },
  { "pago", "payments.0.date", "\"ayer\"", "payments[0].date", "date_format" },
  { "pago", "payments.0.amount", "\"14999.99\"", "payments[0].amount",
    "payment_amount_short" },
  { "pago", "payments.0.related_documents.1.amount", "\"10000.01\"",
    "payments[0].related_documents[1].amount", "amount_over_balance" },
  { "pago", "payments.0.related_documents.1.currency", "\"USD\"",
    "payments[0].related_documents[1].exchange", "equivalence_missing" },
  { "pago", "payments.0.related_documents.1.installment", "0",
    "payments[0].related_documents[1].installment", "installment_range" },
  { "pago", "payments.0.related_documents.1.uuid", "\"nope\"",
    "payments[0].related_documents[1].uuid", "uuid_format" },
  { "pago", "payments.0.related_documents.0.taxes",
    "[{\"type\":\"IVA\",\"rate\":\"0.16\",\"base\":\"100\"},"
    "{\"type\":\"IEPS\",\"rate\":\"0.08\"}]",
    "payments[0].related_documents[0].taxes", "tax_base_missing" },
  { "pago", "payments.0.related_documents.0.tax_object", "\"01\"",
    "payments[0].related_documents[0].tax_object", "tax_object" },
  { "pago", "payments.0.payment_form", "\"01\"",
    "payments[0].payer_bank_tax_id", "payment_not_banked" },
  { "pago", "payments.0.payer_account", "\"12-34\"",
    "payments[0].payer_account", "account_format" },
  { "pago", "payments.0.payee_bank_tax_id", "\"BANK\"",
    "payments[0].payee_bank_tax_id", "rfc_format" },
  { "pago", "payments.0.related_documents.0.paid", "1",
    "payments[0].related_documents[0].paid", "unknown_field" },
};

static void
test_bad_fields (void **state)
{
  for (size_t k = 0; k < sizeof bads / sizeof bads[0]; k++)
    {
      const struct bad *b = &bads[k];
      json_t *j = example (b->example);
      set_path (j, b->path, b->value);
      if (b->path2)
        set_path (j, b->path2, b->value2);
      struct invoice inv;
      struct ferr e = { 0 };
      invoice_init (&inv);
      bool ok = cfdi_invoice_from_json (j, &inv, &e);
      if (ok || strcmp (e.field, b->field) != 0
          || (b->code && strcmp (e.code, b->code) != 0))
        fail_msg ("case %zu (%s = %s): got %s field '%s' code %s, want '%s' "
                  "%s",
                  k, b->path, b->value ? b->value : "(deleted)",
                  ok ? "accepted" : "refused", e.field, e.code, b->field,
                  b->code ? b->code : "");
      assert_true (e.message[0] != '\0' && e.message_es[0] != '\0');
      invoice_free (&inv);
      json_decref (j);
    }
}

/* Text-level refusals: syntax, duplicate keys, depth, size */
static void
test_text (void **state)
{
  static const char *texts[] = {
    "{\"type\": \"I\",",
    "{\"type\": \"I\", \"type\": \"E\"}",
    "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
    "\"just a string\"",
  };
  static const char *codes[]
      = { "json_syntax", "json_syntax", "json_syntax", "json_syntax" };
  for (size_t k = 0; k < 4; k++)
    {
      struct invoice inv;
      struct ferr e = { 0 };
      invoice_init (&inv);
      assert_false (
          cfdi_invoice_from_text (texts[k], strlen (texts[k]), &inv, &e));
      assert_string_equal (e.code, codes[k]);
      invoice_free (&inv);
    }
  struct invoice inv;
  struct ferr e = { 0 };
  invoice_init (&inv);
  assert_false (
      cfdi_invoice_from_text ("{}", CFDI_JSON_MAX_BYTES + 1, &inv, &e));
  assert_string_equal (e.code, "json_too_large");
  invoice_free (&inv);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_examples),
    cmocka_unit_test (test_defaults),
    cmocka_unit_test (test_bad_fields),
    cmocka_unit_test (test_text),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
