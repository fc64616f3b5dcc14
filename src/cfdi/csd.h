/*
 * csd.h — SAT's Certificado de Sello Digital: load, check, sign.
 *
 * A CSD is an X.509 certificate (.cer, DER) plus its RSA private key
 * (.key, PKCS#8 EncryptedPrivateKeyInfo, DER) protected by a password.
 * This module turns those bytes into a `struct csd` ready to seal CFDIs
 * (Anexo 20: Sello = base64 of RSA-SHA256 PKCS#1 v1.5 over the cadena
 * original; NoCertificado = the certificate serial, whose bytes are ASCII
 * digits; Certificado = the certificate DER in base64).
 *
 * Loading refuses, each with a stable ferr code: garbage or truncated
 * input (csd_cert_invalid, csd_key_invalid), oversize input (csd_too_large),
 * a wrong password (csd_password_wrong), a key that is not RSA
 * (csd_not_rsa), a key of another certificate (csd_key_mismatch), a
 * certificate not valid at `now` (csd_expired, csd_not_yet_valid), and a
 * FIEL/e.firma presented as a CSD (csd_is_fiel; see docs/stamping.md for
 * the rule).
 *
 * Workload: one server seals thousands of invoices per second from a few
 * loaded CSDs, from many threads.  The key is parsed once; csd_sign only
 * hashes and signs with the cached EVP_PKEY and is safe to call from any
 * number of threads at once on the same `struct csd`.
 */
#ifndef FACTURO_CFDI_CSD_H
#define FACTURO_CFDI_CSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/ferr.h"
#include "util/buf.h"

/* Largest certificate or key file accepted (SAT's are ~1.3 KiB). */
#define CSD_MAX_FILE (64 * 1024)

enum csd_cert_kind
{
  CSD_KIND_CSD = 0, /* sello digital: subject carries an OU (sucursal) */
  CSD_KIND_FIEL,    /* e.firma: no OU, keyUsage includes dataEncipherment
                       or keyAgreement, or extKeyUsage has client auth /
                       e-mail protection */
};

/* A parsed certificate, public data only.  Usable by a verifier (no key).
 * All strings are NUL-terminated UTF-8, owned by the struct. */
struct csd_cert
{
  EVP_PKEY *pkey;              /* public key (owned; RSA for SAT certs) */
  char no_certificado[64];     /* serial as SAT's 20 digits when its bytes
                                  are ASCII digits, else upper-case hex */
  char rfc[16];                /* holder RFC: x500UniqueIdentifier before
                                  " / " (12 moral, 13 física), or "" */
  char rfc_representative[16]; /* RFC after " / " (personas morales), or "" */
  char curp[24];               /* serialNumber before " / " if present */
  char name[256];              /* subject CN (holder's name), or "" */
  char unit[128];              /* subject OU (CSD sucursal name), or "" */
  time_t not_before;           /* UTC seconds */
  time_t not_after;            /* UTC seconds */
  enum csd_cert_kind kind;     /* CSD or FIEL, see csd_cert_kind */
  bool is_rsa;                 /* public key is RSA */
  int key_bits;                /* RSA modulus size in bits */
  uint8_t *der;                /* certificate bytes (DER) */
  size_t der_len;
  char *b64; /* DER in base64, one line (Certificado) */
};

/* Parses a certificate given as DER or as base64 text (e.g. the
 * Certificado attribute; whitespace is ignored, a PEM armour too).
 * Checks shape only — not dates, not the CSD/FIEL kind (see
 * csd_cert_check).  Returns a new struct (csd_cert_free it) or NULL with
 * err filled (csd_too_large, csd_cert_invalid). */
struct csd_cert *csd_cert_parse (const uint8_t *data, size_t len,
                                 struct ferr *err);

/* True if cert is valid at `now` (UTC seconds); else false with
 * csd_expired or csd_not_yet_valid. */
bool csd_cert_check_time (const struct csd_cert *cert, time_t now,
                          struct ferr *err);

/* Verifies a base64 RSA-SHA256 PKCS#1 v1.5 signature (a Sello or SelloSAT)
 * over data[0..len) with cert's public key.  False with err filled:
 * csd_sello_base64 (not base64), csd_sello_mismatch (does not verify). */
bool csd_cert_verify (const struct csd_cert *cert, const char *data,
                      size_t len, const char *sig_b64, struct ferr *err);

/* Frees cert; NULL is a no-op. */
void csd_cert_free (struct csd_cert *cert);

/* A loaded CSD (certificate + decrypted private key).  Opaque. */
struct csd;

/* Loads a CSD from memory: cer = DER X.509 (base64 accepted too), key =
 * PKCS#8 EncryptedPrivateKeyInfo DER, password its password (borrowed,
 * never kept, never logged).  Checks: RSA key of at least 1024 bits,
 * key matches certificate, certificate is a CSD (not a FIEL) and is
 * valid at `now` (UTC seconds; pass time(NULL)).  Returns a new struct
 * (csd_free it) or NULL with err filled (codes in the file header). */
struct csd *csd_load (const uint8_t *cer, size_t cer_len, const uint8_t *key,
                      size_t key_len, const char *password, time_t now,
                      struct ferr *err);

/* Same, reading the two files (each at most CSD_MAX_FILE bytes).  An
 * unreadable file gives csd_file_unreadable with the path in err->field. */
struct csd *csd_load_files (const char *cer_path, const char *key_path,
                            const char *password, time_t now,
                            struct ferr *err);

/* Accessors: borrowed pointers, valid until csd_free. */
const struct csd_cert *csd_cert (const struct csd *c);
const char *csd_no_certificado (const struct csd *c);  /* NoCertificado */
const char *csd_certificado_b64 (const struct csd *c); /* Certificado */
const char *csd_rfc (const struct csd *c);             /* issuer RFC */
const char *csd_name (const struct csd *c);            /* holder's name */
time_t csd_not_before (const struct csd *c);
time_t csd_not_after (const struct csd *c);

/* Signs data[0..len) (the cadena original, UTF-8) with RSA-SHA256 PKCS#1
 * v1.5 and appends the base64 signature (no newline) to *b64_out (the
 * Sello).  Thread-safe; deterministic.  False with csd_sign_failed only if
 * OpenSSL fails (nothing is appended then). */
bool csd_sign (const struct csd *c, const char *data, size_t len,
               struct buf *b64_out, struct ferr *err);

/* Wipes the key material and frees c; NULL is a no-op. */
void csd_free (struct csd *c);

#endif
