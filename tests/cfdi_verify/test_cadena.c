/*
 * test_cadena.c — cfdi/cadena against SAT's own XSLT run by libxslt.
 *
 * The oracle is SAT's cadenaoriginal_4_0.xslt (and the TFD 1.1 XSLT)
 * from ../shared/sat, compiled once.  Every sample, and hundreds of
 * variants made by editing the samples' DOM (accents, ñ, &, <, >, quotes,
 * runs of spaces, tabs and newlines in values, attributes removed or
 * added empty, extra structure the samples lack), must give the same
 * bytes natively and through libxslt.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxslt/transform.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>

#include "cfdi/cadena.h"

#include "samples.h"

#define SAT_CFD "/sat/www.sat.gob.mx/sitio_internet/cfd/"

static xsltStylesheetPtr xslt_40, xslt_tfd;
static char samples_dir[1024];
static char *sample_names[64];
static int n_samples;
static long n_compared; /* native-vs-libxslt comparisons done */

static void
quiet (void *ctx, const char *msg, ...)
{
  (void)ctx;
  (void)msg;
}

/* libxslt's cadena of doc; caller frees. */
static char *
xslt_run (xsltStylesheetPtr style, xmlDocPtr doc, int *len)
{
  xmlDocPtr res = xsltApplyStylesheet (style, doc, NULL);
  assert_non_null (res);
  xmlChar *s = NULL;
  *len = 0;
  assert_int_equal (xsltSaveResultToString (&s, len, res, style), 0);
  xmlFreeDoc (res);
  if (s == NULL)
    s = (xmlChar *)strdup ("");
  return (char *)s;
}

static xmlNodePtr
find_tfd (xmlNodePtr n)
{
  for (; n != NULL; n = n->next)
    {
      if (n->type == XML_ELEMENT_NODE && n->ns
          && strcmp ((char *)n->ns->href, CFDI_NS_TFD11) == 0
          && strcmp ((char *)n->name, "TimbreFiscalDigital") == 0)
        return n;
      xmlNodePtr t = find_tfd (n->children);
      if (t)
        return t;
    }
  return NULL;
}

/* Native cadena (and TFD cadena) of doc must equal libxslt's. */
static void
compare_doc (xmlDocPtr doc, const char *what)
{
  struct buf nat = BUF_INIT;
  struct ferr e;
  int xlen;
  char *x = xslt_run (xslt_40, doc, &xlen);
  bool ok = cfdi_cadena (xmlDocGetRootElement (doc), &nat, &e);
  if (!ok)
    fail_msg ("%s: native refused: %s (%s)", what, e.message, e.code);
  if ((size_t)xlen != nat.len || memcmp (x, nat.data, nat.len) != 0)
    fail_msg ("%s: cadena differs\n  xslt:   %s\n  native: %s", what, x,
              nat.data);
  free (x);
  n_compared++;

  xmlNodePtr tfd = find_tfd (xmlDocGetRootElement (doc));
  if (tfd != NULL)
    {
      buf_reset (&nat);
      x = xslt_run (xslt_tfd, doc, &xlen);
      assert_true (cfdi_tfd_cadena (tfd, &nat, &e));
      if ((size_t)xlen != nat.len || memcmp (x, nat.data, nat.len) != 0)
        fail_msg ("%s: TFD cadena differs\n  xslt:   %s\n  native: %s", what,
                  x, nat.data);
      free (x);
      n_compared++;
    }
  buf_free (&nat);
}

static xmlDocPtr
load_sample (const char *name)
{
  char path[1200];
  snprintf (path, sizeof path, "%s/%s", samples_dir, name);
  xmlDocPtr doc = xmlReadFile (path, NULL, XML_PARSE_NONET);
  assert_non_null (doc);
  return doc;
}

/* SAT: the cadena original of each real/constructed sample equals the
 * published .cadena.txt and libxslt's output byte for byte; the TFD cadena
 * equals .tfd-cadena.txt. */
