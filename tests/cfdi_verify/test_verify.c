/*
 * test_verify.c — cfdi/verify: every check passes on SAT's samples, and
 * each check fails for the change it exists to catch.
 *
 * Documents are re-sealed in the test with SAT's public test CSDs
 * (../shared/sat/csd, password 12345678a) so that one check at a time can
 * be made to fail (RFC, Fecha, NoCertificado) while the Sello still
 * verifies, and a sandbox-PAC stamp is made with a certificate generated
 * here and placed in a private data folder.
 */
#define _GNU_SOURCE /* memmem, mkdtemp, setenv, symlink */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cfdi/cadena.h"
#include "cfdi/verify.h"

#include "samples.h"

static char shared[1024];
static char samples_dir[1200];
static char *sample_names[64];
static int n_samples;
static char tmpdir[256];

/* ---- helpers ------------------------------------------------------- */

static char *
sample_bytes (int i, size_t *len)
{
  char path[1400];
  snprintf (path, sizeof path, "%s/%s", samples_dir, sample_names[i]);
  char *s = slurp (path, len);
  assert_non_null (s);
  return s;
}

static const struct cfdi_check *
check (const struct cfdi_report *r, const char *name)
{
  for (int i = 0; i < r->n; i++)
    if (strcmp (r->checks[i].name, name) == 0)
      return &r->checks[i];
  return NULL;
}

static void
dump_report (const struct cfdi_report *r, const char *what)
{
  fprintf (stderr, "--- %s\n", what);
  cfdi_report_print (r, stderr);
}

/* Asserts `name` has status st. */
static void
expect (const struct cfdi_report *r, const char *name,
        enum cfdi_check_status st, const char *what)
{
  const struct cfdi_check *c = check (r, name);
  if (c == NULL || c->status != st)
    {
      dump_report (r, what);
      fail_msg ("%s: check %s: expected status %d, got %d", what, name, st,
                c ? (int)c->status : -1);
    }
}

/* Changes the character at the first digit/letter after `marker`. */
static bool
mutate_after (char *xml, size_t len, const char *marker, int skip)
{
  char *p = memmem (xml, len, marker, strlen (marker));
  if (p == NULL)
    return false;
  p += strlen (marker) + skip;
  if (*p >= '0' && *p <= '8')
    (*p)++;
  else if (*p == '9')
    *p = '0';
  else if (*p >= 'A' && *p < 'Z')
    (*p)++;
  else if (*p >= 'a' && *p < 'z')
    (*p)++;
  else
    *p = 'A';
  return true;
}

/* ---- signing with test keys --------------------------------------- */

struct signer
{
  EVP_PKEY *key;
  char *cert_b64;
  char no[32];
};

static int
pass_cb (char *buf, int size, int rw, void *u)
{
  (void)rw;
  int n = (int)strlen (u);
  if (n > size)
    n = size;
  memcpy (buf, u, (size_t)n);
  return n;
}

static char *
b64 (const unsigned char *d, size_t n)
{
  char *s = malloc (4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock ((unsigned char *)s, d, (int)n);
  return s;
}

static void
signer_load (struct signer *s, const char *dir, const char *rfc)
{
  char path[1400];
  size_t len = 0;
  snprintf (path, sizeof path, "%s/sat/csd/%s/%s.key", shared, dir, rfc);
  char *k = slurp (path, &len);
  assert_non_null (k);
  BIO *b = BIO_new_mem_buf (k, (int)len);
  s->key = d2i_PKCS8PrivateKey_bio (b, NULL, pass_cb, (void *)"12345678a");
  BIO_free (b);
  free (k);
  assert_non_null (s->key);
  snprintf (path, sizeof path, "%s/sat/csd/%s/%s.cer", shared, dir, rfc);
  char *c = slurp (path, &len);
  assert_non_null (c);
  s->cert_b64 = b64 ((unsigned char *)c, len);
  const unsigned char *p = (unsigned char *)c;
  X509 *x = d2i_X509 (NULL, &p, (long)len);
  assert_non_null (x);
  const ASN1_INTEGER *sn = X509_get0_serialNumber (x);
  snprintf (s->no, sizeof s->no, "%.*s", ASN1_STRING_length (sn),
            (const char *)ASN1_STRING_get0_data (sn));
  X509_free (x);
  free (c);
}

static char *
sign_b64 (EVP_PKEY *key, const char *data, size_t len)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  unsigned char sig[1024];
  size_t sl = sizeof sig;
  assert_int_equal (EVP_DigestSignInit (md, NULL, EVP_sha256 (), NULL, key),
                    1);
  assert_int_equal (
      EVP_DigestSign (md, sig, &sl, (const unsigned char *)data, len), 1);
  EVP_MD_CTX_free (md);
  return b64 (sig, sl);
}

