/*
 * build.c — CFDI 4.0 XML from the invoice model, sealed; the streamed
 * global invoice; `facturo cfdi build`.
 *
 * Implements Anexo 20 (cfdv40.xsd element order, SAT's sample attribute
 * order) and the Pagos 2.0 complement (Pagos20.xsd).  Every amount is
 * written with the decimals core/invoice.c rounded it to: the currency's
 * for SubTotal, Descuento, Total, Importe, Base and tax Importe; at least
 * those and at most 6 for ValorUnitario; 6 for TasaOCuota; Cantidad and
 * TipoCambio with the digits they need.
 *
 * One invoice: write once (xmlTextWriter into a buffer), parse once,
 * cfdi_cadena() over the tree, csd_sign(), splice the Sello into the
 * empty Sello="" the writer left (the only ` Sello=""` in the text: any
 * quote inside a value is written as &quot;).  Workload: thousands of
 * invoices per second on one core; the RSA signature dominates.
 *
 * Global invoice: conceptos come from a callback, so neither the model
 * nor a tree of the document ever holds them all.  The root element
 * carries SubTotal and Total and the Sello, so the callback is walked
 * three times: sums; cadena original (emitted here while walking, in the
 * order of SAT's cadenaoriginal_4_0.xslt for the nodes this file writes,
 * and proved byte-identical to libxslt and to cfdi_cadena by the tests);
 * then the XML itself, streamed to the caller's sink.
 */
#include "cfdi/build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <openssl/crypto.h>

#include "cfdi/cadena.h"
#include "cfdi/json_in.h"
#include "cfdi/pac.h"
#include "core/catalog.h"
#include "core/rules.h"
#include "core/ticket.h"
#include "util/tz.h"

#define NS_CFDI "http://www.sat.gob.mx/cfd/4"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_PAGO20 "http://www.sat.gob.mx/Pagos20"
#define LOC_CFDI                                                              \
  "http://www.sat.gob.mx/cfd/4 "                                              \
  "http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd"
#define LOC_PAGO20                                                            \
  " http://www.sat.gob.mx/Pagos20 "                                           \
  "http://www.sat.gob.mx/sitio_internet/cfd/Pagos/Pagos20.xsd"

/* ------------------------------------------------------------------ */
/* A writer that can also (or only) emit the cadena original           */
/* ------------------------------------------------------------------ */

struct w
{
  xmlTextWriterPtr xw; /* NULL: no XML in this pass */
  struct buf *cad;     /* NULL: no cadena in this pass */
  bool ok;
};

/* "|" + normalize-space(v): trims and collapses runs of blanks. */
static void
cad_put (struct w *w, const char *v)
{
  if (w->cad == NULL)
    return;
  buf_putc (w->cad, '|');
  const unsigned char *s = (const unsigned char *)v;
  bool pending = false, any = false;
  for (; *s; s++)
    {
      if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        {
          pending = any;
          continue;
        }
      if (pending)
        buf_putc (w->cad, ' ');
      pending = false;
      any = true;
      buf_putc (w->cad, (char)*s);
    }
}

static void
start (struct w *w, const char *name)
{
  if (w->xw && xmlTextWriterStartElement (w->xw, BAD_CAST name) < 0)
    w->ok = false;
}

static void
end (struct w *w)
{
  if (w->xw && xmlTextWriterEndElement (w->xw) < 0)
    w->ok = false;
}

/* Attribute written to the XML only. */
static void
xattr (struct w *w, const char *name, const char *v)
{
  if (w->xw
      && xmlTextWriterWriteAttribute (w->xw, BAD_CAST name, BAD_CAST v) < 0)
    w->ok = false;
}

/* Attribute written to the XML and to the cadena (in SAT's order). */
static void
attr (struct w *w, const char *name, const char *v)
{
  xattr (w, name, v);
  cad_put (w, v);
}

/* Optional: nothing at all when v is NULL or "". */
static void
attr_opt (struct w *w, const char *name, const char *v)
{
  if (v != NULL && v[0] != '\0')
    attr (w, name, v);
}

static const char *
fmt (char b[MONEY_BUFSZ], int64_t v, int d)
{
  return money_format (v, d, b);
}

static const char *
fmt_min (char b[MONEY_BUFSZ], int64_t v, int d)
{
  return money_format_min (v, d, b);
}

/* ------------------------------------------------------------------ */
/* Document parts                                                      */
/* ------------------------------------------------------------------ */

