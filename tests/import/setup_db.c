/*
 * setup_db.c — test fixture for tests/import/import.sh: migrates a fresh
 * database and creates the named tenants through store.h, so the import
 * tests do not depend on the admin commands' flags.
 *
 *   import_setup_db URL SLUG...     exit 0 ok, 1 failure
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"

int
main (int argc, char **argv)
{
  struct ferr err = { 0 };
  if (argc < 2)
    {
      fprintf (stderr, "usage: import_setup_db URL SLUG...\n");
      return 2;
    }
  struct store *s = store_open (argv[1], &err);
  if (s == NULL)
    {
      fprintf (stderr, "open: %s\n", err.message);
      return 1;
    }
  int applied = 0;
  if (store_migrate (s, &applied) < 0)
    {
      fprintf (stderr, "migrate failed\n");
      store_close (s);
      return 1;
    }
  for (int i = 2; i < argc; i++)
    {
      struct store_tenant t;
      store_tenant_init (&t);
      snprintf (t.slug, sizeof t.slug, "%s", argv[i]);
      snprintf (t.rfc, sizeof t.rfc, "EKU9003173C9");
      snprintf (t.name, sizeof t.name, "ESCUELA KEMPER URGATE");
      snprintf (t.regime, sizeof t.regime, "601");
      snprintf (t.zip, sizeof t.zip, "42501");
      if (store_tenant_insert (s, &t) != STORE_ONE)
        {
          fprintf (stderr, "tenant %s: insert failed\n", argv[i]);
          store_tenant_clear (&t);
          store_close (s);
          return 1;
        }
      store_tenant_clear (&t);
    }
  store_close (s);
  return 0;
}
