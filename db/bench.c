/* `overlap db --bench`: measures the database itself, so a benchmark can
 * show it is never the bottleneck. The server runs on its own thread of this
 * process, behind a Unix socket, exactly as `overlap db` runs it; the client
 * side uses db_async, the event-loop engines' client. Two phases:
 *   1. zero-latency point selects, 64 in flight on one connection: queries/s;
 *   2. 10 ms point selects, 10,000 in flight over 10 connections: how late
 *      answers leave (write time - deadline, taken in the server), beside a
 *      bare 1 ms timerfd's lateness measured by another thread meanwhile;
 *   3. 10,000 answers held for 1 s: the server's CPU while it only waits,
 *      which shows it sleeps in epoll_wait rather than polling. */
#define _GNU_SOURCE /* pthread_getcpuclockid */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "db_internal.h"
#include "proc.h"

#define THROUGHPUT_INFLIGHT 64
#define LATENESS_CONNS      10
#define LATENESS_PER_CONN   1000 /* 10 x 1,000 = 10,000 in flight */
#define WARMUP_NS           300000000ull

static const char bench_workload[] =
    "[workload]\nname = db-bench\n"
    "[database]\ndataset = techempower\n"
    "[query.point]\nsql = SELECT id, randomNumber FROM World WHERE id = ?\n"
    "params = int 1 10000\nlatency = fixed 0ms\n"
    "[query.held]\nsql = SELECT id, randomNumber FROM World WHERE id = ?\n"
    "params = int 1 10000\nlatency = fixed 10ms\n"
    "[query.idle]\nsql = SELECT id, randomNumber FROM World WHERE id = ?\n"
    "params = int 1 10000\nlatency = fixed 1s\n"
    "[request.point]\nsteps = query point\n";

enum { Q_POINT = 0, Q_HELD = 1, Q_IDLE = 2 };

/* ---- one client connection keeping a number of queries in flight ---- */

struct client {
    struct db_async *a;
    struct wl_rng rng;
    uint16_t query;
    uint32_t next_tag;
    uint64_t answered, bad; /* answers counted inside the window; wrong ones */
    bool counting;
    bool refill; /* send a new query for each answer */
    const struct wl_workload *wl;
};

static int send_one(struct client *c)
{
    struct db_value params[DB_MAX_PARAMS];
    int n = db_bind_params(c->wl, c->query, &c->rng, params);
    return db_async_send(c->a, ++c->next_tag, c->query, params, n);
}

static void on_result(void *ctx, const struct db_result *res)
{
    struct client *c = ctx;
    bool ok = res->status == DB_OK && res->nrows == 1 && res->ncols == 2;
    if (c->counting)
        c->answered++;
    c->bad += !ok;
    if (c->refill)
        send_one(c); /* keep the number in flight constant */
}

/* Drives the clients until the deadline; counting starts at count_from. */
static int drive(struct client *cl, int n, uint64_t count_from, uint64_t until)
{
    struct pollfd pf[LATENESS_CONNS];
    for (;;) {
        uint64_t now = proc_now_ns();
        if (now >= until)
            return 0;
        for (int i = 0; i < n; i++) {
            cl[i].counting = now >= count_from;
            pf[i] =
                (struct pollfd){.fd = db_async_fd(cl[i].a),
                                .events = POLLIN | (db_async_want_write(cl[i].a) ? POLLOUT : 0)};
        }
        if (poll(pf, (nfds_t)n, 50) < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            int rc = 0;
            if (pf[i].revents & POLLOUT)
                rc = db_async_on_writable(cl[i].a);
            if (rc == 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                rc = db_async_on_readable(cl[i].a, on_result, &cl[i]);
            if (rc < 0)
                return rc;
        }
    }
}

static int open_clients(struct client *cl, int n, const char *addr, const struct wl_workload *wl,
                        uint16_t query, int inflight)
{
    for (int i = 0; i < n; i++) {
        memset(&cl[i], 0, sizeof(cl[i]));
        cl[i].wl = wl;
        cl[i].query = query;
        cl[i].refill = query != Q_IDLE;
        wl_rng_seed(&cl[i].rng, 1000 + (uint64_t)i);
        int rc = db_async_open(addr, &cl[i].a);
        if (rc < 0)
            return rc;
        for (int k = 0; k < inflight; k++)
            if ((rc = send_one(&cl[i])) < 0)
                return rc;
    }
    return 0;
}

static void close_clients(struct client *cl, int n)
{
    for (int i = 0; i < n; i++)
        db_async_close(cl[i].a);
}

/* ---- the bare timerfd: the platform's floor ---- */

struct floor_probe {
    atomic_bool stop;
    const atomic_bool *recording; /* samples count only inside the window */
    uint64_t *samples;
    size_t n, cap;
};

static void *probe_timerfd(void *arg)
{
    struct floor_probe *fp = arg;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (tfd < 0)
        return NULL;
    while (!atomic_load(&fp->stop) && fp->n < fp->cap) {
        uint64_t deadline = proc_now_ns() + 1000000u, expirations;
        struct itimerspec its = {.it_value = proc_timespec(deadline)};
        if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ||
            read(tfd, &expirations, sizeof(expirations)) != sizeof(expirations))
            break;
        uint64_t late = proc_now_ns() - deadline;
        if (atomic_load(fp->recording))
            fp->samples[fp->n++] = late;
    }
    close(tfd);
    return NULL;
}

