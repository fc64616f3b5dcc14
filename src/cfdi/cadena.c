/*
 * cadena.c — native cadena original of CFDI 4.0 and of the TFD 1.1.
 *
 * SAT's XSLT (cadenaoriginal_4_0.xslt + utilerias.xslt + Pagos20.xslt +
 * implocal.xslt + leyendasFisc.xslt; cadenaoriginal_TFD_1_1.xslt) is
 * transcribed here as data: one table of steps per xsl:template, walked
 * over the libxml2 tree.  The semantics reproduced, and where each comes
 * from in XSLT 1.0 as libxslt runs it:
 *
 *   Requerido(@A)  "|" + normalize-space(string(@A)); an absent attribute
 *                  gives "|" alone.
 *   Opcional(@A)   `xsl:if test="$valor"` is true when the node-set is not
 *                  empty, i.e. the attribute is present, even if empty:
 *                  then as Requerido, else nothing.
 *   normalize-space  strips leading/trailing and collapses inner runs of
 *                  #x20 #x9 #xD #xA to one space; nothing else changes.
 *   for-each ./a/b/c   nested loops over element children in document
 *                  order (children of distinct siblings never interleave).
 *   apply-templates   the template matching the element's expanded name;
 *                  if none matches, XSLT's built-in rule: recurse into
 *                  child elements and copy text nodes verbatim (this is
 *                  what the TimbreFiscalDigital gets: SAT's 4.0 XSLT does
 *                  not include the TFD transform).
 *   .//cfdi:Parte    every descendant so named, in document order.
 *
 * Attributes are matched by local name with no namespace, as `./@Name`
 * selects.  Values are read in place from the tree (one text child, the
 * normal case); only a value split into several nodes (entity references)
 * is flattened through libxml2 first, like XPath's string() does.
 *
 * Complements: Pagos 2.0, implocal and leyendasFisc have their templates;
 * the TFD gets the built-in rule; anything else directly under
 * cfdi:Complemento or cfdi:ComplementoConcepto, and any element of one of
 * the other complement namespaces SAT's XSLT includes, is refused with
 * cfdi_unsupported_complement rather than risk a wrong cadena.
 *
 * Owner: verify.
 */
#include <string.h>

#include "cfdi/cadena.h"

/* Deepest element nesting the walk follows (libxml2 parses at most 256). */
#define CADENA_MAX_DEPTH 256

enum op
{
  OP_END = 0,
  OP_REQ,        /* Requerido(./@a) */
  OP_OPT,        /* Opcional(./@a) */
  OP_EACH,       /* for-each ./a[/b[/c]]: run body with each as context */
  OP_APPLY,      /* apply-templates ./a → template t */
  OP_APPLY_DESC, /* apply-templates .//a → template t */
  OP_COMPLEMENT, /* children of cfdi:Complemento, only known complements */
  OP_REFUSE_ANY, /* children of cfdi:ComplementoConcepto: none known */
};

struct tmpl;

struct step
{
  unsigned char op;
  const char *a, *b, *c;   /* attribute name, or path of child names */
  const struct step *body; /* OP_EACH */
  const struct tmpl *t;    /* OP_APPLY, OP_APPLY_DESC */
};

struct tmpl
{
  const char *ns; /* namespace URI of the matched element and its paths */
  const char *name;
  const struct step *steps;
};

/* The tables read best one template per block: keep them as written. */
/* clang-format off */
#define REQ(n) { OP_REQ, n, NULL, NULL, NULL, NULL }
#define OPT(n) { OP_OPT, n, NULL, NULL, NULL, NULL }
#define EACH1(x, body) { OP_EACH, x, NULL, NULL, body, NULL }
#define EACH3(x, y, z, body) { OP_EACH, x, y, z, body, NULL }
#define APPLY(x, t) { OP_APPLY, x, NULL, NULL, NULL, t }
#define APPLY_DESC(x, t) { OP_APPLY_DESC, x, NULL, NULL, NULL, t }
#define END { OP_END, NULL, NULL, NULL, NULL, NULL }

