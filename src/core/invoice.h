/*
 * invoice.h — the invoice model and SAT's arithmetic (pure core/, no I/O).
 *
 * One struct invoice describes a CFDI 4.0 comprobante before it becomes
 * XML: who, when, what (items and their taxes) and, for type P, the
 * payments (Pagos 2.0).  invoice_compute() fills in every derived amount
 * (concepto Importe, tax Base/Importe, SubTotal, Descuento, the Impuestos
 * summary, Total, the Pagos 2.0 tax breakdown and totals) following
 * Anexo 20's Guía de llenado rules, in int64 micros (core/money.h):
 *
 *  - every amount is rounded half away from zero to the currency's
 *    decimals (c_Moneda: MXN and USD 2, XXX 0) — concepto Importe,
 *    Descuento, tax Base and Importe included, which always lies inside
 *    SAT's lower/upper limits ("límites") for those fields;
 *  - tax per concepto = Base × TasaOCuota (Tasa) or Cantidad × cuota
 *    (Cuota), rounded; Exento carries a Base and no Importe;
 *  - the Impuestos summary groups concepto taxes by Impuesto + TipoFactor +
 *    TasaOCuota (transfers) or by Impuesto (withholdings) and sums them;
 *  - tax_included prices are turned into exact net unit prices (see
 *    invoice.c and docs/cfdi-json.md: the line total the shop charged is
 *    kept whenever SAT's rounding allows it).
 *
 * Ownership: every char * in these structs is owned by the struct (heap,
 * NUL-terminated UTF-8, may be NULL when optional) and released by
 * invoice_free()/invoice_item_clear().  Nothing here is thread-shared.
 */
#ifndef FACTURO_INVOICE_H
#define FACTURO_INVOICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ferr.h"
#include "core/money.h"

/* Bounds on what one invoice may carry (inputs are refused beyond). */
#define INVOICE_MAX_ITEMS 5000        /* conceptos read from JSON */
#define INVOICE_MAX_ITEM_TAXES 8      /* taxes per concepto */
#define INVOICE_MAX_TAX_GROUPS 32     /* Impuestos summary rows */
#define INVOICE_MAX_RELATED 16        /* CfdiRelacionados groups */
#define INVOICE_MAX_RELATED_UUIDS 500 /* UUIDs per group */
#define INVOICE_MAX_PAYMENTS 100      /* pago20:Pago */
#define INVOICE_MAX_PAYMENT_DOCS 500  /* DoctoRelacionado per Pago */
#define INVOICE_UUID_LEN 36           /* 8-4-4-4-12 */

/* c_TipoDeComprobante, as its letter. */
enum invoice_type
{
  INVOICE_INGRESO = 'I',
  INVOICE_EGRESO = 'E',
  INVOICE_PAGO = 'P'
};

/* c_Impuesto: the value is SAT's code (001, 002, 003). */
enum invoice_tax_kind
{
  INVOICE_TAX_ISR = 1,
  INVOICE_TAX_IVA = 2,
  INVOICE_TAX_IEPS = 3
};

/* c_TipoFactor. */
enum invoice_factor
{
  INVOICE_FACTOR_TASA,
  INVOICE_FACTOR_CUOTA,
  INVOICE_FACTOR_EXENTO
};

/* One tax of a concepto (or of a DoctoRelacionado, Pagos 2.0). */
struct invoice_tax
{
  enum invoice_tax_kind kind;
  enum invoice_factor factor;
  int64_t rate;     /* TasaOCuota in micros: 160000 = 0.160000 (Tasa);
                       currency micros per unit (Cuota); 0 for Exento */
  bool withholding; /* Retención (true) or Traslado (false) */
  /* computed by invoice_compute (or given, for Pagos 2.0 BaseDR) */
  int64_t base;   /* Base, micros of currency */
  int64_t amount; /* Importe, micros of currency; 0 when Exento */
};

