/*
 * portal_i18n.c — the self-invoicing portal's words, in Spanish (the
 * default) and English.
 *
 * One table, one row per text: templates print {{t.key}}; handlers take
 * messages through portal_text().  Kept in C rather than gettext catalogs
 * because the portal is the only user so far and the table is small; a
 * missing translation is a compile-time-visible empty cell, never a
 * crash.  Texts are plain (the templates escape them).
 */
#include "web/portal.h"

#include <string.h>

static const struct
{
  const char *key, *es, *en;
} texts[] = {
  { "title", "Facturación de tickets", "Invoice your purchase" },
  { "lang_other", "English", "Español" },
  { "lang_other_code", "en", "es" },
  { "intro",
    "Obtén tu factura (CFDI 4.0) de tu compra: busca tu ticket, escribe tus "
    "datos fiscales, revisa y confirma.",
    "Get a tax invoice (CFDI 4.0) for your purchase: find your ticket, type "
    "your fiscal data, check and confirm." },
  { "find_title", "1. Busca tu ticket", "1. Find your ticket" },
  { "add_title", "Agregar otro ticket", "Add another ticket" },
  { "branch", "Sucursal", "Store" },
  { "branch_pick", "Elige la sucursal", "Choose the store" },
  { "folio", "Folio del ticket", "Ticket number (folio)" },
  { "total", "Total pagado", "Total paid" },
  { "total_hint", "Exactamente como aparece en el ticket, p. ej. 116.00",
    "Exactly as printed on the ticket, e.g. 116.00" },
  { "find", "Buscar ticket", "Find ticket" },
  { "add", "Agregar ticket", "Add ticket" },
  { "pow_note",
    "Por seguridad, tu navegador resolverá un pequeño cálculo antes de "
    "buscar.",
    "For security, your browser will solve a small puzzle before searching." },
  { "tickets_title", "Tickets a facturar", "Tickets to invoice" },
  { "date", "Fecha", "Date" },
  { "data_title", "2. Tus datos fiscales", "2. Your fiscal data" },
  { "rfc", "RFC", "RFC (tax id)" },
  { "rfc_hint", "12 caracteres (persona moral) o 13 (persona física)",
    "12 characters (company) or 13 (individual)" },
  { "rfc_confirm",
    "Confirmo que mi RFC es correcto tal como lo escribí (el SAT emitió "
    "algunos que no cumplen su dígito verificador)",
    "I confirm my RFC is right as typed (SAT issued some that fail its "
    "check digit)" },
  { "name", "Nombre o razón social", "Name or company name" },
  { "name_hint", "Como aparece en tu Constancia de Situación Fiscal",
    "As on your tax certificate (Constancia de Situación Fiscal)" },
  { "zip", "Código postal fiscal", "Fiscal postal code" },
  { "regime", "Régimen fiscal", "Tax regime (régimen fiscal)" },
  { "regime_pick", "Elige tu régimen", "Choose your regime" },
  { "use", "Uso del CFDI", "Use of the invoice (uso CFDI)" },
  { "use_pick", "Elige el uso", "Choose the use" },
  { "use_hint", "Solo se aceptan los usos permitidos para tu régimen",
    "Only the uses allowed for your regime are accepted" },
  { "emails", "Correo(s) para recibir la factura",
    "E-mail address(es) to receive the invoice" },
  { "email_more", "Otro correo (opcional)", "Another e-mail (optional)" },
  { "remember", "Recordar mis datos fiscales en este dispositivo",
    "Remember my fiscal data on this device" },
  { "forget", "Borrar mis datos de este dispositivo",
    "Erase my data from this device" },
  { "forgotten", "Tus datos fiscales se borraron de este dispositivo.",
    "Your fiscal data was erased from this device." },
  { "continue", "Revisar factura", "Review invoice" },
  { "preview_title", "3. Revisa tu factura", "3. Check your invoice" },
  { "preview_note",
    "Así se emitirá tu factura. Revisa que todo esté bien y confirma.",
    "This is the invoice as it will be issued. Check it and confirm." },
  { "issuer", "Emisor", "Issuer" },
  { "receiver", "Receptor", "Receiver" },
  { "items", "Conceptos", "Items" },
  { "qty", "Cantidad", "Quantity" },
  { "description", "Descripción", "Description" },
  { "unit_price", "Precio unitario", "Unit price" },
  { "amount", "Importe", "Amount" },
  { "subtotal", "Subtotal", "Subtotal" },
  { "grand_total", "Total", "Total" },
  { "discount", "Descuento", "Discount" },
  { "withheld", "retenido", "withheld" },
  { "payment_form", "Forma de pago", "Payment form" },
  { "payment_method", "Método de pago", "Payment method" },
  { "pue", "PUE — Pago en una sola exhibición", "PUE — paid in full" },
  { "currency", "Moneda", "Currency" },
  { "confirm", "Confirmar y emitir factura", "Confirm and issue invoice" },
  { "edit", "Corregir datos", "Change data" },
  { "done_title", "¡Listo! Tu factura fue emitida",
    "Done! Your invoice was issued" },
  { "uuid", "Folio fiscal (UUID)", "Fiscal folio (UUID)" },
  { "series_folio", "Serie y folio", "Series and number" },
  { "download_xml", "Descargar XML", "Download XML" },
  { "download_pdf", "Descargar PDF", "Download PDF" },
  { "links_note", "Los enlaces de descarga vencen en 24 horas.",
    "The download links expire in 24 hours." },
  { "mail_queued", "También te la enviamos por correo a",
    "We are also sending it by e-mail to" },
  { "start_over", "Facturar otro ticket", "Invoice another ticket" },
  { "nf_title", "No encontramos ese ticket", "We could not find that ticket" },
  { "nf_text",
    "Revisa la sucursal, el folio y el total tal como aparecen en tu "
    "ticket e inténtalo de nuevo.",
    "Check the store, the ticket number and the total exactly as printed "
    "on your ticket and try again." },
  { "inv_title", "Este ticket ya fue facturado",
    "This ticket has already been invoiced" },
  { "inv_text",
    "Podemos reenviar la factura al correo al que se envió originalmente.",
    "We can send the invoice again to the address it was originally sent "
    "to." },
  { "resend", "Reenviar factura", "Resend invoice" },
  { "resent", "Listo: reenviamos la factura al correo original.",
    "Done: we sent the invoice again to the original address." },
  { "resend_none",
    "Esta factura no tiene correo registrado; pide una copia a la tienda.",
    "This invoice has no e-mail address on record; ask the store for a "
    "copy." },
  { "exp_title", "El plazo para facturar este ticket terminó",
    "The time to invoice this ticket is over" },
  { "exp_text1", "Este ticket se podía facturar hasta el",
    "This ticket could be invoiced until" },
  { "exp_text2",
    "Como no se facturó a tiempo, se incluyó en la factura global al "
    "público en general.",
    "As it was not invoiced in time, it went into the global invoice to "
    "the general public." },
  { "can_title", "Este ticket fue cancelado", "This ticket was cancelled" },
  { "can_text", "La tienda canceló esta compra, por eso no se puede facturar.",
    "The store cancelled this purchase, so it cannot be invoiced." },
  { "wait_title", "Demasiados intentos", "Too many attempts" },
  { "wait_text1", "Por seguridad, espera", "For security, please wait" },
  { "wait_text2", "segundos y vuelve a intentarlo.",
    "seconds and try again." },
  { "csrf_title", "La página caducó", "This page has expired" },
  { "csrf_text",
    "Por seguridad, vuelve a abrir la página e inténtalo de nuevo (activa "
    "las cookies de este sitio).",
    "For security, open the page again and retry (cookies must be enabled "
    "for this site)." },
  { "session_title", "Tu búsqueda caducó", "Your search has expired" },
  { "session_text", "Vuelve a buscar tu ticket.",
    "Please find your ticket "
    "again." },
  { "merchant_nf", "Esta tienda no existe", "There is no such store" },
  { "error_title", "No pudimos emitir la factura",
    "We could not issue the invoice" },
  { "error_retry",
    "El servicio de timbrado no está disponible. Inténtalo en unos minutos.",
    "The stamping service is not available. Please try again in a few "
    "minutes." },
  { "error_internal",
    "Ocurrió un error de nuestro lado. Inténtalo más tarde o avisa a la "
    "tienda.",
    "Something went wrong on our side. Try again later or tell the store." },
  { "error_csd",
    "La tienda aún no puede emitir facturas (falta su certificado). Avísale "
    "a la tienda.",
    "The store cannot issue invoices yet (its certificate is missing). "
    "Please tell the store." },
  { "form_errors", "Revisa los campos marcados.",
    "Please check the fields marked." },
  { "required", "Este dato es obligatorio.", "This field is required." },
  { "back", "Volver al inicio", "Back to the start" },
  { "too_many_tickets", "Se alcanzó el máximo de tickets por factura.",
    "This invoice already has the most tickets allowed." },
  { "other_merchant", "Ese ticket ya está en la lista.",
    "That ticket is already in the list." },
  { "footer", "Facturación electrónica con facturo",
    "Electronic invoicing by facturo" },
  { "sandbox_note",
    "Modo de prueba: las facturas de prueba no tienen validez fiscal.",
    "Test mode: test invoices have no fiscal validity." },
};

const char *
portal_text (const char *lang, const char *key)
{
  bool en = lang && strcmp (lang, "en") == 0;
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (strcmp (texts[i].key, key) == 0)
      return en ? texts[i].en : texts[i].es;
  return key;
}

json_t *
portal_texts_json (const char *lang)
{
  bool en = lang && strcmp (lang, "en") == 0;
  json_t *o = json_object ();
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    json_object_set_new (o, texts[i].key,
                         json_string (en ? texts[i].en : texts[i].es));
  return o;
}
