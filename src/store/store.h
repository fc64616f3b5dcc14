/*
 * store.h — facturo's one storage interface, with two backends:
 * SQLite (default, one file in WAL mode) and PostgreSQL (libpq).
 *
 * Every operation that touches a tenant's rows takes `tenant_id` right
 * after the handle (DESIGN invariant 5) and every SQL statement is scoped
 * by it; the few pre-tenant operations (tenant create/find/list, API key
 * lookup, job claim across tenants) say so.  Row structs live here, so the
 * store depends on nothing above core/.
 *
 * Results: `enum store_status`.  STORE_ONE (or a positive row count) means
 * found/done; STORE_NONE means not found, or — for an insert — that a
 * unique key already holds a row (the caller reads that row and decides
 * between an idempotent answer and a 409); STORE_SOFT is a transient
 * conflict (SQLITE_BUSY/LOCKED, SQLSTATE 40001/40P01) worth retrying;
 * STORE_HARD is anything else (logged by the store, never with secrets).
 *
 * Transactions and threads.  A `struct store` is a small pool of database
 * connections (`?pool=N` in the URL, default 8) and may be shared by every
 * thread of a libmicrohttpd thread pool.  Each transaction borrows one
 * connection for its whole length; a connection is used by one thread at a
 * time (SQLite: opened NOMUTEX, one connection per thread as WAL wants).
 * `store_tx (s, fn, arg)` runs fn inside BEGIN (SQLite: BEGIN IMMEDIATE)
 * … COMMIT, and retries the whole of fn up to 3 times on STORE_SOFT; any
 * store_* call made by fn on the same thread joins that transaction.  A
 * store_* call made outside store_tx runs in its own short transaction with
 * the same retries, so every single call is atomic.  fn must therefore be
 * safe to run again (no side effects outside the database).
 *
 * Naming: store_<noun>_<verb>.  Out-structs with pointers are released by
 * store_<noun>_clear(); arrays from *_list by store_<noun>_list_free()
 * (plain free() where the row has no pointers).  A lookup overwrites *out
 * without freeing what it held: clear it between lookups.
 * `const char *` arguments are borrowed for the call.  Times are UTC
 * seconds since the epoch; money is int64 micros (core/money.h).
 */
#ifndef FACTURO_STORE_H
#define FACTURO_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ferr.h"

enum store_status
{
  STORE_HARD = -2, /* hard error: bug, disk, connection lost */
  STORE_SOFT = -1, /* transient conflict: retry the transaction */
  STORE_NONE = 0,  /* no row / unique key already taken */
  STORE_ONE = 1    /* one row; larger values count rows */
};

enum store_dialect
{
  STORE_SQLITE,
  STORE_PG
};

struct store;

/* ------------------------------------------------------------------ */
/* Opening, transactions, migrations                                   */
/* ------------------------------------------------------------------ */

/* Opens a store.  url: "sqlite:PATH" (NULL or "" = "sqlite:facturo.db"),
 * a bare path, or "postgres://…" / "postgresql://…" (libpq URI).  SQLite
 * connections use WAL, synchronous=FULL, foreign_keys=ON and a busy
 * timeout (5000 ms, `?busy_ms=N` to change).  Query options, stripped
 * before the URL reaches the backend: pool=N (1..64 connections),
 * busy_ms=N (SQLite).  Connections open lazily; the first is opened here so
 * a bad URL fails now.  NULL on failure with err filled (code
 * "store_open"). */
struct store *store_open (const char *url, struct ferr *err);

/* Closes every connection.  NULL is a no-op.  No transaction may run. */
void store_close (struct store *s);

enum store_dialect store_dialect (const struct store *s);

/* Runs fn (s, arg) in one transaction.  fn returns STORE_ONE/NONE (or a
 * count) to commit, STORE_SOFT to roll back and retry (up to 3 retries),
 * STORE_HARD to roll back and stop.  A failed COMMIT that is soft is
 * retried too.  Returns fn's last result, or the commit's error.  Nested
 * calls on the same thread join the outer transaction (fn runs once, the
 * outer store_tx decides).  Thread-safe. */
typedef enum store_status (*store_tx_fn) (struct store *s, void *arg);
enum store_status store_tx (struct store *s, store_tx_fn fn, void *arg);

/* Same, BEGIN DEFERRED on SQLite (no write lock taken up front): for
 * transactions that only read. */
enum store_status store_tx_read (struct store *s, store_tx_fn fn, void *arg);

/* Applies every embedded migration (src/store/sql/NNNN-*.sql) not yet in
 * schema_version, each in its own transaction.  Idempotent.  Sets
 * *applied (if not NULL) to how many ran.  Other operations expect a
 * migrated database. */
enum store_status store_migrate (struct store *s, int *applied);

