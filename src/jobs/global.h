/*
 * global.h — the global invoice to the general public (factura global,
 * público en general, InformacionGlobal): every ticket of a period that
 * nobody invoiced, that was not cancelled and whose self-invoicing window
 * has ended goes into one CFDI, and is marked in_global.
 *
 * Three ways in: the CLI (`facturo global-invoice`), one function per
 * tenant and period (global_invoice_issue), and the periodic job
 * (global_invoice_tick, or the thread global_job_start runs) that issues
 * each tenant's last ended period per its periodicity.
 *
 * Safe with any number of facturo processes on one PostgreSQL: tickets
 * are claimed with the same compare-and-set (open -> in_global) and
 * linked through the same UNIQUE index as the shopper's invoice, so a
 * ticket is never taken twice nor taken after it was invoiced.
 */
#ifndef FACTURO_JOBS_GLOBAL_H
#define FACTURO_JOBS_GLOBAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/issue.h"
#include "core/ferr.h"
#include "store/store.h"

enum global_status
{
  GLOBAL_OK = 0,         /* one global invoice issued */
  GLOBAL_EMPTY,          /* no ticket to include: no document */
  GLOBAL_NO_CSD,         /* the tenant has no usable CSD (err) */
  GLOBAL_STAMP_RETRY,    /* provider unreachable: nothing written */
  GLOBAL_STAMP_REJECTED, /* provider refused (err): nothing written */
  GLOBAL_STORE_ERROR,    /* database failure: nothing written */
  GLOBAL_FAILED          /* build/seal failure (err): nothing written */
};

struct global_result
{
  int64_t invoice_id;
  char uuid[37];
  char series[32];
  int64_t folio;
  size_t n_tickets;  /* tickets taken */
  size_t n_concepts; /* conceptos written (one per ticket and tax rate) */
  size_t n_skipped;  /* open tickets of the period left out: window not
                        ended yet, or not in MXN */
  int64_t total;     /* Total of the CFDI, micros */
};

/* Issues the global invoice of tenant_id for period `per` (its
 * periodicity must be the tenant's) at instant now (UTC seconds; 0 = the
 * clock): claims every open MXN ticket dated inside the period whose
 * window ended by now, builds the CFDI with cfdi_build_global (one
 * concepto per ticket and tax combination, NoIdentificacion = branch and
 * ticket folio, the FormaPago that received the most money), seals it
 * with the tenant's CSD, stamps it with its provider and stores it with
 * the links, the ticket statuses and an 'issued' event — all in one
 * store_tx.  actor goes into the event ("cli", "job").  Fills *out. */
enum global_status global_invoice_issue (struct store *s, int64_t tenant_id,
                                         const struct issue_period *per,
                                         int64_t now, const char *actor,
                                         struct global_result *out,
                                         struct ferr *err);

/* The automatic job: for every tenant with a CSD, issues the global
 * invoice of the last period (per the tenant's periodicity; "" =
 * monthly) that ended before now, and of the one before it (in case the
 * server was down at the turn).  Empty periods write nothing, so calling
 * it often is cheap and safe; from several processes too.  Returns the
 * number of invoices issued, or -1 if the tenants cannot be listed. */
int global_invoice_tick (struct store *s, int64_t now);

/* A thread calling global_invoice_tick every interval_s seconds (0 =
 * 600), the first one min(5, interval_s) seconds after start.  For `facturo
 * serve`: start it once the store is open, stop it before closing the store.
 * NULL if the thread cannot be created.  stop (NULL = no-op) waits for a tick
 * in progress to finish. */
struct global_job;
struct global_job *global_job_start (struct store *s, unsigned interval_s);
void global_job_stop (struct global_job *j);

/* `facturo global-invoice --tenant SLUG --period P [--db URL]` and
 * `facturo global-invoice --auto [--db URL]` (one tick, for cron). */
int cmd_global_invoice (int argc, char **argv);

#endif
