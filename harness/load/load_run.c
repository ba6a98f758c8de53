/* The engine of `overlap load`, built like wrk: each thread owns an epoll
 * loop, its share of the connections, a histogram, a PRNG and its share of
 * the open-loop schedule; nothing on the hot path allocates or locks, and the
 * threads meet only at the start (a barrier) and at the end (a merge). This
 * file sets the threads up, runs them and merges what they measured. */
#define _GNU_SOURCE
#include "load_internal.h"
#include "load_poll.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "proc.h"

static bool stopping(const struct worker *w)
{
    return w->cfg->stop && *w->cfg->stop;
}

/* Whether the run is over for this thread. */
static bool finished(struct worker *w, uint64_t now)
{
    if (stopping(w)) {
        w->interrupted = true;
        return true;
    }
    return now >= w->end && w->mode->drained(w, now);
}

/* Connects every connection before the clock starts, so the first requests
 * do not pay for the handshakes. */
static void connect_all(struct worker *w)
{
    uint64_t now = proc_now_ns(), deadline = now + w->cfg->timeout_ns;
    for (int i = 0; i < w->nconns; i++)
        load__start_connect(&w->conns[i], now);
    for (;;) {
        int pending = 0;
        for (int i = 0; i < w->nconns; i++)
            pending += w->conns[i].state == CONN_CONNECTING;
        now = proc_now_ns();
        if (!pending || now > deadline || stopping(w))
            return;
        w->next_tick = now + LOAD__TICK_NS;
        load__poll_once(w, now);
    }
}

static void start_clock(struct worker *w)
{
    const struct load_config *cfg = w->cfg;
    if (pthread_barrier_wait(&w->sh->barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
        uint64_t now = proc_now_ns(), epoch = load__epoch_ns();
        /* with --start-at, the warmup ends and the window opens at that
         * time, however late this thread woke: what fell due meanwhile
         * leaves at once and counts from when it was due, so that every
         * agent's schedule is the one asked for and their windows open
         * together (a late wake is the generator's lateness, not a skew) */
        if (cfg->start_at_ns) {
            uint64_t due = cfg->start_at_ns - cfg->warmup_ns;
            load__sleep_until_epoch(due, cfg->stop);
            now = proc_now_ns();
            epoch = load__epoch_ns();
            uint64_t late = epoch > due && epoch - due < now ? epoch - due : 0;
            now -= late;
            epoch -= late;
        }
        w->sh->start = now;
        w->sh->start_epoch = epoch;
    }
    pthread_barrier_wait(&w->sh->barrier);
    w->start = w->sh->start;
    w->warm_end = w->start + cfg->warmup_ns;
    w->end = w->warm_end + cfg->duration_ns;
    w->next_tick = w->start + LOAD__TICK_NS;
    w->running = true;
    load__intervals_start(w);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct load_config *cfg = w->cfg;
    /* connections opened long before --start-at would sit idle: a server may
     * close them */
    if (cfg->start_at_ns)
        load__sleep_until_epoch(
            cfg->start_at_ns - cfg->warmup_ns - cfg->timeout_ns - LOAD__CONNECT_LEAD_NS, cfg->stop);
    connect_all(w);
    start_clock(w);
    uint64_t now = proc_now_ns();
    w->mode->start(w, now);
    while (!finished(w, now = proc_now_ns())) {
        load__interval_at(w, now); /* the window opens, or an interval ends, on time */
        load__wake_due(w, now);
        w->mode->send_due(w, now);
        if (now >= w->next_tick) {
            load__check_timeouts(w, now);
            w->next_tick = now + LOAD__TICK_NS;
        }
        load__poll_once(w, now);
    }
    if (!w->interrupted)
        w->mode->leftovers(w, proc_now_ns());
    load__intervals_stop(w);
    return NULL;
}

/* ---- setup and the merge ---- */

/* One blocking connect with a deadline: is anybody listening? 0 or -errno. */
static int probe(const struct sockaddr *sa, socklen_t len, uint64_t timeout_ns)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
    socklen_t elen = sizeof(err);
    if (fd < 0)
        return -errno;
    if (connect(fd, sa, len) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int ms = (int)(timeout_ns / 1000000u) + 1;
            int r = poll(&p, 1, ms);
            err = r == 0 ? ETIMEDOUT : r < 0 ? errno : 0;
            if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
                err = errno;
        }
    }
    close(fd);
    return -err;
}

