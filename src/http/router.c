/*
 * router.c — the one route table, and everything decided before a
 * handler runs (STYLE.md §4).
 *
 * For each request, in this order: match the path (404) and the method
 * (405 with Allow), check the credentials the route requires (401),
 * resolve the tenant, take a rate-limit token (429 + Retry-After), check
 * Content-Length against the route's max_body (413) — all on the first
 * callback, before one byte of body is read.  Bodies sent without a
 * Content-Length (chunked) are counted as they arrive and dropped once
 * over the limit (server.c), then refused here with 413.  Finally the
 * body is parsed as JSON with a depth bound (400) and the handler runs.
 * The JSON parser therefore never sees more than max_body bytes.
 */
#include "http/http.h"

#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/delivery.h"
#include "api/issue.h"
#include "util/json.h"
#include "util/log.h"
#include "web/portal.h"

/* Deepest JSON nesting any request body may have (a ticket needs 6). */
#define BODY_MAX_DEPTH 10

enum MHD_Result http_get_healthz (struct req *rq);
enum MHD_Result http_get_metrics (struct req *rq);

/* clang-format off */
const struct route http_routes[] = {
  /* method   pattern                        handler                       auth          max_body */
  { "GET",    "/healthz",                    http_get_healthz,             AUTH_PUBLIC,  0 },
  { "GET",    "/metrics",                    http_get_metrics,             AUTH_PUBLIC,  0 },
  /* Links in invoice mails (api/delivery.c); before /{merchant}/… */
  { "GET",    "/_mail/d/{token}",            api_mail_get_download,        AUTH_PUBLIC,  0 },
  { "GET",    "/_mail/t/{token}",            api_mail_get_pixel,           AUTH_PUBLIC,  0 },

  { "POST",   "/v1/tickets",                 api_tickets_post,             AUTH_API_KEY, API_MAX_BODY_TICKET },
  { "GET",    "/v1/tickets",                 api_tickets_get,              AUTH_API_KEY, 0 },
  { "GET",    "/v1/tickets/{id}",            api_tickets_get_id,           AUTH_API_KEY, 0 },
  { "POST",   "/v1/tickets/{id}/cancel",     api_tickets_post_id_cancel,   AUTH_API_KEY, API_MAX_BODY_SMALL },
  { "POST",   "/v1/tickets/{id}/invoice",    api_tickets_post_id_invoice,  AUTH_API_KEY, API_MAX_BODY_SMALL },
  { "GET",    "/v1/tickets/{id}/qr",         api_tickets_get_id_qr,        AUTH_API_KEY, 0 },
  { "GET",    "/v1/invoices",                api_invoices_get,             AUTH_API_KEY, 0 },
  { "GET",    "/v1/invoices/{id}",           api_invoices_get_id,          AUTH_API_KEY, 0 },
  { "GET",    "/v1/invoices/{id}/xml",       api_invoices_get_id_xml,      AUTH_API_KEY, 0 },
  { "GET",    "/v1/invoices/{id}/pdf",       api_invoices_get_id_pdf,      AUTH_API_KEY, 0 },
  { "POST",   "/v1/invoices/{id}/cancel",    api_invoices_post_id_cancel,  AUTH_API_KEY, API_MAX_BODY_SMALL },
  { "GET",    "/v1/invoices/{id}/cancellation/acuse", api_invoices_get_id_cancellation_acuse, AUTH_API_KEY, 0 },
  { "POST",   "/v1/invoices/{id}/email",     api_invoices_post_id_email,   AUTH_API_KEY, API_MAX_BODY_SMALL },
  { "GET",    "/v1/invoices/{id}/events",    api_invoices_get_id_events,   AUTH_API_KEY, 0 },

  { "POST",   "/v1/products",                api_products_post,            AUTH_API_KEY, API_MAX_BODY_SMALL },
  { "GET",    "/v1/products",                api_products_get,             AUTH_API_KEY, 0 },
  { "GET",    "/v1/products/{id}",           api_products_get_id,          AUTH_API_KEY, 0 },
  { "PATCH",  "/v1/products/{id}",           api_products_patch_id,        AUTH_API_KEY, API_MAX_BODY_SMALL },
  { "DELETE", "/v1/products/{id}",           api_products_delete_id,       AUTH_API_KEY, 0 },

  { "POST",   "/v1/customers",               api_customers_post,           AUTH_API_KEY, API_MAX_BODY_SMALL },
  { "GET",    "/v1/customers",               api_customers_get,            AUTH_API_KEY, 0 },
  { "GET",    "/v1/customers/{id}",          api_customers_get_id,         AUTH_API_KEY, 0 },
  { "PATCH",  "/v1/customers/{id}",          api_customers_patch_id,       AUTH_API_KEY, API_MAX_BODY_SMALL },
  { "DELETE", "/v1/customers/{id}",          api_customers_delete_id,      AUTH_API_KEY, 0 },

  /* Self-invoicing portal (web/portal.c): HTML pages, form bodies. */
  { "GET",    "/static/{file}",              portal_get_static,            AUTH_PUBLIC,  0 },
  { "GET",    "/{merchant}/",                portal_get_index,             AUTH_PUBLIC,  0 },
  { "GET",    "/{merchant}/theme.css",       portal_get_theme,             AUTH_PUBLIC,  0 },
  { "GET",    "/{merchant}/logo",            portal_get_logo,              AUTH_PUBLIC,  0 },
  { "GET",    "/{merchant}/t/{key}",         portal_get_ticket,            AUTH_PUBLIC,  0 },
  { "POST",   "/{merchant}/lookup",          portal_post_lookup,           AUTH_PUBLIC,  PORTAL_MAX_BODY },
  { "POST",   "/{merchant}/data",            portal_post_data,             AUTH_PUBLIC,  PORTAL_MAX_BODY },
  { "POST",   "/{merchant}/confirm",         portal_post_confirm,          AUTH_PUBLIC,  PORTAL_MAX_BODY },
  { "POST",   "/{merchant}/resend",          portal_post_resend,           AUTH_PUBLIC,  PORTAL_MAX_BODY },
  { "POST",   "/{merchant}/forget",          portal_post_forget,           AUTH_PUBLIC,  PORTAL_MAX_BODY },
  { "GET",    "/{merchant}/dl/{token}",      portal_get_download,          AUTH_PUBLIC,  0 },

  { NULL, NULL, NULL, AUTH_PUBLIC, 0 }
};
/* clang-format on */

