/*
 * jobs.h — the durable mail outbox and invoice tracking.
 *
 * Issuing code queues an e-mail in its own transaction
 * (mail_enqueue_invoice); background worker threads started by
 * `facturo serve` (jobs_start/jobs_stop) claim due "mail" jobs from the
 * store's jobs table with a lease, build the message from the stored
 * invoice (XML and PDF attached, the PDF rendered and stored once if it
 * was missing), send it over SMTP and record the outcome in the invoice's
 * timeline (invoice_events):
 *
 *   mail_queued    job queued          {"job","to"}
 *   mail_sent      SMTP server said 250 {"job","to","reply","attempt"}
 *   mail_deferred  temporary failure   {"job","reply","attempt","retry_at"}
 *   mail_failed    permanent failure   {"job","to","reply","attempt"}
 *   opened         tracking image      {"job"}             (first per job)
 *   downloaded     signed link used    {"job","file"}      ("pdf"|"xml")
 *
 * Delivery is at most once per job except for one window that SMTP itself
 * leaves open: if the process dies (or loses its database) after the
 * server accepted the DATA and before the "sent" transaction commits, the
 * lease expires and another worker sends again.  The Message-ID is fixed
 * per job (<facturo.JOB@domain>) so that receivers collapse such a
 * duplicate.  See docs/mail.md.
 */
#ifndef FACTURO_JOBS_H
#define FACTURO_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"
#include "util/buf.h"
#include "web/token.h"

struct jobs_config
{
  char smtp_url[1024];     /* default SMTP server (mail.h URL syntax); ""
                              = none: mail jobs wait until one is set */
  char mail_from[256];     /* default sender address */
  char mail_from_name[256]; /* default display name; "" = merchant's name */
  char base_url[512];      /* public URL of facturo, for links; no '/' */
  char templates_dir[1024]; /* "" = $FACTURO_DATA/templates/mail */
  char tenant_templates_dir[1024]; /* "" = none; else DIR/<tenant_id>/<lang>/
                                      overrides the shipped templates */
  uint8_t secret[TOKEN_SECRET_BYTES]; /* server secret: signs the links */
  unsigned workers;        /* sending threads; default 2, 0 = none (tests
                              drive jobs_step themselves) */
  unsigned poll_ms;        /* idle polling interval; default 1000 */
  unsigned lease_seconds;  /* claim lease; default 300, must exceed the
                              SMTP time-out plus PDF rendering */
  unsigned max_attempts;   /* temporary failures before failing for good;
                              default 12 */
  unsigned backoff_base;   /* seconds before the 2nd attempt; default 30 */
  unsigned backoff_max;    /* ceiling of the delay, seconds; default 21600 */
  unsigned link_days;      /* download/tracking links stay valid; 30 */
  bool render_pdf;         /* render a missing PDF (default true) */
  char worker_id[64];      /* "" = "<hostname>:<pid>" */
};

/* Fills c with the defaults above (secret zero, strings ""). */
void jobs_config_defaults (struct jobs_config *c);

/* Applies the environment: FACTURO_SMTP_URL, FACTURO_MAIL_FROM,
 * FACTURO_MAIL_FROM_NAME, FACTURO_BASE_URL, FACTURO_MAIL_TEMPLATES,
 * FACTURO_MAIL_TENANT_TEMPLATES, FACTURO_MAIL_WORKERS,
 * FACTURO_MAIL_LEASE, FACTURO_MAIL_MAX_ATTEMPTS,
 * FACTURO_MAIL_BACKOFF_BASE, FACTURO_MAIL_BACKOFF_MAX,
 * FACTURO_MAIL_POLL_MS.  False with a reason in err for a bad value
 * (the SMTP URL and sender address are checked here). */
bool jobs_config_load_env (struct jobs_config *c, char *err, size_t errsz);

struct jobs;

/* Starts c->workers threads sending mail from store s (borrowed; must
 * outlive jobs_stop).  c is copied.  NULL with a reason in err if the
 * templates cannot be loaded or a setting is invalid. */
struct jobs *jobs_start (struct store *s, const struct jobs_config *c,
                         char *err, size_t errsz);

/* Wakes the workers now (after an enqueue) instead of at the next poll. */
void jobs_wake (struct jobs *j);

/* Wakes the workers of every jobs_start of this process that is not yet
 * stopped: for code that queued mail and committed but does not hold the
 * handle (the HTTP handlers).  Cheap; a no-op when none runs. */
void jobs_wake_all (void);

