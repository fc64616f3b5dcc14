/*
 * delivery.h — the HTTP side of invoice delivery (issue 5) and the
 * merchant's mail settings command.  The mail library itself (outbox,
 * links, tracking) is jobs/jobs.h; this is what the router and
 * `facturo tenant` call.  See docs/mail.md.
 */
#ifndef FACTURO_API_DELIVERY_H
#define FACTURO_API_DELIVERY_H

#include "http/http.h"

/* Most addresses one resend may name (POST /v1/invoices/{id}/email). */
#define DELIVERY_MAX_TO 20
/* Most events GET /v1/invoices/{id}/events returns (oldest first). */
#define DELIVERY_MAX_EVENTS 1000

/* GET /_mail/d/{token} (public): the signed download link of a mail.
 * 200 with the document as an attachment; 403 for a forged or malformed
 * link, 410 for an authentic one past its date (one answer for every
 * such link: nothing about the invoice leaks); 404 when the invoice or
 * the document is gone; 503 when the store fails.  Records "downloaded". */
enum MHD_Result api_mail_get_download (struct req *rq);

/* GET /_mail/t/{token} (public; the token ends in ".gif"): the tracking
 * image.  Always 200 image/gif, whatever the token; records "opened" the
 * first time a good token is seen for its mail. */
enum MHD_Result api_mail_get_pixel (struct req *rq);

/* POST /v1/invoices/{id}/email {"to": ["a@b.mx", …]} (to optional: the
 * addresses the invoice was first mailed to, else its customer e-mail):
 * queues the invoice's mail again in the merchant's language, 202
 * {"job","invoice_id","to"}.  Idempotency-Key honoured.  404 for an
 * invoice of another tenant. */
enum MHD_Result api_invoices_post_id_email (struct req *rq);

/* GET /v1/invoices/{id}/events: the invoice's tracking timeline,
 * {"invoice_id", "events": [{"time","kind","actor","detail"}…],
 * "truncated"} in time order.  404 for an invoice of another tenant. */
enum MHD_Result api_invoices_get_id_events (struct req *rq);

/* `facturo tenant mail --tenant SLUG [--from ADDR] …` (argv[0] = "mail"):
 * shows or changes a merchant's mail settings; the SMTP password is
 * stored encrypted under the master key.  Exit 0, 1 (database), 2 (bad
 * input, one line on stderr). */
int delivery_tenant_mail (int argc, char **argv);

#endif
