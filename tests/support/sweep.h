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

/* One probe of a capacity search as probes.csv records it (its runs'
 * requests pooled). */
struct sweep_probe {
    double rate;      /* the rate offered, req/s */
    double requests;  /* every request its runs sent: answered, refused or lost */
    double within;    /* those answered with a success status within the goal */
    char verdict[16]; /* met, missed, undecided, too-few */
};

/* The probes of engine's search in cell (0 outside a map) from a results
 * folder's probes.csv, in the order they ran; at most max. Each probe's
 * pooled requests are checked against its runs (runs.csv's rows with loop
 * capacity or map, in order, `runs` of them a probe): the sum of their
 * load.csv's requests sent and within the goal. The count, or -1 when
 * probes.csv is missing. */
int sweep_read_probes(const char *dir, const char *engine, int cell, struct sweep_probe *out,
                      int max);

/* A config's search as bench_capacity.c sets it up (from the config's
 * finite bound, down to a 1,024th of it, never past it), and what the
 * sweep reported of it in capacity.csv or map.csv. */
struct sweep_search {
    double percentile;  /* the goal's: 99 for p99 */
    double bound;       /* the config's bound: the first probe and the highest */
    double tolerance;   /* the bracket the search closes to, a fraction */
    int max_probes;     /* the budget; 0 for capacity.h's */
    const char *status; /* found, never_met, always_met, out_of_probes, undecided */
    double lo, hi;      /* capacity_lo, capacity_hi (INFINITY when empty) */
    double missed;      /* capacity_missed (INFINITY when empty) */
};

/* Replays the search over its probes, whatever the machine made of them:
 * each probe's verdict is the one its own requests give (capacity_judge),
 * each probe is at the rate the search owed next (the bound, then doubling
 * or halving until the verdict changes, then the bracket's midpoint; no
 * halving past a probe of too few requests), and the search stopped where
 * it should, with the reported status, bracket and widened bracket. what
 * names the config in messages. */
void sweep_expect_search(const struct sweep_probe *p, int n, const struct sweep_search *s,
                         const char *what);

/* Expects the flags a run's checks raise, as runs.csv's words ("" for none);
 * what names the case in the message. */
struct bench__checks;
void sweep_expect_flags(const struct bench__checks *c, const char *want, const char *what);

/* The p-th percentile's distribution-free 95 % interval from h's values,
 * in ms, at the ranks stats_quantile_ranks gives: lo 0 and hi INFINITY
 * where h holds too few values to bound it. */
struct hist;
void sweep_percentile_interval(const struct hist *h, double p, double *lo, double *hi);

#endif
