/* A client connection's bytes, the same for both loop engines: accept-time
 * setup, the one timer, reading until the socket runs dry, writing with
 * partial writes, the EPOLLOUT watch, dropping a body, the 100 Continue,
 * lingering and the close. What a request does with the bytes is the engine's.
 *
 * Client sockets are edge-triggered (EPOLLET) and registered once: a
 * connection reads until the socket runs dry whenever it wants input (a short
 * read counts as dry: every later arrival raises a new edge). EPOLLOUT is on
 * only while output is stalled. Buffers are loop spares while they hold
 * bytes, so an idle connection holds none. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"

static void on_conn_timeout(struct evloop_timer *t)
{
    struct evloop_conn *c = evloop_container(t, struct evloop_conn, timer);
    c->timer_kind = EVLOOP_TIMER_NONE;
    c->ev->ops->conn_timeout(c); /* idle, slow head, stalled reader or lingering: all close */
}

struct evloop_conn *evloop_conn_open(struct evloop *ev, int fd, size_t size)
{
    struct evloop_conn *c = evloop_conn_reuse(ev);
    int one = 1;
    if (!c)
        c = malloc(size);
    if (!c) {
        close(fd);
        return NULL;
    }
    memset(c, 0, size);
    c->watch.kind = EVLOOP_WATCH_CONN;
    c->fd = fd;
    c->ev = ev;
    evloop_timer_init(&c->timer, on_conn_timeout);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* No read yet: epoll reports bytes that are already there when the
     * socket is added, so the first read waits for the first event. */
    const struct evloop_backend *b = ev->engine->backend;
    if ((b ? b->conn_open(c) : evloop_poll_add(ev->epfd, fd, EVLOOP_CONN_EVENTS, &c->watch)) < 0 ||
        evloop_conn_arm(c, EVLOOP_TIMER_IDLE, ev->cfg->idle_timeout_ns) < 0) {
        evloop_timer_cancel(ev, &c->timer);
        if (b && c->io)
            b->conn_close(c); /* its operations may be in flight already */
        else
            close(fd);
        free(c);
        return NULL;
    }
    evloop_list_push(&ev->conns, &c->link);
    ev->nconns++;
    return c;
}

void evloop_conn_close(struct evloop_conn *c)
{
    struct evloop *ev = c->ev;
    evloop_conn_disarm(c);
    if (ev->engine->backend)
        ev->engine->backend->conn_close(c);
    else
        close(c->fd); /* also removes it from epoll */
    c->in_start = c->out_start = 0;
    evloop_spare_give(&ev->in_spares, &c->in);
    evloop_spare_give(&ev->out_spares, &c->out);
    evloop_list_remove(&c->link);
    ev->nconns--;
}

/* ---- the timer and the watch ---- */

int evloop_conn_arm(struct evloop_conn *c, enum evloop_conn_timer kind, uint64_t after_ns)
{
    if (c->timer_kind == kind && heap_contains(&c->timer.node))
        return 0;
    c->timer_kind = (uint8_t)kind;
    return evloop_timer_set(c->ev, &c->timer, c->ev->now + after_ns);
}

void evloop_conn_disarm(struct evloop_conn *c)
{
    evloop_timer_cancel(c->ev, &c->timer);
    c->timer_kind = EVLOOP_TIMER_NONE;
}

int evloop_conn_watch_output(struct evloop_conn *c, bool on)
{
    if (c->watch_out == on)
        return 0;
    c->watch_out = on;
    if (c->ev->engine->backend)
        return c->ev->engine->backend->conn_watch_output(c, on);
    return evloop_poll_mod(c->ev->epfd, c->fd, EVLOOP_CONN_EVENTS | (on ? EPOLLOUT : 0), &c->watch);
}

/* ---- input ---- */

enum evloop_io evloop_conn_read(struct evloop_conn *c)
{
    if (evloop_spare_take(&c->ev->in_spares, &c->in, EVLOOP_CONN_IN_BUF) < 0)
        return EVLOOP_IO_ERROR;
    if (c->in_start == c->in.len) {
        c->in_start = c->in.len = 0;
    } else if (c->in.len == c->in.cap && c->in_start > 0) {
        memmove(c->in.data, c->in.data + c->in_start, c->in.len - c->in_start);
        c->in.len -= c->in_start;
        c->in_start = 0;
    }
    if (c->in.len == c->in.cap)
        return EVLOOP_IO_ERROR; /* cannot happen: a full buffer without a whole head is 431 */
    const struct evloop_backend *b = c->ev->engine->backend;
    if (b && b->conn_read)
        return b->conn_read(c);
    if (!c->readable)
        return EVLOOP_IO_RETRY;
    for (;;) {
        size_t room = c->in.cap - c->in.len;
        ssize_t n = read(c->fd, c->in.data + c->in.len, room);
        if (n > 0) {
            /* A short read emptied the socket: anything arriving later is a
             * new edge, so the read that would only say EAGAIN is skipped. */
            c->readable = (size_t)n == room || c->peer_done;
            c->in.len += (size_t)n;
            return EVLOOP_IO_OK;
        }
        if (n < 0 && errno == EINTR)
            continue;
        c->readable = false;
        return n < 0 && errno == EAGAIN ? EVLOOP_IO_RETRY : EVLOOP_IO_ERROR; /* 0 is EOF */
    }
}

