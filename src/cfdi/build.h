/*
 * build.h — struct invoice (core/invoice.h) → CFDI 4.0 XML, sealed.
 *
 * The XML is written with libxml2's xmlTextWriter in SAT's element order
 * (cfdv40.xsd, Pagos20.xsd), attributes in the order of SAT's samples and
 * XSLT, amounts with exactly the decimals core/invoice.c computed.  The
 * single-invoice path writes the document once, parses it once, takes its
 * cadena original with cfdi_cadena() (cfdi/cadena.h) and signs it with
 * csd_sign() (cfdi/csd.h).  The global invoice path streams: its conceptos
 * come one at a time from a callback and never sit in memory together.
 *
 * Threads: every function here may run in many threads at once on
 * different invoices (one struct csd may be shared), provided the process
 * called xmlInitParser() once before starting them, as libxml2 requires.
 */
#ifndef FACTURO_CFDI_BUILD_H
#define FACTURO_CFDI_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "cfdi/csd.h"
#include "cfdi/pac.h"
#include "core/ferr.h"
#include "core/invoice.h"
#include "util/buf.h"

/* Writes inv (already through invoice_compute / cfdi_invoice_from_json)
 * as CFDI 4.0 XML into *xml (appended), with NoCertificado and
 * Certificado as given (either may be NULL: attribute omitted) and an
 * empty Sello="" that cfdi_build_sealed fills.  The document is not
 * signed; it is XSD-valid only once sealed.  False with err on a writer
 * failure (cfdi_xml_write). */
bool cfdi_build_xml (const struct invoice *inv, const char *no_certificado,
                     const char *certificado_b64, struct buf *xml,
                     struct ferr *err);

/* Builds and seals: writes the XML with csd's NoCertificado and
 * Certificado, computes the cadena original with cfdi_cadena over the
 * freshly written document, signs it with csd_sign and puts the Sello in.
 * Refuses (err) an issuer RFC other than the certificate's
 * (issuer.tax_id, csd_rfc_mismatch) and a Fecha outside the certificate's
 * validity (date, csd_date_outside).  *out receives the sealed XML;
 * cadena (may be NULL) receives the cadena original. */
bool cfdi_build_sealed (const struct invoice *inv, const struct csd *csd,
                        struct buf *out, struct buf *cadena, struct ferr *err);

/* Builds, seals and, when pac is not NULL, stamps: the whole issuing
 * step.  On PAC_OK, *out holds the final XML (stamped, or sealed when pac
 * is NULL) and, when stamped, *st the stamp (pac_stamp_clear it; st may
 * be NULL only when pac is NULL).  A model or CSD problem (see
 * cfdi_build_sealed) and a refusal by the PAC give PAC_REJECTED; a
 * temporary PAC failure gives PAC_RETRY (the sealed XML is then in *out,
 * ready to be sent again). */
enum pac_status cfdi_build_issue (const struct invoice *inv,
                                  const struct csd *csd, const struct pac *pac,
                                  struct buf *out, struct pac_stamp *st,
                                  struct ferr *err);

/* ---- global invoice (factura global, público en general) ---- */

/* Supplies concepto number `index` (0, 1, 2… in order) into *it, zeroed by
 * the caller-side builder beforehand: price = the ticket's amount before
 * taxes (net), taxes[] = its taxes (rates; amounts are computed), sku =
 * the ticket number (NoIdentificacion; required), optionally discount.
 * Left empty, the builder puts SAT's values for a global concepto:
 * ClaveProdServ 01010101, ClaveUnidad ACT, Descripcion "Venta", Cantidad
 * 1.  Strings are heap (xstrdup) and owned by the builder from then on.
 * Returns 1 when *it was filled, 0 when there are no more conceptos, -1
 * on failure (err filled).  It is called over the whole range three
 * times (sums, cadena, XML) and must give the same conceptos each time. */
typedef int (*cfdi_concept_fn) (void *arg, size_t index,
                                struct invoice_item *it, struct ferr *err);

/* Receives output bytes; returns false to abort. */
typedef bool (*cfdi_write_fn) (void *arg, const char *data, size_t len);

/* Builds and seals a global invoice.  header carries everything but the
 * items: type I, series, folio, date, issuer, payment_form (the one that
 * predominates), payment_method PUE, currency, and global (present).  The
 * receiver is set here to público en general (XAXX010101000, PUBLICO EN
 * GENERAL, 616, S01, DomicilioFiscalReceptor = issuer zip).  Three passes
 * over next(): the first computes SubTotal, Descuento, the Impuestos
 * summary and Total (needed in the root element before any concepto is
 * written), the second the cadena original (generated while walking the
 * conceptos, as SAT's XSLT would over the finished document, so no tree
 * of the whole document is ever built), then the document is signed and
 * the third pass writes it to write().  Memory stays constant in the
 * number of conceptos.  *count (may be NULL) receives the number of
 * conceptos.  header's computed fields are filled.  False with err on
 * the first problem (a concepto error names "items[i]…"). */
bool cfdi_build_global (struct invoice *header, const struct csd *csd,
                        cfdi_concept_fn next, void *next_arg,
                        cfdi_write_fn write, void *write_arg, size_t *count,
                        struct ferr *err);

/* The same three passes without a CSD (NoCertificado/Certificado as
 * given, may be NULL) and without signing: Sello stays empty and the
 * cadena is appended to *cadena.  For tests and benchmarks. */
bool cfdi_build_global_unsigned (struct invoice *header,
                                 const char *no_certificado,
                                 const char *certificado_b64,
                                 cfdi_concept_fn next, void *next_arg,
                                 cfdi_write_fn write, void *write_arg,
                                 struct buf *cadena, size_t *count,
                                 struct ferr *err);

/* cfdi_write_fn appending to a struct buf (arg). */
bool cfdi_write_buf (void *arg, const char *data, size_t len);

/* `facturo cfdi build`. */
int cfdi_cmd_build (int argc, char **argv);

#endif
