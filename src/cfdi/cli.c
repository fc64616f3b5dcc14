/*
 * cli.c — `facturo cfdi SUBCOMMAND`: dispatch only.  Each subcommand lives
 * with the code it exercises.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Weak while the modules land one by one; a missing one says so. */
int cfdi_cmd_build (int argc, char **argv);                           /* cfdi/build.c */
int cfdi_cmd_verify (int argc, char **argv);  /* cfdi/verify.c */
int cfdi_cmd_cadena (int argc, char **argv);  /* cfdi/verify.c */
int cfdi_cmd_pdf (int argc, char **argv);                             /* pdf/pdf.c */

static void
usage (FILE *f)
{
  fputs ("usage: facturo cfdi build|verify|cadena|pdf [OPTIONS]\n"
         "  build   --in invoice.json --cer F.cer --key F.key --password-file F\n"
         "          [--stamp sandbox] [-o out.xml]   seal (and stamp) a CFDI 4.0\n"
         "  verify  FILE.xml    check XSD, cadena, Sello and TFD; one line per check\n"
         "  cadena  FILE.xml    print the cadena original\n"
         "  pdf     FILE.xml -o out.pdf [--paper a4|letter] [--logo F.png]\n",
         f);
}

int
cmd_cfdi (int argc, char **argv)
{
  static const char *const subs[] = { "build", "verify", "cadena", "pdf" };
  int (*fns[]) (int, char **)
      = { cfdi_cmd_build, cfdi_cmd_verify, cfdi_cmd_cadena, cfdi_cmd_pdf };

  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      usage (stdout);
      return 0;
    }
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
    if (strcmp (argv[1], subs[i]) == 0)
      {
        if (fns[i] == NULL)
          {
            fprintf (stderr, "facturo cfdi %s: not available yet\n", argv[1]);
            return 1;
          }
        return fns[i](argc - 1, argv + 1);
      }
  fprintf (stderr, "facturo cfdi: unknown subcommand '%s'\n", argv[1]);
  usage (stderr);
  return 2;
}