/* One concepto. */
struct invoice_item
{
  int64_t quantity;   /* Cantidad, micros (> 0) */
  int64_t price;      /* unit price as given, micros of currency; gross
                         of transferred taxes when tax_included */
  bool tax_included;  /* price (and discount) carry the transferred taxes */
  int64_t discount;   /* line discount as given, micros (0 = none); gross
                         when tax_included */
  char *product_key;  /* ClaveProdServ, 8 digits */
  char *unit_key;     /* ClaveUnidad, c_ClaveUnidad */
  char *unit_name;    /* Unidad (optional) */
  char *description;  /* Descripcion */
  char *sku;          /* NoIdentificacion (optional) */
  char tax_object[3]; /* ObjetoImp "01".."04"; "" = derived: "02" if
                         taxes[] is not empty, else "01" */
  size_t n_taxes;
  struct invoice_tax taxes[INVOICE_MAX_ITEM_TAXES];
  /* computed by invoice_compute / invoice_item_compute */
  int64_t unit_price;   /* ValorUnitario, micros, net of transferred taxes */
  int64_t amount;       /* Importe = Cantidad × ValorUnitario, rounded */
  int64_t discount_net; /* Descuento written in the XML, rounded */
  bool has_discount;    /* write Descuento (discount given, even if 0) */
};

/* One row of the Impuestos summary (comprobante level, or ImpuestosP). */
struct invoice_tax_total
{
  enum invoice_tax_kind kind;
  enum invoice_factor factor; /* withholdings: not used by SAT's summary */
  int64_t rate;               /* TasaOCuota micros; withholdings: unused */
  bool withholding;
  int64_t base;   /* sum of Base (transfers only) */
  int64_t amount; /* sum of Importe */
};

/* A party.  Receiver-only fields are NULL for the issuer. */
struct invoice_party
{
  char *rfc;    /* Rfc, upper case */
  char *name;   /* Nombre */
  char *regime; /* RegimenFiscal / RegimenFiscalReceptor (c_RegimenFiscal) */
  char *zip;    /* LugarExpedicion (issuer) / DomicilioFiscalReceptor */
  char *use;    /* UsoCFDI (receiver only) */
};

/* cfdi:CfdiRelacionados: one relation type and its UUIDs. */
struct invoice_related
{
  char relation[3]; /* TipoRelacion, c_TipoRelacion "01".."07" */
  size_t n_uuids;
  char (*uuids)[INVOICE_UUID_LEN + 1]; /* owned array */
};

/* cfdi:InformacionGlobal (factura global). */
struct invoice_global
{
  bool present;
  char periodicity[3]; /* c_Periodicidad "01".."05" */
  char months[3];      /* c_Meses "01".."18" */
  int year;            /* Año */
};

/* pago20:DoctoRelacionado. */
struct invoice_payment_doc
{
  char uuid[INVOICE_UUID_LEN + 1]; /* IdDocumento */
  char *series;                    /* Serie (optional) */
  char *folio;                     /* Folio (optional) */
  char currency[4];                /* MonedaDR */
  int64_t equivalence;             /* EquivalenciaDR, micros; 1000000 when
                                      the currencies match */
  bool has_equivalence;
  int installment;      /* NumParcialidad (>= 1) */
  int64_t last_balance; /* ImpSaldoAnt, micros of MonedaDR */
  int64_t amount;       /* ImpPagado, micros of MonedaDR */
  char tax_object[3];   /* ObjetoImpDR; "" = derived */
  size_t n_taxes;
  struct invoice_tax taxes[INVOICE_MAX_ITEM_TAXES]; /* ImpuestosDR; base
                       given (has_base) or derived from ImpPagado */
  bool tax_base_given;
  /* computed */
  int64_t balance; /* ImpSaldoInsoluto = ImpSaldoAnt -
                      ImpPagado (>= 0) */
  int decimals;    /* MonedaDR's decimals */
};

/* pago20:Pago. */
struct invoice_payment
{
  char date[20];    /* FechaPago "YYYY-MM-DDTHH:MM:SS" */
  char form[3];     /* FormaDePagoP (c_FormaPago) */
  char currency[4]; /* MonedaP */
  int64_t exchange; /* TipoCambioP, micros (1000000 for MXN) */
  bool has_exchange;
  int64_t amount;      /* Monto, micros of MonedaP */
  char *operation;     /* NumOperacion (optional) */
  char *payer_rfc;     /* RfcEmisorCtaOrd (optional; bancarized forms) */
  char *payer_bank;    /* NomBancoOrdExt (optional) */
  char *payer_account; /* CtaOrdenante (optional) */
  char *payee_rfc;     /* RfcEmisorCtaBen (optional) */
  char *payee_account; /* CtaBeneficiario (optional) */
  size_t n_docs;
  struct invoice_payment_doc *docs; /* owned array */
  /* computed: ImpuestosP (sums of BaseDR/ImporteDR ÷ EquivalenciaDR) */
  size_t n_tax_totals;
  struct invoice_tax_total tax_totals[INVOICE_MAX_TAX_GROUPS];
  int decimals; /* MonedaP's decimals */
};