static void
test_samples (void **state)
{
  (void)state;
  int with_tfd = 0;
  for (int i = 0; i < n_samples; i++)
    {
      xmlDocPtr doc = load_sample (sample_names[i]);
      char path[1200];
      size_t elen = 0;
      struct buf nat = BUF_INIT;
      struct ferr e;

      snprintf (path, sizeof path, "%s/%.*s.cadena.txt", samples_dir,
                (int)strlen (sample_names[i]) - 4, sample_names[i]);
      char *expect = slurp (path, &elen);
      assert_non_null (expect);
      assert_true (cfdi_cadena (xmlDocGetRootElement (doc), &nat, &e));
      if (nat.len != elen || memcmp (nat.data, expect, elen) != 0)
        fail_msg ("%s: cadena differs from %s\n%s", sample_names[i], path,
                  nat.data);
      free (expect);

      snprintf (path, sizeof path, "%s/%.*s.tfd-cadena.txt", samples_dir,
                (int)strlen (sample_names[i]) - 4, sample_names[i]);
      expect = slurp (path, &elen);
      xmlNodePtr tfd = find_tfd (xmlDocGetRootElement (doc));
      assert_true ((expect != NULL) == (tfd != NULL));
      if (tfd != NULL)
        {
          buf_reset (&nat);
          assert_true (cfdi_tfd_cadena (tfd, &nat, &e));
          if (nat.len != elen || memcmp (nat.data, expect, elen) != 0)
            fail_msg ("%s: TFD cadena differs\n%s", sample_names[i], nat.data);
          with_tfd++;
        }
      free (expect);
      buf_free (&nat);
      compare_doc (doc, sample_names[i]);
      xmlFreeDoc (doc);
    }
  assert_true (n_samples >= 8);
  assert_true (with_tfd >= 4);
}

/* Values that exercise normalize-space and escaping. */
static const char *const tricky[] = {
  "JOS\xc3\x89 NU\xc3\x91"
  "EZ PE\xc3\x91"
  "A",
  "A & B <C> \"D\" 'E'",
  "  leading and trailing  ",
  "runs    of     spaces",
  "tab\there\tand\nnewline\r\nCRLF",
  "",
  " ",
  "\t\n\r ",
  "\xc3\x81\xc3\x89\xc3\x8d\xc3\x93\xc3\x9a \xc3\xbc \xc3\xb1 \xc3\x91 "
  "\xc2\xbf\xc2\xa1",
  " mixed \t \n  whitespace \t",
  "non-breaking\xc2\xa0space \xc2\xa0",
  "ideographic\xe3\x80\x80space",
  "emoji \xf0\x9f\x98\x80 and \xe4\xb8\xad\xe6\x96\x87",
  "x",
  "&amp; &lt; literally",
  "trailing\n",
  "|pipe|inside|",
  "a\tb",
};
#define N_TRICKY (sizeof tricky / sizeof *tricky)

static void
collect_elems (xmlNodePtr n, xmlNodePtr *v, int *nv, int max)
{
  for (; n != NULL; n = n->next)
    if (n->type == XML_ELEMENT_NODE)
      {
        if (*nv < max)
          v[(*nv)++] = n;
        collect_elems (n->children, v, nv, max);
      }
}

/* SAT: Requerido/Opcional + ManejaEspacios (normalize-space) for every
 * attribute of every element of every sample: each value replaced by
 * tricky text, and each attribute removed, gives libxslt's bytes. */
