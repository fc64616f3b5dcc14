/*
 * json_in.c — the invoice JSON (docs/cfdi-json.md) → struct invoice.
 *
 * Reads and checks every field, in document order, stopping at the first
 * problem; the items go through invoice_items_from_json (shared with the
 * POS ticket API) and the amounts through invoice_compute.  Business
 * rules come from core/rules.h (receiver, issuer, payment form/method,
 * currency) and core/catalog.h; this file only adds what is specific to
 * the document: the date, CfdiRelacionados, InformacionGlobal (factura
 * global: público en general, SAT's Guía de llenado del CFDI global) and
 * the Pagos 2.0 payments.
 */
#include "cfdi/json_in.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/catalog.h"
#include "core/rfc.h"
#include "core/rules.h"
#include "core/ticket.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/tz.h"

#define PUBLIC_RFC "XAXX010101000"
#define FOREIGN_RFC "XEXX010101000"

static bool
unknown (const json_t *o, const char *prefix, const char *const *keys,
         struct ferr *err)
{
  const char *bad = json_unknown_key (o, keys);
  if (bad == NULL)
    return true;
  char f[160];
  snprintf (f, sizeof f, "%s%s%s", prefix, *prefix ? "." : "", bad);
  return ferr_set (err, "unknown_field", f, "unknown field %s",
                   "campo desconocido %s", f);
}

static bool
need_object (const json_t *o, const char *field, struct ferr *err)
{
  if (json_is_object (o))
    return true;
  return ferr_set (err, o ? "type" : "required", field, "%s must be an object",
                   "%s debe ser un objeto", field);
}

/* Reads a short code into a fixed buffer (cap includes the NUL). */
static bool
read_code (const json_t *v, const char *field, bool required, char *out,
           size_t cap, struct ferr *err)
{
  if (v == NULL || json_is_null (v))
    {
      if (required)
        return ferr_set (err, "required", field, "%s is required",
                         "%s es obligatorio", field);
      return true;
    }
  if (!json_is_string (v) || json_string_length (v) == 0
      || json_string_length (v) >= cap)
    return ferr_set (err, "code_format", field,
                     "%s must be a code of at most %zu characters",
                     "%s debe ser una clave de hasta %zu caracteres", field,
                     cap - 1);
  const char *s = json_string_value (v);
  for (const char *p = s; *p; p++)
    if (!isalnum ((unsigned char)*p))
      return ferr_set (err, "code_format", field,
                       "%s must contain only letters and digits",
                       "%s debe contener solo letras y dígitos", field);
  memcpy (out, s, strlen (s) + 1);
  return true;
}

/* "YYYY-MM-DDTHH:MM:SS" with a real calendar date. */
static bool
valid_local_date (const char *s)
{
  int64_t utc;
  if (strlen (s) != 19)
    return false;
  for (int i = 0; i < 19; i++)
    {
      bool digit = isdigit ((unsigned char)s[i]);
      if ((i == 4 || i == 7)     ? s[i] != '-'
          : i == 10              ? s[i] != 'T'
          : (i == 13 || i == 16) ? s[i] != ':'
                                 : !digit)
        return false;
    }
  return ticket_parse_date (s, tz_utc (), &utc);
}

static bool
read_date (const json_t *v, const char *field, bool required, char out[20],
           struct ferr *err)
{
  if (v == NULL || json_is_null (v))
    {
      if (required)
        return ferr_set (err, "required", field, "%s is required",
                         "%s es obligatorio", field);
      /* now in Mexico City (util/tz: the process's TZ plays no part) */
      const struct tz *z = tz_get (TZ_DEFAULT, err);
      if (z == NULL)
        return false;
      char iso[TZ_ISO_MAX];
      tz_format_iso (z, (int64_t)time (NULL), iso);
      snprintf (out, 20, "%.19s", iso);
      return true;
    }
  if (!json_is_string (v) || !valid_local_date (json_string_value (v)))
    return ferr_set (err, "date_format", field,
                     "%s must be a local date and time "
                     "YYYY-MM-DDTHH:MM:SS",
                     "%s debe ser fecha y hora local AAAA-MM-DDThh:mm:ss",
                     field);
  memcpy (out, json_string_value (v), 20);
  return true;
}

