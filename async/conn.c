/* A connection's state machine. conn_drive is the one switch over enum
 * conn_state; conn_set_state is the one place a state changes. A complete
 * head is routed at once, its body read and dropped (with a 100 Continue
 * first if the client asked and has not sent it all), and only then answered
 * or given a job (job.c) that runs inline until a query parks it; the answer
 * resumes the connection (async__conn_resume) after the batch of events in
 * which it came.
 *
 * Client sockets are edge-triggered (EPOLLET) and registered once: a
 * connection reads until the socket runs dry whenever it wants input (a short
 * read counts as dry: every later arrival raises a new edge), so a parked
 * request costs no epoll_ctl to silence its socket, and bytes that came while
 * it was parked are read when it is answered. EPOLLOUT is added only while
 * output is pending and removed as soon as it drains.
 *
 * Responses leave in request order because a connection runs one request at
 * a time: pipelined heads wait in the input buffer until the one before them
 * is answered. */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "async_int.h"

#define CONN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)
#define OUT_MIN     4096 /* the first size of an output buffer: a plaintext response and more */

static void conn_drive(struct conn *c);
static void conn_close(struct conn *c);

#ifndef NDEBUG
/* The transitions enum conn_state allows: a bit per state each may go to.
 * Any open connection may close (on an error, a timeout or shutdown). */
#define TO(state) (1u << (state))
static const unsigned conn_next_states[] = {
    [CONN_CLOSED] = TO(CONN_READING),
    [CONN_READING] = TO(CONN_DISCARDING) | TO(CONN_WRITING) | TO(CONN_CLOSING) | TO(CONN_CLOSED),
    [CONN_DISCARDING] =
        TO(CONN_RUNNING) | TO(CONN_READING) | TO(CONN_WRITING) | TO(CONN_CLOSING) | TO(CONN_CLOSED),
    [CONN_RUNNING] = TO(CONN_WAITING_DB) | TO(CONN_READING) | TO(CONN_CLOSING) | TO(CONN_CLOSED),
    [CONN_WAITING_DB] = TO(CONN_RUNNING) | TO(CONN_CLOSED),
    [CONN_WRITING] = TO(CONN_READING) | TO(CONN_DISCARDING) | TO(CONN_CLOSED),
    [CONN_CLOSING] = TO(CONN_LINGERING) | TO(CONN_CLOSED),
    [CONN_LINGERING] = TO(CONN_CLOSED),
};
#undef TO
#endif

/* Every state change passes here, and debug builds check it is one the
 * machine allows. */
static void conn_set_state(struct conn *c, enum conn_state state)
{
    assert(conn_next_states[c->state] & 1u << state);
    c->state = state;
}

/* ---- timers ---- */

static void on_conn_timeout(struct evloop_timer *t)
{
    struct conn *c = evloop_container(t, struct conn, timer);
    c->timer_kind = TIMER_NONE;
    conn_close(c); /* idle, slow head, stalled reader or lingering: all end the same */
}

/* Arms the connection's one timer for kind, keeping a deadline already set
 * for the same kind (a head's timeout counts from its first byte). */
static int conn_arm(struct conn *c, enum conn_timer kind, uint64_t after_ns)
{
    if (c->timer_kind == kind && heap_contains(&c->timer.node))
        return 0;
    c->timer_kind = kind;
    return evloop_timer_set(&c->loop->ev, &c->timer, c->loop->ev.now + after_ns);
}

static void conn_disarm(struct conn *c)
{
    evloop_timer_cancel(&c->loop->ev, &c->timer);
    c->timer_kind = TIMER_NONE;
}

/* ---- buffers and I/O ---- */

static bool out_pending(const struct conn *c)
{
    return c->out_start < c->out.len;
}

static int conn_watch_output(struct conn *c, bool on)
{
    uint32_t ev = CONN_EVENTS | (on ? EPOLLOUT : 0);
    if (ev == c->events)
        return 0;
    c->events = ev;
    return evloop_poll_mod(c->loop->ev.epfd, c->fd, ev, &c->watch);
}