static xmlNodePtr
child (xmlNodePtr n, const char *name)
{
  for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && strcmp ((char *)c->name, name) == 0)
      return c;
  return NULL;
}

/* Removes any TFD, then seals doc with s (Certificado, NoCertificado,
 * Sello).  Emisor/@Rfc is left as the caller set it. */
static void
reseal (xmlDocPtr doc, const struct signer *s)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr comp = child (root, "Complemento");
  xmlNodePtr tfd = child (comp, "TimbreFiscalDigital");
  if (tfd)
    {
      xmlUnlinkNode (tfd);
      xmlFreeNode (tfd);
    }
  xmlSetProp (root, BAD_CAST "Certificado", BAD_CAST s->cert_b64);
  xmlSetProp (root, BAD_CAST "NoCertificado", BAD_CAST s->no);
  struct buf cad = BUF_INIT;
  struct ferr e;
  assert_true (cfdi_cadena (root, &cad, &e));
  char *sello = sign_b64 (s->key, cad.data, cad.len);
  xmlSetProp (root, BAD_CAST "Sello", BAD_CAST sello);
  free (sello);
  buf_free (&cad);
}

/* Serialises doc and verifies the bytes (the path a user's file takes). */
static bool
verify_doc_bytes (xmlDocPtr doc, struct cfdi_report *rep)
{
  xmlChar *mem = NULL;
  int len = 0;
  xmlDocDumpMemoryEnc (doc, &mem, &len, "UTF-8");
  bool ok = cfdi_verify_buffer ((char *)mem, (size_t)len, rep);
  xmlFree (mem);
  return ok;
}

static struct signer eku, xia;

/* ---- tests --------------------------------------------------------- */

/* SAT: every sample (real production, PAC test stamps, sealed-only,
 * Pagos 2.0, global, egreso) passes xsd, cadena, certificado, sello, rfc,
 * fecha, and for stamped ones tfd (SelloCFD) and sellosat with SAT's
 * certificate copied into data/sat/certs. */
static void
test_samples_pass (void **state)
{
  (void)state;
  int stamped = 0;
  for (int i = 0; i < n_samples; i++)
    {
      size_t len = 0;
      char *x = sample_bytes (i, &len);
      struct cfdi_report r;
      if (!cfdi_verify_buffer (x, len, &r))
        {
          dump_report (&r, sample_names[i]);
          fail_msg ("%s does not verify", sample_names[i]);
        }
      static const char *const names[] = { "parse",       "xsd",   "cadena",
                                           "certificado", "sello", "rfc",
                                           "fecha" };
      for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        expect (&r, names[k], CFDI_CHECK_OK, sample_names[i]);
      if (r.stamped)
        {
          stamped++;
          expect (&r, "tfd", CFDI_CHECK_OK, sample_names[i]);
          expect (&r, "sellosat", CFDI_CHECK_OK, sample_names[i]);
          assert_false (r.sandbox);
          assert_int_equal (strlen (r.uuid), 36);
        }
      else
        expect (&r, "tfd", CFDI_CHECK_SKIP, sample_names[i]);
      free (x);
    }
  assert_true (stamped >= 4);
}

/* SAT: one character changed in an amount, in a name, or in the Sello
 * breaks the Sello; in a stamped CFDI also the SelloCFD link; one changed
 * character in the TFD's UUID breaks the SelloSAT. */
