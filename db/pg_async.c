/* The non-blocking PostgreSQL client behind db_async (the async and coro
 * engines' loops): libpq driven by the caller's epoll, as TechEmpower's
 * libpq entries drive it.
 *
 * A connection goes through three states. CONNECTING: PQconnectStart, then
 * PQconnectPoll each time the socket is ready for what libpq last asked
 * (its socket may change meanwhile: db_async_fd says which it is now).
 * PREPARING: non-blocking, in pipeline mode, each workload query sent as
 * PQsendPrepare with its own PQpipelineSync; queries the caller sends
 * meanwhile wait in a local queue. UP once every prepare succeeded: each
 * query is PQsendQueryPrepared plus one PQpipelineSync (one Sync per query,
 * so one query's error cannot abort another's), and PQflush runs until it
 * returns 0, write interest only while it returns 1. A query whose workload
 * latency is set goes after a PG_SLEEP_STMT of a draw of it, before the same
 * Sync: one implicit transaction, the backend held for the wait and the
 * query, as a slow query would hold it.
 *
 * PostgreSQL answers a connection's queries one after another, in order, so
 * the answers are matched to their tags by a FIFO: each entry takes its
 * result (or error), libpq's NULL that ends it, and the PGRES_PIPELINE_SYNC
 * that pops it; an entry with a sleep first drops the sleep's result and its
 * NULL (unless the sleep failed: that error is then the answer). An error result gets its tag an
 * error answer (500); a lost connection loses every tag in flight, which the caller fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "pg_client.h"

enum pg_state {
    PG_CONNECTING, /* PQconnectPoll under way */
    PG_PREPARING,  /* connected, the prepares in flight */
    PG_UP,         /* every statement prepared: queries go out at once */
};

/* A FIFO entry: what one command and its Sync answer. */
struct pg_entry {
    uint32_t tag;
    bool prepare;  /* one of the connection's own prepares, not the caller's */
    bool answered; /* its result was handed out: the NULL and the Sync remain */
    bool sleep;    /* a pg_sleep's result comes first, to be dropped */
};

/* A query sent while the connection was not up yet. */
struct pg_pending {
    uint32_t tag;
    uint16_t query;
    int nparams;
    struct db_value params[DB_MAX_PARAMS];
    char *text; /* the text parameters' bytes, which params point into */
};

struct db__pg_async {
    PGconn *conn;
    enum pg_state state;
    PostgresPollingStatusType poll; /* what PQconnectPoll asked for last */
    bool flushing;                  /* PQflush returned 1: EPOLLOUT wanted */
    const struct wl_workload *wl;
    struct pg_entry *fifo; /* a ring: head..head+count-1, modulo cap */
    size_t head, count, cap;
    int queries;  /* the caller's entries in the FIFO */
    int prepares; /* prepares not yet answered */
    struct pg_pending *pending;
    int npending, pending_cap;
    struct db__pg_sleep sleep;
    struct db__pg_params params;
    struct db__pg_rows rows;
};

/* ---- the FIFO ---- */

