/*
 * pdf.h — the printed representation of a CFDI 4.0 ("representación
 * impresa"), as a PDF.
 *
 * Renders any CFDI 4.0 — ours or anyone's, stamped or not — with libharu
 * and libqrencode: issuer, receiver, every concepto in a table that flows
 * over pages (header row repeated), taxes, totals and the amount in
 * words, payment data, Pagos 2.0 payments, the Timbre Fiscal Digital
 * (UUID, certificate numbers, both seals, its cadena original) and the QR
 * code with SAT's verification URL.  A document that is not stamped, or
 * stamped by facturo's sandbox PAC, carries "SIN VALIDEZ FISCAL" across
 * every page.  Fonts (DejaVu, Debian's fonts-dejavu-core) are embedded
 * with UTF-8 encoding, so the text is selectable and searchable.
 *
 * Thread-safe: each call owns its libharu document, XML tree and QR code;
 * nothing is shared between calls (see docs/pdf.md for the libharu audit).
 */
#ifndef FACTURO_PDF_H
#define FACTURO_PDF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ferr.h"
#include "util/buf.h"

/* Largest XML accepted (bytes) and most conceptos / pagos rendered. */
#define PDF_MAX_INPUT (32u << 20)
#define PDF_MAX_CONCEPTOS 20000
#define PDF_MAX_PAGOS 5000
/* Largest logo accepted (bytes of PNG or JPEG). */
#define PDF_MAX_LOGO (2u << 20)

enum pdf_paper
{
  PDF_PAPER_LETTER = 0, /* 8.5 x 11 in, 612 x 792 pt (Mexico's usual) */
  PDF_PAPER_A4,         /* 210 x 297 mm, 595 x 842 pt */
};

struct pdf_options
{
  enum pdf_paper paper;
  const unsigned char *logo; /* PNG or JPEG bytes, borrowed; NULL = none */
  size_t logo_len;
  bool logo_optional;   /* true: a logo that cannot be read is left out
                           (the PDF is made without it) instead of failing
                           with pdf_logo; for a merchant's stored branding */
  const char *font_dir; /* holds DejaVuSans.ttf and DejaVuSans-Bold.ttf;
                           NULL = $FACTURO_FONTDIR, else
                           /usr/share/fonts/truetype/dejavu */
  const char *data_dir; /* where sandbox/ lives (certificates of the
                           sandbox PAC); NULL = $FACTURO_DATA, else the
                           compiled-in FACTURO_DATADIR */
};

/* Renders the CFDI xml[0..len) (UTF-8, at most PDF_MAX_INPUT bytes) as a
 * PDF appended to *out.  opt may be NULL (Letter, no logo, defaults).
 * The XML is parsed without network access, without DTDs (a DOCTYPE is
 * refused) and without entity expansion.  Returns false with err filled
 * (err may be NULL) and *out unchanged on failure.  Codes:
 *   bad input (CLI exit 2): pdf_too_large, pdf_not_xml, pdf_not_cfdi,
 *     pdf_too_many, pdf_logo
 *   environment (exit 1):   pdf_font (fonts missing), pdf_render
 */
bool pdf_render_cfdi (const char *xml, size_t len,
                      const struct pdf_options *opt, struct buf *out,
                      struct ferr *err);

/* True if err->code (from pdf_render_cfdi) means bad input, not a broken
 * environment. */
bool pdf_error_is_input (const struct ferr *err);

/* Appends SAT's verification URL (Anexo 20, QR code) to *out:
 * https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id=UUID
 * &re=RFC&rr=RFC&tt=TOTAL&fe=LAST8.  RFCs have '&' written "&amp;"; tt is
 * `total` with at most 6 decimals, trailing zeros removed but one decimal
 * kept ("1000.00" -> "1000.0"); fe is the last 8 characters of `sello`.
 * A total that is not a plain decimal is copied as is.  NULL arguments
 * count as "". */
void pdf_sat_url (const char *uuid, const char *rfc_emisor,
                  const char *rfc_receptor, const char *total,
                  const char *sello, struct buf *out);

/* `facturo cfdi pdf FILE.xml -o out.pdf [--paper a4|letter] [--logo F]` */
int cfdi_cmd_pdf (int argc, char **argv);

#endif
