/* The capacity at a latency goal (`slo = p99 100ms`): after the sweep's
 * points, each config's highest open-loop rate whose percentile meets the
 * goal, searched by capacity.h from the config's bound. Each probe is an
 * open-loop run repeated like any point (fresh database and server per run,
 * the suite's repeats), its rows in runs.csv with loop `capacity`; the
 * answers go to capacity.csv and the table. */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "proc.h"
#include "stats.h"

/* Where a config without a finite bound (no CPU per request, no worker
 * limit) starts: a rate any engine here should meet, doubled from there. */
#define START_WITHOUT_BOUND 1000.0
/* The bracket's search stays within these factors of its start: a config
 * 1,024 times slower than its bound is a broken model, not a capacity
 * worth the probes; one without a bound is searched up to 64 times the
 * start. A config with a bound is never probed past it: no server sustains
 * more than Little's law allows it, and a short probe past it may still
 * meet the goal only because its backlog had no time to grow. */
#define SEARCH_UP   64.0
#define SEARCH_DOWN 1024.0

struct probe_ctx {
    struct bench__sweep *sw;
    int engine;
};

/* The latency at percentile q of a spectrum (columns percentile and
 * latency_ms, percentiles ascending), linear between its two neighbours;
 * NAN when q lies outside it. */
double bench__spectrum_at(const struct csv_table *t, double q)
{
    for (int i = 1; i < t->nrows; i++) {
        double q0 = csv_num(t, i - 1, "percentile"), q1 = csv_num(t, i, "percentile");
        if (q0 <= q && q <= q1) {
            double v0 = csv_num(t, i - 1, "latency_ms"), v1 = csv_num(t, i, "latency_ms");
            return q1 > q0 ? v0 + (v1 - v0) * (q - q0) / (q1 - q0) : v1;
        }
    }
    return NAN;
}

/* Run id's goal percentile in ms, with every request that failed (lost
 * unanswered, or refused with an error status) counted past every latency
 * (capacity_failed_percentile); INFINITY once the failures alone miss it. The
 * load generator's own column serves p50, p90, p99 and p99.9 when nothing
 * was lost; otherwise its latency spectrum is interpolated. NAN when the run
 * wrote neither. */
static double run_percentile(const struct bench__sweep *sw, int id)
{
    static const struct {
        double q;
        const char *column;
    } own[] = {{50, "p50_ms"}, {90, "p90_ms"}, {99, "p99_ms"}, {99.9, "p999_ms"}};
    double q = sw->suite.slo.percentile, v = NAN;
    char path[PATH_MAX + 32];
    struct csv_table t;
    const char *column = NULL;
    bench__run_path(sw, "runs", id, "load.csv", path, sizeof(path));
    if (csv_load(path, &t) < 0)
        return NAN;
    if (t.nrows > 0) {
        int last = t.nrows - 1;
        double answered = csv_num(&t, last, "requests"), failed = csv_num(&t, last, "errors");
        double refused = csv_num(&t, last, "errors_status");
        q = capacity_failed_percentile(q, answered, failed - refused, refused);
        if (isinf(q))
            v = INFINITY;
        for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
            if (fabs(own[i].q - q) < 1e-9)
                column = own[i].column;
        if (isnan(v) && column && *csv_get(&t, last, column))
            v = csv_num(&t, last, column);
    }
    csv_free(&t);
    if (!isnan(v) || column)
        return v;
    bench__run_path(sw, "runs", id, "latency.csv", path, sizeof(path));
    if (csv_load(path, &t) == 0)
        v = bench__spectrum_at(&t, q);
    csv_free(&t);
    return v;
}

/* One run of the probe at rate: planned now, measured like any point. Its
 * percentile, INFINITY for a failed run (it fails the goal), or -EINTR. */
static int probe_run(struct bench__sweep *sw, int e, double rate, int repeat, double *ms)
{
    if (sw->plan.nruns >= BENCH__MAX_RUNS)
        return -ENOSPC;
    sw->plan.runs[sw->plan.nruns++] =
        (struct bench__run){e, sw->cell ? BENCH__MAP : BENCH__CAPACITY, 0, rate, repeat, sw->cell};
    int id = sw->plan.nruns;
    bench__start_config(sw, id);
    bench__run_point(sw, id);
    bench__stop_config(sw);
    if (proc_stopping())
        return -EINTR;
    *ms = sw->result[id - 1].ok ? run_percentile(sw, id) : INFINITY;
    if (isnan(*ms))
        *ms = INFINITY;
    return 0;
}

