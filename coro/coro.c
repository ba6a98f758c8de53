/* coro_run: the coro engine's loops, built and run by evloop_serve (one loop
 * per --loops, each on its own thread with its own SO_REUSEPORT listener,
 * loop 0 on the caller's), until SIGINT/SIGTERM and every loop has let its
 * requests in flight finish. */
#include "coro.h"
#include "coro_int.h"

int coro_run(const struct serve_config *cfg)
{
    return evloop_serve(cfg, &coro__engine);
}