static void
write_root_open (struct w *w, const struct invoice *inv, const char *no_cert,
                 const char *cert, const char *sello)
{
  char b[MONEY_BUFSZ];
  int d = inv->decimals;
  bool pago = inv->type == INVOICE_PAGO;
  start (w, "cfdi:Comprobante");
  xattr (w, "xmlns:cfdi", NS_CFDI);
  xattr (w, "xmlns:xsi", NS_XSI);
  if (pago)
    xattr (w, "xmlns:pago20", NS_PAGO20);
  xattr (w, "xsi:schemaLocation", pago ? LOC_CFDI LOC_PAGO20 : LOC_CFDI);
  if (w->cad)
    buf_putc (w->cad, '|');
  attr (w, "Version", "4.0");
  attr_opt (w, "Serie", inv->series);
  attr_opt (w, "Folio", inv->folio);
  attr (w, "Fecha", inv->date);
  xattr (w, "Sello", sello ? sello : "");
  if (!pago)
    attr_opt (w, "FormaPago", inv->payment_form);
  if (no_cert)
    attr (w, "NoCertificado", no_cert);
  else
    cad_put (w, "");
  if (cert)
    xattr (w, "Certificado", cert);
  if (!pago)
    attr_opt (w, "CondicionesDePago", inv->conditions);
  attr (w, "SubTotal", fmt (b, inv->subtotal, d));
  if (inv->has_discount)
    attr (w, "Descuento", fmt (b, inv->discount, d));
  attr (w, "Moneda", inv->currency[0] ? inv->currency : pago ? "XXX" : "MXN");
  if (inv->has_exchange)
    attr (w, "TipoCambio", fmt_min (b, inv->exchange, 0));
  attr (w, "Total", fmt (b, inv->total, d));
  char type[2] = { (char)inv->type, 0 };
  attr (w, "TipoDeComprobante", type);
  attr (w, "Exportacion", inv->export_code[0] ? inv->export_code : "01");
  if (!pago)
    attr_opt (w, "MetodoPago", inv->payment_method);
  attr (w, "LugarExpedicion", inv->issuer.zip ? inv->issuer.zip : "");
}

static void
write_header_nodes (struct w *w, const struct invoice *inv)
{
  if (inv->global.present)
    {
      char y[16];
      snprintf (y, sizeof y, "%d", inv->global.year);
      start (w, "cfdi:InformacionGlobal");
      attr (w, "Periodicidad", inv->global.periodicity);
      attr (w, "Meses", inv->global.months);
      attr (w, "Año", y);
      end (w);
    }
  for (size_t i = 0; i < inv->n_related; i++)
    {
      const struct invoice_related *r = &inv->related[i];
      start (w, "cfdi:CfdiRelacionados");
      attr (w, "TipoRelacion", r->relation);
      for (size_t k = 0; k < r->n_uuids; k++)
        {
          start (w, "cfdi:CfdiRelacionado");
          attr (w, "UUID", r->uuids[k]);
          end (w);
        }
      end (w);
    }
  start (w, "cfdi:Emisor");
  attr (w, "Rfc", inv->issuer.rfc ? inv->issuer.rfc : "");
  attr (w, "Nombre", inv->issuer.name ? inv->issuer.name : "");
  attr (w, "RegimenFiscal", inv->issuer.regime ? inv->issuer.regime : "");
  end (w);
  start (w, "cfdi:Receptor");
  attr (w, "Rfc", inv->receiver.rfc ? inv->receiver.rfc : "");
  attr (w, "Nombre", inv->receiver.name ? inv->receiver.name : "");
  attr (w, "DomicilioFiscalReceptor",
        inv->receiver.zip ? inv->receiver.zip : "");
  attr (w, "RegimenFiscalReceptor",
        inv->receiver.regime ? inv->receiver.regime : "");
  attr (w, "UsoCFDI", inv->receiver.use ? inv->receiver.use : "");
  end (w);
}

/* Base of a tax as written: currency decimals, or the units of a Cuota. */
static const char *
fmt_base (char b[MONEY_BUFSZ], const struct invoice_tax *t, int d)
{
  return t->factor == INVOICE_FACTOR_CUOTA ? fmt_min (b, t->base, 0)
                                           : fmt (b, t->base, d);
}

static void
write_concept (struct w *w, const struct invoice_item *it, int d)
{
  char b[MONEY_BUFSZ];
  start (w, "cfdi:Concepto");
  attr (w, "ClaveProdServ", it->product_key);
  attr_opt (w, "NoIdentificacion", it->sku);
  attr (w, "Cantidad", fmt_min (b, it->quantity, 0));
  attr (w, "ClaveUnidad", it->unit_key);
  attr_opt (w, "Unidad", it->unit_name);
  attr (w, "Descripcion", it->description);
  attr (w, "ValorUnitario", fmt_min (b, it->unit_price, d));
  attr (w, "Importe", fmt (b, it->amount, d));
  if (it->has_discount)
    attr (w, "Descuento", fmt (b, it->discount_net, d));
  attr (w, "ObjetoImp", it->tax_object);
  if (it->n_taxes > 0)
    {
      start (w, "cfdi:Impuestos");
      for (int wh = 0; wh < 2; wh++)
        {
          bool open = false;
          for (size_t t = 0; t < it->n_taxes; t++)
            {
              const struct invoice_tax *x = &it->taxes[t];
              if (x->withholding != (wh == 1))
                continue;
              if (!open)
                start (w, wh ? "cfdi:Retenciones" : "cfdi:Traslados");
              open = true;
              start (w, wh ? "cfdi:Retencion" : "cfdi:Traslado");
              attr (w, "Base", fmt_base (b, x, d));
              attr (w, "Impuesto", invoice_tax_code (x->kind));
              attr (w, "TipoFactor", invoice_factor_name (x->factor));
              if (x->factor != INVOICE_FACTOR_EXENTO)
                {
                  attr (w, "TasaOCuota", fmt (b, x->rate, 6));
                  attr (w, "Importe", fmt (b, x->amount, d));
                }
              end (w);
            }
          if (open)
            end (w);
        }
      end (w);
    }
  end (w);
}

