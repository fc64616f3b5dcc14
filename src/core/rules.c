/*
 * rules.c — SAT CFDI 4.0 business rules checked before sealing (rules.h).
 *
 * Sources: Anexo 20 versión 4.0, "Guía de llenado de los comprobantes
 * fiscales digitales por Internet" (Guía) and SAT's "Matriz de errores"
 * for CFDI 4.0 (validations the PAC applies; the Guía text is quoted in
 * each comment).  Checks against SAT's taxpayer list (LCO: RFC, name and
 * postal code must match SAT's records) need SAT and are not done here.
 */
#include "core/rules.h"

#include <stdio.h>
#include <string.h>

static bool
rules_empty (const char *s)
{
  return s == NULL || *s == '\0';
}

/* Re-labels err's field after a lower-level check (rfc_check uses
 * "tax_id"); always false. */
static bool
rules_field (struct ferr *err, const char *field)
{
  if (err)
    snprintf (err->field, sizeof err->field, "%s", field);
  return false;
}

/* Régimen exists and applies to the RFC kind (Guía, Emisor/RegimenFiscal
 * and Receptor/RegimenFiscalReceptor: "debe corresponder con el tipo de
 * persona" — c_RegimenFiscal columns Física/Moral). */
static bool
rules_regime (enum rfc_kind kind, const char *regime, const char *field,
              struct ferr *err)
{
  const struct catalog_regime *r = catalog_regime (regime);

  if (rules_empty (regime))
    return ferr_set (err, "regime_missing", field,
                     "The tax regime is missing",
                     "Falta el régimen fiscal");
  if (r == NULL)
    return ferr_set (err, "regime_unknown", field,
                     "Régimen %s is not in SAT's c_RegimenFiscal catalog",
                     "El régimen %s no está en el catálogo c_RegimenFiscal "
                     "del SAT", regime);
  if (kind == RFC_MORAL && !r->moral)
    return ferr_set (err, "regime_not_for_moral", field,
                     "Régimen %s applies only to individuals, and this RFC "
                     "belongs to a company",
                     "El régimen %s sólo aplica a personas físicas y este "
                     "RFC es de una persona moral", regime);
  if (kind == RFC_FISICA && !r->fisica)
    return ferr_set (err, "regime_not_for_fisica", field,
                     "Régimen %s applies only to companies, and this RFC "
                     "belongs to an individual",
                     "El régimen %s sólo aplica a personas morales y este "
                     "RFC es de una persona física", regime);
  return true;
}

/* LugarExpedicion / DomicilioFiscalReceptor: c_CodigoPostal is not
 * shipped with facturo, so only the 5-digit shape is checked. */
static bool
rules_zip (const char *zip, const char *field, struct ferr *err)
{
  if (rules_empty (zip))
    return ferr_set (err, "zip_missing", field, "The postal code is missing",
                     "Falta el código postal");
  if (!catalog_zip_format (zip))
    return ferr_set (err, "zip_format", field,
                     "The postal code must have exactly 5 digits",
                     "El código postal debe tener exactamente 5 dígitos");
  return true;
}

/* Usos a generic RFC may carry.  Guía, Receptor/Rfc: with XAXX010101000
 * RegimenFiscalReceptor must be 616 and UsoCFDI S01 (público en general,
 * also CFDI global); with XEXX010101000 (extranjero) also 616 and S01,
 * or CP01 on a CFDI de pagos. */
static bool
rules_generic_use_ok (enum rfc_kind kind, const char *use)
{
  if (strcmp (use, "S01") == 0)
    return true;
  return kind == RFC_GENERIC_FOREIGN && strcmp (use, "CP01") == 0;
}

