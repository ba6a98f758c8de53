/* Engine 2: L epoll event loops, each an explicit state machine per
 * connection, many requests' queries multiplexed over a few non-blocking
 * database connections. `overlap serve --engine async`. */
#ifndef OVERLAP_ASYNC_H
#define OVERLAP_ASYNC_H

#include "serve.h"

/* Serves cfg until SIGINT/SIGTERM: the exit status (0, or 1 on failure). */
int async_run(const struct serve_config *cfg);

/* The same engine with its client sockets' I/O done by backend (uring/):
 * the job and connection state machines are async's, unchanged. */
struct evloop_backend;
int async_run_on(const struct serve_config *cfg, const struct evloop_backend *backend);

#endif
