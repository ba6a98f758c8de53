/* Whole sweeps as processes: `overlap bench ARGS --out TMP/results` run in a
 * test's private folder (so nothing lands in the source tree), its stdout
 * and stderr into files, bounded in time and killed by its PID past it. */
#ifndef OVERLAP_TEST_SWEEP_H
#define OVERLAP_TEST_SWEEP_H

#include <stddef.h>
#include <sys/types.h>

struct sweep_run {
    pid_t pid;
    char tmp[256]; /* the test's folder: the sweep's working directory */
    char out[600], err[600], results[600];
};

/* Starts the sweep in tmp with args (NULL-terminated, after `bench`). */
void sweep_start(struct sweep_run *r, const char *tmp, const char *const *args);

/* Waits up to timeout_s; the exit status, or 128 + a signal. Past the
 * timeout the sweep is killed and the test fails. */
int sweep_wait(struct sweep_run *r, double timeout_s);

/* sweep_start, then sweep_wait. */
int sweep_run(struct sweep_run *r, const char *tmp, const char *const *args, double timeout_s);

/* The one results folder the sweep made, through results/latest (the test
 * fails when there is none). */
void sweep_results_dir(const struct sweep_run *r, char *dir, size_t len);

/* One probe of a capacity search as runs.csv records it (one repeat). */
struct sweep_probe {
    double rate;  /* the rate offered, req/s */
    double value; /* the goal's percentile (p99_ms for a p99 goal); NAN when empty */
    int ok;       /* the run's status was ok */
    int errors;   /* requests that failed (lost or refused) */
};

/* A config's search as bench_capacity.c sets it up (from the config's
 * finite bound, down to a 1,024th of it, never past it), and what the
 * sweep reported of it in capacity.csv or map.csv. */
struct sweep_search {
    double goal_ms;     /* the goal the percentile must not exceed */
    double bound;       /* the config's bound: the first probe and the highest */
    double tolerance;   /* the bracket the search closes to, a fraction */
    int max_probes;     /* the budget; 0 for capacity.h's */
    const char *status; /* found, never_met, always_met, out_of_probes */
    double lo, hi;      /* capacity_lo, capacity_hi (INFINITY when empty) */
};

/* Replays the search over its probes, whatever the machine made of them:
 * each probe's verdict is the reported bracket's (met at or under lo,
 * missed at or over hi), the probe's own percentile agrees with it, each
 * probe is at the rate the search owed next (the bound, then doubling or
 * halving until the verdict changes, then the bracket's midpoint), and the
 * search stopped where it should, with the reported status and bracket.
 * what names the config in messages. */
void sweep_expect_search(const struct sweep_probe *p, int n, const struct sweep_search *s,
                         const char *what);

#endif
