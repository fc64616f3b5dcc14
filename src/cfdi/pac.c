/*
 * pac.c — stamping provider registry and wrappers (see pac.h).
 *
 * Adding a provider: write pac_<name>.c exporting pac_<name>_new(), add a
 * row to `providers` below and the file name to src/cfdi/meson.build.
 */
#include "cfdi/pac.h"

#include <stdlib.h>
#include <string.h>

struct provider
{
  const char *name;
  struct pac *(*make) (const struct pac_config *cfg, struct ferr *err);
};

static const struct provider providers[] = {
  { "sandbox", pac_sandbox_new },
};

#define N_PROVIDERS (sizeof providers / sizeof providers[0])

static const char *const names[N_PROVIDERS + 1] = { "sandbox", NULL };

const char *const *
pac_names (void)
{
  return names;
}

struct pac *
pac_by_name (const char *name, const struct pac_config *cfg, struct ferr *err)
{
  static const struct pac_config defaults = { 0 };
  for (size_t i = 0; name != NULL && i < N_PROVIDERS; i++)
    if (strcmp (name, providers[i].name) == 0)
      return providers[i].make (cfg ? cfg : &defaults, err);
  ferr_set (err, "pac_unknown", "pac",
            "unknown stamping provider '%.40s' (known: sandbox)",
            "proveedor de timbrado desconocido '%.40s' (conocidos: sandbox)",
            name ? name : "");
  return NULL;
}

enum pac_status
pac_stamp (const struct pac *p, const char *xml, size_t len,
           struct pac_stamp *out, struct ferr *err)
{
  memset (out, 0, sizeof *out);
  return p->stamp (p->cls, xml, len, out, err);
}

enum pac_status
pac_cancel (const struct pac *p, const struct cancel_request *req,
            const struct csd *issuer, struct cancel_ack *ack, struct ferr *err)
{
  memset (ack, 0, sizeof *ack);
  if (!cancel_request_check (req, err))
    return PAC_REJECTED;
  return p->cancel (p->cls, req, issuer, ack, err);
}

void
pac_stamp_clear (struct pac_stamp *s)
{
  if (s == NULL)
    return;
  free (s->xml);
  free (s->sello_sat);
  memset (s, 0, sizeof *s);
}

void
pac_free (struct pac *p)
{
  if (p == NULL)
    return;
  if (p->destroy)
    p->destroy (p->cls);
  free (p);
}
