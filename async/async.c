/* async_run: builds L loops on the main thread (each with its epoll, its
 * SO_REUSEPORT listener and its database connections), announces the address
 * once all are ready, then runs each loop on a thread of its own (loop 0 on
 * the main thread) until SIGINT/SIGTERM and every loop has let its requests
 * in flight finish.
 *
 * The kernel spreads new connections over the loops' listeners by a hash of
 * the connection (SO_REUSEPORT), so no loop hands work to another and no lock
 * is ever taken. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "async.h"
#include "async_int.h"

/* Loops 1..n-1 get threads of their own; loop 0 runs on the caller's. */
static int start_threads(struct loop *loops, int n, int *started)
{
    for (*started = 1; *started < n; (*started)++) {
        int err = pthread_create(&loops[*started].thread, NULL, async__loop_main, &loops[*started]);
        if (err) {
            fprintf(stderr, "overlap serve: cannot start loop %d: %s\n", *started, strerror(err));
            return -err;
        }
    }
    return 0;
}

int async_run(const struct serve_config *cfg)
{
    int n = cfg->loops > 0 ? cfg->loops : 1, started = 0, status = 1, ninit = 0;
    char bound[256];
    struct loop *loops = calloc(n, sizeof(*loops));
    int *fds = malloc(n * sizeof(*fds));
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
    for (; ninit < n; ninit++) {
        err = async__loop_init(&loops[ninit], ninit, cfg, fds[ninit]);
        fds[ninit] = -1; /* the loop owns it now */
        if (err < 0) {
            fprintf(stderr, "overlap serve: loop %d: %s\n", ninit, strerror(-err));
            ninit++;
            goto out;
        }
    }
    proc_announce(bound);
    status = start_threads(loops, n, &started) < 0 ? 1 : 0;
    if (status)
        raise(SIGTERM); /* the loops already running stop as on a signal */
    async__loop_main(&loops[0]);
    for (int i = 1; i < started; i++)
        pthread_join(loops[i].thread, NULL);
out:
    for (int i = 0; i < ninit; i++)
        async__loop_free(&loops[i]);
    for (int i = 0; fds && i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(loops);
    free(fds);
    return status;
}