/* The Pagos concepto SAT fixes for type P. */
static void
write_pago_concept (struct w *w)
{
  start (w, "cfdi:Concepto");
  attr (w, "ClaveProdServ", "84111506");
  attr (w, "Cantidad", "1");
  attr (w, "ClaveUnidad", "ACT");
  attr (w, "Descripcion", "Pago");
  attr (w, "ValorUnitario", "0");
  attr (w, "Importe", "0");
  attr (w, "ObjetoImp", "01");
  end (w);
}

/* cfdi:Impuestos of the comprobante.  XML attributes first, cadena in
 * the XSLT's order: Retencion*, TotalImpuestosRetenidos, Traslado*,
 * TotalImpuestosTrasladados. */
static void
write_summary (struct w *w, const struct invoice *inv)
{
  char b[MONEY_BUFSZ], tr[MONEY_BUFSZ], tw[MONEY_BUFSZ];
  int d = inv->decimals;
  if (!inv->has_transferred && !inv->has_withheld)
    return;
  start (w, "cfdi:Impuestos");
  fmt (tw, inv->total_withheld, d);
  fmt (tr, inv->total_transferred, d);
  if (inv->has_withheld)
    xattr (w, "TotalImpuestosRetenidos", tw);
  if (inv->has_transferred_amount)
    xattr (w, "TotalImpuestosTrasladados", tr);
  for (int wh = 1; wh >= 0; wh--)
    {
      bool open = false;
      for (size_t i = 0; i < inv->n_tax_totals; i++)
        {
          const struct invoice_tax_total *r = &inv->tax_totals[i];
          if (r->withholding != (wh == 1))
            continue;
          if (!open)
            start (w, wh ? "cfdi:Retenciones" : "cfdi:Traslados");
          open = true;
          if (wh)
            {
              start (w, "cfdi:Retencion");
              attr (w, "Impuesto", invoice_tax_code (r->kind));
              attr (w, "Importe", fmt (b, r->amount, d));
              end (w);
              continue;
            }
          start (w, "cfdi:Traslado");
          attr (w, "Base",
                r->factor == INVOICE_FACTOR_CUOTA ? fmt_min (b, r->base, 0)
                                                  : fmt (b, r->base, d));
          attr (w, "Impuesto", invoice_tax_code (r->kind));
          attr (w, "TipoFactor", invoice_factor_name (r->factor));
          if (r->factor != INVOICE_FACTOR_EXENTO)
            {
              attr (w, "TasaOCuota", fmt (b, r->rate, 6));
              attr (w, "Importe", fmt (b, r->amount, d));
            }
          end (w);
        }
      if (open)
        end (w);
      if (wh && inv->has_withheld)
        cad_put (w, tw);
      if (!wh && inv->has_transferred_amount)
        cad_put (w, tr);
    }
  end (w);
}

static void
write_dr_taxes (struct w *w, const struct invoice_payment_doc *dr)
{
  char b[MONEY_BUFSZ];
  if (dr->n_taxes == 0)
    return;
  start (w, "pago20:ImpuestosDR");
  for (int wh = 1; wh >= 0; wh--)
    {
      bool open = false;
      for (size_t t = 0; t < dr->n_taxes; t++)
        {
          const struct invoice_tax *x = &dr->taxes[t];
          if (x->withholding != (wh == 1))
            continue;
          if (!open)
            start (w, wh ? "pago20:RetencionesDR" : "pago20:TrasladosDR");
          open = true;
          start (w, wh ? "pago20:RetencionDR" : "pago20:TrasladoDR");
          xattr (w, "BaseDR",
                 x->factor == INVOICE_FACTOR_CUOTA
                     ? fmt_min (b, x->base, 0)
                     : fmt (b, x->base, dr->decimals));
          xattr (w, "ImpuestoDR", invoice_tax_code (x->kind));
          xattr (w, "TipoFactorDR", invoice_factor_name (x->factor));
          if (x->factor != INVOICE_FACTOR_EXENTO)
            {
              xattr (w, "TasaOCuotaDR", fmt (b, x->rate, 6));
              xattr (w, "ImporteDR", fmt (b, x->amount, dr->decimals));
            }
          end (w);
        }
      if (open)
        end (w);
    }
  end (w);
}

