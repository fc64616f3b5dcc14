/*
 * pdf.c — the printed representation of any CFDI 4.0, with libharu.
 *
 * Owns the layout of facturo's PDF invoice: page header (logo, issuer,
 * document box) on every page, receiver and voucher data, the conceptos
 * table flowing over pages with its header row repeated, taxes, totals
 * and the amount in words (core/words.h), Pagos 2.0 payments, and the
 * fiscal stamp (QR with SAT's verification URL per Anexo 20, seals, the
 * TFD's cadena original from cfdi/cadena.h).  It reads the XML as it is —
 * it neither validates nor verifies seals (that is `facturo cfdi verify`).
 *
 * Threads: every call owns one HPDF_Doc, one xmlDoc and one QRcode.  The
 * libharu 2.3.0 audit (docs/pdf.md): its only mutable globals serve CCITT
 * images, PDF/A ids (ctime) and encryption ids, none of which we use;
 * libpng's error path in libharu aborts the process on a corrupt PNG, so
 * PNG logos are decoded here with libpng under setjmp and handed to
 * libharu as raw RGB.  libxml2 is initialised once (pthread_once).
 *
 * Workload: one to a few pages per call, a few ms each (bench/bench_pdf);
 * a month's global invoice may have thousands of conceptos and pages.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pdf/pdf.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hpdf.h>
#include <hpdf_doc.h>
#include <hpdf_objects.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <png.h>
#include <qrencode.h>

#include "cfdi/cadena.h"
#include "cfdi/csd.h"
#include "core/catalog.h"
#include "core/money.h"
#include "core/words.h"

#define DEFAULT_FONT_DIR "/usr/share/fonts/truetype/dejavu"
#define MAX_PAGES 5000
#define MAX_FIELD 4000 /* bytes of one text field that are drawn */

/* Sizes in points. */
#define MARGIN 36.0f
#define FOOTER 16.0f
#define FS 7.5f   /* body text */
#define LH 9.2f   /* body line height */
#define FS_S 6.5f /* small text: tax lines, labels */
#define LH_S 7.8f
#define FS_M 5.8f /* seals */
#define LH_M 7.0f

/* ------------------------------------------------------------------ */
/* Render context: everything one document needs, nothing shared.      */
/* ------------------------------------------------------------------ */

struct table;

struct doc
{
  HPDF_Doc pdf;
  HPDF_STATUS hpdf_error; /* first libharu error, 0 = none */
  HPDF_STATUS hpdf_detail;
  HPDF_Font f, fb; /* regular, bold */
  HPDF_Image logo;
  float pw, ph; /* page size */
  float left, right, bottom;
  float y;    /* next baseline area top, from the bottom */
  bool fresh; /* nothing drawn on this page's body yet */
  HPDF_Page page;
  HPDF_Page *pages;
  size_t npages, cap_pages;
  bool void_stamp;           /* draw SIN VALIDEZ FISCAL */
  const struct table *table; /* open table: its header repeats */

  xmlNodePtr root, emisor, receptor, tfd, pagos;
  char **strs; /* attribute copies, freed at the end */
  size_t nstrs, cap_strs;
};

static void
hpdf_on_error (HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user)
{
  struct doc *d = user;
  if (d->hpdf_error == 0)
    {
      d->hpdf_error = error_no;
      d->hpdf_detail = detail_no;
    }
}

/* ------------------------------------------------------------------ */
/* XML access                                                          */
/* ------------------------------------------------------------------ */

/* Makes libxml2's UTF-8 drawable by libharu, in place: its UTF-8 encoder
 * only knows the BMP (a 4-byte sequence ends the string it draws), so
 * characters beyond it become U+FFFD; control characters become spaces. */
static void
drawable (unsigned char *s)
{
  unsigned char *o = s;
  while (*s)
    if (*s >= 0xF0)
      {
        *o++ = 0xEF, *o++ = 0xBF, *o++ = 0xBD;
        s++;
        while ((*s & 0xC0) == 0x80)
          s++;
      }
    else if (*s < 0x20)
      *o++ = ' ', s++;
    else
      *o++ = *s++;
  *o = '\0';
}

/* Attribute value of n, or "" when n or the attribute is missing, made
 * drawable.  The string lives until the end of the render. */
static const char *
A (struct doc *d, xmlNodePtr n, const char *name)
{
  xmlChar *v;
  if (n == NULL || (v = xmlGetNoNsProp (n, BAD_CAST name)) == NULL)
    return "";
  drawable (v);
  if (d->nstrs == d->cap_strs)
    {
      d->cap_strs = d->cap_strs ? d->cap_strs * 2 : 256;
      d->strs = xrealloc (d->strs, d->cap_strs * sizeof *d->strs);
    }
  d->strs[d->nstrs++] = (char *)v;
  return (const char *)v;
}

static bool
is_el (xmlNodePtr n, const char *ns, const char *name)
{
  return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href
         && strcmp ((const char *)n->ns->href, ns) == 0
         && strcmp ((const char *)n->name, name) == 0;
}

static xmlNodePtr
next_el (xmlNodePtr n, const char *ns, const char *name)
{
  for (; n; n = n->next)
    if (is_el (n, ns, name))
      return n;
  return NULL;
}

static xmlNodePtr
child (xmlNodePtr parent, const char *ns, const char *name)
{
  return parent ? next_el (parent->children, ns, name) : NULL;
}

#define EACH(c, parent, ns, name)                                             \
  for (xmlNodePtr c = child ((parent), (ns), (name)); c;                      \
       c = next_el (c->next, (ns), (name)))

#define NS4 CFDI_NS_CFDI40
#define NSP CFDI_NS_PAGOS20
#define NST CFDI_NS_TFD11

/* ------------------------------------------------------------------ */
/* Text                                                                */
/* ------------------------------------------------------------------ */

static float
tw (HPDF_Font f, float size, const char *s, size_t n)
{
  if (n == 0)
    return 0;
  HPDF_TextWidth w = HPDF_Font_TextWidth (f, (const HPDF_BYTE *)s, n);
  return (float)w.width * size / 1000.0f;
}

static void
text (struct doc *d, HPDF_Font f, float size, float x, float y, const char *s)
{
  if (s == NULL || *s == '\0')
    return;
  HPDF_Page_BeginText (d->page);
  HPDF_Page_SetFontAndSize (d->page, f, size);
  HPDF_Page_TextOut (d->page, x, y, s);
  HPDF_Page_EndText (d->page);
}

static void
text_right (struct doc *d, HPDF_Font f, float size, float xr, float y,
            const char *s)
{
  text (d, f, size, xr - tw (f, size, s, strlen (s)), y, s);
}

struct lines
{
  char **v;
  size_t n, cap;
};

static void
lines_push (struct lines *l, struct buf *b)
{
  if (l->n == l->cap)
    {
      l->cap = l->cap ? l->cap * 2 : 8;
      l->v = xrealloc (l->v, l->cap * sizeof *l->v);
    }
  l->v[l->n++] = buf_steal (b);
}

static void
lines_free (struct lines *l)
{
  for (size_t i = 0; i < l->n; i++)
    free (l->v[i]);
  free (l->v);
  memset (l, 0, sizeof *l);
}

