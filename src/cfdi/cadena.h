/*
 * cadena.h — the cadena original of a CFDI 4.0, computed natively.
 *
 * SAT defines the cadena original (the exact bytes the Sello signs) by an
 * XSLT: cadenaoriginal_4_0.xslt (with utilerias.xslt and one XSLT per
 * complement) for the Comprobante, and cadenaoriginal_TFD_1_1.xslt for the
 * Timbre Fiscal Digital.  facturo does not run XSLT in production: these
 * functions walk the libxml2 tree in the order SAT's templates prescribe,
 * with the same attribute lists and the same whitespace normalisation, and
 * produce output byte-identical to libxslt running SAT's files (proved in
 * tests/cfdi_verify against every sample and hundreds of generated ones).
 *
 * Owner: verify.  Callers: the builder (sealing), the sandbox PAC (TFD),
 * the verifier and the PDF renderer.
 */
#ifndef FACTURO_CFDI_CADENA_H
#define FACTURO_CFDI_CADENA_H

#include <stdbool.h>

#include <libxml/tree.h>

#include "core/ferr.h"
#include "util/buf.h"

/* Namespaces the walk recognises. */
#define CFDI_NS_CFDI40 "http://www.sat.gob.mx/cfd/4"
#define CFDI_NS_PAGOS20 "http://www.sat.gob.mx/Pagos20"
#define CFDI_NS_TFD11 "http://www.sat.gob.mx/TimbreFiscalDigital"
#define CFDI_NS_IMPLOCAL "http://www.sat.gob.mx/implocal"
#define CFDI_NS_LEYENDAS "http://www.sat.gob.mx/leyendasFiscales"

/* Appends to *out the cadena original of `comprobante`, a cfdi:Comprobante
 * element (namespace CFDI_NS_CFDI40) — "||4.0|…||", UTF-8, no trailing
 * newline — exactly as SAT's cadenaoriginal_4_0.xslt under libxslt would
 * (the Version value is not checked here; the XSD fixes it).  Complements
 * understood: Pagos 2.0, implocal 1.0, leyendasFisc 1.0; the
 * TimbreFiscalDigital contributes nothing (as in SAT's XSLT). cfdi:Addenda is
 * ignored (SAT's XSLT ignores it too).
 *
 * The tree is only read.  Nothing is allocated besides *out's growth.
 * Fails (false, *out left with a partial cadena the caller should discard)
 * with err->code:
 *   cfdi_not_comprobante         not a cfdi:Comprobante of CFDI 4.0
 *   cfdi_unsupported_complement  a complement other than those above
 * err may be NULL. */
bool cfdi_cadena (xmlNodePtr comprobante, struct buf *out, struct ferr *err);

/* Appends to *out the cadena original of a tfd:TimbreFiscalDigital 1.1
 * element ("||1.1|UUID|FechaTimbrado|RfcProvCertif|[Leyenda|]SelloCFD|
 * NoCertificadoSAT||") per SAT's cadenaoriginal_TFD_1_1.xslt.  Fails with
 * cfdi_not_tfd when `tfd` is not such an element.  err may be NULL. */
bool cfdi_tfd_cadena (xmlNodePtr tfd, struct buf *out, struct ferr *err);

#endif
