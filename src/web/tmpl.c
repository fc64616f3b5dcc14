/*
 * tmpl.c — see tmpl.h.
 *
 * Templates are parsed once into a flat list of nodes (text, variable,
 * section start/end, partial); rendering walks that list with a stack
 * of contexts.  Section ends store the index of their start and starts
 * the index of their end, so skipping and repeating cost nothing.
 */
#include "web/tmpl.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum node_kind
{
  N_TEXT,
  N_VAR,     /* escaped */
  N_RAW,     /* unescaped */
  N_SECTION, /* {{#…}} */
  N_INVERT,  /* {{^…}} */
  N_END,     /* {{/…}} */
  N_PARTIAL
};

struct node
{
  enum node_kind kind;
  char *text;   /* literal text, or the name */
  size_t len;   /* length of text */
  size_t match; /* section start <-> end */
};

struct tmpl
{
  char *name;
  struct node *nodes;
  size_t n;
};

struct tmpl_set
{
  struct tmpl *t;
  size_t n;
};

/* Depth limits keep a hostile or buggy template (or a self-including
 * partial) from exhausting the stack. */
#define MAX_NESTING 32
#define MAX_PARTIAL_DEPTH 8

void
html_escape (struct buf *out, const char *s)
{
  const char *run = s;
  for (; *s; s++)
    {
      const char *rep = NULL;
      switch (*s)
        {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
      buf_append (out, run, (size_t) (s - run));
      buf_puts (out, rep);
      run = s + 1;
    }
  buf_append (out, run, (size_t) (s - run));
}

static char *
trim_name (const char *p, size_t len)
{
  while (len > 0 && (*p == ' ' || *p == '\t'))
    p++, len--;
  while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
    len--;
  return xstrndup (p, len);
}

static void
push_node (struct tmpl *t, size_t *cap, enum node_kind kind, char *text,
           size_t len)
{
  if (t->n == *cap)
    {
      *cap = *cap ? *cap * 2 : 32;
      t->nodes = xrealloc (t->nodes, *cap * sizeof *t->nodes);
    }
  t->nodes[t->n++] = (struct node){ kind, text, len, 0 };
}

static void
free_nodes (struct tmpl *t)
{
  for (size_t i = 0; i < t->n; i++)
    free (t->nodes[i].text);
  free (t->nodes);
  free (t->name);
}

static bool
parse (struct tmpl *t, const char *src)
{
  size_t cap = 0, stack[MAX_NESTING], depth = 0;
  const char *p = src;

  while (*p)
    {
      const char *open = strstr (p, "{{");
      if (open == NULL)
        {
          push_node (t, &cap, N_TEXT, xstrdup (p), strlen (p));
          break;
        }
      if (open > p)
        push_node (t, &cap, N_TEXT, xstrndup (p, (size_t) (open - p)),
                   (size_t) (open - p));
      bool triple = open[2] == '{';
      const char *body = open + (triple ? 3 : 2);
      const char *close = strstr (body, triple ? "}}}" : "}}");
      if (close == NULL)
        return false;
      p = close + (triple ? 3 : 2);
      enum node_kind kind = triple ? N_RAW : N_VAR;
      if (!triple)
        switch (*body)
          {
          case '#': kind = N_SECTION; body++; break;
          case '^': kind = N_INVERT; body++; break;
          case '/': kind = N_END; body++; break;
          case '>': kind = N_PARTIAL; body++; break;
          case '!': continue; /* comment */
          default: break;
          }
      char *name = trim_name (body, (size_t) (close - body));
      if (*name == '\0')
        {
          free (name);
          return false;
        }
      push_node (t, &cap, kind, name, strlen (name));
      if (kind == N_SECTION || kind == N_INVERT)
        {
          if (depth == MAX_NESTING)
            return false;
          stack[depth++] = t->n - 1;
        }
      else if (kind == N_END)
        {
          if (depth == 0
              || strcmp (t->nodes[stack[depth - 1]].text, name) != 0)
            return false;
          size_t start = stack[--depth];
          t->nodes[start].match = t->n - 1;
          t->nodes[t->n - 1].match = start;
        }
    }
  return depth == 0;
}

bool
tmpl_add (struct tmpl_set *set, const char *name, const char *text)
{
  struct tmpl t = { xstrdup (name), NULL, 0 };
  if (!parse (&t, text))
    {
      free_nodes (&t);
      return false;
    }
  set->t = xrealloc (set->t, (set->n + 1) * sizeof *set->t);
  set->t[set->n++] = t;
  return true;
}

struct tmpl_set *
tmpl_set_new (void)
{
  return xcalloc (1, sizeof (struct tmpl_set));
}

struct tmpl_set *
tmpl_load_dir (const char *dir)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    {
      fprintf (stderr, "facturo: cannot read templates in %s\n", dir);
      return NULL;
    }
  struct tmpl_set *set = tmpl_set_new ();
  struct dirent *de;
  struct buf path = BUF_INIT, text = BUF_INIT;
  bool ok = true;
  while (ok && (de = readdir (d)) != NULL)
    {
      size_t len = strlen (de->d_name);
      if (len < 6 || strcmp (de->d_name + len - 5, ".html") != 0)
        continue;
      buf_reset (&path);
      buf_printf (&path, "%s/%s", dir, de->d_name);
      char *name = xstrndup (de->d_name, len - 5);
      if (read_file (path.data, &text, 1u << 20) != 0
          || !tmpl_add (set, name, text.data))
        {
          fprintf (stderr, "facturo: template %s does not parse\n",
                   path.data);
          ok = false;
        }
      free (name);
    }
  closedir (d);
  buf_free (&path);
  buf_free (&text);
  if (!ok)
    {
      tmpl_free (set);
      return NULL;
    }
  return set;
}

