/*
 * pac.h — stamping providers (PAC, Proveedor Autorizado de Certificación).
 *
 * A sealed CFDI becomes fiscally valid only once a PAC stamps it: the PAC
 * validates it, adds the Timbre Fiscal Digital 1.1 (UUID, FechaTimbrado,
 * RfcProvCertif, SelloCFD, NoCertificadoSAT, SelloSAT) inside
 * cfdi:Complemento and reports it to SAT.  Cancellation also goes through
 * the PAC.  Each provider is one file (pac_<name>.c) that fills a
 * `struct pac` of function pointers; pac_by_name() picks one.  "sandbox"
 * (pac_sandbox.c) stamps locally with a test certificate and no fiscal
 * validity.  How to write an HTTP adapter: docs/stamping.md.
 *
 * Every call returns a pac_status that tells the caller what to do next:
 * PAC_OK (done), PAC_REJECTED (permanent: the document or request is
 * wrong; retrying the same thing gives the same answer) or PAC_RETRY
 * (temporary: network, timeout, provider busy or down; try again later,
 * the same request is safe to resend because PACs answer a duplicate
 * stamp with the original TFD).  Providers are thread-safe: one `struct
 * pac` serves every thread of the server at once.
 */
#ifndef FACTURO_CFDI_PAC_H
#define FACTURO_CFDI_PAC_H

#include <stdbool.h>
#include <stddef.h>

#include "cfdi/cancel.h"
#include "cfdi/csd.h"
#include "core/ferr.h"

enum pac_status
{
  PAC_OK = 0,       /* stamped / cancellation accepted for processing */
  PAC_REJECTED = 1, /* permanent refusal; err says why (code + message) */
  PAC_RETRY = 2,    /* temporary failure; retry later with the same input */
};

/* What a stamp produced.  Strings are NUL-terminated; xml and sello_sat
 * are malloc'd and freed by pac_stamp_clear. */
struct pac_stamp
{
  char *xml; /* the stamped CFDI, UTF-8 */
  size_t xml_len;
  char uuid[40];               /* TimbreFiscalDigital/@UUID, upper case */
  char fecha_timbrado[20];     /* YYYY-MM-DDTHH:MM:SS, Mexico City time */
  char no_certificado_sat[24]; /* NoCertificadoSAT */
  char rfc_prov_certif[16];    /* RfcProvCertif (the PAC's RFC) */
  char *sello_sat;             /* SelloSAT, base64 */
};

/* Frees what a stamp holds and zeroes it; NULL is a no-op. */
void pac_stamp_clear (struct pac_stamp *s);

/* Options for pac_by_name.  Each field may be NULL / 0 (provider default).
 * Borrowed during pac_by_name only: providers copy what they keep. */
struct pac_config
{
  const char *url;     /* endpoint of a remote PAC */
  const char *user;    /* account name */
  const char *secret;  /* password or API token (never logged) */
  long timeout_ms;     /* per HTTP request; 0 = provider default */
  const char *datadir; /* sandbox: where sandbox/ lives; NULL = the
                          FACTURO_DATA environment variable, else the
                          compiled-in FACTURO_DATADIR */
};

/* A provider.  `cls` is the provider's own state. */
struct pac
{
  const char *name; /* "sandbox", … */
  void *cls;

  /* Stamps the sealed CFDI xml[0..len).  On PAC_OK fills *out (which the
   * caller pac_stamp_clear()s).  Otherwise *out is left empty and err
   * tells why: PAC_REJECTED for a document the PAC refuses, PAC_RETRY
   * for transport or provider trouble. */
  enum pac_status (*stamp) (void *cls, const char *xml, size_t len,
                            struct pac_stamp *out, struct ferr *err);

  /* Requests cancellation.  `issuer` is the issuer's CSD for providers
   * that must sign the request themselves (may be NULL for those that do
   * not).  On PAC_OK fills *ack (cancel_ack_clear it). */
  enum pac_status (*cancel) (void *cls, const struct cancel_request *req,
                             const struct csd *issuer, struct cancel_ack *ack,
                             struct ferr *err);

  /* Releases cls (wiping secrets). */
  void (*destroy) (void *cls);
};

/* Creates the provider called `name` with cfg (NULL = defaults).  Returns
 * a new provider (pac_free it) or NULL with err filled: pac_unknown for an
 * unknown name, or the provider's own code (e.g. pac_sandbox_cert when the
 * sandbox certificate cannot be loaded). */
struct pac *pac_by_name (const char *name, const struct pac_config *cfg,
                         struct ferr *err);

/* NULL-terminated list of known provider names. */
const char *const *pac_names (void);

/* Convenience wrappers: call p->stamp / p->cancel.  pac_cancel first
 * validates req with cancel_request_check (PAC_REJECTED on failure). */
enum pac_status pac_stamp (const struct pac *p, const char *xml, size_t len,
                           struct pac_stamp *out, struct ferr *err);
enum pac_status pac_cancel (const struct pac *p,
                            const struct cancel_request *req,
                            const struct csd *issuer, struct cancel_ack *ack,
                            struct ferr *err);

/* Destroys p; NULL is a no-op. */
void pac_free (struct pac *p);

/* For provider files only: the constructor each provider exports. */
struct pac *pac_sandbox_new (const struct pac_config *cfg, struct ferr *err);

#endif
