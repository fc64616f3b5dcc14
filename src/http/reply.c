/*
 * reply.c — every response facturo sends goes through here, so every one
 * carries the hardening headers and the request id, and every error has
 * the one shape {"error":{"code","message","field"}} (DESIGN.md).
 *
 * Status and code of an error come from errors.def; handlers never format
 * an error body by hand.  The message follows Accept-Language (es / en).
 */
#include "http/http.h"

#include <string.h>

#include "util/log.h"

static const struct
{
  unsigned status;
  const char *code;
  const char *en;
  const char *es;
} errs[] = {
#define ERR(name, status, code, en, es) { status, code, en, es },
#include "http/errors.def"
#undef ERR
};

unsigned
http_err_status (enum http_err e)
{
  return (unsigned)e < ERR__COUNT ? errs[e].status : 500;
}

const char *
http_err_code (enum http_err e)
{
  return (unsigned)e < ERR__COUNT ? errs[e].code : "internal_error";
}

void
reply_secure_headers (struct MHD_Response *r)
{
  MHD_add_response_header (r, "Content-Security-Policy",
                           "default-src 'none'; frame-ancestors 'none'; "
                           "base-uri 'none'; form-action 'none'");
  MHD_add_response_header (r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header (r, "X-Frame-Options", "DENY");
  MHD_add_response_header (r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header (r, "Cache-Control", "no-store");
  MHD_add_response_header (r, "Cross-Origin-Resource-Policy", "same-origin");
}

/* Queues r (destroyed here) with status; records it in rq. */
static enum MHD_Result
queue (struct req *rq, unsigned status, struct MHD_Response *r, size_t bytes)
{
  if (r == NULL)
    return MHD_NO;
  reply_secure_headers (r);
  MHD_add_response_header (r, "X-Request-Id", rq->request_id);
  if (rq->app && rq->app->stopping)
    MHD_add_response_header (r, MHD_HTTP_HEADER_CONNECTION, "close");
  if (rq->replied)
    {
      /* A handler bug: two replies.  Keep the first. */
      log_error ("request %s: second reply (%u) ignored", rq->request_id,
                 status);
      MHD_destroy_response (r);
      return MHD_YES;
    }
  enum MHD_Result ret = MHD_queue_response (rq->conn, status, r);
  MHD_destroy_response (r);
  rq->replied = true;
  rq->status = status;
  rq->reply_bytes = bytes;
  return ret;
}

/* Queues s (malloc'd JSON text, freed here) as application/json. */
static enum MHD_Result
queue_json (struct req *rq, unsigned status, char *s)
{
  size_t n = strlen (s);
  struct MHD_Response *r
      = MHD_create_response_from_buffer (n, s, MHD_RESPMEM_MUST_FREE);
  if (r == NULL)
    {
      free (s);
      return MHD_NO;
    }
  MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE,
                           "application/json");
  return queue (rq, status, r, n);
}

enum MHD_Result
reply_text (struct req *rq, unsigned status, const char *content_type,
            const char *text, size_t len)
{
  struct MHD_Response *r = MHD_create_response_from_buffer (
      len, (void *)text, MHD_RESPMEM_MUST_COPY);
  if (r && content_type)
    MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  return queue (rq, status, r, len);
}

enum MHD_Result
reply_json_text (struct req *rq, unsigned status, const char *text, size_t len)
{
  return reply_text (rq, status, "application/json", text, len);
}

enum MHD_Result
reply_json (struct req *rq, unsigned status, json_t *body)
{
  char *s = json_dumps (body, JSON_COMPACT);
  json_decref (body);
  if (s == NULL)
    return reply_error (rq, ERR_INTERNAL, NULL);
  return queue_json (rq, status, s);
}

enum MHD_Result
reply_empty (struct req *rq, unsigned status)
{
  struct MHD_Response *r = MHD_create_response_from_buffer (
      0, (void *)"", MHD_RESPMEM_PERSISTENT);
  return queue (rq, status, r, 0);
}

static json_t *
error_body (const char *code, const char *message, const char *field)
{
  return json_pack ("{s:{s:s, s:s, s:s?}}", "error", "code", code, "message",
                    message, "field", (field && *field) ? field : NULL);
}

char *
reply_error_text (struct req *rq, enum http_err e, const char *field)
{
  if ((unsigned)e >= ERR__COUNT)
    e = ERR_INTERNAL;
  const char *msg
      = (rq->lang && strcmp (rq->lang, "es") == 0) ? errs[e].es : errs[e].en;
  json_t *b = error_body (errs[e].code, msg, field);
  char *s = json_dumps (b, JSON_COMPACT);
  json_decref (b);
  return s;
}

enum MHD_Result
reply_error (struct req *rq, enum http_err e, const char *field)
{
  if ((unsigned)e >= ERR__COUNT)
    e = ERR_INTERNAL;
  char *s = reply_error_text (rq, e, field);
  if (s == NULL)
    return MHD_NO;
  return queue_json (rq, errs[e].status, s);
}

enum MHD_Result
reply_ferr (struct req *rq, unsigned status, const struct ferr *fe)
{
  const char *msg = (rq->lang && strcmp (rq->lang, "es") == 0) ? fe->message_es
                                                               : fe->message;
  json_t *b = error_body (fe->code ? fe->code : "invalid_field",
                          msg[0] ? msg : fe->message, fe->field);
  return reply_json (rq, status, b);
}
