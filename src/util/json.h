/*
 * json.h — loading outside JSON exactly and within bounds.
 *
 * jansson turns every number with a fraction into a double, which cannot
 * hold 0.1 exactly.  json_load_exact() rewrites such numbers (anything
 * with '.', 'e' or 'E') into JSON strings carrying their original text
 * before jansson parses the document, so amounts reach money_parse()
 * digit for digit.  Integers stay JSON integers.
 */
#ifndef FACTURO_JSON_H
#define FACTURO_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Parses len bytes of JSON.  Refuses (NULL, err filled) text nested deeper
 * than max_depth, duplicate object keys, and anything jansson refuses.
 * Returns a new reference. */
json_t *json_load_exact (const char *text, size_t len, int max_depth,
                         json_error_t *err);

/* Reads an amount given as a JSON string ("12.50") or integer (12).
 * False if v is NULL, of another type, or not exactly representable
 * (see money_parse). */
bool json_money (const json_t *v, int64_t *out);

/* Checks that every key of object o is one of the NULL-terminated list
 * `allowed`; returns the first unknown key, or NULL if all are known. */
const char *json_unknown_key (const json_t *o, const char *const *allowed);

#endif