bool
rules_receiver (const char *rfc, const char *regime, const char *use,
                const char *zip, struct ferr *err)
{
  enum rfc_kind kind;
  const struct catalog_use *u;

  /* Shape and date only: see rfc_check_shape for why the check digit
   * cannot be enforced. */
  if (!rfc_check_shape (rfc, &kind, err))
    return rules_field (err, "customer.tax_id");
  if (rfc_is_generic (kind))
    {
      if (rules_empty (regime) || strcmp (regime, "616") != 0)
        return ferr_set (err, "regime_generic_rfc", "customer.tax_system",
                         "With RFC %s the régimen must be 616 (Sin "
                         "obligaciones fiscales)",
                         "Con el RFC %s el régimen debe ser 616 (Sin "
                         "obligaciones fiscales)", rfc);
    }
  else if (!rules_regime (kind, regime, "customer.tax_system", err))
    return false;

  if (rules_empty (use))
    return ferr_set (err, "use_missing", "use", "The CFDI use is missing",
                     "Falta el uso del CFDI");
  u = catalog_use (use);
  if (u == NULL)
    return ferr_set (err, "use_unknown", "use",
                     "Uso CFDI %s is not in SAT's c_UsoCFDI catalog",
                     "El uso CFDI %s no está en el catálogo c_UsoCFDI del "
                     "SAT", use);
  if (rfc_is_generic (kind))
    {
      if (!rules_generic_use_ok (kind, use))
        return ferr_set (err, "use_generic_rfc", "use",
                         "With RFC %s the CFDI use must be S01 (Sin efectos "
                         "fiscales)",
                         "Con el RFC %s el uso del CFDI debe ser S01 (Sin "
                         "efectos fiscales)", rfc);
    }
  else
    {
      /* Guía, Receptor/UsoCFDI: "debe corresponder con el tipo de
       * persona (física o moral)" (c_UsoCFDI columns Física/Moral). */
      if ((kind == RFC_FISICA && !u->fisica) || (kind == RFC_MORAL && !u->moral))
        return ferr_set (err, "use_not_for_kind", "use",
                         "Uso CFDI %s does not apply to this kind of "
                         "taxpayer (%s)",
                         "El uso CFDI %s no aplica a este tipo de "
                         "contribuyente (%s)", use,
                         kind == RFC_FISICA ? "persona física"
                                            : "persona moral");
      /* Guía, Receptor/UsoCFDI: "debe corresponder con ... el régimen
       * fiscal del receptor" (c_UsoCFDI column Régimen Fiscal Receptor). */
      if (!catalog_use_allowed_for_regime (use, regime))
        return ferr_set (err, "use_not_for_regime", "use",
                         "Uso CFDI %s is not allowed for régimen %s",
                         "El uso CFDI %s no está permitido para el régimen "
                         "%s", use, regime);
    }
  return rules_zip (zip, "customer.address.zip", err);
}

bool
rules_issuer (const char *rfc, const char *regime, const char *zip,
              struct ferr *err)
{
  enum rfc_kind kind;

  /* Shape and date only: see rfc_check_shape for why the check digit
   * cannot be enforced. */
  if (!rfc_check_shape (rfc, &kind, err))
    return rules_field (err, "issuer.tax_id");
  /* Only a taxpayer with a CSD can seal: never a generic RFC. */
  if (rfc_is_generic (kind))
    return ferr_set (err, "rfc_generic_issuer", "issuer.tax_id",
                     "A generic RFC cannot issue invoices",
                     "Un RFC genérico no puede emitir facturas");
  if (!rules_regime (kind, regime, "issuer.tax_system", err))
    return false;
  return rules_zip (zip, "issuer.zip", err);
}

bool
rules_payment (const char *type, const char *form, const char *method,
               struct ferr *err)
{
  bool has_form = !rules_empty (form), has_method = !rules_empty (method);

