/* The sanity checks of one run (see bench_flags.h). Every check reads figures
 * the run gave; one it did not give (NAN) is not assessable and flags
 * nothing: a comparison with NAN is false, which the checks rely on. */
#include "bench_flags.h"

#include <math.h>
#include <stdio.h>

#include "stats.h"

static const char *const flag_words[BENCH__NFLAGS] = {
    "littles-law",     "errors",      "short-window", "generator-bound", "unsteady",
    "missing-clients", "few-samples", "db-budget",    "db-calls",
};

double bench__littles_ratio(const struct bench__checks *c)
{
    if (c->kind != BENCH__CLOSED || !(c->clients > 0))
        return NAN;
    return c->throughput_rps * c->mean_ms / 1e3 / c->clients; /* NAN when either is */
}

/* The residual spread of y about the line a + b t, over n - 2 degrees of freedom. */
static double residual_variance(const double *t, const double *y, int n, double a, double b)
{
    double sse = 0;
    for (int i = 0; i < n; i++)
        sse += (y[i] - a - b * t[i]) * (y[i] - a - b * t[i]);
    return sse / (n - 2);
}

/* The time n intervals ending at t cover: the end times' range and one
 * interval's width more (n >= 2). */
static double span_of(const double *t, int n)
{
    double lo = t[0], hi = t[0];
    for (int i = 1; i < n; i++) {
        lo = t[i] < lo ? t[i] : lo;
        hi = t[i] > hi ? t[i] : hi;
    }
    return (hi - lo) * n / (n - 1);
}

struct bench__trend bench__fit_trend(const double *t, const double *rps, int n)
{
    struct bench__trend tr = {0, 0, NAN};
    if (n < BENCH__TREND_MIN_INTERVALS)
        return tr;
    for (int i = 0; i < n; i++)
        if (!isfinite(t[i]) || !isfinite(rps[i]))
            return tr;
    double tm = stats_mean(t, n), ym = stats_mean(rps, n), sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        sxx += (t[i] - tm) * (t[i] - tm);
        sxy += (t[i] - tm) * (rps[i] - ym);
    }
    if (!(sxx > 0) || ym == 0)
        return tr;
    double b = sxy / sxx, a = ym - b * tm;
    double se = sqrt(residual_variance(t, rps, n, a, b) / sxx);
    tr.assessable = 1;
    tr.significant = fabs(b) > stats_t_quantile(0.975, n - 2) * se;
    tr.change = b * span_of(t, n) / ym;
    return tr;
}

/* A closed run's clients that never took part: the load generator opened
 * fewer connections than asked, or some were never answered in the window. */
static int missing_clients(const struct bench__checks *c)
{
    return c->kind == BENCH__CLOSED &&
           (c->connections < c->clients || c->clients_answered < c->clients);
}

double bench__db_expected_calls(const struct bench__checks *c)
{
    if (!(c->db_connections > 0))
        return NAN;
    /* what the server was sent: in open loop the requests written in the
     * window, the warmup's late ones included (they waited for a
     * connection, and their queries ran in the window), which the window's
     * answered throughput leaves out */
    double rate = c->achieved_rps > c->throughput_rps ? c->achieved_rps : c->throughput_rps;
    return rate * c->db_window_s * c->db_queries; /* NAN when any is */
}

/* The server held other than its whole budget when the window closed: an
 * engine that opened fewer connections than C (or more under another role)
 * measured a different system. */
static int db_budget_missed(const struct bench__checks *c)
{
    return c->db_connections > 0 && !isnan(c->db_backends) && c->db_backends != c->db_connections;
}

/* The server ran other than the queries the answered requests needed:
 * beyond the tolerance, or the requests in flight at the window's two ends
 * (Little's law: throughput x mean response, and one more), whichever is
 * more, and beyond the queries of the counted span outside the window (the
 * warmup's, at a rate only the window's estimates: a loaded machine starts
 * the generator late, and its first requests come slower). A run with
 * errors is not assessed: a refused request runs none of its queries, and
 * the `errors` flag says so already. */
static int db_calls_missed(const struct bench__checks *c)
{
    double want = bench__db_expected_calls(c);
    if (!(c->db_connections > 0) || isnan(want) || isnan(c->db_calls) || c->errors > 0)
        return 0;
    double inflight = c->throughput_rps * c->mean_ms / 1e3 + 1;
    double slack = fmax(BENCH__DB_CALLS_TOLERANCE * want, 2 * inflight * c->db_queries);
    if (c->db_outside_s > 0)
        slack += c->throughput_rps * c->db_outside_s * c->db_queries;
    return fabs(c->db_calls - want) > slack;
}

int bench__check(const struct bench__checks *c)
{
    int flags = c->errors > 0 ? BENCH__FLAG_ERRORS : 0;
    if (c->kind == BENCH__TIMELINE)
        return flags;
    double ratio = bench__littles_ratio(c);
    if (ratio < BENCH__LITTLES_LO || ratio > BENCH__LITTLES_HI)
        flags |= BENCH__FLAG_LITTLES;
    if (c->window_s < BENCH__WINDOW_RESPONSES * c->mean_ms / 1e3)
        flags |= BENCH__FLAG_SHORT_WINDOW;
    if (c->load_cpu_util >= BENCH__GENERATOR_BUSY)
        flags |= BENCH__FLAG_GENERATOR_BOUND;
    if (c->trend.assessable && c->trend.significant && fabs(c->trend.change) > BENCH__TREND_MAX)
        flags |= BENCH__FLAG_UNSTEADY;
    if (missing_clients(c))
        flags |= BENCH__FLAG_MISSING_CLIENTS;
    if (c->requests < stats_quantile_min_samples(c->percentile / 100))
        flags |= BENCH__FLAG_FEW_SAMPLES;
    if (db_budget_missed(c))
        flags |= BENCH__FLAG_DB_BUDGET;
    if (db_calls_missed(c))
        flags |= BENCH__FLAG_DB_CALLS;
    return flags;
}

void bench__flag_words(int flags, char *out, size_t len)
{
    size_t used = 0;
    if (len)
        out[0] = '\0';
    for (int i = 0; i < BENCH__NFLAGS && used < len; i++)
        if (flags & (1 << i))
            used +=
                (size_t)snprintf(out + used, len - used, "%s%s", used ? ";" : "", flag_words[i]);
}