static bool
read_amount (const json_t *v, const char *field, bool required, int64_t *out,
             bool *present, struct ferr *err)
{
  if (present)
    *present = false;
  if (v == NULL || json_is_null (v))
    {
      if (required)
        return ferr_set (err, "required", field, "%s is required",
                         "%s es obligatorio", field);
      return true;
    }
  if (!json_money (v, out) || *out < 0)
    return ferr_set (err, "amount_format", field,
                     "%s must be a non-negative decimal with at most 6 "
                     "decimals (a string or an integer)",
                     "%s debe ser un decimal no negativo de hasta 6 "
                     "decimales (texto o entero)",
                     field);
  if (present)
    *present = true;
  return true;
}

/* folio_number: string or non-negative integer. */
static bool
read_folio (const json_t *v, const char *field, char **out, struct ferr *err)
{
  if (json_is_integer (v))
    {
      if (json_integer_value (v) < 0)
        return ferr_set (err, "folio_format", field, "%s must not be negative",
                         "%s no puede ser negativo", field);
      char b[32];
      snprintf (b, sizeof b, "%lld", (long long)json_integer_value (v));
      free (*out);
      *out = xstrdup (b);
      return true;
    }
  return invoice_json_text (v, field, 40, false, out, err);
}

static bool
valid_uuid (const char *s)
{
  if (strlen (s) != INVOICE_UUID_LEN)
    return false;
  for (int i = 0; i < INVOICE_UUID_LEN; i++)
    if (i == 8 || i == 13 || i == 18 || i == 23
            ? s[i] != '-'
            : !isxdigit ((unsigned char)s[i]))
      return false;
  return true;
}

static bool
read_uuid (const json_t *v, const char *field, char out[37], struct ferr *err)
{
  if (!json_is_string (v) || !valid_uuid (json_string_value (v)))
    return ferr_set (err, "uuid_format", field,
                     "%s must be a UUID (8-4-4-4-12 hexadecimal digits)",
                     "%s debe ser un UUID (8-4-4-4-12 dígitos "
                     "hexadecimales)",
                     field);
  const char *s = json_string_value (v);
  for (int i = 0; i <= INVOICE_UUID_LEN; i++)
    out[i] = (char)toupper ((unsigned char)s[i]);
  return true;
}

/* issuer / customer */
static bool
read_party (const json_t *o, const char *name, bool customer,
            struct invoice_party *p, struct ferr *err)
{
  static const char *const keys[]
      = { "tax_id", "legal_name", "tax_system", "address", NULL };
  /* The popular APIs' full address: accepted, only zip reaches the CFDI
   * (CFDI 4.0 carries the postal code alone). */
  static const char *const addr_keys[]
      = { "zip",  "street",       "exterior", "interior", "neighborhood",
          "city", "municipality", "state",    "country",  NULL };
  char f[64];
  if (!need_object (o, name, err) || !unknown (o, name, keys, err))
    return false;
  snprintf (f, sizeof f, "%s.tax_id", name);
  if (!invoice_json_text (json_object_get (o, "tax_id"), f, 13, true, &p->rfc,
                          err))
    return false;
  snprintf (f, sizeof f, "%s.legal_name", name);
  if (!invoice_json_text (json_object_get (o, "legal_name"), f, 254, true,
                          &p->name, err))
    return false;
  snprintf (f, sizeof f, "%s.tax_system", name);
  if (!invoice_json_text (json_object_get (o, "tax_system"), f, 3, true,
                          &p->regime, err))
    return false;
  const json_t *a = json_object_get (o, "address");
  snprintf (f, sizeof f, "%s.address", name);
  if (a == NULL && customer)
    return true; /* filled from the issuer for the generic RFCs below */
  if (!need_object (a, f, err) || !unknown (a, f, addr_keys, err))
    return false;
  for (const char *const *k = addr_keys + 1; *k; k++)
    {
      char *ignored = NULL;
      snprintf (f, sizeof f, "%s.address.%s", name, *k);
      bool ok = invoice_json_text (json_object_get (a, *k), f, 100, false,
                                   &ignored, err);
      free (ignored);
      if (!ok)
        return false;
    }
  snprintf (f, sizeof f, "%s.address.zip", name);
  return invoice_json_text (json_object_get (a, "zip"), f, 5, true, &p->zip,
                            err);
}

