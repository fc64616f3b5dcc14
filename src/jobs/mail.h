/*
 * mail.h — e-mail messages: MIME assembly, SMTP submission, templates.
 *
 * Three independent pieces, none of which touches the store:
 *   - mail_build() turns a struct mail_message into RFC 5322 bytes:
 *     multipart/mixed { multipart/alternative { text/plain, text/html },
 *     attachments… }, bodies quoted-printable, attachments base64,
 *     RFC 2047 encoded words for non-ASCII Subject and display names,
 *     RFC 2231 for non-ASCII file names.  Every header value is checked:
 *     CR, LF or any other control character refuses the message, so
 *     header injection cannot happen whatever the merchant or the buyer
 *     typed.
 *   - mail_send() submits bytes over real SMTP with libcurl (smtp:// with
 *     optional or required STARTTLS, smtps://, AUTH, timeouts) and tells
 *     a temporary failure (4xx, no connection, time-out) from a permanent
 *     one (5xx), returning the server's own last reply line.
 *   - mail_tmpl_*: the subject/text/HTML bodies, rendered by web/tmpl.h
 *     from a directory per language (data/templates/mail/es, …/en) that a
 *     merchant may override file by file.
 * Addresses are ASCII only (no SMTPUTF8): mail_address_valid() says which.
 */
#ifndef FACTURO_MAIL_H
#define FACTURO_MAIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define MAIL_MAX_TO 20                    /* recipients of one message */
#define MAIL_MAX_ATTACHMENTS 10           /* attachments of one message */
#define MAIL_MAX_BYTES (25u * 1024 * 1024) /* whole message, encoded */
#define MAIL_ADDR_MAX 254                 /* RFC 5321 path limit */

struct mail_attachment
{
  const char *filename;     /* UTF-8, no control chars, no '/', ≤ 200 bytes */
  const char *content_type; /* "application/pdf"; NULL = octet-stream */
  const void *data;         /* borrowed bytes */
  size_t len;               /* bytes */
};

struct mail_message
{
  const char *from_name;   /* display name, UTF-8, may be NULL */
  const char *from_addr;   /* required; also the envelope sender */
  const char *reply_to;    /* address, may be NULL */
  const char *to[MAIL_MAX_TO]; /* addresses, first n_to used */
  size_t n_to;                 /* 1..MAIL_MAX_TO */
  const char *subject;         /* UTF-8, no CR/LF */
  const char *text;            /* text/plain body, UTF-8; required */
  const char *html;            /* text/html body, UTF-8; NULL = text only */
  const struct mail_attachment *att; /* n_att attachments */
  size_t n_att;
  const char *message_id; /* "<id@domain>"; NULL = random at from's domain */
  time_t date;            /* UTC seconds; 0 = now */
  const char *boundary_seed; /* NULL = random; tests may fix it */
};

/* Returns true if addr is a plain ASCII addr-spec we can send to:
 * dot-atom local part, a domain of at least two labels of letters,
 * digits and '-', 254 bytes at most.  No quoted local parts, no
 * comments, no display names, no IP literals. */
bool mail_address_valid (const char *addr);

/* Builds the whole message (headers + body, CRLF line ends) onto out
 * (appended).  On a refusal returns false, appends nothing and writes a
 * one-line reason into err (errlen bytes): an invalid address, a control
 * character in a header value, too many recipients or attachments, or a
 * message over MAIL_MAX_BYTES.  m and everything it points to are
 * borrowed. */
bool mail_build (const struct mail_message *m, struct buf *out, char *err,
                 size_t errlen);

/* ---- SMTP ------------------------------------------------------------ */

enum mail_tls
{
  MAIL_TLS_NONE = 0,     /* smtp:// in clear (loopback relays, tests) */
  MAIL_TLS_STARTTLS_TRY, /* STARTTLS if offered (CURLUSESSL_TRY) */
  MAIL_TLS_STARTTLS,     /* STARTTLS or fail (CURLUSESSL_ALL) */
  MAIL_TLS_IMPLICIT      /* smtps:// (port 465) */
};

