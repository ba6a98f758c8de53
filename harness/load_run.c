/* The engine of `overlap load`, built like wrk: each thread owns an epoll
 * loop, its share of the connections, a histogram, a PRNG and its share of
 * the open-loop schedule; nothing on the hot path allocates or locks, and the
 * threads meet only at the start (a barrier) and at the end (a merge). */
#define _GNU_SOURCE
#include "load.h"
#include "load_poll.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "heap.h"
#include "proc.h"

#define TICK_NS      10000000 /* timeouts are checked this often; also the longest sleep */
#define RECONNECT_NS 10000000 /* after a failed connect: a refusing server is not spun on */
#define READ_BUF     16384    /* one read's worth; bodies are counted, never kept */
#define REQUEST_MAX  2048     /* one request's bytes: the request line and Host */

enum io { OK, ERROR, RETRY };

enum conn_state {
    CONN_DOWN,       /* closed; waits in the timer heap to reconnect */
    CONN_CONNECTING, /* connect(2) in progress, waiting to be writable */
    CONN_IDLE,       /* connected, nothing in flight; open loop: on the idle stack */
    CONN_THINKING,   /* closed loop: waits in the timer heap out its think time */
    CONN_WRITING,    /* a request partly written, waiting to be writable */
    CONN_READING,    /* the request written, its response coming */
};

/* What every thread reads and none writes: the address and the requests. */
struct target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int nrequests;
    char (*request)[REQUEST_MAX];
    size_t *request_len;
};

struct conn {
    int fd;
    enum conn_state state;
    struct worker *w;
    struct heap_node timer; /* DOWN and THINKING: when the heap hands it back */
    bool want_out;          /* the poller watches it for writable too */
    uint64_t idle_since;    /* open loop: when it last became free */
    /* the request in flight */
    int type;
    size_t written;
    uint64_t intended, sent;
    bool measured, got_byte;
    int timeline; /* its timeline row, or -1 */
    struct load_response res;
};

struct worker {
    const struct load_config *cfg;
    const struct target *t;
    struct shared *sh;
    int index;
    pthread_t thread;
    int epfd;
    int nconns;
    struct conn *conns;
    struct heap timers; /* reconnects and think times, room reserved for every connection */
    struct conn **idle; /* open loop: connections with nothing in flight */
    int nidle;
    struct wl_rng rng;
    bool running;
    /* times in ns on CLOCK_MONOTONIC */
    uint64_t start, warm_end, end, next_tick, last_done;
    /* open loop: the next request's intended time; those before now are due */
    uint64_t next_intended;
    double gap_ns;
    uint64_t inflight; /* measured requests in flight */
    struct hist *latency;
    uint64_t requests, ok, sent, sent_in_window, scheduled, errors_connect, errors_timeout,
        errors_read, errors_status, waited, late;
    bool interrupted;
    int ntimeline;
    struct load_timeline *timeline;
    char buf[READ_BUF];
};

/* Where the threads meet: the start barrier and the common start time. */
struct shared {
    pthread_barrier_t barrier;
    uint64_t start;
};

static bool stopping(const struct worker *w)
{
    return w->cfg->stop && *w->cfg->stop;
}

/* c waits in the timer heap until at; this cannot fail, since room for
 * every connection was reserved at the start. */
static void wait_until(struct conn *c, uint64_t at)
{
    heap_set(&c->w->timers, &c->timer, at);
}

/* ---- socket operations: OK, ERROR or RETRY ---- */

static enum io sock_connect(struct conn *c)
{
    const struct target *t = c->w->t;
    int one = 1;
    c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return ERROR;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)&t->addr, t->addrlen) == 0)
        return OK;
    return errno == EINPROGRESS ? RETRY : ERROR;
}

static enum io sock_write(struct conn *c)
{
    const struct target *t = c->w->t;
    size_t len = t->request_len[c->type] - c->written;
    ssize_t n = write(c->fd, t->request[c->type] + c->written, len);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? RETRY : ERROR;
    c->written += (size_t)n;
    return c->written == t->request_len[c->type] ? OK : RETRY;
}

