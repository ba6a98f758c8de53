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

/* What a probe's requests say of "the goal's percentile is within the
 * goal": the exact 95 % interval of the fraction of requests answered within
 * it (stats_proportion_interval) lies at or above the percentile (met),
 * wholly below it (missed), or across it. A p99 of 18 requests is their
 * maximum and says nothing of the 99th percentile: such a probe is
 * undecided, never met. */
enum capacity_verdict {
    CAPACITY_MET,
    CAPACITY_MISSED,
    CAPACITY_UNDECIDED,
    /* undecided, and too few requests for any verdict but missed: even all
     * of them within the goal would not show it met. A lower rate, with
     * fewer requests in the same window, could not either. */
    CAPACITY_TOO_FEW,
};

/* The verdict from n requests (every one sent: answered, refused or lost)
 * of which k were answered, with a success status, within the goal, for a
 * percentile strictly between 0 and 100. n = 0 is too few. */
enum capacity_verdict capacity_judge(double k, double n, double percentile);

/* The requests in all that would decide a probe whose fraction within the
 * goal stays k / n: the smallest count whose interval no longer straddles
 * the percentile, at least n. INFINITY when no count would (a fraction at
 * the percentile itself) or past CAPACITY_MAX_REQUESTS. */
double capacity_requests_needed(double k, double n, double percentile);

/* Past this many requests in one probe a fraction this close to the
 * percentile is called undecided: a probe of ten million requests is hours
 * at the rates where it could happen. */
#define CAPACITY_MAX_REQUESTS 1e7

/* One probe: a load run, or several repeats of one, at `rate` requests/s,
 * and its verdict. Returns 0, or a negative errno that stops the search and
 * is returned by capacity_find. */
typedef int (*capacity_probe)(void *ctx, double rate, enum capacity_verdict *verdict);

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
    CAPACITY_NEVER_MET,     /* min_rate, or a rate above it, was missed: capacity 0 */
    CAPACITY_ALWAYS_MET,    /* max_rate met: the capacity is at least max_rate */
    CAPACITY_OUT_OF_PROBES, /* the budget ran out first: capacity is the best rate met so far */
    CAPACITY_NONE_DECIDED,  /* no rate was met, and the lowest not met was undecided */
};

struct capacity_result {
    enum capacity_status status;
    double capacity; /* the highest rate that met the goal; 0 when none did */
    double lo;       /* the same: the bracket's lower end (0 when none met) */
    double hi;       /* the lowest rate not met (INFINITY when every rate was met) */
    /* the lowest rate missed (INFINITY when none was): the bracket widened by
     * the probes' uncertainty is [lo, missed], since an undecided rate may
     * yet meet the goal */
    double missed;
    int probes;    /* callbacks made */
    int undecided; /* probes whose verdict was undecided or too few */
};

/* Searches: probes start_rate, doubles (up to max_rate) while the goal is met
 * or halves (down to min_rate) while it is not, then bisects the bracket; an
 * undecided rate counts as not met, so noise lowers the capacity found
 * rather than raising it. Halving stops at a rate with too few requests:
 * the ones below it would have fewer. 0 with *out filled, -EINVAL for a bad
 * search (needs 0 < min_rate <= start_rate <= max_rate, a probe, a goal),
 * or the probe's error, *out then holding the search so far. */
int capacity_find(const struct capacity_search *search, struct capacity_result *out);

/* The same search a probe at a time, for a caller that interleaves several
 * (each config's in turn, so that what the machine does in a minute falls
 * on all of them): capacity_next gives the rate to probe (1) or says the
 * search is over (0), capacity_record takes that probe's verdict. The
 * search's probe field is not called. st->out is the result so far. */
struct capacity_state {
    const struct capacity_search *search;
    struct capacity_result out;
    double tolerance;
    int budget;
    int phase;   /* bracketing, bisecting or done */
    int first;   /* the first probe's verdict, met or not; -1 before it */
    double rate; /* the next probe's */
};

/* 0, or -EINVAL for a bad search (its probe may be NULL here). */
int capacity_start(struct capacity_state *st, const struct capacity_search *search);
int capacity_next(const struct capacity_state *st, double *rate);
void capacity_record(struct capacity_state *st, enum capacity_verdict verdict);

const char *capacity_status_name(enum capacity_status status);

/* `met`, `missed`, `undecided`, `too-few`: probes.csv's verdict column. */
const char *capacity_verdict_name(enum capacity_verdict verdict);

#endif