void
tmpl_free (struct tmpl_set *set)
{
  if (set == NULL)
    return;
  for (size_t i = 0; i < set->n; i++)
    free_nodes (&set->t[i]);
  free (set->t);
  free (set);
}

static const struct tmpl *
find (const struct tmpl_set *set, const char *name)
{
  for (size_t i = 0; i < set->n; i++)
    if (strcmp (set->t[i].name, name) == 0)
      return &set->t[i];
  return NULL;
}

/* Looks a (possibly dotted) name up through the context stack. */
static const json_t *
lookup (const json_t *const *stack, size_t depth, const char *name)
{
  if (strcmp (name, ".") == 0)
    return stack[depth - 1];
  const char *dot = strchr (name, '.');
  size_t head = dot ? (size_t) (dot - name) : strlen (name);
  char key[128];
  if (head >= sizeof key)
    return NULL;
  memcpy (key, name, head);
  key[head] = '\0';
  for (size_t i = depth; i-- > 0;)
    {
      const json_t *v = json_is_object (stack[i])
                            ? json_object_get (stack[i], key) : NULL;
      if (v == NULL)
        continue;
      while (dot && v)
        {
          const char *next = strchr (dot + 1, '.');
          size_t n = next ? (size_t) (next - dot - 1) : strlen (dot + 1);
          if (n >= sizeof key)
            return NULL;
          memcpy (key, dot + 1, n);
          key[n] = '\0';
          v = json_is_object (v) ? json_object_get (v, key) : NULL;
          dot = next;
        }
      return v;
    }
  return NULL;
}

static bool
truthy (const json_t *v)
{
  if (v == NULL || json_is_null (v) || json_is_false (v))
    return false;
  if (json_is_string (v))
    return json_string_length (v) > 0;
  if (json_is_array (v))
    return json_array_size (v) > 0;
  if (json_is_integer (v))
    return json_integer_value (v) != 0;
  return true;
}

static void
print_value (struct buf *out, const json_t *v, bool escape)
{
  char num[32];
  const char *s = NULL;
  if (json_is_string (v))
    s = json_string_value (v);
  else if (json_is_integer (v))
    {
      snprintf (num, sizeof num, "%lld", (long long) json_integer_value (v));
      s = num;
    }
  else if (json_is_true (v))
    s = "true";
  if (s == NULL)
    return;
  if (escape)
    html_escape (out, s);
  else
    buf_puts (out, s);
}

static void render_range (const struct tmpl_set *set, const struct tmpl *t,
                          size_t from, size_t to, const json_t **stack,
                          size_t depth, int partials, struct buf *out);

static void
render_range (const struct tmpl_set *set, const struct tmpl *t, size_t from,
              size_t to, const json_t **stack, size_t depth, int partials,
              struct buf *out)
{
  for (size_t i = from; i < to; i++)
    {
      const struct node *nd = &t->nodes[i];
      switch (nd->kind)
        {
        case N_TEXT:
          buf_append (out, nd->text, nd->len);
          break;
        case N_VAR:
        case N_RAW:
          {
            const json_t *v = lookup (stack, depth, nd->text);
            if (v)
              print_value (out, v, nd->kind == N_VAR);
            break;
          }
        case N_SECTION:
          {
            const json_t *v = lookup (stack, depth, nd->text);
            if (truthy (v) && depth < MAX_NESTING)
              {
                if (json_is_array (v))
                  {
                    size_t k;
                    json_t *el;
                    json_array_foreach (v, k, el)
                      {
                        stack[depth] = el;
                        render_range (set, t, i + 1, nd->match, stack,
                                      depth + 1, partials, out);
                      }
                  }
                else
                  {
                    stack[depth] = v;
                    render_range (set, t, i + 1, nd->match, stack, depth + 1,
                                  partials, out);
                  }
              }
            i = nd->match;
            break;
          }
        case N_INVERT:
          if (!truthy (lookup (stack, depth, nd->text)))
            render_range (set, t, i + 1, nd->match, stack, depth, partials,
                          out);
          i = nd->match;
          break;
        case N_END:
          break;
        case N_PARTIAL:
          {
            const struct tmpl *p = find (set, nd->text);
            if (p && partials < MAX_PARTIAL_DEPTH)
              render_range (set, p, 0, p->n, stack, depth, partials + 1, out);
            break;
          }
        }
    }
}

bool
tmpl_render (const struct tmpl_set *set, const char *name, const json_t *ctx,
             struct buf *out)
{
  const struct tmpl *t = find (set, name);
  const json_t *stack[MAX_NESTING + 1];
  if (t == NULL)
    return false;
  stack[0] = ctx;
  render_range (set, t, 0, t->n, stack, 1, 0, out);
  return true;
}