/* Reads what the socket has into the input buffer, borrowing one if needed. */
static enum io_result conn_read(struct conn *c)
{
    struct loop *lp = c->loop;
    if (evloop_spare_take(&lp->ev.in_spares, &c->in, ASYNC_IN_BUF) < 0)
        return IO_ERROR;
    if (c->in_start == c->in.len) {
        c->in_start = c->in.len = 0;
    } else if (c->in.len == c->in.cap && c->in_start > 0) {
        memmove(c->in.data, c->in.data + c->in_start, c->in.len - c->in_start);
        c->in.len -= c->in_start;
        c->in_start = 0;
    }
    if (c->in.len == c->in.cap)
        return IO_ERROR; /* cannot happen: a full buffer without a whole head is 431 */
    if (!c->readable)
        return IO_RETRY;
    for (;;) {
        size_t room = c->in.cap - c->in.len;
        ssize_t n = read(c->fd, c->in.data + c->in.len, room);
        if (n > 0) {
            /* A short read emptied the socket: anything arriving later is a
             * new edge, so the read that would only say EAGAIN is skipped. */
            c->readable = (size_t)n == room || c->peer_done;
            c->in.len += n;
            return IO_OK;
        }
        if (n < 0 && errno == EINTR)
            continue;
        c->readable = false;
        return n < 0 && errno == EAGAIN ? IO_RETRY : IO_ERROR; /* 0 is EOF */
    }
}

