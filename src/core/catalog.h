/*
 * catalog.h — SAT's CFDI 4.0 catalogs (catCFDI), compiled in.
 *
 * The tables are generated at build time by tools/gen_catalogs.py from
 * data/sat/catalogs/c_*.csv (copies of SAT's catalogs, phpcfdi export).
 * Lookups return a pointer into static read-only data, or NULL when the
 * code is not in the catalog.  Codes are compared exactly (case matters,
 * as in SAT's XSD enumerations).
 *
 * Not available (see shared sat/README.md §5): c_ClaveProdServ and
 * c_CodigoPostal.  catalog_product_key_format() and catalog_zip_format()
 * therefore only check the shape (8 digits, 5 digits); an unknown key or
 * postal code is not caught here.
 */
#ifndef FACTURO_CATALOG_H
#define FACTURO_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plain entry of a catalog that only has a code and a text. */
struct catalog_entry
{
  const char *code;
  const char *description;
  const char *valid_from;   /* "YYYY-MM-DD" */
  const char *valid_to;     /* "" = still valid */
};

/* c_RegimenFiscal */
struct catalog_regime
{
  const char *code;         /* "601" */
  const char *description;
  bool fisica;              /* applies to personas físicas */
  bool moral;               /* applies to personas morales */
  const char *valid_from;
  const char *valid_to;
};

/* c_UsoCFDI */
struct catalog_use
{
  const char *code;         /* "G03" */
  const char *description;
  bool fisica;
  bool moral;
  const char *valid_from;
  const char *valid_to;
};

/* c_Moneda */
struct catalog_currency
{
  const char *code;         /* "MXN" */
  const char *description;
  int decimals;             /* decimals SAT allows for amounts */
  int64_t variation_pct;    /* porcentaje_variacion, in micros (5 = 5000000) */
  const char *valid_from;
  const char *valid_to;
};

/* c_ClaveUnidad */
struct catalog_unit
{
  const char *code;         /* "H87" */
  const char *name;         /* "Pieza" */
  const char *symbol;       /* may be "" */
};

/* c_FormaPago (the Pagos 2.0 account patterns are not kept) */
struct catalog_payment_form
{
  const char *code;         /* "03" */
  const char *description;
  bool banked;              /* es_bancarizado */
};

/* c_Pais */
struct catalog_country
{
  const char *code;         /* "USA" */
  const char *name;
  const char *tax_id_pattern;  /* patron_identidad_tributaria, may be "" */
};

/* Lookups: NULL if code is NULL or unknown. */
const struct catalog_regime *catalog_regime (const char *code);
const struct catalog_use *catalog_use (const char *code);
const struct catalog_payment_form *catalog_payment_form (const char *code);
const struct catalog_entry *catalog_payment_method (const char *code);
const struct catalog_currency *catalog_currency (const char *code);
const struct catalog_unit *catalog_unit (const char *code);
const struct catalog_entry *catalog_tax (const char *code);          /* c_Impuesto */
const struct catalog_entry *catalog_tax_object (const char *code);   /* c_ObjetoImp */
const struct catalog_entry *catalog_export (const char *code);       /* c_Exportacion */
const struct catalog_entry *catalog_periodicity (const char *code);  /* c_Periodicidad */
const struct catalog_entry *catalog_month (const char *code);        /* c_Meses */
const struct catalog_entry *catalog_relation_type (const char *code);/* c_TipoRelacion */
const struct catalog_entry *catalog_voucher_type (const char *code); /* c_TipoDeComprobante */
const struct catalog_entry *catalog_tax_factor (const char *code);   /* c_TipoFactor */
const struct catalog_country *catalog_country (const char *code);

/* True if c_UsoCFDI lists regime among the receptor regimes allowed for
 * use (c_UsoCFDI_RegimenFiscalReceptor). */
bool catalog_use_allowed_for_regime (const char *use, const char *regime);

/* True if c_TasaOCuota allows rate (micros, e.g. 160000 for 0.160000) for
 * tax ("001" ISR, "002" IVA, "003" IEPS) with factor "Tasa" or "Cuota",
 * as a withholding (retención) or a transfer (traslado).  "Fijo" rows need
 * the exact value, "Rango" rows accept minimo <= rate <= valor. */
bool catalog_tax_rate_allowed (const char *tax, const char *factor,
                               int64_t rate, bool withholding);

/* Iteration for dropdowns: sets *out to the first entry of the whole
 * table (sorted by code) and returns the number of entries. */
size_t catalog_regimes (const struct catalog_regime **out);
size_t catalog_uses (const struct catalog_use **out);
size_t catalog_payment_forms (const struct catalog_payment_form **out);
size_t catalog_currencies (const struct catalog_currency **out);

/* Shape-only checks for the catalogs facturo does not carry:
 * c_ClaveProdServ keys are 8 digits, c_CodigoPostal codes 5 digits. */
bool catalog_product_key_format (const char *code);
bool catalog_zip_format (const char *code);

#endif