static void
write_pagos (struct w *w, const struct invoice *inv)
{
  char b[MONEY_BUFSZ];
  const struct invoice_payment_totals *T = &inv->pay_totals;
  start (w, "cfdi:Complemento");
  start (w, "pago20:Pagos");
  xattr (w, "Version", "2.0");
  start (w, "pago20:Totales");
  if (T->has_withheld_iva)
    xattr (w, "TotalRetencionesIVA", fmt (b, T->withheld_iva, 2));
  if (T->has_withheld_isr)
    xattr (w, "TotalRetencionesISR", fmt (b, T->withheld_isr, 2));
  if (T->has_withheld_ieps)
    xattr (w, "TotalRetencionesIEPS", fmt (b, T->withheld_ieps, 2));
  if (T->has_iva16)
    {
      xattr (w, "TotalTrasladosBaseIVA16", fmt (b, T->base_iva16, 2));
      xattr (w, "TotalTrasladosImpuestoIVA16", fmt (b, T->tax_iva16, 2));
    }
  if (T->has_iva8)
    {
      xattr (w, "TotalTrasladosBaseIVA8", fmt (b, T->base_iva8, 2));
      xattr (w, "TotalTrasladosImpuestoIVA8", fmt (b, T->tax_iva8, 2));
    }
  if (T->has_iva0)
    {
      xattr (w, "TotalTrasladosBaseIVA0", fmt (b, T->base_iva0, 2));
      xattr (w, "TotalTrasladosImpuestoIVA0", fmt (b, T->tax_iva0, 2));
    }
  if (T->has_iva_exempt)
    xattr (w, "TotalTrasladosBaseIVAExento", fmt (b, T->base_iva_exempt, 2));
  xattr (w, "MontoTotalPagos", fmt (b, T->total, 2));
  end (w);
  for (size_t i = 0; i < inv->n_payments; i++)
    {
      const struct invoice_payment *p = &inv->payments[i];
      start (w, "pago20:Pago");
      xattr (w, "FechaPago", p->date);
      xattr (w, "FormaDePagoP", p->form);
      xattr (w, "MonedaP", p->currency);
      xattr (w, "TipoCambioP", fmt_min (b, p->exchange, 0));
      xattr (w, "Monto", fmt (b, p->amount, p->decimals));
      if (p->operation)
        xattr (w, "NumOperacion", p->operation);
      if (p->payer_rfc)
        xattr (w, "RfcEmisorCtaOrd", p->payer_rfc);
      if (p->payer_bank)
        xattr (w, "NomBancoOrdExt", p->payer_bank);
      if (p->payer_account)
        xattr (w, "CtaOrdenante", p->payer_account);
      if (p->payee_rfc)
        xattr (w, "RfcEmisorCtaBen", p->payee_rfc);
      if (p->payee_account)
        xattr (w, "CtaBeneficiario", p->payee_account);
      for (size_t j = 0; j < p->n_docs; j++)
        {
          const struct invoice_payment_doc *dr = &p->docs[j];
          char n[16];
          start (w, "pago20:DoctoRelacionado");
          xattr (w, "IdDocumento", dr->uuid);
          if (dr->series)
            xattr (w, "Serie", dr->series);
          if (dr->folio)
            xattr (w, "Folio", dr->folio);
          xattr (w, "MonedaDR", dr->currency);
          xattr (w, "EquivalenciaDR", fmt_min (b, dr->equivalence, 0));
          snprintf (n, sizeof n, "%d", dr->installment);
          xattr (w, "NumParcialidad", n);
          xattr (w, "ImpSaldoAnt", fmt (b, dr->last_balance, dr->decimals));
          xattr (w, "ImpPagado", fmt (b, dr->amount, dr->decimals));
          xattr (w, "ImpSaldoInsoluto", fmt (b, dr->balance, dr->decimals));
          xattr (w, "ObjetoImpDR", dr->tax_object);
          write_dr_taxes (w, dr);
          end (w);
        }
      if (p->n_tax_totals > 0)
        {
          start (w, "pago20:ImpuestosP");
          for (int wh = 1; wh >= 0; wh--)
            {
              bool open = false;
              for (size_t k = 0; k < p->n_tax_totals; k++)
                {
                  const struct invoice_tax_total *r = &p->tax_totals[k];
                  if (r->withholding != (wh == 1))
                    continue;
                  if (!open)
                    start (w,
                           wh ? "pago20:RetencionesP" : "pago20:TrasladosP");
                  open = true;
                  if (wh)
                    {
                      start (w, "pago20:RetencionP");
                      xattr (w, "ImpuestoP", invoice_tax_code (r->kind));
                      xattr (w, "ImporteP",
                             fmt_min (b, r->amount, p->decimals));
                      end (w);
                      continue;
                    }
                  start (w, "pago20:TrasladoP");
                  xattr (w, "BaseP", fmt_min (b, r->base, p->decimals));
                  xattr (w, "ImpuestoP", invoice_tax_code (r->kind));
                  xattr (w, "TipoFactorP", invoice_factor_name (r->factor));
                  if (r->factor != INVOICE_FACTOR_EXENTO)
                    {
                      xattr (w, "TasaOCuotaP", fmt (b, r->rate, 6));
                      xattr (w, "ImporteP",
                             fmt_min (b, r->amount, p->decimals));
                    }
                  end (w);
                }
              if (open)
                end (w);
            }
          end (w);
        }
      end (w);
    }
  end (w);
  end (w);
}

/* ------------------------------------------------------------------ */
/* Output plumbing                                                     */
/* ------------------------------------------------------------------ */

bool
cfdi_write_buf (void *arg, const char *data, size_t len)
{
  buf_append ((struct buf *)arg, data, len);
  return true;
}

struct sink
{
  cfdi_write_fn fn;
  void *arg;
  bool failed;
};

