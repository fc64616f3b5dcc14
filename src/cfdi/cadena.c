/*
 * cadena.c — native cadena original of CFDI 4.0 (see cadena.h).
 * Placeholder until the table-driven walk lands.
 */
#include "cfdi/cadena.h"

bool
cfdi_cadena (xmlNodePtr comprobante, struct buf *out, struct ferr *err)
{
  (void) comprobante;
  (void) out;
  return ferr_set (err, "cfdi_not_implemented", "", "cadena: not implemented yet",
                   "cadena: aún no implementada");
}

bool
cfdi_tfd_cadena (xmlNodePtr tfd, struct buf *out, struct ferr *err)
{
  (void) tfd;
  (void) out;
  return ferr_set (err, "cfdi_not_implemented", "", "cadena: not implemented yet",
                   "cadena: aún no implementada");
}
