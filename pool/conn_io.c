/* A client connection's I/O, shared by every mode; whoever owns the
 * connection calls. The read side: the buffer a request head is parsed from,
 * the discarding of request bodies (with the 100 Continue a client may wait
 * for), the deadlines of a waiting connection and its watch in a poller. The
 * write side: a response written whole with a timeout (a worker may block),
 * or an error written in one attempt (a front end must not). Last, accepting
 * new clients, with the accept queue's sampling, for every mode's acceptor. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool_internal.h"

struct pool__conn *pool__conn_new(int fd)
{
    struct pool__conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->in = malloc(POOL_IN_MIN);
    if (!c->in) {
        free(c);
        return NULL;
    }
    c->in_cap = POOL_IN_MIN;
    c->fd = fd;
    c->watch.kind = EVLOOP_WATCH_CONN;
    evloop_list_init(&c->link);
    return c;
}

void pool__conn_free(struct pool__conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c);
}

/* Drops body bytes that follow the head in the buffer. */
static void discard_body(struct pool__conn *c)
{
    size_t avail = c->in_len - c->head_len;
    size_t drop = avail < c->body_left ? avail : (size_t)c->body_left;
    if (!drop)
        return;
    memmove(c->in + c->head_len, c->in + c->head_len + drop, avail - drop);
    c->in_len -= drop;
    c->body_left -= drop;
}

int pool__conn_advance(struct pool__conn *c, uint64_t now)
{
    if (!c->head_len) {
        int r = http_parse_request(c->in, c->in_len, &c->req);
        if (r < 0)
            return r;
        if (r == HTTP_PARTIAL)
            return POOL_NEED_MORE;
        c->head_len = (size_t)r;
        c->body_left = c->req.content_length;
        c->continue_sent = false;
    }
    discard_body(c);
    if (c->body_left)
        return POOL_NEED_MORE;
    c->t_head = now; /* the request is all in: its queue phase starts */
    return POOL_READY;
}

void pool__conn_consume(struct pool__conn *c)
{
    memmove(c->in, c->in + c->head_len, c->in_len - c->head_len);
    c->in_len -= c->head_len;
    c->head_len = 0;
}

/* Room to read into. Unparsed bytes never fill POOL_IN_MAX: the parser
 * decides (a head, or 414/431) by HTTP_MAX_HEAD bytes. A parsed head takes
 * at most HTTP_MAX_HEAD, and its body is discarded as it comes, so room is
 * left behind a head at its limit. The parsed head's method and path point
 * into the buffer, so they move with it. */
static int make_room(struct pool__conn *c)
{
    if (c->in_len < c->in_cap)
        return 0;
    size_t cap = c->in_cap * 2 > POOL_IN_MAX ? POOL_IN_MAX : c->in_cap * 2;
    if (cap <= c->in_cap)
        return -ENOBUFS;
    size_t method_at = c->head_len ? (size_t)(c->req.method - c->in) : 0;
    size_t path_at = c->head_len ? (size_t)(c->req.path - c->in) : 0;
    char *p = realloc(c->in, cap);
    if (!p)
        return -ENOMEM;
    c->in = p;
    c->in_cap = cap;
    if (c->head_len) {
        c->req.method = p + method_at;
        c->req.path = p + path_at;
    }
    return 0;
}

/* Nothing more has arrived and a parsed head still waits for its body: a
 * client that sent Expect: 100-continue may be waiting too, so it gets the
 * interim response now, once per request (RFC 9110 10.1.1). A body that
 * came along with its head is read before the socket runs dry, and gets
 * none. One attempt, no lock: every response before it was written whole,
 * so the socket has room for these few bytes unless its client stopped
 * reading, and then the connection is given up. 0 or -EIO. The buffer is
 * allocated here, not kept: a 100 is rare and precedes a body's upload. */