static int resolve(const struct load_config *cfg, struct target *t, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    if (proc_split_addr(cfg->target, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "bad target '%s' (expected HOST:PORT)", cfg->target);
        return -1;
    }
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s: %s", cfg->target, gai_strerror(rc));
        return -1;
    }
    int last = -ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next)
        if ((last = probe(ai->ai_addr, ai->ai_addrlen, cfg->timeout_ns)) == 0)
            break;
    if (ai) {
        memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
        t->addrlen = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (!ai) {
        snprintf(err, errlen, "cannot connect to %s: %s", cfg->target, strerror(-last));
        return -1;
    }
    return 0;
}

static int build_requests(const struct load_config *cfg, struct target *t)
{
    t->nrequests = cfg->wl ? cfg->wl->nrequests : 1;
    t->request = calloc((size_t)t->nrequests, sizeof(*t->request));
    t->request_len = calloc((size_t)t->nrequests, sizeof(*t->request_len));
    if (!t->request || !t->request_len)
        return -1;
    for (int i = 0; i < t->nrequests; i++) {
        int n =
            cfg->wl
                ? snprintf(t->request[i], LOAD__REQUEST_MAX, "GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n",
                           cfg->wl->requests[i].name, cfg->target)
                : snprintf(t->request[i], LOAD__REQUEST_MAX, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                           cfg->path ? cfg->path : "/", cfg->target);
        if (n < 0 || n >= LOAD__REQUEST_MAX)
            return -1;
        t->request_len[i] = (size_t)n;
    }
    return 0;
}

/* Room for every connection's descriptor, and a few for the rest. */
static int raise_fd_limit(int clients, char *err, size_t errlen)
{
    long need = (long)clients + 64, limit = proc_raise_nofile(need);
    if (limit >= 0 && limit < need) { /* -1: the limit is unknown, so try */
        snprintf(err, errlen, "%d clients need %lu open files; the limit is %lu", clients,
                 (unsigned long)need, (unsigned long)limit);
        return -1;
    }
    return 0;
}

static void free_by_request(struct load_request_figures *f, int n)
{
    for (int i = 0; f && i < n; i++)
        hist_destroy(f[i].latency);
    free(f);
}

/* One histogram per request type (--by-request), made here so that counting
 * an answer allocates nothing. 0 or -ENOMEM, with nothing left to free. */
static int alloc_by_request(struct load_request_figures **out, int n)
{
    struct load_request_figures *f = calloc((size_t)n, sizeof(*f));
    for (int i = 0; f && i < n; i++)
        if (!(f[i].latency = hist_create())) {
            free_by_request(f, n); /* hist_destroy(NULL) is a no-op */
            f = NULL;
        }
    *out = f;
    return f ? 0 : -ENOMEM;
}

