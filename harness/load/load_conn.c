/* A load connection's life, the same in both modes: connect, write a request,
 * read its response, time out, reconnect. Where closed and open loop differ
 * (what a free connection does next, which answers count) it asks the mode;
 * callbacks are named for the moment they run, as in wrk. */
#define _GNU_SOURCE
#include "load_internal.h"
#include "load_poll.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

enum io { OK, ERROR, RETRY };

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
void load__set_state(struct conn *c, enum conn_state state)
{
    c->state = state;
}

void load__wait_until(struct conn *c, enum conn_state state, uint64_t at)
{
    load__set_state(c, state);
    /* cannot fail: room for every connection was reserved at the start */
    heap_set(&c->w->timers, &c->timer, at);
}

static void close_conn(struct conn *c)
{
    if (c->idle_at >= 0)
        load__idle_remove(c->w, c); /* rare: the server closed an idle connection */
    if (c->fd >= 0)
        close(c->fd); /* also drops it from the epoll set */
    c->fd = -1;
    heap_remove(&c->w->timers, &c->timer);
}

void load__count_error(struct worker *w, uint64_t *counter, uint64_t now)
{
    struct interval_row *row = load__interval_at(w, now);
    (*counter)++;
    if (row)
        row->errors++;
}

void load__lose_request(struct conn *c, uint64_t *counter, uint64_t now)
{
    if ((c->state == CONN_WRITING || c->state == CONN_READING) && c->measured) {
        load__count_error(c->w, counter, now);
        c->w->inflight--;
        if (c->w->by_request)
            c->w->by_request[c->type].errors++;
    }
    c->measured = false;
}

/* Closes c and schedules a reconnect after delay ns. */
static void reconnect_later(struct conn *c, uint64_t now, uint64_t delay)
{
    close_conn(c);
    load__wait_until(c, CONN_DOWN, now + delay);
}

static void connect_failed(struct conn *c, uint64_t now)
{
    load__count_error(c->w, &c->w->errors_connect, now);
    reconnect_later(c, now, LOAD__RECONNECT_NS);
}

static void conn_failed(struct conn *c, uint64_t *counter, uint64_t now)
{
    load__lose_request(c, counter, now);
    reconnect_later(c, now, 0);
}

void load__start_connect(struct conn *c, uint64_t now)
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
    load__set_state(c, CONN_CONNECTING);
}

static void socket_connected(struct conn *c, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err || watch(c, false) < 0) {
        connect_failed(c, now);
        return;
    }
    c->w->mode->ready(c, now);
}

static void socket_writeable(struct conn *c, uint64_t now)
{
    switch (sock_write(c)) {
    case OK:
        load__set_state(c, CONN_READING);
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

void load__send_request(struct conn *c, uint64_t intended, uint64_t now)
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
    load_response_start(&c->res, true); /* the timeline's phases, and cpu-time for any answer */
    load__set_state(c, CONN_WRITING);
    socket_writeable(c, now);
}

static void record_timeline(struct conn *c, uint64_t now)
{
    struct load_timeline *tl = &c->w->timeline[c->timeline];
    tl->done = now;
    tl->status = c->res.status;
    load_timing_compact(c->res.timing, c->res.timing_len, tl->phases, sizeof(tl->phases));
}

/* An answer the mode counts: its latency from the intended time, and from the
 * actual send (the same in closed loop, where a request goes when it is meant
 * to), in the run's figures, its interval's and its request type's. */
static void count_answer(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    struct interval_row *row = load__interval_at(w, now); /* never NULL: now is in the window */
    int status = c->res.status;
    uint64_t latency = now - c->intended;
    w->requests++;
    row->requests++;
    hist_record(w->latency, latency);
    hist_record(w->ival.hist, latency);
    hist_record(w->uncorrected, now - c->sent);
    uint64_t cpu_ns;
    if (load_timing_cpu_time(c->res.timing, c->res.timing_len, &cpu_ns)) {
        w->cpu_time_ns += cpu_ns;
        w->cpu_time_seen++;
    }
    bool ok = status >= 200 && status < 400;
    if (ok) {
        w->ok++;
        w->within_goal += latency <= w->cfg->goal_ns;
        row->ok++;
    } else {
        w->errors_status++;
        row->errors++;
    }
    if (w->by_request) { /* a histogram per type made at the start: nothing allocated here */
        struct load_request_figures *f = &w->by_request[c->type];
        f->requests++;
        f->errors += !ok;
        hist_record(f->latency, latency);
    }
    c->answered = true;
    if (now > w->last_done)
        w->last_done = now;
}

static void response_done(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    if (c->timeline >= 0)
        record_timeline(c, now);
    if (c->measured)
        w->inflight--;
    if (w->mode->counts(c, now))
        count_answer(c, now);
    c->measured = false;
    if (!c->res.keep_alive)
        reconnect_later(c, now, 0);
    else
        w->mode->answered(c, now);
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

/* ---- the loop's chores ---- */

void load__check_timeouts(struct worker *w, uint64_t now)
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

void load__wake_due(struct worker *w, uint64_t now)
{
    struct heap_node *x;
    while ((x = heap_pop_due(&w->timers, now))) {
        struct conn *c = heap_entry(x, struct conn, timer);
        if (c->state == CONN_DOWN)
            load__start_connect(c, now);
        else /* THINKING: its pause is over */
            w->mode->ready(c, now);
    }
}

/* The earliest moment something is due: what the loop may sleep until. */
static uint64_t next_deadline(const struct worker *w)
{
    uint64_t d = w->next_tick, timer = heap_next(&w->timers);
    if (timer < d)
        d = timer;
    if (w->running) {
        uint64_t m = w->mode->deadline(w);
        if (m < d)
            d = m;
    }
    return d;
}

void load__poll_once(struct worker *w, uint64_t now)
{
    struct load_poll_event ev[LOAD_POLL_MAX_EVENTS];
    uint64_t d = next_deadline(w);
    int n = load__poll_wait(w->epfd, ev, LOAD_POLL_MAX_EVENTS, d > now ? d - now : 0);
    for (int i = 0; i < n; i++) {
        now = proc_now_ns();
        on_event(ev[i].data, &ev[i], now);
        /* a long batch must not hold up requests that fell due meanwhile */
        if (w->running)
            w->mode->send_due(w, now);
    }
}
