/* The loop's side of a connection: reading until a head is whole, writing
 * what the coroutines queued, the timeouts, lingering and closing. The
 * request itself runs in a coroutine (request.c); this file hands it the
 * head once the body is read and dropped (after a 100 Continue if the client
 * waits for one), and takes the connection back when it lets go. conn_drive is the one
 * switch over enum conn_state, conn_set_state the one place a state changes.
 *
 * The bytes (reading until the socket runs dry, writing, the timer, the
 * EPOLLOUT watch, the close) are evloop/conn.c's. Client sockets are
 * edge-triggered and registered once, so a request waiting on the database
 * costs no epoll_ctl to silence its socket, and bytes that came meanwhile
 * are read once the coroutine lets go. */
#include <stdlib.h>

#include "coro_int.h"

static void conn_drive(struct conn *c);

/* Every state change passes here, so a breakpoint or a log line here sees
 * them all. Unlike async's, it checks no table of allowed transitions. */
static void conn_set_state(struct conn *c, enum conn_state state)
{
    c->state = state;
}

/* ---- output: evloop/conn.c's writes, with the watch and the close ---- */

static size_t out_pending(const struct conn *c)
{
    return evloop_conn_out_pending(&c->io);
}

enum evloop_io coro__conn_flush(struct conn *c)
{
    if (c->state == CONN_CLOSED)
        return EVLOOP_IO_ERROR;
    enum evloop_io r = evloop_conn_write(&c->io);
    if (r != EVLOOP_IO_ERROR && evloop_conn_watch_output(&c->io, r == EVLOOP_IO_RETRY) == 0)
        return r;
    coro__conn_close(c);
    return EVLOOP_IO_ERROR;
}

/* ---- heads ---- */

/* A head that does not parse: its error goes out, then the connection
 * closes, for nothing after it can be framed. */
static void bad_head(struct conn *c, int status)
{
    struct http_buf *out = evloop_conn_out(&c->io);
    c->io.in_start = c->io.in.len;
    c->close_after = true;
    if (!out || http_write_error(out, NULL, status, NULL, false) < 0)
        coro__conn_close(c);
}

/* Parses the next head into c->head and sets its body to be dropped: 1
 * when a head was taken, 0 when more bytes are needed, -1 when it was bad. */
static int parse_head(struct conn *c)
{
    struct coro__head *h = &c->head;
    struct evloop_conn *io = &c->io;
    size_t avail = io->in.len - io->in_start;
    if (avail == 0)
        return 0;
    int n = http_parse_request(io->in.data + io->in_start, avail, &h->req);
    if (n == HTTP_PARTIAL && avail < EVLOOP_CONN_IN_BUF)
        return 0;
    if (n <= 0) {
        evloop_conn_disarm(io);
        bad_head(c, n == HTTP_PARTIAL ? 431 : -n);
        return -1;
    }
    h->route = http_route(c->loop->ev.cfg->wl, &h->req);
    /* The response needs only the version and HEAD-ness: with no pointers
     * into the input kept, the body may overwrite the head, and the buffer
     * can go back while the request runs. */
    h->req.method = h->req.path = NULL;
    h->req.method_len = h->req.path_len = 0;
    io->in_start += (size_t)n;
    io->discard = h->req.content_length;
    io->continue_sent = false;
    return 1;
}

int coro__conn_take_head(struct conn *c, struct coro__head *h)
{
    /* discard > 0 exactly while c->head waits for its body: a head without
     * one is handed over in the call that parsed it. */
    if (c->io.discard == 0) {
        int r = parse_head(c);
        if (r <= 0)
            return r;
    }
    if (!evloop_conn_drop_body(&c->io))
        return 0;
    evloop_conn_disarm(&c->io); /* the header timeout covered the head and its body */
    *h = c->head;
    h->t_head = h->route >= 0 ? proc_now_ns() : 0; /* only a workload's request reports it */
    evloop_conn_trim_input(&c->io);
    if (c->budget > 0)
        c->budget--;
    return 1;
}

/* No coroutine to be had (no memory for a stack): 503 at once, as the pool
 * does with a full queue, and the connection goes on. */