static int
sink_write (void *ctx, const char *data, int len)
{
  struct sink *s = ctx;
  if (s->failed || !s->fn (s->arg, data, (size_t)len))
    {
      s->failed = true;
      return -1;
    }
  return len;
}

static int
sink_close (void *ctx)
{
  (void)ctx;
  return 0;
}

static xmlTextWriterPtr
writer_new (struct sink *s)
{
  xmlOutputBufferPtr out
      = xmlOutputBufferCreateIO (sink_write, sink_close, s, NULL);
  if (out == NULL)
    return NULL;
  xmlTextWriterPtr xw = xmlNewTextWriter (out);
  if (xw == NULL)
    {
      xmlOutputBufferClose (out);
      return NULL;
    }
  xmlTextWriterSetIndent (xw, 1);
  xmlTextWriterSetIndentString (xw, BAD_CAST "  ");
  if (xmlTextWriterStartDocument (xw, "1.0", "UTF-8", NULL) < 0)
    {
      xmlFreeTextWriter (xw);
      return NULL;
    }
  return xw;
}

/* Ends the document and frees the writer (flushing the sink). */
static bool
writer_finish (xmlTextWriterPtr xw, struct sink *s)
{
  bool ok = xmlTextWriterEndDocument (xw) >= 0;
  xmlFreeTextWriter (xw);
  return ok && !s->failed;
}

/* ------------------------------------------------------------------ */
/* One invoice                                                         */
/* ------------------------------------------------------------------ */

bool
cfdi_build_xml (const struct invoice *inv, const char *no_certificado,
                const char *certificado_b64, struct buf *xml, struct ferr *err)
{
  struct sink s = { cfdi_write_buf, xml, false };
  struct w w = { writer_new (&s), NULL, true };
  if (w.xw == NULL)
    return ferr_set (err, "cfdi_xml_write", "", "cannot create XML writer",
                     "no se pudo crear el escritor XML");
  write_root_open (&w, inv, no_certificado, certificado_b64, NULL);
  write_header_nodes (&w, inv);
  start (&w, "cfdi:Conceptos");
  if (inv->type == INVOICE_PAGO)
    write_pago_concept (&w);
  else
    for (size_t i = 0; i < inv->n_items; i++)
      write_concept (&w, &inv->items[i], inv->decimals);
  end (&w);
  if (inv->type != INVOICE_PAGO)
    write_summary (&w, inv);
  if (inv->type == INVOICE_PAGO)
    write_pagos (&w, inv);
  end (&w);
  if (!writer_finish (w.xw, &s) || !w.ok)
    return ferr_set (err, "cfdi_xml_write", "", "XML writer failed",
                     "falló el escritor XML");
  return true;
}

/* Fecha (the issuer's local time, somewhere from UTC-8 to UTC-5:
 * tz_mx_local_range, the same test as cfdi/verify.c) within the
 * certificate's validity, and the issuer's RFC = the certificate's. */
static bool
check_csd_for (const struct invoice *inv, const struct csd *csd,
               struct ferr *err)
{
  const char *rfc = csd_rfc (csd);
  if (inv->issuer.rfc == NULL || rfc == NULL
      || strcmp (inv->issuer.rfc, rfc) != 0)
    return ferr_set (err, "csd_rfc_mismatch", "issuer.tax_id",
                     "issuer.tax_id %s is not the certificate's RFC %s",
                     "issuer.tax_id %s no es el RFC del certificado %s",
                     inv->issuer.rfc ? inv->issuer.rfc : "", rfc ? rfc : "");
  int64_t earliest, latest;
  if (!tz_mx_local_range (inv->date, &earliest, &latest)
      || latest < (int64_t)csd_not_before (csd)
      || earliest > (int64_t)csd_not_after (csd))
    return ferr_set (err, "csd_date_outside", "date",
                     "date %s is outside the certificate's validity",
                     "la fecha %s está fuera de la vigencia del "
                     "certificado",
                     inv->date);
  return true;
}

/* Replaces the first ` Sello=""` of xml by ` Sello="<sello>"`. */
static bool
splice_sello (struct buf *xml, const char *sello, size_t sello_len,
              struct buf *out)
{
  static const char pat[] = " Sello=\"\"";
  const char *p = xml->data ? strstr (xml->data, pat) : NULL;
  if (p == NULL)
    return false;
  size_t pre = (size_t)(p - xml->data) + sizeof pat - 2; /* up to the " */
  buf_append (out, xml->data, pre);
  buf_append (out, sello, sello_len);
  buf_append (out, xml->data + pre, xml->len - pre);
  return true;
}