/* Highest applied migration version (0 if none), or -1 on error. */
int store_schema_version (struct store *s);

/* Testing hook (fault injection, STYLE §16): the nth statement executed
 * from now on (1 = the next one) by this store fails with `status`
 * (STORE_SOFT or STORE_HARD), once.  nth 0 cancels. */
void store_fault_inject (struct store *s, int nth, enum store_status status);

/* Number of transaction attempts retried after a soft error since open
 * (for tests and metrics). */
uint64_t store_retries (const struct store *s);

/* Process-unique, roughly time-ordered id from the database (PostgreSQL
 * sequence, SQLite counter row).  Used by inserts; exposed for callers
 * that need an id before inserting. */
enum store_status store_next_id (struct store *s, int64_t *id);

/* ------------------------------------------------------------------ */
/* Tenants (merchants)                                                 */
/* ------------------------------------------------------------------ */

#define STORE_DEFAULT_TIMEZONE "America/Mexico_City"
#define STORE_DEFAULT_WINDOW_DAYS 7

struct store_tenant
{
  int64_t id;
  char slug[64];       /* [a-z0-9-], unique, used in URLs */
  char rfc[16];        /* issuer RFC (upper case) */
  char name[512];      /* legal name (razón social), UTF-8 */
  char regime[4];      /* c_RegimenFiscal key, e.g. "601" */
  char zip[6];         /* LugarExpedicion: 5 digits */
  char timezone[64];   /* IANA name, default America/Mexico_City */
  int window_days;     /* days a ticket may be self-invoiced; default 7 */
  char periodicity[3]; /* c_Periodicidad of the global invoice, "" or 01..05 */
  char series[32];     /* default invoice series code, may be "" */
  char stamp[32];      /* stamping provider: "" (none) or "sandbox", … */
  char *branding;      /* JSON text or NULL; owned */
  bool has_csd;        /* a CSD is installed */
  char csd_serial[41]; /* NoCertificado of the installed CSD, or "" */
  int64_t csd_not_after; /* UTC seconds the CSD expires, 0 if none */
  int64_t created_at;    /* UTC seconds */
};

void store_tenant_clear (struct store_tenant *t);
/* Fills t with defaults (timezone, window days); everything else zero. */
void store_tenant_init (struct store_tenant *t);

/* Pre-tenant.  Inserts t (slug, rfc, name, regime, zip and the settings
 * fields); sets t->id and t->created_at.  STORE_NONE if the slug is
 * taken. */
enum store_status store_tenant_insert (struct store *s,
                                       struct store_tenant *t);
enum store_status store_tenant_get (struct store *s, int64_t tenant_id,
                                    struct store_tenant *out);
/* Pre-tenant: by slug. */
enum store_status store_tenant_find_slug (struct store *s, const char *slug,
                                          struct store_tenant *out);
/* Writes name, regime, zip, timezone, window_days, periodicity, series,
 * stamp and branding from t (rfc and slug never change). */
enum store_status store_tenant_update (struct store *s, int64_t tenant_id,
                                       const struct store_tenant *t);
/* Pre-tenant: every tenant ordered by id; *out is an array of *n (free
 * with store_tenant_list_free). */
enum store_status store_tenant_list (struct store *s,
                                     struct store_tenant **out, size_t *n);
void store_tenant_list_free (struct store_tenant *a, size_t n);

/* CSD material in the clear.  Everything owned by the struct; clear wipes
 * key and password before freeing. */
struct store_csd
{
  unsigned char *cer; /* X.509 certificate, DER */
  size_t cer_len;
  unsigned char *key; /* PKCS#8 encrypted private key, DER (as SAT ships it) */
  size_t key_len;
  char *password;    /* the .key's password */
  char serial[41];   /* NoCertificado (20 digits) */
  int64_t not_after; /* UTC seconds */
};
void store_csd_clear (struct store_csd *c);

/* Stores the tenant's CSD: the certificate in the clear, the key and its
 * password encrypted with libsodium crypto_secretbox under the master key
 * (FACTURO_SECRET_KEY = 64 hex digits, else the key file — see
 * store_master_key_path — created 0600 on first use).  The caller has
 * already checked the pair (cfdi/csd.h). */
enum store_status store_tenant_csd_set (struct store *s, int64_t tenant_id,
                                        const struct store_csd *csd);
/* Returns the decrypted CSD for issuing.  STORE_NONE if none installed;
 * STORE_HARD if the master key is missing or wrong.  store_csd_clear(out)
 * afterwards. */
enum store_status store_tenant_csd_get (struct store *s, int64_t tenant_id,
                                        struct store_csd *out);
