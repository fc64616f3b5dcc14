/*
 * test_csd.c — CSD loading, refusals and sealing against SAT's test files.
 *
 * Proves: SAT's test CSDs load with the right NoCertificado/RFC/name;
 * csd_sign reproduces a real sample's Sello byte for byte; every refusal
 * (expired, not yet valid, wrong password, foreign key, FIEL, not RSA,
 * garbage, truncated, oversize) gives its stable code; signing from 8
 * threads at once gives correct signatures.  Needs ../shared/sat
 * (FACTURO_SHARED) and the openssl command (to make FIEL-like and EC
 * certificates).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>

#include "cfdi/csd.h"

#define PASS "12345678a"

static char sat[512];
static char tmpdir[256];

static void
path (char *out, size_t cap, const char *rel)
{
  snprintf (out, cap, "%.300s/%.280s", sat, rel);
}

static struct buf
slurp (const char *p)
{
  struct buf b = BUF_INIT;
  if (read_file (p, &b, 0) != 0)
    fail_msg ("cannot read %s", p);
  return b;
}

static struct csd *
load_pair (const char *cer_rel, const char *key_rel, const char *pw,
           time_t now, struct ferr *e)
{
  char c[600], k[600];
  path (c, sizeof c, cer_rel);
  path (k, sizeof k, key_rel);
  return csd_load_files (c, k, pw, now, e);
}

/* A root attribute of a sample XML, malloc'd. */
static char *
sample_attr (const char *rel, const char *name)
{
  char p[600];
  path (p, sizeof p, rel);
  xmlDocPtr d = xmlReadFile (p, NULL, XML_PARSE_NONET);
  assert_non_null (d);
  xmlChar *v
      = xmlGetNoNsProp (xmlDocGetRootElement (d), (const xmlChar *)name);
  assert_non_null (v);
  char *s = strdup ((const char *)v);
  xmlFree (v);
  xmlFreeDoc (d);
  return s;
}

static time_t
utc (int y, int m, int d)
{
  struct tm tm = { 0 };
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  return timegm (&tm);
}

/* SAT: Anexo 20, NoCertificado = serial as ASCII digits; RFC and name
 * from the subject. */
static void
test_load_eku (void **state)
{
  struct ferr e = { 0 };
  struct csd *c
      = load_pair ("csd/EKU9003173C9/EKU9003173C9.cer",
                   "csd/EKU9003173C9/EKU9003173C9.key", PASS, time (NULL), &e);
  assert_non_null (c);
  assert_string_equal (csd_no_certificado (c), "30001000000500003416");
  assert_string_equal (csd_rfc (c), "EKU9003173C9");
  assert_string_equal (csd_name (c), "ESCUELA KEMPER URGATE SA DE CV");
  assert_string_equal (csd_cert (c)->rfc_representative, "VADA800927DJ3");
  assert_string_equal (csd_cert (c)->unit, "Sucursal 1");
  assert_int_equal (csd_cert (c)->kind, CSD_KIND_CSD);
  assert_int_equal (csd_cert (c)->key_bits, 2048);
  assert_true (csd_not_before (c) >= utc (2023, 5, 18));
  assert_true (csd_not_before (c) < utc (2023, 5, 19));
  assert_true (csd_not_after (c) >= utc (2027, 5, 18));
  assert_true (csd_not_after (c) < utc (2027, 5, 19));
  /* Certificado = the same base64 a real sealed sample carries */
  char *cer = sample_attr ("samples/ingreso-usd-discounts-sealed.xml",
                           "Certificado");
  assert_string_equal (csd_certificado_b64 (c), cer);
  free (cer);
  csd_free (c);
}

static void
test_load_cacx (void **state)
{
  struct ferr e = { 0 };
  struct csd *c = load_pair ("csd/CACX7605101P8/CACX7605101P8.cer",
                             "csd/CACX7605101P8/CACX7605101P8.key", PASS,
                             time (NULL), &e);
  assert_non_null (c);
  assert_string_equal (csd_no_certificado (c), "30001000000500003316");
  assert_string_equal (csd_rfc (c), "CACX7605101P8");
  assert_string_equal (csd_name (c), "XOCHILT CASAS CHAVEZ");
  assert_string_equal (csd_cert (c)->curp, "CACX760510MGTSHC04");
  csd_free (c);
}

