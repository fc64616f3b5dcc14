/*
 * main.c — the facturo command: dispatch to a subcommand, nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *help;
} commands[] = {
  { "serve", cmd_serve, "run the HTTP server (API and portal)" },
  { "migrate", cmd_migrate, "create or upgrade the database schema" },
  { "demo", cmd_demo, "create a demo merchant with sample tickets" },
  { "tenant", cmd_tenant, "create and configure merchants (tenants)" },
  { "branch", cmd_branch, "add and list a merchant's branches (stores)" },
  { "user", cmd_user, "add staff users" },
  { "apikey", cmd_apikey, "create and revoke API keys" },
  { "import", cmd_import, "bulk-import tickets from a CSV file" },
  { "cfdi", cmd_cfdi, "build, verify and inspect CFDI 4.0 documents" },
  { "global-invoice", cmd_global_invoice,
    "issue the global invoice (público en general) of a period" },
};

static void
usage (FILE *f)
{
  fprintf (f, "usage: facturo COMMAND [OPTIONS]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf (f, "  %-15s %s\n", commands[i].name, commands[i].help);
  fprintf (f, "\n'facturo COMMAND --help' describes each command.\n");
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      puts ("facturo " FACTURO_VERSION);
      return 0;
    }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "facturo: unknown command '%s'\n", argv[1]);
  usage (stderr);
  return 2;
}
