/*
 * ratelimit.c — a token bucket per API key, in memory.
 *
 * Each key owns a bucket of `burst` tokens refilled at `rate` tokens per
 * second; a request takes one.  Tokens are counted in millionths so the
 * refill is exact integer arithmetic.  Only authenticated keys get a
 * bucket (the router checks the key first), so the table is bounded by
 * the number of API keys that exist.  The limit is per process: with N
 * facturo processes behind a balancer a key gets at most N times the rate
 * (documented in docs/api.md).
 */
#include "http/http.h"

#include <pthread.h>
#include <stdlib.h>

#define NSLOTS 1024

struct bucket
{
  int64_t key;
  int64_t tokens_u; /* micro-tokens */
  int64_t last_us;  /* CLOCK_MONOTONIC of the last refill */
  struct bucket *next;
};

struct ratelimit
{
  unsigned rate, burst;
  pthread_mutex_t mu;
  struct bucket *slot[NSLOTS];
};

static int64_t
now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct ratelimit *
ratelimit_new (unsigned rate, unsigned burst)
{
  struct ratelimit *rl = xcalloc (1, sizeof *rl);
  rl->rate = rate;
  rl->burst = burst ? burst : 1;
  pthread_mutex_init (&rl->mu, NULL);
  return rl;
}

void
ratelimit_free (struct ratelimit *rl)
{
  if (rl == NULL)
    return;
  for (size_t i = 0; i < NSLOTS; i++)
    for (struct bucket *b = rl->slot[i], *n; b; b = n)
      {
        n = b->next;
        free (b);
      }
  pthread_mutex_destroy (&rl->mu);
  free (rl);
}

bool
ratelimit_take (struct ratelimit *rl, int64_t key, unsigned *retry_after)
{
  if (rl == NULL || rl->rate == 0)
    return true;
  const int64_t full = (int64_t)rl->burst * 1000000;
  int64_t t = now_us ();
  size_t h = (size_t)((uint64_t)key * 0x9E3779B97F4A7C15ULL >> 54) % NSLOTS;
  bool ok;
  pthread_mutex_lock (&rl->mu);
  struct bucket *b = rl->slot[h];
  while (b && b->key != key)
    b = b->next;
  if (b == NULL)
    {
      b = xcalloc (1, sizeof *b);
      b->key = key;
      b->tokens_u = full;
      b->last_us = t;
      b->next = rl->slot[h];
      rl->slot[h] = b;
    }
  /* rate tokens/s = rate micro-tokens/µs. */
  int64_t add = (t - b->last_us) * (int64_t)rl->rate;
  b->last_us = t;
  b->tokens_u = (add >= full - b->tokens_u) ? full : b->tokens_u + add;
  if (b->tokens_u >= 1000000)
    {
      b->tokens_u -= 1000000;
      ok = true;
    }
  else
    {
      int64_t missing_u = 1000000 - b->tokens_u;
      int64_t wait_us = (missing_u + rl->rate - 1) / rl->rate;
      *retry_after = (unsigned)((wait_us + 999999) / 1000000);
      if (*retry_after < 1)
        *retry_after = 1;
      ok = false;
    }
  pthread_mutex_unlock (&rl->mu);
  return ok;
}