/* Writes pending output; the buffer goes back to the spares once empty. */
static enum io_result conn_flush(struct conn *c)
{
    while (out_pending(c)) {
        ssize_t n = write(c->fd, c->out.data + c->out_start, c->out.len - c->out_start);
        if (n > 0) {
            c->out_start += n;
            if (c->timer_kind == TIMER_WRITE) /* progress: the stall clock restarts */
                evloop_timer_set(&c->loop->ev, &c->timer,
                                 c->loop->ev.now + c->loop->ev.cfg->idle_timeout_ns);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN ? IO_RETRY : IO_ERROR;
    }
    c->out_start = 0;
    evloop_spare_give(&c->loop->ev.out_spares, &c->out);
    return IO_OK;
}

/* Room for a response: borrows an output buffer when the connection has none. */
static int conn_out(struct conn *c, struct http_buf **out)
{
    struct loop *lp = c->loop;
    *out = &c->out;
    return evloop_spare_take(&lp->ev.out_spares, &c->out, OUT_MIN);
}

/* Input would block: wait for the next edge with the right timeout, and give
 * the input buffer back if it holds nothing (an idle connection holds none). */
static int conn_wait_input(struct conn *c)
{
    const struct serve_config *cfg = c->loop->ev.cfg;
    if (c->in_start == c->in.len && c->discard == 0) {
        c->in_start = 0;
        evloop_spare_give(&c->loop->ev.in_spares, &c->in);
        return conn_arm(c, TIMER_IDLE, cfg->idle_timeout_ns);
    }
    return conn_arm(c, TIMER_HEADER, cfg->header_timeout_ns);
}

/* ---- requests ---- */

/* The request's job ran to its end (RUNNING, not parked): its response goes
 * into the output buffer, to leave with the next flush, and the job back to
 * the free list. 0 or -ENOMEM. */
static int conn_answer(struct conn *c)
{
    struct job *j = c->job;
    bool keep_alive = j->keep_alive && !c->loop->ev.stopping;
    struct http_buf *out;
    int err = conn_out(c, &out);
    if (err == 0)
        err = async__job_write_response(j, out, keep_alive);
    c->job = NULL;
    async__job_release(j);
    c->close_after = !keep_alive;
    return err;
}

/* A whole head is at in_start: route it while its path is in the buffer and
 * keep what its answer needs, then drop its body (DISCARDING). */
static void conn_take_head(struct conn *c, const struct http_request *req)
{
    c->route = http_route(c->loop->ev.cfg->wl, req);
    c->req = *req;
    c->req.method = c->req.path = NULL; /* the body may overwrite what they point at */
    c->req.method_len = c->req.path_len = 0;
    c->discard = req->content_length;
    c->continue_sent = false;
    conn_set_state(c, CONN_DISCARDING);
}

/* The request is all in, body dropped: answer it at once (plaintext, 404,
 * 405) or start its job. The state moves to RUNNING, READING or CLOSING. */
static int conn_dispatch(struct conn *c)
{
    const struct http_request *req = &c->req;
    bool keep_alive = req->keep_alive && !c->loop->ev.stopping;
    int route = c->route;
    struct http_buf *out;
    int err = 0;
    conn_disarm(c); /* the header timeout covered the head and the body */
    if (route >= 0) {
        c->job = async__job_start(c, req, route, proc_now_ns());
        if (c->job) {
            conn_set_state(c, CONN_RUNNING);
            return 0;
        }
        route = -503;
    }
    if (conn_out(c, &out) < 0)
        return -ENOMEM;
    if (route == HTTP_ROUTE_PLAINTEXT)
        err = http_write_plaintext(out, req, keep_alive);
    else
        err = http_write_error(out, req, -route, route == -503 ? "server busy" : NULL, keep_alive);
    c->close_after = !keep_alive;
    conn_set_state(c, keep_alive ? CONN_READING : CONN_CLOSING);
    return err;
}

/* Parses the next head in the buffer. Returns true when the state moved on
 * (a head taken, or a bad head queued its error), false when more bytes are
 * needed. */
static bool conn_parse(struct conn *c)
{
    struct http_request req;
    size_t avail = c->in.len - c->in_start;
    if (avail == 0)
        return false;
    int n = http_parse_request(c->in.data + c->in_start, avail, &req);
    if (n == HTTP_PARTIAL && avail < ASYNC_IN_BUF)
        return false;
    if (n > 0) {
        c->budget--;
        c->in_start += n;
        conn_take_head(c, &req);
        return true;
    }
    conn_disarm(c);
    struct http_buf *out;
    int status = n == HTTP_PARTIAL ? 431 : -n;
    c->in_start = c->in.len; /* framing is lost: nothing after it can be trusted */
    if (conn_out(c, &out) < 0 || http_write_error(out, NULL, status, NULL, false) < 0) {
        conn_close(c);
        return true;
    }
    c->close_after = true;
    conn_set_state(c, CONN_CLOSING);
    return true;
}

/* Drops body bytes already in the buffer; true once the body is gone. */
static bool conn_discard(struct conn *c)
{
    size_t avail = c->in.len - c->in_start;
    size_t drop = c->discard < avail ? (size_t)c->discard : avail;
    c->in_start += drop;
    c->discard -= drop;
    return c->discard == 0;
}

/* Nothing more has arrived and the body is not all in: a client that sent
 * Expect: 100-continue may be holding the body back until it is told to go
 * on, so the interim response is queued, once per request (RFC 9110
 * 10.1.1). A body that came with its head was read before the socket ran
 * dry, and gets none. IO_OK: queued, written on the next pass; IO_RETRY:
 * nothing to send, wait; IO_ERROR: out of memory. */
static enum io_result conn_continue(struct conn *c)
{
    struct http_buf *out;
    if (!c->req.expect_continue || c->continue_sent)
        return IO_RETRY;
    if (conn_out(c, &out) < 0 || http_write_continue(out) < 0)
        return IO_ERROR;
    c->continue_sent = true;
    return IO_OK;
}

/* The connection wants input: first the responses earlier requests left
 * are written (so pipelined responses leave in one write), then it reads.
 * IO_OK: bytes arrived, or the socket is full and the state is now WRITING;
 * IO_RETRY: wait (timers already set); IO_ERROR: close. */
static enum io_result conn_flush_and_read(struct conn *c)
{
    if (out_pending(c)) {
        enum io_result r = conn_flush(c);
        if (r == IO_RETRY) {
            conn_set_state(c, CONN_WRITING);
            return IO_OK; /* the driver goes on in CONN_WRITING */
        }
        if (r == IO_ERROR)
            return IO_ERROR;
    }
    enum io_result r = conn_read(c);
    if (r == IO_RETRY && conn_wait_input(c) < 0)
        return IO_ERROR;
    return r;
}

/* The machine. Each case either changes state and goes round again (break)
 * or waits for an event (return). */
static void conn_drive(struct conn *c)
{
    struct loop *lp = c->loop;
    enum io_result r;
    for (;;) {
        switch (c->state) {
        case CONN_READING:
            if (lp->ev.stopping) {
                conn_set_state(c, CONN_CLOSING);
                break;
            }
            if (c->out.len - c->out_start >= ASYNC_OUT_FLUSH_AT) {
                conn_set_state(c, CONN_WRITING);
                break;
            }
            if (c->budget <= 0) { /* yield: drive it again next turn */
                evloop_list_push(&lp->posted, &c->post_link);
                return;
            }
            if (conn_parse(c))
                break;
            if ((r = conn_flush_and_read(c)) == IO_OK)
                break;
            if (r == IO_ERROR)
                conn_close(c);
            return;
        case CONN_DISCARDING:
            if (conn_discard(c)) {
                if (conn_dispatch(c) < 0) {
                    conn_close(c);
                    return;
                }
                break;
            }
            if ((r = conn_flush_and_read(c)) == IO_RETRY)
                r = conn_continue(c);
            if (r == IO_OK)
                break;
            if (r == IO_ERROR)
                conn_close(c);
            return;
        case CONN_RUNNING:
            if (async__job_run(c->job)) {
                conn_set_state(c, CONN_WAITING_DB);
                if (c->in_start == c->in.len) { /* nothing pipelined */
                    c->in_start = 0;
                    evloop_spare_give(&lp->ev.in_spares, &c->in);
                }
                break;
            }
            if (conn_answer(c) < 0) {
                conn_close(c);
                return;
            }
            conn_set_state(c, c->close_after ? CONN_CLOSING : CONN_READING);
            break;
        case CONN_WAITING_DB:
            /* Responses to earlier pipelined requests leave now, not after
             * this one's query; input waits until the request is answered. */
            if ((r = conn_flush(c)) == IO_ERROR)
                conn_close(c);
            else if (conn_watch_output(c, r == IO_RETRY) < 0)
                conn_close(c);
            return;
        case CONN_WRITING:
        case CONN_CLOSING:
            if ((r = conn_flush(c)) == IO_ERROR) {
                conn_close(c);
                return;
            }
            if (r == IO_RETRY) {
                if (conn_watch_output(c, true) < 0 ||
                    conn_arm(c, TIMER_WRITE, lp->ev.cfg->idle_timeout_ns) < 0)
                    conn_close(c);
                return;
            }
            conn_disarm(c);
            if (conn_watch_output(c, false) < 0) {
                conn_close(c);
                return;
            }
            if (c->state == CONN_WRITING) {
                /* back to the body it was dropping, or to the next head */
                conn_set_state(c, c->discard ? CONN_DISCARDING : CONN_READING);
                break;
            }
            if (lp->ev.stopping) {
                conn_close(c); /* no lingering on the way out */
                return;
            }
            shutdown(c->fd, SHUT_WR); /* the client sees EOF after the last response */
            conn_set_state(c, CONN_LINGERING);
            if (conn_arm(c, TIMER_LINGER, ASYNC_LINGER_NS) < 0) {
                conn_close(c);
                return;
            }
            break;
        case CONN_LINGERING:
            /* Read and drop until EOF, so closing never resets a response the
             * client has not read yet. */
            c->in_start = c->in.len;
            if ((r = conn_read(c)) == IO_OK)
                break;
            if (r == IO_ERROR)
                conn_close(c);
            return;
        case CONN_CLOSED: return;
        }
    }
}

/* ---- entry points from the loop ---- */

void async__conn_accepted(struct loop *lp, int fd)
{
    struct conn *c = evloop_conn_reuse(&lp->ev);
    int one = 1;
    if (!c)
        c = malloc(sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    memset(c, 0, sizeof(*c));
    c->watch.kind = EVLOOP_WATCH_CONN;
    c->fd = fd;
    c->loop = lp;
    c->events = CONN_EVENTS;
    evloop_timer_init(&c->timer, on_conn_timeout);
    evloop_list_init(&c->post_link);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (evloop_poll_add(lp->ev.epfd, fd, c->events, &c->watch) < 0 ||
        conn_arm(c, TIMER_IDLE, lp->ev.cfg->idle_timeout_ns) < 0) {
        evloop_timer_cancel(&lp->ev, &c->timer);
        close(fd);
        free(c);
        return;
    }
    evloop_list_push(&lp->ev.conns, &c->link);
    lp->ev.nconns++;
    conn_set_state(c, CONN_READING);
    /* No read yet: epoll reports bytes that are already there when the
     * socket is added, so the first read waits for the first event. */
}

void async__conn_on_event(struct evloop_watch *w, uint32_t events)
{
    struct conn *c = (struct conn *)w;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->peer_done = true;
    if (c->state == CONN_WAITING_DB && !(events & EPOLLOUT))
        return; /* input waits for the answer; EOF and errors surface then */
    if (!evloop_list_empty(&c->post_link))
        return; /* it runs from the posted list first, in turn */
    c->budget = ASYNC_DRIVE_BUDGET;
    conn_drive(c);
}

/* The request's query came back (answered, failed or timed out): run on. */
void async__conn_resume(struct conn *c)
{
    conn_set_state(c, CONN_RUNNING);
    c->budget = ASYNC_DRIVE_BUDGET;
    conn_drive(c);
}

/* Connections that yielded, each for one more budget. Those that yield again
 * go to the back of the list and wait for the next turn. */
void async__conn_run_posted(struct loop *lp)
{
    struct evloop_list batch;
    evloop_list_init(&batch);
    if (evloop_list_empty(&lp->posted))
        return;
    /* Move the whole list aside first, so this pass ends. */
    batch.next = lp->posted.next;
    batch.prev = lp->posted.prev;
    batch.next->prev = batch.prev->next = &batch;
    evloop_list_init(&lp->posted);
    while (!evloop_list_empty(&batch)) {
        struct conn *c = evloop_container(batch.next, struct conn, post_link);
        evloop_list_remove(&c->post_link);
        c->budget = ASYNC_DRIVE_BUDGET;
        conn_drive(c);
    }
}

static void release_buffers(struct conn *c)
{
    struct loop *lp = c->loop;
    c->in_start = c->out_start = 0;
    evloop_spare_give(&lp->ev.in_spares, &c->in);
    evloop_spare_give(&lp->ev.out_spares, &c->out);
}

static void conn_close(struct conn *c)
{
    struct loop *lp = c->loop;
    if (c->state == CONN_CLOSED)
        return;
    if (c->job) {
        async__job_abandon(c->job);
        c->job = NULL;
    }
    conn_disarm(c);
    close(c->fd); /* also removes it from epoll */
    release_buffers(c);
    evloop_list_remove(&c->link);
    evloop_list_remove(&c->post_link);
    lp->ev.nconns--;
    conn_set_state(c, CONN_CLOSED);
    evloop_defer_free(&lp->ev, c);
}

void async__conn_stop(struct conn *c)
{
    if ((c->state == CONN_READING || c->state == CONN_DISCARDING) && !out_pending(c))
        conn_close(c);
    else if (c->state == CONN_LINGERING)
        conn_close(c);
}

/* At teardown, after the loop's thread ended. */
void async__conn_free(struct conn *c)
{
    conn_close(c);
}
