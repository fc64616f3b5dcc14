/*
 * json_in.h — an invoice described in JSON → struct invoice (core/invoice.h).
 *
 * The JSON shape (docs/cfdi-json.md) uses the field names Mexican
 * integrators know from the popular invoicing APIs: type, series,
 * folio_number, date, issuer, customer, use, payment_form, payment_method,
 * currency, exchange, export, related_documents, global, items and, for
 * type P, payments (Pagos 2.0).  Every field is checked (core/rules.h,
 * core/catalog.h) and the amounts computed (invoice_compute) before the
 * function returns, so a model that comes out of here can be built into
 * XML without further checks.  Errors name the field as sent
 * ("customer.tax_id", "items[2].product.price",
 * "payments[0].related_documents[1].amount").
 */
#ifndef FACTURO_CFDI_JSON_IN_H
#define FACTURO_CFDI_JSON_IN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/ferr.h"
#include "core/invoice.h"

/* Bounds on the JSON text itself. */
#define CFDI_JSON_MAX_BYTES (8 * 1024 * 1024)
#define CFDI_JSON_MAX_DEPTH 12

/* Reads the invoice object `root` into inv (invoice_init'ed by the
 * caller; on failure inv may be partly filled and must still be
 * invoice_free'd).  Unknown fields are refused.  `date` may be absent:
 * the current time in America/Mexico_City (util/tz.h; the process's TZ
 * plays no part) is then used.  Returns
 * false with err filled on the first problem. */
bool cfdi_invoice_from_json (const json_t *root, struct invoice *inv,
                             struct ferr *err);

/* Same from text: parses with json_load_exact (amounts exact, depth
 * CFDI_JSON_MAX_DEPTH, duplicate keys refused, at most
 * CFDI_JSON_MAX_BYTES).  Syntax errors give code "json_syntax" with the
 * line and column in the message. */
bool cfdi_invoice_from_text (const char *text, size_t len, struct invoice *inv,
                             struct ferr *err);

#endif
