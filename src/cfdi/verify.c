/*
 * verify.c — `facturo cfdi verify` and `facturo cfdi cadena`: every check
 * SAT makes on a CFDI 4.0's structure and seals (see verify.h for the
 * list), on documents from anyone.
 *
 * Input is hostile: it is bounded (size, depth), refused if it has a
 * DOCTYPE (no entities, no DTD, no network: XXE-safe), and parse errors are
 * captured, never printed.  SAT's schema is compiled once per process and
 * shared read-only between threads, which libxml2 allows for an
 * xmlSchemaPtr; every validation has its own context.
 *
 * Certificates are read with cfdi/csd.h (csd_cert_parse, csd_cert_verify),
 * the same code that seals, so both sides agree on serial and RFC forms.
 *
 * Owner: verify.
 */
#define _GNU_SOURCE /* memmem */
#include "cfdi/verify.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "cfdi/cadena.h"
#include "cfdi/csd.h"
#include "util/buf.h"
#include "util/tz.h"

/* ---- data folder, schema ------------------------------------------- */

static const char *
data_dir (void)
{
  const char *d = getenv ("FACTURO_DATA");
  return d != NULL && d[0] != '\0' ? d : FACTURO_DATADIR;
}

/* libxml2 wants xmlInitParser once, before threads use it. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void
init_libxml (void)
{
  xmlInitParser ();
}

static pthread_once_t schema_once = PTHREAD_ONCE_INIT;
static xmlSchemaPtr schema;
static char schema_error[1200];

/* Keeps the first schema-load error for the report. */
static void
schema_load_error (void *ctx, xmlErrorPtr e)
{
  (void)ctx;
  if (schema_error[0] == '\0' && e != NULL && e->message != NULL)
    snprintf (schema_error, sizeof schema_error, "%s", e->message);
}

static void
schema_load (void)
{
  char path[1024];
  pthread_once (&init_once, init_libxml);
  snprintf (path, sizeof path, "%s/sat/xsd/cfdi40-bundle.xsd", data_dir ());
  xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt (path);
  if (pc == NULL)
    {
      snprintf (schema_error, sizeof schema_error, "cannot read %s", path);
      return;
    }
  xmlSchemaSetParserStructuredErrors (pc, schema_load_error, NULL);
  schema = xmlSchemaParse (pc);
  xmlSchemaFreeParserCtxt (pc);
  if (schema == NULL && schema_error[0] == '\0')
    snprintf (schema_error, sizeof schema_error, "cannot compile %s", path);
}

struct first_error
{
  char msg[256];
  int line;
};

static void
keep_first (void *ctx, xmlErrorPtr e)
{
  struct first_error *fe = ctx;
  if (fe->msg[0] != '\0' || e == NULL || e->message == NULL)
    return;
  snprintf (fe->msg, sizeof fe->msg, "%s", e->message);
  size_t n = strlen (fe->msg);
  while (n > 0 && (fe->msg[n - 1] == '\n' || fe->msg[n - 1] == ' '))
    fe->msg[--n] = '\0';
  fe->line = e->line;
}

static xmlNodePtr
child_elem (xmlNodePtr n, const char *ns, const char *name)
{
  for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns != NULL
        && strcmp ((const char *)c->ns->href, ns) == 0
        && strcmp ((const char *)c->name, name) == 0)
      return c;
  return NULL;
}