bool
cfdi_build_sealed (const struct invoice *inv, const struct csd *csd,
                   struct buf *out, struct buf *cadena, struct ferr *err)
{
  struct buf xml = BUF_INIT, cad = BUF_INIT, sello = BUF_INIT;
  bool ok = false;
  xmlDocPtr doc = NULL;
  if (!check_csd_for (inv, csd, err))
    return false;
  if (!cfdi_build_xml (inv, csd_no_certificado (csd),
                       csd_certificado_b64 (csd), &xml, err))
    goto done;
  doc = xmlReadMemory (xml.data, (int)xml.len, NULL, "UTF-8",
                       XML_PARSE_NONET | XML_PARSE_COMPACT);
  if (doc == NULL)
    {
      ferr_set (err, "cfdi_xml_write", "", "written XML does not parse",
                "el XML escrito no se puede leer");
      goto done;
    }
  if (!cfdi_cadena (xmlDocGetRootElement (doc), &cad, err))
    goto done;
  if (!csd_sign (csd, cad.data, cad.len, &sello, err))
    goto done;
  if (!splice_sello (&xml, sello.data, sello.len, out))
    {
      ferr_set (err, "cfdi_xml_write", "", "no Sello attribute to fill",
                "no hay atributo Sello que llenar");
      goto done;
    }
  if (cadena)
    buf_append (cadena, cad.data, cad.len);
  ok = true;
done:
  xmlFreeDoc (doc);
  buf_free (&xml);
  buf_free (&cad);
  buf_free (&sello);
  return ok;
}

enum pac_status
cfdi_build_issue (const struct invoice *inv, const struct csd *csd,
                  const struct pac *pac, struct buf *out, struct pac_stamp *st,
                  struct ferr *err)
{
  struct buf xml = BUF_INIT;
  if (!cfdi_build_sealed (inv, csd, &xml, NULL, err))
    {
      buf_free (&xml);
      return PAC_REJECTED;
    }
  if (pac == NULL)
    {
      buf_append (out, xml.data, xml.len);
      buf_free (&xml);
      return PAC_OK;
    }
  enum pac_status ps = pac_stamp (pac, xml.data, xml.len, st, err);
  if (ps == PAC_OK)
    buf_append (out, st->xml, st->xml_len);
  else if (ps == PAC_RETRY)
    buf_append (out, xml.data, xml.len);
  buf_free (&xml);
  return ps;
}

/* ------------------------------------------------------------------ */
/* Global invoice (streamed)                                           */
/* ------------------------------------------------------------------ */

/* Gets concepto i from next() with SAT's global defaults and computes
 * it.  1 = got one, 0 = end, -1 = error. */
static int
global_next (cfdi_concept_fn next, void *arg, size_t i, int d,
             struct invoice_item *it, struct ferr *err)
{
  memset (it, 0, sizeof *it);
  int r = next (arg, i, it, err);
  if (r <= 0)
    {
      invoice_item_clear (it);
      return r;
    }
  if (it->product_key == NULL)
    it->product_key = xstrdup ("01010101");
  if (it->unit_key == NULL)
    it->unit_key = xstrdup ("ACT");
  if (it->description == NULL)
    it->description = xstrdup ("Venta");
  if (it->quantity == 0)
    it->quantity = MONEY_SCALE;
  if (it->sku == NULL || it->sku[0] == '\0')
    {
      char f[48];
      snprintf (f, sizeof f, "items[%zu].sku", i);
      invoice_item_clear (it);
      ferr_set (err, "global_ticket_number", f,
                "a global invoice concepto needs the ticket number",
                "un concepto de factura global requiere el número de "
                "ticket");
      return -1;
    }
  if (strcmp (it->product_key, "01010101") != 0
      || strcmp (it->unit_key, "ACT") != 0
      || strcmp (it->description, "Venta") != 0 || it->quantity != MONEY_SCALE)
    {
      char f[48];
      snprintf (f, sizeof f, "items[%zu]", i);
      invoice_item_clear (it);
      ferr_set (err, "global_concepto", f,
                "a global invoice concepto is 01010101, ACT, \"Venta\", "
                "quantity 1",
                "un concepto de factura global es 01010101, ACT, \"Venta\", "
                "cantidad 1");
      return -1;
    }
  if (!invoice_item_compute (it, d, i, err))
    {
      invoice_item_clear (it);
      return -1;
    }
  return 1;
}

static void
set_public_receiver (struct invoice *h)
{
  free (h->receiver.rfc);
  free (h->receiver.name);
  free (h->receiver.regime);
  free (h->receiver.zip);
  free (h->receiver.use);
  h->receiver.rfc = xstrdup ("XAXX010101000");
  h->receiver.name = xstrdup ("PUBLICO EN GENERAL");
  h->receiver.regime = xstrdup ("616");
  h->receiver.zip = xstrdup (h->issuer.zip ? h->issuer.zip : "");
  h->receiver.use = xstrdup ("S01");
}

/* One walk over the conceptos: pass 0 sums, pass 1 cadena, pass 2 XML. */
static bool
global_walk (struct invoice *h, int pass, struct w *w, cfdi_concept_fn next,
             void *arg, size_t *count, struct ferr *err)
{
  struct invoice_item it;
  size_t i = 0;
  for (;; i++)
    {
      int r = global_next (next, arg, i, h->decimals, &it, err);
      if (r < 0)
        return false;
      if (r == 0)
        break;
      bool ok = true;
      if (pass == 0)
        ok = invoice_sum_add (h, &it, i, err);
      else
        write_concept (w, &it, h->decimals);
      invoice_item_clear (&it);
      if (!ok)
        return false;
    }
  if (count)
    *count = i;
  return true;
}

