/* Engine 2: L epoll event loops, each an explicit state machine per
 * connection, many requests' queries multiplexed over a few non-blocking
 * database connections. `overlap serve --engine async`. */
#ifndef OVERLAP_ASYNC_H
#define OVERLAP_ASYNC_H

#include "serve.h"

/* Serves cfg until SIGINT/SIGTERM: the exit status (0, or 1 on failure). */
int async_run(const struct serve_config *cfg);

#endif