static int watch(struct conn *c, bool out)
{
    c->want_out = out;
    return load__poll_modify(c->w->epfd, c->fd, out, c);
}

/* ---- the connection's life ---- */

/* Every transition passes here: the one place to watch a connection's life. */
static void set_state(struct conn *c, enum conn_state state)
{
    c->state = state;
}

static void send_request(struct conn *c, uint64_t intended, uint64_t now);
static void dispatch_due(struct worker *w, uint64_t now);

/* Takes c off the idle stack: rare (the server closed an idle connection). */
static void idle_remove(struct worker *w, struct conn *c)
{
    for (int i = 0; i < w->nidle; i++)
        if (w->idle[i] == c) {
            w->idle[i] = w->idle[--w->nidle];
            return;
        }
}

static void close_conn(struct conn *c)
{
    if (c->state == CONN_IDLE)
        idle_remove(c->w, c);
    if (c->fd >= 0)
        close(c->fd); /* also drops it from the epoll set */
    c->fd = -1;
    heap_remove(&c->w->timers, &c->timer);
}

/* The measured request in flight, if any, is lost: counted, then forgotten. */
static void lose_request(struct conn *c, uint64_t *counter)
{
    if ((c->state == CONN_WRITING || c->state == CONN_READING) && c->measured) {
        (*counter)++;
        c->w->inflight--;
    }
    c->measured = false;
}

/* Closes c and schedules a reconnect after delay ns. */
static void reconnect_later(struct conn *c, uint64_t now, uint64_t delay)
{
    close_conn(c);
    set_state(c, CONN_DOWN);
    wait_until(c, now + delay);
}

static void connect_failed(struct conn *c, uint64_t now)
{
    c->w->errors_connect++;
    reconnect_later(c, now, RECONNECT_NS);
}

static void conn_failed(struct conn *c, uint64_t *counter, uint64_t now)
{
    lose_request(c, counter);
    reconnect_later(c, now, 0);
}

/* c has nothing in flight: give it the next request, or let it wait. */
static void conn_ready(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    set_state(c, CONN_IDLE);
    if (w->cfg->rate > 0) {
        c->idle_since = now;
        w->idle[w->nidle++] = c;
        if (w->running)
            dispatch_due(w, now);
    } else if (w->running && now < w->end) {
        send_request(c, now, now);
    }
}

static void start_connect(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    enum io r = sock_connect(c);
    c->sent = now; /* the connect's start, for its timeout */
    if (r == ERROR) {
        connect_failed(c, now);
        return;
    }
    if (load__poll_add(w->epfd, c->fd, true, c) < 0) {
        connect_failed(c, now);
        return;
    }
    c->want_out = true;
    set_state(c, CONN_CONNECTING);
}

static void socket_connected(struct conn *c, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err || watch(c, false) < 0) {
        connect_failed(c, now);
        return;
    }
    conn_ready(c, now);
}

static void socket_writeable(struct conn *c, uint64_t now)
{
    switch (sock_write(c)) {
    case OK:
        set_state(c, CONN_READING);
        if (c->want_out && watch(c, false) < 0)
            goto error;
        return;
    case RETRY:
        if (!c->want_out && watch(c, true) < 0)
            goto error;
        return;
    case ERROR: goto error;
    }
error:
    conn_failed(c, &c->w->errors_read, now);
}

static void send_request(struct conn *c, uint64_t intended, uint64_t now)
{
    struct worker *w = c->w;
    const struct load_config *cfg = w->cfg;
    c->type = cfg->wl ? wl_pick_request(cfg->wl, &w->rng) : 0;
    c->written = 0;
    c->intended = intended;
    c->sent = now;
    c->got_byte = false;
    c->measured = intended >= w->warm_end && intended < w->end;
    c->timeline = w->ntimeline < cfg->timeline_max ? w->ntimeline++ : -1;
    if (c->timeline >= 0) {
        struct load_timeline *tl = &w->timeline[c->timeline];
        memset(tl, 0, sizeof(*tl));
        tl->intended = intended;
        tl->sent = now;
        tl->request = cfg->wl ? c->type : -1;
    }
    if (c->measured) {
        w->inflight++;
        w->sent++;
    }
    if (now >= w->warm_end && now < w->end)
        w->sent_in_window++;
    load_response_start(&c->res, c->timeline >= 0);
    set_state(c, CONN_WRITING);
    socket_writeable(c, now);
}