static void
test_one_char_changed (void **state)
{
  (void)state;
  static const struct
  {
    const char *marker;
    int skip;
    const char *fails;
  } edits[] = {
    { " Total=\"", 0, "sello" }, /* an amount */
    { " SubTotal=\"", 0, "sello" },
    { " Nombre=\"", 1, "sello" },      /* Emisor's name */
    { " Descripcion=\"", 2, "sello" }, /* an item's description */
    { " Sello=\"", 10, "sello" },      /* the seal itself */
  };
  int n = 0;
  for (int i = 0; i < n_samples; i++)
    for (size_t k = 0; k < sizeof edits / sizeof *edits; k++)
      {
        size_t len = 0;
        char *x = sample_bytes (i, &len);
        char what[300];
        snprintf (what, sizeof what, "%s with %s+%d changed", sample_names[i],
                  edits[k].marker, edits[k].skip);
        assert_true (mutate_after (x, len, edits[k].marker, edits[k].skip));
        struct cfdi_report r;
        if (cfdi_verify_buffer (x, len, &r))
          {
            dump_report (&r, what);
            fail_msg ("%s still verifies", what);
          }
        expect (&r, edits[k].fails, CFDI_CHECK_FAIL, what);
        expect (&r, "xsd", CFDI_CHECK_OK, what);
        if (r.stamped && strstr (edits[k].marker, "Sello"))
          expect (&r, "tfd", CFDI_CHECK_FAIL, what);
        n++;
        free (x);
      }
  for (int i = 0; i < n_samples; i++)
    {
      /* stamped: the UUID */
      size_t len = 0;
      struct cfdi_report r;
      char *x = sample_bytes (i, &len);
      if (mutate_after (x, len, " UUID=\"", 3))
        {
          assert_false (cfdi_verify_buffer (x, len, &r));
          if (r.stamped)
            {
              expect (&r, "sellosat", CFDI_CHECK_FAIL, "UUID changed");
              expect (&r, "sello", CFDI_CHECK_OK, "UUID changed");
            }
        }
      free (x);
    }
  assert_true (n >= 5 * 8);
}

/* SAT: names with accents, ñ, &, <, >, quotes and runs of spaces, sealed
 * over the native cadena, serialised and read back, verify (what was
 * signed is what SAT recomputes); the same bytes with one name changed do
 * not. */
static void
test_resealed_names (void **state)
{
  (void)state;
  static const char *const names[] = {
    "JOS\xc3\x89 NU\xc3\x91"
    "EZ PE\xc3\x91"
    "A",
    "A & B <C> \"D\" 'E'",
    "  ESPACIOS   AL   INICIO Y FINAL  ",
    "TAB\tY\nSALTO",
    "\xc3\x91"
    "O\xc3\x91"
    "O & C\xc3\x8d"
    "A > 1",
  };
  for (int i = 0; i < n_samples; i++)
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
      {
        char path[1400];
        snprintf (path, sizeof path, "%s/%s", samples_dir, sample_names[i]);
        xmlDocPtr doc = xmlReadFile (path, NULL, XML_PARSE_NONET);
        xmlNodePtr root = xmlDocGetRootElement (doc);
        xmlSetProp (child (root, "Emisor"), BAD_CAST "Rfc",
                    BAD_CAST "EKU9003173C9");
        xmlSetProp (child (root, "Receptor"), BAD_CAST "Nombre",
                    BAD_CAST names[k]);
        xmlSetProp (child (child (root, "Conceptos"), "Concepto"),
                    BAD_CAST "Descripcion", BAD_CAST names[k]);
        reseal (doc, &eku);
        struct cfdi_report r;
        char what[300];
        snprintf (what, sizeof what, "%s resealed with Nombre \"%s\"",
                  sample_names[i], names[k]);
        if (!verify_doc_bytes (doc, &r))
          {
            dump_report (&r, what);
            fail_msg ("%s does not verify", what);
          }
        /* the name changed after sealing */
        xmlSetProp (child (root, "Receptor"), BAD_CAST "Nombre",
                    BAD_CAST "OTRO");
        assert_false (verify_doc_bytes (doc, &r));
        expect (&r, "sello", CFDI_CHECK_FAIL, what);
        xmlFreeDoc (doc);
      }
}