/* pago20:Totales (amounts in MXN, 2 decimals); has_* says which to write. */
struct invoice_payment_totals
{
  int64_t withheld_iva, withheld_isr, withheld_ieps;
  bool has_withheld_iva, has_withheld_isr, has_withheld_ieps;
  int64_t base_iva16, tax_iva16, base_iva8, tax_iva8, base_iva0, tax_iva0;
  int64_t base_iva_exempt;
  bool has_iva16, has_iva8, has_iva0, has_iva_exempt;
  int64_t total; /* MontoTotalPagos */
};

struct invoice
{
  enum invoice_type type;
  char *series;  /* Serie (optional) */
  char *folio;   /* Folio (optional) */
  char date[20]; /* Fecha, local "YYYY-MM-DDTHH:MM:SS" */
  struct invoice_party issuer;
  struct invoice_party receiver;
  char payment_form[3];   /* FormaPago (c_FormaPago), "" = absent */
  char payment_method[4]; /* MetodoPago PUE/PPD, "" = absent */
  char *conditions;       /* CondicionesDePago (optional) */
  char currency[4];       /* Moneda; "" is taken as MXN (XXX for P) */
  int64_t exchange;       /* TipoCambio, micros */
  bool has_exchange;
  char export_code[3]; /* Exportacion (c_Exportacion), "" = "01" */
  size_t n_related;
  struct invoice_related *related; /* owned array */
  struct invoice_global global;
  size_t n_items, cap_items;
  struct invoice_item *items; /* owned array */
  size_t n_payments;
  struct invoice_payment *payments; /* owned array (type P) */

  /* ---- computed by invoice_compute ---- */
  int decimals;                /* the currency's decimals (c_Moneda) */
  int64_t subtotal;            /* SubTotal = Σ concepto Importe */
  int64_t discount;            /* Descuento = Σ concepto Descuento */
  bool has_discount;           /* some concepto carries Descuento */
  int64_t total_transferred;   /* TotalImpuestosTrasladados */
  int64_t total_withheld;      /* TotalImpuestosRetenidos */
  bool has_transferred;        /* write the Traslados summary (some transfer,
                                  exempt included) */
  bool has_transferred_amount; /* some non-exempt transfer: write
                                  TotalImpuestosTrasladados */
  bool has_withheld;
  size_t n_tax_totals; /* the Impuestos summary, transfers then
                          withholdings, in first-seen order */
  struct invoice_tax_total tax_totals[INVOICE_MAX_TAX_GROUPS];
  int64_t total; /* Total = SubTotal - Descuento + traslados -
                    retenciones */
  struct invoice_payment_totals pay_totals; /* type P */
};

/* Sets every field to empty (no allocation).  inv may then be filled by
 * hand or by the JSON readers, and must be released with invoice_free. */
void invoice_init (struct invoice *inv);

/* Releases everything inv owns and leaves it as invoice_init left it.
 * invoice_free(NULL) is a no-op. */
void invoice_free (struct invoice *inv);

/* Releases the strings an item owns (the item itself is not freed). */
void invoice_item_clear (struct invoice_item *it);

/* Appends a zeroed item to inv (grows the array) and returns it; the
 * pointer is valid until the next append.  NULL past INVOICE_MAX_ITEMS. */
struct invoice_item *invoice_add_item (struct invoice *inv);

/* Computes every derived amount of inv (see the file comment) and checks
 * the arithmetic ones: quantities > 0, prices and discounts >= 0, a
 * discount not above the concepto Importe, tax rates allowed by
 * c_TasaOCuota, ObjetoImp consistent with the taxes (01/03/04 carry none,
 * 02 needs at least one), Pagos 2.0 balances (ImpPagado <= ImpSaldoAnt,
 * Σ ImpPagado/EquivalenciaDR <= Monto), and refuses any overflow.  Does
 * not check parties, catalogs of codes or dates (cfdi/json_in.c and
 * core/rules.h do).  An empty currency is taken as MXN.  Returns false
 * with err filled (field like "items[2].product.taxes[0].rate") on the
 * first problem; inv's computed fields are then unspecified. */