static int worker_init(struct worker *w, const struct load_config *cfg, const struct target *t,
                       struct shared *sh, int index, int nconns)
{
    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->t = t;
    w->sh = sh;
    w->index = index;
    w->nconns = nconns;
    w->epfd = load__poll_create();
    w->conns = calloc((size_t)nconns, sizeof(*w->conns));
    w->mode = cfg->rate > 0 ? &load__open_mode : &load__closed_mode; /* the one switch */
    heap_init(&w->timers);
    w->sched.idle = calloc((size_t)nconns, sizeof(*w->sched.idle));
    w->latency = hist_create();
    w->uncorrected = hist_create();
    if (cfg->timeline_max > 0)
        w->timeline = calloc((size_t)cfg->timeline_max, sizeof(*w->timeline));
    if (w->epfd < 0 || !w->conns || heap_reserve(&w->timers, (size_t)nconns) < 0 ||
        !w->sched.idle || !w->latency || !w->uncorrected || load__intervals_init(w) < 0 ||
        (cfg->timeline_max > 0 && !w->timeline) ||
        (cfg->by_request && alloc_by_request(&w->by_request, t->nrequests) < 0))
        return -1;
    /* each agent of a run (--share) its own streams: independent arrivals */
    wl_rng_seed(&w->rng, cfg->seed * 0x9e3779b97f4a7c15u + (uint64_t)index + 1 +
                             ((uint64_t)cfg->share_index << 32));
    for (int i = 0; i < nconns; i++) {
        w->conns[i].fd = -1;
        w->conns[i].w = w;
        w->conns[i].idle_at = -1;
        heap_node_init(&w->conns[i].timer);
        w->conns[i].timeline = -1;
    }
    return 0;
}

static void worker_free(struct worker *w)
{
    for (int i = 0; w->conns && i < w->nconns; i++)
        if (w->conns[i].fd >= 0)
            close(w->conns[i].fd);
    if (w->epfd > 0)
        load__poll_destroy(w->epfd);
    free(w->conns);
    heap_free(&w->timers);
    free(w->sched.idle);
    free(w->timeline);
    hist_destroy(w->latency);
    hist_destroy(w->uncorrected);
    free_by_request(w->by_request, w->by_request ? w->t->nrequests : 0);
    load__intervals_free(w);
}

static int by_intended(const void *a, const void *b)
{
    const struct load_timeline *x = a, *y = b;
    return x->intended < y->intended ? -1 : x->intended > y->intended;
}

/* Rows relative to the start, the first K by intended time. */
static void merge_timeline(const struct load_config *cfg, struct worker *ws, int n,
                           struct load_result *res)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += ws[i].ntimeline;
    res->timeline = calloc((size_t)(total ? total : 1), sizeof(*res->timeline));
    if (!res->timeline)
        return;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < ws[i].ntimeline; k++) {
            struct load_timeline *tl = &res->timeline[res->ntimeline++];
            *tl = ws[i].timeline[k];
            uint64_t s = ws[i].start;
            tl->intended -= s;
            tl->sent -= s;
            tl->first_byte = tl->first_byte ? tl->first_byte - s : 0;
            tl->done = tl->done ? tl->done - s : 0;
        }
    qsort(res->timeline, (size_t)res->ntimeline, sizeof(*res->timeline), by_intended);
    if (res->ntimeline > cfg->timeline_max)
        res->ntimeline = cfg->timeline_max;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Each thread's figures per request type added into res's. */
static void merge_by_request(struct worker *ws, int n, struct load_result *res)
{
    for (int i = 0; i < n && res->by_request; i++)
        for (int k = 0; k < res->nby_request; k++) {
            struct load_request_figures *to = &res->by_request[k], *from = &ws[i].by_request[k];
            hist_merge(to->latency, from->latency);
            to->requests += from->requests;
            to->errors += from->errors;
        }
}