static void
test_attribute_variants (void **state)
{
  (void)state;
  long before = n_compared;
  unsigned rot = 0;
  for (int i = 0; i < n_samples; i++)
    {
      xmlDocPtr doc = load_sample (sample_names[i]);
      xmlNodePtr elems[512];
      int ne = 0;
      collect_elems (xmlDocGetRootElement (doc), elems, &ne, 512);
      for (int k = 0; k < ne; k++)
        {
          /* Snapshot the attribute names first: we edit the list. */
          char *names[64];
          int na = 0;
          for (xmlAttrPtr a = elems[k]->properties; a && na < 64; a = a->next)
            if (a->ns == NULL)
              names[na++] = strdup ((const char *)a->name);
          for (int j = 0; j < na; j++)
            {
              char what[256];
              const char *name = names[j];
              xmlChar *orig = xmlGetNoNsProp (elems[k], BAD_CAST name);
              /* Two tricky values per attribute, rotating through the list;
               * names, descriptions and the Sello get all of them. */
              bool all = strcmp (name, "Nombre") == 0
                         || strcmp (name, "Descripcion") == 0
                         || strcmp (name, "Sello") == 0;
              int nt = all ? (int)N_TRICKY : 2;
              for (int t = 0; t < nt; t++)
                {
                  const char *v = tricky[all ? (unsigned)t : rot++ % N_TRICKY];
                  xmlSetProp (elems[k], BAD_CAST name, BAD_CAST v);
                  snprintf (what, sizeof what, "%s %s/@%s=\"%s\"",
                            sample_names[i], elems[k]->name, name, v);
                  compare_doc (doc, what);
                }
              /* Removed (Requerido gives "|", Opcional nothing). */
              xmlUnsetProp (elems[k], BAD_CAST name);
              snprintf (what, sizeof what, "%s %s without @%s",
                        sample_names[i], elems[k]->name, name);
              compare_doc (doc, what);
              xmlSetProp (elems[k], BAD_CAST name, orig);
              /* xmlSetProp appended it last: attribute order must not
               * matter either. */
              compare_doc (doc, "attribute moved last");
              xmlFree (orig);
            }
          for (int j = 0; j < na; j++)
            free (names[j]);
        }
      xmlFreeDoc (doc);
    }
  print_message ("attribute variants: %ld comparisons\n", n_compared - before);
  assert_true (n_compared - before >= 300);
}

/* SAT: Opcional prints "|" for a present-but-empty attribute; optional
 * attributes the samples lack are added empty, blank and with text. */
static void
test_optional_added (void **state)
{
  (void)state;
  static const char *const opt[] = {
    "Serie",
    "Folio",
    "CondicionesDePago",
    "Descuento",
    "TipoCambio",
    "MetodoPago",
    "Confirmacion",
    "FormaPago",
    "FacAtrAdquirente",
    "ResidenciaFiscal",
    "NumRegIdTrib",
    "NoIdentificacion",
    "Unidad",
    "TasaOCuota",
    "Importe",
    "TotalImpuestosRetenidos",
    "TotalImpuestosTrasladados",
    "TipoCambioP",
    "NumOperacion",
    "CertPago",
    "CadPago",
    "SelloPago",
    "EquivalenciaDR",
    "Leyenda",
    "Unrelated",
  };
  static const char *const vals[] = { "", "   ", " Z  z " };
  long before = n_compared;
  for (int i = 0; i < n_samples; i++)
    {
      xmlDocPtr doc = load_sample (sample_names[i]);
      xmlNodePtr elems[512];
      int ne = 0;
      collect_elems (xmlDocGetRootElement (doc), elems, &ne, 512);
      for (size_t o = 0; o < sizeof opt / sizeof *opt; o++)
        for (size_t v = 0; v < 3; v++)
          {
            /* Add to every element that lacks it, all at once. */
            xmlNodePtr added[512];
            int nadd = 0;
            for (int k = 0; k < ne; k++)
              if (!xmlHasProp (elems[k], BAD_CAST opt[o]))
                {
                  xmlSetProp (elems[k], BAD_CAST opt[o], BAD_CAST vals[v]);
                  added[nadd++] = elems[k];
                }
            char what[160];
            snprintf (what, sizeof what, "%s +@%s=\"%s\"", sample_names[i],
                      opt[o], vals[v]);
            compare_doc (doc, what);
            for (int k = 0; k < nadd; k++)
              xmlUnsetProp (added[k], BAD_CAST opt[o]);
          }
      xmlFreeDoc (doc);
    }
  assert_true (n_compared - before >= 200);
}