/* ---- cadenaoriginal_4_0.xslt ---------------------------------------- */

static const struct tmpl t_informacion_global, t_cfdi_relacionados, t_emisor,
    t_receptor, t_conceptos, t_concepto, t_impuestos, t_complemento,
    t_a_cuenta_terceros, t_informacion_aduanera, t_cuenta_predial,
    t_complemento_concepto, t_parte;

static const struct step s_comprobante[] = {
  REQ ("Version"), OPT ("Serie"), OPT ("Folio"), REQ ("Fecha"),
  OPT ("FormaPago"), REQ ("NoCertificado"), OPT ("CondicionesDePago"),
  REQ ("SubTotal"), OPT ("Descuento"), REQ ("Moneda"), OPT ("TipoCambio"),
  REQ ("Total"), REQ ("TipoDeComprobante"), REQ ("Exportacion"),
  OPT ("MetodoPago"), REQ ("LugarExpedicion"), OPT ("Confirmacion"),
  APPLY ("InformacionGlobal", &t_informacion_global),
  APPLY ("CfdiRelacionados", &t_cfdi_relacionados),
  APPLY ("Emisor", &t_emisor),
  APPLY ("Receptor", &t_receptor),
  APPLY ("Conceptos", &t_conceptos),
  APPLY ("Impuestos", &t_impuestos),
  APPLY ("Complemento", &t_complemento),
  END
};
static const struct tmpl t_comprobante
    = { CFDI_NS_CFDI40, "Comprobante", s_comprobante };

static const struct step s_informacion_global[]
    = { REQ ("Periodicidad"), REQ ("Meses"), REQ ("A\xc3\xb1o"), END };
static const struct tmpl t_informacion_global
    = { CFDI_NS_CFDI40, "InformacionGlobal", s_informacion_global };

static const struct step s_uuid[] = { REQ ("UUID"), END };
static const struct step s_cfdi_relacionados[]
    = { REQ ("TipoRelacion"), EACH1 ("CfdiRelacionado", s_uuid), END };
static const struct tmpl t_cfdi_relacionados
    = { CFDI_NS_CFDI40, "CfdiRelacionados", s_cfdi_relacionados };

static const struct step s_emisor[] = { REQ ("Rfc"), REQ ("Nombre"),
                                        REQ ("RegimenFiscal"),
                                        OPT ("FacAtrAdquirente"), END };
static const struct tmpl t_emisor = { CFDI_NS_CFDI40, "Emisor", s_emisor };

static const struct step s_receptor[]
    = { REQ ("Rfc"), REQ ("Nombre"), REQ ("DomicilioFiscalReceptor"),
        OPT ("ResidenciaFiscal"), OPT ("NumRegIdTrib"),
        REQ ("RegimenFiscalReceptor"), REQ ("UsoCFDI"), END };
static const struct tmpl t_receptor
    = { CFDI_NS_CFDI40, "Receptor", s_receptor };

static const struct step s_conceptos[]
    = { APPLY ("Concepto", &t_concepto), END };
static const struct tmpl t_conceptos
    = { CFDI_NS_CFDI40, "Conceptos", s_conceptos };

static const struct step s_concepto_traslado[]
    = { REQ ("Base"), REQ ("Impuesto"), REQ ("TipoFactor"),
        OPT ("TasaOCuota"), OPT ("Importe"), END };
static const struct step s_concepto_retencion[]
    = { REQ ("Base"), REQ ("Impuesto"), REQ ("TipoFactor"),
        REQ ("TasaOCuota"), REQ ("Importe"), END };
