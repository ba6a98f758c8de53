/* The sanity checks every run of `overlap bench` passes or is flagged by: did
 * the run measure the system it meant to (Little's law, every client), was it
 * clean (errors), long and steady enough, and was the load generator not the
 * limit. Pure functions of one run's figures: results/README.md documents
 * each flag, tests/test_bench.c feeds them constructed runs. */
#ifndef OVERLAP_BENCH_FLAGS_H
#define OVERLAP_BENCH_FLAGS_H

#include <stddef.h>

#include "bench_plan.h"

/* Little's law in a closed loop: throughput x mean response / clients, the
 * clients the server actually held, should read 1. Outside this band some
 * clients were not in the system (or the window did not see them). */
#define BENCH__LITTLES_LO 0.9
#define BENCH__LITTLES_HI 1.1
/* The load generator's thread busy this much of its core is its own limit. */
#define BENCH__GENERATOR_BUSY 0.9
/* A throughput trend across the window larger than this fraction of the
 * mean (and significant) means the run never reached a steady state. */
#define BENCH__TREND_MAX 0.10
/* Fewer intervals than this leave a trend's slope unassessable: with n - 2
 * degrees of freedom, 2 intervals fit any line and 3 leave one. */
#define BENCH__TREND_MIN_INTERVALS 4

enum bench__flag {
    BENCH__FLAG_LITTLES = 1 << 0,         /* littles-law */
    BENCH__FLAG_ERRORS = 1 << 1,          /* errors */
    BENCH__FLAG_SHORT_WINDOW = 1 << 2,    /* short-window */
    BENCH__FLAG_GENERATOR_BOUND = 1 << 3, /* generator-bound */
    BENCH__FLAG_UNSTEADY = 1 << 4,        /* unsteady */
    BENCH__FLAG_MISSING_CLIENTS = 1 << 5, /* missing-clients */
    BENCH__FLAG_FEW_SAMPLES = 1 << 6,     /* few-samples */
    BENCH__FLAG_DB_BUDGET = 1 << 7,       /* db-budget */
    BENCH__FLAG_DB_CALLS = 1 << 8,        /* db-calls */
    BENCH__NFLAGS = 9
};

/* On PostgreSQL, a window's statement calls may miss the requests answered
 * times their queries by this fraction (the generator's window and the
 * sweep's are timed apart), or by the requests in flight at its two ends,
 * whichever is more. */
#define BENCH__DB_CALLS_TOLERANCE 0.05

/* The per-interval throughput's linear trend over the window. */
struct bench__trend {
    int assessable;  /* enough intervals (and spread in time) to fit a line */
    int significant; /* the slope's 95 % t interval excludes 0 */
    double change;   /* the fitted change over the window / the mean; NAN if not assessable */
};

/* What the checks read of one run. NAN marks a figure the run did not give
 * (a column the load generator does not write): its check is then not
 * assessable and raises nothing. */
struct bench__checks {
    enum bench__kind kind;
    double clients;          /* closed loop: connections asked for */
    double errors;           /* timeouts, connect and read failures, statuses not 2xx-3xx */
    double throughput_rps;   /* answered per second of the window */
    double mean_ms;          /* the mean response */
    double window_s;         /* the window the load generator measured */
    double load_cpu_util;    /* its CPU per thread per second of the window, 0 to 1 */
    double connections;      /* connections open when the window opened */
    double clients_answered; /* connections answered at least once in it */
    /* the answers its latencies rest on, and the percentile read from them
     * (p99 for a point, the goal's for a run judged on it): fewer answers
     * than stats_quantile_min_samples cannot bound that percentile */
    double requests, percentile;
    struct bench__trend trend;
    /* PostgreSQL (bench_pg.c): the config's connection budget C (0 when the
     * database is not PostgreSQL: nothing is checked), the engines' role's
     * backends at the window's end, its statements' calls over the span the
     * counters counted while the generator sent (db_window_s), how much of
     * that span lay outside the generator's window (db_outside_s: its warmup,
     * whose rate the window's only estimates), and the queries a request of
     * the window's mix sends */
    double db_connections, db_backends, db_calls, db_window_s, db_outside_s, db_queries;
    /* the requests the generator wrote in its window per second (open loop:
     * late ones of the warmup too, which the server ran in the window) */
    double achieved_rps;
};

/* throughput x mean / clients for a closed run; NAN otherwise or when a
 * figure is missing. */
double bench__littles_ratio(const struct bench__checks *c);

/* Fits throughput_rps = a + b t over n intervals (t their end times) by
 * least squares: the change b x span / mean over the span the n intervals
 * cover, and whether b's 95 % t interval (n - 2 degrees of freedom)
 * excludes 0. Not assessable under BENCH__TREND_MIN_INTERVALS intervals,
 * for a zero mean or intervals all at one time. */
struct bench__trend bench__fit_trend(const double *t, const double *rps, int n);

/* The statement calls a run's window should show: the requests answered
 * over the sampled window times the queries of each; NAN when not on
 * PostgreSQL or a figure is missing. */
double bench__db_expected_calls(const struct bench__checks *c);

/* The flags a run deserves, as a mask of enum bench__flag. A timeline's
 * few requests are checked for errors only. */
int bench__check(const struct bench__checks *c);

/* The mask's words, ';'-separated in a fixed order ("" for none), into out. */
void bench__flag_words(int flags, char *out, size_t len);

#endif
