/* coro_run: builds L loops on the main thread (each with its epoll, its
 * SO_REUSEPORT listener and its database connections), announces the address
 * once all are ready, then runs each loop on a thread of its own (loop 0 on
 * the main thread) until SIGINT/SIGTERM and every loop has let its requests
 * in flight finish. The kernel spreads new connections over the listeners,
 * so no loop hands work to another and no lock is ever taken. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"
#include "coro_int.h"

/* Loops 1..n-1 get threads of their own; loop 0 runs on the caller's. */
static int start_threads(struct loop *loops, int n, int *started)
{
    for (*started = 1; *started < n; (*started)++) {
        int err = pthread_create(&loops[*started].thread, NULL, coro__loop_main, &loops[*started]);
        if (err) {
            fprintf(stderr, "overlap serve: cannot start loop %d: %s\n", *started, strerror(err));
            return -err;
        }
    }
    return 0;
}

/* Every loop made ready to run: 0, or -errno with *ninit the loops to free. */
static int init_loops(const struct serve_config *cfg, struct loop *loops, int *fds, int n,
                      int *ninit)
{
    for (*ninit = 0; *ninit < n; (*ninit)++) {
        int err = coro__loop_init(&loops[*ninit], *ninit, cfg, fds[*ninit]);
        fds[*ninit] = -1; /* the loop owns it now */
        if (err < 0) {
            fprintf(stderr, "overlap serve: loop %d: %s\n", *ninit, strerror(-err));
            (*ninit)++;
            return err;
        }
    }
    return 0;
}

int coro_run(const struct serve_config *cfg)
{
    int n = cfg->loops > 0 ? cfg->loops : 1, started = 0, status = 1, ninit = 0;
    char bound[256];
    struct loop *loops = calloc((size_t)n, sizeof(*loops));
    int *fds = malloc((size_t)n * sizeof(*fds));
    if (!loops || !fds)
        goto out;
    for (int i = 0; i < n; i++)
        fds[i] = -1;
    wl_burn_calibrate(); /* once, before any request pays for it */
    if (proc_stop_fd() < 0 && proc_install_signals() < 0)
        goto out;
    int err = proc_listen_group(cfg->listen_addr, fds, n, bound, sizeof(bound));
    if (err < 0) {
        fprintf(stderr, "overlap serve: cannot listen on %s: %s\n", cfg->listen_addr,
                strerror(-err));
        status = err == -EINVAL || err == -EADDRNOTAVAIL ? 2 : 1; /* a bad address is input */
        goto out;
    }
    if (init_loops(cfg, loops, fds, n, &ninit) < 0)
        goto out;
    proc_announce(bound);
    status = start_threads(loops, n, &started) < 0 ? 1 : 0;
    if (status)
        raise(SIGTERM); /* the loops already running stop as on a signal */
    coro__loop_main(&loops[0]);
    for (int i = 1; i < started; i++)
        pthread_join(loops[i].thread, NULL);
out:
    for (int i = 0; i < ninit; i++)
        coro__loop_free(&loops[i]);
    for (int i = 0; fds && i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(loops);
    free(fds);
    return status;
}
