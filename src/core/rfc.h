/*
 * rfc.h — the Mexican taxpayer id (RFC, Registro Federal de Contribuyentes).
 *
 * Shape per SAT (Anexo 20 type t_RFC, pattern
 * [A-Z&Ñ]{3,4}[0-9]{2}(0[1-9]|1[012])(0[1-9]|[12][0-9]|3[01])[A-Z0-9]{2}[0-9A]):
 * personas físicas have 4 letters, personas morales 3, then a YYMMDD date,
 * two homoclave characters and SAT's check digit.  Input is UTF-8: 'Ñ' is
 * the two bytes C3 91 and counts as one character.
 */
#ifndef FACTURO_RFC_H
#define FACTURO_RFC_H

#include <stdbool.h>
#include "core/ferr.h"

enum rfc_kind
{
  RFC_FISICA,          /* 13 characters: persona física */
  RFC_MORAL,           /* 12 characters: persona moral */
  RFC_GENERIC_PUBLIC,  /* XAXX010101000: público en general */
  RFC_GENERIC_FOREIGN  /* XEXX010101000: residente en el extranjero */
};

/* True if rfc (NUL-terminated UTF-8) is a well-formed RFC whose date is a
 * real calendar date and whose last character is SAT's check digit; sets
 * *kind (if not NULL).  Upper case only: SAT's pattern and the XML
 * carry upper case, and a lower-case RFC would be sealed as such.  On
 * failure fills err (field "tax_id"; callers may overwrite the field) with
 * code rfc_empty, rfc_length, rfc_format, rfc_lowercase, rfc_date or
 * rfc_check_digit. */
bool rfc_check (const char *rfc, enum rfc_kind *kind, struct ferr *err);

/* Same as rfc_check but without the check-digit test.  SAT has issued
 * real RFCs whose last character does not match its own published
 * algorithm (e.g. FNI970829JR9, CCA980429MD4 and MCI7306249Y1 in a
 * PAC-stamped test CFDI; see eclipxe13/CfdiUtils issue #37 and
 * manuelmhtr/validate-rfc issues #10, #24), and SAT's t_RFC pattern only
 * requires [0-9A].  Business rules therefore use this; a portal may call
 * rfc_check as well to warn "please double-check this RFC". */
bool rfc_check_shape (const char *rfc, enum rfc_kind *kind,
                      struct ferr *err);

/* SAT's check digit ('0'..'9' or 'A') for the first 11 (moral) or 12
 * (física) characters of rfc; '\0' if those are not RFC characters. */
char rfc_check_digit (const char *rfc);

/* True if kind is one of the two generic RFCs. */
bool rfc_is_generic (enum rfc_kind kind);

#endif