static void record_timeline(struct conn *c, uint64_t now)
{
    struct load_timeline *tl = &c->w->timeline[c->timeline];
    tl->done = now;
    tl->status = c->res.status;
    load_timing_compact(c->res.timing, c->res.timing_len, tl->phases, sizeof(tl->phases));
}

static void response_done(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    int status = c->res.status;
    if (c->timeline >= 0)
        record_timeline(c, now);
    if (c->measured)
        w->inflight--;
    /* The open loop counts the window's intended requests, however late their
     * answers; the closed loop counts the answers that arrive in the window,
     * as wrk does: it stops at the window's end, so counting by send time
     * would drop every request still in flight then (a whole response time's
     * worth, which at many clients is most of them). */
    if (w->cfg->rate > 0 ? c->measured : now >= w->warm_end && now < w->end) {
        w->requests++;
        hist_record(w->latency, now - c->intended);
        if (status >= 200 && status < 400)
            w->ok++;
        else
            w->errors_status++;
        if (now > w->last_done)
            w->last_done = now;
    }
    c->measured = false;
    if (!c->res.keep_alive) {
        reconnect_later(c, now, 0);
    } else if (w->cfg->rate <= 0 && w->cfg->think) {
        set_state(c, CONN_THINKING);
        wait_until(c, now + wl_dist_sample(&w->cfg->think_dist, &w->rng));
    } else {
        conn_ready(c, now);
    }
}

static void socket_readable(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    ssize_t n = read(c->fd, w->buf, sizeof(w->buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (c->state != CONN_READING && c->state != CONN_WRITING) {
        reconnect_later(c, now, 0); /* the server closed an idle connection, or babbled */
        return;
    }
    if (n < 0)
        goto error;
    if (n > 0 && !c->got_byte) {
        c->got_byte = true;
        if (c->timeline >= 0)
            w->timeline[c->timeline].first_byte = now;
    }
    switch (load_response_feed(&c->res, w->buf, (size_t)n)) {
    case LOAD_RESPONSE_DONE:
        response_done(c, now);
        if (n == 0 && c->state != CONN_DOWN)
            reconnect_later(c, now, 0);
        return;
    case LOAD_RESPONSE_MORE: return;
    case LOAD_RESPONSE_ERROR: goto error;
    }
error:
    conn_failed(c, &w->errors_read, now);
}

static void on_event(struct conn *c, const struct load_poll_event *ev, uint64_t now)
{
    if (c->state == CONN_CONNECTING) {
        socket_connected(c, now);
        return;
    }
    if (ev->writable && c->state == CONN_WRITING)
        socket_writeable(c, now);
    if (ev->readable && c->fd >= 0 && c->state != CONN_DOWN)
        socket_readable(c, now);
}

/* ---- the schedule ---- */

static void advance_schedule(struct worker *w)
{
    double gap = w->gap_ns;
    if (w->next_intended >= w->warm_end && w->next_intended < w->end)
        w->scheduled++;
    if (w->cfg->arrival == LOAD_POISSON)
        gap *= -log(1.0 - wl_rng_double(&w->rng));
    w->next_intended += (uint64_t)gap;
}

/* Open loop: sends every due request an idle connection can take. A due
 * request older than the timeout is dropped and counted: the answer would
 * come too late to matter. */
static void dispatch_due(struct worker *w, uint64_t now)
{
    while (w->next_intended <= now && w->next_intended < w->end) {
        if (now - w->next_intended > w->cfg->timeout_ns) {
            if (w->next_intended >= w->warm_end)
                w->errors_timeout++;
            advance_schedule(w);
            continue;
        }
        if (w->nidle == 0)
            return;
        struct conn *c = w->idle[--w->nidle];
        /* A request that found a free connection and still left late was
         * held up by the generator; one that had to wait for a connection,
         * by the server (or by too few --clients). */
        if (w->next_intended >= w->warm_end) {
            if (c->idle_since > w->next_intended)
                w->waited++;
            else if (now - w->next_intended > LOAD_LATE_NS)
                w->late++;
        }
        send_request(c, w->next_intended, now);
        advance_schedule(w);
    }
}

/* Every tick: requests and connects that outlived the timeout. */
static void check_timeouts(struct worker *w, uint64_t now)
{
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->sent >= now || now - c->sent <= w->cfg->timeout_ns)
            continue;
        if (c->state == CONN_CONNECTING)
            connect_failed(c, now);
        else if (c->state == CONN_WRITING || c->state == CONN_READING)
            conn_failed(c, &w->errors_timeout, now);
    }
}