/* SAT: the Sello is RSA-SHA256 PKCS#1 v1.5 (deterministic), base64. */
static void
test_sign_matches_sample (void **state)
{
  struct ferr e = { 0 };
  struct csd *c
      = load_pair ("csd/EKU9003173C9/EKU9003173C9.cer",
                   "csd/EKU9003173C9/EKU9003173C9.key", PASS, time (NULL), &e);
  assert_non_null (c);
  char p[600];
  path (p, sizeof p, "samples/ingreso-usd-discounts-sealed.cadena.txt");
  struct buf cad = slurp (p);
  struct buf sig = BUF_INIT;
  assert_true (csd_sign (c, cad.data, cad.len, &sig, &e));
  char *sello
      = sample_attr ("samples/ingreso-usd-discounts-sealed.xml", "Sello");
  assert_string_equal (sig.data, sello);
  /* and the public side verifies it; one changed byte does not */
  assert_true (csd_cert_verify (csd_cert (c), cad.data, cad.len, sello, &e));
  cad.data[10] ^= 1;
  assert_false (csd_cert_verify (csd_cert (c), cad.data, cad.len, sello, &e));
  assert_string_equal (e.code, "csd_sello_mismatch");
  assert_false (csd_cert_verify (csd_cert (c), cad.data, cad.len, "@@@", &e));
  assert_string_equal (e.code, "csd_sello_base64");
  free (sello);
  buf_free (&sig);
  buf_free (&cad);
  csd_free (c);
}

/* The verifier's loader: base64 text (the Certificado attribute) or DER. */
static void
test_cert_parse_b64 (void **state)
{
  struct ferr e = { 0 };
  char *cer = sample_attr ("samples/pago20-sealed.xml", "Certificado");
  struct csd_cert *c = csd_cert_parse ((const uint8_t *)cer, strlen (cer), &e);
  assert_non_null (c);
  assert_string_equal (c->no_certificado, "30001000000500003416");
  assert_string_equal (c->rfc, "EKU9003173C9");
  assert_true (c->is_rsa);
  assert_string_equal (c->b64, cer);
  assert_true (csd_cert_check_time (c, utc (2024, 1, 1), &e));
  assert_false (csd_cert_check_time (c, utc (2028, 1, 1), &e));
  assert_string_equal (e.code, "csd_expired");
  csd_cert_free (c);
  free (cer);
  csd_cert_free (NULL);
  csd_free (NULL);
}

/* Expired certificates: refused today, accepted inside their validity. */
static void
test_expired (void **state)
{
  static const char *const rfcs[] = { "XIA190128J61", "FUNK671228PH6" };
  for (int i = 0; i < 2; i++)
    {
      char c[200], k[200];
      snprintf (c, sizeof c, "csd/expired/%s/%s.cer", rfcs[i], rfcs[i]);
      snprintf (k, sizeof k, "csd/expired/%s/%s.key", rfcs[i], rfcs[i]);
      struct ferr e = { 0 };
      assert_null (load_pair (c, k, PASS, time (NULL), &e));
      assert_string_equal (e.code, "csd_expired");
      assert_non_null (strstr (e.message, "expired on 2023-"));
      struct csd *ok = load_pair (c, k, PASS, utc (2021, 1, 1), &e);
      assert_non_null (ok);
      assert_string_equal (csd_rfc (ok), rfcs[i]);
      csd_free (ok);
    }
  struct ferr e = { 0 };
  assert_null (load_pair ("csd/EKU9003173C9/EKU9003173C9.cer",
                          "csd/EKU9003173C9/EKU9003173C9.key", PASS,
                          utc (2020, 1, 1), &e));
  assert_string_equal (e.code, "csd_not_yet_valid");
}

