/* The workload model: what a request type does, parsed from an INI file.
 * Every engine, the database and the harness read a workload through this
 * header only; nothing here knows about sockets. */
#ifndef OVERLAP_WL_H
#define OVERLAP_WL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Limits, each with its reason. */
#define WL_MAX_NAME   64  /* query and request names appear in URLs and CSV rows */
#define WL_MAX_PARAMS 16  /* bound parameters per query; the db protocol has the same cap */
#define WL_MAX_STEPS  256 /* steps per request, counting each repeat of a query */
#define WL_MAX_REPEAT 100 /* `query NAME xK`: K at most this */
#define WL_ERR_LEN    512 /* room for one `FILE:LINE: message` */

/* ---- random numbers: xoshiro256**, one generator per thread, never shared ---- */

struct wl_rng {
    uint64_t s[4];
};

void wl_rng_seed(struct wl_rng *rng, uint64_t seed);
uint64_t wl_rng_next(struct wl_rng *rng);
double wl_rng_double(struct wl_rng *rng);              /* uniform in [0, 1) */
uint64_t wl_rng_below(struct wl_rng *rng, uint64_t n); /* uniform in [0, n), n > 0 */

/* ---- latency distributions, in nanoseconds ---- */

enum wl_dist_kind {
    WL_DIST_FIXED,       /* a = the value */
    WL_DIST_UNIFORM,     /* uniform in [a, b] */
    WL_DIST_EXPONENTIAL, /* mean a */
    WL_DIST_LOGNORMAL,   /* median a, 99th percentile b (b >= a) */
};

struct wl_dist {
    enum wl_dist_kind kind;
    double a, b;
};

double wl_dist_mean(const struct wl_dist *d);
double wl_dist_median(const struct wl_dist *d);
uint64_t wl_dist_sample(const struct wl_dist *d, struct wl_rng *rng);
/* The value below which a fraction u of draws falls, u in (0, 1); NAN
 * outside. */
double wl_dist_quantile(const struct wl_dist *d, double u);
/* Parses `fixed 10ms`, `uniform 1ms 5ms`, `exponential 2ms`, `lognormal 1ms 20ms`.
 * Returns 0, or -1 with a message (without FILE:LINE) in err. */
int wl_dist_parse(const char *text, struct wl_dist *d, char *err, size_t errlen);
/* Parses a duration (`250ns`, `500us`, `10ms`, `1.5s`) into ns; 0 or -1. */
int wl_duration_parse(const char *text, uint64_t *ns);
/* Parses a whole decimal number in [min, max], nothing before or after it:
 * the counts of every command line and suite file. 0 or -1. */
int wl_count_parse(const char *text, int min, int max, int *out);

/* ---- the model ---- */

enum wl_param_kind {
    WL_PARAM_INT,        /* `int A B`: uniform integer in [lo, hi] per execution */
    WL_PARAM_INT_CONST,  /* `const 42` */
    WL_PARAM_REAL_CONST, /* `const 1.5` */
    WL_PARAM_TEXT_CONST, /* `const "text"` */
    WL_PARAM_NULL,       /* `null` */
};

struct wl_param {
    enum wl_param_kind kind;
    int64_t lo, hi; /* WL_PARAM_INT; lo is also the WL_PARAM_INT_CONST value */
    double real;
    char *text;
};

struct wl_query {
    char name[WL_MAX_NAME];
    char *sql;
    int line; /* line of the [query.NAME] header, for errors the database finds */
    int nparams;
    struct wl_param params[WL_MAX_PARAMS];
    struct wl_dist latency;
};

enum wl_step_kind {
    WL_STEP_CPU,   /* burn cpu_ns of calibrated work */
    WL_STEP_QUERY, /* run query `query` once; `query NAME xK` expands to K steps */
};

struct wl_step {
    enum wl_step_kind kind;
    uint64_t cpu_ns;
    int query; /* index into wl_workload.queries */
};

enum wl_render {
    WL_RENDER_JSON, /* the rows as JSON: the default */
    WL_RENDER_HTML, /* an HTML table with every value escaped (fortunes) */
};

struct wl_request {
    char name[WL_MAX_NAME];
    int line;
    double weight;
    enum wl_render render;
    int nsteps;
    struct wl_step *steps;
};

enum wl_dataset {
    WL_DATASET_NONE,        /* init script only */
    WL_DATASET_TECHEMPOWER, /* World x 10000, Fortune x 12 */
};

struct wl_workload {
    char *path; /* as given to wl_load */
    char *name;
    char *description;
    enum wl_dataset dataset;
    char *init_path; /* resolved relative to the workload file, or NULL */
    int nqueries;
    struct wl_query *queries;
    int nrequests;
    struct wl_request *requests;
    double total_weight;
};

/* Loads and validates a workload. Returns 0 and *out, or -1 with one
 * `FILE:LINE: what is wrong (what was expected)` message in err. */
int wl_load(const char *path, struct wl_workload **out, char *err, size_t errlen);
void wl_free(struct wl_workload *wl);

