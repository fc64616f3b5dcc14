/*
 * pac_sandbox.c — the "sandbox" stamping provider: a local, fake PAC.
 *
 * Stamps a sealed CFDI 4.0 the way a PAC does, with no network and NO
 * FISCAL VALIDITY: it checks what a PAC checks about the seal (Certificado
 * parses and is a CSD, NoCertificado is its serial, Emisor/@Rfc is its
 * holder, it was valid at Fecha, the Sello verifies over the cadena
 * original), then adds a Timbre Fiscal Digital 1.1 (SAT's
 * TimbreFiscalDigitalv11.xsd) inside cfdi:Complemento: a random UUID v4,
 * FechaTimbrado (Mexico City time), RfcProvCertif FSB200101AA9 (made up
 * for the sandbox), a Leyenda saying it has no fiscal validity, SelloCFD =
 * the Comprobante's Sello, NoCertificadoSAT and SelloSAT signed with the
 * test certificate in data/sandbox/ (tools/gen_sandbox_cert.sh).
 *
 * Not done (a real PAC does): SAT's 72-hour window between Fecha and
 * stamping, the full validation matrix, the LCO (taxpayer list), and
 * returning the first TFD for a duplicate stamp.  Cancellation answers at
 * once with a simulated acuse (status cancelled, EstatusUUID 201).
 *
 * Thread-safe: the only shared state is the loaded CSD (csd_sign is
 * thread-safe); each stamp parses its own document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <sodium.h>

#include "cfdi/cadena.h"
#include "cfdi/pac.h"
#include "util/tz.h"

#define SANDBOX_NO_CERT "99999000000000000001"
#define SANDBOX_RFC "FSB200101AA9"
#define SANDBOX_PASSWORD "12345678a" /* test-only key, see data/sandbox */
#define SANDBOX_LEYENDA                                                       \
  "Timbre de prueba del sandbox de facturo - este CFDI NO tiene validez "     \
  "fiscal"
#define SANDBOX_MAX_XML (64u << 20) /* bytes of one CFDI accepted */

#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define LOC_CFDI                                                              \
  CFDI_NS_CFDI40 " http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd"
#define LOC_TFD                                                               \
  CFDI_NS_TFD11 " http://www.sat.gob.mx/sitio_internet/cfd/"                  \
                "TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"

struct sandbox
{
  struct csd *csd; /* the sandbox PAC's test certificate and key */
};

/* utc as Mexico City's local time "YYYY-MM-DDTHH:MM:SS" (FechaTimbrado
 * and acknowledgement dates are central Mexico time), through util/tz:
 * no TZ, no locale, no global state.  Without zoneinfo: UTC. */
static void
mexico_time (time_t utc, char out[20])
{
  struct ferr e = { 0 };
  const struct tz *z = tz_get (TZ_DEFAULT, &e);
  char iso[TZ_ISO_MAX];
  tz_format_iso (z ? z : tz_utc (), (int64_t)utc, iso);
  snprintf (out, 20, "%.19s", iso);
}

