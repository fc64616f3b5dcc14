/*
 * tmpl.h — HTML templates with escaping by default.
 *
 * A small Mustache subset, enough for server-rendered pages:
 *   {{name}}            value, HTML-escaped (the only way to print text)
 *   {{{name}}}          value, raw — only for HTML we generated ourselves
 *                       (server-drawn SVG charts, pre-rendered fragments)
 *   {{#name}}…{{/name}} section: repeated for each element of an array,
 *                       rendered once for a true / non-empty value
 *   {{^name}}…{{/name}} inverted section: rendered when the value is
 *                       missing, false, null, "" or []
 *   {{> name}}          another template (partial), same context
 * Names are looked up in the innermost context first, then outwards;
 * dotted names walk objects ("ticket.total"); "." is the current value.
 * Values come from a jansson object; numbers print as integers.
 */
#ifndef FACTURO_TMPL_H
#define FACTURO_TMPL_H

#include <jansson.h>
#include <stdbool.h>

#include "util/buf.h"

struct tmpl_set;

/* Loads every *.html file of dir as a template named after the file
 * without its extension.  NULL (with a line on stderr) if dir cannot be
 * read or a template does not parse (unbalanced sections). */
struct tmpl_set *tmpl_load_dir (const char *dir);

/* An empty set, for tmpl_add. */
struct tmpl_set *tmpl_set_new (void);

/* Adds one template from memory (copied); false if it does not parse. */
bool tmpl_add (struct tmpl_set *set, const char *name, const char *text);

/* Renders template `name` with context ctx (borrowed) onto out.  False if
 * there is no such template.  Thread-safe: sets are read-only once
 * loaded. */
bool tmpl_render (const struct tmpl_set *set, const char *name,
                  const json_t *ctx, struct buf *out);

void tmpl_free (struct tmpl_set *set);

/* Appends s HTML-escaped (& < > " ' escaped) — for code that builds HTML
 * by hand, such as SVG charts. */
void html_escape (struct buf *out, const char *s);

#endif