/* The heap's due connections: reconnects and the end of think times. */
static void wake_due(struct worker *w, uint64_t now)
{
    struct heap_node *x;
    while ((x = heap_pop_due(&w->timers, now))) {
        struct conn *c = heap_entry(x, struct conn, timer);
        if (c->state == CONN_DOWN)
            start_connect(c, now);
        else if (now < w->end)
            send_request(c, now, now);
        else
            set_state(c, CONN_IDLE);
    }
}

/* The earliest moment something is due: what the loop may sleep until. */
static uint64_t next_deadline(const struct worker *w)
{
    uint64_t d = w->next_tick, timer = heap_next(&w->timers);
    if (timer < d)
        d = timer;
    if (w->running && w->cfg->rate > 0 && w->nidle && w->next_intended < w->end &&
        w->next_intended < d)
        d = w->next_intended;
    if (w->running && w->cfg->rate <= 0 && w->end < d)
        d = w->end;
    return d;
}

static void poll_once(struct worker *w, uint64_t now)
{
    struct load_poll_event ev[LOAD_POLL_MAX_EVENTS];
    uint64_t d = next_deadline(w);
    int n = load__poll_wait(w->epfd, ev, LOAD_POLL_MAX_EVENTS, d > now ? d - now : 0);
    for (int i = 0; i < n; i++) {
        now = proc_now_ns();
        on_event(ev[i].data, &ev[i], now);
        /* a long batch must not hold up requests that fell due meanwhile */
        if (w->running && w->cfg->rate > 0 && w->nidle && w->next_intended <= now)
            dispatch_due(w, now);
    }
}

/* Whether the run is over for this thread. */
static bool finished(struct worker *w, uint64_t now)
{
    if (stopping(w)) {
        w->interrupted = true;
        return true;
    }
    if (now < w->end)
        return false;
    if (w->cfg->rate <= 0)
        return true;
    /* open loop: the window's requests are all sent and answered, or late */
    bool backlog = w->next_intended < w->end;
    return (!backlog && w->inflight == 0) || now > w->end + w->cfg->timeout_ns + TICK_NS;
}

/* What was never answered by the end counts as timed out. */
static void count_leftovers(struct worker *w)
{
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (w->cfg->rate > 0)
            lose_request(c, &w->errors_timeout);
    }
    while (w->cfg->rate > 0 && w->next_intended < w->end) {
        if (w->next_intended >= w->warm_end)
            w->errors_timeout++;
        advance_schedule(w);
    }
}

/* Connects every connection before the clock starts, so the first requests
 * do not pay for the handshakes. */
static void connect_all(struct worker *w)
{
    uint64_t now = proc_now_ns(), deadline = now + w->cfg->timeout_ns;
    for (int i = 0; i < w->nconns; i++)
        start_connect(&w->conns[i], now);
    for (;;) {
        int pending = 0;
        for (int i = 0; i < w->nconns; i++)
            pending += w->conns[i].state == CONN_CONNECTING;
        now = proc_now_ns();
        if (!pending || now > deadline || stopping(w))
            return;
        w->next_tick = now + TICK_NS;
        poll_once(w, now);
    }
}