/* ---- reporting ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void print_spread(const char *what, uint64_t *v, size_t n)
{
    if (n == 0) {
        printf("  %-34s no samples\n", what);
        return;
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    printf("  %-34s p50 %7.1f us  p99 %7.1f us  max %8.1f us  (%zu samples)\n", what,
           v[n / 2] / 1e3, v[(size_t)((double)(n - 1) * 0.99)] / 1e3, v[n - 1] / 1e3, n);
}

/* ---- the server's side: how late held answers leave ---- */

/* Filled by the server's thread through its on_due hook; read once that
 * thread has stopped. */
struct lateness {
    atomic_bool recording; /* samples count only inside the window; flipped by the bench */
    uint64_t *samples;
    size_t n, cap;
    size_t peak_held; /* the most answers the server held at once */
};

static void on_answer_due(void *ctx, uint64_t deadline, uint64_t now, size_t held)
{
    struct lateness *l = ctx;
    if (held > l->peak_held)
        l->peak_held = held;
    if (l->n < l->cap && atomic_load(&l->recording))
        l->samples[l->n++] = now - deadline;
}

/* ---- the run ---- */

struct bench {
    char dir[256], ini[300], sock[300], addr[310];
    struct wl_workload *wl;
    struct db__server *server;
    pthread_t server_thread;
    int stop_fd;
    struct lateness late;
};

static void *run_server(void *arg)
{
    struct bench *b = arg;
    db__server_run(b->server);
    return NULL;
}