static const struct step s_concepto[] = {
  REQ ("ClaveProdServ"), OPT ("NoIdentificacion"), REQ ("Cantidad"),
  REQ ("ClaveUnidad"), OPT ("Unidad"), REQ ("Descripcion"),
  REQ ("ValorUnitario"), REQ ("Importe"), OPT ("Descuento"),
  REQ ("ObjetoImp"),
  EACH3 ("Impuestos", "Traslados", "Traslado", s_concepto_traslado),
  EACH3 ("Impuestos", "Retenciones", "Retencion", s_concepto_retencion),
  APPLY ("ACuentaTerceros", &t_a_cuenta_terceros),
  APPLY ("InformacionAduanera", &t_informacion_aduanera),
  APPLY ("CuentaPredial", &t_cuenta_predial),
  APPLY ("ComplementoConcepto", &t_complemento_concepto),
  APPLY_DESC ("Parte", &t_parte),
  END
};
static const struct tmpl t_concepto
    = { CFDI_NS_CFDI40, "Concepto", s_concepto };

static const struct step s_a_cuenta_terceros[]
    = { REQ ("RfcACuentaTerceros"), REQ ("NombreACuentaTerceros"),
        REQ ("RegimenFiscalACuentaTerceros"),
        REQ ("DomicilioFiscalACuentaTerceros"), END };
static const struct tmpl t_a_cuenta_terceros
    = { CFDI_NS_CFDI40, "ACuentaTerceros", s_a_cuenta_terceros };

static const struct step s_informacion_aduanera[]
    = { REQ ("NumeroPedimento"), END };
static const struct tmpl t_informacion_aduanera
    = { CFDI_NS_CFDI40, "InformacionAduanera", s_informacion_aduanera };

static const struct step s_cuenta_predial[] = { REQ ("Numero"), END };
static const struct tmpl t_cuenta_predial
    = { CFDI_NS_CFDI40, "CuentaPredial", s_cuenta_predial };

static const struct step s_complemento_concepto[]
    = { { OP_REFUSE_ANY, NULL, NULL, NULL, NULL, NULL }, END };
static const struct tmpl t_complemento_concepto
    = { CFDI_NS_CFDI40, "ComplementoConcepto", s_complemento_concepto };

static const struct step s_parte[] = {
  REQ ("ClaveProdServ"), OPT ("NoIdentificacion"), REQ ("Cantidad"),
  OPT ("Unidad"), REQ ("Descripcion"), OPT ("ValorUnitario"),
  OPT ("Importe"),
  APPLY_DESC ("InformacionAduanera", &t_informacion_aduanera),
  END
};
static const struct tmpl t_parte = { CFDI_NS_CFDI40, "Parte", s_parte };

static const struct step s_complemento[]
    = { { OP_COMPLEMENT, NULL, NULL, NULL, NULL, NULL }, END };
static const struct tmpl t_complemento
    = { CFDI_NS_CFDI40, "Complemento", s_complemento };

static const struct step s_impuestos_retencion[]
    = { REQ ("Impuesto"), REQ ("Importe"), END };
static const struct step s_impuestos[] = {
  EACH3 ("Retenciones", "Retencion", NULL, s_impuestos_retencion),
  OPT ("TotalImpuestosRetenidos"),
  EACH3 ("Traslados", "Traslado", NULL, s_concepto_traslado),
  OPT ("TotalImpuestosTrasladados"),
  END
};
static const struct tmpl t_impuestos
    = { CFDI_NS_CFDI40, "Impuestos", s_impuestos };

/* ---- Pagos20.xslt --------------------------------------------------- */

static const struct tmpl t_p_totales, t_p_pago, t_p_docto, t_p_impuestos,
    t_p_retenciones, t_p_traslados, t_p_retencion, t_p_traslado;

static const struct step s_p_pagos[]
    = { REQ ("Version"), APPLY ("Totales", &t_p_totales),
        APPLY ("Pago", &t_p_pago), END };
static const struct tmpl t_p_pagos = { CFDI_NS_PAGOS20, "Pagos", s_p_pagos };

