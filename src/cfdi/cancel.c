/*
 * cancel.c — CFDI cancellation request validation (see cancel.h).
 *
 * Rules (SAT, since 2022-01-01; shared/sat/README.md §6): a Motivo 01..04
 * is always required; 01 needs FolioSustitucion, the UUID of the CFDI
 * that replaces the cancelled one (which must therefore differ); 02, 03
 * and 04 carry none.  Whether the receiver must accept, and until when
 * cancelling is possible, depends on the yearly RMF and on the invoice,
 * and is decided by SAT, not here.
 */
#include "cfdi/cancel.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const reason_codes[CANCEL_REASON_COUNT]
    = { "", "01", "02", "03", "04" };

static const char *const reason_texts[CANCEL_REASON_COUNT] = {
  "",
  "Comprobante emitido con errores con relación",
  "Comprobante emitido con errores sin relación",
  "No se llevó a cabo la operación",
  "Operación nominativa relacionada en una factura global",
};

static const char *const status_names[CANCEL_STATUS_COUNT]
    = { "requested", "pending", "cancelled", "rejected" };

const char *
cancel_reason_code (enum cancel_reason r)
{
  return (r > CANCEL_REASON_NONE && r < CANCEL_REASON_COUNT) ? reason_codes[r]
                                                             : "";
}

const char *
cancel_reason_text (enum cancel_reason r)
{
  return (r > CANCEL_REASON_NONE && r < CANCEL_REASON_COUNT) ? reason_texts[r]
                                                             : "";
}

enum cancel_reason
cancel_reason_parse (const char *s)
{
  if (s == NULL)
    return CANCEL_REASON_NONE;
  if (s[0] == '0' && s[1] >= '1' && s[1] <= '4' && s[2] == '\0')
    return (enum cancel_reason) (s[1] - '0');
  if (s[0] >= '1' && s[0] <= '4' && s[1] == '\0')
    return (enum cancel_reason) (s[0] - '0');
  return CANCEL_REASON_NONE;
}

const char *
cancel_status_name (enum cancel_status s)
{
  return ((int)s >= 0 && s < CANCEL_STATUS_COUNT) ? status_names[s] : "";
}

int
cancel_status_parse (const char *s)
{
  for (int i = 0; s != NULL && i < CANCEL_STATUS_COUNT; i++)
    if (strcmp (s, status_names[i]) == 0)
      return i;
  return -1;
}

bool
cancel_uuid_valid (const char *s)
{
  if (s == NULL || strlen (s) != CANCEL_UUID_LEN)
    return false;
  for (int i = 0; i < CANCEL_UUID_LEN; i++)
    {
      bool dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? s[i] != '-' : !isxdigit ((unsigned char)s[i]))
        return false;
    }
  return true;
}

static void
upcopy (char *dst, const char *src)
{
  size_t i = 0;
  for (; src[i] && i < CANCEL_UUID_LEN; i++)
    dst[i] = (char)toupper ((unsigned char)src[i]);
  dst[i] = '\0';
}

