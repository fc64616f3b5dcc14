/*
 * words.h — amounts in words, in Spanish, as Mexican invoices print them
 * ("importe con letra").
 *
 *   1234.50 MXN -> "MIL DOSCIENTOS TREINTA Y CUATRO PESOS 50/100 M.N."
 *   1234.50 USD -> "MIL DOSCIENTOS TREINTA Y CUATRO DÓLARES 50/100 USD"
 *   1234.50 EUR -> "MIL DOSCIENTOS TREINTA Y CUATRO EUROS 50/100 EUR"
 *   1234.50 GBP -> "MIL DOSCIENTOS TREINTA Y CUATRO 50/100 GBP"
 *
 * Pure (core/): no I/O, no globals.  Output is UTF-8 upper case (Ú, É, Ó
 * keep their accents: VEINTIÚN, DIECISÉIS, MILLÓN, DÓLARES).
 */
#ifndef FACTURO_WORDS_H
#define FACTURO_WORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

/* Appends the cardinal number n in words ("CERO", "VEINTIUNO", "CIENTO
 * UN MIL", "DOS MILLONES", ...) to out.  `apocope` selects the form used
 * before a masculine noun: "UN", "VEINTIÚN", "TREINTA Y UN" instead of
 * "UNO", "VEINTIUNO", "TREINTA Y UNO" (inside "VEINTIÚN MIL" or "UN
 * MILLÓN" the short form is always used).  Every uint64_t value is
 * written (long scale: MILLONES, then BILLONES = 10^12, TRILLONES). */
void words_number (uint64_t n, bool apocope, struct buf *out);

/* Appends the amount `micros` (core/money.h) in words, as printed on a
 * CFDI, to out.  The amount is first rounded to cents, half away from
 * zero; cents print as "NN/100".  `currency` is the ISO code of
 * c_Moneda (NULL or "" means MXN).  MXN, USD and EUR carry their names
 * (PESO/PESOS, DÓLAR/DÓLARES, EURO/EUROS; "DE" after exact millions: "UN
 * MILLÓN DE PESOS"); any other currency prints the number and then the
 * cents with the code.  A negative amount starts with "MENOS ".  Never
 * fails. */
void words_amount (int64_t micros, const char *currency, struct buf *out);

#endif