struct mail_smtp
{
  char *host;           /* "smtp.example.com" */
  int port;             /* 0 = 25, 465 for MAIL_TLS_IMPLICIT, 587 for
                           MAIL_TLS_STARTTLS */
  enum mail_tls tls;
  char *user;           /* NULL = no AUTH */
  char *password;       /* secret: wiped by mail_smtp_clear, never logged */
  char *helo;           /* EHLO name; NULL = "localhost" */
  char *ca_file;        /* extra CA bundle; NULL = system store */
  bool insecure;        /* skip certificate checks (tests only) */
  long connect_timeout; /* seconds; 0 = 10 */
  long timeout;         /* seconds for the whole session; 0 = 60 */
};

/* Frees the strings of s (the password wiped first); s itself is not
 * freed and is left zeroed.  NULL is a no-op. */
void mail_smtp_clear (struct mail_smtp *s);

/* Parses "smtp://user:pass@host:port?tls=starttls|try|none" or
 * "smtps://host" into s (cleared first).  Query keys: tls, helo,
 * timeout, connect_timeout, insecure=1, ca_file.  User and password are
 * percent-decoded.  False (s cleared, err filled) on a malformed URL. */
bool mail_smtp_parse_url (const char *url, struct mail_smtp *s, char *err,
                          size_t errlen);

enum mail_status
{
  MAIL_SENT = 0,     /* the server accepted the message (250 after DATA) */
  MAIL_TEMPFAIL = 1, /* try later: 4xx, connection refused, time-out, TLS */
  MAIL_PERMFAIL = 2  /* do not retry: 5xx, or a message we refuse to send */
};

/* Sends len bytes of msg (a complete RFC 5322 message) from envelope
 * sender `from` to the n_rcpt addresses in rcpt.  reply (reset first)
 * receives the server's last reply line — "250 2.0.0 Ok: queued as X" on
 * success, "550 5.1.1 no such user" on refusal — or libcurl's error text
 * prefixed with "curl:" when there was no reply.  Blocking; safe to call
 * from several threads at once (curl_global_init must have been called,
 * see mail_global_init). */
enum mail_status mail_send (const struct mail_smtp *s, const char *from,
                            const char *const *rcpt, size_t n_rcpt,
                            const char *msg, size_t len, struct buf *reply);

/* curl_global_init once for the process; idempotent, thread-safe. */
void mail_global_init (void);

/* ---- templates ------------------------------------------------------- */

/* A set of mail templates.  For each language L and message kind K
 * ("invoice") the files are L/K.subject.txt, L/K.txt and L/K.html.
 * Variables are those of the JSON context the caller passes (see
 * docs/mail.md for the invoice mail's).  In .txt templates {{name}} is
 * not HTML-escaped (it is plain text); in .html it is. */
struct mail_tmpl;

/* Loads the shipped defaults from dir (e.g. FACTURO_DATA/templates/mail)
 * and, if override_dir is not NULL and exists, the files found there,
 * which replace the defaults one by one.  NULL with a line on stderr if
 * dir has no usable template or one does not parse. */
struct mail_tmpl *mail_tmpl_load (const char *dir, const char *override_dir);

/* Adds or replaces one template from memory (a merchant's own text):
 * lang "es"/"en", kind "invoice", part "subject"|"text"|"html".
 * False if it does not parse or is over 256 KiB. */
bool mail_tmpl_set (struct mail_tmpl *t, const char *lang, const char *kind,
                    const char *part, const char *text);

/* Renders the three parts of kind in lang (falling back to "es" when the
 * language has no such template) with ctx (borrowed).  Outputs are
 * reset first; the subject has its line breaks turned into spaces.
 * False if no template exists for kind. */
bool mail_tmpl_render (const struct mail_tmpl *t, const char *lang,
                       const char *kind, const json_t *ctx,
                       struct buf *subject, struct buf *text,
                       struct buf *html);

/* Same, but each part is taken from `over` (a merchant's own templates,
 * may be NULL) when it has it: over/lang, t/lang, over/es, t/es. */
bool mail_tmpl_render_over (const struct mail_tmpl *over,
                            const struct mail_tmpl *t, const char *lang,
                            const char *kind, const json_t *ctx,
                            struct buf *subject, struct buf *text,
                            struct buf *html);

/* An empty set, for mail_tmpl_set (a merchant's templates). */
struct mail_tmpl *mail_tmpl_new (void);

void mail_tmpl_free (struct mail_tmpl *t);

#endif
