/*
 * test_invoice.c — cmocka tests of core/invoice.c: SAT's arithmetic for
 * conceptos, taxes, the Impuestos summary, totals and Pagos 2.0, plus the
 * items JSON reader.  Figures marked "sample" are SAT-valid documents in
 * shared/sat/samples whose model is rebuilt here and whose totals must
 * come out identical.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/invoice.h"
#include "util/buf.h"
#include "util/json.h"

#define M(x) ((int64_t)((x)*1000000.0 + ((x) >= 0 ? 0.5 : -0.5)))

static int64_t
mp (const char *s)
{
  int64_t v = 0;
  assert_true (money_parse (s, &v));
  return v;
}

static struct invoice_item *
item (struct invoice *inv, const char *q, const char *price, bool included)
{
  struct invoice_item *it = invoice_add_item (inv);
  assert_non_null (it);
  it->quantity = mp (q);
  it->price = mp (price);
  it->tax_included = included;
  it->product_key = xstrdup ("01010101");
  it->unit_key = xstrdup ("H87");
  it->description = xstrdup ("x");
  return it;
}

static void
tax (struct invoice_item *it, enum invoice_tax_kind k, enum invoice_factor f,
     const char *rate, bool withholding)
{
  struct invoice_tax *t = &it->taxes[it->n_taxes++];
  memset (t, 0, sizeof *t);
  t->kind = k;
  t->factor = f;
  t->rate = rate ? mp (rate) : 0;
  t->withholding = withholding;
}

static void
iva16 (struct invoice_item *it)
{
  tax (it, INVOICE_TAX_IVA, INVOICE_FACTOR_TASA, "0.16", false);
}

static void
compute_ok (struct invoice *inv)
{
  struct ferr e = { 0 };
  if (!invoice_compute (inv, &e))
    fail_msg ("compute failed: %s %s %s", e.code, e.field, e.message);
}

static const char *
compute_err (struct invoice *inv)
{
  static struct ferr e;
  memset (&e, 0, sizeof e);
  assert_false (invoice_compute (inv, &e));
  return e.code;
}

/* SAT: Anexo 20 Conceptos/Importe, Impuestos/Traslado Base × TasaOCuota */
static void
test_simple (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  iva16 (item (&inv, "2", "100.00", false));
  compute_ok (&inv);
  assert_int_equal (inv.decimals, 2);
  assert_int_equal (inv.subtotal, M (200));
  assert_int_equal (inv.total_transferred, M (32));
  assert_int_equal (inv.total, M (232));
  assert_int_equal (inv.n_tax_totals, 1);
  assert_int_equal (inv.tax_totals[0].base, M (200));
  assert_string_equal (inv.items[0].tax_object, "02");
  invoice_free (&inv);
  invoice_free (NULL);
}

/* SAT: sample ingreso-real-production.xml (prices with IVA included:
 * 10.00 and 990.00 charged, SubTotal 862.07, IVA 137.93, Total 1000.00) */
static void
test_sample_real_production (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  iva16 (item (&inv, "1", "10.00", true));
  iva16 (item (&inv, "1", "990.00", true));
  compute_ok (&inv);
  assert_int_equal (inv.tax_totals[0].base, mp ("862.07"));
  assert_int_equal (inv.total_transferred, mp ("137.93"));
  assert_int_equal (inv.total, mp ("1000.00"));
  assert_int_equal (inv.items[0].amount + inv.items[0].taxes[0].amount,
                    mp ("10.00"));
  invoice_free (&inv);
}

/* SAT: sample ingreso-test-stamped-finkok.xml (ISR 10 % and IVA 2/3
 * withholdings: SubTotal 1250.30, traslados 200.05, retenidos 258.40,
 * Total 1191.95) */
