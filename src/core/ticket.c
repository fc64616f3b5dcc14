/*
 * ticket.c — reading, validating and computing a POS ticket (ticket.h).
 *
 * The ticket's own fields (branch, folio, date, payment form, currency)
 * are checked here; its items are read by invoice_items_from_json and
 * its amounts computed by invoice_compute, the very functions the
 * invoice made from the ticket will go through, so a ticket can never
 * show a total its invoice would not carry.  Pure: no I/O, no clock (the
 * zone that reads local dates is loaded by the caller, util/tz.h).
 */
#include "core/ticket.h"

#include <stdio.h>
#include <string.h>

#include "core/catalog.h"
#include "core/money.h"
#include "util/json.h"

void
ticket_init (struct ticket *t)
{
  memset (t, 0, sizeof *t);
  invoice_init (&t->inv);
}

void
ticket_free (struct ticket *t)
{
  if (t == NULL)
    return;
  invoice_free (&t->inv);
  ticket_init (t);
}

/* ------------------------------------------------------------------ */
/* Dates                                                              */
/* ------------------------------------------------------------------ */

bool
ticket_parse_date (const char *s, const struct tz *z, int64_t *utc)
{
  int32_t off = 0;
  int64_t t;
  if (!tz_parse_iso (z, s, &t, &off) || off < -14 * 3600 || off > 14 * 3600)
    return false;
  /* tz_parse_iso read "YYYY-" at the start: the local year. */
  int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10
          + (s[3] - '0');
  if (y < 2000 || y > 2999)
    return false;
  *utc = t;
  return true;
}

/* ------------------------------------------------------------------ */
/* Reading                                                            */
/* ------------------------------------------------------------------ */

/* A short code or folio: 1..max bytes of printable ASCII, no spaces at
 * either end. */
static bool
read_code (const json_t *v, const char *field, size_t max, bool allow_int,
           char *out, size_t outsz, struct ferr *err)
{
  if (v == NULL)
    return ferr_set (err, "required", field, "%s is required",
                     "%s es obligatorio", field);
  if (allow_int && json_is_integer (v) && json_integer_value (v) >= 0)
    {
      snprintf (out, outsz, "%lld", (long long)json_integer_value (v));
      return true;
    }
  if (!json_is_string (v))
    return ferr_set (err, "type", field, "%s must be a string",
                     "%s debe ser una cadena", field);
  const char *s = json_string_value (v);
  size_t n = json_string_length (v);
  if (n == 0 || n > max || n >= outsz)
    return ferr_set (
        err, "text_length", field, "%s must have 1 to %zu characters",
        "%s debe tener de 1 a %zu caracteres", field, max, field, max);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
      {
        if (s[i] == ' ' && i > 0 && i + 1 < n)
          continue;
        return ferr_set (err, "text_character", field,
                         "%s may only hold printable ASCII characters",
                         "%s sólo admite caracteres ASCII imprimibles", field);
      }
  memcpy (out, s, n);
  out[n] = '\0';
  return true;
}

bool
ticket_compute (struct ticket *t, struct ferr *err)
{
  if (t->branch[0] == '\0')
    return ferr_set (err, "required", "branch", "branch is required",
                     "branch es obligatorio");
  if (t->folio_number[0] == '\0')
    return ferr_set (err, "required", "folio_number",
                     "folio_number is required",
                     "folio_number es obligatorio");
  if (catalog_payment_form (t->payment_form) == NULL
      || strcmp (t->payment_form, "99") == 0)
    return ferr_set (err, "payment_form", "payment_form",
                     "payment_form must be a c_FormaPago key other than 99",
                     "payment_form debe ser una clave de c_FormaPago "
                     "distinta de 99");
  if (t->currency[0] == '\0')
    snprintf (t->currency, sizeof t->currency, "MXN");
  const struct catalog_currency *cur = catalog_currency (t->currency);
  if (cur == NULL || strcmp (t->currency, "XXX") == 0)
    return ferr_set (err, "currency_unknown", "currency",
                     "currency must be a c_Moneda code",
                     "currency debe ser una clave de c_Moneda");
  if (t->inv.n_items == 0)
    return ferr_set (err, "items_missing", "items",
                     "at least one item is required",
                     "se requiere al menos un concepto");
  if (t->inv.n_items > TICKET_MAX_ITEMS)
    return ferr_set (err, "items_count", "items", "more than %d items",
                     "más de %d conceptos", TICKET_MAX_ITEMS,
                     TICKET_MAX_ITEMS);
  t->inv.type = INVOICE_INGRESO;
  snprintf (t->inv.currency, sizeof t->inv.currency, "%s", t->currency);
  snprintf (t->inv.payment_form, sizeof t->inv.payment_form, "%s",
            t->payment_form);
  return invoice_compute (&t->inv, err);
}

