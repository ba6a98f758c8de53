/* async_run: the async engine's loops, built and run by evloop_serve (one
 * loop per --loops, each on its own thread with its own SO_REUSEPORT
 * listener, loop 0 on the caller's), until SIGINT/SIGTERM and every loop has
 * let its requests in flight finish. */
#include "async.h"
#include "async_int.h"

int async_run(const struct serve_config *cfg)
{
    return evloop_serve(cfg, &async__engine);
}