size_t
http_route_count (void)
{
  size_t n = 0;
  while (http_routes[n].method)
    n++;
  return n;
}

/* Matches path against pattern; fills params (if rq) on success. */
static bool
match (const char *pattern, const char *path, struct req *rq)
{
  const char *p = pattern, *s = path;
  int np = 0;
  while (*p && *s)
    {
      if (*p == '{')
        {
          const char *pe = strchr (p, '}');
          const char *se = strchr (s, '/');
          size_t n = se ? (size_t) (se - s) : strlen (s);
          if (pe == NULL || n == 0 || n >= REQ_PARAM_MAX
              || np >= REQ_MAX_PARAMS)
            return false;
          if (rq)
            {
              memcpy (rq->params[np], s, n);
              rq->params[np][n] = '\0';
            }
          np++;
          p = pe + 1;
          s += n;
          continue;
        }
      if (*p != *s)
        return false;
      p++;
      s++;
    }
  if (*p || *s)
    return false;
  if (rq)
    rq->nparams = np;
  return true;
}

int
router_match (struct req *rq, const char *method, const char *path,
              bool *path_found)
{
  *path_found = false;
  for (size_t i = 0; http_routes[i].method; i++)
    {
      if (!match (http_routes[i].pattern, path, NULL))
        continue;
      *path_found = true;
      if (strcmp (http_routes[i].method, method) == 0
          || (strcmp (method, "HEAD") == 0
              && strcmp (http_routes[i].method, "GET") == 0))
        {
          match (http_routes[i].pattern, path, rq);
          return (int) i;
        }
    }
  return -1;
}

void
router_allow (const char *path, char *out, size_t n)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; http_routes[i].method; i++)
    if (match (http_routes[i].pattern, path, NULL))
      {
        int w = snprintf (out + used, n - used, "%s%s", used ? ", " : "",
                          http_routes[i].method);
        if (w < 0 || (size_t) w >= n - used)
          break;
        used += (size_t) w;
      }
}

void
router_print (FILE *f)
{
  static const char *const auth[] = { "public", "api_key", "session" };
  for (size_t i = 0; http_routes[i].method; i++)
    fprintf (f, "%s %s %s %zu\n", http_routes[i].method,
             http_routes[i].pattern, auth[http_routes[i].auth],
             http_routes[i].max_body);
}