/* The probe capacity_find calls: the suite's repeats at rate, their median
 * percentile and its interval (capacity.c meets the goal only when the
 * interval's upper end does). */
static int probe(void *arg, double rate, double *value, double *lo, double *hi)
{
    struct probe_ctx *ctx = arg;
    int repeats = ctx->sw->suite.repeats > 0 ? ctx->sw->suite.repeats : 1;
    double ms[BENCH_MAX_REPEATS];
    struct stats_interval iv;
    for (int k = 0; k < repeats; k++) {
        int rc = probe_run(ctx->sw, ctx->engine, rate, k + 1, &ms[k]);
        if (rc < 0)
            return rc;
    }
    if (stats_median_interval(ms, repeats, &iv) < 0)
        return -ENOMEM;
    *value = iv.estimate;
    *lo = repeats > 1 ? iv.lo : NAN;
    *hi = repeats > 1 ? iv.hi : NAN;
    return 0;
}

int bench__search_config(struct bench__sweep *sw, int e, struct bench__capacity *out)
{
    struct probe_ctx ctx = {sw, e};
    double bound = bench__config_bound(&sw->plan, &sw->suite.engines[e], 0);
    int bounded = bound > 0 && bound <= BENCH_MAX_RATE;
    double start = bounded ? bound : START_WITHOUT_BOUND;
    struct capacity_search s = {
        .goal = sw->suite.slo,
        .start_rate = start,
        .min_rate = start / SEARCH_DOWN,
        .max_rate = bounded ? bound : fmin(start * SEARCH_UP, BENCH_MAX_RATE),
        .tolerance = sw->suite.tolerance,
        .probe = probe,
        .ctx = &ctx,
    };
    out->bound = bound;
    out->rc = capacity_find(&s, &out->result);
    return out->rc;
}

void bench__capacity_status(const struct bench__capacity *c, char *out, size_t len)
{
    snprintf(out, len, "%s", c->rc < 0 ? "stopped" : capacity_status_name(c->result.status));
    for (char *p = out; *p; p++)
        if (*p == ' ')
            *p = '_';
}

/* capacity.csv: one row per config searched. */
static int write_csv(const struct bench__sweep *sw)
{
    char path[PATH_MAX + 16], status[32];
    snprintf(path, sizeof(path), "%s/capacity.csv", sw->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "engine,capacity_rps,capacity_lo,capacity_hi,bound_rps,probes,status\n");
    for (int e = 0; e < sw->ncapacity; e++) {
        const struct bench__capacity *c = &sw->capacity[e];
        bench__capacity_status(c, status, sizeof(status));
        fprintf(f, "%s,%.1f,%.1f,", sw->suite.engines[e].spec, c->result.capacity, c->result.lo);
        if (isfinite(c->result.hi))
            fprintf(f, "%.1f", c->result.hi);
        fputc(',', f);
        if (isfinite(c->bound))
            fprintf(f, "%.1f", c->bound);
        fprintf(f, ",%d,%s\n", c->result.probes, status);
    }
    return fclose(f) == 0 ? 0 : -EIO;
}

void bench__capacity(struct bench__sweep *sw)
{
    fprintf(stderr, "overlap bench: capacity at p%g %g ms, config by config\n",
            sw->suite.slo.percentile, sw->suite.slo.ms);
    for (int e = 0; e < sw->suite.nengines && !proc_stopping(); e++) {
        sw->ncapacity = e + 1;
        int rc = bench__search_config(sw, e, &sw->capacity[e]);
        if (rc < 0 && rc != -EINTR)
            fprintf(stderr, "overlap bench: %s: capacity search stopped: %s\n",
                    sw->suite.engines[e].spec, strerror(-rc));
    }
    if (write_csv(sw) < 0)
        fprintf(stderr, "overlap bench: cannot write %s/capacity.csv\n", sw->dir);
}