bool invoice_compute (struct invoice *inv, struct ferr *err);

/* ---- streaming (global invoice: items arrive one at a time) ---- */

/* Computes one item's derived amounts (unit_price, amount, discount_net,
 * each tax's base and amount) for a currency with `decimals` places.
 * index names the item in errors ("items[index]...").  Same checks as
 * invoice_compute applies per item. */
bool invoice_item_compute (struct invoice_item *it, int decimals, size_t index,
                           struct ferr *err);

/* Accumulating totals without keeping the items: invoice_sum_begin
 * resets inv's computed fields (decimals from inv->currency), then
 * invoice_sum_add adds one computed item (invoice_item_compute first) and
 * invoice_sum_end rounds the summary and computes Total.  invoice_compute
 * is exactly begin + (item_compute + sum_add per item) + end. */
bool invoice_sum_begin (struct invoice *inv, struct ferr *err);
bool invoice_sum_add (struct invoice *inv, const struct invoice_item *it,
                      size_t index, struct ferr *err);
bool invoice_sum_end (struct invoice *inv, struct ferr *err);

/* ---- JSON (shared with the POS ticket API) ---- */

/* Reads a JSON array of items into inv (appending to inv->items):
 *   { "quantity": 2, "discount": "10.00",
 *     "product": { "description": "…", "product_key": "01010101",
 *                  "unit_key": "H87", "unit_name": "Pieza",
 *                  "price": "116.00", "tax_included": true,
 *                  "sku": "ABC-1", "taxability": "02",
 *                  "taxes": [ { "type": "IVA", "rate": "0.16",
 *                               "factor": "Tasa", "withholding": false } ] } }
 * quantity defaults to 1, discount to none, tax_included to true (as the
 * popular APIs do), taxes to [IVA 16 % transferred] when absent (an
 * explicit [] means none), factor to "Tasa".  Amounts are JSON strings or
 * integers read exactly (json_money).  "taxability" (ObjetoImp, the
 * popular APIs' name) may also be spelled "tax_object".  Unknown fields,
 * wrong types, more
 * than INVOICE_MAX_ITEMS items or INVOICE_MAX_ITEM_TAXES taxes, texts
 * longer than SAT allows, an unknown unit key, a malformed product key
 * are refused with err naming the field ("items[2].product.price").
 * Does not compute: call invoice_compute afterwards.  On failure inv may
 * hold some of the items (invoice_free releases them). */
bool invoice_items_from_json (const json_t *items, struct invoice *inv,
                              struct ferr *err);

/* Helpers the JSON readers share (cfdi/json_in.c uses them too).
 * invoice_json_text: reads an optional/required JSON string into *out
 * (replacing and freeing what *out held), refusing non-strings, NUL,
 * control characters and '|' (SAT's text patterns exclude it), texts of
 * spaces only and texts longer than max_chars code points; errors name
 * `field`.  A missing/null optional value leaves *out untouched. */
bool invoice_json_text (const json_t *v, const char *field, size_t max_chars,
                        bool required, char **out, struct ferr *err);

/* Reads a JSON array of {type, rate, factor, withholding[, base]} into
 * taxes (cap INVOICE_MAX_ITEM_TAXES), setting *n.  base is accepted only
 * when base_given is not NULL (Pagos 2.0), and then either every tax or
 * none must carry it; *base_given says which. */
bool invoice_json_taxes (const json_t *arr, const char *field,
                         struct invoice_tax *taxes, size_t *n,
                         bool *base_given, struct ferr *err);

/* c_Impuesto code ("001".."003") and name ("ISR", "IVA", "IEPS"). */
const char *invoice_tax_code (enum invoice_tax_kind kind);
const char *invoice_tax_name (enum invoice_tax_kind kind);
/* c_TipoFactor text: "Tasa", "Cuota", "Exento". */
const char *invoice_factor_name (enum invoice_factor f);

#endif