/* Anexo 20: NoCertificado must be the certificate's serial, Emisor Rfc
 * the certificate holder's RFC, Fecha inside the certificate's validity.
 * Each broken alone (the Sello re-made so that it still verifies). */
static void
test_certificate_rules (void **state)
{
  (void)state;
  char path[1400];
  snprintf (path, sizeof path, "%s/pago20-sealed.xml", samples_dir);
  struct cfdi_report r;

  /* Rfc of another taxpayer, validly sealed by EKU */
  xmlDocPtr doc = xmlReadFile (path, NULL, XML_PARSE_NONET);
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlSetProp (child (root, "Emisor"), BAD_CAST "Rfc",
              BAD_CAST "CACX7605101P8");
  reseal (doc, &eku);
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "rfc", CFDI_CHECK_FAIL, "rfc of another");
  expect (&r, "sello", CFDI_CHECK_OK, "rfc of another");
  expect (&r, "fecha", CFDI_CHECK_OK, "rfc of another");
  xmlFreeDoc (doc);

  /* sealed with a certificate expired before Fecha */
  doc = xmlReadFile (path, NULL, XML_PARSE_NONET);
  root = xmlDocGetRootElement (doc);
  xmlSetProp (child (root, "Emisor"), BAD_CAST "Rfc", BAD_CAST "XIA190128J61");
  xmlSetProp (root, BAD_CAST "Fecha", BAD_CAST "2023-06-18T14:15:16");
  reseal (doc, &xia);
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "fecha", CFDI_CHECK_FAIL, "expired certificate");
  expect (&r, "sello", CFDI_CHECK_OK, "expired certificate");
  expect (&r, "rfc", CFDI_CHECK_OK, "expired certificate");
  /* the same with a Fecha inside its validity passes */
  xmlSetProp (root, BAD_CAST "Fecha", BAD_CAST "2023-06-16T14:15:16");
  reseal (doc, &xia);
  if (!verify_doc_bytes (doc, &r))
    {
      dump_report (&r, "xia in validity");
      fail ();
    }
  /* before the certificate existed */
  xmlSetProp (root, BAD_CAST "Fecha", BAD_CAST "2019-06-16T14:15:16");
  reseal (doc, &xia);
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "fecha", CFDI_CHECK_FAIL, "before validity");
  xmlFreeDoc (doc);

  /* NoCertificado not the serial (Sello re-made over the wrong number) */
  doc = xmlReadFile (path, NULL, XML_PARSE_NONET);
  root = xmlDocGetRootElement (doc);
  struct signer wrong = eku;
  snprintf (wrong.no, sizeof wrong.no, "30001000000500003417");
  reseal (doc, &wrong);
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "certificado", CFDI_CHECK_FAIL, "NoCertificado");
  expect (&r, "sello", CFDI_CHECK_OK, "NoCertificado");

  /* Certificado of another taxpayer: the Sello no longer verifies */
  xmlSetProp (root, BAD_CAST "Certificado", BAD_CAST xia.cert_b64);
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "sello", CFDI_CHECK_FAIL, "other Certificado");
  /* an e.firma (FIEL: no OU in the subject) of the same RFC, sealing */
  {
    EVP_PKEY *k = EVP_RSA_gen (2048);
    X509 *x = X509_new ();
    X509_set_version (x, 2);
    ASN1_INTEGER *sn = ASN1_INTEGER_new ();
    ASN1_STRING_set (sn, "30001000000500009999", 20);
    X509_set_serialNumber (x, sn);
    ASN1_INTEGER_free (sn);
    X509_gmtime_adj (X509_getm_notBefore (x), -86400L * 3650);
    X509_gmtime_adj (X509_getm_notAfter (x), 86400L * 3650);
    X509_NAME *nm = X509_get_subject_name (x);
    X509_NAME_add_entry_by_txt (nm, "CN", MBSTRING_ASC,
                                (const unsigned char *)"ESCUELA KEMPER", -1,
                                -1, 0);
    X509_NAME_add_entry_by_NID (nm, NID_x500UniqueIdentifier, MBSTRING_ASC,
                                (const unsigned char *)"EKU9003173C9 / "
                                                       "VADA800927DJ3",
                                -1, -1, 0);
    X509_set_issuer_name (x, nm);
    X509_set_pubkey (x, k);
    assert_true (X509_sign (x, k, EVP_sha256 ()) > 0);
    unsigned char *der = NULL;
    int dl = i2d_X509 (x, &der);
    struct signer fiel = { k, b64 (der, (size_t)dl), "30001000000500009999" };
    OPENSSL_free (der);
    X509_free (x);
    xmlDocPtr d2 = xmlReadFile (path, NULL, XML_PARSE_NONET);
    reseal (d2, &fiel);
    assert_false (verify_doc_bytes (d2, &r));
    expect (&r, "certificado", CFDI_CHECK_FAIL, "FIEL");
    assert_string_equal (check (&r, "certificado")->code, "cfdi_cert_fiel");
    expect (&r, "sello", CFDI_CHECK_OK, "FIEL");
    expect (&r, "rfc", CFDI_CHECK_OK, "FIEL");
    xmlFreeDoc (d2);
    free (fiel.cert_b64);
    EVP_PKEY_free (k);
  }
  /* garbage Certificado */
  xmlSetProp (root, BAD_CAST "Certificado", BAD_CAST "TUlJ");
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "certificado", CFDI_CHECK_FAIL, "garbage Certificado");
  expect (&r, "sello", CFDI_CHECK_FAIL, "garbage Certificado");
  xmlFreeDoc (doc);
}