static const struct step s_p_totales[] = {
  OPT ("TotalRetencionesIVA"), OPT ("TotalRetencionesISR"),
  OPT ("TotalRetencionesIEPS"), OPT ("TotalTrasladosBaseIVA16"),
  OPT ("TotalTrasladosImpuestoIVA16"), OPT ("TotalTrasladosBaseIVA8"),
  OPT ("TotalTrasladosImpuestoIVA8"), OPT ("TotalTrasladosBaseIVA0"),
  OPT ("TotalTrasladosImpuestoIVA0"), OPT ("TotalTrasladosBaseIVAExento"),
  REQ ("MontoTotalPagos"), END
};
static const struct tmpl t_p_totales
    = { CFDI_NS_PAGOS20, "Totales", s_p_totales };

static const struct step s_p_pago[] = {
  REQ ("FechaPago"), REQ ("FormaDePagoP"), REQ ("MonedaP"),
  OPT ("TipoCambioP"), REQ ("Monto"), OPT ("NumOperacion"),
  OPT ("RfcEmisorCtaOrd"), OPT ("NomBancoOrdExt"), OPT ("CtaOrdenante"),
  OPT ("RfcEmisorCtaBen"), OPT ("CtaBeneficiario"), OPT ("TipoCadPago"),
  OPT ("CertPago"), OPT ("CadPago"), OPT ("SelloPago"),
  APPLY ("DoctoRelacionado", &t_p_docto),
  APPLY ("ImpuestosP", &t_p_impuestos),
  END
};
static const struct tmpl t_p_pago = { CFDI_NS_PAGOS20, "Pago", s_p_pago };

static const struct step s_p_retencion_dr[]
    = { REQ ("BaseDR"), REQ ("ImpuestoDR"), REQ ("TipoFactorDR"),
        REQ ("TasaOCuotaDR"), REQ ("ImporteDR"), END };
static const struct step s_p_traslado_dr[]
    = { REQ ("BaseDR"), REQ ("ImpuestoDR"), REQ ("TipoFactorDR"),
        OPT ("TasaOCuotaDR"), OPT ("ImporteDR"), END };
static const struct step s_p_docto[] = {
  REQ ("IdDocumento"), OPT ("Serie"), OPT ("Folio"), REQ ("MonedaDR"),
  OPT ("EquivalenciaDR"), REQ ("NumParcialidad"), REQ ("ImpSaldoAnt"),
  REQ ("ImpPagado"), REQ ("ImpSaldoInsoluto"), REQ ("ObjetoImpDR"),
  EACH3 ("ImpuestosDR", "RetencionesDR", "RetencionDR", s_p_retencion_dr),
  EACH3 ("ImpuestosDR", "TrasladosDR", "TrasladoDR", s_p_traslado_dr),
  END
};
static const struct tmpl t_p_docto
    = { CFDI_NS_PAGOS20, "DoctoRelacionado", s_p_docto };

static const struct step s_p_impuestos[]
    = { APPLY ("RetencionesP", &t_p_retenciones),
        APPLY ("TrasladosP", &t_p_traslados), END };
static const struct tmpl t_p_impuestos
    = { CFDI_NS_PAGOS20, "ImpuestosP", s_p_impuestos };

static const struct step s_p_retenciones[]
    = { APPLY ("RetencionP", &t_p_retencion), END };
static const struct tmpl t_p_retenciones
    = { CFDI_NS_PAGOS20, "RetencionesP", s_p_retenciones };

static const struct step s_p_traslados[]
    = { APPLY ("TrasladoP", &t_p_traslado), END };
static const struct tmpl t_p_traslados
    = { CFDI_NS_PAGOS20, "TrasladosP", s_p_traslados };

static const struct step s_p_retencion[]
    = { REQ ("ImpuestoP"), REQ ("ImporteP"), END };
static const struct tmpl t_p_retencion
    = { CFDI_NS_PAGOS20, "RetencionP", s_p_retencion };

static const struct step s_p_traslado[]
    = { REQ ("BaseP"), REQ ("ImpuestoP"), REQ ("TipoFactorP"),
        OPT ("TasaOCuotaP"), OPT ("ImporteP"), END };
static const struct tmpl t_p_traslado
    = { CFDI_NS_PAGOS20, "TrasladoP", s_p_traslado };

/* ---- implocal.xslt, leyendasFisc.xslt ------------------------------- */