static bool
read_related (const json_t *arr, struct invoice *inv, struct ferr *err)
{
  static const char *const keys[] = { "relationship", "documents", NULL };
  char f[96];
  if (!json_is_array (arr))
    return ferr_set (err, "type", "related_documents",
                     "related_documents must be an array",
                     "related_documents debe ser una lista");
  size_t n = json_array_size (arr);
  if (n > INVOICE_MAX_RELATED)
    return ferr_set (err, "related_count", "related_documents",
                     "at most %d relation groups",
                     "como máximo %d grupos de relación", INVOICE_MAX_RELATED);
  inv->related = xcalloc (n ? n : 1, sizeof *inv->related);
  for (size_t i = 0; i < n; i++)
    {
      const json_t *g = json_array_get (arr, i);
      struct invoice_related *r = &inv->related[i];
      inv->n_related = i + 1;
      snprintf (f, sizeof f, "related_documents[%zu]", i);
      if (!need_object (g, f, err) || !unknown (g, f, keys, err))
        return false;
      snprintf (f, sizeof f, "related_documents[%zu].relationship", i);
      if (!read_code (json_object_get (g, "relationship"), f, true,
                      r->relation, sizeof r->relation, err))
        return false;
      if (catalog_relation_type (r->relation) == NULL)
        return ferr_set (err, "relation_unknown", f,
                         "%s is not in SAT's c_TipoRelacion",
                         "%s no está en el catálogo c_TipoRelacion", f);
      for (size_t k = 0; k < i; k++)
        if (strcmp (inv->related[k].relation, r->relation) == 0)
          return ferr_set (err, "relation_duplicate", f,
                           "%s: one group per relationship type",
                           "%s: un grupo por tipo de relación", f);
      const json_t *docs = json_object_get (g, "documents");
      snprintf (f, sizeof f, "related_documents[%zu].documents", i);
      if (!json_is_array (docs) || json_array_size (docs) == 0)
        return ferr_set (err, "required", f,
                         "%s must be a non-empty array of UUIDs",
                         "%s debe ser una lista de UUID no vacía", f);
      size_t m = json_array_size (docs);
      if (m > INVOICE_MAX_RELATED_UUIDS)
        return ferr_set (err, "related_count", f, "%s: too many UUIDs",
                         "%s: demasiados UUID", f);
      r->uuids = xcalloc (m, sizeof *r->uuids);
      for (size_t k = 0; k < m; k++)
        {
          const json_t *d = json_array_get (docs, k);
          snprintf (f, sizeof f, "related_documents[%zu].documents[%zu]", i,
                    k);
          if (json_is_object (d))
            {
              static const char *const dk[] = { "uuid", NULL };
              if (!unknown (d, f, dk, err))
                return false;
              d = json_object_get (d, "uuid");
            }
          if (!read_uuid (d, f, r->uuids[k], err))
            return false;
          r->n_uuids = k + 1;
        }
    }
  return true;
}

static bool
read_global (const json_t *g, struct invoice *inv, struct ferr *err)
{
  static const char *const keys[] = { "periodicity", "months", "year", NULL };
  if (!need_object (g, "global", err) || !unknown (g, "global", keys, err))
    return false;
  struct invoice_global *gl = &inv->global;
  gl->present = true;
  if (!read_code (json_object_get (g, "periodicity"), "global.periodicity",
                  true, gl->periodicity, sizeof gl->periodicity, err))
    return false;
  if (catalog_periodicity (gl->periodicity) == NULL)
    return ferr_set (err, "periodicity_unknown", "global.periodicity",
                     "global.periodicity is not in SAT's c_Periodicidad",
                     "global.periodicity no está en el catálogo "
                     "c_Periodicidad");
  if (!read_code (json_object_get (g, "months"), "global.months", true,
                  gl->months, sizeof gl->months, err))
    return false;
  if (catalog_month (gl->months) == NULL)
    return ferr_set (err, "months_unknown", "global.months",
                     "global.months is not in SAT's c_Meses",
                     "global.months no está en el catálogo c_Meses");
  bool bimester = strcmp (gl->months, "13") >= 0;
  bool p05 = strcmp (gl->periodicity, "05") == 0;
  if (bimester != p05)
    return ferr_set (err, "months_periodicity", "global.months",
                     "months 13-18 (bimesters) go with periodicity 05 and "
                     "only with it",
                     "los meses 13-18 (bimestres) van con la "
                     "periodicidad 05 y solo con ella");
  const json_t *y = json_object_get (g, "year");
  if (json_is_string (y))
    gl->year = atoi (json_string_value (y));
  else if (json_is_integer (y))
    gl->year = (int)json_integer_value (y);
  else
    gl->year = 0;
  int date_year = atoi (inv->date);
  /* XSD: Año >= 2021 in practice (CFDI 4.0); SAT rule 36: the current
   * year or one of the five previous fiscal years */
  if (gl->year < 2021 || gl->year > date_year || gl->year < date_year - 5)
    return ferr_set (err, "year_range", "global.year",
                     "global.year must be the invoice's year or one of the "
                     "five before it",
                     "global.year debe ser el año del comprobante o uno de "
                     "los cinco anteriores");
  return true;
}