static void merge(const struct load_config *cfg, struct worker *ws, int n, struct load_result *res)
{
    uint64_t last_done = 0;
    for (int i = 0; i < n; i++) {
        struct worker *w = &ws[i];
        hist_merge(res->latency, w->latency);
        hist_merge(res->uncorrected, w->uncorrected);
        res->requests += w->requests;
        res->cpu_time_ns += w->cpu_time_ns;
        res->cpu_time_seen += w->cpu_time_seen;
        res->ok += w->ok;
        res->within_goal += w->within_goal;
        res->sent += w->sent;
        res->scheduled += w->scheduled;
        res->errors_connect += w->errors_connect;
        res->errors_timeout += w->errors_timeout;
        res->errors_read += w->errors_read;
        res->errors_status += w->errors_status;
        res->waited += w->waited;
        res->late += w->late;
        res->interrupted |= w->interrupted;
        res->connections += w->connections;
        for (int k = 0; k < w->nconns; k++)
            res->clients_answered += w->conns[k].answered;
        if (w->last_done > w->end && w->last_done - w->end > last_done)
            last_done = w->last_done - w->end;
    }
    uint64_t sent_in_window = 0;
    for (int i = 0; i < n; i++)
        sent_in_window += ws[i].sent_in_window;
    res->sent_in_window = sent_in_window;
    double window = cfg->duration_ns / 1e9, sending = window;
    if (res->interrupted) { /* the window as far as it got */
        uint64_t now = proc_now_ns(), warm_end = ws[0].warm_end;
        window = now > warm_end ? (now - warm_end) / 1e9 : 0;
        window = window < cfg->duration_ns / 1e9 ? window : cfg->duration_ns / 1e9;
        sending = window;
    } else {
        /* Late answers stretch the window they are counted in: only the open
         * loop's, since the closed loop counts no answer past the window. */
        window += last_done / 1e9;
    }
    res->window_s = window;
    res->window_epoch_ns = ws[0].sh->start_epoch + cfg->warmup_ns;
    res->throughput_rps = window > 0 ? res->ok / window : 0;
    res->intended_rps = cfg->rate;
    res->achieved_rps = ws[0].mode->achieved_rps(res, sending);
    merge_timeline(cfg, ws, n, res);
    merge_by_request(ws, n, res);
    load__intervals_merge(ws, n, res);
}

int load_run(const struct load_config *cfg, struct load_result *res, char *err, size_t errlen)
{
    struct target t = {0};
    struct shared sh;
    struct worker *ws = NULL;
    int threads = cfg->threads < cfg->clients ? cfg->threads : cfg->clients, started = 0, rc = -1;
    struct load_config run = *cfg;
    run.threads = threads > 0 ? threads : 1;

    memset(res, 0, sizeof(*res));
    if (resolve(cfg, &t, err, errlen) < 0 || raise_fd_limit(cfg->clients, err, errlen) < 0)
        return -1;
    res->latency = hist_create();
    res->uncorrected = hist_create();
    ws = calloc((size_t)run.threads, sizeof(*ws));
    if (cfg->by_request &&
        alloc_by_request(&res->by_request, cfg->wl ? cfg->wl->nrequests : 1) == 0)
        res->nby_request = cfg->wl ? cfg->wl->nrequests : 1;
    if (!res->latency || !res->uncorrected || !ws || build_requests(cfg, &t) < 0 ||
        (cfg->by_request && !res->nby_request)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < run.threads; i++) {
        int share = cfg->clients / run.threads + (i < cfg->clients % run.threads);
        if (worker_init(&ws[i], &run, &t, &sh, i, share) < 0) {
            snprintf(err, errlen, "out of memory or descriptors for %d connections", share);
            goto out;
        }
    }
    pthread_barrier_init(&sh.barrier, NULL, (unsigned)run.threads);
    double cpu0 = cpu_seconds();
    for (started = 0; started < run.threads; started++)
        if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]))
            abort(); /* the barrier would wait for it forever */
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    res->cpu_s = cpu_seconds() - cpu0;
    pthread_barrier_destroy(&sh.barrier);
    merge(&run, ws, run.threads, res);
    rc = 0;
out:
    for (int i = 0; ws && i < run.threads; i++)
        worker_free(&ws[i]);
    free(ws);
    free(t.request);
    free(t.request_len);
    if (rc < 0)
        load_result_free(res);
    return rc;
}

void load_result_free(struct load_result *res)
{
    hist_destroy(res->latency);
    hist_destroy(res->uncorrected);
    free_by_request(res->by_request, res->nby_request);
    res->by_request = NULL;
    res->nby_request = 0;
    free(res->timeline);
    for (int i = 0; res->intervals && i < res->nintervals; i++)
        free(res->intervals[i].cells);
    free(res->intervals);
    res->intervals = NULL;
    res->nintervals = 0;
    res->latency = NULL;
    res->uncorrected = NULL;
    res->timeline = NULL;
}
