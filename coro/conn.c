/* The loop's side of a connection: reading until a head is whole, writing
 * what the coroutines queued, the timeouts, lingering and closing. The
 * request itself runs in a coroutine (request.c); this file hands it the
 * head once the body is read and dropped (after a 100 Continue if the client
 * waits for one), and takes the connection back when it lets go. conn_drive is the one
 * switch over enum conn_state, conn_set_state the one place a state changes.
 *
 * Client sockets are edge-triggered (EPOLLET) and registered once: a
 * connection reads until the socket runs dry whenever it wants input (a
 * short read counts as dry: every later arrival raises a new edge), so a
 * request waiting on the database costs no epoll_ctl to silence its socket,
 * and bytes that came meanwhile are read once the coroutine lets go. EPOLLOUT
 * is on only while output is pending. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro_int.h"

#define CONN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)
#define OUT_MIN     4096 /* the first size of an output buffer: a plaintext response and more */

static void conn_drive(struct conn *c);

/* Every state change passes here: the one place to log or check them. */
static void conn_set_state(struct conn *c, enum conn_state state)
{
    c->state = state;
}

/* ---- timers ---- */

static void on_conn_timeout(struct evloop_timer *t)
{
    struct conn *c = evloop_container(t, struct conn, timer);
    c->timer_kind = TIMER_NONE;
    coro__conn_close(c); /* idle, slow head, stalled reader or lingering: all end the same */
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

static size_t out_pending(const struct conn *c)
{
    return c->out.len - c->out_start;
}

static int watch_output(struct conn *c, bool on)
{
    if (c->watch_out == on)
        return 0;
    c->watch_out = on;
    return evloop_poll_mod(c->loop->ev.epfd, c->fd, CONN_EVENTS | (on ? EPOLLOUT : 0), &c->watch);
}

/* Reads what the socket has into the input buffer, borrowing one if needed. */
static enum io_result conn_read(struct conn *c)
{
    if (evloop_spare_take(&c->loop->ev.in_spares, &c->in, CORO_IN_BUF) < 0)
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
            c->in.len += (size_t)n;
            return IO_OK;
        }
        if (n < 0 && errno == EINTR)
            continue;
        c->readable = false;
        return n < 0 && errno == EAGAIN ? IO_RETRY : IO_ERROR; /* 0 is EOF */
    }
}

enum io_result coro__conn_flush(struct conn *c)
{
    if (c->state == CONN_CLOSED)
        return IO_ERROR;
    while (out_pending(c)) {
        ssize_t n = write(c->fd, c->out.data + c->out_start, out_pending(c));
        if (n > 0) {
            c->out_start += (size_t)n;
            if (c->timer_kind == TIMER_WRITE) /* progress: the stall clock restarts */
                evloop_timer_set(&c->loop->ev, &c->timer,
                                 c->loop->ev.now + c->loop->ev.cfg->idle_timeout_ns);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && watch_output(c, true) == 0)
            return IO_RETRY;
        coro__conn_close(c);
        return IO_ERROR;
    }
    c->out_start = 0;
    evloop_spare_give(&c->loop->ev.out_spares, &c->out);
    if (watch_output(c, false) < 0) {
        coro__conn_close(c);
        return IO_ERROR;
    }
    return IO_OK;
}

