/* A client socket's operations on the loop's ring, under async's
 * connection state machine: the evloop_backend hooks that stand in for
 * evloop/conn.c's system calls, and what each completion does.
 *
 * Input. (a) A multishot poll reports readiness and evloop/conn.c reads
 * with read(2). (b) A recv is armed whenever the connection wants input and
 * finds none; it reads into a buffer the connection holds while it waits.
 * (c, d) One multishot recv per connection, armed at accept, takes buffers
 * from the loop's provided buffer ring, so an idle connection holds none.
 * Either way the bytes are copied into the connection's input buffer when
 * they come, and async is told (conn_event, EPOLLIN), as epoll would; what
 * does not fit is held here and the multishot recv is cancelled until the
 * connection has taken it. A ring buffer goes back to the ring at once, so
 * no connection keeps one: a dry ring (-ENOBUFS) ends only the multishot
 * recvs that hit it, and they are armed again after the batch.
 *
 * Output. (a) evloop/conn.c writes with write(2) and a one-shot poll waits
 * for room. (b, c, d) A write hands the output buffer to the kernel as one
 * send and reports it written; a short send sends the rest from the
 * completion, and a second write while one is in flight is RETRY, answered
 * with EPOLLOUT when the first is done. A failed send fails the next read
 * or write.
 *
 * The close. close(2) does not cancel the operations in flight, which keep
 * the socket open: the socket is shut down (waking its recv and send), each
 * operation cancelled by its tag, and then closed. The struct uconn outlives
 * the connection until the last completion comes; a connection closed with
 * its response still going out lets the send finish first, for up to
 * URING_DRAIN_NS, as the kernel would after close(2). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uring_int.h"

static struct evloop *ev_of(const struct uconn *u)
{
    return u->ul->ev;
}

/* ---- the struct's life ---- */

static size_t held_len(const struct uconn *u)
{
    return u->held ? u->held->buf.len - u->held->start : 0;
}

static void drop_held(struct uconn *u)
{
    if (!u->held)
        return;
    http_buf_free(&u->held->buf);
    free(u->held);
    u->held = NULL;
}

static void on_drain_deadline(struct evloop_timer *t);

/* A slab's uconns onto the free list: 0 or -ENOMEM. */
static int uconn_slab(struct uring_loop *ul)
{
    struct uconn **slabs = realloc(ul->slabs, (size_t)(ul->nslabs + 1) * sizeof(*slabs));
    if (!slabs)
        return -ENOMEM;
    ul->slabs = slabs;
    struct uconn *slab = calloc(URING_SLAB, sizeof(*slab));
    if (!slab)
        return -ENOMEM;
    slabs[ul->nslabs++] = slab;
    for (int i = URING_SLAB - 1; i >= 0; i--) {
        slab[i].fd = -1;
        slab[i].next_free = ul->free_uconns;
        ul->free_uconns = &slab[i];
    }
    return 0;
}

static struct uconn *uconn_new(struct uring_loop *ul)
{
    if (!ul->free_uconns && uconn_slab(ul) < 0)
        return NULL;
    struct uconn *u = ul->free_uconns;
    ul->free_uconns = u->next_free;
    memset(u, 0, sizeof(*u));
    u->ul = ul;
    u->fd = -1;
    evloop_list_init(&u->link);
    evloop_list_init(&u->ready);
    evloop_timer_init(&u->drain, on_drain_deadline);
    return u;
}

/* Back to the free list once closed, detached and with nothing in flight. */
static void uconn_put(struct uconn *u)
{
    struct evloop *ev = ev_of(u);
    if (u->c || u->fd >= 0 || u->inflight)
        return;
    evloop_spare_give(&ev->in_spares, &u->rbuf);
    evloop_spare_give(&ev->out_spares, &u->sbuf);
    drop_held(u);
    u->next_free = u->ul->free_uconns;
    u->ul->free_uconns = u;
}

static void cancel(struct uconn *u, enum uring_op op)
{
    struct io_uring_sqe *sqe = uring__sqe(u->ul);
    if (!sqe)
        return;
    io_uring_prep_cancel64(sqe, uring_ud(u, op), 0);
    io_uring_sqe_set_data64(sqe, 0);
}

/* Shut down, cancel what is in flight, close. */
static void finish_close(struct uconn *u)
{
    if (u->fd < 0)
        return;
    evloop_timer_cancel(ev_of(u), &u->drain);
    if (u->draining)
        ev_of(u)->nconns--;
    u->draining = false;
    if (u->recv_on || u->send_on)
        shutdown(u->fd, SHUT_RDWR);
    if (u->recv_on)
        cancel(u, URING_OP_RECV);
    if (u->send_on)
        cancel(u, URING_OP_SEND);
    if (u->poll_in_on)
        cancel(u, URING_OP_POLL_IN);
    if (u->poll_out_on)
        cancel(u, URING_OP_POLL_OUT);
    close(u->fd);
    u->fd = -1;
    uconn_put(u);
}

