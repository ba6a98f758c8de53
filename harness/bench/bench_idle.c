/* The idle request before a search: can any server meet the goal here? A
 * request alone in the system still takes its cpu steps and its queries'
 * latencies; when the goal's percentile of that idle spectrum is past the
 * goal, no architecture meets it at any rate, and a capacity found there
 * is the luck of the samples. Two looks: the workload's own distributions,
 * drawn many times (exact for what the workload says, without the engine's
 * and the kernel's own time), and one run at a tenth of the largest bound
 * among the configs, judged like a probe (and like one, run once more over
 * a longer window when its requests decide nothing). */
#include "bench_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "csv.h"
#include "stats.h"
#include "wl.h"

/* Draws of the idle request: the model's p99 to well within its own noise
 * (the 99th percentile of 200,000 draws moves by about 0.05 %). */
#define IDLE_DRAWS 200000
/* The idle run's load: a tenth of the bound, where queueing adds a tenth
 * of a service time on average in M/M/1's terms. */
#define IDLE_LOAD 0.1

const char *bench__idle_name(enum bench__idle_verdict v)
{
    static const char *const names[] = {"reachable", "marginal", "unreachable"};
    return names[v];
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The model's idle spectrum: its goal percentile (the draw of rank
 * ceil(q n), as the load generator's histogram reads one) and the fraction
 * of draws within the goal. */
static void idle_model(const struct bench__sweep *sw, struct bench__idle *out)
{
    const struct wl_workload *wl = sw->plan.wl;
    double *ns = wl->nrequests > 0 ? malloc(IDLE_DRAWS * sizeof(*ns)) : NULL;
    out->model_ms = out->model_within = NAN;
    if (!ns)
        return;
    struct wl_rng rng;
    wl_rng_seed(&rng, 1);
    double goal_ns = sw->suite.slo.ms * 1e6, within = 0;
    for (int i = 0; i < IDLE_DRAWS; i++) {
        ns[i] = wl_request_idle_ns(wl, wl_pick_request(wl, &rng), &rng);
        within += ns[i] <= goal_ns;
    }
    qsort(ns, IDLE_DRAWS, sizeof(*ns), compare_doubles);
    int rank = (int)ceil(sw->suite.slo.percentile / 100 * IDLE_DRAWS);
    out->model_ms = ns[rank > 0 ? rank - 1 : 0] / 1e6;
    out->model_within = within / IDLE_DRAWS;
    free(ns);
}

/* The config with the largest finite bound, and that bound (0 when none
 * has one): at a tenth of it the idle run gathers its requests fastest. */
static int widest_config(const struct bench__sweep *sw, double *bound)
{
    int best = 0;
    *bound = 0;
    for (int e = 0; e < sw->suite.nengines; e++) {
        double b = bench__config_bound(&sw->plan, &sw->suite.engines[e], 0);
        if (b > *bound && b <= BENCH_MAX_RATE) {
            *bound = b;
            best = e;
        }
    }
    return best;
}

/* The idle run's percentile and its interval from its spectrum (ms): the
 * order statistics that bound the percentile (stats_quantile_ranks), read
 * at their ranks; hi is INFINITY when the run had too few answers. */
static void idle_spectrum(const struct bench__sweep *sw, int id, struct bench__idle *out)
{
    char path[PATH_MAX + 32];
    struct csv_table t;
    double q = sw->suite.slo.percentile, n = 0, lo = 0, hi = 0;
    bench__run_path(sw, "runs", id, "latency.csv", path, sizeof(path));
    if (csv_load(path, &t) < 0)
        return;
    if (t.nrows > 0)
        n = csv_num(&t, t.nrows - 1, "count");
    if (n >= 1 && stats_quantile_ranks(n, q / 100, &lo, &hi) == 0) {
        out->ms = bench__spectrum_at(&t, q);
        out->lo_ms = lo >= 1 ? bench__spectrum_at(&t, 100 * lo / n) : 0;
        out->hi_ms = hi <= n ? bench__spectrum_at(&t, 100 * hi / n) : INFINITY;
    }
    csv_free(&t);
}

int bench__idle_check(struct bench__sweep *sw, struct bench__idle *out)
{
    double q = sw->suite.slo.percentile, bound;
    *out = (struct bench__idle){.ms = NAN, .lo_ms = NAN, .hi_ms = NAN};
    idle_model(sw, out);
    int e = widest_config(sw, &bound);
    out->rate = IDLE_LOAD * (bound > 0 ? bound : BENCH__START_WITHOUT_BOUND);
    struct bench__tally t = {0, 0, 0};
    int rc = bench__judged_run(sw, BENCH__IDLE, e, out->rate, 1, 0, &t);
    if (rc < 0)
        return rc;
    out->measured = capacity_judge(t.within, t.sent, q);
    double longer = out->measured == CAPACITY_UNDECIDED || out->measured == CAPACITY_TOO_FEW
                        ? bench__extension_window(sw, out->rate, 1, &t)
                        : 0;
    if (longer > 0) { /* as a probe does: one more run over the window it needs */
        if ((rc = bench__judged_run(sw, BENCH__IDLE, e, out->rate, 2, longer, &t)) < 0)
            return rc;
        out->measured = capacity_judge(t.within, t.sent, q);
    }
    idle_spectrum(sw, sw->plan.nruns, out); /* the last run's, the longer */
    out->requests = t.sent;
    out->within = t.within;
    if (out->model_within < q / 100 || out->measured == CAPACITY_MISSED)
        out->verdict = BENCH__UNREACHABLE;
    else if (out->measured == CAPACITY_UNDECIDED)
        out->verdict = BENCH__MARGINAL;
    else
        out->verdict = BENCH__REACHABLE;
    if (out->verdict != BENCH__REACHABLE)
        fprintf(stderr,
                "overlap bench: the goal is %s: the idle request's p%g is %.1f ms by the "
                "workload's distributions, %.1f ms [%.1f, %.1f] measured at %.1f req/s "
                "(%.0f of %.0f within %g ms); no capacity searched\n",
                bench__idle_name(out->verdict), q, out->model_ms, out->ms, out->lo_ms, out->hi_ms,
                out->rate, t.within, t.sent, sw->suite.slo.ms);
    return 0;
}