static const struct step s_il_ret[]
    = { REQ ("ImpLocRetenido"), REQ ("TasadeRetencion"), REQ ("Importe"), END };
static const struct step s_il_tras[] = { REQ ("ImpLocTrasladado"),
                                         REQ ("TasadeTraslado"),
                                         REQ ("Importe"), END };
static const struct step s_implocal[]
    = { REQ ("version"), REQ ("TotaldeRetenciones"), REQ ("TotaldeTraslados"),
        EACH1 ("RetencionesLocales", s_il_ret),
        EACH1 ("TrasladosLocales", s_il_tras), END };
static const struct tmpl t_implocal
    = { CFDI_NS_IMPLOCAL, "ImpuestosLocales", s_implocal };

static const struct tmpl t_leyenda;
static const struct step s_leyendas[]
    = { REQ ("version"), APPLY ("Leyenda", &t_leyenda), END };
static const struct tmpl t_leyendas
    = { CFDI_NS_LEYENDAS, "LeyendasFiscales", s_leyendas };
static const struct step s_leyenda[]
    = { OPT ("disposicionFiscal"), OPT ("norma"), REQ ("textoLeyenda"), END };
static const struct tmpl t_leyenda
    = { CFDI_NS_LEYENDAS, "Leyenda", s_leyenda };

/* ---- cadenaoriginal_TFD_1_1.xslt ------------------------------------ */

static const struct step s_tfd[]
    = { REQ ("Version"), REQ ("UUID"), REQ ("FechaTimbrado"),
        REQ ("RfcProvCertif"), OPT ("Leyenda"), REQ ("SelloCFD"),
        REQ ("NoCertificadoSAT"), END };

/* Every template apply-templates can reach by element name. */
static const struct tmpl *const all_templates[] = {
  &t_comprobante, &t_informacion_global, &t_cfdi_relacionados, &t_emisor,
  &t_receptor, &t_conceptos, &t_concepto, &t_impuestos, &t_complemento,
  &t_a_cuenta_terceros, &t_informacion_aduanera, &t_cuenta_predial,
  &t_complemento_concepto, &t_parte,
  &t_p_pagos, &t_p_totales, &t_p_pago, &t_p_docto, &t_p_impuestos,
  &t_p_retenciones, &t_p_traslados, &t_p_retencion, &t_p_traslado,
  &t_implocal, &t_leyendas, &t_leyenda,
};

/* Namespaces of the complements SAT's 4.0 XSLT includes and we do not
 * transcribe: their templates would change the output, so we refuse. */
static const char *const unsupported_ns[] = {
  "http://www.sat.gob.mx/ComercioExterior11",
  "http://www.sat.gob.mx/ComercioExterior20",
  "http://www.sat.gob.mx/donat",
  "http://www.sat.gob.mx/divisas",
  "http://www.sat.gob.mx/pfic",
  "http://www.sat.gob.mx/TuristaPasajeroExtranjero",
  "http://www.sat.gob.mx/nomina12",
  "http://www.sat.gob.mx/registrofiscal",
  "http://www.sat.gob.mx/pagoenespecie",
  "http://www.sat.gob.mx/aerolineas",
  "http://www.sat.gob.mx/valesdedespensa",
  "http://www.sat.gob.mx/notariospublicos",
  "http://www.sat.gob.mx/vehiculousado",
  "http://www.sat.gob.mx/servicioparcialconstruccion",
  "http://www.sat.gob.mx/renovacionysustitucionvehiculos",
  "http://www.sat.gob.mx/certificadodestruccion",
  "http://www.sat.gob.mx/arteantiguedades",
  "http://www.sat.gob.mx/ine",
  "http://www.sat.gob.mx/iedu",
  "http://www.sat.gob.mx/ventavehiculos",
  "http://www.sat.gob.mx/detallista",
  "http://www.sat.gob.mx/EstadoDeCuentaCombustible12",
  "http://www.sat.gob.mx/ConsumoDeCombustibles11",
  "http://www.sat.gob.mx/GastosHidrocarburos10",
  "http://www.sat.gob.mx/IngresosHidrocarburos10",
  "http://www.sat.gob.mx/CartaPorte20",
  "http://www.sat.gob.mx/CartaPorte30",
  "http://www.sat.gob.mx/CartaPorte31",
  "http://www.sat.gob.mx/hidrocarburospetroliferos",
};

