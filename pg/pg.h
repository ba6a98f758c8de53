/* PostgreSQL behind the engines: `overlap pg` runs a throwaway cluster with
 * the workload's dataset, the process a sweep starts as it starts `overlap
 * db`, and what the engines' and the harness's libpq code shares with it:
 * the parameters' types and the server's description for meta.txt. */
#ifndef OVERLAP_PG_H
#define OVERLAP_PG_H

#include <stddef.h>

#include "wl.h"

/* The engines connect as PG_ROLE, which may hold at most the budget's
 * connections (its CONNECTION LIMIT); the superuser PG_SUPERUSER has
 * PG_RESERVED connections beyond it, for the harness's checks and the load
 * (kept free by the role's limit, not by superuser_reserved_connections,
 * which counts the superuser's own connections against the role's). */
#define PG_ROLE      "bench"
#define PG_SUPERUSER "overlap"
#define PG_RESERVED  3

/* The budget's limits: max_connections is the budget plus PG_RESERVED. */
#define PG_MIN_CONNECTIONS     1
#define PG_MAX_CONNECTIONS     10000
#define PG_DEFAULT_CONNECTIONS 100

/* The type a parameter of this kind is sent as, for PQprepare's paramTypes:
 * int8, float8, text (wl_param_sql_type's), or 0 (let the server infer it)
 * for NULL. The SQL is wl_sql_placeholders's. */
unsigned pg_param_type(enum wl_param_kind kind);

/* The server behind dsn (the announced one will do: it connects as
 * PG_SUPERUSER) in `key: value` lines for meta.txt: its version, the
 * settings a run depends on, the engines' connection budget, and pg_sleep's
 * overshoot as measured at start (`postgresql_sleep:`). 0, or -1
 * with libpq's message in out. */
int pg_describe(const char *dsn, char *out, size_t len);

/* ---- sleep.c: the workload's latency, served by pg_sleep ---- */

/* The statement every engine connection prepares beside the workload's
 * queries, sent before a query with a latency (the wait in seconds, float8)
 * in the same implicit transaction; its result is dropped. */
#define PG_SLEEP_STMT "overlap_sleep"
#define PG_SLEEP_SQL  "SELECT pg_sleep($1::float8)"
/* What `overlap pg` measured of pg_sleep at start: one row per asked
 * duration (1 ms, 10 ms) with the median and max overshoot in ms. */
#define PG_SLEEP_TABLE "overlap_sleep_resolution"
/* A latency is served only when its median is at least this many times
 * pg_sleep's median overshoot at the probe nearest that median: the
 * overshoot is then at most 20 % of it. */
#define PG_SLEEP_FACTOR 5
#define PG_SLEEP_PROBES 2 /* 1 ms and 10 ms */

struct pg_conn; /* libpq's PGconn */

/* pg_sleep's resolution: per probe, the duration asked and the median and
 * max overshoot in ms. */
struct pg_sleep_resolution {
    int n;
    double asked_ms[PG_SLEEP_PROBES], median_ms[PG_SLEEP_PROBES], max_ms[PG_SLEEP_PROBES];
};

/* Times pg_sleep on conn (the superuser's, before the engines come), stores
 * the overshoot in PG_SLEEP_TABLE and in *res. 0, or -1 with the reason in
 * err. */
int pg_sleep_measure(struct pg_conn *conn, struct pg_sleep_resolution *res, char *err, size_t len);
/* Reads PG_SLEEP_TABLE back: 0, or -1 when it cannot be read. */
int pg_sleep_read(struct pg_conn *conn, struct pg_sleep_resolution *res);
/* Refuses a workload with a query whose latency's median (above 0) is under
 * PG_SLEEP_FACTOR x the median overshoot at the probe nearest it (on a log
 * scale: 1 ms up to 3.16 ms, 10 ms above): 0, or -EINVAL with `FILE:LINE:
 * query NAME: ...` (the line of its latency) in err. */
int pg_sleep_check(const struct wl_workload *wl, const struct pg_sleep_resolution *res, char *err,
                   size_t len);

/* `overlap pg`: exit status 0, 1 or 2. */
int pg_main(int argc, char **argv);

#endif