int evloop_conn_wait_input(struct evloop_conn *c)
{
    const struct serve_config *cfg = c->ev->cfg;
    if (c->in_start == c->in.len && c->discard == 0) {
        c->in_start = 0;
        evloop_spare_give(&c->ev->in_spares, &c->in);
        return evloop_conn_arm(c, EVLOOP_TIMER_IDLE, cfg->idle_timeout_ns);
    }
    return evloop_conn_arm(c, EVLOOP_TIMER_HEADER, cfg->header_timeout_ns);
}

void evloop_conn_trim_input(struct evloop_conn *c)
{
    if (c->in_start == c->in.len) {
        c->in_start = 0;
        evloop_spare_give(&c->ev->in_spares, &c->in);
    }
}

bool evloop_conn_drop_body(struct evloop_conn *c)
{
    size_t avail = c->in.len - c->in_start;
    size_t drop = c->discard < avail ? (size_t)c->discard : avail;
    c->in_start += drop;
    c->discard -= drop;
    return c->discard == 0;
}

/* Called when the socket ran dry and the body is not all in: a client that
 * sent Expect: 100-continue may be holding the body back until told to go
 * on, so the interim response is queued, once per request (RFC 9110 10.1.1).
 * A body that came with its head was read before the socket ran dry, and
 * gets none. */
enum evloop_io evloop_conn_continue(struct evloop_conn *c, bool expect)
{
    struct http_buf *out;
    if (c->discard == 0 || !expect || c->continue_sent)
        return EVLOOP_IO_RETRY;
    out = evloop_conn_out(c);
    if (!out || http_write_continue(out) < 0)
        return EVLOOP_IO_ERROR;
    c->continue_sent = true;
    return EVLOOP_IO_OK;
}

/* ---- output ---- */

enum evloop_io evloop_conn_write(struct evloop_conn *c)
{
    const struct evloop_backend *b = c->ev->engine->backend;
    if (b && b->conn_write)
        return b->conn_write(c);
    while (evloop_conn_out_pending(c)) {
        ssize_t n = write(c->fd, c->out.data + c->out_start, evloop_conn_out_pending(c));
        if (n > 0) {
            c->out_start += (size_t)n;
            if (c->timer_kind == EVLOOP_TIMER_WRITE) /* progress: the stall clock restarts */
                evloop_timer_set(c->ev, &c->timer, c->ev->now + c->ev->cfg->idle_timeout_ns);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN ? EVLOOP_IO_RETRY : EVLOOP_IO_ERROR;
    }
    c->out_start = 0;
    evloop_spare_give(&c->ev->out_spares, &c->out);
    return EVLOOP_IO_OK;
}

enum evloop_io evloop_conn_drain(struct evloop_conn *c)
{
    enum evloop_io r = evloop_conn_write(c);
    if (r == EVLOOP_IO_ERROR || evloop_conn_watch_output(c, r == EVLOOP_IO_RETRY) < 0)
        return EVLOOP_IO_ERROR;
    if (r == EVLOOP_IO_OK)
        evloop_conn_disarm(c);
    else if (evloop_conn_arm(c, EVLOOP_TIMER_WRITE, c->ev->cfg->idle_timeout_ns) < 0)
        return EVLOOP_IO_ERROR;
    return r;
}

struct http_buf *evloop_conn_out(struct evloop_conn *c)
{
    if (evloop_spare_take(&c->ev->out_spares, &c->out, EVLOOP_CONN_OUT_MIN) < 0)
        return NULL;
    return &c->out;
}

int evloop_conn_linger(struct evloop_conn *c)
{
    if (c->ev->stopping)
        return -ECANCELED;
    if (c->ev->engine->backend)
        c->ev->engine->backend->conn_shutdown(c);
    else
        shutdown(c->fd, SHUT_WR); /* the client sees EOF after the last response */
    return evloop_conn_arm(c, EVLOOP_TIMER_LINGER, EVLOOP_LINGER_NS);
}

enum evloop_io evloop_conn_linger_read(struct evloop_conn *c)
{
    c->in_start = c->in.len;
    return evloop_conn_read(c);
}
