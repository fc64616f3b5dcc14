/*
 * portal.h — the shopper's self-invoicing portal (web/portal*.c): pages
 * under /{merchant}/ that turn tickets into a CFDI through
 * issue_invoice_for_tickets (api/issue.h).  docs/portal.md describes what
 * the shopper sees, the merchant's branding and the security measures.
 *
 * No state is kept on the server between pages: the tickets found travel
 * in a signed token inside the forms, the shopper's data in the forms
 * themselves (and, if asked, in a signed cookie on the shopper's device).
 */
#ifndef FACTURO_WEB_PORTAL_H
#define FACTURO_WEB_PORTAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"

#define PORTAL_MAX_BODY (16 * 1024) /* bytes of one form post */
#define PORTAL_MAX_TICKETS 20       /* tickets gathered in one invoice */

/* Route handlers (listed in http/router.c). */
enum MHD_Result portal_get_static (struct req *rq);   /* /static/{f} */
enum MHD_Result portal_get_index (struct req *rq);    /* /{m}/ */
enum MHD_Result portal_get_theme (struct req *rq);    /* /{m}/theme.css */
enum MHD_Result portal_get_logo (struct req *rq);     /* /{m}/logo */
enum MHD_Result portal_get_ticket (struct req *rq);   /* /{m}/t/{key} */
enum MHD_Result portal_post_lookup (struct req *rq);  /* /{m}/lookup */
enum MHD_Result portal_post_data (struct req *rq);    /* /{m}/data */
enum MHD_Result portal_post_confirm (struct req *rq); /* /{m}/confirm */
enum MHD_Result portal_post_resend (struct req *rq);  /* /{m}/resend */
enum MHD_Result portal_post_forget (struct req *rq);  /* /{m}/forget */
enum MHD_Result portal_get_download (struct req *rq); /* /{m}/dl/{tok} */

/* ---- portal_i18n.c ---- */

/* The text `key` in lang ("en"; anything else is Spanish); the key
 * itself if unknown.  Static storage. */
const char *portal_text (const char *lang, const char *key);

/* Every text of lang as a JSON object {key: text} (new reference), for
 * templates ({{t.key}}). */
json_t *portal_texts_json (const char *lang);

/* ---- portal_guard.c: look-up throttling ---- */

/* Failures before a look-up needs a proof of work (or a wait). */
#define PORTAL_FREE_FAILS 3
/* Resends of one invoice's e-mail allowed in 30 minutes. */
#define PORTAL_MAX_RESENDS 2
/* Look-ups per minute from one client address, and of one store+folio,
 * whatever their outcome. */
#define PORTAL_LOOKUPS_PER_MIN 30

/* A keyed 64-bit hash of (kind, text) under the server secret: the
 * guard's table never holds addresses or folios in the clear. */
uint64_t portal_guard_key (const uint8_t secret[32], const char *kind,
                           const char *text);

/* Counts one look-up for key at now (UTC seconds).  False when key made
 * PORTAL_LOOKUPS_PER_MIN look-ups in the current minute (*retry_after set
 * to the seconds left). */
bool portal_guard_take (uint64_t key, int64_t now, unsigned *retry_after);

/* Recent failures of key (forgotten 30 minutes after the last one) and
 * the time of the last one (*last, may be NULL). */
int portal_guard_fails (uint64_t key, int64_t now, int64_t *last);

/* Records a failed look-up for key. */
void portal_guard_fail (uint64_t key, int64_t now);

/* Proof-of-work difficulty (leading zero bits) after `fails` failures. */
int portal_guard_bits (int fails);

/* Seconds a client without a proof of work waits after its last failure,
 * once it has `fails` failures (0 below PORTAL_FREE_FAILS). */
int portal_guard_wait (int fails);

#endif