static void
new_uuid (char out[37])
{
  unsigned char b[16];
  randombytes_buf (b, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  snprintf (out, 37,
            "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
            "%02X%02X%02X%02X%02X%02X",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
            b[11], b[12], b[13], b[14], b[15]);
}

static bool
is_elem (xmlNodePtr n, const char *ns, const char *name)
{
  return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL
         && n->ns->href != NULL && strcmp ((const char *)n->ns->href, ns) == 0
         && strcmp ((const char *)n->name, name) == 0;
}

static xmlNodePtr
child (xmlNodePtr parent, const char *ns, const char *name)
{
  for (xmlNodePtr n = parent->children; n != NULL; n = n->next)
    if (is_elem (n, ns, name))
      return n;
  return NULL;
}

/* Attribute value (no namespace) as a new string the caller xmlFree()s,
 * or NULL. */
static char *
attr (xmlNodePtr n, const char *name)
{
  return n ? (char *)xmlGetNoNsProp (n, (const xmlChar *)name) : NULL;
}

/* Fills err with code/field and the two messages, each made of a prefix
 * format (taking `arg`) followed by inner's message in that language. */
static void
wrap_err (struct ferr *err, const char *code, const char *field,
          const char *en, const char *es, const char *arg,
          const struct ferr *inner)
{
  if (err == NULL)
    return;
  ferr_set (err, code, field, "%s", "%s", "");
  char head[200];
  snprintf (head, sizeof head, en, arg);
  snprintf (err->message, sizeof err->message, "%.150s: %.160s", head,
            inner->message);
  snprintf (head, sizeof head, es, arg);
  snprintf (err->message_es, sizeof err->message_es, "%.150s: %.160s", head,
            inner->message_es);
}

/* The checks a PAC makes on the issuer's seal.  False with err filled. */
static bool
check_seal (xmlNodePtr root, const char *sello, struct ferr *err)
{
  bool ok = false;
  char *cer = attr (root, "Certificado");
  char *no = attr (root, "NoCertificado");
  char *fecha = attr (root, "Fecha");
  char *rfc = attr (child (root, CFDI_NS_CFDI40, "Emisor"), "Rfc");
  struct csd_cert *cert = NULL;
  struct buf cad = BUF_INIT;
  struct ferr e2;
  time_t when = 0;

  if (cer == NULL || cer[0] == '\0')
    {
      ferr_set (err, "pac_cert_missing", "Certificado",
                "the CFDI carries no Certificado",
                "el CFDI no trae Certificado");
      goto out;
    }
  cert = csd_cert_parse ((const uint8_t *)cer, strlen (cer), &e2);
  if (cert == NULL)
    {
      wrap_err (err, "pac_cert_invalid", "Certificado",
                "the Certificado is not a valid certificate%s",
                "el Certificado no es válido%s", "", &e2);
      goto out;
    }
  if (no == NULL || strcmp (no, cert->no_certificado) != 0)
    {
      ferr_set (err, "pac_cert_mismatch", "NoCertificado",
                "NoCertificado '%.30s' is not the serial of the Certificado "
                "(%s)",
                "NoCertificado '%.30s' no es el número de serie del "
                "Certificado (%s)",
                no ? no : "", cert->no_certificado);
      goto out;
    }
  if (cert->kind != CSD_KIND_CSD)
    {
      ferr_set (err, "pac_cert_fiel", "Certificado",
                "the CFDI was sealed with an e.firma (FIEL), not a CSD",
                "el CFDI se selló con e.firma (FIEL), no con un CSD");
      goto out;
    }
  if (rfc == NULL || strcmp (rfc, cert->rfc) != 0)
    {
      ferr_set (err, "pac_rfc_mismatch", "Emisor.Rfc",
                "Emisor Rfc '%.20s' is not the certificate holder (%s)",
                "el Rfc del Emisor '%.20s' no es el titular del certificado "
                "(%s)",
                rfc ? rfc : "", cert->rfc);
      goto out;
    }
  int64_t earliest, latest; /* Fecha read at UTC-5 and UTC-8 */
  if (!tz_mx_local_range (fecha, &earliest, &latest))
    {
      ferr_set (err, "pac_fecha_invalid", "Fecha",
                "Fecha is missing or not YYYY-MM-DDTHH:MM:SS",
                "Fecha falta o no tiene la forma AAAA-MM-DDTHH:MM:SS");
      goto out;
    }
  /* the issuer's zone is not in the document: check the instant of the
   * range nearest the certificate's validity (cfdi/verify.c's rule) */
  when = (time_t)(latest < (int64_t)cert->not_before    ? latest
                  : earliest > (int64_t)cert->not_after ? earliest
                  : earliest < (int64_t)cert->not_before
                      ? (int64_t)cert->not_before
                      : earliest);
  if (!csd_cert_check_time (cert, when, &e2))
    {
      wrap_err (err, "pac_cert_not_valid_at_fecha", "Fecha",
                "the certificate was not valid at Fecha %.19s",
                "el certificado no era vigente en la Fecha %.19s", fecha, &e2);
      goto out;
    }
  if (!cfdi_cadena (root, &cad, &e2))
    {
      wrap_err (err, "pac_cadena_failed", "", "cadena original%s",
                "cadena original%s", "", &e2);
      goto out;
    }
  if (!csd_cert_verify (cert, cad.data, cad.len, sello, &e2))
    {
      ferr_set (err, "pac_sello_invalid", "Sello",
                "the Sello does not verify over the cadena original "
                "(document altered or sealed with another key)",
                "el Sello no se verifica sobre la cadena original "
                "(documento alterado o sellado con otra llave)");
      goto out;
    }
  ok = true;
out:
  buf_free (&cad);
  csd_cert_free (cert);
  xmlFree (cer);
  xmlFree (no);
  xmlFree (fecha);
  xmlFree (rfc);
  return ok;
}

/* Adds the TFD pair to the root's xsi:schemaLocation (creating it with
 * the CFDI pair too if absent). */
static void
extend_schema_location (xmlNodePtr root)
{
  xmlNsPtr xsi = xmlSearchNsByHref (root->doc, root, (const xmlChar *)NS_XSI);
  if (xsi == NULL)
    xsi = xmlNewNs (root, (const xmlChar *)NS_XSI, (const xmlChar *)"xsi");
  xmlChar *loc = xmlGetNsProp (root, (const xmlChar *)"schemaLocation",
                               (const xmlChar *)NS_XSI);
  struct buf b = BUF_INIT;
  if (loc == NULL || loc[0] == '\0')
    buf_puts (&b, LOC_CFDI);
  else
    buf_puts (&b, (const char *)loc);
  if (strstr (b.data, CFDI_NS_TFD11) == NULL)
    {
      buf_putc (&b, ' ');
      buf_puts (&b, LOC_TFD);
    }
  xmlSetNsProp (root, xsi, (const xmlChar *)"schemaLocation",
                (const xmlChar *)b.data);
  buf_free (&b);
  xmlFree (loc);
}

static void
set (xmlNodePtr n, const char *name, const char *value)
{
  xmlNewProp (n, (const xmlChar *)name, (const xmlChar *)value);
}

static enum pac_status
sandbox_stamp (void *cls, const char *xml, size_t len, struct pac_stamp *out,
               struct ferr *err)
{
  struct sandbox *sb = cls;
  enum pac_status st = PAC_REJECTED;
  xmlDocPtr doc = NULL;
  char *sello = NULL;
  struct buf cad = BUF_INIT;
  struct buf sello_sat = BUF_INIT;

  memset (out, 0, sizeof *out);
  if (xml == NULL || len == 0 || len > SANDBOX_MAX_XML)
    {
      ferr_set (err, "pac_xml_size", "xml",
                "the CFDI is empty or larger than %u bytes",
                "el CFDI está vacío o mide más de %u bytes", SANDBOX_MAX_XML);
      return PAC_REJECTED;
    }
  doc = xmlReadMemory (xml, (int)len, "cfdi.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR
                           | XML_PARSE_NOWARNING);
  xmlNodePtr root = doc ? xmlDocGetRootElement (doc) : NULL;
  if (root == NULL)
    {
      ferr_set (err, "pac_xml_invalid", "xml",
                "the CFDI is not well-formed XML",
                "el CFDI no es XML bien formado");
      goto out;
    }
  char *version = attr (root, "Version");
  bool v40 = version != NULL && strcmp (version, "4.0") == 0;
  xmlFree (version);
  if (!is_elem (root, CFDI_NS_CFDI40, "Comprobante") || !v40)
    {
      ferr_set (err, "pac_not_cfdi40", "xml",
                "the document is not a CFDI 4.0 cfdi:Comprobante",
                "el documento no es un cfdi:Comprobante de CFDI 4.0");
      goto out;
    }
  sello = attr (root, "Sello");
  if (sello == NULL || sello[0] == '\0')
    {
      ferr_set (err, "pac_not_sealed", "Sello",
                "the CFDI is not sealed (no Sello)",
                "el CFDI no está sellado (sin Sello)");
      goto out;
    }
  xmlNodePtr comp = child (root, CFDI_NS_CFDI40, "Complemento");
  if (comp != NULL && child (comp, CFDI_NS_TFD11, "TimbreFiscalDigital"))
    {
      ferr_set (err, "pac_already_stamped", "Complemento",
                "the CFDI is already stamped", "el CFDI ya está timbrado");
      goto out;
    }
  if (!check_seal (root, sello, err))
    goto out;

  /* The Timbre. */
  if (comp == NULL)
    {
      comp = xmlNewDocNode (doc, root->ns, (const xmlChar *)"Complemento",
                            NULL);
      xmlNodePtr addenda = child (root, CFDI_NS_CFDI40, "Addenda");
      if (addenda)
        xmlAddPrevSibling (addenda, comp);
      else
        xmlAddChild (root, comp);
    }
  xmlNodePtr tfd = xmlNewDocNode (
      doc, NULL, (const xmlChar *)"TimbreFiscalDigital", NULL);
  xmlAddChild (comp, tfd);
  xmlSetNs (tfd, xmlNewNs (tfd, (const xmlChar *)CFDI_NS_TFD11,
                           (const xmlChar *)"tfd"));

  new_uuid (out->uuid);
  mexico_time (time (NULL), out->fecha_timbrado);
  snprintf (out->rfc_prov_certif, sizeof out->rfc_prov_certif, "%s",
            SANDBOX_RFC);
  snprintf (out->no_certificado_sat, sizeof out->no_certificado_sat, "%s",
            csd_no_certificado (sb->csd));
  set (tfd, "Version", "1.1");
  set (tfd, "UUID", out->uuid);
  set (tfd, "FechaTimbrado", out->fecha_timbrado);
  set (tfd, "RfcProvCertif", out->rfc_prov_certif);
  set (tfd, "Leyenda", SANDBOX_LEYENDA);
  set (tfd, "SelloCFD", sello);
  set (tfd, "NoCertificadoSAT", out->no_certificado_sat);

  struct ferr e2;
  if (!cfdi_tfd_cadena (tfd, &cad, &e2))
    {
      wrap_err (err, "pac_internal", "", "TFD cadena%s", "cadena del TFD%s",
                "", &e2);
      st = PAC_RETRY;
      goto out;
    }
  if (!csd_sign (sb->csd, cad.data, cad.len, &sello_sat, err))
    {
      st = PAC_RETRY;
      goto out;
    }
  set (tfd, "SelloSAT", sello_sat.data);
  extend_schema_location (root);

  xmlChar *mem = NULL;
  int size = 0;
  xmlDocDumpMemoryEnc (doc, &mem, &size, "UTF-8");
  if (mem == NULL || size <= 0)
    {
      xmlFree (mem);
      ferr_set (err, "pac_internal", "", "cannot serialise the stamped CFDI",
                "no se puede serializar el CFDI timbrado");
      st = PAC_RETRY;
      goto out;
    }
  out->xml = xstrndup ((const char *)mem, (size_t)size);
  out->xml_len = (size_t)size;
  xmlFree (mem);
  out->sello_sat = buf_steal (&sello_sat);
  st = PAC_OK;
out:
  if (st != PAC_OK)
    pac_stamp_clear (out);
  xmlFree (sello);
  xmlFreeDoc (doc);
  buf_free (&cad);
  buf_free (&sello_sat);
  return st;
}

static void
xml_escape (struct buf *b, const char *s)
{
  for (; *s; s++)
    switch (*s)
      {
      case '&':
        buf_puts (b, "&amp;");
        break;
      case '<':
        buf_puts (b, "&lt;");
        break;
      case '>':
        buf_puts (b, "&gt;");
        break;
      case '"':
        buf_puts (b, "&quot;");
        break;
      default:
        buf_putc (b, *s);
      }
}

static enum pac_status
sandbox_cancel (void *cls, const struct cancel_request *req,
                const struct csd *issuer, struct cancel_ack *ack,
                struct ferr *err)
{
  (void)cls;
  const char *rfc = req->issuer_rfc;
  if (issuer != NULL)
    {
      if (rfc[0] != '\0' && strcmp (rfc, csd_rfc (issuer)) != 0)
        {
          ferr_set (err, "pac_rfc_mismatch", "issuer_rfc",
                    "the issuer RFC %s is not the CSD holder %s",
                    "el RFC emisor %s no es el titular del CSD %s", rfc,
                    csd_rfc (issuer));
          return PAC_REJECTED;
        }
      rfc = csd_rfc (issuer);
    }
  memset (ack, 0, sizeof *ack);
  memcpy (ack->uuid, req->uuid, sizeof ack->uuid);
  ack->reason = req->reason;
  memcpy (ack->substitute_uuid, req->substitute_uuid,
          sizeof ack->substitute_uuid);
  ack->status = CANCEL_STATUS_CANCELLED;
  snprintf (ack->sat_code, sizeof ack->sat_code, "201");
  mexico_time (time (NULL), ack->date);

  struct buf b = BUF_INIT;
  buf_puts (&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<!-- facturo sandbox: simulated acknowledgement, "
                "NO fiscal validity -->\n"
                "<Acuse xmlns=\"http://cancelacfd.sat.gob.mx\" Fecha=\"");
  buf_puts (&b, ack->date);
  buf_puts (&b, "\" RfcEmisor=\"");
  xml_escape (&b, rfc);
  buf_printf (&b,
              "\"><Folios><UUID>%s</UUID><EstatusUUID>%s</EstatusUUID>"
              "<Motivo>%s</Motivo>",
              ack->uuid, ack->sat_code, cancel_reason_code (ack->reason));
  if (ack->substitute_uuid[0])
    buf_printf (&b, "<FolioSustitucion>%s</FolioSustitucion>",
                ack->substitute_uuid);
  buf_puts (&b, "</Folios></Acuse>\n");
  ack->acuse_xml = buf_steal (&b);
  return PAC_OK;
}

static void
sandbox_destroy (void *cls)
{
  struct sandbox *sb = cls;
  if (sb == NULL)
    return;
  csd_free (sb->csd);
  free (sb);
}

struct pac *
pac_sandbox_new (const struct pac_config *cfg, struct ferr *err)
{
  if (sodium_init () < 0)
    {
      ferr_set (err, "pac_internal", "", "libsodium failed to start",
                "libsodium no pudo iniciar");
      return NULL;
    }
  xmlInitParser ();
  const char *dir
      = cfg && cfg->datadir ? cfg->datadir : getenv ("FACTURO_DATA");
  if (dir == NULL || dir[0] == '\0')
    dir = FACTURO_DATADIR;
  struct buf cer = BUF_INIT, key = BUF_INIT;
  buf_printf (&cer, "%s/sandbox/%s.cer", dir, SANDBOX_NO_CERT);
  buf_printf (&key, "%s/sandbox/%s.key", dir, SANDBOX_NO_CERT);
  struct ferr e2;
  struct csd *c = csd_load_files (cer.data, key.data, SANDBOX_PASSWORD,
                                  time (NULL), &e2);
  if (c == NULL)
    wrap_err (err, "pac_sandbox_cert", "pac",
              "the sandbox certificate %.120s cannot be used",
              "no se puede usar el certificado del sandbox %.120s", cer.data,
              &e2);
  buf_free (&cer);
  buf_free (&key);
  if (c == NULL)
    return NULL;
  struct sandbox *sb = xcalloc (1, sizeof *sb);
  sb->csd = c;
  struct pac *p = xcalloc (1, sizeof *p);
  p->name = "sandbox";
  p->cls = sb;
  p->stamp = sandbox_stamp;
  p->cancel = sandbox_cancel;
  p->destroy = sandbox_destroy;
  return p;
}
