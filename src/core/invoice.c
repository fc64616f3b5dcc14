/*
 * invoice.c — the invoice model's arithmetic (Anexo 20, Guía de llenado
 * del CFDI 4.0: Conceptos, Impuestos, Comprobante totals; Guía de llenado
 * del complemento para recepción de pagos 2.0) and the item JSON reader
 * shared with the POS ticket API.
 *
 * Rounding policy (docs/cfdi-json.md says the same for integrators):
 *  - every amount is rounded once, half away from zero, from the exact
 *    product or quotient (128-bit intermediates), to the decimals of the
 *    currency (c_Moneda);
 *  - concepto Importe = Cantidad × ValorUnitario, Descuento, and each
 *    tax's Base and Importe are at the currency's decimals, so every sum
 *    at the comprobante level is exact and no summary rounding exists;
 *  - Importe always lies within SAT's limits (límite inferior/superior:
 *    (Cantidad ∓ ½·10^-dC)(ValorUnitario ∓ ½·10^-dV), truncated/rounded up
 *    to the decimals of Importe); check_limits() proves it for each line;
 *  - IVA's Base includes the IEPS transferred on the same concepto (Ley del
 *    IVA art. 12); IEPS and ISR take the line's base; a Cuota tax's Base
 *    is the quantity of units (Cantidad) and its Importe Cantidad × cuota;
 *  - tax_included: the line total the shop charged (quantity × gross price
 *    − gross discount, rounded) is split into a net base B with
 *    B + Σ transferred taxes(B) equal to it; B is found by bisection on
 *    that monotone function (the closest B, the lower on a tie).  When
 *    rounding leaves B + taxes one cent off the charge, the IVA Importe is
 *    taken as the other neighbour of Base × Tasa, which SAT's limits for
 *    a Traslado Importe allow (lower = (Base − ½·10^-d)·Tasa truncated,
 *    upper = (Base + ½·10^-d)·Tasa rounded up), so the CFDI total equals
 *    the charge.  ValorUnitario = Importe / Cantidad at 6 decimals.
 */
#include "core/invoice.h"

#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "util/buf.h"
#include "util/json.h"

static const int64_t p10[13] = {
  1LL,           10LL,           100LL,          1000LL,      10000LL,
  100000LL,      1000000LL,      10000000LL,     100000000LL, 1000000000LL,
  10000000000LL, 100000000000LL, 1000000000000LL
};

/* Largest magnitude an amount may reach: 10^12 units in micros, the most
 * money_parse accepts, so every sum of a bounded number of them fits. */
#define AMOUNT_MAX (1000000000000LL * MONEY_SCALE)

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

const char *
invoice_tax_code (enum invoice_tax_kind kind)
{
  switch (kind)
    {
    case INVOICE_TAX_ISR:
      return "001";
    case INVOICE_TAX_IVA:
      return "002";
    case INVOICE_TAX_IEPS:
      return "003";
    }
  return "";
}

const char *
invoice_tax_name (enum invoice_tax_kind kind)
{
  switch (kind)
    {
    case INVOICE_TAX_ISR:
      return "ISR";
    case INVOICE_TAX_IVA:
      return "IVA";
    case INVOICE_TAX_IEPS:
      return "IEPS";
    }
  return "";
}