/* clang-format on */

/* ---- the walk ------------------------------------------------------- */

struct walk
{
  struct buf *out;
  struct ferr *err;
  int depth;
};

/* Short-string equality, inlined: names here are a few bytes long and
 * usually differ in the first one, where a libc call costs more than the
 * comparison. */
static inline bool
streq (const xmlChar *a, const char *b)
{
  while (*a == (xmlChar)*b)
    {
      if (*a == '\0')
        return true;
      a++, b++;
    }
  return false;
}

/* Namespace test; `same` is a namespace already known to be `href` (the
 * context element's), which spares the string comparison in the usual
 * case where parent and child share one declaration. */
static inline bool
ns_is (const xmlNode *n, const xmlNs *same, const char *href)
{
  return n->ns != NULL
         && (n->ns == same
             || (n->ns->href != NULL && streq (n->ns->href, href)));
}

static inline bool
elem_is (const xmlNode *n, const xmlNs *same, const char *href,
         const char *name)
{
  return n->type == XML_ELEMENT_NODE && streq (n->name, name)
         && ns_is (n, same, href);
}

/* XML white space, what normalize-space() strips and collapses. */
static const unsigned char blank[256]
    = { [0x20] = 1, [0x09] = 1, [0x0a] = 1, [0x0d] = 1 };

/* Makes room for n more bytes plus the NUL in b (see util/buf.h: data is
 * NUL-terminated, len excludes the NUL). */
static inline void
reserve (struct buf *b, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      size_t cap = b->cap ? b->cap * 2 : 512;
      while (cap < b->len + n + 1)
        cap *= 2;
      b->data = xrealloc (b->data, cap);
      b->cap = cap;
    }
}

/* Appends "|" + normalize-space(s).  Leaves data unterminated: the caller
 * (cfdi_cadena) terminates once at the end.  One pass, no strlen: room is
 * checked per byte written. */
static void
put_field (struct buf *out, const xmlChar *s)
{
  reserve (out, 64);
  char *o = out->data + out->len;
  char *end = out->data + out->cap - 1;
  *o++ = '|';
  while (blank[*s])
    s++;
  bool space = false;
  for (; *s != '\0'; s++)
    {
      if (blank[*s])
        {
          space = true;
          continue;
        }
      if (o + 2 > end)
        {
          out->len = (size_t)(o - out->data);
          reserve (out, 64 + strlen ((const char *)s));
          o = out->data + out->len;
          end = out->data + out->cap - 1;
        }
      if (space)
        *o++ = ' ';
      space = false;
      *o++ = (char)*s;
    }
  out->len = (size_t)(o - out->data);
}

static inline void
put_bytes (struct buf *out, const char *s, size_t n)
{
  reserve (out, n);
  memcpy (out->data + out->len, s, n);
  out->len += n;
}

/* The attribute ./@name (no namespace), or NULL.  The search starts after
 * the attribute found last (*hint): documents almost always list
 * attributes in the order SAT's templates read them. */
static inline const xmlAttr *
find_attr (const xmlNode *n, const char *name, const xmlAttr **hint)
{
  const xmlAttr *start = *hint != NULL ? (*hint)->next : NULL;
  for (const xmlAttr *a = start; a != NULL; a = a->next)
    if (a->ns == NULL && streq (a->name, name))
      return *hint = a;
  for (const xmlAttr *a = n->properties; a != start; a = a->next)
    if (a->ns == NULL && streq (a->name, name))
      return *hint = a;
  return NULL;
}

