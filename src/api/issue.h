/*
 * issue.h — turning tickets into a sealed, stamped CFDI: the one issuing
 * service behind the cashier's API (POST /v1/tickets/{id}/invoice), the
 * shopper's portal and the global invoice (jobs/global.c).
 *
 * Three parts:
 *   - the self-invoicing window and global-invoice periods, as pure
 *     functions of UTC seconds and the tenant's UTC offset (no clock, no
 *     I/O), so they can be tested at their edges;
 *   - per-process caches of loaded CSDs (one `struct csd` per tenant,
 *     reloaded when the tenant installs another certificate) and of
 *     stamping providers (one `struct pac` per name);
 *   - issue_invoice_for_tickets(): validate, claim, build, seal, stamp and
 *     store in ONE store transaction (see docs/invoices.md).
 *
 * Invariant 1 (a ticket yields at most one valid invoice) is kept by the
 * database, not by this process: the tickets are claimed with a
 * compare-and-set UPDATE (status open -> invoiced) before anything is
 * sealed, and linked through the partial UNIQUE index of invoice_tickets.
 * A second request, thread or process for the same ticket waits on the
 * first one's row lock (PostgreSQL) or write lock (SQLite), then finds the
 * ticket invoiced and answers with the same invoice.
 */
#ifndef FACTURO_API_ISSUE_H
#define FACTURO_API_ISSUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ferr.h"
#include "store/store.h"
#include "util/tz.h"

struct csd;
struct pac;

/* ------------------------------------------------------------------ */
/* Periods and the self-invoicing window (pure)                        */
/* ------------------------------------------------------------------ */

/* c_Periodicidad, as its number: 01 daily … 05 bimonthly. */
enum issue_periodicity
{
  ISSUE_DAILY = 1,
  ISSUE_WEEKLY = 2,      /* ISO weeks, Monday to Sunday */
  ISSUE_FORTNIGHTLY = 3, /* days 1–15 and 16–end of month (quincenal) */
  ISSUE_MONTHLY = 4,
  ISSUE_BIMONTHLY = 5 /* Jan–Feb, Mar–Apr, … Nov–Dec */
};

/* A global-invoice period in the tenant's local time. */
struct issue_period
{
  int periodicity; /* enum issue_periodicity */
  int64_t start;   /* UTC seconds of local 00:00 of its first day */
  int64_t end;     /* UTC seconds of local 00:00 after its last day
                      (exclusive) */
  char months[3];  /* c_Meses for InformacionGlobal: "01".."12", or
                      "13".."18" for bimonthly periods */
  int year;        /* Año for InformacionGlobal */
  char label[24];  /* canonical text: 2026-11-24, 2026-W48, 2026-11-1,
                      2026-11, 2026-11/12 */
};

/* The tenant's periodicity setting ("01".."05"; "" = monthly) as an enum
 * value; 0 if the text is anything else. */
int issue_periodicity_parse (const char *code);

/* The period of `periodicity` that contains the instant t (UTC seconds),
 * in local time of the zone z (util/tz.h: periods start and end at local
 * midnight, daylight saving included).  False for an unknown periodicity
 * or a date outside years 2000..2999. */
bool issue_period_of (int periodicity, int64_t t, const struct tz *z,
                      struct issue_period *out);

/* Parses a period label for `periodicity` (syntax in docs/
 * global-invoice.md): daily 2026-11-24, weekly 2026-W48 (ISO 8601 week),
 * fortnightly 2026-11-1 or 2026-11-2, monthly 2026-11, bimonthly 2026-11/12
 * (an odd month and the next).  False if the text does not name a period
 * of that periodicity. */
bool issue_period_parse (int periodicity, const char *text, const struct tz *z,
                         struct issue_period *out);

/* The self-invoicing deadline of a ticket bought at `purchase` (UTC
 * seconds): the end of the local calendar day `window_days` days after the
 * purchase day (window_days 0 = the purchase day itself) in the zone z,
 * but never later than the end of the ticket's global-invoice period.  Returns
 * the first UTC second at which the ticket can NOT be invoiced any more
 * (exclusive bound): a ticket may be invoiced iff now < issue_window_end(...).
 * window_days is clamped to 0..366; an unknown periodicity counts as
 * monthly. */