static bool
global_common (struct invoice *h, const struct csd *csd, const char *nocert,
               const char *cert, cfdi_concept_fn next, void *next_arg,
               cfdi_write_fn write, void *write_arg, struct buf *cadena,
               size_t *count, struct ferr *err)
{
  struct buf cad = BUF_INIT, sello = BUF_INIT;
  bool ok = false;
  size_t n = 0;
  if (h->type != INVOICE_INGRESO || !h->global.present)
    return ferr_set (err, "global_type", "global",
                     "a global invoice is an ingreso with InformacionGlobal",
                     "una factura global es un ingreso con "
                     "InformacionGlobal");
  set_public_receiver (h);
  if (h->payment_method[0] == '\0')
    strcpy (h->payment_method, "PUE");
  if (h->export_code[0] == '\0')
    strcpy (h->export_code, "01");
  if (h->currency[0] == '\0')
    strcpy (h->currency, "MXN");
  /* the header is checked like cfdi/json_in.c checks an invoice's */
  int64_t t;
  if (!ticket_parse_date (h->date, tz_utc (), &t) || strlen (h->date) != 19)
    return ferr_set (err, "date_format", "date",
                     "date must be a local date and time YYYY-MM-DDTHH:MM:SS",
                     "la fecha debe ser AAAA-MM-DDThh:mm:ss");
  if (!rules_issuer (h->issuer.rfc, h->issuer.regime, h->issuer.zip, err)
      || !rules_payment ("I", h->payment_form, h->payment_method, err)
      || !rules_currency (h->currency, h->exchange, h->has_exchange, NULL,
                          err))
    return false;
  if (catalog_periodicity (h->global.periodicity) == NULL
      || catalog_month (h->global.months) == NULL || h->global.year < 2021)
    return ferr_set (err, "global_info", "global",
                     "global needs a c_Periodicidad, a c_Meses and a year",
                     "global requiere c_Periodicidad, c_Meses y año");
  if (csd && !check_csd_for (h, csd, err))
    return false;
  /* pass 0: sums */
  if (!invoice_sum_begin (h, err))
    return false;
  if (!global_walk (h, 0, NULL, next, next_arg, &n, err))
    return false;
  if (n == 0)
    return ferr_set (err, "items_missing", "items",
                     "a global invoice needs at least one ticket",
                     "una factura global requiere al menos un ticket");
  if (!invoice_sum_end (h, err))
    return false;
  /* pass 1: cadena */
  struct w wc = { NULL, &cad, true };
  write_root_open (&wc, h, nocert, cert, NULL);
  write_header_nodes (&wc, h);
  if (!global_walk (h, 1, &wc, next, next_arg, NULL, err))
    goto done;
  write_summary (&wc, h);
  buf_puts (&cad, "||");
  if (csd && !csd_sign (csd, cad.data, cad.len, &sello, err))
    goto done;
  /* pass 2: XML */
  struct sink s = { write, write_arg, false };
  struct w wx = { writer_new (&s), NULL, true };
  if (wx.xw == NULL)
    {
      ferr_set (err, "cfdi_xml_write", "", "cannot create XML writer",
                "no se pudo crear el escritor XML");
      goto done;
    }
  write_root_open (&wx, h, nocert, cert, sello.data ? sello.data : "");
  write_header_nodes (&wx, h);
  start (&wx, "cfdi:Conceptos");
  size_t n2 = 0;
  bool walked = global_walk (h, 2, &wx, next, next_arg, &n2, err);
  end (&wx);
  write_summary (&wx, h);
  end (&wx);
  bool fin = writer_finish (wx.xw, &s);
  if (!walked)
    goto done;
  if (!fin || !wx.ok || n2 != n)
    {
      ferr_set (err, "cfdi_xml_write", "",
                "XML writer failed (or the conceptos changed between "
                "passes)",
                "falló el escritor XML (o cambiaron los conceptos entre "
                "pasadas)");
      goto done;
    }
  if (cadena)
    buf_append (cadena, cad.data, cad.len);
  if (count)
    *count = n;
  ok = true;
done:
  buf_free (&cad);
  buf_free (&sello);
  return ok;
}

bool
cfdi_build_global (struct invoice *header, const struct csd *csd,
                   cfdi_concept_fn next, void *next_arg, cfdi_write_fn write,
                   void *write_arg, size_t *count, struct ferr *err)
{
  return global_common (header, csd, csd_no_certificado (csd),
                        csd_certificado_b64 (csd), next, next_arg, write,
                        write_arg, NULL, count, err);
}

bool
cfdi_build_global_unsigned (struct invoice *header, const char *no_certificado,
                            const char *certificado_b64, cfdi_concept_fn next,
                            void *next_arg, cfdi_write_fn write,
                            void *write_arg, struct buf *cadena, size_t *count,
                            struct ferr *err)
{
  return global_common (header, NULL, no_certificado, certificado_b64, next,
                        next_arg, write, write_arg, cadena, count, err);
}

/* ------------------------------------------------------------------ */
/* facturo cfdi build                                                  */
/* ------------------------------------------------------------------ */