/* A certificate whose serial bytes are the ASCII digits `no`. */
static X509 *
make_cert (EVP_PKEY *key, const char *no)
{
  X509 *x = X509_new ();
  X509_set_version (x, 2);
  ASN1_INTEGER *sn = ASN1_INTEGER_new ();
  ASN1_STRING_set (sn, no, (int)strlen (no));
  X509_set_serialNumber (x, sn);
  ASN1_INTEGER_free (sn);
  X509_gmtime_adj (X509_getm_notBefore (x), -86400L * 3650);
  X509_gmtime_adj (X509_getm_notAfter (x), 86400L * 3650);
  X509_NAME *nm = X509_get_subject_name (x);
  X509_NAME_add_entry_by_txt (nm, "CN", MBSTRING_ASC,
                              (const unsigned char *)"FACTURO SANDBOX TEST",
                              -1, -1, 0);
  X509_set_issuer_name (x, nm);
  X509_set_pubkey (x, key);
  assert_true (X509_sign (x, key, EVP_sha256 ()) > 0);
  return x;
}

static void
write_der (const char *path, X509 *x)
{
  unsigned char *der = NULL;
  int n = i2d_X509 (x, &der);
  FILE *f = fopen (path, "wb");
  assert_non_null (f);
  fwrite (der, 1, (size_t)n, f);
  fclose (f);
  OPENSSL_free (der);
}

