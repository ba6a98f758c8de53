/* The blocking PostgreSQL client behind db_conn (the pool): one connection,
 * the workload's queries (and PG_SLEEP_STMT) prepared on it at open, then
 * pipeline mode, one query at a time: PQsendQueryPrepared, preceded by the
 * pg_sleep of a draw of its latency when it has one, and one PQpipelineSync,
 * so the sleep and the query are one implicit transaction holding the
 * backend for both. Every wait is a ppoll bounded by the query's deadline.
 * A query that times out stays in flight: the next call first takes (and
 * drops) its results up to its Sync, so the connection is kept, as overlap
 * db's client keeps it and skips the late answer. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "pg_client.h"
#include "proc.h"

struct db__pg_conn {
    PGconn *conn;
    bool busy;      /* a timed-out query's results are still to come */
    PGresult *last; /* the last answer's: its text cells point into it */
    const struct wl_workload *wl;
    struct db__pg_sleep sleep;
    struct db__pg_params params;
    struct db__pg_rows rows;
};

/* Prepares every statement of wl on conn: 0 or -EPROTO. */
static int prepare_all(PGconn *conn, const struct wl_workload *wl)
{
    struct db__pg_stmts s;
    char name[16];
    if (db__pg_stmts_init(&s, wl) < 0)
        return -ENOMEM;
    int rc = 0;
    for (int q = 0; q < s.n && rc == 0; q++) {
        db__pg_stmt_name(q, name, sizeof(name));
        PGresult *r = PQprepare(conn, name, s.sql[q], s.nparams[q], s.types[q]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = PQstatus(conn) == CONNECTION_OK ? -EPROTO : -ECONNRESET;
        PQclear(r);
    }
    db__pg_stmts_free(&s);
    return rc < 0 ? rc : db__pg_sleep_prepare(conn);
}

int db__pg_conn_open(const char *addr, const struct wl_workload *wl, struct db__pg_conn **out)
{
    struct db__pg_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->conn = db__pg_connect(addr, false);
    int rc = -ENOMEM;
    if (c->conn && PQstatus(c->conn) != CONNECTION_OK)
        rc = db__pg_connect_errno(c->conn);
    else if (c->conn)
        rc = prepare_all(c->conn, wl);
    if (rc == 0 && (PQsetnonblocking(c->conn, 1) != 0 || !PQenterPipelineMode(c->conn)))
        rc = -EIO;
    if (rc < 0) {
        db__pg_conn_close(c);
        return rc;
    }
    db__pg_quiet(c->conn);
    c->wl = wl;
    db__pg_sleep_init(&c->sleep);
    *out = c;
    return 0;
}

void db__pg_conn_close(struct db__pg_conn *c)
{
    if (!c)
        return;
    PQclear(c->last);
    PQfinish(c->conn);
    free(c->params.text);
    db__pg_rows_free(&c->rows);
    free(c);
}

/* Waits until the socket has events or the deadline passes: 0, -ETIMEDOUT
 * or -errno. */
static int wait_for(PGconn *conn, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = proc_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = proc_timespec(deadline - now);
        struct pollfd p = {.fd = PQsocket(conn), .events = events};
        int n = ppoll(&p, 1, &ts, NULL);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* Writes what libpq holds: 0, -ETIMEDOUT or -ECONNRESET. */
static int flush_all(PGconn *conn, uint64_t deadline)
{
    for (;;) {
        int f = PQflush(conn);
        if (f == 0)
            return 0;
        if (f < 0)
            return -ECONNRESET;
        /* readable counts too: libpq must read to let the server go on */
        int rc = wait_for(conn, POLLIN | POLLOUT, deadline);
        if (rc < 0)
            return rc;
        if (!PQconsumeInput(conn))
            return -ECONNRESET;
    }
}

/* The query's results up to its Sync: the answer kept in *answer (the
 * query's result, or the sleep's when that failed), the others dropped, or
 * all dropped when answer is NULL. 0, -ETIMEDOUT or -ECONNRESET. */
static int take_results(struct db__pg_conn *c, PGresult **answer, uint64_t deadline)
{
    for (;;) {
        int ends = 0; /* NULLs in a row: two mean nothing more is parsed */
        while (!PQisBusy(c->conn)) {
            PGresult *r = PQgetResult(c->conn);
            if (!r && PQstatus(c->conn) != CONNECTION_OK)
                return -ECONNRESET;
            if (!r && ++ends > 1)
                break;
            if (!r)
                continue; /* the end of one command's results */
            ends = 0;
            if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
                PQclear(r);
                c->busy = false;
                return 0;
            }
            if (answer && (!*answer || PQresultStatus(*answer) != PGRES_FATAL_ERROR)) {
                PQclear(*answer); /* the sleep's, when the query's follows */
                *answer = r;
            } else
                PQclear(r);
        }
        int rc = wait_for(c->conn, POLLIN, deadline);
        if (rc < 0)
            return rc;
        if (!PQconsumeInput(c->conn))
            return -ECONNRESET;
    }
}

int db__pg_conn_query(struct db__pg_conn *c, uint16_t query, const struct db_value *params,
                      int nparams, uint64_t timeout_ns, struct db_result *res)
{
    uint64_t now = proc_now_ns();
    uint64_t deadline = timeout_ns < UINT64_MAX - now ? now + timeout_ns : UINT64_MAX;
    char name[16];
    int rc = db__pg_params_set(&c->params, params, nparams);
    if (rc < 0)
        return rc; /* nothing was sent: c stays usable */
    PQclear(c->last);
    c->last = NULL;
    if (c->busy && (rc = take_results(c, NULL, deadline)) < 0)
        return rc;
    db__pg_stmt_name(query, name, sizeof(name));
    const char *wait = db__pg_sleep_draw(&c->sleep, c->wl, query);
    if ((wait && !PQsendQueryPrepared(c->conn, PG_SLEEP_STMT, 1, &wait, NULL, NULL, 0)) ||
        !PQsendQueryPrepared(c->conn, name, nparams, c->params.values, NULL, NULL, 0) ||
        !PQpipelineSync(c->conn))
        return -ECONNRESET;
    c->busy = true;
    if ((rc = flush_all(c->conn, deadline)) < 0 || (rc = take_results(c, &c->last, deadline)) < 0)
        return rc;
    if (PQresultStatus(c->last) == PGRES_FATAL_ERROR &&
        (db__pg_fatal(c->last) || PQstatus(c->conn) != CONNECTION_OK))
        return -ECONNRESET; /* lost with the connection: the caller reopens it */
    if (db__pg_convert(c->last, 0, &c->rows, res) < 0)
        return -ENOMEM;
    return 0;
}
