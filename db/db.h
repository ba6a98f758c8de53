/* The simulated database: its wire protocol, the server (`overlap db`) and
 * the two clients the engines use (db_conn: the pool; db_async: the event
 * loops of async and coro). See PROTOCOL.md for the frames. */
#ifndef OVERLAP_DB_H
#define OVERLAP_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wl.h"

/* A typed value: a bound parameter or one cell of a result row. Text points
 * into a buffer owned by whoever decoded it, and is not NUL-terminated. */
enum db_type {
    DB_NULL = 0,
    DB_INT = 1,
    DB_REAL = 2,
    DB_TEXT = 3,
};

struct db_value {
    enum db_type type;
    uint32_t len; /* DB_TEXT: bytes at text */
    union {
        int64_t i;
        double r;
        const char *text;
    };
};

/* ---- limits, each with its reason (PROTOCOL.md lists them too) ---- */

#define DB_MAX_FRAME       (1u << 20) /* a result frame: every TechEmpower result fits 5x */
#define DB_MAX_QUERY_FRAME (1u << 16) /* a request frame: 16 params of short text */
#define DB_MAX_PARAMS      WL_MAX_PARAMS
#define DB_MAX_ROWS        10000 /* a whole World table, and no more */
#define DB_MAX_CELLS       65536 /* rows x columns: bounds the decoder's value array */
#define DB_MAX_MESSAGE     512   /* an error frame's message */

/* ---- frames ---- */

enum db_frame_kind {
    DB_FRAME_QUERY = 1,  /* client -> server: tag, query id, params */
    DB_FRAME_RESULT = 2, /* server -> client: tag, columns, rows */
    DB_FRAME_ERROR = 3,  /* server -> client: tag, status, message */
};

/* An error frame's status; DB_OK marks a result frame. */
enum db_status {
    DB_OK = 0,
    DB_EMALFORMED = 1,   /* the request frame does not parse */
    DB_EQUERY = 2,       /* unknown query id */
    DB_EPARAMS = 3,      /* wrong parameter count or type for that query */
    DB_ESQL = 4,         /* SQLite failed while running the statement */
    DB_ETOOBIG = 5,      /* the result is over DB_MAX_ROWS, DB_MAX_CELLS or DB_MAX_FRAME */
    DB_EOVERSIZE = 6,    /* the request frame is over DB_MAX_QUERY_FRAME: connection closed */
    DB_EUNAVAILABLE = 7, /* the database declined to run it (an injected failure): retry later */
};

/* A decoded response. Everything it points to belongs to the decoder and stays
 * valid until the next call on it. values is row-major: row r, column c is
 * values[r * ncols + c]. */
struct db_result {
    uint32_t tag;
    enum db_status status;
    uint32_t ncols, nrows;
    const struct db_value *values;
    const char *message; /* error frames: NUL-terminated; "" for results */
};

/* A decoded request (the server's side, and the fuzz target's). */
struct db_query {
    uint32_t tag;
    uint16_t query;
    uint16_t nparams;
    struct db_value params[DB_MAX_PARAMS];
};

/* Bytes a query frame with these params takes. */
size_t db_query_size(const struct db_value *params, int nparams);
/* Writes a query frame into buf. Returns its size, -ENOSPC if cap is short or
 * -EINVAL for too many params or a frame over DB_MAX_QUERY_FRAME. */
int db_encode_query(uint8_t *buf, size_t cap, uint32_t tag, uint16_t query,
                    const struct db_value *params, int nparams);
/* The server's frames, also for tests and tools. A result: its size,
 * -ENOSPC if cap is short, -EINVAL over a limit (DB_MAX_ROWS, DB_MAX_CELLS,
 * DB_MAX_FRAME). An error frame: its size or -ENOSPC (the message is cut at
 * DB_MAX_MESSAGE bytes; status must not be DB_OK, -EINVAL). */
long db_encode_result(uint8_t *buf, size_t cap, uint32_t tag, uint32_t ncols, uint32_t nrows,
                      const struct db_value *values);
int db_encode_error(uint8_t *buf, size_t cap, uint32_t tag, enum db_status status,
                    const char *message);
/* Splits a stream: the size of the complete frame at buf, 0 if more bytes are
 * needed, -EMSGSIZE for a length over max or -EBADMSG for one too short to
 * hold a header. Either error means framing is lost. */
long db_frame_size(const uint8_t *buf, size_t len, uint32_t max);
/* Decodes one complete query frame (as sized by db_frame_size). Returns DB_OK
 * or DB_EMALFORMED; q->tag is set whenever the frame is long enough to hold it.
 * Text params point into buf. */
enum db_status db_decode_query(const uint8_t *buf, size_t len, struct db_query *q);

/* The incremental response decoder: feed it bytes as they arrive, in pieces
 * of any size, and take whole results out. */
struct db_reader {
    uint8_t *buf;
    size_t start, end, cap; /* undecoded bytes are buf[start, end) */
    struct db_value *values;
    size_t nvalues_cap;
    char message[DB_MAX_MESSAGE + 1];
};

void db_reader_init(struct db_reader *r);
void db_reader_free(struct db_reader *r);
/* Room for at least one more read: returns where to write and sets *room, or
 * NULL when out of memory. Then db_reader_commit the bytes actually read. */
