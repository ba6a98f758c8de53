/* PostgreSQL behind the engines: `overlap pg` runs a throwaway cluster with
 * the workload's dataset, the process a sweep starts as it starts `overlap
 * db`, and what the engines' and the harness's libpq code shares with it:
 * the workload's SQL in PostgreSQL's placeholders, the parameters' types, and
 * the server's description for meta.txt. */
#ifndef OVERLAP_PG_H
#define OVERLAP_PG_H

#include <stddef.h>

#include "wl.h"

/* The engines connect as PG_ROLE, which may hold at most the budget's
 * connections (its CONNECTION LIMIT); the superuser PG_SUPERUSER has
 * PG_RESERVED connections beyond it, for the harness's checks and the load. */
#define PG_ROLE      "bench"
#define PG_SUPERUSER "overlap"
#define PG_RESERVED  3

/* The budget's limits: max_connections is the budget plus PG_RESERVED. */
#define PG_MIN_CONNECTIONS     1
#define PG_MAX_CONNECTIONS     10000
#define PG_DEFAULT_CONNECTIONS 100

/* Writes a workload's SQL with each `?` placeholder as PostgreSQL's $1, $2,
 * ..., leaving those inside quotes and comments. Returns the number of
 * placeholders, or -ENOSPC when out (of len bytes) is too small. */
int pg_sql_placeholders(const char *sql, char *out, size_t len);

/* The type a parameter of this kind is sent as, for PQprepare's paramTypes:
 * int8, float8, text, or 0 (let the server infer it) for NULL. */
unsigned pg_param_type(enum wl_param_kind kind);

/* The server behind dsn (the announced one will do: it connects as
 * PG_SUPERUSER) in `key: value` lines for meta.txt: its version, the
 * settings a run depends on, and the engines' connection budget. 0, or -1
 * with libpq's message in out. */
int pg_describe(const char *dsn, char *out, size_t len);

/* `overlap pg`: exit status 0, 1 or 2. */
int pg_main(int argc, char **argv);

#endif
