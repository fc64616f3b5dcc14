/*
 * cli.h — the subcommands of the facturo binary.
 *
 * main.c only dispatches; each module implements its own commands.  Every
 * command receives argv starting at its own name (argv[0] = "serve", ...)
 * and returns the process exit status: 0 ok, 1 failure, 2 bad usage or
 * bad input (with one line on stderr saying what was wrong).
 */
#ifndef FACTURO_CLI_H
#define FACTURO_CLI_H

int cmd_serve (int argc, char **argv);      /* http/server.c */
int cmd_migrate (int argc, char **argv);    /* store/admin.c */
int cmd_tenant (int argc, char **argv);     /* store/admin.c */
int cmd_user (int argc, char **argv);       /* store/admin.c */
int cmd_apikey (int argc, char **argv);     /* store/admin.c */
int cmd_demo (int argc, char **argv);       /* store/admin.c */
int cmd_branch (int argc, char **argv);     /* store/admin.c */
int cmd_import (int argc, char **argv);     /* store/import.c */
int cmd_cfdi (int argc, char **argv);       /* cfdi/cli.c */
int cmd_global_invoice (int argc, char **argv); /* jobs/global.c */

#endif