struct http_buf *coro__conn_out(struct conn *c)
{
    if (evloop_spare_take(&c->loop->ev.out_spares, &c->out, OUT_MIN) < 0)
        return NULL;
    return &c->out;
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

/* ---- heads ---- */

/* Drops body bytes already in the buffer; true once the body is gone. */
static bool drop_body(struct conn *c)
{
    size_t avail = c->in.len - c->in_start;
    size_t drop = c->discard < avail ? (size_t)c->discard : avail;
    c->in_start += drop;
    c->discard -= drop;
    return c->discard == 0;
}

/* A head that does not parse: its error goes out, then the connection
 * closes, for nothing after it can be framed. */
static void bad_head(struct conn *c, int status)
{
    struct http_buf *out = coro__conn_out(c);
    c->in_start = c->in.len;
    c->close_after = true;
    if (!out || http_write_error(out, NULL, status, NULL, false) < 0)
        coro__conn_close(c);
}

/* Parses the next head into c->head and sets its body to be dropped: 1
 * when a head was taken, 0 when more bytes are needed, -1 when it was bad. */
static int parse_head(struct conn *c)
{
    struct coro__head *h = &c->head;
    size_t avail = c->in.len - c->in_start;
    if (avail == 0)
        return 0;
    int n = http_parse_request(c->in.data + c->in_start, avail, &h->req);
    if (n == HTTP_PARTIAL && avail < CORO_IN_BUF)
        return 0;
    if (n <= 0) {
        conn_disarm(c);
        bad_head(c, n == HTTP_PARTIAL ? 431 : -n);
        return -1;
    }
    h->route = http_route(c->loop->ev.cfg->wl, &h->req);
    /* The response needs only the version and HEAD-ness: with no pointers
     * into the input kept, the body may overwrite the head, and the buffer
     * can go back while the request runs. */
    h->req.method = h->req.path = NULL;
    h->req.method_len = h->req.path_len = 0;
    c->in_start += (size_t)n;
    c->discard = h->req.content_length;
    c->continue_sent = false;
    return 1;
}

int coro__conn_take_head(struct conn *c, struct coro__head *h)
{
    /* discard > 0 exactly while c->head waits for its body: a head without
     * one is handed over in the call that parsed it. */
    if (c->discard == 0) {
        int r = parse_head(c);
        if (r <= 0)
            return r;
    }
    if (!drop_body(c))
        return 0;
    conn_disarm(c); /* the header timeout covered the head and its body */
    *h = c->head;
    h->t_head = h->route >= 0 ? proc_now_ns() : 0; /* only a workload's request reports it */
    if (c->in_start == c->in.len) {
        c->in_start = 0;
        evloop_spare_give(&c->loop->ev.in_spares, &c->in);
    }
    if (c->budget > 0)
        c->budget--;
    return 1;
}

/* The socket ran dry and the body is not all in: a client that sent
 * Expect: 100-continue may be holding the body back until told to go on, so
 * the interim response is queued, once per request (RFC 9110 10.1.1). A
 * body that came with its head was read before the socket ran dry, and gets
 * none. IO_OK: queued, to leave on the next pass; IO_RETRY: nothing to
 * send, wait; IO_ERROR: out of memory. */
static enum io_result conn_continue(struct conn *c)
{
    struct http_buf *out;
    if (c->discard == 0 || !c->head.req.expect_continue || c->continue_sent)
        return IO_RETRY;
    out = coro__conn_out(c);
    if (!out || http_write_continue(out) < 0)
        return IO_ERROR;
    c->continue_sent = true;
    return IO_OK;
}

/* No coroutine to be had (no memory for a stack): 503 at once, as the pool
 * does with a full queue, and the connection goes on. */
static void answer_busy(struct conn *c, const struct coro__head *h)
{
    bool keep = h->req.keep_alive && !c->loop->ev.stopping;
    struct http_buf *out = coro__conn_out(c);
    c->close_after = !keep;
    if (!out || http_write_error(out, &h->req, 503, "server busy", keep) < 0)
        coro__conn_close(c);
}

/* ---- the machine ---- */

/* Flushes what earlier requests left, then reads, or queues a 100 Continue
 * when a body is awaited. IO_OK: bytes arrived or output was queued, go
 * round; IO_RETRY: wait (timer armed); IO_ERROR: closed. */
static enum io_result conn_need_input(struct conn *c)
{
    if (out_pending(c)) {
        enum io_result r = coro__conn_flush(c);
        if (r == IO_RETRY) {
            conn_set_state(c, CONN_WRITING);
            return IO_OK; /* the driver goes on in CONN_WRITING */
        }
        if (r == IO_ERROR)
            return IO_ERROR;
    }
    enum io_result r = conn_read(c);
    if (r == IO_RETRY)
        r = conn_continue(c);
    if (r == IO_RETRY && conn_wait_input(c) < 0)
        r = IO_ERROR;
    if (r == IO_ERROR)
        coro__conn_close(c);
    return r;
}

/* READING: take a head, drop its body, then hand the request to a
 * coroutine; or read more. Returns true to go round the machine again. */
static bool conn_reading(struct conn *c)
{
    struct coro__head h;
    if (c->loop->ev.stopping) {
        conn_set_state(c, CONN_CLOSING);
        return true;
    }
    if (out_pending(c) >= CORO_OUT_FLUSH_AT) {
        conn_set_state(c, CONN_WRITING);
        return true;
    }
    int r = coro__conn_take_head(c, &h);
    if (r < 0) { /* a bad head: its error goes out, then the close */
        if (c->state != CONN_CLOSED)
            conn_set_state(c, CONN_CLOSING);
        return true;
    }
    if (r > 0) {
        /* RUNNING before the coroutine starts: it may be done with the
         * connection, or have closed it, by the time coro__start returns,
         * so c is not looked at again here. */
        conn_set_state(c, CONN_RUNNING);
        if (coro__start(c->loop, c, &h) == 0)
            return false;
        conn_set_state(c, CONN_READING);
        answer_busy(c, &h);
        return true;
    }
    return conn_need_input(c) == IO_OK;
}

/* WRITING and CLOSING: drain the output; then read on, or shut down and
 * linger. Returns true to go round the machine again. */
static bool conn_draining(struct conn *c)
{
    struct loop *lp = c->loop;
    enum io_result r = coro__conn_flush(c);
    if (r == IO_ERROR)
        return false;
    if (r == IO_RETRY) {
        if (conn_arm(c, TIMER_WRITE, lp->ev.cfg->idle_timeout_ns) < 0)
            coro__conn_close(c);
        return false;
    }
    conn_disarm(c);
    if (c->state == CONN_WRITING && !c->close_after) {
        conn_set_state(c, CONN_READING);
        return true;
    }
    if (lp->ev.stopping) {
        coro__conn_close(c); /* no lingering on the way out */
        return false;
    }
    shutdown(c->fd, SHUT_WR); /* the client sees EOF after the last response */
    conn_set_state(c, CONN_LINGERING);
    if (conn_arm(c, TIMER_LINGER, CORO_LINGER_NS) < 0) {
        coro__conn_close(c);
        return false;
    }
    return true;
}

/* LINGERING: read and drop until EOF, so closing never resets a response
 * the client has not read yet. */
static bool conn_lingering(struct conn *c)
{
    c->in_start = c->in.len;
    enum io_result r = conn_read(c);
    if (r == IO_ERROR)
        coro__conn_close(c); /* EOF, or the client failed */
    return r == IO_OK;
}

static void conn_drive(struct conn *c)
{
    bool again = true;
    while (again) {
        switch (c->state) {
        case CONN_READING: again = conn_reading(c); break;
        case CONN_RUNNING: return; /* the coroutine has it */
        case CONN_WRITING:
        case CONN_CLOSING: again = conn_draining(c); break;
        case CONN_LINGERING: again = conn_lingering(c); break;
        case CONN_CLOSED: return;
        }
    }
}

/* ---- entry points from the loop and the coroutines ---- */

void coro__conn_accepted(struct loop *lp, int fd)
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
    c->budget = CORO_BUDGET;
    evloop_timer_init(&c->timer, on_conn_timeout);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (evloop_poll_add(lp->ev.epfd, fd, CONN_EVENTS, &c->watch) < 0 ||
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

void coro__conn_on_event(struct evloop_watch *w, uint32_t events)
{
    struct conn *c = (struct conn *)w;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->peer_done = true;
    if (c->state == CONN_RUNNING) {
        /* Input waits until the coroutine lets go; EOF and errors surface
         * then. Output it queued leaves now. */
        if ((events & EPOLLOUT) && out_pending(c))
            coro__conn_flush(c);
        return;
    }
    c->budget = CORO_BUDGET;
    conn_drive(c);
}

void coro__conn_release(struct conn *c)
{
    c->co = NULL;
    if (c->state == CONN_CLOSED) {
        evloop_defer_free(&c->loop->ev, c);
        return;
    }
    conn_set_state(c, c->close_after ? CONN_CLOSING : CONN_READING);
    conn_drive(c);
}

static void release_buffers(struct conn *c)
{
    struct loop *lp = c->loop;
    c->in_start = c->out_start = 0;
    evloop_spare_give(&lp->ev.in_spares, &c->in);
    evloop_spare_give(&lp->ev.out_spares, &c->out);
}

/* Closes the socket at once. A coroutine that holds the connection finds it
 * CLOSED when it next looks and lets go; the struct is freed then. */
void coro__conn_close(struct conn *c)
{
    struct loop *lp = c->loop;
    if (c->state == CONN_CLOSED)
        return;
    conn_disarm(c);
    close(c->fd); /* also removes it from epoll */
    release_buffers(c);
    evloop_list_remove(&c->link);
    lp->ev.nconns--;
    conn_set_state(c, CONN_CLOSED);
    if (!c->co)
        evloop_defer_free(&lp->ev, c);
}

void coro__conn_stop(struct conn *c)
{
    if ((c->state == CONN_READING && !out_pending(c)) || c->state == CONN_LINGERING)
        coro__conn_close(c);
}