/* The merchant's own SMTP password (mail settings, docs/mail.md),
 * encrypted like the CSD key: crypto_secretbox under the master key,
 * column tenants.mail_smtp_pw_box.  password NULL or "" removes it.
 * STORE_NONE if there is no such tenant; STORE_HARD if the master key
 * cannot be had. */
enum store_status store_tenant_smtp_password_set (struct store *s,
                                                  int64_t tenant_id,
                                                  const char *password);
/* Decrypts it into *out (malloc'd, NUL-terminated: wipe it with
 * sodium_memzero before free, or hand it to mail_smtp's password, which
 * mail_smtp_clear wipes).  STORE_NONE (*out NULL) if none is set;
 * STORE_HARD if the master key is missing or wrong. */
enum store_status store_tenant_smtp_password_get (struct store *s,
                                                  int64_t tenant_id,
                                                  char **out);
/* Where the master key file lives for this store (FACTURO_SECRET_KEY_FILE,
 * else "<sqlite path>.secret", else "./facturo.secret" for PostgreSQL). */
const char *store_master_key_path (const struct store *s);
/* Uses path as the master key file from now on (e.g. `serve
 * --secret-file`).  Call before the first CSD operation; path is copied
 * (at most 4095 bytes).  FACTURO_SECRET_KEY still takes precedence. */
void store_set_master_key_path (struct store *s, const char *path);

/* ------------------------------------------------------------------ */
/* Branches (stores of the merchant)                                   */
/* ------------------------------------------------------------------ */

struct store_branch
{
  int64_t id;
  int64_t tenant_id;
  char code[32]; /* merchant's own code, unique per tenant ("branch" in the
                    API) */
  char name[256];
  char zip[6]; /* 5 digits or "" (then the tenant's zip applies) */
  int64_t created_at;
};

/* Sets b->id.  STORE_NONE if the code exists. */
enum store_status store_branch_insert (struct store *s, int64_t tenant_id,
                                       struct store_branch *b);
enum store_status store_branch_get (struct store *s, int64_t tenant_id,
                                    int64_t id, struct store_branch *out);
enum store_status store_branch_find_code (struct store *s, int64_t tenant_id,
                                          const char *code,
                                          struct store_branch *out);
/* Updates name and zip. */
enum store_status store_branch_update (struct store *s, int64_t tenant_id,
                                       const struct store_branch *b);
/* STORE_NONE if absent or if tickets refer to the branch (kept then). */
enum store_status store_branch_delete (struct store *s, int64_t tenant_id,
                                       int64_t id);
/* All branches of the tenant ordered by code; free() *out. */
enum store_status store_branch_list (struct store *s, int64_t tenant_id,
                                     struct store_branch **out, size_t *n);

/* ------------------------------------------------------------------ */
/* Invoice series: gapless folios                                      */
/* ------------------------------------------------------------------ */

struct store_series
{
  int64_t tenant_id;
  char code[32];      /* Serie, e.g. "A" */
  int64_t next_folio; /* folio the next invoice gets */
};

/* Creates the series (starting at folio 1) if absent.  STORE_ONE created,
 * STORE_NONE existed already. */
enum store_status store_series_ensure (struct store *s, int64_t tenant_id,
                                       const char *code);
/* Takes the next folio of the series.  Call it inside the store_tx that
 * inserts the invoice: the row stays locked until commit, and a rollback
 * gives the folio back, so folios are gapless (DESIGN invariant 3).
 * STORE_NONE if the series does not exist. */
enum store_status store_series_next (struct store *s, int64_t tenant_id,
                                     const char *code, int64_t *folio);
/* free() *out. */
enum store_status store_series_list (struct store *s, int64_t tenant_id,
                                     struct store_series **out, size_t *n);

/* ------------------------------------------------------------------ */
/* Staff users                                                         */
/* ------------------------------------------------------------------ */

enum store_role
{
  STORE_ROLE_OWNER,
  STORE_ROLE_ADMIN,
  STORE_ROLE_STAFF,
  STORE_ROLE_VIEWER,
  STORE_ROLE_COUNT
};
/* "owner", "admin", "staff", "viewer"; parse returns -1 if unknown. */
const char *store_role_name (enum store_role r);
int store_role_parse (const char *name);

#define STORE_PWHASH_LEN 128 /* crypto_pwhash_STRBYTES */

struct store_user
{
  int64_t id;
  int64_t tenant_id;
  char email[256]; /* lower case, unique per tenant */
  enum store_role role;
  char pwhash[STORE_PWHASH_LEN]; /* argon2id string (crypto_pwhash_str) */
  bool disabled;
  int64_t created_at;
};

/* Argon2id (libsodium crypto_pwhash_str, interactive limits).  Slow on
 * purpose: call it outside transactions.  False on failure. */