bool
cfdi_xsd_validate (xmlDocPtr doc, struct ferr *err)
{
  pthread_once (&schema_once, schema_load);
  if (schema == NULL)
    return ferr_set (err, "cfdi_xsd_unavailable", "",
                     "SAT's schemas could not be loaded: %s",
                     "no se pudieron cargar los esquemas del SAT: %s",
                     schema_error);
  xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt (schema);
  if (vc == NULL)
    return ferr_set (err, "cfdi_xsd_unavailable", "", "out of memory",
                     "memoria agotada");
  struct first_error fe = { "", 0 };
  xmlSchemaSetValidStructuredErrors (vc, keep_first, &fe);

  /* PACs validate without the Addenda (free-form, not in SAT's schema). */
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr addenda = child_elem (root, CFDI_NS_CFDI40, "Addenda");
  xmlNodePtr prev = addenda ? addenda->prev : NULL;
  if (addenda != NULL)
    xmlUnlinkNode (addenda);
  int rc = xmlSchemaValidateDoc (vc, doc);
  if (addenda != NULL)
    {
      if (prev != NULL)
        xmlAddNextSibling (prev, addenda);
      else if (root->children != NULL)
        xmlAddPrevSibling (root->children, addenda);
      else
        xmlAddChild (root, addenda);
    }
  xmlSchemaFreeValidCtxt (vc);
  if (rc != 0)
    return ferr_set (err, "cfdi_xsd_invalid", "", "line %d: %s",
                     "línea %d: %s", fe.line,
                     fe.msg[0] ? fe.msg : "not valid");
  return true;
}

/* ---- parsing ------------------------------------------------------- */

static bool
depth_ok (xmlNodePtr root)
{
  int depth = 0;
  xmlNodePtr n = root;
  while (n != NULL)
    {
      if (n->type == XML_ELEMENT_NODE && n->children != NULL)
        {
          if (++depth > CFDI_VERIFY_MAX_DEPTH)
            return false;
          n = n->children;
          continue;
        }
      while (n != NULL && n->next == NULL)
        {
          n = n->parent;
          depth--;
          if (n == root || n == NULL)
            return true;
        }
      if (n != NULL)
        n = n->next;
    }
  return true;
}

xmlDocPtr
cfdi_parse_untrusted (const char *xml, size_t len, struct ferr *err)
{
  if (len > CFDI_VERIFY_MAX_INPUT)
    {
      ferr_set (err, "cfdi_too_large", "", "larger than %u bytes",
                "más de %u bytes", CFDI_VERIFY_MAX_INPUT);
      return NULL;
    }
  if (xml == NULL || len == 0)
    {
      ferr_set (err, "cfdi_not_xml", "", "empty document", "documento vacío");
      return NULL;
    }
  /* UTF-16/32 (and anything with NUL bytes) is not a CFDI. */
  if (memchr (xml, '\0', len) != NULL)
    {
      ferr_set (err, "cfdi_not_utf8", "",
                "the document is not UTF-8 (it contains NUL bytes)",
                "el documento no es UTF-8 (contiene bytes NUL)");
      return NULL;
    }
  /* No DTD at all: no entities to expand, nothing to fetch. */
  if (memmem (xml, len, "<!DOCTYPE", 9) != NULL
      || memmem (xml, len, "<!ENTITY", 8) != NULL)
    {
      ferr_set (err, "cfdi_doctype", "", "a DOCTYPE is not allowed in a CFDI",
                "no se admite DOCTYPE en un CFDI");
      return NULL;
    }
  pthread_once (&init_once, init_libxml);
  xmlParserCtxtPtr pc = xmlNewParserCtxt ();
  if (pc == NULL)
    {
      ferr_set (err, "cfdi_not_xml", "", "out of memory", "memoria agotada");
      return NULL;
    }
  xmlDocPtr doc = xmlCtxtReadMemory (pc, xml, (int)len, "cfdi.xml", NULL,
                                     XML_PARSE_NONET | XML_PARSE_NOERROR
                                         | XML_PARSE_NOWARNING);
  if (doc == NULL || !pc->wellFormed)
    {
      xmlErrorPtr e = xmlCtxtGetLastError (pc);
      ferr_set (err, "cfdi_not_xml", "", "not well-formed XML: line %d: %s",
                "XML mal formado: línea %d: %s", e ? e->line : 0,
                e && e->message ? e->message : "unknown error");
      /* messages end in '\n' */
      if (err != NULL)
        {
          for (char *m = err->message; *m; m++)
            if (*m == '\n')
              *m = ' ';
          for (char *m = err->message_es; *m; m++)
            if (*m == '\n')
              *m = ' ';
        }
      xmlFreeDoc (doc);
      xmlFreeParserCtxt (pc);
      return NULL;
    }
  xmlFreeParserCtxt (pc);
  if (doc->intSubset != NULL || doc->extSubset != NULL)
    {
      xmlFreeDoc (doc);
      ferr_set (err, "cfdi_doctype", "", "a DOCTYPE is not allowed in a CFDI",
                "no se admite DOCTYPE en un CFDI");
      return NULL;
    }
  if (xmlDocGetRootElement (doc) == NULL
      || !depth_ok (xmlDocGetRootElement (doc)))
    {
      xmlFreeDoc (doc);
      ferr_set (err, "cfdi_too_deep", "", "elements nested deeper than %d",
                "elementos anidados a más de %d niveles",
                CFDI_VERIFY_MAX_DEPTH);
      return NULL;
    }
  return doc;
}