static double thread_cpu_s(pthread_t t)
{
    clockid_t id;
    struct timespec ts;
    if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) < 0)
        return 0;
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int start(struct bench *b, uint64_t seed)
{
    char err[WL_ERR_LEN + 256];
    int status;
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof(b->dir), "%s/overlap-db-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->dir)) {
        fprintf(stderr, "overlap db --bench: cannot make a directory: %s\n", strerror(errno));
        return 1;
    }
    snprintf(b->ini, sizeof(b->ini), "%s/bench.ini", b->dir);
    snprintf(b->sock, sizeof(b->sock), "unix:%s/db.sock", b->dir);
    FILE *f = fopen(b->ini, "w");
    if (!f || fputs(bench_workload, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "overlap db --bench: cannot write %s\n", b->ini);
        return 1;
    }
    if (wl_load(b->ini, &b->wl, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    b->stop_fd = eventfd(0, EFD_CLOEXEC);
    struct db__server_config cfg = {.wl = b->wl,
                                    .listen = b->sock,
                                    .seed = seed,
                                    .on_due = on_answer_due,
                                    .on_due_ctx = &b->late,
                                    .stop_fd = b->stop_fd};
    if (b->stop_fd < 0 || db__server_open(&cfg, &b->server, err, sizeof(err), &status) < 0) {
        fprintf(stderr, "overlap db --bench: %s\n", b->stop_fd < 0 ? strerror(errno) : err);
        return 1;
    }
    snprintf(b->addr, sizeof(b->addr), "%s", db__server_addr(b->server));
    if (pthread_create(&b->server_thread, NULL, run_server, b) != 0) {
        db__server_close(b->server);
        b->server = NULL;
        return 1;
    }
    return 0;
}

static void finish(struct bench *b)
{
    if (b->server) {
        uint64_t one = 1;
        if (write(b->stop_fd, &one, sizeof(one)) == sizeof(one))
            pthread_join(b->server_thread, NULL);
        db__server_close(b->server);
    }
    if (b->stop_fd > 0)
        close(b->stop_fd);
    wl_free(b->wl);
    unlink(b->ini);
    rmdir(b->dir);
}

static int phase_throughput(struct bench *b, double seconds)
{
    struct client cl = {0};
    int rc = open_clients(&cl, 1, b->addr, b->wl, Q_POINT, THROUGHPUT_INFLIGHT);
    uint64_t t0 = proc_now_ns(), from = t0 + WARMUP_NS, until = from + (uint64_t)(seconds * 1e9);
    if (rc == 0)
        rc = drive(&cl, 1, from, until);
    if (rc == 0) {
        printf("zero-latency point selects, %d in flight, one Unix-socket connection:\n",
               THROUGHPUT_INFLIGHT);
        printf("  %.0f queries/s over %.1f s (%llu wrong answers)\n", (double)cl.answered / seconds,
               seconds, (unsigned long long)cl.bad);
    }
    close_clients(&cl, 1);
    return rc;
}

static int phase_lateness(struct bench *b, double seconds, struct floor_probe *fp)
{
    struct client cl[LATENESS_CONNS];
    pthread_t probe;
    memset(cl, 0, sizeof(cl));
    int rc = open_clients(cl, LATENESS_CONNS, b->addr, b->wl, Q_HELD, LATENESS_PER_CONN);
    if (rc == 0 && pthread_create(&probe, NULL, probe_timerfd, fp) != 0)
        rc = -EAGAIN;
    if (rc < 0) {
        close_clients(cl, LATENESS_CONNS);
        return rc;
    }
    uint64_t t0 = proc_now_ns(), from = t0 + WARMUP_NS, until = from + (uint64_t)(seconds * 1e9);
    rc = drive(cl, LATENESS_CONNS, from, from); /* warm up: fill the heap */
    double cpu0 = thread_cpu_s(b->server_thread);
    atomic_store(&b->late.recording, true);
    if (rc == 0)
        rc = drive(cl, LATENESS_CONNS, from, until);
    atomic_store(&b->late.recording, false);
    double cpu = thread_cpu_s(b->server_thread) - cpu0;
    double wall = (double)(proc_now_ns() - from) / 1e9;
    atomic_store(&fp->stop, true);
    pthread_join(probe, NULL);
    uint64_t answered = 0, bad = 0;
    for (int i = 0; i < LATENESS_CONNS; i++) {
        answered += cl[i].answered;
        bad += cl[i].bad;
    }
    close_clients(cl, LATENESS_CONNS);
    if (rc == 0)
        printf("10 ms point selects, %d in flight over %d connections:\n"
               "  %.0f queries/s (%llu wrong answers), server thread CPU %.0f%% of one core\n",
               LATENESS_CONNS * LATENESS_PER_CONN, LATENESS_CONNS, (double)answered / seconds,
               (unsigned long long)bad, 100 * cpu / wall);
    return rc;
}

static int phase_idle(struct bench *b)
{
    struct client cl[LATENESS_CONNS];
    memset(cl, 0, sizeof(cl));
    int rc = open_clients(cl, LATENESS_CONNS, b->addr, b->wl, Q_IDLE, LATENESS_PER_CONN);
    uint64_t t0 = proc_now_ns();
    double cpu0 = 0, cpu = 0, wall = 1;
    if (rc == 0)
        rc = drive(cl, LATENESS_CONNS, 0, t0 + 200000000u); /* all sent and held */
    if (rc == 0) {
        uint64_t w0 = proc_now_ns();
        cpu0 = thread_cpu_s(b->server_thread);
        rc = drive(cl, LATENESS_CONNS, 0, t0 + 900000000u);
        cpu = thread_cpu_s(b->server_thread) - cpu0;
        wall = (double)(proc_now_ns() - w0) / 1e9;
    }
    if (rc == 0)
        rc = drive(cl, LATENESS_CONNS, 0, t0 + 2000000000u);
    uint64_t answered = 0;
    for (int i = 0; i < LATENESS_CONNS; i++)
        answered += cl[i].answered;
    close_clients(cl, LATENESS_CONNS);
    if (rc == 0)
        printf("%d answers held 1 s: server thread CPU %.1f%% of one core while they wait "
               "(%llu answered)\n",
               LATENESS_CONNS * LATENESS_PER_CONN, 100 * cpu / wall, (unsigned long long)answered);
    return rc;
}

int db__bench_main(double seconds, uint64_t seed)
{
    struct bench b = {.stop_fd = -1, .late.cap = 1u << 22}; /* 4M samples: a long run */
    struct floor_probe fp = {.cap = 1u << 20, .recording = &b.late.recording};
    signal(SIGPIPE, SIG_IGN);
    fp.samples = malloc(fp.cap * sizeof(*fp.samples));
    b.late.samples = malloc(b.late.cap * sizeof(*b.late.samples));
    int rc = 1;
    if (fp.samples && b.late.samples)
        rc = start(&b, seed);
    else
        fprintf(stderr, "overlap db --bench: out of memory\n");
    if (rc == 0 && (rc = phase_throughput(&b, seconds)) == 0 && (rc = phase_idle(&b)) == 0)
        rc = phase_lateness(&b, seconds, &fp);
    if (rc < 0)
        fprintf(stderr, "overlap db --bench: %s\n", strerror(-rc));
    if (rc == 0) {
        /* stop the server first: its samples are read once its thread is done */
        uint64_t one = 1;
        if (write(b.stop_fd, &one, sizeof(one)) == sizeof(one))
            pthread_join(b.server_thread, NULL);
        printf("lateness (actual - deadline) in the 10 ms phase; the server held up to %zu "
               "answers at once:\n",
               b.late.peak_held);
        print_spread("lateness of answers (server)", b.late.samples, b.late.n);
        print_spread("lateness of a bare 1 ms timerfd", fp.samples, fp.n);
        db__server_close(b.server);
        b.server = NULL;
    }
    finish(&b);
    free(fp.samples);
    free(b.late.samples);
    return rc == 0 ? 0 : 1;
}