/* Adds a TFD 1.1 signed by key, NoCertificadoSAT = no. */
static void
stamp (xmlDocPtr doc, EVP_PKEY *key, const char *no)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr comp = child (root, "Complemento");
  if (comp == NULL)
    {
      comp = xmlNewDocNode (doc, root->ns, BAD_CAST "Complemento", NULL);
      /* Complemento goes after Impuestos/Conceptos, before Addenda */
      xmlNodePtr add = child (root, "Addenda");
      if (add)
        xmlAddPrevSibling (add, comp);
      else
        xmlAddChild (root, comp);
    }
  xmlNsPtr ns = xmlNewNs (comp, BAD_CAST CFDI_NS_TFD11, BAD_CAST "tfd");
  xmlNodePtr t = xmlNewChild (comp, ns, BAD_CAST "TimbreFiscalDigital", NULL);
  xmlNsPtr xsi = xmlSearchNsByHref (
      doc, root, BAD_CAST "http://www.w3.org/2001/XMLSchema-instance");
  if (xsi)
    xmlSetNsProp (t, xsi, BAD_CAST "schemaLocation",
                  BAD_CAST "http://www.sat.gob.mx/TimbreFiscalDigital "
                           "http://www.sat.gob.mx/sitio_internet/cfd/"
                           "TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd");
  xmlSetProp (t, BAD_CAST "Version", BAD_CAST "1.1");
  xmlSetProp (t, BAD_CAST "UUID",
              BAD_CAST "6F3E1D2C-0B4A-4C5D-8E7F-9A0B1C2D3E4F");
  xmlSetProp (t, BAD_CAST "FechaTimbrado", BAD_CAST "2024-06-15T15:58:42");
  xmlSetProp (t, BAD_CAST "RfcProvCertif", BAD_CAST "AAA010101AAA");
  xmlChar *sello = xmlGetNoNsProp (root, BAD_CAST "Sello");
  xmlSetProp (t, BAD_CAST "SelloCFD", sello);
  xmlFree (sello);
  xmlSetProp (t, BAD_CAST "NoCertificadoSAT", BAD_CAST no);
  struct buf cad = BUF_INIT;
  struct ferr e;
  assert_true (cfdi_tfd_cadena (t, &cad, &e));
  char *s = sign_b64 (key, cad.data, cad.len);
  xmlSetProp (t, BAD_CAST "SelloSAT", BAD_CAST s);
  free (s);
  buf_free (&cad);
}

/* facturo's sandbox PAC: a stamp whose NoCertificadoSAT is a certificate
 * in data/sandbox/ verifies and is reported "sandbox stamp: no fiscal
 * validity"; a NoCertificadoSAT nobody knows fails; a stamp signed by
 * another key with a known number fails. */
static void
test_sandbox_stamp (void **state)
{
  (void)state;
  EVP_PKEY *key = EVP_RSA_gen (2048);
  assert_non_null (key);
  X509 *x = make_cert (key, "99999000000000000042");
  char path[600];
  snprintf (path, sizeof path, "%s/sandbox/99999000000000000042.cer", tmpdir);
  write_der (path, x);
  X509_free (x);

  for (int i = 0; i < n_samples; i++)
    {
      char sp[1400];
      snprintf (sp, sizeof sp, "%s/%s", samples_dir, sample_names[i]);
      xmlDocPtr doc = xmlReadFile (sp, NULL, XML_PARSE_NONET);
      xmlNodePtr root = xmlDocGetRootElement (doc);
      xmlSetProp (child (root, "Emisor"), BAD_CAST "Rfc",
                  BAD_CAST "EKU9003173C9");
      reseal (doc, &eku);
      stamp (doc, key, "99999000000000000042");
      struct cfdi_report r;
      if (!verify_doc_bytes (doc, &r))
        {
          dump_report (&r, sample_names[i]);
          fail_msg ("%s: sandbox stamp does not verify", sample_names[i]);
        }
      assert_true (r.stamped);
      assert_true (r.sandbox);
      expect (&r, "sandbox", CFDI_CHECK_NOTE, "sandbox");
      assert_non_null (strstr (check (&r, "sandbox")->detail,
                               "sandbox stamp: no fiscal validity"));
      xmlFreeDoc (doc);
    }

  /* unknown number */
  char sp[1400];
  snprintf (sp, sizeof sp, "%s/%s", samples_dir, sample_names[0]);
  xmlDocPtr doc = xmlReadFile (sp, NULL, XML_PARSE_NONET);
  xmlSetProp (child (xmlDocGetRootElement (doc), "Emisor"), BAD_CAST "Rfc",
              BAD_CAST "EKU9003173C9");
  reseal (doc, &eku);
  stamp (doc, key, "99999000000000000043");
  struct cfdi_report r;
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "sellosat", CFDI_CHECK_FAIL, "unknown NoCertificadoSAT");
  assert_string_equal (check (&r, "sellosat")->code, "cfdi_sat_cert_unknown");
  assert_false (r.sandbox);
  xmlFreeDoc (doc);

  /* SAT's number, but signed by our key: not SAT's seal */
  doc = xmlReadFile (sp, NULL, XML_PARSE_NONET);
  xmlSetProp (child (xmlDocGetRootElement (doc), "Emisor"), BAD_CAST "Rfc",
              BAD_CAST "EKU9003173C9");
  reseal (doc, &eku);
  stamp (doc, key, "30001000000500003456");
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "sellosat", CFDI_CHECK_FAIL, "forged SAT stamp");
  assert_false (r.sandbox);
  xmlFreeDoc (doc);
  EVP_PKEY_free (key);
}

