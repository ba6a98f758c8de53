/* A connection's state machine. conn_drive is the one switch over enum
 * conn_state; conn_set_state is the one place a state changes. A complete
 * head is routed at once, its body read and dropped (with a 100 Continue
 * first if the client asked and has not sent it all), and only then answered
 * or given a job (job.c) that runs inline until a query parks it; the answer
 * resumes the connection (async__conn_resume) after the batch of events in
 * which it came.
 *
 * The bytes (reading until the socket runs dry, writing, the timer, the
 * EPOLLOUT watch, the close) are evloop/conn.c's. Client sockets are
 * edge-triggered and registered once, so a parked request costs no epoll_ctl
 * to silence its socket, and bytes that came while it was parked are read
 * when it is answered.
 *
 * Responses leave in request order because a connection runs one request at
 * a time: pipelined heads wait in the input buffer until the one before them
 * is answered. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "async_int.h"

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

/* ---- buffers and I/O: evloop/conn.c's, on the embedded c->io ---- */

static bool out_pending(const struct conn *c)
{
    return evloop_conn_out_pending(&c->io) > 0;
}

/* Room for a response: borrows an output buffer when the connection has none. */
static int conn_out(struct conn *c, struct http_buf **out)
{
    *out = evloop_conn_out(&c->io);
    return *out ? 0 : -ENOMEM;
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
    c->io.discard = req->content_length;
    c->io.continue_sent = false;
    conn_set_state(c, CONN_DISCARDING);
}

/* The request is all in, body dropped: start its job, or answer it at once
 * (plaintext, 404, 405, or 503 when no job can be had). The state moves to
 * RUNNING, READING or CLOSING. */
static int conn_dispatch(struct conn *c)
{
    const struct http_request *req = &c->req;
    bool keep_alive = req->keep_alive && !c->loop->ev.stopping;
    struct http_buf *out;
    int err = 0;
    evloop_conn_disarm(&c->io); /* the header timeout covered the head and the body */
    if (c->route >= 0 && (c->job = async__job_start(c, req, c->route, proc_now_ns()))) {
        conn_set_state(c, CONN_RUNNING);
        return 0;
    }
    if (conn_out(c, &out) < 0)
        return -ENOMEM;
    if (c->route == HTTP_ROUTE_PLAINTEXT)
        err = http_write_plaintext(out, req, keep_alive);
    else if (c->route >= 0) /* no job to be had */
        err = http_write_error(out, req, 503, "server busy", keep_alive);
    else
        err = http_write_error(out, req, -c->route, NULL, keep_alive);
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
    struct evloop_conn *io = &c->io;
    size_t avail = io->in.len - io->in_start;
    if (avail == 0)
        return false;
    int n = http_parse_request(io->in.data + io->in_start, avail, &req);
    if (n == HTTP_PARTIAL && avail < EVLOOP_CONN_IN_BUF)
        return false;
    if (n > 0) {
        c->budget--;
        io->in_start += n;
        conn_take_head(c, &req);
        return true;
    }
    evloop_conn_disarm(&c->io);
    struct http_buf *out;
    int status = n == HTTP_PARTIAL ? 431 : -n;
    io->in_start = io->in.len; /* framing is lost: nothing after it can be trusted */
    if (conn_out(c, &out) < 0 || http_write_error(out, NULL, status, NULL, false) < 0) {
        conn_close(c);
        return true;
    }
    c->close_after = true;
    conn_set_state(c, CONN_CLOSING);
    return true;
}

/* The connection wants input: first the responses earlier requests left
 * are written (so pipelined responses leave in one write), then it reads.
 * OK: bytes arrived, or the socket is full and the state is now WRITING;
 * RETRY: wait (timers already set); ERROR: close. */
static enum evloop_io conn_flush_and_read(struct conn *c)
{
    if (out_pending(c)) {
        enum evloop_io r = evloop_conn_write(&c->io);
        if (r == EVLOOP_IO_RETRY) {
            conn_set_state(c, CONN_WRITING);
            return EVLOOP_IO_OK; /* the driver goes on in CONN_WRITING */
        }
        if (r == EVLOOP_IO_ERROR)
            return EVLOOP_IO_ERROR;
    }
    enum evloop_io r = evloop_conn_read(&c->io);
    if (r == EVLOOP_IO_RETRY && evloop_conn_wait_input(&c->io) < 0)
        return EVLOOP_IO_ERROR;
    return r;
}

/* ---- the machine: one function per state, each returning true to go
 * round again (the state changed, or there is more to do) or false to wait
 * for an event (or because the connection closed) ---- */

/* READING: take the next head, or flush and read; yield when the budget is
 * spent, and stop taking requests while the output is over the flush point. */
static bool conn_reading(struct conn *c)
{
    struct loop *lp = c->loop;
    enum evloop_io r;
    if (lp->ev.stopping) {
        conn_set_state(c, CONN_CLOSING);
        return true;
    }
    if (evloop_conn_out_pending(&c->io) >= HTTP_OUT_FLUSH_AT) {
        conn_set_state(c, CONN_WRITING);
        return true;
    }
    if (c->budget <= 0) { /* yield: drive it again next turn */
        evloop_defer(&lp->ev, &c->defer_link);
        return false;
    }
    if (conn_parse(c))
        return true;
    if ((r = conn_flush_and_read(c)) == EVLOOP_IO_OK)
        return true;
    if (r == EVLOOP_IO_ERROR)
        conn_close(c);
    return false;
}