static void answer_busy(struct conn *c, const struct coro__head *h)
{
    bool keep = h->req.keep_alive && !c->loop->ev.stopping;
    struct http_buf *out = evloop_conn_out(&c->io);
    c->close_after = !keep;
    if (!out || http_write_error(out, &h->req, 503, "server busy", keep) < 0)
        coro__conn_close(c);
}

/* ---- the machine ---- */

/* Flushes what earlier requests left, then reads, or queues a 100 Continue
 * when a body is awaited. OK: bytes arrived or output was queued, go
 * round; RETRY: wait (timer armed); ERROR: closed. */
static enum evloop_io conn_need_input(struct conn *c)
{
    if (out_pending(c)) {
        enum evloop_io r = coro__conn_flush(c);
        if (r == EVLOOP_IO_RETRY) {
            conn_set_state(c, CONN_WRITING);
            return EVLOOP_IO_OK; /* the driver goes on in CONN_WRITING */
        }
        if (r == EVLOOP_IO_ERROR)
            return EVLOOP_IO_ERROR;
    }
    enum evloop_io r = evloop_conn_read(&c->io);
    if (r == EVLOOP_IO_RETRY) /* dry with a body awaited: it may wait for a 100 Continue */
        r = evloop_conn_continue(&c->io, c->head.req.expect_continue);
    if (r == EVLOOP_IO_RETRY && evloop_conn_wait_input(&c->io) < 0)
        r = EVLOOP_IO_ERROR;
    if (r == EVLOOP_IO_ERROR)
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
    if (out_pending(c) >= HTTP_OUT_FLUSH_AT) {
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
    return conn_need_input(c) == EVLOOP_IO_OK;
}

/* WRITING and CLOSING: drain the output; then read on, or shut down and
 * linger. Returns true to go round the machine again. */
static bool conn_draining(struct conn *c)
{
    enum evloop_io r = evloop_conn_drain(&c->io);
    if (r == EVLOOP_IO_ERROR)
        coro__conn_close(c);
    if (r != EVLOOP_IO_OK)
        return false;
    if (c->state == CONN_WRITING && !c->close_after) {
        conn_set_state(c, CONN_READING);
        return true;
    }
    if (evloop_conn_linger(&c->io) < 0) { /* stopping: no lingering on the way out */
        coro__conn_close(c);
        return false;
    }
    conn_set_state(c, CONN_LINGERING);
    return true;
}

/* LINGERING: read and drop until EOF, so closing never resets a response
 * the client has not read yet. */
static bool conn_lingering(struct conn *c)
{
    enum evloop_io r = evloop_conn_linger_read(&c->io);
    if (r == EVLOOP_IO_ERROR)
        coro__conn_close(c); /* EOF, or the client failed */
    return r == EVLOOP_IO_OK;
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

void coro__conn_accepted(struct evloop *ev, int fd)
{
    struct conn *c = (struct conn *)evloop_conn_open(ev, fd, sizeof(*c));
    if (!c)
        return;
    c->loop = coro__loop_of(ev);
    c->budget = CORO_BUDGET;
    conn_set_state(c, CONN_READING);
}

void coro__conn_on_event(struct evloop_conn *io, uint32_t events)
{
    struct conn *c = (struct conn *)io;
    evloop_conn_note(io, events);
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

/* Closes the socket at once. A coroutine that holds the connection finds it
 * CLOSED when it next looks and lets go; the struct is freed then. */
void coro__conn_close(struct conn *c)
{
    struct loop *lp = c->loop;
    if (c->state == CONN_CLOSED)
        return;
    evloop_conn_close(&c->io);
    conn_set_state(c, CONN_CLOSED);
    if (!c->co)
        evloop_defer_free(&lp->ev, c);
}

void coro__conn_stop(struct evloop_conn *io)
{
    struct conn *c = (struct conn *)io;
    if ((c->state == CONN_READING && !out_pending(c)) || c->state == CONN_LINGERING)
        coro__conn_close(c);
}

/* Idle, slow head, stalled reader, lingering, or a stop's deadline: all end
 * the same. */
void coro__conn_timeout(struct evloop_conn *io)
{
    coro__conn_close((struct conn *)io);
}
