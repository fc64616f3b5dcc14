/*
 * http_web.h — what HTML pages need from HTTP that the JSON router does
 * not give: url-encoded form bodies, cookies, HTML and redirect replies
 * with the pages' own security headers (a strict Content-Security-Policy
 * that still lets our own forms, scripts and styles work), static files
 * and the client's address.
 *
 * Replies queued here mark the request as answered exactly like
 * http/reply.c does (rq->replied, rq->status), so the router's checks
 * and the request log see them the same way.
 */
#ifndef FACTURO_WEB_HTTP_WEB_H
#define FACTURO_WEB_HTTP_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

#define WEB_FORM_MAX_FIELDS 64  /* fields kept from one form body */
#define WEB_FORM_MAX_VALUE 4096 /* bytes of one decoded value */

/* A parsed application/x-www-form-urlencoded body: names and values,
 * decoded, in order; a name may repeat (several e-mail fields). */
struct web_form
{
  size_t n;
  char *name[WEB_FORM_MAX_FIELDS];  /* owned */
  char *value[WEB_FORM_MAX_FIELDS]; /* owned, NUL-terminated */
};

/* Parses body[0..len) into f (zeroed first).  Fields beyond
 * WEB_FORM_MAX_FIELDS, or with a value longer than WEB_FORM_MAX_VALUE or
 * holding a NUL, make it fail: false (f is then empty). */
bool web_form_parse (const char *body, size_t len, struct web_form *f);

/* First value of name, or NULL. */
const char *web_form_get (const struct web_form *f, const char *name);

/* The i-th value (0-based) of name, or NULL. */
const char *web_form_get_nth (const struct web_form *f, const char *name,
                              size_t i);

/* Frees what f owns.  NULL is a no-op. */
void web_form_free (struct web_form *f);

/* Request cookie, or NULL. */
const char *web_cookie (struct req *rq, const char *name);

/* The client's address as text ("192.0.2.1", "2001:db8::1"), or "?".
 * When the peer is the address in $FACTURO_TRUSTED_PROXY, the last entry
 * of X-Forwarded-For (if it looks like an address) is taken instead. */
void web_client_addr (struct req *rq, char *out, size_t n);

/* True if the server's public URL is https (cookies get Secure). */
bool web_secure (const struct req *rq);

/* Queues an HTML page: status, body html[0..len) (copied), the pages'
 * security headers, and each of the n Set-Cookie values in cookies (may
 * be NULL).  Returns what MHD_queue_response returned. */
enum MHD_Result web_reply_html (struct req *rq, unsigned status,
                                const char *html, size_t len,
                                const char *const *cookies, size_t n);

/* Queues a 303 See Other to location (same-origin path) with cookies. */
enum MHD_Result web_reply_redirect (struct req *rq, const char *location,
                                    const char *const *cookies, size_t n);

/* Queues bytes with content_type; `download` (may be NULL) names the
 * file for Content-Disposition: attachment; `cache` allows public
 * caching for an hour (static files) instead of no-store. */
enum MHD_Result web_reply_bytes (struct req *rq, unsigned status,
                                 const char *content_type, const void *data,
                                 size_t len, const char *download, bool cache);

/* GET /static/{file}: serves a file of <data dir>/static whose name is
 * [a-z0-9_-]+ "." (css|js|svg|png), 404 otherwise. */
enum MHD_Result web_get_static (struct req *rq);

/* The run-time data folder: $FACTURO_DATA, else FACTURO_DATADIR. */
const char *web_data_dir (void);

#endif