static void
test_sample_finkok_withholdings (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  struct invoice_item *it = item (&inv, "1.00", "1250.30", false);
  iva16 (it);
  tax (it, INVOICE_TAX_ISR, INVOICE_FACTOR_TASA, "0.10", true);
  tax (it, INVOICE_TAX_IVA, INVOICE_FACTOR_TASA, "0.106667", true);
  compute_ok (&inv);
  assert_int_equal (inv.subtotal, mp ("1250.30"));
  assert_int_equal (inv.total_transferred, mp ("200.05"));
  assert_int_equal (inv.total_withheld, mp ("258.40"));
  assert_int_equal (inv.total, mp ("1191.95"));
  /* summary: transfers first, then withholdings grouped by Impuesto */
  assert_int_equal (inv.n_tax_totals, 3);
  assert_false (inv.tax_totals[0].withholding);
  assert_true (inv.tax_totals[1].withholding);
  assert_int_equal (inv.tax_totals[1].amount, mp ("125.03"));
  assert_int_equal (inv.tax_totals[2].amount, mp ("133.37"));
  invoice_free (&inv);
}

/* SAT: sample ingreso-usd-discounts-sealed.xml (USD, TipoCambio 18.9008,
 * discounts: SubTotal 3300.00, Descuento 500.00, IVA 448.00, Total
 * 3248.00) */
static void
test_sample_usd_discounts (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  strcpy (inv.currency, "USD");
  inv.exchange = mp ("18.9008");
  inv.has_exchange = true;
  struct invoice_item *it = item (&inv, "4", "500", false);
  it->discount = mp ("500");
  iva16 (it);
  iva16 (item (&inv, "1", "1000", false));
  iva16 (item (&inv, "1", "300", false));
  compute_ok (&inv);
  assert_int_equal (inv.subtotal, mp ("3300.00"));
  assert_int_equal (inv.discount, mp ("500.00"));
  assert_true (inv.has_discount);
  assert_int_equal (inv.total_transferred, mp ("448.00"));
  assert_int_equal (inv.tax_totals[0].base, mp ("2800.00"));
  assert_int_equal (inv.total, mp ("3248.00"));
  assert_int_equal (inv.items[0].taxes[0].base, mp ("1500"));
  invoice_free (&inv);
}

/* SAT: samples egreso-constructed.xml and global-constructed.xml */
static void
test_sample_egreso_global (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  inv.type = INVOICE_EGRESO;
  iva16 (item (&inv, "1", "100.00", false));
  compute_ok (&inv);
  assert_int_equal (inv.total, mp ("116.00"));
  invoice_free (&inv);

  invoice_init (&inv);
  iva16 (item (&inv, "1", "150.00", false));
  iva16 (item (&inv, "1", "200.00", false));
  compute_ok (&inv);
  assert_int_equal (inv.subtotal, mp ("350.00"));
  assert_int_equal (inv.total_transferred, mp ("56.00"));
  assert_int_equal (inv.total, mp ("406.00"));
  invoice_free (&inv);
}

/* SAT: Anexo 20 redondeo: half away from zero, once, from the exact
 * product; 6-decimal unit prices */
static void
test_rounding_edges (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  iva16 (item (&inv, "3", "0.333333", false)); /* 0.999999 -> 1.00 */
  iva16 (item (&inv, "1", "0.03125", false));  /* IVA 0.005 -> 0.01 */
  iva16 (item (&inv, "0.5", "0.01", false));   /* 0.005 -> 0.01 */
  /* 1.004999 × 1 = 1.004999: one rounding gives 1.00 (a double rounding
   * through 6 decimals would not matter here, but through 3 would) */
  struct invoice_item *it = item (&inv, "1", "1.004999", false);
  tax (it, INVOICE_TAX_IVA, INVOICE_FACTOR_TASA, "0", false);
  compute_ok (&inv);
  assert_int_equal (inv.items[0].amount, mp ("1.00"));
  assert_int_equal (inv.items[0].unit_price, mp ("0.333333"));
  assert_int_equal (inv.items[1].amount, mp ("0.03"));
  assert_int_equal (inv.items[1].taxes[0].amount, mp ("0.00"));
  assert_int_equal (inv.items[2].amount, mp ("0.01"));
  assert_int_equal (inv.items[3].amount, mp ("1.00"));
  invoice_free (&inv);

  /* 0.03125 × 0.16 = 0.005 exactly: rounds up to 0.01 */
  invoice_init (&inv);
  iva16 (item (&inv, "1", "0.03125", false));
  inv.items[0].quantity = mp ("1");
  compute_ok (&inv);
  invoice_free (&inv);

  invoice_init (&inv);
  struct invoice_item *a = item (&inv, "1", "3.125", false);
  iva16 (a); /* Importe 3.13 (3.125 half up), IVA 3.13*0.16=0.5008 -> 0.50 */
  compute_ok (&inv);
  assert_int_equal (a->amount, mp ("3.13"));
  assert_int_equal (a->taxes[0].amount, mp ("0.50"));
  invoice_free (&inv);
}