/* ---- report -------------------------------------------------------- */

static void add_check (struct cfdi_report *rep, enum cfdi_check_status st,
                       const char *name, const char *code, const char *fmt,
                       ...) __attribute__ ((format (printf, 5, 6)));

static void
add_check (struct cfdi_report *rep, enum cfdi_check_status st,
           const char *name, const char *code, const char *fmt, ...)
{
  if (rep->n >= CFDI_REPORT_MAX)
    return;
  struct cfdi_check *c = &rep->checks[rep->n++];
  c->status = st;
  c->name = name;
  c->code = st == CFDI_CHECK_FAIL ? code : NULL;
  c->detail[0] = '\0';
  if (fmt != NULL)
    {
      va_list ap;
      va_start (ap, fmt);
      vsnprintf (c->detail, sizeof c->detail, fmt, ap);
      va_end (ap);
    }
  if (st == CFDI_CHECK_FAIL)
    rep->ok = false;
}

void
cfdi_report_print (const struct cfdi_report *rep, FILE *f)
{
  for (int i = 0; i < rep->n; i++)
    {
      const struct cfdi_check *c = &rep->checks[i];
      switch (c->status)
        {
        case CFDI_CHECK_OK:
          fprintf (f, "ok   %s\n", c->name);
          break;
        case CFDI_CHECK_FAIL:
          fprintf (f, "FAIL %s: %s\n", c->name, c->detail);
          break;
        case CFDI_CHECK_SKIP:
          fprintf (f, "skip %s: %s\n", c->name, c->detail);
          break;
        case CFDI_CHECK_NOTE:
          fprintf (f, "note %s\n", c->detail);
          break;
        }
    }
}

/* ---- the checks ---------------------------------------------------- */

/* ./@name as a new string (xmlFree it), or NULL. */
static char *
attr (xmlNodePtr n, const char *name)
{
  return n ? (char *)xmlGetNoNsProp (n, BAD_CAST name) : NULL;
}