bool store_password_hash (const char *password, char out[STORE_PWHASH_LEN]);
/* Constant-time check of password against a stored hash. */
bool store_password_verify (const char *pwhash, const char *password);

/* Sets u->id.  STORE_NONE if the email exists for this tenant. */
enum store_status store_user_insert (struct store *s, int64_t tenant_id,
                                     struct store_user *u);
enum store_status store_user_get (struct store *s, int64_t tenant_id,
                                  int64_t id, struct store_user *out);
enum store_status store_user_find_email (struct store *s, int64_t tenant_id,
                                         const char *email,
                                         struct store_user *out);
/* Updates role, pwhash and disabled. */
enum store_status store_user_update (struct store *s, int64_t tenant_id,
                                     const struct store_user *u);
enum store_status store_user_delete (struct store *s, int64_t tenant_id,
                                     int64_t id);
/* Ordered by email; free() *out. */
enum store_status store_user_list (struct store *s, int64_t tenant_id,
                                   struct store_user **out, size_t *n);

/* ------------------------------------------------------------------ */
/* API keys                                                            */
/* ------------------------------------------------------------------ */

/* A key is "fk_" + 16 hex digits of public prefix + "_" + 64 hex digits of
 * secret (256 random bits): 84 characters.  Only the prefix and the
 * SHA-256 of the whole key are stored. */
#define STORE_APIKEY_LEN 84
#define STORE_APIKEY_PREFIX_LEN 16

struct store_apikey
{
  int64_t id;
  int64_t tenant_id;
  char prefix[STORE_APIKEY_PREFIX_LEN + 1]; /* public part, shown in lists */
  char name[128];                           /* label, may be "" */
  bool revoked;
  int64_t created_at;
  int64_t revoked_at; /* 0 if active */
};

/* Creates a key; writes it to key_out (NUL-terminated, shown once, the
 * caller wipes it) and fills out (may be NULL). */
enum store_status store_apikey_create (struct store *s, int64_t tenant_id,
                                       const char *name,
                                       char key_out[STORE_APIKEY_LEN + 1],
                                       struct store_apikey *out);
/* Pre-tenant: finds the tenant of an active key.  The hash is compared in
 * constant time.  STORE_NONE for unknown, malformed or revoked keys.
 * key_id may be NULL. */
enum store_status store_apikey_lookup (struct store *s, const char *key,
                                       int64_t *tenant_id, int64_t *key_id);
/* STORE_ONE revoked, STORE_NONE no such active key of this tenant. */
enum store_status store_apikey_revoke (struct store *s, int64_t tenant_id,
                                       const char *prefix);
/* Ordered by creation; free() *out. */
enum store_status store_apikey_list (struct store *s, int64_t tenant_id,
                                     struct store_apikey **out, size_t *n);

/* ------------------------------------------------------------------ */
/* Tickets (receipts pushed by the point of sale)                      */
/* ------------------------------------------------------------------ */

enum store_ticket_status
{
  STORE_TICKET_OPEN,      /* may be self-invoiced */
  STORE_TICKET_INVOICED,  /* in a valid invoice */
  STORE_TICKET_CANCELLED, /* cancelled by the merchant */
  STORE_TICKET_IN_GLOBAL, /* included in a global invoice */
  STORE_TICKET_STATUS_COUNT
};
/* "open", "invoiced", "cancelled", "in_global"; parse: -1 if unknown. */
const char *store_ticket_status_name (enum store_ticket_status st);
int store_ticket_status_parse (const char *name);

#define STORE_TICKET_KEY_LEN                                                  \
  20 /* self-invoice key: 20 base32 chars, 100 bits */

struct store_ticket
{
  int64_t id;
  int64_t tenant_id;
  int64_t branch_id;
  char branch_code[32];  /* filled by reads (joined), ignored on insert */
  char folio_number[64]; /* POS folio, unique per (tenant, branch) */
  int64_t date;          /* UTC seconds of the sale */
  char payment_form[3];  /* c_FormaPago key */
  char currency[4];      /* c_Moneda key, e.g. "MXN" */
  char *items;           /* items as JSON text; owned */
  int64_t subtotal;      /* micros, before discounts and taxes */
  int64_t discount;      /* micros */
  int64_t taxes;         /* micros, transferred taxes */
  int64_t withheld;      /* micros, withheld taxes */
  int64_t total;         /* micros: subtotal - discount + taxes - withheld */
  enum store_ticket_status status;
  char key[STORE_TICKET_KEY_LEN + 1]; /* unguessable self-invoice key */
  int64_t created_at;
};

void store_ticket_clear (struct store_ticket *t);

/* Inserts t; sets id, key (random, unless t->key is already set),
 * status OPEN and created_at.  STORE_NONE if (branch, folio_number)
 * exists (or, with a caller-given key, the key). */