/* SAT: Anexo 20 límites: very large quantities, tiny prices */
static void
test_large_quantities (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  iva16 (item (&inv, "999999.123456", "0.000001", false));
  iva16 (item (&inv, "1000000", "799999.99", false));
  compute_ok (&inv);
  assert_int_equal (inv.items[0].amount, mp ("1.00"));
  assert_int_equal (inv.items[1].amount, mp ("799999990000.00"));
  invoice_free (&inv);

  /* overflow is refused, never wrapped */
  invoice_init (&inv);
  iva16 (item (&inv, "999999999999", "999999999999", false));
  assert_string_equal (compute_err (&inv), "amount_overflow");
  invoice_free (&inv);
  invoice_init (&inv);
  iva16 (item (&inv, "999999999999", "1", false));
  iva16 (item (&inv, "999999999999", "1", false));
  assert_string_equal (compute_err (&inv), "amount_overflow");
  invoice_free (&inv);
}

/* SAT: Impuestos summary grouped by Impuesto+TipoFactor+TasaOCuota;
 * Exento has Base and no Importe, and no TotalImpuestosTrasladados when
 * only exempt transfers exist */
static void
test_mixed_rates (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  iva16 (item (&inv, "1", "100", false));
  tax (item (&inv, "1", "100", false), INVOICE_TAX_IVA, INVOICE_FACTOR_TASA,
       "0.08", false);
  tax (item (&inv, "1", "100", false), INVOICE_TAX_IVA, INVOICE_FACTOR_TASA,
       "0", false);
  tax (item (&inv, "1", "100", false), INVOICE_TAX_IVA, INVOICE_FACTOR_EXENTO,
       NULL, false);
  iva16 (item (&inv, "1", "50", false));
  compute_ok (&inv);
  assert_int_equal (inv.n_tax_totals, 4);
  assert_int_equal (inv.tax_totals[0].base, M (150));
  assert_int_equal (inv.tax_totals[0].amount, M (24));
  assert_int_equal (inv.tax_totals[1].amount, M (8));
  assert_int_equal (inv.tax_totals[2].amount, 0);
  assert_int_equal (inv.tax_totals[3].factor, INVOICE_FACTOR_EXENTO);
  assert_int_equal (inv.tax_totals[3].base, M (100));
  assert_int_equal (inv.total_transferred, M (32));
  assert_int_equal (inv.total, M (482));
  assert_true (inv.has_transferred_amount);
  invoice_free (&inv);

  invoice_init (&inv);
  tax (item (&inv, "2", "10", false), INVOICE_TAX_IVA, INVOICE_FACTOR_EXENTO,
       NULL, false);
  compute_ok (&inv);
  assert_true (inv.has_transferred);
  assert_false (inv.has_transferred_amount);
  assert_int_equal (inv.total, M (20));
  invoice_free (&inv);
}

/* SAT: IEPS Tasa (IVA base includes IEPS, LIVA art. 12) and IEPS Cuota
 * (Base = units, Importe = units × cuota) */
