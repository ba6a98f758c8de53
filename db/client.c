/* The two clients on top of the codec: db_conn blocks its thread for one
 * query at a time (the pool engine), db_async keeps many tagged queries in
 * flight on a non-blocking socket driven by the caller's loop (the async and
 * coro engines, through evloop/dbc.c, and `overlap db --bench`). Neither shares anything with
 * another connection. Opened with db_conn_open_wl or db_async_open_wl on a
 * PostgreSQL address, each forwards every call to its PostgreSQL twin
 * (pg_conn.c, pg_async.c), which keeps the same contract. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_internal.h"
#include "pg_client.h"
#include "proc.h"

/* A stream socket to addr, close-on-exec, connecting. Blocking, it returns
 * connected; non-blocking, a connect still under way sets *in_progress and
 * finishes later (see finish_connect). Returns the fd or -errno. */
static int open_socket(const char *addr, bool nonblocking, bool *in_progress)
{
    struct db__addr a;
    int rc = db__parse_addr(addr, &a);
    if (rc < 0)
        return rc;
    int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -errno;
    *in_progress = false;
    while (connect(fd, (struct sockaddr *)&a.sa, a.salen) < 0) {
        if (errno == EINTR && !nonblocking)
            continue;
        /* EINTR on a non-blocking connect also leaves it under way. A Unix
         * socket's EAGAIN (its backlog is full) is not: it is an error, and
         * the caller retries later. */
        if (nonblocking && (errno == EINPROGRESS || errno == EINTR)) {
            *in_progress = true;
            break;
        }
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* Nagle off for TCP so a small query leaves at once; a no-op on Unix sockets. */
static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A connected blocking socket, or -errno. */
static int connect_to(const char *addr)
{
    bool in_progress;
    int fd = open_socket(addr, false, &in_progress);
    if (fd >= 0)
        set_nodelay(fd);
    return fd;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* ---- the outgoing queue (wire.c's), filled with query frames ---- */

/* Appends a query frame. 0, -EINVAL (bad params) or -ENOMEM. */
static int outq_add_query(struct db__outq *q, uint32_t tag, uint16_t query,
                          const struct db_value *params, int nparams)
{
    if (nparams < 0 || nparams > DB_MAX_PARAMS)
        return -EINVAL;
    size_t size = db_query_size(params, nparams);
    if (size > DB_MAX_QUERY_FRAME)
        return -EINVAL;
    int rc = db__outq_reserve(q, size);
    if (rc < 0)
        return rc;
    rc = db_encode_query(q->buf + q->len, q->cap - q->len, tag, query, params, nparams);
    if (rc < 0)
        return rc;
    q->len += (size_t)rc;
    return 0;
}

/* Reads once into the reader: bytes read, 0 at EOF, or -errno (-EAGAIN). */
static ssize_t read_into(struct db_reader *r, int fd)
{
    size_t room;
    uint8_t *p = db_reader_space(r, &room);
    if (!p)
        return -ENOMEM;
    for (;;) {
        ssize_t n = read(fd, p, room);
        if (n >= 0) {
            db_reader_commit(r, (size_t)n);
            return n;
        }
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* ---- the blocking client ---- */

struct db_conn {
    struct db__pg_conn *pg; /* PostgreSQL's: every call goes to pg_conn.c */
    int fd;                 /* non-blocking: every wait is a ppoll with the query's deadline */
    bool broken;
    uint32_t next_tag;
    struct db__outq out;
    struct db_reader in;
};

int db_conn_open(const char *addr, struct db_conn **out)
{
    struct db_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int fd = connect_to(addr);
    if (fd < 0) {
        free(c);
        return fd;
    }
    int rc = set_nonblocking(fd);
    if (rc < 0) {
        close(fd);
        free(c);
        return rc;
    }
    c->fd = fd;
    db_reader_init(&c->in);
    *out = c;
    return 0;
}

int db_conn_open_wl(const char *addr, const struct wl_workload *wl, struct db_conn **out)
{
    if (!db_addr_is_pg(addr))
        return db_conn_open(addr, out);
    struct db_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int rc = db__pg_conn_open(addr, wl, &c->pg);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void db_conn_close(struct db_conn *c)
{
    if (!c)
        return;
    if (c->pg) {
        db__pg_conn_close(c->pg);
        free(c);
        return;
    }
    close(c->fd);
    free(c->out.buf);
    db_reader_free(&c->in);
    free(c);
}

/* Waits until fd has events or the deadline passes: 0 or -ETIMEDOUT. */
static int wait_for(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = proc_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = proc_timespec(deadline - now);
        struct pollfd p = {.fd = fd, .events = events};
        int n = ppoll(&p, 1, &ts, NULL);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* Sends the queued bytes before the deadline. A frame cut short by the
 * deadline stays queued, so the stream stays whole: the next query follows
 * it. 0, -ETIMEDOUT or -errno (dead). */
static int conn_send(struct db_conn *c, uint64_t deadline)
{
    for (;;) {
        int rc = db__outq_write(&c->out, c->fd);
        if (rc != -EAGAIN)
            return rc;
        rc = wait_for(c->fd, POLLOUT, deadline);
        if (rc < 0)
            return rc;
    }
}

/* Waits for the answer tagged tag, skipping late answers to queries that
 * timed out before. 0, -ETIMEDOUT or -errno (dead). */
static int conn_receive(struct db_conn *c, uint32_t tag, uint64_t deadline, struct db_result *res)
{
    for (;;) {
        int rc = db_reader_next(&c->in, res);
        if (rc == 1 && res->tag == tag)
            return 0;
        if (rc == 1)
            continue;
        if (rc < 0)
            return rc;
        ssize_t n = read_into(&c->in, c->fd);
        if (n == 0)
            return -ECONNRESET;
        if (n == -EAGAIN)
            rc = wait_for(c->fd, POLLIN, deadline);
        else if (n < 0)
            rc = (int)n;
        if (rc < 0)
            return rc;
    }
}

int db_conn_query(struct db_conn *c, uint16_t query, const struct db_value *params, int nparams,
                  uint64_t timeout_ns, struct db_result *res)
{
    if (c->pg)
        return db__pg_conn_query(c->pg, query, params, nparams, timeout_ns, res);
    if (c->broken)
        return -EPIPE;
    uint64_t now = proc_now_ns();
    uint64_t deadline = timeout_ns < UINT64_MAX - now ? now + timeout_ns : UINT64_MAX;
    uint32_t tag = ++c->next_tag;
    int rc = outq_add_query(&c->out, tag, query, params, nparams);
    if (rc < 0)
        return rc; /* nothing was queued: c stays usable */
    rc = conn_send(c, deadline);
    if (rc == 0)
        rc = conn_receive(c, tag, deadline, res);
    if (rc < 0 && rc != -ETIMEDOUT)
        c->broken = true;
    return rc;
}

/* ---- the non-blocking client ---- */

struct db_async {
    struct db__pg_async *pg; /* PostgreSQL's: every call goes to pg_async.c */
    int fd;
    bool connecting; /* the connect is under way: nothing is written until it ends */
    int inflight;    /* queries queued or sent, not yet answered */
    struct db__outq out;
    struct db_reader in;
};

/* Never blocks: a TCP connect is usually still under way when it returns, so
 * a database that drops SYNs cannot hold the caller's loop. Queries sent
 * meanwhile are queued and leave once the connect ends. */
int db_async_open(const char *addr, struct db_async **out)
{
    struct db_async *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    int fd = open_socket(addr, true, &a->connecting);
    if (fd < 0) {
        free(a);
        return fd;
    }
    if (!a->connecting)
        set_nodelay(fd);
    a->fd = fd;
    db_reader_init(&a->in);
    *out = a;
    return 0;
}

int db_async_open_wl(const char *addr, const struct wl_workload *wl, struct db_async **out)
{
    if (!db_addr_is_pg(addr))
        return db_async_open(addr, out);
    struct db_async *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    int rc = db__pg_async_open(addr, wl, &a->pg);
    if (rc < 0) {
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void db_async_close(struct db_async *a)
{
    if (!a)
        return;
    if (a->pg) {
        db__pg_async_close(a->pg);
        free(a);
        return;
    }
    close(a->fd);
    free(a->out.buf);
    db_reader_free(&a->in);
    free(a);
}

int db_async_fd(const struct db_async *a)
{
    if (a->pg)
        return db__pg_async_fd(a->pg);
    return a->fd;
}

bool db_async_connecting(const struct db_async *a)
{
    if (a->pg)
        return db__pg_async_connecting(a->pg);
    return a->connecting;
}

bool db_async_want_write(const struct db_async *a)
{
    if (a->pg)
        return db__pg_async_want_write(a->pg);
    return a->connecting || a->out.sent < a->out.len;
}

int db_async_inflight(const struct db_async *a)
{
    if (a->pg)
        return db__pg_async_inflight(a->pg);
    return a->inflight;
}

/* The connect's outcome, once the socket reports writable or an error: 0
 * when it is up, -errno (-ECONNREFUSED, -ETIMEDOUT...) when it failed, or
 * -EAGAIN when it is still under way (an EPOLLIN or EPOLLHUP raced it). */
static int finish_connect(struct db_async *a)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    if (err)
        return -err;
    struct sockaddr_storage peer;
    len = sizeof(peer);
    if (getpeername(a->fd, (struct sockaddr *)&peer, &len) < 0)
        return errno == ENOTCONN ? -EAGAIN : -errno;
    a->connecting = false;
    set_nodelay(a->fd);
    return 0;
}

int db_async_send(struct db_async *a, uint32_t tag, uint16_t query, const struct db_value *params,
                  int nparams)
{
    if (a->pg)
        return db__pg_async_send(a->pg, tag, query, params, nparams);
    int rc = outq_add_query(&a->out, tag, query, params, nparams);
    if (rc < 0)
        return rc;
    a->inflight++;
    if (a->connecting)
        return 0;
    rc = db__outq_write(&a->out, a->fd);
    return rc == -EAGAIN ? 0 : rc;
}

int db_async_on_writable(struct db_async *a)
{
    if (a->pg)
        return db__pg_async_on_writable(a->pg);
    int rc;
    if (a->connecting && (rc = finish_connect(a)) < 0)
        return rc == -EAGAIN ? 0 : rc;
    rc = db__outq_write(&a->out, a->fd);
    return rc == -EAGAIN ? 0 : rc;
}

int db_async_on_readable(struct db_async *a, db_on_result on_result, void *ctx)
{
    if (a->pg)
        return db__pg_async_on_readable(a->pg, on_result, ctx);
    if (a->connecting) { /* nothing to read yet; a failed connect reports here too */
        int rc = finish_connect(a);
        if (rc < 0)
            return rc == -EAGAIN ? 0 : rc;
        rc = db__outq_write(&a->out, a->fd);
        if (rc < 0 && rc != -EAGAIN)
            return rc;
    }
    for (;;) {
        ssize_t n = read_into(&a->in, a->fd);
        struct db_result res;
        int rc;
        while ((rc = db_reader_next(&a->in, &res)) == 1) {
            a->inflight--;
            on_result(ctx, &res);
        }
        if (rc < 0)
            return rc;
        if (n == 0)
            return -ECONNRESET;
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return (int)n;
    }
}