/* Hostile input: oversize, DOCTYPE/XXE, billion laughs, UTF-16, deep
 * nesting, garbage, truncation: refused at parse, nothing else runs. */
static void
test_hostile_input (void **state)
{
  (void)state;
  struct cfdi_report r;
  static const struct
  {
    const char *xml;
    const char *code;
  } cases[] = {
    { "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM "
      "\"file:///etc/passwd\">]><x>&e;</x>",
      "cfdi_doctype" },
    { "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaa\">"
      "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><l>&b;</l>",
      "cfdi_doctype" },
    { "not xml at all", "cfdi_not_xml" },
    { "<cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/4\"",
      "cfdi_not_xml" },
    { "", "cfdi_not_xml" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    {
      assert_false (
          cfdi_verify_buffer (cases[i].xml, strlen (cases[i].xml), &r));
      assert_int_equal (r.n, 1);
      expect (&r, "parse", CFDI_CHECK_FAIL, cases[i].xml);
      assert_string_equal (r.checks[0].code, cases[i].code);
    }
  /* UTF-16 */
  static const char u16[] = "\xff\xfe<\0x\0/\0>\0";
  assert_false (cfdi_verify_buffer (u16, sizeof u16 - 1, &r));
  assert_string_equal (r.checks[0].code, "cfdi_not_utf8");
  /* deep */
  struct buf b = BUF_INIT;
  for (int i = 0; i < 100; i++)
    buf_puts (&b, "<a>");
  for (int i = 0; i < 100; i++)
    buf_puts (&b, "</a>");
  assert_false (cfdi_verify_buffer (b.data, b.len, &r));
  assert_string_equal (r.checks[0].code, "cfdi_too_deep");
  /* oversize: never read past the bound */
  buf_free (&b);
  size_t big = CFDI_VERIFY_MAX_INPUT + 1;
  char *huge = malloc (big);
  memset (huge, ' ', big);
  assert_false (cfdi_verify_buffer (huge, big, &r));
  assert_string_equal (r.checks[0].code, "cfdi_too_large");
  free (huge);
  /* not a CFDI: parses, then xsd and cadena fail */
  const char *other = "<x/>";
  assert_false (cfdi_verify_buffer (other, strlen (other), &r));
  expect (&r, "parse", CFDI_CHECK_OK, "x");
  expect (&r, "xsd", CFDI_CHECK_FAIL, "x");
  expect (&r, "cadena", CFDI_CHECK_FAIL, "x");
  expect (&r, "sello", CFDI_CHECK_FAIL, "x");
}

/* An unsupported complement (nómina) fails xsd and cadena (refused, never
 * a wrong cadena); an Addenda is ignored by both, as at a PAC. */
static void
test_complements (void **state)
{
  (void)state;
  char sp[1400];
  snprintf (sp, sizeof sp, "%s/pago20-sealed.xml", samples_dir);
  xmlDocPtr doc = xmlReadFile (sp, NULL, XML_PARSE_NONET);
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr ad = xmlNewChild (root, root->ns, BAD_CAST "Addenda", NULL);
  xmlNodePtr any = xmlNewDocNode (doc, NULL, BAD_CAST "MiAddenda", NULL);
  xmlAddChild (ad, any);
  xmlSetProp (any, BAD_CAST "pedido", BAD_CAST "123");
  struct cfdi_report r;
  if (!verify_doc_bytes (doc, &r))
    {
      dump_report (&r, "addenda");
      fail ();
    }
  xmlNodePtr comp = child (root, "Complemento");
  xmlNsPtr nom = xmlNewNs (root, BAD_CAST "http://www.sat.gob.mx/nomina12",
                           BAD_CAST "nomina12");
  xmlNewChild (comp, nom, BAD_CAST "Nomina", NULL);
  assert_false (verify_doc_bytes (doc, &r));
  expect (&r, "xsd", CFDI_CHECK_FAIL, "nomina");
  expect (&r, "cadena", CFDI_CHECK_FAIL, "nomina");
  assert_string_equal (check (&r, "cadena")->code,
                       "cfdi_unsupported_complement");
  xmlFreeDoc (doc);
}

static void *
verify_all (void *arg)
{
  long bad = 0;
  for (int round = 0; round < 5; round++)
    for (int i = 0; i < n_samples; i++)
      {
        size_t len = 0;
        char path[1400];
        snprintf (path, sizeof path, "%s/%s", samples_dir, sample_names[i]);
        char *x = slurp (path, &len);
        struct cfdi_report r;
        if (x == NULL || !cfdi_verify_buffer (x, len, &r))
          bad++;
        free (x);
      }
  (void)arg;
  return (void *)bad;
}

/* Thread safety: the schema is compiled once (the four threads race for
 * the first use) and shared; four threads verifying every sample at once
 * all pass (also run under ASan and TSan). */
static void
test_threads (void **state)
{
  (void)state;
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal (pthread_create (&th[i], NULL, verify_all, NULL), 0);
  for (int i = 0; i < 4; i++)
    {
      void *bad;
      pthread_join (th[i], &bad);
      assert_int_equal ((long)bad, 0);
    }
}

static void
link_into (const char *target, const char *name)
{
  char p[600];
  snprintf (p, sizeof p, "%s/%s", tmpdir, name);
  assert_int_equal (symlink (target, p), 0);
}

int
main (void)
{
  const char *sh = getenv ("FACTURO_SHARED");
  const char *src = getenv ("FACTURO_SRC");
  snprintf (shared, sizeof shared, "%s", sh ? sh : "../shared");
  snprintf (samples_dir, sizeof samples_dir, "%s/sat/samples", shared);

  /* A private data folder: SAT's schemas and certificates from the tree,
   * plus a sandbox/ of our own. */
  snprintf (tmpdir, sizeof tmpdir, "/tmp/facturo-verify-XXXXXX");
  if (mkdtemp (tmpdir) == NULL)
    return 1;
  char p[600], t[1200];
  snprintf (p, sizeof p, "%s/sat", tmpdir);
  mkdir (p, 0700);
  snprintf (p, sizeof p, "%s/sandbox", tmpdir);
  mkdir (p, 0700);
  snprintf (t, sizeof t, "%s/data/sat/xsd", src ? src : ".");
  link_into (t, "sat/xsd");
  snprintf (t, sizeof t, "%s/data/sat/certs", src ? src : ".");
  link_into (t, "sat/certs");
  setenv ("FACTURO_DATA", tmpdir, 1);

  n_samples = samples_list (samples_dir, sample_names, 64);
  if (n_samples < 0)
    return 1;
  signer_load (&eku, "EKU9003173C9", "EKU9003173C9");
  signer_load (&xia, "expired/XIA190128J61", "XIA190128J61");

  const struct CMUnitTest tests[] = {
    /* first, so that the threads race to compile the schema */
    cmocka_unit_test (test_threads),
    cmocka_unit_test (test_samples_pass),
    cmocka_unit_test (test_one_char_changed),
    cmocka_unit_test (test_resealed_names),
    cmocka_unit_test (test_certificate_rules),
    cmocka_unit_test (test_sandbox_stamp),
    cmocka_unit_test (test_hostile_input),
    cmocka_unit_test (test_complements),
  };
  int rc = cmocka_run_group_tests (tests, NULL, NULL);

  snprintf (t, sizeof t, "rm -rf '%s'", tmpdir);
  if (system (t) != 0)
    rc = rc ? rc : 1;
  EVP_PKEY_free (eku.key);
  EVP_PKEY_free (xia.key);
  free (eku.cert_b64);
  free (xia.cert_b64);
  for (int i = 0; i < n_samples; i++)
    free (sample_names[i]);
  return rc;
}