static void
test_wrong_password (void **state)
{
  struct ferr e = { 0 };
  assert_null (load_pair ("csd/EKU9003173C9/EKU9003173C9.cer",
                          "csd/EKU9003173C9/EKU9003173C9.key", "12345678b",
                          time (NULL), &e));
  assert_string_equal (e.code, "csd_password_wrong");
  assert_null (load_pair ("csd/EKU9003173C9/EKU9003173C9.cer",
                          "csd/EKU9003173C9/EKU9003173C9.key", "", time (NULL),
                          &e));
  assert_string_equal (e.code, "csd_password_wrong");
  assert_null (load_pair ("csd/EKU9003173C9/EKU9003173C9.cer",
                          "csd/EKU9003173C9/EKU9003173C9.key", NULL,
                          time (NULL), &e));
  assert_string_equal (e.code, "csd_password_wrong");
}

static void
test_key_of_other_cert (void **state)
{
  struct ferr e = { 0 };
  assert_null (load_pair ("csd/EKU9003173C9/EKU9003173C9.cer",
                          "csd/CACX7605101P8/CACX7605101P8.key", PASS,
                          time (NULL), &e));
  assert_string_equal (e.code, "csd_key_mismatch");
  assert_non_null (strstr (e.message, "30001000000500003416"));
}

/* Makes a self-signed certificate + encrypted PKCS#8 DER key with openssl.
 * alg: "rsa" or "ec"; subj: the -subj string; ku: keyUsage value. */
static void
make_cert (const char *name, const char *alg, const char *subj, const char *ku,
           const char *eku)
{
  char cmd[2048];
  snprintf (cmd, sizeof cmd,
            "set -e; cd %s; "
            "openssl genpkey %s -out %s.pem 2>/dev/null; "
            "openssl req -new -x509 -key %s.pem -days 30 -sha256 "
            "-set_serial 0x3330303031303030303030353030303039393939 "
            "-subj '%s' -addext 'keyUsage=%s' %s%s%s "
            "-outform DER -out %s.cer; "
            "openssl pkcs8 -topk8 -v2 des3 -in %s.pem -passout pass:" PASS
            " -outform DER -out %s.key",
            tmpdir,
            strcmp (alg, "ec") == 0
                ? "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
                : "-algorithm RSA -pkeyopt rsa_keygen_bits:2048",
            name, name, subj, ku, eku ? "-addext 'extendedKeyUsage=" : "",
            eku ? eku : "", eku ? "'" : "", name, name, name);
  assert_int_equal (system (cmd), 0);
}

static struct csd *
load_tmp (const char *name, struct ferr *e)
{
  char c[400], k[400];
  snprintf (c, sizeof c, "%s/%s.cer", tmpdir, name);
  snprintf (k, sizeof k, "%s/%s.key", tmpdir, name);
  return csd_load_files (c, k, PASS, time (NULL), e);
}

/* The CSD/FIEL rule (docs/stamping.md): a FIEL has no OU, and/or
 * keyUsage dataEncipherment/keyAgreement, and/or EKU email/clientAuth. */
