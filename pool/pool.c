/* Engine 1, the pthread worker pool: sets up the listening socket, the queue
 * (or leader mode's shared poller) and N worker threads, runs the front end
 * of the chosen mode on the main thread (in leader mode it only waits for
 * the stop), and on SIGINT/SIGTERM lets the requests in flight finish before
 * joining the workers. Every way out of pool_run, failed or not, goes
 * through one teardown.
 *
 * Locking: the queue's mutex guards only the queue, ret_mu only the return
 * list, live_mu only the count of per-connection threads, ready_mu only the
 * count of started workers; in leader mode lead_mu guards only the
 * leadership and the list mutex only its list of connections. No thread ever
 * holds two of them at once, and none blocks on I/O while holding one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pool_internal.h"

/* The worker's first database connect, counted for wait_ready. */
static void worker_start(struct pool__worker *w)
{
    struct pool *p = w->pool;
    pool__worker_connect(w);
    pthread_mutex_lock(&p->ready_mu);
    p->ready++;
    pthread_cond_signal(&p->ready_cv);
    pthread_mutex_unlock(&p->ready_mu);
}

static void wait_ready(struct pool *p)
{
    pthread_mutex_lock(&p->ready_mu);
    while (p->ready < p->nworkers)
        pthread_cond_wait(&p->ready_cv, &p->ready_mu);
    pthread_mutex_unlock(&p->ready_mu);
}

/* Every pool thread's body: the first database connect, then the mode's
 * loop until it is stopped: request and connection mode take from the queue,
 * leader mode waits in turn on the shared poller. */
static void *worker_main(void *arg)
{
    struct pool__worker *w = arg;
    worker_start(w);
    if (w->pool->cfg->mode == SERVE_MODE_REQUEST)
        pool__request_worker(w);
    else if (w->pool->cfg->mode == SERVE_MODE_LEADER)
        pool__leader_worker(w);
    else
        pool__connection_worker(w);
    return NULL;
}

/* Starts the workers; on a failure the ones already running (nstarted) are
 * left for the teardown to join. */
static int start_workers(struct pool *p)
{
    pthread_attr_t attr;
    int err = 0;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, POOL_STACK_SIZE);
    while (p->nstarted < p->nworkers && !err) {
        struct pool__worker *w = &p->workers[p->nstarted];
        err = pthread_create(&w->thread, &attr, worker_main, w);
        if (!err)
            p->nstarted++;
    }
    pthread_attr_destroy(&attr);
    return -err;
}

/* Leaves p safe to tear down whatever fails: everything pool_free releases is
 * either set up or marked absent before the first way out. */
static int pool_init(struct pool *p, const struct serve_config *cfg)
{
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    p->listen_fd = p->wake_fd = -1;
    pool__queue_init(&p->queue, cfg->queue);
    if (pthread_mutex_init(&p->ret_mu, NULL) || pthread_mutex_init(&p->live_mu, NULL) ||
        pthread_cond_init(&p->live_cv, NULL) || pthread_mutex_init(&p->ready_mu, NULL) ||
        pthread_cond_init(&p->ready_cv, NULL))
        abort();
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0)
        return -errno;
    p->workers = calloc(cfg->workers ? cfg->workers : 1, sizeof(*p->workers));
    if (!p->workers)
        return -ENOMEM;
    p->nworkers = cfg->workers;
    for (int i = 0; i < p->nworkers; i++)
        pool__worker_init(&p->workers[i], p, i);
    return 0;
}

static void pool_free(struct pool *p)
{
    pool__leader_free(p);
    for (int i = 0; i < p->nworkers; i++)
        pool__worker_free(&p->workers[i]);
    free(p->workers);
    while (p->queue.head) /* connections a worker never took */
        pool__conn_free(pool__queue_pop(&p->queue));
    pool__queue_destroy(&p->queue);
    pthread_mutex_destroy(&p->ret_mu);
    pthread_mutex_destroy(&p->live_mu);
    pthread_cond_destroy(&p->live_cv);
    pthread_mutex_destroy(&p->ready_mu);
    pthread_cond_destroy(&p->ready_cv);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    if (p->listen_fd >= 0)
        close(p->listen_fd);
}

/* Everything up to the `listening` line: 0, or -errno once the failure is
 * printed. */
static int pool_start(struct pool *p, const struct serve_config *cfg)
{
    char bound[300];
    int err = pool_init(p, cfg);
    if (err < 0) {
        fprintf(stderr, "overlap serve: cannot start the pool: %s\n", strerror(-err));
        return err;
    }
    p->listen_fd = proc_listen(cfg->listen_addr, false, bound, sizeof(bound));
    if (p->listen_fd < 0) {
        fprintf(stderr, "overlap serve: cannot listen on %s: %s\n", cfg->listen_addr,
                strerror(-p->listen_fd));
        return p->listen_fd;
    }
    if (cfg->mode == SERVE_MODE_LEADER && (err = pool__leader_init(p)) < 0) {
        fprintf(stderr, "overlap serve: cannot start the pool's poller: %s\n", strerror(-err));
        return err;
    }
    /* a PostgreSQL that cannot run the workload with a connection per
     * worker stops the start (overlap db is waited for instead) */
    char msg[512];
    if ((err = db_check(cfg->db_addr, cfg->wl, cfg->workers, msg, sizeof(msg))) < 0) {
        fprintf(stderr, "overlap serve: database %s: %s\n", cfg->db_addr, msg);
        return err;
    }
    wl_burn_calibrate(); /* before any load, so calibration is undisturbed */
    if ((err = start_workers(p)) < 0) {
        fprintf(stderr, "overlap serve: cannot start workers: %s\n", strerror(-err));
        return err;
    }
    wait_ready(p);
    proc_announce(bound);
    return 0;
}

uint64_t pool__stop_deadline(const struct pool *p)
{
    return proc_now_ns() + p->cfg->db_timeout_ns + EVLOOP_STOP_GRACE_NS;
}

/* Stops the workers and frees the pool: the one way out of pool_run. A
 * request still running past the stop's deadline (unfinished) keeps its
 * worker from being joined: then nothing is freed, and the process's exit
 * takes the thread with it. The counts are printed only after a run that
 * served. */
static void pool_teardown(struct pool *p, bool served, bool unfinished)
{
    pool__queue_stop(&p->queue);
    pool__leader_stop_workers(p);
    if (unfinished) {
        fprintf(stderr, "overlap serve: requests still running at exit\n");
        return;
    }
    for (int i = 0; i < p->nstarted; i++)
        pthread_join(p->workers[i].thread, NULL);
    if (served)
        fprintf(stderr,
                "overlap serve: pool served %lu requests, shed %lu (no worker free), "
                "accept queue peak %lu of %lu\n",
                (unsigned long)atomic_load(&p->served), (unsigned long)atomic_load(&p->shed),
                (unsigned long)atomic_load(&p->backlog_peak),
                (unsigned long)atomic_load(&p->backlog_limit));
    pool_free(p);
}

int pool_run(const struct serve_config *cfg)
{
    struct pool p;
    bool unfinished = false;
    int err = pool_start(&p, cfg);
    if (!err)
        err = cfg->mode == SERVE_MODE_REQUEST  ? pool__run_request_mode(&p, &unfinished)
              : cfg->mode == SERVE_MODE_LEADER ? pool__run_leader_mode(&p, &unfinished)
                                               : pool__run_connection_mode(&p, &unfinished);
    pool_teardown(&p, err == 0, unfinished);
    return err ? 1 : 0;
}