static bool
read_payment_doc (const json_t *o, size_t i, size_t j,
                  struct invoice_payment_doc *d, struct ferr *err)
{
  static const char *const keys[]
      = { "uuid",         "series",   "folio_number",
          "currency",     "exchange", "installment",
          "last_balance", "amount",   "tax_object",
          "taxes",        NULL };
  char p[96], f[128];
  snprintf (p, sizeof p, "payments[%zu].related_documents[%zu]", i, j);
  if (!need_object (o, p, err) || !unknown (o, p, keys, err))
    return false;
#define DF(name) (snprintf (f, sizeof f, "%s." name, p), f)
  if (!read_uuid (json_object_get (o, "uuid"), DF ("uuid"), d->uuid, err))
    return false;
  if (!invoice_json_text (json_object_get (o, "series"), DF ("series"), 25,
                          false, &d->series, err))
    return false;
  if (!read_folio (json_object_get (o, "folio_number"), DF ("folio_number"),
                   &d->folio, err))
    return false;
  if (!read_code (json_object_get (o, "currency"), DF ("currency"), false,
                  d->currency, sizeof d->currency, err))
    return false;
  if (!read_amount (json_object_get (o, "exchange"), DF ("exchange"), false,
                    &d->equivalence, &d->has_equivalence, err))
    return false;
  const json_t *in = json_object_get (o, "installment");
  d->installment = 1;
  if (in != NULL)
    {
      if (!json_is_integer (in) || json_integer_value (in) < 1
          || json_integer_value (in) > 999)
        return ferr_set (err, "installment_range", DF ("installment"),
                         "%s must be an integer from 1 to 999",
                         "%s debe ser un entero de 1 a 999", f);
      d->installment = (int)json_integer_value (in);
    }
  if (!read_amount (json_object_get (o, "amount"), DF ("amount"), true,
                    &d->amount, NULL, err))
    return false;
  bool has_prev;
  if (!read_amount (json_object_get (o, "last_balance"), DF ("last_balance"),
                    false, &d->last_balance, &has_prev, err))
    return false;
  if (!has_prev)
    d->last_balance = d->amount; /* paid in full */
  const json_t *to = json_object_get (o, "tax_object");
  if (to != NULL
      && !read_code (to, DF ("tax_object"), true, d->tax_object,
                     sizeof d->tax_object, err))
    return false;
  const json_t *tx = json_object_get (o, "taxes");
  if (tx != NULL
      && !invoice_json_taxes (tx, DF ("taxes"), d->taxes, &d->n_taxes,
                              &d->tax_base_given, err))
    return false;
#undef DF
  return true;
}

/* SAT's pattern for CtaOrdenante / CtaBeneficiario (the per-form patterns
 * of c_FormaPago are checked by the PAC). */
static bool
valid_account (const char *s)
{
  size_t n = strlen (s);
  if (n < 10 || n > 50)
    return false;
  for (; *s; s++)
    if (!isupper ((unsigned char)*s) && !isdigit ((unsigned char)*s)
        && *s != '_')
      return false;
  return true;
}

/* The ordering and beneficiary accounts of a Pago (Pagos 2.0): only for
 * the forms c_FormaPago marks as bancarized. */
