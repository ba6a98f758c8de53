/* A config: one engine and its settings, as a suite or a flag names it
 * (`pool:workers=64,mode=connection`, `async:loops=2`). Both the sweep,
 * which starts it, and the report, which draws its model, read it; so it
 * lives with the models, under either. Parsing only. */
#ifndef OVERLAP_CONFIG_H
#define OVERLAP_CONFIG_H

#include <stddef.h>

#define BENCH_SPEC_LEN 128

#define BENCH_LABEL_LEN  64  /* a config's label: "pool of 64 threads", "event loop" */
#define BENCH_LABELS_MAX 256 /* labels made distinct at once: a sweep names far fewer */

enum bench_kind { BENCH_POOL, BENCH_ASYNC, BENCH_CORO, BENCH_URING, BENCH_EXT };

/* One engine configuration, parsed from `pool:workers=64,mode=connection`
 * (settings separated by ',' or ';'), or an external engine's,
 * `ext:NAME[:workers=N]` (engines/README.md; NAME is a manifest's name or
 * path, without ':'). */
struct bench_engine {
    char spec[BENCH_SPEC_LEN]; /* the config's name in every output: as written, with
                                  ';' between settings (`pool:workers=0;mode=connection`) */
    enum bench_kind kind;      /* `overlap serve --engine` pool, async, coro or uring; or ext */
    char ext[BENCH_SPEC_LEN];  /* ext: the manifest's name or path, as written */
    int workers;               /* pool: -1 leaves the server's default; 0 with mode
                                  connection means a thread per connection; ext:
                                  {workers}, -1 leaves the manifest's */
    int queue;                 /* pool; 0 leaves the server's default */
    char mode[12];             /* pool: request, connection, leader, or "" for the default */
    int loops;                 /* async, coro; 0 leaves the server's default */
    int db_conns;              /* async, coro; 0 leaves the server's default */
    int db_connections;        /* `db_connections=C`: the config's database connection
                                  budget; 0 leaves it to the suite (bench.h) */
    int db_budget;             /* set by whoever knows the database is PostgreSQL: the
                                  connections every query waits for; 0 bounds nothing */
};

/* The name `overlap serve --engine` knows the config's engine by. */
const char *bench_kind_name(enum bench_kind kind);

/* Parses one engine spec; 0, or -1 with a message in err. */
int bench_parse_engine(const char *text, struct bench_engine *e, char *err, size_t errlen);

/* The worker threads a pool config runs (the server's default when the
 * spec names none); 0 for a thread per connection and for the loops,
 * whose concurrency no thread count bounds, and for an external engine,
 * whose architecture only its manifest knows. With a db_budget (PostgreSQL,
 * where a connection runs one query at a time) the budget bounds a pool
 * too, since each worker holds its connection through the whole request:
 * the least of the two, or the budget alone for a thread per connection. */
int bench_config_workers(const struct bench_engine *e);
/* The connections a loop's queries share on PostgreSQL (its db_budget), 0
 * for a pool (bench_config_workers has its budget) and without one: each
 * is held only while a query runs, so they bound the loop at C / w, its
 * requests' CPU running on the loop meanwhile. */
int bench_config_connections(const struct bench_engine *e);

/* ---- labels: the configs as a reader names them ---- */

/* The config's default label, what a reader calls it: "pool of 64
 * threads", "thread per connection", "event loop", "2 event loops",
 * "coroutines", "io_uring loop", with any other setting after it ("pool of
 * 8 threads with a queue of 16"); a kind it does not know is named by its
 * spec. Labels hold no comma, quote or ';' (a CSV field, a gnuplot string). */
void bench_config_label(const struct bench_engine *e, char *out, size_t len);
/* The same from a spec as runs.csv spells it; the spec itself when it does
 * not parse. */
void bench_spec_label(const char *spec, char *out, size_t len);
/* Whether text may be a label: 1 to BENCH_LABEL_LEN - 1 printable
 * characters, no comma, ';', quote or backslash (a CSV field, a gnuplot
 * string). */
int bench_label_valid(const char *text);
/* Makes n labels (at most BENCH_LABELS_MAX) distinct: each that another
 * shares gets its config's spec after it ("pool of 64 threads (pool)", its
 * ';' as spaces), so no two configs of a sweep read alike in a legend. */
void bench_labels_distinct(char (*labels)[BENCH_LABEL_LEN], const char *const *specs, int n);

#endif
