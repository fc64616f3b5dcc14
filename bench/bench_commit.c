/*
 * bench_commit.c — the durable-commit ceiling for BENCH.md: one-row
 * INSERT transactions per second on SQLite in WAL mode with
 * synchronous=FULL (what facturo's SQLite store uses), on one connection.
 *
 *   bench_commit FILE [N]     prints "commits/s <rate>" (N default 2000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sqlite3.h>

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: bench_commit FILE [N]\n");
      return 2;
    }
  int n = argc > 2 ? atoi (argv[2]) : 2000;
  sqlite3 *db;
  if (sqlite3_open (argv[1], &db) != SQLITE_OK)
    return 1;
  sqlite3_exec (db,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, "
                "tenant_id INTEGER, payload TEXT);",
                NULL, NULL, NULL);
  sqlite3_stmt *ins;
  sqlite3_prepare_v2 (db, "INSERT INTO t (tenant_id, payload) VALUES (1, ?)",
                      -1, &ins, NULL);
  struct timespec a, b;
  clock_gettime (CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++)
    {
      sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
      sqlite3_bind_text (ins, 1, "{\"folio\":\"A-1\",\"total\":\"116.00\"}",
                         -1, SQLITE_STATIC);
      sqlite3_step (ins);
      sqlite3_reset (ins);
      if (sqlite3_exec (db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return 1;
    }
  clock_gettime (CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf ("commits/s %.0f\n", n / s);
  sqlite3_finalize (ins);
  sqlite3_close (db);
  return 0;
}