static void
test_ieps (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  struct invoice_item *it = item (&inv, "1", "100", false);
  tax (it, INVOICE_TAX_IEPS, INVOICE_FACTOR_TASA, "0.265", false);
  iva16 (it);
  compute_ok (&inv);
  assert_int_equal (it->taxes[0].amount, mp ("26.50"));
  assert_int_equal (it->taxes[1].base, mp ("126.50"));
  assert_int_equal (it->taxes[1].amount, mp ("20.24"));
  assert_int_equal (inv.total, mp ("146.74"));
  invoice_free (&inv);

  invoice_init (&inv);
  it = item (&inv, "10", "20", false);
  tax (it, INVOICE_TAX_IEPS, INVOICE_FACTOR_CUOTA, "6.4555", false);
  iva16 (it);
  compute_ok (&inv);
  assert_int_equal (it->taxes[0].base, mp ("10"));
  assert_int_equal (it->taxes[0].amount, mp ("64.56"));
  assert_int_equal (it->taxes[1].base, mp ("264.56"));
  assert_int_equal (it->taxes[1].amount, mp ("42.33"));
  assert_int_equal (inv.total, mp ("306.89"));
  invoice_free (&inv);

  /* a cuota above the catalog's range is refused */
  invoice_init (&inv);
  tax (item (&inv, "1", "1", false), INVOICE_TAX_IEPS, INVOICE_FACTOR_CUOTA,
       "100", false);
  assert_string_equal (compute_err (&inv), "tax_rate");
  invoice_free (&inv);
}

/* SAT: ObjetoImp 01/02/03/04 consistency with the taxes */
static void
test_tax_object (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  struct invoice_item *it = item (&inv, "1", "10", false);
  strcpy (it->tax_object, "03");
  it = item (&inv, "1", "10", false);
  strcpy (it->tax_object, "04");
  it = item (&inv, "1", "10", false);
  compute_ok (&inv);
  assert_string_equal (inv.items[2].tax_object, "01");
  assert_int_equal (inv.n_tax_totals, 0);
  assert_int_equal (inv.total, M (30));
  invoice_free (&inv);

  invoice_init (&inv);
  it = item (&inv, "1", "10", false);
  strcpy (it->tax_object, "01");
  iva16 (it);
  assert_string_equal (compute_err (&inv), "tax_object_taxes");
  invoice_free (&inv);

  invoice_init (&inv);
  it = item (&inv, "1", "10", false);
  strcpy (it->tax_object, "02");
  assert_string_equal (compute_err (&inv), "tax_object_taxes");
  invoice_free (&inv);

  invoice_init (&inv);
  it = item (&inv, "1", "10", false);
  strcpy (it->tax_object, "05");
  assert_string_equal (compute_err (&inv), "tax_object");
  invoice_free (&inv);
}

/* SAT: c_TasaOCuota: rates outside the catalog refused */
static void
test_bad_rates_and_discounts (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  tax (item (&inv, "1", "10", false), INVOICE_TAX_IVA, INVOICE_FACTOR_TASA,
       "0.15", false);
  assert_string_equal (compute_err (&inv), "tax_rate");
  invoice_free (&inv);

  invoice_init (&inv);
  tax (item (&inv, "1", "10", false), INVOICE_TAX_ISR, INVOICE_FACTOR_TASA,
       "0.10", false); /* ISR is never transferred */
  assert_string_equal (compute_err (&inv), "tax_rate");
  invoice_free (&inv);

  invoice_init (&inv);
  struct invoice_item *it = item (&inv, "1", "10", false);
  it->discount = mp ("10.01");
  assert_string_equal (compute_err (&inv), "discount_too_large");
  invoice_free (&inv);

  invoice_init (&inv);
  it = item (&inv, "0", "10", false);
  assert_string_equal (compute_err (&inv), "quantity_range");
  invoice_free (&inv);

  invoice_init (&inv);
  strcpy (inv.currency, "ZZZ");
  item (&inv, "1", "10", false);
  assert_string_equal (compute_err (&inv), "currency_unknown");
  invoice_free (&inv);
}

/* SAT: Anexo 20 límites of Traslado Importe — tax_included: the charged
 * amount is kept for prices from 0.01 to 200.00 (step 0.07) and quantities
 * 1, 4 and 7, with IVA 16 % and 8 % */
