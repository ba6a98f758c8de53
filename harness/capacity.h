/* Capacity at a latency goal: the highest open-loop rate whose percentile
 * meets a goal such as `p99 100ms`, found by bracketing and bisection over a
 * probe the caller supplies (in a sweep, a load run). No I/O of its own. */
#ifndef OVERLAP_CAPACITY_H
#define OVERLAP_CAPACITY_H

#include <stddef.h>

#define CAPACITY_ERR_LEN    256  /* room for one goal-parsing message */
#define CAPACITY_MAX_PROBES 20   /* the default probe budget: 20 runs of a sweep is minutes */
#define CAPACITY_TOLERANCE  0.02 /* the default bracket: within 2 % of the capacity */

/* `pNN DURATION`: a percentile strictly between 0 and 100 (p50, p99, p99.9)
 * and a positive duration of the workload grammar. */
struct capacity_goal {
    double percentile; /* 99 for p99 */
    double ms;         /* the latency it must not exceed */
};

/* Parses a goal, strictly: `p`, 1 or 2 digits, optionally `.` and 1 to 3
 * digits, whitespace, a duration (`100ms`, `1.5s`), nothing else. p100 (the
 * maximum: one request, too noisy to search on) and p0 are refused. 0, or -1
 * with `bad goal 'TEXT': what is wrong (what was expected)` in err. */
int capacity_goal_parse(const char *text, struct capacity_goal *goal, char *err, size_t errlen);

/* One probe: a load run, or several repeats of one, at `rate` requests/s,
 * reporting the goal's percentile in ms and its interval over the repeats
 * (lo = hi = the value when there is no interval; NAN or INFINITY when
 * nothing came back, which fails the goal). Returns 0, or a negative errno
 * that stops the search and is returned by capacity_find. */
typedef int (*capacity_probe)(void *ctx, double rate, double *p_value_ms, double *lo_ms,
                              double *hi_ms);

struct capacity_search {
    struct capacity_goal goal;
    double start_rate; /* the first probe: the models' prediction or the Little's-law bound */
    double min_rate;   /* the lowest rate probed: failing here means the goal is never met */
    double max_rate;   /* the highest rate probed: meeting it ends the search */
    double tolerance;  /* stop when (hi - lo) <= tolerance lo; 0 for CAPACITY_TOLERANCE */
    int max_probes;    /* the budget; 0 for CAPACITY_MAX_PROBES */
    capacity_probe probe;
    void *ctx;
};

enum capacity_status {
    CAPACITY_FOUND,         /* the bracket closed within the tolerance */
    CAPACITY_NEVER_MET,     /* even min_rate failed: capacity 0 */
    CAPACITY_ALWAYS_MET,    /* max_rate met: the capacity is at least max_rate */
    CAPACITY_OUT_OF_PROBES, /* the budget ran out first: capacity is the best rate met so far */
};

struct capacity_result {
    enum capacity_status status;
    double capacity; /* the highest rate that met the goal; 0 when none did */
    double lo;       /* the same: the bracket's lower end (0 when none met) */
    double hi;       /* the lowest rate that failed (INFINITY when none failed) */
    int probes;      /* callbacks made */
};

/* Searches: probes start_rate, doubles (up to max_rate) while the goal is met
 * or halves (down to min_rate) while it fails, then bisects the bracket.
 * A probe meets the goal only when the upper end of its interval does (see
 * capacity.c). 0 with *out filled, -EINVAL for a bad search (needs
 * 0 < min_rate <= start_rate <= max_rate, a probe, a goal), or the probe's
 * error, *out then holding the search so far. */
int capacity_find(const struct capacity_search *search, struct capacity_result *out);

/* Where a run's failed requests put percentile q (0 < q < 100): counted
 * past every latency, q over all requests (answered + lost) is the answered
 * spectrum's percentile (q x all + refused) / answered, the refused (error
 * statuses, answered at once) taken as its lowest. INFINITY when the
 * failures (lost + refused) alone pass 100 - q percent, or nothing was
 * answered: the goal is missed whatever the latencies. */
double capacity_failed_percentile(double q, double answered, double lost, double refused);

/* `found`, `never met`, `always met`, `out of probes`. */
const char *capacity_status_name(enum capacity_status status);

#endif