static int continue_if_awaited(struct pool__conn *c)
{
    struct http_buf b;
    ssize_t w = -1;
    if (!c->head_len || !c->body_left || !c->req.expect_continue || c->continue_sent)
        return 0;
    http_buf_init(&b);
    if (http_write_continue(&b) == 0) {
        do
            w = write(c->fd, b.data, b.len);
        while (w < 0 && errno == EINTR);
    }
    c->continue_sent = w == (ssize_t)b.len;
    http_buf_free(&b);
    return c->continue_sent ? 0 : -EIO;
}

ssize_t pool__conn_read(struct pool__conn *c, const struct serve_config *cfg, uint64_t now)
{
    int err = make_room(c);
    if (err < 0)
        return err;
    bool was_waiting = c->in_len == 0 && c->head_len == 0;
    ssize_t n;
    do
        n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EWOULDBLOCK)
        return continue_if_awaited(c) < 0 ? -EIO : -EAGAIN;
    if (n < 0)
        return -errno;
    c->in_len += n;
    if (n > 0 && was_waiting)
        c->deadline = now + cfg->header_timeout_ns; /* a request has begun */
    return n;
}

void pool__conn_arm(struct pool__conn *c, const struct serve_config *cfg, uint64_t now)
{
    bool begun = c->in_len > 0 || c->head_len > 0;
    c->deadline = now + (begun ? cfg->header_timeout_ns : cfg->idle_timeout_ns);
}

int pool__conn_watch(int epfd, struct pool__conn *c, bool is_new)
{
    uint32_t events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    return is_new ? evloop_poll_add(epfd, c->fd, events, &c->watch)
                  : evloop_poll_mod(epfd, c->fd, events, &c->watch);
}

int pool__write_all(int fd, const char *p, size_t n, uint64_t timeout_ns)
{
    uint64_t deadline = proc_now_ns() + timeout_ns;
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        uint64_t now = proc_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int ms = (int)((deadline - now + 999999) / 1000000);
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
            return -errno;
    }
    return 0;
}

int pool__write_error_now(struct http_buf *out, int fd, const struct http_request *req, int status,
                          const char *reason, bool keep_alive)
{
    out->len = 0;
    if (http_write_error(out, req, status, reason, keep_alive) < 0)
        return -ENOMEM;
    ssize_t r;
    do
        r = write(fd, out->data, out->len);
    while (r < 0 && errno == EINTR);
    return r == (ssize_t)out->len ? 0 : -EAGAIN;
}

static void note_backlog(struct pool *p)
{
    /* On a listening socket TCP_INFO reports the accept queue: tcpi_unacked
     * is its length now, tcpi_sacked its limit. Sampled as a front end
     * wakes to accept, it is the queue at its longest before it is drained. */
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(p->listen_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
        ti.tcpi_state != TCP_LISTEN)
        return; /* shut down for the stop: the fields mean something else now */
    unsigned long peak = atomic_load_explicit(&p->backlog_peak, memory_order_relaxed);
    atomic_store_explicit(&p->backlog_limit, ti.tcpi_sacked, memory_order_relaxed);
    while (ti.tcpi_unacked > peak &&
           !atomic_compare_exchange_weak_explicit(&p->backlog_peak, &peak, ti.tcpi_unacked,
                                                  memory_order_relaxed, memory_order_relaxed))
        ; /* another front end thread raised it meanwhile: compare again */
}

enum pool__accept_end pool__accept_batch(struct pool *p, int max, void (*take)(void *ctx, int fd),
                                         void *ctx)
{
    int one = 1;
    note_backlog(p);
    for (int i = 0; max == 0 || i < max; i++) {
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            take(ctx, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue; /* a signal, or a client that left while in the backlog */
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            return POOL_ACCEPT_NO_FDS;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return POOL_ACCEPT_SHUT; /* EINVAL: shut down for the stop */
        break;
    }
    return POOL_ACCEPT_DRAINED;
}
