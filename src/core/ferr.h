/*
 * ferr.h — a field error: what was wrong with which input, in words.
 *
 * Validators everywhere (core rules, JSON readers, CSV import) report the
 * first problem they find through one of these.  `code` is a stable
 * machine-readable string (snake_case, never reworded once shipped);
 * `field` names the input as the user sent it ("customer.tax_id",
 * "items[2].product.price"); the two messages say it in plain words.
 */
#ifndef FACTURO_FERR_H
#define FACTURO_FERR_H

struct ferr
{
  const char *code;       /* static string, e.g. "rfc_check_digit" */
  char field[128];        /* dotted path of the offending input, or "" */
  char message[320];      /* English */
  char message_es[320];   /* Spanish */
};

/* Fills e (if not NULL).  The two formats take the same arguments.
 * Always returns false, so validators can `return ferr_set (…);`. */
_Bool ferr_set (struct ferr *e, const char *code, const char *field,
                const char *fmt_en, const char *fmt_es, ...);

#endif
