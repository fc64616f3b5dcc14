/*
 * ticket.c — reading, validating and computing a POS ticket (ticket.h).
 *
 * The ticket's own fields (branch, folio, date, payment form, currency)
 * are checked here; its items are read by invoice_items_from_json and
 * its amounts computed by invoice_compute, the very functions the
 * invoice made from the ticket will go through, so a ticket can never
 * show a total its invoice would not carry.  Pure: no I/O, no clock.
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

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil (int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days (int64_t z, int *y, unsigned *m, unsigned *d)
{
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool
digits (const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return false;
      v = v * 10 + (s[i] - '0');
    }
  *out = v;
  return true;
}

bool
ticket_parse_date (const char *s, int utc_offset_min, int64_t *utc)
{
  int y, mo, d, h, mi, se;
  if (s == NULL || strlen (s) < 19 || !digits (s, 4, &y) || s[4] != '-'
      || !digits (s + 5, 2, &mo) || s[7] != '-' || !digits (s + 8, 2, &d)
      || (s[10] != 'T' && s[10] != ' ') || !digits (s + 11, 2, &h)
      || s[13] != ':' || !digits (s + 14, 2, &mi) || s[16] != ':'
      || !digits (s + 17, 2, &se))
    return false;
  static const int mdays[]
      = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 2000 || y > 2999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
      || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 59)
    return false;
  const char *z = s + 19;
  int off = utc_offset_min;
  if (*z == 'Z' && z[1] == '\0')
    off = 0;
  else if ((*z == '+' || *z == '-') && strlen (z) == 6 && z[3] == ':')
    {
      int oh, om;
      if (!digits (z + 1, 2, &oh) || !digits (z + 4, 2, &om) || oh > 14
          || om > 59)
        return false;
      off = (oh * 60 + om) * (*z == '-' ? -1 : 1);
    }
  else if (*z != '\0')
    return false;
  *utc = days_from_civil (y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600
         + mi * 60 + se - (int64_t)off * 60;
  return true;
}

void
ticket_format_date (int64_t utc, int utc_offset_min, char out[32])
{
  int64_t local = utc + (int64_t)utc_offset_min * 60;
  int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  int64_t secs = local - days * 86400;
  int y;
  unsigned m, d;
  civil_from_days (days, &y, &m, &d);
  int off = utc_offset_min < 0 ? -utc_offset_min : utc_offset_min;
  char tmp[96];
  snprintf (tmp, sizeof tmp, "%04d-%02u-%02uT%02d:%02d:%02d%c%02d:%02d", y, m,
            d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
            utc_offset_min < 0 ? '-' : '+', off / 60 % 100, off % 60);
  snprintf (out, 32, "%.31s", tmp);
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
ticket_from_json (const json_t *o, int utc_offset_min, struct ticket *t,
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
      || !ticket_parse_date (json_string_value (d), utc_offset_min, &t->date))
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