static bool
space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t
utf8_len (unsigned char c)
{
  return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* Splits s into lines no wider than maxw: at spaces, and inside words
 * that alone are too wide (seals, long codes), at character boundaries.
 * Whitespace runs collapse to one space.  Draws at most MAX_FIELD bytes. */
static void
wrap (HPDF_Font f, float size, const char *s, float maxw, struct lines *out)
{
  size_t n = strlen (s);
  if (n > MAX_FIELD)
    {
      n = MAX_FIELD;
      while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    }
  const char *p = s, *end = s + n;
  struct buf line = BUF_INIT;
  float lw = 0, spw = tw (f, size, " ", 1);

  while (p < end)
    {
      while (p < end && space (*p))
        p++;
      const char *w = p;
      while (p < end && !space (*p))
        p++;
      if (w == p)
        break;
      float ww = tw (f, size, w, (size_t)(p - w));
      if (line.len && lw + spw + ww <= maxw)
        {
          buf_putc (&line, ' ');
          buf_append (&line, w, (size_t)(p - w));
          lw += spw + ww;
          continue;
        }
      if (line.len)
        {
          lines_push (out, &line);
          lw = 0;
        }
      if (ww <= maxw)
        {
          buf_append (&line, w, (size_t)(p - w));
          lw = ww;
          continue;
        }
      for (const char *q = w; q < p;)
        {
          size_t cl = utf8_len ((unsigned char)*q);
          if (cl > (size_t)(p - q))
            cl = (size_t)(p - q);
          float cw = tw (f, size, q, cl);
          if (line.len && lw + cw > maxw)
            {
              lines_push (out, &line);
              lw = 0;
            }
          buf_append (&line, q, cl);
          lw += cw;
          q += cl;
        }
    }
  if (line.len)
    lines_push (out, &line);
  buf_free (&line);
}

/* Amount as printed: thousands separators, the XML's own decimals (at
 * least 2), "$" in front.  Text that is not a number is copied. */
static void
fmt_money (const char *v, char out[64])
{
  int64_t m;
  char tmp[MONEY_BUFSZ];
  if (*v == '\0')
    {
      out[0] = '\0';
      return;
    }
  if (!money_parse (v, &m))
    {
      snprintf (out, 64, "%s", v);
      return;
    }
  const char *dot = strchr (v, '.');
  int dec = dot ? (int)strlen (dot + 1) : 0;
  money_format (m, dec < 2 ? 2 : dec, tmp);
  const char *s = tmp;
  char *o = out;
  if (*s == '-')
    *o++ = *s++;
  *o++ = '$';
  size_t ilen = strcspn (s, ".");
  for (size_t i = 0; i < ilen; i++)
    {
      *o++ = s[i];
      if ((ilen - i - 1) % 3 == 0 && i + 1 < ilen)
        *o++ = ',';
    }
  strcpy (o, s + ilen);
}

/* "16%" for a Tasa of 0.160000; the value itself for a Cuota. */
static void
fmt_rate (const char *factor, const char *v, char out[48])
{
  int64_t r;
  char tmp[MONEY_BUFSZ];
  if (strcmp (factor, "Tasa") == 0 && money_parse (v, &r)
      && r < INT64_MAX / 100)
    snprintf (out, 48, "%s%%", money_format_min (r * 100, 0, tmp));
  else
    snprintf (out, 48, "%s", v);
}

static const char *
tax_name (const char *code)
{
  const struct catalog_entry *e = catalog_tax (code);
  return e ? e->description : code;
}

/* "code description" from a catalog lookup, into b. */
static const char *
coded (struct buf *b, const char *code, const char *desc)
{
  buf_reset (b);
  if (*code == '\0')
    return "";
  buf_puts (b, code);
  if (desc && *desc)
    {
      buf_puts (b, " ");
      buf_puts (b, desc);
    }
  return b->data;
}

/* ------------------------------------------------------------------ */
/* Pages                                                               */
/* ------------------------------------------------------------------ */

struct col
{
  const char *title;
  float w;    /* fraction of the content width */
  bool right; /* right-aligned */
};

struct table
{
  const struct col *cols;
  int ncols;
};

static float
content_w (const struct doc *d)
{
  return d->right - d->left;
}

static void
hline (struct doc *d, float y, float gray, float width)
{
  HPDF_Page_SetGrayStroke (d->page, gray);
  HPDF_Page_SetLineWidth (d->page, width);
  HPDF_Page_MoveTo (d->page, d->left, y);
  HPDF_Page_LineTo (d->page, d->right, y);
  HPDF_Page_Stroke (d->page);
}

static void
table_header (struct doc *d, const struct table *t)
{
  float h = 12, x = d->left, W = content_w (d);
  HPDF_Page_SetGrayFill (d->page, 0.88f);
  HPDF_Page_Rectangle (d->page, d->left, d->y - h, W, h);
  HPDF_Page_Fill (d->page);
  HPDF_Page_SetGrayFill (d->page, 0);
  for (int i = 0; i < t->ncols; i++)
    {
      float cw = t->cols[i].w * W;
      if (t->cols[i].right)
        text_right (d, d->fb, FS_S, x + cw - 2, d->y - 8.5f, t->cols[i].title);
      else
        text (d, d->fb, FS_S, x + 2, d->y - 8.5f, t->cols[i].title);
      x += cw;
    }
  d->y -= h + 2;
}

static void
watermark (struct doc *d)
{
  static const char w[] = "SIN VALIDEZ FISCAL";
  float diag = sqrtf (d->pw * d->pw + d->ph * d->ph);
  float w1000 = tw (d->fb, 1000, w, sizeof w - 1) / 1000.0f;
  float size = 0.75f * diag / w1000;
  if (size > 64)
    size = 64;
  float c = d->pw / diag, s = d->ph / diag, tl = w1000 * size;
  float x = d->pw / 2 - c * tl / 2 + s * size * 0.35f;
  float y = d->ph / 2 - s * tl / 2 - c * size * 0.35f;

  HPDF_Page_GSave (d->page);
  HPDF_Page_SetRGBFill (d->page, 0.96f, 0.80f, 0.80f);
  HPDF_Page_BeginText (d->page);
  HPDF_Page_SetFontAndSize (d->page, d->fb, size);
  HPDF_Page_SetTextMatrix (d->page, c, s, -s, c, x, y);
  HPDF_Page_ShowText (d->page, w);
  HPDF_Page_EndText (d->page);
  HPDF_Page_GRestore (d->page);
}

static const char *
voucher_title (const char *type)
{
  switch (type[0])
    {
    case 'I':
      return "FACTURA";
    case 'E':
      return "NOTA DE CRÉDITO";
    case 'T':
      return "TRASLADO";
    case 'N':
      return "NÓMINA";
    case 'P':
      return "RECIBO ELECTRÓNICO DE PAGO";
    default:
      return "CFDI";
    }
}

/* Issuer block and document box, on every page. */
static void
page_header (struct doc *d)
{
  struct buf b = BUF_INIT;
  float top = d->ph - MARGIN, x = d->left, yl, yr;
  float boxw = 215, xr = d->right - boxw;

  if (d->logo)
    {
      float iw = HPDF_Image_GetWidth (d->logo),
            ih = HPDF_Image_GetHeight (d->logo);
      float sc = fminf (105 / iw, 52 / ih);
      HPDF_Page_DrawImage (d->page, d->logo, x, top - ih * sc, iw * sc,
                           ih * sc);
      x += 112;
    }

  /* issuer */
  struct lines l = { 0 };
  float colw = xr - 10 - x;
  yl = top - 10;
  wrap (d->fb, 10, A (d, d->emisor, "Nombre"), colw, &l);
  for (size_t i = 0; i < l.n && i < 3; i++, yl -= 12)
    text (d, d->fb, 10, x, yl, l.v[i]);
  lines_free (&l);
  buf_printf (&b, "RFC: %s", A (d, d->emisor, "Rfc"));
  text (d, d->f, FS, x, yl, b.data);
  yl -= LH;
  const char *reg = A (d, d->emisor, "RegimenFiscal");
  const struct catalog_regime *cr = catalog_regime (reg);
  buf_reset (&b);
  buf_printf (&b, "Régimen fiscal: %s %s", reg, cr ? cr->description : "");
  wrap (d->f, FS, b.data, colw, &l);
  for (size_t i = 0; i < l.n; i++, yl -= LH)
    text (d, d->f, FS, x, yl, l.v[i]);
  lines_free (&l);
  const char *fac = A (d, d->emisor, "FacAtrAdquirente");
  if (*fac)
    {
      buf_reset (&b);
      buf_printf (&b, "Facultad atribuida al adquirente: %s", fac);
      text (d, d->f, FS, x, yl, b.data);
      yl -= LH;
    }

  /* document box */
  yr = top - 10;
  text (d, d->fb, 9.5f, xr + 6, yr,
        voucher_title (A (d, d->root, "TipoDeComprobante")));
  yr -= 11;
  if (d->void_stamp)
    {
      HPDF_Page_SetRGBFill (d->page, 0.8f, 0, 0);
      text (d, d->fb, 9.5f, xr + 6, yr, "SIN VALIDEZ FISCAL");
      HPDF_Page_SetGrayFill (d->page, 0);
      yr -= 11;
    }
  const char *tipo = A (d, d->root, "TipoDeComprobante");
  const struct catalog_entry *ct = catalog_voucher_type (tipo);
  buf_reset (&b);
  buf_printf (&b, "CFDI %s · Tipo %s %s", A (d, d->root, "Version"), tipo,
              ct ? ct->description : "");
  text (d, d->f, FS_S, xr + 6, yr, b.data);
  yr -= LH;
  const char *serie = A (d, d->root, "Serie"),
             *folio = A (d, d->root, "Folio");
  if (*serie || *folio)
    {
      buf_reset (&b);
      buf_printf (&b, "Serie: %s   Folio: %s", serie, folio);
      text (d, d->fb, FS, xr + 6, yr, b.data);
      yr -= LH;
    }
  text (d, d->fb, FS_S, xr + 6, yr, "Folio fiscal (UUID):");
  yr -= LH_S;
  text (d, d->f, FS, xr + 6, yr,
        d->tfd ? A (d, d->tfd, "UUID") : "(no timbrado)");
  yr -= LH;
  buf_reset (&b);
  buf_printf (&b, "Fecha de emisión: %s", A (d, d->root, "Fecha"));
  text (d, d->f, FS, xr + 6, yr, b.data);
  yr -= LH;
  buf_reset (&b);
  buf_printf (&b, "Lugar de expedición: %s",
              A (d, d->root, "LugarExpedicion"));
  text (d, d->f, FS, xr + 6, yr, b.data);
  yr -= LH;
  HPDF_Page_SetGrayStroke (d->page, 0.6f);
  HPDF_Page_SetLineWidth (d->page, 0.6f);
  HPDF_Page_Rectangle (d->page, xr, yr + 3, boxw, top - yr - 3);
  HPDF_Page_Stroke (d->page);

  float y = fminf (yl, yr);
  if (d->logo && y > top - 56)
    y = top - 56;
  d->y = y - 4;
  hline (d, d->y, 0.3f, 1);
  d->y -= 8;
  buf_free (&b);
}

static void
new_page (struct doc *d)
{
  if (d->npages >= MAX_PAGES)
    {
      d->fresh = true;
      d->y = d->ph - MARGIN; /* keep drawing over the last page */
      return;
    }
  d->page = HPDF_AddPage (d->pdf);
  HPDF_Page_SetSize (d->page,
                     d->pw < 600 ? HPDF_PAGE_SIZE_A4 : HPDF_PAGE_SIZE_LETTER,
                     HPDF_PAGE_PORTRAIT);
  if (d->npages == d->cap_pages)
    {
      d->cap_pages = d->cap_pages ? d->cap_pages * 2 : 8;
      d->pages = xrealloc (d->pages, d->cap_pages * sizeof *d->pages);
    }
  d->pages[d->npages++] = d->page;
  if (d->void_stamp)
    watermark (d);
  page_header (d);
  if (d->table)
    table_header (d, d->table);
  d->fresh = true;
}

/* Makes room for h points of body, starting a page if needed. */
static void
need (struct doc *d, float h)
{
  if (d->y - h < d->bottom && !d->fresh)
    new_page (d);
  d->fresh = false;
}

static void
footers (struct doc *d)
{
  char b[64];
  for (size_t i = 0; i < d->npages; i++)
    {
      d->page = d->pages[i];
      float y = MARGIN - 4;
      hline (d, y + 9, 0.6f, 0.5f);
      text (d, d->f, FS_S, d->left, y,
            "Este documento es una representación impresa de un CFDI.");
      snprintf (b, sizeof b, "Página %zu de %zu", i + 1, d->npages);
      text_right (d, d->f, FS_S, d->right, y, b);
    }
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

/* "Label: value" with the value wrapped in the rest of width w; returns
 * the y below it.  Draws nothing for an empty value. */
static float
kv (struct doc *d, float x, float y, float w, const char *label,
    const char *value)
{
  if (value == NULL || *value == '\0')
    return y;
  float lw = tw (d->fb, FS, label, strlen (label)) + 4;
  struct lines l = { 0 };
  text (d, d->fb, FS, x, y, label);
  if (lw > w * 0.45f)
    {
      y -= LH;
      lw = 0;
    }
  wrap (d->f, FS, value, w - lw, &l);
  for (size_t i = 0; i < l.n; i++, y -= LH)
    text (d, d->f, FS, x + lw, y, l.v[i]);
  lines_free (&l);
  return y;
}

/* kv() across the whole width at the flow position, paginating. */
static void
kv_flow (struct doc *d, const char *label, const char *value)
{
  if (value == NULL || *value == '\0')
    return;
  need (d, LH * 2);
  d->y = kv (d, d->left, d->y - 7.5f, content_w (d), label, value) + 7.5f - 1;
}

static void
section_title (struct doc *d, const char *t)
{
  need (d, 18 + LH * 2);
  d->y -= 4;
  text (d, d->fb, 8.5f, d->left, d->y - 9, t);
  d->y -= 12;
  hline (d, d->y, 0.6f, 0.5f);
  d->y -= LH;
}

static void
parties (struct doc *d)
{
  struct buf b = BUF_INIT;
  float W = content_w (d), half = W / 2 - 8;
  float xl = d->left, xr = d->left + W / 2 + 8;
  float yl, yr;

  need (d, 120);
  text (d, d->fb, 8.5f, xl, d->y - 9, "Receptor");
  text (d, d->fb, 8.5f, xr, d->y - 9, "Datos del comprobante");
  d->y -= 12;
  hline (d, d->y, 0.6f, 0.5f);
  yl = yr = d->y - 7.5f - 2;

  xmlNodePtr r = d->receptor;
  yl = kv (d, xl, yl, half, "Nombre:", A (d, r, "Nombre"));
  yl = kv (d, xl, yl, half, "RFC:", A (d, r, "Rfc"));
  yl = kv (d, xl, yl, half,
           "Domicilio fiscal (C.P.):", A (d, r, "DomicilioFiscalReceptor"));
  const char *reg = A (d, r, "RegimenFiscalReceptor");
  const struct catalog_regime *cr = catalog_regime (reg);
  yl = kv (d, xl, yl, half,
           "Régimen fiscal:", coded (&b, reg, cr ? cr->description : NULL));
  const char *uso = A (d, r, "UsoCFDI");
  const struct catalog_use *cu = catalog_use (uso);
  yl = kv (d, xl, yl, half,
           "Uso del CFDI:", coded (&b, uso, cu ? cu->description : NULL));
  const char *res = A (d, r, "ResidenciaFiscal");
  const struct catalog_country *cc = catalog_country (res);
  yl = kv (d, xl, yl, half,
           "Residencia fiscal:", coded (&b, res, cc ? cc->name : NULL));
  yl = kv (d, xl, yl, half,
           "Núm. registro tributario:", A (d, r, "NumRegIdTrib"));

  xmlNodePtr c = d->root;
  const char *fp = A (d, c, "FormaPago");
  const struct catalog_payment_form *cf = catalog_payment_form (fp);
  yr = kv (d, xr, yr, half,
           "Forma de pago:", coded (&b, fp, cf ? cf->description : NULL));
  const char *mp = A (d, c, "MetodoPago");
  const struct catalog_entry *cm = catalog_payment_method (mp);
  yr = kv (d, xr, yr, half,
           "Método de pago:", coded (&b, mp, cm ? cm->description : NULL));
  const char *mon = A (d, c, "Moneda");
  const struct catalog_currency *cy = catalog_currency (mon);
  yr = kv (d, xr, yr, half,
           "Moneda:", coded (&b, mon, cy ? cy->description : NULL));
  yr = kv (d, xr, yr, half, "Tipo de cambio:", A (d, c, "TipoCambio"));
  const char *ex = A (d, c, "Exportacion");
  const struct catalog_entry *ce = catalog_export (ex);
  yr = kv (d, xr, yr, half,
           "Exportación:", coded (&b, ex, ce ? ce->description : NULL));
  yr = kv (d, xr, yr, half,
           "Condiciones de pago:", A (d, c, "CondicionesDePago"));
  yr = kv (d, xr, yr, half, "Confirmación:", A (d, c, "Confirmacion"));

  d->y = fminf (yl, yr) + 7.5f - 3;

  xmlNodePtr ig = child (d->root, NS4, "InformacionGlobal");
  if (ig)
    {
      const char *per = A (d, ig, "Periodicidad"), *mes = A (d, ig, "Meses");
      const struct catalog_entry *ep = catalog_periodicity (per);
      const struct catalog_entry *em = catalog_month (mes);
      buf_reset (&b);
      buf_printf (&b, "Periodicidad %s %s · Meses %s %s · Año %s", per,
                  ep ? ep->description : "", mes, em ? em->description : "",
                  A (d, ig, "Año"));
      kv_flow (d, "Información global:", b.data);
    }
  EACH (rel, d->root, NS4, "CfdiRelacionados")
  {
    const char *tr = A (d, rel, "TipoRelacion");
    const struct catalog_entry *et = catalog_relation_type (tr);
    buf_reset (&b);
    buf_printf (&b, "%s %s:", tr, et ? et->description : "");
    EACH (u, rel, NS4, "CfdiRelacionado")
    {
      buf_putc (&b, ' ');
      buf_puts (&b, A (d, u, "UUID"));
    }
    kv_flow (d, "CFDI relacionados:", b.data);
  }
  d->y -= 4;
  buf_free (&b);
}

/* Tax lines of a concepto (or a DoctoRelacionado: suffix "DR"). */
static void
tax_lines (struct doc *d, xmlNodePtr imp, const char *ns, const char *sfx,
           struct lines *out)
{
  static const char *const kinds[2][3] = {
    { "Traslados", "Traslado", "Traslado" },
    { "Retenciones", "Retencion", "Retención" },
  };
  char n1[48], n2[48], n3[48], rate[48], m1[64], m2[64];
  struct buf b = BUF_INIT;
  for (int k = 0; k < 2; k++)
    {
      snprintf (n1, sizeof n1, "%s%s", kinds[k][0], sfx);
      snprintf (n2, sizeof n2, "%s%s", kinds[k][1], sfx);
      EACH (t, child (imp, ns, n1), ns, n2)
      {
#define AT(name) (snprintf (n3, sizeof n3, "%s%s", name, sfx), A (d, t, n3))
        const char *factor = AT ("TipoFactor");
        fmt_money (AT ("Base"), m1);
        fmt_money (AT ("Importe"), m2);
        buf_reset (&b);
        buf_printf (&b, "%s %s", kinds[k][2], tax_name (AT ("Impuesto")));
        if (strcmp (factor, "Exento") == 0)
          buf_puts (&b, " Exento");
        else
          {
            fmt_rate (factor, AT ("TasaOCuota"), rate);
            buf_printf (&b, " %s %s", factor, rate);
          }
        buf_printf (&b, " · Base %s", m1);
        if (*m2)
          buf_printf (&b, " · Importe %s", m2);
#undef AT
        lines_push (out, &b);
      }
    }
  buf_free (&b);
}

static const struct col concept_cols[] = {
  { "Clave", 0.09f, false },         { "Cantidad", 0.08f, true },
  { "Unidad", 0.10f, false },        { "Descripción", 0.37f, false },
  { "Valor unitario", 0.12f, true }, { "Descuento", 0.10f, true },
  { "Importe", 0.14f, true },
};
static const struct table concept_table = { concept_cols, 7 };

static void
concepts (struct doc *d)
{
  float W = content_w (d);
  float cx[8];
  cx[0] = d->left;
  for (int i = 0; i < 7; i++)
    cx[i + 1] = cx[i] + concept_cols[i].w * W;
  struct buf b = BUF_INIT;

  section_title (d, "Conceptos");
  need (d, 14 + 5 * LH); /* header row and a first row, together */
  d->table = &concept_table;
  table_header (d, d->table);

  EACH (c, child (d->root, NS4, "Conceptos"), NS4, "Concepto")
  {
    struct lines cl = { 0 }, ul = { 0 }, dl = { 0 }, tl = { 0 };
    char vu[64], ds[64], im[64];
    const char *cps = A (d, c, "ClaveProdServ"),
               *ni = A (d, c, "NoIdentificacion");
    wrap (d->f, FS, cps, cx[1] - cx[0] - 3, &cl);
    wrap (d->f, FS_S, ni, cx[1] - cx[0] - 3, &cl);
    const char *cu = A (d, c, "ClaveUnidad"), *un = A (d, c, "Unidad");
    const struct catalog_unit *u = catalog_unit (cu);
    buf_reset (&b);
    buf_printf (&b, "%s %s", cu, *un ? un : (u ? u->name : ""));
    wrap (d->f, FS, b.data, cx[3] - cx[2] - 3, &ul);
    wrap (d->f, FS, A (d, c, "Descripcion"), cx[4] - cx[3] - 4, &dl);
    fmt_money (A (d, c, "ValorUnitario"), vu);
    fmt_money (A (d, c, "Descuento"), ds);
    fmt_money (A (d, c, "Importe"), im);

    const char *oi = A (d, c, "ObjetoImp");
    const struct catalog_entry *eo = catalog_tax_object (oi);
    buf_reset (&b);
    if (*oi)
      {
        buf_printf (&b, "Objeto de impuesto: %s %s", oi,
                    eo ? eo->description : "");
        lines_push (&tl, &b);
      }
    tax_lines (d, child (c, NS4, "Impuestos"), NS4, "", &tl);
    xmlNodePtr ter = child (c, NS4, "ACuentaTerceros");
    if (ter)
      {
        buf_printf (&b, "A cuenta de terceros: %s %s, régimen %s, C.P. %s",
                    A (d, ter, "RfcACuentaTerceros"),
                    A (d, ter, "NombreACuentaTerceros"),
                    A (d, ter, "RegimenFiscalACuentaTerceros"),
                    A (d, ter, "DomicilioFiscalACuentaTerceros"));
        lines_push (&tl, &b);
      }
    EACH (ia, c, NS4, "InformacionAduanera")
    {
      buf_printf (&b, "Pedimento: %s", A (d, ia, "NumeroPedimento"));
      lines_push (&tl, &b);
    }
    EACH (cp, c, NS4, "CuentaPredial")
    {
      buf_printf (&b, "Cuenta predial: %s", A (d, cp, "Numero"));
      lines_push (&tl, &b);
    }
    EACH (pa, c, NS4, "Parte")
    {
      char pi[64];
      fmt_money (A (d, pa, "Importe"), pi);
      buf_printf (&b, "Parte: %s · %s %s · %s%s%s", A (d, pa, "ClaveProdServ"),
                  A (d, pa, "Cantidad"), A (d, pa, "Unidad"),
                  A (d, pa, "Descripcion"), *pi ? " · " : "", pi);
      lines_push (&tl, &b);
    }
    /* tax lines may need wrapping in the space from Descripción on */
    struct lines tw2 = { 0 };
    for (size_t i = 0; i < tl.n; i++)
      wrap (d->f, FS_S, tl.v[i], d->right - cx[3] - 4, &tw2);

    size_t nl = ul.n > cl.n ? ul.n : cl.n, nd = dl.n ? dl.n : 1;
    float h = fmaxf (nl * LH, nd * LH + tw2.n * LH_S) + 3;
    need (d, h);
    float y = d->y - 7;
    for (size_t i = 0; i < cl.n; i++)
      text (d, d->f, i == 0 ? FS : FS_S, cx[0] + 2, y - i * LH, cl.v[i]);
    text_right (d, d->f, FS, cx[2] - 2, y, A (d, c, "Cantidad"));
    for (size_t i = 0; i < ul.n; i++)
      text (d, d->f, FS, cx[2] + 2, y - i * LH, ul.v[i]);
    for (size_t i = 0; i < dl.n; i++)
      text (d, d->f, FS, cx[3] + 2, y - i * LH, dl.v[i]);
    text_right (d, d->f, FS, cx[5] - 2, y, vu);
    text_right (d, d->f, FS, cx[6] - 2, y, ds);
    text_right (d, d->f, FS, cx[7] - 2, y, im);
    float ty = y - nd * LH + 1;
    for (size_t i = 0; i < tw2.n; i++, ty -= LH_S)
      text (d, d->f, FS_S, cx[3] + 2, ty, tw2.v[i]);
    d->y -= h;
    hline (d, d->y + 1, 0.85f, 0.4f);
    lines_free (&cl);
    lines_free (&ul);
    lines_free (&dl);
    lines_free (&tl);
    lines_free (&tw2);
  }
  d->table = NULL;
  d->y -= 4;
  buf_free (&b);
}

/* Right-aligned totals and the amount in words. */
static void
totals (struct doc *d)
{
  struct buf b = BUF_INIT, words = BUF_INIT;
  char m[64], rate[48];
  float W = content_w (d);
  float xl = d->right - 200, yr, yl;
  struct
  {
    char label[96];
    char value[64];
    bool bold;
  } rows[40];
  int n = 0;

#define ROW(lbl, val, bo)                                                     \
  do                                                                          \
    {                                                                         \
      if (n < 40)                                                             \
        {                                                                     \
          snprintf (rows[n].label, sizeof rows[n].label, "%s", lbl);          \
          snprintf (rows[n].value, sizeof rows[n].value, "%s", val);          \
          rows[n++].bold = bo;                                                \
        }                                                                     \
    }                                                                         \
  while (0)

  fmt_money (A (d, d->root, "SubTotal"), m);
  ROW ("Subtotal", m, false);
  if (*A (d, d->root, "Descuento"))
    {
      fmt_money (A (d, d->root, "Descuento"), m);
      ROW ("Descuento", m, false);
    }
  xmlNodePtr imp = child (d->root, NS4, "Impuestos");
  EACH (t, child (imp, NS4, "Traslados"), NS4, "Traslado")
  {
    char lbl[96];
    const char *factor = A (d, t, "TipoFactor");
    if (strcmp (factor, "Exento") == 0)
      snprintf (lbl, sizeof lbl, "%s exento", tax_name (A (d, t, "Impuesto")));
    else
      {
        fmt_rate (factor, A (d, t, "TasaOCuota"), rate);
        snprintf (lbl, sizeof lbl, "%s trasladado %s",
                  tax_name (A (d, t, "Impuesto")), rate);
      }
    fmt_money (*A (d, t, "Importe") ? A (d, t, "Importe") : "0", m);
    ROW (lbl, m, false);
  }
  EACH (t, child (imp, NS4, "Retenciones"), NS4, "Retencion")
  {
    char lbl[96];
    snprintf (lbl, sizeof lbl, "%s retenido", tax_name (A (d, t, "Impuesto")));
    fmt_money (A (d, t, "Importe"), m);
    ROW (lbl, m, false);
  }
  /* Impuestos locales (implocal 1.0), when present */
  EACH (cm, d->root, NS4, "Complemento")
  {
    xmlNodePtr il = child (cm, CFDI_NS_IMPLOCAL, "ImpuestosLocales");
    if (il == NULL)
      continue;
    for (xmlNodePtr t = il->children; t; t = t->next)
      {
        char lbl[96];
        bool tr = is_el (t, CFDI_NS_IMPLOCAL, "TrasladosLocales");
        if (!tr && !is_el (t, CFDI_NS_IMPLOCAL, "RetencionesLocales"))
          continue;
        snprintf (lbl, sizeof lbl, "%s %s %s%%",
                  A (d, t, tr ? "ImpLocTrasladado" : "ImpLocRetenido"),
                  tr ? "trasladado" : "retenido",
                  A (d, t, tr ? "TasadeTraslado" : "TasadeRetencion"));
        fmt_money (A (d, t, "Importe"), m);
        ROW (lbl, m, false);
      }
  }
  fmt_money (A (d, d->root, "Total"), m);
  ROW ("Total", m, true);
#undef ROW

  int64_t total = 0;
  money_parse (A (d, d->root, "Total"), &total);
  words_amount (total, A (d, d->root, "Moneda"), &words);

  float h = n * (LH + 1) + 8;
  need (d, h > 40 ? h : 40);
  yr = d->y - 8;
  for (int i = 0; i < n; i++, yr -= LH + 1)
    {
      HPDF_Font f = rows[i].bold ? d->fb : d->f;
      float fs = rows[i].bold ? 9 : FS;
      text_right (d, f, fs, xl + 110, yr, rows[i].label);
      text_right (d, f, fs, d->right - 2, yr, rows[i].value);
    }
  yl = d->y - 8;
  struct lines l = { 0 };
  if (strcmp (A (d, d->root, "TipoDeComprobante"), "P") != 0)
    {
      text (d, d->fb, FS, d->left, yl, "Importe con letra:");
      yl -= LH;
      wrap (d->f, FS, words.data, W - 220, &l);
    }
  for (size_t i = 0; i < l.n; i++, yl -= LH)
    text (d, d->f, FS, d->left, yl, l.v[i]);
  lines_free (&l);
  d->y = fminf (yl, yr) - 4;
  buf_free (&b);
  buf_free (&words);
}

static const struct col docto_cols[] = {
  { "Documento relacionado", 0.27f, false },
  { "Serie-Folio", 0.10f, false },
  { "Moneda", 0.07f, false },
  { "Parc.", 0.05f, true },
  { "Saldo anterior", 0.13f, true },
  { "Importe pagado", 0.13f, true },
  { "Saldo insoluto", 0.13f, true },
  { "Objeto imp.", 0.12f, false },
};
static const struct table docto_table = { docto_cols, 8 };

static void
payments (struct doc *d)
{
  struct buf b = BUF_INIT;
  char m[64];
  float W = content_w (d);
  int k = 0;

  section_title (d, "Complemento para recepción de pagos 2.0");
  EACH (p, d->pagos, NSP, "Pago")
  {
    if (++k > PDF_MAX_PAGOS)
      break;
    const char *fp = A (d, p, "FormaDePagoP");
    const struct catalog_payment_form *cf = catalog_payment_form (fp);
    need (d, LH * 6);
    buf_reset (&b);
    buf_printf (&b, "Pago %d", k);
    text (d, d->fb, 8, d->left, d->y - 8, b.data);
    d->y -= 11;
    fmt_money (A (d, p, "Monto"), m);
    buf_reset (&b);
    buf_printf (&b, "Fecha de pago %s · Forma de pago %s %s · Moneda %s",
                A (d, p, "FechaPago"), fp, cf ? cf->description : "",
                A (d, p, "MonedaP"));
    if (*A (d, p, "TipoCambioP"))
      buf_printf (&b, " · Tipo de cambio %s", A (d, p, "TipoCambioP"));
    buf_printf (&b, " · Monto %s", m);
    if (*A (d, p, "NumOperacion"))
      buf_printf (&b, " · Núm. operación %s", A (d, p, "NumOperacion"));
    kv_flow (d, "Pago:", b.data);
    buf_reset (&b);
    int64_t monto = 0;
    money_parse (A (d, p, "Monto"), &monto);
    words_amount (monto, A (d, p, "MonedaP"), &b);
    kv_flow (d, "Monto con letra:", b.data);
    buf_reset (&b);
    if (*A (d, p, "CtaOrdenante") || *A (d, p, "RfcEmisorCtaOrd"))
      buf_printf (&b, "ordenante %s %s %s ", A (d, p, "RfcEmisorCtaOrd"),
                  A (d, p, "NomBancoOrdExt"), A (d, p, "CtaOrdenante"));
    if (*A (d, p, "CtaBeneficiario") || *A (d, p, "RfcEmisorCtaBen"))
      buf_printf (&b, "beneficiaria %s %s", A (d, p, "RfcEmisorCtaBen"),
                  A (d, p, "CtaBeneficiario"));
    if (b.len)
      {
        kv_flow (d, "Cuentas:", b.data);
      }

    float cx[9];
    cx[0] = d->left;
    for (int i = 0; i < 8; i++)
      cx[i + 1] = cx[i] + docto_cols[i].w * W;
    need (d, 14 + 3 * LH); /* header row and a first row, together */
    d->table = &docto_table;
    table_header (d, d->table);
    EACH (dr, p, NSP, "DoctoRelacionado")
    {
      struct lines tl = { 0 }, tw2 = { 0 };
      char a1[64], a2[64], a3[64];
      tax_lines (d, child (dr, NSP, "ImpuestosDR"), NSP, "DR", &tl);
      for (size_t i = 0; i < tl.n; i++)
        wrap (d->f, FS_S, tl.v[i], d->right - cx[1] - 4, &tw2);
      float h = LH + tw2.n * LH_S + 3;
      need (d, h);
      float y = d->y - 7;
      text (d, d->f, FS_S, cx[0] + 2, y, A (d, dr, "IdDocumento"));
      buf_reset (&b);
      buf_printf (&b, "%s%s%s", A (d, dr, "Serie"),
                  *A (d, dr, "Serie") ? "-" : "", A (d, dr, "Folio"));
      text (d, d->f, FS, cx[1] + 2, y, b.data);
      text (d, d->f, FS, cx[2] + 2, y, A (d, dr, "MonedaDR"));
      text_right (d, d->f, FS, cx[4] - 2, y, A (d, dr, "NumParcialidad"));
      fmt_money (A (d, dr, "ImpSaldoAnt"), a1);
      fmt_money (A (d, dr, "ImpPagado"), a2);
      fmt_money (A (d, dr, "ImpSaldoInsoluto"), a3);
      text_right (d, d->f, FS, cx[5] - 2, y, a1);
      text_right (d, d->f, FS, cx[6] - 2, y, a2);
      text_right (d, d->f, FS, cx[7] - 2, y, a3);
      text (d, d->f, FS, cx[7] + 2, y, A (d, dr, "ObjetoImpDR"));
      float ty = y - LH + 1;
      for (size_t i = 0; i < tw2.n; i++, ty -= LH_S)
        text (d, d->f, FS_S, cx[1] + 2, ty, tw2.v[i]);
      d->y -= h;
      hline (d, d->y + 1, 0.85f, 0.4f);
      lines_free (&tl);
      lines_free (&tw2);
    }
    d->table = NULL;
    d->y -= 3;
    struct lines tl = { 0 };
    tax_lines (d, child (p, NSP, "ImpuestosP"), NSP, "P", &tl);
    for (size_t i = 0; i < tl.n; i++)
      {
        kv_flow (d, "Impuestos del pago:", tl.v[i]);
      }
    lines_free (&tl);
    d->y -= 4;
  }

  xmlNodePtr tot = child (d->pagos, NSP, "Totales");
  if (tot)
    {
      buf_reset (&b);
      for (xmlAttrPtr a = tot->properties; a; a = a->next)
        {
          fmt_money (A (d, tot, (const char *)a->name), m);
          buf_printf (&b, "%s%s %s", b.len ? " · " : "", (const char *)a->name,
                      m);
        }
      kv_flow (d, "Totales:", b.data);
    }
  d->y -= 4;
  buf_free (&b);
}

static void
draw_qr (struct doc *d, const char *url, float x, float ytop, float size)
{
  QRcode *qr = QRcode_encodeString (url, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (qr == NULL)
    return;
  int w = qr->width;
  float m = size / (float)(w + 8);
  HPDF_Page_SetGrayFill (d->page, 0);
  for (int r = 0; r < w; r++)
    for (int c = 0; c < w;)
      {
        if (!(qr->data[r * w + c] & 1))
          {
            c++;
            continue;
          }
        int c0 = c;
        while (c < w && (qr->data[r * w + c] & 1))
          c++;
        HPDF_Page_Rectangle (d->page, x + (4 + c0) * m, ytop - (4 + r + 1) * m,
                             (c - c0) * m, m);
      }
  HPDF_Page_Fill (d->page);
  QRcode_free (qr);
}

/* A label and a long text in the mono font, flowing over pages. */
static void
long_block (struct doc *d, const char *label, const char *value)
{
  struct lines l = { 0 };
  if (*value == '\0')
    return;
  need (d, LH + LH_M * 2);
  text (d, d->fb, FS_S, d->left, d->y - 7, label);
  d->y -= LH_S + 1;
  wrap (d->f, FS_M, value, content_w (d), &l);
  for (size_t i = 0; i < l.n; i++)
    {
      need (d, LH_M);
      text (d, d->f, FS_M, d->left, d->y - 6, l.v[i]);
      d->y -= LH_M;
    }
  d->y -= 3;
  lines_free (&l);
}

static void
stamp (struct doc *d)
{
  float W = content_w (d);
  section_title (d, "Timbre fiscal digital");
  if (d->tfd == NULL)
    {
      kv_flow (d, "Estado:",
               "Comprobante sellado pero no timbrado por un PAC: sin validez "
               "fiscal.");
      kv_flow (d, "No. de serie del CSD del emisor:",
               A (d, d->root, "NoCertificado"));
      long_block (d, "Sello digital del CFDI:", A (d, d->root, "Sello"));
      return;
    }

  struct buf url = BUF_INIT, cad = BUF_INIT;
  struct ferr e;
  pdf_sat_url (A (d, d->tfd, "UUID"), A (d, d->emisor, "Rfc"),
               A (d, d->receptor, "Rfc"), A (d, d->root, "Total"),
               A (d, d->root, "Sello"), &url);
  float qs = 100;
  need (d, qs + 4);
  float top = d->y;
  draw_qr (d, url.data, d->left - 4, top, qs);
  float x = d->left + qs + 4, w = W - qs - 4, y = top - 10;
  y = kv (d, x, y, w, "Folio fiscal (UUID):", A (d, d->tfd, "UUID"));
  y = kv (d, x, y, w,
          "No. de serie del CSD del emisor:", A (d, d->root, "NoCertificado"));
  y = kv (d, x, y, w, "No. de serie del certificado del SAT:",
          A (d, d->tfd, "NoCertificadoSAT"));
  y = kv (d, x, y, w,
          "Fecha y hora de certificación:", A (d, d->tfd, "FechaTimbrado"));
  y = kv (d, x, y, w, "RFC del proveedor de certificación:",
          A (d, d->tfd, "RfcProvCertif"));
  y = kv (d, x, y, w, "Leyenda:", A (d, d->tfd, "Leyenda"));
  y = kv (d, x, y, w, "Verificación:", url.data);
  d->y = fminf (y + 7.5f, top - qs) - 2;

  long_block (d, "Sello digital del CFDI:", A (d, d->root, "Sello"));
  long_block (d, "Sello digital del SAT:", A (d, d->tfd, "SelloSAT"));
  if (cfdi_tfd_cadena (d->tfd, &cad, &e))
    long_block (
        d, "Cadena original del complemento de certificación digital del SAT:",
        cad.data);
  buf_free (&url);
  buf_free (&cad);
}

/* ------------------------------------------------------------------ */
/* Inputs: sandbox detection, logo                                     */
/* ------------------------------------------------------------------ */

/* True if data_dir/sandbox/ holds the certificate NoCertificadoSAT `ncs`
 * (by file name, or by the serial of a .cer file). */
static bool
sandbox_cert (const char *data_dir, const char *ncs)
{
  char dir[4096], path[4400];
  bool found = false;
  if (*ncs == '\0')
    return false;
  snprintf (dir, sizeof dir, "%s/sandbox", data_dir);
  DIR *dh = opendir (dir);
  if (dh == NULL)
    return false;
  struct dirent *e;
  int n = 0;
  while (!found && (e = readdir (dh)) != NULL && n++ < 200)
    {
      size_t nl = strlen (e->d_name);
      if (strstr (e->d_name, ncs))
        found = true;
      else if (nl > 4 && strcasecmp (e->d_name + nl - 4, ".cer") == 0)
        {
          struct buf b = BUF_INIT;
          snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
          if (read_file (path, &b, 64 << 10) == 0)
            {
              struct csd_cert *c
                  = csd_cert_parse ((const uint8_t *)b.data, b.len, NULL);
              if (c && strcmp (c->no_certificado, ncs) == 0)
                found = true;
              csd_cert_free (c);
            }
          buf_free (&b);
        }
    }
  closedir (dh);
  return found;
}

struct png_src
{
  const unsigned char *p;
  size_t len, off;
};

static void
png_read_mem (png_structp png, png_bytep out, png_size_t n)
{
  struct png_src *s = png_get_io_ptr (png);
  if (n > s->len - s->off)
    png_error (png, "truncated");
  memcpy (out, s->p + s->off, n);
  s->off += n;
}

static void
png_silent_error (png_structp png, png_const_charp msg)
{
  (void)msg;
  png_longjmp (png, 1);
}

static void
png_silent_warning (png_structp png, png_const_charp msg)
{
  (void)png;
  (void)msg;
}

/* Decodes a PNG to 8-bit RGB over a white background.  Returns malloc'd
 * pixels or NULL for a corrupt or oversized image. */
static unsigned char *
png_to_rgb (const unsigned char *data, size_t len, unsigned *w, unsigned *h)
{
  struct png_src src = { data, len, 0 };
  png_structp png = png_create_read_struct (
      PNG_LIBPNG_VER_STRING, NULL, png_silent_error, png_silent_warning);
  png_infop info = png ? png_create_info_struct (png) : NULL;
  unsigned char *volatile rgba = NULL, *volatile rgb = NULL;
  png_bytep *volatile rows = NULL;
  if (info == NULL)
    {
      png_destroy_read_struct (png ? &png : NULL, NULL, NULL);
      return NULL;
    }
  if (setjmp (png_jmpbuf (png)))
    {
      free (rgba);
      free (rgb);
      free (rows);
      png_destroy_read_struct (&png, &info, NULL);
      return NULL;
    }
  png_set_read_fn (png, &src, png_read_mem);
  png_read_info (png, info);
  *w = png_get_image_width (png, info);
  *h = png_get_image_height (png, info);
  if (*w == 0 || *h == 0 || *w > 4000 || *h > 4000)
    png_error (png, "size");
  png_set_expand (png);
  png_set_strip_16 (png);
  png_set_gray_to_rgb (png);
  png_set_add_alpha (png, 0xFF, PNG_FILLER_AFTER);
  png_set_interlace_handling (png);
  png_read_update_info (png, info);
  if (png_get_rowbytes (png, info) != (size_t)*w * 4)
    png_error (png, "format");
  rgba = xmalloc ((size_t)*w * *h * 4);
  rows = xmalloc (*h * sizeof *rows);
  for (unsigned r = 0; r < *h; r++)
    rows[r] = rgba + (size_t)r * *w * 4;
  png_read_image (png, rows);
  rgb = xmalloc ((size_t)*w * *h * 3);
  for (size_t i = 0, n = (size_t)*w * *h; i < n; i++)
    for (int k = 0; k < 3; k++)
      {
        unsigned a = rgba[i * 4 + 3], v = rgba[i * 4 + k];
        rgb[i * 3 + k] = (unsigned char)((v * a + 255 * (255 - a)) / 255);
      }
  unsigned char *out = rgb;
  free (rgba);
  free (rows);
  png_destroy_read_struct (&png, &info, NULL);
  return out;
}

static bool
load_logo (struct doc *d, const unsigned char *p, size_t len, struct ferr *err)
{
  if (len > PDF_MAX_LOGO)
    return ferr_set (err, "pdf_logo", "logo", "logo larger than %u bytes",
                     "logotipo de más de %u bytes", PDF_MAX_LOGO);
  if (len > 8 && memcmp (p, "\x89PNG\r\n\x1a\n", 8) == 0)
    {
      unsigned w, h;
      unsigned char *rgb = png_to_rgb (p, len, &w, &h);
      if (rgb == NULL)
        return ferr_set (err, "pdf_logo", "logo", "logo is not a readable PNG",
                         "el logotipo no es un PNG legible");
      d->logo = HPDF_LoadRawImageFromMem (d->pdf, rgb, w, h,
                                          HPDF_CS_DEVICE_RGB, 8);
      free (rgb);
    }
  else if (len > 3 && memcmp (p, "\xFF\xD8\xFF", 3) == 0)
    d->logo = HPDF_LoadJpegImageFromMem (d->pdf, p, (HPDF_UINT)len);
  else
    return ferr_set (err, "pdf_logo", "logo", "logo must be PNG or JPEG",
                     "el logotipo debe ser PNG o JPEG");
  if (d->logo == NULL)
    {
      d->hpdf_error = 0;
      HPDF_ResetError (d->pdf);
      return ferr_set (err, "pdf_logo", "logo", "logo image could not be read",
                       "no se pudo leer la imagen del logotipo");
    }
  return true;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

void
pdf_sat_url (const char *uuid, const char *re, const char *rr,
             const char *total, const char *sello, struct buf *out)
{
  const char *vals[2] = { re ? re : "", rr ? rr : "" };
  buf_puts (
      out,
      "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id=");
  buf_puts (out, uuid ? uuid : "");
  for (int i = 0; i < 2; i++)
    {
      buf_puts (out, i == 0 ? "&re=" : "&rr=");
      for (const char *p = vals[i]; *p; p++)
        if (*p == '&')
          buf_puts (out, "&amp;");
        else
          buf_putc (out, *p);
    }
  buf_puts (out, "&tt=");
  int64_t t;
  char tmp[MONEY_BUFSZ];
  if (total && money_parse (total, &t))
    buf_puts (out, money_format_min (t, 1, tmp));
  else
    buf_puts (out, total ? total : "");
  buf_puts (out, "&fe=");
  size_t sl = sello ? strlen (sello) : 0;
  buf_puts (out, sl > 8 ? sello + sl - 8 : (sello ? sello : ""));
}

bool
pdf_error_is_input (const struct ferr *err)
{
  return err && err->code
         && (strcmp (err->code, "pdf_too_large") == 0
             || strcmp (err->code, "pdf_not_xml") == 0
             || strcmp (err->code, "pdf_not_cfdi") == 0
             || strcmp (err->code, "pdf_too_many") == 0
             || strcmp (err->code, "pdf_logo") == 0);
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void
xml_init (void)
{
  xmlInitParser ();
}

static xmlDocPtr
parse (const char *xml, size_t len, struct ferr *err)
{
  xmlParserCtxtPtr ctx = xmlNewParserCtxt ();
  if (ctx == NULL)
    abort ();
  xmlDocPtr doc = xmlCtxtReadMemory (ctx, xml, (int)len, "cfdi.xml", NULL,
                                     XML_PARSE_NONET | XML_PARSE_NOERROR
                                         | XML_PARSE_NOWARNING);
  if (doc == NULL)
    {
      const xmlError *e = xmlCtxtGetLastError (ctx);
      char msg[200] = "";
      if (e && e->message)
        snprintf (msg, sizeof msg, "%s", e->message);
      msg[strcspn (msg, "\n")] = '\0';
      ferr_set (err, "pdf_not_xml", "", "not well-formed XML (line %d: %s)",
                "no es XML bien formado (línea %d: %s)", e ? e->line : 0, msg,
                e ? e->line : 0, msg);
    }
  else if (doc->intSubset || doc->extSubset)
    {
      ferr_set (err, "pdf_not_xml", "", "XML with a DOCTYPE is refused",
                "se rechaza XML con DOCTYPE");
      xmlFreeDoc (doc);
      doc = NULL;
    }
  xmlFreeParserCtxt (ctx);
  return doc;
}

static bool
font_paths (const struct pdf_options *opt, char paths[2][4200],
            struct ferr *err)
{
  static const char *const names[2]
      = { "DejaVuSans.ttf", "DejaVuSans-Bold.ttf" };
  const char *dir
      = opt && opt->font_dir ? opt->font_dir : getenv ("FACTURO_FONTDIR");
  if (dir == NULL || *dir == '\0')
    dir = DEFAULT_FONT_DIR;
  for (int i = 0; i < 2; i++)
    {
      snprintf (paths[i], 4200, "%s/%s", dir, names[i]);
      FILE *f = fopen (paths[i], "rb");
      if (f == NULL)
        return ferr_set (
            err, "pdf_font", "", "font %s: %s (install fonts-dejavu-core)",
            "tipo de letra %s: %s (instale fonts-dejavu-core)", paths[i],
            strerror (errno), paths[i], strerror (errno));
      fclose (f);
    }
  return true;
}

/* libharu 2.3.0 writes the ToUnicode CMap of its UTF-8 fonts with
 * "begincidrange", which is not allowed there: poppler warns and other
 * readers may not map the text back to Unicode (copy, search).  Its codes
 * are the UCS-2 values themselves (CIDToGIDMap does the glyph mapping),
 * so a correct ToUnicode is the identity over the BMP, written here with
 * bfrange and put in place of libharu's. */
static void
fix_to_unicode (HPDF_Doc pdf, HPDF_Font font)
{
  if (HPDF_Dict_GetItem (font, "ToUnicode", HPDF_OCLASS_DICT) == NULL)
    return;
  HPDF_Dict cmap = HPDF_DictStream_New (pdf->mmgr, pdf->xref);
  if (cmap == NULL)
    return;
  cmap->filter = HPDF_STREAM_FILTER_FLATE_DECODE;
  struct buf b = BUF_INIT;
  buf_puts (&b,
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement "
            "0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n");
  int hi[256], n = 0;
  for (int h = 0; h < 256; h++)
    if (h < 0xD8 || h > 0xDF) /* no surrogates */
      hi[n++] = h;
  for (int i = 0; i < n; i += 100)
    {
      int k = n - i < 100 ? n - i : 100;
      buf_printf (&b, "%d beginbfrange\n", k);
      for (int j = i; j < i + k; j++)
        buf_printf (&b, "<%02X00> <%02XFF> <%02X00>\n", hi[j], hi[j], hi[j]);
      buf_puts (&b, "endbfrange\n");
    }
  buf_puts (
      &b,
      "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
  HPDF_Stream_Write (cmap->stream, (const HPDF_BYTE *)b.data,
                     (HPDF_UINT)b.len);
  HPDF_Dict_Add (font, "ToUnicode", cmap);
  buf_free (&b);
}

static void
doc_free (struct doc *d)
{
  if (d->pdf)
    HPDF_Free (d->pdf);
  for (size_t i = 0; i < d->nstrs; i++)
    xmlFree (d->strs[i]);
  free (d->strs);
  free (d->pages);
}

bool
pdf_render_cfdi (const char *xml, size_t len, const struct pdf_options *opt,
                 struct buf *out, struct ferr *err)
{
  struct doc d;
  char fonts[2][4200];
  xmlDocPtr doc = NULL;
  bool ok = false;

  memset (&d, 0, sizeof d);
  if (len > PDF_MAX_INPUT)
    return ferr_set (err, "pdf_too_large", "", "XML larger than %u bytes",
                     "XML de más de %u bytes", PDF_MAX_INPUT);
  pthread_once (&xml_once, xml_init);
  if ((doc = parse (xml, len, err)) == NULL)
    return false;

  d.root = xmlDocGetRootElement (doc);
  if (!is_el (d.root, NS4, "Comprobante")
      || strcmp (A (&d, d.root, "Version"), "4.0") != 0)
    {
      ferr_set (err, "pdf_not_cfdi", "",
                "not a CFDI 4.0 (cfdi:Comprobante Version 4.0)",
                "no es un CFDI 4.0 (cfdi:Comprobante Version 4.0)");
      goto done;
    }
  d.emisor = child (d.root, NS4, "Emisor");
  d.receptor = child (d.root, NS4, "Receptor");
  if (d.emisor == NULL || d.receptor == NULL)
    {
      ferr_set (err, "pdf_not_cfdi", "", "CFDI without Emisor or Receptor",
                "CFDI sin Emisor o Receptor");
      goto done;
    }
  xmlNodePtr comp = child (d.root, NS4, "Complemento");
  for (xmlNodePtr c = comp; c && !(d.tfd && d.pagos);
       c = next_el (c->next, NS4, "Complemento"))
    {
      if (!d.tfd)
        d.tfd = child (c, NST, "TimbreFiscalDigital");
      if (!d.pagos)
        d.pagos = child (c, NSP, "Pagos");
    }
  size_t nc = 0;
  EACH (c, child (d.root, NS4, "Conceptos"), NS4, "Concepto")
  if (++nc > PDF_MAX_CONCEPTOS)
    break;
  if (nc > PDF_MAX_CONCEPTOS)
    {
      ferr_set (err, "pdf_too_many", "", "more than %d conceptos",
                "más de %d conceptos", PDF_MAX_CONCEPTOS, PDF_MAX_CONCEPTOS);
      goto done;
    }
  if (!font_paths (opt, fonts, err))
    goto done;

  /* Not stamped, or stamped by facturo's sandbox PAC: no fiscal validity. */
  if (d.tfd == NULL)
    d.void_stamp = true;
  else
    {
      const char *dd
          = opt && opt->data_dir ? opt->data_dir : getenv ("FACTURO_DATA");
      if (dd == NULL || *dd == '\0')
        dd = FACTURO_DATADIR;
      d.void_stamp
          = strcasestr (A (&d, d.tfd, "Leyenda"), "validez fiscal") != NULL
            || sandbox_cert (dd, A (&d, d.tfd, "NoCertificadoSAT"));
    }

  d.pdf = HPDF_New (hpdf_on_error, &d);
  if (d.pdf == NULL)
    abort ();
  HPDF_SetCompressionMode (d.pdf, HPDF_COMP_ALL);
  HPDF_UseUTFEncodings (d.pdf);
  const char *fn[2];
  for (int i = 0; i < 2; i++)
    fn[i] = HPDF_LoadTTFontFromFile (d.pdf, fonts[i], HPDF_TRUE);
  if (!fn[0] || !fn[1])
    {
      ferr_set (
          err, "pdf_font", "",
          "cannot load the DejaVu fonts (libharu error 0x%04X)",
          "no se pudieron cargar las fuentes DejaVu (error de libharu 0x%04X)",
          (unsigned)d.hpdf_error, (unsigned)d.hpdf_error);
      goto done;
    }
  d.f = HPDF_GetFont (d.pdf, fn[0], "UTF-8");
  d.fb = HPDF_GetFont (d.pdf, fn[1], "UTF-8");
  if (!d.f || !d.fb)
    {
      ferr_set (err, "pdf_font", "", "libharu cannot use the fonts with UTF-8",
                "libharu no puede usar las fuentes con UTF-8");
      goto done;
    }
  fix_to_unicode (d.pdf, d.f);
  fix_to_unicode (d.pdf, d.fb);
  if (opt && opt->logo && opt->logo_len)
    {
      /* logo_optional: a logo that cannot be used is left out. */
      struct ferr le;
      memset (&le, 0, sizeof le);
      if (!load_logo (&d, opt->logo, opt->logo_len, &le))
        {
          d.logo = NULL;
          if (!opt->logo_optional)
            {
              if (err)
                *err = le;
              goto done;
            }
        }
    }

  struct buf title = BUF_INIT;
  buf_printf (&title, "CFDI %s", d.tfd ? A (&d, d.tfd, "UUID") : "");
  HPDF_SetInfoAttr (d.pdf, HPDF_INFO_TITLE, title.data);
  HPDF_SetInfoAttr (d.pdf, HPDF_INFO_CREATOR, "facturo " FACTURO_VERSION);
  buf_free (&title);

  if (opt && opt->paper == PDF_PAPER_A4)
    d.pw = 595, d.ph = 842;
  else
    d.pw = 612, d.ph = 792;
  d.left = MARGIN;
  d.right = d.pw - MARGIN;
  d.bottom = MARGIN + FOOTER;

  new_page (&d);
  parties (&d);
  concepts (&d);
  totals (&d);
  if (d.pagos)
    payments (&d);
  stamp (&d);
  footers (&d);

  if (d.hpdf_error == 0)
    HPDF_SaveToStream (d.pdf);
  if (d.hpdf_error != 0)
    {
      ferr_set (err, "pdf_render", "", "libharu error 0x%04X (detail %u)",
                "error de libharu 0x%04X (detalle %u)", (unsigned)d.hpdf_error,
                (unsigned)d.hpdf_detail, (unsigned)d.hpdf_error,
                (unsigned)d.hpdf_detail);
      goto done;
    }
  HPDF_ResetStream (d.pdf);
  size_t start = out->len;
  for (;;)
    {
      HPDF_BYTE tmp[65536];
      HPDF_UINT32 n = sizeof tmp;
      HPDF_STATUS st = HPDF_ReadFromStream (d.pdf, tmp, &n);
      if (n > 0)
        buf_append (out, tmp, n);
      if (st == HPDF_STREAM_EOF || n == 0)
        break;
      if (st != HPDF_OK)
        {
          out->len = start;
          if (out->data)
            out->data[start] = '\0';
          ferr_set (err, "pdf_render", "", "cannot read the PDF from libharu",
                    "no se pudo leer el PDF de libharu");
          goto done;
        }
    }
  ok = true;

done:
  doc_free (&d);
  xmlFreeDoc (doc);
  return ok;
}

/* ------------------------------------------------------------------ */
/* CLI                                                                 */
/* ------------------------------------------------------------------ */

static void
usage (FILE *f)
{
  fputs ("usage: facturo cfdi pdf FILE.xml -o OUT.pdf [--paper a4|letter] "
         "[--logo F.png|F.jpg]\n"
         "  Renders any CFDI 4.0 as its printed representation (PDF).\n"
         "  -o OUT.pdf      where to write the PDF (\"-\" = standard output)\n"
         "  --paper P       letter (default) or a4\n"
         "  --logo F        merchant logo, PNG or JPEG, drawn on every page\n"
         "  Fonts come from $FACTURO_FONTDIR or "
         "/usr/share/fonts/truetype/dejavu.\n"
         "  Exit: 0 written, 1 failure, 2 bad usage or bad input.\n",
         f);
}

int
cfdi_cmd_pdf (int argc, char **argv)
{
  const char *in = NULL, *outp = NULL, *logo = NULL;
  struct pdf_options opt = { 0 };
  struct buf xml = BUF_INIT, lg = BUF_INIT, pdf = BUF_INIT;
  struct ferr err = { 0 };
  int rc = 1;

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
      if ((strcmp (a, "-o") == 0 || strcmp (a, "--out") == 0) && i + 1 < argc)
        outp = argv[++i];
      else if (strcmp (a, "--paper") == 0 && i + 1 < argc)
        {
          const char *p = argv[++i];
          if (strcasecmp (p, "a4") == 0)
            opt.paper = PDF_PAPER_A4;
          else if (strcasecmp (p, "letter") == 0
                   || strcasecmp (p, "carta") == 0)
            opt.paper = PDF_PAPER_LETTER;
          else
            {
              fprintf (stderr,
                       "facturo cfdi pdf: --paper must be a4 or letter\n");
              return 2;
            }
        }
      else if (strcmp (a, "--logo") == 0 && i + 1 < argc)
        logo = argv[++i];
      else if (a[0] == '-' && a[1] != '\0')
        {
          fprintf (stderr,
                   "facturo cfdi pdf: unknown option '%s' (see --help)\n", a);
          return 2;
        }
      else if (in == NULL)
        in = a;
      else
        {
          fprintf (stderr, "facturo cfdi pdf: more than one input file\n");
          return 2;
        }
    }
  if (in == NULL || outp == NULL)
    {
      usage (stderr);
      return 2;
    }
  if (read_file (in, &xml, PDF_MAX_INPUT) != 0)
    {
      fprintf (stderr, "facturo cfdi pdf: %s: %s\n", in,
               errno == EFBIG ? "larger than the 32 MiB limit"
                              : strerror (errno));
      rc = 2;
      goto out;
    }
  if (logo)
    {
      if (read_file (logo, &lg, PDF_MAX_LOGO) != 0)
        {
          fprintf (stderr, "facturo cfdi pdf: logo %s: %s\n", logo,
                   errno == EFBIG ? "larger than the 2 MiB limit"
                                  : strerror (errno));
          rc = 2;
          goto out;
        }
      opt.logo = (const unsigned char *)lg.data;
      opt.logo_len = lg.len;
    }
  if (!pdf_render_cfdi (xml.data, xml.len, &opt, &pdf, &err))
    {
      fprintf (stderr, "facturo cfdi pdf: %s: %s\n", in, err.message);
      rc = pdf_error_is_input (&err) ? 2 : 1;
      goto out;
    }
  if (strcmp (outp, "-") == 0)
    {
      if (fwrite (pdf.data, 1, pdf.len, stdout) != pdf.len
          || fflush (stdout) != 0)
        {
          fprintf (stderr,
                   "facturo cfdi pdf: cannot write to standard output\n");
          goto out;
        }
    }
  else
    {
      FILE *f = fopen (outp, "wb");
      if (f == NULL)
        {
          fprintf (stderr, "facturo cfdi pdf: %s: %s\n", outp,
                   strerror (errno));
          goto out;
        }
      bool w = fwrite (pdf.data, 1, pdf.len, f) == pdf.len;
      if (fclose (f) != 0 || !w)
        {
          fprintf (stderr, "facturo cfdi pdf: %s: write failed\n", outp);
          remove (outp);
          goto out;
        }
    }
  rc = 0;
out:
  buf_free (&xml);
  buf_free (&lg);
  buf_free (&pdf);
  return rc;
}