static void
test_tax_included_exhaustive (void **state)
{
  static const char *rates[] = { "0.16", "0.08" };
  long missed = 0, checked = 0;
  for (int r = 0; r < 2; r++)
    for (int cents = 1; cents <= 20000; cents += 7)
      for (int q = 1; q <= 7; q += 3)
        {
          struct invoice inv;
          invoice_init (&inv);
          char p[32], qs[8];
          snprintf (p, sizeof p, "%d.%02d", cents / 100, cents % 100);
          snprintf (qs, sizeof qs, "%d", q);
          struct invoice_item *it = item (&inv, qs, p, true);
          tax (it, INVOICE_TAX_IVA, INVOICE_FACTOR_TASA, rates[r], false);
          compute_ok (&inv);
          int64_t charged = (int64_t)cents * 10000 * q;
          int64_t diff = inv.total - charged;
          if (diff != 0)
            missed++;
          /* never more than one cent away */
          assert_true (diff >= -10000 && diff <= 10000);
          /* the net unit price is the Importe over the quantity */
          assert_int_equal (inv.subtotal, inv.items[0].amount);
          checked++;
          invoice_free (&inv);
        }
  /* SAT's limits on a Traslado Importe (either neighbour of Base × Tasa)
   * always leave room for the exact charge */
  assert_true (checked > 5000);
  assert_int_equal (missed, 0);
}

/* SAT: Anexo 20 Descuento and IEPS/IVA base — tax_included with a
 * discount and with IEPS + IVA */
static void
test_tax_included_discount_ieps (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  struct invoice_item *it = item (&inv, "2", "58.00", true);
  it->discount = mp ("11.60");
  iva16 (it);
  compute_ok (&inv);
  /* charged 2×58 - 11.60 = 104.40 */
  assert_int_equal (it->amount, mp ("100.00"));
  assert_int_equal (it->discount_net, mp ("10.00"));
  assert_int_equal (it->unit_price, mp ("50"));
  assert_int_equal (inv.total, mp ("104.40"));
  invoice_free (&inv);

  invoice_init (&inv);
  it = item (&inv, "1", "146.74", true);
  tax (it, INVOICE_TAX_IEPS, INVOICE_FACTOR_TASA, "0.265", false);
  iva16 (it);
  compute_ok (&inv);
  assert_int_equal (it->amount, mp ("100.00"));
  assert_int_equal (inv.total, mp ("146.74"));
  invoice_free (&inv);
}

/* SAT: sample pago20-sealed.xml (Pagos 2.0: one payment of 15000.00 for
 * two invoices, one partial; BaseDR/ImporteDR derived from ImpPagado;
 * Totales TotalTrasladosBaseIVA16 12931.04, ImpuestoIVA16 2068.96) */
static void
test_sample_pago20 (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  inv.type = INVOICE_PAGO;
  strcpy (inv.currency, "XXX");
  inv.n_payments = 1;
  inv.payments = xcalloc (1, sizeof *inv.payments);
  struct invoice_payment *p = &inv.payments[0];
  strcpy (p->currency, "MXN");
  strcpy (p->form, "03");
  p->amount = mp ("15000.00");
  p->n_docs = 2;
  p->docs = xcalloc (2, sizeof *p->docs);
  const char *prev[] = { "12000.00", "10000.00" };
  const char *paid[] = { "12000.00", "3000.00" };
  for (int j = 0; j < 2; j++)
    {
      struct invoice_payment_doc *d = &p->docs[j];
      strcpy (d->currency, "MXN");
      d->installment = 2 - j;
      d->last_balance = mp (prev[j]);
      d->amount = mp (paid[j]);
      d->n_taxes = 1;
      d->taxes[0].kind = INVOICE_TAX_IVA;
      d->taxes[0].rate = 160000;
    }
  compute_ok (&inv);
  assert_int_equal (inv.total, 0);
  assert_int_equal (p->docs[0].taxes[0].base, mp ("10344.83"));
  assert_int_equal (p->docs[0].taxes[0].amount, mp ("1655.17"));
  assert_int_equal (p->docs[1].taxes[0].base, mp ("2586.21"));
  assert_int_equal (p->docs[1].taxes[0].amount, mp ("413.79"));
  assert_int_equal (p->docs[0].balance, 0);
  assert_int_equal (p->docs[1].balance, mp ("7000.00"));
  assert_int_equal (p->tax_totals[0].base, mp ("12931.04"));
  assert_int_equal (p->tax_totals[0].amount, mp ("2068.96"));
  assert_int_equal (inv.pay_totals.total, mp ("15000.00"));
  assert_int_equal (inv.pay_totals.base_iva16, mp ("12931.04"));
  assert_int_equal (inv.pay_totals.tax_iva16, mp ("2068.96"));
  assert_true (inv.pay_totals.has_iva16);

  /* paying more than the balance is refused */
  p->docs[1].amount = mp ("10000.01");
  assert_string_equal (compute_err (&inv), "amount_over_balance");
  /* documents exceeding the payment are refused */
  p->docs[1].amount = mp ("3000.01");
  assert_string_equal (compute_err (&inv), "payment_amount_short");
  invoice_free (&inv);
}

