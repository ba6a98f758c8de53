/* The PostgreSQL side of db.h's two clients: what client.c forwards to when
 * the address is a libpq URI or DSN (db_addr_is_pg), and what the blocking
 * (pg_conn.c) and non-blocking (pg_async.c) halves share (pg_result.c): the
 * workload's statements, parameters as text, and a PGresult converted into
 * the same struct db_result the overlap db client decodes, so that the
 * engines render identical bytes. Names carry the internal prefix db__pg_. */
#ifndef OVERLAP_DB_PG_CLIENT_H
#define OVERLAP_DB_PG_CLIENT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Room for one libpq message, flattened to one line. */
#define DB__PG_MESSAGE 256
/* Bytes of one parameter as text: an int64 or a %.17g double and its NUL
 * (a text parameter points into the caller's value instead). */
#define DB__PG_NUMBER 32
/* A connect that gets no answer gives up after this many seconds unless the
 * address says otherwise (connect_timeout). */
#define DB__PG_CONNECT_TIMEOUT "10"

/* ---- pg_result.c ---- */

/* The workload's statements as the connection prepares them: named "q0",
 * "q1"... in the workload's order, `?` as $n, parameters typed. */
struct db__pg_stmts {
    int n;
    char **sql;
    unsigned (*types)[DB_MAX_PARAMS];
    int *nparams;
};

int db__pg_stmts_init(struct db__pg_stmts *s, const struct wl_workload *wl);
void db__pg_stmts_free(struct db__pg_stmts *s);
/* The name query q is prepared as ("q" and its index). */
void db__pg_stmt_name(int q, char *out, size_t len);

/* The workload's latency, which PostgreSQL serves: each connection draws a
 * query's wait from its latency distribution with a generator of its own
 * (seeded apart from every other connection's) and sends PG_SLEEP_STMT with
 * it before the query, before the query's Sync. */
struct db__pg_sleep {
    struct wl_rng rng;
    char seconds[DB__PG_NUMBER]; /* the last draw, pg_sleep's parameter */
};

void db__pg_sleep_init(struct db__pg_sleep *s);
/* A draw of query q's latency as pg_sleep's text parameter, or NULL when
 * it is 0 (nothing to send). */
const char *db__pg_sleep_draw(struct db__pg_sleep *s, const struct wl_workload *wl, int q);
/* Prepares PG_SLEEP_STMT as PQsendPrepare would (blocking conn): 0 or
 * -EPROTO / -ECONNRESET. */
int db__pg_sleep_prepare(PGconn *conn);

/* One query's parameters as libpq's text values: NULLs as NULL, numbers
 * written into num, text copied NUL-terminated into text (grown as needed).
 * 0, -EINVAL (too many, or text holding a NUL) or -ENOMEM. */
struct db__pg_params {
    const char *values[DB_MAX_PARAMS];
    char num[DB_MAX_PARAMS][DB__PG_NUMBER];
    char *text;
    size_t text_cap;
};
int db__pg_params_set(struct db__pg_params *p, const struct db_value *params, int nparams);

/* Where a converted result's cells live: grown as needed, owned by the
 * connection, valid until the next conversion. Text cells point into the
 * PGresult, which must outlive the struct db_result. */
struct db__pg_rows {
    struct db_value *values;
    size_t cap;
    char message[DB_MAX_MESSAGE + 1];
};

void db__pg_rows_free(struct db__pg_rows *rows);
/* Converts r (a query's result; NULL or any status is handled) into *res
 * with the given tag. Rows: DB_OK; a command without rows: DB_OK with none;
 * an error: DB_ESQL and the server's message; a result over DB_MAX_ROWS or
 * DB_MAX_CELLS: DB_ETOOBIG; a status or a cell format no query can give:
 * DB_EMALFORMED. Integer types (and a numeric without a fraction that fits
 * int64) become DB_INT, float4/float8/numeric DB_REAL, bool 1 or 0, every
 * other type its text; a number that does not parse stays text. 0, or
 * -ENOMEM (*res then says so). */
int db__pg_convert(const PGresult *r, uint32_t tag, struct db__pg_rows *rows,
                   struct db_result *res);
/* Whether error result r says the connection itself is gone (the backend
 * was terminated, the server shuts down, a connection exception): the query
 * is lost with the connection, not failed by it. */
bool db__pg_fatal(const PGresult *r);

/* libpq's message (a connection's, or a result's when r is set) on one
 * line, without its trailing newline. */
void db__pg_message(const PGconn *conn, const PGresult *r, char *out, size_t len);
/* The -errno a failed connect stands for: -EUSERS for too many connections
 * (the budget), -ECONNREFUSED otherwise. */
int db__pg_connect_errno(const PGconn *conn);
/* Starts a connection to addr (blocking or not) with DB__PG_CONNECT_TIMEOUT
 * unless addr sets one; NULL only when out of memory. */
PGconn *db__pg_connect(const char *addr, bool nonblocking);
/* Quiets libpq's notices (they would go to stderr per connection). */
void db__pg_quiet(PGconn *conn);

/* ---- pg_conn.c: the blocking client ---- */

struct db__pg_conn;

int db__pg_conn_open(const char *addr, const struct wl_workload *wl, struct db__pg_conn **out);
void db__pg_conn_close(struct db__pg_conn *c);
int db__pg_conn_query(struct db__pg_conn *c, uint16_t query, const struct db_value *params,
                      int nparams, uint64_t timeout_ns, struct db_result *res);

/* ---- pg_async.c: the non-blocking client ---- */

struct db__pg_async;

int db__pg_async_open(const char *addr, const struct wl_workload *wl, struct db__pg_async **out);
void db__pg_async_close(struct db__pg_async *a);
int db__pg_async_fd(const struct db__pg_async *a);
bool db__pg_async_want_write(const struct db__pg_async *a);
bool db__pg_async_connecting(const struct db__pg_async *a);
int db__pg_async_inflight(const struct db__pg_async *a);
int db__pg_async_send(struct db__pg_async *a, uint32_t tag, uint16_t query,
                      const struct db_value *params, int nparams);
int db__pg_async_on_writable(struct db__pg_async *a);
int db__pg_async_on_readable(struct db__pg_async *a, db_on_result on_result, void *ctx);

#endif