const char *
invoice_factor_name (enum invoice_factor f)
{
  switch (f)
    {
    case INVOICE_FACTOR_TASA:
      return "Tasa";
    case INVOICE_FACTOR_CUOTA:
      return "Cuota";
    case INVOICE_FACTOR_EXENTO:
      return "Exento";
    }
  return "";
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

void
invoice_init (struct invoice *inv)
{
  memset (inv, 0, sizeof *inv);
  inv->type = INVOICE_INGRESO;
}

void
invoice_item_clear (struct invoice_item *it)
{
  if (it == NULL)
    return;
  free (it->product_key);
  free (it->unit_key);
  free (it->unit_name);
  free (it->description);
  free (it->sku);
  it->product_key = it->unit_key = it->unit_name = NULL;
  it->description = it->sku = NULL;
}

static void
party_free (struct invoice_party *p)
{
  free (p->rfc);
  free (p->name);
  free (p->regime);
  free (p->zip);
  free (p->use);
}

void
invoice_free (struct invoice *inv)
{
  if (inv == NULL)
    return;
  free (inv->series);
  free (inv->folio);
  free (inv->conditions);
  party_free (&inv->issuer);
  party_free (&inv->receiver);
  for (size_t i = 0; i < inv->n_related; i++)
    free (inv->related[i].uuids);
  free (inv->related);
  for (size_t i = 0; i < inv->n_items; i++)
    invoice_item_clear (&inv->items[i]);
  free (inv->items);
  for (size_t i = 0; i < inv->n_payments; i++)
    {
      struct invoice_payment *p = &inv->payments[i];
      free (p->operation);
      free (p->payer_rfc);
      free (p->payer_bank);
      free (p->payer_account);
      free (p->payee_rfc);
      free (p->payee_account);
      for (size_t j = 0; j < p->n_docs; j++)
        {
          free (p->docs[j].series);
          free (p->docs[j].folio);
        }
      free (p->docs);
    }
  free (inv->payments);
  invoice_init (inv);
}

struct invoice_item *
invoice_add_item (struct invoice *inv)
{
  if (inv->n_items >= INVOICE_MAX_ITEMS)
    return NULL;
  if (inv->n_items == inv->cap_items)
    {
      size_t cap = inv->cap_items ? inv->cap_items * 2 : 8;
      if (cap > INVOICE_MAX_ITEMS)
        cap = INVOICE_MAX_ITEMS;
      inv->items = xrealloc (inv->items, cap * sizeof *inv->items);
      inv->cap_items = cap;
    }
  struct invoice_item *it = &inv->items[inv->n_items++];
  memset (it, 0, sizeof *it);
  return it;
}

/* ------------------------------------------------------------------ */
/* Exact arithmetic                                                    */
/* ------------------------------------------------------------------ */

/* Rounds num / den (den > 0) half away from zero. */
static bool
div128 (__int128 num, __int128 den, int64_t *out)
{
  bool neg = num < 0;
  if (neg)
    num = -num;
  __int128 q = (num + den / 2) / den;
  if (neg)
    q = -q;
  if (q > AMOUNT_MAX || q < -AMOUNT_MAX)
    return false;
  *out = (int64_t)q;
  return true;
}

/* a × b (both micros), rounded once to d decimals; result in micros. */
static bool
mul_round (int64_t a, int64_t b, int d, int64_t *out)
{
  int64_t q;
  if (!div128 ((__int128)a * b, p10[12 - d], &q))
    return false;
  if (q > AMOUNT_MAX / p10[6 - d] || q < -AMOUNT_MAX / p10[6 - d])
    return false;
  *out = q * p10[6 - d];
  return true;
}

/* a / b (both micros, b > 0), rounded once to d decimals; micros. */
static bool
div_round_d (int64_t a, int64_t b, int d, int64_t *out)
{
  if (b <= 0)
    return false;
  int64_t q;
  if (!div128 ((__int128)a * p10[d], b, &q))
    return false;
  *out = q * p10[6 - d];
  return true;
}

static bool
add_checked (int64_t a, int64_t b, int64_t *out)
{
  int64_t r;
  if (!money_add (a, b, &r) || r > AMOUNT_MAX || r < -AMOUNT_MAX)
    return false;
  *out = r;
  return true;
}

/* SAT's limits for a concepto Importe (Anexo 20, Conceptos: Importe):
 * lower = (q - ½·10^-dq)(v - ½·10^-dv) truncated to the decimals of
 * Importe, upper = (q + ½·10^-dq - 10^-12)(v + ½·10^-dv - 10^-12) rounded
 * up.  The decimals are those written in the XML (trailing zeros
 * dropped, as money_format_min writes them; Importe written with the
 * currency's d decimals).  Computed in units of 10^-12 (micros²). */
static bool
check_limits (int64_t q, int64_t v, int64_t importe, int d)
{
  int dq = money_decimals_needed (q), dv = money_decimals_needed (v);
  /* half units, in micros, times 2 to stay integral: ½·10^-dq = 5·10^(5-dq)
   * micros when dq <= 5; at dq = 6 it is half a micro. */
  __int128 q2 = (__int128)q * 2, v2 = (__int128)v * 2;
  __int128 hq = p10[6 - dq], hv = p10[6 - dv]; /* one unit, in micros */
  /* (2q - hq)(2v - hv) / 4 in micros² */
  __int128 lo4 = (q2 - hq) * (v2 - hv);
  __int128 hi4 = (q2 + hq) * (v2 + hv);
  __int128 imp4 = (__int128)importe * p10[6] * 4; /* importe in micros²×4 */
  __int128 unit4 = (__int128)p10[12 - d] * 4;     /* 10^-d in micros²×4 */
  if (lo4 < 0)
    lo4 = 0;
  __int128 lo_trunc = (lo4 / unit4) * unit4;
  __int128 hi_up = ((hi4 - 4 + unit4 - 1) / unit4) * unit4;
  return imp4 >= lo_trunc && imp4 <= hi_up;
}

/* ------------------------------------------------------------------ */
/* Concepto computation                                                */
/* ------------------------------------------------------------------ */

static bool
tax_field (struct ferr *err, size_t index, size_t t, const char *code,
           const char *en, const char *es)
{
  char f[96];
  snprintf (f, sizeof f, "items[%zu].product.taxes[%zu]", index, t);
  return ferr_set (err, code, f, en, es);
}

static bool
item_field (struct ferr *err, size_t index, const char *sub, const char *code,
            const char *en, const char *es)
{
  char f[96];
  snprintf (f, sizeof f, "items[%zu]%s%s", index, *sub ? "." : "", sub);
  return ferr_set (err, code, f, en, es);
}

/* Computes every tax of taxes[0..n) on the net line base `base` for
 * quantity q, storing Base and Importe in each; *transferred receives the
 * sum of transferred Importes.  IEPS (and any non-IVA transfer) first,
 * then IVA on base + IEPS, then withholdings on the line base. */
static bool
apply_taxes (struct invoice_tax *taxes, size_t n, int64_t base, int64_t q,
             int d, int64_t *transferred)
{
  int64_t other = 0, sum = 0;
  for (int pass = 0; pass < 3; pass++)
    for (size_t i = 0; i < n; i++)
      {
        struct invoice_tax *t = &taxes[i];
        int want = t->withholding ? 2 : t->kind == INVOICE_TAX_IVA ? 1 : 0;
        if (want != pass)
          continue;
        int64_t b = base;
        if (pass == 1 && !add_checked (base, other, &b))
          return false;
        switch (t->factor)
          {
          case INVOICE_FACTOR_TASA:
            t->base = b;
            if (!mul_round (b, t->rate, d, &t->amount))
              return false;
            break;
          case INVOICE_FACTOR_CUOTA:
            t->base = q;
            if (!mul_round (q, t->rate, d, &t->amount))
              return false;
            break;
          case INVOICE_FACTOR_EXENTO:
            t->base = b;
            t->amount = 0;
            break;
          }
        if (!t->withholding)
          {
            if (!add_checked (sum, t->amount, &sum))
              return false;
            if (pass == 0 && !add_checked (other, t->amount, &other))
              return false;
          }
      }
  *transferred = sum;
  return true;
}

/* Finds the net base B (a multiple of 10^-d) whose B + transferred
 * taxes(B) is closest to gross (the lower B on a tie). */
static bool
solve_net (struct invoice_tax *taxes, size_t n, int64_t gross, int64_t q,
           int d, int64_t *out)
{
  int64_t unit = p10[6 - d];
  int64_t lo = 0, hi = gross / unit, tr;
  if (gross <= 0)
    {
      *out = 0;
      return gross == 0;
    }
  /* smallest k in [0, hi] with f(k·unit) >= gross (f(hi) >= gross since
   * taxes are never negative) */
  while (lo < hi)
    {
      int64_t mid = lo + (hi - lo) / 2;
      if (!apply_taxes (taxes, n, mid * unit, q, d, &tr))
        return false;
      if (mid * unit + tr >= gross)
        hi = mid;
      else
        lo = mid + 1;
    }
  int64_t b = lo * unit;
  if (!apply_taxes (taxes, n, b, q, d, &tr))
    return false;
  int64_t over = b + tr - gross;
  if (over > 0 && lo > 0)
    {
      int64_t tr2;
      if (!apply_taxes (taxes, n, b - unit, q, d, &tr2))
        return false;
      int64_t under = gross - (b - unit + tr2);
      if (under <= over)
        b -= unit;
    }
  *out = b;
  return true;
}

/* SAT's limits for a transferred or withheld Importe with TipoFactor Tasa
 * (Anexo 20, Traslado/Retencion Importe): lower = (Base - ½·10^-dB) ×
 * TasaOCuota truncated, upper = (Base + ½·10^-dB - 10^-12) × TasaOCuota
 * rounded up, both to the decimals of Importe (d); dB = d, the decimals
 * Base is written with. */
static bool
tax_within_limits (int64_t base, int64_t rate, int64_t amount, int d)
{
  /* work in 10^-12 units, doubled to keep the half unit integral */
  __int128 b2 = (__int128)base * 2, h = p10[6 - d];
  __int128 lo = (b2 - h) * rate, hi = (b2 + h) * rate - 2; /* ×2 */
  __int128 unit = (__int128)p10[12 - d] * 2;
  __int128 a = (__int128)amount * p10[6] * 2;
  if (lo < 0)
    lo = 0;
  __int128 lo_t = (lo / unit) * unit;
  __int128 hi_c = ((hi + unit - 1) / unit) * unit;
  return a >= lo_t && a <= hi_c;
}

/* tax_included: when rounding left the line total `diff` away from what
 * the shop charged, moves one transferred Tasa Importe by that much if
 * the result stays within SAT's limits for that Importe (IVA first, since
 * no other tax is computed from it; another tax only when the concepto
 * has no IVA Tasa).  Leaves everything as it was otherwise. */
static void
nudge_tax (struct invoice_tax *taxes, size_t n, int64_t diff, int d)
{
  bool has_iva = false;
  for (size_t i = 0; i < n; i++)
    if (!taxes[i].withholding && taxes[i].kind == INVOICE_TAX_IVA
        && taxes[i].factor == INVOICE_FACTOR_TASA)
      has_iva = true;
  for (size_t i = 0; i < n; i++)
    {
      struct invoice_tax *t = &taxes[i];
      if (t->withholding || t->factor != INVOICE_FACTOR_TASA
          || (has_iva && t->kind != INVOICE_TAX_IVA))
        continue;
      int64_t a = t->amount + diff;
      if (a >= 0 && tax_within_limits (t->base, t->rate, a, d))
        {
          t->amount = a;
          return;
        }
    }
}

static bool
valid_tax_object (const char *o)
{
  return strcmp (o, "01") == 0 || strcmp (o, "02") == 0
         || strcmp (o, "03") == 0 || strcmp (o, "04") == 0;
}

/* Checks one tax of an item (or a DoctoRelacionado) against c_TasaOCuota.
 * prefix names it in errors. */
static bool
check_tax (const struct invoice_tax *t, const char *field, struct ferr *err)
{
  if (t->kind != INVOICE_TAX_ISR && t->kind != INVOICE_TAX_IVA
      && t->kind != INVOICE_TAX_IEPS)
    return ferr_set (err, "tax_type", field, "unknown tax type",
                     "tipo de impuesto desconocido");
  if (t->factor == INVOICE_FACTOR_EXENTO)
    {
      if (t->withholding)
        return ferr_set (err, "tax_exempt_withholding", field,
                         "an exempt tax cannot be withheld",
                         "un impuesto exento no puede retenerse");
      if (t->rate != 0)
        return ferr_set (err, "tax_exempt_rate", field,
                         "an exempt tax carries no rate",
                         "un impuesto exento no lleva tasa");
      return true;
    }
  if (!catalog_tax_rate_allowed (invoice_tax_code (t->kind),
                                 invoice_factor_name (t->factor), t->rate,
                                 t->withholding))
    {
      char r[MONEY_BUFSZ];
      money_format (t->rate, 6, r);
      return ferr_set (
          err, "tax_rate", field, "%s %s %s %s is not in SAT's c_TasaOCuota",
          "%s %s %s %s no está en el catálogo c_TasaOCuota",
          invoice_tax_name (t->kind), invoice_factor_name (t->factor), r,
          t->withholding ? "withheld" : "transferred");
    }
  return true;
}

bool
invoice_item_compute (struct invoice_item *it, int d, size_t index,
                      struct ferr *err)
{
  if (d < 0 || d > 6)
    d = 2;
  if (it->quantity <= 0 || it->quantity > AMOUNT_MAX)
    return item_field (err, index, "quantity", "quantity_range",
                       "quantity must be greater than zero",
                       "la cantidad debe ser mayor que cero");
  if (it->price < 0 || it->price > AMOUNT_MAX)
    return item_field (err, index, "product.price", "price_range",
                       "price must not be negative",
                       "el precio no puede ser negativo");
  if (it->discount < 0 || it->discount > AMOUNT_MAX)
    return item_field (err, index, "discount", "discount_range",
                       "discount must not be negative",
                       "el descuento no puede ser negativo");
  if (it->n_taxes > INVOICE_MAX_ITEM_TAXES)
    return item_field (err, index, "product.taxes", "taxes_count",
                       "too many taxes", "demasiados impuestos");
  for (size_t t = 0; t < it->n_taxes; t++)
    {
      char f[96];
      snprintf (f, sizeof f, "items[%zu].product.taxes[%zu]", index, t);
      if (!check_tax (&it->taxes[t], f, err))
        return false;
      for (size_t u = 0; u < t; u++)
        if (it->taxes[u].kind == it->taxes[t].kind
            && it->taxes[u].withholding == it->taxes[t].withholding)
          return tax_field (err, index, t, "tax_duplicate",
                            "the same tax appears twice",
                            "el mismo impuesto aparece dos veces");
    }
  if (it->tax_object[0] == '\0')
    strcpy (it->tax_object, it->n_taxes > 0 ? "02" : "01");
  if (!valid_tax_object (it->tax_object))
    return item_field (err, index, "product.tax_object", "tax_object",
                       "ObjetoImp must be 01, 02, 03 or 04",
                       "ObjetoImp debe ser 01, 02, 03 o 04");
  if (strcmp (it->tax_object, "02") == 0 && it->n_taxes == 0)
    return item_field (err, index, "product.taxes", "tax_object_taxes",
                       "ObjetoImp 02 needs at least one tax",
                       "ObjetoImp 02 requiere al menos un impuesto");
  if (strcmp (it->tax_object, "02") != 0 && it->n_taxes > 0)
    return item_field (err, index, "product.tax_object", "tax_object_taxes",
                       "only ObjetoImp 02 may carry taxes",
                       "solo ObjetoImp 02 puede llevar impuestos");

  int64_t q = it->quantity, tr;
  int64_t gross_before, discount_r, importe, base;
  if (!mul_round (q, it->price, d, &gross_before))
    goto overflow;
  discount_r = money_round (it->discount, d);
  if (discount_r > gross_before)
    return item_field (err, index, "discount", "discount_too_large",
                       "discount is larger than the line amount",
                       "el descuento es mayor que el importe");
  if (!it->tax_included || it->n_taxes == 0)
    {
      importe = gross_before;
      it->unit_price = it->price;
      it->discount_net = discount_r;
      base = importe - discount_r;
      if (!apply_taxes (it->taxes, it->n_taxes, base, q, d, &tr))
        goto overflow;
    }
  else
    {
      int64_t net_before;
      if (!solve_net (it->taxes, it->n_taxes, gross_before, q, d, &net_before))
        goto overflow;
      if (!solve_net (it->taxes, it->n_taxes, gross_before - discount_r, q, d,
                      &base))
        goto overflow;
      importe = net_before;
      it->discount_net = net_before - base;
      /* ValorUnitario = Importe / Cantidad at 6 decimals: Importe then
       * lies within SAT's limits for q × ValorUnitario. */
      if (!div_round_d (importe, q, 6, &it->unit_price))
        goto overflow;
      if (!apply_taxes (it->taxes, it->n_taxes, base, q, d, &tr))
        goto overflow;
      int64_t charged = gross_before - discount_r;
      if (base + tr != charged)
        nudge_tax (it->taxes, it->n_taxes, charged - (base + tr), d);
    }
  it->amount = importe;
  it->has_discount = it->discount > 0;
  if (!check_limits (q, it->unit_price, importe, d))
    return item_field (err, index, "product.price", "amount_limits",
                       "the line amount falls outside SAT's limits for "
                       "quantity x unit price",
                       "el importe queda fuera de los límites del SAT para "
                       "cantidad x valor unitario");
  return true;
overflow:
  return item_field (err, index, "", "amount_overflow", "amounts too large",
                     "importes demasiado grandes");
}

/* ------------------------------------------------------------------ */
/* Summary                                                             */
/* ------------------------------------------------------------------ */

/* Adds one tax into a summary table (transfers grouped by Impuesto +
 * TipoFactor + TasaOCuota, withholdings by Impuesto). */
static bool
summary_add (struct invoice_tax_total *rows, size_t *n,
             const struct invoice_tax *t, int64_t base, int64_t amount)
{
  for (size_t i = 0; i < *n; i++)
    {
      struct invoice_tax_total *r = &rows[i];
      if (r->withholding != t->withholding || r->kind != t->kind)
        continue;
      if (!t->withholding && (r->factor != t->factor || r->rate != t->rate))
        continue;
      return add_checked (r->base, base, &r->base)
             && add_checked (r->amount, amount, &r->amount);
    }
  if (*n >= INVOICE_MAX_TAX_GROUPS)
    return false;
  struct invoice_tax_total *r = &rows[(*n)++];
  r->kind = t->kind;
  r->factor = t->withholding ? INVOICE_FACTOR_TASA : t->factor;
  r->rate = t->withholding ? 0 : t->rate;
  r->withholding = t->withholding;
  r->base = base;
  r->amount = amount;
  return true;
}

/* Puts transfers before withholdings, keeping first-seen order. */
static void
summary_order (struct invoice_tax_total *rows, size_t n)
{
  struct invoice_tax_total tmp[INVOICE_MAX_TAX_GROUPS];
  size_t k = 0;
  for (int w = 0; w < 2; w++)
    for (size_t i = 0; i < n; i++)
      if (rows[i].withholding == (w == 1))
        tmp[k++] = rows[i];
  memcpy (rows, tmp, n * sizeof *rows);
}

static int
currency_decimals (const char *code, enum invoice_type type)
{
  const char *c = code && code[0]        ? code
                  : type == INVOICE_PAGO ? "XXX"
                                         : "MXN";
  const struct catalog_currency *cur = catalog_currency (c);
  if (cur == NULL)
    return -1;
  return cur->decimals < 0 ? 0 : cur->decimals > 6 ? 6 : cur->decimals;
}

bool
invoice_sum_begin (struct invoice *inv, struct ferr *err)
{
  int d = currency_decimals (inv->currency, inv->type);
  if (d < 0)
    return ferr_set (err, "currency_unknown", "currency",
                     "currency is not in SAT's c_Moneda",
                     "la moneda no está en el catálogo c_Moneda");
  inv->decimals = d;
  inv->subtotal = inv->discount = 0;
  inv->has_discount = false;
  inv->total_transferred = inv->total_withheld = 0;
  inv->has_transferred = inv->has_transferred_amount = false;
  inv->has_withheld = false;
  inv->n_tax_totals = 0;
  inv->total = 0;
  memset (&inv->pay_totals, 0, sizeof inv->pay_totals);
  return true;
}

bool
invoice_sum_add (struct invoice *inv, const struct invoice_item *it,
                 size_t index, struct ferr *err)
{
  if (!add_checked (inv->subtotal, it->amount, &inv->subtotal)
      || !add_checked (inv->discount, it->discount_net, &inv->discount))
    goto overflow;
  if (it->has_discount)
    inv->has_discount = true;
  for (size_t t = 0; t < it->n_taxes; t++)
    {
      const struct invoice_tax *x = &it->taxes[t];
      if (!summary_add (inv->tax_totals, &inv->n_tax_totals, x, x->base,
                        x->amount))
        return item_field (err, index, "product.taxes", "tax_groups",
                           "too many different taxes in one invoice",
                           "demasiados impuestos distintos en un "
                           "comprobante");
      if (x->withholding)
        {
          inv->has_withheld = true;
          if (!add_checked (inv->total_withheld, x->amount,
                            &inv->total_withheld))
            goto overflow;
        }
      else
        {
          inv->has_transferred = true;
          if (x->factor != INVOICE_FACTOR_EXENTO)
            inv->has_transferred_amount = true;
          if (!add_checked (inv->total_transferred, x->amount,
                            &inv->total_transferred))
            goto overflow;
        }
    }
  return true;
overflow:
  return item_field (err, index, "", "amount_overflow", "amounts too large",
                     "importes demasiado grandes");
}

bool
invoice_sum_end (struct invoice *inv, struct ferr *err)
{
  int64_t t;
  summary_order (inv->tax_totals, inv->n_tax_totals);
  if (!money_sub (inv->subtotal, inv->discount, &t)
      || !add_checked (t, inv->total_transferred, &t)
      || !money_sub (t, inv->total_withheld, &t))
    return ferr_set (err, "amount_overflow", "items", "amounts too large",
                     "importes demasiado grandes");
  if (t < 0)
    return ferr_set (err, "total_negative", "items",
                     "the withholdings exceed the invoice amount",
                     "las retenciones exceden el importe del comprobante");
  inv->total = t;
  return true;
}

/* ------------------------------------------------------------------ */
/* Pagos 2.0                                                           */
/* ------------------------------------------------------------------ */

static bool
pay_field (struct ferr *err, size_t p, long d, const char *sub,
           const char *code, const char *en, const char *es)
{
  char f[128];
  if (d >= 0)
    snprintf (f, sizeof f, "payments[%zu].related_documents[%ld]%s%s", p, d,
              *sub ? "." : "", sub);
  else
    snprintf (f, sizeof f, "payments[%zu]%s%s", p, *sub ? "." : "", sub);
  return ferr_set (err, code, f, en, es);
}

/* pago20:Totales: IVA transfers by rate, withholdings by tax, converted to
 * MXN with TipoCambioP and rounded to 2 decimals at the end. */
static bool
payment_totals (struct invoice *inv, struct ferr *err)
{
  struct invoice_payment_totals *T = &inv->pay_totals;
  /* accumulate in micros of MXN at 6 decimals, round at the end */
  __int128 acc[9] = { 0 };
  __int128 total = 0;
  for (size_t i = 0; i < inv->n_payments; i++)
    {
      const struct invoice_payment *p = &inv->payments[i];
      total += (__int128)p->amount * p->exchange;
      for (size_t k = 0; k < p->n_tax_totals; k++)
        {
          const struct invoice_tax_total *r = &p->tax_totals[k];
          __int128 b = (__int128)r->base * p->exchange;
          __int128 a = (__int128)r->amount * p->exchange;
          if (r->withholding)
            {
              int slot = r->kind == INVOICE_TAX_IVA   ? 0
                         : r->kind == INVOICE_TAX_ISR ? 1
                                                      : 2;
              acc[slot] += a;
              if (slot == 0)
                T->has_withheld_iva = true;
              else if (slot == 1)
                T->has_withheld_isr = true;
              else
                T->has_withheld_ieps = true;
            }
          else if (r->kind == INVOICE_TAX_IVA)
            {
              if (r->factor == INVOICE_FACTOR_EXENTO)
                {
                  acc[8] += b;
                  T->has_iva_exempt = true;
                }
              else if (r->rate == 160000)
                {
                  acc[3] += b, acc[4] += a;
                  T->has_iva16 = true;
                }
              else if (r->rate == 80000)
                {
                  acc[5] += b, acc[6] += a;
                  T->has_iva8 = true;
                }
              else if (r->rate == 0)
                {
                  acc[7] += b;
                  T->has_iva0 = true;
                }
            }
        }
    }
  int64_t v[9], tot;
  for (int k = 0; k < 9; k++)
    if (!div128 (acc[k], p10[10], &v[k]))
      goto overflow;
    else
      v[k] *= p10[4];
  if (!div128 (total, p10[10], &tot))
    goto overflow;
  T->total = tot * p10[4];
  T->withheld_iva = v[0], T->withheld_isr = v[1], T->withheld_ieps = v[2];
  T->base_iva16 = v[3], T->tax_iva16 = v[4];
  T->base_iva8 = v[5], T->tax_iva8 = v[6];
  T->base_iva0 = v[7], T->tax_iva0 = 0;
  T->base_iva_exempt = v[8];
  return true;
overflow:
  return ferr_set (err, "amount_overflow", "payments", "amounts too large",
                   "importes demasiado grandes");
}

static bool
payments_compute (struct invoice *inv, struct ferr *err)
{
  if (inv->n_payments == 0)
    return ferr_set (err, "payments_missing", "payments",
                     "a payment invoice needs at least one payment",
                     "un comprobante de pago requiere al menos un pago");
  for (size_t i = 0; i < inv->n_payments; i++)
    {
      struct invoice_payment *p = &inv->payments[i];
      int dp = currency_decimals (p->currency, INVOICE_INGRESO);
      if (dp < 0 || strcmp (p->currency, "XXX") == 0)
        return pay_field (err, i, -1, "currency", "currency_unknown",
                          "currency is not in SAT's c_Moneda",
                          "la moneda no está en el catálogo c_Moneda");
      p->decimals = dp;
      if (strcmp (p->currency, "MXN") == 0)
        p->exchange = MONEY_SCALE;
      if (p->exchange <= 0)
        return pay_field (err, i, -1, "exchange", "exchange_missing",
                          "a foreign-currency payment needs an exchange "
                          "rate",
                          "un pago en moneda extranjera requiere tipo de "
                          "cambio");
      if (p->amount <= 0 || p->amount > AMOUNT_MAX
          || money_round (p->amount, dp) != p->amount)
        return pay_field (err, i, -1, "amount", "amount_range",
                          "amount must be positive with the currency's "
                          "decimals",
                          "el monto debe ser positivo con los decimales "
                          "de la moneda");
      if (p->n_docs == 0)
        return pay_field (err, i, -1, "related_documents",
                          "payment_docs_missing",
                          "a payment needs at least one related document",
                          "un pago requiere al menos un documento "
                          "relacionado");
      int64_t paid_sum = 0;
      p->n_tax_totals = 0;
      for (size_t j = 0; j < p->n_docs; j++)
        {
          struct invoice_payment_doc *dr = &p->docs[j];
          int dd = currency_decimals (dr->currency, INVOICE_INGRESO);
          if (dd < 0 || strcmp (dr->currency, "XXX") == 0)
            return pay_field (err, i, (long)j, "currency", "currency_unknown",
                              "currency is not in SAT's c_Moneda",
                              "la moneda no está en el catálogo c_Moneda");
          dr->decimals = dd;
          if (strcmp (dr->currency, p->currency) == 0)
            {
              if (dr->has_equivalence && dr->equivalence != MONEY_SCALE)
                return pay_field (err, i, (long)j, "exchange",
                                  "equivalence_same_currency",
                                  "EquivalenciaDR must be 1 when the "
                                  "currencies match",
                                  "EquivalenciaDR debe ser 1 si las "
                                  "monedas coinciden");
              dr->equivalence = MONEY_SCALE;
            }
          else if (!dr->has_equivalence || dr->equivalence <= 0)
            return pay_field (err, i, (long)j, "exchange",
                              "equivalence_missing",
                              "EquivalenciaDR is needed when the document's "
                              "currency differs from the payment's",
                              "EquivalenciaDR es requerido si la moneda del "
                              "documento difiere de la del pago");
          if (dr->installment < 1 || dr->installment > 999)
            return pay_field (err, i, (long)j, "installment",
                              "installment_range",
                              "installment must be between 1 and 999",
                              "la parcialidad debe estar entre 1 y 999");
          if (dr->amount <= 0 || money_round (dr->amount, dd) != dr->amount
              || dr->last_balance <= 0
              || money_round (dr->last_balance, dd) != dr->last_balance
              || dr->last_balance > AMOUNT_MAX)
            return pay_field (err, i, (long)j, "amount", "amount_range",
                              "amount and last_balance must be positive "
                              "with the currency's decimals",
                              "el importe pagado y el saldo anterior deben "
                              "ser positivos con los decimales de la "
                              "moneda");
          if (dr->amount > dr->last_balance)
            return pay_field (err, i, (long)j, "amount", "amount_over_balance",
                              "amount paid exceeds the last balance",
                              "el importe pagado excede el saldo anterior");
          dr->balance = dr->last_balance - dr->amount;
          /* ImpPagado / EquivalenciaDR in the payment's currency */
          int64_t in_p;
          if (!div_round_d (dr->amount, dr->equivalence, dp, &in_p)
              || !add_checked (paid_sum, in_p, &paid_sum))
            goto overflow;
          /* taxes */
          if (dr->tax_object[0] == '\0')
            strcpy (dr->tax_object, dr->n_taxes > 0 ? "02" : "01");
          if (!valid_tax_object (dr->tax_object)
              || (strcmp (dr->tax_object, "02") == 0) != (dr->n_taxes > 0))
            return pay_field (err, i, (long)j, "tax_object", "tax_object",
                              "ObjetoImpDR 02 needs taxes, 01/03/04 none",
                              "ObjetoImpDR 02 requiere impuestos, 01/03/04 "
                              "ninguno");
          for (size_t t = 0; t < dr->n_taxes; t++)
            {
              char f[128];
              snprintf (f, sizeof f,
                        "payments[%zu].related_documents[%zu].taxes[%zu]", i,
                        j, t);
              if (!check_tax (&dr->taxes[t], f, err))
                return false;
              if (dr->taxes[t].factor == INVOICE_FACTOR_CUOTA
                  && !dr->tax_base_given)
                return ferr_set (err, "tax_base_missing", f,
                                 "a Cuota tax needs its base",
                                 "un impuesto por cuota requiere su base");
            }
          if (dr->n_taxes > 0)
            {
              int64_t tr;
              if (dr->tax_base_given)
                {
                  /* bases as given (each tax's base field), amounts
                   * computed from them */
                  for (size_t t = 0; t < dr->n_taxes; t++)
                    {
                      struct invoice_tax *x = &dr->taxes[t];
                      if (x->base <= 0)
                        return pay_field (err, i, (long)j, "taxes",
                                          "tax_base_range",
                                          "tax base must be positive",
                                          "la base debe ser positiva");
                      if (x->factor == INVOICE_FACTOR_EXENTO)
                        x->amount = 0;
                      else if (!mul_round (x->base, x->rate, dd, &x->amount))
                        goto overflow;
                    }
                }
              else
                {
                  int64_t base;
                  if (!solve_net (dr->taxes, dr->n_taxes, dr->amount,
                                  MONEY_SCALE, dd, &base)
                      || !apply_taxes (dr->taxes, dr->n_taxes, base,
                                       MONEY_SCALE, dd, &tr))
                    goto overflow;
                }
              /* ImpuestosP: Σ BaseDR / EquivalenciaDR, ImporteDR / Eq. */
              for (size_t t = 0; t < dr->n_taxes; t++)
                {
                  const struct invoice_tax *x = &dr->taxes[t];
                  int64_t b, a;
                  if (!div_round_d (x->base, dr->equivalence, 6, &b)
                      || !div_round_d (x->amount, dr->equivalence, 6, &a))
                    goto overflow;
                  if (!summary_add (p->tax_totals, &p->n_tax_totals, x, b, a))
                    return pay_field (err, i, (long)j, "taxes", "tax_groups",
                                      "too many taxes",
                                      "demasiados impuestos");
                }
            }
        }
      summary_order (p->tax_totals, p->n_tax_totals);
      if (paid_sum > p->amount)
        return pay_field (err, i, -1, "amount", "payment_amount_short",
                          "the related documents' amounts exceed the "
                          "payment",
                          "los importes pagados exceden el monto del pago");
    }
  return payment_totals (inv, err);
overflow:
  return ferr_set (err, "amount_overflow", "payments", "amounts too large",
                   "importes demasiado grandes");
}

bool
invoice_compute (struct invoice *inv, struct ferr *err)
{
  if (!invoice_sum_begin (inv, err))
    return false;
  for (size_t i = 0; i < inv->n_items; i++)
    if (!invoice_item_compute (&inv->items[i], inv->decimals, i, err)
        || !invoice_sum_add (inv, &inv->items[i], i, err))
      return false;
  if (!invoice_sum_end (inv, err))
    return false;
  if (inv->type == INVOICE_PAGO)
    {
      if (inv->n_items > 0 || inv->subtotal != 0)
        return ferr_set (err, "payment_items", "items",
                         "a payment invoice carries no items",
                         "un comprobante de pago no lleva conceptos");
      return payments_compute (inv, err);
    }
  if (inv->n_items == 0)
    return ferr_set (err, "items_missing", "items",
                     "an invoice needs at least one item",
                     "un comprobante requiere al menos un concepto");
  return true;
}

/* ------------------------------------------------------------------ */
/* Items from JSON                                                     */
/* ------------------------------------------------------------------ */

/* Number of UTF-8 code points in s (jansson guarantees valid UTF-8). */
static size_t
utf8_len (const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      n++;
  return n;
}

bool
invoice_json_text (const json_t *v, const char *field, size_t max_chars,
                   bool required, char **out, struct ferr *err)
{
  if (v == NULL || json_is_null (v))
    {
      if (required)
        return ferr_set (err, "required", field, "%s is required",
                         "%s es obligatorio", field);
      return true;
    }
  if (!json_is_string (v))
    return ferr_set (err, "type", field, "%s must be a string",
                     "%s debe ser texto", field);
  const char *s = json_string_value (v);
  size_t len = json_string_length (v);
  if (strlen (s) != len)
    return ferr_set (err, "text_nul", field, "%s contains a NUL character",
                     "%s contiene un carácter NUL", field);
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char)s[i];
      /* U+FFFE and U+FFFF (EF BF BE/BF) are not XML 1.0 characters */
      bool nonchar = c == 0xEF && i + 2 < len
                     && (unsigned char)s[i + 1] == 0xBF
                     && ((unsigned char)s[i + 2] & 0xFE) == 0xBE;
      if (c < 0x20 || c == 0x7f || c == '|' || nonchar)
        return ferr_set (err, "text_character", field,
                         "%s contains a character SAT does not allow "
                         "(control character, U+FFFE/U+FFFF or '|')",
                         "%s contiene un carácter que el SAT no admite "
                         "(de control, U+FFFE/U+FFFF o '|')",
                         field, field);
    }
  /* SAT collapses white space: a text of spaces only is empty */
  bool blank = true;
  for (size_t i = 0; i < len; i++)
    if (s[i] != ' ')
      blank = false;
  if (blank)
    {
      if (required)
        return ferr_set (err, "required", field, "%s is required",
                         "%s es obligatorio", field);
      return true;
    }
  if (utf8_len (s) > max_chars)
    return ferr_set (
        err, "text_length", field, "%s is longer than %zu characters",
        "%s tiene más de %zu caracteres", field, max_chars, field, max_chars);
  free (*out);
  *out = xstrdup (s);
  return true;
}