static void
build_usage (FILE *f)
{
  fputs ("usage: facturo cfdi build --in invoice.json --cer F.cer --key "
         "F.key\n"
         "                          --password-file F [--stamp sandbox] "
         "[-o out.xml]\n"
         "Builds a CFDI 4.0 from invoice JSON (docs/cfdi-json.md), seals it "
         "with the\n"
         "CSD and, with --stamp, stamps it through that provider "
         "(\"sandbox\": local,\n"
         "no fiscal validity).  Writes the XML to -o or standard output.\n"
         "Exit 0 ok, 1 failure (stamping, writing), 2 bad usage or input.\n",
         f);
}

static int
bad_input (const struct ferr *e)
{
  if (e->field[0])
    fprintf (stderr, "facturo cfdi build: %s: %s\n", e->field, e->message);
  else
    fprintf (stderr, "facturo cfdi build: %s\n", e->message);
  return 2;
}

int
cfdi_cmd_build (int argc, char **argv)
{
  const char *in = NULL, *cer = NULL, *key = NULL, *pwf = NULL;
  const char *stamp = NULL, *outp = NULL;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      const char **dst = NULL;
      if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          build_usage (stdout);
          return 0;
        }
      if (strcmp (a, "--in") == 0)
        dst = &in;
      else if (strcmp (a, "--cer") == 0)
        dst = &cer;
      else if (strcmp (a, "--key") == 0)
        dst = &key;
      else if (strcmp (a, "--password-file") == 0)
        dst = &pwf;
      else if (strcmp (a, "--stamp") == 0)
        dst = &stamp;
      else if (strcmp (a, "-o") == 0 || strcmp (a, "--out") == 0)
        dst = &outp;
      if (dst == NULL || i + 1 >= argc)
        {
          fprintf (stderr, "facturo cfdi build: %s '%s'\n",
                   dst ? "missing value for" : "unknown option", a);
          build_usage (stderr);
          return 2;
        }
      *dst = argv[++i];
    }
  if (!in || !cer || !key || !pwf)
    {
      fputs ("facturo cfdi build: --in, --cer, --key and --password-file "
             "are required\n",
             stderr);
      build_usage (stderr);
      return 2;
    }

  struct ferr e = { 0 };
  struct invoice inv;
  struct buf json = BUF_INIT, pw = BUF_INIT, xml = BUF_INIT;
  struct csd *csd = NULL;
  struct pac *pac = NULL;
  struct pac_stamp st = { 0 };
  int rc = 2;
  invoice_init (&inv);

  if (read_file (in, &json, CFDI_JSON_MAX_BYTES) != 0)
    {
      fprintf (stderr, "facturo cfdi build: --in %s: %s\n", in,
               strerror (errno));
      goto out;
    }
  if (!cfdi_invoice_from_text (json.data, json.len, &inv, &e))
    {
      rc = bad_input (&e);
      goto out;
    }
  if (read_file (pwf, &pw, 4096) != 0)
    {
      fprintf (stderr, "facturo cfdi build: --password-file %s: %s\n", pwf,
               strerror (errno));
      goto out;
    }
  while (pw.len > 0
         && (pw.data[pw.len - 1] == '\n' || pw.data[pw.len - 1] == '\r'))
    pw.data[--pw.len] = '\0';
  csd = csd_load_files (cer, key, pw.data ? pw.data : "", time (NULL), &e);
  if (pw.data)
    OPENSSL_cleanse (pw.data, pw.cap);
  if (csd == NULL)
    {
      rc = bad_input (&e);
      goto out;
    }
  if (stamp)
    {
      pac = pac_by_name (stamp, NULL, &e);
      if (pac == NULL)
        {
          rc = bad_input (&e);
          goto out;
        }
    }
  if (!cfdi_build_sealed (&inv, csd, &xml, NULL, &e))
    {
      rc = bad_input (&e);
      goto out;
    }
  const char *data = xml.data;
  size_t len = xml.len;
  if (pac)
    {
      enum pac_status ps = pac_stamp (pac, xml.data, xml.len, &st, &e);
      if (ps != PAC_OK)
        {
          fprintf (stderr, "facturo cfdi build: stamping failed (%s): %s\n",
                   ps == PAC_RETRY ? "temporary" : "rejected", e.message);
          rc = 1;
          goto out;
        }
      data = st.xml;
      len = st.xml_len;
    }
  FILE *f = outp ? fopen (outp, "wb") : stdout;
  if (f == NULL)
    {
      fprintf (stderr, "facturo cfdi build: -o %s: %s\n", outp,
               strerror (errno));
      rc = 1;
      goto out;
    }
  bool wok = fwrite (data, 1, len, f) == len;
  if (outp)
    wok = (fclose (f) == 0) && wok;
  else
    wok = (fflush (f) == 0) && wok;
  if (!wok)
    {
      fprintf (stderr, "facturo cfdi build: cannot write the output\n");
      rc = 1;
      goto out;
    }
  rc = 0;
out:
  pac_stamp_clear (&st);
  pac_free (pac);
  csd_free (csd);
  invoice_free (&inv);
  buf_free (&json);
  buf_free (&pw);
  buf_free (&xml);
  return rc;
}