static int fifo_push(struct db__pg_async *a, uint32_t tag, bool prepare, bool sleep)
{
    if (a->count == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        struct pg_entry *f = malloc(cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        for (size_t i = 0; i < a->count; i++)
            f[i] = a->fifo[(a->head + i) % a->cap];
        free(a->fifo);
        a->fifo = f;
        a->head = 0;
        a->cap = cap;
    }
    a->fifo[(a->head + a->count++) % a->cap] =
        (struct pg_entry){.tag = tag, .prepare = prepare, .sleep = sleep};
    a->queries += !prepare;
    return 0;
}

static void fifo_pop(struct db__pg_async *a)
{
    a->queries -= !a->fifo[a->head].prepare;
    a->head = (a->head + 1) % a->cap;
    a->count--;
}

/* ---- sending ---- */

/* PQflush once, and what it says about write interest: 0 or -ECONNRESET. */
static int flush(struct db__pg_async *a)
{
    int f = PQflush(a->conn);
    if (f < 0)
        return -ECONNRESET;
    a->flushing = f == 1;
    return 0;
}

/* One query and its Sync into libpq's buffer (and pushed to the FIFO). */
static int send_now(struct db__pg_async *a, uint32_t tag, uint16_t query,
                    const struct db_value *params, int nparams)
{
    char name[16];
    int rc = db__pg_params_set(&a->params, params, nparams);
    if (rc < 0)
        return rc;
    db__pg_stmt_name(query, name, sizeof(name));
    const char *wait = db__pg_sleep_draw(&a->sleep, a->wl, query);
    if ((wait && !PQsendQueryPrepared(a->conn, PG_SLEEP_STMT, 1, &wait, NULL, NULL, 0)) ||
        !PQsendQueryPrepared(a->conn, name, nparams, a->params.values, NULL, NULL, 0) ||
        !PQpipelineSync(a->conn))
        return -ECONNRESET;
    return fifo_push(a, tag, false, wait != NULL);
}

/* Keeps a query (and copies of its text) until the connection is up. */
static int keep_pending(struct db__pg_async *a, uint32_t tag, uint16_t query,
                        const struct db_value *params, int nparams)
{
    if (nparams < 0 || nparams > DB_MAX_PARAMS)
        return -EINVAL;
    if (a->npending == a->pending_cap) {
        int cap = a->pending_cap ? 2 * a->pending_cap : 8;
        struct pg_pending *p = realloc(a->pending, (size_t)cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        a->pending = p;
        a->pending_cap = cap;
    }
    struct pg_pending *p = &a->pending[a->npending];
    size_t bytes = 0, at = 0;
    for (int i = 0; i < nparams; i++)
        bytes += params[i].type == DB_TEXT ? params[i].len : 0;
    p->text = bytes ? malloc(bytes) : NULL;
    if (bytes && !p->text)
        return -ENOMEM;
    p->tag = tag;
    p->query = query;
    p->nparams = nparams;
    for (int i = 0; i < nparams; i++) {
        p->params[i] = params[i];
        if (params[i].type == DB_TEXT) {
            memcpy(p->text + at, params[i].text, params[i].len);
            p->params[i].text = p->text + at;
            at += params[i].len;
        }
    }
    a->npending++;
    return 0;
}

static void free_pending(struct db__pg_async *a)
{
    for (int i = 0; i < a->npending; i++)
        free(a->pending[i].text);
    a->npending = 0;
}

/* Up: the queries kept meanwhile go out in the order they came. */
static int send_pending(struct db__pg_async *a)
{
    int rc = 0;
    for (int i = 0; i < a->npending && rc == 0; i++) {
        struct pg_pending *p = &a->pending[i];
        rc = send_now(a, p->tag, p->query, p->params, p->nparams);
    }
    free_pending(a);
    return rc < 0 ? rc : flush(a);
}

/* Connected: pipeline mode, and every statement prepared, each with its
 * Sync, PG_SLEEP_STMT last. */
static int start_preparing(struct db__pg_async *a)
{
    struct db__pg_stmts s;
    char name[16];
    if (PQsetnonblocking(a->conn, 1) != 0 || !PQenterPipelineMode(a->conn))
        return -ECONNRESET;
    if (db__pg_stmts_init(&s, a->wl) < 0)
        return -ENOMEM;
    int rc = 0;
    for (int q = 0; q <= s.n && rc == 0; q++) {
        db__pg_stmt_name(q, name, sizeof(name));
        bool sent = q < s.n ? PQsendPrepare(a->conn, name, s.sql[q], s.nparams[q], s.types[q])
                            : PQsendPrepare(a->conn, PG_SLEEP_STMT, PG_SLEEP_SQL, 0, NULL);
        if (!sent || !PQpipelineSync(a->conn))
            rc = -ECONNRESET;
        else if ((rc = fifo_push(a, 0, true, false)) == 0)
            a->prepares++;
    }
    db__pg_stmts_free(&s);
    a->state = PG_PREPARING;
    if (rc == 0 && a->prepares == 0) {
        a->state = PG_UP; /* a workload without queries */
        return send_pending(a);
    }
    return rc < 0 ? rc : flush(a);
}

/* ---- connecting ---- */

/* Whether fd is ready for events now (an error or a hangup counts). */
static bool ready(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, 0) > 0;
}

/* Steps PQconnectPoll while the socket is ready for what it asked: 0 (done
 * or waiting), or -errno when the connect failed. Readiness is asked of the
 * socket itself, since the event that woke the caller may have been for
 * another direction or for the socket libpq has since replaced. */
static int advance_connect(struct db__pg_async *a)
{
    while (a->state == PG_CONNECTING) {
        short want = a->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (PQsocket(a->conn) < 0 || !ready(PQsocket(a->conn), want))
            return PQsocket(a->conn) < 0 ? -ECONNREFUSED : 0;
        a->poll = PQconnectPoll(a->conn);
        if (a->poll == PGRES_POLLING_FAILED)
            return db__pg_connect_errno(a->conn);
        if (a->poll == PGRES_POLLING_OK)
            return start_preparing(a);
    }
    return 0;
}

int db__pg_async_open(const char *addr, const struct wl_workload *wl, struct db__pg_async **out)
{
    struct db__pg_async *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->wl = wl;
    db__pg_sleep_init(&a->sleep);
    a->conn = db__pg_connect(addr, true);
    int rc = 0;
    if (!a->conn)
        rc = -ENOMEM;
    else if (PQstatus(a->conn) == CONNECTION_BAD || PQsocket(a->conn) < 0)
        rc = db__pg_connect_errno(a->conn);
    if (rc < 0) {
        db__pg_async_close(a);
        return rc;
    }
    db__pg_quiet(a->conn);
    a->state = PG_CONNECTING;
    a->poll = PGRES_POLLING_WRITING; /* what libpq's documentation says to start with */
    *out = a;
    return 0;
}

void db__pg_async_close(struct db__pg_async *a)
{
    if (!a)
        return;
    PQfinish(a->conn);
    free_pending(a);
    free(a->pending);
    free(a->fifo);
    free(a->params.text);
    db__pg_rows_free(&a->rows);
    free(a);
}

int db__pg_async_fd(const struct db__pg_async *a)
{
    return PQsocket(a->conn);
}

bool db__pg_async_want_write(const struct db__pg_async *a)
{
    if (a->state == PG_CONNECTING)
        return a->poll != PGRES_POLLING_READING;
    return a->flushing;
}

bool db__pg_async_connecting(const struct db__pg_async *a)
{
    return a->state != PG_UP;
}

int db__pg_async_inflight(const struct db__pg_async *a)
{
    return a->queries + a->npending;
}

int db__pg_async_send(struct db__pg_async *a, uint32_t tag, uint16_t query,
                      const struct db_value *params, int nparams)
{
    if (a->state != PG_UP)
        return keep_pending(a, tag, query, params, nparams);
    int rc = send_now(a, tag, query, params, nparams);
    if (rc == -EINVAL)
        return rc; /* nothing went out: the connection is fine */
    return rc < 0 ? rc : flush(a);
}

int db__pg_async_on_writable(struct db__pg_async *a)
{
    if (a->state == PG_CONNECTING)
        return advance_connect(a);
    return a->flushing ? flush(a) : 0;
}

/* ---- results ---- */

/* A result for the FIFO's head: the caller's answer, or a prepare's check.
 * 0, or -errno when the connection is to be given up. */
static int take_result(struct db__pg_async *a, PGresult *r, db_on_result on_result, void *ctx)
{
    struct pg_entry *e = &a->fifo[a->head];
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR && (db__pg_fatal(r) || PQstatus(a->conn) != CONNECTION_OK))
        return -ECONNRESET; /* the connection's end, not the query's */
    if (e->sleep && r && st != PGRES_FATAL_ERROR) {
        e->sleep = false; /* the wait is over: the query's result is next */
        return 0;
    }
    e->answered = true;
    if (e->prepare) {
        a->prepares--;
        return st == PGRES_COMMAND_OK ? 0 : -EPROTO;
    }
    struct db_result res;
    uint32_t tag = e->tag;
    if (db__pg_convert(r, tag, &a->rows, &res) < 0)
        return -ENOMEM;
    on_result(ctx, &res); /* it may send on a, growing the FIFO: e is stale after */
    return 0;
}

