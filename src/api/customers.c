/*
 * customers.c — /v1/customers: the merchant's invoice receivers.
 *
 *   POST /v1/customers          create (201; idempotent with a key)
 *   GET  /v1/customers          list (newest first; limit, cursor)
 *   GET  /v1/customers/{id}     one
 *   PATCH /v1/customers/{id}    merge-patch (null removes an optional field)
 *   DELETE /v1/customers/{id}   204
 *
 * Fields: legal_name, tax_id (RFC), tax_system (c_RegimenFiscal), zip
 * (DomicilioFiscalReceptor), and optional email and use (c_UsoCFDI).
 * Checked with core/rules.h as the CFDI receiver will be, so a stored
 * customer can be invoiced.  Several customers may share one RFC.  The
 * handlers themselves are api/doc_resource.c's, shared with products.
 */
#include "api/api.h"
#include "api/doc_resource.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/rfc.h"
#include "core/rules.h"
#include "store/store.h"
#include "util/json.h"

static bool
text (const json_t *o, const char *k, size_t max, bool required,
      const char **out, struct ferr *fe)
{
  const json_t *v = json_object_get (o, k);
  *out = NULL;
  if (v == NULL)
    return required ? ferr_set (fe, "required", k, "%s is required",
                                "%s es obligatorio", k)
                    : true;
  if (!json_is_string (v))
    return ferr_set (fe, "type", k, "%s must be a string",
                     "%s debe ser una cadena", k);
  size_t n = json_string_length (v);
  const char *s = json_string_value (v);
  if (n == 0 || n > max || strlen (s) != n)
    return ferr_set (fe, "text_length", k, "%s must have 1 to %zu characters",
                     "%s debe tener de 1 a %zu caracteres", k, max, k, max);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return ferr_set (fe, "text_character", k,
                       "%s contains a control character",
                       "%s contiene un carácter de control", k);
  *out = s;
  return true;
}

/* Checks body; on success *doc is the canonical document. */
static bool
customer_check (const json_t *body, json_t **doc, struct ferr *fe)
{
  static const char *const keys[]
      = { "legal_name", "tax_id", "tax_system", "zip", "email", "use", NULL };
  const char *bad = json_unknown_key (body, keys);
  if (bad)
    return ferr_set (fe, "unknown_field", bad, "unknown field %s",
                     "campo desconocido %s", bad);
  const char *name, *rfc, *regime, *zip, *email, *use;
  if (!text (body, "legal_name", 300, true, &name, fe)
      || !text (body, "tax_id", 13, true, &rfc, fe)
      || !text (body, "tax_system", 3, true, &regime, fe)
      || !text (body, "zip", 5, true, &zip, fe)
      || !text (body, "email", 254, false, &email, fe)
      || !text (body, "use", 4, false, &use, fe))
    return false;
  char up[16];
  size_t i;
  for (i = 0; rfc[i] && i < sizeof up - 1; i++)
    up[i] = (char)toupper ((unsigned char)rfc[i]);
  up[i] = '\0';
  enum rfc_kind kind;
  if (!rfc_check_shape (up, &kind, fe))
    {
      snprintf (fe->field, sizeof fe->field, "tax_id");
      return false;
    }
  if (catalog_regime (regime) == NULL)
    return ferr_set (fe, "tax_system", "tax_system",
                     "tax_system must be a c_RegimenFiscal key",
                     "tax_system debe ser una clave de c_RegimenFiscal");
  if (strlen (zip) != 5 || strspn (zip, "0123456789") != 5)
    return ferr_set (fe, "zip", "zip", "zip must be 5 digits",
                     "zip debe tener 5 dígitos");
  if (email && (strchr (email, '@') == NULL || strchr (email, ' ')))
    return ferr_set (fe, "email", "email", "email is not an e-mail address",
                     "email no es una dirección de correo");
  if (use)
    {
      if (!rules_receiver (up, regime, use, zip, fe))
        return false;
    }
  *doc = json_pack ("{s:s, s:s, s:s, s:s}", "legal_name", name, "tax_id", up,
                    "tax_system", regime, "zip", zip);
  if (email)
    json_object_set_new (*doc, "email", json_string (email));
  if (use)
    json_object_set_new (*doc, "use", json_string (use));
  return true;
}

static void
fill_row (void *r, const json_t *doc)
{
  struct store_customer *row = r;
  const char *v;
  v = json_string_value (json_object_get (doc, "tax_id"));
  snprintf (row->rfc, sizeof row->rfc, "%s", v ? v : "");
  v = json_string_value (json_object_get (doc, "legal_name"));
  snprintf (row->name, sizeof row->name, "%s", v ? v : "");
  v = json_string_value (json_object_get (doc, "email"));
  snprintf (row->email, sizeof row->email, "%s", v ? v : "");
  free (row->doc);
  row->doc = json_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS);
}

static const struct api_doc_kind customer_kind = {
  .store = STORE_DOC_CUSTOMER,
  API_DOC_ROW (struct store_customer),
  .check = customer_check,
  .fill = fill_row,
  .insert_none = ERR_CUSTOMER_EXISTS,
  .insert_none_field = "tax_id",
  .update_none = ERR_NOT_FOUND,
  .update_none_field = NULL,
};

enum MHD_Result
api_customers_post (struct req *rq)
{
  return api_doc_post (rq, &customer_kind);
}

enum MHD_Result
api_customers_get_id (struct req *rq)
{
  return api_doc_get_id (rq, &customer_kind);
}

enum MHD_Result
api_customers_patch_id (struct req *rq)
{
  return api_doc_patch_id (rq, &customer_kind);
}

enum MHD_Result
api_customers_delete_id (struct req *rq)
{
  return api_doc_delete_id (rq, &customer_kind);
}

enum MHD_Result
api_customers_get (struct req *rq)
{
  return api_doc_list (rq, &customer_kind);
}