/* Index of the request or query with this name (not NUL-terminated), or -1. */
int wl_find_request(const struct wl_workload *wl, const char *name, size_t len);
int wl_find_query(const struct wl_workload *wl, const char *name, size_t len);
/* A request index drawn by weight. */
int wl_pick_request(const struct wl_workload *wl, struct wl_rng *rng);

/* Means in ns: a request's CPU and database wait, and the weighted means over
 * the mix. These feed the harness's Little's-law bounds. */
double wl_request_cpu_ns(const struct wl_workload *wl, int request);
double wl_request_wait_ns(const struct wl_workload *wl, int request);
double wl_mean_cpu_ns(const struct wl_workload *wl);
double wl_mean_wait_ns(const struct wl_workload *wl);
/* One idle run of a request in ns, drawn: its cpu steps plus a draw of each
 * query's latency, one after the other, as the database and the engines run
 * them with nothing else in the system. */
double wl_request_idle_ns(const struct wl_workload *wl, int request, struct wl_rng *rng);
/* The Little's-law throughput bound in requests/s (DESIGN.md):
 * min(clients/(c+w), workers/(c+w), cores/c), with c and w the weighted mean
 * CPU and wait per request. A limit <= 0 means unbounded (open loop, or a
 * thread per connection). */
double wl_bound_rps(const struct wl_workload *wl, double clients, double workers, double cores);
/* connections/w: what `connections` serve when each is held only while a
 * request's queries wait (an event loop's on PostgreSQL, where a connection
 * runs one query at a time); 1e300 (unbounded) for none or no wait. */
double wl_wait_bound_rps(const struct wl_workload *wl, double connections);

/* Moves a workload to one cell of the crossover map (the suite keys
 * vary.cpu and vary.wait): cpu_ns > 0 scales every cpu step by one factor so
 * the weighted mean CPU per request is cpu_ns; wait_ns > 0 scales each
 * query's latency distribution, keeping its shape, so its median is wait_ns
 * (a query of latency 0 becomes fixed at wait_ns). 0 leaves that axis. 0, or
 * -1 with a message in err when there is nothing to scale (no cpu step, no
 * query). */
int wl_vary(struct wl_workload *wl, uint64_t cpu_ns, uint64_t wait_ns, char *err, size_t errlen);

/* ---- the CPU burner: how a `cpu` step runs in every engine ---- */

/* Measures iterations per microsecond once per process (thread-safe, idempotent). */
void wl_burn_calibrate(void);
/* Does the amount of work that takes ns when uncontended; a preempted thread
 * still owes all of it. Calibrates on first use. Returns the CPU time the
 * calling thread spent on it (CLOCK_THREAD_CPUTIME_ID), which exceeds ns when
 * the core is disturbed (interrupts, cache pressure) and is how a server tells
 * the workload's own CPU apart from its engine's. */
uint64_t wl_burn(uint64_t ns);
/* The rate the burner runs at, in iterations per µs of the thread's CPU. */
double wl_burn_iters_per_us(void);
/* Sets that rate instead of measuring it (a sweep's, measured once on the
 * server's CPUs, so every server of the sweep does the same work a step).
 * 0, or -1 when iters_per_us is outside WL_BURN_MIN_RATE..WL_BURN_MAX_RATE
 * (or not a number) or the burner has already calibrated. */
#define WL_BURN_MIN_RATE 1.0
#define WL_BURN_MAX_RATE 1e6
int wl_burn_set_rate(double iters_per_us);
/* Measures the rate on the calling thread now, the fastest of trials timed
 * runs (at least 1), in iterations per µs; the burner's own rate is untouched. */
double wl_burn_measure(int trials);

/* `overlap workload check FILE...`: exit status 0, 1 or 2. */
int wl_check_main(int argc, char **argv);

/* ---- its SQL as PostgreSQL reads it (sql.c) ---- */

/* Writes sql with each `?` placeholder as PostgreSQL's $1, $2, ..., leaving
 * those inside quotes and comments; with typed, each cast to the type its
 * parameter is sent as ($1::int8). Returns the number of placeholders, or
 * -ENOSPC when out (of len bytes) is too small. */
int wl_sql_placeholders(const char *sql, const struct wl_query *typed, char *out, size_t len);
/* The PostgreSQL type a parameter of this kind is sent as: int8, float8,
 * text, or NULL (the server infers it) for NULL. */
const char *wl_param_sql_type(enum wl_param_kind kind);

/* ---- the workload for servers in other languages (export.c) ---- */

/* Writes n bytes of s as a JSON string, quotes included, into out, which
 * has room for 6 n + 2 bytes: quote, backslash and control characters
 * escaped, other bytes (UTF-8 included) as they are. Returns its length. */
size_t wl_json_quote(char *out, const char *s, size_t n);
/* The workload as the JSON of engines/README.md, section 3: the queries
 * with their SQL as PostgreSQL reads it, their parameters and their
 * latencies as tables of WL_EXPORT_WAITS equally likely waits; the requests
 * with their paths and steps. 0, or -errno of the write. */
#define WL_EXPORT_WAITS 1000
int wl_export_json(const struct wl_workload *wl, FILE *out);
/* `overlap workload export FILE [--vary-cpu D] [--vary-wait D]`. */
int wl_export_main(int argc, char **argv);

#endif