enum store_status store_ticket_insert (struct store *s, int64_t tenant_id,
                                       struct store_ticket *t);
enum store_status store_ticket_get (struct store *s, int64_t tenant_id,
                                    int64_t id, struct store_ticket *out);
enum store_status store_ticket_find_key (struct store *s, int64_t tenant_id,
                                         const char *key,
                                         struct store_ticket *out);
enum store_status store_ticket_find_folio (struct store *s, int64_t tenant_id,
                                           int64_t branch_id,
                                           const char *folio_number,
                                           struct store_ticket *out);
/* Moves the ticket from status `from` to `to`.  STORE_ONE done,
 * STORE_NONE if it is not in `from` (or does not exist). */
enum store_status store_ticket_set_status (struct store *s, int64_t tenant_id,
                                           int64_t id,
                                           enum store_ticket_status from,
                                           enum store_ticket_status to);

struct store_ticket_filter
{
  int64_t date_from; /* UTC seconds, inclusive; 0 = no bound */
  int64_t date_to;   /* UTC seconds, exclusive; 0 = no bound */
  int64_t branch_id; /* 0 = any */
  int status;        /* enum store_ticket_status, or -1 = any */
  int64_t cursor;    /* 0 = first page; else next_cursor of the last page */
  int limit;         /* 1..500; 0 = 50 */
};
/* Newest first (by id).  *next_cursor is 0 when there is no more.
 * Free *out with store_ticket_list_free. */
enum store_status store_ticket_list (struct store *s, int64_t tenant_id,
                                     const struct store_ticket_filter *f,
                                     struct store_ticket **out, size_t *n,
                                     int64_t *next_cursor);
void store_ticket_list_free (struct store_ticket *a, size_t n);

/* ------------------------------------------------------------------ */
/* Products and customers: a JSON document plus indexed columns        */
/* ------------------------------------------------------------------ */

struct store_product
{
  int64_t id;
  int64_t tenant_id;
  char sku[64];   /* merchant's code, unique per tenant when not "" */
  char name[256]; /* description, for search and lists */
  char *doc;      /* the whole product as JSON text; owned */
  int64_t created_at;
  int64_t updated_at;
};
void store_product_clear (struct store_product *p);
/* Sets p->id.  STORE_NONE if the sku exists. */
enum store_status store_product_insert (struct store *s, int64_t tenant_id,
                                        struct store_product *p);
enum store_status store_product_get (struct store *s, int64_t tenant_id,
                                     int64_t id, struct store_product *out);
enum store_status store_product_find_sku (struct store *s, int64_t tenant_id,
                                          const char *sku,
                                          struct store_product *out);
/* Updates sku, name, doc.  STORE_NONE if absent (or the sku is taken). */
enum store_status store_product_update (struct store *s, int64_t tenant_id,
                                        const struct store_product *p);
enum store_status store_product_delete (struct store *s, int64_t tenant_id,
                                        int64_t id);
/* Newest first, keyset by id (cursor as for tickets, limit 1..500). */
enum store_status store_product_list (struct store *s, int64_t tenant_id,
                                      int64_t cursor, int limit,
                                      struct store_product **out, size_t *n,
                                      int64_t *next_cursor);
void store_product_list_free (struct store_product *a, size_t n);

struct store_customer
{
  int64_t id;
  int64_t tenant_id;
  char rfc[16];   /* receiver RFC; several customers may share one */
  char name[512]; /* legal name */
  char email[256];
  char *doc; /* the whole customer as JSON text; owned */
  int64_t created_at;
  int64_t updated_at;
};
void store_customer_clear (struct store_customer *c);
enum store_status store_customer_insert (struct store *s, int64_t tenant_id,
                                         struct store_customer *c);
enum store_status store_customer_get (struct store *s, int64_t tenant_id,
                                      int64_t id, struct store_customer *out);
/* The newest customer with this RFC. */
enum store_status store_customer_find_rfc (struct store *s, int64_t tenant_id,
                                           const char *rfc,
                                           struct store_customer *out);
enum store_status store_customer_update (struct store *s, int64_t tenant_id,
                                         const struct store_customer *c);
enum store_status store_customer_delete (struct store *s, int64_t tenant_id,
                                         int64_t id);
enum store_status store_customer_list (struct store *s, int64_t tenant_id,
                                       int64_t cursor, int limit,
                                       struct store_customer **out, size_t *n,
                                       int64_t *next_cursor);
void store_customer_list_free (struct store_customer *a, size_t n);

/* The one implementation behind both: row points to a struct
 * store_product (STORE_DOC_PRODUCT) or struct store_customer
 * (STORE_DOC_CUSTOMER), arrays are of that struct, and each call means
 * what the typed function of the same name above means.  For code that
 * serves both kinds (api/doc_resource.c). */
