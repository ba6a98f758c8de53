/* evloop_serve: builds an engine's L loops on the main thread, announces the
 * address once all are ready, then runs each loop on a thread of its own
 * (loop 0 on the main thread) until SIGINT/SIGTERM and every loop has let
 * its requests in flight finish. The kernel spreads new connections over the
 * loops' listeners by a hash of the connection (SO_REUSEPORT), so no loop
 * hands work to another and no lock is ever taken. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evloop.h"
#include "proc.h"

struct loops {
    const struct evloop_engine *engine;
    char *base; /* n engine loops of engine->loop_size bytes each */
    pthread_t *threads;
    int n, ninit, started;
};

static struct evloop *loop_at(struct loops *ls, int i)
{
    return (struct evloop *)(ls->base + (size_t)i * ls->engine->loop_size);
}

/* Every loop made ready to run: 0, or -errno (ls->ninit counts the loops to free). */
static int init_loops(struct loops *ls, const struct serve_config *cfg, int *fds)
{
    for (ls->ninit = 0; ls->ninit < ls->n; ls->ninit++) {
        int i = ls->ninit;
        struct evloop *ev = loop_at(ls, i);
        int err = evloop_init(ev, i, cfg, fds[i], ls->engine);
        fds[i] = -1; /* the loop owns it now */
        if (err == 0 && ls->engine->init)
            err = ls->engine->init(ev);
        if (err < 0) {
            if (err != -ECANCELED) /* that one printed its own reason */
                fprintf(stderr, "overlap serve: loop %d: %s\n", i, strerror(-err));
            ls->ninit++;
            return err;
        }
    }
    return 0;
}

static void *loop_main(void *ev)
{
    evloop_run(ev);
    return NULL;
}

/* After the loop's thread ended: the connections a stop's deadline left
 * open time out, then what the engine holds goes, then the loop. */
static void free_loop(struct evloop *ev)
{
    while (!evloop_list_empty(&ev->conns))
        ev->ops->conn_timeout(evloop_container(ev->conns.next, struct evloop_conn, link));
    evloop_reap_dead(ev);
    if (ev->engine->free)
        ev->engine->free(ev);
    evloop_free(ev);
}

/* Loops 1..n-1 get threads of their own; loop 0 runs on the caller's. */
static int start_threads(struct loops *ls)
{
    for (ls->started = 1; ls->started < ls->n; ls->started++) {
        int i = ls->started;
        int err = pthread_create(&ls->threads[i], NULL, loop_main, loop_at(ls, i));
        if (err) {
            fprintf(stderr, "overlap serve: cannot start loop %d: %s\n", i, strerror(err));
            return -err;
        }
    }
    return 0;
}

/* Binds every loop's listener: 0, or the exit status (2: a bad address is input). */
static int listen_all(const struct serve_config *cfg, int *fds, int n, char *bound, size_t cap)
{
    int err = proc_listen_group(cfg->listen_addr, fds, n, bound, cap);
    if (err >= 0)
        return 0;
    fprintf(stderr, "overlap serve: cannot listen on %s: %s\n", cfg->listen_addr, strerror(-err));
    return err == -EINVAL || err == -EADDRNOTAVAIL ? 2 : 1;
}

int evloop_serve(const struct serve_config *cfg, const struct evloop_engine *engine)
{
    int n = cfg->loops > 0 ? cfg->loops : 1, status = 1;
    char bound[256];
    struct loops ls = {.engine = engine, .n = n};
    ls.base = calloc((size_t)n, engine->loop_size);
    ls.threads = calloc((size_t)n, sizeof(*ls.threads));
    int *fds = malloc((size_t)n * sizeof(*fds));
    if (!ls.base || !ls.threads || !fds)
        goto out;
    for (int i = 0; i < n; i++)
        fds[i] = -1;
    wl_burn_calibrate(); /* once, before any request pays for it */
    if (proc_stop_fd() < 0 && proc_install_signals() < 0)
        goto out;
    if ((status = listen_all(cfg, fds, n, bound, sizeof(bound))) != 0)
        goto out;
    status = 1;
    if (init_loops(&ls, cfg, fds) < 0)
        goto out;
    proc_announce(bound);
    status = start_threads(&ls) < 0 ? 1 : 0;
    if (status)
        raise(SIGTERM); /* the loops already running stop as on a signal */
    evloop_run(loop_at(&ls, 0));
    for (int i = 1; i < ls.started; i++)
        pthread_join(ls.threads[i], NULL);
out:
    for (int i = 0; i < ls.ninit; i++)
        free_loop(loop_at(&ls, i));
    for (int i = 0; fds && i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(ls.base);
    free(ls.threads);
    free(fds);
    return status;
}
