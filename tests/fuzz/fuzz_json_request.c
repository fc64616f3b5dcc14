/*
 * fuzz_json_request.c — libFuzzer harness for what POST /v1/tickets does
 * with a body: bounded exact JSON loading (util/json.c) and the ticket
 * reader, validator and arithmetic (core/ticket.c, core/invoice.c).
 *
 * Besides "no crash, no leak, no UB" it checks one property on every
 * accepted ticket: its canonical items (what the API stores) read back
 * and computed again give exactly the same totals, so a stored ticket
 * can never show other figures than it was acknowledged with.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ticket.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 1024 * 1024) /* the route's max_body */
    return 0;
  json_error_t je;
  json_t *o = json_load_exact ((const char *)data, size, 10, &je);
  if (o == NULL)
    return 0;
  struct ticket t;
  struct ferr fe;
  memset (&fe, 0, sizeof fe);
  ticket_init (&t);
  static const struct tz *mx; /* loaded once; immutable */
  if (mx == NULL)
    mx = tz_get ("America/Mexico_City", &fe);
  if (mx == NULL)
    abort (); /* no zoneinfo */
  if (ticket_from_json (o, mx, &t, &fe))
    {
      json_t *items = ticket_items_json (&t);
      json_t *taxes = ticket_taxes_json (&t);
      char *text = json_dumps (items, JSON_COMPACT);
      json_t *back = json_loads (text, 0, &je);
      struct ticket u;
      struct ferr fe2;
      memset (&fe2, 0, sizeof fe2);
      ticket_init (&u);
      memcpy (u.branch, t.branch, sizeof u.branch);
      memcpy (u.folio_number, t.folio_number, sizeof u.folio_number);
      memcpy (u.payment_form, t.payment_form, sizeof u.payment_form);
      memcpy (u.currency, t.currency, sizeof u.currency);
      u.date = t.date;
      if (back == NULL || !invoice_items_from_json (back, &u.inv, &fe2)
          || !ticket_compute (&u, &fe2) || u.inv.total != t.inv.total
          || u.inv.subtotal != t.inv.subtotal
          || u.inv.discount != t.inv.discount
          || u.inv.total_transferred != t.inv.total_transferred
          || u.inv.total_withheld != t.inv.total_withheld)
        abort (); /* the stored form does not reproduce the ticket */
      char d[TZ_ISO_MAX];
      int64_t again;
      tz_format_iso (mx, t.date, d);
      if (!tz_parse_iso (tz_utc (), d, &again, NULL) || again != t.date)
        abort (); /* dates do not round-trip */
      ticket_free (&u);
      json_decref (back);
      free (text);
      json_decref (items);
      json_decref (taxes);
    }
  else if (fe.code == NULL)
    abort (); /* refused without saying why */
  ticket_free (&t);
  json_decref (o);
  return 0;
}