static void on_drain_deadline(struct evloop_timer *t)
{
    finish_close(evloop_container(t, struct uconn, drain));
}

/* What async hears, as from epoll, once the batch of completions is
 * handled (uring__conn_after_batch). */
static void deliver(struct uconn *u, uint32_t events)
{
    if (!u->events)
        evloop_list_push(&u->ul->ready, &u->ready);
    u->events |= events;
}

/* ---- arming ---- */

static void armed(struct uconn *u, struct io_uring_sqe *sqe, enum uring_op op)
{
    io_uring_sqe_set_data64(sqe, uring_ud(u, op));
    u->inflight++;
}

static void arm_recv(struct uconn *u)
{
    struct evloop *ev = ev_of(u);
    struct io_uring_sqe *sqe;
    if (u->recv_on || u->starved || u->fd < 0)
        return;
    if (u->ul->mode == SERVE_URING_OPS &&
        evloop_spare_take(&ev->in_spares, &u->rbuf, EVLOOP_CONN_IN_BUF) < 0) {
        u->err = -ENOMEM;
        return;
    }
    if (!(sqe = uring__sqe(u->ul))) {
        u->err = -EBUSY;
        return;
    }
    if (u->ul->mode == SERVE_URING_OPS) {
        io_uring_prep_recv(sqe, u->fd, u->rbuf.data, u->rbuf.cap, 0);
    } else {
        io_uring_prep_recv_multishot(sqe, u->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = 0;
    }
    armed(u, sqe, URING_OP_RECV);
    u->recv_on = true;
    u->paused = false;
}

static int arm_send(struct uconn *u)
{
    struct io_uring_sqe *sqe = uring__sqe(u->ul);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_send(sqe, u->fd, u->sbuf.data + u->sent, u->sbuf.len - u->sent, MSG_NOSIGNAL);
    armed(u, sqe, URING_OP_SEND);
    u->send_on = true;
    return 0;
}

static int arm_poll(struct uconn *u, enum uring_op op)
{
    struct io_uring_sqe *sqe = uring__sqe(u->ul);
    if (!sqe)
        return -EBUSY;
    if (op == URING_OP_POLL_IN) {
        io_uring_prep_poll_multishot(sqe, u->fd, EPOLLIN | EPOLLRDHUP);
        u->poll_in_on = true;
    } else {
        io_uring_prep_poll_add(sqe, u->fd, EPOLLOUT);
        u->poll_out_on = true;
    }
    armed(u, sqe, op);
    return 0;
}

/* ---- input ---- */

/* Appends n bytes to c's input buffer (making room by moving what is
 * unparsed to its front): how many fit. */
static size_t put_input(struct evloop_conn *c, const char *data, size_t n)
{
    if (evloop_spare_take(&c->ev->in_spares, &c->in, EVLOOP_CONN_IN_BUF) < 0)
        return 0;
    if (c->in_start == c->in.len) {
        c->in_start = c->in.len = 0;
    } else if (c->in.cap - c->in.len < n && c->in_start > 0) {
        memmove(c->in.data, c->in.data + c->in_start, c->in.len - c->in_start);
        c->in.len -= c->in_start;
        c->in_start = 0;
    }
    size_t k = c->in.cap - c->in.len < n ? c->in.cap - c->in.len : n;
    memcpy(c->in.data + c->in.len, data, k);
    c->in.len += k;
    return k;
}

/* Bytes a recv brought: into the connection's buffer, behind what is held;
 * what does not fit is held, and a multishot recv stops until it is taken. */
static void take_input(struct uconn *u, const char *data, size_t n)
{
    size_t k = held_len(u) ? 0 : put_input(u->c, data, n);
    if (k == n)
        return;
    if (!u->held && (u->held = calloc(1, sizeof(*u->held))))
        http_buf_init(&u->held->buf);
    if (!u->held || http_buf_append(&u->held->buf, data + k, n - k) < 0) {
        u->err = -ENOMEM;
        return;
    }
    if (u->recv_on && !u->paused && u->ul->mode >= SERVE_URING_MULTISHOT) {
        cancel(u, URING_OP_RECV);
        u->paused = true;
    }
}

/* Moves held bytes into the connection's buffer: whether any moved. */
static bool move_held(struct uconn *u)
{
    size_t n = held_len(u);
    if (n == 0)
        return false;
    size_t k = put_input(u->c, u->held->buf.data + u->held->start, n);
    u->held->start += k;
    if (k == n)
        drop_held(u);
    return k > 0;
}

enum evloop_io uring__conn_read(struct evloop_conn *c)
{
    struct uconn *u = c->io;
    if (move_held(u))
        return EVLOOP_IO_OK;
    if (u->err || u->eof)
        return EVLOOP_IO_ERROR;
    if (!u->paused || !u->recv_on)
        arm_recv(u);
    return u->err ? EVLOOP_IO_ERROR : EVLOOP_IO_RETRY;
}

static void recycle(struct uring_loop *ul, unsigned bid)
{
    io_uring_buf_ring_add(ul->br, ul->bufs + (size_t)bid * URING_BUF_SIZE, URING_BUF_SIZE,
                          (unsigned short)bid, io_uring_buf_ring_mask(ul->nbufs), 0);
    io_uring_buf_ring_advance(ul->br, 1);
}

static void on_recv(struct uconn *u, const struct io_uring_cqe *cqe)
{
    struct uring_loop *ul = u->ul;
    int res = cqe->res;
    const char *data = u->rbuf.data;
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        u->recv_on = false;
        u->inflight--;
    }
    if (cqe->flags & IORING_CQE_F_BUFFER)
        data = ul->bufs + (size_t)bid * URING_BUF_SIZE;
    if (u->c && res > 0)
        take_input(u, data, (size_t)res);
    if (cqe->flags & IORING_CQE_F_BUFFER)
        recycle(ul, bid);
    if (!u->c) {
        uconn_put(u);
        return;
    }
    if (res > 0 && ul->mode == SERVE_URING_OPS && (size_t)res == u->rbuf.cap) {
        /* (b) a full buffer: more is likely waiting, and epoll's reader would
         * read on before deciding anything, so async hears once the socket
         * ran dry (or URING_HOLD_MAX is held) */
        arm_recv(u);
        if (held_len(u) < URING_HOLD_MAX)
            return;
    }
    if (res > 0) {
        deliver(u, EPOLLIN);
    } else if (res == 0) {
        u->eof = true;
        deliver(u, EPOLLIN | EPOLLRDHUP);
    } else if (res == -ENOBUFS) { /* the ring ran dry: armed again after the batch */
        u->starved = true;
        evloop_list_push(&ul->starved, &u->link);
    } else if (res == -ECANCELED) { /* paused: armed again once the held bytes are taken */
        if (held_len(u) == 0)
            arm_recv(u);
    } else {
        u->err = res;
        deliver(u, EPOLLIN | EPOLLERR);
    }
}

