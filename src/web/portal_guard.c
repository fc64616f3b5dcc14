/*
 * portal_guard.c — throttling of ticket look-ups, so that folios and
 * totals cannot be enumerated from the portal.
 *
 * Two keys are counted for every look-up: the client's address and the
 * (store, folio) pair typed.  Each has a per-minute counter (a hard rate
 * limit for addresses) and a count of recent failures; after
 * PORTAL_FREE_FAILS failures the next look-up must carry a proof of work
 * whose difficulty grows with the failures, or — for browsers without
 * JavaScript — wait a time that doubles with every failure.
 *
 * Memory is bounded: one fixed table of slots per process, indexed by a
 * keyed hash; a key landing on a slot held by another key takes it over
 * (losing the other's counts, which can only make the limit laxer for a
 * random victim, never stricter).  Counts are per process: N processes
 * behind a balancer allow N times the rate (docs/portal.md).
 */
#include "web/portal.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define NSLOTS 8192
#define FAIL_MEMORY 1800 /* seconds a failure is remembered */

struct slot
{
  uint64_t key;
  int64_t minute;    /* UTC minute of `hits` */
  int hits;          /* look-ups in that minute */
  int fails;         /* recent failures */
  int64_t last_fail; /* UTC seconds */
};

static struct slot slots[NSLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

uint64_t
portal_guard_key (const uint8_t secret[32], const char *kind, const char *text)
{
  uint8_t h[8];
  crypto_generichash_state st;
  crypto_generichash_init (&st, secret, 32, sizeof h);
  crypto_generichash_update (&st, (const uint8_t *)kind, strlen (kind) + 1);
  crypto_generichash_update (&st, (const uint8_t *)text, strlen (text));
  crypto_generichash_final (&st, h, sizeof h);
  uint64_t k;
  memcpy (&k, h, sizeof k);
  return k ? k : 1;
}

/* The slot of key, taken over if another key holds it.  mu held. */
static struct slot *
slot_of (uint64_t key)
{
  struct slot *s = &slots[key % NSLOTS];
  if (s->key != key)
    {
      memset (s, 0, sizeof *s);
      s->key = key;
    }
  return s;
}

bool
portal_guard_take (uint64_t key, int64_t now, unsigned *retry_after)
{
  pthread_mutex_lock (&mu);
  struct slot *s = slot_of (key);
  if (s->minute != now / 60)
    {
      s->minute = now / 60;
      s->hits = 0;
    }
  bool ok = s->hits < PORTAL_LOOKUPS_PER_MIN;
  if (ok)
    s->hits++;
  else
    *retry_after = (unsigned)(60 - now % 60);
  pthread_mutex_unlock (&mu);
  return ok;
}

int
portal_guard_fails (uint64_t key, int64_t now, int64_t *last)
{
  pthread_mutex_lock (&mu);
  struct slot *s = &slots[key % NSLOTS];
  int n = 0;
  int64_t l = 0;
  if (s->key == key && now - s->last_fail < FAIL_MEMORY)
    {
      n = s->fails;
      l = s->last_fail;
    }
  pthread_mutex_unlock (&mu);
  if (last)
    *last = l;
  return n;
}

void
portal_guard_fail (uint64_t key, int64_t now)
{
  pthread_mutex_lock (&mu);
  struct slot *s = slot_of (key);
  if (now - s->last_fail >= FAIL_MEMORY)
    s->fails = 0;
  if (s->fails < 1000)
    s->fails++;
  s->last_fail = now;
  pthread_mutex_unlock (&mu);
}

int
portal_guard_bits (int fails)
{
  int extra = fails - PORTAL_FREE_FAILS;
  if (extra < 0)
    extra = 0;
  if (extra > 6)
    extra = 6;
  return 14 + extra;
}

int
portal_guard_wait (int fails)
{
  if (fails < PORTAL_FREE_FAILS)
    return 0;
  int extra = fails - PORTAL_FREE_FAILS;
  if (extra > 6)
    return 300;
  int w = 5 << extra;
  return w > 300 ? 300 : w;
}