static void
test_fiel_refused (void **state)
{
  const char *csd_subj = "/CN=PRUEBA SA/x500UniqueIdentifier=AAA010101AAA"
                         " \\/ HEGT7610034S2/OU=Sucursal 1";
  const char *fiel_subj = "/CN=PRUEBA SA/x500UniqueIdentifier=AAA010101AAA"
                          " \\/ HEGT7610034S2";
  struct ferr e = { 0 };

  /* control: a generated CSD-shaped pair loads (so refusals below are
   * due to the FIEL marks only) */
  make_cert ("csdlike", "rsa", csd_subj, "digitalSignature,nonRepudiation",
             NULL);
  struct csd *c = load_tmp ("csdlike", &e);
  assert_non_null (c);
  assert_string_equal (csd_rfc (c), "AAA010101AAA");
  assert_string_equal (csd_no_certificado (c), "30001000000500009999");
  csd_free (c);

  /* SAT's FIEL layout: no OU, 4 key usages, EKU */
  make_cert ("fiel", "rsa", fiel_subj,
             "digitalSignature,nonRepudiation,dataEncipherment,keyAgreement",
             "emailProtection,clientAuth");
  assert_null (load_tmp ("fiel", &e));
  assert_string_equal (e.code, "csd_is_fiel");

  /* each mark alone is enough */
  make_cert ("fiel_noou", "rsa", fiel_subj, "digitalSignature,nonRepudiation",
             NULL);
  assert_null (load_tmp ("fiel_noou", &e));
  assert_string_equal (e.code, "csd_is_fiel");
  make_cert ("fiel_ku", "rsa", csd_subj,
             "digitalSignature,nonRepudiation,keyAgreement", NULL);
  assert_null (load_tmp ("fiel_ku", &e));
  assert_string_equal (e.code, "csd_is_fiel");
  make_cert ("fiel_eku", "rsa", csd_subj, "digitalSignature,nonRepudiation",
             "clientAuth");
  assert_null (load_tmp ("fiel_eku", &e));
  assert_string_equal (e.code, "csd_is_fiel");
}

static void
test_not_rsa (void **state)
{
  struct ferr e = { 0 };
  make_cert ("ec", "ec", "/CN=EC SA/x500UniqueIdentifier=AAA010101AAA/OU=S1",
             "digitalSignature,nonRepudiation", NULL);
  assert_null (load_tmp ("ec", &e));
  assert_string_equal (e.code, "csd_not_rsa");
}

static void
test_garbage_and_truncated (void **state)
{
  char cp[600], kp[600];
  path (cp, sizeof cp, "csd/EKU9003173C9/EKU9003173C9.cer");
  path (kp, sizeof kp, "csd/EKU9003173C9/EKU9003173C9.key");
  struct buf cer = slurp (cp), key = slurp (kp);
  struct ferr e = { 0 };
  const uint8_t *C = (const uint8_t *)cer.data, *K = (const uint8_t *)key.data;
  time_t now = time (NULL);

  /* sanity: whole files load */
  struct csd *c = csd_load (C, cer.len, K, key.len, PASS, now, &e);
  assert_non_null (c);
  csd_free (c);

  /* truncated certificate at several points */
  size_t cuts[] = { 1, 10, cer.len / 2, cer.len - 1 };
  for (size_t i = 0; i < 4; i++)
    {
      assert_null (csd_load (C, cuts[i], K, key.len, PASS, now, &e));
      assert_string_equal (e.code, "csd_cert_invalid");
    }
  /* truncated key */
  size_t kcuts[] = { 1, 16, key.len / 2, key.len - 1 };
  for (size_t i = 0; i < 4; i++)
    {
      assert_null (csd_load (C, cer.len, K, kcuts[i], PASS, now, &e));
      assert_string_equal (e.code, "csd_key_invalid");
    }
  /* trailing garbage */
  struct buf big = BUF_INIT;
  buf_append (&big, cer.data, cer.len);
  buf_append (&big, "xx", 2);
  assert_null (csd_load ((const uint8_t *)big.data, big.len, K, key.len, PASS,
                         now, &e));
  assert_string_equal (e.code, "csd_cert_invalid");
  /* garbage */
  uint8_t junk[1500];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (uint8_t)(i * 7919u + 13u);
  assert_null (csd_load (junk, sizeof junk, K, key.len, PASS, now, &e));
  assert_string_equal (e.code, "csd_cert_invalid");
  assert_null (csd_load (C, cer.len, junk, sizeof junk, PASS, now, &e));
  assert_string_equal (e.code, "csd_key_invalid");
  /* key and certificate swapped */
  assert_null (csd_load (K, key.len, C, cer.len, PASS, now, &e));
  assert_string_equal (e.code, "csd_cert_invalid");
  /* empty and oversize */
  assert_null (csd_load (C, 0, K, key.len, PASS, now, &e));
  assert_string_equal (e.code, "csd_cert_invalid");
  assert_null (csd_load (C, cer.len, K, 0, PASS, now, &e));
  assert_string_equal (e.code, "csd_key_invalid");
  uint8_t *huge = calloc (1, CSD_MAX_FILE + 1);
  huge[0] = 0x30;
  assert_null (csd_load (huge, CSD_MAX_FILE + 1, K, key.len, PASS, now, &e));
  assert_string_equal (e.code, "csd_too_large");
  free (huge);
  /* missing file */
  assert_null (csd_load_files ("/nonexistent/x.cer", kp, PASS, now, &e));
  assert_string_equal (e.code, "csd_file_unreadable");
  buf_free (&big);
  buf_free (&cer);
  buf_free (&key);
}