/* After a batch of completions: async hears of each connection's once
 * (hearing may close it, which takes it off the list), then the multishot
 * recvs the dry ring ended are armed again (every buffer is back by now). */
void uring__conn_after_batch(struct uring_loop *ul)
{
    while (!evloop_list_empty(&ul->ready)) {
        struct uconn *u = evloop_container(ul->ready.next, struct uconn, ready);
        uint32_t events = u->events;
        evloop_list_remove(&u->ready);
        u->events = 0;
        u->c->ev->ops->conn_event(u->c, events);
    }
    while (!evloop_list_empty(&ul->starved)) {
        struct uconn *u = evloop_container(ul->starved.next, struct uconn, link);
        evloop_list_remove(&u->link);
        u->starved = false;
        if (u->c && held_len(u) == 0)
            arm_recv(u);
    }
}

/* ---- output ---- */

enum evloop_io uring__conn_write(struct evloop_conn *c)
{
    struct uconn *u = c->io;
    if (u->err)
        return EVLOOP_IO_ERROR;
    if (evloop_conn_out_pending(c) == 0) {
        c->out_start = 0;
        evloop_spare_give(&c->ev->out_spares, &c->out);
        return EVLOOP_IO_OK;
    }
    if (u->send_on)
        return EVLOOP_IO_RETRY; /* EPOLLOUT when it is done, if watched */
    u->sbuf = c->out;
    u->sent = c->out_start;
    http_buf_init(&c->out);
    c->out_start = 0;
    return arm_send(u) < 0 ? EVLOOP_IO_ERROR : EVLOOP_IO_OK;
}

static void on_send(struct uconn *u, const struct io_uring_cqe *cqe)
{
    struct evloop *ev = ev_of(u);
    u->send_on = false;
    u->inflight--;
    if (cqe->res < 0 && !u->err)
        u->err = cqe->res;
    if (cqe->res > 0)
        u->sent += (size_t)cqe->res;
    if (!u->err && u->sent < u->sbuf.len && u->fd >= 0) { /* a short send: not an error */
        if (arm_send(u) == 0) {
            struct evloop_conn *c = u->c;
            if (c && c->timer_kind == EVLOOP_TIMER_WRITE) /* progress restarts the stall clock */
                evloop_timer_set(ev, &c->timer, ev->now + ev->cfg->idle_timeout_ns);
            return;
        }
        u->err = -EBUSY;
    }
    u->sent = 0;
    evloop_spare_give(&ev->out_spares, &u->sbuf);
    if (u->shut_wr && u->fd >= 0)
        shutdown(u->fd, SHUT_WR);
    u->shut_wr = false;
    if (!u->c)
        finish_close(u); /* the response a close left going is out */
    else if (u->err)
        deliver(u, EPOLLIN | EPOLLOUT | EPOLLERR);
    else if (u->c->watch_out)
        deliver(u, EPOLLOUT);
}