/* Stops the workers: each finishes the message it is sending (bounded by
 * the SMTP time-out), then exits; jobs not yet claimed stay queued for
 * the next start.  Frees j.  NULL is a no-op. */
void jobs_stop (struct jobs *j);

/* Claims and processes at most one due mail job on the calling thread.
 * 1 if one was processed (whatever its outcome), 0 if none was due, -1
 * on a store error.  For tests and for jobs started with workers = 0. */
int jobs_step (struct jobs *j);

/* ---- queueing ------------------------------------------------------ */

/* Queues the e-mail of an invoice to n_to addresses (to may be NULL with
 * n_to 0: the invoice's customer_email), in lang ("es", "en"; NULL =
 * the merchant's default).  actor ("system", "user:12", …) goes into the
 * mail_queued event.  Runs in the caller's store_tx if there is one (the
 * issuing transaction), else in its own.  Also the way to resend, to the
 * same or other addresses.  STORE_ONE with *job_id set; STORE_NONE if
 * the invoice does not exist, no address is given or known, or an
 * address is invalid (nothing is written); SOFT/HARD from the store. */
enum store_status mail_enqueue_invoice (struct store *s, int64_t tenant_id,
                                        int64_t invoice_id,
                                        const char *const *to, size_t n_to,
                                        const char *lang, const char *actor,
                                        int64_t *job_id);

/* ---- links and tracking -------------------------------------------- */

/* What a mail link carries (signed, not secret). */
struct mail_link
{
  int64_t tenant_id;
  int64_t invoice_id;
  int64_t job_id;
  char file[4]; /* "pdf" or "xml" for downloads, "" for the pixel */
};

/* Appends base_url "/_mail/d/" TOKEN: a download link for file ("pdf"|"xml")
 * valid until `expires` (UTC seconds). */
void mail_link_download (const uint8_t secret[TOKEN_SECRET_BYTES],
                         const char *base_url, int64_t tenant_id,
                         int64_t invoice_id, int64_t job_id,
                         const char *file, time_t expires, struct buf *out);

/* Appends base_url "/_mail/t/" TOKEN ".gif": the tracking image. */
void mail_link_pixel (const uint8_t secret[TOKEN_SECRET_BYTES],
                      const char *base_url, int64_t tenant_id,
                      int64_t invoice_id, int64_t job_id, time_t expires,
                      struct buf *out);

/* Checks the TOKEN part of a /_mail/d/ link (or of a /_mail/t/ link, without its
 * ".gif") at time now.  False if forged, expired or malformed. */
bool mail_link_check_download (const uint8_t secret[TOKEN_SECRET_BYTES],
                               const char *token, time_t now,
                               struct mail_link *out);
bool mail_link_check_pixel (const uint8_t secret[TOKEN_SECRET_BYTES],
                            const char *token, time_t now,
                            struct mail_link *out);

/* Records "opened" for the link's invoice (only the first time per job:
 * image proxies fetch again and again), actor "recipient". */
enum store_status mail_track_opened (struct store *s,
                                     const struct mail_link *l);

/* Records "downloaded" {"job","file"} for the link's invoice. */
enum store_status mail_track_downloaded (struct store *s,
                                         const struct mail_link *l);

/* What GET /_mail/d/{token} answers. */
struct mail_download
{
  int status;               /* 200, 404 (bad/expired link, no such
                               invoice or document), 503 (store error) */
  unsigned char *body;      /* the document when 200; owned */
  size_t len;
  const char *content_type; /* "application/pdf" | "application/xml" */
  char filename[160];       /* "<series><folio>_<UUID>.pdf" for
                               Content-Disposition: attachment */
};

/* The whole of GET /_mail/d/{token}: checks the link, reads the invoice's PDF
 * or XML, records "downloaded" (a failure to record is logged, the
 * document still served).  out is filled (clear it afterwards). */
void mail_download (struct store *s, const uint8_t secret[TOKEN_SECRET_BYTES],
                    const char *token, time_t now,
                    struct mail_download *out);
void mail_download_clear (struct mail_download *d);

/* The whole of GET /_mail/t/{token}.gif except the answer: checks the token
 * (".gif" suffix allowed) and records "opened" if it is good.  Answer
 * 200 image/gif with mail_pixel_gif whatever happened. */
void mail_pixel_hit (struct store *s, const uint8_t secret[TOKEN_SECRET_BYTES],
                     const char *token, time_t now);

/* The 1x1 transparent GIF to answer /_mail/t/ with (43 bytes, image/gif). */
extern const unsigned char mail_pixel_gif[];
extern const size_t mail_pixel_gif_len;

#endif