/* A Sync: the head's command is done. One that came without a result
 * (there is always one) is answered as an error, so no tag waits forever. */
static int take_sync(struct db__pg_async *a, db_on_result on_result, void *ctx)
{
    if (a->count == 0)
        return -EPROTO; /* a Sync nobody sent */
    if (!a->fifo[a->head].answered) {
        int rc = take_result(a, NULL, on_result, ctx);
        if (rc < 0)
            return rc;
    }
    fifo_pop(a);
    if (a->state == PG_PREPARING && a->prepares == 0) {
        a->state = PG_UP;
        return send_pending(a);
    }
    return 0;
}

/* Takes every result libpq has parsed without waiting: 0 or -errno. */
static int drain(struct db__pg_async *a, db_on_result on_result, void *ctx)
{
    int ends = 0;       /* NULLs in a row: two mean nothing more is parsed */
    bool ended = false; /* the last thing taken was a command's result */
    while (a->count > 0 && !PQisBusy(a->conn)) {
        PGresult *r = PQgetResult(a->conn);
        if (!r) {
            /* a NULL after a dropped sleep's result ends the sleep only */
            if ((!a->fifo[a->head].answered && !ended) || ++ends > 1)
                break;
            ended = false;
            continue;
        }
        ends = 0;
        ended = PQresultStatus(r) != PGRES_PIPELINE_SYNC;
        int rc = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC)
            rc = take_sync(a, on_result, ctx);
        else if (!a->fifo[a->head].answered)
            rc = take_result(a, r, on_result, ctx);
        PQclear(r); /* after on_result: the answer's text pointed into it */
        if (rc < 0)
            return rc;
    }
    return PQstatus(a->conn) == CONNECTION_OK ? 0 : -ECONNRESET;
}

int db__pg_async_on_readable(struct db__pg_async *a, db_on_result on_result, void *ctx)
{
    int rc;
    if (a->state == PG_CONNECTING && ((rc = advance_connect(a)) < 0 || a->state == PG_CONNECTING))
        return rc;
    if (!PQconsumeInput(a->conn))
        return -ECONNRESET;
    if ((rc = drain(a, on_result, ctx)) < 0)
        return rc;
    return a->flushing ? flush(a) : 0;
}