bool
ticket_from_json (const json_t *o, const struct tz *z, struct ticket *t,
                  struct ferr *err)
{
  static const char *const keys[]
      = { "branch",   "folio_number", "date", "payment_form",
          "currency", "items",        NULL };
  if (!json_is_object (o))
    return ferr_set (err, "type", "", "the ticket must be a JSON object",
                     "el ticket debe ser un objeto JSON");
  const char *bad = json_unknown_key (o, keys);
  if (bad != NULL)
    {
      char f[128];
      snprintf (f, sizeof f, "%s", bad);
      return ferr_set (err, "unknown_field", f, "unknown field %s",
                       "campo desconocido %s", f);
    }
  if (!read_code (json_object_get (o, "branch"), "branch", TICKET_MAX_BRANCH,
                  false, t->branch, sizeof t->branch, err)
      || !read_code (json_object_get (o, "folio_number"), "folio_number",
                     TICKET_MAX_FOLIO, true, t->folio_number,
                     sizeof t->folio_number, err))
    return false;
  const json_t *d = json_object_get (o, "date");
  if (d == NULL)
    return ferr_set (err, "required", "date", "date is required",
                     "date es obligatorio");
  if (!json_is_string (d)
      || !ticket_parse_date (json_string_value (d), z, &t->date))
    return ferr_set (err, "date_format", "date",
                     "date must be YYYY-MM-DDTHH:MM:SS, optionally with Z "
                     "or an offset such as -06:00",
                     "date debe ser AAAA-MM-DDTHH:MM:SS, opcionalmente con "
                     "Z o un desfase como -06:00");
  const json_t *pf = json_object_get (o, "payment_form");
  if (pf == NULL)
    return ferr_set (err, "required", "payment_form",
                     "payment_form is required",
                     "payment_form es obligatorio");
  if (!json_is_string (pf) || json_string_length (pf) != 2)
    return ferr_set (err, "payment_form", "payment_form",
                     "payment_form must be a c_FormaPago key such as \"01\"",
                     "payment_form debe ser una clave de c_FormaPago como "
                     "\"01\"");
  memcpy (t->payment_form, json_string_value (pf), 3);
  const json_t *cu = json_object_get (o, "currency");
  if (cu != NULL)
    {
      if (!json_is_string (cu) || json_string_length (cu) != 3)
        return ferr_set (err, "currency_unknown", "currency",
                         "currency must be a c_Moneda code such as \"MXN\"",
                         "currency debe ser una clave de c_Moneda como "
                         "\"MXN\"");
      memcpy (t->currency, json_string_value (cu), 4);
    }
  const json_t *items = json_object_get (o, "items");
  if (items == NULL)
    return ferr_set (err, "required", "items", "items is required",
                     "items es obligatorio");
  if (json_is_array (items) && json_array_size (items) > TICKET_MAX_ITEMS)
    return ferr_set (err, "items_count", "items", "more than %d items",
                     "más de %d conceptos", TICKET_MAX_ITEMS,
                     TICKET_MAX_ITEMS);
  if (!invoice_items_from_json (items, &t->inv, err))
    return false;
  return ticket_compute (t, err);
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */
/* ------------------------------------------------------------------ */

static json_t *
amount (int64_t v, int min_decimals)
{
  char b[MONEY_BUFSZ];
  return json_string (money_format_min (v, min_decimals, b));
}

json_t *
ticket_items_json (const struct ticket *t)
{
  json_t *arr = json_array ();
  for (size_t i = 0; i < t->inv.n_items; i++)
    {
      const struct invoice_item *it = &t->inv.items[i];
      json_t *taxes = json_array ();
      for (size_t k = 0; k < it->n_taxes; k++)
        {
          const struct invoice_tax *x = &it->taxes[k];
          json_t *tx = json_pack (
              "{s:s, s:s, s:b}", "type", invoice_tax_name (x->kind), "factor",
              invoice_factor_name (x->factor), "withholding", x->withholding);
          if (x->factor != INVOICE_FACTOR_EXENTO)
            json_object_set_new (tx, "rate", amount (x->rate, 2));
          json_array_append_new (taxes, tx);
        }
      json_t *p = json_pack (
          "{s:s, s:s, s:s, s:o, s:b, s:o}", "description",
          it->description ? it->description : "", "product_key",
          it->product_key ? it->product_key : "", "unit_key",
          it->unit_key ? it->unit_key : "", "price", amount (it->price, 2),
          "tax_included", it->tax_included, "taxes", taxes);
      if (it->unit_name)
        json_object_set_new (p, "unit_name", json_string (it->unit_name));
      if (it->sku)
        json_object_set_new (p, "sku", json_string (it->sku));
      if (it->tax_object[0])
        json_object_set_new (p, "tax_object", json_string (it->tax_object));
      json_t *item = json_pack ("{s:o, s:o}", "quantity",
                                amount (it->quantity, 0), "product", p);
      if (it->discount != 0 || it->has_discount)
        json_object_set_new (item, "discount", amount (it->discount, 2));
      json_array_append_new (arr, item);
    }
  return arr;
}

json_t *
ticket_taxes_json (const struct ticket *t)
{
  json_t *arr = json_array ();
  char b[MONEY_BUFSZ];
  int dec = t->inv.decimals;
  for (size_t i = 0; i < t->inv.n_tax_totals; i++)
    {
      const struct invoice_tax_total *x = &t->inv.tax_totals[i];
      json_t *o = json_pack ("{s:s, s:b}", "type", invoice_tax_name (x->kind),
                             "withholding", x->withholding);
      if (!x->withholding)
        {
          json_object_set_new (o, "factor",
                               json_string (invoice_factor_name (x->factor)));
          if (x->factor != INVOICE_FACTOR_EXENTO)
            json_object_set_new (o, "rate",
                                 json_string (money_format (x->rate, 6, b)));
          json_object_set_new (o, "base",
                               json_string (money_format (x->base, dec, b)));
        }
      json_object_set_new (o, "amount",
                           json_string (money_format (x->amount, dec, b)));
      json_array_append_new (arr, o);
    }
  return arr;
}