static bool
read_bank_fields (const json_t *o, const char *p, struct invoice_payment *pm,
                  struct ferr *err)
{
  char f[128];
  struct
  {
    const char *key;
    char **dst;
    size_t max;
    int kind; /* 0 RFC, 1 account, 2 text */
  } fields[] = {
    { "payer_bank_tax_id", &pm->payer_rfc, 13, 0 },
    { "payer_bank_name", &pm->payer_bank, 300, 2 },
    { "payer_account", &pm->payer_account, 50, 1 },
    { "payee_bank_tax_id", &pm->payee_rfc, 13, 0 },
    { "payee_account", &pm->payee_account, 50, 1 },
  };
  const struct catalog_payment_form *pf = catalog_payment_form (pm->form);
  for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
    {
      const json_t *v = json_object_get (o, fields[k].key);
      if (v == NULL)
        continue;
      snprintf (f, sizeof f, "%s.%s", p, fields[k].key);
      if (pf == NULL || !pf->banked)
        return ferr_set (err, "payment_not_banked", f,
                         "%s is only for bank payment forms",
                         "%s solo aplica a formas de pago bancarizadas", f);
      if (!invoice_json_text (v, f, fields[k].max, true, fields[k].dst, err))
        return false;
      const char *s = *fields[k].dst;
      if (fields[k].kind == 0 && strcmp (s, "XEXX010101000") != 0
          && (strcmp (s, "XAXX010101000") == 0
              || !rfc_check_shape (s, NULL, NULL)))
        return ferr_set (err, "rfc_format", f, "%s must be an RFC",
                         "%s debe ser un RFC", f);
      if (fields[k].kind == 1 && !valid_account (s))
        return ferr_set (err, "account_format", f,
                         "%s must be 10 to 50 upper-case letters, digits "
                         "or _",
                         "%s debe tener de 10 a 50 letras mayúsculas, "
                         "dígitos o _",
                         f);
    }
  return true;
}

static bool
read_payments (const json_t *arr, struct invoice *inv, struct ferr *err)
{
  static const char *const keys[] = { "date",
                                      "payment_form",
                                      "currency",
                                      "exchange",
                                      "amount",
                                      "operation_number",
                                      "payer_bank_tax_id",
                                      "payer_bank_name",
                                      "payer_account",
                                      "payee_bank_tax_id",
                                      "payee_account",
                                      "related_documents",
                                      NULL };
  char p[64], f[128];
  if (!json_is_array (arr) || json_array_size (arr) == 0)
    return ferr_set (err, "required", "payments",
                     "payments must be a non-empty array",
                     "payments debe ser una lista no vacía");
  size_t n = json_array_size (arr);
  if (n > INVOICE_MAX_PAYMENTS)
    return ferr_set (err, "payments_count", "payments", "at most %d payments",
                     "como máximo %d pagos", INVOICE_MAX_PAYMENTS);
  inv->payments = xcalloc (n, sizeof *inv->payments);
  for (size_t i = 0; i < n; i++)
    {
      const json_t *o = json_array_get (arr, i);
      struct invoice_payment *pm = &inv->payments[i];
      inv->n_payments = i + 1;
      snprintf (p, sizeof p, "payments[%zu]", i);
      if (!need_object (o, p, err) || !unknown (o, p, keys, err))
        return false;
#define PF(name) (snprintf (f, sizeof f, "%s." name, p), f)
      if (!read_date (json_object_get (o, "date"), PF ("date"), true, pm->date,
                      err))
        return false;
      if (!read_code (json_object_get (o, "payment_form"), PF ("payment_form"),
                      true, pm->form, sizeof pm->form, err))
        return false;
      if (catalog_payment_form (pm->form) == NULL
          || strcmp (pm->form, "99") == 0)
        return ferr_set (err, "payment_form_unknown", f,
                         "%s must be a c_FormaPago key other than 99",
                         "%s debe ser una clave de c_FormaPago distinta de "
                         "99",
                         f);
      strcpy (pm->currency, "MXN");
      if (!read_code (json_object_get (o, "currency"), PF ("currency"), false,
                      pm->currency, sizeof pm->currency, err))
        return false;
      bool has_ex = false;
      if (!read_amount (json_object_get (o, "exchange"), PF ("exchange"),
                        false, &pm->exchange, &has_ex, err))
        return false;
      pm->has_exchange = has_ex;
      struct ferr e2 = { 0 };
      if (!rules_currency (pm->currency, pm->exchange, has_ex, NULL, &e2)
          || strcmp (pm->currency, "XXX") == 0)
        return ferr_set (
            err, e2.code ? e2.code : "currency_unknown",
            has_ex ? PF ("exchange") : PF ("currency"), "%s: %s", "%s: %s", f,
            strcmp (pm->currency, "XXX") == 0 ? "XXX is not a payment currency"
                                              : e2.message);
      if (!read_amount (json_object_get (o, "amount"), PF ("amount"), true,
                        &pm->amount, NULL, err))
        return false;
      if (!invoice_json_text (json_object_get (o, "operation_number"),
                              PF ("operation_number"), 100, false,
                              &pm->operation, err))
        return false;
      if (!read_bank_fields (o, p, pm, err))
        return false;
      const json_t *docs = json_object_get (o, "related_documents");
      if (!json_is_array (docs) || json_array_size (docs) == 0)
        return ferr_set (err, "required", PF ("related_documents"),
                         "%s must be a non-empty array",
                         "%s debe ser una lista no vacía", f);
      size_t m = json_array_size (docs);
      if (m > INVOICE_MAX_PAYMENT_DOCS)
        return ferr_set (
            err, "payment_docs_count", f, "%s: at most %d documents",
            "%s: como máximo %d documentos", f, INVOICE_MAX_PAYMENT_DOCS);
#undef PF
      pm->docs = xcalloc (m, sizeof *pm->docs);
      for (size_t j = 0; j < m; j++)
        {
          pm->n_docs = j + 1;
          strcpy (pm->docs[j].currency, pm->currency);
          if (!read_payment_doc (json_array_get (docs, j), i, j, &pm->docs[j],
                                 err))
            return false;
        }
    }
  return true;
}