static bool
read_tax (const json_t *o, const char *field, struct invoice_tax *t,
          bool *base_given, struct ferr *err)
{
  static const char *const keys[]
      = { "type", "rate", "factor", "withholding", "base", NULL };
  char f[200];
  if (!json_is_object (o))
    return ferr_set (err, "type", field, "%s must be an object",
                     "%s debe ser un objeto", field);
  const char *bad = json_unknown_key (o, keys);
  if (bad != NULL || (base_given == NULL && json_object_get (o, "base")))
    {
      snprintf (f, sizeof f, "%s.%s", field, bad ? bad : "base");
      return ferr_set (err, "unknown_field", f, "unknown field %s",
                       "campo desconocido %s", f);
    }
  memset (t, 0, sizeof *t);
  const json_t *ty = json_object_get (o, "type");
  snprintf (f, sizeof f, "%s.type", field);
  if (!json_is_string (ty))
    return ferr_set (err, "required", f, "%s is required (IVA, ISR, IEPS)",
                     "%s es obligatorio (IVA, ISR, IEPS)", f);
  const char *tys = json_string_value (ty);
  if (strcmp (tys, "IVA") == 0 || strcmp (tys, "002") == 0)
    t->kind = INVOICE_TAX_IVA;
  else if (strcmp (tys, "ISR") == 0 || strcmp (tys, "001") == 0)
    t->kind = INVOICE_TAX_ISR;
  else if (strcmp (tys, "IEPS") == 0 || strcmp (tys, "003") == 0)
    t->kind = INVOICE_TAX_IEPS;
  else
    return ferr_set (err, "tax_type", f, "%s must be IVA, ISR or IEPS",
                     "%s debe ser IVA, ISR o IEPS", f);
  const json_t *fa = json_object_get (o, "factor");
  snprintf (f, sizeof f, "%s.factor", field);
  t->factor = INVOICE_FACTOR_TASA;
  if (fa != NULL)
    {
      const char *s = json_is_string (fa) ? json_string_value (fa) : "";
      if (strcmp (s, "Tasa") == 0)
        t->factor = INVOICE_FACTOR_TASA;
      else if (strcmp (s, "Cuota") == 0)
        t->factor = INVOICE_FACTOR_CUOTA;
      else if (strcmp (s, "Exento") == 0)
        t->factor = INVOICE_FACTOR_EXENTO;
      else
        return ferr_set (err, "tax_factor", f,
                         "%s must be Tasa, Cuota or Exento",
                         "%s debe ser Tasa, Cuota o Exento", f);
    }
  const json_t *w = json_object_get (o, "withholding");
  snprintf (f, sizeof f, "%s.withholding", field);
  if (w != NULL && !json_is_boolean (w))
    return ferr_set (err, "type", f, "%s must be true or false",
                     "%s debe ser true o false", f);
  t->withholding = w != NULL && json_is_true (w);
  const json_t *r = json_object_get (o, "rate");
  snprintf (f, sizeof f, "%s.rate", field);
  if (r == NULL)
    {
      if (t->factor != INVOICE_FACTOR_EXENTO)
        return ferr_set (err, "required", f, "%s is required",
                         "%s es obligatorio", f);
    }
  else if (!json_money (r, &t->rate) || t->rate < 0)
    return ferr_set (err, "amount_format", f,
                     "%s must be a non-negative decimal with at most 6 "
                     "decimals",
                     "%s debe ser un decimal no negativo de hasta 6 "
                     "decimales",
                     f, f);
  if (base_given != NULL)
    {
      const json_t *b = json_object_get (o, "base");
      snprintf (f, sizeof f, "%s.base", field);
      if (b != NULL)
        {
          if (!json_money (b, &t->base) || t->base <= 0)
            return ferr_set (err, "amount_format", f,
                             "%s must be a positive decimal",
                             "%s debe ser un decimal positivo", f);
          *base_given = true;
        }
    }
  return true;
}