const char *
req_query (struct req *rq, const char *name)
{
  return MHD_lookup_connection_value (rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
req_header (struct req *rq, const char *name)
{
  return MHD_lookup_connection_value (rq->conn, MHD_HEADER_KIND, name);
}


bool
router_admit (struct req *rq)
{
  bool path_found;
  int i = router_match (rq, rq->method, rq->path, &path_found);
  if (i < 0)
    {
      if (!path_found)
        {
          reply_error (rq, ERR_NOT_FOUND, NULL);
          return false;
        }
      char allow[128];
      router_allow (rq->path, allow, sizeof allow);
      /* reply_error queues; add Allow through a custom response. */
      char *s = reply_error_text (rq, ERR_METHOD_NOT_ALLOWED, NULL);
      struct MHD_Response *r = MHD_create_response_from_buffer (
          strlen (s), s, MHD_RESPMEM_MUST_FREE);
      MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE,
                               "application/json");
      MHD_add_response_header (r, MHD_HTTP_HEADER_ALLOW, allow);
      reply_secure_headers (r);
      MHD_add_response_header (r, "X-Request-Id", rq->request_id);
      MHD_queue_response (rq->conn, 405, r);
      MHD_destroy_response (r);
      rq->replied = true;
      rq->status = 405;
      return false;
    }
  rq->route_index = i;
  rq->route = &http_routes[i];

  if (rq->route->auth == AUTH_API_KEY)
    {
      if (!auth_api_key (rq))
        return false; /* 401 or 503 queued */
      unsigned retry = 0;
      if (!ratelimit_take (rq->app->ratelimit, rq->apikey_id, &retry))
        {
          char *s = reply_error_text (rq, ERR_RATE_LIMITED, NULL);
          struct MHD_Response *r = MHD_create_response_from_buffer (
              strlen (s), s, MHD_RESPMEM_MUST_FREE);
          char ra[16];
          snprintf (ra, sizeof ra, "%u", retry);
          MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                   "application/json");
          MHD_add_response_header (r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
          reply_secure_headers (r);
          MHD_add_response_header (r, "X-Request-Id", rq->request_id);
          MHD_queue_response (rq->conn, 429, r);
          MHD_destroy_response (r);
          rq->replied = true;
          rq->status = 429;
          return false;
        }
    }
  else if (rq->route->auth == AUTH_SESSION)
    {
      /* No session routes yet: refuse rather than serve unauthenticated. */
      reply_error (rq, ERR_UNAUTHORIZED, NULL);
      return false;
    }

  const char *cl = req_header (rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl)
    {
      char *end;
      unsigned long long n = strtoull (cl, &end, 10);
      if (*end != '\0' || n > rq->route->max_body)
        {
          reply_error (rq, ERR_BODY_TOO_LARGE, NULL);
          return false;
        }
    }
  return true;
}

static bool
is_json_type (const char *ct)
{
  if (ct == NULL)
    return false;
  size_t n = strlen ("application/json");
  return strncasecmp (ct, "application/json", n) == 0
         && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

enum MHD_Result
router_dispatch (struct req *rq)
{
  if (rq->body_too_large)
    return reply_error (rq, ERR_BODY_TOO_LARGE, NULL);
  if (rq->route->max_body > 0 && rq->route->pattern[1] == '{')
    ; /* HTML pages (web/): form bodies, parsed by the handler */
  else if (rq->route->max_body > 0)
    {
      bool empty = rq->body.len == 0;
      /* POST …/cancel may come without a body: take it as {}. */
      if (empty && rq->route->max_body <= API_MAX_BODY_SMALL
          && strcmp (rq->method, "POST") == 0
          && strstr (rq->route->pattern, "}/") != NULL)
        rq->json = json_object ();
      else
        {
          if (!is_json_type (req_header (rq, MHD_HTTP_HEADER_CONTENT_TYPE)))
            return reply_error (rq, ERR_UNSUPPORTED_MEDIA_TYPE, NULL);
          json_error_t jerr;
          rq->json = json_load_exact (rq->body.data ? rq->body.data : "",
                                      rq->body.len, BODY_MAX_DEPTH, &jerr);
          if (rq->json == NULL || !json_is_object (rq->json))
            return reply_error (rq, ERR_INVALID_JSON, NULL);
        }
    }
  else if (rq->body.len > 0)
    return reply_error (rq, ERR_BODY_TOO_LARGE, NULL);
  enum MHD_Result ret = rq->route->handler (rq);
  if (!rq->replied)
    {
      log_error ("request %s: handler for %s %s queued no reply",
                 rq->request_id, rq->route->method, rq->route->pattern);
      return reply_error (rq, ERR_INTERNAL, NULL);
    }
  return ret;
}