/* DISCARDING: drop the body, then dispatch the request; when the socket runs
 * dry with the body not all in, the client may wait for a 100 Continue. */
static bool conn_discarding(struct conn *c)
{
    enum evloop_io r;
    if (evloop_conn_drop_body(&c->io)) {
        if (conn_dispatch(c) < 0) {
            conn_close(c);
            return false;
        }
        return true;
    }
    if ((r = conn_flush_and_read(c)) == EVLOOP_IO_RETRY)
        r = evloop_conn_continue(&c->io, c->req.expect_continue);
    if (r == EVLOOP_IO_OK)
        return true;
    if (r == EVLOOP_IO_ERROR)
        conn_close(c);
    return false;
}

/* RUNNING: run the job's steps until a query parks it, or answer it. */
static bool conn_running(struct conn *c)
{
    if (async__job_run(c->job)) {
        conn_set_state(c, CONN_WAITING_DB);
        evloop_conn_trim_input(&c->io); /* unless something is pipelined */
        return true;
    }
    if (conn_answer(c) < 0) {
        conn_close(c);
        return false;
    }
    conn_set_state(c, c->close_after ? CONN_CLOSING : CONN_READING);
    return true;
}

/* WAITING_DB: responses to earlier pipelined requests leave now, not after
 * this one's query; input waits until the request is answered. */
static bool conn_waiting_db(struct conn *c)
{
    enum evloop_io r = evloop_conn_write(&c->io);
    if (r == EVLOOP_IO_ERROR || evloop_conn_watch_output(&c->io, r == EVLOOP_IO_RETRY) < 0)
        conn_close(c);
    return false;
}

/* WRITING and CLOSING: drain the output; then go back to the body being
 * dropped or the next head (WRITING), or shut down and linger (CLOSING). */
static bool conn_draining(struct conn *c)
{
    enum evloop_io r = evloop_conn_drain(&c->io);
    if (r == EVLOOP_IO_ERROR)
        conn_close(c);
    if (r != EVLOOP_IO_OK)
        return false;
    if (c->state == CONN_WRITING) {
        conn_set_state(c, c->io.discard ? CONN_DISCARDING : CONN_READING);
        return true;
    }
    if (evloop_conn_linger(&c->io) < 0) { /* stopping: no lingering on the way out */
        conn_close(c);
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
        conn_close(c); /* EOF, or the client failed */
    return r == EVLOOP_IO_OK;
}

/* The one switch over the state. */
static void conn_drive(struct conn *c)
{
    bool again = true;
    while (again) {
        switch (c->state) {
        case CONN_READING: again = conn_reading(c); break;
        case CONN_DISCARDING: again = conn_discarding(c); break;
        case CONN_RUNNING: again = conn_running(c); break;
        case CONN_WAITING_DB: again = conn_waiting_db(c); break;
        case CONN_WRITING:
        case CONN_CLOSING: again = conn_draining(c); break;
        case CONN_LINGERING: again = conn_lingering(c); break;
        case CONN_CLOSED: return;
        }
    }
}

/* ---- entry points from the loop ---- */

void async__conn_accepted(struct evloop *ev, int fd)
{
    struct conn *c = (struct conn *)evloop_conn_open(ev, fd, sizeof(*c));
    if (!c)
        return;
    c->loop = async__loop_of(ev);
    evloop_list_init(&c->defer_link);
    conn_set_state(c, CONN_READING);
}

void async__conn_on_event(struct evloop_conn *io, uint32_t events)
{
    struct conn *c = (struct conn *)io;
    evloop_conn_note(io, events);
    if (c->state == CONN_WAITING_DB && !(events & EPOLLOUT))
        return; /* input waits for the answer; EOF and errors surface then */
    if (!evloop_list_empty(&c->defer_link))
        return; /* deferred: it runs first in the next turn, in its place */
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

/* A connection that used up its budget last turn, for one more. */
void async__conn_run_deferred(struct evloop_list *node)
{
    struct conn *c = evloop_container(node, struct conn, defer_link);
    c->budget = ASYNC_DRIVE_BUDGET;
    conn_drive(c);
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
    evloop_conn_close(&c->io);
    evloop_list_remove(&c->defer_link);
    conn_set_state(c, CONN_CLOSED);
    evloop_defer_free(&lp->ev, c);
}

void async__conn_stop(struct evloop_conn *io)
{
    struct conn *c = (struct conn *)io;
    if ((c->state == CONN_READING || c->state == CONN_DISCARDING) && !out_pending(c))
        conn_close(c);
    else if (c->state == CONN_LINGERING)
        conn_close(c);
}

/* Idle, slow head, stalled reader, lingering, or a stop's deadline: all end
 * the same. */
void async__conn_timeout(struct evloop_conn *io)
{
    conn_close((struct conn *)io);
}