static xmlNodePtr
child (xmlNodePtr n, const char *name)
{
  for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && strcmp ((char *)c->name, name) == 0)
      return c;
  return NULL;
}

static xmlNsPtr
get_ns (xmlNodePtr root, const char *href, const char *prefix)
{
  xmlNsPtr ns = xmlSearchNsByHref (root->doc, root, BAD_CAST href);
  return ns ? ns : xmlNewNs (root, BAD_CAST href, BAD_CAST prefix);
}

static xmlNodePtr
add (xmlNodePtr parent, xmlNsPtr ns, const char *name, ...)
{
  /* xmlNewChild would give a NULL ns the parent's namespace */
  xmlNodePtr n = xmlNewDocNode (parent->doc, ns, BAD_CAST name, NULL);
  xmlAddChild (parent, n);
  va_list ap;
  va_start (ap, name);
  const char *k;
  while ((k = va_arg (ap, const char *)) != NULL)
    xmlSetProp (n, BAD_CAST k, BAD_CAST va_arg (ap, const char *));
  va_end (ap);
  return n;
}

/* SAT: the parts of the 4.0 transform the samples do not reach —
 * ACuentaTerceros, InformacionAduanera, CuentaPredial, Parte (with its
 * own InformacionAduanera, at any depth), several CfdiRelacionados,
 * InformacionGlobal, implocal and leyendasFisc complements, text inside
 * the TFD (XSLT's built-in rule copies it), children out of order,
 * namespaced attributes that ./@X must not select. */