  if (rules_empty (type) || catalog_voucher_type (type) == NULL)
    return ferr_set (err, "type_unknown", "type",
                     "The voucher type must be one of I, E, T, N, P",
                     "El tipo de comprobante debe ser I, E, T, N o P");
  /* Guía, FormaPago and MetodoPago: "Si el tipo de comprobante es T
   * (Traslado) o P (Pago), este campo no debe existir" (the payment is
   * described by the Pagos 2.0 complement). */
  if (strcmp (type, "T") == 0 || strcmp (type, "P") == 0)
    {
      if (has_form)
        return ferr_set (err, "payment_form_not_allowed", "payment_form",
                         "A voucher of type %s has no payment form",
                         "Un comprobante de tipo %s no lleva forma de pago",
                         type);
      if (has_method)
        return ferr_set (err, "payment_method_not_allowed", "payment_method",
                         "A voucher of type %s has no payment method",
                         "Un comprobante de tipo %s no lleva método de pago",
                         type);
      return true;
    }
  if (!has_form)
    return ferr_set (err, "payment_form_missing", "payment_form",
                     "The payment form is missing",
                     "Falta la forma de pago");
  if (catalog_payment_form (form) == NULL)
    return ferr_set (err, "payment_form_unknown", "payment_form",
                     "Forma de pago %s is not in SAT's c_FormaPago catalog",
                     "La forma de pago %s no está en el catálogo c_FormaPago "
                     "del SAT", form);
  if (!has_method)
    return ferr_set (err, "payment_method_missing", "payment_method",
                     "The payment method is missing (PUE or PPD)",
                     "Falta el método de pago (PUE o PPD)");
  if (catalog_payment_method (method) == NULL)
    return ferr_set (err, "payment_method_unknown", "payment_method",
                     "Método de pago %s is not in SAT's c_MetodoPago "
                     "catalog (PUE or PPD)",
                     "El método de pago %s no está en el catálogo "
                     "c_MetodoPago del SAT (PUE o PPD)", method);
  /* Guía de llenado del complemento de nómina: MetodoPago "PUE" and
   * FormaPago "99" are fixed for a CFDI de nómina. */
  if (strcmp (type, "N") == 0)
    {
      if (strcmp (form, "99") != 0 || strcmp (method, "PUE") != 0)
        return ferr_set (err, "payment_payroll", "payment_form",
                         "A payroll voucher must use payment form 99 and "
                         "method PUE",
                         "Un comprobante de nómina debe usar la forma de "
                         "pago 99 y el método PUE");
      return true;
    }
  /* Guía, MetodoPago: with PPD (pago en parcialidades o diferido) the
   * FormaPago must be 99 "Por definir"; the actual payments are then
   * reported with CFDI de pago (Pagos 2.0). */
  if (strcmp (method, "PPD") == 0 && strcmp (form, "99") != 0)
    return ferr_set (err, "payment_ppd_form", "payment_form",
                     "With payment method PPD the payment form must be 99 "
                     "(Por definir)",
                     "Con el método de pago PPD la forma de pago debe ser "
                     "99 (Por definir)");
  /* Guía, FormaPago: with PUE the invoice is paid at issuance, so the
   * actual form of payment is known; 99 "Por definir" only goes with PPD. */
  if (strcmp (method, "PUE") == 0 && strcmp (form, "99") == 0)
    return ferr_set (err, "payment_pue_form", "payment_form",
                     "With payment method PUE the payment form cannot be "
                     "99 (Por definir): say how it was paid",
                     "Con el método de pago PUE la forma de pago no puede "
                     "ser 99 (Por definir): indique cómo se pagó");
  return true;
}

bool
rules_currency (const char *code, int64_t exchange_micros, bool has_exchange,
                int *decimals, struct ferr *err)
{
  const struct catalog_currency *c;

  if (rules_empty (code))
    return ferr_set (err, "currency_missing", "currency",
                     "The currency is missing", "Falta la moneda");
  c = catalog_currency (code);
  if (c == NULL)
    return ferr_set (err, "currency_unknown", "currency",
                     "Currency %s is not in SAT's c_Moneda catalog",
                     "La moneda %s no está en el catálogo c_Moneda del SAT",
                     code);
  /* Guía, TipoCambio: "Si el valor registrado en el campo Moneda es MXN,
   * este campo se puede omitir, o si se registra debe tener el valor 1";
   * with XXX (operations without a currency) it must not exist; any other
   * currency requires it. */
  if (strcmp (code, "MXN") == 0)
    {
      if (has_exchange && exchange_micros != MONEY_SCALE)
        return ferr_set (err, "exchange_mxn", "exchange",
                         "For MXN the exchange rate must be omitted or be 1",
                         "Para MXN el tipo de cambio se omite o debe ser 1");
    }
  else if (strcmp (code, "XXX") == 0)
    {
      if (has_exchange)
        return ferr_set (err, "exchange_xxx", "exchange",
                         "For currency XXX there is no exchange rate",
                         "Para la moneda XXX no se registra tipo de cambio");
    }
  else if (!has_exchange)
    return ferr_set (err, "exchange_missing", "exchange",
                     "Currency %s needs an exchange rate to MXN",
                     "La moneda %s requiere tipo de cambio a MXN", code);
  else if (exchange_micros <= 0)
    return ferr_set (err, "exchange_invalid", "exchange",
                     "The exchange rate must be greater than zero",
                     "El tipo de cambio debe ser mayor que cero");
  if (decimals)
    *decimals = c->decimals;
  return true;
}

size_t
rules_uses_for (enum rfc_kind kind, const char *regime,
                const struct catalog_use **out, size_t cap)
{
  const struct catalog_use *all;
  size_t n = catalog_uses (&all), found = 0;

  for (size_t i = 0; i < n; i++)
    {
      const struct catalog_use *u = &all[i];
      bool ok;
      if (rfc_is_generic (kind))
        ok = regime != NULL && strcmp (regime, "616") == 0
             && rules_generic_use_ok (kind, u->code);
      else
        ok = (kind == RFC_FISICA ? u->fisica : u->moral)
             && catalog_use_allowed_for_regime (u->code, regime);
      if (!ok)
        continue;
      if (out && found < cap)
        out[found] = u;
      found++;
    }
  return found;
}