static void
put_attr_value (struct buf *out, const xmlAttr *a)
{
  const xmlNode *c = a->children;
  if (c == NULL)
    put_field (out, BAD_CAST "");
  else if (c->next == NULL && c->type == XML_TEXT_NODE)
    put_field (out, c->content);
  else
    {
      /* Split value (entity references): flatten as XPath string() does. */
      xmlChar *v = xmlNodeListGetString (a->doc, a->children, 1);
      put_field (out, v != NULL ? v : BAD_CAST "");
      xmlFree (v);
    }
}

static bool run (struct walk *w, const xmlNode *ctx, const struct step *s);
static bool dispatch (struct walk *w, const xmlNode *n);

static bool
refuse (struct walk *w, const xmlNode *n)
{
  return ferr_set (
      w->err, "cfdi_unsupported_complement", (const char *)n->name,
      "complement %s (%s) is not supported for the cadena original",
      "el complemento %s (%s) no está soportado para la cadena original",
      (const char *)n->name,
      n->ns && n->ns->href ? (const char *)n->ns->href : "");
}

static bool
apply (struct walk *w, const xmlNode *n, const struct tmpl *t)
{
  if (w->depth >= CADENA_MAX_DEPTH)
    return ferr_set (w->err, "cfdi_too_deep", "", "XML nested too deeply",
                     "XML anidado demasiado profundo");
  w->depth++;
  bool ok = run (w, n, t->steps);
  w->depth--;
  return ok;
}

/* XSLT's built-in template rule for an element no template matches. */
static bool
builtin (struct walk *w, const xmlNode *n)
{
  if (w->depth >= CADENA_MAX_DEPTH)
    return ferr_set (w->err, "cfdi_too_deep", "", "XML nested too deeply",
                     "XML anidado demasiado profundo");
  w->depth++;
  for (const xmlNode *c = n->children; c != NULL; c = c->next)
    switch (c->type)
      {
      case XML_ELEMENT_NODE:
        if (!dispatch (w, c))
          return false;
        break;
      case XML_TEXT_NODE:
      case XML_CDATA_SECTION_NODE:
        if (c->content != NULL)
          put_bytes (w->out, (const char *)c->content,
                     strlen ((const char *)c->content));
        break;
      case XML_ENTITY_REF_NODE:
        return ferr_set (w->err, "cfdi_unsupported_xml", "",
                         "entity reference inside a complement",
                         "referencia a entidad dentro de un complemento");
      default:
        break;
      }
  w->depth--;
  return true;
}

/* apply-templates on one element whose template is not known statically. */
static bool
dispatch (struct walk *w, const xmlNode *n)
{
  if (n->ns != NULL && n->ns->href != NULL)
    {
      const char *href = (const char *)n->ns->href;
      for (size_t i = 0; i < sizeof all_templates / sizeof *all_templates; i++)
        if (streq (n->name, all_templates[i]->name)
            && streq (BAD_CAST href, all_templates[i]->ns))
          return apply (w, n, all_templates[i]);
      for (size_t i = 0; i < sizeof unsupported_ns / sizeof *unsupported_ns;
           i++)
        if (streq (BAD_CAST href, unsupported_ns[i]))
          return refuse (w, n);
    }
  return builtin (w, n);
}

static bool
each_path (struct walk *w, const xmlNode *ctx, const xmlNs *same,
           const char *ns, const char *const *path, const struct step *body)
{
  for (const xmlNode *c = ctx->children; c != NULL; c = c->next)
    {
      if (!elem_is (c, same, ns, path[0]))
        continue;
      if (path[1] == NULL)
        {
          if (!run (w, c, body))
            return false;
        }
      else if (!each_path (w, c, same, ns, path + 1, body))
        return false;
    }
  return true;
}

/* The namespace of the template being run: every path in SAT's templates
 * stays in the namespace of the element the template matched. */