bool
invoice_json_taxes (const json_t *arr, const char *field,
                    struct invoice_tax *taxes, size_t *n, bool *base_given,
                    struct ferr *err)
{
  char f[128];
  if (!json_is_array (arr))
    return ferr_set (err, "type", field, "%s must be an array",
                     "%s debe ser una lista", field);
  if (json_array_size (arr) > INVOICE_MAX_ITEM_TAXES)
    return ferr_set (err, "taxes_count", field, "%s has more than %d taxes",
                     "%s tiene más de %d "
                     "impuestos",
                     field, INVOICE_MAX_ITEM_TAXES, field,
                     INVOICE_MAX_ITEM_TAXES);
  bool given_any = false, given_all = true;
  *n = 0;
  for (size_t t = 0; t < json_array_size (arr); t++)
    {
      bool bg = false;
      snprintf (f, sizeof f, "%s[%zu]", field, t);
      if (!read_tax (json_array_get (arr, t), f, &taxes[t],
                     base_given ? &bg : NULL, err))
        return false;
      given_any |= bg;
      given_all &= bg;
      (*n)++;
    }
  if (base_given != NULL)
    {
      if (given_any && !given_all)
        return ferr_set (err, "tax_base_missing", field,
                         "%s: give a base for every tax or for none",
                         "%s: indique la base de todos los impuestos o de "
                         "ninguno",
                         field, field);
      *base_given = given_any;
    }
  return true;
}

