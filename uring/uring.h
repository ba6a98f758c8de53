/* Engine 4: async's connection and request state machines with the client
 * sockets on io_uring instead of epoll, one ring per loop.
 * `overlap serve --engine uring`. */
#ifndef OVERLAP_URING_H
#define OVERLAP_URING_H

#include "serve.h"

/* Serves cfg until SIGINT/SIGTERM: the exit status (0, or 1 on failure, a
 * kernel or sandbox that refuses io_uring included). */
int uring_run(const struct serve_config *cfg);

#endif