static void
test_structures (void **state)
{
  (void)state;
  long before = n_compared;
  for (int i = 0; i < n_samples; i++)
    for (int variant = 0; variant < 12; variant++)
      {
        xmlDocPtr doc = load_sample (sample_names[i]);
        xmlNodePtr root = xmlDocGetRootElement (doc);
        xmlNsPtr cfdi = root->ns;
        xmlNodePtr conceptos = child (root, "Conceptos");
        xmlNodePtr c1 = child (conceptos, "Concepto");
        xmlNodePtr comp = child (root, "Complemento");
        if (comp == NULL)
          comp = xmlNewChild (root, cfdi, BAD_CAST "Complemento", NULL);
        switch (variant)
          {
          case 0:
            add (c1, cfdi, "ACuentaTerceros", "RfcACuentaTerceros",
                 "AAA010101AAA", "NombreACuentaTerceros",
                 " Pe\xc3\xb1"
                 "a  & <Co> ",
                 "RegimenFiscalACuentaTerceros", "601",
                 "DomicilioFiscalACuentaTerceros", "01000", NULL);
            add (c1, cfdi, "InformacionAduanera", "NumeroPedimento",
                 "21  47  3807  8003832", NULL);
            add (c1, cfdi, "InformacionAduanera", "NumeroPedimento", "x",
                 NULL);
            add (c1, cfdi, "CuentaPredial", "Numero", "\t123\t", NULL);
            break;
          case 1:
            {
              xmlNodePtr p = add (c1, cfdi, "Parte", "ClaveProdServ",
                                  "01010101", "Cantidad", "1", "Descripcion",
                                  "parte \"uno\"", NULL);
              add (p, cfdi, "InformacionAduanera", "NumeroPedimento", "P1",
                   NULL);
              add (c1, cfdi, "Parte", "ClaveProdServ", "2", "Cantidad", "2",
                   "Unidad", "", "Descripcion", "dos", "ValorUnitario", "1.5",
                   "Importe", "3", "NoIdentificacion", "N", NULL);
              /* Parte nested deeper is still .//cfdi:Parte */
              xmlNodePtr w = add (c1, NULL, "wrapper", NULL);
              add (w, cfdi, "Parte", "ClaveProdServ", "3", "Descripcion",
                   "deep", NULL);
              break;
            }
          case 2:
            {
              xmlNodePtr r = add (root, cfdi, "CfdiRelacionados",
                                  "TipoRelacion", "04", NULL);
              add (r, cfdi, "CfdiRelacionado", "UUID", "u-1", NULL);
              add (r, cfdi, "CfdiRelacionado", "UUID", " u-2 ", NULL);
              r = add (root, cfdi, "CfdiRelacionados", "TipoRelacion", "01",
                       NULL);
              add (r, cfdi, "CfdiRelacionado", "UUID", "u-3", NULL);
              add (root, cfdi, "InformacionGlobal", "Periodicidad", "01",
                   "Meses", "05", "A\xc3\xb1o", "2025", NULL);
              break;
            }
          case 3:
            {
              xmlNsPtr il = get_ns (root, CFDI_NS_IMPLOCAL, "implocal");
              xmlNodePtr l = add (comp, il, "ImpuestosLocales", "version",
                                  "1.0", "TotaldeRetenciones", "1.00",
                                  "TotaldeTraslados", "2.00", NULL);
              add (l, il, "RetencionesLocales", "ImpLocRetenido", "ISH  local",
                   "TasadeRetencion", "1.00", "Importe", "1.00", NULL);
              add (l, il, "TrasladosLocales", "ImpLocTrasladado", "Otro",
                   "TasadeTraslado", "2.00", "Importe", "2.00", NULL);
              add (l, il, "TrasladosLocales", "ImpLocTrasladado", "Otro2",
                   "TasadeTraslado", "3.00", "Importe", "0.00", NULL);
              break;
            }
          case 4:
            {
              xmlNsPtr lf = get_ns (root, CFDI_NS_LEYENDAS, "leyendasFisc");
              xmlNodePtr l
                  = add (comp, lf, "LeyendasFiscales", "version", "1.0", NULL);
              add (l, lf, "Leyenda", "textoLeyenda", "Art. 1  \"A\" & <b>",
                   NULL);
              add (l, lf, "Leyenda", "disposicionFiscal", "LISR", "norma", "",
                   "textoLeyenda", "dos", NULL);
              break;
            }
          case 5:
            {
              /* Text inside the TFD: the built-in rule copies it. */
              xmlNodePtr tfd = find_tfd (root);
              if (tfd == NULL)
                {
                  xmlNsPtr t = get_ns (root, CFDI_NS_TFD11, "tfd");
                  tfd = add (comp, t, "TimbreFiscalDigital", "Version", "1.1",
                             "UUID", "X", "SelloCFD", "abc",
                             "NoCertificadoSAT", "1", NULL);
                }
              xmlAddChild (tfd, xmlNewText (BAD_CAST "\n  text  in tfd\n"));
              xmlAddChild (comp, xmlNewText (BAD_CAST " ignored "));
              break;
            }
          case 6:
            {
              /* Order of children does not matter; XSLT's does. */
              xmlNodePtr em = child (root, "Emisor");
              xmlNodePtr imp = child (root, "Impuestos");
              xmlUnlinkNode (em);
              xmlAddChild (root, em);
              if (imp)
                {
                  xmlUnlinkNode (imp);
                  xmlAddPrevSibling (xmlFirstElementChild (root), imp);
                }
              break;
            }
          case 7:
            {
              /* A namespaced attribute with a selected name is not ./@X */
              xmlNsPtr x = xmlNewNs (root, BAD_CAST "urn:x", BAD_CAST "x");
              xmlSetNsProp (root, x, BAD_CAST "Serie", BAD_CAST "NOPE");
              xmlSetNsProp (c1, x, BAD_CAST "Descripcion", BAD_CAST "NOPE");
              /* An element with a cfdi name in another namespace is not it */
              add (root, NULL, "Emisor", "Rfc", "NOPE", NULL);
              break;
            }
          case 8:
            {
              /* Two Conceptos blocks, concepto duplicated, several taxes */
              xmlNodePtr dup = xmlCopyNode (conceptos, 1);
              xmlAddNextSibling (conceptos, dup);
              xmlNodePtr imp = add (c1, cfdi, "Impuestos", NULL);
              xmlNodePtr tr = add (imp, cfdi, "Traslados", NULL);
              add (tr, cfdi, "Traslado", "Base", "1", "Impuesto", "003",
                   "TipoFactor", "Cuota", "TasaOCuota", "1.0", NULL);
              add (tr, cfdi, "Traslado", "Base", "1", "Impuesto", "002",
                   "TipoFactor", "Exento", NULL);
              xmlNodePtr re = add (imp, cfdi, "Retenciones", NULL);
              add (re, cfdi, "Retencion", "Base", "1", "Impuesto", "001",
                   "TipoFactor", "Tasa", "TasaOCuota", "0.1", "Importe", "0.1",
                   NULL);
              break;
            }
          case 9:
            {
              /* Comments, CDATA and PIs between elements */
              xmlAddPrevSibling (c1, xmlNewComment (BAD_CAST " c "));
              xmlAddChild (c1, xmlNewCDataBlock (doc, BAD_CAST "cd", 2));
              xmlAddChild (root,
                           xmlNewDocPI (doc, BAD_CAST "pi", BAD_CAST "x"));
              break;
            }
          case 10:
            /* Removing whole blocks */
            xmlUnlinkNode (conceptos);
            xmlFreeNode (conceptos);
            break;
          case 11:
            {
              /* Pagos elements the samples lack: RetencionesP, RetencionDR */
              xmlNsPtr p = get_ns (root, CFDI_NS_PAGOS20, "pago20");
              xmlNodePtr pg = add (comp, p, "Pagos", "Version", "2.0", NULL);
              add (pg, p, "Totales", "TotalRetencionesIVA", "1",
                   "TotalRetencionesISR", "2", "MontoTotalPagos", "10", NULL);
              xmlNodePtr pa = add (
                  pg, p, "Pago", "FechaPago", "2024-01-01T00:00:00",
                  "FormaDePagoP", "03", "MonedaP", "USD", "TipoCambioP",
                  "17.5", "Monto", "10", "TipoCadPago", "01", "CertPago", "Y",
                  "CadPago", " a  b ", "SelloPago", "Z", NULL);
              xmlNodePtr dr = add (
                  pa, p, "DoctoRelacionado", "IdDocumento", "d", "MonedaDR",
                  "MXN", "EquivalenciaDR", "17.5", "NumParcialidad", "3",
                  "ImpSaldoAnt", "1", "ImpPagado", "1", "ImpSaldoInsoluto",
                  "0", "ObjetoImpDR", "02", NULL);
              xmlNodePtr idr = add (dr, p, "ImpuestosDR", NULL);
              xmlNodePtr rdr = add (idr, p, "RetencionesDR", NULL);
              add (rdr, p, "RetencionDR", "BaseDR", "1", "ImpuestoDR", "002",
                   "TipoFactorDR", "Tasa", "TasaOCuotaDR", "0.106667",
                   "ImporteDR", "0.1", NULL);
              xmlNodePtr tdr = add (idr, p, "TrasladosDR", NULL);
              add (tdr, p, "TrasladoDR", "BaseDR", "1", "ImpuestoDR", "002",
                   "TipoFactorDR", "Exento", NULL);
              xmlNodePtr ip = add (pa, p, "ImpuestosP", NULL);
              xmlNodePtr rp = add (ip, p, "RetencionesP", NULL);
              add (rp, p, "RetencionP", "ImpuestoP", "001", "ImporteP", "2",
                   NULL);
              add (rp, p, "RetencionP", "ImpuestoP", "002", "ImporteP", "1",
                   NULL);
              xmlNodePtr tp = add (ip, p, "TrasladosP", NULL);
              add (tp, p, "TrasladoP", "BaseP", "1", "ImpuestoP", "002",
                   "TipoFactorP", "Exento", NULL);
              /* unknown pago20 element inside Pago: not selected */
              add (pa, p, "Otro", "X", "1", NULL);
              break;
            }
          }
        char what[160];
        snprintf (what, sizeof what, "%s structure %d", sample_names[i],
                  variant);
        compare_doc (doc, what);
        xmlFreeDoc (doc);
      }
  assert_true (n_compared - before >= 12 * 8);
}