/* Thread safety: 8 threads sign at once; every signature equals the one
 * computed alone. */
#define NTHREADS 8
#define NSIGS 40

struct job
{
  const struct csd *c;
  int id;
  int bad;
};

static char expected[NTHREADS][NSIGS][400];

static void *
worker (void *arg)
{
  struct job *j = arg;
  for (int i = 0; i < NSIGS; i++)
    {
      char msg[64];
      int n = snprintf (msg, sizeof msg, "||4.0|thread %d|sig %d||", j->id, i);
      struct buf b = BUF_INIT;
      struct ferr e;
      if (!csd_sign (j->c, msg, (size_t)n, &b, &e)
          || strcmp (b.data, expected[j->id][i]) != 0)
        j->bad++;
      buf_free (&b);
    }
  return NULL;
}

static void
test_threads (void **state)
{
  struct ferr e = { 0 };
  struct csd *c
      = load_pair ("csd/EKU9003173C9/EKU9003173C9.cer",
                   "csd/EKU9003173C9/EKU9003173C9.key", PASS, time (NULL), &e);
  assert_non_null (c);
  for (int t = 0; t < NTHREADS; t++)
    for (int i = 0; i < NSIGS; i++)
      {
        char msg[64];
        int n = snprintf (msg, sizeof msg, "||4.0|thread %d|sig %d||", t, i);
        struct buf b = BUF_INIT;
        assert_true (csd_sign (c, msg, (size_t)n, &b, &e));
        assert_true (
            csd_cert_verify (csd_cert (c), msg, (size_t)n, b.data, &e));
        snprintf (expected[t][i], sizeof expected[t][i], "%s", b.data);
        buf_free (&b);
      }
  pthread_t th[NTHREADS];
  struct job jobs[NTHREADS];
  for (int t = 0; t < NTHREADS; t++)
    {
      jobs[t] = (struct job){ c, t, 0 };
      assert_int_equal (pthread_create (&th[t], NULL, worker, &jobs[t]), 0);
    }
  for (int t = 0; t < NTHREADS; t++)
    {
      pthread_join (th[t], NULL);
      assert_int_equal (jobs[t].bad, 0);
    }
  csd_free (c);
}

int
main (void)
{
  const char *sh = getenv ("FACTURO_SHARED");
  snprintf (sat, sizeof sat, "%s/sat", sh ? sh : "../shared");
  snprintf (tmpdir, sizeof tmpdir, "/tmp/facturo-test-csd-XXXXXX");
  if (mkdtemp (tmpdir) == NULL)
    return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_load_eku),
    cmocka_unit_test (test_load_cacx),
    cmocka_unit_test (test_sign_matches_sample),
    cmocka_unit_test (test_cert_parse_b64),
    cmocka_unit_test (test_expired),
    cmocka_unit_test (test_wrong_password),
    cmocka_unit_test (test_key_of_other_cert),
    cmocka_unit_test (test_fiel_refused),
    cmocka_unit_test (test_not_rsa),
    cmocka_unit_test (test_garbage_and_truncated),
    cmocka_unit_test (test_threads),
  };
  int rc = cmocka_run_group_tests (tests, NULL, NULL);
  char cmd[400];
  snprintf (cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system (cmd) != 0)
    rc = rc ? rc : 1;
  return rc;
}