/* SAT: Guía de llenado Pagos 2.0, EquivalenciaDR — USD paying MXN
 * invoices: TipoCambioP and Totales in MXN */
static void
test_pago_usd (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  inv.type = INVOICE_PAGO;
  inv.n_payments = 1;
  inv.payments = xcalloc (1, sizeof *inv.payments);
  struct invoice_payment *p = &inv.payments[0];
  strcpy (p->currency, "USD");
  p->exchange = mp ("20.00");
  p->amount = mp ("58.00");
  p->n_docs = 1;
  p->docs = xcalloc (1, sizeof *p->docs);
  struct invoice_payment_doc *d = &p->docs[0];
  strcpy (d->currency, "MXN");
  d->equivalence = mp ("20");
  d->has_equivalence = true;
  d->installment = 1;
  d->last_balance = mp ("1160.00");
  d->amount = mp ("1160.00");
  d->n_taxes = 1;
  d->taxes[0].kind = INVOICE_TAX_IVA;
  d->taxes[0].rate = 160000;
  compute_ok (&inv);
  assert_int_equal (d->taxes[0].base, mp ("1000.00"));
  assert_int_equal (p->tax_totals[0].base, mp ("50"));
  assert_int_equal (p->tax_totals[0].amount, mp ("8"));
  assert_int_equal (inv.pay_totals.total, mp ("1160.00"));
  assert_int_equal (inv.pay_totals.base_iva16, mp ("1000.00"));
  assert_int_equal (inv.pay_totals.tax_iva16, mp ("160.00"));
  /* a different currency without EquivalenciaDR is refused */
  d->has_equivalence = false;
  assert_string_equal (compute_err (&inv), "equivalence_missing");
  invoice_free (&inv);
}

/* SAT: Anexo 20 t_Descripcion ([^|]), c_ClaveUnidad, c_ClaveProdServ
 * shape — the shared items reader: defaults, exact amounts, errors naming
 * fields */