/* Refusals: complements SAT's XSLT transforms but we do not transcribe,
 * and a root that is not a cfdi:Comprobante. */
static void
test_refusals (void **state)
{
  (void)state;
  xmlDocPtr doc = load_sample (sample_names[0]);
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr comp = child (root, "Complemento");
  if (comp == NULL)
    comp = xmlNewChild (root, root->ns, BAD_CAST "Complemento", NULL);
  xmlNsPtr nom = xmlNewNs (root, BAD_CAST "http://www.sat.gob.mx/nomina12",
                           BAD_CAST "nomina12");
  xmlNodePtr n = xmlNewChild (comp, nom, BAD_CAST "Nomina", NULL);
  struct buf out = BUF_INIT;
  struct ferr e = { 0 };
  assert_false (cfdi_cadena (root, &out, &e));
  assert_string_equal (e.code, "cfdi_unsupported_complement");
  xmlUnlinkNode (n);
  xmlFreeNode (n);
  /* a concept complement */
  xmlNodePtr c1 = child (child (root, "Conceptos"), "Concepto");
  xmlNodePtr cc
      = xmlNewChild (c1, root->ns, BAD_CAST "ComplementoConcepto", NULL);
  xmlNsPtr iedu = xmlNewNs (root, BAD_CAST "http://www.sat.gob.mx/iedu",
                            BAD_CAST "iedu");
  xmlNewChild (cc, iedu, BAD_CAST "instEducativas", NULL);
  e.code = NULL;
  buf_reset (&out);
  assert_false (cfdi_cadena (root, &out, &e));
  assert_string_equal (e.code, "cfdi_unsupported_complement");
  /* not a comprobante */
  e.code = NULL;
  assert_false (cfdi_cadena (c1, &out, &e));
  assert_string_equal (e.code, "cfdi_not_comprobante");
  e.code = NULL;
  assert_false (cfdi_tfd_cadena (root, &out, &e));
  assert_string_equal (e.code, "cfdi_not_tfd");
  assert_false (cfdi_cadena (NULL, &out, NULL));
  buf_free (&out);
  xmlFreeDoc (doc);
}