/* SAT's Guía de llenado del CFDI global: one concepto per ticket, with
 * ClaveProdServ 01010101, ClaveUnidad ACT, Descripcion "Venta", Cantidad 1
 * and the ticket number in NoIdentificacion. */
static bool
check_global_items (const struct invoice *inv, struct ferr *err)
{
  char f[96];
  for (size_t i = 0; i < inv->n_items; i++)
    {
      const struct invoice_item *it = &inv->items[i];
      if (it->sku == NULL)
        {
          snprintf (f, sizeof f, "items[%zu].product.sku", i);
          return ferr_set (err, "global_ticket_number", f,
                           "%s: a global invoice's concepto carries the "
                           "ticket number",
                           "%s: el concepto de una factura global lleva el "
                           "número de ticket",
                           f);
        }
      const char *bad
          = strcmp (it->product_key, "01010101") != 0 ? "product_key"
            : strcmp (it->unit_key, "ACT") != 0       ? "unit_key"
            : strcmp (it->description, "Venta") != 0  ? "description"
                                                      : NULL;
      if (bad != NULL)
        {
          snprintf (f, sizeof f, "items[%zu].product.%s", i, bad);
          return ferr_set (err, "global_concepto", f,
                           "%s: a global invoice's concepto is 01010101, "
                           "ACT, \"Venta\"",
                           "%s: el concepto de una factura global es "
                           "01010101, ACT, \"Venta\"",
                           f);
        }
      if (it->quantity != MONEY_SCALE)
        {
          snprintf (f, sizeof f, "items[%zu].quantity", i);
          return ferr_set (err, "global_concepto", f,
                           "%s: a global invoice's concepto has quantity 1",
                           "%s: el concepto de una factura global tiene "
                           "cantidad 1",
                           f);
        }
    }
  return true;
}

bool
cfdi_invoice_from_json (const json_t *root, struct invoice *inv,
                        struct ferr *err)
{
  static const char *const keys[] = { "type",
                                      "series",
                                      "folio_number",
                                      "date",
                                      "issuer",
                                      "customer",
                                      "use",
                                      "payment_form",
                                      "payment_method",
                                      "conditions",
                                      "currency",
                                      "exchange",
                                      "export",
                                      "related_documents",
                                      "global",
                                      "items",
                                      "payments",
                                      NULL };
  if (!json_is_object (root))
    return ferr_set (err, "type", "", "the invoice must be a JSON object",
                     "el comprobante debe ser un objeto JSON");
  if (!unknown (root, "", keys, err))
    return false;

  /* type */
  char type[2] = "I";
  if (!read_code (json_object_get (root, "type"), "type", false, type,
                  sizeof type, err))
    return false;
  if (strcmp (type, "I") && strcmp (type, "E") && strcmp (type, "P"))
    return ferr_set (err, "type_unknown", "type",
                     "type must be I (ingreso), E (egreso) or P (pago)",
                     "type debe ser I (ingreso), E (egreso) o P (pago)");
  inv->type = (enum invoice_type)type[0];
  bool pago = inv->type == INVOICE_PAGO;

