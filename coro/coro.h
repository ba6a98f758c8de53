/* Engine 3: coroutines on epoll loops. `overlap serve --engine coro` runs the
 * same straight-line request code a pool worker runs, but a query yields to
 * the loop instead of blocking a thread. */
#ifndef OVERLAP_CORO_H
#define OVERLAP_CORO_H

#include "serve.h"

/* Serves cfg until SIGINT/SIGTERM: 0, 1 on failure, 2 for a bad address. */
int coro_run(const struct serve_config *cfg);

#endif
