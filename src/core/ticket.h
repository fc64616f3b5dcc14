/*
 * ticket.h — a point-of-sale ticket (receipt): reading, validating and
 * computing it (pure core/, no I/O, no clock).
 *
 * A ticket is what a shop's POS pushes (POST /v1/tickets, or one group of
 * CSV lines of `facturo import tickets`): branch, folio_number, date,
 * payment_form, currency and items.  Its items use exactly the JSON shape
 * of invoice items (core/invoice.h, invoice_items_from_json) and its
 * amounts come from invoice_compute(), so the subtotal, taxes and total a
 * ticket shows are exactly what the invoice made from it will carry.
 *
 * Ownership: struct ticket owns its invoice (items); release it with
 * ticket_free().  Nothing is shared between threads.
 */
#ifndef FACTURO_TICKET_H
#define FACTURO_TICKET_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/ferr.h"
#include "core/invoice.h"
#include "util/tz.h"

#define TICKET_MAX_ITEMS 1000 /* items per ticket */
#define TICKET_MAX_BRANCH 31  /* bytes of a branch code */
#define TICKET_MAX_FOLIO 63   /* bytes of a folio_number */

struct ticket
{
  char branch[TICKET_MAX_BRANCH + 1];      /* branch (store) code */
  char folio_number[TICKET_MAX_FOLIO + 1]; /* POS folio, unique per branch */
  int64_t date;                            /* UTC seconds of the sale */
  char payment_form[3];                    /* c_FormaPago key, e.g. "01" */
  char currency[4];   /* c_Moneda key; "MXN" when not given */
  struct invoice inv; /* items and, once computed, the amounts:
                         inv.subtotal, inv.discount,
                         inv.total_transferred, inv.total_withheld,
                         inv.tax_totals, inv.total */
};

/* Empties t (no allocation). */
void ticket_init (struct ticket *t);

/* Releases what t owns and re-initialises it.  NULL is a no-op. */
void ticket_free (struct ticket *t);

/* Reads a ticket from a JSON object:
 *   { "branch": "S01", "folio_number": "A-1001",
 *     "date": "2026-11-24T12:30:00" (or with "Z" / "-06:00"),
 *     "payment_form": "01", "currency": "MXN" (optional),
 *     "items": [ …invoice_items_from_json shape… ] }
 * folio_number may be a string or a non-negative integer.  A date
 * without an offset is local time in the zone z (the merchant's, from
 * tz_get; daylight saving applied as tz_parse_iso does).  Unknown fields,
 * missing fields, over-long texts, more than TICKET_MAX_ITEMS items, unknown
 * payment forms or currencies are refused with err naming the field.  Then
 * computes the amounts (ticket_compute).  On failure t must still be
 * released with ticket_free. */
bool ticket_from_json (const json_t *o, const struct tz *z, struct ticket *t,
                       struct ferr *err);

/* Checks the header fields of a ticket filled by hand (the CSV import)
 * and computes its amounts with invoice_compute (currency "" = MXN).
 * False with err naming the field. */
bool ticket_compute (struct ticket *t, struct ferr *err);

/* Parses a ticket date, "YYYY-MM-DDTHH:MM:SS" (or a space for the 'T')
 * with an optional "Z" or "±HH:MM" suffix (at most ±14:00), into UTC
 * seconds: tz_parse_iso in the zone z (no suffix: local time in z), and
 * the year written must be 2000..2999.  Dates are written back with
 * tz_format_iso. */
bool ticket_parse_date (const char *s, const struct tz *z, int64_t *utc);

/* The items in their canonical input shape (amounts as exact strings),
 * ready to store: feeding it back to invoice_items_from_json gives the
 * same items.  New reference. */
json_t *ticket_items_json (const struct ticket *t);

/* The computed taxes (inv.tax_totals) as a JSON array of
 * { type, factor, rate, withholding, base, amount } with amounts written
 * at the currency's decimals.  New reference. */
json_t *ticket_taxes_json (const struct ticket *t);

#endif