int
main (void)
{
  const char *shared = getenv ("FACTURO_SHARED");
  if (shared == NULL)
    shared = "../shared";
  char path[1200];

  xsltSetGenericErrorFunc (NULL, quiet); /* "only 1.1 features" notices */
  xmlSetGenericErrorFunc (NULL, quiet);
  snprintf (path, sizeof path,
            "%s" SAT_CFD "4/cadenaoriginal_4_0/cadenaoriginal_4_0.xslt",
            shared);
  xslt_40 = xsltParseStylesheetFile (BAD_CAST path);
  snprintf (path, sizeof path, "%s/sat/cadenaoriginal_TFD_1_1-in-cfdi.xslt",
            shared);
  xslt_tfd = xsltParseStylesheetFile (BAD_CAST path);
  if (xslt_40 == NULL || xslt_tfd == NULL)
    {
      fprintf (stderr, "cannot compile SAT's XSLT under %s\n", shared);
      return 1;
    }
  snprintf (samples_dir, sizeof samples_dir, "%s/sat/samples", shared);
  n_samples = samples_list (samples_dir, sample_names, 64);
  if (n_samples < 0)
    return 1;

  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_samples),
    cmocka_unit_test (test_attribute_variants),
    cmocka_unit_test (test_optional_added),
    cmocka_unit_test (test_structures),
    cmocka_unit_test (test_refusals),
  };
  int rc = cmocka_run_group_tests (tests, NULL, NULL);
  fprintf (stderr, "native vs libxslt comparisons: %ld\n", n_compared);
  xsltFreeStylesheet (xslt_40);
  xsltFreeStylesheet (xslt_tfd);
  for (int i = 0; i < n_samples; i++)
    free (sample_names[i]);
  xsltCleanupGlobals ();
  xmlCleanupParser ();
  return rc;
}