static void
test_items_json (void **state)
{
  const char *ok
      = "[{\"quantity\": 2.5, \"discount\": \"1.00\","
        " \"product\": {\"description\": \"Café  &  pan <b>\","
        " \"product_key\": \"50181900\", \"price\": 11.6,"
        " \"sku\": \"A-1\", \"unit_name\": \"Pieza\"}},"
        " {\"product\": {\"description\": \"Servicio\","
        " \"product_key\": \"84111506\", \"unit_key\": \"E48\","
        " \"price\": 1000, \"tax_included\": false, \"taxes\": ["
        "  {\"type\": \"IVA\", \"rate\": 0.16},"
        "  {\"type\": \"ISR\", \"rate\": \"0.10\", \"withholding\": "
        "true},"
        "  {\"type\": \"IVA\", \"rate\": 0.106667, \"withholding\": "
        "true}]}},"
        " {\"product\": {\"description\": \"Libro\","
        " \"product_key\": \"55101500\", \"price\": \"100\","
        " \"taxes\": [{\"type\": \"IVA\", \"factor\": "
        "\"Exento\"}]}}]";
  json_error_t je;
  json_t *j = json_load_exact (ok, strlen (ok), 8, &je);
  assert_non_null (j);
  struct invoice inv;
  invoice_init (&inv);
  struct ferr e = { 0 };
  assert_true (invoice_items_from_json (j, &inv, &e));
  assert_int_equal (inv.n_items, 3);
  assert_int_equal (inv.items[0].quantity, mp ("2.5"));
  assert_int_equal (inv.items[0].price, mp ("11.6"));
  assert_true (inv.items[0].tax_included);
  assert_int_equal (inv.items[0].n_taxes, 1); /* default IVA 16 % */
  assert_string_equal (inv.items[0].unit_key, "H87");
  assert_string_equal (inv.items[0].description, "Café  &  pan <b>");
  assert_int_equal (inv.items[1].n_taxes, 3);
  assert_true (inv.items[1].taxes[1].withholding);
  assert_int_equal (inv.items[1].taxes[2].rate, 106667);
  assert_int_equal (inv.items[2].taxes[0].factor, INVOICE_FACTOR_EXENTO);
  compute_ok (&inv);
  /* 2.5 × 11.60 = 29.00 - 1.00 = 28.00 charged */
  assert_int_equal (inv.items[0].amount - inv.items[0].discount_net
                        + inv.items[0].taxes[0].amount,
                    mp ("28.00"));
  invoice_free (&inv);
  json_decref (j);

  static const struct
  {
    const char *json, *field, *code;
  } bad[] = {
    { "[{\"product\": {\"description\": \"a\", \"product_key\": "
      "\"01010101\", \"price\": \"1.0000001\"}}]",
      "items[0].product.price", "amount_format" },
    { "[{\"product\": {\"description\": \"a\", \"product_key\": "
      "\"01010101\", \"price\": 1}}, {\"product\": {\"description\": \"a\","
      " \"product_key\": \"0101010\", \"price\": 1}}]",
      "items[1].product.product_key", "product_key" },
    { "[{\"product\": {\"description\": \"a\", \"product_key\": "
      "\"01010101\", \"price\": 1, \"colour\": 1}}]",
      "items[0].product.colour", "unknown_field" },
    { "[{\"qty\": 1}]", "items[0].qty", "unknown_field" },
    { "[{\"product\": {\"description\": \"a|b\", \"product_key\": "
      "\"01010101\", \"price\": 1}}]",
      "items[0].product.description", "text_character" },
    { "[{\"product\": {\"description\": \"a\\uFFFEb\", \"product_key\": "
      "\"01010101\", \"price\": 1}}]",
      "items[0].product.description", "text_character" },
    { "[{\"product\": {\"description\": \"tab\\there\", \"product_key\": "
      "\"01010101\", \"price\": 1}}]",
      "items[0].product.description", "text_character" },
    { "[{\"product\": {\"description\": \"   \", \"product_key\": "
      "\"01010101\", \"price\": 1}}]",
      "items[0].product.description", "required" },
    { "[{\"product\": {\"description\": \"a\", \"product_key\": "
      "\"01010101\", \"price\": 1, \"unit_key\": \"ZZZ\"}}]",
      "items[0].product.unit_key", "unit_key" },
    { "[{\"product\": {\"description\": \"a\", \"product_key\": "
      "\"01010101\", \"price\": 1, \"taxes\": [{\"type\": \"VAT\", "
      "\"rate\": 0.16}]}}]",
      "items[0].product.taxes[0].type", "tax_type" },
    { "[{\"product\": {\"description\": \"a\", \"product_key\": "
      "\"01010101\", \"price\": 1, \"taxes\": [{\"type\": \"IVA\"}]}}]",
      "items[0].product.taxes[0].rate", "required" },
    { "[{\"quantity\": -1, \"product\": {\"description\": \"a\", "
      "\"product_key\": \"01010101\", \"price\": 1}}]",
      "items[0].quantity", "quantity_format" },
    { "[{\"quantity\": 1e3, \"product\": {\"description\": \"a\", "
      "\"product_key\": \"01010101\", \"price\": 1}}]",
      "items[0].quantity", "quantity_format" },
    { "[]", "items", "items_missing" },
    { "{}", "items", "type" },
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
    {
      j = json_load_exact (bad[k].json, strlen (bad[k].json), 8, &je);
      assert_non_null (j);
      invoice_init (&inv);
      memset (&e, 0, sizeof e);
      assert_false (invoice_items_from_json (j, &inv, &e));
      if (strcmp (e.field, bad[k].field) != 0
          || strcmp (e.code, bad[k].code) != 0)
        fail_msg ("case %zu: got %s %s, want %s %s", k, e.field, e.code,
                  bad[k].field, bad[k].code);
      assert_true (e.message[0] && e.message_es[0]);
      invoice_free (&inv);
      json_decref (j);
    }
}

/* invoice_compute may run again on the same model (the ticket API
 * computes a ticket, the issuer recomputes the invoice made of it): the
 * result is the same */
static void
test_compute_idempotent (void **state)
{
  struct invoice inv;
  invoice_init (&inv);
  struct invoice_item *it = item (&inv, "3", "33.33", true);
  it->discount = mp ("5.55");
  tax (it, INVOICE_TAX_IEPS, INVOICE_FACTOR_TASA, "0.265", false);
  iva16 (it);
  tax (item (&inv, "1", "10", false), INVOICE_TAX_IVA, INVOICE_FACTOR_EXENTO,
       NULL, false);
  compute_ok (&inv);
  int64_t total = inv.total, sub = inv.subtotal, tr = inv.total_transferred;
  int64_t up = inv.items[0].unit_price, a1 = inv.items[0].taxes[1].amount;
  compute_ok (&inv);
  assert_int_equal (inv.total, total);
  assert_int_equal (inv.subtotal, sub);
  assert_int_equal (inv.total_transferred, tr);
  assert_int_equal (inv.items[0].unit_price, up);
  assert_int_equal (inv.items[0].taxes[1].amount, a1);
  assert_int_equal (inv.n_tax_totals, 3);
  /* charged 3 x 33.33 - 5.55 = 94.44 */
  assert_int_equal (inv.total - mp ("10"), mp ("94.44"));
  invoice_free (&inv);
}

/* Bounded input: the item count */
static void
test_items_json_bound (void **state)
{
  struct buf b = BUF_INIT;
  buf_puts (&b, "[");
  for (int i = 0; i <= INVOICE_MAX_ITEMS; i++)
    buf_printf (&b,
                "%s{\"product\":{\"description\":\"a\","
                "\"product_key\":\"01010101\",\"price\":1}}",
                i ? "," : "");
  buf_puts (&b, "]");
  json_error_t je;
  json_t *j = json_load_exact (b.data, b.len, 8, &je);
  assert_non_null (j);
  struct invoice inv;
  invoice_init (&inv);
  struct ferr e = { 0 };
  assert_false (invoice_items_from_json (j, &inv, &e));
  assert_string_equal (e.code, "items_count");
  assert_int_equal (inv.n_items, 0);
  invoice_free (&inv);
  json_decref (j);
  buf_free (&b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_simple),
    cmocka_unit_test (test_sample_real_production),
    cmocka_unit_test (test_sample_finkok_withholdings),
    cmocka_unit_test (test_sample_usd_discounts),
    cmocka_unit_test (test_sample_egreso_global),
    cmocka_unit_test (test_rounding_edges),
    cmocka_unit_test (test_large_quantities),
    cmocka_unit_test (test_mixed_rates),
    cmocka_unit_test (test_ieps),
    cmocka_unit_test (test_tax_object),
    cmocka_unit_test (test_bad_rates_and_discounts),
    cmocka_unit_test (test_tax_included_exhaustive),
    cmocka_unit_test (test_tax_included_discount_ieps),
    cmocka_unit_test (test_sample_pago20),
    cmocka_unit_test (test_pago_usd),
    cmocka_unit_test (test_items_json),
    cmocka_unit_test (test_compute_idempotent),
    cmocka_unit_test (test_items_json_bound),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
