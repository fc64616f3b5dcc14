/*
 * csd.c — SAT CSD certificates and keys: parse, check, sign (see csd.h).
 *
 * Implements Anexo 20's sealing rules with OpenSSL 3: NoCertificado from
 * the serial, Certificado = base64(DER), Sello = base64(RSA-SHA256 PKCS#1
 * v1.5 over the cadena original).  It does not build the cadena (cadena.c)
 * nor read CFDI XML.
 *
 * CSD or FIEL (e.firma)?  SAT issues both from the same authority with the
 * same subject layout; they differ in (checked on SAT's own test
 * certificates, and the rule phpcfdi/credentials uses): a CSD's subject
 * carries an OU (the sucursal / unit name the taxpayer chose) and its
 * keyUsage is digitalSignature + nonRepudiation only; a FIEL has no OU,
 * keyUsage adds dataEncipherment + keyAgreement, and it carries an
 * extendedKeyUsage (emailProtection, clientAuth).  We call a certificate a
 * FIEL if any of those FIEL marks is present or the OU is missing.
 *
 * Performance: signing is one SHA-256 plus one RSA private operation.  The
 * key is decoded once; a template EVP_PKEY_CTX (signature method already
 * fetched, padding and digest set) is duplicated into a small pool of
 * ready contexts, so no signature pays for algorithm fetches or key
 * decoding.  The pool is the only mutable state, behind a mutex held for
 * a pointer swap.
 */
#include "cfdi/csd.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#define POOL_MAX 64 /* idle signing contexts kept per CSD */

struct ctx_node
{
  EVP_PKEY_CTX *ctx;
  struct ctx_node *next;
};

struct csd
{
  struct csd_cert *cert;
  EVP_PKEY *key;         /* private key (owned) */
  EVP_MD *sha256;        /* fetched once */
  EVP_PKEY_CTX *tmpl;    /* sign-initialised template, never used
                            directly, only duplicated */
  pthread_mutex_t lock;  /* guards pool */
  struct ctx_node *pool; /* idle contexts */
  int pool_len;
};

/* ---------------------------------------------------------------- */
/* Small helpers                                                     */
/* ---------------------------------------------------------------- */

static void
openssl_drain (void)
{
  ERR_clear_error ();
}

/* Copies the base64 payload of text (ignoring whitespace and PEM armour
 * lines "-----…-----") into a new buffer and decodes it.  Returns a
 * malloc'd binary or NULL if it is not base64. */
static uint8_t *
b64_decode_loose (const char *text, size_t len, size_t *out_len)
{
  char *clean = xmalloc (len + 1);
  size_t n = 0;
  size_t i = 0;
  while (i < len)
    {
      if (text[i] == '-' && (i == 0 || text[i - 1] == '\n'))
        {
          /* armour line: skip to end of line */
          while (i < len && text[i] != '\n')
            i++;
          continue;
        }
      char c = text[i++];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
        continue;
      clean[n++] = c;
    }
  clean[n] = '\0';
  if (n == 0)
    {
      free (clean);
      return NULL;
    }
  uint8_t *bin = xmalloc (n / 4 * 3 + 3);
  size_t bin_len = 0;
  const char *end = NULL;
  if (sodium_base642bin (bin, n / 4 * 3 + 3, clean, n, NULL, &bin_len, &end,
                         sodium_base64_VARIANT_ORIGINAL)
          != 0
      || end != clean + n)
    {
      free (clean);
      free (bin);
      return NULL;
    }
  free (clean);
  *out_len = bin_len;
  return bin;
}

