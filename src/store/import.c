/* Placeholder until this module lands: the command exists but says so. */
#include <stdio.h>

#include "cli.h"

int
cmd_import (int argc, char **argv)
{
  (void) argc;
  fprintf (stderr, "facturo %s: not available yet\n", argv[0]);
  return 1;
}