enum store_doc_kind
{
  STORE_DOC_PRODUCT,
  STORE_DOC_CUSTOMER
};
/* sizeof the kind's row struct. */
size_t store_doc_size (enum store_doc_kind k);
void store_doc_clear (enum store_doc_kind k, void *row);
void store_doc_list_free (enum store_doc_kind k, void *a, size_t n);
enum store_status store_doc_insert (struct store *s, enum store_doc_kind k,
                                    int64_t tenant_id, void *row);
enum store_status store_doc_get (struct store *s, enum store_doc_kind k,
                                 int64_t tenant_id, int64_t id, void *out);
enum store_status store_doc_update (struct store *s, enum store_doc_kind k,
                                    int64_t tenant_id, const void *row);
enum store_status store_doc_delete (struct store *s, enum store_doc_kind k,
                                    int64_t tenant_id, int64_t id);
enum store_status store_doc_list (struct store *s, enum store_doc_kind k,
                                  int64_t tenant_id, int64_t cursor, int limit,
                                  void **out, size_t *n, int64_t *next_cursor);

/* ------------------------------------------------------------------ */
/* Idempotency keys                                                    */
/* ------------------------------------------------------------------ */

struct store_idem
{
  char request_hash[65]; /* hex SHA-256 of method, path and body */
  int status;            /* HTTP status of the first answer; 0 while pending */
  char *body;            /* the first answer's body; owned, may be NULL */
  int64_t created_at;
};
void store_idem_clear (struct store_idem *i);

/* Claims (tenant, key) for a request, inside the store_tx that creates the
 * object.  STORE_ONE: claimed, go on and create, then store_idem_finish in
 * the same transaction.  STORE_NONE: the key was used (possibly by another
 * process that committed meanwhile; on PostgreSQL this waits for it); out
 * holds the first request's hash and answer.  Never leaves the
 * transaction aborted. */
enum store_status store_idem_begin (struct store *s, int64_t tenant_id,
                                    const char *key, const char *request_hash,
                                    struct store_idem *out);
/* Records the answer for a key claimed by store_idem_begin. */
enum store_status store_idem_finish (struct store *s, int64_t tenant_id,
                                     const char *key, int status,
                                     const char *body);
enum store_status store_idem_get (struct store *s, int64_t tenant_id,
                                  const char *key, struct store_idem *out);
/* Deletes keys created before `before` (UTC seconds), all tenants;
 * returns the count in *n. */
enum store_status store_idem_expire (struct store *s, int64_t before,
                                     int64_t *n);

/* ------------------------------------------------------------------ */
/* Invoices (issued documents) and their tickets                       */
/* ------------------------------------------------------------------ */

enum store_invoice_status
{
  STORE_INVOICE_VALID,          /* issued (stamped) */
  STORE_INVOICE_CANCEL_PENDING, /* cancellation requested, not acknowledged */
  STORE_INVOICE_CANCELLED,
  STORE_INVOICE_STATUS_COUNT
};
/* "valid", "cancel_pending", "cancelled"; parse: -1 if unknown. */
const char *store_invoice_status_name (enum store_invoice_status st);
int store_invoice_status_parse (const char *name);

struct store_invoice
{
  int64_t id;
  int64_t tenant_id;
  char uuid[37]; /* UUID of the TFD (folio fiscal), upper case */
  char series[32];
  int64_t folio; /* 0 if none */
  char type[2];  /* TipoDeComprobante: I, E, P, … */
  enum store_invoice_status status;
  char customer_rfc[16];
  char customer_name[512];
  char customer_email[256];
  int64_t total; /* micros */
  char currency[4];
  unsigned char *xml; /* the stamped document; owned */
  size_t xml_len;
  unsigned char *pdf; /* may be NULL; owned */
  size_t pdf_len;
  char sha256[65];     /* hex SHA-256 of xml (set by insert) */
  char prev_hash[65];  /* chain_hash of the tenant's previous invoice, or "" */
  char chain_hash[65]; /* hex SHA-256(prev_hash || sha256) (set by insert) */
  char cancel_reason[3];       /* 01..04 or "" */
  char cancel_substitute[37];  /* UUID replacing this one (reason 01), or "" */
  int64_t cancel_requested_at; /* UTC seconds, 0 if never */
  char *cancel_ack; /* acknowledgement (acuse) text, may be NULL; owned */
  int64_t created_at;
  char cancel_status[16];   /* "", requested, pending, cancelled, rejected */
  char cancel_ack_date[20]; /* acuse Fecha, YYYY-MM-DDTHH:MM:SS MX, or "" */
  char cancel_provider[32]; /* stamping provider that answered, or "" */
  char cancel_sat_code[8];  /* SAT's EstatusUUID ("201"…), or "" */
};
void store_invoice_clear (struct store_invoice *inv);