  if (!invoice_json_text (json_object_get (root, "series"), "series", 25,
                          false, &inv->series, err)
      || !read_folio (json_object_get (root, "folio_number"), "folio_number",
                      &inv->folio, err)
      || !read_date (json_object_get (root, "date"), "date", false, inv->date,
                     err))
    return false;

  /* issuer */
  if (!read_party (json_object_get (root, "issuer"), "issuer", false,
                   &inv->issuer, err))
    return false;
  if (!rules_issuer (inv->issuer.rfc, inv->issuer.regime, inv->issuer.zip,
                     err))
    {
      if (err && strcmp (err->field, "issuer.zip") == 0)
        strcpy (err->field, "issuer.address.zip");
      return false;
    }

  /* customer (absent for a global invoice: público en general) */
  const json_t *cu = json_object_get (root, "customer");
  const json_t *gl = json_object_get (root, "global");
  if (cu == NULL && gl != NULL)
    {
      inv->receiver.rfc = xstrdup (PUBLIC_RFC);
      inv->receiver.name = xstrdup ("PUBLICO EN GENERAL");
      inv->receiver.regime = xstrdup ("616");
    }
  else if (!read_party (cu, "customer", true, &inv->receiver, err))
    return false;
  bool generic = strcmp (inv->receiver.rfc, PUBLIC_RFC) == 0
                 || strcmp (inv->receiver.rfc, FOREIGN_RFC) == 0;
  if (inv->receiver.zip == NULL)
    {
      if (!generic)
        return ferr_set (err, "required", "customer.address",
                         "customer.address is required",
                         "customer.address es obligatorio");
      inv->receiver.zip = xstrdup (inv->issuer.zip);
    }
  if (generic && strcmp (inv->receiver.zip, inv->issuer.zip) != 0)
    return ferr_set (err, "generic_zip", "customer.address.zip",
                     "for a generic RFC the customer's zip must be the "
                     "issuer's (LugarExpedicion)",
                     "con un RFC genérico el código postal del receptor "
                     "debe ser el del emisor (LugarExpedicion)");
  const json_t *use = json_object_get (root, "use");
  if (use == NULL && (pago || gl != NULL))
    inv->receiver.use = xstrdup (pago ? "CP01" : "S01");
  else if (!invoice_json_text (use, "use", 4, true, &inv->receiver.use, err))
    return false;
  if (pago && strcmp (inv->receiver.use, "CP01") != 0)
    return ferr_set (err, "use_payment", "use",
                     "a payment invoice has use CP01",
                     "un comprobante de pago lleva uso CP01");
  if (!rules_receiver (inv->receiver.rfc, inv->receiver.regime,
                       inv->receiver.use, inv->receiver.zip, err))
    return false;

  /* payment form / method */
  if (!read_code (json_object_get (root, "payment_form"), "payment_form",
                  false, inv->payment_form, sizeof inv->payment_form, err)
      || !read_code (json_object_get (root, "payment_method"),
                     "payment_method", false, inv->payment_method,
                     sizeof inv->payment_method, err))
    return false;
  if (!pago && inv->payment_method[0] == '\0')
    strcpy (inv->payment_method, "PUE");
  if (!pago && inv->payment_form[0] == '\0'
      && strcmp (inv->payment_method, "PPD") == 0)
    strcpy (inv->payment_form, "99");
  if (!rules_payment (type, inv->payment_form, inv->payment_method, err))
    return false;
  const json_t *cond = json_object_get (root, "conditions");
  if (cond != NULL && pago)
    return ferr_set (err, "conditions_payment", "conditions",
                     "a payment invoice carries no conditions",
                     "un comprobante de pago no lleva condiciones de pago");
  if (!invoice_json_text (cond, "conditions", 1000, false, &inv->conditions,
                          err))
    return false;

