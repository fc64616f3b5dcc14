/*
 * rules.h — SAT's CFDI 4.0 business rules that can be checked before
 * sealing (Anexo 20 Guía de llenado, matriz de errores), without a PAC.
 *
 * Each rule returns true if the input passes; otherwise it fills err with
 * a stable code, the JSON field the integrator sent (customer.tax_id,
 * customer.tax_system, customer.address.zip, use, payment_form,
 * payment_method, currency, exchange, issuer.tax_id, issuer.tax_system,
 * issuer.zip) and an English and a Spanish message, and returns false.
 * Only the first problem found is reported.
 */
#ifndef FACTURO_RULES_H
#define FACTURO_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/ferr.h"
#include "core/rfc.h"
#include "core/catalog.h"
#include "core/money.h"

/* Receptor: RFC well formed with a real date (rfc_check_shape: the check
 * digit is not enforced, SAT has issued RFCs that fail it); regime (c_RegimenFiscal) exists and applies to the
 * RFC's kind; use (c_UsoCFDI) exists, applies to the kind and is allowed
 * for the regime; zip has 5 digits.  RFC XAXX010101000 needs regime 616
 * and use S01; XEXX010101000 needs regime 616 and use S01 or CP01. */
bool rules_receiver (const char *rfc, const char *regime, const char *use,
                     const char *zip, struct ferr *err);

/* Emisor: RFC well formed (rfc_check_shape) and not generic; regime exists and applies to the
 * RFC's kind; zip (LugarExpedicion) has 5 digits.  Fields issuer.*. */
bool rules_issuer (const char *rfc, const char *regime, const char *zip,
                   struct ferr *err);

/* FormaPago/MetodoPago for comprobante type ("I", "E", "T", "N", "P").
 * form and method may be NULL or "" when absent.  I/E need both; PPD
 * needs form 99; PUE refuses 99; T and P carry neither. */
bool rules_payment (const char *type, const char *form, const char *method,
                    struct ferr *err);

/* Moneda/TipoCambio: code exists in c_Moneda; MXN has no TipoCambio or
 * exactly 1; XXX has none; any other currency needs one > 0.  Sets
 * *decimals (if not NULL) to the currency's decimals. */
bool rules_currency (const char *code, int64_t exchange_micros,
                     bool has_exchange, int *decimals, struct ferr *err);

/* Fills out (up to cap entries) with the usos CFDI a receptor of this
 * kind and regime may use, in catalog order; returns how many there are
 * in total (may exceed cap).  Generic RFCs follow rules_receiver. */
size_t rules_uses_for (enum rfc_kind kind, const char *regime,
                       const struct catalog_use **out, size_t cap);

#endif