static bool
run (struct walk *w, const xmlNode *ctx, const struct step *s)
{
  const xmlNs *same = ctx->ns;
  const char *ns = (const char *)ctx->ns->href;
  const xmlAttr *hint = NULL;
  for (; s->op != OP_END; s++)
    switch (s->op)
      {
      case OP_REQ:
      case OP_OPT:
        {
          const xmlAttr *a = find_attr (ctx, s->a, &hint);
          if (a != NULL)
            put_attr_value (w->out, a);
          else if (s->op == OP_REQ)
            put_bytes (w->out, "|", 1);
          break;
        }
      case OP_EACH:
        {
          const char *path[4] = { s->a, s->b, s->c, NULL };
          if (!each_path (w, ctx, same, ns, path, s->body))
            return false;
          break;
        }
      case OP_APPLY:
        for (const xmlNode *c = ctx->children; c != NULL; c = c->next)
          if (elem_is (c, same, ns, s->a) && !apply (w, c, s->t))
            return false;
        break;
      case OP_APPLY_DESC:
        {
          /* Pre-order over the descendants of ctx, without recursion. */
          const xmlNode *c = ctx->children;
          while (c != NULL)
            {
              if (elem_is (c, same, ns, s->a) && !apply (w, c, s->t))
                return false;
              if (c->type == XML_ELEMENT_NODE && c->children != NULL)
                c = c->children;
              else
                {
                  while (c != NULL && c->next == NULL)
                    {
                      c = c->parent;
                      if (c == ctx)
                        c = NULL;
                    }
                  if (c != NULL)
                    c = c->next;
                }
            }
          break;
        }
      case OP_COMPLEMENT:
        for (const xmlNode *c = ctx->children; c != NULL; c = c->next)
          {
            if (c->type != XML_ELEMENT_NODE)
              continue;
            /* The four complements allowed here, each straight to its
             * template (the TFD to XSLT's built-in rule). */
            bool ok;
            if (elem_is (c, NULL, CFDI_NS_TFD11, "TimbreFiscalDigital"))
              ok = builtin (w, c);
            else if (elem_is (c, NULL, CFDI_NS_PAGOS20, "Pagos"))
              ok = apply (w, c, &t_p_pagos);
            else if (elem_is (c, NULL, CFDI_NS_IMPLOCAL, "ImpuestosLocales"))
              ok = apply (w, c, &t_implocal);
            else if (elem_is (c, NULL, CFDI_NS_LEYENDAS, "LeyendasFiscales"))
              ok = apply (w, c, &t_leyendas);
            else
              ok = refuse (w, c);
            if (!ok)
              return false;
          }
        break;
      case OP_REFUSE_ANY:
        for (const xmlNode *c = ctx->children; c != NULL; c = c->next)
          if (c->type == XML_ELEMENT_NODE)
            return refuse (w, c);
        break;
      default:
        break;
      }
  return true;
}

bool
cfdi_cadena (xmlNodePtr comprobante, struct buf *out, struct ferr *err)
{
  if (comprobante == NULL
      || !elem_is (comprobante, NULL, CFDI_NS_CFDI40, "Comprobante"))
    return ferr_set (err, "cfdi_not_comprobante", "",
                     "not a CFDI 4.0 cfdi:Comprobante element",
                     "no es un elemento cfdi:Comprobante de CFDI 4.0");
  struct walk w = { out, err, 0 };
  put_bytes (out, "|", 1);
  bool ok = apply (&w, comprobante, &t_comprobante);
  if (ok)
    put_bytes (out, "||", 2);
  out->data[out->len] = '\0';
  return ok;
}

bool
cfdi_tfd_cadena (xmlNodePtr tfd, struct buf *out, struct ferr *err)
{
  if (tfd == NULL
      || !elem_is (tfd, NULL, CFDI_NS_TFD11, "TimbreFiscalDigital"))
    return ferr_set (err, "cfdi_not_tfd", "",
                     "not a tfd:TimbreFiscalDigital element",
                     "no es un elemento tfd:TimbreFiscalDigital");
  struct walk w = { out, err, 0 };
  put_bytes (out, "|", 1);
  bool ok = run (&w, tfd, s_tfd);
  if (ok)
    put_bytes (out, "||", 2);
  out->data[out->len] = '\0';
  return ok;
}