uint8_t *db_reader_space(struct db_reader *r, size_t *room);
void db_reader_commit(struct db_reader *r, size_t n);
int db_reader_feed(struct db_reader *r, const void *data, size_t n); /* 0 or -ENOMEM */
/* Takes the next whole result: 1 and *res, 0 if more bytes are needed, or
 * -EBADMSG/-EMSGSIZE when the stream is corrupt (close the connection). */
int db_reader_next(struct db_reader *r, struct db_result *res);

/* Fills params with one execution's values of query q, drawing random ones
 * from rng. Returns the count (q's nparams). Text points into the workload. */
int db_bind_params(const struct wl_workload *wl, int q, struct wl_rng *rng,
                   struct db_value *params);

/* ---- the blocking client: one connection, one query at a time (pool) ---- */

struct db_conn;

/* Connects to unix:/PATH or tcp:HOST:PORT. Returns 0 or -errno. */
int db_conn_open(const char *addr, struct db_conn **out);
void db_conn_close(struct db_conn *c);
/* Sends one query and waits up to timeout_ns for its answer. Returns 0 with
 * *res (valid until the next call on c; an error frame is still 0, see
 * res->status), -ETIMEDOUT, or another -errno after which c must be closed.
 * A timed-out query's late answer is skipped by the next call. */
int db_conn_query(struct db_conn *c, uint16_t query, const struct db_value *params, int nparams,
                  uint64_t timeout_ns, struct db_result *res);

/* ---- the non-blocking client: many tagged queries in flight (async) ---- */

struct db_async;

/* Runs for each result, with the tag its query was sent with. */
typedef void (*db_on_result)(void *ctx, const struct db_result *res);

/* Starts connecting without blocking. 0 or -errno (a bad address, or a
 * connect refused at once, as a Unix socket with no server is). The connect
 * may still be under way on return: db_async_want_write is then true, queries
 * sent meanwhile wait in the queue, and db_async_on_writable (or
 * db_async_on_readable) reports its outcome: an error such as -ECONNREFUSED
 * means the database is unreachable. */
int db_async_open(const char *addr, struct db_async **out);
void db_async_close(struct db_async *a);
/* The socket, for the caller's epoll: always watch EPOLLIN; watch EPOLLOUT
 * while db_async_want_write is true. */
int db_async_fd(const struct db_async *a);
bool db_async_want_write(const struct db_async *a);
/* True while the connect started by db_async_open is under way. */
bool db_async_connecting(const struct db_async *a);
/* Queued frames not yet answered (sent or still buffered). */
int db_async_inflight(const struct db_async *a);
/* Queues a query and writes what the socket takes now. 0 or -errno (-EINVAL
 * for bad params; any other error means the connection is dead). */
int db_async_send(struct db_async *a, uint32_t tag, uint16_t query, const struct db_value *params,
                  int nparams);
/* Call when the fd is writable: writes queued bytes. 0 or -errno (dead). */
int db_async_on_writable(struct db_async *a);
/* Call when the fd is readable: reads until EAGAIN and calls on_result for
 * every whole result, in arrival order (on_result may db_async_send on a,
 * never db_async_close it; res is valid only during the call). 0, or -errno
 * when the connection is dead (-ECONNRESET at EOF, -EBADMSG when the stream
 * is corrupt). Tags of queries still in flight then never get an answer:
 * fail them. */
int db_async_on_readable(struct db_async *a, db_on_result on_result, void *ctx);

/* ---- which database: overlap db or PostgreSQL ---- */

/* An address is PostgreSQL's when it is a libpq URI (postgresql:// or
 * postgres://) or a key=value DSN (host=... dbname=...); unix:/PATH and
 * tcp:HOST:PORT are overlap db's. The clients below open either: the
 * PostgreSQL ones (pg_conn.c, pg_async.c) keep the same contracts, with the
 * workload's queries prepared on each connection before it counts as up. */
bool db_addr_is_pg(const char *addr);
/* db_conn_open and db_async_open for either database; wl gives PostgreSQL
 * the statements to prepare (overlap db prepared them at its start). A
 * PostgreSQL connect that fails returns -ECONNREFUSED, or -EUSERS when the
 * role's connection limit (the budget) is reached. */
int db_conn_open_wl(const char *addr, const struct wl_workload *wl, struct db_conn **out);
int db_async_open_wl(const char *addr, const struct wl_workload *wl, struct db_async **out);
/* Before a server starts: can the database at addr run the workload with
 * `connections` connections at once (the engine's total; 0 when it is not
 * known)? For PostgreSQL one connection is made and closed, every query
 * prepared, and connections compared with what the role may hold. An
 * overlap db address passes at once: the engines wait for that database to
 * come up. 0, or -errno with one line in err. */
int db_check(const char *addr, const struct wl_workload *wl, int connections, char *err,
             size_t len);

/* ---- the techempower dataset (dataset.c): the rows every database loads ---- */

#define DB_WORLD_ROWS   10000 /* World(id, randomNumber), ids 1 to 10000 */
#define DB_FORTUNE_ROWS 12    /* Fortune(id, message), ids 1 to 12 */

/* World's randomNumber for each id, uniform in 1..DB_WORLD_ROWS from the
 * generator seeded with seed: numbers[id - 1], DB_WORLD_ROWS of them. */
void db_world_numbers(uint64_t seed, int32_t *numbers);
/* Fortune's message for id (1 to DB_FORTUNE_ROWS), or NULL. */
const char *db_fortune_message(int id);

/* `overlap db`: the server, or `--bench`. Exit status 0, 1 or 2. */
int db_main(int argc, char **argv);

#endif