/* Inserts inv as STORE_INVOICE_VALID; sets id, sha256, prev_hash,
 * chain_hash and created_at.  Chains onto the tenant's previous invoice
 * (the tenant row is locked until commit, so the chain is linear).  Call
 * inside the store_tx that took the folio.  STORE_NONE if uuid or
 * (series, folio) exists. */
enum store_status store_invoice_insert (struct store *s, int64_t tenant_id,
                                        struct store_invoice *inv);
/* with_docs: also read xml and pdf. */
enum store_status store_invoice_get (struct store *s, int64_t tenant_id,
                                     int64_t id, bool with_docs,
                                     struct store_invoice *out);
enum store_status store_invoice_find_uuid (struct store *s, int64_t tenant_id,
                                           const char *uuid, bool with_docs,
                                           struct store_invoice *out);
/* Stores (or replaces) the printed PDF. */
enum store_status store_invoice_set_pdf (struct store *s, int64_t tenant_id,
                                         int64_t id, const unsigned char *pdf,
                                         size_t len);
/* Records a cancellation request: status CANCEL_PENDING, cancel_status
 * "requested", with reason and substitute.  Only from VALID (STORE_NONE
 * otherwise).  Commit it before asking the provider, so a crash leaves a
 * visible request that a retry completes. */
enum store_status store_invoice_cancel_request (struct store *s,
                                                int64_t tenant_id, int64_t id,
                                                const char *reason,
                                                const char *substitute_uuid);
/* Records the acknowledgement: CANCELLED, and the invoice's tickets are
 * released (no longer count for invariant 1).  ack may be NULL. */
enum store_status store_invoice_cancel_ack (struct store *s, int64_t tenant_id,
                                            int64_t id, const char *ack);
/* The provider's answer to a cancellation request.  Strings borrowed. */
struct store_cancel_answer
{
  const char *status;   /* "cancelled", "pending" or "rejected" */
  const char *ack;      /* acuse text, or NULL to keep what is stored */
  const char *ack_date; /* acuse Fecha or NULL */
  const char *provider; /* provider name or NULL */
  const char *sat_code; /* EstatusUUID or NULL */
};
/* Records the answer on an invoice in CANCEL_PENDING: "cancelled" makes
 * it CANCELLED and releases its tickets like store_invoice_cancel_ack
 * (they stay 'invoiced', so they are out of self-invoicing and of the
 * global invoice); "pending" keeps CANCEL_PENDING; "rejected" puts it
 * back to VALID.  STORE_NONE if the invoice is not CANCEL_PENDING;
 * STORE_HARD for an unknown a->status. */
enum store_status
store_invoice_cancel_answer (struct store *s, int64_t tenant_id, int64_t id,
                             const struct store_cancel_answer *a);
/* Newest first, keyset by id; without documents.  Free with
 * store_invoice_list_free. */
enum store_status store_invoice_list (struct store *s, int64_t tenant_id,
                                      int64_t cursor, int limit,
                                      struct store_invoice **out, size_t *n,
                                      int64_t *next_cursor);
void store_invoice_list_free (struct store_invoice *a, size_t n);
/* Filters of store_invoice_list_filtered; a zero/NULL/-1 field does not
 * filter.  Strings borrowed. */
struct store_invoice_filter
{
  int64_t created_from;     /* created_at >= this (UTC seconds), 0 any */
  int64_t created_to;       /* created_at < this (UTC seconds), 0 any */
  int status;               /* enum store_invoice_status, or -1 any */
  const char *customer_rfc; /* exact receiver RFC, NULL or "" any */
};
/* Newest first, keyset by id (cursor: rows with id < cursor; 0 from the
 * start), only the rows matching f (NULL: all), at most limit (clamped
 * like every list).  The filters run in the database, one statement.
 * Rows carry only the listing columns: no xml, pdf, cancel_ack,
 * prev_hash or chain_hash (tenant_id is set).  *next_cursor is the last
 * row's id when another matching row exists, else 0.  Free with
 * store_invoice_list_free. */
enum store_status store_invoice_list_filtered (
    struct store *s, int64_t tenant_id, const struct store_invoice_filter *f,
    int64_t cursor, int limit, struct store_invoice **out, size_t *n,
    int64_t *next_cursor);
/* Calls fn for every invoice of the tenant in chain order (oldest first),
 * with documents, for `facturo audit verify`.  Stops when fn returns
 * false. */
enum store_status store_invoice_walk (struct store *s, int64_t tenant_id,
                                      bool (*fn) (const struct store_invoice *,
                                                  void *),
                                      void *arg);