void uring__conn_shutdown(struct evloop_conn *c)
{
    struct uconn *u = c->io;
    if (u->send_on)
        u->shut_wr = true; /* after the last response, not before it */
    else
        shutdown(u->fd, SHUT_WR);
}

/* ---- (a) readiness ---- */

int uring__conn_watch_output(struct evloop_conn *c, bool on)
{
    struct uconn *u = c->io;
    if (u->ul->mode != SERVE_URING_POLL || !on || u->poll_out_on)
        return 0; /* (b, c, d): EPOLLOUT comes with the send's completion */
    return arm_poll(u, URING_OP_POLL_OUT);
}

static void on_poll(struct uconn *u, enum uring_op op, const struct io_uring_cqe *cqe)
{
    if (op == URING_OP_POLL_OUT || !(cqe->flags & IORING_CQE_F_MORE)) {
        *(op == URING_OP_POLL_OUT ? &u->poll_out_on : &u->poll_in_on) = false;
        u->inflight--;
    }
    if (!u->c) {
        uconn_put(u);
        return;
    }
    if (op == URING_OP_POLL_IN && !u->poll_in_on && arm_poll(u, op) < 0)
        u->err = -EBUSY;
    if (cqe->res > 0 && (op == URING_OP_POLL_IN || u->c->watch_out))
        deliver(u, (uint32_t)cqe->res);
    else if (cqe->res < 0 && cqe->res != -ECANCELED)
        deliver(u, EPOLLERR);
}

/* ---- open, close, completions ---- */

int uring__conn_open(struct evloop_conn *c)
{
    struct uring_loop *ul = c->ev->io;
    struct uconn *u = uconn_new(ul);
    if (!u)
        return -ENOMEM;
    u->c = c;
    u->fd = c->fd;
    c->io = u;
    if (ul->mode == SERVE_URING_POLL)
        arm_poll(u, URING_OP_POLL_IN);
    else
        arm_recv(u); /* async reads only once told that input came */
    return 0;
}

void uring__conn_close(struct evloop_conn *c)
{
    struct uconn *u = c->io;
    c->io = NULL;
    u->c = NULL;
    evloop_list_remove(&u->link);
    evloop_list_remove(&u->ready);
    u->starved = false;
    u->events = 0;
    if (u->send_on && !u->err) { /* the last response is still going out */
        /* counted open until it is out, so a stopping loop waits for it */
        ev_of(u)->nconns++;
        u->draining = true;
        evloop_timer_set(ev_of(u), &u->drain, ev_of(u)->now + URING_DRAIN_NS);
    } else {
        finish_close(u);
    }
}

void uring__conn_complete(struct uconn *u, enum uring_op op, const struct io_uring_cqe *cqe)
{
    switch (op) {
    case URING_OP_RECV: on_recv(u, cqe); break;
    case URING_OP_SEND: on_send(u, cqe); break;
    case URING_OP_POLL_IN:
    case URING_OP_POLL_OUT: on_poll(u, op, cqe); break;
    default: break;
    }
}

/* At teardown, the ring already gone: every uconn ever made. */
void uring__conns_free(struct uring_loop *ul)
{
    for (int i = 0; i < ul->nslabs; i++) {
        for (int k = 0; k < URING_SLAB; k++) {
            struct uconn *u = &ul->slabs[i][k];
            if (u->fd >= 0)
                close(u->fd);
            http_buf_free(&u->rbuf);
            http_buf_free(&u->sbuf);
            drop_held(u);
        }
        free(ul->slabs[i]);
    }
    free(ul->slabs);
    ul->slabs = NULL;
    ul->nslabs = 0;
    ul->free_uconns = NULL;
}

const struct evloop_backend uring__backends[4] = {
#define URING_BACKEND(read, write)                                                                 \
    {                                                                                              \
        uring__init, uring__free, uring__wait, uring__dispatch, uring__conn_open,                  \
            uring__conn_close, uring__conn_watch_output, read, write, uring__conn_shutdown         \
    }
    [SERVE_URING_POLL] = URING_BACKEND(NULL, NULL),
    [SERVE_URING_OPS] = URING_BACKEND(uring__conn_read, uring__conn_write),
    [SERVE_URING_MULTISHOT] = URING_BACKEND(uring__conn_read, uring__conn_write),
    [SERVE_URING_DEFER] = URING_BACKEND(uring__conn_read, uring__conn_write),
#undef URING_BACKEND
};