bool
cancel_request_check (const struct cancel_request *r, struct ferr *err)
{
  if (r->uuid[0] == '\0')
    return ferr_set (err, "cancel_uuid_missing", "uuid",
                     "the UUID of the invoice to cancel is missing",
                     "falta el UUID de la factura a cancelar");
  if (!cancel_uuid_valid (r->uuid))
    return ferr_set (err, "cancel_uuid_invalid", "uuid",
                     "'%s' is not a UUID (8-4-4-4-12 hexadecimal digits)",
                     "'%s' no es un UUID (8-4-4-4-12 dígitos hexadecimales)",
                     r->uuid);
  if (r->reason == CANCEL_REASON_NONE)
    return ferr_set (err, "cancel_reason_missing", "reason",
                     "the cancellation reason (01, 02, 03 or 04) is missing",
                     "falta el motivo de cancelación (01, 02, 03 o 04)");
  if (r->reason < CANCEL_REASON_NONE || r->reason >= CANCEL_REASON_COUNT)
    return ferr_set (err, "cancel_reason_invalid", "reason",
                     "the cancellation reason must be 01, 02, 03 or 04",
                     "el motivo de cancelación debe ser 01, 02, 03 o 04");
  if (r->reason == CANCEL_REASON_01)
    {
      if (r->substitute_uuid[0] == '\0')
        return ferr_set (err, "cancel_substitute_missing", "substitute_uuid",
                         "reason 01 needs the UUID of the replacing invoice "
                         "(FolioSustitucion)",
                         "el motivo 01 requiere el UUID de la factura que "
                         "sustituye (FolioSustitucion)");
      if (!cancel_uuid_valid (r->substitute_uuid))
        return ferr_set (err, "cancel_substitute_invalid", "substitute_uuid",
                         "'%s' is not a UUID (8-4-4-4-12 hexadecimal digits)",
                         "'%s' no es un UUID (8-4-4-4-12 dígitos "
                         "hexadecimales)",
                         r->substitute_uuid);
      if (strcasecmp (r->substitute_uuid, r->uuid) == 0)
        return ferr_set (err, "cancel_substitute_same", "substitute_uuid",
                         "the replacing invoice must differ from the "
                         "cancelled one",
                         "la factura que sustituye debe ser distinta de la "
                         "cancelada");
    }
  else if (r->substitute_uuid[0] != '\0')
    return ferr_set (err, "cancel_substitute_not_allowed", "substitute_uuid",
                     "a replacing UUID is only allowed with reason 01",
                     "el UUID que sustituye sólo se admite con el motivo 01");
  return true;
}

bool
cancel_request_init (struct cancel_request *r, const char *uuid,
                     const char *reason, const char *substitute,
                     struct ferr *err)
{
  memset (r, 0, sizeof *r);
  r->total_micros = -1;
  if (uuid == NULL || uuid[0] == '\0')
    return ferr_set (err, "cancel_uuid_missing", "uuid",
                     "the UUID of the invoice to cancel is missing",
                     "falta el UUID de la factura a cancelar");
  if (!cancel_uuid_valid (uuid))
    return ferr_set (err, "cancel_uuid_invalid", "uuid",
                     "'%.40s' is not a UUID (8-4-4-4-12 hexadecimal digits)",
                     "'%.40s' no es un UUID (8-4-4-4-12 dígitos "
                     "hexadecimales)",
                     uuid);
  upcopy (r->uuid, uuid);
  if (reason == NULL || reason[0] == '\0')
    return ferr_set (err, "cancel_reason_missing", "reason",
                     "the cancellation reason (01, 02, 03 or 04) is missing",
                     "falta el motivo de cancelación (01, 02, 03 o 04)");
  r->reason = cancel_reason_parse (reason);
  if (r->reason == CANCEL_REASON_NONE)
    return ferr_set (err, "cancel_reason_invalid", "reason",
                     "'%.8s' is not a cancellation reason (01, 02, 03 or 04)",
                     "'%.8s' no es un motivo de cancelación (01, 02, 03 o "
                     "04)",
                     reason);
  if (substitute != NULL && substitute[0] != '\0')
    {
      if (!cancel_uuid_valid (substitute))
        {
          if (r->reason != CANCEL_REASON_01)
            return ferr_set (err, "cancel_substitute_not_allowed",
                             "substitute_uuid",
                             "a replacing UUID is only allowed with reason "
                             "01",
                             "el UUID que sustituye sólo se admite con el "
                             "motivo 01");
          return ferr_set (err, "cancel_substitute_invalid", "substitute_uuid",
                           "'%.40s' is not a UUID (8-4-4-4-12 hexadecimal "
                           "digits)",
                           "'%.40s' no es un UUID (8-4-4-4-12 dígitos "
                           "hexadecimales)",
                           substitute);
        }
      upcopy (r->substitute_uuid, substitute);
    }
  return cancel_request_check (r, err);
}

void
cancel_ack_clear (struct cancel_ack *a)
{
  if (a == NULL)
    return;
  free (a->acuse_xml);
  memset (a, 0, sizeof *a);
}