/* Links a ticket to an invoice.  STORE_ONE linked; STORE_NONE if the
 * ticket is already in a valid (not cancelled) invoice — a UNIQUE index
 * enforces DESIGN invariant 1 even across processes. */
enum store_status store_invoice_add_ticket (struct store *s, int64_t tenant_id,
                                            int64_t invoice_id,
                                            int64_t ticket_id);
/* Ticket ids of an invoice; free() *out. */
enum store_status store_invoice_tickets (struct store *s, int64_t tenant_id,
                                         int64_t invoice_id, int64_t **out,
                                         size_t *n);
/* The valid invoice holding this ticket, if any (*invoice_id). */
enum store_status store_ticket_invoice (struct store *s, int64_t tenant_id,
                                        int64_t ticket_id,
                                        int64_t *invoice_id);

/* ------------------------------------------------------------------ */
/* Invoice events (tracking timeline)                                  */
/* ------------------------------------------------------------------ */

struct store_event
{
  int64_t id;
  int64_t tenant_id;
  int64_t invoice_id;
  int64_t at;      /* UTC seconds */
  char kind[32];   /* issued, emailed, delivered, opened, accepted, … */
  char actor[128]; /* "system", "user:<id>", "customer:<id>", … */
  char *detail;    /* JSON text or NULL; owned */
};
void store_event_clear (struct store_event *e);
void store_event_list_free (struct store_event *a, size_t n);
/* at 0 = now.  detail may be NULL.  Sets *id if id is not NULL.
 * STORE_NONE if the tenant has no such invoice. */
enum store_status store_event_add (struct store *s, int64_t tenant_id,
                                   int64_t invoice_id, int64_t at,
                                   const char *kind, const char *actor,
                                   const char *detail, int64_t *id);
/* Oldest first. */
enum store_status store_event_list (struct store *s, int64_t tenant_id,
                                    int64_t invoice_id,
                                    struct store_event **out, size_t *n);

/* ------------------------------------------------------------------ */
/* Jobs: the durable outbox                                            */
/* ------------------------------------------------------------------ */

enum store_job_state
{
  STORE_JOB_QUEUED,  /* waiting for run_after */
  STORE_JOB_RUNNING, /* claimed; lease_until bounds the claim */
  STORE_JOB_DONE,
  STORE_JOB_DEAD, /* failed for good */
  STORE_JOB_STATE_COUNT
};
const char *store_job_state_name (enum store_job_state st);

struct store_job
{
  int64_t id;
  int64_t tenant_id;
  char kind[32]; /* "mail", "pdf", "webhook", … */
  char *payload; /* JSON text; owned */
  enum store_job_state state;
  int attempts;        /* claims so far */
  int64_t run_after;   /* UTC seconds */
  char *last_error;    /* NULL or text; owned */
  char claimed_by[64]; /* worker id or "" */
  int64_t lease_until; /* UTC seconds, 0 if not claimed */
  int64_t created_at;
};
void store_job_clear (struct store_job *j);

/* Enqueues a job (call inside the business transaction).  run_after 0 =
 * now.  Sets *id if not NULL. */
enum store_status store_job_enqueue (struct store *s, int64_t tenant_id,
                                     const char *kind, const char *payload,
                                     int64_t run_after, int64_t *id);
/* Pre-tenant (workers serve all tenants).  Atomically claims one job of
 * `kind` (NULL = any kind) that is due (QUEUED and run_after <= now, or
 * RUNNING with an expired lease): state RUNNING, attempts + 1, claimed_by
 * = worker, lease_until = now + lease_seconds (60 when <= 0).  A worker
 * that outlives its lease may see the job claimed again: keep jobs
 * idempotent, or lease generously.  One statement: FOR UPDATE
 * SKIP LOCKED on PostgreSQL, a single UPDATE on SQLite, so no job goes to
 * two workers.  STORE_NONE if nothing is due. */
enum store_status store_job_claim (struct store *s, const char *worker,
                                   const char *kind, int lease_seconds,
                                   struct store_job *out);
/* Marks the job DONE.  STORE_NONE if `worker` no longer holds it. */
enum store_status store_job_done (struct store *s, int64_t tenant_id,
                                  int64_t id, const char *worker);
/* Records a failure: QUEUED again with run_after = retry_at, or DEAD when
 * retry_at is 0.  STORE_NONE if `worker` no longer holds it. */
enum store_status store_job_fail (struct store *s, int64_t tenant_id,
                                  int64_t id, const char *worker,
                                  const char *error, int64_t retry_at);
enum store_status store_job_get (struct store *s, int64_t tenant_id,
                                 int64_t id, struct store_job *out);
/* Counts jobs of the tenant in a state (tenant_id 0 = all tenants). */
enum store_status store_job_count (struct store *s, int64_t tenant_id,
                                   enum store_job_state st, int64_t *n);

#endif
