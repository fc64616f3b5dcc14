/*
 * bench_http_trivial.c — the HTTP ceiling for BENCH.md: a libmicrohttpd
 * daemon with exactly facturo serve's flags (internal polling thread pool
 * + epoll) whose only handler answers 200 "ok".  bench/run.sh loads it
 * with wrk and divides facturo's figures by its rate.
 *
 *   bench_http_trivial PORT [THREADS]     runs until SIGTERM/SIGINT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <microhttpd.h>

static enum MHD_Result
handler (void *cls, struct MHD_Connection *c, const char *url,
         const char *method, const char *version, const char *upload,
         size_t *upload_size, void **con_cls)
{
  static const char ok[] = "{\"status\":\"ok\"}";
  (void)cls, (void)url, (void)method, (void)version, (void)upload;
  if (*con_cls == NULL)
    {
      *con_cls = (void *)1;
      return MHD_YES;
    }
  if (*upload_size)
    {
      *upload_size = 0;
      return MHD_YES;
    }
  struct MHD_Response *r = MHD_create_response_from_buffer (
      sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header (r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response (c, 200, r);
  MHD_destroy_response (r);
  return ret;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: bench_http_trivial PORT [THREADS]\n");
      return 2;
    }
  unsigned threads = argc > 2 ? (unsigned)atoi (argv[2]) : 4;
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  struct MHD_Daemon *d = MHD_start_daemon (
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC,
      (uint16_t)atoi (argv[1]), NULL, NULL, handler, NULL,
      MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, 1024u,
      MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      1024u, MHD_OPTION_END);
  if (d == NULL)
    {
      fprintf (stderr, "bench_http_trivial: cannot listen\n");
      return 1;
    }
  int sig;
  sigwait (&set, &sig);
  MHD_stop_daemon (d);
  return 0;
}