int64_t issue_window_end (int64_t purchase, int window_days, int periodicity,
                          const struct tz *z);

/* ------------------------------------------------------------------ */
/* Caches (process-wide, thread-safe)                                  */
/* ------------------------------------------------------------------ */

/* The tenant's CSD, loaded once and kept until the tenant installs
 * another one (compared by NoCertificado).  Borrowed: valid until
 * issue_caches_free.  NULL with err filled (csd_missing when none is
 * installed, or the csd_load codes, e.g. csd_expired at `now`). */
const struct csd *issue_csd (struct store *s, const struct store_tenant *t,
                             int64_t now, struct ferr *err);

/* Default stamping provider for tenants that set none ("sandbox" unless
 * changed; `facturo serve --stamp NAME` would call this once at start). */
void issue_set_default_stamp (const char *name);

/* The stamping provider `name` ("" = the default), created on first use
 * and kept.  NULL with err filled (pac_unknown, …). */
const struct pac *issue_pac (const char *name, struct ferr *err);

/* Frees every cached CSD (wiping keys) and provider.  For process exit
 * and tests; no issuing may run. */
void issue_caches_free (void);

/* ------------------------------------------------------------------ */
/* Issuing                                                             */
/* ------------------------------------------------------------------ */

#define ISSUE_MAX_TICKETS 100 /* tickets in one invoice */
#define ISSUE_MAX_EMAILS 5    /* addresses the invoice is mailed to */

/* The receiver (Receptor) as the customer typed it.  Borrowed. */
struct issue_receiver
{
  const char *rfc;           /* RFC, upper case */
  const char *name;          /* Nombre: legal name as registered with SAT */
  const char *regime;        /* RegimenFiscalReceptor, c_RegimenFiscal */
  const char *zip;           /* DomicilioFiscalReceptor, 5 digits */
  const char *use;           /* UsoCFDI, c_UsoCFDI */
  const char *const *emails; /* n_emails addresses (may be 0) */
  size_t n_emails;
  bool accept_check_digit; /* the user confirmed an RFC whose check digit
                              fails SAT's algorithm (SAT issued some) */
};

enum issue_result
{
  ISSUE_OK = 0,         /* a new invoice was issued */
  ISSUE_EXISTING,       /* these tickets already are one valid invoice:
                           that invoice (invariant 1) */
  ISSUE_INVALID,        /* receiver or request data wrong: err names the
                           field (customer.tax_id, use, …) */
  ISSUE_NOT_FOUND,      /* a ticket is not the tenant's */
  ISSUE_CANCELLED,      /* a ticket was cancelled */
  ISSUE_EXPIRED,        /* a ticket's window ended (out->deadline) */
  ISSUE_IN_GLOBAL,      /* a ticket went into a global invoice */
  ISSUE_INVOICED,       /* a ticket is in another invoice (not this set) */
  ISSUE_NO_CSD,         /* the merchant has no usable CSD (err says why) */
  ISSUE_STAMP_REJECTED, /* the provider refused the document (err) */
  ISSUE_STAMP_RETRY,    /* the provider is unreachable: try again later */
  ISSUE_STORE_ERROR,    /* the database failed (out->store_status) */
  ISSUE_FAILED          /* our bug (build/seal); logged */
};

struct issue_out
{
  int64_t invoice_id;
  char uuid[37]; /* folio fiscal of the invoice */
  char series[32];
  int64_t folio;
  int64_t ticket_id;              /* the ticket an error is about, or 0 */
  int64_t deadline;               /* ISSUE_EXPIRED: first UTC second the ticket
                                     could no longer be invoiced */
  enum store_status store_status; /* ISSUE_STORE_ERROR: SOFT or HARD */
  struct ferr err; /* ISSUE_INVALID, ISSUE_NO_CSD, ISSUE_STAMP_* */
};

