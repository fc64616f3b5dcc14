/*
 * verify.h — check any CFDI 4.0 (ours or anyone's) the way SAT would.
 *
 * One call runs every check and fills a report with one line per check:
 *   parse        bounded, XXE-safe parse (≤ CFDI_VERIFY_MAX_INPUT bytes,
 *                no DOCTYPE, no network, no entity expansion, depth ≤
 *                CFDI_VERIFY_MAX_DEPTH); nothing else runs if it fails
 *   xsd          valid against SAT's schemas (data/sat/xsd/cfdi40-bundle.xsd:
 *                CFDI 4.0 + TFD 1.1 + Pagos 2.0 + implocal + leyendasFisc),
 *                cfdi:Addenda excluded as PACs do
 *   cadena       cadena original recomputed natively (cfdi/cadena.h)
 *   certificado  the Certificado attribute is an X.509 certificate, a CSD
 *                (not an e.firma/FIEL, as cfdi/csd.h tells them apart), and
 *                NoCertificado equals its serial (SAT's 20-digit form)
 *   sello        Sello verifies (RSA-SHA256, base64) over the cadena with
 *                that certificate
 *   rfc          Emisor/@Rfc equals the RFC in the certificate subject
 *                (x500UniqueIdentifier before " / ")
 *   fecha        Fecha lies within the certificate's validity (Fecha is
 *                Mexican local time without zone: accepted if some offset
 *                from UTC-5 to UTC-8 puts it inside)
 *   tfd          (stamped CFDI only) SelloCFD equals Sello
 *   sellosat     SelloSAT verifies over the TFD cadena with the certificate
 *                data/sat/certs/<NoCertificadoSAT>.cer, or with the facturo
 *                sandbox PAC certificate (a .cer in data/sandbox/); an unknown
 *                NoCertificadoSAT fails
 * plus a "note" line "sandbox stamp: no fiscal validity" when the stamp is
 * the sandbox PAC's (a pass, but said plainly).
 *
 * Thread-safe: the schema is compiled once per process (first use) and
 * shared read-only; every call has its own parser and validation context.
 * Data files are found under $FACTURO_DATA, else the compiled-in
 * FACTURO_DATADIR.
 *
 * Owner: verify.
 */
#ifndef FACTURO_CFDI_VERIFY_H
#define FACTURO_CFDI_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <libxml/tree.h>

#include "core/ferr.h"

/* Largest document accepted, in bytes. */
#define CFDI_VERIFY_MAX_INPUT (16u << 20)
/* Deepest element nesting accepted (a CFDI needs about 10). */
#define CFDI_VERIFY_MAX_DEPTH 64
/* Most lines a report holds. */
#define CFDI_REPORT_MAX 16

enum cfdi_check_status
{
  CFDI_CHECK_OK = 0,
  CFDI_CHECK_FAIL,
  CFDI_CHECK_SKIP, /* not applicable (e.g. tfd on an unstamped CFDI) */
  CFDI_CHECK_NOTE, /* information that is not a failure */
};

struct cfdi_check
{
  enum cfdi_check_status status;
  const char *name; /* static: "parse", "xsd", "cadena", "certificado",
                       "sello", "rfc", "fecha", "tfd", "sellosat", "sandbox" */
  const char *code; /* static ferr-style code on FAIL, else NULL */
  char detail[320]; /* why it failed / the note; "" when ok */
};

struct cfdi_report
{
  struct cfdi_check checks[CFDI_REPORT_MAX];
  int n;
  bool ok;       /* no check failed (and parsing succeeded) */
  bool stamped;  /* a TimbreFiscalDigital was found */
  bool sandbox;  /* stamped by the facturo sandbox PAC */
  char uuid[40]; /* TimbreFiscalDigital/@UUID, or "" */
};

/* Parses untrusted CFDI bytes safely: at most CFDI_VERIFY_MAX_INPUT bytes,
 * UTF-8 only, no DOCTYPE (refused before parsing), XML_PARSE_NONET, no
 * entity substitution, no DTD loading, depth ≤ CFDI_VERIFY_MAX_DEPTH.
 * Returns a new document (xmlFreeDoc it) or NULL with err filled:
 * cfdi_too_large, cfdi_doctype, cfdi_not_utf8, cfdi_not_xml, cfdi_too_deep.
 * Parse errors are never printed. */
xmlDocPtr cfdi_parse_untrusted (const char *xml, size_t len, struct ferr *err);

/* Runs every check on xml[0..len) and fills *rep (overwritten).  Returns
 * rep->ok.  Never prints. */
bool cfdi_verify_buffer (const char *xml, size_t len, struct cfdi_report *rep);

/* Same, on an already parsed document (only read; an Addenda is detached
 * for the XSD check and put back). */
bool cfdi_verify_doc (xmlDocPtr doc, struct cfdi_report *rep);

/* XSD check alone: true if doc is valid; else false with err filled
 * (cfdi_xsd_invalid with the first schema error, or cfdi_xsd_unavailable
 * if SAT's schemas cannot be loaded from the data folder). */
bool cfdi_xsd_validate (xmlDocPtr doc, struct ferr *err);

/* Prints the report, one line per check: "ok   xsd",
 * "FAIL sello: <why>", "skip tfd: <why>", "note sandbox: <what>". */
void cfdi_report_print (const struct cfdi_report *rep, FILE *f);

/* `facturo cfdi verify FILE.xml` and `facturo cfdi cadena [--tfd]
 * FILE.xml` (declared in cfdi/cli.c). */
int cfdi_cmd_verify (int argc, char **argv);
int cfdi_cmd_cadena (int argc, char **argv);

#endif
