/*
 * cancel.h — the CFDI cancellation model: request and acknowledgement.
 *
 * Since 2022 every cancellation carries a Motivo (SAT; shared/sat/README.md
 * §6): 01 errors with relation (needs FolioSustitucion, the UUID of the
 * replacing CFDI, which must differ from the cancelled one), 02 errors
 * without relation, 03 operation not carried out, 04 nominative operation
 * related to a global invoice.  This file only models and validates; the
 * stamping provider (pac.h) sends the request and fills the
 * acknowledgement, and the store keeps both with the invoice.
 *
 * Pure: no I/O, no allocation except cancel_ack's acuse_xml.
 */
#ifndef FACTURO_CFDI_CANCEL_H
#define FACTURO_CFDI_CANCEL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/ferr.h"

#define CANCEL_UUID_LEN 36 /* 8-4-4-4-12 hex digits */

enum cancel_reason
{
  CANCEL_REASON_NONE = 0,
  CANCEL_REASON_01 = 1, /* con errores con relación (FolioSustitucion) */
  CANCEL_REASON_02 = 2, /* con errores sin relación */
  CANCEL_REASON_03 = 3, /* no se llevó a cabo la operación */
  CANCEL_REASON_04
  = 4, /* operación nominativa relacionada en factura global */
  CANCEL_REASON_COUNT
};

/* A cancellation request, validated.  Fixed-size, copyable, no pointers. */
struct cancel_request
{
  char uuid[CANCEL_UUID_LEN + 1];            /* UUID to cancel, upper case */
  enum cancel_reason reason;                 /* Motivo */
  char substitute_uuid[CANCEL_UUID_LEN + 1]; /* FolioSustitucion, upper
                                              case; "" unless reason 01 */
  char issuer_rfc[16];                       /* RfcEmisor, or "" if unknown */
  char receiver_rfc[16];                     /* RfcReceptor, or "" */
  int64_t total_micros;                      /* Comprobante Total in micros, or
                                                -1 if unknown (some PACs ask) */
};

/* Where a cancellation stands. */
enum cancel_status
{
  CANCEL_STATUS_REQUESTED = 0, /* sent; no answer yet */
  CANCEL_STATUS_PENDING,       /* SAT waits for the receiver's acceptance */
  CANCEL_STATUS_CANCELLED,     /* cancelled (also: previously cancelled) */
  CANCEL_STATUS_REJECTED,      /* refused by SAT or by the receiver */
  CANCEL_STATUS_COUNT
};

/* The acknowledgement (Acuse de cancelación) returned by the provider. */
struct cancel_ack
{
  char uuid[CANCEL_UUID_LEN + 1]; /* the cancelled UUID, upper case */
  enum cancel_reason reason;      /* Motivo as accepted */
  char substitute_uuid[CANCEL_UUID_LEN + 1]; /* FolioSustitucion or "" */
  enum cancel_status status;
  char sat_code[8]; /* SAT's EstatusUUID ("201", "202"…), or "" */
  char date[20];    /* Fecha of the acuse, Mexico City local
                       time, "YYYY-MM-DDTHH:MM:SS" */
  char *acuse_xml;  /* the provider's acuse document as
                       received (malloc'd), or NULL */
};

/* Fills *req from text inputs and validates them: uuid (any case, 36
 * chars 8-4-4-4-12 hex) is required; reason is "01".."04" (also "1".."4");
 * substitute is required for 01 (and must differ from uuid), refused for
 * 02..04 (NULL or "" means absent).  UUIDs are stored upper-cased;
 * issuer_rfc/receiver_rfc are set to "", total_micros to -1.  Returns
 * false with err filled: cancel_uuid_missing, cancel_uuid_invalid,
 * cancel_reason_missing, cancel_reason_invalid,
 * cancel_substitute_missing, cancel_substitute_invalid,
 * cancel_substitute_same, cancel_substitute_not_allowed. */
bool cancel_request_init (struct cancel_request *req, const char *uuid,
                          const char *reason, const char *substitute,
                          struct ferr *err);

/* Re-checks an already filled request (same rules and codes). */
bool cancel_request_check (const struct cancel_request *req, struct ferr *err);

/* "01".."04" for a reason, "" for NONE or out of range. */
const char *cancel_reason_code (enum cancel_reason r);
/* Short Spanish description of a reason (SAT's wording), "" if none. */
const char *cancel_reason_text (enum cancel_reason r);
/* Parses "01".."04" ("1".."4" accepted); CANCEL_REASON_NONE otherwise. */
enum cancel_reason cancel_reason_parse (const char *s);

/* Stable lower-case word for storage: "requested", "pending",
 * "cancelled", "rejected"; and back (-1 if unknown). */
const char *cancel_status_name (enum cancel_status s);
int cancel_status_parse (const char *s);

/* True if s is a UUID in 8-4-4-4-12 hexadecimal form (any case). */
bool cancel_uuid_valid (const char *s);

/* Frees ack->acuse_xml and zeroes *ack; NULL is a no-op. */
void cancel_ack_clear (struct cancel_ack *ack);

#endif