static bool
read_item (const json_t *o, size_t i, struct invoice_item *it,
           struct ferr *err)
{
  static const char *const item_keys[]
      = { "quantity", "discount", "product", NULL };
  static const char *const prod_keys[]
      = { "description", "product_key",  "unit_key", "unit_name",
          "price",       "tax_included", "sku",      "taxes",
          "tax_object",  "taxability",   NULL };
  char f[128];
  snprintf (f, sizeof f, "items[%zu]", i);
  if (!json_is_object (o))
    return ferr_set (err, "type", f, "%s must be an object",
                     "%s debe ser un objeto", f);
  const char *bad = json_unknown_key (o, item_keys);
  if (bad)
    {
      snprintf (f, sizeof f, "items[%zu].%s", i, bad);
      return ferr_set (err, "unknown_field", f, "unknown field %s",
                       "campo desconocido %s", f);
    }
  const json_t *q = json_object_get (o, "quantity");
  snprintf (f, sizeof f, "items[%zu].quantity", i);
  it->quantity = MONEY_SCALE;
  if (q != NULL && (!json_money (q, &it->quantity) || it->quantity <= 0))
    return ferr_set (err, "quantity_format", f,
                     "%s must be a positive decimal with at most 6 "
                     "decimals",
                     "%s debe ser un decimal positivo de hasta 6 decimales", f,
                     f);
  const json_t *dsc = json_object_get (o, "discount");
  snprintf (f, sizeof f, "items[%zu].discount", i);
  if (dsc != NULL && (!json_money (dsc, &it->discount) || it->discount < 0))
    return ferr_set (err, "amount_format", f,
                     "%s must be a non-negative decimal with at most 6 "
                     "decimals",
                     "%s debe ser un decimal no negativo de hasta 6 "
                     "decimales",
                     f, f);
  const json_t *p = json_object_get (o, "product");
  snprintf (f, sizeof f, "items[%zu].product", i);
  if (!json_is_object (p))
    return ferr_set (err, "required", f, "%s is required (an object)",
                     "%s es obligatorio (un objeto)", f);
  bad = json_unknown_key (p, prod_keys);
  if (bad)
    {
      snprintf (f, sizeof f, "items[%zu].product.%s", i, bad);
      return ferr_set (err, "unknown_field", f, "unknown field %s",
                       "campo desconocido %s", f);
    }
#define PF(name) (snprintf (f, sizeof f, "items[%zu].product." name, i), f)
  if (!invoice_json_text (json_object_get (p, "description"),
                          PF ("description"), 1000, true, &it->description,
                          err))
    return false;
  if (!invoice_json_text (json_object_get (p, "product_key"),
                          PF ("product_key"), 8, true, &it->product_key, err))
    return false;
  if (!catalog_product_key_format (it->product_key))
    return ferr_set (err, "product_key", PF ("product_key"),
                     "%s must be 8 digits (c_ClaveProdServ)",
                     "%s debe tener 8 dígitos (c_ClaveProdServ)", f);
  const json_t *uk = json_object_get (p, "unit_key");
  if (uk == NULL)
    it->unit_key = xstrdup ("H87");
  else if (!invoice_json_text (uk, PF ("unit_key"), 3, true, &it->unit_key,
                               err))
    return false;
  if (catalog_unit (it->unit_key) == NULL)
    return ferr_set (err, "unit_key", PF ("unit_key"),
                     "%s is not in SAT's c_ClaveUnidad",
                     "%s no está en el catálogo c_ClaveUnidad", f);
  if (!invoice_json_text (json_object_get (p, "unit_name"), PF ("unit_name"),
                          20, false, &it->unit_name, err))
    return false;
  if (!invoice_json_text (json_object_get (p, "sku"), PF ("sku"), 100, false,
                          &it->sku, err))
    return false;
  const json_t *pr = json_object_get (p, "price");
  if (pr == NULL)
    return ferr_set (err, "required", PF ("price"), "%s is required",
                     "%s es obligatorio", f);
  if (!json_money (pr, &it->price) || it->price < 0)
    return ferr_set (err, "amount_format", PF ("price"),
                     "%s must be a non-negative decimal with at most 6 "
                     "decimals",
                     "%s debe ser un decimal no negativo de hasta 6 "
                     "decimales",
                     f, f);
  const json_t *ti = json_object_get (p, "tax_included");
  if (ti != NULL && !json_is_boolean (ti))
    return ferr_set (err, "type", PF ("tax_included"),
                     "%s must be true or false", "%s debe ser true o false", f,
                     f);
  it->tax_included = ti == NULL || json_is_true (ti);
  const json_t *to = json_object_get (p, "taxability");
  const char *to_name = "taxability";
  if (to == NULL)
    {
      to = json_object_get (p, "tax_object");
      to_name = "tax_object";
    }
  else if (json_object_get (p, "tax_object") != NULL)
    return ferr_set (err, "tax_object", PF ("tax_object"),
                     "%s: give taxability or tax_object, not both",
                     "%s: indique taxability o tax_object, no ambos", f);
  if (to != NULL)
    {
      snprintf (f, sizeof f, "items[%zu].product.%s", i, to_name);
      if (!json_is_string (to) || !valid_tax_object (json_string_value (to)))
        return ferr_set (err, "tax_object", f,
                         "%s must be \"01\", \"02\", \"03\" or \"04\"",
                         "%s debe ser \"01\", \"02\", \"03\" o \"04\"", f, f);
      strcpy (it->tax_object, json_string_value (to));
    }
  const json_t *tx = json_object_get (p, "taxes");
  if (tx == NULL)
    {
      it->n_taxes = 1;
      it->taxes[0].kind = INVOICE_TAX_IVA;
      it->taxes[0].factor = INVOICE_FACTOR_TASA;
      it->taxes[0].rate = 160000;
      it->taxes[0].withholding = false;
      if (it->tax_object[0] && strcmp (it->tax_object, "02") != 0)
        it->n_taxes = 0;
    }
  else if (!invoice_json_taxes (tx, PF ("taxes"), it->taxes, &it->n_taxes,
                                NULL, err))
    return false;
#undef PF
  return true;
}

bool
invoice_items_from_json (const json_t *items, struct invoice *inv,
                         struct ferr *err)
{
  if (!json_is_array (items))
    return ferr_set (err, "type", "items", "items must be an array",
                     "items debe ser una lista");
  size_t n = json_array_size (items);
  if (n == 0)
    return ferr_set (err, "items_missing", "items",
                     "at least one item is required",
                     "se requiere al menos un concepto");
  if (n + inv->n_items > INVOICE_MAX_ITEMS)
    return ferr_set (err, "items_count", "items", "more than %d items",
                     "más de %d conceptos", INVOICE_MAX_ITEMS,
                     INVOICE_MAX_ITEMS);
  for (size_t i = 0; i < n; i++)
    {
      struct invoice_item *it = invoice_add_item (inv);
      if (it == NULL)
        return ferr_set (err, "items_count", "items", "too many items",
                         "demasiados conceptos");
      if (!read_item (json_array_get (items, i), i, it, err))
        return false;
    }
  return true;
}
