/*
 * metrics.c — request counters and latency histograms per route, exposed
 * as Prometheus text (GET /metrics).
 *
 * Every request touches a few counters from whichever pool thread served
 * it, so all counters are relaxed atomic adds: no lock on the hot path.
 * Routes are identified by their pattern ("/v1/tickets/{id}"), never by
 * the concrete path, so no id or other data reaches the metrics.
 */
#include "http/http.h"

#include <stdatomic.h>
#include <stdlib.h>

#define NSTATUS 600
static const uint64_t bucket_us[]
    = { 1000,   2500,   5000,   10000,   25000,   50000,
        100000, 250000, 500000, 1000000, 2500000, 10000000 };
#define NBUCKETS (sizeof bucket_us / sizeof bucket_us[0])

struct route_metrics
{
  atomic_uint_fast64_t by_status[NSTATUS];
  atomic_uint_fast64_t buckets[NBUCKETS + 1]; /* last = +Inf */
  atomic_uint_fast64_t sum_us;
  atomic_uint_fast64_t count;
};

struct metrics
{
  size_t nroutes; /* rows; the last one is "unmatched" */
  struct route_metrics *r;
};

struct metrics *
metrics_new (size_t nroutes)
{
  struct metrics *m = xcalloc (1, sizeof *m);
  m->nroutes = nroutes + 1;
  m->r = xcalloc (m->nroutes, sizeof *m->r);
  return m;
}

void
metrics_free (struct metrics *m)
{
  if (m == NULL)
    return;
  free (m->r);
  free (m);
}

void
metrics_observe (struct metrics *m, int route, unsigned status,
                 uint64_t latency_us)
{
  if (m == NULL)
    return;
  size_t i = (route < 0 || (size_t)route >= m->nroutes - 1) ? m->nroutes - 1
                                                            : (size_t)route;
  struct route_metrics *r = &m->r[i];
  if (status >= NSTATUS)
    status = 0;
  atomic_fetch_add_explicit (&r->by_status[status], 1, memory_order_relaxed);
  size_t b = 0;
  while (b < NBUCKETS && latency_us > bucket_us[b])
    b++;
  atomic_fetch_add_explicit (&r->buckets[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&r->sum_us, latency_us, memory_order_relaxed);
  atomic_fetch_add_explicit (&r->count, 1, memory_order_relaxed);
}

static void
labels (struct metrics *m, size_t i, struct buf *out)
{
  if (i == m->nroutes - 1)
    buf_puts (out, "method=\"\",route=\"unmatched\"");
  else
    buf_printf (out, "method=\"%s\",route=\"%s\"", http_routes[i].method,
                http_routes[i].pattern);
}

void
metrics_render (struct metrics *m, struct buf *out)
{
  buf_puts (out, "# HELP facturo_http_requests_total HTTP requests by route "
                 "and status.\n"
                 "# TYPE facturo_http_requests_total counter\n");
  for (size_t i = 0; i < m->nroutes; i++)
    for (unsigned s = 0; s < NSTATUS; s++)
      {
        uint64_t v = atomic_load_explicit (&m->r[i].by_status[s],
                                           memory_order_relaxed);
        if (v == 0)
          continue;
        buf_puts (out, "facturo_http_requests_total{");
        labels (m, i, out);
        buf_printf (out, ",status=\"%u\"} %llu\n", s, (unsigned long long)v);
      }
  buf_puts (out, "# HELP facturo_http_request_duration_seconds Time from "
                 "the request's first byte to the end of its reply.\n"
                 "# TYPE facturo_http_request_duration_seconds histogram\n");
  for (size_t i = 0; i < m->nroutes; i++)
    {
      uint64_t count
          = atomic_load_explicit (&m->r[i].count, memory_order_relaxed);
      if (count == 0)
        continue;
      uint64_t cum = 0;
      for (size_t b = 0; b <= NBUCKETS; b++)
        {
          cum += atomic_load_explicit (&m->r[i].buckets[b],
                                       memory_order_relaxed);
          buf_puts (out, "facturo_http_request_duration_seconds_bucket{");
          labels (m, i, out);
          if (b < NBUCKETS)
            buf_printf (out, ",le=\"%llu.%06llu\"} %llu\n",
                        (unsigned long long)(bucket_us[b] / 1000000),
                        (unsigned long long)(bucket_us[b] % 1000000),
                        (unsigned long long)cum);
          else
            buf_printf (out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
      uint64_t sum
          = atomic_load_explicit (&m->r[i].sum_us, memory_order_relaxed);
      buf_puts (out, "facturo_http_request_duration_seconds_sum{");
      labels (m, i, out);
      buf_printf (out, "} %llu.%06llu\n", (unsigned long long)(sum / 1000000),
                  (unsigned long long)(sum % 1000000));
      buf_puts (out, "facturo_http_request_duration_seconds_count{");
      labels (m, i, out);
      buf_printf (out, "} %llu\n", (unsigned long long)count);
    }
}