  /* currency / exchange */
  strcpy (inv->currency, pago ? "XXX" : "MXN");
  if (!read_code (json_object_get (root, "currency"), "currency", false,
                  inv->currency, sizeof inv->currency, err))
    return false;
  if (pago && strcmp (inv->currency, "XXX") != 0)
    return ferr_set (err, "currency_payment", "currency",
                     "a payment invoice has currency XXX",
                     "un comprobante de pago lleva moneda XXX");
  if (!read_amount (json_object_get (root, "exchange"), "exchange", false,
                    &inv->exchange, &inv->has_exchange, err))
    return false;
  if (!rules_currency (inv->currency, inv->exchange, inv->has_exchange,
                       &inv->decimals, err))
    return false;
  if (strcmp (inv->currency, "MXN") == 0)
    inv->has_exchange = false; /* TipoCambio 1 is optional: omitted */

  /* export */
  strcpy (inv->export_code, "01");
  if (!read_code (json_object_get (root, "export"), "export", false,
                  inv->export_code, sizeof inv->export_code, err))
    return false;
  if (catalog_export (inv->export_code) == NULL)
    return ferr_set (err, "export_unknown", "export",
                     "export is not in SAT's c_Exportacion",
                     "export no está en el catálogo c_Exportacion");

  /* related documents */
  const json_t *rel = json_object_get (root, "related_documents");
  if (rel != NULL && !read_related (rel, inv, err))
    return false;

  /* global */
  if (gl != NULL)
    {
      if (inv->type != INVOICE_INGRESO)
        return ferr_set (err, "global_type", "global",
                         "only an ingreso (type I) can be a global invoice",
                         "solo un ingreso (tipo I) puede ser factura "
                         "global");
      if (strcmp (inv->receiver.rfc, PUBLIC_RFC) != 0)
        return ferr_set (err, "global_customer", "customer.tax_id",
                         "a global invoice goes to XAXX010101000 (público "
                         "en general)",
                         "una factura global se emite a XAXX010101000 "
                         "(público en general)");
      if (strcmp (inv->receiver.name, "PUBLICO EN GENERAL") != 0)
        return ferr_set (err, "global_customer_name", "customer.legal_name",
                         "a global invoice's customer is named PUBLICO EN "
                         "GENERAL",
                         "el receptor de una factura global se llama "
                         "PUBLICO EN GENERAL");
      if (!read_global (gl, inv, err))
        return false;
    }
  else if (strcmp (inv->receiver.rfc, PUBLIC_RFC) == 0
           && strcmp (inv->receiver.name, "PUBLICO EN GENERAL") == 0
           && inv->type == INVOICE_INGRESO)
    return ferr_set (err, "global_required", "global",
                     "an invoice to PUBLICO EN GENERAL (XAXX010101000) needs "
                     "global (InformacionGlobal)",
                     "un comprobante a PUBLICO EN GENERAL (XAXX010101000) "
                     "requiere global (InformacionGlobal)");

  /* items / payments */
  const json_t *items = json_object_get (root, "items");
  const json_t *pays = json_object_get (root, "payments");
  if (pago)
    {
      if (items != NULL)
        return ferr_set (err, "payment_items", "items",
                         "a payment invoice carries no items (its concepto "
                         "is fixed by SAT)",
                         "un comprobante de pago no lleva conceptos (el "
                         "SAT fija el concepto)");
      if (!read_payments (pays, inv, err))
        return false;
    }
  else
    {
      if (pays != NULL)
        return ferr_set (err, "payments_not_pago", "payments",
                         "payments go only in a type P invoice",
                         "payments solo va en un comprobante tipo P");
      if (items == NULL)
        return ferr_set (err, "required", "items", "items is required",
                         "items es obligatorio");
      if (!invoice_items_from_json (items, inv, err))
        return false;
      if (inv->global.present && !check_global_items (inv, err))
        return false;
    }
  return invoice_compute (inv, err);
}

bool
cfdi_invoice_from_text (const char *text, size_t len, struct invoice *inv,
                        struct ferr *err)
{
  if (len > CFDI_JSON_MAX_BYTES)
    return ferr_set (
        err, "json_too_large", "", "the invoice JSON is larger than %d bytes",
        "el JSON del comprobante excede %d bytes", CFDI_JSON_MAX_BYTES);
  json_error_t je;
  json_t *root = json_load_exact (text, len, CFDI_JSON_MAX_DEPTH, &je);
  if (root == NULL)
    return ferr_set (err, "json_syntax", "",
                     "invalid JSON at line %d, column %d: %s",
                     "JSON inválido en la línea %d, columna %d: %s", je.line,
                     je.column, je.text);
  bool ok = cfdi_invoice_from_json (root, inv, err);
  json_decref (root);
  return ok;
}
