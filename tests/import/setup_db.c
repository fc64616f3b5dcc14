/*
 * setup_db.c — test fixture for tests/import/import.sh: migrates a fresh
 * database and creates the named tenants through store.h, so the import
 * tests do not depend on the admin commands' flags.
 *
 *   import_setup_db URL SLUG... [--key SLUG]    exit 0 ok, 1 failure
 *
 * With --key, creates an API key for that tenant and prints it (only
 * it) on stdout.
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
  const char *key_for = NULL;
  int64_t key_tenant = 0;
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp (argv[i], "--key") == 0)
      key_for = argv[i + 1];
  for (int i = 2; i < argc; i++)
    {
      if (strcmp (argv[i], "--key") == 0 && i + 1 < argc)
        {
          i++;
          continue;
        }
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
      if (key_for && strcmp (key_for, t.slug) == 0)
        key_tenant = t.id;
      store_tenant_clear (&t);
    }
  if (key_for)
    {
      char key[STORE_APIKEY_LEN + 1];
      if (key_tenant == 0
          || store_apikey_create (s, key_tenant, "import test", key, NULL)
                 != STORE_ONE)
        {
          fprintf (stderr, "apikey for %s failed\n", key_for);
          store_close (s);
          return 1;
        }
      printf ("%s\n", key);
    }
  store_close (s);
  return 0;
}
