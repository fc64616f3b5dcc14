/* Placeholder until this module lands: the commands exist but say so. */
#include <stdio.h>

#include "cli.h"

static int
not_yet (char **argv)
{
  fprintf (stderr, "facturo %s: not available yet\n", argv[0]);
  return 1;
}

int cmd_migrate (int argc, char **argv) { (void) argc; return not_yet (argv); }
int cmd_tenant (int argc, char **argv) { (void) argc; return not_yet (argv); }
int cmd_user (int argc, char **argv) { (void) argc; return not_yet (argv); }
int cmd_apikey (int argc, char **argv) { (void) argc; return not_yet (argv); }
int cmd_demo (int argc, char **argv) { (void) argc; return not_yet (argv); }
