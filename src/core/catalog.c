/*
 * catalog.c — lookups over the generated SAT catalog tables (catalog.h).
 *
 * Every table in catalog_data.c is sorted by code (the generator sorts),
 * so lookups are binary searches; each entry starts with its code.
 */
#include "core/catalog.h"
/* Generated into the build tree; the build root is on the include path. */
#include "src/core/catalog_data.h"

#include <stdlib.h>
#include <string.h>

/* Binary search over an array of structs whose first member is the code. */
static const void *
catalog_find (const void *base, size_t n, size_t size, const char *code)
{
  size_t lo = 0, hi = n;

  if (code == NULL)
    return NULL;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      const char *const *entry
        = (const char *const *) ((const char *) base + mid * size);
      int c = strcmp (code, *entry);
      if (c == 0)
        return entry;
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  return NULL;
}

#define CATALOG_FIND(table, code) \
  catalog_find (table, table##_n, sizeof table[0], code)

const struct catalog_regime *
catalog_regime (const char *code)
{
  return CATALOG_FIND (catalog_data_regimes, code);
}

const struct catalog_use *
catalog_use (const char *code)
{
  return CATALOG_FIND (catalog_data_uses, code);
}

const struct catalog_payment_form *
catalog_payment_form (const char *code)
{
  return CATALOG_FIND (catalog_data_payment_forms, code);
}

const struct catalog_entry *
catalog_payment_method (const char *code)
{
  return CATALOG_FIND (catalog_data_payment_methods, code);
}

const struct catalog_currency *
catalog_currency (const char *code)
{
  return CATALOG_FIND (catalog_data_currencies, code);
}

const struct catalog_unit *
catalog_unit (const char *code)
{
  return CATALOG_FIND (catalog_data_units, code);
}

const struct catalog_entry *
catalog_tax (const char *code)
{
  return CATALOG_FIND (catalog_data_taxes, code);
}

const struct catalog_entry *
catalog_tax_object (const char *code)
{
  return CATALOG_FIND (catalog_data_tax_objects, code);
}

const struct catalog_entry *
catalog_export (const char *code)
{
  return CATALOG_FIND (catalog_data_exports, code);
}

const struct catalog_entry *
catalog_periodicity (const char *code)
{
  return CATALOG_FIND (catalog_data_periodicities, code);
}

const struct catalog_entry *
catalog_month (const char *code)
{
  return CATALOG_FIND (catalog_data_months, code);
}

const struct catalog_entry *
catalog_relation_type (const char *code)
{
  return CATALOG_FIND (catalog_data_relation_types, code);
}

const struct catalog_entry *
catalog_voucher_type (const char *code)
{
  return CATALOG_FIND (catalog_data_voucher_types, code);
}

const struct catalog_entry *
catalog_tax_factor (const char *code)
{
  return CATALOG_FIND (catalog_data_tax_factors, code);
}

const struct catalog_country *
catalog_country (const char *code)
{
  return CATALOG_FIND (catalog_data_countries, code);
}

bool
catalog_use_allowed_for_regime (const char *use, const char *regime)
{
  if (use == NULL || regime == NULL)
    return false;
  /* 251 rows: a linear scan is cheap enough. */
  for (size_t i = 0; i < catalog_data_use_regimes_n; i++)
    if (strcmp (catalog_data_use_regimes[i].use, use) == 0
        && strcmp (catalog_data_use_regimes[i].regime, regime) == 0)
      return true;
  return false;
}

bool
catalog_tax_rate_allowed (const char *tax, const char *factor, int64_t rate,
                          bool withholding)
{
  if (tax == NULL || factor == NULL)
    return false;
  for (size_t i = 0; i < catalog_data_rates_n; i++)
    {
      const struct catalog_rate *r = &catalog_data_rates[i];
      if (strcmp (r->tax, tax) != 0 || strcmp (r->factor, factor) != 0)
        continue;
      if (withholding ? !r->withholding : !r->transfer)
        continue;
      if (rate >= r->min && rate <= r->max)
        return true;
    }
  return false;
}

size_t
catalog_regimes (const struct catalog_regime **out)
{
  *out = catalog_data_regimes;
  return catalog_data_regimes_n;
}

size_t
catalog_uses (const struct catalog_use **out)
{
  *out = catalog_data_uses;
  return catalog_data_uses_n;
}

size_t
catalog_payment_forms (const struct catalog_payment_form **out)
{
  *out = catalog_data_payment_forms;
  return catalog_data_payment_forms_n;
}

size_t
catalog_currencies (const struct catalog_currency **out)
{
  *out = catalog_data_currencies;
  return catalog_data_currencies_n;
}

/* True if s is exactly n ASCII digits. */
static bool
catalog_digits (const char *s, size_t n)
{
  if (s == NULL || strlen (s) != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

bool
catalog_product_key_format (const char *code)
{
  /* c_ClaveProdServ is not shipped (too large to obtain); shape only. */
  return catalog_digits (code, 8);
}

bool
catalog_zip_format (const char *code)
{
  /* c_CodigoPostal is not shipped (too large to obtain); shape only. */
  return catalog_digits (code, 5);
}