/* Checks the receiver (core/rules.h rules_receiver, the RFC's check digit
 * unless accept_check_digit, the name, every e-mail address).  False with
 * err naming the field as the API spells it: customer.tax_id,
 * customer.legal_name, customer.tax_system, customer.address.zip, use,
 * customer.email. */
bool issue_receiver_check (const struct issue_receiver *r, struct ferr *err);

/* Issues one CFDI (type I, PUE, the tickets' currency, MXN only) for
 * ticket_ids[0..n) of tenant_id, to receiver r, and records `actor`
 * ("user:12", "apikey:7", "portal") in the 'issued' event; queues the
 * e-mail in `lang` ("es"/"en"/NULL) when r has addresses.  now is UTC
 * seconds (0 = the clock).  Everything — ticket claims, folio, invoice row
 * with the stamped XML, links, event, mail job — is written in one
 * store_tx (joining the caller's, if any); sealing and stamping run
 * inside it, after the tickets are claimed, so they run once per issued
 * invoice (a transaction retried after a transient error seals again and
 * discards nothing that was committed).  On ISSUE_STAMP_*, ISSUE_FAILED
 * and ISSUE_STORE_ERROR after the claims, the transaction returns
 * STORE_HARD so an enclosing transaction rolls back too.  Fills *out. */
enum issue_result issue_invoice_for_tickets (
    struct store *s, int64_t tenant_id, const int64_t *ticket_ids, size_t n,
    const struct issue_receiver *r, const char *actor, const char *lang,
    int64_t now, struct issue_out *out);

/* Same, for a caller already inside a store_tx (e.g. api_post_run's):
 * joins it.  issue_invoice_for_tickets must be used otherwise — on SQLite
 * it queues concurrent issuers on a process mutex instead of SQLite's
 * sleeping busy handler. */
enum issue_result issue_invoice_for_tickets_tx (
    struct store *s, int64_t tenant_id, const int64_t *ticket_ids, size_t n,
    const struct issue_receiver *r, const char *actor, const char *lang,
    int64_t now, struct issue_out *out);

/* The process-wide queue of SQLite issuers (no-ops on PostgreSQL): taken
 * around its own transaction by issue_invoice_for_tickets, and by other
 * long writers (the global invoice) so they queue instead of sleeping in
 * SQLite's busy handler.  Never take it inside a store transaction. */
void issue_writer_lock (struct store *s);
void issue_writer_unlock (struct store *s);

/* The model issue_invoice_for_tickets would seal for these tickets and
 * this receiver at `now` (0 = the clock), built by the same code, for a
 * preview: items, taxes and totals exactly as they will be issued; series
 * and folio are not yet taken (NULL).  inv must be invoice_init'ed; the
 * caller invoice_free's it.  Reads only; does not check statuses or
 * windows.  False with err if a ticket is missing or does not compute. */
struct invoice;
bool issue_preview (struct store *s, int64_t tenant_id,
                    const int64_t *ticket_ids, size_t n,
                    const struct issue_receiver *r, int64_t now,
                    struct invoice *inv, struct ferr *err);

/* The stable code of a result ("ticket_expired", …) for logs. */
const char *issue_result_code (enum issue_result r);

/* ------------------------------------------------------------------ */
/* HTTP handlers (invoices.c, qr.c), listed in http/router.c           */
/* ------------------------------------------------------------------ */

#include <microhttpd.h>
struct req;
enum MHD_Result api_tickets_post_id_invoice (struct req *rq);
enum MHD_Result api_invoices_get (struct req *rq);
enum MHD_Result api_invoices_get_id (struct req *rq);
enum MHD_Result api_invoices_get_id_xml (struct req *rq);
enum MHD_Result api_invoices_get_id_pdf (struct req *rq);
enum MHD_Result api_invoices_post_id_cancel (struct req *rq);
enum MHD_Result api_invoices_get_id_cancellation_acuse (struct req *rq);
enum MHD_Result api_tickets_get_id_qr (struct req *rq);

#endif
