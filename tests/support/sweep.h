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

#endif