static char *
b64_encode (const uint8_t *bin, size_t len)
{
  size_t cap = sodium_base64_ENCODED_LEN (len, sodium_base64_VARIANT_ORIGINAL);
  char *s = xmalloc (cap);
  sodium_bin2base64 (s, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
  return s;
}

/* Subject entry `nid` as UTF-8 into out (truncated); "" if absent. */
static void
name_entry (const X509_NAME *nm, int nid, char *out, size_t cap)
{
  out[0] = '\0';
  int idx = X509_NAME_get_index_by_NID (nm, nid, -1);
  if (idx < 0)
    return;
  const X509_NAME_ENTRY *e = X509_NAME_get_entry (nm, idx);
  const ASN1_STRING *s = X509_NAME_ENTRY_get_data (e);
  unsigned char *u = NULL;
  int n = ASN1_STRING_to_UTF8 (&u, s);
  if (n < 0)
    {
      /* e.g. a BIT STRING x500UniqueIdentifier: take printable bytes */
      const unsigned char *d = ASN1_STRING_get0_data (s);
      int l = ASN1_STRING_length (s);
      size_t k = 0;
      for (int i = 0; i < l && k + 1 < cap; i++)
        if (d[i] >= 0x20 && d[i] < 0x7f)
          out[k++] = (char)d[i];
      out[k] = '\0';
      openssl_drain ();
      return;
    }
  snprintf (out, cap, "%.*s", n, (const char *)u);
  OPENSSL_free (u);
}

/* Splits "A / B" (SAT's x500UniqueIdentifier and serialNumber layout) into
 * its two trimmed halves. */
static void
split_slash (const char *in, char *first, size_t fcap, char *second,
             size_t scap)
{
  const char *sl = strchr (in, '/');
  size_t flen = sl ? (size_t)(sl - in) : strlen (in);
  while (flen > 0 && in[flen - 1] == ' ')
    flen--;
  const char *f = in;
  while (*f == ' ' && flen > 0)
    f++, flen--;
  snprintf (first, fcap, "%.*s", (int)flen, f);
  second[0] = '\0';
  if (sl)
    {
      const char *s = sl + 1;
      while (*s == ' ')
        s++;
      size_t slen = strlen (s);
      while (slen > 0 && s[slen - 1] == ' ')
        slen--;
      snprintf (second, scap, "%.*s", (int)slen, s);
    }
}

static bool
asn1_time_to_unix (const ASN1_TIME *t, time_t *out)
{
  struct tm tm;
  memset (&tm, 0, sizeof tm);
  if (t == NULL || ASN1_TIME_to_tm (t, &tm) != 1)
    return false;
  *out = timegm (&tm);
  return true;
}

static void
fmt_utc (time_t t, char *out, size_t cap)
{
  struct tm tm;
  gmtime_r (&t, &tm);
  strftime (out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* ---------------------------------------------------------------- */
/* Certificates                                                      */
/* ---------------------------------------------------------------- */

struct csd_cert *
csd_cert_parse (const uint8_t *data, size_t len, struct ferr *err)
{
  if (data == NULL || len == 0)
    {
      ferr_set (err, "csd_cert_invalid", "cer", "the certificate is empty",
                "el certificado está vacío");
      return NULL;
    }
  if (len > CSD_MAX_FILE)
    {
      ferr_set (err, "csd_too_large", "cer",
                "the certificate is larger than %d bytes",
                "el certificado mide más de %d bytes", CSD_MAX_FILE);
      return NULL;
    }
  uint8_t *der = NULL;
  size_t der_len = 0;
  if (data[0] == 0x30)
    {
      der = xmalloc (len);
      memcpy (der, data, len);
      der_len = len;
    }
  else
    {
      der = b64_decode_loose ((const char *)data, len, &der_len);
      if (der == NULL || der_len == 0 || der[0] != 0x30)
        {
          free (der);
          ferr_set (err, "csd_cert_invalid", "cer",
                    "the certificate is neither DER nor base64 X.509",
                    "el certificado no es X.509 en DER ni en base64");
          return NULL;
        }
    }

  const unsigned char *p = der;
  X509 *x = d2i_X509 (NULL, &p, (long)der_len);
  if (x == NULL || p != der + der_len)
    {
      X509_free (x);
      free (der);
      openssl_drain ();
      ferr_set (err, "csd_cert_invalid", "cer",
                "the certificate is not a valid X.509 certificate "
                "(damaged or truncated)",
                "el certificado no es un X.509 válido (dañado o truncado)");
      return NULL;
    }

  struct csd_cert *c = xcalloc (1, sizeof *c);
  c->der = der;
  c->der_len = der_len;
  c->b64 = b64_encode (der, der_len);

  /* Serial: SAT's serials are 20 ASCII digits stored as the integer's
   * bytes; anything else is shown in hex. */
  const ASN1_INTEGER *sn = X509_get0_serialNumber (x);
  const unsigned char *sd = ASN1_STRING_get0_data (sn);
  int sl = ASN1_STRING_length (sn);
  bool digits = sl > 0;
  for (int i = 0; i < sl; i++)
    if (sd[i] < '0' || sd[i] > '9')
      digits = false;
  if (digits && (size_t)sl < sizeof c->no_certificado)
    memcpy (c->no_certificado, sd, (size_t)sl);
  else
    {
      size_t k = 0;
      for (int i = 0; i < sl && k + 3 <= sizeof c->no_certificado; i++)
        k += (size_t)snprintf (c->no_certificado + k,
                               sizeof c->no_certificado - k, "%02X", sd[i]);
    }

  const X509_NAME *subj = X509_get_subject_name (x);
  char uid[128], ser[128];
  name_entry (subj, NID_x500UniqueIdentifier, uid, sizeof uid);
  split_slash (uid, c->rfc, sizeof c->rfc, c->rfc_representative,
               sizeof c->rfc_representative);
  name_entry (subj, NID_serialNumber, ser, sizeof ser);
  char rep_curp[32];
  split_slash (ser, c->curp, sizeof c->curp, rep_curp, sizeof rep_curp);
  name_entry (subj, NID_commonName, c->name, sizeof c->name);
  name_entry (subj, NID_organizationalUnitName, c->unit, sizeof c->unit);

  bool ok = asn1_time_to_unix (X509_get0_notBefore (x), &c->not_before)
            && asn1_time_to_unix (X509_get0_notAfter (x), &c->not_after);

  /* Kind: see the file header. */
  uint32_t ku = X509_get_key_usage (x);
  uint32_t xku = X509_get_extended_key_usage (x);
  bool fiel = c->unit[0] == '\0';
  if (ku != UINT32_MAX && (ku & (KU_DATA_ENCIPHERMENT | KU_KEY_AGREEMENT)))
    fiel = true;
  if (xku != UINT32_MAX && (xku & (XKU_SMIME | XKU_SSL_CLIENT)))
    fiel = true;
  c->kind = fiel ? CSD_KIND_FIEL : CSD_KIND_CSD;

  c->pkey = X509_get_pubkey (x);
  if (c->pkey == NULL)
    ok = false;
  else
    {
      c->is_rsa = EVP_PKEY_get_base_id (c->pkey) == EVP_PKEY_RSA;
      c->key_bits = EVP_PKEY_get_bits (c->pkey);
    }
  X509_free (x);
  openssl_drain ();
  if (!ok)
    {
      csd_cert_free (c);
      ferr_set (err, "csd_cert_invalid", "cer",
                "the certificate has an unreadable validity or public key",
                "el certificado tiene vigencia o llave pública ilegibles");
      return NULL;
    }
  return c;
}

bool
csd_cert_check_time (const struct csd_cert *c, time_t now, struct ferr *err)
{
  char a[40], b[40];
  if (now < c->not_before)
    {
      fmt_utc (c->not_before, a, sizeof a);
      return ferr_set (err, "csd_not_yet_valid", "cer",
                       "certificate %s is not valid before %s",
                       "el certificado %s no es vigente antes de %s",
                       c->no_certificado, a);
    }
  if (now > c->not_after)
    {
      fmt_utc (c->not_after, b, sizeof b);
      return ferr_set (err, "csd_expired", "cer",
                       "certificate %s expired on %s",
                       "el certificado %s venció el %s", c->no_certificado, b);
    }
  return true;
}

bool
csd_cert_verify (const struct csd_cert *c, const char *data, size_t len,
                 const char *sig_b64, struct ferr *err)
{
  size_t sl = sig_b64 ? strlen (sig_b64) : 0;
  size_t bin_len = 0;
  uint8_t *bin = sl ? b64_decode_loose (sig_b64, sl, &bin_len) : NULL;
  if (bin == NULL)
    return ferr_set (err, "csd_sello_base64", "Sello",
                     "the seal is empty or not base64",
                     "el sello está vacío o no es base64");
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  int rc
      = md != NULL
        && EVP_DigestVerifyInit (md, NULL, EVP_sha256 (), NULL, c->pkey) == 1
        && EVP_DigestVerify (md, bin, bin_len, (const unsigned char *)data,
                             len)
               == 1;
  EVP_MD_CTX_free (md);
  free (bin);
  openssl_drain ();
  if (!rc)
    return ferr_set (err, "csd_sello_mismatch", "Sello",
                     "the seal does not verify with certificate %s",
                     "el sello no se verifica con el certificado %s",
                     c->no_certificado);
  return true;
}

void
csd_cert_free (struct csd_cert *c)
{
  if (c == NULL)
    return;
  EVP_PKEY_free (c->pkey);
  free (c->der);
  free (c->b64);
  free (c);
}

/* ---------------------------------------------------------------- */
/* CSD (certificate + private key)                                   */
/* ---------------------------------------------------------------- */

static EVP_PKEY_CTX *
make_template (EVP_PKEY *key)
{
  EVP_PKEY_CTX *t = EVP_PKEY_CTX_new_from_pkey (NULL, key, NULL);
  if (t == NULL || EVP_PKEY_sign_init (t) != 1
      || EVP_PKEY_CTX_set_rsa_padding (t, RSA_PKCS1_PADDING) != 1
      || EVP_PKEY_CTX_set_signature_md (t, EVP_sha256 ()) != 1)
    {
      EVP_PKEY_CTX_free (t);
      return NULL;
    }
  return t;
}

static struct csd *
load_key (struct csd_cert *cert, const uint8_t *key, size_t key_len,
          const char *password, struct ferr *err)
{
  if (key == NULL || key_len == 0)
    {
      ferr_set (err, "csd_key_invalid", "key", "the private key is empty",
                "la llave privada está vacía");
      return NULL;
    }
  if (key_len > CSD_MAX_FILE)
    {
      ferr_set (err, "csd_too_large", "key",
                "the private key is larger than %d bytes",
                "la llave privada mide más de %d bytes", CSD_MAX_FILE);
      return NULL;
    }
  const unsigned char *p = key;
  X509_SIG *enc = d2i_X509_SIG (NULL, &p, (long)key_len);
  if (enc == NULL || p != key + key_len)
    {
      X509_SIG_free (enc);
      openssl_drain ();
      ferr_set (err, "csd_key_invalid", "key",
                "the private key is not an encrypted PKCS#8 DER key "
                "(damaged, truncated or another format)",
                "la llave privada no es PKCS#8 DER cifrada "
                "(dañada, truncada o de otro formato)");
      return NULL;
    }
  const char *pw = password ? password : "";
  PKCS8_PRIV_KEY_INFO *p8 = PKCS8_decrypt (enc, pw, (int)strlen (pw));
  X509_SIG_free (enc);
  if (p8 == NULL)
    {
      openssl_drain ();
      ferr_set (err, "csd_password_wrong", "password",
                "the password does not open the private key",
                "la contraseña no abre la llave privada");
      return NULL;
    }
  EVP_PKEY *pk = EVP_PKCS82PKEY (p8);
  PKCS8_PRIV_KEY_INFO_free (p8); /* clears the decrypted key bytes */
  if (pk == NULL)
    {
      openssl_drain ();
      ferr_set (err, "csd_key_invalid", "key",
                "the decrypted private key is unreadable",
                "la llave privada descifrada es ilegible");
      return NULL;
    }
  if (EVP_PKEY_get_base_id (pk) != EVP_PKEY_RSA || !cert->is_rsa)
    {
      EVP_PKEY_free (pk);
      ferr_set (err, "csd_not_rsa", "key",
                "the key is not RSA (SAT seals are RSA-SHA256)",
                "la llave no es RSA (SAT sella con RSA-SHA256)");
      return NULL;
    }
  if (EVP_PKEY_get_bits (pk) < 1024)
    {
      EVP_PKEY_free (pk);
      ferr_set (err, "csd_not_rsa", "key",
                "the RSA key is shorter than 1024 bits",
                "la llave RSA mide menos de 1024 bits");
      return NULL;
    }
  if (EVP_PKEY_eq (cert->pkey, pk) != 1)
    {
      EVP_PKEY_free (pk);
      openssl_drain ();
      ferr_set (err, "csd_key_mismatch", "key",
                "the private key does not belong to certificate %s",
                "la llave privada no corresponde al certificado %s",
                cert->no_certificado);
      return NULL;
    }
  EVP_PKEY_CTX *t = make_template (pk);
  EVP_MD *md = EVP_MD_fetch (NULL, "SHA256", NULL);
  if (t == NULL || md == NULL)
    {
      EVP_PKEY_CTX_free (t);
      EVP_MD_free (md);
      EVP_PKEY_free (pk);
      openssl_drain ();
      ferr_set (err, "csd_sign_failed", "key",
                "OpenSSL cannot sign with this key",
                "OpenSSL no puede firmar con esta llave");
      return NULL;
    }
  struct csd *c = xcalloc (1, sizeof *c);
  c->cert = cert;
  c->key = pk;
  c->tmpl = t;
  c->sha256 = md;
  pthread_mutex_init (&c->lock, NULL);
  return c;
}

struct csd *
csd_load (const uint8_t *cer, size_t cer_len, const uint8_t *key,
          size_t key_len, const char *password, time_t now, struct ferr *err)
{
  if (sodium_init () < 0)
    {
      ferr_set (err, "csd_sign_failed", "", "libsodium failed to start",
                "libsodium no pudo iniciar");
      return NULL;
    }
  struct csd_cert *cert = csd_cert_parse (cer, cer_len, err);
  if (cert == NULL)
    return NULL;
  if (cert->kind == CSD_KIND_FIEL)
    {
      ferr_set (err, "csd_is_fiel", "cer",
                "certificate %s is an e.firma (FIEL), not a CSD: invoices "
                "are sealed with a Certificado de Sello Digital",
                "el certificado %s es de e.firma (FIEL), no un CSD: las "
                "facturas se sellan con un Certificado de Sello Digital",
                cert->no_certificado);
      csd_cert_free (cert);
      return NULL;
    }
  if (!csd_cert_check_time (cert, now, err))
    {
      csd_cert_free (cert);
      return NULL;
    }
  struct csd *c = load_key (cert, key, key_len, password, err);
  if (c == NULL)
    csd_cert_free (cert);
  return c;
}

static bool
slurp (const char *path, struct buf *b, const char *field, struct ferr *err)
{
  if (path == NULL || read_file (path, b, CSD_MAX_FILE) != 0)
    {
      int e = errno;
      return ferr_set (err, "csd_file_unreadable", field, "cannot read %s: %s",
                       "no se puede leer %s: %s", path ? path : "(none)",
                       e == EFBIG ? "file too large" : strerror (e));
    }
  return true;
}

struct csd *
csd_load_files (const char *cer_path, const char *key_path,
                const char *password, time_t now, struct ferr *err)
{
  struct buf cb = BUF_INIT, kb = BUF_INIT;
  struct csd *c = NULL;
  if (slurp (cer_path, &cb, "cer", err) && slurp (key_path, &kb, "key", err))
    c = csd_load ((const uint8_t *)cb.data, cb.len, (const uint8_t *)kb.data,
                  kb.len, password, now, err);
  buf_free (&cb);
  if (kb.data)
    OPENSSL_cleanse (kb.data, kb.cap);
  buf_free (&kb);
  return c;
}

const struct csd_cert *
csd_cert (const struct csd *c)
{
  return c->cert;
}

const char *
csd_no_certificado (const struct csd *c)
{
  return c->cert->no_certificado;
}

const char *
csd_certificado_b64 (const struct csd *c)
{
  return c->cert->b64;
}

const char *
csd_rfc (const struct csd *c)
{
  return c->cert->rfc;
}

const char *
csd_name (const struct csd *c)
{
  return c->cert->name;
}

time_t
csd_not_before (const struct csd *c)
{
  return c->cert->not_before;
}

time_t
csd_not_after (const struct csd *c)
{
  return c->cert->not_after;
}

static EVP_PKEY_CTX *
pool_get (struct csd *c)
{
  EVP_PKEY_CTX *ctx = NULL;
  pthread_mutex_lock (&c->lock);
  struct ctx_node *n = c->pool;
  if (n)
    {
      c->pool = n->next;
      c->pool_len--;
    }
  pthread_mutex_unlock (&c->lock);
  if (n)
    {
      ctx = n->ctx;
      free (n);
      return ctx;
    }
  return EVP_PKEY_CTX_dup (c->tmpl);
}

static void
pool_put (struct csd *c, EVP_PKEY_CTX *ctx)
{
  struct ctx_node *n = xmalloc (sizeof *n);
  n->ctx = ctx;
  pthread_mutex_lock (&c->lock);
  if (c->pool_len < POOL_MAX)
    {
      n->next = c->pool;
      c->pool = n;
      c->pool_len++;
      n = NULL;
    }
  pthread_mutex_unlock (&c->lock);
  if (n)
    {
      EVP_PKEY_CTX_free (n->ctx);
      free (n);
    }
}

bool
csd_sign (const struct csd *cc, const char *data, size_t len,
          struct buf *b64_out, struct ferr *err)
{
  /* The pool is internal bookkeeping; the CSD is logically constant. */
  struct csd *c = (struct csd *)cc;
  unsigned char digest[32];
  unsigned int dlen = 0;
  unsigned char sig[1024]; /* up to 8192-bit keys */
  size_t siglen = sizeof sig;

  if (EVP_PKEY_get_size (c->key) > (int)sizeof sig
      || EVP_Digest (data, len, digest, &dlen, c->sha256, NULL) != 1)
    goto fail;
  EVP_PKEY_CTX *ctx = pool_get (c);
  if (ctx == NULL)
    goto fail;
  if (EVP_PKEY_sign (ctx, sig, &siglen, digest, dlen) != 1)
    {
      EVP_PKEY_CTX_free (ctx);
      goto fail;
    }
  pool_put (c, ctx);
  char out[sodium_base64_ENCODED_LEN (1024, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64 (out, sizeof out, sig, siglen,
                     sodium_base64_VARIANT_ORIGINAL);
  buf_puts (b64_out, out);
  return true;

fail:
  openssl_drain ();
  return ferr_set (
      err, "csd_sign_failed", "", "OpenSSL failed to sign with certificate %s",
      "OpenSSL no pudo firmar con el certificado %s", c->cert->no_certificado);
}

void
csd_free (struct csd *c)
{
  if (c == NULL)
    return;
  struct ctx_node *n = c->pool;
  while (n)
    {
      struct ctx_node *next = n->next;
      EVP_PKEY_CTX_free (n->ctx);
      free (n);
      n = next;
    }
  EVP_PKEY_CTX_free (c->tmpl);
  EVP_PKEY_free (c->key); /* OpenSSL clears private bignums on free */
  EVP_MD_free (c->sha256);
  csd_cert_free (c->cert);
  pthread_mutex_destroy (&c->lock);
  sodium_memzero (c, sizeof *c);
  free (c);
}
