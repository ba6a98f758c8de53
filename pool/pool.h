/* Engine 1: a pthread worker pool with blocking I/O. `overlap serve
 * --engine pool`: the workers take turns waiting on one poller and serve what
 * wakes them (leader mode, the default), a front end holds idle connections
 * between requests (request mode), or a worker owns each connection
 * (connection mode). */
#ifndef OVERLAP_POOL_H
#define OVERLAP_POOL_H

#include "serve.h"

/* Serves cfg until SIGINT/SIGTERM: the exit status (0, or 1 on failure). */
int pool_run(const struct serve_config *cfg);

#endif