static void start_clock(struct worker *w)
{
    const struct load_config *cfg = w->cfg;
    if (pthread_barrier_wait(&w->sh->barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
        w->sh->start = proc_now_ns();
    pthread_barrier_wait(&w->sh->barrier);
    w->start = w->sh->start;
    w->warm_end = w->start + cfg->warmup_ns;
    w->end = w->warm_end + cfg->duration_ns;
    w->next_tick = w->start + TICK_NS;
    w->running = true;
    if (cfg->rate > 0) {
        /* each thread sends rate/T; uniform gaps interleave the threads */
        w->gap_ns = 1e9 * cfg->threads / cfg->rate;
        w->next_intended = w->start;
        if (cfg->arrival == LOAD_UNIFORM)
            w->next_intended += (uint64_t)(1e9 * w->index / cfg->rate);
        else
            advance_schedule(w);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    connect_all(w);
    start_clock(w);
    uint64_t now = proc_now_ns();
    if (w->cfg->rate > 0) {
        dispatch_due(w, now);
    } else {
        for (int i = 0; i < w->nconns; i++)
            if (w->conns[i].state == CONN_IDLE)
                send_request(&w->conns[i], now, now);
    }
    while (!finished(w, now = proc_now_ns())) {
        wake_due(w, now);
        if (w->cfg->rate > 0)
            dispatch_due(w, now);
        if (now >= w->next_tick) {
            check_timeouts(w, now);
            w->next_tick = now + TICK_NS;
        }
        poll_once(w, now);
    }
    if (!w->interrupted)
        count_leftovers(w);
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
        int n = cfg->wl
                    ? snprintf(t->request[i], REQUEST_MAX, "GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n",
                               cfg->wl->requests[i].name, cfg->target)
                    : snprintf(t->request[i], REQUEST_MAX, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                               cfg->path ? cfg->path : "/", cfg->target);
        if (n < 0 || n >= REQUEST_MAX)
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
    heap_init(&w->timers);
    w->idle = calloc((size_t)nconns, sizeof(*w->idle));
    w->latency = hist_create();
    if (cfg->timeline_max > 0)
        w->timeline = calloc((size_t)cfg->timeline_max, sizeof(*w->timeline));
    if (w->epfd < 0 || !w->conns || heap_reserve(&w->timers, (size_t)nconns) < 0 || !w->idle ||
        !w->latency || (cfg->timeline_max > 0 && !w->timeline))
        return -1;
    wl_rng_seed(&w->rng, cfg->seed * 0x9e3779b97f4a7c15u + (uint64_t)index + 1);
    for (int i = 0; i < nconns; i++) {
        w->conns[i].fd = -1;
        w->conns[i].w = w;
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
    free(w->idle);
    free(w->timeline);
    hist_destroy(w->latency);
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

static void merge(const struct load_config *cfg, struct worker *ws, int n, struct load_result *res)
{
    uint64_t last_done = 0;
    for (int i = 0; i < n; i++) {
        struct worker *w = &ws[i];
        hist_merge(res->latency, w->latency);
        res->requests += w->requests;
        res->ok += w->ok;
        res->sent += w->sent;
        res->scheduled += w->scheduled;
        res->errors_connect += w->errors_connect;
        res->errors_timeout += w->errors_timeout;
        res->errors_read += w->errors_read;
        res->errors_status += w->errors_status;
        res->waited += w->waited;
        res->late += w->late;
        res->interrupted |= w->interrupted;
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
    } else if (cfg->rate > 0) {
        window += last_done / 1e9; /* late answers stretch the window they are counted in */
    }
    res->window_s = window;
    res->throughput_rps = window > 0 ? res->ok / window : 0;
    res->intended_rps = cfg->rate;
    res->achieved_rps = cfg->rate <= 0 ? res->throughput_rps
                        : sending > 0  ? sent_in_window / sending
                                       : 0;
    merge_timeline(cfg, ws, n, res);
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
    ws = calloc((size_t)run.threads, sizeof(*ws));
    if (!res->latency || !ws || build_requests(cfg, &t) < 0) {
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
    free(res->timeline);
    res->latency = NULL;
    res->timeline = NULL;
}
