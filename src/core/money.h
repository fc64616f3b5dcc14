/*
 * money.h — exact fixed-point amounts.
 *
 * Every amount, quantity, price and tax rate in facturo is an int64_t
 * counting millionths ("micros"): 1.5 is 1500000, 0.160000 is 160000.
 * Six decimals is the most SAT's CFDI 4.0 types allow (t_Importe), so
 * every value a CFDI can carry is exact here.  No double is ever used
 * for money.  Functions that can overflow return false instead.
 */
#ifndef FACTURO_MONEY_H
#define FACTURO_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MONEY_SCALE 1000000LL
#define MONEY_MAX_DECIMALS 6
/* Longest text money_format() writes, NUL included. */
#define MONEY_BUFSZ 32

/* Parses a plain decimal ("-12.5", "0.160000", "3"): optional '-', 1 to 12
 * integer digits, optional '.' and 1 to 6 fraction digits.  No exponent,
 * no '+', no spaces, no thousands separators.  False (and *out untouched)
 * if the text is anything else or has more than 6 decimals: such a value
 * cannot be represented exactly, and we refuse rather than round. */
bool money_parse (const char *s, int64_t *out);

/* Same, for a text of length len that need not be NUL-terminated. */
bool money_parse_n (const char *s, size_t len, int64_t *out);

/* Rounds to `decimals` (0..6) places, half away from zero: SAT's rounding
 * ("redondeo") for every amount of Anexo 20. */
int64_t money_round (int64_t v, int decimals);

/* Writes v with exactly `decimals` places (0..6), truncating any finer
 * digits (round first if that matters).  buf must hold MONEY_BUFSZ. */
char *money_format (int64_t v, int decimals, char *buf);

/* Writes v with at least min_decimals and at most 6 places, dropping
 * trailing zeros beyond min_decimals: 258.594800 -> "258.5948",
 * 100 -> "100.00" for min_decimals 2. */
char *money_format_min (int64_t v, int min_decimals, char *buf);

/* Number of decimals v needs to be written exactly (0..6). */
int money_decimals_needed (int64_t v);

/* Checked arithmetic: false on overflow, *out untouched. */
bool money_add (int64_t a, int64_t b, int64_t *out);
bool money_sub (int64_t a, int64_t b, int64_t *out);

/* a * b, both in micros, result in micros rounded half away from zero at
 * the sixth decimal (e.g. quantity x unit price, base x tax rate). */
bool money_mul (int64_t a, int64_t b, int64_t *out);

/* a / b, both in micros, result in micros rounded half away from zero.
 * False when b is 0 or on overflow. */
bool money_div (int64_t a, int64_t b, int64_t *out);

#endif