static void
fmt_utc (time_t t, char *out, size_t cap)
{
  struct tm tm;
  gmtime_r (&t, &tm);
  strftime (out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static struct csd_cert *
load_cert_file (const char *path)
{
  struct buf b = BUF_INIT;
  struct csd_cert *c = NULL;
  if (read_file (path, &b, CSD_MAX_FILE) == 0)
    c = csd_cert_parse ((const uint8_t *)b.data, b.len, NULL);
  buf_free (&b);
  return c;
}

static bool
is_digits (const char *s, size_t n)
{
  if (s == NULL || strlen (s) != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

/* The certificate that signs SelloSAT for number `no`: SAT's, from
 * data/sat/certs/<no>.cer, or the sandbox PAC's, found among
 * the .cer files in data/sandbox/ by serial (*sandbox set); NULL if unknown.
 */
static struct csd_cert *
find_sat_cert (const char *no, bool *sandbox)
{
  char path[1200];
  *sandbox = false;
  if (!is_digits (no, 20))
    return NULL; /* also keeps the path inside the folder */
  snprintf (path, sizeof path, "%s/sat/certs/%s.cer", data_dir (), no);
  struct csd_cert *c = load_cert_file (path);
  if (c != NULL && strcmp (c->no_certificado, no) == 0)
    return c;
  csd_cert_free (c);

  snprintf (path, sizeof path, "%s/sandbox", data_dir ());
  DIR *d = opendir (path);
  if (d == NULL)
    return NULL;
  struct dirent *de;
  c = NULL;
  while (c == NULL && (de = readdir (d)) != NULL)
    {
      size_t l = strlen (de->d_name);
      if (l < 5 || strcmp (de->d_name + l - 4, ".cer") != 0)
        continue;
      snprintf (path, sizeof path, "%s/sandbox/%s", data_dir (), de->d_name);
      c = load_cert_file (path);
      if (c != NULL && strcmp (c->no_certificado, no) != 0)
        {
          csd_cert_free (c);
          c = NULL;
        }
    }
  closedir (d);
  *sandbox = c != NULL;
  return c;
}

static void
check_tfd (xmlNodePtr root, const char *sello, struct cfdi_report *rep)
{
  xmlNodePtr comp = child_elem (root, CFDI_NS_CFDI40, "Complemento");
  xmlNodePtr tfd = child_elem (comp, CFDI_NS_TFD11, "TimbreFiscalDigital");
  if (tfd == NULL)
    {
      add_check (rep, CFDI_CHECK_SKIP, "tfd", NULL,
                 "not stamped (no TimbreFiscalDigital)");
      return;
    }
  rep->stamped = true;
  char *uuid = attr (tfd, "UUID");
  snprintf (rep->uuid, sizeof rep->uuid, "%s", uuid ? uuid : "");
  xmlFree (uuid);

  char *sello_cfd = attr (tfd, "SelloCFD");
  if (sello_cfd == NULL)
    add_check (rep, CFDI_CHECK_FAIL, "tfd", "cfdi_tfd_sellocfd",
               "TimbreFiscalDigital has no SelloCFD");
  else if (sello == NULL || strcmp (sello_cfd, sello) != 0)
    add_check (rep, CFDI_CHECK_FAIL, "tfd", "cfdi_tfd_sellocfd",
               "SelloCFD differs from the Comprobante's Sello");
  else
    add_check (rep, CFDI_CHECK_OK, "tfd", NULL, NULL);
  xmlFree (sello_cfd);

  struct buf cad = BUF_INIT;
  struct ferr e = { 0 };
  char *no = attr (tfd, "NoCertificadoSAT");
  char *sello_sat = attr (tfd, "SelloSAT");
  bool sandbox = false;
  struct csd_cert *cert = NULL;
  if (!cfdi_tfd_cadena (tfd, &cad, &e))
    add_check (rep, CFDI_CHECK_FAIL, "sellosat", e.code, "%s", e.message);
  else if ((cert = find_sat_cert (no, &sandbox)) == NULL)
    add_check (rep, CFDI_CHECK_FAIL, "sellosat", "cfdi_sat_cert_unknown",
               "unknown NoCertificadoSAT \"%.40s\" (no such certificate in "
               "%s/sat/certs, not the sandbox PAC's)",
               no ? no : "", data_dir ());
  else if (!csd_cert_verify (cert, cad.data, cad.len, sello_sat, &e))
    add_check (rep, CFDI_CHECK_FAIL, "sellosat", "cfdi_sellosat_mismatch",
               "SelloSAT does not verify over the TFD cadena with %s "
               "certificate %s",
               sandbox ? "the sandbox PAC" : "SAT's", cert->no_certificado);
  else
    {
      add_check (rep, CFDI_CHECK_OK, "sellosat", NULL, NULL);
      if (sandbox)
        {
          rep->sandbox = true;
          add_check (rep, CFDI_CHECK_NOTE, "sandbox", NULL,
                     "sandbox stamp: no fiscal validity (facturo sandbox "
                     "PAC certificate %s)",
                     cert->no_certificado);
        }
    }
  csd_cert_free (cert);
  xmlFree (no);
  xmlFree (sello_sat);
  buf_free (&cad);
}

bool
cfdi_verify_doc (xmlDocPtr doc, struct cfdi_report *rep)
{
  memset (rep, 0, sizeof *rep);
  rep->ok = true;
  add_check (rep, CFDI_CHECK_OK, "parse", NULL, NULL);
  struct ferr e = { 0 };
  xmlNodePtr root = xmlDocGetRootElement (doc);

  /* (a) schema */
  if (cfdi_xsd_validate (doc, &e))
    add_check (rep, CFDI_CHECK_OK, "xsd", NULL, NULL);
  else
    add_check (rep, CFDI_CHECK_FAIL, "xsd", e.code, "%s", e.message);

  /* (b) cadena */
  struct buf cad = BUF_INIT;
  bool have_cadena = cfdi_cadena (root, &cad, &e);
  if (have_cadena)
    add_check (rep, CFDI_CHECK_OK, "cadena", NULL, NULL);
  else
    add_check (rep, CFDI_CHECK_FAIL, "cadena", e.code, "%s", e.message);

  /* (c) certificate, seal, RFC, date */
  char *certificado = attr (root, "Certificado");
  char *no = attr (root, "NoCertificado");
  char *sello = attr (root, "Sello");
  char *fecha = attr (root, "Fecha");
  char *rfc = attr (child_elem (root, CFDI_NS_CFDI40, "Emisor"), "Rfc");
  struct csd_cert *cert = NULL;
  if (certificado == NULL || certificado[0] == '\0')
    add_check (rep, CFDI_CHECK_FAIL, "certificado", "cfdi_no_certificado",
               "no Certificado attribute");
  else if ((cert = csd_cert_parse ((const uint8_t *)certificado,
                                   strlen (certificado), &e))
           == NULL)
    add_check (rep, CFDI_CHECK_FAIL, "certificado", e.code, "%s", e.message);
  else if (cert->kind == CSD_KIND_FIEL)
    add_check (rep, CFDI_CHECK_FAIL, "certificado", "cfdi_cert_fiel",
               "certificate %s is an e.firma (FIEL), not a CSD: a CFDI is "
               "sealed with a Certificado de Sello Digital",
               cert->no_certificado);
  else if (no == NULL || strcmp (no, cert->no_certificado) != 0)
    add_check (rep, CFDI_CHECK_FAIL, "certificado", "cfdi_nocertificado",
               "NoCertificado \"%.40s\" is not the certificate's serial %s",
               no ? no : "", cert->no_certificado);
  else
    add_check (rep, CFDI_CHECK_OK, "certificado", NULL, NULL);

  if (cert == NULL)
    add_check (rep, CFDI_CHECK_FAIL, "sello", "cfdi_no_certificado",
               "no certificate to verify it with");
  else if (!have_cadena)
    add_check (rep, CFDI_CHECK_FAIL, "sello", "cfdi_no_cadena",
               "no cadena original to verify it over");
  else if (!csd_cert_verify (cert, cad.data, cad.len, sello, &e))
    add_check (rep, CFDI_CHECK_FAIL, "sello", e.code,
               "%s (the document was altered after sealing, or sealed "
               "with another key)",
               e.message);
  else
    add_check (rep, CFDI_CHECK_OK, "sello", NULL, NULL);

  if (cert == NULL)
    add_check (rep, CFDI_CHECK_FAIL, "rfc", "cfdi_no_certificado",
               "no certificate to compare with");
  else if (rfc == NULL || strcmp (rfc, cert->rfc) != 0)
    add_check (rep, CFDI_CHECK_FAIL, "rfc", "cfdi_rfc_mismatch",
               "Emisor Rfc \"%.20s\" is not the certificate holder's \"%s\"",
               rfc ? rfc : "", cert->rfc);
  else
    add_check (rep, CFDI_CHECK_OK, "rfc", NULL, NULL);

  int64_t earliest, latest; /* Fecha read at UTC-5 and at UTC-8 */
  if (cert == NULL)
    add_check (rep, CFDI_CHECK_FAIL, "fecha", "cfdi_no_certificado",
               "no certificate to compare with");
  else if (!tz_mx_local_range (fecha, &earliest, &latest))
    add_check (rep, CFDI_CHECK_FAIL, "fecha", "cfdi_fecha",
               "Fecha \"%.40s\" is not YYYY-MM-DDThh:mm:ss",
               fecha ? fecha : "");
  else if (latest < (int64_t)cert->not_before
           || earliest > (int64_t)cert->not_after)
    {
      char a[32], b[32];
      fmt_utc (cert->not_before, a, sizeof a);
      fmt_utc (cert->not_after, b, sizeof b);
      add_check (rep, CFDI_CHECK_FAIL, "fecha", "cfdi_fecha_vigencia",
                 "Fecha %s is outside the certificate's validity %s .. %s",
                 fecha, a, b);
    }
  else
    add_check (rep, CFDI_CHECK_OK, "fecha", NULL, NULL);

  /* (d) stamp */
  check_tfd (root, sello, rep);

  csd_cert_free (cert);
  xmlFree (certificado);
  xmlFree (no);
  xmlFree (sello);
  xmlFree (fecha);
  xmlFree (rfc);
  buf_free (&cad);
  return rep->ok;
}

bool
cfdi_verify_buffer (const char *xml, size_t len, struct cfdi_report *rep)
{
  struct ferr e = { 0 };
  xmlDocPtr doc = cfdi_parse_untrusted (xml, len, &e);
  if (doc == NULL)
    {
      memset (rep, 0, sizeof *rep);
      rep->ok = true;
      add_check (rep, CFDI_CHECK_FAIL, "parse", e.code, "%s", e.message);
      return false;
    }
  bool ok = cfdi_verify_doc (doc, rep);
  xmlFreeDoc (doc);
  return ok;
}

/* ---- CLI ----------------------------------------------------------- */

/* Reads FILE ("-" = stdin) bounded and parses it as untrusted XML into
 * *doc (the caller's to free).  Exit code 2 on failure (printed). */
static int
read_input (const char *cmd, const char *path, xmlDocPtr *doc)
{
  struct buf b = BUF_INIT;
  const char *p = strcmp (path, "-") == 0 ? "/dev/stdin" : path;
  *doc = NULL;
  if (read_file (p, &b, CFDI_VERIFY_MAX_INPUT) != 0)
    {
      if (errno == EFBIG)
        fprintf (stderr, "facturo cfdi %s: %s: larger than %u bytes\n", cmd,
                 path, CFDI_VERIFY_MAX_INPUT);
      else
        fprintf (stderr, "facturo cfdi %s: %s: %s\n", cmd, path,
                 strerror (errno));
      buf_free (&b);
      return 2;
    }
  struct ferr e = { 0 };
  *doc = cfdi_parse_untrusted (b.data, b.len, &e);
  buf_free (&b);
  if (*doc == NULL)
    {
      fprintf (stderr, "facturo cfdi %s: %s: %s\n", cmd, path, e.message);
      return 2;
    }
  return 0;
}

int
cfdi_cmd_verify (int argc, char **argv)
{
  const char *path = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          printf ("usage: facturo cfdi verify FILE.xml\n"
                  "Checks a CFDI 4.0 (from anyone): parse, xsd (SAT's "
                  "schemas), cadena,\ncertificado (NoCertificado), sello, "
                  "rfc, fecha, and for a stamped one tfd\n(SelloCFD) and "
                  "sellosat.  One line per check (\"ok   xsd\",\n\"FAIL "
                  "sello: why\"); exit 0 only if all pass, 1 if one fails, "
                  "2 if the\nfile cannot be read or is not XML.  FILE may "
                  "be - for stdin.\n");
          return 0;
        }
      if (argv[i][0] == '-' && argv[i][1] != '\0')
        {
          fprintf (stderr, "facturo cfdi verify: unknown option '%s'\n",
                   argv[i]);
          return 2;
        }
      if (path != NULL)
        {
          fprintf (stderr, "facturo cfdi verify: one FILE only\n");
          return 2;
        }
      path = argv[i];
    }
  if (path == NULL)
    {
      fprintf (stderr, "usage: facturo cfdi verify FILE.xml\n");
      return 2;
    }
  xmlDocPtr doc;
  int rc = read_input ("verify", path, &doc);
  if (rc != 0)
    return rc;
  struct cfdi_report rep;
  bool ok = cfdi_verify_doc (doc, &rep);
  xmlFreeDoc (doc);
  cfdi_report_print (&rep, stdout);
  fflush (stdout);
  return ok ? 0 : 1;
}

static xmlNodePtr
first_tfd (xmlNodePtr n)
{
  for (; n != NULL; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE)
        continue;
      if (n->ns != NULL
          && strcmp ((const char *)n->ns->href, CFDI_NS_TFD11) == 0
          && strcmp ((const char *)n->name, "TimbreFiscalDigital") == 0)
        return n;
      xmlNodePtr t = first_tfd (n->children);
      if (t != NULL)
        return t;
    }
  return NULL;
}

int
cfdi_cmd_cadena (int argc, char **argv)
{
  const char *path = NULL;
  bool tfd = false;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          printf ("usage: facturo cfdi cadena [--tfd] FILE.xml\n"
                  "Prints the cadena original of a CFDI 4.0 (exact bytes, "
                  "no newline), as SAT's\ncadenaoriginal_4_0.xslt gives it; "
                  "with --tfd, the TimbreFiscalDigital's\n(cadenaoriginal_"
                  "TFD_1_1.xslt).  FILE may be - for stdin.  Exit 1 if it "
                  "cannot\nbe computed (unsupported complement, no TFD), 2 "
                  "on bad usage or input.\n");
          return 0;
        }
      if (strcmp (argv[i], "--tfd") == 0)
        tfd = true;
      else if (argv[i][0] == '-' && argv[i][1] != '\0')
        {
          fprintf (stderr, "facturo cfdi cadena: unknown option '%s'\n",
                   argv[i]);
          return 2;
        }
      else if (path != NULL)
        {
          fprintf (stderr, "facturo cfdi cadena: one FILE only\n");
          return 2;
        }
      else
        path = argv[i];
    }
  if (path == NULL)
    {
      fprintf (stderr, "usage: facturo cfdi cadena [--tfd] FILE.xml\n");
      return 2;
    }
  xmlDocPtr doc;
  int rc = read_input ("cadena", path, &doc);
  if (rc != 0)
    return rc;
  struct ferr e = { 0 };
  struct buf out = BUF_INIT;
  xmlNodePtr root = xmlDocGetRootElement (doc);
  bool ok;
  if (tfd)
    {
      xmlNodePtr t = first_tfd (root);
      ok = t != NULL ? cfdi_tfd_cadena (t, &out, &e)
                     : ferr_set (&e, "cfdi_not_stamped", "",
                                 "no TimbreFiscalDigital in the document",
                                 "el documento no tiene TimbreFiscalDigital");
    }
  else
    ok = cfdi_cadena (root, &out, &e);
  xmlFreeDoc (doc);
  if (!ok)
    {
      fprintf (stderr, "facturo cfdi cadena: %s: %s\n", path, e.message);
      buf_free (&out);
      return 1;
    }
  fwrite (out.data, 1, out.len, stdout);
  fflush (stdout);
  buf_free (&out);
  return 0;
}
